//! Placement and GitOps (E08xx).
//!
//! Invariants established here: an env of a tier bound to an environment
//! lives on a cluster of that environment; every Argo CD project's envs
//! share one environment, so its destinations never cross environments;
//! every deploy repo is an https URL.

use super::fields::{self, Fields, Keys, field_value};
use super::schema::{self, Field, Type, Typed};
use super::units::{self, Diags};
use super::{Checker, ClusterFacts, EnvDraft, TierFacts};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Environment};
use crate::resolve::value::Value;
use crate::resolve::{EnvDecl, check_dns_label, dns_diagnostic};
use crate::source::Span;

/// An env's tier must allow its cluster's environment.
pub(crate) fn check_placement(
    decl: &EnvDecl,
    cluster_facts: &ClusterFacts,
    tier: &TierFacts,
    diagnostics: &mut Diags,
) {
    let cluster = &cluster_facts.model;
    let Some(required) = tier.model.environment else {
        return;
    };
    if required == cluster.environment {
        return;
    }
    diagnostics.push(
        Diagnostic::new(
            Code::E0801,
            decl.placement.cluster.span,
            format!(
                "tier `{}` is for {} clusters, but `{}` is a {} cluster",
                tier.model.name,
                required.as_str(),
                cluster.name,
                cluster.environment.as_str()
            ),
        )
        .label(format!("a {} cluster", cluster.environment.as_str()))
        .secondary(
            tier.environment_span.unwrap_or(tier.name_span),
            format!("tier `{}` requires {}", tier.model.name, required.as_str()),
        )
        .secondary(
            cluster_facts.environment_span,
            format!("`{}` is {}", cluster.name, cluster.environment.as_str()),
        )
        .help(format!(
            "place the env on a {} cluster, or use a tier made for {}",
            required.as_str(),
            cluster.environment.as_str()
        )),
    );
}

/// Merges the `deploy` blocks of an env's layers (later fields win) and
/// types the result. Returns where the project was named, for E0802.
pub(crate) fn env_deploy(
    checker: &Checker,
    decl: &EnvDecl,
    cluster: &model::Cluster,
    draft: &EnvDraft,
    env: &mut model::Env,
    diagnostics: &mut Diags,
) -> Option<Span> {
    if draft.deploy.is_empty() {
        return None;
    }
    // A handful of fields each, a later layer's replacing an earlier's,
    // kept in the order they were first written; typed once merged, so a
    // value a stage replaces is not judged.
    let mut merged: Vec<(&'static Field, Value)> = Vec::new();
    let mut sync: Vec<(&'static Field, Value)> = Vec::new();
    fn set<'v>(
        fields: &mut Vec<(&'static Field, Value<'v>)>,
        field: &'static Field,
        value: Value<'v>,
    ) {
        match fields
            .iter_mut()
            .find(|(known, _)| known.name == field.name)
        {
            Some(slot) => slot.1 = value,
            None => fields.push((field, value)),
        }
    }
    let sync_fields = &schema::SYNC;
    let mut has_sync = false;
    let mut failed: Vec<&str> = Vec::new();
    let mut deploy_span = None;
    for value in &draft.deploy {
        let Some((record, vars)) = fields::record(value.clone(), "a deploy block", diagnostics)
        else {
            continue;
        };
        deploy_span = Some(record.span);
        let scope = checker.scope(&vars);
        let context = format!("the deploy block of env `{}`", decl.name);
        let entries = Fields::read_only_fields(
            record.body,
            Keys::Table(schema::DEPLOY),
            &context,
            &scope,
            diagnostics,
        );
        for entry in &entries.entries {
            let field = schema::field(schema::DEPLOY, &entry.key);
            let Some(value) = field_value(entry, &scope, diagnostics) else {
                // Reported already; not "missing" as well.
                failed.push(field.name);
                continue;
            };
            if field.name != "sync" {
                set(&mut merged, field, value);
                continue;
            }
            has_sync = true;
            let Some((sync_record, sync_vars)) =
                fields::record(value, sync_fields.what, diagnostics)
            else {
                continue;
            };
            let sync_scope = checker.scope(&sync_vars);
            let sync_entries = Fields::read_only_fields(
                sync_record.body,
                Keys::Table(sync_fields.fields),
                sync_fields.what,
                &sync_scope,
                diagnostics,
            );
            for sync_entry in &sync_entries.entries {
                if let Some(value) = field_value(sync_entry, &sync_scope, diagnostics) {
                    set(
                        &mut sync,
                        schema::field(sync_fields.fields, &sync_entry.key),
                        value,
                    );
                }
            }
        }
    }
    let deploy_span = deploy_span?;
    let template_form = |value: &Value| checker.template_form(value);
    let scope = checker.scope(&decl.vars);
    let reading = schema::Reading {
        scope: &scope,
        context: "a deploy block",
        at: deploy_span,
        inherited: false,
        statements: schema::Statements::Reported,
        template_form: &template_form,
    };
    // Each field of the table, typed, or reported missing where required.
    let mut typed: Vec<(&str, Option<Typed>, Span)> = Vec::new();
    for field in schema::DEPLOY {
        if matches!(field.ty, Type::Block(_)) {
            continue;
        }
        match merged.iter().find(|(known, _)| known.name == field.name) {
            Some((_, value)) => {
                let span = value.span();
                let value = schema::type_value(field.ty, value.clone(), &reading, diagnostics);
                typed.push((field.name, value, span));
            }
            None if failed.contains(&field.name) => {}
            None => diagnostics.extend(schema::missing(field, deploy_span, "a deploy block")),
        }
    }
    let written = |name: &str| typed.iter().find(|(known, _, _)| *known == name);
    let text = |name: &str| match written(name) {
        Some((_, Some(Typed::Text(text)), span)) => Some((text.clone(), *span)),
        _ => None,
    };
    let repo = text("repo").map(|(repo, _)| repo);
    let path = text("path").and_then(|(path, span)| {
        let bad = path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part == "..");
        if bad {
            diagnostics.push(
                Diagnostic::new(Code::E0804, span, format!("invalid deploy path `{path}`"))
                    .label("must be a relative path inside the repository")
                    .help("write the folder from the repository's root, such as `\"environments/production\"`"),
            );
            return None;
        }
        Some(path)
    });
    let revision = match (written("revision"), text("revision")) {
        (None, _) => Some("HEAD".to_string()),
        (Some(_), Some((revision, span))) if revision.trim().is_empty() => {
            diagnostics.push(
                Diagnostic::new(Code::E0804, span, "an empty revision")
                    .label("no branch, tag or commit")
                    .help("write a branch, tag or commit, or leave `revision` out for `HEAD`"),
            );
            None
        }
        (Some(_), revision) => revision.map(|(revision, _)| revision),
    };
    let (project, project_span) = match written("project") {
        Some((_, Some(Typed::Value(value)), span)) => {
            let text = match value {
                Value::Word(word, _) => Some(word.clone()),
                other => units::string(other, diagnostics),
            };
            let text = text.and_then(|text| match check_dns_label(&text) {
                Ok(()) => Some(text),
                Err(why) => {
                    diagnostics.push(dns_diagnostic(&text, *span, &why));
                    None
                }
            });
            (text, *span)
        }
        Some((_, _, span)) => (None, *span),
        None => (Some(cluster.environment.as_str().to_string()), deploy_span),
    };
    let mut policy = model::SyncPolicy {
        prune: false,
        self_heal: false,
        create_namespace: false,
    };
    let mut ok = true;
    for (field, value) in &sync {
        match schema::type_value(field.ty, value.clone(), &reading, diagnostics) {
            Some(Typed::Bool(flag)) => match field.name {
                "prune" => policy.prune = flag,
                "self_heal" => policy.self_heal = flag,
                _ => policy.create_namespace = flag,
            },
            _ => ok = false,
        }
    }
    let (Some(repo), Some(path), Some(revision), Some(project)) = (repo, path, revision, project)
    else {
        return None;
    };
    if !ok {
        return None;
    }
    env.deploy = Some(model::Deploy {
        project,
        repo,
        revision,
        path,
        sync: has_sync.then_some(policy),
        source: checker.source(deploy_span),
    });
    Some(project_span)
}

/// An Argo CD project's envs must all be of one environment. A project
/// named after an environment belongs to it; otherwise to the environment
/// most of its envs share. The envs outside it are the ones reported.
pub(crate) fn check_projects(checker: &Checker, diagnostics: &mut Diags) {
    let mut by_project: std::collections::BTreeMap<&str, Vec<(&super::EnvFacts, Span)>> =
        Default::default();
    for env in &checker.envs {
        if let (Some(deploy), Some(span)) = (&env.model.deploy, env.project_span) {
            by_project
                .entry(&deploy.project)
                .or_default()
                .push((env, span));
        }
    }
    for (project, envs) in by_project {
        let home = Environment::parse(project).unwrap_or_else(|| {
            let count = |environment: Environment| {
                envs.iter()
                    .filter(|(e, _)| e.model.environment == environment)
                    .count()
            };
            let first = envs[0].0.model.environment;
            Environment::ALL.into_iter().fold(first, |best, candidate| {
                if count(candidate) > count(best) {
                    candidate
                } else {
                    best
                }
            })
        });
        let home_env = envs.iter().find(|(e, _)| e.model.environment == home);
        for (env, span) in &envs {
            if env.model.environment == home {
                continue;
            }
            let mut diagnostic = Diagnostic::new(
                Code::E0802,
                *span,
                format!(
                    "Argo CD project `{project}` would span {} and {}",
                    home.as_str(),
                    env.model.environment.as_str()
                ),
            )
            .label(format!(
                "env `{}` is {}",
                env.model.name,
                env.model.environment.as_str()
            ));
            if let Some((other, other_span)) = home_env {
                diagnostic = diagnostic.secondary(
                    *other_span,
                    format!("env `{}` is {}", other.model.name, home.as_str()),
                );
            }
            diagnostics.push(diagnostic.help(format!(
                "a project's destinations stay in one environment: use `project = {}` here",
                env.model.environment.as_str()
            )));
        }
    }
}
