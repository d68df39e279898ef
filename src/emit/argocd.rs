//! Argo CD: an Application per env that deploys, and an AppProject per
//! project whose destinations are exactly its envs' clusters and
//! namespaces and whose source repositories are exactly theirs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::prometheus::Metadata;
use super::{Documents, Options, annotations, yaml};
use crate::model::{Env, Environment, Model, TextMap};

/// Where Argo CD runs, and so where its objects live.
const ARGOCD_NAMESPACE: &str = "argocd";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Application<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    spec: ApplicationSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationSpec<'a> {
    project: &'a str,
    source: Source<'a>,
    destination: Destination<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_policy: Option<SyncPolicy>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Source<'a> {
    #[serde(rename = "repoURL")]
    repo_url: &'a str,
    target_revision: &'a str,
    path: &'a str,
}

/// Borrowed from the Model: an Application per env names one.
#[derive(Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Destination<'a> {
    server: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncPolicy {
    automated: Automated,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sync_options: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Automated {
    prune: bool,
    self_heal: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProject<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    spec: AppProjectSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProjectSpec<'a> {
    description: String,
    source_repos: Vec<String>,
    destinations: Vec<Destination<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cluster_resource_whitelist: Vec<GroupKind>,
}

#[derive(Serialize)]
struct GroupKind {
    group: String,
    kind: String,
}

#[derive(Default)]
struct Project<'m> {
    environment: Option<Environment>,
    repos: BTreeSet<String>,
    destinations: BTreeSet<Destination<'m>>,
    creates_namespaces: bool,
}

/// An env's Application, if it deploys, pushed to `applications`.
pub(super) fn application(env: &Env, options: Options, applications: &mut Documents) {
    let Some(deploy) = env.deploy.as_ref() else {
        return;
    };
    let destination = Destination {
        server: &env.cluster.server,
        namespace: &env.name,
    };
    let sync_policy = deploy.sync.map(|sync| SyncPolicy {
        automated: Automated {
            prune: sync.prune,
            self_heal: sync.self_heal,
        },
        sync_options: if sync.create_namespace {
            vec!["CreateNamespace=true"]
        } else {
            Vec::new()
        },
    });
    let application = Application {
        api_version: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: Metadata {
            name: deploy.application.clone(),
            namespace: ARGOCD_NAMESPACE,
            annotations: annotations(&TextMap::new(), &deploy.source, options),
        },
        spec: ApplicationSpec {
            project: &deploy.project,
            source: Source {
                repo_url: &deploy.repo,
                target_revision: &deploy.revision,
                path: &deploy.path,
            },
            destination,
            sync_policy,
        },
    };
    let file = deploy
        .application
        .strip_suffix("-app")
        .unwrap_or(&deploy.application);
    applications.push(|| [file, ".yaml"].concat(), &application);
}

/// The AppProjects the Applications name: (name, document).
pub(super) fn projects(model: &Model) -> Vec<(String, String)> {
    let mut projects: BTreeMap<&str, Project> = BTreeMap::new();
    for env in model.envs.values() {
        let Some(deploy) = &env.deploy else { continue };
        let cluster = &env.cluster;
        let destination = Destination {
            server: &cluster.server,
            namespace: &env.name,
        };
        let project = projects.entry(&deploy.project).or_default();
        project.environment = Some(env.environment);
        project.repos.insert(deploy.repo.clone());
        project.destinations.insert(destination);
        project.creates_namespaces |= deploy.sync.is_some_and(|sync| sync.create_namespace);
    }
    let mut documents = Vec::new();
    for (name, project) in projects {
        let environment = project.environment.map_or("", |e| e.as_str());
        let object = AppProject {
            api_version: "argoproj.io/v1alpha1",
            kind: "AppProject",
            metadata: Metadata {
                name: name.to_string(),
                namespace: ARGOCD_NAMESPACE,
                annotations: None,
            },
            spec: AppProjectSpec {
                description: format!("{environment} environments, generated by envk"),
                source_repos: project.repos.into_iter().collect(),
                destinations: project.destinations.into_iter().collect(),
                // `CreateNamespace=true` creates a cluster-scoped object.
                cluster_resource_whitelist: if project.creates_namespaces {
                    vec![GroupKind {
                        group: String::new(),
                        kind: "Namespace".to_string(),
                    }]
                } else {
                    Vec::new()
                },
            },
        };
        documents.push((name.to_string(), yaml(&object)));
    }
    documents
}
