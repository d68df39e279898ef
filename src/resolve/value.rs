//! Values: what an expression means once `let`s, loop variables and
//! `${…}` interpolation are resolved, before any unit is checked.
//!
//! Records stay lazy (a block and the variables in scope where it was
//! written): only the field that receives a record knows its schema. A
//! product (`small * 2`) is kept as written, both sides evaluated: what may
//! be scaled, and by what, is for `check` to say (E0307, in
//! `check::units`), like every other unit.

use std::borrow::Cow;
use std::sync::Arc;

use foldhash::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::suggest;
use crate::syntax::ast::{self, Expr, ExprKind, Number, RecordTag, StrPart, StringLit};

/// Variables in scope, innermost last: loop variables, each bound to an
/// element of its list (text, a number, a record…), and context such as
/// `namespace`, bound to its text as a name.
pub type Vars<'a> = Arc<Vec<(VarName, Value<'a>)>>;

/// A variable's name: the context's are the same words in every env, and
/// borrowed (`ENV_CONTEXT`), so that no env allocates them.
pub type VarName = Cow<'static, str>;

#[derive(Clone, Debug)]
pub enum Value<'a> {
    Number(Number, Span),
    Bool(bool, Span),
    Str(String, Span),
    List(Vec<Value<'a>>, Span),
    Record(Record<'a>),
    /// A name that is no `let`: an enum value (`production`) or a reference
    /// whose meaning the receiving field decides.
    Word(String, Span),
    /// `left * right`, both sides as written, unjudged: `check` reads it
    /// as a quota scaled by a plain number, or reports why it is not one.
    Product {
        /// Left and right, in one allocation.
        operands: Box<[Value<'a>; 2]>,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub tag: Option<RecordTag>,
    pub body: &'a ast::Block,
    pub vars: Vars<'a>,
    pub span: Span,
    /// Its fields' values, for a record a loop goes over: its body reads
    /// them again and again (`${team.name}` in every string), so they are
    /// evaluated once, when the loop is expanded (`None`: a field whose
    /// value has an error, reported then).
    pub evaluated: Option<EvaluatedFields<'a>>,
}

/// The values of a record's fields, by name, in the order written.
pub type EvaluatedFields<'a> = Arc<Vec<(&'a str, Option<Value<'a>>)>>;

impl<'a> Record<'a> {
    /// This record with its fields evaluated, once (see `evaluated`); what
    /// a field's value has wrong is reported here.
    pub fn evaluate(mut self, lets: &Lets<'a>, diagnostics: &mut Vec<Diagnostic>) -> Record<'a> {
        if self.evaluated.is_none() {
            let scope = Scope::new(self.vars.clone(), lets);
            let mut fields = Vec::with_capacity(self.body.stmts.len());
            fields.extend(
                self.fields()
                    .map(|field| (field.name, eval(field.value, &scope, diagnostics))),
            );
            self.evaluated = Some(Arc::new(fields));
            // No field is evaluated again, so the scope it was written in
            // is let go: every element of a list shares that one scope,
            // and copies of the records in envs checked on every core
            // would otherwise all count references on it.
            self.vars = Arc::new(Vec::new());
        }
        self
    }

    /// The expression of field `name`, as written.
    pub fn field(&self, name: &str) -> Option<&'a Expr> {
        self.fields()
            .find(|field| field.name == name)
            .map(|field| field.value)
    }

    /// Every `key = value` of the record, in the order written: in a
    /// record literal each is a field, `quota = …` and `limits = …`
    /// included. A key path (`requests.cpu`) or a block is no field a
    /// path can read.
    pub fn fields(&self) -> impl Iterator<Item = RecordField<'a>> + 'a {
        self.body.stmts.iter().filter_map(|stmt| {
            let (name, span, value) = match &stmt.kind {
                ast::StmtKind::Field(ast::Field {
                    key: ast::Key::Path(path),
                    value: ast::FieldValue::Expr(expr),
                }) if path.len() == 1 => (path[0].text.as_str(), path[0].span, expr),
                ast::StmtKind::Quota(ast::Quota::Expr(expr)) => ("quota", stmt.span, expr),
                ast::StmtKind::Limits(ast::Limits::Expr(expr)) => ("limits", stmt.span, expr),
                _ => return None,
            };
            Some(RecordField { name, span, value })
        })
    }
}

/// One `name = value` of a record literal.
#[derive(Clone, Copy, Debug)]
pub struct RecordField<'a> {
    pub name: &'a str,
    /// Where the name is written.
    pub span: Span,
    pub value: &'a Expr,
}

impl Value<'_> {
    /// What the value puts into a string: a string's or a name's text, a
    /// number as written, a boolean; `None` for a list, a record or a
    /// product.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(text, _) | Value::Word(text, _) => Some(Cow::Borrowed(text)),
            Value::Number(..) => Some(Cow::Owned(number_text(self))),
            Value::Bool(value, _) => Some(Cow::Owned(value.to_string())),
            Value::List(..) | Value::Record(_) | Value::Product { .. } => None,
        }
    }

    /// A string's or a name's text, borrowed.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(text, _) | Value::Word(text, _) => Some(text),
            _ => None,
        }
    }

    /// The same value, located at `span`.
    pub fn at(mut self, span: Span) -> Self {
        match &mut self {
            Value::Number(_, at)
            | Value::Bool(_, at)
            | Value::Str(_, at)
            | Value::List(_, at)
            | Value::Word(_, at)
            | Value::Product { span: at, .. } => *at = span,
            Value::Record(record) => record.span = span,
        }
        self
    }

    pub fn span(&self) -> Span {
        match self {
            Value::Number(_, span)
            | Value::Bool(_, span)
            | Value::Str(_, span)
            | Value::List(_, span)
            | Value::Word(_, span)
            | Value::Product { span, .. } => *span,
            Value::Record(record) => record.span,
        }
    }

    /// "a string", "a list", …: for "expected X, found Y".
    pub fn describe(&self) -> String {
        match self {
            Value::Number(number, _) => number.looks_like().to_string(),
            Value::Bool(..) => "a boolean".to_string(),
            Value::Str(..) => "a string".to_string(),
            Value::List(..) => "a list".to_string(),
            Value::Record(record) => match record.tag {
                Some(RecordTag::Quota) => "a quota".to_string(),
                Some(RecordTag::Limits(_)) => "a limit range".to_string(),
                None => "a record".to_string(),
            },
            Value::Word(word, _) => format!("the name `{word}`"),
            Value::Product { .. } if self.scales_a_record() => "a scaled quota".to_string(),
            Value::Product { .. } => "a multiplication".to_string(),
        }
    }

    /// Whether a record is multiplied here: what a product is meant to be
    /// is said from its shape, for messages; whether it is a quota scaled
    /// by a plain number is for `check` to say.
    fn scales_a_record(&self) -> bool {
        match self {
            Value::Record(_) => true,
            Value::Product { operands, .. } => operands.iter().any(Value::scales_a_record),
            _ => false,
        }
    }
}

/// The `let`s of a program, evaluated.
#[derive(Default)]
pub struct Lets<'a> {
    /// Each value, and whether it was looked up, by a value, a string or
    /// another `let`: one that never is gets its value checked where it is
    /// written.
    values: HashMap<String, (Value<'a>, std::sync::atomic::AtomicBool)>,
    /// The names in declaration order.
    declared: Vec<String>,
    /// `let`s whose value has an error, already reported: their uses stay
    /// silent instead of repeating it.
    failed: foldhash::HashSet<String>,
}

impl<'a> Lets<'a> {
    /// Evaluates every `let` in dependency order; a `let` that refers to
    /// itself through others is reported once, where the cycle is found.
    pub fn evaluate(
        lets: &[(&'a ast::Let, Span)],
        rejected: Vec<String>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Lets<'a> {
        let by_name: HashMap<&str, &'a ast::Let> = lets
            .iter()
            .map(|(binding, _)| (binding.name.text.as_str(), *binding))
            .collect();
        // Declared before any is evaluated, so that "did you mean" in one
        // `let` can name another not evaluated yet.
        let declared = lets
            .iter()
            .map(|(binding, _)| binding.name.text.clone())
            .collect();
        let mut evaluator = LetEvaluator {
            by_name,
            lets: Lets {
                declared,
                ..Lets::default()
            },
            in_progress: Vec::new(),
            failed: Default::default(),
        };
        for (binding, _) in lets {
            evaluator.force(binding.name.text.as_str(), diagnostics);
        }
        let mut lets = evaluator.lets;
        lets.failed = evaluator
            .failed
            .into_iter()
            .map(str::to_string)
            .chain(rejected)
            .collect();
        lets
    }

    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        let (value, used) = self.values.get(name)?;
        // Loaded first: envs on every core read the same flags, and a store
        // to a line every core reads would bounce it between them.
        if !used.load(std::sync::atomic::Ordering::Relaxed) {
            used.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Some(value)
    }

    /// The `let`s nothing looked up so far, with their values, in
    /// declaration order.
    pub fn unused(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.declared.iter().filter_map(|name| {
            let (value, used) = self.values.get(name)?;
            (!used.load(std::sync::atomic::Ordering::Relaxed)).then_some((name.as_str(), value))
        })
    }

    /// Every `let` that has a value, with it, in declaration order, without
    /// counting as a use.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.declared.iter().filter_map(|name| {
            let (value, _) = self.values.get(name)?;
            Some((name.as_str(), value))
        })
    }

    pub fn failed(&self, name: &str) -> bool {
        self.failed.contains(name)
    }

    /// Every `let` declared, evaluated or not: what "did you mean" may
    /// suggest anywhere, including in a `let` evaluated before another.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.declared.iter().map(String::as_str)
    }
}

struct LetEvaluator<'a> {
    by_name: HashMap<&'a str, &'a ast::Let>,
    lets: Lets<'a>,
    in_progress: Vec<&'a str>,
    failed: foldhash::HashSet<&'a str>,
}

impl<'a> LetEvaluator<'a> {
    fn force(&mut self, name: &str, diagnostics: &mut Vec<Diagnostic>) -> bool {
        if self.lets.values.contains_key(name) {
            return true;
        }
        let Some((&key, &binding)) = self.by_name.get_key_value(name) else {
            return false;
        };
        if self.failed.contains(key) {
            return false;
        }
        if let Some(at) = self.in_progress.iter().position(|&n| n == key) {
            let cycle: Vec<String> = self.in_progress[at..]
                .iter()
                .chain(std::iter::once(&key))
                .map(|n| format!("`{n}`"))
                .collect();
            diagnostics.push(
                Diagnostic::new(
                    Code::E0207,
                    binding.name.span,
                    format!("`{key}` is defined in terms of itself"),
                )
                .label("this `let` depends on itself")
                .note(cycle.join(" uses "))
                .help("give one of these `let`s a value that does not refer back"),
            );
            self.failed.extend(self.in_progress[at..].iter().copied());
            return false;
        }
        // Names this value mentions must be evaluated first.
        self.in_progress.push(key);
        let mut mentioned = Vec::new();
        names_in(&binding.value, &mut mentioned);
        let mut depends_on_failed = false;
        for other in mentioned {
            if self.by_name.contains_key(other) && !self.force(other, diagnostics) {
                depends_on_failed = true;
            }
        }
        self.in_progress.pop();
        // A `let` made from one that failed fails too, silently: the
        // mistake is reported once, where it is.
        if self.failed.contains(key) || depends_on_failed {
            self.failed.insert(key);
            return false;
        }
        let scope = Scope::new(Arc::new(Vec::new()), &self.lets);
        match eval(&binding.value, &scope, diagnostics) {
            Some(value) => {
                self.lets
                    .values
                    .insert(key.to_string(), (value, Default::default()));
                true
            }
            None => {
                self.failed.insert(key);
                false
            }
        }
    }
}

/// Names an expression refers to directly (not inside records, which are
/// evaluated where they are used).
fn names_in<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) {
    match &expr.kind {
        ExprKind::Name(ident) => out.push(&ident.text),
        ExprKind::Field(path) => out.push(&path[0].text),
        ExprKind::List(list) => list.items.iter().for_each(|item| names_in(item, out)),
        ExprKind::Mul(left, right) => {
            names_in(left, out);
            names_in(right, out);
        }
        ExprKind::Str(string) => {
            for part in &string.parts {
                if let StrPart::Interp(path) = part {
                    out.push(&path[0].text);
                }
            }
        }
        ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Record(_) => {}
    }
}

/// What names mean at one place: variables, then `let`s.
pub struct Scope<'s, 'a> {
    pub vars: Vars<'a>,
    pub lets: &'s Lets<'a>,
}

impl<'s, 'a> Scope<'s, 'a> {
    pub fn new(vars: Vars<'a>, lets: &'s Lets<'a>) -> Scope<'s, 'a> {
        Scope { vars, lets }
    }

    /// This scope with one more variable.
    pub fn with(&self, name: &str, value: Value<'a>) -> Scope<'s, 'a> {
        let mut vars = (*self.vars).clone();
        vars.push((Cow::Owned(name.to_string()), value));
        Scope {
            vars: Arc::new(vars),
            lets: self.lets,
        }
    }

    /// The variable `name`, the innermost one of that name.
    pub fn var(&self, name: &str) -> Option<&Value<'a>> {
        self.vars
            .iter()
            .rev()
            .find(|(var, _)| same_name(var, name))
            .map(|(_, value)| value)
    }

    /// What a name means here: a variable, else a `let`.
    fn named(&self, name: &str) -> Option<&Value<'a>> {
        self.var(name).or_else(|| self.lets.get(name))
    }

    /// Every name a path may start with here, sorted, each once: for "did
    /// you mean".
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .vars
            .iter()
            .map(|(var, _)| var.as_ref())
            .chain(self.lets.names())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The text `name` stands for; `Err` with what it is instead, or with
    /// `None` for a mistake reported where the `let` is written.
    fn lookup_text(&self, name: &str) -> Option<Result<Cow<'_, str>, Option<String>>> {
        let value = self.named(name)?;
        Some(match value.text() {
            Some(text) => Ok(text),
            // A product that scales no quota is check's E0307, at the
            // `let`: one mistake, reported once, so its uses stay silent.
            None if matches!(value, Value::Product { .. }) && !value.scales_a_record() => Err(None),
            None => Err(Some(value.describe())),
        })
    }
}

/// Whether two names are the same. Variables and fields are looked up
/// by name wherever a body reads them: names of one length usually differ
/// at their ends (`team` and `tier`, `name` and `role`), which are
/// compared before calling on memory comparison.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.last() == b.last() && a == b
}

/// What `a.b.c` reads, where `base` is what `a` means (a variable, else a
/// `let`): the field `b` of the record `base` holds, then that record's
/// `c`. `None` after reporting why there is none (E0212), or for a
/// mistake reported where it is written.
fn read_path<'s, 'a>(
    base: &'s Value<'a>,
    path: &[ast::Ident],
    lets: &Lets<'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Cow<'s, Value<'a>>> {
    // `team.name`, as most paths are: one step, nothing carried over.
    if let [_, field] = path {
        return step(base, field, &path[..1], lets, diagnostics);
    }
    let mut value: Cow<'s, Value<'a>> = Cow::Borrowed(base);
    for (depth, field) in path.iter().enumerate().skip(1) {
        value = match value {
            // A record a loop goes over holds its fields' values: read in
            // place, as long as the path stays in such records.
            Cow::Borrowed(record) => step(record, field, &path[..depth], lets, diagnostics)?,
            Cow::Owned(record) => {
                Cow::Owned(step(&record, field, &path[..depth], lets, diagnostics)?.into_owned())
            }
        };
    }
    Some(value)
}

/// The field `field` of `value`, which `read` (the path so far) holds.
/// Every `${team.name}` of a loop's body comes here, so what is not a
/// read of an evaluated record is kept out of line.
#[inline]
fn step<'v, 'a>(
    value: &'v Value<'a>,
    field: &ast::Ident,
    read: &[ast::Ident],
    lets: &Lets<'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Cow<'v, Value<'a>>> {
    if let Value::Record(Record {
        tag: None,
        evaluated: Some(values),
        ..
    }) = value
        && let Some((_, found)) = values.iter().find(|(name, _)| same_name(name, &field.text))
    {
        // `None`: its error was reported where the record was evaluated.
        return found.as_ref().map(Cow::Borrowed);
    }
    step_slowly(value, field, read, lets, diagnostics)
}

/// `step` for what is not a field of an evaluated record: a field of one
/// that is not (a `let`'s record), or a mistake.
#[cold]
fn step_slowly<'v, 'a>(
    value: &'v Value<'a>,
    field: &ast::Ident,
    read: &[ast::Ident],
    lets: &Lets<'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Cow<'v, Value<'a>>> {
    // A quota's or a limit range's keys are for the checker of that kind
    // to read, never a path.
    let Value::Record(record @ Record { tag: None, .. }) = value else {
        // A product that scales no quota is reported at its `let`.
        if matches!(value, Value::Product { .. }) && !value.scales_a_record() {
            return None;
        }
        let read = ast::path_text(read);
        diagnostics.push(
            Diagnostic::new(
                Code::E0212,
                field.span,
                format!("`{read}` is {}, which has no fields", value.describe()),
            )
            .label(format!("no field `{}` to read", field.text))
            .help(match value.text() {
                Some(_) => format!(
                    "read `{read}` whole: `{read}` in a value, `${{{read}}}` in a string"
                ),
                None if matches!(value, Value::Record(_)) => format!(
                    "`{read}` is used whole, as in `quota = {read}`; only a plain record `{{ name = … }}` has fields"
                ),
                None => "only a record `{ name = … }` has fields".to_string(),
            }),
        );
        return None;
    };
    let expr = match &record.evaluated {
        // Every field is among the values: this one is not a field.
        Some(_) => None,
        None => record.field(&field.text),
    };
    let Some(expr) = expr else {
        let read = ast::path_text(read);
        let fields: Vec<&str> = record.fields().map(|field| field.name).collect();
        let diagnostic = Diagnostic::new(
            Code::E0212,
            field.span,
            format!("`{read}` has no field `{}`", field.text),
        )
        .label("no such field");
        diagnostics.push(
            match suggest::closest(&field.text, fields.iter().copied()) {
                Some(close) => diagnostic.help(format!("did you mean `{read}.{close}`?")),
                None if fields.is_empty() => {
                    diagnostic.help("this record has no `name = value` fields")
                }
                None => diagnostic.help(format!(
                    "its fields: {}",
                    fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        );
        return None;
    };
    let inner = Scope::new(record.vars.clone(), lets);
    eval(expr, &inner, diagnostics).map(Cow::Owned)
}

/// A number as text, as written: `5m`, `0.9`, `20Gi`.
pub fn number_text(value: &Value) -> String {
    let Value::Number(number, _) = value else {
        return String::new();
    };
    let digits = number.mantissa.to_string();
    let scale = number.scale as usize;
    let text = if scale == 0 {
        digits
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{whole}.{fraction}")
    };
    format!("{text}{}", number.suffix.as_str())
}

/// Evaluates an expression. `None` after reporting why it has no value.
pub fn eval<'a>(
    expr: &'a Expr,
    scope: &Scope<'_, 'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value<'a>> {
    Some(match &expr.kind {
        ExprKind::Number(number) => Value::Number(*number, expr.span),
        ExprKind::Bool(value) => Value::Bool(*value, expr.span),
        ExprKind::Str(string) => Value::Str(interpolate(string, scope, diagnostics)?, expr.span),
        ExprKind::List(list) => {
            let mut items = Vec::with_capacity(list.items.len());
            let mut ok = true;
            for item in &list.items {
                match eval(item, scope, diagnostics) {
                    Some(value) => items.push(value),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Value::List(items, expr.span)
        }
        ExprKind::Record(record) => Value::Record(Record {
            tag: record.tag,
            body: &record.body,
            vars: scope.vars.clone(),
            span: expr.span,
            evaluated: None,
        }),
        ExprKind::Name(ident) => match scope.named(&ident.text) {
            // Where the name is used is what a type error should point at.
            Some(value) => value.clone().at(ident.span),
            None if scope.lets.failed(&ident.text) => return None,
            None => Value::Word(ident.text.clone(), ident.span),
        },
        ExprKind::Field(path) => {
            let Some(base) = scope.named(&path[0].text) else {
                if !scope.lets.failed(&path[0].text) {
                    diagnostics.push(unknown_base(&path[0], scope));
                }
                return None;
            };
            read_path(base, path, scope.lets, diagnostics)?
                .into_owned()
                .at(expr.span)
        }
        ExprKind::Mul(left, right) => {
            // A side that failed was reported where it failed; the product
            // then has no value, and the right side is not looked at.
            let left = eval(left, scope, diagnostics)?;
            let right = eval(right, scope, diagnostics)?;
            Value::Product {
                operands: Box::new([left, right]),
                span: expr.span,
            }
        }
    })
}

/// `${name}` that holds no text.
fn not_text(name: &str, what: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::E0208, span, format!("`{name}` is {what}, not text"))
        .label("cannot be put into a string")
        .help("only text can be interpolated: strings, names, numbers and booleans")
}

/// `team.size` where nothing is called `team`.
fn unknown_base(base: &ast::Ident, scope: &Scope) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        Code::E0212,
        base.span,
        format!("unknown variable `{}`", base.text),
    )
    .label("no variable or `let` has this name here");
    with_names_help(
        diagnostic,
        &base.text,
        scope,
        "a field is read from a `for` variable or a `let` holding a record",
    )
}

/// "did you mean", else the names in scope, else `when_none`.
fn with_names_help(
    diagnostic: Diagnostic,
    name: &str,
    scope: &Scope,
    when_none: &'static str,
) -> Diagnostic {
    let names = scope.names();
    match suggest::closest(name, names.iter().copied()) {
        Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
        None if names.is_empty() => diagnostic.help(when_none),
        None => diagnostic.help(format!(
            "in scope here: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The text of a string with its `${…}` parts filled in.
pub fn interpolate(
    string: &StringLit,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    // `"${team.owner}"`: the value's text as it is, in one allocation.
    if let [StrPart::Interp(path)] = &string.parts[..] {
        return interpolation(path, scope, diagnostics).map(Cow::into_owned);
    }
    // Room for the text and a name-sized value per `${…}`: most strings
    // then need no regrowth.
    let capacity = string
        .parts
        .iter()
        .map(|part| match part {
            StrPart::Text(text) => text.len(),
            StrPart::Interp(_) => 16,
        })
        .sum();
    let mut out = String::with_capacity(capacity);
    let mut ok = true;
    for part in &string.parts {
        match part {
            StrPart::Text(text) => out.push_str(text),
            StrPart::Interp(path) => match interpolation(path, scope, diagnostics) {
                Some(text) => out.push_str(&text),
                None => ok = false,
            },
        }
    }
    ok.then_some(out)
}

/// The text `${path}` stands for; `None` after reporting why there is
/// none, or for a mistake reported where it is written.
fn interpolation<'s>(
    path: &[ast::Ident],
    scope: &'s Scope,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Cow<'s, str>> {
    let span = path[0].span.to(path[path.len() - 1].span);
    if path.len() > 1
        && let Some(base) = scope.named(&path[0].text)
    {
        let value = read_path(base, path, scope.lets, diagnostics)?;
        let text = match &value {
            Cow::Borrowed(value) => value.text(),
            Cow::Owned(value) => value.text().map(|text| Cow::Owned(text.into_owned())),
        };
        if text.is_none() {
            let name = ast::path_text(path);
            diagnostics.push(not_text(&name, &value.describe(), span));
        }
        return text;
    }
    let name = ast::path_text(path);
    match scope.lookup_text(&name) {
        Some(Ok(text)) => Some(text),
        Some(Err(None)) => None,
        Some(Err(Some(what))) => {
            diagnostics.push(not_text(&name, &what, span));
            None
        }
        // A `let` that failed was reported where it is written.
        None if scope.lets.failed(&path[0].text) => None,
        // `${a.b}` where `a` is a mistake reported at its `let`.
        None => {
            // Of `${teem.owner}`, `teem` is what names nothing.
            let (name, span) = match path {
                [base, _, ..] => (Cow::Borrowed(base.text.as_str()), base.span),
                _ => (name, span),
            };
            let diagnostic =
                Diagnostic::new(Code::E0208, span, format!("unknown variable `{name}`"))
                    .label("nothing by this name is in scope here");
            diagnostics.push(with_names_help(
                diagnostic,
                &name,
                scope,
                "a string can use `for` variables, `let`s and, where they exist, `namespace`, `cluster`, `environment`, `tier`, `family`, `stage` and template parameters",
            ));
            None
        }
    }
}
