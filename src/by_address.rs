//! [`ByAddress`]: a reference as a map key, compared by what it points at
//! rather than by the value there.
//!
//! Several caches remember work done for one node of the program or of the
//! Model, not for every equal value: a `let` record or a role body in the
//! AST, typed once and shared by every expansion of the `for` loop or every
//! env that uses it; the rules of one role, serialized once per piece of
//! envs; a struct field's `&'static str` name, tested once per run. Equal
//! values elsewhere (another role with the same rules, another block with
//! the same text but other variables around it) are other entries, and
//! comparing or hashing the whole value at every lookup would cost more
//! than the work saved. Identity is the point; this type says so where a
//! bare `usize` address did not.
//!
//! The key holds the reference, so what it names outlives the map and its
//! address cannot be reused by another value while the key exists (a bare
//! address could outlive its node and meet a newer one at that address).
//! A reference to a slice or `str` is compared with its length as well:
//! two different prefixes of one buffer are two keys. Zero-sized values
//! (and empty slices) may all share one address, so they are never keys.

use std::hash::{Hash, Hasher};

/// `value`, as a key equal only to a key of the same `value` in memory.
pub(crate) struct ByAddress<'a, T: ?Sized>(&'a T);

impl<'a, T: ?Sized> ByAddress<'a, T> {
    /// The key of `value`, which must not be zero-sized (see the module).
    pub(crate) const fn new(value: &'a T) -> Self {
        debug_assert!(
            std::mem::size_of_val(value) != 0,
            "a zero-sized value has no address of its own"
        );
        ByAddress(value)
    }

    /// Where the value is, for a table that picks its slot by hand.
    pub(crate) fn address(self) -> usize {
        std::ptr::from_ref(self.0).cast::<u8>() as usize
    }
}

// Derived impls would ask `T: Clone`; a reference is `Copy` whatever `T` is.
impl<T: ?Sized> Clone for ByAddress<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ByAddress<'_, T> {}

impl<T: ?Sized> PartialEq for ByAddress<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl<T: ?Sized> Eq for ByAddress<'_, T> {}

impl<T: ?Sized> Hash for ByAddress<'_, T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

impl<T: ?Sized> std::fmt::Debug for ByAddress<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByAddress({:#x})", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::ByAddress;
    use foldhash::HashMap;

    #[test]
    fn equal_values_at_two_places_are_two_keys() {
        let (one, two) = (String::from("rules"), String::from("rules"));
        let mut map = HashMap::default();
        map.insert(ByAddress::new(one.as_str()), 1);
        map.insert(ByAddress::new(two.as_str()), 2);
        assert_eq!(map.len(), 2);
        assert_eq!(map[&ByAddress::new(one.as_str())], 1);
        assert_ne!(ByAddress::new(&one), ByAddress::new(&two));
        assert_eq!(ByAddress::new(&one), ByAddress::new(&one));
    }

    #[test]
    fn a_prefix_is_not_the_whole() {
        let text = "namespace";
        assert_ne!(ByAddress::new(text), ByAddress::new(&text[..4]));
        assert_eq!(
            ByAddress::new(text).address(),
            ByAddress::new(&text[..4]).address()
        );
    }
}
