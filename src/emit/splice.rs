//! Objects written as their head, then their last field's shared text.
//!
//! A fleet has a few quota, limit range and network shapes and one role
//! per team, and each env's PrometheusRule holds the rule file already
//! written for it: serializing those fields again for every env was most
//! of a stream build. A kind that is [`Spliced`] names its last field;
//! [`write`] writes an object as its head (that field unset) followed by
//! the field's text made once ([`FieldText`]) or already written.
//!
//! The invariant that makes this byte-identical to serializing the whole
//! object is per kind: serde writes `FIELD` last (every field after it is
//! skipped when unset, and unset in what envk writes), and the field's
//! text is the fast serializer's, moved under its key by
//! `yaml::block_field_into` (which `tests/yaml.rs` holds to serializing
//! the field itself). Each impl has a test that the spliced text equals
//! the whole object serialized ([`assert_splices`]). What this module must
//! never do is write a field's text by hand.

use serde::Serialize;

use super::{yaml, yaml_into};

/// A kind whose objects may be written as a head and a shared last field.
pub(super) trait Spliced: Serialize {
    /// The key of the field serde writes last.
    const FIELD: &'static str;
    /// What that field holds.
    type Field: Serialize;
    /// The field: `None` in a head.
    fn field(&mut self) -> &mut Option<Self::Field>;
}

/// One field's text, `FIELD:` and the value under it, made at its first
/// use from the fast serializer's document. Holds `None` once made if
/// that serializer could not write the value: objects with it are then
/// serialized whole (only its text is the same at every column).
#[derive(Default)]
pub(super) struct FieldText(Option<Option<String>>);

impl FieldText {
    /// The text of `O`'s field holding `value()`, made the first time.
    pub(super) fn get<O: Spliced>(&mut self, value: impl FnOnce() -> O::Field) -> Option<&str> {
        self.0
            .get_or_insert_with(|| {
                let mut document = String::new();
                yaml::to_string_into(&value(), &mut document).ok()?;
                let mut text = String::new();
                yaml::block_field_into(&mut text, O::FIELD, &document);
                Some(text)
            })
            .as_deref()
    }
}

/// The field's text to follow a head, where there is one.
#[derive(Clone, Copy)]
pub(super) enum Shared<'t> {
    /// Serialize the object whole.
    None,
    /// What [`FieldText::get`] made for an equal value.
    Field(&'t str),
    /// The value as a document of its own, written by the fast serializer
    /// (`yaml_into` said so), to move under the key.
    Document(&'t str),
}

impl<'t> From<Option<&'t str>> for Shared<'t> {
    fn from(field: Option<&'t str>) -> Self {
        field.map_or(Shared::None, Shared::Field)
    }
}

/// Appends the document of the object `head()` makes (its field unset)
/// with its field set to `value()`: the head and the `shared` text where
/// there is one, else the whole object. The head is made here, where it
/// is written: an object is large, and moving it in was 0.7% of a stream
/// build's instructions (memcpy).
pub(super) fn write<O: Spliced>(
    head: impl FnOnce() -> O,
    shared: Shared,
    value: impl FnOnce() -> O::Field,
    out: &mut String,
) {
    let mut head = head();
    debug_assert!(head.field().is_none(), "a head has no {}", O::FIELD);
    match shared {
        Shared::Field(text) => {
            yaml_into(&head, out);
            out.push_str(text);
        }
        Shared::Document(document) => {
            yaml_into(&head, out);
            yaml::block_field_into(out, O::FIELD, document);
        }
        Shared::None => {
            *head.field() = Some(value());
            yaml_into(&head, out);
        }
    }
}

/// Asserts that the object `object()` makes (its field set), spliced
/// from a [`FieldText`] and from its field's document, is the text of
/// serializing it whole; and that the fast serializer wrote it, so that a
/// build splices it rather than falling back.
#[cfg(test)]
pub(super) fn assert_splices<O: Spliced>(object: impl Fn() -> O) {
    let mut whole = String::new();
    assert!(
        yaml::to_string_into(&object(), &mut whole).is_ok(),
        "the fast serializer writes the object"
    );
    let head = || {
        let mut head = object();
        let field = head.field().take().expect("an object with its field");
        (head, field)
    };
    let mut document = String::new();
    yaml::to_string_into(&head().1, &mut document).expect("written fast");
    let mut texts = FieldText::default();
    let text = texts
        .get::<O>(|| head().1)
        .expect("written fast")
        .to_string();
    for shared in [
        Shared::Field(&text),
        Shared::Document(&document),
        Shared::None,
    ] {
        let (head, field) = head();
        let mut spliced = String::new();
        write(|| head, shared, || field, &mut spliced);
        assert_eq!(spliced, whole, "{} spliced", O::FIELD);
    }
}
