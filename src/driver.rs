//! Runs the pipeline over the files of one invocation.
//!
//! Owns: which files a run reads, the order of stages, and the decision to
//! stop (after a stage that reported errors, later stages would only report
//! their consequences). Never prints: the CLI renders what comes back.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use foldhash::HashMap;

use crate::check::{self as checker, Goal};
use crate::diag::Diagnostic;
use crate::load::{self, FileSystem, Loader};
use crate::model::Model;
use crate::resolve::refs::References;
use crate::source::{FileId, LoadError, SourceFile, SourceMap};
use crate::syntax::ast::Ast;
use crate::timings::{Phase, Timings};
use crate::{resolve, syntax};

/// The file extension envk reads when given a folder.
pub const EXTENSION: &str = ".env.k";

/// What one run produced: every file it read, every diagnostic, and the
/// Model when the program has no errors.
pub struct Run {
    pub sources: SourceMap,
    pub files: Vec<(FileId, Ast)>,
    /// The files whose parse gave diagnostics.
    pub unparsed: Vec<FileId>,
    pub diagnostics: Vec<Diagnostic>,
    pub model: Option<Model>,
    /// How each policy fared, also when a violation leaves no Model.
    pub policies: Vec<crate::model::PolicyOutcome>,
    /// Every declaration and the names bound to it (empty when the program
    /// did not parse: names are bound only in a whole tree).
    pub references: References,
    pub timings: Timings,
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

/// Reads the files and folders given, and everything they import, as one
/// program, and checks it.
pub fn check(paths: &[PathBuf]) -> Result<Run, InputError> {
    run(paths, Goal::Model, Memory::Free)
}

/// `check`, for a run that only reports: the same diagnostics, and no
/// Model (`Run::model` is None); what only the Model needs is not computed.
pub fn diagnose(paths: &[PathBuf]) -> Result<Run, InputError> {
    run(paths, Goal::Diagnostics, Memory::Free)
}

/// `check` or `diagnose`, with the checker's facts freed or left to the
/// process exit: the CLI's entry.
pub fn run(paths: &[PathBuf], goal: Goal, memory: Memory) -> Result<Run, InputError> {
    let inputs = collect_inputs(paths)?;
    check_inputs(&inputs, &FileSystem, goal, memory, Parses::default())
}

/// Checks the program made of `roots` and their imports, read by `loader`.
/// Stops after syntax errors (resolving a broken tree would only report
/// their consequences) and after name errors that leave nothing to type.
pub fn check_with(roots: &[PathBuf], loader: &dyn Loader) -> Result<Run, InputError> {
    check_inputs(roots, loader, Goal::Model, Memory::Free, Parses::default())
}

/// `check_with`, for a given goal and memory policy, re-parsing only what
/// changed since `parses` were made: the language server's entry, which
/// reads open buffers over the disk.
pub fn run_with(
    roots: &[PathBuf],
    loader: &dyn Loader,
    goal: Goal,
    memory: Memory,
    parses: Parses,
) -> Result<Run, InputError> {
    check_inputs(roots, loader, goal, memory, parses)
}

/// The trees of an earlier run of a program, for the next run of it to
/// parse again only the items an edit changed ([`syntax::reparse`]).
/// The language server's, at each edit: at N = 1000 a whole parse is a
/// third of a check.
#[derive(Default)]
pub struct Parses {
    sources: SourceMap,
    trees: HashMap<LoadedAs, (FileId, Ast)>,
}

/// The name a file was loaded under (its path as given or imported, or
/// `<std/…>`): the same in two runs of one program.
#[derive(PartialEq, Eq, Hash)]
struct LoadedAs(String);

impl Parses {
    /// Takes the sources and trees of `run`, leaving it fit only to be
    /// dropped; a tree whose parse gave diagnostics is not kept.
    pub fn take(run: &mut Run) -> Parses {
        let sources = std::mem::take(&mut run.sources);
        let trees = std::mem::take(&mut run.files)
            .into_iter()
            .filter(|(id, _)| !run.unparsed.contains(id))
            .map(|(id, ast)| (LoadedAs(sources.file(id).name().to_string()), (id, ast)))
            .collect();
        Parses { sources, trees }
    }

    /// `file` parsed, from its earlier tree where there is one.
    fn parse(&mut self, file: &SourceFile) -> (Ast, Vec<Diagnostic>) {
        match self.trees.remove(&LoadedAs(file.name().to_string())) {
            Some((id, ast)) => {
                let old = self.sources.file(id);
                let earlier = syntax::Earlier {
                    text: old.text(),
                    base: old.base(),
                    ast,
                };
                syntax::reparse(earlier, file)
            }
            None => syntax::parse(file),
        }
    }
}

/// The programs among the files and folders given (`envk check
/// --programs`): the roots of [`load::Programs`], each of which, with
/// what it imports, is one program, the rule the language server finds a
/// file's program by.
pub fn programs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let inputs = collect_inputs(paths)?;
    Ok(load::Programs::discover(&inputs, &FileSystem).roots())
}

/// What becomes of what a run no longer needs (the checker's facts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Memory {
    /// Freed: a process that goes on (tests, the fuzzer, an editor's
    /// server), where memory left behind would pile up run after run.
    Free,
    /// Left to the process exit ([`leave_to_exit`]): the CLI, which exits
    /// once it has printed or written.
    LeaveToExit,
}

fn check_inputs(
    roots: &[PathBuf],
    loader: &dyn Loader,
    goal: Goal,
    memory: Memory,
    mut parses: Parses,
) -> Result<Run, InputError> {
    let mut sources = SourceMap::new();
    let mut timings = Timings::default();
    // Files are read and parsed in turn (a file's imports are known once it
    // is parsed): the time parsing takes is the parse phase, the rest of
    // loading (reading, the stdlib, the import graph) the load phase, and
    // the memory is noted once both end.
    let mut parsing = Duration::ZERO;
    let started = Instant::now();
    let mut unparsed = Vec::new();
    let loaded = load::program(roots, loader, &mut sources, &mut |file| {
        let start = Instant::now();
        let parsed = parses.parse(file);
        parsing += start.elapsed();
        if !parsed.1.is_empty() {
            unparsed.push(file.id());
        }
        parsed
    });
    // The earlier trees no file of this run took: the files they were of
    // left the program.
    drop(parses);
    timings.add(Phase::Parse, parsing);
    timings.add(Phase::Load, started.elapsed().saturating_sub(parsing));
    let (program, mut diagnostics) = loaded.map_err(InputError::Load)?;
    timings.record_resident(Phase::Parse);
    let mut model = None;
    let mut policies = Vec::new();
    let mut references = References::default();
    if !diagnostics.iter().any(Diagnostic::is_error) {
        let mut resolved = timings.phase(Phase::Resolve, || {
            resolve::resolve(&program, &mut diagnostics)
        });
        let checked = timings.phase(Phase::Check, || {
            checker::check(&resolved, &sources, goal, &mut diagnostics)
        });
        let expanded = checked.expanded;
        policies = checked.policies;
        match memory {
            Memory::Free => drop(checked.facts),
            Memory::LeaveToExit => leave_to_exit(checked.facts),
        }
        if !diagnostics.iter().any(Diagnostic::is_error) {
            model = checked.model;
        }
        references = std::mem::take(&mut resolved.refs);
        references.expand(expanded);
    }
    let diagnostics = crate::diag::group(diagnostics);
    Ok(Run {
        sources,
        files: program.files,
        unparsed,
        diagnostics,
        model,
        policies,
        references,
        timings,
    })
}

/// Leaves `value` to be freed when the process exits, for a process that
/// exits right after (the CLI: the checker's facts with
/// [`Memory::LeaveToExit`], and what it holds until then, a run's sources
/// and trees, the Model, the emitted files). The OS takes the whole heap
/// back at once, far faster than dropping millions of small nodes one by
/// one. Never for a process that goes on: it would pile up.
pub fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
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
