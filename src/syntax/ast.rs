//! The syntax tree: what the user wrote, with a span on every node.
//!
//! Invariant: the tree mirrors the source and decides nothing. Names are not
//! resolved, units are not checked against what a field expects, and
//! generic `key = value` fields are kept as written; `src/resolve` and
//! `src/check` give them meaning.

use std::borrow::Cow;

use super::keywords::StatementKeyword;
use crate::source::Span;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ast {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Import(Import),
    /// `gitops { repo = "…" … }`: where the build is committed.
    GitOps(Block),
    /// `federation { match = […] … }`: what the central Prometheus
    /// pulls from each cluster's.
    Federation(Block),
    Cluster(Cluster),
    Tier(Tier),
    Role(Role),
    /// `cluster_role NAME { allow … }`: the body is a role's.
    ClusterRole(Role),
    Resource(Resource),
    External(External),
    ClusterGrant(ClusterGrant),
    Let(Let),
    Env(Env),
    For(For),
    If(If<Vec<Item>>),
    AlertTemplate(AlertTemplate),
    Receiver(Receiver),
    Route(Route),
    Policy(Policy),
    Waive(Waive),
}

/// `import "std/alerts"`, `import "./clusters.env.k"`
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: StringLit,
}

/// `cluster prod-cluster { server = "…" … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: Name,
    pub body: Block,
}

/// `tier sandbox extends standard { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: Name,
    /// A name, or a string such as `"${team.tier}"` in a loop.
    pub extends: Option<Name>,
    pub body: Block,
}

/// `role devops-engineer { allow […] on […] }`
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub name: Name,
    pub body: Block,
}

/// `resource rollouts.argoproj.io { subresources = [status] }`: a custom
/// resource roles may name.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The plural and the API group, as written: `rollouts.argoproj.io`.
    pub name: Ident,
    pub body: Block,
}

/// `external ingress-nginx on [prod-eu, prod-us] { namespace = "…" }`: a
/// namespace envk does not manage, which network rules may name.
#[derive(Clone, Debug, PartialEq)]
pub struct External {
    pub name: Name,
    pub clusters: ClusterList,
    pub body: Option<Block>,
}

/// `receiver devops-pager { pagerduty { routing_key_file = "…" } }`:
/// where Alertmanager sends the alerts routed to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    pub name: Name,
    pub body: Block,
}

/// `route team "devops" severity critical to devops-pager`; with no
/// matcher, `route to NAME` names the default receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub matchers: Vec<RouteMatcher>,
    pub receiver: Name,
}

/// `team "devops"`, `severity critical`: a label and the value an
/// alert's label must equal.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteMatcher {
    pub label: Ident,
    pub value: Name,
}

impl RouteMatcher {
    pub fn span(&self) -> Span {
        Span::new(self.label.span.start, self.value.span().end)
    }
}

/// `policy NAME "description" { severity = warning  PREDICATE }`: a rule
/// of the company's own, checked over the whole program.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: Name,
    pub description: Option<StringLit>,
    /// The `key = value` settings before the predicate (`severity`), as a
    /// block so that they are read like any other.
    pub settings: Block,
    pub rule: Pred,
}

/// `waive POLICY for env NAME because "reason"`
#[derive(Clone, Debug, PartialEq)]
pub struct Waive {
    pub policy: Name,
    pub kind: WaiveKind,
    pub kind_span: Span,
    pub target: Name,
    pub reason: StringLit,
}

/// What a waiver names: the kinds of declaration a violation is reported
/// on, or belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaiveKind {
    Env,
    Cluster,
    Tier,
    Role,
    ClusterRole,
    External,
    Receiver,
}

impl WaiveKind {
    pub const ALL: [WaiveKind; 7] = [
        WaiveKind::Env,
        WaiveKind::Cluster,
        WaiveKind::Tier,
        WaiveKind::Role,
        WaiveKind::ClusterRole,
        WaiveKind::External,
        WaiveKind::Receiver,
    ];

    /// The keyword as written after `for`.
    pub fn as_str(self) -> &'static str {
        match self {
            WaiveKind::Env => "env",
            WaiveKind::Cluster => "cluster",
            WaiveKind::Tier => "tier",
            WaiveKind::Role => "role",
            WaiveKind::ClusterRole => "cluster_role",
            WaiveKind::External => "external",
            WaiveKind::Receiver => "receiver",
        }
    }

    pub fn parse(word: &str) -> Option<WaiveKind> {
        WaiveKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == word)
    }
}

/// A policy's predicate: true or false of the checked program.
#[derive(Clone, Debug, PartialEq)]
pub struct Pred {
    pub kind: PredKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PredKind {
    /// `all env in envs where … : …`, `any …`, `none …`
    Quantified(Box<Quantified>),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Implies(Box<Pred>, Box<Pred>),
    /// `( … )`, kept so that it is written back as it was.
    Group(Box<Pred>),
    /// `env.quota.requests.cpu <= 4`
    Compare(Term, CompareOp, Term),
    /// `env.name matches "^[a-z]+-(dev|prod)$"`
    Matches(Term, StringLit),
    /// `env.name starts_with "team-"`
    StartsWith(Term, Term),
    /// `env.labels has "cost-center"`, `role.verbs has "*"`, `env has quota`
    Has(Term, Term),
    /// `env.environment in [staging, production]`
    In(Term, Term),
    /// A term that must be a boolean: `tier.isolated`, `unique(…)`.
    Value(Term),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    All,
    Any,
    None,
}

impl Quantifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantifier::All => "all",
            Quantifier::Any => "any",
            Quantifier::None => "none",
        }
    }
}

/// `all VAR in COLLECTION where FILTER : BODY`
#[derive(Clone, Debug, PartialEq)]
pub struct Quantified {
    pub quantifier: Quantifier,
    pub var: Ident,
    pub collection: Path,
    pub filter: Option<Pred>,
    pub body: Pred,
}

/// A value in a predicate.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub kind: TermKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    Number(Number),
    Bool(bool),
    Str(StringLit),
    List(Vec<Term>),
    Path(Path),
    /// `count(VAR in COLLECTION where FILTER)`
    Count(Box<Count>),
    /// `unique(VAR in COLLECTION where FILTER : KEY per GROUP)`
    Unique(Box<Unique>),
    /// `2 * env.quota.requests.memory`
    Mul(Box<Term>, Box<Term>),
}

/// `env.quota.requests.cpu`, `env.labels["cost-center"]`
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub index: Option<StringLit>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Count {
    pub var: Ident,
    pub collection: Path,
    pub filter: Option<Pred>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Unique {
    pub var: Ident,
    pub collection: Path,
    pub filter: Option<Pred>,
    pub key: Term,
    pub per: Option<Term>,
}

/// `grant ROLE to KIND "…" on cluster CLUSTERS`: a cluster role bound
/// cluster-wide.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterGrant {
    pub role: Name,
    pub subject_kind: SubjectKind,
    pub subject_kind_span: Span,
    pub subject: StringLit,
    pub clusters: ClusterList,
}

/// `prod-eu` or `[prod-eu, prod-us]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterList {
    pub names: Vec<Name>,
    /// Written in brackets (a list of one stays one).
    pub bracketed: bool,
    pub span: Span,
}

/// `let small = quota { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: Expr,
}

/// `env NAME on CLUSTER tier TIER { … }` (one namespace) or `env NAME { …
/// stage … }` (a family; `placement` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub name: Name,
    pub placement: Option<Placement>,
    pub body: Block,
}

/// `on CLUSTER tier TIER`, or `on [CLUSTER, …] tier TIER` for one
/// namespace on several clusters; a name may be a string with
/// interpolation (`on "${team.cluster}" tier "${team.tier}"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub clusters: ClusterList,
    pub tier: Name,
    pub span: Span,
}

/// `for team in ["a", "b"] { env "${team}" { … } }`
#[derive(Clone, Debug, PartialEq)]
pub struct For {
    pub var: Ident,
    pub iterable: Expr,
    pub items: Vec<Item>,
}

/// `if COND { … } else { … }`: among items (`T` = `Vec<Item>`), or among
/// the statements of an env's, a family's or a stage's block (`T` =
/// `Block`).
#[derive(Clone, Debug, PartialEq)]
pub struct If<T> {
    pub cond: Cond,
    pub then: T,
    pub otherwise: Option<Else<T>>,
}

impl<T> If<T> {
    /// The bodies of the chain's branches, in the order written: `then`,
    /// each `else if`'s, and the final `else`'s.
    pub fn branches(&self) -> impl Iterator<Item = &T> {
        let mut next = Some(self);
        let mut last: Option<&T> = None;
        std::iter::from_fn(move || {
            if let Some(chain) = next.take() {
                match chain.otherwise.as_ref().map(|branch| &branch.kind) {
                    Some(ElseKind::If(inner)) => next = Some(inner),
                    Some(ElseKind::Body(body)) => last = Some(body),
                    None => {}
                }
                return Some(&chain.then);
            }
            last.take()
        })
    }
}

/// `else { … }` or `else if …`, spanning from `else` to the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Else<T> {
    pub kind: ElseKind<T>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ElseKind<T> {
    Body(T),
    If(Box<If<T>>),
}

/// `for peer in team.calls { … }` among the statements of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct ForStmt {
    pub var: Ident,
    pub iterable: Expr,
    pub body: Block,
}

/// A condition: a boolean value, a comparison, or conditions combined.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub kind: CondKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CondKind {
    /// `team.pci`: a value that must be a boolean.
    Value(Expr),
    /// `team.tier == "critical"`, `team.size > 2`
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    /// `( … )`, kept so that it is written back as it was.
    Group(Box<Cond>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    pub fn parse(text: &str) -> Option<CompareOp> {
        Some(match text {
            "==" => CompareOp::Eq,
            "!=" => CompareOp::Ne,
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::Ge,
            _ => return None,
        })
    }
}

/// `alert HighPodMemoryUsage(threshold: ratio = 90%) { expr = `…` … }`
#[derive(Clone, Debug, PartialEq)]
pub struct AlertTemplate {
    pub name: Name,
    pub params: Vec<Param>,
    pub body: Block,
}

/// `threshold: ratio = 90%`
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

/// A plain identifier: `prod-cluster`, `requests`, `HighPodMemoryUsage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

impl Ident {
    /// `a.b.c` written from global offset `start` (a key path or an
    /// interpolation): one ident per segment.
    pub fn dotted(path: &str, start: u32) -> Vec<Ident> {
        // One pass over the bytes, room for one segment: most paths are
        // one short segment, and a key is read for every field.
        let segment = |from: usize, to: usize| Ident {
            text: path[from..to].to_string(),
            span: Span::new(start + from as u32, start + to as u32),
        };
        let mut idents = Vec::with_capacity(1);
        let mut from = 0;
        for (at, byte) in path.bytes().enumerate() {
            if byte == b'.' {
                idents.push(segment(from, at));
                from = at + 1;
            }
        }
        idents.push(segment(from, path.len()));
        idents
    }
}

/// A dotted path as written: `requests.cpu`; borrowed when it is one
/// segment, as most are.
pub fn path_text(path: &[Ident]) -> Cow<'_, str> {
    match path {
        [only] => Cow::Borrowed(&only.text),
        _ => Cow::Owned(
            path.iter()
                .map(|ident| ident.text.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
    }
}

/// The name of a declaration: an identifier, or a string where
/// interpolation is needed (`env "${team}" { … }`).
#[derive(Clone, Debug, PartialEq)]
pub enum Name {
    Ident(Ident),
    Str(StringLit),
}

impl Name {
    pub fn span(&self) -> Span {
        match self {
            Name::Ident(ident) => ident.span,
            Name::Str(string) => string.span,
        }
    }
}

/// `{ … }`: fields and statements.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Field(Field),
    // The larger kinds are boxed, so that a statement is the size of a
    // field: a list of records is thousands of fields, moved as they are
    // read and kept to the end.
    Grant(Box<Grant>),
    Ingress(Ingress),
    Egress(Egress),
    Metrics(Metrics),
    Stage(Box<Stage>),
    Alert(AlertUse),
    Quota(Quota),
    Limits(Limits),
    Allow(Allow),
    Forbid(Forbid),
    Require(Require),
    Accept(Accept),
    If(Box<If<Block>>),
    For(Box<ForStmt>),
}

impl StmtKind {
    /// The keyword the statement is written with; a field has none.
    pub fn keyword(&self) -> Option<StatementKeyword> {
        Some(match self {
            StmtKind::Field(_) => return None,
            StmtKind::Grant(_) => StatementKeyword::Grant,
            StmtKind::Ingress(_) => StatementKeyword::Ingress,
            StmtKind::Egress(_) => StatementKeyword::Egress,
            StmtKind::Metrics(_) => StatementKeyword::Metrics,
            StmtKind::Stage(_) => StatementKeyword::Stage,
            StmtKind::Alert(_) => StatementKeyword::Alert,
            StmtKind::Quota(_) => StatementKeyword::Quota,
            StmtKind::Limits(_) => StatementKeyword::Limits,
            StmtKind::Allow(_) => StatementKeyword::Allow,
            StmtKind::Forbid(_) => StatementKeyword::Forbid,
            StmtKind::Require(_) => StatementKeyword::Require,
            StmtKind::Accept(_) => StatementKeyword::Accept,
            StmtKind::If(_) => StatementKeyword::If,
            StmtKind::For(_) => StatementKeyword::For,
        })
    }
}

/// `key = value` or `key { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: Key,
    pub value: FieldValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Expr(Expr),
    Block(Block),
}

/// `requests.cpu` (a dotted path) or `"kubernetes.io/managed-by"` (a string,
/// for label and annotation keys that are not identifiers).
#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    Path(Vec<Ident>),
    Str(StringLit),
}

impl Key {
    pub fn span(&self) -> Span {
        match self {
            Key::Path(segments) => {
                let first = segments.first().expect("a key path has a segment").span;
                let last = segments.last().expect("a key path has a segment").span;
                first.to(last)
            }
            Key::Str(string) => string.span,
        }
    }
}

/// `grant ROLE to user|group|serviceaccount "…" [as NAME]`
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// A name, or a string such as `"${team}-engineer"` for a role a `for`
    /// loop declares.
    pub role: Name,
    pub subject_kind: SubjectKind,
    pub subject_kind_span: Span,
    pub subject: StringLit,
    pub binding_name: Option<Name>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    User,
    Group,
    ServiceAccount,
}

/// `ingress allow from environment production on tcp 8080`
#[derive(Clone, Debug, PartialEq)]
pub struct Ingress {
    pub from: Peer,
    /// Empty: every port.
    pub ports: Vec<Port>,
}

/// `egress allow to any on tcp 443`, `egress allow dns` or `egress deny dns`
#[derive(Clone, Debug, PartialEq)]
pub enum Egress {
    Dns,
    /// The opt-out of the DNS egress envk generates for restricted envs.
    DenyDns,
    To {
        peer: Peer,
        ports: Vec<Port>,
    },
}

/// `metrics on tcp 9090, tcp 9102`: the ports the cluster's Prometheus
/// may scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub ports: Vec<Port>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    pub kind: PeerKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PeerKind {
    /// `any`: no restriction on the peer (egress only).
    Any,
    /// `environment production`: namespaces labelled with that environment
    /// (or `environment "${team.environment}"`).
    Environment(Name),
    /// `env payments-prod`: one env's namespace.
    Env(Name),
    /// `external ingress-nginx`: a namespace an `external` declares.
    External(Name),
}

/// `tcp 8080`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    pub protocol: Protocol,
    pub number: u16,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The protocol a word names: `tcp`, `udp` or `sctp`.
    pub fn parse(word: &str) -> Option<Protocol> {
        match word {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// A port number as written after a protocol: a whole number from 1 to
/// 65535, else `None`.
pub fn port_number(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|&n| n != 0)
}

/// `stage prod on prod-cluster tier critical { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: Name,
    pub placement: Placement,
    pub body: Block,
}

/// `alert PodCrashLooping { for = 5m }` inside an env: use of a template;
/// `alert HighPodMemoryUsage as HighPodMemoryCritical { … }` names its rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertUse {
    /// The template: a name, or a string whose text names one
    /// (`alert "${team.alert}"`).
    pub template: Name,
    /// The rule's name, when it is not the template's.
    pub rename: Option<Name>,
    pub args: Option<Block>,
}

/// `quota NAME { … }`, `quota { … }` or `quota = EXPR`
#[derive(Clone, Debug, PartialEq)]
pub enum Quota {
    Block { name: Option<Name>, body: Block },
    Expr(Expr),
}

/// `limits NAME container { … }`, `limits container { … }` or `limits = EXPR`
#[derive(Clone, Debug, PartialEq)]
pub enum Limits {
    Block {
        name: Option<Name>,
        kind: LimitKind,
        kind_span: Span,
        body: Block,
    },
    Expr(Expr),
}

/// The LimitRange item type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Container,
    Pod,
    PersistentVolumeClaim,
}

/// `allow [get, list] on [pods, "pods/log"]`
#[derive(Clone, Debug, PartialEq)]
pub struct Allow {
    pub verbs: List,
    pub resources: List,
}

/// `forbid verbs […]`, `forbid resources […]`, `forbid wildcards`
#[derive(Clone, Debug, PartialEq)]
pub enum Forbid {
    Verbs(List),
    Resources(List),
    Wildcards,
}

/// `require alerts [HighPodMemoryUsage, PodCrashLooping]`
#[derive(Clone, Debug, PartialEq)]
pub struct Require {
    pub alerts: List,
}

/// `accept from [production, staging]`
#[derive(Clone, Debug, PartialEq)]
pub struct Accept {
    pub environments: List,
}

/// `[a, b, c]`
#[derive(Clone, Debug, PartialEq)]
pub struct List {
    pub items: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Bool(bool),
    Str(StringLit),
    List(List),
    Record(Record),
    /// A reference to a `let`, a declared item, or an enum value such as
    /// `production`; resolution decides which.
    Name(Ident),
    /// `team.size`: a field of the record a variable or a `let` holds (two
    /// segments or more).
    Field(Vec<Ident>),
    /// `small * 2`
    Mul(Box<Expr>, Box<Expr>),
}

/// `{ … }`, `quota { … }` or `limits container { … }` used as a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub tag: Option<RecordTag>,
    pub body: Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordTag {
    Quota,
    Limits(LimitKind),
}

/// A number exactly as written, in its unit: `200m` is mantissa 200, scale
/// 0, suffix `m`; `0.5` is mantissa 5, scale 1. Whether `m` means
/// milli-cores or minutes is decided by the field that receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Number {
    pub mantissa: u128,
    /// Digits after the decimal point.
    pub scale: u32,
    pub suffix: Suffix,
}

impl Number {
    /// What the number looks like it measures, from its suffix alone: the
    /// words of messages such as "expected cpu, found memory", shared by
    /// every stage that describes a value. It decides nothing; the field
    /// that receives the number does.
    pub fn looks_like(&self) -> &'static str {
        use Suffix::*;
        match self.suffix {
            None => "a number",
            Percent => "a ratio",
            Milli => "milli-cores or minutes",
            Kilo | Mega | Giga | Tera | Peta | Exa | Kibi | Mebi | Gibi | Tebi | Pebi | Exbi => {
                "memory"
            }
            Millisecond | Second | Hour | Day | Week | Year => "a duration",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suffix {
    None,
    Percent,
    /// `m`: milli (cpu) or minutes (duration).
    Milli,
    Kilo,
    Mega,
    Giga,
    Tera,
    Peta,
    Exa,
    Kibi,
    Mebi,
    Gibi,
    Tebi,
    Pebi,
    Exbi,
    Millisecond,
    Second,
    Hour,
    Day,
    Week,
    Year,
}

/// What a suffix's letters alone say a number measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuffixKind {
    /// No suffix: a count, cores, bytes or a ratio; the field decides.
    Plain,
    /// `m`: milli-cores or minutes.
    Milli,
    /// `%`: a ratio.
    Percent,
    /// `k`…`E`, `Ki`…`Ei`: bytes.
    Bytes,
    /// `ms`, `s`, `h`, `d`, `w`, `y`: a duration.
    Time,
}

impl Suffix {
    pub fn kind(self) -> SuffixKind {
        match self {
            Suffix::None => SuffixKind::Plain,
            Suffix::Milli => SuffixKind::Milli,
            Suffix::Percent => SuffixKind::Percent,
            Suffix::Kilo
            | Suffix::Mega
            | Suffix::Giga
            | Suffix::Tera
            | Suffix::Peta
            | Suffix::Exa
            | Suffix::Kibi
            | Suffix::Mebi
            | Suffix::Gibi
            | Suffix::Tebi
            | Suffix::Pebi
            | Suffix::Exbi => SuffixKind::Bytes,
            Suffix::Millisecond
            | Suffix::Second
            | Suffix::Hour
            | Suffix::Day
            | Suffix::Week
            | Suffix::Year => SuffixKind::Time,
        }
    }

    pub const ALL: &'static [Suffix] = &[
        Suffix::None,
        Suffix::Percent,
        Suffix::Milli,
        Suffix::Kilo,
        Suffix::Mega,
        Suffix::Giga,
        Suffix::Tera,
        Suffix::Peta,
        Suffix::Exa,
        Suffix::Kibi,
        Suffix::Mebi,
        Suffix::Gibi,
        Suffix::Tebi,
        Suffix::Pebi,
        Suffix::Exbi,
        Suffix::Millisecond,
        Suffix::Second,
        Suffix::Hour,
        Suffix::Day,
        Suffix::Week,
        Suffix::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::Percent => "%",
            Suffix::Milli => "m",
            Suffix::Kilo => "k",
            Suffix::Mega => "M",
            Suffix::Giga => "G",
            Suffix::Tera => "T",
            Suffix::Peta => "P",
            Suffix::Exa => "E",
            Suffix::Kibi => "Ki",
            Suffix::Mebi => "Mi",
            Suffix::Gibi => "Gi",
            Suffix::Tebi => "Ti",
            Suffix::Pebi => "Pi",
            Suffix::Exbi => "Ei",
            Suffix::Millisecond => "ms",
            Suffix::Second => "s",
            Suffix::Hour => "h",
            Suffix::Day => "d",
            Suffix::Week => "w",
            Suffix::Year => "y",
        }
    }

    /// Whether the suffix may start or continue a compound duration such as
    /// `1h30m`.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Suffix::Milli
                | Suffix::Millisecond
                | Suffix::Second
                | Suffix::Hour
                | Suffix::Day
                | Suffix::Week
                | Suffix::Year
        )
    }
}

/// `"…"` or `` `…` ``: text with `${name}` interpolations. Escapes are
/// already decoded, and `$${` is already a literal `${`.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    pub parts: Vec<StrPart>,
    pub raw: bool,
    pub span: Span,
}

impl StringLit {
    /// The text when there is no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(text) => out.push_str(text),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    Text(String),
    /// `${team}` or `${env.name}`: the dotted path, each segment an ident.
    Interp(Vec<Ident>),
}

impl StrPart {
    /// Appends text to `parts`, merged into the text part before it.
    pub fn push_text(parts: &mut Vec<StrPart>, text: &str) {
        match parts.last_mut() {
            Some(StrPart::Text(last)) => last.push_str(text),
            _ => parts.push(StrPart::Text(text.to_string())),
        }
    }
}
