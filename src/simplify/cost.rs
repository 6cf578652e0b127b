//! The cost model: which of several equal expressions is shown.
//!
//! Cost counts the operations a reader sees in the printed form (a sum as a whole
//! with its content taken out where the printers take it out), weighted: `+ - * ^` and
//! a unary minus 1, a division 2, a transcendental call 2 plus its argument, an abstract
//! function 1. Names already computed (definitions, `--let`) are free, and so are the
//! calls in `cheap` — built-in outputs such as `tanh(x)` that the forward pass has —
//! which cost 1 plus their argument.

use std::collections::HashSet;

use num_traits::{One, Signed};

use crate::expr::{Expr, Func, IdMap, Node};
use crate::limits;
use crate::print::{below_bar, goes_below, ordered_terms, product_parts, shared};

/// The weighted operation count of `e`; `cheap` lists calls already computed.
///
/// It counts the printed form, a tree, but each distinct node is costed once: a node met
/// again is its first answer, charged to the work budget (if any) what costing it cost
/// (`limits::metered`), so that a search spends what it would spend costing the tree
/// and finds the same forms, only in time linear in the DAG.
pub fn cost(e: &Expr, cheap: &HashSet<Expr>) -> u32 {
    let mut costing = Costing { cheap, signed: IdMap::default(), unsigned: IdMap::default() };
    let shape = match e.node() {
        Node::Add(ts) => shared(ts),
        _ => None,
    };
    match shape {
        // Printed as its content times the rest (`3*(1 - y^2)`, `(1 - y^2)/2`): a `*`
        // where the numerator is not 1, a division where there is a denominator, a minus.
        Some(s) if s.whole => match e.primitive(true) {
            Some((c, rest)) => {
                let times = u32::from(!c.numer().abs().is_one());
                let bar = if c.denom().is_one() { 0 } else { 2 };
                times + bar + u32::from(c.is_negative()) + costing.cost(&rest)
            }
            None => costing.cost(e),
        },
        // Some terms over a shared fraction (`(1 + erf(u))/2 + v`): its `*` and bar once
        // rather than on each of them, and whole numbers inside.
        Some(s) => {
            let per = u32::from(!s.unit.numer().is_one()) + 2;
            let saved = (s.over as u32 * per + s.numbers as u32).saturating_sub(per);
            costing.cost(e).saturating_sub(saved)
        }
        None => costing.cost(e),
    }
}

/// What a built-in call costs beyond its argument: the name and the parentheses.
const BUILTIN_OWN: u32 = 2;

/// The cost of `e` as a function's argument (no content taken out: `f(3 - 3*y)`).
pub fn argument_cost(e: &Expr, cheap: &HashSet<Expr>) -> u32 {
    Costing { cheap, signed: IdMap::default(), unsigned: IdMap::default() }.cost(e)
}

/// The cost of a built-in (not a cheap call) whose argument costs `argument` as
/// [`argument_cost`] counts it: [`cost`] of the call, without costing the argument again.
pub fn builtin_call_cost(argument: u32) -> u32 {
    BUILTIN_OWN.saturating_add(argument)
}

/// One costing: the cheap calls, and the answers so far with the work each took.
struct Costing<'a> {
    cheap: &'a HashSet<Expr>,
    signed: IdMap<(u32, u64)>,
    unsigned: IdMap<(u32, u64)>,
}

impl Costing<'_> {
    fn cost(&mut self, e: &Expr) -> u32 {
        if let Some(c) = limits::recall(self.signed.get(&e.id())) {
            return c;
        }
        let (c, work) = limits::metered(|| limits::deep(|| self.signed_cost(e)));
        self.signed.insert(e.id(), (c, work));
        c
    }

    /// The cost of `e` without its sign (a term after `-`, a product after its minus).
    fn unsigned_cost(&mut self, e: &Expr) -> u32 {
        if let Some(c) = limits::recall(self.unsigned.get(&e.id())) {
            return c;
        }
        let (c, work) = limits::metered(|| self.unsigned_cost_of(e));
        self.unsigned.insert(e.id(), (c, work));
        c
    }

    /// `acc` plus the costs of `es`, in order.
    fn add_costs<'e>(&mut self, acc: u32, es: impl Iterator<Item = &'e Expr>) -> u32 {
        es.fold(acc, |acc, a| acc.saturating_add(self.cost(a)))
    }

    fn signed_cost(&mut self, e: &Expr) -> u32 {
        if self.cheap.contains(e) {
            return self.add_costs(1, e.children().iter());
        }
        match e.node() {
            Node::Num(r) => u32::from(r.is_negative()) + u32::from(!r.is_integer()),
            Node::Const(_) | Node::Var(_) => 0,
            Node::Add(ts) => {
                let terms = ordered_terms(ts);
                let lead = u32::from(crate::print::is_negative(&terms[0]));
                let signs = lead + (terms.len() as u32 - 1);
                terms.iter().fold(signs, |acc, t| acc.saturating_add(self.unsigned_cost(t)))
            }
            Node::Mul(_) => u32::from(crate::print::is_negative(e)).saturating_add(self.unsigned_cost(e)),
            Node::Pow(b, x) if goes_below(b, x) => self.unsigned_cost(e),
            Node::Pow(b, x) => 1u32.saturating_add(self.cost(b)).saturating_add(self.cost(x)),
            Node::Call(f, args) => {
                let own = match f {
                    Func::Builtin(_) => BUILTIN_OWN,
                    Func::Abstract(_) | Func::Sum(_) | Func::Prod(_) => 1,
                    Func::Indexed(_) | Func::Delta => 0,
                    Func::Cmp(_) | Func::If | Func::Max | Func::Min => 1,
                };
                self.add_costs(own, args.iter())
            }
        }
    }

    fn unsigned_cost_of(&mut self, e: &Expr) -> u32 {
        if self.cheap.contains(e) {
            return self.cost(e);
        }
        match e.node() {
            Node::Mul(_) | Node::Pow(..)
                if matches!(e.node(), Node::Mul(_)) || crate::print::is_negative(&e.children()[1]) =>
            {
                // As `print::fraction` splits it, counted without building the split.
                let (coeff, factors) = product_parts(e);
                let coeff_numer = coeff.is_some_and(|c| !c.numer().abs().is_one());
                let coeff_denom = coeff.is_some_and(|c| !c.denom().is_one());
                let (mut top, mut bottom) = (u32::from(coeff_numer), u32::from(coeff_denom));
                let mut c = 0u32;
                for f in factors {
                    match f.node() {
                        Node::Pow(b, x) if goes_below(b, x) => {
                            bottom += 1;
                            c = c.saturating_add(self.cost(&below_bar(b, x)));
                        }
                        _ => {
                            top += 1;
                            c = c.saturating_add(self.cost(f));
                        }
                    }
                }
                c = c.saturating_add(top.saturating_sub(1));
                if bottom > 0 {
                    c = c.saturating_add(2 + (bottom - 1));
                }
                c
            }
            Node::Num(r) => u32::from(!r.is_integer()),
            _ if crate::print::is_negative(e) => self.cost(&Expr::negate(e.clone())),
            _ => self.cost(e),
        }
    }
}
