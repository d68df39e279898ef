//! A syntax tree as text a reviewer can read: one node a line, indented
//! under its parent, each with what it holds as written and its span.
//! `tests/syntax.rs` compares it with the `.ast` file beside each case.
//!
//! A span is `@line:column..line:column`, one-based, the end excluded, the
//! column counted in characters: the position an editor shows for the
//! cursor and the one rendered diagnostics give (`--> file:2:49`), so a
//! reviewer finds a node in the case without counting bytes.
//!
//! The dump is an explicit, exhaustive match over the AST's enums rather
//! than `{:#?}` with its spans rewritten: `Debug` spends four or five lines
//! on a node (`Ident {`, `text: …`, `span: …`, `}`), prints numbers as
//! mantissa and scale and strings only decoded, and a new node would appear
//! in it unreviewed. Here a new variant does not compile until it is given
//! a line.
//!
//! What each line says:
//! - identifiers and names exactly as written;
//! - a number as written, then what was read in parentheses (the value
//!   with its decimal point and suffix: `1h30m (5400000 ms)`);
//! - a string as written (a line break in it shown as `⏎`, a carriage
//!   return as `␍`), then its parts as decoded: `text "…"` (escaped as Rust
//!   writes a string; the tree keeps no span for a text part) and
//!   `interp a.b`;
//! - a dotted path (key or interpolation) on one line, with a `segment`
//!   line for each part when it has more than one.

use envk::source::{SourceFile, Span};
use envk::syntax::ast::*;

/// The dump of `ast`, parsed from `file`.
pub fn dump(file: &SourceFile, ast: &Ast) -> String {
    let mut dump = Dump {
        file,
        out: String::new(),
    };
    for item in &ast.items {
        dump.item(0, item);
    }
    dump.out
}

struct Dump<'a> {
    file: &'a SourceFile,
    out: String,
}

impl Dump<'_> {
    /// One line: `depth` levels in, `text`, then the span if there is one.
    fn line(&mut self, depth: usize, text: &str, span: Option<Span>) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        if let Some(span) = span {
            let range = self.file.local(span);
            let (start_line, start_col) = self.file.line_col(range.start);
            let (end_line, end_col) = self.file.line_col(range.end);
            self.out
                .push_str(&format!(" @{start_line}:{start_col}..{end_line}:{end_col}"));
        }
        self.out.push('\n');
    }

    fn written(&self, span: Span) -> &str {
        &self.file.text()[self.file.local(span)]
    }

    fn if_item(&mut self, depth: usize, if_item: &If<Vec<Item>>) {
        self.cond(depth, "cond", &if_item.cond);
        for item in &if_item.then {
            self.item(depth, item);
        }
        if let Some(otherwise) = &if_item.otherwise {
            self.line(depth, "else", Some(otherwise.span));
            match &otherwise.kind {
                ElseKind::Body(items) => {
                    for item in items {
                        self.item(depth + 1, item);
                    }
                }
                ElseKind::If(inner) => {
                    self.line(depth + 1, "if", None);
                    self.if_item(depth + 2, inner);
                }
            }
        }
    }

    fn if_stmt(&mut self, depth: usize, if_stmt: &If<Block>) {
        self.cond(depth, "cond", &if_stmt.cond);
        self.block(depth, "then", &if_stmt.then);
        if let Some(otherwise) = &if_stmt.otherwise {
            self.line(depth, "else", Some(otherwise.span));
            match &otherwise.kind {
                ElseKind::Body(block) => self.block(depth + 1, "body", block),
                ElseKind::If(inner) => {
                    self.line(depth + 1, "if", None);
                    self.if_stmt(depth + 2, inner);
                }
            }
        }
    }

    fn cond(&mut self, depth: usize, label: &str, cond: &Cond) {
        let span = Some(cond.span);
        match &cond.kind {
            CondKind::Value(expr) => {
                self.line(depth, &format!("{label} value"), span);
                self.expr(depth + 1, "is", expr);
            }
            CondKind::Compare(left, op, right) => {
                self.line(depth, &format!("{label} compare {}", op.as_str()), span);
                self.expr(depth + 1, "left", left);
                self.expr(depth + 1, "right", right);
            }
            CondKind::Not(inner) => {
                self.line(depth, &format!("{label} not"), span);
                self.cond(depth + 1, "of", inner);
            }
            CondKind::Group(inner) => {
                self.line(depth, &format!("{label} group"), span);
                self.cond(depth + 1, "of", inner);
            }
            CondKind::And(left, right) | CondKind::Or(left, right) => {
                let op = if matches!(cond.kind, CondKind::And(..)) {
                    "and"
                } else {
                    "or"
                };
                self.line(depth, &format!("{label} {op}"), span);
                self.cond(depth + 1, "left", left);
                self.cond(depth + 1, "right", right);
            }
        }
    }

    fn pred(&mut self, depth: usize, label: &str, pred: &Pred) {
        let span = Some(pred.span);
        match &pred.kind {
            PredKind::Quantified(quantified) => {
                let word = quantified.quantifier.as_str();
                self.line(depth, &format!("{label} {word}"), span);
                self.ident(depth + 1, "var", &quantified.var);
                self.pred_path(depth + 1, "in", &quantified.collection);
                if let Some(filter) = &quantified.filter {
                    self.pred(depth + 1, "where", filter);
                }
                self.pred(depth + 1, "body", &quantified.body);
            }
            PredKind::Not(inner) => {
                self.line(depth, &format!("{label} not"), span);
                self.pred(depth + 1, "of", inner);
            }
            PredKind::Group(inner) => {
                self.line(depth, &format!("{label} group"), span);
                self.pred(depth + 1, "of", inner);
            }
            PredKind::And(left, right)
            | PredKind::Or(left, right)
            | PredKind::Implies(left, right) => {
                let op = match pred.kind {
                    PredKind::And(..) => "and",
                    PredKind::Or(..) => "or",
                    _ => "implies",
                };
                self.line(depth, &format!("{label} {op}"), span);
                self.pred(depth + 1, "left", left);
                self.pred(depth + 1, "right", right);
            }
            PredKind::Compare(left, op, right) => {
                self.line(depth, &format!("{label} compare {}", op.as_str()), span);
                self.term(depth + 1, "left", left);
                self.term(depth + 1, "right", right);
            }
            PredKind::Matches(left, pattern) => {
                self.line(depth, &format!("{label} matches"), span);
                self.term(depth + 1, "left", left);
                self.string(depth + 1, "pattern", pattern);
            }
            PredKind::StartsWith(left, right)
            | PredKind::Has(left, right)
            | PredKind::In(left, right) => {
                let op = match pred.kind {
                    PredKind::StartsWith(..) => "starts_with",
                    PredKind::Has(..) => "has",
                    _ => "in",
                };
                self.line(depth, &format!("{label} {op}"), span);
                self.term(depth + 1, "left", left);
                self.term(depth + 1, "right", right);
            }
            PredKind::Value(term) => {
                self.line(depth, &format!("{label} value"), span);
                self.term(depth + 1, "is", term);
            }
        }
    }

    fn term(&mut self, depth: usize, label: &str, term: &Term) {
        let span = Some(term.span);
        match &term.kind {
            TermKind::Number(number) => self.line(
                depth,
                &format!("{label} number {}", number_read(number)),
                span,
            ),
            TermKind::Bool(value) => self.line(depth, &format!("{label} bool {value}"), span),
            TermKind::Str(string) => self.string(depth, label, string),
            TermKind::List(items) => {
                self.line(depth, &format!("{label} list"), span);
                for item in items {
                    self.term(depth + 1, "item", item);
                }
            }
            TermKind::Path(path) => self.pred_path(depth, label, path),
            TermKind::Count(count) => {
                self.line(depth, &format!("{label} count"), span);
                self.ident(depth + 1, "var", &count.var);
                self.pred_path(depth + 1, "in", &count.collection);
                if let Some(filter) = &count.filter {
                    self.pred(depth + 1, "where", filter);
                }
            }
            TermKind::Unique(unique) => {
                self.line(depth, &format!("{label} unique"), span);
                self.ident(depth + 1, "var", &unique.var);
                self.pred_path(depth + 1, "in", &unique.collection);
                if let Some(filter) = &unique.filter {
                    self.pred(depth + 1, "where", filter);
                }
                self.term(depth + 1, "key", &unique.key);
                if let Some(per) = &unique.per {
                    self.term(depth + 1, "per", per);
                }
            }
            TermKind::Mul(left, right) => {
                self.line(depth, &format!("{label} mul"), span);
                self.term(depth + 1, "left", left);
                self.term(depth + 1, "right", right);
            }
        }
    }

    fn pred_path(&mut self, depth: usize, label: &str, path: &Path) {
        let text: Vec<&str> = path.segments.iter().map(|s| s.text.as_str()).collect();
        self.line(
            depth,
            &format!("{label} path {}", text.join(".")),
            Some(path.span),
        );
        for segment in &path.segments {
            self.ident(depth + 1, "segment", segment);
        }
        if let Some(index) = &path.index {
            self.string(depth + 1, "index", index);
        }
    }

    fn item(&mut self, depth: usize, item: &Item) {
        let inner = depth + 1;
        match &item.kind {
            ItemKind::Import(import) => {
                self.line(depth, "import", Some(item.span));
                self.string(inner, "path", &import.path);
            }
            ItemKind::Cluster(cluster) => {
                self.line(depth, "cluster", Some(item.span));
                self.name(inner, "name", &cluster.name);
                self.block(inner, "body", &cluster.body);
            }
            ItemKind::Tier(tier) => {
                self.line(depth, "tier", Some(item.span));
                self.name(inner, "name", &tier.name);
                if let Some(parent) = &tier.extends {
                    self.name(inner, "extends", parent);
                }
                self.block(inner, "body", &tier.body);
            }
            ItemKind::Role(role) => {
                self.line(depth, "role", Some(item.span));
                self.name(inner, "name", &role.name);
                self.block(inner, "body", &role.body);
            }
            ItemKind::ClusterRole(role) => {
                self.line(depth, "cluster_role", Some(item.span));
                self.name(inner, "name", &role.name);
                self.block(inner, "body", &role.body);
            }
            ItemKind::GitOps(body) => {
                self.line(depth, "gitops", Some(item.span));
                self.block(inner, "body", body);
            }
            ItemKind::Federation(body) => {
                self.line(depth, "federation", Some(item.span));
                self.block(inner, "body", body);
            }
            ItemKind::Resource(resource) => {
                self.line(depth, "resource", Some(item.span));
                self.ident(inner, "name", &resource.name);
                self.block(inner, "body", &resource.body);
            }
            ItemKind::External(external) => {
                self.line(depth, "external", Some(item.span));
                self.name(inner, "name", &external.name);
                self.cluster_list(inner, &external.clusters);
                if let Some(body) = &external.body {
                    self.block(inner, "body", body);
                }
            }
            ItemKind::Receiver(receiver) => {
                self.line(depth, "receiver", Some(item.span));
                self.name(inner, "name", &receiver.name);
                self.block(inner, "body", &receiver.body);
            }
            ItemKind::Policy(policy) => {
                self.line(depth, "policy", Some(item.span));
                self.name(inner, "name", &policy.name);
                if let Some(description) = &policy.description {
                    self.string(inner, "description", description);
                }
                self.block(inner, "settings", &policy.settings);
                self.pred(inner, "rule", &policy.rule);
            }
            ItemKind::Waive(waive) => {
                self.line(depth, "waive", Some(item.span));
                self.name(inner, "policy", &waive.policy);
                self.line(
                    inner,
                    &format!("for {}", waive.kind.as_str()),
                    Some(waive.kind_span),
                );
                self.name(inner, "target", &waive.target);
                self.string(inner, "because", &waive.reason);
            }
            ItemKind::Route(route) => {
                self.line(depth, "route", Some(item.span));
                for matcher in &route.matchers {
                    self.line(inner, "match", Some(matcher.span()));
                    self.ident(inner + 1, "label", &matcher.label);
                    self.name(inner + 1, "value", &matcher.value);
                }
                self.name(inner, "to", &route.receiver);
            }
            ItemKind::ClusterGrant(grant) => {
                self.line(depth, "cluster grant", Some(item.span));
                self.name(inner, "role", &grant.role);
                let kind = subject_kind(grant.subject_kind);
                self.line(inner, &format!("to {kind}"), Some(grant.subject_kind_span));
                self.string(inner, "subject", &grant.subject);
                self.cluster_list(inner, &grant.clusters);
            }
            ItemKind::Let(binding) => {
                self.line(depth, "let", Some(item.span));
                self.ident(inner, "name", &binding.name);
                self.expr(inner, "value", &binding.value);
            }
            ItemKind::Env(env) => {
                self.line(depth, "env", Some(item.span));
                self.name(inner, "name", &env.name);
                if let Some(placement) = &env.placement {
                    self.placement(inner, placement);
                }
                self.block(inner, "body", &env.body);
            }
            ItemKind::For(for_loop) => {
                self.line(depth, "for", Some(item.span));
                self.ident(inner, "var", &for_loop.var);
                self.expr(inner, "in", &for_loop.iterable);
                for item in &for_loop.items {
                    self.item(inner, item);
                }
            }
            ItemKind::If(if_item) => {
                self.line(depth, "if", Some(item.span));
                self.if_item(inner, if_item);
            }
            ItemKind::AlertTemplate(template) => {
                self.line(depth, "alert template", Some(item.span));
                self.name(inner, "name", &template.name);
                for param in &template.params {
                    self.line(inner, "param", Some(param.span));
                    self.ident(inner + 1, "name", &param.name);
                    self.ident(inner + 1, "type", &param.ty);
                    if let Some(default) = &param.default {
                        self.expr(inner + 1, "default", default);
                    }
                }
                self.block(inner, "body", &template.body);
            }
        }
    }

    fn ident(&mut self, depth: usize, label: &str, ident: &Ident) {
        self.line(depth, &format!("{label} {}", ident.text), Some(ident.span));
    }

    fn name(&mut self, depth: usize, label: &str, name: &Name) {
        match name {
            Name::Ident(ident) => self.ident(depth, label, ident),
            Name::Str(string) => self.string(depth, label, string),
        }
    }

    /// A key path or an interpolation: `a.b.c` on one line, each segment
    /// on a line of its own beneath when there are several.
    fn path(&mut self, depth: usize, label: &str, path: &[Ident]) {
        let [first, .., last] = path else {
            let only = path.first().expect("a path has a segment");
            return self.ident(depth, label, only);
        };
        self.line(
            depth,
            &format!("{label} {}", path_text(path)),
            Some(first.span.to(last.span)),
        );
        for segment in path {
            self.ident(depth + 1, "segment", segment);
        }
    }

    fn string(&mut self, depth: usize, label: &str, string: &StringLit) {
        let written = self
            .written(string.span)
            .replace('\r', "␍")
            .replace('\n', "⏎");
        let kind = if string.raw { "raw string" } else { "string" };
        self.line(
            depth,
            &format!("{label} {kind} {written}"),
            Some(string.span),
        );
        for part in &string.parts {
            match part {
                StrPart::Text(text) => self.line(depth + 1, &format!("text {text:?}"), None),
                StrPart::Interp(path) => self.path(depth + 1, "interp", path),
            }
        }
    }

    fn placement(&mut self, depth: usize, placement: &Placement) {
        self.line(depth, "placement", Some(placement.span));
        match placement.clusters.names.as_slice() {
            [cluster] if !placement.clusters.bracketed => self.name(depth + 1, "cluster", cluster),
            _ => self.cluster_list(depth + 1, &placement.clusters),
        }
        self.name(depth + 1, "tier", &placement.tier);
    }

    fn block(&mut self, depth: usize, label: &str, block: &Block) {
        self.line(depth, label, Some(block.span));
        for stmt in &block.stmts {
            self.stmt(depth + 1, stmt);
        }
    }

    fn list(&mut self, depth: usize, label: &str, list: &List) {
        self.line(depth, &format!("{label} list"), Some(list.span));
        for item in &list.items {
            self.expr(depth + 1, "item", item);
        }
    }

    fn stmt(&mut self, depth: usize, stmt: &Stmt) {
        let inner = depth + 1;
        let span = Some(stmt.span);
        match &stmt.kind {
            StmtKind::Field(field) => {
                self.line(depth, "field", span);
                match &field.key {
                    Key::Path(path) => self.path(inner, "key", path),
                    Key::Str(string) => self.string(inner, "key", string),
                }
                match &field.value {
                    FieldValue::Expr(expr) => self.expr(inner, "value", expr),
                    FieldValue::Block(block) => self.block(inner, "value block", block),
                }
            }
            StmtKind::Grant(grant) => {
                self.line(depth, "grant", span);
                self.name(inner, "role", &grant.role);
                let kind = subject_kind(grant.subject_kind);
                self.line(inner, &format!("to {kind}"), Some(grant.subject_kind_span));
                self.string(inner, "subject", &grant.subject);
                if let Some(binding) = &grant.binding_name {
                    self.name(inner, "as", binding);
                }
            }
            StmtKind::Ingress(ingress) => {
                self.line(depth, "ingress allow", span);
                self.peer(inner, "from", &ingress.from);
                self.ports(inner, &ingress.ports);
            }
            StmtKind::Egress(egress) => match egress {
                Egress::Dns => self.line(depth, "egress allow dns", span),
                Egress::DenyDns => self.line(depth, "egress deny dns", span),
                Egress::To { peer, ports } => {
                    self.line(depth, "egress allow", span);
                    self.peer(inner, "to", peer);
                    self.ports(inner, ports);
                }
            },
            StmtKind::Metrics(metrics) => {
                self.line(depth, "metrics", span);
                self.ports(inner, &metrics.ports);
            }
            StmtKind::If(if_stmt) => {
                self.line(depth, "if", span);
                self.if_stmt(inner, if_stmt);
            }
            StmtKind::For(for_stmt) => {
                self.line(depth, "for", span);
                self.ident(inner, "var", &for_stmt.var);
                self.expr(inner, "in", &for_stmt.iterable);
                self.block(inner, "body", &for_stmt.body);
            }
            StmtKind::Stage(stage) => {
                self.line(depth, "stage", span);
                self.name(inner, "name", &stage.name);
                self.placement(inner, &stage.placement);
                self.block(inner, "body", &stage.body);
            }
            StmtKind::Alert(alert) => {
                self.line(depth, "alert", span);
                self.name(inner, "template", &alert.template);
                if let Some(rename) = &alert.rename {
                    self.name(inner, "as", rename);
                }
                if let Some(args) = &alert.args {
                    self.block(inner, "args", args);
                }
            }
            StmtKind::Quota(quota) => {
                self.line(depth, "quota", span);
                match quota {
                    Quota::Block { name, body } => {
                        if let Some(name) = name {
                            self.name(inner, "name", name);
                        }
                        self.block(inner, "body", body);
                    }
                    Quota::Expr(expr) => self.expr(inner, "value", expr),
                }
            }
            StmtKind::Limits(limits) => {
                self.line(depth, "limits", span);
                match limits {
                    Limits::Block {
                        name,
                        kind,
                        kind_span,
                        body,
                    } => {
                        if let Some(name) = name {
                            self.name(inner, "name", name);
                        }
                        self.line(
                            inner,
                            &format!("kind {}", limit_kind(*kind)),
                            Some(*kind_span),
                        );
                        self.block(inner, "body", body);
                    }
                    Limits::Expr(expr) => self.expr(inner, "value", expr),
                }
            }
            StmtKind::Allow(allow) => {
                self.line(depth, "allow", span);
                self.list(inner, "verbs", &allow.verbs);
                self.list(inner, "on", &allow.resources);
            }
            StmtKind::Forbid(forbid) => match forbid {
                Forbid::Verbs(list) => {
                    self.line(depth, "forbid", span);
                    self.list(inner, "verbs", list);
                }
                Forbid::Resources(list) => {
                    self.line(depth, "forbid", span);
                    self.list(inner, "resources", list);
                }
                Forbid::Wildcards => self.line(depth, "forbid wildcards", span),
            },
            StmtKind::Require(require) => {
                self.line(depth, "require", span);
                self.list(inner, "alerts", &require.alerts);
            }
            StmtKind::Accept(accept) => {
                self.line(depth, "accept", span);
                self.list(inner, "from", &accept.environments);
            }
        }
    }

    fn peer(&mut self, depth: usize, label: &str, peer: &Peer) {
        match &peer.kind {
            PeerKind::Any => self.line(depth, &format!("{label} any"), Some(peer.span)),
            PeerKind::Environment(environment) => {
                self.line(depth, &format!("{label} environment"), Some(peer.span));
                self.name(depth + 1, "name", environment);
            }
            PeerKind::Env(name) => {
                self.line(depth, &format!("{label} env"), Some(peer.span));
                self.name(depth + 1, "name", name);
            }
            PeerKind::External(name) => {
                self.line(depth, &format!("{label} external"), Some(peer.span));
                self.name(depth + 1, "name", name);
            }
        }
    }

    fn cluster_list(&mut self, depth: usize, list: &ClusterList) {
        let what = if list.bracketed {
            "on [clusters]"
        } else {
            "on cluster"
        };
        self.line(depth, what, Some(list.span));
        for name in &list.names {
            self.name(depth + 1, "name", name);
        }
    }

    fn ports(&mut self, depth: usize, ports: &[Port]) {
        for port in ports {
            let protocol = match port.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            };
            self.line(
                depth,
                &format!("port {protocol} {}", port.number),
                Some(port.span),
            );
        }
    }

    fn expr(&mut self, depth: usize, label: &str, expr: &Expr) {
        let span = Some(expr.span);
        match &expr.kind {
            ExprKind::Number(number) => {
                let text = format!(
                    "{label} number {} ({})",
                    self.written(expr.span),
                    number_read(number)
                );
                self.line(depth, &text, span);
            }
            ExprKind::Bool(value) => self.line(depth, &format!("{label} bool {value}"), span),
            ExprKind::Str(string) => self.string(depth, label, string),
            ExprKind::List(list) => self.list(depth, label, list),
            ExprKind::Record(record) => {
                let tag = match record.tag {
                    None => String::new(),
                    Some(RecordTag::Quota) => " quota".to_string(),
                    Some(RecordTag::Limits(kind)) => format!(" limits {}", limit_kind(kind)),
                };
                self.line(depth, &format!("{label} record{tag}"), span);
                self.block(depth + 1, "body", &record.body);
            }
            ExprKind::Name(ident) => {
                self.line(depth, &format!("{label} name {}", ident.text), span)
            }
            ExprKind::Field(path) => self.line(
                depth,
                &format!("{label} field {}", envk::syntax::ast::path_text(path)),
                span,
            ),
            ExprKind::Mul(left, right) => {
                self.line(depth, &format!("{label} mul"), span);
                self.expr(depth + 1, "left", left);
                self.expr(depth + 1, "right", right);
            }
        }
    }
}

fn limit_kind(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Container => "container",
        LimitKind::Pod => "pod",
        LimitKind::PersistentVolumeClaim => "persistentvolumeclaim",
    }
}

/// The number as read: its digits with the decimal point put back where
/// the scale says, then its suffix (`0.5`, `200 m`, `5400000 ms`).
fn number_read(number: &Number) -> String {
    let digits = number.mantissa.to_string();
    let scale = number.scale as usize;
    let value = if scale == 0 {
        digits
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{whole}.{fraction}")
    };
    let suffix = number.suffix.as_str();
    if suffix.is_empty() {
        value
    } else {
        format!("{value} {suffix}")
    }
}

fn subject_kind(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::User => "user",
        SubjectKind::Group => "group",
        SubjectKind::ServiceAccount => "serviceaccount",
    }
}
