//! The cost model: which of several equal expressions is shown.
//!
//! Cost counts the operations a reader sees in the printed form (a sum as a whole
//! with its content taken out where the printers take it out), weighted: `+ - * ^` and
//! a unary minus 1, a division 2, a transcendental call 2 plus its argument, an abstract
//! function 1. Names already computed (definitions, `--let`) are free, and so are the
//! calls in `cheap` — built-in outputs such as `tanh(x)` that the forward pass has —
//! which cost 1 plus their argument.

use crate::expr::FastSet as HashSet;

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
    with_costing(cheap, |costing| costing.top(e))
}

/// The answers so far of the costings with one set of cheap calls, by the set (see
/// [`with_costing`]).
type Memos = crate::expr::FastMap<(usize, u64, u64), (IdMap<(u32, u64)>, IdMap<(u32, u64)>)>;

thread_local! {
    /// The costings' answers, kept across calls within a request: the simplifier costs
    /// many forms that share most of their parts (a pool of candidates, each collected),
    /// and a node's cost depends only on it and the cheap calls. Emptied with the other
    /// memo tables ([`forget_memos`]).
    static MEMOS: std::cell::RefCell<Memos> = Default::default();
}

/// How many answers [`MEMOS`] keeps before it starts again.
const MAX_REMEMBERED: usize = 40_000;

/// Empties the costings' memo (see [`super::forget_memos`]).
pub(crate) fn forget_memos() {
    MEMOS.with(|m| m.borrow_mut().clear());
}

/// Runs `work` with a costing for `cheap` that starts from the answers of the earlier
/// ones for the same set, and keeps its own for the later ones. (Cut short by the work
/// budget, its answers are dropped: they are only saved time.) A node met again is
/// charged to the budget what costing it cost, so that a search spends the same with or
/// without the memo.
fn with_costing<T>(cheap: &HashSet<Expr>, work: impl FnOnce(&mut Costing<'_>) -> T) -> T {
    // The set, by its size and two sums of its members' mixed ids (any order).
    let mix = |id: u64, k: u64| (id ^ k).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let key = cheap.iter().fold((cheap.len(), 0u64, 0u64), |(n, a, b), c| {
        (n, a.wrapping_add(mix(c.id(), 1)), b.wrapping_add(mix(c.id(), 0x5bd1_e995)))
    });
    let (signed, unsigned) = MEMOS.with(|m| m.borrow_mut().remove(&key)).unwrap_or_default();
    let mut costing = Costing { cheap, signed, unsigned };
    let out = work(&mut costing);
    MEMOS.with(|m| {
        let mut m = m.borrow_mut();
        let kept: usize = m.values().map(|(s, u)| s.len() + u.len()).sum();
        if kept + costing.signed.len() + costing.unsigned.len() > MAX_REMEMBERED {
            m.clear();
        }
        m.insert(key, (costing.signed, costing.unsigned));
    });
    out
}

impl Costing<'_> {
    /// The cost of a whole form (see [`cost`]).
    fn top(&mut self, e: &Expr) -> u32 {
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
                    times + bar + u32::from(c.is_negative()) + self.cost(&rest)
                }
                None => self.cost(e),
            },
            // Some terms over a shared fraction (`(1 + erf(u))/2 + v`): its `*` and bar once
            // rather than on each of them, and whole numbers inside.
            Some(s) => {
                let per = u32::from(!s.unit.numer().is_one()) + 2;
                let saved = (s.over as u32 * per + s.numbers as u32).saturating_sub(per);
                self.cost(e).saturating_sub(saved)
            }
            None => self.cost(e),
        }
    }
}

/// What a built-in call costs beyond its argument: the name and the parentheses.
const BUILTIN_OWN: u32 = 2;

/// The cost of `e` as a function's argument (no content taken out: `f(3 - 3*y)`).
pub fn argument_cost(e: &Expr, cheap: &HashSet<Expr>) -> u32 {
    with_costing(cheap, |costing| costing.cost(e))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Costs remembered across calls are the costs worked out afresh, whatever was costed
    /// before and with whichever cheap calls.
    #[test]
    fn remembered_costs_are_the_costs() {
        let parse = |s: &str| crate::parse::parse_expr(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let forms: Vec<Expr> = [
            "sigmoid(x)*(1 - sigmoid(x))",
            "x*sigmoid(x)*(1 - sigmoid(x)) + sigmoid(x)",
            "(1 + tanh(x/2))/2 + x*(1/2 - tanh(x/2)/2)*(1/2 + tanh(x/2)/2)",
            "-3*(1 - tanh(x/2)^2)/(2*x)",
            "sigmoid(x)",
        ]
        .iter()
        .map(|s| parse(s))
        .collect();
        let sets: Vec<HashSet<Expr>> = vec![
            HashSet::default(),
            [parse("sigmoid(x)")].into_iter().collect(),
            [parse("sigmoid(x)"), parse("tanh(x/2)")].into_iter().collect(),
        ];
        let fresh: Vec<Vec<u32>> = sets
            .iter()
            .map(|s| {
                forms
                    .iter()
                    .map(|f| {
                        forget_memos();
                        cost(f, s)
                    })
                    .collect()
            })
            .collect();
        forget_memos();
        for round in 0..2 {
            for (i, s) in sets.iter().enumerate().rev() {
                for (j, f) in forms.iter().enumerate().rev() {
                    assert_eq!(cost(f, s), fresh[i][j], "round {round}: {f} with cheap set {i}");
                }
            }
        }
        // The cheap calls change the costs, so the sets are remembered apart.
        assert_ne!(fresh[0][0], fresh[1][0]);
    }
}
