//! Units: turning values into typed quantities, exactly, and judging `*`.
//!
//! cpu is integer milli-cores, memory integer bytes, durations integer
//! milliseconds, ratios exact decimal fractions: never floats, so `0.1 +
//! 0.2` can never decide whether a quota passes. Every mismatch names what
//! was expected and what was found, at the value that is wrong.
//!
//! Resolve keeps a product (`small * 2`) as written; here it is read as a
//! quota scaled by a plain number, or reported (E0307). Every value the
//! checker evaluates goes through [`eval`], so a product that is no such
//! thing is reported once, at the operand at fault, and the field that
//! receives it stays silent, as for any value that failed.

use crate::cost::Money;
use crate::diag::{Code, Diagnostic};
use crate::model::{Dimension, Duration, Quantity, Ratio};
use crate::resolve::value::{self, Lets, Scope, Value, number_text};
use crate::source::Span;
use crate::syntax::ast::{Expr, ExprKind, Number, Suffix};

pub type Diags = Vec<Diagnostic>;

/// Evaluates an expression for a field: `None` when it has no value, or
/// when a product in it is no quota scaled by a plain number (E0307).
#[inline]
pub fn eval<'a>(
    expr: &'a Expr,
    scope: &Scope<'_, 'a>,
    diagnostics: &mut Diags,
) -> Option<Value<'a>> {
    // Every field of every env comes through here, and most can hold no
    // product: a string, a number, a block is evaluated and returned as
    // is. Only a product, a list or a name (a `let` may hold a product)
    // can, and only a product or a list is walked.
    match expr.kind {
        ExprKind::Mul(..) | ExprKind::List(_) | ExprKind::Name(_) | ExprKind::Field(_) => {}
        ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Record(_) => {
            return value::eval(expr, scope, diagnostics);
        }
    }
    let value = value::eval(expr, scope, diagnostics);
    if let Some(held @ (Value::Product { .. } | Value::List(..))) = &value
        && !products(held, diagnostics)
    {
        return None;
    }
    value
}

/// Judges the products of every `let`, where the `let` is written and
/// before anything uses it: a mistake there is the `let`'s, found once and
/// in no env, as when evaluation reported it. Its uses find it again, an
/// exact repeat, which `diag::group` drops; they stay silent otherwise.
pub fn let_products(lets: &Lets, diagnostics: &mut Diags) {
    for (_, value) in lets.all() {
        products(value, diagnostics);
    }
}

/// Whether every product in `value` (through lists and products of
/// products) is a quota scaled by a plain number; each one that is not is
/// reported. Sides are judged before their product, left first, and a
/// product with a side at fault is not judged itself: one report per
/// mistake, as evaluation order gives them.
fn products(value: &Value, diagnostics: &mut Diags) -> bool {
    match value {
        Value::Product { operands, .. } => {
            let [left, right] = &**operands;
            products(left, diagnostics)
                && products(right, diagnostics)
                && judge(left, right, diagnostics).is_some()
        }
        Value::List(items, _) => {
            // Every item, not up to the first wrong one: a list reports
            // each of its items' mistakes.
            let mut ok = true;
            for item in items {
                ok &= products(item, diagnostics);
            }
            ok
        }
        Value::Number(..)
        | Value::Bool(..)
        | Value::Str(..)
        | Value::Record(_)
        | Value::Word(..) => true,
    }
}

/// `left * right` read as a quota scaled by a plain number, written on
/// either side: the quota (a record, or a product), the factor and where
/// the factor is written. Otherwise E0307 at the side at fault.
pub fn scaling<'a>(
    [left, right]: [Value<'a>; 2],
    diagnostics: &mut Diags,
) -> Option<(Value<'a>, Number, Span)> {
    let (number_first, factor, factor_span) = judge(&left, &right, diagnostics)?;
    Some((if number_first { right } else { left }, factor, factor_span))
}

/// [`scaling`] for operands the caller keeps: whether the number came
/// first, the factor and where it is written.
fn judge(left: &Value, right: &Value, diagnostics: &mut Diags) -> Option<(bool, Number, Span)> {
    // `2 * small` reads as well as `small * 2`.
    let number_first = matches!(left, Value::Number(..)) && !matches!(right, Value::Number(..));
    let (base, factor) = if number_first {
        (right, left)
    } else {
        (left, right)
    };
    let Value::Number(number, factor_span) = factor else {
        diagnostics.push(
            Diagnostic::new(
                Code::E0307,
                factor.span(),
                format!("cannot multiply by {}", factor.describe()),
            )
            .label("expected a plain number")
            .help("`*` scales a quota by a number, as in `small * 2`"),
        );
        return None;
    };
    if number.suffix != Suffix::None {
        diagnostics.push(
            Diagnostic::new(Code::E0307, *factor_span, "a scale factor has no unit")
                .label(format!("this is {}", number.looks_like()))
                .help("`*` scales a quota by a plain number, as in `small * 2` or `small * 0.5`"),
        );
        return None;
    }
    match base {
        Value::Record(_) | Value::Product { .. } => Some((number_first, *number, *factor_span)),
        other => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0307,
                    other.span(),
                    format!("cannot scale {}", other.describe()),
                )
                .label("expected a quota")
                .help("`*` scales a quota record, as in `small * 2`; numbers are written out"),
            );
            None
        }
    }
}

fn mismatch(value: &Value, expected: &str, help: &str) -> Diagnostic {
    Diagnostic::new(
        Code::E0301,
        value.span(),
        format!("expected {expected}, found {}", value.describe()),
    )
    .label(format!("this is {}", value.describe()))
    .help(help.to_string())
}

const CPU_HELP: &str = "cpu is written in cores (`2`, `0.5`) or milli-cores (`500m`)";
const MEMORY_HELP: &str =
    "memory is written with a unit: `512Mi`, `20Gi` (powers of 1024) or `1G` (powers of 1000)";
const MONEY_HELP: &str = "an amount is dollars, written as a plain number: `150`, `0.031611`";
const COUNT_HELP: &str = "a count is a whole number, such as `50`";
const DURATION_HELP: &str = "a duration is written with a unit: `30s`, `5m`, `1h`, `1h30m`";
const RATIO_HELP: &str = "a ratio is written as a percentage (`90%`) or a fraction (`0.9`)";

/// `mantissa × 10^-scale × multiplier`, when that is a whole number.
fn exact(number: &Number, multiplier: u128) -> Result<u128, &'static str> {
    let scaled = number.mantissa.checked_mul(multiplier).ok_or("too large")?;
    let denominator = 10u128
        .checked_pow(number.scale)
        .ok_or("too many decimals")?;
    if scaled % denominator != 0 {
        return Err("finer than the smallest unit");
    }
    Ok(scaled / denominator)
}

fn out_of_range(value: &Value, what: &str, why: &str, help: &str) -> Diagnostic {
    Diagnostic::new(Code::E0306, value.span(), format!("{what} out of range"))
        .label(why.to_string())
        .help(help.to_string())
}

pub fn quantity(dimension: Dimension, value: &Value, diagnostics: &mut Diags) -> Option<Quantity> {
    match dimension {
        Dimension::Cpu => cpu(value, diagnostics),
        Dimension::Memory => memory(value, diagnostics),
        Dimension::Count => count(value, diagnostics),
    }
}

pub fn cpu(value: &Value, diagnostics: &mut Diags) -> Option<Quantity> {
    let Value::Number(number, _) = value else {
        diagnostics.push(mismatch(value, "cpu", CPU_HELP));
        return None;
    };
    let multiplier = match number.suffix {
        Suffix::None => 1000,
        Suffix::Milli => 1,
        _ => {
            diagnostics.push(mismatch(value, "cpu", CPU_HELP));
            return None;
        }
    };
    match exact(number, multiplier).map(u64::try_from) {
        Ok(Ok(millis)) => Some(millis),
        Ok(Err(_)) | Err("too large") => {
            diagnostics.push(out_of_range(value, "cpu", "too large", CPU_HELP));
            None
        }
        Err(_) => {
            diagnostics.push(out_of_range(
                value,
                "cpu",
                "cpu cannot be finer than one milli-core (`1m`)",
                "round to whole milli-cores, such as `250m`",
            ));
            None
        }
    }
}

/// The bytes a memory unit stands for (`Ki` is 1024); `None` for a
/// suffix that is no memory unit.
pub(crate) fn bytes_per(suffix: Suffix) -> Option<u128> {
    Some(match suffix {
        Suffix::Kilo => 1_000,
        Suffix::Mega => 1_000_000,
        Suffix::Giga => 1_000_000_000,
        Suffix::Tera => 1_000_000_000_000,
        Suffix::Peta => 1_000_000_000_000_000,
        Suffix::Exa => 1_000_000_000_000_000_000,
        Suffix::Kibi => 1 << 10,
        Suffix::Mebi => 1 << 20,
        Suffix::Gibi => 1 << 30,
        Suffix::Tebi => 1 << 40,
        Suffix::Pebi => 1 << 50,
        Suffix::Exbi => 1 << 60,
        _ => return None,
    })
}

pub fn memory(value: &Value, diagnostics: &mut Diags) -> Option<Quantity> {
    let Value::Number(number, _) = value else {
        diagnostics.push(mismatch(value, "memory", MEMORY_HELP));
        return None;
    };
    let multiplier: u128 = match (number.suffix, bytes_per(number.suffix)) {
        (Suffix::None, _) => 1,
        (_, Some(bytes)) => bytes,
        (Suffix::Milli, None) => {
            let written = number_text(value);
            let digits = written.trim_end_matches('m');
            diagnostics.push(mismatch(value, "memory", MEMORY_HELP).help(format!(
                "`m` means thousandths: for memory write `{digits}Mi` (mebibytes) or `{digits}M` (megabytes)"
            )));
            return None;
        }
        _ => {
            diagnostics.push(mismatch(value, "memory", MEMORY_HELP));
            return None;
        }
    };
    match exact(number, multiplier).map(u64::try_from) {
        Ok(Ok(bytes)) => Some(bytes),
        Ok(Err(_)) | Err("too large") => {
            diagnostics.push(out_of_range(value, "memory", "too large", MEMORY_HELP));
            None
        }
        Err(_) => {
            diagnostics.push(out_of_range(
                value,
                "memory",
                "memory cannot be finer than one byte",
                "write a whole number of bytes, or a larger unit such as `1536Mi` for `1.5Gi`",
            ));
            None
        }
    }
}

/// Dollars with up to nine decimals, in nano-dollars.
pub fn money(value: &Value, diagnostics: &mut Diags) -> Option<Money> {
    let Value::Number(number, _) = value else {
        diagnostics.push(mismatch(value, "an amount of dollars", MONEY_HELP));
        return None;
    };
    if number.suffix != Suffix::None {
        diagnostics.push(mismatch(value, "an amount of dollars", MONEY_HELP));
        return None;
    }
    match exact(number, u128::from(Money::NANOS_PER_DOLLAR)).map(u64::try_from) {
        Ok(Ok(nanos)) => Some(Money(nanos)),
        Ok(Err(_)) | Err("too large") => {
            diagnostics.push(out_of_range(value, "amount", "too large", MONEY_HELP));
            None
        }
        Err(_) => {
            diagnostics.push(out_of_range(
                value,
                "amount",
                "an amount cannot be finer than a billionth of a dollar",
                "round to at most nine decimals",
            ));
            None
        }
    }
}

pub fn count(value: &Value, diagnostics: &mut Diags) -> Option<Quantity> {
    match value {
        Value::Number(number, _) if number.suffix == Suffix::None && number.scale == 0 => {
            match u64::try_from(number.mantissa) {
                Ok(count) => Some(count),
                Err(_) => {
                    diagnostics.push(out_of_range(value, "count", "too large", COUNT_HELP));
                    None
                }
            }
        }
        Value::Number(number, _) if number.suffix == Suffix::None => {
            diagnostics.push(out_of_range(
                value,
                "count",
                "a count is a whole number",
                COUNT_HELP,
            ));
            None
        }
        _ => {
            diagnostics.push(mismatch(value, "a count", COUNT_HELP));
            None
        }
    }
}

pub fn duration(value: &Value, diagnostics: &mut Diags) -> Option<Duration> {
    let Value::Number(number, _) = value else {
        diagnostics.push(mismatch(value, "a duration", DURATION_HELP));
        return None;
    };
    let multiplier: u128 = match number.suffix {
        Suffix::Millisecond => 1,
        Suffix::Second => 1_000,
        Suffix::Milli => 60_000,
        Suffix::Hour => 3_600_000,
        Suffix::Day => 24 * 3_600_000,
        Suffix::Week => 7 * 24 * 3_600_000,
        Suffix::Year => 365 * 24 * 3_600_000,
        _ => {
            diagnostics.push(mismatch(value, "a duration", DURATION_HELP));
            return None;
        }
    };
    match exact(number, multiplier).map(u64::try_from) {
        Ok(Ok(ms)) => Some(Duration(ms)),
        _ => {
            diagnostics.push(out_of_range(
                value,
                "duration",
                "not a whole number of milliseconds, or too long",
                DURATION_HELP,
            ));
            None
        }
    }
}

/// A ratio between 0 and 1: `90%` or `0.9`.
pub fn ratio(value: &Value, diagnostics: &mut Diags) -> Option<Ratio> {
    let Value::Number(number, _) = value else {
        diagnostics.push(mismatch(value, "a ratio", RATIO_HELP));
        return None;
    };
    let ratio = match number.suffix {
        Suffix::None => Ratio {
            numerator: number.mantissa,
            scale: number.scale,
        },
        Suffix::Percent => Ratio {
            numerator: number.mantissa,
            scale: number.scale + 2,
        },
        _ => {
            diagnostics.push(mismatch(value, "a ratio", RATIO_HELP));
            return None;
        }
    };
    if ratio.scale > 30 || ratio.numerator > 10u128.pow(ratio.scale) {
        diagnostics.push(out_of_range(
            value,
            "ratio",
            "a ratio is between 0 and 1 (0% and 100%)",
            RATIO_HELP,
        ));
        return None;
    }
    Some(ratio)
}

pub fn boolean(value: &Value, diagnostics: &mut Diags) -> Option<bool> {
    match value {
        Value::Bool(value, _) => Some(*value),
        _ => {
            diagnostics.push(mismatch(
                value,
                "`true` or `false`",
                "write `true` or `false`",
            ));
            None
        }
    }
}

/// `string` for a value the caller owns: the text is moved, not copied.
pub fn into_string(value: Value, diagnostics: &mut Diags) -> Option<String> {
    match value {
        Value::Str(text, _) => Some(text),
        other => string(&other, diagnostics),
    }
}

pub fn string(value: &Value, diagnostics: &mut Diags) -> Option<String> {
    // What the value reads as, when quoting it would make it a string.
    let unquoted = match value {
        Value::Str(text, _) => return Some(text.clone()),
        Value::Number(..) => Some(number_text(value)),
        Value::Word(word, _) => Some(word.clone()),
        Value::Bool(b, _) => Some(b.to_string()),
        Value::List(..) | Value::Record(_) | Value::Product { .. } => None,
    };
    diagnostics.push(match unquoted {
        Some(text) => mismatch(value, "a string", "strings are quoted")
            .help(format!("quote it: `\"{text}\"`")),
        None => mismatch(value, "a string", "strings are quoted: `\"…\"`"),
    });
    None
}

/// One of a fixed set of words: `production`, `restricted`, `warning`.
pub fn word(
    value: &Value,
    allowed: &[&str],
    what: &str,
    diagnostics: &mut Diags,
) -> Option<String> {
    // Only a diagnostic needs the list of choices.
    let choices = || {
        allowed
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = match value {
        Value::Word(word, _) => word,
        Value::Str(text, _) if allowed.contains(&text.as_str()) => text,
        _ => {
            diagnostics.push(mismatch(
                value,
                what,
                &format!("{what} is one of {}", choices()),
            ));
            return None;
        }
    };
    if allowed.contains(&text.as_str()) {
        return Some(text.clone());
    }
    let noun = what.trim_start_matches("an ").trim_start_matches("a ");
    let diagnostic = Diagnostic::new(
        Code::E0305,
        value.span(),
        format!("unknown {noun} `{text}`"),
    )
    .label(format!("expected {}", choices()));
    // `prod` for `production`, `stage` for `staging`, `strict` for
    // `restricted`: a typo, an abbreviation, or a part of the word.
    let close =
        crate::suggest::closest_or_abbreviated(text, allowed.iter().copied()).or_else(|| {
            let lower = text.to_ascii_lowercase();
            let mut containing = allowed
                .iter()
                .filter(|word| word.contains(lower.as_str()) || lower.contains(**word));
            match (containing.next(), containing.next()) {
                (Some(only), None) if lower.len() >= 3 => Some(*only),
                _ => None,
            }
        });
    diagnostics.push(match close {
        Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
        None => diagnostic.help(format!("{what} is one of {}", choices())),
    });
    None
}

/// An `https://` URL with a host. `template` gives the string as written,
/// where it interpolates variables (asked only for a URL that is wrong):
/// the suggestion is made from it, so that in a loop it is right for every
/// iteration.
pub fn https_url<'t>(
    value: &Value,
    template: impl FnOnce() -> Option<&'t str>,
    code: Code,
    what: &str,
    diagnostics: &mut Diags,
) -> Option<String> {
    let text = string(value, diagnostics)?;
    let host = text
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if let Some(host) = host
        && !host.is_empty()
        && !host.contains(char::is_whitespace)
    {
        return Some(text);
    }
    let why = if text.starts_with("https://") {
        "the URL has no host"
    } else if text.starts_with("http://") {
        "plain `http://` is not allowed"
    } else if text.contains("://") {
        "only `https://` URLs are allowed"
    } else {
        "not a URL"
    };
    // `git@github.com:org/repo.git` is the SSH form of an https URL.
    let template = template();
    let written = template.unwrap_or(&text);
    let suggestion = match written
        .strip_prefix("git@")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((host, path)) => format!("https://{host}/{path}"),
        None => match written.strip_prefix("http://") {
            Some(rest) if !rest.is_empty() => format!("https://{rest}"),
            _ => format!(
                "https://example.com{}",
                if what.contains("repo") {
                    "/org/repo"
                } else {
                    ""
                }
            ),
        },
    };
    diagnostics.push(
        Diagnostic::new(code, value.span(), format!("{what} must be an https URL"))
            .label(why)
            .help(format!("write `\"{suggestion}\"`")),
    );
    None
}

/// A field whose value is a set of words, such as a tier's
/// `self_managed = [network, rbac]`: what its diagnostics say.
pub struct WordList {
    pub words: &'static [&'static str],
    /// A whole value to show, `[network, rbac]`.
    pub example: &'static str,
    /// Who may list the words: "a tier's envs may manage".
    pub who: &'static str,
    /// What to write, for a value that is no list.
    pub help: &'static str,
}

impl WordList {
    /// The words as a choice: "`network` or `rbac`".
    fn choices(&self) -> String {
        let quoted: Vec<String> = self.words.iter().map(|w| format!("`{w}`")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The words `value` lists, each at most once, in the order of
    /// `self.words`; `None` after reporting what is wrong with it.
    pub fn read(
        &self,
        value: &Value,
        span: Span,
        diagnostics: &mut Diags,
    ) -> Option<Vec<&'static str>> {
        let Value::List(items, _) = value else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0301,
                    span,
                    format!("expected a list, such as `{}`", self.example),
                )
                .label("not a list")
                .help(self.help),
            );
            return None;
        };
        let mut listed = vec![false; self.words.len()];
        let mut ok = true;
        for item in items {
            let (word, at) = match item {
                Value::Word(word, at) | Value::Str(word, at) => (word.as_str(), *at),
                other => {
                    ok = false;
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0301,
                            other.span(),
                            format!("expected {}", self.choices()),
                        )
                        .label("not a word")
                        .help(format!("list some of {}", self.choices())),
                    );
                    continue;
                }
            };
            match self.words.iter().position(|w| *w == word) {
                Some(at) => listed[at] = true,
                None => {
                    ok = false;
                    let diagnostic = Diagnostic::new(
                        Code::E0305,
                        at,
                        format!("unknown value `{word}`: {} {}", self.who, self.choices()),
                    )
                    .label(format!("not {}", self.choices()));
                    diagnostics.push(
                        match crate::suggest::closest(word, self.words.iter().copied()) {
                            Some(near) => diagnostic.help(format!("did you mean `{near}`?")),
                            None => diagnostic.help(format!("list some of {}", self.choices())),
                        },
                    );
                }
            }
        }
        ok.then(|| {
            self.words
                .iter()
                .zip(listed)
                .filter_map(|(word, listed)| listed.then_some(*word))
                .collect()
        })
    }
}
