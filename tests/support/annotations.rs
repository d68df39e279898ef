//! The inline annotations of a program shown to the checker, Typst-style:
//! a comment `// error[E0101]` (or `warning[…]`) on the line of each
//! diagnostic's primary span. `tests/ui.rs` and `tests/docs.rs` read them
//! the same way, so a UI case and a documented example announce their
//! diagnostics alike.

use envk::diag::Diagnostic;
use envk::source::SourceMap;

/// A diagnostic as an annotation states it: its line (1-based), severity
/// and code.
pub type Mark = (usize, String, String);

/// `(line, "error", "E0101")` for each annotation in the text, sorted.
pub fn annotations(text: &str) -> Vec<Mark> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(comment) = line.rfind("// ") else {
            continue;
        };
        for word in line[comment + 3..].split_whitespace() {
            for severity in ["error", "warning"] {
                if let Some(code) = word
                    .strip_prefix(severity)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                {
                    found.push((index + 1, severity.to_string(), code.to_string()));
                }
            }
        }
    }
    found.sort();
    found
}

/// The marks of the diagnostics whose primary span is in the file named
/// `file`, sorted like [`annotations`].
pub fn located(sources: &SourceMap, file: &str, diagnostics: &[Diagnostic]) -> Vec<Mark> {
    let mut found: Vec<Mark> = diagnostics
        .iter()
        .filter(|d| sources.file_of(d.primary.span).name() == file)
        .map(|d| {
            let source = sources.file_of(d.primary.span);
            let (line, _) = source.line_col(source.local(d.primary.span).start);
            (
                line,
                d.severity.as_str().to_string(),
                d.code.as_str().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}
