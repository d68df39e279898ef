//! A PromQL subset, evaluated over synthetic series exactly as Prometheus
//! 2.42's engine evaluates it (`promql/engine.go`, `promql/functions.go`):
//! the same float operations in the same order, the same label handling,
//! the same errors. What is outside the subset is refused by [`check`]
//! before anything is evaluated; [`eval`] still returns an error rather
//! than panicking if it meets one.
//!
//! Must never: guess. An operation whose Prometheus result depends on
//! something the synthetic store does not pin down (the order of series in
//! a float sum, say) is reported, and the caller gives up on the test.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::token::{
    T_ADD, T_AVG, T_COUNT, T_DIV, T_EQLC, T_GROUP, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE,
    T_LUNLESS, T_MAX, T_MIN, T_MOD, T_MUL, T_NEQ, T_POW, T_SUB, T_SUM, TokenId,
};
use promql_parser::parser::{
    AggregateExpr, BinModifier, BinaryExpr, Call, Expr, LabelModifier, MatrixSelector,
    VectorMatchCardinality, VectorSelector,
};

use super::Untestable;

/// A series' or sample's labels, sorted by name, no empty values
/// (Prometheus' `labels.Labels`).
pub(crate) type Labels = Vec<(String, String)>;

pub(crate) const METRIC_NAME: &str = "__name__";

/// Prometheus' default lookback delta.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Deeper expressions are refused: evaluation recurses, and an alert's
/// nesting is bounded only by the parser.
const MAX_DEPTH: usize = 64;

/// One input series: `values[i]` is its sample at `i * interval`, as
/// promtool loads `input_series`.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub labels: Labels,
    pub values: Vec<f64>,
}

/// Every input series of a test, sorted by labels.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    pub series: Vec<Series>,
    pub interval_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub labels: Labels,
    pub value: f64,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
}

fn op_text(op: TokenId) -> String {
    promql_parser::parser::token::TokenType::new(op).to_string()
}

/// Range functions envk evaluates, with Prometheus' implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeFunction {
    /// `extrapolatedRate(is_counter, is_rate)`: rate, increase, delta.
    Extrapolated { counter: bool, rate: bool },
    /// `instantValue(is_rate)`: irate, idelta.
    Instant { rate: bool },
}

fn range_function(name: &str) -> Option<RangeFunction> {
    Some(match name {
        "rate" => RangeFunction::Extrapolated {
            counter: true,
            rate: true,
        },
        "increase" => RangeFunction::Extrapolated {
            counter: true,
            rate: false,
        },
        "delta" => RangeFunction::Extrapolated {
            counter: false,
            rate: false,
        },
        "irate" => RangeFunction::Instant { rate: true },
        "idelta" => RangeFunction::Instant { rate: false },
        _ => return None,
    })
}

/// Functions whose argument a counter is (it goes up); the others' are
/// gauges.
pub(crate) fn reads_counter(function: &str) -> bool {
    matches!(function, "rate" | "increase" | "irate")
}

/// A vector selector of the expression, and whether a range function reads
/// it (then its synthetic series rises with time).
#[derive(Clone, Debug)]
pub(crate) struct Selector<'e> {
    pub selector: &'e VectorSelector,
    pub in_range: bool,
    pub in_counter_function: bool,
    /// The range of the range selector, in milliseconds.
    pub range_ms: Option<i64>,
}

/// Longer ranges are refused: a test must replay every evaluation.
const MAX_RANGE_MS: u128 = 366 * 24 * 3_600_000;

/// Refuses what is outside the subset, with a reason a user can act on,
/// and lists the selectors in the order they are written.
pub(crate) fn check(expr: &Expr) -> Result<Vec<Selector<'_>>, Untestable> {
    let mut selectors = Vec::new();
    check_node(expr, 0, &mut selectors)?;
    Ok(selectors)
}

fn unsupported(what: impl std::fmt::Display) -> Untestable {
    Untestable(format!("{what} is not evaluated by envk's test generator"))
}

fn check_node<'e>(
    expr: &'e Expr,
    depth: usize,
    selectors: &mut Vec<Selector<'e>>,
) -> Result<(), Untestable> {
    if depth > MAX_DEPTH {
        return Err(Untestable(format!(
            "the expression nests deeper than {MAX_DEPTH} levels"
        )));
    }
    match expr {
        Expr::NumberLiteral(_) => Ok(()),
        Expr::Paren(paren) => check_node(&paren.expr, depth + 1, selectors),
        Expr::Unary(unary) => check_node(&unary.expr, depth + 1, selectors),
        Expr::VectorSelector(vs) => {
            check_selector(vs)?;
            selectors.push(Selector {
                selector: vs,
                in_range: false,
                in_counter_function: false,
                range_ms: None,
            });
            Ok(())
        }
        Expr::Aggregate(aggregate) => {
            let op = aggregate.op.id();
            if !matches!(op, T_SUM | T_AVG | T_COUNT | T_MIN | T_MAX | T_GROUP) {
                return Err(unsupported(format!("the aggregation `{}`", op_text(op))));
            }
            if aggregate.param.is_some() {
                return Err(unsupported("an aggregation parameter"));
            }
            check_node(&aggregate.expr, depth + 1, selectors)
        }
        Expr::Binary(binary) => {
            if let Some(modifier) = &binary.modifier {
                let fill = &modifier.fill_values;
                if fill.lhs.is_some() || fill.rhs.is_some() {
                    return Err(unsupported("`fill` (not in Prometheus 2.42)"));
                }
            }
            let op = binary.op.id();
            if !matches!(
                op,
                T_ADD
                    | T_SUB
                    | T_MUL
                    | T_DIV
                    | T_MOD
                    | T_POW
                    | T_EQLC
                    | T_NEQ
                    | T_GTR
                    | T_LSS
                    | T_GTE
                    | T_LTE
                    | T_LAND
                    | T_LOR
                    | T_LUNLESS
            ) {
                return Err(unsupported(format!("the operator `{}`", op_text(op))));
            }
            check_node(&binary.lhs, depth + 1, selectors)?;
            check_node(&binary.rhs, depth + 1, selectors)
        }
        Expr::Call(call) => {
            let name = call.func.name;
            if range_function(name).is_none() {
                return Err(unsupported(format!("function `{name}`")));
            }
            let [arg] = call.args.args.as_slice() else {
                return Err(unsupported(format!(
                    "`{name}` with other than one argument"
                )));
            };
            let Some(matrix) = matrix_argument(arg) else {
                return Err(unsupported(format!(
                    "`{name}` of other than a range selector (a subquery, say)"
                )));
            };
            check_selector(&matrix.vs)?;
            let range = matrix.range.as_millis();
            if range == 0 || range > MAX_RANGE_MS {
                return Err(Untestable(format!(
                    "`{name}` has a range that is empty or longer than a year"
                )));
            }
            selectors.push(Selector {
                selector: &matrix.vs,
                in_range: true,
                in_counter_function: reads_counter(name),
                range_ms: Some(range as i64),
            });
            Ok(())
        }
        Expr::MatrixSelector(_) => Err(unsupported("a range selector outside a function")),
        Expr::Subquery(_) => Err(unsupported("a subquery")),
        Expr::StringLiteral(_) => Err(unsupported("a string literal")),
        Expr::Extension(_) => Err(unsupported("an extension expression")),
    }
}

fn matrix_argument(arg: &Expr) -> Option<&MatrixSelector> {
    match arg {
        Expr::MatrixSelector(matrix) => Some(matrix),
        Expr::Paren(paren) => matrix_argument(&paren.expr),
        _ => None,
    }
}

fn check_selector(vs: &VectorSelector) -> Result<(), Untestable> {
    if vs.offset.is_some() {
        return Err(unsupported("`offset`"));
    }
    if vs.at.is_some() {
        return Err(unsupported("the `@` modifier"));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(unsupported(
            "`or` inside a selector (not in Prometheus 2.42)",
        ));
    }
    if metric_name(vs).is_none() {
        return Err(Untestable(format!(
            "the selector `{vs}` names no metric, so envk's test generator cannot make a series for it"
        )));
    }
    for matcher in &vs.matchers.matchers {
        if !is_legacy_name(&matcher.name)
            || (matcher.name.starts_with("__") && matcher.name != METRIC_NAME)
        {
            return Err(unsupported(format!("the label name `{}`", matcher.name)));
        }
    }
    Ok(())
}

/// Prometheus 2.42's label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_legacy_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The selector's metric name: written before the braces or as
/// `__name__="…"`; a legacy name, as 2.42 requires.
pub(crate) fn metric_name(vs: &VectorSelector) -> Option<&str> {
    let name = match &vs.name {
        Some(name) => name.as_str(),
        None => vs
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.as_str())?,
    };
    let mut chars = name.chars();
    let legal = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    legal.then_some(name)
}

pub(crate) fn label<'l>(labels: &'l Labels, name: &str) -> &'l str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

pub(crate) fn set_label(labels: &mut Labels, name: &str, value: &str) {
    match labels.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(at) if value.is_empty() => {
            labels.remove(at);
        }
        Ok(at) => labels[at].1 = value.to_string(),
        Err(_) if value.is_empty() => {}
        Err(at) => labels.insert(at, (name.to_string(), value.to_string())),
    }
}

/// Whether a series with these labels is selected by `vs`.
pub(crate) fn selects(vs: &VectorSelector, labels: &Labels) -> bool {
    if let Some(name) = &vs.name
        && label(labels, METRIC_NAME) != name
    {
        return false;
    }
    vs.matchers
        .matchers
        .iter()
        .all(|m: &Matcher| m.is_match(label(labels, &m.name)))
}

/// Evaluation of one expression at one time over one store.
pub(crate) struct Evaluation<'s> {
    pub store: &'s Store,
    pub t: i64,
    /// Set when a float result depended on the order of series (a sum of
    /// several inexact values): Prometheus' order is not the store's.
    pub order_sensitive: bool,
    /// The first comparison whose operands were within float rounding of
    /// each other (see [`fragile`]): its outcome could differ in
    /// Prometheus by an ulp.
    pub near_miss: Option<(f64, f64)>,
}

impl<'s> Evaluation<'s> {
    pub(crate) fn new(store: &'s Store, t: i64) -> Evaluation<'s> {
        Evaluation {
            store,
            t,
            order_sensitive: false,
            near_miss: None,
        }
    }

    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<Value, Untestable> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Value::Scalar(number.val)),
            Expr::Paren(paren) => self.eval(&paren.expr),
            Expr::Unary(unary) => Ok(match self.eval(&unary.expr)? {
                Value::Scalar(v) => Value::Scalar(-v),
                Value::Vector(samples) => {
                    let samples: Vec<Sample> = samples
                        .into_iter()
                        .map(|mut s| {
                            drop_metric_name(&mut s.labels);
                            s.value = -s.value;
                            s
                        })
                        .collect();
                    // Without their names, two series may be one.
                    no_duplicates(&samples)?;
                    Value::Vector(samples)
                }
            }),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant(vs))),
            Expr::Aggregate(aggregate) => self.aggregate(aggregate),
            Expr::Binary(binary) => self.binary(binary),
            Expr::Call(call) => self.call(call),
            Expr::MatrixSelector(_)
            | Expr::Subquery(_)
            | Expr::StringLiteral(_)
            | Expr::Extension(_) => Err(unsupported(format!("`{expr}`"))),
        }
    }

    fn selected(&self, vs: &'s VectorSelector) -> impl Iterator<Item = &'s Series> + use<'s> {
        self.store
            .series
            .iter()
            .filter(move |series| selects(vs, &series.labels))
    }

    /// `vectorSelectorSingle`: the latest sample at or before `t`, if it is
    /// at most the lookback delta old (both ends closed).
    fn instant(&self, vs: &VectorSelector) -> Vec<Sample> {
        let interval = self.store.interval_ms;
        let mut out = Vec::new();
        for series in self.store.series.iter().filter(|s| selects(vs, &s.labels)) {
            if self.t < 0 || series.values.is_empty() || interval <= 0 {
                continue;
            }
            let last = (series.values.len() - 1) as i64;
            let index = (self.t / interval).min(last);
            if index * interval < self.t - LOOKBACK_MS {
                continue;
            }
            out.push(Sample {
                labels: series.labels.clone(),
                value: series.values[index as usize],
            });
        }
        out
    }

    fn call(&mut self, call: &Call) -> Result<Value, Untestable> {
        let name = call.func.name;
        let function =
            range_function(name).ok_or_else(|| unsupported(format!("function `{name}`")))?;
        let matrix = match call.args.args.as_slice() {
            [arg] => matrix_argument(arg),
            _ => None,
        }
        .ok_or_else(|| unsupported(format!("`{name}` of other than a range selector")))?;
        let range_ms = matrix.range.as_millis() as i64;
        let interval = self.store.interval_ms;
        let (mint, maxt) = (self.t - range_ms, self.t);
        let mut out = Vec::new();
        for series in self.selected(&matrix.vs) {
            // `matrixIterSlice` in 2.42: samples in [t - range, t].
            // The samples' indices in the window, found, not scanned for:
            // a long window over a long run was quadratic.
            // The first sample at or after `mint` (the interval is positive).
            let first = usize::try_from((mint.max(0) as u64).div_ceil(interval as u64))
                .unwrap_or(usize::MAX);
            let last = usize::try_from(maxt.div_euclid(interval)).unwrap_or(0);
            let points: Vec<(i64, f64)> = series
                .values
                .iter()
                .enumerate()
                .take(last.saturating_add(1))
                .skip(first)
                .map(|(i, &v)| (i as i64 * interval, v))
                .filter(|&(t, _)| t >= mint && t <= maxt)
                .collect();
            if points.is_empty() {
                continue;
            }
            let value = match function {
                RangeFunction::Extrapolated { counter, rate } => {
                    extrapolated_rate(&points, mint, maxt, range_ms, counter, rate)
                }
                RangeFunction::Instant { rate } => instant_value(&points, rate),
            };
            if let Some(value) = value {
                let mut labels = series.labels.clone();
                drop_metric_name(&mut labels);
                out.push(Sample { labels, value });
            }
        }
        no_duplicates(&out)?;
        Ok(Value::Vector(out))
    }

    fn aggregate(&mut self, aggregate: &AggregateExpr) -> Result<Value, Untestable> {
        let op = aggregate.op.id();
        let input = match self.eval(&aggregate.expr)? {
            Value::Vector(samples) => samples,
            Value::Scalar(_) => return Err(unsupported("an aggregation of a scalar")),
        };
        // (result labels, samples' values in input order)
        let mut groups: Vec<(Labels, Vec<f64>)> = Vec::new();
        for sample in input {
            let mut labels = sample.labels;
            match &aggregate.modifier {
                Some(LabelModifier::Include(by)) => {
                    labels.retain(|(n, _)| by.labels.iter().any(|l| l == n));
                }
                Some(LabelModifier::Exclude(without)) => {
                    labels.retain(|(n, _)| {
                        n != METRIC_NAME && !without.labels.iter().any(|l| l == n)
                    });
                }
                None => labels.clear(),
            }
            match groups.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, values)) => values.push(sample.value),
                None => groups.push((labels, vec![sample.value])),
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (labels, values) in groups {
            let value = match op {
                T_SUM => {
                    let forward = values.iter().fold(0.0, |sum, v| sum + v);
                    let backward = values.iter().rev().fold(0.0, |sum, v| sum + v);
                    // Prometheus starts from the first value, not 0: the
                    // same unless the first is -0.
                    let first_based = values[1..].iter().fold(values[0], |sum, v| sum + v);
                    // promtool makes its series in Go's map order, which
                    // differs from run to run: with three values or more,
                    // only a sum of whole numbers (exact in any order) is
                    // the same whatever the order; forward against backward
                    // misses `(r + r) + d` against `(r + d) + r`.
                    let exact = values
                        .iter()
                        .all(|v| v.fract() == 0.0 && v.abs() < 2f64.powi(50));
                    if forward.to_bits() != backward.to_bits() || (values.len() > 2 && !exact) {
                        self.order_sensitive = true;
                    }
                    first_based
                }
                T_AVG => {
                    let mean = |values: &mut dyn Iterator<Item = f64>| {
                        let mut mean = 0.0;
                        let mut count = 0.0;
                        for v in values {
                            count += 1.0;
                            if count == 1.0 {
                                mean = v;
                                continue;
                            }
                            if mean.is_infinite() {
                                if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                                    continue;
                                }
                                if !v.is_infinite() && !v.is_nan() {
                                    continue;
                                }
                            }
                            mean += v / count - mean / count;
                        }
                        mean
                    };
                    let forward = mean(&mut values.iter().copied());
                    let backward = mean(&mut values.iter().rev().copied());
                    // As for sums: an incremental mean of three values or
                    // more depends on their order but for equal values.
                    let equal = values.iter().all(|v| v.to_bits() == values[0].to_bits());
                    if forward.to_bits() != backward.to_bits() || (values.len() > 2 && !equal) {
                        self.order_sensitive = true;
                    }
                    forward
                }
                T_COUNT => values.len() as f64,
                T_GROUP => 1.0,
                T_MIN | T_MAX => {
                    let mut value = values[0];
                    for &v in &values[1..] {
                        let replace = if op == T_MAX { value < v } else { value > v };
                        if replace || value.is_nan() {
                            value = v;
                        }
                    }
                    value
                }
                _ => {
                    return Err(unsupported(format!("the aggregation `{}`", op_text(op))));
                }
            };
            out.push(Sample { labels, value });
        }
        Ok(Value::Vector(out))
    }

    fn binary(&mut self, binary: &BinaryExpr) -> Result<Value, Untestable> {
        let op = binary.op.id();
        let lhs = self.eval(&binary.lhs)?;
        let rhs = self.eval(&binary.rhs)?;
        let return_bool = binary.return_bool();
        if is_comparison(op) {
            self.note_comparisons(op, &lhs, &rhs);
        }
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                if is_comparison(op) && !return_bool {
                    return Err(Untestable(
                        "a comparison of two scalars needs `bool`".to_string(),
                    ));
                }
                Ok(Value::Scalar(scalar_binop(op, l, r)?))
            }
            (Value::Vector(v), Value::Scalar(s)) => {
                let samples = vector_scalar(op, v, s, false, return_bool)?;
                no_duplicates(&samples)?;
                Ok(Value::Vector(samples))
            }
            (Value::Scalar(s), Value::Vector(v)) => {
                let samples = vector_scalar(op, v, s, true, return_bool)?;
                no_duplicates(&samples)?;
                Ok(Value::Vector(samples))
            }
            (Value::Vector(l), Value::Vector(r)) => {
                let out = match op {
                    T_LAND | T_LOR | T_LUNLESS => set_operation(op, l, r, binary.modifier.as_ref()),
                    _ => vector_binop(op, l, r, binary.modifier.as_ref(), return_bool)?
                        .into_iter()
                        .filter(|pair| pair.keep)
                        .map(|pair| Sample {
                            labels: pair.labels,
                            value: pair.value,
                        })
                        .collect(),
                };
                no_duplicates(&out)?;
                Ok(Value::Vector(out))
            }
        }
    }

    /// Records a near miss among the operand pairs a comparison weighs
    /// (every pairing, a superset of what vector matching pairs).
    fn note_comparisons(&mut self, op: TokenId, lhs: &Value, rhs: &Value) {
        if self.near_miss.is_some() {
            return;
        }
        let values = |v: &Value| -> Vec<f64> {
            match v {
                Value::Scalar(s) => vec![*s],
                Value::Vector(samples) => samples.iter().map(|s| s.value).collect(),
            }
        };
        let (left, right) = (values(lhs), values(rhs));
        for &l in &left {
            if let Some(&r) = right.iter().find(|&&r| fragile(op, l, r)) {
                self.near_miss = Some((l, r));
                return;
            }
        }
    }

    /// The pairs a comparison `lhs <op> rhs` (without `bool`) weighs: each
    /// with the left value (what the rule measures), the right one (its
    /// threshold) and whether it holds. The left side must be a vector.
    pub(crate) fn comparison_pairs(
        &mut self,
        binary: &BinaryExpr,
    ) -> Result<Vec<Pair>, Untestable> {
        let op = binary.op.id();
        let lhs = self.eval(&binary.lhs)?;
        let rhs = self.eval(&binary.rhs)?;
        let Value::Vector(lhs) = lhs else {
            return Err(Untestable(
                "the left side of the comparison reads no series".to_string(),
            ));
        };
        match rhs {
            Value::Scalar(threshold) => Ok(lhs
                .into_iter()
                .map(|s| Pair {
                    keep: compare(op, s.value, threshold),
                    left: s.value,
                    right: threshold,
                    value: s.value,
                    labels: s.labels,
                })
                .collect()),
            Value::Vector(rhs) => vector_binop(op, lhs, rhs, binary.modifier.as_ref(), false),
        }
    }
}

/// One matched pair of a vector/vector (or vector/scalar) operation.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    /// The result sample's labels (`resultMetric`).
    pub labels: Labels,
    /// The operands, in the expression's order.
    pub left: f64,
    pub right: f64,
    /// The result's value (the left operand for a comparison).
    pub value: f64,
    /// For a comparison, whether it holds; true otherwise.
    pub keep: bool,
}

/// Whether comparing `l` with `r` could go either way under float
/// rounding (an evaluator an ulp off Prometheus'). Exact equality is meant
/// for `==`/`!=`, and for zeros (a flat counter's rate is exactly 0).
pub(crate) fn fragile(op: TokenId, l: f64, r: f64) -> bool {
    if l.is_nan() || r.is_nan() || l.is_infinite() || r.is_infinite() {
        return false;
    }
    if l == r {
        return !(op == T_EQLC || op == T_NEQ || l == 0.0);
    }
    (l - r).abs() <= 1e-9 * l.abs().max(r.abs())
}

fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

pub(crate) fn compare(op: TokenId, l: f64, r: f64) -> bool {
    match op {
        T_EQLC => l == r,
        T_NEQ => l != r,
        T_GTR => l > r,
        T_LSS => l < r,
        T_GTE => l >= r,
        T_LTE => l <= r,
        _ => false,
    }
}

/// `shouldDropMetricName`: arithmetic drops the name, comparisons keep it.
fn drops_metric_name(op: TokenId) -> bool {
    matches!(op, T_ADD | T_SUB | T_MUL | T_DIV | T_POW | T_MOD)
}

fn drop_metric_name(labels: &mut Labels) {
    labels.retain(|(n, _)| n != METRIC_NAME);
}

/// `vectorElemBinop` for floats: (value, keep).
fn elem_binop(op: TokenId, l: f64, r: f64) -> Result<(f64, bool), Untestable> {
    Ok(match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (go_pow(l, r)?, true),
        T_MOD => (go_mod(l, r), true),
        T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE => (l, compare(op, l, r)),
        _ => {
            return Err(unsupported(format!("the operator `{}`", op_text(op))));
        }
    })
}

fn scalar_binop(op: TokenId, l: f64, r: f64) -> Result<f64, Untestable> {
    if is_comparison(op) {
        return Ok(if compare(op, l, r) { 1.0 } else { 0.0 });
    }
    Ok(elem_binop(op, l, r)?.0)
}

/// Go's `math.Pow` is not correctly rounded and differs from the C
/// library's `pow` for some operands; only exact cases are trusted.
fn go_pow(l: f64, r: f64) -> Result<f64, Untestable> {
    let exact_integer_power = r.fract() == 0.0 && (0.0..=64.0).contains(&r) && l.fract() == 0.0;
    let result = l.powf(r);
    if exact_integer_power && result.abs() < 9_007_199_254_740_992.0 {
        Ok(result)
    } else {
        Err(Untestable(
            "`^` of other than small whole numbers may round differently in Prometheus".to_string(),
        ))
    }
}

/// Go's `math.Mod`: the remainder with the sign of `l`, as Rust's `%`.
fn go_mod(l: f64, r: f64) -> f64 {
    l % r
}

/// `VectorscalarBinop`: `swap` when the scalar is on the left.
fn vector_scalar(
    op: TokenId,
    vector: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, Untestable> {
    let mut out = Vec::new();
    for mut sample in vector {
        let (l, r) = if swap {
            (scalar, sample.value)
        } else {
            (sample.value, scalar)
        };
        let (mut value, mut keep) = elem_binop(op, l, r)?;
        // A comparison keeps the vector's value even when it is on the right.
        if is_comparison(op) && swap {
            value = r;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            sample.value = value;
            if drops_metric_name(op) || return_bool {
                drop_metric_name(&mut sample.labels);
            }
            out.push(sample);
        }
    }
    Ok(out)
}

/// The matching labels and whether they are `on` (else `ignoring`).
fn matching(modifier: Option<&BinModifier>) -> (bool, Vec<String>) {
    match modifier.and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(on)) => (true, on.labels.clone()),
        Some(LabelModifier::Exclude(ignoring)) => (false, ignoring.labels.clone()),
        None => (false, Vec::new()),
    }
}

/// `signatureFunc`: the labels two samples must share to match.
fn signature(labels: &Labels, on: bool, names: &[String]) -> Labels {
    labels
        .iter()
        .filter(|(n, _)| {
            if on {
                names.iter().any(|l| l == n)
            } else {
                n != METRIC_NAME && !names.iter().any(|l| l == n)
            }
        })
        .cloned()
        .collect()
}

/// `VectorBinop`, every matched pair with whether a comparison holds.
fn vector_binop(
    op: TokenId,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
) -> Result<Vec<Pair>, Untestable> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let card = modifier.map_or(&VectorMatchCardinality::OneToOne, |m| &m.card);
    let (on, names) = matching(modifier);
    let (include, one_to_many, one_to_one) = match card {
        VectorMatchCardinality::OneToOne => (Vec::new(), false, true),
        VectorMatchCardinality::ManyToOne(labels) => (labels.labels.clone(), false, false),
        VectorMatchCardinality::OneToMany(labels) => (labels.labels.clone(), true, false),
        VectorMatchCardinality::ManyToMany => {
            return Err(unsupported(
                "many-to-many matching of an arithmetic operator",
            ));
        }
    };
    // For one-to-many, Prometheus swaps the sides and swaps the values back.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: Vec<(Labels, Sample)> = Vec::with_capacity(one.len());
    for sample in one {
        let sig = signature(&sample.labels, on, &names);
        if right.iter().any(|(s, _)| *s == sig) {
            return Err(Untestable(format!(
                "the synthetic series match many-to-many in `{}`; matching labels must be unique on one side",
                op_text(op)
            )));
        }
        right.push((sig, sample));
    }
    let mut matched: Vec<(Labels, Vec<Labels>)> = Vec::new();
    let mut out = Vec::new();
    for sample in many {
        let sig = signature(&sample.labels, on, &names);
        let Some((_, other)) = right.iter().find(|(s, _)| *s == sig) else {
            continue;
        };
        let (l, r) = if one_to_many {
            (other.value, sample.value)
        } else {
            (sample.value, other.value)
        };
        let (mut value, keep) = elem_binop(op, l, r)?;
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        }
        // `resultMetric`
        let mut labels = sample.labels.clone();
        if drops_metric_name(op) {
            drop_metric_name(&mut labels);
        }
        if one_to_one {
            if on {
                labels.retain(|(n, _)| names.iter().any(|l| l == n));
            } else {
                labels.retain(|(n, _)| !names.iter().any(|l| l == n));
            }
        }
        for name in &include {
            let v = label(&other.labels, name).to_string();
            set_label(&mut labels, name, &v);
        }
        if return_bool {
            drop_metric_name(&mut labels);
        }
        match matched.iter_mut().find(|(s, _)| *s == sig) {
            Some(_) if one_to_one => {
                return Err(Untestable(
                    "the synthetic series match many-to-one without `group_left`/`group_right`"
                        .to_string(),
                ));
            }
            Some((_, results)) => {
                if results.contains(&labels) {
                    return Err(Untestable(
                        "grouping labels do not make the synthetic series' matches unique"
                            .to_string(),
                    ));
                }
                results.push(labels.clone());
            }
            None => matched.push((sig, vec![labels.clone()])),
        }
        out.push(Pair {
            labels,
            left: l,
            right: r,
            value,
            keep: keep || return_bool,
        });
    }
    Ok(out)
}

/// `VectorAnd`, `VectorOr`, `VectorUnless`.
fn set_operation(
    op: TokenId,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    modifier: Option<&BinModifier>,
) -> Vec<Sample> {
    let (on, names) = matching(modifier);
    let sig = |s: &Sample| signature(&s.labels, on, &names);
    match op {
        T_LAND => {
            if lhs.is_empty() || rhs.is_empty() {
                return Vec::new();
            }
            let right: Vec<Labels> = rhs.iter().map(sig).collect();
            lhs.into_iter()
                .filter(|s| right.contains(&sig(s)))
                .collect()
        }
        T_LOR => {
            if lhs.is_empty() {
                return rhs;
            }
            if rhs.is_empty() {
                return lhs;
            }
            let left: Vec<Labels> = lhs.iter().map(sig).collect();
            let extra: Vec<Sample> = rhs
                .into_iter()
                .filter(|s| !left.contains(&sig(s)))
                .collect();
            lhs.into_iter().chain(extra).collect()
        }
        _ => {
            if lhs.is_empty() || rhs.is_empty() {
                return lhs;
            }
            let right: Vec<Labels> = rhs.iter().map(sig).collect();
            lhs.into_iter()
                .filter(|s| !right.contains(&sig(s)))
                .collect()
        }
    }
}

/// Prometheus fails an evaluation whose vector holds one label set twice.
fn no_duplicates(samples: &[Sample]) -> Result<(), Untestable> {
    for (i, a) in samples.iter().enumerate() {
        if samples[i + 1..].iter().any(|b| b.labels == a.labels) {
            return Err(Untestable(
                "a vector of the expression holds two series with the same labels (Prometheus fails the evaluation)"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

/// `extrapolatedRate` of Prometheus 2.42, operation for operation.
fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        let mut prev = first_v;
        for &(_, v) in &points[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_between_samples = sampled_interval / (points.len() - 1) as f64;
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let extrapolation_threshold = average_between_samples * 1.1;
    let mut extrapolate_to_interval = sampled_interval;
    if duration_to_start < extrapolation_threshold {
        extrapolate_to_interval += duration_to_start;
    } else {
        extrapolate_to_interval += average_between_samples / 2.0;
    }
    if duration_to_end < extrapolation_threshold {
        extrapolate_to_interval += duration_to_end;
    } else {
        extrapolate_to_interval += average_between_samples / 2.0;
    }
    let mut factor = extrapolate_to_interval / sampled_interval;
    if is_rate {
        // Go's `time.Duration.Seconds()`: whole seconds plus the rest.
        let seconds = (range_ms / 1000) as f64 + ((range_ms % 1000) * 1_000_000) as f64 / 1e9;
        factor /= seconds;
    }
    result *= factor;
    Some(result)
}

/// `instantValue` of Prometheus 2.42.
fn instant_value(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (last_t, last_v) = points[points.len() - 1];
    let (previous_t, previous_v) = points[points.len() - 2];
    let mut result = if is_rate && last_v < previous_v {
        last_v
    } else {
        last_v - previous_v
    };
    let sampled_interval = last_t - previous_t;
    if sampled_interval == 0 {
        return None;
    }
    if is_rate {
        result /= sampled_interval as f64 / 1000.0;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], Vec<f64>);

    fn store(series: &[SeriesSpec]) -> Store {
        let mut series: Vec<Series> = series
            .iter()
            .map(|(labels, values)| Series {
                labels: {
                    let mut l: Labels = labels
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                    l.sort();
                    l
                },
                values: values.clone(),
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Store {
            series,
            interval_ms: 60_000,
        }
    }

    fn eval(text: &str, store: &Store, t: i64) -> Value {
        let expr = promql_parser::parser::parse(text).expect("parses");
        check(&expr).expect("in the subset");
        Evaluation::new(store, t).eval(&expr).expect("evaluates")
    }

    #[test]
    fn rate_extrapolates_to_the_counter_zero() {
        let counter: Vec<f64> = (0..20).map(|i| i as f64 * 6.0).collect();
        let s = store(&[(&[("__name__", "c_total"), ("a", "1")], counter)]);
        // Full window: 5 increments of 6 over 300s.
        let Value::Vector(v) = eval("rate(c_total[5m])", &s, 600_000) else {
            panic!("a vector")
        };
        assert_eq!(v[0].value, 0.1);
        assert_eq!(v[0].labels, vec![("a".to_string(), "1".to_string())]);
        // At 1m the window starts before the series: extrapolated to the
        // zero point only, one increment of 6 over 300s.
        let Value::Vector(v) = eval("increase(c_total[5m])", &s, 60_000) else {
            panic!("a vector")
        };
        assert_eq!(v[0].value, 6.0);
    }

    #[test]
    fn comparisons_keep_the_name_and_arithmetic_drops_it() {
        let s = store(&[
            (&[("__name__", "a"), ("x", "1")], vec![3.0; 5]),
            (&[("__name__", "b"), ("x", "1")], vec![2.0; 5]),
        ]);
        let Value::Vector(v) = eval("a > b", &s, 0) else {
            panic!()
        };
        assert_eq!(label(&v[0].labels, METRIC_NAME), "a");
        let Value::Vector(v) = eval("a / b", &s, 0) else {
            panic!()
        };
        assert_eq!(label(&v[0].labels, METRIC_NAME), "");
        assert_eq!(v[0].value, 1.5);
        let Value::Vector(v) = eval("sum by (x) (a) + on(x) group_left b", &s, 0) else {
            panic!()
        };
        assert_eq!(v[0].value, 5.0);
    }
}
