//! Tidy checks, in the spirit of rust-analyzer's: the map of the code stays
//! true to the code. Every module says what it owns in a doc comment,
//! ARCHITECTURE.md names every module file, and no module's doc names a
//! function, type or module that does not exist (the way docs drift when
//! code is renamed or moved).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rust_files(folder: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()))
        .map(|entry| entry.expect("readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    assert!(files.len() > 30, "found {} files in src/", files.len());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            (path, text)
        })
        .collect()
}

/// The `//!` lines a file starts with, without the markers.
fn module_doc(text: &str) -> String {
    text.lines()
        .skip_while(|line| line.trim().is_empty())
        .map_while(|line| line.trim_start().strip_prefix("//!"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_module_says_what_it_owns() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| module_doc(text).split_whitespace().count() < 4)
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a doc comment (`//! …` at the top saying what the module owns): {missing:?}"
    );
}

#[test]
fn the_architecture_names_every_module_file() {
    let architecture = std::fs::read_to_string("ARCHITECTURE.md").expect("ARCHITECTURE.md");
    let mut unnamed = Vec::new();
    for (path, _) in sources() {
        let relative = path.strip_prefix("src").expect("under src/");
        let file = relative
            .file_name()
            .and_then(|f| f.to_str())
            .expect("a name");
        let named = match file {
            // A folder's module is named by its folder.
            "mod.rs" => {
                let folder = relative.parent().expect("in a folder").display();
                architecture.contains(&format!("`src/{folder}/`"))
            }
            _ => {
                architecture.contains(&format!("`{file}`"))
                    || architecture.contains(&format!("`src/{}`", relative.display()))
            }
        };
        if !named {
            unnamed.push(path.display().to_string());
        }
    }
    assert!(
        unnamed.is_empty(),
        "ARCHITECTURE.md does not name {unnamed:?}: add each to the code map"
    );
}

/// Every name a declaration in `src/` gives: functions, types, traits,
/// modules, constants and statics.
fn declared_names(sources: &[(PathBuf, String)]) -> BTreeSet<String> {
    const KEYWORDS: [&str; 8] = [
        "fn ", "struct ", "enum ", "trait ", "type ", "mod ", "const ", "static ",
    ];
    let mut names = BTreeSet::new();
    for (path, text) in sources {
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            names.insert(stem.to_string());
        }
        for line in text.lines() {
            for keyword in KEYWORDS {
                let mut rest = line;
                while let Some(at) = rest.find(keyword) {
                    let before = &rest[..at];
                    rest = &rest[at + keyword.len()..];
                    if !before.is_empty() && !before.ends_with([' ', '(']) {
                        continue;
                    }
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            }
        }
    }
    names
}

/// What a module's doc names as code: each `` `name(…)` `` (a call) and
/// each intra-doc link `` [`path::name`] ``, by its last segment.
fn named_in_doc(doc: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (index, span) in doc.split('`').enumerate() {
        // Odd pieces are inside backquotes.
        if index % 2 == 0 {
            continue;
        }
        let link = doc.contains(&format!("[`{span}`]"));
        let call = span.split_once('(').map(|(callee, _)| callee);
        let Some(path) = call.or(link.then_some(span)) else {
            continue;
        };
        let name = path.rsplit("::").next().unwrap_or(path).trim();
        let is_identifier = !name.is_empty()
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if is_identifier {
            named.push(name.to_string());
        }
    }
    named
}

#[test]
fn module_docs_name_only_what_exists() {
    let sources = sources();
    let declared = declared_names(&sources);
    let mut stale = Vec::new();
    let mut checked = 0;
    for (path, text) in &sources {
        for name in named_in_doc(&module_doc(text)) {
            checked += 1;
            if !declared.contains(&name) {
                stale.push(format!("{}: `{name}`", path.display()));
            }
        }
    }
    assert!(checked > 15, "only {checked} names found in module docs");
    assert!(
        stale.is_empty(),
        "module docs name what no declaration in src/ does (renamed or removed?): {stale:#?}"
    );
}

/// The checks above read what they are meant to: a doc naming a missing
/// function is caught, and the names of declarations are found.
#[test]
fn the_doc_reader_finds_calls_and_links() {
    assert_eq!(
        named_in_doc("Entry point: [`check`]. Calls `load::program(roots)` and `x` and `a + b`."),
        ["check", "program"]
    );
    let declared = declared_names(&[(
        PathBuf::from("src/a.rs"),
        "pub(crate) fn go() {}\nstruct Thing;\nlet x = fn_like;".to_string(),
    )]);
    assert!(declared.contains("go") && declared.contains("Thing") && declared.contains("a"));
    assert!(!declared.contains("fn_like"));
}
