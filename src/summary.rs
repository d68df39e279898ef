//! What a build means, as data: `.envk/model.json`.
//!
//! `build` writes it beside the manifests so that a build folder carries
//! its meaning: `envk diff` compares two of them (it never reads meaning
//! back out of YAML), and the HTML report is drawn from one. It is the
//! Model reduced to what a reviewer asks about (who reaches whom, who may
//! do what, quotas against capacity and what they cost, alerts and where
//! they go, policies and waivers), in plain values: no spans, and no
//! secret (a receiver is named with the kinds of its integrations only).
//! Deterministic: maps are sorted, lists in the Model's order, which the
//! program's declaration order does not change. `docs/model-json.md`
//! documents every field; `FORMAT` changes when a field changes meaning.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cost::{self, Money};
use crate::model::{self, Endpoint, Environment, Model, Network, Node, QuotaKey, Reach};

/// The version of the file's layout.
pub const FORMAT: u32 = 1;

/// Where `build` writes the summary, relative to the output folder.
pub const PATH: &str = ".envk/model.json";

/// Text of the summary: borrowed from the Model when the summary is made
/// from one (a build makes it for thousands of envs, and copying each
/// name was most of its cost), owned when it is read back.
pub type Text<'a> = Cow<'a, str>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary<'a> {
    pub format: u32,
    pub clusters: BTreeMap<String, ClusterSummary<'a>>,
    /// Alertmanager routes, in the order they are matched.
    pub routes: Vec<RouteSummary>,
    /// The receiver of an alert no route matches.
    pub default_receiver: Option<String>,
    /// Receiver name → the kinds of its integrations (`pagerduty`,
    /// `slack`, `email`, `webhook`).
    pub receivers: BTreeMap<String, Vec<String>>,
    pub policies: Vec<PolicySummary>,
    pub waivers: Vec<WaiverSummary>,
    /// Every role granted in a namespace, by name, with its rules; grants
    /// name them.
    pub roles: BTreeMap<String, Vec<RuleSummary>>,
    /// Every cluster role granted cluster-wide, likewise.
    pub cluster_roles: BTreeMap<String, Vec<RuleSummary>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSummary<'a> {
    pub environment: Environment,
    pub server: String,
    /// Quantities in base units: cpu in millicores, memory in bytes.
    pub capacity: Resources,
    pub price: PriceSummary,
    pub envs: BTreeMap<Text<'a>, EnvSummary<'a>>,
    /// Namespaces the envs' NetworkPolicies name that envk does not
    /// manage: external name → its namespace.
    pub externals: BTreeMap<String, String>,
    /// The cluster's Prometheus namespace, when no env or external is it.
    pub prometheus: Option<String>,
    /// Cluster-wide grants (ClusterRoleBindings).
    pub cluster_grants: Vec<GrantSummary<'a>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpu: Option<u64>,
    pub memory: Option<u64>,
    pub pods: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSummary {
    /// Dollars per core-hour, as written (`0.031611`).
    pub cpu: String,
    /// Dollars per GiB-hour.
    pub memory: String,
    /// Where they come from.
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSummary<'a> {
    pub tier: Text<'a>,
    pub environment: Environment,
    pub pod_security: Text<'a>,
    /// The `team` label, or else the env's name: what `envk
    /// cost --by team` groups by by default.
    pub team: Text<'a>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<Text<'a>, Text<'a>>,
    /// Quota key → value in base units (cpu in millicores, memory in
    /// bytes); empty without a quota.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quota: BTreeMap<Text<'a>, u64>,
    pub has_quota: bool,
    pub cost: CostSummary,
    /// The tier's budget, per env and month, in dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Dollars>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantSummary<'a>>,
    pub network: Cow<'a, Network>,
    /// What the env manages itself (`self_managed`): `network`, `rbac`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_managed: Vec<Text<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertSummary<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySummary<'a>>,
}

/// A month of an env's quota at its cluster's prices (`cost::Cost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSummary {
    pub requests: Dollars,
    pub limits: Dollars,
    pub requests_bounded: bool,
    pub limits_bounded: bool,
}

impl CostSummary {
    pub fn of(cost: &cost::Cost) -> CostSummary {
        CostSummary {
            requests: Dollars::of(cost.requests),
            limits: Dollars::of(cost.limits),
            requests_bounded: cost.requests_bounded,
            limits_bounded: cost.limits_bounded,
        }
    }
}

/// An amount rounded to the cent, written as a decimal string
/// (`"146.80"`): exact in JSON, where a float would not be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dollars(pub u64);

impl Dollars {
    pub fn of(money: Money) -> Dollars {
        Dollars(money.cents())
    }

    pub fn money(self) -> Money {
        Money(self.0.saturating_mul(Money::NANOS_PER_DOLLAR / 100))
    }
}

impl Serialize for Dollars {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.money().decimal())
    }
}

impl<'de> Deserialize<'de> for Dollars {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Dollars, D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || serde::de::Error::custom(format!("`{text}` is not dollars and cents"));
        let (whole, cents) = text.split_once('.').ok_or_else(invalid)?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || cents.len() != 2 || !digits(cents) {
            return Err(invalid());
        }
        let whole: u64 = whole.parse().map_err(|_| invalid())?;
        let cents: u64 = cents.parse().map_err(|_| invalid())?;
        whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .map(Dollars)
            .ok_or_else(invalid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSummary<'a> {
    /// The RoleBinding's (or ClusterRoleBinding's) name.
    pub binding: Text<'a>,
    pub role: Text<'a>,
    /// `Group payments-devs`, `ServiceAccount ci/deployer`.
    pub subjects: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSummary {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSummary<'a> {
    pub alert: Text<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Text<'a>>,
    /// A fingerprint of the rule's PromQL expression (`Digest`): whether
    /// it changed, without the expression itself, which the rule files
    /// hold.
    pub expr: Digest,
    /// `for`, as written (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// Where Alertmanager sends it; `None` when the cluster's Prometheus
    /// sends to no Alertmanager or nothing routes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySummary<'a> {
    pub application: Text<'a>,
    pub project: Text<'a>,
    pub repo: Text<'a>,
    pub revision: Text<'a>,
    pub path: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSummary {
    pub team: Option<String>,
    pub severity: Option<String>,
    pub receiver: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySummary {
    pub name: String,
    pub description: Option<String>,
    pub severity: String,
    pub covers: usize,
    pub passes: usize,
    pub waived: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverSummary {
    pub policy: String,
    pub kind: String,
    pub target: String,
    pub reason: String,
    pub waived: usize,
}

/// The summary of a checked program.
pub fn of(model: &Model) -> Summary<'_> {
    let clusters = model
        .clusters
        .values()
        .map(|cluster| (cluster.name.clone(), cluster_summary(model, cluster)))
        .collect();
    Summary {
        format: FORMAT,
        clusters,
        routes: model
            .alerting
            .routes
            .iter()
            .map(|route| RouteSummary {
                team: route.team.clone(),
                severity: route.severity.clone(),
                receiver: route.receiver.clone(),
            })
            .collect(),
        default_receiver: model.alerting.default.clone(),
        receivers: model
            .alerting
            .receivers
            .values()
            .map(|receiver| {
                let kinds = receiver
                    .integrations
                    .iter()
                    .map(|integration| integration_kind(integration).to_string())
                    .collect();
                (receiver.name.clone(), kinds)
            })
            .collect(),
        policies: model
            .policies
            .iter()
            .map(|policy| PolicySummary {
                name: policy.name.clone(),
                description: policy.description.clone(),
                severity: policy.severity.to_string(),
                covers: policy.covers,
                passes: policy.passes,
                waived: policy.waived,
            })
            .collect(),
        waivers: model
            .waivers
            .iter()
            .map(|waiver| WaiverSummary {
                policy: waiver.policy.clone(),
                kind: waiver.kind.to_string(),
                target: waiver.target.clone(),
                reason: waiver.reason.clone(),
                waived: waiver.waived,
            })
            .collect(),
        roles: model
            .envs
            .values()
            .flat_map(|env| env.roles.iter())
            .map(|role| (role.name.as_str(), role))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(name, role)| (name.to_string(), rules(role)))
            .collect(),
        cluster_roles: model
            .cluster_bindings
            .iter()
            .map(|binding| (binding.role.name.as_str(), &binding.role))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(name, role)| (name.to_string(), rules(role)))
            .collect(),
    }
}

/// A fingerprint of a text that stays the same across envk versions and
/// machines: 64-bit FNV-1a, written as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digest(pub u64);

impl Digest {
    pub fn of(text: &str) -> Digest {
        Digest(text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        }))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = Text::deserialize(deserializer)?;
        match (text.len(), u64::from_str_radix(&text, 16)) {
            (16, Ok(hash)) => Ok(Digest(hash)),
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not a fingerprint of 16 hex digits"
            ))),
        }
    }
}

fn integration_kind(integration: &model::Integration) -> &'static str {
    match integration {
        model::Integration::PagerDuty { .. } => "pagerduty",
        model::Integration::Slack { .. } => "slack",
        model::Integration::Email { .. } => "email",
        model::Integration::Webhook { .. } => "webhook",
    }
}

fn cluster_summary<'m>(model: &'m Model, cluster: &'m model::Cluster) -> ClusterSummary<'m> {
    let envs: Vec<&model::Env> = model.envs_on(&cluster.name).collect();
    let (externals, prometheus) = model::unmanaged_namespaces(model, cluster, &envs);
    let sends_alerts = cluster.prometheus.alertmanager.is_some();
    ClusterSummary {
        environment: cluster.environment,
        server: cluster.server.clone(),
        capacity: Resources {
            cpu: cluster.capacity.cpu,
            memory: cluster.capacity.memory,
            pods: cluster.capacity.pods,
        },
        price: PriceSummary {
            cpu: cluster.price.cpu.price(),
            memory: cluster.price.memory.price(),
            origin: cluster.price.origin().to_string(),
        },
        envs: envs
            .iter()
            .map(|env| (Text::from(&env.name), env_summary(model, env, sends_alerts)))
            .collect(),
        externals: externals
            .iter()
            .map(|external| (external.name.clone(), external.namespace.clone()))
            .collect(),
        prometheus: prometheus.map(str::to_string),
        cluster_grants: model
            .cluster_bindings
            .iter()
            .filter(|binding| binding.cluster == cluster.name)
            .map(|binding| grant(&binding.name, &binding.role.name, &binding.subjects))
            .collect(),
    }
}

fn grant<'m>(binding: &'m str, role: &'m str, subjects: &[model::Subject]) -> GrantSummary<'m> {
    GrantSummary {
        binding: Text::from(binding),
        role: Text::from(role),
        subjects: subjects.iter().map(model::Subject::to_string).collect(),
    }
}

fn rules(role: &model::Role) -> Vec<RuleSummary> {
    role.rules
        .iter()
        .map(|rule| RuleSummary {
            api_groups: rule.api_groups.clone(),
            resources: rule.resources.clone(),
            verbs: rule.verbs.clone(),
        })
        .collect()
}

fn env_summary<'m>(model: &'m Model, env: &'m model::Env, sends_alerts: bool) -> EnvSummary<'m> {
    EnvSummary {
        tier: Text::from(&env.tier.name),
        environment: env.environment,
        pod_security: Text::from(env.pod_security.as_str()),
        team: Text::from(env.team()),
        labels: env
            .labels
            .iter()
            .map(|(key, value)| (Text::from(key), Text::from(value)))
            .collect(),
        quota: env
            .quota
            .iter()
            .flat_map(|quota| quota.hard.iter())
            .map(|(key, value)| (Text::from(key.as_str()), *value))
            .collect(),
        has_quota: env.quota.is_some(),
        cost: CostSummary::of(&cost::of_env(env)),
        budget: env.tier.budget.map(Dollars::of),
        grants: env
            .bindings
            .iter()
            .map(|binding| grant(&binding.name, &binding.role, &binding.subjects))
            .collect(),
        network: Cow::Borrowed(&env.network),
        self_managed: [
            ("network", env.tier.self_managed.network),
            ("rbac", env.tier.self_managed.rbac),
        ]
        .into_iter()
        .filter(|(_, managed)| *managed)
        .map(|(what, _)| Text::from(what))
        .collect(),
        alerts: env
            .alerts
            .rules
            .iter()
            .map(|rule| AlertSummary {
                alert: Text::from(&rule.alert),
                severity: rule.labels.get("severity").map(Text::from),
                expr: Digest::of(&rule.expr),
                wait: rule.for_.map(|wait| wait.to_string()),
                receiver: sends_alerts
                    .then(|| model.alerting.receiver_of(&rule.labels))
                    .flatten()
                    .map(Text::from),
            })
            .collect(),
        deploy: env.deploy.as_ref().map(|deploy| DeploySummary {
            application: Text::from(&deploy.application),
            project: Text::from(&deploy.project),
            repo: Text::from(&deploy.repo),
            revision: Text::from(&deploy.revision),
            path: Text::from(&deploy.path),
        }),
    }
}

impl Summary<'_> {
    /// The file `build` writes: one line of compact JSON (`jq .` shows it
    /// indented), since at thousands of namespaces it is megabytes.
    pub fn to_json(&self) -> String {
        // Sized at once for namespaces like the benchmark's (about 1,150
        // bytes each): growing a buffer of megabytes by doubling copied
        // it, and the kernel cleared each new block's pages.
        let envs: usize = self
            .clusters
            .values()
            .map(|cluster| cluster.envs.len())
            .sum();
        let mut bytes = Vec::with_capacity(16 * 1024 + envs * 1280);
        serde_json::to_writer(&mut bytes, self).expect("a summary serializes");
        bytes.push(b'\n');
        String::from_utf8(bytes).expect("JSON is UTF-8")
    }

    /// A summary read back; an error says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Summary<'static>, String> {
        let summary: Summary<'static> =
            serde_json::from_str(text).map_err(|error| error.to_string())?;
        if summary.format != FORMAT {
            return Err(format!(
                "it is in format {}, and this envk reads format {FORMAT}: build both sides with one envk",
                summary.format
            ));
        }
        Ok(summary)
    }
}

/// A namespace of a cluster summary, as traffic sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Place {
    Env(String),
    External(String),
    Prometheus(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Env(name) => f.write_str(name),
            Place::External(name) => write!(f, "external {name}"),
            Place::Prometheus(namespace) => write!(f, "Prometheus ({namespace})"),
        }
    }
}

impl<'a> ClusterSummary<'a> {
    /// A cluster with nothing on it: the other side of a cluster added or
    /// removed.
    pub fn empty() -> ClusterSummary<'static> {
        ClusterSummary {
            environment: Environment::Development,
            server: String::new(),
            capacity: Resources::default(),
            price: PriceSummary {
                cpu: String::new(),
                memory: String::new(),
                origin: String::new(),
            },
            envs: BTreeMap::new(),
            externals: BTreeMap::new(),
            prometheus: None,
            cluster_grants: Vec::new(),
        }
    }

    /// Every namespace traffic is shown between: the envs, the externals,
    /// the Prometheus.
    pub fn places(&self) -> Vec<(Place, Node<'_>)> {
        let envs = self.envs.iter().map(|(name, env)| {
            let endpoint = Endpoint::Env {
                namespace: name,
                environment: env.environment,
            };
            let node = Node {
                endpoint,
                network: Some(&env.network),
            };
            (Place::Env(name.to_string()), node)
        });
        let externals = self
            .externals
            .iter()
            .map(|(name, namespace)| (Place::External(name.clone()), Node::unmanaged(namespace)));
        let prometheus = self.prometheus.iter().map(|namespace| {
            (
                Place::Prometheus(namespace.clone()),
                Node::unmanaged(namespace),
            )
        });
        envs.chain(externals).chain(prometheus).collect()
    }

    /// Every path traffic may take between two places of the cluster, and
    /// on which ports: the evaluated matrix without its empty cells.
    pub fn paths(&self) -> BTreeMap<(Place, Place), Reach> {
        let places = self.places();
        let mut paths = BTreeMap::new();
        for (from, from_node) in &places {
            for (to, to_node) in &places {
                if from == to {
                    continue;
                }
                match from_node.reach(to_node) {
                    None | Some(Reach::None) => {}
                    Some(reach) => {
                        paths.insert((from.clone(), to.clone()), reach);
                    }
                }
            }
        }
        paths
    }

    /// What the envs request in all, per quota key; a key some env does
    /// not set is unbounded (`None`).
    pub fn requested(&self, key: QuotaKey) -> Option<u64> {
        self.envs.values().try_fold(0u64, |sum, env| {
            Some(sum.saturating_add(*env.quota.get(key.as_str())?))
        })
    }

    /// What the envs' requests cost a month in all.
    pub fn cost(&self) -> Money {
        self.envs.values().fold(Money::ZERO, |sum, env| {
            sum.saturating_add(env.cost.requests.money())
        })
    }
}

/// One thing a subject may do: a verb on a resource of an API group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GrantAtom {
    pub subject: String,
    pub api_group: String,
    pub resource: String,
    pub verb: String,
}

/// The atoms of some grants, whose roles' rules `roles` holds.
pub fn atoms(
    grants: &[GrantSummary],
    roles: &BTreeMap<String, Vec<RuleSummary>>,
) -> BTreeSet<GrantAtom> {
    let mut atoms = BTreeSet::new();
    for grant in grants {
        for rule in roles.get(grant.role.as_ref()).into_iter().flatten() {
            for subject in &grant.subjects {
                for api_group in &rule.api_groups {
                    for resource in &rule.resources {
                        for verb in &rule.verbs {
                            atoms.insert(GrantAtom {
                                subject: subject.clone(),
                                api_group: api_group.clone(),
                                resource: resource.clone(),
                                verb: verb.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    atoms
}

#[cfg(test)]
mod tests {
    use super::Digest;

    #[test]
    fn the_digest_is_fnv_1a() {
        // The published test vectors of 64-bit FNV-1a.
        let hex = |text: &str| serde_json::to_string(&Digest::of(text)).unwrap();
        assert_eq!(hex(""), "\"cbf29ce484222325\"");
        assert_eq!(hex("a"), "\"af63dc4c8601ec8c\"");
        assert_eq!(hex("foobar"), "\"85944171f73967e8\"");
        let back: Digest = serde_json::from_str("\"85944171f73967e8\"").unwrap();
        assert_eq!(back, Digest::of("foobar"));
        assert!(serde_json::from_str::<Digest>("\"8594\"").is_err());
    }
}
