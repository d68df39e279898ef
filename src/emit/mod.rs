//! The emit stage: the checked Model to the files `build` writes, in memory.
//!
//! Entry point: [`emit`]. One file per output family: `kubernetes`
//! (namespaced objects and the per-cluster kustomization), `prometheus`
//! (scrape config, rule files, PrometheusRules, federation), `argocd`
//! (Applications and AppProjects), `docs` (a README per cluster, with tera).
//!
//! Invariants: emitters read only the Model and never report user errors
//! (everything that can be wrong was caught by `check`); built-in
//! Kubernetes kinds are `k8s-openapi` structs and everything else our own
//! serde structs, serialized with serde_yaml, never YAML assembled as text;
//! the result depends only on the Model, and the Model's maps are ordered,
//! so the same program always gives the same bytes.

mod argocd;
mod docs;
mod kubernetes;
mod prometheus;
pub mod yaml;
mod yaml11;

use std::collections::BTreeMap;

use crate::model::{Cluster, Env, Model, Source};

/// What `build` writes: relative path (with `/`) → content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, String>,
}

impl Tree {
    fn add(&mut self, path: String, content: String) {
        let previous = self.files.insert(path, content);
        debug_assert!(previous.is_none(), "two objects were given one path");
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Annotate every object with `envk.dev/source: FILE:LINE`.
    pub provenance: bool,
    pub layout: Layout,
}

/// How objects are spread over files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// One file per object (DESIGN §4).
    #[default]
    Tree,
    /// Per cluster, one multi-document file per group of objects.
    Stream,
}

/// The annotation that names the declaration an object came from.
pub const SOURCE_ANNOTATION: &str = "envk.dev/source";

/// Everything one env contributes, serialized.
struct EnvDocuments<'m> {
    env: &'m Env,
    objects: Vec<(String, String)>,
    rules: Option<prometheus::EnvRules>,
    application: Option<String>,
}

/// Emits every file of the build.
///
/// Serializing is most of the work and each env's documents depend on that
/// env alone, so envs are serialized on every core; the files are then put
/// together in order, so the bytes do not depend on the threads.
pub fn emit(model: &Model, options: Options) -> Tree {
    let envs: Vec<&Env> = model.envs.values().collect();
    // The READMEs need only the Model: they are rendered meanwhile.
    let (documents, readmes) = std::thread::scope(|scope| {
        let readmes = scope.spawn(|| {
            model
                .clusters
                .values()
                .map(|cluster| docs::cluster_readme(model, cluster))
                .collect::<Vec<String>>()
        });
        let documents = crate::parallel::map(&envs, |env| EnvDocuments {
            env,
            objects: kubernetes::env_objects(model, env, options),
            rules: prometheus::env_rules(env, options),
            application: argocd::application(model, env, options),
        });
        (
            documents,
            readmes.join().expect("the README thread panicked"),
        )
    });
    let mut by_cluster: BTreeMap<&str, Vec<EnvDocuments>> = BTreeMap::new();
    for env in documents {
        by_cluster.entry(&env.env.cluster).or_default().push(env);
    }
    let mut tree = Tree::default();
    for (cluster, readme) in model.clusters.values().zip(readmes) {
        let envs = by_cluster.remove(cluster.name.as_str()).unwrap_or_default();
        match options.layout {
            Layout::Tree => tree_cluster(cluster, envs, &mut tree),
            Layout::Stream => stream_cluster(cluster, envs, &mut tree),
        }
        tree.add(format!("{}/README.md", cluster.name), readme);
    }
    let projects = argocd::projects(model);
    match options.layout {
        Layout::Tree => {
            for (name, document) in projects {
                tree.add(format!("argocd/projects/{name}.yaml"), document);
            }
        }
        Layout::Stream => {
            if !projects.is_empty() {
                let documents = projects.iter().map(|(_, document)| document.as_str());
                tree.add("argocd/projects.yaml".to_string(), stream(documents));
            }
        }
    }
    tree.add(
        "global/prometheus-federation.yaml".to_string(),
        prometheus::federation(model),
    );
    tree
}

/// DESIGN §4: one file per object.
fn tree_cluster(cluster: &Cluster, envs: Vec<EnvDocuments>, tree: &mut Tree) {
    let mut resources = Vec::new();
    let mut has_rules = false;
    for documents in envs {
        let env = documents.env;
        for (file, document) in documents.objects {
            let path = format!("namespaces/{}/{file}", env.name);
            tree.add(format!("{}/{path}", cluster.name), document);
            resources.push(path);
        }
        if let Some(rules) = documents.rules {
            has_rules = true;
            tree.add(
                format!("{}/monitoring/rules/{}.rules.yaml", cluster.name, env.name),
                rules.rule_file,
            );
            let path = format!("monitoring/prometheusrules/{}.yaml", env.name);
            tree.add(format!("{}/{path}", cluster.name), rules.prometheus_rule);
            resources.push(path);
        }
        if let Some(application) = documents.application {
            tree.add(
                format!("argocd/applications/{}.yaml", env.name),
                application,
            );
        }
    }
    tree.add(
        format!("{}/monitoring/prometheus.yaml", cluster.name),
        prometheus::cluster_config(cluster, has_rules.then_some("rules/*.rules.yaml")),
    );
    tree.add(
        format!("{}/kustomization.yaml", cluster.name),
        kubernetes::kustomization(resources),
    );
}

/// Per cluster, one multi-document file per group: `namespaces.yaml`
/// (every namespaced object), `monitoring/prometheusrules.yaml`,
/// `argocd.yaml` (the Applications deploying to it), and one rule file
/// with every env's group.
fn stream_cluster(cluster: &Cluster, envs: Vec<EnvDocuments>, tree: &mut Tree) {
    let name = &cluster.name;
    let objects = envs.iter().flat_map(|documents| {
        documents
            .objects
            .iter()
            .map(|(_, document)| document.as_str())
    });
    let mut resources = Vec::new();
    if envs.iter().any(|documents| !documents.objects.is_empty()) {
        tree.add(format!("{name}/namespaces.yaml"), stream(objects));
        resources.push("namespaces.yaml".to_string());
    }
    let rules: Vec<&prometheus::EnvRules> = envs
        .iter()
        .filter_map(|documents| documents.rules.as_ref())
        .collect();
    if !rules.is_empty() {
        let mut rule_file = prometheus::RULE_FILE_HEAD.to_string();
        rule_file.extend(rules.iter().map(|rules| rules.group_item()));
        tree.add(format!("{name}/monitoring/rules.yaml"), rule_file);
        let path = "monitoring/prometheusrules.yaml";
        tree.add(
            format!("{name}/{path}"),
            stream(rules.iter().map(|rules| rules.prometheus_rule.as_str())),
        );
        resources.push(path.to_string());
    }
    let applications: Vec<&str> = envs
        .iter()
        .filter_map(|documents| documents.application.as_deref())
        .collect();
    if !applications.is_empty() {
        tree.add(format!("{name}/argocd.yaml"), stream(applications));
    }
    tree.add(
        format!("{name}/monitoring/prometheus.yaml"),
        prometheus::cluster_config(cluster, (!rules.is_empty()).then_some("rules.yaml")),
    );
    tree.add(
        format!("{name}/kustomization.yaml"),
        kubernetes::kustomization(resources),
    );
}

/// Documents joined into one YAML stream.
fn stream<'d>(documents: impl IntoIterator<Item = &'d str> + Clone) -> String {
    let size: usize = documents.clone().into_iter().map(|d| d.len() + 4).sum();
    let mut text = String::with_capacity(size);
    for document in documents {
        if !text.is_empty() {
            text.push_str("---\n");
        }
        text.push_str(document);
    }
    text
}

/// Serializes one document, readable alike by YAML 1.2 and 1.1 readers.
/// Serialization of plain structs cannot fail; a failure is a bug, not a
/// user error.
fn yaml<T: serde::Serialize>(value: &T) -> String {
    // Most documents are a few hundred bytes: one allocation, not five.
    let mut text = String::with_capacity(1024);
    match yaml::to_string_into(value, &mut text) {
        Ok(()) => text,
        Err(_) => slow_yaml(value),
    }
}

/// serde_yaml, then the YAML 1.1 pass: the reference the fast serializer
/// reproduces, and its fallback.
pub fn slow_yaml<T: serde::Serialize>(value: &T) -> String {
    let text = serde_yaml::to_string(value).expect("plain data always serializes to YAML");
    yaml11::quote_for_yaml_1_1(text)
}

/// The annotations of an object: the user's, plus its source when asked.
fn annotations(
    base: &BTreeMap<String, String>,
    source: &Source,
    options: Options,
) -> Option<BTreeMap<String, String>> {
    let mut annotations = base.clone();
    if options.provenance {
        annotations.insert(SOURCE_ANNOTATION.to_string(), source.to_string());
    }
    (!annotations.is_empty()).then_some(annotations)
}
