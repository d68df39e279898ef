//! Diagnostics as data, the registry of codes, and their rendering.
//!
//! Owns: what a diagnostic is, which codes exist (with their long
//! explanations from `docs/codes/`), and how diagnostics become text or JSON.
//! Stages only ever build `Diagnostic` values; this module is the only place
//! that turns them into output, and the CLI the only place that prints it.

use std::fmt::Write as _;
use std::io;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;

use crate::source::{SourceMap, Span};

#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($($code:ident => $severity:ident, $summary:literal;)*) => {
        /// Every diagnostic code. The hundreds digit is the stage (01 syntax,
        /// 02 names, 03 types, 04 quotas, 05 access, 06 network, 07 alerts,
        /// 08 placement and gitops); `docs/codes/CODE.md` explains each.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        pub enum Code {
            $($code,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// One line: what the code is about.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$code => $summary,)*
                }
            }

            pub fn default_severity(self) -> Severity {
                match self {
                    $(Code::$code => Severity::$severity,)*
                }
            }

            /// The long explanation shown by `envk explain`.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(concat!("../docs/codes/", stringify!($code), ".md")),)*
                }
            }
        }
    };
}

codes! {
    E0101 => Error, "unexpected token";
    E0102 => Error, "unclosed delimiter";
    E0103 => Error, "unterminated string";
    E0104 => Error, "invalid number or unit";
    E0105 => Error, "invalid port";
    E0106 => Error, "comma between the fields of a block";
    E0107 => Error, "unknown top-level item";
    E0108 => Error, "invalid escape sequence";
    E0109 => Error, "invalid interpolation";
    E0110 => Error, "nesting too deep";
    E0111 => Error, "env placed on a tier without a cluster";
    E0201 => Error, "unknown name";
    E0202 => Error, "duplicate declaration";
    E0203 => Error, "import not found";
    E0204 => Error, "import cycle";
    E0205 => Error, "invalid name";
    E0206 => Error, "tier extends itself";
    E0207 => Error, "let defined in terms of itself";
    E0208 => Error, "unknown variable in a string";
    E0209 => Error, "for loop over something that is not a list";
    E0210 => Error, "env without a placement";
    E0211 => Error, "let inside a for loop";
    E0301 => Error, "mismatched types";
    E0302 => Error, "unknown field";
    E0303 => Error, "missing field";
    E0304 => Error, "field set twice";
    E0305 => Error, "unknown value";
    E0306 => Error, "value out of range";
    E0307 => Error, "invalid multiplication";
    E0308 => Error, "invalid URL";
    E0309 => Error, "invalid label or annotation";
    E0310 => Error, "label reserved by envk";
    E0401 => Error, "quota limits below requests";
    E0402 => Error, "limit range out of order";
    E0403 => Error, "limit range max above the quota";
    E0404 => Error, "quota above the tier's ceiling";
    E0405 => Error, "cluster over-committed";
    E0406 => Error, "env without the quota a check needs";
    E0501 => Error, "unknown resource";
    E0502 => Error, "unknown verb";
    E0503 => Error, "grant of an unknown role";
    E0504 => Error, "verb forbidden by the tier";
    E0505 => Error, "resource forbidden by the tier";
    E0506 => Error, "wildcard forbidden by the tier";
    E0507 => Error, "cluster-wide resource in a namespaced role";
    E0508 => Error, "invalid grant";
    E0509 => Warning, "verb the resource does not serve";
    E0601 => Warning, "network selector that matches no env";
    E0602 => Error, "ingress from an environment the tier does not accept";
    E0603 => Error, "DNS egress both allowed and denied";
    E0604 => Warning, "restricted env without a network policy (retired)";
    E0605 => Error, "env open to every namespace (retired)";
    E0606 => Error, "network peer on another cluster";
    E0607 => Warning, "network rule the other end does not admit";
    E0701 => Error, "invalid PromQL";
    E0702 => Error, "alert not scoped to its namespace";
    E0703 => Error, "required alert missing";
    E0704 => Error, "unknown alert parameter";
    E0705 => Error, "alert parameter of the wrong type";
    E0706 => Error, "alert parameter without a value";
    E0707 => Error, "unknown parameter type";
    E0801 => Error, "env on a cluster of the wrong environment";
    E0802 => Error, "Argo CD project across environments";
    E0803 => Error, "deploy repo is not an https URL";
    E0804 => Error, "invalid deploy path or revision";
}

impl Code {
    /// Codes envk no longer reports: what they caught cannot happen any
    /// more. `envk explain` still describes them, for old CI logs.
    pub const RETIRED: &'static [Code] = &[Code::E0604, Code::E0605];

    pub fn is_retired(self) -> bool {
        Code::RETIRED.contains(&self)
    }

    /// Accepts `E0101` as well as `e0101` and `0101`.
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        let digits = text
            .strip_prefix('E')
            .or_else(|| text.strip_prefix('e'))
            .unwrap_or(text);
        Code::ALL
            .iter()
            .copied()
            .find(|code| &code.as_str()[1..] == digits)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and an unlabelled
    /// primary span; the builder methods below add the rest.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.default_severity(),
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_codespan(&self, sources: &SourceMap) -> cs::Diagnostic<crate::source::FileId> {
        let label = |style: cs::LabelStyle, label: &Label| {
            let file = sources.file_of(label.span);
            cs::Label::new(style, file.id(), file.local(label.span)).with_message(&label.message)
        };
        let mut labels = vec![label(cs::LabelStyle::Primary, &self.primary)];
        labels.extend(
            self.secondary
                .iter()
                .map(|secondary| label(cs::LabelStyle::Secondary, secondary)),
        );
        let mut notes: Vec<String> = self
            .notes
            .iter()
            .map(|note| format!("note: {note}"))
            .collect();
        if let Some(help) = &self.help {
            notes.push(format!("help: {help}"));
        }
        let severity = match self.severity {
            Severity::Warning => cs::Severity::Warning,
            Severity::Error => cs::Severity::Error,
        };
        cs::Diagnostic::new(severity)
            .with_code(self.code.as_str())
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(notes)
    }
}

/// rustc's look: ASCII borders, `-->` before the location.
fn config() -> term::Config {
    term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    }
}

/// Renders diagnostics as rustc-style text without colour (tests, files).
pub fn render_plain(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let rendered = term::emit_into_string(&config(), sources, &diagnostic.to_codespan(sources))
            .expect("every span was made from a file of this SourceMap");
        out.push_str(&rendered);
    }
    out
}

/// Renders diagnostics as rustc-style text, in colour where `writer` has it.
pub fn render_human(
    writer: &mut dyn term::termcolor::WriteColor,
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    for diagnostic in diagnostics {
        term::emit_to_write_style(writer, &config(), sources, &diagnostic.to_codespan(sources))
            .map_err(|error| match error {
                codespan_reporting::files::Error::Io(error) => error,
                other => io::Error::other(other.to_string()),
            })?;
    }
    Ok(())
}

/// One JSON object per line per diagnostic, for CI tools and editors.
/// Lines and columns are 1-based (columns count characters); byte offsets
/// are 0-based within the file, end exclusive.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let value = serde_json::json!({
            "code": diagnostic.code.as_str(),
            "severity": diagnostic.severity.as_str(),
            "message": diagnostic.message,
            "file": sources.file_of(diagnostic.primary.span).name(),
            "line": location(sources, diagnostic.primary.span).0,
            "column": location(sources, diagnostic.primary.span).1,
            "byte_start": local_range(sources, diagnostic.primary.span).0,
            "byte_end": local_range(sources, diagnostic.primary.span).1,
            "label": diagnostic.primary.message,
            "secondary": diagnostic.secondary.iter().map(|label| serde_json::json!({
                "file": sources.file_of(label.span).name(),
                "line": location(sources, label.span).0,
                "column": location(sources, label.span).1,
                "byte_start": local_range(sources, label.span).0,
                "byte_end": local_range(sources, label.span).1,
                "label": label.message,
            })).collect::<Vec<_>>(),
            "notes": diagnostic.notes,
            "help": diagnostic.help,
        });
        writeln!(out, "{value}").expect("writing to a String cannot fail");
    }
    out
}

fn location(sources: &SourceMap, span: Span) -> (usize, usize) {
    let file = sources.file_of(span);
    file.line_col(file.local(span).start)
}

fn local_range(sources: &SourceMap, span: Span) -> (usize, usize) {
    let range = sources.file_of(span).local(span);
    (range.start, range.end)
}

/// "2 errors and 1 warning", for the closing line of a run.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => count(w, "warning"),
        (e, 0) => count(e, "error"),
        (e, w) => format!("{} and {}", count(e, "error"), count(w, "warning")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_in_any_common_spelling() {
        assert_eq!(Code::parse("E0101"), Some(Code::E0101));
        assert_eq!(Code::parse("e0103"), Some(Code::E0103));
        assert_eq!(Code::parse("0104"), Some(Code::E0104));
        assert_eq!(Code::parse("E9999"), None);
    }

    #[test]
    fn every_code_has_an_explanation_that_names_it() {
        for code in Code::ALL {
            let text = code.explanation();
            assert!(
                text.starts_with(&format!("# {}", code.as_str())),
                "docs/codes/{}.md must start with its heading",
                code.as_str()
            );
        }
    }

    #[test]
    fn json_has_one_object_per_diagnostic_with_position() {
        let mut sources = SourceMap::new();
        let id = sources.add("a.env.k", "ab\ncd");
        let span = sources.file(id).span(3..5);
        let diagnostics = [Diagnostic::new(Code::E0101, span, "boom").label("here")];
        let json = render_json(&sources, &diagnostics);
        let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(value["file"], "a.env.k");
        assert_eq!(value["line"], 2);
        assert_eq!(value["column"], 1);
        assert_eq!(value["byte_start"], 3);
        assert_eq!(value["byte_end"], 5);
        assert_eq!(value["code"], "E0101");
        assert_eq!(value["severity"], "error");
    }
}
