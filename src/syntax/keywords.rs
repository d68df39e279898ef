//! The keywords that start items and statements: the one list of them.
//!
//! `grammar/envk.pest` is the grammar of record; this table is how the Rust
//! code names the same words. Everything that needs the words reads them
//! here:
//!
//! - `fast.rs` dispatches on `ItemKeyword::from_word` and
//!   `StatementKeyword::from_word` and matches the result exhaustively, so a
//!   new keyword does not compile until the fast parser says how to read it
//!   (or that it leaves it to pest);
//! - `mod.rs` recovers at lines that start with an item keyword, suggests one
//!   for an unknown item (E0107), lists them in its help, and suggests a
//!   statement keyword for a misspelt one read as a field name;
//! - `expected.rs` leaves statement keywords out of "expected …" when "a
//!   field or statement" already covers them;
//! - `check::fields` names a misplaced statement by its keyword (through
//!   `ast::StmtKind::keyword`).
//!
//! The order is the order of suggestions: `suggest::closest` breaks ties by
//! it.

/// Declares a keyword enum whose variants are the table's entries, with
/// each word written once: `as_str`, `quoted` and `from_word` are generated
/// from the same line, so they cannot disagree.
macro_rules! keywords {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every keyword, in the table's order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The keyword as written.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// The keyword in backticks, as messages name it.
            pub const fn quoted(self) -> &'static str {
                match self {
                    $($name::$variant => concat!("`", $word, "`"),)+
                }
            }

            /// The keyword a whole word is, if it is one.
            #[inline]
            pub fn from_word(word: &str) -> Option<$name> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every keyword as written, in the table's order.
            pub fn words() -> impl Iterator<Item = &'static str> + Clone {
                $name::ALL.iter().map(|keyword| keyword.as_str())
            }
        }
    };
}

keywords! {
    /// The keywords a top-level item starts with (the grammar's `item`).
    /// All but `import` also start the items of a `for` body.
    pub enum ItemKeyword {
        Import => "import",
        Cluster => "cluster",
        Tier => "tier",
        Role => "role",
        Let => "let",
        Env => "env",
        For => "for",
        Alert => "alert",
    }
}

keywords! {
    /// The keywords a statement of a block starts with (the grammar's
    /// `stmt`, whose other alternatives are a field and a stray comma).
    pub enum StatementKeyword {
        Grant => "grant",
        Ingress => "ingress",
        Egress => "egress",
        Stage => "stage",
        Alert => "alert",
        Quota => "quota",
        Limits => "limits",
        Allow => "allow",
        Forbid => "forbid",
        Require => "require",
        Accept => "accept",
    }
}

keywords! {
    /// The statement keywords that also start a value (`quota { … }`,
    /// `limits container { … }`, the grammar's `record_tag`). Bare, they
    /// are never a field key nor a name (`statement_word`,
    /// `value_keyword`): otherwise a broken block after one would be read
    /// twice, and a broken record would be misread as a name.
    pub enum ValueKeyword {
        Quota => "quota",
        Limits => "limits",
    }
}
