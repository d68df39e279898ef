//! Cases as data: the `.env.k` cases of a folder, each with an expected
//! file beside it that one helper compares (or, under `ENVK_BLESS=1`,
//! rewrites). `tests/ui.rs` and `tests/syntax.rs` share it, so both suites
//! bless, report and refuse leftovers alike; `tests/stdlib_doc.rs` compares
//! and blesses its one expected file, `docs/stdlib.md`, with it too.

use std::path::{Path, PathBuf};

/// Every `*.env.k` below `folder`, in a stable order.
pub fn cases(folder: &Path) -> Vec<PathBuf> {
    let mut out = files(folder, ".env.k");
    out.sort();
    out
}

/// Compares `actual` with the file `expected` (or writes it there when
/// blessing), adding a message to `failures` when they differ.
pub fn compare(case: &Path, expected: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("ENVK_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(expected, actual).expect("write blessed output");
        return;
    }
    match std::fs::read_to_string(expected) {
        Ok(text) if text == actual => {}
        Ok(text) => failures.push(format!(
            "{}: output differs from {} {}\n--- expected\n{text}\n--- actual\n{actual}",
            case.display(),
            expected.display(),
            first_difference(&text, actual)
        )),
        Err(_) => failures.push(format!(
            "{}: no {} (run with ENVK_BLESS=1 to create it)\n{actual}",
            case.display(),
            expected.display()
        )),
    }
}

/// An expected file (`.{extension}`) below `folder` whose case is gone
/// would never be compared again: each one is a failure.
pub fn orphans(folder: &Path, extension: &str, failures: &mut Vec<String>) {
    for expected in files(folder, &format!(".{extension}")) {
        let case = expected.with_extension("env.k");
        if !case.exists() {
            failures.push(format!(
                "{}: no case {} beside it (remove it)",
                expected.display(),
                case.display()
            ));
        }
    }
}

/// Where two texts part, so a long expected file need not be compared by
/// eye: `at line N`, with both versions of that line.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    for line in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(want), Some(got)) if want == got => {}
            (None, None) => break,
            (want, got) => {
                return format!(
                    "at line {line}: expected {:?}, found {:?}",
                    want.unwrap_or("(end)"),
                    got.unwrap_or("(end)")
                );
            }
        }
    }
    "in line ends only".to_string()
}

fn files(folder: &Path, ending: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()));
    for entry in entries {
        let path = entry.expect("readable folder entry").path();
        if path.is_dir() {
            out.extend(files(&path, ending));
        } else if path.to_string_lossy().ends_with(ending) {
            out.push(path);
        }
    }
    out
}
