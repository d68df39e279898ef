//! Hover: what a name is and what it resolves to, what a field holds.
//!
//! A name shows its kind and where it is declared, and what the checker
//! made of it when the program checks clean (the Model): a tier's Pod
//! Security and its ceilings with inheritance applied, an env's namespace,
//! cluster and effective quota, a role's rules, a cluster's capacity. A
//! field shows its type and doc from the field table (`check::schema`).

use std::fmt::Write as _;
use std::path::Path;

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use crate::check::schema::{self, Field, Type};
use crate::model::{Dimension, Model, QuotaKey, ResourceList};
use crate::resolve::refs::{DeclId, DeclKind};
use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Block, FieldValue, Item, ItemKind, Key, StmtKind};

use super::analysis::Analysis;
use super::convert;

/// What to show for the position, if anything is there.
pub fn hover(analysis: &Analysis, path: &Path, position: Position) -> Option<Hover> {
    let file = analysis.file(path)?;
    let offset = analysis.offset(file, position);
    let decls = analysis.decls_at(offset);
    let (text, span) = if let Some(&first) = decls.first() {
        (
            describe_decl(analysis, first, &decls),
            name_span(analysis, offset, first),
        )
    } else if let Some(field) = super::fields::at(analysis, file, offset) {
        let values: Vec<String> = field
            .declared
            .iter()
            .map(|(_, value)| format!("`{value}`"))
            .collect();
        let text = format!(
            "**record field** `{}` of each record of `{}`: {}",
            field.field,
            field.list,
            values.join(", ")
        );
        (text, field.at)
    } else if let Some(family) = analysis.family_at(file, offset) {
        (describe_family(analysis, &family), family.span)
    } else if let Some(quantity) = quantity(analysis, file, offset) {
        quantity
    } else {
        let ast = analysis.ast(file)?;
        let (field, span) = field_at(&ast.items, offset)?;
        (describe_field(field), span)
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(convert::range(&analysis.run.sources, span)),
    })
}

/// The span of the name at `offset` that refers to (or declares) `id`.
fn name_span(analysis: &Analysis, offset: u32, id: DeclId) -> Span {
    let references = &analysis.run.references;
    let contains = |span: Span| span.start <= offset && offset <= span.end;
    references
        .uses_of(id)
        .into_iter()
        .find(|&span| contains(span))
        .unwrap_or(references.decl(id).span)
}

fn describe_decl(analysis: &Analysis, id: DeclId, all: &[DeclId]) -> String {
    let references = &analysis.run.references;
    let decl = references.decl(id);
    let sources = &analysis.run.sources;
    let file = sources.file_of(decl.span);
    let (line, _) = file.line_col(file.local(decl.span).start);
    let shown = convert::short_name(file);
    let declared = match convert::uri(file) {
        Some(uri) => format!("[{shown}:{line}]({uri}#L{line})"),
        None => format!("`{shown}:{line}`"),
    };
    let mut text = format!(
        "**{}** `{}`\n\ndeclared at {declared}",
        decl.kind.noun(),
        decl.name,
    );
    if all.len() > 1 {
        let names: Vec<String> = all
            .iter()
            .map(|&other| format!("`{}`", references.decl(other).name))
            .collect();
        let _ = write!(
            text,
            "; one of {} declarations made here: {}",
            all.len(),
            names.join(", ")
        );
    }
    let details = match &analysis.run.model {
        _ if decl.kind == DeclKind::Policy => policy(&analysis.run.policies, &decl.name),
        Some(model) => resolved(model, decl.kind, &decl.name),
        None => None,
    };
    match details {
        Some(details) => {
            text.push_str("\n\n");
            text.push_str(&details);
        }
        None => {
            if let Some(written) = declaration_text(analysis, decl.span) {
                let _ = write!(text, "\n\n```envk\n{written}\n```");
            }
            if decl.kind == DeclKind::Policy {
                text.push_str(
                    "\n\nWhat it covers is shown once the rest of the program checks clean.",
                );
            } else if analysis.run.model.is_none() && computed(decl.kind) {
                text.push_str(
                    "\n\nWhat the checker computes for it is shown once the program checks clean.",
                );
            }
        }
    }
    text
}

/// A family: its stages' envs, each as its own hover shows it.
fn describe_family(analysis: &Analysis, family: &super::analysis::Family) -> String {
    let mut text = format!("**env family** `{}`", family.name);
    let references = &analysis.run.references;
    let mut seen = Vec::new();
    for (id, stage) in &family.stages {
        let name = &references.decl(*id).name;
        if seen.contains(name) {
            continue;
        }
        seen.push(name.clone());
        let _ = write!(text, "\n\n---\n\nstage `{stage}`: ");
        match analysis
            .run
            .model
            .as_ref()
            .and_then(|model| resolved(model, DeclKind::Env, name))
        {
            Some(details) => text.push_str(&details),
            None => {
                let _ = write!(text, "env `{name}`");
            }
        }
    }
    text
}

/// How a policy fared: what it covers, and how much of that passes.
fn policy(outcomes: &[crate::model::PolicyOutcome], name: &str) -> Option<String> {
    let outcome = outcomes.iter().find(|outcome| outcome.name == name)?;
    let mut text = String::new();
    if let Some(description) = &outcome.description {
        let _ = writeln!(text, "{description}\n");
    }
    let _ = writeln!(text, "- severity: `{}`", outcome.severity);
    let _ = writeln!(
        text,
        "- covers {} objects; {} pass",
        outcome.covers, outcome.passes
    );
    if outcome.waived > 0 {
        let _ = writeln!(text, "- violations waived: {}", outcome.waived);
    }
    Some(text)
}

/// Whether hover shows more than the source for a kind, from the Model.
fn computed(kind: DeclKind) -> bool {
    matches!(
        kind,
        DeclKind::Cluster | DeclKind::Tier | DeclKind::Role | DeclKind::Env
    )
}

/// What the checker made of a declaration, in Markdown.
fn resolved(model: &Model, kind: DeclKind, name: &str) -> Option<String> {
    let mut text = String::new();
    match kind {
        DeclKind::Cluster => {
            let cluster = model.clusters.get(name)?;
            let _ = writeln!(text, "- environment: `{}`", cluster.environment.as_str());
            let _ = writeln!(text, "- server: `{}`", cluster.server);
            for (what, amount, dimension) in [
                ("cpu", cluster.capacity.cpu, crate::model::Dimension::Cpu),
                (
                    "memory",
                    cluster.capacity.memory,
                    crate::model::Dimension::Memory,
                ),
                (
                    "pods",
                    cluster.capacity.pods,
                    crate::model::Dimension::Count,
                ),
            ] {
                if let Some(amount) = amount {
                    let _ = writeln!(text, "- capacity {what}: `{}`", dimension.format(amount));
                }
            }
            let envs = model
                .envs
                .values()
                .filter(|env| env.cluster.name == cluster.name)
                .count();
            let _ = writeln!(text, "- envs placed here: {envs}");
        }
        DeclKind::Tier => {
            let tier = model.tiers.get(name)?;
            let _ = writeln!(text, "- pod security: `{}`", tier.pod_security.as_str());
            if let Some(environment) = tier.environment {
                let _ = writeln!(text, "- environment: `{}`", environment.as_str());
            }
            if !tier.accept_from.is_empty() {
                let accepted: Vec<&str> = tier.accept_from.iter().map(|e| e.as_str()).collect();
                let _ = writeln!(text, "- accepts traffic from: {}", accepted.join(", "));
            }
            if tier.isolated {
                let _ = writeln!(text, "- network: isolated");
            }
            if !tier.require_alerts.is_empty() {
                let _ = writeln!(
                    text,
                    "- requires alerts: {}",
                    tier.require_alerts.join(", ")
                );
            }
            let forbids: Vec<&str> = tier
                .forbid_verbs
                .iter()
                .chain(&tier.forbid_resources)
                .map(String::as_str)
                .collect();
            if !forbids.is_empty() {
                let _ = writeln!(text, "- forbids: {}", forbids.join(", "));
            }
            quota_table(&mut text, "ceiling (inheritance applied)", &tier.ceiling);
        }
        DeclKind::Role => {
            let role = model.roles.get(name)?;
            let _ = writeln!(text, "| api groups | resources | verbs |\n|---|---|---|");
            for rule in role.rules.iter() {
                let groups: Vec<String> = rule
                    .api_groups
                    .iter()
                    .map(|group| {
                        if group.is_empty() {
                            "core".to_string()
                        } else {
                            group.clone()
                        }
                    })
                    .collect();
                let _ = writeln!(
                    text,
                    "| {} | {} | {} |",
                    groups.join(", "),
                    rule.resources.join(", "),
                    rule.verbs.join(", ")
                );
            }
        }
        DeclKind::Env => {
            let envs: Vec<_> = model.envs.values().filter(|env| env.name == name).collect();
            if envs.is_empty() {
                return None;
            }
            for env in envs {
                let _ = writeln!(
                    text,
                    "namespace `{}` on cluster `{}` ({}), tier `{}`, pod security `{}`",
                    env.name,
                    env.cluster.name,
                    env.environment.as_str(),
                    env.tier.name,
                    env.pod_security.as_str()
                );
                match &env.quota {
                    Some(quota) => quota_table(&mut text, "effective quota", &quota.hard),
                    None => text.push_str("no quota\n"),
                }
                if !env.roles.is_empty() {
                    let roles: Vec<&str> =
                        env.roles.iter().map(|role| role.name.as_str()).collect();
                    let _ = writeln!(text, "\nroles: {}", roles.join(", "));
                }
            }
        }
        DeclKind::Let
        | DeclKind::AlertTemplate
        | DeclKind::ClusterRole
        | DeclKind::Resource
        | DeclKind::External
        | DeclKind::Receiver
        | DeclKind::Policy => return None,
    }
    Some(text)
}

fn quota_table(text: &mut String, title: &str, list: &ResourceList) {
    let entries: Vec<(QuotaKey, u64)> = list.iter().map(|(key, &value)| (key, value)).collect();
    if entries.is_empty() {
        let _ = writeln!(text, "\n{title}: none");
        return;
    }
    let _ = writeln!(text, "\n| {title} | |\n|---|---|");
    for (key, value) in entries {
        let _ = writeln!(
            text,
            "| `{}` | `{}` |",
            key.as_str(),
            key.dimension().format(value)
        );
    }
}

/// The text of the item that declares the name at `span`: its first
/// lines, enough to show a `let`'s value, a template's parameters or a
/// receiver's integrations.
fn declaration_text(analysis: &Analysis, span: Span) -> Option<String> {
    const LINES: usize = 16;
    let file = analysis.run.sources.file_of(span);
    let ast = analysis.ast(file)?;
    let item = item_declaring(&ast.items, span)?;
    let text = analysis.text(item.span);
    let mut lines: Vec<&str> = text.lines().take(LINES + 1).collect();
    if lines.len() > LINES {
        lines.truncate(LINES);
        lines.push("…");
    }
    Some(lines.join("\n"))
}

/// The innermost item whose span holds `span`, through `for` and `if`.
fn item_declaring(items: &[Item], span: Span) -> Option<&Item> {
    let item = items
        .iter()
        .find(|item| item.span.start <= span.start && span.end <= item.span.end)?;
    let inner = match &item.kind {
        ItemKind::For(each) => item_declaring(&each.items, span),
        ItemKind::If(chain) => chain
            .branches()
            .find_map(|items| item_declaring(items, span)),
        _ => None,
    };
    Some(inner.unwrap_or(item))
}

/// A number written at `offset`, in its canonical form for the field it
/// is assigned to: `0.5` of cpu is `500m`, `1.5Gi` is `1536Mi`.
fn quantity(analysis: &Analysis, file: &SourceFile, offset: u32) -> Option<(String, Span)> {
    let text = file.text();
    let local = (offset - file.base()) as usize;
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '%';
    let around = super::analysis::run_around(text, local, is_part, is_part);
    let (start, end) = (around.start, around.end);
    let written = &text[start..end];
    if !written.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let number = crate::syntax::literal::number(written).ok()?;
    let span = Span::new(file.base() + start as u32, file.base() + end as u32);
    let value = crate::resolve::value::Value::Number(number, span);
    let mut ignored = Vec::new();
    let shown = match super::complete::value_type(analysis, text, start)? {
        Type::Cpu => {
            let millis = crate::check::units::cpu(&value, &mut ignored)?;
            format!(
                "**cpu** `{written}` = `{}` ({millis} milli-cores)",
                Dimension::Cpu.format(millis)
            )
        }
        Type::Memory => {
            let bytes = crate::check::units::memory(&value, &mut ignored)?;
            format!(
                "**memory** `{written}` = `{}` ({bytes} bytes)",
                Dimension::Memory.format(bytes)
            )
        }
        Type::Count => {
            let count = crate::check::units::count(&value, &mut ignored)?;
            format!("**count** `{written}` = `{count}`")
        }
        Type::Duration => {
            let duration = crate::check::units::duration(&value, &mut ignored)?;
            format!(
                "**duration** `{written}` = `{duration}` ({} ms)",
                duration.0
            )
        }
        _ => return None,
    };
    Some((shown, span))
}

fn describe_field(field: &Field) -> String {
    let presence = match field.presence {
        schema::Presence::Required { example } => format!("required, such as `{example}`"),
        schema::Presence::RequiredUnlessInherited { example } => {
            format!("required unless inherited, such as `{example}`")
        }
        schema::Presence::Optional {
            default: Some(default),
        } => {
            format!("optional, by default {default}")
        }
        schema::Presence::Optional { default: None } => "optional".to_string(),
    };
    format!(
        "**field** `{}`: {}\n\n{}\n\n{presence}",
        field.name,
        field.ty.describe(),
        field.doc
    )
}

/// The field of the field table whose key is written at `offset`, and the
/// key's span.
pub fn field_at(items: &[Item], offset: u32) -> Option<(&'static Field, Span)> {
    let item = items
        .iter()
        .find(|item| item.span.start <= offset && offset <= item.span.end)?;
    let (table, block): (&'static [Field], &Block) = match &item.kind {
        ItemKind::For(each) => return field_at(&each.items, offset),
        ItemKind::If(chain) => {
            return chain.branches().find_map(|items| field_at(items, offset));
        }
        ItemKind::Cluster(cluster) => (schema::CLUSTER, &cluster.body),
        ItemKind::Tier(tier) => (schema::TIER, &tier.body),
        ItemKind::Env(env) => (schema::ENV, &env.body),
        ItemKind::External(external) => (schema::EXTERNAL, external.body.as_ref()?),
        ItemKind::Resource(resource) => (schema::RESOURCE, &resource.body),
        ItemKind::Receiver(receiver) => (schema::RECEIVER, &receiver.body),
        ItemKind::Policy(policy) => (schema::POLICY, &policy.settings),
        ItemKind::GitOps(block) => (schema::GITOPS, block),
        ItemKind::Federation(block) => (schema::FEDERATION, block),
        ItemKind::AlertTemplate(template) => (schema::ALERT_TEMPLATE, &template.body),
        _ => return None,
    };
    field_in(table, block, offset)
}

fn field_in(table: &'static [Field], block: &Block, offset: u32) -> Option<(&'static Field, Span)> {
    let stmt = block
        .stmts
        .iter()
        .find(|stmt| stmt.span.start <= offset && offset <= stmt.span.end)?;
    match &stmt.kind {
        StmtKind::Field(field) => {
            let name = match &field.key {
                Key::Path(path) => crate::syntax::ast::path_text(path),
                Key::Str(_) => return None,
            };
            let entry = table.iter().find(|entry| entry.name == name)?;
            let key = field.key.span();
            if key.start <= offset && offset <= key.end {
                return Some((entry, key));
            }
            let FieldValue::Block(inner) = &field.value else {
                return None;
            };
            let nested: &'static [Field] = match entry.ty {
                Type::Block(nested) => nested.fields,
                // The deploy block's table is read by placement, the
                // env's table types it as a value.
                _ if std::ptr::eq(table, schema::ENV) && entry.name == "deploy" => schema::DEPLOY,
                _ => return None,
            };
            field_in(nested, inner, offset)
        }
        StmtKind::Stage(stage) => field_in(table, &stage.body, offset),
        StmtKind::If(chain) => chain
            .branches()
            .find_map(|body| field_in(table, body, offset)),
        StmtKind::For(each) => field_in(table, &each.body, offset),
        _ => None,
    }
}
