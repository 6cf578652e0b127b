//! `--assume`: side relations `LHS = RHS` that the simplifier may use.
//!
//! A fact is handed to the simplifier as one more name: a placeholder `#assumeN` whose
//! body is LHS with the definitions inlined ([`Assumptions::extend_names`], which lives
//! in [`crate::names`]), so that it can write a result in terms of LHS where that is
//! cheaper, as it does for `p` in `p*(1 - p)`. The placeholder is then replaced by RHS
//! in what is shown ([`Assumptions::shown`]), and by LHS in what is checked
//! ([`Assumptions::exact`]): the result with LHS put back equals the derivative
//! for all values, so a numeric check needs no point where the fact holds.
//!
//! `t1 + t2 + t3 = 1` turns the cross-entropy's `p1*(t1 + t2 + t3) - t1` into
//! `p1 - t1`; `sum(k, t[k]) = 1` does the same in index notation.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::expr::{self, Expr, Sym};

/// One fact, `lhs = rhs`.
#[derive(Clone, Debug)]
pub struct Assumption {
    /// The side the simplifier looks for.
    pub lhs: Expr,
    /// What it is replaced by.
    pub rhs: Expr,
}

/// The facts given with `--assume`, in order.
#[derive(Clone, Debug, Default)]
pub struct Assumptions(pub Vec<Assumption>);

impl Assumptions {
    /// No facts.
    pub fn none() -> Assumptions {
        Assumptions::default()
    }

    /// Reads each fact, an equation `LHS = RHS` (`t1 + t2 + t3 = 1`, `sum(k, t[k]) = 1`).
    pub fn parse(facts: &[String]) -> Result<Assumptions> {
        facts.iter().map(|f| parse_fact(f)).collect::<Result<Vec<_>>>().map(Assumptions)
    }

    /// Whether there are no facts.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The placeholder of each fact and its RHS: what turns a simplified result into
    /// the one shown.
    pub fn restore_map(&self) -> HashMap<Sym, Expr> {
        self.0.iter().enumerate().map(|(i, a)| (placeholder(i), a.rhs.clone())).collect()
    }

    /// `e` (simplified with [`extend_names`](Self::extend_names)) as shown: each
    /// placeholder replaced by its fact's RHS. Equal to the derivative where the facts
    /// hold.
    pub fn shown(&self, e: &Expr) -> Expr {
        if self.is_empty() {
            return e.clone();
        }
        expr::substitute_all(e, &self.restore_map())
    }

    /// `e` with each placeholder replaced by its fact's LHS: equal to the derivative
    /// everywhere, so this is what a numeric check compares.
    pub fn exact(&self, e: &Expr) -> Expr {
        if self.is_empty() {
            return e.clone();
        }
        let map = self.0.iter().enumerate().map(|(i, a)| (placeholder(i), a.lhs.clone())).collect();
        expr::substitute_all(e, &map)
    }
}

/// The name fact `i` stands under while the simplifier works (not a name one can type).
pub fn placeholder(i: usize) -> Sym {
    expr::hidden_name("assume", i)
}

fn parse_fact(fact: &str) -> Result<Assumption> {
    let (lhs, rhs) =
        fact.split_once('=').ok_or_else(|| Error::at(ErrorKind::FactNotEquation, Span::new(0, fact.len()), fact))?;
    let rhs_at = lhs.len() + 1;
    let lhs = crate::parse::parse_expr(lhs).map_err(|e| e.relocate(0, 0, fact))?;
    let rhs = crate::parse::parse_expr(rhs).map_err(|e| e.relocate(0, rhs_at, fact))?;
    Ok(Assumption { lhs, rhs })
}
