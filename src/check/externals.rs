//! Externals: the namespaces envk does not manage (an ingress controller's,
//! Prometheus', Argo CD's) that network rules may name (E02xx, E06xx).
//!
//! Each `external NAME on [CLUSTERS] { namespace = …  environment = … }`
//! becomes one `model::External` per cluster it lists: rules on that
//! cluster select its namespace by name, and it counts as a member of its
//! environment (by default, each cluster's) for the `accept from` of the
//! envs it sends traffic to (`network`). Owns: typing the declaration,
//! and its namespace against the envs of its clusters (one namespace is
//! one thing to a NetworkPolicy: E0202).

use std::collections::HashMap;
use std::sync::Arc;

use super::Checker;
use super::schema::{self, Typed};
use super::units::Diags;
use crate::diag::{Code, Diagnostic};
use crate::model;
use crate::source::Span;

/// An external as checked: its namespace on each of its clusters.
pub(crate) struct ExternalFacts {
    /// By cluster name, in the order the clusters are listed.
    pub instances: Vec<Arc<model::External>>,
    /// Where the namespace is written (the name, when it is the default).
    pub namespace_span: Span,
    /// Where each cluster is listed, in `instances`' order.
    pub cluster_spans: Vec<Span>,
}

impl ExternalFacts {
    /// The external's namespace on `cluster`, if it is declared there.
    pub fn on(&self, cluster: &str) -> Option<&Arc<model::External>> {
        self.instances
            .iter()
            .find(|external| external.cluster == cluster)
    }

    pub fn cluster_names(&self) -> Vec<&str> {
        self.instances
            .iter()
            .map(|external| external.cluster.as_str())
            .collect()
    }
}

impl Checker<'_, '_> {
    /// Types every external, after the clusters it names.
    pub(super) fn externals(&mut self, diagnostics: &mut Diags) {
        for decl in self.resolved.externals.iter() {
            let scope = self.scope(&decl.vars);
            let (mut namespace, mut namespace_span, mut environment) =
                (decl.name.clone(), decl.name_span, None);
            if let Some(body) = &decl.node.body {
                let read =
                    self.read_declaration(schema::EXTERNAL, "external", decl, body, diagnostics);
                if let Some(Typed::Text(text)) = read.get("namespace") {
                    namespace = text.clone();
                    namespace_span = read.span("namespace").unwrap_or(decl.name_span);
                }
                if let Some(Typed::Environment(written)) = read.get("environment") {
                    environment = Some(*written);
                }
            }
            let mut instances: Vec<Arc<model::External>> = Vec::new();
            let mut cluster_spans = Vec::new();
            let mut listed: HashMap<String, Span> = HashMap::new();
            for name in &decl.node.clusters.names {
                // A cluster with errors of its own is reported there.
                let Some((cluster_decl, cluster)) = self.listed_cluster(name, &scope, diagnostics)
                else {
                    continue;
                };
                if let Some(first) = listed.insert(cluster_decl.name.clone(), name.span()) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0202,
                            name.span(),
                            format!(
                                "cluster `{}` is listed twice for external `{}`",
                                cluster_decl.name, decl.name
                            ),
                        )
                        .label("listed again here")
                        .secondary(first, "first listed here")
                        .help("list each cluster once"),
                    );
                    continue;
                }
                instances.push(Arc::new(model::External {
                    name: decl.name.clone(),
                    namespace: namespace.clone(),
                    cluster: cluster.model.name.clone(),
                    environment: environment.unwrap_or(cluster.model.environment),
                    source: self.source(decl.name_span),
                }));
                cluster_spans.push(name.span());
            }
            self.model.externals.extend(instances.iter().cloned());
            self.external_facts.insert(
                decl.id,
                ExternalFacts {
                    instances,
                    namespace_span,
                    cluster_spans,
                },
            );
        }
        // Declaration order is no order: each name's, then each cluster's.
        self.model
            .externals
            .sort_by(|a, b| (&a.name, &a.cluster).cmp(&(&b.name, &b.cluster)));
    }

    /// One namespace of a cluster is one thing to a NetworkPolicy: an
    /// external's may be no env's and no other external's, and the
    /// cluster's Prometheus, which reaches every env's metrics ports
    /// whatever its tier accepts, runs in no env (E0202).
    pub(super) fn unmanaged_namespaces(&self, diagnostics: &mut Diags) {
        let prometheus: Vec<&super::ClusterFacts> = self
            .resolved
            .clusters
            .iter()
            .filter_map(|decl| self.cluster_facts.get(decl.id))
            .filter(|cluster| cluster.model.prometheus.namespace.is_some())
            .collect();
        if self.resolved.externals.is_empty() && prometheus.is_empty() {
            return;
        }
        // Who a namespace already is: an env, or an external.
        let mut taken: HashMap<(&str, &str), (Owner, Span)> = HashMap::new();
        for env in &self.envs {
            taken.insert(
                (env.model.cluster.name.as_str(), env.model.name.as_str()),
                (Owner::Env(&env.model.name), env.name_span),
            );
        }
        for cluster in prometheus {
            let namespace = cluster
                .model
                .prometheus
                .namespace
                .as_deref()
                .unwrap_or_default();
            if let Some((Owner::Env(env), span)) =
                taken.get(&(cluster.model.name.as_str(), namespace))
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0202,
                        cluster.prometheus_namespace_span.unwrap_or(*span),
                        format!(
                            "namespace `{namespace}` on cluster `{}` is its Prometheus' and env `{env}`",
                            cluster.model.name
                        ),
                    )
                    .label("the cluster's Prometheus runs here")
                    .secondary(*span, format!("env `{env}` is namespace `{namespace}` too"))
                    .help("Prometheus reaches the metrics ports of every env whatever their tiers accept, so it runs in a namespace envk does not manage: name that one here, and declare it `external` if rules must name it"),
                );
            }
        }
        for decl in self.resolved.externals.iter() {
            let Some(facts) = self.external_facts.get(decl.id) else {
                continue;
            };
            for (external, cluster_span) in facts.instances.iter().zip(&facts.cluster_spans) {
                let key = (external.cluster.as_str(), external.namespace.as_str());
                match taken.get(&key) {
                    Some((owner, span)) => {
                        let owner = owner.to_string();
                        diagnostics.push(
                            Diagnostic::new(
                                Code::E0202,
                                facts.namespace_span,
                                format!(
                                    "namespace `{}` on cluster `{}` is external `{}` and {owner}",
                                    external.namespace, external.cluster, decl.name
                                ),
                            )
                            .label("declared as an external here")
                            .secondary(*span, format!("{owner} is namespace `{}` too", external.namespace))
                            .secondary(*cluster_span, "on this cluster")
                            .help("a namespace envk manages is named with `env`, one it does not with `external`, never both: remove one, or give the external its real namespace with `namespace = \"…\"`"),
                        );
                    }
                    None => {
                        taken.insert(key, (Owner::External(&decl.name), facts.namespace_span));
                    }
                }
            }
        }
    }
}

/// What a namespace of a cluster already is.
#[derive(Clone, Copy)]
enum Owner<'n> {
    Env(&'n str),
    External(&'n str),
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Env(name) => write!(f, "env `{name}`"),
            Owner::External(name) => write!(f, "external `{name}`"),
        }
    }
}
