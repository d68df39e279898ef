//! `envk build`: the seed article reproduced, golden output trees, the
//! atomic writer and the drift check, determinism, provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use envk::driver;

#[path = "support/tools.rs"]
mod tools;
use envk::emit::{self, Content, Layout, Options, Tree};
use envk::output::{self, Difference, MANIFEST};
use serde_yaml::Value;

/// The examples, and a fixture of the enterprise example with a `gitops`
/// block.
const PROGRAMS: [&str; 4] = [
    "examples/enterprise.env.k",
    "examples/multi-team",
    "examples/regions",
    "tests/fixtures/enterprise-gitops.env.k",
];

fn build(program: &str, options: Options) -> Tree {
    let run = driver::check(&[PathBuf::from(program)]).expect("readable example");
    let model = run.model.unwrap_or_else(|| {
        panic!(
            "{program} has errors:\n{}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        )
    });
    emit::emit(&model, options)
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("emitted YAML parses")
}

/// Scalars compared as text: the seed writes `regex: true` and `cpu: 2`
/// where the schemas and envk write strings.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Sequence(items) => Value::Sequence(items.iter().map(normalize).collect()),
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(k, v)| (normalize(k), normalize(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether everything in `expected` is in `actual`: maps may have more
/// keys (extra labels are fine), lists must match item by item.
fn contains(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Mapping(actual), Value::Mapping(expected)) => {
            for (key, value) in expected {
                let key_text = serde_yaml::to_string(key).unwrap_or_default();
                let here = format!("{path}.{}", key_text.trim());
                match actual.get(key) {
                    Some(found) => contains(found, value, &here)?,
                    None => return Err(format!("{here} is missing")),
                }
            }
            Ok(())
        }
        (Value::Sequence(actual), Value::Sequence(expected)) => {
            if actual.len() != expected.len() {
                return Err(format!(
                    "{path} has {} items, the seed {}",
                    actual.len(),
                    expected.len()
                ));
            }
            for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
                contains(a, e, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        (actual, expected) if actual == expected => Ok(()),
        (actual, expected) => Err(format!("{path} is {actual:?}, the seed has {expected:?}")),
    }
}

fn identity(object: &Value) -> (String, String, String, String) {
    let text = |value: &Value| value.as_str().unwrap_or("").to_string();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["name"]),
        text(&object["metadata"]["namespace"]),
    )
}

#[test]
fn the_enterprise_example_reproduces_every_seed_manifest() {
    let tree = build("examples/enterprise.env.k", Options::default());
    let ours: Vec<Value> = tree
        .files
        .iter()
        .filter(|(path, _)| path.ends_with(".yaml"))
        .map(|(_, text)| normalize(&yaml(&text.text())))
        .filter(|object| object.get("kind").is_some())
        .collect();
    let reference = include_str!("fixtures/seed/seed-manifests.yaml");
    let mut seen = 0;
    for document in serde_yaml::Deserializer::from_str(reference) {
        let expected = normalize(&Value::deserialize(document).expect("seed YAML parses"));
        let id = identity(&expected);
        let actual = ours
            .iter()
            .find(|object| identity(object) == id)
            .unwrap_or_else(|| panic!("no object {id:?} in the build"));
        if let Err(difference) = contains(actual, &expected, &id.1) {
            panic!("{id:?}: {difference}");
        }
        seen += 1;
    }
    assert_eq!(seen, 7, "the seed has seven objects");
}

use serde::Deserialize;

#[test]
fn the_enterprise_example_reproduces_the_seed_rules_and_scrape_jobs() {
    let tree = build("examples/enterprise.env.k", Options::default());
    let rules = normalize(&yaml(
        &tree.files["prod-cluster/monitoring/rules/enterprise-prod.rules.yaml"].text(),
    ));
    let seed_rules = normalize(&yaml(include_str!("fixtures/seed/seed-rules.yaml")));
    contains(&rules, &seed_rules, "rules").unwrap_or_else(|e| panic!("{e}"));

    let config = normalize(&yaml(
        &tree.files["prod-cluster/monitoring/prometheus.yaml"].text(),
    ));
    let seed = normalize(&yaml(include_str!("fixtures/seed/seed-prometheus.yaml")));
    assert_eq!(
        config["global"]["scrape_interval"],
        seed["global"]["scrape_interval"]
    );
    let jobs = config["scrape_configs"].as_sequence().expect("scrape jobs");
    for seed_job in seed["scrape_configs"].as_sequence().expect("seed jobs") {
        let name = &seed_job["job_name"];
        let job = jobs
            .iter()
            .find(|job| &job["job_name"] == name)
            .unwrap_or_else(|| panic!("no job {name:?}"));
        contains(job, seed_job, "job").unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Every example's whole output, file by file, against `tests/golden/`.
/// `ENVK_BLESS=1 cargo test --test build` rewrites it.
#[test]
fn examples_match_their_golden_trees() {
    let bless = std::env::var_os("ENVK_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let stream = Options {
        layout: Layout::Stream,
        ..Options::default()
    };
    for (program, golden, options) in [
        (
            "examples/enterprise.env.k",
            "tests/golden/enterprise",
            Options::default(),
        ),
        (
            "examples/multi-team",
            "tests/golden/multi-team",
            Options::default(),
        ),
        (
            "examples/multi-team",
            "tests/golden/multi-team-stream",
            stream,
        ),
        (
            "examples/regions",
            "tests/golden/regions",
            Options::default(),
        ),
        ("examples/regions", "tests/golden/regions-stream", stream),
        (
            "tests/fixtures/enterprise-gitops.env.k",
            "tests/golden/enterprise-gitops",
            Options::default(),
        ),
        (
            "tests/fixtures/enterprise-gitops.env.k",
            "tests/golden/enterprise-gitops-stream",
            stream,
        ),
    ] {
        let tree = build(program, options);
        let golden = Path::new(golden);
        if bless {
            output::write(&tree, golden).expect("golden folder is envk's");
            continue;
        }
        match output::compare(&tree, golden) {
            Ok(differences) if differences.is_empty() => {}
            Ok(differences) => failures.push(format!(
                "{program} differs from {}:\n{}",
                golden.display(),
                differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Err(error) => failures.push(format!("{program}: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run ENVK_BLESS=1 cargo test --test build and review the diff)",
        failures.join("\n\n")
    );
}

#[test]
fn output_is_deterministic_whatever_the_declaration_order() {
    let text = include_str!("../examples/enterprise.env.k");
    // The same items, in reverse order.
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_item = ["cluster ", "tier ", "role ", "env ", "import ", "let "]
            .iter()
            .any(|k| line.starts_with(k));
        if starts_item || items.is_empty() {
            items.push(String::new());
        }
        let last = items.last_mut().expect("pushed above");
        last.push_str(line);
        last.push('\n');
    }
    items.reverse();
    let reversed = items.concat();
    let dir = scratch("reversed");
    let path = dir.join("enterprise.env.k");
    std::fs::write(&path, reversed).unwrap();
    for layout in [Layout::Tree, Layout::Stream] {
        let options = Options {
            layout,
            ..Options::default()
        };
        let first = build("examples/enterprise.env.k", options);
        let again = build("examples/enterprise.env.k", options);
        assert_eq!(first, again, "two builds, same bytes");
        let shuffled = build(path.to_str().unwrap(), options);
        same_files(&first, &shuffled);
    }
}

fn same_files(first: &Tree, shuffled: &Tree) {
    assert_eq!(
        first.files.keys().collect::<Vec<_>>(),
        shuffled.files.keys().collect::<Vec<_>>()
    );
    for (name, content) in &first.files {
        assert_eq!(
            content, &shuffled.files[name],
            "{name} depends on declaration order"
        );
    }
}

/// The documents of a YAML file or stream.
fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("emitted YAML parses"))
        .collect()
}

/// The benchmark's fleet of `teams` teams (three envs each), written to a
/// scratch folder.
fn fleet(teams: usize) -> String {
    let output = Command::new("python3")
        .args(["bench/gen.py", &teams.to_string(), "--form", "compact"])
        .output()
        .expect("python3 runs bench/gen.py");
    assert!(output.status.success());
    let path = scratch("fleet").join("fleet.env.k");
    std::fs::write(&path, output.stdout).unwrap();
    path.to_str().unwrap().to_string()
}

/// Per cluster, the stream layout holds exactly the documents of the tree
/// layout, in namespace order, and one rule file with every env's group.
/// The fleet has envs enough to be serialized in many pieces, whose parts
/// the stream files are made of.
#[test]
fn the_stream_layout_holds_the_tree_layout_s_documents() {
    let fleet = fleet(100);
    for program in PROGRAMS.into_iter().chain([fleet.as_str()]) {
        let tree = build(program, Options::default());
        let stream = build(
            program,
            Options {
                layout: Layout::Stream,
                ..Options::default()
            },
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if program == fleet && cores > 1 {
            let parts = stream.files["dev-cluster/namespaces.yaml"].parts().len();
            assert!(
                parts > cores,
                "{parts} parts: the envs were not cut in pieces"
            );
        }
        // With a `gitops` block, `argocd/` is a kustomization of its own.
        let gitops = tree.files.contains_key("argocd/kustomization.yaml");
        let clusters: Vec<&str> = tree
            .files
            .keys()
            .filter_map(|path| path.strip_suffix("/kustomization.yaml"))
            .filter(|folder| *folder != "argocd" && !folder.contains('/'))
            .collect();
        assert!(!clusters.is_empty());
        for cluster in clusters {
            let in_tree = |folder: &str| -> Vec<Value> {
                tree.files
                    .iter()
                    .filter(|(path, _)| path.starts_with(&format!("{folder}/")))
                    .flat_map(|(_, text)| documents(&text.text()))
                    .collect()
            };
            // A cluster with no object of a group has no file for it.
            let in_stream = |file: &str| {
                stream
                    .files
                    .get(file)
                    .map_or_else(Vec::new, |text| documents(&text.text()))
            };
            let namespaces = format!("{cluster}/namespaces/");
            // The tree's files sorted by path are namespace by namespace; in
            // each namespace the stream keeps the emitters' order, so
            // compare as sets per namespace.
            let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (path, text) in &tree.files {
                if let Some(rest) = path.strip_prefix(&namespaces) {
                    let namespace = rest.split('/').next().unwrap().to_string();
                    by_namespace
                        .entry(namespace)
                        .or_default()
                        .push(serde_yaml::to_string(&yaml(&text.text())).unwrap());
                }
            }
            let mut streamed: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for document in in_stream(&format!("{cluster}/namespaces.yaml")) {
                let namespace = document["metadata"]["namespace"]
                    .as_str()
                    .or(document["metadata"]["name"].as_str())
                    .unwrap()
                    .to_string();
                streamed
                    .entry(namespace)
                    .or_default()
                    .push(serde_yaml::to_string(&document).unwrap());
            }
            for documents in by_namespace.values_mut().chain(streamed.values_mut()) {
                documents.sort();
            }
            assert_eq!(
                by_namespace, streamed,
                "{program}: {cluster}/namespaces.yaml"
            );
            assert_eq!(
                in_tree(&format!("{cluster}/monitoring/prometheusrules")),
                in_stream(&format!("{cluster}/monitoring/prometheusrules.yaml")),
                "{program}: {cluster}'s PrometheusRules"
            );
            // The cluster's own rule file is a file of its own in both.
            let cluster_rules = format!("{cluster}/monitoring/rules/_cluster.rules.yaml");
            assert_eq!(
                tree.files
                    .get(&cluster_rules)
                    .map(|text| yaml(&text.text())),
                stream
                    .files
                    .get(&format!("{cluster}/monitoring/_cluster.rules.yaml"))
                    .map(|text| yaml(&text.text())),
                "{program}: {cluster}'s own rule file"
            );
            let groups: Vec<Value> = tree
                .files
                .iter()
                .filter(|(path, _)| {
                    path.starts_with(&format!("{cluster}/monitoring/rules/"))
                        && **path != cluster_rules
                })
                .flat_map(|(_, text)| documents(&text.text()))
                .flat_map(|file| file["groups"].as_sequence().unwrap().clone())
                .collect();
            let combined = stream
                .files
                .get(&format!("{cluster}/monitoring/rules.yaml"))
                .map(|text| yaml(&text.text()));
            assert_eq!(
                combined
                    .as_ref()
                    .map_or(&[][..], |combined| combined["groups"]
                        .as_sequence()
                        .unwrap()
                        .as_slice()),
                groups.as_slice(),
                "{program}: {cluster}'s rule file"
            );
            // The cluster's API server, as its README gives it: a namespace
            // on several clusters has an Application for each.
            let readme = tree.files[&format!("{cluster}/README.md")].text();
            let server = readme
                .lines()
                .find_map(|line| line.strip_prefix("| API server | "))
                .and_then(|rest| rest.strip_suffix(" |"))
                .expect("the README names the API server")
                .to_string();
            let applications: Vec<Value> = in_tree("argocd/applications")
                .into_iter()
                .filter(|app| app["spec"]["destination"]["server"].as_str() == Some(&server))
                .collect();
            let mut cluster_objects = in_tree(&format!("{cluster}/cluster"));
            let mut streamed_cluster_objects = in_stream(&format!("{cluster}/cluster.yaml"));
            let text = |value: &Value| serde_yaml::to_string(value).unwrap();
            cluster_objects.sort_by_key(text);
            streamed_cluster_objects.sort_by_key(text);
            assert_eq!(
                cluster_objects, streamed_cluster_objects,
                "{program}: {cluster}'s ClusterRoles and ClusterRoleBindings"
            );
            let streamed_applications = match gitops {
                true => format!("argocd/applications/{cluster}.yaml"),
                false => format!("{cluster}/argocd.yaml"),
            };
            assert_eq!(
                applications,
                in_stream(&streamed_applications),
                "{program}: {cluster}'s Applications"
            );
        }
        let platform: Vec<Value> = tree
            .files
            .iter()
            .filter(|(path, _)| {
                path.starts_with("argocd/platform/") || *path == "argocd/envk-argocd.yaml"
            })
            .map(|(_, text)| yaml(&text.text()))
            .collect();
        let streamed_platform = stream
            .files
            .get("argocd/platform.yaml")
            .map_or_else(Vec::new, |text| documents(&text.text()));
        assert_eq!(
            platform, streamed_platform,
            "{program}: the platform's Applications"
        );
        assert_eq!(platform.is_empty(), !gitops);
        // The envs' own projects come in env order, the others after.
        let by_name = |mut projects: Vec<Value>| {
            projects
                .sort_by_key(|project| project["metadata"]["name"].as_str().map(str::to_string));
            projects
        };
        assert_eq!(
            by_name(documents(&stream.files["argocd/projects.yaml"].text())),
            by_name(
                tree.files
                    .iter()
                    .filter(|(path, _)| path.starts_with("argocd/projects/"))
                    .map(|(_, text)| yaml(&text.text()))
                    .collect::<Vec<_>>()
            ),
            "{program}: the projects"
        );
    }
}

#[test]
fn provenance_names_the_declaration_of_every_object() {
    let tree = build(
        "examples/enterprise.env.k",
        Options {
            provenance: true,
            ..Options::default()
        },
    );
    let mut annotated = 0;
    for (path, text) in &tree.files {
        if !path.ends_with(".yaml") || path.ends_with("kustomization.yaml") {
            continue;
        }
        let object = yaml(&text.text());
        if object.get("kind").is_none() || object["kind"] == "AppProject" {
            continue;
        }
        let source = object["metadata"]["annotations"][emit::SOURCE_ANNOTATION]
            .as_str()
            .unwrap_or_else(|| panic!("{path} has no source annotation"));
        let (file, line) = source.rsplit_once(':').expect("FILE:LINE");
        assert!(
            file == "examples/enterprise.env.k" || file.starts_with("<std/"),
            "{path}: {source}"
        );
        assert!(line.parse::<usize>().is_ok_and(|l| l > 0), "{source}");
        annotated += 1;
    }
    assert!(annotated >= 20, "{annotated} objects annotated");
    let quota =
        yaml(&tree.files["prod-cluster/namespaces/enterprise-prod/resourcequota.yaml"].text());
    let line = quota["metadata"]["annotations"][emit::SOURCE_ANNOTATION]
        .as_str()
        .unwrap();
    let text = include_str!("../examples/enterprise.env.k");
    let number: usize = line.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(
        text.lines()
            .nth(number - 1)
            .unwrap()
            .contains("quota prod-resource-quota"),
        "the quota's source line is its declaration"
    );
}

/// The build of `text`, a program written to a scratch folder `name`.
fn build_program(name: &str, text: &str) -> Tree {
    let path = scratch(name).join("program.env.k");
    std::fs::write(&path, text).expect("scratch file");
    build(path.to_str().expect("a UTF-8 path"), Options::default())
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("build")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn envk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_envk"))
        .args(args)
        .output()
        .expect("envk runs")
}

#[test]
fn build_then_check_is_up_to_date_and_drift_is_listed() {
    let dir = scratch("drift");
    let out = dir.join("out");
    let out_text = out.to_str().unwrap();
    let first = envk(&["build", "examples/enterprise.env.k", "-o", out_text]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out.join(MANIFEST).exists());
    let check = envk(&[
        "build",
        "--check",
        "examples/enterprise.env.k",
        "-o",
        out_text,
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.stdout.is_empty());

    std::fs::write(out.join("prod-cluster/README.md"), "edited by hand\n").unwrap();
    std::fs::remove_file(out.join("prod-cluster/namespaces/enterprise-prod/resourcequota.yaml"))
        .unwrap();
    let drift = envk(&[
        "build",
        "--check",
        "examples/enterprise.env.k",
        "-o",
        out_text,
    ]);
    assert_eq!(drift.status.code(), Some(1));
    let listed = String::from_utf8(drift.stdout).unwrap();
    assert_eq!(
        listed,
        "changed  prod-cluster/README.md\n\
         added    prod-cluster/namespaces/enterprise-prod/resourcequota.yaml\n"
    );
    assert!(String::from_utf8_lossy(&drift.stderr).contains("is not up to date: 2 files differ"));

    // A rebuild brings it back, and removes what the program no longer has.
    let rebuilt = envk(&["build", "examples/enterprise.env.k", "-o", out_text]);
    assert_eq!(rebuilt.status.code(), Some(0));
    let tree = build("examples/enterprise.env.k", Options::default());
    assert_eq!(
        output::compare(&tree, &out).unwrap(),
        Vec::<Difference>::new()
    );
}

/// A file made of parts is written as their concatenation, whatever the
/// parts: empty ones, and more than one `writev` call takes (1024). The
/// drift check compares the same bytes, and sees a change in any part.
#[test]
fn a_file_of_many_parts_is_written_and_compared_whole() {
    let dir = scratch("parts");
    let out = dir.join("out");
    let mut parts: Vec<String> = (0..3000)
        .map(|n| match n % 3 {
            0 => String::new(),
            _ => format!("- item {n}\n"),
        })
        .collect();
    parts.push(String::new());
    let whole = parts.concat();
    let mut tree = Tree::default();
    tree.files.insert(
        "c/list.yaml".to_string(),
        Content::from_parts(parts.clone()),
    );
    tree.files
        .insert("c/empty.yaml".to_string(), Content::from_parts(Vec::new()));
    output::write(&tree, &out).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("c/list.yaml")).unwrap(),
        whole
    );
    assert_eq!(std::fs::read(out.join("c/empty.yaml")).unwrap(), b"");
    assert_eq!(tree.files["c/list.yaml"], Content::from(whole.clone()));
    assert_eq!(output::compare(&tree, &out).unwrap(), []);

    parts[1].push('!');
    tree.files
        .insert("c/list.yaml".to_string(), Content::from_parts(parts));
    assert_ne!(tree.files["c/list.yaml"], Content::from(whole));
    assert_eq!(
        output::compare(&tree, &out).unwrap(),
        [Difference::Changed("c/list.yaml".to_string())]
    );
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let dir = scratch("atomic");
    let out = dir.join("out");
    let out_text = out.to_str().unwrap();
    assert_eq!(
        envk(&["build", "examples/enterprise.env.k", "-o", out_text])
            .status
            .code(),
        Some(0)
    );
    let before = snapshot(&out);

    // An invalid program: nothing is written.
    let broken = dir.join("broken.env.k");
    std::fs::write(
        &broken,
        "cluster c { server = \"http://c\" environment = production }\n",
    )
    .unwrap();
    let failed = envk(&["build", broken.to_str().unwrap(), "-o", out_text]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(snapshot(&out), before);

    // A write that fails halfway: the tree holds a file `zz` and a file
    // `zz/inner.yaml`, so after every other file is written, the folder
    // `zz` cannot be made.
    let mut tree = build("examples/multi-team", Options::default());
    tree.files.insert("zz".to_string(), "a file\n".into());
    tree.files
        .insert("zz/inner.yaml".to_string(), "kind: X\n".into());
    let error = output::write(&tree, &out).expect_err("the write must fail");
    assert!(error.to_string().contains("zz"), "{error}");
    assert_eq!(snapshot(&out), before, "a failed write changed the output");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left behind: {leftovers:?}"
    );
}

#[test]
fn envk_refuses_to_replace_what_it_did_not_write() {
    let dir = scratch("foreign");
    let tree = build("examples/enterprise.env.k", Options::default());

    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let error = output::write(&tree, &foreign).unwrap_err();
    assert!(
        error.to_string().contains("was not written by envk"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );

    // A folder envk wrote, where someone added a file since.
    let ours = dir.join("ours");
    output::write(&tree, &ours).unwrap();
    std::fs::write(ours.join("prod-cluster/extra.yaml"), "kind: ConfigMap\n").unwrap();
    let error = output::write(&tree, &ours).unwrap_err();
    assert!(
        error.to_string().contains("`prod-cluster/extra.yaml`"),
        "{error}"
    );
    assert!(ours.join("prod-cluster/extra.yaml").exists());

    // An empty folder is fine.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    output::write(&tree, &empty).unwrap();
    assert!(empty.join(MANIFEST).exists());

    let cli = envk(&[
        "build",
        "examples/enterprise.env.k",
        "-o",
        foreign.to_str().unwrap(),
    ]);
    assert_eq!(cli.status.code(), Some(2));
}

/// Values that YAML 1.1 readers (kubectl, Argo CD, Prometheus) would take
/// for booleans, numbers or dates reach them as strings.
#[test]
fn yaml_1_1_lookalikes_are_quoted_in_the_output() {
    let program = r#"
cluster c { server = "https://c.example.com" environment = development }
tier t { pod_security = baseline }
env on on c tier t {
  labels { flag = "yes"  n = "no"  size = "1_000" }
  annotations { "example.com/when" = "12:30" }
  ingress allow from environment development
}
"#;
    let tree = build_program("yaml11", program);
    let namespace = tree.files["c/namespaces/on/namespace.yaml"].text();
    for quoted in [
        "name: 'on'",
        "flag: 'yes'",
        "'n': 'no'",
        "size: '1_000'",
        "example.com/when: '12:30'",
    ] {
        assert!(namespace.contains(quoted), "{quoted} in:\n{namespace}");
    }
    let value = yaml(&namespace);
    assert_eq!(
        value["metadata"]["labels"]["flag"],
        Value::String("yes".to_string())
    );
}

/// A rule that reads an exporter its cluster does not scrape still has
/// its tests (they pass: they feed the series themselves), and its test
/// file says it never fires there.
#[test]
fn rule_tests_say_which_rules_never_fire_on_their_cluster() {
    let tree = build_program(
        "unscraped-tests",
        "import \"std/alerts\"\n\
         cluster edge { server = \"https://edge.example.com\" environment = production  prometheus { scrape = [kubelet] } }\n\
         tier t { pod_security = baseline }\n\
         env shop on edge tier t { alert PodCrashLooping  alert PersistentVolumeFillingUp }\n",
    );
    let tests = tree.files["edge/monitoring/tests/shop.test.yaml"].text();
    assert!(tests.starts_with(
        "# never fires on edge: shop/PodCrashLooping reads kube-state-metrics' series, which its Prometheus does not scrape\nrule_files:"
    ), "{tests}");
    assert!(!tests.contains("shop/PersistentVolumeFillingUp"), "{tests}");
    assert!(tests.contains("- name: PodCrashLooping fires"));
    assert!(tests.contains("- name: PersistentVolumeFillingUp fires"));
}

/// Two rules of one group with one name are not tested: promtool tests
/// alerts by name, so each would fire in the other's test. Their test
/// file says so; the env's other rules are tested.
#[test]
fn rules_sharing_a_name_are_named_untested() {
    let tree = build_program(
        "same-name-tests",
        "import \"std/alerts\"\n\
         cluster c { server = \"https://c.example.com\" environment = production }\n\
         tier t { pod_security = baseline }\n\
         env shop on c tier t {\n\
           alert HighPodMemoryUsage { threshold = 80% }\n\
           alert HighPodMemoryUsage { threshold = 95%  severity = critical }\n\
           alert PodCrashLooping\n\
         }\n",
    );
    let tests = tree.files["c/monitoring/tests/shop.test.yaml"].text();
    assert_eq!(
        tests
            .matches("# untested: shop/HighPodMemoryUsage: another rule of its group has its name")
            .count(),
        2,
        "{tests}"
    );
    assert!(!tests.contains("- name: HighPodMemoryUsage"), "{tests}");
    assert!(tests.contains("- name: PodCrashLooping fires"), "{tests}");
}

/// A cluster's README shows who can reach whom as a matrix while that is
/// readable, and as each namespace's rules beyond, so it grows linearly.
#[test]
fn large_clusters_get_a_linear_network_summary() {
    let mut program = String::from(
        "cluster c { server = \"https://c.example.com\" environment = development }\ntier t { pod_security = baseline }\n",
    );
    for i in 0..25 {
        program.push_str(&format!(
            "env team-{i} on c tier t {{ ingress allow from environment development on tcp 8080 }}\n"
        ));
    }
    let tree = build_program("large-readme", &program);
    let readme = tree.files["c/README.md"].text();
    assert!(readme.contains("| Namespace | Accepts traffic from | Sends traffic to |"));
    assert!(readme.contains("| team-7 | environment development on TCP 8080 | anywhere |"));
    assert!(!readme.contains("from \\ to"), "no matrix of 25² cells");
    // The rows the template is given whole sit where its loops put them.
    assert!(readme.contains("| Namespaces | 25 |"));
    assert!(readme.contains("|---:|\n| team-0 | t | baseline | — | — | — | — |\n| team-1 |"));
    assert!(readme.contains("| team-9 | t | baseline | — | — | — | — |\n| **all namespaces** |"));
    assert!(readme.contains(
        "No role is granted on this cluster.\n\n## Cluster-wide access\n\n\
         No cluster role is granted on this cluster.\n\n## Deployed by the teams\n\n\
         No env of this cluster deploys with Argo CD.\n\n## Who can reach whom"
    ));
    assert!(readme.contains("pair would have 25² cells)."));
    assert!(
        readme.contains(
            "| team-9 | environment development on TCP 8080 | anywhere |\n\n## Monitoring"
        )
    );
}

/// A Role or RoleBinding name may be as long as Kubernetes allows (253),
/// longer than a file name may be with its prefix: the tree layout still
/// writes every object, and `build --check` finds it up to date.
#[test]
fn names_as_long_as_kubernetes_allows_build_in_the_tree_layout() {
    let dir = scratch("long-names");
    let role = format!("r{}", "-x".repeat(126));
    assert_eq!(role.len(), 253);
    let binding = format!("b{}", "-y".repeat(126));
    let program = format!(
        "cluster c {{\n  server = \"https://c.example.com\"\n  environment = development\n}}\n\
         tier t {{ pod_security = baseline }}\n\
         role {role} {{ allow [get] on [pods] }}\n\
         env e on c tier t {{\n  grant {role} to group \"g\" as {binding}\n}}\n"
    );
    let source = dir.join("long.env.k");
    std::fs::write(&source, program).unwrap();
    let out = dir.join("out");
    let (source, out) = (source.to_str().unwrap(), out.to_str().unwrap());
    let built = envk(&["build", source, "-o", out]);
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let files = snapshot(Path::new(out));
    let roles = files
        .iter()
        .filter(|(path, _)| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("role-") || name.starts_with("rolebinding-")
        })
        .count();
    assert_eq!(roles, 2);
    let check = envk(&["build", "--check", source, "-o", out]);
    assert_eq!(check.status.code(), Some(0));
}

/// `--argocd applicationsets` gives, through Argo CD's list generator and
/// template patch, exactly the Applications of the per-env build: the
/// test expands each element as the ApplicationSet controller does with
/// `goTemplate` (`{{.key}}` is the element's value; the template patch,
/// `{{ toJson .patch }}`, is the element's `patch`, merged into the
/// rendered template).
#[test]
fn applicationsets_give_the_per_env_applications() {
    let fleet = fleet(100);
    for program in PROGRAMS.into_iter().chain([fleet.as_str()]) {
        for provenance in [false, true] {
            let per_env = build(
                program,
                Options {
                    provenance,
                    ..Options::default()
                },
            );
            let sets = build(
                program,
                Options {
                    provenance,
                    argocd: emit::ArgoCd::ApplicationSets,
                    ..Options::default()
                },
            );
            let applications: BTreeMap<String, serde_json::Value> = per_env
                .files
                .iter()
                .filter(|(path, _)| path.starts_with("argocd/applications/"))
                .map(|(_, text)| {
                    let app = serde_json::to_value(yaml(&text.text())).unwrap();
                    (app["metadata"]["name"].as_str().unwrap().to_string(), app)
                })
                .collect();
            assert!(
                !sets
                    .files
                    .keys()
                    .any(|path| path.starts_with("argocd/applications/")),
                "{program}: no Application file beside the ApplicationSets"
            );
            let mut expanded: BTreeMap<String, serde_json::Value> = BTreeMap::new();
            for (path, text) in &sets.files {
                if !path.starts_with("argocd/applicationsets/") {
                    continue;
                }
                let set = serde_json::to_value(yaml(&text.text())).unwrap();
                assert_eq!(set["kind"], "ApplicationSet", "{path}");
                let spec = &set["spec"];
                assert_eq!(spec["goTemplate"], true, "{path}");
                assert_eq!(spec["templatePatch"], "{{ toJson .patch }}", "{path}");
                let environment = path
                    .strip_prefix("argocd/applicationsets/")
                    .and_then(|file| file.strip_suffix(".yaml"))
                    .unwrap();
                for element in spec["generators"][0]["list"]["elements"]
                    .as_array()
                    .unwrap()
                {
                    let mut app = render(&spec["template"], element);
                    app["apiVersion"] = "argoproj.io/v1alpha1".into();
                    app["kind"] = "Application".into();
                    merge(&mut app, &element["patch"]);
                    let name = app["metadata"]["name"].as_str().unwrap().to_string();
                    let server = app["spec"]["destination"]["server"].as_str().unwrap();
                    assert!(
                        per_env.files.iter().any(|(path, text)| {
                            path.ends_with("/README.md")
                                && text.text().contains(&format!("| API server | {server} |"))
                                && text
                                    .text()
                                    .contains(&format!("| Environment | {environment} |"))
                        }),
                        "{program}: {name} is in the ApplicationSet of its environment"
                    );
                    assert!(
                        expanded.insert(name.clone(), app).is_none(),
                        "{program}: {name} twice"
                    );
                }
            }
            assert_eq!(
                expanded.keys().collect::<Vec<_>>(),
                applications.keys().collect::<Vec<_>>(),
                "{program}: the same Applications"
            );
            for (name, app) in &applications {
                assert_eq!(&expanded[name], app, "{program}: {name}");
            }
        }
    }
}

/// A template's strings with `{{.key}}` replaced by the element's value.
fn render(template: &serde_json::Value, element: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match template {
        Value::String(text) => match text.strip_prefix("{{.").and_then(|t| t.strip_suffix("}}")) {
            Some(key) => element[key].clone(),
            None => {
                assert!(!text.contains("{{"), "unexpected template text {text:?}");
                Value::String(text.clone())
            }
        },
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), render(value, element)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, element)).collect()),
        other => other.clone(),
    }
}

/// `patch` merged into `into`, maps key by key.
fn merge(into: &mut serde_json::Value, patch: &serde_json::Value) {
    match (into, patch) {
        (serde_json::Value::Object(into), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge(
                    into.entry(key.clone()).or_insert(serde_json::Value::Null),
                    value,
                );
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

/// A tier whose envs manage their own network or access: grants there may
/// change those kinds, their projects do not blacklist them, and the
/// README marks the namespaces as outside what envk proves.
#[test]
fn self_managed_namespaces_are_marked_outside_the_proof() {
    let dir = std::env::temp_dir().join(format!("envk-self-managed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fleet.env.k");
    std::fs::write(
        &path,
        "cluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n\
         tier play { pod_security = baseline  self_managed = [network] }\n\
         tier fenced { pod_security = baseline }\n\
         role owner { allow [get, list, create, update, delete] on [networkpolicies] }\n\
         env sandbox on dev tier play {\n  grant owner to group \"owners\"\n  \
         deploy { repo = \"https://git.example.com/sandbox\"  path = \"k8s\" }\n}\n\
         env shop on dev tier fenced {\n  \
         deploy { repo = \"https://git.example.com/shop\"  path = \"k8s\" }\n}\n",
    )
    .unwrap();
    let tree = build(path.to_str().unwrap(), Options::default());
    let readme = tree.files["dev/README.md"].text();
    assert!(
        readme.contains("Outside the proof: namespace `sandbox` manages its own NetworkPolicies"),
        "{readme}"
    );
    assert!(readme.contains("| sandbox (self-managed) |"), "{readme}");
    assert!(
        !readme.contains("RoleBindings\n(`self_managed = [rbac]`)"),
        "{readme}"
    );
    let blacklist = |project: &str| -> Vec<String> {
        let project = yaml(&tree.files[&format!("argocd/projects/{project}.yaml")].text());
        project["spec"]["namespaceResourceBlacklist"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|kind| kind["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        blacklist("sandbox"),
        ["ResourceQuota", "LimitRange", "Role", "RoleBinding"]
    );
    assert_eq!(
        blacklist("shop"),
        [
            "ResourceQuota",
            "LimitRange",
            "NetworkPolicy",
            "Role",
            "RoleBinding"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Alertmanager takes the first route that matches, but the routing envk
/// writes does not depend on the order the routes were written in: every
/// order gives the same file, in which each alert takes its most specific
/// route (read here as Alertmanager reads the file, first match).
#[test]
fn routes_do_not_depend_on_the_order_they_are_written_in() {
    let head = r##"
cluster prod {
  server = "https://prod.example.com"
  environment = production
  prometheus { alertmanager = "http://alertmanager.monitoring.svc:9093" }
}
receiver pager { pagerduty { routing_key_file = "/etc/alertmanager/secrets/pd" } }
receiver a-pager { pagerduty { routing_key_file = "/etc/alertmanager/secrets/a-pd" } }
receiver a-chat { slack { channel = "#a"  api_url_file = "/etc/alertmanager/secrets/slack" } }
receiver b-chat { slack { channel = "#b"  api_url_file = "/etc/alertmanager/secrets/slack" } }
receiver fallback { webhook { url = "http://hooks.monitoring.svc/alerts" } }
"##;
    let routes = [
        "route team \"a\" severity critical to a-pager",
        "route team \"a\" to a-chat",
        "route team \"b\" to b-chat",
        "route severity critical to pager",
        "route severity warning to b-chat",
        "route to fallback",
    ];
    // Each label set, and the receiver its most specific route names.
    let expected = [
        (Some("a"), Some("critical"), "a-pager"),
        (Some("a"), Some("warning"), "a-chat"),
        (Some("a"), None, "a-chat"),
        (Some("b"), Some("critical"), "b-chat"),
        (Some("c"), Some("critical"), "pager"),
        (Some("c"), Some("warning"), "b-chat"),
        (None, Some("info"), "fallback"),
        (None, None, "fallback"),
    ];
    let mut first: Option<String> = None;
    for rotation in 0..routes.len() {
        for reversed in [false, true] {
            let mut order: Vec<&str> = routes.to_vec();
            order.rotate_left(rotation);
            if reversed {
                order.reverse();
            }
            let text = format!("{head}{}\n", order.join("\n"));
            let tree = build_program("routes-order", &text);
            let config = tree.files["prod/monitoring/alertmanager.yaml"]
                .text()
                .into_owned();
            match &first {
                Some(first) => assert_eq!(first, &config, "routes in the order {order:?}"),
                None => first = Some(config),
            }
        }
    }
    let config = yaml(first.as_deref().expect("built"));
    let children = config["route"]["routes"]
        .as_sequence()
        .expect("child routes");
    for (team, severity, receiver) in expected {
        let labels = [("team", team), ("severity", severity)];
        let taken = children
            .iter()
            .find(|route| {
                route["matchers"]
                    .as_sequence()
                    .expect("matchers")
                    .iter()
                    .all(|matcher| {
                        let (label, value) = matcher
                            .as_str()
                            .and_then(|m| m.split_once('='))
                            .expect("label=\"value\"");
                        let value = value.trim_matches('"');
                        labels
                            .iter()
                            .any(|(name, actual)| *name == label && *actual == Some(value))
                    })
            })
            .map_or(&config["route"]["receiver"], |route| &route["receiver"]);
        assert_eq!(taken, receiver, "team {team:?}, severity {severity:?}");
    }
}

/// A template's own `test` is written beside envk's tests, filled in for
/// each env, and promtool passes it, in both layouts (CI has promtool and
/// fails without it).
#[test]
fn written_tests_pass_promtool() {
    let Some(promtool) = tools::required("promtool") else {
        return;
    };
    for layout in [Layout::Tree, Layout::Stream] {
        let options = Options {
            layout,
            ..Options::default()
        };
        let tree = build("tests/fixtures/written-tests.env.k", options);
        let out = scratch(&format!("written-tests-{layout:?}"));
        let mut test_files = Vec::new();
        for (path, content) in &tree.files {
            let file = out.join(path);
            std::fs::create_dir_all(file.parent().expect("a folder")).unwrap();
            std::fs::write(&file, content.text().as_bytes()).unwrap();
            if path.ends_with(".test.yaml") {
                test_files.push(file);
            }
        }
        let mut written = 0;
        let mut untested = 0;
        for file in &test_files {
            let text = std::fs::read_to_string(file).unwrap();
            untested += text.matches("# untested").count();
            written += text.matches("test from its template").count();
            let output = std::process::Command::new(&promtool)
                .arg("test")
                .arg("rules")
                .arg(file.file_name().expect("a file"))
                .current_dir(file.parent().expect("a folder"))
                .output()
                .expect("promtool runs");
            assert!(
                output.status.success(),
                "{}: {}{}",
                file.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // Two templates with tests, used by two envs; in one file, the
        // rules named alike cannot be told apart.
        let expected = match layout {
            Layout::Tree => (4, 0),
            Layout::Stream => (2, 2),
        };
        assert_eq!((written, untested), expected, "{layout:?}");
    }
}
