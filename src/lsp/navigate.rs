//! Go to definition and find references, from the program's reference
//! table (`resolve::refs`): every name written as a reference is bound
//! there, and every name built by interpolation once per expansion.

use std::path::Path;

use lsp_types::{Location, Position};

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
    let mut spans = Vec::new();
    for id in analysis.decls_at(analysis.offset(file, position)) {
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
fn dedup(locations: &mut Vec<Location>) {
    locations.sort_by(|a, b| {
        (a.uri.as_str(), a.range.start.line, a.range.start.character).cmp(&(
            b.uri.as_str(),
            b.range.start.line,
            b.range.start.character,
        ))
    });
    locations.dedup();
}
