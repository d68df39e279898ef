//! The documentation's examples are programs, checked as they are shown.
//!
//! Every fenced block tagged `envk` in `docs/language.md` and in the code
//! pages `docs/codes/*.md` is a complete program: formatted as `envk fmt`
//! writes it, and `envk check` reports on it exactly the diagnostics its
//! inline annotations announce (`// error[E0602]` on the line of the
//! primary span, as in `tests/ui.rs`), or nothing at all. Fragments are
//! tagged `text` and not checked. A program split over files is shown as
//! consecutive `envk` blocks of one section, each starting with a comment
//! that is its file's name (`// teams.env.k`); they are checked together,
//! each file importing the others by that name.
//!
//! Each code of the registry is also held to its documentation: a row in
//! language.md's table of codes (marked retired, or a warning, as the
//! registry says), and a page whose `## Example` reports that code and
//! whose `## Fix` checks clean; a retired code's example checks clean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use envk::diag::{self, Code, Severity};
use envk::driver;
use envk::load::InMemory;
use envk::source::SourceMap;
use envk::syntax::format::format;

#[path = "support/annotations.rs"]
mod annotations;

use annotations::{annotations, located};

const LANGUAGE: &str = "docs/language.md";

/// A fenced block of a markdown document.
struct Block {
    /// The line of its opening fence, 1-based.
    line: usize,
    tag: String,
    text: String,
    /// The line of the heading it is under (0 before any), and its text.
    section: (usize, String),
}

fn blocks(doc: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut section = (0, String::new());
    let mut open: Option<Block> = None;
    for (index, line) in doc.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (Some(_), Some(_)) => found.extend(open.take()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, Some(tag)) => {
                open = Some(Block {
                    line: index + 1,
                    tag: tag.trim().to_string(),
                    text: String::new(),
                    section: section.clone(),
                });
            }
            (None, None) => {
                if let Some(heading) = line.strip_prefix('#') {
                    section = (
                        index + 1,
                        heading.trim_start_matches('#').trim().to_string(),
                    );
                }
            }
        }
    }
    assert!(open.is_none(), "a fence is never closed");
    found
}

/// One file of a documented program.
struct File<'d> {
    name: String,
    block: &'d Block,
}

/// A documented program: one `envk` block, or the named files of one
/// section.
struct Program<'d> {
    files: Vec<File<'d>>,
}

impl Program<'_> {
    fn line(&self) -> usize {
        self.files[0].block.line
    }

    fn section(&self) -> &str {
        &self.files[0].block.section.1
    }
}

/// The file name a block starts with (`// teams.env.k`), if it does.
fn file_name(block: &Block) -> Option<&str> {
    let name = block.text.lines().next()?.strip_prefix("// ")?.trim();
    (name.ends_with(".env.k") && !name.contains(char::is_whitespace)).then_some(name)
}

fn programs<'d>(doc: &Path, blocks: &'d [Block]) -> Vec<Program<'d>> {
    let mut found: Vec<Program<'d>> = Vec::new();
    for block in blocks.iter().filter(|block| block.tag == "envk") {
        let Some(name) = file_name(block) else {
            found.push(Program {
                files: vec![File {
                    name: doc.display().to_string(),
                    block,
                }],
            });
            continue;
        };
        // Beside `doc`, as if it were a folder, so that imports between the
        // files of a program resolve.
        let name = doc.join(name).display().to_string();
        match found.last_mut() {
            Some(program)
                if program.files[0].block.section == block.section
                    && file_name(program.files[0].block).is_some()
                    && program.files.iter().all(|file| file.name != name) =>
            {
                program.files.push(File { name, block });
            }
            _ => found.push(Program {
                files: vec![File { name, block }],
            }),
        }
    }
    found
}

/// What checking a documented program found.
struct Checked {
    /// The codes its annotations announce.
    announced: BTreeSet<String>,
    /// Whether envk reported anything on it.
    reported: bool,
    failures: Vec<String>,
}

fn check(doc: &Path, program: &Program) -> Checked {
    let mut failures = Vec::new();
    let whence = |file: &File| format!("{}:{}", doc.display(), file.block.line);
    for file in &program.files {
        let mut sources = SourceMap::new();
        let id = sources.add(file.name.clone(), file.block.text.clone());
        match format(sources.file(id)) {
            Ok(formatted) if formatted == file.block.text => {}
            Ok(formatted) => {
                let (at, shown, wanted) = first_difference(&file.block.text, &formatted);
                failures.push(format!(
                    "{}: the block is not as `envk fmt` writes it: line {} reads\n  {shown}\nwhere `envk fmt` writes\n  {wanted}\nThe whole block, formatted:\n{formatted}",
                    whence(file),
                    file.block.line + at
                ));
            }
            // A block that does not parse cannot be formatted: it passes
            // when its syntax errors are the ones it announces (below).
            Err(_) if !annotations(&file.block.text).is_empty() => {}
            Err(diagnostics) => failures.push(format!(
                "{}: the block does not parse:\n{}",
                whence(file),
                diag::render_plain(&sources, &diagnostics)
            )),
        }
    }
    // Each file is padded with the lines of the document above it, so
    // that diagnostics and annotations give the document's lines.
    let text = |file: &File| "\n".repeat(file.block.line) + &file.block.text;
    let roots: Vec<PathBuf> = program
        .files
        .iter()
        .map(|file| PathBuf::from(&file.name))
        .collect();
    let loader = program.files.iter().fold(InMemory::new(), |loader, file| {
        loader.with(&file.name, text(file))
    });
    let run = driver::check_with(&roots, &loader)
        .unwrap_or_else(|e| panic!("{}:{}: {e}", doc.display(), program.line()));
    let rendered = diag::render_plain(&run.sources, &run.diagnostics);
    let mut announced = BTreeSet::new();
    let mut placed = 0;
    for file in &program.files {
        let expected = annotations(&text(file));
        let actual = located(&run.sources, &file.name, &run.diagnostics);
        placed += actual.len();
        announced.extend(expected.iter().map(|(_, _, code)| code.clone()));
        if expected != actual {
            failures.push(format!(
                "{}: the block announces {expected:?} but envk reports {actual:?}:\n{rendered}",
                whence(file)
            ));
        }
    }
    if placed != run.diagnostics.len() {
        failures.push(format!(
            "{}:{}: envk reports diagnostics outside the example:\n{rendered}",
            doc.display(),
            program.line()
        ));
    }
    Checked {
        announced,
        reported: !run.diagnostics.is_empty(),
        failures,
    }
}

/// The first line (1-based) where two texts differ, and that line of each.
fn first_difference<'t>(shown: &'t str, wanted: &'t str) -> (usize, &'t str, &'t str) {
    let mut shown_lines = shown.lines();
    let mut wanted_lines = wanted.lines();
    let mut at = 1;
    loop {
        match (shown_lines.next(), wanted_lines.next()) {
            (Some(a), Some(b)) if a == b => at += 1,
            (a, b) => return (at, a.unwrap_or("(nothing)"), b.unwrap_or("(nothing)")),
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_language_reference_examples_check_as_announced() {
    let doc = Path::new(LANGUAGE);
    let blocks = blocks(&read(doc));
    let programs = programs(doc, &blocks);
    assert!(
        programs.len() >= 30,
        "expected the reference's examples, found {}",
        programs.len()
    );
    let failures: Vec<String> = programs
        .iter()
        .flat_map(|program| check(doc, program).failures)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The rows of the table under `heading`, by their first cell.
fn table_rows<'d>(doc: &'d str, heading: &str) -> Vec<(&'d str, &'d str)> {
    doc.lines()
        .skip_while(|line| !(line.starts_with('#') && line.contains(heading)))
        .skip(1)
        .take_while(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let cells = line.strip_prefix('|')?;
            let (first, rest) = cells.split_once('|')?;
            let code = first.trim();
            (code.len() == 5 && code.starts_with('E')).then_some((code, rest))
        })
        .collect()
}

#[test]
fn every_code_has_its_row_in_the_reference() {
    let doc = read(Path::new(LANGUAGE));
    let rows = table_rows(&doc, "How errors are reported");
    let mut failures = Vec::new();
    for code in Code::ALL {
        let name = code.as_str();
        let Some((_, row)) = rows.iter().find(|(listed, _)| *listed == name) else {
            failures.push(format!("{name} has no row in the table of codes"));
            continue;
        };
        let meaning = row.trim_start();
        if code.is_retired() != meaning.starts_with("retired") {
            failures.push(format!(
                "{name}'s row must start with `retired` exactly when the code is retired: {row}"
            ));
        }
        let warning = code.default_severity() == Severity::Warning && !code.is_retired();
        if warning != meaning.starts_with("W:") {
            failures.push(format!(
                "{name}'s row must start with `W:` exactly when the code is a warning: {row}"
            ));
        }
    }
    for (listed, _) in &rows {
        if Code::parse(listed).is_none() {
            failures.push(format!("{listed} is in the table of codes but not in envk"));
        }
    }
    // The list of warnings, where the reference says what a warning is.
    let warnings: BTreeSet<&str> = table_rows(&doc, "Errors and warnings")
        .into_iter()
        .map(|(code, _)| code)
        .collect();
    let expected: BTreeSet<&str> = Code::ALL
        .iter()
        .filter(|code| code.default_severity() == Severity::Warning && !code.is_retired())
        .map(|code| code.as_str())
        .collect();
    if warnings != expected {
        failures.push(format!(
            "\"Errors and warnings\" lists {warnings:?}, but the warnings are {expected:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_page_shows_its_code_and_its_fix() {
    let mut failures = Vec::new();
    for code in Code::ALL {
        let name = code.as_str();
        let path = PathBuf::from(format!("docs/codes/{name}.md"));
        let page = read(&path);
        let blocks = blocks(&page);
        let programs = programs(&path, &blocks);
        let mut examples = 0;
        let mut fixes = 0;
        for program in &programs {
            let checked = check(&path, program);
            failures.extend(checked.failures);
            match program.section() {
                "Example" => {
                    examples += 1;
                    if code.is_retired() {
                        if checked.reported {
                            failures.push(format!(
                                "{}:{}: {name} is retired, so its example must check clean",
                                path.display(),
                                program.line()
                            ));
                        }
                    } else if !checked.announced.contains(name) {
                        failures.push(format!(
                            "{}:{}: the example does not announce {name}",
                            path.display(),
                            program.line()
                        ));
                    }
                }
                "Fix" => {
                    fixes += 1;
                    if checked.reported || !checked.announced.is_empty() {
                        failures.push(format!(
                            "{}:{}: a fix must check clean",
                            path.display(),
                            program.line()
                        ));
                    }
                }
                _ => {}
            }
        }
        if examples == 0 {
            failures.push(format!(
                "{}: no `envk` block under ## Example",
                path.display()
            ));
        }
        if fixes == 0 && !code.is_retired() {
            failures.push(format!("{}: no `envk` block under ## Fix", path.display()));
        }
        if code.is_retired() && !page.contains("retired") {
            failures.push(format!(
                "{}: the page must say that {name} is retired",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The reference's tables of what a policy reads are the shape typing
/// checks policies against, generated from it (`ENVK_BLESS=1` rewrites
/// them).
#[test]
fn the_policy_reference_is_the_shape_policies_are_typed_against() {
    const START: &str = "<!-- policy-reference: generated from src/check/policy/shape.rs; a test holds them equal -->\n";
    const END: &str = "<!-- end policy-reference -->";
    let doc = read(Path::new(LANGUAGE));
    let start = doc
        .find(START)
        .expect("the reference has the generated block")
        + START.len();
    let end = start + doc[start..].find(END).expect("the generated block ends");
    let expected = format!("\n{}\n", envk::check::policy::shape::reference());
    if std::env::var_os("ENVK_BLESS").is_some_and(|v| v == "1") {
        let blessed = format!("{}{expected}{}", &doc[..start], &doc[end..]);
        std::fs::write(LANGUAGE, blessed).expect("the reference is writable");
        return;
    }
    assert!(
        doc[start..end] == expected,
        "the policy reference in {LANGUAGE} differs from the shape (run ENVK_BLESS=1 cargo test --test docs the_policy_reference and review the diff)"
    );
}
