//! Human-facing documents, rendered with tera: a README per cluster with
//! its environments against capacity, who can do what, and which envs can
//! reach which.
//!
//! The template lays the document out; the rows of the tables that grow
//! with the fleet (one per namespace or binding) are formatted here and
//! given to it whole, since tera spends thousands of instructions per
//! looked-up value: a cluster of a thousand namespaces rendered row by row
//! in the template took as long as emitting all its manifests.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cost;
use crate::model::{
    Cluster, Dimension, Env, Exporter, Model, Network, NetworkRule, Node, Peer, Port, QuotaKey,
    Reach, Subject,
};

const TEMPLATE: &str = include_str!("templates/cluster-readme.md.tera");

#[derive(Serialize)]
struct Context {
    cluster: ClusterRow,
    env_count: usize,
    /// `| name | tier | … |` lines, each ending in a line break.
    env_rows: String,
    totals: Totals,
    capacity: Totals,
    /// The cluster's prices and where they come from.
    price: String,
    binding_rows: String,
    cluster_binding_rows: String,
    /// Every pair, for clusters small enough to read it.
    matrix: Matrix,
    /// Otherwise each namespace's rules, which grows linearly.
    rule_rows: String,
    /// With a `gitops` block, the sentence that says what deploys this
    /// folder; empty without.
    platform: String,
    /// `| namespace | Application | project | repo | path |` lines.
    deploy_rows: String,
    /// The namespaces that manage their own NetworkPolicies, and their
    /// own Roles and RoleBindings (`self_managed`), listed; empty if none.
    self_managed_network: String,
    self_managed_rbac: String,
    /// Namespaces a previous build deployed here that are no longer
    /// declared.
    retired: Vec<String>,
    /// What the cluster's Prometheus scrapes and records, and what the
    /// central one federates from it.
    monitoring: String,
    /// The program's policies and waivers; empty without any.
    policies: String,
}

/// Above this many namespaces a cluster's README lists each one's rules
/// instead of a matrix of every pair.
const MATRIX_LIMIT: usize = 20;

#[derive(Serialize)]
struct ClusterRow {
    name: String,
    server: String,
    environment: String,
}

#[derive(Serialize)]
struct Totals {
    cpu: String,
    memory: String,
    pods: String,
    /// What the requests cost a month.
    cost: String,
}

#[derive(Serialize)]
struct Matrix {
    names: Vec<String>,
    rows: Vec<MatrixRow>,
}

#[derive(Serialize)]
struct MatrixRow {
    from: String,
    cells: Vec<String>,
}

/// The README's monitoring section: the jobs, the aggregates recorded,
/// and an estimate of the series the central Prometheus federates from
/// the cluster at each scrape, from the model: a series per aggregate of
/// each of envk's namespaces (the quota's per quota key), a floor, since
/// the namespaces envk does not manage are summed too.
/// Where the cluster's alerts go: its Alertmanager and the routing envk
/// wrote for it, with the secret files its receivers read; or that they
/// go nowhere.
fn alerts_paragraph(model: &Model, cluster: &Cluster, envs: &[&Env], out: &mut String) {
    let rules = match envs.iter().map(|env| env.alerts.rules.len()).sum::<usize>() {
        1 => "1 alert rule".to_string(),
        count => format!("{count} alert rules"),
    };
    let Some(url) = &cluster.prometheus.alertmanager else {
        let _ = write!(
            out,
            "\n\nIts Prometheus sends alerts to no Alertmanager (`prometheus {{ alertmanager = \"…\" }}`): its envs' {rules} page no one."
        );
        return;
    };
    let alerting = &model.alerting;
    let config_map = match cluster.prometheus.namespace {
        Some(_) => format!(
            " (ConfigMap `{}`)",
            super::prometheus::ALERTMANAGER_CONFIG_MAP
        ),
        None => String::new(),
    };
    let default = match &alerting.default {
        Some(default) => format!("everything else to `{default}`"),
        None => format!(
            "anything else to `{}`, which sends nowhere (envk checked that every alert rule of the program's envs is routed)",
            crate::model::Alerting::UNROUTED
        ),
    };
    let path = match url.path.as_str() {
        "" => String::new(),
        path => path.to_string(),
    };
    let _ = write!(
        out,
        "\n\nIts Prometheus sends its envs' {rules} to the Alertmanager at {}://{}{path}, configured by `monitoring/alertmanager.yaml`{config_map}: {} route{} by team and severity, {default}.",
        url.scheme,
        url.host,
        alerting.routes.len(),
        if alerting.routes.len() == 1 { "" } else { "s" },
    );
    let files: std::collections::BTreeSet<&str> = alerting
        .receivers
        .values()
        .flat_map(|receiver| &receiver.integrations)
        .flat_map(|integration| integration.secret_files())
        .collect();
    if !files.is_empty() {
        let files: Vec<String> = files.iter().map(|file| format!("`{file}`")).collect();
        let _ = write!(
            out,
            " Its receivers read their secrets from {}: mount them into Alertmanager's pod as envk's `docs/monitoring.md` shows.",
            crate::suggest::and_list(&files)
        );
    }
}

fn monitoring(model: &Model, cluster: &Cluster, envs: &[&Env]) -> String {
    use super::prometheus;
    let scrape = cluster.prometheus.scrape;
    let mut jobs = vec![
        "node-exporter (`kubernetes-nodes`)".to_string(),
        "annotated pods (`kubernetes-pods`)".to_string(),
    ];
    for exporter in Exporter::CHOSEN {
        if scrape.contains(exporter) {
            jobs.push(format!("{} (`{}`)", exporter.title(), exporter.job()));
        }
    }
    let ports: std::collections::BTreeSet<u16> = envs
        .iter()
        .filter_map(|env| env.network.metrics.as_ref())
        .flat_map(|metrics| metrics.ports.iter().map(|port| port.number))
        .collect();
    if !ports.is_empty() {
        jobs.push(format!("the envs' metrics ports ({})", ports.len()));
    }
    let mut out = format!(
        "The cluster's Prometheus (`monitoring/prometheus.yaml`) scrapes {}.",
        crate::suggest::and_list(&jobs)
    );
    let aggregates: Vec<&prometheus::Aggregate> = prometheus::cluster_aggregates(cluster).collect();
    if aggregates.is_empty() {
        out.push_str(" It records no per-namespace aggregate: it scrapes none of their exporters.");
    } else {
        let names: Vec<String> = aggregates
            .iter()
            .map(|a| format!("`{}`", a.record))
            .collect();
        let _ = write!(
            out,
            " It records {} per namespace, in `{}`.",
            crate::suggest::and_list(&names),
            prometheus::CLUSTER_RULES
        );
    }
    match &cluster.prometheus.namespace {
        Some(namespace) => {
            let by = match model.gitops {
                Some(_) => format!(
                    "Argo CD Application `{}` (project `{}`, which admits only ConfigMaps, only in `{namespace}`) syncs `monitoring/`, which",
                    crate::model::monitoring_application(&cluster.name),
                    crate::model::monitoring_project(&cluster.name)
                ),
                None => "`kubectl apply -k` takes `monitoring/` too, which".to_string(),
            };
            let _ = write!(
                out,
                " {by} makes ConfigMaps of these files in namespace `{namespace}`: `{}` (`prometheus.yaml`) and `{}` (the rule files; numbered when they need several), named the same at every build: mount them as envk's `docs/monitoring.md` shows.",
                prometheus::CONFIG_MAP,
                prometheus::RULES_CONFIG_MAP
            );
        }
        None => out.push_str(
            " These files are not deployed by `kubectl apply -k`: the program does not say where the cluster's Prometheus runs (`prometheus { namespace = \"…\" }`).",
        ),
    }
    alerts_paragraph(model, cluster, envs, &mut out);
    let Some(url) = &cluster.prometheus.url else {
        out.push_str("\n\nIt has no `url`: the central Prometheus does not federate it.");
        return out;
    };
    let matches: Vec<String> = model
        .federation
        .matches
        .iter()
        .map(|m| format!("`{m}`"))
        .collect();
    let _ = write!(
        out,
        "\n\nThe central Prometheus federates {} from {url} every {}",
        crate::suggest::and_list(&matches),
        model.federation.scrape_interval
    );
    let aggregated = model
        .federation
        .matches
        .iter()
        .any(|m| m == crate::model::Federation::DEFAULT_MATCHES[0]);
    if !aggregated {
        out.push_str(
            ": the series of selectors of the program's own, which envk does not estimate.",
        );
        return out;
    }
    let mut series = 0usize;
    for aggregate in &aggregates {
        series += match aggregate.per_quota_key {
            false => envs.len(),
            true => envs
                .iter()
                .map(|env| {
                    env.quota
                        .as_ref()
                        .map_or(0, |quota| quota.hard.iter().count())
                })
                .sum(),
        };
    }
    let up = match model.federation.matches.iter().any(|m| m == "up") {
        true => ", and one `up` per scrape target",
        false => "",
    };
    let _ = write!(
        out,
        ": at least **{series} series** a scrape from this cluster, its aggregates of envk's {} namespaces (more for the namespaces envk does not manage){up}.",
        envs.len()
    );
    out
}

/// `| a | b | … |` and a line break: a table row of the README, put
/// together without the formatting machinery, as a cluster's rows are
/// thousands.
fn row(rows: &mut String, cells: &[&str]) {
    for cell in cells {
        rows.push_str("| ");
        rows.push_str(cell);
        rows.push(' ');
    }
    rows.push_str("|\n");
}

/// Each cluster's README, in the Model's order. The template is parsed once.
pub(super) fn cluster_readmes(model: &Model, retired: &[(String, String)]) -> Vec<String> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::new());
    tera.add_raw_template("cluster-readme.md", TEMPLATE)
        .expect("the template is part of envk and parses");
    // The same section in every README: written once.
    let policies = policies(model);
    model
        .clusters
        .values()
        .map(|cluster| {
            let mut context = cluster_context(model, cluster);
            context.policies = policies.clone();
            context.retired = retired
                .iter()
                .filter(|(of, _)| *of == cluster.name)
                .map(|(_, namespace)| namespace.clone())
                .collect();
            let context =
                tera::Context::from_serialize(context).expect("the context is plain data");
            tera.render("cluster-readme.md", &context)
                .expect("the template is part of envk and renders")
        })
        .collect()
}

/// The program's policies, what each covered and how many passed, and the
/// waivers with their reasons: the same section in every README, since a
/// policy is about the whole program.
fn policies(model: &Model) -> String {
    if model.policies.is_empty() && model.waivers.is_empty() {
        return String::new();
    }
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from(
        "Checked over the whole program, not this cluster alone: the objects each \
         policy covered, how many met it, and how many violations were waived.\n\n\
         | Policy | Rule | Severity | Objects | Passing | Waived |\n\
         |---|---|---|---:|---:|---:|\n",
    );
    for policy in &model.policies {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            policy.name,
            cell(policy.description.as_deref().unwrap_or("")),
            policy.severity,
            policy.covers,
            policy.passes,
            policy.waived
        );
    }
    if !model.waivers.is_empty() {
        out.push_str("\n| Waiver of | For | Because | Violations waived |\n|---|---|---|---:|\n");
        for waiver in &model.waivers {
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} |",
                waiver.policy,
                waiver.kind,
                waiver.target,
                cell(&waiver.reason),
                waiver.waived
            );
        }
    }
    out
}

fn cluster_context(model: &Model, cluster: &Cluster) -> Context {
    let envs: Vec<&Env> = model.envs_on(&cluster.name).collect();
    let requested =
        |env: &Env, key: QuotaKey| env.quota.as_ref().and_then(|q| q.hard.get(&key).copied());
    let show = |dimension: Dimension, value: Option<u64>| {
        value.map_or("—".to_string(), |v| dimension.format(v))
    };
    let total = |key: QuotaKey| {
        let values: Vec<Option<u64>> = envs.iter().map(|env| requested(env, key)).collect();
        // A namespace without the key is unbounded, so the sum is too.
        let sum = values
            .iter()
            .try_fold(0u64, |sum, value| value.map(|v| sum.saturating_add(v)));
        show(key.dimension(), sum)
    };
    let platform = model.gitops.as_ref().map_or(String::new(), |gitops| {
        format!(
            "Argo CD Application `envk-{}` (project `platform-{}`) syncs this folder from {}, revision `{}`, with prune and self-heal. Namespaces are never pruned: an env removed from the program leaves its namespace and workloads, to be deleted by hand.",
            cluster.name, cluster.name, gitops.repo, gitops.revision
        )
    });
    let deploy_rows = envs.iter().fold(String::new(), |mut rows, env| {
        if let Some(deploy) = &env.deploy {
            let mut repos = std::borrow::Cow::Borrowed(deploy.repo.as_str());
            for source in deploy.options.iter().flat_map(|options| &options.sources) {
                let repos = repos.to_mut();
                repos.push_str(", ");
                repos.push_str(&source.repo);
            }
            let cells = [
                env.name.as_str(),
                &deploy.application,
                &deploy.project,
                &repos,
                &deploy.path,
            ];
            row(&mut rows, &cells);
        }
        rows
    });
    let self_managed = |of: fn(crate::model::SelfManaged) -> bool| {
        let names: Vec<String> = envs
            .iter()
            .filter(|env| of(env.tier.self_managed))
            .map(|env| format!("`{}`", env.name))
            .collect();
        match names.len() {
            0 => String::new(),
            1 => format!("namespace {} manages its own", names[0]),
            _ => format!(
                "namespaces {} manage their own",
                crate::suggest::and_list(&names)
            ),
        }
    };
    // Each env's month, for its row and the total.
    let costs: Vec<cost::Cost> = envs.iter().map(|env| cost::of_env(env)).collect();
    Context {
        retired: Vec::new(),
        monitoring: monitoring(model, cluster, &envs),
        // Filled in by `cluster_readmes`, as `retired` is.
        policies: String::new(),
        platform,
        deploy_rows,
        self_managed_network: self_managed(|managed| managed.network),
        self_managed_rbac: self_managed(|managed| managed.rbac),
        cluster: ClusterRow {
            name: cluster.name.clone(),
            server: cluster.server.clone(),
            environment: cluster.environment.as_str().to_string(),
        },
        env_count: envs.len(),
        env_rows: envs
            .iter()
            .zip(&costs)
            .fold(String::new(), |mut rows, (env, cost)| {
                let cells = [
                    env.name.as_str(),
                    &env.tier.name,
                    env.pod_security.as_str(),
                    &show(Dimension::Cpu, requested(env, QuotaKey::RequestsCpu)),
                    &show(Dimension::Memory, requested(env, QuotaKey::RequestsMemory)),
                    &show(Dimension::Count, requested(env, QuotaKey::Pods)),
                    &cost.show_requests(),
                ];
                row(&mut rows, &cells);
                rows
            }),
        totals: Totals {
            cpu: total(QuotaKey::RequestsCpu),
            memory: total(QuotaKey::RequestsMemory),
            pods: total(QuotaKey::Pods),
            cost: costs
                .iter()
                .copied()
                .fold(cost::Cost::default(), cost::Cost::plus)
                .show_requests(),
        },
        price: cost::describe_prices(
            &cluster.price.cpu.price(),
            &cluster.price.memory.price(),
            cluster.price.origin(),
        ),
        capacity: Totals {
            cpu: show(Dimension::Cpu, cluster.capacity.cpu),
            memory: show(Dimension::Memory, cluster.capacity.memory),
            pods: show(Dimension::Count, cluster.capacity.pods),
            cost: match (cluster.capacity.cpu, cluster.capacity.memory) {
                (Some(cpu), Some(memory)) => cluster
                    .price
                    .cpu_monthly(cpu)
                    .saturating_add(cluster.price.memory_monthly(memory))
                    .to_string(),
                _ => "—".to_string(),
            },
        },
        binding_rows: envs
            .iter()
            .flat_map(|env| env.bindings.iter().map(move |binding| (env, binding)))
            .fold(String::new(), |mut rows, (env, binding)| {
                let subjects = subjects(&binding.subjects);
                let cells = [env.name.as_str(), &binding.name, &binding.role, &subjects];
                row(&mut rows, &cells);
                rows
            }),
        cluster_binding_rows: model
            .cluster_bindings
            .iter()
            .filter(|binding| binding.cluster == cluster.name)
            .fold(String::new(), |mut rows, binding| {
                let rules = binding
                    .role
                    .rules
                    .iter()
                    .map(|rule| {
                        format!(
                            "{} on {}",
                            rule.verbs.join(", "),
                            rule.resources
                                .iter()
                                .map(|resource| match rule.api_groups[0].as_str() {
                                    "" | "*" => resource.clone(),
                                    group => format!("{resource}.{group}"),
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(
                    rows,
                    "| {} | {} | {rules} | {} |",
                    binding.name,
                    binding.role.name,
                    subjects(&binding.subjects)
                );
                rows
            }),
        matrix: if envs.len() <= MATRIX_LIMIT {
            matrix(model, cluster, &envs)
        } else {
            Matrix {
                names: Vec::new(),
                rows: Vec::new(),
            }
        },
        rule_rows: if envs.len() > MATRIX_LIMIT {
            envs.iter().fold(String::new(), |mut rows, env| {
                rows.push_str("| ");
                rows.push_str(&env.name);
                rows.push_str(" | ");
                write_accepts(&mut rows, &env.network);
                rows.push_str(" | ");
                write_sends(&mut rows, &env.network);
                rows.push_str(" |\n");
                rows
            })
        } else {
            String::new()
        },
    }
}

/// What a namespace's NetworkPolicies let in: "environment production on
/// TCP 8080; env web on all ports", and the Prometheus' metrics ports.
fn write_accepts(out: &mut String, network: &Network) {
    write_rules(
        out,
        network.ingress_restricted(),
        network.admitting(),
        "every namespace",
    );
    if let Some(metrics) = &network.metrics {
        let _ = write!(out, "; Prometheus ({}) on ", metrics.prometheus);
        write_ports(out, &sorted_ports(&metrics.ports));
    }
}

/// What a namespace's NetworkPolicies let out.
fn write_sends(out: &mut String, network: &Network) {
    write_rules(
        out,
        network.restrict_egress,
        network.egress.iter(),
        "anywhere",
    );
}

/// What a namespace accepts and sends, in words: the README's rows for a
/// large cluster, and the report's.
pub(super) fn accepts_and_sends(network: &Network) -> (String, String) {
    let (mut accepts, mut sends) = (String::new(), String::new());
    write_accepts(&mut accepts, network);
    write_sends(&mut sends, network);
    (accepts, sends)
}

/// Appends "environment production on TCP 8080; env web on all ports".
/// Written in place: a row per namespace, two lists of rules each.
fn write_rules<R: std::borrow::Borrow<NetworkRule>>(
    out: &mut String,
    restricted: bool,
    rules: impl Iterator<Item = R>,
    open: &str,
) {
    if !restricted {
        out.push_str(open);
        return;
    }
    let mut none = true;
    for (index, rule) in rules.enumerate() {
        let rule = rule.borrow();
        none = false;
        if index > 0 {
            out.push_str("; ");
        }
        match &rule.peer {
            Peer::Any => out.push_str("anywhere"),
            Peer::Environment(environment) => {
                out.push_str("environment ");
                out.push_str(environment.as_str());
            }
            Peer::Env(name) => {
                out.push_str("env ");
                out.push_str(name);
            }
            Peer::External { name, .. } => {
                out.push_str("external ");
                out.push_str(name);
            }
        }
        out.push_str(" on ");
        if rule.ports.is_empty() {
            out.push_str("all ports");
        } else {
            write_ports(out, &sorted_ports(&rule.ports));
        }
    }
    if none {
        out.push_str("nothing");
    }
}

/// "group sre, user ana, serviceaccount ops/deployer".
fn subjects(subjects: &[Subject]) -> String {
    subjects
        .iter()
        .map(Subject::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ports in `describe`'s order, which a `Reach` set keeps.
fn sorted_ports(ports: &[Port]) -> Vec<(&'static str, u16)> {
    let mut ports: Vec<(&str, u16)> = ports
        .iter()
        .map(|port| (port.protocol.as_str(), port.number))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Every pair of the cluster's namespaces: its envs, then the externals
/// declared on it, and its Prometheus where no env or external is its
/// namespace. What an external sends is limited by the envs' ingress
/// alone, and what it receives by their egress alone: its own policies
/// are not envk's, so a cell from one namespace envk does not manage to
/// another says so.
fn matrix(model: &Model, cluster: &Cluster, envs: &[&Env]) -> Matrix {
    let (externals, prometheus) = crate::model::unmanaged_namespaces(model, cluster, envs);
    // A namespace that manages its own NetworkPolicies is marked: its row
    // and column are what envk wrote, not what the cluster may allow.
    let shown = |env: &Env| match env.tier.self_managed.network {
        true => format!("{} (self-managed)", env.name),
        false => env.name.clone(),
    };
    let mut names: Vec<String> = envs.iter().map(|env| shown(env)).collect();
    names.extend(
        externals
            .iter()
            .map(|external| format!("external {}", external.name)),
    );
    // Receivers are the columns: the envs, then the externals. Senders
    // are the rows: the same, then the cluster's Prometheus.
    let unmanaged = Node::unmanaged;
    let columns: Vec<Node> = envs
        .iter()
        .map(|env| env.node())
        .chain(
            externals
                .iter()
                .map(|external| unmanaged(&external.namespace)),
        )
        .collect();
    let senders = envs
        .iter()
        .map(|env| (shown(env), env.node()))
        .chain(externals.iter().map(|external| {
            (
                format!("external {}", external.name),
                unmanaged(&external.namespace),
            )
        }))
        .chain(
            prometheus.map(|namespace| (format!("Prometheus ({namespace})"), unmanaged(namespace))),
        );
    let rows = senders
        .map(|(from, sender)| MatrixRow {
            from,
            cells: columns
                .iter()
                .map(|to| {
                    sender
                        .reach(to)
                        .map_or_else(|| NOT_MANAGED.to_string(), describe)
                })
                .collect(),
        })
        .collect();
    Matrix { names, rows }
}

/// A cell between two namespaces envk does not manage.
const NOT_MANAGED: &str = "not envk's";

fn describe(reach: Reach) -> String {
    reach.to_string()
}

/// Appends "TCP 80, TCP 443".
fn write_ports(out: &mut String, ports: &[(&str, u16)]) {
    for (index, (protocol, number)) in ports.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{protocol} {number}");
    }
}
