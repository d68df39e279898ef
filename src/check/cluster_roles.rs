//! Cluster roles and cluster-wide grants (E05xx).
//!
//! `cluster_role NAME { allow … }` is typed as a role is, cluster-wide
//! resources allowed; `grant NAME to KIND "…" on cluster CLUSTERS` makes
//! one ClusterRoleBinding per cluster (`model::ClusterBinding`).
//!
//! Invariants established here: a cluster-wide grant of a namespaced
//! resource reaches every namespace of its cluster, so every tier of an
//! env on that cluster must allow it (the tier's `forbid`s, E0504–E0506,
//! with the env whose tier forbids it); on a production cluster no grant
//! holds `escalate`, `bind`, `impersonate` or a wildcard unless the
//! cluster says `allow_cluster_admin = true` (E0510); a cluster role never
//! takes the name of one Kubernetes ships (E0205).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Checker;
use super::access::{self, RoleFacts, RoleKind};
use super::units::Diags;
use crate::diag::{Code, Diagnostic};
use crate::model::{self, ClusterBinding, Environment};
use crate::resolve::refs::Expanded;
use crate::resolve::{check_dns_subdomain, dns_subdomain_diagnostic};
use crate::syntax::ast;

/// The ClusterRoles every cluster already has: a `cluster_role` of one of
/// these names would replace it for every binding that uses it.
const BUILT_IN: &[&str] = &["cluster-admin", "admin", "edit", "view"];

/// What a grant on a production cluster needs `allow_cluster_admin` for.
const ESCALATING_VERBS: &[&str] = &["escalate", "bind", "impersonate", "*"];

impl Checker<'_, '_> {
    /// Types every cluster role.
    pub(super) fn cluster_roles(&mut self, diagnostics: &mut Diags) {
        for decl in self.resolved.cluster_roles.iter() {
            if BUILT_IN.contains(&decl.name.as_str()) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0205,
                        decl.name_span,
                        format!("`{}` is a ClusterRole every cluster has", decl.name),
                    )
                    .label("Kubernetes ships a ClusterRole of this name")
                    .help(format!(
                        "give the cluster role a name of its own, such as `{}-all`: one of this name would replace Kubernetes' own for every binding that uses it",
                        decl.name
                    )),
                );
                continue;
            }
            let scope = self.scope(&decl.vars);
            let Some((rules, facts)) = access::role_body(
                self,
                &decl.node.body,
                RoleKind::Cluster,
                &scope,
                diagnostics,
            ) else {
                continue;
            };
            let role = Arc::new(model::Role {
                name: decl.name.clone(),
                rules,
                source: self.source(decl.name_span),
            });
            self.cluster_role_facts.insert(decl.id, (role, facts));
        }
    }

    /// Every `grant … on cluster …`, once the envs of each cluster are
    /// known.
    pub(super) fn cluster_grants(&mut self, diagnostics: &mut Diags) {
        let mut bindings: Vec<ClusterBinding> = Vec::new();
        // Where each binding was first granted, for policies.
        let mut spans: Vec<crate::source::Span> = Vec::new();
        for (grant, vars) in &self.resolved.cluster_grants {
            let scope = self.scope(vars);
            let Some(role_decl) = self.cluster_role_referent(grant, &scope, diagnostics) else {
                continue;
            };
            let Some((role, facts)) = self.cluster_role_facts.get(role_decl.id) else {
                continue; // the role itself has errors, already reported
            };
            let Some(text) =
                crate::resolve::value::interpolate(&grant.subject, &scope, diagnostics)
            else {
                continue;
            };
            let Some(subject) = access::subject(
                grant.subject_kind,
                grant.subject.span,
                &text,
                None,
                diagnostics,
            ) else {
                continue;
            };
            let name = format!("{}-binding", role_decl.name);
            if let Err(why) = check_dns_subdomain(&name) {
                diagnostics.push(dns_subdomain_diagnostic(&name, grant.role.span(), &why));
                continue;
            }
            let grant_span = grant.role.span().to(grant.clusters.span);
            for cluster_name in &grant.clusters.names {
                let Some((_, cluster)) = self.listed_cluster(cluster_name, &scope, diagnostics)
                else {
                    continue;
                };
                let cluster = &cluster.model;
                self.escalation(role_decl, role, cluster, grant, cluster_name, diagnostics);
                let rules = &role.rules;
                self.tier_forbids(
                    role_decl,
                    rules,
                    facts,
                    &cluster.name,
                    grant_span,
                    diagnostics,
                );
                match bindings
                    .iter_mut()
                    .find(|binding| binding.cluster == cluster.name && binding.name == name)
                {
                    Some(binding) => {
                        if !binding.subjects.contains(&subject) {
                            binding.subjects.push(subject.clone());
                        }
                    }
                    None => {
                        bindings.push(ClusterBinding {
                            name: name.clone(),
                            cluster: cluster.name.clone(),
                            role: Arc::clone(role),
                            subjects: vec![subject.clone()],
                            source: self.source(grant_span),
                        });
                        spans.push(grant_span);
                    }
                }
            }
        }
        // Declaration order is no order: by cluster, then binding, each
        // binding's subjects by kind, namespace and name.
        let mut spanned: Vec<(ClusterBinding, crate::source::Span)> =
            bindings.into_iter().zip(spans).collect();
        spanned.sort_by(|(a, _), (b, _)| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        let (mut bindings, spans): (Vec<ClusterBinding>, Vec<crate::source::Span>) =
            spanned.into_iter().unzip();
        self.cluster_binding_spans = spans;
        for binding in &mut bindings {
            binding.subjects.sort_by(|a, b| {
                (a.kind.as_str(), &a.namespace, &a.name).cmp(&(
                    b.kind.as_str(),
                    &b.namespace,
                    &b.name,
                ))
            });
        }
        self.model.cluster_bindings = bindings;
    }

    /// The cluster role a grant names; a namespaced role of that name is
    /// told apart (E0503).
    fn cluster_role_referent<'c>(
        &'c self,
        grant: &ast::ClusterGrant,
        scope: &crate::resolve::value::Scope,
        diagnostics: &mut Diags,
    ) -> Option<&'c crate::resolve::Decl<'c, ast::Role>> {
        let written = super::written_name(&grant.role, scope, diagnostics)?;
        let declared = self.resolved.cluster_roles.get(&written.text).is_some();
        if !declared && BUILT_IN.contains(&written.text.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0503,
                    written.span,
                    format!("`{}` is a ClusterRole Kubernetes ships, not a cluster role of this program", written.text),
                )
                .label("not declared with `cluster_role`")
                .help("envk grants the cluster roles it declares, whose rules it can check against the tiers: declare one with the rules needed, `cluster_role NAME { allow […] on […] }`"),
            );
            return None;
        }
        if !declared && self.resolved.roles.get(&written.text).is_some() {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0503,
                    written.span,
                    format!("`{}` is a role, not a cluster role", written.text),
                )
                .label("a namespaced role, granted in an env")
                .help(format!(
                    "grant `{0}` in the envs that need it (`grant {0} to …` in their block), or declare a cluster role for cluster-wide access: `cluster_role {0}-cluster {{ allow … }}`",
                    written.text
                )),
            );
            return None;
        }
        super::written_referent(
            &self.resolved.cluster_roles,
            &self.resolved.refs,
            &grant.role,
            &written,
            Code::E0503,
            &mut Expanded::new(),
            diagnostics,
        )
    }

    /// E0510: escalating rights cluster-wide on a production cluster that
    /// does not allow them.
    fn escalation(
        &self,
        role_decl: &crate::resolve::Decl<ast::Role>,
        role: &model::Role,
        cluster: &model::Cluster,
        grant: &ast::ClusterGrant,
        cluster_name: &ast::Name,
        diagnostics: &mut Diags,
    ) {
        if cluster.environment != Environment::Production || cluster.allow_cluster_admin {
            return;
        }
        let wildcard_resource = role
            .rules
            .iter()
            .any(|rule| rule.resources.iter().any(|resource| resource == "*"));
        let verb = role.rules.iter().find_map(|rule| {
            rule.verbs
                .iter()
                .find(|verb| ESCALATING_VERBS.contains(&verb.as_str()))
        });
        let what = match (verb, wildcard_resource) {
            (Some(verb), _) if verb == "*" => "every verb (`\"*\"`)".to_string(),
            (Some(verb), _) => format!("`{verb}`"),
            (None, true) => "every resource (`\"*\"`)".to_string(),
            (None, false) => return,
        };
        diagnostics.push(
            Diagnostic::new(
                Code::E0510,
                grant.role.span(),
                format!(
                    "cluster role `{}` grants {what} cluster-wide on production cluster `{}`",
                    role_decl.name, cluster.name
                ),
            )
            .label("granted cluster-wide here")
            .secondary(cluster_name.span(), "a production cluster")
            .secondary(role_decl.name_span, "the cluster role")
            .help(format!(
                "grant it on clusters that are not production only, or grant a cluster role without `escalate`, `bind`, `impersonate` or `\"*\"`; if the cluster's administrators are meant to hold it, say so on the cluster: `cluster {} {{ allow_cluster_admin = true }}`",
                cluster.name
            )),
        );
    }

    /// The forbids of every tier with an env on `cluster`, against the
    /// namespaced part of a cluster role granted there: one report per
    /// tier, naming its first env on the cluster.
    fn tier_forbids(
        &self,
        role_decl: &crate::resolve::Decl<ast::Role>,
        rules: &[model::PolicyRule],
        facts: &RoleFacts,
        cluster: &str,
        grant_span: crate::source::Span,
        diagnostics: &mut Diags,
    ) {
        let mut first_env_of_tier: BTreeMap<usize, &super::EnvFacts> = BTreeMap::new();
        for env in &self.envs {
            if env.model.cluster.name == cluster {
                first_env_of_tier.entry(env.tier.index()).or_insert(env);
            }
        }
        let stdlib = self.sources.file_of(role_decl.name_span).is_stdlib();
        for env in first_env_of_tier.values() {
            let tier = &self.tier_facts[env.tier];
            let reached = format!(
                "a cluster-wide grant reaches every namespace of cluster `{cluster}`, env `{}` of tier `{}` among them",
                env.model.name, tier.model.name
            );
            access::forbids(
                role_decl,
                rules,
                stdlib,
                facts,
                tier,
                grant_span,
                Some(&reached),
                diagnostics,
            );
        }
    }
}
