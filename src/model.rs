//! The checked program: plain, fully resolved data.
//!
//! This is the one contract between checking and emitting. Everything here
//! has already been proven consistent by `check` (quotas, access, network,
//! alerts, placement); emitters read it and never report user errors.
//! No spans and no AST: each item keeps only the `Source` (file and line) it
//! came from, for provenance in the output. Maps are ordered (BTreeMap) so
//! that iteration order, and so output, never depends on declaration order.

use std::collections::BTreeMap;
use std::fmt;

/// Each Pod Security Admission mode's namespace label, and its version's:
/// written on every namespace from its tier's `pod_security`.
pub const POD_SECURITY_LABELS: [(&str, &str); 3] = [
    (
        "pod-security.kubernetes.io/enforce",
        "pod-security.kubernetes.io/enforce-version",
    ),
    (
        "pod-security.kubernetes.io/audit",
        "pod-security.kubernetes.io/audit-version",
    ),
    (
        "pod-security.kubernetes.io/warn",
        "pod-security.kubernetes.io/warn-version",
    ),
];

/// Where an item was declared, for `envk.dev/source: FILE:LINE`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub file: std::sync::Arc<str>,
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// Each shared with the envs placed on it.
    pub clusters: BTreeMap<String, std::sync::Arc<Cluster>>,
    /// Each shared with the envs of the tier.
    pub tiers: BTreeMap<String, std::sync::Arc<Tier>>,
    /// Each shared with the envs that grant it.
    pub roles: BTreeMap<String, std::sync::Arc<Role>>,
    /// Keyed by namespace name, then cluster: a namespace on several
    /// clusters is one env on each. Each env is boxed where it was
    /// checked, on whichever core: putting the Model together then moves
    /// a pointer, not the env's several hundred bytes.
    pub envs: BTreeMap<EnvKey, Box<Env>>,
    /// The namespaces envk does not manage that rules may name, one per
    /// external and cluster it is declared on, by external then cluster.
    pub externals: Vec<std::sync::Arc<External>>,
    /// `grant … on cluster …`: cluster-wide bindings, by cluster then in
    /// the order written, each once per cluster and cluster role.
    pub cluster_bindings: Vec<ClusterBinding>,
    /// Where the build is committed: with it, envk writes the platform
    /// Applications that deploy its output.
    pub gitops: Option<GitOps>,
    /// What the central Prometheus pulls from each cluster's.
    pub federation: Federation,
    /// Where the clusters' Alertmanagers send alerts: the same receivers
    /// and routes for every cluster whose Prometheus sends to one.
    pub alerting: Alerting,
    /// The program's policies, by name, as they held.
    pub policies: Vec<PolicyOutcome>,
    /// `waive …` lines, in the order written.
    pub waivers: Vec<Waiver>,
}

/// A policy and how the program fared against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyOutcome {
    pub name: String,
    pub description: Option<String>,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The objects it checked (its outermost quantifier's elements; one,
    /// the program, for a policy without one).
    pub covers: usize,
    /// Of those, the ones with no violation.
    pub passes: usize,
    /// Violations waived.
    pub waived: usize,
    pub source: Source,
}

/// `waive POLICY for KIND NAME because "…"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiver {
    pub policy: String,
    /// `env`, `cluster`, …
    pub kind: &'static str,
    pub target: String,
    pub reason: String,
    /// The violations it waived.
    pub waived: usize,
    pub source: Source,
}

/// The program's receivers and routes: Alertmanager's route tree, one
/// level deep, by the `team` and `severity` labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alerting {
    /// By name.
    pub receivers: BTreeMap<String, Receiver>,
    /// In the order Alertmanager tries them, which is not the order they
    /// were written in: most specific first (team and severity, then team,
    /// then severity), each kind sorted by its values. No two have the
    /// same matchers and routes of one kind never both match an alert, so
    /// this order decides nothing the program did not say.
    pub routes: Vec<Route>,
    /// `route to NAME`: where an alert no route matches goes. Without one,
    /// such an alert reaches no one ([`Alerting::UNROUTED`]), which check
    /// refuses for the alerts the program declares.
    pub default: Option<String>,
}

impl Alerting {
    /// The receiver of the route tree's root when the program names no
    /// default: it sends nowhere. Not a DNS label, so no receiver of the
    /// program can have its name.
    pub const UNROUTED: &'static str = "(unrouted)";

    /// The receiver an alert with `labels` reaches: the first route that
    /// matches, else the default; `None` for no one.
    pub fn receiver_of(&self, labels: &TextMap) -> Option<&str> {
        match self.routes.iter().find(|route| route.matches(labels)) {
            Some(route) => Some(&route.receiver),
            None => self.default.as_deref(),
        }
    }
}

/// `route team "devops" severity critical to devops-pager`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub team: Option<String>,
    pub severity: Option<String>,
    pub receiver: String,
    pub source: Source,
}

impl Route {
    /// Whether an alert with `labels` takes this route: each matcher's
    /// label equals its value (a label the alert lacks is empty, as in
    /// Alertmanager, and no matcher's value is empty).
    pub fn matches(&self, labels: &TextMap) -> bool {
        let equal = |label: &str, value: &Option<String>| {
            value
                .as_deref()
                .is_none_or(|value| labels.get(label).map(String::as_str) == Some(value))
        };
        equal("team", &self.team) && equal("severity", &self.severity)
    }

    /// The matchers, as Alertmanager's `matchers` list writes them.
    pub fn matchers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [("team", &self.team), ("severity", &self.severity)]
            .into_iter()
            .filter_map(|(label, value)| Some((label, value.as_deref()?)))
    }

    /// The order Alertmanager tries routes in: team and severity, then
    /// team, then severity; within each, by team, then severity.
    pub fn order_key(&self) -> (u8, Option<&str>, Option<&str>) {
        let kind = match (&self.team, &self.severity) {
            (Some(_), Some(_)) => 0,
            (Some(_), None) => 1,
            (None, Some(_)) => 2,
            (None, None) => 3,
        };
        (kind, self.team.as_deref(), self.severity.as_deref())
    }
}

/// `receiver NAME { … }`: where Alertmanager sends what is routed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    /// One of each kind at most, in the order pagerduty, slack, email,
    /// webhook.
    pub integrations: Vec<Integration>,
    pub source: Source,
}

/// One way a receiver sends: a secret is always a file Alertmanager reads
/// (a Secret mounted into its pod), never text in the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integration {
    PagerDuty {
        routing_key_file: String,
        send_resolved: Option<bool>,
    },
    Slack {
        channel: Option<String>,
        api_url_file: String,
        send_resolved: Option<bool>,
    },
    Email {
        to: String,
        from: String,
        /// `host:port`.
        smarthost: String,
        auth_username: Option<String>,
        auth_password_file: Option<String>,
        require_tls: Option<bool>,
        send_resolved: Option<bool>,
    },
    Webhook {
        url: String,
        /// Sent as `Authorization: Bearer <the file's text>`.
        credentials_file: Option<String>,
        send_resolved: Option<bool>,
    },
}

impl Integration {
    /// The secret files it reads, for the docs of what to mount.
    pub fn secret_files(&self) -> impl Iterator<Item = &str> {
        let files: [Option<&String>; 2] = match self {
            Integration::PagerDuty {
                routing_key_file, ..
            } => [Some(routing_key_file), None],
            Integration::Slack { api_url_file, .. } => [Some(api_url_file), None],
            Integration::Email {
                auth_password_file, ..
            } => [auth_password_file.as_ref(), None],
            Integration::Webhook {
                credentials_file, ..
            } => [credentials_file.as_ref(), None],
        };
        files.into_iter().flatten().map(String::as_str)
    }
}

/// The central Prometheus' federation of the clusters' Prometheus
/// servers: the series it asks each for, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Federation {
    /// Series selectors, each a `match[]` parameter of `/federate`.
    pub matches: Vec<String>,
    pub scrape_interval: Duration,
}

impl Default for Federation {
    /// The aggregates each cluster records per namespace
    /// (`namespace:…`), and whether its targets are up: not every series
    /// of every cluster, the overhead the seed article regrets.
    fn default() -> Federation {
        Federation {
            matches: Federation::DEFAULT_MATCHES
                .iter()
                .map(|m| m.to_string())
                .collect(),
            scrape_interval: Federation::DEFAULT_SCRAPE_INTERVAL,
        }
    }
}

impl Federation {
    pub const DEFAULT_MATCHES: [&'static str; 2] = ["{__name__=~\"namespace:.*\"}", "up"];
    pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration(60_000);
}

/// The Argo CD project of `envk-argocd`, with a `gitops` block.
pub const PLATFORM_PROJECT: &str = "platform";

/// The Argo CD project of a cluster's platform Application,
/// `envk-<cluster>`.
pub fn platform_project(cluster: &str) -> String {
    [PLATFORM_PROJECT, "-", cluster].concat()
}

/// With a `gitops` block, the Application of the ConfigMaps of a
/// cluster's Prometheus files, and its project. The dot keeps them apart
/// from every name of a cluster's or an env's, which are DNS labels.
pub fn monitoring_application(cluster: &str) -> String {
    ["envk-", cluster, ".monitoring"].concat()
}

pub fn monitoring_project(cluster: &str) -> String {
    [PLATFORM_PROJECT, "-", cluster, ".monitoring"].concat()
}

/// The `gitops` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitOps {
    pub repo: String,
    pub revision: String,
    /// The build's folder in the repository; `<path>/<cluster>` is each
    /// cluster's.
    pub path: String,
    /// The cluster that runs Argo CD.
    pub argocd_server: String,
    pub source: Source,
}

/// A ClusterRoleBinding of a cluster role on one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterBinding {
    pub name: String,
    pub cluster: String,
    /// The ClusterRole, shared by the clusters it is granted on.
    pub role: std::sync::Arc<Role>,
    pub subjects: Vec<Subject>,
    pub source: Source,
}

/// An env's identity: its namespace's name, then its cluster's (a name
/// is unique per cluster), in that order so that the envs of one name
/// sit together.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvKey {
    pub name: String,
    pub cluster: String,
}

impl Model {
    /// The env named `name`, on the first of its clusters by name.
    pub fn env(&self, name: &str) -> Option<&Env> {
        let from = EnvKey {
            name: name.to_string(),
            cluster: String::new(),
        };
        self.envs
            .range(from..)
            .next()
            .filter(|(key, _)| key.name == name)
            .map(|(_, env)| env.as_ref())
    }

    /// The envs on `cluster`, in the Model's order.
    pub fn envs_on<'m>(&'m self, cluster: &'m str) -> impl Iterator<Item = &'m Env> {
        self.envs
            .values()
            .map(Box::as_ref)
            .filter(move |env| env.cluster.name == cluster)
    }
}

/// The RBAC verbs that change objects; `"*"` is each of them.
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Whether an RBAC verb changes objects.
pub fn writes(verb: &str) -> bool {
    verb == "*" || WRITE_VERBS.contains(&verb)
}

/// A namespace envk does not create (an ingress controller's, Prometheus',
/// Argo CD's) on one cluster: rules select it by its name alone, never by
/// a label its owner could set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    /// The external's declared name.
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    /// What it counts as for `accept from`.
    pub environment: Environment,
    pub source: Source,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub const ALL: [Environment; 3] = [
        Environment::Development,
        Environment::Staging,
        Environment::Production,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    pub fn parse(text: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurity {
    pub const ALL: [PodSecurity; 3] = [
        PodSecurity::Privileged,
        PodSecurity::Baseline,
        PodSecurity::Restricted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Privileged => "privileged",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Restricted => "restricted",
        }
    }
}

/// A Kubernetes quantity in its base unit: milli-cores for cpu, bytes for
/// memory and storage, plain numbers for counts.
pub type Quantity = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Cpu,
    Memory,
    Count,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Cpu => "cpu",
            Dimension::Memory => "memory",
            Dimension::Count => "count",
        }
    }

    /// Kubernetes' canonical form: `10`, `500m`, `20Gi`, `1G`, `50`.
    pub fn format(self, value: Quantity) -> String {
        match self {
            Dimension::Cpu if value % 1000 == 0 => with_suffix(value / 1000, ""),
            Dimension::Cpu => with_suffix(value, "m"),
            Dimension::Memory => format_bytes(value),
            Dimension::Count => with_suffix(value, ""),
        }
    }

    /// An amount for a message: Kubernetes' canonical form, and for memory
    /// that is no whole number of a unit, its bytes with the nearest
    /// binary unit (`21474836224 bytes (about 20Gi)`), which reads where a
    /// bare byte count does not.
    pub fn amount(self, value: Quantity) -> String {
        let canonical = self.format(value);
        if self != Dimension::Memory || value < 1024 || value % 1000 == 0 || value % 1024 == 0 {
            return match (self, value) {
                (Dimension::Memory, 0..1024) => format!("{canonical} bytes"),
                _ => canonical,
            };
        }
        let (unit, size) = BINARY_UNITS
            .into_iter()
            .find(|(_, size)| value >= *size)
            .expect("at least 1Ki");
        let tenths = (u128::from(value) * 10 + u128::from(size) / 2) / u128::from(size);
        let about = match tenths % 10 {
            0 => format!("{}{unit}", tenths / 10),
            fraction => format!("{}.{fraction}{unit}", tenths / 10),
        };
        format!("{canonical} bytes (about {about})")
    }
}

/// `value` in decimal, then `suffix`. Written out rather than through
/// `format!`: a build formats every quantity of every env.
fn with_suffix(value: u64, suffix: &str) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = &digits[start..];
    let mut text = String::with_capacity(digits.len() + suffix.len());
    text.extend(digits.iter().map(|&digit| char::from(digit)));
    text.push_str(suffix);
    text
}

/// Kubernetes' binary suffixes, largest first.
const BINARY_UNITS: [(&str, u64); 6] = [
    ("Ei", 1 << 60),
    ("Pi", 1 << 50),
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
];

fn format_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_string();
    }
    const DECIMAL: [(&str, u64); 6] = [
        ("E", 1_000_000_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ];
    for (suffix, size) in BINARY_UNITS.into_iter().chain(DECIMAL) {
        if bytes % size == 0 {
            return with_suffix(bytes / size, suffix);
        }
    }
    with_suffix(bytes, "")
}

/// The keys of a ResourceQuota's `hard` (and of a tier's ceiling), in the
/// order Kubernetes users usually write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaKey {
    RequestsCpu,
    RequestsMemory,
    LimitsCpu,
    LimitsMemory,
    RequestsStorage,
    RequestsEphemeralStorage,
    LimitsEphemeralStorage,
    Pods,
    Services,
    ServicesLoadBalancers,
    ServicesNodePorts,
    ConfigMaps,
    Secrets,
    PersistentVolumeClaims,
    ReplicationControllers,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 15] = [
        QuotaKey::RequestsCpu,
        QuotaKey::RequestsMemory,
        QuotaKey::LimitsCpu,
        QuotaKey::LimitsMemory,
        QuotaKey::RequestsStorage,
        QuotaKey::RequestsEphemeralStorage,
        QuotaKey::LimitsEphemeralStorage,
        QuotaKey::Pods,
        QuotaKey::Services,
        QuotaKey::ServicesLoadBalancers,
        QuotaKey::ServicesNodePorts,
        QuotaKey::ConfigMaps,
        QuotaKey::Secrets,
        QuotaKey::PersistentVolumeClaims,
        QuotaKey::ReplicationControllers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKey::RequestsCpu => "requests.cpu",
            QuotaKey::RequestsMemory => "requests.memory",
            QuotaKey::LimitsCpu => "limits.cpu",
            QuotaKey::LimitsMemory => "limits.memory",
            QuotaKey::RequestsStorage => "requests.storage",
            QuotaKey::RequestsEphemeralStorage => "requests.ephemeral-storage",
            QuotaKey::LimitsEphemeralStorage => "limits.ephemeral-storage",
            QuotaKey::Pods => "pods",
            QuotaKey::Services => "services",
            QuotaKey::ServicesLoadBalancers => "services.loadbalancers",
            QuotaKey::ServicesNodePorts => "services.nodeports",
            QuotaKey::ConfigMaps => "configmaps",
            QuotaKey::Secrets => "secrets",
            QuotaKey::PersistentVolumeClaims => "persistentvolumeclaims",
            QuotaKey::ReplicationControllers => "replicationcontrollers",
        }
    }

    pub fn dimension(self) -> Dimension {
        match self {
            QuotaKey::RequestsCpu | QuotaKey::LimitsCpu => Dimension::Cpu,
            QuotaKey::RequestsMemory
            | QuotaKey::LimitsMemory
            | QuotaKey::RequestsStorage
            | QuotaKey::RequestsEphemeralStorage
            | QuotaKey::LimitsEphemeralStorage => Dimension::Memory,
            QuotaKey::Pods
            | QuotaKey::Services
            | QuotaKey::ServicesLoadBalancers
            | QuotaKey::ServicesNodePorts
            | QuotaKey::ConfigMaps
            | QuotaKey::Secrets
            | QuotaKey::PersistentVolumeClaims
            | QuotaKey::ReplicationControllers => Dimension::Count,
        }
    }

    pub fn parse(text: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|key| key.as_str() == text)
    }

    /// `limits.cpu` for `requests.cpu`: the pairs that must be ordered.
    pub fn limit_of(self) -> Option<QuotaKey> {
        match self {
            QuotaKey::RequestsCpu => Some(QuotaKey::LimitsCpu),
            QuotaKey::RequestsMemory => Some(QuotaKey::LimitsMemory),
            QuotaKey::RequestsEphemeralStorage => Some(QuotaKey::LimitsEphemeralStorage),
            _ => None,
        }
    }
}

/// A key of a small fixed set (a quota key, a LimitRange resource), by
/// which a `KeyMap` is indexed.
pub trait TableKey: Copy + 'static {
    /// Every key, each at its `index`.
    const ALL: &'static [Self];
    fn index(self) -> usize;
}

/// A value per key of a small fixed set, kept in a table indexed by the
/// key: a quota has at most fifteen keys and a LimitRange item four, and
/// every env copies its quota's and its limit range's tables and the spans
/// of their keys, where a B-tree was a node to allocate, clone and free
/// per env. Iterates in key order, like a `BTreeMap`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyMap<K, V, const N: usize> {
    /// Bit `i`: whether the key at index `i` is set. Unset slots hold
    /// `V::default()` (nothing is removed), so equality and hashing may
    /// look at every slot.
    set: u32,
    values: [V; N],
    key: std::marker::PhantomData<K>,
}

pub type QuotaMap<V> = KeyMap<QuotaKey, V, { QuotaKey::ALL.len() }>;
pub type ResourceList = QuotaMap<Quantity>;

impl<K: TableKey, V: Copy + Default, const N: usize> KeyMap<K, V, N> {
    pub fn new() -> Self {
        const { assert!(N <= 32, "one bit per key") };
        KeyMap {
            set: 0,
            values: [V::default(); N],
            key: std::marker::PhantomData,
        }
    }

    fn has(&self, index: usize) -> bool {
        self.set & (1 << index) != 0
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let index = key.index();
        self.has(index).then(|| &self.values[index])
    }

    /// Sets `key`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let index = key.index();
        let old = self.has(index).then_some(self.values[index]);
        self.values[index] = value;
        self.set |= 1 << index;
        old
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.has(key.index())
    }

    pub fn is_empty(&self) -> bool {
        self.set == 0
    }

    /// The keys set and their values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        (0..N)
            .filter(|&index| self.has(index))
            .map(|index| (K::ALL[index], &self.values[index]))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> {
        let set = self.set;
        K::ALL
            .iter()
            .zip(&mut self.values)
            .enumerate()
            .filter(move |(index, _)| set & (1 << index) != 0)
            .map(|(_, (&key, value))| (key, value))
    }
}

impl<K: TableKey, V: Copy + Default, const N: usize> Default for KeyMap<K, V, N> {
    fn default() -> Self {
        KeyMap::new()
    }
}

impl<K: TableKey, V: Copy + Default, const N: usize> IntoIterator for KeyMap<K, V, N> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
            .map(|(key, &value)| (key, value))
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl<K: TableKey, V: Copy + Default, const N: usize> Extend<(K, V)> for KeyMap<K, V, N> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl<K: TableKey, V: Copy + Default, const N: usize> FromIterator<(K, V)> for KeyMap<K, V, N> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = KeyMap::new();
        map.extend(entries);
        map
    }
}

impl<K: TableKey, V: Copy + Default, const N: usize> std::ops::Index<&K> for KeyMap<K, V, N> {
    type Output = V;

    fn index(&self, key: &K) -> &V {
        self.get(key).expect("the key is set")
    }
}

impl<K: TableKey + std::fmt::Debug, V: Copy + Default + std::fmt::Debug, const N: usize>
    std::fmt::Debug for KeyMap<K, V, N>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Text keyed by text, in key order: labels and annotations. A sorted
/// vector rather than a `BTreeMap`: these hold a handful of entries, and a
/// B-tree's first node alone takes 540 bytes (a thousand envs and their
/// alert rules kept 8 MB of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextMap(Vec<(String, String)>);

impl TextMap {
    pub fn new() -> TextMap {
        TextMap(Vec::new())
    }

    /// Room for `entries` entries: an alert rule's labels and annotations,
    /// kept for thousands of rules, hold one or two, where a vector's
    /// first growth makes room for four.
    pub fn with_capacity(entries: usize) -> TextMap {
        TextMap(Vec::with_capacity(entries))
    }

    /// Room for `entries` more entries, and no more.
    pub fn reserve_exact(&mut self, entries: usize) {
        self.0.reserve_exact(entries);
    }

    /// Sets `key`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|at| &self.0[at].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The entries as the map Kubernetes object metadata holds.
    pub fn to_btree_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl std::ops::Index<&str> for TextMap {
    type Output = String;

    fn index(&self, key: &str) -> &String {
        self.get(key).expect("no entry for this key")
    }
}

impl FromIterator<(String, String)> for TextMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(entries: I) -> TextMap {
        let entries = entries.into_iter();
        let mut map = TextMap::with_capacity(entries.size_hint().0);
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }
}

impl serde::Serialize for TextMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub server: String,
    pub environment: Environment,
    /// The least Pod Security level of every namespace on the cluster.
    pub pod_security: Option<PodSecurity>,
    pub capacity: Capacity,
    /// What its envs' quota requests cost (`envk cost`, budgets).
    pub price: crate::cost::Price,
    pub prometheus: Prometheus,
    /// `allow_cluster_admin = true`: a cluster role with `escalate`,
    /// `bind`, `impersonate` or `*` may be granted on this production
    /// cluster.
    pub allow_cluster_admin: bool,
    pub source: Source,
}

/// What the cluster's namespaces may request in total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
    pub pods: Option<Quantity>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prometheus {
    pub scrape_interval: Duration,
    /// Where the central Prometheus federates this cluster's from.
    pub url: Option<String>,
    /// The namespace the cluster's Prometheus runs in, which may scrape
    /// the metrics ports envs declare.
    pub namespace: Option<String>,
    /// The exporters of the cluster the Prometheus scrapes beside the
    /// seed's two jobs.
    pub scrape: Exporters,
    /// The name of kube-state-metrics' Service, by which its endpoints
    /// are found.
    pub kube_state_metrics: String,
    /// Where the Prometheus sends its alerts.
    pub alertmanager: Option<AlertmanagerUrl>,
}

/// An Alertmanager's address: `http://alertmanager.monitoring.svc:9093`
/// (an in-cluster Service needs no TLS), or https.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertmanagerUrl {
    pub scheme: &'static str,
    /// `host` or `host:port`.
    pub host: String,
    /// The path it serves under, without a trailing `/`; empty for none.
    pub path: String,
}

impl Prometheus {
    pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration(15_000);
    pub const DEFAULT_KUBE_STATE_METRICS: &'static str = "kube-state-metrics";
}

/// Where the series alerts read come from: the exporters every cluster
/// has, each scraped by a job of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exporter {
    /// The kubelet's own `/metrics` (volume stats among them).
    Kubelet,
    /// cAdvisor, served by the kubelet at `/metrics/cadvisor`.
    Cadvisor,
    KubeStateMetrics,
    /// node-exporter, the seed's `kubernetes-nodes` job: always scraped.
    NodeExporter,
}

impl Exporter {
    pub const ALL: [Exporter; 4] = [
        Exporter::Kubelet,
        Exporter::Cadvisor,
        Exporter::KubeStateMetrics,
        Exporter::NodeExporter,
    ];

    /// The exporters a cluster may choose, as `scrape` lists them.
    pub const CHOSEN: [Exporter; 3] = [
        Exporter::Kubelet,
        Exporter::Cadvisor,
        Exporter::KubeStateMetrics,
    ];
    pub const WORDS: [&'static str; 3] = ["kubelet", "cadvisor", "kube_state_metrics"];

    /// As the language and messages write it.
    pub fn word(self) -> &'static str {
        match self {
            Exporter::Kubelet => "kubelet",
            Exporter::Cadvisor => "cadvisor",
            Exporter::KubeStateMetrics => "kube_state_metrics",
            Exporter::NodeExporter => "node-exporter",
        }
    }

    /// Its name in a sentence.
    pub fn name(self) -> &'static str {
        match self {
            Exporter::Kubelet => "the kubelet's",
            Exporter::Cadvisor => "cAdvisor's",
            Exporter::KubeStateMetrics => "kube-state-metrics'",
            Exporter::NodeExporter => "node-exporter's",
        }
    }

    /// Its name.
    pub fn title(self) -> &'static str {
        match self {
            Exporter::Kubelet => "the kubelet",
            Exporter::Cadvisor => "cAdvisor",
            Exporter::KubeStateMetrics => "kube-state-metrics",
            Exporter::NodeExporter => "node-exporter",
        }
    }

    /// The scrape job that reads it.
    pub fn job(self) -> &'static str {
        match self {
            Exporter::Kubelet => "kubelet",
            Exporter::Cadvisor => "cadvisor",
            Exporter::KubeStateMetrics => "kube-state-metrics",
            Exporter::NodeExporter => "kubernetes-nodes",
        }
    }
}

/// A set of [`Exporter`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exporters(u8);

impl Exporters {
    /// What a cluster scrapes unless it says otherwise: everything.
    pub const ALL: Exporters = Exporters(0b1111);
    pub const NONE: Exporters = Exporters(0);

    pub fn none_chosen() -> Exporters {
        Exporters(1 << Exporter::NodeExporter as u8)
    }

    pub fn with(self, exporter: Exporter) -> Exporters {
        Exporters(self.0 | 1 << exporter as u8)
    }

    pub fn contains(self, exporter: Exporter) -> bool {
        self.0 & (1 << exporter as u8) != 0
    }

    /// Those of `self` that `other` lacks, in [`Exporter`]'s order.
    pub fn missing_from(self, other: Exporters) -> impl Iterator<Item = Exporter> {
        Exporter::ALL
            .into_iter()
            .filter(move |exporter| self.contains(*exporter) && !other.contains(*exporter))
    }
}

/// A whole number of milliseconds, printed the way Prometheus writes
/// durations (`5m`, `1h30m`, `250ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, size) in [
            ("y", 365 * 24 * 3_600_000),
            ("w", 7 * 24 * 3_600_000),
            ("d", 24 * 3_600_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// An exact decimal fraction: `numerator / 10^scale` (90% is 9/10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub numerator: u128,
    pub scale: u32,
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let denominator = 10u128.pow(self.scale);
        let whole = self.numerator / denominator;
        let fraction = self.numerator % denominator;
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{fraction:0width$}", width = self.scale as usize);
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: String,
    pub pod_security: PodSecurity,
    /// The only environment whose clusters this tier's envs may live on.
    pub environment: Option<Environment>,
    pub ceiling: ResourceList,
    /// The most an env's quota requests may cost a month.
    pub budget: Option<crate::cost::Money>,
    pub require_alerts: Vec<String>,
    pub forbid_verbs: Vec<String>,
    pub forbid_resources: Vec<String>,
    pub forbid_wildcards: bool,
    /// `network = isolated`: deny all ingress and egress that no rule allows.
    pub isolated: bool,
    /// Environments allowed to send traffic into this tier's envs.
    pub accept_from: Vec<Environment>,
    /// `metrics on tcp 9090`: ports every env of the tier serves metrics
    /// on, which the cluster's Prometheus may reach.
    pub metrics: Vec<Port>,
    /// `self_managed = [network, rbac]`: what the tier's envs manage
    /// themselves, outside what envk proves.
    pub self_managed: SelfManaged,
    pub source: Source,
}

/// What a tier's envs may manage themselves: grants may then change their
/// NetworkPolicies (`network`) or Roles and RoleBindings (`rbac`), and
/// their Argo CD projects do not blacklist those kinds. Such a namespace's
/// reach or access is no longer what envk wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelfManaged {
    pub network: bool,
    pub rbac: bool,
}

impl SelfManaged {
    pub const WORDS: [&'static str; 2] = ["network", "rbac"];

    pub fn any(self) -> bool {
        self.network || self.rbac
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    /// Shared by the roles of one body declared in a `for` loop.
    pub rules: std::sync::Arc<[PolicyRule]>,
    pub source: Source,
}

/// One RBAC rule: a single API group, as in the seed's Role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

impl Env {
    /// The env's namespace as the other end of traffic sees it.
    pub fn endpoint(&self) -> Endpoint<'_> {
        Endpoint::Env {
            namespace: &self.name,
            environment: self.environment,
        }
    }

    /// The env's namespace with its network.
    pub fn node(&self) -> Node<'_> {
        Node {
            endpoint: self.endpoint(),
            network: Some(&self.network),
        }
    }

    /// The team the env belongs to: its `team` label, or, without one,
    /// the env alone. An Argo CD project holds one team's envs.
    pub fn team(&self) -> &str {
        self.labels.get("team").unwrap_or(&self.name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    /// The namespace.
    pub name: String,
    /// The cluster it is placed on and its tier: the Model's own, shared.
    pub cluster: std::sync::Arc<Cluster>,
    pub tier: std::sync::Arc<Tier>,
    /// The cluster's environment.
    pub environment: Environment,
    /// The level enforced on the namespace: the tier's, or the cluster's
    /// `pod_security` where that is stricter.
    pub pod_security: PodSecurity,
    /// For envs of a family (`env payments { stage dev … }`): `payments`, `dev`.
    pub family: Option<String>,
    pub stage: Option<String>,
    /// The user's labels; emitters add `environment`, `tier` and Pod Security.
    pub labels: TextMap,
    pub annotations: TextMap,
    pub quota: Option<Quota>,
    pub limits: Option<LimitRange>,
    /// Roles granted here, each emitted as a Role in this namespace: the
    /// Model's own, shared.
    pub roles: Vec<std::sync::Arc<Role>>,
    pub bindings: Vec<Binding>,
    pub network: Network,
    pub alerts: AlertGroup,
    pub deploy: Option<Deploy>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    pub name: String,
    pub hard: ResourceList,
    pub source: Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    Container,
    Pod,
    PersistentVolumeClaim,
}

impl LimitKind {
    /// The LimitRange item `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Container => "Container",
            LimitKind::Pod => "Pod",
            LimitKind::PersistentVolumeClaim => "PersistentVolumeClaim",
        }
    }
}

/// A resource of a LimitRange item: `cpu`, `memory`, `ephemeral-storage`,
/// `storage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitResource {
    Cpu,
    Memory,
    EphemeralStorage,
    Storage,
}

impl LimitResource {
    pub const ALL: [LimitResource; 4] = [
        LimitResource::Cpu,
        LimitResource::Memory,
        LimitResource::EphemeralStorage,
        LimitResource::Storage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitResource::Cpu => "cpu",
            LimitResource::Memory => "memory",
            LimitResource::EphemeralStorage => "ephemeral-storage",
            LimitResource::Storage => "storage",
        }
    }

    pub fn dimension(self) -> Dimension {
        match self {
            LimitResource::Cpu => Dimension::Cpu,
            LimitResource::Memory | LimitResource::EphemeralStorage | LimitResource::Storage => {
                Dimension::Memory
            }
        }
    }

    /// The quota key that bounds this resource's requests in a namespace.
    pub fn quota_request(self) -> Option<QuotaKey> {
        match self {
            LimitResource::Cpu => Some(QuotaKey::RequestsCpu),
            LimitResource::Memory => Some(QuotaKey::RequestsMemory),
            LimitResource::EphemeralStorage => Some(QuotaKey::RequestsEphemeralStorage),
            LimitResource::Storage => Some(QuotaKey::RequestsStorage),
        }
    }

    /// The quota key that bounds this resource's limits in a namespace.
    pub fn quota_limit(self) -> Option<QuotaKey> {
        match self {
            LimitResource::Cpu => Some(QuotaKey::LimitsCpu),
            LimitResource::Memory => Some(QuotaKey::LimitsMemory),
            LimitResource::EphemeralStorage => Some(QuotaKey::LimitsEphemeralStorage),
            LimitResource::Storage => Some(QuotaKey::RequestsStorage),
        }
    }
}

impl TableKey for QuotaKey {
    const ALL: &'static [QuotaKey] = &QuotaKey::ALL;

    fn index(self) -> usize {
        self as usize
    }
}

impl TableKey for LimitResource {
    const ALL: &'static [LimitResource] = &LimitResource::ALL;

    fn index(self) -> usize {
        self as usize
    }
}

pub type LimitMap<V> = KeyMap<LimitResource, V, { LimitResource::ALL.len() }>;
pub type LimitValues = LimitMap<Quantity>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitRange {
    pub name: String,
    pub kind: LimitKind,
    pub default: LimitValues,
    pub default_request: LimitValues,
    pub max: LimitValues,
    pub min: LimitValues,
    pub source: Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubjectKind {
    User,
    Group,
    ServiceAccount,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    pub name: String,
    /// Service accounts only.
    pub namespace: Option<String>,
}

/// `Group payments-devs`, `ServiceAccount ci/deployer`.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind.as_str(), self.name),
            None => write!(f, "{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// A RoleBinding: every `grant` of one role under one binding name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub role: String,
    pub subjects: Vec<Subject>,
    pub source: Source,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    pub protocol: Protocol,
    pub number: u16,
}

/// `"TCP 8080"`, as the READMEs and diffs write a port (`.envk/model.json`).
impl serde::Serialize for Port {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{} {}", self.protocol.as_str(), self.number))
    }
}

impl<'de> serde::Deserialize<'de> for Port {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Port, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let port = text.split_once(' ').and_then(|(protocol, number)| {
            let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
                .into_iter()
                .find(|candidate| candidate.as_str() == protocol)?;
            let number = number.parse().ok().filter(|number| *number > 0)?;
            Some(Port { protocol, number })
        });
        port.ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a port such as `TCP 8080`"))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// No restriction (egress only).
    Any,
    /// Namespaces labelled `environment: X`.
    Environment(Environment),
    /// One env's namespace.
    Env(String),
    /// An external's namespace on the rule's cluster, by its name.
    External { name: String, namespace: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NetworkRule {
    pub peer: Peer,
    /// Empty: every port.
    pub ports: Vec<Port>,
}

/// An env's network: the rules its user wrote, which make
/// `<env>-network-policy` exactly as written, and the policies envk
/// generates beside it, each a NetworkPolicy of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Network {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<NetworkRule>,
    /// `Ingress` in `<env>-network-policy`'s policyTypes: the env has
    /// ingress rules or is isolated.
    pub restrict_ingress: bool,
    /// `Egress` in `<env>-network-policy`'s policyTypes: the env has egress
    /// rules (`egress allow dns` included) or is isolated.
    pub restrict_egress: bool,
    /// `<env>-default-ingress`: for an env that wrote no ingress rule in a
    /// tier that is not isolated, the environments its tier accepts,
    /// admitted on every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ingress: Option<Vec<Environment>>,
    /// `<env>-allow-dns`, UDP and TCP 53 to kube-system: the env's egress
    /// is restricted and it did not write `egress deny dns`.
    pub allow_dns: bool,
    /// `<env>-allow-metrics`: the cluster's Prometheus namespace may reach
    /// the env's metrics ports, whatever its tier accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Box<Metrics>>,
}

/// The ports an env serves metrics on (`metrics on tcp 9090`), and the
/// namespace of the cluster's Prometheus, which scrapes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub prometheus: String,
    pub ports: Vec<Port>,
}

impl Network {
    /// Whether any NetworkPolicy of the env restricts who may connect.
    pub fn ingress_restricted(&self) -> bool {
        self.restrict_ingress || self.default_ingress.is_some()
    }

    /// Every rule that admits traffic in: the env's own, then the
    /// generated default's (one per accepted environment, every port).
    pub fn admitting(&self) -> impl Iterator<Item = std::borrow::Cow<'_, NetworkRule>> {
        let own = self.ingress.iter().map(std::borrow::Cow::Borrowed);
        let default = self.default_ingress.iter().flatten().map(|environment| {
            std::borrow::Cow::Owned(NetworkRule {
                peer: Peer::Environment(*environment),
                ports: Vec::new(),
            })
        });
        own.chain(default)
    }

    /// What this env's ingress admits from `from`'s pods, counting every
    /// NetworkPolicy of the env.
    pub fn admits_from(&self, from: &Env) -> Reach {
        self.admits(from.endpoint())
    }

    /// What this env's ingress admits from the pods of `from`, counting
    /// every NetworkPolicy of the env.
    pub fn admits(&self, from: Endpoint) -> Reach {
        if !self.ingress_restricted() {
            return Reach::All;
        }
        let rules = Reach::of_rules(self.admitting(), from);
        match &self.metrics {
            Some(metrics) if from.namespace() == metrics.prometheus => {
                rules.union(Reach::of_ports(&metrics.ports))
            }
            _ => rules,
        }
    }

    /// What this env's egress lets out to `to`'s pods (the DNS policy
    /// reaches kube-system only, never an env).
    pub fn allows_to(&self, to: &Env) -> Reach {
        self.allows(to.endpoint())
    }

    /// What this env's egress lets out to the pods of `to`.
    pub fn allows(&self, to: Endpoint) -> Reach {
        if !self.restrict_egress {
            return Reach::All;
        }
        Reach::of_rules(self.egress.iter(), to)
    }
}

/// Which ports traffic may use between two envs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    None,
    All,
    Ports(std::collections::BTreeSet<(&'static str, u16)>),
}

/// `—` (none), `all ports`, or `TCP 80, TCP 443`.
impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reach::None => f.write_str("—"),
            Reach::All => f.write_str("all ports"),
            Reach::Ports(ports) => {
                for (index, (protocol, number)) in ports.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{protocol} {number}")?;
                }
                Ok(())
            }
        }
    }
}

impl Reach {
    /// What a rule with these ports lets through: every port when none
    /// is listed.
    pub fn of_ports(ports: &[Port]) -> Reach {
        if ports.is_empty() {
            Reach::All
        } else {
            Reach::Ports(
                ports
                    .iter()
                    .map(|p| (p.protocol.as_str(), p.number))
                    .collect(),
            )
        }
    }

    /// What the rules among `rules` whose peer selects `end` let through
    /// together.
    fn of_rules<R: std::ops::Deref<Target = NetworkRule>>(
        rules: impl Iterator<Item = R>,
        end: Endpoint,
    ) -> Reach {
        rules
            .filter(|rule| rule.peer.selects_endpoint(end))
            .fold(Reach::None, |reach, rule| {
                reach.union(Reach::of_ports(&rule.ports))
            })
    }

    pub fn union(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::All, _) | (_, Reach::All) => Reach::All,
            (Reach::None, other) | (other, Reach::None) => other,
            (Reach::Ports(mut a), Reach::Ports(b)) => {
                a.extend(b);
                Reach::Ports(a)
            }
        }
    }

    pub fn intersect(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::None, _) | (_, Reach::None) => Reach::None,
            (Reach::All, other) | (other, Reach::All) => other,
            (Reach::Ports(a), Reach::Ports(b)) => {
                let both: std::collections::BTreeSet<_> = a.intersection(&b).copied().collect();
                if both.is_empty() {
                    Reach::None
                } else {
                    Reach::Ports(both)
                }
            }
        }
    }
}

/// One end of traffic, a namespace on the other end's cluster: all a
/// NetworkPolicy's peer can tell of it.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint<'a> {
    /// An env's namespace, which envk labels with its environment.
    Env {
        namespace: &'a str,
        environment: Environment,
    },
    /// A namespace envk does not label: an external's, or the cluster's
    /// Prometheus'.
    Namespace(&'a str),
}

impl Endpoint<'_> {
    pub fn namespace(&self) -> &str {
        match self {
            Endpoint::Env { namespace, .. } | Endpoint::Namespace(namespace) => namespace,
        }
    }
}

/// A namespace of one cluster, as its NetworkPolicies see it: an env's,
/// with its network, or one envk writes no policy of.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    pub endpoint: Endpoint<'a>,
    /// `None`: envk does not manage the namespace (an external, the
    /// cluster's Prometheus).
    pub network: Option<&'a Network>,
}

impl<'a> Node<'a> {
    /// A namespace envk writes no policy of.
    pub fn unmanaged(namespace: &'a str) -> Node<'a> {
        Node {
            endpoint: Endpoint::Namespace(namespace),
            network: None,
        }
    }

    /// What the NetworkPolicies let through from `self`'s pods to `to`'s:
    /// the receiver's ingress and the sender's egress must both allow it,
    /// and a namespace envk does not manage is limited only by the other
    /// end's. `None` between two such namespaces, whose policies are not
    /// envk's.
    pub fn reach(&self, to: &Node) -> Option<Reach> {
        match (self.network, to.network) {
            (Some(from), Some(into)) => Some(
                into.admits(self.endpoint)
                    .intersect(from.allows(to.endpoint)),
            ),
            (Some(from), None) => Some(from.allows(to.endpoint)),
            (None, Some(into)) => Some(into.admits(self.endpoint)),
            (None, None) => None,
        }
    }
}

/// The namespaces of `cluster` that envk does not manage but its
/// NetworkPolicies name: the externals declared on it, and its Prometheus'
/// where no env or external is that namespace. What the READMEs, the
/// summary and so the diffs and the report show paths to and from.
pub fn unmanaged_namespaces<'m>(
    model: &'m Model,
    cluster: &'m Cluster,
    envs: &[&Env],
) -> (Vec<&'m External>, Option<&'m str>) {
    let externals: Vec<&External> = model
        .externals
        .iter()
        .map(std::sync::Arc::as_ref)
        .filter(|external| external.cluster == cluster.name)
        .collect();
    let prometheus = cluster.prometheus.namespace.as_deref().filter(|namespace| {
        !envs.iter().any(|env| env.name == *namespace)
            && !externals
                .iter()
                .any(|external| external.namespace == *namespace)
    });
    (externals, prometheus)
}

impl Peer {
    /// Whether a rule with this peer selects `env`'s namespace.
    pub fn selects(&self, env: &Env) -> bool {
        self.selects_endpoint(env.endpoint())
    }

    /// Whether a rule with this peer selects `end`'s namespace. envk
    /// labels only the namespaces it creates: an `environment` selector
    /// selects envs alone, and a namespace envk does not manage is
    /// selected by its name only.
    pub fn selects_endpoint(&self, end: Endpoint) -> bool {
        match (self, end) {
            (Peer::Any, _) => true,
            (
                Peer::Environment(environment),
                Endpoint::Env {
                    environment: its, ..
                },
            ) => *environment == its,
            (Peer::Environment(_), Endpoint::Namespace(_)) => false,
            (Peer::Env(name), end) => *name == end.namespace(),
            (Peer::External { namespace, .. }, end) => *namespace == end.namespace(),
        }
    }
}

/// What the NetworkPolicies let through from `from`'s pods to `to`'s, two
/// envs of one cluster: the receiver's ingress and the sender's egress
/// must both allow it.
pub fn reach(from: &Env, to: &Env) -> Reach {
    from.node().reach(&to.node()).expect("envs are managed")
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    pub for_: Option<Duration>,
    pub labels: TextMap,
    pub annotations: TextMap,
    /// The exporters whose series the expression reads.
    pub reads: Exporters,
    /// The template's own `test { … }`, filled in for this rule.
    pub test: Option<std::sync::Arc<WrittenTest>>,
    pub source: Source,
}

/// A template's `test { … }`, for a rule envk cannot test by itself: the
/// input series, one sample a minute, and the alerts firing at `at`
/// (none at `silent_at`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenTest {
    /// `name{label="value", …}` and promtool's expanding notation.
    pub input: Vec<(String, String)>,
    pub at: Duration,
    pub silent_at: Option<Duration>,
    /// Each firing alert's labels as the expression returns them (the
    /// rule's own are added), and the value its annotations print.
    pub fires: Vec<(TextMap, SampleValue)>,
}

/// A sample's value as the program writes it: a decimal, never NaN, so
/// equal to itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleValue(pub f64);

impl Eq for SampleValue {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deploy {
    /// The Argo CD Application's name: `<env>-app`, or
    /// `<env>-<cluster>-app` for a namespace on several clusters.
    pub application: String,
    /// The Argo CD AppProject.
    pub project: String,
    pub repo: String,
    pub revision: String,
    pub path: String,
    /// `None`: manual sync.
    pub sync: Option<SyncPolicy>,
    /// What else the deploy block says, if anything: most say nothing.
    pub options: Option<Box<DeployOptions>>,
    pub source: Source,
}

/// Argo CD's options of an Application beyond its source and automated
/// sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeployOptions {
    /// Each as Argo CD takes it: `ServerSideApply=true`.
    pub sync_options: Vec<String>,
    pub retry: Option<Retry>,
    pub ignore_differences: Vec<IgnoreDifference>,
    pub helm: Option<Helm>,
    /// `kustomize { images [...] }`.
    pub kustomize_images: Vec<String>,
    /// Sources after the one `repo` and `path` give.
    pub sources: Vec<ExtraSource>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retry {
    pub limit: Option<u64>,
    pub backoff: Option<Duration>,
    pub factor: Option<u64>,
    pub max_backoff: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreDifference {
    pub group: Option<String>,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Helm {
    pub release_name: Option<String>,
    pub values_files: Vec<String>,
    /// By name.
    pub parameters: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraSource {
    pub repo: String,
    pub revision: String,
    pub path: Option<String>,
    pub reference: Option<String>,
}

impl Duration {
    /// As Go's `time.ParseDuration` reads it (`1h30m`, `500ms`): Argo CD's
    /// retry backoff. Go has no unit above the hour.
    pub fn go(self) -> String {
        if self.0 == 0 {
            return "0s".to_string();
        }
        let mut text = String::new();
        let mut rest = self.0;
        for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if rest >= size {
                text.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        text
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicy {
    pub prune: bool,
    pub self_heal: bool,
    pub create_namespace: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_map_is_indexed_and_ordered_as_its_keys_are_declared() {
        for (at, key) in QuotaKey::ALL.into_iter().enumerate() {
            assert_eq!(
                key.index(),
                at,
                "{key:?} is not at its place in QuotaKey::ALL"
            );
        }
        for (at, key) in LimitResource::ALL.into_iter().enumerate() {
            assert_eq!(
                key.index(),
                at,
                "{key:?} is not at its place in LimitResource::ALL"
            );
        }
        let mut map = ResourceList::new();
        assert!(map.is_empty());
        let mut reference = BTreeMap::new();
        for (n, key) in QuotaKey::ALL.into_iter().rev().step_by(2).enumerate() {
            assert_eq!(map.insert(key, n as u64), reference.insert(key, n as u64));
        }
        assert_eq!(
            map.insert(QuotaKey::Pods, 99),
            reference.insert(QuotaKey::Pods, 99)
        );
        let entries = |map: &ResourceList| map.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>();
        assert_eq!(
            entries(&map),
            reference.clone().into_iter().collect::<Vec<_>>()
        );
        assert_eq!(map.into_iter().collect::<Vec<_>>(), entries(&map));
        for key in QuotaKey::ALL {
            assert_eq!(map.get(&key), reference.get(&key));
            assert_eq!(map.contains_key(&key), reference.contains_key(&key));
        }
        for (_, value) in map.iter_mut() {
            *value += 1;
        }
        assert_eq!(map[&QuotaKey::Pods], 100);
        assert!(!map.is_empty());
    }

    #[test]
    fn quantities_are_formatted_as_rust_prints_their_numbers() {
        let samples = (0..2000u64).chain([
            9_999,
            10_000,
            123_456_789,
            1 << 30,
            3 << 40,
            u64::MAX / 7,
            u64::MAX,
        ]);
        for value in samples {
            assert_eq!(with_suffix(value, ""), value.to_string());
            assert_eq!(with_suffix(value, "Gi"), format!("{value}Gi"));
        }
        assert_eq!(Dimension::Cpu.format(2000), "2");
        assert_eq!(Dimension::Cpu.format(500), "500m");
        assert_eq!(Dimension::Memory.format(20 << 30), "20Gi");
        assert_eq!(Dimension::Memory.format(1_500_000), "1500k");
        assert_eq!(Dimension::Memory.format(1023), "1023");
        assert_eq!(Dimension::Memory.format(0), "0");
        assert_eq!(Dimension::Count.format(50), "50");
    }

    #[test]
    fn text_maps_keep_key_order_and_one_value_per_key() {
        let mut map: TextMap = [("team", "a"), ("app", "x"), ("tier", "t")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            map.insert("team".to_string(), "b".to_string()),
            Some("a".to_string())
        );
        assert_eq!(map.insert("env".to_string(), "p".to_string()), None);
        let keys: Vec<&String> = map.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["app", "env", "team", "tier"]);
        assert_eq!(
            (map.len(), &map["team"], map.get("nope")),
            (4, &"b".to_string(), None)
        );
        assert!(map.contains_key("env") && !TextMap::new().contains_key("env"));
    }

    #[test]
    fn amounts_in_messages_read_as_sizes() {
        assert_eq!(Dimension::Memory.amount(20 << 30), "20Gi");
        assert_eq!(Dimension::Memory.amount(1_000_000_000), "1G");
        assert_eq!(Dimension::Memory.amount(256), "256 bytes");
        assert_eq!(
            Dimension::Memory.amount((20 << 30) - 256),
            "21474836224 bytes (about 20Gi)"
        );
        assert_eq!(
            Dimension::Memory.amount(1536 + 1),
            "1537 bytes (about 1.5Ki)"
        );
        assert_eq!(Dimension::Cpu.amount(2_500), "2500m");
        assert_eq!(Dimension::Count.amount(7), "7");
    }

    #[test]
    fn quantities_print_in_kubernetes_canonical_form() {
        assert_eq!(Dimension::Cpu.format(10_000), "10");
        assert_eq!(Dimension::Cpu.format(2_500), "2500m");
        assert_eq!(Dimension::Cpu.format(200), "200m");
        assert_eq!(Dimension::Memory.format(20 << 30), "20Gi");
        assert_eq!(Dimension::Memory.format(256 << 20), "256Mi");
        assert_eq!(Dimension::Memory.format(1_000_000_000), "1G");
        assert_eq!(Dimension::Memory.format(1_500), "1500");
        assert_eq!(Dimension::Count.format(50), "50");
    }

    #[test]
    fn durations_and_ratios_print_as_prometheus_reads_them() {
        assert_eq!(Duration(300_000).to_string(), "5m");
        assert_eq!(Duration(5_400_000).to_string(), "1h30m");
        assert_eq!(Duration(15_000).to_string(), "15s");
        assert_eq!(Duration(250).to_string(), "250ms");
        assert_eq!(
            Ratio {
                numerator: 9,
                scale: 1
            }
            .to_string(),
            "0.9"
        );
        assert_eq!(
            Ratio {
                numerator: 90,
                scale: 2
            }
            .to_string(),
            "0.9"
        );
        assert_eq!(
            Ratio {
                numerator: 5,
                scale: 2
            }
            .to_string(),
            "0.05"
        );
        assert_eq!(
            Ratio {
                numerator: 1,
                scale: 0
            }
            .to_string(),
            "1"
        );
    }
}
