//! `envk diff`: what changes between two builds, object by object and in
//! meaning.
//!
//! Each side is a build: its files and its summary (`.envk/model.json`),
//! read from a build folder (`Side::read`) or built in memory from a
//! program (`Side::of_tree`, which `--base REV` uses on the program as it
//! was at a git revision, read with `git::Revision`). Objects are compared
//! by identity (`objects`), meaning from the two summaries (`meaning`):
//! the YAML is never read for meaning. `render` prints the result for a
//! terminal, for a pull-request comment (Markdown, in parts that fit
//! GitHub's comment size) and as JSON.

pub mod git;
pub mod meaning;
pub mod objects;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::emit::Tree;
use crate::summary::{self, Summary};

pub use meaning::{ClusterMeaning, FleetMeaning};
pub use objects::{ObjectChanges, ObjectId};

/// One side of a diff: a build's files and its summary.
pub struct Side {
    pub files: BTreeMap<String, String>,
    pub summary: Summary<'static>,
}

/// Why a side could not be read.
#[derive(Debug)]
pub enum SideError {
    /// Not a folder envk wrote.
    NotABuild(PathBuf),
    Io(PathBuf, std::io::Error),
    /// Its `.envk/model.json` is missing or unreadable.
    Summary(PathBuf, String),
}

impl std::fmt::Display for SideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SideError::NotABuild(dir) => write!(
                f,
                "`{}` is not a build folder: it has no {} (run `envk build -o {}` first)",
                dir.display(),
                crate::output::MANIFEST,
                dir.display()
            ),
            SideError::Io(path, error) => write!(f, "cannot read `{}`: {error}", path.display()),
            SideError::Summary(dir, why) => {
                write!(f, "`{}`'s {}: {why}", dir.display(), summary::PATH)
            }
        }
    }
}

impl Side {
    /// A build folder: the files its manifest lists, and its summary.
    pub fn read(dir: &Path) -> Result<Side, SideError> {
        let manifest_path = dir.join(crate::output::MANIFEST);
        let manifest = match std::fs::read_to_string(&manifest_path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(SideError::NotABuild(dir.to_path_buf()));
            }
            Err(error) => return Err(SideError::Io(manifest_path, error)),
        };
        let mut files = BTreeMap::new();
        for path in manifest.lines().filter(|line| !line.starts_with('#')) {
            let full = dir.join(path);
            let text =
                std::fs::read_to_string(&full).map_err(|error| SideError::Io(full, error))?;
            files.insert(path.to_string(), text);
        }
        let summary = match files.get(summary::PATH) {
            Some(text) => Summary::from_json(text)
                .map_err(|why| SideError::Summary(dir.to_path_buf(), why))?,
            None => {
                return Err(SideError::Summary(
                    dir.to_path_buf(),
                    "missing: the folder was built by an envk that did not write it; build it again"
                        .into(),
                ));
            }
        };
        Ok(Side { files, summary })
    }

    /// A build made in memory, with its summary read back from its
    /// `.envk/model.json` as from a folder.
    pub fn of_tree(tree: &Tree) -> Side {
        let files: BTreeMap<String, String> = tree
            .files
            .iter()
            .map(|(path, content)| (path.clone(), content.text().into_owned()))
            .collect();
        let summary =
            Summary::from_json(&files[summary::PATH]).expect("a build's summary reads back");
        Side { files, summary }
    }
}

/// What changed on one cluster (or in the fleet's own folders, `fleet`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterDiff {
    pub name: String,
    pub objects: ObjectChanges,
    pub meaning: ClusterMeaning,
}

impl ClusterDiff {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.meaning.is_empty()
    }
}

/// Everything that changed between two builds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Every cluster with a change, in name order, then `fleet` (Argo CD's
    /// and the central Prometheus' objects) if they changed.
    pub clusters: Vec<ClusterDiff>,
    pub fleet: FleetMeaning,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.fleet.is_empty()
    }
}

/// The diff from `old` to `new`.
pub fn diff(old: &Side, new: &Side) -> Diff {
    let mut objects =
        objects::compare(&objects::objects(&old.files), &objects::objects(&new.files));
    let (mut meanings, fleet) = meaning::meaning(&old.summary, &new.summary);
    let mut clusters: Vec<ClusterDiff> = Vec::new();
    for (name, meaning) in std::mem::take(&mut meanings) {
        let objects = objects.remove(&name).unwrap_or_default();
        clusters.push(ClusterDiff {
            name,
            objects,
            meaning,
        });
    }
    // What is in no cluster's folder: Argo CD's and the federation's, or
    // a folder of a cluster neither summary names.
    for (name, objects) in objects {
        clusters.push(ClusterDiff {
            name,
            objects,
            meaning: ClusterMeaning::default(),
        });
    }
    clusters.retain(|cluster| !cluster.is_empty());
    clusters.sort_by(|a, b| {
        (a.name == objects::FLEET, &a.name).cmp(&(b.name == objects::FLEET, &b.name))
    });
    Diff { clusters, fleet }
}
