//! Writing a build to disk, atomically, and comparing one with what is on
//! disk.
//!
//! Owns: the output folder. `write` builds the whole tree in a temporary
//! folder beside the target and renames it into place, so on any error the
//! target is left exactly as it was. A folder envk writes carries
//! `.envk-manifest`, the list of every file in it; envk refuses to replace
//! a non-empty folder without one, or one holding files the manifest does
//! not list (someone else's work), so it never destroys data it did not
//! write.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use crate::emit::{Content, Tree};

pub const MANIFEST: &str = ".envk-manifest";

const MANIFEST_HEADER: &str =
    "# Written by `envk build`: the files of this folder, which envk replaces on the next build.\n";

#[derive(Debug)]
pub enum OutputError {
    /// The folder holds files envk did not write.
    Foreign {
        dir: PathBuf,
        files: Vec<String>,
    },
    NotADirectory {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Foreign { dir, files } if files.is_empty() => write!(
                f,
                "`{}` is not empty and was not written by envk (it has no {MANIFEST}); \
                 choose an empty or new folder",
                dir.display()
            ),
            OutputError::Foreign { dir, files } => write!(
                f,
                "`{}` holds files envk did not write: {}{}; move them out, or choose another folder",
                dir.display(),
                files
                    .iter()
                    .take(5)
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if files.len() > 5 { ", …" } else { "" }
            ),
            OutputError::NotADirectory { path } => {
                write!(f, "`{}` exists and is not a folder", path.display())
            }
            OutputError::Io { path, error } => {
                write!(f, "cannot write `{}`: {error}", path.display())
            }
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The manifest's text for a tree.
fn manifest(tree: &Tree) -> String {
    let mut text = MANIFEST_HEADER.to_string();
    for path in tree.files.keys() {
        text.push_str(path);
        text.push('\n');
    }
    text
}

/// Every file under `dir`, as relative paths with `/`, the manifest left out.
fn files_on_disk(dir: &Path) -> Result<BTreeSet<String>, OutputError> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).map_err(io(&folder))? {
            let entry = entry.map_err(io(&folder))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .expect("walked from dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if relative != MANIFEST {
                    found.insert(relative);
                }
            }
        }
    }
    Ok(found)
}

/// What an existing folder is, before envk touches it.
enum Existing {
    Missing,
    Empty,
    /// Written by envk: the files its manifest lists.
    Ours(BTreeSet<String>),
}

fn inspect(dir: &Path) -> Result<Existing, OutputError> {
    let metadata = match fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(error) => return Err(io(dir)(error)),
    };
    if !metadata.is_dir() {
        return Err(OutputError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let on_disk = files_on_disk(dir)?;
    let manifest_path = dir.join(MANIFEST);
    let listed = match fs::read_to_string(&manifest_path) {
        Ok(text) => text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(str::to_string)
            .collect::<BTreeSet<_>>(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if on_disk.is_empty() && fs::read_dir(dir).map_err(io(dir))?.next().is_none() {
                return Ok(Existing::Empty);
            }
            return Err(OutputError::Foreign {
                dir: dir.to_path_buf(),
                files: Vec::new(),
            });
        }
        Err(error) => return Err(io(&manifest_path)(error)),
    };
    let foreign: Vec<String> = on_disk.difference(&listed).cloned().collect();
    if !foreign.is_empty() {
        return Err(OutputError::Foreign {
            dir: dir.to_path_buf(),
            files: foreign,
        });
    }
    Ok(Existing::Ours(on_disk))
}

/// A name beside `dir` for a temporary folder of this process.
fn sibling(dir: &Path, purpose: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}.envk-{purpose}-{}", std::process::id()))
}

/// Writes `tree` to `dir`, replacing what an earlier build wrote there.
pub fn write(tree: &Tree, dir: &Path) -> Result<(), OutputError> {
    let existing = inspect(dir)?;
    let staging = sibling(dir, "new");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let written = write_all(tree, &staging);
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(error);
    }
    match existing {
        Existing::Missing => fs::rename(&staging, dir).map_err(io(dir)).inspect_err(|_| {
            let _ = fs::remove_dir_all(&staging);
        }),
        Existing::Empty | Existing::Ours(_) => {
            let old = sibling(dir, "old");
            if let Err(error) = fs::rename(dir, &old) {
                let _ = fs::remove_dir_all(&staging);
                return Err(io(dir)(error));
            }
            if let Err(error) = fs::rename(&staging, dir) {
                // Put the previous build back where it was.
                let _ = fs::rename(&old, dir);
                let _ = fs::remove_dir_all(&staging);
                return Err(io(dir)(error));
            }
            fs::remove_dir_all(&old).map_err(io(&old))
        }
    }
}

/// Fewer files than this are written one per piece.
const FEW_FILES: usize = 64;

fn write_all(tree: &Tree, root: &Path) -> Result<(), OutputError> {
    fs::create_dir_all(root).map_err(io(root))?;
    // Creating files and folders is most of the cost, and files in
    // different folders do not wait for one another: they are written on
    // every core, each thread making the folders of its own files. More
    // threads than cores did not help (bench/README.md). The paths are sorted, so
    // a folder's files follow one another and it is made once (making it
    // again, where a piece meets another, finds it there).
    let files: Vec<(&String, &Content)> = tree.files.iter().collect();
    let write_run = |run: &[(&String, &Content)]| {
        let mut made: Option<&str> = None;
        for (relative, content) in run {
            if let Some((folder, _)) = relative.rsplit_once('/')
                && made != Some(folder)
            {
                let dir = root.join(folder);
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                made = Some(folder);
            }
            let path = root.join(relative);
            write_file(&path, content).map_err(io(&path))?;
        }
        Ok(())
    };
    // A stream build is a few files of megabytes each: each is a piece of
    // its own, or one thread would write them all.
    let written = if files.len() < FEW_FILES {
        crate::parallel::map_each(&files, |file| write_run(std::slice::from_ref(file)))
    } else {
        crate::parallel::map_pieces(&files, write_run)
    };
    written.into_iter().collect::<Result<(), OutputError>>()?;
    let manifest_path = root.join(MANIFEST);
    fs::write(&manifest_path, manifest(tree)).map_err(io(&manifest_path))
}

/// Creates `path` with `content`, its parts given to the kernel together.
fn write_file(path: &Path, content: &Content) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    let mut slices: Vec<IoSlice> = content
        .parts()
        .iter()
        .map(|part| IoSlice::new(part.as_bytes()))
        .collect();
    let mut rest = slices.as_mut_slice();
    // Empty parts would make a write of nothing look like a full disk.
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut rest, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// One difference between a build and a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    Added(String),
    Removed(String),
    Changed(String),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Added(path) => write!(f, "added    {path}"),
            Difference::Removed(path) => write!(f, "removed  {path}"),
            Difference::Changed(path) => write!(f, "changed  {path}"),
        }
    }
}

/// What writing `tree` to `dir` would change, without writing anything.
pub fn compare(tree: &Tree, dir: &Path) -> Result<Vec<Difference>, OutputError> {
    let on_disk = match inspect(dir)? {
        Existing::Missing | Existing::Empty => BTreeSet::new(),
        Existing::Ours(files) => files,
    };
    let mut differences = Vec::new();
    for (path, content) in &tree.files {
        if !on_disk.contains(path) {
            differences.push(Difference::Added(path.clone()));
            continue;
        }
        let full = dir.join(path);
        let current = fs::read(&full).map_err(io(&full))?;
        if !content.is(&current) {
            differences.push(Difference::Changed(path.clone()));
        }
    }
    for path in &on_disk {
        if !tree.files.contains_key(path) {
            differences.push(Difference::Removed(path.clone()));
        }
    }
    differences.sort_by(|a, b| {
        let key = |d: &Difference| match d {
            Difference::Added(p) | Difference::Removed(p) | Difference::Changed(p) => p.clone(),
        };
        key(a).cmp(&key(b))
    });
    Ok(differences)
}
