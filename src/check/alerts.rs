//! Alert templates and the rules envs make of them (E07xx).
//!
//! Invariants established here: every alert expression is PromQL that
//! parses once its parameters and namespace are filled in, and reads
//! only its own namespace (the rule is `scope.rs`'s); every parameter an
//! env passes exists and has the template's type; every alert a tier
//! requires is used by its envs.

use std::sync::Arc;

use promql_parser::parser as promql;

use super::fields::{self, Fields, Keys, field_value};
use super::schema;

/// A template's body, read against its table.
const TEMPLATE_FIELDS: Keys = Keys::Table(schema::ALERT_TEMPLATE);
use super::units::{self, Diags};
use super::{Checker, EnvDraft, TierFacts};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Dimension, Duration, Exporters, Ratio, TextMap};
use crate::resolve::bind::ENV_CONTEXT;
use crate::resolve::refs::Expanded;
use crate::resolve::value::{Scope, Value, VarName, Vars};
use crate::resolve::{Decl, EnvDecl};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, Block, FieldValue};

pub(crate) const SEVERITIES: &[&str] = &["info", "warning", "critical"];
const PARAM_TYPES: &[&str] = &[
    "ratio", "duration", "count", "string", "cpu", "memory", "bool",
];
/// Fields every use of a template may set besides its parameters: the
/// rule's `severity` and extra labels, so that one template can be a
/// warning and, `as` another rule, a critical alert.
const OVERRIDES: &[&str] = &["severity", "labels"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamType {
    Ratio,
    Duration,
    Count,
    Text,
    Cpu,
    Memory,
    Bool,
}

#[derive(Clone, Debug)]
enum ParamValue {
    Ratio(Ratio),
    Duration(Duration),
    Count(u64),
    Text(String),
    Quantity(Dimension, u64),
    Bool(bool),
}

impl ParamValue {
    /// How the value reads inside PromQL and annotations.
    fn text(&self) -> String {
        match self {
            ParamValue::Ratio(ratio) => ratio.to_string(),
            ParamValue::Duration(duration) => duration.to_string(),
            ParamValue::Count(count) => count.to_string(),
            ParamValue::Text(text) => text.clone(),
            // Prometheus compares raw numbers: cores and bytes.
            ParamValue::Quantity(Dimension::Cpu, millis) => Ratio {
                numerator: *millis as u128,
                scale: 3,
            }
            .to_string(),
            ParamValue::Quantity(_, value) => value.to_string(),
            ParamValue::Bool(value) => value.to_string(),
        }
    }
}

/// A parameter's value and the text it fills in, made once where the
/// value is typed: a template used by a thousand envs formats its defaults
/// once, not at every use.
#[derive(Clone, Debug)]
struct Filled {
    value: ParamValue,
    text: String,
}

impl Filled {
    fn new(value: ParamValue) -> Filled {
        let text = value.text();
        Filled { value, text }
    }
}

/// The value of each parameter at one use, by name.
type Values<'v> = [(&'v str, &'v Filled)];

struct Param {
    name: String,
    ty: ParamType,
    default: Option<Filled>,
}

/// A template that checked clean at its declaration.
pub(crate) struct Template<'a> {
    name_span: Span,
    params: Vec<Param>,
    body: &'a Block,
    vars: Vars<'a>,
    /// The body as text to fill in, when it is only that.
    compiled: Option<Compiled<'a>>,
}

/// A template body whose fields are strings filled in from variables and
/// a severity word, as most templates are: at a use, its text is filled in
/// directly instead of evaluating the body in a scope built for the use.
/// A body with anything else (`labels`, a `let`, a number) is evaluated.
struct Compiled<'a> {
    expr: &'a ast::StringLit,
    expr_span: Span,
    severity: &'a str,
    summary: Option<&'a ast::StringLit>,
    description: Option<&'a ast::StringLit>,
}

#[cfg(test)]
impl Template<'_> {
    pub(super) fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }
}

impl<'a> Compiled<'a> {
    /// The body as a `Compiled`, if that is all it is. Called only for a
    /// body that checked clean: every field is allowed and set once.
    fn of(body: &'a Block, scope: &Scope) -> Option<Compiled<'a>> {
        let (mut expr, mut severity, mut summary, mut description) = (None, None, None, None);
        for stmt in &body.stmts {
            let ast::StmtKind::Field(field) = &stmt.kind else {
                return None;
            };
            let (ast::Key::Path(key), FieldValue::Expr(value)) = (&field.key, &field.value) else {
                return None;
            };
            match (ast::path_text(key).as_ref(), &value.kind) {
                ("expr", ast::ExprKind::Str(text)) => expr = Some((text, value.span)),
                ("summary", ast::ExprKind::Str(text)) => summary = Some(text),
                ("description", ast::ExprKind::Str(text)) => description = Some(text),
                // A bare word, not a `let`: the severity itself.
                ("severity", ast::ExprKind::Name(word))
                    if scope.lets.get(&word.text).is_none()
                        && !scope.lets.failed(&word.text)
                        && SEVERITIES.contains(&word.text.as_str()) =>
                {
                    severity = Some(word.text.as_str());
                }
                _ => return None,
            }
        }
        let (expr, expr_span) = expr?;
        Some(Compiled {
            expr,
            expr_span,
            severity: severity?,
            summary,
            description,
        })
    }

    /// The rule's expression and annotations filled in, as `fill` does,
    /// and the expression's [`Shape`] in `shape`; `None` where any of
    /// them cannot be.
    fn texts(
        &self,
        values: &Values,
        context: &[(&str, &str)],
        vars: &[(VarName, Value)],
        shape: &mut Shape,
    ) -> Option<(String, TextMap)> {
        shape.start(self.expr.span, Made::Filled);
        let expr = Self::fill(self.expr, values, context, vars, Some(shape))?;
        let mut annotations = TextMap::with_capacity(2);
        for (key, text) in [("summary", self.summary), ("description", self.description)] {
            if let Some(text) = text {
                annotations.insert(
                    key.to_string(),
                    Self::fill(text, values, context, vars, None)?,
                );
            }
        }
        Some((expr, annotations))
    }

    /// `text` filled in as `interpolate` would in the scope `instantiate`
    /// builds: parameters over context over the template's own variables,
    /// recording in `shape` what went where. `None` when a name is none of
    /// them (a `let`, or an error the evaluator reports).
    fn fill(
        text: &ast::StringLit,
        values: &Values,
        context: &[(&str, &str)],
        vars: &[(VarName, Value)],
        mut shape: Option<&mut Shape>,
    ) -> Option<String> {
        let mut out = String::with_capacity(text.parts.len() * 16);
        for part in &text.parts {
            match part {
                ast::StrPart::Text(literal) => out.push_str(literal),
                ast::StrPart::Interp(path) => {
                    let name = ast::path_text(path);
                    let (value, hole) = if let Some((_, value)) =
                        values.iter().rev().find(|(var, _)| *var == name)
                    {
                        (value.text.as_str(), false)
                    } else if let Some((_, value)) =
                        context.iter().rev().find(|(var, _)| *var == name)
                    {
                        (*value, name == "namespace")
                    } else {
                        // A variable that is no text (a number, a record)
                        // is read by evaluation.
                        (
                            vars.iter()
                                .rev()
                                .find(|(var, _)| *var == name)?
                                .1
                                .as_text()?,
                            false,
                        )
                    };
                    if let Some(shape) = shape.as_deref_mut() {
                        shape.filled(out.len(), value, hole);
                    }
                    out.push_str(value);
                }
            }
        }
        Some(out)
    }
}

fn typed(ty: ParamType, value: &Value, diagnostics: &mut Diags) -> Option<ParamValue> {
    Some(match ty {
        ParamType::Ratio => ParamValue::Ratio(units::ratio(value, diagnostics)?),
        ParamType::Duration => ParamValue::Duration(units::duration(value, diagnostics)?),
        ParamType::Count => ParamValue::Count(units::count(value, diagnostics)?),
        ParamType::Text => ParamValue::Text(units::string(value, diagnostics)?),
        ParamType::Cpu => ParamValue::Quantity(Dimension::Cpu, units::cpu(value, diagnostics)?),
        ParamType::Memory => {
            ParamValue::Quantity(Dimension::Memory, units::memory(value, diagnostics)?)
        }
        ParamType::Bool => ParamValue::Bool(units::boolean(value, diagnostics)?),
    })
}

/// A value that stands for a parameter without a default, when the body is
/// checked once at its declaration.
fn sample(ty: ParamType) -> ParamValue {
    match ty {
        ParamType::Ratio => ParamValue::Ratio(Ratio {
            numerator: 5,
            scale: 1,
        }),
        ParamType::Duration => ParamValue::Duration(Duration(300_000)),
        ParamType::Count => ParamValue::Count(1),
        ParamType::Text => ParamValue::Text("sample".to_string()),
        ParamType::Cpu => ParamValue::Quantity(Dimension::Cpu, 1000),
        ParamType::Memory => ParamValue::Quantity(Dimension::Memory, 1 << 30),
        ParamType::Bool => ParamValue::Bool(true),
    }
}

/// Types a template's parameters and checks its body once, with its
/// defaults (or samples) and a sample namespace.
pub(crate) fn template<'a>(
    checker: &Checker<'_, 'a>,
    decl: &Decl<'a, ast::AlertTemplate>,
    diagnostics: &mut Diags,
) -> Option<Template<'a>> {
    let scope = checker.scope(&decl.vars);
    let mut params: Vec<Param> = Vec::new();
    let mut ok = true;
    for param in &decl.node.params {
        if params.iter().any(|p| p.name == param.name.text) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0304,
                    param.name.span,
                    format!("parameter `{}` is declared twice", param.name.text),
                )
                .label("declared again here")
                .help("give each parameter its own name"),
            );
            ok = false;
            continue;
        }
        let ty = match param.ty.text.as_str() {
            "ratio" => ParamType::Ratio,
            "duration" => ParamType::Duration,
            "count" => ParamType::Count,
            "string" => ParamType::Text,
            "cpu" => ParamType::Cpu,
            "memory" => ParamType::Memory,
            "bool" => ParamType::Bool,
            other => {
                let diagnostic = Diagnostic::new(
                    Code::E0707,
                    param.ty.span,
                    format!("unknown parameter type `{other}`"),
                )
                .label("not a type a parameter can have");
                diagnostics.push(match suggest::closest(other, PARAM_TYPES.iter().copied()) {
                    Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
                    None => diagnostic
                        .help(format!("parameter types are {}", fields::list(PARAM_TYPES))),
                });
                ok = false;
                continue;
            }
        };
        if OVERRIDES.contains(&param.name.text.as_str()) {
            let setting = match param.name.text.as_str() {
                "severity" => "severity = critical",
                _ => "labels { page = \"yes\" }",
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::E0205,
                    param.name.span,
                    format!(
                        "a template parameter cannot be called `{}`",
                        param.name.text
                    ),
                )
                .label("every use of a template may set this field itself")
                .help(format!(
                    "rename the parameter; a use writes `alert {} {{ {setting} }}` to set the rule's {}",
                    decl.name, param.name.text,
                )),
            );
            ok = false;
            continue;
        }
        if param.name.text == "for" && ty != ParamType::Duration {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0705,
                    param.ty.span,
                    "the `for` parameter must be a duration",
                )
                .label("`for` is the rule's `for:`, how long the condition must hold")
                .help("declare it as `for: duration = 5m`"),
            );
            ok = false;
            continue;
        }
        let default = match &param.default {
            Some(expr) => {
                let Some(value) = super::units::eval(expr, &scope, diagnostics) else {
                    ok = false;
                    continue;
                };
                match typed(ty, &value, diagnostics) {
                    Some(value) => Some(Filled::new(value)),
                    None => {
                        ok = false;
                        continue;
                    }
                }
            }
            None => None,
        };
        params.push(Param {
            name: param.name.text.clone(),
            ty,
            default,
        });
    }
    let context = format!("alert template `{}`", decl.name);
    let reported = diagnostics.len();
    let body_fields = Fields::read_only_fields(
        &decl.node.body,
        TEMPLATE_FIELDS,
        &context,
        &scope,
        diagnostics,
    );
    if diagnostics.len() > reported {
        ok = false;
    }
    if !schema::require_all(
        schema::ALERT_TEMPLATE,
        &body_fields,
        decl.name_span,
        &context,
        false,
        diagnostics,
    ) {
        ok = false;
    }
    if !ok {
        return None;
    }
    let mut template = Template {
        name_span: decl.name_span,
        params,
        body: &decl.node.body,
        vars: decl.vars.clone(),
        compiled: None,
    };
    // Check the body once here, so a broken template is reported at its
    // declaration and not at every env that uses it.
    let samples: Vec<Filled> = template
        .params
        .iter()
        .map(|p| {
            p.default
                .clone()
                .unwrap_or_else(|| Filled::new(sample(p.ty)))
        })
        .collect();
    let values: Vec<(&str, &Filled)> = template
        .params
        .iter()
        .map(|p| p.name.as_str())
        .zip(&samples)
        .collect();
    // The context stays symbolic (`${namespace}` fills in as itself), so
    // what the diagnostics quote reads like the template.
    let symbolic: Vec<(&str, String)> = ENV_CONTEXT
        .iter()
        .map(|name| (*name, format!("${{{name}}}")))
        .collect();
    let context: Vec<(&str, &str)> = decl
        .vars
        .iter()
        .filter_map(|(name, value)| Some((name.as_ref(), value.as_text()?)))
        .chain(symbolic.iter().map(|(name, value)| (*name, value.as_str())))
        .collect();
    let sample_namespace = "${namespace}".to_string();
    let rule = instantiate(
        checker,
        &decl.name,
        &template,
        &values,
        &context,
        &sample_namespace,
        None,
        diagnostics,
    )?;
    // Every build writes a promtool test of each rule it can, and the
    // template's own where it has one.
    let untestable = match &rule.test {
        Some(test) => crate::rule_test::written_test(
            &crate::rule_test::AlertRule {
                alert: &decl.name,
                expr: &rule.expr,
                for_: rule.for_,
                labels: &rule.labels,
                annotations: &rule.annotations,
            },
            test,
        )
        .err()
        .map(|why| (why, true)),
        None => crate::rule_test::testable(&rule.expr)
            .err()
            .map(|why| (why, false)),
    };
    if let Some((why, written)) = untestable {
        // At the expression, or at the test, which is what is to change.
        let key = if written { "test" } else { "expr" };
        let span = decl
            .node
            .body
            .stmts
            .iter()
            .find_map(|stmt| match &stmt.kind {
                ast::StmtKind::Field(field)
                    if matches!(&field.key, ast::Key::Path(path) if ast::path_text(path) == key) =>
                {
                    Some(stmt.span)
                }
                _ => None,
            })
            .unwrap_or(decl.name_span);
        let help = match written {
            true => {
                "envk renders the alerts the test expects as Prometheus would: their annotations may print `$labels.NAME`, `$value` and `$value | humanize` or `humanizePercentage`"
            }
            false => {
                "envk tests a comparison with a threshold, `EXPR > ${threshold}`, whose left side is built from selectors, `rate`, `increase`, `irate`, `delta`, aggregations and arithmetic, as every template of std/alerts is; write it so, or give the template a `test { input = […]  at = …  fires = […] }` of its own"
            }
        };
        diagnostics.push(
            Diagnostic::new(
                Code::E0710,
                span,
                format!("alert template `{}` cannot be tested", decl.name),
            )
            .label("its rules ship without a promtool test")
            .note(why.0)
            .help(help),
        );
    }
    if checker.compile_templates {
        template.compiled = Compiled::of(template.body, &scope);
    }
    Some(template)
}

/// Fills in a template: the rule's expression, labels and annotations.
/// `use_span` is where an env uses it (None when checking the declaration).
#[allow(clippy::too_many_arguments)]
fn instantiate(
    checker: &Checker,
    name: &str,
    template: &Template,
    values: &Values,
    context: &[(&str, &str)],
    namespace: &str,
    use_span: Option<Span>,
    diagnostics: &mut Diags,
) -> Option<InstantiatedRule> {
    // Each use's shape is recorded in the same buffers: a thousand envs'
    // keys are looked up, and only the first is kept.
    thread_local! {
        static SHAPE: std::cell::RefCell<Shape> = std::cell::RefCell::default();
    }
    if let Some(compiled) = &template.compiled
        && let Some((clean, expr, annotations)) = SHAPE.with_borrow_mut(|shape| {
            let (expr, annotations) = compiled.texts(values, context, &template.vars, shape)?;
            let clean = checker.promql.check(
                &expr,
                Some(shape),
                namespace,
                compiled.expr_span,
                use_span,
                diagnostics,
            );
            Some((clean, expr, annotations))
        })
    {
        return clean.map(|reads| InstantiatedRule {
            expr,
            reads,
            for_: for_duration(values),
            labels: TextMap::from_iter([("severity".to_string(), compiled.severity.to_string())]),
            annotations,
            test: None,
        });
    }
    let mut vars: Vec<(VarName, Value)> = (*template.vars).clone();
    vars.extend(context.iter().map(|(name, value)| {
        (
            VarName::Owned(name.to_string()),
            Value::Word(value.to_string(), Span::default()),
        )
    }));
    vars.extend(values.iter().map(|(n, v)| {
        (
            VarName::Owned(n.to_string()),
            Value::Word(v.text.clone(), Span::default()),
        )
    }));
    let scope = Scope::new(Arc::new(vars), &checker.resolved.lets);
    let context_name = format!("alert template `{name}`");
    let body_fields = Fields::read(
        template.body,
        TEMPLATE_FIELDS,
        &context_name,
        &scope,
        diagnostics,
    );
    let mut ok = true;
    let mut expr = None;
    let mut labels = TextMap::new();
    let mut annotations = TextMap::new();
    let mut test = None;
    for entry in &body_fields.entries {
        let Some(value) = field_value(entry, &scope, diagnostics) else {
            ok = false;
            continue;
        };
        match entry.key.as_ref() {
            "expr" => {
                let value_span = value.span();
                let Some(text) = units::into_string(value, diagnostics) else {
                    ok = false;
                    continue;
                };
                // The declaration's check (no use) is made once.
                let clean = SHAPE.with_borrow_mut(|shape| {
                    let shape = use_span.map(|_| {
                        shape.found(value_span, &text, namespace);
                        &*shape
                    });
                    checker
                        .promql
                        .check(&text, shape, namespace, value_span, use_span, diagnostics)
                });
                match clean {
                    Some(read) => expr = Some((text, read)),
                    None => ok = false,
                }
            }
            "severity" => match units::word(&value, SEVERITIES, "a severity", diagnostics) {
                Some(severity) => {
                    labels.insert("severity".to_string(), severity);
                }
                None => ok = false,
            },
            "summary" | "description" => match units::into_string(value, diagnostics) {
                Some(text) => {
                    annotations.insert(entry.key.to_string(), text);
                }
                None => ok = false,
            },
            "test" => match written_test(checker, value, namespace, diagnostics) {
                Some(written) => test = Some(Box::new(written)),
                None => ok = false,
            },
            "labels" => ok &= rule_texts(checker, value, Texts::Labels, &mut labels, diagnostics),
            "annotations" => {
                ok &= rule_texts(
                    checker,
                    value,
                    Texts::Annotations,
                    &mut annotations,
                    diagnostics,
                )
            }
            _ => {}
        }
    }
    let (expr, reads) = expr.filter(|_| ok)?;
    Some(InstantiatedRule {
        expr,
        reads,
        for_: for_duration(values),
        labels,
        annotations,
        test,
    })
}

/// A template's `test { … }`, filled in for an env of `namespace`: each
/// input series a selector of the env's own series (E0702 else, as for
/// the expression) with values in promtool's notation, and the alerts
/// firing at `at`; `None` after reporting what is wrong.
fn written_test(
    checker: &Checker,
    value: Value,
    namespace: &str,
    diagnostics: &mut Diags,
) -> Option<model::WrittenTest> {
    let at = value.span();
    let scope = Scope::new(Arc::new(Vec::new()), &checker.resolved.lets);
    let reading = schema::Reading {
        scope: &scope,
        context: "the test block",
        at,
        inherited: false,
        statements: schema::Statements::Reported,
        sources: checker.sources,
    };
    let read = schema::read_record(&schema::RULE_TEST, value, &reading, diagnostics)?;
    let mut ok = true;
    // Each element of a list field read by `element`; `None` when the
    // field is no list (reported), an element `None` when it has an error.
    let mut list = |name: &str, what: &str, help: &str, diagnostics: &mut Diags| {
        let Some(schema::Typed::Value(list)) = read.get(name) else {
            return Some(Vec::new());
        };
        let Value::List(items, _) = list else {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0301,
                    list.span(),
                    format!("expected a list of {what}"),
                )
                .label("not a list")
                .help(help.to_string()),
            );
            ok = false;
            return None;
        };
        Some(items.clone())
    };
    let inputs = list(
        "input",
        "input series",
        "list the series: `input = [{ series = \"up{namespace=\\\"${namespace}\\\"}\"  values = \"1x30\" }]`",
        diagnostics,
    )?;
    let alerts = list(
        "fires",
        "alerts",
        "list the alerts firing at `at`: `fires = [{ labels { pod = \"a\" }  value = 1 }]`, or `[]` for none",
        diagnostics,
    )?;
    let input: Vec<_> = inputs
        .into_iter()
        .map(|item| input_series(checker, item, namespace, diagnostics))
        .collect();
    let fires: Vec<_> = alerts
        .into_iter()
        .map(|item| expected_alert(checker, item, diagnostics))
        .collect();
    ok &= input.iter().all(Option::is_some) && fires.iter().all(Option::is_some);
    let input: Vec<_> = input.into_iter().flatten().collect();
    let fires: Vec<_> = fires.into_iter().flatten().collect();
    let duration = |name: &str| match read.get(name) {
        Some(schema::Typed::Duration(duration)) => Some(*duration),
        _ => None,
    };
    let silent_at = duration("silent_at");
    let at_time = duration("at")?;
    if let Some(silent) = silent_at
        && silent >= at_time
    {
        diagnostics.push(
            Diagnostic::new(
                Code::E0306,
                read.span("silent_at").unwrap_or(at),
                "`silent_at` is not before `at`",
            )
            .label("the rule must be silent before it fires")
            .help("give a time before `at`, or leave `silent_at` out"),
        );
        ok = false;
    }
    ok.then_some(model::WrittenTest {
        input,
        at: at_time,
        silent_at,
        fires,
    })
}

/// `{ series = "name{…}"  values = "…" }` of a test's input.
fn input_series(
    checker: &Checker,
    value: Value,
    namespace: &str,
    diagnostics: &mut Diags,
) -> Option<(String, String)> {
    let at = value.span();
    let (record, vars) = fields::record(value, "an input series", diagnostics)?;
    let inner = Scope::new(vars, &checker.resolved.lets);
    let fields = Fields::read_only_fields(
        record.body,
        Keys::Names(&["series", "values"]),
        "an input series",
        &inner,
        diagnostics,
    );
    let mut series = None;
    let mut values = None;
    for entry in &fields.entries {
        let value = field_value(entry, &inner, diagnostics)?;
        let span = value.span();
        let text = units::into_string(value, diagnostics)?;
        match entry.key.as_ref() {
            "series" => series = Some((text, span)),
            _ => values = Some((text, span)),
        }
    }
    let (Some((series, series_span)), Some((values, values_span))) = (series, values) else {
        let missing = if fields.entries.iter().any(|e| e.key == "series") {
            ("values", "\"1x30\"")
        } else {
            ("series", "\"up{namespace=\\\"${namespace}\\\"}\"")
        };
        diagnostics.push(fields::missing(missing.0, at, "an input series", missing.1));
        return None;
    };
    // `None` when the series is the env's; else the namespace it names.
    let scoped: Option<Option<String>> = match promql::parse(&series) {
        // promtool's series notation: a name and `label="value"` pairs,
        // nothing a query adds (`=~`, `or`, `offset`, `@`).
        Ok(promql::Expr::VectorSelector(selector))
            if selector.name.is_some()
                && selector.offset.is_none()
                && selector.at.is_none()
                && selector.matchers.or_matchers.is_empty()
                && selector
                    .matchers
                    .matchers
                    .iter()
                    .all(|m| m.op.to_string() == "=" && m.name != "__name__") =>
        {
            let own = selector
                .matchers
                .matchers
                .iter()
                .find(|m| m.name == "namespace");
            match own {
                Some(m) if m.op.to_string() == "=" && m.value == namespace => None,
                Some(m) => Some(Some(format!("{}{:?}", m.op, m.value))),
                None => Some(None),
            }
        }
        _ => {
            diagnostics.push(
                Diagnostic::new(Code::E0701, series_span, "an input series is `name{label=\"value\", …}`")
                    .label("not a series")
                    .help("write the series' name and each label as `label=\"value\"`, as `kube_pod_status_phase{namespace=\"${namespace}\", pod=\"a\", phase=\"Pending\"}`"),
            );
            return None;
        }
    };
    if let Some(other) = scoped {
        diagnostics.push(
            Diagnostic::new(Code::E0702, series_span, "a test's input series is not the env's own")
                .label(match other {
                    Some(other) => format!("its namespace is `{other}`, not the env's"),
                    None => "no `namespace` label".to_string(),
                })
                .help("give it the label `namespace=\"${namespace}\"`: the rule reads only its env's namespace"),
        );
        return None;
    }
    if let Err(why) = crate::rule_test::check_values(&values) {
        diagnostics.push(
            Diagnostic::new(Code::E0301, values_span, "not promtool's expanding notation")
                .label(why)
                .help("one value a minute, separated by spaces: `1 2 3`, `0+10x30` (0, 10, … 300), `5x20` (21 times 5), `_` or `_x5` for missing samples, `stale`"),
        );
        return None;
    }
    Some((series, values))
}

/// `{ labels { … }  value = N }` of a test's `fires`.
fn expected_alert(
    checker: &Checker,
    value: Value,
    diagnostics: &mut Diags,
) -> Option<(TextMap, model::SampleValue)> {
    let (record, vars) = fields::record(value, "an expected alert", diagnostics)?;
    let inner = Scope::new(vars, &checker.resolved.lets);
    let fields = Fields::read_only_fields(
        record.body,
        Keys::Names(&["labels", "value"]),
        "an expected alert",
        &inner,
        diagnostics,
    );
    let mut labels = TextMap::new();
    let mut sample = 0.0;
    for entry in &fields.entries {
        let value = field_value(entry, &inner, diagnostics)?;
        match entry.key.as_ref() {
            "labels" => {
                if !rule_texts(checker, value, Texts::Returned, &mut labels, diagnostics) {
                    return None;
                }
            }
            _ => match value {
                Value::Number(number, _) if number.suffix == ast::Suffix::None => {
                    sample = number.mantissa as f64 / 10f64.powi(number.scale as i32);
                }
                other => {
                    diagnostics.push(
                        Diagnostic::new(Code::E0301, other.span(), format!("expected a plain number, found {}", other.describe()))
                            .label("the alert's value")
                            .help("write the value the expression returns, which `{{ $value }}` prints: `value = 0.95`"),
                    );
                    return None;
                }
            },
        }
    }
    Some((labels, model::SampleValue(sample)))
}

/// Which map of a rule a block fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Texts {
    Labels,
    Annotations,
    /// The labels an expression returns, which a template's test expects:
    /// `severity` among them, as any label.
    Returned,
}

/// A `labels { … }` or `annotations { … }` block of a template or a use,
/// into `target`; whether it had no error.
fn rule_texts(
    checker: &Checker,
    value: Value,
    texts: Texts,
    target: &mut TextMap,
    diagnostics: &mut Diags,
) -> bool {
    let what = match texts {
        Texts::Labels | Texts::Returned => "labels",
        Texts::Annotations => "annotations",
    };
    let Some((record, vars)) = fields::record(value, &format!("a block of {what}"), diagnostics)
    else {
        return false;
    };
    let inner = Scope::new(vars, &checker.resolved.lets);
    let map = Fields::read_only_fields(record.body, Keys::Any, what, &inner, diagnostics);
    let mut ok = true;
    for item in &map.entries {
        let severity = texts == Texts::Labels && item.key == "severity";
        if texts != Texts::Annotations && (!is_label_name(&item.key) || severity) {
            let why = if severity {
                "`severity` is a field of its own: `severity = critical`"
            } else {
                "Prometheus label names are letters, digits and `_`, not starting with a digit"
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::E0309,
                    item.key_span,
                    format!("`{}` cannot be a rule label", item.key),
                )
                .label(why)
                .help("use a label name such as `team` or `cost_center`"),
            );
            ok = false;
            continue;
        }
        match field_value(item, &inner, diagnostics)
            .and_then(|v| units::into_string(v, diagnostics))
        {
            Some(text) => {
                target.insert(item.key.to_string(), text);
            }
            None => ok = false,
        }
    }
    ok
}

/// The rule's `for:`, from the template's `for` parameter.
fn for_duration(values: &Values) -> Option<Duration> {
    values.iter().find_map(|(n, v)| match (*n, &v.value) {
        ("for", ParamValue::Duration(d)) => Some(*d),
        _ => None,
    })
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct InstantiatedRule {
    expr: String,
    /// The exporters whose series the expression reads.
    reads: Exporters,
    for_: Option<Duration>,
    labels: TextMap,
    annotations: TextMap,
    // Boxed: most rules have none, and the rest is moved per rule.
    test: Option<Box<model::WrittenTest>>,
}

/// What an alert expression was filled in with at one use: a key made of
/// the expression's node and every value filled into it but the env's
/// namespace, and where the namespace went (the holes).
///
/// For a compiled template the holes are its `${namespace}`s, and the
/// values the other names' (the literal text is the node's). For any
/// other body the text is all there is: the holes are where the namespace
/// occurs in it, and the values the text between them. Either way the key
/// and the namespace together make the whole text, so two uses with one
/// key differ only in the namespace at the holes. The key is
/// length-prefixed and says which of the two it is, so no value can pass
/// for another's or for a hole.
#[derive(Default)]
pub(crate) struct Shape {
    key: Vec<u8>,
    /// Where in the text the env's namespace went.
    holes: Vec<usize>,
}

/// How a [`Shape`]'s key was made.
#[derive(Clone, Copy)]
enum Made {
    /// From a compiled template's interpolations.
    Filled = 0,
    /// From the text, split where the namespace occurs.
    Found = 1,
}

impl Shape {
    /// Starts the shape of the expression written at `expr`.
    fn start(&mut self, expr: Span, made: Made) {
        self.key.clear();
        self.holes.clear();
        self.key.push(made as u8);
        self.key.extend_from_slice(&expr.start.to_le_bytes());
        self.key.extend_from_slice(&expr.end.to_le_bytes());
    }

    /// The shape of `text`, an expression evaluated at `expr`, its holes
    /// every place `namespace` occurs.
    fn found(&mut self, expr: Span, text: &str, namespace: &str) {
        self.start(expr, Made::Found);
        let mut copied = 0;
        for at in memchr::memmem::find_iter(text.as_bytes(), namespace) {
            self.filled(copied, &text[copied..at], false);
            self.filled(at, namespace, true);
            copied = at + namespace.len();
        }
        self.filled(copied, &text[copied..], false);
    }

    /// `value` went into the text at `at`: the env's namespace (a hole),
    /// or anything else, which the key holds.
    fn filled(&mut self, at: usize, value: &str, hole: bool) {
        if hole {
            self.key.push(1);
            self.holes.push(at);
        } else {
            self.key.push(0);
            self.key.extend_from_slice(&value.len().to_le_bytes());
            self.key.extend_from_slice(value.as_bytes());
        }
    }
}

/// Parses alert expressions and checks that they read only their
/// namespace, remembering those that checked clean:
/// one template used by a thousand envs is parsed once, not a thousand
/// times.
///
/// An entry is the verdict for every use with its [`Shape`]'s key, each
/// with its own namespace at the holes. That is sound when the namespace
/// changes nothing but the holes' string values: promql-parser's own lexer
/// (not one of ours) finds each hole to be a whole string literal, and no
/// string literal to hold a backslash (an escape could spell a namespace:
/// `"\x74eam-1"` is `team-1`). A DNS label inside quotes is plain text to
/// that lexer, so every namespace then gives the same tokens, the same
/// tree, and strings that differ only at the holes. The parser reads a
/// string's text only as a string or a regex, the same for any DNS label,
/// and the scope check (`scope.rs`) only asks whether it equals the
/// namespace or the word `namespace`. The holes equal the namespace in
/// every env; the entry keeps the other string literals, and a namespace
/// equal to one of them is checked afresh, as is the namespace
/// `namespace`.
#[derive(Default)]
pub(crate) struct PromqlCache {
    clean: std::sync::RwLock<foldhash::HashMap<Box<[u8]>, Clean>>,
}

/// What is remembered of an expression that checked clean: its string
/// literals but the holes, and the exporters it reads.
type Clean = (OtherStrings, Exporters);

/// The string literals of an expression but those the namespace fills.
type OtherStrings = Box<[Box<str>]>;

impl PromqlCache {
    /// Whether `text`, filled in at `shape` where it has one, parses and
    /// reads only `namespace`: if so, the exporters whose series it reads.
    fn check(
        &self,
        text: &str,
        shape: Option<&Shape>,
        namespace: &str,
        expr_span: Span,
        use_span: Option<Span>,
        diagnostics: &mut Diags,
    ) -> Option<Exporters> {
        // The holes must hold this namespace: the one the check is for.
        let shape = shape.filter(|shape| {
            namespace != "namespace"
                && shape
                    .holes
                    .iter()
                    .all(|&at| text.get(at..at + namespace.len()) == Some(namespace))
        });
        if let Some(shape) = shape
            && let Some((others, read)) = self
                .clean
                .read()
                .expect("no thread panics holding it")
                .get(shape.key.as_slice())
            && !others.iter().any(|other| **other == *namespace)
        {
            return Some(*read);
        }
        let read = check_promql(text, namespace, expr_span, use_span, diagnostics)?;
        if let Some(shape) = shape
            && let Some(others) = other_strings(text, &shape.holes, namespace)
        {
            self.clean
                .write()
                .expect("no thread panics holding it")
                .insert(shape.key.as_slice().into(), (others, read));
        }
        Some(read)
    }
}

/// The text of every string literal of `text` but the holes, when each
/// hole (a `namespace` long) is a whole string literal, no string literal
/// holds a backslash, and none of the others is `namespace`; else `None`.
/// As promql-parser's lexer reads `text`.
fn other_strings(text: &str, holes: &[usize], namespace: &str) -> Option<OtherStrings> {
    use lrpar::{Lexeme, Lexer};
    use promql_parser::parser::{lex, token};
    let lexer = lex::lexer(text).ok()?;
    let mut holes = holes.iter().peekable();
    let mut others = Vec::new();
    for lexeme in lexer.iter() {
        let lexeme = lexeme.ok()?;
        let span = lexeme.span();
        if holes.peek().is_some_and(|&&hole| hole < span.start()) {
            return None; // between lexemes: a comment
        }
        if lexeme.tok_id() != token::T_STRING {
            continue;
        }
        // Without the quotes.
        let inside = &text[span.start() + 1..span.end() - 1];
        if inside.contains('\\') {
            return None;
        }
        if holes.peek().is_some_and(|&&hole| hole < span.end()) {
            let hole = *holes.next().expect("peeked");
            if hole != span.start() + 1 || inside.len() != namespace.len() {
                return None;
            }
            continue;
        }
        if inside == namespace {
            return None;
        }
        others.push(inside.into());
    }
    holes.next().is_none().then(|| others.into_boxed_slice())
}

/// Whether `text` parses and reads only `namespace`: if so, the
/// exporters whose series it reads.
fn check_promql(
    text: &str,
    namespace: &str,
    expr_span: Span,
    use_span: Option<Span>,
    diagnostics: &mut Diags,
) -> Option<Exporters> {
    // At a use, the use is what is wrong (its arguments broke a template
    // that checked clean); at the declaration, the expression is.
    let located = |code: Code, message: &str, label: String| match use_span {
        Some(use_span) => Diagnostic::new(code, use_span, message)
            .label("with the arguments given here")
            .secondary(expr_span, label),
        None => Diagnostic::new(code, expr_span, message).label(label),
    };
    let parsed = match promql::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let first_line = error.lines().next().unwrap_or("").trim().to_string();
            diagnostics.push(
                located(
                    Code::E0701,
                    "the alert expression is not valid PromQL",
                    first_line,
                )
                .note(format!("the expression, filled in: {text}"))
                .help("check the expression with `promtool` or in the Prometheus UI"),
            );
            return None;
        }
    };
    let leaks = super::scope::leaks(&parsed, namespace);
    let Some((first, further)) = leaks.split_first() else {
        return Some(super::metrics::exporters_read(&parsed));
    };
    let mut diagnostic = located(
        Code::E0702,
        "the alert expression is not scoped to its namespace",
        first.reason.clone(),
    )
    .note(format!("the expression, filled in: {text}"));
    for leak in further {
        diagnostic = diagnostic.note(format!("also: {}", leak.reason));
    }
    diagnostics.push(diagnostic.help(first.help.clone()));
    None
}

/// A use of a template in one layer of an env, with its rule's name:
/// the template's, or the name after `as`. `None` when that name is
/// invalid (already reported): the use still satisfies `require alerts`.
pub(crate) struct AlertDraft<'a> {
    pub alert: &'a ast::AlertUse,
    /// The template's name as written, or as its string reads in this
    /// env (`alert "${team.alert}"`).
    pub template: std::borrow::Cow<'a, ast::Ident>,
    pub span: Span,
    /// The piece of its layer it is written in, whose variables
    /// (`EnvDraft::scopes`) its arguments are read with.
    pub piece: usize,
    /// The layer (family body, stage body) the use is written in.
    pub layer: usize,
    pub rule_name: Option<std::borrow::Cow<'a, str>>,
}

/// The name of the template a use names: as written, or its string's
/// text in `scope`. `None` after reporting why the string has none.
pub(crate) fn template_name<'a>(
    alert: &'a ast::AlertUse,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<std::borrow::Cow<'a, ast::Ident>> {
    match &alert.template {
        ast::Name::Ident(ident) => Some(std::borrow::Cow::Borrowed(ident)),
        name => super::written_name(name, scope, diagnostics).map(std::borrow::Cow::Owned),
    }
}

/// The name of the rule a use of `template` makes: `as NAME`, else the
/// template's.
pub(crate) fn rule_name<'a>(
    alert: &'a ast::AlertUse,
    template: &std::borrow::Cow<'a, ast::Ident>,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<std::borrow::Cow<'a, str>> {
    let ast::Ident { text: name, span } = match &alert.rename {
        None => {
            return Some(match template {
                std::borrow::Cow::Borrowed(ident) => std::borrow::Cow::Borrowed(&ident.text),
                std::borrow::Cow::Owned(ident) => std::borrow::Cow::Owned(ident.text.clone()),
            });
        }
        Some(rename) => super::written_name(rename, scope, diagnostics)?,
    };
    if !crate::resolve::is_alert_name(&name) {
        diagnostics.push(
            Diagnostic::new(
                Code::E0205,
                span,
                format!("`{name}` is not a valid alert name"),
            )
            .label("Prometheus alert names are letters, digits and `_`, not starting with a digit")
            .help("alert names are usually CamelCase, such as `HighPodMemoryCritical`"),
        );
        return None;
    }
    Some(std::borrow::Cow::Owned(name))
}

/// Where each rule of an env was made, for E0708's second label. An env
/// has a handful of rules: they are kept on the stack, not in a vector
/// allocated for every env.
struct RuleSpans {
    few: [Span; 8],
    more: Vec<Span>,
    len: usize,
}

impl Default for RuleSpans {
    fn default() -> Self {
        RuleSpans {
            few: [Span::new(0, 0); 8],
            more: Vec::new(),
            len: 0,
        }
    }
}

impl RuleSpans {
    fn push(&mut self, span: Span) {
        match self.few.get_mut(self.len) {
            Some(slot) => *slot = span,
            None => self.more.push(span),
        }
        self.len += 1;
    }

    fn get(&self, index: usize) -> Span {
        match self.few.get(index) {
            Some(span) => *span,
            None => self.more[index - self.few.len()],
        }
    }
}

/// What a use sets besides the template's parameters.
#[derive(Default)]
struct Overrides {
    severity: Option<String>,
    labels: TextMap,
}

/// An env's alert rules: its uses of templates, filled in, plus the checks
/// that it uses every alert its tier requires and that no two of its rules
/// share a name and labels (Prometheus could not tell them apart).
#[allow(clippy::too_many_arguments)]
pub(crate) fn env_alerts<'a>(
    checker: &Checker<'_, 'a>,
    decl: &EnvDecl,
    tier: &TierFacts,
    draft: &EnvDraft<'a>,
    vars: &Vars<'a>,
    env: &mut model::Env,
    expanded: &mut Expanded,
    diagnostics: &mut Diags,
) {
    // The env's variables templates may use, gathered at the first use.
    let mut context: Option<Vec<(&str, &str)>> = None;
    // Each rule's span, for the duplicate check.
    let mut made = RuleSpans::default();
    env.alerts.rules.reserve_exact(draft.alerts.len());
    for used in &draft.alerts {
        let (alert, span) = (used.alert, used.span);
        let scope = checker.scope(&draft.scopes[used.piece]);
        let Some(template_decl) = super::written_referent(
            &checker.resolved.templates,
            &checker.resolved.refs,
            &alert.template,
            &used.template,
            Code::E0201,
            expanded,
            diagnostics,
        ) else {
            continue;
        };
        let Some(template) = checker.templates.get(template_decl.id) else {
            continue; // the template has errors, reported at its declaration
        };
        let Some((given, overrides)) = arguments(
            checker,
            template,
            &template_decl.name,
            alert.args.as_ref(),
            &scope,
            span,
            diagnostics,
        ) else {
            continue;
        };
        let Some(rule_name) = &used.rule_name else {
            continue;
        };
        // Every parameter has a value: `arguments` reported any without.
        let values: Vec<(&str, &Filled)> = template
            .params
            .iter()
            .filter_map(|param| {
                let given = given.iter().find(|(name, _)| *name == param.name);
                let value = given.map(|(_, value)| value).or(param.default.as_ref())?;
                Some((param.name.as_str(), value))
            })
            .collect();
        // The env's context is what `Checker::env` appended to its
        // variables last, in `ENV_CONTEXT`'s order: no name is compared.
        let context = context.get_or_insert_with(|| {
            let start = vars.len().saturating_sub(ENV_CONTEXT.len());
            debug_assert!(
                vars[start..]
                    .iter()
                    .map(|(name, _)| name.as_ref())
                    .eq(ENV_CONTEXT)
            );
            vars[start..]
                .iter()
                .filter_map(|(name, value)| Some((name.as_ref(), value.as_text()?)))
                .collect()
        });
        let Some(rule) = instantiate(
            checker,
            &template_decl.name,
            template,
            &values,
            context,
            &decl.name,
            Some(span),
            diagnostics,
        ) else {
            continue;
        };
        let mut labels = rule.labels;
        labels.reserve_exact(draft.alert_labels.len() + overrides.labels.len());
        for (key, value) in draft.alert_labels.iter().chain(overrides.labels.iter()) {
            labels.insert(key.clone(), value.clone());
        }
        if let Some(severity) = overrides.severity {
            labels.insert("severity".to_string(), severity);
        }
        if let Some(first) = env
            .alerts
            .rules
            .iter()
            .position(|other| other.alert == **rule_name && other.labels == labels)
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0708,
                    span,
                    format!(
                        "env `{}` has two `{rule_name}` rules with the same labels",
                        decl.name
                    ),
                )
                .label("this rule")
                .secondary(made.get(first), "has the name and labels of this one")
                .help(format!(
                    "Prometheus cannot tell the two apart: give this one its own name, `alert {} as {rule_name}Critical {{ … }}`, or its own `severity` or `labels {{ … }}`",
                    checker.sources.snippet(alert.template.span())
                )),
            );
            continue;
        }
        unscraped(&env.cluster, rule.reads, rule_name, span, diagnostics);
        super::routing::unrouted(
            checker,
            &env.cluster,
            &labels,
            rule_name,
            &decl.name,
            span,
            diagnostics,
        );
        made.push(span);
        env.alerts.rules.push(model::AlertRule {
            alert: String::from(&**rule_name),
            expr: rule.expr,
            for_: rule.for_,
            labels,
            annotations: rule.annotations,
            reads: rule.reads,
            test: rule.test.map(|test| Arc::new(*test)),
            source: checker.source(span),
        });
    }
    for required in &tier.model.require_alerts {
        let used = draft
            .alerts
            .iter()
            .any(|used| used.template.text == *required);
        if !used {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0703,
                    decl.name_span,
                    format!("env `{}` lacks the alert `{required}`, which tier `{}` requires", decl.name, tier.model.name),
                )
                .label(format!("no `alert {required}` in this env"))
                .secondary(tier.require_span.unwrap_or(tier.name_span), "required here")
                .help(format!("add `alert {required}` to the env (with arguments in `{{ … }}` if the defaults do not fit)")),
            );
        }
    }
}

/// A warning (E0709) for each exporter whose series the rule `alert`
/// reads but which `cluster`'s Prometheus does not scrape: the alert
/// could never fire.
fn unscraped(
    cluster: &model::Cluster,
    reads: Exporters,
    alert: &str,
    span: Span,
    diagnostics: &mut Diags,
) {
    for exporter in reads.missing_from(cluster.prometheus.scrape) {
        let word = exporter.word();
        diagnostics.push(
            Diagnostic::new(
                Code::E0709,
                span,
                format!(
                    "alert `{alert}` reads {} series ({}), which cluster `{}`'s Prometheus does not scrape",
                    exporter.name(),
                    super::metrics::families_of(exporter),
                    cluster.name
                ),
            )
            .label("could never fire")
            .help(format!(
                "add `{word}` to `scrape` in cluster `{}`'s `prometheus` block, or use an alert that reads what it scrapes",
                cluster.name
            )),
        );
    }
}

/// The values of a template's parameters at one use (the arguments given,
/// else the defaults), and what the use overrides.
fn arguments(
    checker: &Checker,
    template: &Template,
    name: &str,
    args: Option<&Block>,
    scope: &Scope,
    use_span: Span,
    diagnostics: &mut Diags,
) -> Option<(Vec<(String, Filled)>, Overrides)> {
    let mut given: Vec<(String, Filled)> = Vec::new();
    let mut overrides = Overrides::default();
    let mut ok = true;
    if let Some(args) = args {
        let names: Vec<&str> = template.params.iter().map(|p| p.name.as_str()).collect();
        let mut seen: Vec<String> = Vec::new();
        for stmt in &args.stmts {
            let ast::StmtKind::Field(field) = &stmt.kind else {
                diagnostics.push(fields::misplaced(
                    stmt,
                    "the arguments of an alert",
                    "an env",
                ));
                ok = false;
                continue;
            };
            let Some(key) = fields::key_text(&field.key, scope, diagnostics) else {
                ok = false;
                continue;
            };
            if seen.iter().any(|n| *n == key) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0304,
                        field.key.span(),
                        format!("`{key}` is given twice"),
                    )
                    .label("given again here")
                    .help("remove one of them"),
                );
                ok = false;
                continue;
            }
            seen.push(key.to_string());
            let value = match &field.value {
                FieldValue::Expr(expr) => super::units::eval(expr, scope, diagnostics),
                FieldValue::Block(block) if key == "labels" => {
                    Some(Value::Record(crate::resolve::value::Record {
                        tag: None,
                        body: block,
                        vars: scope.vars.clone(),
                        span: block.span,
                        evaluated: None,
                    }))
                }
                FieldValue::Block(block) => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0705,
                            block.span,
                            format!("parameter `{key}` takes a value, not a block"),
                        )
                        .label("a block")
                        .help(format!("write `{key} = …`")),
                    );
                    None
                }
            };
            match key.as_ref() {
                "severity" => {
                    match value.and_then(|value| {
                        units::word(&value, SEVERITIES, "a severity", diagnostics)
                    }) {
                        Some(severity) => overrides.severity = Some(severity),
                        None => ok = false,
                    }
                    continue;
                }
                "labels" => {
                    ok &= value.is_some_and(|value| {
                        rule_texts(
                            checker,
                            value,
                            Texts::Labels,
                            &mut overrides.labels,
                            diagnostics,
                        )
                    });
                    continue;
                }
                _ => {}
            }
            let Some(param) = template.params.iter().find(|p| p.name == key) else {
                let diagnostic = Diagnostic::new(
                    Code::E0704,
                    field.key.span(),
                    format!("alert template `{name}` has no parameter `{key}`"),
                )
                .label("unknown parameter")
                .secondary(template.name_span, "the template is declared here");
                let settable = names.iter().copied().chain(OVERRIDES.iter().copied());
                diagnostics.push(match suggest::closest(&key, settable) {
                    Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
                    None if names.is_empty() => diagnostic.help(format!(
                        "`{name}` takes no parameters; a use may set only `severity` and `labels`"
                    )),
                    None => diagnostic.help(format!(
                        "its parameters are {}; a use may also set `severity` and `labels`",
                        fields::list(&names)
                    )),
                });
                ok = false;
                continue;
            };
            let Some(value) = value else {
                ok = false;
                continue;
            };
            let mut found = Vec::new();
            match typed(param.ty, &value, &mut found) {
                Some(typed_value) => given.push((key.into_owned(), Filled::new(typed_value))),
                None => {
                    ok = false;
                    // A unit mismatch here is a wrong argument type.
                    for mut diagnostic in found {
                        if diagnostic.code == Code::E0301 {
                            diagnostic.code = Code::E0705;
                            diagnostic.message =
                                format!("parameter `{key}`: {}", diagnostic.message);
                            diagnostic = diagnostic
                                .secondary(template.name_span, "the template declares its type");
                        }
                        diagnostics.push(diagnostic);
                    }
                }
            }
        }
    }
    for param in &template.params {
        if param.default.is_none() && !given.iter().any(|(n, _)| *n == param.name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0706,
                    use_span,
                    format!("alert `{name}` needs a value for `{}`", param.name),
                )
                .label(format!("`{}` has no default", param.name))
                .secondary(template.name_span, "the template is declared here")
                .help(format!("write `alert {name} {{ {} = … }}`", param.name)),
            );
            ok = false;
        }
    }
    ok.then_some((given, overrides))
}

#[cfg(test)]
mod cache_tests {
    use super::{
        Compiled, Filled, Made, ParamValue, PromqlCache, Shape, check_promql, other_strings,
    };
    use crate::source::Span;
    use crate::syntax::ast::{Ident, StrPart, StringLit};

    /// A template's `expr`, `${…}` read as interpolations.
    fn literal(expr: &str) -> StringLit {
        let mut parts = Vec::new();
        let mut rest = expr;
        while let Some(start) = rest.find("${") {
            let end = start + rest[start..].find('}').expect("closed");
            if start > 0 {
                parts.push(StrPart::Text(rest[..start].to_string()));
            }
            parts.push(StrPart::Interp(vec![Ident {
                text: rest[start + 2..end].to_string(),
                span: Span::new(0, 0),
            }]));
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(StrPart::Text(rest.to_string()));
        }
        StringLit {
            parts,
            raw: true,
            span: Span::new(0, expr.len() as u32),
        }
    }

    /// `expr` filled in as a use in `namespace` would, with `given` for
    /// parameters and a value of the right kind for the others, and its
    /// shape.
    fn filled(expr: &str, namespace: &str, given: &[(&str, &str)]) -> (String, Shape) {
        let literal = literal(expr);
        let params: Vec<(String, Filled)> = literal
            .parts
            .iter()
            .filter_map(|part| match part {
                StrPart::Interp(path) if path[0].text != "namespace" => Some(&path[0].text),
                _ => None,
            })
            .map(|name| {
                let value = match given.iter().find(|(given, _)| given == name) {
                    Some((_, value)) => value,
                    None if name == "window" => "5m",
                    None if name == "job" => "api",
                    None => "1",
                };
                (
                    name.clone(),
                    Filled::new(ParamValue::Text(value.to_string())),
                )
            })
            .collect();
        let values: Vec<(&str, &Filled)> = params.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let mut shape = Shape::default();
        shape.start(literal.span, Made::Filled);
        let context = [("namespace", namespace)];
        let text = Compiled::fill(&literal, &values, &context, &[], Some(&mut shape))
            .expect("every name has a value");
        (text, shape)
    }

    /// Checks `expr` in each namespace in turn through one cache, its
    /// shape `made` as a compiled template's or found in its text; the
    /// verdicts, once each agrees with checking afresh.
    fn check_in_turn(
        expr: &str,
        given: &[(&str, &str)],
        namespaces: &[&str],
        made: Made,
    ) -> Vec<bool> {
        let cache = PromqlCache::default();
        let span = Span::new(0, 0);
        namespaces
            .iter()
            .map(|namespace| {
                let (text, mut shape) = filled(expr, namespace, given);
                if let Made::Found = made {
                    shape.found(span, &text, namespace);
                }
                let mut fresh = Vec::new();
                let expected = check_promql(&text, namespace, span, None, &mut fresh);
                let mut cached = Vec::new();
                let verdict = cache.check(&text, Some(&shape), namespace, span, None, &mut cached);
                assert_eq!(
                    verdict, expected,
                    "{text} in {namespace}, after {namespaces:?}"
                );
                assert_eq!(cached.len(), fresh.len(), "{text} in {namespace}");
                verdict.is_some()
            })
            .collect()
    }

    /// The expressions of the alert UI cases and the stdlib, and some
    /// whose verdict turns on a literal the namespace fills.
    fn expressions() -> Vec<String> {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("tests/ui/alerts")
            .expect("the alert UI cases")
            .map(|entry| entry.expect("readable").path())
            .filter(|path| path.to_string_lossy().ends_with(".env.k"))
            .collect();
        files.sort();
        files.push("stdlib/alerts.env.k".into());
        let mut found: Vec<String> = files
            .iter()
            .flat_map(|path| {
                let text = std::fs::read_to_string(path).expect("readable");
                text.lines()
                    .filter(|line| line.trim_start().starts_with("expr"))
                    .filter_map(|line| {
                        let start = line.find('`')?;
                        let end = line.rfind('`')?;
                        (end > start).then(|| line[start + 1..end].to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(found.len() > 20, "only {} expressions", found.len());
        found.extend(
            [
                r#"x{"${namespace}"="${namespace}"}"#,
                r#"label_replace(x{namespace="${namespace}"}, "${namespace}", "", "", "")"#,
                r#"sum by ("${namespace}") (x{namespace="${namespace}"}) / y"#,
                r#"x{namespace="${namespace}"} / y{namespace="team-1"}"#,
                r#"x{namespace=~"${namespace}"}"#,
                r#"x{namespace="${namespace}"} / y{namespace=~"${namespace}.*"}"#,
                "x{namespace=\"${namespace}\"} # ${namespace}\n / y",
                r#"x{namespace='${namespace}'} / y{namespace=`${namespace}`}"#,
            ]
            .map(String::from),
        );
        found
    }

    /// Whichever namespace checked an expression first, the cache gives
    /// each namespace the verdict checking it afresh gives.
    #[test]
    fn the_cache_agrees_with_checking_every_time() {
        let namespaces = [
            "shop-prod",
            "team-1",
            "team-1-dev",
            "team1",
            "namespace",
            "a",
            "1",
        ];
        let mut compared = 0;
        for expr in expressions() {
            for (first, made) in namespaces
                .iter()
                .flat_map(|first| [(first, Made::Filled), (first, Made::Found)])
            {
                let mut order = vec![*first];
                order.extend(namespaces);
                compared += check_in_turn(&expr, &[], &order, made).len();
            }
        }
        assert!(compared > 500);
    }

    /// Two tenants whose expressions differ only where the old key, the
    /// text with the namespace marked, could not tell them apart: an
    /// argument that is another env's namespace, written plainly or with
    /// an escape. Only team-1 may read team-1's series.
    #[test]
    fn a_literal_naming_a_namespace_is_never_shared_with_another() {
        let expr = r#"up{namespace="${namespace}"} or up{namespace="${target}"}"#;
        let order = ["team-1", "team-2", "team-1", "team-3"];
        for (target, spells) in [
            ("team-1", "team-1"),
            (r"\x74eam-1", "team-1"),
            (r"te\u0061m-1", "team-1"),
            ("team-2", "team-2"),
        ] {
            let clean: Vec<bool> = order.iter().map(|namespace| *namespace == spells).collect();
            for made in [Made::Filled, Made::Found] {
                let verdicts = check_in_turn(expr, &[("target", target)], &order, made);
                assert_eq!(verdicts, clean, "{target}");
            }
        }
    }

    /// The point of the cache: one entry for every env, however the
    /// shape was made.
    #[test]
    fn one_entry_serves_every_namespace() {
        let expr = r#"rate(x{namespace="${namespace}", job="${job}"}[${window}]) > 0"#;
        let span = Span::new(0, 0);
        for made in [Made::Filled, Made::Found] {
            let cache = PromqlCache::default();
            for namespace in ["team-1-dev", "team-1", "shop-prod"] {
                let (text, mut shape) = filled(expr, namespace, &[]);
                if let Made::Found = made {
                    shape.found(span, &text, namespace);
                }
                assert!(
                    cache
                        .check(&text, Some(&shape), namespace, span, None, &mut Vec::new())
                        .is_some()
                );
            }
            assert_eq!(cache.clean.read().expect("unpoisoned").len(), 1);
        }
    }

    #[test]
    fn only_whole_string_literals_may_hold_the_namespace() {
        let shared = |expr: &str| {
            let (text, shape) = filled(expr, "team-1-dev", &[("x", r"a\.b")]);
            other_strings(&text, &shape.holes, "team-1-dev").map(|others| others.len())
        };
        assert_eq!(shared(r#"up{namespace="${namespace}"} == 0"#), Some(0));
        assert_eq!(
            shared(r#"a{namespace='${namespace}', job="j"} / b{namespace=`${namespace}`}"#),
            Some(1)
        );
        assert_eq!(shared("up"), Some(0));
        assert_eq!(shared(r#"up{job="x-${namespace}"}"#), None);
        assert_eq!(shared(r#"up{namespace=~"${namespace}.*"}"#), None);
        assert_eq!(shared(r#"up{namespace=~"[${namespace}]"}"#), None);
        assert_eq!(
            shared(r#"up{namespace="${namespace}"} - ${namespace}"#),
            None
        );
        assert_eq!(
            shared("up{namespace=\"${namespace}\"} # ${namespace}\n"),
            None
        );
        assert_eq!(shared(r#"up{namespace="${namespace}", job="${x}"}"#), None);
        assert_eq!(
            shared(r#"up{namespace="${namespace}", job="team-1-dev"}"#),
            None
        );
        // The word `namespace` is never a hole's value.
        let (text, shape) = filled(r#"x{"${namespace}"="${namespace}"}"#, "namespace", &[]);
        let cache = PromqlCache::default();
        let span = Span::new(0, 0);
        assert!(
            cache
                .check(
                    &text,
                    Some(&shape),
                    "namespace",
                    span,
                    None,
                    &mut Vec::new()
                )
                .is_some()
        );
        assert!(cache.clean.read().expect("unpoisoned").is_empty());
    }
}
