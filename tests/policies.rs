//! Policies, property-tested against an evaluator of this test's own.
//!
//! A generator writes random programs (envs on a development and a
//! production cluster, with labels, quotas or none, and grants of three
//! roles, one with `*` verbs) and random policies drawn from a grammar over
//! labels, quotas and grants. The program without its policies is built,
//! and each policy is evaluated here over the emitted YAML (Namespace
//! labels, ResourceQuota `spec.hard`, RoleBindings and the Roles they
//! name), never over the Model: the envs envk reports as breaking a policy
//! (E0901, at the env's lines) must be exactly those. Then a violation is
//! injected into a program that meets its policies, and must be reported
//! at the injected line.
//!
//! `PROPTEST_CASES=2000 cargo test --release --test policies` for a long
//! run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use envk::diag::{Code, Severity};
use envk::driver;
use envk::emit::{self, Options};
use envk::load::InMemory;
use proptest::prelude::*;
use serde_yaml::Value;

const LABEL_KEYS: [&str; 3] = ["team", "cost-center", "owner"];
const ROLES: [(&str, &str); 3] = [
    ("viewer", "allow [get, list] on [pods]"),
    ("editor", "allow [get, update] on [configmaps]"),
    ("operator", "allow [\"*\"] on [deployments]"),
];

#[path = "support/random.rs"]
mod random;

use random::Random;

#[derive(Clone, Debug)]
struct Env {
    name: String,
    production: bool,
    labels: Vec<(&'static str, String)>,
    /// requests.cpu in cores, requests.memory in Gi.
    quota: Option<(u64, u64)>,
    grants: Vec<&'static str>,
}

#[derive(Clone, Debug)]
enum Atom {
    HasLabel(&'static str),
    LabelIs(&'static str, String),
    CpuAtMost(u64),
    MemoryAtLeast(u64),
    NoRole(&'static str),
    NoWildcardVerbs,
}

#[derive(Clone, Debug)]
enum Body {
    Atom(Atom),
    Not(Atom),
    Or(Atom, Atom),
    And(Atom, Atom),
}

#[derive(Clone, Debug)]
struct Policy {
    /// `Some(true)`: production envs only, `Some(false)`: development.
    only: Option<bool>,
    body: Body,
}

fn generate_envs(r: &mut Random) -> Vec<Env> {
    (0..1 + r.below(6))
        .map(|index| Env {
            name: format!("e{index}"),
            production: r.chance(50),
            labels: {
                let mut labels = Vec::new();
                for key in LABEL_KEYS {
                    if r.chance(60) {
                        labels.push((key, format!("v{}", r.below(3))));
                    }
                }
                labels
            },
            quota: r.chance(75).then(|| (1 + r.below(8), 1 + r.below(8))),
            grants: ROLES
                .iter()
                .filter(|_| r.chance(40))
                .map(|(role, _)| *role)
                .collect(),
        })
        .collect()
}

fn atom(r: &mut Random) -> Atom {
    let key = *r.pick(&LABEL_KEYS);
    match r.below(6) {
        0 => Atom::HasLabel(key),
        1 => Atom::LabelIs(key, format!("v{}", r.below(3))),
        2 => Atom::CpuAtMost(1 + r.below(8)),
        3 => Atom::MemoryAtLeast(1 + r.below(8)),
        4 => Atom::NoRole(r.pick(&ROLES).0),
        _ => Atom::NoWildcardVerbs,
    }
}

fn generate_policies(r: &mut Random) -> Vec<Policy> {
    (0..1 + r.below(3))
        .map(|_| Policy {
            only: match r.below(3) {
                0 => None,
                1 => Some(true),
                _ => Some(false),
            },
            body: match r.below(4) {
                0 => Body::Atom(atom(r)),
                1 => Body::Not(atom(r)),
                2 => Body::Or(atom(r), atom(r)),
                _ => Body::And(atom(r), atom(r)),
            },
        })
        .collect()
}

fn written_atom(atom: &Atom) -> String {
    match atom {
        Atom::HasLabel(key) => format!("env.labels has \"{key}\""),
        Atom::LabelIs(key, value) => format!("env.labels[\"{key}\"] == \"{value}\""),
        Atom::CpuAtMost(cores) => format!("env.quota.requests.cpu <= {cores}"),
        Atom::MemoryAtLeast(gi) => format!("env.quota.requests.memory >= {gi}Gi"),
        Atom::NoRole(role) => format!("(all g in env.grants : g.role != \"{role}\")"),
        Atom::NoWildcardVerbs => "(none g in env.grants : g.verbs has \"*\")".to_string(),
    }
}

fn written_policy(index: usize, policy: &Policy) -> String {
    let filter = match policy.only {
        None => String::new(),
        Some(true) => " where env.environment == production".to_string(),
        Some(false) => " where env.environment == development".to_string(),
    };
    let body = match &policy.body {
        Body::Atom(a) => written_atom(a),
        Body::Not(a) => format!("not {}", written_atom(a)),
        Body::Or(a, b) => format!("{} or {}", written_atom(a), written_atom(b)),
        Body::And(a, b) => format!("{} and {}", written_atom(a), written_atom(b)),
    };
    format!("policy p{index} {{\n  all env in envs{filter} : {body}\n}}\n")
}

/// The program, and the line each env's block starts and ends on.
fn written_program(envs: &[Env]) -> (String, Vec<(usize, usize)>) {
    let mut text = String::from(
        "cluster dev-c {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n\
         cluster prod-c {\n  server = \"https://prod.example.com\"\n  environment = production\n}\n\
         tier dev-t { pod_security = baseline }\n\
         tier prod-t { pod_security = restricted }\n",
    );
    for (role, rule) in ROLES {
        text.push_str(&format!("role {role} {{ {rule} }}\n"));
    }
    let mut lines = Vec::new();
    for env in envs {
        let start = text.lines().count() + 1;
        let (cluster, tier) = if env.production {
            ("prod-c", "prod-t")
        } else {
            ("dev-c", "dev-t")
        };
        text.push_str(&format!("env {} on {cluster} tier {tier} {{\n", env.name));
        if !env.labels.is_empty() {
            let labels: Vec<String> = env
                .labels
                .iter()
                .map(|(key, value)| format!("{key} = \"{value}\""))
                .collect();
            text.push_str(&format!("  labels {{ {} }}\n", labels.join("  ")));
        }
        if let Some((cpu, memory)) = env.quota {
            text.push_str(&format!(
                "  quota {{ requests.cpu = {cpu}  requests.memory = {memory}Gi }}\n"
            ));
        }
        for (index, role) in env.grants.iter().enumerate() {
            text.push_str(&format!(
                "  grant {role} to group \"{}-g{index}\"\n",
                env.name
            ));
        }
        text.push_str("}\n");
        lines.push((start, text.lines().count()));
    }
    (text, lines)
}

/// What the build says of one namespace, read from its YAML.
#[derive(Default, Debug)]
struct Built {
    production: bool,
    labels: BTreeMap<String, String>,
    hard: BTreeMap<String, u128>,
    verbs_by_role: Vec<(String, BTreeSet<String>)>,
}

/// Kubernetes quantities: milli-cores or bytes, parsed here.
fn quantity(text: &str) -> u128 {
    let units: [(&str, u128); 5] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("m", 1),
    ];
    for (suffix, size) in units {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<u128>().expect("a number") * size;
        }
    }
    text.parse::<u128>().expect("a number")
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .expect("yaml")
            .trim()
            .to_string(),
    }
}

/// Each namespace of the build, by name, from its folder's YAML files.
fn read_build(tree: &emit::Tree) -> BTreeMap<String, Built> {
    let mut built: BTreeMap<String, Built> = BTreeMap::new();
    let mut roles: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut bindings: Vec<(String, String)> = Vec::new();
    for (path, content) in &tree.files {
        let parts: Vec<&str> = path.split('/').collect();
        let [cluster, "namespaces", namespace, file] = parts.as_slice() else {
            continue;
        };
        let document: Value = serde_yaml::from_str(&content.text()).expect("YAML");
        let entry = built.entry(namespace.to_string()).or_default();
        entry.production = *cluster == "prod-c";
        if *file == "namespace.yaml" {
            for (key, value) in document["metadata"]["labels"]
                .as_mapping()
                .into_iter()
                .flatten()
            {
                let key = text(key);
                // envk's own labels are fields of their own in a policy.
                if key == "tier" || key == "environment" || key.starts_with("pod-security.") {
                    continue;
                }
                entry.labels.insert(key, text(value));
            }
        } else if file.starts_with("resourcequota") {
            for (key, value) in document["spec"]["hard"].as_mapping().into_iter().flatten() {
                let (key, value) = (text(key), text(value));
                // cpu in milli-cores: a plain number is cores.
                let amount = match key.ends_with(".cpu") && !value.ends_with('m') {
                    true => quantity(&value) * 1000,
                    false => quantity(&value),
                };
                entry.hard.insert(key, amount);
            }
        } else if file.starts_with("rolebinding-") {
            bindings.push((namespace.to_string(), text(&document["roleRef"]["name"])));
        } else if file.starts_with("role-") {
            let verbs = document["rules"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|rule| rule["verbs"].as_sequence().cloned().unwrap_or_default())
                .map(|verb| text(&verb))
                .collect();
            roles.insert(
                (namespace.to_string(), text(&document["metadata"]["name"])),
                verbs,
            );
        }
    }
    for (namespace, role) in bindings {
        let verbs = roles[&(namespace.clone(), role.clone())].clone();
        built
            .get_mut(&namespace)
            .expect("a binding's namespace")
            .verbs_by_role
            .push((role, verbs));
    }
    built
}

/// An atom over the built namespace: `None` where it reads a quota key
/// the namespace does not have (a comparison with an absent value is
/// false).
fn holds(atom: &Atom, env: &Built) -> bool {
    match atom {
        Atom::HasLabel(key) => env.labels.contains_key(*key),
        Atom::LabelIs(key, value) => env.labels.get(*key) == Some(value),
        Atom::CpuAtMost(cores) => env
            .hard
            .get("requests.cpu")
            .is_some_and(|&milli| milli <= u128::from(*cores) * 1000),
        Atom::MemoryAtLeast(gi) => env
            .hard
            .get("requests.memory")
            .is_some_and(|&bytes| bytes >= u128::from(*gi) << 30),
        Atom::NoRole(role) => !env.verbs_by_role.iter().any(|(bound, _)| bound == role),
        Atom::NoWildcardVerbs => !env
            .verbs_by_role
            .iter()
            .any(|(_, verbs)| verbs.contains("*")),
    }
}

fn meets(policy: &Policy, env: &Built) -> bool {
    if policy
        .only
        .is_some_and(|production| production != env.production)
    {
        return true;
    }
    match &policy.body {
        Body::Atom(a) => holds(a, env),
        Body::Not(a) => !holds(a, env),
        Body::Or(a, b) => holds(a, env) || holds(b, env),
        Body::And(a, b) => holds(a, env) && holds(b, env),
    }
}

fn run(files: &[(&str, String)]) -> driver::Run {
    let mut loader = InMemory::new();
    for (path, text) in files {
        loader = loader.with(*path, text.clone());
    }
    driver::check_with(&[PathBuf::from(files[0].0)], &loader).expect("in memory")
}

/// The (policy, env) pairs envk reports as violations, each diagnostic's
/// line mapped to the env whose block holds it.
fn reported(
    run: &driver::Run,
    lines: &[(usize, usize)],
    envs: &[Env],
) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for diagnostic in &run.diagnostics {
        assert_eq!(
            diagnostic.code,
            Code::E0901,
            "only violations: {}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        );
        let policy = diagnostic
            .secondary
            .iter()
            .find_map(|label| label.message.strip_prefix("policy `"))
            .map(|name| name.trim_end_matches('`').to_string())
            .expect("a violation names its policy");
        let file = run.sources.file_of(diagnostic.primary.span);
        let line = file.line_index(file.local(diagnostic.primary.span).start) + 1;
        let env = lines
            .iter()
            .position(|&(start, end)| start <= line && line <= end)
            .expect("a violation is reported inside an env");
        // A loop's grouped reports would name several; these envs are one
        // each.
        assert_eq!(diagnostic.instances.len().max(1), 1);
        found.insert((policy, envs[env].name.clone()));
    }
    found
}

fn verdict_matches(seed: u64) {
    let mut r = Random(seed | 1);
    let envs = generate_envs(&mut r);
    let policies = generate_policies(&mut r);
    let (program, lines) = written_program(&envs);
    let plain = run(&[("main.env.k", program.clone())]);
    assert!(
        !plain.has_errors(),
        "{program}\n{}",
        envk::diag::render_plain(&plain.sources, &plain.diagnostics)
    );
    let tree = emit::emit(plain.model.as_ref().expect("a Model"), Options::default());
    let built = read_build(&tree);
    let mut expected = BTreeSet::new();
    for (index, policy) in policies.iter().enumerate() {
        for env in &envs {
            if !meets(policy, &built[&env.name]) {
                expected.insert((format!("p{index}"), env.name.clone()));
            }
        }
    }
    let written: String = policies
        .iter()
        .enumerate()
        .map(|(index, policy)| written_policy(index, policy))
        .collect();
    let checked = run(&[
        (
            "main.env.k",
            format!("{program}import \"./policies.env.k\"\n"),
        ),
        ("policies.env.k", written.clone()),
    ]);
    let found = reported(&checked, &lines, &envs);
    assert_eq!(found, expected, "{program}\n{written}");
    // Every violation is an error: no policy here is a warning.
    assert!(
        checked
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
}

/// A program whose one env meets `requests.cpu <= 4` everywhere; then one
/// env's quota is raised over it, on a line of its own.
fn injected_violation_is_reported_at_its_line(seed: u64) {
    let mut r = Random(seed | 1);
    let mut envs = generate_envs(&mut r);
    for env in &mut envs {
        env.quota = Some((1 + r.below(4), 1 + r.below(8)));
    }
    let policy = "policy small { all env in envs : env.quota.requests.cpu <= 4 }\n";
    let (program, _) = written_program(&envs);
    let clean = run(&[("main.env.k", format!("{program}{policy}"))]);
    assert!(clean.diagnostics.is_empty(), "{program}");
    let victim = r.below(envs.len() as u64) as usize;
    let cores = 5 + r.below(8);
    let mut injected = String::new();
    let mut injected_line = 0;
    let mut env_seen = 0;
    for (index, line) in program.lines().enumerate() {
        injected.push_str(line);
        injected.push('\n');
        if line.starts_with("env ") {
            if env_seen == victim {
                injected.push_str(&format!("  quota {{ requests.cpu = {cores} }}\n"));
                injected_line = index + 2;
            }
            env_seen += 1;
        }
    }
    // The env's own quota line is dropped so that the injected one is its
    // quota.
    let injected: String = injected
        .lines()
        .enumerate()
        .filter(|(index, line)| {
            !(line.contains("requests.memory")
                && *index > injected_line - 1
                && *index < injected_line + 3)
        })
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let broken = run(&[("main.env.k", format!("{injected}{policy}"))]);
    let lines: Vec<usize> = broken
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let file = broken.sources.file_of(diagnostic.primary.span);
            assert_eq!(diagnostic.code, Code::E0901);
            let at = file.local(diagnostic.primary.span).start;
            assert!(
                diagnostic
                    .primary
                    .message
                    .contains(&format!("is `{cores}`")),
                "{}",
                diagnostic.primary.message
            );
            file.line_index(at) + 1
        })
        .collect();
    assert_eq!(lines, vec![injected_line], "{injected}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn envk_reports_exactly_the_envs_the_yaml_breaks(seed in any::<u64>()) {
        verdict_matches(seed);
    }

    #[test]
    fn an_injected_violation_is_reported_where_it_was_injected(seed in any::<u64>()) {
        injected_violation_is_reported_at_its_line(seed);
    }
}
