//! The checker's output: the Model of the examples, the stdlib, imports
//! through an in-memory loader, and a large generated program.

use std::path::PathBuf;

use envk::diag::{self, Code};
use envk::driver::{self, Run};
use envk::load::InMemory;
use envk::model::{Environment, LimitResource, Peer, PodSecurity, Protocol, QuotaKey, SubjectKind};

fn run(files: &[(&str, &str)]) -> Run {
    let mut loader = InMemory::new();
    for (path, text) in files {
        loader = loader.with(*path, *text);
    }
    let roots: Vec<PathBuf> = files
        .iter()
        .take(1)
        .map(|(path, _)| PathBuf::from(path))
        .collect();
    driver::check_with(&roots, &loader).expect("the root is in memory")
}

fn codes(run: &Run) -> Vec<Code> {
    run.diagnostics.iter().map(|d| d.code).collect()
}

fn clean(run: &Run) -> &envk::model::Model {
    assert!(
        run.diagnostics.is_empty(),
        "{}",
        diag::render_plain(&run.sources, &run.diagnostics)
    );
    run.model.as_ref().expect("no errors, so a model")
}

#[test]
fn the_enterprise_model_reproduces_the_seed() {
    let run = driver::check(&[PathBuf::from("examples/enterprise.env.k")]).expect("readable");
    let model = clean(&run);
    let env = &model.env("enterprise-prod").unwrap();
    assert_eq!(
        (env.cluster.name.as_str(), env.tier.name.as_str()),
        ("prod-cluster", "critical")
    );
    assert_eq!(env.environment, Environment::Production);
    assert_eq!(
        env.labels.get("company").map(String::as_str),
        Some("enterprise")
    );
    assert_eq!(
        env.annotations
            .get("kubernetes.io/managed-by")
            .map(String::as_str),
        Some("devops-team")
    );
    let quota = env.quota.as_ref().expect("quota");
    assert_eq!(quota.name, "prod-resource-quota");
    let hard: Vec<(QuotaKey, u64)> = quota.hard.iter().map(|(k, v)| (k, *v)).collect();
    assert_eq!(
        hard,
        [
            (QuotaKey::RequestsCpu, 10_000),
            (QuotaKey::RequestsMemory, 20 << 30),
            (QuotaKey::LimitsCpu, 20_000),
            (QuotaKey::LimitsMemory, 40 << 30),
            (QuotaKey::Pods, 50),
            (QuotaKey::Services, 10),
        ]
    );
    let limits = env.limits.as_ref().expect("limit range");
    assert_eq!(limits.name, "prod-limit-range");
    assert_eq!(limits.default[&LimitResource::Cpu], 200);
    assert_eq!(limits.default_request[&LimitResource::Memory], 128 << 20);
    assert_eq!(limits.max[&LimitResource::Cpu], 2_000);
    assert_eq!(limits.min[&LimitResource::Memory], 64 << 20);

    let role = &model.roles["devops-engineer"];
    let rules: Vec<(Vec<&str>, Vec<&str>, Vec<&str>)> = role
        .rules
        .iter()
        .map(|rule| {
            (
                rule.api_groups.iter().map(String::as_str).collect(),
                rule.resources.iter().map(String::as_str).collect(),
                rule.verbs.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                vec![""],
                vec!["pods", "services", "configmaps"],
                vec!["get", "list", "create", "update", "patch", "delete"]
            ),
            (
                vec!["apps"],
                vec!["deployments", "replicasets"],
                vec!["get", "list", "create", "update", "patch"]
            ),
        ]
    );
    let binding = env
        .bindings
        .iter()
        .find(|b| b.name == "devops-team-binding")
        .expect("the seed's binding");
    assert_eq!(binding.role, "devops-engineer");
    assert_eq!(binding.subjects.len(), 1);
    assert_eq!(binding.subjects[0].kind, SubjectKind::User);
    assert_eq!(binding.subjects[0].name, "devops.engineer@company.com");
    assert!(env.roles.iter().any(|role| role.name == "devops-engineer"));

    let network = &env.network;
    assert!(network.restrict_ingress && network.restrict_egress && network.allow_dns);
    assert_eq!(network.ingress.len(), 1);
    assert_eq!(
        network.ingress[0].peer,
        Peer::Environment(Environment::Production)
    );
    assert_eq!(network.ingress[0].ports[0].protocol, Protocol::Tcp);
    assert_eq!(network.ingress[0].ports[0].number, 8080);
    assert_eq!(network.egress[0].peer, Peer::Any);
    let egress_ports: Vec<u16> = network.egress[0].ports.iter().map(|p| p.number).collect();
    assert_eq!(egress_ports, [443, 80]);

    assert_eq!(env.alerts.name, "enterprise-production");
    let rules = &env.alerts.rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].alert, "HighPodMemoryUsage");
    assert_eq!(
        rules[0].expr,
        "container_memory_usage_bytes{namespace=\"enterprise-prod\"} / container_spec_memory_limit_bytes > 0.9"
    );
    assert_eq!(rules[0].for_.map(|d| d.to_string()).as_deref(), Some("5m"));
    assert_eq!(rules[0].labels["severity"], "warning");
    assert_eq!(rules[0].labels["team"], "devops");
    assert_eq!(
        rules[0].annotations["summary"],
        "High memory usage in production pod"
    );
    assert_eq!(
        rules[1].expr,
        "rate(kube_pod_container_status_restarts_total{namespace=\"enterprise-prod\"}[5m]) > 0"
    );
    assert_eq!(rules[1].labels["severity"], "critical");

    let deploy = env.deploy.as_ref().expect("deploy");
    assert_eq!(deploy.project, "production");
    assert_eq!(deploy.repo, "https://github.com/enterprise/k8s-manifests");
    assert_eq!(deploy.revision, "main");
    assert_eq!(deploy.path, "environments/production");
    let sync = deploy.sync.expect("automated sync");
    assert!(sync.prune && sync.self_heal && sync.create_namespace);

    let cluster = &model.clusters["prod-cluster"];
    assert_eq!(cluster.server, "https://prod-cluster.enterprise.com");
    assert_eq!(cluster.prometheus.scrape_interval.to_string(), "15s");
    assert_eq!(
        model.tiers["critical"].pod_security,
        PodSecurity::Restricted
    );
    assert_eq!(&*env.source.file, "examples/enterprise.env.k");
}

#[test]
fn families_merge_their_layers_and_scale_quotas() {
    let run = driver::check(&[PathBuf::from("examples/multi-team")]).expect("readable");
    let model = clean(&run);
    let stages: Vec<&str> = model
        .envs
        .values()
        .filter(|env| env.family.as_deref() == Some("payments"))
        .map(|env| env.name.as_str())
        .collect();
    assert_eq!(stages, ["payments-dev", "payments-prod", "payments-stage"]);
    let dev = &model.env("payments-dev").unwrap();
    let prod = &model.env("payments-prod").unwrap();
    assert_eq!(
        dev.labels.get("team"),
        prod.labels.get("team"),
        "family labels reach every stage"
    );
    let cpu = |env: &envk::model::Env| env.quota.as_ref().map(|q| q.hard[&QuotaKey::RequestsCpu]);
    assert!(
        cpu(prod) > cpu(dev),
        "prod's quota is the family's scaled up"
    );
    for team in ["search", "checkout", "ledger"] {
        assert!(
            model.envs.keys().any(|key| key.name.starts_with(team)),
            "{team} from the for loop"
        );
    }
}

/// A `let` record is typed once for all the envs that use it; each env
/// still gets its own scaling, its own checks and its own diagnostics.
#[test]
fn a_shared_let_record_means_the_same_at_every_use() {
    let program = r#"
cluster c {
  server      = "https://c.example.com"
  environment = production
  capacity    { cpu = 100 }
  prometheus  { scrape_interval = 15s }
}
tier small {
  pod_security = restricted
  ceiling { requests.cpu = 4 }
}
let base = quota { requests.cpu = 2  limits.cpu = 4 }
let pods = limits container { max { cpu = 2 } }
let broken = limits container { max { cpu = 2  cpu = 3 } }
env a on c tier small { quota = base  limits = pods  ingress allow from env b }
env b on c tier small { quota = base * 3  limits = pods  ingress allow from env a }
env d on c tier small { quota = base * 0.5  limits = broken  ingress allow from env a }
env e on c tier small { quota = base  limits = broken  ingress allow from env a }
"#;
    let run = run(&[("main.env.k", program)]);
    let text = diag::render_plain(&run.sources, &run.diagnostics);
    // b's scaled quota is over the ceiling; the broken let is reported
    // once, naming the first env that uses it and listing both.
    assert_eq!(codes(&run), [Code::E0404, Code::E0304], "{text}");
    assert!(text.contains("limit range of env `d`"), "{text}");
    assert!(text.contains("note: in 2 envs: d and e"), "{text}");
    let run = self::run(&[(
        "main.env.k",
        &program
            .replace("quota = base * 3", "quota = base")
            .replace("  cpu = 3", ""),
    )]);
    let model = clean(&run);
    let cpu =
        |env: &str| model.env(env).unwrap().quota.as_ref().unwrap().hard[&QuotaKey::RequestsCpu];
    assert_eq!((cpu("a"), cpu("d"), cpu("e")), (2000, 1000, 2000));
    let max = |env: &str| model.env(env).unwrap().limits.as_ref().unwrap().max[&LimitResource::Cpu];
    assert_eq!((max("a"), max("d")), (2000, 2000));
    assert_eq!(
        model.env("d").unwrap().limits.as_ref().unwrap().name,
        "d-limits"
    );
}

/// Roles declared from one body in a loop share its typing where the body
/// reads no variable; a body that reads one (here a `let`) is typed for
/// each role; a body with an error is never taken as clean.
#[test]
fn roles_of_one_body_share_its_typing_only_when_it_reads_no_variable() {
    let program = r#"
for team in ["a", "b", "c"] {
  role "${team}-viewer" {
    allow [get, list] on [pods, "services"]
    allow [get] on [deployments]
  }
}
let kind = "configmaps"
for team in ["a", "b", "c"] {
  role "${team}-reader" {
    allow [get] on ["${kind}"]
  }
}
"#;
    let run = run(&[("main.env.k", program)]);
    let model = clean(&run);
    let rules = |role: &str| -> Vec<(String, Vec<String>, Vec<String>)> {
        model.roles[role]
            .rules
            .iter()
            .map(|rule| {
                (
                    rule.api_groups.concat(),
                    rule.resources.clone(),
                    rule.verbs.clone(),
                )
            })
            .collect()
    };
    for team in ["a", "b", "c"] {
        let role = format!("{team}-viewer");
        assert_eq!(model.roles[&role].name, role);
        assert_eq!(
            rules(&role),
            [
                (
                    String::new(),
                    vec!["pods".to_string(), "services".to_string()],
                    vec!["get".to_string(), "list".to_string()]
                ),
                (
                    "apps".to_string(),
                    vec!["deployments".to_string()],
                    vec!["get".to_string()]
                ),
            ]
        );
    }
    for team in ["a", "b", "c"] {
        assert_eq!(
            rules(&format!("{team}-reader")),
            [(
                String::new(),
                vec!["configmaps".to_string()],
                vec!["get".to_string()]
            )]
        );
    }

    let broken = r#"
for team in ["a", "b"] {
  role "${team}-viewer" {
    allow [get] on [podz]
  }
}
"#;
    let run = self::run(&[("main.env.k", broken)]);
    // Each role reports it; the two diagnostics are the same, and the
    // driver drops one reached twice.
    assert_eq!(codes(&run), [Code::E0501]);
    assert!(run.model.is_none());
}

/// A template checked clean for one env is not thereby clean for another:
/// an argument that spells `team-1` with an escape selects team-1's series
/// from every env that passes it, and only team-1 may.
#[test]
fn an_alert_checked_for_one_namespace_is_checked_again_for_the_next() {
    let mut program = String::from(
        r#"
cluster dev {
  server = "https://dev.example.com"
  environment = development
  capacity { cpu = 100  memory = 100Gi  pods = 1000 }
}
tier base { pod_security = baseline }
let small = quota { requests.cpu = 1  requests.memory = 1Gi  pods = 10 }
alert Watch(target: string = "$${namespace}") {
  expr     = `up{namespace="${namespace}"} or up{namespace="${target}"}`
  severity = warning
}
"#,
    );
    for team in 1..=6 {
        program.push_str(&format!(
            "env team-{team} on dev tier base {{\n  quota = small\n  ingress allow from environment development\n  alert Watch {{ target = \"\\\\x74eam-1\" }}\n}}\n"
        ));
    }
    let run = run(&[("main.env.k", &program)]);
    let text = diag::render_plain(&run.sources, &run.diagnostics);
    // The template's `or` also leaves it untested (a warning).
    let errors: Vec<Code> = codes(&run)
        .into_iter()
        .filter(|code| *code != Code::E0710)
        .collect();
    assert_eq!(errors, [Code::E0702; 5], "{text}");
    assert!(!text.contains(r#"up{namespace="team-1"}"#), "{text}");
    for team in 2..=6 {
        assert!(
            text.contains(&format!(r#"up{{namespace="team-{team}"}} or"#)),
            "{text}"
        );
    }
}

#[test]
fn the_stdlib_type_checks_when_imported() {
    let run = run(&[(
        "main.env.k",
        "import \"std/alerts\"\nimport \"std/roles\"\n\
         cluster c { server = \"https://c.example.com\" environment = development }\n\
         tier t { pod_security = baseline }\n",
    )]);
    clean(&run);
}

#[test]
fn imports_load_each_file_once_and_report_cycles_and_missing_files() {
    let diamond = run(&[
        (
            "app/main.env.k",
            "import \"./a.env.k\"\nimport \"./lib/b.env.k\"\n",
        ),
        (
            "app/a.env.k",
            "import \"./lib/b.env.k\"\ntier t { pod_security = baseline }\n",
        ),
        (
            "app/lib/b.env.k",
            "cluster c { server = \"https://c.example.com\" environment = development }\n",
        ),
    ]);
    let model = clean(&diamond);
    assert_eq!(model.clusters.len(), 1, "b.env.k is loaded once");
    assert_eq!(diamond.sources.files().count(), 3);

    let cycle = run(&[
        ("a.env.k", "import \"./b.env.k\"\n"),
        ("b.env.k", "import \"./a.env.k\"\n"),
    ]);
    assert_eq!(codes(&cycle), [Code::E0204]);
    let message = diag::render_plain(&cycle.sources, &cycle.diagnostics);
    assert!(
        message.contains("`a.env.k` imports `b.env.k` imports `a.env.k`"),
        "{message}"
    );

    let missing = run(&[(
        "a.env.k",
        "import \"./nope.env.k\"\nimport \"std/alertz\"\n",
    )]);
    assert_eq!(codes(&missing), [Code::E0203, Code::E0203]);
    assert!(missing.model.is_none());
}

/// 1,000 teams × 3 stages, as a platform team with a generated team list
/// would write it: the checker accepts it, whole.
#[test]
fn a_thousand_teams_in_three_stages_check_clean() {
    let mut program = String::from(
        "import \"std/alerts\"\n\
         cluster dev-cluster { server = \"https://dev.example.com\" environment = development capacity { cpu = 100000 memory = 1000Ti pods = 1000000 } }\n\
         cluster stage-cluster { server = \"https://stage.example.com\" environment = staging capacity { cpu = 100000 memory = 1000Ti pods = 1000000 } }\n\
         cluster prod-cluster { server = \"https://prod.example.com\" environment = production capacity { cpu = 100000 memory = 1000Ti pods = 1000000 } }\n\
         tier standard { pod_security = baseline }\n\
         tier critical { pod_security = restricted environment = production network = isolated\n\
           ceiling { requests.cpu = 16 requests.memory = 32Gi limits.cpu = 32 limits.memory = 64Gi pods = 100 services = 20 }\n\
           require alerts [HighPodMemoryUsage, PodCrashLooping] forbid wildcards }\n\
         let base = quota { requests.cpu = 10 requests.memory = 20Gi limits.cpu = 20 limits.memory = 40Gi pods = 50 services = 10 }\n\
         let box = limits container { default { cpu = 200m memory = 256Mi } default_request { cpu = 100m memory = 128Mi } max { cpu = 2 memory = 4Gi } min { cpu = 50m memory = 64Mi } }\n",
    );
    for team in 1..=1000 {
        program.push_str(&format!(
            "role team-{team}-engineer {{ allow [get, list, create, update, patch, delete] on [pods, services, configmaps] allow [get, list, create, update, patch] on [deployments, replicasets] }}\n\
             env team-{team} {{\n\
               limits = box\n\
               grant team-{team}-engineer to user \"team-{team}@company.com\"\n\
               egress allow to any on tcp 443, tcp 80\n\
               egress allow dns\n\
               alert HighPodMemoryUsage\n\
               alert PodCrashLooping\n\
               deploy {{ repo = \"https://github.com/enterprise/k8s-manifests\" path = \"environments/${{environment}}/team-{team}\" sync {{ prune = true self_heal = true create_namespace = true }} }}\n\
               stage dev on dev-cluster tier standard {{ quota = base * 0.25 ingress allow from environment development on tcp 8080 }}\n\
               stage stage on stage-cluster tier standard {{ quota = base * 0.5 ingress allow from environment staging on tcp 8080 }}\n\
               stage prod on prod-cluster tier critical {{ quota = base ingress allow from environment production on tcp 8080 }}\n\
             }}\n"
        ));
    }
    let result = run(&[("fleet.env.k", &program)]);
    let model = clean(&result);
    assert_eq!(model.envs.len(), 3000);
    let dev = &model.env("team-7-dev").unwrap();
    assert_eq!(
        dev.quota.as_ref().map(|q| q.hard[&QuotaKey::RequestsCpu]),
        Some(2_500)
    );
    assert_eq!(
        dev.quota.as_ref().map(|q| q.hard[&QuotaKey::Pods]),
        Some(12),
        "counts round down"
    );
    assert_eq!(
        dev.deploy.as_ref().map(|d| d.path.as_str()),
        Some("environments/development/team-7")
    );
}

/// `envk check` (`driver::diagnose`) skips what only the Model needs (the
/// line each object was written on, putting the Model together): for every
/// UI case and example, it reports what a run that builds the Model does.
#[test]
fn diagnosing_reports_what_a_build_s_check_reports() {
    let mut programs = vec![
        PathBuf::from("examples/enterprise.env.k"),
        PathBuf::from("examples/multi-team"),
    ];
    for group in std::fs::read_dir("tests/ui").expect("the UI cases") {
        let group = group.expect("a UI folder").path();
        for case in std::fs::read_dir(&group).expect("a UI folder") {
            let case = case.expect("a UI case").path();
            if case.to_string_lossy().ends_with(".env.k") {
                programs.push(case);
            }
        }
    }
    assert!(programs.len() > 50, "{} programs", programs.len());
    let mut with_errors = 0;
    for program in programs {
        let paths = std::slice::from_ref(&program);
        let built = driver::check(paths).expect("readable");
        let diagnosed = driver::diagnose(paths).expect("readable");
        assert_eq!(
            diag::render_plain(&diagnosed.sources, &diagnosed.diagnostics),
            diag::render_plain(&built.sources, &built.diagnostics),
            "{}",
            program.display()
        );
        assert!(diagnosed.model.is_none(), "{}", program.display());
        with_errors += usize::from(built.has_errors());
    }
    assert!(with_errors > 20, "{with_errors} programs with errors");
}

/// A use can name its rule and set its severity and labels; a stage's use
/// replaces the family's use of the same rule name only.
#[test]
fn uses_name_their_rules_and_stages_replace_by_rule_name() {
    let program = "import \"std/alerts\"\n\
        cluster dev { server = \"https://dev.example.com\"  environment = development }\n\
        cluster prod { server = \"https://prod.example.com\"  environment = production }\n\
        tier t { pod_security = baseline }\n\
        env shop {\n\
          alert_labels { team = \"shop\" }\n\
          alert HighPodMemoryUsage { threshold = 80% }\n\
          alert HighPodMemoryUsage as HighPodMemoryCritical { threshold = 95%  severity = critical  labels { page = \"yes\"  team = \"sre\" } }\n\
          stage dev on dev tier t {}\n\
          stage prod on prod tier t { alert HighPodMemoryUsage { threshold = 90% } }\n\
        }\n";
    let loader = InMemory::new().with("main.env.k", program);
    let run = driver::check_with(&[PathBuf::from("main.env.k")], &loader).expect("in memory");
    assert!(
        run.diagnostics.is_empty(),
        "{}",
        envk::diag::render_plain(&run.sources, &run.diagnostics)
    );
    let model = run.model.expect("no errors");
    type Rule = (String, String, Vec<(String, String)>);
    let rules = |env: &str| -> Vec<Rule> {
        model
            .env(env)
            .unwrap()
            .alerts
            .rules
            .iter()
            .map(|rule| {
                let labels = rule
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (rule.alert.clone(), rule.expr.clone(), labels)
            })
            .collect()
    };
    let label = |k: &str, v: &str| (k.to_string(), v.to_string());
    let dev = rules("shop-dev");
    assert_eq!(dev.len(), 2, "{dev:?}");
    assert_eq!(dev[0].0, "HighPodMemoryUsage");
    assert!(dev[0].1.ends_with("> 0.8"), "{}", dev[0].1);
    assert_eq!(
        dev[0].2,
        [label("severity", "warning"), label("team", "shop")]
    );
    assert_eq!(dev[1].0, "HighPodMemoryCritical");
    assert!(dev[1].1.ends_with("> 0.95"), "{}", dev[1].1);
    // The use's labels win over the env's `alert_labels`.
    assert_eq!(
        dev[1].2,
        [
            label("page", "yes"),
            label("severity", "critical"),
            label("team", "sre")
        ]
    );
    let prod = rules("shop-prod");
    let names: Vec<&str> = prod.iter().map(|rule| rule.0.as_str()).collect();
    assert_eq!(names, ["HighPodMemoryCritical", "HighPodMemoryUsage"]);
    assert!(prod[1].1.ends_with("> 0.9"), "{}", prod[1].1);
}
