//! The part of Go's text/template that alert annotations use, expanded as
//! Prometheus 2.42 expands them (`template/template.go`, `rules/alerting.go`):
//! `{{ $labels.NAME }}`, `{{ $value }}`, `{{ $value | humanize }}`,
//! `{{ $value | humanizePercentage }}`, `$externalLabels`, comments and the
//! `{{-`/`-}}` trim markers. Anything else is refused rather than guessed:
//! a test that expects a wrong rendering is worse than no test.
//!
//! Owns Go's float formatting (`%v`, `%.4g`) too, since both functions and
//! `$value` print through it.

use super::Untestable;
use super::eval::Labels;

/// A parsed annotation (or label) template.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    /// `$labels.NAME`: the alert sample's label, "" when absent (Prometheus
    /// sets `missingkey=zero`, and `$labels` is a `map[string]string`).
    Label(String),
    /// `$externalLabels.NAME`: promtool runs with no external labels.
    Empty,
    Value(Format),
}

#[derive(Clone, Copy, Debug)]
enum Format {
    /// Go's `%v` of a float64.
    Plain,
    Humanize,
    HumanizePercentage,
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Template, Untestable> {
        let mut parts = Vec::new();
        let mut rest = text;
        // Set by a `-}}`: the text that follows loses its leading space.
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut before = &rest[..open];
            if trim_next {
                before = before.trim_start_matches(is_go_space);
            }
            let after_open = &rest[open + 2..];
            // `{{- ` trims the text before; Go requires the space after the
            // dash (`{{-3}}` is the number -3).
            let (left_trim, inner_start) = match after_open.as_bytes() {
                [b'-', c, ..] if is_go_space(*c as char) => (true, 1),
                _ => (false, 0),
            };
            if left_trim {
                before = before.trim_end_matches(is_go_space);
            }
            if !before.is_empty() {
                parts.push(Part::Text(before.to_string()));
            }
            let Some(close) = after_open.find("}}") else {
                return Err(untestable_template(text, "a `{{` is never closed"));
            };
            let mut action = after_open.get(inner_start..close).unwrap_or("");
            trim_next = false;
            if let Some(stripped) = action.strip_suffix('-')
                && stripped.ends_with(is_go_space)
            {
                action = stripped;
                trim_next = true;
            }
            // Go skips the dash and exactly one space of a trim marker; a
            // comment must start (and end) right there.
            let mut core = action;
            if left_trim {
                core = core.get(1..).unwrap_or("");
            }
            if trim_next {
                core = core.get(..core.len().saturating_sub(1)).unwrap_or("");
            }
            if let Some(part) = parse_action(core).map_err(|why| untestable_template(text, &why))? {
                parts.push(part);
            }
            rest = &after_open[close + 2..];
        }
        let mut tail = rest;
        if trim_next {
            tail = tail.trim_start_matches(is_go_space);
        }
        if !tail.is_empty() {
            parts.push(Part::Text(tail.to_string()));
        }
        Ok(Template { parts })
    }

    /// The label names the template reads as `$labels.NAME`.
    pub(crate) fn labels_read(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Label(name) => Some(name.as_str()),
            Part::Text(_) | Part::Empty | Part::Value(_) => None,
        })
    }

    /// The expansion for one alert sample: its labels (with `__name__`
    /// when the sample has one) and value.
    pub(crate) fn render(&self, labels: &Labels, value: f64) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Label(name) => {
                    if let Some((_, v)) = labels.iter().find(|(n, _)| n == name) {
                        out.push_str(v);
                    }
                }
                Part::Empty => {}
                Part::Value(Format::Plain) => out.push_str(&go_float(value, None)),
                Part::Value(Format::Humanize) => out.push_str(&humanize(value)),
                Part::Value(Format::HumanizePercentage) => {
                    // `fmt.Sprintf("%.4g%%", v*100)`
                    out.push_str(&go_float(value * 100.0, Some(4)));
                    out.push('%');
                }
            }
        }
        out
    }
}

fn untestable_template(text: &str, why: &str) -> Untestable {
    Untestable(format!(
        "the template `{text}` uses what envk's test generator does not expand ({why}); \
         only `{{{{ $labels.NAME }}}}`, `{{{{ $value }}}}` and `{{{{ $value | humanize }}}}` \
         or `| humanizePercentage` are supported"
    ))
}

/// Go's `isSpace` in text/template's lexer.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// One `{{ … }}`'s content, trim markers removed. `None`: prints nothing.
fn parse_action(action: &str) -> Result<Option<Part>, String> {
    let trimmed = action.trim_matches(is_go_space);
    // A comment must start right after the delimiter (or its trim marker)
    // and end right before the closing one; Go rejects it otherwise.
    if action.starts_with("/*") || trimmed.starts_with("/*") {
        return if action.starts_with("/*") && action.ends_with("*/") && action.len() >= 4 {
            Ok(None)
        } else {
            Err("a comment not right inside its delimiters".to_string())
        };
    }
    let stages: Vec<&str> = trimmed
        .split('|')
        .map(|s| s.trim_matches(is_go_space))
        .collect();
    let words: Vec<Vec<&str>> = stages
        .iter()
        .map(|stage| stage.split(is_go_space).filter(|w| !w.is_empty()).collect())
        .collect();
    let words: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
    match words.as_slice() {
        [[operand]] => operand_part(operand).map(Some),
        [[operand], [function]] | [[function, operand]] => {
            if !matches!(operand_part(operand)?, Part::Value(Format::Plain)) {
                return Err(format!("`{function}` of something other than `$value`"));
            }
            match *function {
                "humanize" => Ok(Some(Part::Value(Format::Humanize))),
                "humanizePercentage" => Ok(Some(Part::Value(Format::HumanizePercentage))),
                other => Err(format!("the function `{other}`")),
            }
        }
        _ => Err(format!("`{{{{{action}}}}}`")),
    }
}

fn operand_part(operand: &str) -> Result<Part, String> {
    if operand == "$value" || operand == ".Value" {
        return Ok(Part::Value(Format::Plain));
    }
    for (prefix, external) in [
        ("$labels.", false),
        (".Labels.", false),
        ("$externalLabels.", true),
        (".ExternalLabels.", true),
    ] {
        if let Some(name) = operand.strip_prefix(prefix) {
            // A Go field name: a letter or `_`, then letters, digits, `_`.
            let mut chars = name.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("`{operand}`"));
            }
            return Ok(if external {
                Part::Empty
            } else {
                Part::Label(name.to_string())
            });
        }
    }
    Err(format!("`{operand}`"))
}

/// Prometheus' `humanize`: SI prefixes, each step a division (or
/// multiplication) by 1000 in float64, as Go does it, then `%.4g`.
pub(crate) fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return go_float(v, Some(4));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", go_float(v, Some(4)))
}

/// Go's `%v` (`precision` None: the shortest digits that round-trip) or
/// `%.Ng` of a float64: strconv's `'g'` layout, exponent form when the
/// exponent is below -4 or at least the precision (6 for the shortest),
/// never a trailing zero, exponents of at least two digits.
pub(crate) fn go_float(v: f64, precision: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let negative = v.is_sign_negative();
    let sign = if negative { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0");
    }
    // Rust's `{:e}` gives the same shortest digits as Go's (both the
    // shortest that round-trip, nearest the value), and `{:.Ne}` the same
    // correctly rounded ones (ties to even on the exact binary value).
    let scientific = match precision {
        None => format!("{:e}", v.abs()),
        Some(p) => format!("{:.*e}", p.max(1) - 1, v.abs()),
    };
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i64;
    // Go's `dp`: the decimal point's position in the digits.
    let dp = exponent + 1;
    let shortest = precision.is_none();
    let mut prec = match precision {
        None => nd,
        Some(p) => p.max(1) as i64,
    };
    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut out = String::from(sign);
    if exp < -4 || exp >= eprec {
        if prec > nd {
            prec = nd;
        }
        // %e with prec-1 digits after the point.
        out.push(digits[0] as char);
        if prec > 1 {
            out.push('.');
            for i in 1..prec {
                out.push(digits.get(i as usize).map_or('0', |&d| d as char));
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
        return out;
    }
    if prec > dp {
        prec = nd;
    }
    let decimals = (prec - dp).max(0);
    // %f: the integer part, then `decimals` digits.
    if dp > 0 {
        for i in 0..dp {
            out.push(digits.get(i as usize).map_or('0', |&d| d as char));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals {
            let at = dp + i;
            let digit = if at >= 0 {
                digits.get(at as usize).map_or('0', |&d| d as char)
            } else {
                '0'
            };
            out.push(digit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_matches_go() {
        // Expected strings are what Go 1.19's fmt prints.
        let cases: &[(f64, Option<usize>, &str)] = &[
            (0.95, None, "0.95"),
            (6.0, None, "6"),
            (1e21, None, "1e+21"),
            (1e6, None, "1e+06"),
            (123456.0, None, "123456"),
            (1234567.0, None, "1.234567e+06"),
            (0.0001, None, "0.0001"),
            (0.00001, None, "1e-05"),
            (0.30000000000000004, None, "0.30000000000000004"),
            (-2.5, None, "-2.5"),
            (90.9, Some(4), "90.9"),
            (100.0, Some(4), "100"),
            (93.13225746154785, Some(4), "93.13"),
            (12345.0, Some(4), "1.234e+04"),
            (0.5, Some(4), "0.5"),
            (1234.0, Some(4), "1234"),
            (0.000012345, Some(4), "1.234e-05"),
            (0.0, Some(4), "0"),
        ];
        for &(v, p, want) in cases {
            assert_eq!(go_float(v, p), want, "{v} {p:?}");
        }
    }

    #[test]
    fn humanize_uses_si_prefixes() {
        assert_eq!(humanize(6.0), "6");
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(0.25), "250m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(2_000_000.0), "2M");
    }

    #[test]
    fn never_panics() {
        let alphabet = ['{', '}', '-', ' ', '$', 'v', '/', '*', '|', '.'];
        let labels: Labels = Vec::new();
        for text in crate::test_inputs::every_string(&alphabet, 6) {
            if let Ok(template) = Template::parse(&text) {
                let _ = template.render(&labels, 1.5);
            }
        }
    }

    #[test]
    fn parses_the_supported_forms_and_refuses_the_rest() {
        let labels: Labels = vec![("pod".into(), "pod-1".into())];
        let t = Template::parse("Pod {{ $labels.pod }} at {{ $value | humanizePercentage }}.")
            .expect("supported");
        assert_eq!(t.render(&labels, 0.909), "Pod pod-1 at 90.9%.");
        let t = Template::parse(
            "a  {{- $labels.missing -}}  b {{/* c */}}{{- /* d */ -}} {{humanize $value}}",
        )
        .expect("supported");
        // The second trim marker meets the empty text after the comment,
        // not "b ": Go trims only the adjacent text.
        assert_eq!(t.render(&labels, 1500.0), "ab 1.5k");
        for bad in [
            "{{ if $value }}x{{ end }}",
            "{{ $value | printf \"%.2f\" }}",
            "{{ $labels.pod | humanize }}",
            "{{ query \"up\" }}",
            "{{ $value ",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
