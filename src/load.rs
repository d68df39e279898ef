//! The load stage: the files given, and every file they import.
//!
//! Entry point: [`program`]. Owns the `Loader` interface (the file system
//! in the CLI, a map in tests), the stdlib lookup and the import graph. A
//! file reached by several paths is read once; importing it twice is
//! harmless. A cycle of imports is an error once, at the import that
//! enters it from the file nearest the root.
//! Each file is parsed as it is read, by the parser the caller passes (its
//! imports are only known then); the caller times the two apart.

use std::path::{Component, Path, PathBuf};

use foldhash::{HashMap, HashMapExt};

use crate::diag::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::source::{FileId, LoadError, STDLIB, SourceMap, Span};
use crate::suggest;
use crate::syntax::ast;

/// Where source text comes from.
pub trait Loader {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;

    /// What makes two paths the same file (the canonical path on disk), so
    /// that a file imported along two routes is read once.
    fn identity(&self, path: &Path) -> PathBuf;
}

/// The real file system.
pub struct FileSystem;

impl Loader for FileSystem {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn identity(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
    }
}

/// Files held in memory, for tests and tools.
#[derive(Default)]
pub struct InMemory {
    files: HashMap<PathBuf, String>,
}

impl InMemory {
    pub fn new() -> InMemory {
        InMemory::default()
    }

    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> InMemory {
        self.files.insert(normalize(&path.into()), text.into());
        self
    }
}

impl Loader for InMemory {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .map(|text| text.clone().into_bytes())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    fn identity(&self, path: &Path) -> PathBuf {
        normalize(path)
    }
}

/// `a/./b/../c` → `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Every file of a program, parsed, in the order they were reached.
pub struct Program {
    pub files: Vec<(FileId, ast::Ast)>,
}

struct Edge {
    from: usize,
    to: usize,
    span: Span,
}

/// Reads `roots` and, transitively, what they import. A root that cannot be
/// read is an invocation error; an import that cannot be is a diagnostic.
pub fn program(
    roots: &[PathBuf],
    loader: &dyn Loader,
    sources: &mut SourceMap,
    parse: &mut dyn FnMut(&SourceFile) -> (ast::Ast, Vec<Diagnostic>),
) -> Result<(Program, Vec<Diagnostic>), LoadError> {
    let mut diagnostics = Vec::new();
    let mut files: Vec<(FileId, ast::Ast, Option<PathBuf>)> = Vec::new();
    let mut index_of: HashMap<PathBuf, usize> = HashMap::new();
    let mut edges = Vec::new();

    for root in roots {
        let identity = loader.identity(root);
        if index_of.contains_key(&identity) {
            continue;
        }
        let bytes = loader.read(root).map_err(|error| LoadError::Io {
            path: root.clone(),
            error,
        })?;
        let id = sources.add_bytes(root, bytes)?;
        let (ast, mut found) = parse(sources.file(id));
        diagnostics.append(&mut found);
        index_of.insert(identity, files.len());
        files.push((id, ast, Some(root.clone())));
    }

    let mut next = 0;
    while next < files.len() {
        let from = next;
        next += 1;
        let imports: Vec<ast::StringLit> = files[from]
            .1
            .items
            .iter()
            .filter_map(|item| match &item.kind {
                ast::ItemKind::Import(import) => Some(import.path.clone()),
                _ => None,
            })
            .collect();
        for import in imports {
            let Some(target) = import.as_plain() else {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0203,
                        import.span,
                        "an import path cannot be interpolated",
                    )
                    .label("this path contains `${…}`")
                    .help("write the path literally, such as `import \"./clusters.env.k\"`"),
                );
                continue;
            };
            let resolved = resolve_target(&target, files[from].2.as_deref());
            let (identity, display) = match &resolved {
                Target::Std(module) => (PathBuf::from(format!("<{module}>")), None),
                Target::File(path) => (loader.identity(path), Some(path.clone())),
                Target::Invalid(why) => {
                    diagnostics.push(
                        Diagnostic::new(Code::E0203, import.span, format!("cannot import `{target}`"))
                            .label(*why)
                            .help("import a stdlib module (`std/alerts`, `std/roles`) or a file relative to this one (`./clusters.env.k`)"),
                    );
                    continue;
                }
            };
            if let Some(&to) = index_of.get(&identity) {
                edges.push(Edge {
                    from,
                    to,
                    span: import.span,
                });
                continue;
            }
            let loaded = match &resolved {
                Target::Std(module) => match sources.add_stdlib(module) {
                    Some(id) => Ok(id),
                    None => {
                        let known = STDLIB.iter().map(|(name, _)| *name);
                        let diagnostic = Diagnostic::new(
                            Code::E0203,
                            import.span,
                            format!("no standard library module `{module}`"),
                        )
                        .label("not a stdlib module");
                        diagnostics.push(match suggest::closest(module, known) {
                            Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
                            None => diagnostic.help(format!(
                                "the stdlib modules are {}",
                                STDLIB
                                    .iter()
                                    .map(|(name, _)| format!("`{name}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                        });
                        continue;
                    }
                },
                Target::File(path) => loader
                    .read(path)
                    .map_err(|error| LoadError::Io {
                        path: path.clone(),
                        error,
                    })
                    .and_then(|bytes| sources.add_bytes(path, bytes)),
                Target::Invalid(_) => continue,
            };
            match loaded {
                Ok(id) => {
                    let (ast, mut found) = parse(sources.file(id));
                    diagnostics.append(&mut found);
                    let to = files.len();
                    index_of.insert(identity, to);
                    files.push((id, ast, display));
                    edges.push(Edge {
                        from,
                        to,
                        span: import.span,
                    });
                }
                Err(error) => diagnostics.push(
                    Diagnostic::new(
                        Code::E0203,
                        import.span,
                        format!("cannot import `{target}`"),
                    )
                    .label(match &error {
                        LoadError::Io { error, .. } => crate::source::io_reason(error),
                        LoadError::NotUtf8 { .. } => "the file is not UTF-8 text".to_string(),
                        LoadError::TooLarge { .. } => {
                            "the sources of one run are limited to 4 GiB".to_string()
                        }
                    })
                    .help(match &resolved {
                        Target::File(path) => format!(
                            "the path is relative to the importing file: it names `{}`",
                            path.display()
                        ),
                        _ => "check the path".to_string(),
                    }),
                ),
            }
        }
    }

    report_cycles(sources, &files, &edges, &mut diagnostics);
    let files = files.into_iter().map(|(id, ast, _)| (id, ast)).collect();
    Ok((Program { files }, diagnostics))
}

/// What an import names: a stdlib module, or a file.
pub enum Imported {
    Std(String),
    File(PathBuf),
}

/// What `import "TARGET"` in the file at `importer` names; none when the
/// path is not one envk imports (an error the load stage reports).
pub fn import_path(target: &str, importer: &Path) -> Option<Imported> {
    match resolve_target(target, Some(importer)) {
        Target::Std(module) => Some(Imported::Std(module)),
        Target::File(path) => Some(Imported::File(path)),
        Target::Invalid(_) => None,
    }
}

enum Target {
    Std(String),
    File(PathBuf),
    Invalid(&'static str),
}

fn resolve_target(target: &str, importer: Option<&Path>) -> Target {
    if let Some(module) = target.strip_prefix("std/") {
        return Target::Std(format!("std/{module}"));
    }
    if Path::new(target).is_absolute() {
        return Target::Invalid("imports are relative to the importing file, not absolute");
    }
    if !(target.starts_with("./") || target.starts_with("../")) {
        return Target::Invalid("a file import starts with `./` or `../`");
    }
    let Some(importer) = importer else {
        return Target::Invalid("a stdlib module cannot import files");
    };
    let folder = importer.parent().unwrap_or(Path::new(""));
    Target::File(normalize(&folder.join(target)))
}

/// Each import cycle is an error once, at the import that enters it from
/// the file nearest the root: the file the user is most likely looking at.
fn report_cycles(
    sources: &SourceMap,
    files: &[(FileId, ast::Ast, Option<PathBuf>)],
    edges: &[Edge],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut outgoing: Vec<Vec<&Edge>> = vec![Vec::new(); files.len()];
    for edge in edges {
        outgoing[edge.from].push(edge);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let mut state = vec![State::New; files.len()];
    let name = |index: usize| sources.file(files[index].0).name().to_string();
    for start in 0..files.len() {
        if state[start] != State::New {
            continue;
        }
        // Iterative DFS: (file, next edge to follow); the stack is the path.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = State::OnStack;
        while let Some(&mut (file, ref mut next)) = stack.last_mut() {
            if let Some(edge) = outgoing[file].get(*next) {
                *next += 1;
                match state[edge.to] {
                    State::New => {
                        state[edge.to] = State::OnStack;
                        stack.push((edge.to, 0));
                    }
                    State::OnStack => {
                        let from = stack
                            .iter()
                            .position(|&(f, _)| f == edge.to)
                            .expect("a file on the stack is on the path");
                        let mut chain: Vec<String> = stack[from..]
                            .iter()
                            .map(|&(f, _)| format!("`{}`", name(f)))
                            .collect();
                        chain.push(format!("`{}`", name(edge.to)));
                        // Reported at the import that enters the cycle from
                        // the file closest to the root: the file the user
                        // is most likely looking at.
                        let entering = if from + 1 < stack.len() {
                            let (file, followed) = stack[from];
                            outgoing[file][followed - 1]
                        } else {
                            edge
                        };
                        let help = if edge.from == edge.to {
                            "a file cannot import itself: remove this import"
                        } else {
                            "move what both files need into a third file that both import"
                        };
                        let mut diagnostic =
                            Diagnostic::new(Code::E0204, entering.span, "import cycle")
                                .label("this import starts a cycle")
                                .note(chain.join(" imports "))
                                .help(help);
                        if entering.span != edge.span {
                            diagnostic =
                                diagnostic.secondary(edge.span, "and this import closes it");
                        }
                        diagnostics.push(diagnostic);
                    }
                    State::Done => {}
                }
            } else {
                state[file] = State::Done;
                stack.pop();
            }
        }
    }
}

/// The programs a set of files holds, by the one rule `envk check
/// --programs` and `envk lsp` share: a file that no other file of the set
/// imports is a root, and its program is the root and everything it
/// imports, transitively. Files that only import one another in a cycle
/// are reached from no root: the first of them (in path order) is a root
/// too, so every file of the set belongs to a program.
#[derive(Default, Debug)]
pub struct Programs {
    /// Each file of the set and each file they import, by identity.
    files: Vec<PathBuf>,
    index_of: HashMap<PathBuf, usize>,
    /// The files each file imports, by index; stdlib modules left out.
    imports: Vec<Vec<usize>>,
    /// Whether a file was given (`true`) or only reached by an import.
    given: Vec<bool>,
    roots: Vec<usize>,
}

impl Programs {
    /// Reads and parses each of `files` to find what it imports. A file
    /// that cannot be read or parsed imports nothing: its program is
    /// checked, and the problem reported there.
    pub fn discover(files: &[PathBuf], loader: &dyn Loader) -> Programs {
        let mut programs = Programs::default();
        for file in files {
            let identity = loader.identity(file);
            let imports = imports_of(&identity, loader);
            programs.set_imports(&identity, imports, true);
        }
        programs.find_roots();
        programs
    }

    /// Sets what `file` imports, as the text now read says; `given` adds
    /// it to the set. Returns whether the roots changed.
    pub fn update(&mut self, file: &Path, imports: Vec<PathBuf>, given: bool) -> bool {
        let before = self.roots();
        self.set_imports(file, imports, given);
        self.find_roots();
        before != self.roots()
    }

    /// Takes a file out of the set (deleted): it imports nothing and is no
    /// root, though a file that still imports it reaches it. Returns
    /// whether the roots changed.
    pub fn forget(&mut self, file: &Path) -> bool {
        let Some(&index) = self.index_of.get(file) else {
            return false;
        };
        let before = self.roots();
        self.given[index] = false;
        self.imports[index].clear();
        self.find_roots();
        before != self.roots()
    }

    fn set_imports(&mut self, file: &Path, imports: Vec<PathBuf>, given: bool) {
        let from = self.index(file);
        self.given[from] |= given;
        let targets = imports.iter().map(|path| self.index(path)).collect();
        self.imports[from] = targets;
    }

    fn index(&mut self, file: &Path) -> usize {
        if let Some(&index) = self.index_of.get(file) {
            return index;
        }
        let index = self.files.len();
        self.files.push(file.to_path_buf());
        self.index_of.insert(file.to_path_buf(), index);
        self.imports.push(Vec::new());
        self.given.push(false);
        index
    }

    fn find_roots(&mut self) {
        let mut imported = vec![false; self.files.len()];
        for (from, targets) in self.imports.iter().enumerate() {
            for &to in targets {
                imported[to] |= to != from;
            }
        }
        let mut order: Vec<usize> = (0..self.files.len()).filter(|&f| self.given[f]).collect();
        order.sort_by(|&a, &b| self.files[a].cmp(&self.files[b]));
        self.roots = order.iter().copied().filter(|&f| !imported[f]).collect();
        let natural = self.roots.len();
        let mut reached = vec![false; self.files.len()];
        for &root in &self.roots.clone() {
            self.reach(root, &mut reached);
        }
        for &file in &order {
            if !reached[file] {
                self.roots.push(file);
                self.reach(file, &mut reached);
            }
        }
        // A file taken as a cycle's root before the cycle was reached (it
        // sorts first, and the cycle imports it) is the cycle's, not a
        // program of its own.
        let reaches = |from: usize, to: usize| {
            let mut seen = vec![false; self.files.len()];
            self.reach(from, &mut seen);
            seen[to]
        };
        // (A root nothing imports is reached from no other: only the
        // cycles' are looked at.)
        let fallbacks = self.roots[natural..].to_vec();
        let kept: Vec<usize> = fallbacks
            .iter()
            .copied()
            .filter(|&root| {
                !fallbacks
                    .iter()
                    .any(|&other| other != root && reaches(other, root))
            })
            .collect();
        self.roots.truncate(natural);
        self.roots.extend(kept);
        self.roots
            .sort_by(|&a, &b| self.files[a].cmp(&self.files[b]));
    }

    fn reach(&self, from: usize, reached: &mut [bool]) {
        let mut stack = vec![from];
        while let Some(file) = stack.pop() {
            if !std::mem::replace(&mut reached[file], true) {
                stack.extend(&self.imports[file]);
            }
        }
    }

    /// Every root, in path order: one program each.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.roots
            .iter()
            .map(|&root| self.files[root].clone())
            .collect()
    }

    /// The roots whose programs hold `file`, in path order; none when the
    /// set does not hold it.
    pub fn roots_of(&self, file: &Path) -> Vec<PathBuf> {
        let Some(&target) = self.index_of.get(file) else {
            return Vec::new();
        };
        self.roots
            .iter()
            .filter(|&&root| {
                let mut reached = vec![false; self.files.len()];
                self.reach(root, &mut reached);
                reached[target]
            })
            .map(|&root| self.files[root].clone())
            .collect()
    }

    /// Whether the set holds `file`, given or imported.
    pub fn holds(&self, file: &Path) -> bool {
        self.index_of.contains_key(file)
    }
}

/// The files `file` imports (by identity), read by `loader`; stdlib
/// modules and imports that name no file are left out.
pub fn imports_of(file: &Path, loader: &dyn Loader) -> Vec<PathBuf> {
    let Ok(bytes) = loader.read(file) else {
        return Vec::new();
    };
    let mut sources = SourceMap::new();
    let Ok(id) = sources.add_bytes(file, bytes) else {
        return Vec::new();
    };
    let (ast, _) = crate::syntax::parse(sources.file(id));
    file_imports(file, &ast, loader)
}

/// The files a parsed file at `file` imports, by identity.
pub fn file_imports(file: &Path, ast: &ast::Ast, loader: &dyn Loader) -> Vec<PathBuf> {
    ast.items
        .iter()
        .filter_map(|item| match &item.kind {
            ast::ItemKind::Import(import) => import.path.as_plain(),
            _ => None,
        })
        .filter_map(|target| match resolve_target(&target, Some(file)) {
            Target::File(path) => Some(loader.identity(&path)),
            Target::Std(_) | Target::Invalid(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    /// `a` imports `shared`, `b` imports `shared`; `c` and `d` import
    /// each other, and `d` imports `e`: `a`, `b` and the first of the
    /// cycle are roots.
    fn workspace() -> (InMemory, Vec<PathBuf>) {
        let loader = InMemory::new()
            .with("ws/a.env.k", "import \"./shared.env.k\"\n")
            .with(
                "ws/b.env.k",
                "import \"./shared.env.k\"\nimport \"std/alerts\"\n",
            )
            .with("ws/shared.env.k", "tier t { pod_security = baseline }\n")
            .with("ws/c.env.k", "import \"./d.env.k\"\n")
            .with("ws/d.env.k", "import \"./c.env.k\"\nimport \"./e.env.k\"\n")
            .with("ws/e.env.k", "");
        let files = paths(&[
            "ws/a.env.k",
            "ws/b.env.k",
            "ws/c.env.k",
            "ws/d.env.k",
            "ws/e.env.k",
            "ws/shared.env.k",
        ]);
        (loader, files)
    }

    #[test]
    fn roots_are_the_files_nothing_imports_and_one_per_cycle() {
        let (loader, files) = workspace();
        let programs = Programs::discover(&files, &loader);
        assert_eq!(
            programs.roots(),
            paths(&["ws/a.env.k", "ws/b.env.k", "ws/c.env.k"])
        );
        assert_eq!(
            programs.roots_of(Path::new("ws/shared.env.k")),
            paths(&["ws/a.env.k", "ws/b.env.k"])
        );
        assert_eq!(
            programs.roots_of(Path::new("ws/e.env.k")),
            paths(&["ws/c.env.k"])
        );
        assert!(
            programs
                .roots_of(Path::new("ws/elsewhere.env.k"))
                .is_empty()
        );
    }

    /// `b` and `c` import each other and `b` imports `a`, which sorts
    /// first: the cycle's root is `b`, and `a` is in its program only.
    #[test]
    fn a_file_a_cycle_imports_is_not_a_root() {
        let loader = InMemory::new()
            .with("ws/a.env.k", "")
            .with("ws/b.env.k", "import \"./c.env.k\"\nimport \"./a.env.k\"\n")
            .with("ws/c.env.k", "import \"./b.env.k\"\n");
        let files = paths(&["ws/a.env.k", "ws/b.env.k", "ws/c.env.k"]);
        let programs = Programs::discover(&files, &loader);
        assert_eq!(programs.roots(), paths(&["ws/b.env.k"]));
        assert_eq!(
            programs.roots_of(Path::new("ws/a.env.k")),
            paths(&["ws/b.env.k"])
        );
    }

    #[test]
    fn an_import_removed_or_a_file_forgotten_changes_the_roots() {
        let (loader, files) = workspace();
        let mut programs = Programs::discover(&files, &loader);
        // `b` no longer imports `shared`: roots do not change (`shared` is
        // still imported by `a`).
        assert!(!programs.update(Path::new("ws/b.env.k"), Vec::new(), true));
        // `a` neither: `shared` is a root of its own now.
        assert!(programs.update(Path::new("ws/a.env.k"), Vec::new(), true));
        assert!(programs.roots().contains(&PathBuf::from("ws/shared.env.k")));
        // `c` deleted: `d` is no longer imported by anything.
        assert!(programs.forget(Path::new("ws/c.env.k")));
        assert!(programs.roots().contains(&PathBuf::from("ws/d.env.k")));
        assert!(!programs.roots().contains(&PathBuf::from("ws/c.env.k")));
    }
}
