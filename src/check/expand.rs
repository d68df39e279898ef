//! `if` and `for` among the statements of an env's, a family's or a
//! stage's block: the blocks one layer stands for in one env.
//!
//! Entry point: [`pieces`]. A layer (a family's body, a stage's, a plain
//! env's) is its own block, then the block of the branch each `if` takes
//! and the body of each `for` once per element, each with the variables it
//! sees (a loop's variable on top of the env's), in the order written.
//! Check reads the pieces of a layer as one block (`Checker::layer`): what
//! a taken branch sets merges into what the block sets, and a key set in
//! both is set twice. The conditions are decided here, with the env's
//! context (`${stage}`, `${cluster}` …), so a family's body can differ
//! between its stages; each decision is kept for the warning that a
//! branch no env takes (E0215), given once all envs are checked.

use std::sync::Arc;

use crate::resolve::cond::{self, Decision};
use crate::resolve::loop_elements;
use crate::resolve::value::{Lets, Scope, Vars};
use crate::syntax::ast::{Block, StmtKind};

use super::units::Diags;

/// One block of a layer and the variables it is read in.
pub(crate) struct Piece<'a> {
    pub block: &'a Block,
    pub vars: Vars<'a>,
    /// Inside an `if` or a `for` of the layer, rather than its own block.
    pub nested: bool,
}

/// Whether `block` holds an `if` or a `for` among its statements: if not,
/// it is its one piece.
pub(crate) fn has_conditionals(block: &Block) -> bool {
    block
        .stmts
        .iter()
        .any(|stmt| matches!(stmt.kind, StmtKind::If(_) | StmtKind::For(_)))
}

/// The pieces `block` (read with `vars`) stands for, the block first.
pub(crate) fn pieces<'a>(
    block: &'a Block,
    vars: &Vars<'a>,
    lets: &Lets<'a>,
    decisions: &mut Vec<Decision>,
    diagnostics: &mut Diags,
) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    expand(block, vars, false, lets, decisions, &mut out, diagnostics);
    out
}

fn expand<'a>(
    block: &'a Block,
    vars: &Vars<'a>,
    nested: bool,
    lets: &Lets<'a>,
    decisions: &mut Vec<Decision>,
    out: &mut Vec<Piece<'a>>,
    diagnostics: &mut Diags,
) {
    out.push(Piece {
        block,
        vars: vars.clone(),
        nested,
    });
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::If(if_stmt) => {
                let scope = Scope::new(vars.clone(), lets);
                let record = &mut |decision| decisions.push(decision);
                if let Ok(Some(taken)) = cond::taken(if_stmt, &scope, record, diagnostics) {
                    expand(taken, vars, true, lets, decisions, out, diagnostics);
                }
            }
            StmtKind::For(for_stmt) => {
                let scope = Scope::new(vars.clone(), lets);
                for element in loop_elements(&for_stmt.iterable, &scope, diagnostics) {
                    let mut inner = (**vars).clone();
                    inner.push((for_stmt.var.text.clone().into(), element));
                    let inner = Arc::new(inner);
                    expand(
                        &for_stmt.body,
                        &inner,
                        true,
                        lets,
                        decisions,
                        out,
                        diagnostics,
                    );
                }
            }
            _ => {}
        }
    }
}
