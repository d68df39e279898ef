//! The standard library's reference, read from its source: each alert
//! template of a `std/…` module with its parameters (name, type, default),
//! its fields and its doc comment, and each role with its rules, as
//! Markdown. `envk explain std/alerts` prints `module_reference(name)`;
//! `docs/stdlib.md` is `reference()`, which `tests/stdlib_doc.rs` holds the
//! file to.
//!
//! Owns: rendering the embedded modules (`source::STDLIB`). It reads them
//! with the compiler's own parser (`syntax::parse`) and shows every value
//! as written, so the reference is the source envk compiles and cannot
//! drift from it. A doc comment is the run of `//` lines right above a
//! declaration, the only thing the tree does not hold. It never evaluates,
//! types or reports anything: the stdlib's checking is `tests/examples.rs`'s.

use std::ops::Range;

use crate::source::{STDLIB, SourceFile, SourceMap, Span};
use crate::suggest;
use crate::syntax;
use crate::syntax::ast::{
    AlertTemplate, Ast, ExprKind, FieldValue, ItemKind, Key, List, Name, Policy, Resource, Role,
    Stmt, StmtKind, path_text,
};

/// The modules of the standard library, as they are imported: `std/alerts`, …
pub fn modules() -> impl Iterator<Item = &'static str> {
    STDLIB.iter().map(|(name, _)| *name)
}

/// The reference of one module (`std/alerts`), headed `# std/alerts`; `None`
/// when the standard library has no such module.
pub fn module_reference(name: &str) -> Option<String> {
    let module = Module::read(name)?;
    let mut out = String::new();
    module.render(1, &mut out);
    Some(out)
}

/// The list of modules, each with what it declares: what `envk explain std`
/// prints.
pub fn index() -> String {
    let mut out = String::from("# The standard library\n\n");
    index_into(&mut out);
    out.push_str(
        "\n`envk explain std/NAME` shows a module's templates, roles, resources and policies.\n",
    );
    out
}

/// Why `name` is not a module, with the closest module and all of them:
/// the message of `envk explain std/x`.
pub fn unknown_module(name: &str) -> String {
    let suggestion = suggest::closest(name, modules())
        .map(|close| format!("; did you mean `{close}`?"))
        .unwrap_or_default();
    let known = modules()
        .map(|module| format!("`{module}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("`{name}` is not a module of the standard library{suggestion} (its modules: {known})")
}

/// `docs/stdlib.md`: every module's reference, under one title.
pub fn reference() -> String {
    let mut out = String::from("# The standard library\n\n");
    out.push_str(
        "<!-- Generated from stdlib/*.env.k by src/stdlib_doc.rs; do not edit. \
         `ENVK_BLESS=1 cargo test --test stdlib_doc` rewrites it. -->\n\n",
    );
    out.push_str(
        "These modules are built into envk and written in the language itself; a program \
         uses one by importing it (see [Imports](language.md#imports)). Everything below \
         is read from their source: parameters, defaults and fields as written. \
         `envk explain std/alerts` prints a module's part in the terminal.\n\n",
    );
    index_into(&mut out);
    for name in modules() {
        out.push('\n');
        Module::read(name)
            .expect("a module of STDLIB is embedded")
            .render(2, &mut out);
    }
    out
}

/// One bullet per module: its import and the names it declares.
fn index_into(out: &mut String) {
    for name in modules() {
        let module = Module::read(name).expect("a module of STDLIB is embedded");
        out.push_str(&format!("- `{name}`:"));
        for kind in Kind::ALL {
            let names = module.names(kind);
            if !names.is_empty() {
                out.push_str(&format!(" {} {}.", kind.plural(), code_list(&names)));
            }
        }
        out.push('\n');
    }
}

/// A module, parsed.
struct Module<'n> {
    name: &'n str,
    sources: SourceMap,
    ast: Ast,
}

impl Module<'static> {
    fn read(name: &str) -> Option<Module<'static>> {
        let (name, text) = STDLIB.iter().find(|(module, _)| *module == name)?;
        Some(Module::parse(name, text))
    }
}

impl<'n> Module<'n> {
    fn parse(name: &'n str, text: &str) -> Module<'n> {
        let mut sources = SourceMap::new();
        let id = sources.add(format!("<{name}>"), text);
        // The stdlib parses clean (tests/examples.rs); were it not to,
        // the declarations that parsed would still be shown.
        let (ast, _) = syntax::parse(sources.file(id));
        Module { name, sources, ast }
    }

    fn file(&self) -> &SourceFile {
        self.sources.files().next().expect("the module's one file")
    }

    /// The declarations the reference shows, each with the local range
    /// between the end of the item before and its own start, where its doc
    /// comment is.
    fn declarations(&self) -> Vec<(Range<usize>, Declaration<'_>)> {
        let mut found = Vec::new();
        let mut after_previous = 0;
        for item in &self.ast.items {
            let declaration = match &item.kind {
                ItemKind::AlertTemplate(template) => Some(Declaration::Template(template)),
                ItemKind::Role(role) => Some(Declaration::Role(role)),
                ItemKind::ClusterRole(role) => Some(Declaration::ClusterRole(role)),
                ItemKind::Resource(resource) => Some(Declaration::Resource(resource)),
                ItemKind::Policy(policy) => Some(Declaration::Policy(policy)),
                // What a module offers is its templates, roles and
                // resources; anything else in it only serves them.
                ItemKind::Import(_)
                | ItemKind::GitOps(_)
                | ItemKind::Federation(_)
                | ItemKind::External(_)
                | ItemKind::Receiver(_)
                | ItemKind::Route(_)
                | ItemKind::Waive(_)
                | ItemKind::ClusterGrant(_)
                | ItemKind::Cluster(_)
                | ItemKind::Tier(_)
                | ItemKind::Let(_)
                | ItemKind::Env(_)
                | ItemKind::For(_)
                | ItemKind::If(_) => None,
            };
            let span = self.file().local(item.span);
            if let Some(declaration) = declaration {
                found.push((after_previous..span.start, declaration));
            }
            after_previous = span.end;
        }
        found
    }

    /// The names of the module's declarations of `kind`, in source order.
    fn names(&self, kind: Kind) -> Vec<&str> {
        self.declarations()
            .into_iter()
            .filter(|(_, declaration)| declaration.kind() == kind)
            .map(|(_, declaration)| declaration.name(self))
            .collect()
    }

    /// The text of a span, as written.
    fn written(&self, span: Span) -> &str {
        let file = self.file();
        &file.text()[file.local(span)]
    }

    /// The text of a span, its lines after the first moved left by the
    /// column it starts at, so a block reads as it was laid out.
    fn written_lines(&self, span: Span) -> String {
        let file = self.file();
        let range = file.local(span);
        let column = range.start
            - file.text()[..range.start]
                .rfind('\n')
                .map_or(0, |at| at + 1);
        let mut lines = file.text()[range].split('\n');
        let mut out = lines.next().unwrap_or_default().to_string();
        for line in lines {
            out.push('\n');
            let indent = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&line[indent.min(column)..]);
        }
        out
    }

    fn name_of<'m>(&'m self, name: &'m Name) -> &'m str {
        match name {
            Name::Ident(ident) => &ident.text,
            Name::Str(_) => self.written(name.span()),
        }
    }

    /// The whole reference of the module, its heading at `level`.
    fn render(&self, level: usize, out: &mut String) {
        heading(out, level, self.name);
        let intro = header_paragraph(self.file().text());
        if !intro.is_empty() {
            out.push_str(&intro.join("\n"));
            out.push_str("\n\n");
        }
        out.push_str(&format!("```envk\nimport \"{}\"\n```\n", self.name));
        let declarations = self.declarations();
        for kind in Kind::ALL {
            let names = self.names(kind);
            if names.is_empty() {
                continue;
            }
            out.push('\n');
            heading(out, level + 1, kind.heading());
            out.push_str(&format!(
                "{} The module's {}: {}.\n",
                kind.usage(),
                kind.plural(),
                code_list(&names)
            ));
            let of_kind = declarations
                .iter()
                .filter(|(_, declaration)| declaration.kind() == kind);
            if kind == Kind::Resource {
                self.resource_tables(of_kind, out);
                continue;
            }
            for (before, declaration) in of_kind {
                out.push('\n');
                match declaration {
                    Declaration::Template(template) => {
                        self.template(level + 2, before.clone(), template, out)
                    }
                    Declaration::Role(role) | Declaration::ClusterRole(role) => {
                        self.role(level + 2, before.clone(), role, out)
                    }
                    Declaration::Resource(_) => unreachable!("resources are tables"),
                    Declaration::Policy(policy) => {
                        self.policy(level + 2, before.clone(), policy, out)
                    }
                }
            }
        }
    }

    fn template(
        &self,
        level: usize,
        before: Range<usize>,
        template: &AlertTemplate,
        out: &mut String,
    ) {
        heading(out, level, self.name_of(&template.name));
        self.doc_comment(before, out);
        if template.params.is_empty() {
            out.push_str("No parameters.\n");
        } else {
            out.push_str("| parameter | type | default |\n|---|---|---|\n");
            for param in &template.params {
                let default = param.default.as_ref().map_or_else(
                    || "none: every use gives it".to_string(),
                    |default| code(self.written(default.span)).replace('|', "\\|"),
                );
                out.push_str(&format!(
                    "| {} | {} | {default} |\n",
                    code(&param.name.text),
                    param.ty.text
                ));
            }
        }
        out.push('\n');
        for stmt in &template.body.stmts {
            self.statement(stmt, out);
        }
    }

    /// A policy: its doc comment, then its description and its rule as
    /// written.
    fn policy(&self, level: usize, before: Range<usize>, policy: &Policy, out: &mut String) {
        heading(out, level, self.name_of(&policy.name));
        if let Some(description) = &policy.description {
            let text = self.written(description.span);
            out.push_str(&format!("*{}*\n\n", &text[1..text.len() - 1]));
        }
        self.doc_comment(before, out);
        out.push_str(&fenced("envk", &self.written_lines(policy.rule.span)));
    }

    fn role(&self, level: usize, before: Range<usize>, role: &Role, out: &mut String) {
        heading(out, level, self.name_of(&role.name));
        self.doc_comment(before, out);
        for stmt in &role.body.stmts {
            self.statement(stmt, out);
        }
    }

    /// Resources as tables, one row each: a resource with a doc comment
    /// (where its project's list, and its source, begins) starts a table
    /// of its own after that comment.
    fn resource_tables<'d>(
        &self,
        resources: impl Iterator<Item = &'d (Range<usize>, Declaration<'d>)>,
        out: &mut String,
    ) {
        let mut in_table = false;
        for (before, declaration) in resources {
            let Declaration::Resource(resource) = declaration else {
                continue;
            };
            let mut comment = String::new();
            self.doc_comment(before.clone(), &mut comment);
            if !comment.is_empty() || !in_table {
                out.push('\n');
                out.push_str(&comment);
                out.push_str("| resource | fields |\n|---|---|\n");
                in_table = true;
            }
            let fields: Vec<String> = resource
                .body
                .stmts
                .iter()
                .map(|stmt| format!("`{}`", self.written(stmt.span)))
                .collect();
            out.push_str(&format!(
                "| `{}` | {} |\n",
                resource.name.text,
                match fields.is_empty() {
                    true => "namespaced, no subresources".to_string(),
                    false => fields.join(", "),
                }
            ));
        }
    }

    /// The `//` lines right above a declaration (no blank line between),
    /// as a paragraph; `before` runs from the end of the item before to the
    /// declaration's start.
    fn doc_comment(&self, before: Range<usize>, out: &mut String) {
        let text = self.file().text();
        let line_start = text[..before.end].rfind('\n').map_or(0, |at| at + 1);
        let lines = doc_lines(text, before.start, line_start.max(before.start));
        if !lines.is_empty() {
            out.push_str(&lines.join("\n"));
            out.push_str("\n\n");
        }
    }

    /// One statement of a body: a template's `expr` as a PromQL block, a
    /// field as `key: value`, a role's rule on one line, anything else as
    /// written.
    fn statement(&self, stmt: &Stmt, out: &mut String) {
        match &stmt.kind {
            StmtKind::Field(field) => {
                let key = match &field.key {
                    Key::Path(path) => path_text(path).into_owned(),
                    Key::Str(string) => self.written(string.span).to_string(),
                };
                match &field.value {
                    FieldValue::Expr(expr) => match &expr.kind {
                        ExprKind::Str(string) if key == "expr" && string.raw => {
                            let written = self.written(string.span);
                            // A raw string's text is what lies between its backquotes.
                            let inner = &written[1..written.len() - 1];
                            out.push_str(&fenced("promql", inner));
                            out.push('\n');
                        }
                        _ => bullet(out, &key, &self.written_lines(expr.span)),
                    },
                    FieldValue::Block(_) => bullet(out, &key, &self.written_lines(stmt.span)),
                }
            }
            StmtKind::Allow(allow) => {
                let items = |list: &List| {
                    list.items
                        .iter()
                        .map(|item| self.written(item.span))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let rule = format!(
                    "allow [{}] on [{}]",
                    items(&allow.verbs),
                    items(&allow.resources)
                );
                bullet(out, "", &rule);
            }
            StmtKind::Grant(_)
            | StmtKind::If(_)
            | StmtKind::For(_)
            | StmtKind::Ingress(_)
            | StmtKind::Egress(_)
            | StmtKind::Metrics(_)
            | StmtKind::Stage(_)
            | StmtKind::Alert(_)
            | StmtKind::Quota(_)
            | StmtKind::Limits(_)
            | StmtKind::Forbid(_)
            | StmtKind::Require(_)
            | StmtKind::Accept(_) => bullet(out, "", &self.written_lines(stmt.span)),
        }
    }
}

/// What the reference shows of a module.
enum Declaration<'a> {
    Template(&'a AlertTemplate),
    Role(&'a Role),
    ClusterRole(&'a Role),
    Resource(&'a Resource),
    Policy(&'a Policy),
}

impl<'a> Declaration<'a> {
    fn kind(&self) -> Kind {
        match self {
            Declaration::Template(_) => Kind::Template,
            Declaration::Role(_) => Kind::Role,
            Declaration::ClusterRole(_) => Kind::ClusterRole,
            Declaration::Resource(_) => Kind::Resource,
            Declaration::Policy(_) => Kind::Policy,
        }
    }

    fn name(&self, module: &'a Module) -> &'a str {
        match self {
            Declaration::Template(template) => module.name_of(&template.name),
            Declaration::Role(role) | Declaration::ClusterRole(role) => module.name_of(&role.name),
            Declaration::Resource(resource) => &resource.name.text,
            Declaration::Policy(policy) => module.name_of(&policy.name),
        }
    }
}

/// The kinds of declaration a module offers, each a section of its
/// reference.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Template,
    Role,
    ClusterRole,
    Resource,
    Policy,
}

impl Kind {
    /// In the order the reference shows them.
    const ALL: [Kind; 5] = [
        Kind::Template,
        Kind::Role,
        Kind::ClusterRole,
        Kind::Resource,
        Kind::Policy,
    ];

    fn plural(self) -> &'static str {
        match self {
            Kind::Template => "alert templates",
            Kind::Role => "roles",
            Kind::ClusterRole => "cluster roles",
            Kind::Resource => "custom resources",
            Kind::Policy => "policies",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Kind::Template => "Alert templates",
            Kind::Role => "Roles",
            Kind::ClusterRole => "Cluster roles",
            Kind::Resource => "Custom resources",
            Kind::Policy => "Policies",
        }
    }

    /// How a program uses one, for the section's first paragraph.
    fn usage(self) -> &'static str {
        match self {
            Kind::Template => {
                "An env uses a template with `alert NAME`, its parameters at their defaults, \
                 or `alert NAME { PARAMETER = VALUE }`. In an expression, `${namespace}` is \
                 the env's namespace and `${PARAMETER}` a parameter's value; `{{ … }}` is \
                 Prometheus' own templating."
            }
            Kind::Role => {
                "An env grants a role with `grant ROLE to user|group|serviceaccount \"NAME\"`; \
                 each becomes a namespaced Role and RoleBinding."
            }
            Kind::ClusterRole => {
                "A program grants a cluster role with `grant ROLE to user|group|serviceaccount \"NAME\" \
                 on cluster CLUSTER`; each becomes a ClusterRole and ClusterRoleBinding."
            }
            Kind::Policy => {
                "Importing the module puts each policy in force over the whole program: a \
                 violation is an error at the object that breaks it (see \
                 [Policies](language.md#policies)). `waive NAME for env ENV because \"…\"` \
                 excuses a deliberate exception."
            }
            Kind::Resource => {
                "A role names a custom resource by its plural (`rollouts`) where no other \
                 resource has that plural, else with its group (`rollouts.argoproj.io`); its \
                 subresources as `rollouts/status`. Unless a declaration says otherwise, a \
                 resource is namespaced and serves every verb a custom resource serves."
            }
        }
    }
}

fn heading(out: &mut String, level: usize, text: &str) {
    out.push_str(&"#".repeat(level));
    out.push(' ');
    out.push_str(text);
    out.push_str("\n\n");
}

/// The first paragraph of the comment a file starts with: its title line
/// and what follows up to the first empty `//` line.
fn header_paragraph(text: &str) -> Vec<&str> {
    text.lines()
        .map_while(|line| line.trim().strip_prefix("//"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .take_while(|line| !line.trim().is_empty())
        .collect()
}

/// The comment lines of `text[from..to]` that end right above `to` (a
/// line start), without their `// `. A line that begins before `from`, the
/// end of the item before, is not a line of its own and is not looked at.
fn doc_lines(text: &str, from: usize, to: usize) -> Vec<&str> {
    let first_whole = if from == 0 || text[..from].ends_with('\n') {
        from
    } else {
        text[from..to].find('\n').map_or(to, |at| from + at + 1)
    };
    let mut lines: Vec<&str> = text[first_whole..to]
        .lines()
        .rev()
        .map_while(|line| line.trim().strip_prefix("//"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    lines.reverse();
    lines
}

/// `- label: `value`` (or `- `value`` with no label) for a one-line value;
/// a longer one as a block under it.
fn bullet(out: &mut String, label: &str, value: &str) {
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("{label}: ")
    };
    if value.contains('\n') {
        out.push_str(format!("- {label}").trim_end());
        out.push_str("\n\n");
        for line in fenced("text", value).lines() {
            if !line.is_empty() {
                out.push_str("  ");
                out.push_str(line);
            }
            out.push('\n');
        }
    } else {
        out.push_str(&format!("- {label}{}\n", code(value)));
    }
}

/// `text` as inline code, between enough backquotes that none inside
/// closes it.
fn code(text: &str) -> String {
    let fence = "`".repeat(longest_backquote_run(text) + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// `text` as a fenced block tagged `tag`, its fence longer than any run of
/// backquotes inside.
fn fenced(tag: &str, text: &str) -> String {
    let fence = "`".repeat((longest_backquote_run(text) + 1).max(3));
    format!("{fence}{tag}\n{}\n{fence}\n", text.trim_end())
}

fn longest_backquote_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `` `a`, `b`, `c` `` for a sentence.
fn code_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| code(name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doc_comment_is_the_comment_lines_right_above() {
        let text = "a {}  // trailing\n// not this: a blank line follows\n\n// one\n//   two\nalert X {}\n";
        let from = text.find("  //").expect("the first item's end");
        let to = text.find("alert").expect("the item");
        assert_eq!(doc_lines(text, from, to), ["one", "  two"]);
        let close = "a {}\n// right below\nalert X {}\n";
        let to = close.find("alert").expect("the item");
        assert_eq!(doc_lines(close, 4, to), ["right below"]);
        assert!(doc_lines("a {}  // trailing\nalert X {}\n", 4, 18).is_empty());
    }

    #[test]
    fn code_never_closes_early() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("`a`"), "`` `a` ``");
        assert_eq!(fenced("", "a ``` b"), "````\na ``` b\n````\n");
    }

    #[test]
    fn what_the_stdlib_does_not_write_yet_is_shown_as_written() {
        let text = "alert Odd(level: string, for: duration = 1m) {\n  \
                    expr = \"up{namespace=\\\"${namespace}\\\"} == 0\"\n  \
                    severity = info\n  \
                    labels {\n    team = \"a|b\"\n  }\n}\n\n\
                    role odd {\n  allow [get] on [\"pods/log\"]\n}\n";
        let module = Module::parse("std/odd", text);
        let mut out = String::new();
        module.render(1, &mut out);
        for expected in [
            "| `level` | string | none: every use gives it |",
            "| `for` | duration | `1m` |",
            "- expr: `\"up{namespace=\\\"${namespace}\\\"} == 0\"`",
            "- labels:\n\n  ```text\n  labels {\n    team = \"a|b\"\n  }\n  ```\n",
            "- `allow [get] on [\"pods/log\"]`",
        ] {
            assert!(out.contains(expected), "{expected} in\n{out}");
        }
    }

    #[test]
    fn every_module_has_a_reference_and_nothing_else_does() {
        for name in modules() {
            let text = module_reference(name).expect("a module");
            assert!(text.starts_with(&format!("# {name}\n")), "{text}");
        }
        assert_eq!(module_reference("std/nothing"), None);
        assert_eq!(module_reference("alerts"), None);
        assert!(unknown_module("std/alert").contains("did you mean `std/alerts`?"));
    }
}
