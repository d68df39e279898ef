//! Builds the AST from pest's parse tree.
//!
//! Each function takes the pair of one grammar rule and asserts which rule it
//! got (as jj's fileset parser does): a mismatch is a bug in the grammar or
//! here, never a user error, and the property tests exercise every path.
//! User errors that the grammar accepts on purpose (error productions, loose
//! literals) are reported here as diagnostics.

use pest::iterators::Pair;

use super::ast::*;
use super::literal::{self, NumberError};
use super::parser::Rule;
use crate::diag::{Code, Diagnostic};
use crate::source::Span;

type P<'i> = Pair<'i, Rule>;

pub(super) struct Builder<'d> {
    /// Global offset of the text pest parsed.
    pub base: u32,
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

#[track_caller]
fn expect_rule(pair: &P, rule: Rule) {
    assert_eq!(
        pair.as_rule(),
        rule,
        "grammar and AST builder disagree at {:?}",
        pair.as_span()
    );
}

/// Where a pair's own text ends: the end of its last child, for rules that
/// skip whitespace; its own end for atomic ones.
fn content_end(pair: &P) -> usize {
    let atomic = matches!(
        pair.as_rule(),
        Rule::string
            | Rule::raw_string
            | Rule::interp
            | Rule::number
            | Rule::key_path
            | Rule::ident
            | Rule::label
    );
    if atomic {
        return pair.as_span().end();
    }
    match pair.clone().into_inner().next_back() {
        Some(last) => content_end(&last),
        None => pair.as_span().end(),
    }
}

#[track_caller]
fn unexpected(pair: &P) -> ! {
    panic!(
        "grammar and AST builder disagree: unexpected {:?} at {:?}",
        pair.as_rule(),
        pair.as_span()
    )
}

/// Keywords and punctuation: the children that carry no information once the
/// rule that holds them is known.
fn is_token(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_import
            | Rule::kw_cluster
            | Rule::kw_tier
            | Rule::kw_extends
            | Rule::kw_role
            | Rule::kw_cluster_role
            | Rule::kw_resource
            | Rule::kw_gitops
            | Rule::kw_federation
            | Rule::kw_external
            | Rule::kw_receiver
            | Rule::kw_route
            | Rule::kw_policy
            | Rule::kw_waive
            | Rule::kw_because
            | Rule::kw_where
            | Rule::kw_implies
            | Rule::kw_count
            | Rule::kw_unique
            | Rule::kw_per
            | Rule::kw_metrics
            | Rule::kw_let
            | Rule::kw_env
            | Rule::kw_for
            | Rule::kw_in
            | Rule::kw_if
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
            | Rule::kw_alert
            | Rule::kw_on
            | Rule::kw_grant
            | Rule::kw_to
            | Rule::kw_as
            | Rule::kw_ingress
            | Rule::kw_egress
            | Rule::kw_allow
            | Rule::kw_from
            | Rule::kw_stage
            | Rule::kw_quota
            | Rule::kw_limits
            | Rule::kw_forbid
            | Rule::kw_require
            | Rule::kw_alerts
            | Rule::kw_accept
            | Rule::lbrace
            | Rule::rbrace
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lparen
            | Rule::rparen
            | Rule::comma
            | Rule::assign
            | Rule::colon
            | Rule::star
    )
}

/// The children of a pair that carry information, in order.
fn children<'i>(pair: P<'i>) -> impl Iterator<Item = P<'i>> {
    pair.into_inner().filter(|child| !is_token(child.as_rule()))
}

#[track_caller]
fn next<'i>(parts: &mut impl Iterator<Item = P<'i>>) -> P<'i> {
    parts
        .next()
        .expect("grammar and AST builder disagree: a required child is missing")
}

impl Builder<'_> {
    /// The pair's span without trailing whitespace: pest's implicit
    /// whitespace before an optional part that then did not match stays in
    /// the enclosing rule, so the end is taken from the last child.
    fn span(&self, pair: &P) -> Span {
        let start = pair.as_span().start();
        Span::new(
            self.base + start as u32,
            self.base + content_end(pair) as u32,
        )
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn item(&mut self, pair: P) -> Item {
        expect_rule(&pair, Rule::item);
        let inner = next(&mut pair.into_inner());
        self.item_kind(inner)
    }

    fn item_kind(&mut self, pair: P) -> Item {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::import => {
                let mut parts = children(pair);
                ItemKind::Import(Import {
                    path: self.string_lit(next(&mut parts)),
                })
            }
            Rule::cluster => {
                let mut parts = children(pair);
                ItemKind::Cluster(Cluster {
                    name: self.decl_name(next(&mut parts)),
                    body: self.block(next(&mut parts)),
                })
            }
            Rule::tier => {
                let mut parts = children(pair);
                let name = self.decl_name(next(&mut parts));
                let mut rest = next(&mut parts);
                let extends = if rest.as_rule() == Rule::decl_name {
                    let parent = self.decl_name(rest);
                    rest = next(&mut parts);
                    Some(parent)
                } else {
                    None
                };
                ItemKind::Tier(Tier {
                    name,
                    extends,
                    body: self.block(rest),
                })
            }
            Rule::role => {
                let mut parts = children(pair);
                ItemKind::Role(Role {
                    name: self.decl_name(next(&mut parts)),
                    body: self.block(next(&mut parts)),
                })
            }
            Rule::gitops => {
                let mut parts = children(pair);
                ItemKind::GitOps(self.block(next(&mut parts)))
            }
            Rule::federation => {
                let mut parts = children(pair);
                ItemKind::Federation(self.block(next(&mut parts)))
            }
            Rule::cluster_role => {
                let mut parts = children(pair);
                ItemKind::ClusterRole(Role {
                    name: self.decl_name(next(&mut parts)),
                    body: self.block(next(&mut parts)),
                })
            }
            Rule::resource => {
                let mut parts = children(pair);
                let name = next(&mut parts);
                expect_rule(&name, Rule::resource_name);
                ItemKind::Resource(Resource {
                    name: Ident {
                        text: name.as_str().to_string(),
                        span: self.span(&name),
                    },
                    body: self.block(next(&mut parts)),
                })
            }
            Rule::external => {
                let mut parts = children(pair);
                ItemKind::External(External {
                    name: self.decl_name(next(&mut parts)),
                    clusters: self.cluster_list(next(&mut parts)),
                    body: parts.next().map(|block| self.block(block)),
                })
            }
            Rule::cluster_grant => {
                let mut parts = children(pair);
                let role = self.decl_name(next(&mut parts));
                let (subject_kind, subject_kind_span) = self.subject_kind(next(&mut parts));
                ItemKind::ClusterGrant(ClusterGrant {
                    role,
                    subject_kind,
                    subject_kind_span,
                    subject: self.string_lit(next(&mut parts)),
                    clusters: self.cluster_list(next(&mut parts)),
                })
            }
            Rule::let_decl => {
                let mut parts = children(pair);
                ItemKind::Let(Let {
                    name: self.ident(next(&mut parts)),
                    value: self.expr(next(&mut parts)),
                })
            }
            Rule::env => {
                let mut parts = children(pair);
                let name = self.decl_name(next(&mut parts));
                let mut rest = next(&mut parts);
                let placement = if rest.as_rule() == Rule::placement {
                    let placement = self.placement(rest);
                    rest = next(&mut parts);
                    placement
                } else {
                    None
                };
                ItemKind::Env(Env {
                    name,
                    placement,
                    body: self.block(rest),
                })
            }
            Rule::for_item => {
                let mut parts = children(pair);
                let var = self.ident(next(&mut parts));
                let iterable = self.expr(next(&mut parts));
                let items = parts.map(|item| self.item_kind(item)).collect();
                ItemKind::For(For {
                    var,
                    iterable,
                    items,
                })
            }
            Rule::if_item => ItemKind::If(self.if_item(pair)),
            Rule::policy => ItemKind::Policy(self.policy(pair)),
            Rule::waive => {
                let mut parts = children(pair);
                let policy = self.decl_name(next(&mut parts));
                let kind_pair = next(&mut parts);
                let kind_span = self.span(&kind_pair);
                let kind = WaiveKind::parse(kind_pair.as_str())
                    .expect("the grammar's waivable kinds are WaiveKind's");
                ItemKind::Waive(Waive {
                    policy,
                    kind,
                    kind_span,
                    target: self.decl_name(next(&mut parts)),
                    reason: self.string_lit(next(&mut parts)),
                })
            }
            Rule::receiver => {
                let mut parts = children(pair);
                ItemKind::Receiver(Receiver {
                    name: self.decl_name(next(&mut parts)),
                    body: self.block(next(&mut parts)),
                })
            }
            Rule::route => {
                let mut matchers = Vec::new();
                let mut receiver = None;
                for part in children(pair) {
                    if part.as_rule() == Rule::route_match {
                        let mut sides = children(part);
                        matchers.push(RouteMatcher {
                            label: self.ident(next(&mut sides)),
                            value: self.decl_name(next(&mut sides)),
                        });
                    } else {
                        receiver = Some(self.decl_name(part));
                    }
                }
                ItemKind::Route(Route {
                    matchers,
                    receiver: receiver.expect("the grammar ends a route with its receiver"),
                })
            }
            Rule::alert_template => {
                let mut parts = children(pair);
                let name = self.decl_name(next(&mut parts));
                let mut rest = next(&mut parts);
                let params = if rest.as_rule() == Rule::params {
                    let params = children(rest).map(|param| self.param(param)).collect();
                    rest = next(&mut parts);
                    params
                } else {
                    Vec::new()
                };
                ItemKind::AlertTemplate(AlertTemplate {
                    name,
                    params,
                    body: self.block(rest),
                })
            }
            _ => unexpected(&pair),
        };
        Item { kind, span }
    }

    fn param(&mut self, pair: P) -> Param {
        expect_rule(&pair, Rule::param);
        let span = self.span(&pair);
        let mut parts = children(pair);
        Param {
            name: self.ident(next(&mut parts)),
            ty: self.ident(next(&mut parts)),
            default: parts.next().map(|default| self.expr(default)),
            span,
        }
    }

    fn subject_kind(&mut self, pair: P) -> (SubjectKind, Span) {
        expect_rule(&pair, Rule::subject_kind);
        let span = self.span(&pair);
        let keyword = next(&mut pair.into_inner());
        let kind = match keyword.as_rule() {
            Rule::kw_user => SubjectKind::User,
            Rule::kw_group => SubjectKind::Group,
            Rule::kw_serviceaccount => SubjectKind::ServiceAccount,
            _ => unexpected(&keyword),
        };
        (kind, span)
    }

    /// `prod-eu` or `[prod-eu, prod-us]`.
    fn cluster_list(&mut self, pair: P) -> ClusterList {
        expect_rule(&pair, Rule::cluster_list);
        let span = self.span(&pair);
        let bracketed = pair.as_str().starts_with('[');
        ClusterList {
            names: children(pair).map(|name| self.decl_name(name)).collect(),
            bracketed,
            span,
        }
    }

    /// `None` after reporting a placement that has no cluster.
    fn placement(&mut self, pair: P) -> Option<Placement> {
        expect_rule(&pair, Rule::placement);
        let span = self.span(&pair);
        let mut parts = children(pair);
        let first = next(&mut parts);
        if first.as_rule() == Rule::missing_on {
            let missing_span = self.span(&first);
            let tier = next(&mut children(first)).as_str().to_string();
            self.report(
                Diagnostic::new(
                    Code::E0111,
                    Span::new(missing_span.start, missing_span.start),
                    "missing `on CLUSTER` before `tier`",
                )
                .label("expected `on CLUSTER` here")
                .help(format!(
                    "an env lives on one cluster: write `on CLUSTER tier {tier}`"
                )),
            );
            return None;
        }
        Some(Placement {
            clusters: self.cluster_list(first),
            tier: self.decl_name(next(&mut parts)),
            span,
        })
    }

    /// `if COND { items } else …`
    fn if_item(&mut self, pair: P) -> If<Vec<Item>> {
        expect_rule(&pair, Rule::if_item);
        let mut parts = children(pair).peekable();
        let cond = self.cond(next(&mut parts));
        let mut then = Vec::new();
        while let Some(part) = parts.next_if(|part| part.as_rule() != Rule::kw_else) {
            then.push(self.item_kind(part));
        }
        let otherwise = self.otherwise(parts, Rule::if_item, Self::if_item, |builder, rest| {
            expect_rule(&rest, Rule::else_items);
            children(rest).map(|item| builder.item_kind(item)).collect()
        });
        If {
            cond,
            then,
            otherwise,
        }
    }

    /// `if COND { … } else …` among statements.
    fn if_stmt(&mut self, pair: P) -> If<Block> {
        expect_rule(&pair, Rule::if_stmt);
        let mut parts = children(pair);
        let cond = self.cond(next(&mut parts));
        let then = self.block(next(&mut parts));
        let otherwise = self.otherwise(parts, Rule::if_stmt, Self::if_stmt, Self::block);
        If {
            cond,
            then,
            otherwise,
        }
    }

    /// What follows an `if`'s body: nothing, or `else` and either another
    /// `if` (`nested`, a pair of rule `if_rule`) or a body.
    fn otherwise<'i, T>(
        &mut self,
        mut parts: impl Iterator<Item = P<'i>>,
        if_rule: Rule,
        nested: fn(&mut Self, P<'i>) -> If<T>,
        body: fn(&mut Self, P<'i>) -> T,
    ) -> Option<Else<T>> {
        let keyword = parts.next()?;
        let rest = next(&mut parts);
        let span = self.span(&keyword).to(self.span(&rest));
        let kind = if rest.as_rule() == if_rule {
            ElseKind::If(Box::new(nested(self, rest)))
        } else {
            ElseKind::Body(body(self, rest))
        };
        Some(Else { kind, span })
    }

    fn cond(&mut self, pair: P) -> Cond {
        let span = self.span(&pair);
        match pair.as_rule() {
            // `a or b or c`, `a and b and c`: left to right.
            Rule::cond | Rule::cond_and => {
                let is_or = pair.as_rule() == Rule::cond;
                let mut parts = children(pair);
                let first = self.cond(next(&mut parts));
                parts.fold(first, |left, right| {
                    let right = self.cond(right);
                    let span = left.span.to(right.span);
                    let kind = if is_or {
                        CondKind::Or(Box::new(left), Box::new(right))
                    } else {
                        CondKind::And(Box::new(left), Box::new(right))
                    };
                    Cond { kind, span }
                })
            }
            Rule::cond_not => {
                let text = pair.as_str();
                let inner = next(&mut children(pair));
                match inner.as_rule() {
                    Rule::cond_not => Cond {
                        kind: CondKind::Not(Box::new(self.cond(inner))),
                        span,
                    },
                    Rule::cond if text.starts_with('(') => Cond {
                        kind: CondKind::Group(Box::new(self.cond(inner))),
                        span,
                    },
                    Rule::comparison => self.cond(inner),
                    _ => unexpected(&inner),
                }
            }
            Rule::comparison => {
                let mut parts = children(pair);
                let left = self.expr(next(&mut parts));
                let kind = match parts.next() {
                    None => CondKind::Value(left),
                    Some(op) => {
                        let op = CompareOp::parse(op.as_str())
                            .expect("the grammar's comparison operators");
                        let right = self.expr(next(&mut parts));
                        CondKind::Compare(Box::new(left), op, Box::new(right))
                    }
                };
                Cond { kind, span }
            }
            _ => unexpected(&pair),
        }
    }

    fn policy(&mut self, pair: P) -> Policy {
        let mut name = None;
        let mut description = None;
        let mut stmts = Vec::new();
        let mut rule = None;
        let (mut open, mut close) = (0, 0);
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_policy => {}
                Rule::decl_name => name = Some(self.decl_name(part)),
                Rule::string_lit => description = Some(self.string_lit(part)),
                Rule::lbrace => open = self.span(&part).start,
                Rule::rbrace => close = self.span(&part).end,
                Rule::field => stmts.extend(self.stmt(part)),
                Rule::pred => rule = Some(self.pred(part)),
                _ => unexpected(&part),
            }
        }
        Policy {
            name: name.expect("the grammar names a policy"),
            description,
            settings: Block {
                stmts,
                span: Span::new(open, close),
            },
            rule: rule.expect("the grammar gives a policy its predicate"),
        }
    }

    fn pred(&mut self, pair: P) -> Pred {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::pred => {
                let mut parts = children(pair);
                let left = self.pred(next(&mut parts));
                match parts.next() {
                    None => left,
                    Some(right) => Pred {
                        kind: PredKind::Implies(Box::new(left), Box::new(self.pred(right))),
                        span,
                    },
                }
            }
            // `a or b or c`, `a and b and c`: left to right.
            Rule::pred_or | Rule::pred_and => {
                let is_or = pair.as_rule() == Rule::pred_or;
                let mut parts = children(pair);
                let first = self.pred(next(&mut parts));
                parts.fold(first, |left, right| {
                    let right = self.pred(right);
                    let span = left.span.to(right.span);
                    let kind = if is_or {
                        PredKind::Or(Box::new(left), Box::new(right))
                    } else {
                        PredKind::And(Box::new(left), Box::new(right))
                    };
                    Pred { kind, span }
                })
            }
            Rule::pred_not => {
                let text = pair.as_str();
                let inner = next(&mut children(pair));
                match inner.as_rule() {
                    Rule::pred_not => Pred {
                        kind: PredKind::Not(Box::new(self.pred(inner))),
                        span,
                    },
                    Rule::pred if text.starts_with('(') => Pred {
                        kind: PredKind::Group(Box::new(self.pred(inner))),
                        span,
                    },
                    Rule::quantified | Rule::pred_atom => self.pred(inner),
                    _ => unexpected(&inner),
                }
            }
            Rule::quantified => {
                let mut parts = children(pair);
                let quantifier = match next(&mut parts).as_str() {
                    "all" => Quantifier::All,
                    "any" => Quantifier::Any,
                    _ => Quantifier::None,
                };
                let var = self.ident(next(&mut parts));
                let collection = self.ppath(next(&mut parts));
                let first = self.pred(next(&mut parts));
                let (filter, body) = match parts.next() {
                    Some(body) => (Some(first), self.pred(body)),
                    None => (None, first),
                };
                Pred {
                    kind: PredKind::Quantified(Box::new(Quantified {
                        quantifier,
                        var,
                        collection,
                        filter,
                        body,
                    })),
                    span,
                }
            }
            Rule::pred_atom => {
                let mut parts = pair.into_inner();
                let left = self.term(next(&mut parts));
                let kind = match parts.next() {
                    None => PredKind::Value(left),
                    Some(op) => {
                        let right = next(&mut parts);
                        match op.as_rule() {
                            Rule::compare_op => {
                                let op = CompareOp::parse(op.as_str())
                                    .expect("the grammar's comparison operators");
                                PredKind::Compare(left, op, self.term(right))
                            }
                            Rule::kw_matches => PredKind::Matches(left, self.string_lit(right)),
                            Rule::kw_starts_with => PredKind::StartsWith(left, self.term(right)),
                            Rule::kw_has => PredKind::Has(left, self.term(right)),
                            Rule::kw_in => PredKind::In(left, self.term(right)),
                            _ => unexpected(&op),
                        }
                    }
                };
                Pred { kind, span }
            }
            _ => unexpected(&pair),
        }
    }

    fn term(&mut self, pair: P) -> Term {
        expect_rule(&pair, Rule::pterm);
        let mut factors = children(pair).map(|factor| self.factor(factor));
        let first = factors
            .next()
            .expect("grammar and AST builder disagree: a term has a factor");
        factors.fold(first, |left, right| Term {
            span: left.span.to(right.span),
            kind: TermKind::Mul(Box::new(left), Box::new(right)),
        })
    }

    fn factor(&mut self, pair: P) -> Term {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => TermKind::Number(self.number(&pair)),
            Rule::bool => TermKind::Bool(pair.as_str() == "true"),
            Rule::string_lit => TermKind::Str(self.string_lit(pair)),
            Rule::plist => TermKind::List(children(pair).map(|item| self.term(item)).collect()),
            Rule::ppath => TermKind::Path(self.ppath(pair)),
            Rule::pcount => {
                let mut parts = children(pair);
                let var = self.ident(next(&mut parts));
                let collection = self.ppath(next(&mut parts));
                let filter = parts.next().map(|filter| self.pred(filter));
                TermKind::Count(Box::new(Count {
                    var,
                    collection,
                    filter,
                }))
            }
            Rule::punique => {
                let mut parts = children(pair).peekable();
                let var = self.ident(next(&mut parts));
                let collection = self.ppath(next(&mut parts));
                let filter = match parts.peek().map(|part| part.as_rule()) {
                    Some(Rule::pred_or) => Some(self.pred(next(&mut parts))),
                    _ => None,
                };
                let key = self.term(next(&mut parts));
                let per = parts.next().map(|per| self.term(per));
                TermKind::Unique(Box::new(Unique {
                    var,
                    collection,
                    filter,
                    key,
                    per,
                }))
            }
            _ => unexpected(&pair),
        };
        Term { kind, span }
    }

    fn ppath(&mut self, pair: P) -> Path {
        expect_rule(&pair, Rule::ppath);
        let span = self.span(&pair);
        let mut parts = children(pair);
        let segments = self.dotted(&next(&mut parts));
        let index = parts.next().map(|index| self.string_lit(index));
        Path {
            segments,
            index,
            span,
        }
    }

    fn block(&mut self, pair: P) -> Block {
        expect_rule(&pair, Rule::block);
        let span = self.span(&pair);
        let stmts = children(pair).filter_map(|stmt| self.stmt(stmt)).collect();
        Block { stmts, span }
    }

    fn stmt(&mut self, pair: P) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::field => {
                let mut parts = children(pair);
                let key = self.key(next(&mut parts));
                let value = next(&mut parts);
                let value = match value.as_rule() {
                    Rule::block => FieldValue::Block(self.block(value)),
                    _ => FieldValue::Expr(self.expr(value)),
                };
                StmtKind::Field(Field { key, value })
            }
            Rule::grant => {
                let mut parts = children(pair);
                let role = self.decl_name(next(&mut parts));
                let (subject_kind, subject_kind_span) = self.subject_kind(next(&mut parts));
                let subject = self.string_lit(next(&mut parts));
                let binding_name = parts.next().map(|name| self.decl_name(name));
                StmtKind::Grant(Box::new(Grant {
                    role,
                    subject_kind,
                    subject_kind_span,
                    subject,
                    binding_name,
                }))
            }
            Rule::ingress => {
                let mut parts = children(pair);
                let from = self.peer(next(&mut parts));
                let ports = parts
                    .next()
                    .map(|ports| self.ports(ports))
                    .unwrap_or_default();
                StmtKind::Ingress(Ingress { from, ports })
            }
            Rule::egress => {
                let mut parts = children(pair);
                let first = next(&mut parts);
                if first.as_rule() == Rule::kw_dns {
                    StmtKind::Egress(Egress::Dns)
                } else if first.as_rule() == Rule::kw_deny {
                    StmtKind::Egress(Egress::DenyDns)
                } else {
                    let peer = self.peer(first);
                    let ports = parts
                        .next()
                        .map(|ports| self.ports(ports))
                        .unwrap_or_default();
                    StmtKind::Egress(Egress::To { peer, ports })
                }
            }
            Rule::metrics => {
                let mut parts = children(pair);
                StmtKind::Metrics(Metrics {
                    ports: self.ports(next(&mut parts)),
                })
            }
            Rule::if_stmt => StmtKind::If(Box::new(self.if_stmt(pair))),
            Rule::for_stmt => {
                let mut parts = children(pair);
                StmtKind::For(Box::new(ForStmt {
                    var: self.ident(next(&mut parts)),
                    iterable: self.expr(next(&mut parts)),
                    body: self.block(next(&mut parts)),
                }))
            }
            Rule::stage => {
                let mut parts = children(pair);
                let name = self.decl_name(next(&mut parts));
                let placement = self.placement(next(&mut parts));
                let body = self.block(next(&mut parts));
                StmtKind::Stage(Box::new(Stage {
                    name,
                    placement: placement?,
                    body,
                }))
            }
            Rule::alert_use => {
                let mut parts = children(pair);
                let template = self.decl_name(next(&mut parts));
                let mut rest = parts.peekable();
                let rename = rest
                    .next_if(|part| part.as_rule() == Rule::decl_name)
                    .map(|name| self.decl_name(name));
                StmtKind::Alert(AlertUse {
                    template,
                    rename,
                    args: rest.next().map(|args| self.block(args)),
                })
            }
            Rule::quota_stmt => {
                let mut parts = children(pair);
                let first = next(&mut parts);
                let quota = match first.as_rule() {
                    Rule::expr => Quota::Expr(self.expr(first)),
                    Rule::decl_name => Quota::Block {
                        name: Some(self.decl_name(first)),
                        body: self.block(next(&mut parts)),
                    },
                    _ => Quota::Block {
                        name: None,
                        body: self.block(first),
                    },
                };
                StmtKind::Quota(quota)
            }
            Rule::limits_stmt => {
                let mut parts = children(pair);
                let first = next(&mut parts);
                let limits = match first.as_rule() {
                    Rule::expr => Limits::Expr(self.expr(first)),
                    _ => {
                        let (name, kind) = if first.as_rule() == Rule::decl_name {
                            (Some(self.decl_name(first)), next(&mut parts))
                        } else {
                            (None, first)
                        };
                        let kind_span = self.span(&kind);
                        Limits::Block {
                            name,
                            kind: self.limit_kind(kind),
                            kind_span,
                            body: self.block(next(&mut parts)),
                        }
                    }
                };
                StmtKind::Limits(limits)
            }
            Rule::allow => {
                let mut parts = children(pair);
                StmtKind::Allow(Allow {
                    verbs: self.list(next(&mut parts)),
                    resources: self.list(next(&mut parts)),
                })
            }
            Rule::forbid => {
                let mut parts = children(pair);
                let what = next(&mut parts);
                let forbid = match what.as_rule() {
                    Rule::kw_verbs => Forbid::Verbs(self.list(next(&mut parts))),
                    Rule::kw_resources => Forbid::Resources(self.list(next(&mut parts))),
                    Rule::kw_wildcards => Forbid::Wildcards,
                    _ => unexpected(&what),
                };
                StmtKind::Forbid(forbid)
            }
            Rule::require => {
                let mut parts = children(pair);
                StmtKind::Require(Require {
                    alerts: self.list(next(&mut parts)),
                })
            }
            Rule::accept => {
                let mut parts = children(pair);
                StmtKind::Accept(Accept {
                    environments: self.list(next(&mut parts)),
                })
            }
            Rule::stray_comma => {
                self.report(
                    Diagnostic::new(Code::E0106, span, "unexpected `,` between fields")
                        .label("remove this comma")
                        .help("fields in a block are separated by spaces or new lines; commas separate the items of `[…]` lists and port lists only"),
                );
                return None;
            }
            _ => unexpected(&pair),
        };
        Some(Stmt { kind, span })
    }

    fn key(&mut self, pair: P) -> Key {
        expect_rule(&pair, Rule::key);
        let inner = next(&mut pair.into_inner());
        match inner.as_rule() {
            Rule::key_path => Key::Path(self.dotted(&inner)),
            Rule::string_lit => Key::Str(self.string_lit(inner)),
            _ => unexpected(&inner),
        }
    }

    fn peer(&mut self, pair: P) -> Peer {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let keyword = next(&mut inner);
        let kind = match keyword.as_rule() {
            Rule::kw_any => PeerKind::Any,
            Rule::kw_environment => PeerKind::Environment(self.decl_name(next(&mut inner))),
            Rule::kw_env => PeerKind::Env(self.decl_name(next(&mut inner))),
            Rule::kw_external => PeerKind::External(self.decl_name(next(&mut inner))),
            _ => unexpected(&keyword),
        };
        Peer { kind, span }
    }

    fn ports(&mut self, pair: P) -> Vec<Port> {
        expect_rule(&pair, Rule::port_list);
        children(pair).filter_map(|port| self.port(port)).collect()
    }

    fn port(&mut self, pair: P) -> Option<Port> {
        expect_rule(&pair, Rule::port);
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let first = next(&mut inner);
        let (protocol, number) = if first.as_rule() == Rule::protocol {
            let protocol = Protocol::parse(first.as_str()).unwrap_or_else(|| unexpected(&first));
            (Some(protocol), next(&mut inner))
        } else {
            (None, first)
        };
        let number_span = self.span(&number);
        let text = number.as_str();
        let value = port_number(text);
        let Some(protocol) = protocol else {
            self.report(
                Diagnostic::new(Code::E0105, span, format!("port `{text}` has no protocol"))
                    .label("expected `tcp`, `udp` or `sctp` before the number")
                    .help(format!("write `tcp {text}`")),
            );
            return None;
        };
        match value {
            Some(number) => Some(Port {
                protocol,
                number,
                span,
            }),
            None => {
                let why = if text.bytes().all(|b| b.is_ascii_digit()) {
                    "ports are numbers from 1 to 65535"
                } else {
                    "a port is a whole number without a unit"
                };
                self.report(
                    Diagnostic::new(Code::E0105, number_span, format!("invalid port `{text}`"))
                        .label(why)
                        .help("write a port such as `tcp 8080`"),
                );
                None
            }
        }
    }

    fn limit_kind(&mut self, pair: P) -> LimitKind {
        expect_rule(&pair, Rule::limit_kind);
        let keyword = next(&mut pair.into_inner());
        match keyword.as_rule() {
            Rule::kw_container => LimitKind::Container,
            Rule::kw_pod => LimitKind::Pod,
            Rule::kw_persistentvolumeclaim => LimitKind::PersistentVolumeClaim,
            _ => unexpected(&keyword),
        }
    }

    fn expr(&mut self, pair: P) -> Expr {
        expect_rule(&pair, Rule::expr);
        let mut operands = children(pair).map(|operand| self.operand(operand));
        let first = operands
            .next()
            .expect("grammar and AST builder disagree: an expression has an operand");
        operands.fold(first, |left, right| Expr {
            span: left.span.to(right.span),
            kind: ExprKind::Mul(Box::new(left), Box::new(right)),
        })
    }

    fn operand(&mut self, pair: P) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => ExprKind::Number(self.number(&pair)),
            Rule::bool => ExprKind::Bool(pair.as_str() == "true"),
            Rule::string_lit => ExprKind::Str(self.string_lit(pair)),
            Rule::list => ExprKind::List(self.list(pair)),
            Rule::record => {
                let mut parts = children(pair);
                let first = next(&mut parts);
                let (tag, body) = if first.as_rule() == Rule::record_tag {
                    let mut tag_parts = first.into_inner();
                    let keyword = next(&mut tag_parts);
                    let tag = match keyword.as_rule() {
                        Rule::kw_quota => RecordTag::Quota,
                        Rule::kw_limits => RecordTag::Limits(self.limit_kind(next(&mut tag_parts))),
                        _ => unexpected(&keyword),
                    };
                    (Some(tag), next(&mut parts))
                } else {
                    (None, first)
                };
                ExprKind::Record(Record {
                    tag,
                    body: self.block(body),
                })
            }
            Rule::value_ref => match pair.clone().into_inner().next() {
                Some(path) if path.as_rule() == Rule::field_path => {
                    ExprKind::Field(self.dotted(&path))
                }
                _ => ExprKind::Name(self.name_ref(pair)),
            },
            _ => unexpected(&pair),
        };
        Expr { kind, span }
    }

    fn list(&mut self, pair: P) -> List {
        expect_rule(&pair, Rule::list);
        let span = self.span(&pair);
        let items = children(pair).map(|item| self.expr(item)).collect();
        List { items, span }
    }

    fn number(&mut self, pair: &P) -> Number {
        let span = self.span(pair);
        match literal::number(pair.as_str()) {
            Ok(number) => number,
            Err(error) => {
                let text = pair.as_str();
                let diagnostic = match error {
                    NumberError::UnknownUnit { unit, suggestion } => {
                        let unit_start = span.end - unit.len() as u32;
                        let diagnostic = Diagnostic::new(
                            Code::E0104,
                            Span::new(unit_start, span.end),
                            format!("unknown unit `{unit}` in `{text}`"),
                        )
                        .label("not a unit envk knows");
                        let number = &text[..text.len() - unit.len()];
                        let is_bytes = unit.len() == 2 && unit.ends_with(['b', 'B']);
                        match suggestion {
                            Some("") => diagnostic.help(
                                "digit separators are not supported: write the digits together, or use a unit (`1k`, `2Gi`)",
                            ),
                            // `20Gb`: gibibytes is what Kubernetes users
                            // usually mean, gigabytes what the letters say.
                            Some(binary) if is_bytes => diagnostic.help(format!(
                                "did you mean `{number}{binary}` ({binary}B, powers of 1024) or `{number}{}` (decimal)? {UNITS_HELP}",
                                &binary[..1]
                            )),
                            Some(suggested) => {
                                diagnostic.help(format!("did you mean `{number}{suggested}`? {UNITS_HELP}"))
                            }
                            None => diagnostic.help(UNITS_HELP),
                        }
                    }
                    NumberError::TooLarge => {
                        // The field is not known here: the unit written,
                        // if any, says what the number measures.
                        let unit =
                            text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
                        let help = match unit {
                            "k" | "M" | "G" | "T" | "P" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" => {
                                format!("write the amount in a larger unit than `{unit}`, such as `Ti` for `Mi` or `Pi` for `Ti`")
                            }
                            "m" => "write cpu in cores rather than milli-cores (`2` for `2000m`), or a duration in hours rather than minutes".to_string(),
                            "ms" | "s" | "h" | "d" => format!("write the duration in a larger unit than `{unit}`, such as `d` or `w`"),
                            _ => "no amount envk checks needs that many digits: check the number for a typo".to_string(),
                        };
                        Diagnostic::new(Code::E0104, span, format!("number `{text}` is too large"))
                            .label("more than 38 significant digits")
                            .help(help)
                    }
                    NumberError::BadDuration { reason } => {
                        Diagnostic::new(Code::E0104, span, format!("invalid duration `{text}`"))
                            .label("not a duration")
                            .help(reason)
                    }
                };
                self.report(diagnostic);
                Number {
                    mantissa: 0,
                    scale: 0,
                    suffix: Suffix::None,
                }
            }
        }
    }

    /// `a.b.c` (a key path or an interpolation), one ident per segment.
    fn dotted(&self, pair: &P) -> Vec<Ident> {
        Ident::dotted(pair.as_str(), self.span(pair).start)
    }

    fn ident(&mut self, pair: P) -> Ident {
        assert!(
            matches!(
                pair.as_rule(),
                Rule::ident | Rule::label | Rule::subresource
            ),
            "grammar and AST builder disagree: {:?} is not a name",
            pair.as_rule()
        );
        Ident {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn name_ref(&mut self, pair: P) -> Ident {
        assert!(
            matches!(pair.as_rule(), Rule::value_ref),
            "grammar and AST builder disagree: {:?} is not a reference",
            pair.as_rule()
        );
        let ident = pair
            .into_inner()
            .find(|inner| {
                matches!(
                    inner.as_rule(),
                    Rule::ident | Rule::label | Rule::subresource
                )
            })
            .expect("a reference holds a name");
        self.ident(ident)
    }

    fn decl_name(&mut self, pair: P) -> Name {
        expect_rule(&pair, Rule::decl_name);
        let inner = next(&mut pair.into_inner());
        match inner.as_rule() {
            Rule::label => Name::Ident(self.ident(inner)),
            Rule::string_lit => Name::Str(self.string_lit(inner)),
            _ => unexpected(&inner),
        }
    }

    fn string_lit(&mut self, pair: P) -> StringLit {
        expect_rule(&pair, Rule::string_lit);
        let string = next(&mut pair.into_inner());
        let span = self.span(&string);
        let raw = match string.as_rule() {
            Rule::string => false,
            Rule::raw_string => true,
            _ => unexpected(&string),
        };
        let mut parts: Vec<StrPart> = Vec::new();
        let push_text = StrPart::push_text;
        for part in string.into_inner() {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::str_text => push_text(&mut parts, part.as_str()),
                // A file checked out with CRLF line ends must give the same
                // output as with LF.
                Rule::raw_text => push_text(&mut parts, &part.as_str().replace("\r\n", "\n")),
                Rule::escaped_dollar => push_text(&mut parts, "${"),
                Rule::escape => match literal::escape(part.as_str()) {
                    Ok(c) => push_text(&mut parts, c.encode_utf8(&mut [0; 4])),
                    Err(why) => self.report(
                        Diagnostic::new(
                            Code::E0108,
                            part_span,
                            format!("invalid escape `{}`", part.as_str()),
                        )
                        .label("not a valid escape")
                        .help(why),
                    ),
                },
                Rule::interp => {
                    let path = next(&mut part.into_inner());
                    parts.push(StrPart::Interp(self.dotted(&path)));
                }
                Rule::bad_interp => {
                    let text = part.as_str();
                    let (message, label) = if text.ends_with('}') {
                        (
                            format!("invalid interpolation `{text}`"),
                            "`${…}` holds a name such as `${team}`",
                        )
                    } else {
                        (
                            "unterminated interpolation".to_string(),
                            "this `${` has no closing `}`",
                        )
                    };
                    self.report(
                        Diagnostic::new(Code::E0109, part_span, message)
                            .label(label)
                            .help("to write a literal `${` (as in a relabel replacement `$${1}:9100`), double the dollar: `$${`"),
                    );
                }
                Rule::unterminated => {
                    let quote = Span::new(span.start, span.start + 1);
                    self.report(unterminated_string(quote, part_span, raw));
                }
                _ => unexpected(&part),
            }
        }
        StringLit { parts, raw, span }
    }
}

/// E0103, shared with the parse-failure path in `mod.rs`, which finds an
/// unterminated string that made its item fail.
pub(super) fn unterminated_string(quote: Span, end: Span, raw: bool) -> Diagnostic {
    let (message, help) = if raw {
        (
            "unterminated raw string",
            "close the raw string with a backtick",
        )
    } else {
        (
            "unterminated string",
            "close the string with `\"` before the end of the line; a raw string (`` `…` ``) may span lines",
        )
    };
    Diagnostic::new(Code::E0103, quote, message)
        .label("this string is never closed")
        .secondary(
            end,
            if raw {
                "the file ends here"
            } else {
                "the line ends here"
            },
        )
        .help(help)
}

const UNITS_HELP: &str = "memory: `Ki` `Mi` `Gi` `Ti` `Pi` `Ei` (powers of 1024) or `k` `M` `G` `T` `P` `E` (powers of 1000); cpu: `m` (milli-cores); durations: `ms` `s` `m` `h` `d` `w` `y`; ratios: `%`";
