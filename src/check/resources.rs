//! Custom resources: `resource PLURAL.GROUP { subresources = […] }`
//! declarations, which extend the built-in catalog roles name resources
//! from (E03xx, E05xx).
//!
//! Owns: typing the declarations, and [`Resources::find`], the one lookup
//! of a name written in an `allow` or `forbid` list: a built-in name
//! first (`pods`, `pods/log`), else a declared resource by its plural
//! where no other declared resource has it (`rollouts`), or by its plural
//! and group (`rollouts.argoproj.io`), with a declared subresource after
//! a `/`. A declared resource serves the verbs every custom resource
//! serves unless it says otherwise, and its `status` and `scale` serve
//! `get`, `update` and `patch`, as the API server's do.

use super::catalog::{self, Known};
use super::schema::{self, Typed};
use super::units::Diags;
use super::{Checker, fields};
use crate::diag::{Code, Diagnostic};
use crate::resolve::value::Value;
use crate::source::Span;

/// The subresources a CustomResourceDefinition may declare.
const SUBRESOURCES: &[&str] = &["status", "scale"];

/// One declared resource or subresource, as a role names it.
pub(crate) struct Custom {
    pub plural: String,
    pub group: String,
    /// `rollouts`, `rollouts/status`: what an RBAC rule writes.
    rbac_name: String,
    /// `rollouts.argoproj.io`, `rollouts.argoproj.io/status`.
    canonical: String,
    subresource: Option<String>,
    namespaced: bool,
    verbs: Vec<&'static str>,
}

impl Custom {
    fn known(&self) -> Known<'_> {
        Known::new(
            &self.rbac_name,
            &self.canonical,
            &self.group,
            self.namespaced,
            &self.verbs,
        )
    }
}

/// The declared resources of a program, each resource then its
/// subresources, in declaration order.
#[derive(Default)]
pub(crate) struct Resources {
    declared: Vec<Custom>,
}

/// Why a name is no resource.
pub(crate) enum Missing<'c> {
    /// Neither built in nor declared.
    Unknown,
    /// A plural that several declared resources have.
    Ambiguous(Vec<&'c str>),
    /// A declared resource without that subresource: its subresources.
    NoSubresource {
        resource: &'c str,
        subresources: Vec<&'c str>,
    },
}

impl Resources {
    /// The resource `name` means, built in or declared.
    pub fn find(&self, name: &str) -> Result<Known<'_>, Missing<'_>> {
        if let Some(resource) = catalog::resource(name) {
            return Ok(resource.known());
        }
        let (base, subresource) = match name.split_once('/') {
            Some((base, subresource)) => (base, Some(subresource)),
            None => (name, None),
        };
        let matching: Vec<&Custom> = self
            .declared
            .iter()
            .filter(|custom| custom.subresource.is_none())
            .filter(|custom| match base.split_once('.') {
                Some((plural, group)) => custom.plural == plural && custom.group == group,
                None => custom.plural == base,
            })
            .collect();
        let resource = match matching.as_slice() {
            [] => return Err(Missing::Unknown),
            [one] => *one,
            several => {
                return Err(Missing::Ambiguous(
                    several
                        .iter()
                        .map(|custom| custom.canonical.as_str())
                        .collect(),
                ));
            }
        };
        let Some(subresource) = subresource else {
            return Ok(resource.known());
        };
        let of_resource = || {
            self.declared.iter().filter(|custom| {
                custom.subresource.is_some()
                    && custom.plural == resource.plural
                    && custom.group == resource.group
            })
        };
        match of_resource().find(|custom| custom.subresource.as_deref() == Some(subresource)) {
            Some(custom) => Ok(custom.known()),
            None => Err(Missing::NoSubresource {
                resource: &resource.canonical,
                subresources: of_resource()
                    .filter_map(|custom| custom.subresource.as_deref())
                    .collect(),
            }),
        }
    }

    /// Every name a role may write for a declared resource, for "did you
    /// mean".
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.declared
            .iter()
            .flat_map(|custom| [custom.rbac_name.as_str(), custom.canonical.as_str()])
    }
}

/// The resource `std/resources` declares under `name` (a plural, or a
/// plural and its group), for "add this import".
pub(crate) fn in_stdlib(name: &str) -> Option<&'static str> {
    let (_, text) = crate::source::STDLIB
        .iter()
        .find(|(module, _)| *module == "std/resources")?;
    text.lines().find_map(|line| {
        let declared = line.strip_prefix("resource ")?.split_whitespace().next()?;
        let (plural, _) = declared.split_once('.')?;
        (plural == name || declared == name).then_some(declared)
    })
}

impl Checker<'_, '_> {
    /// Types every `resource` declaration, before the tiers and roles
    /// that name them.
    pub(super) fn resources(&mut self, diagnostics: &mut Diags) {
        let mut declared = Vec::new();
        for decl in self.resolved.resources.iter() {
            let read = self.read_declaration(
                schema::RESOURCE,
                "resource",
                decl,
                &decl.node.body,
                diagnostics,
            );
            let Some((plural, group)) = decl.name.split_once('.') else {
                continue; // the grammar asks for a group
            };
            if catalog::resource(plural).is_some_and(|built_in| built_in.group == group) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0202,
                        decl.name_span,
                        format!("`{plural}` of group `{group}` is a built-in resource"),
                    )
                    .label("Kubernetes already serves this resource")
                    .help(format!(
                        "remove this declaration: roles name `{plural}` without one"
                    )),
                );
                continue;
            }
            let namespaced = !matches!(read.get("cluster_scoped"), Some(Typed::Bool(true)));
            let verbs = match read.get("verbs") {
                Some(Typed::Value(value)) => {
                    let Some(verbs) = self.verb_list(value, diagnostics) else {
                        continue;
                    };
                    verbs
                }
                _ => catalog::STANDARD.to_vec(),
            };
            let subresources = match read.get("subresources") {
                Some(Typed::Value(value)) => {
                    let Some(subresources) = subresource_list(value, diagnostics) else {
                        continue;
                    };
                    subresources
                }
                _ => Vec::new(),
            };
            declared.push(Custom {
                plural: plural.to_string(),
                group: group.to_string(),
                rbac_name: plural.to_string(),
                canonical: decl.name.clone(),
                subresource: None,
                namespaced,
                verbs,
            });
            for subresource in subresources {
                declared.push(Custom {
                    plural: plural.to_string(),
                    group: group.to_string(),
                    rbac_name: format!("{plural}/{subresource}"),
                    canonical: format!("{}/{subresource}", decl.name),
                    subresource: Some(subresource.to_string()),
                    namespaced,
                    verbs: catalog::READ_WRITE_ONE.to_vec(),
                });
            }
        }
        self.resources = Resources { declared };
    }

    /// `verbs = [get, list]`: RBAC verbs, each once.
    fn verb_list(&self, value: &Value, diagnostics: &mut Diags) -> Option<Vec<&'static str>> {
        let items = list_items(value, "a list of verbs", diagnostics)?;
        let mut verbs: Vec<&'static str> = Vec::new();
        let mut ok = true;
        for (text, span) in items {
            match catalog::VERBS.iter().find(|verb| **verb == text) {
                Some(verb) if !verbs.contains(verb) => verbs.push(verb),
                Some(_) => {}
                None => {
                    diagnostics.push(
                        Diagnostic::new(Code::E0502, span, format!("unknown verb `{text}`"))
                            .label("not an RBAC verb")
                            .help(format!("the verbs are {}", fields::list(catalog::VERBS))),
                    );
                    ok = false;
                }
            }
        }
        // In the catalog's order, as every row's.
        verbs.sort_by_key(|verb| catalog::VERBS.iter().position(|known| known == verb));
        ok.then_some(verbs)
    }
}

/// `subresources = [status, scale]`.
fn subresource_list(value: &Value, diagnostics: &mut Diags) -> Option<Vec<&'static str>> {
    let items = list_items(value, "a list of subresources", diagnostics)?;
    let mut subresources: Vec<&'static str> = Vec::new();
    let mut ok = true;
    for (text, span) in items {
        match SUBRESOURCES.iter().find(|known| **known == text) {
            Some(known) if !subresources.contains(known) => subresources.push(known),
            Some(_) => {}
            None => {
                diagnostics.push(
                    Diagnostic::new(Code::E0305, span, format!("unknown subresource `{text}`"))
                        .label("not a subresource a CustomResourceDefinition can declare")
                        .help("a CRD's `subresources` are `status` and `scale`"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(subresources)
}

/// The words of a list value (`[get, "list"]`), each with its span.
fn list_items(value: &Value, what: &str, diagnostics: &mut Diags) -> Option<Vec<(String, Span)>> {
    let Value::List(items, _) = value else {
        diagnostics.push(
            Diagnostic::new(Code::E0301, value.span(), format!("expected {what}"))
                .label(format!("{} here", value.describe()))
                .help(format!("write {what} in brackets: `[status, scale]`")),
        );
        return None;
    };
    let mut words = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Word(word, span) => words.push((word.clone(), *span)),
            Value::Str(text, span) => words.push((text.clone(), *span)),
            other => {
                diagnostics.push(
                    Diagnostic::new(Code::E0301, other.span(), format!("expected {what}"))
                        .label(format!("{} here", other.describe()))
                        .help("write each by its name"),
                );
                return None;
            }
        }
    }
    Some(words)
}
