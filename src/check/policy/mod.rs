//! `policy` items: a company's own rules, checked over the whole checked
//! program, and `waive` lines that excuse one object from one.
//!
//! Entry point: [`check`], last of the checker's run. Every policy is
//! typed (`typing`, against `shape`) whatever else the program has; the
//! policies are evaluated (`eval`, `report`) only over a program that
//! checked clean, since only then is what they read the program's meaning.
//! A violation (E0901) is reported at the object that breaks the policy,
//! with the policy as a secondary label and the values that decided it; a
//! waiver matching none is E0905, one for a kind of object the policy
//! cannot report on E0906. The outcomes (coverage, waivers) go into the
//! Model for the build's READMEs.

mod eval;
mod report;
pub mod shape;
mod typing;

use super::units::Diags;
use super::{Checker, Expanded, name_referent};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{self, PolicyOutcome, Waiver};
use std::sync::Arc;

use crate::resolve::refs::{DeclId, DeclKind, IdMap};
use crate::resolve::{Decl, Named, Table};
use crate::source::Span;
use crate::syntax::ast::{self, WaiveKind};
use eval::{Eval, GrantAt, Obj, World};
use report::Found;
use shape::Kind;

/// A policy as typed.
struct Typed<'a> {
    id: DeclId,
    name: &'a str,
    name_span: Span,
    description: Option<String>,
    severity: Severity,
    rule: typing::Cond,
    slots: usize,
    source: model::Source,
}

/// A waiver whose policy and target exist.
struct Bound<'a> {
    node: &'a ast::Waive,
    policy: DeclId,
    policy_name: String,
    target: String,
    waived: usize,
    /// E0906 was reported: no E0905 on top.
    reported: bool,
}

pub(super) fn check(checker: &mut Checker, diagnostics: &mut Diags) {
    let resolved = checker.resolved;
    if resolved.policies.iter().next().is_none() && resolved.waivers.is_empty() {
        return;
    }
    // Only a program that checked clean means what a policy reads.
    let clean = !diagnostics.iter().any(Diagnostic::is_error);
    let sources = checker.sources;
    let text = |span: Span| sources.snippet(span).to_string();
    let mut typed = Vec::new();
    for decl in resolved.policies.iter() {
        let read = checker.read_declaration(
            super::schema::POLICY,
            "policy",
            decl,
            &decl.node.settings,
            diagnostics,
        );
        let severity = match read.get("severity") {
            Some(super::schema::Typed::Word(word)) if word == "warning" => Severity::Warning,
            _ => Severity::Error,
        };
        let mut typer = typing::Typer::new(&text);
        let rule = typer.cond(&decl.node.rule);
        let slots = typer.slots;
        diagnostics.append(&mut typer.diagnostics);
        let Some(rule) = rule else {
            continue;
        };
        typed.push(Typed {
            id: decl.id,
            name: &decl.name,
            name_span: decl.name_span,
            description: decl.node.description.as_ref().map(|description| {
                description
                    .as_plain()
                    .unwrap_or_else(|| text(description.span))
            }),
            severity,
            rule,
            slots,
            source: checker.source(decl.name_span),
        });
    }
    let mut waivers = bind_waivers(checker, diagnostics);
    for waiver in &mut waivers {
        let Some(policy) = typed.iter().find(|policy| policy.id == waiver.policy) else {
            continue;
        };
        let mut kinds = Vec::new();
        report::reported_kinds(&policy.rule, &mut kinds);
        let waivable: Vec<WaiveKind> = kinds.iter().flat_map(|&kind| waive_kinds(kind)).collect();
        if !waivable.contains(&waiver.node.kind) {
            let names: Vec<&str> = WaiveKind::ALL
                .into_iter()
                .filter(|kind| waivable.contains(kind))
                .map(WaiveKind::as_str)
                .collect();
            let help = if names.is_empty() {
                "it reports on the program as a whole, which cannot be waived: change the policy instead".to_string()
            } else {
                format!("waive it for {}", typing::quoted_list(&names))
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::E0906,
                    waiver.node.kind_span,
                    format!(
                        "policy `{}` never reports on a {}",
                        waiver.policy_name,
                        waiver.node.kind.as_str()
                    ),
                )
                .label("nothing of this kind to waive")
                .secondary(policy.name_span, "the policy")
                .help(help),
            );
            waiver.reported = true;
        }
    }
    let mut outcomes = Vec::new();
    if clean {
        let world = World {
            envs: &checker.envs,
            model: &checker.model,
            roles: role_models(&resolved.roles, &checker.role_facts),
            cluster_roles: role_models(&resolved.cluster_roles, &checker.cluster_role_facts),
            several_clusters: resolved.envs.on_several_clusters().collect(),
        };
        for policy in &typed {
            let mut eval = Eval::new(&world, policy.slots);
            let mut found = Vec::new();
            let coverage = eval.report(&policy.rule, &mut found);
            let mut waived = 0;
            for violation in found {
                let keys = waive_keys(&eval, violation.object);
                let waiver = waivers.iter_mut().find(|waiver| {
                    waiver.policy == policy.id
                        && keys
                            .iter()
                            .any(|(kind, name)| *kind == waiver.node.kind && *name == waiver.target)
                });
                if let Some(waiver) = waiver {
                    waiver.waived += 1;
                    waived += 1;
                    continue;
                }
                diagnostics.push(violation_diagnostic(
                    checker, &eval, policy, &violation, &keys,
                ));
            }
            outcomes.push(PolicyOutcome {
                name: policy.name.to_string(),
                description: policy.description.clone(),
                severity: match policy.severity {
                    Severity::Warning => "warning",
                    _ => "error",
                },
                covers: coverage.covers,
                passes: coverage.passes,
                waived,
                source: policy.source.clone(),
            });
        }
        for waiver in &waivers {
            let evaluated = typed.iter().any(|policy| policy.id == waiver.policy);
            if waiver.waived == 0 && evaluated && !waiver.reported {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0905,
                        waiver.node.target.span(),
                        format!(
                            "{} `{}` breaks no rule of policy `{}`",
                            waiver.node.kind.as_str(),
                            waiver.target,
                            waiver.policy_name
                        ),
                    )
                    .label("nothing to waive")
                    .help("remove the waiver: what it excused is fixed"),
                );
            }
        }
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    checker.model.policies = outcomes;
    checker.model.waivers = waivers
        .iter()
        .map(|waiver| Waiver {
            policy: waiver.policy_name.clone(),
            kind: waiver.node.kind.as_str(),
            target: waiver.target.clone(),
            reason: waiver
                .node
                .reason
                .as_plain()
                .unwrap_or_else(|| text(waiver.node.reason.span)),
            waived: waiver.waived,
            source: checker.source(waiver.node.target.span()),
        })
        .collect();
}

/// The Model of each role (or cluster role) of `decls` that checked.
fn role_models<'m>(
    decls: &Table<Decl<'_, ast::Role>>,
    facts: &'m IdMap<(Arc<model::Role>, Arc<super::access::RoleFacts>)>,
) -> Vec<&'m model::Role> {
    decls
        .iter()
        .filter_map(|decl| facts.get(decl.id))
        .map(|(role, _)| role.as_ref())
        .collect()
}

/// Each waiver's policy and target, found by name (E0201 when not).
fn bind_waivers<'a>(checker: &Checker<'_, 'a>, diagnostics: &mut Diags) -> Vec<Bound<'a>> {
    let resolved = checker.resolved;
    let mut lookup = Lookup {
        refs: &resolved.refs,
        scope: checker.scope(&Default::default()),
        expanded: Expanded::new(),
        diagnostics,
    };
    let mut bound = Vec::new();
    for &waive in &resolved.waivers {
        let policy = lookup.find(&resolved.policies, &waive.policy);
        let target = match waive.kind {
            WaiveKind::Env => lookup.find(&resolved.envs, &waive.target),
            WaiveKind::Cluster => lookup.find(&resolved.clusters, &waive.target),
            WaiveKind::Tier => lookup.find(&resolved.tiers, &waive.target),
            WaiveKind::Role => lookup.find(&resolved.roles, &waive.target),
            WaiveKind::ClusterRole => lookup.find(&resolved.cluster_roles, &waive.target),
            WaiveKind::External => lookup.find(&resolved.externals, &waive.target),
            WaiveKind::Receiver => lookup.find(&resolved.receivers, &waive.target),
        };
        if let (Some((policy, policy_name)), Some((_, target))) = (policy, target) {
            bound.push(Bound {
                node: waive,
                policy,
                policy_name,
                target,
                waived: 0,
                reported: false,
            });
        }
    }
    bound
}

/// Finding what a waiver names, in any table.
struct Lookup<'l, 's, 'a> {
    refs: &'l crate::resolve::refs::References,
    scope: crate::resolve::value::Scope<'s, 'a>,
    expanded: Expanded,
    diagnostics: &'l mut Diags,
}

impl Lookup<'_, '_, '_> {
    /// The declaration `name` refers to in `table`, and its name (E0201
    /// when there is none).
    fn find<T: Named>(
        &mut self,
        table: &crate::resolve::Table<T>,
        name: &ast::Name,
    ) -> Option<(DeclId, String)> {
        let decl = name_referent(
            table,
            self.refs,
            name,
            &self.scope,
            Code::E0201,
            &mut self.expanded,
            self.diagnostics,
        )?;
        Some((decl.id(), decl.name().to_string()))
    }
}

/// The kinds of waiver that can name an object of `kind`: itself, or what
/// it belongs to.
fn waive_kinds(kind: Kind) -> Vec<WaiveKind> {
    match kind {
        Kind::Env | Kind::Rule | Kind::Alert | Kind::App => vec![WaiveKind::Env],
        Kind::Grant => vec![
            WaiveKind::Env,
            WaiveKind::Role,
            WaiveKind::Cluster,
            WaiveKind::ClusterRole,
        ],
        Kind::Cluster => vec![WaiveKind::Cluster],
        Kind::Tier => vec![WaiveKind::Tier],
        Kind::Role => vec![WaiveKind::Role],
        Kind::ClusterRole => vec![WaiveKind::ClusterRole],
        Kind::Receiver => vec![WaiveKind::Receiver],
        Kind::External => vec![WaiveKind::External],
        Kind::Capacity | Kind::Quota(_) | Kind::Limits | Kind::LimitValues => Vec::new(),
    }
}

/// The waivers that would excuse a violation at `object`, the most
/// specific first.
fn waive_keys(eval: &Eval, object: Option<Obj>) -> Vec<(WaiveKind, String)> {
    let env_name = |env: u32| eval.env(env).name.clone();
    match object {
        None => Vec::new(),
        Some(Obj::Env(env) | Obj::Rule { env, .. } | Obj::Alert { env, .. } | Obj::App(env)) => {
            vec![(WaiveKind::Env, env_name(env))]
        }
        Some(Obj::Grant(at)) => {
            let parts = eval.grant(at);
            match at {
                GrantAt::Env { env, .. } => vec![
                    (WaiveKind::Env, env_name(env)),
                    (WaiveKind::Role, parts.role_name.to_string()),
                ],
                GrantAt::Cluster { .. } => vec![
                    (WaiveKind::Cluster, parts.cluster.name.clone()),
                    (WaiveKind::ClusterRole, parts.role_name.to_string()),
                ],
            }
        }
        Some(Obj::Cluster(cluster)) => vec![(WaiveKind::Cluster, cluster.name.clone())],
        Some(Obj::Tier(tier)) => vec![(WaiveKind::Tier, tier.name.clone())],
        Some(Obj::Role(role, false)) => vec![(WaiveKind::Role, role.name.clone())],
        Some(Obj::Role(role, true)) => vec![(WaiveKind::ClusterRole, role.name.clone())],
        Some(Obj::Receiver(receiver)) => vec![(WaiveKind::Receiver, receiver.name.clone())],
        Some(Obj::External(external)) => vec![(WaiveKind::External, external.name.clone())],
        Some(Obj::Capacity(_) | Obj::Quota(_) | Obj::Limits(_) | Obj::LimitValues(_)) => Vec::new(),
    }
}

/// Where an object was written.
fn span_of(checker: &Checker, object: Obj) -> Option<Span> {
    let resolved = checker.resolved;
    let envs = &checker.envs;
    Some(match object {
        Obj::Env(env) | Obj::Alert { env, .. } | Obj::App(env) => envs[env as usize].name_span,
        Obj::Rule { env, egress, index } => {
            let facts = &envs[env as usize];
            let rules = if egress {
                &facts.egress
            } else {
                &facts.ingress
            };
            rules.get(index as usize)?.span
        }
        Obj::Grant(GrantAt::Env {
            env,
            binding,
            subject,
        }) => *envs[env as usize]
            .grant_spans
            .get(binding as usize)?
            .get(subject as usize)?,
        Obj::Grant(GrantAt::Cluster { binding, .. }) => {
            *checker.cluster_binding_spans.get(binding as usize)?
        }
        Obj::Cluster(cluster) => resolved.clusters.get(&cluster.name)?.name_span,
        Obj::Tier(tier) => resolved.tiers.get(&tier.name)?.name_span,
        Obj::Role(role, false) => resolved.roles.get(&role.name)?.name_span,
        Obj::Role(role, true) => resolved.cluster_roles.get(&role.name)?.name_span,
        Obj::Receiver(receiver) => resolved.receivers.get(&receiver.name)?.name_span,
        Obj::External(external) => resolved.externals.get(&external.name)?.name_span,
        Obj::Capacity(_) | Obj::Quota(_) | Obj::Limits(_) | Obj::LimitValues(_) => return None,
    })
}

fn violation_diagnostic(
    checker: &Checker,
    eval: &Eval,
    policy: &Typed,
    violation: &Found,
    keys: &[(WaiveKind, String)],
) -> Diagnostic {
    let object_span = violation.object.and_then(|object| span_of(checker, object));
    // A quota key's value decided it: point at the line that sets it.
    let key_span = match (violation.object, violation.quota_key) {
        (Some(Obj::Env(env)), Some(key)) => checker.envs[env as usize]
            .quota
            .as_ref()
            .and_then(|quota| quota.key_spans.get(&key).copied()),
        _ => None,
    };
    let span = key_span.or(object_span).unwrap_or(policy.name_span);
    let message = match &policy.description {
        Some(description) => description.clone(),
        None => format!("policy `{}` does not hold", policy.name),
    };
    // At an env's name the env goes without saying.
    let label = match violation.object {
        Some(Obj::Env(_)) | None => violation.why.clone(),
        Some(object) => format!("{}: {}", eval.describe(object), violation.why),
    };
    let mut diagnostic = Diagnostic::new(Code::E0901, span, message).label(label);
    if let (Some(_), Some(object_span)) = (key_span, object_span) {
        diagnostic = diagnostic.secondary(object_span, "the env whose quota it is");
    }
    diagnostic = diagnostic.secondary(policy.name_span, format!("policy `{}`", policy.name));
    diagnostic.severity = policy.severity;
    if let Some(other) = violation.other
        && let Some(other_span) = span_of(checker, other)
    {
        diagnostic =
            diagnostic.secondary(other_span, format!("{} is the first", eval.describe(other)));
    }
    diagnostic = match keys.first() {
        Some((kind, name)) => diagnostic.help(format!(
            "change the program to meet the policy, or waive it with a reason: `waive {} for {} {name} because \"…\"`",
            policy.name,
            kind.as_str()
        )),
        None => diagnostic.help("change the program to meet the policy, or change the policy"),
    };
    // Where it was found, which `diag::group` tells expansions apart by:
    // one env's violations of two policies at one line are two reports,
    // one policy's at a line a loop's envs share one. That is what the
    // most specific waiver would name, or the policy for the program.
    match keys.first() {
        Some((kind, name)) => diagnostic.reached_in(DeclKind::waived(*kind).noun(), name),
        None => diagnostic.reached_in("policy", policy.name),
    }
    diagnostic
}
