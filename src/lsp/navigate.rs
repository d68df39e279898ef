//! Go to definition and find references, from the program's reference
//! table (`resolve::refs`): every name written as a reference is bound
//! there, and every name built by interpolation once per expansion.

use std::path::Path;

use lsp_types::{Location, Position};

use crate::resolve::refs::DeclKind;

use super::analysis::Analysis;
use super::convert;

/// Where the name at `position` is declared (several places for a name
/// built by interpolation, one per declaration its expansions named), or
/// the file an import names.
pub fn definition(analysis: &Analysis, path: &Path, position: Position) -> Vec<Location> {
    let Some(file) = analysis.file(path) else {
        return Vec::new();
    };
    let offset = analysis.offset(file, position);
    if let Some(imported) = analysis.import_at(file, offset) {
        return vec![imported];
    }
    if let Some(family) = analysis.family_at(file, offset) {
        return convert::location(&analysis.run.sources, family.span)
            .into_iter()
            .collect();
    }
    if let Some(field) = super::fields::at(analysis, file, offset) {
        return field
            .declared
            .iter()
            .filter_map(|(span, _)| convert::location(&analysis.run.sources, *span))
            .collect();
    }
    let mut locations: Vec<Location> = analysis
        .decls_at(offset)
        .into_iter()
        .filter_map(|id| {
            convert::location(&analysis.run.sources, analysis.run.references.decl(id).span)
        })
        .collect();
    dedup(&mut locations);
    locations
}

/// Every use of the declarations the name at `position` refers to (or
/// declares), and their declarations when asked.
pub fn references(
    analysis: &Analysis,
    path: &Path,
    position: Position,
    include_declaration: bool,
) -> Vec<Location> {
    let Some(file) = analysis.file(path) else {
        return Vec::new();
    };
    let references = &analysis.run.references;
    let offset = analysis.offset(file, position);
    let mut spans = Vec::new();
    let mut ids = analysis.decls_at(offset);
    if let Some(field) = super::fields::at(analysis, file, offset) {
        if include_declaration {
            spans.extend(field.declared.iter().map(|(span, _)| *span));
        }
        spans.extend(field.uses);
    }
    // A family's references are its stages' envs'.
    if let Some(family) = analysis.family_at(file, offset) {
        if include_declaration {
            spans.push(family.span);
        }
        ids = family.stages.iter().map(|&(id, _)| id).collect();
    }
    for id in ids {
        if include_declaration {
            spans.push(references.decl(id).span);
        }
        spans.extend(references.uses_of(id));
    }
    let mut locations: Vec<Location> = spans
        .into_iter()
        .filter_map(|span| convert::location(&analysis.run.sources, span))
        .collect();
    dedup(&mut locations);
    locations
}

/// Sorted by file and position, each once: a loop's declarations share
/// the span of the name written once.
pub fn dedup(locations: &mut Vec<Location>) {
    locations.sort_by(|a, b| {
        (a.uri.as_str(), a.range.start.line, a.range.start.character).cmp(&(
            b.uri.as_str(),
            b.range.start.line,
            b.range.start.character,
        ))
    });
    locations.dedup();
}

/// Why a name cannot be renamed here, for the editor to show.
pub type Refusal = String;

/// The name at `position`, if it can be renamed: its range and text.
pub fn prepare_rename(
    analysis: &Analysis,
    path: &Path,
    position: Position,
) -> Result<(lsp_types::Range, String), Refusal> {
    let file = analysis.file(path).ok_or("not a file of the program")?;
    let offset = analysis.offset(file, position);
    if let Some(family) = analysis.family_at(file, offset) {
        return Ok((
            convert::range(&analysis.run.sources, family.span),
            family.name,
        ));
    }
    if let Some(field) = super::fields::at(analysis, file, offset) {
        return Ok((convert::range(&analysis.run.sources, field.at), field.field));
    }
    let target = rename_target(analysis, path, position)?;
    Ok((
        convert::range(&analysis.run.sources, target.at),
        target.name,
    ))
}

/// Every edit that renames the declaration at `position` to `new_name`:
/// the declaration and every use, across the program's files.
pub fn rename(
    analysis: &Analysis,
    path: &Path,
    position: Position,
    new_name: &str,
) -> Result<lsp_types::WorkspaceEdit, Refusal> {
    let file = analysis.file(path).ok_or("not a file of the program")?;
    let offset = analysis.offset(file, position);
    if let Some(family) = analysis.family_at(file, offset) {
        return rename_family(analysis, &family, new_name);
    }
    if let Some(field) = super::fields::at(analysis, file, offset) {
        if !is_identifier(new_name) {
            return Err(format!(
                "`{new_name}` is not a field name: {IDENTIFIER_RULE}"
            ));
        }
        let spans = field
            .declared
            .iter()
            .map(|(span, _)| *span)
            .chain(field.uses);
        let edits = spans.map(|span| (span, new_name.to_string())).collect();
        return workspace_edit(analysis, edits);
    }
    let target = rename_target(analysis, path, position)?;
    let references = &analysis.run.references;
    let kind = references.decl(target.ids[0]).kind;
    let valid = match kind {
        // Names that are not Kubernetes objects' are identifiers.
        DeclKind::Let | DeclKind::AlertTemplate => is_identifier(new_name),
        _ => crate::resolve::check_dns_label(new_name).is_ok(),
    };
    if !valid {
        return Err(match kind {
            DeclKind::Let | DeclKind::AlertTemplate => {
                format!("`{new_name}` is not a name: {IDENTIFIER_RULE}")
            }
            _ => format!(
                "`{new_name}` is not a DNS-1123 label: {}",
                crate::resolve::DNS_LABEL_RULE
            ),
        });
    }
    if new_name != target.name
        && let Some((_, taken)) = references
            .decls()
            .find(|(_, decl)| decl.kind == kind && decl.name == new_name)
    {
        let file = analysis.run.sources.file_of(taken.span);
        let (line, _) = file.line_col(file.local(taken.span).start);
        return Err(format!(
            "a {} named `{new_name}` is already declared, at {}:{line}",
            kind.noun(),
            convert::short_name(file)
        ));
    }
    let mut spans: Vec<crate::source::Span> = Vec::new();
    for &id in &target.ids {
        spans.push(references.decl(id).span);
        spans.extend(references.uses_of(id));
    }
    spans.sort_by_key(|span| (span.start, span.end));
    spans.dedup();
    let mut edits = Vec::new();
    for span in spans {
        let file = analysis.run.sources.file_of(span);
        if file.is_stdlib() {
            return Err(format!(
                "`{}` is used in the stdlib, which cannot be edited",
                target.name
            ));
        }
        edits.push((span, renamed_use(analysis, span, &target.name, new_name)?));
    }
    workspace_edit(analysis, edits)
}

/// What replaces the name `old` written at `span` (bare or quoted) when
/// it becomes `new`; a name built by interpolation there is refused.
fn renamed_use(
    analysis: &Analysis,
    span: crate::source::Span,
    old: &str,
    new: &str,
) -> Result<String, Refusal> {
    let written = analysis.text(span);
    if written == old {
        Ok(new.to_string())
    } else if written == format!("\"{old}\"") {
        Ok(format!("\"{new}\""))
    } else {
        let file = analysis.run.sources.file_of(span);
        let (line, _) = file.line_col(file.local(span).start);
        Err(format!(
            "`{old}` is named by interpolation, `{written}` at {}:{line}: rename that by hand",
            convert::short_name(file)
        ))
    }
}

/// A family renamed: its name, and every use of its stages' envs, whose
/// namespaces are `FAMILY-STAGE`.
fn rename_family(
    analysis: &Analysis,
    family: &super::analysis::Family,
    new_name: &str,
) -> Result<lsp_types::WorkspaceEdit, Refusal> {
    let references = &analysis.run.references;
    // A name written as a string stays one: `env "2fa" { … }`.
    let written = if analysis.text(family.span).starts_with('"') {
        format!("\"{new_name}\"")
    } else {
        new_name.to_string()
    };
    let mut edits: Vec<(crate::source::Span, String)> = vec![(family.span, written)];
    for (id, stage) in &family.stages {
        let old = &references.decl(*id).name;
        let new = format!("{new_name}-{stage}");
        if let Err(why) = crate::resolve::check_dns_label(&new) {
            return Err(format!(
                "`{new}`, the namespace of stage `{stage}`, would not be a DNS-1123 label: {why}"
            ));
        }
        if new != *old
            && references
                .decls()
                .any(|(_, decl)| decl.kind == DeclKind::Env && decl.name == new)
        {
            return Err(format!("an env named `{new}` is already declared"));
        }
        for span in references.uses_of(*id) {
            edits.push((span, renamed_use(analysis, span, old, &new)?));
        }
    }
    if crate::resolve::check_dns_label(new_name).is_err() {
        return Err(format!(
            "`{new_name}` is not a DNS-1123 label: {}",
            crate::resolve::DNS_LABEL_RULE
        ));
    }
    workspace_edit(analysis, edits)
}

/// Adds `more`'s edits to `edit`, each once: two programs that share a
/// file rename it alike.
pub fn merge(edit: &mut lsp_types::WorkspaceEdit, more: lsp_types::WorkspaceEdit) {
    let changes = edit.changes.get_or_insert_with(Default::default);
    for (uri, edits) in more.changes.unwrap_or_default() {
        let into = changes.entry(uri).or_default();
        for text_edit in edits {
            if !into.contains(&text_edit) {
                into.push(text_edit);
            }
        }
    }
}

/// Edits by span, each once, grouped by file.
fn workspace_edit(
    analysis: &Analysis,
    mut edits: Vec<(crate::source::Span, String)>,
) -> Result<lsp_types::WorkspaceEdit, Refusal> {
    edits.sort_by_key(|(span, _)| (span.start, span.end));
    edits.dedup_by_key(|(span, _)| *span);
    let mut changes: std::collections::HashMap<lsp_types::Url, Vec<lsp_types::TextEdit>> =
        std::collections::HashMap::new();
    for (span, text) in edits {
        let file = analysis.run.sources.file_of(span);
        let uri = convert::uri(file).ok_or("a file without a path")?;
        changes
            .entry(uri)
            .or_default()
            .push(lsp_types::TextEdit::new(
                convert::range(&analysis.run.sources, span),
                text,
            ));
    }
    Ok(lsp_types::WorkspaceEdit::new(changes))
}

struct Target {
    ids: Vec<crate::resolve::refs::DeclId>,
    name: String,
    /// The name at the cursor.
    at: crate::source::Span,
}

/// The declaration the name at `position` refers to, when it can be
/// renamed: declared once under one name written as is (not built by
/// interpolation, not a family's stage, whose namespace joins two names),
/// outside the stdlib.
fn rename_target(analysis: &Analysis, path: &Path, position: Position) -> Result<Target, Refusal> {
    let file = analysis.file(path).ok_or("not a file of the program")?;
    let offset = analysis.offset(file, position);
    let ids = analysis.decls_at(offset);
    let references = &analysis.run.references;
    let first = *ids.first().ok_or("no declared name here")?;
    let decl = references.decl(first);
    if ids.iter().any(|&id| references.decl(id).name != decl.name) {
        return Err("this name is built by interpolation: each expansion names another".into());
    }
    if decl.kind == DeclKind::Resource {
        return Err("a resource's name is its API's plural and group: it cannot be renamed".into());
    }
    let declared = analysis.text(decl.span);
    if declared != decl.name && declared != format!("\"{}\"", decl.name) {
        return Err(format!(
            "`{}` is made from `{declared}` where it is declared: rename that",
            decl.name
        ));
    }
    if analysis.run.sources.file_of(decl.span).is_stdlib() {
        return Err(format!("`{}` is declared in the stdlib", decl.name));
    }
    let contains = |span: crate::source::Span| span.start <= offset && offset <= span.end;
    let at = std::iter::once(decl.span)
        .chain(references.uses_of(first))
        .find(|&span| contains(span))
        .unwrap_or(decl.span);
    Ok(Target {
        ids,
        name: decl.name.clone(),
        at,
    })
}

/// What `is_identifier` accepts, as messages say it.
const IDENTIFIER_RULE: &str = "a letter or `_`, then letters, digits, `_` or `-`";

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
