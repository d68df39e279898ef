//! Reading the fields of a block against what the block may hold.
//!
//! Every block kind (cluster, capacity, quota, deploy, …) names its fields;
//! anything else is "unknown field" with the closest known one, a field
//! written twice is reported with both places, and statements that do not
//! belong in the block are reported where they stand.

use std::borrow::Cow;

use crate::diag::{Code, Diagnostic};
use crate::resolve::value::{self, Record, Scope, Value, Vars};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, Block, FieldValue, Key, Stmt, StmtKind, path_text};

use super::schema::{self, Field};
use super::units::Diags;

/// The keys a block may hold.
#[derive(Clone, Copy)]
pub enum Keys<'k> {
    /// The fields of a table (`schema`).
    Table(&'static [Field]),
    /// These names: a quota's resources, a template's parameters.
    Names(&'k [&'k str]),
    /// Any key: a map such as `labels`.
    Any,
}

impl<'k> Keys<'k> {
    /// Whether `key` may be written, and the table's field it names.
    fn allows(self, key: &str) -> Option<Option<&'static Field>> {
        match self {
            Keys::Table(table) => table.iter().find(|field| field.name == key).map(Some),
            Keys::Names(names) => names.contains(&key).then_some(None),
            Keys::Any => Some(None),
        }
    }

    /// The names, for "did you mean" and "the fields of … are".
    fn names(self) -> Vec<&'k str> {
        match self {
            Keys::Table(table) => schema::names(table).collect(),
            Keys::Names(names) => names.to_vec(),
            Keys::Any => Vec::new(),
        }
    }
}

/// One field as written: its key, and its value not yet typed.
pub struct Entry<'a> {
    pub key: Cow<'a, str>,
    /// The table's field the key names, when the block is read against a
    /// table.
    pub field: Option<&'static Field>,
    pub key_span: Span,
    pub value: &'a FieldValue,
    pub span: Span,
}

/// The fields of a block, checked against the allowed keys.
pub struct Fields<'a> {
    pub entries: Vec<Entry<'a>>,
    /// Known keys that an unknown key was taken for (`enviroment` →
    /// `environment`): already reported, so not "missing" as well.
    pub misspelt: Vec<String>,
}

/// The text of a key: `requests.cpu`, or a quoted key as written.
pub fn key_text<'a>(key: &'a Key, scope: &Scope, diagnostics: &mut Diags) -> Option<Cow<'a, str>> {
    match key {
        Key::Path(segments) => Some(path_text(segments)),
        Key::Str(string) => value::interpolate(string, scope, diagnostics).map(Cow::Owned),
    }
}

/// The keyword a statement starts with, for "not allowed here".
pub fn statement_keyword(kind: &StmtKind) -> &'static str {
    kind.keyword()
        .map_or("a field", crate::syntax::keywords::StatementKeyword::quoted)
}

/// Where a statement does belong.
pub fn belongs(kind: &StmtKind) -> &'static str {
    match kind {
        StmtKind::Allow(_) => "a role",
        StmtKind::Forbid(_) | StmtKind::Require(_) | StmtKind::Accept(_) => "a tier",
        StmtKind::Stage(_) => "an env family (`env NAME { stage … }`)",
        StmtKind::Metrics(_) => "a tier, an env or a stage",
        StmtKind::If(_) | StmtKind::For(_) => {
            "the block of an env, a family or a stage, or among items"
        }
        StmtKind::Field(_)
        | StmtKind::Grant(_)
        | StmtKind::Ingress(_)
        | StmtKind::Egress(_)
        | StmtKind::Alert(_)
        | StmtKind::Quota(_)
        | StmtKind::Limits(_) => "an env",
    }
}

/// "`grant` does not belong in a cluster".
pub fn misplaced(stmt: &Stmt, context: &str, belongs: &str) -> Diagnostic {
    let keyword = statement_keyword(&stmt.kind);
    Diagnostic::new(
        Code::E0302,
        stmt.span,
        format!("{keyword} does not belong in {context}"),
    )
    .label(format!("not allowed in {context}"))
    .help(format!("{keyword} belongs in {belongs}"))
}

impl<'a> Fields<'a> {
    /// Collects the fields of `block`. Keys outside `allowed` are reported
    /// (E0302), as are duplicates (E0304). Statements other than fields are
    /// left to the caller, which knows which ones belong.
    pub fn read(
        block: &'a Block,
        allowed: Keys,
        context: &str,
        scope: &Scope,
        diagnostics: &mut Diags,
    ) -> Fields<'a> {
        let mut entries: Vec<Entry<'a>> = Vec::with_capacity(block.stmts.len());
        let mut misspelt = Vec::new();
        for stmt in &block.stmts {
            let StmtKind::Field(field) = &stmt.kind else {
                continue;
            };
            let Some(key) = key_text(&field.key, scope, diagnostics) else {
                continue;
            };
            let key_span = field.key.span();
            let Some(table_field) = allowed.allows(&key) else {
                let names = allowed.names();
                if let Some(close) = suggest::closest(&key, names.iter().copied()) {
                    misspelt.push(close.to_string());
                }
                diagnostics.push(unknown_field(&key, key_span, &names, context));
                continue;
            };
            if let Some(first) = entries.iter().find(|entry| entry.key == key) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0304,
                        key_span,
                        format!("`{key}` is set twice in {context}"),
                    )
                    .label("set again here")
                    .secondary(first.key_span, "first set here")
                    .help("remove one of them"),
                );
                continue;
            }
            entries.push(Entry {
                key,
                field: table_field,
                key_span,
                value: &field.value,
                span: stmt.span,
            });
        }
        Fields { entries, misspelt }
    }

    /// Like `read`, and also reports every statement in the block: for
    /// blocks that hold only fields.
    pub fn read_only_fields(
        block: &'a Block,
        allowed: Keys,
        context: &str,
        scope: &Scope,
        diagnostics: &mut Diags,
    ) -> Fields<'a> {
        for stmt in &block.stmts {
            if !matches!(stmt.kind, StmtKind::Field(_)) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0302,
                        stmt.span,
                        format!(
                            "{} does not belong in {context}",
                            statement_keyword(&stmt.kind)
                        ),
                    )
                    .label(format!("{context} holds only fields"))
                    .help(match &stmt.kind {
                        // `quota = …` and `limits = …` read as statements
                        // wherever they are; as keys they are quoted.
                        StmtKind::Quota(ast::Quota::Expr(_)) => {
                            "to use `quota` as a key, quote it: `\"quota\" = …`".to_string()
                        }
                        StmtKind::Limits(ast::Limits::Expr(_)) => {
                            "to use `limits` as a key, quote it: `\"limits\" = …`".to_string()
                        }
                        kind => format!("{} belongs in {}", statement_keyword(kind), belongs(kind)),
                    }),
                );
            }
        }
        Fields::read(block, allowed, context, scope, diagnostics)
    }

    pub fn get(&self, key: &str) -> Option<&Entry<'a>> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    /// Reports a required field that is absent, unless a misspelling of it
    /// was already reported.
    pub fn require(
        &self,
        key: &str,
        at: Span,
        context: &str,
        example: &str,
        diagnostics: &mut Diags,
    ) -> bool {
        if self.get(key).is_some() {
            return true;
        }
        if !self.misspelt.iter().any(|m| m == key) {
            diagnostics.push(missing(key, at, context, example));
        }
        false
    }
}

/// `` `a`, `b`, `c` ``.
pub fn list(allowed: &[&str]) -> String {
    list_ending(allowed, ", ")
}

/// `` `a`, `b` `` and so on, the last two joined by `last` (", ", " or ",
/// " and ").
pub fn list_ending(words: &[&str], last: &str) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    match quoted.split_last() {
        Some((final_word, [])) => final_word.clone(),
        Some((final_word, rest)) => format!("{}{last}{final_word}", rest.join(", ")),
        None => String::new(),
    }
}

pub fn unknown_field(key: &str, span: Span, allowed: &[&str], context: &str) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        Code::E0302,
        span,
        format!("unknown field `{key}` in {context}"),
    )
    .label("not a field of this block");
    match suggest::closest(key, allowed.iter().copied()) {
        Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
        None => diagnostic.help(format!("the fields of {context} are {}", list(allowed))),
    }
}

/// A missing required field, reported at the block (or item name) `at`.
pub fn missing(key: &str, at: Span, context: &str, example: &str) -> Diagnostic {
    Diagnostic::new(Code::E0303, at, format!("{context} has no `{key}`"))
        .label(format!("`{key}` is required here"))
        .help(format!("add `{key} = {example}`"))
}

/// The value of a field: an expression evaluated in `scope`, or a nested
/// block as a record.
pub fn field_value<'a>(
    entry: &Entry<'a>,
    scope: &Scope<'_, 'a>,
    diagnostics: &mut Diags,
) -> Option<Value<'a>> {
    match entry.value {
        FieldValue::Expr(expr) => super::units::eval(expr, scope, diagnostics),
        FieldValue::Block(block) => Some(Value::Record(Record {
            tag: None,
            body: block,
            vars: scope.vars.clone(),
            span: block.span,
            evaluated: None,
        })),
    }
}

/// The block of a record value, or "expected a block" at the value.
pub fn record<'a>(
    value: Value<'a>,
    what: &str,
    diagnostics: &mut Diags,
) -> Option<(Record<'a>, Vars<'a>)> {
    match value {
        Value::Record(record) => {
            let vars = record.vars.clone();
            Some((record, vars))
        }
        other => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0301,
                    other.span(),
                    format!("expected {what}, found {}", other.describe()),
                )
                .label(format!("this is {}", other.describe()))
                .help(format!("{what} is a block of fields: `{{ … }}`")),
            );
            None
        }
    }
}
