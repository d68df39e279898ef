//! Argo CD: an Application per env that deploys, and an AppProject per
//! project whose destinations are exactly its envs' clusters and
//! namespaces and whose source repositories are exactly theirs; with a
//! `gitops` block, the platform's Applications that deploy envk's own
//! output, in a project that may write exactly what envk writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::prometheus::Metadata;
use super::{Documents, Emitting, SYNC_WAVE, Wave, annotations, yaml};
use crate::model::{Env, Environment, Model, PLATFORM_PROJECT, SubjectKind, TextMap};

/// Where Argo CD runs, and so where its objects live.
const ARGOCD_NAMESPACE: &str = "argocd";

/// An Argo CD object: its kind, its metadata and its spec.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a, Spec> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    spec: Spec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationSpec<'a> {
    project: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<Source<'a>>,
    destination: Destination<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_policy: Option<SyncPolicy<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignore_differences: Vec<IgnoreDifference<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Source<'a> {
    #[serde(rename = "repoURL")]
    repo_url: &'a str,
    target_revision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    helm: Option<HelmSource<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kustomize: Option<KustomizeSource<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HelmSource<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    release_name: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    value_files: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parameters: Vec<HelmParameter<'a>>,
}

#[derive(Serialize)]
struct HelmParameter<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct KustomizeSource<'a> {
    images: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IgnoreDifference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    json_pointers: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    jq_path_expressions: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    managed_fields_managers: &'a [String],
}

/// Borrowed from the Model: an Application per env names one.
#[derive(Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Destination<'a> {
    server: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncPolicy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    automated: Option<Automated>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sync_options: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<Retry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Retry {
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backoff: Option<Backoff>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Backoff {
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    factor: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_duration: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Automated {
    prune: bool,
    self_heal: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProjectSpec<'a> {
    description: String,
    source_repos: Vec<&'a str>,
    destinations: Vec<Destination<'a>>,
    /// Written even when empty: an empty list admits no cluster-scoped
    /// kind, and a reader should see that it is meant.
    cluster_resource_whitelist: Vec<ClusterKind<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespace_resource_whitelist: Vec<GroupKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<ProjectRole>,
    /// Last: one of a few lists, whose text a team's project is written
    /// with rather than serialized again (`Blacklists`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespace_resource_blacklist: Vec<GroupKind>,
}

/// A kind in one API group.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GroupKind {
    pub group: &'static str,
    pub kind: &'static str,
}

/// A cluster-scoped kind a project may write, and if named, only the
/// object of that name.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct ClusterKind<'a> {
    group: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// An Argo CD project role: who may do what to which Applications.
#[derive(Serialize)]
struct ProjectRole {
    name: String,
    policies: Vec<String>,
    groups: Vec<String>,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The kinds envk writes into an env's namespace, PrometheusRule aside:
/// what no team repository may write there.
pub(crate) const ENV_KINDS: [GroupKind; 5] = [
    GroupKind {
        group: "",
        kind: "ResourceQuota",
    },
    GroupKind {
        group: "",
        kind: "LimitRange",
    },
    GroupKind {
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
    },
    GroupKind {
        group: RBAC_GROUP,
        kind: "Role",
    },
    GroupKind {
        group: RBAC_GROUP,
        kind: "RoleBinding",
    },
];

/// The env's alert rules, when it has any.
pub(crate) const PROMETHEUS_RULE: GroupKind = GroupKind {
    group: "monitoring.coreos.com",
    kind: "PrometheusRule",
};

/// A team's project, as its envs make it.
#[derive(Default)]
struct Project<'m> {
    environment: Option<Environment>,
    team: Option<&'m str>,
    repos: BTreeSet<&'m str>,
    destinations: BTreeSet<Destination<'m>>,
    /// The namespaces its Applications create (`CreateNamespace=true`).
    creates: BTreeSet<&'m str>,
    writes_rules: bool,
    /// Whether an env of it does not manage its own NetworkPolicies, or
    /// Roles and RoleBindings (`self_managed`): those kinds are then
    /// blacklisted.
    fences_network: bool,
    fences_rbac: bool,
    /// By Application: the groups that may look at it, and those that may
    /// sync it.
    access: BTreeMap<&'m str, (BTreeSet<&'m str>, BTreeSet<&'m str>)>,
}

/// What an env's Application says beyond its name, project and
/// destination: the same in an Application and in an ApplicationSet's
/// element.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Deployment<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<Source<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_policy: Option<SyncPolicy<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignore_differences: Vec<IgnoreDifference<'a>>,
}

fn deployment(deploy: &crate::model::Deploy) -> Deployment<'_> {
    let options = deploy.options.as_deref();
    let mut sync_options: Vec<&str> = Vec::new();
    if deploy.sync.is_some_and(|sync| sync.create_namespace) {
        sync_options.push("CreateNamespace=true");
    }
    if let Some(options) = options {
        sync_options.extend(options.sync_options.iter().map(String::as_str));
    }
    let retry = options
        .and_then(|options| options.retry)
        .map(|retry| Retry {
            limit: retry.limit,
            backoff: (retry.backoff.is_some()
                || retry.factor.is_some()
                || retry.max_backoff.is_some())
            .then(|| Backoff {
                duration: retry.backoff.map(|d| d.go()),
                factor: retry.factor,
                max_duration: retry.max_backoff.map(|d| d.go()),
            }),
        });
    let sync_policy =
        (deploy.sync.is_some() || !sync_options.is_empty() || retry.is_some()).then(|| {
            SyncPolicy {
                automated: deploy.sync.map(|sync| Automated {
                    prune: sync.prune,
                    self_heal: sync.self_heal,
                }),
                sync_options,
                retry,
            }
        });
    let main = Source {
        repo_url: &deploy.repo,
        target_revision: &deploy.revision,
        path: Some(&deploy.path),
        reference: None,
        helm: options
            .and_then(|options| options.helm.as_ref())
            .map(|helm| HelmSource {
                release_name: helm.release_name.as_deref(),
                value_files: &helm.values_files,
                parameters: helm
                    .parameters
                    .iter()
                    .map(|(name, value)| HelmParameter { name, value })
                    .collect(),
            }),
        kustomize: options
            .filter(|options| !options.kustomize_images.is_empty())
            .map(|options| KustomizeSource {
                images: &options.kustomize_images,
            }),
    };
    let extra = options.map_or(&[][..], |options| &options.sources[..]);
    let (source, sources) = match extra.is_empty() {
        true => (Some(main), Vec::new()),
        false => {
            let mut sources = vec![main];
            sources.extend(extra.iter().map(|source| Source {
                repo_url: &source.repo,
                target_revision: &source.revision,
                path: source.path.as_deref(),
                reference: source.reference.as_deref(),
                helm: None,
                kustomize: None,
            }));
            (None, sources)
        }
    };
    let ignore_differences = options.map_or_else(Vec::new, |options| {
        options
            .ignore_differences
            .iter()
            .map(|ignored| IgnoreDifference {
                group: ignored.group.as_deref(),
                kind: &ignored.kind,
                name: ignored.name.as_deref(),
                namespace: ignored.namespace.as_deref(),
                json_pointers: &ignored.json_pointers,
                jq_path_expressions: &ignored.jq_path_expressions,
                managed_fields_managers: &ignored.managed_fields_managers,
            })
            .collect()
    });
    Deployment {
        source,
        sources,
        sync_policy,
        ignore_differences,
    }
}

/// An env's Application, if it deploys, pushed to `applications`.
pub(super) fn application(env: &Env, options: Emitting, applications: &mut Documents) {
    let Some(deploy) = env.deploy.as_ref() else {
        return;
    };
    let destination = Destination {
        server: &env.cluster.server,
        namespace: &env.name,
    };
    let Deployment {
        source,
        sources,
        sync_policy,
        ignore_differences,
    } = deployment(deploy);
    let application = Object {
        api_version: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: Metadata {
            name: deploy.application.clone(),
            namespace: ARGOCD_NAMESPACE,
            annotations: annotations(&TextMap::new(), &deploy.source, options, Wave::Teams),
        },
        spec: ApplicationSpec {
            project: &deploy.project,
            source,
            sources,
            destination,
            sync_policy,
            ignore_differences,
        },
    };
    let file = deploy
        .application
        .strip_suffix("-app")
        .unwrap_or(&deploy.application);
    applications.push(|| [file, ".yaml"].concat(), &application);
}

/// The AppProjects the Applications name: (name, document). Each is one
/// team's fence: its Applications may deploy into exactly their envs'
/// namespaces, from exactly their repositories, and may write no kind
/// envk owns there and no cluster-scoped kind but, for an Application
/// that creates its namespace, that one Namespace.
pub(super) fn projects(
    model: &Model,
    alone: &OwnProjects,
    options: Emitting,
) -> Vec<(String, String)> {
    let mut projects: BTreeMap<&str, Project> = BTreeMap::new();
    for env in model.envs.values() {
        let Some(deploy) = &env.deploy else { continue };
        if alone.holds(env) {
            continue;
        }
        projects
            .entry(&deploy.project)
            .or_default()
            .add(env, deploy);
    }
    projects
        .into_iter()
        .map(|(name, project)| (name.to_string(), project.document(name, options)))
        .collect()
}

/// The projects that are one env's own and no other env's: each is
/// written with its env, in the env's piece of the build, since a fleet
/// has one per env.
pub(super) struct OwnProjects<'m> {
    /// How many envs name each project.
    envs_of: foldhash::HashMap<&'m str, u32>,
}

impl<'m> OwnProjects<'m> {
    pub(super) fn new(model: &'m Model) -> OwnProjects<'m> {
        let mut envs_of: foldhash::HashMap<&str, u32> = Default::default();
        for env in model.envs.values() {
            if let Some(deploy) = &env.deploy {
                *envs_of.entry(deploy.project.as_str()).or_default() += 1;
            }
        }
        OwnProjects { envs_of }
    }

    /// Whether `env`'s project is its own and holds no other env.
    pub(super) fn holds(&self, env: &Env) -> bool {
        env.deploy
            .as_ref()
            .is_some_and(|deploy| self.envs_of.get(deploy.project.as_str()) == Some(&1))
    }
}

/// An env's project, when it holds that env alone (`OwnProjects`), pushed
/// to `projects`.
pub(super) fn own_project(
    env: &Env,
    alone: &OwnProjects,
    options: Emitting,
    projects: &mut Documents,
) {
    let Some(deploy) = &env.deploy else { return };
    if !alone.holds(env) {
        return;
    }
    let mut project = Project::default();
    project.add(env, deploy);
    let name = deploy.project.as_str();
    projects.push_with(
        || [name, ".yaml"].concat(),
        |out| project.document_into(name, options, out),
    );
}

impl<'m> Project<'m> {
    /// An env that deploys in the project.
    fn add(&mut self, env: &'m Env, deploy: &'m crate::model::Deploy) {
        self.environment = Some(env.environment);
        self.team = Some(env.team());
        self.repos.insert(&deploy.repo);
        if let Some(options) = &deploy.options {
            self.repos
                .extend(options.sources.iter().map(|source| source.repo.as_str()));
        }
        self.destinations.insert(Destination {
            server: &env.cluster.server,
            namespace: &env.name,
        });
        if deploy.sync.is_some_and(|sync| sync.create_namespace) {
            self.creates.insert(&env.name);
        }
        self.writes_rules |= !env.alerts.rules.is_empty();
        self.fences_network |= !env.tier.self_managed.network;
        self.fences_rbac |= !env.tier.self_managed.rbac;
        let (get, sync) = self.access.entry(&deploy.application).or_default();
        for binding in &env.bindings {
            let writes = env.roles.iter().any(|role| {
                role.name == binding.role
                    && role
                        .rules
                        .iter()
                        .any(|rule| rule.verbs.iter().any(|verb| crate::model::writes(verb)))
            });
            for subject in &binding.subjects {
                if subject.kind == SubjectKind::Group {
                    get.insert(&subject.name);
                    if writes {
                        sync.insert(&subject.name);
                    }
                }
            }
        }
    }

    /// The AppProject `name`, serialized.
    fn document(self, name: &str, options: Emitting) -> String {
        let mut text = String::with_capacity(1024);
        self.document_into(name, options, &mut text);
        text
    }

    /// The AppProject `name`, appended to `out`: its head serialized, then
    /// its blacklist's text (`BLACKLISTS`).
    fn document_into(self, name: &str, options: Emitting, out: &mut String) {
        let shape = Blacklist {
            network: self.fences_network,
            rbac: self.fences_rbac,
            rules: self.writes_rules,
        };
        let mut object = self.object(name, options);
        let start = out.len();
        if super::yaml_into(&object, out) {
            out.push_str(blacklist_text(shape));
        } else {
            // The fallback writer's text is not known to splice.
            out.truncate(start);
            object.spec.namespace_resource_blacklist = shape.kinds();
            super::yaml_into(&object, out);
        }
    }

    /// The AppProject `name`, its blacklist left out.
    fn object(self, name: &str, options: Emitting) -> Object<'m, AppProjectSpec<'m>> {
        let environment = self.environment.map_or("", |e| e.as_str());
        let team = self.team.unwrap_or(name);
        Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "AppProject",
            metadata: Metadata {
                name: name.to_string(),
                namespace: ARGOCD_NAMESPACE,
                annotations: wave(options, Wave::Projects),
            },
            spec: AppProjectSpec {
                description: [environment, " envs of team ", team].concat(),
                source_repos: self.repos.into_iter().collect(),
                destinations: self.destinations.into_iter().collect(),
                // `CreateNamespace=true` creates a cluster-scoped object:
                // that namespace, by name, and no other.
                cluster_resource_whitelist: self
                    .creates
                    .into_iter()
                    .map(|namespace| ClusterKind {
                        group: "",
                        kind: "Namespace",
                        name: Some(namespace),
                    })
                    .collect(),
                namespace_resource_whitelist: Vec::new(),
                roles: project_roles(name, self.access),
                namespace_resource_blacklist: Vec::new(),
            },
        }
    }
}

/// Which of envk's kinds a team's project blacklists: all but those its
/// envs manage themselves, and PrometheusRule where envk writes one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Blacklist {
    network: bool,
    rbac: bool,
    rules: bool,
}

impl Blacklist {
    fn kinds(self) -> Vec<GroupKind> {
        let mut kinds = ENV_KINDS.to_vec();
        kinds.retain(|kind| match kind.kind {
            "NetworkPolicy" => self.network,
            "Role" | "RoleBinding" => self.rbac,
            _ => true,
        });
        if self.rules {
            kinds.push(PROMETHEUS_RULE);
        }
        kinds
    }

    fn index(self) -> usize {
        usize::from(self.network) | usize::from(self.rbac) << 1 | usize::from(self.rules) << 2
    }
}

/// The text of each blacklist as the last field of a project's spec,
/// serialized once: a fleet has a project per env, and these lines were a
/// third of writing each.
fn blacklist_text(shape: Blacklist) -> &'static str {
    static TEXTS: std::sync::OnceLock<[String; 8]> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        std::array::from_fn(|index| {
            let shape = Blacklist {
                network: index & 1 != 0,
                rbac: index & 2 != 0,
                rules: index & 4 != 0,
            };
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Field {
                namespace_resource_blacklist: Vec<GroupKind>,
            }
            let field = yaml(&Field {
                namespace_resource_blacklist: shape.kinds(),
            });
            // Two columns in, under `spec`.
            field
                .lines()
                .map(|line| ["  ", line, "\n"].concat())
                .collect()
        })
    });
    &texts[shape.index()]
}

/// Per Application, a role that lets the groups granted anything in its
/// env look at it (`<app>-get`), and one that lets the groups granted
/// writes sync it too (`<app>-sync`): Argo CD's access follows the
/// cluster's.
fn project_roles(
    project: &str,
    access: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)>,
) -> Vec<ProjectRole> {
    let mut roles = Vec::new();
    for (application, (get, sync)) in access {
        let policy = |role: &str, action: &str| {
            format!(
                "p, proj:{project}:{role}, applications, {action}, {project}/{application}, allow"
            )
        };
        let readers: Vec<String> = get.difference(&sync).map(|g| g.to_string()).collect();
        if !readers.is_empty() {
            let role = [application, "-get"].concat();
            roles.push(ProjectRole {
                policies: vec![policy(&role, "get")],
                groups: readers,
                name: role,
            });
        }
        if !sync.is_empty() {
            let role = [application, "-sync"].concat();
            roles.push(ProjectRole {
                policies: vec![policy(&role, "get"), policy(&role, "sync")],
                groups: sync.into_iter().map(str::to_string).collect(),
                name: role,
            });
        }
    }
    roles
}

/// The Application that syncs the `argocd` folder.
const ARGOCD_APPLICATION: &str = "envk-argocd";

/// The sync-wave annotation alone, for objects envk writes nothing else on.
fn wave(options: Emitting, wave: Wave) -> Option<BTreeMap<String, String>> {
    options
        .sync_waves
        .then(|| BTreeMap::from([(SYNC_WAVE.to_string(), wave.as_str().to_string())]))
}

/// `<path>/<folder>` in the gitops repository.
fn in_repository(path: &str, folder: &str) -> String {
    match path.trim_end_matches('/') {
        "" | "." => folder.to_string(),
        path => [path, "/", folder].concat(),
    }
}

/// With a `gitops` block, envk's own Argo CD objects, each with its file
/// in the `argocd` folder: per cluster the Application `envk-<cluster>`,
/// which syncs `<path>/<cluster>` (the folder `kubectl apply -k` takes)
/// into it; the `platform` project they are in; and `envk-argocd`, which
/// syncs the `argocd` folder itself (every project and Application) into
/// the cluster that runs Argo CD, projects first, then the platform's
/// Applications, then the teams'.
pub(super) fn platform(model: &Model, options: Emitting) -> Vec<(String, String)> {
    let Some(gitops) = &model.gitops else {
        return Vec::new();
    };
    let automated = || {
        Some(SyncPolicy {
            automated: Some(Automated {
                prune: true,
                self_heal: true,
            }),
            sync_options: Vec::new(),
            retry: None,
        })
    };
    let application = |name: String, project: &str, folder: &str, destination: Destination| {
        let annotations = annotations(&TextMap::new(), &gitops.source, options, Wave::Platform);
        yaml(&Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: Metadata {
                name,
                namespace: ARGOCD_NAMESPACE,
                annotations,
            },
            spec: ApplicationSpec {
                project,
                source: Some(Source {
                    repo_url: &gitops.repo,
                    target_revision: &gitops.revision,
                    path: Some(&in_repository(&gitops.path, folder)),
                    reference: None,
                    helm: None,
                    kustomize: None,
                }),
                sources: Vec::new(),
                destination,
                sync_policy: automated(),
                ignore_differences: Vec::new(),
            },
        })
    };
    // In the order of their files.
    let destination = Destination {
        server: &gitops.argocd_server,
        namespace: ARGOCD_NAMESPACE,
    };
    let document = application(
        ARGOCD_APPLICATION.to_string(),
        PLATFORM_PROJECT,
        "argocd",
        destination,
    );
    let mut documents = vec![([ARGOCD_APPLICATION, ".yaml"].concat(), document)];
    let mut projects = vec![(
        PLATFORM_PROJECT.to_string(),
        argocd_project(gitops, options),
    )];
    for cluster in model.clusters.values() {
        let name = ["envk-", &cluster.name].concat();
        let project = crate::model::platform_project(&cluster.name);
        let envs: Vec<&Env> = model.envs_on(&cluster.name).collect();
        // Every object names its own namespace; the Application's is
        // where one without would go, an env's, so that its project need
        // admit no other.
        let destination = Destination {
            server: &cluster.server,
            namespace: envs.first().map_or("", |env| env.name.as_str()),
        };
        let document = application(name.clone(), &project, &cluster.name, destination);
        documents.push((["platform/", &name, ".yaml"].concat(), document));
        let fence = cluster_project(model, cluster, &envs, gitops, &project, options);
        projects.push((project, fence));
        // The ConfigMaps of its Prometheus files, in Prometheus' namespace:
        // an Application of their own, since a project admits the same
        // kinds in all its namespaces.
        if let Some(namespace) = &cluster.prometheus.namespace {
            let name = crate::model::monitoring_application(&cluster.name);
            let project = crate::model::monitoring_project(&cluster.name);
            let destination = Destination {
                server: &cluster.server,
                namespace,
            };
            let folder = [&cluster.name, "/monitoring"].concat();
            let document = application(name.clone(), &project, &folder, destination.clone());
            documents.push((["platform/", &name, ".yaml"].concat(), document));
            let fence = platform_project_object(
                &project,
                format!(
                    "the Prometheus files of cluster {}, deployed by {name}",
                    cluster.name
                ),
                gitops,
                vec![destination],
                Vec::new(),
                vec![GroupKind {
                    group: "",
                    kind: "ConfigMap",
                }],
                options,
            );
            projects.push((project, fence));
        }
    }
    for (project, document) in projects {
        documents.push((["projects/", &project, ".yaml"].concat(), document));
    }
    documents
}

/// The project of a cluster's platform Application: from the gitops
/// repository, into that cluster's env namespaces only, exactly the objects
/// envk writes there: its Namespaces and cluster roles by name, the kinds
/// it writes in namespaces. One per cluster, since Argo CD admits a
/// cluster-scoped object by name on every cluster of a project.
fn cluster_project(
    model: &Model,
    cluster: &crate::model::Cluster,
    envs: &[&Env],
    gitops: &crate::model::GitOps,
    name: &str,
    options: Emitting,
) -> String {
    let mut destinations: Vec<Destination> = envs
        .iter()
        .map(|env| Destination {
            server: &cluster.server,
            namespace: &env.name,
        })
        .collect();
    if destinations.is_empty() {
        // Its cluster roles alone: no namespace at all.
        destinations.push(Destination {
            server: &cluster.server,
            namespace: "",
        });
    }
    let mut cluster_kinds: Vec<ClusterKind> = envs
        .iter()
        .map(|env| ClusterKind {
            group: "",
            kind: "Namespace",
            name: Some(&env.name),
        })
        .collect();
    let bindings = model
        .cluster_bindings
        .iter()
        .filter(|binding| binding.cluster == cluster.name);
    for binding in bindings {
        cluster_kinds.push(ClusterKind {
            group: RBAC_GROUP,
            kind: "ClusterRole",
            name: Some(&binding.role.name),
        });
        cluster_kinds.push(ClusterKind {
            group: RBAC_GROUP,
            kind: "ClusterRoleBinding",
            name: Some(&binding.name),
        });
    }
    cluster_kinds.sort();
    cluster_kinds.dedup();
    let mut namespace_kinds = ENV_KINDS.to_vec();
    if envs.iter().any(|env| !env.alerts.rules.is_empty()) {
        namespace_kinds.push(PROMETHEUS_RULE);
    }
    platform_project_object(
        name,
        format!(
            "envk's output for cluster {}, deployed by envk-{}",
            cluster.name, cluster.name
        ),
        gitops,
        destinations,
        cluster_kinds,
        namespace_kinds,
        options,
    )
}

/// The project of `envk-argocd`: the AppProjects and Applications (and
/// ApplicationSets) of the `argocd` folder, in Argo CD's namespace.
fn argocd_project(gitops: &crate::model::GitOps, options: Emitting) -> String {
    let mut namespace_kinds = ARGOCD_KINDS.to_vec();
    if options.argocd == super::ArgoCd::ApplicationSets {
        namespace_kinds.push(GroupKind {
            group: "argoproj.io",
            kind: "ApplicationSet",
        });
    }
    let destinations = vec![Destination {
        server: &gitops.argocd_server,
        namespace: ARGOCD_NAMESPACE,
    }];
    platform_project_object(
        PLATFORM_PROJECT,
        "envk's Argo CD objects, deployed by envk-argocd".to_string(),
        gitops,
        destinations,
        Vec::new(),
        namespace_kinds,
        options,
    )
}

fn platform_project_object(
    name: &str,
    description: String,
    gitops: &crate::model::GitOps,
    destinations: Vec<Destination>,
    cluster_kinds: Vec<ClusterKind>,
    namespace_kinds: Vec<GroupKind>,
    options: Emitting,
) -> String {
    yaml(&Object {
        api_version: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: Metadata {
            name: name.to_string(),
            namespace: ARGOCD_NAMESPACE,
            annotations: wave(options, Wave::Projects),
        },
        spec: AppProjectSpec {
            description,
            source_repos: vec![&gitops.repo],
            destinations,
            cluster_resource_whitelist: cluster_kinds,
            namespace_resource_whitelist: namespace_kinds,
            namespace_resource_blacklist: Vec::new(),
            roles: Vec::new(),
        },
    })
}

/// What `envk-argocd` writes into Argo CD's namespace.
pub(crate) const ARGOCD_KINDS: [GroupKind; 2] = [
    GroupKind {
        group: "argoproj.io",
        kind: "AppProject",
    },
    GroupKind {
        group: "argoproj.io",
        kind: "Application",
    },
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationSetSpec<'a> {
    go_template: bool,
    go_template_options: [&'a str; 1],
    generators: [Generator<'a>; 1],
    template: Template<'a>,
    /// Everything of an Application its element says beyond its name,
    /// project and destination, which a template can only hold as text.
    template_patch: &'a str,
}

#[derive(Serialize)]
struct Generator<'a> {
    list: ListGenerator<'a>,
}

#[derive(Serialize)]
struct ListGenerator<'a> {
    elements: Vec<Element<'a>>,
}

/// One env's Application, as an ApplicationSet's list generator gives it.
#[derive(Serialize)]
struct Element<'a> {
    name: &'a str,
    project: &'a str,
    server: &'a str,
    namespace: &'a str,
    patch: Patch<'a>,
}

#[derive(Serialize)]
struct Patch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<PatchMetadata>,
    spec: Deployment<'a>,
}

#[derive(Serialize)]
struct PatchMetadata {
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Template<'a> {
    metadata: TemplateMetadata<'a>,
    spec: TemplateSpec<'a>,
}

#[derive(Serialize)]
struct TemplateMetadata<'a> {
    name: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
struct TemplateSpec<'a> {
    project: &'a str,
    destination: Destination<'a>,
}

/// `--argocd applicationsets`: per environment, one ApplicationSet whose
/// list generator has an element per env that deploys, each giving the
/// Application the per-env build writes (the template names it, its
/// fenced project and its destination; the element's `patch` the rest).
/// Each is `(environment, document)`.
pub(super) fn application_sets(model: &Model, options: Emitting) -> Vec<(&'static str, String)> {
    let mut by_environment: BTreeMap<Environment, Vec<Element>> = BTreeMap::new();
    for env in model.envs.values() {
        let Some(deploy) = &env.deploy else { continue };
        let annotations = annotations(&TextMap::new(), &deploy.source, options, Wave::Teams);
        by_environment
            .entry(env.environment)
            .or_default()
            .push(Element {
                name: &deploy.application,
                project: &deploy.project,
                server: &env.cluster.server,
                namespace: &env.name,
                patch: Patch {
                    metadata: annotations.map(|annotations| PatchMetadata { annotations }),
                    spec: deployment(deploy),
                },
            });
    }
    by_environment
        .into_iter()
        .map(|(environment, elements)| {
            let set = Object {
                api_version: "argoproj.io/v1alpha1",
                kind: "ApplicationSet",
                metadata: Metadata {
                    name: [environment.as_str(), "-apps"].concat(),
                    namespace: ARGOCD_NAMESPACE,
                    annotations: wave(options, Wave::Teams),
                },
                spec: ApplicationSetSpec {
                    go_template: true,
                    go_template_options: ["missingkey=error"],
                    generators: [Generator {
                        list: ListGenerator { elements },
                    }],
                    template: Template {
                        metadata: TemplateMetadata {
                            name: "{{.name}}",
                            namespace: ARGOCD_NAMESPACE,
                        },
                        spec: TemplateSpec {
                            project: "{{.project}}",
                            destination: Destination {
                                server: "{{.server}}",
                                namespace: "{{.namespace}}",
                            },
                        },
                    },
                    template_patch: "{{ toJson .patch }}",
                },
            };
            (environment.as_str(), yaml(&set))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project written as its head and its blacklist's text is the
    /// project serialized whole, for every blacklist and project shape.
    #[test]
    fn a_project_is_its_head_then_its_blacklist() {
        for path in [
            "examples/multi-team",
            "examples/regions",
            "examples/enterprise.env.k",
        ] {
            let run = crate::driver::check(&[path.into()]).expect("readable");
            let model = run.model.expect("the example checks clean");
            for env in model.envs.values() {
                let Some(deploy) = &env.deploy else { continue };
                for index in 0..8 {
                    let shape = Blacklist {
                        network: index & 1 != 0,
                        rbac: index & 2 != 0,
                        rules: index & 4 != 0,
                    };
                    for sync_waves in [false, true] {
                        let options = Emitting {
                            sync_waves,
                            ..Emitting::default()
                        };
                        let project = || {
                            let mut project = Project::default();
                            project.add(env, deploy);
                            project.fences_network = shape.network;
                            project.fences_rbac = shape.rbac;
                            project.writes_rules = shape.rules;
                            project
                        };
                        let mut spliced = String::new();
                        project().document_into(&deploy.project, options, &mut spliced);
                        let mut whole = project().object(&deploy.project, options);
                        whole.spec.namespace_resource_blacklist = shape.kinds();
                        assert_eq!(spliced, yaml(&whole), "{path}: {} {shape:?}", env.name);
                    }
                }
            }
        }
    }
}
