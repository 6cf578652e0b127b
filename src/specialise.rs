//! Specialisation: a problem in index notation at concrete sizes and values, turned into
//! an ordinary problem in plain variables.
//!
//! `p[i] = e^z[i]/sum(k, e^z[k])` at `K = 2` with `z[1] = 0` is the sigmoid:
//! `p[2] = e^z[2]/(1 + e^z[2])`. The sums are expanded at the sizes, the values put in,
//! and every element left (`z[2]`, `p[2]`) becomes a variable or a name of its own, so
//! the whole scalar machinery (the steps, the check, the names) works on the result,
//! and the answer reads `p[2]*(1 - p[2])`.
//!
//! The names the simplifier may use are the target itself, the plain definitions, and
//! the elements of one-index definitions at each concrete index up to the largest size,
//! except at the indices where an input was given a value: with `z[1] = 0` and `K = 2`,
//! `p[1]` is `1 - p[2]`, no output of its own, so `p[2]`'s derivative reads
//! `p[2]*(1 - p[2])` rather than `p[1]*p[2]`.
//! Nothing here is keyed on a particular function: any sizes and any values.

use std::collections::HashMap;

use crate::defs::Problem;
use crate::derivation::{Derivation, Step, Term};
use crate::diff::{expand_sums, Wrt};
use crate::error::{Error, ErrorKind, Result};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym};
use crate::print::text;

/// A problem specialised to concrete sizes and values ([`specialise`]).
#[derive(Clone, Debug)]
pub struct Specialised {
    /// The problem in plain variables: each element `x[2]` is the variable `x_2`.
    pub problem: Problem,
    /// The variable to differentiate by, in the same names.
    pub wrt: Sym,
    /// Each minted name and the element it stands for.
    restore: HashMap<Sym, Expr>,
}

/// `problem` with its sums expanded at `sizes` and `values` (`(z[1], 0)`, `(a, 2)`) put
/// in, as a problem in plain variables, to be differentiated by `wrt` (a variable or an
/// element with concrete indices, `z[2]`). Every element must then have concrete
/// indices; the target's sums are expanded, so sizes are needed for every sum in it.
pub fn specialise(
    problem: &Problem,
    wrt: &str,
    sizes: &HashMap<Sym, i64>,
    values: &[(Expr, Expr)],
) -> Result<Specialised> {
    let wrt = crate::parse::parse_expr(wrt)?;
    match wrt.node() {
        Node::Var(_) | Node::Call(Func::Indexed(_), _) => {}
        _ => return Err(Error::new(ErrorKind::Unspecialised { element: text::to_text(&wrt) })),
    }
    for (lhs, _) in values {
        if *lhs == wrt {
            return Err(Error::new(ErrorKind::Unspecialised { element: text::to_text(lhs) }));
        }
        if let Node::Var(v) | Node::Call(Func::Indexed(v), _) = lhs.node() {
            problem.check_wrt(v)?;
        }
    }
    let mut restore = HashMap::new();
    let mut memo = IdMap::default();
    let mut special = |e: &Expr| -> Result<Expr> {
        let mut e = expand_sums(e, sizes);
        for (lhs, v) in values {
            e = expr::replace(&e, lhs, v);
        }
        let mut bad = None;
        let out = expr::fold(
            &e,
            &mut memo,
            |x| match x.node() {
                Node::Call(Func::Indexed(base), idx) => {
                    let concrete = idx.iter().all(|i| text::to_text(i).chars().all(|c| c.is_ascii_digit()));
                    if !concrete {
                        bad.get_or_insert_with(|| text::to_text(x));
                        return Some(x.clone());
                    }
                    let parts: Vec<String> = idx.iter().map(text::to_text).collect();
                    let name = Sym::new(&format!("{base}_{}", parts.join("_")));
                    restore.insert(name.clone(), x.clone());
                    Some(Expr::sym(name))
                }
                Node::Call(Func::Sum(_) | Func::Prod(_), _) => {
                    bad.get_or_insert_with(|| text::to_text(x));
                    Some(x.clone())
                }
                _ => None,
            },
            expr::rebuild,
        );
        match bad {
            Some(element) => Err(Error::new(ErrorKind::Unspecialised { element })),
            None => Ok(out),
        }
    };
    // The plain definitions, then the target, each with every name inlined.
    let mut program = Vec::new();
    for d in problem.defs.iter().filter(|d| d.params.is_empty() && Some(&d.name) != problem.target_name.as_ref()) {
        let body = special(&problem.inline(&Expr::sym(d.name.clone())))?;
        program.push(format!("{} = {}", d.name, text::to_text(&body)));
    }
    // Each element of a one-index definition at a concrete index (up to the largest
    // size), except where an input was given a value: with `z[1] = 0`, `p[1]` is no
    // longer an output of its own but what the others leave (`1 - p[2]`).
    let fixed: Vec<&[Expr]> = values
        .iter()
        .filter_map(|(lhs, _)| match lhs.node() {
            Node::Call(Func::Indexed(_), idx) => Some(&idx[..]),
            _ => None,
        })
        .collect();
    let top = sizes.values().copied().max().unwrap_or(0).min(8);
    let own = expand_sums(&problem.target, sizes);
    for d in problem.defs.iter().filter(|d| d.params.len() == 1) {
        for n in (1..=top).map(Expr::int) {
            let element = Expr::call(Func::Indexed(d.name.clone()), vec![n.clone()]);
            if element == own || fixed.iter().any(|idx| *idx == std::slice::from_ref(&n)) {
                continue;
            }
            let body = special(&problem.inline(&element))?;
            program.push(format!("{} = {}", text::to_text(&special(&element)?), text::to_text(&body)));
        }
    }
    let target = special(&problem.inlined_target())?;
    let name = match (problem.target.node(), &problem.target_name) {
        (_, Some(n)) => Some(Expr::sym(n.clone())),
        (Node::Call(Func::Indexed(b), _), None) if problem.get(b).is_some() => {
            Some(special(&expand_sums(&problem.target, sizes))?)
        }
        _ => None,
    };
    program.push(match name {
        Some(n) => format!("{} = {}", text::to_text(&n), text::to_text(&target)),
        None => text::to_text(&target),
    });
    let wrt = match special(&wrt)?.node() {
        Node::Var(x) => x.clone(),
        _ => return Err(Error::new(ErrorKind::Unspecialised { element: text::to_text(&wrt) })),
    };
    let taken = problem.inlined_target().free_vars();
    if let Some(clash) = restore.keys().find(|n| taken.contains(n)) {
        return Err(Error::new(ErrorKind::Unspecialised { element: clash.to_string() }));
    }
    let problem = Problem::load(&[], &program.join("\n"))?;
    Ok(Specialised { problem, wrt, restore })
}

impl Specialised {
    /// `e`, written in the minted names, back in the elements they stand for.
    pub fn restore(&self, e: &Expr) -> Expr {
        expr::substitute_all(e, &self.restore)
    }

    /// A derivation of the specialised problem, its steps written in the elements.
    pub fn restore_derivation(&self, mut d: Derivation) -> Derivation {
        if let Some(e) = self.restore.get(&Sym::new(&d.subject)) {
            d.subject = text::to_text(e);
        }
        d.var = self.restore_wrt(d.var);
        d.steps = d
            .steps
            .into_iter()
            .map(|s| Step { rule: self.restore_rule(s.rule), term: self.restore_term(s.term) })
            .collect();
        d
    }

    /// A minted variable as the element it stands for (`z_2` as `z[2]`).
    fn restore_wrt(&self, w: Wrt) -> Wrt {
        if let Wrt::Var(x) = &w {
            if let Some(Node::Call(Func::Indexed(base), idx)) = self.restore.get(x).map(Expr::node) {
                return Wrt::Indexed(base.clone(), idx.clone());
            }
        }
        w
    }

    /// A step's label: the equations of a substitution written in the elements.
    fn restore_rule(&self, rule: String) -> String {
        let Some(eqs) = rule.strip_prefix("substitute ") else { return rule };
        let eqs: Vec<String> = eqs
            .split(", ")
            .map(|eq| {
                let sides: Option<Vec<Expr>> =
                    eq.split(" = ").map(|s| crate::parse::parse_expr(s).ok().map(|e| self.restore(&e))).collect();
                match sides {
                    Some(sides) => sides.iter().map(text::to_text).collect::<Vec<_>>().join(" = "),
                    None => eq.to_owned(),
                }
            })
            .collect();
        format!("substitute {}", eqs.join(", "))
    }

    fn restore_term(&self, t: Term) -> Term {
        let r = |t: Box<Term>| Box::new(self.restore_term(*t));
        match t {
            Term::Expr(e) => Term::Expr(self.restore(&e)),
            Term::D(x, e) => Term::D(self.restore_wrt(x), self.restore(&e)),
            Term::Sum(ts) => Term::Sum(ts.into_iter().map(|t| self.restore_term(t)).collect()),
            Term::Neg(a) => Term::Neg(r(a)),
            Term::Prod(ts) => Term::Prod(ts.into_iter().map(|t| self.restore_term(t)).collect()),
            Term::Quot(a, b) => Term::Quot(r(a), r(b)),
            Term::Pow(a, n) => Term::Pow(r(a), n),
            Term::Over { index, bounds, body } => {
                Term::Over { index, bounds: bounds.iter().map(|b| self.restore(b)).collect(), body: r(body) }
            }
        }
    }
}

/// `--at` for a specialisation: `z[1]=0, a=2`, each an element or a variable and the
/// expression put in for it.
pub fn parse_values(at: &str) -> Result<Vec<(Expr, Expr)>> {
    let mut out = Vec::new();
    for part in at.split(',').filter(|p| !p.trim().is_empty()) {
        let (lhs, rhs) = part.split_once('=').ok_or_else(|| Error::new(ErrorKind::PointNotPair))?;
        let lhs = crate::parse::parse_expr(lhs.trim())?;
        if !matches!(lhs.node(), Node::Var(_) | Node::Call(Func::Indexed(_), _)) {
            return Err(Error::new(ErrorKind::Unspecialised { element: text::to_text(&lhs) }));
        }
        out.push((lhs, crate::parse::parse_expr(rhs.trim())?));
    }
    Ok(out)
}
