//! The policy invariants of DESIGN §5, property-tested.
//!
//! A generator builds random well-formed programs (clusters with
//! capacities, a Prometheus namespace or none and `allow_cluster_admin`;
//! tiers with ceilings, forbids of verbs, wildcards, secrets and custom
//! resources, isolation, accepted environments, metrics ports and what
//! their envs manage themselves (`self_managed`); custom
//! resources declared and imported from `std/resources`; externals on
//! some clusters, of their cluster's environment or another; roles, some
//! naming custom resources; cluster roles granted on clusters whose
//! every tier allows them; single envs and env families with quotas,
//! limit ranges, grants, network rules or none, to and from externals,
//! from and to other envs, DNS allowed, denied or left to the default,
//! metrics ports, alerts with their team's label and deploys (each from
//! its own repository, some creating their namespace, a family's stages
//! of one environment often sharing an Argo CD project); an env or a
//! stage on one cluster, or on two of one environment, `on [c0, x0]`; a
//! `gitops` block or none; clusters that send their alerts to an
//! Alertmanager, receivers and routes by team and severity, written in a
//! random order, with a default receiver or a route for every team whose
//! alerts are sent), valid by construction.
//! Every one must be accepted (warnings, such as E0509 and E0609,
//! allowed); its build is then parsed back from YAML, and the invariants
//! are checked on those files with code of this test's own (a quantity
//! parser, a NetworkPolicy evaluator, a Prometheus scrape-job reader, a
//! PromQL walk in `invariants/promql_scope.rs`, Argo CD's project rules
//! in `support/argocd_rules.rs`, Alertmanager's first-match routing over
//! `alertmanager.yaml`), never the checker's. An
//! env is a namespace on a cluster: the invariants are over (cluster,
//! name), each object read on the cluster whose folder holds it. The same
//! program written with lists of records, nested loops and `if … else
//! if …` (`Form::Records`) must build the same bytes (a namespace on two
//! clusters is there one record naming both, or one record per cluster).
//! Then exactly one violation is injected, and the checker must reject it
//! with the matching code, pointing into the injected text (a warning's:
//! warn of it there, and accept the program); and a hole is made in a
//! team's Argo CD project, which the fence of invariant 6 must then see.
//!
//! `PROPTEST_CASES=10000 cargo test --release --test invariants` for a long
//! run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::rc::Rc;

use envk::diag::{Code, Diagnostic, Severity};
use envk::driver;
use envk::emit::{self, Options, Tree};
use envk::load::InMemory;
use proptest::prelude::*;
use serde_yaml::Value;

#[path = "invariants/promql_scope.rs"]
mod promql_scope;

#[path = "support/argocd_rules.rs"]
mod argocd_rules;

use argocd_rules::{Cluster as ArgoCluster, Object, Project};

#[path = "support/random.rs"]
mod random;

use random::Random;

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
    /// `forbid resources [...]` of a custom resource, as written.
    forbid_custom: Option<ResourceRef>,
    /// `metrics on tcp ...`: ports every env of the tier serves metrics on.
    metrics: Vec<u16>,
    /// `self_managed = [network, rbac]`: whether its envs manage their
    /// own NetworkPolicies, and their own Roles and RoleBindings.
    self_managed: (bool, bool),
}

/// A custom resource (a CRD) a program declares or imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Crd {
    plural: &'static str,
    group: &'static str,
    subresources: &'static [&'static str],
    cluster_scoped: bool,
}

const fn crd(
    plural: &'static str,
    group: &'static str,
    subresources: &'static [&'static str],
    cluster_scoped: bool,
) -> Crd {
    Crd {
        plural,
        group,
        subresources,
        cluster_scoped,
    }
}

/// The custom resources a program may declare with `resource ...`; the
/// second shares its plural with one of `std/resources`, so that, both
/// declared, each must be named with its group.
const OWN_CRDS: [Crd; 3] = [
    crd("widgets", "example.com", &["status"], false),
    crd("certificates", "example.com", &[], false),
    crd("clusterwidgets", "example.com", &["status"], true),
];

/// Some of what `import "std/resources"` declares (as stdlib/resources.env.k
/// says), the only ones of it the generator names.
const STD_CRDS: [Crd; 5] = [
    crd("rollouts", "argoproj.io", &["status", "scale"], false),
    crd("applications", "argoproj.io", &[], false),
    crd("certificates", "cert-manager.io", &["status"], false),
    crd(
        "servicemonitors",
        "monitoring.coreos.com",
        &["status"],
        false,
    ),
    crd("clusterissuers", "cert-manager.io", &["status"], true),
];

/// The built-in resources that live in no namespace (group, plural), as
/// Kubernetes serves them; what a cluster role may name beside the
/// namespaced ones.
const CLUSTER_SCOPED: [(&str, &str); 5] = [
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("", "users"),
];

/// A custom resource named in a role or a forbid: `Program::crds[crd]`,
/// maybe a subresource of it, and whether written with its group
/// (`rollouts.argoproj.io`) where its plural alone would do.
#[derive(Clone, Copy, Debug)]
struct ResourceRef {
    crd: usize,
    subresource: Option<&'static str>,
    full: bool,
}

/// One `allow [VERBS] on [RESOURCES]` line: built-in resources, then
/// custom ones.
#[derive(Clone, Debug)]
struct Line {
    verbs: Vec<&'static str>,
    resources: Vec<&'static str>,
    custom: Vec<ResourceRef>,
}

/// A role (one line) or a cluster role (one or two).
#[derive(Clone, Debug)]
struct Role {
    name: String,
    lines: Vec<Line>,
}

/// `external NAME on [CLUSTERS] { namespace = ...  environment = ... }`.
#[derive(Clone, Debug)]
struct External {
    name: String,
    /// `None`: the namespace is the name.
    namespace: Option<String>,
    clusters: Vec<usize>,
    /// `None`: each cluster's environment.
    environment: Option<usize>,
}

/// `grant ROLE to SUBJECT on cluster CLUSTERS`, at top level.
#[derive(Clone, Debug)]
struct ClusterGrant {
    role: usize,
    /// `group "..."`, `user "..."` or `serviceaccount "NS/NAME"`.
    subject: (&'static str, String),
    clusters: Vec<usize>,
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
    /// The clusters it is placed on: one, or two of one environment
    /// (`on [c0, x0]`), the namespace then being an env on each.
    clusters: Vec<usize>,
    /// A single cluster written as a list of one, `on [c0]`.
    bracketed: bool,
    /// In the records form, a namespace on two clusters is one record
    /// per cluster (the same name twice, which the language reads as the
    /// same envs), or else one record naming both (`on ["${e.cluster}",
    /// "${e.also}"]`).
    split_records: bool,
    /// In the written form, a namespace on two clusters is an env (or a
    /// stage) declared on each, not one listing both: the same envs.
    split_written: bool,
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
    /// `create_namespace = true` in the deploy block's `sync`.
    create_namespace: bool,
    /// `project = "…"` in the deploy block: the Argo CD project a family's
    /// stages of one environment share (`team0-production`); `None`: the
    /// env's own.
    project: Option<String>,
    /// Which of `promql_scope::uses` an env with alerts adds.
    alert_shapes: u8,
    /// `ingress allow from external NAME on tcp PORT`.
    ingress_external: Option<(usize, u16)>,
    /// `egress allow to external NAME on tcp PORT`.
    egress_external: Option<(usize, u16)>,
    /// `ingress allow from env NAME on tcp PORT`: an env placed on every
    /// cluster this one is, whose environment its tier accepts, and whose
    /// egress lets the traffic out.
    ingress_env: Option<(String, u16)>,
    /// `egress allow to env NAME on tcp PORT`: the other end of a peer's
    /// `ingress_env` naming this env, on the same clusters.
    egress_env: Option<(String, u16)>,
    /// `metrics on tcp ...` in the env's own body.
    metrics: Vec<u16>,
    /// `metrics on tcp ...` in its family's block (the same for every
    /// stage of the family; none for an env of its own).
    family_metrics: Vec<u16>,
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
    /// A cluster's `prometheus { namespace = ... }`.
    prometheus: Vec<Option<&'static str>>,
    /// A cluster's `allow_cluster_admin`, when it says it.
    allow_cluster_admin: Vec<Option<bool>>,
    /// The custom resources roles may name: the first `declared_crds`
    /// declared by the program, then `STD_CRDS` if it imports them.
    crds: Vec<Crd>,
    declared_crds: usize,
    std_resources: bool,
    externals: Vec<External>,
    cluster_roles: Vec<Role>,
    cluster_grants: Vec<ClusterGrant>,
    /// A top-level `gitops { ... }` block: envk then deploys its own
    /// output, with a platform Application per cluster.
    gitops: bool,
    /// The cluster that runs Argo CD, its `argocd_server`; `None`: one
    /// that is none of the program's (the default,
    /// `https://kubernetes.default.svc`).
    argocd_cluster: Option<usize>,
    /// A cluster's `prometheus { alertmanager = … }`: whether it sends
    /// its alerts to one.
    alertmanager: Vec<bool>,
    routing: Routing,
}

/// Where alerts go: receivers `rcv0`, `rcv1`, …, and routes by team and
/// severity, no two with the same matchers; every alert on a cluster that
/// sends to an Alertmanager is taken by one, or by the default.
#[derive(Clone, Debug, Default)]
struct Routing {
    receivers: usize,
    /// (team, severity, receiver).
    routes: Vec<(Option<String>, Option<&'static str>, usize)>,
    default: Option<usize>,
}

const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

impl Routing {
    /// The receiver an alert with these labels reaches, as the program
    /// means it: its most specific route (team and severity, then team,
    /// then severity), else the default.
    fn receiver_of(&self, team: Option<&str>, severity: Option<&str>) -> Option<usize> {
        let find = |want_team: bool, want_severity: bool| {
            self.routes.iter().find(|(t, s, _)| {
                t.is_some() == want_team
                    && s.is_some() == want_severity
                    && t.as_deref().is_none_or(|t| Some(t) == team)
                    && s.is_none_or(|s| Some(s) == severity)
            })
        };
        [(true, true), (true, false), (false, true)]
            .into_iter()
            .find_map(|(t, s)| find(t, s))
            .map(|(_, _, receiver)| *receiver)
            .or(self.default)
    }

    /// The items, in the order generated.
    fn items(&self) -> String {
        let mut out = String::new();
        for receiver in 0..self.receivers {
            let sends = match receiver % 2 {
                0 => format!(
                    "pagerduty {{ routing_key_file = \"/etc/alertmanager/secrets/rcv{receiver}\" }}"
                ),
                _ => format!(
                    "slack {{ channel = \"#rcv{receiver}\"  api_url_file = \"/etc/alertmanager/secrets/slack\" }}"
                ),
            };
            out.push_str(&format!("receiver rcv{receiver} {{\n  {sends}\n}}\n\n"));
        }
        for (team, severity, receiver) in &self.routes {
            let mut route = "route".to_string();
            if let Some(team) = team {
                route.push_str(&format!(" team \"{team}\""));
            }
            if let Some(severity) = severity {
                route.push_str(&format!(" severity {severity}"));
            }
            out.push_str(&format!("{route} to rcv{receiver}\n"));
        }
        if let Some(default) = self.default {
            out.push_str(&format!("route to rcv{default}\n"));
        }
        out.push('\n');
        out
    }
}

/// Receivers and routes for `program`, whose `alertmanager`s are chosen:
/// random routes, a default or none, and then a route for every team
/// whose alerts no route would take on a cluster that sends them.
fn routing(program: &Program, r: &mut Random) -> Routing {
    let mut routing = Routing {
        receivers: 1 + r.below(3) as usize,
        ..Routing::default()
    };
    let mut teams: BTreeSet<String> = program
        .namespaces()
        .filter(|ns| ns.alerts)
        .map(|ns| program.team_of(ns).to_string())
        .collect();
    teams.insert("elsewhere".to_string());
    let mut taken: BTreeSet<(Option<String>, Option<&'static str>)> = BTreeSet::new();
    let mut add = |routing: &mut Routing, r: &mut Random, team: Option<String>, severity| {
        if taken.insert((team.clone(), severity)) {
            let receiver = r.below(routing.receivers as u64) as usize;
            routing.routes.push((team, severity, receiver));
        }
    };
    for team in &teams {
        if r.chance(40) {
            add(&mut routing, r, Some(team.clone()), None);
        }
        for severity in SEVERITIES {
            if r.chance(20) {
                add(&mut routing, r, Some(team.clone()), Some(severity));
            }
        }
    }
    for severity in SEVERITIES {
        if r.chance(30) {
            add(&mut routing, r, None, Some(severity));
        }
    }
    routing.default = r
        .chance(50)
        .then(|| r.below(routing.receivers as u64) as usize);
    if routing.default.is_none() {
        let sent: Vec<String> = program
            .instances()
            .filter(|(cluster, ns)| ns.alerts && program.alertmanager[*cluster])
            .map(|(_, ns)| program.team_of(ns).to_string())
            .collect();
        for team in sent {
            add(&mut routing, r, Some(team), None);
        }
    }
    // Written in no particular order: envk's must not depend on it.
    for at in (1..routing.routes.len()).rev() {
        let other = r.below(at as u64 + 1) as usize;
        routing.routes.swap(at, other);
    }
    routing
}

const LEVELS: [&str; 3] = ["privileged", "baseline", "restricted"];

impl Program {
    fn namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.teams
            .iter()
            .flat_map(|(_, stages)| stages.iter().map(|(_, ns)| ns))
    }

    /// Every env: a namespace on each of its clusters.
    fn instances(&self) -> impl Iterator<Item = (usize, &Namespace)> {
        self.namespaces()
            .flat_map(|ns| ns.clusters.iter().map(move |&cluster| (cluster, ns)))
    }

    /// A namespace's environment, its clusters'.
    fn environment(&self, ns: &Namespace) -> usize {
        self.clusters[ns.clusters[0]].1
    }

    /// The cluster whose folder a path of the build lies in.
    fn cluster_of(&self, path: &str) -> usize {
        let folder = path.split('/').next().unwrap_or("");
        self.clusters
            .iter()
            .position(|(name, _)| name == folder)
            .unwrap_or_else(|| panic!("{path} is in no cluster's folder"))
    }

    fn accepted(&self, tier: usize, own: usize) -> Vec<usize> {
        let accept = &self.tiers[tier].accept;
        if accept.is_empty() {
            vec![own]
        } else {
            accept.clone()
        }
    }

    /// The environment an external counts in on `cluster`.
    fn external_environment(&self, external: usize, cluster: usize) -> usize {
        self.externals[external]
            .environment
            .unwrap_or(self.clusters[cluster].1)
    }

    fn external_namespace(&self, external: usize) -> &str {
        let external = &self.externals[external];
        external.namespace.as_deref().unwrap_or(&external.name)
    }

    /// The ports a namespace serves metrics on: its tier's, its family's
    /// and its own.
    fn metrics(&self, ns: &Namespace) -> BTreeSet<u16> {
        self.tiers[ns.tier]
            .metrics
            .iter()
            .chain(&ns.family_metrics)
            .chain(&ns.metrics)
            .copied()
            .collect()
    }

    /// Whether escalating cluster roles may be granted on `cluster`.
    fn cluster_admin(&self, cluster: usize) -> bool {
        self.allow_cluster_admin[cluster] == Some(true)
    }
}

/// How a role or a forbid writes a custom resource: by its plural where
/// no other resource of the program has it (unless `full`), else with
/// its group; then the subresource.
fn resource_written(crds: &[Crd], reference: &ResourceRef) -> String {
    let crd = &crds[reference.crd];
    let shared = crds
        .iter()
        .filter(|other| other.plural == crd.plural)
        .count()
        > 1;
    let mut name = if reference.full || shared {
        format!("{}.{}", crd.plural, crd.group)
    } else {
        crd.plural.to_string()
    };
    if let Some(subresource) = reference.subresource {
        name.push('/');
        name.push_str(subresource);
    }
    name
}

/// Whether a line of a cluster role reaches into namespaces: it names a
/// namespaced resource (or `"*"`). A namespaced role's always does.
fn reaches_namespaces(crds: &[Crd], line: &Line) -> bool {
    line.resources
        .iter()
        .any(|resource| !CLUSTER_SCOPED.iter().any(|(_, plural)| plural == resource))
        || line
            .custom
            .iter()
            .any(|reference| !crds[reference.crd].cluster_scoped)
}

/// Whether `tier` forbids something `line` allows.
fn line_forbidden(tier: &Tier, line: &Line) -> bool {
    let verbs = &line.verbs;
    let every_resource = line.resources.contains(&"*");
    tier.forbid_verbs && verbs.iter().any(|v| ["escalate", "bind", "*"].contains(v))
        || tier.forbid_wildcards && (verbs.contains(&"*") || every_resource)
        || tier.forbid_secrets && line.resources.iter().any(|r| ["secrets", "*"].contains(r))
        || tier.forbid_custom.is_some_and(|forbidden| {
            every_resource
                || line
                    .custom
                    .iter()
                    .any(|reference| reference.crd == forbidden.crd)
        })
}

/// E0511: whether a line lets people change what envk writes in a
/// namespace of `tier`: NetworkPolicies, unless its envs manage their
/// network; Roles and RoleBindings, unless their RBAC; the Namespace's
/// labels, always.
fn undoes_fences(tier: &Tier, line: &Line) -> bool {
    let has = |verbs: &[&str]| line.verbs.iter().any(|v| verbs.contains(v));
    let writes = has(&[
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "*",
    ]);
    let relabels = has(&["update", "patch", "*"]);
    let every = line.resources.contains(&"*");
    let (_, rbac) = tier.self_managed;
    // `"*"` writes quotas, limit ranges and alert rules, which no tier
    // lets its envs manage.
    writes && every
        || writes && line.resources.contains(&"roles") && !rbac
        || relabels && line.resources.contains(&"namespaces")
}

/// Whether a cluster role holds what a production cluster grants only
/// with `allow_cluster_admin = true`.
fn escalating(role: &Role) -> bool {
    role.lines.iter().any(|line| {
        line.verbs
            .iter()
            .any(|v| ["escalate", "bind", "impersonate", "*"].contains(v))
            || line.resources.contains(&"*")
    })
}

/// Custom resources for a line: each of `candidates` (indices into
/// `crds`) with some chance, as itself or one of its subresources.
fn custom_resources(r: &mut Random, crds: &[Crd], candidates: &[usize]) -> Vec<ResourceRef> {
    let mut picked = Vec::new();
    for &index in candidates {
        if !r.chance(30) {
            continue;
        }
        let subresources = crds[index].subresources;
        let subresource = (!subresources.is_empty() && r.chance(30)).then(|| *r.pick(subresources));
        picked.push(ResourceRef {
            crd: index,
            subresource,
            full: r.chance(30),
        });
    }
    picked
}

const METRICS_PORTS: [u16; 3] = [9090, 9102, 8081];

fn metrics_ports(r: &mut Random, percent: u64) -> Vec<u16> {
    if !r.chance(percent) {
        return Vec::new();
    }
    let mut ports: Vec<u16> = METRICS_PORTS
        .iter()
        .copied()
        .filter(|_| r.chance(40))
        .collect();
    if ports.is_empty() {
        ports.push(*r.pick(&METRICS_PORTS));
    }
    ports
}

fn generate(seed: u64) -> Program {
    let mut r = Random(seed | 1);
    // Later choices come from a generator of their own (the Argo CD ones,
    // what tiers manage themselves), so that the rest of a seed's program
    // is what it was before they were added.
    let mut argo = Random((seed.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15) | 1);
    let mut clusters: Vec<(String, usize)> = (0..3).map(|e| (format!("c{e}"), e)).collect();
    // Up to two more clusters, of any environment: a namespace may be
    // placed on two clusters of one environment.
    for extra in 0..r.below(3) {
        let environment = r.below(3) as usize;
        clusters.push((format!("x{extra}"), environment));
    }
    // Custom resources: some of the program's own, and std/resources'.
    let std_resources = r.chance(50);
    let mut crds: Vec<Crd> = OWN_CRDS.iter().copied().filter(|_| r.chance(60)).collect();
    let declared_crds = crds.len();
    if std_resources {
        crds.extend(STD_CRDS);
    }
    let namespaced_crds: Vec<usize> = (0..crds.len())
        .filter(|&c| !crds[c].cluster_scoped)
        .collect();
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
        forbid_custom: None,
        metrics: metrics_ports(&mut r, 20),
        self_managed: (false, false),
    }];
    for index in 0..r.below(4) {
        let environment = if r.chance(50) {
            Some(r.below(3) as usize)
        } else {
            None
        };
        let accept = if r.chance(40) {
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
        let forbid_custom = (!namespaced_crds.is_empty() && r.chance(35)).then(|| ResourceRef {
            crd: *r.pick(&namespaced_crds),
            subresource: None,
            full: r.chance(30),
        });
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
            forbid_custom,
            metrics: metrics_ports(&mut r, 25),
            self_managed: (false, false),
        });
    }
    // Often a tier accepting every environment, so that externals of
    // other environments than their cluster's may send to its envs.
    if r.chance(50) {
        tiers.push(Tier {
            name: "wide".to_string(),
            level: LEVELS[r.below(3) as usize],
            environment: None,
            has_ceiling: false,
            forbid_verbs: false,
            forbid_wildcards: r.chance(30),
            forbid_secrets: false,
            isolated: r.chance(50),
            accept: vec![0, 1, 2],
            requires_alerts: false,
            forbid_custom: None,
            metrics: metrics_ports(&mut r, 25),
            self_managed: (false, false),
        });
    }
    for tier in &mut tiers {
        tier.self_managed = (argo.chance(25), argo.chance(25));
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
    // A line of namespaced resources, as an env's role or a cluster role
    // may hold.
    let namespaced_line = |r: &mut Random| {
        let mut line_verbs: Vec<&str> = verbs.iter().copied().filter(|_| r.chance(35)).collect();
        if line_verbs.is_empty() {
            line_verbs.push("get");
        }
        let mut line_resources: Vec<&str> =
            resources.iter().copied().filter(|_| r.chance(35)).collect();
        let custom = custom_resources(r, &crds, &namespaced_crds);
        if line_resources.is_empty() && custom.is_empty() {
            line_resources.push("pods");
        }
        Line {
            verbs: line_verbs,
            resources: line_resources,
            custom,
        }
    };
    let roles: Vec<Role> = (0..1 + r.below(4))
        .map(|index| Role {
            name: format!("r{index}"),
            lines: vec![namespaced_line(&mut r)],
        })
        .collect();
    // Cluster roles: a line of cluster-wide resources, a line of
    // namespaced ones, or both.
    let cluster_scoped_crds: Vec<usize> = (0..crds.len())
        .filter(|&c| crds[c].cluster_scoped)
        .collect();
    let cluster_verbs = [
        "get",
        "list",
        "watch",
        "create",
        "delete",
        "escalate",
        "bind",
        "impersonate",
        "*",
    ];
    let cluster_roles: Vec<Role> = (0..r.below(4))
        .map(|index| {
            let shape = r.below(3);
            let mut lines = Vec::new();
            if shape != 1 {
                let mut line_verbs: Vec<&str> = cluster_verbs
                    .iter()
                    .copied()
                    .filter(|_| r.chance(35))
                    .collect();
                if line_verbs.is_empty() {
                    line_verbs.push("list");
                }
                let mut line_resources: Vec<&str> = CLUSTER_SCOPED
                    .iter()
                    .map(|(_, plural)| *plural)
                    .filter(|_| r.chance(35))
                    .collect();
                let custom = custom_resources(&mut r, &crds, &cluster_scoped_crds);
                if line_resources.is_empty() && custom.is_empty() {
                    line_resources.push("nodes");
                }
                lines.push(Line {
                    verbs: line_verbs,
                    resources: line_resources,
                    custom,
                });
            }
            if shape != 0 {
                lines.push(namespaced_line(&mut r));
            }
            Role {
                name: format!("cr{index}"),
                lines,
            }
        })
        .collect();
    let prometheus: Vec<Option<&'static str>> = (0..clusters.len())
        .map(|_| {
            r.chance(60)
                .then(|| *r.pick(&["monitoring", "prometheus", "obs"]))
        })
        .collect();
    let allow_cluster_admin: Vec<Option<bool>> = (0..clusters.len())
        .map(|_| match r.below(5) {
            0 | 1 => Some(true),
            2 => Some(false),
            _ => None,
        })
        .collect();
    // Externals, several on a cluster at times.
    let all: Vec<usize> = (0..clusters.len()).collect();
    let mut externals: Vec<External> = Vec::new();
    for index in 0..r.below(4) {
        let mut on: Vec<usize> = all.iter().copied().filter(|_| r.chance(40)).collect();
        if on.is_empty() {
            on.push(*r.pick(&all));
        }
        externals.push(External {
            name: format!("ext{index}"),
            namespace: r.chance(50).then(|| format!("ext{index}-ns")),
            clusters: on,
            environment: r.chance(60).then(|| r.below(3) as usize),
        });
    }
    let mut teams = Vec::new();
    for team in 0..1 + r.below(5) {
        let family = r.chance(50);
        let stage_names = ["dev", "stage", "prod"];
        let count = if family { 1 + r.below(3) as usize } else { 1 };
        let family_metrics = if family {
            metrics_ports(&mut r, 20)
        } else {
            Vec::new()
        };
        let mut stages = Vec::new();
        for stage_name in stage_names.iter().take(count) {
            let cluster = r.below(clusters.len() as u64) as usize;
            let environment = clusters[cluster].1;
            // Sometimes on a second cluster of the same environment too,
            // listed first or second.
            let alike: Vec<usize> = (0..clusters.len())
                .filter(|&c| c != cluster && clusters[c].1 == environment)
                .collect();
            let on = if !alike.is_empty() && r.chance(35) {
                let other = *r.pick(&alike);
                if r.chance(50) {
                    vec![cluster, other]
                } else {
                    vec![other, cluster]
                }
            } else {
                vec![cluster]
            };
            let allowed: Vec<usize> = (0..tiers.len())
                .filter(|&t| tiers[t].environment.is_none_or(|e| e == environment))
                .collect();
            let tier = *r.pick(&allowed);
            let grants: Vec<usize> = (0..roles.len())
                .filter(|&role| !line_forbidden(&tiers[tier], &roles[role].lines[0]))
                .filter(|_| r.chance(50))
                .filter(|&role| !undoes_fences(&tiers[tier], &roles[role].lines[0]))
                .collect();
            let accepted = if tiers[tier].accept.is_empty() {
                vec![environment]
            } else {
                tiers[tier].accept.clone()
            };
            // The external on each of its clusters, if any; ingress from
            // it only where its environment is accepted.
            let external = (0..externals.len())
                .find(|&e| on.iter().all(|c| externals[e].clusters.contains(c)));
            let cpu_request = 100 * (1 + r.below(40));
            let memory_request = 128 * (1 + r.below(32));
            let namespace = Namespace {
                name: if family {
                    format!("team{team}-{stage_name}")
                } else {
                    format!("team{team}")
                },
                bracketed: on.len() == 1 && r.chance(25),
                split_records: r.chance(50),
                split_written: on.len() > 1 && r.chance(25),
                clusters: on,
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
                create_namespace: false,
                project: None,
                alert_shapes: r.next() as u8,
                ingress_external: external
                    .filter(|&e| {
                        accepted.contains(&externals[e].environment.unwrap_or(environment))
                    })
                    .filter(|_| r.chance(75))
                    .map(|e| (e, *r.pick(&[80u16, 443, 8080]))),
                egress_external: external
                    .filter(|_| r.chance(40))
                    .map(|e| (e, *r.pick(&[443u16, 5432]))),
                ingress_env: None,
                egress_env: None,
                metrics: metrics_ports(&mut r, 25),
                family_metrics: family_metrics.clone(),
            };
            stages.push((family.then(|| stage_name.to_string()), namespace));
        }
        teams.push((format!("team{team}"), stages));
    }
    peers(&mut r, &tiers, &clusters, &mut teams);
    // Cluster grants: on each cluster, maybe one or two cluster roles that
    // every tier with an env there allows, and that are no escalation on a
    // production cluster without `allow_cluster_admin = true`.
    let mut granted: Vec<(usize, Vec<usize>)> = Vec::new();
    for cluster in 0..clusters.len() {
        if !r.chance(60) {
            continue;
        }
        let tiers_here: BTreeSet<usize> = teams
            .iter()
            .flat_map(|(_, stages): &(String, Vec<Stage>)| stages.iter())
            .filter(|(_, ns)| ns.clusters.contains(&cluster))
            .map(|(_, ns)| ns.tier)
            .collect();
        let production = clusters[cluster].1 == 2;
        let admissible: Vec<usize> = (0..cluster_roles.len())
            .filter(|&role| {
                let role = &cluster_roles[role];
                !(production && allow_cluster_admin[cluster] != Some(true) && escalating(role))
                    && role
                        .lines
                        .iter()
                        .filter(|line| reaches_namespaces(&crds, line))
                        .all(|line| tiers_here.iter().all(|&t| !line_forbidden(&tiers[t], line)))
                    && role
                        .lines
                        .iter()
                        .all(|line| tiers_here.iter().all(|&t| !undoes_fences(&tiers[t], line)))
            })
            .collect();
        if admissible.is_empty() {
            continue;
        }
        let mut picked = vec![*r.pick(&admissible)];
        if r.chance(40) {
            let second = *r.pick(&admissible);
            if !picked.contains(&second) {
                picked.push(second);
            }
        }
        for role in picked {
            match granted.iter_mut().find(|(granted, _)| *granted == role) {
                Some((_, on)) => on.push(cluster),
                None => granted.push((role, vec![cluster])),
            }
        }
    }
    // Each granted role to one or two subjects, a grant each.
    let mut cluster_grants = Vec::new();
    for (role, clusters) in granted {
        let first = r.below(3);
        let kinds = match r.chance(40) {
            true => vec![first, (first + 1 + r.below(2)) % 3],
            false => vec![first],
        };
        for kind in kinds {
            cluster_grants.push(ClusterGrant {
                role,
                subject: match kind {
                    0 => ("group", format!("cr{role}-admins")),
                    1 => ("user", format!("cr{role}-owner")),
                    _ => ("serviceaccount", format!("kube-system/cr{role}")),
                },
                clusters: clusters.clone(),
            });
        }
    }
    let capacity_slack = (0..clusters.len()).map(|_| r.below(3000)).collect();
    let pod_security_floors = (0..clusters.len())
        .map(|_| (r.below(3) == 0).then(|| *r.pick(&LEVELS)))
        .collect();
    for (team, stages) in &mut teams {
        // A family's stages of one environment may share a project.
        let shared = stages[0].0.is_some() && argo.chance(75);
        for (_, ns) in stages.iter_mut() {
            ns.create_namespace = ns.deploy && argo.chance(40);
            if shared {
                let environment = ENVIRONMENTS[clusters[ns.clusters[0]].1];
                ns.project = Some(format!("{team}-{environment}"));
            }
        }
        // Argo CD admits a Namespace by name on every cluster of a project
        // (E0807): in a project over several clusters, only a namespace
        // on all of them may be created by its Application.
        let mut project_clusters: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (_, ns) in stages.iter().filter(|(_, ns)| ns.deploy) {
            if let Some(project) = &ns.project {
                project_clusters
                    .entry(project.clone())
                    .or_default()
                    .extend(ns.clusters.iter().copied());
            }
        }
        for (_, ns) in stages.iter_mut() {
            let spans = ns
                .project
                .as_ref()
                .and_then(|project| project_clusters.get(project));
            if let Some(spans) = spans
                && ns.clusters.iter().copied().collect::<BTreeSet<usize>>() != *spans
            {
                ns.create_namespace = false;
            }
        }
    }
    let gitops = argo.chance(30);
    let argocd_cluster =
        (gitops && argo.chance(30)).then(|| argo.below(clusters.len() as u64) as usize);
    let mut program = Program {
        clusters,
        tiers,
        roles,
        teams,
        capacity_slack,
        pod_security_floors,
        prometheus,
        allow_cluster_admin,
        crds,
        declared_crds,
        std_resources,
        externals,
        cluster_roles,
        cluster_grants,
        gitops,
        argocd_cluster,
        alertmanager: Vec::new(),
        routing: Routing::default(),
    };
    // Of its own generator, so that the rest of the program is what it
    // was before alerts were routed.
    let mut routed = Random((seed.rotate_left(41) ^ 0x5851_f42d_4c95_7f2d) | 1);
    program.alertmanager = (0..program.clusters.len())
        .map(|_| routed.chance(50))
        .collect();
    program.routing = routing(&program, &mut routed);
    program
}

/// Whether a namespace's egress is restricted: by a rule of its own, by
/// `egress allow dns`, or by its tier's isolation.
fn restricted(tiers: &[Tier], ns: &Namespace) -> bool {
    ns.egress
        || ns.egress_external.is_some()
        || ns.egress_env.is_some()
        || tiers[ns.tier].isolated
        || ns.dns == Dns::Allow
}

/// Network rules between envs: some namespaces admit another, placed on
/// each of their clusters (so on each the name resolves to an env there)
/// and of an environment their tier accepts. A sender whose egress is
/// restricted says so at its end too (`egress allow to env`), which
/// needs it on exactly the receiver's clusters: its rule resolves on
/// each of its own.
fn peers(
    r: &mut Random,
    tiers: &[Tier],
    clusters: &[(String, usize)],
    teams: &mut [(String, Vec<Stage>)],
) {
    let at: Vec<(usize, usize)> = teams
        .iter()
        .enumerate()
        .flat_map(|(t, (_, stages))| (0..stages.len()).map(move |s| (t, s)))
        .collect();
    let ns = |teams: &[(String, Vec<Stage>)], (t, s): (usize, usize)| teams[t].1[s].1.clone();
    for &to_at in &at {
        if !r.chance(35) {
            continue;
        }
        let to = ns(teams, to_at);
        let environment = clusters[to.clusters[0]].1;
        let accepts =
            tiers[to.tier].accept.is_empty() || tiers[to.tier].accept.contains(&environment);
        if !accepts {
            continue;
        }
        let same_clusters = |a: &Namespace, b: &Namespace| {
            a.clusters.iter().collect::<BTreeSet<_>>() == b.clusters.iter().collect::<BTreeSet<_>>()
        };
        let candidates: Vec<(usize, usize)> = at
            .iter()
            .copied()
            .filter(|&from_at| from_at != to_at)
            .filter(|&from_at| {
                let from = ns(teams, from_at);
                to.clusters.iter().all(|c| from.clusters.contains(c))
                    && (!restricted(tiers, &from)
                        || same_clusters(&from, &to) && from.egress_env.is_none())
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let from_at = *r.pick(&candidates);
        let port = *r.pick(&[8080u16, 8443, 9000]);
        let from = ns(teams, from_at);
        if restricted(tiers, &from) {
            teams[from_at.0].1[from_at.1].1.egress_env = Some((to.name.clone(), port));
        }
        teams[to_at.0].1[to_at.1].1.ingress_env = Some((from.name.clone(), port));
    }
}

/// Per cluster: cpu (m), memory (MiB), pods requested in all, each
/// namespace on several clusters counted on each.
fn sums(program: &Program) -> Vec<(u64, u64, u64)> {
    let mut sums = vec![(0, 0, 0); program.clusters.len()];
    for (cluster, ns) in program.instances() {
        let s = &mut sums[cluster];
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

/// What a quota's requests cost a month at OpenCost's default prices
/// ($0.031611 per core-hour, $0.004237 per GiB-hour, 730 hours), in cents:
/// each part to the nearest nano-dollar, the sum to the nearest cent.
/// Computed apart from envk's `cost` module, from milli-cores and bytes.
fn monthly_cents(cpu_millis: u128, memory_bytes: u128) -> u128 {
    let cpu = (cpu_millis * 31_611_000 * 730 + 500) / 1000;
    let memory = (memory_bytes * 4_237_000 * 730 + (1 << 29)) >> 30;
    (cpu + memory + 5_000_000) / 10_000_000
}

/// Per tier with a ceiling, a budget too: what its dearest namespace costs
/// a month, in cents, so that every one is within it (and one exactly at
/// it, which the budget allows).
fn budgets(program: &Program) -> Vec<Option<u128>> {
    program
        .tiers
        .iter()
        .enumerate()
        .map(|(index, tier)| {
            tier.has_ceiling.then(|| {
                program
                    .namespaces()
                    .filter(|ns| ns.tier == index)
                    .map(|ns| {
                        monthly_cents(
                            u128::from(ns.quota.cpu_request),
                            u128::from(ns.quota.memory_request) << 20,
                        )
                    })
                    .max()
                    .unwrap_or(100)
            })
        })
        .collect()
}

fn quota_fields(q: &Quota) -> String {
    format!(
        "requests.cpu = {}m  limits.cpu = {}m  requests.memory = {}Mi  limits.memory = {}Mi  pods = {}",
        q.cpu_request, q.cpu_limit, q.memory_request, q.memory_limit, q.pods
    )
}

/// How `render` writes the teams of one namespace.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// Each env written out.
    Written,
    /// One list of records and nested loops: the envs grouped by the
    /// statements they hold (their shape), each group a list of records
    /// holding what differs (names, placement, quota, limits, grants,
    /// ingress sources), and an `if … else if …` choosing each group's
    /// body. A namespace on two clusters is a record for each (the same
    /// name on two clusters, declared twice: the same envs as one
    /// declaration listing both), or one record with a second cluster
    /// (`also`, in the other order than the written list), read by a
    /// shape of its own: `on ["${e.cluster}", "${e.also}"]`.
    Records,
}

/// A verb or resource in an `allow` or `forbid` list: quoted where it is
/// `"*"` or a plural with its group (a subresource may stand bare, with
/// its group or not).
fn rbac_item(item: &str) -> String {
    if item.contains('*') || item.contains('.') && !item.contains('/') {
        format!("\"{item}\"")
    } else {
        item.to_string()
    }
}

/// The `allow` lines of a role or a cluster role.
fn role_body(program: &Program, role: &Role) -> String {
    role.lines
        .iter()
        .map(|line| {
            let verbs: Vec<String> = line.verbs.iter().map(|v| rbac_item(v)).collect();
            let resources: Vec<String> = line
                .resources
                .iter()
                .map(|r| rbac_item(r))
                .chain(
                    line.custom
                        .iter()
                        .map(|c| rbac_item(&resource_written(&program.crds, c))),
                )
                .collect();
            format!("allow [{}] on [{}]", verbs.join(", "), resources.join(", "))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn metrics_statement(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(|p| format!("tcp {p}")).collect();
    format!("metrics on {}", ports.join(", "))
}

/// The program as source text; `capacity_cut` takes, on a cluster, that
/// much cpu (m) below what its envs request.
fn render(program: &Program, capacity_cut: Option<(usize, u64)>) -> String {
    render_as(program, capacity_cut, Form::Written)
}

/// Where a namespace is placed, as written: `c0`, `[c0]` or `[c0, x0]`.
fn placement(program: &Program, ns: &Namespace) -> String {
    let names: Vec<&str> = ns
        .clusters
        .iter()
        .map(|&c| program.clusters[c].0.as_str())
        .collect();
    match names.as_slice() {
        [one] if !ns.bracketed => one.to_string(),
        _ => format!("[{}]", names.join(", ")),
    }
}

fn render_as(program: &Program, capacity_cut: Option<(usize, u64)>, form: Form) -> String {
    let mut out = String::from("import \"std/alerts\"\n\n");
    if program.std_resources {
        out.push_str("import \"std/resources\"\n\n");
    }
    if program.gitops {
        let argocd_server = program.argocd_cluster.map_or(String::new(), |cluster| {
            format!(
                "  argocd_server = \"https://{}.example.com\"",
                program.clusters[cluster].0
            )
        });
        out.push_str(&format!(
            "gitops {{ repo = \"{GITOPS_REPO}\"  path = \"out\"{argocd_server} }}\n\n"
        ));
    }
    out.push_str(promql_scope::TEMPLATES);
    out.push_str(&program.routing.items());
    let sums = sums(program);
    for (index, (name, environment)) in program.clusters.iter().enumerate() {
        let (cpu, memory, pods) = sums[index];
        let slack = program.capacity_slack[index];
        let cpu_capacity = match capacity_cut {
            Some((cluster, cut)) if index == cluster => cpu.saturating_sub(cut),
            _ => cpu + slack,
        };
        let mut extra = String::new();
        if let Some(level) = program.pod_security_floors[index] {
            extra.push_str(&format!("  pod_security = {level}\n"));
        }
        let alertmanager = match program.alertmanager.get(index) {
            Some(true) => "  alertmanager = \"http://alertmanager.monitoring.svc:9093\"",
            _ => "",
        };
        match program.prometheus[index] {
            Some(namespace) => extra.push_str(&format!(
                "  prometheus {{ namespace = \"{namespace}\"{alertmanager} }}\n"
            )),
            None if !alertmanager.is_empty() => {
                extra.push_str(&format!("  prometheus {{{alertmanager} }}\n"))
            }
            None => {}
        }
        if let Some(allow) = program.allow_cluster_admin[index] {
            extra.push_str(&format!("  allow_cluster_admin = {allow}\n"));
        }
        out.push_str(&format!(
            "cluster {name} {{\n  server = \"https://{name}.example.com\"\n  environment = {}\n{extra}  capacity {{ cpu = {cpu_capacity}m  memory = {}Mi  pods = {} }}\n}}\n\n",
            ENVIRONMENTS[*environment],
            memory + slack,
            pods + slack
        ));
    }
    for crd in &program.crds[..program.declared_crds] {
        let mut fields = Vec::new();
        if !crd.subresources.is_empty() {
            fields.push(format!("subresources = [{}]", crd.subresources.join(", ")));
        }
        if crd.cluster_scoped {
            fields.push("cluster_scoped = true".to_string());
        }
        out.push_str(&format!(
            "resource {}.{} {{ {} }}\n\n",
            crd.plural,
            crd.group,
            fields.join("  ")
        ));
    }
    for external in &program.externals {
        let names: Vec<&str> = external
            .clusters
            .iter()
            .map(|&c| program.clusters[c].0.as_str())
            .collect();
        let on = match names.as_slice() {
            [one] if external.environment.is_none() => one.to_string(),
            _ => format!("[{}]", names.join(", ")),
        };
        let mut fields = Vec::new();
        if let Some(namespace) = &external.namespace {
            fields.push(format!("namespace = \"{namespace}\""));
        }
        if let Some(environment) = external.environment {
            fields.push(format!("environment = {}", ENVIRONMENTS[environment]));
        }
        let block = if fields.is_empty() {
            String::new()
        } else {
            format!(" {{ {} }}", fields.join("  "))
        };
        out.push_str(&format!("external {} on {on}{block}\n\n", external.name));
    }
    let ceilings = ceilings(program);
    let budgets = budgets(program);
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
        if let Some(cents) = budgets[index] {
            out.push_str(&format!("  budget = {}.{:02}\n", cents / 100, cents % 100));
        }
        if tier.forbid_verbs {
            out.push_str("  forbid verbs [escalate, bind]\n");
        }
        if tier.forbid_wildcards {
            out.push_str("  forbid wildcards\n");
        }
        let mut forbidden: Vec<String> = Vec::new();
        if tier.forbid_secrets {
            forbidden.push("secrets".to_string());
        }
        if let Some(custom) = &tier.forbid_custom {
            forbidden.push(rbac_item(&resource_written(&program.crds, custom)));
        }
        if !forbidden.is_empty() {
            out.push_str(&format!("  forbid resources [{}]\n", forbidden.join(", ")));
        }
        if tier.isolated {
            out.push_str("  network = isolated\n");
        }
        let managed: Vec<&str> = [
            (tier.self_managed.0, "network"),
            (tier.self_managed.1, "rbac"),
        ]
        .into_iter()
        .filter_map(|(managed, word)| managed.then_some(word))
        .collect();
        if !managed.is_empty() {
            out.push_str(&format!("  self_managed = [{}]\n", managed.join(", ")));
        }
        if !tier.accept.is_empty() {
            let names: Vec<&str> = tier.accept.iter().map(|&e| ENVIRONMENTS[e]).collect();
            out.push_str(&format!("  accept from [{}]\n", names.join(", ")));
        }
        if tier.requires_alerts {
            out.push_str("  require alerts [PodCrashLooping]\n");
        }
        if !tier.metrics.is_empty() {
            out.push_str(&format!("  {}\n", metrics_statement(&tier.metrics)));
        }
        out.push_str("}\n\n");
    }
    for role in &program.roles {
        out.push_str(&format!(
            "role {} {{ {} }}\n\n",
            role.name,
            role_body(program, role)
        ));
    }
    for role in &program.cluster_roles {
        out.push_str(&format!(
            "cluster_role {} {{ {} }}\n\n",
            role.name,
            role_body(program, role)
        ));
    }
    for grant in &program.cluster_grants {
        let names: Vec<&str> = grant
            .clusters
            .iter()
            .map(|&c| program.clusters[c].0.as_str())
            .collect();
        let on = match names.as_slice() {
            [one] if grant.role % 2 == 0 => one.to_string(),
            _ => format!("[{}]", names.join(", ")),
        };
        let (kind, subject) = &grant.subject;
        out.push_str(&format!(
            "grant {} to {kind} \"{subject}\" on cluster {on}\n\n",
            program.cluster_roles[grant.role].name
        ));
    }
    // Each group's shape (its body, and whether its records name a second
    // cluster) and records.
    type Group<'p> = ((String, bool), Vec<(String, &'p Namespace)>);
    let mut groups: Vec<Group> = Vec::new();
    for (team, stages) in &program.teams {
        if form == Form::Records && stages[0].0.is_none() {
            let (_, ns) = &stages[0];
            let (body, fields) = as_record(program, ns);
            let placements: Vec<(Vec<usize>, bool)> = match ns.clusters.as_slice() {
                [a, b] if !ns.split_records => vec![(vec![*b, *a], true)],
                clusters => clusters.iter().map(|&c| (vec![c], false)).collect(),
            };
            for (on, also) in placements {
                let names: Vec<String> = on
                    .iter()
                    .zip(["cluster", "also"])
                    .map(|(&c, field)| format!("{field} = \"{}\"", program.clusters[c].0))
                    .collect();
                let fields = format!("name = \"{}\"  {}  {fields}", ns.name, names.join("  "));
                let shape = (body.clone(), also);
                match groups.iter_mut().find(|(other, _)| *other == shape) {
                    Some((_, records)) => records.push((fields, ns)),
                    None => groups.push((shape, vec![(fields, ns)])),
                }
            }
            continue;
        }
        let family = stages[0].0.is_some();
        if family {
            out.push_str(&format!(
                "env {team} {{\n  labels {{ team = \"{team}\" }}\n"
            ));
            let family_metrics = &stages[0].1.family_metrics;
            if !family_metrics.is_empty() {
                out.push_str(&format!("  {}\n", metrics_statement(family_metrics)));
            }
        }
        for (stage, ns) in stages {
            // A namespace on two clusters, declared once for each or once
            // listing both.
            let placements: Vec<String> = if ns.split_written {
                ns.clusters
                    .iter()
                    .map(|&c| program.clusters[c].0.clone())
                    .collect()
            } else {
                vec![placement(program, ns)]
            };
            let tier = &program.tiers[ns.tier].name;
            let indent = if family { "    " } else { "  " };
            for cluster in placements {
                match stage {
                    Some(stage) => {
                        out.push_str(&format!("  stage {stage} on {cluster} tier {tier} {{\n"))
                    }
                    None => out.push_str(&format!("env {} on {cluster} tier {tier} {{\n", ns.name)),
                }
                out.push_str(&namespace_body(program, ns, indent));
                out.push_str(if family { "  }\n" } else { "}\n\n" });
            }
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
        for (index, ((body, also), records)) in groups.iter().enumerate() {
            let body = body.replace(NETWORK, &network_statements(records));
            let keyword = if index == 0 { "    if" } else { " else if" };
            let on = if *also {
                "[\"${e.cluster}\", \"${e.also}\"]"
            } else {
                "\"${e.cluster}\""
            };
            out.push_str(&format!(
                "{keyword} group.shape == {index} {{\n      env \"${{e.name}}\" on {on} tier \"${{e.tier}}\" {{\n{body}      }}\n    }}"
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
/// Its name and clusters are not among the fields: a namespace on two
/// clusters may be two records.
fn as_record(program: &Program, ns: &Namespace) -> (String, String) {
    let mut fields = vec![
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
        // Egress to an external or an env is written as it is, before
        // the others.
        let is_network = statement.starts_with("egress ")
            && !statement.starts_with("egress allow to external ")
            && !statement.starts_with("egress allow to env ");
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
        } else if let Some(team) = statement
            .strip_prefix("alert_labels { team = \"")
            .and_then(|rest| rest.strip_suffix("\" }"))
        {
            fields.push(format!("team = \"{team}\""));
            "alert_labels { team = \"${e.team}\" }".to_string()
        } else if let Some(rule) = statement.strip_prefix("ingress allow from environment ") {
            let (from, port) = rule.split_once(' ').expect("a source and a port");
            fields.push(format!("from = \"{from}\""));
            format!("ingress allow from environment \"${{e.from}}\" {port}")
        } else if let Some(rule) = statement.strip_prefix("ingress allow from env ") {
            let (peer, port) = rule.split_once(' ').expect("a peer and a port");
            fields.push(format!("peer = \"{peer}\""));
            format!("ingress allow from env \"${{e.peer}}\" {port}")
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
    if let Some((external, port)) = ns.ingress_external {
        line(
            &mut body,
            format!(
                "ingress allow from external {} on tcp {port}",
                program.externals[external].name
            ),
        );
    }
    if let Some((peer, port)) = &ns.ingress_env {
        line(
            &mut body,
            format!("ingress allow from env {peer} on tcp {port}"),
        );
    }
    if !ns.metrics.is_empty() {
        line(&mut body, metrics_statement(&ns.metrics));
    }
    // Before the rules `as_record` turns into `if`s: envk adds what an
    // `if` or a `for` in an env's body holds after everything written in
    // the body itself, not where the `if` stands (see the report), so
    // an unconditional rule after an `if` would change places in the
    // records form.
    if let Some((external, port)) = ns.egress_external {
        line(
            &mut body,
            format!(
                "egress allow to external {} on tcp {port}",
                program.externals[external].name
            ),
        );
    }
    if let Some((peer, port)) = &ns.egress_env {
        line(
            &mut body,
            format!("egress allow to env {peer} on tcp {port}"),
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
        line(
            &mut body,
            format!("alert_labels {{ team = \"{}\" }}", program.team_of(ns)),
        );
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
        let project = ns
            .project
            .as_ref()
            .map_or(String::new(), |project| format!(" project = \"{project}\""));
        let create = if ns.create_namespace {
            " create_namespace = true"
        } else {
            ""
        };
        line(
            &mut body,
            format!(
                "deploy {{ repo = \"https://git.example.com/${{namespace}}\" path = \"envs/${{namespace}}/${{cluster}}\"{project} sync {{ prune = true self_heal = true{create} }} }}"
            ),
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

/// The repository of a generated program's `gitops` block.
const GITOPS_REPO: &str = "https://git.example.com/platform";
/// With a `gitops` block, the project of envk's own Applications.
const PLATFORM_PROJECT: &str = "platform";

/// envk's Application of a cluster's output, `envk-<cluster>`.
/// `envk-argocd` in project `platform`, `envk-<cluster>` in
/// `platform-<cluster>`.
fn is_platform_application(app: &Value) -> bool {
    let name = text(&app["metadata"]["name"]);
    let project = text(&app["spec"]["project"]);
    match name.strip_prefix("envk-") {
        Some("argocd") => project == PLATFORM_PROJECT,
        // `envk-<cluster>` and its Prometheus files', `envk-<cluster>.monitoring`.
        Some(cluster) => project.strip_prefix("platform-") == Some(cluster),
        None => false,
    }
}

/// With a `gitops` block, a cluster whose Prometheus namespace is known
/// has `envk-<cluster>.monitoring`, which syncs the ConfigMaps of its
/// Prometheus files (`<cluster>/monitoring`) in a project that admits
/// ConfigMaps in that namespace and nothing else anywhere; a cluster
/// without has neither.
fn assert_monitoring_fence<'o>(
    program: &Program,
    projects: &BTreeMap<&str, &Value>,
    names: &BTreeSet<&str>,
    index: usize,
    cluster: ArgoCluster,
    application: &dyn Fn(&str) -> &'o Value,
) {
    let name = cluster.name;
    let project_name = format!("platform-{name}.monitoring");
    let Some(prometheus) = program.prometheus[index] else {
        assert!(
            !projects.contains_key(project_name.as_str()),
            "{project_name}"
        );
        return;
    };
    let app = application(&format!("envk-{name}.monitoring"));
    assert!(is_platform_application(app));
    assert_eq!(text(&app["spec"]["source"]["repoURL"]), GITOPS_REPO);
    assert_eq!(
        text(&app["spec"]["source"]["path"]),
        format!("out/{name}/monitoring")
    );
    assert_eq!(text(&app["spec"]["destination"]["namespace"]), prometheus);
    let fence = Project::from_yaml(projects[project_name.as_str()]);
    let config = Object::new("", "ConfigMap", "envk-prometheus-config", Some(prometheus));
    assert!(
        fence.permits(GITOPS_REPO, &config, cluster),
        "{project_name}: its ConfigMaps"
    );
    assert!(!fence.permits("https://example.com/other", &config, cluster));
    let mut breaches = Vec::new();
    for &namespace in names {
        for (group, kind) in SAMPLE_KINDS
            .iter()
            .chain(&ENVK_NAMESPACED)
            .chain([&PROMETHEUS_RULE])
        {
            if namespace == prometheus && (*group, *kind) == ("", "ConfigMap") {
                continue;
            }
            let object = Object::new(group, kind, "stray", Some(namespace));
            if fence.permits(GITOPS_REPO, &object, cluster) {
                breaches.push(object.to_string());
            }
        }
    }
    for (group, kind) in [
        ("", "Namespace"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    ] {
        let object = Object::new(group, kind, prometheus, None);
        if fence.permits(GITOPS_REPO, &object, cluster) {
            breaches.push(object.to_string());
        }
    }
    assert!(
        breaches.is_empty(),
        "{project_name} admits more than the ConfigMaps of {prometheus}:\n{}",
        breaches.join("\n")
    );
}

/// A project of envk's own Applications (with a `gitops` block).
fn is_platform_project(program: &Program, name: &str) -> bool {
    program.gitops
        && (name == PLATFORM_PROJECT
            || program
                .clusters
                .iter()
                .enumerate()
                .any(|(index, (cluster, _))| {
                    name == format!("platform-{cluster}")
                        || (program.prometheus[index].is_some()
                            && name == format!("platform-{cluster}.monitoring"))
                }))
}

impl Program {
    /// The team an env is of, as envk reads it: its family's `team`
    /// label, or, without one, the env itself.
    fn team_of<'a>(&'a self, ns: &'a Namespace) -> &'a str {
        self.teams
            .iter()
            .find(|(_, stages)| stages.iter().any(|(_, stage)| stage.name == ns.name))
            .filter(|(_, stages)| stages[0].0.is_some())
            .map_or(ns.name.as_str(), |(team, _)| team.as_str())
    }

    /// Whether a namespace is an env on several clusters.
    fn on_several(&self, ns: &Namespace) -> bool {
        self.instances()
            .filter(|(_, other)| other.name == ns.name)
            .count()
            > 1
    }

    /// The Argo CD project of an env's Application: the one its deploy
    /// block names, or its own, `<env>` (`<env>-<cluster>` on several
    /// clusters).
    fn project_of(&self, cluster: usize, ns: &Namespace) -> String {
        match &ns.project {
            Some(project) => project.clone(),
            None if self.on_several(ns) => format!("{}-{}", ns.name, self.clusters[cluster].0),
            None => ns.name.clone(),
        }
    }

    /// Each cluster as Argo CD knows it: (server, the name it is
    /// registered under, here envk's); then, if it is none of them, the
    /// one Argo CD runs in (`https://kubernetes.default.svc`,
    /// `in-cluster`).
    fn argocd_clusters(&self) -> Vec<(String, String)> {
        let mut clusters: Vec<(String, String)> = self
            .clusters
            .iter()
            .map(|(name, _)| (format!("https://{name}.example.com"), name.clone()))
            .collect();
        if self.argocd_cluster.is_none() {
            clusters.push((
                "https://kubernetes.default.svc".to_string(),
                "in-cluster".to_string(),
            ));
        }
        clusters
    }

    /// The cluster Argo CD runs in, in `argocd_clusters`.
    fn argocd_home(&self) -> usize {
        self.argocd_cluster.unwrap_or(self.clusters.len())
    }
}

/// The repository an env's Application syncs (`${namespace}` in it).
fn repo_of(ns: &Namespace) -> String {
    format!("https://git.example.com/{}", ns.name)
}

/// An Argo CD project as the program makes it: the envs (cluster,
/// namespace) whose Applications it holds.
#[derive(Debug, Default)]
struct ExpectedProject<'p> {
    teams: BTreeSet<&'p str>,
    envs: BTreeSet<(usize, &'p str)>,
    repos: BTreeSet<String>,
    /// The envs whose Application creates its namespace: none with a
    /// `gitops` block, where the platform creates every one.
    creates: BTreeSet<(usize, &'p str)>,
    /// Whether an env of it has alert rules: PrometheusRules are then
    /// envk's in its namespaces.
    rules: bool,
    /// Whether an env of it leaves its NetworkPolicies to envk (its tier
    /// has no `self_managed = [network]`), and its Roles and RoleBindings:
    /// the project then fences those kinds in every one of its envs.
    fences_network: bool,
    fences_rbac: bool,
}

impl ExpectedProject<'_> {
    /// Whether the project's Applications may not write objects of a
    /// kind envk writes in their namespaces (all but those its envs all
    /// manage themselves).
    fn fences(&self, group: &str, kind: &str) -> bool {
        match (group, kind) {
            ("networking.k8s.io", "NetworkPolicy") => self.fences_network,
            ("rbac.authorization.k8s.io", "Role" | "RoleBinding") => self.fences_rbac,
            ("monitoring.coreos.com", "PrometheusRule") => self.rules,
            _ => true,
        }
    }
}

fn expected_projects(program: &Program) -> BTreeMap<String, ExpectedProject<'_>> {
    let mut projects: BTreeMap<String, ExpectedProject> = BTreeMap::new();
    for (cluster, ns) in program.instances().filter(|(_, ns)| ns.deploy) {
        let project = projects.entry(program.project_of(cluster, ns)).or_default();
        project.teams.insert(program.team_of(ns));
        project.envs.insert((cluster, &ns.name));
        project.repos.insert(repo_of(ns));
        if ns.create_namespace && !program.gitops {
            project.creates.insert((cluster, &ns.name));
        }
        project.rules |= ns.alerts;
        let (network, rbac) = program.tiers[ns.tier].self_managed;
        project.fences_network |= !network;
        project.fences_rbac |= !rbac;
    }
    projects
}

/// One question to a project's rules: may an Application of it, syncing
/// one of `repos`, write `object` on `cluster`? With why the answer
/// matters.
#[derive(Clone, Debug)]
struct Probe<'a> {
    cluster: usize,
    object: Object<'a>,
    repos: Rc<[String]>,
    why: &'static str,
}

/// The kinds envk writes in an env's namespace, PrometheusRule aside:
/// envk's there only where it writes alert rules.
const ENVK_NAMESPACED: [(&str, &str); 5] = [
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
];
const PROMETHEUS_RULE: (&str, &str) = ("monitoring.coreos.com", "PrometheusRule");
/// What any Application may hold, beside envk's kinds.
const SAMPLE_KINDS: [(&str, &str); 3] = [("apps", "Deployment"), ("", "ConfigMap"), ("", "Secret")];
/// Argo CD's own: in its namespace, a way out of any fence.
const ARGO_KINDS: [(&str, &str); 2] = [
    ("argoproj.io", "Application"),
    ("argoproj.io", "AppProject"),
];
/// What a team deploys in its namespace.
const WORKLOADS: [(&str, &str); 3] = [("apps", "Deployment"), ("", "Service"), ("", "ConfigMap")];
/// Cluster-scoped kinds no team writes (the Namespace aside).
const CLUSTER_KINDS: [(&str, &str); 3] = [
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
];
/// Namespaces of every cluster that no env is, and a name nothing uses.
const OTHER_NAMESPACES: [&str; 4] = ["kube-system", "default", "argocd", "unused"];
/// A repository of no project.
const STRANGER_REPO: &str = "https://git.example.com/stranger";

/// The objects envk wrote in the clusters' folders, each on its cluster.
fn envk_objects<'o>(program: &Program, objects: &'o [(String, Value)]) -> Vec<(usize, Object<'o>)> {
    objects
        .iter()
        .filter(|(path, _)| {
            let folder = path.split('/').next();
            program
                .clusters
                .iter()
                .any(|(name, _)| Some(name.as_str()) == folder)
        })
        .map(|(path, document)| (program.cluster_of(path), Object::of_document(document)))
        .collect()
}

/// Every namespace name: the envs', on any cluster, the Prometheus and
/// external ones, and `OTHER_NAMESPACES`.
fn namespace_names(program: &Program) -> BTreeSet<&str> {
    let mut names: BTreeSet<&str> = program.namespaces().map(|ns| ns.name.as_str()).collect();
    names.extend(program.prometheus.iter().flatten());
    names.extend((0..program.externals.len()).map(|e| program.external_namespace(e)));
    names.extend(OTHER_NAMESPACES);
    names
}

/// What the fence of a team's project must keep out (`.0`) and let in
/// (`.1`). Out: from any repository of the project, every object envk
/// wrote (but the Namespace of an env of the project whose Application
/// creates it), an object of a kind envk owns in its envs' namespaces,
/// anything in any other namespace on any cluster, any other Namespace,
/// and any other cluster-scoped object; a workload in its namespaces
/// from a repository not of the project. In: that workload from the
/// project's repositories.
fn team_probes<'a>(
    program: &'a Program,
    project: &'a ExpectedProject<'a>,
    envk: &[(usize, Object<'a>)],
    all_repos: &BTreeSet<String>,
) -> (Vec<Probe<'a>>, Vec<Probe<'a>>) {
    let names = namespace_names(program);
    let own: Rc<[String]> = project.repos.iter().cloned().collect();
    let mut forbidden = Vec::new();
    {
        let mut no = |cluster: usize, object: Object<'a>, why: &'static str| {
            forbidden.push(Probe {
                cluster,
                object,
                repos: own.clone(),
                why,
            })
        };
        for (cluster, object) in envk {
            let created = object.kind == "Namespace"
                && object.group.is_empty()
                && project.creates.contains(&(*cluster, object.name));
            // In its envs' namespaces, what they all manage themselves
            // (`self_managed`) is theirs to change, outside the proof.
            let theirs = object
                .namespace
                .is_some_and(|namespace| project.envs.contains(&(*cluster, namespace)))
                && !project.fences(object.group, object.kind);
            if !created && !theirs {
                no(*cluster, *object, "an object envk wrote");
            }
        }
        for &(cluster, namespace) in &project.envs {
            let kinds = ENVK_NAMESPACED
                .iter()
                .chain([&PROMETHEUS_RULE])
                .filter(|(group, kind)| project.fences(group, kind));
            for (group, kind) in kinds {
                let object = Object::new(group, kind, "team-made", Some(namespace));
                no(cluster, object, "a kind envk owns, in the team's namespace");
            }
        }
        // On every cluster, and the one Argo CD runs in.
        for cluster in 0..program.argocd_clusters().len() {
            for &namespace in &names {
                if !project.envs.contains(&(cluster, namespace)) {
                    let kinds = SAMPLE_KINDS
                        .iter()
                        .chain(&ENVK_NAMESPACED)
                        .chain([&PROMETHEUS_RULE])
                        .chain(&ARGO_KINDS);
                    for (group, kind) in kinds {
                        let object = Object::new(group, kind, "team-made", Some(namespace));
                        no(
                            cluster,
                            object,
                            "an object in a namespace not of the project",
                        );
                    }
                }
                if !project.creates.contains(&(cluster, namespace)) {
                    // Its Applications create the Namespaces of their envs
                    // whose deploy says so, there and nowhere else.
                    let why = if project.creates.iter().any(|(_, name)| *name == namespace) {
                        "the Namespace of an env of the project, on a cluster where that env is not"
                    } else {
                        "a Namespace no Application of the project creates"
                    };
                    no(cluster, Object::new("", "Namespace", namespace, None), why);
                }
            }
            for (group, kind) in CLUSTER_KINDS {
                let object = Object::new(group, kind, "team-made", None);
                no(cluster, object, "a cluster-scoped object");
            }
        }
    }
    let mut allowed = Vec::new();
    let strangers: Rc<[String]> = all_repos
        .iter()
        .filter(|repo| !project.repos.contains(*repo))
        .cloned()
        .chain([STRANGER_REPO.to_string(), GITOPS_REPO.to_string()])
        .collect();
    for &(cluster, namespace) in &project.envs {
        for (group, kind) in WORKLOADS {
            let object = Object::new(group, kind, "web", Some(namespace));
            allowed.push(Probe {
                cluster,
                object,
                repos: own.clone(),
                why: "a workload of the team's, in its namespace",
            });
            forbidden.push(Probe {
                cluster,
                object,
                repos: strangers.clone(),
                why: "a workload from a repository not of the project",
            });
        }
    }
    (forbidden, allowed)
}

/// The probes that `project`, for one of their repositories at least,
/// answers `permitted` (`true`: it lets the object in), described; the
/// first `limit` of them. (`Project::permits`, its source asked once per
/// repository.)
fn answered(
    clusters: &[(String, String)],
    project: &Project,
    probes: &[Probe],
    permitted: bool,
    limit: usize,
) -> Vec<String> {
    let mut sources: BTreeMap<&str, bool> = BTreeMap::new();
    let mut found = Vec::new();
    for probe in probes {
        let (server, name) = &clusters[probe.cluster];
        let cluster = ArgoCluster { server, name };
        let mut object = None;
        for repo in probe.repos.iter() {
            let source = *sources
                .entry(repo)
                .or_insert_with(|| project.source_permitted(repo));
            let answer = source
                && *object.get_or_insert_with(|| project.object_permitted(&probe.object, cluster));
            if answer == permitted {
                found.push(format!(
                    "{} on {} from {repo}: {}",
                    probe.object, clusters[probe.cluster].1, probe.why
                ));
                break;
            }
        }
        if found.len() >= limit {
            break;
        }
    }
    found
}

/// The AppProjects of the build, by name.
fn app_projects(objects: &[(String, Value)]) -> BTreeMap<&str, &Value> {
    objects
        .iter()
        .filter(|(_, o)| o["kind"] == "AppProject")
        .map(|(_, o)| (text(&o["metadata"]["name"]), o))
        .collect()
}

/// Invariant 6 by Argo CD's own rules (`support/argocd_rules.rs`), each
/// project a team's fence: no Application of a team's project may
/// create, change or delete an object envk wrote (but, without a
/// `gitops` block, the Namespace of an env of the project whose
/// Application creates it), an object of a kind envk owns in the
/// project's namespaces, anything in a namespace of no env of the
/// project, on any cluster, or any other cluster-scoped object; each may
/// deploy workloads in its envs' namespaces from their repositories, and
/// not from another's. A project's envs are one team's. With a `gitops`
/// block, each cluster's platform Application may write every object
/// envk wrote for the cluster, and nothing in a namespace envk does not
/// manage, no workload, no custom resource definition.
fn assert_argocd_fences(program: &Program, objects: &[(String, Value)]) {
    let expected = expected_projects(program);
    let projects = app_projects(objects);
    let clusters = program.argocd_clusters();
    let envk = envk_objects(program, objects);
    let all_repos: BTreeSet<String> = expected
        .values()
        .flat_map(|project| project.repos.iter().cloned())
        .collect();
    let team_projects: BTreeSet<&str> = projects
        .keys()
        .copied()
        .filter(|name| !is_platform_project(program, name))
        .collect();
    assert_eq!(
        team_projects,
        expected.keys().map(String::as_str).collect(),
        "the teams' projects"
    );
    for (name, model) in &expected {
        assert_eq!(model.teams.len(), 1, "project {name}: {:?}", model.teams);
        let project = Project::from_yaml(projects[name.as_str()]);
        let (forbidden, allowed) = team_probes(program, model, &envk, &all_repos);
        let breaches = answered(&clusters, &project, &forbidden, true, usize::MAX);
        assert!(
            breaches.is_empty(),
            "project {name} lets its Applications write what they must not:\n{}\n{}",
            breaches.join("\n"),
            serde_yaml::to_string(projects[name.as_str()]).expect("YAML")
        );
        let refused = answered(&clusters, &project, &allowed, false, usize::MAX);
        assert!(
            refused.is_empty(),
            "project {name} keeps its Applications from:\n{}",
            refused.join("\n")
        );
    }
    // Each team Application may be synced: its source and destination are
    // permitted by its project; it creates its namespace as its env says,
    // never beside a `gitops` block.
    for (path, app) in objects.iter().filter(|(_, o)| o["kind"] == "Application") {
        if program.gitops && is_platform_application(app) {
            continue;
        }
        let spec = &app["spec"];
        let project = Project::from_yaml(projects[text(&spec["project"])]);
        assert!(
            project.source_permitted(text(&spec["source"]["repoURL"])),
            "{path}"
        );
        let server = text(&spec["destination"]["server"]);
        let (_, name) = clusters
            .iter()
            .find(|(s, _)| s == server)
            .expect("a cluster's server");
        let namespace = text(&spec["destination"]["namespace"]);
        let cluster = ArgoCluster { server, name };
        assert!(project.destination_permitted(cluster, namespace), "{path}");
        let ns = program
            .namespaces()
            .find(|ns| ns.name == namespace)
            .expect("an env");
        let creates = spec["syncPolicy"]["syncOptions"]
            .as_sequence()
            .is_some_and(|options| options.iter().any(|o| o == "CreateNamespace=true"));
        assert_eq!(
            creates,
            ns.create_namespace && !program.gitops,
            "{path}: CreateNamespace"
        );
    }
    if program.gitops {
        assert_platform_fence(program, objects, &envk);
    }
}

/// With a `gitops` block, the platform's fence (invariant 6): each
/// cluster's Application `envk-<cluster>`, in the project `platform`,
/// syncs `out/<cluster>` of the gitops repository into the cluster, and
/// may write every object envk wrote there, but no workload or Secret in
/// an env's namespace, nothing in a namespace envk does not manage, and
/// no custom resource definition; `envk-argocd` may write every object
/// of the `argocd` folder into Argo CD's namespace.
fn assert_platform_fence(program: &Program, objects: &[(String, Value)], envk: &[(usize, Object)]) {
    let projects = app_projects(objects);
    let clusters = program.argocd_clusters();
    let names = namespace_names(program);
    let application = |name: &str| {
        objects
            .iter()
            .find(|(_, o)| o["kind"] == "Application" && text(&o["metadata"]["name"]) == name)
            .map(|(_, o)| o)
            .unwrap_or_else(|| panic!("no Application {name}"))
    };
    let (argocd_server, argocd_name) = clusters[program.argocd_home()].clone();
    for (index, (server, name)) in clusters.iter().enumerate().take(program.clusters.len()) {
        // Each cluster's platform Application in a project of its own:
        // Argo CD admits a Namespace by name on every cluster of a project.
        let platform = Project::from_yaml(projects[format!("platform-{name}").as_str()]);
        let app = application(&format!("envk-{name}"));
        let spec = &app["spec"];
        assert!(is_platform_application(app), "envk-{name}");
        assert_eq!(text(&spec["source"]["repoURL"]), GITOPS_REPO);
        assert_eq!(text(&spec["source"]["path"]), format!("out/{name}"));
        assert_eq!(text(&spec["destination"]["server"]), server.as_str());
        let cluster = ArgoCluster { server, name };
        assert!(platform.source_permitted(GITOPS_REPO));
        assert!(
            platform.destination_permitted(cluster, text(&spec["destination"]["namespace"])),
            "envk-{name}'s destination"
        );
        let refused: Vec<String> = envk
            .iter()
            .filter(|(on, object)| *on == index && !platform.permits(GITOPS_REPO, object, cluster))
            .map(|(_, object)| object.to_string())
            .collect();
        assert!(
            refused.is_empty(),
            "envk-{name} may not write what envk wrote for {name}:\n{}",
            refused.join("\n")
        );
        let mut breaches = Vec::new();
        for &namespace in &names {
            let env_here = program
                .instances()
                .any(|(on, ns)| on == index && ns.name == namespace);
            let argo_here = namespace == "argocd" && *server == argocd_server;
            let kinds: Vec<&(&str, &str)> = if env_here {
                // A workload or a Secret.
                SAMPLE_KINDS.iter().collect()
            } else if argo_here {
                SAMPLE_KINDS.iter().collect()
            } else {
                // Anything.
                SAMPLE_KINDS
                    .iter()
                    .chain(&ENVK_NAMESPACED)
                    .chain([&PROMETHEUS_RULE])
                    .collect()
            };
            for (group, kind) in kinds {
                let object = Object::new(group, kind, "stray", Some(namespace));
                if platform.permits(GITOPS_REPO, &object, cluster) {
                    breaches.push(object.to_string());
                }
            }
        }
        assert_monitoring_fence(program, &projects, &names, index, cluster, &application);
        let definition = Object::new(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "widgets.example.com",
            None,
        );
        // No cluster-scoped object but envk's own here: not the Namespace
        // of an env on another cluster, not a cluster role of its choosing.
        let mut strays = vec![
            definition,
            Object::new("", "Namespace", "kube-system", None),
            Object::new("rbac.authorization.k8s.io", "ClusterRole", "stray", None),
            Object::new(
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                "stray",
                None,
            ),
        ];
        for &namespace in &names {
            let env_here = program
                .instances()
                .any(|(on, ns)| on == index && ns.name == namespace);
            if !env_here {
                strays.push(Object::new("", "Namespace", namespace, None));
            }
        }
        for stray in strays {
            if platform.permits(GITOPS_REPO, &stray, cluster) {
                breaches.push(stray.to_string());
            }
        }
        assert!(
            breaches.is_empty(),
            "envk-{name} may write on {name} what is not envk's:\n{}",
            breaches.join("\n")
        );
    }
    // `envk-argocd`: the `argocd` folder, into Argo CD's namespace, and
    // nothing else.
    let platform = Project::from_yaml(projects[PLATFORM_PROJECT]);
    let app = application("envk-argocd");
    assert!(is_platform_application(app), "envk-argocd");
    assert_eq!(text(&app["spec"]["source"]["path"]), "out/argocd");
    assert_eq!(text(&app["spec"]["destination"]["server"]), argocd_server);
    let argocd = ArgoCluster {
        server: &argocd_server,
        name: &argocd_name,
    };
    for (path, document) in objects
        .iter()
        .filter(|(path, _)| path.starts_with("argocd/"))
    {
        let object = Object::of_document(document);
        assert_eq!(object.namespace, Some("argocd"), "{path}");
        assert!(
            platform.permits(GITOPS_REPO, &object, argocd),
            "envk-argocd may not write {path}"
        );
    }
}

/// The holes a team project could have, each made in its document: every
/// one must let an Application of the project write something it must
/// not. (name, the project's document with the hole)
fn holes(program: &Program, model: &ExpectedProject, document: &Value) -> Vec<(String, Value)> {
    let mut holes = Vec::new();
    let mut hole = |name: String, change: &dyn Fn(&mut serde_yaml::Mapping)| {
        let mut document = document.clone();
        change(document["spec"].as_mapping_mut().expect("a spec"));
        holes.push((name, document));
    };
    let list = |spec: &mut serde_yaml::Mapping, key: &str| -> Vec<Value> {
        spec.get(key)
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default()
    };
    let set = |spec: &mut serde_yaml::Mapping, key: &str, items: Vec<Value>| {
        spec.insert(Value::from(key), Value::Sequence(items));
    };
    let entry = |pairs: &[(&str, &str)]| {
        let mut mapping = serde_yaml::Mapping::new();
        for (key, value) in pairs {
            mapping.insert(Value::from(*key), Value::from(*value));
        }
        Value::Mapping(mapping)
    };
    // Each of envk's kinds, no longer blacklisted.
    let blacklist = document["spec"]["namespaceResourceBlacklist"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    for (at, kind) in blacklist.iter().enumerate() {
        hole(
            format!("the blacklist without {}", text(&kind["kind"])),
            &|spec| {
                let mut items = list(spec, "namespaceResourceBlacklist");
                items.remove(at);
                set(spec, "namespaceResourceBlacklist", items);
            },
        );
    }
    // A destination widened: any namespace, a glob that covers another
    // env on its cluster, any cluster.
    let first = &document["spec"]["destinations"][0];
    let (server, own) = (text(&first["server"]), text(&first["namespace"]));
    let widen = |field: &'static str, to: String| {
        move |spec: &mut serde_yaml::Mapping| {
            let mut items = list(spec, "destinations");
            items[0][field] = Value::from(to.as_str());
            set(spec, "destinations", items);
        }
    };
    hole(
        "a destination's namespace `*`".to_string(),
        &widen("namespace", "*".to_string()),
    );
    let clusters = program.argocd_clusters();
    let neighbour = program
        .instances()
        .find(|&(cluster, ns)| {
            clusters[cluster].0 == server && !model.envs.contains(&(cluster, ns.name.as_str()))
        })
        .map(|(_, ns)| ns.name.as_str());
    let glob = match neighbour {
        Some(other) => {
            let common = own
                .chars()
                .zip(other.chars())
                .take_while(|(a, b)| a == b)
                .count();
            format!("{}*", &own[..common])
        }
        None => format!("{{{own},kube-system}}"),
    };
    hole(
        format!("a destination's namespace `{glob}`"),
        &widen("namespace", glob.clone()),
    );
    hole(
        "a destination's server `*`".to_string(),
        &widen("server", "*".to_string()),
    );
    // Another team's env among the destinations (or a namespace of none).
    let team = model.teams.iter().next().copied().unwrap_or("");
    let (other_server, other_namespace) = program
        .instances()
        .find(|&(_, ns)| program.team_of(ns) != team)
        .map_or((server.to_string(), "default"), |(cluster, ns)| {
            (clusters[cluster].0.clone(), ns.name.as_str())
        });
    hole(
        format!("a destination {other_server} {other_namespace}"),
        &|spec| {
            let mut items = list(spec, "destinations");
            items.push(entry(&[
                ("server", &other_server),
                ("namespace", other_namespace),
            ]));
            set(spec, "destinations", items);
        },
    );
    // A negated server allows every other server.
    hole(
        "a destination `!https://nowhere.example.com` kube-system".to_string(),
        &|spec| {
            let mut items = list(spec, "destinations");
            items.push(entry(&[
                ("server", "!https://nowhere.example.com"),
                ("namespace", "kube-system"),
            ]));
            set(spec, "destinations", items);
        },
    );
    // Namespaces whitelisted by kind, not name.
    hole("a Namespace whitelisted by kind".to_string(), &|spec| {
        let mut items = list(spec, "clusterResourceWhitelist");
        items.push(entry(&[("group", ""), ("kind", "Namespace")]));
        set(spec, "clusterResourceWhitelist", items);
    });
    // Any repository of the server.
    hole(
        "a source `https://git.example.com/*`".to_string(),
        &|spec| {
            let mut items = list(spec, "sourceRepos");
            items.push(Value::from("https://git.example.com/*"));
            set(spec, "sourceRepos", items);
        },
    );
    holes
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// The eight invariants of DESIGN §5 (7 and 8 in their own properties).
/// An env is a namespace on a cluster: the same name on two clusters is
/// two envs, and every object is read on the cluster whose folder holds
/// it.
/// Each cluster has `monitoring/alertmanager.yaml` exactly when it sends
/// to an Alertmanager; there, every alert rule of its envs, read from the
/// rule files, is taken — by Alertmanager's first match over the file —
/// to the receiver the program means, never to `(unrouted)`.
fn assert_alerts_routed(program: &Program, tree: &Tree) {
    for (cluster, (name, _)) in program.clusters.iter().enumerate() {
        let path = format!("{name}/monitoring/alertmanager.yaml");
        let file = tree.files.get(&path);
        assert_eq!(file.is_some(), program.alertmanager[cluster], "{path}");
        let Some(file) = file else { continue };
        let config: Value = serde_yaml::from_str(&file.text()).expect("YAML");
        let root = config["route"]["receiver"]
            .as_str()
            .expect("a root receiver");
        let routes = config["route"]["routes"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        let rules_folder = format!("{name}/monitoring/rules/");
        for (rules_path, rules) in tree.files.range(rules_folder.clone()..) {
            if !rules_path.starts_with(&rules_folder) {
                break;
            }
            let rules: Value = serde_yaml::from_str(&rules.text()).expect("YAML");
            let groups = rules["groups"].as_sequence().into_iter().flatten();
            for rule in groups.flat_map(|group| group["rules"].as_sequence().into_iter().flatten())
            {
                let Some(alert) = rule["alert"].as_str() else {
                    continue;
                };
                let label = |key: &str| rule["labels"][key].as_str();
                let (team, severity) = (label("team"), label("severity"));
                let taken = routes
                    .iter()
                    .find(|route| {
                        route["matchers"]
                            .as_sequence()
                            .into_iter()
                            .flatten()
                            .all(|matcher| {
                                let (key, value) = matcher
                                    .as_str()
                                    .and_then(|m| m.split_once('='))
                                    .expect("label=\"value\"");
                                label(key) == Some(value.trim_matches('"'))
                            })
                    })
                    .map_or(root, |route| {
                        route["receiver"].as_str().expect("a receiver")
                    });
                let meant = program
                    .routing
                    .receiver_of(team, severity)
                    .unwrap_or_else(|| panic!("{rules_path}: {alert} ({team:?}, {severity:?}) reaches no receiver, and envk accepted it"));
                assert_eq!(
                    taken,
                    format!("rcv{meant}"),
                    "{rules_path}: {alert} ({team:?}, {severity:?})"
                );
            }
        }
    }
}

fn assert_invariants(program: &Program, tree: &Tree) {
    let objects = objects(tree);
    let expected: BTreeMap<(usize, &str), &Namespace> = program
        .instances()
        .map(|(cluster, ns)| ((cluster, ns.name.as_str()), ns))
        .collect();
    assert_eq!(
        expected.len(),
        program.instances().count(),
        "the generator placed a name twice on a cluster"
    );
    let of_kind = |kind: &'static str| objects.iter().filter(move |(_, o)| o["kind"] == kind);
    // Objects of a kind that lives in a cluster's folder, with the cluster.
    let on_clusters = |kind: &'static str| {
        of_kind(kind).map(|(path, o)| (program.cluster_of(path), path.as_str(), o))
    };

    // 1. One Namespace per env, in its cluster's folder: a namespace on
    // several clusters is one on each; every namespaced object lies in
    // it.
    let mut namespaces: BTreeMap<(usize, &str), &Value> = BTreeMap::new();
    for (cluster, path, object) in on_clusters("Namespace") {
        let name = text(&object["metadata"]["name"]);
        assert_eq!(path.split('/').nth(2), Some(name), "{path}");
        let previous = namespaces.insert((cluster, name), object);
        assert!(
            previous.is_none(),
            "two Namespaces {name} on one cluster: {path}"
        );
    }
    assert_eq!(
        namespaces.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect(),
        "a Namespace per env and cluster"
    );
    for (path, object) in &objects {
        let Some(folder) = path
            .split('/')
            .nth(2)
            .filter(|_| path.contains("/namespaces/"))
        else {
            continue;
        };
        assert!(
            expected.contains_key(&(program.cluster_of(path), folder)),
            "{path}: no env {folder} on its cluster"
        );
        if object["kind"] != "Namespace" {
            assert_eq!(text(&object["metadata"]["namespace"]), folder, "{path}");
        }
    }
    for (cluster, path, object) in on_clusters("PrometheusRule") {
        let namespace = text(&object["metadata"]["namespace"]);
        assert!(
            expected.contains_key(&(cluster, namespace)),
            "{path}: no env {namespace} on its cluster"
        );
    }

    // 2. Quotas, limit ranges, capacity, ceilings: each cluster's
    // namespace has the quota written, and counts against that cluster.
    let ceilings = ceilings(program);
    let budgets = budgets(program);
    let sums = sums(program);
    let mut per_cluster: BTreeMap<usize, u128> = BTreeMap::new();
    for (cluster, path, quota) in on_clusters("ResourceQuota") {
        let ns = expected[&(cluster, text(&quota["metadata"]["namespace"]))];
        let hard = &quota["spec"]["hard"];
        assert!(quantity(&hard["limits.cpu"]) >= quantity(&hard["requests.cpu"]));
        assert!(quantity(&hard["limits.memory"]) >= quantity(&hard["requests.memory"]));
        assert_eq!(
            quantity(&hard["requests.cpu"]),
            u128::from(ns.quota.cpu_request),
            "{path}"
        );
        *per_cluster.entry(cluster).or_default() += quantity(&hard["requests.cpu"]);
        if let Some(ceiling) = &ceilings[ns.tier] {
            assert!(quantity(&hard["requests.cpu"]) <= ceiling.cpu_request as u128);
            assert!(quantity(&hard["limits.memory"]) <= (ceiling.memory_limit as u128) << 20);
        }
        if let Some(budget) = budgets[ns.tier] {
            let cost = monthly_cents(
                quantity(&hard["requests.cpu"]),
                quantity(&hard["requests.memory"]),
            );
            assert!(
                cost <= budget,
                "{path}: {cost} cents a month, budget {budget}"
            );
        }
    }
    for (cluster, (cpu, _, _)) in sums.iter().enumerate() {
        let requested = per_cluster.get(&cluster).copied().unwrap_or(0);
        assert_eq!(
            requested,
            u128::from(*cpu),
            "cluster {cluster}: the quotas of its envs"
        );
        let capacity = cpu + program.capacity_slack[cluster];
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
    // forbidding tier; each cluster's namespace has the roles granted.
    let rank = |level: &str| LEVELS.iter().position(|l| *l == level).expect("a level");
    for (&(cluster, name), ns) in &expected {
        let tier = &program.tiers[ns.tier];
        let level = match program.pod_security_floors[cluster] {
            Some(floor) if rank(floor) > rank(tier.level) => floor,
            _ => tier.level,
        };
        let labels = &namespaces[&(cluster, name)]["metadata"]["labels"];
        assert_eq!(
            text(&labels["pod-security.kubernetes.io/enforce"]),
            level,
            "{name} on {}",
            program.clusters[cluster].0
        );
    }
    let mut roles_found: BTreeSet<(usize, &str, &str)> = BTreeSet::new();
    for (cluster, path, role) in on_clusters("Role") {
        let namespace = text(&role["metadata"]["namespace"]);
        let name = text(&role["metadata"]["name"]);
        roles_found.insert((cluster, namespace, name));
        let tier = &program.tiers[expected[&(cluster, namespace)].tier];
        let rules = rules(role);
        let context = format!("role {name} in {path}");
        for rule in &rules {
            assert_allowed_by(program, tier, rule, &context);
        }
        let written = program
            .roles
            .iter()
            .find(|role| role.name == name)
            .expect("a role of the program");
        assert_custom_resources(program, written, &rules, &context);
    }
    let roles_granted: BTreeSet<(usize, &str, &str)> = expected
        .iter()
        .flat_map(|(&(cluster, name), ns)| {
            ns.grants
                .iter()
                .map(move |&role| (cluster, name, program.roles[role].name.as_str()))
        })
        .collect();
    assert_eq!(roles_found, roles_granted, "the Roles of each env");
    // A cluster role granted on a cluster reaches every namespace there
    // with the rules over namespaced resources: those hold nothing any
    // tier of an env on the cluster forbids; and nothing escalating on a
    // production cluster that does not allow it.
    assert_cluster_roles(program, &objects);

    // 4. Reachability, computed from the NetworkPolicies of each cluster:
    // nothing reaches a namespace from an environment its tier does not
    // accept, whether it is an env or an external (a namespace envk does
    // not label: its name is all a selector sees of it); a policy selects
    // only namespaces of its own cluster, and a rule naming an env admits
    // the env of that name there; the cluster's Prometheus reaches an env
    // on exactly its metrics ports, through its `-allow-metrics` policy
    // only.
    let policies: Vec<(usize, &Value)> = on_clusters("NetworkPolicy")
        .map(|(cluster, _, o)| (cluster, o))
        .collect();
    let policies_of = |cluster: usize, namespace: &str, direction: &str| -> Vec<&Value> {
        policies
            .iter()
            .filter(|(on, p)| *on == cluster && text(&p["metadata"]["namespace"]) == namespace)
            .map(|(_, p)| *p)
            .filter(|p| {
                p["spec"]["policyTypes"]
                    .as_sequence()
                    .is_some_and(|t| t.iter().any(|t| t == direction))
            })
            .collect()
    };
    let env_labels = |cluster: usize, name: &str| -> Labels {
        let mut labels = named(name);
        for (key, value) in namespaces[&(cluster, name)]["metadata"]["labels"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            labels.insert(text(key).to_string(), text(value).to_string());
        }
        labels
    };
    // A namespace a policy on `cluster` may select by name: an env
    // there, an external declared there, its Prometheus (or, for egress,
    // the cluster's DNS).
    let known = |cluster: usize, name: &str| {
        expected.contains_key(&(cluster, name))
            || program.prometheus[cluster] == Some(name)
            || (0..program.externals.len()).any(|e| {
                program.externals[e].clusters.contains(&cluster)
                    && program.external_namespace(e) == name
            })
    };
    let contains = |ports: &Ports, port: u16| match ports {
        Ports::Every => true,
        Ports::These(ports) => ports.contains(&("TCP".to_string(), u64::from(port))),
    };
    for (&(cluster, to_name), to) in &expected {
        let on = &program.clusters[cluster].0;
        let own = policies_of(cluster, to_name, "Ingress");
        let to_environment = program.clusters[cluster].1;
        let accepts = program.accepted(to.tier, to_environment);
        let wrote_ingress =
            to.ingress.is_some() || to.ingress_external.is_some() || to.ingress_env.is_some();
        for policy in &own {
            for name in peer_names(policy, "ingress", "from") {
                assert!(
                    known(cluster, name),
                    "{to_name} on {on} admits namespace {name}, unknown on its cluster"
                );
            }
        }
        for policy in policies_of(cluster, to_name, "Egress") {
            for name in peer_names(policy, "egress", "to") {
                assert!(
                    name == "kube-system" || known(cluster, name),
                    "{to_name} on {on} sends to namespace {name}, unknown on its cluster"
                );
            }
        }
        for (&(from_cluster, from_name), from) in &expected {
            if from_cluster != cluster {
                continue;
            }
            let reachable =
                !admitted(&own, &env_labels(cluster, from_name), from_name == to_name).is_none();
            let environment = program.environment(from);
            let accepted = accepts.contains(&environment);
            if reachable {
                assert!(accepted, "{from_name} reaches {to_name} on {on}");
            }
            // An env that wrote no ingress rule admits exactly what its
            // tier accepts: not open, and not closed either (unless its
            // tier is isolated).
            if !wrote_ingress {
                let admits = accepted && !program.tiers[to.tier].isolated;
                assert_eq!(
                    reachable, admits,
                    "{from_name} → {to_name} on {on}, which wrote no rule"
                );
            }
        }
        // `ingress allow from env NAME`: the env of that name on this
        // cluster, on the port; and at the other end, its `egress allow
        // to env` this one's namespace there.
        if let Some((peer, port)) = &to.ingress_env {
            assert!(expected.contains_key(&(cluster, peer.as_str())));
            let reach = admitted(&own, &env_labels(cluster, peer), false);
            assert!(
                contains(&reach, *port),
                "{peer} → {to_name} on {on}, port {port}: {reach:?}"
            );
        }
        if let Some((peer, port)) = &to.egress_env {
            let out = policies_of(cluster, to_name, "Egress");
            let sent = rules_allow(&out, "egress", "to", &env_labels(cluster, peer), false);
            assert!(
                contains(&sent, *port),
                "{to_name} → {peer} on {on}, port {port}: {sent:?}"
            );
        }
        for external in 0..program.externals.len() {
            if !program.externals[external].clusters.contains(&cluster) {
                continue;
            }
            let namespace = program.external_namespace(external);
            let reach = admitted(&own, &named(namespace), false);
            let environment = program.external_environment(external, cluster);
            if !reach.is_none() {
                assert!(
                    accepts.contains(&environment),
                    "external {namespace} ({}) reaches {to_name} on {on}",
                    ENVIRONMENTS[environment]
                );
            }
            // Exactly the ports of the rules naming it: a rule by
            // environment selects no external.
            let ports: BTreeSet<(String, u64)> = to
                .ingress_external
                .iter()
                .filter(|(e, _)| *e == external)
                .map(|(_, port)| ("TCP".to_string(), u64::from(*port)))
                .collect();
            assert_eq!(
                reach,
                Ports::These(ports),
                "external {namespace} → {to_name} on {on}"
            );
        }
        let metrics = program.metrics(to);
        let allow_metrics = format!("{to_name}-allow-metrics");
        let is_metrics_policy = |p: &&Value| text(&p["metadata"]["name"]) == allow_metrics;
        let has_metrics_policy = policies.iter().any(|(on, p)| {
            *on == cluster && text(&p["metadata"]["namespace"]) == to_name && is_metrics_policy(p)
        });
        match program.prometheus[cluster] {
            Some(prometheus) => {
                let ports: BTreeSet<(String, u64)> = metrics
                    .iter()
                    .map(|port| ("TCP".to_string(), u64::from(*port)))
                    .collect();
                assert_eq!(
                    admitted(&own, &named(prometheus), false),
                    Ports::These(ports),
                    "Prometheus ({prometheus}) → {to_name} on {on}"
                );
                let others: Vec<&Value> = own
                    .iter()
                    .copied()
                    .filter(|p| !is_metrics_policy(p))
                    .collect();
                assert!(
                    rules_admit(&others, &named(prometheus), false).is_none(),
                    "Prometheus reaches {to_name} on {on} through a policy not its own"
                );
                assert_eq!(
                    has_metrics_policy,
                    !metrics.is_empty(),
                    "{allow_metrics} on {on}"
                );
            }
            None => assert!(
                !has_metrics_policy,
                "{allow_metrics} on {on}, and no Prometheus"
            ),
        }
        // What envk generates is a policy of its own: the user's holds
        // exactly the ingress rules written.
        let written = policies.iter().find(|(on, p)| {
            *on == cluster
                && text(&p["metadata"]["namespace"]) == to_name
                && text(&p["metadata"]["name"]) == format!("{to_name}-network-policy")
        });
        let written_rules = written.map_or(0, |(_, p)| {
            p["spec"]["ingress"].as_sequence().map_or(0, Vec::len)
        });
        assert_eq!(
            written_rules,
            usize::from(to.ingress.is_some())
                + usize::from(to.ingress_external.is_some())
                + usize::from(to.ingress_env.is_some()),
            "{to_name} on {on}"
        );
    }

    // 4c. Each cluster's Prometheus scrapes each metrics port in one job,
    // of exactly the envs there that declare it; a cluster without a
    // Prometheus namespace scrapes none.
    for (index, (cluster, _)) in program.clusters.iter().enumerate() {
        let mut wanted: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
        if program.prometheus[index].is_some() {
            for (_, ns) in program.instances().filter(|(on, _)| *on == index) {
                for port in program.metrics(ns) {
                    wanted.entry(port).or_default().insert(ns.name.clone());
                }
            }
        }
        let path = format!("{cluster}/monitoring/prometheus.yaml");
        let jobs = tree.files.get(&path).map_or_else(BTreeMap::new, |content| {
            metrics_jobs(&serde_yaml::from_str(&content.text()).expect("YAML"))
        });
        assert_eq!(jobs, wanted, "{path}");
    }

    // 4b. DNS: an env whose egress is restricted resolves names (a policy
    // to kube-system on UDP and TCP 53) unless it wrote `egress deny dns`.
    for (&(cluster, name), ns) in &expected {
        let restricted = restricted(&program.tiers, ns);
        let dns = policies.iter().any(|(on, p)| {
            *on == cluster
                && text(&p["metadata"]["namespace"]) == name
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
            "{name} on {}: DNS egress (restricted {restricted}, {:?})",
            program.clusters[cluster].0,
            ns.dns
        );
    }

    // 5. Every alert expression parses, and reads and returns only its
    // own namespace's series.
    promql_scope::assert_rules_scoped(tree);
    // Every alert on a cluster that sends to an Alertmanager reaches the
    // receiver the program means for it.
    assert_alerts_routed(program, tree);

    // 6. An Application per env that deploys and cluster, targeting that
    // cluster and namespace, named `<env>-<cluster>-app` where the name is
    // on several clusters (`<env>-app` else), in the project it names (its
    // own, `<env>` or `<env>-<cluster>`, if none), which allows exactly
    // its envs. (With a `gitops` block, the platform's Applications and
    // project besides: `assert_argocd_fences`.)
    let projects: BTreeMap<&str, &Value> = of_kind("AppProject")
        .map(|(_, o)| (text(&o["metadata"]["name"]), o))
        .filter(|(name, _)| !is_platform_project(program, name))
        .collect();
    let mut used: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut deployed: BTreeSet<(usize, &str)> = BTreeSet::new();
    let mut application_names: BTreeSet<&str> = BTreeSet::new();
    for (path, app) in of_kind("Application") {
        if program.gitops && is_platform_application(app) {
            continue;
        }
        let spec = &app["spec"];
        let namespace = text(&spec["destination"]["namespace"]);
        let server = text(&spec["destination"]["server"]).to_string();
        let cluster = program
            .clusters
            .iter()
            .position(|(name, _)| server == format!("https://{name}.example.com"))
            .unwrap_or_else(|| panic!("{path}: the server of no cluster: {server}"));
        let cluster_name = &program.clusters[cluster].0;
        let ns = expected
            .get(&(cluster, namespace))
            .unwrap_or_else(|| panic!("{path}: no env {namespace} on {cluster_name}"));
        assert!(ns.deploy, "{path}: {namespace} does not deploy");
        assert!(deployed.insert((cluster, namespace)), "{path}: twice");
        let several = program
            .instances()
            .filter(|(_, other)| other.name == ns.name)
            .count()
            > 1;
        let (name, file) = if several {
            (
                format!("{namespace}-{cluster_name}-app"),
                format!("argocd/applications/{namespace}-{cluster_name}.yaml"),
            )
        } else {
            (
                format!("{namespace}-app"),
                format!("argocd/applications/{namespace}.yaml"),
            )
        };
        assert_eq!(text(&app["metadata"]["name"]), name, "{path}");
        assert_eq!(path, &file);
        // `${cluster}` is each cluster's name.
        assert_eq!(
            text(&spec["source"]["path"]),
            format!("envs/{namespace}/{cluster_name}"),
            "{path}"
        );
        assert!(application_names.insert(text(&app["metadata"]["name"])));
        assert_eq!(
            text(&spec["project"]),
            program.project_of(cluster, ns),
            "{path}"
        );
        let project = projects[text(&spec["project"])];
        let destinations: BTreeSet<(String, String)> = destinations(project);
        assert!(destinations.contains(&(server.clone(), namespace.to_string())));
        used.entry(text(&spec["project"]))
            .or_default()
            .insert((server, namespace.to_string()));
    }
    let deploying: BTreeSet<(usize, &str)> = expected
        .iter()
        .filter(|(_, ns)| ns.deploy)
        .map(|(&key, _)| key)
        .collect();
    assert_eq!(deployed, deploying, "an Application per env that deploys");
    for (name, project) in &projects {
        let destinations: BTreeSet<(String, String)> = destinations(project);
        assert_eq!(
            Some(&destinations),
            used.get(name),
            "project {name} allows exactly its envs"
        );
    }
    assert_argocd_fences(program, &objects);
}

/// A namespace's labels as a NetworkPolicy's selectors see them, its
/// `kubernetes.io/metadata.name` among them.
type Labels = BTreeMap<String, String>;

/// A namespace envk does not label: its name is all it has.
fn named(name: &str) -> Labels {
    Labels::from([("kubernetes.io/metadata.name".to_string(), name.to_string())])
}

/// Where traffic is admitted: on every port, or on these (protocol, port)
/// pairs (none: not at all).
#[derive(Debug, PartialEq, Eq)]
enum Ports {
    Every,
    These(BTreeSet<(String, u64)>),
}

impl Ports {
    fn is_none(&self) -> bool {
        matches!(self, Ports::These(ports) if ports.is_empty())
    }

    fn add(&mut self, more: Ports) {
        match (&mut *self, more) {
            (Ports::Every, _) => {}
            (_, Ports::Every) => *self = Ports::Every,
            (Ports::These(ports), Ports::These(more)) => ports.extend(more),
        }
    }
}

/// What the ingress policies `policies` of a namespace admit from a
/// namespace labelled `from` (`same`: the namespace itself): everything,
/// if no policy selects its pods; else what some rule of one allows.
fn admitted(policies: &[&Value], from: &Labels, same: bool) -> Ports {
    if policies.is_empty() {
        return Ports::Every;
    }
    rules_admit(policies, from, same)
}

/// What the ingress rules of `policies` allow from `from`, together.
fn rules_admit(policies: &[&Value], from: &Labels, same: bool) -> Ports {
    rules_allow(policies, "ingress", "from", from, same)
}

/// What the `direction` rules (`ingress`, or `egress`) of `policies`
/// allow from or to (`peers`: `from` or `to`) a namespace labelled
/// `labels`, together.
fn rules_allow(
    policies: &[&Value],
    direction: &str,
    peers: &str,
    labels: &Labels,
    same: bool,
) -> Ports {
    let mut admitted = Ports::These(BTreeSet::new());
    for policy in policies {
        // Every envk policy selects all of its namespace's pods.
        assert_eq!(
            policy["spec"]["podSelector"],
            Value::Mapping(Default::default()),
            "{policy:?}"
        );
        for rule in policy["spec"][direction]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            // No peers, or an empty list, is every namespace.
            let sources = rule[peers].as_sequence().filter(|peers| !peers.is_empty());
            let selected = sources
                .is_none_or(|peers| peers.iter().any(|peer| peer_selects(peer, labels, same)));
            if !selected {
                continue;
            }
            match rule["ports"]
                .as_sequence()
                .filter(|ports| !ports.is_empty())
            {
                None => admitted.add(Ports::Every),
                Some(ports) => admitted.add(Ports::These(
                    ports
                        .iter()
                        .map(|port| {
                            assert!(port.get("endPort").is_none(), "{port:?}");
                            let protocol = port["protocol"].as_str().unwrap_or("TCP");
                            let number = port["port"].as_u64().expect("a numbered port");
                            (protocol.to_string(), number)
                        })
                        .collect(),
                )),
            }
        }
    }
    admitted
}

/// Whether a peer of an ingress rule selects traffic from a namespace
/// labelled `from`. An `ipBlock` could be any pod's address.
fn peer_selects(peer: &Value, from: &Labels, same: bool) -> bool {
    if peer.get("ipBlock").is_some() {
        return true;
    }
    match peer.get("namespaceSelector") {
        Some(selector) => selects(selector, from),
        // A pod selector alone: pods of the policy's own namespace.
        None => same,
    }
}

/// A label selector's meaning; an empty one selects everything.
fn selects(selector: &Value, labels: &Labels) -> bool {
    let by_labels = selector["matchLabels"]
        .as_mapping()
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.get(text(key)).map(String::as_str) == value.as_str());
    let by_expressions = selector["matchExpressions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .all(|expression| {
            let value = labels.get(text(&expression["key"]));
            let values: Vec<&str> = expression["values"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            match text(&expression["operator"]) {
                "In" => value.is_some_and(|v| values.contains(&v.as_str())),
                "NotIn" => value.is_none_or(|v| !values.contains(&v.as_str())),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("unknown operator {other}"),
            }
        });
    by_labels && by_expressions
}

/// The namespaces the `direction` rules of a policy select by name.
fn peer_names<'v>(policy: &'v Value, direction: &str, peers: &str) -> Vec<&'v str> {
    policy["spec"][direction]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule[peers].as_sequence().into_iter().flatten())
        .filter_map(|peer| {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].as_str()
        })
        .collect()
}

/// One rule of a Role or ClusterRole.
#[derive(Debug)]
struct Rule<'v> {
    groups: Vec<&'v str>,
    resources: Vec<&'v str>,
    verbs: Vec<&'v str>,
}

fn rules(role: &Value) -> Vec<Rule<'_>> {
    fn items<'v>(rule: &'v Value, key: &str) -> Vec<&'v str> {
        rule[key]
            .as_sequence()
            .map(|s| s.iter().map(text).collect())
            .unwrap_or_default()
    }
    role["rules"]
        .as_sequence()
        .expect("rules")
        .iter()
        .map(|rule| Rule {
            groups: items(rule, "apiGroups"),
            resources: items(rule, "resources"),
            verbs: items(rule, "verbs"),
        })
        .collect()
}

/// Invariant 3 for one rule a tier's namespace is reached by.
fn assert_allowed_by(program: &Program, tier: &Tier, rule: &Rule, context: &str) {
    let (verbs, resources) = (&rule.verbs, &rule.resources);
    if tier.forbid_verbs {
        assert!(
            !verbs.iter().any(|v| ["escalate", "bind", "*"].contains(v)),
            "{context}: {rule:?} in tier {}",
            tier.name
        );
    }
    if tier.forbid_wildcards {
        assert!(
            !verbs.contains(&"*") && !resources.contains(&"*"),
            "{context}: {rule:?} in tier {}",
            tier.name
        );
    }
    if tier.forbid_secrets {
        assert!(
            !resources.iter().any(|r| ["secrets", "*"].contains(r)),
            "{context}: {rule:?} in tier {}",
            tier.name
        );
    }
    if let Some(forbidden) = &tier.forbid_custom {
        // The resource or any subresource of it, in its group.
        let crd = &program.crds[forbidden.crd];
        let in_group = rule.groups.iter().any(|g| *g == crd.group || *g == "*");
        let names_it = resources
            .iter()
            .any(|r| r.split('/').next() == Some(crd.plural));
        assert!(
            !(resources.contains(&"*") || in_group && names_it),
            "{context}: {rule:?} in tier {}, which forbids {}.{}",
            tier.name,
            crd.plural,
            crd.group
        );
    }
}

/// Each custom resource a role of the program names is in a rule of its
/// emitted form under the CRD's group, with the line's verbs; and a rule
/// naming a custom resource's plural names it under a group declaring it.
fn assert_custom_resources(program: &Program, role: &Role, rules: &[Rule], context: &str) {
    for line in &role.lines {
        for reference in &line.custom {
            let crd = &program.crds[reference.crd];
            let rbac_name = match reference.subresource {
                Some(subresource) => format!("{}/{subresource}", crd.plural),
                None => crd.plural.to_string(),
            };
            assert!(
                rules.iter().any(|rule| {
                    rule.groups.contains(&crd.group)
                        && rule.resources.contains(&rbac_name.as_str())
                        && line.verbs.iter().all(|verb| rule.verbs.contains(verb))
                }),
                "{context}: {rbac_name} of {} with {:?}: {rules:?}",
                crd.group,
                line.verbs
            );
        }
    }
    for rule in rules {
        for resource in &rule.resources {
            let plural = resource.split('/').next().unwrap_or(resource);
            let groups: Vec<&str> = program
                .crds
                .iter()
                .filter(|crd| crd.plural == plural)
                .map(|crd| crd.group)
                .collect();
            if !groups.is_empty() {
                assert!(
                    rule.groups.iter().all(|g| groups.contains(g)),
                    "{context}: {rule:?}: {plural} is of {groups:?}"
                );
            }
        }
    }
}

/// Whether a rule's resource lives in no namespace, in each of the rule's
/// groups (a built-in one, or a custom resource declared cluster-scoped).
fn cluster_scoped(program: &Program, groups: &[&str], resource: &str) -> bool {
    let plural = resource.split('/').next().unwrap_or(resource);
    resource != "*"
        && !groups.is_empty()
        && groups.iter().all(|group| {
            CLUSTER_SCOPED.contains(&(*group, plural))
                || program
                    .crds
                    .iter()
                    .any(|crd| crd.cluster_scoped && crd.group == *group && crd.plural == plural)
        })
}

/// Invariant 3 for cluster roles: every ClusterRoleBinding of a cluster
/// folder is a grant of the program on that cluster, to its subjects, of
/// a ClusterRole in the same folder; the rules of that role over
/// namespaced resources hold nothing a tier of an env on the cluster
/// forbids, and on a production cluster that does not say
/// `allow_cluster_admin = true` no rule holds `escalate`, `bind`,
/// `impersonate` or `"*"`.
fn assert_cluster_roles(program: &Program, objects: &[(String, Value)]) {
    type Subject = (String, String, String);
    let mut wanted: BTreeMap<(String, String), (String, BTreeSet<Subject>)> = BTreeMap::new();
    for grant in &program.cluster_grants {
        let role = &program.cluster_roles[grant.role].name;
        let (kind, name) = &grant.subject;
        let subject = match *kind {
            "group" => ("Group".to_string(), name.clone(), String::new()),
            "user" => ("User".to_string(), name.clone(), String::new()),
            _ => {
                let (namespace, name) = name.split_once('/').expect("NAMESPACE/NAME");
                (
                    "ServiceAccount".to_string(),
                    name.to_string(),
                    namespace.to_string(),
                )
            }
        };
        for &cluster in &grant.clusters {
            wanted
                .entry((
                    program.clusters[cluster].0.clone(),
                    format!("{role}-binding"),
                ))
                .or_insert_with(|| (role.clone(), BTreeSet::new()))
                .1
                .insert(subject.clone());
        }
    }
    let mut found: BTreeMap<(String, String), (String, BTreeSet<Subject>)> = BTreeMap::new();
    for (path, binding) in objects {
        if binding["kind"] != "ClusterRoleBinding" {
            continue;
        }
        let (cluster_name, folder) = path.split_once('/').expect("in a cluster's folder");
        assert!(folder.starts_with("cluster/"), "{path}");
        let cluster = program
            .clusters
            .iter()
            .position(|(name, _)| name == cluster_name)
            .expect("a cluster of the program");
        assert_eq!(text(&binding["roleRef"]["kind"]), "ClusterRole", "{path}");
        let role_name = text(&binding["roleRef"]["name"]);
        let role = objects
            .iter()
            .find(|(other, object)| {
                object["kind"] == "ClusterRole"
                    && other.starts_with(&format!("{cluster_name}/cluster/"))
                    && text(&object["metadata"]["name"]) == role_name
            })
            .map(|(_, role)| role)
            .unwrap_or_else(|| panic!("{path}: no ClusterRole {role_name} on {cluster_name}"));
        let subjects: BTreeSet<Subject> = binding["subjects"]
            .as_sequence()
            .expect("subjects")
            .iter()
            .map(|subject| {
                (
                    text(&subject["kind"]).to_string(),
                    text(&subject["name"]).to_string(),
                    text(&subject["namespace"]).to_string(),
                )
            })
            .collect();
        found.insert(
            (
                cluster_name.to_string(),
                text(&binding["metadata"]["name"]).to_string(),
            ),
            (role_name.to_string(), subjects),
        );
        let tiers_here: BTreeSet<usize> = program
            .instances()
            .filter(|(on, _)| *on == cluster)
            .map(|(_, ns)| ns.tier)
            .collect();
        let production = program.clusters[cluster].1 == 2;
        let rules = rules(role);
        let context = format!("cluster role {role_name} on {cluster_name}");
        for rule in &rules {
            let namespaced = rule
                .resources
                .iter()
                .any(|resource| !cluster_scoped(program, &rule.groups, resource));
            if namespaced {
                for &tier in &tiers_here {
                    assert_allowed_by(program, &program.tiers[tier], rule, &context);
                }
            }
            if production && !program.cluster_admin(cluster) {
                assert!(
                    !rule
                        .verbs
                        .iter()
                        .any(|v| ["escalate", "bind", "impersonate", "*"].contains(v))
                        && !rule.resources.contains(&"*"),
                    "{context}, a production cluster: {rule:?}"
                );
            }
        }
        let written = program
            .cluster_roles
            .iter()
            .find(|role| role.name == role_name)
            .expect("a cluster role of the program");
        assert_custom_resources(program, written, &rules, &context);
    }
    assert_eq!(found, wanted, "the ClusterRoleBindings");
}

/// A Prometheus configuration's jobs that keep pods by container port:
/// their port (kept as TCP), and the namespaces they discover pods in.
fn metrics_jobs(config: &Value) -> BTreeMap<u16, BTreeSet<String>> {
    let mut jobs = BTreeMap::new();
    for job in config["scrape_configs"].as_sequence().into_iter().flatten() {
        let relabels: Vec<&Value> = job["relabel_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .collect();
        let keep = |label: &str| {
            relabels.iter().find_map(|relabel| {
                let sources = relabel["source_labels"].as_sequence()?;
                (sources.len() == 1 && sources[0] == label && text(&relabel["action"]) == "keep")
                    .then(|| match &relabel["regex"] {
                        Value::Number(n) => n.to_string(),
                        other => text(other).to_string(),
                    })
            })
        };
        let Some(ports) = keep("__meta_kubernetes_pod_container_port_number") else {
            continue;
        };
        assert_eq!(
            keep("__meta_kubernetes_pod_container_port_protocol").as_deref(),
            Some("TCP"),
            "{job:?}"
        );
        let port: u16 = ports.parse().expect("one port number");
        let discovery = &job["kubernetes_sd_configs"];
        assert_eq!(discovery.as_sequence().map(Vec::len), Some(1), "{job:?}");
        assert_eq!(text(&discovery[0]["role"]), "pod", "{job:?}");
        let names: BTreeSet<String> = discovery[0]["namespaces"]["names"]
            .as_sequence()
            .expect("the job's namespaces")
            .iter()
            .map(|name| text(name).to_string())
            .collect();
        assert_eq!(
            text(&job["job_name"]),
            format!("metrics-tcp-{port}"),
            "{job:?}"
        );
        let previous = jobs.insert(port, names);
        assert!(previous.is_none(), "two jobs for one port: {job:?}");
    }
    jobs
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
        // Both ends of each rule between envs agree, on each cluster of
        // the sender's: no E0607 (a warning) either.
        prop_assert!(
            checked.diagnostics.iter().all(|d| d.code != Code::E0607),
            "{}\n{text}",
            render_diagnostics(&checked)
        );
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
    /// Invariant 6 can fail: a hole made in a team project's document
    /// (a blacklisted kind dropped, a destination widened, another team's
    /// destination added, Namespaces whitelisted by kind, any repository)
    /// lets its Applications write what they must not, by Argo CD's
    /// rules; a project that allows no namespaced kind keeps them from
    /// their own workloads.
    #[test]
    fn argocd_holes_are_caught(seed in any::<u64>(), pick in any::<usize>()) {
        let program = generate(seed);
        let checked = check(&render(&program, None));
        let tree = checked.tree.as_ref().expect("accepted programs are built");
        let objects = objects(tree);
        let expected = expected_projects(&program);
        let Some((name, model)) = expected.iter().nth(pick % expected.len().max(1)) else {
            return Ok(());
        };
        let document = app_projects(&objects)[name.as_str()];
        let envk = envk_objects(&program, &objects);
        let all_repos: BTreeSet<String> =
            expected.values().flat_map(|p| p.repos.iter().cloned()).collect();
        let (forbidden, allowed) = team_probes(&program, model, &envk, &all_repos);
        let clusters = program.argocd_clusters();
        let project = Project::from_yaml(document);
        let breaches = answered(&clusters, &project, &forbidden, true, usize::MAX);
        prop_assert!(breaches.is_empty(), "{}", breaches.join("\n"));
        for (hole, changed) in holes(&program, model, document) {
            let project = Project::from_yaml(&changed);
            prop_assert!(
                !answered(&clusters, &project, &forbidden, true, 1).is_empty(),
                "project {} with {}: no breach found\n{}",
                name,
                hole,
                serde_yaml::to_string(&changed).expect("YAML")
            );
        }
        let mut closed = document.clone();
        closed["spec"]["namespaceResourceWhitelist"] = Value::Sequence(Vec::new());
        let project = Project::from_yaml(&closed);
        prop_assert_eq!(
            answered(&clusters, &project, &allowed, false, usize::MAX).len(),
            allowed.len()
        );
    }

    #[test]
    fn injected_violations_are_rejected_where_they_are(seed in any::<u64>(), kind in 0..33usize) {
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

/// A second development cluster for `inject`, so that a namespace may be
/// on two clusters of one environment.
const DEV2: &str = "cluster inj-dev2 {\n  server = \"https://inj-dev2.example.com\"\n  environment = development\n}\n\n";

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
            let text = render(program, Some((0, 1)));
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
        17 => {
            // An external counts in its environment: one of development
            // may not reach a production env whose tier accepts only that.
            let snippet = "from external inj-ext on tcp 8080".to_string();
            let text = format!(
                "{base}{clusters}external inj-ext on inj-prod {{ environment = development }}\n\n{}",
                env(
                    "inj-prod-team",
                    "inj-prod",
                    "base",
                    &format!("  ingress allow {snippet}\n")
                )
            );
            (text, snippet, Code::E0602)
        }
        18 => {
            // A NetworkPolicy selects namespaces of its own cluster only:
            // an external named where it is not declared, as a source or
            // a destination.
            let snippet = if program.teams.len() % 2 == 0 {
                "ingress allow from external inj-ext on tcp 8080"
            } else {
                "egress allow to external inj-ext on tcp 443"
            }
            .to_string();
            let text = format!(
                "{base}{clusters}external inj-ext on inj-dev\n\n{}",
                env(
                    "inj-prod-team",
                    "inj-prod",
                    "base",
                    &format!("  {snippet}\n")
                )
            );
            (text, snippet, Code::E0606)
        }
        19 => {
            // Prometheus scrapes over TCP: a metrics port on UDP, in an
            // env or in a tier.
            let snippet = "udp 9102".to_string();
            let metrics = format!("metrics on tcp 9090, {snippet}");
            let text = if program.tiers.len() % 2 == 0 {
                format!(
                    "{base}{clusters}{}",
                    env("inj", "inj-dev", "base", &format!("  {metrics}\n"))
                )
            } else {
                format!(
                    "{base}{clusters}tier inj-scraped {{\n  pod_security = baseline\n  {metrics}\n}}\n\n{}",
                    env("inj", "inj-dev", "inj-scraped", "")
                )
            };
            (text, snippet, Code::E0608)
        }
        20 => {
            // A cluster-wide grant reaches every namespace of its cluster,
            // so every tier there must allow it.
            let snippet = "grant inj-escalator to group \"ops\" on cluster inj-dev".to_string();
            let text = format!(
                "{base}{clusters}cluster_role inj-escalator {{ allow [get] on [nodes]  allow [escalate] on [roles] }}\n\ntier inj-locked {{\n  pod_security = baseline\n  forbid verbs [escalate]\n}}\n\n{snippet}\n\n{}",
                env("inj", "inj-dev", "inj-locked", "")
            );
            (text, snippet, Code::E0504)
        }
        21 => {
            // `bind` cluster-wide on a production cluster that does not
            // allow cluster administrators.
            let snippet = "grant inj-binder to group \"ops\" on cluster inj-prod".to_string();
            let text = format!(
                "{base}{clusters}cluster_role inj-binder {{ allow [bind] on [clusterroles] }}\n\n{snippet}\n"
            );
            (text, snippet, Code::E0510)
        }
        22 => {
            // Forbidding a custom resource forbids it however it is named,
            // and its subresources.
            let allowed = match program.teams.len() % 3 {
                0 => "injwidgets",
                1 => "\"injwidgets.inj.example.com\"",
                _ => "injwidgets.inj.example.com/status",
            };
            let snippet = "grant inj-widget-reader to group \"ops\"".to_string();
            let text = format!(
                "{base}{clusters}resource injwidgets.inj.example.com {{ subresources = [status] }}\n\nrole inj-widget-reader {{ allow [get] on [pods, {allowed}] }}\n\ntier inj-locked {{\n  pod_security = baseline\n  forbid resources [injwidgets]\n}}\n\n{}",
                env("inj", "inj-dev", "inj-locked", &format!("  {snippet}\n"))
            );
            (text, snippet, Code::E0505)
        }
        23 => {
            // A name is unique per cluster: the same env declared twice
            // on one cluster, however its placements come to share it.
            let with_dev2 = format!("{clusters}{DEV2}");
            let variant = (program.teams.len() + program.roles.len()) % 4;
            let ns = program.namespaces().next().expect("a namespace");
            match variant {
                0 => {
                    // A generated env (a stage, maybe), declared again as
                    // it is, on its clusters.
                    let snippet = format!(
                        "// again\nenv {} on {} tier {} {{\n{}}}\n",
                        ns.name,
                        placement(program, ns),
                        program.tiers[ns.tier].name,
                        namespace_body(program, ns, "  ")
                    );
                    (format!("{base}{snippet}"), snippet, Code::E0202)
                }
                1 => {
                    let snippet = "env inj-twice on inj-dev2".to_string();
                    let text = format!(
                        "{base}{with_dev2}{}{}",
                        env("inj-twice", "[inj-dev, inj-dev2]", "base", ""),
                        env("inj-twice", "inj-dev2", "base", "")
                    );
                    (text, snippet, Code::E0202)
                }
                2 => {
                    // A stage's whole name is an env's, on one cluster of
                    // its two.
                    let snippet = "stage a on inj-dev2 tier base".to_string();
                    let text = format!(
                        "{base}{with_dev2}{}env inj-svc {{\n  {snippet} {{\n    ingress allow from environment development\n  }}\n}}\n",
                        env("inj-svc-a", "[inj-dev, inj-dev2]", "base", ""),
                    );
                    (text, snippet, Code::E0202)
                }
                _ => {
                    let snippet = "[inj-dev2, inj-dev, inj-dev2]".to_string();
                    let text = format!(
                        "{base}{with_dev2}env inj-svc {{\n  stage a on {snippet} tier base {{\n    ingress allow from environment development\n  }}\n}}\n"
                    );
                    (text, snippet, Code::E0202)
                }
            }
        }
        24 => {
            // A rule's `env NAME` is the env of that name on the sender's
            // cluster: a name that lives only on other clusters is none.
            let with_dev2 = format!("{clusters}{DEV2}");
            match program.tiers.len() % 3 {
                0 => {
                    // A generated env, on generated clusters only.
                    let name = &program.namespaces().next().expect("a namespace").name;
                    let snippet = format!("egress allow to env {name} on tcp 7000");
                    let text = format!(
                        "{base}{clusters}{}",
                        env("inj-sender", "inj-prod", "base", &format!("  {snippet}\n"))
                    );
                    (text, snippet, Code::E0606)
                }
                1 => {
                    // On one of the sender's two clusters, not the other.
                    let snippet = "egress allow to env inj-target on tcp 8080".to_string();
                    let text = format!(
                        "{base}{with_dev2}{}{}",
                        env(
                            "inj-sender",
                            "[inj-dev, inj-dev2]",
                            "base",
                            &format!("  {snippet}\n")
                        ),
                        env(
                            "inj-target",
                            "inj-dev",
                            "base",
                            "  ingress allow from env inj-sender on tcp 8080\n"
                        )
                    );
                    (text, snippet, Code::E0606)
                }
                _ => {
                    // And a receiver on two clusters, its sender on one.
                    let snippet = "ingress allow from env inj-sender on tcp 8080".to_string();
                    let text = format!(
                        "{base}{with_dev2}{}{}",
                        env(
                            "inj-receiver",
                            "[inj-dev, inj-dev2]",
                            "base",
                            &format!("  {snippet}\n")
                        ),
                        env(
                            "inj-sender",
                            "inj-dev2",
                            "base",
                            "  egress allow to env inj-receiver on tcp 8080\n"
                        )
                    );
                    (text, snippet, Code::E0606)
                }
            }
        }
        25 => {
            // A namespace on several clusters counts against each: the
            // capacity of one of them, 1m short of what its envs request
            // there (a generated namespace's second cluster), or a fresh
            // namespace on a cluster that fits it and one that does not.
            let several = program.namespaces().find(|ns| ns.clusters.len() > 1);
            match several {
                Some(ns) if program.roles.len() % 3 != 0 => {
                    let cluster = ns.clusters[1];
                    let requested = sums(program)[cluster].0;
                    let text = render(program, Some((cluster, 1)));
                    let start = text
                        .find(&format!("cluster {} {{", program.clusters[cluster].0))
                        .expect("the cluster");
                    let capacity = format!("capacity {{ cpu = {}m", requested - 1);
                    let end = start + text[start..].find(&capacity).expect("its capacity");
                    let snippet = text[start..end + capacity.len()].to_string();
                    (text, snippet, Code::E0405)
                }
                _ => {
                    let snippet = "capacity { cpu = 500m }".to_string();
                    let text = format!(
                        "{base}cluster inj-a {{\n  server = \"https://inj-a.example.com\"\n  environment = development\n  capacity {{ cpu = 4 }}\n}}\n\ncluster inj-b {{\n  server = \"https://inj-b.example.com\"\n  environment = development\n  {snippet}\n}}\n\n{}",
                        env("inj", "[inj-a, inj-b]", "base", "")
                    );
                    (text, snippet, Code::E0405)
                }
            }
        }
        26 => {
            // A namespace on several clusters deploys as `<env>-<cluster>-app`
            // on each: an env of that name (`<env>-<cluster>`) collides.
            let deploy = "  deploy { repo = \"https://git.example.com/apps\" path = \"envs/${namespace}\" }\n";
            let generated = program
                .namespaces()
                .find(|ns| ns.clusters.len() > 1 && ns.deploy);
            match generated {
                Some(ns) if program.roles.len() % 3 != 0 => {
                    let cluster = &program.clusters[ns.clusters[0]].0;
                    let snippet = env(&format!("{}-{cluster}", ns.name), "inj-dev", "base", deploy);
                    (format!("{base}{clusters}{snippet}"), snippet, Code::E0202)
                }
                _ => {
                    let with_dev2 = format!("{clusters}{DEV2}");
                    let snippet = format!(
                        "{}{}",
                        env("inj-app", "[inj-dev, inj-dev2]", "base", deploy),
                        env("inj-app-inj-dev2", "inj-dev", "base", deploy)
                    );
                    (format!("{base}{with_dev2}{snippet}"), snippet, Code::E0202)
                }
            }
        }
        27 => {
            // A project holds one team's envs: an env of another team
            // naming it, by its name or as another env's own, is E0805.
            let deploy = |env: &str, project: &str| {
                format!(
                    "deploy {{ repo = \"https://git.example.com/{env}\" path = \"envs\"{project} }}"
                )
            };
            let labels = |team: &str| format!("  labels {{ team = \"{team}\" }}\n");
            if program.teams.len() % 2 == 0 {
                let shared = " project = \"inj-shared\"";
                let snippet = deploy("inj-b", shared);
                let text = format!(
                    "{base}{clusters}{}{}{}",
                    env(
                        "inj-a1",
                        "inj-dev",
                        "base",
                        &format!("{}  {}\n", labels("inj-a"), deploy("inj-a1", shared))
                    ),
                    env(
                        "inj-b",
                        "inj-dev",
                        "base",
                        &format!("{}  {snippet}\n", labels("inj-b"))
                    ),
                    env(
                        "inj-a2",
                        "inj-dev",
                        "base",
                        &format!("{}  {}\n", labels("inj-a"), deploy("inj-a2", shared))
                    ),
                );
                (text, snippet, Code::E0805)
            } else {
                // Without a `team` label an env is a team of its own.
                let snippet = deploy("inj-b", " project = \"inj-a\"");
                let text = format!(
                    "{base}{clusters}{}{}",
                    env(
                        "inj-a",
                        "inj-dev",
                        "base",
                        &format!("  {}\n", deploy("inj-a", ""))
                    ),
                    env("inj-b", "inj-dev", "base", &format!("  {snippet}\n")),
                );
                (text, snippet, Code::E0805)
            }
        }
        28 => {
            // Argo CD admits a Namespace by name on every cluster of a
            // project: an Application that creates its namespace, in a
            // project over a cluster that namespace is not on, is E0807.
            // Without a `gitops` block: with one, no Application creates
            // its namespace (E0806).
            let base = match program.gitops {
                true => render(
                    &Program {
                        gitops: false,
                        ..program.clone()
                    },
                    None,
                ),
                false => base.clone(),
            };
            let with_dev2 = format!("{clusters}{DEV2}");
            let deploy = |env: &str, create: &str| {
                format!(
                    "  labels {{ team = \"inj\" }}\n  deploy {{ repo = \"https://git.example.com/{env}\" path = \"envs\" project = \"inj-shared\"{create} }}\n"
                )
            };
            let snippet = "project = \"inj-shared\" sync { create_namespace = true }".to_string();
            let text = format!(
                "{base}{with_dev2}{}{}",
                env(
                    "inj-a",
                    "inj-dev",
                    "base",
                    &deploy("inj-a", " sync { create_namespace = true }")
                ),
                env("inj-b", "inj-dev2", "base", &deploy("inj-b", "")),
            );
            (text, snippet, Code::E0807)
        }
        29 => {
            // Two routes for the same alerts: which one Alertmanager took
            // would depend on the order they were written in.
            // The second names the receiver as a string: the same route,
            // written differently, so that the snippet is only it.
            let snippet = "route team \"inj\" to \"rcv0\"".to_string();
            let text = format!(
                "{base}route team \"inj\" severity critical to rcv0\nroute team \"inj\" to rcv0\n{snippet}\n"
            );
            (text, snippet, Code::E0712)
        }
        30 => {
            // An alert that no route takes, on a cluster that sends to an
            // Alertmanager, and no default: it would page no one. The
            // generated clusters send nowhere here, so that only the
            // injected alert can be unrouted.
            let quiet = Program {
                alertmanager: vec![false; program.clusters.len()],
                routing: Routing {
                    routes: program
                        .routing
                        .routes
                        .iter()
                        .filter(|(team, _, _)| team.is_some())
                        .cloned()
                        .collect(),
                    default: None,
                    ..program.routing.clone()
                },
                ..program.clone()
            };
            let base = render(&quiet, None);
            let sending = "cluster inj-am {\n  server = \"https://inj-am.example.com\"\n  environment = development\n  prometheus { alertmanager = \"http://alertmanager.monitoring.svc:9093\" }\n}\n\n";
            let snippet = "alert PodCrashLooping as InjUnrouted".to_string();
            let text = format!(
                "{base}{sending}{}",
                env(
                    "inj",
                    "inj-am",
                    "base",
                    &format!("  alert_labels {{ team = \"inj-nobody\" }}\n  {snippet}\n")
                )
            );
            (text, snippet, Code::E0713)
        }
        32 => {
            // One cent over the budget: 1 core and 1Gi cost $26.17 a month
            // at the default prices.
            let cost = monthly_cents(1000, 1 << 30);
            let snippet = "quota { requests.cpu = 1  requests.memory = 1Gi }".to_string();
            let text = format!(
                "{base}{clusters}tier thrifty {{\n  pod_security = baseline\n  budget = {}.{:02}\n}}\n\nenv inj on inj-dev tier thrifty {{\n  {snippet}\n  ingress allow from environment development\n}}\n",
                (cost - 1) / 100,
                (cost - 1) % 100
            );
            (text, snippet, Code::E0408)
        }
        31 => {
            let snippet = "routing_key = \"0123456789abcdef\"".to_string();
            let text = format!("{base}receiver inj {{ pagerduty {{ {snippet} }} }}\n");
            (text, snippet, Code::E0711)
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

/// Namespaces on two clusters are common enough to matter: single envs
/// and stages, in the records form as two records and as one naming both;
/// and rules between envs, at one end or both.
#[test]
fn namespaces_on_several_clusters_and_rules_between_envs_are_generated() {
    let (mut programs, mut envs, mut stages, mut split, mut joined) = (0, 0, 0, 0, 0);
    let (mut bracketed, mut ingress, mut egress, mut ingress_on_two) = (0, 0, 0, 0);
    let (mut with_also, mut split_written) = (0, 0);
    for seed in 0..100 {
        let program = generate(seed);
        let mut several = false;
        for (_, team) in &program.teams {
            for (stage, ns) in team {
                bracketed += usize::from(ns.bracketed);
                ingress += usize::from(ns.ingress_env.is_some());
                egress += usize::from(ns.egress_env.is_some());
                if ns.clusters.len() < 2 {
                    continue;
                }
                several = true;
                ingress_on_two += usize::from(ns.ingress_env.is_some());
                split_written += usize::from(ns.split_written);
                match stage {
                    Some(_) => stages += 1,
                    None if ns.split_records => (envs, split) = (envs + 1, split + 1),
                    None => (envs, joined) = (envs + 1, joined + 1),
                }
            }
        }
        programs += usize::from(several);
        let records = render_as(&program, None, Form::Records);
        with_also += usize::from(records.contains("${e.also}"));
    }
    eprintln!(
        "{programs} programs; {envs} envs ({split} split, {joined} joined) and {stages} stages on two clusters; {bracketed} `[c]`; {ingress} ingress from env ({ingress_on_two} on two clusters), {egress} egress to env"
    );
    assert!(programs >= 30, "{programs} of 100 programs");
    assert!(split >= 10 && joined >= 10 && stages >= 10 && with_also >= 5);
    assert!(
        split_written >= 5,
        "{split_written} declared once per cluster"
    );
    assert!(bracketed >= 20 && ingress >= 40 && egress >= 10 && ingress_on_two >= 10);
}

/// What invariant 6's fences are tried on is common enough to matter:
/// projects shared by a family's stages, also across clusters, and with
/// an Application that creates its namespace; teams of several
/// projects; tiers whose envs manage their network or RBAC; `gitops`
/// blocks, with Argo CD on a cluster of the program or not; and grants
/// left after E0511.
#[test]
fn argocd_shapes_are_generated() {
    let (mut shared, mut across, mut creating, mut across_creating) = (0, 0, 0, 0);
    let (mut gitops, mut argocd_here, mut managed, mut projects, mut grants) = (0, 0, 0, 0, 0);
    for seed in 0..100 {
        let program = generate(seed);
        gitops += usize::from(program.gitops);
        argocd_here += usize::from(program.argocd_cluster.is_some());
        managed += program
            .tiers
            .iter()
            .filter(|tier| tier.self_managed != (false, false))
            .count();
        grants += program
            .namespaces()
            .map(|ns| ns.grants.len())
            .sum::<usize>();
        for project in expected_projects(&program).values() {
            projects += 1;
            let clusters: BTreeSet<usize> = project.envs.iter().map(|(c, _)| *c).collect();
            let names: BTreeSet<&str> = project.envs.iter().map(|(_, n)| *n).collect();
            shared += usize::from(names.len() > 1);
            across += usize::from(clusters.len() > 1);
            creating += usize::from(!project.creates.is_empty());
            across_creating += usize::from(clusters.len() > 1 && !project.creates.is_empty());
            // E0807: never a namespace created where the project holds
            // no env of that name.
            for (cluster, name) in &project.creates {
                for other in &clusters {
                    assert!(
                        project.envs.contains(&(*other, *name)),
                        "seed {seed}: {name} created on {cluster}, not on {other}"
                    );
                }
            }
        }
    }
    eprintln!(
        "{projects} projects: {shared} shared, {across} across clusters, {creating} creating a namespace ({across_creating} across clusters); {gitops} gitops ({argocd_here} with Argo CD on a cluster of the program); {managed} self-managed tiers; {grants} grants"
    );
    assert!(shared >= 10 && across >= 10 && creating >= 50 && across_creating >= 1);
    assert!((20..=40).contains(&gitops) && argocd_here >= 3);
    assert!(managed >= 30 && grants >= 100);
}
