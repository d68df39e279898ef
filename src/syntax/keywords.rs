//! The keywords that start items and statements: the one list of them.
//!
//! `grammar/envk.pest` is the grammar of record; this table is how the Rust
//! code names the same words, and a test below holds the two together: the
//! item and statement keyword rules the grammar starts its items and
//! statements with are exactly these, no more and no fewer. Everything that
//! needs the words reads them here:
//!
//! - `fast.rs` dispatches on `ItemKeyword::from_word`,
//!   `StatementKeyword::from_word` and `ValueKeyword::from_word` and
//!   matches the result exhaustively, so a new keyword does not compile
//!   until the fast parser says how to read it (or that it leaves it to
//!   pest), and reads the value keywords where the grammar keeps them from
//!   being a key or a `let` name;
//! - `mod.rs` recovers at lines that start with an item keyword, suggests one
//!   for an unknown item (E0107), lists them in its help, and suggests a
//!   statement keyword for a misspelt one read as a field name;
//! - `expected.rs` leaves statement keywords out of "expected …" when "a
//!   field or statement" already covers them;
//! - `check::fields` names a misplaced statement by its keyword (through
//!   `ast::StmtKind::keyword`);
//! - `tests/props.rs` checks that its generated inputs draw on every one.
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
            #[inline(always)]
            pub fn from_word(word: &str) -> Option<$name> {
                // Most words are keys and names, not keywords: a word
                // that starts as no keyword does is told by one lookup,
                // before any is compared whole (a record's `name = …`).
                const STARTS: [bool; 256] = {
                    let mut starts = [false; 256];
                    $(starts[$word.as_bytes()[0] as usize] = true;)+
                    starts
                };
                if !word.as_bytes().first().is_some_and(|&b| STARTS[usize::from(b)]) {
                    return None;
                }
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
    /// All but `import`, `gitops`, `federation`, `policy` and `waive` also
    /// start the items of a `for` body.
    pub enum ItemKeyword {
        Import => "import",
        GitOps => "gitops",
        Federation => "federation",
        Cluster => "cluster",
        Tier => "tier",
        Role => "role",
        ClusterRole => "cluster_role",
        Resource => "resource",
        External => "external",
        Grant => "grant",
        Let => "let",
        Env => "env",
        For => "for",
        If => "if",
        Alert => "alert",
        Receiver => "receiver",
        Route => "route",
        Policy => "policy",
        Waive => "waive",
    }
}

keywords! {
    /// The keywords a statement of a block starts with (the grammar's
    /// `stmt`, whose other alternatives are a field and a stray comma).
    pub enum StatementKeyword {
        Grant => "grant",
        Ingress => "ingress",
        Egress => "egress",
        Metrics => "metrics",
        Stage => "stage",
        Alert => "alert",
        Quota => "quota",
        Limits => "limits",
        Allow => "allow",
        Forbid => "forbid",
        Require => "require",
        Accept => "accept",
        If => "if",
        For => "for",
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

#[cfg(test)]
mod tests {
    //! The grammar's keyword rules accept exactly the table. The grammar is
    //! read with pest's own grammar parser (`pest_meta`, from which
    //! `pest_derive` builds `EnvkParser`), so the rules are read as pest
    //! reads them, however they are laid out; the words are then parsed by
    //! `EnvkParser` itself.

    use std::collections::BTreeSet;

    use pest::Parser as _;
    use pest::error::InputLocation;
    use pest_meta::ast::Expr;

    use super::super::expected::statement_rule;
    use super::super::parser::{EnvkParser, Rule};
    use super::*;

    const GRAMMAR: &str = include_str!("../../grammar/envk.pest");

    struct Grammar(Vec<pest_meta::ast::Rule>);

    impl Grammar {
        fn read() -> Grammar {
            let pairs = pest_meta::parser::parse(pest_meta::parser::Rule::grammar_rules, GRAMMAR)
                .expect("grammar/envk.pest parses");
            Grammar(pest_meta::parser::consume_rules(pairs).expect("its rules are well-formed"))
        }

        fn rule(&self, name: &str) -> &Expr {
            let rule = self.0.iter().find(|rule| rule.name == name);
            &rule
                .unwrap_or_else(|| panic!("the grammar has no rule `{name}`"))
                .expr
        }

        /// For each alternative of rule `name`, the keyword rule (`kw_…`)
        /// it starts with, if it starts with one, and that rule's word.
        fn starting_keywords(&self, name: &str) -> Vec<Option<(String, String)>> {
            alternatives(self.rule(name))
                .into_iter()
                .map(|alternative| {
                    // An alternative names a rule (`grant`), or is written
                    // in place (`kw_limits ~ limit_kind`).
                    let expr = match alternative {
                        Expr::Ident(rule) if !rule.starts_with("kw_") => self.rule(rule),
                        other => other,
                    };
                    match first(expr) {
                        Expr::Ident(rule) if rule.starts_with("kw_") => {
                            Some((rule.clone(), self.word(rule)))
                        }
                        _ => None,
                    }
                })
                .collect()
        }

        /// The word of a keyword rule: `kw_x = @{ "x" ~ !ident_char }`.
        fn word(&self, keyword_rule: &str) -> String {
            match first(self.rule(keyword_rule)) {
                Expr::Str(word) => word.clone(),
                other => panic!("`{keyword_rule}` does not start with a word: {other:?}"),
            }
        }

        /// The words rule `name` starts with: `("quota" | "limits") ~ …`.
        fn leading_words(&self, name: &str) -> BTreeSet<String> {
            alternatives(first(self.rule(name)))
                .into_iter()
                .map(|expr| match expr {
                    Expr::Str(word) => word.clone(),
                    other => panic!("`{name}` starts with something other than words: {other:?}"),
                })
                .collect()
        }
    }

    /// The first element of a sequence.
    fn first(expr: &Expr) -> &Expr {
        match expr {
            Expr::Seq(head, _) => first(head),
            other => other,
        }
    }

    /// The alternatives of an ordered choice, in order (one if it is none).
    fn alternatives(expr: &Expr) -> Vec<&Expr> {
        match expr {
            Expr::Choice(left, right) => {
                let mut all = alternatives(left);
                all.extend(alternatives(right));
                all
            }
            other => vec![other],
        }
    }

    fn keywords_of(starting: &[Option<(String, String)>]) -> BTreeSet<String> {
        starting
            .iter()
            .flatten()
            .map(|(_, word)| word.clone())
            .collect()
    }

    /// Fails with the words on either side only, which says which list to
    /// fix.
    fn assert_same(what: &str, grammar: &BTreeSet<String>, table: &[&str]) {
        let listed: BTreeSet<String> = table.iter().map(|word| word.to_string()).collect();
        assert_eq!(
            listed.len(),
            table.len(),
            "{what}: the table lists a word twice"
        );
        let only_grammar: Vec<&String> = grammar.difference(&listed).collect();
        let only_table: Vec<&String> = listed.difference(grammar).collect();
        assert!(
            only_grammar.is_empty() && only_table.is_empty(),
            "{what}: in grammar/envk.pest but not in src/syntax/keywords.rs: {only_grammar:?}; \
             in src/syntax/keywords.rs but not in grammar/envk.pest: {only_table:?}"
        );
    }

    /// Where pest stopped on `text`, parsing `rule`: the end of the text
    /// when it parsed all of it.
    fn parsed_up_to(rule: Rule, text: &str) -> usize {
        match EnvkParser::parse(rule, text) {
            Ok(pairs) => pairs.last().map_or(0, |pair| pair.as_span().end()),
            Err(error) => match error.location {
                InputLocation::Pos(at) | InputLocation::Span((at, _)) => at,
            },
        }
    }

    #[test]
    fn the_grammar_starts_items_with_exactly_the_item_keywords() {
        let grammar = Grammar::read();
        let items = grammar.starting_keywords("item");
        assert!(
            items.iter().all(Option::is_some),
            "an item that does not start with a keyword: the recovery at item lines misses it"
        );
        let words: Vec<&str> = ItemKeyword::words().collect();
        assert_same("item keywords", &keywords_of(&items), &words);
        // `import`, `gitops`, `federation`, `policy` and `waive` are the
        // items a `for` body cannot hold (`fast.rs` reads the first three
        // at the top level only, and leaves the last two to pest).
        let nested: Vec<&str> = ItemKeyword::ALL
            .iter()
            .filter(|&&keyword| {
                !matches!(
                    keyword,
                    ItemKeyword::Import
                        | ItemKeyword::GitOps
                        | ItemKeyword::Federation
                        | ItemKeyword::Policy
                        | ItemKeyword::Waive
                )
            })
            .map(|keyword| keyword.as_str())
            .collect();
        let for_body = grammar.starting_keywords("for_body");
        assert!(for_body.iter().all(Option::is_some));
        assert_same("`for` body keywords", &keywords_of(&for_body), &nested);
        for word in ItemKeyword::words() {
            // pest's `item` takes the keyword, then wants what follows it.
            assert!(parsed_up_to(Rule::item, word) >= word.len(), "`{word}`");
            // A longer word is not the keyword.
            assert_eq!(
                parsed_up_to(Rule::item, &format!("{word}x")),
                0,
                "`{word}x`"
            );
        }
    }

    #[test]
    fn the_grammar_starts_statements_with_exactly_the_statement_keywords() {
        let grammar = Grammar::read();
        let statements = grammar.starting_keywords("stmt");
        let words: Vec<&str> = StatementKeyword::words().collect();
        assert_same("statement keywords", &keywords_of(&statements), &words);
        // The others are a field and a stray comma, which start with a key
        // and a comma: what the misspelt-statement hint and `fast.rs`
        // assume of a statement that is not a keyword's.
        let others = alternatives(grammar.rule("stmt"))
            .into_iter()
            .zip(&statements)
            .filter(|(_, keyword)| keyword.is_none())
            .map(|(expr, _)| format!("{expr:?}"))
            .collect::<Vec<_>>();
        assert_eq!(others, [r#"Ident("field")"#, r#"Ident("stray_comma")"#]);
        for (rule_name, word) in statements.iter().flatten() {
            let keyword = StatementKeyword::from_word(word).expect("compared above");
            // `expected.rs` names the same rule for the keyword.
            assert_eq!(
                &format!("{:?}", statement_rule(keyword)),
                rule_name,
                "`{word}`"
            );
        }
        for &keyword in StatementKeyword::ALL {
            let word = keyword.as_str();
            assert_eq!(
                parsed_up_to(statement_rule(keyword), word),
                word.len(),
                "`{word}`"
            );
            assert_eq!(
                parsed_up_to(statement_rule(keyword), &format!("{word}x")),
                0
            );
        }
    }

    #[test]
    fn the_grammar_reads_exactly_the_value_keywords_as_values() {
        let grammar = Grammar::read();
        let words: Vec<&str> = ValueKeyword::words().collect();
        let tags = grammar.starting_keywords("record_tag");
        assert!(tags.iter().all(Option::is_some));
        assert_same("`record_tag` keywords", &keywords_of(&tags), &words);
        assert_same(
            "`statement_word`",
            &grammar.leading_words("statement_word"),
            &words,
        );
        assert_same(
            "`value_keyword`",
            &grammar.leading_words("value_keyword"),
            &words,
        );
        for word in ValueKeyword::words() {
            assert!(StatementKeyword::from_word(word).is_some(), "`{word}`");
            assert_eq!(
                parsed_up_to(Rule::value_keyword, word),
                word.len(),
                "`{word}`"
            );
        }
    }
}
