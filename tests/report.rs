//! The HTML report of every example: well-formed (every element closed in
//! order, every attribute quoted, every `&` an entity), self-contained
//! (nothing fetched), with one row per env, binding and path of its
//! summary, and the figures of the cluster's README. A real browser draws
//! it in `.ci/report-check` (headless Chromium), which counts the same
//! things in the DOM it built.

use std::collections::BTreeMap;
use std::path::PathBuf;

use envk::emit;
use envk::summary::Summary;

/// Builds a program (a file or a folder of them) in memory.
fn build(path: &str) -> emit::Tree {
    let run = envk::driver::run(
        &[PathBuf::from(path)],
        envk::check::Goal::Model,
        envk::driver::Memory::Free,
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    let model = run
        .model
        .as_ref()
        .unwrap_or_else(|| panic!("{path} checks"));
    emit::emit(
        model,
        emit::Options {
            report: true,
            ..emit::Options::default()
        },
    )
}

const EXAMPLES: [&str; 4] = [
    "examples/enterprise.env.k",
    "examples/multi-team",
    "examples/regions",
    "tests/fixtures/enterprise-gitops.env.k",
];

/// HTML's void elements, which have no end tag.
const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];

/// The problems of a document as XML-like well-formed HTML: tags nested
/// and closed in order, attributes quoted, entities complete.
fn well_formed(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    let mut in_style = false;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        if !in_style {
            check_entities(text, &mut problems);
        }
        rest = &rest[start..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").expect("a comment ends");
            rest = &comment[end + 3..];
            continue;
        }
        let end = rest
            .find('>')
            .unwrap_or_else(|| panic!("a tag ends: {}", &rest[..40.min(rest.len())]));
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with("!DOCTYPE") {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(top) if top == name => {}
                other => problems.push(format!("`</{name}>` closes {other:?}")),
            }
            in_style = false;
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        check_attributes(name, attributes, &mut problems);
        if !self_closing && !VOID.contains(&name) {
            open.push(name.to_string());
            in_style = name == "style";
        }
    }
    if !open.is_empty() {
        problems.push(format!("left open: {open:?}"));
    }
    problems
}

fn check_entities(text: &str, problems: &mut Vec<String>) {
    for (at, _) in text.match_indices('&') {
        let entity = &text[at + 1..];
        let name: String = entity
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
            .collect();
        if name.is_empty() || !entity[name.len()..].starts_with(';') {
            problems.push(format!(
                "a bare `&` in {:?}",
                &text[at..(at + 20).min(text.len())]
            ));
        }
    }
    if text.contains('>') {
        problems.push(format!("a bare `>` in {:?}", text.trim()));
    }
}

/// `name="value"` pairs, separated by spaces.
fn check_attributes(tag: &str, mut attributes: &str, problems: &mut Vec<String>) {
    loop {
        attributes = attributes.trim_start();
        if attributes.is_empty() {
            return;
        }
        let Some((name, value)) = attributes.split_once("=\"") else {
            problems.push(format!("<{tag}>: an unquoted attribute in `{attributes}`"));
            return;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            problems.push(format!("<{tag}>: a bad attribute name `{name}`"));
        }
        let Some(end) = value.find('"') else {
            problems.push(format!("<{tag}>: an attribute not closed"));
            return;
        };
        check_entities(&value[..end], problems);
        attributes = &value[end + 1..];
    }
}

/// The sections of each cluster, by name.
fn sections(html: &str) -> BTreeMap<String, &str> {
    let mut out = BTreeMap::new();
    for piece in html.split("<section class=\"cluster\"").skip(1) {
        let end = piece.find("</section>").expect("a section ends");
        let name = attribute(piece, "data-cluster").expect("the section names its cluster");
        out.insert(name, &piece[..end]);
    }
    out
}

fn attribute(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("{name}=\""))? + name.len() + 2;
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_string())
}

/// How many elements have `class` among their classes.
fn count(html: &str, element: &str, class: &str) -> usize {
    html.match_indices(&format!("<{element} class=\""))
        .filter(|(at, _)| {
            let rest = &html[at + element.len() + 9..];
            let classes = &rest[..rest.find('"').unwrap_or(0)];
            classes.split(' ').any(|c| c == class)
        })
        .count()
}

/// The cells of each `<tr class="env">`, as text.
fn env_cells(section: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for row in section.split("<tr class=\"env\"").skip(1) {
        let row = &row[..row.find("</tr>").unwrap()];
        let cells: Vec<String> = row
            .split("<td")
            .skip(1)
            .map(|cell| {
                let cell = &cell[cell.find('>').unwrap() + 1..];
                cell[..cell.find("</td>").unwrap()].to_string()
            })
            .collect();
        out.insert(cells[0].clone(), cells);
    }
    out
}

/// The README's `| name | tier | pod security | cpu | memory | pods | cost |`
/// rows and its total cost.
fn readme_rows(readme: &str) -> (BTreeMap<String, Vec<String>>, String) {
    let mut rows = BTreeMap::new();
    let mut total = String::new();
    let table = readme
        .split("## Environments and quotas")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").nth(1))
        .expect("the README's table of quotas");
    for line in table.lines().skip(2) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().trim_matches('*').to_string())
            .collect();
        match cells[0].as_str() {
            "all namespaces" => total = cells[6].clone(),
            "capacity" => {}
            _ => {
                rows.insert(cells[0].clone(), cells);
            }
        }
    }
    (rows, total)
}

#[test]
fn every_example_reports_what_its_summary_and_readmes_say() {
    for example in EXAMPLES {
        let tree = build(example);
        let html = tree.files[emit::report::PATH].text();
        let problems = well_formed(&html);
        assert!(problems.is_empty(), "{example}: {problems:#?}");
        // Self-contained: nothing to fetch.
        for fetch in ["src=\"http", "href=\"http", "url(http", "<script", "<link"] {
            assert!(!html.contains(fetch), "{example}: `{fetch}`");
        }
        let summary = Summary::from_json(&tree.files[envk::summary::PATH].text()).unwrap();
        let sections = sections(&html);
        assert_eq!(
            sections.keys().collect::<Vec<_>>(),
            summary.clusters.keys().collect::<Vec<_>>(),
            "{example}: a section per cluster"
        );
        for (name, cluster) in &summary.clusters {
            let section = sections[name];
            let bindings = cluster
                .envs
                .values()
                .map(|env| env.grants.len())
                .sum::<usize>()
                + cluster.cluster_grants.len();
            let paths = cluster.paths().len();
            assert_eq!(
                attribute(section, "data-envs"),
                Some(cluster.envs.len().to_string())
            );
            assert_eq!(
                count(section, "tr", "env"),
                cluster.envs.len(),
                "{example} {name}"
            );
            assert_eq!(
                attribute(section, "data-bindings"),
                Some(bindings.to_string())
            );
            assert_eq!(
                count(section, "tr", "binding"),
                bindings,
                "{example} {name}"
            );
            assert_eq!(attribute(section, "data-paths"), Some(paths.to_string()));
            assert_eq!(
                count(section, "line", "path"),
                paths,
                "{example} {name}: arrows"
            );
            assert_eq!(
                count(section, "tr", "path"),
                paths,
                "{example} {name}: rows"
            );
            // The README's figures.
            let readme = tree.files[&format!("{name}/README.md")].text();
            let (rows, total) = readme_rows(&readme);
            let cells = env_cells(section);
            assert_eq!(
                cells.keys().collect::<Vec<_>>(),
                rows.keys().collect::<Vec<_>>(),
                "{example} {name}"
            );
            for (env, readme_row) in &rows {
                let report_row = &cells[env];
                // cpu, memory, pods and cost: README columns 3..7, the
                // report's 4..8.
                assert_eq!(
                    &report_row[4..8],
                    &readme_row[3..7],
                    "{example} {name} {env}"
                );
            }
            let cost_total = section
                .split("class=\"num cost-total\">")
                .nth(1)
                .map(|rest| rest[..rest.find('<').unwrap()].to_string());
            assert_eq!(cost_total, Some(total.clone()), "{example} {name}");
        }
    }
}

#[test]
fn the_well_formedness_check_finds_what_it_should() {
    assert!(well_formed("<p><b>x</b></p>").is_empty());
    assert!(!well_formed("<p><b>x</p></b>").is_empty());
    assert!(!well_formed("<p>Tom & Jerry</p>").is_empty());
    assert!(!well_formed("<p class=x>y</p>").is_empty());
    assert!(!well_formed("<p>").is_empty());
    assert!(well_formed("<svg><rect x=\"1\" /></svg><meta charset=\"utf-8\">").is_empty());
}

/// A large cluster's report lists each namespace's rules, linearly, and
/// says why there is no graph.
#[test]
fn a_large_cluster_gets_rules_not_a_graph() {
    let mut program = String::from(
        "cluster c { server = \"https://c.example.com\" environment = development }\ntier t { pod_security = baseline }\n",
    );
    for i in 0..(emit::report::GRAPH_LIMIT + 5) {
        program.push_str(&format!(
            "env team-{i} on c tier t {{ ingress allow from environment development on tcp 8080 }}\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("envk-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("large.env.k");
    std::fs::write(&file, program).unwrap();
    let tree = build(file.to_str().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    let html = tree.files[emit::report::PATH].text();
    assert!(well_formed(&html).is_empty());
    let section = sections(&html)["c"];
    assert_eq!(attribute(section, "data-paths").as_deref(), Some("-"));
    assert_eq!(count(section, "line", "path"), 0);
    assert_eq!(count(section, "tr", "rule"), emit::report::GRAPH_LIMIT + 5);
    assert!(section.contains("too many to draw every pair"));
    assert!(section.contains("environment development on TCP 8080"));
}
