//! Code actions: the fixes a diagnostic's help spells out exactly.
//!
//! A help line is written for people, so only the forms that say one edit
//! and nothing else become actions: "did you mean `X`?" and "quote it:
//! `"X"`" without a `…` (the primary span becomes `X`), "write `X`" where `X` has no
//! `…` to fill in and is not a field (the primary span becomes `X`), and
//! "add `STATEMENT`" (the statement goes at the end of the block the
//! mistake is in, or of the env the help names: "… to `payments-prod`").
//! Any other help stays a message.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{CodeAction, CodeActionKind, Range, TextEdit, Url, WorkspaceEdit};

use crate::diag::Diagnostic;
use crate::resolve::refs::DeclKind;
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{Block, Item, ItemKind, StmtKind};
use crate::syntax::keywords::StatementKeyword;

use super::analysis::Analysis;
use super::convert;

/// The fixes of the diagnostics whose primary span, in the file at
/// `path`, meets `range`.
pub fn actions(analysis: &Analysis, path: &Path, range: Range) -> Vec<CodeAction> {
    let Some(file) = analysis.file(path) else {
        return Vec::new();
    };
    let start = analysis.offset(file, range.start);
    let end = analysis.offset(file, range.end);
    let sources = &analysis.run.sources;
    analysis
        .run
        .diagnostics
        .iter()
        .filter(|diagnostic| {
            let span = diagnostic.primary.span;
            sources.file_of(span).id() == file.id() && span.start <= end && start <= span.end
        })
        .filter_map(|diagnostic| fix(analysis, diagnostic))
        .collect()
}

fn fix(analysis: &Analysis, diagnostic: &Diagnostic) -> Option<CodeAction> {
    let help = diagnostic.help.as_deref()?;
    let sources = &analysis.run.sources;
    let primary = diagnostic.primary.span;
    let (title, edit) = if let Some(name) = quoted_after(help, "did you mean `").filter(|name| {
        help.contains(&format!("did you mean `{name}`?")) && single_token(analysis.text(primary))
    }) {
        (
            format!("Change to `{name}`"),
            replace(sources, primary, name)?,
        )
    } else if let Some(text) = quoted_after(help, "quote it: `").filter(|text| !text.contains('…'))
    {
        (format!("Write {text}"), replace(sources, primary, text)?)
    } else if let Some(text) = quoted_after(help, "write `")
        .filter(|text| help.starts_with("write `") && !text.contains('…') && !text.contains(" = "))
    {
        (format!("Write `{text}`"), replace(sources, primary, text)?)
    } else if let Some(statement) = quoted_after(help, "add `").filter(|statement| {
        help.starts_with("add `")
            && statement
                .split_whitespace()
                .next()
                .and_then(StatementKeyword::from_word)
                .is_some()
    }) {
        let block = match quoted_after(help, "` to `") {
            Some(env) => env_block(analysis, env)?,
            None => enclosing_block(analysis, primary)?,
        };
        (
            format!("Add `{statement}`"),
            append(sources, block, statement)?,
        )
    } else {
        return None;
    };
    Some(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![convert::diagnostic(sources, diagnostic)]),
        edit: Some(edit),
        is_preferred: Some(true),
        ..CodeAction::default()
    })
}

/// The text between `` `…` `` after `marker` (which ends with its opening
/// backtick).
fn quoted_after<'h>(help: &'h str, marker: &str) -> Option<&'h str> {
    let rest = &help[help.find(marker)? + marker.len()..];
    Some(&rest[..rest.find('`')?])
}

fn single_token(text: &str) -> bool {
    !text.is_empty() && !text.contains(char::is_whitespace)
}

fn replace(sources: &SourceMap, span: Span, text: &str) -> Option<WorkspaceEdit> {
    let uri = convert::uri(sources.file_of(span))?;
    Some(edit(
        uri,
        TextEdit::new(convert::range(sources, span), text.to_string()),
    ))
}

fn edit(uri: Url, edit: TextEdit) -> WorkspaceEdit {
    WorkspaceEdit::new(HashMap::from([(uri, vec![edit])]))
}

/// `statement` as the last of `block`'s statements: on a line of its own
/// at their indentation, or in a one-line block before its `}`.
fn append(sources: &SourceMap, block: &Block, statement: &str) -> Option<WorkspaceEdit> {
    let file = sources.file_of(block.span);
    if file.is_stdlib() {
        return None;
    }
    let text = file.text();
    let local = file.local(block.span);
    let close = local.end - 1;
    let line_start = text[..close].rfind('\n').map_or(0, |at| at + 1);
    let (at, new_text) = if text[line_start..close].trim().is_empty() {
        let indent = match block.stmts.first() {
            Some(first) => {
                let start = file.local(first.span).start;
                let first_line = text[..start].rfind('\n').map_or(0, |at| at + 1);
                text[first_line..start].to_string()
            }
            None => format!("{}  ", &text[line_start..close]),
        };
        (line_start, format!("{indent}{statement}\n"))
    } else if text[..close].ends_with(' ') {
        (close, format!("{statement} "))
    } else {
        (close, format!(" {statement} "))
    };
    let position = convert::position(file, at);
    Some(edit(
        convert::uri(file)?,
        TextEdit::new(Range::new(position, position), new_text),
    ))
}

/// The body of the env the help names: its stage's, in a family.
fn env_block<'a>(analysis: &'a Analysis, name: &str) -> Option<&'a Block> {
    let references = &analysis.run.references;
    let (_, decl) = references
        .decls()
        .find(|(_, decl)| decl.kind == DeclKind::Env && decl.name == name)?;
    let file = analysis.run.sources.file_of(decl.span);
    let items = &analysis.ast(file)?.items;
    body_named(items, decl.span)
}

fn body_named(items: &[Item], name: Span) -> Option<&Block> {
    items.iter().find_map(|item| match &item.kind {
        ItemKind::Env(env) if env.name.span() == name => Some(&env.body),
        ItemKind::Env(env) => env.body.stmts.iter().find_map(|stmt| match &stmt.kind {
            StmtKind::Stage(stage) if stage.name.span() == name => Some(&stage.body),
            _ => None,
        }),
        ItemKind::For(each) => body_named(&each.items, name),
        ItemKind::If(chain) => chain.branches().find_map(|items| body_named(items, name)),
        _ => None,
    })
}

/// The body of the item (or an env's stage) the span is in.
fn enclosing_block(analysis: &Analysis, span: Span) -> Option<&Block> {
    let file = analysis.run.sources.file_of(span);
    body_around(&analysis.ast(file)?.items, span)
}

fn body_around(items: &[Item], span: Span) -> Option<&Block> {
    let item = items
        .iter()
        .find(|item| item.span.start <= span.start && span.end <= item.span.end)?;
    match &item.kind {
        ItemKind::Env(env) => Some(
            env.body
                .stmts
                .iter()
                .find_map(|stmt| match &stmt.kind {
                    StmtKind::Stage(stage)
                        if stmt.span.start <= span.start && span.end <= stmt.span.end =>
                    {
                        Some(&stage.body)
                    }
                    _ => None,
                })
                .unwrap_or(&env.body),
        ),
        ItemKind::Cluster(cluster) => Some(&cluster.body),
        ItemKind::Tier(tier) => Some(&tier.body),
        ItemKind::Role(role) | ItemKind::ClusterRole(role) => Some(&role.body),
        ItemKind::Receiver(receiver) => Some(&receiver.body),
        ItemKind::Resource(resource) => Some(&resource.body),
        ItemKind::External(external) => external.body.as_ref(),
        ItemKind::AlertTemplate(template) => Some(&template.body),
        ItemKind::GitOps(block) | ItemKind::Federation(block) => Some(block),
        ItemKind::For(each) => body_around(&each.items, span),
        ItemKind::If(chain) => chain.branches().find_map(|items| body_around(items, span)),
        _ => None,
    }
}
