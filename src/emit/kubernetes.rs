//! Built-in Kubernetes objects, from `k8s-openapi` types: per env a
//! Namespace, ResourceQuota, LimitRange, Roles, RoleBindings and
//! NetworkPolicies; per cluster a kustomization listing every object.

use std::collections::BTreeMap;

use foldhash::HashMap;
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::splice::{self, FieldText, Shared, Spliced};
use super::{Documents, Emitting, Wave, annotations, yaml};
use crate::by_address::ByAddress;
use crate::model::{
    self, Env, LimitKind, LimitValues, Peer, ResourceList, Source, SubjectKind, TextMap,
};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Pod Security Standards, pinned to the latest version the cluster knows.
const POD_SECURITY_VERSION: &str = "latest";

fn meta(name: &str, namespace: Option<&str>, source: &Source, options: Emitting) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        annotations: annotations(&TextMap::new(), source, options, Wave::Fence),
        ..ObjectMeta::default()
    }
}

/// The serialized specs of quotas, limit ranges, roles' rules and network
/// policies, by what they are made from, for the envs of one piece of a
/// build: each env's object is its head (name, namespace) followed by the
/// text its piece's envs share (`splice`).
#[derive(Default)]
pub(super) struct SpecTexts<'m> {
    quotas: HashMap<ResourceList, FieldText>,
    limits: HashMap<LimitShape, FieldText>,
    /// By the rules themselves, not their value: the roles of one body in
    /// a `for` loop share them in the Model, and comparing every team's
    /// rules with every other's would cost more than serializing them.
    role_rules: HashMap<ByAddress<'m, [model::PolicyRule]>, FieldText>,
    networks: HashMap<&'m model::Network, FieldText>,
    /// By the environments the default ingress admits.
    default_ingress: HashMap<&'m [model::Environment], FieldText>,
    /// The spec of every env's DNS policy, which is always the same.
    dns: FieldText,
    metrics: HashMap<&'m model::Metrics, FieldText>,
}

type LimitShape = (LimitKind, [LimitValues; 4]);

impl Spliced for ResourceQuota {
    // `status`, written after it, is never set.
    const FIELD: &'static str = "spec";
    type Field = ResourceQuotaSpec;
    fn field(&mut self) -> &mut Option<ResourceQuotaSpec> {
        &mut self.spec
    }
}

impl Spliced for LimitRange {
    const FIELD: &'static str = "spec";
    type Field = LimitRangeSpec;
    fn field(&mut self) -> &mut Option<LimitRangeSpec> {
        &mut self.spec
    }
}

impl Spliced for Role {
    const FIELD: &'static str = "rules";
    type Field = Vec<PolicyRule>;
    fn field(&mut self) -> &mut Option<Vec<PolicyRule>> {
        &mut self.rules
    }
}

impl Spliced for NetworkPolicy {
    const FIELD: &'static str = "spec";
    type Field = NetworkPolicySpec;
    fn field(&mut self) -> &mut Option<NetworkPolicySpec> {
        &mut self.spec
    }
}

/// Every object of one env, serialized into `objects` in the order they are
/// applied, each with its file name in the env's folder.
pub(super) fn env_objects<'m>(
    env: &'m Env,
    options: Emitting,
    objects: &mut Documents,
    specs: &mut SpecTexts<'m>,
) {
    // Built in one go from a list: a B-tree bulk-loads sorted entries,
    // where inserting a namespace's eight labels one by one searches for
    // each. envk's own labels come last and win, as the checker keeps the
    // user's from naming them.
    let level = env.pod_security.as_str();
    let mut entries: Vec<(String, String)> =
        Vec::with_capacity(env.labels.len() + 2 + 2 * model::POD_SECURITY_LABELS.len());
    entries.extend(env.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    entries.push((
        "environment".to_string(),
        env.environment.as_str().to_string(),
    ));
    entries.push(("tier".to_string(), env.tier.name.clone()));
    for (mode, version) in model::POD_SECURITY_LABELS {
        entries.push((mode.to_string(), level.to_string()));
        entries.push((version.to_string(), POD_SECURITY_VERSION.to_string()));
    }
    let labels: BTreeMap<String, String> = entries.into_iter().collect();
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(env.name.clone()),
            labels: Some(labels),
            annotations: annotations(&env.annotations, &env.source, options, Wave::Namespace),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    objects.push(|| "namespace.yaml".to_string(), &namespace);

    if let Some(quota) = &env.quota {
        let spec = || quota_spec(quota);
        let shared = specs.quotas.entry(quota.hard).or_default();
        let head = || ResourceQuota {
            metadata: meta(&quota.name, Some(&env.name), &quota.source, options),
            ..ResourceQuota::default()
        };
        objects.push_with(
            || "resourcequota.yaml".to_string(),
            |out| splice::write(head, shared.get::<ResourceQuota>(spec).into(), spec, out),
        );
    }

    if let Some(limits) = &env.limits {
        let spec = || limit_range_spec(limits);
        let shape = (
            limits.kind,
            [
                limits.default,
                limits.default_request,
                limits.max,
                limits.min,
            ],
        );
        let shared = specs.limits.entry(shape).or_default();
        let head = || LimitRange {
            metadata: meta(&limits.name, Some(&env.name), &limits.source, options),
            spec: None,
        };
        objects.push_with(
            || "limitrange.yaml".to_string(),
            |out| splice::write(head, shared.get::<LimitRange>(spec).into(), spec, out),
        );
    }

    for role in &env.roles {
        let rules = || policy_rules(&role.rules);
        // An empty list is written `rules: []`, on the key's line.
        let shared = match role.rules.is_empty() {
            true => Shared::None,
            false => specs
                .role_rules
                .entry(ByAddress::new(&role.rules))
                .or_default()
                .get::<Role>(rules)
                .into(),
        };
        let head = || Role {
            metadata: meta(&role.name, Some(&env.name), &role.source, options),
            rules: None,
        };
        objects.push_with(
            || object_file("role-", &role.name),
            |out| splice::write(head, shared, rules, out),
        );
    }

    for binding in &env.bindings {
        let object = RoleBinding {
            metadata: meta(&binding.name, Some(&env.name), &binding.source, options),
            subjects: Some(subjects(&binding.subjects)),
            role_ref: RoleRef {
                kind: "Role".to_string(),
                name: binding.role.clone(),
                api_group: RBAC_GROUP.to_string(),
            },
        };
        objects.push(|| object_file("rolebinding-", &binding.name), &object);
    }

    // The env's own rules, as written, then each policy envk generates,
    // a NetworkPolicy of its own.
    let network = &env.network;
    if network.restrict_ingress || network.restrict_egress {
        let spec = || network_spec(network);
        let shared = specs.networks.entry(network).or_default();
        let shared = shared.get::<NetworkPolicy>(spec).into();
        let policy = ("-network-policy", "networkpolicy.yaml");
        push_network_policy(objects, env, options, policy, shared, spec);
    }
    if let Some(environments) = &network.default_ingress {
        let spec = || default_ingress_spec(environments);
        let shared = specs.default_ingress.entry(environments).or_default();
        let shared = shared.get::<NetworkPolicy>(spec).into();
        let policy = ("-default-ingress", "networkpolicy-default-ingress.yaml");
        push_network_policy(objects, env, options, policy, shared, spec);
    }
    if network.allow_dns {
        let shared = specs.dns.get::<NetworkPolicy>(dns_spec).into();
        let policy = ("-allow-dns", "networkpolicy-allow-dns.yaml");
        push_network_policy(objects, env, options, policy, shared, dns_spec);
    }
    if let Some(metrics) = &network.metrics {
        let spec = || metrics_spec(metrics);
        let shared = specs.metrics.entry(metrics).or_default();
        let shared = shared.get::<NetworkPolicy>(spec).into();
        let policy = ("-allow-metrics", "networkpolicy-allow-metrics.yaml");
        push_network_policy(objects, env, options, policy, shared, spec);
    }
}

fn subjects(subjects: &[model::Subject]) -> Vec<Subject> {
    subjects
        .iter()
        .map(|subject| match subject.kind {
            SubjectKind::User | SubjectKind::Group => Subject {
                kind: subject.kind.as_str().to_string(),
                name: subject.name.clone(),
                api_group: Some(RBAC_GROUP.to_string()),
                namespace: None,
            },
            SubjectKind::ServiceAccount => Subject {
                kind: subject.kind.as_str().to_string(),
                name: subject.name.clone(),
                api_group: None,
                namespace: subject.namespace.clone(),
            },
        })
        .collect()
}

/// A cluster's own objects: each cluster role granted on it, once, and
/// each of its cluster-wide bindings.
pub(super) fn cluster_objects(
    model: &model::Model,
    cluster: &model::Cluster,
    options: Emitting,
    objects: &mut Documents,
) {
    let bindings: Vec<&model::ClusterBinding> = model
        .cluster_bindings
        .iter()
        .filter(|binding| binding.cluster == cluster.name)
        .collect();
    let mut roles: Vec<&model::Role> = Vec::new();
    for binding in &bindings {
        if !roles.iter().any(|role| role.name == binding.role.name) {
            roles.push(&binding.role);
        }
    }
    for role in roles {
        let object = ClusterRole {
            metadata: meta(&role.name, None, &role.source, options),
            rules: Some(policy_rules(&role.rules)),
            aggregation_rule: None,
        };
        objects.push(|| object_file("clusterrole-", &role.name), &object);
    }
    for binding in bindings {
        let object = ClusterRoleBinding {
            metadata: meta(&binding.name, None, &binding.source, options),
            subjects: Some(subjects(&binding.subjects)),
            role_ref: RoleRef {
                kind: "ClusterRole".to_string(),
                name: binding.role.name.clone(),
                api_group: RBAC_GROUP.to_string(),
            },
        };
        objects.push(
            || object_file("clusterrolebinding-", &binding.name),
            &object,
        );
    }
}

/// The longest file name file systems take (ext4, XFS, APFS, NTFS).
const MAX_FILE_NAME: usize = 255;

/// `<prefix><name>.yaml`, the file of an object whose name can be as long
/// as Kubernetes allows (253): where that does not fit in a file name, the
/// name is cut and a hash of the whole name keeps files of names that
/// share a beginning apart.
fn object_file(prefix: &str, name: &str) -> String {
    const EXTENSION: &str = ".yaml";
    if prefix.len() + name.len() + EXTENSION.len() <= MAX_FILE_NAME {
        return [prefix, name, EXTENSION].concat();
    }
    // FNV-1a: the same on every machine and in every release, so that a
    // build's files never move.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let suffix = format!("-{hash:016x}");
    let keep = MAX_FILE_NAME - prefix.len() - suffix.len() - EXTENSION.len();
    // Names are ASCII (DNS subdomains), so any byte is a character boundary.
    [prefix, &name[..keep], &suffix, EXTENSION].concat()
}

/// Pushes the env's NetworkPolicy named `<env><suffix>`, in `file`.
fn push_network_policy(
    objects: &mut Documents,
    env: &Env,
    options: Emitting,
    (suffix, file): (&str, &'static str),
    shared: Shared,
    spec: impl FnOnce() -> NetworkPolicySpec,
) {
    let head = || NetworkPolicy {
        metadata: meta(
            &[&env.name, suffix].concat(),
            Some(&env.name),
            &env.source,
            options,
        ),
        spec: None,
    };
    objects.push_with(
        || file.to_string(),
        |out| splice::write(head, shared, spec, out),
    );
}

fn quota_spec(quota: &model::Quota) -> ResourceQuotaSpec {
    ResourceQuotaSpec {
        hard: Some(
            quota
                .hard
                .iter()
                .map(|(key, value)| {
                    (
                        key.as_str().to_string(),
                        Quantity(key.dimension().format(*value)),
                    )
                })
                .collect(),
        ),
        ..ResourceQuotaSpec::default()
    }
}

fn limit_range_spec(limits: &model::LimitRange) -> LimitRangeSpec {
    let values = |values: &LimitValues| {
        (!values.is_empty()).then(|| {
            values
                .iter()
                .map(|(resource, value)| {
                    (
                        resource.as_str().to_string(),
                        Quantity(resource.dimension().format(*value)),
                    )
                })
                .collect()
        })
    };
    LimitRangeSpec {
        limits: vec![LimitRangeItem {
            type_: limits.kind.as_str().to_string(),
            default: values(&limits.default),
            default_request: values(&limits.default_request),
            max: values(&limits.max),
            min: values(&limits.min),
            ..LimitRangeItem::default()
        }],
    }
}

fn policy_rules(rules: &[model::PolicyRule]) -> Vec<PolicyRule> {
    rules
        .iter()
        .map(|rule| PolicyRule {
            api_groups: Some(rule.api_groups.clone()),
            resources: Some(rule.resources.clone()),
            verbs: rule.verbs.clone(),
            ..PolicyRule::default()
        })
        .collect()
}

/// The spec of an env's NetworkPolicy: what its rules allow.
fn network_spec(network: &model::Network) -> NetworkPolicySpec {
    let mut policy_types = Vec::new();
    if network.restrict_ingress {
        policy_types.push("Ingress".to_string());
    }
    if network.restrict_egress {
        policy_types.push("Egress".to_string());
    }
    let ingress: Vec<NetworkPolicyIngressRule> = network
        .ingress
        .iter()
        .map(|rule| NetworkPolicyIngressRule {
            from: peer(&rule.peer),
            ports: ports(&rule.ports),
        })
        .collect();
    let egress: Vec<NetworkPolicyEgressRule> = network
        .egress
        .iter()
        .map(|rule| NetworkPolicyEgressRule {
            // `to: []`: any destination, as the seed writes it.
            to: Some(peer(&rule.peer).unwrap_or_default()),
            ports: ports(&rule.ports),
        })
        .collect();
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector::default()),
        policy_types: Some(policy_types),
        ingress: (!ingress.is_empty()).then_some(ingress),
        egress: (!egress.is_empty()).then_some(egress),
    }
}

/// An env that wrote no ingress rule admits the environments its tier
/// accepts, on every port.
fn default_ingress_spec(environments: &[model::Environment]) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector::default()),
        policy_types: Some(vec!["Ingress".to_string()]),
        ingress: Some(vec![NetworkPolicyIngressRule {
            from: Some(
                environments
                    .iter()
                    .map(|environment| namespace_peer("environment", environment.as_str()))
                    .collect(),
            ),
            ports: None,
        }]),
        egress: None,
    }
}

/// `metrics on tcp …`: the cluster's Prometheus namespace in, on exactly
/// those ports.
fn metrics_spec(metrics: &model::Metrics) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector::default()),
        policy_types: Some(vec!["Ingress".to_string()]),
        ingress: Some(vec![NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(
                "kubernetes.io/metadata.name",
                &metrics.prometheus,
            )]),
            ports: ports(&metrics.ports),
        }]),
        egress: None,
    }
}

/// `egress allow dns`: to kube-system, on port 53.
fn dns_spec() -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector::default()),
        policy_types: Some(vec!["Egress".to_string()]),
        ingress: None,
        egress: Some(vec![NetworkPolicyEgressRule {
            to: Some(vec![namespace_peer(
                "kubernetes.io/metadata.name",
                "kube-system",
            )]),
            ports: Some(
                ["UDP", "TCP"]
                    .into_iter()
                    .map(|protocol| NetworkPolicyPort {
                        protocol: Some(protocol.to_string()),
                        port: Some(IntOrString::Int(53)),
                        end_port: None,
                    })
                    .collect(),
            ),
        }]),
    }
}

fn namespace_peer(key: &str, value: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
            match_expressions: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The peers of a rule; `None` for any peer.
fn peer(peer: &Peer) -> Option<Vec<NetworkPolicyPeer>> {
    match peer {
        Peer::Any => None,
        Peer::Environment(environment) => {
            Some(vec![namespace_peer("environment", environment.as_str())])
        }
        Peer::Env(name)
        | Peer::External {
            namespace: name, ..
        } => Some(vec![namespace_peer("kubernetes.io/metadata.name", name)]),
    }
}

/// The ports of a rule; `None` for every port.
fn ports(ports: &[model::Port]) -> Option<Vec<NetworkPolicyPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|port| NetworkPolicyPort {
                protocol: Some(port.protocol.as_str().to_string()),
                port: Some(IntOrString::Int(i32::from(port.number))),
                end_port: None,
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::splice::assert_splices;
    use super::*;

    /// The Models of the examples, whose envs have every kind.
    fn models() -> Vec<crate::model::Model> {
        ["examples/enterprise.env.k", "examples/multi-team"]
            .into_iter()
            .map(|path| {
                let run = crate::driver::check(&[path.into()]).expect("readable");
                run.model.expect("the example checks clean")
            })
            .collect()
    }

    /// With sync waves too: the multi-team example has a `gitops` block.
    fn options() -> Emitting {
        Emitting {
            provenance: true,
            ..Emitting::default()
        }
    }

    #[test]
    fn a_quota_is_its_head_then_its_shared_spec() {
        let models = models();
        let mut compared = 0;
        for env in models.iter().flat_map(|model| model.envs.values()) {
            let Some(quota) = &env.quota else { continue };
            assert_splices(|| ResourceQuota {
                metadata: meta(&quota.name, Some(&env.name), &quota.source, options()),
                spec: Some(quota_spec(quota)),
                ..ResourceQuota::default()
            });
            compared += 1;
        }
        assert!(compared > 0);
    }

    #[test]
    fn a_limit_range_is_its_head_then_its_shared_spec() {
        let models = models();
        let mut compared = 0;
        for env in models.iter().flat_map(|model| model.envs.values()) {
            let Some(limits) = &env.limits else { continue };
            assert_splices(|| LimitRange {
                metadata: meta(&limits.name, Some(&env.name), &limits.source, options()),
                spec: Some(limit_range_spec(limits)),
            });
            compared += 1;
        }
        assert!(compared > 0);
    }

    #[test]
    fn a_role_is_its_head_then_its_shared_rules() {
        let models = models();
        let roles = || models.iter().flat_map(|model| model.roles.values());
        assert!(roles().any(|role| role.rules.len() > 1));
        for role in roles().filter(|role| !role.rules.is_empty()) {
            assert_splices(|| Role {
                metadata: meta(&role.name, Some("shop-prod"), &role.source, options()),
                rules: Some(policy_rules(&role.rules)),
            });
        }
    }

    #[test]
    fn a_network_policy_is_its_head_then_its_shared_spec() {
        let models = models();
        let (mut rules, mut defaults) = (0, 0);
        for env in models.iter().flat_map(|model| model.envs.values()) {
            let policy = |spec: NetworkPolicySpec| {
                move || NetworkPolicy {
                    metadata: meta(&env.name, Some(&env.name), &env.source, options()),
                    spec: Some(spec.clone()),
                }
            };
            let network = &env.network;
            if network.restrict_ingress || network.restrict_egress {
                assert_splices(policy(network_spec(network)));
                rules += 1;
            }
            if let Some(environments) = &network.default_ingress {
                assert_splices(policy(default_ingress_spec(environments)));
                defaults += 1;
            }
            assert_splices(policy(dns_spec()));
        }
        assert!(rules > 0 && defaults > 0, "{rules} {defaults}");
    }

    #[test]
    fn file_names_of_long_object_names_fit_and_stay_apart() {
        assert_eq!(object_file("role-", "viewer"), "role-viewer.yaml");
        let long = "a".repeat(253);
        let mut other = "a".repeat(252);
        other.push('b');
        let (one, two) = (
            object_file("rolebinding-", &long),
            object_file("rolebinding-", &other),
        );
        assert_eq!(one.len(), MAX_FILE_NAME);
        assert_ne!(one, two);
        assert!(one.starts_with("rolebinding-aaa") && one.ends_with(".yaml"));
        let fits = "b".repeat(MAX_FILE_NAME - "role-.yaml".len());
        assert_eq!(object_file("role-", &fits), format!("role-{fits}.yaml"));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization<'a> {
    api_version: &'a str,
    kind: &'a str,
    resources: Vec<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    config_map_generator: &'a [ConfigMapGenerator],
    #[serde(skip_serializing_if = "Option::is_none")]
    generator_options: Option<GeneratorOptions>,
}

/// A ConfigMap kustomize makes of files of the cluster's folder, each a
/// key named after its file.
#[derive(Serialize)]
pub(super) struct ConfigMapGenerator {
    pub name: String,
    pub namespace: String,
    pub files: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratorOptions {
    /// The ConfigMaps keep their names, which the Prometheus and
    /// Alertmanager deployments mount, rather than a name per content.
    disable_name_suffix_hash: bool,
}

/// `kubectl apply -k out/CLUSTER`: every object of the cluster, sorted,
/// and the ConfigMaps made of its monitoring files.
pub(super) fn kustomization(
    mut resources: Vec<String>,
    generators: &[ConfigMapGenerator],
) -> String {
    resources.sort();
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources,
        config_map_generator: generators,
        generator_options: (!generators.is_empty()).then_some(GeneratorOptions {
            disable_name_suffix_hash: true,
        }),
    };
    yaml(&kustomization)
}
