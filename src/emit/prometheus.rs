//! Prometheus: each cluster's configuration, each env's rules (as a plain
//! rule file and as a prometheus-operator PrometheusRule), and the central
//! federation config.

use std::collections::BTreeMap;

use serde::Serialize;

use super::splice::{self, Shared, Spliced};
use super::{Documents, Emitting, Wave, annotations, yaml, yaml_into};
use crate::model::{AlertRule, Cluster, Env, Exporter, Model, TextMap};

#[derive(Serialize)]
struct Config {
    global: Global,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule_files: Vec<String>,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize)]
struct Global {
    scrape_interval: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    external_labels: BTreeMap<String, String>,
}

#[derive(Serialize, Default)]
struct ScrapeConfig {
    job_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    honor_labels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kubernetes_sd_configs: Vec<KubernetesSd>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relabel_configs: Vec<Relabel>,
}

#[derive(Serialize)]
struct TlsConfig {
    ca_file: &'static str,
}

#[derive(Serialize)]
struct Authorization {
    credentials_file: &'static str,
}

/// Where Kubernetes mounts a pod's service account: the cluster's CA and
/// the account's token, with which Prometheus reaches the kubelets.
const SERVICE_ACCOUNT_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

#[derive(Serialize)]
struct KubernetesSd {
    role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaces: Option<SdNamespaces>,
}

#[derive(Serialize)]
struct SdNamespaces {
    names: Vec<String>,
}

#[derive(Serialize)]
struct StaticConfig {
    targets: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Default)]
struct Relabel {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    source_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
}

/// The scrape jobs of the seed article: node exporters (the kubelet port
/// rewritten to node-exporter's) and pods that opt in by annotation.
fn kubernetes_jobs() -> Vec<ScrapeConfig> {
    vec![
        ScrapeConfig {
            job_name: "kubernetes-nodes".to_string(),
            kubernetes_sd_configs: vec![KubernetesSd {
                role: "node".to_string(),
                namespaces: None,
            }],
            relabel_configs: vec![Relabel {
                source_labels: vec!["__address__".to_string()],
                regex: Some("(.*):10250".to_string()),
                target_label: Some("__address__".to_string()),
                replacement: Some("${1}:9100".to_string()),
                ..Relabel::default()
            }],
            ..ScrapeConfig::default()
        },
        ScrapeConfig {
            job_name: "kubernetes-pods".to_string(),
            kubernetes_sd_configs: vec![KubernetesSd {
                role: "pod".to_string(),
                namespaces: None,
            }],
            relabel_configs: vec![Relabel {
                source_labels: vec![
                    "__meta_kubernetes_pod_annotation_prometheus_io_scrape".to_string(),
                ],
                action: Some("keep".to_string()),
                regex: Some("true".to_string()),
                ..Relabel::default()
            }],
            ..ScrapeConfig::default()
        },
    ]
}

/// The jobs for the exporters the alerts read (`check::metrics` says
/// which reads what), each as Prometheus' own Kubernetes example writes
/// it: the kubelet and cAdvisor on every node, over HTTPS with the pod's
/// service account; kube-state-metrics by its Service's endpoints. Their
/// series carry `namespace`, `pod` and `container` as the exporters
/// label them (kube-state-metrics' own labels are honoured, as they
/// describe the object, not the exporter's pod).
fn exporter_jobs(cluster: &Cluster) -> Vec<ScrapeConfig> {
    let prometheus = &cluster.prometheus;
    let kubelet = |exporter: Exporter, metrics_path: Option<&str>| ScrapeConfig {
        job_name: exporter.job().to_string(),
        metrics_path: metrics_path.map(str::to_string),
        scheme: Some("https".to_string()),
        tls_config: Some(TlsConfig {
            ca_file: SERVICE_ACCOUNT_CA,
        }),
        authorization: Some(Authorization {
            credentials_file: SERVICE_ACCOUNT_TOKEN,
        }),
        kubernetes_sd_configs: vec![KubernetesSd {
            role: "node".to_string(),
            namespaces: None,
        }],
        relabel_configs: vec![Relabel {
            source_labels: vec!["__meta_kubernetes_node_name".to_string()],
            target_label: Some("node".to_string()),
            ..Relabel::default()
        }],
        ..ScrapeConfig::default()
    };
    let mut jobs = Vec::new();
    if prometheus.scrape.contains(Exporter::Kubelet) {
        jobs.push(kubelet(Exporter::Kubelet, None));
    }
    if prometheus.scrape.contains(Exporter::Cadvisor) {
        jobs.push(kubelet(Exporter::Cadvisor, Some("/metrics/cadvisor")));
    }
    if prometheus.scrape.contains(Exporter::KubeStateMetrics) {
        jobs.push(ScrapeConfig {
            job_name: Exporter::KubeStateMetrics.job().to_string(),
            honor_labels: Some(true),
            kubernetes_sd_configs: vec![KubernetesSd {
                role: "endpoints".to_string(),
                namespaces: None,
            }],
            relabel_configs: vec![
                Relabel {
                    source_labels: vec!["__meta_kubernetes_service_name".to_string()],
                    action: Some("keep".to_string()),
                    regex: Some(regex_literal(&prometheus.kube_state_metrics)),
                    ..Relabel::default()
                },
                Relabel {
                    source_labels: vec!["__meta_kubernetes_endpoint_port_name".to_string()],
                    action: Some("drop".to_string()),
                    regex: Some("telemetry".to_string()),
                    ..Relabel::default()
                },
            ],
            ..ScrapeConfig::default()
        });
    }
    jobs
}

/// `text` as a regular expression that matches exactly it: a Service
/// name is a DNS label, whose only character a regex reads is none.
fn regex_literal(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if !c.is_ascii_alphanumeric() && c != '-' {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// One job per metrics port (`metrics on tcp 9090`) the envs of
/// `cluster` declare: the pods of exactly the envs' namespaces that
/// declare it, on exactly that port, each series labelled with its
/// namespace and pod. A port is one job, whatever other ports an env
/// declares beside it, so its series keep their `job` when an env adds a
/// port. A pod's port is discovered where its container declares it.
fn metrics_jobs(model: &Model, cluster: &Cluster) -> Vec<ScrapeConfig> {
    let mut jobs: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for env in model.envs.values() {
        if env.cluster.name != cluster.name {
            continue;
        }
        let Some(metrics) = &env.network.metrics else {
            continue;
        };
        for port in &metrics.ports {
            jobs.entry(port.number).or_default().push(env.name.clone());
        }
    }
    let keep = |label: &str, regex: String| Relabel {
        source_labels: vec![label.to_string()],
        action: Some("keep".to_string()),
        regex: Some(regex),
        ..Relabel::default()
    };
    let copy = |label: &str, target: &str| Relabel {
        source_labels: vec![label.to_string()],
        target_label: Some(target.to_string()),
        ..Relabel::default()
    };
    jobs.into_iter()
        .map(|(port, namespaces)| {
            let port = port.to_string();
            ScrapeConfig {
                job_name: format!("metrics-tcp-{port}"),
                kubernetes_sd_configs: vec![KubernetesSd {
                    role: "pod".to_string(),
                    namespaces: Some(SdNamespaces { names: namespaces }),
                }],
                relabel_configs: vec![
                    keep("__meta_kubernetes_pod_container_port_number", port),
                    keep(
                        "__meta_kubernetes_pod_container_port_protocol",
                        "TCP".to_string(),
                    ),
                    copy("__meta_kubernetes_namespace", "namespace"),
                    copy("__meta_kubernetes_pod_name", "pod"),
                ],
                ..ScrapeConfig::default()
            }
        })
        .collect()
}

/// `CLUSTER/monitoring/prometheus.yaml`, reading the rule files at
/// `rule_files` (relative to it): the seed's jobs, the exporters', then
/// the metrics ports' of the envs of `model` on the cluster.
pub(super) fn cluster_config(model: &Model, cluster: &Cluster, rule_files: &[&str]) -> String {
    let config = Config {
        global: Global {
            scrape_interval: cluster.prometheus.scrape_interval.to_string(),
            external_labels: BTreeMap::from([
                ("cluster".to_string(), cluster.name.clone()),
                (
                    "environment".to_string(),
                    cluster.environment.as_str().to_string(),
                ),
            ]),
        },
        rule_files: rule_files.iter().map(|file| file.to_string()).collect(),
        scrape_configs: kubernetes_jobs()
            .into_iter()
            .chain(exporter_jobs(cluster))
            .chain(metrics_jobs(model, cluster))
            .collect(),
    };
    yaml(&config)
}

#[derive(Serialize)]
struct RuleFile<'a> {
    groups: Vec<RuleGroup<'a>>,
}

#[derive(Serialize)]
struct RuleGroup<'a> {
    name: &'a str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
struct Rule<'a> {
    alert: &'a str,
    expr: &'a str,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "TextMap::is_empty")]
    labels: &'a TextMap,
    #[serde(skip_serializing_if = "TextMap::is_empty")]
    annotations: &'a TextMap,
}

fn group(env: &Env) -> RuleGroup<'_> {
    RuleGroup {
        name: &env.alerts.name,
        rules: env.alerts.rules.iter().map(rule).collect(),
    }
}

fn rule(rule: &AlertRule) -> Rule<'_> {
    Rule {
        alert: &rule.alert,
        expr: &rule.expr,
        for_: rule.for_.map(|d| d.to_string()),
        labels: &rule.labels,
        annotations: &rule.annotations,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    /// The same groups as the plain rule file. None for the head alone,
    /// which the rule file's text then follows (`env_rules`).
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<&'a RuleFile<'a>>,
}

impl<'a> Spliced for PrometheusRule<'a> {
    const FIELD: &'static str = "spec";
    type Field = &'a RuleFile<'a>;
    fn field(&mut self) -> &mut Option<&'a RuleFile<'a>> {
        &mut self.spec
    }
}

#[derive(Serialize)]
pub(super) struct Metadata<'a> {
    pub name: String,
    /// Borrowed: a build writes a PrometheusRule and an Application per env.
    pub namespace: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// How a serialized rule file starts: its groups follow, one `- ` item each,
/// so a cluster's rule file is this head and every env's group item.
pub(super) const RULE_FILE_HEAD: &str = "groups:\n";

/// An env's rules, if it has any: a plain Prometheus rule file holding its
/// one group, appended to `rule_file`, and the same group as a
/// prometheus-operator PrometheusRule, pushed to `prometheus_rules`.
pub(super) fn env_rules(
    env: &Env,
    options: Emitting,
    rule_file: &mut String,
    prometheus_rules: &mut Documents,
) -> bool {
    if env.alerts.rules.is_empty() {
        return false;
    }
    let file = RuleFile {
        groups: vec![group(env)],
    };
    let start = rule_file.len();
    let fast = yaml_into(&file, rule_file);
    let head = || PrometheusRule {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: Metadata {
            name: [&env.name, "-rules"].concat(),
            namespace: &env.name,
            annotations: annotations(&TextMap::new(), &env.source, options, Wave::Rules),
        },
        spec: None,
    };
    // The spec is the plain rule file, two columns in: its lines are
    // copied rather than serialized again, which was a tenth of a stream
    // build. serde_yaml's fallback output is not reused: only the fast
    // serializer's is known to be the same text at every column.
    let shared = match fast {
        true => Shared::Document(&rule_file[start..]),
        false => Shared::None,
    };
    prometheus_rules.push_with(
        || [&env.name, ".yaml"].concat(),
        |out| splice::write(head, shared, || &file, out),
    );
    true
}

/// A per-namespace aggregate each cluster records, for the central
/// Prometheus to federate in place of the series it sums.
pub(super) struct Aggregate {
    pub record: &'static str,
    pub expr: &'static str,
    /// The exporter whose series it sums: a cluster that does not scrape
    /// it does not record it.
    pub reads: Exporter,
    /// Whether it has a series per quota key of a namespace, rather than
    /// one per namespace.
    pub per_quota_key: bool,
}

/// The aggregates, named by Prometheus' `level:metric:operations`
/// convention; `namespace:` is the level the federation selects.
pub(super) const AGGREGATES: &[Aggregate] = &[
    Aggregate {
        record: "namespace:container_memory_usage_bytes:sum",
        expr: "sum by (namespace) (container_memory_usage_bytes{container!=\"\"})",
        reads: Exporter::Cadvisor,
        per_quota_key: false,
    },
    Aggregate {
        record: "namespace:container_cpu_usage_seconds:rate5m",
        expr: "sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m]))",
        reads: Exporter::Cadvisor,
        per_quota_key: false,
    },
    Aggregate {
        record: "namespace:kube_pod_container_status_restarts:increase1h",
        expr: "sum by (namespace) (increase(kube_pod_container_status_restarts_total[1h]))",
        reads: Exporter::KubeStateMetrics,
        per_quota_key: false,
    },
    Aggregate {
        record: "namespace:kube_resourcequota:used_ratio",
        expr: "max by (namespace, resource) (kube_resourcequota{type=\"used\"} / ignoring(type) (kube_resourcequota{type=\"hard\"} > 0))",
        reads: Exporter::KubeStateMetrics,
        per_quota_key: true,
    },
];

/// The group of a cluster's own rule file.
const AGGREGATES_GROUP: &str = "namespace-aggregates";

/// The cluster's own rule file, beside the envs': no env is called
/// `_cluster`, since a namespace starts with a letter or digit.
pub(super) const CLUSTER_RULES: &str = "_cluster.rules.yaml";

#[derive(Serialize)]
struct Recording<'a> {
    record: &'a str,
    expr: &'a str,
}

/// The aggregates `cluster` records, of the exporters it scrapes.
pub(super) fn cluster_aggregates(cluster: &Cluster) -> impl Iterator<Item = &'static Aggregate> {
    let scrape = cluster.prometheus.scrape;
    AGGREGATES
        .iter()
        .filter(move |aggregate| scrape.contains(aggregate.reads))
}

/// The cluster's own rule file (`CLUSTER_RULES`): the per-namespace
/// aggregates it records; `None` when it scrapes none of their exporters.
pub(super) fn cluster_rules(cluster: &Cluster) -> Option<String> {
    #[derive(Serialize)]
    struct Group<'a> {
        name: &'a str,
        rules: Vec<Recording<'a>>,
    }
    #[derive(Serialize)]
    struct File<'a> {
        groups: [Group<'a>; 1],
    }
    let rules: Vec<Recording> = cluster_aggregates(cluster)
        .map(|aggregate| Recording {
            record: aggregate.record,
            expr: aggregate.expr,
        })
        .collect();
    (!rules.is_empty()).then(|| {
        yaml(&File {
            groups: [Group {
                name: AGGREGATES_GROUP,
                rules,
            }],
        })
    })
}

/// `global/prometheus-federation.yaml`: a central Prometheus that pulls
/// the series `federation { match }` selects (by default the clusters'
/// aggregates and `up`) from each cluster's `/federate` endpoint.
pub(super) fn federation(model: &Model) -> String {
    let scrape_configs = model
        .clusters
        .values()
        .filter_map(|cluster| {
            let url = cluster.prometheus.url.as_ref()?;
            let rest = url.strip_prefix("https://").unwrap_or(url);
            let (host, path) = match rest.find('/') {
                Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
                None => (rest, ""),
            };
            Some(ScrapeConfig {
                job_name: format!("federate-{}", cluster.name),
                honor_labels: Some(true),
                metrics_path: Some(format!("{path}/federate")),
                scheme: Some("https".to_string()),
                params: BTreeMap::from([("match[]".to_string(), model.federation.matches.clone())]),
                static_configs: vec![StaticConfig {
                    targets: vec![host.to_string()],
                    labels: BTreeMap::from([("cluster".to_string(), cluster.name.clone())]),
                }],
                ..ScrapeConfig::default()
            })
        })
        .collect();
    let config = Config {
        global: Global {
            scrape_interval: model.federation.scrape_interval.to_string(),
            external_labels: BTreeMap::new(),
        },
        rule_files: Vec::new(),
        scrape_configs,
    };
    yaml(&config)
}

#[cfg(test)]
mod tests {
    use super::splice::assert_splices;
    use super::*;

    #[test]
    fn a_prometheus_rule_is_its_head_then_its_rule_file() {
        let run = crate::driver::check(&["examples/enterprise.env.k".into()]).expect("readable");
        let mut model = run.model.expect("the example checks clean");
        let mut compared = 0;
        for env in model.envs.values_mut() {
            if let Some(rule) = env.alerts.rules.first_mut() {
                // A literal block, whose lines move with their key and
                // whose empty line stays empty.
                rule.annotations
                    .insert("runbook".to_string(), "Look.\n\nThen act.\n".to_string());
            }
            if env.alerts.rules.is_empty() {
                continue;
            }
            let file = RuleFile {
                groups: vec![group(env)],
            };
            assert_splices(|| PrometheusRule {
                api_version: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: Metadata {
                    name: [&env.name, "-rules"].concat(),
                    namespace: &env.name,
                    annotations: annotations(
                        &TextMap::new(),
                        &env.source,
                        Emitting::default(),
                        Wave::Rules,
                    ),
                },
                spec: Some(&file),
            });
            compared += 1;
        }
        assert!(compared > 0);
    }
}
