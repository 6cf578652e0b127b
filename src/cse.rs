//! Common-subexpression output: results written as named intermediates.
//!
//! A subexpression that occurs more than once among the results (expressions are
//! hash-consed, so "occurs again" is "is the same node") and is more than a name or a
//! number becomes a definition `cseN = ...`, in the order the results need them. The
//! printed lines are a program deriv reads back: the definitions, then the results.

use std::collections::HashSet;

use crate::expr::IdMap;
use crate::expr::{self, Expr, Func, Node, Sym};

/// Intermediates and results: `defs` in dependency order, `results` using their names.
#[derive(Clone, Debug, PartialEq)]
pub struct Cse {
    /// `(name, definition)`, each using only earlier names.
    pub defs: Vec<(Sym, Expr)>,
    /// The results, in terms of the names.
    pub results: Vec<Expr>,
}

fn trivial(e: &Expr) -> bool {
    match e.node() {
        Node::Num(_) | Node::Var(_) | Node::Const(_) => true,
        // -x and 2*x are cheaper written out than named.
        Node::Mul(fs) => fs.len() == 2 && fs[0].as_num().is_some() && trivial(&fs[1]),
        _ => false,
    }
}

/// Shares the repeated subexpressions of `results`; names avoid every symbol in use.
pub fn cse(results: &[Expr]) -> Cse {
    let order = expr::post_order(results, |_| true);
    // How many parents (tree edges) each node has, counting a node's children once.
    let mut uses: IdMap<usize> = IdMap::default();
    for c in results.iter().chain(order.iter().flat_map(|e| e.children().iter())) {
        *uses.entry(c.id()).or_default() += 1;
    }
    let taken: HashSet<&Sym> = order
        .iter()
        .filter_map(|e| match e.node() {
            Node::Var(s) | Node::Call(Func::Indexed(s), _) => Some(s),
            _ => None,
        })
        .collect();
    let mut n = 0;
    let mut fresh = || loop {
        n += 1;
        let s = Sym::new(&format!("cse{n}"));
        if !taken.contains(&s) {
            return s;
        }
    };
    // Children come before parents in `order`, so definitions use only earlier names.
    let mut named: IdMap<Expr> = IdMap::default();
    let mut defs = Vec::new();
    let mut memo: IdMap<Expr> = IdMap::default();
    for e in &order {
        if uses.get(&e.id()).copied().unwrap_or(0) > 1 && !trivial(e) {
            let body = written(e, &named, &mut memo);
            let name = fresh();
            named.insert(e.id(), Expr::sym(name.clone()));
            defs.push((name, body));
        }
    }
    let results = results.iter().map(|r| written(r, &named, &mut memo)).collect();
    Cse { defs, results }
}

/// `e` written out with the named subexpressions below it as their names (`e` itself is
/// written out, named or not). `memo` holds what is written for each node below, which
/// stays valid as names are added: a node is named before any node above it is written.
fn written(e: &Expr, named: &IdMap<Expr>, memo: &mut IdMap<Expr>) -> Expr {
    let below: Vec<Expr> =
        e.children().iter().map(|c| expr::fold(c, memo, |x| named.get(&x.id()).cloned(), expr::rebuild)).collect();
    expr::rebuild(e, &below)
}

impl Cse {
    /// The program: `name = definition` lines, then one line per result.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (n, d) in &self.defs {
            out.push_str(&format!("{n} = {d}\n"));
        }
        for r in &self.results {
            out.push_str(&format!("{r}\n"));
        }
        out
    }
}
