//! Record fields: `team.size` in a `for team in teams { … }` names the
//! `size` field of each record of `teams`.
//!
//! The reference table binds names, not the fields of records, so this
//! reads the source: the loop whose variable the path starts with, the
//! list it goes over (written in place, or a `let` bound in the reference
//! table), the field as each record writes it, and every access to it,
//! `VAR.FIELD` or `${VAR.FIELD}`, in the bodies of the loops over that
//! list (comments and string text skipped).

use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Block, Expr, ExprKind, Item, ItemKind, Key, StmtKind};

use super::analysis::Analysis;

/// A field of the records of a list, as one access names it.
pub struct RecordField {
    pub field: String,
    /// What the list is called: the `let`'s name, or the loop variable's.
    pub list: String,
    /// The field as each record writes it: its key, and its value's text.
    pub declared: Vec<(Span, String)>,
    /// Every access, the field's part of `VAR.FIELD`.
    pub uses: Vec<Span>,
    /// The access at the cursor.
    pub at: Span,
}

/// The record field whose access (or key in a record of the list) is at
/// a global offset.
pub fn at(analysis: &Analysis, file: &SourceFile, offset: u32) -> Option<RecordField> {
    let ast = analysis.ast(file)?;
    let text = file.text();
    let local = (offset - file.base()) as usize;
    // `VAR.FIELD` around the cursor.
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let around = super::analysis::run_around(text, local, |c| is_name(c) || c == '.', is_name);
    let (start, end) = (around.start, around.end);
    let path: Vec<&str> = text[start..end].split('.').collect();
    let [var, field] = path.as_slice() else {
        return None;
    };
    let loops = enclosing_loops(&ast.items, offset);
    let (_, iterable) = loops.iter().rev().find(|(name, _)| name == var)?;
    let list = list_of(analysis, iterable)?;
    let field_start = file.base() + (start + var.len() + 1) as u32;
    let at = Span::new(field_start, file.base() + end as u32);
    let mut found = records(analysis, &list, field)?;
    found.at = at;
    Some(found)
}

/// The list a loop goes over: the expression in place, or the value of
/// the `let` it names; with what to call it.
struct List<'a> {
    expr: &'a Expr,
    name: String,
    /// The `let`'s span, to find the other loops over it.
    binding: Option<Span>,
}

fn list_of<'a>(analysis: &'a Analysis, iterable: &'a Expr) -> Option<List<'a>> {
    match &iterable.kind {
        ExprKind::List(_) => Some(List {
            expr: iterable,
            name: "the loop's list".to_string(),
            binding: None,
        }),
        ExprKind::Name(ident) => {
            let id = analysis.run.references.bound(ident.span)?;
            let decl = analysis.run.references.decl(id);
            let file = analysis.run.sources.file_of(decl.span);
            let ast = analysis.ast(file)?;
            let value = let_value(&ast.items, decl.span)?;
            Some(List {
                expr: value,
                name: decl.name.clone(),
                binding: Some(decl.span),
            })
        }
        _ => None,
    }
}

fn let_value(items: &[Item], name: Span) -> Option<&Expr> {
    items.iter().find_map(|item| match &item.kind {
        ItemKind::Let(binding) if binding.name.span == name => Some(&binding.value),
        _ => None,
    })
}

/// The field in each record of the list, and its accesses in every loop
/// over the list.
fn records(analysis: &Analysis, list: &List, field: &str) -> Option<RecordField> {
    let ExprKind::List(elements) = &list.expr.kind else {
        return None;
    };
    let mut declared = Vec::new();
    for element in &elements.items {
        let ExprKind::Record(record) = &element.kind else {
            continue;
        };
        for stmt in &record.body.stmts {
            if let StmtKind::Field(written) = &stmt.kind
                && let Key::Path(path) = &written.key
                && path.len() == 1
                && path[0].text == field
            {
                let value = match &written.value {
                    crate::syntax::ast::FieldValue::Expr(expr) => analysis.text(expr.span),
                    crate::syntax::ast::FieldValue::Block(block) => analysis.text(block.span),
                };
                declared.push((path[0].span, value.to_string()));
            }
        }
    }
    if declared.is_empty() {
        return None;
    }
    let mut uses = Vec::new();
    for (_, file) in analysis.user_files() {
        let Some(ast) = analysis.ast(file) else {
            continue;
        };
        let mut loops = Vec::new();
        every_loop(&ast.items, &mut loops);
        for (var, iterable, body) in loops {
            let same = match (&iterable.kind, list.binding) {
                (ExprKind::Name(ident), Some(binding)) => analysis
                    .run
                    .references
                    .bound(ident.span)
                    .is_some_and(|id| analysis.run.references.decl(id).span == binding),
                (ExprKind::List(_), None) => iterable.span == list.expr.span,
                _ => false,
            };
            if same {
                accesses(file, body, var, field, &mut uses);
            }
        }
    }
    uses.sort_by_key(|span| (span.start, span.end));
    uses.dedup();
    Some(RecordField {
        field: field.to_string(),
        list: list.name.clone(),
        declared,
        uses,
        at: Span::new(0, 0),
    })
}

/// The loops (variable, list) around `offset`, outermost first.
fn enclosing_loops(items: &[Item], offset: u32) -> Vec<(String, &Expr)> {
    let mut loops = Vec::new();
    let mut found: Vec<(&str, &Expr, Span)> = Vec::new();
    every_loop(items, &mut found);
    for (var, iterable, body) in found {
        if body.start <= offset && offset <= body.end {
            loops.push((var.to_string(), iterable));
        }
    }
    loops
}

/// Every `for` among items and statements: its variable, its list and
/// the span of its body, outer loops before the loops they hold.
fn every_loop<'a>(items: &'a [Item], out: &mut Vec<(&'a str, &'a Expr, Span)>) {
    for item in items {
        match &item.kind {
            ItemKind::For(each) => {
                out.push((&each.var.text, &each.iterable, item.span));
                every_loop(&each.items, out);
            }
            ItemKind::If(chain) => {
                for items in chain.branches() {
                    every_loop(items, out);
                }
            }
            ItemKind::Env(env) => statement_loops(&env.body, out),
            _ => {}
        }
    }
}

fn statement_loops<'a>(block: &'a Block, out: &mut Vec<(&'a str, &'a Expr, Span)>) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::For(each) => {
                out.push((&each.var.text, &each.iterable, stmt.span));
                statement_loops(&each.body, out);
            }
            StmtKind::Stage(stage) => statement_loops(&stage.body, out),
            StmtKind::If(chain) => {
                for body in chain.branches() {
                    statement_loops(body, out);
                }
            }
            _ => {}
        }
    }
}

/// Each `VAR.FIELD` in the code of `body` (a loop's span) and in the
/// `${…}` of its strings, by the span of `FIELD`.
fn accesses(file: &SourceFile, body: Span, var: &str, field: &str, out: &mut Vec<Span>) {
    let text = file.text();
    let range = file.local(body);
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    #[derive(PartialEq)]
    enum State {
        Code,
        Comment,
        Text(u8),
        Interpolation(u8),
    }
    let mut state = State::Code;
    let mut at = range.start;
    while at < range.end {
        let byte = bytes[at];
        match state {
            State::Comment => {
                if byte == b'\n' {
                    state = State::Code;
                }
            }
            State::Text(quote) => {
                // An escape, or `$${`, which is text: skip the next byte.
                if (byte == b'\\' && quote == b'"')
                    || (byte == b'$' && bytes.get(at + 1) == Some(&b'$'))
                {
                    at += 1;
                } else if byte == b'$' && bytes.get(at + 1) == Some(&b'{') {
                    state = State::Interpolation(quote);
                    at += 1;
                } else if byte == quote {
                    state = State::Code;
                }
            }
            State::Code | State::Interpolation(_) => {
                if state == State::Code && byte == b'/' && bytes.get(at + 1) == Some(&b'/') {
                    state = State::Comment;
                } else if state == State::Code && (byte == b'"' || byte == b'`') {
                    state = State::Text(byte);
                } else if let State::Interpolation(quote) = state
                    && byte == b'}'
                {
                    state = State::Text(quote);
                } else if text[at..].starts_with(var)
                    && (at == 0 || !is_name(bytes[at - 1]) && bytes[at - 1] != b'.')
                {
                    let dot = at + var.len();
                    let end = dot + 1 + field.len();
                    if bytes.get(dot) == Some(&b'.')
                        && text.get(dot + 1..end) == Some(field)
                        && bytes.get(end).is_none_or(|&b| !is_name(b) && b != b'.')
                    {
                        let base = file.base();
                        out.push(Span::new(base + (dot + 1) as u32, base + end as u32));
                        at = end;
                        continue;
                    }
                }
            }
        }
        at += 1;
    }
}
