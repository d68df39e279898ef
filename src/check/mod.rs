//! The check stage: resolved declarations to the `Model`, proving on the
//! way everything DESIGN §3 promises.
//!
//! Entry point: [`check`]. One file per concern: `units` (typed values),
//! `fields` (block schemas), `quota`, `access` (with `catalog`), `network`,
//! `alerts`, `placement`. This module types clusters and tiers, assembles
//! each env from its layers, and runs the per-env and whole-program checks.
//! Every problem is reported, none stops the stage; the Model it returns is
//! only used when there were no errors.

mod access;
mod alerts;
pub mod catalog;
mod cluster_roles;
mod deploy_options;
mod expand;
mod externals;
mod fields;
mod metrics;
mod monitoring;
mod network;
mod placement;
pub mod policy;
mod quota;
mod resources;
mod routing;
pub mod schema;
mod scope;
pub(crate) mod units;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::diag::{Code, Diagnostic};
use crate::model::{self, Environment, Model, PodSecurity, ResourceList, Source};
use crate::resolve::bind::ENV_CONTEXT;
use crate::resolve::refs::{DeclId, DeclKind, Expanded, IdMap};
use crate::resolve::value::{self, Scope, Value, Vars};
use crate::resolve::{Decl, EnvDecl, Resolved};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{self, Block, ExprKind, Forbid, StmtKind};
use fields::{Fields, Keys, field_value};
use schema::Typed;
use units::Diags;

/// What a run of the checker is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Goal {
    /// Every diagnostic, and the Model: for `build`.
    Model,
    /// Every diagnostic alone: for `envk check`. What only the Model
    /// needs is not computed (the line each object was written on) and
    /// the Model is not put together.
    Diagnostics,
}

/// What a run of the checker gives.
pub struct Checked<'r, 'a> {
    /// For [`Goal::Model`].
    pub model: Option<Model>,
    pub facts: Facts<'r, 'a>,
    /// What each expansion of an interpolated reference named, for
    /// [`crate::resolve::refs::References::expand`].
    pub expanded: Expanded,
    /// How each policy fared, for either goal (empty where the policies
    /// were not evaluated): the language server's hover reads it even when
    /// a violation leaves no Model.
    pub policies: Vec<model::PolicyOutcome>,
}

/// Checks a resolved program and, for [`Goal::Model`], builds its Model.
pub fn check<'r, 'a>(
    resolved: &'r Resolved<'a>,
    sources: &'r SourceMap,
    goal: Goal,
    diagnostics: &mut Diags,
) -> Checked<'r, 'a> {
    let mut checker = Checker::new(resolved, sources, true);
    checker.goal = goal;
    checker.run(diagnostics);
    let policies = checker.model.policies.clone();
    let mut expanded = std::mem::take(&mut checker.expanded);
    for env in &mut checker.envs {
        expanded.append(&mut env.expanded);
    }
    let (model, facts) = match goal {
        Goal::Model => {
            let (model, facts) = checker.into_model();
            (Some(model), facts)
        }
        Goal::Diagnostics => (
            None,
            Facts {
                _checker: checker,
                _envs: Vec::new(),
            },
        ),
    };
    Checked {
        model,
        facts,
        expanded,
        policies,
    }
}

/// What the checker kept to prove things about the whole program (facts
/// per declaration and per env, caches of typed records): of no use once
/// the Model is made, and many small allocations, so the caller decides
/// whether to drop them or leave them to the process exit.
pub struct Facts<'r, 'a> {
    _checker: Checker<'r, 'a>,
    _envs: Vec<EnvRest>,
}

/// An env's facts but its Model.
type EnvRest = (
    Option<quota::TypedQuota>,
    Vec<network::RuleFacts>,
    Vec<network::RuleFacts>,
);

impl<'r, 'a> Checker<'r, 'a> {
    /// A checker that fills templates in as compiled text where it can
    /// (`compile_templates`), or evaluates every use: the two must agree.
    fn new(
        resolved: &'r Resolved<'a>,
        sources: &'r SourceMap,
        compile_templates: bool,
    ) -> Checker<'r, 'a> {
        Checker {
            resolved,
            sources,
            model: Model::default(),
            cluster_facts: IdMap::default(),
            external_facts: IdMap::default(),
            resources: resources::Resources::default(),
            cluster_role_facts: IdMap::default(),
            tier_facts: IdMap::default(),
            role_facts: IdMap::default(),
            role_bodies: Default::default(),
            templates: IdMap::default(),
            promql: alerts::PromqlCache::default(),
            records: RecordCaches::default(),
            envs: Vec::new(),
            expanded: Expanded::new(),
            compile_templates,
            goal: Goal::Model,
            gitops_span: None,
            routing_incomplete: false,
            route_spans: Vec::new(),
            default_route_span: None,
            cluster_binding_spans: Vec::new(),
        }
    }

    fn run(&mut self, diagnostics: &mut Diags) {
        // Before any use, so that a `let`'s `*` is its own finding (E0307).
        units::let_products(&self.resolved.lets, diagnostics);
        placement::gitops(self, diagnostics);
        monitoring::federation(self, diagnostics);
        self.clusters(diagnostics);
        // Before the envs, whose alerts are routed.
        routing::alerting(self, diagnostics);
        self.externals(diagnostics);
        self.resources(diagnostics);
        self.templates(diagnostics);
        self.tiers(diagnostics);
        self.roles(diagnostics);
        self.cluster_roles(diagnostics);
        self.envs(diagnostics);
        // A branch of an env's `if` that no env took, in env order.
        let mut branches = crate::resolve::cond::Branches::default();
        for env in &self.envs {
            env.decisions
                .iter()
                .for_each(|&decision| branches.add(decision));
        }
        branches.never_taken(diagnostics);
        // After the envs, whose alerts carry the teams routes match.
        routing::unused_routes(self, diagnostics);
        // After every use, so that only the `let`s nothing looked up are left.
        self.unused_lets(diagnostics);
        quota::check_capacity(self, diagnostics);
        self.cluster_grants(diagnostics);
        self.unmanaged_namespaces(diagnostics);
        network::check_program(self, diagnostics);
        placement::name_deploys(
            &mut self.envs,
            self.resolved.envs.on_several_clusters(),
            // Policies read apps' names (`a.name`) whatever the goal.
            self.goal == Goal::Model || !self.resolved.policies.is_empty(),
            diagnostics,
        );
        placement::check_projects(self, diagnostics);
        // Last: a policy reads the whole checked program.
        policy::check(self, diagnostics);
    }

    fn into_model(mut self) -> (Model, Facts<'r, 'a>) {
        let mut model = std::mem::take(&mut self.model);
        let (envs, rest) = assemble(std::mem::take(&mut self.envs));
        model.envs = envs;
        let facts = Facts {
            _checker: self,
            _envs: rest,
        };
        (model, facts)
    }
}

pub(crate) struct Checker<'r, 'a> {
    resolved: &'r Resolved<'a>,
    sources: &'r SourceMap,
    model: Model,
    cluster_facts: IdMap<ClusterFacts>,
    external_facts: IdMap<externals::ExternalFacts>,
    /// The custom resources the program declares.
    resources: resources::Resources,
    /// Each cluster role, shared by the clusters it is granted on, and its
    /// facts.
    cluster_role_facts: IdMap<(Arc<model::Role>, Arc<access::RoleFacts>)>,
    tier_facts: IdMap<TierFacts>,
    /// Each role in the Model (shared by the envs that grant it) and its
    /// facts.
    role_facts: IdMap<(Arc<model::Role>, Arc<access::RoleFacts>)>,
    /// Typed role bodies that read no variable.
    role_bodies: RecordCache<'a, access::TypedRole>,
    templates: IdMap<alerts::Template<'a>>,
    promql: alerts::PromqlCache,
    records: RecordCaches<'a>,
    envs: Vec<EnvFacts>,
    /// Interpolated references found outside envs (a tier's `require`).
    expanded: Expanded,
    compile_templates: bool,
    goal: Goal,
    /// The `gitops` keyword, when the program has the block.
    gitops_span: Option<Span>,
    /// A receiver or route had an error (reported): an alert that reaches
    /// no receiver may have been meant for it, so E0713 stays silent.
    routing_incomplete: bool,
    /// Where each route of `model.alerting.routes` was written, in its
    /// order.
    route_spans: Vec<Span>,
    /// Where `route to NAME` is written.
    default_route_span: Option<Span>,
    /// Where each of `model.cluster_bindings` was granted, in its order.
    cluster_binding_spans: Vec<Span>,
}

/// Typed records of `let`s, shared by the envs that use them.
#[derive(Default)]
pub(crate) struct RecordCaches<'a> {
    quotas: RecordCache<'a, quota::TypedQuota>,
    limits: RecordCache<'a, quota::LimitItems>,
}

/// What a block of the program types to, for blocks that checked clean,
/// by which block it is (`ByAddress`), not by its text (and what it was
/// read as).
///
/// A record's meaning depends only on its block and the variables it
/// closed over. One without variables (a top-level `let`, such as
/// `let base = quota { … }` used by a thousand envs) means the same
/// wherever it is used, so it is typed once; so is a role body that reads
/// no variable (`access::role`). A block that reported anything is typed
/// again at every use: its diagnostics name the env.
pub(crate) struct RecordCache<'a, T> {
    typed: std::sync::RwLock<HashMap<(crate::by_address::ByAddress<'a, Block>, &'static str), T>>,
}

impl<T> Default for RecordCache<'_, T> {
    fn default() -> Self {
        RecordCache {
            typed: Default::default(),
        }
    }
}

impl<'a, T: Clone> RecordCache<'a, T> {
    /// `type_record`'s result for `record` read as `what`.
    pub(crate) fn typed(
        &self,
        record: &value::Record<'a>,
        what: &'static str,
        diagnostics: &mut Diags,
        type_record: impl FnOnce(&mut Diags) -> Option<T>,
    ) -> Option<T> {
        if !record.vars.is_empty() {
            return type_record(diagnostics);
        }
        self.typed_once(record.body, what, diagnostics, type_record)
    }

    /// `type_block`'s result for `block` read as `what`, typed at its first
    /// use only, when it checked clean. The caller knows the block's
    /// meaning does not depend on where it is used.
    pub(crate) fn typed_once(
        &self,
        block: &'a Block,
        what: &'static str,
        diagnostics: &mut Diags,
        type_block: impl FnOnce(&mut Diags) -> Option<T>,
    ) -> Option<T> {
        let key = (crate::by_address::ByAddress::new(block), what);
        let cached = self
            .typed
            .read()
            .expect("no thread panics holding it")
            .get(&key)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        let before = diagnostics.len();
        let typed = type_block(diagnostics);
        if diagnostics.len() == before
            && let Some(typed) = &typed
        {
            self.typed
                .write()
                .expect("no thread panics holding it")
                .insert(key, typed.clone());
        }
        typed
    }
}

/// Runs `check` on declaration `kind` `name`, saying in everything it
/// finds that it was found there.
fn checking<R>(
    kind: DeclKind,
    name: &str,
    diagnostics: &mut Diags,
    check: impl FnOnce(&mut Diags) -> R,
) -> R {
    checking_element(kind, name, None, diagnostics, check)
}

/// `checking`, for a declaration a `for` loop made: the loop's `vars`
/// name the element it was made from, which a finding reached in that one
/// expansion says.
fn checking_element<R>(
    kind: DeclKind,
    name: &str,
    vars: Option<&Vars>,
    diagnostics: &mut Diags,
    check: impl FnOnce(&mut Diags) -> R,
) -> R {
    let before = diagnostics.len();
    let checked = check(diagnostics);
    if diagnostics.len() > before {
        let element = vars.and_then(|vars| element(vars));
        for diagnostic in &mut diagnostics[before..] {
            diagnostic.reached_in_element(kind.noun(), name, element.as_deref());
        }
    }
    checked
}

/// The loop elements `vars` hold, as written: `` `team` = { name =
/// "search" … } ``; `None` outside loops.
fn element(vars: &Vars) -> Option<String> {
    let shown: Vec<String> = vars
        .iter()
        .map(|(name, value)| {
            let written = match value {
                Value::Record(record) => match record.fields().next() {
                    Some(field) => {
                        let first = record
                            .evaluated
                            .as_ref()
                            .and_then(|values| values.first())
                            .and_then(|(_, value)| value.as_ref());
                        let shown = match first {
                            Some(Value::Str(text, _)) => format!("{text:?}"),
                            Some(value) => value.text().map_or("…".into(), Cow::into_owned),
                            None => "…".to_string(),
                        };
                        format!("{{ {} = {shown} … }}", field.name)
                    }
                    None => "{ }".to_string(),
                },
                Value::Str(text, _) => format!("{text:?}"),
                other => other
                    .text()
                    .map_or_else(|| other.describe(), |text| text.into_owned()),
            };
            format!("`{name}` = {written}")
        })
        .collect();
    (!shown.is_empty()).then(|| shown.join(", "))
}

/// The envs' Models, by name, built in one pass from sorted entries, its
/// nodes full, instead of by an insert per env. Each env's Model is taken
/// out of its facts, and the rest of them returned.
fn assemble(envs: Vec<EnvFacts>) -> (BTreeMap<model::EnvKey, Box<model::Env>>, Vec<EnvRest>) {
    let mut named: Vec<(model::EnvKey, Box<model::Env>)> = Vec::with_capacity(envs.len());
    let mut rest = Vec::with_capacity(envs.len());
    for EnvFacts {
        model,
        quota,
        ingress,
        egress,
        ..
    } in envs
    {
        let key = model::EnvKey {
            name: model.name.clone(),
            cluster: model.cluster.name.clone(),
        };
        named.push((key, model));
        rest.push((quota, ingress, egress));
    }
    (named.into_iter().collect(), rest)
}

/// Spans of a cluster, for diagnostics that span several items.
pub(crate) struct ClusterFacts {
    model: Arc<model::Cluster>,
    /// Where `prometheus { namespace = … }` is written.
    prometheus_namespace_span: Option<Span>,
    environment_span: Span,
    capacity_spans: BTreeMap<&'static str, Span>,
    /// Where `price { … }` is written; `None` at the default prices.
    price_span: Option<Span>,
}

/// A tier with where each of its rules was written (possibly in a parent).
pub(crate) struct TierFacts {
    model: Arc<model::Tier>,
    name_span: Span,
    environment_span: Option<Span>,
    ceiling_spans: model::QuotaMap<Span>,
    /// Its own `budget`, or its parent's.
    budget_span: Option<Span>,
    require_span: Option<Span>,
    forbid_spans: HashMap<String, Span>,
    wildcards_span: Option<Span>,
    accept_span: Option<Span>,
    /// Its own `metrics`, or its parent's.
    metrics_span: Option<Span>,
    /// Its own `self_managed`, or its parent's.
    self_managed_span: Option<Span>,
}

impl TierFacts {
    /// Whether the tier's envs must have a quota: it caps them with a
    /// ceiling or a budget.
    fn needs_quota(&self) -> bool {
        !self.model.ceiling.is_empty() || self.model.budget.is_some()
    }
}

/// An env as checked: its Model and the spans later checks point at.
pub(crate) struct EnvFacts {
    model: Box<model::Env>,
    name_span: Span,
    quota: Option<quota::TypedQuota>,
    quota_failed: bool,
    /// E0406 was already reported for this env's missing quota.
    missing_quota_reported: bool,
    ingress: Vec<network::RuleFacts>,
    egress: Vec<network::RuleFacts>,
    /// Where each subject of each of `model.bindings` was granted.
    grant_spans: Vec<Vec<Span>>,
    /// Where the env's project is named, and whether it is written.
    project_span: Option<(Span, bool)>,
    /// The cluster's name in the env's `on CLUSTER`.
    placement_span: Span,
    cluster: DeclId,
    tier: DeclId,
    /// The interpolated references in its body, as this env expanded them.
    expanded: Expanded,
    /// What each `if` of its blocks decided, for E0215.
    decisions: Vec<crate::resolve::cond::Decision>,
}

impl<'r, 'a> Checker<'r, 'a> {
    /// Where an object of the Model was written. Only its line: counting
    /// the column's characters was most of the cost of the six sources of
    /// every env. Line 0 where no Model is made.
    fn source(&self, span: Span) -> Source {
        let file = self.sources.file_of(span);
        let line = match self.goal {
            Goal::Model => file.line_index(file.local(span).start) + 1,
            Goal::Diagnostics => 0,
        };
        Source {
            file: file.shared_name(),
            line,
        }
    }

    fn scope(&self, vars: &Vars<'a>) -> Scope<'_, 'a> {
        Scope::new(vars.clone(), &self.resolved.lets)
    }

    /// A top-level declaration's block read against its table, named in
    /// diagnostics `what NAME`; statements do not belong there.
    fn read_declaration<T>(
        &self,
        table: &'static [schema::Field],
        what: &str,
        decl: &Decl<'a, T>,
        body: &'a Block,
        diagnostics: &mut Diags,
    ) -> schema::Read<'a> {
        let scope = self.scope(&decl.vars);
        let context = format!("{what} `{}`", decl.name);
        let reading = schema::Reading {
            scope: &scope,
            context: &context,
            at: decl.name_span,
            inherited: false,
            statements: schema::Statements::Reported,
            sources: self.sources,
        };
        schema::read(table, body, &reading, diagnostics)
    }

    /// The cluster a list of clusters names (`on [prod-eu, prod-us]`),
    /// when it checked.
    fn listed_cluster(
        &self,
        name: &ast::Name,
        scope: &Scope,
        diagnostics: &mut Diags,
    ) -> Option<(&Decl<'a, ast::Cluster>, &ClusterFacts)> {
        let decl = name_referent(
            &self.resolved.clusters,
            &self.resolved.refs,
            name,
            scope,
            Code::E0201,
            &mut Expanded::new(),
            diagnostics,
        )?;
        Some((decl, self.cluster_facts.get(decl.id)?))
    }

    fn clusters(&mut self, diagnostics: &mut Diags) {
        const SCRAPE: units::WordList = units::WordList {
            words: &model::Exporter::WORDS,
            example: "[kubelet, cadvisor, kube_state_metrics]",
            who: "a cluster's Prometheus may scrape",
            help: "list the exporters the cluster's Prometheus scrapes: `scrape = [kubelet, cadvisor, kube_state_metrics]`, or `[]` for none of them",
        };
        for decl in self.resolved.clusters.iter() {
            let read = self.read_declaration(
                schema::CLUSTER,
                "cluster",
                decl,
                &decl.node.body,
                diagnostics,
            );
            let server = match read.get("server") {
                Some(Typed::Text(server)) => Some(server.clone()),
                _ => None,
            };
            let environment = match read.get("environment") {
                Some(Typed::Environment(environment)) => Some(*environment),
                _ => None,
            };
            let environment_span = read.span("environment").unwrap_or(decl.name_span);
            let pod_security = match read.get("pod_security") {
                Some(Typed::PodSecurity(level)) => Some(*level),
                _ => None,
            };
            let mut capacity = model::Capacity::default();
            let mut capacity_spans = BTreeMap::new();
            if let Some(Typed::Block(block)) = read.get("capacity") {
                for (field, typed, span) in &block.typed {
                    let Some(Typed::Quantity(quantity)) = typed else {
                        continue;
                    };
                    let slot = match field.name {
                        "cpu" => &mut capacity.cpu,
                        "memory" => &mut capacity.memory,
                        _ => &mut capacity.pods,
                    };
                    *slot = Some(*quantity);
                    capacity_spans.insert(field.name, *span);
                }
            }
            let mut price = crate::cost::Price::DEFAULT;
            let price_span = read.span("price");
            if let Some(Typed::Block(block)) = read.get("price") {
                price.written = true;
                if let Some(Typed::Money(cpu)) = block.get("cpu") {
                    price.cpu = *cpu;
                }
                if let Some(Typed::Money(memory)) = block.get("memory") {
                    price.memory = *memory;
                }
            }
            let mut prometheus = model::Prometheus {
                scrape_interval: model::Prometheus::DEFAULT_SCRAPE_INTERVAL,
                url: None,
                namespace: None,
                scrape: model::Exporters::ALL,
                kube_state_metrics: model::Prometheus::DEFAULT_KUBE_STATE_METRICS.to_string(),
                alertmanager: None,
            };
            let mut prometheus_namespace_span = None;
            if let Some(Typed::Block(block)) = read.get("prometheus") {
                prometheus_namespace_span = block.span("namespace");
                if let Some(Typed::Duration(interval)) = block.get("scrape_interval") {
                    prometheus.scrape_interval = *interval;
                }
                if let Some(Typed::Text(url)) = block.get("url") {
                    prometheus.url = Some(url.clone());
                }
                if let Some(Typed::Text(namespace)) = block.get("namespace") {
                    prometheus.namespace = Some(namespace.clone());
                }
                if let Some(Typed::Value(value)) = block.get("alertmanager") {
                    prometheus.alertmanager = monitoring::alertmanager_url(value, diagnostics);
                }
                if let Some(Typed::Text(service)) = block.get("kube_state_metrics") {
                    prometheus.kube_state_metrics = service.clone();
                }
                if let Some(Typed::Value(value)) = block.get("scrape") {
                    let span = block.span("scrape").unwrap_or(decl.name_span);
                    if let Some(words) = SCRAPE.read(value, span, diagnostics) {
                        prometheus.scrape = model::Exporter::CHOSEN
                            .into_iter()
                            .filter(|exporter| words.contains(&exporter.word()))
                            .fold(model::Exporters::none_chosen(), model::Exporters::with);
                    }
                }
            }
            // A cluster with a bad server is still a place for envs, so
            // their own errors are reported too; without an environment it
            // cannot be (placement and network depend on it).
            let Some(environment) = environment else {
                continue;
            };
            let server = server.unwrap_or_default();
            let model = Arc::new(model::Cluster {
                name: decl.name.clone(),
                server,
                environment,
                pod_security,
                capacity,
                price,
                prometheus,
                allow_cluster_admin: matches!(
                    read.get("allow_cluster_admin"),
                    Some(Typed::Bool(true))
                ),
                source: self.source(decl.name_span),
            });
            self.model.clusters.insert(decl.name.clone(), model.clone());
            self.cluster_facts.insert(
                decl.id,
                ClusterFacts {
                    model,
                    prometheus_namespace_span,
                    environment_span,
                    capacity_spans,
                    price_span,
                },
            );
        }
    }

    fn tiers(&mut self, diagnostics: &mut Diags) {
        // Parents first; a cycle is reported once, where it closes.
        let mut order: Vec<&Decl<'a, ast::Tier>> = Vec::new();
        let mut state: HashMap<&str, bool> = HashMap::new(); // false: in progress
        // Each tier's parent, as its `extends` names it (`visit_tier`).
        let mut parents: HashMap<DeclId, DeclId> = HashMap::new();
        let mut expanded = std::mem::take(&mut self.expanded);
        for decl in self.resolved.tiers.iter() {
            let mut visit = TierVisit {
                order: &mut order,
                state: &mut state,
                path: Vec::new(),
                parents: &mut parents,
                expanded: &mut expanded,
            };
            self.visit_tier(decl, &mut visit, diagnostics);
        }
        self.expanded = expanded;
        for decl in order {
            let parent = parents
                .get(&decl.id)
                .and_then(|parent| self.tier_facts.get(*parent));
            if decl.node.extends.is_some() && parent.is_none() {
                continue; // the parent failed; its error is reported
            }
            let mut expanded = std::mem::take(&mut self.expanded);
            let facts = self.tier(decl, parent, &mut expanded, diagnostics);
            self.expanded = expanded;
            if let Some(facts) = facts {
                self.model
                    .tiers
                    .insert(decl.name.clone(), facts.model.clone());
                self.tier_facts.insert(decl.id, facts);
            }
        }
    }

    fn visit_tier<'d>(
        &self,
        decl: &'d Decl<'a, ast::Tier>,
        visit: &mut TierVisit<'_, 'd, 'a>,
        diagnostics: &mut Diags,
    ) where
        'r: 'd,
    {
        match visit.state.get(decl.name.as_str()) {
            Some(true) => return,
            Some(false) => {
                let path = &visit.path;
                let start = path.iter().position(|&n| n == decl.name).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|n| format!("`{n}`")).collect();
                cycle.push(format!("`{}`", decl.name));
                let extends = decl
                    .node
                    .extends
                    .as_ref()
                    .map_or(decl.name_span, |e| e.span());
                diagnostics.push(
                    Diagnostic::new(Code::E0206, extends, format!("tier `{}` extends itself", decl.name))
                        .label("this `extends` closes a cycle")
                        .note(cycle.join(" extends "))
                        .help("a tier can only extend tiers that do not extend it back; remove one `extends`"),
                );
                return;
            }
            None => {}
        }
        visit.state.insert(&decl.name, false);
        visit.path.push(&decl.name);
        if let Some(parent) = &decl.node.extends {
            // `extends "${base}"` reads the variables of the tier's loops.
            let scope = self.scope(&decl.vars);
            if let Some(parent_decl) = name_referent(
                &self.resolved.tiers,
                &self.resolved.refs,
                parent,
                &scope,
                Code::E0201,
                visit.expanded,
                diagnostics,
            ) {
                visit.parents.insert(decl.id, parent_decl.id);
                self.visit_tier(parent_decl, visit, diagnostics);
            }
        }
        visit.path.pop();
        visit.state.insert(&decl.name, true);
        visit.order.push(decl);
    }

    fn tier(
        &self,
        decl: &Decl<'a, ast::Tier>,
        parent: Option<&TierFacts>,
        expanded: &mut Expanded,
        diagnostics: &mut Diags,
    ) -> Option<TierFacts> {
        let scope = self.scope(&decl.vars);
        let context = format!("tier `{}`", decl.name);
        let reading = schema::Reading {
            scope: &scope,
            context: &context,
            at: decl.name_span,
            inherited: parent.is_some(),
            statements: schema::Statements::Allowed,
            sources: self.sources,
        };
        let read = schema::read(schema::TIER, &decl.node.body, &reading, diagnostics);
        let mut facts = match parent {
            Some(parent) => TierFacts {
                model: Arc::new(model::Tier {
                    name: decl.name.clone(),
                    source: self.source(decl.name_span),
                    ..(*parent.model).clone()
                }),
                name_span: decl.name_span,
                environment_span: parent.environment_span,
                ceiling_spans: parent.ceiling_spans,
                budget_span: parent.budget_span,
                require_span: parent.require_span,
                forbid_spans: parent.forbid_spans.clone(),
                wildcards_span: parent.wildcards_span,
                accept_span: parent.accept_span,
                metrics_span: parent.metrics_span,
                self_managed_span: parent.self_managed_span,
            },
            None => TierFacts {
                model: Arc::new(model::Tier {
                    name: decl.name.clone(),
                    pod_security: PodSecurity::Baseline,
                    environment: None,
                    ceiling: ResourceList::new(),
                    budget: None,
                    require_alerts: Vec::new(),
                    forbid_verbs: Vec::new(),
                    forbid_resources: Vec::new(),
                    forbid_wildcards: false,
                    isolated: false,
                    accept_from: Vec::new(),
                    metrics: Vec::new(),
                    self_managed: model::SelfManaged::default(),
                    source: self.source(decl.name_span),
                }),
                name_span: decl.name_span,
                environment_span: None,
                ceiling_spans: model::QuotaMap::new(),
                budget_span: None,
                require_span: None,
                forbid_spans: HashMap::new(),
                wildcards_span: None,
                accept_span: None,
                metrics_span: None,
                self_managed_span: None,
            },
        };
        if let Some(Typed::PodSecurity(level)) = read.get("pod_security") {
            Arc::make_mut(&mut facts.model).pod_security = *level;
        }
        if let Some(Typed::Environment(environment)) = read.get("environment") {
            Arc::make_mut(&mut facts.model).environment = Some(*environment);
            facts.environment_span = read.span("environment");
        }
        if let Some(Typed::Word(mode)) = read.get("network") {
            Arc::make_mut(&mut facts.model).isolated = mode == "isolated";
        }
        if let Some(Typed::Value(value)) = read.get("self_managed") {
            let span = read.span("self_managed").unwrap_or(decl.name_span);
            if let Some(managed) = access::self_managed(value, span, diagnostics) {
                Arc::make_mut(&mut facts.model).self_managed = managed;
                facts.self_managed_span = Some(span);
            }
        }
        if let Some(Typed::Value(value)) = read.get("ceiling")
            && let Some(typed) = quota::resource_record(
                self,
                value.clone(),
                quota::ResourceRecord::Ceiling,
                &format!("the ceiling of tier `{}`", decl.name),
                diagnostics,
            )
        {
            for (key, value) in typed.hard {
                // A child tier is a stricter variant: raising what its
                // parent caps would let an env escape the parent's promise.
                if let Some(parent) = parent
                    && let Some(&cap) = parent.model.ceiling.get(&key)
                    && value > cap
                {
                    diagnostics.push(raised_ceiling(decl, parent, key, value, cap, &typed));
                    continue;
                }
                Arc::make_mut(&mut facts.model).ceiling.insert(key, value);
                if let Some(&span) = typed.key_spans.get(&key) {
                    facts.ceiling_spans.insert(key, span);
                }
            }
        }
        if let Some(Typed::Money(budget)) = read.get("budget") {
            let span = read.span("budget").unwrap_or(decl.name_span);
            match parent.and_then(|parent| Some((parent, parent.model.budget?))) {
                // Like a ceiling: a child tier only lowers what its
                // parent promises.
                Some((parent, cap)) if *budget > cap => {
                    diagnostics.push(raised_budget(decl, parent, *budget, cap, span));
                }
                _ => {
                    Arc::make_mut(&mut facts.model).budget = Some(*budget);
                    facts.budget_span = Some(span);
                }
            }
        }
        for stmt in &decl.node.body.stmts {
            match &stmt.kind {
                StmtKind::Field(_) => {}
                StmtKind::Require(require) => {
                    for item in &require.alerts.items {
                        let Some(name) =
                            self.name_in_list(item, "an alert template", &scope, diagnostics)
                        else {
                            continue;
                        };
                        let Some(template) = self.resolved.templates.get(&name) else {
                            let ident = ast::Ident {
                                text: name,
                                span: item.span,
                            };
                            diagnostics.push(self.resolved.templates.unknown(&ident, Code::E0201));
                            continue;
                        };
                        if let ExprKind::Str(_) = item.kind {
                            expanded.push((item.span, template.id));
                        }
                        if !facts.model.require_alerts.contains(&name) {
                            Arc::make_mut(&mut facts.model).require_alerts.push(name);
                        }
                    }
                    facts.require_span = Some(stmt.span);
                }
                StmtKind::Forbid(forbid) => match forbid {
                    Forbid::Verbs(list) | Forbid::Resources(list) => {
                        let kind = if matches!(forbid, Forbid::Verbs(_)) {
                            access::RbacName::Verb
                        } else {
                            access::RbacName::Resource
                        };
                        for item in &list.items {
                            let Some(name) =
                                self.name_in_list(item, kind.what(), &scope, diagnostics)
                            else {
                                continue;
                            };
                            if !access::known(self, kind, &name, item, diagnostics) {
                                continue;
                            }
                            // A declared resource is one thing however
                            // it is named: `rollouts.argoproj.io`.
                            let name = match (kind, self.resources.find(&name)) {
                                (access::RbacName::Resource, Ok(known)) => {
                                    known.canonical.to_string()
                                }
                                _ => name,
                            };
                            let target = match kind {
                                access::RbacName::Verb => {
                                    &mut Arc::make_mut(&mut facts.model).forbid_verbs
                                }
                                access::RbacName::Resource => {
                                    &mut Arc::make_mut(&mut facts.model).forbid_resources
                                }
                            };
                            if !target.contains(&name) {
                                target.push(name.clone());
                            }
                            facts.forbid_spans.insert(name, stmt.span);
                        }
                    }
                    Forbid::Wildcards => {
                        Arc::make_mut(&mut facts.model).forbid_wildcards = true;
                        facts.wildcards_span = Some(stmt.span);
                    }
                },
                StmtKind::Accept(accept) => {
                    let mut accepted = Vec::new();
                    for item in &accept.environments.items {
                        let value = units::eval(item, &scope, diagnostics);
                        if let Some(env) = value
                            .as_ref()
                            .and_then(|value| environment(value, diagnostics))
                            && !accepted.contains(&env)
                        {
                            accepted.push(env);
                        }
                    }
                    Arc::make_mut(&mut facts.model).accept_from = accepted;
                    facts.accept_span = Some(stmt.span);
                }
                StmtKind::Metrics(metrics) => {
                    let model = Arc::make_mut(&mut facts.model);
                    network::add_metrics_ports(&mut model.metrics, &metrics.ports, diagnostics);
                    facts.metrics_span = Some(stmt.span);
                }
                StmtKind::Allow(_) => {
                    diagnostics.push(fields::misplaced(stmt, "a tier", "a role"));
                }
                _ => {
                    diagnostics.push(fields::misplaced(stmt, "a tier", "an env"));
                }
            }
        }
        // A tier with errors still describes its envs well enough to check
        // them: its own errors are reported, and the Model is not used.
        Some(facts)
    }

    /// A name written in a list (`[HighPodMemoryUsage, pods/log, "*"]`).
    /// A string is read in the scope of the declaration that holds the
    /// list, so a role or tier a `for` loop declares can use its variables.
    fn name_in_list(
        &self,
        item: &ast::Expr,
        what: &str,
        scope: &Scope,
        diagnostics: &mut Diags,
    ) -> Option<String> {
        match &item.kind {
            ExprKind::Name(ident) => Some(ident.text.clone()),
            ExprKind::Str(string) => value::interpolate(string, scope, diagnostics),
            // A resource named with its group, `rollouts.argoproj.io`; a
            // field of a loop's record is read in a string.
            ExprKind::Field(path) if scope.var(&path[0].text).is_none() => {
                Some(ast::path_text(path).into_owned())
            }
            ExprKind::Field(path) => {
                let text = ast::path_text(path);
                diagnostics.push(
                    Diagnostic::new(Code::E0301, item.span, format!("expected {what}"))
                        .label(format!("`{}` is a variable here", path[0].text))
                        .help(format!(
                            "to use its field, write it in a string: `\"${{{text}}}\"`"
                        )),
                );
                None
            }
            _ => {
                diagnostics.push(
                    Diagnostic::new(Code::E0301, item.span, format!("expected {what}"))
                        .label("not a name")
                        .help(format!("write {what} by its name, or as a string")),
                );
                None
            }
        }
    }

    /// `check` of each of `decls` on every core, from the shared facts
    /// alone; what it finds is reported in declaration order all the same.
    fn on_every_core<D: Sync, R: Send>(
        &self,
        decls: &[D],
        diagnostics: &mut Diags,
        check: impl Fn(&Self, &D, &mut Diags) -> R + Sync,
    ) -> Vec<R> {
        let pieces = crate::parallel::map_pieces(decls, |piece| {
            let mut found = Diags::new();
            let results: Vec<R> = piece
                .iter()
                .map(|decl| check(self, decl, &mut found))
                .collect();
            (results, found)
        });
        // Moved once, from the pieces into the one vector: an env's facts
        // are a few hundred bytes, and every copy of thousands of them is
        // fresh memory to fault in.
        let mut results = Vec::with_capacity(decls.len());
        for (piece, found) in pieces {
            results.extend(piece);
            diagnostics.extend(found);
        }
        results
    }

    /// A `let` is typed where it is used; one that nothing uses is still
    /// checked, for what its value says it is without a use: a quota, a
    /// limit range, a quantity with a unit, and every string in a record.
    fn unused_lets(&self, diagnostics: &mut Diags) {
        // Taken before any is checked: checking one looks up the `let`s its
        // strings name, which must not take them off this list.
        let unused: Vec<(&str, Value<'a>)> = self
            .resolved
            .lets
            .unused()
            .map(|(name, value)| (name, value.clone()))
            .collect();
        for (name, value) in unused {
            self.unused_value(name, value, diagnostics);
        }
    }

    fn unused_value(&self, name: &str, value: Value<'a>, diagnostics: &mut Diags) {
        use ast::{RecordTag, SuffixKind};
        match value {
            Value::Record(record) => match record.tag {
                Some(RecordTag::Quota) => {
                    let context = format!("the quota of let `{name}`");
                    quota::resource_record(
                        self,
                        Value::Record(record),
                        quota::ResourceRecord::Quota,
                        &context,
                        diagnostics,
                    );
                }
                Some(RecordTag::Limits(_)) => {
                    quota::unused_limits(self, name, Value::Record(record), diagnostics);
                }
                // Its schema is the field's that receives it: only its
                // strings can be checked without one.
                None => self.record_strings(record.body, &record.vars, diagnostics),
            },
            scaled @ Value::Product { .. } => {
                let context = format!("the quota of let `{name}`");
                quota::resource_record(
                    self,
                    scaled,
                    quota::ResourceRecord::Quota,
                    &context,
                    diagnostics,
                );
            }
            Value::List(items, _) => {
                for item in items {
                    self.unused_value(name, item, diagnostics);
                }
            }
            Value::Number(number, _) => {
                let _ = match number.suffix.kind() {
                    SuffixKind::Bytes => units::memory(&value, diagnostics).map(drop),
                    SuffixKind::Time => units::duration(&value, diagnostics).map(drop),
                    SuffixKind::Percent => units::ratio(&value, diagnostics).map(drop),
                    // Milli-cores or minutes, a count, cores or bytes: the
                    // field that receives it decides.
                    SuffixKind::Milli | SuffixKind::Plain => None,
                };
            }
            // Strings were filled in when the `let` was evaluated.
            Value::Str(..) | Value::Bool(..) | Value::Word(..) => {}
        }
    }

    /// Fills in every string of a record nothing types, so that an unknown
    /// `${…}` in it is reported all the same.
    fn record_strings(&self, block: &Block, vars: &Vars<'a>, diagnostics: &mut Diags) {
        let scope = self.scope(vars);
        for stmt in &block.stmts {
            let StmtKind::Field(field) = &stmt.kind else {
                continue;
            };
            if let ast::Key::Str(key) = &field.key {
                let _ = value::interpolate(key, &scope, diagnostics);
            }
            match &field.value {
                ast::FieldValue::Expr(expr) => self.expr_strings(expr, vars, diagnostics),
                ast::FieldValue::Block(block) => self.record_strings(block, vars, diagnostics),
            }
        }
    }

    fn expr_strings(&self, expr: &ast::Expr, vars: &Vars<'a>, diagnostics: &mut Diags) {
        match &expr.kind {
            ExprKind::Str(string) => {
                let _ = value::interpolate(string, &self.scope(vars), diagnostics);
            }
            ExprKind::List(list) => {
                for item in &list.items {
                    self.expr_strings(item, vars, diagnostics);
                }
            }
            ExprKind::Record(record) => self.record_strings(&record.body, vars, diagnostics),
            ExprKind::Mul(left, right) => {
                self.expr_strings(left, vars, diagnostics);
                self.expr_strings(right, vars, diagnostics);
            }
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Name(_) | ExprKind::Field(_) => {}
        }
    }

    /// Roles depend on nothing but themselves.
    fn roles(&mut self, diagnostics: &mut Diags) {
        let decls: Vec<_> = self.resolved.roles.iter().collect();
        let checked = self.on_every_core(&decls, diagnostics, |checker, decl, found| {
            checking_element(
                DeclKind::Role,
                &decl.name,
                Some(&decl.vars),
                found,
                |found| access::role(checker, decl, found),
            )
        });
        for (decl, role) in decls.iter().zip(checked) {
            if let Some((role, facts)) = role {
                let role = Arc::new(role);
                self.model
                    .roles
                    .insert(decl.name.clone(), Arc::clone(&role));
                self.role_facts.insert(decl.id, (role, facts));
            }
        }
    }

    fn templates(&mut self, diagnostics: &mut Diags) {
        let resolved = self.resolved;
        for decl in resolved.templates.iter() {
            let template = checking(DeclKind::AlertTemplate, &decl.name, diagnostics, |found| {
                alerts::template(self, decl, found)
            });
            if let Some(template) = template {
                self.templates.insert(decl.id, template);
            }
        }
    }

    /// Each env is assembled and checked from the program's shared facts
    /// alone.
    fn envs(&mut self, diagnostics: &mut Diags) {
        let decls: Vec<&EnvDecl<'a>> = self.resolved.envs.iter().collect();
        let checked = self.on_every_core(&decls, diagnostics, |checker, decl, found| {
            checking_element(
                DeclKind::Env,
                &decl.name,
                Some(&decl.vars),
                found,
                |found| checker.env(decl, found),
            )
        });
        // In place: an `Option<EnvFacts>` is the size of the facts, and
        // collecting from `filter_map` keeps the vector's memory, where
        // `flatten` makes a new one.
        #[allow(clippy::filter_map_identity)]
        let envs = checked.into_iter().filter_map(|facts| facts).collect();
        self.envs = envs;
    }

    /// Assembles one env from its layers, then runs its own checks.
    fn env(&self, decl: &EnvDecl<'a>, diagnostics: &mut Diags) -> Option<EnvFacts> {
        let placement = decl.placement;
        let refs = &self.resolved.refs;
        let mut expanded = Expanded::new();
        // `on "${team.cluster}"` reads the variables of the env's loops.
        let written_in = self.scope(&decl.vars);
        let cluster_decl = name_referent(
            &self.resolved.clusters,
            refs,
            decl.cluster,
            &written_in,
            Code::E0201,
            &mut expanded,
            diagnostics,
        );
        let tier_decl = name_referent(
            &self.resolved.tiers,
            refs,
            &placement.tier,
            &written_in,
            Code::E0201,
            &mut expanded,
            diagnostics,
        );
        let (cluster_id, tier_id) = (cluster_decl?.id, tier_decl?.id);
        let (cluster_facts, tier) = (
            self.cluster_facts.get(cluster_id)?,
            self.tier_facts.get(tier_id)?,
        );
        let cluster = &cluster_facts.model;
        let mut vars = (*decl.vars).clone();
        // In `ENV_CONTEXT`'s order.
        let context = [
            decl.name.clone(),
            decl.name.clone(),
            decl.family.clone().unwrap_or_else(|| decl.name.clone()),
            decl.stage.clone().unwrap_or_default(),
            cluster.name.clone(),
            cluster.environment.as_str().to_string(),
            tier.model.name.clone(),
        ];
        // Each a name, as if written where the env's name is.
        let word = |text: String| Value::Word(text, decl.name_span);
        vars.extend(
            ENV_CONTEXT
                .map(std::borrow::Cow::Borrowed)
                .into_iter()
                .zip(context.map(word)),
        );
        let vars: Vars = Arc::new(vars);
        let scope = self.scope(&vars);

        let mut env = model::Env {
            name: decl.name.clone(),
            cluster: cluster.clone(),
            tier: tier.model.clone(),
            environment: cluster.environment,
            // A cluster's floor tightens the tier's level, never loosens it.
            pod_security: cluster
                .pod_security
                .map_or(tier.model.pod_security, |floor| {
                    floor.max(tier.model.pod_security)
                }),
            family: decl.family.clone(),
            stage: decl.stage.clone(),
            labels: model::TextMap::new(),
            annotations: model::TextMap::new(),
            quota: None,
            limits: None,
            roles: Vec::new(),
            bindings: Vec::new(),
            network: model::Network::default(),
            alerts: model::AlertGroup {
                name: decl.name.clone(),
                rules: Vec::new(),
            },
            deploy: None,
            source: self.source(decl.name_span),
        };
        let mut draft = EnvDraft::default();
        let context = format!("env `{}`", decl.name);
        let mut decisions = Vec::new();
        for (index, layer) in decl.layers.iter().enumerate() {
            let is_family_body = decl.family.is_some() && index == 0;
            // A layer's pieces are one block: they share what is set.
            // Most layers hold no `if` or `for`: the layer is its one piece,
            // read with the env's variables.
            if !expand::has_conditionals(layer) {
                draft.scopes.push(vars.clone());
                self.layer(
                    layer,
                    false,
                    draft.scopes.len() - 1,
                    index,
                    is_family_body,
                    &scope,
                    &context,
                    &mut LayerSeen::default(),
                    &mut env,
                    &mut draft,
                    diagnostics,
                );
                continue;
            }
            let pieces = expand::pieces(
                layer,
                &vars,
                &self.resolved.lets,
                &mut decisions,
                diagnostics,
            );
            let mut seen = LayerSeen {
                shared: pieces.len() > 1,
                ..LayerSeen::default()
            };
            for piece in pieces {
                let piece_scope = self.scope(&piece.vars);
                draft.scopes.push(piece.vars);
                self.layer(
                    piece.block,
                    piece.nested,
                    draft.scopes.len() - 1,
                    index,
                    is_family_body,
                    &piece_scope,
                    &context,
                    &mut seen,
                    &mut env,
                    &mut draft,
                    diagnostics,
                );
            }
        }

        placement::check_placement(decl, cluster_facts, tier, diagnostics);
        let quota = draft.quota.take();
        let limits = draft.limits.take();
        if !draft.quota_failed {
            quota::check_env(
                decl,
                tier,
                cluster_facts,
                quota.as_ref(),
                limits.as_ref(),
                diagnostics,
            );
        }
        env.quota = quota.as_ref().map(|q| model::Quota {
            name: q
                .name
                .clone()
                .unwrap_or_else(|| [&decl.name, "-quota"].concat()),
            hard: q.hard,
            source: self.source(q.span),
        });
        env.limits = limits.map(|l| l.into_model(self, &decl.name));
        let grant_spans = access::env_grants(
            self,
            decl,
            tier,
            &draft,
            &mut env,
            &mut expanded,
            diagnostics,
        );
        let (ingress, egress) =
            network::env_rules(self, tier, &draft, &mut env, &mut expanded, diagnostics);
        alerts::env_alerts(
            self,
            decl,
            tier,
            &draft,
            &vars,
            &mut env,
            &mut expanded,
            diagnostics,
        );
        let project_span = placement::env_deploy(self, decl, &draft, &mut env, diagnostics);
        Some(EnvFacts {
            model: Box::new(env),
            name_span: decl.name_span,
            missing_quota_reported: quota.is_none() && tier.needs_quota(),
            quota,
            quota_failed: draft.quota_failed,
            ingress,
            egress,
            grant_spans,
            project_span,
            placement_span: decl.cluster.span(),
            cluster: cluster_id,
            tier: tier_id,
            expanded,
            decisions,
        })
    }

    /// Applies one layer (a family body or a stage body) to the env.
    #[allow(clippy::too_many_arguments)]
    /// Applies one piece of a layer (the layer's own block, or a branch or
    /// an iteration of one of its `if`s and `for`s, `nested`), read with
    /// `scope`, the variables of `draft.scopes[piece]`: `seen` is what the
    /// layer's pieces set so far, which another piece may not set again.
    fn layer(
        &self,
        layer: &'a Block,
        nested: bool,
        piece: usize,
        index: usize,
        is_family_body: bool,
        scope: &Scope<'_, 'a>,
        context: &str,
        seen: &mut LayerSeen<'a>,
        env: &mut model::Env,
        draft: &mut EnvDraft<'a>,
        diagnostics: &mut Diags,
    ) {
        let fields = Fields::read(layer, Keys::Table(schema::ENV), context, scope, diagnostics);
        for entry in &fields.entries {
            let Some(value) = field_value(entry, scope, diagnostics) else {
                continue;
            };
            match entry.key.as_ref() {
                "labels" => self.string_map(
                    value,
                    TextMapKind::Labels,
                    &mut env.labels,
                    seen.shared.then_some(&mut seen.keys),
                    diagnostics,
                ),
                "annotations" => self.string_map(
                    value,
                    TextMapKind::Annotations,
                    &mut env.annotations,
                    seen.shared.then_some(&mut seen.keys),
                    diagnostics,
                ),
                "alert_labels" => {
                    let mut labels = std::mem::take(&mut draft.alert_labels);
                    self.string_map(
                        value,
                        TextMapKind::AlertLabels,
                        &mut labels,
                        seen.shared.then_some(&mut seen.keys),
                        diagnostics,
                    );
                    draft.alert_labels = labels;
                }
                "alert_group" => {
                    if let Some(first) = seen.alert_group.replace(entry.key_span) {
                        diagnostics.push(set_twice("`alert_group`", entry.key_span, first));
                        continue;
                    }
                    let span = value.span();
                    if let Some(name) = units::into_string(value, diagnostics) {
                        if name.is_empty() {
                            diagnostics.push(
                                Diagnostic::new(Code::E0306, span, "an alert group needs a name")
                                    .label("empty")
                                    .help("leave `alert_group` out to use the env's name"),
                            );
                        } else {
                            env.alerts.name = name;
                        }
                    }
                }
                _ => draft.deploy.push(value),
            }
        }
        // One quota and one limit range per block (a layer's pieces are
        // one); a stage's replace its family's.
        for stmt in &layer.stmts {
            match &stmt.kind {
                // Expanded into pieces of their own.
                StmtKind::Field(_) | StmtKind::If(_) | StmtKind::For(_) => {}
                // The family declares one env per stage it holds itself.
                StmtKind::Stage(stage) if nested => diagnostics.push(
                    Diagnostic::new(Code::E0210, stage.name.span(), "a `stage` inside an `if` or a `for`")
                        .label("a family's stages are declared by the family's block itself")
                        .help("declare every stage directly in the family, and put the `if` or the `for` inside the stage"),
                ),
                // A family's stages are its envs; a stage in a placed env is
                // reported by resolve.
                StmtKind::Stage(_) if is_family_body || env.family.is_none() => {}
                StmtKind::Stage(stage) => diagnostics.push(
                    Diagnostic::new(Code::E0210, stage.name.span(), "a `stage` inside a stage")
                        .label("stages cannot nest")
                        .help("declare every stage directly in the family: `env NAME { stage a … stage b … }`"),
                ),
                StmtKind::Quota(quota_stmt) => {
                    if let Some(first) = seen.quota.replace(stmt.span) {
                        diagnostics.push(set_twice("quota", stmt.span, first));
                        continue;
                    }
                    let typed = quota::quota_stmt(self, quota_stmt, stmt.span, scope, &env.name, diagnostics);
                    draft.quota_failed = typed.is_none();
                    draft.quota = typed;
                }
                StmtKind::Limits(limits_stmt) => {
                    if let Some(first) = seen.limits.replace(stmt.span) {
                        diagnostics.push(set_twice("limit range", stmt.span, first));
                        continue;
                    }
                    if let Some(typed) = quota::limits_stmt(self, limits_stmt, stmt.span, scope, &env.name, diagnostics) {
                        draft.limits = Some(typed);
                    }
                }
                StmtKind::Grant(grant) => draft.grants.push((grant, stmt.span, piece)),
                StmtKind::Ingress(ingress) => draft.ingress.push((ingress, stmt.span, piece)),
                StmtKind::Egress(egress) => draft.egress.push((egress, stmt.span, piece)),
                StmtKind::Metrics(metrics) => draft.metrics.push((metrics, stmt.span)),
                StmtKind::Alert(alert) => {
                    // A stage's use replaces the family's use of the same
                    // rule name; two uses in one block are two rules (a
                    // warning, and a critical alert `as` another name).
                    // A template's string that reads nothing was reported:
                    // the use makes no rule.
                    let Some(template) = alerts::template_name(alert, scope, diagnostics) else {
                        continue;
                    };
                    let rule_name = alerts::rule_name(alert, &template, scope, diagnostics);
                    if let Some(name) = &rule_name {
                        draft.alerts.retain(|used| {
                            used.layer == index || used.rule_name.as_ref() != Some(name)
                        });
                    }
                    draft.alerts.push(alerts::AlertDraft {
                        alert,
                        template,
                        span: stmt.span,
                        piece,
                        layer: index,
                        rule_name,
                    });
                }
                StmtKind::Allow(_) => diagnostics.push(fields::misplaced(stmt, context, "a role")),
                StmtKind::Forbid(_) | StmtKind::Require(_) | StmtKind::Accept(_) => {
                    diagnostics.push(fields::misplaced(stmt, context, "a tier"))
                }
            }
        }
    }

    /// `labels { k = "v" }`: merged into `out`, later layers winning.
    /// Reads a block of labels, annotations or alert labels into `out`.
    /// `seen`, for a layer of several pieces, holds the keys its other
    /// pieces set: one set again is set twice.
    fn string_map(
        &self,
        value: Value<'a>,
        kind: TextMapKind,
        out: &mut model::TextMap,
        mut seen: Option<&mut MapKeys<'a>>,
        diagnostics: &mut Diags,
    ) {
        let what = kind.what();
        let Some((record, vars)) =
            fields::record(value, &format!("a block of {what}"), diagnostics)
        else {
            return;
        };
        let scope = self.scope(&vars);
        let fields = Fields::read_only_fields(record.body, Keys::Any, what, &scope, diagnostics);
        if out.is_empty() {
            // Kept for the whole run, once per env: no room to spare.
            out.reserve_exact(fields.entries.len());
        }
        for entry in &fields.entries {
            if let Some(seen) = seen.as_deref_mut() {
                if let Some((.., first)) = seen
                    .iter()
                    .find(|(other, key, _)| *other == kind && *key == entry.key)
                {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0304,
                            entry.key_span,
                            format!("`{}` is set twice in the {what} of one block", entry.key),
                        )
                        .label("set again here")
                        .secondary(*first, "first set here")
                        .help("an `if`'s branch and a `for`'s body add to the block they are in: remove one of the two"),
                    );
                    continue;
                }
                seen.push((kind, entry.key.clone(), entry.key_span));
            }
            let Some(value) = field_value(entry, &scope, diagnostics) else {
                continue;
            };
            let value_span = value.span();
            let Some(text) = units::into_string(value, diagnostics) else {
                continue;
            };
            if kind == TextMapKind::AlertLabels {
                if entry.key == "severity" {
                    diagnostics.push(
                        Diagnostic::new(Code::E0310, entry.key_span, "the `severity` label is set by each alert")
                            .label("each rule's `severity` comes from its template")
                            .help("remove it here; a template with another severity is the way to change it"),
                    );
                    continue;
                }
                if !alerts::is_label_name(&entry.key) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0309, entry.key_span, format!("`{}` is not a valid Prometheus label name", entry.key))
                            .label("Prometheus label names are letters, digits and `_`, not starting with a digit")
                            .help("write it with underscores, such as `cost_center`"),
                    );
                    continue;
                }
                out.insert(entry.key.to_string(), text);
                continue;
            }
            if let Err(why) = check_label_key(&entry.key) {
                diagnostics.push(
                    Diagnostic::new(Code::E0309, entry.key_span, format!("`{}` is not a valid {} key", entry.key, kind.key_noun()))
                        .label(why)
                        .help("keys are an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` and `.`, such as `app.kubernetes.io/name`"),
                );
                continue;
            }
            if kind == TextMapKind::Labels {
                if let Err(why) = check_label_value(&text) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0309, value_span, format!("`{text}` is not a valid label value"))
                            .label(why)
                            .help("label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
                    );
                    continue;
                }
                if reserved_label(&entry.key) {
                    diagnostics.push(
                        Diagnostic::new(Code::E0310, entry.key_span, format!("the `{}` label is set by envk", entry.key))
                            .label("envk sets this label from the env's placement")
                            .help("`environment` comes from the cluster, `tier` from the tier and the Pod Security labels from the tier's `pod_security`; remove this label"),
                    );
                    continue;
                }
            }
            out.insert(entry.key.to_string(), text);
        }
    }
}

/// The maps of text an env writes, each with its own rules for keys and
/// values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TextMapKind {
    /// Kubernetes labels: keys and values checked, envk's own reserved.
    Labels,
    /// Kubernetes annotations: keys checked, any value.
    Annotations,
    /// Labels on every alert rule: Prometheus label names.
    AlertLabels,
}

impl TextMapKind {
    fn what(self) -> &'static str {
        match self {
            TextMapKind::Labels => "labels",
            TextMapKind::Annotations => "annotations",
            TextMapKind::AlertLabels => "alert labels",
        }
    }

    /// What one key is called in a diagnostic.
    fn key_noun(self) -> &'static str {
        match self {
            TextMapKind::Labels => "label",
            TextMapKind::Annotations => "annotation",
            TextMapKind::AlertLabels => "alert label",
        }
    }
}

/// E0407: a child tier's ceiling above its parent's for `key`.
fn raised_ceiling(
    decl: &Decl<ast::Tier>,
    parent: &TierFacts,
    key: model::QuotaKey,
    value: model::Quantity,
    cap: model::Quantity,
    typed: &quota::TypedQuota,
) -> Diagnostic {
    let format = |amount| key.dimension().format(amount);
    let at = typed.key_spans.get(&key).copied().unwrap_or(typed.span);
    let capped_at = parent
        .ceiling_spans
        .get(&key)
        .copied()
        .unwrap_or(parent.name_span);
    Diagnostic::new(
        Code::E0407,
        at,
        format!(
            "tier `{}` raises the `{}` ceiling of tier `{}`, which it extends",
            decl.name,
            key.as_str(),
            parent.model.name
        ),
    )
    .label(format!("{} here", format(value)))
    .secondary(capped_at, format!("capped at {} here", format(cap)))
    .help(format!(
        "a tier can only lower what the tier it extends caps: write at most {} here, raise `{}`'s ceiling, or do not extend `{}`",
        format(cap),
        parent.model.name,
        parent.model.name
    ))
}

/// E0407: a child tier's budget above its parent's.
fn raised_budget(
    decl: &Decl<ast::Tier>,
    parent: &TierFacts,
    value: crate::cost::Money,
    cap: crate::cost::Money,
    at: Span,
) -> Diagnostic {
    Diagnostic::new(
        Code::E0407,
        at,
        format!(
            "tier `{}` raises the budget of tier `{}`, which it extends",
            decl.name, parent.model.name
        ),
    )
    .label(format!("{} a month here", value))
    .secondary(
        parent.budget_span.unwrap_or(parent.name_span),
        format!("capped at {} a month here", cap),
    )
    .help(format!(
        "a tier can only lower what the tier it extends caps: write at most {} here, raise `{}`'s budget, or do not extend `{}`",
        cap.price(),
        parent.model.name,
        parent.model.name
    ))
}

fn set_twice(what: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(Code::E0304, span, format!("a second {what} in one block"))
        .label("set again here")
        .secondary(first, "first set here")
        .help(format!("an env has one {what}: merge the two, or move one into a stage, which replaces the family's"))
}

/// Whether envk writes this label on every namespace itself.
fn reserved_label(label: &str) -> bool {
    matches!(
        label,
        "kubernetes.io/metadata.name" | "environment" | "tier"
    ) || model::POD_SECURITY_LABELS
        .iter()
        .any(|(mode, version)| label == *mode || label == *version)
}

/// The walk that orders tiers parents first (`Checker::visit_tier`).
struct TierVisit<'v, 'd, 'a> {
    order: &'v mut Vec<&'d Decl<'a, ast::Tier>>,
    /// `false` while a tier's parents are being visited.
    state: &'v mut HashMap<&'d str, bool>,
    path: Vec<&'d str>,
    parents: &'v mut HashMap<DeclId, DeclId>,
    expanded: &'v mut Expanded,
}

/// What the pieces of one layer set so far: they are one block, so a
/// second quota, limit range, `alert_group` or map key is set twice.
#[derive(Default)]
struct LayerSeen<'a> {
    /// Whether the layer has more than one piece; only then is a map's
    /// key compared with the other pieces'.
    shared: bool,
    quota: Option<Span>,
    limits: Option<Span>,
    alert_group: Option<Span>,
    keys: MapKeys<'a>,
}

/// The keys of labels, annotations and alert labels a layer set, and where.
type MapKeys<'a> = Vec<(TextMapKind, std::borrow::Cow<'a, str>, Span)>;

/// What the statements of an env's layers add up to, before typing.
#[derive(Default)]
pub(crate) struct EnvDraft<'a> {
    quota: Option<quota::TypedQuota>,
    /// A quota was written but has errors: checks that need it are skipped
    /// rather than reporting it missing.
    quota_failed: bool,
    limits: Option<quota::TypedLimits>,
    /// The variables of each piece of the env's layers: a statement read
    /// later keeps its piece's index.
    scopes: Vec<Vars<'a>>,
    grants: Vec<(&'a ast::Grant, Span, usize)>,
    ingress: Vec<(&'a ast::Ingress, Span, usize)>,
    egress: Vec<(&'a ast::Egress, Span, usize)>,
    metrics: Vec<(&'a ast::Metrics, Span)>,
    alerts: Vec<alerts::AlertDraft<'a>>,
    alert_labels: model::TextMap,
    /// `deploy` blocks of every layer, merged field by field.
    deploy: Vec<Value<'a>>,
}

/// A `pod_security` field: `privileged`, `baseline` or `restricted`.
fn pod_security(value: &Value, diagnostics: &mut Diags) -> Option<PodSecurity> {
    let levels: Vec<&str> = PodSecurity::ALL.iter().map(|l| l.as_str()).collect();
    let level = units::word(value, &levels, "a Pod Security level", diagnostics)?;
    PodSecurity::ALL.into_iter().find(|l| l.as_str() == level)
}

/// The declaration a reference written as a name (`grant viewer`) or as a
/// string (`grant "${team}-engineer"`) refers to, found as
/// [`crate::resolve::Table::referent`] finds it; a string's, as `scope`
/// interpolates it, is recorded in `expanded`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn name_referent<'t, T: crate::resolve::Named>(
    table: &'t crate::resolve::Table<T>,
    refs: &crate::resolve::refs::References,
    name: &ast::Name,
    scope: &Scope,
    code: Code,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) -> Option<&'t T> {
    let ident = written_name(name, scope, diagnostics)?;
    written_referent(table, refs, name, &ident, code, expanded, diagnostics)
}

/// `name_referent` where the name's text in this scope, `ident`, is
/// already known.
pub(crate) fn written_referent<'t, T: crate::resolve::Named>(
    table: &'t crate::resolve::Table<T>,
    refs: &crate::resolve::refs::References,
    name: &ast::Name,
    ident: &ast::Ident,
    code: Code,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) -> Option<&'t T> {
    let found = table.referent(refs, ident, code, diagnostics)?;
    if let ast::Name::Str(_) = name {
        expanded.push((ident.span, found.id()));
    }
    Some(found)
}

/// A name as written (`viewer`), or the text of a string
/// (`"${team}-engineer"`) in `scope`, at the place it was written.
pub(crate) fn written_name(
    name: &ast::Name,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<ast::Ident> {
    match name {
        ast::Name::Ident(ident) => Some(ident.clone()),
        ast::Name::Str(string) => Some(ast::Ident {
            text: value::interpolate(string, scope, diagnostics)?,
            span: string.span,
        }),
    }
}

/// A string value as written, where it interpolates variables (its text
/// between the quotes): what a help line shows in place of one expansion's
/// text, so that it is right in every expansion.
pub(crate) fn template_form<'s>(sources: &'s SourceMap, value: &Value) -> Option<&'s str> {
    let Value::Str(_, span) = value else {
        return None;
    };
    let written = sources.snippet(*span);
    let inner = written.strip_prefix(['"', '`'])?.strip_suffix(['"', '`'])?;
    inner.contains("${").then_some(inner)
}

pub(crate) fn environment(value: &Value, diagnostics: &mut Diags) -> Option<Environment> {
    let names: Vec<&str> = Environment::ALL.iter().map(|e| e.as_str()).collect();
    units::word(value, &names, "an environment", diagnostics)
        .and_then(|word| Environment::parse(&word))
}

/// A Kubernetes label (or annotation) key: `[prefix/]name`.
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > 253 {
            return Err("the prefix before `/` must be 1 to 253 characters".to_string());
        }
        if !prefix
            .split('.')
            .all(|part| crate::resolve::check_dns_label(part).is_ok())
        {
            return Err("the prefix before `/` must be a lowercase DNS name".to_string());
        }
    }
    check_label_value(name).map_err(|why| format!("the name part: {why}"))?;
    if name.is_empty() {
        return Err("the name part is empty".to_string());
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!("{} characters; the limit is 63", value.len()));
    }
    if value.is_empty() {
        return Ok(());
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("only letters, digits, `-`, `_` and `.` are allowed".to_string());
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !value.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("it must start and end with a letter or digit".to_string());
    }
    Ok(())
}

/// A top-level block the program may have once (`gitops`, `federation`),
/// read against `fields`, and its keyword; a second one is E0202, at its
/// keyword, `why` saying why there is one.
pub(crate) fn read_one_block<'s>(
    checker: &Checker<'s, '_>,
    blocks: &[(&'s ast::Block, Span)],
    (keyword, why): (&str, &str),
    fields: &'static [schema::Field],
    diagnostics: &mut Diags,
) -> Option<(schema::Read<'s>, Span)> {
    let &(body, item) = blocks.first()?;
    // The keyword: the block may be many lines.
    let at = |item: Span| Span::new(item.start, item.start + keyword.len() as u32);
    for &(_, other) in &blocks[1..] {
        diagnostics.push(
            Diagnostic::new(
                Code::E0202,
                at(other),
                format!("a second `{keyword}` block"),
            )
            .label(why.to_string())
            .secondary(at(item), format!("the first `{keyword}` block"))
            .help("merge the two blocks into one"),
        );
    }
    let vars = Arc::new(Vec::new());
    let scope = checker.scope(&vars);
    let context = format!("the {keyword} block");
    let reading = schema::Reading {
        scope: &scope,
        context: &context,
        at: at(item),
        inherited: false,
        statements: schema::Statements::Reported,
        sources: checker.sources,
    };
    Some((schema::read(fields, body, &reading, diagnostics), at(item)))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{Checker, Diags, Model};
    use crate::diag::{self, Diagnostic};
    use crate::load::{self, FileSystem, InMemory, Loader};
    use crate::resolve::refs::DeclKind;
    use crate::source::SourceMap;

    /// Each template's name, and whether it was compiled.
    type Compiled = Vec<(String, bool)>;

    /// Checks `root` with templates compiled or evaluated: the Model, the
    /// diagnostics as rendered, and which templates were compiled.
    fn checked(
        root: &Path,
        loader: &dyn Loader,
        compile_templates: bool,
    ) -> Option<(Model, String, Compiled)> {
        let mut sources = SourceMap::new();
        let (program, mut diagnostics) = load::program(
            &[root.to_path_buf()],
            loader,
            &mut sources,
            &mut crate::syntax::parse,
        )
        .ok()?;
        if diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        let resolved = crate::resolve::resolve(&program, &mut diagnostics);
        let mut scratch = Diags::new();
        let mut templates_only = Checker::new(&resolved, &sources, compile_templates);
        templates_only.clusters(&mut scratch);
        templates_only.templates(&mut scratch);
        let mut compiled: Compiled = resolved
            .templates
            .iter()
            .filter_map(|decl| {
                let template = templates_only.templates.get(decl.id)?;
                Some((decl.name.clone(), template.is_compiled()))
            })
            .collect();
        compiled.sort();
        let mut checker = Checker::new(&resolved, &sources, compile_templates);
        checker.run(&mut diagnostics);
        let (model, _) = checker.into_model();
        let rendered = diag::render_plain(&sources, &diagnostics);
        Some((model, rendered, compiled))
    }

    fn env_k_files(folder: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(folder).expect("a folder of the repository") {
            let path = entry.expect("readable").path();
            if path.is_dir() {
                env_k_files(&path, out);
            } else if path.to_string_lossy().ends_with(".env.k") {
                out.push(path);
            }
        }
    }

    /// A compiled template fills in exactly what evaluating its body gives,
    /// for every program of the repository, clean or not.
    #[test]
    fn compiled_templates_fill_in_what_evaluation_gives() {
        let mut files = Vec::new();
        for folder in [
            "examples",
            "stdlib",
            "tests/ui",
            "tests/fixtures",
            "tests/golden",
        ] {
            env_k_files(Path::new(folder), &mut files);
        }
        let mut compared = 0;
        let mut compiled_somewhere = false;
        for file in &files {
            let Some((model, rendered, compiled)) = checked(file, &FileSystem, true) else {
                continue;
            };
            let (evaluated_model, evaluated_rendered, evaluated) =
                checked(file, &FileSystem, false).expect("loads as before");
            assert!(
                model == evaluated_model,
                "{}: the Models differ",
                file.display()
            );
            assert_eq!(rendered, evaluated_rendered, "{}", file.display());
            assert!(evaluated.iter().all(|(_, compiled)| !compiled));
            compiled_somewhere |= compiled.iter().any(|(_, compiled)| *compiled);
            compared += 1;
        }
        assert!(compared > 100, "only {compared} programs checked");
        assert!(compiled_somewhere);
    }

    /// The uses resolve binds where a `let`'s name is written are the
    /// reads evaluation makes: a `let` evaluation looked up has a bound
    /// use, and in a program that checks clean, a `let` with a bound use
    /// was looked up. Every program of the repository, so a construct the
    /// binder does not walk, or walks with the wrong variables in scope,
    /// fails here.
    #[test]
    fn bound_let_uses_are_the_reads_evaluation_makes() {
        let mut files = Vec::new();
        for folder in ["examples", "stdlib", "tests/ui", "tests/fixtures"] {
            env_k_files(Path::new(folder), &mut files);
        }
        let mut lets_seen = 0;
        let mut failures = Vec::new();
        for file in &files {
            let mut sources = SourceMap::new();
            let Ok((program, mut diagnostics)) = load::program(
                std::slice::from_ref(file),
                &FileSystem,
                &mut sources,
                &mut crate::syntax::parse,
            ) else {
                continue;
            };
            if diagnostics.iter().any(Diagnostic::is_error) {
                continue;
            }
            let resolved = crate::resolve::resolve(&program, &mut diagnostics);
            let mut checker = Checker::new(&resolved, &sources, true);
            checker.run(&mut diagnostics);
            let clean = !diagnostics.iter().any(Diagnostic::is_error);
            let unread: Vec<&str> = resolved.lets.unused().map(|(name, _)| name).collect();
            let refs = &resolved.refs;
            for (id, decl) in refs.decls() {
                // A `let` whose value failed is reported once, not read.
                if decl.kind != DeclKind::Let || resolved.lets.failed(&decl.name) {
                    continue;
                }
                lets_seen += 1;
                let read = !unread.contains(&decl.name.as_str());
                let bound = !refs.uses_of(id).is_empty();
                if read && !bound || clean && bound && !read {
                    failures.push(format!(
                        "{}: let `{}` read by evaluation: {read}, bound uses: {:?}",
                        file.display(),
                        decl.name,
                        refs.uses_of(id)
                            .into_iter()
                            .map(|span| sources.snippet(span))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        assert!(lets_seen > 40, "only {lets_seen} lets seen");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Each form a body can take, and what each name in it can be.
    #[test]
    fn a_body_compiles_only_when_it_is_text_filled_in_from_variables() {
        let program = r#"
cluster c {
  server      = "https://c.example.com"
  environment = production
  capacity    { cpu = 100  memory = 100Gi  pods = 1000 }
}
tier t { pod_security = restricted }
let owner = "platform"
let small = quota { requests.cpu = 1  requests.memory = 1Gi  pods = 10 }
let loud = critical

alert Plain(for: duration = 5m, ratio: ratio = 90%) {
  expr        = `up{namespace="${namespace}", cluster="${cluster}", tier="${tier}"} < ${ratio}`
  severity    = warning
  summary     = "${environment} ${family} ${stage} in ${namespace} for ${for}"
  description = "ratio ${ratio}"
}
alert UsesLet {
  expr     = `up{namespace="${namespace}", owner="${owner}"} == 0`
  severity = info
}
alert SeverityLet {
  expr     = `up{namespace="${namespace}"} == 0`
  severity = loud
}
alert WithLabels {
  expr     = `up{namespace="${namespace}"} == 0`
  severity = critical
  labels   { team = "${namespace}" }
}
alert QuotedKey {
  expr     = `up{namespace="${namespace}"} == 0`
  "severity" = critical
}

for team in ["a", "b"] {
  env "${team}" {
    quota = small
    ingress allow from environment production
    alert Plain
    alert UsesLet
    alert SeverityLet
    alert WithLabels
    alert QuotedKey
    stage prod on c tier t { alert Plain { ratio = 0.5 } }
  }
}
env solo on c tier t {
  quota = small
  ingress allow from environment production
  alert Plain { for = 10m }
}
"#;
        // `solo` is a plain env: its `${family}` is its own name and its
        // `${stage}` empty, in the compiled text as in evaluation.
        let loader = InMemory::new().with("main.env.k", program);
        let root = Path::new("main.env.k");
        let (model, rendered, compiled) = checked(root, &loader, true).expect("loads");
        let (evaluated_model, evaluated_rendered, _) =
            checked(root, &loader, false).expect("loads");
        assert_eq!(rendered, evaluated_rendered);
        assert!(model == evaluated_model);
        let names = |want: bool| -> Vec<&str> {
            compiled
                .iter()
                .filter(|(_, compiled)| *compiled == want)
                .map(|(name, _)| name.as_str())
                .collect()
        };
        assert_eq!(names(true), ["Plain", "UsesLet"], "{rendered}");
        assert_eq!(names(false), ["QuotedKey", "SeverityLet", "WithLabels"]);
        let rules = &model.env("a-prod").unwrap().alerts.rules;
        assert_eq!(rendered.matches("error[E0208]").count(), 0, "{rendered}");
        let solo = &model.env("solo").unwrap().alerts.rules[0];
        assert_eq!(
            solo.annotations["summary"],
            "production solo  in solo for 10m"
        );
        let alerts: Vec<&str> = rules.iter().map(|rule| rule.alert.as_str()).collect();
        assert_eq!(alerts.len(), 5, "{alerts:?}");
        let plain = rules
            .iter()
            .find(|rule| rule.alert == "Plain")
            .expect("Plain");
        assert_eq!(plain.annotations["description"], "ratio 0.5");
        let owned = rules
            .iter()
            .find(|rule| rule.alert == "UsesLet")
            .expect("UsesLet");
        assert!(owned.expr.contains(r#"owner="platform""#), "{}", owned.expr);
    }
}
