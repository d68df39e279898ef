//! A program as it was at a git revision, read from git's object store
//! into memory (`git ls-tree`, `git cat-file --batch`): the work tree and
//! the index are never touched, so `envk diff --base main envs/` works in
//! a checkout with uncommitted changes, and in CI's detached checkouts.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::load::InMemory;

/// The program's files at a revision, and its roots among them.
pub struct Revision {
    pub loader: InMemory,
    /// The files and folders asked for, as the revision has them: the
    /// `*.env.k` files they name or hold, as absolute paths.
    pub roots: Vec<PathBuf>,
}

/// `git` in `dir`, with `args`: its stdout, or what went wrong.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`git {}` failed: {}",
            args.join(" "),
            stderr.trim()
        ));
    }
    Ok(output.stdout)
}

/// `a/./b/../c` → `a/c`, lexically: a path asked for may exist only at
/// the revision.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether a repository path is a program file envk reads from a folder:
/// `*.env.k`, with no hidden part.
fn program_file(path: &str) -> bool {
    path.ends_with(".env.k") && !path.split('/').any(|part| part.starts_with('.'))
}

impl Revision {
    /// Reads the `*.env.k` files of `revision` in the repository holding
    /// the current folder; `paths` (files or folders, relative to the
    /// current folder) are the program's roots, as `envk check` takes
    /// them.
    pub fn read(revision: &str, paths: &[PathBuf]) -> Result<Revision, String> {
        let here = std::env::current_dir()
            .map_err(|error| format!("cannot read the current folder: {error}"))?;
        let toplevel = git(&here, &["rev-parse", "--show-toplevel"])?;
        let toplevel = PathBuf::from(String::from_utf8_lossy(&toplevel).trim());
        let commit = format!("{revision}^{{commit}}");
        git(&here, &["rev-parse", "--verify", "--quiet", &commit])
            .map_err(|_| format!("`{revision}` is not a commit of this repository"))?;
        let listed = git(&toplevel, &["ls-tree", "-r", "-z", "--name-only", revision])?;
        let files: Vec<String> = listed
            .split(|&byte| byte == 0)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .filter(|name| program_file(name))
            .collect();
        let texts = cat_files(&toplevel, revision, &files)?;
        // Paths are absolute under the repository as it is checked out
        // here, so that imports resolve as they would on disk.
        let here = std::fs::canonicalize(&here).unwrap_or(here);
        let toplevel = std::fs::canonicalize(&toplevel).unwrap_or(toplevel);
        let mut loader = InMemory::new();
        for (name, text) in files.iter().zip(texts) {
            loader = loader.with(toplevel.join(name), text);
        }
        let mut roots = Vec::new();
        for path in paths {
            let absolute = normalize(&here.join(path));
            let relative = absolute
                .strip_prefix(&toplevel)
                .map_err(|_| format!("`{}` is outside the repository", path.display()))?;
            let relative = relative.to_string_lossy().replace('\\', "/");
            let below = format!("{relative}/");
            let found: Vec<&String> = files
                .iter()
                .filter(|name| {
                    **name == relative || relative.is_empty() || name.starts_with(&below)
                })
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "`{}` holds no *.env.k file at `{revision}`",
                    path.display()
                ));
            }
            roots.extend(found.into_iter().map(|name| toplevel.join(name)));
        }
        roots.sort();
        roots.dedup();
        Ok(Revision { loader, roots })
    }
}

/// The texts of `files` at `revision`, through one `git cat-file --batch`.
fn cat_files(toplevel: &Path, revision: &str, files: &[String]) -> Result<Vec<String>, String> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(toplevel)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run git: {error}"))?;
    let mut input = String::new();
    for file in files {
        input.push_str(revision);
        input.push(':');
        input.push_str(file);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    // Written from a thread of its own: git answers while it reads, and a
    // full pipe either way would stop both.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut output)
        .map_err(|error| format!("cannot read from git: {error}"))?;
    let status = child
        .wait()
        .map_err(|error| format!("git cat-file: {error}"))?;
    let _ = writer.join();
    if !status.success() {
        return Err("`git cat-file --batch` failed".into());
    }
    let mut texts = Vec::with_capacity(files.len());
    let mut rest = &output[..];
    for file in files {
        let header_end = rest
            .iter()
            .position(|&byte| byte == b'\n')
            .ok_or("git cat-file: a truncated answer")?;
        let header = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        let size: usize = match header.split(' ').collect::<Vec<_>>()[..] {
            [_, "blob", size] => size.parse().map_err(|_| "git cat-file: a bad size")?,
            _ => return Err(format!("git cat-file: `{file}`: {header}")),
        };
        let body = rest
            .get(header_end + 1..header_end + 1 + size)
            .ok_or("git cat-file: a truncated answer")?;
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| format!("`{file}` at `{revision}` is not UTF-8"))?;
        texts.push(text);
        rest = rest.get(header_end + 2 + size..).unwrap_or_default();
    }
    Ok(texts)
}
