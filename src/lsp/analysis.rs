//! One program, checked: what every request reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsp_types::{Position, Url};

use crate::check::Goal;
use crate::driver::Run;
use crate::load::{self, Loader};
use crate::resolve::refs::DeclId;
use crate::resolve::refs::DeclKind;
use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Ast, Item, ItemKind, Name, StmtKind};

use super::convert;

/// A program's run, as of the document versions it read.
pub struct Analysis {
    pub run: Run,
    /// What the check made: diagnostics only (what publishing needs), or
    /// the Model too (what hover and inlay hints read).
    pub goal: Goal,
}

impl Analysis {
    /// The file of this program at `path` (by identity), stdlib copies
    /// included.
    pub fn file(&self, path: &Path) -> Option<&SourceFile> {
        if let Some(module) = convert::stdlib_module(path) {
            let name = format!("<{module}>");
            return self.run.sources.files().find(|file| file.name() == name);
        }
        self.run
            .sources
            .files()
            .find(|file| !file.is_stdlib() && super::identity(Path::new(file.name())) == path)
    }

    /// The parsed tree of a file.
    pub fn ast(&self, file: &SourceFile) -> Option<&Ast> {
        self.run
            .files
            .iter()
            .find(|(id, _)| *id == file.id())
            .map(|(_, ast)| ast)
    }

    /// The global offset of a position in `file`.
    pub fn offset(&self, file: &SourceFile, position: Position) -> u32 {
        file.base() + convert::offset(file, position) as u32
    }

    /// The declarations the name at a global offset refers to, or names.
    /// An offset just past a name (the cursor after its last letter)
    /// counts as in it.
    pub fn decls_at(&self, offset: u32) -> Vec<DeclId> {
        let found = self.run.references.at(offset);
        if found.is_empty() && offset > 0 {
            return self.run.references.at(offset - 1);
        }
        found
    }

    /// Every file of the program that is not a stdlib module, by path.
    pub fn user_files(&self) -> impl Iterator<Item = (PathBuf, &SourceFile)> {
        self.run
            .sources
            .files()
            .filter(|file| !file.is_stdlib())
            .map(|file| (super::identity(Path::new(file.name())), file))
    }

    /// The source text of a global span.
    pub fn text(&self, span: Span) -> &str {
        self.run.sources.snippet(span)
    }
}

impl Analysis {
    /// The program's diagnostics as the protocol's, by file; every file
    /// it reads has an entry, empty when it has none.
    pub fn diagnostics(&self) -> BTreeMap<Url, Vec<lsp_types::Diagnostic>> {
        let sources = &self.run.sources;
        let mut by_file: BTreeMap<Url, Vec<lsp_types::Diagnostic>> = self
            .run
            .sources
            .files()
            .filter(|file| !file.is_stdlib())
            .filter_map(convert::uri)
            .map(|url| (url, Vec::new()))
            .collect();
        for diagnostic in &self.run.diagnostics {
            let Some(url) = convert::uri(sources.file_of(diagnostic.primary.span)) else {
                continue;
            };
            by_file
                .entry(url)
                .or_default()
                .push(convert::diagnostic(sources, diagnostic));
        }
        by_file
    }

    /// What each file of the program imports now, by identity.
    pub fn imports(&self, loader: &dyn Loader) -> Vec<(PathBuf, Vec<PathBuf>)> {
        self.run
            .files
            .iter()
            .map(|(id, ast)| (self.run.sources.file(*id), ast))
            .filter(|(file, _)| !file.is_stdlib())
            .map(|(file, ast)| {
                let path = super::identity(Path::new(file.name()));
                let imports = load::file_imports(&path, ast, loader);
                (path, imports)
            })
            .collect()
    }
}

impl Analysis {
    /// The file an `import` at a global offset names, as a location at its
    /// start.
    pub fn import_at(&self, file: &SourceFile, offset: u32) -> Option<lsp_types::Location> {
        let ast = self.ast(file)?;
        let import = ast.items.iter().find_map(|item| match &item.kind {
            ItemKind::Import(import)
                if import.path.span.start <= offset && offset <= import.path.span.end =>
            {
                Some(import)
            }
            _ => None,
        })?;
        let target = import.path.as_plain()?;
        let imported = load::import_path(&target, Path::new(file.name()))?;
        let path = match imported {
            load::Imported::File(path) => path,
            load::Imported::Std(module) => {
                let name = format!("<{module}>");
                convert::path(self.run.sources.files().find(|file| file.name() == name)?)?
            }
        };
        let start = lsp_types::Position::new(0, 0);
        Some(lsp_types::Location::new(
            Url::from_file_path(path).ok()?,
            lsp_types::Range::new(start, start),
        ))
    }
}

/// The run of characters around local byte `at` of `text`: those before
/// it for which `before` holds, and those from it for which `after` does.
pub fn run_around(
    text: &str,
    at: usize,
    before: impl Fn(char) -> bool,
    after: impl Fn(char) -> bool,
) -> std::ops::Range<usize> {
    let start = text[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| before(c))
        .last()
        .map_or(at, |(index, _)| index);
    let end = at
        + text[at..]
            .char_indices()
            .find(|&(_, c)| !after(c))
            .map_or(text.len() - at, |(index, _)| index);
    start..end
}

/// An env family (`env payments { stage dev … }`): a name that declares
/// no namespace itself, but one per stage, `payments-dev`, ….
pub struct Family {
    pub name: String,
    /// Where its name is written.
    pub span: Span,
    /// Its stages' envs, in the order written, one per cluster of each.
    pub stages: Vec<(DeclId, String)>,
}

impl Analysis {
    /// The family whose name is written at a global offset.
    pub fn family_at(&self, file: &SourceFile, offset: u32) -> Option<Family> {
        let ast = self.ast(file)?;
        let env = family_named_at(&ast.items, offset)?;
        let name = match &env.name {
            Name::Ident(ident) => ident.text.clone(),
            Name::Str(string) => string.as_plain()?,
        };
        let stage_spans: Vec<(Span, String)> = env
            .body
            .stmts
            .iter()
            .filter_map(|stmt| match &stmt.kind {
                StmtKind::Stage(stage) => {
                    Some((stage.name.span(), self.text(stage.name.span()).to_string()))
                }
                _ => None,
            })
            .collect();
        let stages = self
            .run
            .references
            .decls()
            .filter(|(_, decl)| decl.kind == DeclKind::Env)
            .filter_map(|(id, decl)| {
                let (_, stage) = stage_spans.iter().find(|(span, _)| *span == decl.span)?;
                Some((id, stage.clone()))
            })
            .collect();
        Some(Family {
            name,
            span: env.name.span(),
            stages,
        })
    }
}

fn family_named_at(items: &[Item], offset: u32) -> Option<&crate::syntax::ast::Env> {
    items.iter().find_map(|item| match &item.kind {
        ItemKind::Env(env)
            if env.placement.is_none()
                && env.name.span().start <= offset
                && offset <= env.name.span().end =>
        {
            Some(env)
        }
        ItemKind::For(each) => family_named_at(&each.items, offset),
        ItemKind::If(chain) => chain
            .branches()
            .find_map(|items| family_named_at(items, offset)),
        _ => None,
    })
}
