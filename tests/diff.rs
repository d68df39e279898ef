//! `envk diff` as data: each folder of `tests/diff/` is a pull request, a
//! base and a change, with the terminal output (`expected.txt`, no
//! colour) and the Markdown comment (`expected.md`) it must give.
//! `ENVK_BLESS=1 cargo test --test diff` rewrites them; review the diff.
//!
//! A case is either two programs, `old.env.k` and `new.env.k`, or an
//! example changed by `edits.txt`: its first line `base: examples/…`, then
//! blocks `@@ FILE` (a file of the example), the text to find, a line
//! `==`, and what replaces it.
//!
//! Properties: a build diffed with itself is no change, whatever the
//! program; and the paths the meaning opens, closes and changes are
//! exactly the difference of the two builds' reachability matrices,
//! evaluated on their Models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envk::diff::{self, Side};
use envk::emit;
use envk::load::InMemory;
use envk::model::{self, Endpoint, Model, Reach};
use envk::summary::Place;

// Only `compare`: a case is a folder, not a `.env.k` file.
#[allow(dead_code)]
#[path = "support/golden.rs"]
mod golden;
#[path = "support/random.rs"]
mod random;

use random::Random;

/// A program's files, by path, and its roots.
struct Program {
    files: BTreeMap<PathBuf, String>,
}

impl Program {
    fn model(&self, label: &str) -> (Model, emit::Tree) {
        let mut loader = InMemory::new();
        for (path, text) in &self.files {
            loader = loader.with(path.clone(), text.clone());
        }
        let roots: Vec<PathBuf> = self.files.keys().cloned().collect();
        let run = envk::driver::check_with(&roots, &loader).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !run.has_errors(),
            "{label}: {}",
            run.diagnostics
                .iter()
                .map(|d| format!("{:?}: {}", d.code, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let model = run.model.expect("a model");
        let tree = emit::emit(&model, emit::Options::default());
        (model, tree)
    }

    fn side(&self, label: &str) -> Side {
        let (_, tree) = self.model(label);
        Side::of_tree(&tree)
    }
}

fn single(path: &Path) -> Program {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Program {
        files: BTreeMap::from([(path.to_path_buf(), text)]),
    }
}

/// Every `*.env.k` below `dir`.
fn folder(dir: &Path) -> Program {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".env.k") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.insert(path, text);
            }
        }
    }
    Program { files }
}

/// An example, and the example changed by `edits.txt`.
fn edited(case: &Path) -> (Program, Program) {
    let edits = std::fs::read_to_string(case.join("edits.txt")).unwrap();
    let mut lines = edits.lines();
    let base = lines
        .next()
        .and_then(|line| line.strip_prefix("base: "))
        .unwrap_or_else(|| panic!("{}: edits.txt starts with `base: PATH`", case.display()));
    let base = Path::new(base);
    let old = if base.is_dir() {
        folder(base)
    } else {
        single(base)
    };
    let mut new = Program {
        files: old.files.clone(),
    };
    let rest: Vec<&str> = lines.collect();
    let text = rest.join("\n");
    for block in text
        .split("\n@@ ")
        .map(|block| block.trim_start_matches("@@ "))
    {
        if block.trim().is_empty() {
            continue;
        }
        let (file, body) = block.split_once('\n').expect("`@@ FILE` then the edit");
        let (find, replace) = body
            .split_once("\n==\n")
            .unwrap_or_else(|| panic!("{}: `{file}`: no `==` line", case.display()));
        let path = if base.is_dir() {
            base.join(file.trim())
        } else {
            base.to_path_buf()
        };
        let content = new
            .files
            .get_mut(&path)
            .unwrap_or_else(|| panic!("{}: no file {}", case.display(), path.display()));
        assert_eq!(
            content.matches(find).count(),
            1,
            "{}: the text to find in {} must occur once:\n{find}",
            case.display(),
            path.display()
        );
        *content = content.replacen(find, replace, 1);
    }
    (old, new)
}

fn case_programs(case: &Path) -> (Program, Program) {
    if case.join("edits.txt").exists() {
        edited(case)
    } else {
        (
            single(&case.join("old.env.k")),
            single(&case.join("new.env.k")),
        )
    }
}

#[test]
fn diff_cases_render_as_expected() {
    let root = Path::new("tests/diff");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "the diff cases are found");
    let mut failures = Vec::new();
    for case in &cases {
        let (old, new) = case_programs(case);
        let label = case.display().to_string();
        let diff = diff::diff(&old.side(&label), &new.side(&label));
        let terminal = diff::render::terminal(&diff, false);
        golden::compare(case, &case.join("expected.txt"), &terminal, &mut failures);
        let parts = diff::render::markdown(&diff, diff::render::COMMENT_LIMIT);
        assert_eq!(parts.len(), 1, "{label}: a small change is one comment");
        golden::compare(case, &case.join("expected.md"), &parts[0], &mut failures);
        // The JSON is the same diff.
        let json: serde_json::Value = serde_json::from_str(&diff::render::json(&diff)).unwrap();
        assert_eq!(json["changed"], !diff.is_empty(), "{label}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every example, diffed with itself, is no change; diffed with the same
/// program built in the stream layout, no Kubernetes object and no
/// meaning changes (the objects are the same wherever the files put
/// them; the Prometheus files are compared by path, and are the layout's
/// own).
#[test]
fn a_build_diffed_with_itself_is_no_change() {
    let mut programs = vec![
        folder(Path::new("examples/multi-team")),
        folder(Path::new("examples/regions")),
    ];
    programs.push(single(Path::new("examples/enterprise.env.k")));
    for program in programs {
        let label = format!("{:?}", program.files.keys().next());
        let (model, tree) = program.model(&label);
        let stream = emit::emit(
            &model,
            emit::Options {
                layout: emit::Layout::Stream,
                ..emit::Options::default()
            },
        );
        let a = Side::of_tree(&tree);
        let b = Side::of_tree(&stream);
        let same = diff::diff(&a, &a);
        assert!(same.is_empty(), "{label}: {same:?}");
        assert_eq!(diff::render::terminal(&same, false), "no changes\n");
        let layouts = diff::diff(&a, &b);
        assert!(layouts.fleet.is_empty(), "{label}");
        for cluster in &layouts.clusters {
            assert!(cluster.meaning.is_empty(), "{label}: {}", cluster.name);
            let objects = &cluster.objects;
            let ids = objects
                .added
                .iter()
                .chain(&objects.removed)
                .chain(objects.changed.iter().map(|changed| &changed.object));
            for id in ids {
                assert_eq!(
                    id.kind,
                    diff::objects::FILE,
                    "{label}: tree against stream: {id}"
                );
            }
        }
    }
}

/// A generated program: clusters, envs with random network rules,
/// externals, quotas and grants.
fn generated(seed: u64) -> String {
    let mut r = Random(seed | 1);
    let mut out = String::new();
    let clusters = 1 + r.below(2) as usize;
    for c in 0..clusters {
        let prometheus = if r.chance(50) {
            "  prometheus { namespace = \"monitoring\" }\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "cluster c{c} {{\n  server = \"https://c{c}.example.com\"\n  environment = development\n{prometheus}}}\n"
        ));
    }
    out.push_str("tier open { pod_security = baseline }\n");
    out.push_str("tier closed { pod_security = baseline  network = isolated }\n");
    out.push_str("role reader { allow [get, list] on [pods] }\n");
    out.push_str("role writer { allow [get, create, delete] on [configmaps] }\n");
    let externals = r.below(2);
    for e in 0..externals {
        out.push_str(&format!(
            "external x{e} on c0 {{ namespace = \"ext-{e}\" }}\n"
        ));
    }
    let envs = 2 + r.below(5) as usize;
    let ports = ["tcp 8080", "tcp 9090", "tcp 8080, tcp 9090", "udp 53"];
    for e in 0..envs {
        let cluster = r.below(clusters as u64);
        let tier = if r.chance(30) { "closed" } else { "open" };
        out.push_str(&format!("env e{e} on c{cluster} tier {tier} {{\n"));
        out.push_str(&format!(
            "  quota {{ requests.cpu = {}  requests.memory = {}Gi }}\n",
            1 + r.below(4),
            1 + r.below(8)
        ));
        for _ in 0..r.below(3) {
            let port = if r.chance(30) {
                String::new()
            } else {
                format!(" on {}", r.pick(&ports))
            };
            let peer = match r.below(3) {
                0 => "environment development".to_string(),
                1 => format!("env e{}", r.below(envs as u64)),
                _ if externals > 0 => "external x0".to_string(),
                _ => "environment development".to_string(),
            };
            let direction = if r.chance(50) {
                "ingress allow from"
            } else {
                "egress allow to"
            };
            let peer = match (direction, r.chance(15)) {
                ("egress allow to", true) => "any".to_string(),
                _ => peer,
            };
            out.push_str(&format!("  {direction} {peer}{port}\n"));
        }
        if r.chance(50) {
            let role = if r.chance(50) { "reader" } else { "writer" };
            out.push_str(&format!("  grant {role} to group \"g{}\"\n", r.below(3)));
        }
        out.push_str("}\n");
    }
    out
}

/// A generated program that checks, and its Model.
fn checked(seed: u64) -> Option<(Program, Model, emit::Tree)> {
    let text = generated(seed);
    let program = Program {
        files: BTreeMap::from([(PathBuf::from("gen.env.k"), text)]),
    };
    let mut loader = InMemory::new();
    for (path, text) in &program.files {
        loader = loader.with(path.clone(), text.clone());
    }
    let run = envk::driver::check_with(&[PathBuf::from("gen.env.k")], &loader).ok()?;
    let model = run.model?;
    let tree = emit::emit(&model, emit::Options::default());
    Some((program, model, tree))
}

/// The reachability matrix of each cluster, evaluated on the Model as the
/// READMEs document it: between envs both ends' policies; from a
/// namespace envk does not manage, the receiving env's ingress alone; to
/// one, the sending env's egress alone.
fn matrices(model: &Model) -> BTreeMap<String, BTreeMap<(Place, Place), Reach>> {
    let mut out = BTreeMap::new();
    for cluster in model.clusters.values() {
        let envs: Vec<&model::Env> = model.envs_on(&cluster.name).collect();
        let (externals, prometheus) = model::unmanaged_namespaces(model, cluster, &envs);
        let mut unmanaged: Vec<(Place, String)> = externals
            .iter()
            .map(|x| (Place::External(x.name.clone()), x.namespace.clone()))
            .collect();
        if let Some(namespace) = prometheus {
            unmanaged.push((
                Place::Prometheus(namespace.to_string()),
                namespace.to_string(),
            ));
        }
        let mut matrix = BTreeMap::new();
        let mut put = |from: Place, to: Place, reach: Reach| {
            if reach != Reach::None {
                matrix.insert((from, to), reach);
            }
        };
        for from in &envs {
            for to in &envs {
                if from.name != to.name {
                    put(
                        Place::Env(from.name.clone()),
                        Place::Env(to.name.clone()),
                        model::reach(from, to),
                    );
                }
            }
            for (place, namespace) in &unmanaged {
                put(
                    Place::Env(from.name.clone()),
                    place.clone(),
                    from.network.allows(Endpoint::Namespace(namespace)),
                );
                put(
                    place.clone(),
                    Place::Env(from.name.clone()),
                    from.network.admits(Endpoint::Namespace(namespace)),
                );
            }
        }
        out.insert(cluster.name.clone(), matrix);
    }
    out
}

#[test]
fn the_reachability_delta_is_the_difference_of_the_matrices() {
    let cases: u64 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    let mut compared = 0;
    let mut with_paths = 0;
    for seed in 0..cases * 2 {
        let (Some((_, old_model, old_tree)), Some((_, new_model, new_tree))) =
            (checked(seed * 2 + 1), checked(seed * 2 + 2))
        else {
            continue;
        };
        compared += 1;
        // Each summary read back from the build's model.json, as from a
        // build folder.
        let old = Side::of_tree(&old_tree);
        let new = Side::of_tree(&new_tree);
        let diff = diff::diff(&old, &new);
        let (before, after) = (matrices(&old_model), matrices(&new_model));
        let names: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        for name in names {
            let empty = BTreeMap::new();
            let (b, a) = (
                before.get(name).unwrap_or(&empty),
                after.get(name).unwrap_or(&empty),
            );
            let mut expected_opened: Vec<(Place, Place, String)> = Vec::new();
            let mut expected_closed: Vec<(Place, Place, String)> = Vec::new();
            let mut expected_changed: Vec<(Place, Place, String, String)> = Vec::new();
            for (pair, reach) in a {
                match b.get(pair) {
                    None => {
                        expected_opened.push((pair.0.clone(), pair.1.clone(), reach.to_string()))
                    }
                    Some(was) if was != reach => expected_changed.push((
                        pair.0.clone(),
                        pair.1.clone(),
                        was.to_string(),
                        reach.to_string(),
                    )),
                    Some(_) => {}
                }
            }
            for (pair, reach) in b {
                if !a.contains_key(pair) {
                    expected_closed.push((pair.0.clone(), pair.1.clone(), reach.to_string()));
                }
            }
            with_paths += usize::from(!expected_opened.is_empty() || !expected_closed.is_empty());
            let meaning = diff
                .clusters
                .iter()
                .find(|cluster| &cluster.name == name)
                .map(|cluster| cluster.meaning.clone())
                .unwrap_or_default();
            let opened: Vec<_> = meaning
                .paths_opened
                .iter()
                .map(|p| (p.from.clone(), p.to.clone(), p.new.clone()))
                .collect();
            let closed: Vec<_> = meaning
                .paths_closed
                .iter()
                .map(|p| (p.from.clone(), p.to.clone(), p.old.clone()))
                .collect();
            let changed: Vec<_> = meaning
                .paths_changed
                .iter()
                .map(|p| (p.from.clone(), p.to.clone(), p.old.clone(), p.new.clone()))
                .collect();
            assert_eq!(
                opened, expected_opened,
                "seed {seed}, cluster {name}: opened"
            );
            assert_eq!(
                closed, expected_closed,
                "seed {seed}, cluster {name}: closed"
            );
            assert_eq!(
                changed, expected_changed,
                "seed {seed}, cluster {name}: changed"
            );
        }
        // And each is no change against itself.
        assert!(diff::diff(&old, &old).is_empty(), "seed {seed}");
    }
    assert!(
        compared >= cases as usize / 2,
        "most generated programs check: {compared}"
    );
    assert!(with_paths > 0, "some pairs differ in reachability");
}

/// A change too large for one comment is cut into parts that each fit,
/// numbered, and every cluster is in one of them.
#[test]
fn a_large_change_is_cut_into_comments_that_fit() {
    let mut old = String::from(
        "cluster c { server = \"https://c.example.com\" environment = development }\ntier t { pod_security = baseline }\nrole r { allow [get, create] on [configmaps] }\n",
    );
    let mut new = old.clone();
    for cluster in 0..4 {
        let line = format!(
            "cluster k{cluster} {{ server = \"https://k{cluster}.example.com\" environment = development }}\n"
        );
        old.push_str(&line);
        new.push_str(&line);
        for i in 0..60 {
            old.push_str(&format!(
                "env team-{cluster}-{i} on k{cluster} tier t {{ quota {{ requests.cpu = 1 }} ingress allow from environment development on tcp 8080 }}\n"
            ));
            new.push_str(&format!(
                "env team-{cluster}-{i} on k{cluster} tier t {{ quota {{ requests.cpu = 2 }} grant r to group \"g{i}\" ingress allow from environment development on tcp 8080, tcp {} }}\n",
                9000 + i
            ));
        }
    }
    let side = |text: &str| {
        Program {
            files: BTreeMap::from([(PathBuf::from("big.env.k"), text.to_string())]),
        }
        .side("big")
    };
    let diff = diff::diff(&side(&old), &side(&new));
    let limit = 20_000;
    let parts = diff::render::markdown(&diff, limit);
    assert!(parts.len() > 1, "cut into parts");
    for (index, part) in parts.iter().enumerate() {
        assert!(
            part.chars().count() <= limit,
            "part {index} fits: {}",
            part.chars().count()
        );
        assert!(part.contains(&format!("(part {} of {})", index + 1, parts.len())));
    }
    let all = parts.concat();
    for cluster in 0..4 {
        assert!(
            all.contains(&format!("<b>k{cluster}</b>")),
            "k{cluster} is in a part"
        );
    }
    // The full comment would not have fitted even without the diffs.
    let whole = diff::render::markdown(&diff, usize::MAX);
    assert_eq!(whole.len(), 1);
    assert!(whole[0].chars().count() > limit);
}
