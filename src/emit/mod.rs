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
//! serde structs, serialized through serde by `yaml`, our writer of
//! serde_yaml's bytes. Text is put together in one way only, and
//! deliberately: `splice` writes an object's head and then the text of its
//! last field, serialized once and shared by the envs whose field is equal
//! (tests hold each kind's spliced text to serializing the whole object),
//! and a stream file is its envs' documents one after the other. The
//! result depends only on the Model, and the Model's maps are ordered, so
//! the same program always gives the same bytes.

mod alertmanager;
mod argocd;
mod docs;
mod kubernetes;
mod prometheus;
pub mod report;
mod splice;
pub mod yaml;
mod yaml11;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Env, Model, Source, TextMap};

/// What `build` writes: relative path (with `/`) → content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, Content>,
}

impl Tree {
    fn add(&mut self, path: String, content: impl Into<Content>) {
        let previous = self.files.insert(path, content.into());
        debug_assert!(previous.is_none(), "two objects were given one path");
    }
}

/// A file's content, kept as the parts it was made in. A stream file's
/// envs are serialized in pieces on every core; joining the pieces would
/// copy the whole stream once more, on one thread, and keep two copies of
/// it resident at once (bench/README.md, "Measurements behind the code's
/// choices"). The parts are written one after the other instead.
#[derive(Clone)]
pub struct Content(Parts);

/// Most files are one part: they are kept without a list around them.
#[derive(Clone)]
enum Parts {
    One(String),
    Many(Vec<String>),
}

impl Default for Content {
    fn default() -> Content {
        Content(Parts::One(String::new()))
    }
}

impl Content {
    /// A content of several parts, in order.
    pub fn from_parts(parts: Vec<String>) -> Content {
        Content(Parts::Many(parts))
    }

    /// The parts, in order; their concatenation is the content.
    pub fn parts(&self) -> &[String] {
        match &self.0 {
            Parts::One(whole) => std::slice::from_ref(whole),
            Parts::Many(parts) => parts,
        }
    }

    /// The whole text: borrowed when the content is one part, as every
    /// file but a stream is.
    pub fn text(&self) -> Cow<'_, str> {
        match self.parts() {
            [] => Cow::Borrowed(""),
            [whole] => Cow::Borrowed(whole),
            parts => Cow::Owned(parts.concat()),
        }
    }

    /// The length in bytes.
    fn len(&self) -> usize {
        self.parts().iter().map(String::len).sum()
    }

    /// The bytes, part after part.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.parts().iter().flat_map(|part| part.bytes())
    }

    /// Whether `bytes` are exactly this content.
    pub fn is(&self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        for part in self.parts() {
            match rest.split_at_checked(part.len()) {
                Some((head, tail)) if head == part.as_bytes() => rest = tail,
                _ => return false,
            }
        }
        rest.is_empty()
    }
}

impl From<String> for Content {
    fn from(text: String) -> Content {
        Content(Parts::One(text))
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Content {
        Content::from(text.to_string())
    }
}

/// Contents are equal when their bytes are, however they are cut.
impl PartialEq for Content {
    fn eq(&self, other: &Content) -> bool {
        self.len() == other.len() && self.bytes().eq(other.bytes())
    }
}

impl Eq for Content {}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text(), f)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Annotate every object with `envk.dev/source: FILE:LINE`.
    pub provenance: bool,
    pub layout: Layout,
    pub argocd: ArgoCd,
    /// Write `report/index.html` (`build --report`).
    pub report: bool,
}

/// How the teams' Argo CD Applications are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArgoCd {
    /// One Application per env that deploys.
    #[default]
    Applications,
    /// Per environment, one ApplicationSet that gives the same
    /// Applications: one object for Argo CD to hold instead of thousands.
    ApplicationSets,
}

/// What the emitters go by: the caller's options, and whether envk's
/// platform Applications deploy the output (the Model's `gitops`), which
/// orders every object in sync waves.
#[derive(Clone, Copy, Debug, Default)]
struct Emitting {
    provenance: bool,
    layout: Layout,
    argocd: ArgoCd,
    sync_waves: bool,
}

/// Where an object comes in the sync of the Application that deploys it
/// (`argocd.argoproj.io/sync-wave`): in a cluster's platform Application,
/// namespaces, then what fences them, then their alert rules; in
/// `envk-argocd`, the projects, then the platform Applications, then the
/// teams'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wave {
    Namespace,
    Fence,
    Rules,
    Projects,
    Platform,
    Teams,
}

impl Wave {
    fn as_str(self) -> &'static str {
        match self {
            Wave::Namespace | Wave::Projects => "0",
            Wave::Fence | Wave::Platform => "1",
            Wave::Rules | Wave::Teams => "2",
        }
    }
}

/// The annotation that orders a sync.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// The annotation that keeps Argo CD from deleting a namespace.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

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

/// Where an emitter puts the documents it serializes.
pub(super) enum Documents<'a> {
    /// One string per document, with its file name: the tree layout.
    Files(&'a mut Vec<(String, String)>),
    /// Appended to one YAML stream: the stream layout.
    Stream(&'a mut String),
}

impl Documents<'_> {
    fn push<T: serde::Serialize>(&mut self, file: impl FnOnce() -> String, value: &T) {
        self.push_with(file, |out| {
            yaml_into(value, out);
        });
    }

    /// One document, which `write` appends to the text it is given.
    fn push_with(&mut self, file: impl FnOnce() -> String, write: impl FnOnce(&mut String)) {
        match self {
            Documents::Files(files) => {
                let mut text = String::with_capacity(1024);
                write(&mut text);
                files.push((file(), text));
            }
            Documents::Stream(text) => {
                next_document(text);
                write(text);
            }
        }
    }
}

/// The file that lists, by cluster, every namespace the builds into a
/// folder have deployed, and which are no longer declared.
pub const NAMESPACES_FILE: &str = ".envk/namespaces";

/// What a previous build into the same folder deployed: namespaces that
/// are no longer declared are kept in the cluster (Argo CD never prunes a
/// namespace envk writes), so each build names them until they are
/// declared again or forgotten (`envk build --forget`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// (cluster, namespace), declared then or retired before.
    pub namespaces: BTreeSet<(String, String)>,
}

impl History {
    /// Reads `NAMESPACES_FILE`: `CLUSTER NAMESPACE` lines, with `retired`
    /// after the retired ones, and `#` comments. A line of another shape is
    /// not envk's and is left out.
    pub fn parse(text: &str) -> History {
        let namespaces = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let (cluster, namespace) = (words.next()?, words.next()?);
                matches!(words.next(), None | Some("retired"))
                    .then(|| (cluster.to_string(), namespace.to_string()))
            })
            .collect();
        History { namespaces }
    }

    /// The namespaces of the history that `model` no longer declares.
    pub fn retired(&self, model: &Model) -> Vec<(String, String)> {
        self.namespaces
            .iter()
            .filter(|(cluster, namespace)| {
                !model.envs.contains_key(&crate::model::EnvKey {
                    name: namespace.clone(),
                    cluster: cluster.clone(),
                })
            })
            .cloned()
            .collect()
    }
}

/// `NAMESPACES_FILE`'s text: the declared namespaces, then the retired.
fn namespaces_file(model: &Model, retired: &[(String, String)]) -> String {
    let mut lines: Vec<String> = model
        .envs
        .values()
        .map(|env| format!("{} {}", env.cluster.name, env.name))
        .chain(
            retired
                .iter()
                .map(|(cluster, namespace)| format!("{cluster} {namespace} retired")),
        )
        .collect();
    lines.sort();
    let mut text = String::from(
        "# Written by `envk build`: every namespace this folder deploys, as `CLUSTER NAMESPACE`.\n\
         # `retired`: no longer declared, but still in the cluster (namespaces are never pruned);\n\
         # delete it by hand, then `envk build --forget CLUSTER/NAMESPACE`.\n",
    );
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// `.envk/model.json`, and the report drawn from it when asked for.
fn summary_and_report(model: &Model, report: bool) -> (String, Option<String>) {
    let summary = crate::summary::of(model);
    let drawn = report.then(|| report::report(&summary));
    (summary.to_json(), drawn)
}

/// Emits every file of the build.
///
/// Serializing is most of the work and each env's documents depend on that
/// env alone, so envs are serialized on every core, a piece of them at a
/// time; the files are then put together in env order, so the bytes do not
/// depend on the threads.
pub fn emit(model: &Model, options: Options) -> Tree {
    emit_after(model, options, &History::default())
}

/// `emit`, for a folder a previous build with `history` wrote: the
/// namespaces it deployed that the program no longer declares are named
/// in `NAMESPACES_FILE` and in their cluster's README.
pub fn emit_after(model: &Model, options: Options, history: &History) -> Tree {
    let retired = history.retired(model);
    let report = options.report;
    let options = Emitting {
        provenance: options.provenance,
        layout: options.layout,
        argocd: options.argocd,
        sync_waves: model.gitops.is_some(),
    };
    let envs: Vec<&Env> = model.envs.values().map(Box::as_ref).collect();
    let mut tree = Tree::default();
    // An env alone in its own project, as most are, has it written with
    // its other objects, on every core.
    let alone = argocd::OwnProjects::new(model);
    // The READMEs and the AppProjects of several envs need only the Model,
    // and are made from all of it: they are made meanwhile, on a thread of
    // their own.
    let ((readmes, projects, summary), own_projects) = crate::parallel::beside(
        || {
            (
                docs::cluster_readmes(model, &retired),
                argocd::projects(model, &alone, options),
                summary_and_report(model, report),
            )
        },
        || match options.layout {
            Layout::Tree => tree_layout(model, &envs, &alone, options, &mut tree),
            Layout::Stream => stream_layout(model, &envs, &alone, options, &mut tree),
        },
    );
    for (cluster, readme) in model.clusters.values().zip(readmes) {
        tree.add(format!("{}/README.md", cluster.name), readme);
    }
    let mut projects: Vec<(String, String)> = projects
        .into_iter()
        .map(|(name, document)| (["projects/", &name, ".yaml"].concat(), document))
        .collect();
    let platform = argocd::platform(model, options);
    let application_sets = match options.argocd {
        ArgoCd::Applications => Vec::new(),
        ArgoCd::ApplicationSets => argocd::application_sets(model, options),
    };
    // The platform's projects among the others, in name order.
    let (platform_projects, platform): (Vec<_>, Vec<_>) = platform
        .into_iter()
        .partition(|(file, _)| file.starts_with("projects/"));
    projects.extend(platform_projects);
    projects.sort_by(|(a, _), (b, _)| a.cmp(b));
    match options.layout {
        Layout::Tree => {
            for (file, document) in projects.into_iter().chain(platform) {
                tree.add(["argocd/", &file].concat(), document);
            }
            for (environment, document) in application_sets {
                let file = ["argocd/applicationsets/", environment, ".yaml"].concat();
                tree.add(file, document);
            }
        }
        Layout::Stream => {
            // The envs' own projects, in the order of their envs, then the
            // others, in name order.
            let mut parts = own_projects;
            for (_, document) in projects {
                if let Some(last) = parts.last_mut() {
                    next_document(last);
                }
                parts.push(document);
            }
            if !parts.is_empty() {
                tree.add(
                    "argocd/projects.yaml".to_string(),
                    Content::from_parts(parts),
                );
            }
            if !platform.is_empty() {
                let documents = platform.iter().map(|(_, document)| document.as_str());
                tree.add("argocd/platform.yaml".to_string(), stream(documents));
            }
            if !application_sets.is_empty() {
                let documents = application_sets
                    .iter()
                    .map(|(_, document)| document.as_str());
                tree.add("argocd/applicationsets.yaml".to_string(), stream(documents));
            }
        }
    }
    if model.gitops.is_some() {
        // `envk-argocd` syncs the folder: the same objects `kubectl apply
        // -k` takes.
        let resources = tree
            .files
            .range::<str, _>((
                std::ops::Bound::Included("argocd/"),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(path, _)| path.starts_with("argocd/"))
            .map(|(path, _)| path["argocd/".len()..].to_string())
            .collect();
        tree.add(
            "argocd/kustomization.yaml".to_string(),
            kubernetes::kustomization(resources, &[]),
        );
    }
    tree.add(
        NAMESPACES_FILE.to_string(),
        namespaces_file(model, &retired),
    );
    let (summary, report) = summary;
    tree.add(crate::summary::PATH.to_string(), summary);
    if let Some(report) = report {
        tree.add(report::PATH.to_string(), report);
    }
    tree.add(
        "global/prometheus-federation.yaml".to_string(),
        prometheus::federation(model),
    );
    tree
}

/// One env's files in the tree layout, each with its path in the tree.
struct EnvFiles<'m> {
    env: &'m Env,
    files: Vec<(String, String)>,
    /// What the cluster's kustomization lists: paths in its folder.
    resources: Vec<String>,
    has_rules: bool,
}

/// DESIGN §4: one file per object. Paths are made where the files are, on
/// every core: the thread that puts the tree together only files them.
/// Returns nothing: the envs' own projects are files of the tree.
fn tree_layout(
    model: &Model,
    envs: &[&Env],
    alone: &argocd::OwnProjects,
    options: Emitting,
    tree: &mut Tree,
) -> Vec<String> {
    // One cache of rule tests for every piece.
    let tests = prometheus::RuleTests::default();
    let pieces = crate::parallel::map_pieces(envs, |piece| {
        let mut specs = kubernetes::SpecTexts::default();
        piece
            .iter()
            .map(|env| tree_files(env, alone, options, &mut specs, &tests))
            .collect::<Vec<_>>()
    });
    let files = pieces.into_iter().flatten();
    let mut by_cluster: BTreeMap<&str, Vec<EnvFiles>> = BTreeMap::new();
    for env in files {
        by_cluster
            .entry(env.env.cluster.name.as_str())
            .or_default()
            .push(env);
    }
    // Tens of thousands of paths: sorted once and the map built from them
    // in one pass, rather than one insert each.
    let mut all = Vec::with_capacity(envs.len() * 12);
    for cluster in model.clusters.values() {
        let mut resources = Vec::new();
        let mut has_rules = false;
        let start = all.len();
        for files in by_cluster.remove(cluster.name.as_str()).unwrap_or_default() {
            has_rules |= files.has_rules;
            resources.extend(files.resources);
            all.extend(files.files);
        }
        let mut objects = Vec::new();
        kubernetes::cluster_objects(model, cluster, options, &mut Documents::Files(&mut objects));
        for (file, document) in objects {
            let resource = ["cluster/", &file].concat();
            all.push(([&cluster.name, "/", &resource].concat(), document));
            resources.push(resource);
        }
        let cluster_rules = prometheus::cluster_rules(cluster);
        let reads_rules = has_rules || cluster_rules.is_some();
        if let Some(rules) = cluster_rules {
            all.push((
                [
                    &cluster.name,
                    "/monitoring/rules/",
                    prometheus::CLUSTER_RULES,
                ]
                .concat(),
                rules,
            ));
            let (mut items, mut untested) = (String::new(), String::new());
            prometheus::cluster_tests(cluster, &mut items, &mut untested);
            let rules = ["../rules/", prometheus::CLUSTER_RULES].concat();
            all.push((
                [
                    &cluster.name,
                    "/monitoring/tests/",
                    prometheus::CLUSTER_TESTS,
                ]
                .concat(),
                prometheus::test_file(&[&rules], &untested, &items),
            ));
        }
        if cluster.prometheus.alertmanager.is_some() {
            all.push((
                format!("{}/monitoring/{}", cluster.name, alertmanager::FILE),
                alertmanager::config(&model.alerting),
            ));
        }
        all.push((
            format!("{}/monitoring/prometheus.yaml", cluster.name),
            prometheus::cluster_config(
                model,
                cluster,
                &reads_rules
                    .then_some("rules/*.rules.yaml")
                    .into_iter()
                    .collect::<Vec<_>>(),
            ),
        ));
        let folder = cluster.name.len() + "/monitoring/".len();
        let rule_files = all[start..]
            .iter()
            .filter(|(path, _)| path[folder..].starts_with("rules/"))
            .map(|(path, text)| (&path[folder..], text.len()));
        if let Some(monitoring) = prometheus::monitoring_kustomization(cluster, rule_files) {
            all.push((
                format!("{}/monitoring/kustomization.yaml", cluster.name),
                monitoring,
            ));
            if model.gitops.is_none() {
                resources.push("monitoring".to_string());
            }
        }
        all.push((
            format!("{}/kustomization.yaml", cluster.name),
            kubernetes::kustomization(resources, &[]),
        ));
    }
    debug_assert!(tree.files.is_empty(), "the tree layout comes first");
    let count = all.len();
    tree.files = all
        .into_iter()
        .map(|(path, text)| (path, Content::from(text)))
        .collect();
    debug_assert_eq!(tree.files.len(), count, "two objects were given one path");
    Vec::new()
}

/// One env's files in the tree layout, with what its cluster's
/// kustomization lists.
fn tree_files<'m>(
    env: &'m Env,
    alone: &argocd::OwnProjects,
    options: Emitting,
    specs: &mut kubernetes::SpecTexts<'m>,
    tests: &prometheus::RuleTests,
) -> EnvFiles<'m> {
    let mut objects = Vec::new();
    kubernetes::env_objects(env, options, &mut Documents::Files(&mut objects), specs);
    let mut rule_file = String::new();
    let mut prometheus_rule = Vec::new();
    let has_rules = prometheus::env_rules(
        env,
        options,
        &mut rule_file,
        &mut Documents::Files(&mut prometheus_rule),
    );
    let mut application = Vec::new();
    if options.argocd == ArgoCd::Applications {
        argocd::application(env, options, &mut Documents::Files(&mut application));
    }
    let mut project = Vec::new();
    argocd::own_project(env, alone, options, &mut Documents::Files(&mut project));

    let cluster = env.cluster.name.as_str();
    let mut files = EnvFiles {
        env,
        files: Vec::with_capacity(objects.len() + prometheus_rule.len() + application.len() + 1),
        resources: Vec::with_capacity(objects.len() + prometheus_rule.len()),
        has_rules,
    };
    let in_cluster = |resource: String, document: String, files: &mut EnvFiles| {
        files
            .files
            .push(([cluster, "/", &resource].concat(), document));
        files.resources.push(resource);
    };
    for (file, document) in objects {
        in_cluster(
            ["namespaces/", &env.name, "/", &file].concat(),
            document,
            &mut files,
        );
    }
    if has_rules {
        let path = [cluster, "/monitoring/rules/", &env.name, ".rules.yaml"].concat();
        files.files.push((path, rule_file));
        let (mut items, mut untested) = (String::new(), String::new());
        let alone = prometheus::SharedNames::default();
        prometheus::env_tests(env, tests, &alone, &mut items, &mut untested);
        let rules = ["../rules/", &env.name, ".rules.yaml"].concat();
        files.files.push((
            [cluster, "/monitoring/tests/", &env.name, ".test.yaml"].concat(),
            prometheus::test_file(&[&rules], &untested, &items),
        ));
    }
    for (file, document) in prometheus_rule {
        in_cluster(
            ["monitoring/prometheusrules/", &file].concat(),
            document,
            &mut files,
        );
    }
    for (file, document) in application {
        files
            .files
            .push((["argocd/applications/", &file].concat(), document));
    }
    for (file, document) in project {
        files
            .files
            .push((["argocd/projects/", &file].concat(), document));
    }
    files
}

/// A piece of envs' part of one cluster's streams.
#[derive(Default)]
struct ClusterStreams {
    namespaces: String,
    /// Rule groups, each a `- ` item of the rule file's `groups`.
    groups: String,
    /// Their tests, each a `- ` item of the test file's `tests`, and the
    /// comments naming the rules left untested.
    tests: String,
    untested: String,
    prometheus_rules: String,
    applications: String,
}

impl ClusterStreams {
    fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.groups.is_empty()
            && self.prometheus_rules.is_empty()
            && self.applications.is_empty()
    }

    /// Room for `envs` envs in all, each about the size of those written
    /// so far: the envs of one cluster write documents of much the same
    /// size, and a part grown by doubling copies itself at every step and
    /// leaves each old buffer resident.
    fn reserve_for(&mut self, envs: usize) {
        for stream in [
            &mut self.namespaces,
            &mut self.groups,
            &mut self.tests,
            &mut self.prometheus_rules,
            &mut self.applications,
        ] {
            // A tenth more, for names longer than the first env's. Not
            // more: room never written still costs resident memory where
            // it lands in pages freed earlier (bench/README.md).
            stream.reserve(stream.len() * envs * 11 / 10);
        }
    }
}

/// One cluster's streams, as the parts its pieces of envs wrote.
#[derive(Default)]
struct StreamParts {
    namespaces: Vec<String>,
    groups: Vec<String>,
    tests: Vec<String>,
    untested: String,
    prometheus_rules: Vec<String>,
    applications: Vec<String>,
}

impl StreamParts {
    /// Appends the next piece's part.
    fn push(&mut self, piece: ClusterStreams) {
        for (parts, part) in [
            (&mut self.namespaces, piece.namespaces),
            (&mut self.prometheus_rules, piece.prometheus_rules),
            (&mut self.applications, piece.applications),
        ] {
            if part.is_empty() {
                continue;
            }
            if let Some(last) = parts.last_mut() {
                next_document(last);
            }
            parts.push(part);
        }
        if !piece.groups.is_empty() {
            self.groups.push(piece.groups);
        }
        if !piece.tests.is_empty() {
            self.tests.push(piece.tests);
        }
        self.untested.push_str(&piece.untested);
    }
}

/// Per cluster, one multi-document file per group: `namespaces.yaml`
/// (every namespaced object), `monitoring/prometheusrules.yaml`,
/// `argocd.yaml` (the Applications deploying to it), and one rule file
/// with every env's group. Each thread writes its pieces of envs straight
/// into their parts of the streams, and each file is its parts in order:
/// no document is kept on its own, and no stream is copied to join it.
/// Returns the envs' own projects, as parts of one YAML stream in env
/// order, for `argocd/projects.yaml`.
fn stream_layout(
    model: &Model,
    envs: &[&Env],
    alone: &argocd::OwnProjects,
    options: Emitting,
    tree: &mut Tree,
) -> Vec<String> {
    // One cache of rule tests for every piece.
    let tests = prometheus::RuleTests::default();
    let shared = prometheus::SharedNames::of(envs);
    let pieces = crate::parallel::map_pieces(envs, |piece| {
        let room_for = envs_per_cluster(piece);
        let mut streams: BTreeMap<&str, ClusterStreams> = BTreeMap::new();
        let mut projects = String::new();
        let mut specs = kubernetes::SpecTexts::default();
        let mut rule_file = String::new();
        for env in piece {
            let part = streams.entry(env.cluster.name.as_str()).or_default();
            let first = part.is_empty();
            kubernetes::env_objects(
                env,
                options,
                &mut Documents::Stream(&mut part.namespaces),
                &mut specs,
            );
            rule_file.clear();
            let mut prometheus_rules = Documents::Stream(&mut part.prometheus_rules);
            if prometheus::env_rules(env, options, &mut rule_file, &mut prometheus_rules) {
                let group = rule_file
                    .strip_prefix(prometheus::RULE_FILE_HEAD)
                    .expect("a rule file starts with its groups");
                part.groups.push_str(group);
                prometheus::env_tests(env, &tests, &shared, &mut part.tests, &mut part.untested);
            }
            if options.argocd == ArgoCd::Applications {
                let applications = &mut Documents::Stream(&mut part.applications);
                argocd::application(env, options, applications);
            }
            argocd::own_project(env, alone, options, &mut Documents::Stream(&mut projects));
            if first {
                part.reserve_for(room_for[env.cluster.name.as_str()]);
            }
        }
        (streams, projects)
    });
    let mut streams: BTreeMap<&str, StreamParts> = BTreeMap::new();
    let mut own_projects: Vec<String> = Vec::new();
    for (piece, projects) in pieces {
        for (cluster, part) in piece {
            streams.entry(cluster).or_default().push(part);
        }
        if projects.is_empty() {
            continue;
        }
        if let Some(last) = own_projects.last_mut() {
            next_document(last);
        }
        own_projects.push(projects);
    }
    for cluster in model.clusters.values() {
        let name = &cluster.name;
        let mut streams = streams.remove(name.as_str()).unwrap_or_default();
        let mut resources = Vec::new();
        if !streams.namespaces.is_empty() {
            let namespaces = Content::from_parts(streams.namespaces);
            tree.add(format!("{name}/namespaces.yaml"), namespaces);
            resources.push("namespaces.yaml".to_string());
        }
        let mut cluster_objects = String::new();
        kubernetes::cluster_objects(
            model,
            cluster,
            options,
            &mut Documents::Stream(&mut cluster_objects),
        );
        if !cluster_objects.is_empty() {
            tree.add(format!("{name}/cluster.yaml"), cluster_objects);
            resources.push("cluster.yaml".to_string());
        }
        let has_rules = !streams.groups.is_empty();
        if has_rules {
            let mut rule_file = Vec::with_capacity(1 + streams.groups.len());
            rule_file.push(prometheus::RULE_FILE_HEAD.to_string());
            rule_file.extend(streams.groups);
            let rule_file = Content::from_parts(rule_file);
            tree.add(format!("{name}/monitoring/rules.yaml"), rule_file);
            let path = "monitoring/prometheusrules.yaml";
            let prometheus_rules = Content::from_parts(streams.prometheus_rules);
            tree.add(format!("{name}/{path}"), prometheus_rules);
            resources.push(path.to_string());
        }
        if !streams.applications.is_empty() {
            let applications = Content::from_parts(streams.applications);
            // With a `gitops` block, `envk-argocd` syncs them from its folder.
            let path = match model.gitops {
                Some(_) => format!("argocd/applications/{name}.yaml"),
                None => format!("{name}/argocd.yaml"),
            };
            tree.add(path, applications);
        }
        let mut rule_files = Vec::with_capacity(2);
        let mut sizes = Vec::with_capacity(2);
        if has_rules {
            rule_files.push("rules.yaml");
            let path = [name, "/monitoring/rules.yaml"].concat();
            sizes.push(("rules.yaml", tree.files[&path].len()));
        }
        if let Some(rules) = prometheus::cluster_rules(cluster) {
            sizes.push((prometheus::CLUSTER_RULES, rules.len()));
            tree.add(
                [name, "/monitoring/", prometheus::CLUSTER_RULES].concat(),
                rules,
            );
            rule_files.push(prometheus::CLUSTER_RULES);
            let mut items = String::new();
            prometheus::cluster_tests(cluster, &mut items, &mut streams.untested);
            if !items.is_empty() {
                streams.tests.push(items);
            }
        }
        if !rule_files.is_empty() {
            // Its head, then every env's tests and the cluster's, as parts.
            let mut parts = Vec::with_capacity(1 + streams.tests.len());
            match streams.tests.is_empty() {
                true => parts.push(prometheus::test_file(&rule_files, &streams.untested, "")),
                false => {
                    parts.push(prometheus::test_file_head(&rule_files, &streams.untested));
                    parts.extend(std::mem::take(&mut streams.tests));
                }
            }
            tree.add(
                [name, "/monitoring/", prometheus::STREAM_TESTS].concat(),
                Content::from_parts(parts),
            );
        }
        tree.add(
            format!("{name}/monitoring/prometheus.yaml"),
            prometheus::cluster_config(model, cluster, &rule_files),
        );
        if cluster.prometheus.alertmanager.is_some() {
            tree.add(
                [name, "/monitoring/", alertmanager::FILE].concat(),
                alertmanager::config(&model.alerting),
            );
        }
        if let Some(monitoring) = prometheus::monitoring_kustomization(cluster, sizes.into_iter()) {
            tree.add(format!("{name}/monitoring/kustomization.yaml"), monitoring);
            if model.gitops.is_none() {
                resources.push("monitoring".to_string());
            }
        }
        tree.add(
            format!("{name}/kustomization.yaml"),
            kubernetes::kustomization(resources, &[]),
        );
    }
    own_projects
}

fn envs_per_cluster<'m>(envs: &[&'m Env]) -> BTreeMap<&'m str, usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for env in envs {
        *counts.entry(env.cluster.name.as_str()).or_default() += 1;
    }
    counts
}

/// Documents joined into one YAML stream.
fn stream<'d>(documents: impl IntoIterator<Item = &'d str>) -> String {
    let mut text = String::new();
    for document in documents {
        next_document(&mut text);
        text.push_str(document);
    }
    text
}

/// Starts the next document of a YAML stream: a `---` line, unless it is
/// the first.
fn next_document(stream: &mut String) {
    if !stream.is_empty() {
        stream.push_str("---\n");
    }
}

/// Serializes one document, readable alike by YAML 1.2 and 1.1 readers.
/// Serialization of plain structs cannot fail; a failure is a bug, not a
/// user error.
fn yaml<T: serde::Serialize>(value: &T) -> String {
    // Most documents are a few hundred bytes: one allocation, not five.
    let mut text = String::with_capacity(1024);
    yaml_into(value, &mut text);
    text
}

/// Appends one document to `out`, and says whether the fast serializer
/// wrote it: only its text may be moved under a key
/// (`yaml::block_field_into`).
fn yaml_into<T: serde::Serialize>(value: &T, out: &mut String) -> bool {
    let fast = yaml::to_string_into(value, out).is_ok();
    if !fast {
        out.push_str(&slow_yaml(value));
    }
    fast
}

/// serde_yaml, then the YAML 1.1 pass: the reference the fast serializer
/// reproduces, and its fallback.
pub fn slow_yaml<T: serde::Serialize>(value: &T) -> String {
    let text = serde_yaml::to_string(value).expect("plain data always serializes to YAML");
    yaml11::quote_for_yaml_1_1(text)
}

/// The annotations of an object: the user's, plus its source when asked,
/// and its sync wave when envk's Applications deploy it. A namespace is
/// never pruned nor deleted by Argo CD: removing an env from the program
/// must not delete its workloads.
fn annotations(
    base: &TextMap,
    source: &Source,
    options: Emitting,
    wave: Wave,
) -> Option<BTreeMap<String, String>> {
    let mut annotations = base.to_btree_map();
    if options.provenance {
        annotations.insert(SOURCE_ANNOTATION.to_string(), source.to_string());
    }
    if options.sync_waves {
        annotations.insert(SYNC_WAVE.to_string(), wave.as_str().to_string());
        if wave == Wave::Namespace {
            annotations.insert(
                SYNC_OPTIONS.to_string(),
                "Prune=false,Delete=false".to_string(),
            );
        }
    }
    (!annotations.is_empty()).then_some(annotations)
}
