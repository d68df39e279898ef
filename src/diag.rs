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

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
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
    E0211 => Error, "let inside a for loop or an if";
    E0212 => Error, "unknown field of a record";
    E0213 => Error, "list elements of different shapes";
    E0214 => Error, "condition that does not type-check";
    E0215 => Warning, "branch never taken";
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
    E0403 => Error, "limit range above the quota";
    E0404 => Error, "quota above the tier's ceiling";
    E0405 => Error, "cluster over-committed";
    E0406 => Error, "env without the quota a check needs";
    E0407 => Error, "tier raises the ceiling or budget of the tier it extends";
    E0408 => Error, "env over its tier's budget";
    E0501 => Error, "unknown resource";
    E0502 => Error, "unknown verb";
    E0503 => Error, "grant of an unknown role";
    E0504 => Error, "verb forbidden by the tier";
    E0505 => Error, "resource forbidden by the tier";
    E0506 => Error, "wildcard forbidden by the tier";
    E0507 => Error, "cluster-wide resource in a namespaced role";
    E0508 => Error, "invalid grant";
    E0509 => Warning, "verb the resource does not serve";
    E0510 => Error, "escalating cluster-wide grant on a production cluster";
    E0511 => Error, "grant that lets people change what envk writes";
    E0601 => Warning, "network selector that matches no env";
    E0602 => Error, "ingress from an environment the tier does not accept";
    E0603 => Error, "DNS egress both allowed and denied";
    E0604 => Warning, "restricted env without a network policy (retired)";
    E0605 => Error, "env open to every namespace (retired)";
    E0606 => Error, "network peer on another cluster";
    E0607 => Warning, "network rule the other end does not admit";
    E0608 => Error, "metrics port that is not TCP";
    E0609 => Warning, "metrics ports no Prometheus can reach";
    E0701 => Error, "invalid PromQL";
    E0702 => Error, "alert not scoped to its namespace";
    E0703 => Error, "required alert missing";
    E0704 => Error, "unknown alert parameter";
    E0705 => Error, "alert parameter of the wrong type";
    E0706 => Error, "alert parameter without a value";
    E0707 => Error, "unknown parameter type";
    E0708 => Error, "two alert rules with the same name and labels";
    E0709 => Warning, "alert reads series its cluster does not scrape";
    E0710 => Warning, "alert template that envk cannot test";
    E0711 => Error, "secret written in the program";
    E0712 => Error, "two routes with the same matchers";
    E0713 => Error, "alert that reaches no receiver";
    E0714 => Error, "route matcher envk cannot route by";
    E0715 => Warning, "route that takes no alert";
    E0801 => Error, "env on a cluster of the wrong environment";
    E0802 => Error, "Argo CD project across environments";
    E0803 => Error, "deploy repo is not an https URL";
    E0804 => Error, "invalid deploy path or revision";
    E0805 => Error, "Argo CD project shared by two teams";
    E0806 => Warning, "Application that creates its namespace beside a gitops block";
    E0807 => Error, "Application that creates its namespace in a project across clusters";
    E0901 => Error, "policy violated";
    E0902 => Error, "unknown name or field in a policy";
    E0903 => Error, "policy that does not type-check";
    E0904 => Error, "invalid pattern in a policy";
    E0905 => Warning, "waiver that matches no violation";
    E0906 => Error, "waiver for a kind of object the policy never reports on";
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
    /// The expansions of shared source (a `let`, a `for` body, a family, a
    /// template) this diagnostic was reached in: one, the declaration being
    /// checked, where the stage knew it; several once [`group`] has folded
    /// the same mistake reached by several of them into one report.
    pub instances: Vec<Instance>,
}

/// One expansion a diagnostic was reached in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// What was being checked: `env`, `role`, …; `None` where the stage did
    /// not say (a name made by a `for` loop, say).
    pub kind: Option<&'static str>,
    pub name: Option<String>,
    /// The elements of the `for` loops the declaration was made in, as
    /// written there: `` `team` = { name = "search" … } ``.
    pub element: Option<String>,
    /// The message as this expansion gave it.
    pub message: String,
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
            instances: Vec::new(),
        }
    }

    /// Says which declaration (`kind` `name`, such as env `a-dev`) was
    /// being checked when this was found, unless that is already said.
    pub fn reached_in(&mut self, kind: &'static str, name: &str) {
        self.reached_in_element(kind, name, None);
    }

    /// `reached_in`, for a declaration a `for` loop made from `element`.
    pub fn reached_in_element(&mut self, kind: &'static str, name: &str, element: Option<&str>) {
        if self.instances.is_empty() {
            self.instances.push(Instance {
                kind: Some(kind),
                name: Some(name.to_string()),
                element: element.map(str::to_string),
                message: self.message.clone(),
            });
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

/// Folds the diagnostics that one mistake in shared source gives in each
/// of its expansions into one report.
///
/// A `let`, a `for` body, an env family or a template is checked once per
/// env, role, … that uses it, and a mistake in it is found once per use.
/// Those findings are one report when they have the same code, severity
/// and primary span, and messages that are the same once the values
/// quoted in them (the env's name among them) are set aside: the first's
/// message is kept, with one note listing the instances and the values
/// that differ. Findings of one declaration that differ are distinct
/// mistakes and stay apart; exact repeats are dropped. Order is that of
/// each report's first finding.
pub fn group(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    use std::collections::HashMap;
    // Every finding folded into each report, its first one first.
    let mut reports: Vec<Vec<Diagnostic>> = Vec::with_capacity(diagnostics.len());
    // The reports of each key: several when one declaration made
    // different mistakes there (two policies broken at one line), each of
    // which other expansions may repeat.
    let mut by_key: HashMap<(Code, Severity, Span, String), Vec<usize>> = HashMap::new();
    'findings: for diagnostic in diagnostics {
        let key = (
            diagnostic.code,
            diagnostic.severity,
            diagnostic.primary.span,
            skeleton(&diagnostic.message),
        );
        let candidates = by_key.entry(key).or_default();
        for &at in candidates.iter() {
            let found = &mut reports[at];
            if found.iter().any(|other| other.same_finding_as(&diagnostic)) {
                continue 'findings;
            }
        }
        // The same mistake reached in another expansion: no finding of the
        // report is from its declaration; of several such reports, the one
        // whose message is this one's but for the expansion's name.
        let open: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&at| {
                reports[at]
                    .iter()
                    .all(|other| other.is_another_expansion(&diagnostic))
            })
            .collect();
        let chosen = open
            .iter()
            .copied()
            .find(|&at| reports[at][0].is_same_mistake_as(&diagnostic))
            .or(open.first().copied());
        if let Some(at) = chosen {
            reports[at].push(diagnostic);
            continue 'findings;
        }
        // A second, different mistake of one declaration: reported on
        // its own.
        candidates.push(reports.len());
        reports.push(vec![diagnostic]);
    }
    reports.into_iter().map(fold).collect()
}

impl Diagnostic {
    /// The declaration this was reached in, where the stage said.
    fn declaration(&self) -> Option<(&'static str, &str)> {
        let instance = self.instances.first()?;
        Some((instance.kind?, instance.name.as_deref()?))
    }

    fn same_finding_as(&self, other: &Diagnostic) -> bool {
        (self.declaration() == other.declaration()
            || self.declaration().is_none()
            || other.declaration().is_none())
            && self.message == other.message
    }

    /// Whether two findings from different expansions can be one mistake:
    /// with several reports for a key, the one whose message differs from
    /// this one's in no more values than its instances' names.
    fn is_same_mistake_as(&self, other: &Diagnostic) -> bool {
        let (Some((_, mine)), Some((_, theirs))) = (self.declaration(), other.declaration()) else {
            return true;
        };
        self.message.replace(mine, "\u{0}") == other.message.replace(theirs, "\u{0}")
    }

    /// Whether `other` is this mistake reached in another expansion: from
    /// another declaration, or, where no declaration is known, with other
    /// values.
    fn is_another_expansion(&self, other: &Diagnostic) -> bool {
        match (self.declaration(), other.declaration()) {
            (Some(mine), Some(theirs)) => mine != theirs,
            _ => self.message != other.message,
        }
    }
}

/// The one report of the findings `found` of one mistake: the first of
/// them, saying in which expansions it was reached.
fn fold(found: Vec<Diagnostic>) -> Diagnostic {
    if found.len() == 1 {
        let mut report = found.into_iter().next().expect("one finding");
        match report.instances.first() {
            // Reached in one expansion of a loop: which element made it.
            Some(Instance {
                element: Some(element),
                ..
            }) => {
                let note = format!("in {element}");
                report.notes.push(note);
            }
            Some(_) => {}
            None => report.instances.push(Instance {
                kind: None,
                name: None,
                element: None,
                message: report.message.clone(),
            }),
        }
        return report;
    }
    let count = found.len();
    let kind = found[0].declaration().map(|(kind, _)| kind);
    let same_kind = found
        .iter()
        .all(|finding| finding.declaration().map(|(kind, _)| kind) == kind);
    let mut note = match kind {
        Some(kind) if same_kind => {
            let names: Vec<String> = found
                .iter()
                .filter_map(Diagnostic::declaration)
                .map(|(_, name)| name.to_string())
                .collect();
            format!("in {count} {kind}s: {}", listed(&names))
        }
        _ => format!("in {count} expansions"),
    };
    // The quoted values that differ, but for each finding's own name.
    let messages: Vec<Vec<&str>> = found.iter().map(|f| quoted(&f.message)).collect();
    if messages
        .iter()
        .all(|quotes| quotes.len() == messages[0].len())
    {
        for position in 0..messages[0].len() {
            let values: Vec<&str> = messages.iter().map(|quotes| quotes[position]).collect();
            let own_names = found.iter().zip(&values).all(|(finding, value)| {
                finding
                    .declaration()
                    .is_some_and(|(_, name)| name == *value)
            });
            if own_names || values.iter().all(|value| *value == values[0]) {
                continue;
            }
            let shown: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
            note.push_str(&format!(", where it reads {}", listed(&shown)));
            break;
        }
    }
    // A label or help that differs between expansions would be wrong for
    // all but the first: each is said for the expansions it is right for,
    // or, where they have no names, with the values that differ left out.
    let named = found.iter().all(|finding| finding.declaration().is_some());
    let label = found
        .iter()
        .any(|finding| finding.primary.message != found[0].primary.message)
        .then(|| match found[0].declaration() {
            Some((_, name)) if named => format!("{} (in {name})", found[0].primary.message),
            _ => common_text(found.iter().map(|f| f.primary.message.as_str())),
        });
    let help = found
        .iter()
        .any(|finding| finding.help != found[0].help)
        .then(|| {
            let helps: Vec<&str> = found
                .iter()
                .map(|finding| finding.help.as_deref().unwrap_or(""))
                .collect();
            if named {
                per_expansion(&found, &helps)
            } else {
                common_text(helps.into_iter())
            }
        });
    let instances = found
        .iter()
        .map(|finding| {
            let (kind, name) = finding.declaration().unzip();
            Instance {
                kind,
                name: name.map(str::to_string),
                element: finding
                    .instances
                    .first()
                    .and_then(|instance| instance.element.clone()),
                message: finding.message.clone(),
            }
        })
        .collect();
    let mut report = found.into_iter().next().expect("several findings");
    report.notes.push(note);
    if let Some(label) = label {
        report.primary.message = label;
    }
    if help.is_some() {
        report.help = help;
    }
    report.instances = instances;
    report
}

/// How many expansions, or texts, a note or help names before it says
/// how many more there are.
const SHOWN: usize = 3;

/// Each distinct text with the expansions it is said for, one a line:
/// "in a and b: …"; past three, how many more there are.
fn per_expansion(found: &[Diagnostic], texts: &[&str]) -> String {
    let mut distinct: Vec<(&str, Vec<String>)> = Vec::new();
    for (finding, text) in found.iter().zip(texts) {
        let name = finding
            .declaration()
            .map_or(String::new(), |(_, name)| name.to_string());
        match distinct.iter_mut().find(|(seen, _)| seen == text) {
            Some((_, names)) => names.push(name),
            None => distinct.push((text, vec![name])),
        }
    }
    let mut lines: Vec<String> = distinct
        .iter()
        .take(SHOWN)
        .map(|(text, names)| format!("in {}: {text}", listed(names)))
        .collect();
    if distinct.len() > SHOWN {
        lines.push(format!(
            "and alike in the {} other expansions",
            distinct[SHOWN..]
                .iter()
                .map(|(_, names)| names.len())
                .sum::<usize>()
        ));
    }
    lines.join("\n")
}

/// "a, b and c", or "a, b, c and 25 more".
fn listed(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n if n <= SHOWN => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
        n => format!("{} and {} more", items[..SHOWN].join(", "), n - SHOWN),
    }
}

/// The backtick-quoted values of a message, in order.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A message with its quoted values taken out: what findings of one
/// mistake in several expansions have in common.
fn skeleton(text: &str) -> String {
    text.split('`').step_by(2).collect::<Vec<_>>().join("`…`")
}

/// The first text, with each quoted value that is not the same in all of
/// them written `…`; the first text as it is when their shapes differ.
fn common_text<'t>(mut texts: impl Iterator<Item = &'t str>) -> String {
    let first = texts.next().unwrap_or_default();
    let mut parts: Vec<&str> = first.split('`').collect();
    for text in texts {
        let other: Vec<&str> = text.split('`').collect();
        if other.len() != parts.len() {
            return first.to_string();
        }
        for (index, part) in parts.iter_mut().enumerate() {
            if *part != other[index] {
                if index % 2 == 0 {
                    return first.to_string();
                }
                *part = "…";
            }
        }
    }
    parts.join("`")
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
            "instances": diagnostic.instances.iter().map(|instance| serde_json::json!({
                "kind": instance.kind,
                "name": instance.name,
                "message": instance.message,
            })).collect::<Vec<_>>(),
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

    fn found(span: Span, message: &str, help: &str, env: Option<&str>) -> Diagnostic {
        let mut diagnostic = Diagnostic::new(Code::E0302, span, message).help(help);
        if let Some(env) = env {
            diagnostic.reached_in("env", env);
        }
        diagnostic
    }

    #[test]
    fn one_mistake_in_several_expansions_is_one_report() {
        let mut sources = SourceMap::new();
        let id = sources.add("a.env.k", "abcdefghij");
        let (here, there) = (sources.file(id).span(0..2), sources.file(id).span(4..6));
        let grouped = group(vec![
            found(
                here,
                "unknown `x` in env `a`",
                "did you mean `y`?",
                Some("a"),
            ),
            found(there, "elsewhere", "h", Some("a")),
            found(
                here,
                "unknown `x` in env `b`",
                "did you mean `y`?",
                Some("b"),
            ),
            // The same finding again, and a second mistake of `a` at the
            // same place: dropped, and kept apart.
            found(
                here,
                "unknown `x` in env `b`",
                "did you mean `y`?",
                Some("b"),
            ),
            found(
                here,
                "unknown `z` in env `a`",
                "did you mean `w`?",
                Some("a"),
            ),
            found(
                here,
                "unknown `x` in env `c`",
                "did you mean `y`?",
                Some("c"),
            ),
            found(
                here,
                "unknown `x` in env `d`",
                "did you mean `y`?",
                Some("d"),
            ),
        ]);
        let messages: Vec<&str> = grouped.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unknown `x` in env `a`",
                "elsewhere",
                "unknown `z` in env `a`"
            ]
        );
        assert_eq!(grouped[0].notes, ["in 4 envs: a, b, c and 1 more"]);
        assert_eq!(grouped[0].help.as_deref(), Some("did you mean `y`?"));
        let names: Vec<&str> = grouped[0]
            .instances
            .iter()
            .map(|i| i.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert!(grouped[1].notes.is_empty() && grouped[2].notes.is_empty());
    }

    #[test]
    fn values_that_differ_are_listed_and_left_out_of_the_help() {
        let mut sources = SourceMap::new();
        let id = sources.add("a.env.k", "abcdefghij");
        let here = sources.file(id).span(0..2);
        let grouped = group(vec![
            found(here, "`s-x` is invalid", "write `s-y`", None),
            found(here, "`c-x` is invalid", "write `c-y`", None),
            found(here, "`s-x` is invalid", "write `s-y`", None),
        ]);
        assert_eq!(grouped.len(), 1);
        assert_eq!(
            grouped[0].notes,
            ["in 2 expansions, where it reads `s-x` and `c-x`"]
        );
        assert_eq!(grouped[0].help.as_deref(), Some("write `…`"));
        assert_eq!(grouped[0].instances.len(), 2);
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
