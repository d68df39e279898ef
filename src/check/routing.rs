//! Where alerts go: the program's `receiver`s and `route`s, checked and
//! put in the order Alertmanager tries them (`model::Alerting`).
//!
//! Invariants established here:
//! - every secret an integration needs is a file Alertmanager reads (one
//!   written inline is E0711, in `schema`'s tables);
//! - every route names a declared receiver (E0201), matches only `team`
//!   and `severity` (E0714) with a severity that exists (E0305);
//! - no two routes have the same matchers (E0712): routes of one kind then
//!   never both match an alert, so the order envk sorts them in, most
//!   specific first, decides nothing the program did not say;
//! - [`unrouted`]: every alert an env declares on a cluster whose
//!   Prometheus sends to an Alertmanager reaches a receiver (E0713), the
//!   default one only where `route to NAME` names it.

use super::monitoring::{self, Service};
use super::schema::{self, Read, Typed};
use super::units::Diags;
use super::{Checker, fields};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Integration, TextMap};
use crate::resolve::value::Value;
use crate::source::Span;

/// The labels a route may match.
const ROUTE_LABELS: &[&str] = &["team", "severity"];

/// The program's receivers and routes, into `checker.model.alerting`.
pub(crate) fn alerting(checker: &mut Checker, diagnostics: &mut Diags) {
    let mut receivers = std::collections::BTreeMap::new();
    for decl in checker.resolved.receivers.iter() {
        let read = checker.read_declaration(
            schema::RECEIVER,
            "receiver",
            decl,
            &decl.node.body,
            diagnostics,
        );
        let context = format!("receiver `{}`", decl.name);
        let integrations = integrations(&read, &context, diagnostics);
        // A block it does not know was reported: one mistake, one report.
        if decl.node.body.stmts.is_empty() {
            diagnostics.push(
                Diagnostic::new(Code::E0303, decl.name_span, format!("{context} sends nowhere"))
                    .label("no pagerduty, slack, email or webhook block")
                    .help("say how it sends, as `pagerduty { routing_key_file = \"/etc/alertmanager/secrets/KEY\" }`"),
            );
            checker.routing_incomplete = true;
            continue;
        }
        match integrations {
            Some(integrations) => {
                receivers.insert(
                    decl.name.clone(),
                    model::Receiver {
                        name: decl.name.clone(),
                        integrations,
                        source: checker.source(decl.name_span),
                    },
                );
            }
            None => checker.routing_incomplete = true,
        }
    }
    // Routes by their matchers, with where each was written.
    let mut routes: Vec<(model::Route, Span)> = Vec::new();
    let mut default: Option<(String, Span)> = None;
    let resolved = checker.resolved;
    for (route, vars) in &resolved.routes {
        let scope = crate::resolve::value::Scope::new(vars.clone(), &resolved.lets);
        let mut team = None;
        let mut severity = None;
        let mut ok = true;
        for matcher in &route.matchers {
            let Some(value) = super::written_name(&matcher.value, &scope, diagnostics) else {
                ok = false;
                continue;
            };
            let label = matcher.label.text.as_str();
            let slot = match label {
                "team" => &mut team,
                "severity" => &mut severity,
                _ => {
                    let help = match crate::suggest::closest(label, ROUTE_LABELS.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`? A route matches an alert's `team` label (from `alert_labels`) and its `severity`"),
                        None => "a route matches an alert's `team` label (from `alert_labels`) and its `severity`; route by other labels in Alertmanager's own configuration".to_string(),
                    };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0714,
                            matcher.label.span,
                            format!("a route cannot match `{label}`"),
                        )
                        .label("not `team` or `severity`")
                        .help(help),
                    );
                    ok = false;
                    continue;
                }
            };
            if let Some((_, first)) = slot {
                diagnostics.push(
                    Diagnostic::new(Code::E0714, matcher.span(), format!("the route matches `{label}` twice"))
                        .label("matched again here")
                        .secondary(*first, "first matched here")
                        .help(format!("an alert has one `{label}`: match it once, and write a route for each value")),
                );
                ok = false;
                continue;
            }
            let text = if label == "severity" {
                let word = match &matcher.value {
                    crate::syntax::ast::Name::Ident(_) => Value::Word(value.text, value.span),
                    crate::syntax::ast::Name::Str(_) => Value::Str(value.text, value.span),
                };
                match super::units::word(
                    &word,
                    super::alerts::SEVERITIES,
                    "a severity",
                    diagnostics,
                ) {
                    Some(text) => text,
                    None => {
                        ok = false;
                        continue;
                    }
                }
            } else if let Err(why) = super::check_label_value(&value.text) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0714,
                        value.span,
                        format!("`{}` is no `team` label's value", value.text),
                    )
                    .label(why)
                    .help("match the team as `alert_labels { team = … }` writes it"),
                );
                ok = false;
                continue;
            } else {
                value.text
            };
            *slot = Some((text, matcher.span()));
        }
        let receiver = super::name_referent(
            &resolved.receivers,
            &resolved.refs,
            &route.receiver,
            &scope,
            Code::E0201,
            &mut checker.expanded,
            diagnostics,
        );
        let (Some(receiver), true) = (receiver, ok) else {
            checker.routing_incomplete = true;
            continue;
        };
        let span = match route.matchers.first() {
            Some(first) => Span::new(first.span().start, route.receiver.span().end),
            None => route.receiver.span(),
        };
        let route = model::Route {
            team: team.map(|(text, _)| text),
            severity: severity.map(|(text, _)| text),
            receiver: receiver.name.clone(),
            source: checker.source(span),
        };
        let same = if route.team.is_none() && route.severity.is_none() {
            default.as_ref().map(|(_, first)| *first)
        } else {
            routes
                .iter()
                .find(|(other, _)| other.team == route.team && other.severity == route.severity)
                .map(|(_, first)| *first)
        };
        if let Some(first) = same {
            let message = match describe(&route) {
                Some(what) => format!("two routes for {what}"),
                None => "two default routes (`route to …`)".to_string(),
            };
            diagnostics.push(
                Diagnostic::new(Code::E0712, span, message)
                    .label("routes the same alerts again")
                    .secondary(first, "the first route for them")
                    .help("Alertmanager would send them by the first alone: keep one route, or send to both with one receiver that has both integrations"),
            );
            checker.routing_incomplete = true;
            continue;
        }
        if route.team.is_none() && route.severity.is_none() {
            default = Some((route.receiver, span));
        } else {
            routes.push((route, span));
        }
    }
    let mut routes: Vec<model::Route> = routes.into_iter().map(|(route, _)| route).collect();
    routes.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    checker.model.alerting = model::Alerting {
        receivers,
        routes,
        default: default.map(|(receiver, _)| receiver),
    };
}

/// "alerts of team \"x\" with severity critical"; `None` for the default.
fn describe(route: &model::Route) -> Option<String> {
    Some(match (&route.team, &route.severity) {
        (Some(team), Some(severity)) => {
            format!("alerts of team \"{team}\" with severity {severity}")
        }
        (Some(team), None) => format!("alerts of team \"{team}\""),
        (None, Some(severity)) => format!("alerts with severity {severity}"),
        (None, None) => return None,
    })
}

/// A receiver's integrations, each read from its block; `None` when one
/// has an error (reported).
fn integrations(read: &Read, context: &str, diagnostics: &mut Diags) -> Option<Vec<Integration>> {
    let mut integrations = Vec::new();
    let mut ok = true;
    for (field, typed, span) in &read.typed {
        let Some(Typed::Block(block)) = typed else {
            ok = false;
            continue;
        };
        let at = *span;
        let context = format!("the {} block of {context}", field.name);
        let integration = match field.name {
            "pagerduty" => secret(
                block,
                "routing_key_file",
                "routing_key",
                at,
                &context,
                diagnostics,
            )
            .map(|routing_key_file| Integration::PagerDuty {
                routing_key_file,
                send_resolved: flag(block, "send_resolved"),
            }),
            "slack" => secret(block, "api_url_file", "api_url", at, &context, diagnostics).map(
                |api_url_file| Integration::Slack {
                    channel: text(block, "channel"),
                    api_url_file,
                    send_resolved: flag(block, "send_resolved"),
                },
            ),
            "email" => email(block, at, &context, diagnostics),
            "webhook" => webhook(block, diagnostics),
            other => unreachable!("`{other}` is no field of schema::RECEIVER"),
        };
        match integration {
            Some(integration) => integrations.push(integration),
            None => ok = false,
        }
    }
    ok.then_some(integrations)
}

/// The secret file `file_field`, required unless `inline` was written
/// (and refused, E0711): one report for one mistake.
fn secret(
    block: &Read,
    file_field: &str,
    inline: &str,
    at: Span,
    context: &str,
    diagnostics: &mut Diags,
) -> Option<String> {
    if !block.written(file_field) && !block.written(inline) {
        diagnostics.push(fields::missing(
            file_field,
            at,
            context,
            "\"/etc/alertmanager/secrets/KEY\"",
        ));
    }
    if block.written(inline) {
        return None;
    }
    text(block, file_field)
}

fn email(block: &Read, at: Span, context: &str, diagnostics: &mut Diags) -> Option<Integration> {
    if block.written("auth_password") {
        return None;
    }
    let auth_password_file = text(block, "auth_password_file");
    let auth_username = text(block, "auth_username");
    if auth_password_file.is_some() && auth_username.is_none() {
        diagnostics.push(fields::missing(
            "auth_username",
            at,
            &format!("{context}, which has a password,"),
            "\"alertmanager@example.com\"",
        ));
        return None;
    }
    Some(Integration::Email {
        to: text(block, "to")?,
        from: text(block, "from")?,
        smarthost: text(block, "smarthost")?,
        auth_username,
        auth_password_file,
        require_tls: flag(block, "require_tls"),
        send_resolved: flag(block, "send_resolved"),
    })
}

fn webhook(block: &Read, diagnostics: &mut Diags) -> Option<Integration> {
    let Some(Typed::Value(value)) = block.get("url") else {
        return None;
    };
    let url = monitoring::service_url(
        value,
        Service {
            what: "a webhook URL",
            example: "\"https://hooks.example.com/alerts\"",
            query: true,
            credential: "put the credential in a file Alertmanager reads and name it with `credentials_file`, sent as `Authorization: Bearer …`",
        },
        diagnostics,
    )?;
    let url = format!("{}://{}{}", url.scheme, url.authority, url.path);
    // A typed field that failed its check is absent: no Integration.
    let credentials_file = text(block, "credentials_file");
    if block.written("credentials_file") && credentials_file.is_none() {
        return None;
    }
    Some(Integration::Webhook {
        url,
        credentials_file,
        send_resolved: flag(block, "send_resolved"),
    })
}

fn text(block: &Read, name: &str) -> Option<String> {
    match block.get(name) {
        Some(Typed::Text(text)) => Some(text.clone()),
        _ => None,
    }
}

fn flag(block: &Read, name: &str) -> Option<bool> {
    match block.get(name) {
        Some(Typed::Bool(flag)) => Some(*flag),
        _ => None,
    }
}

/// E0713 for a rule of env `env` with `labels`, used at `span`, on
/// `cluster`: its Prometheus sends to an Alertmanager, where the rule
/// would reach no receiver. Silent when a receiver or route has an error
/// (reported): the route it meant may be the one that failed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn unrouted(
    checker: &Checker,
    cluster: &model::Cluster,
    labels: &TextMap,
    alert: &str,
    env: &str,
    span: Span,
    diagnostics: &mut Diags,
) {
    let alerting = &checker.model.alerting;
    if cluster.prometheus.alertmanager.is_none()
        || checker.routing_incomplete
        || alerting.receiver_of(labels).is_some()
    {
        return;
    }
    let team = labels.get("team");
    let severity = labels.get("severity");
    let what = match (team, severity) {
        (Some(team), Some(severity)) => format!("team \"{team}\", severity {severity}"),
        (Some(team), None) => format!("team \"{team}\", no severity"),
        (None, Some(severity)) => format!("no team, severity {severity}"),
        (None, None) => "no team, no severity".to_string(),
    };
    let route = match team {
        Some(team) => format!("route team \"{team}\" to RECEIVER"),
        None => match severity {
            Some(severity) => format!("route severity {severity} to RECEIVER"),
            None => "route to RECEIVER".to_string(),
        },
    };
    let receivers = if alerting.receivers.is_empty() {
        "declare a receiver (`receiver NAME { pagerduty { routing_key_file = \"…\" } }`) and "
    } else {
        ""
    };
    let team_help = if team.is_none() {
        "; give the env's alerts a team with `alert_labels { team = \"…\" }`"
    } else {
        ""
    };
    diagnostics.push(
        Diagnostic::new(
            Code::E0713,
            span,
            // Not naming the cluster: routes do not depend on it, so an
            // env on several clusters makes one mistake, reported once.
            format!("alert `{alert}` of env `{env}` reaches no receiver"),
        )
        .label(format!("no route takes its labels: {what}"))
        .help(format!(
            "{receivers}route it: `{route}`, or name a receiver for every alert no route takes: `route to RECEIVER`{team_help}"
        )),
    );
}
