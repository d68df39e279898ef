//! The fleet's monitoring beyond each env's alerts: the `federation`
//! block, what the central Prometheus pulls from every cluster's.
//!
//! Invariant established here: every `match` is a PromQL series selector
//! (what `/federate` accepts), so the central configuration cannot fail
//! to load on one.

use promql_parser::parser::{self as promql, Expr};

use super::units::Diags;
use super::{Checker, schema};
use crate::diag::{Code, Diagnostic};
use crate::model;
use crate::resolve::value::Value;
use crate::source::Span;

/// `federation { match = […]  scrape_interval = … }`, once.
pub(crate) fn federation(checker: &mut Checker, diagnostics: &mut Diags) {
    let Some((read, keyword)) = super::read_one_block(
        checker,
        &checker.resolved.federation,
        ("federation", "the central Prometheus federates one way"),
        schema::FEDERATION,
        diagnostics,
    ) else {
        return;
    };
    let federation = &mut checker.model.federation;
    if let Some(schema::Typed::Duration(interval)) = read.get("scrape_interval") {
        federation.scrape_interval = *interval;
    }
    if let Some(schema::Typed::Value(value)) = read.get("match") {
        let span = read.span("match").unwrap_or(keyword);
        if let Some(matches) = selectors(value, span, diagnostics) {
            federation.matches = matches;
        }
    }
}

/// `prometheus { alertmanager = "http://alertmanager.monitoring.svc:9093" }`:
/// http (an in-cluster Service needs no TLS) or https, a host, no
/// credential (E0711: a secret in the program is a secret in Git).
pub(crate) fn alertmanager_url(
    value: &Value,
    diagnostics: &mut Diags,
) -> Option<model::AlertmanagerUrl> {
    let url = service_url(
        value,
        Service {
            what: "an Alertmanager URL",
            example: "\"http://alertmanager.monitoring.svc:9093\"",
            query: false,
            credential: "an Alertmanager that needs one is reached through an authenticating proxy, or from a Prometheus configured outside envk",
        },
        diagnostics,
    )?;
    Some(model::AlertmanagerUrl {
        scheme: url.scheme,
        host: url.authority.to_string(),
        path: url.path.trim_end_matches('/').to_string(),
    })
}

/// What a service's URL is for, in its diagnostics.
pub(crate) struct Service {
    /// "an Alertmanager URL".
    pub what: &'static str,
    pub example: &'static str,
    /// Whether it may carry a query (one that names a credential never).
    pub query: bool,
    /// How a service that needs a credential gets one, for the help line.
    pub credential: &'static str,
}

/// An http or https URL, in pieces.
pub(crate) struct ServiceUrl<'t> {
    pub scheme: &'static str,
    pub authority: &'t str,
    /// With its query, if any.
    pub path: &'t str,
}

/// The query parameters that carry a credential in the URLs of the
/// services alerts go to (`?token=…`, `?api_key=…`, `?sig=…`).
const CREDENTIAL_PARAMETERS: &[&str] = &[
    "token",
    "key",
    "apikey",
    "secret",
    "password",
    "passwd",
    "auth",
    "sig",
    "signature",
    "credential",
    "credentials",
];

/// The words of a parameter's name, lowercase: `access_token`,
/// `access-token` and `accessToken` are `access` and `token`.
fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split(['_', '-', '.']).flat_map(|part| {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_uppercase() && previous_lower {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            word.extend(c.to_lowercase());
        }
        words.push(word);
        words
    })
}

/// A URL the program may hold: http or https, a host, no credential (a
/// user or password before `@`, or a query parameter that names one:
/// E0711), E0308 for the rest.
pub(crate) fn service_url<'t>(
    value: &'t Value,
    service: Service,
    diagnostics: &mut Diags,
) -> Option<ServiceUrl<'t>> {
    let Service {
        what,
        example,
        query,
        credential,
    } = service;
    let Value::Str(text, _) = value else {
        super::units::string(value, diagnostics)?;
        return None;
    };
    let help = format!("write the address, as `{example}`");
    let (scheme, rest) = match text.split_once("://") {
        Some(("http", rest)) => ("http", rest),
        Some(("https", rest)) => ("https", rest),
        _ => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0308,
                    value.span(),
                    format!("{what} must be http or https"),
                )
                .label("not an http:// or https:// URL")
                .help(help),
            );
            return None;
        }
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if authority.contains('@') {
        diagnostics.push(
            Diagnostic::new(
                Code::E0711,
                value.span(),
                format!("{what} carries a credential"),
            )
            .label("a user or password before `@`")
            .help(format!(
                "remove it: what the program holds is committed to Git; {credential}"
            )),
        );
        return None;
    }
    let (_, parameters) = path.split_once('?').unwrap_or((path, ""));
    let secret = parameters.split(['&', '#']).find_map(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        words(name)
            .any(|word| CREDENTIAL_PARAMETERS.contains(&word.as_str()))
            .then_some(name)
    });
    if let Some(name) = secret {
        diagnostics.push(
            Diagnostic::new(
                Code::E0711,
                value.span(),
                format!("{what} carries a credential"),
            )
            .label(format!("the query parameter `{name}`"))
            .help(format!(
                "remove it: what the program holds is committed to Git; {credential}"
            )),
        );
        return None;
    }
    let host_ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok || path.contains('#') || (!query && path.contains('?')) {
        diagnostics.push(
            Diagnostic::new(
                Code::E0308,
                value.span(),
                format!("{what} is not `scheme://host:port/path`"),
            )
            .label(if host_ok {
                "a query or fragment"
            } else {
                "no host"
            })
            .help(help),
        );
        return None;
    }
    Some(ServiceUrl {
        scheme,
        authority,
        path,
    })
}

/// A list of series selectors, each once, in the order written; `None`
/// after reporting what is wrong.
fn selectors(value: &Value, span: Span, diagnostics: &mut Diags) -> Option<Vec<String>> {
    let help = "list series selectors as strings: `match = [\"{__name__=~\\\"namespace:.*\\\"}\", \"up\"]`";
    let Value::List(items, _) = value else {
        diagnostics.push(
            Diagnostic::new(Code::E0301, span, "expected a list of series selectors")
                .label("not a list")
                .help(help),
        );
        return None;
    };
    if items.is_empty() {
        diagnostics.push(
            Diagnostic::new(Code::E0306, span, "the federation matches no series")
                .label("an empty list")
                .help(format!(
                    "{help}; the default federates the per-namespace aggregates and `up`"
                )),
        );
        return None;
    }
    let mut matches: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Value::Str(text, at) = item else {
            ok = false;
            diagnostics.push(
                Diagnostic::new(
                    Code::E0301,
                    item.span(),
                    "expected a series selector, as a string",
                )
                .label("not a string")
                .help(help),
            );
            continue;
        };
        match promql::parse(text) {
            Ok(Expr::VectorSelector(_)) => {}
            Ok(_) => {
                ok = false;
                diagnostics.push(
                    Diagnostic::new(Code::E0701, *at, "`/federate` takes series selectors, not expressions")
                        .label("not a series selector")
                        .help("select series by name and labels, as `up` or `{__name__=~\"namespace:.*\"}`; record what you compute with a recording rule"),
                );
                continue;
            }
            Err(error) => {
                ok = false;
                let first_line = error.lines().next().unwrap_or("").trim().to_string();
                diagnostics.push(
                    Diagnostic::new(Code::E0701, *at, "the series selector is not valid PromQL")
                        .label(first_line)
                        .help(help),
                );
                continue;
            }
        }
        if matches.contains(text) {
            ok = false;
            diagnostics.push(
                Diagnostic::new(Code::E0202, *at, format!("`{text}` is listed twice"))
                    .label("listed again here")
                    .help("list each selector once"),
            );
            continue;
        }
        matches.push(text.clone());
    }
    ok.then_some(matches)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_names_are_split_into_words_however_written() {
        for (name, expected) in [
            ("access_token", vec!["access", "token"]),
            ("accessToken", vec!["access", "token"]),
            ("API-Key", vec!["api", "key"]),
            ("privateKey", vec!["private", "key"]),
            ("source", vec!["source"]),
            ("monkey", vec!["monkey"]),
        ] {
            assert_eq!(super::words(name).collect::<Vec<_>>(), expected, "{name}");
        }
    }

    #[test]
    fn the_default_matches_are_selectors() {
        for text in crate::model::Federation::DEFAULT_MATCHES {
            assert!(matches!(
                promql_parser::parser::parse(text),
                Ok(promql_parser::parser::Expr::VectorSelector(_))
            ));
        }
    }
}
