//! Network rules (E06xx).
//!
//! Invariant established here: traffic can only reach an env from the
//! environments its tier accepts (by default its own). The rules a user
//! writes are checked against acceptance (E0602); an env that writes no
//! ingress rule gets a policy of its own admitting exactly the accepted
//! environments (`model::Network::default_ingress`), and an env whose
//! egress is restricted gets DNS unless it opts out (`egress deny dns`).
//! A peer env must be on the sender's cluster (E0606): a NetworkPolicy
//! selects namespaces of its own cluster only. Warnings: selectors that
//! match no env (E0601), and a rule naming an env whose own rules do not
//! let the traffic through at the other end (E0607).

use foldhash::HashMap;

use super::units::Diags;
use super::{Checker, EnvDraft, EnvFacts, TierFacts};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{self, Environment, NetworkRule, Peer, Reach};
use crate::resolve::refs::Expanded;
use crate::resolve::value::Scope;
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, PeerKind};

/// Where a rule of an env's `Network` was written, for diagnostics: one
/// per rule, in the rules' order.
pub(crate) struct RuleFacts {
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

/// A rule's peer. An `env NAME` peer is checked against the other envs
/// once every env is (`check_program`); an interpolated one names its env
/// in `expanded` now. An `external NAME` must be declared on `env`'s
/// cluster (E0606); it comes with the environment it counts as there.
fn peer(
    checker: &Checker,
    peer: &ast::Peer,
    env: &model::Env,
    scope: &Scope,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) -> Option<(Peer, Option<Environment>)> {
    Some(match &peer.kind {
        PeerKind::External(name) => {
            let decl = super::name_referent(
                &checker.resolved.externals,
                &checker.resolved.refs,
                name,
                scope,
                Code::E0201,
                expanded,
                diagnostics,
            )?;
            let facts = checker.external_facts.get(decl.id)?;
            match facts.on(&env.cluster.name) {
                Some(external) => {
                    let peer = Peer::External {
                        name: external.name.clone(),
                        namespace: external.namespace.clone(),
                    };
                    (peer, Some(external.environment))
                }
                None => {
                    let declared_on = facts.cluster_names();
                    let clusters = declared_on
                        .iter()
                        .map(|cluster| format!("`{cluster}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0606,
                            peer.span,
                            format!(
                                "external `{}` is not declared on cluster `{}`, where `{}` is",
                                decl.name, env.cluster.name, env.name
                            ),
                        )
                        .label(format!(
                            "a NetworkPolicy on `{}` selects namespaces of its own cluster only",
                            env.cluster.name
                        ))
                        .secondary(
                            decl.node.clusters.span,
                            match clusters.is_empty() {
                                true => "declared on no cluster that checked".to_string(),
                                false => format!("declared on {clusters} only"),
                            },
                        )
                        .help(format!(
                            "if namespace `{}` runs on `{}` too, add the cluster to the external's list: `external {} on [{}]`",
                            facts.instances.first().map_or(decl.name.as_str(), |e| e.namespace.as_str()),
                            env.cluster.name,
                            decl.name,
                            declared_on
                                .iter()
                                .copied()
                                .chain([env.cluster.name.as_str()])
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                    return None;
                }
            }
        }
        PeerKind::Any => (Peer::Any, None),
        PeerKind::Environment(name) => {
            let written = super::written_name(name, scope, diagnostics)?;
            let value = crate::resolve::value::Value::Word(written.text, written.span);
            (
                Peer::Environment(super::environment(&value, diagnostics)?),
                None,
            )
        }
        PeerKind::Env(name) => {
            let written = super::written_name(name, scope, diagnostics)?;
            let envs = &checker.resolved.envs;
            if let ast::Name::Str(_) = name
                && let Some(decl) = envs
                    .get_on(&written.text, &env.cluster.name)
                    .or_else(|| envs.get(&written.text))
            {
                expanded.push((written.span, decl.id));
            }
            (Peer::Env(written.text), None)
        }
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

/// Types an env's rules, fills in its `Network` (the policies envk
/// generates included), and checks what can be checked without the other
/// envs.
pub(crate) fn env_rules<'a>(
    checker: &Checker<'_, 'a>,
    tier: &TierFacts,
    draft: &EnvDraft<'a>,
    env: &mut model::Env,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) -> (Vec<RuleFacts>, Vec<RuleFacts>) {
    let accepted = accepted(&tier.model, env.environment);
    // Sized exactly: a thousand envs keep these to the end of the run.
    let mut ingress = Vec::with_capacity(draft.ingress.len());
    let mut ingress_rules = Vec::with_capacity(draft.ingress.len());
    for (rule, span, piece) in &draft.ingress {
        let scope = checker.scope(&draft.scopes[*piece]);
        let Some((from, external_environment)) =
            peer(checker, &rule.from, env, &scope, expanded, diagnostics)
        else {
            continue;
        };
        match (&from, external_environment) {
            (Peer::Environment(source), _) if !accepted.contains(source) => {
                diagnostics.push(not_accepted(
                    *span,
                    rule.from.span,
                    source.as_str(),
                    From::Environment,
                    env,
                    tier,
                    &accepted,
                ));
            }
            (Peer::External { name, .. }, Some(source)) if !accepted.contains(&source) => {
                diagnostics.push(not_accepted(
                    *span,
                    rule.from.span,
                    source.as_str(),
                    From::External(name),
                    env,
                    tier,
                    &accepted,
                ));
            }
            _ => {}
        }
        ingress_rules.push(NetworkRule {
            peer: from,
            ports: ports(&rule.ports),
        });
        ingress.push(RuleFacts {
            span: *span,
            peer_span: rule.from.span,
        });
    }
    let mut egress = Vec::with_capacity(draft.egress.len());
    let mut egress_rules = Vec::with_capacity(draft.egress.len());
    let mut allow_dns_span = None;
    let mut deny_dns_span = None;
    for (rule, span, piece) in &draft.egress {
        match rule {
            ast::Egress::Dns => {
                allow_dns_span.get_or_insert(*span);
            }
            ast::Egress::DenyDns => {
                deny_dns_span.get_or_insert(*span);
            }
            ast::Egress::To {
                peer: to,
                ports: rule_ports,
            } => {
                let scope = checker.scope(&draft.scopes[*piece]);
                let Some((to_peer, _)) = peer(checker, to, env, &scope, expanded, diagnostics)
                else {
                    continue;
                };
                egress_rules.push(NetworkRule {
                    peer: to_peer,
                    ports: ports(rule_ports),
                });
                egress.push(RuleFacts {
                    span: *span,
                    peer_span: to.span,
                });
            }
        }
    }
    if let (Some(deny), Some(allow)) = (deny_dns_span, allow_dns_span) {
        diagnostics.push(
            Diagnostic::new(
                Code::E0603,
                deny,
                format!("env `{}` both allows and denies DNS", env.name),
            )
            .label("DNS denied here")
            .secondary(allow, "and allowed here")
            .help("keep one of them: `egress deny dns` opts out of the DNS egress envk generates for a restricted env, `egress allow dns` asks for it"),
        );
    }
    let isolated = tier.model.isolated;
    let restrict_egress = isolated || !egress.is_empty() || allow_dns_span.is_some();
    let metrics = env_metrics(checker, tier, draft, env, diagnostics);
    env.network = model::Network {
        ingress: ingress_rules,
        egress: egress_rules,
        restrict_ingress: isolated || !ingress.is_empty(),
        restrict_egress,
        default_ingress: (ingress.is_empty() && !isolated).then_some(accepted),
        allow_dns: restrict_egress && deny_dns_span.is_none(),
        metrics,
    };
    (ingress, egress)
}

/// Adds the ports of a `metrics` line to `tcp`, each once: TCP, which
/// Prometheus scrapes over (E0608 for any other).
pub(crate) fn add_metrics_ports(
    tcp: &mut Vec<model::Port>,
    ports: &[ast::Port],
    diagnostics: &mut Diags,
) {
    for (port, written) in self::ports(ports).into_iter().zip(ports) {
        if port.protocol != model::Protocol::Tcp {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0608,
                    written.span,
                    format!(
                        "metrics on {} {}",
                        port.protocol.as_str().to_lowercase(),
                        port.number
                    ),
                )
                .label("Prometheus scrapes over TCP only")
                .help(format!("write `tcp {}`", port.number)),
            );
            continue;
        }
        if !tcp.contains(&port) {
            tcp.push(port);
        }
    }
}

/// The env's metrics ports (its tier's, then its own), and the namespace
/// of its cluster's Prometheus, which may reach them; E0609 when the
/// cluster names no such namespace.
fn env_metrics(
    checker: &Checker,
    tier: &TierFacts,
    draft: &EnvDraft,
    env: &model::Env,
    diagnostics: &mut Diags,
) -> Option<Box<model::Metrics>> {
    let mut ports = tier.model.metrics.clone();
    for (metrics, _) in &draft.metrics {
        add_metrics_ports(&mut ports, &metrics.ports, diagnostics);
    }
    if ports.is_empty() {
        return None;
    }
    let Some(prometheus) = &env.cluster.prometheus.namespace else {
        // The mistake is the cluster's: reported there, once for all its
        // envs, with where each declares its ports.
        let declared = draft
            .metrics
            .first()
            .map(|(_, span)| *span)
            .or(tier.metrics_span)
            .unwrap_or(tier.name_span);
        let cluster_span = checker
            .resolved
            .clusters
            .get(&env.cluster.name)
            .map_or(declared, |cluster| cluster.name_span);
        let mut diagnostic = Diagnostic::new(
            Code::E0609,
            cluster_span,
            format!(
                "cluster `{}` does not say where its Prometheus runs",
                env.cluster.name
            ),
        )
        .label("no Prometheus namespace here")
        .secondary(declared, "metrics ports no Prometheus may reach")
        .help(format!(
            "name the namespace of the cluster's Prometheus: `cluster {} {{ prometheus {{ namespace = \"monitoring\" }} }}`; until then envk writes neither the policy that lets it in nor its scrape job",
            env.cluster.name
        ));
        diagnostic.severity = Severity::Warning;
        diagnostics.push(diagnostic);
        return None;
    };
    Some(Box::new(model::Metrics {
        prometheus: prometheus.clone(),
        ports,
    }))
}

/// What an ingress rule admits: an environment, or one namespace of it.
#[derive(Clone, Copy)]
enum From<'n> {
    Environment,
    Env(&'n str),
    External(&'n str),
}

#[allow(clippy::too_many_arguments)]
fn not_accepted(
    span: Span,
    peer_span: Span,
    source: &str,
    via: From,
    env: &model::Env,
    tier: &TierFacts,
    accepted: &[Environment],
) -> Diagnostic {
    let (accepts_span, accepts_text) = accepts(tier, accepted);
    let from = match via {
        From::Env(name) => format!("env `{name}` ({source})"),
        From::External(name) => format!("external `{name}` ({source})"),
        From::Environment => format!("environment `{source}`"),
    };
    Diagnostic::new(
        Code::E0602,
        peer_span,
        format!("ingress into `{}` ({}) from {from}", env.name, env.environment.as_str()),
    )
    .label(format!("{source} may not send traffic here"))
    .secondary(accepts_span, accepts_text)
    .secondary(span, "the rule")
    .help(format!(
        "remove this rule, or, if {source} really must reach this env, add it to the tier: `accept from [{}, {source}]`{}",
        accepted.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "),
        match via {
            From::External(name) => format!(
                "; if namespace `{name}` is not {source}, give its declaration its environment: `external {name} on … {{ environment = {} }}`",
                env.environment.as_str()
            ),
            From::Env(_) | From::Environment => String::new(),
        }
    ))
}

/// Which way a rule lets traffic go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// The checks that need every env: `env NAME` peers (which must exist, be
/// on the sender's cluster and let the traffic through at their end) and
/// selectors that match nothing.
pub(crate) fn check_program(checker: &Checker, diagnostics: &mut Diags) {
    // Peers resolve on the sender's cluster; an env of that name on
    // another cluster only is E0606.
    let by_place: HashMap<(&str, &str), &EnvFacts> = checker
        .envs
        .iter()
        .map(|env| {
            (
                (env.model.cluster.name.as_str(), env.model.name.as_str()),
                env,
            )
        })
        .collect();
    // A peer not on the sender's cluster is rare (an error): looked for
    // among every env then.
    let anywhere = |name: &str| checker.envs.iter().find(|env| env.model.name == name);
    // The environments that have envs, each once: every rule naming an
    // environment is looked up in it, so it must not grow with the envs.
    let mut environments: Vec<Environment> = Vec::with_capacity(Environment::ALL.len());
    for env in &checker.envs {
        if !environments.contains(&env.model.environment) {
            environments.push(env.model.environment);
        }
    }
    for env in &checker.envs {
        let tier = &checker.tier_facts[env.tier];
        let accepted = accepted(&tier.model, env.model.environment);
        let network = &env.model.network;
        for (rules, facts_of, direction) in [
            (&network.ingress, &env.ingress, Direction::Ingress),
            (&network.egress, &env.egress, Direction::Egress),
        ] {
            for (rule, facts) in rules.iter().zip(facts_of) {
                match &rule.peer {
                    // Checked where the rule was typed: externals are
                    // declared before any env.
                    Peer::Any | Peer::External { .. } => {}
                    Peer::Environment(wanted) => {
                        if !environments.contains(wanted) {
                            diagnostics.push(no_match(
                                facts.peer_span,
                                format!("no env lives in environment `{}`", wanted.as_str()),
                                "this rule has no effect until an env is placed on a cluster of that environment".to_string(),
                            ));
                        }
                    }
                    Peer::Env(name) => match by_place
                        .get(&(env.model.cluster.name.as_str(), name.as_str()))
                        .copied()
                        .or_else(|| anywhere(name))
                    {
                        // Declared but dropped for its own errors: already
                        // reported.
                        None if checker.resolved.envs.get(name).is_some()
                            || checker.resolved.envs.is_rejected(name) => {}
                        None => diagnostics.push(no_match(
                            facts.peer_span,
                            format!("no env is named `{name}`"),
                            unknown_env_help(name, env, &checker.envs),
                        )),
                        Some(other) if other.cluster != env.cluster => {
                            diagnostics.push(other_cluster(
                                facts,
                                env,
                                other,
                                &checker.envs,
                                direction,
                            ));
                        }
                        Some(other)
                            if direction == Direction::Ingress
                                && !accepted.contains(&other.model.environment) =>
                        {
                            diagnostics.push(not_accepted(
                                facts.span,
                                facts.peer_span,
                                other.model.environment.as_str(),
                                From::Env(name),
                                &env.model,
                                tier,
                                &accepted,
                            ));
                        }
                        Some(other) => {
                            if let Some(diagnostic) =
                                other_end(checker, rule, facts, env, other, direction)
                            {
                                diagnostics.push(diagnostic);
                            }
                        }
                    },
                }
            }
        }
    }
}

/// The help for an `env NAME` that names no env: the stages of a family
/// of that name (the one on the sender's cluster first), else the closest
/// name.
fn unknown_env_help(name: &str, env: &EnvFacts, envs: &[EnvFacts]) -> String {
    let stages: Vec<&model::Env> = stages_of(envs, name).collect();
    if !stages.is_empty() {
        // A stage on several clusters is one name.
        let mut names: Vec<&str> = stages.iter().map(|stage| stage.name.as_str()).collect();
        names.dedup();
        let listed = names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return match stages
            .iter()
            .find(|stage| stage.cluster.name == env.model.cluster.name)
        {
            Some(here) => format!(
                "`{name}` is an env family, not an env: name one of its stages, such as `env {}` on this cluster (its envs: {listed})",
                here.name
            ),
            None => format!(
                "`{name}` is an env family, not an env, and none of its stages ({listed}) is on cluster `{}`",
                env.model.cluster.name
            ),
        };
    }
    match suggest::closest(name, envs.iter().map(|env| env.model.name.as_str())) {
        Some(close) => format!("did you mean `{close}`?"),
        None => "name a declared env (a family's stage is `FAMILY-STAGE`)".to_string(),
    }
}

/// The envs a family stamped out, in declaration order.
fn stages_of<'e>(envs: &'e [EnvFacts], family: &'e str) -> impl Iterator<Item = &'e model::Env> {
    envs.iter()
        .map(|candidate| &*candidate.model)
        .filter(move |candidate| candidate.family.as_deref() == Some(family))
}

/// E0606: a NetworkPolicy only selects namespaces of its own cluster, so a
/// peer env on another cluster matches nothing today, and whatever
/// namespace of that name is created on this cluster later.
fn other_cluster(
    facts: &RuleFacts,
    env: &EnvFacts,
    other: &EnvFacts,
    envs: &[EnvFacts],
    direction: Direction,
) -> Diagnostic {
    let (this, that) = (&env.model, &other.model);
    // A stage of the same family on this cluster is what was meant, most
    // likely (`payments-us` written in an env on prod-eu).
    let sibling = that.family.as_deref().and_then(|family| {
        stages_of(envs, family)
            .find(|stage| stage.cluster.name == this.cluster.name)
            .map(|stage| stage.name.as_str())
    });
    let verb = match direction {
        Direction::Ingress => "receive traffic from",
        Direction::Egress => "send traffic to",
    };
    // An env on several clusters is on each of them.
    let clusters: Vec<String> = envs
        .iter()
        .filter(|env| env.model.name == that.name)
        .map(|env| format!("`{}`", env.model.cluster.name))
        .collect();
    let on = match clusters.as_slice() {
        [one] => format!("cluster {one}"),
        several => format!("clusters {}", several.join(", ")),
    };
    Diagnostic::new(
        Code::E0606,
        facts.peer_span,
        format!(
            "env `{}` is on {on}, not on `{}` where `{}` is",
            that.name, this.cluster.name, this.name
        ),
    )
    .label(format!(
        "a NetworkPolicy on `{}` cannot {verb} another cluster",
        this.cluster.name
    ))
    .secondary(other.placement_span, format!("`{}` is placed here", that.name))
    .help(match sibling {
        Some(sibling) => format!(
            "did you mean `{sibling}`, the stage of `{}` on `{}`? Traffic between clusters goes through an address outside the cluster (a load balancer or an ingress), which `egress allow to any on …` reaches",
            that.family.as_deref().unwrap_or_default(),
            this.cluster.name
        ),
        None => format!(
            "name an env on `{}`; traffic between clusters goes through an address outside the cluster (a load balancer or an ingress), which `egress allow to any on …` reaches",
            this.cluster.name
        ),
    })
}

/// E0607: a rule naming env `other` whose own rules do not let the
/// traffic through at their end, on some of the rule's ports (or, for a
/// rule on every port, on any).
fn other_end(
    checker: &Checker,
    rule: &NetworkRule,
    facts: &RuleFacts,
    env: &EnvFacts,
    other: &EnvFacts,
    direction: Direction,
) -> Option<Diagnostic> {
    let (this, that) = (&env.model, &other.model);
    // An end whose traffic is not restricted lets everything through:
    // `Reach::All`, which ends the check below.
    let (let_through, other_rules, other_facts) = match direction {
        Direction::Egress => (
            that.network.admits_from(this),
            &that.network.ingress,
            &other.ingress,
        ),
        Direction::Ingress => (
            that.network.allows_to(this),
            &that.network.egress,
            &other.egress,
        ),
    };
    let missing = match (Reach::of_ports(&rule.ports), &let_through) {
        (_, Reach::All) => return None,
        (Reach::All, Reach::Ports(_)) => return None,
        (wanted, Reach::None) => wanted,
        (Reach::Ports(wanted), Reach::Ports(open)) => {
            let missing: std::collections::BTreeSet<_> = wanted.difference(open).copied().collect();
            if missing.is_empty() {
                return None;
            }
            Reach::Ports(missing)
        }
        (Reach::None, _) => return None,
    };
    let missing_ports = match &missing {
        Reach::Ports(ports) => Some(
            ports
                .iter()
                .map(|(protocol, number)| format!("{} {number}", protocol.to_lowercase()))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Reach::All | Reach::None => None,
    };
    let on = match &missing_ports {
        Some(ports) => format!(" on {ports}"),
        None => String::new(),
    };
    let (message, fix) = match direction {
        Direction::Egress => (
            format!(
                "env `{}` admits no ingress from `{}`{on}",
                that.name, this.name
            ),
            format!(
                "add `ingress allow from env {}{on}` to `{}`",
                this.name, that.name
            ),
        ),
        Direction::Ingress => (
            format!("env `{}` sends no egress to `{}`{on}", that.name, this.name),
            format!(
                "add `egress allow to env {}{on}` to `{}`",
                this.name, that.name
            ),
        ),
    };
    let mut diagnostic = Diagnostic::new(Code::E0607, facts.span, message)
        .label("this rule lets traffic through at this end only")
        .help(format!(
            "{fix}, or remove what it does not admit from this rule; until then the traffic is denied"
        ));
    diagnostic.severity = Severity::Warning;
    let matching: Vec<&RuleFacts> = other_rules
        .iter()
        .zip(other_facts)
        .filter(|(rule, _)| rule.peer.selects(this))
        .map(|(_, facts)| facts)
        .collect();
    if matching.is_empty() {
        let tier = &checker.tier_facts[other.tier];
        let why = match (direction, other_rules.is_empty()) {
            (Direction::Egress, true) if tier.model.isolated => {
                format!(
                    "`{}` writes no ingress rule, and its tier is isolated",
                    that.name
                )
            }
            (Direction::Egress, true) => format!(
                "`{}` writes no ingress rule: it admits only {}",
                that.name,
                names(that.network.default_ingress.as_deref().unwrap_or_default())
            ),
            (Direction::Ingress, true) => format!(
                "`{}` writes no egress rule, and its tier is isolated",
                that.name
            ),
            (Direction::Egress, false) => {
                format!("no ingress rule of `{}` selects `{}`", that.name, this.name)
            }
            (Direction::Ingress, false) => {
                format!("no egress rule of `{}` selects `{}`", that.name, this.name)
            }
        };
        diagnostic = diagnostic.secondary(other.name_span, why);
    }
    for rule in matching {
        diagnostic = diagnostic.secondary(
            rule.span,
            format!(
                "`{}`'s rule, which does not cover {}",
                that.name,
                missing_ports.as_deref().unwrap_or("every port")
            ),
        );
    }
    Some(diagnostic)
}

fn no_match(span: Span, message: String, help: String) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(Code::E0601, span, message)
        .label("this selector matches no declared env")
        .help(help);
    diagnostic.severity = Severity::Warning;
    diagnostic
}
