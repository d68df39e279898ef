//! Literal decoding: numbers with units, string escapes, ports.
//!
//! The grammar accepts a loose shape for each literal (any suffix letters,
//! any character after a backslash) so that a mistake like `20Gb` is
//! reported here, precisely, instead of as an unexpected token.

use super::ast::{Number, Suffix};

/// Why a number literal was rejected; the builder turns it into E0104.
#[derive(Debug, PartialEq, Eq)]
pub enum NumberError {
    UnknownUnit {
        unit: String,
        suggestion: Option<&'static str>,
    },
    TooLarge,
    /// `1h30` or `1.5h30m`: a compound duration must be whole numbers each
    /// followed by a unit, largest unit first.
    BadDuration {
        reason: &'static str,
    },
}

/// Most digits a mantissa may have; 38 always fit in a `u128`.
const MAX_DIGITS: usize = 38;

pub fn number(text: &str) -> Result<Number, NumberError> {
    let digits_end = |text: &str| {
        text.bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(text.len())
    };
    let (int, rest) = text.split_at(digits_end(text));
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(digits_end(after)),
        None => ("", rest),
    };
    // The digits of both parts, leading zeros aside, as one integer.
    let mut mantissa: u128 = 0;
    let mut significant = 0;
    for digit in int.bytes().chain(frac.bytes()) {
        if significant == 0 && digit == b'0' {
            continue;
        }
        significant += 1;
        if significant > MAX_DIGITS {
            return Err(NumberError::TooLarge);
        }
        mantissa = mantissa * 10 + u128::from(digit - b'0');
    }
    let scale = frac.len() as u32;
    if let Some(suffix) = suffix(rest) {
        return Ok(Number {
            mantissa,
            scale,
            suffix,
        });
    }
    let starts_with_time_unit = ["ms", "s", "m", "h", "d", "w", "y"].iter().any(|unit| {
        rest.strip_prefix(unit)
            .is_some_and(|after| after.starts_with(|c: char| c.is_ascii_digit()))
    });
    if starts_with_time_unit {
        if scale != 0 {
            return Err(NumberError::BadDuration {
                reason: "a compound duration is made of whole numbers, such as `1h30m`",
            });
        }
        return compound_duration(int, rest);
    }
    Err(NumberError::UnknownUnit {
        unit: rest.to_string(),
        suggestion: suggest_unit(rest),
    })
}

fn suffix(text: &str) -> Option<Suffix> {
    Suffix::ALL.iter().copied().find(|s| s.as_str() == text)
}

/// `1h30m` → milliseconds, with suffix `ms`. Units must be Prometheus's, in
/// decreasing order, each at most once.
fn compound_duration(first: &str, rest: &str) -> Result<Number, NumberError> {
    let mut total: u128 = 0;
    let mut last_rank = usize::MAX;
    let mut amount = first;
    let mut rest = rest;
    loop {
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_end);
        let (rank, millis) = match unit {
            "y" => (0, 365 * 24 * 3_600_000),
            "w" => (1, 7 * 24 * 3_600_000),
            "d" => (2, 24 * 3_600_000),
            "h" => (3, 3_600_000),
            "m" => (4, 60_000),
            "s" => (5, 1_000),
            "ms" => (6, 1),
            _ => {
                return Err(NumberError::BadDuration {
                    reason: "the units of a compound duration are `y`, `w`, `d`, `h`, `m`, `s` and `ms`",
                });
            }
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(NumberError::BadDuration {
                reason: "a compound duration lists each unit once, largest first, as in `1h30m`",
            });
        }
        last_rank = rank;
        let value: u128 = amount.parse().map_err(|_| NumberError::TooLarge)?;
        total = value
            .checked_mul(millis)
            .and_then(|part| total.checked_add(part))
            .ok_or(NumberError::TooLarge)?;
        if after.is_empty() {
            break;
        }
        let digits_end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        amount = &after[..digits_end];
        rest = &after[digits_end..];
        if rest.is_empty() {
            return Err(NumberError::BadDuration {
                reason: "every number of a compound duration needs a unit, as in `1h30m`",
            });
        }
    }
    Ok(Number {
        mantissa: total,
        scale: 0,
        suffix: Suffix::Millisecond,
    })
}

/// The unit people most likely meant by a suffix we do not know.
fn suggest_unit(unit: &str) -> Option<&'static str> {
    let lower = unit.to_ascii_lowercase();
    let binary = |prefix: char| match prefix {
        'k' => Some("Ki"),
        'm' => Some("Mi"),
        'g' => Some("Gi"),
        't' => Some("Ti"),
        'p' => Some("Pi"),
        'e' => Some("Ei"),
        _ => None,
    };
    let mut chars = lower.chars();
    let first = chars.next()?;
    match chars.as_str() {
        // `GiB`, `gi`, `Mib`: binary byte units written the usual way
        // elsewhere; Kubernetes writes `Gi`. (`GB` is handled by the caller,
        // which offers both readings.)
        "ib" | "i" | "b" => binary(first),
        "" if first == 'k' => Some("k"),
        _ => match lower.as_str() {
            "min" | "mins" | "minute" | "minutes" => Some("m"),
            "sec" | "secs" | "second" | "seconds" => Some("s"),
            "hr" | "hrs" | "hour" | "hours" => Some("h"),
            "day" | "days" => Some("d"),
            "percent" | "pct" => Some("%"),
            "mcpu" | "millicores" | "millicore" => Some("m"),
            _ if unit.starts_with('_') => Some(""),
            _ => None,
        },
    }
}

/// Decodes one escape sequence (the text starts with the backslash).
pub fn escape(text: &str) -> Result<char, &'static str> {
    let body = &text[1..];
    match body {
        "\"" => Ok('"'),
        "\\" => Ok('\\'),
        "n" => Ok('\n'),
        "t" => Ok('\t'),
        "r" => Ok('\r'),
        "0" => Ok('\0'),
        "$" => Ok('$'),
        "" => Err("a backslash at the end of a line escapes nothing"),
        _ => match body.strip_prefix("u{") {
            Some(hex) => {
                let hex = hex
                    .strip_suffix('}')
                    .ok_or("a unicode escape is written `\\u{1F600}`")?;
                if hex.is_empty() || hex.len() > 6 {
                    return Err("a unicode escape has one to six hex digits");
                }
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or("not a unicode scalar value")
            }
            None => Err(
                "the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\0`, `\\$` and `\\u{…}`",
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (u128, u32, Suffix) {
        let n = number(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        (n.mantissa, n.scale, n.suffix)
    }

    #[test]
    fn numbers_keep_their_exact_digits_and_unit() {
        assert_eq!(ok("10"), (10, 0, Suffix::None));
        assert_eq!(ok("0.5"), (5, 1, Suffix::None));
        assert_eq!(ok("200m"), (200, 0, Suffix::Milli));
        assert_eq!(ok("20Gi"), (20, 0, Suffix::Gibi));
        assert_eq!(ok("1G"), (1, 0, Suffix::Giga));
        assert_eq!(ok("90%"), (90, 0, Suffix::Percent));
        assert_eq!(ok("15s"), (15, 0, Suffix::Second));
        assert_eq!(ok("250ms"), (250, 0, Suffix::Millisecond));
        assert_eq!(ok("1h30m"), (5_400_000, 0, Suffix::Millisecond));
        assert_eq!(ok("000"), (0, 0, Suffix::None));
    }

    #[test]
    fn unknown_units_come_with_the_likely_intent() {
        let unit = |text: &str| match number(text) {
            Err(NumberError::UnknownUnit { unit, suggestion }) => (unit, suggestion),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(unit("20Gb"), ("Gb".to_string(), Some("Gi")));
        assert_eq!(unit("20GB"), ("GB".to_string(), Some("Gi")));
        assert_eq!(unit("1e6"), ("e6".to_string(), None));
        assert_eq!(unit("1_000"), ("_000".to_string(), Some("")));
        assert_eq!(unit("20GiB"), ("GiB".to_string(), Some("Gi")));
        assert_eq!(unit("1K"), ("K".to_string(), Some("k")));
        assert_eq!(unit("5min"), ("min".to_string(), Some("m")));
        assert_eq!(unit("3x"), ("x".to_string(), None));
    }

    #[test]
    fn compound_durations_are_ordered_whole_units() {
        assert!(matches!(
            number("30m1h"),
            Err(NumberError::BadDuration { .. })
        ));
        assert!(matches!(
            number("1h30"),
            Err(NumberError::BadDuration { .. })
        ));
        assert!(matches!(
            number("1.5h30m"),
            Err(NumberError::BadDuration { .. })
        ));
        assert!(matches!(
            number("1h30q"),
            Err(NumberError::BadDuration { .. })
        ));
        assert_eq!(number(&"9".repeat(39)), Err(NumberError::TooLarge));
    }

    #[test]
    fn escapes_decode_or_explain() {
        assert_eq!(escape("\\n"), Ok('\n'));
        assert_eq!(escape("\\u{e9}"), Ok('é'));
        assert!(escape("\\q").is_err());
        assert!(escape("\\u{110000}").is_err());
        assert!(escape("\\").is_err());
    }
}
