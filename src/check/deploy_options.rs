//! What a deploy block says beyond its source and automated sync: Argo
//! CD's sync options, retries, ignored differences, Helm and Kustomize
//! options and more sources (E0301, E0305, E0303).
//!
//! Invariant established here: every sync option is one Argo CD documents,
//! with a value it takes, so an Application never carries an option Argo
//! CD would silently ignore.

use super::fields::{self, Fields, Keys};
use super::schema::{self, Read, Reading, Typed};
use super::units::{self, Diags};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, DeployOptions};
use crate::resolve::value::{Scope, Value};
use crate::source::Span;
use crate::suggest;

/// The application-level sync options Argo CD documents
/// (`docs/user-guide/sync-options.md`), with the values each takes; the
/// first is what the bare name means. `CreateNamespace` is the sync
/// block's `create_namespace`.
const SYNC_OPTIONS: &[(&str, &[&str])] = &[
    ("ServerSideApply", &["true", "false"]),
    ("PruneLast", &["true"]),
    ("ApplyOutOfSyncOnly", &["true"]),
    ("Validate", &["false"]),
    ("SkipDryRunOnMissingResource", &["true"]),
    ("FailOnSharedResource", &["true"]),
    ("RespectIgnoreDifferences", &["true"]),
    ("Replace", &["true"]),
    (
        "PrunePropagationPolicy",
        &["foreground", "background", "orphan"],
    ),
    ("ClientSideApplyMigration", &["false"]),
    ("Prune", &["false", "confirm"]),
    ("Delete", &["false", "confirm"]),
];

/// The options `read` (a deploy block, its nested blocks' fields among
/// its own) gives; `None` when it gives none, or when one is wrong
/// (reported): the env then has no Model.
pub(crate) fn read(
    read: &Read,
    written: impl Fn(&str) -> bool,
    reading: &Reading<'_, '_, '_, '_>,
    diagnostics: &mut Diags,
) -> Result<Option<Box<DeployOptions>>, ()> {
    // Most deploy blocks say none of it: one look at what was written.
    let says_any = read.typed.iter().any(|(field, ..)| {
        matches!(
            field.name,
            "sync_options"
                | "limit"
                | "backoff"
                | "factor"
                | "max_backoff"
                | "ignore_differences"
                | "release_name"
                | "values_files"
                | "parameters"
                | "images"
                | "sources"
        )
    });
    if !says_any && !written("retry") && !written("helm") && !written("kustomize") {
        return Ok(None);
    }
    let mut options = DeployOptions::default();
    let mut ok = true;
    let mut check = |result: Option<()>| ok &= result.is_some();
    if let Some(Typed::Value(value)) = read.get("sync_options") {
        check(sync_options(value, &mut options.sync_options, diagnostics));
    }
    if written("retry") {
        let count = |name| match read.get(name) {
            Some(Typed::Quantity(n)) => Some(*n),
            _ => None,
        };
        let duration = |name| match read.get(name) {
            Some(Typed::Duration(d)) => Some(*d),
            _ => None,
        };
        let factor = count("factor");
        if factor == Some(0) {
            check(None);
            diagnostics.push(
                Diagnostic::new(
                    Code::E0306,
                    read.span("factor").unwrap_or(reading.at),
                    "a retry factor of 0",
                )
                .label("each wait would be nothing")
                .help("write `factor = 1` for equal waits, or more for growing ones"),
            );
        }
        options.retry = Some(model::Retry {
            limit: count("limit"),
            backoff: duration("backoff"),
            factor,
            max_backoff: duration("max_backoff"),
        });
    }
    if let Some(Typed::Value(value)) = read.get("ignore_differences") {
        let items = records(value, "ignore_differences", diagnostics);
        check(items.as_ref().map(|_| ()));
        for item in items.unwrap_or_default() {
            let ignored =
                schema::read_record(&schema::IGNORE_DIFFERENCE, item, reading, diagnostics)
                    .and_then(|read| ignore_difference(&read, diagnostics));
            match ignored {
                Some(ignored) => options.ignore_differences.push(ignored),
                None => check(None),
            }
        }
    }
    if written("helm") {
        let mut helm = model::Helm {
            release_name: text(read, "release_name"),
            ..model::Helm::default()
        };
        if let Some(Typed::Value(value)) = read.get("values_files") {
            check(strings(
                value,
                "values_files",
                &mut helm.values_files,
                diagnostics,
            ));
        }
        if let Some(Typed::Value(value)) = read.get("parameters") {
            check(parameters(
                value,
                reading,
                &mut helm.parameters,
                diagnostics,
            ));
        }
        options.helm = Some(helm);
    }
    if let Some(Typed::Value(value)) = read.get("images") {
        check(strings(
            value,
            "images",
            &mut options.kustomize_images,
            diagnostics,
        ));
    }
    if options.helm.is_some() && written("kustomize") {
        check(None);
        let at = read.span("images").unwrap_or(reading.at);
        let mut diagnostic = Diagnostic::new(
            Code::E0301,
            at,
            "a source is a Helm chart or a Kustomize folder, not both",
        )
        .label("Kustomize options");
        let helm = ["release_name", "values_files", "parameters"]
            .into_iter()
            .find_map(|name| read.span(name));
        if let Some(helm) = helm {
            diagnostic = diagnostic.secondary(helm, "Helm options, on the same source");
        }
        diagnostics.push(diagnostic.help(
            "keep the options of what `path` holds; for a chart and a Kustomize folder, deploy one of them from `sources`",
        ));
    }
    // `ref`s, and the `$REF/…` values files that use them.
    let mut refs: Vec<(String, Span)> = Vec::new();
    if let Some(Typed::Value(value)) = read.get("sources") {
        let items = records(value, "sources", diagnostics);
        check(items.as_ref().map(|_| ()));
        for item in items.unwrap_or_default() {
            let read = schema::read_record(&schema::SOURCE, item, reading, diagnostics);
            if let Some((name, at)) = read
                .as_ref()
                .and_then(|read| Some((text(read, "ref")?, read.span("ref")?)))
            {
                if let Some((_, first)) = refs.iter().find(|(known, _)| *known == name) {
                    check(None);
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0202,
                            at,
                            format!("two sources with `ref = {name}`"),
                        )
                        .label("named again")
                        .secondary(*first, "first named here")
                        .help("give each source a `ref` of its own"),
                    );
                }
                refs.push((name, at));
            }
            match read
                .as_ref()
                .and_then(|read| Some((read, text(read, "repo")?)))
            {
                Some((read, repo)) => options.sources.push(model::ExtraSource {
                    repo,
                    revision: text(read, "revision").unwrap_or_else(|| "HEAD".into()),
                    path: text(read, "path"),
                    reference: text(read, "ref"),
                }),
                None => check(None),
            }
        }
    }
    if let Some(Typed::Value(Value::List(files, _))) = read.get("values_files") {
        for file in files {
            let Value::Str(text, at) = file else { continue };
            let Some(name) = text
                .strip_prefix('$')
                .map(|rest| rest.split('/').next().unwrap_or(rest))
            else {
                continue;
            };
            if refs.iter().any(|(known, _)| known == name) {
                continue;
            }
            check(None);
            let known: Vec<&str> = refs.iter().map(|(known, _)| known.as_str()).collect();
            let mut diagnostic =
                Diagnostic::new(Code::E0201, *at, format!("no source has `ref = {name}`")).label(
                    format!("`${name}` names the files of a source with `ref = {name}`"),
                );
            diagnostic = match suggest::closest(name, known.iter().copied()) {
                Some(near) => diagnostic.help(format!("did you mean `${near}`?")),
                None => diagnostic.help(format!(
                    "add the source to `sources`: `{{ repo = \"https://…\"  ref = {name} }}`"
                )),
            };
            diagnostics.push(diagnostic);
        }
    }
    if !ok {
        return Err(());
    }
    Ok((options != DeployOptions::default()).then(|| Box::new(options)))
}

fn text(read: &Read, name: &str) -> Option<String> {
    match read.get(name) {
        Some(Typed::Text(text)) => Some(text.clone()),
        _ => None,
    }
}

/// `[ServerSideApply, "PrunePropagationPolicy=background"]`: each a name
/// Argo CD documents, bare for its usual value, or `NAME=VALUE`.
fn sync_options(value: &Value, out: &mut Vec<String>, diagnostics: &mut Diags) -> Option<()> {
    let items = list(
        value,
        "sync_options",
        "[ServerSideApply, PruneLast]",
        diagnostics,
    )?;
    let mut ok = true;
    for item in items {
        let (written, span) = match item {
            Value::Word(word, span) | Value::Str(word, span) => (word.as_str(), *span),
            other => {
                ok = false;
                diagnostics.push(not_a_word(
                    other,
                    "a sync option, such as `ServerSideApply`",
                ));
                continue;
            }
        };
        let (name, given) = match written.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (written, None),
        };
        if name == "CreateNamespace" {
            ok = false;
            diagnostics.push(
                Diagnostic::new(Code::E0305, span, "`CreateNamespace` is not written in `sync_options`")
                    .label("said with `create_namespace`")
                    .help("write `sync { create_namespace = true }`; with a `gitops` block, leave it out: envk creates every namespace"),
            );
            continue;
        }
        let Some(&(name, values)) = SYNC_OPTIONS.iter().find(|(known, _)| *known == name) else {
            ok = false;
            let names = SYNC_OPTIONS.iter().map(|(known, _)| *known);
            let mut diagnostic =
                Diagnostic::new(Code::E0305, span, format!("unknown sync option `{name}`"))
                    .label("not an option Argo CD documents");
            diagnostic = match suggest::closest(name, names) {
                Some(near) => diagnostic.help(format!("did you mean `{near}`?")),
                None => diagnostic.help(format!(
                    "Argo CD's sync options are {}",
                    crate::suggest::and_list(
                        &SYNC_OPTIONS
                            .iter()
                            .map(|(known, _)| format!("`{known}`"))
                            .collect::<Vec<_>>()
                    )
                )),
            };
            diagnostics.push(diagnostic);
            continue;
        };
        let value = given.unwrap_or(values[0]);
        if !values.contains(&value) {
            ok = false;
            let takes = crate::suggest::and_list(
                &values
                    .iter()
                    .map(|v| format!("`{name}={v}`"))
                    .collect::<Vec<_>>(),
            );
            diagnostics.push(
                Diagnostic::new(
                    Code::E0305,
                    span,
                    format!("`{name}` does not take `{value}`"),
                )
                .label(format!("`{name}={value}`"))
                .help(format!("write {takes}, in quotes")),
            );
            continue;
        }
        let option = format!("{name}={value}");
        if !out.contains(&option) {
            out.push(option);
        }
    }
    ok.then_some(())
}

/// An element of `ignore_differences`.
fn ignore_difference(read: &Read, diagnostics: &mut Diags) -> Option<model::IgnoreDifference> {
    let mut ignored = model::IgnoreDifference {
        kind: text(read, "kind")?,
        group: text(read, "group"),
        name: text(read, "name"),
        namespace: text(read, "namespace"),
        ..model::IgnoreDifference::default()
    };
    let mut ok = true;
    for (name, out) in [
        ("json_pointers", &mut ignored.json_pointers),
        ("jq_path_expressions", &mut ignored.jq_path_expressions),
        (
            "managed_fields_managers",
            &mut ignored.managed_fields_managers,
        ),
    ] {
        if let Some(Typed::Value(value)) = read.get(name) {
            ok &= strings(value, name, out, diagnostics).is_some();
        }
    }
    ok.then_some(ignored)
}

/// `{ "image.tag" = "v1.4.2" }`: Helm parameters, by name.
fn parameters(
    value: &Value,
    reading: &Reading<'_, '_, '_, '_>,
    out: &mut Vec<(String, String)>,
    diagnostics: &mut Diags,
) -> Option<()> {
    let Value::Record(record) = value else {
        diagnostics.push(
            Diagnostic::new(Code::E0301, value.span(), "expected a block of parameters")
                .label("not a block")
                .help("write `parameters { \"image.tag\" = \"v1.4.2\" }`"),
        );
        return None;
    };
    let scope = Scope::new(record.vars.clone(), reading.scope.lets);
    let fields = Fields::read_only_fields(
        record.body,
        Keys::Any,
        "Helm parameters",
        &scope,
        diagnostics,
    );
    let mut ok = true;
    for entry in &fields.entries {
        let Some(value) = fields::field_value(entry, &scope, diagnostics) else {
            ok = false;
            continue;
        };
        match units::into_string(value, diagnostics) {
            Some(text) => out.push((entry.key.to_string(), text)),
            None => ok = false,
        }
    }
    out.sort();
    ok.then_some(())
}

/// A list of strings.
fn strings(
    value: &Value,
    name: &str,
    out: &mut Vec<String>,
    diagnostics: &mut Diags,
) -> Option<()> {
    let items = list(value, name, "[\"…\", \"…\"]", diagnostics)?;
    let mut ok = true;
    for item in items {
        match units::string(item, diagnostics) {
            Some(text) => out.push(text),
            None => ok = false,
        }
    }
    ok.then_some(())
}

/// A list of records.
fn records<'a>(value: &Value<'a>, name: &str, diagnostics: &mut Diags) -> Option<Vec<Value<'a>>> {
    Some(list(value, name, "[{ … }, { … }]", diagnostics)?.to_vec())
}

fn list<'v, 'a>(
    value: &'v Value<'a>,
    name: &str,
    example: &str,
    diagnostics: &mut Diags,
) -> Option<&'v [Value<'a>]> {
    match value {
        Value::List(items, _) => Some(items),
        other => {
            diagnostics.push(
                Diagnostic::new(Code::E0301, other.span(), format!("`{name}` is a list"))
                    .label("not a list")
                    .help(format!("write `{name} = {example}`")),
            );
            None
        }
    }
}

fn not_a_word(value: &Value, what: &str) -> Diagnostic {
    Diagnostic::new(Code::E0301, value.span(), format!("expected {what}"))
        .label("not a name")
        .help("write the option's name, or `\"NAME=VALUE\"`")
}
