//! Which exporter serves the series an alert reads (E0709).
//!
//! A metric's exporter is known by its name's prefix; a metric of no
//! known family is an application's, scraped from the env's own pods
//! (its `metrics` ports, or the seed's job for annotated pods), and is
//! not judged. Must never: decide by anything but a selector's metric
//! name, or call an alert wrong (this is a warning: a cluster may scrape
//! an exporter through a Prometheus envk does not configure).

use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};

use crate::model::{Exporter, Exporters};

/// Metric-name prefixes and the exporter whose series they are:
/// - `container_`, `machine_`: cAdvisor, which the kubelet serves at
///   `/metrics/cadvisor` (google/cadvisor, `docs/storage/prometheus.md`);
/// - `kube_`: kube-state-metrics (kubernetes/kube-state-metrics,
///   `docs/metrics/`), the state of the API's objects;
/// - `kubelet_`: the kubelet's own `/metrics`, its volume stats among them
///   (kubernetes.io, "Kubernetes Metrics Reference");
/// - `node_`: node-exporter (prometheus/node_exporter), which the seed's
///   `kubernetes-nodes` job scrapes on every node's port 9100.
pub(crate) const FAMILIES: &[(&str, Exporter)] = &[
    ("container_", Exporter::Cadvisor),
    ("machine_", Exporter::Cadvisor),
    ("kube_", Exporter::KubeStateMetrics),
    ("kubelet_", Exporter::Kubelet),
    ("node_", Exporter::NodeExporter),
];

/// The exporter that serves `metric`, if it is of a known family.
pub(crate) fn exporter_of(metric: &str) -> Option<Exporter> {
    FAMILIES
        .iter()
        .find(|(prefix, _)| metric.starts_with(prefix))
        .map(|&(_, exporter)| exporter)
}

/// The prefixes of `exporter`'s families, as a message shows them:
/// "`container_*`, `machine_*`".
pub(crate) fn families_of(exporter: Exporter) -> String {
    FAMILIES
        .iter()
        .filter(|(_, of)| *of == exporter)
        .map(|(prefix, _)| format!("`{prefix}*`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The exporters whose series `expr` selects.
pub(crate) fn exporters_read(expr: &Expr) -> Exporters {
    let mut read = Exporters::NONE;
    visit(expr, &mut read);
    read
}

fn visit(expr: &Expr, read: &mut Exporters) {
    match expr {
        Expr::Aggregate(aggregate) => {
            visit(&aggregate.expr, read);
            if let Some(param) = &aggregate.param {
                visit(param, read);
            }
        }
        Expr::Unary(unary) => visit(&unary.expr, read),
        Expr::Binary(binary) => {
            visit(&binary.lhs, read);
            visit(&binary.rhs, read);
        }
        Expr::Paren(paren) => visit(&paren.expr, read),
        Expr::Subquery(subquery) => visit(&subquery.expr, read),
        Expr::VectorSelector(selector) => selected(selector, read),
        Expr::MatrixSelector(matrix) => selected(&matrix.vs, read),
        Expr::Call(call) => {
            for arg in &call.args.args {
                visit(arg, read);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The metric a selector names, by name or by an equality on `__name__`.
fn selected(selector: &VectorSelector, read: &mut Exporters) {
    let by_matcher = selector.matchers.matchers.iter().find_map(|matcher| {
        (matcher.name == "__name__" && matches!(matcher.op, MatchOp::Equal))
            .then_some(matcher.value.as_str())
    });
    if let Some(exporter) = selector
        .name
        .as_deref()
        .or(by_matcher)
        .and_then(exporter_of)
    {
        *read = read.with(exporter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Exporter> {
        let expr = promql_parser::parser::parse(text).expect("valid PromQL");
        let read = exporters_read(&expr);
        Exporter::ALL
            .into_iter()
            .filter(|exporter| read.contains(*exporter))
            .collect()
    }

    #[test]
    fn every_selector_counts_wherever_it_is() {
        assert_eq!(
            read(
                r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="a"}[5m])) / on (pod) kube_pod_container_resource_limits{resource="cpu"} > 0.9"#
            ),
            [Exporter::Cadvisor, Exporter::KubeStateMetrics]
        );
        assert_eq!(
            read(
                r#"kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.1"#
            ),
            [Exporter::Kubelet]
        );
        assert_eq!(
            read(r#"{__name__="node_load1"} > 4 and max_over_time(machine_cpu_cores[5m:1m]) > 0"#),
            [Exporter::Cadvisor, Exporter::NodeExporter]
        );
    }

    #[test]
    fn an_application_metric_is_no_exporter_s() {
        assert_eq!(
            read(r#"rate(http_requests_total{namespace="a"}[5m]) > 3"#),
            []
        );
        // `kubelet_` is not `kube_`, nor a regex on the name a family.
        assert_eq!(exporter_of("kubelet_running_pods"), Some(Exporter::Kubelet));
        assert_eq!(read(r#"{__name__=~"kube_.*"} > 0"#), []);
    }
}
