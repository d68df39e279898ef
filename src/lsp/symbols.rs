//! The outline of a document: its items, as written, with the stages of
//! each env family and the items of each `for` and `if`.

use std::path::Path;

use lsp_types::{DocumentSymbol, SymbolKind};

use crate::source::{SourceMap, Span};
use crate::syntax::ast::{self, Item, ItemKind, Name, StmtKind};

use super::analysis::Analysis;
use super::convert;

/// The outline of the document at `path`; none if the program does not
/// read it.
pub fn outline(analysis: &Analysis, path: &Path) -> Option<Vec<DocumentSymbol>> {
    let file = analysis.file(path)?;
    let ast = analysis.ast(file)?;
    Some(items(&analysis.run.sources, &ast.items))
}

fn items(sources: &SourceMap, items: &[Item]) -> Vec<DocumentSymbol> {
    items
        .iter()
        .filter_map(|item| symbol(sources, item))
        .collect()
}

fn symbol(sources: &SourceMap, item: &Item) -> Option<DocumentSymbol> {
    let text = |span: Span| sources.snippet(span).to_string();
    let name = |name: &Name| text(name.span());
    let (label, detail, kind, selection, children) = match &item.kind {
        ItemKind::Import(_) => return None,
        ItemKind::GitOps(block) => (
            "gitops".to_string(),
            None,
            SymbolKind::OBJECT,
            block.span,
            Vec::new(),
        ),
        ItemKind::Federation(block) => (
            "federation".to_string(),
            None,
            SymbolKind::OBJECT,
            block.span,
            Vec::new(),
        ),
        ItemKind::Cluster(cluster) => (
            name(&cluster.name),
            Some("cluster".to_string()),
            SymbolKind::PACKAGE,
            cluster.name.span(),
            Vec::new(),
        ),
        ItemKind::Tier(tier) => (
            name(&tier.name),
            Some(match &tier.extends {
                Some(base) => format!("tier extends {}", name(base)),
                None => "tier".to_string(),
            }),
            SymbolKind::CLASS,
            tier.name.span(),
            Vec::new(),
        ),
        ItemKind::Role(role) => (
            name(&role.name),
            Some("role".to_string()),
            SymbolKind::INTERFACE,
            role.name.span(),
            Vec::new(),
        ),
        ItemKind::ClusterRole(role) => (
            name(&role.name),
            Some("cluster role".to_string()),
            SymbolKind::INTERFACE,
            role.name.span(),
            Vec::new(),
        ),
        ItemKind::Resource(resource) => (
            resource.name.text.clone(),
            Some("resource".to_string()),
            SymbolKind::STRUCT,
            resource.name.span,
            Vec::new(),
        ),
        ItemKind::External(external) => (
            name(&external.name),
            Some(format!("external on {}", text(external.clusters.span))),
            SymbolKind::NAMESPACE,
            external.name.span(),
            Vec::new(),
        ),
        ItemKind::ClusterGrant(grant) => (
            format!("grant {}", name(&grant.role)),
            Some(format!("on cluster {}", text(grant.clusters.span))),
            SymbolKind::KEY,
            grant.role.span(),
            Vec::new(),
        ),
        ItemKind::Let(binding) => (
            binding.name.text.clone(),
            Some("let".to_string()),
            SymbolKind::VARIABLE,
            binding.name.span,
            Vec::new(),
        ),
        ItemKind::Env(env) => {
            let stages: Vec<DocumentSymbol> = env
                .body
                .stmts
                .iter()
                .filter_map(|stmt| match &stmt.kind {
                    StmtKind::Stage(stage) => Some(new_symbol(
                        sources,
                        name(&stage.name),
                        Some(format!("stage {}", text(stage.placement.span))),
                        SymbolKind::NAMESPACE,
                        stmt.span,
                        stage.name.span(),
                        Vec::new(),
                    )),
                    _ => None,
                })
                .collect();
            let detail = match &env.placement {
                Some(placement) => format!("env {}", text(placement.span)),
                None => "env family".to_string(),
            };
            (
                name(&env.name),
                Some(detail),
                SymbolKind::NAMESPACE,
                env.name.span(),
                stages,
            )
        }
        ItemKind::For(each) => (
            format!(
                "for {} in {}",
                each.var.text,
                first_line(&text(each.iterable.span))
            ),
            None,
            SymbolKind::ARRAY,
            each.var.span,
            items(sources, &each.items),
        ),
        ItemKind::If(chain) => {
            let children = chain
                .branches()
                .flat_map(|branch| items(sources, branch))
                .collect();
            (
                format!("if {}", first_line(&text(chain.cond.span))),
                None,
                SymbolKind::BOOLEAN,
                chain.cond.span,
                children,
            )
        }
        ItemKind::AlertTemplate(template) => (
            name(&template.name),
            Some(format!("alert{}", signature(sources, template))),
            SymbolKind::FUNCTION,
            template.name.span(),
            Vec::new(),
        ),
        ItemKind::Receiver(receiver) => (
            name(&receiver.name),
            Some("receiver".to_string()),
            SymbolKind::EVENT,
            receiver.name.span(),
            Vec::new(),
        ),
        ItemKind::Route(route) => (
            format!("route to {}", name(&route.receiver)),
            None,
            SymbolKind::EVENT,
            route.receiver.span(),
            Vec::new(),
        ),
        ItemKind::Policy(policy) => (
            name(&policy.name),
            Some(match &policy.description {
                Some(description) => format!("policy {}", text(description.span)),
                None => "policy".to_string(),
            }),
            SymbolKind::BOOLEAN,
            policy.name.span(),
            Vec::new(),
        ),
        ItemKind::Waive(waive) => (
            format!("waive {}", name(&waive.policy)),
            Some(format!(
                "for {} {}",
                waive.kind.as_str(),
                name(&waive.target)
            )),
            SymbolKind::KEY,
            waive.policy.span(),
            Vec::new(),
        ),
    };
    Some(new_symbol(
        sources, label, detail, kind, item.span, selection, children,
    ))
}

/// `(threshold: ratio = 90%)`, or nothing for a template without
/// parameters.
pub fn signature(sources: &SourceMap, template: &ast::AlertTemplate) -> String {
    if template.params.is_empty() {
        return String::new();
    }
    let params: Vec<&str> = template
        .params
        .iter()
        .map(|param| sources.snippet(param.span))
        .collect();
    format!("({})", params.join(", "))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[allow(deprecated)] // `deprecated` is a field the type still requires
fn new_symbol(
    sources: &SourceMap,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: if name.is_empty() {
            "(unnamed)".to_string()
        } else {
            name
        },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: convert::range(sources, span),
        selection_range: convert::range(sources, selection),
        children: (!children.is_empty()).then_some(children),
    }
}
