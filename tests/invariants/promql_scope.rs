//! Invariant 5: every alert expression parses, and reads and returns only
//! its own namespace's series. The rule is read here from promql_parser's
//! AST with code of this test's own, never the checker's:
//!
//! - every vector and matrix selector has `namespace="<ns>"` (in each `or`
//!   group of its braces), and no other matcher on `namespace`;
//! - except a selector whose nearest ancestor, past parentheses, unary
//!   minus and functions that keep each series' labels, is an arithmetic,
//!   comparison or `and` operator between two vectors with no modifier
//!   but `bool`, whose other operand follows the rule and keeps the
//!   `namespace` label; and none of whose ancestors is an aggregation,
//!   `scalar`, `absent`, `absent_over_time`, a subquery, `or` or `unless`;
//! - no `label_replace` or `label_join` writes `namespace`.
//!
//! Where the checker walks once and lets an operator decide for its
//! operands, this looks at each selector from its chain of ancestors.

use std::collections::BTreeMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::ast::{LabelModifier, VectorMatchCardinality};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{BinaryExpr, Expr, VectorSelector};
use proptest::prelude::*;

use super::{
    Code, Tree, Value, check, formatted, generate, objects, rejected_where_injected, render,
};

/// What in `expr` reads outside `namespace`: one line per selector or
/// function; empty when nothing does.
pub fn violations(expr: &Expr, namespace: &str) -> Vec<String> {
    let mut nodes = Vec::new();
    with_ancestors(expr, &mut Vec::new(), &mut nodes);
    let mut found = Vec::new();
    for (ancestors, node) in nodes {
        match node {
            Expr::VectorSelector(selector) => {
                found.extend(selector_violation(node, selector, &ancestors, namespace))
            }
            Expr::MatrixSelector(matrix) => {
                found.extend(selector_violation(node, &matrix.vs, &ancestors, namespace))
            }
            Expr::Call(call) if matches!(call.func.name, "label_replace" | "label_join") => {
                let mut destination = call.args.args.get(1).map(|arg| &**arg);
                while let Some(Expr::Paren(paren)) = destination {
                    destination = Some(&*paren.expr);
                }
                match destination {
                    Some(Expr::StringLiteral(label)) if label.val != "namespace" => {}
                    _ => found.push(format!("{node} writes `namespace`")),
                }
            }
            Expr::Extension(_) => found.push("an extension node".to_string()),
            Expr::Call(_)
            | Expr::Aggregate(_)
            | Expr::Unary(_)
            | Expr::Binary(_)
            | Expr::Paren(_)
            | Expr::Subquery(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_) => {}
        }
    }
    found
}

/// Every node below `expr`, `expr` included, with its ancestors from the
/// root down.
fn with_ancestors<'e>(
    expr: &'e Expr,
    path: &mut Vec<&'e Expr>,
    out: &mut Vec<(Vec<&'e Expr>, &'e Expr)>,
) {
    out.push((path.clone(), expr));
    path.push(expr);
    for child in children(expr) {
        with_ancestors(child, path, out);
    }
    path.pop();
}

fn children(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Aggregate(aggregate) => aggregate
            .param
            .iter()
            .map(|param| &**param)
            .chain([&*aggregate.expr])
            .collect(),
        Expr::Unary(unary) => vec![&*unary.expr],
        Expr::Binary(binary) => vec![&*binary.lhs, &*binary.rhs],
        Expr::Paren(paren) => vec![&*paren.expr],
        Expr::Subquery(subquery) => vec![&*subquery.expr],
        Expr::Call(call) => call.args.args.iter().map(|arg| &**arg).collect(),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => Vec::new(),
    }
}

fn selector_violation(
    node: &Expr,
    selector: &VectorSelector,
    ancestors: &[&Expr],
    namespace: &str,
) -> Option<String> {
    let groups: Vec<&Vec<Matcher>> = if selector.matchers.or_matchers.is_empty() {
        vec![&selector.matchers.matchers]
    } else {
        selector.matchers.or_matchers.iter().collect()
    };
    let own = |m: &Matcher| m.op == MatchOp::Equal && m.value == namespace;
    if let Some(other) = groups
        .iter()
        .flat_map(|group| group.iter())
        .find(|m| m.name == "namespace" && !own(m))
    {
        return Some(format!("{selector}: {other}"));
    }
    if groups
        .iter()
        .all(|group| group.iter().any(|m| m.name == "namespace"))
    {
        return None;
    }
    (!excused(node, ancestors, namespace))
        .then(|| format!("{selector} has no namespace matcher where it needs one"))
}

/// Whether an unscoped selector is an operand the exception covers.
fn excused(node: &Expr, ancestors: &[&Expr], namespace: &str) -> bool {
    if ancestors.iter().any(|ancestor| reads_across(ancestor)) {
        return false;
    }
    // Up from the selector to the first ancestor that is not transparent.
    let mut child = node;
    for ancestor in ancestors.iter().rev() {
        let transparent = match ancestor {
            Expr::Paren(_) | Expr::Unary(_) => true,
            Expr::Call(call) => keeps_each_series(call.func.name),
            Expr::Aggregate(_)
            | Expr::Binary(_)
            | Expr::Subquery(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => false,
        };
        if !transparent {
            let Expr::Binary(binary) = ancestor else {
                return false;
            };
            let other = if std::ptr::eq(&*binary.lhs, child) {
                &*binary.rhs
            } else {
                &*binary.lhs
            };
            return pairs_on_every_label(binary)
                && is_vector(&binary.lhs)
                && is_vector(&binary.rhs)
                && violations(other, namespace).is_empty()
                && keeps_namespace(other);
        }
        child = ancestor;
    }
    false
}

/// Constructs that combine or look for series across label sets: every
/// selector under them needs the matcher.
fn reads_across(expr: &Expr) -> bool {
    match expr {
        Expr::Aggregate(_) | Expr::Subquery(_) => true,
        Expr::Call(call) => matches!(call.func.name, "scalar" | "absent" | "absent_over_time"),
        Expr::Binary(binary) => matches!(binary.op.to_string().as_str(), "or" | "unless"),
        Expr::Unary(_)
        | Expr::Paren(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => false,
    }
}

/// An arithmetic, comparison or `and` operator that pairs series on all
/// their labels.
fn pairs_on_every_label(binary: &BinaryExpr) -> bool {
    let op = binary.op.to_string();
    if matches!(op.as_str(), "or" | "unless") {
        return false;
    }
    match &binary.modifier {
        None => true,
        Some(modifier) => {
            modifier.matching.is_none()
                && modifier.fill_values.lhs.is_none()
                && modifier.fill_values.rhs.is_none()
                && !matches!(
                    modifier.card,
                    VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
                )
        }
    }
}

/// Functions whose result has one series per series of their argument,
/// with its labels (less the metric name), as Prometheus documents them.
fn keeps_each_series(name: &str) -> bool {
    const FUNCTIONS: &[&str] = &[
        "abs",
        "ceil",
        "floor",
        "round",
        "exp",
        "sqrt",
        "ln",
        "log2",
        "log10",
        "sgn",
        "clamp",
        "clamp_min",
        "clamp_max",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "changes",
        "resets",
        "predict_linear",
        "timestamp",
        "sort",
        "sort_desc",
        "sort_by_label",
        "sort_by_label_desc",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "cos",
        "cosh",
        "sin",
        "sinh",
        "tan",
        "tanh",
        "deg",
        "rad",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "hour",
        "minute",
        "month",
        "year",
        "histogram_avg",
        "histogram_count",
        "histogram_sum",
        "histogram_fraction",
        "histogram_stddev",
        "histogram_stdvar",
        "double_exponential_smoothing",
    ];
    FUNCTIONS.contains(&name)
        || (name.ends_with("_over_time")
            && name != "absent_over_time"
            && !name.starts_with("ts_of_"))
}

fn is_vector(expr: &Expr) -> bool {
    expr.value_type() == ValueType::Vector
}

/// Whether every series `expr` returns has the `namespace` label of a
/// scoped selector (given that its selectors follow the rule).
fn keeps_namespace(expr: &Expr) -> bool {
    match expr {
        Expr::VectorSelector(selector) => scoped_in_every_group(selector),
        Expr::MatrixSelector(matrix) => scoped_in_every_group(&matrix.vs),
        Expr::Paren(paren) => keeps_namespace(&paren.expr),
        Expr::Unary(unary) => keeps_namespace(&unary.expr),
        Expr::Subquery(subquery) => keeps_namespace(&subquery.expr),
        Expr::Call(call) => {
            keeps_each_series(call.func.name)
                && call
                    .args
                    .args
                    .iter()
                    .find(|arg| matches!(arg.value_type(), ValueType::Vector | ValueType::Matrix))
                    .is_some_and(|arg| keeps_namespace(arg))
        }
        Expr::Aggregate(aggregate) => {
            let grouped_by_namespace = match &aggregate.modifier {
                Some(LabelModifier::Include(by)) => by.labels.iter().any(|l| l == "namespace"),
                Some(LabelModifier::Exclude(without)) => {
                    !without.labels.iter().any(|l| l == "namespace")
                }
                None => false,
            };
            let op = aggregate.op.to_string();
            let returns_its_input =
                matches!(op.as_str(), "topk" | "bottomk" | "limitk" | "limit_ratio");
            op != "count_values"
                && (returns_its_input || grouped_by_namespace)
                && keeps_namespace(&aggregate.expr)
        }
        Expr::Binary(binary) => {
            let (left, right) = (keeps_namespace(&binary.lhs), keeps_namespace(&binary.rhs));
            match (is_vector(&binary.lhs), is_vector(&binary.rhs)) {
                (true, false) => return left,
                (false, true) => return right,
                (false, false) => return false,
                (true, true) => {}
            }
            match binary.op.to_string().as_str() {
                "or" => left && right,
                "unless" => left,
                "and" if !pairs_on_every_label(binary) => left,
                _ if !pairs_on_every_label(binary) => false,
                _ => left || right,
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

fn scoped_in_every_group(selector: &VectorSelector) -> bool {
    let has = |group: &[Matcher]| {
        group
            .iter()
            .any(|m| m.name == "namespace" && m.op == MatchOp::Equal)
    };
    if selector.matchers.or_matchers.is_empty() {
        has(&selector.matchers.matchers)
    } else {
        selector.matchers.or_matchers.iter().all(|group| has(group))
    }
}

/// The one rule file of a cluster that is not an env's: the aggregates it
/// records over every namespace, which invariant 5 exempts.
const CLUSTER_RULES: &str = "_cluster.rules.yaml";

/// Invariant 5 on the generated rule tests (tree layout): an env's test
/// file reads its own rule file, feeds series of its own namespace only,
/// and expects alerts of its own rules in its namespace; each of its rules
/// has a test that fires and one that stays silent, or is named as
/// untested. The cluster's test file reads the cluster's rule file and
/// tests recordings only.
pub fn rule_tests_scoped(tree: &Tree) -> Result<(), String> {
    for (path, content) in &tree.files {
        let Some((cluster, file)) = path.split_once("/monitoring/tests/") else {
            continue;
        };
        let text = content.text();
        let tests: Value = serde_yaml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let namespace = file
            .strip_suffix(".test.yaml")
            .ok_or_else(|| format!("{path}: not a test file"))?;
        let rule_file = match namespace {
            "_cluster" => CLUSTER_RULES.to_string(),
            _ => format!("{namespace}.rules.yaml"),
        };
        let rules_path = format!("{cluster}/monitoring/rules/{rule_file}");
        let rules: Value = serde_yaml::from_str(
            &tree
                .files
                .get(&rules_path)
                .ok_or_else(|| format!("{path}: no {rules_path}"))?
                .text(),
        )
        .map_err(|e| format!("{rules_path}: {e}"))?;
        if tests["rule_files"]
            != serde_yaml::from_str::<Value>(&format!("['../rules/{rule_file}']")).expect("YAML")
        {
            return Err(format!(
                "{path}: reads {:?}, not its own rule file",
                tests["rule_files"]
            ));
        }
        let items = tests["tests"]
            .as_sequence()
            .ok_or_else(|| format!("{path}: no tests"))?;
        if namespace == "_cluster" {
            if items
                .iter()
                .any(|test| test.get("alert_rule_test").is_some())
            {
                return Err(format!("{path}: the cluster's tests test an alert"));
            }
            continue;
        }
        let quoted = format!("namespace=\"{namespace}\"");
        let mut tested: BTreeMap<String, usize> = BTreeMap::new();
        for test in items {
            for series in test["input_series"].as_sequence().into_iter().flatten() {
                let series = series["series"].as_str().unwrap_or("");
                if !series.contains(&quoted) || series.matches("namespace=").count() != 1 {
                    return Err(format!("{path}: a series outside {namespace}: {series}"));
                }
            }
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                for alert in case["exp_alerts"].as_sequence().into_iter().flatten() {
                    let labels = &alert["exp_labels"];
                    if labels.get("namespace").is_some_and(|ns| ns != namespace) {
                        return Err(format!("{path}: an alert outside {namespace}: {labels:?}"));
                    }
                }
            }
            let name = test["name"].as_str().unwrap_or("");
            *tested.entry(name.to_string()).or_default() += 1;
        }
        for group in rules["groups"].as_sequence().into_iter().flatten() {
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                let alert = rule["alert"].as_str().unwrap_or("");
                let named = text.contains(&format!("# untested: {namespace}/{alert}: "));
                let fires = tested.contains_key(&format!("{alert} fires"));
                let silent = tested.contains_key(&format!("{alert} stays silent"));
                let tested = fires && silent;
                if !(named || tested) {
                    return Err(format!(
                        "{path}: no test of {alert} firing and staying silent"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Invariant 5 on a build: every rule of every PrometheusRule and rule
/// file parses and follows the rule for the namespace it lies in, but the
/// cluster's own rule file, which holds recording rules only.
pub fn assert_rules_scoped(tree: &Tree) {
    rule_tests_scoped(tree).unwrap_or_else(|e| panic!("{e}"));
    let resources: Vec<(String, Value)> = objects(tree)
        .into_iter()
        .filter(|(_, object)| object["kind"] == "PrometheusRule")
        .map(|(_, object)| {
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .expect("a namespace");
            (namespace.to_string(), object["spec"].clone())
        })
        .collect();
    let files: Vec<(String, Value)> = tree
        .files
        .iter()
        .filter_map(|(path, content)| {
            let (_, file) = path.split_once("/monitoring/rules/")?;
            if file == CLUSTER_RULES {
                assert_only_recordings(&content.text(), path);
                return None;
            }
            let namespace = file.strip_suffix(".rules.yaml")?;
            let rules = serde_yaml::from_str(&content.text()).expect("a rule file is YAML");
            Some((namespace.to_string(), rules))
        })
        .collect();
    let namespaces = |rules: &[(String, Value)]| {
        let mut found: Vec<String> = rules.iter().map(|(ns, _)| ns.clone()).collect();
        found.sort();
        found
    };
    assert_eq!(
        namespaces(&resources),
        namespaces(&files),
        "each env's rules are in a PrometheusRule and a rule file"
    );
    for (namespace, rules) in resources.iter().chain(&files) {
        for group in rules["groups"].as_sequence().expect("rule groups") {
            for rule in group["rules"].as_sequence().expect("rules") {
                let expr = rule["expr"].as_str().expect("an expression");
                let parsed =
                    promql_parser::parser::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
                let found = violations(&parsed, namespace);
                assert!(found.is_empty(), "{namespace}: {expr}: {found:#?}");
            }
        }
    }
}

/// Templates every generated program declares, which must stay accepted:
/// the first three go through the exception.
pub const TEMPLATES: &str = r#"alert InvErrorRatio(threshold: ratio = 5%, window: duration = 5m) {
  expr     = `rate(http_errors_total{namespace="${namespace}"}[${window}]) / rate(http_requests_total[${window}]) > ${threshold}`
  severity = warning
}

alert InvPodNotReady(for: duration = 15m) {
  expr     = `kube_pod_status_ready{namespace="${namespace}", condition="false"} == 1 and kube_pod_info`
  severity = warning
}

alert InvOverRequests {
  expr     = `(container_memory_usage_bytes{namespace="${namespace}"} > bool kube_pod_container_resource_requests) == 1`
  severity = info
}

alert InvReadyRatio(min: ratio = 90%) {
  expr     = `sum by (namespace, pod) (kube_pod_container_status_ready{namespace="${namespace}"}) / ignoring(instance) sum by (namespace, pod) (kube_pod_container_status_running{namespace="${namespace}"}) < ${min}`
  severity = warning
}

"#;

/// The alerts an env with alerts uses besides the generator's own: those
/// whose bit is set in `shapes`.
pub fn uses(shapes: u8) -> impl Iterator<Item = &'static str> {
    const USES: [&str; 7] = [
        "alert InvErrorRatio { threshold = 10% }",
        "alert InvPodNotReady",
        "alert InvOverRequests",
        "alert InvReadyRatio",
        "alert ContainerCpuThrottling",
        "alert QuotaAlmostFull",
        "alert PersistentVolumeFillingUp",
    ];
    USES.into_iter()
        .enumerate()
        .filter(move |(bit, _)| shapes & (1 << bit) != 0)
        .map(|(_, line)| line)
}

/// The leak shapes the checker must refuse, each as a template's
/// expression.
const LEAKS: [&str; 12] = [
    // The numerator reads every team's errors.
    r#"sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="${namespace}"}[5m])) > 0.05"#,
    r#"scalar(sum(http_requests_total{code=~"5.."})) + 0 * sum(http_requests_total{namespace="${namespace}"})"#,
    r#"up{namespace=~"${namespace}|kube-system"} == 0"#,
    r#"up{namespace="${namespace}", namespace=~".+"} == 0"#,
    r#"usage{namespace="${namespace}"} / limit{namespace!="kube-system"}"#,
    r#"usage{namespace="${namespace}"} / label_replace(limit{namespace="shared"}, "namespace", "${namespace}", "", "")"#,
    r#"usage{namespace="${namespace}"} / on(pod) limit"#,
    r#"usage{namespace="${namespace}"} / ignoring(namespace) limit"#,
    r#"up{namespace="${namespace}"} == 0 or up{job="api"} == 0"#,
    r#"absent(up{job="api"})"#,
    r#"max_over_time(rate(errors[5m])[1h:]) / max_over_time(rate(errors{namespace="${namespace}"}[5m])[1h:])"#,
    r#"up{namespace="${namespace}"} == 0 unless up{job="api"} == 0"#,
];

/// A generated program with one leak: as a template's expression
/// (`kind` below `LEAKS.len()`), or as a use whose argument breaks a
/// template that is clean with its default. The text, and the snippet
/// the error must point into.
fn inject_leak(base: &str, kind: usize) -> (String, String) {
    if let Some(leak) = LEAKS.get(kind) {
        let snippet = format!("expr = `{leak}`");
        let text = format!("{base}alert InjLeak {{\n  {snippet}\n  severity = warning\n}}\n");
        return (text, snippet);
    }
    let snippet = r#"alert InjLeak { limit = "namespace=~\".+\"" }"#.to_string();
    let text = format!(
        "{base}alert InjLeak(limit: string = \"job=\\\"api\\\"\") {{\n  expr     = `usage{{namespace=\"${{namespace}}\"}} / limit{{${{limit}}}}`\n  severity = warning\n}}\n\ncluster inj-dev {{\n  server = \"https://inj-dev.example.com\"\n  environment = development\n}}\n\nenv inj on inj-dev tier base {{\n  quota {{ requests.cpu = 1  limits.cpu = 2  requests.memory = 1Gi  limits.memory = 2Gi  pods = 10 }}\n  ingress allow from environment development\n  {snippet}\n}}\n"
    );
    (text, snippet)
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// The check of the generated tests finds a series moved to another
    /// namespace, a test file reading another env's rules, and a rule
    /// whose tests are gone.
    #[test]
    fn misplaced_rule_tests_are_caught(seed in any::<u64>(), which in 0..3usize) {
        let text = formatted(&render(&generate(seed), None));
        let Some(mut tree) = check(&text).tree else {
            return Err(TestCaseError::fail("a generated program is accepted"));
        };
        prop_assert!(rule_tests_scoped(&tree).is_ok());
        let found = tree.files.keys().find_map(|path| {
            let (_, file) = path.split_once("/monitoring/tests/")?;
            let namespace = file.strip_suffix(".test.yaml").filter(|ns| *ns != "_cluster")?;
            Some((path.clone(), namespace.to_string()))
        });
        // A program without an env with alerts has nothing to break.
        prop_assume!(found.is_some());
        let (path, namespace) = found.expect("assumed");
        let original = tree.files[&path].text().to_string();
        let broken = match which {
            0 => original.replacen(&format!("namespace=\"{namespace}\""), "namespace=\"elsewhere\"", 1),
            1 => original.replacen(&format!("../rules/{namespace}.rules.yaml"), "../rules/_cluster.rules.yaml", 1),
            _ => {
                let cut = original.find("\n- name: ").map_or(original.len(), |at| at + 1);
                format!("{}tests: []\n", &original[..cut].trim_end_matches("tests:\n"))
            }
        };
        prop_assume!(broken != original);
        tree.files.insert(path, broken.into());
        prop_assert!(rule_tests_scoped(&tree).is_err());
    }

    /// Each leak shape, injected into an accepted program, is rejected
    /// with E0702 and nothing else, pointing into the injected text.
    #[test]
    fn alert_leaks_are_rejected_where_they_are(seed in any::<u64>(), kind in 0..=LEAKS.len()) {
        let (text, snippet) = inject_leak(&render(&generate(seed), None), kind);
        rejected_where_injected(&text, &snippet, Code::E0702)?;
    }
}

/// The cluster's own rule file records and never alerts: an alert there
/// would read every namespace, which invariant 5 forbids an env's.
fn assert_only_recordings(text: &str, path: &str) {
    let file: Value = serde_yaml::from_str(text).expect("a rule file is YAML");
    for group in file["groups"].as_sequence().expect("rule groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            assert!(
                rule.get("record").is_some() && rule.get("alert").is_none(),
                "{path}: the cluster's rule file holds an alert: {rule:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LEAKS, TEMPLATES, scoped_in_every_group, violations, with_ancestors};
    use promql_parser::parser::Expr;

    fn verdict(expr: &str) -> Vec<String> {
        let expr = expr.replace("${namespace}", "team-1");
        let parsed = promql_parser::parser::parse(&expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        violations(&parsed, "team-1")
    }

    /// The walk refuses every injected leak on its own, so the negative
    /// property and this walk agree on what a leak is.
    #[test]
    fn the_walk_refuses_every_leak_shape() {
        for leak in LEAKS {
            assert!(!verdict(leak).is_empty(), "{leak}");
        }
        assert!(!verdict(r#"usage{namespace="${namespace}"} / limit{namespace=~".+"}"#).is_empty());
    }

    /// The generated templates pass, and the first three only through
    /// the exception: they have a selector without the matcher.
    #[test]
    fn the_accepted_shapes_pass_and_some_need_the_exception() {
        let exprs: Vec<String> = TEMPLATES
            .lines()
            .filter_map(|line| line.trim().strip_prefix("expr"))
            .map(|rest| {
                let rest = &rest[rest.find('`').expect("a raw string") + 1..];
                rest[..rest.rfind('`').expect("closed")]
                    .replace("${window}", "5m")
                    .replace("${threshold}", "0.05")
                    .replace("${min}", "0.9")
            })
            .collect();
        assert_eq!(exprs.len(), 4);
        for (index, expr) in exprs.iter().enumerate() {
            assert!(verdict(expr).is_empty(), "{expr}: {:#?}", verdict(expr));
            let parsed = promql_parser::parser::parse(expr).expect("parses");
            let mut nodes = Vec::new();
            with_ancestors(&parsed, &mut Vec::new(), &mut nodes);
            let unscoped = nodes.iter().any(|(_, node)| match node {
                Expr::VectorSelector(selector) => !scoped_in_every_group(selector),
                Expr::MatrixSelector(matrix) => !scoped_in_every_group(&matrix.vs),
                Expr::Aggregate(_)
                | Expr::Unary(_)
                | Expr::Binary(_)
                | Expr::Paren(_)
                | Expr::Subquery(_)
                | Expr::NumberLiteral(_)
                | Expr::StringLiteral(_)
                | Expr::Call(_)
                | Expr::Extension(_) => false,
            });
            assert_eq!(unscoped, index < 3, "{expr}");
        }
    }

    #[test]
    fn tricky_shapes() {
        let cases = [
            (
                r#"container_memory_usage_bytes{namespace="${namespace}"} / container_spec_memory_limit_bytes > 0.9"#,
                true,
            ),
            (r#"x{namespace="${namespace}"} / -abs((y))"#, true),
            (r#"(x{namespace="${namespace}"} / y) / z"#, true),
            (
                r#"sum by (namespace) (x{namespace="${namespace}"}) / y"#,
                true,
            ),
            (r#"x{namespace="${namespace}"} > bool y"#, true),
            (
                r#"histogram_quantile(0.9, x{namespace="${namespace}"} / y)"#,
                true,
            ),
            (r#"x{namespace="${namespace}" or job="a"}"#, false),
            (r#"x{namespace="${namespace}"} / (y * 2)"#, false),
            (r#"x{namespace="${namespace}"} / (y / z)"#, false),
            (r#"sum(x{namespace="${namespace}"}) / y"#, false),
            (r#"x{namespace="${namespace}"} + fill(0) y"#, false),
            (r#"x{namespace="${namespace}"} / ignoring() y"#, false),
            (r#"sum(x{namespace="${namespace}"} / y)"#, false),
            (
                r#"x{namespace="${namespace}"} / histogram_quantile(0.9, y)"#,
                false,
            ),
            (
                r#"label_join(x{namespace="${namespace}"}, "namespace", ",", "a")"#,
                false,
            ),
        ];
        for (expr, accepted) in cases {
            assert_eq!(
                verdict(expr).is_empty(),
                accepted,
                "{expr}: {:#?}",
                verdict(expr)
            );
        }
    }
}
