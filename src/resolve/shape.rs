//! The shape of the elements of a list a `for` loop goes over.
//!
//! Entry point: [`check_list`]. A loop's body reads every element the same
//! way (`team.size`, `${team.name}`), so the records of one list must
//! share one shape: the same fields, each of the same kind in every
//! element. An element that differs is reported once, at the element
//! (E0213), naming the first element's field, and is not expanded: its
//! expansion would only repeat the mistake wherever the body reads it.
//!
//! A kind is what a value is written as, never what a field will make of
//! it (that is check's): text, a boolean, a list, a record, a quota, a
//! limit range, or a number with the units its suffix allows. A number's
//! units are a set, since a literal alone does not say which it is (`2`
//! is a count, cores or bytes; `5m` milli-cores or minutes): two numbers
//! agree when some unit reads both, so `500m` and `2` are both cpu, while
//! `2Gi` and `5m` have none in common.

use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{LimitKind, RecordTag, Suffix, SuffixKind};

use super::value::{Lets, Record, Scope, Value, eval};

/// The units a number may be in, as a set of bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Units(u8);

impl Units {
    pub(super) const COUNT: u8 = 1;
    pub(super) const CPU: u8 = 2;
    pub(super) const MEMORY: u8 = 4;
    pub(super) const DURATION: u8 = 8;
    pub(super) const RATIO: u8 = 16;

    /// One unit both sets allow (the lowest bit), if any.
    pub(super) fn common(self, other: Units) -> Option<u8> {
        let both = self.0 & other.0;
        (both != 0).then(|| 1 << both.trailing_zeros())
    }

    pub(super) fn of(suffix: Suffix) -> Units {
        Units(match suffix.kind() {
            SuffixKind::Plain => Self::COUNT | Self::CPU | Self::MEMORY | Self::RATIO,
            SuffixKind::Percent => Self::RATIO,
            SuffixKind::Milli => Self::CPU | Self::DURATION,
            SuffixKind::Bytes => Self::MEMORY,
            SuffixKind::Time => Self::DURATION,
        })
    }

    pub(super) fn describe(self) -> String {
        const NAMES: [(u8, &str); 5] = [
            (Units::COUNT, "a count"),
            (Units::CPU, "cpu"),
            (Units::MEMORY, "memory"),
            (Units::DURATION, "a duration"),
            (Units::RATIO, "a ratio"),
        ];
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        match names[..] {
            [only] => format!("a number that is {only}"),
            _ => format!("a number that is {}", names.join(" or ")),
        }
    }
}

/// What a value is written as.
#[derive(Clone, Debug, PartialEq)]
enum Kind<'a> {
    Text,
    Bool,
    Number(Units),
    List,
    Record(Vec<(&'a str, Span, Kind<'a>)>),
    Quota,
    Limits(LimitKind),
    /// A value that did not evaluate: reported where it is read, and
    /// taken to agree with anything here.
    Unknown,
}

impl<'a> Kind<'a> {
    fn of(value: &Value<'a>, lets: &Lets<'a>) -> Kind<'a> {
        match value {
            Value::Str(..) | Value::Word(..) => Kind::Text,
            Value::Bool(..) => Kind::Bool,
            Value::Number(number, _) => Kind::Number(Units::of(number.suffix)),
            Value::List(..) => Kind::List,
            Value::Record(record) => match record.tag {
                Some(RecordTag::Quota) => Kind::Quota,
                Some(RecordTag::Limits(kind)) => Kind::Limits(kind),
                None => Kind::Record(fields(record, lets)),
            },
            // `small * 2` scales a quota; any other product is check's
            // E0307, wherever it is read.
            Value::Product { operands, .. } => {
                if operands.iter().any(|side| matches!(side, Value::Record(_))) {
                    Kind::Quota
                } else {
                    Kind::Unknown
                }
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Kind::Text => "text",
            Kind::Bool => "a boolean",
            Kind::Number(units) => return units.describe(),
            Kind::List => "a list",
            Kind::Record(_) => "a record",
            Kind::Quota => "a quota",
            Kind::Limits(_) => "a limit range",
            Kind::Unknown => "a value",
        }
        .to_string()
    }

    /// `self` narrowed by what `other` is, or `None` where they disagree.
    /// Records agree field by field, which [`compare`] reports one by one.
    fn meet(&self, other: &Kind<'a>) -> Option<Kind<'a>> {
        Some(match (self, other) {
            (Kind::Unknown, other) | (other, Kind::Unknown) => other.clone(),
            (Kind::Number(a), Kind::Number(b)) => {
                let both = a.0 & b.0;
                if both == 0 {
                    return None;
                }
                Kind::Number(Units(both))
            }
            (Kind::Limits(a), Kind::Limits(b)) if a == b => Kind::Limits(*a),
            (Kind::Text, Kind::Text)
            | (Kind::Bool, Kind::Bool)
            | (Kind::List, Kind::List)
            | (Kind::Quota, Kind::Quota) => self.clone(),
            (Kind::Record(_), Kind::Record(_)) => self.clone(),
            _ => return None,
        })
    }
}

/// Each `name = value` of a record with its kind. A value that does not
/// evaluate was reported where the record was evaluated, or is where the
/// body reads it, not here.
fn fields<'a>(record: &Record<'a>, lets: &Lets<'a>) -> Vec<(&'a str, Span, Kind<'a>)> {
    let kind =
        |value: Option<&Value<'a>>| value.map_or(Kind::Unknown, |value| Kind::of(value, lets));
    match &record.evaluated {
        Some(values) => record
            .fields()
            .zip(values.iter())
            .map(|(field, (_, value))| (field.name, field.span, kind(value.as_ref())))
            .collect(),
        None => {
            let scope = Scope::new(record.vars.clone(), lets);
            record
                .fields()
                .map(|field| {
                    let value = eval(field.value, &scope, &mut Vec::new());
                    (field.name, field.span, kind(value.as_ref()))
                })
                .collect()
        }
    }
}

/// Whether each element of a `for` list fits the first element's shape;
/// each that does not is reported (E0213). Elements that are not records
/// are text to a loop, whatever they are written as.
pub(super) fn check_list(
    elements: &[Value],
    lets: &Lets,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<bool> {
    let Some((first, rest)) = elements.split_first() else {
        return Vec::new();
    };
    let mut fits = vec![true];
    let Value::Record(first_record) = first else {
        for element in rest {
            let fit = !matches!(element, Value::Record(_));
            if !fit {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0213,
                        element.span(),
                        "a record in a list whose first element is not one",
                    )
                    .label("a record")
                    .secondary(
                        first.span(),
                        format!("the first element is {}", first.describe()),
                    )
                    .help("a list holds records only, or text, names and numbers only"),
                );
            }
            fits.push(fit);
        }
        return fits;
    };
    let mut expected = fields(first_record, lets);
    for element in rest {
        let Value::Record(record) = element else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0213,
                    element.span(),
                    format!("{} in a list of records", element.describe()),
                )
                .label("not a record")
                .secondary(first.span(), "the first element is a record")
                .help("write this element as a record with the first element's fields"),
            );
            fits.push(false);
            continue;
        };
        let fit = same_fields(&expected, record, lets)
            || compare(
                &mut expected,
                &fields(record, lets),
                record.span,
                diagnostics,
            );
        fits.push(fit);
    }
    fits
}

/// Whether `record` has exactly the fields of `expected`, in its order,
/// each of the same kind, none a record: the usual element, which then
/// needs neither its fields listed nor the shape narrowed. Anything else
/// is for [`compare`] to judge.
fn same_fields<'a>(
    expected: &[(&'a str, Span, Kind<'a>)],
    record: &Record<'a>,
    lets: &Lets<'a>,
) -> bool {
    let Some(values) = &record.evaluated else {
        return false;
    };
    values.len() == expected.len()
        && values
            .iter()
            .zip(expected)
            .all(|((name, value), (expected_name, _, kind))| {
                name == expected_name
                    && !matches!(kind, Kind::Record(_))
                    && value.as_ref().is_some_and(|value| {
                        !matches!(value, Value::Record(Record { tag: None, .. }))
                            && Kind::of(value, lets) == *kind
                    })
            })
}

/// Holds one element's fields to the shape so far (the first element's,
/// narrowed), reporting each difference.
fn compare<'a>(
    expected: &mut [(&'a str, Span, Kind<'a>)],
    found: &[(&'a str, Span, Kind<'a>)],
    element: Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let mut fit = true;
    for (name, first_span, kind) in expected.iter_mut() {
        let Some((_, span, other)) = found.iter().find(|(other, ..)| other == name) else {
            fit = false;
            diagnostics.push(
                Diagnostic::new(
                    Code::E0213,
                    element,
                    format!("this element has no field `{name}`"),
                )
                .label(format!("`{name}` is missing"))
                .secondary(*first_span, "the first element's field")
                .help(format!(
                    "give every element of the list a `{name}`: a loop's body reads each element the same way"
                )),
            );
            continue;
        };
        match kind.meet(other) {
            Some(narrowed) => {
                if let (Kind::Record(inner), Kind::Record(other_inner)) = (&mut *kind, other) {
                    fit &= compare(inner, other_inner, *span, diagnostics);
                } else {
                    *kind = narrowed;
                }
            }
            None => {
                fit = false;
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0213,
                        *span,
                        format!(
                            "`{name}` is {} here but {} in the first element",
                            other.describe(),
                            kind.describe()
                        ),
                    )
                    .label(format!("{} here", other.describe()))
                    .secondary(*first_span, format!("{} here", kind.describe()))
                    .help(format!(
                        "write `{name}` as {} in every element",
                        kind.describe()
                    )),
                );
            }
        }
    }
    for (name, span, _) in found {
        if !expected.iter().any(|(other, ..)| other == name) {
            fit = false;
            diagnostics.push(
                Diagnostic::new(
                    Code::E0213,
                    *span,
                    format!("`{name}` is not a field of the first element"),
                )
                .label("a field the other elements may not have")
                .help(format!(
                    "add `{name}` to every element of the list, or remove it here"
                )),
            );
        }
    }
    fit
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::SourceMap;
    use crate::syntax::{self, ast};

    /// `same_fields`, the shortcut, against `compare`, the full check:
    /// where the shortcut accepts an element, the full check accepts it
    /// too, reports nothing and narrows nothing.
    #[test]
    fn same_fields_accepts_only_what_compare_accepts_unchanged() {
        let lists = [
            r#"[{ a = "x"  b = 2  c = true }, { a = "y"  b = 3  c = false }, { b = 3  a = "y"  c = false }, { a = "y"  b = 500m  c = false }, { a = 1  b = 2  c = true }, { a = "y"  b = 2 }, { a = "y"  b = 2  c = true  d = 1 }]"#,
            r#"[{ q = quota { pods = 1 }  l = [1] }, { q = quota { pods = 2 }  l = [] }, { q = { pods = 2 }  l = [] }]"#,
            r#"[{ r = { s = 1 } }, { r = { s = 2 } }]"#,
        ];
        let mut taken = 0;
        for list in lists {
            let mut sources = SourceMap::new();
            let id = sources.add("t.env.k", format!("let xs = {list}\n").as_str());
            let (ast, diagnostics) = syntax::parse(sources.file(id));
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let ast::ItemKind::Let(binding) = &ast.items[0].kind else {
                panic!("a let");
            };
            let lets = Lets::default();
            let scope = Scope::new(Arc::new(Vec::new()), &lets);
            let Some(Value::List(elements, _)) = eval(&binding.value, &scope, &mut Vec::new())
            else {
                panic!("a list");
            };
            let records: Vec<Record> = elements
                .into_iter()
                .map(|element| match element {
                    Value::Record(record) => record.evaluate(&lets, &mut Vec::new()),
                    other => panic!("not a record: {other:?}"),
                })
                .collect();
            let expected = fields(&records[0], &lets);
            for record in &records[1..] {
                if !same_fields(&expected, record, &lets) {
                    continue;
                }
                taken += 1;
                let mut narrowed = expected.clone();
                let mut diagnostics = Vec::new();
                assert!(compare(
                    &mut narrowed,
                    &fields(record, &lets),
                    record.span,
                    &mut diagnostics
                ));
                assert!(diagnostics.is_empty(), "{diagnostics:?}");
                assert_eq!(narrowed, expected, "{list}");
            }
        }
        // The second element of the first two lists; the others differ in
        // order, units, kind or fields, or hold a record.
        assert_eq!(taken, 2);
    }
}
