//! `envk fmt`: canonical layout, idempotent, meaning and comments kept.

use std::path::{Path, PathBuf};

use envk::source::SourceMap;
use envk::syntax::{self, ast::Ast, format::format, spans};

fn format_text(text: &str) -> String {
    let mut sources = SourceMap::new();
    let id = sources.add("input.env.k", text);
    format(sources.file(id)).unwrap_or_else(|d| panic!("syntax errors: {d:?}"))
}

/// The tree of a text, with every span zeroed so trees compare by content.
fn tree(text: &str) -> Ast {
    let mut sources = SourceMap::new();
    let id = sources.add("input.env.k", text);
    let (mut ast, diagnostics) = syntax::parse(sources.file(id));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    spans::for_each_span_mut(&mut ast, &mut |span| *span = envk::source::Span::new(0, 0));
    ast
}

fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.find("//").map(|at| line[at..].trim_end().to_string()))
        .collect()
}

fn cases() -> Vec<PathBuf> {
    let mut all = envk::driver::collect_inputs(&[PathBuf::from("examples")]).unwrap();
    all.extend(
        envk::driver::collect_inputs(&[PathBuf::from("tests/ui")])
            .unwrap()
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with("_ok.env.k")),
    );
    all.push(PathBuf::from("tests/fixtures/design-example.env.k"));
    // The parser's cases hold each construct in its every form; the ones
    // with syntax errors have no layout to keep.
    all.extend(
        envk::driver::collect_inputs(&[PathBuf::from("tests/syntax")])
            .unwrap()
            .into_iter()
            .filter(|path| {
                let mut sources = SourceMap::new();
                let id = sources.load(path).unwrap();
                syntax::parse(sources.file(id)).1.is_empty()
            }),
    );
    all
}

#[test]
fn the_examples_are_formatted() {
    for path in envk::driver::collect_inputs(&[PathBuf::from("examples")]).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            format_text(&text),
            text,
            "{} is not formatted",
            path.display()
        );
    }
}

#[test]
fn formatting_is_idempotent_and_keeps_meaning_and_comments() {
    for path in cases() {
        let text = std::fs::read_to_string(&path).unwrap();
        let once = format_text(&text);
        let twice = format_text(&once);
        assert_eq!(once, twice, "{}: not idempotent", path.display());
        assert_eq!(
            tree(&once),
            tree(&text),
            "{}: formatting changed the tree",
            path.display()
        );
        let mut before = comment_lines(&text);
        let mut after = comment_lines(&once);
        before.sort();
        after.sort();
        assert_eq!(
            before,
            after,
            "{}: comments lost or changed",
            path.display()
        );
    }
}

#[test]
fn layout_rules() {
    let text = "cluster c {\n  server   =   \"https://c.example.com\"   // the API\n\n\n  capacity { cpu = 4  pods = 10 }\n}\n\n\n\nlet xs = [a,b,\n  c]\n";
    assert_eq!(
        format_text(text),
        "cluster c {\n  server = \"https://c.example.com\"  // the API\n\n  capacity { cpu = 4  pods = 10 }\n}\n\nlet xs = [\n  a,\n  b,\n  c,\n]\n"
    );
    // A list of clusters with a comment inside keeps it where it was.
    let clusters = "env shop on [\n  eu,  // first\n  us\n] tier t {}\nexternal x on [eu,us]\n";
    assert_eq!(
        format_text(clusters),
        "env shop on [\n  eu,  // first\n  us,\n] tier t {}\nexternal x on [eu, us]\n"
    );
    // Values are printed as written: units, escapes and raw strings.
    let literals = "let q = quota { requests.cpu = 0.50  requests.memory = 1.5Gi }\nlet s = `a\\b ${x}`\nlet t = \"tab\\there\"\n";
    assert_eq!(format_text(literals), literals);
    // A block too long for one line is broken over lines; the comment after
    // its `}` stays after the `}`, not after its first field.
    let long = format!(
        "cluster c {{\n  capacity {{ cpu = {0}  memory = {0}Gi  pods = {0}  other = {0} }}  // sized for the fleet\n}}\n",
        "1".repeat(20)
    );
    let formatted = format_text(&long);
    assert!(
        formatted.contains("\n  }  // sized for the fleet\n"),
        "{formatted}"
    );
}

#[test]
fn fmt_check_and_rewrite_from_the_command_line() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fmt-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.env.k");
    std::fs::write(&file, "tier t {pod_security=baseline}\n").unwrap();
    let envk = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_envk"))
            .args(args)
            .output()
            .unwrap()
    };
    let check = envk(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        file.display().to_string()
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "tier t {pod_security=baseline}\n",
        "--check writes nothing"
    );
    assert_eq!(envk(&["fmt", dir.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "tier t { pod_security = baseline }\n"
    );
    assert_eq!(
        envk(&["fmt", "--check", dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // A file with syntax errors is reported and left alone.
    let broken = dir.join("b.env.k");
    std::fs::write(&broken, "tier t { pod_security = }\n").unwrap();
    let output = envk(&["fmt", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "tier t { pod_security = }\n"
    );
    let examples = envk(&["fmt", "--check", "examples"]);
    assert_eq!(
        examples.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&examples.stdout)
    );
}
