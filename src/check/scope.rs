//! Whether an alert expression reads only its own namespace (E0702).
//!
//! The rule is structural, so that a reviewer can apply it by eye: every
//! vector and matrix selector carries the matcher `namespace="<the env's
//! namespace>"` (in each `or` group of its braces), with one exception. A
//! selector may go without it when it is an *operand* of an arithmetic,
//! comparison or `and` operator that has no `on`, `ignoring`, `group_*` or
//! `fill` modifier (`bool` is fine) and whose other side is scoped and
//! [keeps](Keeps) the `namespace` label. "Operand" looks through
//! parentheses, unary minus and the functions that keep every label of
//! each series ([`keeps_labels`]). Such an operator pairs series on all
//! their labels, so only the selector's series of this namespace can meet
//! the other side's. Inside an aggregation, `scalar`, `absent`,
//! `absent_over_time`, a subquery, or under `or` and `unless`, nothing
//! pairs series that way: every selector there needs the matcher.
//! Whatever the place, a regex or negative matcher on `namespace`, an
//! equality with another namespace, and a `label_replace` or `label_join`
//! that writes `namespace` are refused.
//!
//! Must never: decide anything on a string literal's text but whether it
//! equals the namespace or the word `namespace` (the PromQL cache in
//! `alerts.rs` relies on it), or visit a node twice (an alert is user
//! input, and its nesting is bounded only by the parser).

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::ast::{
    AggregateExpr, BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality,
};
use promql_parser::parser::token::{
    T_BOTTOMK, T_COUNT_VALUES, T_LAND, T_LIMIT_RATIO, T_LIMITK, T_LOR, T_LUNLESS, T_TOPK,
};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, VectorSelector};

/// How a template shows the namespace; messages use it rather than one
/// env's namespace, which the filled-in expression already shows.
const TEMPLATE_NAMESPACE: &str = "${namespace}";

/// One place where an expression reads outside its namespace.
#[derive(Debug)]
pub(crate) struct Leak {
    /// Which selector (or function) it is, and why it is refused.
    pub(crate) reason: String,
    /// What to write instead.
    pub(crate) help: String,
}

/// Every place `expr` reads outside `namespace`, in the order they are
/// written; none when it is scoped.
pub(crate) fn leaks(expr: &Expr, namespace: &str) -> Vec<Leak> {
    let mut walk = Walk {
        namespace,
        leaks: Vec::new(),
    };
    let walked = walk.expr(expr, Need::Here(Why::Alone));
    debug_assert!(
        walked.pending.is_none(),
        "only an operand defers its verdict"
    );
    walk.leaks
}

/// Whether every series an expression returns carries `namespace` with
/// the env's namespace, given that its selectors are scoped; if not, what
/// drops it.
type Keeps<'e> = Result<(), Dropper<'e>>;

/// What makes an expression's series lose the `namespace` label, or never
/// have it.
#[derive(Clone, Copy)]
enum Dropper<'e> {
    /// A number, a string, a scalar, or a vector made from one.
    NotSeries,
    /// A selector without the matcher keeps whatever namespaces it reads.
    Unscoped,
    Aggregation(&'e AggregateExpr),
    Function(&'static str),
    Modifier(&'e BinaryExpr),
}

/// What a selector without the matcher meets where it is.
#[derive(Clone, Copy)]
enum Need<'e> {
    /// The binary operator above decides, once it knows its other side.
    Operand,
    /// It needs the matcher; an operator further down may still excuse
    /// its own operands.
    Here(Why<'e>),
    /// It needs the matcher, and so does every selector below.
    Everywhere(Within<'e>),
}

/// Why a selector needs the matcher at one place.
#[derive(Clone, Copy)]
enum Why<'e> {
    /// Nothing beside it pairs its series with scoped ones.
    Alone,
    /// The other side of the operator is a number or a scalar.
    BesideScalar(&'e BinaryExpr),
    /// A function that does not keep every label lies between it and the
    /// operator.
    Function(&'static str),
    /// The operator pairs series on chosen labels, or fills in for a
    /// missing partner.
    Modifier(&'e BinaryExpr),
    /// The other side of the operator is not scoped.
    OtherUnscoped(&'e BinaryExpr),
    /// The other side of the operator is scoped but drops `namespace`.
    OtherDrops(&'e BinaryExpr, Dropper<'e>),
}

/// A construct under which every selector needs the matcher.
#[derive(Clone, Copy)]
enum Within<'e> {
    Aggregation(&'e AggregateExpr),
    Function(&'static str),
    Subquery,
    SetOperator(&'e BinaryExpr),
}

impl<'e> Need<'e> {
    /// The need at a place that needs the matcher for `why`, unless a
    /// construct above already requires it everywhere.
    fn here(self, why: Why<'e>) -> Need<'e> {
        match self {
            Need::Everywhere(within) => Need::Everywhere(within),
            Need::Operand | Need::Here(_) => Need::Here(why),
        }
    }
}

/// What walking an expression found, besides the leaks it recorded.
struct Walked<'e> {
    keeps: Keeps<'e>,
    /// A selector without the matcher at an operand's place, whose verdict
    /// waits for the operator above.
    pending: Option<Pending<'e>>,
}

struct Pending<'e> {
    selector: &'e VectorSelector,
    /// Where its leak goes among those recorded, to keep the written order.
    at: usize,
}

impl<'e> Walked<'e> {
    fn keeps(keeps: Keeps<'e>) -> Walked<'e> {
        Walked {
            keeps,
            pending: None,
        }
    }
}

struct Walk<'n> {
    namespace: &'n str,
    leaks: Vec<Leak>,
}

impl Walk<'_> {
    fn expr<'e>(&mut self, expr: &'e Expr, need: Need<'e>) -> Walked<'e> {
        match expr {
            Expr::VectorSelector(selector) => self.selector(selector, need),
            Expr::MatrixSelector(matrix) => self.selector(&matrix.vs, need),
            // Neither changes which series flow through, nor their labels.
            Expr::Paren(paren) => self.expr(&paren.expr, need),
            Expr::Unary(unary) => self.expr(&unary.expr, need),
            Expr::Subquery(subquery) => {
                let inner = self.expr(&subquery.expr, Need::Everywhere(Within::Subquery));
                Walked::keeps(inner.keeps)
            }
            Expr::Aggregate(aggregate) => self.aggregate(aggregate),
            Expr::Call(call) => {
                let name = call.func.name;
                if matches!(name, "label_replace" | "label_join") {
                    self.rewrite(name, call.args.args.get(1).map(|arg| &**arg));
                }
                let (series_need, other_need) = match name {
                    "scalar" | "absent" | "absent_over_time" => {
                        let within = Need::Everywhere(Within::Function(name));
                        (within, within)
                    }
                    _ if keeps_labels(name) => (need, need.here(Why::Function(name))),
                    _ => {
                        let here = need.here(Why::Function(name));
                        (here, here)
                    }
                };
                let mut walked = Walked::keeps(Err(Dropper::Function(name)));
                for arg in &call.args.args {
                    if is_series(arg) {
                        let inner = self.expr(arg, series_need);
                        if keeps_labels(name) {
                            walked = inner;
                        }
                    } else {
                        self.expr(arg, other_need);
                    }
                }
                walked
            }
            Expr::Binary(binary) => self.binary(binary, need),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {
                Walked::keeps(Err(Dropper::NotSeries))
            }
            // The parser never makes one; what it holds cannot be seen.
            Expr::Extension(_) => {
                self.leaks.push(Leak {
                    reason: "the expression holds a node envk cannot read".to_string(),
                    help: "write the expression in plain PromQL".to_string(),
                });
                Walked::keeps(Err(Dropper::NotSeries))
            }
        }
    }

    fn selector<'e>(&mut self, selector: &'e VectorSelector, need: Need<'e>) -> Walked<'e> {
        let mut refused = false;
        for matcher in groups(selector)
            .into_iter()
            .flatten()
            .filter(|m| m.name == "namespace")
        {
            let why = match &matcher.op {
                MatchOp::Equal if matcher.value == self.namespace => continue,
                MatchOp::Equal => "an alert may read only its own namespace's series",
                MatchOp::NotEqual => {
                    "a negative matcher on `namespace` matches every other namespace"
                }
                MatchOp::Re(_) => "a regex matcher on `namespace` can match other namespaces",
                MatchOp::NotRe(_) => {
                    "a negative regex matcher on `namespace` matches other namespaces"
                }
            };
            self.leaks.push(Leak {
                reason: format!(
                    "`{}` matches `{}`: {why}",
                    self.abridged(selector),
                    self.matcher(matcher)
                ),
                help: format!(
                    "match the namespace exactly, with no other matcher on `namespace`: `{}`",
                    self.fixed(selector)
                ),
            });
            refused = true;
        }
        if refused {
            return Walked::keeps(Err(Dropper::Unscoped));
        }
        // Every other matcher on `namespace` was refused above.
        let scoped = groups(selector).into_iter().all(|group| {
            group
                .iter()
                .any(|m| m.name == "namespace" && m.op == MatchOp::Equal)
        });
        if scoped {
            return Walked::keeps(Ok(()));
        }
        match need {
            Need::Operand => Walked {
                keeps: Err(Dropper::Unscoped),
                pending: Some(Pending {
                    selector,
                    at: self.leaks.len(),
                }),
            },
            Need::Here(why) => {
                let leak = self.unscoped(selector, why_text(why));
                self.leaks.push(leak);
                Walked::keeps(Err(Dropper::Unscoped))
            }
            Need::Everywhere(within) => {
                let leak = self.unscoped(selector, within_text(within));
                self.leaks.push(leak);
                Walked::keeps(Err(Dropper::Unscoped))
            }
        }
    }

    fn aggregate<'e>(&mut self, aggregate: &'e AggregateExpr) -> Walked<'e> {
        // The innermost construct is the one a message names.
        let need = Need::Everywhere(Within::Aggregation(aggregate));
        if let Some(param) = &aggregate.param {
            self.expr(param, need);
        }
        let inner = self.expr(&aggregate.expr, need).keeps;
        let keeps = match aggregate.op.id() {
            // They return some of their input's series, labels untouched.
            T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO => inner,
            // Its label parameter may be `namespace` itself.
            T_COUNT_VALUES => Err(Dropper::Aggregation(aggregate)),
            _ => match &aggregate.modifier {
                Some(LabelModifier::Include(by)) if lists_namespace(&by.labels) => inner,
                Some(LabelModifier::Exclude(without)) if !lists_namespace(&without.labels) => inner,
                Some(LabelModifier::Include(_) | LabelModifier::Exclude(_)) | None => {
                    Err(Dropper::Aggregation(aggregate))
                }
            },
        };
        Walked::keeps(keeps)
    }

    fn binary<'e>(&mut self, binary: &'e BinaryExpr, need: Need<'e>) -> Walked<'e> {
        let (lhs, rhs) = (&*binary.lhs, &*binary.rhs);
        let id = binary.op.id();
        let set_operator = matches!(id, T_LOR | T_LUNLESS);
        let keeps = |left: Keeps<'e>, right: Keeps<'e>| -> Keeps<'e> {
            match id {
                T_LOR => left.and(right),
                T_LUNLESS => left,
                _ if !pairs_on_all_labels(binary) => match id {
                    T_LAND => left,
                    _ => Err(Dropper::Modifier(binary)),
                },
                // Paired series have the same labels, and the result has them.
                _ => left.or(right),
            }
        };
        if !is_series(lhs) || !is_series(rhs) {
            let side_need = need.here(Why::BesideScalar(binary));
            let left = self.expr(lhs, side_need).keeps;
            let right = self.expr(rhs, side_need).keeps;
            return Walked::keeps(match (is_series(lhs), is_series(rhs)) {
                (true, _) => left,
                (false, true) => right,
                (false, false) => Err(Dropper::NotSeries),
            });
        }
        let side_need = match need {
            Need::Everywhere(within) => Some(Need::Everywhere(within)),
            Need::Operand | Need::Here(_) if set_operator => {
                Some(Need::Everywhere(Within::SetOperator(binary)))
            }
            Need::Operand | Need::Here(_) if !pairs_on_all_labels(binary) => {
                Some(Need::Here(Why::Modifier(binary)))
            }
            Need::Operand | Need::Here(_) => None,
        };
        if let Some(side_need) = side_need {
            let left = self.expr(lhs, side_need).keeps;
            let right = self.expr(rhs, side_need).keeps;
            return Walked::keeps(keeps(left, right));
        }
        // The exception: each side may be an unscoped selector if the
        // other is scoped and keeps `namespace`.
        let at_left = self.leaks.len();
        let left = self.expr(lhs, Need::Operand);
        let left_scoped = self.leaks.len() == at_left && left.pending.is_none();
        let at_right = self.leaks.len();
        let right = self.expr(rhs, Need::Operand);
        let right_scoped = self.leaks.len() == at_right && right.pending.is_none();
        // The right one first: inserting the left one shifts it.
        for (pending, other_scoped, other_keeps) in [
            (right.pending, left_scoped, left.keeps),
            (left.pending, right_scoped, right.keeps),
        ] {
            let Some(pending) = pending else { continue };
            let why = match (other_scoped, other_keeps) {
                (true, Ok(())) => continue,
                (true, Err(dropper)) => Why::OtherDrops(binary, dropper),
                (false, _) => Why::OtherUnscoped(binary),
            };
            let leak = self.unscoped(pending.selector, why_text(why));
            self.leaks.insert(pending.at, leak);
        }
        Walked::keeps(keeps(left.keeps, right.keeps))
    }

    /// Refuses a `label_replace` or `label_join` whose destination is
    /// `namespace`, or cannot be read as a plain string.
    fn rewrite(&mut self, name: &str, destination: Option<&Expr>) {
        let mut destination = destination;
        while let Some(Expr::Paren(paren)) = destination {
            destination = Some(&paren.expr);
        }
        if let Some(Expr::StringLiteral(label)) = destination
            && label.val != "namespace"
        {
            return;
        }
        self.leaks.push(Leak {
            reason: format!(
                "`{name}(…)` writes the `namespace` label: its series can pass for this namespace's"
            ),
            help: format!("let `{name}` write another label; `namespace` stays the series' own"),
        });
    }

    fn unscoped(&self, selector: &VectorSelector, why: String) -> Leak {
        Leak {
            reason: format!(
                "`{}` has no `namespace=\"{TEMPLATE_NAMESPACE}\"` matcher, and {why}",
                self.selector_text(selector)
            ),
            help: format!("add the matcher: `{}`", self.fixed(selector)),
        }
    }

    /// A matcher as written, the namespace shown as the template has it.
    fn matcher(&self, matcher: &Matcher) -> String {
        let value = if matcher.value == self.namespace {
            TEMPLATE_NAMESPACE.to_string()
        } else {
            promql_parser::util::escape_string(&matcher.value)
        };
        let name = if super::alerts::is_label_name(&matcher.name) {
            matcher.name.clone()
        } else {
            format!("\"{}\"", promql_parser::util::escape_string(&matcher.name))
        };
        format!("{name}{}\"{value}\"", matcher.op)
    }

    fn selector_text(&self, selector: &VectorSelector) -> String {
        braced(selector, |group| {
            group.iter().map(|m| self.matcher(m)).collect()
        })
    }

    /// The selector with the matcher added where it lacks it, and any
    /// other matcher on `namespace` taken out.
    fn fixed(&self, selector: &VectorSelector) -> String {
        braced(selector, |group| {
            let others = group
                .iter()
                .filter(|m| m.name != "namespace")
                .map(|m| self.matcher(m));
            std::iter::once(format!("namespace=\"{TEMPLATE_NAMESPACE}\""))
                .chain(others)
                .collect()
        })
    }

    /// The selector with its matchers left out: a message about one of
    /// them quotes that one.
    fn abridged(&self, selector: &VectorSelector) -> String {
        braced(selector, |_| vec!["…".to_string()])
    }
}

fn why_text(why: Why) -> String {
    match why {
        Why::Alone => "nothing beside it pairs its series with scoped ones".to_string(),
        Why::BesideScalar(binary) => format!(
            "the other side of `{}` is a number or a scalar, not a scoped series",
            binary.op
        ),
        Why::Function(name) => format!(
            "inside `{name}(…)`, which does not keep every label of each series, it needs one"
        ),
        Why::Modifier(binary) => format!(
            "`{} {}` does not pair series on all their labels, so both sides need one",
            binary.op,
            binary
                .modifier
                .as_ref()
                .map(modifier_text)
                .unwrap_or_default()
        ),
        Why::OtherUnscoped(binary) => {
            format!("the other side of `{}` is not scoped either", binary.op)
        }
        Why::OtherDrops(binary, dropper) => format!(
            "the other side of `{}` does not keep the `namespace` label: {}",
            binary.op,
            dropper_text(dropper)
        ),
    }
}

fn within_text(within: Within) -> String {
    match within {
        Within::Aggregation(aggregate) => {
            format!("inside `{}(…)` every selector needs one", aggregate.op)
        }
        Within::Function(name) => format!("inside `{name}(…)` every selector needs one"),
        Within::Subquery => "inside a subquery every selector needs one".to_string(),
        Within::SetOperator(binary) => {
            format!("under `{}` every selector needs one", binary.op)
        }
    }
}

/// The selector's `or` groups of matchers: one when it has no `or`.
fn groups(selector: &VectorSelector) -> Vec<&[Matcher]> {
    let matchers = &selector.matchers;
    if matchers.or_matchers.is_empty() {
        vec![&matchers.matchers]
    } else {
        matchers.or_matchers.iter().map(Vec::as_slice).collect()
    }
}

/// The selector as PromQL writes it, each group's matchers as `group`
/// writes them.
fn braced(selector: &VectorSelector, group: impl Fn(&[Matcher]) -> Vec<String>) -> String {
    let name = selector.name.as_deref().unwrap_or("");
    let inside: Vec<String> = groups(selector)
        .into_iter()
        .map(|matchers| group(matchers).join(", "))
        .filter(|text| !text.is_empty())
        .collect();
    if inside.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", inside.join(" or "))
    }
}

/// Whether a function returns, for each series of its argument, one series
/// with the same labels (less the metric name): then only the argument's
/// series of this namespace can pair with a scoped series through it.
/// A function not listed is taken not to; `label_replace` and `label_join`
/// are not listed, as they write a label.
fn keeps_labels(name: &str) -> bool {
    matches!(
        name,
        "abs"
            | "acos"
            | "acosh"
            | "asin"
            | "asinh"
            | "atan"
            | "atanh"
            | "avg_over_time"
            | "ceil"
            | "changes"
            | "clamp"
            | "clamp_max"
            | "clamp_min"
            | "cos"
            | "cosh"
            | "count_over_time"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "days_in_month"
            | "deg"
            | "delta"
            | "deriv"
            | "double_exponential_smoothing"
            | "exp"
            | "first_over_time"
            | "floor"
            | "histogram_avg"
            | "histogram_count"
            | "histogram_fraction"
            | "histogram_stddev"
            | "histogram_stdvar"
            | "histogram_sum"
            | "hour"
            | "idelta"
            | "increase"
            | "irate"
            | "last_over_time"
            | "ln"
            | "log10"
            | "log2"
            | "mad_over_time"
            | "max_over_time"
            | "min_over_time"
            | "minute"
            | "month"
            | "predict_linear"
            | "present_over_time"
            | "quantile_over_time"
            | "rad"
            | "rate"
            | "resets"
            | "round"
            | "sgn"
            | "sin"
            | "sinh"
            | "sort"
            | "sort_by_label"
            | "sort_by_label_desc"
            | "sort_desc"
            | "sqrt"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "sum_over_time"
            | "tan"
            | "tanh"
            | "timestamp"
            | "year"
    )
}

/// Whether an operator between two vectors pairs their series on all
/// their labels: no `on`, `ignoring`, `group_*` or `fill` (`bool` only
/// turns a filter into 0 and 1).
fn pairs_on_all_labels(binary: &BinaryExpr) -> bool {
    binary.modifier.as_ref().is_none_or(|modifier| {
        modifier.matching.is_none()
            && matches!(
                modifier.card,
                VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany
            )
            && modifier.fill_values.lhs.is_none()
            && modifier.fill_values.rhs.is_none()
    })
}

fn lists_namespace(labels: &[String]) -> bool {
    labels.iter().any(|label| label == "namespace")
}

fn is_series(expr: &Expr) -> bool {
    matches!(expr.value_type(), ValueType::Vector | ValueType::Matrix)
}

/// The modifier of a binary operator as PromQL writes it.
fn modifier_text(modifier: &BinModifier) -> String {
    let mut parts = Vec::new();
    match &modifier.matching {
        Some(LabelModifier::Include(labels)) => {
            parts.push(format!("on({})", labels.labels.join(", ")))
        }
        Some(LabelModifier::Exclude(labels)) => {
            parts.push(format!("ignoring({})", labels.labels.join(", ")))
        }
        None => {}
    }
    let group = |word: &str, labels: &[String]| match labels {
        [] => word.to_string(),
        labels => format!("{word}({})", labels.join(", ")),
    };
    match &modifier.card {
        VectorMatchCardinality::ManyToOne(labels) => {
            parts.push(group("group_left", &labels.labels))
        }
        VectorMatchCardinality::OneToMany(labels) => {
            parts.push(group("group_right", &labels.labels))
        }
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => {}
    }
    let fill = &modifier.fill_values;
    match (fill.lhs, fill.rhs) {
        (Some(left), Some(right)) if left == right => parts.push(format!("fill({left})")),
        (left, right) => {
            if let Some(left) = left {
                parts.push(format!("fill_left({left})"));
            }
            if let Some(right) = right {
                parts.push(format!("fill_right({right})"));
            }
        }
    }
    parts.join(" ")
}

fn dropper_text(dropper: Dropper) -> String {
    match dropper {
        Dropper::NotSeries => "it is not a set of series".to_string(),
        Dropper::Unscoped => "it reads other namespaces".to_string(),
        Dropper::Aggregation(aggregate) => match &aggregate.modifier {
            _ if aggregate.op.id() == T_COUNT_VALUES => {
                "`count_values(…)` writes a label of its own".to_string()
            }
            Some(LabelModifier::Include(by)) => {
                format!("`{} by ({})` drops it", aggregate.op, by.labels.join(", "))
            }
            Some(LabelModifier::Exclude(without)) => format!(
                "`{} without ({})` drops it",
                aggregate.op,
                without.labels.join(", ")
            ),
            None => format!("`{}(…)` without `by (namespace, …)` drops it", aggregate.op),
        },
        Dropper::Function(name) => format!("`{name}(…)` does not keep every label"),
        Dropper::Modifier(binary) => format!(
            "`{} {}` does not keep every label",
            binary.op,
            binary
                .modifier
                .as_ref()
                .map(modifier_text)
                .unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::leaks;

    const NS: &str = "team-1";

    /// The reasons given for `expr`, with `NS` for the namespace.
    fn reasons(expr: &str) -> Vec<String> {
        let expr = expr.replace("NS", NS);
        let parsed = promql_parser::parser::parse(&expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        leaks(&parsed, NS).into_iter().map(|l| l.reason).collect()
    }

    fn scoped(expr: &str) -> bool {
        reasons(expr).is_empty()
    }

    /// Asserts each expression is scoped, or not, as listed.
    fn verdicts(cases: &[(&str, bool)]) {
        for (expr, expected) in cases {
            assert_eq!(scoped(expr), *expected, "{expr}: {:#?}", reasons(expr));
        }
    }

    #[test]
    fn the_exception_needs_a_scoped_side_that_keeps_the_label() {
        verdicts(&[
            (r#"x{namespace="NS"} / y > 0.9"#, true),
            (r#"rate(x{namespace="NS"}[5m]) / rate(y[5m])"#, true),
            (r#"y / x{namespace="NS"}"#, true),
            (r#"x{namespace="NS"} and y"#, true),
            (r#"y and x{namespace="NS"}"#, true),
            (r#"x{namespace="NS"} > bool y"#, true),
            (r#"sum by (namespace, pod) (x{namespace="NS"}) / y"#, true),
            (r#"sum without (pod) (x{namespace="NS"}) / y"#, true),
            (r#"topk(3, x{namespace="NS"}) / y"#, true),
            (r#"(x{namespace="NS"} / y) / z"#, true),
            (r#"x{namespace="NS"} / -abs((y))"#, true),
            (r#"x{namespace="NS"} / clamp_max(y, 2)"#, true),
            (r#"max_over_time(x{namespace="NS"}[1h:]) / y"#, true),
            (r#"sum(x{namespace="NS"}) / y"#, false),
            (r#"sum by (pod) (x{namespace="NS"}) / y"#, false),
            (r#"sum without (namespace) (x{namespace="NS"}) / y"#, false),
            (r#"count_values("a", x{namespace="NS"}) / y"#, false),
            (r#"absent(x{namespace="NS"}) / y"#, false),
            (r#"vector(1) / y"#, false),
            (r#"x / y"#, false),
            (r#"x{namespace="NS"} / (y / z)"#, false),
            (r#"x{namespace="NS"} / histogram_quantile(0.9, y)"#, false),
            (
                r#"x{namespace="NS"} / label_replace(y, "a", "", "", "")"#,
                false,
            ),
            // Its operator is `*`, beside a number.
            (r#"x{namespace="NS"} / (y * 2)"#, false),
            (r#"y > 0.9"#, false),
            (r#"rate(y[5m])"#, false),
        ]);
    }

    #[test]
    fn a_modifier_turns_the_exception_off() {
        verdicts(&[
            (r#"x{namespace="NS"} / on(pod) y"#, false),
            (r#"x{namespace="NS"} / ignoring(namespace) y"#, false),
            (r#"x{namespace="NS"} / ignoring() y"#, false),
            (r#"x{namespace="NS"} and on(pod) y"#, false),
            (r#"x{namespace="NS"} * on(pod) group_left y"#, false),
            (r#"x{namespace="NS"} + fill(0) y"#, false),
            (
                r#"x{namespace="NS"} / ignoring(instance) y{namespace="NS"}"#,
                true,
            ),
            // Its result keeps no label envk follows, so it excuses nothing.
            (
                r#"(x{namespace="NS"} / ignoring(instance) y{namespace="NS"}) / z"#,
                false,
            ),
            // `and` and `unless` return their left side's series as they are.
            (
                r#"(x{namespace="NS"} and on(pod) y{namespace="NS"}) / z"#,
                true,
            ),
            (r#"(x{namespace="NS"} unless y{namespace="NS"}) / z"#, true),
            (r#"(x{namespace="NS"} or y{namespace="NS"}) / z"#, true),
        ]);
    }

    #[test]
    fn some_constructs_need_the_matcher_everywhere_inside() {
        verdicts(&[
            (r#"sum(x{namespace="NS"} / y)"#, false),
            (r#"scalar(x{namespace="NS"} / y)"#, false),
            (r#"absent(x{namespace="NS"} / y)"#, false),
            (r#"absent_over_time(y[5m])"#, false),
            (r#"max_over_time((x{namespace="NS"} / y)[1h:])"#, false),
            (r#"x{namespace="NS"} or (x{namespace="NS"} / y)"#, false),
            (r#"x{namespace="NS"} unless y"#, false),
            (r#"x{namespace="NS"} > 0 or y"#, false),
            (r#"topk(scalar(y), x{namespace="NS"})"#, false),
            (r#"scalar(sum(x)) + 0 * sum(y{namespace="NS"})"#, false),
            // Outside them, an operator still excuses its own operands.
            (r#"histogram_quantile(0.9, x{namespace="NS"} / y)"#, true),
        ]);
    }

    #[test]
    fn matchers_on_namespace_other_than_the_exact_one_are_refused() {
        verdicts(&[
            (r#"x{namespace=~"NS"}"#, false),
            (r#"x{namespace="NS", namespace=~".+"}"#, false),
            (r#"x{namespace="NS", namespace!="kube-system"}"#, false),
            (r#"x{namespace="NS", namespace!~"kube-.*"}"#, false),
            (r#"x{namespace="team-2"}"#, false),
            (r#"x{namespace="NS", namespace="team-2"}"#, false),
            (r#"x{namespace="NS"} / y{namespace!="kube-system"}"#, false),
            (r#"x{namespace="NS" or job="a"}"#, false),
            (r#"x{"namespace"=~".*"}"#, false),
            (r#"x{namespace="NS" or namespace="NS", job="a"}"#, true),
            (r#"x{"namespace"="NS"}"#, true),
        ]);
    }

    #[test]
    fn label_replace_and_label_join_may_not_write_namespace() {
        verdicts(&[
            (
                r#"label_replace(x{namespace="NS"}, "namespace", "a", "b", "(.*)")"#,
                false,
            ),
            (
                r#"label_replace(x{namespace="NS"}, ("namespace"), "a", "b", "(.*)")"#,
                false,
            ),
            (
                r#"label_join(x{namespace="NS"}, "namespace", ",", "a")"#,
                false,
            ),
            (
                r#"label_replace(x{namespace="NS"}, "a", "$1", "namespace", "(.*)")"#,
                true,
            ),
        ]);
    }

    #[test]
    fn each_leak_says_which_selector_and_why() {
        assert_eq!(
            reasons(
                r#"sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="NS"}[5m])) > 0.05"#
            ),
            [
                r#"`http_requests_total{code=~"5.."}` has no `namespace="${namespace}"` matcher, and inside `sum(…)` every selector needs one"#
            ]
        );
        assert_eq!(
            reasons(r#"y / x{namespace="NS", namespace=~"team-.*"} / z"#),
            [
                r#"`y` has no `namespace="${namespace}"` matcher, and the other side of `/` is not scoped either"#,
                r#"`x{…}` matches `namespace=~"team-.*"`: a regex matcher on `namespace` can match other namespaces"#,
                r#"`z` has no `namespace="${namespace}"` matcher, and the other side of `/` is not scoped either"#,
            ]
        );
        assert_eq!(
            reasons(r#"x / sum by (pod) (y{namespace="NS"})"#),
            [
                r#"`x` has no `namespace="${namespace}"` matcher, and the other side of `/` does not keep the `namespace` label: `sum by (pod)` drops it"#
            ]
        );
        assert_eq!(
            reasons(r#"x{namespace="NS"} * on() group_right y"#),
            [
                r#"`y` has no `namespace="${namespace}"` matcher, and `* on() group_right` does not pair series on all their labels, so both sides need one"#
            ]
        );
        assert_eq!(
            reasons(r#"label_join(x{namespace="NS"}, "namespace", ",", "a")"#),
            [
                "`label_join(…)` writes the `namespace` label: its series can pass for this namespace's"
            ]
        );
        assert_eq!(
            reasons(r#"{"app.name"="a" or __name__="b", namespace="NS"}"#),
            [
                r#"`{"app.name"="a" or __name__="b", namespace="${namespace}"}` has no `namespace="${namespace}"` matcher, and nothing beside it pairs its series with scoped ones"#
            ]
        );
    }

    #[test]
    fn leaks_come_in_the_order_they_are_written() {
        let found = reasons(r#"clamp_max(a, scalar(sum(b))) / (c / sum(d{namespace="NS"}))"#);
        let order: Vec<char> = found
            .iter()
            .map(|reason| reason.chars().nth(1).expect("a quoted selector"))
            .collect();
        assert_eq!(order, ['a', 'b', 'c'], "{found:#?}");
    }

    /// Nesting is bounded only by the parser: the walk must stay linear.
    #[test]
    fn deep_expressions_are_walked_once() {
        let mut expr = r#"x{namespace="NS"}"#.to_string();
        for _ in 0..200 {
            expr = format!("({expr} / y)");
        }
        assert!(scoped(&expr));
    }
}
