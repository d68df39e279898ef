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
use crate::resolve::refs::DeclKind;
use crate::resolve::value::Value;
use crate::source::Span;

/// The labels a route may match.
const ROUTE_LABELS: &[&str] = &["team", "severity"];

/// The program's receivers and routes, into `checker.model.alerting`.
pub(crate) fn alerting(checker: &mut Checker, diagnostics: &mut Diags) {
    let mut receivers = std::collections::BTreeMap::new();
    let resolved = checker.resolved;
    for decl in resolved.receivers.iter() {
        let made = super::checking_element(
            DeclKind::Receiver,
            &decl.name,
            Some(&decl.vars),
            diagnostics,
            |diagnostics| receiver(checker, decl, diagnostics),
        );
        match made {
            Some(made) => {
                receivers.insert(decl.name.clone(), made);
            }
            None => checker.routing_incomplete = true,
        }
    }
    // Routes by their matchers, with where each was written.
    let mut routes: Vec<(model::Route, Span)> = Vec::new();
    let mut default: Option<(String, Span)> = None;
    for (route, vars) in &resolved.routes {
        let before = diagnostics.len();
        match one_route(checker, route, vars, diagnostics) {
            Some((made, span)) => {
                let catch_all = made.team.is_none() && made.severity.is_none();
                let same = match catch_all {
                    true => default.as_ref().map(|(_, first)| *first),
                    false => routes
                        .iter()
                        .find(|(other, _)| {
                            other.team == made.team && other.severity == made.severity
                        })
                        .map(|(_, first)| *first),
                };
                match same {
                    Some(first) => {
                        diagnostics.push(twice(&made, span, first));
                        checker.routing_incomplete = true;
                    }
                    None if catch_all => default = Some((made.receiver, span)),
                    None => routes.push((made, span)),
                }
            }
            None => checker.routing_incomplete = true,
        }
        // A route a loop wrote says which element it was made from.
        if diagnostics.len() > before && !vars.is_empty() {
            let element = super::element(vars);
            let name = expanded(checker, route, vars);
            for diagnostic in &mut diagnostics[before..] {
                diagnostic.reached_in_element("route", &name, element.as_deref());
            }
        }
    }
    routes.sort_by(|(a, _), (b, _)| a.order_key().cmp(&b.order_key()));
    checker.route_spans = routes.iter().map(|(_, span)| *span).collect();
    checker.default_route_span = default.as_ref().map(|(_, span)| *span);
    checker.model.alerting = model::Alerting {
        receivers,
        routes: routes.into_iter().map(|(route, _)| route).collect(),
        default: default.map(|(receiver, _)| receiver),
    };
}

/// A receiver's blocks, read and checked; `None` after reporting.
fn receiver<'a>(
    checker: &Checker<'_, 'a>,
    decl: &crate::resolve::Decl<'a, crate::syntax::ast::Receiver>,
    diagnostics: &mut Diags,
) -> Option<model::Receiver> {
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
        return None;
    }
    Some(model::Receiver {
        name: decl.name.clone(),
        integrations: integrations?,
        source: checker.source(decl.name_span),
    })
}

/// The route as this expansion writes it: `team "search" to search-pagr`.
fn expanded(
    checker: &Checker,
    route: &crate::syntax::ast::Route,
    vars: &crate::resolve::value::Vars,
) -> String {
    let scope = crate::resolve::value::Scope::new(vars.clone(), &checker.resolved.lets);
    // Reported when the route was checked.
    let mut quiet = Diags::new();
    let mut text = String::new();
    let mut name = |name: &crate::syntax::ast::Name| {
        super::written_name(name, &scope, &mut quiet)
            .map_or_else(|| "…".to_string(), |ident| ident.text)
    };
    for matcher in &route.matchers {
        let value = name(&matcher.value);
        text.push_str(&format!("{} {} ", matcher.label.text, literal(&value)));
    }
    text.push_str("to ");
    text.push_str(&name(&route.receiver));
    text
}

/// From its first word to its receiver.
fn route_span(route: &crate::syntax::ast::Route) -> Span {
    match route.matchers.first() {
        Some(first) => Span::new(first.span().start, route.receiver.span().end),
        None => route.receiver.span(),
    }
}

/// One route's matchers and receiver, checked; with where it is written.
fn one_route(
    checker: &mut Checker,
    route: &crate::syntax::ast::Route,
    vars: &crate::resolve::value::Vars,
    diagnostics: &mut Diags,
) -> Option<(model::Route, Span)> {
    let resolved = checker.resolved;
    let scope = crate::resolve::value::Scope::new(vars.clone(), &resolved.lets);
    let mut team: Option<(String, Span)> = None;
    let mut severity: Option<(String, Span)> = None;
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
                Diagnostic::new(
                    Code::E0714,
                    matcher.span(),
                    format!("the route matches `{label}` twice"),
                )
                .label("matched again here")
                .secondary(*first, "first matched here")
                .help(format!(
                    "an alert has one `{label}`: match it once, and write a route for each value"
                )),
            );
            ok = false;
            continue;
        }
        let text = if label == "severity" {
            let word = match &matcher.value {
                crate::syntax::ast::Name::Ident(_) => Value::Word(value.text, value.span),
                crate::syntax::ast::Name::Str(_) => Value::Str(value.text, value.span),
            };
            match super::units::word(&word, super::alerts::SEVERITIES, "a severity", diagnostics) {
                Some(text) => text,
                None => {
                    ok = false;
                    continue;
                }
            }
        } else if value.text.is_empty() {
            // Alertmanager reads `team=""` as "has no team label".
            diagnostics.push(
                Diagnostic::new(Code::E0714, value.span, "an empty team")
                    .label("matches alerts without a `team` label")
                    .help("name the team as `alert_labels { team = … }` writes it; alerts without one are taken by a `severity` route or the default (`route to NAME`)"),
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
    let receiver = receiver.filter(|_| ok)?;
    let span = route_span(route);
    Some((
        model::Route {
            team: team.map(|(text, _)| text),
            severity: severity.map(|(text, _)| text),
            receiver: receiver.name.clone(),
            source: checker.source(span),
        },
        span,
    ))
}

/// `text` as an envk string literal: a help line's route must parse.
fn literal(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("${", "$${");
    format!("\"{escaped}\"")
}

/// E0712: `route` matches what the route written at `first` does.
fn twice(route: &model::Route, span: Span, first: Span) -> Diagnostic {
    let message = match describe(route) {
        Some(what) => format!("two routes for {what}"),
        None => "two default routes (`route to …`)".to_string(),
    };
    if first == span {
        return Diagnostic::new(Code::E0712, span, format!("{message}, from the same route"))
            .label("this route comes out the same twice")
            .help("a `for` loop writes it once per element: use the loop's variable in its matchers, or remove the element the list repeats");
    }
    Diagnostic::new(Code::E0712, span, message)
        .label("routes the same alerts again")
        .secondary(first, "the first route for them")
        .help("Alertmanager would send them by the first alone: keep one route, or send to both with one receiver that has both integrations")
}

/// E0715, a warning: a route for a team no alert of the program has, or
/// routes where no cluster sends its alerts to an Alertmanager. Run after
/// the envs, whose rules carry the teams; silent when a route or a
/// receiver had an error.
pub(crate) fn unused_routes(checker: &Checker, diagnostics: &mut Diags) {
    // Most programs route nothing: their rules are not looked at.
    if checker.routing_incomplete
        || (checker.route_spans.is_empty() && checker.default_route_span.is_none())
    {
        return;
    }
    let alerting = &checker.model.alerting;
    let sending = checker
        .model
        .clusters
        .values()
        .any(|cluster| cluster.prometheus.alertmanager.is_some());
    let set_teams = checker
        .envs
        .iter()
        .map(|env| &env.model)
        .flat_map(|env| &env.alerts.rules)
        .filter_map(|rule| rule.labels.get("team").map(String::as_str));
    // A template names its team per alert: any route may take those.
    let templated = set_teams.clone().any(|team| team.contains("{{"));
    // Prometheus drops an empty label.
    let teams: std::collections::BTreeSet<&str> =
        set_teams.filter(|team| !team.is_empty()).collect();
    if !sending {
        // One mistake: reported once, at the first route written.
        let first = checker
            .route_spans
            .iter()
            .chain(&checker.default_route_span)
            .min();
        if let Some(&first) = first {
            diagnostics.push(
                Diagnostic::new(Code::E0715, first, "the program's routes take no alert")
                    .label("no cluster sends its alerts to an Alertmanager")
                    .help("give the clusters whose alerts the routes are for `prometheus { alertmanager = \"http://…\" }`"),
            );
        }
        return;
    }
    for (route, &span) in alerting.routes.iter().zip(&checker.route_spans) {
        let what = describe(route).unwrap_or_default();
        let warning = |label: String, help: String| {
            Diagnostic::new(
                Code::E0715,
                span,
                format!("the route for {what} takes no alert"),
            )
            .label(label)
            .help(help)
        };
        let Some(team) = route
            .team
            .as_deref()
            .filter(|team| !templated && !teams.contains(team))
        else {
            continue;
        };
        let help = match crate::suggest::closest(team, teams.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? Alerts carry the team their env's `alert_labels` give"),
            None if teams.is_empty() => "no alert of the program has a team: give the envs' alerts one with `alert_labels { team = \"…\" }`".to_string(),
            None => format!(
                "the teams of the program's alerts are {}",
                crate::suggest::and_list(&teams.iter().map(|team| literal(team)).collect::<Vec<_>>())
            ),
        };
        diagnostics.push(warning(
            format!("no alert rule of the program sets team {}", literal(team)),
            help,
        ));
    }
}

/// "alerts of team \"x\" with severity critical"; `None` for the default.
fn describe(route: &model::Route) -> Option<String> {
    Some(match (&route.team, &route.severity) {
        (Some(team), Some(severity)) => {
            format!("alerts of team {} with severity {severity}", literal(team))
        }
        (Some(team), None) => format!("alerts of team {}", literal(team)),
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
/// (reported): the route it meant may be the one that failed; and for a
/// rule whose `team` or `severity` is a template (`{{ $labels.owner }}`),
/// which only Prometheus renders, per alert.
///
/// A label the expression returns and the rule does not set (a series'
/// own `team`) can only send an alert to a more specific route than the
/// one found here, never to no receiver: the finding holds.
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
    let templated = |label: &str| labels.get(label).is_some_and(|value| value.contains("{{"));
    if cluster.prometheus.alertmanager.is_none()
        || checker.routing_incomplete
        || templated("team")
        || templated("severity")
        || alerting.receiver_of(labels).is_some()
    {
        return;
    }
    // Prometheus drops a label whose value is empty.
    let team = labels.get("team").filter(|team| !team.is_empty());
    let severity = labels.get("severity");
    let what = match (team, severity) {
        (Some(team), Some(severity)) => format!("team {}, severity {severity}", literal(team)),
        (Some(team), None) => format!("team {}, no severity", literal(team)),
        (None, Some(severity)) => format!("no team, severity {severity}"),
        (None, None) => "no team, no severity".to_string(),
    };
    let route = match team {
        Some(team) => format!("route team {} to RECEIVER", literal(team)),
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
