//! Source files, their ids and spans.
//!
//! Owns: every byte of input text a run sees, and the mapping from a span to
//! file, line and column. `SourceMap::load` reads a file from disk for
//! `fmt`; the other modules that touch the file system are `driver`
//! (listing folders), `load` (its `FileSystem` loader), `output` and
//! `main.rs`'s `fmt` (writing), and `timings` (reading the process's
//! resident memory). Every stage between reads memory only.
//!
//! Spans are global byte offsets, as in rustc's `SourceMap`: each file gets a
//! base offset, so a `Span` is two `u32`s and still knows its file. Line
//! lookups binary-search a table of line starts built once per file, so a
//! diagnostic in a 100,000-line file costs a logarithm, not a scan.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in the whole `SourceMap` (not in one file).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Span {
        debug_assert!(start <= end, "span {start}..{end} is reversed");
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn len(self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FileId(u32);

/// The standard library, written in the language itself and embedded so that
/// diagnostics can point into it. Imported as `import "std/alerts"`.
pub const STDLIB: &[(&str, &str)] = &[
    ("std/alerts", include_str!("../stdlib/alerts.env.k")),
    ("std/roles", include_str!("../stdlib/roles.env.k")),
    ("std/resources", include_str!("../stdlib/resources.env.k")),
    ("std/policies", include_str!("../stdlib/policies.env.k")),
];

pub struct SourceFile {
    id: FileId,
    /// What diagnostics show: the path as the user gave it, or `<std/alerts>`.
    /// Shared, not copied, by the Model's every `Source` in the file.
    name: std::sync::Arc<str>,
    text: String,
    /// Global offset of the first byte.
    base: u32,
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn id(&self) -> FileId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a module of the standard library (`<std/roles>`),
    /// which a program cannot edit.
    pub fn is_stdlib(&self) -> bool {
        self.name.starts_with("<std/")
    }

    /// The name, shared.
    pub fn shared_name(&self) -> std::sync::Arc<str> {
        self.name.clone()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn base(&self) -> u32 {
        self.base
    }

    /// The global span of the local byte range `range`.
    pub fn span(&self, range: Range<usize>) -> Span {
        Span::new(self.base + range.start as u32, self.base + range.end as u32)
    }

    /// The local byte range of a span that lies in this file.
    pub fn local(&self, span: Span) -> Range<usize> {
        (span.start - self.base) as usize..(span.end - self.base) as usize
    }

    /// Zero-based line index of a local byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&(offset as u32)) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// How many lines the file has: one more than its line breaks.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Local byte range of a line, without its line break.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.line_starts[line] as usize;
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next as usize);
        let text = &self.text[start..end];
        let trimmed = text.trim_end_matches(['\n', '\r']);
        start..start + trimmed.len()
    }

    /// One-based line and column (in characters) of a local byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_index(offset);
        let start = self.line_starts[line] as usize;
        let offset = offset.min(self.text.len());
        let column = self.text[start..offset].chars().count();
        (line + 1, column + 1)
    }
}

/// Every file of a run. Files are only ever added, so ids and spans stay valid.
#[derive(Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// Spans are `u32`; a run may hold at most this many bytes of source.
const MAX_TOTAL_BYTES: u64 = u32::MAX as u64 - 1;

#[derive(Debug)]
pub enum LoadError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    NotUtf8 {
        path: PathBuf,
        valid_up_to: usize,
    },
    TooLarge {
        path: PathBuf,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, error } => {
                write!(f, "cannot read `{}`: {}", path.display(), io_reason(error))
            }
            LoadError::NotUtf8 { path, valid_up_to } => write!(
                f,
                "cannot read `{}`: it is not UTF-8 text (invalid byte at offset {valid_up_to})",
                path.display()
            ),
            LoadError::TooLarge { path } => write!(
                f,
                "cannot read `{}`: the sources of one run are limited to 4 GiB",
                path.display()
            ),
        }
    }
}

/// `std::io::Error`'s Display adds "(os error 2)"; users want the reason.
pub(crate) fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file or directory".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    }
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file whose text is already in memory (tests, stdlib, stdin).
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let base = self.next_base();
        let id = FileId(self.files.len() as u32);
        let mut line_starts = vec![0u32];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|at| at as u32 + 1));
        self.files.push(SourceFile {
            id,
            name: name.into().into(),
            text,
            base,
            line_starts,
        });
        id
    }

    /// Reads a file from disk. The name shown in diagnostics is `path` as given.
    pub fn load(&mut self, path: &Path) -> Result<FileId, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        self.add_bytes(path, bytes)
    }

    /// Adds a file read by some loader; `path` names it in diagnostics.
    pub fn add_bytes(&mut self, path: &Path, bytes: Vec<u8>) -> Result<FileId, LoadError> {
        if self.next_base() as u64 + bytes.len() as u64 >= MAX_TOTAL_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|error| LoadError::NotUtf8 {
            path: path.to_path_buf(),
            valid_up_to: error.utf8_error().valid_up_to(),
        })?;
        Ok(self.add(path.display().to_string(), text))
    }

    /// Adds an embedded stdlib module, named `<std/NAME>` in diagnostics.
    pub fn add_stdlib(&mut self, module: &str) -> Option<FileId> {
        let (name, text) = STDLIB.iter().find(|(name, _)| *name == module)?;
        Some(self.add(format!("<{name}>"), *text))
    }

    /// The next file starts one past the end of the last, so that an empty
    /// span at the end of a file never belongs to the next one.
    fn next_base(&self) -> u32 {
        self.files
            .last()
            .map_or(0, |file| file.base + file.text.len() as u32 + 1)
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// The file a span lies in.
    pub fn file_of(&self, span: Span) -> &SourceFile {
        let index = match self
            .files
            .binary_search_by_key(&span.start, |file| file.base)
        {
            Ok(index) => index,
            Err(next) => next - 1,
        };
        &self.files[index]
    }

    /// The source text of a span.
    pub fn snippet(&self, span: Span) -> &str {
        let file = self.file_of(span);
        &file.text[file.local(span)]
    }
}

impl<'a> codespan_reporting::files::Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.file(id).name)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.file(id).text)
    }

    fn line_index(
        &'a self,
        id: FileId,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.file(id).line_index(byte_index))
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<Range<usize>, codespan_reporting::files::Error> {
        let file = self.file(id);
        if line_index >= file.line_starts.len() {
            // codespan asks for the line after the last one to place
            // end-of-file carets; it is empty.
            let end = file.text.len();
            return Ok(end..end);
        }
        let start = file.line_starts[line_index] as usize;
        let end = file
            .line_starts
            .get(line_index + 1)
            .map_or(file.text.len(), |&next| next as usize);
        Ok(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_back_to_their_file_line_and_column() {
        let mut map = SourceMap::new();
        let a = map.add("a.env.k", "one\ntwo\n");
        let b = map.add("b.env.k", "x\n  yé z");
        let file_b = map.file(b);
        let z = file_b.text().find('z').unwrap();
        let span = file_b.span(z..z + 1);
        assert_eq!(map.file_of(span).id(), b);
        assert_eq!(map.snippet(span), "z");
        assert_eq!(file_b.line_col(z), (2, 6));
        let file_a = map.file(a);
        assert_eq!(map.file_of(file_a.span(8..8)).id(), a, "end of file a");
        assert_eq!(file_a.line_col(4), (2, 1));
        assert_eq!(file_a.line_range(1), 4..7);
    }

    #[test]
    fn line_lookup_is_logarithmic_on_a_large_file() {
        let text = "x = 1\n".repeat(100_000);
        let mut map = SourceMap::new();
        let id = map.add("big.env.k", text);
        let file = map.file(id);
        assert_eq!(file.line_col(6 * 99_999 + 2), (100_000, 3));
    }
}
