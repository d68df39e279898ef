//! Every example program checks clean, and every stdlib module parses and
//! type-checks.

use std::path::PathBuf;

use envk::diag;
use envk::driver;
use envk::source::{STDLIB, SourceMap};
use envk::syntax;

/// Each example is its own program: it must check with no error and no
/// warning, and produce a Model.
#[test]
fn examples_check_clean() {
    let multi_team =
        driver::collect_inputs(&[PathBuf::from("examples/multi-team")]).expect("multi-team exists");
    assert!(
        multi_team.len() >= 3,
        "multi-team is several files: {multi_team:?}"
    );
    for program in ["examples/enterprise.env.k", "examples/multi-team"] {
        let run = driver::check(&[PathBuf::from(program)]).expect("examples are readable");
        assert!(
            run.diagnostics.is_empty(),
            "{program}:\n{}",
            diag::render_plain(&run.sources, &run.diagnostics)
        );
        assert!(run.model.is_some(), "{program} has a model");
    }
}

#[test]
fn stdlib_modules_parse_clean_under_their_virtual_names() {
    let mut sources = SourceMap::new();
    for (module, _) in STDLIB {
        let id = sources
            .add_stdlib(module)
            .expect("listed module is embedded");
        assert_eq!(sources.file(id).name(), format!("<{module}>"));
        let (ast, diagnostics) = syntax::parse(sources.file(id));
        assert!(
            diagnostics.is_empty(),
            "{}",
            diag::render_plain(&sources, &diagnostics)
        );
        assert!(!ast.items.is_empty(), "{module} declares something");
    }
}

#[test]
fn stdlib_has_the_promised_alerts_and_roles() {
    let mut sources = SourceMap::new();
    let names = |sources: &mut SourceMap, module: &str| -> Vec<String> {
        let id = sources.add_stdlib(module).expect("embedded");
        let (ast, _) = syntax::parse(sources.file(id));
        ast.items
            .iter()
            .filter_map(|item| match &item.kind {
                syntax::ast::ItemKind::AlertTemplate(t) => Some(&t.name),
                syntax::ast::ItemKind::Role(r) => Some(&r.name),
                _ => None,
            })
            .map(|name| sources.snippet(name.span()).to_string())
            .collect()
    };
    let alerts = names(&mut sources, "std/alerts");
    for required in ["HighPodMemoryUsage", "PodCrashLooping"] {
        assert!(
            alerts.iter().any(|a| a == required),
            "{required} in {alerts:?}"
        );
    }
    assert!(
        alerts.len() >= 6,
        "at least four alerts beyond the seed's: {alerts:?}"
    );
    let roles = names(&mut sources, "std/roles");
    for required in ["viewer", "developer", "deployer", "namespace-admin"] {
        assert!(
            roles.iter().any(|r| r == required),
            "{required} in {roles:?}"
        );
    }
}

#[test]
fn namespace_admin_cannot_escalate() {
    use syntax::ast::{ExprKind, ItemKind, StmtKind};
    let mut sources = SourceMap::new();
    let id = sources.add_stdlib("std/roles").expect("embedded");
    let (ast, _) = syntax::parse(sources.file(id));
    let role = ast
        .items
        .iter()
        .find_map(|item| match &item.kind {
            ItemKind::Role(role) if sources.snippet(role.name.span()) == "namespace-admin" => {
                Some(role)
            }
            _ => None,
        })
        .expect("namespace-admin declared");
    let mut verbs = Vec::new();
    for stmt in &role.body.stmts {
        if let StmtKind::Allow(allow) = &stmt.kind {
            for verb in &allow.verbs.items {
                verbs.push(match &verb.kind {
                    ExprKind::Name(name) => name.text.clone(),
                    ExprKind::Str(string) => string.as_plain().expect("plain verb"),
                    other => panic!("verb is not a name: {other:?}"),
                });
            }
        }
    }
    assert!(
        verbs.iter().any(|v| v == "delete"),
        "the role has rights: {verbs:?}"
    );
    for forbidden in ["escalate", "bind", "impersonate", "*"] {
        assert!(
            !verbs.iter().any(|v| v == forbidden),
            "namespace-admin grants {forbidden}"
        );
    }
}
