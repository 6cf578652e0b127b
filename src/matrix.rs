//! Gradients, Jacobians and Hessians of a [`Problem`], each entry simplified the way
//! `deriv diff` simplifies a derivative: in terms of the defined names (which count as
//! computed) per the [`Form`], using the facts given with `--assume`. Derivatives by
//! elements of indexed variables (`z[j]`) are in [`crate::indexed`].
//!
//! Every entry comes with an exact twin ([`Entry::exact`]) that the checks here compare
//! against dual numbers of the input.
//!
//! ```
//! use deriv::defs::Problem;
//! use deriv::matrix::{hessian, Options};
//! let lets = ["p1 = e^z1/(e^z1 + e^z2)".to_owned(), "p2 = e^z2/(e^z1 + e^z2)".to_owned()];
//! let p = Problem::load(&lets, "L = -(t1*ln(p1) + t2*ln(p2))").unwrap();
//! let vars = [deriv::Sym::new("z1"), deriv::Sym::new("z2")];
//! let opts = Options::new(&p).assuming(&["t1 + t2 = 1".to_owned()]).unwrap();
//! let h = hessian(&p, &p.target, &vars, &opts);
//! assert_eq!(h[0][1].shown.to_string(), "-p1*p2");
//! ```

use std::collections::HashMap;

use crate::assume::Assumptions;
use crate::check::{self, CheckReport};
use crate::defs::Problem;
use crate::diff;
use crate::error::Result;
use crate::expr::{Expr, Sym};
use crate::simplify::{self, Form, Names};

/// How results are simplified: which forms to choose from, and the facts that may be
/// used.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which forms the simplifier chooses from.
    pub form: Form,
    /// Side relations the simplifier may use (`--assume`).
    pub assume: Assumptions,
    /// The calls of defined functions (`σ(2*x)`) with their inlined bodies: outputs a
    /// result may be written in ([`Problem::instances`]).
    pub calls: Vec<(Expr, Expr)>,
}

impl Options {
    /// What `deriv diff` does by default: in terms of the names when `problem` defines
    /// any, the cheapest form otherwise; no facts.
    pub fn new(problem: &Problem) -> Options {
        let calls = problem.instances();
        let form = if problem.defs.is_empty() && calls.is_empty() { Form::Auto } else { Form::Output };
        Options { form, assume: Assumptions::none(), calls }
    }

    /// With `form` instead.
    pub fn with_form(mut self, form: Form) -> Options {
        self.form = form;
        self
    }

    /// With the facts `facts` (each `LHS = RHS`) added.
    pub fn assuming(mut self, facts: &[String]) -> Result<Options> {
        self.assume.0.extend(Assumptions::parse(facts)?.0);
        Ok(self)
    }
}

/// One derivative, simplified.
#[derive(Clone, Debug)]
pub struct Entry {
    /// As shown: in terms of the names, the facts applied.
    pub shown: Expr,
    /// In terms of the names, each fact's placeholder read as its LHS.
    assumed: Expr,
}

impl Entry {
    /// Equal to the derivative for all values (names inlined, each fact's placeholder
    /// read as its LHS): what a check compares. Worked out only when asked for.
    pub fn exact(&self, problem: &Problem) -> Expr {
        problem.inline(&self.assumed)
    }

    /// The entry with the names in `restore` (placeholders of the simplifier's) put back
    /// in both forms.
    pub(crate) fn restored(self, restore: &HashMap<Sym, Expr>) -> Entry {
        if restore.is_empty() {
            return self;
        }
        let put_back = |e: &Expr| crate::expr::substitute_all(e, restore);
        Entry { shown: put_back(&self.shown), assumed: put_back(&self.assumed) }
    }
}

/// The names the simplifier may use for a derivative by `wrt`: `problem`'s definitions,
/// then one per fact.
pub fn names(problem: &Problem, wrt: Option<&Sym>, opts: &Options) -> Names {
    let mut names = problem.names(wrt);
    opts.assume.extend_names(problem, &mut names);
    for (i, (_, body)) in opts.calls.iter().enumerate() {
        names.defs.push((call_placeholder(i), body.clone()));
    }
    names
}

/// The name the simplifier knows call `i` of [`Options::calls`] by.
fn call_placeholder(i: usize) -> Sym {
    crate::expr::hidden_name("call", i)
}

/// `simplified` (the simplifier's output with [`names`]) as shown and as checked: each
/// call's placeholder is the call again in both (a check inlines it).
pub fn entry(simplified: &Expr, opts: &Options) -> Entry {
    let e = if opts.calls.is_empty() {
        simplified.clone()
    } else {
        let map = opts.calls.iter().enumerate().map(|(i, (c, _))| (call_placeholder(i), c.clone())).collect();
        crate::expr::substitute_all(simplified, &map)
    };
    Entry { shown: opts.assume.shown(&e), assumed: opts.assume.exact(&e) }
}

/// The derivatives of `target` (the problem's target, inlined) by `x`, orders 1 to
/// `order`, as `deriv diff` shows them: simplified in the problem's names and defined
/// calls ([`names`]).
pub fn derivatives(problem: &Problem, target: &Expr, x: &Sym, order: u64, opts: &Options) -> Vec<Entry> {
    let names = names(problem, Some(x), opts);
    simplify::derivatives(target, x, order, &names, opts.form).iter().map(|d| entry(d, opts)).collect()
}

/// `d`, a derivative by `wrt` written in the inputs, simplified.
pub fn simplified(problem: &Problem, d: &Expr, wrt: &Sym, opts: &Options) -> Entry {
    let names = Names { wrt: Some(wrt.clone()), ..names(problem, None, opts) };
    entry(&simplify::simplify(d, &names, opts.form), opts)
}

/// The gradient of `f` (which may use `problem`'s names) by `vars`, one entry per variable.
pub fn gradient(problem: &Problem, f: &Expr, vars: &[Sym], opts: &Options) -> Vec<Entry> {
    gradient_with(problem, &names(problem, None, opts), f, vars, opts)
}

fn gradient_with(problem: &Problem, all: &Names, f: &Expr, vars: &[Sym], opts: &Options) -> Vec<Entry> {
    let f = problem.inline(f);
    simplify::gradient(&f, vars, all, opts.form).iter().map(|d| entry(d, opts)).collect()
}

/// The Jacobian of `rows` (expressions or defined names) by `vars`: one row per
/// function, one column per variable.
pub fn jacobian(problem: &Problem, rows: &[Expr], vars: &[Sym], opts: &Options) -> Vec<Vec<Entry>> {
    let all = names(problem, None, opts);
    rows.iter().map(|r| gradient_with(problem, &all, r, vars, opts)).collect()
}

/// The Hessian of `f` by `vars`: entry `[i][j]` is the derivative by `vars[i]`, then by
/// `vars[j]`; symmetric, each pair of mirrored entries worked out once
/// ([`simplify::hessian`]).
pub fn hessian(problem: &Problem, f: &Expr, vars: &[Sym], opts: &Options) -> Vec<Vec<Entry>> {
    let f = problem.inline(f);
    let all = names(problem, None, opts);
    simplify::hessian(&f, vars, &all, opts.form)
        .iter()
        .map(|row| row.iter().map(|d| entry(d, opts)).collect())
        .collect()
}

/// How many random points each entry is checked at, and the generator's seed: those
/// of `deriv diff --check`.
const POINTS: usize = 12;
const SEED: u64 = 0x5EED;

/// Checks each entry of a gradient of `f` against dual numbers; one report per entry.
pub fn check_gradient(problem: &Problem, f: &Expr, vars: &[Sym], entries: &[Entry]) -> Result<Vec<CheckReport>> {
    let f = problem.inline(f);
    vars.iter().zip(entries).map(|(x, e)| check::check_chain(&[f.clone(), e.exact(problem)], x, POINTS, SEED)).collect()
}

/// Checks a Jacobian (from [`jacobian`]) entry by entry: one report per entry.
pub fn check_jacobian(
    problem: &Problem,
    rows: &[Expr],
    vars: &[Sym],
    m: &[Vec<Entry>],
) -> Result<Vec<Vec<CheckReport>>> {
    rows.iter().zip(m).map(|(r, entries)| check_gradient(problem, r, vars, entries)).collect()
}

/// Checks a Hessian (from [`hessian`]) entry by entry, in two steps each: the first
/// derivative by `vars[i]` against dual numbers of `f`, and entry `[i][j]` against dual
/// numbers of that first derivative along `vars[j]`. One report per entry, of both steps.
pub fn check_hessian(problem: &Problem, f: &Expr, vars: &[Sym], m: &[Vec<Entry>]) -> Result<Vec<Vec<CheckReport>>> {
    let f = problem.inline(f);
    let mut out = Vec::new();
    for ((x, g), row) in vars.iter().zip(diff::gradient(&f, vars)).zip(m) {
        let first = check::check_chain(&[f.clone(), g.clone()], x, POINTS, SEED)?;
        let mut reports = Vec::new();
        for (y, e) in vars.iter().zip(row) {
            let second = check::check_chain(&[g.clone(), e.exact(problem)], y, POINTS, SEED)?;
            reports.push(combined(&[first.clone(), second]));
        }
        out.push(reports);
    }
    Ok(out)
}

/// One report for several: the largest error, and all the points.
pub fn combined(reports: &[CheckReport]) -> CheckReport {
    CheckReport {
        max_error: reports.iter().map(|r| r.max_error).fold(0.0, f64::max),
        points: reports.iter().map(|r| r.points).sum(),
    }
}
