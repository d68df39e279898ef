//! Conditions: what `if COND` decides in one expansion.
//!
//! Entry point: [`decide`]. A condition is a boolean value (`team.pci`), a
//! comparison (`==`, `!=` on text, booleans and numbers; `<`, `<=`, `>`,
//! `>=` on numbers), or conditions joined by `not`, `and`, `or`. A
//! condition that does not type-check is an error at the condition (E0214),
//! whatever the expansion: both sides of `and` and `or` are always judged.
//!
//! Numbers compare exactly, in a unit both can be read in (the units a
//! suffix allows, as `shape` reads them): `500m < 1` compares cores, `90% >
//! 0.5` ratios, `2Gi > 1000M` bytes; `2Gi < 5m` has no unit in common.

use std::cmp::Ordering;

use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{CompareOp, Cond, CondKind, ElseKind, If, Number, Suffix};

use super::shape::Units;
use super::value::{Scope, Value, eval};

/// Which branches of each `if` were taken, over every expansion, for the
/// warning that one never is (E0215).
#[derive(Default)]
pub(crate) struct Branches {
    /// By the condition's span, in the order first met.
    seen: Vec<Taken>,
}

struct Taken {
    cond: Span,
    /// Where its `else` is written, if it has one.
    otherwise: Option<Span>,
    then: usize,
    otherwise_taken: usize,
    undecided: bool,
}

/// One `if` decided once: where its condition and its `else` (the word)
/// are written, and what it decided (`None`: an error, reported).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decision {
    pub cond: Span,
    pub otherwise: Option<Span>,
    pub decided: Option<bool>,
}

impl Decision {
    pub(crate) fn of<T>(if_: &If<T>, decided: Option<bool>) -> Decision {
        Decision {
            cond: if_.cond.span,
            otherwise: if_.otherwise.as_ref().map(|otherwise| {
                let start = otherwise.span.start;
                Span::new(start, start + "else".len() as u32)
            }),
            decided,
        }
    }
}

impl Branches {
    pub(crate) fn add(&mut self, decision: Decision) {
        let Decision {
            cond,
            otherwise,
            decided,
        } = decision;
        // Most programs hold few `if`s, each met once per expansion: the
        // last one met is usually the one met again.
        let index = match self.seen.iter().rposition(|taken| taken.cond == cond) {
            Some(index) => index,
            None => {
                self.seen.push(Taken {
                    cond,
                    otherwise,
                    then: 0,
                    otherwise_taken: 0,
                    undecided: false,
                });
                self.seen.len() - 1
            }
        };
        let taken = &mut self.seen[index];
        match decided {
            Some(true) => taken.then += 1,
            Some(false) => taken.otherwise_taken += 1,
            None => taken.undecided = true,
        }
    }

    /// A warning for each branch no expansion took (a condition with an
    /// error is reported as such, and not judged here).
    pub(crate) fn never_taken(self, diagnostics: &mut Vec<Diagnostic>) {
        for taken in self.seen {
            if taken.undecided {
                continue;
            }
            let times = taken.then + taken.otherwise_taken;
            let in_every = if times == 1 {
                "where it is decided".to_string()
            } else {
                format!("in each of the {times} expansions that decide it")
            };
            if taken.then == 0 {
                diagnostics.push(
                    Diagnostic::new(Code::E0215, taken.cond, "this condition is never true")
                        .label(format!("false {in_every}"))
                        .help("fix the condition, or remove the `if` and what it holds"),
                );
            }
            if let Some(otherwise) = taken.otherwise
                && taken.otherwise_taken == 0
            {
                diagnostics.push(
                    Diagnostic::new(Code::E0215, otherwise, "this `else` is never taken")
                        .label(format!("the condition holds {in_every}"))
                        .secondary(taken.cond, "always true")
                        .help("fix the condition, or remove the `else` and what it holds"),
                );
            }
        }
    }
}

/// The body an `if … else if … else` chain takes in `scope`: each
/// condition decided in turn, and told to `record`. `Err` with the `if`
/// whose condition has an error (reported): none of its branches is taken.
pub(crate) fn taken<'t, T>(
    if_: &'t If<T>,
    scope: &Scope,
    record: &mut impl FnMut(Decision),
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<&'t T>, &'t If<T>> {
    let decided = decide(&if_.cond, scope, diagnostics);
    record(Decision::of(if_, decided));
    match decided {
        None => Err(if_),
        Some(true) => Ok(Some(&if_.then)),
        Some(false) => match if_.otherwise.as_ref().map(|otherwise| &otherwise.kind) {
            None => Ok(None),
            Some(ElseKind::Body(body)) => Ok(Some(body)),
            Some(ElseKind::If(inner)) => taken(inner, scope, record, diagnostics),
        },
    }
}

/// Whether `cond` holds in `scope`; `None` after reporting why it cannot be
/// decided (or where a value in it was already reported).
pub(crate) fn decide(
    cond: &Cond,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<bool> {
    match &cond.kind {
        CondKind::Value(expr) => match eval(expr, scope, diagnostics)? {
            Value::Bool(value, _) => Some(value),
            other => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0214,
                        cond.span,
                        format!("a condition must be a boolean, not {}", other.describe()),
                    )
                    .label(format!("this is {}", other.describe()))
                    .help("compare it to decide something, as in `team.tier == \"critical\"` or `team.size > 2`"),
                );
                None
            }
        },
        CondKind::Compare(left, op, right) => {
            let left = eval(left, scope, diagnostics);
            let right = eval(right, scope, diagnostics);
            compare(&left?, *op, &right?, cond.span, diagnostics)
        }
        CondKind::Not(inner) => decide(inner, scope, diagnostics).map(|value| !value),
        CondKind::Group(inner) => decide(inner, scope, diagnostics),
        CondKind::And(left, right) => {
            let left = decide(left, scope, diagnostics);
            let right = decide(right, scope, diagnostics);
            Some(left? && right?)
        }
        CondKind::Or(left, right) => {
            let left = decide(left, scope, diagnostics);
            let right = decide(right, scope, diagnostics);
            Some(left? || right?)
        }
    }
}

fn compare(
    left: &Value,
    op: CompareOp,
    right: &Value,
    span: Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<bool> {
    let ordering = match (left, right) {
        (Value::Number(a, _), Value::Number(b, _)) => match order(a, b) {
            Ok(ordering) => Some(ordering),
            Err(why) => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0214,
                        span,
                        format!("cannot compare `{}` with `{}`", number_text(left), number_text(right)),
                    )
                    .label(why)
                    .help("compare numbers of one kind: cpu with cpu, memory with memory, durations with durations"),
                );
                return None;
            }
        },
        _ => None,
    };
    let equal = match (left, right) {
        (Value::Str(a, _) | Value::Word(a, _), Value::Str(b, _) | Value::Word(b, _)) => {
            Some(a == b)
        }
        (Value::Bool(a, _), Value::Bool(b, _)) => Some(a == b),
        (Value::Number(..), Value::Number(..)) => ordering.map(Ordering::is_eq),
        _ => None,
    };
    let decided = match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => equal.map(|equal| !equal),
        CompareOp::Lt => ordering.map(Ordering::is_lt),
        CompareOp::Le => ordering.map(Ordering::is_le),
        CompareOp::Gt => ordering.map(Ordering::is_gt),
        CompareOp::Ge => ordering.map(Ordering::is_ge),
    };
    if decided.is_none() {
        let ordered = matches!(
            op,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
        );
        diagnostics.push(
            Diagnostic::new(
                Code::E0214,
                span,
                format!(
                    "`{}` cannot compare {} with {}",
                    op.as_str(),
                    left.describe(),
                    right.describe()
                ),
            )
            .label(if ordered {
                "`<`, `<=`, `>` and `>=` compare numbers"
            } else {
                "`==` and `!=` compare text with text, a boolean with a boolean, a number with a number"
            })
            .help(format!(
                "write both sides as {}",
                if ordered { "numbers of one kind" } else { "the same kind of value" }
            )),
        );
    }
    decided
}

fn number_text(value: &Value) -> String {
    super::value::number_text(value)
}

/// How two numbers compare, in a unit both can be read in.
fn order(a: &Number, b: &Number) -> Result<Ordering, String> {
    let (units_a, units_b) = (Units::of(a.suffix), Units::of(b.suffix));
    let Some(unit) = units_a.common(units_b) else {
        return Err(format!(
            "{} and {} have no unit in common",
            units_a.describe(),
            units_b.describe()
        ));
    };
    exact_order(a, b, unit).ok_or_else(|| "too large to compare exactly".to_string())
}

/// `a` against `b`, both read in `unit`: a·na/(da·10^sa) against
/// b·nb/(db·10^sb), cross-multiplied so that nothing is rounded.
fn exact_order(a: &Number, b: &Number, unit: u8) -> Option<Ordering> {
    let (na, da) = to_base(a.suffix, unit)?;
    let (nb, db) = to_base(b.suffix, unit)?;
    let left = a
        .mantissa
        .checked_mul(na)?
        .checked_mul(db)?
        .checked_mul(10u128.checked_pow(b.scale)?)?;
    let right = b
        .mantissa
        .checked_mul(nb)?
        .checked_mul(da)?
        .checked_mul(10u128.checked_pow(a.scale)?)?;
    Some(left.cmp(&right))
}

/// What one of `suffix` is in `unit`'s smallest whole amount (milli-cores,
/// bytes, milliseconds, a plain or a ratio's unit), as a fraction.
fn to_base(suffix: Suffix, unit: u8) -> Option<(u128, u128)> {
    Some(match (unit, suffix) {
        (Units::CPU, Suffix::None) => (1000, 1),
        (Units::CPU, Suffix::Milli) => (1, 1),
        (Units::DURATION, Suffix::Millisecond) => (1, 1),
        (Units::DURATION, Suffix::Second) => (1000, 1),
        (Units::DURATION, Suffix::Milli) => (60_000, 1),
        (Units::DURATION, Suffix::Hour) => (3_600_000, 1),
        (Units::DURATION, Suffix::Day) => (86_400_000, 1),
        (Units::DURATION, Suffix::Week) => (604_800_000, 1),
        (Units::DURATION, Suffix::Year) => (31_536_000_000, 1),
        (Units::RATIO, Suffix::Percent) => (1, 100),
        (Units::MEMORY, Suffix::Kilo) => (1000, 1),
        (Units::MEMORY, Suffix::Mega) => (1000u128.pow(2), 1),
        (Units::MEMORY, Suffix::Giga) => (1000u128.pow(3), 1),
        (Units::MEMORY, Suffix::Tera) => (1000u128.pow(4), 1),
        (Units::MEMORY, Suffix::Peta) => (1000u128.pow(5), 1),
        (Units::MEMORY, Suffix::Exa) => (1000u128.pow(6), 1),
        (Units::MEMORY, Suffix::Kibi) => (1 << 10, 1),
        (Units::MEMORY, Suffix::Mebi) => (1 << 20, 1),
        (Units::MEMORY, Suffix::Gibi) => (1 << 30, 1),
        (Units::MEMORY, Suffix::Tebi) => (1 << 40, 1),
        (Units::MEMORY, Suffix::Pebi) => (1 << 50, 1),
        (Units::MEMORY, Suffix::Exbi) => (1 << 60, 1),
        // A plain count, bytes or ratio: the number itself.
        (_, Suffix::None) => (1, 1),
        // A unit the suffix does not allow: `common` picks none.
        _ => return None,
    })
}
