//! The built-in catalog of Kubernetes API resources that roles may name.
//!
//! This module owns one thing: the table that turns a resource name written in
//! an `allow [VERBS] on [RESOURCES]` rule (`deployments`, `"pods/log"`) into
//! what RBAC needs to know about it: its API group (so envk can infer
//! `apiGroups`), whether it lives in a namespace (a namespaced Role can only
//! grant those) and which verbs mean something on it.
//!
//! The data comes from Kubernetes v1.33 API discovery: the resources, scopes
//! and verbs a default kube-apiserver reports (`kubectl api-resources -o wide`,
//! the `api/discovery/*.json` fixtures in kubernetes/kubernetes), for the API
//! groups served by default. Alpha APIs and beta APIs that are off by default
//! in v1.33 are left out (`events.k8s.io` aside, see `events` below). A few
//! rows are not served by the API server but are real RBAC targets that
//! Kubernetes authorizes with ordinary resource attributes; each carries a
//! comment saying who checks it:
//!
//! - the special verbs on ordinary resources: `bind` and `escalate` on
//!   `roles`/`clusterroles`, `impersonate` on `serviceaccounts`;
//! - the impersonation targets `users`, `groups` and `uids`;
//! - `signers` (certificates.k8s.io), whose verbs are `approve`, `sign` and
//!   `attest`;
//! - the kubelet's API (`nodes/metrics`, `nodes/stats`, `nodes/log`, …), which
//!   the kubelet authorizes through a SubjectAccessReview.
//!
//! Each name maps to exactly one group, so group inference never has to
//! choose. Where Kubernetes serves a name in more than one group, the table
//! keeps the common one and says so next to the row.
//!
//! Keep this a plain table: no logic, no lookups built at start-up, no
//! generated code. Adding a resource is one line, and a reviewer can check
//! each row against `kubectl api-resources -o wide`. The tests at the bottom
//! keep it consistent (unique names, known verbs, subresources after a parent
//! of the same group and scope).

/// One resource (or subresource) that an RBAC rule can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Plural name as RBAC writes it: `pods`, `deployments`, or a subresource
    /// `pods/log`.
    pub name: &'static str,
    /// API group: "" for the core group, "apps", "batch", ...
    pub group: &'static str,
    /// Whether it lives in a namespace (a namespaced Role can only grant these).
    pub namespaced: bool,
    /// The verbs that mean something on it: those the API server serves
    /// (e.g. `pods/exec`: get, create; `pods/log`: get only), plus the special
    /// verbs Kubernetes authorizes against it (`bind`/`escalate` on roles,
    /// `impersonate` on service accounts, users and groups). Always in the
    /// order of [`VERBS`].
    pub verbs: &'static [&'static str],
    /// `verbs` as a [`VerbSet`], made with the table: every role line
    /// checks each of its resources against its verbs.
    verb_set: VerbSet,
}

/// A set of [`VERBS`], a bit each in their order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerbSet(u32);

impl VerbSet {
    /// The verbs of `verbs` that are RBAC verbs.
    pub fn of<'v>(verbs: impl IntoIterator<Item = &'v str>) -> VerbSet {
        VerbSet(verbs.into_iter().fold(0, |set, verb| {
            set | VERBS
                .iter()
                .position(|known| *known == verb)
                .map_or(0, |at| 1 << at)
        }))
    }

    /// `of`, at compile time, for the table's rows.
    const fn of_table(verbs: &[&str]) -> VerbSet {
        let mut set = 0;
        let mut at = 0;
        while at < verbs.len() {
            let mut known = 0;
            while !same(VERBS[known], verbs[at]) {
                known += 1;
            }
            set |= 1 << known;
            at += 1;
        }
        VerbSet(set)
    }

    pub fn contains_all(self, other: VerbSet) -> bool {
        self.0 & other.0 == other.0
    }
}

/// String equality in a constant.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut at = 0;
    while at < a.len() {
        if a[at] != b[at] {
            return false;
        }
        at += 1;
    }
    true
}

/// A resource a role may name, built in or declared (`resource …`), as the
/// checks see it: the name RBAC writes in a rule, the name a tier's
/// `forbid` and a role's facts know it by (`canonical`: the built-in name,
/// or `plural.group` for a declared one, so that `rollouts` and
/// `rollouts.argoproj.io` are one resource), its group, its scope and
/// its verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known<'c> {
    pub rbac_name: &'c str,
    pub canonical: &'c str,
    pub group: &'c str,
    pub namespaced: bool,
    pub verbs: &'c [&'static str],
    verb_set: VerbSet,
}

impl<'c> Known<'c> {
    pub fn new(
        rbac_name: &'c str,
        canonical: &'c str,
        group: &'c str,
        namespaced: bool,
        verbs: &'c [&'static str],
    ) -> Known<'c> {
        Known {
            rbac_name,
            canonical,
            group,
            namespaced,
            verbs,
            verb_set: VerbSet::of(verbs.iter().copied()),
        }
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    pub fn serves_all(&self, verbs: VerbSet) -> bool {
        self.verb_set.contains_all(verbs)
    }
}

impl Resource {
    /// The row as the checks see it.
    pub fn known(&'static self) -> Known<'static> {
        Known {
            rbac_name: self.name,
            canonical: self.name,
            group: self.group,
            namespaced: self.namespaced,
            verbs: self.verbs,
            verb_set: self.verb_set,
        }
    }

    /// Whether `verb` means something on this resource (exact, case-sensitive;
    /// the wildcard `"*"` is the caller's business).
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Whether every verb of `verbs` means something on this resource.
    pub fn serves_all(&self, verbs: VerbSet) -> bool {
        self.verb_set.contains_all(verbs)
    }

    /// For a subresource (`pods/log`), the resource it belongs to (`pods`);
    /// `None` for a top-level resource.
    pub fn parent(&self) -> Option<&'static str> {
        self.name.split_once('/').map(|(parent, _)| parent)
    }
}

/// The core API group (`apiVersion: v1`, `apiGroups: [""]`).
const CORE: &str = "";

// Verb sets shared by many rows, in the order of `VERBS`.

/// A plain object collection: everything the generic REST storage serves,
/// and what the API server serves on every custom resource.
pub const STANDARD: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
/// A `/status` or `/scale` subresource (and other whole-object subresources).
pub const READ_WRITE_ONE: &[&str] = &["get", "update", "patch"];
/// A streaming connection (`exec`, `attach`, `portforward`): GET or POST.
const CONNECT: &[&str] = &["get", "create"];
/// An HTTP proxy: every method maps to a verb (POST is `create`).
const PROXY: &[&str] = &["get", "create", "update", "patch", "delete"];
/// Objects that exist only as a request (reviews, bindings, evictions, tokens).
const CREATE: &[&str] = &["create"];
/// Read-only endpoints.
const GET: &[&str] = &["get"];
/// Roles and cluster roles: the standard verbs, plus `bind` (reference the
/// role from a binding without holding its permissions) and `escalate`
/// (write rules the writer does not hold).
const ROLE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "bind",
    "escalate",
];
/// Impersonation targets that are not API objects.
const IMPERSONATE: &[&str] = &["impersonate"];

const fn namespaced(
    name: &'static str,
    group: &'static str,
    verbs: &'static [&'static str],
) -> Resource {
    Resource {
        name,
        group,
        namespaced: true,
        verbs,
        verb_set: VerbSet::of_table(verbs),
    }
}

const fn cluster(
    name: &'static str,
    group: &'static str,
    verbs: &'static [&'static str],
) -> Resource {
    Resource {
        name,
        group,
        namespaced: false,
        verbs,
        verb_set: VerbSet::of_table(verbs),
    }
}

/// Every resource a role may name, grouped by API group.
pub const RESOURCES: &[Resource] = &[
    // ── core ("") ────────────────────────────────────────────────────────
    namespaced("pods", CORE, STANDARD),
    namespaced("pods/attach", CORE, CONNECT),
    namespaced("pods/binding", CORE, CREATE),
    namespaced("pods/ephemeralcontainers", CORE, READ_WRITE_ONE),
    // Served with kind policy/v1 Eviction, but RBAC names it under the
    // parent's group: apiGroups [""], resources ["pods/eviction"].
    namespaced("pods/eviction", CORE, CREATE),
    namespaced("pods/exec", CORE, CONNECT),
    // Only `get`: discovery lists no list/watch for logs (Kubernetes' own
    // `view` ClusterRole still grants them; they are harmless no-ops).
    namespaced("pods/log", CORE, GET),
    namespaced("pods/portforward", CORE, CONNECT),
    namespaced("pods/proxy", CORE, PROXY),
    // In-place resize (InPlacePodVerticalScaling, beta and on by default in
    // v1.33): resource changes go through this subresource.
    namespaced("pods/resize", CORE, READ_WRITE_ONE),
    namespaced("pods/status", CORE, READ_WRITE_ONE),
    namespaced("podtemplates", CORE, STANDARD),
    namespaced("services", CORE, STANDARD),
    namespaced("services/proxy", CORE, PROXY),
    namespaced("services/status", CORE, READ_WRITE_ONE),
    namespaced("endpoints", CORE, STANDARD),
    namespaced("configmaps", CORE, STANDARD),
    namespaced("secrets", CORE, STANDARD),
    // `impersonate` here is checked by the API server's impersonation filter
    // (Impersonate-User: system:serviceaccount:NS:NAME), in the SA's namespace.
    namespaced(
        "serviceaccounts",
        CORE,
        &[
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
            "impersonate",
        ],
    ),
    // TokenRequest (authentication.k8s.io/v1 kind), RBAC group is the parent's.
    namespaced("serviceaccounts/token", CORE, CREATE),
    namespaced("persistentvolumeclaims", CORE, STANDARD),
    namespaced("persistentvolumeclaims/status", CORE, READ_WRITE_ONE),
    // `events` is served twice: core v1 and events.k8s.io/v1 (the same
    // objects). A name must map to exactly one group here so inference is
    // unambiguous; the core group is the one roles, kubectl and Kubernetes'
    // own bootstrap roles use, so `events` means core. A rule for
    // events.k8s.io needs an explicit group, which this table does not model.
    namespaced("events", CORE, STANDARD),
    namespaced("limitranges", CORE, STANDARD),
    namespaced("resourcequotas", CORE, STANDARD),
    namespaced("resourcequotas/status", CORE, READ_WRITE_ONE),
    namespaced("replicationcontrollers", CORE, STANDARD),
    // Scale (autoscaling/v1 kind), RBAC group is the parent's.
    namespaced("replicationcontrollers/scale", CORE, READ_WRITE_ONE),
    namespaced("replicationcontrollers/status", CORE, READ_WRITE_ONE),
    namespaced("bindings", CORE, CREATE),
    cluster("nodes", CORE, STANDARD),
    cluster("nodes/proxy", CORE, PROXY),
    cluster("nodes/status", CORE, READ_WRITE_ONE),
    // The kubelet's own API, authorized by the kubelet (SubjectAccessReview
    // with resource `nodes` and these subresources); not served by the API
    // server. /metrics, /stats and /logs are read with GET.
    cluster("nodes/metrics", CORE, GET),
    cluster("nodes/stats", CORE, GET),
    cluster("nodes/log", CORE, GET),
    // POST /checkpoint/… (ContainerCheckpoint, beta and on by default).
    cluster("nodes/checkpoint", CORE, CREATE),
    // KubeletFineGrainedAuthz (beta and on by default in v1.33): /pods,
    // /healthz and /configz are checked against these before nodes/proxy.
    cluster("nodes/pods", CORE, GET),
    cluster("nodes/healthz", CORE, GET),
    cluster("nodes/configz", CORE, GET),
    // Namespaces have no deletecollection.
    cluster(
        "namespaces",
        CORE,
        &[
            "get", "list", "watch", "create", "update", "patch", "delete",
        ],
    ),
    cluster("namespaces/status", CORE, READ_WRITE_ONE),
    cluster("namespaces/finalize", CORE, &["update"]),
    cluster("persistentvolumes", CORE, STANDARD),
    cluster("persistentvolumes/status", CORE, READ_WRITE_ONE),
    cluster("componentstatuses", CORE, &["get", "list"]),
    // Impersonation targets (Impersonate-User, Impersonate-Group), checked by
    // the API server's impersonation filter; not API objects.
    cluster("users", CORE, IMPERSONATE),
    cluster("groups", CORE, IMPERSONATE),
    // ── apps ─────────────────────────────────────────────────────────────
    namespaced("deployments", "apps", STANDARD),
    namespaced("deployments/scale", "apps", READ_WRITE_ONE),
    namespaced("deployments/status", "apps", READ_WRITE_ONE),
    namespaced("replicasets", "apps", STANDARD),
    namespaced("replicasets/scale", "apps", READ_WRITE_ONE),
    namespaced("replicasets/status", "apps", READ_WRITE_ONE),
    namespaced("statefulsets", "apps", STANDARD),
    namespaced("statefulsets/scale", "apps", READ_WRITE_ONE),
    namespaced("statefulsets/status", "apps", READ_WRITE_ONE),
    namespaced("daemonsets", "apps", STANDARD),
    namespaced("daemonsets/status", "apps", READ_WRITE_ONE),
    namespaced("controllerrevisions", "apps", STANDARD),
    // ── batch ────────────────────────────────────────────────────────────
    namespaced("jobs", "batch", STANDARD),
    namespaced("jobs/status", "batch", READ_WRITE_ONE),
    namespaced("cronjobs", "batch", STANDARD),
    namespaced("cronjobs/status", "batch", READ_WRITE_ONE),
    // ── autoscaling ──────────────────────────────────────────────────────
    namespaced("horizontalpodautoscalers", "autoscaling", STANDARD),
    namespaced(
        "horizontalpodautoscalers/status",
        "autoscaling",
        READ_WRITE_ONE,
    ),
    // ── networking.k8s.io ────────────────────────────────────────────────
    namespaced("networkpolicies", "networking.k8s.io", STANDARD),
    namespaced("ingresses", "networking.k8s.io", STANDARD),
    namespaced("ingresses/status", "networking.k8s.io", READ_WRITE_ONE),
    cluster("ingressclasses", "networking.k8s.io", STANDARD),
    // MultiCIDRServiceAllocator APIs, GA (networking.k8s.io/v1) in v1.33.
    cluster("ipaddresses", "networking.k8s.io", STANDARD),
    cluster("servicecidrs", "networking.k8s.io", STANDARD),
    cluster("servicecidrs/status", "networking.k8s.io", READ_WRITE_ONE),
    // ── policy ───────────────────────────────────────────────────────────
    namespaced("poddisruptionbudgets", "policy", STANDARD),
    namespaced("poddisruptionbudgets/status", "policy", READ_WRITE_ONE),
    // ── rbac.authorization.k8s.io ────────────────────────────────────────
    namespaced("roles", "rbac.authorization.k8s.io", ROLE),
    namespaced("rolebindings", "rbac.authorization.k8s.io", STANDARD),
    cluster("clusterroles", "rbac.authorization.k8s.io", ROLE),
    cluster("clusterrolebindings", "rbac.authorization.k8s.io", STANDARD),
    // ── discovery.k8s.io ─────────────────────────────────────────────────
    namespaced("endpointslices", "discovery.k8s.io", STANDARD),
    // ── coordination.k8s.io ──────────────────────────────────────────────
    namespaced("leases", "coordination.k8s.io", STANDARD),
    // ── storage.k8s.io ───────────────────────────────────────────────────
    cluster("storageclasses", "storage.k8s.io", STANDARD),
    cluster("volumeattachments", "storage.k8s.io", STANDARD),
    cluster("volumeattachments/status", "storage.k8s.io", READ_WRITE_ONE),
    cluster("csidrivers", "storage.k8s.io", STANDARD),
    cluster("csinodes", "storage.k8s.io", STANDARD),
    namespaced("csistoragecapacities", "storage.k8s.io", STANDARD),
    // ── scheduling.k8s.io ────────────────────────────────────────────────
    cluster("priorityclasses", "scheduling.k8s.io", STANDARD),
    // ── node.k8s.io ──────────────────────────────────────────────────────
    cluster("runtimeclasses", "node.k8s.io", STANDARD),
    // ── apiextensions.k8s.io ─────────────────────────────────────────────
    cluster(
        "customresourcedefinitions",
        "apiextensions.k8s.io",
        STANDARD,
    ),
    cluster(
        "customresourcedefinitions/status",
        "apiextensions.k8s.io",
        READ_WRITE_ONE,
    ),
    // ── apiregistration.k8s.io ───────────────────────────────────────────
    cluster("apiservices", "apiregistration.k8s.io", STANDARD),
    cluster(
        "apiservices/status",
        "apiregistration.k8s.io",
        READ_WRITE_ONE,
    ),
    // ── admissionregistration.k8s.io ─────────────────────────────────────
    cluster(
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        STANDARD,
    ),
    cluster(
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        STANDARD,
    ),
    cluster(
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
        STANDARD,
    ),
    cluster(
        "validatingadmissionpolicies/status",
        "admissionregistration.k8s.io",
        READ_WRITE_ONE,
    ),
    cluster(
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
        STANDARD,
    ),
    // ── flowcontrol.apiserver.k8s.io ─────────────────────────────────────
    cluster("flowschemas", "flowcontrol.apiserver.k8s.io", STANDARD),
    cluster(
        "flowschemas/status",
        "flowcontrol.apiserver.k8s.io",
        READ_WRITE_ONE,
    ),
    cluster(
        "prioritylevelconfigurations",
        "flowcontrol.apiserver.k8s.io",
        STANDARD,
    ),
    cluster(
        "prioritylevelconfigurations/status",
        "flowcontrol.apiserver.k8s.io",
        READ_WRITE_ONE,
    ),
    // ── certificates.k8s.io ──────────────────────────────────────────────
    cluster(
        "certificatesigningrequests",
        "certificates.k8s.io",
        STANDARD,
    ),
    // Approving a CSR needs update on this subresource *and* `approve` on
    // the CSR's signer (below).
    cluster(
        "certificatesigningrequests/approval",
        "certificates.k8s.io",
        READ_WRITE_ONE,
    ),
    // Issuing a certificate needs update on this subresource *and* `sign` on
    // the CSR's signer (below).
    cluster(
        "certificatesigningrequests/status",
        "certificates.k8s.io",
        READ_WRITE_ONE,
    ),
    // Not an API object: signer names (`kubernetes.io/kube-apiserver-client`,
    // `example.com/*`) used as resourceNames. `approve` and `sign` are
    // checked for CSRs; `attest` for ClusterTrustBundles that set signerName.
    cluster(
        "signers",
        "certificates.k8s.io",
        &["approve", "sign", "attest"],
    ),
    // ── authentication.k8s.io ────────────────────────────────────────────
    cluster("tokenreviews", "authentication.k8s.io", CREATE),
    cluster("selfsubjectreviews", "authentication.k8s.io", CREATE),
    // Impersonation target (Impersonate-Uid), not an API object. Extra
    // fields are `userextras/<key>`, one resource per key, so they cannot be
    // listed here.
    cluster("uids", "authentication.k8s.io", IMPERSONATE),
    // ── authorization.k8s.io ─────────────────────────────────────────────
    namespaced("localsubjectaccessreviews", "authorization.k8s.io", CREATE),
    cluster("subjectaccessreviews", "authorization.k8s.io", CREATE),
    cluster("selfsubjectaccessreviews", "authorization.k8s.io", CREATE),
    cluster("selfsubjectrulesreviews", "authorization.k8s.io", CREATE),
];

/// Every verb RBAC knows: the eight request verbs the API server derives from
/// HTTP methods, then the special verbs Kubernetes checks explicitly.
///
/// RBAC itself accepts any string as a verb; this list is what Kubernetes
/// v1.33 actually checks, so anything else in a rule is almost certainly a
/// typo. The wildcard `"*"` is not a verb and is not listed here.
pub const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    // Checked on the objects they guard:
    // - `use`: historically PodSecurityPolicy (removed in v1.25); no built-in
    //   v1.33 resource checks it, but it remains the conventional verb for
    //   "may use this policy object" in extensions, so it stays recognised.
    "use",
    // - `bind`, `escalate`: roles and clusterroles.
    "bind",
    "escalate",
    // - `impersonate`: users, groups, serviceaccounts, uids, userextras/*.
    "impersonate",
    // - `approve`, `sign`, `attest`: signers (certificates.k8s.io).
    "approve",
    "sign",
    "attest",
];

/// The resource named exactly `name` (`pods`, `pods/log`), if the catalog
/// knows it. Names are case-sensitive, as in RBAC.
pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|resource| resource.name == name)
}

/// Whether `name` is a verb RBAC knows (exact, case-sensitive).
pub fn is_verb(name: &str) -> bool {
    VERBS.contains(&name)
}

/// Every resource name, in table order: candidates for "did you mean".
pub fn resource_names() -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().map(|resource| resource.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The set made with the table is the set of the row's verbs, and
    /// holds what `supports` says, for every row and verb.
    #[test]
    fn verb_sets_hold_what_supports_says() {
        for resource in RESOURCES {
            assert_eq!(
                resource.verb_set,
                VerbSet::of(resource.verbs.iter().copied()),
                "{}",
                resource.name
            );
            for verb in VERBS {
                assert_eq!(
                    resource.serves_all(VerbSet::of([*verb])),
                    resource.supports(verb),
                    "{} {verb}",
                    resource.name
                );
            }
            assert!(resource.serves_all(VerbSet::default()));
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for resource in RESOURCES {
            assert!(
                seen.insert(resource.name),
                "{} is listed twice: group inference would be ambiguous",
                resource.name
            );
        }
    }

    #[test]
    fn names_are_lowercase_plurals_with_at_most_one_subresource() {
        for resource in RESOURCES {
            let parts: Vec<&str> = resource.name.split('/').collect();
            assert!(parts.len() <= 2, "{} nests too deep", resource.name);
            for part in parts {
                assert!(
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()),
                    "{} is not lowercase letters",
                    resource.name
                );
            }
        }
    }

    #[test]
    fn groups_are_well_formed() {
        for resource in RESOURCES {
            let group = resource.group;
            assert_ne!(group, "core", "{}: the core group is \"\"", resource.name);
            assert_ne!(group, "v1", "{}: a version is not a group", resource.name);
            assert!(
                group
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'),
                "{}: odd group {group:?}",
                resource.name
            );
            assert!(
                !group.starts_with('.') && !group.ends_with('.') && !group.contains(".."),
                "{}: odd group {group:?}",
                resource.name
            );
        }
    }

    #[test]
    fn verbs_are_unique_and_known() {
        let mut seen = HashSet::new();
        for verb in VERBS {
            assert!(seen.insert(*verb), "{verb} is listed twice in VERBS");
            assert!(is_verb(verb));
        }
        for resource in RESOURCES {
            assert!(!resource.verbs.is_empty(), "{} has no verbs", resource.name);
            let mut own = HashSet::new();
            for verb in resource.verbs {
                assert!(is_verb(verb), "{}: {verb} is not in VERBS", resource.name);
                assert!(own.insert(*verb), "{}: {verb} listed twice", resource.name);
            }
        }
    }

    #[test]
    fn resource_verbs_follow_the_order_of_verbs() {
        let rank = |verb: &str| VERBS.iter().position(|v| *v == verb).unwrap();
        for resource in RESOURCES {
            let ranks: Vec<usize> = resource.verbs.iter().map(|&v| rank(v)).collect();
            assert!(
                ranks.windows(2).all(|w| w[0] < w[1]),
                "{}: verbs out of order: {:?}",
                resource.name,
                resource.verbs
            );
        }
    }

    #[test]
    fn every_verb_but_use_is_checked_somewhere() {
        for verb in VERBS {
            let used = RESOURCES.iter().any(|r| r.supports(verb));
            assert_eq!(
                used,
                *verb != "use",
                "{verb}: VERBS and the table disagree on whether anything checks it"
            );
        }
    }

    #[test]
    fn subresources_follow_a_parent_of_the_same_group_and_scope() {
        for (index, sub) in RESOURCES.iter().enumerate() {
            let Some(parent_name) = sub.parent() else {
                continue;
            };
            let parent = resource(parent_name)
                .unwrap_or_else(|| panic!("{}: parent {parent_name} missing", sub.name));
            assert_eq!(parent.group, sub.group, "{}", sub.name);
            assert_eq!(parent.namespaced, sub.namespaced, "{}", sub.name);
            let parent_index = RESOURCES
                .iter()
                .position(|r| r.name == parent_name)
                .unwrap();
            assert!(
                parent_index < index,
                "{} is listed before its parent",
                sub.name
            );
        }
    }

    #[test]
    fn infers_the_usual_groups() {
        let group = |name: &str| resource(name).map(|r| r.group);
        assert_eq!(group("deployments"), Some("apps"));
        assert_eq!(group("deployments/scale"), Some("apps"));
        assert_eq!(group("pods"), Some(""));
        assert_eq!(group("pods/log"), Some(""));
        assert_eq!(group("pods/eviction"), Some(""));
        assert_eq!(group("serviceaccounts/token"), Some(""));
        assert_eq!(group("events"), Some(""));
        assert_eq!(group("jobs"), Some("batch"));
        assert_eq!(group("cronjobs"), Some("batch"));
        assert_eq!(group("horizontalpodautoscalers"), Some("autoscaling"));
        assert_eq!(group("ingresses"), Some("networking.k8s.io"));
        assert_eq!(group("networkpolicies"), Some("networking.k8s.io"));
        assert_eq!(group("poddisruptionbudgets"), Some("policy"));
        assert_eq!(group("endpointslices"), Some("discovery.k8s.io"));
        assert_eq!(group("endpoints"), Some(""));
        assert_eq!(group("leases"), Some("coordination.k8s.io"));
        assert_eq!(group("roles"), Some("rbac.authorization.k8s.io"));
        assert_eq!(group("storageclasses"), Some("storage.k8s.io"));
        assert_eq!(group("priorityclasses"), Some("scheduling.k8s.io"));
        assert_eq!(
            group("customresourcedefinitions"),
            Some("apiextensions.k8s.io")
        );
        assert_eq!(group("signers"), Some("certificates.k8s.io"));
        assert_eq!(group("tokenreviews"), Some("authentication.k8s.io"));
        assert_eq!(group("subjectaccessreviews"), Some("authorization.k8s.io"));
    }

    #[test]
    fn unknown_names_are_none() {
        assert_eq!(resource("widgets"), None);
        assert_eq!(resource(""), None);
        assert_eq!(resource("Pods"), None, "names are case-sensitive");
        assert_eq!(resource("pod"), None, "RBAC uses plurals");
        assert_eq!(resource("pods/"), None);
        assert_eq!(resource("deployments.apps"), None);
        assert_eq!(resource("*"), None, "the wildcard is the caller's business");
    }

    #[test]
    fn scopes_are_right() {
        let namespaced = |name: &str| resource(name).unwrap().namespaced;
        for name in [
            "pods",
            "pods/log",
            "pods/exec",
            "services",
            "secrets",
            "configmaps",
            "deployments",
            "jobs",
            "ingresses",
            "roles",
            "rolebindings",
            "leases",
            "endpointslices",
            "localsubjectaccessreviews",
            "csistoragecapacities",
        ] {
            assert!(namespaced(name), "{name} should be namespaced");
        }
        for name in [
            "nodes",
            "nodes/proxy",
            "nodes/metrics",
            "namespaces",
            "persistentvolumes",
            "componentstatuses",
            "clusterroles",
            "clusterrolebindings",
            "ingressclasses",
            "ipaddresses",
            "servicecidrs",
            "storageclasses",
            "volumeattachments",
            "csidrivers",
            "csinodes",
            "priorityclasses",
            "customresourcedefinitions",
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
            "certificatesigningrequests",
            "signers",
            "tokenreviews",
            "subjectaccessreviews",
            "users",
            "groups",
        ] {
            assert!(!namespaced(name), "{name} should be cluster-scoped");
        }
    }

    #[test]
    fn subresource_verbs_match_discovery() {
        let verbs = |name: &str| resource(name).unwrap().verbs;
        assert_eq!(verbs("pods/log"), ["get"]);
        assert_eq!(verbs("pods/exec"), ["get", "create"]);
        assert_eq!(verbs("pods/attach"), ["get", "create"]);
        assert_eq!(verbs("pods/portforward"), ["get", "create"]);
        assert_eq!(verbs("pods/eviction"), ["create"]);
        assert_eq!(verbs("serviceaccounts/token"), ["create"]);
        assert_eq!(verbs("deployments/scale"), ["get", "update", "patch"]);
        assert_eq!(verbs("namespaces/finalize"), ["update"]);
        assert!(!resource("namespaces").unwrap().supports("deletecollection"));
        assert!(!resource("pods/log").unwrap().supports("list"));
        assert!(!resource("pods/exec").unwrap().supports("delete"));
    }

    #[test]
    fn reviews_are_create_only() {
        for name in [
            "tokenreviews",
            "selfsubjectreviews",
            "subjectaccessreviews",
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
            "bindings",
        ] {
            assert_eq!(resource(name).unwrap().verbs, ["create"], "{name}");
        }
    }

    #[test]
    fn special_verbs_sit_where_kubernetes_checks_them() {
        let supports = |name: &str, verb: &str| resource(name).unwrap().supports(verb);
        for name in ["roles", "clusterroles"] {
            assert!(
                supports(name, "bind") && supports(name, "escalate"),
                "{name}"
            );
        }
        assert!(!supports("rolebindings", "bind"));
        for name in ["users", "groups", "serviceaccounts", "uids"] {
            assert!(supports(name, "impersonate"), "{name}");
        }
        assert!(!supports("pods", "impersonate"));
        for verb in ["approve", "sign", "attest"] {
            assert!(supports("signers", verb), "{verb}");
            assert!(!supports("certificatesigningrequests", verb), "{verb}");
        }
    }

    #[test]
    fn is_verb_is_exact() {
        for verb in ["get", "deletecollection", "escalate", "impersonate", "sign"] {
            assert!(is_verb(verb), "{verb}");
        }
        for word in ["GET", "Get", "read", "delete-collection", "proxy", "*", ""] {
            assert!(!is_verb(word), "{word}");
        }
    }

    #[test]
    fn names_iterate_in_table_order() {
        let names: Vec<&str> = resource_names().collect();
        assert_eq!(names.len(), RESOURCES.len());
        assert_eq!(names.first(), Some(&"pods"));
        assert!(names.contains(&"endpointslices"));
        assert_eq!(
            crate::suggest::closest("deploymnets", resource_names()),
            Some("deployments")
        );
    }

    #[test]
    fn parent_splits_subresources_only() {
        assert_eq!(resource("pods/log").unwrap().parent(), Some("pods"));
        assert_eq!(resource("pods").unwrap().parent(), None);
    }
}
