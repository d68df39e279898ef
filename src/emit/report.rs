//! `report/index.html`: the build's summary drawn for people, one
//! self-contained file (inline CSS and SVG, no script, nothing fetched):
//! per cluster, quota bars against capacity, a graph of who reaches whom,
//! who may do what, alerts; for the fleet, routes, policies, waivers and
//! cost.
//!
//! Everything is read from the `Summary`, so its figures are those of the
//! READMEs, `.envk/model.json` and `envk cost`. As in the READMEs, the
//! rows that grow with the fleet are written here and given to the
//! template whole (tera is slow per looked-up value); every text that
//! comes from the program is escaped here, and the template escapes the
//! rest. Sizes stay linear: a cluster of more than `GRAPH_LIMIT`
//! namespaces gets each namespace's rules instead of a graph of pairs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cost::table::{self, CostTable};
use crate::model::{QuotaKey, Reach};
use crate::summary::{ClusterSummary, Place, Summary};

const TEMPLATE: &str = include_str!("templates/report.html.tera");

/// Role name → its rules.
type Roles = BTreeMap<String, Vec<crate::summary::RuleSummary>>;

/// Above this many places (namespaces, externals, Prometheus) a cluster's
/// reachability is listed per namespace, not drawn pair by pair.
pub const GRAPH_LIMIT: usize = 40;

/// Above this many namespaces the access is a list, not a matrix.
const MATRIX_LIMIT: usize = 20;

/// Where the report is written in a build folder.
pub const PATH: &str = "report/index.html";

/// `<`, `>`, `&` and quotes, for text and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct Context {
    version: &'static str,
    title: String,
    cluster_count: usize,
    env_count: usize,
    total_cost: String,
    clusters: Vec<ClusterView>,
    routes: String,
    policies: String,
    waivers: String,
    cost_by_team: String,
    cost_by_tier: String,
    caveats: String,
}

#[derive(Serialize)]
struct ClusterView {
    name: String,
    environment: &'static str,
    server: String,
    env_count: usize,
    binding_count: usize,
    /// The number of paths, or `-` where the cluster is too large to
    /// list them pair by pair.
    path_count: String,
    cost: String,
    cost_decimal: String,
    price: String,
    bars: String,
    env_rows: String,
    total_cpu: String,
    total_memory: String,
    total_pods: String,
    graph: String,
    path_table: String,
    access: String,
    cluster_grants: String,
    alerts: String,
}

/// The report of a build.
pub(super) fn report(summary: &Summary) -> String {
    let costs = table::table(summary, "team");
    let clusters: Vec<ClusterView> = summary
        .clusters
        .iter()
        .map(|(name, cluster)| cluster_view(name, cluster, &costs, summary))
        .collect();
    let names: Vec<&str> = summary.clusters.keys().map(String::as_str).collect();
    let context = Context {
        version: env!("CARGO_PKG_VERSION"),
        title: match names.len() {
            1 => format!("Cluster {}", names[0]),
            _ => format!("Fleet of {}", names.join(", ")),
        },
        cluster_count: summary.clusters.len(),
        env_count: costs.envs.len(),
        total_cost: crate::cost::shown(costs.total.requests.money(), costs.total.requests_bounded),
        clusters,
        routes: routes(summary),
        policies: policies(summary),
        waivers: waivers(summary),
        cost_by_team: cost_groups(&costs.groups, &costs, "team"),
        cost_by_tier: cost_groups(&costs.tiers, &costs, "tier"),
        caveats: format!(
            "Cost: a month ({} hours) of each quota's requests at its cluster's prices; {}.",
            crate::cost::HOURS_PER_MONTH,
            crate::cost::CAVEATS.join("; ")
        ),
    };
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .expect("the template is part of envk and parses");
    let context = tera::Context::from_serialize(context).expect("the context is plain data");
    tera.render("report.html", &context)
        .expect("the template renders any summary")
}

fn cluster_view(
    name: &str,
    cluster: &ClusterSummary,
    costs: &CostTable,
    summary: &Summary,
) -> ClusterView {
    let total = costs
        .clusters
        .iter()
        .find(|line| line.name == name)
        .cloned()
        .unwrap_or_default();
    let shown = |key: QuotaKey| {
        cluster
            .requested(key)
            .map_or("—".to_string(), |value| key.dimension().format(value))
    };
    let places = cluster.places().len();
    let (graph, path_table, path_count) = if places <= GRAPH_LIMIT {
        let paths = cluster.paths();
        (
            graph(cluster, &paths),
            path_table(&paths),
            paths.len().to_string(),
        )
    } else {
        (
            format!(
                "<p class=\"note\">{places} namespaces: too many to draw every pair; each namespace's rules instead.</p>"
            ),
            rule_table(cluster),
            "-".to_string(),
        )
    };
    ClusterView {
        name: name.to_string(),
        environment: cluster.environment.as_str(),
        server: cluster.server.clone(),
        env_count: cluster.envs.len(),
        binding_count: cluster
            .envs
            .values()
            .map(|env| env.grants.len())
            .sum::<usize>()
            + cluster.cluster_grants.len(),
        path_count,
        cost: crate::cost::shown(total.requests.money(), total.requests_bounded),
        cost_decimal: total.requests.money().decimal(),
        price: crate::cost::describe_prices(
            &cluster.price.cpu,
            &cluster.price.memory,
            &cluster.price.origin,
        ),
        bars: bars(cluster),
        env_rows: env_rows(name, cluster, costs),
        total_cpu: shown(QuotaKey::RequestsCpu),
        total_memory: shown(QuotaKey::RequestsMemory),
        total_pods: shown(QuotaKey::Pods),
        graph,
        path_table,
        access: access(cluster, &summary.roles),
        cluster_grants: cluster_grants(cluster, &summary.cluster_roles),
        alerts: alerts(cluster),
    }
}

/// One stacked bar per dimension the cluster has a capacity for: each
/// env's request a segment, the capacity a red line.
fn bars(cluster: &ClusterSummary) -> String {
    const WIDTH: f64 = 900.0;
    let dimensions = [
        ("cpu", QuotaKey::RequestsCpu, cluster.capacity.cpu),
        ("memory", QuotaKey::RequestsMemory, cluster.capacity.memory),
        ("pods", QuotaKey::Pods, cluster.capacity.pods),
    ];
    let drawn: Vec<_> = dimensions
        .iter()
        .filter_map(|&(label, key, capacity)| Some((label, key, capacity?)))
        .filter(|(_, _, capacity)| *capacity > 0)
        .collect();
    if drawn.is_empty() {
        return "<p class=\"note\">The cluster sets no capacity: its namespaces' requests are not bounded together.</p>\n".to_string();
    }
    let mut out = String::new();
    let height = 34 * drawn.len() + 8;
    let _ = writeln!(
        out,
        "<svg class=\"bars\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" role=\"img\" aria-label=\"quota requests against capacity\">",
        WIDTH as usize + 260,
        WIDTH as usize + 260
    );
    for (row, (label, key, capacity)) in drawn.iter().enumerate() {
        let dimension = key.dimension();
        let requested = cluster.requested(*key);
        let sum: u64 = cluster
            .envs
            .values()
            .filter_map(|env| env.quota.get(key.as_str()))
            .fold(0u64, |sum, value| sum.saturating_add(*value));
        // The scale fits the larger of capacity and what is requested.
        let full = (*capacity).max(sum).max(1) as f64;
        let y = 8 + row * 34;
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{}\">{label}</text><rect class=\"track\" x=\"70\" y=\"{y}\" width=\"{WIDTH}\" height=\"22\" />",
            y + 15
        );
        let mut x = 70.0;
        for (index, (name, env)) in cluster.envs.iter().enumerate() {
            let Some(value) = env.quota.get(key.as_str()) else {
                continue;
            };
            let width = *value as f64 / full * WIDTH;
            let _ = writeln!(
                out,
                "<rect class=\"segment s{}\" x=\"{x:.2}\" y=\"{y}\" width=\"{width:.2}\" height=\"22\"><title>{}: {}</title></rect>",
                index % 8,
                escape(name),
                dimension.format(*value)
            );
            x += width;
        }
        let at = 70.0 + *capacity as f64 / full * WIDTH;
        let shown = requested.map_or("unbounded".to_string(), |value| dimension.format(value));
        let percent = requested.map_or(String::new(), |value| {
            format!(" ({}%)", u128::from(value) * 100 / u128::from(*capacity))
        });
        let over = requested.is_none_or(|value| value > *capacity);
        let _ = writeln!(
            out,
            "<line class=\"capacity\" x1=\"{at:.2}\" y1=\"{}\" x2=\"{at:.2}\" y2=\"{}\"><title>capacity {}</title></line><text x=\"{}\" y=\"{}\"{}>{shown} of {}{percent}</text>",
            y - 3,
            y + 25,
            dimension.format(*capacity),
            WIDTH as usize + 80,
            y + 15,
            if over { " class=\"over\"" } else { "" },
            dimension.format(*capacity)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn env_rows(name: &str, cluster: &ClusterSummary, costs: &CostTable) -> String {
    let lines: BTreeMap<&str, &table::EnvLine> = costs
        .envs
        .iter()
        .filter(|line| line.cluster == name)
        .map(|line| (line.namespace.as_str(), line))
        .collect();
    let mut out = String::new();
    for (env_name, env) in &cluster.envs {
        let quota = |key: QuotaKey| {
            env.quota
                .get(key.as_str())
                .map_or("—".to_string(), |value| key.dimension().format(*value))
        };
        let (cost, budget, over) = match lines.get(env_name.as_ref()) {
            Some(line) => {
                let cost = crate::cost::shown(line.requests.money(), line.requests_bounded);
                let budget = line
                    .budget
                    .map_or("—".to_string(), |budget| budget.money().to_string());
                let over = line.budget.is_some_and(|budget| line.requests > budget);
                (cost, budget, over)
            }
            None => ("—".to_string(), "—".to_string(), false),
        };
        let _ = writeln!(
            out,
            "<tr class=\"env\" data-env=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num cost{}\">{cost}</td><td class=\"num\">{budget}</td></tr>",
            escape(env_name),
            escape(env_name),
            escape(&env.tier),
            escape(&env.team),
            escape(&env.pod_security),
            quota(QuotaKey::RequestsCpu),
            quota(QuotaKey::RequestsMemory),
            quota(QuotaKey::Pods),
            if over { " over" } else { "" }
        );
    }
    out
}

/// The places on a circle, each path an arrow; a path on some ports only
/// is dashed. Each arrow's title says its ports.
fn graph(cluster: &ClusterSummary, paths: &BTreeMap<(Place, Place), Reach>) -> String {
    let places = cluster.places();
    if places.is_empty() {
        return "<p class=\"note\">No namespace on this cluster.</p>\n".to_string();
    }
    let count = places.len();
    let radius = (45.0 * count as f64 / std::f64::consts::PI).max(150.0);
    let margin = 140.0;
    let size = 2.0 * (radius + margin);
    let centre = size / 2.0;
    let at: BTreeMap<&Place, (f64, f64)> = places
        .iter()
        .enumerate()
        .map(|(index, (place, _))| {
            let angle =
                index as f64 / count as f64 * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
            (
                place,
                (centre + radius * angle.cos(), centre + radius * angle.sin()),
            )
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"graph\" width=\"{size:.0}\" height=\"{size:.0}\" viewBox=\"0 0 {size:.0} {size:.0}\" role=\"img\" aria-label=\"who can reach whom\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#8a94a6\" /></marker></defs>"
    );
    const NODE: f64 = 7.0;
    for ((from, to), reach) in paths {
        let ((x1, y1), (x2, y2)) = (at[from], at[to]);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        // Two directions between one pair are drawn side by side.
        let (ox, oy) = (-uy * 2.5, ux * 2.5);
        let some = matches!(reach, Reach::Ports(_));
        let _ = writeln!(
            out,
            "<line class=\"path{}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" marker-end=\"url(#arrow)\"><title>{} → {}: {}</title></line>",
            if some { " some" } else { "" },
            x1 + ux * NODE + ox,
            y1 + uy * NODE + oy,
            x2 - ux * (NODE + 2.0) + ox,
            y2 - uy * (NODE + 2.0) + oy,
            escape(&from.to_string()),
            escape(&to.to_string()),
            reach
        );
    }
    for (place, _) in &places {
        let (x, y) = at[place];
        let kind = match place {
            Place::Env(_) => "env",
            Place::External(_) => "external",
            Place::Prometheus(_) => "prometheus",
        };
        let anchor = if x < centre - 1.0 {
            "end"
        } else if x > centre + 1.0 {
            "start"
        } else {
            "middle"
        };
        let (lx, ly) = (
            x + (x - centre) / radius * 12.0,
            y + (y - centre) / radius * 12.0 + 4.0,
        );
        let _ = writeln!(
            out,
            "<circle class=\"node node-{kind}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{NODE}\"><title>{}</title></circle><text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\">{}</text>",
            escape(&place.to_string()),
            escape(&place.to_string())
        );
    }
    out.push_str("</svg>\n<p class=\"note\">Arrows go from sender to receiver, as the NetworkPolicies allow; dashed: some ports only. Blue: envs; orange: externals; green: the cluster's Prometheus.</p>\n");
    out
}

/// A table of `rows` (each `<tr …>…</tr>`) under the header cells `head`,
/// or the note `empty` when there is no row.
fn table(class: &str, head: &str, rows: Vec<String>, empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"note\">{empty}</p>\n");
    }
    let mut out = format!("<table class=\"{class}\"><thead><tr>{head}</tr></thead><tbody>\n");
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out.push_str("</tbody></table>\n");
    out
}

/// `<tr class="CLASS"><td>…</td>…</tr>`: the `text` cells, then the
/// `numbers`, aligned right; each escaped.
fn row(class: &str, text: &[&str]) -> String {
    numbered_row(class, text, &[])
}

fn numbered_row(class: &str, text: &[&str], numbers: &[String]) -> String {
    let mut out = format!("<tr class=\"{class}\">");
    for cell in text {
        let _ = write!(out, "<td>{}</td>", escape(cell));
    }
    for number in numbers {
        let _ = write!(out, "<td class=\"num\">{}</td>", escape(number));
    }
    out.push_str("</tr>");
    out
}

fn path_table(paths: &BTreeMap<(Place, Place), Reach>) -> String {
    let rows: Vec<String> = paths
        .iter()
        .map(|((from, to), reach)| {
            row(
                "path",
                &[&from.to_string(), &to.to_string(), &reach.to_string()],
            )
        })
        .collect();
    if rows.is_empty() {
        return "<p class=\"note\">No traffic is allowed between these namespaces.</p>\n"
            .to_string();
    }
    format!(
        "<details><summary>Every path ({})</summary>\n{}</details>\n",
        rows.len(),
        table("paths", "<th>From</th><th>To</th><th>Ports</th>", rows, "")
    )
}

/// Each namespace's rules, for a cluster too large for a graph.
fn rule_table(cluster: &ClusterSummary) -> String {
    let rows = cluster
        .envs
        .iter()
        .map(|(name, env)| {
            let (accepts, sends) = super::docs::accepts_and_sends(&env.network);
            row("rule", &[name, &accepts, &sends])
        })
        .collect();
    table(
        "rules",
        "<th>Namespace</th><th>Accepts traffic from</th><th>Sends traffic to</th>",
        rows,
        "No namespace on this cluster.",
    )
}

/// Every grant, one row per binding; and, for a small cluster, a matrix
/// of subjects against namespaces.
fn access(cluster: &ClusterSummary, roles: &Roles) -> String {
    let mut out = String::new();
    let bindings: Vec<(&crate::summary::Text, &crate::summary::GrantSummary)> = cluster
        .envs
        .iter()
        .flat_map(|(name, env)| env.grants.iter().map(move |grant| (name, grant)))
        .collect();
    if bindings.is_empty() {
        out.push_str("<p class=\"note\">No role is granted in a namespace of this cluster.</p>\n");
        return out;
    }
    if cluster.envs.len() <= MATRIX_LIMIT {
        let mut subjects: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
        for (namespace, grant) in &bindings {
            for subject in &grant.subjects {
                subjects
                    .entry(subject)
                    .or_default()
                    .entry(namespace)
                    .or_default()
                    .push(&grant.role);
            }
        }
        out.push_str("<table class=\"access\"><thead><tr><th>Subject</th>");
        for namespace in cluster.envs.keys() {
            let _ = write!(out, "<th>{}</th>", escape(namespace));
        }
        out.push_str("</tr></thead><tbody>\n");
        for (subject, roles) in &subjects {
            let _ = write!(out, "<tr><th>{}</th>", escape(subject));
            for namespace in cluster.envs.keys() {
                let cell = roles
                    .get(namespace.as_ref())
                    .map_or(String::new(), |roles| escape(&roles.join(", ")));
                let _ = write!(out, "<td>{cell}</td>");
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
    let rows = bindings
        .iter()
        .map(|(namespace, grant)| {
            let subjects = grant.subjects.join(", ");
            let writes = writes(grant, roles);
            row(
                "binding",
                &[namespace, &grant.binding, &grant.role, &subjects, &writes],
            )
        })
        .collect();
    out.push_str(&table(
        "bindings",
        "<th>Namespace</th><th>Binding</th><th>Role</th><th>Subjects</th><th>May write</th>",
        rows,
        "",
    ));
    out
}

/// The resources a grant's role may write, `*` counting as every verb.
fn writes(grant: &crate::summary::GrantSummary, roles: &Roles) -> String {
    let mut resources: Vec<&str> = roles
        .get(grant.role.as_ref())
        .into_iter()
        .flatten()
        .filter(|rule| {
            rule.verbs
                .iter()
                .any(|verb| verb == "*" || crate::model::writes(verb))
        })
        .flat_map(|rule| rule.resources.iter().map(String::as_str))
        .collect();
    resources.sort_unstable();
    resources.dedup();
    resources.join(", ")
}

fn cluster_grants(cluster: &ClusterSummary, roles: &Roles) -> String {
    let rows: Vec<String> = cluster
        .cluster_grants
        .iter()
        .map(|grant| {
            let subjects = grant.subjects.join(", ");
            let writes = writes(grant, roles);
            row(
                "binding",
                &[&grant.binding, &grant.role, &subjects, &writes],
            )
        })
        .collect();
    let intro = match rows.is_empty() {
        true => "",
        false => "<p>Cluster-wide, each reaching every namespace:</p>\n",
    };
    let table = table(
        "cluster-bindings",
        "<th>Binding</th><th>Cluster role</th><th>Subjects</th><th>May write</th>",
        rows,
        "No cluster role is granted on this cluster.",
    );
    format!("{intro}{table}")
}

fn alerts(cluster: &ClusterSummary) -> String {
    let rows = cluster
        .envs
        .iter()
        .flat_map(|(name, env)| env.alerts.iter().map(move |alert| (name, alert)))
        .map(|(namespace, alert)| {
            row(
                "alert",
                &[
                    namespace,
                    &alert.alert,
                    alert.severity.as_deref().unwrap_or("—"),
                    alert.wait.as_deref().unwrap_or("—"),
                    alert.receiver.as_deref().unwrap_or("— (no Alertmanager)"),
                ],
            )
        })
        .collect();
    table(
        "alerts",
        "<th>Namespace</th><th>Alert</th><th>Severity</th><th>for</th><th>Sent to</th>",
        rows,
        "No alert rule on this cluster.",
    )
}

fn routes(summary: &Summary) -> String {
    let kinds = |receiver: &str| {
        summary
            .receivers
            .get(receiver)
            .map_or(String::new(), |kinds| kinds.join(", "))
    };
    let rows = summary
        .routes
        .iter()
        .map(|route| {
            (
                route.team.as_deref(),
                route.severity.as_deref(),
                &route.receiver,
            )
        })
        .chain(
            summary
                .default_receiver
                .iter()
                .map(|receiver| (None, None, receiver)),
        )
        .map(|(team, severity, receiver)| {
            row(
                "route",
                &[
                    team.unwrap_or("any"),
                    severity.unwrap_or("any"),
                    receiver,
                    &kinds(receiver),
                ],
            )
        })
        .collect();
    table(
        "routes",
        "<th>team</th><th>severity</th><th>Receiver</th><th>Integrations</th>",
        rows,
        "The program declares no Alertmanager route.",
    )
}

fn policies(summary: &Summary) -> String {
    let rows = summary
        .policies
        .iter()
        .map(|policy| {
            let name = match &policy.description {
                Some(description) => format!("{}: {}", policy.name, description),
                None => policy.name.clone(),
            };
            numbered_row(
                "policy",
                &[&name, &policy.severity],
                &[
                    policy.covers.to_string(),
                    policy.passes.to_string(),
                    policy.waived.to_string(),
                ],
            )
        })
        .collect();
    table(
        "policies",
        "<th>Policy</th><th>Severity</th><th class=\"num\">Objects</th><th class=\"num\">Pass</th><th class=\"num\">Waived</th>",
        rows,
        "The program has no policy.",
    )
}

fn waivers(summary: &Summary) -> String {
    let rows = summary
        .waivers
        .iter()
        .map(|waiver| {
            let target = format!("{} {}", waiver.kind, waiver.target);
            numbered_row(
                "waiver",
                &[&waiver.policy, &target, &waiver.reason],
                &[waiver.waived.to_string()],
            )
        })
        .collect();
    table(
        "waivers",
        "<th>Policy</th><th>For</th><th>Because</th><th class=\"num\">Findings waived</th>",
        rows,
        "No policy is waived.",
    )
}

fn cost_groups(lines: &[table::GroupLine], costs: &CostTable, column: &str) -> String {
    let rows = lines
        .iter()
        .chain(std::iter::once(&costs.total))
        .map(|line| {
            numbered_row(
                "cost",
                &[&line.name],
                &[
                    line.envs.to_string(),
                    crate::cost::shown(line.requests.money(), line.requests_bounded),
                    crate::cost::shown(line.limits.money(), line.limits_bounded),
                ],
            )
        })
        .collect();
    table(
        &format!("cost-{column}"),
        &format!(
            "<th>{column}</th><th class=\"num\">envs</th><th class=\"num\">requests</th><th class=\"num\">limits</th>"
        ),
        rows,
        "No env.",
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_from_the_program_is_escaped() {
        assert_eq!(
            escape(r#"<b class="x">Tom & Jerry's</b>"#),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;"
        );
    }
}
