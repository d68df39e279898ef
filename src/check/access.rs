//! Roles, grants and what tiers forbid (E05xx).
//!
//! Invariants established here: every resource a role names is a real,
//! namespaced Kubernetes resource (its API group inferred from the
//! catalog), every verb is an RBAC verb, every grant names a declared role,
//! and no env's tier forbids a verb, resource or wildcard that a role
//! granted there contains. A verb a resource does not serve is only a
//! warning (E0509): RBAC accepts it, and it grants nothing.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use super::catalog;
use super::fields;
use super::resources;
use super::units::Diags;
use super::{Checker, TierFacts};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Binding, PolicyRule, Subject, SubjectKind};
use crate::resolve::refs::Expanded;
use crate::resolve::value::{Scope, interpolate};
use crate::resolve::{
    Decl, EnvDecl, SUBDOMAIN_MAX, check_dns_label, check_dns_subdomain, dns_subdomain_diagnostic,
};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, StmtKind};

/// A role with where each verb and resource was written.
pub(crate) struct RoleFacts {
    pub verbs: Vec<(String, Span)>,
    pub resources: Vec<(String, Span)>,
    /// Bit `i`: the rules write what `FENCES[i]` keeps, computed once per
    /// role so that a grant that crosses none costs a test (E0511).
    pub crossings: u8,
}

/// What a name in an `allow` or `forbid` list is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RbacName {
    Verb,
    Resource,
}

impl RbacName {
    /// What a list item must be, for "expected a verb".
    pub(crate) fn what(self) -> &'static str {
        match self {
            RbacName::Verb => "a verb",
            RbacName::Resource => "a resource",
        }
    }
}

/// Whether `name`, written as `item`, is a known verb (or resource);
/// reports it if not.
pub(crate) fn known(
    checker: &Checker,
    kind: RbacName,
    name: &str,
    item: &ast::Expr,
    diagnostics: &mut Diags,
) -> bool {
    if name == "*" {
        return true;
    }
    let (diagnostic, hint) = match kind {
        RbacName::Verb => {
            if catalog::is_verb(name) {
                return true;
            }
            let diagnostic =
                Diagnostic::new(Code::E0502, item.span, format!("unknown verb `{name}`"))
                    .label("not an RBAC verb");
            (diagnostic, unknown_verb(name))
        }
        RbacName::Resource => {
            let missing = match checker.resources.find(name) {
                Ok(_) => return true,
                Err(missing) => missing,
            };
            let (label, hint) = unknown_resource(checker, name, missing);
            let diagnostic =
                Diagnostic::new(Code::E0501, item.span, format!("unknown resource `{name}`"))
                    .label(label);
            (diagnostic, hint)
        }
    };
    let template = template(checker, item);
    let mut help = Vec::new();
    if let Some(template) = template {
        help.push(format!("`{template}` makes `{name}` here;"));
    }
    match (hint.close, template) {
        // The string is the same in every expansion of its loop, and the
        // name it made this one's: "did you mean" is about what it should
        // make, not a text to write in its place.
        (Some(close), Some(_)) => help.push(format!("did you mean it to make `{close}`?")),
        (Some(close), None) => help.push(format!("did you mean `{close}`?")),
        (None, _) => {}
    }
    help.extend(hint.why);
    let help = help.join(" ");
    diagnostics.push(diagnostic.help(help));
    false
}

/// What to say about an unknown name: the known name it is closest to,
/// and why it is not that name.
struct Hint {
    close: Option<String>,
    why: Option<String>,
}

fn unknown_verb(name: &str) -> Hint {
    match suggest::closest(name, catalog::VERBS.iter().copied()) {
        Some(close) => Hint {
            close: Some(close.to_string()),
            why: name
                .bytes()
                .any(|b| b.is_ascii_uppercase())
                .then(|| "RBAC verbs are lowercase".to_string()),
        },
        None => Hint {
            close: None,
            why: Some(format!(
                "the verbs are {}, and `\"*\"` for all",
                fields::list(catalog::VERBS)
            )),
        },
    }
}

/// E0501's label and hint. A name several declared resources have asks
/// for their group; an unknown subresource of a known resource gets that
/// resource's subresources; a close name gets "did you mean", with the
/// slip RBAC's spelling explains (singular, uppercase). Nothing close: a
/// plural, lowercase name is most likely a custom resource not declared
/// yet, which the standard library may declare.
fn unknown_resource(
    checker: &Checker,
    name: &str,
    missing: resources::Missing,
) -> (&'static str, Hint) {
    const UNKNOWN: &str = "not a Kubernetes resource envk knows";
    match missing {
        resources::Missing::Ambiguous(candidates) => {
            return (
                "declared by more than one resource",
                Hint {
                    close: None,
                    why: Some(format!(
                        "`{name}` is the plural of {}: name one with its group",
                        fields::list_ending(&candidates, " and ")
                    )),
                },
            );
        }
        resources::Missing::NoSubresource {
            resource,
            subresources,
        } => {
            let why = match subresources.is_empty() {
                true => format!(
                    "`{resource}` declares no subresources: add them to its declaration, `subresources = [status]`, if its CRD serves them"
                ),
                false => format!(
                    "`{resource}` declares the subresources {}",
                    fields::list(&subresources)
                ),
            };
            return (
                UNKNOWN,
                Hint {
                    close: None,
                    why: Some(why),
                },
            );
        }
        resources::Missing::Unknown => {}
    }
    let uppercase = name.bytes().any(|b| b.is_ascii_uppercase());
    let lower = name.to_ascii_lowercase();
    let (close, singular) = match rbac_spelling(&lower) {
        Some((close, singular)) => (Some(close.to_string()), singular),
        None => {
            let mut candidates: Vec<&str> = catalog::resource_names().collect();
            candidates.extend(checker.resources.names());
            (
                suggest::closest(&lower, candidates).map(str::to_string),
                false,
            )
        }
    };
    if let Some(close) = close {
        let why = match (singular, uppercase) {
            (true, true) => Some("RBAC names resources in the plural, lowercase"),
            (true, false) => Some("RBAC names resources in the plural"),
            (false, true) => Some("RBAC names resources in lowercase"),
            (false, false) => None,
        };
        return (
            UNKNOWN,
            Hint {
                close: Some(close),
                why: why.map(str::to_string),
            },
        );
    }
    let (parent, subresource) = match lower.split_once('/') {
        Some((parent, subresource)) => (parent, Some(subresource)),
        None => (lower.as_str(), None),
    };
    if let (Some(known), Some(subresource)) = (catalog::resource(parent), subresource) {
        let prefix = format!("{}/", known.name);
        let subresources: Vec<&str> = catalog::resource_names()
            .filter(|name| name.starts_with(&prefix))
            .collect();
        let why = match subresources.is_empty() {
            true => format!("`{}` has no subresources", known.name),
            false => format!(
                "`{}` has no subresource `{subresource}`; its subresources are {}",
                known.name,
                fields::list(&subresources)
            ),
        };
        let why = Some(why);
        return (UNKNOWN, Hint { close: None, why });
    }
    if let Some(declared) = resources::in_stdlib(parent) {
        return (
            "not declared in this program",
            Hint {
                close: None,
                why: Some(format!(
                    "the standard library declares `{declared}`: add `import \"std/resources\"`"
                )),
            },
        );
    }
    let plural_lowercase = !uppercase
        && parent.ends_with('s')
        && parent
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'-');
    if plural_lowercase {
        let example = match parent.split_once('.') {
            Some(_) => parent.to_string(),
            None => format!("{parent}.GROUP"),
        };
        return (
            "not a built-in Kubernetes resource",
            Hint {
                close: None,
                why: Some(format!(
                    "a custom resource is declared before roles name it: `resource {example} {{ subresources = [status] }}`, as its CustomResourceDefinition says"
                )),
            },
        );
    }
    (
        UNKNOWN,
        Hint {
            close: None,
            why: Some("RBAC names resources in the plural, lowercase, such as `deployments` and `pods/log`; a custom resource is declared first, `resource PLURAL.GROUP { }`".to_string()),
        },
    )
}

/// The catalog resource `lower` (a lowercased name) means, if RBAC only
/// spells it otherwise: the name itself, or its plural (`pod` → `pods`,
/// `ingress` → `ingresses`, `networkpolicy` → `networkpolicies`; for a
/// subresource, its parent's plural). True when it took the plural.
fn rbac_spelling(lower: &str) -> Option<(&'static str, bool)> {
    if let Some(resource) = catalog::resource(lower) {
        return Some((resource.name, false));
    }
    let (parent, rest) = match lower.split_once('/') {
        Some((parent, subresource)) => (parent, format!("/{subresource}")),
        None => (lower, String::new()),
    };
    let plurals = [
        Some(format!("{parent}s")),
        Some(format!("{parent}es")),
        parent.strip_suffix('y').map(|stem| format!("{stem}ies")),
    ];
    plurals
        .into_iter()
        .flatten()
        .find_map(|plural| catalog::resource(&format!("{plural}{rest}")))
        .map(|resource| (resource.name, true))
}

/// The source text of a list item that reads a variable (`"${kind}s"`).
/// A help about such an item must hold in every expansion of its loop, so
/// it shows this text and what it made here, never only what it made.
fn template<'c>(checker: &'c Checker, item: &ast::Expr) -> Option<&'c str> {
    match &item.kind {
        ast::ExprKind::Str(string) if !is_plain(string) => Some(checker.sources.snippet(item.span)),
        ast::ExprKind::Str(_)
        | ast::ExprKind::Name(_)
        | ast::ExprKind::Field(_)
        | ast::ExprKind::Number(_)
        | ast::ExprKind::Bool(_)
        | ast::ExprKind::List(_)
        | ast::ExprKind::Record(_)
        | ast::ExprKind::Mul(..) => None,
    }
}

/// Whether a string is text alone, with no `${…}`.
fn is_plain(string: &ast::StringLit) -> bool {
    string
        .parts
        .iter()
        .all(|part| matches!(part, ast::StrPart::Text(_)))
}

/// Types a role: its `allow` lines, one RBAC rule per API group.
pub(crate) fn role<'a>(
    checker: &Checker<'_, 'a>,
    decl: &Decl<'a, ast::Role>,
    diagnostics: &mut Diags,
) -> Option<(model::Role, Arc<RoleFacts>)> {
    let named = |(rules, facts): TypedRole| {
        let role = model::Role {
            name: decl.name.clone(),
            rules,
            source: checker.source(decl.name_span),
        };
        (role, facts)
    };
    let body = &decl.node.body;
    let scope = checker.scope(&decl.vars);
    if reads_variables(body) {
        return role_body(checker, body, RoleKind::Namespaced, &scope, diagnostics).map(named);
    }
    // The cache shares only a typing that reported nothing. A warning
    // (E0509) names no role, so a body that only warns is shared too: its
    // warnings are kept from the cache's sight and reported at that one
    // typing. A body with an error is typed again at each use, and reports
    // everything in order.
    let mut warnings = Diags::new();
    let typed = checker
        .role_bodies
        .typed_once(body, "role", diagnostics, |found| {
            let mut own = Diags::new();
            let typed = role_body(checker, body, RoleKind::Namespaced, &scope, &mut own);
            if typed.is_some() && !own.iter().any(Diagnostic::is_error) {
                warnings = own;
            } else {
                found.append(&mut own);
            }
            typed
        });
    diagnostics.append(&mut warnings);
    typed.map(named)
}

/// What a role's rules become: a namespaced Role, granted in an env, or a
/// ClusterRole, granted on a cluster (`cluster_role`), which may name
/// cluster-wide resources.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleKind {
    Namespaced,
    Cluster,
}

/// A verb of an `allow` line, where it is first written on the line.
type Written = (String, Span);

/// A role body's rules and facts: all of the role but its name.
pub(crate) type TypedRole = (Arc<[PolicyRule]>, Arc<RoleFacts>);

/// Whether a role's body may depend on a variable, or holds anything but
/// `allow` lines: a body whose lines name their verbs and resources as
/// written (no `${…}`) types the same wherever it is, so the roles a `for`
/// loop declares from it, one per team, share one typing
/// (`Checker::role_bodies`).
fn reads_variables(body: &ast::Block) -> bool {
    !body.stmts.iter().all(|stmt| match &stmt.kind {
        StmtKind::Allow(allow) => {
            allow
                .verbs
                .items
                .iter()
                .chain(&allow.resources.items)
                .all(|item| match &item.kind {
                    ast::ExprKind::Name(_) => true,
                    ast::ExprKind::Str(string) => is_plain(string),
                    _ => false,
                })
        }
        _ => false,
    })
}

pub(crate) fn role_body(
    checker: &Checker,
    body: &ast::Block,
    kind: RoleKind,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<TypedRole> {
    let mut rules = Vec::new();
    let mut facts = RoleFacts {
        verbs: Vec::new(),
        resources: Vec::new(),
        crossings: 0,
    };
    let mut ok = true;
    for stmt in &body.stmts {
        let StmtKind::Allow(allow) = &stmt.kind else {
            diagnostics.push(fields::misplaced(
                stmt,
                "a role",
                match &stmt.kind {
                    StmtKind::Field(_) => {
                        "no role: a role holds only `allow [VERBS] on [RESOURCES]` lines"
                    }
                    _ => "an env or a tier",
                },
            ));
            ok = false;
            continue;
        };
        let mut verbs: Vec<Written> = Vec::new();
        let mut line_verbs: Vec<Written> = Vec::new();
        // Whether the line names a namespaced resource (or `"*"`), which a
        // cluster role's grant reaches in every namespace.
        let mut line_reaches_namespaces = false;
        for item in &allow.verbs.items {
            let Some(verb) = checker.name_in_list(item, RbacName::Verb.what(), scope, diagnostics)
            else {
                ok = false;
                continue;
            };
            if !known(checker, RbacName::Verb, &verb, item, diagnostics) {
                ok = false;
                continue;
            }
            line_verbs.push((verb.clone(), item.span));
            if !verbs.iter().any(|(v, _)| *v == verb) {
                verbs.push((verb, item.span));
            }
        }
        // Resources grouped by API group, groups in order of first mention.
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        // A `"*"` verb gives every resource every verb it serves; the
        // verbs written beside it add nothing to check.
        let every_verb = verbs.iter().any(|(verb, _)| verb == "*");
        let verb_set = catalog::VerbSet::of(verbs.iter().map(|(verb, _)| verb.as_str()));
        // The line's resources that do not serve all its verbs, each where
        // it is first written (most lines have none).
        let mut unserving: Vec<(catalog::Known, &ast::Expr, String)> = Vec::new();
        let mut line_ok = true;
        for item in &allow.resources.items {
            let Some(written) =
                checker.name_in_list(item, RbacName::Resource.what(), scope, diagnostics)
            else {
                line_ok = false;
                continue;
            };
            // Looked up once: the catalog is a table read in order.
            let info = checker.resources.find(&written).ok();
            if info.is_none() && !known(checker, RbacName::Resource, &written, item, diagnostics) {
                line_ok = false;
                continue;
            }
            let (group, resource, canonical) = match info {
                // `"*"`: the one name known() accepts that the catalog lacks.
                None => ("*".to_string(), written.clone(), written.clone()),
                Some(info) if !info.namespaced && kind == RoleKind::Namespaced => {
                    diagnostics.push(
                        Diagnostic::new(Code::E0507, item.span, format!("`{written}` is not namespaced"))
                            .label("a cluster-wide resource")
                            .help("an env's role is a namespaced Role, which cannot grant cluster-wide resources: declare a `cluster_role` with this line and grant it `on cluster …`"),
                    );
                    line_ok = false;
                    continue;
                }
                Some(info) => {
                    if !every_verb
                        && !info.serves_all(verb_set)
                        && !unserving
                            .iter()
                            .any(|(known, _, _)| known.canonical == info.canonical)
                    {
                        unserving.push((info, item, written.clone()));
                    }
                    if info.namespaced {
                        line_reaches_namespaces = true;
                    }
                    (
                        info.group.to_string(),
                        info.rbac_name.to_string(),
                        info.canonical.to_string(),
                    )
                }
            };
            if written == "*" {
                line_reaches_namespaces = true;
            }
            if kind == RoleKind::Namespaced || info.is_none_or(|info| info.namespaced) {
                facts.resources.push((canonical, item.span));
            }
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, resources)) => {
                    if !resources.contains(&resource) {
                        resources.push(resource);
                    }
                }
                None => groups.push((group, vec![resource])),
            }
        }
        if kind == RoleKind::Namespaced || line_reaches_namespaces {
            facts.verbs.extend(line_verbs);
        }
        ok &= line_ok;
        if verbs.is_empty() || groups.is_empty() {
            if ok {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0306,
                        stmt.span,
                        "an `allow` line that allows nothing",
                    )
                    .label("no verbs or no resources")
                    .help("write at least one verb and one resource: `allow [get] on [pods]`"),
                );
                ok = false;
            }
            continue;
        }
        let alone = line_ok && groups.iter().map(|(_, r)| r.len()).sum::<usize>() == 1;
        for (resource, item, written) in &unserving {
            if let Some(warning) = unserved(checker, resource, written, item, &verbs, alone) {
                diagnostics.push(warning);
            }
        }
        let verbs: Vec<String> = verbs.into_iter().map(|(verb, _)| verb).collect();
        for (group, resources) in groups {
            rules.push(PolicyRule {
                api_groups: vec![group],
                resources,
                verbs: verbs.clone(),
            });
        }
    }
    if !ok {
        return None;
    }
    facts.crossings = crossings(&rules);
    Some((rules.into(), Arc::new(facts)))
}

/// E0509: the verbs of an `allow` line that `resource` does not serve,
/// once per resource and line, at the resource, with the line it needs.
/// `alone`: the resource is all the line names; `name`: as the line writes it.
fn unserved(
    checker: &Checker,
    resource: &catalog::Known,
    name: &str,
    item: &ast::Expr,
    verbs: &[Written],
    alone: bool,
) -> Option<Diagnostic> {
    let (served, unserved): (Vec<&Written>, Vec<&Written>) =
        verbs.iter().partition(|(verb, _)| resource.supports(verb));
    if unserved.is_empty() {
        return None;
    }
    fn words<'v>(verbs: &[&'v Written]) -> Vec<&'v str> {
        verbs.iter().map(|(verb, _)| verb.as_str()).collect()
    }
    let mut diagnostic = Diagnostic::new(
        Code::E0509,
        item.span,
        format!(
            "`{name}` does not serve {}",
            fields::list_ending(&words(&unserved), " or ")
        ),
    )
    .label(format!(
        "serves only {}",
        fields::list_ending(resource.verbs, " and ")
    ));
    for (_, span) in &unserved {
        diagnostic = diagnostic.secondary(*span, format!("not served by `{name}`"));
    }
    let line = format!("`allow [{}] on [{name}]`", words(&served).join(", "));
    let help = match (template(checker, item), served.is_empty(), alone) {
        // The line is the same in every expansion, and `name` only this
        // one's: the help cannot ask to rewrite the line for it.
        (Some(template), false, _) => format!(
            "`{template}` makes `{name}` here: give `{name}` a line of its own, {line}, rather than this line's verbs"
        ),
        (Some(template), true, _) => format!(
            "`{template}` makes `{name}` here, which serves none of this line's verbs: leave it out of this line"
        ),
        (None, false, true) => format!("write {line}; the other verbs grant nothing on `{name}`"),
        (None, false, false) => {
            format!("write {line} on a line of its own, and remove `{name}` from this one")
        }
        (None, true, true) => format!("give this line verbs `{name}` serves, or remove it"),
        (None, true, false) => format!(
            "remove `{name}` from this line, or give it a line of its own with verbs it serves"
        ),
    };
    Some(diagnostic.help(help))
}

/// An env's grants: bindings (one per binding name, subjects merged), the
/// roles to emit in its namespace, and the tier's forbids.
pub(crate) fn env_grants<'a>(
    checker: &Checker<'_, 'a>,
    decl: &EnvDecl,
    tier: &TierFacts,
    draft: &super::EnvDraft<'a>,
    env: &mut model::Env,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) -> Vec<Vec<Span>> {
    let mut binding_spans: HashMap<String, Span> = HashMap::new();
    // Where each subject of each binding was granted, in their order.
    let mut grant_spans: Vec<Vec<Span>> = Vec::with_capacity(draft.grants.len());
    // At most one binding per grant; sized so, not doubled from four.
    env.bindings.reserve_exact(draft.grants.len());
    for (grant, span, piece) in &draft.grants {
        let scope = checker.scope(&draft.scopes[*piece]);
        // A role whose name was invalid is reported where it is declared.
        let Some(role_decl) = super::name_referent(
            &checker.resolved.roles,
            &checker.resolved.refs,
            &grant.role,
            &scope,
            Code::E0503,
            expanded,
            diagnostics,
        ) else {
            continue;
        };
        let Some((role_model, facts)) = checker.role_facts.get(role_decl.id) else {
            continue; // the role itself has errors, already reported
        };
        let stdlib = checker.sources.file_of(role_decl.name_span).is_stdlib();
        let rules = &role_model.rules;
        forbids(
            role_decl,
            rules,
            stdlib,
            facts,
            tier,
            *span,
            None,
            diagnostics,
        );
        let Some(subject_text) = interpolate(&grant.subject, &scope, diagnostics) else {
            continue;
        };
        let Some(subject) = subject(
            grant.subject_kind,
            grant.subject.span,
            &subject_text,
            Some(&decl.name),
            diagnostics,
        ) else {
            continue;
        };
        let binding_name = match &grant.binding_name {
            Some(name) => match super::quota::object_name(name, &scope, diagnostics) {
                Some(name) => name,
                None => continue,
            },
            None => {
                let name = format!("{}-{}-binding", decl.name, role_decl.name);
                if let Err(why) = check_dns_subdomain(&name) {
                    diagnostics.push(default_binding_name(
                        &name,
                        &why,
                        decl,
                        role_decl,
                        grant.role.span(),
                    ));
                    continue;
                }
                name
            }
        };
        if !env
            .roles
            .iter()
            .any(|granted| Arc::ptr_eq(granted, role_model))
        {
            env.roles.push(Arc::clone(role_model));
        }
        let found = env.bindings.iter().position(|b| b.name == binding_name);
        match found.map(|at| (at, &mut env.bindings[at])) {
            Some((at, binding)) if binding.role == role_decl.name => {
                if !binding.subjects.contains(&subject) {
                    binding.subjects.push(subject);
                    grant_spans[at].push(*span);
                }
            }
            Some((_, binding)) => diagnostics.push(
                Diagnostic::new(
                    Code::E0508,
                    grant.binding_name.as_ref().map_or(*span, |n| n.span()),
                    format!("binding `{binding_name}` is used for two roles"),
                )
                .label(format!("binds `{}` here", role_decl.name))
                .secondary(
                    binding_spans[&binding_name],
                    format!("binds `{}` here", binding.role),
                )
                .help(
                    "a RoleBinding refers to one role: give this grant another name with `as NAME`",
                ),
            ),
            None => {
                binding_spans.insert(binding_name.clone(), *span);
                env.bindings.push(Binding {
                    name: binding_name,
                    role: role_decl.name.clone(),
                    subjects: vec![subject],
                    source: checker.source(*span),
                });
                grant_spans.push(vec![*span]);
            }
        }
    }
    grant_spans
}

/// E0205 for a grant's default binding name, `<env>-<role>-binding`. Env
/// names are at most 63 characters and role names at most 253, so only
/// the whole can be too long: it is shown once, in full, with the part to
/// shorten. The message names neither the env nor its length, so the
/// grant of a family or a loop, too long in each of its envs, is one
/// mistake, reported once.
fn default_binding_name(
    name: &str,
    why: &str,
    env: &EnvDecl,
    role: &Decl<ast::Role>,
    grant_span: Span,
) -> Diagnostic {
    if name.len() <= SUBDOMAIN_MAX {
        // Cannot happen from valid env and role names; reported as is.
        return dns_subdomain_diagnostic(name, grant_span, why);
    }
    let diagnostic = Diagnostic::new(
        Code::E0205,
        grant_span,
        format!("the default name of this binding is longer than {SUBDOMAIN_MAX} characters"),
    )
    .note(format!(
        "`<env>-<role>-binding` makes `{name}`, {} characters",
        name.len()
    ));
    let (diagnostic, part) = if role.name.len() >= env.name.len() {
        let label = format!("role name of {} characters", role.name.len());
        (diagnostic.label(label), "the role's name")
    } else {
        let label = format!("env name of {} characters", env.name.len());
        let diagnostic = diagnostic
            .label("granted here")
            .secondary(env.name_span, label);
        (diagnostic, "the env's name")
    };
    diagnostic.help(format!(
        "name the binding yourself, `grant ROLE to … as SHORT-NAME`, or shorten {part}"
    ))
}

/// The subject of a grant, written `text` at `span`; a service account's
/// namespace is `namespace` (the env's) unless written `NAMESPACE/NAME`,
/// which a cluster-wide grant (no `namespace`) must write.
pub(crate) fn subject(
    kind: ast::SubjectKind,
    span: Span,
    text: &str,
    namespace: Option<&str>,
    diagnostics: &mut Diags,
) -> Option<Subject> {
    let invalid = |why: &str, help: &str| {
        Diagnostic::new(Code::E0508, span, format!("invalid subject `{text}`"))
            .label(why.to_string())
            .help(help.to_string())
    };
    match kind {
        ast::SubjectKind::User | ast::SubjectKind::Group => {
            if text.trim().is_empty() || text.trim() != text {
                diagnostics.push(invalid(
                    "empty, or with spaces around it",
                    "write the name as your identity provider reports it",
                ));
                return None;
            }
            Some(Subject {
                kind: if kind == ast::SubjectKind::User {
                    SubjectKind::User
                } else {
                    SubjectKind::Group
                },
                name: text.to_string(),
                namespace: None,
            })
        }
        ast::SubjectKind::ServiceAccount => {
            let (account_namespace, name) = match (text.split_once('/'), namespace) {
                (Some((ns, name)), _) => (ns, name),
                (None, Some(namespace)) => (namespace, text),
                (None, None) => {
                    diagnostics.push(invalid(
                        "a service account without its namespace",
                        &format!("a cluster-wide grant names the account's namespace too: `\"NAMESPACE/{text}\"`"),
                    ));
                    return None;
                }
            };
            for part in [account_namespace, name] {
                if let Err(why) = check_dns_label(part) {
                    diagnostics.push(invalid(
                        &why,
                        "a service account is `NAME` (in this env's namespace) or `NAMESPACE/NAME`",
                    ));
                    return None;
                }
            }
            Some(Subject {
                kind: SubjectKind::ServiceAccount,
                name: name.to_string(),
                namespace: Some(account_namespace.to_string()),
            })
        }
    }
}

/// The tier's forbidden verbs, resources and wildcards against one role
/// granted in one of its envs.
/// `reached`: for a cluster-wide grant, the note saying which env of the
/// cluster the tier's.
/// `stdlib`: the role is the standard library's, which a user cannot edit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forbids(
    role: &Decl<ast::Role>,
    rules: &[PolicyRule],
    stdlib: bool,
    facts: &RoleFacts,
    tier: &TierFacts,
    grant_span: Span,
    reached: Option<&str>,
    diagnostics: &mut Diags,
) {
    let mut found = Diags::new();
    // A cluster-wide grant's role is a cluster role.
    let noun = match reached {
        Some(_) => "cluster role",
        None => "role",
    };
    let granted = Granted {
        role,
        noun,
        stdlib,
        facts,
        tier,
        span: grant_span,
    };
    forbidden(&granted, &mut found);
    undoes_fences(&granted, rules, &mut found);
    for mut diagnostic in found {
        if let Some(reached) = reached {
            diagnostic = diagnostic.note(reached.to_string());
        }
        diagnostics.push(diagnostic);
    }
}

/// What envk writes in a namespace that a grant must not let people
/// change, unless the tier says its envs manage it themselves: an extra
/// NetworkPolicy opens paths envk never checked, an extra Role or
/// RoleBinding grants beyond the program, a quota or limit range changed
/// by hand over-commits the cluster, a PrometheusRule deleted silences the
/// alerts `check` required, and a Namespace's labels decide its Pod
/// Security and which policies select it.
struct Fence {
    /// The API group and resource, as a rule names them.
    group: &'static str,
    resource: &'static str,
    /// What the diagnostic calls the objects.
    objects: &'static str,
    verbs: &'static [&'static str],
    /// The word of `self_managed` that lets a tier's envs change them;
    /// `None`: nothing does.
    opt_in: Option<&'static str>,
}

const WRITES: &[&str] = &model::WRITE_VERBS;

const FENCES: [Fence; 7] = [
    Fence {
        group: "networking.k8s.io",
        resource: "networkpolicies",
        objects: "NetworkPolicies",
        verbs: WRITES,
        opt_in: Some("network"),
    },
    Fence {
        group: RBAC_GROUP,
        resource: "roles",
        objects: "Roles",
        verbs: WRITES,
        opt_in: Some("rbac"),
    },
    Fence {
        group: RBAC_GROUP,
        resource: "rolebindings",
        objects: "RoleBindings",
        verbs: WRITES,
        opt_in: Some("rbac"),
    },
    Fence {
        group: "",
        resource: "resourcequotas",
        objects: "ResourceQuotas",
        verbs: WRITES,
        opt_in: None,
    },
    Fence {
        group: "",
        resource: "limitranges",
        objects: "LimitRanges",
        verbs: WRITES,
        opt_in: None,
    },
    Fence {
        group: "monitoring.coreos.com",
        resource: "prometheusrules",
        objects: "PrometheusRules",
        verbs: WRITES,
        opt_in: None,
    },
    Fence {
        group: "",
        resource: "namespaces",
        objects: "the Namespace's labels",
        verbs: &["update", "patch"],
        opt_in: None,
    },
];

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// E0511: a role granted in a tier's env that writes what envk writes
/// there (`FENCES`), unless the tier's envs manage it themselves: one
/// report per grant, with a label at each rule that does.
/// The rule of `rules` that writes what `fence` keeps, and the verb.
fn crossing<'r>(fence: &Fence, rules: &'r [PolicyRule]) -> Option<(&'r String, &'r PolicyRule)> {
    let any = |list: &[String], wanted: &str| list.iter().any(|x| x == wanted || x == "*");
    rules.iter().find_map(|rule| {
        let verb = rule
            .verbs
            .iter()
            .find(|verb| verb.as_str() == "*" || fence.verbs.contains(&verb.as_str()))?;
        (any(&rule.api_groups, fence.group) && any(&rule.resources, fence.resource))
            .then_some((verb, rule))
    })
}

/// `RoleFacts::crossings` of `rules`.
fn crossings(rules: &[PolicyRule]) -> u8 {
    FENCES
        .iter()
        .enumerate()
        .filter(|(_, fence)| crossing(fence, rules).is_some())
        .fold(0, |bits, (index, _)| bits | 1 << index)
}

/// Whether a tier's envs manage what `fence` keeps themselves.
fn exempt(fence: &Fence, managed: model::SelfManaged) -> bool {
    match fence.opt_in {
        Some("network") => managed.network,
        Some(_) => managed.rbac,
        None => false,
    }
}

fn undoes_fences(granted: &Granted, rules: &[PolicyRule], diagnostics: &mut Diags) {
    let &Granted {
        role,
        noun,
        stdlib,
        facts,
        tier,
        span: grant_span,
    } = granted;
    let managed = tier.model.self_managed;
    let crossed = (0..FENCES.len())
        .any(|index| facts.crossings & 1 << index != 0 && !exempt(&FENCES[index], managed));
    if !crossed {
        return;
    }
    let mut objects: Vec<&str> = Vec::new();
    let mut resources: Vec<&str> = Vec::new();
    let mut labels: Vec<(Span, String)> = Vec::new();
    let mut opt_ins: Vec<&str> = Vec::new();
    // A fence no tier lifts was crossed: `self_managed` would not do.
    let mut always = false;
    for fence in &FENCES {
        if exempt(fence, managed) {
            continue;
        }
        let Some((verb, rule)) = crossing(fence, rules) else {
            continue;
        };
        objects.push(fence.objects);
        resources.push(fence.resource);
        match fence.opt_in {
            Some(opt_in) if !opt_ins.contains(&opt_in) => opt_ins.push(opt_in),
            Some(_) => {}
            None => always = true,
        }
        let written = match rule.resources.iter().any(|r| r == fence.resource) {
            true => fence.resource,
            false => "*",
        };
        let verb = match verb.as_str() {
            "*" => "`\"*\"`".to_string(),
            verb => format!("`{verb}`"),
        };
        // A custom resource is written with its group, or in a module.
        let named = |name: &str| {
            name == written
                || name
                    .strip_prefix(written)
                    .is_some_and(|rest| rest.strip_prefix('.') == Some(fence.group))
        };
        if let Some((_, span)) = facts.resources.iter().find(|(name, _)| named(name)) {
            let label = match written {
                "*" => format!("`\"*\"` is every resource, with {verb}"),
                _ => format!("{verb} on `{}`", fence.resource),
            };
            // `"*"` is one label for every fence it covers.
            match labels.iter_mut().find(|(at, _)| at == span) {
                Some(_) if written == "*" => {}
                Some((_, existing)) => existing.push_str(&format!("; {label}")),
                None => labels.push((*span, label)),
            }
        }
    }
    if objects.is_empty() {
        return;
    }
    let mut diagnostic = Diagnostic::new(
        Code::E0511,
        grant_span,
        format!(
            "{noun} `{}` would let its subjects change what envk writes: {}",
            role.name,
            crate::suggest::and_list(&objects)
        ),
    )
    .label("granted here");
    for (span, label) in labels {
        diagnostic = diagnostic.secondary(span, label);
    }
    let reads = crate::suggest::and_list(
        &resources
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>(),
    );
    let mut help = match stdlib {
        true => format!(
            "`{}` is the standard library's: grant a {noun} of your own that only reads {reads}",
            role.name
        ),
        false => format!(
            "let {noun} `{}` only read {reads} (`get`, `list`, `watch`)",
            role.name
        ),
    };
    if !always {
        let mut words: Vec<&str> = opt_ins;
        if managed.network && !words.contains(&"network") {
            words.insert(0, "network");
        }
        if managed.rbac && !words.contains(&"rbac") {
            words.push("rbac");
        }
        help.push_str(&format!(
            "; or, if tier `{}`'s envs manage this themselves, outside what envk proves, say so on the tier: `self_managed = [{}]`",
            tier.model.name,
            words.join(", ")
        ));
    }
    diagnostics.push(diagnostic.help(help));
}

/// `self_managed = [network, rbac]`.
pub(crate) fn self_managed(
    value: &crate::resolve::value::Value,
    span: Span,
    diagnostics: &mut Diags,
) -> Option<model::SelfManaged> {
    const SELF_MANAGED: super::units::WordList = super::units::WordList {
        words: &model::SelfManaged::WORDS,
        example: "[network, rbac]",
        who: "a tier's envs may manage",
        help: "write what the tier's envs manage themselves: `self_managed = [network]`, `[rbac]` or `[network, rbac]`",
    };
    let words = SELF_MANAGED.read(value, span, diagnostics)?;
    Some(model::SelfManaged {
        network: words.contains(&"network"),
        rbac: words.contains(&"rbac"),
    })
}

/// A role granted in an env of `tier` (or, `noun` "cluster role", on its
/// cluster), as the tier's rules judge it.
struct Granted<'g, 'a> {
    role: &'g Decl<'a, ast::Role>,
    noun: &'g str,
    /// The role is the standard library's, which a user cannot edit.
    stdlib: bool,
    facts: &'g RoleFacts,
    tier: &'g TierFacts,
    /// The grant.
    span: Span,
}

fn forbidden(granted: &Granted, diagnostics: &mut Diags) {
    let &Granted {
        role,
        noun,
        stdlib,
        facts,
        tier,
        span: grant_span,
    } = granted;
    let tier_name = &tier.model.name;
    if tier.model.forbid_wildcards {
        let wildcard = facts
            .verbs
            .iter()
            .map(|(v, s)| ("verb", v, s))
            .chain(facts.resources.iter().map(|(r, s)| ("resource", r, s)))
            .find(|(_, name, _)| name.as_str() == "*");
        if let Some((what, _, span)) = wildcard {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0506,
                    grant_span,
                    format!(
                        "{noun} `{}` grants every {what} (`\"*\"`), which tier `{tier_name}` forbids",
                        role.name
                    ),
                )
                .label("granted here")
                .secondary(*span, "the wildcard")
                .secondary(
                    tier.wildcards_span.unwrap_or(tier.name_span),
                    "forbidden here",
                )
                .help(format!(
                    "list the {what}s the {noun} needs instead of `\"*\"`, or grant another {noun}"
                )),
            );
        }
    }
    for (verb, span) in &facts.verbs {
        // `"*"` is every verb, the forbidden ones included.
        let forbidden = tier
            .model
            .forbid_verbs
            .iter()
            .find(|f| *f == verb || verb == "*");
        if let Some(forbidden) = forbidden {
            let allowed = if verb == "*" {
                format!("`\"*\"` includes `{forbidden}`")
            } else {
                format!("`{verb}` is allowed here")
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::E0504,
                    grant_span,
                    format!("{noun} `{}` grants the verb `{forbidden}`, which tier `{tier_name}` forbids", role.name),
                )
                .label("granted here")
                .secondary(*span, allowed)
                .secondary(tier.forbid_spans.get(forbidden).copied().unwrap_or(tier.name_span), "forbidden here")
                .help(match stdlib {
                    true => format!("`{}` is the standard library's: grant a {noun} of your own without `{forbidden}`", role.name),
                    false => format!("list only the verbs the {noun} needs, without `{forbidden}`, or grant a {noun} without it"),
                }),
            );
        }
    }
    for (resource, span) in &facts.resources {
        // A `"*"` resource is already reported as a wildcard when the tier
        // forbids those.
        if resource == "*" && tier.model.forbid_wildcards {
            continue;
        }
        let forbidden = tier.model.forbid_resources.iter().find(|f| {
            resource == *f
                || resource == "*"
                || resource
                    .strip_prefix(f.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if let Some(forbidden) = forbidden {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0505,
                    grant_span,
                    format!("{noun} `{}` grants access to `{forbidden}`, which tier `{tier_name}` forbids", role.name),
                )
                .label("granted here")
                .secondary(*span, if resource == "*" { "`\"*\"` includes it".to_string() } else { format!("`{resource}` is allowed here") })
                .secondary(tier.forbid_spans.get(forbidden).copied().unwrap_or(tier.name_span), "forbidden here")
                .help(if resource == "*" {
                    format!("list the resources {noun} `{}` needs instead of `\"*\"`, or grant a {noun} without it", role.name)
                } else {
                    match stdlib {
                        true => format!("`{}` is the standard library's: grant a {noun} of your own without `{resource}`", role.name),
                        false => format!("remove `{resource}` from {noun} `{}`, or grant a {noun} without it", role.name),
                    }
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Checker, Diags, role};
    use crate::diag::Code;
    use crate::load::{self, InMemory};
    use crate::source::SourceMap;

    /// Roles a loop declares from one body that only warns share its
    /// typing, rules included, and the warning comes from that one typing:
    /// once, before the driver drops anything reported twice.
    #[test]
    fn a_body_that_only_warns_is_typed_once() {
        let text = r#"
for team in ["a", "b", "c"] {
  role "${team}-log-reader" {
    allow [get, list] on [pods/log]
  }
}
"#;
        let loader = InMemory::new().with("main.env.k", text);
        let mut sources = SourceMap::new();
        let (program, mut diagnostics) = load::program(
            &[PathBuf::from("main.env.k")],
            &loader,
            &mut sources,
            &mut crate::syntax::parse,
        )
        .expect("the root is in memory");
        let resolved = crate::resolve::resolve(&program, &mut diagnostics);
        assert!(diagnostics.is_empty());
        let checker = Checker::new(&resolved, &sources, true);
        let mut found = Diags::new();
        let roles: Vec<_> = resolved
            .roles
            .iter()
            .filter_map(|decl| role(&checker, decl, &mut found))
            .collect();
        assert_eq!(roles.len(), 3);
        let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::E0509]);
        for (typed, _) in &roles[1..] {
            assert!(std::sync::Arc::ptr_eq(&typed.rules, &roles[0].0.rules));
        }
    }
}
