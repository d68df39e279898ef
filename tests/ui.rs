//! UI tests: every `tests/ui/**/*.env.k` is checked, and its rendered
//! diagnostics (no colour, path relative to the crate) must equal the
//! `.stderr` file beside it. `ENVK_BLESS=1 cargo test --test ui` rewrites the
//! expected files; review the diff before committing it.
//!
//! Each case also says inline where its diagnostics belong, Typst-style: a
//! comment `// error[E0101]` (or `warning[…]`) on the line of the primary
//! span. The test fails if a diagnostic has no annotation or an annotation
//! has no diagnostic, so a message can never drift to the wrong line
//! unnoticed.

use std::collections::BTreeSet;
use std::path::Path;

use envk::diag;
use envk::driver;

#[path = "support/annotations.rs"]
mod annotations;
#[path = "support/golden.rs"]
mod golden;

use annotations::{annotations, located};

#[test]
fn ui_cases_render_as_expected() {
    let root = Path::new("tests/ui");
    let all = golden::cases(root);
    assert!(
        all.len() >= 15,
        "expected the UI suite, found {} cases",
        all.len()
    );
    let mut failures = Vec::new();
    for case in &all {
        let run = driver::check(std::slice::from_ref(case))
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let rendered = diag::render_plain(&run.sources, &run.diagnostics);
        // Every diagnostic tells the user what to do about it.
        for diagnostic in &run.diagnostics {
            if diagnostic.help.is_none() {
                failures.push(format!(
                    "{}: {} `{}` has no help line",
                    case.display(),
                    diagnostic.code.as_str(),
                    diagnostic.message
                ));
            }
        }
        let text = std::fs::read_to_string(case).expect("case was just read by the driver");
        let expected_marks = annotations(&text);
        // Diagnostics in files the case imports are checked through the
        // `.stderr` only.
        let actual_marks = located(&run.sources, &case.display().to_string(), &run.diagnostics);
        if expected_marks != actual_marks {
            failures.push(format!(
                "{}: annotations {expected_marks:?} but diagnostics at {actual_marks:?}",
                case.display()
            ));
        }
        let stderr = case.with_extension("").with_extension("stderr");
        golden::compare(case, &stderr, &rendered, &mut failures);
    }
    golden::orphans(root, "stderr", &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A code counts as exercised only where a case states it as expected:
/// in an annotation, or in a header (`error[E0101]: …`) of its `.stderr`,
/// the only place a diagnostic in a file the case imports is stated. (A
/// header for the case's own file is annotated too, or
/// `ui_cases_render_as_expected` fails.) A code merely named in a comment
/// or a string does not count.
#[test]
fn every_code_has_a_ui_case() {
    let mut expected = BTreeSet::new();
    for case in golden::cases(Path::new("tests/ui")) {
        let text = std::fs::read_to_string(&case).expect("readable case");
        expected.extend(annotations(&text).into_iter().map(|(_, _, code)| code));
        let stderr = case.with_extension("").with_extension("stderr");
        let rendered = std::fs::read_to_string(stderr).unwrap_or_default();
        expected.extend(rendered.lines().filter_map(header_code));
    }
    for code in diag::Code::ALL {
        let exercised = expected.contains(code.as_str());
        if code.is_retired() {
            assert!(
                !exercised,
                "{} is retired: no case may expect it",
                code.as_str()
            );
        } else {
            assert!(exercised, "no UI case expects {}", code.as_str());
        }
    }
}

/// `E0101` from a rendered diagnostic's first line, `error[E0101]: …`.
fn header_code(line: &str) -> Option<String> {
    ["error[", "warning["].iter().find_map(|start| {
        let (code, _) = line.strip_prefix(start)?.split_once("]: ")?;
        Some(code.to_string())
    })
}
