//! The formatter behind `envk fmt`: a parsed file printed back in the
//! canonical layout, with its comments.
//!
//! Choices, so that formatting never churns diffs: two spaces of indent; a
//! block or list stays on one line when it was on one line, has no comment
//! inside and fits in 100 columns, and is otherwise one statement (or item)
//! per line; one blank line is kept where the source had one or more, none
//! where it had none; nothing is aligned. Literals (numbers, strings) are
//! printed exactly as written, so formatting never changes a value.
//!
//! Invariants (property-tested): `format` is idempotent, and the formatted
//! text parses to the same tree as the original, spans aside.

use super::ast::*;
use super::parse;
use crate::diag::Diagnostic;
use crate::source::{SourceFile, Span};

const WIDTH: usize = 100;
const INDENT: &str = "  ";

/// The canonical text of a file, or its syntax errors (a broken file is
/// never reformatted).
pub fn format(file: &SourceFile) -> Result<String, Vec<Diagnostic>> {
    let (ast, diagnostics) = parse(file);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut printer = Printer {
        text: file.text(),
        base: file.base(),
        comments: super::comments(file.text()),
        next_comment: 0,
        out: String::with_capacity(file.text().len()),
        depth: 0,
        last_end: 0,
    };
    printer.items(&ast.items, None);
    printer.flush_comments(usize::MAX);
    let mut out = printer.out;
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

struct Printer<'s> {
    text: &'s str,
    base: u32,
    /// Local byte ranges of every `//` comment, in order.
    comments: Vec<(usize, usize)>,
    next_comment: usize,
    out: String,
    depth: usize,
    /// Where what was printed last ends in the source, to keep blank lines.
    last_end: usize,
}

impl Printer<'_> {
    fn local(&self, span: Span) -> (usize, usize) {
        (
            (span.start - self.base) as usize,
            (span.end - self.base) as usize,
        )
    }

    fn source(&self, span: Span) -> &str {
        let (start, end) = self.local(span);
        &self.text[start..end]
    }

    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Whether the source has an empty line between two offsets.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let parts: Vec<&str> = self.text[from.min(to)..to].split('\n').collect();
        parts.len() >= 3
            && parts[1..parts.len() - 1]
                .iter()
                .any(|line| line.trim().is_empty())
    }

    /// One blank line before the next thing, where the source had one.
    fn keep_blank_line(&mut self, next: usize) {
        let at_block_start =
            self.out.is_empty() || self.out.ends_with("{\n") || self.out.ends_with("[\n");
        if !at_block_start && !self.out.ends_with("\n\n") && self.blank_between(self.last_end, next)
        {
            self.out.push('\n');
        }
    }

    fn has_comment_in(&self, span: Span) -> bool {
        let (start, end) = self.local(span);
        self.comments[self.next_comment..]
            .iter()
            .any(|&(s, _)| s >= start && s < end)
    }

    /// Prints the comments that start before `before`, each on its own line.
    fn flush_comments(&mut self, before: usize) {
        while let Some(&(start, end)) = self.comments.get(self.next_comment) {
            if start >= before {
                break;
            }
            self.next_comment += 1;
            if !self.out.is_empty() && !self.out.ends_with('\n') {
                self.newline();
            }
            self.keep_blank_line(start);
            self.indent();
            self.out.push_str(self.text[start..end].trim_end());
            self.newline();
            self.last_end = end;
        }
    }

    /// A comment right after `end` on the same source line, with nothing
    /// but spaces between: printed at the end of the current line. One
    /// after more code (the `}` of a block the printer breaks over lines)
    /// is that code's.
    fn trailing_comment(&mut self, end: usize) {
        if let Some(&(start, comment_end)) = self.comments.get(self.next_comment) {
            let between = &self.text[end.min(start)..start];
            if start >= end && between.trim().is_empty() && !between.contains('\n') {
                self.next_comment += 1;
                self.out.push_str("  ");
                self.out.push_str(self.text[start..comment_end].trim_end());
                self.last_end = comment_end;
            }
        }
    }

    /// Items of a file or a `for` body, one per line, blank lines kept.
    /// One item or statement on its own line: the comments before it, a
    /// blank line where the source had one, then its trailing comment.
    fn line(&mut self, span: Span, print: impl FnOnce(&mut Self)) {
        let (start, end) = self.local(span);
        self.flush_comments(start);
        self.keep_blank_line(start);
        self.indent();
        print(self);
        self.last_end = end;
        self.trailing_comment(end);
        self.newline();
    }

    /// After a body's `{` written right after `after` (a condition, a
    /// loop's list): a comment that followed the `{` on its line stays
    /// there.
    fn comment_after_brace(&mut self, after: Span) {
        let (_, end) = self.local(after);
        if let Some(offset) = self.text[end..].find('{') {
            self.trailing_comment(end + offset + 1);
        }
    }

    fn items(&mut self, items: &[Item], closing: Option<usize>) {
        for item in items {
            self.line(item.span, |printer| printer.item(item));
        }
        if let Some(closing) = closing {
            self.flush_comments(closing);
        }
    }

    fn item(&mut self, item: &Item) {
        match &item.kind {
            ItemKind::Import(import) => {
                self.out.push_str("import ");
                self.string(&import.path);
            }
            ItemKind::Cluster(cluster) => {
                self.out.push_str("cluster ");
                self.name(&cluster.name);
                self.out.push(' ');
                self.block(&cluster.body);
            }
            ItemKind::Tier(tier) => {
                self.out.push_str("tier ");
                self.name(&tier.name);
                if let Some(parent) = &tier.extends {
                    self.out.push_str(" extends ");
                    self.name(parent);
                }
                self.out.push(' ');
                self.block(&tier.body);
            }
            ItemKind::Role(role) => {
                self.out.push_str("role ");
                self.name(&role.name);
                self.out.push(' ');
                self.block(&role.body);
            }
            ItemKind::ClusterRole(role) => {
                self.out.push_str("cluster_role ");
                self.name(&role.name);
                self.out.push(' ');
                self.block(&role.body);
            }
            ItemKind::GitOps(body) => {
                self.out.push_str("gitops ");
                self.block(body);
            }
            ItemKind::Federation(body) => {
                self.out.push_str("federation ");
                self.block(body);
            }
            ItemKind::Policy(policy) => self.policy(policy),
            ItemKind::Waive(waive) => {
                self.out.push_str("waive ");
                self.name(&waive.policy);
                self.out.push_str(" for ");
                self.out.push_str(waive.kind.as_str());
                self.out.push(' ');
                self.name(&waive.target);
                self.out.push_str(" because ");
                self.string(&waive.reason);
            }
            ItemKind::Receiver(receiver) => {
                self.out.push_str("receiver ");
                self.name(&receiver.name);
                self.out.push(' ');
                self.block(&receiver.body);
            }
            ItemKind::Route(route) => {
                self.out.push_str("route");
                for matcher in &route.matchers {
                    self.out.push(' ');
                    self.out.push_str(&matcher.label.text);
                    self.out.push(' ');
                    self.name(&matcher.value);
                }
                self.out.push_str(" to ");
                self.name(&route.receiver);
            }
            ItemKind::Resource(resource) => {
                self.out.push_str("resource ");
                self.out.push_str(&resource.name.text);
                self.out.push(' ');
                self.block(&resource.body);
            }
            ItemKind::External(external) => {
                self.out.push_str("external ");
                self.name(&external.name);
                self.out.push_str(" on");
                self.cluster_list(&external.clusters);
                if let Some(body) = &external.body {
                    self.out.push(' ');
                    self.block(body);
                }
            }
            ItemKind::ClusterGrant(grant) => {
                self.out.push_str("grant ");
                self.name(&grant.role);
                self.subject(grant.subject_kind, &grant.subject);
                self.out.push_str(" on cluster");
                self.cluster_list(&grant.clusters);
            }
            ItemKind::Let(binding) => {
                self.out.push_str("let ");
                self.out.push_str(&binding.name.text);
                self.out.push_str(" = ");
                self.expr(&binding.value);
            }
            ItemKind::Env(env) => {
                self.out.push_str("env ");
                self.name(&env.name);
                if let Some(placement) = &env.placement {
                    self.placement(placement);
                }
                self.out.push(' ');
                self.block(&env.body);
            }
            ItemKind::For(for_loop) => {
                self.for_head(&for_loop.var, &for_loop.iterable);
                self.out.push_str(" {");
                self.comment_after_brace(for_loop.iterable.span);
                self.newline();
                self.depth += 1;
                let (_, end) = self.local(item.span);
                self.items(&for_loop.items, Some(end));
                self.depth -= 1;
                self.indent();
                self.out.push('}');
            }
            ItemKind::If(if_item) => {
                let (_, end) = self.local(item.span);
                self.if_item(if_item, end);
            }
            ItemKind::AlertTemplate(template) => {
                self.out.push_str("alert ");
                self.name(&template.name);
                if !template.params.is_empty() {
                    self.out.push('(');
                    for (index, param) in template.params.iter().enumerate() {
                        if index > 0 {
                            self.out.push_str(", ");
                        }
                        self.out.push_str(&param.name.text);
                        self.out.push_str(": ");
                        self.out.push_str(&param.ty.text);
                        if let Some(default) = &param.default {
                            self.out.push_str(" = ");
                            self.expr(default);
                        }
                    }
                    self.out.push(')');
                }
                self.out.push(' ');
                self.block(&template.body);
            }
        }
    }

    /// `if COND { items } else …`, ending at `end`: each body's own
    /// comments stay in it.
    fn if_item(&mut self, if_item: &If<Vec<Item>>, end: usize) {
        self.out.push_str("if ");
        self.cond(&if_item.cond);
        self.out.push_str(" {");
        self.comment_after_brace(if_item.cond.span);
        self.newline();
        self.depth += 1;
        let then_end = if_item
            .otherwise
            .as_ref()
            .map_or(end, |otherwise| self.local(otherwise.span).0);
        self.items(&if_item.then, Some(then_end));
        self.depth -= 1;
        self.indent();
        self.out.push('}');
        if let Some(otherwise) = &if_item.otherwise {
            self.out.push_str(" else ");
            match &otherwise.kind {
                ElseKind::If(inner) => self.if_item(inner, end),
                ElseKind::Body(items) => {
                    self.out.push('{');
                    let (start, _) = self.local(otherwise.span);
                    if let Some(offset) = self.text[start..].find('{') {
                        self.trailing_comment(start + offset + 1);
                    }
                    self.newline();
                    self.depth += 1;
                    self.items(items, Some(end));
                    self.depth -= 1;
                    self.indent();
                    self.out.push('}');
                }
            }
        }
    }

    /// `if COND { … } else …` among statements: each body a block, on one
    /// line where it was and fits.
    /// `for VAR in ITERABLE`, of an item or a statement.
    fn for_head(&mut self, var: &Ident, iterable: &Expr) {
        self.out.push_str("for ");
        self.out.push_str(&var.text);
        self.out.push_str(" in ");
        self.expr(iterable);
    }

    fn if_stmt(&mut self, if_stmt: &If<Block>) {
        self.out.push_str("if ");
        self.cond(&if_stmt.cond);
        self.out.push(' ');
        self.block(&if_stmt.then);
        if let Some(otherwise) = &if_stmt.otherwise {
            self.out.push_str(" else ");
            match &otherwise.kind {
                ElseKind::If(inner) => self.if_stmt(inner),
                ElseKind::Body(block) => self.block(block),
            }
        }
    }

    fn cond(&mut self, cond: &Cond) {
        match &cond.kind {
            CondKind::Value(expr) => self.expr(expr),
            CondKind::Compare(left, op, right) => {
                self.expr(left);
                self.out.push(' ');
                self.out.push_str(op.as_str());
                self.out.push(' ');
                self.expr(right);
            }
            CondKind::Not(inner) => {
                self.out.push_str("not ");
                self.cond(inner);
            }
            CondKind::Group(inner) => {
                self.out.push('(');
                self.cond(inner);
                self.out.push(')');
            }
            CondKind::And(left, right) => {
                self.cond(left);
                self.out.push_str(" and ");
                self.cond(right);
            }
            CondKind::Or(left, right) => {
                self.cond(left);
                self.out.push_str(" or ");
                self.cond(right);
            }
        }
    }

    /// `policy NAME "…" {`, its settings one a line, then its predicate as
    /// written: its line breaks and comments are the author's layout of a
    /// long formula, so only its indentation moves with the block's.
    fn policy(&mut self, policy: &Policy) {
        self.out.push_str("policy ");
        self.name(&policy.name);
        if let Some(description) = &policy.description {
            self.out.push(' ');
            self.string(description);
        }
        self.out.push_str(" {");
        let before_brace = policy
            .description
            .as_ref()
            .map_or(policy.name.span(), |description| description.span);
        self.comment_after_brace(before_brace);
        self.newline();
        self.depth += 1;
        for stmt in &policy.settings.stmts {
            self.line(stmt.span, |printer| printer.stmt(stmt));
        }
        let (start, end) = self.local(policy.rule.span);
        self.line(policy.rule.span, |printer| {
            let line_start = printer.text[..start].rfind('\n').map_or(0, |at| at + 1);
            let written_indent = start - line_start;
            let indent = printer.depth * INDENT.len();
            for (index, line) in printer.text[start..end].split('\n').enumerate() {
                if index > 0 {
                    printer.newline();
                    let spaces = line.len() - line.trim_start_matches(' ').len();
                    let kept = (spaces + indent).saturating_sub(written_indent);
                    printer.out.extend(std::iter::repeat_n(' ', kept));
                    printer
                        .out
                        .push_str(line.trim_start_matches(' ').trim_end());
                } else {
                    printer.out.push_str(line.trim_end());
                }
            }
            // The comments inside were printed with it.
            while printer
                .comments
                .get(printer.next_comment)
                .is_some_and(|&(comment, _)| comment < end)
            {
                printer.next_comment += 1;
            }
        });
        let (_, block_end) = self.local(policy.settings.span);
        self.flush_comments(block_end);
        self.depth -= 1;
        self.indent();
        self.out.push('}');
    }

    fn placement(&mut self, placement: &Placement) {
        self.out.push_str(" on");
        self.cluster_list(&placement.clusters);
        self.out.push_str(" tier ");
        self.name(&placement.tier);
    }

    /// ` prod-eu` or ` [prod-eu, prod-us]`, after `on` or `on cluster`.
    fn cluster_list(&mut self, list: &ClusterList) {
        self.out.push(' ');
        match (list.bracketed, list.names.as_slice()) {
            (false, [name]) => self.name(name),
            _ => self.bracketed(list.span, &list.names, Name::span, Self::name),
        }
    }

    /// ` to group "sre"`.
    fn subject(&mut self, kind: SubjectKind, subject: &StringLit) {
        self.out.push_str(match kind {
            SubjectKind::User => " to user ",
            SubjectKind::Group => " to group ",
            SubjectKind::ServiceAccount => " to serviceaccount ",
        });
        self.string(subject);
    }

    fn name(&mut self, name: &Name) {
        match name {
            Name::Ident(ident) => self.out.push_str(&ident.text),
            Name::Str(string) => self.string(string),
        }
    }

    fn string(&mut self, string: &StringLit) {
        let text = self.source(string.span).to_string();
        self.out.push_str(&text);
    }

    /// A block inline (`{ a = 1  b = 2 }`) or one statement per line.
    fn block(&mut self, block: &Block) {
        if block.stmts.is_empty() && !self.has_comment_in(block.span) {
            self.out.push_str("{}");
            return;
        }
        if let Some(inline) = self.inline_block(block) {
            self.out.push_str(&inline);
            return;
        }
        self.out.push('{');
        self.newline();
        self.depth += 1;
        for stmt in &block.stmts {
            self.line(stmt.span, |printer| printer.stmt(stmt));
        }
        let (_, block_end) = self.local(block.span);
        self.flush_comments(block_end);
        self.depth -= 1;
        self.indent();
        self.out.push('}');
    }

    /// The one-line form of a block, when the source had it on one line,
    /// it has no comment, and it fits.
    fn inline_block(&mut self, block: &Block) -> Option<String> {
        let source = self.source(block.span);
        if source.contains('\n') || self.has_comment_in(block.span) {
            return None;
        }
        let mut inner = Printer {
            text: self.text,
            base: self.base,
            comments: Vec::new(),
            next_comment: 0,
            out: String::new(),
            depth: 0,
            last_end: 0,
        };
        inner.out.push_str("{ ");
        for (index, stmt) in block.stmts.iter().enumerate() {
            if index > 0 {
                inner.out.push_str("  ");
            }
            inner.stmt(stmt);
            if inner.out.contains('\n') {
                return None;
            }
        }
        inner.out.push_str(" }");
        (self.column() + inner.out.len() <= WIDTH).then_some(inner.out)
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Field(field) => {
                match &field.key {
                    Key::Path(segments) => {
                        let path: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
                        self.out.push_str(&path.join("."));
                    }
                    Key::Str(string) => self.string(string),
                }
                match &field.value {
                    FieldValue::Expr(expr) => {
                        self.out.push_str(" = ");
                        self.expr(expr);
                    }
                    FieldValue::Block(block) => {
                        self.out.push(' ');
                        self.block(block);
                    }
                }
            }
            StmtKind::Grant(grant) => {
                self.out.push_str("grant ");
                self.name(&grant.role);
                self.subject(grant.subject_kind, &grant.subject);
                if let Some(name) = &grant.binding_name {
                    self.out.push_str(" as ");
                    self.name(name);
                }
            }
            StmtKind::Ingress(ingress) => {
                self.out.push_str("ingress allow from ");
                self.peer(&ingress.from);
                self.ports(&ingress.ports);
            }
            StmtKind::Egress(egress) => match egress {
                Egress::Dns => self.out.push_str("egress allow dns"),
                Egress::DenyDns => self.out.push_str("egress deny dns"),
                Egress::To { peer, ports } => {
                    self.out.push_str("egress allow to ");
                    self.peer(peer);
                    self.ports(ports);
                }
            },
            StmtKind::Metrics(metrics) => {
                self.out.push_str("metrics");
                self.ports(&metrics.ports);
            }
            StmtKind::If(if_stmt) => self.if_stmt(if_stmt),
            StmtKind::For(for_stmt) => {
                self.for_head(&for_stmt.var, &for_stmt.iterable);
                self.out.push(' ');
                self.block(&for_stmt.body);
            }
            StmtKind::Stage(stage) => {
                self.out.push_str("stage ");
                self.name(&stage.name);
                self.placement(&stage.placement);
                self.out.push(' ');
                self.block(&stage.body);
            }
            StmtKind::Alert(alert) => {
                self.out.push_str("alert ");
                self.name(&alert.template);
                if let Some(rename) = &alert.rename {
                    self.out.push_str(" as ");
                    self.name(rename);
                }
                if let Some(args) = &alert.args {
                    self.out.push(' ');
                    self.block(args);
                }
            }
            StmtKind::Quota(quota) => match quota {
                Quota::Expr(expr) => {
                    self.out.push_str("quota = ");
                    self.expr(expr);
                }
                Quota::Block { name, body } => {
                    self.out.push_str("quota ");
                    if let Some(name) = name {
                        self.name(name);
                        self.out.push(' ');
                    }
                    self.block(body);
                }
            },
            StmtKind::Limits(limits) => match limits {
                Limits::Expr(expr) => {
                    self.out.push_str("limits = ");
                    self.expr(expr);
                }
                Limits::Block {
                    name, kind, body, ..
                } => {
                    self.out.push_str("limits ");
                    if let Some(name) = name {
                        self.name(name);
                        self.out.push(' ');
                    }
                    self.out.push_str(limit_kind(*kind));
                    self.out.push(' ');
                    self.block(body);
                }
            },
            StmtKind::Allow(allow) => {
                self.out.push_str("allow ");
                self.list(&allow.verbs);
                self.out.push_str(" on ");
                self.list(&allow.resources);
            }
            StmtKind::Forbid(forbid) => match forbid {
                Forbid::Verbs(list) => {
                    self.out.push_str("forbid verbs ");
                    self.list(list);
                }
                Forbid::Resources(list) => {
                    self.out.push_str("forbid resources ");
                    self.list(list);
                }
                Forbid::Wildcards => self.out.push_str("forbid wildcards"),
            },
            StmtKind::Require(require) => {
                self.out.push_str("require alerts ");
                self.list(&require.alerts);
            }
            StmtKind::Accept(accept) => {
                self.out.push_str("accept from ");
                self.list(&accept.environments);
            }
        }
    }

    fn peer(&mut self, peer: &Peer) {
        match &peer.kind {
            PeerKind::Any => self.out.push_str("any"),
            PeerKind::Environment(name) => {
                self.out.push_str("environment ");
                self.name(name);
            }
            PeerKind::Env(name) => {
                self.out.push_str("env ");
                self.name(name);
            }
            PeerKind::External(name) => {
                self.out.push_str("external ");
                self.name(name);
            }
        }
    }

    fn ports(&mut self, ports: &[Port]) {
        for (index, port) in ports.iter().enumerate() {
            self.out.push_str(if index == 0 { " on " } else { ", " });
            self.out.push_str(match port.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            });
            self.out.push(' ');
            self.out.push_str(&port.number.to_string());
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Number(_) | ExprKind::Bool(_) => {
                let text = self.source(expr.span).to_string();
                self.out.push_str(&text);
            }
            ExprKind::Str(string) => self.string(string),
            ExprKind::Name(ident) => self.out.push_str(&ident.text),
            ExprKind::Field(path) => self.out.push_str(&path_text(path)),
            ExprKind::List(list) => self.list(list),
            ExprKind::Record(record) => {
                match record.tag {
                    Some(RecordTag::Quota) => self.out.push_str("quota "),
                    Some(RecordTag::Limits(kind)) => {
                        self.out.push_str("limits ");
                        self.out.push_str(limit_kind(kind));
                        self.out.push(' ');
                    }
                    None => {}
                }
                self.block(&record.body);
            }
            ExprKind::Mul(left, right) => {
                self.expr(left);
                self.out.push_str(" * ");
                self.expr(right);
            }
        }
    }

    /// `[a, b]` on one line when it was, has no comment and fits; else one
    /// item per line with a trailing comma.
    fn list(&mut self, list: &List) {
        self.bracketed(list.span, &list.items, |item| item.span, Self::expr);
    }

    /// `[a, b]` on one line when it was written on one and fits, else one
    /// item a line with the comments between them kept in place.
    fn bracketed<T>(
        &mut self,
        span: Span,
        items: &[T],
        item_span: fn(&T) -> Span,
        print: fn(&mut Self, &T),
    ) {
        let source = self.source(span);
        if !source.contains('\n') && !self.has_comment_in(span) {
            let start = self.out.len();
            self.out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    self.out.push_str(", ");
                }
                print(self, item);
            }
            self.out.push(']');
            if self.column() <= WIDTH && !self.out[start..].contains('\n') {
                return;
            }
            self.out.truncate(start);
        }
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.out.push('[');
        self.newline();
        self.depth += 1;
        for item in items {
            let (start, end) = self.local(item_span(item));
            self.flush_comments(start);
            self.indent();
            print(self, item);
            self.out.push(',');
            self.trailing_comment(end + usize::from(self.text[end..].starts_with(',')));
            self.newline();
        }
        let (_, list_end) = self.local(span);
        self.flush_comments(list_end);
        self.depth -= 1;
        self.indent();
        self.out.push(']');
    }
}

fn limit_kind(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Container => "container",
        LimitKind::Pod => "pod",
        LimitKind::PersistentVolumeClaim => "persistentvolumeclaim",
    }
}
