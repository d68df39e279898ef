//! What the server knows: the open documents, the programs of the
//! workspace, and the last check of each program an open document is in.
//!
//! A document's program is found by the rule `envk check --programs`
//! uses ([`load::Programs`]): the roots among the workspace's files whose
//! imports reach it. Its diagnostics are those of every such program; a
//! file a program imports but that is not open gets them too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::HashMap;
use lsp_types::Url;

use crate::check::Goal;
use crate::driver::{self, Memory, Parses};
use crate::load::{self, FileSystem, Loader};

use super::analysis::Analysis;
use super::{convert, identity};

/// An open document: its text as the editor has it, and its version.
pub struct Document {
    pub version: i32,
    pub text: String,
}

/// The open documents over the disk: what a check reads.
pub struct Overlay<'a> {
    documents: &'a HashMap<PathBuf, Document>,
}

impl Loader for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.documents.get(&identity(path)) {
            Some(document) => Ok(document.text.clone().into_bytes()),
            None => FileSystem.read(path),
        }
    }

    fn identity(&self, path: &Path) -> PathBuf {
        identity(path)
    }
}

/// One program: its last check, and whether a file it reads changed since.
#[derive(Default)]
struct Program {
    analysis: Option<Arc<Analysis>>,
    stale: bool,
    /// Its diagnostics, by file: every file it reads has an entry.
    diagnostics: BTreeMap<Url, Vec<lsp_types::Diagnostic>>,
}

/// The diagnostics to publish, by file, each with the version of its open
/// document.
pub type Publish = Vec<(Url, Option<i32>, Vec<lsp_types::Diagnostic>)>;

#[derive(Default)]
pub struct State {
    pub documents: HashMap<PathBuf, Document>,
    workspace: load::Programs,
    /// By root, the programs an open document is in.
    programs: BTreeMap<PathBuf, Program>,
    /// What the editor shows, by file (none: nothing), and the version of
    /// each open document it was published for.
    shown: BTreeMap<Url, Vec<lsp_types::Diagnostic>>,
    shown_versions: BTreeMap<Url, i32>,
}

impl State {
    /// The state for a workspace of these folders: every `*.env.k` in
    /// them is among the files programs are found in.
    pub fn new(folders: &[PathBuf]) -> State {
        let mut files = Vec::new();
        for folder in folders {
            // A folder without `.env.k` files, or one that cannot be
            // listed, holds no program; documents opened there still do.
            if let Ok(mut found) = driver::collect_inputs(std::slice::from_ref(folder)) {
                files.append(&mut found);
            }
        }
        let files: Vec<PathBuf> = files.iter().map(|file| identity(file)).collect();
        State {
            workspace: load::Programs::discover(&files, &FileSystem),
            ..State::default()
        }
    }

    pub fn open(&mut self, uri: Url, version: i32, text: String) {
        let Some(path) = path_of(&uri) else { return };
        // A stdlib module's copy, opened by going to a definition, is
        // read-only and belongs to the programs that import the module.
        if convert::stdlib_module(&path).is_some() {
            return;
        }
        self.documents
            .insert(path.clone(), Document { version, text });
        self.add_to_workspace(&path);
        self.touch(&path);
        self.track();
    }

    /// Makes an open file one the workspace's programs are found among.
    /// Returns whether the roots changed.
    fn add_to_workspace(&mut self, path: &Path) -> bool {
        let imports = load::imports_of(path, &self.overlay());
        self.workspace.update(path, imports, true)
    }

    /// A new text for an open document.
    pub fn change(&mut self, uri: &Url, version: i32, text: String) {
        let Some(path) = path_of(uri) else { return };
        if let Some(document) = self.documents.get_mut(&path) {
            document.version = version;
            document.text = text;
            self.touch(&path);
        }
    }

    pub fn close(&mut self, uri: &Url) {
        let Some(path) = path_of(uri) else { return };
        // The file on disk is what programs read now; a version given when
        // it is opened again starts afresh.
        self.shown_versions.remove(uri);
        if self.documents.remove(&path).is_some() {
            self.touch(&path);
            self.track();
        }
    }

    /// A file saved or changed on disk: what it imports may have changed.
    pub fn saved(&mut self, uri: &Url) {
        let Some(path) = path_of(uri) else { return };
        self.touch(&path);
    }

    /// A file created, changed or deleted on disk (a checkout, another
    /// tool): unless it is open, programs read it anew, and what it
    /// imports now may change the programs. A file deleted imports
    /// nothing.
    pub fn changed_on_disk(&mut self, uri: &Url) {
        let Some(path) = path_of(uri) else { return };
        if self.documents.contains_key(&path) {
            return;
        }
        let roots_changed = if path.exists() {
            self.add_to_workspace(&path)
        } else {
            self.workspace.forget(&path)
        };
        self.touch(&path);
        if roots_changed {
            self.track();
        }
    }

    /// Marks stale every program that reads `path` (or has not been
    /// checked yet).
    fn touch(&mut self, path: &Path) {
        // A file the program imports but could not read is in no check,
        // only in the import graph.
        let roots = self.workspace.roots_of(path);
        for (root, program) in self.programs.iter_mut() {
            let reads = program
                .analysis
                .as_ref()
                .is_none_or(|analysis| analysis.user_files().any(|(file, _)| file == path));
            program.stale |= reads || roots.contains(root);
        }
    }

    /// Keeps a program for each root an open document is in, and drops
    /// the others: what only they showed is cleared at the next publish.
    fn track(&mut self) {
        let wanted: BTreeSet<PathBuf> = self
            .documents
            .keys()
            .flat_map(|path| self.workspace.roots_of(path))
            .collect();
        self.programs.retain(|root, _| wanted.contains(root));
        for root in wanted {
            self.programs.entry(root).or_insert_with(|| Program {
                stale: true,
                ..Program::default()
            });
        }
    }

    /// The roots of the programs to check again.
    pub fn stale(&self) -> Vec<PathBuf> {
        self.programs
            .iter()
            .filter(|(_, program)| program.stale)
            .map(|(root, _)| root.clone())
            .collect()
    }

    fn overlay(&self) -> Overlay<'_> {
        Overlay {
            documents: &self.documents,
        }
    }

    /// Checks the program of `root` as the documents now are, for `goal`,
    /// parsing again only what changed since its last check, whose trees
    /// it takes, and keeps the new check ([`State::keep`]). Returns what is
    /// left of the last one, for the caller to drop once it has published.
    pub fn check(&mut self, root: &Path, goal: Goal) -> Option<Arc<Analysis>> {
        let (parses, left) = self.take_parses(root);
        let analysis = driver::run_with(
            &[root.to_path_buf()],
            &self.overlay(),
            goal,
            Memory::Free,
            parses,
        )
        .map(|run| Analysis { run, goal });
        self.keep(root, analysis);
        left
    }

    /// The trees of the last check of `root`'s program, and what is left
    /// of that check. A check a request still holds is left whole.
    fn take_parses(&mut self, root: &Path) -> (Parses, Option<Arc<Analysis>>) {
        let last = self
            .programs
            .get_mut(root)
            .and_then(|program| program.analysis.take());
        match last.map(Arc::try_unwrap) {
            Some(Ok(mut analysis)) => {
                let parses = Parses::take(&mut analysis.run);
                (parses, Some(Arc::new(analysis)))
            }
            Some(Err(shared)) => (Parses::default(), Some(shared)),
            None => (Parses::default(), None),
        }
    }

    /// Keeps a program's new check: its diagnostics replace the ones it
    /// had, and what its files import now updates the workspace's
    /// programs.
    /// A root that cannot be read (deleted since) has no diagnostics.
    /// The program's last check was taken by [`State::check`].
    fn keep(&mut self, root: &Path, analysis: Result<Analysis, driver::InputError>) {
        let Some(program) = self.programs.get_mut(root) else {
            return;
        };
        let analysis = match analysis {
            Ok(analysis) => analysis,
            Err(error) => {
                eprintln!("envk lsp: cannot check `{}`: {error}", root.display());
                program.diagnostics.clear();
                program.stale = false;
                return;
            }
        };
        let mut diagnostics = analysis.diagnostics();
        for url in program.diagnostics.keys() {
            diagnostics.entry(url.clone()).or_default();
        }
        program.diagnostics = diagnostics;
        program.stale = false;
        let imports = analysis.imports(&Overlay {
            documents: &self.documents,
        });
        program.analysis = Some(Arc::new(analysis));
        let mut roots_changed = false;
        for (file, imports) in imports {
            let given = self.documents.contains_key(&file);
            roots_changed |= self.workspace.update(&file, imports, given);
        }
        if roots_changed {
            self.track();
        }
    }

    /// What to publish for the editor to show what the programs now say:
    /// for each file, the diagnostics of every program that reads it, each
    /// once; a file no program reads any more is cleared. A file's
    /// diagnostics are published when they change, and for an open
    /// document at each new version, so that the editor knows they are
    /// current.
    pub fn publish(&mut self) -> Publish {
        let mut now: BTreeMap<Url, Vec<lsp_types::Diagnostic>> = BTreeMap::new();
        for program in self.programs.values() {
            for (url, diagnostics) in &program.diagnostics {
                let shown = now.entry(url.clone()).or_default();
                for diagnostic in diagnostics {
                    if !shown.contains(diagnostic) {
                        shown.push(diagnostic.clone());
                    }
                }
            }
        }
        let mut publish = Vec::new();
        for url in self.shown.keys() {
            if !now.contains_key(url) {
                publish.push((url.clone(), self.version(url), Vec::new()));
            }
        }
        for (url, diagnostics) in &now {
            let shown = self.shown.get(url).map_or(&[][..], Vec::as_slice);
            let version = self.version(url);
            let new_version = version.is_some() && self.shown_versions.get(url) != version.as_ref();
            if shown != diagnostics.as_slice() || new_version {
                publish.push((url.clone(), version, diagnostics.clone()));
            }
        }
        for (url, version, _) in &publish {
            match version {
                Some(version) => self.shown_versions.insert(url.clone(), *version),
                None => self.shown_versions.remove(url),
            };
        }
        now.retain(|_, diagnostics| !diagnostics.is_empty());
        self.shown = now;
        publish
    }

    fn version(&self, url: &Url) -> Option<i32> {
        let path = path_of(url)?;
        Some(self.documents.get(&path)?.version)
    }

    /// The latest check of the first program that reads `path`, or none
    /// if it is stale (the caller checks it first).
    pub fn analysis(&self, path: &Path) -> Option<Arc<Analysis>> {
        self.programs_of(path)
            .find_map(|(_, program)| program.analysis.clone().filter(|_| !program.stale))
    }

    /// The roots of the programs an open document is in that read `path`.
    pub fn roots_of(&self, path: &Path) -> Vec<PathBuf> {
        self.programs_of(path)
            .map(|(root, _)| root.clone())
            .collect()
    }

    /// The latest checks of every program that reads `path`.
    pub fn analyses(&self, path: &Path) -> Vec<Arc<Analysis>> {
        self.programs_of(path)
            .filter_map(|(_, program)| program.analysis.clone())
            .collect()
    }

    /// The root of the first program that reads `path`.
    pub fn root_of(&self, path: &Path) -> Option<PathBuf> {
        self.programs_of(path).map(|(root, _)| root.clone()).next()
    }

    /// The programs that read `path`: by the import graph, or for a stdlib
    /// module's copy, those whose check holds the module.
    fn programs_of<'s>(&'s self, path: &Path) -> impl Iterator<Item = (&'s PathBuf, &'s Program)> {
        let stdlib = convert::stdlib_module(path).is_some();
        let roots = self.workspace.roots_of(path);
        self.programs.iter().filter(move |(root, program)| {
            if stdlib {
                program
                    .analysis
                    .as_ref()
                    .is_some_and(|analysis| analysis.file(path).is_some())
            } else {
                roots.contains(root)
            }
        })
    }
}

/// The path a `file:` URI names, by identity; the stdlib's copies are
/// named by their copy's path.
pub fn path_of(uri: &Url) -> Option<PathBuf> {
    let path = uri.to_file_path().ok()?;
    if convert::stdlib_module(&path).is_some() {
        return Some(path);
    }
    Some(identity(&path))
}

impl State {
    /// A program whose check panicked: nothing is known of it until a
    /// file it reads changes.
    pub fn give_up(&mut self, root: &Path) {
        if let Some(program) = self.programs.get_mut(root) {
            program.analysis = None;
            program.diagnostics.clear();
            program.stale = false;
        }
    }
}
