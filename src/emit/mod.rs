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
mod yaml11;

use std::collections::BTreeMap;

use crate::model::{Model, Source};

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
}

/// The annotation that names the declaration an object came from.
pub const SOURCE_ANNOTATION: &str = "envk.dev/source";

/// Emits every file of the build.
pub fn emit(model: &Model, options: Options) -> Tree {
    let mut tree = Tree::default();
    for cluster in model.clusters.values() {
        let mut kubernetes_files = Vec::new();
        for env in model
            .envs
            .values()
            .filter(|env| env.cluster == cluster.name)
        {
            kubernetes_files.extend(kubernetes::env_objects(model, env, options, &mut tree));
            kubernetes_files.extend(prometheus::env_rules(env, options, &mut tree));
        }
        prometheus::cluster_config(model, cluster, &mut tree);
        kubernetes::kustomization(cluster, kubernetes_files, &mut tree);
        docs::cluster_readme(model, cluster, &mut tree);
    }
    argocd::emit(model, options, &mut tree);
    prometheus::federation(model, &mut tree);
    tree
}

/// Serializes one document, readable alike by YAML 1.2 and 1.1 readers.
/// Serialization of plain structs cannot fail; a failure is a bug, not a
/// user error.
fn yaml<T: serde::Serialize>(value: &T) -> String {
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
