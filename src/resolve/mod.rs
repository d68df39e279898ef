//! The resolve stage: from parsed files to the program's declarations.
//!
//! Entry point: [`resolve`], over the files `load` read: `let`s evaluated,
//! `for` loops expanded (over lists whose records share one shape,
//! `shape`), env families split into one env per stage, every
//! declaration named (interpolated and checked as a DNS-1123 label where
//! it becomes a Kubernetes name) and given an id, duplicates reported with
//! both places, and every name written as a reference bound to the
//! declaration it names (`refs`, `bind`).
//!
//! Deliberately absent: types and units (`src/check`), and anything about
//! what a field of a block means.

pub mod bind;
pub(crate) mod cond;
pub mod refs;
mod shape;
pub mod value;

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::diag::{Code, Diagnostic};
use crate::load::Program;
use crate::source::{STDLIB, Span};
use crate::suggest;
use crate::syntax::ast::{self, ElseKind, Ident, Item, ItemKind, Name, StmtKind};
use refs::{DeclId, DeclKind, References};
use value::{Lets, Scope, Value, Vars};

/// One declaration: its final name, where that name was written, the node,
/// and the loop variables in scope there.
pub struct Decl<'a, T> {
    pub id: DeclId,
    pub name: String,
    pub name_span: Span,
    pub node: &'a T,
    pub vars: Vars<'a>,
}

/// A concrete env: one namespace. A family's stage is an env whose body is
/// the family's body followed by the stage's.
pub struct EnvDecl<'a> {
    pub id: DeclId,
    pub name: String,
    pub name_span: Span,
    pub placement: &'a ast::Placement,
    /// The cluster of `placement`'s list this env is on, and its text: an
    /// env on several clusters is one `EnvDecl` per cluster, one
    /// namespace of one name on each.
    pub cluster: &'a Name,
    pub cluster_name: std::borrow::Cow<'a, str>,
    /// Applied in order: later layers override scalars and extend lists.
    pub layers: Vec<&'a ast::Block>,
    pub vars: Vars<'a>,
    pub family: Option<String>,
    pub stage: Option<String>,
}

/// Every declaration of a program, by kind; each kind is its own namespace.
pub struct Resolved<'a> {
    pub lets: Lets<'a>,
    pub clusters: Table<Decl<'a, ast::Cluster>>,
    pub tiers: Table<Decl<'a, ast::Tier>>,
    pub roles: Table<Decl<'a, ast::Role>>,
    pub templates: Table<Decl<'a, ast::AlertTemplate>>,
    pub envs: Table<EnvDecl<'a>>,
    pub cluster_roles: Table<Decl<'a, ast::Role>>,
    pub resources: Table<Decl<'a, ast::Resource>>,
    pub externals: Table<Decl<'a, ast::External>>,
    pub receivers: Table<Decl<'a, ast::Receiver>>,
    /// `policy NAME { … }` items (top level only: no variables).
    pub policies: Table<Decl<'a, ast::Policy>>,
    /// `waive POLICY for KIND NAME because "…"` lines, in order.
    pub waivers: Vec<&'a ast::Waive>,
    /// `route … to …` lines, in order, with the loop variables in scope
    /// where each is written.
    pub routes: Vec<(&'a ast::Route, Vars<'a>)>,
    /// `grant … on cluster …` lines, in order, with the loop variables in
    /// scope where each is written.
    pub cluster_grants: Vec<(&'a ast::ClusterGrant, Vars<'a>)>,
    /// Every `gitops` block, with the item's span: one is allowed.
    pub gitops: Vec<(&'a ast::Block, Span)>,
    /// Every `federation` block, with the item's span: one is allowed.
    pub federation: Vec<(&'a ast::Block, Span)>,
    /// Every declaration by id, and every name written as a reference.
    pub refs: References,
}

/// Declarations of one kind, in declaration order, found by name.
pub struct Table<T> {
    items: Vec<T>,
    /// The first declaration of each name (for an env, on any cluster).
    index: HashMap<String, usize>,
    /// Envs of a name already in `index`, on other clusters: by name and
    /// cluster. Empty unless a name is on several clusters.
    elsewhere: HashMap<(String, String), usize>,
    kind: DeclKind,
    /// Names declared but rejected (an invalid name, already reported):
    /// references to them stay silent.
    rejected: foldhash::HashSet<String>,
}

pub trait Named {
    fn id(&self) -> DeclId;
    fn name(&self) -> &str;
    fn name_span(&self) -> Span;
    /// The cluster a declaration is one of several of that name on: its
    /// identity is then its name and this cluster.
    fn cluster(&self) -> Option<&str> {
        None
    }
}

impl<T> Named for Decl<'_, T> {
    fn id(&self) -> DeclId {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn name_span(&self) -> Span {
        self.name_span
    }
}

impl Named for EnvDecl<'_> {
    fn id(&self) -> DeclId {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn name_span(&self) -> Span {
        self.name_span
    }
    fn cluster(&self) -> Option<&str> {
        Some(&self.cluster_name)
    }
}

impl<T: Named> Table<T> {
    fn new(kind: DeclKind) -> Table<T> {
        Table {
            items: Vec::new(),
            index: HashMap::new(),
            elsewhere: HashMap::new(),
            kind,
            rejected: Default::default(),
        }
    }

    /// Adds a declaration, or reports it as a duplicate of the first one.
    fn insert(&mut self, item: T, diagnostics: &mut Vec<Diagnostic>) {
        // Names are unique per cluster: one on another cluster than the
        // first of its name is kept apart, by name and cluster.
        let same = match (self.index.get(item.name()), item.cluster()) {
            (None, _) => None,
            (Some(&first), Some(cluster)) if self.items[first].cluster() != Some(cluster) => {
                let key = (item.name().to_string(), cluster.to_string());
                match self.elsewhere.get(&key) {
                    Some(&other) => Some(other),
                    None => {
                        self.elsewhere.insert(key, self.items.len());
                        self.items.push(item);
                        return;
                    }
                }
            }
            (Some(&first), _) => Some(first),
        };
        if let Some(first) = same {
            let on = match item.cluster() {
                Some(cluster) => format!(" on cluster `{cluster}`"),
                None => String::new(),
            };
            let first_span = self.items[first].name_span();
            if first_span == item.name_span() {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0202,
                        item.name_span(),
                        format!("{} `{}` is declared twice{on} by the same declaration", self.kind.noun(), item.name()),
                    )
                    .label("this name comes out the same twice")
                    .help(match self.kind {
                        DeclKind::Env | DeclKind::External => "a `for` loop declares this once per element: use the loop's variable in the name (`\"${x}-…\"`) so that each element declares its own, or remove the element the list repeats; one namespace on several clusters is one declaration, `on [a, b]`",
                        _ => "a `for` loop declares this once per element: use the loop's variable in the name (`\"${x}-…\"`) so that each element declares its own, or remove the element the list repeats",
                    }),
                );
                return;
            }
            diagnostics.push(
                Diagnostic::new(
                    Code::E0202,
                    item.name_span(),
                    format!("{} `{}` is declared twice{on}", self.kind.noun(), item.name()),
                )
                .label("declared again here")
                .secondary(first_span, "first declared here")
                .help(match item.cluster() {
                    Some(_) => "rename one of them or remove the second; a namespace name is used once per cluster".to_string(),
                    None => format!("rename one of them or remove the second; each {} name is used once per program", self.kind.noun()),
                }),
            );
            return;
        }
        self.index.insert(item.name().to_string(), self.items.len());
        self.items.push(item);
    }

    fn reserve(&mut self, additional: usize) {
        self.items.reserve_exact(additional);
        self.index.reserve(additional);
    }

    /// The first declaration named `name` (for an env, on any cluster).
    pub fn get(&self, name: &str) -> Option<&T> {
        self.index.get(name).map(|&i| &self.items[i])
    }

    /// The env named `name` on `cluster`.
    pub fn get_on(&self, name: &str, cluster: &str) -> Option<&T> {
        let first = self.get(name)?;
        if first.cluster() == Some(cluster) {
            return Some(first);
        }
        let key = (name.to_string(), cluster.to_string());
        self.elsewhere.get(&key).map(|&i| &self.items[i])
    }

    /// The names declared on several clusters.
    pub fn on_several_clusters(&self) -> impl Iterator<Item = &str> {
        self.elsewhere.keys().map(|(name, _)| name.as_str())
    }

    /// Whether `name` was declared but rejected (an invalid name, or a
    /// branch of an `if` whose condition has an error): already reported,
    /// so references to it stay silent.
    pub fn is_rejected(&self, name: &str) -> bool {
        self.rejected.contains(name)
    }

    /// The declaration `id` names, when it is of this table's kind and
    /// was not a duplicate.
    pub fn by_id(&self, id: DeclId) -> Option<&T> {
        // Declared and inserted in one order: the items are sorted by id.
        let index = self.items.binary_search_by_key(&id, Named::id).ok()?;
        Some(&self.items[index])
    }

    /// The id of the declaration named `name`.
    fn id_of(&self, name: &str) -> Option<DeclId> {
        self.get(name).map(Named::id)
    }

    /// The declaration a reference at `ident` names: the one resolve bound
    /// it to in `refs` where it is written as a name, else (a name made by
    /// interpolation, one text per expansion) the one its text names.
    /// Reports a name that names none, unless it was declared and rejected
    /// (reported where it is declared).
    pub fn referent(
        &self,
        refs: &References,
        ident: &Ident,
        code: Code,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<&T> {
        let found = match refs.bound(ident.span) {
            Some(id) => self.by_id(id),
            None => self.get(&ident.text),
        };
        if found.is_some() {
            return found;
        }
        if !self.rejected.contains(&ident.text) {
            diagnostics.push(self.unknown(ident, code));
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The "unknown name" diagnostic, with the best help we can give.
    pub fn unknown(&self, ident: &Ident, code: Code) -> Diagnostic {
        let diagnostic = Diagnostic::new(
            code,
            ident.span,
            format!("unknown {} `{}`", self.kind.noun(), ident.text),
        )
        .label(format!(
            "no {} is declared with this name",
            self.kind.noun()
        ));
        if let Some(module) = stdlib_module_declaring(self.kind, &ident.text) {
            return diagnostic.help(format!(
                "`{}` is in the standard library: add `import \"{module}\"`",
                ident.text
            ));
        }
        // What lies outside the cluster is no external: an address.
        let outside = match self.kind {
            DeclKind::External => {
                "; a service outside the cluster is reached by its address, with `egress allow to any on tcp PORT`"
            }
            _ => "",
        };
        match suggest::closest(&ident.text, self.items.iter().map(|item| item.name())) {
            Some(close) => diagnostic.help(format!("did you mean `{close}`?{outside}")),
            None if self.items.is_empty() => diagnostic.help(format!(
                "no {} is declared in this program{outside}",
                self.kind.noun()
            )),
            None => diagnostic.help(format!(
                "declared {}s: {}{outside}",
                self.kind.noun(),
                list_names(self.kind, self.items.iter().map(|item| item.name()))
            )),
        }
    }
}

/// The declared names of a help line, sorted. Alert templates and roles
/// are listed in full: they are a catalogue the user picks from (the
/// stdlib's dozen and a team's own), and a cut list can hide the very one
/// that was meant. Clusters, tiers, envs and
/// `let`s are the program's own, which `for` loops and families declare by
/// the hundred, and the name that was meant is usually one the user wrote:
/// eight of them say what kind of name is expected without burying the
/// diagnostic under the whole program. (A `for` loop can declare roles by
/// the hundred too; each is one a grant may mean, so they are kept.)
fn list_names<'n>(kind: DeclKind, names: impl Iterator<Item = &'n str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    let most = match kind {
        DeclKind::AlertTemplate
        | DeclKind::Role
        | DeclKind::ClusterRole
        | DeclKind::Resource
        | DeclKind::External
        | DeclKind::Receiver
        | DeclKind::Policy => names.len(),
        DeclKind::Let | DeclKind::Cluster | DeclKind::Tier | DeclKind::Env => 8,
    };
    let shown: Vec<String> = names.iter().take(most).map(|n| format!("`{n}`")).collect();
    if names.len() > most {
        format!("{}, …", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Which stdlib module declares `name` as a `kind`, for "add this import".
fn stdlib_module_declaring(kind: DeclKind, name: &str) -> Option<&'static str> {
    let keyword = match kind {
        DeclKind::Role => "role",
        DeclKind::AlertTemplate => "alert",
        DeclKind::ClusterRole => "cluster_role",
        DeclKind::Resource => "resource",
        DeclKind::Let
        | DeclKind::Cluster
        | DeclKind::Tier
        | DeclKind::Env
        | DeclKind::External
        | DeclKind::Receiver
        | DeclKind::Policy => {
            return None;
        }
    };
    STDLIB.iter().find_map(|(module, text)| {
        text.lines()
            .any(|line| {
                line.strip_prefix(keyword)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .is_some_and(|rest| {
                        rest.strip_prefix(name)
                            .is_some_and(|after| after.starts_with([' ', '(', '{']))
                    })
            })
            .then_some(*module)
    })
}

/// Resolves a loaded program. Runs only on files that parsed cleanly.
pub fn resolve<'a>(program: &'a Program, diagnostics: &mut Vec<Diagnostic>) -> Resolved<'a> {
    let mut lets = Vec::new();
    let mut rejected_lets = Vec::new();
    for (_, ast) in &program.files {
        collect_lets(&ast.items, None, &mut lets, &mut rejected_lets, diagnostics);
    }
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut unique = Vec::new();
    for (binding, span) in lets {
        match seen.get(binding.name.text.as_str()) {
            Some(&first) => diagnostics.push(
                Diagnostic::new(
                    Code::E0202,
                    binding.name.span,
                    format!("let `{}` is declared twice", binding.name.text),
                )
                .label("declared again here")
                .secondary(first, "first declared here")
                .help("rename one of them, or remove the second"),
            ),
            None => {
                seen.insert(&binding.name.text, binding.name.span);
                unique.push((binding, span));
            }
        }
    }
    let lets = Lets::evaluate(&unique, rejected_lets, diagnostics);
    let mut refs = References::default();
    let mut let_ids: HashMap<&str, DeclId> = HashMap::with_capacity(unique.len());
    for (binding, _) in &unique {
        let id = refs.declare(DeclKind::Let, &binding.name.text, binding.name.span);
        let_ids.insert(binding.name.text.as_str(), id);
    }
    let mut resolved = Resolved {
        lets,
        clusters: Table::new(DeclKind::Cluster),
        tiers: Table::new(DeclKind::Tier),
        roles: Table::new(DeclKind::Role),
        templates: Table::new(DeclKind::AlertTemplate),
        envs: Table::new(DeclKind::Env),
        cluster_roles: Table::new(DeclKind::ClusterRole),
        resources: Table::new(DeclKind::Resource),
        externals: Table::new(DeclKind::External),
        receivers: Table::new(DeclKind::Receiver),
        policies: Table::new(DeclKind::Policy),
        waivers: Vec::new(),
        routes: Vec::new(),
        cluster_grants: Vec::new(),
        gitops: Vec::new(),
        federation: Vec::new(),
        refs: References::default(),
    };
    let mut collector = Collector {
        lets: &resolved.lets,
        refs: &mut refs,
        clusters: Vec::new(),
        tiers: Vec::new(),
        roles: Vec::new(),
        templates: Vec::new(),
        envs: Vec::new(),
        cluster_roles: Vec::new(),
        resources: Vec::new(),
        externals: Vec::new(),
        receivers: Vec::new(),
        policies: Vec::new(),
        waivers: Vec::new(),
        routes: Vec::new(),
        cluster_grants: Vec::new(),
        gitops: Vec::new(),
        federation: Vec::new(),
        rejected: Vec::new(),
        branches: cond::Branches::default(),
    };
    for (_, ast) in &program.files {
        collector.items(&ast.items, &Arc::new(Vec::new()), diagnostics);
    }
    let Collector {
        clusters,
        tiers,
        roles,
        templates,
        envs,
        cluster_roles,
        resources,
        externals,
        receivers,
        policies,
        waivers,
        routes,
        cluster_grants,
        gitops,
        federation,
        rejected,
        branches,
        ..
    } = collector;
    resolved.routes = routes;
    resolved.waivers = waivers;
    resolved.cluster_grants = cluster_grants;
    resolved.gitops = gitops;
    resolved.federation = federation;
    branches.never_taken(diagnostics);
    for (kind, name) in rejected {
        let table_rejected = match kind {
            DeclKind::Cluster => &mut resolved.clusters.rejected,
            DeclKind::Tier => &mut resolved.tiers.rejected,
            DeclKind::Role => &mut resolved.roles.rejected,
            DeclKind::AlertTemplate => &mut resolved.templates.rejected,
            DeclKind::Env => &mut resolved.envs.rejected,
            DeclKind::ClusterRole => &mut resolved.cluster_roles.rejected,
            DeclKind::Resource => &mut resolved.resources.rejected,
            DeclKind::External => &mut resolved.externals.rejected,
            DeclKind::Receiver => &mut resolved.receivers.rejected,
            DeclKind::Policy => &mut resolved.policies.rejected,
            // A `let` rejected in a loop is silenced by `Lets` itself.
            DeclKind::Let => continue,
        };
        table_rejected.insert(name);
    }
    for decl in clusters {
        resolved.clusters.insert(decl, diagnostics);
    }
    for decl in tiers {
        resolved.tiers.insert(decl, diagnostics);
    }
    for decl in roles {
        resolved.roles.insert(decl, diagnostics);
    }
    for decl in templates {
        resolved.templates.insert(decl, diagnostics);
    }
    // Sized once: an env is moved, not copied again as the table grows.
    resolved.envs.reserve(envs.len());
    for decl in envs {
        resolved.envs.insert(decl, diagnostics);
    }
    for decl in cluster_roles {
        resolved.cluster_roles.insert(decl, diagnostics);
    }
    for decl in resources {
        resolved.resources.insert(decl, diagnostics);
    }
    for decl in externals {
        resolved.externals.insert(decl, diagnostics);
    }
    for decl in receivers {
        resolved.receivers.insert(decl, diagnostics);
    }
    for decl in policies {
        resolved.policies.insert(decl, diagnostics);
    }
    let find = |kind: DeclKind, name: &str| match kind {
        DeclKind::Let => let_ids.get(name).copied(),
        DeclKind::Cluster => resolved.clusters.id_of(name),
        DeclKind::Tier => resolved.tiers.id_of(name),
        DeclKind::Role => resolved.roles.id_of(name),
        DeclKind::AlertTemplate => resolved.templates.id_of(name),
        DeclKind::Env => resolved.envs.id_of(name),
        DeclKind::ClusterRole => resolved.cluster_roles.id_of(name),
        DeclKind::Resource => resolved.resources.id_of(name),
        DeclKind::External => resolved.externals.id_of(name),
        DeclKind::Receiver => resolved.receivers.id_of(name),
        DeclKind::Policy => resolved.policies.id_of(name),
    };
    for (_, ast) in &program.files {
        refs.bind_all(bind::uses_in(&ast.items, &find));
    }
    resolved.refs = refs;
    resolved
}

/// The program's `let`s. A `let` inside a `for` loop is an error (E0211):
/// its name goes to `rejected`, so that its uses stay silent.
fn collect_lets<'a>(
    items: &'a [Item],
    in_loop: Option<&Ident>,
    out: &mut Vec<(&'a ast::Let, Span)>,
    rejected: &mut Vec<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for item in items {
        match &item.kind {
            ItemKind::Let(binding) => match in_loop {
                None => out.push((binding, item.span)),
                Some(var) => {
                    diagnostics.push(
                        Diagnostic::new(Code::E0211, binding.name.span, "a `let` inside a `for` loop")
                            .label("a `let` is one value for the whole program")
                            .secondary(var.span, "this loop variable cannot be used in it")
                            .help(format!(
                                "declare `{}` before the loop, and interpolate `${{{}}}` where the value is used",
                                binding.name.text, var.text
                            )),
                    );
                    rejected.push(binding.name.text.clone());
                }
            },
            ItemKind::For(for_loop) => collect_lets(
                &for_loop.items,
                Some(&for_loop.var),
                out,
                rejected,
                diagnostics,
            ),
            ItemKind::If(if_item) => {
                // The condition may read `let`s, which are evaluated first:
                // a `let` inside cannot wait for it.
                let mut branch = |items: &'a [Item], diagnostics: &mut Vec<Diagnostic>| {
                    for item in items {
                        if let ItemKind::Let(binding) = &item.kind {
                            diagnostics.push(
                                Diagnostic::new(Code::E0211, binding.name.span, "a `let` inside an `if`")
                                    .label("a `let` is one value for the whole program")
                                    .secondary(if_item.cond.span, "it cannot depend on this condition")
                                    .help(format!(
                                        "declare `{}` outside the `if`; to choose between values, give each its own `let` and choose where it is used",
                                        binding.name.text
                                    )),
                            );
                            rejected.push(binding.name.text.clone());
                        } else {
                            let item = std::slice::from_ref(item);
                            collect_lets(item, in_loop, out, rejected, diagnostics);
                        }
                    }
                };
                let mut next = Some(if_item);
                while let Some(current) = next.take() {
                    branch(&current.then, diagnostics);
                    match current.otherwise.as_ref().map(|otherwise| &otherwise.kind) {
                        Some(ElseKind::Body(items)) => branch(items, diagnostics),
                        Some(ElseKind::If(inner)) => next = Some(inner),
                        None => {}
                    }
                }
            }
            ItemKind::Import(_)
            | ItemKind::GitOps(_)
            | ItemKind::Federation(_)
            | ItemKind::Cluster(_)
            | ItemKind::Tier(_)
            | ItemKind::Role(_)
            | ItemKind::ClusterRole(_)
            | ItemKind::Resource(_)
            | ItemKind::External(_)
            | ItemKind::Receiver(_)
            | ItemKind::Route(_)
            | ItemKind::Policy(_)
            | ItemKind::Waive(_)
            | ItemKind::ClusterGrant(_)
            | ItemKind::Env(_)
            | ItemKind::AlertTemplate(_) => {}
        }
    }
}

/// The clusters of a placement, each with its name's text.
enum Listed<'a> {
    One(Option<(&'a Name, std::borrow::Cow<'a, str>)>),
    Several(std::vec::IntoIter<(&'a Name, std::borrow::Cow<'a, str>)>),
}

impl<'a> Iterator for Listed<'a> {
    type Item = (&'a Name, std::borrow::Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Listed::One(one) => one.take(),
            Listed::Several(several) => several.next(),
        }
    }
}

struct Collector<'l, 'a> {
    lets: &'l Lets<'a>,
    refs: &'l mut References,
    clusters: Vec<Decl<'a, ast::Cluster>>,
    tiers: Vec<Decl<'a, ast::Tier>>,
    roles: Vec<Decl<'a, ast::Role>>,
    templates: Vec<Decl<'a, ast::AlertTemplate>>,
    envs: Vec<EnvDecl<'a>>,
    cluster_roles: Vec<Decl<'a, ast::Role>>,
    resources: Vec<Decl<'a, ast::Resource>>,
    externals: Vec<Decl<'a, ast::External>>,
    receivers: Vec<Decl<'a, ast::Receiver>>,
    policies: Vec<Decl<'a, ast::Policy>>,
    waivers: Vec<&'a ast::Waive>,
    routes: Vec<(&'a ast::Route, Vars<'a>)>,
    cluster_grants: Vec<(&'a ast::ClusterGrant, Vars<'a>)>,
    gitops: Vec<(&'a ast::Block, Span)>,
    federation: Vec<(&'a ast::Block, Span)>,
    /// (kind, name) of declarations whose name was invalid.
    rejected: Vec<(DeclKind, String)>,
    branches: cond::Branches,
}

impl<'a> Collector<'_, 'a> {
    fn items(&mut self, items: &'a [Item], vars: &Vars<'a>, diagnostics: &mut Vec<Diagnostic>) {
        for item in items {
            match &item.kind {
                ItemKind::Import(_) | ItemKind::Let(_) => {}
                // Only at the top level: the grammar has it in no loop.
                ItemKind::GitOps(body) => self.gitops.push((body, item.span)),
                ItemKind::Federation(body) => self.federation.push((body, item.span)),
                ItemKind::Cluster(cluster) => {
                    let decl =
                        self.decl(&cluster.name, cluster, vars, DeclKind::Cluster, diagnostics);
                    self.clusters.extend(decl);
                }
                ItemKind::Tier(tier) => {
                    let decl = self.decl(&tier.name, tier, vars, DeclKind::Tier, diagnostics);
                    self.tiers.extend(decl);
                }
                ItemKind::Role(role) => {
                    let decl = self.decl(&role.name, role, vars, DeclKind::Role, diagnostics);
                    self.roles.extend(decl);
                }
                ItemKind::ClusterRole(role) => {
                    let kind = DeclKind::ClusterRole;
                    let decl = self.decl(&role.name, role, vars, kind, diagnostics);
                    self.cluster_roles.extend(decl);
                }
                ItemKind::Resource(resource) => {
                    let name = Name::Ident(resource.name.clone());
                    let kind = DeclKind::Resource;
                    let decl = self.decl(&name, resource, vars, kind, diagnostics);
                    self.resources.extend(decl);
                }
                ItemKind::External(external) => {
                    let kind = DeclKind::External;
                    let decl = self.decl(&external.name, external, vars, kind, diagnostics);
                    self.externals.extend(decl);
                }
                ItemKind::Receiver(receiver) => {
                    let kind = DeclKind::Receiver;
                    let decl = self.decl(&receiver.name, receiver, vars, kind, diagnostics);
                    self.receivers.extend(decl);
                }
                ItemKind::Route(route) => self.routes.push((route, vars.clone())),
                ItemKind::Policy(policy) => {
                    let kind = DeclKind::Policy;
                    let decl = self.decl(&policy.name, policy, vars, kind, diagnostics);
                    self.policies.extend(decl);
                }
                ItemKind::Waive(waive) => self.waivers.push(waive),
                ItemKind::ClusterGrant(grant) => self.cluster_grants.push((grant, vars.clone())),
                ItemKind::AlertTemplate(template) => {
                    if let Some((name, name_span)) =
                        self.name(&template.name, vars, None, diagnostics)
                    {
                        if !is_alert_name(&name) {
                            diagnostics.push(
                                Diagnostic::new(Code::E0205, name_span, format!("`{name}` is not a valid alert name"))
                                    .label("Prometheus alert names are letters, digits and `_`, not starting with a digit")
                                    .help("alert names are usually CamelCase, such as `HighPodMemoryUsage`"),
                            );
                            self.rejected.push((DeclKind::AlertTemplate, name));
                        } else {
                            self.templates.push(Decl {
                                id: self.refs.declare(DeclKind::AlertTemplate, &name, name_span),
                                name,
                                name_span,
                                node: template,
                                vars: vars.clone(),
                            });
                        }
                    }
                }
                ItemKind::Env(env) => self.env(env, vars, diagnostics),
                ItemKind::For(for_loop) => self.for_loop(for_loop, vars, diagnostics),
                ItemKind::If(if_item) => self.if_item(if_item, vars, diagnostics),
            }
        }
    }

    fn for_loop(
        &mut self,
        for_loop: &'a ast::For,
        vars: &Vars<'a>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let scope = Scope::new(vars.clone(), self.lets);
        for element in loop_elements(&for_loop.iterable, &scope, diagnostics) {
            let mut inner = (**vars).clone();
            inner.push((for_loop.var.text.clone().into(), element));
            self.items(&for_loop.items, &Arc::new(inner), diagnostics);
        }
    }

    /// The items of the branch the condition takes here, recording which
    /// it took for [`Branches::never_taken`].
    fn if_item(
        &mut self,
        if_item: &'a ast::If<Vec<Item>>,
        vars: &Vars<'a>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let scope = Scope::new(vars.clone(), self.lets);
        let branches = &mut self.branches;
        match cond::taken(
            if_item,
            &scope,
            &mut |decision| branches.add(decision),
            diagnostics,
        ) {
            Ok(Some(items)) => self.items(items, vars, diagnostics),
            Ok(None) => {}
            // Reported at the condition. What its branches would declare
            // is neither declared nor reported unknown where it is named:
            // one mistake, one error.
            Err(undecided) => self.silence(undecided, vars),
        }
    }

    /// Remembers the names `if_item`'s branches declare as rejected.
    fn silence(&mut self, if_item: &'a ast::If<Vec<Item>>, vars: &Vars<'a>) {
        let mut scratch = Vec::new();
        let mut names = |items: &'a [Item], collector: &mut Self| {
            for item in items {
                let (name, kind) = match &item.kind {
                    ItemKind::Cluster(cluster) => (&cluster.name, DeclKind::Cluster),
                    ItemKind::Tier(tier) => (&tier.name, DeclKind::Tier),
                    ItemKind::Role(role) => (&role.name, DeclKind::Role),
                    ItemKind::ClusterRole(role) => (&role.name, DeclKind::ClusterRole),
                    ItemKind::External(external) => (&external.name, DeclKind::External),
                    ItemKind::Receiver(receiver) => (&receiver.name, DeclKind::Receiver),
                    ItemKind::AlertTemplate(template) => (&template.name, DeclKind::AlertTemplate),
                    ItemKind::Env(env) => (&env.name, DeclKind::Env),
                    ItemKind::Resource(resource) => {
                        let text = resource.name.text.clone();
                        collector.rejected.push((DeclKind::Resource, text));
                        continue;
                    }
                    ItemKind::Import(_)
                    | ItemKind::GitOps(_)
                    | ItemKind::Federation(_)
                    | ItemKind::Let(_)
                    | ItemKind::For(_)
                    | ItemKind::If(_)
                    | ItemKind::Route(_)
                    | ItemKind::Policy(_)
                    | ItemKind::Waive(_)
                    | ItemKind::ClusterGrant(_) => {
                        continue;
                    }
                };
                if let Some((text, _)) = collector.name(name, vars, None, &mut scratch) {
                    if let ItemKind::Env(env) = &item.kind {
                        for stmt in &env.body.stmts {
                            if let StmtKind::Stage(stage) = &stmt.kind
                                && let Some((stage, _)) =
                                    collector.name(&stage.name, vars, None, &mut scratch)
                            {
                                collector
                                    .rejected
                                    .push((DeclKind::Env, format!("{text}-{stage}")));
                            }
                        }
                    }
                    collector.rejected.push((kind, text));
                }
            }
        };
        names(&if_item.then, self);
        match if_item.otherwise.as_ref().map(|otherwise| &otherwise.kind) {
            Some(ElseKind::Body(items)) => names(items, self),
            Some(ElseKind::If(inner)) => self.silence(inner, vars),
            None => {}
        }
    }

    fn env(&mut self, env: &'a ast::Env, vars: &Vars<'a>, diagnostics: &mut Vec<Diagnostic>) {
        let Some((name, name_span)) = self.name(&env.name, vars, Some(DeclKind::Env), diagnostics)
        else {
            return;
        };
        let stages: Vec<&'a ast::Stage> = env
            .body
            .stmts
            .iter()
            .filter_map(|stmt| match &stmt.kind {
                StmtKind::Stage(stage) => Some(&**stage),
                _ => None,
            })
            .collect();
        if let Some(placement) = &env.placement {
            for stage in &stages {
                diagnostics.push(
                    Diagnostic::new(Code::E0210, stage.name.span(), "a `stage` inside an env that is already placed")
                        .label("this env has `on … tier …`, so it is one namespace, not a family")
                        .secondary(placement.span, "placed here")
                        .help(format!(
                            "remove `on … tier …` after `env {name}` to make it a family of stages, or move the stage's fields into the env"
                        )),
                );
            }
            for (cluster, cluster_name) in self.clusters(placement, vars, diagnostics) {
                self.envs.push(EnvDecl {
                    id: self.refs.declare(DeclKind::Env, &name, name_span),
                    name: name.clone(),
                    name_span,
                    placement,
                    cluster,
                    cluster_name,
                    layers: vec![&env.body],
                    vars: vars.clone(),
                    family: None,
                    stage: None,
                });
            }
            return;
        }
        if stages.is_empty() {
            diagnostics.push(
                Diagnostic::new(Code::E0210, name_span, format!("env `{name}` is not placed on any cluster"))
                    .label("no `on CLUSTER tier TIER` and no `stage`")
                    .help(format!(
                        "write `env {name} on CLUSTER tier TIER {{ … }}`, or give it stages: `stage prod on CLUSTER tier TIER {{ … }}`"
                    )),
            );
            return;
        }
        for stage in stages {
            let Some((stage_name, stage_span)) = self.name(&stage.name, vars, None, diagnostics)
            else {
                continue;
            };
            let full = format!("{name}-{stage_name}");
            if let Err(why) = check_dns_label(&full) {
                diagnostics.push(dns_diagnostic(&full, stage_span, &why));
                self.rejected.push((DeclKind::Env, full));
                continue;
            }
            for (cluster, cluster_name) in self.clusters(&stage.placement, vars, diagnostics) {
                self.envs.push(EnvDecl {
                    id: self.refs.declare(DeclKind::Env, &full, stage_span),
                    name: full.clone(),
                    name_span: stage_span,
                    placement: &stage.placement,
                    cluster,
                    cluster_name,
                    layers: vec![&env.body, &stage.body],
                    vars: vars.clone(),
                    family: Some(name.clone()),
                    stage: Some(stage_name.clone()),
                });
            }
        }
    }

    /// The clusters a placement lists, each with its text; one listed
    /// twice is reported (E0202) and placed on once.
    fn clusters(
        &mut self,
        placement: &'a ast::Placement,
        vars: &Vars<'a>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Listed<'a> {
        // Most envs are on one cluster named plainly: its text is the
        // tree's, and the list is that one.
        if let [cluster @ Name::Ident(ident)] = placement.clusters.names.as_slice() {
            return Listed::One(Some((cluster, std::borrow::Cow::Borrowed(&ident.text))));
        }
        let mut listed: Vec<(&'a Name, std::borrow::Cow<'a, str>)> = Vec::new();
        for cluster in &placement.clusters.names {
            let Some((text, span)) = self.name(cluster, vars, None, diagnostics) else {
                continue;
            };
            match listed.iter().find(|(_, listed)| *listed == text) {
                Some((first, _)) => diagnostics.push(
                    Diagnostic::new(
                        Code::E0202,
                        span,
                        format!("cluster `{text}` is listed twice"),
                    )
                    .label("listed again here")
                    .secondary(first.span(), "first listed here")
                    .help("list each cluster once: the namespace is one per cluster"),
                ),
                None => listed.push((cluster, std::borrow::Cow::Owned(text))),
            }
        }
        Listed::Several(listed.into_iter())
    }

    /// A declaration of `kind` named `name`, with its id; `None` when its
    /// name could not be made or is not a valid Kubernetes name (reported).
    fn decl<T>(
        &mut self,
        name: &Name,
        node: &'a T,
        vars: &Vars<'a>,
        kind: DeclKind,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Decl<'a, T>> {
        let (name, name_span) = self.name(name, vars, Some(kind), diagnostics)?;
        Some(Decl {
            id: self.refs.declare(kind, &name, name_span),
            name,
            name_span,
            node,
            vars: vars.clone(),
        })
    }

    /// The final text of a declared name. A name of a `kind` that becomes a
    /// Kubernetes name is checked as a DNS-1123 label (a role's, as a
    /// subdomain); a rejected one is remembered so that references to it
    /// stay silent.
    fn name(
        &mut self,
        name: &Name,
        vars: &Vars<'a>,
        kind: Option<DeclKind>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<(String, Span)> {
        let (text, span) = match name {
            Name::Ident(ident) => (ident.text.clone(), ident.span),
            Name::Str(string) => {
                let scope = Scope::new(vars.clone(), self.lets);
                (
                    value::interpolate(string, &scope, diagnostics)?,
                    string.span,
                )
            }
        };
        if let Some(kind) = kind {
            // A role's name is a Role's, a path segment; a cluster's, a
            // tier's and an env's end up where Kubernetes wants a label (a
            // namespace, a label value).
            type Check = fn(&str) -> Result<(), String>;
            type Report = fn(&str, Span, &str) -> Diagnostic;
            let (check, report): (Check, Report) = match kind {
                // A resource's `plural.group` is its CRD's name.
                DeclKind::Role | DeclKind::ClusterRole | DeclKind::Resource => {
                    (check_dns_subdomain, dns_subdomain_diagnostic)
                }
                // An external's name is its namespace's by default.
                // A receiver's is Alertmanager's, which takes any text: a
                // label keeps it writable bare in a route.
                DeclKind::Cluster
                | DeclKind::Tier
                | DeclKind::Env
                | DeclKind::External
                | DeclKind::Receiver
                | DeclKind::Policy => (check_dns_label, dns_diagnostic),
                DeclKind::Let | DeclKind::AlertTemplate => return Some((text, span)),
            };
            if let Err(why) = check(&text) {
                diagnostics.push(report(&text, span, &why));
                self.rejected.push((kind, text));
                return None;
            }
        }
        Some((text, span))
    }
}

/// The elements a `for` loop over `iterable` expands, in `scope`: a list's
/// elements, each a string, a name, a number or a record of the list's one
/// shape (`shape`); what is no such list, or an element that is none of
/// those, is reported (E0209, E0213) and not expanded.
pub(crate) fn loop_elements<'a>(
    iterable: &'a ast::Expr,
    scope: &Scope<'_, 'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Value<'a>> {
    let Some(iterable) = value::eval(iterable, scope, diagnostics) else {
        return Vec::new();
    };
    let Value::List(elements, _) = iterable else {
        diagnostics.push(
            Diagnostic::new(
                Code::E0209,
                iterable.span(),
                format!("cannot loop over {}", iterable.describe()),
            )
            .label("expected a list")
            .help("write the values in a list: `for team in [\"search\", \"checkout\"] { … }`"),
        );
        return Vec::new();
    };
    // A loop's body reads its records' fields again and again: each is
    // evaluated once, here.
    let elements: Vec<Value<'a>> = elements
        .into_iter()
        .map(|element| match element {
            Value::Record(record) if record.tag.is_none() => {
                Value::Record(record.evaluate(scope.lets, diagnostics))
            }
            other => other,
        })
        .collect();
    let same_shape = shape::check_list(&elements, scope.lets, diagnostics);
    let mut expanded = Vec::with_capacity(elements.len());
    for (element, fits) in elements.into_iter().zip(same_shape) {
        match element {
            Value::List(..) | Value::Product { .. } => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0209,
                        element.span(),
                        format!("a `for` list holds {}", element.describe()),
                    )
                    .label("expected a string, a name, a number or a record")
                    .help("a loop variable is one element: write the elements in one list"),
                );
            }
            // Reported at the element: its expansion would only repeat
            // what the element's shape says.
            _ if !fits => {}
            _ => expanded.push(element),
        }
    }
    expanded
}

/// A Prometheus alert name: letters, digits and `_`, not starting with a
/// digit.
pub(crate) fn is_alert_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The longest DNS-1123 label: what a namespace's name may be.
const LABEL_MAX: usize = 63;

/// The longest DNS-1123 subdomain: what most object names may be.
pub const SUBDOMAIN_MAX: usize = 253;

/// A DNS-1123 label: what Kubernetes accepts as a namespace's name, and
/// what envk asks of the names it puts in labels (tiers, clusters).
pub fn check_dns_label(name: &str) -> Result<(), String> {
    check_dns(name, LABEL_MAX, false)
}

/// A DNS-1123 subdomain, dot-separated labels: what Kubernetes accepts as
/// the name of an object that is only a path segment, such as a Role or a
/// RoleBinding. Kubernetes caps the whole name, not each label, so neither
/// does envk.
pub fn check_dns_subdomain(name: &str) -> Result<(), String> {
    check_dns(name, SUBDOMAIN_MAX, true)
}

/// What a byte can be in a DNS name: a letter or digit, `-`, `.`, or
/// nothing allowed.
const DNS_BYTE: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        classes[byte] = match b {
            b'a'..=b'z' | b'0'..=b'9' => ALPHANUMERIC,
            b'-' => b'-',
            b'.' => b'.',
            _ => 0,
        };
        byte += 1;
    }
    classes
};
const ALPHANUMERIC: u8 = 1;

/// Whether `name` is a DNS label (or, with `dots`, a subdomain) of at most
/// `max` bytes: lowercase letters, digits and `-` (and `.`), starting and
/// ending with a letter or digit, as each part between dots does.
fn dns_name_is_fine(name: &[u8], max: usize, dots: bool) -> bool {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return false;
    };
    if name.len() > max
        || DNS_BYTE[usize::from(first)] != ALPHANUMERIC
        || DNS_BYTE[usize::from(last)] != ALPHANUMERIC
    {
        return false;
    }
    let mut previous = ALPHANUMERIC;
    for &byte in name {
        let class = DNS_BYTE[usize::from(byte)];
        let fine = match class {
            ALPHANUMERIC => true,
            b'-' => previous != b'.',
            b'.' => dots && previous == ALPHANUMERIC,
            _ => false,
        };
        if !fine {
            return false;
        }
        previous = class;
    }
    true
}

fn check_dns(name: &str, max: usize, dots: bool) -> Result<(), String> {
    // Most names are fine: one pass over the bytes says so, and only a
    // name that is not gets the walk that says why.
    if dns_name_is_fine(name.as_bytes(), max, dots) {
        return Ok(());
    }
    dns_name_problem(name, max, dots)
}

/// What is wrong with a DNS name, if anything: the plain walk, which
/// `dns_name_is_fine` is held to.
fn dns_name_problem(name: &str, max: usize, dots: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".to_string());
    }
    if name.len() > max {
        return Err(format!(
            "it is {} characters long; the limit is {max}",
            name.len()
        ));
    }
    let allowed = if dots {
        "lowercase letters, digits, `-` and `.`"
    } else {
        "lowercase letters, digits and `-`"
    };
    if let Some(bad) = name.chars().find(|&c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.'))
    }) {
        return Err(if bad.is_ascii_uppercase() {
            format!("it has uppercase letters; only {allowed} are allowed")
        } else {
            format!("`{bad}` is not allowed; only {allowed} are")
        });
    }
    let edges = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !edges(name) {
        return Err("it must start and end with a letter or digit".to_string());
    }
    if !name.split('.').all(edges) {
        return Err("each part between dots must start and end with a letter or digit".to_string());
    }
    Ok(())
}

/// E0205 for a name that is not a DNS-1123 label.
pub fn dns_diagnostic(name: &str, span: Span, why: &str) -> Diagnostic {
    invalid_name(name, span, why).help(format!(
        "Kubernetes names are DNS-1123 labels: {DNS_LABEL_RULE}"
    ))
}

/// What a DNS-1123 label is, as messages say it.
pub const DNS_LABEL_RULE: &str =
    "at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit";

/// E0205 for an object name that is not a DNS-1123 subdomain: a Role,
/// RoleBinding, ResourceQuota or LimitRange name.
pub fn dns_subdomain_diagnostic(name: &str, span: Span, why: &str) -> Diagnostic {
    invalid_name(name, span, why).help(
        "the names of Roles, RoleBindings, ResourceQuotas and LimitRanges are DNS-1123 subdomains: at most 253 lowercase letters, digits, `-` and `.`, each part between dots starting and ending with a letter or digit",
    )
}

fn invalid_name(name: &str, span: Span, why: &str) -> Diagnostic {
    let shown: String = if name.len() > 70 {
        format!(
            "{}…",
            &name[..name.char_indices().nth(60).map_or(name.len(), |(i, _)| i)]
        )
    } else {
        name.to_string()
    };
    Diagnostic::new(
        Code::E0205,
        span,
        format!("`{shown}` is not a valid Kubernetes name"),
    )
    .label(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::{check_dns_label, check_dns_subdomain, dns_name_is_fine, dns_name_problem};

    /// The one-pass check of a fine name against the walk that explains a
    /// wrong one, over every name of up to six characters made of what
    /// either looks at, for both kinds and around the length limit.
    #[test]
    fn the_fast_check_accepts_exactly_what_the_walk_does() {
        let names = crate::test_inputs::every_string(&['a', '7', '-', '.', 'B', '_', 'é'], 6);
        for name in &names {
            for (max, dots) in [(63, false), (253, true), (3, false), (4, true)] {
                assert_eq!(
                    dns_name_is_fine(name.as_bytes(), max, dots),
                    dns_name_problem(name, max, dots).is_ok(),
                    "{name:?} (at most {max}, dots {dots})"
                );
            }
        }
    }

    #[test]
    fn labels_are_63_characters_without_dots() {
        assert!(check_dns_label(&"a".repeat(63)).is_ok());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
        assert!(check_dns_label("shop-prod").is_ok());
        assert!(check_dns_label("shop.prod").is_err());
        assert!(check_dns_label("-shop").is_err());
        assert!(check_dns_label("").is_err());
    }

    /// Kubernetes caps a subdomain at 253 characters in all; it does not
    /// hold each part between dots to a label's 63.
    #[test]
    fn subdomains_are_253_characters_of_dotted_parts() {
        assert!(check_dns_subdomain(&"a".repeat(253)).is_ok());
        assert!(check_dns_subdomain(&"a".repeat(254)).is_err());
        assert!(check_dns_subdomain(&format!("{}.b", "a".repeat(100))).is_ok());
        assert!(check_dns_subdomain("viewer.v2").is_ok());
        assert!(check_dns_subdomain("3rd-party.reader").is_ok());
        for bad in [
            "",
            ".viewer",
            "viewer.",
            "viewer..v2",
            "viewer.-v2",
            "viewer-.v2",
        ] {
            assert!(check_dns_subdomain(bad).is_err(), "{bad:?}");
        }
        for bad in ["Viewer", "viewer_v2", "viewer/v2"] {
            assert!(check_dns_subdomain(bad).is_err(), "{bad:?}");
        }
    }
}
