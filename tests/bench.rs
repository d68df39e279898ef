//! The benchmark's program (bench/gen.py) is the workload of the peers'
//! benchmark (shared/bench/WORKLOAD.md, summarized in bench/README.md): at a
//! small N, its forms check clean, build the same files, and every
//! object matches the workload's content. The benchmark itself is not run
//! here; bench/run.sh times it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use envk::emit::{self, Layout, Options, Tree};
use envk::load::InMemory;
use serde::Deserialize;
use serde_yaml::Value;

const TEAMS: usize = 4;

/// (cluster, environment label, short name, quota divisor, tier, Pod
/// Security level): the workload's table.
const CLUSTERS: [(&str, &str, &str, u64, &str, &str); 3] = [
    (
        "dev-cluster",
        "development",
        "dev",
        4,
        "standard",
        "baseline",
    ),
    (
        "stage-cluster",
        "staging",
        "stage",
        2,
        "standard",
        "restricted",
    ),
    (
        "prod-cluster",
        "production",
        "prod",
        1,
        "critical",
        "restricted",
    ),
];

fn generate(form: &str) -> String {
    generate_with(form, &[])
}

fn generate_with(form: &str, options: &[&str]) -> String {
    let output = Command::new("python3")
        .args(["bench/gen.py", &TEAMS.to_string(), "--form", form])
        .args(options)
        .output()
        .expect("python3 runs bench/gen.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the generator writes UTF-8")
}

fn build(program: &str, layout: Layout) -> Tree {
    let loader = InMemory::new().with("fleet.env.k", program);
    let run =
        envk::driver::check_with(&[PathBuf::from("fleet.env.k")], &loader).expect("in memory");
    assert!(
        run.diagnostics.is_empty(),
        "{}",
        envk::diag::render_plain(&run.sources, &run.diagnostics)
    );
    let model = run.model.expect("no errors, so a model");
    emit::emit(
        &model,
        Options {
            layout,
            ..Options::default()
        },
    )
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("emitted YAML parses"))
        .collect()
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("expected objects are YAML")
}

/// `str(m/1000)` for whole cores, else `<m>m`.
fn cpu(millis: u64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// `<x/1024>Gi` for whole GiB, else `<x>Mi`.
fn memory(mib: u64) -> String {
    if mib % 1024 == 0 {
        format!("{}Gi", mib / 1024)
    } else {
        format!("{mib}Mi")
    }
}

/// The eight objects of one namespace, as WORKLOAD.md writes them.
fn workload_objects(team: &str, cluster: usize) -> Vec<Value> {
    let (cluster, environment, short, divisor, tier, level) = CLUSTERS[cluster];
    let ns = format!("{team}-{short}");
    let q = |base: u64| base / divisor;
    vec![
        yaml(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    environment: {environment}\n    team: {team}\n    tier: {tier}\n    pod-security.kubernetes.io/enforce: {level}\n"
        )),
        yaml(&format!(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: compute-quota\n  namespace: {ns}\nspec:\n  hard:\n    requests.cpu: '{}'\n    requests.memory: '{}'\n    limits.cpu: '{}'\n    limits.memory: '{}'\n    pods: '{}'\n    services: '{}'\n",
            cpu(q(10_000)),
            memory(q(20_480)),
            cpu(q(20_000)),
            memory(q(40_960)),
            q(50),
            q(10)
        )),
        yaml(&format!(
            "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: container-limits\n  namespace: {ns}\nspec:\n  limits:\n  - type: Container\n    default: {{cpu: 200m, memory: 256Mi}}\n    defaultRequest: {{cpu: 100m, memory: 128Mi}}\n    max: {{cpu: '2', memory: 4Gi}}\n    min: {{cpu: 50m, memory: 64Mi}}\n"
        )),
        yaml(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {team}-engineer\n  namespace: {ns}\nrules:\n- apiGroups: ['']\n  resources: [pods, services, configmaps]\n  verbs: [get, list, create, update, patch, delete]\n- apiGroups: [apps]\n  resources: [deployments, replicasets]\n  verbs: [get, list, create, update, patch]\n"
        )),
        yaml(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {team}-engineer-binding\n  namespace: {ns}\nsubjects:\n- kind: User\n  name: {team}@company.com\n  apiGroup: rbac.authorization.k8s.io\nroleRef:\n  kind: Role\n  name: {team}-engineer\n  apiGroup: rbac.authorization.k8s.io\n"
        )),
        yaml(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: restrict-traffic\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          environment: {environment}\n    ports:\n    - {{protocol: TCP, port: 8080}}\n  egress:\n  - ports:\n    - {{protocol: TCP, port: 443}}\n    - {{protocol: TCP, port: 80}}\n"
        )),
        yaml(&format!(
            r#"apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {ns}-alerts
  namespace: {ns}
spec:
  groups:
  - name: {ns}.rules
    rules:
    - alert: HighPodMemoryUsage
      expr: container_memory_usage_bytes{{namespace="{ns}"}} / container_spec_memory_limit_bytes > 0.9
      for: 5m
      labels: {{severity: warning}}
      annotations:
        summary: High memory usage in namespace {ns}
        description: Pod {{{{ $labels.pod }}}} in namespace {ns} is using more than 90% of its memory limit.
    - alert: PodCrashLooping
      expr: rate(kube_pod_container_status_restarts_total{{namespace="{ns}"}}[5m]) > 0
      for: 5m
      labels: {{severity: critical}}
      annotations:
        summary: Pod crash looping in namespace {ns}
        description: Pod {{{{ $labels.pod }}}} in namespace {ns} is restarting frequently.
"#
        )),
        yaml(&format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {ns}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/enterprise/k8s-manifests\n    targetRevision: HEAD\n    path: environments/{environment}/{team}\n  destination:\n    server: https://{cluster}.enterprise.com\n    namespace: {ns}\n  syncPolicy:\n    automated: {{prune: true, selfHeal: true}}\n    syncOptions: [CreateNamespace=true]\n"
        )),
    ]
}

/// Where envk deliberately differs from the workload, made equal: object
/// names follow envk's defaults (WORKLOAD.md allows it); envk adds the Pod
/// Security `audit` and `warn` labels and the pinned versions; an egress
/// rule to anywhere is written `to: []`, which Kubernetes reads as no `to`;
/// an Argo CD project spans one environment (E0802), so the Application's
/// project is its environment, not `default`.
fn as_envk_writes(mut object: Value) -> Value {
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
    let name = match (kind.as_str(), ns) {
        ("ResourceQuota", Some(ns)) => Some(format!("{ns}-quota")),
        ("LimitRange", Some(ns)) => Some(format!("{ns}-limits")),
        ("NetworkPolicy", Some(ns)) => Some(format!("{ns}-network-policy")),
        ("PrometheusRule", Some(ns)) => Some(format!("{ns}-rules")),
        ("Application", _) => {
            let ns = object["spec"]["destination"]["namespace"].as_str().unwrap();
            Some(format!("{ns}-app"))
        }
        _ => None,
    };
    if let Some(name) = name {
        object["metadata"]["name"] = Value::String(name);
    }
    match kind.as_str() {
        "Namespace" => {
            let labels = object["metadata"]["labels"].as_mapping_mut().unwrap();
            let level = labels["pod-security.kubernetes.io/enforce"].clone();
            for mode in ["audit", "warn"] {
                labels.insert(
                    format!("pod-security.kubernetes.io/{mode}").into(),
                    level.clone(),
                );
            }
            for mode in ["enforce", "audit", "warn"] {
                labels.insert(
                    format!("pod-security.kubernetes.io/{mode}-version").into(),
                    "latest".into(),
                );
            }
        }
        "NetworkPolicy" => {
            object["spec"]["egress"][0]["to"] = Value::Sequence(Vec::new());
        }
        // Each env's Application is fenced in a project of its own.
        "Application" => {
            let ns = object["spec"]["destination"]["namespace"].clone();
            object["spec"]["project"] = ns;
        }
        _ => {}
    }
    object
}

/// The one object envk adds: DNS egress, which the workload's egress rule
/// would block, generated for every env whose egress is restricted.
fn allow_dns(ns: &str) -> Value {
    yaml(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {ns}-allow-dns\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n    ports:\n    - {{protocol: UDP, port: 53}}\n    - {{protocol: TCP, port: 53}}\n"
    ))
}

fn key(object: &Value) -> (String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}

#[test]
fn every_form_of_the_benchmark_builds_the_same_files() {
    let explicit = generate("explicit");
    let compact = generate("compact");
    let records = generate("records");
    assert!(explicit.lines().count() > 25 * TEAMS, "one family per team");
    assert!(compact.contains("for team in teams"));
    assert!(records.contains("quota = base * team.dev"), "{records}");
    for layout in [Layout::Tree, Layout::Stream] {
        let built = build(&explicit, layout);
        assert_eq!(built, build(&compact, layout));
        assert_eq!(built, build(&records, layout));
    }
}

/// The workload says nothing of DNS, and neither does the program: the DNS
/// egress envk generates is what `egress allow dns` in every env writes.
#[test]
fn the_generated_dns_egress_is_what_egress_allow_dns_writes() {
    let generated = generate("compact");
    let written = generate_with("compact", &["--explicit-dns"]);
    assert!(!generated.contains("dns") && written.contains("egress allow dns"));
    assert_eq!(
        build(&generated, Layout::Stream),
        build(&written, Layout::Stream)
    );
}

#[test]
fn every_object_of_the_benchmark_has_the_workload_s_content() {
    let tree = build(&generate("compact"), Layout::Stream);
    for (index, (cluster, environment, short, ..)) in CLUSTERS.iter().enumerate() {
        let mut actual: BTreeMap<_, Value> = BTreeMap::new();
        for file in [
            "namespaces.yaml",
            "monitoring/prometheusrules.yaml",
            "argocd.yaml",
        ] {
            for object in documents(&tree.files[&format!("{cluster}/{file}")].text()) {
                assert!(
                    actual.insert(key(&object), object.clone()).is_none(),
                    "{cluster}/{file}: {:?} twice",
                    key(&object)
                );
            }
        }
        let mut expected: BTreeMap<_, Value> = BTreeMap::new();
        for team in 1..=TEAMS {
            let team = format!("team-{team}");
            for object in workload_objects(&team, index) {
                let object = as_envk_writes(object);
                expected.insert(key(&object), object);
            }
            let dns = allow_dns(&format!("{team}-{short}"));
            expected.insert(key(&dns), dns);
        }
        assert_eq!(
            actual.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{cluster}: the objects"
        );
        for (key, object) in &expected {
            assert_eq!(&actual[key], object, "{cluster}: {key:?}");
        }
        assert_eq!(actual.len(), TEAMS * 9, "8 objects per namespace, and DNS");

        let config = yaml(&tree.files[&format!("{cluster}/monitoring/prometheus.yaml")].text());
        assert_eq!(config["global"]["scrape_interval"], "15s");
        assert_eq!(
            config["global"]["external_labels"],
            yaml(&format!(
                "{{cluster: {cluster}, environment: {environment}}}"
            ))
        );
        let jobs: Vec<&str> = config["scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|job| job["job_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            jobs,
            [
                "kubernetes-nodes",
                "kubernetes-pods",
                "kubelet",
                "cadvisor",
                "kube-state-metrics"
            ]
        );
    }
}

#[test]
fn the_workload_s_constraints_are_checked() {
    // WORKLOAD.md's three broken variants: each must be rejected.
    let program = generate("compact");
    for (broken, code) in [
        (program.replace("cpu = 100000", "cpu = 5"), "E0405"),
        (
            program.replace("limits.cpu      = 20", "limits.cpu      = 5"),
            "E0401",
        ),
        (
            program.replace(
                "max             { cpu = 2 ",
                "max             { cpu = 150m ",
            ),
            "E0402",
        ),
    ] {
        assert_ne!(
            broken, program,
            "the variant for {code} changed the program"
        );
        let loader = InMemory::new().with("fleet.env.k", broken.as_str());
        let run =
            envk::driver::check_with(&[PathBuf::from("fleet.env.k")], &loader).expect("in memory");
        let codes: Vec<String> = run
            .diagnostics
            .iter()
            .map(|d| d.code.as_str().to_string())
            .collect();
        assert!(run.has_errors(), "{code} variant accepted");
        assert!(
            codes.iter().any(|c| c == code),
            "{code} variant gave {codes:?}"
        );
    }
}
