//! Declarations and the names that refer to them.
//!
//! Owns: [`DeclKind`] (each kind is a namespace of its own), [`DeclId`]
//! (one per declaration, including each expansion of a `for` loop and each
//! stage of a family), and [`References`]: the declarations by id and every
//! use of one, by the span of the name written there. `resolve` fills it;
//! check asks it what a name binds to instead of looking the text up, and
//! an editor asks what the name at an offset refers to and where a
//! declaration is used.
//!
//! A reference written as a name (`on prod tier critical`, `extends base`,
//! `grant viewer`, `alert HighPodMemoryUsage`, `from env web`, a `let` read
//! by a value) binds once, when resolve walks the source: every expansion
//! of a loop reads the same text there. A reference built by interpolation
//! (`grant "${team}-dev"`) has a text per expansion, known where the
//! expansion is checked: check looks it up by that text and reports what
//! each expansion found ([`Expanded`]), so one such span refers to as many
//! declarations as it had expansions that named one.

use crate::source::Span;

/// What a declaration is. Each kind has its own namespace: a tier and a
/// cluster may share a name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum DeclKind {
    Let,
    Cluster,
    Tier,
    Role,
    AlertTemplate,
    Env,
    ClusterRole,
    Resource,
    External,
    Receiver,
    Policy,
}

impl DeclKind {
    /// The kind of declaration a `waive … for KIND NAME` names.
    pub fn waived(kind: crate::syntax::ast::WaiveKind) -> DeclKind {
        use crate::syntax::ast::WaiveKind;
        match kind {
            WaiveKind::Env => DeclKind::Env,
            WaiveKind::Cluster => DeclKind::Cluster,
            WaiveKind::Tier => DeclKind::Tier,
            WaiveKind::Role => DeclKind::Role,
            WaiveKind::ClusterRole => DeclKind::ClusterRole,
            WaiveKind::External => DeclKind::External,
            WaiveKind::Receiver => DeclKind::Receiver,
        }
    }

    /// How diagnostics name the kind: "unknown alert template `X`".
    pub fn noun(self) -> &'static str {
        match self {
            DeclKind::Let => "let",
            DeclKind::Cluster => "cluster",
            DeclKind::Tier => "tier",
            DeclKind::Role => "role",
            DeclKind::AlertTemplate => "alert template",
            DeclKind::Env => "env",
            DeclKind::ClusterRole => "cluster role",
            DeclKind::Resource => "resource",
            DeclKind::External => "external",
            DeclKind::Receiver => "receiver",
            DeclKind::Policy => "policy",
        }
    }
}

/// One declaration of the program. Ids are dense, in the order resolve
/// meets the declarations, so facts about them can live in a vector.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct DeclId(u32);

impl DeclId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a declaration is, the name it declares (after interpolation), and
/// where that name is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclInfo {
    pub kind: DeclKind,
    pub name: String,
    pub span: Span,
}

/// The uses of names built by interpolation, one per expansion that named
/// a declaration, in any order: what check found, for [`References::expand`].
pub type Expanded = Vec<(Span, DeclId)>;

/// Every declaration, and every name that refers to one.
#[derive(Default)]
pub struct References {
    decls: Vec<DeclInfo>,
    /// Each use, in the order resolve bound them: file by file, in source
    /// order, so by span. One span binds one declaration (its text is
    /// fixed), and resolve walks each written name once, however many
    /// expansions read it.
    uses: Vec<(Span, DeclId)>,
    /// The uses through interpolated names, sorted by span then id, each
    /// once: a span may name a declaration per expansion.
    expanded: Vec<(Span, DeclId)>,
}

impl References {
    /// A new declaration's id.
    pub(super) fn declare(&mut self, kind: DeclKind, name: &str, span: Span) -> DeclId {
        let id = DeclId(u32::try_from(self.decls.len()).expect("fewer than 2^32 declarations"));
        self.decls.push(DeclInfo {
            kind,
            name: name.to_string(),
            span,
        });
        id
    }

    /// Records the uses of names written after every use recorded so
    /// far, in source order.
    pub(super) fn bind_all(&mut self, uses: Vec<(Span, DeclId)>) {
        debug_assert!(
            self.uses
                .iter()
                .chain(&uses)
                .zip(self.uses.iter().chain(&uses).skip(1))
                .all(|((before, _), (after, _))| before.end <= after.start),
            "uses are bound in source order"
        );
        if self.uses.is_empty() {
            self.uses = uses;
        } else {
            self.uses.extend(uses);
        }
    }

    /// Adds the uses check found through interpolated names.
    pub fn expand(&mut self, mut uses: Expanded) {
        self.expanded.append(&mut uses);
        self.expanded
            .sort_unstable_by_key(|&(span, id)| (span.start, span.end, id));
        self.expanded.dedup();
    }

    pub fn decl(&self, id: DeclId) -> &DeclInfo {
        &self.decls[id.index()]
    }

    /// Every declaration with its id, in id order.
    pub fn decls(&self) -> impl Iterator<Item = (DeclId, &DeclInfo)> {
        (0u32..).map(DeclId).zip(&self.decls)
    }

    /// Every use of a name written as a name, in source order within each
    /// file.
    pub fn uses(&self) -> &[(Span, DeclId)] {
        &self.uses
    }

    /// Every use through an interpolated name, by span then id.
    pub fn expanded(&self) -> &[(Span, DeclId)] {
        &self.expanded
    }

    /// The declaration the name written exactly at `span` refers to.
    pub fn bound(&self, span: Span) -> Option<DeclId> {
        let index = self
            .uses
            .binary_search_by(|(used, _)| used.start.cmp(&span.start))
            .ok()?;
        let (used, id) = self.uses[index];
        (used == span).then_some(id)
    }

    /// What the name at a global `offset` refers to: the declaration a use
    /// there binds, the declarations an interpolated name there named (one
    /// per expansion), or the declarations whose name is written there (a
    /// name in a `for` loop declares one per expansion).
    pub fn at(&self, offset: u32) -> Vec<DeclId> {
        let contains = |span: Span| span.start <= offset && offset < span.end;
        let after = self.uses.partition_point(|(span, _)| span.start <= offset);
        if let Some(&(span, id)) = after.checked_sub(1).map(|last| &self.uses[last])
            && contains(span)
        {
            return vec![id];
        }
        // Interpolated names do not nest: the one that starts last before
        // `offset` is the only one that can hold it.
        let after = self
            .expanded
            .partition_point(|(span, _)| span.start <= offset);
        if let Some(&(last, _)) = after.checked_sub(1).map(|last| &self.expanded[last])
            && contains(last)
        {
            let first = self.expanded[..after].partition_point(|(span, _)| *span != last);
            return self.expanded[first..after]
                .iter()
                .map(|&(_, id)| id)
                .collect();
        }
        self.decls()
            .filter(|(_, decl)| contains(decl.span))
            .map(|(id, _)| id)
            .collect()
    }

    /// Where `id` is used, written as a name or built by interpolation,
    /// in source order within each file.
    pub fn uses_of(&self, id: DeclId) -> Vec<Span> {
        let mut spans: Vec<Span> = self
            .uses
            .iter()
            .chain(&self.expanded)
            .filter(|(_, used)| *used == id)
            .map(|(span, _)| *span)
            .collect();
        spans.sort_unstable_by_key(|span| span.start);
        spans
    }
}

/// Facts about declarations, by id: a vector, since ids are dense.
pub struct IdMap<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        IdMap { slots: Vec::new() }
    }
}

impl<T> IdMap<T> {
    pub fn insert(&mut self, id: DeclId, value: T) {
        if self.slots.len() <= id.index() {
            self.slots.resize_with(id.index() + 1, || None);
        }
        self.slots[id.index()] = Some(value);
    }

    pub fn get(&self, id: DeclId) -> Option<&T> {
        self.slots.get(id.index())?.as_ref()
    }
}

impl<T> std::ops::Index<DeclId> for IdMap<T> {
    type Output = T;

    fn index(&self, id: DeclId) -> &T {
        self.get(id)
            .expect("facts are kept for every declaration that checked")
    }
}
