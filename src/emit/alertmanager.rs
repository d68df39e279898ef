//! Alertmanager: `CLUSTER/monitoring/alertmanager.yaml`, for every cluster
//! whose Prometheus sends to an Alertmanager — the program's receivers,
//! and its routes as a tree one level deep, in the order `model::Alerting`
//! keeps them. The same for every cluster: routes match labels, and a
//! rule's labels do not depend on its cluster.
//!
//! Written for Alertmanager 0.25 (Debian bookworm's, which CI checks every
//! file with `amtool check-config`): `matchers` rather than the deprecated
//! `match`, and each secret as a `*_file` field, which that version has.

use serde::Serialize;

use super::yaml;
use crate::model::{Alerting, Integration};

/// The file's name, beside `prometheus.yaml`.
pub(super) const FILE: &str = "alertmanager.yaml";

/// The labels notifications are grouped by: one notification per alert
/// and namespace (one env's), whatever else differs.
const GROUP_BY: [&str; 2] = ["alertname", "namespace"];

#[derive(Serialize)]
struct Config<'a> {
    route: Route<'a>,
    receivers: Vec<Receiver<'a>>,
}

#[derive(Serialize)]
struct Route<'a> {
    receiver: &'a str,
    group_by: [&'static str; 2],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<ChildRoute<'a>>,
}

#[derive(Serialize)]
struct ChildRoute<'a> {
    receiver: &'a str,
    matchers: Vec<String>,
}

#[derive(Serialize, Default)]
struct Receiver<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pagerduty_configs: Vec<PagerDuty<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    slack_configs: Vec<Slack<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_configs: Vec<Email<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhook_configs: Vec<Webhook<'a>>,
}

#[derive(Serialize)]
struct PagerDuty<'a> {
    routing_key_file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_resolved: Option<bool>,
}

#[derive(Serialize)]
struct Slack<'a> {
    api_url_file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_resolved: Option<bool>,
}

#[derive(Serialize)]
struct Email<'a> {
    to: &'a str,
    from: &'a str,
    smarthost: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_password_file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    require_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_resolved: Option<bool>,
}

#[derive(Serialize)]
struct Webhook<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_config: Option<HttpConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_resolved: Option<bool>,
}

#[derive(Serialize)]
struct HttpConfig<'a> {
    authorization: Authorization<'a>,
}

/// `Authorization: Bearer <the file's text>`, Bearer being the default
/// type.
#[derive(Serialize)]
struct Authorization<'a> {
    credentials_file: &'a str,
}

/// A matcher's value as Alertmanager 0.25's matcher parser reads it: in
/// double quotes, with `\\`, `"` and line breaks escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The configuration of the Alertmanager the clusters' Prometheus servers
/// send to.
pub(super) fn config(alerting: &Alerting) -> String {
    let mut receivers: Vec<Receiver> = Vec::with_capacity(alerting.receivers.len() + 1);
    let root = match &alerting.default {
        Some(default) => default.as_str(),
        None => {
            // Alertmanager needs a root receiver: one that sends nowhere.
            receivers.push(Receiver {
                name: Alerting::UNROUTED,
                ..Receiver::default()
            });
            Alerting::UNROUTED
        }
    };
    for receiver in alerting.receivers.values() {
        let mut out = Receiver {
            name: &receiver.name,
            ..Receiver::default()
        };
        for integration in &receiver.integrations {
            match integration {
                Integration::PagerDuty {
                    routing_key_file,
                    send_resolved,
                } => out.pagerduty_configs.push(PagerDuty {
                    routing_key_file,
                    send_resolved: *send_resolved,
                }),
                Integration::Slack {
                    channel,
                    api_url_file,
                    send_resolved,
                } => out.slack_configs.push(Slack {
                    api_url_file,
                    channel: channel.as_deref(),
                    send_resolved: *send_resolved,
                }),
                Integration::Email {
                    to,
                    from,
                    smarthost,
                    auth_username,
                    auth_password_file,
                    require_tls,
                    send_resolved,
                } => out.email_configs.push(Email {
                    to,
                    from,
                    smarthost,
                    auth_username: auth_username.as_deref(),
                    auth_password_file: auth_password_file.as_deref(),
                    require_tls: *require_tls,
                    send_resolved: *send_resolved,
                }),
                Integration::Webhook {
                    url,
                    credentials_file,
                    send_resolved,
                } => out.webhook_configs.push(Webhook {
                    url,
                    http_config: credentials_file
                        .as_deref()
                        .map(|credentials_file| HttpConfig {
                            authorization: Authorization { credentials_file },
                        }),
                    send_resolved: *send_resolved,
                }),
            }
        }
        receivers.push(out);
    }
    let routes = alerting
        .routes
        .iter()
        .map(|route| ChildRoute {
            receiver: &route.receiver,
            matchers: route
                .matchers()
                .map(|(label, value)| format!("{label}={}", quoted(value)))
                .collect(),
        })
        .collect();
    yaml(&Config {
        route: Route {
            receiver: root,
            group_by: GROUP_BY,
            routes,
        },
        receivers,
    })
}
