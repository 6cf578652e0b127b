//! The cost model: which of several equal expressions is shown.
//!
//! Cost counts the operations a reader sees in the printed form, weighted: `+ - * ^` and
//! a unary minus 1, a division 2, a transcendental call 2 plus its argument, an abstract
//! function 1. Names already computed (definitions, `--let`) are free, and so are the
//! calls in `cheap` — built-in outputs such as `tanh(x)` that the forward pass has —
//! which cost 1 plus their argument.

use std::collections::HashSet;

use crate::expr::{Expr, Func, Node};
use crate::print::{fraction, goes_below, ordered_terms};

/// The weighted operation count of `e`; `cheap` lists calls already computed.
pub fn cost(e: &Expr, cheap: &HashSet<Expr>) -> u32 {
    if cheap.contains(e) {
        return 1 + e.children().iter().map(|a| cost(a, cheap)).sum::<u32>();
    }
    match e.node() {
        Node::Num(r) => u32::from(num_traits::Signed::is_negative(r)) + u32::from(!r.is_integer()),
        Node::Const(_) | Node::Var(_) => 0,
        Node::Add(ts) => {
            let terms = ordered_terms(ts);
            let lead = u32::from(crate::print::is_negative(&terms[0]));
            lead + (terms.len() as u32 - 1) + terms.iter().map(|t| unsigned_cost(t, cheap)).sum::<u32>()
        }
        Node::Mul(_) => u32::from(crate::print::is_negative(e)) + unsigned_cost(e, cheap),
        Node::Pow(b, x) if goes_below(b, x) => unsigned_cost(e, cheap),
        Node::Pow(b, x) => 1 + cost(b, cheap) + cost(x, cheap),
        Node::Call(f, args) => {
            let own = match f {
                Func::Builtin(_) => 2,
                Func::Abstract(_) | Func::Sum(_) | Func::Prod(_) => 1,
                Func::Indexed(_) | Func::Delta => 0,
            };
            own + args.iter().map(|a| cost(a, cheap)).sum::<u32>()
        }
    }
}

/// The cost of `e` without its sign (a term after `-`, a product after its minus).
fn unsigned_cost(e: &Expr, cheap: &HashSet<Expr>) -> u32 {
    if cheap.contains(e) {
        return cost(e, cheap);
    }
    match e.node() {
        Node::Mul(_) | Node::Pow(..)
            if matches!(e.node(), Node::Mul(_)) || crate::print::is_negative(&e.children()[1]) =>
        {
            let fr = fraction(e);
            let coeff_items = u32::from(fr.coeff_numer().is_some());
            let den_coeff = u32::from(fr.coeff_denom().is_some());
            let top = fr.numer.len() as u32 + coeff_items;
            let bottom = fr.denom.len() as u32 + den_coeff;
            let mut c = top.saturating_sub(1) + fr.numer.iter().chain(&fr.denom).map(|f| cost(f, cheap)).sum::<u32>();
            if bottom > 0 {
                c += 2 + (bottom - 1);
            }
            c
        }
        Node::Num(r) => u32::from(!r.is_integer()),
        _ if crate::print::is_negative(e) => cost(&Expr::negate(e.clone()), cheap),
        _ => cost(e, cheap),
    }
}
