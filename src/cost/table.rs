//! `envk cost`: the monthly figures of a build, per env and per group
//! (a label's value, by default the team), tier and cluster, as a table,
//! CSV, JSON or Markdown, with the prices and the caveats.
//!
//! Everything is read from a `Summary`, so the figures are the ones the
//! READMEs, `.envk/model.json`, `envk diff` and the report show.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{CAVEATS, HOURS_PER_MONTH};
use crate::model::{Dimension, QuotaKey};
use crate::summary::{Dollars, Summary};

/// How `envk cost` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

/// One env's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvLine {
    pub cluster: String,
    pub namespace: String,
    pub tier: String,
    /// The value of the grouping label (`--by`).
    pub group: String,
    /// `requests.cpu`, `requests.memory` as Kubernetes writes them; `—`
    /// when unset.
    pub cpu: String,
    pub memory: String,
    pub requests: Dollars,
    pub limits: Dollars,
    pub requests_bounded: bool,
    pub limits_bounded: bool,
    pub budget: Option<Dollars>,
}

/// A group's line: its envs' figures summed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupLine {
    pub name: String,
    pub envs: usize,
    pub requests: Dollars,
    pub limits: Dollars,
    pub requests_bounded: bool,
    pub limits_bounded: bool,
}

impl GroupLine {
    fn add(&mut self, env: &EnvLine) {
        if self.envs == 0 {
            self.requests_bounded = true;
            self.limits_bounded = true;
        }
        self.envs += 1;
        self.requests = Dollars(self.requests.0.saturating_add(env.requests.0));
        self.limits = Dollars(self.limits.0.saturating_add(env.limits.0));
        self.requests_bounded &= env.requests_bounded;
        self.limits_bounded &= env.limits_bounded;
    }
}

/// Every figure of `envk cost`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CostTable {
    pub currency: &'static str,
    pub hours_per_month: u64,
    /// Cluster → its prices in words (`describe_prices`).
    pub prices: BTreeMap<String, String>,
    /// The label envs are grouped by.
    pub by: String,
    pub envs: Vec<EnvLine>,
    pub groups: Vec<GroupLine>,
    pub tiers: Vec<GroupLine>,
    pub clusters: Vec<GroupLine>,
    pub total: GroupLine,
    pub caveats: Vec<&'static str>,
}

/// The figures of `summary`, grouped by the label `by` (`team`: the
/// env's team, its `team` label or else its name).
pub fn table(summary: &Summary, by: &str) -> CostTable {
    let mut envs = Vec::new();
    for (cluster_name, cluster) in &summary.clusters {
        for (name, env) in &cluster.envs {
            let group = match (by, env.labels.get(by)) {
                (_, Some(value)) => value.to_string(),
                ("team", None) => env.team.to_string(),
                (_, None) => "(none)".to_string(),
            };
            let shown = |key: QuotaKey, dimension: Dimension| {
                env.quota
                    .get(key.as_str())
                    .map_or("—".to_string(), |value| dimension.format(*value))
            };
            envs.push(EnvLine {
                cluster: cluster_name.clone(),
                namespace: name.to_string(),
                tier: env.tier.to_string(),
                group,
                cpu: shown(QuotaKey::RequestsCpu, Dimension::Cpu),
                memory: shown(QuotaKey::RequestsMemory, Dimension::Memory),
                requests: env.cost.requests,
                limits: env.cost.limits,
                requests_bounded: env.cost.requests_bounded,
                limits_bounded: env.cost.limits_bounded,
                budget: env.budget,
            });
        }
    }
    let grouped = |key: fn(&EnvLine) -> &str| {
        let mut groups: BTreeMap<&str, GroupLine> = BTreeMap::new();
        for env in &envs {
            let line = groups.entry(key(env)).or_insert_with(|| GroupLine {
                name: key(env).to_string(),
                ..GroupLine::default()
            });
            line.add(env);
        }
        groups.into_values().collect::<Vec<_>>()
    };
    let groups = grouped(|env| &env.group);
    let tiers = grouped(|env| &env.tier);
    let clusters = grouped(|env| &env.cluster);
    let mut total = GroupLine {
        name: "all envs".to_string(),
        requests_bounded: true,
        limits_bounded: true,
        ..GroupLine::default()
    };
    for env in &envs {
        total.add(env);
    }
    CostTable {
        currency: "USD",
        hours_per_month: HOURS_PER_MONTH,
        prices: summary
            .clusters
            .iter()
            .map(|(name, cluster)| {
                let price = super::describe_prices(
                    &cluster.price.cpu,
                    &cluster.price.memory,
                    &cluster.price.origin,
                );
                (name.clone(), price)
            })
            .collect(),
        by: by.to_string(),
        envs,
        groups,
        tiers,
        clusters,
        total,
        caveats: CAVEATS.to_vec(),
    }
}

fn shown(amount: Dollars, bounded: bool) -> String {
    super::shown(amount.money(), bounded)
}

impl CostTable {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.text(false),
            Format::Markdown => self.text(true),
            Format::Csv => self.csv(),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(self).expect("a table serializes");
                text.push('\n');
                text
            }
        }
    }

    /// The sections, as aligned plain text or as Markdown tables.
    fn text(&self, markdown: bool) -> String {
        let mut out = String::new();
        let heading = |out: &mut String, title: &str| match markdown {
            true => {
                let _ = writeln!(out, "### {title}\n");
            }
            false => {
                let _ = writeln!(out, "{title}\n");
            }
        };
        match markdown {
            true => out.push_str("## Monthly cost of quota requests\n\n"),
            false => out.push_str("Monthly cost of quota requests\n\n"),
        }
        let _ = writeln!(
            out,
            "{} hours a month, in US dollars, at each cluster's prices:",
            self.hours_per_month
        );
        for (cluster, price) in &self.prices {
            let _ = writeln!(out, "- {cluster}: {price}");
        }
        out.push('\n');
        heading(&mut out, "By env");
        let env_rows: Vec<Vec<String>> = self
            .envs
            .iter()
            .map(|env| {
                vec![
                    env.cluster.clone(),
                    env.namespace.clone(),
                    env.tier.clone(),
                    env.group.clone(),
                    env.cpu.clone(),
                    env.memory.clone(),
                    shown(env.requests, env.requests_bounded),
                    shown(env.limits, env.limits_bounded),
                    env.budget
                        .map_or("—".to_string(), |budget| budget.money().to_string()),
                ]
            })
            .collect();
        let by = self.by.as_str();
        table_into(
            &mut out,
            markdown,
            &[
                "cluster",
                "namespace",
                "tier",
                by,
                "requests.cpu",
                "requests.memory",
                "requests",
                "limits",
                "budget",
            ],
            &[false, false, false, false, true, true, true, true, true],
            &env_rows,
        );
        let group_rows = |lines: &[GroupLine]| -> Vec<Vec<String>> {
            lines
                .iter()
                .chain(std::iter::once(&self.total))
                .map(|line| {
                    vec![
                        line.name.clone(),
                        line.envs.to_string(),
                        shown(line.requests, line.requests_bounded),
                        shown(line.limits, line.limits_bounded),
                    ]
                })
                .collect()
        };
        for (title, column, lines) in [
            (format!("By {by}"), by, &self.groups),
            ("By tier".to_string(), "tier", &self.tiers),
            ("By cluster".to_string(), "cluster", &self.clusters),
        ] {
            out.push('\n');
            heading(&mut out, &title);
            table_into(
                &mut out,
                markdown,
                &[column, "envs", "requests", "limits"],
                &[false, true, true, true],
                &group_rows(lines),
            );
        }
        out.push('\n');
        heading(&mut out, "What these figures are");
        for caveat in &self.caveats {
            let _ = writeln!(out, "- {caveat}");
        }
        out
    }

    /// One line per env, group, tier and cluster and the total, the
    /// `scope` column saying which.
    fn csv(&self) -> String {
        let mut out = String::from(
            "scope,name,cluster,namespace,tier,group,requests.cpu,requests.memory,envs,requests_usd,limits_usd,budget_usd,requests_bounded,limits_bounded\n",
        );
        let field = |text: &str| -> String {
            if text.contains([',', '"', '\n']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.to_string()
            }
        };
        for env in &self.envs {
            let cells = [
                "env".to_string(),
                field(&env.namespace),
                field(&env.cluster),
                field(&env.namespace),
                field(&env.tier),
                field(&env.group),
                env.cpu.replace('—', ""),
                env.memory.replace('—', ""),
                "1".to_string(),
                env.requests.money().decimal(),
                env.limits.money().decimal(),
                env.budget
                    .map_or(String::new(), |budget| budget.money().decimal()),
                env.requests_bounded.to_string(),
                env.limits_bounded.to_string(),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        let scopes = [
            (format!("by:{}", self.by), &self.groups[..]),
            ("tier".to_string(), &self.tiers[..]),
            ("cluster".to_string(), &self.clusters[..]),
            ("total".to_string(), std::slice::from_ref(&self.total)),
        ];
        for (scope, lines) in scopes {
            for line in lines {
                let cells = [
                    field(&scope),
                    field(&line.name),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    line.envs.to_string(),
                    line.requests.money().decimal(),
                    line.limits.money().decimal(),
                    String::new(),
                    line.requests_bounded.to_string(),
                    line.limits_bounded.to_string(),
                ];
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        out
    }
}

/// A table: Markdown, or columns aligned with two spaces between them
/// (`right`: which columns are numbers, aligned right).
pub fn table_into(
    out: &mut String,
    markdown: bool,
    header: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) {
    if markdown {
        let escape = |cell: &str| cell.replace('|', "\\|");
        let line = |cells: &mut dyn Iterator<Item = String>| {
            let cells: Vec<String> = cells.collect();
            format!("| {} |\n", cells.join(" | "))
        };
        out.push_str(&line(&mut header.iter().map(|cell| escape(cell))));
        out.push_str(&line(&mut right.iter().map(|&right| match right {
            true => "---:".to_string(),
            false => "---".to_string(),
        })));
        for row in rows {
            out.push_str(&line(&mut row.iter().map(|cell| escape(cell))));
        }
        return;
    }
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .chain(std::iter::once(header[column].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (column, cell) in cells.enumerate() {
            if column > 0 {
                text.push_str("  ");
            }
            let pad = widths[column].saturating_sub(cell.chars().count());
            if right[column] {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}
