//! Binding: one walk over the source that records, for every name written
//! as a reference, the declaration it refers to.
//!
//! Owns: which positions of the language are references of which kind,
//! and which names a `let` is shadowed by there (a loop variable, a
//! template's parameter, an env's context such as `${namespace}`), the
//! same order evaluation looks names up in (`value::Scope`: variables, then
//! `let`s). A name that binds nothing is left alone: check reports an
//! unknown name where it needs the declaration, as before.
//!
//! Deliberately absent: names built by interpolation (looked up by their
//! text per expansion, in check, which reports what each expansion found:
//! `refs::Expanded`), and words a statement reads as text and never as a
//! `let` (`allow get on pods`, `forbid`, `accept`, the names of quota and
//! limit blocks, an alert's `as NAME`).

use super::refs::{DeclId, DeclKind};
use crate::source::Span;
use crate::syntax::ast::{
    Block, ClusterList, Cond, CondKind, Egress, ElseKind, Expr, ExprKind, FieldValue, Forbid,
    Ident, If, Item, ItemKind, Key, Limits, Name, Peer, PeerKind, Placement, Quota, StmtKind,
    StrPart, StringLit,
};

/// What an env's, a stage's, a family's and a template's bodies read as
/// variables besides their loops': the env's own facts, the same names in
/// all of them, which shadow a `let` of the same name. `namespace` and
/// `env` are the env's namespace; `family` is the family's name (a plain
/// env's own), `stage` the stage's (empty for a plain env).
pub const ENV_CONTEXT: [&str; 7] = [
    "namespace",
    "env",
    "family",
    "stage",
    "cluster",
    "environment",
    "tier",
];

/// The declaration a name of a kind finds, if any (a duplicate's second
/// declaration is found by no name).
pub(super) type Find<'f> = dyn Fn(DeclKind, &str) -> Option<DeclId> + Sync + 'f;

/// The uses in `items` (consecutive items of a file), in source order.
pub(super) fn uses_in(items: &[Item], find: &Find) -> Vec<(Span, DeclId)> {
    let mut binder = Binder {
        find,
        uses: Vec::new(),
        shadow: Vec::new(),
    };
    binder.items(items);
    binder.uses
}

struct Binder<'b, 'f> {
    find: &'b Find<'f>,
    uses: Vec<(Span, DeclId)>,
    /// Names that are variables here, innermost last.
    shadow: Vec<&'b str>,
}

impl<'b> Binder<'b, '_> {
    fn items(&mut self, items: &'b [Item]) {
        for item in items {
            match &item.kind {
                ItemKind::Import(_) => {}
                ItemKind::GitOps(body) | ItemKind::Federation(body) => self.block(body),
                ItemKind::Let(binding) => self.expr(&binding.value),
                ItemKind::Cluster(cluster) => {
                    self.name(&cluster.name);
                    self.block(&cluster.body);
                }
                ItemKind::Tier(tier) => {
                    self.name(&tier.name);
                    if let Some(parent) = &tier.extends {
                        self.referring_name(parent, DeclKind::Tier);
                    }
                    self.block(&tier.body);
                }
                ItemKind::Role(role) | ItemKind::ClusterRole(role) => {
                    self.name(&role.name);
                    self.block(&role.body);
                }
                // Its lists are of words (verbs, subresources), as a role's;
                // a statement does not belong there, and check reports it.
                ItemKind::Resource(resource) => {
                    for stmt in &resource.body.stmts {
                        if let StmtKind::Field(field) = &stmt.kind {
                            match &field.value {
                                FieldValue::Expr(Expr {
                                    kind: ExprKind::List(list),
                                    ..
                                }) => self.words(&list.items),
                                FieldValue::Expr(expr) => self.expr(expr),
                                FieldValue::Block(block) => self.block(block),
                            }
                        }
                    }
                }
                ItemKind::External(external) => {
                    self.name(&external.name);
                    self.clusters(&external.clusters);
                    if let Some(body) = &external.body {
                        self.block(body);
                    }
                }
                ItemKind::Receiver(receiver) => {
                    self.name(&receiver.name);
                    self.block(&receiver.body);
                }
                // A policy's names are its quantifiers' variables and the
                // program's collections, not declarations.
                ItemKind::Policy(policy) => self.name(&policy.name),
                ItemKind::Waive(waive) => {
                    self.referring_name(&waive.policy, DeclKind::Policy);
                    self.referring_name(&waive.target, DeclKind::waived(waive.kind));
                }
                ItemKind::Route(route) => {
                    for matcher in &route.matchers {
                        self.name(&matcher.value);
                    }
                    self.referring_name(&route.receiver, DeclKind::Receiver);
                }
                ItemKind::ClusterGrant(grant) => {
                    self.referring_name(&grant.role, DeclKind::ClusterRole);
                    self.string(&grant.subject);
                    self.clusters(&grant.clusters);
                }
                ItemKind::Env(env) => {
                    self.name(&env.name);
                    match &env.placement {
                        Some(placement) => {
                            self.placement(placement);
                            self.scoped(&ENV_CONTEXT, |binder| binder.block(&env.body));
                        }
                        // A family's body is a layer of each stage.
                        None => self.scoped(&ENV_CONTEXT, |binder| binder.block(&env.body)),
                    }
                }
                ItemKind::If(if_item) => {
                    self.if_chain(if_item, |binder, items| binder.items(items))
                }
                ItemKind::For(for_loop) => {
                    self.expr(&for_loop.iterable);
                    self.scoped(&[for_loop.var.text.as_str()], |binder| {
                        binder.items(&for_loop.items)
                    });
                }
                ItemKind::AlertTemplate(template) => {
                    self.name(&template.name);
                    for param in &template.params {
                        if let Some(default) = &param.default {
                            self.expr(default);
                        }
                    }
                    let params: Vec<&str> = template
                        .params
                        .iter()
                        .map(|p| p.name.text.as_str())
                        .collect();
                    self.scoped(&params, |binder| {
                        binder.scoped(&ENV_CONTEXT, |binder| binder.block(&template.body))
                    });
                }
            }
        }
    }

    /// Every condition and body of an `if … else if … else` chain, its
    /// bodies items or a block (`body`).
    fn if_chain<T>(&mut self, if_: &'b If<T>, body: fn(&mut Self, &'b T)) {
        self.cond(&if_.cond);
        body(self, &if_.then);
        if let Some(otherwise) = &if_.otherwise {
            match &otherwise.kind {
                ElseKind::Body(otherwise) => body(self, otherwise),
                ElseKind::If(inner) => self.if_chain(inner, body),
            }
        }
    }

    fn cond(&mut self, cond: &'b Cond) {
        match &cond.kind {
            CondKind::Value(expr) => self.expr(expr),
            CondKind::Compare(left, _, right) => {
                self.expr(left);
                self.expr(right);
            }
            CondKind::Not(inner) | CondKind::Group(inner) => self.cond(inner),
            CondKind::And(left, right) | CondKind::Or(left, right) => {
                self.cond(left);
                self.cond(right);
            }
        }
    }

    /// Runs `walk` with `names` as variables.
    fn scoped(&mut self, names: &[&'b str], walk: impl FnOnce(&mut Self)) {
        let depth = self.shadow.len();
        self.shadow.extend_from_slice(names);
        walk(self);
        self.shadow.truncate(depth);
    }

    fn clusters(&mut self, list: &'b ClusterList) {
        for name in &list.names {
            self.referring_name(name, DeclKind::Cluster);
        }
    }

    fn placement(&mut self, placement: &'b Placement) {
        self.clusters(&placement.clusters);
        self.referring_name(&placement.tier, DeclKind::Tier);
    }

    /// A declared name: only its interpolations read anything.
    fn name(&mut self, name: &'b Name) {
        match name {
            Name::Ident(_) => {}
            Name::Str(string) => self.string(string),
        }
    }

    /// A name that refers to a declaration of `kind` when written plainly.
    fn referring_name(&mut self, name: &'b Name, kind: DeclKind) {
        match name {
            Name::Ident(ident) => self.reference(ident, kind),
            Name::Str(string) => self.string(string),
        }
    }

    fn reference(&mut self, ident: &'b Ident, kind: DeclKind) {
        if let Some(id) = (self.find)(kind, &ident.text) {
            self.uses.push((ident.span, id));
        }
    }

    /// A name a value reads: a `let`, unless a variable has that name here.
    fn value_name(&mut self, ident: &'b Ident) {
        if !self.shadow.contains(&ident.text.as_str()) {
            self.reference(ident, DeclKind::Let);
        }
    }

    fn string(&mut self, string: &'b StringLit) {
        for part in &string.parts {
            match part {
                StrPart::Text(_) => {}
                // `${a.b}` reads `a`, then its field.
                StrPart::Interp(path) => {
                    if let Some(first) = path.first() {
                        self.value_name(first);
                    }
                }
            }
        }
    }

    fn expr(&mut self, expr: &'b Expr) {
        match &expr.kind {
            ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::Str(string) => self.string(string),
            ExprKind::List(list) => list.items.iter().for_each(|item| self.expr(item)),
            ExprKind::Record(record) => self.block(&record.body),
            ExprKind::Name(ident) => self.value_name(ident),
            // `team.size` reads `team`, then its field.
            ExprKind::Field(path) => self.value_name(&path[0]),
            ExprKind::Mul(left, right) => {
                self.expr(left);
                self.expr(right);
            }
        }
    }

    /// A list whose plain words are text: only its strings read names.
    fn words(&mut self, items: &'b [Expr]) {
        for item in items {
            if let ExprKind::Str(string) = &item.kind {
                self.string(string);
            }
        }
    }

    fn peer(&mut self, peer: &'b Peer) {
        match &peer.kind {
            PeerKind::Any => {}
            // An environment is a word, no declaration: only a string's
            // interpolations read anything.
            PeerKind::Environment(name) => self.name(name),
            PeerKind::Env(name) => self.referring_name(name, DeclKind::Env),
            PeerKind::External(name) => self.referring_name(name, DeclKind::External),
        }
    }

    fn block(&mut self, block: &'b Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Field(field) => {
                    if let Key::Str(string) = &field.key {
                        self.string(string);
                    }
                    match &field.value {
                        FieldValue::Expr(expr) => self.expr(expr),
                        FieldValue::Block(block) => self.block(block),
                    }
                }
                StmtKind::Grant(grant) => {
                    self.referring_name(&grant.role, DeclKind::Role);
                    self.string(&grant.subject);
                    if let Some(name) = &grant.binding_name {
                        self.name(name);
                    }
                }
                StmtKind::Ingress(ingress) => self.peer(&ingress.from),
                StmtKind::Metrics(_) => {}
                StmtKind::Egress(egress) => match egress {
                    Egress::Dns | Egress::DenyDns => {}
                    Egress::To { peer, .. } => self.peer(peer),
                },
                StmtKind::Stage(stage) => {
                    self.name(&stage.name);
                    self.placement(&stage.placement);
                    self.block(&stage.body);
                }
                StmtKind::Alert(alert) => {
                    self.referring_name(&alert.template, DeclKind::AlertTemplate);
                    if let Some(rename) = &alert.rename {
                        self.name(rename);
                    }
                    if let Some(args) = &alert.args {
                        self.block(args);
                    }
                }
                StmtKind::Quota(quota) => match quota {
                    Quota::Block { name, body } => {
                        if let Some(name) = name {
                            self.name(name);
                        }
                        self.block(body);
                    }
                    Quota::Expr(expr) => self.expr(expr),
                },
                StmtKind::Limits(limits) => match limits {
                    Limits::Block { name, body, .. } => {
                        if let Some(name) = name {
                            self.name(name);
                        }
                        self.block(body);
                    }
                    Limits::Expr(expr) => self.expr(expr),
                },
                StmtKind::Allow(allow) => {
                    self.words(&allow.verbs.items);
                    self.words(&allow.resources.items);
                }
                StmtKind::Forbid(forbid) => match forbid {
                    Forbid::Verbs(list) | Forbid::Resources(list) => self.words(&list.items),
                    Forbid::Wildcards => {}
                },
                StmtKind::If(if_stmt) => self.if_chain(if_stmt, Self::block),
                StmtKind::For(for_stmt) => {
                    self.expr(&for_stmt.iterable);
                    self.scoped(&[for_stmt.var.text.as_str()], |binder| {
                        binder.block(&for_stmt.body)
                    });
                }
                StmtKind::Require(require) => {
                    for item in &require.alerts.items {
                        match &item.kind {
                            ExprKind::Name(template) => {
                                self.reference(template, DeclKind::AlertTemplate)
                            }
                            ExprKind::Str(string) => self.string(string),
                            _ => {}
                        }
                    }
                }
                StmtKind::Accept(accept) => self.words(&accept.environments.items),
            }
        }
    }
}
