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

use std::path::{Path, PathBuf};

use envk::diag;
use envk::driver;

#[path = "support/annotations.rs"]
mod annotations;

use annotations::{annotations, located};

fn cases(folder: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()))
        .map(|entry| entry.expect("readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            cases(&path, out);
        } else if path.to_string_lossy().ends_with(".env.k") {
            out.push(path);
        }
    }
}

#[test]
fn ui_cases_render_as_expected() {
    let root = Path::new("tests/ui");
    let mut all = Vec::new();
    cases(root, &mut all);
    assert!(
        all.len() >= 15,
        "expected the UI suite, found {} cases",
        all.len()
    );
    let bless = std::env::var_os("ENVK_BLESS").is_some_and(|v| v == "1");
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
        if bless {
            std::fs::write(&stderr, &rendered).expect("write blessed output");
            continue;
        }
        match std::fs::read_to_string(&stderr) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => failures.push(format!(
                "{}: output differs from {}\n--- expected\n{expected}\n--- actual\n{rendered}",
                case.display(),
                stderr.display()
            )),
            Err(_) => failures.push(format!(
                "{}: no {} (run with ENVK_BLESS=1 to create it)\n{rendered}",
                case.display(),
                stderr.display()
            )),
        }
    }
    // An expected file whose case is gone would never be compared again.
    let mut expected_files = Vec::new();
    stderr_files(root, &mut expected_files);
    for stderr in expected_files {
        let case = stderr.with_extension("env.k");
        if !case.exists() {
            failures.push(format!(
                "{}: no case {} beside it (remove it)",
                stderr.display(),
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn stderr_files(folder: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("readable UI folder") {
        let path = entry.expect("readable folder entry").path();
        if path.is_dir() {
            stderr_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "stderr") {
            out.push(path);
        }
    }
}

#[test]
fn every_code_has_a_ui_case() {
    let mut all = Vec::new();
    cases(Path::new("tests/ui"), &mut all);
    let texts: String = all
        .iter()
        .map(|case| std::fs::read_to_string(case).expect("readable case"))
        .collect();
    for code in diag::Code::ALL {
        let exercised = texts.contains(&format!("[{}]", code.as_str()));
        if code.is_retired() {
            assert!(
                !exercised,
                "{} is retired: no case may expect it",
                code.as_str()
            );
        } else {
            assert!(exercised, "no UI case exercises {}", code.as_str());
        }
    }
}
