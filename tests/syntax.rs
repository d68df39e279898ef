//! Parser tests as data: every `tests/syntax/**/*.env.k` is parsed alone,
//! and a dump of its tree (`tests/support/ast_dump.rs`: one node a line,
//! with its span), followed by its rendered diagnostics if it has any, must
//! equal the `.ast` file beside it. A case is one construct or a small
//! group of them; one with errors shows the diagnostics and what parsing
//! kept around them.
//!
//! `ENVK_BLESS=1 cargo test --test syntax` writes the `.ast` files; read
//! each one you bless, since it is the assertion. An `.ast` without its
//! case fails.

use std::path::Path;

use envk::diag;
use envk::source::SourceMap;
use envk::syntax;

#[path = "support/ast_dump.rs"]
mod ast_dump;
#[path = "support/golden.rs"]
mod golden;

/// Where a dump's tree ends and its diagnostics begin.
const DIAGNOSTICS: &str = "--- diagnostics\n";

#[test]
fn syntax_cases_parse_as_their_ast_files_say() {
    let root = Path::new("tests/syntax");
    let all = golden::cases(root);
    assert!(
        all.len() >= 15,
        "expected the syntax suite, found {} cases",
        all.len()
    );
    let mut failures = Vec::new();
    for case in &all {
        let text = std::fs::read_to_string(case).expect("readable case");
        let mut sources = SourceMap::new();
        let id = sources.add(case.display().to_string(), text);
        let file = sources.file(id);
        let (ast, diagnostics) = syntax::parse(file);
        let mut dump = ast_dump::dump(file, &ast);
        if !diagnostics.is_empty() {
            dump.push_str(DIAGNOSTICS);
            dump.push_str(&diag::render_plain(&sources, &diagnostics));
        }
        let expected = case.with_extension("").with_extension("ast");
        golden::compare(case, &expected, &dump, &mut failures);
    }
    golden::orphans(root, "ast", &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
