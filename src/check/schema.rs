//! The fields of every block, as data: one table per block kind, each
//! field with its name, its type (with its unit), whether it is required
//! (and an example for the help line), its default, and a one-line doc.
//!
//! Owns: what a block may hold. [`read`] walks a table over a block as
//! written: unknown fields (E0302, with the closest name), fields set twice
//! (E0304), values of the wrong type (E0301 and the unit errors, through
//! `units`), nested blocks by their own tables, and then the required
//! fields that are missing (E0303). What a field *means* (a cluster's
//! environment, a tier's ceiling against its parent's) stays with the
//! check that builds the Model from the typed values. Completion and hover
//! will read the same tables.
//!
//! Deliberately absent: blocks whose keys are data rather than fields
//! (labels, annotations, a quota's resource names, an alert's arguments),
//! which `fields::Fields` reads against a list of keys.

use crate::cost::Money;
use crate::diag::{Code, Diagnostic};
use crate::model::{Duration, Environment, PodSecurity, Quantity};
use crate::resolve::value::{Lets, Record, Scope, Value, Vars};
use crate::resolve::{check_dns_label, dns_diagnostic};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::Block;

use super::fields::{self, Entry, Fields, Keys};
use super::units::{self, Diags};

/// One field of a block.
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    pub presence: Presence,
    /// What the value must also be, beyond its type (a path inside the
    /// repository, an interval of a second or more): reports it and says
    /// whether it holds.
    pub check: Option<Check>,
    pub doc: &'static str,
}

/// A field's own rule on its typed value, written at `span`.
pub type Check = fn(&Typed, Span, &mut Diags) -> bool;

/// Whether a block must set a field.
#[derive(Clone, Copy)]
pub enum Presence {
    /// Always: the help line shows `example`.
    Required { example: &'static str },
    /// Unless the block inherits it (a tier that `extends` another).
    RequiredUnlessInherited { example: &'static str },
    /// Never; `default` says what holds without it, for the docs.
    Optional { default: Option<&'static str> },
}

impl Presence {
    /// The example a "missing field" help line shows, when the field is
    /// required of a block that does (or does not) inherit its fields.
    fn required_example(self, inherited: bool) -> Option<&'static str> {
        match self {
            Presence::Required { example } => Some(example),
            Presence::RequiredUnlessInherited { example } => (!inherited).then_some(example),
            Presence::Optional { .. } => None,
        }
    }
}

/// What a field holds, and how it is read.
#[derive(Clone, Copy)]
pub enum Type {
    /// An `https://` URL with a host; a wrong one is `code`, described as
    /// `what`.
    HttpsUrl {
        code: Code,
        what: &'static str,
    },
    Environment,
    PodSecurity,
    /// One of a fixed set of words, described as `what`.
    Word {
        words: &'static [&'static str],
        what: &'static str,
    },
    Duration,
    Cpu,
    Memory,
    Count,
    /// Dollars, with up to nine decimals: a price or a budget.
    Money,
    Bool,
    Text,
    /// A name written bare or as a string, a DNS-1123 label: an Argo CD
    /// project.
    Label,
    /// A nested block of fields.
    Block(&'static Nested),
    /// A value the block's own check types (a quota, a map of labels, a
    /// name that may be written bare): read as a value, not judged here.
    Value,
}

impl Type {
    /// What a value of the type is, for hover and completion: "cpu
    /// (cores, or milli-cores such as `500m`)".
    pub fn describe(self) -> String {
        let listed = |words: &mut dyn Iterator<Item = &str>| {
            words
                .map(|word| format!("`{word}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Type::HttpsUrl { what, .. } => format!("{what} (an `https://` URL)"),
            Type::Environment => format!(
                "an environment: {}",
                listed(&mut Environment::ALL.iter().map(|e| e.as_str()))
            ),
            Type::PodSecurity => format!(
                "a Pod Security level: {}",
                listed(&mut PodSecurity::ALL.iter().map(|level| level.as_str()))
            ),
            Type::Word { words, what } => format!("{what}: {}", listed(&mut words.iter().copied())),
            Type::Duration => "a duration (`30s`, `5m`, `1h30m`)".into(),
            Type::Cpu => "cpu (cores such as `2`, or milli-cores such as `500m`)".into(),
            Type::Memory => "memory (bytes with a unit: `512Mi`, `8Gi`)".into(),
            Type::Count => "a count (a whole number)".into(),
            Type::Money => "an amount of dollars (`150`, `0.031611`)".into(),
            Type::Bool => "a boolean (`true` or `false`)".into(),
            Type::Text => "text (a string)".into(),
            Type::Label => "a name (a DNS-1123 label, bare or quoted)".into(),
            Type::Block(nested) => format!("{} (a block of fields)", nested.what),
            Type::Value => "a value its block types itself".into(),
        }
    }
}

/// A nested block: its fields, what it is called where a block was
/// expected ("a capacity"), and how its diagnostics name it.
pub struct Nested {
    pub fields: &'static [Field],
    pub what: &'static str,
    pub context: NestedContext,
}

/// How a nested block's diagnostics name it.
#[derive(Clone, Copy)]
pub enum NestedContext {
    /// Its parent's name after this: "the capacity of" cluster `prod`.
    Of(&'static str),
    /// Always this: "a sync block".
    Fixed(&'static str),
}

impl NestedContext {
    /// What a nested block's diagnostics call it, in a parent called
    /// `parent`.
    fn of(self, parent: &str) -> std::borrow::Cow<'static, str> {
        match self {
            NestedContext::Of(prefix) => format!("{prefix} {parent}").into(),
            NestedContext::Fixed(context) => context.into(),
        }
    }
}

pub const CLUSTER: &[Field] = &[
    Field {
        name: "server",
        ty: Type::HttpsUrl {
            code: Code::E0308,
            what: "a cluster's `server`",
        },
        presence: Presence::Required {
            example: "\"https://api.example.com\"",
        },
        check: None,
        doc: "The cluster's API server, an `https://` URL: where Argo CD deploys.",
    },
    Field {
        name: "environment",
        ty: Type::Environment,
        presence: Presence::Required {
            example: "production",
        },
        check: None,
        doc: "`development`, `staging` or `production`: what every env on the cluster belongs to.",
    },
    Field {
        name: "pod_security",
        ty: Type::PodSecurity,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "A floor for the Pod Security level of every env on the cluster.",
    },
    Field {
        name: "capacity",
        ty: Type::Block(&CAPACITY),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "What the cluster can hold; the envs' requests together must fit.",
    },
    Field {
        name: "price",
        ty: Type::Block(&PRICE),
        presence: Presence::Optional {
            default: Some("OpenCost's default prices"),
        },
        check: None,
        doc: "The cluster's list prices, in dollars: `cpu` per core-hour and `memory` per GiB-hour. What `envk cost`, the READMEs and tier budgets charge the envs' quota requests at.",
    },
    Field {
        name: "prometheus",
        ty: Type::Block(&PROMETHEUS),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The cluster's Prometheus: its scrape interval, its URL for federation and its namespace.",
    },
    Field {
        name: "allow_cluster_admin",
        ty: Type::Bool,
        presence: Presence::Optional {
            default: Some("false"),
        },
        check: None,
        doc: "On a production cluster, whether a cluster role with `escalate`, `bind`, `impersonate` or `*` may be granted cluster-wide.",
    },
];

pub const CAPACITY: Nested = Nested {
    fields: &[
        Field {
            name: "cpu",
            ty: Type::Cpu,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Cores the envs may request together.",
        },
        Field {
            name: "memory",
            ty: Type::Memory,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Memory the envs may request together.",
        },
        Field {
            name: "pods",
            ty: Type::Count,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Pods the envs may run together.",
        },
    ],
    what: "a capacity",
    context: NestedContext::Of("the capacity of"),
};

pub const PRICE: Nested = Nested {
    fields: &[
        Field {
            name: "cpu",
            ty: Type::Money,
            presence: Presence::Optional {
                default: Some("0.031611"),
            },
            check: None,
            doc: "Dollars per core-hour.",
        },
        Field {
            name: "memory",
            ty: Type::Money,
            presence: Presence::Optional {
                default: Some("0.004237"),
            },
            check: None,
            doc: "Dollars per GiB-hour of memory.",
        },
    ],
    what: "a price block",
    context: NestedContext::Of("the price of"),
};

pub const PROMETHEUS: Nested = Nested {
    fields: &[
        Field {
            name: "scrape_interval",
            ty: Type::Duration,
            presence: Presence::Optional {
                default: Some("15s"),
            },
            check: Some(at_least_a_second),
            doc: "How often the cluster's Prometheus scrapes; at least a second.",
        },
        Field {
            name: "url",
            ty: Type::HttpsUrl {
                code: Code::E0308,
                what: "a Prometheus `url`",
            },
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Where the central Prometheus federates this one from.",
        },
        Field {
            name: "namespace",
            ty: Type::Label,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The namespace the cluster's Prometheus runs in: it may reach the `metrics` ports of every env on the cluster, and is given a scrape job for them.",
        },
        Field {
            name: "scrape",
            ty: Type::Value,
            presence: Presence::Optional {
                default: Some("[kubelet, cadvisor, kube_state_metrics]"),
            },
            check: None,
            doc: "The exporters scraped beside the seed's node-exporter and annotated pods: `kubelet` (its `/metrics`, volume stats), `cadvisor` (container usage, at the kubelet's `/metrics/cadvisor`), `kube_state_metrics` (object state). An alert that reads an exporter's metrics on a cluster that does not scrape it is warned of.",
        },
        Field {
            name: "alertmanager",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The Alertmanager the cluster's Prometheus sends its alerts to: `http://` (an in-cluster Service) or `https://`, host, port and path, no credential.",
        },
        Field {
            name: "kube_state_metrics",
            ty: Type::Label,
            presence: Presence::Optional {
                default: Some("\"kube-state-metrics\""),
            },
            check: None,
            doc: "The name of kube-state-metrics' Service, whose endpoints are scraped (but the `telemetry` port, its own metrics).",
        },
    ],
    what: "a Prometheus block",
    context: NestedContext::Of("the prometheus block of"),
};

pub const EXTERNAL: &[Field] = &[
    Field {
        name: "namespace",
        ty: Type::Label,
        presence: Presence::Optional {
            default: Some("the external's name"),
        },
        check: None,
        doc: "The namespace, on each of the external's clusters, that network rules naming the external select.",
    },
    Field {
        name: "environment",
        ty: Type::Environment,
        presence: Presence::Optional {
            default: Some("each cluster's environment"),
        },
        check: None,
        doc: "What the namespace counts as for the `accept from` of the envs it sends traffic to.",
    },
];

pub const RESOURCE: &[Field] = &[
    Field {
        name: "verbs",
        ty: Type::Value,
        presence: Presence::Optional {
            default: Some("every verb a custom resource serves"),
        },
        check: None,
        doc: "The verbs the resource serves: by default those the API server serves on every custom resource (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`).",
    },
    Field {
        name: "subresources",
        ty: Type::Value,
        presence: Presence::Optional {
            default: Some("none"),
        },
        check: None,
        doc: "The subresources its CRD declares: `status` and `scale` serve `get`, `update` and `patch`.",
    },
    Field {
        name: "cluster_scoped",
        ty: Type::Bool,
        presence: Presence::Optional {
            default: Some("false"),
        },
        check: None,
        doc: "Whether the resource is cluster-wide (its CRD's `scope: Cluster`): only a cluster role can grant it.",
    },
];

pub const TIER: &[Field] = &[
    Field {
        name: "pod_security",
        ty: Type::PodSecurity,
        presence: Presence::RequiredUnlessInherited {
            example: "restricted",
        },
        check: None,
        doc: "`privileged`, `baseline` or `restricted`: the Pod Security level of the tier's envs.",
    },
    Field {
        name: "environment",
        ty: Type::Environment,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The only environment whose clusters may hold the tier's envs.",
    },
    Field {
        name: "ceiling",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The most any env of the tier may ask for, as a quota.",
    },
    Field {
        name: "budget",
        ty: Type::Money,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The most, in dollars a month, that the quota requests of any env of the tier may cost at its cluster's prices.",
    },
    Field {
        name: "network",
        ty: Type::Word {
            words: &["isolated", "open"],
            what: "a network mode",
        },
        presence: Presence::Optional {
            default: Some("open"),
        },
        check: None,
        doc: "`isolated`: the tier's envs deny traffic in and out by default.",
    },
    Field {
        name: "self_managed",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "`[network, rbac]`: what the tier's envs manage themselves, their own NetworkPolicies or Roles and RoleBindings, outside what envk proves.",
    },
];

pub const ENV: &[Field] = &[
    Field {
        name: "labels",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Labels on the env's Namespace.",
    },
    Field {
        name: "annotations",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Annotations on the env's Namespace.",
    },
    Field {
        name: "alert_group",
        ty: Type::Value,
        presence: Presence::Optional {
            default: Some("the env's name"),
        },
        check: None,
        doc: "The name of the env's group of alert rules.",
    },
    Field {
        name: "alert_labels",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Labels on every alert rule of the env.",
    },
    Field {
        name: "deploy",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The Argo CD Application that deploys the env's manifests.",
    },
];

/// In the order a deploy's values are typed, so its diagnostics come in
/// the order they always have.
/// In the order a deploy's values are typed, so its diagnostics come in
/// the order they always have.
pub const DEPLOY: &[Field] = &[
    Field {
        name: "repo",
        ty: Type::HttpsUrl {
            code: Code::E0803,
            what: "a deploy `repo`",
        },
        presence: Presence::Required {
            example: "\"https://github.com/org/manifests\"",
        },
        check: None,
        doc: "The Git repository of the env's manifests.",
    },
    Field {
        name: "path",
        ty: Type::Text,
        presence: Presence::Required {
            example: "\"environments/production\"",
        },
        check: Some(inside_the_repository),
        doc: "The folder of the manifests, relative to the repository's root.",
    },
    Field {
        name: "revision",
        ty: Type::Text,
        presence: Presence::Optional {
            default: Some("HEAD"),
        },
        check: Some(not_empty_revision),
        doc: "The branch, tag or commit to deploy.",
    },
    Field {
        name: "project",
        ty: Type::Label,
        presence: Presence::Optional {
            default: Some("a project of the env's own, named after it"),
        },
        check: None,
        doc: "The Argo CD project of the Application.",
    },
    Field {
        name: "sync",
        ty: Type::Block(&SYNC),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Argo CD's automated sync; without it, syncs are manual.",
    },
    Field {
        name: "sync_options",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Argo CD sync options, such as `[ServerSideApply, PruneLast, \"PrunePropagationPolicy=background\"]`.",
    },
    Field {
        name: "retry",
        ty: Type::Block(&RETRY),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "How often, and after how long, Argo CD retries a failed sync.",
    },
    Field {
        name: "ignore_differences",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Fields of live objects Argo CD does not compare, a list of `{ kind group name namespace json_pointers jq_path_expressions managed_fields_managers }`.",
    },
    Field {
        name: "helm",
        ty: Type::Block(&HELM),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Options of a Helm chart at `path`: its release name, values files and parameters.",
    },
    Field {
        name: "kustomize",
        ty: Type::Block(&KUSTOMIZE),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Options of a Kustomize folder at `path`: the images it sets.",
    },
    Field {
        name: "sources",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "More sources of the Application, a list of `{ repo path revision ref }`, after the one `repo` and `path` give.",
    },
];

/// `retry { … }` in a deploy block. Its fields are read with the deploy's,
/// so their names are the deploy's too.
pub const RETRY: Nested = Nested {
    fields: &[
        Field {
            name: "limit",
            ty: Type::Count,
            presence: Presence::Optional {
                default: Some("Argo CD's, no retry"),
            },
            check: None,
            doc: "How many times a failed sync is retried.",
        },
        Field {
            name: "backoff",
            ty: Type::Duration,
            presence: Presence::Optional {
                default: Some("`5s`"),
            },
            check: None,
            doc: "How long before the first retry.",
        },
        Field {
            name: "factor",
            ty: Type::Count,
            presence: Presence::Optional { default: Some("2") },
            check: None,
            doc: "What each wait is multiplied by for the next retry.",
        },
        Field {
            name: "max_backoff",
            ty: Type::Duration,
            presence: Presence::Optional {
                default: Some("`3m`"),
            },
            check: None,
            doc: "The longest wait between two retries.",
        },
    ],
    what: "a retry block",
    context: NestedContext::Fixed("a retry block"),
};

pub const HELM: Nested = Nested {
    fields: &[
        Field {
            name: "release_name",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("the Application's name"),
            },
            check: None,
            doc: "The Helm release's name.",
        },
        Field {
            name: "values_files",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Values files, relative to `path` (or `$REF/…` of a source with `ref`), applied in order.",
        },
        Field {
            name: "parameters",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "Values set one by one, `{ \"image.tag\" = \"v1.4.2\" }`, over the values files.",
        },
    ],
    what: "a helm block",
    context: NestedContext::Fixed("a helm block"),
};

pub const KUSTOMIZE: Nested = Nested {
    fields: &[Field {
        name: "images",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Images to set, as `kustomize edit set image` takes them: `\"ghcr.io/acme/shop:v1.4.2\"`.",
    }],
    what: "a kustomize block",
    context: NestedContext::Fixed("a kustomize block"),
};

/// An element of a deploy's `ignore_differences`.
pub const IGNORE_DIFFERENCE: Nested = Nested {
    fields: &[
        Field {
            name: "kind",
            ty: Type::Text,
            presence: Presence::Required {
                example: "\"Deployment\"",
            },
            check: None,
            doc: "The kind of the objects, a glob.",
        },
        Field {
            name: "group",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("the core group"),
            },
            check: None,
            doc: "The API group of the objects, a glob.",
        },
        Field {
            name: "name",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("every object"),
            },
            check: None,
            doc: "The name of the one object.",
        },
        Field {
            name: "namespace",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("every namespace"),
            },
            check: None,
            doc: "The namespace of the objects.",
        },
        Field {
            name: "json_pointers",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The fields not compared, as JSON pointers: `[\"/spec/replicas\"]`.",
        },
        Field {
            name: "jq_path_expressions",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The fields not compared, as jq paths.",
        },
        Field {
            name: "managed_fields_managers",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The field managers whose fields are not compared.",
        },
    ],
    what: "an ignored difference",
    context: NestedContext::Fixed("an ignored difference"),
};

/// An element of a deploy's `sources`.
pub const SOURCE: Nested = Nested {
    fields: &[
        Field {
            name: "repo",
            ty: Type::HttpsUrl {
                code: Code::E0803,
                what: "a source's `repo`",
            },
            presence: Presence::Required {
                example: "\"https://github.com/org/values\"",
            },
            check: None,
            doc: "The Git repository of the source.",
        },
        Field {
            name: "path",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("none: the source only gives files to the others, by its `ref`"),
            },
            check: Some(inside_the_repository),
            doc: "The folder of manifests in that repository.",
        },
        Field {
            name: "revision",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("HEAD"),
            },
            check: Some(not_empty_revision),
            doc: "The branch, tag or commit.",
        },
        Field {
            name: "ref",
            ty: Type::Label,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "A name other sources' Helm `values_files` use it by: `$NAME/values.yaml`.",
        },
    ],
    what: "a source",
    context: NestedContext::Fixed("a source"),
};

/// The top-level `federation` block: what the central Prometheus
/// pulls from each cluster's.
pub const FEDERATION: &[Field] = &[
    Field {
        name: "match",
        ty: Type::Value,
        presence: Presence::Optional {
            default: Some("[\"{__name__=~\\\"namespace:.*\\\"}\", \"up\"]"),
        },
        check: None,
        doc: "The series selectors the central Prometheus asks each cluster's for, each a `match[]` of `/federate`: by default the per-namespace aggregates each cluster records and `up`.",
    },
    Field {
        name: "scrape_interval",
        ty: Type::Duration,
        presence: Presence::Optional {
            default: Some("1m"),
        },
        check: Some(at_least_a_second),
        doc: "How often the central Prometheus federates; at least a second.",
    },
];

/// `receiver NAME { … }`: one block per way it sends, at least one.
pub const RECEIVER: &[Field] = &[
    Field {
        name: "pagerduty",
        ty: Type::Block(&PAGERDUTY),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Pages through PagerDuty's Events API v2.",
    },
    Field {
        name: "slack",
        ty: Type::Block(&SLACK),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Posts to a Slack channel through an incoming webhook.",
    },
    Field {
        name: "email",
        ty: Type::Block(&EMAIL),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Mails through an SMTP server.",
    },
    Field {
        name: "webhook",
        ty: Type::Block(&WEBHOOK),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Posts Alertmanager's JSON payload to a URL.",
    },
];

/// Whether a receiver sends resolved notifications: every integration has
/// it, with Alertmanager's own default.
const fn send_resolved(default: &'static str) -> Field {
    Field {
        name: "send_resolved",
        ty: Type::Bool,
        presence: Presence::Optional {
            default: Some(default),
        },
        check: None,
        doc: "Whether to notify when the alert stops firing too.",
    }
}

pub const PAGERDUTY: Nested = Nested {
    fields: &[
        Field {
            name: "routing_key_file",
            ty: Type::Text,
            // Required, unless `routing_key` was written and refused:
            // `routing::receiver` says so itself, once.
            presence: Presence::Optional { default: None },
            check: Some(secret_file),
            doc: "The file, in Alertmanager's pod, holding the integration key of a PagerDuty service (required).",
        },
        Field {
            name: "routing_key",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: Some(refuse_routing_key),
            doc: "Refused (E0711): the key would be committed to Git; name its file with `routing_key_file`.",
        },
        send_resolved("true"),
    ],
    what: "a pagerduty block",
    context: NestedContext::Of("the pagerduty block of"),
};

pub const SLACK: Nested = Nested {
    fields: &[
        Field {
            name: "channel",
            ty: Type::Text,
            presence: Presence::Optional {
                default: Some("the webhook's own channel"),
            },
            check: None,
            doc: "The channel or user to post to, as `#devops` or `@oncall`.",
        },
        Field {
            name: "api_url_file",
            ty: Type::Text,
            presence: Presence::Optional { default: None },
            check: Some(secret_file),
            doc: "The file, in Alertmanager's pod, holding the Slack incoming-webhook URL (required).",
        },
        Field {
            name: "api_url",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: Some(refuse_api_url),
            doc: "Refused (E0711): a Slack webhook URL is a credential; name its file with `api_url_file`.",
        },
        send_resolved("false"),
    ],
    what: "a slack block",
    context: NestedContext::Of("the slack block of"),
};

pub const EMAIL: Nested = Nested {
    fields: &[
        Field {
            name: "to",
            ty: Type::Text,
            presence: Presence::Required {
                example: "\"oncall@example.com\"",
            },
            check: None,
            doc: "The address, or comma-separated addresses, to mail.",
        },
        Field {
            name: "from",
            ty: Type::Text,
            presence: Presence::Required {
                example: "\"alertmanager@example.com\"",
            },
            check: None,
            doc: "The sender's address.",
        },
        Field {
            name: "smarthost",
            ty: Type::Text,
            presence: Presence::Required {
                example: "\"smtp.example.com:587\"",
            },
            check: Some(host_and_port),
            doc: "The SMTP server, as `host:port`.",
        },
        Field {
            name: "auth_username",
            ty: Type::Text,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "The user to log in to the SMTP server as.",
        },
        Field {
            name: "auth_password_file",
            ty: Type::Text,
            presence: Presence::Optional { default: None },
            check: Some(secret_file),
            doc: "The file, in Alertmanager's pod, holding that user's password (with `auth_username`).",
        },
        Field {
            name: "auth_password",
            ty: Type::Value,
            presence: Presence::Optional { default: None },
            check: Some(refuse_auth_password),
            doc: "Refused (E0711): the password would be committed to Git; name its file with `auth_password_file`.",
        },
        Field {
            name: "require_tls",
            ty: Type::Bool,
            presence: Presence::Optional {
                default: Some("true"),
            },
            check: None,
            doc: "Whether the SMTP connection must use STARTTLS.",
        },
        send_resolved("false"),
    ],
    what: "an email block",
    context: NestedContext::Of("the email block of"),
};

pub const WEBHOOK: Nested = Nested {
    fields: &[
        Field {
            name: "url",
            ty: Type::Value,
            presence: Presence::Required {
                example: "\"https://hooks.example.com/alerts\"",
            },
            check: None,
            doc: "Where to post: http or https, with no credential in it (E0711).",
        },
        Field {
            name: "credentials_file",
            ty: Type::Text,
            presence: Presence::Optional { default: None },
            check: Some(secret_file),
            doc: "The file, in Alertmanager's pod, holding a token sent as `Authorization: Bearer …`.",
        },
        send_resolved("true"),
    ],
    what: "a webhook block",
    context: NestedContext::Of("the webhook block of"),
};

/// E0306: Alertmanager reads a secret from a file mounted into its pod,
/// by an absolute path (a relative one would be read from wherever its
/// configuration happens to be).
fn secret_file(typed: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    let Typed::Text(path) = typed else {
        return true;
    };
    let absolute = path.starts_with('/') && path.len() > 1 && !path.ends_with('/');
    if !absolute {
        diagnostics.push(
            Diagnostic::new(Code::E0306, span, format!("`{path}` is not a file's absolute path"))
                .label("Alertmanager reads the secret from this file")
                .help("mount the Secret into Alertmanager's pod and name the file by its absolute path, as `\"/etc/alertmanager/secrets/KEY\"`"),
        );
    }
    absolute
}

/// E0306: an SMTP server is `host:port`.
fn host_and_port(typed: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    let Typed::Text(address) = typed else {
        return true;
    };
    let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !host.contains(['/', '@', ' '])
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    if !valid {
        diagnostics.push(
            Diagnostic::new(Code::E0306, span, format!("`{address}` is not `host:port`"))
                .label("the SMTP server")
                .help("write the server and its port, as `\"smtp.example.com:587\"`"),
        );
    }
    valid
}

fn refuse_routing_key(_: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    diagnostics.push(inline_secret(
        span,
        "a PagerDuty integration key",
        "routing_key_file",
    ));
    false
}

fn refuse_api_url(_: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    diagnostics.push(inline_secret(span, "a Slack webhook URL", "api_url_file"));
    false
}

fn refuse_auth_password(_: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    diagnostics.push(inline_secret(
        span,
        "an SMTP password",
        "auth_password_file",
    ));
    false
}

/// E0711: a secret written in the program is a secret committed to Git.
fn inline_secret(span: Span, what: &str, file_field: &str) -> Diagnostic {
    Diagnostic::new(Code::E0711, span, format!("{what} written in the program"))
        .label("committed to Git with the program")
        .help(format!(
            "put it in a Secret mounted into Alertmanager's pod and name the file: `{file_field} = \"/etc/alertmanager/secrets/KEY\"`"
        ))
}

/// The top-level `gitops` block: where the build's output is committed,
/// for the Applications that deploy it.
/// The settings of a `policy`, before its predicate.
pub const POLICY: &[Field] = &[Field {
    name: "severity",
    ty: Type::Word {
        words: &["error", "warning"],
        what: "a severity",
    },
    presence: Presence::Optional {
        default: Some("error"),
    },
    check: None,
    doc: "`warning`: a violation is reported and the build goes on.",
}];

pub const GITOPS: &[Field] = &[
    Field {
        name: "repo",
        ty: Type::HttpsUrl {
            code: Code::E0803,
            what: "a gitops `repo`",
        },
        presence: Presence::Required {
            example: "\"https://github.com/org/platform-manifests\"",
        },
        check: None,
        doc: "The Git repository the build's output is committed to.",
    },
    Field {
        name: "path",
        ty: Type::Text,
        presence: Presence::Required { example: "\"out\"" },
        check: Some(inside_the_repository),
        doc: "The build's folder in that repository: `<path>/<cluster>` is each cluster's.",
    },
    Field {
        name: "revision",
        ty: Type::Text,
        presence: Presence::Optional {
            default: Some("HEAD"),
        },
        check: Some(not_empty_revision),
        doc: "The branch, tag or commit the platform Applications follow.",
    },
    Field {
        name: "argocd_server",
        ty: Type::HttpsUrl {
            code: Code::E0308,
            what: "a gitops `argocd_server`",
        },
        presence: Presence::Optional {
            default: Some("\"https://kubernetes.default.svc\", the cluster Argo CD runs in"),
        },
        check: None,
        doc: "The API server of the cluster that runs Argo CD, where its Applications and AppProjects go.",
    },
];

pub const SYNC: Nested = Nested {
    fields: &[
        Field {
            name: "prune",
            ty: Type::Bool,
            presence: Presence::Optional {
                default: Some("false"),
            },
            check: None,
            doc: "Delete what the repository no longer holds.",
        },
        Field {
            name: "self_heal",
            ty: Type::Bool,
            presence: Presence::Optional {
                default: Some("false"),
            },
            check: None,
            doc: "Undo changes made in the cluster by hand.",
        },
        Field {
            name: "create_namespace",
            ty: Type::Bool,
            presence: Presence::Optional {
                default: Some("false"),
            },
            check: None,
            doc: "Let Argo CD create the namespace.",
        },
    ],
    what: "a sync block",
    context: NestedContext::Fixed("a sync block"),
};

pub const ALERT_TEMPLATE: &[Field] = &[
    Field {
        name: "expr",
        ty: Type::Value,
        presence: Presence::Required {
            example: "\"up{namespace=\\\"${namespace}\\\"} == 0\"",
        },
        check: None,
        doc: "The PromQL expression; it may read only the env's namespace.",
    },
    Field {
        name: "severity",
        ty: Type::Value,
        presence: Presence::Required { example: "warning" },
        check: None,
        doc: "`info`, `warning` or `critical`.",
    },
    Field {
        name: "summary",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The rule's `summary` annotation.",
    },
    Field {
        name: "description",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "The rule's `description` annotation.",
    },
    Field {
        name: "labels",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "Labels on the rule.",
    },
    Field {
        name: "annotations",
        ty: Type::Value,
        presence: Presence::Optional { default: None },
        check: None,
        doc: "More annotations on the rule.",
    },
    Field {
        name: "test",
        ty: Type::Block(&RULE_TEST),
        presence: Presence::Optional { default: None },
        check: None,
        doc: "A promtool test of the rule, for an expression envk cannot test by itself: input series and the alerts they fire.",
    },
];

/// A template's `test { … }`.
pub const RULE_TEST: Nested = Nested {
    fields: &[
        Field {
            name: "input",
            ty: Type::Value,
            presence: Presence::Required {
                example: "[{ series = \"up{namespace=\\\"${namespace}\\\"}\"  values = \"1x10 0x20\" }]",
            },
            check: None,
            doc: "The input series, each `{ series = \"name{labels}\"  values = \"…\" }` in promtool's expanding notation, one sample a minute from 0.",
        },
        Field {
            name: "at",
            ty: Type::Duration,
            presence: Presence::Required { example: "20m" },
            check: None,
            doc: "When the alerts of `fires` are firing.",
        },
        Field {
            name: "fires",
            ty: Type::Value,
            presence: Presence::Optional {
                default: Some("[], no alert"),
            },
            check: None,
            doc: "The alerts firing at `at`, each `{ labels { … }  value = N }`: the labels the expression returns (the rule's own are added) and the value the annotations print.",
        },
        Field {
            name: "silent_at",
            ty: Type::Duration,
            presence: Presence::Optional { default: None },
            check: None,
            doc: "A time, before `at`, when no alert of the rule fires yet.",
        },
    ],
    what: "a test block",
    context: NestedContext::Fixed("a template's test block"),
};

/// The names of a table's fields, in order.
pub fn names(fields: &[Field]) -> impl Iterator<Item = &'static str> + '_ {
    fields.iter().map(|field| field.name)
}

/// A field's value, typed as its table says.
pub enum Typed<'a> {
    Text(String),
    Environment(Environment),
    PodSecurity(PodSecurity),
    Word(String),
    Duration(Duration),
    Quantity(Quantity),
    Money(Money),
    Bool(bool),
    Block(Read<'a>),
    Value(Value<'a>),
}

/// A block read against its table: each field as written, in the order
/// written, with its typed value (`None` where typing it reported an
/// error) and where the value was written.
pub struct Read<'a> {
    pub typed: Vec<(&'static Field, Option<Typed<'a>>, Span)>,
    /// Known fields that an unknown key was taken for (reported): a
    /// check that requires one of them stays silent.
    pub misspelt: Vec<String>,
}

/// Whether a block may hold statements besides its fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    /// Its own check reads them (a tier's `forbid`, an env's `grant`).
    Allowed,
    /// Each is reported where it stands.
    Reported,
}

impl<'a> Read<'a> {
    /// The typed value of `name`, when it was written and typed.
    pub fn get(&self, name: &str) -> Option<&Typed<'a>> {
        self.typed
            .iter()
            .find(|(field, _, _)| field.name == name)
            .and_then(|(_, typed, _)| typed.as_ref())
    }

    /// Where the value of `name` was written.
    pub fn span(&self, name: &str) -> Option<Span> {
        self.typed
            .iter()
            .find(|(field, _, _)| field.name == name)
            .map(|(_, _, span)| *span)
    }

    /// Whether `name` was written (typed or not), or an unknown key was
    /// taken for it (and reported).
    pub fn written(&self, name: &str) -> bool {
        self.typed.iter().any(|(field, _, _)| field.name == name)
            || self.misspelt.iter().any(|misspelt| misspelt == name)
    }
}

/// How a block is read: the variables in scope, what its diagnostics call
/// it, and where a missing field is reported.
pub struct Reading<'s, 'c, 'a, 't> {
    pub scope: &'s Scope<'c, 'a>,
    pub context: &'s str,
    pub at: Span,
    /// Whether the block inherits its fields (a tier that extends another).
    pub inherited: bool,
    pub statements: Statements,
    /// The program's text: a help line about a string that interpolates
    /// variables shows it as written, so it is right in every expansion.
    pub sources: &'t SourceMap,
}

/// Reads `block` against `table`: unknown and repeated fields, each value
/// typed (nested blocks by their own tables, with the variables of the
/// record that holds them), then the required fields that are missing.
pub fn read<'a>(
    table: &'static [Field],
    block: &'a Block,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> Read<'a> {
    let allowed = Keys::Table(table);
    let fields = match reading.statements {
        Statements::Allowed => {
            Fields::read(block, allowed, reading.context, reading.scope, diagnostics)
        }
        Statements::Reported => {
            Fields::read_only_fields(block, allowed, reading.context, reading.scope, diagnostics)
        }
    };
    let mut typed = Vec::with_capacity(fields.entries.len());
    for entry in &fields.entries {
        let field = entry.field.expect("read against the table");
        let (value, span) = type_entry(field, entry, reading, diagnostics);
        typed.push((field, value, span));
    }
    require_all(
        table,
        &fields,
        reading.at,
        reading.context,
        reading.inherited,
        diagnostics,
    );
    Read {
        typed,
        misspelt: fields.misspelt,
    }
}

/// Reports each required field of `table` that `fields` lacks (unless a
/// misspelling of it was reported), at `at`; whether none was missing.
pub fn require_all(
    table: &'static [Field],
    fields: &Fields,
    at: Span,
    context: &str,
    inherited: bool,
    diagnostics: &mut Diags,
) -> bool {
    let mut complete = true;
    for field in table {
        if let Some(example) = field.presence.required_example(inherited) {
            complete &= fields.require(field.name, at, context, example, diagnostics);
        }
    }
    complete
}

/// One field's value, typed; and where it was written.
fn type_entry<'a>(
    field: &'static Field,
    entry: &Entry<'a>,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> (Option<Typed<'a>>, Span) {
    let Some(value) = fields::field_value(entry, reading.scope, diagnostics) else {
        return (None, entry.span);
    };
    let span = value.span();
    (type_field(field, value, reading, diagnostics), span)
}

/// A field's value typed as its table says, and held to its own rule.
pub fn type_field<'a>(
    field: &'static Field,
    value: Value<'a>,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> Option<Typed<'a>> {
    let span = value.span();
    let typed = type_value(field.ty, value, reading, diagnostics)?;
    match field.check {
        Some(check) if !check(&typed, span, diagnostics) => None,
        Some(_) | None => Some(typed),
    }
}

/// E0306: Prometheus scrapes every few seconds at most.
fn at_least_a_second(typed: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    let Typed::Duration(interval) = typed else {
        return true;
    };
    if interval.0 >= 1_000 {
        return true;
    }
    diagnostics.push(
        Diagnostic::new(Code::E0306, span, "scrape interval out of range")
            .label("shorter than a second")
            .help("Prometheus scrapes every second at most; `15s` is usual for a cluster, `1m` for the federation"),
    );
    false
}

/// E0804: a deploy path is a folder inside the repository.
fn inside_the_repository(typed: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    let Typed::Text(path) = typed else {
        return true;
    };
    let outside =
        path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part == "..");
    if outside {
        diagnostics.push(
            Diagnostic::new(Code::E0804, span, format!("invalid deploy path `{path}`"))
                .label("must be a relative path inside the repository")
                .help("write the folder from the repository's root, such as `\"environments/production\"`"),
        );
    }
    !outside
}

/// E0804: a revision names a branch, tag or commit.
fn not_empty_revision(typed: &Typed, span: Span, diagnostics: &mut Diags) -> bool {
    let Typed::Text(revision) = typed else {
        return true;
    };
    let empty = revision.trim().is_empty();
    if empty {
        diagnostics.push(
            Diagnostic::new(Code::E0804, span, "an empty revision")
                .label("no branch, tag or commit")
                .help("write a branch, tag or commit, or leave `revision` out for `HEAD`"),
        );
    }
    !empty
}

/// A value typed as `ty` says.
fn type_value<'a>(
    ty: Type,
    value: Value<'a>,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> Option<Typed<'a>> {
    Some(match ty {
        Type::HttpsUrl { code, what } => Typed::Text(units::https_url(
            &value,
            || super::template_form(reading.sources, &value),
            code,
            what,
            diagnostics,
        )?),
        Type::Environment => Typed::Environment(super::environment(&value, diagnostics)?),
        Type::PodSecurity => Typed::PodSecurity(super::pod_security(&value, diagnostics)?),
        Type::Word { words, what } => Typed::Word(units::word(&value, words, what, diagnostics)?),
        Type::Duration => Typed::Duration(units::duration(&value, diagnostics)?),
        Type::Cpu => Typed::Quantity(units::cpu(&value, diagnostics)?),
        Type::Memory => Typed::Quantity(units::memory(&value, diagnostics)?),
        Type::Count => Typed::Quantity(units::count(&value, diagnostics)?),
        Type::Money => Typed::Money(units::money(&value, diagnostics)?),
        Type::Bool => Typed::Bool(units::boolean(&value, diagnostics)?),
        Type::Text => Typed::Text(units::string(&value, diagnostics)?),
        Type::Label => {
            let text = match &value {
                Value::Word(word, _) => word.clone(),
                other => units::string(other, diagnostics)?,
            };
            if let Err(why) = check_dns_label(&text) {
                diagnostics.push(dns_diagnostic(&text, value.span(), &why));
                return None;
            }
            Typed::Text(text)
        }
        Type::Block(nested) => {
            let (record, vars) = fields::record(value, nested.what, diagnostics)?;
            Typed::Block(read_nested(nested, &record, vars, reading, diagnostics))
        }
        Type::Value => Typed::Value(value),
    })
}

/// Blocks of one table from an env's layers, merged field by field: a
/// later layer's value replaces an earlier's, a nested block's fields merge
/// the same way, and each keeps the place it was first written. Unknown
/// and repeated fields are reported per layer; values are typed only once
/// merged, so a value a stage replaces is not judged.
pub struct Layered<'a> {
    values: Vec<(&'static Field, Layer<'a>)>,
    /// Fields whose value could not be evaluated (reported): not "missing"
    /// as well.
    failed: Vec<&'static str>,
    /// The last layer's block: where a missing field is reported.
    pub span: Span,
}

enum Layer<'a> {
    Value(Value<'a>),
    Block(Layered<'a>),
}

impl<'a> Layered<'a> {
    /// `layers`' blocks (each a record value; anything else is reported as
    /// not being `what`) merged; `None` when none is a block.
    pub fn merge(
        table: &'static [Field],
        layers: &[Value<'a>],
        what: &str,
        context: &str,
        lets: &Lets<'a>,
        diagnostics: &mut Diags,
    ) -> Option<Layered<'a>> {
        let mut merged: Option<Layered<'a>> = None;
        for layer in layers {
            let Some((record, vars)) = fields::record(layer.clone(), what, diagnostics) else {
                continue;
            };
            let into = merged.get_or_insert_with(|| Layered {
                values: Vec::new(),
                failed: Vec::new(),
                span: record.span,
            });
            into.span = record.span;
            into.add(table, &record, vars, context, lets, diagnostics);
        }
        merged
    }

    fn add(
        &mut self,
        table: &'static [Field],
        record: &Record<'a>,
        vars: Vars<'a>,
        context: &str,
        lets: &Lets<'a>,
        diagnostics: &mut Diags,
    ) {
        let scope = Scope::new(vars, lets);
        let fields = Fields::read_only_fields(
            record.body,
            Keys::Table(table),
            context,
            &scope,
            diagnostics,
        );
        for entry in &fields.entries {
            let field = entry.field.expect("read against the table");
            let Some(value) = fields::field_value(entry, &scope, diagnostics) else {
                self.failed.push(field.name);
                continue;
            };
            let slot = self
                .values
                .iter()
                .position(|(known, _)| std::ptr::eq(*known, field));
            match (field.ty, slot) {
                (Type::Block(nested), slot) => {
                    let Some((record, vars)) = fields::record(value, nested.what, diagnostics)
                    else {
                        continue;
                    };
                    let index = slot.unwrap_or_else(|| {
                        let empty = Layered {
                            values: Vec::new(),
                            failed: Vec::new(),
                            span: record.span,
                        };
                        self.values.push((field, Layer::Block(empty)));
                        self.values.len() - 1
                    });
                    if let Layer::Block(inner) = &mut self.values[index].1 {
                        inner.span = record.span;
                        let context = nested.context.of(context);
                        inner.add(nested.fields, &record, vars, &context, lets, diagnostics);
                    }
                }
                (_, Some(index)) => self.values[index].1 = Layer::Value(value),
                (_, None) => self.values.push((field, Layer::Value(value))),
            }
        }
    }

    /// Whether `name` was written in some layer.
    pub fn written(&self, name: &str) -> bool {
        self.values.iter().any(|(field, _)| field.name == name)
    }

    /// Each merged value typed, in the table's order (a nested block's in
    /// the order first written), and each required field missing from
    /// every layer reported at the last layer's block, named `context`.
    pub fn read(
        self,
        table: &'static [Field],
        context: &str,
        reading: &Reading<'_, '_, 'a, '_>,
        diagnostics: &mut Diags,
    ) -> Read<'a> {
        let mut typed = Vec::with_capacity(self.values.len());
        let mut values = self.values;
        for field in table {
            let written = values
                .iter()
                .position(|(known, _)| std::ptr::eq(*known, field))
                .map(|index| values.swap_remove(index).1);
            match written {
                Some(Layer::Value(value)) => {
                    let span = value.span();
                    typed.push((field, type_field(field, value, reading, diagnostics), span));
                }
                Some(Layer::Block(inner)) => {
                    for (field, layer) in inner.values {
                        if let Layer::Value(value) = layer {
                            let span = value.span();
                            typed.push((
                                field,
                                type_field(field, value, reading, diagnostics),
                                span,
                            ));
                        }
                    }
                }
                None if self.failed.contains(&field.name) => {}
                None => {
                    // A merged block inherits nothing: what no layer sets
                    // is missing.
                    if let Some(example) = field.presence.required_example(false) {
                        diagnostics.push(fields::missing(field.name, self.span, context, example));
                    }
                }
            }
        }
        Read {
            typed,
            misspelt: Vec::new(),
        }
    }
}

/// A record value read against a nested table, as the elements of a list
/// of records are (`ignore_differences`, `sources`).
pub fn read_record<'a>(
    nested: &'static Nested,
    value: Value<'a>,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> Option<Read<'a>> {
    let (record, vars) = fields::record(value, nested.what, diagnostics)?;
    Some(read_nested(nested, &record, vars, reading, diagnostics))
}

/// A nested block, read with the variables of the record that holds it.
fn read_nested<'a>(
    nested: &'static Nested,
    record: &Record<'a>,
    vars: Vars<'a>,
    reading: &Reading<'_, '_, 'a, '_>,
    diagnostics: &mut Diags,
) -> Read<'a> {
    let scope = Scope::new(vars, reading.scope.lets);
    let context = nested.context.of(reading.context);
    let inner = Reading {
        scope: &scope,
        context: &context,
        at: record.span,
        inherited: false,
        statements: Statements::Reported,
        sources: reading.sources,
    };
    read(nested.fields, record.body, &inner, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::{
        ALERT_TEMPLATE, CAPACITY, CLUSTER, DEPLOY, EMAIL, ENV, EXTERNAL, FEDERATION, Field, GITOPS,
        IGNORE_DIFFERENCE, PAGERDUTY, POLICY, PRICE, PROMETHEUS, RECEIVER, RESOURCE, RULE_TEST,
        SLACK, SOURCE, SYNC, TIER, Type, WEBHOOK,
    };

    /// Every table, and the nested ones through their fields.
    fn tables() -> Vec<(&'static str, &'static [Field])> {
        let mut all = vec![
            ("cluster", CLUSTER),
            ("policy", POLICY),
            ("tier", TIER),
            ("env", ENV),
            ("deploy", DEPLOY),
            ("alert template", ALERT_TEMPLATE),
            ("external", EXTERNAL),
            ("resource", RESOURCE),
            ("gitops", GITOPS),
            ("federation", FEDERATION),
            ("receiver", RECEIVER),
            ("ignored difference", IGNORE_DIFFERENCE.fields),
            ("source", SOURCE.fields),
        ];
        let mut next = 0;
        while next < all.len() {
            for field in all[next].1 {
                if let Type::Block(nested) = field.ty
                    && !all
                        .iter()
                        .any(|(_, table)| std::ptr::eq(*table, nested.fields))
                {
                    all.push((field.name, nested.fields));
                }
            }
            next += 1;
        }
        all
    }

    #[test]
    fn nested_tables_are_reached_from_their_fields() {
        let reached = tables();
        for nested in [
            &CAPACITY,
            &PRICE,
            &PROMETHEUS,
            &SYNC,
            &PAGERDUTY,
            &SLACK,
            &EMAIL,
            &WEBHOOK,
            &RULE_TEST,
        ] {
            assert!(
                reached
                    .iter()
                    .any(|(_, table)| std::ptr::eq(*table, nested.fields)),
                "{} is no field's block",
                nested.what
            );
        }
    }

    /// What completion and hover will show: one sentence per field, and
    /// the language reference naming every field, so neither drifts.
    #[test]
    fn every_field_is_documented_here_and_in_the_reference() {
        let reference = include_str!("../../docs/language.md");
        for (block, table) in tables() {
            let mut names: Vec<&str> = table.iter().map(|field| field.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                table.len(),
                "a field of {block} is listed twice"
            );
            for field in table {
                let doc = field.doc;
                assert!(
                    !doc.is_empty() && !doc.contains('\n') && doc.ends_with('.'),
                    "the doc of `{}` in {block} is not one sentence: {doc:?}",
                    field.name
                );
                assert!(
                    reference.contains(&format!("`{}`", field.name)),
                    "docs/language.md does not name `{}` of {block}",
                    field.name
                );
            }
        }
    }
}
