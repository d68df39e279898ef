//! Evaluating typed predicates over the checked program, and saying why
//! one did not hold with the values that decided it.
//!
//! Total by construction: collections are finite and every quantifier
//! ranges over one, so evaluation always ends; a path through a field that
//! is not set is "absent", and a comparison with an absent value is false
//! (so `all env in envs : env.quota.requests.cpu <= 4` fails for an env
//! without a quota, saying so).

use std::borrow::Cow;

use super::shape::{F, Kind, Ty};
use super::typing::{Cond, Counted, ONE, Quant, Val, ValKind};
use crate::check::EnvFacts;
use crate::model::{self, Dimension, Integration, Model, Peer};
use crate::syntax::ast::{CompareOp, Quantifier};

/// What evaluation reads: the checked envs with their spans, and the rest
/// of the program.
pub(crate) struct World<'m> {
    pub envs: &'m [EnvFacts],
    pub model: &'m Model,
    pub roles: Vec<&'m model::Role>,
    pub cluster_roles: Vec<&'m model::Role>,
    /// The names of the envs on several clusters, which messages name
    /// with their cluster.
    pub several_clusters: foldhash::HashSet<&'m str>,
}

/// An object of the program a variable can hold.
#[derive(Clone, Copy, Debug)]
pub(super) enum Obj<'m> {
    Env(u32),
    Cluster(&'m model::Cluster),
    Capacity(&'m model::Capacity),
    Tier(&'m model::Tier),
    Role(&'m model::Role, bool),
    Grant(GrantAt),
    Rule { env: u32, egress: bool, index: u32 },
    Alert { env: u32, index: u32 },
    Receiver(&'m model::Receiver),
    External(&'m model::External),
    App(u32),
    Quota(&'m model::ResourceList),
    Limits(&'m model::LimitRange),
    LimitValues(&'m model::LimitValues),
}

/// A grant to one subject: of an env's binding, or cluster-wide.
#[derive(Clone, Copy, Debug)]
pub(super) enum GrantAt {
    Env {
        env: u32,
        binding: u32,
        subject: u32,
    },
    Cluster {
        binding: u32,
        subject: u32,
    },
}

/// A value during evaluation.
#[derive(Clone, Debug)]
pub(super) enum V<'m> {
    /// A path through a field that is not set: the field's name.
    Absent(&'static str),
    Bool(bool),
    /// Millionths of its unit.
    Num(u128),
    Str(Cow<'m, str>),
    Map(&'m model::TextMap),
    Strs(Vec<Cow<'m, str>>),
    Obj(Obj<'m>),
    List(Vec<Obj<'m>>),
}

pub(super) struct Eval<'w, 'm> {
    pub world: &'w World<'m>,
    pub vars: Vec<Option<Obj<'m>>>,
}

impl<'w, 'm> Eval<'w, 'm> {
    pub fn new(world: &'w World<'m>, slots: usize) -> Eval<'w, 'm> {
        Eval {
            world,
            vars: vec![None; slots],
        }
    }

    pub fn env(&self, index: u32) -> &'m model::Env {
        &self.world.envs[index as usize].model
    }

    /// The elements of a collection, in a deterministic order.
    pub fn elements(&mut self, collection: &'m Val) -> Vec<Obj<'m>> {
        match self.value(collection) {
            V::List(objects) => objects,
            _ => Vec::new(),
        }
    }

    /// The elements a quantifier's filter keeps.
    pub fn kept(
        &mut self,
        slot: usize,
        collection: &'m Val,
        filter: Option<&'m Cond>,
    ) -> Vec<Obj<'m>> {
        let mut elements = self.elements(collection);
        if let Some(filter) = filter {
            elements.retain(|&element| {
                self.vars[slot] = Some(element);
                self.truth(filter)
            });
        }
        elements
    }

    pub fn holds_for(&mut self, quant: &'m Quant, element: Obj<'m>) -> bool {
        self.vars[quant.slot] = Some(element);
        let body = self.truth(&quant.body);
        match quant.quantifier {
            Quantifier::None => !body,
            Quantifier::All | Quantifier::Any => body,
        }
    }

    pub fn truth(&mut self, cond: &'m Cond) -> bool {
        match cond {
            Cond::Quant(quant) => {
                let elements = self.kept(quant.slot, &quant.collection, quant.filter.as_ref());
                match quant.quantifier {
                    Quantifier::All | Quantifier::None => elements
                        .into_iter()
                        .all(|element| self.holds_for(quant, element)),
                    Quantifier::Any => elements
                        .into_iter()
                        .any(|element| self.holds_for(quant, element)),
                }
            }
            Cond::Not(inner) => !self.truth(inner),
            Cond::And(left, right) => self.truth(left) && self.truth(right),
            Cond::Or(left, right) => self.truth(left) || self.truth(right),
            Cond::Implies(left, right) => !self.truth(left) || self.truth(right),
            Cond::Compare(left, op, right) => {
                let (left, right) = (self.value(left), self.value(right));
                compare(&left, *op, &right)
            }
            Cond::Matches(left, regex, _) => match self.value(left) {
                V::Str(text) => regex.is_match(&text),
                _ => false,
            },
            Cond::StartsWith(left, right) => match (self.value(left), self.value(right)) {
                (V::Str(text), V::Str(prefix)) => text.starts_with(prefix.as_ref()),
                _ => false,
            },
            Cond::Has(container, item) => {
                let V::Str(item) = self.value(item) else {
                    return false;
                };
                match self.value(container) {
                    V::Map(map) => map.contains_key(&item),
                    V::Strs(items) => items.contains(&item),
                    _ => false,
                }
            }
            Cond::HasField(object, field, name) => match self.value(object) {
                V::Obj(object) => !matches!(self.field(object, *field, name), V::Absent(_)),
                _ => false,
            },
            Cond::In(left, right) => {
                let left = self.value(left);
                match &right.kind {
                    ValKind::List(items) => items.iter().any(|item| {
                        let item = self.value(item);
                        compare(&left, CompareOp::Eq, &item)
                    }),
                    _ => match (left, self.value(right)) {
                        (V::Str(text), V::Strs(items)) => items.contains(&text),
                        _ => false,
                    },
                }
            }
            Cond::Value(value) => matches!(self.value(value), V::Bool(true)),
        }
    }

    /// How many elements `unique`'s filter keeps, and each whose key an
    /// earlier one has (with another group, under `per`), with that
    /// earlier one and the key as text.
    pub fn repeats(
        &mut self,
        counted: &'m Counted,
        key: &'m Val,
        per: Option<&'m Val>,
    ) -> (usize, Vec<(Obj<'m>, Obj<'m>, String)>) {
        let elements = self.kept(counted.slot, &counted.collection, counted.filter.as_ref());
        let kept = elements.len();
        let mut seen: foldhash::HashMap<String, (Obj<'m>, Option<String>)> = Default::default();
        let mut found = Vec::new();
        for element in elements {
            self.vars[counted.slot] = Some(element);
            let Some(shown) = key_text(&self.value(key)) else {
                continue;
            };
            let group = per.and_then(|per| key_text(&self.value(per)));
            match seen.get(&shown) {
                Some((first, first_group)) => {
                    if per.is_none() || *first_group != group {
                        found.push((element, *first, shown));
                    }
                }
                None => {
                    seen.insert(shown, (element, group));
                }
            }
        }
        (kept, found)
    }

    pub fn value(&mut self, value: &'m Val) -> V<'m> {
        match &value.kind {
            ValKind::Bool(truth) => V::Bool(*truth),
            ValKind::Num(number) => V::Num(*number),
            ValKind::Str(text) => V::Str(Cow::Borrowed(text)),
            ValKind::Word(word) => V::Str(Cow::Borrowed(word)),
            ValKind::List(_) => V::Absent("list"),
            ValKind::Var(slot) => match self.vars[*slot] {
                Some(object) => V::Obj(object),
                None => V::Absent("variable"),
            },
            ValKind::Collection(kind) => V::List(self.collection(*kind)),
            ValKind::Field(root, fields) => {
                let mut value = self.value(root);
                for &(field, name) in fields {
                    value = match value {
                        V::Obj(object) => self.field(object, field, name),
                        absent @ V::Absent(_) => return absent,
                        _ => V::Absent(name),
                    };
                }
                value
            }
            ValKind::Index(map, key) => match self.value(map) {
                V::Map(map) => match map.get(key) {
                    Some(text) => V::Str(Cow::Borrowed(text.as_str())),
                    None => V::Absent("label"),
                },
                absent => absent,
            },
            ValKind::Count(counted) => {
                let kept = self.kept(counted.slot, &counted.collection, counted.filter.as_ref());
                V::Num(kept.len() as u128 * ONE)
            }
            ValKind::Unique(counted, key, per) => {
                V::Bool(self.repeats(counted, key, per.as_deref()).1.is_empty())
            }
            ValKind::Mul(left, right) => match (self.value(left), self.value(right)) {
                (V::Num(left), V::Num(right)) => V::Num(left.saturating_mul(right) / ONE),
                (V::Absent(name), _) | (_, V::Absent(name)) => V::Absent(name),
                _ => V::Absent("number"),
            },
            ValKind::Scale(inner, factor) => match self.value(inner) {
                V::Num(number) => V::Num(number.saturating_mul(*factor)),
                other => other,
            },
        }
    }

    fn collection(&self, kind: Kind) -> Vec<Obj<'m>> {
        let world = self.world;
        let model = world.model;
        let envs = 0..world.envs.len() as u32;
        match kind {
            Kind::Env => envs.map(Obj::Env).collect(),
            Kind::Cluster => model.clusters.values().map(|c| Obj::Cluster(c)).collect(),
            Kind::Tier => model.tiers.values().map(|t| Obj::Tier(t)).collect(),
            Kind::Role => world.roles.iter().map(|r| Obj::Role(r, false)).collect(),
            Kind::ClusterRole => world
                .cluster_roles
                .iter()
                .map(|r| Obj::Role(r, true))
                .collect(),
            Kind::Grant => {
                let mut grants: Vec<Obj> = envs.flat_map(|env| self.env_grants(env)).collect();
                for (binding, cluster_binding) in model.cluster_bindings.iter().enumerate() {
                    for subject in 0..cluster_binding.subjects.len() {
                        grants.push(Obj::Grant(GrantAt::Cluster {
                            binding: binding as u32,
                            subject: subject as u32,
                        }));
                    }
                }
                grants
            }
            Kind::External => model.externals.iter().map(|e| Obj::External(e)).collect(),
            Kind::App => envs
                .filter(|&env| self.env(env).deploy.is_some())
                .map(Obj::App)
                .collect(),
            Kind::Alert => envs.flat_map(|env| self.env_alerts(env)).collect(),
            Kind::Receiver => model
                .alerting
                .receivers
                .values()
                .map(Obj::Receiver)
                .collect(),
            Kind::Rule | Kind::Capacity | Kind::Quota(_) | Kind::Limits | Kind::LimitValues => {
                Vec::new()
            }
        }
    }

    /// The envs `keep` keeps, as a list.
    fn envs_where(&self, keep: impl Fn(&model::Env) -> bool) -> V<'m> {
        V::List(
            (0..self.world.envs.len() as u32)
                .filter(|&env| keep(self.env(env)))
                .map(Obj::Env)
                .collect(),
        )
    }

    fn env_grants(&self, env: u32) -> Vec<Obj<'m>> {
        let mut grants = Vec::new();
        for (binding, written) in self.env(env).bindings.iter().enumerate() {
            for subject in 0..written.subjects.len() {
                grants.push(Obj::Grant(GrantAt::Env {
                    env,
                    binding: binding as u32,
                    subject: subject as u32,
                }));
            }
        }
        grants
    }

    fn env_alerts(&self, env: u32) -> Vec<Obj<'m>> {
        (0..self.env(env).alerts.rules.len() as u32)
            .map(|index| Obj::Alert { env, index })
            .collect()
    }

    /// A grant's binding name, role, subject and cluster.
    pub fn grant(&self, at: GrantAt) -> GrantParts<'m> {
        match at {
            GrantAt::Env {
                env,
                binding,
                subject,
            } => {
                let model = self.env(env);
                let binding = &model.bindings[binding as usize];
                let role = model
                    .roles
                    .iter()
                    .find(|role| role.name == binding.role)
                    .map(|role| role.as_ref());
                GrantParts {
                    name: &binding.name,
                    role_name: &binding.role,
                    role,
                    subject: &binding.subjects[subject as usize],
                    cluster: &model.cluster,
                    env: Some(env),
                }
            }
            GrantAt::Cluster { binding, subject } => {
                let binding = &self.world.model.cluster_bindings[binding as usize];
                GrantParts {
                    name: &binding.name,
                    role_name: &binding.role.name,
                    role: Some(binding.role.as_ref()),
                    subject: &binding.subjects[subject as usize],
                    cluster: self
                        .world
                        .model
                        .clusters
                        .get(&binding.cluster)
                        .expect("a cluster binding is on a cluster of the program"),
                    env: None,
                }
            }
        }
    }

    pub fn rule(&self, env: u32, egress: bool, index: u32) -> &'m model::NetworkRule {
        let network = &self.env(env).network;
        let rules = if egress {
            &network.egress
        } else {
            &network.ingress
        };
        &rules[index as usize]
    }

    fn field(&self, object: Obj<'m>, field: F, name: &'static str) -> V<'m> {
        let text = |text: &'m str| V::Str(Cow::Borrowed(text));
        let number = |amount: Option<u64>| match amount {
            Some(amount) => V::Num(u128::from(amount) * ONE),
            None => V::Absent(name),
        };
        let word = |word: Option<&'static str>| match word {
            Some(word) => V::Str(Cow::Borrowed(word)),
            None => V::Absent(name),
        };
        let optional = |value: Option<&'m String>| match value {
            Some(value) => text(value),
            None => V::Absent(name),
        };
        match (object, field) {
            (Obj::Env(env), field) => {
                let model = self.env(env);
                match field {
                    F::Name => text(&model.name),
                    F::EnvCluster => V::Obj(Obj::Cluster(&model.cluster)),
                    F::EnvTier => V::Obj(Obj::Tier(&model.tier)),
                    F::Environment => word(Some(model.environment.as_str())),
                    F::PodSecurity => word(Some(model.pod_security.as_str())),
                    F::Family => optional(model.family.as_ref()),
                    F::Stage => optional(model.stage.as_ref()),
                    F::Team => text(model.team()),
                    F::Labels => V::Map(&model.labels),
                    F::Annotations => V::Map(&model.annotations),
                    F::EnvQuota => match &model.quota {
                        Some(quota) => V::Obj(Obj::Quota(&quota.hard)),
                        None => V::Absent(name),
                    },
                    F::EnvCost => {
                        let cost = crate::cost::of_env(model);
                        match cost.requests_bounded {
                            // Nano-dollars, in cents: millionths exactly.
                            true => V::Num(u128::from(cost.requests.0) / 1000),
                            false => V::Absent(name),
                        }
                    }
                    F::EnvLimits => match &model.limits {
                        Some(limits) => V::Obj(Obj::Limits(limits)),
                        None => V::Absent(name),
                    },
                    F::EnvGrants => V::List(self.env_grants(env)),
                    F::Ingress | F::Egress => {
                        let egress = field == F::Egress;
                        let count = if egress {
                            model.network.egress.len()
                        } else {
                            model.network.ingress.len()
                        };
                        V::List(
                            (0..count as u32)
                                .map(|index| Obj::Rule { env, egress, index })
                                .collect(),
                        )
                    }
                    F::EnvAlerts => V::List(self.env_alerts(env)),
                    F::EnvDeploy => match &model.deploy {
                        Some(_) => V::Obj(Obj::App(env)),
                        None => V::Absent(name),
                    },
                    F::IngressRestricted => V::Bool(model.network.ingress_restricted()),
                    F::EgressRestricted => V::Bool(model.network.restrict_egress),
                    _ => V::Absent(name),
                }
            }
            (Obj::Cluster(cluster), field) => match field {
                F::Name => text(&cluster.name),
                F::Server => text(&cluster.server),
                F::Environment => word(Some(cluster.environment.as_str())),
                F::PodSecurity => word(cluster.pod_security.map(|level| level.as_str())),
                F::Capacity => V::Obj(Obj::Capacity(&cluster.capacity)),
                F::AllowClusterAdmin => V::Bool(cluster.allow_cluster_admin),
                F::ClusterEnvs => self.envs_where(|env| env.cluster.name == cluster.name),
                _ => V::Absent(name),
            },
            (Obj::Capacity(capacity), field) => match field {
                F::CapacityCpu => number(capacity.cpu),
                F::CapacityMemory => number(capacity.memory),
                F::CapacityPods => number(capacity.pods),
                _ => V::Absent(name),
            },
            (Obj::Tier(tier), field) => match field {
                F::Name => text(&tier.name),
                F::PodSecurity => word(Some(tier.pod_security.as_str())),
                F::Environment => word(tier.environment.map(|environment| environment.as_str())),
                F::Ceiling => V::Obj(Obj::Quota(&tier.ceiling)),
                F::Isolated => V::Bool(tier.isolated),
                F::ForbidWildcards => V::Bool(tier.forbid_wildcards),
                F::ForbidVerbs => strs(&tier.forbid_verbs),
                F::ForbidResources => strs(&tier.forbid_resources),
                F::RequireAlerts => strs(&tier.require_alerts),
                F::TierEnvs => self.envs_where(|env| env.tier.name == tier.name),
                _ => V::Absent(name),
            },
            (Obj::Role(role, _), field) => match field {
                F::Name => text(&role.name),
                other => role_field(Some(role), other, name),
            },
            (Obj::Grant(at), field) => {
                let parts = self.grant(at);
                match field {
                    F::Name => text(parts.name),
                    F::GrantRole => text(parts.role_name),
                    F::Verbs | F::Resources | F::Wildcard => role_field(parts.role, field, name),
                    F::SubjectKind => word(Some(match parts.subject.kind {
                        model::SubjectKind::User => "user",
                        model::SubjectKind::Group => "group",
                        model::SubjectKind::ServiceAccount => "serviceaccount",
                    })),
                    F::Subject => text(&parts.subject.name),
                    F::GrantEnv => match parts.env {
                        Some(env) => V::Obj(Obj::Env(env)),
                        None => V::Absent(name),
                    },
                    F::GrantCluster => V::Obj(Obj::Cluster(parts.cluster)),
                    F::ClusterWide => V::Bool(parts.env.is_none()),
                    _ => V::Absent(name),
                }
            }
            (Obj::Rule { env, egress, index }, field) => {
                let rule = self.rule(env, egress, index);
                match field {
                    F::RuleAny => V::Bool(rule.peer == Peer::Any),
                    F::RuleEnvironment => match &rule.peer {
                        Peer::Environment(environment) => word(Some(environment.as_str())),
                        _ => V::Absent(name),
                    },
                    F::RuleEnv => match &rule.peer {
                        Peer::Env(namespace) => text(namespace),
                        _ => V::Absent(name),
                    },
                    F::RuleExternal => match &rule.peer {
                        Peer::External { name: external, .. } => text(external),
                        _ => V::Absent(name),
                    },
                    F::AllPorts => V::Bool(rule.ports.is_empty()),
                    F::RuleOwner => V::Obj(Obj::Env(env)),
                    _ => V::Absent(name),
                }
            }
            (Obj::Alert { env, index }, field) => {
                let rule = &self.env(env).alerts.rules[index as usize];
                match field {
                    F::Name => text(&rule.alert),
                    F::Severity => optional(rule.labels.get("severity")),
                    F::Team => optional(rule.labels.get("team")),
                    F::Labels => V::Map(&rule.labels),
                    F::Annotations => V::Map(&rule.annotations),
                    F::Expr => text(&rule.expr),
                    F::AlertReceiver => {
                        let alerting = &self.world.model.alerting;
                        match alerting
                            .receiver_of(&rule.labels)
                            .and_then(|receiver| alerting.receivers.get(receiver))
                        {
                            Some(receiver) => V::Obj(Obj::Receiver(receiver)),
                            None => V::Absent(name),
                        }
                    }
                    F::AlertEnv => V::Obj(Obj::Env(env)),
                    _ => V::Absent(name),
                }
            }
            (Obj::Receiver(receiver), field) => match field {
                F::Name => text(&receiver.name),
                F::Integrations => V::Strs(
                    receiver
                        .integrations
                        .iter()
                        .map(|integration| {
                            Cow::Borrowed(match integration {
                                Integration::PagerDuty { .. } => "pagerduty",
                                Integration::Slack { .. } => "slack",
                                Integration::Email { .. } => "email",
                                Integration::Webhook { .. } => "webhook",
                            })
                        })
                        .collect(),
                ),
                _ => V::Absent(name),
            },
            (Obj::External(external), field) => match field {
                F::Name => text(&external.name),
                F::Namespace => text(&external.namespace),
                F::ExternalCluster => text(&external.cluster),
                F::Environment => word(Some(external.environment.as_str())),
                _ => V::Absent(name),
            },
            (Obj::App(env), field) => {
                let model = self.env(env);
                let Some(deploy) = &model.deploy else {
                    return V::Absent(name);
                };
                match field {
                    F::Name => text(&deploy.application),
                    F::Project => text(&deploy.project),
                    F::Repo => text(&deploy.repo),
                    F::Revision => text(&deploy.revision),
                    F::AppPath => text(&deploy.path),
                    F::Team => text(model.team()),
                    F::AppEnv => V::Obj(Obj::Env(env)),
                    F::Automated => V::Bool(deploy.sync.is_some()),
                    _ => V::Absent(name),
                }
            }
            (Obj::Quota(list), F::QuotaKey(key)) => number(list.get(&key).copied()),
            (Obj::Quota(list), F::QuotaPrefix(_)) => V::Obj(Obj::Quota(list)),
            (Obj::Limits(limits), field) => match field {
                F::LimitKind => text(limits.kind.as_str()),
                F::LimitDefault => V::Obj(Obj::LimitValues(&limits.default)),
                F::LimitDefaultRequest => V::Obj(Obj::LimitValues(&limits.default_request)),
                F::LimitMax => V::Obj(Obj::LimitValues(&limits.max)),
                F::LimitMin => V::Obj(Obj::LimitValues(&limits.min)),
                _ => V::Absent(name),
            },
            (Obj::LimitValues(values), F::LimitValue(resource)) => {
                number(values.get(&resource).copied())
            }
            _ => V::Absent(name),
        }
    }

    /// How messages name an object: "env `api-prod`", "the grant of
    /// `admin` to group `devs` in env `api-prod`".
    pub fn describe(&self, object: Obj<'m>) -> String {
        match object {
            Obj::Env(env) => {
                let model = self.env(env);
                if self.world.several_clusters.contains(model.name.as_str()) {
                    format!("env `{}` on `{}`", model.name, model.cluster.name)
                } else {
                    format!("env `{}`", model.name)
                }
            }
            Obj::Cluster(cluster) => format!("cluster `{}`", cluster.name),
            Obj::Tier(tier) => format!("tier `{}`", tier.name),
            Obj::Role(role, false) => format!("role `{}`", role.name),
            Obj::Role(role, true) => format!("cluster role `{}`", role.name),
            Obj::Grant(at) => {
                let parts = self.grant(at);
                let kind = match parts.subject.kind {
                    model::SubjectKind::User => "user",
                    model::SubjectKind::Group => "group",
                    model::SubjectKind::ServiceAccount => "serviceaccount",
                };
                let place = match parts.env {
                    Some(env) => format!("in {}", self.describe(Obj::Env(env))),
                    None => format!("on cluster `{}`", parts.cluster.name),
                };
                format!(
                    "the grant of `{}` to {kind} `{}` {place}",
                    parts.role_name, parts.subject.name
                )
            }
            Obj::Rule { env, egress, index } => {
                let rule = self.rule(env, egress, index);
                let (direction, preposition) = if egress {
                    ("egress", "to")
                } else {
                    ("ingress", "from")
                };
                let peer = match &rule.peer {
                    Peer::Any => "`any`".to_string(),
                    Peer::Environment(environment) => {
                        format!("environment `{}`", environment.as_str())
                    }
                    Peer::Env(namespace) => format!("env `{namespace}`"),
                    Peer::External { name, .. } => format!("external `{name}`"),
                };
                format!(
                    "the {direction} rule {preposition} {peer} of {}",
                    self.describe(Obj::Env(env))
                )
            }
            Obj::Alert { env, index } => format!(
                "alert `{}` of {}",
                self.env(env).alerts.rules[index as usize].alert,
                self.describe(Obj::Env(env))
            ),
            Obj::Receiver(receiver) => format!("receiver `{}`", receiver.name),
            Obj::External(external) => {
                format!("external `{}` on `{}`", external.name, external.cluster)
            }
            Obj::App(env) => format!("the app of {}", self.describe(Obj::Env(env))),
            Obj::Capacity(_) => "the capacity".into(),
            Obj::Quota(_) => "the quota".into(),
            Obj::Limits(_) | Obj::LimitValues(_) => "the limits".into(),
        }
    }
}

/// What a grant is made of.
pub(super) struct GrantParts<'m> {
    pub name: &'m str,
    pub role_name: &'m str,
    pub role: Option<&'m model::Role>,
    pub subject: &'m model::Subject,
    pub cluster: &'m model::Cluster,
    pub env: Option<u32>,
}

fn strs(items: &[String]) -> V<'_> {
    V::Strs(
        items
            .iter()
            .map(|item| Cow::Borrowed(item.as_str()))
            .collect(),
    )
}

fn role_field<'m>(role: Option<&'m model::Role>, field: F, name: &'static str) -> V<'m> {
    let Some(role) = role else {
        return V::Absent(name);
    };
    // Repeats are kept (`has` and `in` do not mind them; `show` drops
    // them): a role's rules are read at every grant of it.
    let every = |part: fn(&'m model::PolicyRule) -> &'m Vec<String>| {
        V::Strs(
            role.rules
                .iter()
                .flat_map(part)
                .map(|item| Cow::Borrowed(item.as_str()))
                .collect(),
        )
    };
    match field {
        F::Verbs => every(|rule| &rule.verbs),
        F::Resources => every(|rule| &rule.resources),
        F::ApiGroups => every(|rule| &rule.api_groups),
        F::Wildcard => V::Bool(role.rules.iter().any(|rule| {
            rule.verbs
                .iter()
                .chain(&rule.resources)
                .chain(&rule.api_groups)
                .any(|item| item == "*")
        })),
        _ => V::Absent(name),
    }
}

/// `left op right`; false when either side is absent.
pub(super) fn compare(left: &V, op: CompareOp, right: &V) -> bool {
    let ordering = match (left, right) {
        (V::Num(a), V::Num(b)) => a.cmp(b),
        (V::Str(a), V::Str(b)) => a.cmp(b),
        (V::Bool(a), V::Bool(b)) => a.cmp(b),
        _ => return false,
    };
    match op {
        CompareOp::Eq => ordering.is_eq(),
        CompareOp::Ne => ordering.is_ne(),
        CompareOp::Lt => ordering.is_lt(),
        CompareOp::Le => ordering.is_le(),
        CompareOp::Gt => ordering.is_gt(),
        CompareOp::Ge => ordering.is_ge(),
    }
}

/// A key of `unique` as text; none when absent.
fn key_text(value: &V) -> Option<String> {
    match value {
        V::Str(text) => Some(text.to_string()),
        V::Num(number) => Some(number.to_string()),
        V::Bool(truth) => Some(truth.to_string()),
        _ => None,
    }
}

/// A value as messages show it, in the unit of its type.
pub(super) fn show(value: &V, ty: Ty) -> String {
    match value {
        V::Absent(_) => "not set".into(),
        V::Bool(truth) => format!("`{truth}`"),
        V::Num(number) => {
            let dimension = match ty {
                Ty::Number(dimension) => Some(dimension),
                _ => None,
            };
            match dimension {
                Some(dimension) if number % ONE == 0 && u64::try_from(number / ONE).is_ok() => {
                    format!("`{}`", dimension.format((number / ONE) as u64))
                }
                Some(Dimension::Cpu) => format!("`{}`", decimal(*number / 1000)),
                _ => format!("`{}`", decimal(*number)),
            }
        }
        V::Str(text) => format!("`{text}`"),
        V::Map(map) => format!("{} entries", map.len()),
        V::Strs(items) => {
            let mut shown: Vec<String> = Vec::new();
            for item in items {
                let item = format!("`{item}`");
                if !shown.contains(&item) {
                    shown.push(item);
                }
            }
            format!("[{}]", shown.join(", "))
        }
        V::Obj(_) => "an object".into(),
        V::List(items) => format!("{} items", items.len()),
    }
}

/// Millionths as a decimal.
fn decimal(millionths: u128) -> String {
    let whole = millionths / ONE;
    let fraction = millionths % ONE;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
