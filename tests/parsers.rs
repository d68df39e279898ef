//! `syntax::parse` reads well-formed items with a hand-written parser and
//! leaves the rest to pest; `parse_with_pest_only` is pest alone. The two
//! must agree, item for item, span for span, diagnostic for diagnostic, on
//! every program in the repository (the property tests in `props.rs` add
//! mutated and generated ones).

use std::path::{Path, PathBuf};

use envk::source::SourceMap;
use envk::syntax;

fn programs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable folder").path();
        if path.is_dir() {
            programs(&path, out);
        } else if path.to_string_lossy().ends_with(".env.k") {
            out.push(path);
        }
    }
}

#[test]
fn every_program_in_the_repository_parses_as_pest_alone_parses_it() {
    let mut paths = Vec::new();
    for dir in ["examples", "stdlib", "tests", "fuzz/corpus", "editors"] {
        programs(Path::new(dir), &mut paths);
    }
    assert!(paths.len() > 200, "found only {} programs", paths.len());
    let mut with_errors = 0;
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("readable");
        let mut sources = SourceMap::new();
        let id = sources.add(path.to_string_lossy(), text);
        let file = sources.file(id);
        let (ast, diagnostics) = syntax::parse(file);
        let (reference_ast, reference_diagnostics) = syntax::parse_with_pest_only(file);
        assert_eq!(ast, reference_ast, "{}", path.display());
        assert_eq!(
            format!("{diagnostics:#?}"),
            format!("{reference_diagnostics:#?}"),
            "{}",
            path.display()
        );
        with_errors += usize::from(!diagnostics.is_empty());
    }
    // The syntax UI cases are among them: broken items are compared too.
    assert!(with_errors >= 28, "only {with_errors} programs with errors");
}
