//! A hand-written recursive-descent parser for well-formed items.
//!
//! pest spends about 500 instructions per byte on envk's grammar, most of
//! a large program's `check`. This parser reads the same grammar directly
//! from the bytes, for the common case only: it gives up (`None`) at the
//! first thing that is not plainly well-formed (a syntax error, an error
//! production such as a stray comma, a literal that would get a
//! diagnostic, nesting deeper than `MAX_NESTING`), and the item is then
//! parsed by pest, whose failures give the diagnostics. So every
//! diagnostic still comes from the grammar and the AST builder, and where
//! this parser succeeds it builds exactly the AST they build: the same
//! nodes, the same spans (`syntax::tests` compares the two on every
//! program in the repository and on generated ones).
//!
//! PEG choices are ordered, so an alternative is taken here only when the
//! grammar would take it: the statement keywords are distinct words, so at
//! most one keyword alternative can match, and when it does not parse the
//! field alternative is tried next, as in the grammar (`limits.cpu = 2`).

use super::MAX_NESTING;
use super::ast::*;
use super::keywords::{ItemKeyword, StatementKeyword, ValueKeyword};
use super::literal;
use crate::source::Span;

/// Parses the item at `pos` of `text` (which starts at global offset
/// `base`). Returns the item and where it ends, or `None` to leave the item
/// to pest.
pub(super) fn item(text: &str, pos: usize, base: u32) -> Option<(Item, usize)> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos,
        base,
        depth: 0,
        stmts: Vec::new(),
        last_word: std::cell::Cell::new((usize::MAX, 0)),
    };
    let item = parser.item(true)?;
    Some((item, parser.pos))
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    base: u32,
    depth: usize,
    /// The statements of the blocks being read, innermost last.
    stmts: Vec<Stmt>,
    /// Where the last word `word` found starts and ends.
    last_word: std::cell::Cell<(usize, usize)>,
}

fn is_ident_char(byte: u8) -> bool {
    // One load instead of four ranges: words are most of what is scanned.
    const IDENT: [bool; 256] = {
        let mut ident = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            ident[byte] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            byte += 1;
        }
        ident
    };
    IDENT[usize::from(byte)]
}

/// The bytes a run of a string's text stops at: its quote, a `$` that
/// may start `${`, and in a quoted string a backslash or a line break.
/// One load per byte, as for identifiers.
const QUOTED_STOPS: [bool; 256] = stops(b"\"$\\\n");
const RAW_STOPS: [bool; 256] = stops(b"`$");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// The first letters of the value keywords: one byte compared before a
/// key is tested for being one of them.
const VALUE_KEYWORD_INITIALS: [u8; ValueKeyword::ALL.len()] = {
    let mut initials = [0; ValueKeyword::ALL.len()];
    let mut i = 0;
    while i < initials.len() {
        initials[i] = ValueKeyword::ALL[i].as_str().as_bytes()[0];
        i += 1;
    }
    initials
};

impl<'t> Parser<'t> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.base + start as u32, self.base + end as u32)
    }

    /// Whitespace and `//` comments, as the grammar's implicit trivia.
    fn skip(&mut self) {
        // Tokens are most often apart by a space or two, on one line:
        // those are passed here, the rest (line breaks, comments) by the
        // shared scanner.
        let mut pos = self.pos;
        while self.bytes.get(pos) == Some(&b' ') {
            pos += 1;
        }
        match self.bytes.get(pos) {
            Some(b'\t' | b'\r' | b'\n' | b'/') => {
                self.pos = super::skip_trivia(self.text, pos);
            }
            _ => self.pos = pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The run of identifier characters at the cursor (not consumed).
    fn word(&self) -> &'t str {
        // A statement's first word is read to tell a keyword from a key,
        // then again as the key: the last one found is kept.
        let (at, end) = self.last_word.get();
        if at == self.pos {
            return &self.text[at..end];
        }
        let end = self.bytes[self.pos..]
            .iter()
            .position(|&b| !is_ident_char(b))
            .map_or(self.bytes.len(), |n| self.pos + n);
        self.last_word.set((self.pos, end));
        &self.text[self.pos..end]
    }

    /// Whether the word at the cursor is `keyword`: its bytes, then no
    /// identifier character. Where a statement tries one keyword after
    /// another, this tests the keyword's bytes, not the whole word each time.
    fn word_is(&self, keyword: &str) -> bool {
        debug_assert!(keyword.bytes().all(is_ident_char), "{keyword}");
        let rest = &self.bytes[self.pos..];
        rest.starts_with(keyword.as_bytes())
            && !rest.get(keyword.len()).is_some_and(|&b| is_ident_char(b))
    }

    /// A keyword (`"x" ~ !ident_char`), after trivia.
    fn keyword(&mut self, keyword: &str) -> Option<()> {
        self.skip();
        self.word_is(keyword).then(|| self.pos += keyword.len())
    }

    /// Whether the next token is `keyword`; nothing is consumed, so that
    /// `pos` stays at the end of the last token (where spans end).
    fn at_keyword(&mut self, keyword: &str) -> bool {
        let here = self.pos;
        self.skip();
        let found = self.word_is(keyword);
        self.pos = here;
        found
    }

    /// Consumes `keyword` if it is the next token.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.keyword(keyword);
        }
        found
    }

    fn punct(&mut self, byte: u8) -> Option<usize> {
        self.skip();
        (self.peek() == Some(byte)).then(|| {
            self.pos += 1;
            self.pos - 1
        })
    }

    fn at_punct(&mut self, byte: u8) -> bool {
        let here = self.pos;
        self.skip();
        let found = self.peek() == Some(byte);
        self.pos = here;
        found
    }

    /// Consumes `byte` if it is the next token.
    fn eat_punct(&mut self, byte: u8) -> bool {
        let here = self.pos;
        self.skip();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            self.pos = here;
            false
        }
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_NESTING).then_some(())
    }

    fn unnest(&mut self) {
        self.depth -= 1;
    }

    // ------------------------------------------------------------ items

    fn item(&mut self, top_level: bool) -> Option<Item> {
        self.skip();
        let start = self.pos;
        let word = self.word();
        let keyword = ItemKeyword::from_word(word)?;
        self.pos += word.len();
        let kind = match keyword {
            ItemKeyword::If => ItemKind::If(self.if_chain(Self::item_block)?),
            ItemKeyword::Import => {
                if !top_level {
                    return None;
                }
                ItemKind::Import(Import {
                    path: self.string_lit()?,
                })
            }
            ItemKeyword::GitOps => {
                if !top_level {
                    return None;
                }
                ItemKind::GitOps(self.block()?)
            }
            ItemKeyword::Federation => {
                if !top_level {
                    return None;
                }
                ItemKind::Federation(self.block()?)
            }
            ItemKeyword::Cluster => ItemKind::Cluster(Cluster {
                name: self.decl_name()?,
                body: self.block()?,
            }),
            ItemKeyword::Tier => {
                let name = self.decl_name()?;
                let extends = if self.eat_keyword("extends") {
                    Some(self.decl_name()?)
                } else {
                    None
                };
                ItemKind::Tier(Tier {
                    name,
                    extends,
                    body: self.block()?,
                })
            }
            ItemKeyword::Role => ItemKind::Role(Role {
                name: self.decl_name()?,
                body: self.block()?,
            }),
            ItemKeyword::ClusterRole => ItemKind::ClusterRole(Role {
                name: self.decl_name()?,
                body: self.block()?,
            }),
            ItemKeyword::Resource => ItemKind::Resource(Resource {
                name: self.resource_name()?,
                body: self.block()?,
            }),
            ItemKeyword::External => {
                let name = self.decl_name()?;
                self.keyword("on")?;
                let clusters = self.cluster_list()?;
                let body = if self.at_punct(b'{') {
                    Some(self.block()?)
                } else {
                    None
                };
                ItemKind::External(External {
                    name,
                    clusters,
                    body,
                })
            }
            ItemKeyword::Grant => {
                let role = self.decl_name()?;
                self.keyword("to")?;
                let (subject_kind, subject_kind_span) = self.subject_kind()?;
                let subject = self.string_lit()?;
                self.keyword("on")?;
                self.keyword("cluster")?;
                ItemKind::ClusterGrant(ClusterGrant {
                    role,
                    subject_kind,
                    subject_kind_span,
                    subject,
                    clusters: self.cluster_list()?,
                })
            }
            ItemKeyword::Let => {
                self.skip();
                if ValueKeyword::from_word(self.word()).is_some() {
                    return None;
                }
                let name = self.ident()?;
                self.punct(b'=')?;
                ItemKind::Let(Let {
                    name,
                    value: self.expr()?,
                })
            }
            ItemKeyword::Env => {
                let name = self.decl_name()?;
                let placement = if self.at_keyword("on") {
                    Some(self.placement()?)
                } else {
                    None
                };
                ItemKind::Env(Env {
                    name,
                    placement,
                    body: self.block()?,
                })
            }
            ItemKeyword::For => {
                let var = self.ident()?;
                self.keyword("in")?;
                let iterable = self.expr()?;
                let items = self.item_block()?;
                ItemKind::For(For {
                    var,
                    iterable,
                    items,
                })
            }
            ItemKeyword::Alert => {
                let name = self.decl_name()?;
                let params = if self.at_punct(b'(') {
                    self.params()?
                } else {
                    Vec::new()
                };
                ItemKind::AlertTemplate(AlertTemplate {
                    name,
                    params,
                    body: self.block()?,
                })
            }
            ItemKeyword::Receiver => ItemKind::Receiver(Receiver {
                name: self.decl_name()?,
                body: self.block()?,
            }),
            ItemKeyword::Route => {
                let mut matchers = Vec::new();
                while !self.eat_keyword("to") {
                    matchers.push(RouteMatcher {
                        label: self.ident()?,
                        value: self.decl_name()?,
                    });
                }
                ItemKind::Route(Route {
                    matchers,
                    receiver: self.decl_name()?,
                })
            }
            // A few per program: pest reads them.
            ItemKeyword::Policy | ItemKeyword::Waive => return None,
        };
        Some(Item {
            kind,
            span: self.span(start, self.pos),
        })
    }

    fn params(&mut self) -> Option<Vec<Param>> {
        self.punct(b'(')?;
        // `(` counts towards the nesting bound, as in `syntax::too_deep`.
        self.nest()?;
        let mut params = Vec::new();
        if !self.eat_punct(b')') {
            loop {
                params.push(self.param()?);
                if !self.eat_punct(b',') {
                    self.punct(b')')?;
                    break;
                }
                if self.eat_punct(b')') {
                    break;
                }
            }
        }
        self.unnest();
        Some(params)
    }

    fn param(&mut self) -> Option<Param> {
        self.skip();
        let start = self.pos;
        let name = self.ident()?;
        self.punct(b':')?;
        let ty = self.ident()?;
        let default = if self.eat_punct(b'=') {
            Some(self.expr()?)
        } else {
            None
        };
        let end = default.as_ref().map_or(ty.span.end, |expr| expr.span.end);
        Some(Param {
            name,
            ty,
            default,
            span: Span::new(self.base + start as u32, end),
        })
    }

    /// `prod-eu` or `[prod-eu, prod-us]`.
    fn cluster_list(&mut self) -> Option<ClusterList> {
        self.skip();
        let start = self.pos;
        if !self.eat_punct(b'[') {
            let name = self.decl_name()?;
            return Some(ClusterList {
                span: name.span(),
                names: vec![name],
                bracketed: false,
            });
        }
        let mut names = vec![self.decl_name()?];
        while self.eat_punct(b',') {
            if self.at_punct(b']') {
                break;
            }
            names.push(self.decl_name()?);
        }
        self.punct(b']')?;
        Some(ClusterList {
            names,
            bracketed: true,
            span: self.span(start, self.pos),
        })
    }

    /// `rollouts.argoproj.io`: labels joined by dots, two at least.
    fn resource_name(&mut self) -> Option<Ident> {
        let first = self.label()?;
        let start = first.span.start;
        let mut end = first.span.end;
        let mut dots = 0;
        while self.peek() == Some(b'.')
            && self
                .bytes
                .get(self.pos + 1)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
            let label = self.label()?;
            end = label.span.end;
            dots += 1;
        }
        (dots > 0).then_some(())?;
        let span = Span::new(start, end);
        Some(Ident {
            text: self.text[(start - self.base) as usize..(end - self.base) as usize].to_string(),
            span,
        })
    }

    /// `user`, `group` or `serviceaccount`.
    fn subject_kind(&mut self) -> Option<(SubjectKind, Span)> {
        self.skip();
        let start = self.pos;
        let kind = match self.word() {
            "user" => SubjectKind::User,
            "group" => SubjectKind::Group,
            "serviceaccount" => SubjectKind::ServiceAccount,
            _ => return None,
        };
        self.pos += self.word().len();
        Some((kind, self.span(start, self.pos)))
    }

    /// `on CLUSTER tier TIER` (the cursor is at `on`).
    fn placement(&mut self) -> Option<Placement> {
        self.skip();
        let start = self.pos;
        self.keyword("on")?;
        let clusters = self.cluster_list()?;
        self.keyword("tier")?;
        let tier = self.decl_name()?;
        Some(Placement {
            span: Span::new(self.base + start as u32, tier.span().end),
            clusters,
            tier,
        })
    }

    // ------------------------------------------------------------ conditions

    /// `{ items }`: the body of an item-level `for` or `if`.
    fn item_block(&mut self) -> Option<Vec<Item>> {
        self.punct(b'{')?;
        self.nest()?;
        let mut items = Vec::new();
        while !self.eat_punct(b'}') {
            items.push(self.item(false)?);
        }
        self.unnest();
        Some(items)
    }

    /// `if COND { … } else if … else { … }`, the cursor after `if`; each
    /// body read by `body` (items for an item-level `if`, a block among
    /// statements).
    fn if_chain<T>(&mut self, body: fn(&mut Self) -> Option<T>) -> Option<If<T>> {
        let cond = self.cond()?;
        let then = body(self)?;
        let otherwise = self.otherwise(|parser| {
            if parser.eat_keyword("if") {
                return Some(ElseKind::If(Box::new(parser.if_chain(body)?)));
            }
            Some(ElseKind::Body(body(parser)?))
        })?;
        Some(If {
            cond,
            then,
            otherwise,
        })
    }

    /// `else …` if it comes next: `Some(None)` when it does not, `None`
    /// when it does and what follows is not plainly well-formed.
    fn otherwise<T>(
        &mut self,
        rest: impl FnOnce(&mut Self) -> Option<ElseKind<T>>,
    ) -> Option<Option<Else<T>>> {
        if !self.at_keyword("else") {
            return Some(None);
        }
        self.skip();
        let start = self.pos;
        self.keyword("else")?;
        let kind = rest(self)?;
        Some(Some(Else {
            kind,
            span: self.span(start, self.pos),
        }))
    }

    /// `a or b`: the grammar's `cond`, left to right.
    fn cond(&mut self) -> Option<Cond> {
        self.cond_chain("or", Self::cond_and, CondKind::Or)
    }

    fn cond_and(&mut self) -> Option<Cond> {
        self.cond_chain("and", Self::cond_not, CondKind::And)
    }

    /// `operand (keyword operand)*`, joined left to right by `join`.
    fn cond_chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Option<Cond>,
        join: fn(Box<Cond>, Box<Cond>) -> CondKind,
    ) -> Option<Cond> {
        let mut cond = operand(self)?;
        while self.eat_keyword(keyword) {
            let right = operand(self)?;
            let span = cond.span.to(right.span);
            cond = Cond {
                kind: join(Box::new(cond), Box::new(right)),
                span,
            };
        }
        Some(cond)
    }

    fn cond_not(&mut self) -> Option<Cond> {
        self.skip();
        let start = self.pos;
        if self.eat_keyword("not") {
            // A `not` nests as a `(` does (`syntax::too_deep` counts a run
            // of them): `not not … x` cannot overflow the stack.
            self.nest()?;
            let inner = self.cond_not()?;
            self.unnest();
            return Some(Cond {
                span: self.span(start, self.pos),
                kind: CondKind::Not(Box::new(inner)),
            });
        }
        if self.eat_punct(b'(') {
            self.nest()?;
            let inner = self.cond()?;
            self.punct(b')')?;
            self.unnest();
            return Some(Cond {
                span: self.span(start, self.pos),
                kind: CondKind::Group(Box::new(inner)),
            });
        }
        let left = self.expr()?;
        let here = self.pos;
        self.skip();
        let op = [
            ("==", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ]
        .into_iter()
        .find(|(text, _)| self.bytes[self.pos..].starts_with(text.as_bytes()));
        let Some((text, op)) = op else {
            self.pos = here;
            return Some(Cond {
                span: left.span,
                kind: CondKind::Value(left),
            });
        };
        self.pos += text.len();
        let right = self.expr()?;
        Some(Cond {
            span: left.span.to(right.span),
            kind: CondKind::Compare(Box::new(left), op, Box::new(right)),
        })
    }

    // ------------------------------------------------------------ blocks

    fn block(&mut self) -> Option<Block> {
        let start = self.punct(b'{')?;
        self.nest()?;
        // Statements gather on the parser's stack, shared by the blocks
        // nested in this one, and leave it in one allocation of their
        // number: a list of records is thousands of small blocks.
        let first = self.stmts.len();
        while !self.eat_punct(b'}') {
            match self.stmt() {
                Some(stmt) => self.stmts.push(stmt),
                None => {
                    self.stmts.truncate(first);
                    return None;
                }
            }
        }
        let stmts = self.stmts.drain(first..).collect();
        self.unnest();
        Some(Block {
            stmts,
            span: self.span(start, self.pos),
        })
    }

    fn stmt(&mut self) -> Option<Stmt> {
        self.skip();
        let start = self.pos;
        let word = self.word();
        let kind = match StatementKeyword::from_word(word) {
            // A key: what every statement of a record literal is.
            None => StmtKind::Field(self.field()?),
            Some(keyword) => {
                let depth = self.depth;
                self.pos += word.len();
                match self.keyword_stmt(keyword) {
                    Some(kind) => kind,
                    None => {
                        // As the grammar does: a keyword statement that
                        // does not parse may still be a field
                        // (`limits.cpu = 2`).
                        self.pos = start;
                        self.depth = depth;
                        StmtKind::Field(self.field()?)
                    }
                }
            }
        };
        Some(Stmt {
            kind,
            span: self.span(start, self.pos),
        })
    }

    fn keyword_stmt(&mut self, keyword: StatementKeyword) -> Option<StmtKind> {
        Some(match keyword {
            // When these do not parse, the statement may still be a field
            // named `for` or `if` (`for = 10m` in an alert's arguments),
            // as in the grammar.
            StatementKeyword::If => StmtKind::If(Box::new(self.if_chain(Self::block)?)),
            StatementKeyword::For => {
                let var = self.ident()?;
                self.keyword("in")?;
                let iterable = self.expr()?;
                StmtKind::For(Box::new(ForStmt {
                    var,
                    iterable,
                    body: self.block()?,
                }))
            }
            StatementKeyword::Grant => {
                let role = self.decl_name()?;
                self.keyword("to")?;
                let (subject_kind, subject_kind_span) = self.subject_kind()?;
                let subject = self.string_lit()?;
                let binding_name = if self.eat_keyword("as") {
                    Some(self.decl_name()?)
                } else {
                    None
                };
                StmtKind::Grant(Box::new(Grant {
                    role,
                    subject_kind,
                    subject_kind_span,
                    subject,
                    binding_name,
                }))
            }
            StatementKeyword::Ingress => {
                self.keyword("allow")?;
                self.keyword("from")?;
                let from = self.peer(false)?;
                let ports = self.ports()?;
                StmtKind::Ingress(Ingress { from, ports })
            }
            StatementKeyword::Egress => {
                if self.eat_keyword("deny") {
                    self.keyword("dns")?;
                    return Some(StmtKind::Egress(Egress::DenyDns));
                }
                self.keyword("allow")?;
                if self.eat_keyword("dns") {
                    StmtKind::Egress(Egress::Dns)
                } else {
                    self.keyword("to")?;
                    let peer = self.peer(true)?;
                    let ports = self.ports()?;
                    StmtKind::Egress(Egress::To { peer, ports })
                }
            }
            StatementKeyword::Metrics => {
                if !self.at_keyword("on") {
                    return None;
                }
                StmtKind::Metrics(Metrics {
                    ports: self.ports()?,
                })
            }
            StatementKeyword::Stage => {
                let name = self.decl_name()?;
                if !self.at_keyword("on") {
                    return None; // `missing_on`, reported by the builder
                }
                let placement = self.placement()?;
                StmtKind::Stage(Box::new(Stage {
                    name,
                    placement,
                    body: self.block()?,
                }))
            }
            StatementKeyword::Alert => {
                let template = self.decl_name()?;
                // `as` followed by anything but a name is left to the
                // grammar, which reads the use without it.
                let rename = match self.eat_keyword("as") {
                    true => Some(self.decl_name()?),
                    false => None,
                };
                let args = if self.at_punct(b'{') {
                    Some(self.block()?)
                } else {
                    None
                };
                StmtKind::Alert(AlertUse {
                    template,
                    rename,
                    args,
                })
            }
            StatementKeyword::Quota => {
                if self.eat_punct(b'=') {
                    StmtKind::Quota(Quota::Expr(self.expr()?))
                } else {
                    let name = if self.at_punct(b'{') {
                        None
                    } else {
                        Some(self.decl_name()?)
                    };
                    StmtKind::Quota(Quota::Block {
                        name,
                        body: self.block()?,
                    })
                }
            }
            StatementKeyword::Limits => {
                if self.eat_punct(b'=') {
                    StmtKind::Limits(Limits::Expr(self.expr()?))
                } else {
                    // `decl_name ~ limit_kind`, else `limit_kind`.
                    let name = self.decl_name()?;
                    let (name, kind, kind_span) = match self.limit_kind() {
                        Some((kind, kind_span)) => (Some(name), kind, kind_span),
                        None => match &name {
                            Name::Ident(ident) => (None, limit_kind(&ident.text)?, ident.span),
                            Name::Str(_) => return None,
                        },
                    };
                    StmtKind::Limits(Limits::Block {
                        name,
                        kind,
                        kind_span,
                        body: self.block()?,
                    })
                }
            }
            StatementKeyword::Allow => {
                let verbs = self.list()?;
                self.keyword("on")?;
                StmtKind::Allow(Allow {
                    verbs,
                    resources: self.list()?,
                })
            }
            StatementKeyword::Forbid => {
                self.skip();
                let forbid = match self.word() {
                    "verbs" => {
                        self.pos += "verbs".len();
                        Forbid::Verbs(self.list()?)
                    }
                    "resources" => {
                        self.pos += "resources".len();
                        Forbid::Resources(self.list()?)
                    }
                    "wildcards" => {
                        self.pos += "wildcards".len();
                        Forbid::Wildcards
                    }
                    _ => return None,
                };
                StmtKind::Forbid(forbid)
            }
            StatementKeyword::Require => {
                self.keyword("alerts")?;
                StmtKind::Require(Require {
                    alerts: self.list()?,
                })
            }
            StatementKeyword::Accept => {
                self.keyword("from")?;
                StmtKind::Accept(Accept {
                    environments: self.list()?,
                })
            }
        })
    }

    /// `any`, `environment NAME` or `env NAME`.
    fn peer(&mut self, egress: bool) -> Option<Peer> {
        self.skip();
        let start = self.pos;
        let (kind, end) = match self.word() {
            "any" if egress => {
                self.pos += "any".len();
                (PeerKind::Any, self.pos)
            }
            "environment" => {
                self.pos += "environment".len();
                let name = self.decl_name()?;
                let end = name.span().end;
                return Some(Peer {
                    kind: PeerKind::Environment(name),
                    span: Span::new(self.base + start as u32, end),
                });
            }
            word @ ("env" | "external") => {
                self.pos += word.len();
                let name = self.decl_name()?;
                let end = name.span().end;
                let kind = match word {
                    "env" => PeerKind::Env(name),
                    _ => PeerKind::External(name),
                };
                return Some(Peer {
                    kind,
                    span: Span::new(self.base + start as u32, end),
                });
            }
            _ => return None,
        };
        Some(Peer {
            kind,
            span: self.span(start, end),
        })
    }

    /// `(on port, port, …)?`
    fn ports(&mut self) -> Option<Vec<Port>> {
        let mut ports = Vec::new();
        if !self.eat_keyword("on") {
            return Some(ports);
        }
        loop {
            ports.push(self.port()?);
            if !self.eat_punct(b',') {
                return Some(ports);
            }
        }
    }

    fn port(&mut self) -> Option<Port> {
        self.skip();
        let start = self.pos;
        let protocol = Protocol::parse(self.word())?;
        self.pos += self.word().len();
        self.skip();
        let number = port_number(self.number_text()?)?;
        Some(Port {
            protocol,
            number,
            span: self.span(start, self.pos),
        })
    }

    fn limit_kind(&mut self) -> Option<(LimitKind, Span)> {
        self.skip();
        let kind = limit_kind(self.word())?;
        let start = self.pos;
        self.pos += self.word().len();
        Some((kind, self.span(start, self.pos)))
    }

    fn field(&mut self) -> Option<Field> {
        let key = match self.peek()? {
            b'"' | b'`' => Key::Str(self.string_lit()?),
            // As the grammar's `statement_word`: a bare `quota` or `limits`
            // is never a key, so a block after it is not read twice.
            b if VALUE_KEYWORD_INITIALS.contains(&b) && self.statement_word() => return None,
            _ => {
                // An atomic rule: no trivia around the dots.
                let start = self.pos;
                self.pass_ident()?;
                if self.peek() != Some(b'.') {
                    // One segment, as nearly every key is: known here, so
                    // the key is not scanned again for dots.
                    return self.field_value(Key::Path(vec![Ident {
                        text: self.text[start..self.pos].to_string(),
                        span: self.span(start, self.pos),
                    }]));
                }
                while self.peek() == Some(b'.') {
                    self.pos += 1;
                    self.pass_ident()?;
                }
                Key::Path(self.dotted(start, self.pos))
            }
        };
        self.field_value(key)
    }

    /// `= value` or `{ … }` after a field's key.
    fn field_value(&mut self, key: Key) -> Option<Field> {
        let value = if self.eat_punct(b'=') {
            FieldValue::Expr(self.expr()?)
        } else {
            FieldValue::Block(self.block()?)
        };
        Some(Field { key, value })
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self) -> Option<Expr> {
        let mut expr = self.operand()?;
        while self.eat_punct(b'*') {
            let right = self.operand()?;
            expr = Expr {
                span: expr.span.to(right.span),
                kind: ExprKind::Mul(Box::new(expr), Box::new(right)),
            };
        }
        Some(expr)
    }

    fn operand(&mut self) -> Option<Expr> {
        self.skip();
        let start = self.pos;
        let kind = match self.peek()? {
            b'0'..=b'9' => ExprKind::Number(literal::number(self.number_text()?).ok()?),
            b'"' | b'`' => ExprKind::Str(self.string_lit()?),
            b'[' => ExprKind::List(self.list()?),
            b'{' => ExprKind::Record(Record {
                tag: None,
                body: self.block()?,
            }),
            _ => match self.word() {
                "true" | "false" => {
                    let value = self.word() == "true";
                    self.pos += self.word().len();
                    ExprKind::Bool(value)
                }
                word => match ValueKeyword::from_word(word) {
                    Some(ValueKeyword::Quota) => {
                        self.pos += word.len();
                        ExprKind::Record(Record {
                            tag: Some(RecordTag::Quota),
                            body: self.block()?,
                        })
                    }
                    Some(ValueKeyword::Limits) => {
                        self.pos += word.len();
                        let (kind, _) = self.limit_kind()?;
                        ExprKind::Record(Record {
                            tag: Some(RecordTag::Limits(kind)),
                            body: self.block()?,
                        })
                    }
                    None => self.value_name()?,
                },
            },
        };
        Some(Expr {
            kind,
            span: self.span(start, self.pos),
        })
    }

    fn list(&mut self) -> Option<List> {
        let start = self.punct(b'[')?;
        self.nest()?;
        let mut items = Vec::new();
        if !self.eat_punct(b']') {
            loop {
                items.push(self.expr()?);
                if !self.eat_punct(b',') {
                    self.punct(b']')?;
                    break;
                }
                if self.eat_punct(b']') {
                    break;
                }
            }
        }
        self.unnest();
        Some(List {
            items,
            span: self.span(start, self.pos),
        })
    }

    /// `ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)? ~ (ASCII_ALPHANUMERIC | "_" | "%")*`
    fn number_text(&mut self) -> Option<&'t str> {
        let start = self.pos;
        let digits = |bytes: &[u8], at: usize| {
            bytes[at..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(bytes.len() - at)
        };
        let whole = digits(self.bytes, self.pos);
        if whole == 0 {
            return None;
        }
        self.pos += whole;
        if self.peek() == Some(b'.') {
            let fraction = digits(self.bytes, self.pos + 1);
            if fraction > 0 {
                self.pos += 1 + fraction;
            }
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'%')
        {
            self.pos += 1;
        }
        Some(&self.text[start..self.pos])
    }

    // ------------------------------------------------------------ names

    /// `(ASCII_ALPHA | "_") ~ ident_char*`, after trivia.
    fn ident(&mut self) -> Option<Ident> {
        self.skip();
        self.ident_here()
    }

    /// Whether the word at the cursor is a bare `quota` or `limits` (not
    /// `limits.cpu`): the grammar's `statement_word`.
    fn statement_word(&self) -> bool {
        ValueKeyword::words()
            .any(|word| self.word_is(word) && self.bytes.get(self.pos + word.len()) != Some(&b'.'))
    }

    /// A name used as a value: an identifier, a subresource written bare
    /// (`pods/log`), one name to the grammar's `subresource`, or a field
    /// path (`team.size`), the grammar's `field_path`.
    fn value_name(&mut self) -> Option<ExprKind> {
        let mut name = self.ident()?;
        let second_starts = |b: &u8| b.is_ascii_alphabetic() || *b == b'_';
        if self.peek() == Some(b'/') && self.bytes.get(self.pos + 1).is_some_and(second_starts) {
            self.pos += 1;
            let part = self.ident_here()?;
            name.text = [name.text.as_str(), "/", &part.text].concat();
            name.span = name.span.to(part.span);
            return Some(ExprKind::Name(name));
        }
        if self.peek() != Some(b'.') || !self.bytes.get(self.pos + 1).is_some_and(second_starts) {
            return Some(ExprKind::Name(name));
        }
        let mut path = vec![name];
        while self.peek() == Some(b'.') && self.bytes.get(self.pos + 1).is_some_and(second_starts) {
            self.pos += 1;
            path.push(self.ident_here()?);
        }
        // `rollouts.argoproj.io/status`: a subresource of a resource named
        // with its group, one name as the grammar's `subresource`.
        if self.peek() == Some(b'/') && self.bytes.get(self.pos + 1).is_some_and(second_starts) {
            self.pos += 1;
            let part = self.ident_here()?;
            let span = path[0].span.to(part.span);
            let text = self.text
                [(span.start - self.base) as usize..(span.end - self.base) as usize]
                .to_string();
            return Some(ExprKind::Name(Ident { text, span }));
        }
        Some(ExprKind::Field(path))
    }

    /// An identifier right at the cursor.
    fn ident_here(&mut self) -> Option<Ident> {
        self.at_ident_start().then_some(())?;
        self.name_here()
    }

    /// Moves past the identifier right at the cursor, where its text is
    /// taken afterwards (a key path's segments, in one piece).
    fn pass_ident(&mut self) -> Option<()> {
        self.at_ident_start().then_some(())?;
        self.pos += self.word().len();
        Some(())
    }

    fn at_ident_start(&self) -> bool {
        self.peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
    }

    /// `(ASCII_ALPHANUMERIC | "_") ~ ident_char*`, after trivia.
    fn label(&mut self) -> Option<Ident> {
        self.skip();
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return None;
        }
        self.name_here()
    }

    fn name_here(&mut self) -> Option<Ident> {
        let start = self.pos;
        let word = self.word();
        self.pos += word.len();
        Some(Ident {
            text: word.to_string(),
            span: self.span(start, self.pos),
        })
    }

    fn decl_name(&mut self) -> Option<Name> {
        self.skip();
        match self.peek()? {
            b'"' | b'`' => Some(Name::Str(self.string_lit()?)),
            _ => Some(Name::Ident(self.label()?)),
        }
    }

    /// `a.b.c` between `start` and `end`, one ident per segment.
    fn dotted(&self, start: usize, end: usize) -> Vec<Ident> {
        Ident::dotted(&self.text[start..end], self.base + start as u32)
    }

    // ------------------------------------------------------------ strings

    fn string_lit(&mut self) -> Option<StringLit> {
        self.skip();
        let start = self.pos;
        let raw = match self.peek()? {
            b'"' => false,
            b'`' => true,
            _ => return None,
        };
        let quote = self.bytes[start];
        self.pos += 1;
        // Most strings are one piece of plain text, found whole by one
        // scan to the quote: no escape, no `$`, no line break.
        if !raw
            && let Some(len) = self.bytes[self.pos..]
                .iter()
                .position(|&b| QUOTED_STOPS[usize::from(b)])
            && self.bytes[self.pos + len] == b'"'
        {
            let text = &self.text[self.pos..self.pos + len];
            self.pos += len + 1;
            return Some(StringLit {
                parts: match text {
                    "" => Vec::new(),
                    text => vec![StrPart::Text(text.to_string())],
                },
                raw,
                span: self.span(start, self.pos),
            });
        }
        let mut parts: Vec<StrPart> = Vec::with_capacity(1);
        let push_text = StrPart::push_text;
        loop {
            let rest = &self.bytes[self.pos..];
            match rest.first() {
                None => return None, // unterminated
                Some(&b) if b == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\n') if !raw => return None, // unterminated
                _ if rest.starts_with(b"$${") => {
                    push_text(&mut parts, "${");
                    self.pos += 3;
                }
                _ if rest.starts_with(b"${") => {
                    parts.push(StrPart::Interp(self.interp()?));
                }
                Some(b'\\') if !raw => {
                    let escape_start = self.pos;
                    self.pos += 1;
                    if self.bytes[self.pos..].starts_with(b"u{") {
                        self.pos += 2;
                        while let Some(&b) = self.bytes.get(self.pos) {
                            if matches!(b, b'}' | b'"' | b'\n') {
                                break;
                            }
                            self.pos += 1;
                        }
                        if self.peek() == Some(b'}') {
                            self.pos += 1;
                        }
                    } else if let Some(c) = self.text[self.pos..].chars().next()
                        && c != '\n'
                    {
                        self.pos += c.len_utf8();
                    }
                    let c = literal::escape(&self.text[escape_start..self.pos]).ok()?;
                    push_text(&mut parts, c.encode_utf8(&mut [0; 4]));
                }
                _ => {
                    // Text up to the quote, a `$` that starts `${`, and (in
                    // a quoted string) a backslash or line break.
                    let text_start = self.pos;
                    let special = if raw { &RAW_STOPS } else { &QUOTED_STOPS };
                    loop {
                        let Some(skipped) = self.bytes[self.pos..]
                            .iter()
                            .position(|&b| special[usize::from(b)])
                        else {
                            self.pos = self.bytes.len();
                            break;
                        };
                        self.pos += skipped;
                        let rest = &self.bytes[self.pos..];
                        if rest[0] != b'$' || rest.starts_with(b"${") || rest.starts_with(b"$${") {
                            break;
                        }
                        self.pos += 1; // a `$` that starts nothing
                    }
                    let text = &self.text[text_start..self.pos];
                    if raw {
                        push_text(&mut parts, &text.replace("\r\n", "\n"));
                    } else {
                        push_text(&mut parts, text);
                    }
                }
            }
        }
        Some(StringLit {
            parts,
            raw,
            span: self.span(start, self.pos),
        })
    }

    /// `"${" ~ " "* ~ interp_path ~ " "* ~ "}"`, at `${`.
    fn interp(&mut self) -> Option<Vec<Ident>> {
        self.pos += 2;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let path_start = self.pos;
        loop {
            self.pass_ident()?;
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let path_end = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        if self.peek() != Some(b'}') {
            return None;
        }
        self.pos += 1;
        Some(self.dotted(path_start, path_end))
    }
}

fn limit_kind(word: &str) -> Option<LimitKind> {
    match word {
        "container" => Some(LimitKind::Container),
        "pod" => Some(LimitKind::Pod),
        "persistentvolumeclaim" => Some(LimitKind::PersistentVolumeClaim),
        _ => None,
    }
}
