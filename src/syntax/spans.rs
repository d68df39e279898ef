//! Every span of a syntax tree, in source order.
//!
//! Used by tests that check spans lie inside their file, and by anything that
//! compares trees "ignoring spans" (the formatter's round trip).

use super::ast::*;
use crate::source::Span;

/// Calls `f` on every span in the tree.
pub fn for_each_span_mut(ast: &mut Ast, f: &mut impl FnMut(&mut Span)) {
    for item in &mut ast.items {
        item_spans(item, f);
    }
}

/// Calls `f` on every span of one item.
pub fn for_each_item_span_mut(item: &mut Item, f: &mut impl FnMut(&mut Span)) {
    item_spans(item, f);
}

/// Every span in the tree, copied out.
pub fn all_spans(ast: &Ast) -> Vec<Span> {
    let mut ast = ast.clone();
    let mut spans = Vec::new();
    for_each_span_mut(&mut ast, &mut |span| spans.push(*span));
    spans
}

fn item_spans(item: &mut Item, f: &mut impl FnMut(&mut Span)) {
    f(&mut item.span);
    match &mut item.kind {
        ItemKind::Import(import) => string_spans(&mut import.path, f),
        ItemKind::GitOps(body) | ItemKind::Federation(body) => block_spans(body, f),
        ItemKind::Cluster(cluster) => {
            name_spans(&mut cluster.name, f);
            block_spans(&mut cluster.body, f);
        }
        ItemKind::Tier(tier) => {
            name_spans(&mut tier.name, f);
            if let Some(parent) = &mut tier.extends {
                name_spans(parent, f);
            }
            block_spans(&mut tier.body, f);
        }
        ItemKind::Role(role) => {
            name_spans(&mut role.name, f);
            block_spans(&mut role.body, f);
        }
        ItemKind::ClusterRole(role) => {
            name_spans(&mut role.name, f);
            block_spans(&mut role.body, f);
        }
        ItemKind::Receiver(receiver) => {
            name_spans(&mut receiver.name, f);
            block_spans(&mut receiver.body, f);
        }
        ItemKind::Policy(policy) => {
            name_spans(&mut policy.name, f);
            if let Some(description) = &mut policy.description {
                string_spans(description, f);
            }
            block_spans(&mut policy.settings, f);
            pred_spans(&mut policy.rule, f);
        }
        ItemKind::Waive(waive) => {
            name_spans(&mut waive.policy, f);
            f(&mut waive.kind_span);
            name_spans(&mut waive.target, f);
            string_spans(&mut waive.reason, f);
        }
        ItemKind::Route(route) => {
            for matcher in &mut route.matchers {
                f(&mut matcher.label.span);
                name_spans(&mut matcher.value, f);
            }
            name_spans(&mut route.receiver, f);
        }
        ItemKind::Resource(resource) => {
            f(&mut resource.name.span);
            block_spans(&mut resource.body, f);
        }
        ItemKind::External(external) => {
            name_spans(&mut external.name, f);
            cluster_list_spans(&mut external.clusters, f);
            if let Some(body) = &mut external.body {
                block_spans(body, f);
            }
        }
        ItemKind::ClusterGrant(grant) => {
            name_spans(&mut grant.role, f);
            f(&mut grant.subject_kind_span);
            string_spans(&mut grant.subject, f);
            cluster_list_spans(&mut grant.clusters, f);
        }
        ItemKind::Let(binding) => {
            f(&mut binding.name.span);
            expr_spans(&mut binding.value, f);
        }
        ItemKind::Env(env) => {
            name_spans(&mut env.name, f);
            if let Some(placement) = &mut env.placement {
                placement_spans(placement, f);
            }
            block_spans(&mut env.body, f);
        }
        ItemKind::For(for_loop) => {
            f(&mut for_loop.var.span);
            expr_spans(&mut for_loop.iterable, f);
            for item in &mut for_loop.items {
                item_spans(item, f);
            }
        }
        ItemKind::If(if_item) => if_spans(if_item, f),
        ItemKind::AlertTemplate(template) => {
            name_spans(&mut template.name, f);
            for param in &mut template.params {
                f(&mut param.span);
                f(&mut param.name.span);
                f(&mut param.ty.span);
                if let Some(default) = &mut param.default {
                    expr_spans(default, f);
                }
            }
            block_spans(&mut template.body, f);
        }
    }
}

fn cluster_list_spans(list: &mut ClusterList, f: &mut impl FnMut(&mut Span)) {
    f(&mut list.span);
    list.names.iter_mut().for_each(|name| name_spans(name, f));
}

fn placement_spans(placement: &mut Placement, f: &mut impl FnMut(&mut Span)) {
    f(&mut placement.span);
    cluster_list_spans(&mut placement.clusters, f);
    name_spans(&mut placement.tier, f);
}

fn name_spans(name: &mut Name, f: &mut impl FnMut(&mut Span)) {
    match name {
        Name::Ident(ident) => f(&mut ident.span),
        Name::Str(string) => string_spans(string, f),
    }
}

fn string_spans(string: &mut StringLit, f: &mut impl FnMut(&mut Span)) {
    f(&mut string.span);
    for part in &mut string.parts {
        match part {
            StrPart::Text(_) => {}
            StrPart::Interp(path) => path.iter_mut().for_each(|ident| f(&mut ident.span)),
        }
    }
}

fn block_spans(block: &mut Block, f: &mut impl FnMut(&mut Span)) {
    f(&mut block.span);
    for stmt in &mut block.stmts {
        f(&mut stmt.span);
        match &mut stmt.kind {
            StmtKind::Field(field) => {
                match &mut field.key {
                    Key::Path(segments) => segments.iter_mut().for_each(|ident| f(&mut ident.span)),
                    Key::Str(string) => string_spans(string, f),
                }
                match &mut field.value {
                    FieldValue::Expr(expr) => expr_spans(expr, f),
                    FieldValue::Block(block) => block_spans(block, f),
                }
            }
            StmtKind::Grant(grant) => {
                name_spans(&mut grant.role, f);
                f(&mut grant.subject_kind_span);
                string_spans(&mut grant.subject, f);
                if let Some(name) = &mut grant.binding_name {
                    name_spans(name, f);
                }
            }
            StmtKind::Ingress(ingress) => {
                peer_spans(&mut ingress.from, f);
                ingress.ports.iter_mut().for_each(|port| f(&mut port.span));
            }
            StmtKind::Egress(egress) => match egress {
                Egress::Dns | Egress::DenyDns => {}
                Egress::To { peer, ports } => {
                    peer_spans(peer, f);
                    ports.iter_mut().for_each(|port| f(&mut port.span));
                }
            },
            StmtKind::Metrics(metrics) => {
                metrics.ports.iter_mut().for_each(|port| f(&mut port.span));
            }
            StmtKind::Stage(stage) => {
                name_spans(&mut stage.name, f);
                placement_spans(&mut stage.placement, f);
                block_spans(&mut stage.body, f);
            }
            StmtKind::If(if_stmt) => if_stmt_spans(if_stmt, f),
            StmtKind::For(for_stmt) => {
                f(&mut for_stmt.var.span);
                expr_spans(&mut for_stmt.iterable, f);
                block_spans(&mut for_stmt.body, f);
            }
            StmtKind::Alert(alert) => {
                name_spans(&mut alert.template, f);
                if let Some(rename) = &mut alert.rename {
                    name_spans(rename, f);
                }
                if let Some(args) = &mut alert.args {
                    block_spans(args, f);
                }
            }
            StmtKind::Quota(quota) => match quota {
                Quota::Block { name, body } => {
                    if let Some(name) = name {
                        name_spans(name, f);
                    }
                    block_spans(body, f);
                }
                Quota::Expr(expr) => expr_spans(expr, f),
            },
            StmtKind::Limits(limits) => match limits {
                Limits::Block {
                    name,
                    kind: _,
                    kind_span,
                    body,
                } => {
                    if let Some(name) = name {
                        name_spans(name, f);
                    }
                    f(kind_span);
                    block_spans(body, f);
                }
                Limits::Expr(expr) => expr_spans(expr, f),
            },
            StmtKind::Allow(allow) => {
                list_spans(&mut allow.verbs, f);
                list_spans(&mut allow.resources, f);
            }
            StmtKind::Forbid(forbid) => match forbid {
                Forbid::Verbs(list) | Forbid::Resources(list) => list_spans(list, f),
                Forbid::Wildcards => {}
            },
            StmtKind::Require(require) => list_spans(&mut require.alerts, f),
            StmtKind::Accept(accept) => list_spans(&mut accept.environments, f),
        }
    }
}

fn peer_spans(peer: &mut Peer, f: &mut impl FnMut(&mut Span)) {
    f(&mut peer.span);
    match &mut peer.kind {
        PeerKind::Any => {}
        PeerKind::Environment(name) => name_spans(name, f),
        PeerKind::Env(name) | PeerKind::External(name) => name_spans(name, f),
    }
}

fn list_spans(list: &mut List, f: &mut impl FnMut(&mut Span)) {
    f(&mut list.span);
    list.items.iter_mut().for_each(|item| expr_spans(item, f));
}

fn if_spans(if_item: &mut If<Vec<Item>>, f: &mut impl FnMut(&mut Span)) {
    cond_spans(&mut if_item.cond, f);
    for item in &mut if_item.then {
        item_spans(item, f);
    }
    if let Some(otherwise) = &mut if_item.otherwise {
        f(&mut otherwise.span);
        match &mut otherwise.kind {
            ElseKind::Body(items) => items.iter_mut().for_each(|item| item_spans(item, f)),
            ElseKind::If(inner) => if_spans(inner, f),
        }
    }
}

fn if_stmt_spans(if_stmt: &mut If<Block>, f: &mut impl FnMut(&mut Span)) {
    cond_spans(&mut if_stmt.cond, f);
    block_spans(&mut if_stmt.then, f);
    if let Some(otherwise) = &mut if_stmt.otherwise {
        f(&mut otherwise.span);
        match &mut otherwise.kind {
            ElseKind::Body(block) => block_spans(block, f),
            ElseKind::If(inner) => if_stmt_spans(inner, f),
        }
    }
}

fn cond_spans(cond: &mut Cond, f: &mut impl FnMut(&mut Span)) {
    f(&mut cond.span);
    match &mut cond.kind {
        CondKind::Value(expr) => expr_spans(expr, f),
        CondKind::Compare(left, _, right) => {
            expr_spans(left, f);
            expr_spans(right, f);
        }
        CondKind::Not(inner) | CondKind::Group(inner) => cond_spans(inner, f),
        CondKind::And(left, right) | CondKind::Or(left, right) => {
            cond_spans(left, f);
            cond_spans(right, f);
        }
    }
}

fn pred_spans(pred: &mut Pred, f: &mut impl FnMut(&mut Span)) {
    f(&mut pred.span);
    match &mut pred.kind {
        PredKind::Quantified(quantified) => {
            f(&mut quantified.var.span);
            path_spans(&mut quantified.collection, f);
            if let Some(filter) = &mut quantified.filter {
                pred_spans(filter, f);
            }
            pred_spans(&mut quantified.body, f);
        }
        PredKind::Not(inner) | PredKind::Group(inner) => pred_spans(inner, f),
        PredKind::And(left, right) | PredKind::Or(left, right) | PredKind::Implies(left, right) => {
            pred_spans(left, f);
            pred_spans(right, f);
        }
        PredKind::Compare(left, _, right)
        | PredKind::StartsWith(left, right)
        | PredKind::Has(left, right)
        | PredKind::In(left, right) => {
            term_spans(left, f);
            term_spans(right, f);
        }
        PredKind::Matches(left, pattern) => {
            term_spans(left, f);
            string_spans(pattern, f);
        }
        PredKind::Value(term) => term_spans(term, f),
    }
}

fn term_spans(term: &mut Term, f: &mut impl FnMut(&mut Span)) {
    f(&mut term.span);
    match &mut term.kind {
        TermKind::Number(_) | TermKind::Bool(_) => {}
        TermKind::Str(string) => string_spans(string, f),
        TermKind::List(items) => items.iter_mut().for_each(|item| term_spans(item, f)),
        TermKind::Path(path) => path_spans(path, f),
        TermKind::Count(count) => {
            f(&mut count.var.span);
            path_spans(&mut count.collection, f);
            if let Some(filter) = &mut count.filter {
                pred_spans(filter, f);
            }
        }
        TermKind::Unique(unique) => {
            f(&mut unique.var.span);
            path_spans(&mut unique.collection, f);
            if let Some(filter) = &mut unique.filter {
                pred_spans(filter, f);
            }
            term_spans(&mut unique.key, f);
            if let Some(per) = &mut unique.per {
                term_spans(per, f);
            }
        }
        TermKind::Mul(left, right) => {
            term_spans(left, f);
            term_spans(right, f);
        }
    }
}

fn path_spans(path: &mut Path, f: &mut impl FnMut(&mut Span)) {
    f(&mut path.span);
    path.segments
        .iter_mut()
        .for_each(|ident| f(&mut ident.span));
    if let Some(index) = &mut path.index {
        string_spans(index, f);
    }
}

fn expr_spans(expr: &mut Expr, f: &mut impl FnMut(&mut Span)) {
    f(&mut expr.span);
    match &mut expr.kind {
        ExprKind::Number(_) | ExprKind::Bool(_) => {}
        ExprKind::Str(string) => string_spans(string, f),
        ExprKind::List(list) => list_spans(list, f),
        ExprKind::Record(record) => block_spans(&mut record.body, f),
        ExprKind::Name(ident) => f(&mut ident.span),
        ExprKind::Field(path) => path.iter_mut().for_each(|ident| f(&mut ident.span)),
        ExprKind::Mul(left, right) => {
            expr_spans(left, f);
            expr_spans(right, f);
        }
    }
}
