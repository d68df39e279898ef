//! Everything `envk build` writes for the examples is checked against the
//! formats its consumers read, built in memory through the library:
//!
//! - every Kubernetes object (built-in kinds, Argo CD, prometheus-operator)
//!   against the strict JSON Schema of its apiVersion and kind, kept in
//!   tests/schemas/ (see the README there for where each came from);
//!   unknown fields are errors, and so is an object of a kind with no schema;
//! - the Prometheus configs: each `kubernetes_sd_configs` entry against
//!   tests/schemas/prometheus_kubernetes_sd_config.json, and each relabel
//!   rule as Prometheus validates it (action, regex, target_label...);
//! - the Prometheus rule files and PrometheusRule specs: their fields, and
//!   every `expr` parsed with promql-parser;
//! - every YAML file: no unquoted scalar that a YAML 1.1 reader takes for
//!   something else than the YAML 1.2 reader envk was tested with.
//!
//! `promtool` itself runs in CI (.ci/promtool-check); this test needs nothing
//! installed. The last tests break emitted objects on purpose, to show the
//! checks are not vacuous.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::LazyLock;

use envk::emit::{self, ArgoCd, Layout, Options, Tree};
use jsonschema::Validator;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

#[path = "support/tools.rs"]
mod tools;

const EXAMPLES: [&str; 4] = [
    "examples/enterprise.env.k",
    "examples/multi-team",
    "examples/regions",
    "tests/fixtures/enterprise-gitops.env.k",
];

/// apiVersion, kind, schema: every kind envk emits. An object whose
/// apiVersion and kind are not here fails the test.
const KINDS: &[(&str, &str, &str)] = &[
    (
        "v1",
        "Namespace",
        include_str!("schemas/kubernetes-v1.33/namespace-v1.json"),
    ),
    (
        "v1",
        "ResourceQuota",
        include_str!("schemas/kubernetes-v1.33/resourcequota-v1.json"),
    ),
    (
        "v1",
        "LimitRange",
        include_str!("schemas/kubernetes-v1.33/limitrange-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        include_str!("schemas/kubernetes-v1.33/role-rbac-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        include_str!("schemas/kubernetes-v1.33/rolebinding-rbac-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        include_str!("schemas/kubernetes-v1.33/clusterrole-rbac-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        include_str!("schemas/kubernetes-v1.33/clusterrolebinding-rbac-v1.json"),
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        include_str!("schemas/kubernetes-v1.33/networkpolicy-networking-v1.json"),
    ),
    (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        include_str!("schemas/monitoring.coreos.com_v1_PrometheusRule.json"),
    ),
    (
        "argoproj.io/v1alpha1",
        "Application",
        include_str!("schemas/argoproj.io_v1alpha1_Application.json"),
    ),
    (
        "argoproj.io/v1alpha1",
        "AppProject",
        include_str!("schemas/argoproj.io_v1alpha1_AppProject.json"),
    ),
    (
        "argoproj.io/v1alpha1",
        "ApplicationSet",
        include_str!("schemas/argoproj.io_v1alpha1_ApplicationSet.json"),
    ),
];

const KUBERNETES_SD: &str = include_str!("schemas/prometheus_kubernetes_sd_config.json");

/// The roles of Prometheus's `kubernetes_sd_config`.
const SD_ROLES: &[&str] = &[
    "node",
    "pod",
    "service",
    "endpoints",
    "endpointslice",
    "ingress",
];

/// The relabel actions of Prometheus (model/relabel/relabel.go), which
/// reads them case-insensitively; `replace` when absent.
const RELABEL_ACTIONS: &[&str] = &[
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

struct Schemas {
    kinds: BTreeMap<(&'static str, &'static str), Validator>,
    kubernetes_sd: Validator,
    /// docs/model.schema.json, `.envk/model.json`'s published schema.
    model: Validator,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| Schemas {
    kinds: KINDS
        .iter()
        .map(|&(api_version, kind, text)| ((api_version, kind), compile(kind, text)))
        .collect(),
    kubernetes_sd: compile("kubernetes_sd_config", KUBERNETES_SD),
    model: compile("model.json", include_str!("../docs/model.schema.json")),
});

fn compile(name: &str, text: &str) -> Validator {
    let schema: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema of {name}: {e}"))
}

/// Label and metric names as Prometheus accepts them (before UTF-8 names).
static LABEL_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-zA-Z_][a-zA-Z0-9_]*$").unwrap());
static METRIC_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap());
/// Prometheus's model.Duration.
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        "^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$",
    )
    .unwrap()
});

fn build(program: &str, provenance: bool) -> Tree {
    build_in(program, provenance, Layout::Tree, ArgoCd::Applications)
}

fn build_in(program: &str, provenance: bool, layout: Layout, argocd: ArgoCd) -> Tree {
    let run = envk::driver::check(&[PathBuf::from(program)]).expect("examples are readable");
    let model = run
        .model
        .unwrap_or_else(|| panic!("{program} checks without errors"));
    let options = Options {
        provenance,
        layout,
        argocd,
        report: true,
    };
    emit::emit(&model, options)
}

/// Every YAML document of a file, as JSON.
fn documents(path: &str, content: &str) -> Result<Vec<Value>, String> {
    serde_yaml::Deserializer::from_str(content)
        .map(|document| Value::deserialize(document).map_err(|e| format!("{path}: not YAML: {e}")))
        .filter(|document| !matches!(document, Ok(Value::Null)))
        .collect()
}

/// What each kind of file is checked as.
enum FileKind {
    Readme,
    /// `.envk/namespaces`: `CLUSTER NAMESPACE [retired]` lines.
    Namespaces,
    Kustomization,
    PrometheusConfig,
    RuleFile,
    /// A `promtool test rules` file (`monitoring/tests/*.test.yaml`, or
    /// `monitoring/rules.test.yaml` in the stream layout).
    RuleTests,
    /// `monitoring/alertmanager.yaml`.
    AlertmanagerConfig,
    /// `.envk/model.json`, the build's summary.
    Model,
    /// `report/index.html`, which `tests/report.rs` checks.
    Report,
    Objects,
}

fn file_kind(path: &str) -> Option<FileKind> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    Some(if name == "README.md" {
        FileKind::Readme
    } else if path == emit::NAMESPACES_FILE {
        FileKind::Namespaces
    } else if path == envk::summary::PATH {
        FileKind::Model
    } else if path == envk::emit::report::PATH {
        FileKind::Report
    } else if name == "kustomization.yaml" {
        FileKind::Kustomization
    } else if path == "global/prometheus-federation.yaml"
        || (name == "prometheus.yaml" && parent.ends_with("/monitoring"))
    {
        FileKind::PrometheusConfig
    } else if name == "alertmanager.yaml" && parent.ends_with("/monitoring") {
        FileKind::AlertmanagerConfig
    } else if (name.ends_with(".test.yaml") && parent.ends_with("/monitoring/tests"))
        || (name == "rules.test.yaml" && parent.ends_with("/monitoring"))
    {
        FileKind::RuleTests
    } else if (name.ends_with(".rules.yaml") && parent.ends_with("/monitoring/rules"))
        || ((name == "rules.yaml" || name == "_cluster.rules.yaml")
            && parent.ends_with("/monitoring"))
    {
        FileKind::RuleFile
    } else if name.ends_with(".yaml") {
        FileKind::Objects
    } else {
        return None;
    })
}

/// What the checks of a tree found: errors, and how many objects of each
/// kind (and Prometheus files) passed through them.
#[derive(Default)]
struct Report {
    errors: Vec<String>,
    kinds: BTreeMap<String, usize>,
    sd_configs: usize,
    relabels: usize,
    rules: usize,
    provenance_annotations: usize,
}

impl Report {
    /// Every line a comment or `CLUSTER NAMESPACE`, sorted, each a
    /// namespace of a cluster the build has a folder for (a fresh build
    /// retires none).
    fn check_namespaces(&mut self, tree: &Tree, path: &str, content: &str) {
        let label = Regex::new("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$").unwrap();
        let lines: Vec<&str> = content.lines().filter(|l| !l.starts_with('#')).collect();
        if !lines.is_sorted() {
            self.errors.push(format!("{path}: lines not sorted"));
        }
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            let [cluster, namespace] = words[..] else {
                self.errors
                    .push(format!("{path}: `{line}` is not `CLUSTER NAMESPACE`"));
                continue;
            };
            if !label.is_match(namespace)
                || !tree
                    .files
                    .contains_key(&format!("{cluster}/kustomization.yaml"))
            {
                self.errors
                    .push(format!("{path}: `{line}` names no namespace of the build"));
            }
        }
    }

    /// The summary against its published schema, and read back by the
    /// reader `envk diff` uses, to the same value.
    fn check_model(&mut self, path: &str, content: &str) {
        let value: Value = match serde_json::from_str(content) {
            Ok(value) => value,
            Err(error) => return self.errors.push(format!("{path}: {error}")),
        };
        for error in SCHEMAS.model.iter_errors(&value) {
            self.errors
                .push(format!("{path}: {error} at {}", error.instance_path()));
        }
        match envk::summary::Summary::from_json(content) {
            Ok(summary) if summary.to_json() == content => {}
            Ok(_) => self
                .errors
                .push(format!("{path}: read back, it writes other text")),
            Err(error) => self.errors.push(format!("{path}: {error}")),
        }
    }

    fn check_tree(&mut self, tree: &Tree) {
        for (path, content) in &tree.files {
            self.check_file(tree, path, &content.text());
        }
    }

    fn check_file(&mut self, tree: &Tree, path: &str, content: &str) {
        let Some(kind) = file_kind(path) else {
            self.errors
                .push(format!("{path}: a file of a kind this test does not know"));
            return;
        };
        if let FileKind::Readme | FileKind::Report = kind {
            return;
        }
        if let FileKind::Namespaces = kind {
            return self.check_namespaces(tree, path, content);
        }
        if let FileKind::Model = kind {
            return self.check_model(path, content);
        }
        for problem in yaml_1_1_ambiguities(content) {
            self.errors.push(format!("{path}: {problem}"));
        }
        let documents = match documents(path, content) {
            Ok(documents) if !documents.is_empty() => documents,
            Ok(_) => return self.errors.push(format!("{path}: no YAML document")),
            Err(e) => return self.errors.push(e),
        };
        for document in &documents {
            match kind {
                FileKind::Readme | FileKind::Namespaces | FileKind::Model | FileKind::Report => {}
                FileKind::Kustomization => self.check_kustomization(tree, path, document),
                FileKind::PrometheusConfig => self.check_prometheus_config(path, document),
                FileKind::RuleFile => self.check_rule_file(path, document),
                FileKind::RuleTests => self.check_rule_tests(tree, path, document),
                FileKind::AlertmanagerConfig => self.check_alertmanager_config(path, document),
                FileKind::Objects => self.check_object(path, document),
            }
        }
    }

    /// One Kubernetes object, against the schema of its apiVersion and kind.
    fn check_object(&mut self, path: &str, object: &Value) {
        let api_version = object["apiVersion"].as_str().unwrap_or("<none>");
        let kind = object["kind"].as_str().unwrap_or("<none>");
        let Some(validator) = SCHEMAS.kinds.get(&(api_version, kind)) else {
            return self.errors.push(format!(
                "{path}: no schema for apiVersion `{api_version}`, kind `{kind}`"
            ));
        };
        let before = self.errors.len();
        for error in validator.iter_errors(object) {
            self.errors.push(format!(
                "{path}: {kind} at `{}`: {error}",
                error.instance_path()
            ));
        }
        // The built-in schemas require neither a name nor, for namespaced
        // kinds, a namespace; the API server does.
        let metadata = &object["metadata"];
        if metadata["name"].as_str().is_none_or(str::is_empty) {
            self.errors
                .push(format!("{path}: {kind} without metadata.name"));
        }
        let namespace = metadata["namespace"].as_str();
        match (kind, namespace) {
            ("Namespace", Some(_)) => self
                .errors
                .push(format!("{path}: a Namespace is not namespaced")),
            ("Namespace" | "ClusterRole" | "ClusterRoleBinding", None) => {}
            ("ClusterRole" | "ClusterRoleBinding", Some(_)) => self
                .errors
                .push(format!("{path}: a {kind} is not namespaced")),
            (_, None | Some("")) => self
                .errors
                .push(format!("{path}: {kind} without metadata.namespace")),
            _ => {}
        }
        if metadata["annotations"]
            .get(emit::SOURCE_ANNOTATION)
            .is_some()
        {
            self.provenance_annotations += 1;
        }
        if kind == "PrometheusRule" {
            self.check_rule_groups(path, &object["spec"]);
        }
        if self.errors.len() == before {
            *self.kinds.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// A kustomization is not an object for the API server: it must list
    /// files that the build wrote.
    fn check_kustomization(&mut self, tree: &Tree, path: &str, document: &Value) {
        if document["apiVersion"] != "kustomize.config.k8s.io/v1beta1"
            || document["kind"] != "Kustomization"
        {
            self.errors.push(format!(
                "{path}: not a kustomize.config.k8s.io/v1beta1 Kustomization"
            ));
        }
        self.unknown_fields(
            path,
            document,
            &[
                "apiVersion",
                "kind",
                "resources",
                "configMapGenerator",
                "generatorOptions",
            ],
        );
        let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
        for resource in document["resources"].as_array().into_iter().flatten() {
            let target = format!("{folder}/{}", resource.as_str().unwrap_or("<not a string>"));
            // A file, or a folder with a kustomization of its own.
            if !tree.files.contains_key(&target)
                && !tree
                    .files
                    .contains_key(&format!("{target}/kustomization.yaml"))
            {
                self.errors
                    .push(format!("{path}: resource `{resource}` is not in the build"));
            }
        }
        for generator in document["configMapGenerator"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let at = format!("{path}: configMapGenerator {}", generator["name"]);
            self.unknown_fields(&at, generator, &["name", "namespace", "files"]);
            let files = generator["files"].as_array().into_iter().flatten();
            for file in files {
                let target = format!("{folder}/{}", file.as_str().unwrap_or("<not a string>"));
                if !tree.files.contains_key(&target) {
                    self.errors
                        .push(format!("{at}: file `{file}` is not in the build"));
                }
            }
        }
    }

    /// A promtool test file: its fields, its rule files in the build,
    /// and each test's, as promtool 2.42 reads them (strictly).
    fn check_rule_tests(&mut self, tree: &Tree, path: &str, document: &Value) {
        self.unknown_fields(
            path,
            document,
            &["rule_files", "evaluation_interval", "tests"],
        );
        let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
        let rule_files = document["rule_files"].as_array().into_iter().flatten();
        for file in rule_files {
            let mut target: Vec<&str> = folder.split('/').collect();
            for part in file.as_str().unwrap_or("<not a string>").split('/') {
                match part {
                    ".." => {
                        target.pop();
                    }
                    part => target.push(part),
                }
            }
            if !tree.files.contains_key(&target.join("/")) {
                self.errors
                    .push(format!("{path}: rule file {file} is not in the build"));
            }
        }
        let Some(tests) = document["tests"].as_array() else {
            return self.errors.push(format!("{path}: no tests list"));
        };
        for test in tests {
            let at = format!("{path}: test {}", test["name"]);
            self.unknown_fields(
                &at,
                test,
                &[
                    "name",
                    "interval",
                    "input_series",
                    "alert_rule_test",
                    "promql_expr_test",
                    "external_labels",
                    "external_url",
                ],
            );
            for series in test["input_series"].as_array().into_iter().flatten() {
                self.unknown_fields(&at, series, &["series", "values"]);
            }
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                self.unknown_fields(&at, case, &["eval_time", "alertname", "exp_alerts"]);
                for alert in case["exp_alerts"].as_array().into_iter().flatten() {
                    self.unknown_fields(&at, alert, &["exp_labels", "exp_annotations"]);
                }
            }
            for case in test["promql_expr_test"].as_array().into_iter().flatten() {
                self.unknown_fields(&at, case, &["expr", "eval_time", "exp_samples"]);
                for sample in case["exp_samples"].as_array().into_iter().flatten() {
                    self.unknown_fields(&at, sample, &["labels", "value"]);
                }
            }
        }
    }

    /// A Prometheus configuration: every kubernetes_sd_configs entry and
    /// every relabel rule, wherever they stand.
    fn check_prometheus_config(&mut self, path: &str, node: &Value) {
        match node {
            Value::Object(map) => {
                for (key, value) in map {
                    if key == "kubernetes_sd_configs" {
                        self.check_kubernetes_sd_configs(path, value);
                    } else if key.ends_with("relabel_configs") {
                        self.check_relabel_configs(path, key, value);
                    } else {
                        self.check_prometheus_config(path, value);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.check_prometheus_config(path, item);
                }
            }
            _ => {}
        }
    }

    fn check_kubernetes_sd_configs(&mut self, path: &str, configs: &Value) {
        let Some(configs) = configs.as_array() else {
            return self
                .errors
                .push(format!("{path}: kubernetes_sd_configs is not a list"));
        };
        for config in configs {
            for error in SCHEMAS.kubernetes_sd.iter_errors(config) {
                self.errors.push(format!(
                    "{path}: kubernetes_sd_config at `{}`: {error}",
                    error.instance_path()
                ));
            }
            let roles = std::iter::once(&config["role"]).chain(
                config["selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|selector| &selector["role"]),
            );
            for role in roles {
                if !role.as_str().is_some_and(|role| SD_ROLES.contains(&role)) {
                    self.errors.push(format!(
                        "{path}: kubernetes_sd_config role {role} is not one of {SD_ROLES:?}"
                    ));
                }
            }
            self.sd_configs += 1;
        }
    }

    /// As Prometheus's relabel.Config validates a rule when it loads it.
    fn check_relabel_configs(&mut self, path: &str, key: &str, configs: &Value) {
        let Some(configs) = configs.as_array() else {
            return self.errors.push(format!("{path}: {key} is not a list"));
        };
        for (i, config) in configs.iter().enumerate() {
            let at = format!("{path}: {key}[{i}]");
            let Some(fields) = config.as_object() else {
                self.errors.push(format!("{at} is not a mapping"));
                continue;
            };
            for field in fields.keys() {
                if ![
                    "source_labels",
                    "separator",
                    "regex",
                    "modulus",
                    "target_label",
                    "replacement",
                    "action",
                ]
                .contains(&field.as_str())
                {
                    self.errors.push(format!("{at}: unknown field `{field}`"));
                }
            }
            let action = match &config["action"] {
                Value::Null => "replace".to_string(),
                Value::String(action) => action.to_lowercase(),
                other => {
                    self.errors
                        .push(format!("{at}: action {other} is not a string"));
                    continue;
                }
            };
            if !RELABEL_ACTIONS.contains(&action.as_str()) {
                self.errors.push(format!(
                    "{at}: `{action}` is not a Prometheus relabel action ({RELABEL_ACTIONS:?})"
                ));
            }
            match &config["regex"] {
                Value::Null => {}
                // Prometheus anchors the expression at both ends (RE2
                // syntax, close to the regex crate's).
                Value::String(regex) => {
                    if let Err(e) = Regex::new(&format!("^(?s:{regex})$")) {
                        self.errors
                            .push(format!("{at}: regex `{regex}` does not compile: {e}"));
                    }
                }
                other => self
                    .errors
                    .push(format!("{at}: regex {other} is not a string")),
            }
            for label in config["source_labels"].as_array().into_iter().flatten() {
                if !label.as_str().is_some_and(|l| LABEL_NAME.is_match(l)) {
                    self.errors
                        .push(format!("{at}: source label {label} is not a label name"));
                }
            }
            let target = config["target_label"].as_str().unwrap_or("");
            let needs_target = [
                "replace",
                "hashmod",
                "lowercase",
                "uppercase",
                "keepequal",
                "dropequal",
            ]
            .contains(&action.as_str());
            if needs_target && target.is_empty() {
                self.errors
                    .push(format!("{at}: action `{action}` needs a target_label"));
            }
            // `replace` may build the target name from `$1` references.
            let target_ok = target.is_empty()
                || LABEL_NAME.is_match(target)
                || (action == "replace" && target.contains('$'));
            if !target_ok {
                self.errors
                    .push(format!("{at}: target_label `{target}` is not a label name"));
            }
            if action == "hashmod" && config["modulus"].as_u64().is_none_or(|m| m == 0) {
                self.errors
                    .push(format!("{at}: hashmod needs a positive modulus"));
            }
            self.relabels += 1;
        }
    }

    fn check_rule_file(&mut self, path: &str, document: &Value) {
        if let Some(map) = document.as_object() {
            for key in map.keys().filter(|key| *key != "groups") {
                self.errors
                    .push(format!("{path}: unknown field `{key}` in a rule file"));
            }
        }
        self.check_rule_groups(path, document);
    }

    /// `groups:` of a Prometheus rule file (or of a PrometheusRule's spec),
    /// with the fields Prometheus 2.42 knows.
    fn check_rule_groups(&mut self, path: &str, document: &Value) {
        let Some(groups) = document["groups"].as_array().filter(|g| !g.is_empty()) else {
            return self.errors.push(format!("{path}: no rule groups"));
        };
        let mut names = BTreeSet::new();
        for group in groups {
            let name = group["name"].as_str().unwrap_or("");
            let at = format!("{path}: group `{name}`");
            if name.is_empty() || !names.insert(name) {
                self.errors
                    .push(format!("{at}: a group needs a name of its own"));
            }
            self.unknown_fields(&at, group, &["name", "interval", "limit", "rules"]);
            let Some(rules) = group["rules"].as_array() else {
                self.errors.push(format!("{at}: no rules list"));
                continue;
            };
            for rule in rules {
                self.check_rule(&at, rule);
            }
        }
    }

    fn check_rule(&mut self, at: &str, rule: &Value) {
        let name = match (rule["alert"].as_str(), rule["record"].as_str()) {
            (Some(alert), None) if !alert.is_empty() => alert,
            (None, Some(record)) if METRIC_NAME.is_match(record) => record,
            _ => {
                return self.errors.push(format!(
                    "{at}: a rule needs either an alert name or a valid record name: {rule}"
                ));
            }
        };
        let at = format!("{at}, rule `{name}`");
        self.unknown_fields(
            &at,
            rule,
            &[
                "alert",
                "record",
                "expr",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
            ],
        );
        match rule["expr"].as_str() {
            Some(expr) => {
                if let Err(e) = promql_parser::parser::parse(expr) {
                    self.errors
                        .push(format!("{at}: expr `{expr}` is not PromQL: {e}"));
                }
            }
            None => self.errors.push(format!("{at}: no expr")),
        }
        for key in ["for", "keep_firing_for"] {
            match &rule[key] {
                Value::Null => {}
                Value::String(d) if !d.is_empty() && DURATION.is_match(d) => {}
                other => self
                    .errors
                    .push(format!("{at}: {key} {other} is not a Prometheus duration")),
            }
        }
        for key in ["labels", "annotations"] {
            match &rule[key] {
                Value::Null => {}
                Value::Object(map) => {
                    for (label, value) in map {
                        if !LABEL_NAME.is_match(label) || !value.is_string() {
                            self.errors
                                .push(format!("{at}: {key} entry `{label}: {value}`"));
                        }
                    }
                }
                other => self
                    .errors
                    .push(format!("{at}: {key} {other} is not a mapping")),
            }
        }
        self.rules += 1;
    }

    /// The fields of Alertmanager 0.25's configuration envk writes, each
    /// secret a file by its absolute path, and every receiver a route
    /// names declared once. (`amtool check-config` checks the rest in CI.)
    fn check_alertmanager_config(&mut self, path: &str, config: &Value) {
        self.unknown_fields(path, config, &["route", "receivers"]);
        let mut names = BTreeSet::new();
        for receiver in config["receivers"].as_array().into_iter().flatten() {
            let name = receiver["name"].as_str().unwrap_or("");
            let at = format!("{path}: receiver {name:?}");
            if name.is_empty() || !names.insert(name.to_string()) {
                self.errors
                    .push(format!("{at}: no name, or one given twice"));
            }
            self.unknown_fields(
                &at,
                receiver,
                &[
                    "name",
                    "pagerduty_configs",
                    "slack_configs",
                    "email_configs",
                    "webhook_configs",
                ],
            );
            let integrations: [(&str, &[&str], &[&str]); 4] = [
                (
                    "pagerduty_configs",
                    &["routing_key_file", "send_resolved"],
                    &["routing_key_file"],
                ),
                (
                    "slack_configs",
                    &["api_url_file", "channel", "send_resolved"],
                    &["api_url_file"],
                ),
                (
                    "email_configs",
                    &[
                        "to",
                        "from",
                        "smarthost",
                        "auth_username",
                        "auth_password_file",
                        "require_tls",
                        "send_resolved",
                    ],
                    &["to", "from", "smarthost"],
                ),
                (
                    "webhook_configs",
                    &["url", "http_config", "send_resolved"],
                    &["url"],
                ),
            ];
            for (list, known, required) in integrations {
                for config in receiver[list].as_array().into_iter().flatten() {
                    let at = format!("{at}: {list}");
                    self.unknown_fields(&at, config, known);
                    for field in required {
                        if !config[field].is_string() {
                            self.errors.push(format!("{at}: no `{field}`"));
                        }
                    }
                    let http = &config["http_config"];
                    if !http.is_null() {
                        self.unknown_fields(&at, http, &["authorization"]);
                        self.unknown_fields(&at, &http["authorization"], &["credentials_file"]);
                    }
                    let files = known
                        .iter()
                        .filter(|field| field.ends_with("_file"))
                        .map(|field| &config[*field])
                        .chain([&http["authorization"]["credentials_file"]]);
                    for file in files.filter(|file| !file.is_null()) {
                        if !file.as_str().is_some_and(|file| file.starts_with('/')) {
                            self.errors
                                .push(format!("{at}: secret file {file} is not an absolute path"));
                        }
                    }
                }
            }
        }
        let route = &config["route"];
        self.unknown_fields(path, route, &["receiver", "group_by", "routes"]);
        if route["group_by"] != json!(["alertname", "namespace"]) {
            self.errors
                .push(format!("{path}: route groups by {}", route["group_by"]));
        }
        let matcher = Regex::new(r#"^(team|severity)="(?:[^"\\\n]|\\[\\"n])+"$"#).expect("a regex");
        let children = route["routes"].as_array().into_iter().flatten();
        for route in std::iter::once(route).chain(children) {
            let receiver = route["receiver"].as_str().unwrap_or("");
            if !names.contains(receiver) {
                self.errors.push(format!(
                    "{path}: a route to {receiver:?}, which is no receiver"
                ));
            }
            for item in route["matchers"].as_array().into_iter().flatten() {
                if !item.as_str().is_some_and(|item| matcher.is_match(item)) {
                    self.errors.push(format!(
                        "{path}: matcher {item} is not `team=\"…\"` or `severity=\"…\"`"
                    ));
                }
            }
        }
    }

    fn unknown_fields(&mut self, at: &str, value: &Value, known: &[&str]) {
        match value.as_object() {
            Some(map) => {
                for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
                    self.errors.push(format!("{at}: unknown field `{key}`"));
                }
            }
            None => self.errors.push(format!("{at}: not a mapping")),
        }
    }
}

/// Plain scalars that YAML 1.1 (go-yaml v2 in kubectl, Argo CD and
/// Prometheus; PyYAML) resolves to a bool, number, null, timestamp, merge
/// or value key (union of go-yaml v2's and PyYAML's resolvers). Written
/// here again on purpose, rather than taken from `src/emit/yaml11.rs`: this
/// check must not share a mistake with the code it checks.
static YAML_1_1_NOT_STRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "^(?:",
        "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        "|~|null|Null|NULL|<<|=",
        "|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*)?",
        ")$"
    ))
    .unwrap()
});

/// ... and the plain scalars YAML 1.2 (serde_yaml) resolves to something
/// else than a string: the two must agree on every plain scalar.
static YAML_1_2_NOT_STRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "^(?:true|True|TRUE|false|False|FALSE|~|null|Null|NULL",
        "|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
        r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        ")$"
    ))
    .unwrap()
});

/// The unquoted scalars of YAML text as serde_yaml writes it (block style,
/// one scalar per key or list item), where YAML 1.1 and 1.2 disagree:
/// `labels: {flag: yes}` is the string "yes" to serde_yaml and the boolean
/// true to kubectl, which then stores the label "true" or rejects it.
fn yaml_1_1_ambiguities(content: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut block_indent: Option<usize> = None;
    for (number, line) in content.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        match block_indent {
            Some(block) if indent > block || line.trim().is_empty() => continue,
            _ => block_indent = None,
        }
        let mut rest = line.trim_start();
        while let Some(item) = rest.strip_prefix("- ") {
            rest = item.trim_start();
        }
        if rest.starts_with('#') || rest == "-" || rest == "---" {
            continue;
        }
        // A key, quoted or not, then its value; or a list item's scalar.
        let (key, value) = match rest.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let end = quoted_end(rest, quote);
                match rest[end..].strip_prefix(':') {
                    Some(value) => (None, value.trim_start()),
                    None => continue,
                }
            }
            _ => match rest.split_once(": ") {
                Some((key, value)) => (Some(key), value),
                None => match rest.strip_suffix(':') {
                    Some(key) => (Some(key), ""),
                    None => (None, rest),
                },
            },
        };
        if value.starts_with(['|', '>']) {
            block_indent = Some(indent);
        }
        for scalar in key.into_iter().chain(Some(value)) {
            if scalar.is_empty()
                || scalar.starts_with(['\'', '"', '|', '>', '{', '[', '&', '*', '!'])
            {
                continue;
            }
            if YAML_1_1_NOT_STRING.is_match(scalar) != YAML_1_2_NOT_STRING.is_match(scalar) {
                problems.push(format!(
                    "line {}: unquoted `{scalar}` is a string to YAML 1.2 but not to YAML 1.1 readers (kubectl, Argo CD, Prometheus)",
                    number + 1
                ));
            }
        }
    }
    problems
}

/// The byte offset just past the quoted scalar at the start of `text`.
fn quoted_end(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, next)| next == '\'') {
                chars.next();
            } else {
                return i + 1;
            }
        }
    }
    text.len()
}

#[test]
fn every_emitted_file_matches_its_format() {
    let mut total = Report::default();
    type Key<'p> = (&'p str, bool, ArgoCd);
    let mut tree_kinds: BTreeMap<Key, BTreeMap<String, usize>> = BTreeMap::new();
    for program in EXAMPLES {
        for (provenance, layout, argocd) in [
            (false, Layout::Tree, ArgoCd::Applications),
            (true, Layout::Tree, ArgoCd::Applications),
            (false, Layout::Stream, ArgoCd::Applications),
            (true, Layout::Stream, ArgoCd::Applications),
            (true, Layout::Tree, ArgoCd::ApplicationSets),
            (true, Layout::Stream, ArgoCd::ApplicationSets),
        ] {
            let tree = build_in(program, provenance, layout, argocd);
            let mut report = Report::default();
            report.check_tree(&tree);
            let label =
                format!("{program} (provenance {provenance}, {layout:?} layout, {argocd:?})");
            for error in report.errors {
                total.errors.push(format!("{label}: {error}"));
            }
            assert_eq!(
                report.provenance_annotations > 0,
                provenance,
                "{label}: objects carry `{}` exactly when provenance is on",
                emit::SOURCE_ANNOTATION
            );
            match layout {
                Layout::Tree => {
                    tree_kinds.insert((program, provenance, argocd), report.kinds.clone());
                }
                Layout::Stream => assert_eq!(
                    Some(&report.kinds),
                    tree_kinds.get(&(program, provenance, argocd)),
                    "{label}: the stream layout holds the objects of the tree layout"
                ),
            }
            for (kind, n) in report.kinds {
                *total.kinds.entry(kind).or_default() += n;
            }
            total.sd_configs += report.sd_configs;
            total.relabels += report.relabels;
            total.rules += report.rules;
        }
    }
    assert!(
        total.errors.is_empty(),
        "{} problem(s) in emitted files:\n{}",
        total.errors.len(),
        total.errors.join("\n")
    );
    for &(_, kind, _) in KINDS {
        assert!(
            total.kinds.get(kind).is_some_and(|&n| n > 0),
            "no {kind} was validated: {:?}",
            total.kinds
        );
    }
    println!(
        "validated {:?}; {} kubernetes_sd_configs, {} relabel rules, {} alerting rules",
        total.kinds, total.sd_configs, total.relabels, total.rules
    );
    assert!(total.sd_configs > 0, "no kubernetes_sd_config was checked");
    assert!(total.relabels > 0, "no relabel rule was checked");
    assert!(total.rules > 0, "no alerting rule was checked");
}

/// The Kubernetes object of `kind` in the enterprise build, and its path.
fn emitted(kind: &str) -> (String, Value) {
    let tree = build(EXAMPLES[0], true);
    tree.files
        .iter()
        .filter(|(path, _)| matches!(file_kind(path), Some(FileKind::Objects)))
        .flat_map(|(path, content)| {
            documents(path, &content.text())
                .expect("emitted YAML parses")
                .into_iter()
                .map(move |object| (path.clone(), object))
        })
        .find(|(_, object)| object["kind"] == kind)
        .unwrap_or_else(|| panic!("the enterprise example emits a {kind}"))
}

/// Checks one object that is expected to be wrong; returns the errors.
fn errors_of_object(path: &str, object: &Value) -> Vec<String> {
    let mut report = Report::default();
    report.check_object(path, object);
    report.errors
}

#[test]
fn the_schemas_reject_unknown_and_mistyped_fields() {
    for (kind, pointer, field, value) in [
        ("Namespace", "", "spec2", json!({})),
        ("Namespace", "/metadata", "label", json!({"a": "b"})),
        ("ResourceQuota", "/spec", "limits", json!({"cpu": "1"})),
        (
            "LimitRange",
            "/spec/limits/0",
            "maximum",
            json!({"cpu": "1"}),
        ),
        ("Role", "/rules/0", "resource", json!(["pods"])),
        ("RoleBinding", "/roleRef", "namespace", json!("x")),
        ("NetworkPolicy", "/spec", "podSelectors", json!({})),
        (
            "PrometheusRule",
            "/spec/groups/0/rules/0",
            "severity",
            json!("page"),
        ),
        ("Application", "/spec/source", "branch", json!("main")),
        ("AppProject", "/spec", "destination", json!([])),
    ] {
        let (path, mut object) = emitted(kind);
        assert!(
            errors_of_object(&path, &object).is_empty(),
            "{path} is valid as emitted"
        );
        object
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{path} has a mapping at `{pointer}`"))
            .insert(field.to_string(), value);
        let errors = errors_of_object(&path, &object);
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{kind} with an extra `{field}` at `{pointer}` must fail, got {errors:?}"
        );
    }

    // A wrong type, a name-less object, a namespaced kind without namespace.
    let (path, mut quota) = emitted("ResourceQuota");
    quota["spec"]["hard"] = json!(["cpu"]);
    assert!(!errors_of_object(&path, &quota).is_empty());
    let (path, mut role) = emitted("Role");
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    assert!(!errors_of_object(&path, &role).is_empty());
    let (path, mut namespace) = emitted("Namespace");
    namespace["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(!errors_of_object(&path, &namespace).is_empty());
}

#[test]
fn objects_of_unknown_kinds_and_files_of_unknown_kinds_fail() {
    let (path, mut object) = emitted("Namespace");
    object["apiVersion"] = json!("v2");
    assert!(
        errors_of_object(&path, &object)
            .iter()
            .any(|e| e.contains("no schema"))
    );
    let (path, mut object) = emitted("Role");
    object["kind"] = json!("Deployment");
    assert!(
        errors_of_object(&path, &object)
            .iter()
            .any(|e| e.contains("no schema"))
    );

    let mut tree = Tree::default();
    tree.files
        .insert("dev/notes.txt".to_string(), "hello".into());
    tree.files.insert(
        "dev/namespaces/x/deployment.yaml".to_string(),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: x\n".into(),
    );
    let mut report = Report::default();
    report.check_tree(&tree);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
}

#[test]
fn prometheus_checks_catch_broken_configs_and_rules() {
    let config = |scrape: Value| json!({"global": {}, "scrape_configs": [scrape]});
    let cases = [
        (
            config(json!({"job_name": "a", "kubernetes_sd_configs": [{"role": "nodes"}]})),
            "role",
        ),
        (
            config(
                json!({"job_name": "a", "kubernetes_sd_configs": [{"role": "pod", "namespace": "x"}]}),
            ),
            "namespace",
        ),
        (
            config(
                json!({"job_name": "a", "relabel_configs": [{"action": "keeep", "regex": "true"}]}),
            ),
            "keeep",
        ),
        (
            config(
                json!({"job_name": "a", "relabel_configs": [{"action": "keep", "regex": "(true"}]}),
            ),
            "does not compile",
        ),
        (
            config(
                json!({"job_name": "a", "relabel_configs": [{"source_labels": ["__address__"], "regex": "(.*)"}]}),
            ),
            "target_label",
        ),
        (
            config(
                json!({"job_name": "a", "metric_relabel_configs": [{"action": "hashmod", "target_label": "t"}]}),
            ),
            "modulus",
        ),
        (
            config(
                json!({"job_name": "a", "relabel_configs": [{"action": "drop", "regexp": "x"}]}),
            ),
            "regexp",
        ),
    ];
    for (document, expected) in cases {
        let mut report = Report::default();
        report.check_prometheus_config("prometheus.yaml", &document);
        assert!(
            report.errors.iter().any(|e| e.contains(expected)),
            "{document} must fail with `{expected}`, got {:?}",
            report.errors
        );
    }

    let rules = |rule: Value| json!({"groups": [{"name": "g", "rules": [rule]}]});
    let cases = [
        (
            rules(json!({"alert": "A", "expr": "rate(x[5m] > 0"})),
            "not PromQL",
        ),
        (
            rules(json!({"alert": "A", "expr": "up", "for": "15 minutes"})),
            "duration",
        ),
        (
            rules(json!({"alert": "A", "expr": "up", "severity": "page"})),
            "severity",
        ),
        (rules(json!({"expr": "up"})), "alert name"),
        (
            rules(json!({"alert": "A", "expr": "up", "labels": {"a-b": "c"}})),
            "a-b",
        ),
        (json!({"groups": []}), "no rule groups"),
    ];
    for (document, expected) in cases {
        let mut report = Report::default();
        report.check_rule_file("x.rules.yaml", &document);
        assert!(
            report.errors.iter().any(|e| e.contains(expected)),
            "{document} must fail with `{expected}`, got {:?}",
            report.errors
        );
    }
}

#[test]
fn alertmanager_checks_catch_broken_configs() {
    let good = json!({
        "route": {"receiver": "a", "group_by": ["alertname", "namespace"],
                  "routes": [{"receiver": "a", "matchers": ["team=\"x\""]}]},
        "receivers": [{"name": "a", "pagerduty_configs": [{"routing_key_file": "/k"}]}],
    });
    let mut report = Report::default();
    report.check_alertmanager_config("alertmanager.yaml", &good);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let broken = |pointer: &str, value: Value| {
        let mut config = good.clone();
        *config.pointer_mut(pointer).expect("in the good config") = value;
        config
    };
    let cases = [
        (broken("/route/receiver", json!("b")), "no receiver"),
        (
            broken("/route/routes/0/matchers/0", json!("tier=\"x\"")),
            "matcher",
        ),
        (
            broken(
                "/receivers/0/pagerduty_configs/0",
                json!({"routing_key": "k"}),
            ),
            "routing_key",
        ),
        (
            broken(
                "/receivers/0/pagerduty_configs/0/routing_key_file",
                json!("k"),
            ),
            "absolute",
        ),
        (broken("/route/group_by", json!(["alertname"])), "groups by"),
    ];
    for (document, expected) in cases {
        let mut report = Report::default();
        report.check_alertmanager_config("alertmanager.yaml", &document);
        assert!(
            report.errors.iter().any(|e| e.contains(expected)),
            "{document} must fail with `{expected}`, got {:?}",
            report.errors
        );
    }
}

/// `amtool check-config` (Alertmanager 0.25, Debian bookworm's) on every
/// `alertmanager.yaml` of the examples; CI installs it and fails without.
#[test]
fn amtool_accepts_every_alertmanager_config() {
    let Some(amtool) = tools::required("amtool") else {
        return;
    };
    let folder = std::env::temp_dir().join(format!("envk-amtool-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    let mut checked = 0;
    for example in EXAMPLES {
        let tree = build(example, false);
        for (path, content) in &tree.files {
            if file_kind(path).is_some_and(|kind| matches!(kind, FileKind::AlertmanagerConfig)) {
                let file = folder.join("alertmanager.yaml");
                std::fs::write(&file, content.text().as_bytes()).expect("writable");
                let output = std::process::Command::new(&amtool)
                    .arg("check-config")
                    .arg(&file)
                    .output()
                    .expect("amtool runs");
                assert!(
                    output.status.success(),
                    "{example}: {path}: {}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                checked += 1;
            }
        }
    }
    std::fs::remove_dir_all(&folder).ok();
    assert!(checked >= 6, "only {checked} Alertmanager configurations");
}

#[test]
fn scalars_that_yaml_1_1_reads_differently_are_caught() {
    // What the emitters do: serde_yaml, which quotes only what YAML 1.2
    // would misread.
    let (path, mut namespace) = emitted("Namespace");
    namespace["metadata"]["labels"]["flag"] = json!("yes");
    namespace["metadata"]["annotations"]["example.com/size"] = json!("1_000");
    namespace["metadata"]["annotations"]["example.com/day"] = json!("2024-01-01");
    let text = serde_yaml::to_string(&namespace).unwrap();
    let problems = yaml_1_1_ambiguities(&text);
    for scalar in ["`yes`", "`1_000`", "`2024-01-01`"] {
        assert!(
            problems.iter().any(|p| p.contains(scalar)),
            "{scalar} in {path} must be caught:\n{text}\n{problems:?}"
        );
    }
    assert_eq!(problems.len(), 3, "{problems:?}");

    let quoted = "a:\n  'on': 'yes'\n  \"off\": \"n\"\n  b: |-\n    x: yes\n    - on\n  c: true\n  d: 53\n  e: 15s\n";
    assert_eq!(yaml_1_1_ambiguities(quoted), Vec::<String>::new());
    assert_eq!(yaml_1_1_ambiguities("- on\n- 'x': off\n").len(), 2);
}
