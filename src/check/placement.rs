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
use crate::resolve::refs::DeclKind;
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
/// types the result. Returns where the project was named (the deploy
/// block, if nowhere) and whether it was, for E0802 and E0805.
pub(crate) fn env_deploy<'a>(
    checker: &Checker<'_, 'a>,
    decl: &EnvDecl<'a>,
    draft: &EnvDraft,
    env: &mut model::Env,
    diagnostics: &mut Diags,
) -> Option<(Span, bool)> {
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
    let nested: Vec<&str> = ["retry", "helm", "kustomize"]
        .into_iter()
        .filter(|name| layered.written(name))
        .collect();
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
    let mut create_namespace = flag("create_namespace")?;
    if let (true, Some(gitops)) = (create_namespace, checker.gitops_span) {
        // The platform Application creates every namespace, with its
        // labels; a team's may create none.
        create_namespace = false;
        diagnostics.push(
            Diagnostic::new(
                Code::E0806,
                read.span("create_namespace").unwrap_or(span),
                format!("env `{}`'s Application would create its namespace, which envk's platform Application creates", decl.name),
            )
            .label("not written to the Application")
            .secondary(gitops, "with a `gitops` block, envk deploys every namespace itself")
            .help("remove `create_namespace = true`: the namespace exists, with its labels, before the env's Application syncs"),
        );
    }
    let options =
        super::deploy_options::read(&read, |name| nested.contains(&name), &reading, diagnostics)
            .ok()?;
    let sync = match has_sync {
        true => Some(model::SyncPolicy {
            prune: flag("prune")?,
            self_heal: flag("self_heal")?,
            create_namespace,
        }),
        false => None,
    };
    env.deploy = Some(model::Deploy {
        // Named once every env is known (`name_applications`).
        application: String::new(),
        // Without one, the env's own (`name_deploys`).
        project: written_or("project", String::new())?,
        repo: text("repo")?,
        revision: written_or("revision", "HEAD".to_string())?,
        path: text("path")?,
        sync,
        options,
        source: checker.source(span),
    });
    Some((
        read.span("project").unwrap_or(span),
        read.written("project"),
    ))
}

/// The `gitops` block, typed into the Model (and where it is, for the
/// findings it explains). A second block is E0202.
pub(crate) fn gitops(checker: &mut Checker, diagnostics: &mut Diags) {
    let Some((read, keyword)) = super::read_one_block(
        checker,
        &checker.resolved.gitops,
        ("gitops", "the build is committed to one place"),
        schema::GITOPS,
        diagnostics,
    ) else {
        return;
    };
    let text = |name| match read.get(name) {
        Some(Typed::Text(text)) => Some(text.clone()),
        _ => None,
    };
    checker.gitops_span = Some(keyword);
    let (Some(repo), Some(path)) = (text("repo"), text("path")) else {
        return;
    };
    let gitops = model::GitOps {
        repo,
        path,
        revision: text("revision").unwrap_or_else(|| "HEAD".to_string()),
        argocd_server: text("argocd_server")
            .unwrap_or_else(|| "https://kubernetes.default.svc".to_string()),
        source: checker.source(keyword),
    };
    checker.model.gitops = Some(gitops);
}

/// Names each env's Argo CD Application, `<env>-app`, and gives an env
/// that names no project its own, `<env>`; both with the cluster in them
/// (`<env>-<cluster>-app`, `<env>-<cluster>`) where the namespace is on
/// several clusters (`several`), since Applications and AppProjects live
/// together in Argo CD's namespace. A name two envs come to is E0202, at
/// both.
pub(crate) fn name_deploys<'n>(
    envs: &mut [super::EnvFacts],
    several: impl Iterator<Item = &'n str>,
    named: bool,
    diagnostics: &mut Diags,
) {
    let several: foldhash::HashSet<&str> = several.collect();
    if several.is_empty() && !named {
        // Names are unique, and only a Model needs them written out: an
        // env's own project is its name (`project_of`).
        return;
    }
    let names: Vec<Option<String>> = envs
        .iter()
        .map(|env| {
            env.model.deploy.as_ref()?;
            let (name, cluster) = (&env.model.name, &env.model.cluster.name);
            Some(match several.contains(name.as_str()) {
                true => [name, "-", cluster].concat(),
                false => name.clone(),
            })
        })
        .collect();
    // Without a namespace on several clusters, env names are unique, and
    // so are the names made from them.
    let mut first_of: HashMap<&str, usize> = match several.is_empty() {
        true => HashMap::new(),
        false => HashMap::with_capacity(envs.len()),
    };
    for (index, name) in names.iter().enumerate().filter(|_| !several.is_empty()) {
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
                "env `{}` on `{}` deploys as `{name}-app`",
                env.model.name, env.model.cluster.name
            )
        };
        diagnostics.push(
            Diagnostic::new(
                Code::E0202,
                this.name_span,
                format!("two envs deploy as the Argo CD Application `{name}-app`"),
            )
            .label(deploys_as(this))
            .secondary(other.name_span, deploys_as(other))
            .help("rename one of the envs: Applications share Argo CD's namespace, and a namespace on several clusters names each of its Applications `<env>-<cluster>-app`"),
        );
    }
    for (env, name) in envs.iter_mut().zip(names) {
        if let (Some(deploy), Some(name)) = (env.model.deploy.as_mut(), name) {
            deploy.application = [name.as_str(), "-app"].concat();
            if deploy.project.is_empty() {
                deploy.project = name;
            }
        }
    }
}

impl super::EnvFacts {
    /// Whether the env's deploy block names its project; without one, the
    /// project is the env's own.
    fn names_project(&self) -> bool {
        self.project_span.is_some_and(|(_, written)| written)
    }
}

/// An env's project: as its deploy block names it, or its own, which
/// `name_deploys` leaves unwritten where it is the env's name and no Model
/// is made.
fn project_of(env: &model::Env) -> Option<&str> {
    let deploy = env.deploy.as_ref()?;
    Some(match deploy.project.is_empty() {
        true => &env.name,
        false => &deploy.project,
    })
}

/// An Argo CD project's envs must all be of one environment (E0802) and
/// of one team (E0805): its destinations, repositories and roles are
/// shared by all of them. A project named after an environment belongs to
/// it, and one that is an env's own default to that env's team; otherwise
/// a project belongs to what most of its envs share. The envs outside it
/// are the ones reported. Runs after `name_deploys`.
pub(crate) fn check_projects(checker: &Checker, diagnostics: &mut Diags) {
    type Member<'c> = (&'c super::EnvFacts, Span);
    // An env's own project is its alone unless another env names it (two
    // own projects are one only when Applications' names are, E0202): only
    // the projects a deploy block names, and envs whose own project one of
    // them is, can break a rule. Usually none, or a few of thousands.
    let named: foldhash::HashSet<&str> = checker
        .envs
        .iter()
        .filter(|env| env.names_project())
        .filter_map(|env| project_of(&env.model))
        .collect();
    // With a `gitops` block, an env's own project may be named like the
    // platform's (an env `platform`).
    let gitops = checker.gitops_span.is_some();
    let mut by_project: std::collections::BTreeMap<&str, Vec<Member>> = Default::default();
    for env in &checker.envs {
        if let (Some(project), Some((span, _))) = (project_of(&env.model), env.project_span)
            && (named.contains(project) || gitops && project.starts_with(model::PLATFORM_PROJECT))
        {
            by_project.entry(project).or_default().push((env, span));
        }
    }
    /// What most of `envs` share, the first of them on a tie.
    fn most<'e, T: PartialEq + Copy>(envs: &'e [Member], of: impl Fn(&'e model::Env) -> T) -> T {
        let count = |value: T| envs.iter().filter(|(e, _)| of(&e.model) == value).count();
        envs.iter()
            .map(|(e, _)| of(&e.model))
            .fold(of(&envs[0].0.model), |best, candidate| {
                if count(candidate) > count(best) {
                    candidate
                } else {
                    best
                }
            })
    }
    for (project, envs) in by_project {
        let platform = |project: &str| {
            project == model::PLATFORM_PROJECT
                || project
                    .strip_prefix(model::PLATFORM_PROJECT)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|cluster| checker.model.clusters.contains_key(cluster))
        };
        if let Some(gitops) = checker.gitops_span
            && platform(project)
        {
            for (env, span) in &envs {
                let mut diagnostic = Diagnostic::new(
                    Code::E0202,
                    *span,
                    format!("Argo CD project `{project}` is envk's own"),
                )
                .label(format!("env `{}`'s project", env.model.name))
                .secondary(gitops, "with a `gitops` block, projects `platform` and `platform-<cluster>` deploy envk's output")
                .help("name the env's project otherwise, or leave `project` out to give the env a project of its own");
                diagnostic.reached_in(DeclKind::Env.noun(), &env.model.name);
                diagnostics.push(diagnostic);
            }
            continue;
        }
        // The env whose own project this is, when one is.
        // An env in the project that does not name it: it is its own.
        let owner = envs.iter().find(|(e, _)| !e.names_project());
        let home = Environment::parse(project)
            .or(owner.map(|(e, _)| e.model.environment))
            .unwrap_or_else(|| most(&envs, |e| e.environment));
        let home_env = envs.iter().find(|(e, _)| e.model.environment == home);
        let mut across_environments = Vec::new();
        for (env, span) in &envs {
            // Two envs share a project neither named only when their
            // Applications' names are one (E0202).
            let written = env.names_project();
            if !written || env.model.environment == home {
                continue;
            }
            across_environments.push(env.model.name.as_str());
            let message = match home_env {
                Some(_) => format!(
                    "Argo CD project `{project}` would span {} and {}",
                    home.as_str(),
                    env.model.environment.as_str()
                ),
                None => format!(
                    "Argo CD project `{project}` is named after {}, but holds a {} env",
                    home.as_str(),
                    env.model.environment.as_str()
                ),
            };
            let mut diagnostic = Diagnostic::new(Code::E0802, *span, message).label(format!(
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
            diagnostic.reached_in(DeclKind::Env.noun(), &env.model.name);
            diagnostics.push(diagnostic.help(
                "a project's destinations stay in one environment: leave `project` out to give the env a project of its own",
            ));
        }
        // One env is one team, on one cluster.
        if envs.len() < 2 {
            continue;
        }
        let home_team = match owner {
            Some((env, _)) => env.model.team(),
            None => most(&envs, model::Env::team),
        };
        let home_team_env = envs.iter().find(|(e, _)| e.model.team() == home_team);
        for (env, span) in &envs {
            // One finding per env: a project across environments is the
            // mistake to fix first.
            let written = env.names_project();
            if !written
                || env.model.team() == home_team
                || across_environments.contains(&env.model.name.as_str())
            {
                continue;
            }
            let of_team = |env: &model::Env| match env.labels.get("team") {
                Some(team) => format!("team `{team}`"),
                None => format!("env `{}`, which has no `team` label", env.name),
            };
            let mut diagnostic = Diagnostic::new(
                Code::E0805,
                *span,
                format!(
                    "Argo CD project `{project}` would be shared by {} and {}",
                    home_team_env
                        .map_or_else(|| format!("team `{home_team}`"), |(e, _)| of_team(&e.model)),
                    of_team(&env.model)
                ),
            )
            .label("named by another team's env");
            if let Some((other, other_span)) = home_team_env {
                diagnostic = diagnostic.secondary(
                    *other_span,
                    format!("the project of env `{}`", other.model.name),
                );
            }
            diagnostic.reached_in(DeclKind::Env.noun(), &env.model.name);
            diagnostics.push(diagnostic.help(
                "a project lets each of its Applications deploy into every namespace it allows: leave `project` out to give the env a project of its own, or give the envs one `team` label if one team owns both",
            ));
        }
        creates_across_clusters(project, &envs, diagnostics);
    }
}

/// E0807: an Application that creates its namespace, in a project whose
/// envs are on several clusters where that namespace is not on every one.
/// Argo CD whitelists a cluster-scoped kind by name for the whole project,
/// whatever the cluster: every Application of the project could create a
/// Namespace of that name on its own cluster, one no env of the program is.
fn creates_across_clusters(
    project: &str,
    envs: &[(&super::EnvFacts, Span)],
    diagnostics: &mut Diags,
) {
    let clusters: std::collections::BTreeSet<&str> = envs
        .iter()
        .map(|(env, _)| env.model.cluster.name.as_str())
        .collect();
    if clusters.len() < 2 {
        return;
    }
    for (env, span) in envs {
        let creates = env
            .model
            .deploy
            .as_ref()
            .and_then(|deploy| deploy.sync)
            .is_some_and(|sync| sync.create_namespace);
        let missing: Vec<&str> = clusters
            .iter()
            .copied()
            .filter(|cluster| {
                !envs.iter().any(|(other, _)| {
                    other.model.name == env.model.name && other.model.cluster.name == *cluster
                })
            })
            .collect();
        if !creates || missing.is_empty() {
            continue;
        }
        let listed: Vec<String> = missing.iter().map(|c| format!("`{c}`")).collect();
        let mut diagnostic = Diagnostic::new(
            Code::E0807,
            *span,
            format!(
                "env `{}`'s Application creates its namespace, and project `{project}` spans clusters it is not on",
                env.model.name
            ),
        )
        .label(format!(
            "the project's Applications on {} could create a Namespace `{}` there",
            crate::suggest::and_list(&listed),
            env.model.name
        ));
        diagnostic.reached_in(DeclKind::Env.noun(), &env.model.name);
        diagnostics.push(diagnostic.help(
            "Argo CD admits a Namespace by name on every cluster of a project: leave `project` out to give the env a project of its own, or let envk create the namespaces with a `gitops` block",
        ));
    }
}
