//! Prometheus: each cluster's configuration, each env's rules (as a plain
//! rule file and as a prometheus-operator PrometheusRule), and the central
//! federation config.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kubernetes::ConfigMapGenerator;
use super::splice::{self, Shared, Spliced};
use super::{Documents, Emitting, Wave, annotations, yaml, yaml_into};
use crate::model::{AlertRule, Cluster, Env, Exporter, Model, TextMap};
use crate::rule_test::Untestable;

#[derive(Serialize)]
struct Config {
    global: Global,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerting: Option<Alerting>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule_files: Vec<String>,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize)]
struct Alerting {
    alertmanagers: Vec<AlertmanagerConfig>,
}

#[derive(Serialize)]
struct AlertmanagerConfig {
    scheme: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    path_prefix: String,
    static_configs: Vec<StaticConfig>,
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
        // Where the alerts go: the Alertmanager the program names.
        alerting: cluster
            .prometheus
            .alertmanager
            .as_ref()
            .map(|url| Alerting {
                alertmanagers: vec![AlertmanagerConfig {
                    scheme: url.scheme,
                    path_prefix: url.path.clone(),
                    static_configs: vec![StaticConfig {
                        targets: vec![url.host.clone()],
                        labels: BTreeMap::new(),
                    }],
                }],
            }),
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

/// The evaluation interval the rule tests assume, and their series'
/// step: Prometheus' default, which the generated configurations keep.
const TEST_INTERVAL: crate::model::Duration = crate::rule_test::INTERVAL;

/// An alert rule as its tests depend on it, with the env's namespace
/// replaced by [`NAMESPACE_STANDIN`]: the envs that use a template alike
/// share one generation, their namespace put back into its tests (an
/// evaluation is tens of microseconds; a fleet has thousands of rules).
///
/// Sound when the namespace is nothing but an opaque string to the
/// generator: in the expression it occurs only as whole string literals
/// (`"team-1"`, as label values) and there is no escape that could spell
/// it otherwise; in the annotations only in their literal text, outside
/// `{{ … }}`, which expansion copies as it is; and neither the labels nor
/// the rule's name hold it, nor anything the stand-in. Consistently
/// renaming it changes no matcher's verdict (a DNS label holds no regex
/// operator nor brace) and no value computed, so the tests are the same
/// but for the name. `RuleTests::direct` is the plain path it is held to.
struct TestKey {
    alert: String,
    expr: String,
    for_: Option<crate::model::Duration>,
    labels: TextMap,
    annotations: TextMap,
}

/// What stands for the namespace in a [`TestKey`]: a DNS label no
/// namespace of a rule that uses it holds.
const NAMESPACE_STANDIN: &str = "envk-test-namespace";
/// The stand-in as a PromQL string literal.
const NAMESPACE_STANDIN_LITERAL: &str = "\"envk-test-namespace\"";

impl TestKey {
    /// Whether the key's renaming is sound for `rule` of an env of
    /// `namespace` (the conditions above).
    fn sound(rule: &AlertRule, namespace: &Namespace) -> bool {
        use memchr::memmem::Finder;
        let standin = |text: &str| STANDIN.find(text.as_bytes()).is_some();
        let holds = |text: &str| namespace.name.find(text.as_bytes()).is_some() || standin(text);
        let count = |finder: &Finder, text: &str| finder.find_iter(text.as_bytes()).count();
        let expr = rule.expr.as_str();
        let literal_only = !namespace.name.needle().is_empty()
            && !expr.contains('\\')
            && !standin(expr)
            && count(&namespace.name, expr) == count(&namespace.quoted, expr);
        let texts = |map: &TextMap| map.iter().any(|(key, value)| holds(key) || holds(value));
        // Each `{{` starts an action; what follows its `}}` is literal.
        let in_actions = |text: &str| {
            text.contains('{')
                && text.split("{{").skip(1).any(|action| {
                    let action = action.split_once("}}").map_or(action, |(inside, _)| inside);
                    holds(action)
                })
        };
        let annotations_literal = rule
            .annotations
            .iter()
            .all(|(key, value)| !holds(key) && !standin(value) && !in_actions(value));
        literal_only && annotations_literal && !holds(&rule.alert) && !texts(&rule.labels)
    }

    /// The key of a `sound` rule.
    fn of(rule: &AlertRule, namespace: &Namespace) -> TestKey {
        TestKey {
            alert: rule.alert.clone(),
            expr: replaced(&namespace.quoted, &rule.expr, NAMESPACE_STANDIN_LITERAL),
            for_: rule.for_,
            labels: rule.labels.clone(),
            annotations: rule
                .annotations
                .iter()
                .map(|(key, value)| {
                    (
                        key.clone(),
                        replaced(&namespace.name, value, NAMESPACE_STANDIN),
                    )
                })
                .collect(),
        }
    }

    /// The hash of the key `of` would make, made without making it: a
    /// thousand envs' rules are looked up, and only the first is kept.
    fn hash(rule: &AlertRule, namespace: &Namespace) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut hasher = foldhash::fast::FixedState::default().build_hasher();
        // A byte no text holds between fields, so that none runs into
        // the next.
        let end = |hasher: &mut foldhash::fast::FoldHasher| hasher.write_u8(0xff);
        hasher.write(rule.alert.as_bytes());
        end(&mut hasher);
        replaced_parts(
            &namespace.quoted,
            &rule.expr,
            NAMESPACE_STANDIN_LITERAL,
            |part| hasher.write(part.as_bytes()),
        );
        end(&mut hasher);
        rule.for_.hash(&mut hasher);
        for (key, value) in rule.labels.iter() {
            hasher.write(key.as_bytes());
            end(&mut hasher);
            hasher.write(value.as_bytes());
            end(&mut hasher);
        }
        for (key, value) in rule.annotations.iter() {
            hasher.write(key.as_bytes());
            end(&mut hasher);
            replaced_parts(&namespace.name, value, NAMESPACE_STANDIN, |part| {
                hasher.write(part.as_bytes())
            });
            end(&mut hasher);
        }
        hasher.finish()
    }

    /// Whether this is the key `of` would make for `rule`, compared
    /// without making that key.
    fn matches(&self, rule: &AlertRule, namespace: &Namespace) -> bool {
        self.alert == rule.alert
            && self.for_ == rule.for_
            && self.labels == rule.labels
            && is_replaced(
                &self.expr,
                &namespace.quoted,
                &rule.expr,
                NAMESPACE_STANDIN_LITERAL,
            )
            && self.annotations.len() == rule.annotations.len()
            && self.annotations.iter().zip(rule.annotations.iter()).all(
                |((key, stored), (other, value))| {
                    key == other && is_replaced(stored, &namespace.name, value, NAMESPACE_STANDIN)
                },
            )
    }
}

/// What stands for the namespace, found.
static STANDIN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(NAMESPACE_STANDIN));

/// `replaced(finder, text, with)` in the pieces it is made of, each given
/// to `part` in order, without making it.
fn replaced_parts<'t>(
    finder: &memchr::memmem::Finder,
    text: &'t str,
    with: &'t str,
    mut part: impl FnMut(&'t str),
) {
    let mut from = 0;
    for at in finder.find_iter(text.as_bytes()) {
        part(&text[from..at]);
        part(with);
        from = at + finder.needle().len();
    }
    part(&text[from..]);
}

/// Whether `stored` is `replaced(finder, text, with)`.
fn is_replaced(stored: &str, finder: &memchr::memmem::Finder, text: &str, with: &str) -> bool {
    let mut rest = Some(stored);
    replaced_parts(finder, text, with, |part| {
        rest = rest.and_then(|rest| rest.strip_prefix(part));
    });
    rest == Some("")
}

/// `text` with what `finder` finds replaced by `with`.
fn replaced(finder: &memchr::memmem::Finder, text: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    replaced_parts(finder, text, with, |part| out.push_str(part));
    out
}

/// An env's namespace as a [`TestKey`] looks for it: alone, and as a
/// PromQL string literal; made once per env.
pub(super) struct Namespace<'n> {
    text: &'n str,
    name: memchr::memmem::Finder<'n>,
    quoted: memchr::memmem::Finder<'static>,
    /// YAML writes it alone as it is, unquoted, as it writes the
    /// stand-in, so that the one's tests are the other's with it replaced
    /// (`"true"` or `"1e3"` would be quoted where a label value is the
    /// namespace alone).
    plain: bool,
}

impl<'n> Namespace<'n> {
    fn new(text: &'n str) -> Namespace<'n> {
        Namespace {
            text,
            name: memchr::memmem::Finder::new(text),
            quoted: memchr::memmem::Finder::new(&["\"", text, "\""].concat()).into_owned(),
            plain: yaml(&text).strip_suffix('\n') == Some(text),
        }
    }
}

/// The tests made so far in one piece of a build, by [`TestKey`], as
/// the `- ` items of a test file's `tests`, written with the stand-in
/// and kept as the text between its occurrences.
///
/// Shared by every piece of a build: a piece holds a few dozen envs, so a
/// cache per piece made each shape's tests dozens of times.
#[derive(Default)]
pub(super) struct RuleTests {
    /// By the key's hash: each looked up without making the key.
    made: std::sync::RwLock<foldhash::HashMap<u64, Vec<(TestKey, Made)>>>,
}

/// A rule's tests as the pieces between the stand-ins, or why none.
type Made = std::sync::Arc<Result<Vec<String>, Untestable>>;

impl RuleTests {
    /// The tests of `rule` of an env of `namespace`, as `- ` items
    /// appended to `out`.
    fn write(
        &self,
        rule: &AlertRule,
        namespace: &Namespace,
        out: &mut String,
    ) -> Result<(), Untestable> {
        if !namespace.plain || !TestKey::sound(rule, namespace) {
            out.push_str(&Self::direct(rule)?);
            return Ok(());
        }
        let hash = TestKey::hash(rule, namespace);
        let found = |made: &foldhash::HashMap<u64, Vec<(TestKey, Made)>>| {
            let same = made.get(&hash)?;
            let (_, made) = same.iter().find(|(key, _)| key.matches(rule, namespace))?;
            Some(made.clone())
        };
        let known = found(&self.made.read().expect("no thread panics holding it"));
        let made = match known {
            Some(made) => made,
            None => {
                // Made outside the lock; a piece that made it meanwhile
                // made the same.
                let key = TestKey::of(rule, namespace);
                let made = std::sync::Arc::new(
                    Self::made(&crate::rule_test::AlertRule {
                        alert: &key.alert,
                        expr: &key.expr,
                        for_: key.for_,
                        labels: &key.labels,
                        annotations: &key.annotations,
                    })
                    .map(|text| text.split(NAMESPACE_STANDIN).map(str::to_string).collect()),
                );
                let mut all = self.made.write().expect("no thread panics holding it");
                match found(&all) {
                    Some(made) => made,
                    None => {
                        all.entry(hash).or_default().push((key, made.clone()));
                        made
                    }
                }
            }
        };
        match &*made {
            Ok(pieces) => {
                let (first, rest) = pieces.split_first().expect("split gives a piece");
                out.push_str(first);
                for piece in rest {
                    out.push_str(namespace.text);
                    out.push_str(piece);
                }
                Ok(())
            }
            Err(why) => Err(Untestable(why.0.replace(NAMESPACE_STANDIN, namespace.text))),
        }
    }

    /// The plain path: the rule's tests made and written for it alone.
    fn direct(rule: &AlertRule) -> Result<String, Untestable> {
        Self::made(&plain(rule))
    }

    fn made(rule: &crate::rule_test::AlertRule) -> Result<String, Untestable> {
        let tests = crate::rule_test::alert_test(rule, TEST_INTERVAL)?;
        Ok(yaml(&[tests.fires, tests.silent]))
    }
}

/// In the stream layout, where a cluster's rules are one file: the names
/// of rules with a template's own test that another env of the cluster
/// has a rule of too, by cluster. promtool tests alerts by name over every
/// rule file it loads, and a template envk cannot evaluate (`absent`) may
/// fire in an env without its series: the other env's rule would fire in
/// this one's test. envk's own tests compare series the other envs' rules
/// do not read, which then return nothing. Empty in the tree layout, where
/// an env's test loads its own rule file.
#[derive(Default)]
pub(super) struct SharedNames(std::collections::HashSet<(String, String)>);

impl SharedNames {
    pub(super) fn of(envs: &[&Env]) -> SharedNames {
        let mut written: std::collections::HashSet<(&str, &str)> = Default::default();
        for env in envs {
            for rule in env.alerts.rules.iter().filter(|rule| rule.test.is_some()) {
                written.insert((&env.cluster.name, &rule.alert));
            }
        }
        if written.is_empty() {
            return SharedNames::default();
        }
        let mut envs_of: std::collections::HashMap<(&str, &str), usize> = Default::default();
        for env in envs {
            for rule in &env.alerts.rules {
                let key = (env.cluster.name.as_str(), rule.alert.as_str());
                if written.contains(&key) {
                    *envs_of.entry(key).or_default() += 1;
                }
            }
        }
        SharedNames(
            envs_of
                .into_iter()
                .filter(|(_, count)| *count > 1)
                .map(|((cluster, alert), _)| (cluster.to_string(), alert.to_string()))
                .collect(),
        )
    }

    fn contains(&self, cluster: &str, alert: &str) -> bool {
        !self.0.is_empty() && self.0.contains(&(cluster.to_string(), alert.to_string()))
    }
}

/// The tests of an env's rules, as `- ` items of a promtool test file's
/// `tests:` appended to `items`, and, for a rule that could not be
/// tested, a comment line saying why appended to `untested`.
pub(super) fn env_tests(
    env: &Env,
    made: &RuleTests,
    shared: &SharedNames,
    items: &mut String,
    untested: &mut String,
) {
    let namespace = Namespace::new(&env.name);
    for rule in &env.alerts.rules {
        // Its test passes, but the series it reads never reach this
        // cluster's Prometheus (E0709): say so where the test is read.
        for exporter in rule.reads.missing_from(env.cluster.prometheus.scrape) {
            untested.push_str(&format!(
                "# never fires on {}: {}/{} reads {} series, which its Prometheus does not scrape\n",
                env.cluster.name,
                env.name,
                rule.alert,
                exporter.name()
            ));
        }
        // promtool tests alerts by name: another rule of the group with
        // this one's name would fire beside it (or instead of it, just
        // short of this one's threshold), which the test cannot say.
        let named_alike = env
            .alerts
            .rules
            .iter()
            .filter(|other| other.alert == rule.alert)
            .count()
            > 1;
        if named_alike {
            let why = Untestable(
                "another rule of its group has its name, and promtool tests alerts by name: give it a name of its own with `as`"
                    .to_string(),
            );
            untested_line(untested, &env.name, &rule.alert, &why);
            continue;
        }
        let generated = made.write(rule, &namespace, items);
        match (&rule.test, generated) {
            // The template's own test, beside envk's where it made one.
            (Some(_), _) if shared.contains(&env.cluster.name, &rule.alert) => {
                let why = Untestable(format!(
                    "its template's test cannot be run in the stream layout, where every env's rules on {} are one file and another env has a rule named {} that promtool could see fire beside it (an `absent` does, without its series): build with `--layout tree`, or give each a name of its own with `as`",
                    env.cluster.name, rule.alert
                ));
                untested_line(untested, &env.name, &rule.alert, &why);
            }
            (Some(test), _) => match crate::rule_test::written_test(&plain(rule), test) {
                Ok(test) => items.push_str(&yaml(&[test])),
                Err(why) => untested_line(untested, &env.name, &rule.alert, &why),
            },
            (None, Err(why)) => untested_line(untested, &env.name, &rule.alert, &why),
            (None, Ok(())) => {}
        }
    }
}

/// A rule as `rule_test` reads it.
fn plain(rule: &AlertRule) -> crate::rule_test::AlertRule<'_> {
    crate::rule_test::AlertRule {
        alert: &rule.alert,
        expr: &rule.expr,
        for_: rule.for_,
        labels: &rule.labels,
        annotations: &rule.annotations,
    }
}

/// The tests of the aggregates a cluster records, appended to `items`
/// as `env_tests` does.
pub(super) fn cluster_tests(cluster: &Cluster, items: &mut String, untested: &mut String) {
    let mut tests = Vec::new();
    for aggregate in cluster_aggregates(cluster) {
        let made = crate::rule_test::recording_test(
            &crate::rule_test::RecordingRule {
                record: aggregate.record,
                expr: aggregate.expr,
                labels: &TextMap::new(),
            },
            TEST_INTERVAL,
        );
        match made {
            Ok(made) => tests.push(made),
            Err(why) => untested_line(untested, AGGREGATES_GROUP, aggregate.record, &why),
        }
    }
    if !tests.is_empty() {
        items.push_str(&yaml(&tests));
    }
}

fn untested_line(untested: &mut String, group: &str, rule: &str, why: &Untestable) {
    // A comment is one line.
    let why = why.to_string().replace('\n', " ");
    untested.push_str(&format!("# untested: {group}/{rule}: {why}\n"));
}

/// A promtool test file of the rule files at `rule_files` (relative to
/// it): `untested`'s comments, then the tests `items`.
pub(super) fn test_file(rule_files: &[&str], untested: &str, items: &str) -> String {
    let mut out = test_file_preamble(rule_files, untested);
    match items.is_empty() {
        // No tests: an empty list, not a null.
        true => out.push_str("tests: []\n"),
        false => {
            out.push_str("tests:\n");
            out.push_str(items);
        }
    }
    out
}

/// A test file up to its tests, which follow as `- ` items.
pub(super) fn test_file_head(rule_files: &[&str], untested: &str) -> String {
    test_file_preamble(rule_files, untested) + "tests:\n"
}

/// What a test file says before its tests.
fn test_file_preamble(rule_files: &[&str], untested: &str) -> String {
    let mut out = String::with_capacity(untested.len() + 128);
    out.push_str(untested);
    out.push_str("rule_files:\n");
    for file in rule_files {
        out.push_str("- ");
        out.push_str(file);
        out.push('\n');
    }
    out.push_str("evaluation_interval: ");
    out.push_str(&TEST_INTERVAL.to_string());
    out.push('\n');
    out
}

/// `CLUSTER/monitoring/kustomization.yaml`: the ConfigMaps of the
/// cluster's Prometheus files, in its Prometheus namespace, made by
/// kustomize: `envk-prometheus-config` (the configuration,
/// `prometheus.yaml`), `envk-alertmanager-config` (`alertmanager.yaml`,
/// when the cluster's Prometheus sends to an Alertmanager) and the rule files, `rule_files` (paths in the
/// `monitoring` folder, with their sizes), in `envk-prometheus-rules`, or
/// `envk-prometheus-rules-1`, `-2`, … when they are more than one
/// ConfigMap should hold. None when the program does not say where the
/// cluster's Prometheus runs. The cluster's kustomization lists the
/// folder; with a `gitops` block, an Application of its own syncs it.
pub(super) fn monitoring_kustomization<'p>(
    cluster: &Cluster,
    rule_files: impl Iterator<Item = (&'p str, usize)>,
) -> Option<String> {
    let namespace = cluster.prometheus.namespace.as_ref()?;
    let generator = |name: String, files: Vec<String>| ConfigMapGenerator {
        name,
        namespace: namespace.clone(),
        files,
    };
    let mut generators = vec![generator(
        CONFIG_MAP.to_string(),
        vec!["prometheus.yaml".to_string()],
    )];
    if cluster.prometheus.alertmanager.is_some() {
        generators.push(generator(
            ALERTMANAGER_CONFIG_MAP.to_string(),
            vec![super::alertmanager::FILE.to_string()],
        ));
    }
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut filled = CONFIG_MAP_BYTES;
    for (path, size) in rule_files {
        if filled + size > CONFIG_MAP_BYTES {
            chunks.push(Vec::new());
            filled = 0;
        }
        filled += size;
        chunks
            .last_mut()
            .expect("a chunk was started")
            .push(path.to_string());
    }
    let several = chunks.len() > 1;
    for (at, files) in chunks.into_iter().enumerate() {
        let name = match several {
            true => format!("{RULES_CONFIG_MAP}-{}", at + 1),
            false => RULES_CONFIG_MAP.to_string(),
        };
        generators.push(generator(name, files));
    }
    Some(super::kubernetes::kustomization(Vec::new(), &generators))
}

/// The names of the ConfigMaps of a cluster's Prometheus files.
pub(super) const CONFIG_MAP: &str = "envk-prometheus-config";
pub(super) const RULES_CONFIG_MAP: &str = "envk-prometheus-rules";
pub(super) const ALERTMANAGER_CONFIG_MAP: &str = "envk-alertmanager-config";

/// What one ConfigMap of rule files holds at most, but a file larger
/// alone: `kubectl apply` keeps a copy of the object in an annotation,
/// which may not exceed 256 KiB.
const CONFIG_MAP_BYTES: usize = 200 * 1024;

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

/// The tests of the cluster's own rule file, beside the envs'
/// (`monitoring/tests/<env>.test.yaml`), in the tree layout.
pub(super) const CLUSTER_TESTS: &str = "_cluster.test.yaml";

/// Every test of a cluster's rules, in the stream layout.
pub(super) const STREAM_TESTS: &str = "rules.test.yaml";

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
        alerting: None,
        rule_files: Vec::new(),
        scrape_configs,
    };
    yaml(&config)
}

#[cfg(test)]
mod tests {
    use super::splice::assert_splices;
    use super::*;

    /// The cache of tests by rule against the plain path: every rule of
    /// the examples, in its own namespace and moved to namespaces that
    /// test the key's conditions (a word of the annotations, a letter of
    /// every metric name, a label name, YAML's booleans and numbers, the
    /// stand-in itself), each after the cache holds the rule's shape.
    #[test]
    fn cached_rule_tests_are_the_plain_path_s() {
        let mut compared = 0;
        let mut cached = 0;
        for example in [
            "examples/enterprise.env.k",
            "examples/multi-team",
            "examples/regions",
        ] {
            let run = crate::driver::check(&[example.into()]).expect("readable");
            let model = run.model.expect("the example checks clean");
            let made = RuleTests::default();
            for env in model.envs.values() {
                for rule in &env.alerts.rules {
                    let quoted = format!("\"{}\"", env.name);
                    for namespace in [
                        env.name.as_str(),
                        "production",
                        "a",
                        "pod",
                        "true",
                        "1e3",
                        "2001-12-14",
                        "envk-test-namespace",
                        "other-team",
                    ] {
                        let moved = AlertRule {
                            expr: rule.expr.replace(&quoted, &format!("\"{namespace}\"")),
                            ..rule.clone()
                        };
                        // The namespace in an annotation's text, as
                        // `${namespace}` puts it, and in an action.
                        let mut named = moved.clone();
                        named.annotations.insert(
                            "summary".to_string(),
                            format!("{namespace}: {{{{ $labels.pod }}}} in {namespace}"),
                        );
                        let mut acted = moved.clone();
                        acted.annotations.insert(
                            "summary".to_string(),
                            format!("{{{{ $labels.{namespace} }}}} in {namespace}"),
                        );
                        for rule in [moved, named, acted] {
                            let at = Namespace::new(namespace);
                            if TestKey::sound(&rule, &at) {
                                // The key made and the key compared agree.
                                assert!(TestKey::of(&rule, &at).matches(&rule, &at));
                                let other = Namespace::new("other-namespace");
                                let elsewhere = AlertRule {
                                    expr: rule.expr.replace(
                                        &format!("\"{namespace}\""),
                                        "\"other-namespace\"",
                                    ),
                                    annotations: rule
                                        .annotations
                                        .iter()
                                        .map(|(k, v)| {
                                            (k.clone(), v.replace(namespace, "other-namespace"))
                                        })
                                        .collect(),
                                    ..rule.clone()
                                };
                                if TestKey::sound(&elsewhere, &other) {
                                    assert_eq!(
                                        TestKey::hash(&rule, &at),
                                        TestKey::hash(&elsewhere, &other)
                                    );
                                    assert!(TestKey::of(&rule, &at).matches(&elsewhere, &other));
                                }
                            }
                            cached += usize::from(at.plain && TestKey::sound(&rule, &at));
                            let mut text = String::new();
                            assert_eq!(
                                made.write(&rule, &at, &mut text).map(|()| text),
                                RuleTests::direct(&rule),
                                "{} in {namespace}: {:?}",
                                rule.alert,
                                rule.annotations
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert!(
            compared > 100 && cached > compared / 5,
            "{cached} of {compared} cached"
        );
        assert_eq!(
            NAMESPACE_STANDIN_LITERAL,
            format!("\"{NAMESPACE_STANDIN}\"")
        );
    }

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
