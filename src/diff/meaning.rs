//! What a change means, from the two builds' summaries: paths opened and
//! closed, grants given and taken, quotas against capacity, alerts and
//! their routes, policies and waivers, cost, and namespaces removed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::cost::Money;
use crate::model::{Dimension, QuotaKey, Reach};
use crate::summary::{self, ClusterSummary, EnvSummary, GrantAtom, Place, Summary};

/// A path between two places of a cluster that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathChange {
    pub from: Place,
    pub to: Place,
    /// The ports before and after: `—` when there was (or is) no path.
    pub old: String,
    pub new: String,
}

/// A role given to (or taken from) one subject in one namespace (`None`:
/// cluster-wide), with what it lets the subject write; or, where a role
/// the subject keeps changed, verbs on one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantChange {
    pub namespace: Option<String>,
    pub subject: String,
    /// The role, when the change is the whole role.
    pub role: Option<String>,
    /// `deployments` or `deployments.apps`; with a role, the resources it
    /// may write.
    pub resources: Vec<String>,
    /// The verbs on `resources`; with a role, those that write.
    pub verbs: Vec<String>,
}

/// A namespace the change adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceAdded {
    pub name: String,
    pub tier: String,
    pub team: String,
    pub cost: String,
}

/// A quota key of one env that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaChange {
    pub namespace: String,
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// `+12`, `-2Gi`: set only when both sides set the key.
    pub delta: Option<String>,
}

/// What a cluster's envs request in all against its capacity, where that
/// changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CapacityChange {
    pub dimension: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
    pub delta: Option<String>,
    pub capacity: Option<String>,
    /// Of capacity, after the change, in whole percent.
    pub utilisation: Option<u64>,
}

/// An alert of an env that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertChange {
    pub namespace: String,
    pub alert: String,
    /// `added`, `removed`, `changed`.
    pub change: &'static str,
    /// What changed: `expr`, `for`, `severity`, `receiver`.
    pub fields: Vec<&'static str>,
    pub old_receiver: Option<String>,
    pub new_receiver: Option<String>,
}

/// A month of a cluster's (or an env's) requests, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CostChange {
    pub name: String,
    pub old: String,
    pub new: String,
    pub delta: String,
    /// An env's budget after the change, where its tier has one.
    pub budget: Option<String>,
    #[serde(skip)]
    pub old_money: Money,
    #[serde(skip)]
    pub new_money: Money,
}

/// What a change means on one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterMeaning {
    pub namespaces_added: Vec<NamespaceAdded>,
    /// Destructive: their workloads stay in the cluster, unmanaged, until
    /// deleted by hand.
    pub namespaces_removed: Vec<String>,
    pub paths_opened: Vec<PathChange>,
    pub paths_closed: Vec<PathChange>,
    pub paths_changed: Vec<PathChange>,
    pub grants_added: Vec<GrantChange>,
    pub grants_removed: Vec<GrantChange>,
    pub quotas: Vec<QuotaChange>,
    pub capacity: Vec<CapacityChange>,
    pub alerts: Vec<AlertChange>,
    pub cost: Option<CostChange>,
    pub env_costs: Vec<CostChange>,
    /// The cluster's prices that changed, before and after: `cpu
    /// $0.031611 → $0.035 per core-hour`.
    pub price: Vec<String>,
}

impl ClusterMeaning {
    pub fn is_empty(&self) -> bool {
        self == &ClusterMeaning::default()
    }
}

/// What a change means for the whole fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FleetMeaning {
    pub clusters_added: Vec<String>,
    pub clusters_removed: Vec<String>,
    /// `route team=payments severity=critical → pagerduty-payments`.
    pub routes_added: Vec<String>,
    pub routes_removed: Vec<String>,
    pub default_receiver: Option<(Option<String>, Option<String>)>,
    pub receivers_added: Vec<String>,
    pub receivers_removed: Vec<String>,
    pub policies_added: Vec<String>,
    pub policies_removed: Vec<String>,
    /// `name: 12 of 14 pass → 14 of 14`.
    pub policies_changed: Vec<String>,
    pub waivers_added: Vec<String>,
    pub waivers_removed: Vec<String>,
    pub cost: Option<CostChange>,
}

impl FleetMeaning {
    pub fn is_empty(&self) -> bool {
        self == &FleetMeaning::default()
    }
}

/// What the change from `old` to `new` means, per cluster (every cluster
/// of either side, in name order) and for the fleet.
pub fn meaning(old: &Summary, new: &Summary) -> (BTreeMap<String, ClusterMeaning>, FleetMeaning) {
    let empty = ClusterSummary::empty();
    let names: BTreeSet<&String> = old.clusters.keys().chain(new.clusters.keys()).collect();
    let clusters = names
        .into_iter()
        .map(|name| {
            let before = old.clusters.get(name).unwrap_or(&empty);
            let after = new.clusters.get(name).unwrap_or(&empty);
            let roles = (Roles::of(old), Roles::of(new));
            (name.clone(), cluster_meaning(name, before, after, roles))
        })
        .collect();
    (clusters, fleet_meaning(old, new))
}

fn cluster_meaning(
    name: &str,
    old: &ClusterSummary,
    new: &ClusterSummary,
    roles: (Roles, Roles),
) -> ClusterMeaning {
    let mut meaning = ClusterMeaning {
        namespaces_added: new
            .envs
            .iter()
            .filter(|(name, _)| !old.envs.contains_key(*name))
            .map(|(name, env)| NamespaceAdded {
                name: name.to_string(),
                tier: env.tier.to_string(),
                team: env.team.to_string(),
                cost: crate::cost::shown(env.cost.requests.money(), env.cost.requests_bounded),
            })
            .collect(),
        namespaces_removed: old
            .envs
            .keys()
            .filter(|env| !new.envs.contains_key(*env))
            .map(|env| env.to_string())
            .collect(),
        ..ClusterMeaning::default()
    };
    paths(old, new, &mut meaning);
    grants(old, new, roles, &mut meaning);
    quotas(old, new, &mut meaning);
    alerts(old, new, &mut meaning);
    // A cluster added or removed has no price on its other side.
    if !old.price.cpu.is_empty() && !new.price.cpu.is_empty() {
        let prices = [
            ("cpu", &old.price.cpu, &new.price.cpu, "core-hour"),
            ("memory", &old.price.memory, &new.price.memory, "GiB-hour"),
        ];
        meaning.price = prices
            .into_iter()
            .filter(|(_, before, after, _)| before != after)
            .map(|(what, before, after, per)| format!("{what} ${before} → ${after} per {per}"))
            .collect();
    }
    let (old_cost, new_cost) = (old.cost(), new.cost());
    if old_cost != new_cost {
        meaning.cost = Some(cost_change(name, old_cost, new_cost));
    }
    let no_env =
        |env: Option<&EnvSummary>| env.map_or(Money::ZERO, |env| env.cost.requests.money());
    let envs: BTreeSet<&str> = old
        .envs
        .keys()
        .chain(new.envs.keys())
        .map(|env| env.as_ref())
        .collect();
    for env in envs {
        let (before, after) = (no_env(old.envs.get(env)), no_env(new.envs.get(env)));
        if before != after {
            let mut change = cost_change(env, before, after);
            change.budget = new
                .envs
                .get(env)
                .and_then(|env| env.budget)
                .map(|budget| budget.money().to_string());
            meaning.env_costs.push(change);
        }
    }
    meaning
}

fn cost_change(name: &str, old: Money, new: Money) -> CostChange {
    CostChange {
        name: name.to_string(),
        old: old.to_string(),
        new: new.to_string(),
        delta: crate::cost::delta(old, new),
        budget: None,
        old_money: old,
        new_money: new,
    }
}

/// The reachability delta: the difference of the two evaluated matrices.
fn paths(old: &ClusterSummary, new: &ClusterSummary, meaning: &mut ClusterMeaning) {
    let (before, after) = (old.paths(), new.paths());
    let change =
        |(from, to): &(Place, Place), old: Option<&Reach>, new: Option<&Reach>| PathChange {
            from: from.clone(),
            to: to.clone(),
            old: old.map_or(Reach::None.to_string(), Reach::to_string),
            new: new.map_or(Reach::None.to_string(), Reach::to_string),
        };
    for (pair, reach) in &after {
        match before.get(pair) {
            None => meaning.paths_opened.push(change(pair, None, Some(reach))),
            Some(was) if was != reach => {
                meaning
                    .paths_changed
                    .push(change(pair, Some(was), Some(reach)))
            }
            Some(_) => {}
        }
    }
    for (pair, reach) in &before {
        if !after.contains_key(pair) {
            meaning.paths_closed.push(change(pair, Some(reach), None));
        }
    }
}

/// Where a grant holds: a namespace, or the cluster (`None`).
type Scope = Option<String>;

/// The rules of the roles a side's grants name: namespaced roles and
/// cluster roles, which may share a name.
#[derive(Clone, Copy)]
struct Roles<'a> {
    namespaced: &'a BTreeMap<String, Vec<summary::RuleSummary>>,
    cluster: &'a BTreeMap<String, Vec<summary::RuleSummary>>,
}

impl<'a> Roles<'a> {
    fn of(summary: &'a Summary) -> Roles<'a> {
        Roles {
            namespaced: &summary.roles,
            cluster: &summary.cluster_roles,
        }
    }

    /// The roles a grant in `scope` names: a namespace's, or the
    /// cluster's (`None`).
    fn for_scope(&self, scope: &Scope) -> &'a BTreeMap<String, Vec<summary::RuleSummary>> {
        match scope {
            Some(_) => self.namespaced,
            None => self.cluster,
        }
    }
}

/// Every grant of a cluster with its scope.
fn scoped_grants<'c>(
    cluster: &'c ClusterSummary,
) -> impl Iterator<Item = (Scope, &'c summary::GrantSummary<'c>)> {
    cluster
        .envs
        .iter()
        .flat_map(|(name, env)| {
            env.grants
                .iter()
                .map(move |grant| (Some(name.to_string()), grant))
        })
        .chain(cluster.cluster_grants.iter().map(|grant| (None, grant)))
}

/// Every role granted on a cluster, by scope, subject and role name.
fn role_grants(cluster: &ClusterSummary) -> BTreeSet<(Scope, String, String)> {
    let mut roles = BTreeSet::new();
    for (scope, grant) in scoped_grants(cluster) {
        for subject in &grant.subjects {
            roles.insert((scope.clone(), subject.clone(), grant.role.to_string()));
        }
    }
    roles
}

/// Every (scope, atom) a cluster's grants give.
fn all_atoms(cluster: &ClusterSummary, roles: Roles) -> BTreeSet<(Scope, GrantAtom)> {
    let mut atoms = BTreeSet::new();
    for (scope, grant) in scoped_grants(cluster) {
        let rules = roles.for_scope(&scope);
        atoms.extend(
            summary::atoms(std::slice::from_ref(grant), rules)
                .into_iter()
                .map(|atom| (scope.clone(), atom)),
        );
    }
    atoms
}

/// Grants given and taken. A role granted (or revoked) whole is one
/// change naming the role; what else changed (a role's rules, a subject
/// that keeps other roles) is verbs per resource, from the difference of
/// the two sets of (subject, resource, verb) the grants give.
fn grants(
    old: &ClusterSummary,
    new: &ClusterSummary,
    roles: (Roles, Roles),
    meaning: &mut ClusterMeaning,
) {
    let (roles_before, roles_after) = (role_grants(old), role_grants(new));
    let (before, after) = (all_atoms(old, roles.0), all_atoms(new, roles.1));
    meaning.grants_added = changes(&roles_after, &roles_before, roles.1, &after, &before);
    meaning.grants_removed = changes(&roles_before, &roles_after, roles.0, &before, &after);
}

/// What `side` grants that `other` does not: whole roles, then the atoms
/// no whole role accounts for.
fn changes(
    side_roles: &BTreeSet<(Scope, String, String)>,
    other_roles: &BTreeSet<(Scope, String, String)>,
    rules: Roles,
    side_atoms: &BTreeSet<(Scope, GrantAtom)>,
    other_atoms: &BTreeSet<(Scope, GrantAtom)>,
) -> Vec<GrantChange> {
    let mut changes = Vec::new();
    let mut covered: BTreeSet<(Scope, GrantAtom)> = BTreeSet::new();
    for granted @ (scope, subject, role) in side_roles {
        if other_roles.contains(granted) {
            continue;
        }
        let grant = summary::GrantSummary {
            binding: Default::default(),
            role: role.into(),
            subjects: vec![subject.clone()],
        };
        let atoms = summary::atoms(std::slice::from_ref(&grant), rules.for_scope(scope));
        let mut writes: BTreeSet<String> = BTreeSet::new();
        let mut verbs: BTreeSet<String> = BTreeSet::new();
        for atom in &atoms {
            if atom.verb == "*" || crate::model::writes(&atom.verb) {
                writes.insert(resource_name(atom));
                verbs.insert(atom.verb.clone());
            }
        }
        covered.extend(atoms.into_iter().map(|atom| (scope.clone(), atom)));
        changes.push(GrantChange {
            namespace: scope.clone(),
            subject: subject.clone(),
            role: Some(role.clone()),
            resources: writes.into_iter().collect(),
            verbs: verbs.into_iter().collect(),
        });
    }
    let rest = side_atoms
        .difference(other_atoms)
        .filter(|atom| !covered.contains(*atom));
    let mut groups: BTreeMap<(Scope, String, String), Vec<String>> = BTreeMap::new();
    for (scope, atom) in rest {
        groups
            .entry((scope.clone(), atom.subject.clone(), resource_name(atom)))
            .or_default()
            .push(atom.verb.clone());
    }
    changes.extend(
        groups
            .into_iter()
            .map(|((namespace, subject, resource), verbs)| GrantChange {
                namespace,
                subject,
                role: None,
                resources: vec![resource],
                verbs,
            }),
    );
    changes
}

/// `deployments` or `deployments.apps`.
fn resource_name(atom: &GrantAtom) -> String {
    match atom.api_group.as_str() {
        "" => atom.resource.clone(),
        group => format!("{}.{group}", atom.resource),
    }
}

/// Every quota key that changed, and each dimension whose total changed
/// against the cluster's capacity.
fn quotas(old: &ClusterSummary, new: &ClusterSummary, meaning: &mut ClusterMeaning) {
    for (name, env) in &new.envs {
        let Some(was) = old.envs.get(name) else {
            continue;
        };
        let keys: BTreeSet<&str> = was
            .quota
            .keys()
            .chain(env.quota.keys())
            .map(|key| key.as_ref())
            .collect();
        for key in keys {
            let (before, after) = (was.quota.get(key), env.quota.get(key));
            if before == after {
                continue;
            }
            let dimension = QuotaKey::parse(key).map_or(Dimension::Count, QuotaKey::dimension);
            meaning.quotas.push(QuotaChange {
                namespace: name.to_string(),
                key: key.to_string(),
                old: before.map(|value| dimension.format(*value)),
                new: after.map(|value| dimension.format(*value)),
                delta: before
                    .zip(after)
                    .map(|(before, after)| signed(dimension, *before, *after)),
            });
        }
    }
    let dimensions = [
        ("cpu", QuotaKey::RequestsCpu, new.capacity.cpu),
        ("memory", QuotaKey::RequestsMemory, new.capacity.memory),
        ("pods", QuotaKey::Pods, new.capacity.pods),
    ];
    for (name, key, capacity) in dimensions {
        let (before, after) = (old.requested(key), new.requested(key));
        if before == after {
            continue;
        }
        let dimension = key.dimension();
        meaning.capacity.push(CapacityChange {
            dimension: name,
            old: before.map(|value| dimension.format(value)),
            new: after.map(|value| dimension.format(value)),
            delta: before
                .zip(after)
                .map(|(before, after)| signed(dimension, before, after)),
            capacity: capacity.map(|value| dimension.format(value)),
            utilisation: after
                .zip(capacity)
                .filter(|(_, capacity)| *capacity > 0)
                .map(|(after, capacity)| {
                    let percent = u128::from(after) * 100 / u128::from(capacity);
                    u64::try_from(percent).unwrap_or(u64::MAX)
                }),
        });
    }
}

/// `+12`, `-512Mi`.
fn signed(dimension: Dimension, old: u64, new: u64) -> String {
    match new >= old {
        true => format!("+{}", dimension.format(new - old)),
        false => format!("-{}", dimension.format(old - new)),
    }
}

fn alerts(old: &ClusterSummary, new: &ClusterSummary, meaning: &mut ClusterMeaning) {
    let names: BTreeSet<&str> = old
        .envs
        .keys()
        .chain(new.envs.keys())
        .map(|name| name.as_ref())
        .collect();
    for name in names {
        fn by_name<'e>(env: &'e EnvSummary) -> BTreeMap<&'e str, &'e summary::AlertSummary<'e>> {
            env.alerts
                .iter()
                .map(|alert| (alert.alert.as_ref(), alert))
                .collect()
        }
        // A namespace added or removed says so itself; its alerts are not
        // listed one by one.
        let (Some(was), Some(is)) = (old.envs.get(name), new.envs.get(name)) else {
            continue;
        };
        let (before, after) = (by_name(was), by_name(is));
        let alerts: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
        for alert in alerts {
            let (old_alert, new_alert) = (before.get(alert).copied(), after.get(alert).copied());
            let (change, fields) = match (old_alert, new_alert) {
                (None, Some(_)) => ("added", Vec::new()),
                (Some(_), None) => ("removed", Vec::new()),
                (Some(a), Some(b)) => {
                    let fields: Vec<&'static str> = [
                        ("expr", a.expr != b.expr),
                        ("for", a.wait != b.wait),
                        ("severity", a.severity != b.severity),
                        ("receiver", a.receiver != b.receiver),
                    ]
                    .into_iter()
                    .filter(|(_, differs)| *differs)
                    .map(|(field, _)| field)
                    .collect();
                    if fields.is_empty() {
                        continue;
                    }
                    ("changed", fields)
                }
                (None, None) => continue,
            };
            meaning.alerts.push(AlertChange {
                namespace: name.to_string(),
                alert: alert.to_string(),
                change,
                fields,
                old_receiver: old_alert
                    .and_then(|alert| alert.receiver.as_deref().map(str::to_string)),
                new_receiver: new_alert
                    .and_then(|alert| alert.receiver.as_deref().map(str::to_string)),
            });
        }
    }
}

fn fleet_meaning(old: &Summary, new: &Summary) -> FleetMeaning {
    fn added<T: Ord + Clone>(old: &BTreeSet<T>, new: &BTreeSet<T>) -> Vec<T> {
        new.difference(old).cloned().collect()
    }
    let clusters = |summary: &Summary| summary.clusters.keys().cloned().collect::<BTreeSet<_>>();
    let routes = |summary: &Summary| {
        summary
            .routes
            .iter()
            .map(|route| {
                let mut matchers = Vec::new();
                if let Some(team) = &route.team {
                    matchers.push(format!("team={team}"));
                }
                if let Some(severity) = &route.severity {
                    matchers.push(format!("severity={severity}"));
                }
                format!("{} → {}", matchers.join(" "), route.receiver)
            })
            .collect::<BTreeSet<_>>()
    };
    let receivers = |summary: &Summary| {
        summary
            .receivers
            .iter()
            .map(|(name, kinds)| format!("{name} ({})", kinds.join(", ")))
            .collect::<BTreeSet<_>>()
    };
    fn policies<'s>(summary: &'s Summary) -> BTreeMap<String, &'s summary::PolicySummary> {
        summary
            .policies
            .iter()
            .map(|policy| (policy.name.clone(), policy))
            .collect()
    }
    let waivers = |summary: &Summary| {
        summary
            .waivers
            .iter()
            .map(|waiver| {
                format!(
                    "{} for {} {}: \"{}\"",
                    waiver.policy, waiver.kind, waiver.target, waiver.reason
                )
            })
            .collect::<BTreeSet<_>>()
    };
    let (old_policies, new_policies) = (policies(old), policies(new));
    let names = |policies: &BTreeMap<String, &summary::PolicySummary>| {
        policies.keys().cloned().collect::<BTreeSet<_>>()
    };
    let policies_changed = new_policies
        .iter()
        .filter_map(|(name, policy)| {
            let was = old_policies.get(name)?;
            let outcome = |policy: &summary::PolicySummary| {
                format!(
                    "{} of {} pass, {} waived",
                    policy.passes, policy.covers, policy.waived
                )
            };
            // More objects covered, all passing, is no news: what fails
            // or is waived is.
            let exceptions = |policy: &summary::PolicySummary| {
                (policy.covers.saturating_sub(policy.passes), policy.waived)
            };
            let severity = if was.severity == policy.severity {
                String::new()
            } else {
                format!(", severity {} → {}", was.severity, policy.severity)
            };
            (exceptions(was) != exceptions(policy) || !severity.is_empty())
                .then(|| format!("`{name}`: {} → {}{severity}", outcome(was), outcome(policy)))
        })
        .collect();
    let total = |summary: &Summary| {
        summary.clusters.values().fold(Money::ZERO, |sum, cluster| {
            sum.saturating_add(cluster.cost())
        })
    };
    let (old_total, new_total) = (total(old), total(new));
    FleetMeaning {
        clusters_added: added(&clusters(old), &clusters(new)),
        clusters_removed: added(&clusters(new), &clusters(old)),
        routes_added: added(&routes(old), &routes(new)),
        routes_removed: added(&routes(new), &routes(old)),
        default_receiver: (old.default_receiver != new.default_receiver)
            .then(|| (old.default_receiver.clone(), new.default_receiver.clone())),
        receivers_added: added(&receivers(old), &receivers(new)),
        receivers_removed: added(&receivers(new), &receivers(old)),
        policies_added: added(&names(&old_policies), &names(&new_policies)),
        policies_removed: added(&names(&new_policies), &names(&old_policies)),
        policies_changed,
        waivers_added: added(&waivers(old), &waivers(new)),
        waivers_removed: added(&waivers(new), &waivers(old)),
        cost: (old_total != new_total).then(|| cost_change("fleet", old_total, new_total)),
    }
}
