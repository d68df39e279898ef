//! Typing a policy's predicate against the shape of the checked program
//! ([`super::shape`]): every path is resolved to the fields evaluation
//! reads, every comparison's sides are of one type, every number has its
//! unit and every pattern compiles, so that a policy that types evaluates
//! on any program. What does not type is reported here (E0902 unknown
//! names and fields, E0903 types, E0904 patterns), once, at declaration.

use super::shape::{self, F, Field, Kind, Ty, Words};
use crate::diag::{Code, Diagnostic};
use crate::model::Dimension;
use crate::source::Span;
use crate::syntax::ast::{self, CompareOp, PredKind, Quantifier, Suffix, TermKind};

/// Numbers are kept in millionths of their unit (milli-cores, bytes, a
/// count), so that `1.5 * x` and `0.5` are exact.
pub(super) const ONE: u128 = 1_000_000;

/// A typed predicate.
pub(super) enum Cond {
    Quant(Box<Quant>),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Implies(Box<Cond>, Box<Cond>),
    Compare(Val, CompareOp, Val),
    Matches(Val, regex::Regex, String),
    StartsWith(Val, Val),
    /// A label or annotation key, or an element of a list of text.
    Has(Val, Val),
    /// `env has quota`: an optional field is set.
    HasField(Val, F, &'static str),
    In(Val, Val),
    Value(Val),
}

pub(super) struct Quant {
    pub quantifier: Quantifier,
    pub slot: usize,
    pub kind: Kind,
    pub collection: Val,
    pub filter: Option<Cond>,
    pub body: Cond,
}

/// A typed value, with the text it was written as (for messages).
pub(super) struct Val {
    pub kind: ValKind,
    pub ty: Ty,
    pub span: Span,
    pub text: String,
}

pub(super) enum ValKind {
    Bool(bool),
    /// Millionths of the unit of its type.
    Num(u128),
    Str(String),
    Word(&'static str),
    List(Vec<Val>),
    Var(usize),
    Collection(Kind),
    /// A path: its root (a variable or a collection) and the fields read
    /// from it in turn, each with its name.
    Field(Box<Val>, Vec<(F, &'static str)>),
    Index(Box<Val>, String),
    Count(Box<Counted>),
    Unique(Box<Counted>, Box<Val>, Option<Box<Val>>),
    Mul(Box<Val>, Box<Val>),
    /// A plain number meeting cpu: cores, so × 1000 milli-cores.
    Scale(Box<Val>, u128),
}

pub(super) struct Counted {
    pub slot: usize,
    pub collection: Val,
    pub filter: Option<Cond>,
}

pub(super) struct Typer<'d> {
    /// The quantifiers' variables in scope, innermost last.
    vars: Vec<(String, Kind)>,
    /// How many variable slots evaluation needs.
    pub slots: usize,
    text: &'d dyn Fn(Span) -> String,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'d> Typer<'d> {
    pub fn new(text: &'d dyn Fn(Span) -> String) -> Typer<'d> {
        Typer {
            vars: Vec::new(),
            slots: 0,
            text,
            diagnostics: Vec::new(),
        }
    }

    fn error(&mut self, code: Code, span: Span, message: String, label: &str, help: String) {
        let mut diagnostic = Diagnostic::new(code, span, message).label(label);
        if !help.is_empty() {
            diagnostic = diagnostic.help(help);
        }
        self.diagnostics.push(diagnostic);
    }

    pub fn cond(&mut self, pred: &ast::Pred) -> Option<Cond> {
        Some(match &pred.kind {
            PredKind::Group(inner) => return self.cond(inner),
            PredKind::Not(inner) => Cond::Not(Box::new(self.cond(inner)?)),
            PredKind::And(left, right) => {
                let (left, right) = (self.cond(left), self.cond(right));
                Cond::And(Box::new(left?), Box::new(right?))
            }
            PredKind::Or(left, right) => {
                let (left, right) = (self.cond(left), self.cond(right));
                Cond::Or(Box::new(left?), Box::new(right?))
            }
            PredKind::Implies(left, right) => {
                let (left, right) = (self.cond(left), self.cond(right));
                Cond::Implies(Box::new(left?), Box::new(right?))
            }
            PredKind::Quantified(quantified) => {
                let (slot, kind, collection) =
                    self.bind(&quantified.var, &quantified.collection)?;
                let filter = quantified.filter.as_ref().map(|filter| self.cond(filter));
                let body = self.cond(&quantified.body);
                self.vars.pop();
                Cond::Quant(Box::new(Quant {
                    quantifier: quantified.quantifier,
                    slot,
                    kind,
                    collection,
                    filter: match filter {
                        Some(filter) => Some(filter?),
                        None => None,
                    },
                    body: body?,
                }))
            }
            PredKind::Compare(left, op, right) => {
                let (left, right) = self.pair(left, right)?;
                self.comparable(&left, *op, &right, pred.span)?;
                Cond::Compare(left, *op, right)
            }
            PredKind::Matches(left, pattern) => {
                let left = self.term(left, None)?;
                self.expect_text(&left, "`matches`")?;
                let text = self.plain(pattern)?;
                match regex::Regex::new(&format!("^(?:{text})$")) {
                    Ok(regex) => Cond::Matches(left, regex, text),
                    Err(error) => {
                        let why = match &error {
                            regex::Error::Syntax(detail) => detail
                                .lines()
                                .last()
                                .unwrap_or("invalid")
                                .trim_start_matches("error: ")
                                .to_string(),
                            other => other.to_string(),
                        };
                        self.error(
                            Code::E0904,
                            pattern.span,
                            format!("invalid pattern `{text}`"),
                            &why,
                            "patterns are Rust regular expressions (RE2 syntax), matched against the whole text".into(),
                        );
                        return None;
                    }
                }
            }
            PredKind::StartsWith(left, right) => {
                let left = self.term(left, None)?;
                self.expect_text(&left, "`starts_with`")?;
                let right = self.term(right, Some(Ty::Str))?;
                self.expect_text(&right, "`starts_with`")?;
                Cond::StartsWith(left, right)
            }
            PredKind::Has(left, right) => return self.has(left, right),
            PredKind::In(left, right) => {
                let left = self.term(left, None)?;
                let right = match &right.kind {
                    TermKind::List(items) => {
                        let mut typed = Vec::new();
                        for item in items {
                            let item = self.term(item, Some(left.ty))?;
                            self.comparable(&left, CompareOp::Eq, &item, item.span)?;
                            typed.push(item);
                        }
                        Val {
                            kind: ValKind::List(typed),
                            ty: Ty::Strs,
                            span: right.span,
                            text: (self.text)(right.span),
                        }
                    }
                    _ => {
                        let right = self.term(right, None)?;
                        if right.ty != Ty::Strs || !matches!(left.ty, Ty::Str | Ty::Word(_)) {
                            self.error(
                                Code::E0903,
                                right.span,
                                format!("`in` needs a list, and `{}` is {}", right.text, right.ty.describe()),
                                "not a list of text",
                                "write the values in brackets: `env.environment in [staging, production]`".into(),
                            );
                            return None;
                        }
                        right
                    }
                };
                Cond::In(left, right)
            }
            PredKind::Value(term) => {
                let value = self.term(term, Some(Ty::Bool))?;
                if value.ty != Ty::Bool {
                    let help = match value.ty {
                        Ty::Object(_) | Ty::List(_) | Ty::Map | Ty::Strs => {
                            "compare it, test it with `has`, or quantify over it: `all x in … : …`"
                        }
                        _ => "compare it: `env.quota.requests.cpu <= 4`, `env.name == \"api\"`",
                    };
                    self.error(
                        Code::E0903,
                        value.span,
                        format!(
                            "`{}` is {}, not a condition",
                            value.text,
                            value.ty.describe()
                        ),
                        "expected a boolean",
                        help.into(),
                    );
                    return None;
                }
                Cond::Value(value)
            }
        })
    }

    /// A quantifier's or a count's variable bound to each element of its
    /// collection.
    fn bind(&mut self, var: &ast::Ident, collection: &ast::Path) -> Option<(usize, Kind, Val)> {
        let collection = self.path(collection)?;
        let Ty::List(kind) = collection.ty else {
            self.error(
                Code::E0903,
                collection.span,
                format!(
                    "`{}` is {}, not a collection",
                    collection.text,
                    collection.ty.describe()
                ),
                "expected a collection",
                format!("collections: {}", collections_list()),
            );
            return None;
        };
        let slot = self.vars.len();
        self.vars.push((var.text.clone(), kind));
        self.slots = self.slots.max(self.vars.len());
        Some((slot, kind, collection))
    }

    /// Both sides of a comparison, the one whose type is known typed
    /// first: `production`, `"api"` and `4` take the other's type.
    fn pair(&mut self, left: &ast::Term, right: &ast::Term) -> Option<(Val, Val)> {
        if self.contextual(left) && !self.contextual(right) {
            let right = self.term(right, None)?;
            let left = self.term(left, Some(right.ty))?;
            Some((left, right))
        } else {
            let left = self.term(left, None)?;
            let right = self.term(right, Some(left.ty))?;
            Some((left, right))
        }
    }

    /// Whether a term's type depends on what it meets.
    fn contextual(&self, term: &ast::Term) -> bool {
        match &term.kind {
            TermKind::Number(_) | TermKind::Str(_) | TermKind::List(_) => true,
            TermKind::Path(path) => {
                path.segments.len() == 1
                    && path.index.is_none()
                    && self.root(&path.segments[0].text).is_none()
            }
            _ => false,
        }
    }

    fn root(&self, name: &str) -> Option<(ValKind, Ty)> {
        if let Some(slot) = self.vars.iter().rposition(|(var, _)| var == name) {
            return Some((ValKind::Var(slot), Ty::Object(self.vars[slot].1)));
        }
        shape::collection(name).map(|kind| (ValKind::Collection(kind), Ty::List(kind)))
    }

    /// Whether `left op right` compares values of one type, with an order
    /// for `<`, `<=`, `>`, `>=`; plain numbers are scaled to what they meet.
    fn comparable(&mut self, left: &Val, op: CompareOp, right: &Val, span: Span) -> Option<()> {
        let ordered = !matches!(op, CompareOp::Eq | CompareOp::Ne);
        let fine = match (left.ty, right.ty) {
            (Ty::Number(a), Ty::Number(b)) if a == b => true,
            (Ty::Scalar, Ty::Scalar) => true,
            (Ty::Str, Ty::Str) | (Ty::Bool, Ty::Bool) => !ordered,
            (Ty::Word(a), Ty::Word(b)) if a == b => !ordered,
            _ => false,
        };
        if fine {
            return Some(());
        }
        if ordered && left.ty == right.ty {
            self.error(
                Code::E0903,
                span,
                format!(
                    "`{}` orders numbers, and `{}` is {}",
                    op.as_str(),
                    left.text,
                    left.ty.describe()
                ),
                "not ordered",
                "use `==` or `!=`, or `starts_with` and `matches` for text".into(),
            );
            return None;
        }
        let help = match (left.ty, right.ty) {
            (Ty::Number(a), Ty::Number(b)) => format!(
                "{} and {} are different quantities: compare {} with {}",
                a.as_str(),
                b.as_str(),
                a.as_str(),
                a.as_str()
            ),
            (Ty::Object(kind), _) | (_, Ty::Object(kind)) => {
                format!("compare what identifies the {}: its `name`", kind.noun())
            }
            _ => String::new(),
        };
        self.error(
            Code::E0903,
            span,
            format!(
                "`{}` is {} and `{}` is {}",
                left.text,
                left.ty.describe(),
                right.text,
                right.ty.describe()
            ),
            &format!("cannot be compared with `{}`", op.as_str()),
            help,
        );
        None
    }

    fn expect_text(&mut self, value: &Val, what: &str) -> Option<()> {
        if matches!(value.ty, Ty::Str | Ty::Word(_)) {
            return Some(());
        }
        self.error(
            Code::E0903,
            value.span,
            format!(
                "{what} reads text, and `{}` is {}",
                value.text,
                value.ty.describe()
            ),
            "expected text",
            String::new(),
        );
        None
    }

    fn has(&mut self, left: &ast::Term, right: &ast::Term) -> Option<Cond> {
        let container = self.term(left, None)?;
        match container.ty {
            Ty::Map | Ty::Strs => {
                let item = self.term(right, Some(Ty::Str))?;
                self.expect_text(&item, "`has`")?;
                Some(Cond::Has(container, item))
            }
            Ty::Object(kind) => {
                let field_name = match &right.kind {
                    TermKind::Path(path) if path.segments.len() == 1 && path.index.is_none() => {
                        &path.segments[0]
                    }
                    _ => {
                        self.error(
                            Code::E0903,
                            right.span,
                            format!(
                                "`has` after {} names one of its fields",
                                Ty::Object(kind).describe()
                            ),
                            "expected a field's name",
                            format!("write a field that may be unset: {}", optional_fields(kind)),
                        );
                        return None;
                    }
                };
                let field = self.field(kind, field_name)?;
                if !field.optional {
                    self.error(
                        Code::E0903,
                        field_name.span,
                        format!("every {} has `{}`", kind.noun(), field.name),
                        "always set",
                        format!(
                            "`has` tests a field that may be unset: {}",
                            optional_fields(kind)
                        ),
                    );
                    return None;
                }
                Some(Cond::HasField(container, field.read, field.name))
            }
            other => {
                self.error(
                    Code::E0903,
                    container.span,
                    format!(
                        "`has` needs labels, a list of text or an object, and `{}` is {}",
                        container.text,
                        other.describe()
                    ),
                    "cannot hold anything",
                    String::new(),
                );
                None
            }
        }
    }

    pub fn term(&mut self, term: &ast::Term, expect: Option<Ty>) -> Option<Val> {
        let text = (self.text)(term.span);
        let (kind, ty) = match &term.kind {
            TermKind::Bool(value) => (ValKind::Bool(*value), Ty::Bool),
            TermKind::Str(string) => {
                let plain = self.plain(string)?;
                if let Some(Ty::Word(words)) = expect {
                    self.error(
                        Code::E0903,
                        term.span,
                        format!("{} is a word, not text", words.noun()),
                        "quoted",
                        format!(
                            "write it bare: `{plain}`; one of {}",
                            quoted_list(words.values())
                        ),
                    );
                    return None;
                }
                (ValKind::Str(plain), Ty::Str)
            }
            TermKind::Number(number) => self.number(number, term.span, expect)?,
            // A list stands alone only after `in`, which types it.
            TermKind::List(_) => {
                self.error(
                    Code::E0903,
                    term.span,
                    "a list here".into(),
                    "a list is only the right side of `in`",
                    "write `x in [a, b]`".into(),
                );
                return None;
            }
            TermKind::Path(path) => {
                if let (Some(Ty::Word(words)), [word], None) =
                    (expect, path.segments.as_slice(), &path.index)
                    && self.root(&word.text).is_none()
                {
                    return self.word(word, words);
                }
                return self.path(path);
            }
            TermKind::Count(count) => {
                let (slot, _, collection) = self.bind(&count.var, &count.collection)?;
                let filter = count.filter.as_ref().map(|filter| self.cond(filter));
                self.vars.pop();
                let filter = match filter {
                    Some(filter) => Some(filter?),
                    None => None,
                };
                (
                    ValKind::Count(Box::new(Counted {
                        slot,
                        collection,
                        filter,
                    })),
                    Ty::Number(Dimension::Count),
                )
            }
            TermKind::Unique(unique) => {
                let (slot, _, collection) = self.bind(&unique.var, &unique.collection)?;
                let filter = unique.filter.as_ref().map(|filter| self.cond(filter));
                let key = self.key(&unique.key);
                let per = unique.per.as_ref().map(|per| self.key(per));
                self.vars.pop();
                let filter = match filter {
                    Some(filter) => Some(filter?),
                    None => None,
                };
                let per = match per {
                    Some(per) => Some(Box::new(per?)),
                    None => None,
                };
                (
                    ValKind::Unique(
                        Box::new(Counted {
                            slot,
                            collection,
                            filter,
                        }),
                        Box::new(key?),
                        per,
                    ),
                    Ty::Bool,
                )
            }
            TermKind::Mul(left, right) => {
                let left = self.term(left, None)?;
                let right = self.term(right, None)?;
                let ty = match (left.ty, right.ty) {
                    (Ty::Scalar, Ty::Scalar) => Ty::Scalar,
                    (Ty::Scalar, Ty::Number(dimension)) | (Ty::Number(dimension), Ty::Scalar) => {
                        Ty::Number(dimension)
                    }
                    _ => {
                        self.error(
                            Code::E0903,
                            term.span,
                            format!("`{}` multiplies {} by {}", text, left.ty.describe(), right.ty.describe()),
                            "cannot be multiplied",
                            "multiply a quantity by a plain number: `2 * env.quota.requests.memory`".into(),
                        );
                        return None;
                    }
                };
                (ValKind::Mul(Box::new(left), Box::new(right)), ty)
            }
        };
        let value = Val {
            kind,
            ty,
            span: term.span,
            text,
        };
        Some(self.meet(value, expect))
    }

    /// A plain number meeting cpu is cores.
    fn meet(&mut self, value: Val, expect: Option<Ty>) -> Val {
        match (value.ty, expect) {
            (Ty::Scalar, Some(Ty::Number(Dimension::Cpu))) => Val {
                ty: Ty::Number(Dimension::Cpu),
                span: value.span,
                text: value.text.clone(),
                kind: ValKind::Scale(Box::new(value), 1000),
            },
            // A count is a plain number; memory meets only a plain `0`.
            (Ty::Scalar, Some(Ty::Number(dimension @ (Dimension::Count | Dimension::Memory)))) => {
                Val {
                    ty: Ty::Number(dimension),
                    ..value
                }
            }
            _ => value,
        }
    }

    /// A key of `unique`: something with an identity as text.
    fn key(&mut self, term: &ast::Term) -> Option<Val> {
        let key = self.term(term, None)?;
        if matches!(
            key.ty,
            Ty::Str | Ty::Word(_) | Ty::Bool | Ty::Number(_) | Ty::Scalar
        ) {
            return Some(key);
        }
        self.error(
            Code::E0903,
            key.span,
            format!(
                "`unique` compares keys, and `{}` is {}",
                key.text,
                key.ty.describe()
            ),
            "not a key",
            "use a name or a value: `a.repo`, `env.labels[\"cost-center\"]`".into(),
        );
        None
    }

    fn number(
        &mut self,
        number: &ast::Number,
        span: Span,
        expect: Option<Ty>,
    ) -> Option<(ValKind, Ty)> {
        let text = (self.text)(span);
        let exact = |multiplier: u128| -> Option<u128> {
            let scaled = number.mantissa.checked_mul(multiplier)?.checked_mul(ONE)?;
            let denominator = 10u128.checked_pow(number.scale)?;
            (scaled % denominator == 0).then(|| scaled / denominator)
        };
        let (multiplier, ty) = match number.suffix {
            Suffix::None => (1, Ty::Scalar),
            Suffix::Milli => (1, Ty::Number(Dimension::Cpu)),
            suffix => match crate::check::units::bytes_per(suffix) {
                Some(multiplier) => (multiplier, Ty::Number(Dimension::Memory)),
                None => {
                    self.error(
                        Code::E0903,
                        span,
                        format!("`{text}` is not a quantity a policy compares"),
                        "a percentage or a duration",
                        "policies compare cpu (`2`, `500m`), memory (`4Gi`) and counts (`10`)"
                            .into(),
                    );
                    return None;
                }
            },
        };
        if let (Ty::Scalar, Some(Ty::Number(Dimension::Memory))) = (ty, expect)
            && number.mantissa != 0
        {
            self.error(
                Code::E0903,
                span,
                format!("`{text}` is compared with memory but has no unit"),
                "a plain number of bytes",
                format!("write the unit: `{text}Gi`, `{text}Mi`"),
            );
            return None;
        }
        let Some(value) = exact(multiplier) else {
            self.error(
                Code::E0903,
                span,
                format!("`{text}` is too large or too fine for a policy"),
                "at most six decimals and 38 digits",
                String::new(),
            );
            return None;
        };
        Some((ValKind::Num(value), ty))
    }

    fn word(&mut self, word: &ast::Ident, words: Words) -> Option<Val> {
        let values = words.values();
        match values.iter().find(|value| **value == word.text) {
            Some(value) => Some(Val {
                kind: ValKind::Word(value),
                ty: Ty::Word(words),
                span: word.span,
                text: word.text.clone(),
            }),
            None => {
                let help = match crate::suggest::closest(&word.text, values.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("one of {}", quoted_list(values)),
                };
                self.error(
                    Code::E0903,
                    word.span,
                    format!("`{}` is not {}", word.text, words.noun()),
                    &format!("expected {}", quoted_list(values)),
                    help,
                );
                None
            }
        }
    }

    /// A path from a variable or a collection through fields.
    fn path(&mut self, path: &ast::Path) -> Option<Val> {
        let first = &path.segments[0];
        let Some((kind, ty)) = self.root(&first.text) else {
            let mut names: Vec<&str> = self.vars.iter().map(|(name, _)| name.as_str()).collect();
            names.extend(shape::COLLECTIONS.iter().map(|(name, _, _)| *name));
            let help = match crate::suggest::closest(&first.text, names.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if self.vars.is_empty() => format!(
                    "a policy reads the program through its collections: {}",
                    collections_list()
                ),
                None => format!(
                    "in scope: {}; collections: {}",
                    quoted_list(
                        &self
                            .vars
                            .iter()
                            .map(|(name, _)| name.as_str())
                            .collect::<Vec<_>>()
                    ),
                    collections_list()
                ),
            };
            self.error(
                Code::E0902,
                first.span,
                format!("unknown name `{}` in a policy", first.text),
                "neither a variable nor a collection",
                help,
            );
            return None;
        };
        let mut value = Val {
            kind,
            ty,
            span: first.span,
            text: first.text.clone(),
        };
        for segment in &path.segments[1..] {
            let object = match value.ty {
                Ty::Object(object) => object,
                Ty::List(kind) => {
                    self.error(
                        Code::E0903,
                        segment.span,
                        format!(
                            "`{}` is a list of {}, which has no field `{}`",
                            value.text,
                            kind.plural(),
                            segment.text
                        ),
                        "a field of a list",
                        format!(
                            "quantify over it: `all x in {} : x.{} …`",
                            value.text, segment.text
                        ),
                    );
                    return None;
                }
                other => {
                    self.error(
                        Code::E0902,
                        segment.span,
                        format!(
                            "`{}` is {}, which has no fields",
                            value.text,
                            other.describe()
                        ),
                        "no such field",
                        String::new(),
                    );
                    return None;
                }
            };
            let field = self.field(object, segment)?;
            let span = value.span.to(segment.span);
            let text = format!("{}.{}", value.text, segment.text);
            // One node a path: evaluation walks its fields in a loop.
            let kind = match value.kind {
                ValKind::Field(root, mut fields) => {
                    fields.push((field.read, field.name));
                    ValKind::Field(root, fields)
                }
                _ => ValKind::Field(Box::new(value), vec![(field.read, field.name)]),
            };
            value = Val {
                text,
                kind,
                ty: field.ty,
                span,
            };
        }
        if let Some(index) = &path.index {
            if value.ty != Ty::Map {
                self.error(
                    Code::E0903,
                    index.span,
                    format!("`{}` is {}, not labels", value.text, value.ty.describe()),
                    "cannot be indexed",
                    "index labels and annotations: `env.labels[\"team\"]`".into(),
                );
                return None;
            }
            let key = self.plain(index)?;
            value = Val {
                text: (self.text)(path.span),
                kind: ValKind::Index(Box::new(value), key),
                ty: Ty::Str,
                span: path.span,
            };
        }
        Some(value)
    }

    fn field(&mut self, kind: Kind, segment: &ast::Ident) -> Option<Field> {
        if let Some(field) = shape::field_of(kind, &segment.text) {
            return Some(field);
        }
        let fields = shape::fields(kind);
        let names: Vec<&str> = fields.iter().map(|field| field.name).collect();
        let help = match crate::suggest::closest(&segment.text, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "{} fields: {}",
                Ty::Object(kind).describe(),
                quoted_list(&names)
            ),
        };
        self.error(
            Code::E0902,
            segment.span,
            format!(
                "{} has no field `{}`",
                Ty::Object(kind).describe(),
                segment.text
            ),
            "unknown field",
            help,
        );
        None
    }

    /// A string's text: a policy has no variables to interpolate.
    fn plain(&mut self, string: &ast::StringLit) -> Option<String> {
        match string.as_plain() {
            Some(text) => Some(text),
            None => {
                self.error(
                    Code::E0903,
                    string.span,
                    "interpolation in a policy".into(),
                    "a policy's text is matched as written",
                    "write the text itself; to compare with another value, compare the two: `a.repo == b.repo`".into(),
                );
                None
            }
        }
    }
}

fn optional_fields(kind: Kind) -> String {
    let names: Vec<&str> = shape::fields(kind)
        .iter()
        .filter(|field| field.optional)
        .map(|field| field.name)
        .collect();
    if names.is_empty() {
        format!(
            "every field of {} is always set",
            Ty::Object(kind).describe()
        )
    } else {
        quoted_list(&names)
    }
}

pub(super) fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn collections_list() -> String {
    quoted_list(
        &shape::COLLECTIONS
            .iter()
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>(),
    )
}
