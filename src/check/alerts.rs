//! Alert templates and the rules envs make of them (E07xx).
//!
//! Invariants established here: every alert expression is PromQL that
//! parses once its parameters and namespace are filled in, and reads
//! only its own namespace (the rule is `scope.rs`'s); every parameter an
//! env passes exists and has the template's type; every alert a tier
//! requires is used by its envs.

use std::sync::Arc;

use promql_parser::parser as promql;

use super::fields::{self, Fields, field_value};
use super::units::{self, Diags};
use super::{Checker, EnvDraft, TierFacts};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, Dimension, Duration, Ratio, TextMap};
use crate::resolve::bind::{ENV_CONTEXT, STAGE_CONTEXT};
use crate::resolve::value::{Scope, Value, Vars};
use crate::resolve::{Decl, EnvDecl};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, Block, FieldValue};

const BODY_FIELDS: &[&str] = &[
    "expr",
    "severity",
    "summary",
    "description",
    "labels",
    "annotations",
];
const SEVERITIES: &[&str] = &["info", "warning", "critical"];
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
    vars: Vars,
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

    /// The rule's expression and annotations filled in, as `fill` does;
    /// `None` where any of them cannot be.
    fn texts(
        &self,
        values: &Values,
        context: &[(&str, &str)],
        vars: &[(String, String)],
    ) -> Option<(String, TextMap)> {
        let fill = |text| Self::fill(text, values, context, vars);
        let expr = fill(self.expr)?;
        let mut annotations = TextMap::with_capacity(2);
        for (key, text) in [("summary", self.summary), ("description", self.description)] {
            if let Some(text) = text {
                annotations.insert(key.to_string(), fill(text)?);
            }
        }
        Some((expr, annotations))
    }

    /// `text` filled in as `interpolate` would in the scope `instantiate`
    /// builds: parameters over context over the template's own variables.
    /// `None` when a name is none of them (a `let`, or an error the
    /// evaluator reports).
    fn fill(
        text: &ast::StringLit,
        values: &Values,
        context: &[(&str, &str)],
        vars: &[(String, String)],
    ) -> Option<String> {
        let mut out = String::with_capacity(text.parts.len() * 16);
        for part in &text.parts {
            match part {
                ast::StrPart::Text(literal) => out.push_str(literal),
                ast::StrPart::Interp(path) => {
                    let name = ast::path_text(path);
                    if let Some((_, value)) = values.iter().rev().find(|(var, _)| *var == name) {
                        out.push_str(&value.text);
                    } else if let Some((_, value)) =
                        context.iter().rev().find(|(var, _)| *var == name)
                    {
                        out.push_str(value);
                    } else {
                        out.push_str(&vars.iter().rev().find(|(var, _)| *var == name)?.1);
                    }
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
    let body_fields =
        Fields::read_only_fields(&decl.node.body, BODY_FIELDS, &context, &scope, diagnostics);
    if diagnostics.len() > reported {
        ok = false;
    }
    for required in ["expr", "severity"] {
        let example = if required == "expr" {
            "\"up{namespace=\\\"${namespace}\\\"} == 0\""
        } else {
            "warning"
        };
        if !body_fields.require(required, decl.name_span, &context, example, diagnostics) {
            ok = false;
        }
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
        .chain(&STAGE_CONTEXT)
        .map(|name| (*name, format!("${{{name}}}")))
        .collect();
    let context: Vec<(&str, &str)> = decl
        .vars
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(symbolic.iter().map(|(name, value)| (*name, value.as_str())))
        .collect();
    let sample_namespace = "${namespace}".to_string();
    instantiate(
        checker,
        &decl.name,
        &template,
        &values,
        &context,
        &sample_namespace,
        None,
        diagnostics,
    )?;
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
    if let Some(compiled) = &template.compiled
        && let Some((expr, annotations)) = compiled.texts(values, context, &template.vars)
    {
        let clean =
            checker
                .promql
                .check(&expr, namespace, compiled.expr_span, use_span, diagnostics);
        return clean.then(|| InstantiatedRule {
            expr,
            for_: for_duration(values),
            labels: TextMap::from_iter([("severity".to_string(), compiled.severity.to_string())]),
            annotations,
        });
    }
    let mut vars: Vec<(String, String)> = (*template.vars).clone();
    vars.extend(
        context
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    vars.extend(values.iter().map(|(n, v)| (n.to_string(), v.text.clone())));
    let scope = Scope::new(Arc::new(vars), &checker.resolved.lets);
    let context_name = format!("alert template `{name}`");
    let body_fields = Fields::read(
        template.body,
        BODY_FIELDS,
        &context_name,
        &scope,
        diagnostics,
    );
    let mut ok = true;
    let mut expr = None;
    let mut labels = TextMap::new();
    let mut annotations = TextMap::new();
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
                match checker
                    .promql
                    .check(&text, namespace, value_span, use_span, diagnostics)
                {
                    true => expr = Some(text),
                    false => ok = false,
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
    (ok && expr.is_some()).then(|| InstantiatedRule {
        expr: expr.expect("checked above"),
        for_: for_duration(values),
        labels,
        annotations,
    })
}

/// Which map of a rule a block fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Texts {
    Labels,
    Annotations,
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
        Texts::Labels => "labels",
        Texts::Annotations => "annotations",
    };
    let Some((record, vars)) = fields::record(value, &format!("a block of {what}"), diagnostics)
    else {
        return false;
    };
    let inner = Scope::new(vars, &checker.resolved.lets);
    let map = Fields::read_only_fields(record.body, &[], what, &inner, diagnostics);
    let mut ok = true;
    for item in &map.entries {
        if texts == Texts::Labels && (!is_label_name(&item.key) || item.key == "severity") {
            let why = if item.key == "severity" {
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
    for_: Option<Duration>,
    labels: TextMap,
    annotations: TextMap,
}

/// Parses an alert expression and checks that it reads only `namespace`.
/// Expressions already checked clean, each with its env's namespace
/// replaced by a marker: one template used by a thousand envs is parsed
/// once, not a thousand times.
///
/// Replacing the namespace is sound only where it cannot change what the
/// expression means, so [`cache_key`] gives no key in every other case.
#[derive(Default)]
pub(crate) struct PromqlCache {
    clean: std::sync::RwLock<foldhash::HashSet<String>>,
}

const NAMESPACE_MARKER: &str = "\u{0}namespace\u{0}";

impl PromqlCache {
    fn check(
        &self,
        text: &str,
        namespace: &str,
        expr_span: Span,
        use_span: Option<Span>,
        diagnostics: &mut Diags,
    ) -> bool {
        thread_local! {
            // Each use's key is made in the same buffer: a thousand envs'
            // keys are looked up, and only the first is kept.
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let (keyed, known) = KEY.with_borrow_mut(|key| {
            let keyed = cache_key_into(text, namespace, key);
            let known = keyed
                && self
                    .clean
                    .read()
                    .expect("no thread panics holding it")
                    .contains(key.as_str());
            (keyed, known)
        });
        if known {
            return true;
        }
        let clean = check_promql(text, namespace, expr_span, use_span, diagnostics);
        if clean && keyed {
            // The buffer still holds this expression's key: checking it
            // made no key.
            let key = KEY.with_borrow(Clone::clone);
            self.clean
                .write()
                .expect("no thread panics holding it")
                .insert(key);
        }
        clean
    }
}

/// `text` with each occurrence of `namespace` replaced by the marker, when
/// every occurrence is the whole content of a string literal
/// (`namespace="team-1"`, in `"…"`, `'…'` or `` `…` ``).
///
/// Such a literal parses the same for any DNS label, as a string or as a
/// regex. The scope check (`scope.rs`) reads a literal's text in two ways
/// only, and the marker keeps both: whether an `=` matcher's value is the
/// namespace (exactly when, replaced, it is the marker), and whether a
/// label name (`{"namespace"=…}`, `by ("namespace")`, the destination of
/// `label_replace`) is the word `namespace`. The namespace `namespace`
/// itself has no key, so a marked literal is not that word in any env that
/// meets the key; its other decisions (a regex or negative matcher on
/// `namespace`, modifiers, aggregations) read no literal at all.
/// That holds only if no escape can spell the namespace (`"\x74eam-1"` is
/// `team-1`, but would be kept as written and meet another env's
/// namespace in the cache), so an expression with a backslash has no key;
/// nor has one with a NUL, which could forge the marker. A namespace
/// anywhere else (`up - team-1`, a comment, or inside a longer string or
/// regex) gives no key either: such expressions are checked every time.
#[cfg(test)]
fn cache_key(text: &str, namespace: &str) -> Option<String> {
    let mut key = String::new();
    cache_key_into(text, namespace, &mut key).then_some(key)
}

/// `cache_key`, made in `key` (emptied first); whether there is one.
fn cache_key_into(text: &str, namespace: &str, key: &mut String) -> bool {
    key.clear();
    if namespace == "namespace" {
        return false;
    }
    const KEY_SPECIAL: [bool; 256] = {
        let mut special = [false; 256];
        let mut at = 0;
        let bytes = b"\"'`\\#\0";
        while at < bytes.len() {
            special[bytes[at] as usize] = true;
            at += 1;
        }
        special
    };
    let needle = namespace.as_bytes();
    let Some(&first) = needle.first() else {
        return false;
    };
    let bytes = text.as_bytes();
    key.reserve(text.len() + 16);
    let mut copied = 0;
    let mut quote: Option<u8> = None;
    let mut string_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        // Most bytes are none of the ones the walk acts on.
        if byte != first && !KEY_SPECIAL[usize::from(byte)] {
            at += 1;
            continue;
        }
        if byte == b'\\' || byte == 0 {
            return false;
        }
        if byte == first && bytes[at..].starts_with(needle) {
            let end = at + needle.len();
            let whole = quote.is_some_and(|q| at == string_start && bytes.get(end) == Some(&q));
            if !whole {
                return false;
            }
            key.push_str(&text[copied..at]);
            key.push_str(NAMESPACE_MARKER);
            copied = end;
            at = end;
            continue;
        }
        match quote {
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if matches!(byte, b'"' | b'\'' | b'`') => {
                quote = Some(byte);
                string_start = at + 1;
            }
            // A comment runs to the end of the line; its quotes open nothing.
            None if byte == b'#' => {
                while at + 1 < bytes.len() && bytes[at + 1] != b'\n' {
                    at += 1;
                    if bytes[at] == 0 || bytes[at] == first && bytes[at..].starts_with(needle) {
                        return false;
                    }
                }
            }
            None => {}
        }
        at += 1;
    }
    key.push_str(&text[copied..]);
    true
}

fn check_promql(
    text: &str,
    namespace: &str,
    expr_span: Span,
    use_span: Option<Span>,
    diagnostics: &mut Diags,
) -> bool {
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
            return false;
        }
    };
    let leaks = super::scope::leaks(&parsed, namespace);
    let Some((first, further)) = leaks.split_first() else {
        return true;
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
    false
}

/// A use of a template in one layer of an env, with its rule's name:
/// the template's, or the name after `as`. `None` when that name is
/// invalid (already reported): the use still satisfies `require alerts`.
pub(crate) struct AlertDraft<'a> {
    pub alert: &'a ast::AlertUse,
    pub span: Span,
    /// The layer (family body, stage body) the use is written in.
    pub layer: usize,
    pub rule_name: Option<std::borrow::Cow<'a, str>>,
}

/// The name of the rule a use makes: `as NAME`, else the template's.
pub(crate) fn rule_name<'a>(
    alert: &'a ast::AlertUse,
    scope: &Scope,
    diagnostics: &mut Diags,
) -> Option<std::borrow::Cow<'a, str>> {
    let ast::Ident { text: name, span } = match &alert.rename {
        None => return Some(std::borrow::Cow::Borrowed(&alert.template.text)),
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
pub(crate) fn env_alerts(
    checker: &Checker,
    decl: &EnvDecl,
    tier: &TierFacts,
    draft: &EnvDraft,
    vars: &Vars,
    env: &mut model::Env,
    diagnostics: &mut Diags,
) {
    let scope = checker.scope(vars);
    // The env's variables templates may use, gathered at the first use.
    let mut context: Option<Vec<(&str, &str)>> = None;
    // Each rule's span, for the duplicate check.
    let mut made = RuleSpans::default();
    env.alerts.rules.reserve_exact(draft.alerts.len());
    for used in &draft.alerts {
        let (alert, span) = (used.alert, used.span);
        let Some(template_decl) = checker.resolved.templates.referent(
            &checker.resolved.refs,
            &alert.template,
            Code::E0201,
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
        let context = context.get_or_insert_with(|| {
            vars.iter()
                .filter(|(name, _)| {
                    ENV_CONTEXT.contains(&name.as_str()) || STAGE_CONTEXT.contains(&name.as_str())
                })
                .map(|(name, value)| (name.as_str(), value.as_str()))
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
                    alert.template.text
                )),
            );
            continue;
        }
        made.push(span);
        env.alerts.rules.push(model::AlertRule {
            alert: String::from(&**rule_name),
            expr: rule.expr,
            for_: rule.for_,
            labels,
            annotations: rule.annotations,
            source: checker.source(span),
        });
    }
    for required in &tier.model.require_alerts {
        let used = draft
            .alerts
            .iter()
            .any(|used| &used.alert.template.text == required);
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
    use super::{NAMESPACE_MARKER, PromqlCache, cache_key, check_promql};
    use crate::source::Span;

    fn keyed(text: &str) -> bool {
        cache_key(text, "team-1-dev").is_some()
    }

    #[test]
    fn only_whole_string_literals_may_stand_for_any_namespace() {
        assert!(keyed(r#"up{namespace="team-1-dev"} == 0"#));
        assert!(keyed(
            r#"a{namespace='team-1-dev'} / b{namespace=`team-1-dev`}"#
        ));
        assert!(!keyed(r#"up{job="x\"team-1-dev"}"#));
        assert!(!keyed(r#"up{namespace=~"team-1-dev.*"}"#));
        assert!(!keyed(r#"up{namespace=~"[team-1-dev]"}"#));
        assert!(!keyed("up - team-1-dev"));
        assert!(!keyed(r#"up{a="\team-1-dev"}"#));
        // In a comment it changes nothing, but is checked every time.
        assert!(!keyed("up # team-1-dev\n"));
        assert!(keyed("up # \"\n > 0 and up{namespace=\"team-1-dev\"}"));
        assert!(keyed("up"));
    }

    #[test]
    fn the_namespace_named_namespace_has_no_key() {
        // `{"namespace"="namespace"}` is scoped there, and would be read
        // as scoped from the key in an env where it is `{"team1"="team1"}`.
        assert_eq!(
            cache_key(r#"x{"namespace"="namespace"}"#, "namespace"),
            None
        );
        assert!(cache_key(r#"x{"team1"="team1"}"#, "team1").is_some());
    }

    /// The expressions of the alert UI cases and the stdlib, and some
    /// whose verdict turns on a literal the key marks.
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
            ]
            .map(String::from),
        );
        found
    }

    /// Filled in as a use would: the namespace, and a value of the right
    /// kind for each parameter.
    fn filled(expr: &str, namespace: &str) -> String {
        let mut out = expr.replace("${namespace}", namespace);
        for (name, value) in [("${window}", "5m"), ("${job}", "api")] {
            out = out.replace(name, value);
        }
        while let Some(start) = out.find("${") {
            let end = out[start..]
                .find('}')
                .map_or(out.len(), |end| start + end + 1);
            out.replace_range(start..end, "1");
        }
        out
    }

    /// Whichever namespace checked an expression first, the cache gives
    /// each namespace the verdict checking it afresh gives.
    #[test]
    fn the_cache_agrees_with_checking_every_time() {
        let namespaces = ["shop-prod", "team-1", "team1", "namespace", "a", "1"];
        let span = Span::new(0, 0);
        let mut compared = 0;
        for expr in expressions() {
            for first in namespaces {
                let cache = PromqlCache::default();
                cache.check(&filled(&expr, first), first, span, None, &mut Vec::new());
                for namespace in namespaces {
                    let text = filled(&expr, namespace);
                    let mut fresh = Vec::new();
                    let expected = check_promql(&text, namespace, span, None, &mut fresh);
                    let mut cached = Vec::new();
                    let verdict = cache.check(&text, namespace, span, None, &mut cached);
                    assert_eq!(verdict, expected, "{text} after {first}");
                    assert_eq!(cached.len(), fresh.len(), "{text} after {first}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 500);
    }

    #[test]
    fn no_escape_can_spell_a_namespace_the_key_does_not_mark() {
        // `\x74eam-1-dev` is `team-1-dev` to PromQL: kept as written, it
        // would read the same in every env's key.
        assert!(!keyed(r#"up{namespace="\x74eam-1-dev"}"#));
        assert!(!keyed(r#"up{namespace=`\x74eam-1-dev`}"#));
        assert!(!keyed("up{namespace=\"team-1-dev\"} or up{x=\"\0\"}"));
    }

    /// The walk that skips uninteresting bytes against one that looks at
    /// every byte, over every text of up to five characters made of what
    /// the walk reacts to.
    #[test]
    fn skipping_bytes_changes_no_key() {
        fn byte_by_byte(text: &str, namespace: &str) -> Option<String> {
            let needle = namespace.as_bytes();
            let &first = needle.first()?;
            let bytes = text.as_bytes();
            let (mut key, mut copied, mut at) = (String::new(), 0, 0);
            let (mut quote, mut string_start): (Option<u8>, usize) = (None, 0);
            while at < bytes.len() {
                let byte = bytes[at];
                if byte == b'\\' || byte == 0 {
                    return None;
                }
                if byte == first && bytes[at..].starts_with(needle) {
                    let end = at + needle.len();
                    if !quote.is_some_and(|q| at == string_start && bytes.get(end) == Some(&q)) {
                        return None;
                    }
                    key.push_str(&text[copied..at]);
                    key.push_str(NAMESPACE_MARKER);
                    (copied, at) = (end, end);
                    continue;
                }
                match quote {
                    Some(q) if byte == q => quote = None,
                    Some(_) => {}
                    None if matches!(byte, b'"' | b'\'' | b'`') => {
                        quote = Some(byte);
                        string_start = at + 1;
                    }
                    None if byte == b'#' => {
                        while at + 1 < bytes.len() && bytes[at + 1] != b'\n' {
                            at += 1;
                            if bytes[at] == 0
                                || bytes[at] == first && bytes[at..].starts_with(needle)
                            {
                                return None;
                            }
                        }
                    }
                    None => {}
                }
                at += 1;
            }
            key.push_str(&text[copied..]);
            Some(key)
        }
        let alphabet = ['"', '\'', '`', '\\', '#', '\n', 't', 'e', 'x', '\0'];
        for text in &crate::test_inputs::every_string(&alphabet, 5) {
            for namespace in ["te", "t", "x"] {
                assert_eq!(
                    cache_key(text, namespace),
                    byte_by_byte(text, namespace),
                    "{text:?} {namespace}"
                );
            }
        }
    }

    #[test]
    fn the_key_is_the_text_with_each_namespace_marked() {
        let key = cache_key(
            r#"a{namespace="team-1-dev"} / b{namespace='team-1-dev'} # c"#,
            "team-1-dev",
        );
        assert_eq!(
            key.as_deref(),
            Some(
                format!(
                    r#"a{{namespace="{NAMESPACE_MARKER}"}} / b{{namespace='{NAMESPACE_MARKER}'}} # c"#
                )
                .as_str()
            )
        );
        assert_eq!(cache_key("up", "").as_deref(), None);
    }
}
