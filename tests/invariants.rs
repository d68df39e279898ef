//! The policy invariants of DESIGN §5, property-tested.
//!
//! A generator builds random well-formed programs (clusters with
//! capacities, tiers with ceilings, forbids, isolation and accepted
//! environments, roles, single envs and env families with quotas, limit
//! ranges, grants, network rules or none, DNS allowed, denied or left to
//! the default, alerts and deploys), valid by construction. Every one must
//! be accepted; its build is then parsed back from YAML, and the
//! invariants are checked on those files with code of this test's own (a
//! quantity parser, a NetworkPolicy evaluator, a PromQL walk in
//! `invariants/promql_scope.rs`), never the checker's. The same program
//! written with lists of records, nested loops and `if … else if …`
//! (`Form::Records`) must build the same bytes. Then exactly one
//! violation is injected, and the checker must reject it with the
//! matching code, pointing into the injected text (a warning's: warn of
//! it there, and accept the program).
//!
//! `PROPTEST_CASES=10000 cargo test --release --test invariants` for a long
//! run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use envk::diag::{Code, Diagnostic, Severity};
use envk::driver;
use envk::emit::{self, Options, Tree};
use envk::load::InMemory;
use proptest::prelude::*;
use serde_yaml::Value;

#[path = "invariants/promql_scope.rs"]
mod promql_scope;

/// A small deterministic generator, so that a failing case is one seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

#[derive(Clone, Debug)]
struct Quota {
    cpu_request: u64, // milli-cores
    cpu_limit: u64,
    memory_request: u64, // MiB
    memory_limit: u64,
    pods: u64,
}

#[derive(Clone, Debug)]
struct Tier {
    name: String,
    level: &'static str,
    environment: Option<usize>,
    has_ceiling: bool,
    forbid_verbs: bool,
    forbid_wildcards: bool,
    forbid_secrets: bool,
    isolated: bool,
    accept: Vec<usize>,
    requires_alerts: bool,
}

#[derive(Clone, Debug)]
struct Role {
    name: String,
    verbs: Vec<&'static str>,
    resources: Vec<&'static str>,
}

/// What an env says about DNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dns {
    Nothing,
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
struct Namespace {
    name: String,
    cluster: usize,
    tier: usize,
    quota: Quota,
    limits: bool,
    grants: Vec<usize>,
    /// `None`: the env writes no ingress rule, and gets its tier's default.
    ingress: Option<(usize, u16)>,
    egress: bool,
    dns: Dns,
    alerts: bool,
    deploy: bool,
    /// Which of `promql_scope::uses` an env with alerts adds.
    alert_shapes: u8,
}

/// A namespace, with its stage name when its team is a family
/// (`team-stage`); a team of one namespace has no stage.
type Stage = (Option<String>, Namespace);

#[derive(Clone, Debug)]
struct Program {
    clusters: Vec<(String, usize)>,
    tiers: Vec<Tier>,
    roles: Vec<Role>,
    teams: Vec<(String, Vec<Stage>)>,
    capacity_slack: Vec<u64>,
    /// A cluster's `pod_security`: the least level of its namespaces.
    pod_security_floors: Vec<Option<&'static str>>,
}

const LEVELS: [&str; 3] = ["privileged", "baseline", "restricted"];

impl Program {
    fn namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.teams
            .iter()
            .flat_map(|(_, stages)| stages.iter().map(|(_, ns)| ns))
    }

    fn accepted(&self, tier: usize, own: usize) -> Vec<usize> {
        let accept = &self.tiers[tier].accept;
        if accept.is_empty() {
            vec![own]
        } else {
            accept.clone()
        }
    }
}

fn generate(seed: u64) -> Program {
    let mut r = Random(seed | 1);
    let mut clusters: Vec<(String, usize)> = (0..3).map(|e| (format!("c{e}"), e)).collect();
    for extra in 0..r.below(2) {
        let environment = r.below(3) as usize;
        clusters.push((format!("x{extra}"), environment));
    }
    // Tier 0 fits every cluster and forbids nothing, so every namespace
    // has a tier it may use.
    let mut tiers = vec![Tier {
        name: "base".to_string(),
        level: "baseline",
        environment: None,
        has_ceiling: false,
        forbid_verbs: false,
        forbid_wildcards: false,
        forbid_secrets: false,
        isolated: false,
        accept: Vec::new(),
        requires_alerts: false,
    }];
    for index in 0..r.below(4) {
        let environment = if r.chance(50) {
            Some(r.below(3) as usize)
        } else {
            None
        };
        let accept = if r.chance(30) {
            let mut accept: Vec<usize> = (0..3).filter(|_| r.chance(60)).collect();
            if let Some(own) = environment
                && !accept.contains(&own)
            {
                accept.push(own);
            }
            accept
        } else {
            Vec::new()
        };
        tiers.push(Tier {
            name: format!("t{index}"),
            level: LEVELS[r.below(3) as usize],
            environment,
            has_ceiling: r.chance(50),
            forbid_verbs: r.chance(50),
            forbid_wildcards: r.chance(50),
            forbid_secrets: r.chance(40),
            isolated: r.chance(40),
            accept,
            requires_alerts: r.chance(40),
        });
    }
    let verbs = [
        "get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind", "*",
    ];
    let resources = [
        "pods",
        "services",
        "configmaps",
        "secrets",
        "deployments",
        "jobs",
        "roles",
        "pods/log",
        "*",
    ];
    let roles: Vec<Role> = (0..1 + r.below(4))
        .map(|index| {
            let mut role_verbs: Vec<&str> =
                verbs.iter().copied().filter(|_| r.chance(35)).collect();
            if role_verbs.is_empty() {
                role_verbs.push("get");
            }
            let mut role_resources: Vec<&str> =
                resources.iter().copied().filter(|_| r.chance(35)).collect();
            if role_resources.is_empty() {
                role_resources.push("pods");
            }
            Role {
                name: format!("r{index}"),
                verbs: role_verbs,
                resources: role_resources,
            }
        })
        .collect();
    let mut teams = Vec::new();
    for team in 0..1 + r.below(5) {
        let family = r.chance(50);
        let stage_names = ["dev", "stage", "prod"];
        let count = if family { 1 + r.below(3) as usize } else { 1 };
        let mut stages = Vec::new();
        for stage_name in stage_names.iter().take(count) {
            let cluster = r.below(clusters.len() as u64) as usize;
            let environment = clusters[cluster].1;
            let allowed: Vec<usize> = (0..tiers.len())
                .filter(|&t| tiers[t].environment.is_none_or(|e| e == environment))
                .collect();
            let tier = *r.pick(&allowed);
            let grants: Vec<usize> = (0..roles.len())
                .filter(|&role| {
                    let t = &tiers[tier];
                    let v = &roles[role].verbs;
                    let res = &roles[role].resources;
                    !(t.forbid_verbs && v.iter().any(|v| ["escalate", "bind", "*"].contains(v))
                        || t.forbid_wildcards && (v.contains(&"*") || res.contains(&"*"))
                        || t.forbid_secrets && res.iter().any(|r| ["secrets", "*"].contains(r)))
                })
                .filter(|_| r.chance(50))
                .collect();
            let accepted = if tiers[tier].accept.is_empty() {
                vec![environment]
            } else {
                tiers[tier].accept.clone()
            };
            let cpu_request = 100 * (1 + r.below(40));
            let memory_request = 128 * (1 + r.below(32));
            let namespace = Namespace {
                name: if family {
                    format!("team{team}-{stage_name}")
                } else {
                    format!("team{team}")
                },
                cluster,
                tier,
                quota: Quota {
                    cpu_request,
                    cpu_limit: cpu_request + 100 * r.below(20),
                    memory_request,
                    memory_limit: memory_request + 128 * r.below(16),
                    pods: 1 + r.below(60),
                },
                limits: r.chance(60),
                grants,
                ingress: r
                    .chance(70)
                    .then(|| (*r.pick(&accepted), *r.pick(&[80u16, 443, 8080, 9090]))),
                egress: r.chance(50),
                dns: *r.pick(&[Dns::Nothing, Dns::Nothing, Dns::Allow, Dns::Deny]),
                alerts: tiers[tier].requires_alerts || r.chance(40),
                deploy: r.chance(60),
                alert_shapes: r.next() as u8,
            };
            stages.push((family.then(|| stage_name.to_string()), namespace));
        }
        teams.push((format!("team{team}"), stages));
    }
    let capacity_slack = (0..clusters.len()).map(|_| r.below(3000)).collect();
    let pod_security_floors = (0..clusters.len())
        .map(|_| (r.below(3) == 0).then(|| *r.pick(&LEVELS)))
        .collect();
    Program {
        clusters,
        tiers,
        roles,
        teams,
        capacity_slack,
        pod_security_floors,
    }
}

/// Per cluster: cpu (m), memory (MiB), pods requested in all.
fn sums(program: &Program) -> Vec<(u64, u64, u64)> {
    let mut sums = vec![(0, 0, 0); program.clusters.len()];
    for ns in program.namespaces() {
        let s = &mut sums[ns.cluster];
        s.0 += ns.quota.cpu_request;
        s.1 += ns.quota.memory_request;
        s.2 += ns.quota.pods;
    }
    sums
}

/// Per tier with a ceiling: the highest quota of its namespaces, so every
/// one is within it.
fn ceilings(program: &Program) -> Vec<Option<Quota>> {
    program
        .tiers
        .iter()
        .enumerate()
        .map(|(index, tier)| {
            if !tier.has_ceiling {
                return None;
            }
            let mut ceiling = Quota {
                cpu_request: 100,
                cpu_limit: 100,
                memory_request: 128,
                memory_limit: 128,
                pods: 1,
            };
            for ns in program.namespaces().filter(|ns| ns.tier == index) {
                ceiling.cpu_request = ceiling.cpu_request.max(ns.quota.cpu_request);
                ceiling.cpu_limit = ceiling.cpu_limit.max(ns.quota.cpu_limit);
                ceiling.memory_request = ceiling.memory_request.max(ns.quota.memory_request);
                ceiling.memory_limit = ceiling.memory_limit.max(ns.quota.memory_limit);
                ceiling.pods = ceiling.pods.max(ns.quota.pods);
            }
            Some(ceiling)
        })
        .collect()
}

fn quota_fields(q: &Quota) -> String {
    format!(
        "requests.cpu = {}m  limits.cpu = {}m  requests.memory = {}Mi  limits.memory = {}Mi  pods = {}",
        q.cpu_request, q.cpu_limit, q.memory_request, q.memory_limit, q.pods
    )
}

/// The program as source text; `capacity_cut` takes that much cpu (m)
/// below what cluster 0's envs request.
/// How `render` writes the teams of one namespace.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// Each env written out.
    Written,
    /// One list of records and nested loops: the envs grouped by the
    /// statements they hold (their shape), each group a list of records
    /// holding what differs (names, placement, quota, limits, grants,
    /// ingress source), and an `if … else if …` choosing each group's body.
    Records,
}

fn render(program: &Program, capacity_cut: Option<u64>) -> String {
    render_as(program, capacity_cut, Form::Written)
}

fn render_as(program: &Program, capacity_cut: Option<u64>, form: Form) -> String {
    let mut out = String::from("import \"std/alerts\"\n\n");
    out.push_str(promql_scope::TEMPLATES);
    let sums = sums(program);
    for (index, (name, environment)) in program.clusters.iter().enumerate() {
        let (cpu, memory, pods) = sums[index];
        let slack = program.capacity_slack[index];
        let cpu_capacity = match capacity_cut {
            Some(cut) if index == 0 => cpu.saturating_sub(cut),
            _ => cpu + slack,
        };
        out.push_str(&format!(
            "cluster {name} {{\n  server = \"https://{name}.example.com\"\n  environment = {}\n{}  capacity {{ cpu = {cpu_capacity}m  memory = {}Mi  pods = {} }}\n}}\n\n",
            ENVIRONMENTS[*environment],
            program.pod_security_floors[index]
                .map(|level| format!("  pod_security = {level}\n"))
                .unwrap_or_default(),
            memory + slack,
            pods + slack
        ));
    }
    let ceilings = ceilings(program);
    for (index, tier) in program.tiers.iter().enumerate() {
        out.push_str(&format!(
            "tier {} {{\n  pod_security = {}\n",
            tier.name, tier.level
        ));
        if let Some(environment) = tier.environment {
            out.push_str(&format!("  environment = {}\n", ENVIRONMENTS[environment]));
        }
        if let Some(ceiling) = &ceilings[index] {
            out.push_str(&format!("  ceiling {{ {} }}\n", quota_fields(ceiling)));
        }
        if tier.forbid_verbs {
            out.push_str("  forbid verbs [escalate, bind]\n");
        }
        if tier.forbid_wildcards {
            out.push_str("  forbid wildcards\n");
        }
        if tier.forbid_secrets {
            out.push_str("  forbid resources [secrets]\n");
        }
        if tier.isolated {
            out.push_str("  network = isolated\n");
        }
        if !tier.accept.is_empty() {
            let names: Vec<&str> = tier.accept.iter().map(|&e| ENVIRONMENTS[e]).collect();
            out.push_str(&format!("  accept from [{}]\n", names.join(", ")));
        }
        if tier.requires_alerts {
            out.push_str("  require alerts [PodCrashLooping]\n");
        }
        out.push_str("}\n\n");
    }
    for role in &program.roles {
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|item| {
                    if item.contains(['*', '/']) {
                        format!("\"{item}\"")
                    } else {
                        item.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "role {} {{ allow [{}] on [{}] }}\n\n",
            role.name,
            list(&role.verbs),
            list(&role.resources)
        ));
    }
    let mut groups: Vec<(String, Vec<(String, &Namespace)>)> = Vec::new();
    for (team, stages) in &program.teams {
        if form == Form::Records && stages[0].0.is_none() {
            let (_, ns) = &stages[0];
            let (body, fields) = as_record(program, ns);
            match groups.iter_mut().find(|(shape, _)| *shape == body) {
                Some((_, records)) => records.push((fields, ns)),
                None => groups.push((body, vec![(fields, ns)])),
            }
            continue;
        }
        let family = stages[0].0.is_some();
        if family {
            out.push_str(&format!(
                "env {team} {{\n  labels {{ team = \"{team}\" }}\n"
            ));
        }
        for (stage, ns) in stages {
            let (cluster, _) = &program.clusters[ns.cluster];
            let tier = &program.tiers[ns.tier].name;
            let indent = if family { "    " } else { "  " };
            match stage {
                Some(stage) => {
                    out.push_str(&format!("  stage {stage} on {cluster} tier {tier} {{\n"))
                }
                None => out.push_str(&format!("env {} on {cluster} tier {tier} {{\n", ns.name)),
            }
            out.push_str(&namespace_body(program, ns, indent));
            out.push_str(if family { "  }\n" } else { "}\n\n" });
        }
        if family {
            out.push_str("}\n\n");
        }
    }
    if !groups.is_empty() {
        out.push_str("let groups = [\n");
        for (index, (_, records)) in groups.iter().enumerate() {
            out.push_str(&format!("  {{ shape = {index}  envs = [\n"));
            for (record, _) in records {
                out.push_str(&format!("    {{ {record} }},\n"));
            }
            out.push_str("  ] },\n");
        }
        out.push_str("]\n\nfor group in groups {\n  for e in group.envs {\n");
        for (index, (body, records)) in groups.iter().enumerate() {
            let body = body.replace(NETWORK, &network_statements(records));
            let keyword = if index == 0 { "    if" } else { " else if" };
            out.push_str(&format!(
                "{keyword} group.shape == {index} {{\n      env \"${{e.name}}\" on \"${{e.cluster}}\" tier \"${{e.tier}}\" {{\n{body}      }}\n    }}"
            ));
        }
        out.push_str("\n  }\n}\n");
    }
    out
}

/// Where a shape's body says what its envs' egress and DNS rules are,
/// which `network_statements` writes once the shape's envs are known.
const NETWORK: &str = "        @network\n";

/// A single namespace as a record of what differs between envs, and the
/// body that reads it (which is the same for every env of its shape). The
/// grants are a list of records in the record, read by a `for` in the
/// body; the egress and DNS rules are fields read by `if`s in the body
/// (`NETWORK`), so envs that differ only in those share a shape.
fn as_record(program: &Program, ns: &Namespace) -> (String, String) {
    let (cluster, _) = &program.clusters[ns.cluster];
    let mut fields = vec![
        format!("name = \"{}\"", ns.name),
        format!("cluster = \"{cluster}\""),
        format!("tier = \"{}\"", program.tiers[ns.tier].name),
        format!("q = quota {{ {} }}", quota_fields(&ns.quota)),
        format!("egress = {}", ns.egress),
        format!(
            "dns = \"{}\"",
            match ns.dns {
                Dns::Nothing => "none",
                Dns::Allow => "allow",
                Dns::Deny => "deny",
            }
        ),
    ];
    let written = namespace_body(program, ns, "        ");
    let mut body = String::new();
    let mut grants = Vec::new();
    let mut network_written = false;
    for line in written.lines() {
        let statement = line.trim_start();
        let is_network = statement.starts_with("egress ");
        let network_goes_here =
            is_network || statement.starts_with("alert ") || statement.starts_with("deploy ");
        if network_goes_here && !network_written {
            body.push_str(NETWORK);
            network_written = true;
        }
        let read = if is_network {
            continue;
        } else if statement.starts_with("quota ") {
            "quota = e.q".to_string()
        } else if let Some(limits) = statement.strip_prefix("limits ") {
            fields.push(format!("lim = limits {limits}"));
            "limits = e.lim".to_string()
        } else if let Some(grant_text) = statement.strip_prefix("grant ") {
            let (role, subject) = grant_text
                .split_once(" to group ")
                .expect("a grant to a group");
            grants.push(format!("{{ role = \"{role}\"  subject = {subject} }}"));
            if grants.len() > 1 {
                continue;
            }
            "for g in e.grants { grant \"${g.role}\" to group \"${g.subject}\" }".to_string()
        } else if let Some(rule) = statement.strip_prefix("ingress allow from environment ") {
            let (from, port) = rule.split_once(' ').expect("a source and a port");
            fields.push(format!("from = \"{from}\""));
            format!("ingress allow from environment \"${{e.from}}\" {port}")
        } else {
            statement.to_string()
        };
        body.push_str("        ");
        body.push_str(&read);
        body.push('\n');
    }
    if !network_written {
        body.push_str(NETWORK);
    }
    if !grants.is_empty() {
        fields.push(format!("grants = [{}]", grants.join(", ")));
    }
    (body, fields.join("  "))
}

/// The egress and DNS statements of a shape whose envs are `records`:
/// `if`s on the env's fields, with a branch for each rule some env of
/// the shape has, and none that no env takes (that is E0215's warning).
fn network_statements(records: &[(String, &Namespace)]) -> String {
    let line = |text: &str| format!("        {text}\n");
    let mut out = String::new();
    if records.iter().any(|(_, ns)| ns.egress) {
        out.push_str(&line("if e.egress { egress allow to any on tcp 443 }"));
    }
    let has = |dns: Dns| records.iter().any(|(_, ns)| ns.dns == dns);
    let (allow, deny) = ("egress allow dns", "egress deny dns");
    let dns = match (has(Dns::Allow), has(Dns::Deny), has(Dns::Nothing)) {
        (true, true, false) => format!("if e.dns == \"allow\" {{ {allow} }} else {{ {deny} }}"),
        (true, true, true) => {
            format!("if e.dns == \"allow\" {{ {allow} }} else if e.dns == \"deny\" {{ {deny} }}")
        }
        (true, false, _) => format!("if e.dns == \"allow\" {{ {allow} }}"),
        (false, true, _) => format!("if e.dns != \"allow\" and e.dns != \"none\" {{ {deny} }}"),
        (false, false, _) => return out,
    };
    out.push_str(&line(&dns));
    out
}

fn namespace_body(program: &Program, ns: &Namespace, indent: &str) -> String {
    let mut body = String::new();
    let line = |body: &mut String, text: String| {
        body.push_str(indent);
        body.push_str(&text);
        body.push('\n');
    };
    line(
        &mut body,
        format!("quota {{ {} }}", quota_fields(&ns.quota)),
    );
    if ns.limits {
        let cpu = ns.quota.cpu_limit.min(2000);
        let memory = ns.quota.memory_limit.min(4096);
        line(
            &mut body,
            format!(
                "limits container {{ min {{ cpu = 10m memory = 16Mi }} default_request {{ cpu = {}m memory = {}Mi }} default {{ cpu = {}m memory = {}Mi }} max {{ cpu = {cpu}m memory = {memory}Mi }} }}",
                (cpu / 2).min(ns.quota.cpu_request).max(10),
                (memory / 2).min(ns.quota.memory_request).max(16),
                cpu,
                memory
            ),
        );
    }
    for &role in &ns.grants {
        line(
            &mut body,
            format!(
                "grant {} to group \"{}-g{role}\"",
                program.roles[role].name, ns.name
            ),
        );
    }
    if let Some((from, port)) = ns.ingress {
        line(
            &mut body,
            format!(
                "ingress allow from environment {} on tcp {port}",
                ENVIRONMENTS[from]
            ),
        );
    }
    if ns.egress {
        line(&mut body, "egress allow to any on tcp 443".to_string());
    }
    match ns.dns {
        Dns::Nothing => {}
        Dns::Allow => line(&mut body, "egress allow dns".to_string()),
        Dns::Deny => line(&mut body, "egress deny dns".to_string()),
    }
    if ns.alerts {
        line(&mut body, "alert PodCrashLooping { for = 10m }".to_string());
        line(
            &mut body,
            "alert HighPodMemoryUsage { threshold = 85% }".to_string(),
        );
        for alert in promql_scope::uses(ns.alert_shapes) {
            line(&mut body, alert.to_string());
        }
    }
    if ns.deploy {
        line(
            &mut body,
            "deploy { repo = \"https://git.example.com/apps\" path = \"envs/${namespace}\" sync { prune = true self_heal = true } }"
                .to_string(),
        );
    }
    body
}

struct Checked {
    diagnostics: Vec<Diagnostic>,
    sources: envk::source::SourceMap,
    tree: Option<Tree>,
}

fn check(text: &str) -> Checked {
    check_files(&[("program.env.k", text.to_string())])
}

/// Checks a program made of several files; the first is the root.
fn check_files(files: &[(&str, String)]) -> Checked {
    let mut loader = InMemory::new();
    for (path, text) in files {
        loader = loader.with(*path, text.clone());
    }
    let run = driver::check_with(&[PathBuf::from(files[0].0)], &loader).expect("in memory");
    let tree = run
        .model
        .as_ref()
        .map(|model| emit::emit(model, Options::default()));
    Checked {
        diagnostics: run.diagnostics,
        sources: run.sources,
        tree,
    }
}

fn render_diagnostics(checked: &Checked) -> String {
    envk::diag::render_plain(&checked.sources, &checked.diagnostics)
}

/// Kubernetes quantities, parsed here without envk's code: milli-cores or
/// bytes.
fn quantity(value: &Value) -> u128 {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a quantity: {other:?}"),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1000, // cpu cores as milli-cores; plain byte counts never appear
        "m" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => panic!("unexpected suffix {other} in {text}"),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let scale = 10u128.pow(fraction.len() as u32);
    let value: u128 = format!("{whole}{fraction}").parse().expect("digits");
    value * multiplier / scale
}

fn objects(tree: &Tree) -> Vec<(String, Value)> {
    tree.files
        .iter()
        .filter(|(path, _)| path.ends_with(".yaml") && !path.ends_with("kustomization.yaml"))
        .map(|(path, text)| {
            (
                path.clone(),
                serde_yaml::from_str::<Value>(&text.text()).expect("YAML"),
            )
        })
        .filter(|(_, value)| value.get("kind").is_some())
        .collect()
}

/// An AppProject's (server, namespace) destinations.
fn destinations(project: &Value) -> BTreeSet<(String, String)> {
    project["spec"]["destinations"]
        .as_sequence()
        .expect("an AppProject lists destinations")
        .iter()
        .map(|d| {
            (
                text(&d["server"]).to_string(),
                text(&d["namespace"]).to_string(),
            )
        })
        .collect()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// The eight invariants of DESIGN §5 (7 and 8 in their own properties).
fn assert_invariants(program: &Program, tree: &Tree) {
    let objects = objects(tree);
    let expected: BTreeMap<&str, &Namespace> = program
        .namespaces()
        .map(|ns| (ns.name.as_str(), ns))
        .collect();
    let of_kind = |kind: &'static str| objects.iter().filter(move |(_, o)| o["kind"] == kind);

    // 1. One Namespace per env; every namespaced object lies in it.
    let namespaces: BTreeMap<&str, &Value> = of_kind("Namespace")
        .map(|(_, o)| (text(&o["metadata"]["name"]), o))
        .collect();
    assert_eq!(
        namespaces.keys().copied().collect::<BTreeSet<_>>(),
        expected.keys().copied().collect()
    );
    for (path, object) in &objects {
        let Some(folder) = path
            .split('/')
            .nth(2)
            .filter(|_| path.contains("/namespaces/"))
        else {
            continue;
        };
        if object["kind"] != "Namespace" {
            assert_eq!(text(&object["metadata"]["namespace"]), folder, "{path}");
        }
    }
    for (_, object) in of_kind("PrometheusRule") {
        assert!(expected.contains_key(text(&object["metadata"]["namespace"])));
    }

    // 2. Quotas, limit ranges, capacity, ceilings.
    let ceilings = ceilings(program);
    let mut per_cluster: BTreeMap<usize, u128> = BTreeMap::new();
    for (_, quota) in of_kind("ResourceQuota") {
        let ns = expected[text(&quota["metadata"]["namespace"])];
        let hard = &quota["spec"]["hard"];
        assert!(quantity(&hard["limits.cpu"]) >= quantity(&hard["requests.cpu"]));
        assert!(quantity(&hard["limits.memory"]) >= quantity(&hard["requests.memory"]));
        *per_cluster.entry(ns.cluster).or_default() += quantity(&hard["requests.cpu"]);
        if let Some(ceiling) = &ceilings[ns.tier] {
            assert!(quantity(&hard["requests.cpu"]) <= ceiling.cpu_request as u128);
            assert!(quantity(&hard["limits.memory"]) <= (ceiling.memory_limit as u128) << 20);
        }
    }
    for (cluster, requested) in per_cluster {
        let capacity = sums(program)[cluster].0 + program.capacity_slack[cluster];
        assert!(
            requested <= capacity as u128,
            "cluster {cluster} over capacity"
        );
    }
    for (_, range) in of_kind("LimitRange") {
        let item = &range["spec"]["limits"][0];
        for resource in ["cpu", "memory"] {
            let order: Vec<u128> = ["min", "defaultRequest", "default", "max"]
                .iter()
                .filter_map(|field| item.get(*field).and_then(|f| f.get(resource)).map(quantity))
                .collect();
            assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
        }
    }

    // 3. Pod Security equals the tier's, or the cluster's where that is
    // stricter; no forbidden verb, resource or wildcard in a role of a
    // forbidding tier.
    let rank = |level: &str| LEVELS.iter().position(|l| *l == level).expect("a level");
    for (name, ns) in &expected {
        let tier = &program.tiers[ns.tier];
        let level = match program.pod_security_floors[ns.cluster] {
            Some(floor) if rank(floor) > rank(tier.level) => floor,
            _ => tier.level,
        };
        let labels = &namespaces[name]["metadata"]["labels"];
        assert_eq!(text(&labels["pod-security.kubernetes.io/enforce"]), level);
    }
    for (_, role) in of_kind("Role") {
        let tier = &program.tiers[expected[text(&role["metadata"]["namespace"])].tier];
        for rule in role["rules"].as_sequence().expect("rules") {
            let items = |key: &str| -> Vec<&str> {
                rule[key]
                    .as_sequence()
                    .map(|s| s.iter().map(text).collect())
                    .unwrap_or_default()
            };
            if tier.forbid_verbs {
                assert!(
                    !items("verbs")
                        .iter()
                        .any(|v| ["escalate", "bind", "*"].contains(v))
                );
            }
            if tier.forbid_wildcards {
                assert!(!items("verbs").contains(&"*") && !items("resources").contains(&"*"));
            }
            if tier.forbid_secrets {
                assert!(
                    !items("resources")
                        .iter()
                        .any(|r| ["secrets", "*"].contains(r))
                );
            }
        }
    }

    // 4. Reachability, computed from the NetworkPolicies: nothing reaches a
    // namespace from an environment its tier does not accept.
    let policies: Vec<&Value> = of_kind("NetworkPolicy").map(|(_, o)| o).collect();
    for (to_name, to) in &expected {
        let own: Vec<&&Value> = policies
            .iter()
            .filter(|p| text(&p["metadata"]["namespace"]) == *to_name)
            .filter(|p| {
                p["spec"]["policyTypes"]
                    .as_sequence()
                    .is_some_and(|t| t.iter().any(|t| t == "Ingress"))
            })
            .collect();
        for (from_name, from) in &expected {
            if from.cluster != to.cluster {
                continue;
            }
            let labels = &namespaces[from_name]["metadata"]["labels"];
            let selected = |selector: &Value| {
                selector["matchLabels"].as_mapping().is_some_and(|wanted| {
                    wanted.iter().all(|(key, value)| {
                        (text(key) == "kubernetes.io/metadata.name" && text(value) == *from_name)
                            || labels.get(text(key)) == Some(value)
                    })
                })
            };
            let reachable = own.is_empty()
                || own.iter().any(|policy| {
                    policy["spec"]["ingress"]
                        .as_sequence()
                        .is_some_and(|rules| {
                            rules.iter().any(|rule| {
                                rule["from"].as_sequence().is_none_or(|peers| {
                                    peers
                                        .iter()
                                        .any(|peer| selected(&peer["namespaceSelector"]))
                                })
                            })
                        })
                });
            let environment = program.clusters[from.cluster].1;
            let accepted = program
                .accepted(to.tier, program.clusters[to.cluster].1)
                .contains(&environment);
            if reachable {
                assert!(accepted, "{from_name} reaches {to_name}");
            }
            // An env that wrote no ingress rule admits exactly what its
            // tier accepts: not open, and not closed either (unless its
            // tier is isolated).
            if to.ingress.is_none() {
                let admits = accepted && !program.tiers[to.tier].isolated;
                assert_eq!(
                    reachable, admits,
                    "{from_name} → {to_name}, which wrote no rule"
                );
            }
        }
        // What envk generates is a policy of its own: the user's holds
        // exactly the ingress rules written.
        let written = policies.iter().find(|p| {
            text(&p["metadata"]["namespace"]) == *to_name
                && text(&p["metadata"]["name"]) == format!("{to_name}-network-policy")
        });
        let written_rules = written.map_or(0, |p| {
            p["spec"]["ingress"].as_sequence().map_or(0, Vec::len)
        });
        assert_eq!(
            written_rules,
            usize::from(to.ingress.is_some()),
            "{to_name}"
        );
    }

    // 4b. DNS: an env whose egress is restricted resolves names (a policy
    // to kube-system on UDP and TCP 53) unless it wrote `egress deny dns`.
    for (name, ns) in &expected {
        let restricted = ns.egress || program.tiers[ns.tier].isolated || ns.dns == Dns::Allow;
        let dns = policies.iter().any(|p| {
            text(&p["metadata"]["namespace"]) == *name
                && p["spec"]["egress"].as_sequence().is_some_and(|rules| {
                    rules.iter().any(|rule| {
                        let to_dns = rule["to"].as_sequence().is_some_and(|peers| {
                            peers.iter().any(|peer| {
                                peer["namespaceSelector"]["matchLabels"]
                                    ["kubernetes.io/metadata.name"]
                                    == "kube-system"
                            })
                        });
                        let ports: BTreeSet<(String, u64)> = rule["ports"]
                            .as_sequence()
                            .into_iter()
                            .flatten()
                            .map(|port| {
                                (
                                    text(&port["protocol"]).to_string(),
                                    port["port"].as_u64().unwrap_or(0),
                                )
                            })
                            .collect();
                        to_dns
                            && ports.contains(&("UDP".to_string(), 53))
                            && ports.contains(&("TCP".to_string(), 53))
                    })
                })
        });
        assert_eq!(
            dns,
            restricted && ns.dns != Dns::Deny,
            "{name}: DNS egress (restricted {restricted}, {:?})",
            ns.dns
        );
    }

    // 5. Every alert expression parses, and reads and returns only its
    // own namespace's series.
    promql_scope::assert_rules_scoped(tree);

    // 6. Applications target their env's cluster and namespace, in a
    // project that allows exactly its envs.
    let projects: BTreeMap<&str, &Value> = of_kind("AppProject")
        .map(|(_, o)| (text(&o["metadata"]["name"]), o))
        .collect();
    let mut used: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    for (_, app) in of_kind("Application") {
        let spec = &app["spec"];
        let namespace = text(&spec["destination"]["namespace"]);
        let ns = expected[namespace];
        let server = format!("https://{}.example.com", program.clusters[ns.cluster].0);
        assert_eq!(text(&spec["destination"]["server"]), server);
        let project = projects[text(&spec["project"])];
        let destinations: BTreeSet<(String, String)> = destinations(project);
        assert!(destinations.contains(&(server.clone(), namespace.to_string())));
        used.entry(text(&spec["project"]))
            .or_default()
            .insert((server, namespace.to_string()));
    }
    for (name, project) in &projects {
        let destinations: BTreeSet<(String, String)> = destinations(project);
        assert_eq!(
            Some(&destinations),
            used.get(name),
            "project {name} allows exactly its envs"
        );
    }
}

/// The program's text in the canonical layout of `envk fmt`.
fn formatted(text: &str) -> String {
    let mut sources = envk::source::SourceMap::new();
    let id = sources.add("program.env.k", text);
    envk::syntax::format::format(sources.file(id)).expect("generated programs parse")
}

/// The program split in two files at an item boundary, the first
/// importing the second.
fn split(text: &str, at: usize) -> Vec<(&'static str, String)> {
    let items = top_level_items(text);
    let at = at % (items.len() + 1);
    let first = format!("import \"./second.env.k\"\n{}", items[..at].concat());
    vec![
        ("first.env.k", first),
        ("second.env.k", items[at..].concat()),
    ]
}

/// The declarations of a program's text, in reverse order.
fn reversed(text: &str) -> String {
    let mut items = top_level_items(text);
    items.reverse();
    items.concat()
}

fn top_level_items(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with([' ', '}']) && !line.is_empty() {
            items.push(String::new());
        }
        if let Some(last) = items.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    items
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Every generated program is accepted, and its output keeps the
    /// invariants (1–6); building is deterministic, also with the
    /// declarations in another order or split across files (7).
    #[test]
    fn accepted_programs_keep_the_invariants(seed in any::<u64>(), cut in any::<usize>()) {
        let program = generate(seed);
        let text = formatted(&render(&program, None));
        let checked = check(&text);
        let errors: Vec<&Diagnostic> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "{}\n{text}", render_diagnostics(&checked));
        let tree = checked.tree.as_ref().expect("accepted programs are built");
        assert_invariants(&program, tree);
        let again = check(&text).tree.expect("built");
        prop_assert_eq!(tree, &again);
        let shuffled = check(&reversed(&text)).tree.expect("the same program, reordered");
        prop_assert_eq!(tree, &shuffled);
        let in_two_files = check_files(&split(&text, cut)).tree.expect("the same program, in two files");
        prop_assert_eq!(tree, &in_two_files);
        // The same program written with records, loops and conditions
        // builds the same bytes, so 1–7 hold of it too.
        let records = formatted(&render_as(&program, None, Form::Records));
        let written_codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        let checked = check(&records);
        prop_assert!(checked.diagnostics.iter().all(|d| !d.is_error()), "{}\n{records}", render_diagnostics(&checked));
        // Its warnings are of the written program's kinds: none from a
        // branch no env takes. (Not as many: the same mistake in envs of
        // one loop body is one warning, at the body.)
        let codes: BTreeSet<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
        let expected: BTreeSet<&str> = written_codes.iter().map(|code| code.as_str()).collect();
        prop_assert_eq!(codes, expected, "{}\n{}", render_diagnostics(&checked), records);
        prop_assert_eq!(tree, checked.tree.as_ref().expect("built"), "{}", records);
    }

    /// Exactly one violation, injected into an accepted program, is
    /// rejected with its code, pointing into the injected text.
    #[test]
    fn injected_violations_are_rejected_where_they_are(seed in any::<u64>(), kind in 0..17usize) {
        let program = generate(seed);
        let (text, snippet, code) = inject(&program, kind);
        rejected_where_injected(&text, &snippet, code)?;
    }
}

/// Checks `text` has errors, each with `code`, each pointing into
/// `snippet`.
fn rejected_where_injected(text: &str, snippet: &str, code: Code) -> Result<(), TestCaseError> {
    let checked = check(text);
    let start = text.find(snippet).expect("the snippet is in the text") as u32;
    let end = start + snippet.len() as u32;
    let base = checked.sources.files().next().map_or(0, |f| f.base());
    let inside = |d: &Diagnostic| {
        let (s, e) = (d.primary.span.start - base, d.primary.span.end - base);
        s >= start && e <= end
    };
    let errors: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    if code.default_severity() == Severity::Warning {
        // The program is accepted, with the warning where it was injected
        // (the generated program may warn of other things elsewhere).
        prop_assert!(errors.is_empty(), "{}", render_diagnostics(&checked));
        prop_assert!(
            checked
                .diagnostics
                .iter()
                .any(|d| d.code == code && inside(d)),
            "no {code:?} in the injected text:\n{}",
            render_diagnostics(&checked)
        );
        return Ok(());
    }
    prop_assert!(!errors.is_empty(), "no error for {code:?}:\n{snippet}");
    for error in &errors {
        prop_assert_eq!(error.code, code, "{}", render_diagnostics(&checked));
        prop_assert!(
            inside(error),
            "{:?} points outside the injected text:\n{}",
            code,
            render_diagnostics(&checked)
        );
    }
    Ok(())
}

/// A program with one violation: its text, the injected snippet, and the
/// code the checker must report.
fn inject(program: &Program, kind: usize) -> (String, String, Code) {
    let base = render(program, None);
    // A cluster of each environment of its own, so injected envs count
    // against no generated cluster.
    let clusters = "cluster inj-dev {\n  server = \"https://inj-dev.example.com\"\n  environment = development\n}\n\ncluster inj-prod {\n  server = \"https://inj-prod.example.com\"\n  environment = production\n}\n\n";
    let env = |name: &str, cluster: &str, tier: &str, extra: &str| {
        let environment = if cluster == "inj-prod" {
            "production"
        } else {
            "development"
        };
        format!(
            "env {name} on {cluster} tier {tier} {{\n  quota {{ requests.cpu = 1  limits.cpu = 2  requests.memory = 1Gi  limits.memory = 2Gi  pods = 10 }}\n  ingress allow from environment {environment}\n  egress allow dns\n{extra}}}\n"
        )
    };
    match kind {
        0 => {
            let snippet = "quota { requests.cpu = 2  limits.cpu = 1 }".to_string();
            let text = format!(
                "{base}{clusters}env inj on inj-dev tier base {{\n  {snippet}\n  ingress allow from environment development\n}}\n"
            );
            (text, snippet, Code::E0401)
        }
        1 => {
            let snippet =
                "limits container { default { cpu = 1500m } max { cpu = 1 } }".to_string();
            let text = format!(
                "{base}{clusters}{}",
                env("inj", "inj-dev", "base", &format!("  {snippet}\n"))
            );
            (text, snippet, Code::E0402)
        }
        2 => {
            let snippet = "env inj on inj-dev tier capped {\n  quota { requests.cpu = 2  limits.cpu = 2 }\n  ingress allow from environment development\n}\n".to_string();
            let text = format!(
                "{base}{clusters}tier capped {{\n  pod_security = baseline\n  ceiling {{ requests.cpu = 1 }}\n}}\n\n{snippet}"
            );
            (text, snippet, Code::E0404)
        }
        3 => {
            // Cluster 0's capacity, 1m below what its envs request (when
            // they request anything; else a new env asks for more).
            let requested = sums(program)[0].0;
            if requested == 0 {
                let snippet = "capacity { cpu = 500m }".to_string();
                let text = format!(
                    "{base}cluster inj {{\n  server = \"https://inj.example.com\"\n  environment = development\n  {snippet}\n}}\n\n{}",
                    env("inj", "inj", "base", "")
                );
                return (text, snippet, Code::E0405);
            }
            let text = render(program, Some(1));
            let snippet = format!("capacity {{ cpu = {}m", requested - 1);
            (text, snippet, Code::E0405)
        }
        4 | 5 => {
            // A role granted in a tier that forbids what it allows.
            let (role, forbid, code) = if kind == 4 {
                ("allow [\"*\"] on [pods]", "forbid wildcards", Code::E0506)
            } else {
                (
                    "allow [escalate] on [roles]",
                    "forbid verbs [escalate]",
                    Code::E0504,
                )
            };
            let snippet = "grant forbidden to group \"ops\"".to_string();
            let text = format!(
                "{base}{clusters}role forbidden {{ {role} }}\ntier locked {{\n  pod_security = baseline\n  {forbid}\n}}\n{}",
                env("inj", "inj-dev", "locked", &format!("  {snippet}\n"))
            );
            (text, snippet, code)
        }
        6 => {
            let snippet = "from environment development on tcp 8443".to_string();
            let text = format!(
                "{base}{clusters}{}",
                env(
                    "inj-prod-team",
                    "inj-prod",
                    "base",
                    &format!("  ingress allow {snippet}\n")
                )
            );
            (text, snippet, Code::E0602)
        }
        9 => {
            // A NetworkPolicy selects namespaces of its own cluster only.
            let snippet = "from env inj-dev-team".to_string();
            let text = format!(
                "{base}{clusters}{}{}",
                env("inj-dev-team", "inj-dev", "base", ""),
                env(
                    "inj-prod-team",
                    "inj-prod",
                    "base",
                    &format!("  ingress allow {snippet} on tcp 8080\n")
                )
            );
            (text, snippet, Code::E0606)
        }
        10 => {
            // Both ends of a path must let it through.
            let snippet = "egress allow to env inj-b on tcp 8443".to_string();
            let text = format!(
                "{base}{clusters}{}tier inj-closed {{\n  pod_security = baseline\n  network = isolated\n}}\n\nenv inj-b on inj-prod tier inj-closed {{\n  ingress allow from env inj-a on tcp 8080\n}}\n",
                env("inj-a", "inj-prod", "base", &format!("  {snippet}\n")),
            );
            (text, snippet, Code::E0607)
        }
        11 => {
            let snippet = "ceiling { requests.cpu = 3 }".to_string();
            let text = format!(
                "{base}tier inj-parent {{\n  pod_security = baseline\n  ceiling {{ requests.cpu = 2 }}\n}}\n\ntier inj-child extends inj-parent {{\n  {snippet}\n}}\n"
            );
            (text, snippet, Code::E0407)
        }
        12 => {
            // Typed where it is written, although nothing uses it.
            let snippet = "let inj-unused = quota { requests.cpu = 1Gi }".to_string();
            (format!("{base}{snippet}\n"), snippet, Code::E0301)
        }
        13 => {
            // Text has no fields.
            let snippet = "let inj-dotted = \"${inj-text.name}\"".to_string();
            (
                format!("{base}let inj-text = \"x\"\n{snippet}\n"),
                snippet,
                Code::E0212,
            )
        }
        14 => {
            // `pods/log` serves `get` only.
            let snippet = "allow [list] on [pods/log]".to_string();
            (
                format!("{base}role inj-reader {{ {snippet} }}\n"),
                snippet,
                Code::E0509,
            )
        }
        15 => {
            // Two rules of one name and labels in one group.
            let snippet = "alert JobFailed\n  alert JobFailed { for = 1h }".to_string();
            let text = format!(
                "{base}{clusters}{}",
                env("inj", "inj-dev", "base", &format!("  {snippet}\n"))
            );
            (text, snippet, Code::E0708)
        }
        16 => {
            // Every use may set `severity`: no parameter may take the name.
            let snippet = "severity: string".to_string();
            let text = format!(
                "{base}alert InjReserved({snippet} = \"x\") {{\n  expr = `up{{namespace=\"${{namespace}}\"}} == 0`\n  severity = warning\n}}\n"
            );
            (text, snippet, Code::E0205)
        }
        7 => {
            let snippet = "expr = `up == 0`".to_string();
            let text =
                format!("{base}alert InjUnscoped {{\n  {snippet}\n  severity = warning\n}}\n");
            (text, snippet, Code::E0702)
        }
        _ => {
            let snippet = "env inj on inj-dev tier prod-only".to_string();
            let text = format!(
                "{base}{clusters}tier prod-only {{\n  pod_security = restricted\n  environment = production\n}}\n{}",
                env("inj", "inj-dev", "prod-only", "")
            );
            (text, snippet, Code::E0801)
        }
    }
}

/// The records form is what the property compares: most programs have
/// envs of one namespace, and they then come from records, nested loops
/// and an `if` per shape, which a mistake in any of those would break.
#[test]
fn the_records_form_exercises_records_loops_and_conditions() {
    let (mut with_records, mut body_loops, mut body_conditions) = (0, 0, 0);
    for seed in 0..40 {
        let program = generate(seed);
        let text = render_as(&program, None, Form::Records);
        if text.contains("for group in groups") {
            with_records += 1;
            assert!(text.contains("if group.shape == 0"), "{text}");
            assert!(text.contains("quota = e.q"), "{text}");
            assert_ne!(text, render(&program, None));
        }
        body_loops += usize::from(text.contains("for g in e.grants"));
        body_conditions += usize::from(text.contains("if e.egress") || text.contains("if e.dns"));
    }
    assert!(with_records >= 20, "only {with_records} of 40 programs");
    assert!(
        body_loops >= 10,
        "a `for` in a body in only {body_loops} of 40 programs"
    );
    assert!(
        body_conditions >= 20,
        "an `if` in a body in only {body_conditions} of 40 programs"
    );
}
