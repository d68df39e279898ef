//! The standard library's reference (`envk explain std/…`, `docs/stdlib.md`)
//! shows what the stdlib's source declares: every template with each of
//! its parameters, type and default as written, and every role with each
//! of its rules; and `docs/stdlib.md` is what `stdlib_doc::reference`
//! makes of today's source (`ENVK_BLESS=1` rewrites it).

use std::path::Path;

use envk::source::{STDLIB, SourceMap};
use envk::stdlib_doc;
use envk::syntax::{self, ast};

// Only `compare`: one expected file, not a folder of cases.
#[allow(dead_code)]
#[path = "support/golden.rs"]
mod golden;

const DOC: &str = "docs/stdlib.md";

#[test]
fn docs_stdlib_md_is_up_to_date() {
    let mut failures = Vec::new();
    golden::compare(
        Path::new("stdlib"),
        Path::new(DOC),
        &stdlib_doc::reference(),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The part of a reference under the heading `### NAME`, up to the next
/// heading of that level or above.
fn section<'r>(reference: &'r str, name: &str) -> &'r str {
    let heading = format!("\n### {name}\n");
    let start = reference
        .find(&heading)
        .unwrap_or_else(|| panic!("no heading `### {name}` in\n{reference}"))
        + heading.len();
    let rest = &reference[start..];
    let end = ["\n### ", "\n## ", "\n# "]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn each_module_shows_every_template_parameter_and_role_rule_of_its_source() {
    for (module, _) in STDLIB {
        let reference = stdlib_doc::module_reference(module).expect("a module of STDLIB");
        assert!(reference.starts_with(&format!("# {module}\n")));
        let one_level_down = format!("#{}", reference.replace("\n#", "\n##"));
        assert!(
            stdlib_doc::reference().contains(&one_level_down),
            "docs/stdlib.md holds {module}'s reference a level down"
        );
        let mut sources = SourceMap::new();
        let id = sources.add_stdlib(module).expect("embedded");
        let (tree, _) = syntax::parse(sources.file(id));
        let mut declared = 0;
        for item in &tree.items {
            match &item.kind {
                ast::ItemKind::AlertTemplate(template) => {
                    declared += 1;
                    let name = sources.snippet(template.name.span());
                    let shown = section(&reference, name);
                    for param in &template.params {
                        let default = param
                            .default
                            .as_ref()
                            .map(|default| format!("`{}`", sources.snippet(default.span)))
                            .expect("the stdlib's parameters have defaults");
                        let row =
                            format!("| `{}` | {} | {default} |", param.name.text, param.ty.text);
                        assert!(
                            shown.contains(&row),
                            "{module} {name}: no row {row} in\n{shown}"
                        );
                    }
                    for stmt in &template.body.stmts {
                        let ast::StmtKind::Field(field) = &stmt.kind else {
                            panic!("{name}'s body is fields");
                        };
                        let ast::FieldValue::Expr(value) = &field.value else {
                            panic!("{name}'s fields are values");
                        };
                        let written = sources.snippet(value.span);
                        let shown_value = written.trim_matches('`');
                        assert!(
                            shown.contains(shown_value),
                            "{module} {name}: {written} not in\n{shown}"
                        );
                    }
                }
                ast::ItemKind::Role(role) => {
                    declared += 1;
                    let name = sources.snippet(role.name.span());
                    let shown = section(&reference, name);
                    let rules = shown
                        .lines()
                        .filter(|line| line.starts_with("- `allow ["))
                        .count();
                    assert_eq!(rules, role.body.stmts.len(), "{module} {name}:\n{shown}");
                    for stmt in &role.body.stmts {
                        let ast::StmtKind::Allow(allow) = &stmt.kind else {
                            panic!("{name}'s body is rules");
                        };
                        for item in allow.verbs.items.iter().chain(&allow.resources.items) {
                            assert!(shown.contains(sources.snippet(item.span)));
                        }
                    }
                }
                ast::ItemKind::Resource(resource) => {
                    declared += 1;
                    let row_start = format!("| `{}` | ", resource.name.text);
                    let row = reference
                        .lines()
                        .find(|line| line.starts_with(&row_start))
                        .unwrap_or_else(|| panic!("{module}: no row {row_start}"));
                    for stmt in &resource.body.stmts {
                        let written = sources.snippet(stmt.span);
                        assert!(
                            row.contains(&format!("`{written}`")),
                            "{module}: {written} not in {row}"
                        );
                    }
                }
                ast::ItemKind::Policy(policy) => {
                    declared += 1;
                    let name = sources.snippet(policy.name.span());
                    let shown = section(&reference, name);
                    let rule = sources.snippet(policy.rule.span);
                    assert!(
                        shown.contains(rule),
                        "{module} {name}: {rule} not in\n{shown}"
                    );
                    if let Some(description) = &policy.description {
                        let text = description.as_plain().expect("plain");
                        assert!(
                            shown.contains(&text),
                            "{module} {name}: no {text} in\n{shown}"
                        );
                    }
                }
                other => panic!(
                    "{module} declares only templates, roles, resources and policies: {other:?}"
                ),
            }
        }
        assert!(declared > 0, "{module} declares something");
    }
}

#[test]
fn a_template_shows_its_doc_comment() {
    let alerts = stdlib_doc::module_reference("std/alerts").expect("std/alerts");
    let shown = section(&alerts, "HighPodMemoryUsage");
    assert!(
        shown.starts_with("\nA container uses more than `threshold` of its memory limit.\n"),
        "{shown}"
    );
    // Only the comment right above it: not the section title above that.
    assert!(!shown.contains("from the seed article"), "{shown}");
    let roles = stdlib_doc::module_reference("std/roles").expect("std/roles");
    assert!(section(&roles, "viewer").contains("Read-only access"));
}

#[test]
fn the_index_names_every_module_and_what_it_declares() {
    let index = stdlib_doc::index();
    for module in stdlib_doc::modules() {
        assert!(index.contains(&format!("- `{module}`:")), "{index}");
    }
    assert!(index.contains("`PodCrashLooping`") && index.contains("`namespace-admin`"));
}
