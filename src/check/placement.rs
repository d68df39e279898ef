//! Placement and GitOps (E08xx).
//!
//! Invariants established here: an env of a tier bound to an environment
//! lives on a cluster of that environment; every Argo CD project's envs
//! share one environment, so its destinations never cross environments;
//! every deploy repo is an https URL.

use foldhash::{HashMap, HashMapExt};

use super::schema::{self, Typed};
use super::units::Diags;
use super::{Checker, ClusterFacts, EnvDraft, TierFacts};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Environment};
use crate::resolve::EnvDecl;
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
            decl.cluster.span(),
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
pub(crate) fn env_deploy<'a>(
    checker: &Checker<'_, 'a>,
    decl: &EnvDecl<'a>,
    cluster: &model::Cluster,
    draft: &EnvDraft,
    env: &mut model::Env,
    diagnostics: &mut Diags,
) -> Option<Span> {
    let context = format!("the deploy block of env `{}`", decl.name);
    let layered = schema::Layered::merge(
        schema::DEPLOY,
        &draft.deploy,
        "a deploy block",
        &context,
        &checker.resolved.lets,
        diagnostics,
    )?;
    let scope = checker.scope(&decl.vars);
    let reading = schema::Reading {
        scope: &scope,
        context: &context,
        at: layered.span,
        inherited: false,
        statements: schema::Statements::Reported,
        sources: checker.sources,
    };
    let (span, has_sync) = (layered.span, layered.written("sync"));
    let read = layered.read(schema::DEPLOY, "a deploy block", &reading, diagnostics);
    let text = |name| match read.get(name) {
        Some(Typed::Text(text)) => Some(text.clone()),
        _ => None,
    };
    // A flag not written is `false`; one written wrong leaves no policy.
    let flag = |name| match read.get(name) {
        Some(Typed::Bool(flag)) => Some(*flag),
        _ if read.written(name) => None,
        _ => Some(false),
    };
    let written_or = |name, default: String| match read.written(name) {
        true => text(name),
        false => Some(default),
    };
    let sync = match has_sync {
        true => Some(model::SyncPolicy {
            prune: flag("prune")?,
            self_heal: flag("self_heal")?,
            create_namespace: flag("create_namespace")?,
        }),
        false => None,
    };
    env.deploy = Some(model::Deploy {
        // Named once every env is known (`name_applications`).
        application: String::new(),
        project: written_or("project", cluster.environment.as_str().to_string())?,
        repo: text("repo")?,
        revision: written_or("revision", "HEAD".to_string())?,
        path: text("path")?,
        sync,
        source: checker.source(span),
    });
    Some(read.span("project").unwrap_or(span))
}

/// Names each env's Argo CD Application: `<env>-app`, with the cluster
/// in it (`<env>-<cluster>-app`) where the namespace is on several
/// clusters (`several`), since Applications live together in Argo CD's
/// namespace. A name two envs come to is E0202, at both.
/// With no namespace on several clusters, names are unique, and only a
/// Model (`named`) needs them.
pub(crate) fn name_applications<'n>(
    envs: &mut [super::EnvFacts],
    several: impl Iterator<Item = &'n str>,
    named: bool,
    diagnostics: &mut Diags,
) {
    let several: foldhash::HashSet<&str> = several.collect();
    if several.is_empty() {
        if named {
            for env in envs.iter_mut() {
                if let Some(deploy) = env.model.deploy.as_mut() {
                    deploy.application = [&env.model.name, "-app"].concat();
                }
            }
        }
        return;
    }
    let names: Vec<Option<String>> = envs
        .iter()
        .map(|env| {
            env.model.deploy.as_ref()?;
            let (name, cluster) = (&env.model.name, &env.model.cluster.name);
            Some(match several.contains(name.as_str()) {
                true => [name, "-", cluster, "-app"].concat(),
                false => [name, "-app"].concat(),
            })
        })
        .collect();
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(envs.len());
    for (index, name) in names.iter().enumerate() {
        let Some(name) = name else {
            continue;
        };
        let Some(&first) = first_of.get(name.as_str()) else {
            first_of.insert(name, index);
            continue;
        };
        let (this, other) = (&envs[index], &envs[first]);
        let deploys_as = |env: &super::EnvFacts| {
            format!(
                "env `{}` on `{}` deploys as `{name}`",
                env.model.name, env.model.cluster.name
            )
        };
        diagnostics.push(
            Diagnostic::new(
                Code::E0202,
                this.name_span,
                format!("two envs deploy as the Argo CD Application `{name}`"),
            )
            .label(deploys_as(this))
            .secondary(other.name_span, deploys_as(other))
            .help("rename one of the envs: Applications share Argo CD's namespace, and a namespace on several clusters names each of its Applications `<env>-<cluster>-app`"),
        );
    }
    for (env, name) in envs.iter_mut().zip(names) {
        if let (Some(deploy), Some(name)) = (env.model.deploy.as_mut(), name) {
            deploy.application = name;
        }
    }
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
