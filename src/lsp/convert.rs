//! Between envk's byte offsets and the protocol's positions, paths and
//! URIs, and envk's diagnostics and the protocol's.
//!
//! Positions count UTF-16 code units within a line, the protocol's
//! default and the one every client supports; a position past the end of
//! its line or file is clamped to it, as the protocol asks.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Url,
};

use crate::diag::{Code, Diagnostic, Severity};
use crate::source::{STDLIB, SourceFile, SourceMap, Span};

/// The position of byte `offset` (local to `file`).
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let offset = offset.min(file.text().len());
    let line = file.line_index(offset);
    let start = file.line_range(line).start;
    let column: usize = file.text()[start..offset]
        .chars()
        .map(char::len_utf16)
        .sum();
    Position::new(line as u32, column as u32)
}

/// The local byte offset of `position` in `file`, clamped to its line.
pub fn offset(file: &SourceFile, position: Position) -> usize {
    let text = file.text();
    let Some(line) = line_bounds(file, position.line as usize) else {
        return text.len();
    };
    let mut units = 0u32;
    for (at, ch) in text[line.clone()].char_indices() {
        if units >= position.character || ch == '\n' || ch == '\r' {
            return line.start + at;
        }
        units += ch.len_utf16() as u32;
    }
    line.end
}

fn line_bounds(file: &SourceFile, line: usize) -> Option<std::ops::Range<usize>> {
    (line < file.line_count()).then(|| file.line_range(line))
}

/// The range of a global `span`, in the file it lies in.
pub fn range(sources: &SourceMap, span: Span) -> Range {
    let file = sources.file_of(span);
    let local = file.local(span);
    Range::new(position(file, local.start), position(file, local.end))
}

/// The URI a file of a run is shown at: its path, or for a stdlib module
/// a read-only copy written once per envk version.
pub fn uri(file: &SourceFile) -> Option<Url> {
    Url::from_file_path(path(file)?).ok()
}

/// The path a file of a run is read from, or its stdlib copy.
pub fn path(file: &SourceFile) -> Option<PathBuf> {
    if file.is_stdlib() {
        let module = file.name().trim_start_matches('<').trim_end_matches('>');
        return stdlib_copy(module);
    }
    Some(PathBuf::from(file.name()))
}

/// Where this version of envk keeps what it shows editors but does not
/// read back: the stdlib's sources and the codes' pages.
fn shown_folder() -> Option<&'static Path> {
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOLDER
        .get_or_init(|| {
            let folder = std::env::temp_dir().join(format!("envk-{}", env!("CARGO_PKG_VERSION")));
            let write = |relative: String, text: &str| -> std::io::Result<()> {
                let path = folder.join(relative);
                std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
                // Written beside and renamed, so that two servers starting
                // together never show a half-written file.
                let partial = path.with_extension(format!("{}.partial", std::process::id()));
                std::fs::write(&partial, text)?;
                std::fs::rename(&partial, &path)
            };
            let written = STDLIB
                .iter()
                .try_for_each(|(module, text)| write(format!("{module}.env.k"), text))
                .and_then(|()| {
                    Code::ALL.iter().try_for_each(|code| {
                        write(format!("codes/{}.md", code.as_str()), code.explanation())
                    })
                });
            match written {
                Ok(()) => Some(folder),
                Err(error) => {
                    eprintln!("envk lsp: cannot write the stdlib and codes' pages: {error}");
                    None
                }
            }
        })
        .as_deref()
}

fn stdlib_copy(module: &str) -> Option<PathBuf> {
    Some(shown_folder()?.join(format!("{module}.env.k")))
}

/// How a message names a file: its name without the folders (a stdlib
/// module as `<std/alerts>`).
pub fn short_name(file: &SourceFile) -> String {
    Path::new(file.name())
        .file_name()
        .map_or(file.name().to_string(), |name| {
            name.to_string_lossy().into_owned()
        })
}

/// The stdlib module a path is the copy of: `std/alerts`.
pub fn stdlib_module(path: &Path) -> Option<&'static str> {
    let folder = shown_folder()?;
    let relative = path.strip_prefix(folder).ok()?.to_str()?;
    let module = relative.strip_suffix(".env.k")?;
    STDLIB
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == module)
}

/// The page `envk explain CODE` prints, as a file the editor can open.
fn code_page(code: Code) -> Option<Url> {
    Url::from_file_path(shown_folder()?.join(format!("codes/{}.md", code.as_str()))).ok()
}

/// A location of a global span.
pub fn location(sources: &SourceMap, span: Span) -> Option<Location> {
    Some(Location::new(
        uri(sources.file_of(span))?,
        range(sources, span),
    ))
}

/// An envk diagnostic as the protocol's: the code with a link to its page,
/// the message with the primary label, notes and help under it, and each
/// secondary label as related information.
pub fn diagnostic(sources: &SourceMap, diagnostic: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = diagnostic.message.clone();
    if !diagnostic.primary.message.is_empty() {
        message.push_str(&format!("\n{}", diagnostic.primary.message));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .secondary
        .iter()
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: location(sources, label.span)?,
                message: if label.message.is_empty() {
                    "see here".to_string()
                } else {
                    label.message.clone()
                },
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: range(sources, diagnostic.primary.span),
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
        code_description: code_page(diagnostic.code).map(|href| CodeDescription { href }),
        source: Some("envk".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: diagnostic
            .help
            .as_ref()
            .map(|help| serde_json::json!({ "help": help })),
    }
}
