//! What the syntax stage promises beyond the shape of one parse: the
//! nesting bound on a small stack, parallel runs giving the one-piece
//! result, the fast parser reading every well-formed item itself, and the
//! shared design example parsing whole. These need crate internals
//! (`MAX_NESTING`, `parse_run`, `fast::item`), inputs generated in code, or
//! a fixture kept elsewhere. The tree of each construct is data:
//! `tests/syntax/*.env.k` with an `.ast` beside each (`tests/syntax.rs`).

use super::ast::*;
use super::*;
use crate::source::SourceMap;

fn parse_text(text: &str) -> (Ast, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let id = sources.add("test.env.k", text);
    parse(sources.file(id))
}

#[test]
fn nesting_at_the_limit_parses_and_beyond_it_is_refused() {
    let nested = |depth: usize| format!("let x = {}{}", "[".repeat(depth), "]".repeat(depth));
    // Run on a small stack, like cargo test's worker threads, to prove the
    // bound keeps recursion shallow.
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let (_, mut at_limit) = parse_text(&nested(MAX_NESTING));
            let records = format!(
                "let x = {} 1 {}",
                "{ a = ".repeat(MAX_NESTING - 1) + "{ a =",
                "}".repeat(MAX_NESTING)
            );
            at_limit.extend(parse_text(&records).1);
            let (_, beyond) = parse_text(&nested(10_000));
            (at_limit, beyond)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(result.0.is_empty(), "{:?}", result.0);
    assert_eq!(
        result.1.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0110]
    );
}

/// `not` and a policy's quantifiers and `implies` recurse without a
/// delimiter: a run of them is bounded too (E0110), in a condition and in
/// a policy, and the forms at the limit parse.
#[test]
fn words_that_nest_are_bounded_too() {
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let condition =
                |nots: usize| format!("if {}true {{ tier t {{ }} }}", "not ".repeat(nots));
            let policy = |nots: usize| format!("policy p {{ {}true }}", "not ".repeat(nots));
            let quantifiers =
                |depth: usize| format!("policy p {{ {}true }}", "all e in envs : ".repeat(depth));
            let mut at_limit = parse_text(&condition(MAX_NESTING)).1;
            at_limit.extend(parse_text(&policy(MAX_POLICY_NESTING)).1);
            at_limit.extend(parse_text(&quantifiers(MAX_POLICY_NESTING)).1);
            let mut just_beyond = parse_text(&quantifiers(MAX_POLICY_NESTING + 1)).1;
            just_beyond.extend(parse_text(&condition(MAX_NESTING + 1)).1);
            let beyond: Vec<Vec<Code>> = [
                condition(100_000),
                policy(100_000),
                quantifiers(100_000),
                format!("policy p {{ {}true }}", "true implies ".repeat(100_000)),
            ]
            .iter()
            .map(|text| parse_text(text).1.iter().map(|d| d.code).collect())
            .collect();
            (at_limit, beyond, just_beyond)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(result.0.is_empty(), "{:?}", result.0);
    for codes in result.1 {
        assert_eq!(codes, [Code::E0110]);
    }
    let just_beyond: Vec<Code> = result.2.iter().map(|d| d.code).collect();
    assert_eq!(just_beyond, [Code::E0110, Code::E0110]);
}

/// The fast parser and `too_deep` count the same delimiters, a template's
/// `(` included: one past the limit is refused either way.
#[test]
fn the_nesting_bound_counts_parameter_parentheses() {
    let template = |lists: usize| {
        format!(
            "alert A(x: string = {}\"a\"{}) {{ expr = \"up\" }}",
            "[".repeat(lists),
            "]".repeat(lists)
        )
    };
    let (ast, at_limit) = parse_text(&template(MAX_NESTING - 1));
    assert!(at_limit.is_empty() && ast.items.len() == 1, "{at_limit:?}");
    let (_, beyond) = parse_text(&template(MAX_NESTING));
    assert_eq!(
        beyond.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0110]
    );
}

/// DESIGN §2's example is a fixture other suites share (`tests/fmt.rs`),
/// so it is read in place rather than copied into a case.
#[test]
fn the_design_example_parses() {
    let (ast, diagnostics) = parse_text(include_str!("../../tests/fixtures/design-example.env.k"));
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(ast.items.len(), 11);
}

/// A large file is parsed in runs on several threads; whatever the file,
/// the result must be the one-piece parse's, errors and recovery included.
#[test]
fn parsing_in_runs_gives_the_one_piece_result() {
    let team = |i: usize| {
        format!(
            "role r{i} {{\n  allow [get] on [pods]\n}}\n\nenv team-{i} on c tier t {{\n  labels {{ team = \"t{i}\" }}\n  grant r{i} to user \"u{i}@example.com\"\n}}\n\n"
        )
    };
    let body: String = (0..1000).map(team).collect();
    assert!(body.len() > 128 * 1024, "large enough to be cut");
    let middle = body.len() / 2;
    let cut = next_item_line(&body, middle);
    let broken = [
        // Clean.
        body.clone(),
        // A missing `}` just before a cut.
        format!(
            "{}{}",
            &body[..cut].trim_end().trim_end_matches('}'),
            &body[cut..]
        ),
        // A raw string spanning a cut: the lines inside it are not items.
        format!(
            "{}let s = `\n{}`\n{}",
            &body[..cut],
            &body[cut..cut + 400],
            &body[cut + 400..]
        ),
        // Errors in every run.
        body.replace(
            "allow [get] on [pods]\n}\n\nenv team-7 ",
            "allow [get] on\n}\n\nenv team-7 ",
        )
        .replace("team-999 on c", "team-999 on"),
    ];
    for (case, text) in broken.iter().enumerate() {
        let mut sources = SourceMap::new();
        let id = sources.add("big.env.k", text.as_str());
        let file = sources.file(id);
        let (runs_ast, runs_diagnostics) = parse(file);
        let (items, diagnostics) = parse_run(file, 0, text.len(), Parsers::FastThenPest);
        assert_eq!(runs_ast.items, items, "case {case}: items");
        assert_eq!(
            format!("{runs_diagnostics:?}"),
            format!("{diagnostics:?}"),
            "case {case}: diagnostics"
        );
        assert_eq!(diagnostics.is_empty(), case == 0, "case {case}");
    }
}

/// The hand-written parser must read every well-formed item itself: one it
/// left to pest would still parse right (`tests/parsers.rs`), only slower.
#[test]
fn the_fast_parser_reads_every_item_of_the_examples_and_the_stdlib() {
    let programs = [
        include_str!("../../examples/enterprise.env.k"),
        include_str!("../../examples/multi-team/main.env.k"),
        include_str!("../../stdlib/alerts.env.k"),
        include_str!("../../stdlib/roles.env.k"),
        include_str!("../../tests/fixtures/all-forms.env.k"),
    ];
    for text in programs {
        let mut pos = skip_trivia(text, 0);
        while pos < text.len() {
            // Policies and waivers, a few per program, are pest's.
            if text[pos..].starts_with("policy ") || text[pos..].starts_with("waive ") {
                pos = skip_trivia(text, super::next_item_line(text, pos + 1));
                continue;
            }
            let Some((_, end)) = fast::item(text, pos, 0) else {
                let line = text[..pos].lines().count() + 1;
                panic!(
                    "left to pest: the item at line {line}: {}",
                    &text[pos..(pos + 200).min(text.len())]
                );
            };
            pos = skip_trivia(text, end);
        }
        let mut sources = SourceMap::new();
        let id = sources.add("program.env.k", text);
        let file = sources.file(id);
        let (ast, diagnostics) = parse(file);
        let (reference, reference_diagnostics) = parse_with_pest_only(file);
        assert!(diagnostics.is_empty() && reference_diagnostics.is_empty());
        assert_eq!(ast, reference);
    }
}

/// What `reparse` keeps of the text before and after an edit ends and
/// starts on character boundaries, past the blocks it compares at once.
#[test]
fn common_ends_stop_at_character_boundaries() {
    let long = "x".repeat(2 * BLOCK + 3);
    for (a, b, prefix, suffix) in [
        ("aé", "aè", 1, 0),
        ("Éa", "ɉa", 0, 1),
        ("éa", "éb", 2, 0),
        ("", "a", 0, 0),
    ] {
        let (a, b) = (format!("{long}{a}{long}"), format!("{long}{b}{long}"));
        assert_eq!(
            common_prefix(a.as_bytes(), b.as_bytes()),
            long.len() + prefix
        );
        assert_eq!(
            common_suffix(a.as_bytes(), b.as_bytes()),
            long.len() + suffix
        );
    }
}
