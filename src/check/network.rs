//! Network rules (E06xx).
//!
//! Invariant established here: traffic can only reach an env from the
//! environments its tier accepts (by default its own). An env whose
//! ingress is not restricted at all accepts every namespace, so that is an
//! error unless its tier accepts every environment; an ingress rule from an
//! environment the tier does not accept is an error. Warnings: selectors
//! that match no env, egress that blocks DNS, a restricted-tier env with no
//! network policy.

use super::units::Diags;
use super::{Checker, EnvDraft, EnvFacts, TierFacts};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{self, Environment, NetworkRule, Peer, PodSecurity};
use crate::resolve::EnvDecl;
use crate::resolve::value::{Scope, interpolate};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, PeerKind};

/// A rule with the places diagnostics point at.
pub(crate) struct RuleFacts {
    pub rule: NetworkRule,
    pub span: Span,
    pub peer_span: Span,
}

/// The environments a tier lets send traffic in.
pub(crate) fn accepted(tier: &model::Tier, own: Environment) -> Vec<Environment> {
    if tier.accept_from.is_empty() {
        vec![own]
    } else {
        tier.accept_from.clone()
    }
}

fn names(environments: &[Environment]) -> String {
    environments
        .iter()
        .map(|e| format!("`{}`", e.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "tier `critical` accepts only `production`", saying when that is the
/// default (the env's own environment) rather than an `accept from`.
fn accepts(tier: &TierFacts, accepted: &[Environment]) -> (Span, String) {
    match tier.accept_span {
        Some(span) => (
            span,
            format!(
                "tier `{}` accepts only {}",
                tier.model.name,
                names(accepted)
            ),
        ),
        None => (
            tier.name_span,
            format!(
                "tier `{}` has no `accept from`, so its envs accept only their own environment ({})",
                tier.model.name,
                names(accepted)
            ),
        ),
    }
}

fn peer(peer: &ast::Peer, scope: &Scope, diagnostics: &mut Diags) -> Option<Peer> {
    Some(match &peer.kind {
        PeerKind::Any => Peer::Any,
        PeerKind::Environment(ident) => {
            let value = crate::resolve::value::Value::Word(ident.text.clone(), ident.span);
            Peer::Environment(super::environment(&value, diagnostics)?)
        }
        PeerKind::Env(name) => Peer::Env(match name {
            ast::Name::Ident(ident) => ident.text.clone(),
            ast::Name::Str(string) => interpolate(string, scope, diagnostics)?,
        }),
    })
}

fn ports(ports: &[ast::Port]) -> Vec<model::Port> {
    ports
        .iter()
        .map(|port| model::Port {
            protocol: match port.protocol {
                ast::Protocol::Tcp => model::Protocol::Tcp,
                ast::Protocol::Udp => model::Protocol::Udp,
                ast::Protocol::Sctp => model::Protocol::Sctp,
            },
            number: port.number,
        })
        .collect()
}

/// Types an env's rules, fills in its `Network`, and checks what can be
/// checked without the other envs.
pub(crate) fn env_rules(
    decl: &EnvDecl,
    tier: &TierFacts,
    draft: &EnvDraft,
    scope: &Scope,
    env: &mut model::Env,
    diagnostics: &mut Diags,
) -> (Vec<RuleFacts>, Vec<RuleFacts>) {
    let accepted = accepted(&tier.model, env.environment);
    // Sized exactly: a thousand envs keep these to the end of the run.
    let mut ingress = Vec::with_capacity(draft.ingress.len());
    for (rule, span) in &draft.ingress {
        let Some(from) = peer(&rule.from, scope, diagnostics) else {
            continue;
        };
        if let Peer::Environment(source) = &from
            && !accepted.contains(source)
        {
            diagnostics.push(not_accepted(
                *span,
                rule.from.span,
                source.as_str(),
                None,
                env,
                tier,
                &accepted,
            ));
        }
        ingress.push(RuleFacts {
            rule: NetworkRule {
                peer: from,
                ports: ports(&rule.ports),
            },
            span: *span,
            peer_span: rule.from.span,
        });
    }
    let mut egress = Vec::with_capacity(draft.egress.len());
    let mut allow_dns = false;
    let mut first_egress_span = None;
    for (rule, span) in &draft.egress {
        first_egress_span.get_or_insert(*span);
        match rule {
            ast::Egress::Dns => allow_dns = true,
            ast::Egress::To {
                peer: to,
                ports: rule_ports,
            } => {
                let Some(to_peer) = peer(to, scope, diagnostics) else {
                    continue;
                };
                egress.push(RuleFacts {
                    rule: NetworkRule {
                        peer: to_peer,
                        ports: ports(rule_ports),
                    },
                    span: *span,
                    peer_span: to.span,
                });
            }
        }
    }
    let isolated = tier.model.isolated;
    env.network = model::Network {
        ingress: ingress.iter().map(|r| r.rule.clone()).collect(),
        egress: egress.iter().map(|r| r.rule.clone()).collect(),
        allow_dns,
        restrict_ingress: isolated || !ingress.is_empty(),
        restrict_egress: isolated || !egress.is_empty() || allow_dns,
    };
    let dns_open = egress.iter().any(|r| {
        r.rule.peer == Peer::Any
            && (r.rule.ports.is_empty()
                || r.rule
                    .ports
                    .iter()
                    .any(|p| p.number == 53 && p.protocol == model::Protocol::Udp))
    });
    if env.network.restrict_egress && !allow_dns && !dns_open {
        let at = first_egress_span.unwrap_or(decl.name_span);
        let mut diagnostic = Diagnostic::new(
            Code::E0603,
            at,
            format!("egress from env `{}` blocks DNS", decl.name),
        )
        .label(if first_egress_span.is_some() {
            "egress is restricted to these rules, and none allows DNS"
        } else {
            "the tier is isolated, so all egress is denied, DNS included"
        })
        .help("add `egress allow dns`: pods cannot resolve any name without it");
        if first_egress_span.is_none() {
            diagnostic = diagnostic.secondary(tier.name_span, "isolated tier");
        }
        diagnostics.push(diagnostic);
    }
    if !env.network.restrict_ingress {
        let all = Environment::ALL.iter().all(|e| accepted.contains(e));
        if !all {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0605,
                    decl.name_span,
                    format!("env `{}` accepts traffic from every namespace", decl.name),
                )
                .label("no ingress rule restricts who can connect")
                .secondary(accepts(tier, &accepted).0, accepts(tier, &accepted).1)
                .help(format!(
                    "add `ingress allow from environment {}` (with the ports it serves), or make tier `{}` deny by default with `network = isolated`",
                    env.environment.as_str(),
                    tier.model.name
                )),
            );
        }
    }
    if tier.model.pod_security == PodSecurity::Restricted
        && !env.network.restrict_ingress
        && !env.network.restrict_egress
    {
        diagnostics.push(
            Diagnostic::new(
                Code::E0604,
                decl.name_span,
                format!("env `{}` has no network policy", decl.name),
            )
            .label("all traffic in and out is allowed")
            .secondary(tier.name_span, "a tier with `pod_security = restricted`")
            .help("add ingress and egress rules, or `network = isolated` on the tier"),
        );
    }
    (ingress, egress)
}

#[allow(clippy::too_many_arguments)]
fn not_accepted(
    span: Span,
    peer_span: Span,
    source: &str,
    via_env: Option<&str>,
    env: &model::Env,
    tier: &TierFacts,
    accepted: &[Environment],
) -> Diagnostic {
    let from = match via_env {
        Some(name) => format!("env `{name}` ({source})"),
        None => format!("environment `{source}`"),
    };
    Diagnostic::new(
        Code::E0602,
        peer_span,
        format!("ingress into `{}` ({}) from {from}", env.name, env.environment.as_str()),
    )
    .label(format!("{source} may not send traffic here"))
    .secondary(accepts(tier, accepted).0, accepts(tier, accepted).1)
    .secondary(span, "the rule")
    .help(format!(
        "remove this rule, or, if {source} really must reach this env, add it to the tier: `accept from [{}, {source}]`",
        accepted.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
    ))
}

/// The checks that need every env: `env NAME` peers and selectors that
/// match nothing.
pub(crate) fn check_program(checker: &Checker, diagnostics: &mut Diags) {
    let by_name: std::collections::HashMap<&str, &EnvFacts> = checker
        .envs
        .iter()
        .map(|env| (env.model.name.as_str(), env))
        .collect();
    // The environments that have envs, each once: every rule naming an
    // environment is looked up in it, so it must not grow with the envs.
    let mut environments: Vec<Environment> = Vec::with_capacity(Environment::ALL.len());
    for env in &checker.envs {
        if !environments.contains(&env.model.environment) {
            environments.push(env.model.environment);
        }
    }
    for env in &checker.envs {
        let tier = &checker.tier_facts[&env.model.tier];
        let accepted = accepted(&tier.model, env.model.environment);
        for (rules, direction) in [(&env.ingress, "ingress"), (&env.egress, "egress")] {
            for facts in rules {
                match &facts.rule.peer {
                    Peer::Any => {}
                    Peer::Environment(wanted) => {
                        if !environments.contains(wanted) {
                            diagnostics.push(no_match(
                                facts.peer_span,
                                format!("no env lives in environment `{}`", wanted.as_str()),
                                "this rule has no effect until an env is placed on a cluster of that environment".to_string(),
                            ));
                        }
                    }
                    // Declared but dropped for its own errors: already reported.
                    Peer::Env(name)
                        if !by_name.contains_key(name.as_str())
                            && checker.resolved.envs.get(name).is_some() => {}
                    Peer::Env(name) => match by_name.get(name.as_str()) {
                        None => {
                            let help = match suggest::closest(name, by_name.keys().copied()) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => "name a declared env (a family's stage is `FAMILY-STAGE`)"
                                    .to_string(),
                            };
                            diagnostics.push(no_match(
                                facts.peer_span,
                                format!("no env is named `{name}`"),
                                help,
                            ));
                        }
                        Some(other)
                            if direction == "ingress"
                                && !accepted.contains(&other.model.environment) =>
                        {
                            diagnostics.push(not_accepted(
                                facts.span,
                                facts.peer_span,
                                other.model.environment.as_str(),
                                Some(name),
                                &env.model,
                                tier,
                                &accepted,
                            ));
                        }
                        Some(_) => {}
                    },
                }
            }
        }
    }
}

fn no_match(span: Span, message: String, help: String) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(Code::E0601, span, message)
        .label("this selector matches no declared env")
        .help(help);
    diagnostic.severity = Severity::Warning;
    diagnostic
}
