//! Property tests of the syntax stage: no input panics the parser, every
//! span it produces lies inside its file on a character boundary, one
//! broken item costs only that item, and the hand-written parser of
//! well-formed items changes nothing: every input parses exactly as with
//! pest alone. Generated inputs carry non-ASCII text next to and inside
//! every kind of token, since error messages slice the text around the
//! place parsing failed. The language server, fed mutations as edits,
//! publishes after each what a cold check of the text reports.
//!
//! Run longer with `PROPTEST_CASES=10000 cargo test --release --test props`.

use proptest::prelude::*;

use envk::diag::Diagnostic;
use envk::source::{SourceMap, Span};
use envk::syntax::{self, ast::Ast, spans};

#[path = "support/lsp_client.rs"]
mod lsp_client;

fn parse(text: &str) -> (SourceMap, Ast, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    // A file before the one under test, so global offsets are not local ones.
    sources.add("first.env.k", "tier t { }\n");
    let id = sources.add("input.env.k", text);
    let (ast, diagnostics) = syntax::parse(sources.file(id));
    let (reference_ast, reference_diagnostics) = syntax::parse_with_pest_only(sources.file(id));
    assert_eq!(
        ast, reference_ast,
        "the fast parser and pest disagree on {text:?}"
    );
    assert_eq!(
        format!("{diagnostics:?}"),
        format!("{reference_diagnostics:?}"),
        "the fast parser and pest disagree on {text:?}"
    );
    (sources, ast, diagnostics)
}

fn assert_spans_valid(sources: &SourceMap, ast: &Ast, diagnostics: &[Diagnostic]) {
    let file = sources.files().last().expect("input file");
    let text = file.text();
    let check = |span: Span, what: &str| {
        assert!(span.start <= span.end, "{what} span {span:?} is reversed");
        assert!(
            span.start >= file.base() && span.end as usize <= file.base() as usize + text.len(),
            "{what} span {span:?} outside the file (base {}, len {})",
            file.base(),
            text.len()
        );
        let local = file.local(span);
        assert!(
            text.is_char_boundary(local.start) && text.is_char_boundary(local.end),
            "{what} span {span:?} splits a character"
        );
    };
    for span in spans::all_spans(ast) {
        check(span, "AST");
    }
    for diagnostic in diagnostics {
        check(diagnostic.primary.span, "primary");
        for label in &diagnostic.secondary {
            check(label.span, "secondary");
        }
    }
    // Rendering touches every span too.
    let _ = envk::diag::render_plain(sources, diagnostics);
}

/// What a generated input is made of: the language's tokens, and
/// non-ASCII text around and inside them.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![2 => ascii_token(), 1 => non_ascii_token()]
}

/// Words and symbols of the language, and near misses of them: every item
/// and statement keyword among them (`tokens_include_every_keyword`).
const TOKENS: &[&str] = &[
    "import",
    "gitops",
    "argocd_server",
    "federation",
    "match",
    "cluster",
    "tier",
    "role",
    "cluster_role",
    "resource",
    "external",
    "receiver",
    "route",
    "policy",
    "waive",
    "because",
    "all",
    "none",
    "where",
    "implies",
    "matches",
    "starts_with",
    "has",
    "count",
    "unique",
    "per",
    "envs",
    "env.labels",
    "team",
    "severity",
    "pagerduty",
    "metrics",
    "rollouts.argoproj.io",
    "let",
    "env",
    "for",
    "in",
    "if",
    "else",
    "and",
    "or",
    "not",
    "==",
    "!=",
    "<",
    ">=",
    "alert",
    "on",
    "grant",
    "to",
    "as",
    "user",
    "group",
    "serviceaccount",
    "ingress",
    "egress",
    "allow",
    "from",
    "dns",
    "any",
    "environment",
    "stage",
    "quota",
    "limits",
    "container",
    "pod",
    "forbid",
    "verbs",
    "resources",
    "wildcards",
    "require",
    "alerts",
    "accept",
    "extends",
    "tcp",
    "udp",
    "true",
    "false",
    "requests.cpu",
    "limits.memory",
    "prod-cluster",
    "x",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    "=",
    ":",
    "*",
    ".",
    ";",
    "@",
    "\n",
    "\n\n",
    "//c\n",
    "\"",
    "`",
    "${",
    "}",
    "$${",
    "\\",
    "%",
    "-",
    "\r\n",
];

/// One of `TOKENS`, or a word, number or string like the language's.
fn ascii_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(TOKENS.to_vec()).prop_map(str::to_string),
        "[a-z][a-z0-9-]{0,8}",
        "[0-9]{1,4}(\\.[0-9]{1,3})?(m|Mi|Gi|Gb|s|h|%|ms|1h30m|x)?",
        "\"[a-z ${}\\\\]{0,10}\"?",
        "`[a-z\n${}]{0,10}`?",
    ]
}

/// Characters of two, three and four bytes in UTF-8, combining marks, and
/// spaces and line breaks that are not ASCII: a byte index computed as if
/// the text were ASCII (`i + 1` after a character) lands inside them.
const NON_ASCII: &[&str] = &[
    "é", "ß", "—", "€", "日本", "𝄞", "😀", "e\u{301}", "\u{301}", "\u{a0}", "\u{2028}", "\u{3000}",
    "\u{feff}",
];

fn non_ascii() -> impl Strategy<Value = String> {
    prop::sample::select(NON_ASCII).prop_map(str::to_string)
}

/// ASCII and non-ASCII together, as the inside of comments and strings.
fn mixed_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            non_ascii(),
            "[a-z ]{1,3}",
            Just("${".to_string()),
            Just("\\".to_string()),
            Just("\n".to_string()),
        ],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// Non-ASCII text in each place the parser and its error messages look:
/// against any token, inside names and numbers, in strings and raw strings
/// (closed or not), and in comments, last on their line too. Errors are
/// reported at a token and described from the text before it, so a comment
/// is followed by the token it ends up next to.
fn non_ascii_token() -> impl Strategy<Value = String> {
    let maybe = || prop::option::of(non_ascii()).prop_map(Option::unwrap_or_default);
    prop_oneof![
        (maybe(), ascii_token(), maybe())
            .prop_map(|(before, token, after)| before + &token + &after),
        ("[a-z_]{0,4}", non_ascii(), "[a-z0-9-]{0,4}").prop_map(|(a, n, b)| a + &n + &b),
        ("[0-9]{1,3}(\\.[0-9])?", non_ascii()).prop_map(|(number, suffix)| number + &suffix),
        (
            prop::sample::select(vec!["\"", "`"]),
            mixed_text(),
            any::<bool>()
        )
            .prop_map(|(quote, inside, closed)| {
                let close = if closed { quote } else { "" };
                format!("{quote}{inside}{close}")
            }),
        (mixed_text(), non_ascii(), ascii_token())
            .prop_map(|(inside, last, next)| format!("//{inside}{last}\n{next}")),
    ]
}

/// Edits that keep a program parseable more often than not, so that the
/// checker, not the parser, is what they reach.
fn checker_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "200m",
            "64Gi",
            "1G",
            "0.5",
            "90%",
            "150%",
            "5m",
            "\"*\"",
            "production",
            "development",
            "staging",
            "prod",
            "x",
            "secrets",
            "nodes",
            "escalate",
            "dns",
            "any",
            "critical",
            "standard",
            "sandbox",
            "viewer",
            "developer",
            "HighPodMemoryUsage",
            "prod-cluster",
            "dev-cluster",
            "small * 2",
            "small * 0",
            " ",
            "-",
            "s",
            "e",
            // Non-ASCII names, strings and comments, for the checker's
            // messages and the formatter's comment handling.
            "é",
            "x—€",
            "\"é — 𝄞\"",
            "\"e\u{301}\"",
            " // é — 𝄞\n",
            "//—\n",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,6}",
        "[0-9]{1,3}",
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (token(), prop::sample::select(vec![" ", "", "\n", "  "])),
        0..60,
    )
    .prop_map(|parts| parts.into_iter().map(|(t, sep)| t + sep).collect())
}

const ENTERPRISE: &str = include_str!("../examples/enterprise.env.k");
const MULTI_TEAM_MAIN: &str = include_str!("../examples/multi-team/main.env.k");

/// Every statement and expression form, for the comparison of the fast
/// parser with pest on its mutations.
const ALL_FORMS: &str = include_str!("fixtures/all-forms.env.k");

/// Runs the whole pipeline (parse, imports, resolve, check) on one file
/// held in memory, beside the files the multi-team example imports.
fn check(text: &str) -> envk::driver::Run {
    let loader = envk::load::InMemory::new()
        .with("input.env.k", text)
        .with(
            "clusters.env.k",
            include_str!("../examples/multi-team/clusters.env.k"),
        )
        .with(
            "tiers.env.k",
            include_str!("../examples/multi-team/tiers.env.k"),
        )
        .with(
            "roles.env.k",
            include_str!("../examples/multi-team/roles.env.k"),
        )
        .with(
            "alerting.env.k",
            include_str!("../examples/multi-team/alerting.env.k"),
        )
        .with(
            "teams/payments.env.k",
            include_str!("../examples/multi-team/teams/payments.env.k"),
        )
        .with(
            "policies.env.k",
            include_str!("../examples/multi-team/policies.env.k"),
        );
    envk::driver::check_with(&[std::path::PathBuf::from("input.env.k")], &loader)
        .expect("the input is in memory")
}

/// Like `assert_spans_valid`, for diagnostics of a whole run.
fn assert_run_spans_valid(run: &envk::driver::Run) {
    for diagnostic in &run.diagnostics {
        assert!(
            diagnostic.help.is_some(),
            "{} has no help line: {}",
            diagnostic.code.as_str(),
            diagnostic.message
        );
        for span in std::iter::once(diagnostic.primary.span)
            .chain(diagnostic.secondary.iter().map(|l| l.span))
        {
            let file = run.sources.file_of(span);
            let local = file.local(span);
            assert!(
                local.end <= file.text().len(),
                "span {span:?} outside {}",
                file.name()
            );
            assert!(
                file.text().is_char_boundary(local.start)
                    && file.text().is_char_boundary(local.end)
            );
        }
    }
    let _ = envk::diag::render_plain(&run.sources, &run.diagnostics);
}

/// Applies `edits` (position, characters to delete, text to insert) to
/// `text`, keeping every cut on a character boundary.
fn mutate(text: &str, edits: &[(usize, usize, String)]) -> String {
    let mut text = text.to_string();
    for (at, delete, insert) in edits {
        text.replace_range(cut(&text, *at, *delete), insert);
    }
    text
}

/// The bytes an edit at `at` deleting `delete` bytes replaces, moved back
/// to character boundaries and kept inside `text`.
fn cut(text: &str, at: usize, delete: usize) -> std::ops::Range<usize> {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let mut end = (at + delete).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    at..end
}

/// A simple, valid, single-line item of each kind, without strings.
fn valid_item() -> impl Strategy<Value = String> {
    let name = "[a-z][a-z0-9]{0,6}";
    prop_oneof![
        name.prop_map(|n| format!("cluster {n} {{ environment = production capacity {{ cpu = 4 }} }}")),
        name.prop_map(|n| format!("tier {n} {{ pod_security = baseline forbid wildcards }}")),
        name.prop_map(|n| format!("role {n} {{ allow [get, list] on [pods] }}")),
        name.prop_map(|n| format!("let {n} = quota {{ requests.cpu = 2 pods = 10 }}")),
        name.prop_map(|n| format!("env {n} on c tier t {{ egress allow dns ingress allow from environment production on tcp 8080 }}")),
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
    }

    #[test]
    fn token_soup_never_panics(text in soup()) {
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
    }

    /// The fast parser against pest (compared inside `parse`) on small
    /// edits of a program using every form.
    #[test]
    fn mutated_forms_parse_as_with_pest_alone(
        edits in prop::collection::vec((0..ALL_FORMS.len(), 0usize..6, token()), 1..4)
    ) {
        let text = mutate(ALL_FORMS, &edits);
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
    }

    #[test]
    fn mutated_examples_never_panic(
        edits in prop::collection::vec((0..ENTERPRISE.len(), 0usize..40, token()), 1..6)
    ) {
        let text = mutate(ENTERPRISE, &edits);
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
    }

    /// The checker sees programs that parse but are wrong in every way a
    /// small edit can make them: it reports, and never panics.
    #[test]
    fn mutated_programs_never_panic_the_checker(
        edits in prop::collection::vec((0..8000usize, 0usize..12, checker_token()), 1..4),
        which in any::<bool>(),
    ) {
        let base = if which { ENTERPRISE } else { MULTI_TEAM_MAIN };
        let text = mutate(base, &edits);
        let run = check(&text);
        assert_run_spans_valid(&run);
        if let Some(model) = &run.model {
            prop_assert!(!run.diagnostics.iter().any(|d| d.is_error()));
            // Every stage: what the checker accepts, the emitters build.
            let tree = envk::emit::emit(model, envk::emit::Options { provenance: true, ..envk::emit::Options::default() });
            prop_assert!(!tree.files.is_empty());
        }
    }

    /// Recovery: `@` inserted anywhere in one item of a file whose items
    /// each start a line gives one error and costs at most that item.
    #[test]
    fn one_broken_item_costs_only_that_item(
        items in prop::collection::vec(valid_item(), 1..8),
        broken in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
    ) {
        let broken = broken.index(items.len());
        let mut lines = items.clone();
        let item = &mut lines[broken];
        let cut = at.index(item.len());
        item.insert_str(cut, " @ ");
        let text = lines.join("\n") + "\n";
        let (sources, ast, diagnostics) = parse(&text);
        assert_spans_valid(&sources, &ast, &diagnostics);
        prop_assert_eq!(diagnostics.len(), 1, "{}", envk::diag::render_plain(&sources, &diagnostics));
        // The broken item may survive as a shorter valid item (`let a = q @ uota …`).
        prop_assert!(ast.items.len() == items.len() || ast.items.len() == items.len() - 1);
    }

    #[test]
    fn valid_items_parse_clean(items in prop::collection::vec(valid_item(), 0..8)) {
        let text = items.join("\n");
        let (sources, ast, diagnostics) = parse(&text);
        prop_assert!(diagnostics.is_empty(), "{}", envk::diag::render_plain(&sources, &diagnostics));
        prop_assert_eq!(ast.items.len(), items.len());
    }
}

/// `reparse` (the language server's, at each edit) against `parse`: a file
/// edited once and again, each edit re-parsed from the last clean tree, at
/// a base the files before it moved, gives `parse`'s tree and diagnostics.
fn assert_reparse_is_parse(base: &str, edits: &[(usize, usize, String)], moved: usize) {
    let (mut sources, mut ast, diagnostics) = parse(base);
    assert!(diagnostics.is_empty(), "the base parses clean");
    let mut id = sources.files().last().expect("input.env.k").id();
    for (step, (at, delete, insert)) in edits.iter().enumerate() {
        let old = sources.file(id);
        let mut text = old.text().to_string();
        text.replace_range(cut(&text, *at, *delete), insert);
        let mut now = SourceMap::new();
        now.add("first.env.k", "x".repeat(moved * step));
        let new_id = now.add("input.env.k", text.as_str());
        let earlier = syntax::Earlier {
            text: old.text(),
            base: old.base(),
            ast: ast.clone(),
        };
        let (reparsed, reparse_diagnostics) = syntax::reparse(earlier, now.file(new_id));
        let (parsed, parse_diagnostics) = syntax::parse(now.file(new_id));
        assert_eq!(reparsed, parsed, "reparse and parse disagree on {text:?}");
        assert_eq!(reparse_diagnostics, parse_diagnostics, "on {text:?}");
        if !parse_diagnostics.is_empty() {
            return;
        }
        (sources, ast, id) = (now, parsed, new_id);
    }
}

proptest! {
    #[test]
    fn reparsing_edits_gives_what_parsing_gives(
        edits in prop::collection::vec((0..8000usize, 0usize..40, token()), 1..6),
        which in 0..3usize,
        moved in 0..3usize,
    ) {
        let base = [ALL_FORMS, ENTERPRISE, MULTI_TEAM_MAIN][which];
        let edits: Vec<_> = edits.into_iter().map(|(at, delete, insert)| (at % base.len(), delete, insert)).collect();
        assert_reparse_is_parse(base, &edits, moved);
    }
}

/// Edits where items meet: an `else` after an `if` that ended, a `}` that
/// closes an item early, text before the first item and after the last,
/// a whole item deleted, everything replaced.
#[test]
fn reparsing_edits_at_item_boundaries_gives_what_parsing_gives() {
    let base = "if x == 1 {\n  env a on c tier t { }\n}\n\nenv b on c tier t { }\n// end\nenv c on c tier t { }\n";
    let at = |needle: &str| base.find(needle).expect("in the base");
    let edits = [
        (
            at("\n\nenv b"),
            0,
            " else { env z on c tier t { } }".to_string(),
        ),
        (at("env b"), 0, "}".to_string()),
        (at("env b"), 0, "else ".to_string()),
        (0, 0, "// first\n".to_string()),
        (base.len(), 0, "env d on c tier t { }\n".to_string()),
        (at("env b"), at("// end") - at("env b"), String::new()),
        (0, base.len(), "env only on c tier t { }".to_string()),
        (at("{ }\n// end") + 1, 0, "\n".to_string()),
        (at("/ end"), 1, String::new()),
    ];
    for edit in edits {
        for moved in [0, 5] {
            assert_reparse_is_parse(base, std::slice::from_ref(&edit), moved);
        }
    }
}

/// The mutation property starts from programs the checker accepts, so that
/// what it reports comes from the mutations.
#[test]
fn tokens_include_every_keyword() {
    use envk::syntax::keywords::{ItemKeyword, StatementKeyword};
    for word in ItemKeyword::words().chain(StatementKeyword::words()) {
        assert!(TOKENS.contains(&word), "`{word}` is never generated");
    }
}

#[test]
fn the_mutation_bases_check_clean() {
    for base in [ENTERPRISE, MULTI_TEAM_MAIN] {
        let run = check(base);
        assert!(
            run.diagnostics.is_empty(),
            "{}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        );
    }
}

/// The tree of a text with spans zeroed, or `None` when it does not parse.
fn tree_of(text: &str) -> Option<envk::syntax::ast::Ast> {
    let (_, mut ast, diagnostics) = parse(text);
    if !diagnostics.is_empty() {
        return None;
    }
    spans::for_each_span_mut(&mut ast, &mut |span| *span = Span::new(0, 0));
    Some(ast)
}

fn format(text: &str) -> Option<String> {
    let mut sources = SourceMap::new();
    let id = sources.add("input.env.k", text);
    envk::syntax::format::format(sources.file(id)).ok()
}

proptest! {
    /// `fmt(fmt(x)) == fmt(x)` and `parse(fmt(x))` equals `parse(x)`, on
    /// every program that parses among mutated examples and generated items.
    #[test]
    fn formatting_is_idempotent_and_keeps_the_tree(
        edits in prop::collection::vec((0..8000usize, 0usize..12, checker_token()), 0..3),
        items in prop::collection::vec(valid_item(), 0..6),
        which in 0..3usize,
    ) {
        let text = match which {
            0 => mutate(ENTERPRISE, &edits),
            1 => mutate(MULTI_TEAM_MAIN, &edits),
            _ => items.join("\n"),
        };
        let Some(original) = tree_of(&text) else {
            return Ok(());
        };
        let once = format(&text).expect("a text that parses formats");
        let twice = format(&once).expect("formatted text parses");
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(tree_of(&once), Some(original));
        let comments = |t: &str| t.matches("//").count();
        prop_assert_eq!(comments(&once), comments(&text));
    }
}

proptest! {
    // Each case starts a server and checks the program once per edit.
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The language server under random edits (the mutation generator's,
    /// each sent as a didChange of a range): it never crashes, and after
    /// each edit what it publishes equals a cold `envk check` of the text.
    #[test]
    fn the_language_server_publishes_what_check_reports_after_every_edit(
        edits in prop::collection::vec((0..8000usize, 0usize..12, checker_token()), 1..5),
    ) {
        let folder = lsp_client::scratch(&format!("lsp-edits-{:?}", std::thread::current().id()));
        let path = folder.join("program.env.k");
        std::fs::write(&path, ENTERPRISE).expect("written");
        let mut client = lsp_client::Client::start(&folder);
        client.open(&path, ENTERPRISE, 1);
        client.diagnostics(&path, Some(1));
        let mut text = ENTERPRISE.to_string();
        for (version, (at, delete, insert)) in (2..).zip(&edits) {
            let std::ops::Range { start, end } = cut(&text, *at, *delete);
            let (from, to) = (lsp_client::utf16_position(&text, start), lsp_client::utf16_position(&text, end));
            client.edit(&path, version, [from.0, from.1, to.0, to.1], insert);
            text.replace_range(start..end, insert);
            let published = lsp_client::published(&client.diagnostics(&path, Some(version)));
            let loader = envk::load::InMemory::new().with(&path, text.as_str());
            let cold = envk::driver::check_with(std::slice::from_ref(&path), &loader)
                .expect("in memory");
            prop_assert_eq!(published, lsp_client::expected(&cold, &path.display().to_string()));
        }
        client.stop();
    }
}

/// A file of 10 MB parses without trouble: the parser is linear and does
/// not recurse per item.
#[test]
fn a_ten_megabyte_file_parses() {
    let item = "env team on c tier t { quota { requests.cpu = 2  pods = 10 } ingress allow from environment production on tcp 8080 }\n";
    let text = item.repeat(10 * 1024 * 1024 / item.len() + 1);
    assert!(text.len() >= 10 * 1024 * 1024);
    let (sources, ast, diagnostics) = parse(&text);
    assert!(diagnostics.is_empty());
    assert_eq!(ast.items.len(), text.lines().count());
    let _ = sources;
}
