//! Runs the pipeline over the files of one invocation.
//!
//! Owns: which files a run reads, the order of stages, and the decision to
//! stop (after a stage that reported errors, later stages would only report
//! their consequences). Never prints: the CLI renders what comes back.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::source::{FileId, LoadError, SourceMap};
use crate::syntax::{self, ast::Ast};

/// The file extension envk reads when given a folder.
pub const EXTENSION: &str = ".env.k";

/// What one run produced: every file it read and every diagnostic.
pub struct Run {
    pub sources: SourceMap,
    pub files: Vec<(FileId, Ast)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Run {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Problems with the invocation itself rather than with the program: the
/// CLI reports them without source snippets and exits with 2.
#[derive(Debug)]
pub enum InputError {
    Load(LoadError),
    Walk {
        path: PathBuf,
        error: std::io::Error,
    },
    NoFiles {
        path: PathBuf,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Load(error) => error.fmt(f),
            InputError::Walk { path, error } => {
                write!(f, "cannot list `{}`: {error}", path.display())
            }
            InputError::NoFiles { path } => {
                write!(f, "no `*{EXTENSION}` files in `{}`", path.display())
            }
        }
    }
}

/// `envk check`: reads the files and folders given and checks them.
pub fn check(paths: &[PathBuf]) -> Result<Run, InputError> {
    let inputs = collect_inputs(paths)?;
    let mut sources = SourceMap::new();
    let mut ids = Vec::with_capacity(inputs.len());
    for path in &inputs {
        ids.push(sources.load(path).map_err(InputError::Load)?);
    }
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        let (ast, mut found) = syntax::parse(sources.file(id));
        diagnostics.append(&mut found);
        files.push((id, ast));
    }
    Ok(Run {
        sources,
        files,
        diagnostics,
    })
}

/// Files as given, and for each folder every `*.env.k` below it (hidden
/// folders skipped), sorted so that runs are deterministic. A file named
/// twice is read once.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut inputs = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| {
            InputError::Load(LoadError::Io {
                path: path.clone(),
                error,
            })
        })?;
        if metadata.is_dir() {
            let before = inputs.len();
            walk(path, &mut inputs)?;
            if inputs.len() == before {
                return Err(InputError::NoFiles { path: path.clone() });
            }
        } else {
            inputs.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    inputs.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    Ok(inputs)
}

fn walk(folder: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let walk_error = |error| InputError::Walk {
        path: folder.to_path_buf(),
        error,
    };
    let mut entries = std::fs::read_dir(folder)
        .map_err(walk_error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(walk_error)?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if name.ends_with(EXTENSION) {
            out.push(path);
        }
    }
    Ok(())
}
