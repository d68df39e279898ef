//! Inlay hints: what the checker computed for each env, shown after the
//! name that declares it: its namespace where that is not the name
//! written (a family's stage), its cluster, and its quota after scaling
//! (`small * 4`) and inheritance. Shown once the program checks clean,
//! from the Model.

use std::path::Path;

use lsp_types::{InlayHint, InlayHintKind, InlayHintLabel, Range};

use crate::model::{EnvKey, QuotaKey};
use crate::resolve::refs::DeclKind;

use super::analysis::Analysis;
use super::convert;

/// The hints of the envs declared in `range` of the file at `path`.
pub fn hints(analysis: &Analysis, path: &Path, range: Range) -> Vec<InlayHint> {
    let (Some(file), Some(model)) = (analysis.file(path), analysis.run.model.as_ref()) else {
        return Vec::new();
    };
    let start = analysis.offset(file, range.start);
    let end = analysis.offset(file, range.end);
    let sources = &analysis.run.sources;
    let mut hints: Vec<InlayHint> = Vec::new();
    for (_, decl) in analysis.run.references.decls() {
        if decl.kind != DeclKind::Env
            || sources.file_of(decl.span).id() != file.id()
            || decl.span.end < start
            || decl.span.start > end
        {
            continue;
        }
        let from = EnvKey {
            name: decl.name.clone(),
            cluster: String::new(),
        };
        let envs = model
            .envs
            .range(from..)
            .take_while(|(key, _)| key.name == decl.name);
        for (_, env) in envs {
            let mut label = String::new();
            if analysis.text(decl.span) != env.name {
                label.push_str(&env.name);
                label.push(' ');
            }
            label.push_str(&format!("on {}", env.cluster.name));
            if let Some(quota) = &env.quota {
                let entries: Vec<String> = quota
                    .hard
                    .iter()
                    .map(|(key, &value)| {
                        format!("{} {}", short(key), key.dimension().format(value))
                    })
                    .collect();
                label.push_str(&format!(" · {}", entries.join(", ")));
            }
            let position = convert::position(file, file.local(decl.span).end);
            // Several clusters (`on [a, b]`) share the name's place: one
            // hint each, in the order of the clusters.
            hints.push(InlayHint {
                position,
                label: InlayHintLabel::String(label),
                kind: Some(InlayHintKind::TYPE),
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: Some(false),
                data: None,
            });
        }
    }
    hints
}

/// A quota key as a hint shows it: `cpu` for `requests.cpu`.
fn short(key: QuotaKey) -> &'static str {
    match key {
        QuotaKey::RequestsCpu => "cpu",
        QuotaKey::RequestsMemory => "memory",
        QuotaKey::LimitsCpu => "cpu limit",
        QuotaKey::LimitsMemory => "memory limit",
        other => other.as_str(),
    }
}
