//! Quotas, limit ranges, tier ceilings and cluster capacity (E04xx).
//!
//! Invariants established here: every quota has limits ≥ requests; every
//! LimitRange has min ≤ default_request ≤ default ≤ max, and max within
//! its quota's limits; every env is within its tier's ceiling; on every
//! cluster the envs together request no more than its capacity.

use super::fields::{self, Fields, Keys, field_value};
use super::units::{self, Diags};
use super::{Checker, ClusterFacts, TierFacts};
use crate::cost::{self, Money};
use crate::diag::{Code, Diagnostic};
use crate::model::{
    self, Dimension, LimitKind, LimitMap, LimitResource, LimitValues, QuotaKey, QuotaMap,
    ResourceList,
};
use crate::resolve::EnvDecl;
use crate::resolve::refs::DeclId;
use crate::resolve::value::{Record, Scope, Value};
use crate::source::Span;
use crate::syntax::ast::{self, Number, RecordTag};

/// A quota (or ceiling) with where each key's value was written.
#[derive(Clone)]
pub(crate) struct TypedQuota {
    pub name: Option<String>,
    pub hard: ResourceList,
    pub key_spans: QuotaMap<Span>,
    /// The `quota` statement.
    pub span: Span,
}

pub(crate) struct TypedLimits {
    name: Option<String>,
    kind: LimitKind,
    items: LimitItems,
    span: Span,
}

/// The items of a limit range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LimitItem {
    Default,
    DefaultRequest,
    Max,
    Min,
}

impl LimitItem {
    /// In the order a container's items are listed.
    const ALL: [LimitItem; 4] = [
        LimitItem::Default,
        LimitItem::DefaultRequest,
        LimitItem::Max,
        LimitItem::Min,
    ];
    /// min ≤ default_request ≤ default ≤ max.
    const ORDER: [LimitItem; 4] = [
        LimitItem::Min,
        LimitItem::DefaultRequest,
        LimitItem::Default,
        LimitItem::Max,
    ];
    /// A container's items' names, and a Pod's or a claim's.
    const CONTAINER_NAMES: [&str; 4] = [
        LimitItem::Default.as_str(),
        LimitItem::DefaultRequest.as_str(),
        LimitItem::Max.as_str(),
        LimitItem::Min.as_str(),
    ];
    const BOUNDS_NAMES: [&str; 2] = [LimitItem::Max.as_str(), LimitItem::Min.as_str()];

    const fn as_str(self) -> &'static str {
        match self {
            LimitItem::Default => "default",
            LimitItem::DefaultRequest => "default_request",
            LimitItem::Max => "max",
            LimitItem::Min => "min",
        }
    }

    fn parse(name: &str) -> Option<LimitItem> {
        LimitItem::ALL
            .into_iter()
            .find(|item| item.as_str() == name)
    }
}

impl TypedLimits {
    pub fn into_model(mut self, checker: &Checker, env: &str) -> model::LimitRange {
        let mut take = |item: LimitItem| {
            self.items
                .take(item)
                .map(|(values, _)| values)
                .unwrap_or_default()
        };
        model::LimitRange {
            name: self
                .name
                .take()
                .unwrap_or_else(|| [env, "-limits"].concat()),
            kind: self.kind,
            default: take(LimitItem::Default),
            default_request: take(LimitItem::DefaultRequest),
            max: take(LimitItem::Max),
            min: take(LimitItem::Min),
            source: checker.source(self.span),
        }
    }
}

fn quota_keys() -> Vec<&'static str> {
    QuotaKey::ALL.iter().map(|key| key.as_str()).collect()
}

/// What a record of quota keys is read as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceRecord {
    /// An env's quota: its limits must cover its requests.
    Quota,
    /// A tier's ceiling: each key on its own.
    Ceiling,
}

impl ResourceRecord {
    fn what(self) -> &'static str {
        match self {
            ResourceRecord::Quota => "a quota",
            ResourceRecord::Ceiling => "a ceiling",
        }
    }
}

/// Types a record of quota keys (a quota or a ceiling), applying `* n`.
pub(crate) fn resource_record<'a>(
    checker: &Checker<'_, 'a>,
    value: Value<'a>,
    kind: ResourceRecord,
    context: &str,
    diagnostics: &mut Diags,
) -> Option<TypedQuota> {
    let what = kind.what();
    match value {
        Value::Product { operands, span } => {
            let (base, factor, factor_span) = units::scaling(*operands, diagnostics)?;
            let typed = resource_record(checker, base, kind, context, diagnostics)?;
            scale(typed, &factor, factor_span, span, diagnostics)
        }
        Value::Record(record) => {
            if let Some(RecordTag::Limits(_)) = record.tag {
                diagnostics.push(
                    Diagnostic::new(Code::E0301, record.span, format!("expected {what}, found a limit range"))
                        .label("this is a limit range")
                        .help("a limit range goes in `limits = …`; a quota is `quota { requests.cpu = … }`"),
                );
                return None;
            }
            let mut typed =
                checker
                    .records
                    .quotas
                    .typed(&record, what, diagnostics, |diagnostics| {
                        quota_record(checker, &record, kind, context, diagnostics)
                    })?;
            typed.span = record.span;
            Some(typed)
        }
        other => {
            diagnostics.push(
                Diagnostic::new(Code::E0301, other.span(), format!("expected {what}, found {}", other.describe()))
                    .label(format!("this is {}", other.describe()))
                    .help(format!("{what} is a block such as `{{ requests.cpu = 2  pods = 20 }}`, or a `let` holding one")),
            );
            None
        }
    }
}

/// The keys of a quota record and their values, checked.
fn quota_record<'a>(
    checker: &Checker<'_, 'a>,
    record: &Record<'a>,
    kind: ResourceRecord,
    context: &str,
    diagnostics: &mut Diags,
) -> Option<TypedQuota> {
    let scope = checker.scope(&record.vars);
    let keys = quota_keys();
    let fields = Fields::read_only_fields(
        record.body,
        Keys::Names(&keys),
        context,
        &scope,
        diagnostics,
    );
    let mut typed = TypedQuota {
        name: None,
        hard: ResourceList::new(),
        key_spans: QuotaMap::new(),
        span: record.span,
    };
    let mut ok = true;
    for entry in &fields.entries {
        let key = QuotaKey::parse(&entry.key).expect("Fields only keeps allowed keys");
        let Some(value) = field_value(entry, &scope, diagnostics) else {
            ok = false;
            continue;
        };
        match units::quantity(key.dimension(), &value, diagnostics) {
            Some(quantity) => {
                typed.hard.insert(key, quantity);
                typed.key_spans.insert(key, value.span());
            }
            None => ok = false,
        }
    }
    if ok && kind == ResourceRecord::Quota {
        check_limits_above_requests(&typed, diagnostics);
    }
    ok.then_some(typed)
}

impl TypedQuota {
    /// Where to point for `key`: its value when written in this quota's own
    /// statement, else the statement (a shared `let` says nothing about
    /// which env is at fault).
    pub fn span_of(&self, key: QuotaKey) -> Span {
        match self.key_spans.get(&key) {
            Some(&span) if span.start >= self.span.start && span.end <= self.span.end => span,
            _ => self.span,
        }
    }
}

/// limits ≥ requests in one quota record, checked where the record is
/// written (a shared `let` is reported once, at its values); scaling keeps
/// the order.
fn check_limits_above_requests(quota: &TypedQuota, diagnostics: &mut Diags) {
    for request in QuotaKey::ALL {
        let Some(limit) = request.limit_of() else {
            continue;
        };
        if let (Some(&requested), Some(&limited)) =
            (quota.hard.get(&request), quota.hard.get(&limit))
            && limited < requested
        {
            let dimension = request.dimension();
            diagnostics.push(
                Diagnostic::new(
                    Code::E0401,
                    quota.key_spans[&limit],
                    format!("`{}` is below `{}`", limit.as_str(), request.as_str()),
                )
                .label(format!("limits {}", dimension.format(limited)))
                .secondary(quota.key_spans[&request], format!("requests {}", dimension.format(requested)))
                .help(format!(
                    "a namespace can never use its requests if its limits are lower: raise `{}` to at least {}",
                    limit.as_str(),
                    dimension.format(requested)
                )),
            );
        }
    }
}

/// `quota * factor`: counts round down, quantities to the nearest unit; a
/// value that scales to 0 is an error.
fn scale(
    mut typed: TypedQuota,
    factor: &Number,
    factor_span: Span,
    span: Span,
    diagnostics: &mut Diags,
) -> Option<TypedQuota> {
    let denominator = 10u128.checked_pow(factor.scale)?;
    let mut ok = true;
    for (key, value) in typed.hard.iter_mut() {
        let product = (*value as u128).checked_mul(factor.mantissa);
        let scaled = product.map(|p| match key.dimension() {
            Dimension::Count => p / denominator,
            Dimension::Cpu | Dimension::Memory => (p + denominator / 2) / denominator,
        });
        match scaled.and_then(|s| u64::try_from(s).ok()) {
            Some(0) if *value > 0 => {
                ok = false;
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0306,
                        factor_span,
                        format!("`{}` scales to 0", key.as_str()),
                    )
                    .label(format!(
                        "{} × this factor is 0",
                        key.dimension().format(*value)
                    ))
                    .secondary(
                        typed.key_spans.get(&key).copied().unwrap_or(typed.span),
                        "the value scaled",
                    )
                    .help("use a larger factor, or give this key a larger base value"),
                );
            }
            Some(result) => *value = result,
            None => {
                ok = false;
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0306,
                        factor_span,
                        format!("`{}` is too large once scaled", key.as_str()),
                    )
                    .label("the product does not fit")
                    .help("use a smaller factor"),
                );
            }
        }
    }
    typed.span = span;
    ok.then_some(typed)
}

/// `quota NAME { … }`, `quota { … }` or `quota = EXPR` in an env.
pub(crate) fn quota_stmt<'a>(
    checker: &Checker<'_, 'a>,
    quota: &'a ast::Quota,
    span: Span,
    scope: &Scope<'_, 'a>,
    env: &str,
    diagnostics: &mut Diags,
) -> Option<TypedQuota> {
    let context = format!("the quota of env `{env}`");
    let (name, value) = match quota {
        ast::Quota::Block { name, body } => {
            let name = match name {
                Some(name) => Some(object_name(name, scope, diagnostics)?),
                None => None,
            };
            let value = Value::Record(crate::resolve::value::Record {
                tag: Some(RecordTag::Quota),
                body,
                vars: scope.vars.clone(),
                span: body.span,
                evaluated: None,
            });
            (name, value)
        }
        ast::Quota::Expr(expr) => (None, units::eval(expr, scope, diagnostics)?),
    };
    let mut typed = resource_record(checker, value, ResourceRecord::Quota, &context, diagnostics)?;
    typed.name = name;
    typed.span = span;
    Some(typed)
}

/// A Kubernetes object name given with `quota NAME` or `as NAME`.
pub(crate) fn object_name(
    name: &ast::Name,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<String> {
    let text = super::written_name(name, scope, diagnostics)?.text;
    // ResourceQuota and LimitRange names are DNS subdomains.
    match crate::resolve::check_dns_subdomain(&text) {
        Ok(()) => Some(text),
        Err(why) => {
            diagnostics.push(crate::resolve::dns_subdomain_diagnostic(
                &text,
                name.span(),
                &why,
            ));
            None
        }
    }
}

/// `limits NAME KIND { … }` or `limits = EXPR` in an env.
pub(crate) fn limits_stmt<'a>(
    checker: &Checker<'_, 'a>,
    limits: &'a ast::Limits,
    span: Span,
    scope: &Scope<'_, 'a>,
    env: &str,
    diagnostics: &mut Diags,
) -> Option<TypedLimits> {
    let (name, value) = match limits {
        ast::Limits::Block {
            name, kind, body, ..
        } => {
            let name = match name {
                Some(name) => Some(object_name(name, scope, diagnostics)?),
                None => None,
            };
            let value = Value::Record(crate::resolve::value::Record {
                tag: Some(RecordTag::Limits(*kind)),
                body,
                vars: scope.vars.clone(),
                span: body.span,
                evaluated: None,
            });
            (name, value)
        }
        ast::Limits::Expr(expr) => (None, units::eval(expr, scope, diagnostics)?),
    };
    let (record, kind) = limits_record(value, diagnostics)?;
    let items = checker
        .records
        .limits
        .typed(&record, "limits", diagnostics, |diagnostics| {
            // Made only when the record is typed, not at every use of a
            // shared one.
            let context = format!("the {} limit range of env `{env}`", kind.as_str());
            limit_items(checker, &record, kind, &context, diagnostics)
        })?;
    Some(TypedLimits {
        name,
        kind,
        items,
        span,
    })
}

/// A limit range's items, typed where a `let` nothing uses declares it.
pub(crate) fn unused_limits<'a>(
    checker: &Checker<'_, 'a>,
    name: &str,
    value: Value<'a>,
    diagnostics: &mut Diags,
) -> Option<LimitItems> {
    let (record, kind) = limits_record(value, diagnostics)?;
    let context = format!("the {} limit range of let `{name}`", kind.as_str());
    limit_items(checker, &record, kind, &context, diagnostics)
}

/// The record and kind of a value used as a limit range.
fn limits_record<'a>(value: Value<'a>, diagnostics: &mut Diags) -> Option<(Record<'a>, LimitKind)> {
    let Value::Record(record) = value else {
        diagnostics.push(
            Diagnostic::new(Code::E0301, value.span(), format!("expected a limit range, found {}", value.describe()))
                .label(format!("this is {}", value.describe()))
                .help("a limit range is `limits container { default { … } max { … } }`, or a `let` holding one"),
        );
        return None;
    };
    let Some(RecordTag::Limits(kind)) = record.tag else {
        diagnostics.push(
            Diagnostic::new(
                Code::E0301,
                record.span,
                "expected a limit range, found a record without a kind",
            )
            .label("no `container`, `pod` or `persistentvolumeclaim`")
            .help("write `limits container { … }`"),
        );
        return None;
    };
    let kind = match kind {
        ast::LimitKind::Container => LimitKind::Container,
        ast::LimitKind::Pod => LimitKind::Pod,
        ast::LimitKind::PersistentVolumeClaim => LimitKind::PersistentVolumeClaim,
    };
    Some((record, kind))
}

/// A limit range's items, each with where its values were written,
/// indexed by `LimitItem`.
#[derive(Clone, Default)]
pub(crate) struct LimitItems([Option<(LimitValues, LimitMap<Span>)>; LimitItem::ALL.len()]);

impl LimitItems {
    fn get(&self, item: LimitItem) -> Option<&(LimitValues, LimitMap<Span>)> {
        self.0[item as usize].as_ref()
    }

    fn take(&mut self, item: LimitItem) -> Option<(LimitValues, LimitMap<Span>)> {
        self.0[item as usize].take()
    }

    fn set(&mut self, item: LimitItem, values: (LimitValues, LimitMap<Span>)) {
        self.0[item as usize] = Some(values);
    }
}

/// The items of a limit range record (`default { cpu = … }`, …), checked.
fn limit_items<'a>(
    checker: &Checker<'_, 'a>,
    record: &Record<'a>,
    kind: LimitKind,
    context: &str,
    diagnostics: &mut Diags,
) -> Option<LimitItems> {
    let scope = checker.scope(&record.vars);
    // What Kubernetes accepts for each kind of LimitRange item.
    let (allowed_fields, allowed_resources): (&[&str], &[LimitResource]) = match kind {
        LimitKind::Container => (
            &LimitItem::CONTAINER_NAMES,
            &[
                LimitResource::Cpu,
                LimitResource::Memory,
                LimitResource::EphemeralStorage,
            ],
        ),
        LimitKind::Pod => (
            &LimitItem::BOUNDS_NAMES,
            &[
                LimitResource::Cpu,
                LimitResource::Memory,
                LimitResource::EphemeralStorage,
            ],
        ),
        LimitKind::PersistentVolumeClaim => (&LimitItem::BOUNDS_NAMES, &[LimitResource::Storage]),
    };
    let fields = Fields::read_only_fields(
        record.body,
        Keys::Names(allowed_fields),
        context,
        &scope,
        diagnostics,
    );
    let resources: Vec<&str> = allowed_resources.iter().map(|r| r.as_str()).collect();
    let mut items = LimitItems::default();
    let mut ok = true;
    for entry in &fields.entries {
        let Some(value) = field_value(entry, &scope, diagnostics) else {
            ok = false;
            continue;
        };
        let Some((record, vars)) = fields::record(value, "a block of resources", diagnostics)
        else {
            ok = false;
            continue;
        };
        let inner_scope = checker.scope(&vars);
        let inner_context = format!("`{}` of {context}", entry.key);
        let inner = Fields::read_only_fields(
            record.body,
            Keys::Names(&resources),
            &inner_context,
            &inner_scope,
            diagnostics,
        );
        let mut values = LimitValues::new();
        let mut spans = LimitMap::new();
        for resource_entry in &inner.entries {
            let resource = LimitResource::ALL
                .into_iter()
                .find(|r| r.as_str() == resource_entry.key)
                .expect("Fields only keeps allowed keys");
            let Some(value) = field_value(resource_entry, &inner_scope, diagnostics) else {
                ok = false;
                continue;
            };
            match units::quantity(resource.dimension(), &value, diagnostics) {
                Some(quantity) => {
                    values.insert(resource, quantity);
                    spans.insert(resource, value.span());
                }
                None => ok = false,
            }
        }
        let item = LimitItem::parse(&entry.key).expect("Fields only keeps allowed keys");
        items.set(item, (values, spans));
    }
    ok.then_some(items)
}

/// The checks of one env's quota and limit range against each other and
/// against its tier.
pub(crate) fn check_env(
    decl: &EnvDecl,
    tier: &TierFacts,
    cluster: &ClusterFacts,
    quota: Option<&TypedQuota>,
    limits: Option<&TypedLimits>,
    diagnostics: &mut Diags,
) {
    if let Some(limits) = limits {
        check_limit_order(limits, diagnostics);
        if let Some(quota) = quota {
            check_limits_within_quota(limits, quota, diagnostics);
        }
    }
    let ceiling = &tier.model.ceiling;
    if !tier.needs_quota() {
        return;
    }
    let Some(quota) = quota else {
        let (what, at) = match ceiling.is_empty() {
            // The first key the ceiling caps, where it is written.
            false => (
                "a ceiling",
                ceiling
                    .iter()
                    .find_map(|(key, _)| tier.ceiling_spans.get(&key).copied())
                    .unwrap_or(tier.name_span),
            ),
            true => ("a budget", tier.budget_span.unwrap_or(tier.name_span)),
        };
        diagnostics.push(
            Diagnostic::new(
                Code::E0406,
                decl.name_span,
                format!(
                    "env `{}` has no quota, but tier `{}` has {what}",
                    decl.name, tier.model.name
                ),
            )
            .label("without a quota this namespace is unbounded")
            .secondary(
                at,
                format!(
                    "the tier's {}, which applies to every env in it",
                    &what[2..]
                ),
            )
            .help(format!(
                "give the env a `quota {{ … }}` within the {}",
                &what[2..]
            )),
        );
        return;
    };
    if let Some(budget) = tier.model.budget {
        check_budget(decl, tier, cluster, quota, budget, diagnostics);
    }
    for (key, &bound) in ceiling.iter() {
        let ceiling_span = tier
            .ceiling_spans
            .get(&key)
            .copied()
            .unwrap_or(tier.name_span);
        match quota.hard.get(&key) {
            Some(&value) if value > bound => {
                let dimension = key.dimension();
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0404,
                        quota.span_of(key),
                        format!(
                            "`{}` is above the ceiling of tier `{}`",
                            key.as_str(),
                            tier.model.name
                        ),
                    )
                    .label(format!("{} asked", dimension.format(value)))
                    .secondary(
                        ceiling_span,
                        format!("the ceiling is {}", dimension.format(bound)),
                    )
                    .help(format!(
                        "lower `{}` to at most {}, or place the env in a larger tier",
                        key.as_str(),
                        dimension.format(bound)
                    )),
                );
            }
            Some(_) => {}
            None => diagnostics.push(
                Diagnostic::new(
                    Code::E0404,
                    quota.span,
                    format!(
                        "the quota of env `{}` sets no `{}`, which tier `{}` caps",
                        decl.name,
                        key.as_str(),
                        tier.model.name
                    ),
                )
                .label(format!("no `{}` here, so it is unbounded", key.as_str()))
                .secondary(
                    ceiling_span,
                    format!("capped at {}", key.dimension().format(bound)),
                )
                .help(format!(
                    "add `{} = …` to the quota, at most {}",
                    key.as_str(),
                    key.dimension().format(bound)
                )),
            ),
        }
    }
}

/// E0406 and E0408: an env of a tier with a budget must request cpu and
/// memory in its quota, and their cost a month at its cluster's prices
/// must be within the budget.
fn check_budget(
    decl: &EnvDecl,
    tier: &TierFacts,
    cluster: &ClusterFacts,
    quota: &TypedQuota,
    budget: Money,
    diagnostics: &mut Diags,
) {
    let budget_span = tier.budget_span.unwrap_or(tier.name_span);
    let unset: Vec<QuotaKey> = [QuotaKey::RequestsCpu, QuotaKey::RequestsMemory]
        .into_iter()
        .filter(|key| !quota.hard.contains_key(key))
        .collect();
    if let Some(&key) = unset.first() {
        let keys = unset
            .iter()
            .map(|key| format!("`{}`", key.as_str()))
            .collect::<Vec<_>>()
            .join(" and ");
        diagnostics.push(
            Diagnostic::new(
                Code::E0406,
                quota.span,
                format!(
                    "the quota of env `{}` sets no {keys}, but tier `{}` has a budget",
                    decl.name, tier.model.name
                ),
            )
            .label(format!(
                "no {keys} here, so what the env costs is unbounded"
            ))
            .secondary(budget_span, format!("a budget of {budget} a month per env"))
            .help(format!(
                "add `{} = …` to the quota: the budget is charged on requests",
                key.as_str()
            )),
        );
        return;
    }
    let price = &cluster.model.price;
    let cpu = quota.hard[&QuotaKey::RequestsCpu];
    let memory = quota.hard[&QuotaKey::RequestsMemory];
    let cost = cost::of_quota(&quota.hard, price);
    let total = cost.requests;
    if total <= budget {
        return;
    }
    let prices = match cluster.price_span {
        Some(_) => format!("cluster `{}`'s prices", cluster.model.name),
        None => "the default prices".to_string(),
    };
    let mut diagnostic = Diagnostic::new(
        Code::E0408,
        quota.span,
        format!(
            "env `{}` costs `{total}` a month, `{}` over the budget of tier `{}`",
            decl.name,
            total.saturating_sub(budget),
            tier.model.name
        ),
    )
    .label(format!(
        "requests {} cpu ({}) and {} of memory ({}) a month at {prices}",
        Dimension::Cpu.format(cpu),
        cost.cpu,
        Dimension::Memory.format(memory),
        cost.memory
    ))
    .secondary(budget_span, format!("a budget of {budget} a month per env"));
    if let Some(span) = cluster.price_span {
        diagnostic = diagnostic.secondary(span, "the prices");
    }
    diagnostics.push(diagnostic.help(within_budget(price, budget, cpu, memory, &cost, tier)));
}

/// How to bring a quota's requests within `budget`: the one request whose
/// lowering alone suffices, cpu first, with the most it may be.
fn within_budget(
    price: &cost::Price,
    budget: Money,
    cpu: u64,
    memory: u64,
    cost: &cost::Cost,
    tier: &TierFacts,
) -> String {
    let over = cost.requests.saturating_sub(budget);
    // The largest amount whose month at `unit_price` (per `per` units an
    // hour) fits in `allowed`, rounded down to `step`.
    let most = |allowed: Money, unit_price: Money, per: u128, step: u64| -> u64 {
        let month = u128::from(unit_price.0) * u128::from(cost::HOURS_PER_MONTH);
        let amount = u128::from(allowed.0) * per / month.max(1);
        let amount = u64::try_from(amount).unwrap_or(u64::MAX);
        amount - amount % step
    };
    let lower = if price.cpu.0 > 0 && cost.cpu >= over {
        let at_most = most(budget.saturating_sub(cost.memory), price.cpu, 1000, 1);
        // Lowering to nothing is no advice: the other request is then
        // what to lower.
        (at_most < cpu && at_most > 0).then(|| {
            format!(
                "lower `requests.cpu` to at most {}",
                Dimension::Cpu.format(at_most)
            )
        })
    } else {
        None
    };
    let lower = lower.or_else(|| {
        (price.memory.0 > 0 && cost.memory >= over)
            .then(|| {
                let at_most = most(
                    budget.saturating_sub(cost.cpu),
                    price.memory,
                    1 << 30,
                    1 << 20,
                );
                (at_most < memory && at_most > 0).then(|| {
                    format!(
                        "lower `requests.memory` to at most {}",
                        Dimension::Memory.format(at_most)
                    )
                })
            })
            .flatten()
    });
    let lower = lower.unwrap_or_else(|| "lower both `requests.cpu` and `requests.memory`".into());
    format!(
        "{lower}, raise the budget of tier `{}`, or place the env in another tier",
        tier.model.name
    )
}

/// A container's max, default limit and default request must each fit in
/// what the whole namespace may use.
fn check_limits_within_quota(limits: &TypedLimits, quota: &TypedQuota, diagnostics: &mut Diags) {
    type Bound = fn(LimitResource) -> Option<QuotaKey>;
    let bounds: [(LimitItem, Bound); 3] = [
        (LimitItem::Max, LimitResource::quota_limit),
        (LimitItem::Default, LimitResource::quota_limit),
        (LimitItem::DefaultRequest, LimitResource::quota_request),
    ];
    for (item, bound_key) in bounds {
        let field = item.as_str();
        let Some((values, spans)) = limits.items.get(item) else {
            continue;
        };
        for (resource, &value) in values.iter() {
            let Some(key) = bound_key(resource) else {
                continue;
            };
            if let Some(&bound) = quota.hard.get(&key)
                && value > bound
            {
                let dimension = resource.dimension();
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0403,
                        spans[&resource],
                        format!(
                            "LimitRange `{field}` {} is above the quota's `{}`",
                            resource.as_str(),
                            key.as_str()
                        ),
                    )
                    .label(format!("{field} {}", dimension.format(value)))
                    .secondary(
                        quota.span_of(key),
                        format!(
                            "the whole namespace may only use {}",
                            dimension.format(bound)
                        ),
                    )
                    .help(format!(
                        "lower `{field} {{ {} = … }}` to at most {}",
                        resource.as_str(),
                        dimension.format(bound)
                    )),
                );
            }
        }
    }
}

/// min ≤ default_request ≤ default ≤ max, for every resource they share.
fn check_limit_order(limits: &TypedLimits, diagnostics: &mut Diags) {
    // Each field looked up once, not once per resource.
    let fields = LimitItem::ORDER.map(|item| (item.as_str(), limits.items.get(item)));
    for resource in LimitResource::ALL {
        // At most one value per field: kept on the stack, as this runs for
        // every resource of every env.
        let mut present = [("", 0, Span::new(0, 0)); LimitItem::ORDER.len()];
        let mut count = 0;
        for (field, item) in fields {
            if let Some((values, spans)) = item
                && let Some(&value) = values.get(&resource)
            {
                present[count] = (field, value, spans[&resource]);
                count += 1;
            }
        }
        for pair in present[..count].windows(2) {
            let (low_field, low, low_span) = pair[0];
            let (high_field, high, high_span) = pair[1];
            if low > high {
                let dimension = resource.dimension();
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0402,
                        high_span,
                        format!("LimitRange `{high_field}` {} is below `{low_field}`", resource.as_str()),
                    )
                    .label(format!("{high_field} {}", dimension.format(high)))
                    .secondary(low_span, format!("{low_field} {}", dimension.format(low)))
                    .help("a limit range must satisfy min ≤ default_request ≤ default ≤ max for each resource"),
                );
            }
        }
    }
}

/// Per cluster: the envs' requests together within its capacity.
pub(crate) fn check_capacity(checker: &Checker, diagnostics: &mut Diags) {
    // By name, as the clusters are written out.
    let mut clusters: Vec<(DeclId, &super::ClusterFacts)> = checker
        .resolved
        .clusters
        .iter()
        .filter_map(|decl| Some((decl.id, checker.cluster_facts.get(decl.id)?)))
        .collect();
    clusters.sort_unstable_by(|(_, a), (_, b)| a.model.name.cmp(&b.model.name));
    for (id, facts) in clusters {
        let cluster = &facts.model;
        let name = &cluster.name;
        let on_cluster: Vec<&super::EnvFacts> = checker
            .envs
            .iter()
            .filter(|env| env.cluster == id && !env.quota_failed)
            .collect();
        let dimensions: Vec<(&str, QuotaKey, u64)> = [
            ("cpu", QuotaKey::RequestsCpu, cluster.capacity.cpu),
            ("memory", QuotaKey::RequestsMemory, cluster.capacity.memory),
            ("pods", QuotaKey::Pods, cluster.capacity.pods),
        ]
        .into_iter()
        .filter_map(|(key, quota_key, capacity)| Some((key, quota_key, capacity?)))
        .collect();
        if dimensions.is_empty() {
            continue;
        }
        // An env that cannot be counted is reported once, with every key it
        // lacks.
        for env in &on_cluster {
            let missing: Vec<QuotaKey> = dimensions
                .iter()
                .map(|&(_, key, _)| key)
                .filter(|key| !env.quota.as_ref().is_some_and(|q| q.hard.contains_key(key)))
                .collect();
            if missing.is_empty() || (env.quota.is_none() && env.missing_quota_reported) {
                continue;
            }
            let keys = missing
                .iter()
                .map(|k| format!("`{}`", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            let (at, label) = match &env.quota {
                Some(quota) => (quota.span, format!("this quota sets no {keys}")),
                None => (env.name_span, "this env has no quota".to_string()),
            };
            let mut diagnostic = Diagnostic::new(
                Code::E0406,
                at,
                format!(
                    "env `{}` cannot be counted against cluster `{name}`'s capacity",
                    env.model.name
                ),
            )
            .label(label)
            .help(format!("give the env a quota with {keys}"));
            // Each capacity the quota cannot be counted against.
            for &(capacity_key, quota_key, _) in &dimensions {
                if missing.contains(&quota_key) {
                    diagnostic = diagnostic.secondary(
                        facts.capacity_spans[capacity_key],
                        format!(
                            "cluster `{name}`'s `{capacity_key}`, counted from `{}`",
                            quota_key.as_str()
                        ),
                    );
                }
            }
            diagnostics.push(diagnostic);
        }
        for (capacity_key, quota_key, capacity) in dimensions {
            let capacity_span = facts.capacity_spans[capacity_key];
            let mut contributors: Vec<(u64, &super::EnvFacts)> = Vec::new();
            let mut total: u128 = 0;
            for env in &on_cluster {
                if let Some(&value) = env.quota.as_ref().and_then(|q| q.hard.get(&quota_key)) {
                    total += value as u128;
                    contributors.push((value, env));
                }
            }
            if total <= capacity as u128 {
                continue;
            }
            let dimension = quota_key.dimension();
            contributors.sort_by(|a, b| {
                b.0.cmp(&a.0)
                    .then_with(|| a.1.model.name.cmp(&b.1.model.name))
            });
            // `memory = 256` is 256 bytes, which no one means: say so where
            // the capacity is written.
            let written = checker.sources.snippet(capacity_span);
            let raw_bytes = dimension == model::Dimension::Memory
                && written.bytes().all(|byte| byte.is_ascii_digit());
            let label = if raw_bytes {
                format!("{written} bytes — did you mean `{written}Gi`?")
            } else {
                format!("capacity {}", dimension.amount(capacity))
            };
            let mut diagnostic = Diagnostic::new(
                Code::E0405,
                capacity_span,
                format!(
                    "cluster `{name}` is over-committed: its envs request {} {capacity_key} in all, but its capacity is {}",
                    dimension.amount(u64::try_from(total).unwrap_or(u64::MAX)),
                    dimension.amount(capacity)
                ),
            )
            .label(label);
            let mut used_spans = Vec::new();
            for (value, env) in contributors.iter().take(3) {
                // Envs that share a `let` quota share its span; name them
                // by their own name instead, so labels do not pile up.
                let mut span = env
                    .quota
                    .as_ref()
                    .map_or(env.name_span, |q| q.span_of(quota_key));
                if used_spans.contains(&span) {
                    span = env.name_span;
                }
                used_spans.push(span);
                diagnostic = diagnostic.secondary(
                    span,
                    format!(
                        "env `{}` requests {}",
                        env.model.name,
                        dimension.amount(*value)
                    ),
                );
            }
            if contributors.len() > 3 {
                diagnostic = diagnostic.note(format!(
                    "{} envs in all request {capacity_key} on this cluster",
                    contributors.len()
                ));
            }
            diagnostics.push(diagnostic.help(format!(
                "lower the {capacity_key} the largest envs request by {} in all, or raise the cluster's capacity",
                dimension.amount(u64::try_from(total - capacity as u128).unwrap_or(u64::MAX))
            )));
        }
    }
}
