//! What a policy can read: the program's collections and, for each kind
//! of object, its fields and their types. The one table typing checks
//! paths against, evaluation reads through (by [`F`]), and the docs and
//! the language server list.

use crate::model::{Dimension, QuotaKey};

/// A kind of object a policy quantifies over or reaches through a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Env,
    Cluster,
    Capacity,
    Tier,
    Role,
    ClusterRole,
    Grant,
    Rule,
    Alert,
    Receiver,
    External,
    App,
    /// A quota's keys below a prefix (`""`, `"requests"`, `"limits"`,
    /// `"services"`): `quota.requests.cpu` is `requests.cpu`.
    Quota(&'static str),
    Limits,
    LimitValues,
}

impl Kind {
    /// The object's kind as messages name it.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Env => "env",
            Kind::Cluster => "cluster",
            Kind::Capacity => "capacity",
            Kind::Tier => "tier",
            Kind::Role => "role",
            Kind::ClusterRole => "cluster role",
            Kind::Grant => "grant",
            Kind::Rule => "network rule",
            Kind::Alert => "alert",
            Kind::Receiver => "receiver",
            Kind::External => "external",
            Kind::App => "app",
            Kind::Quota(_) => "quota",
            Kind::Limits => "limit range",
            Kind::LimitValues => "set of limit values",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Env => "envs",
            Kind::Cluster => "clusters",
            Kind::Tier => "tiers",
            Kind::Role => "roles",
            Kind::ClusterRole => "cluster roles",
            Kind::Grant => "grants",
            Kind::Rule => "network rules",
            Kind::Alert => "alerts",
            Kind::Receiver => "receivers",
            Kind::External => "externals",
            Kind::App => "apps",
            other => other.noun(),
        }
    }
}

/// An enumeration a field's values are words of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Words {
    Environment,
    PodSecurity,
    SubjectKind,
}

impl Words {
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Words::Environment => &["development", "staging", "production"],
            Words::PodSecurity => &["privileged", "baseline", "restricted"],
            Words::SubjectKind => &["user", "group", "serviceaccount"],
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Words::Environment => "an environment",
            Words::PodSecurity => "a pod security level",
            Words::SubjectKind => "a subject kind",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    /// A quantity with its dimension (a count for counts).
    Number(Dimension),
    /// A number written without a unit, before it meets a quantity.
    Scalar,
    Str,
    Word(Words),
    /// Labels or annotations: text by text.
    Map,
    /// A list of text (verbs, resources, integrations).
    Strs,
    Object(Kind),
    List(Kind),
}

impl Ty {
    /// The type as messages name it: "cpu", "a list of grants".
    pub fn describe(self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Number(Dimension::Count) => "a count".into(),
            Ty::Number(dimension) => dimension.as_str().into(),
            Ty::Scalar => "a number".into(),
            Ty::Str => "text".into(),
            Ty::Word(words) => words.noun().into(),
            Ty::Map => "labels (text by text)".into(),
            Ty::Strs => "a list of text".into(),
            Ty::Object(kind) => format!("a{} {}", article(kind.noun()), kind.noun()),
            Ty::List(kind) => format!("a list of {}", kind.plural()),
        }
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "n"
    } else {
        ""
    }
}

/// Every field a policy can read, for evaluation to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F {
    Name,
    EnvCluster,
    EnvTier,
    Environment,
    PodSecurity,
    Family,
    Stage,
    Team,
    Labels,
    Annotations,
    EnvQuota,
    EnvCost,
    EnvLimits,
    EnvGrants,
    Ingress,
    Egress,
    EnvAlerts,
    EnvDeploy,
    IngressRestricted,
    EgressRestricted,
    Server,
    Capacity,
    AllowClusterAdmin,
    ClusterEnvs,
    CapacityCpu,
    CapacityMemory,
    CapacityPods,
    Ceiling,
    Isolated,
    ForbidWildcards,
    ForbidVerbs,
    ForbidResources,
    RequireAlerts,
    TierEnvs,
    Verbs,
    Resources,
    ApiGroups,
    Wildcard,
    GrantRole,
    SubjectKind,
    Subject,
    GrantEnv,
    GrantCluster,
    ClusterWide,
    RuleAny,
    RuleEnvironment,
    RuleEnv,
    RuleExternal,
    AllPorts,
    RuleOwner,
    Severity,
    Expr,
    AlertReceiver,
    AlertEnv,
    Integrations,
    Namespace,
    ExternalCluster,
    Project,
    Repo,
    Revision,
    AppPath,
    AppEnv,
    Automated,
    QuotaKey(QuotaKey),
    /// The keys of a quota below a prefix: `requests` of `requests.cpu`.
    QuotaPrefix(&'static str),
    LimitKind,
    LimitDefault,
    LimitDefaultRequest,
    LimitMax,
    LimitMin,
    LimitValue(crate::model::LimitResource),
}

/// A field: its name, what evaluation reads, its type, whether it may be
/// unset, and what it is.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub read: F,
    pub ty: Ty,
    pub optional: bool,
    pub doc: &'static str,
}

const fn field(name: &'static str, read: F, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        read,
        ty,
        optional: false,
        doc,
    }
}

const fn maybe(name: &'static str, read: F, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        read,
        ty,
        optional: true,
        doc,
    }
}

const NAME: Field = field("name", F::Name, Ty::Str, "its name");

const ENV: &[Field] = &[
    NAME,
    field(
        "cluster",
        F::EnvCluster,
        Ty::Object(Kind::Cluster),
        "the cluster it is on",
    ),
    field("tier", F::EnvTier, Ty::Object(Kind::Tier), "its tier"),
    field(
        "environment",
        F::Environment,
        Ty::Word(Words::Environment),
        "its environment",
    ),
    field(
        "pod_security",
        F::PodSecurity,
        Ty::Word(Words::PodSecurity),
        "its Pod Security level",
    ),
    maybe("family", F::Family, Ty::Str, "the family it is a stage of"),
    maybe("stage", F::Stage, Ty::Str, "its stage in its family"),
    field("team", F::Team, Ty::Str, "its `team` label, else its name"),
    field(
        "labels",
        F::Labels,
        Ty::Map,
        "its namespace's labels as the program gives them (envk's own, `tier`, `environment` and Pod Security's, are `tier.name`, `environment` and `pod_security`)",
    ),
    field(
        "annotations",
        F::Annotations,
        Ty::Map,
        "its namespace's annotations",
    ),
    maybe(
        "quota",
        F::EnvQuota,
        Ty::Object(Kind::Quota("")),
        "its ResourceQuota",
    ),
    maybe(
        "cost",
        F::EnvCost,
        Ty::Scalar,
        "dollars a month its quota's requests cost at its cluster's prices (`envk cost`); not set when its quota does not set both `requests.cpu` and `requests.memory`",
    ),
    maybe(
        "limits",
        F::EnvLimits,
        Ty::Object(Kind::Limits),
        "its LimitRange",
    ),
    field(
        "grants",
        F::EnvGrants,
        Ty::List(Kind::Grant),
        "who may do what in it, one per subject",
    ),
    field(
        "ingress",
        F::Ingress,
        Ty::List(Kind::Rule),
        "its ingress rules as written",
    ),
    field(
        "egress",
        F::Egress,
        Ty::List(Kind::Rule),
        "its egress rules as written",
    ),
    field(
        "alerts",
        F::EnvAlerts,
        Ty::List(Kind::Alert),
        "its alert rules",
    ),
    maybe(
        "deploy",
        F::EnvDeploy,
        Ty::Object(Kind::App),
        "its Argo CD Application",
    ),
    field(
        "ingress_restricted",
        F::IngressRestricted,
        Ty::Bool,
        "whether a NetworkPolicy restricts its ingress (its rules, or its tier's default)",
    ),
    field(
        "egress_restricted",
        F::EgressRestricted,
        Ty::Bool,
        "whether a NetworkPolicy restricts its egress",
    ),
];

const CLUSTER: &[Field] = &[
    NAME,
    field("server", F::Server, Ty::Str, "its API server URL"),
    field(
        "environment",
        F::Environment,
        Ty::Word(Words::Environment),
        "its environment",
    ),
    maybe(
        "pod_security",
        F::PodSecurity,
        Ty::Word(Words::PodSecurity),
        "its Pod Security floor",
    ),
    field(
        "capacity",
        F::Capacity,
        Ty::Object(Kind::Capacity),
        "its capacity",
    ),
    field(
        "allow_cluster_admin",
        F::AllowClusterAdmin,
        Ty::Bool,
        "whether `cluster-admin` may be granted on it",
    ),
    field(
        "envs",
        F::ClusterEnvs,
        Ty::List(Kind::Env),
        "the envs placed on it",
    ),
];

const CAPACITY: &[Field] = &[
    maybe("cpu", F::CapacityCpu, Ty::Number(Dimension::Cpu), "cpu"),
    maybe(
        "memory",
        F::CapacityMemory,
        Ty::Number(Dimension::Memory),
        "memory",
    ),
    maybe(
        "pods",
        F::CapacityPods,
        Ty::Number(Dimension::Count),
        "pods",
    ),
];

const TIER: &[Field] = &[
    NAME,
    field(
        "pod_security",
        F::PodSecurity,
        Ty::Word(Words::PodSecurity),
        "its Pod Security level",
    ),
    maybe(
        "environment",
        F::Environment,
        Ty::Word(Words::Environment),
        "the environment it is for",
    ),
    field(
        "ceiling",
        F::Ceiling,
        Ty::Object(Kind::Quota("")),
        "the most an env of it may ask for",
    ),
    field(
        "isolated",
        F::Isolated,
        Ty::Bool,
        "whether its envs' ingress is restricted by default",
    ),
    field(
        "forbid_wildcards",
        F::ForbidWildcards,
        Ty::Bool,
        "whether it forbids `*` in granted roles",
    ),
    field(
        "forbid_verbs",
        F::ForbidVerbs,
        Ty::Strs,
        "the verbs it forbids granting",
    ),
    field(
        "forbid_resources",
        F::ForbidResources,
        Ty::Strs,
        "the resources it forbids granting",
    ),
    field(
        "require_alerts",
        F::RequireAlerts,
        Ty::Strs,
        "the alerts its envs must have",
    ),
    field(
        "envs",
        F::TierEnvs,
        Ty::List(Kind::Env),
        "the envs of the tier",
    ),
];

const ROLE: &[Field] = &[
    NAME,
    field("verbs", F::Verbs, Ty::Strs, "every verb its rules allow"),
    field(
        "resources",
        F::Resources,
        Ty::Strs,
        "every resource its rules name",
    ),
    field(
        "api_groups",
        F::ApiGroups,
        Ty::Strs,
        "every API group its rules name",
    ),
    field(
        "wildcard",
        F::Wildcard,
        Ty::Bool,
        "whether a rule has `*` for verbs, resources or groups",
    ),
];

const GRANT: &[Field] = &[
    field(
        "name",
        F::Name,
        Ty::Str,
        "its RoleBinding's or ClusterRoleBinding's name",
    ),
    field("role", F::GrantRole, Ty::Str, "the role granted"),
    field("verbs", F::Verbs, Ty::Strs, "every verb the role allows"),
    field(
        "resources",
        F::Resources,
        Ty::Strs,
        "every resource the role names",
    ),
    field(
        "wildcard",
        F::Wildcard,
        Ty::Bool,
        "whether the role has `*` for verbs, resources or groups",
    ),
    field(
        "kind",
        F::SubjectKind,
        Ty::Word(Words::SubjectKind),
        "the subject's kind",
    ),
    field("subject", F::Subject, Ty::Str, "the subject's name"),
    maybe(
        "env",
        F::GrantEnv,
        Ty::Object(Kind::Env),
        "the env it is in (unset when cluster-wide)",
    ),
    field(
        "cluster",
        F::GrantCluster,
        Ty::Object(Kind::Cluster),
        "the cluster it is on",
    ),
    field(
        "cluster_wide",
        F::ClusterWide,
        Ty::Bool,
        "whether it is `grant … on cluster …`",
    ),
];

const RULE: &[Field] = &[
    field("any", F::RuleAny, Ty::Bool, "whether the peer is `any`"),
    maybe(
        "environment",
        F::RuleEnvironment,
        Ty::Word(Words::Environment),
        "the peer environment",
    ),
    maybe("env", F::RuleEnv, Ty::Str, "the peer env's namespace"),
    maybe(
        "external",
        F::RuleExternal,
        Ty::Str,
        "the peer external's name",
    ),
    field(
        "all_ports",
        F::AllPorts,
        Ty::Bool,
        "whether it allows every port",
    ),
    field(
        "owner",
        F::RuleOwner,
        Ty::Object(Kind::Env),
        "the env whose rule it is",
    ),
];

const ALERT: &[Field] = &[
    NAME,
    maybe("severity", F::Severity, Ty::Str, "its `severity` label"),
    maybe("team", F::Team, Ty::Str, "its `team` label"),
    field("labels", F::Labels, Ty::Map, "its labels"),
    field("annotations", F::Annotations, Ty::Map, "its annotations"),
    field("expr", F::Expr, Ty::Str, "its PromQL expression"),
    maybe(
        "receiver",
        F::AlertReceiver,
        Ty::Object(Kind::Receiver),
        "the receiver Alertmanager routes it to",
    ),
    field(
        "env",
        F::AlertEnv,
        Ty::Object(Kind::Env),
        "the env whose alert it is",
    ),
];

const RECEIVER: &[Field] = &[
    NAME,
    field(
        "integrations",
        F::Integrations,
        Ty::Strs,
        "how it sends: `pagerduty`, `slack`, `email`, `webhook`",
    ),
];

const EXTERNAL: &[Field] = &[
    NAME,
    field("namespace", F::Namespace, Ty::Str, "its namespace"),
    field(
        "cluster",
        F::ExternalCluster,
        Ty::Str,
        "the cluster it is on",
    ),
    field(
        "environment",
        F::Environment,
        Ty::Word(Words::Environment),
        "its environment",
    ),
];

const APP: &[Field] = &[
    field("name", F::Name, Ty::Str, "its Application's name"),
    field("project", F::Project, Ty::Str, "its Argo CD project"),
    field("repo", F::Repo, Ty::Str, "its repository"),
    field("revision", F::Revision, Ty::Str, "its revision"),
    field("path", F::AppPath, Ty::Str, "its path in the repository"),
    field("team", F::Team, Ty::Str, "its env's team"),
    field(
        "env",
        F::AppEnv,
        Ty::Object(Kind::Env),
        "the env it deploys into",
    ),
    field(
        "automated",
        F::Automated,
        Ty::Bool,
        "whether Argo CD syncs it automatically",
    ),
];

const LIMITS: &[Field] = &[
    field(
        "kind",
        F::LimitKind,
        Ty::Str,
        "`Container`, `Pod` or `PersistentVolumeClaim`",
    ),
    field(
        "default",
        F::LimitDefault,
        Ty::Object(Kind::LimitValues),
        "default limits",
    ),
    field(
        "default_request",
        F::LimitDefaultRequest,
        Ty::Object(Kind::LimitValues),
        "default requests",
    ),
    field(
        "max",
        F::LimitMax,
        Ty::Object(Kind::LimitValues),
        "the most",
    ),
    field(
        "min",
        F::LimitMin,
        Ty::Object(Kind::LimitValues),
        "the least",
    ),
];

const LIMIT_VALUES: &[Field] = &[
    maybe(
        "cpu",
        F::LimitValue(crate::model::LimitResource::Cpu),
        Ty::Number(Dimension::Cpu),
        "cpu",
    ),
    maybe(
        "memory",
        F::LimitValue(crate::model::LimitResource::Memory),
        Ty::Number(Dimension::Memory),
        "memory",
    ),
    maybe(
        "ephemeral-storage",
        F::LimitValue(crate::model::LimitResource::EphemeralStorage),
        Ty::Number(Dimension::Memory),
        "ephemeral storage",
    ),
    maybe(
        "storage",
        F::LimitValue(crate::model::LimitResource::Storage),
        Ty::Number(Dimension::Memory),
        "storage",
    ),
];

/// The program's collections, by the name a policy writes.
pub const COLLECTIONS: &[(&str, Kind, &str)] = &[
    (
        "envs",
        Kind::Env,
        "every env (an env on several clusters is one per cluster)",
    ),
    ("clusters", Kind::Cluster, "every cluster"),
    ("tiers", Kind::Tier, "every tier"),
    ("roles", Kind::Role, "every role"),
    ("cluster_roles", Kind::ClusterRole, "every cluster role"),
    (
        "grants",
        Kind::Grant,
        "every grant to a subject, in envs and cluster-wide",
    ),
    (
        "externals",
        Kind::External,
        "every external, once per cluster",
    ),
    ("apps", Kind::App, "every env's Argo CD Application"),
    ("alerts", Kind::Alert, "every env's alert rules"),
    ("receivers", Kind::Receiver, "every receiver"),
];

pub fn collection(name: &str) -> Option<Kind> {
    COLLECTIONS
        .iter()
        .find(|(written, _, _)| *written == name)
        .map(|&(_, kind, _)| kind)
}

/// The fields of `kind`, for lists in messages and completion.
pub fn fields(kind: Kind) -> Vec<Field> {
    match kind {
        Kind::Env => ENV.to_vec(),
        Kind::Cluster => CLUSTER.to_vec(),
        Kind::Capacity => CAPACITY.to_vec(),
        Kind::Tier => TIER.to_vec(),
        Kind::Role | Kind::ClusterRole => ROLE.to_vec(),
        Kind::Grant => GRANT.to_vec(),
        Kind::Rule => RULE.to_vec(),
        Kind::Alert => ALERT.to_vec(),
        Kind::Receiver => RECEIVER.to_vec(),
        Kind::External => EXTERNAL.to_vec(),
        Kind::App => APP.to_vec(),
        Kind::Limits => LIMITS.to_vec(),
        Kind::LimitValues => LIMIT_VALUES.to_vec(),
        Kind::Quota(prefix) => quota_fields(prefix),
    }
}

/// The field `name` of `kind`.
pub fn field_of(kind: Kind, name: &str) -> Option<Field> {
    fields(kind).into_iter().find(|field| field.name == name)
}

/// A quota's next segments below `prefix`: a key (`requests.cpu`) or a
/// prefix of keys (`requests`). `services` is a key and the prefix of two
/// others, which are read as `services_loadbalancers` and
/// `services_nodeports`.
fn quota_fields(prefix: &'static str) -> Vec<Field> {
    let mut found: Vec<Field> = Vec::new();
    for key in QuotaKey::ALL {
        let text = key.as_str();
        let path = quota_path(key);
        if prefix.is_empty() && path != text {
            found.push(maybe(
                path,
                F::QuotaKey(key),
                Ty::Number(key.dimension()),
                "",
            ));
            continue;
        }
        let rest = match prefix {
            "" => text,
            prefix => match text
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('.'))
            {
                Some(rest) => rest,
                None => continue,
            },
        };
        let start = text.len() - rest.len();
        let (segment, field) = match rest.split_once('.') {
            None => (
                rest,
                maybe(rest, F::QuotaKey(key), Ty::Number(key.dimension()), ""),
            ),
            Some((segment, _)) => {
                let below = &text[..start + segment.len()];
                (
                    segment,
                    field(
                        segment,
                        F::QuotaPrefix(below),
                        Ty::Object(Kind::Quota(below)),
                        "",
                    ),
                )
            }
        };
        if !found.iter().any(|seen| seen.name == segment) {
            found.push(field);
        }
    }
    found
}

/// The type of a dotted path (`env.quota.requests`) whose first segment is
/// one of `vars` (innermost last) or a collection: for the language
/// server, which completes what follows it. `None` for a path that does
/// not type (typing says why).
pub fn path_type(path: &str, vars: &[(String, Kind)]) -> Option<Ty> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    let mut ty = match vars.iter().rev().find(|(name, _)| name == first) {
        Some(&(_, kind)) => Ty::Object(kind),
        None => Ty::List(collection(first)?),
    };
    for segment in segments {
        let Ty::Object(kind) = ty else {
            return None;
        };
        ty = field_of(kind, segment)?.ty;
    }
    Some(ty)
}

/// The reference of what a policy reads, as `docs/language.md` shows it
/// (a test holds the two equal).
pub fn reference() -> String {
    let mut text = String::from("| collection | of | what |\n|---|---|---|\n");
    for (name, kind, doc) in COLLECTIONS {
        text.push_str(&format!("| `{name}` | {} | {doc} |\n", kind.noun()));
    }
    let kinds = [
        Kind::Env,
        Kind::Cluster,
        Kind::Capacity,
        Kind::Tier,
        Kind::Role,
        Kind::Grant,
        Kind::Rule,
        Kind::Alert,
        Kind::Receiver,
        Kind::External,
        Kind::App,
        Kind::Limits,
        Kind::LimitValues,
    ];
    for kind in kinds {
        let title = match kind {
            Kind::Role => "role, cluster role".to_string(),
            other => other.noun().to_string(),
        };
        text.push_str(&format!(
            "\n**{title}**\n\n| field | type | what |\n|---|---|---|\n"
        ));
        for field in fields(kind) {
            let unset = if field.optional { ", may be unset" } else { "" };
            text.push_str(&format!(
                "| `{}` | {}{unset} | {} |\n",
                field.name,
                field.ty.describe(),
                field.doc
            ));
        }
    }
    let paths: Vec<String> = QuotaKey::ALL
        .into_iter()
        .map(|key| format!("`{}`", quota_path(key)))
        .collect();
    text.push_str(&format!(
        "\n**quota** (an env's `quota`, a tier's `ceiling`): its keys as paths, each a quantity that may be unset: {}.\n",
        paths.join(", ")
    ));
    text
}

/// How a policy writes a quota key below `quota`.
pub fn quota_path(key: QuotaKey) -> &'static str {
    match key {
        QuotaKey::ServicesLoadBalancers => "services_loadbalancers",
        QuotaKey::ServicesNodePorts => "services_nodeports",
        key => key.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quota_key_is_reached_by_its_path() {
        for key in QuotaKey::ALL {
            let mut kind = Kind::Quota("");
            let path = quota_path(key);
            let segments: Vec<&str> = path.split('.').collect();
            for (at, segment) in segments.iter().enumerate() {
                let field = field_of(kind, segment).expect("each segment is a field");
                match field.ty {
                    Ty::Object(next) => kind = next,
                    Ty::Number(dimension) => {
                        assert_eq!(at, segments.len() - 1);
                        assert_eq!(field.read, F::QuotaKey(key));
                        assert_eq!(dimension, key.dimension());
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
}
