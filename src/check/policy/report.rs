//! Which objects break a policy, and why, in the values that decided it.
//!
//! A policy's predicate is read from the top: an `all` (or `none`) there
//! reports each element it fails for, and so does one in its body, down
//! to the innermost, so `all env in envs : all g in env.grants : …` is
//! reported at the grant; `and` there reports each side; a `unique` there
//! reports each element whose key an earlier one has. Any other predicate
//! that fails is reported at the element it was evaluated for, or, at the
//! top, at the policy itself.

use super::eval::{Eval, Obj, V, show};
use super::shape::{F, Kind};
use super::typing::{Cond, Quant, Val, ValKind};
use crate::model::QuotaKey;
use crate::syntax::ast::{CompareOp, Quantifier};

/// One violation: the object that breaks the policy (none for the
/// program as a whole), why, and an object it conflicts with.
pub(super) struct Found<'m> {
    pub object: Option<Obj<'m>>,
    pub why: String,
    pub other: Option<Obj<'m>>,
    /// The quota key whose value decided it, where the object is an env:
    /// the line that sets it is where to change the program.
    pub quota_key: Option<QuotaKey>,
}

/// How many objects a policy checked, and how many had no violation.
#[derive(Default)]
pub(super) struct Coverage {
    pub covers: usize,
    pub passes: usize,
}

impl<'m> Eval<'_, 'm> {
    /// Every violation of `cond` at the top of a policy.
    pub fn report(&mut self, cond: &'m Cond, found: &mut Vec<Found<'m>>) -> Coverage {
        let mut coverage = Coverage::default();
        self.report_at(cond, None, found, Some(&mut coverage));
        if coverage.covers == 0 && !reports_elements(cond) {
            coverage.covers = 1;
            coverage.passes = usize::from(found.is_empty());
        }
        coverage
    }

    fn report_at(
        &mut self,
        cond: &'m Cond,
        owner: Option<Obj<'m>>,
        found: &mut Vec<Found<'m>>,
        mut coverage: Option<&mut Coverage>,
    ) {
        match cond {
            // At the top, each element on any core: they are independent,
            // and found in their order.
            Cond::Quant(quant) if quant.quantifier != Quantifier::Any && coverage.is_some() => {
                let elements = self.elements(&quant.collection);
                let world = self.world;
                let slots = self.vars.len();
                let pieces = crate::parallel::map_pieces(&elements, |piece| {
                    let mut eval = Eval::new(world, slots);
                    let mut found = Vec::new();
                    let mut coverage = Coverage::default();
                    eval.each_element(quant, piece, &mut found, Some(&mut coverage));
                    (found, coverage)
                });
                let coverage = coverage.expect("at the top");
                for (mut piece_found, piece_coverage) in pieces {
                    found.append(&mut piece_found);
                    coverage.covers += piece_coverage.covers;
                    coverage.passes += piece_coverage.passes;
                }
            }
            Cond::Quant(quant) if quant.quantifier != Quantifier::Any => {
                let elements = self.elements(&quant.collection);
                self.each_element(quant, &elements, found, coverage);
            }
            Cond::And(left, right) => {
                self.report_at(left, owner, found, coverage.as_deref_mut());
                self.report_at(right, owner, found, coverage);
            }
            Cond::Value(Val {
                kind: ValKind::Unique(counted, key, per),
                ..
            }) => {
                let (kept, repeats) = self.repeats(counted, key, per.as_deref());
                if let Some(coverage) = coverage {
                    coverage.covers += kept;
                    coverage.passes += kept - repeats.len();
                }
                for (element, first, shown) in repeats {
                    let why = match per {
                        Some(per) => format!(
                            "`{}` is `{shown}` here and for {}, whose `{}` differs",
                            key.text,
                            self.describe(first),
                            per.text
                        ),
                        None => format!(
                            "`{}` is `{shown}` here and for {}",
                            key.text,
                            self.describe(first)
                        ),
                    };
                    found.push(Found {
                        object: Some(element),
                        why,
                        other: Some(first),
                        quota_key: None,
                    });
                }
            }
            other => {
                if !self.truth(other) {
                    let why = self.why(other, true);
                    let quota_key = self.decisive_quota_key(other, true);
                    found.push(Found {
                        object: owner,
                        why,
                        other: None,
                        quota_key,
                    });
                }
            }
        }
    }

    /// The violations of an `all` or `none` at the elements of `elements`
    /// its filter keeps, counted in `coverage` at the top.
    fn each_element(
        &mut self,
        quant: &'m Quant,
        elements: &[Obj<'m>],
        found: &mut Vec<Found<'m>>,
        mut coverage: Option<&mut Coverage>,
    ) {
        for &element in elements {
            if let Some(filter) = &quant.filter {
                self.vars[quant.slot] = Some(element);
                if !self.truth(filter) {
                    continue;
                }
            }
            let before = found.len();
            if !self.holds_for(quant, element) {
                self.vars[quant.slot] = Some(element);
                if quant.quantifier == Quantifier::All && reports_elements(&quant.body) {
                    self.report_at(&quant.body, Some(element), found, None);
                } else {
                    let wanted = quant.quantifier == Quantifier::All;
                    let why = self.why(&quant.body, wanted);
                    let quota_key = self.decisive_quota_key(&quant.body, wanted);
                    found.push(Found {
                        object: Some(element),
                        why,
                        other: None,
                        quota_key,
                    });
                }
            }
            if let Some(coverage) = coverage.as_deref_mut() {
                coverage.covers += 1;
                coverage.passes += usize::from(found.len() == before);
            }
        }
    }

    /// The quota key read by the comparison that decided `cond` is not
    /// `wanted` (the one `why` names), when it decided alone.
    fn decisive_quota_key(&mut self, cond: &'m Cond, wanted: bool) -> Option<QuotaKey> {
        match cond {
            Cond::Not(inner) => self.decisive_quota_key(inner, !wanted),
            Cond::And(left, right) if wanted => {
                let side = if self.truth(left) { right } else { left };
                self.decisive_quota_key(side, true)
            }
            Cond::Or(left, right) if !wanted => {
                let side = if self.truth(left) { left } else { right };
                self.decisive_quota_key(side, false)
            }
            Cond::Implies(_, right) if wanted => self.decisive_quota_key(right, true),
            Cond::Compare(left, _, right) => quota_key(left).or_else(|| quota_key(right)),
            _ => None,
        }
    }

    /// Why `cond` is not `wanted`, in the values that decided it.
    pub fn why(&mut self, cond: &'m Cond, wanted: bool) -> String {
        match cond {
            Cond::Not(inner) => self.why(inner, !wanted),
            Cond::And(left, right) => {
                if wanted {
                    let side = if self.truth(left) { right } else { left };
                    self.why(side, true)
                } else {
                    format!("{}; and {}", self.why(left, false), self.why(right, false))
                }
            }
            Cond::Or(left, right) => {
                if wanted {
                    format!("{}; and {}", self.why(left, true), self.why(right, true))
                } else {
                    let side = if self.truth(left) { left } else { right };
                    self.why(side, false)
                }
            }
            Cond::Implies(left, right) => {
                if wanted {
                    self.why(right, true)
                } else if self.truth(right) {
                    self.why(right, false)
                } else {
                    self.why(left, true)
                }
            }
            Cond::Quant(quant) => {
                let elements = self.kept(quant.slot, &quant.collection, quant.filter.as_ref());
                let count = elements.len();
                // The element that decided it: the first that fails an
                // `all` (or `none`) wanted true, or passes an `any`
                // wanted false.
                let decisive_passes = match (quant.quantifier, wanted) {
                    (Quantifier::Any, false) => true,
                    (Quantifier::Any, true) => {
                        return match count {
                            0 => format!("`{}` has nothing to check", quant.collection.text),
                            _ => {
                                format!("none of the {count} in `{}` passes", quant.collection.text)
                            }
                        };
                    }
                    (_, true) => false,
                    (_, false) => {
                        return format!(
                            "every one of the {count} in `{}` passes",
                            quant.collection.text
                        );
                    }
                };
                for element in elements {
                    if self.holds_for(quant, element) == decisive_passes {
                        let body_wanted = match quant.quantifier {
                            Quantifier::None => decisive_passes,
                            Quantifier::All | Quantifier::Any => !decisive_passes,
                        };
                        let why = self.why(&quant.body, body_wanted);
                        return format!("for {}, {why}", self.describe(element));
                    }
                }
                String::new()
            }
            Cond::Compare(left, op, right) => {
                let (left_value, right_value) = (self.value(left), self.value(right));
                if let Some(absent) = absent(&left_value, left).or(absent(&right_value, right)) {
                    return absent;
                }
                let shown_left = show(&left_value, left.ty);
                let shown_right = show(&right_value, right.ty);
                let literal = is_literal(right);
                match (wanted, literal) {
                    (true, true) => {
                        let wants = match op {
                            CompareOp::Le => "allows at most",
                            CompareOp::Lt => "allows less than",
                            CompareOp::Ge => "wants at least",
                            CompareOp::Gt => "wants more than",
                            CompareOp::Eq => "wants",
                            CompareOp::Ne => "forbids",
                        };
                        format!(
                            "`{}` is {shown_left}, the policy {wants} {shown_right}",
                            left.text
                        )
                    }
                    (true, false) => format!(
                        "`{}` is {shown_left} and `{}` is {shown_right}, but the policy wants `{} {} {}`",
                        left.text,
                        right.text,
                        left.text,
                        op.as_str(),
                        right.text
                    ),
                    (false, _) => format!(
                        "`{}` is {shown_left}, and the policy forbids `{} {} {}`",
                        left.text,
                        left.text,
                        op.as_str(),
                        right.text
                    ),
                }
            }
            Cond::Matches(left, _, pattern) => {
                let value = self.value(left);
                if let Some(absent) = absent(&value, left) {
                    return absent;
                }
                let verb = if wanted { "does not match" } else { "matches" };
                format!(
                    "`{}` is {}, which {verb} `{pattern}`",
                    left.text,
                    show(&value, left.ty)
                )
            }
            Cond::StartsWith(left, right) => {
                let value = self.value(left);
                let prefix = self.value(right);
                if let Some(absent) = absent(&value, left) {
                    return absent;
                }
                let verb = if wanted { "does not start" } else { "starts" };
                format!(
                    "`{}` is {}, which {verb} with {}",
                    left.text,
                    show(&value, left.ty),
                    show(&prefix, right.ty)
                )
            }
            Cond::Has(container, item) => {
                let held = self.value(container);
                if let Some(absent) = absent(&held, container) {
                    return absent;
                }
                let item_value = self.value(item);
                let shown = show(&item_value, item.ty);
                if wanted {
                    format!("`{}` has no {shown}", container.text)
                } else {
                    format!("`{}` has {shown}", container.text)
                }
            }
            Cond::HasField(object, _, name) => {
                if wanted {
                    format!("`{}` has no `{name}`", object.text)
                } else {
                    format!("`{}` has `{name}`", object.text)
                }
            }
            Cond::In(left, right) => {
                let value = self.value(left);
                if let Some(absent) = absent(&value, left) {
                    return absent;
                }
                let verb = if wanted { "not one of" } else { "one of" };
                format!(
                    "`{}` is {}, {verb} `{}`",
                    left.text,
                    show(&value, left.ty),
                    right.text
                )
            }
            Cond::Value(value) => {
                if let ValKind::Unique(counted, key, per) = &value.kind {
                    if wanted
                        && let Some((element, first, shown)) = self
                            .repeats(counted, key, per.as_deref())
                            .1
                            .into_iter()
                            .next()
                    {
                        return format!(
                            "`{}` is `{shown}` for both {} and {}",
                            key.text,
                            self.describe(first),
                            self.describe(element)
                        );
                    }
                    return format!(
                        "every `{}` in `{}` differs",
                        key.text, counted.collection.text
                    );
                }
                let shown = self.value(value);
                if let Some(absent) = absent(&shown, value) {
                    return absent;
                }
                format!("`{}` is {}", value.text, show(&shown, value.ty))
            }
        }
    }
}

/// The quota key a value reads, directly or scaled.
fn quota_key(value: &Val) -> Option<QuotaKey> {
    match &value.kind {
        ValKind::Field(_, fields) => match fields.last() {
            Some((F::QuotaKey(key), _)) => Some(*key),
            // What the requests cost: shown at the first of them.
            Some((F::EnvCost, _)) => Some(QuotaKey::RequestsCpu),
            _ => None,
        },
        ValKind::Mul(left, right) => quota_key(left).or_else(|| quota_key(right)),
        ValKind::Scale(inner, _) => quota_key(inner),
        _ => None,
    }
}

/// "`env.quota.requests.cpu` is not set (no `quota`)".
fn absent(value: &V, written: &Val) -> Option<String> {
    match value {
        V::Absent(field) if written.text.ends_with(field) || written.text.ends_with(']') => {
            Some(format!("`{}` is not set", written.text))
        }
        V::Absent(field) => Some(format!("`{}` is not set: no `{field}`", written.text)),
        _ => None,
    }
}

fn is_literal(value: &Val) -> bool {
    match &value.kind {
        ValKind::Num(_) | ValKind::Str(_) | ValKind::Word(_) | ValKind::Bool(_) => true,
        ValKind::Scale(inner, _) => is_literal(inner),
        ValKind::Mul(left, right) => is_literal(left) && is_literal(right),
        _ => false,
    }
}

/// Whether `cond` at a reporting position reports per element.
pub(super) fn reports_elements(cond: &Cond) -> bool {
    match cond {
        Cond::Quant(quant) => quant.quantifier != Quantifier::Any,
        Cond::And(left, right) => reports_elements(left) || reports_elements(right),
        Cond::Value(Val {
            kind: ValKind::Unique(..),
            ..
        }) => true,
        _ => false,
    }
}

/// The kinds of object `cond` at a reporting position reports on.
pub(super) fn reported_kinds(cond: &Cond, out: &mut Vec<Kind>) {
    match cond {
        Cond::Quant(quant) if quant.quantifier != Quantifier::Any => {
            if quant.quantifier == Quantifier::All && reports_elements(&quant.body) {
                // Failures of the body that are not per element of an
                // inner quantifier are reported at this one's element.
                out.push(quant.kind);
                reported_kinds(&quant.body, out);
            } else {
                out.push(quant.kind);
            }
        }
        Cond::And(left, right) => {
            reported_kinds(left, out);
            reported_kinds(right, out);
        }
        Cond::Value(Val {
            kind: ValKind::Unique(counted, ..),
            ..
        }) => {
            if let super::shape::Ty::List(kind) = counted.collection.ty {
                out.push(kind);
            }
        }
        _ => {}
    }
}
