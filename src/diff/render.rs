//! `envk diff`'s output: for a terminal (coloured or not), as Markdown for
//! a pull-request comment (a summary table, a `<details>` per cluster, in
//! numbered parts that each fit a GitHub comment), and as JSON.
//!
//! The meaning comes first, because that is what a reviewer acts on; the
//! objects and their unified diffs follow. Both texts are made from one
//! list of lines per cluster (`meaning_lines`).

use std::fmt::Write as _;

use crate::suggest::and_list;

use super::meaning::{ClusterMeaning, FleetMeaning, GrantChange, PathChange};
use super::{ClusterDiff, Diff};

/// GitHub's limit on a comment's body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// How much a line of meaning asks of the reviewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// Cannot be undone by the next build: a namespace removed.
    Destructive,
    /// Widens what is allowed: a path opened, a write granted, a cluster
    /// near capacity.
    Review,
    Plain,
}

impl Weight {
    fn marker(self) -> &'static str {
        match self {
            Weight::Destructive => "⛔ ",
            Weight::Review => "⚠️ ",
            Weight::Plain => "",
        }
    }
}

/// One line of meaning: Markdown inline text (names in backticks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub weight: Weight,
    pub text: String,
}

fn line(weight: Weight, text: String) -> Line {
    Line { weight, text }
}

/// The utilisation at and above which a capacity change is flagged.
const NEAR_CAPACITY: u64 = 90;

fn quoted(items: &[String]) -> Vec<String> {
    items.iter().map(|item| format!("`{item}`")).collect()
}

fn path_text(verb: &str, path: &PathChange) -> String {
    format!("{verb} the path from `{}` to `{}`", path.from, path.to)
}

/// At most this many names in a line; the rest are counted.
const NAMES_IN_A_LINE: usize = 6;

/// `a`, `b` and 3 more.
fn some_of(items: &[String]) -> String {
    match items.len() > NAMES_IN_A_LINE {
        false => and_list(items),
        true => format!(
            "{} and {} more",
            items[..NAMES_IN_A_LINE - 1].join(", "),
            items.len() - (NAMES_IN_A_LINE - 1)
        ),
    }
}

/// Paths opened, grouped: those from one place on the same ports are one
/// line (`opens paths from `a` to `b`, `c` …`), and so are those into one
/// place; a path alone is a line of its own.
fn grouped_paths(paths: &[PathChange]) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut from: BTreeMap<(String, &str), Vec<&PathChange>> = BTreeMap::new();
    for path in paths {
        from.entry((path.from.to_string(), path.new.as_str()))
            .or_default()
            .push(path);
    }
    let mut lines = Vec::new();
    let mut alone: Vec<&PathChange> = Vec::new();
    for ((source, ports), group) in from {
        match group.len() {
            1 => alone.push(group[0]),
            _ => {
                let targets: Vec<String> = group.iter().map(|p| format!("`{}`", p.to)).collect();
                lines.push(format!(
                    "opens paths from `{source}` to {} on {ports}",
                    some_of(&targets)
                ));
            }
        }
    }
    let mut into: BTreeMap<(String, &str), Vec<&PathChange>> = BTreeMap::new();
    for path in alone {
        into.entry((path.to.to_string(), path.new.as_str()))
            .or_default()
            .push(path);
    }
    for ((target, ports), group) in into {
        match &group[..] {
            [path] => lines.push(format!("{} on {ports}", path_text("opens", path))),
            _ => {
                let sources: Vec<String> = group.iter().map(|p| format!("`{}`", p.from)).collect();
                lines.push(format!(
                    "opens paths from {} to `{target}` on {ports}",
                    some_of(&sources)
                ));
            }
        }
    }
    lines
}

fn grant_text(verb: &str, preposition: &str, grant: &GrantChange) -> String {
    let place = match &grant.namespace {
        Some(namespace) => format!("in `{namespace}`"),
        None => "cluster-wide".to_string(),
    };
    match &grant.role {
        Some(role) if grant.resources.is_empty() => format!(
            "{verb} role `{role}` {preposition} {} {place} (read only)",
            grant.subject
        ),
        Some(role) => format!(
            "{verb} role `{role}` {preposition} {} {place}, which may {} {}",
            grant.subject,
            and_list(&quoted(&grant.verbs)),
            some_of(&quoted(&grant.resources))
        ),
        None => format!(
            "{verb} {} on {} {preposition} {} {place}",
            and_list(&quoted(&grant.verbs)),
            some_of(&quoted(&grant.resources)),
            grant.subject
        ),
    }
}

/// What a cluster's change means, most pressing first.
pub fn meaning_lines(meaning: &ClusterMeaning) -> Vec<Line> {
    let mut lines = Vec::new();
    for namespace in &meaning.namespaces_removed {
        lines.push(line(
            Weight::Destructive,
            format!("removes namespace `{namespace}`: envk stops managing it, and its workloads stay in the cluster until it is deleted by hand"),
        ));
    }
    for text in grouped_paths(&meaning.paths_opened) {
        lines.push(line(Weight::Review, text));
    }
    for path in &meaning.paths_changed {
        lines.push(line(
            Weight::Review,
            format!(
                "{}: {} → {}",
                path_text("changes", path),
                path.old,
                path.new
            ),
        ));
    }
    for grant in &meaning.grants_added {
        let writes = grant
            .verbs
            .iter()
            .any(|verb| verb == "*" || crate::model::writes(verb));
        let weight = if writes {
            Weight::Review
        } else {
            Weight::Plain
        };
        lines.push(line(weight, grant_text("grants", "to", grant)));
    }
    if !meaning.capacity.is_empty() {
        let near = meaning.capacity.iter().any(|capacity| {
            capacity
                .utilisation
                .is_some_and(|percent| percent >= NEAR_CAPACITY)
        });
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "unbounded".into());
        let parts: Vec<String> = meaning
            .capacity
            .iter()
            .map(|capacity| {
                let mut text = format!(
                    "{} {} → {}",
                    capacity.dimension,
                    shown(&capacity.old),
                    shown(&capacity.new)
                );
                let mut notes = Vec::new();
                notes.extend(capacity.delta.clone());
                match (&capacity.capacity, capacity.utilisation) {
                    (Some(of), Some(percent)) => notes.push(format!("{percent}% of {of}")),
                    (Some(of), None) => notes.push(format!("capacity {of}")),
                    (None, _) => notes.push("no capacity set".to_string()),
                }
                let _ = write!(text, " ({})", notes.join(", "));
                text
            })
            .collect();
        lines.push(line(
            if near { Weight::Review } else { Weight::Plain },
            format!("requests on the cluster: {}", parts.join("; ")),
        ));
    }
    for namespace in &meaning.namespaces_added {
        lines.push(line(
            Weight::Plain,
            format!(
                "adds namespace `{}` (tier `{}`, team `{}`, {}/month)",
                namespace.name, namespace.tier, namespace.team, namespace.cost
            ),
        ));
    }
    for path in &meaning.paths_closed {
        lines.push(line(
            Weight::Plain,
            format!("{} (was {})", path_text("closes", path), path.old),
        ));
    }
    for grant in &meaning.grants_removed {
        lines.push(line(Weight::Plain, grant_text("revokes", "from", grant)));
    }
    // One line per namespace, its keys in the order quotas are written.
    let mut quotas: Vec<&super::meaning::QuotaChange> = meaning.quotas.iter().collect();
    let order = |key: &str| crate::model::QuotaKey::parse(key).map(|key| key as usize);
    quotas.sort_by(|a, b| (&a.namespace, order(&a.key)).cmp(&(&b.namespace, order(&b.key))));
    for group in quotas.chunk_by(|a, b| a.namespace == b.namespace) {
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "unset".into());
        let keys: Vec<String> = group
            .iter()
            .map(|quota| {
                let mut text = format!(
                    "`{}` {} → {}",
                    quota.key,
                    shown(&quota.old),
                    shown(&quota.new)
                );
                if let Some(delta) = &quota.delta {
                    let _ = write!(text, " ({delta})");
                }
                text
            })
            .collect();
        lines.push(line(
            Weight::Plain,
            format!("quota of `{}`: {}", group[0].namespace, keys.join(", ")),
        ));
    }
    for alert in &meaning.alerts {
        let receiver = |receiver: &Option<String>| match receiver {
            Some(receiver) => format!("`{receiver}`"),
            None => "no receiver".to_string(),
        };
        let text = match alert.change {
            "added" => format!(
                "adds alert `{}` in `{}`, sent to {}",
                alert.alert,
                alert.namespace,
                receiver(&alert.new_receiver)
            ),
            "removed" => format!(
                "removes alert `{}` from `{}` (was sent to {})",
                alert.alert,
                alert.namespace,
                receiver(&alert.old_receiver)
            ),
            _ if alert.fields.contains(&"receiver") => format!(
                "alert `{}` in `{}` now goes to {} instead of {}{}",
                alert.alert,
                alert.namespace,
                receiver(&alert.new_receiver),
                receiver(&alert.old_receiver),
                others(&alert.fields)
            ),
            _ => format!(
                "alert `{}` in `{}` changes its {}",
                alert.alert,
                alert.namespace,
                and_list(
                    &alert
                        .fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                )
            ),
        };
        // An alert that no longer reaches anyone is worth a look.
        let weight = match (&alert.old_receiver, &alert.new_receiver, alert.change) {
            (Some(_), None, "changed") => Weight::Review,
            _ => Weight::Plain,
        };
        lines.push(line(weight, text));
    }
    if !meaning.price.is_empty() {
        lines.push(line(
            Weight::Plain,
            format!("prices change: {}", meaning.price.join(", ")),
        ));
    }
    // Each env that stays, whose cost moved: by its quota, or by prices.
    let added_or_removed = |name: &str| {
        meaning
            .namespaces_added
            .iter()
            .any(|added| added.name == name)
            || meaning
                .namespaces_removed
                .iter()
                .any(|removed| removed == name)
    };
    for cost in meaning
        .env_costs
        .iter()
        .filter(|cost| !added_or_removed(&cost.name))
    {
        let budget = cost
            .budget
            .as_ref()
            .map_or(String::new(), |budget| format!(", of a budget of {budget}"));
        lines.push(line(
            Weight::Plain,
            format!(
                "cost of `{}`: {} → {} ({}/month){budget}",
                cost.name, cost.old, cost.new, cost.delta
            ),
        ));
    }
    if let Some(cost) = &meaning.cost {
        lines.push(line(
            Weight::Plain,
            format!("cost {}/month ({} → {})", cost.delta, cost.old, cost.new),
        ));
    }
    lines.sort_by_key(|line| line.weight);
    lines
}

/// `, and its `expr``: the other fields of a rerouted alert that changed.
fn others(fields: &[&str]) -> String {
    let rest: Vec<String> = fields
        .iter()
        .filter(|field| **field != "receiver")
        .map(|field| format!("`{field}`"))
        .collect();
    match rest.is_empty() {
        true => String::new(),
        false => format!(", and its {} change", and_list(&rest)),
    }
}

/// What a change means for the fleet.
pub fn fleet_lines(fleet: &FleetMeaning) -> Vec<Line> {
    let mut lines = Vec::new();
    for cluster in &fleet.clusters_removed {
        lines.push(line(
            Weight::Destructive,
            format!("removes cluster `{cluster}`: its namespaces stay, unmanaged"),
        ));
    }
    for cluster in &fleet.clusters_added {
        lines.push(line(Weight::Plain, format!("adds cluster `{cluster}`")));
    }
    let each = |lines: &mut Vec<Line>, weight: Weight, what: &str, items: &[String]| {
        for item in items {
            lines.push(line(weight, format!("{what} {item}")));
        }
    };
    each(
        &mut lines,
        Weight::Plain,
        "adds route",
        &quoted(&fleet.routes_added),
    );
    each(
        &mut lines,
        Weight::Review,
        "removes route",
        &quoted(&fleet.routes_removed),
    );
    if let Some((old, new)) = &fleet.default_receiver {
        let shown = |receiver: &Option<String>| match receiver {
            Some(receiver) => format!("`{receiver}`"),
            None => "none".to_string(),
        };
        lines.push(line(
            Weight::Review,
            format!(
                "the default receiver changes: {} → {}",
                shown(old),
                shown(new)
            ),
        ));
    }
    each(
        &mut lines,
        Weight::Plain,
        "adds receiver",
        &quoted(&fleet.receivers_added),
    );
    each(
        &mut lines,
        Weight::Plain,
        "removes receiver",
        &quoted(&fleet.receivers_removed),
    );
    each(
        &mut lines,
        Weight::Plain,
        "adds policy",
        &quoted(&fleet.policies_added),
    );
    each(
        &mut lines,
        Weight::Review,
        "removes policy",
        &quoted(&fleet.policies_removed),
    );
    each(&mut lines, Weight::Plain, "policy", &fleet.policies_changed);
    each(
        &mut lines,
        Weight::Review,
        "adds waiver",
        &fleet.waivers_added,
    );
    each(
        &mut lines,
        Weight::Plain,
        "removes waiver",
        &fleet.waivers_removed,
    );
    if let Some(cost) = &fleet.cost {
        lines.push(line(
            Weight::Plain,
            format!(
                "fleet cost {}/month ({} → {})",
                cost.delta, cost.old, cost.new
            ),
        ));
    }
    lines.sort_by_key(|line| line.weight);
    lines
}

/// `+3 −1 ~2`: objects added, removed and changed.
fn counts(cluster: &ClusterDiff) -> String {
    let objects = &cluster.objects;
    format!(
        "+{} −{} ~{}",
        objects.added.len(),
        objects.removed.len(),
        objects.changed.len()
    )
}

/// The one-line summary of a whole diff.
fn headline(diff: &Diff) -> String {
    let mut parts = Vec::new();
    let clusters = diff
        .clusters
        .iter()
        .filter(|cluster| cluster.name != super::objects::FLEET)
        .count();
    parts.push(match clusters {
        1 => "1 cluster changed".to_string(),
        n => format!("{n} clusters changed"),
    });
    let sum = |of: fn(&ClusterMeaning) -> usize| -> usize {
        diff.clusters
            .iter()
            .map(|cluster| of(&cluster.meaning))
            .sum()
    };
    let removed = sum(|m| m.namespaces_removed.len());
    if removed > 0 {
        parts.push(format!("⛔ {removed} namespace{} removed", plural(removed)));
    }
    let opened = sum(|m| m.paths_opened.len());
    if opened > 0 {
        parts.push(format!("⚠️ {opened} path{} opened", plural(opened)));
    }
    let near: Vec<String> = diff
        .clusters
        .iter()
        .flat_map(|cluster| {
            cluster.meaning.capacity.iter().filter_map(|capacity| {
                let percent = capacity.utilisation.filter(|p| *p >= NEAR_CAPACITY)?;
                Some(format!(
                    "{} {} at {percent}%",
                    cluster.name, capacity.dimension
                ))
            })
        })
        .collect();
    if !near.is_empty() {
        parts.push(format!("⚠️ near capacity: {}", and_list(&near)));
    }
    let granted = sum(|m| m.grants_added.len());
    if granted > 0 {
        parts.push(format!("{granted} grant{} added", plural(granted)));
    }
    let revoked = sum(|m| m.grants_removed.len());
    if revoked > 0 {
        parts.push(format!("{revoked} grant{} revoked", plural(revoked)));
    }
    if let Some(cost) = &diff.fleet.cost {
        parts.push(format!("cost {}/month", cost.delta));
    }
    parts.join(" · ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// For a terminal: ANSI colours when `colour`.
pub fn terminal(diff: &Diff, colour: bool) -> String {
    let paint = |code: &str, text: &str| match colour {
        true => format!("\x1b[{code}m{text}\x1b[0m"),
        false => text.to_string(),
    };
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("no changes\n");
        return out;
    }
    let weighted = |line: &Line| match line.weight {
        Weight::Destructive => paint("1;31", &format!("{}{}", line.weight.marker(), line.text)),
        Weight::Review => paint("33", &format!("{}{}", line.weight.marker(), line.text)),
        Weight::Plain => line.text.clone(),
    };
    let fleet = fleet_lines(&diff.fleet);
    if !fleet.is_empty() {
        let _ = writeln!(out, "{}", paint("1", "fleet"));
        for line in &fleet {
            let _ = writeln!(out, "  {}", weighted(line));
        }
        out.push('\n');
    }
    for cluster in &diff.clusters {
        let _ = writeln!(
            out,
            "{} ({} objects)",
            paint("1", &cluster.name),
            counts(cluster)
        );
        for line in meaning_lines(&cluster.meaning) {
            let _ = writeln!(out, "  {}", weighted(&line));
        }
        let objects = &cluster.objects;
        for id in &objects.added {
            let _ = writeln!(out, "  {}", paint("32", &format!("+ {id}")));
        }
        for id in &objects.removed {
            let _ = writeln!(out, "  {}", paint("31", &format!("- {id}")));
        }
        for changed in &objects.changed {
            let _ = writeln!(out, "  {}", paint("36", &format!("~ {}", changed.object)));
            for text in changed.diff.lines() {
                let painted = match text.as_bytes().first() {
                    _ if text.starts_with("+++") || text.starts_with("---") => paint("1", text),
                    Some(b'+') => paint("32", text),
                    Some(b'-') => paint("31", text),
                    Some(b'@') => paint("36", text),
                    _ => text.to_string(),
                };
                let _ = writeln!(out, "      {painted}");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", headline(diff));
    out
}

/// How much of each cluster a Markdown section shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Meaning, objects and each changed object's diff.
    Full,
    /// Meaning and objects, no diffs.
    NoDiffs,
}

/// The comment's first lines: a marker a CI job can find its earlier
/// comment by, and the title.
const MARKER: &str = "<!-- envk diff -->";

/// Markdown for a pull-request comment, in parts of at most `limit`
/// characters each (`COMMENT_LIMIT` for GitHub): everything if it fits;
/// else without the objects' diffs; else cut between clusters into
/// numbered parts, a cluster too large for a part losing the tail of its
/// lists.
pub fn markdown(diff: &Diff, limit: usize) -> Vec<String> {
    let full = markdown_whole(diff, Detail::Full);
    if full.chars().count() <= limit {
        return vec![full];
    }
    let brief = markdown_whole(diff, Detail::NoDiffs);
    if brief.chars().count() <= limit {
        return vec![brief];
    }
    // Room for the part's own title, counted generously.
    let budget = limit.saturating_sub(200);
    let mut sections = vec![summary_section(diff, Detail::NoDiffs)];
    sections.extend(
        diff.clusters
            .iter()
            .map(|cluster| cluster_section(cluster, Detail::NoDiffs, budget)),
    );
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for section in sections {
        if !current.is_empty() && current.chars().count() + section.chars().count() > budget {
            parts.push(std::mem::take(&mut current));
        }
        current.push_str(&section);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            format!(
                "{MARKER}\n<!-- part {} of {count} -->\n## envk diff (part {} of {count})\n\n{body}",
                index + 1,
                index + 1
            )
        })
        .collect()
}

fn markdown_whole(diff: &Diff, detail: Detail) -> String {
    let mut out = format!("{MARKER}\n## envk diff\n\n");
    out.push_str(&summary_section(diff, detail));
    for cluster in &diff.clusters {
        out.push_str(&cluster_section(cluster, detail, usize::MAX));
    }
    out
}

/// The headline, the table of clusters and the fleet's meaning.
fn summary_section(diff: &Diff, detail: Detail) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    let _ = writeln!(out, "**{}**\n", headline(diff));
    out.push_str("| cluster | objects | paths | grants | requests | cost a month |\n");
    out.push_str("|---|---|---|---|---|---:|\n");
    for cluster in &diff.clusters {
        let meaning = &cluster.meaning;
        let paths = match (meaning.paths_opened.len(), meaning.paths_closed.len()) {
            (0, 0) if meaning.paths_changed.is_empty() => String::new(),
            (opened, closed) => {
                let flag = if opened > 0 { "⚠️ " } else { "" };
                format!("{flag}+{opened} −{closed}")
            }
        };
        let grants = match (meaning.grants_added.len(), meaning.grants_removed.len()) {
            (0, 0) => String::new(),
            (added, removed) => format!("+{added} −{removed}"),
        };
        let requests = meaning
            .capacity
            .iter()
            .map(|capacity| {
                let delta = capacity.delta.clone().unwrap_or_default();
                match capacity.utilisation {
                    Some(percent) => format!("{} {delta} ({percent}%)", capacity.dimension),
                    None => format!("{} {delta}", capacity.dimension),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let cost = meaning
            .cost
            .as_ref()
            .map_or(String::new(), |cost| cost.delta.clone());
        let removed = if meaning.namespaces_removed.is_empty() {
            ""
        } else {
            " ⛔"
        };
        let _ = writeln!(
            out,
            "| `{}`{removed} | {} | {paths} | {grants} | {requests} | {cost} |",
            cluster.name,
            counts(cluster)
        );
    }
    out.push('\n');
    let fleet = fleet_lines(&diff.fleet);
    if !fleet.is_empty() {
        out.push_str("**Fleet**\n\n");
        for line in &fleet {
            let _ = writeln!(out, "- {}{}", line.weight.marker(), line.text);
        }
        out.push('\n');
    }
    if detail == Detail::NoDiffs {
        out.push_str(
            "_The objects' own diffs are left out to fit a comment: run `envk diff` to see them._\n\n",
        );
    }
    out
}

/// A cluster's `<details>`: its meaning, its objects, and (in full
/// detail) each changed object's diff; its lists cut to fit `budget`.
fn cluster_section(cluster: &ClusterDiff, detail: Detail, budget: usize) -> String {
    let mut out = String::new();
    let lines = meaning_lines(&cluster.meaning);
    let flagged = lines
        .first()
        .map_or("", |line| line.weight.marker().trim_end());
    // Open when there is something to review.
    let open = if flagged.is_empty() { "" } else { " open" };
    let _ = writeln!(
        out,
        "<details{open}><summary>{flagged}{}<b>{}</b>: {} objects</summary>\n",
        if flagged.is_empty() { "" } else { " " },
        cluster.name,
        counts(cluster),
    );
    let mut body = String::new();
    if !lines.is_empty() {
        body.push_str("**What it means**\n\n");
        for line in &lines {
            let _ = writeln!(body, "- {}{}", line.weight.marker(), line.text);
        }
        body.push('\n');
    }
    let objects = &cluster.objects;
    let rows: Vec<(&str, &super::ObjectId)> = objects
        .added
        .iter()
        .map(|id| ("added", id))
        .chain(objects.removed.iter().map(|id| ("removed", id)))
        .chain(
            objects
                .changed
                .iter()
                .map(|changed| ("changed", &changed.object)),
        )
        .collect();
    if !rows.is_empty() {
        body.push_str("**Objects**\n\n| change | kind | namespace | name |\n|---|---|---|---|\n");
        for (change, id) in rows {
            let _ = writeln!(
                body,
                "| {change} | {} | {} | {} |",
                id.kind,
                id.namespace.as_deref().unwrap_or(""),
                id.name
            );
        }
        body.push('\n');
    }
    if detail == Detail::Full {
        for changed in &objects.changed {
            let fence = if changed.diff.contains("```") {
                "````"
            } else {
                "```"
            };
            let _ = writeln!(
                body,
                "<details><summary>{}</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n",
                changed.object, changed.diff
            );
        }
    }
    let closing = "</details>\n\n";
    let room = budget.saturating_sub(out.chars().count() + closing.len() + 120);
    if body.chars().count() > room {
        let kept: String = body
            .lines()
            .scan(0usize, |used, text| {
                *used += text.chars().count() + 1;
                (*used <= room).then_some(text)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let left = body.lines().count() - kept.lines().count();
        body = format!(
            "{kept}\n\n_… and {left} more lines, left out to fit a comment: run `envk diff` to see them._\n\n"
        );
    }
    out.push_str(&body);
    out.push_str(closing);
    out
}

/// The JSON of a diff: the diff itself and whether anything changed.
pub fn json(diff: &Diff) -> String {
    #[derive(serde::Serialize)]
    struct Output<'a> {
        changed: bool,
        #[serde(flatten)]
        diff: &'a Diff,
    }
    let mut text = serde_json::to_string_pretty(&Output {
        changed: !diff.is_empty(),
        diff,
    })
    .expect("a diff serializes");
    text.push('\n');
    text
}
