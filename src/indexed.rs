//! Derivatives by elements of indexed variables (`z[j]`), in index notation, and their
//! check.
//!
//! The first derivative is taken of the target written in the inputs: `x[i]`
//! differentiates to `delta(i, j)`, sums over deltas resolve, and the simplifier writes
//! the result in terms of the one-index definitions computed at the free indices
//! (`p[i]`, `p[j]`), each standing under its text as a name while it works. Every later
//! order differentiates the order before *as shown* (as `simplify::derivatives` does
//! for a variable): the derivative of each name `p[i]` by the next element is itself
//! simplified in the names, so the softmax's second derivative is a polynomial in `p`,
//! never a tower of quotients of `e^z`.
//!
//! The check ([`check()`]) is independent of all that: the sums are expanded at several
//! sizes, every free index takes every value, and each order is compared, element by
//! element, with forward-mode dual numbers of the order before (the first with the
//! expanded input), each `z[2]` a variable of its own.
//!
//! ```
//! use deriv::defs::Problem;
//! use deriv::diff::Wrt;
//! use deriv::matrix::Options;
//! use deriv::{indexed, Expr, Sym};
//! let p = Problem::load(&[], "p[i] = e^z[i]/sum(k, e^z[k])").unwrap();
//! let z = |j: &str| Wrt::Indexed(Sym::new("z"), vec![Expr::var(j)]);
//! let opts = Options::new(&p);
//! let d = indexed::derivatives(&p, &[z("j")], &Default::default(), &opts);
//! assert_eq!(d[0].shown.to_string(), "p[i]*(delta(i, j) - p[j])");
//! let exact = [d[0].exact(&p)];
//! assert!(indexed::check(&p, &[z("j")], &Default::default(), &exact).unwrap().max_error < 1e-9);
//! // A claim wrong only where i = j fails.
//! let wrong = ["-p[i]*p[j]".parse::<Expr>().unwrap()];
//! assert!(indexed::check(&p, &[z("j")], &Default::default(), &wrong).unwrap().max_error > 0.1);
//! ```

use std::collections::{BTreeSet, HashMap};

use crate::check::{self, CheckReport};
use crate::defs::Problem;
use crate::diff::{self, Wrt};
use crate::error::{Error, ErrorKind, Result};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::matrix::{self, Entry, Options};
use crate::simplify::{self, Names};

/// The derivatives of `problem`'s target, its sums expanded to `sizes`, by the elements
/// (or variables) `wrt` in turn: entry `n` is the derivative by `wrt[0]`, then
/// `wrt[1]`, ..., then `wrt[n]`, simplified. `x[i]` differentiates to `delta(i, j)`,
/// sums over deltas resolve, and each one-index definition counts as computed at the
/// free indices (`p[i]`, `p[j]`) and, with sizes, at every concrete index up to 8. No
/// base of `wrt` may be a defined name.
pub fn derivatives(problem: &Problem, wrt: &[Wrt], sizes: &HashMap<Sym, i64>, opts: &Options) -> Vec<Entry> {
    let target = diff::expand_sums(&problem.inlined_target(), sizes);
    let free = free_indices(problem, &target, wrt);
    let (mut names, restore) = element_names(problem, &free, None, sizes, opts);
    let mut out: Vec<Entry> = Vec::new();
    let mut last: Option<Expr> = None;
    for w in wrt {
        names.wrt = Some(wrt_name(w));
        let raw = match &last {
            None => diff::diff_wrt(&target, w),
            // The order before as shown: each name in it differentiates to its own
            // derivative by `w`, in the names.
            Some(prev) => {
                let known: HashMap<Sym, Expr> = names
                    .defs
                    .iter()
                    .filter(|(n, _)| prev.contains(n))
                    .map(|(n, body)| (n.clone(), simplify::simplify(&diff::diff_wrt(body, w), &names, opts.form)))
                    .collect();
                diff::diff_known_wrt(prev, w, &known)
            }
        };
        let s = common_factors_out(&simplify::simplify(&raw, &names, opts.form));
        out.push(matrix::entry(&s, opts).restored(&restore));
        last = Some(s);
    }
    out
}

/// `e`, a sum whose terms share factors (`p[i]` of the product rule's
/// `p[i]*(delta(i, l) - p[l])*A - p[i]*p[j]*B`), with them taken out, within the sum
/// left too, where that costs less ([`simplify::cost`]); `e` otherwise. The product rule
/// writes such sums at every order past the first; the simplifier keeps the shape it is
/// given, or multiplies it out.
fn common_factors_out(e: &Expr) -> Expr {
    let taken = take_common_factors(e);
    let cost = |x: &Expr| simplify::cost::cost(x, &Default::default());
    if cost(&taken) < cost(e) {
        taken
    } else {
        e.clone()
    }
}

/// [`common_factors_out`] without the comparison.
fn take_common_factors(e: &Expr) -> Expr {
    let Node::Add(terms) = e.node() else { return e.clone() };
    // A factor as a base and a positive integer power; numbers stay in the terms.
    let factors = |t: &Expr| -> Vec<(Expr, i64)> {
        let fs = match t.node() {
            Node::Mul(fs) => fs.clone(),
            _ => vec![t.clone()],
        };
        fs.into_iter()
            .filter(|f| f.as_num().is_none())
            .map(|f| match f.node() {
                Node::Pow(b, x) => match x.as_num().filter(|n| n.is_integer() && num_traits::Signed::is_positive(*n)) {
                    Some(n) => (b.clone(), num_traits::ToPrimitive::to_i64(n.numer()).unwrap_or(1)),
                    None => (f.clone(), 1),
                },
                _ => (f.clone(), 1),
            })
            .collect()
    };
    let mut common = factors(&terms[0]);
    for t in &terms[1..] {
        let theirs = factors(t);
        common = common
            .into_iter()
            .filter_map(|(b, n)| theirs.iter().find(|(c, _)| *c == b).map(|(_, m)| (b, n.min(*m))))
            .collect();
    }
    if common.is_empty() {
        return e.clone();
    }
    let factor = Expr::mul(common.into_iter().map(|(b, n)| Expr::pow(b, Expr::int(n))).collect::<Vec<_>>());
    let rest = Expr::add(terms.iter().map(|t| Expr::quotient(t.clone(), factor.clone())).collect::<Vec<_>>());
    Expr::mul([factor, take_common_factors(&rest)])
}

/// The first derivative by the element `base[idx]`, as shown ([`derivatives`]).
pub fn diff_indexed(problem: &Problem, base: &Sym, idx: &[Expr], sizes: &HashMap<Sym, i64>, opts: &Options) -> Expr {
    let wrt = [Wrt::Indexed(base.clone(), idx.to_vec())];
    derivatives(problem, &wrt, sizes, opts).pop().map_or_else(Expr::zero, |e| e.shown)
}

/// The name the simplifier knows a variable of differentiation by: an element's text.
fn wrt_name(w: &Wrt) -> Sym {
    match w {
        Wrt::Var(x) => x.clone(),
        Wrt::Indexed(b, idx) => Sym::new(&Expr::call(Func::Indexed(b.clone()), idx.clone()).to_string()),
    }
}

/// The free indices of a derivative of `target` (the target's own, inlined) by `wrt`.
fn free_indices(problem: &Problem, target: &Expr, wrt: &[Wrt]) -> Vec<Sym> {
    let mut free: Vec<Sym> = wrt_indices(wrt);
    free.extend(expr::index_vars(target).into_iter().filter(|i| target.contains(i)));
    target_indices(problem, free)
}

/// `free` with the indices of `problem`'s target (`p[i]`, or the parameters of the
/// definition it names) added, sorted, each once.
pub(crate) fn target_indices(problem: &Problem, mut free: Vec<Sym>) -> Vec<Sym> {
    if let Node::Call(Func::Indexed(_), ti) = problem.target.node() {
        free.extend(ti.iter().flat_map(Expr::free_vars));
    }
    if let Some(def) = problem.target_name.as_ref().and_then(|n| problem.get(n)) {
        free.extend(def.params.iter().cloned());
    }
    free.sort();
    free.dedup();
    free
}

/// The index names the elements of `wrt` use.
fn wrt_indices(wrt: &[Wrt]) -> Vec<Sym> {
    wrt.iter()
        .flat_map(|w| match w {
            Wrt::Var(_) => Vec::new(),
            Wrt::Indexed(_, idx) => idx.iter().flat_map(Expr::free_vars).collect(),
        })
        .collect()
}

/// The names the simplifier may use: `problem`'s plain definitions, each one-index
/// definition at each of `free` (and, with sizes, at every concrete index up to 8) under
/// its element's text (`p[j]`, which no input can spell as one name), then the facts;
/// `wrt` is the variable it should prefer to eliminate. With the map that puts the
/// elements back (not the facts: [`Entry`] does that).
pub(crate) fn element_names(
    problem: &Problem,
    free: &[Sym],
    wrt: Option<&Sym>,
    sizes: &HashMap<Sym, i64>,
    opts: &Options,
) -> (Names, HashMap<Sym, Expr>) {
    let mut names = problem.names(wrt);
    let mut restore = HashMap::new();
    let mut at: Vec<Expr> = free.iter().map(|i| Expr::sym(i.clone())).collect();
    at.extend((1..=sizes.values().copied().max().unwrap_or(0).min(8)).map(Expr::int));
    for def in problem.defs.iter().filter(|d| d.params.len() == 1) {
        for i in &at {
            let call = Expr::call(Func::Indexed(def.name.clone()), vec![i.clone()]);
            let name = Sym::new(&call.to_string());
            names.defs.push((name.clone(), diff::expand_sums(&problem.inline(&call), sizes)));
            restore.insert(name, call);
        }
    }
    names.defs.retain(|(n, _)| problem.get(n).is_none_or(|d| d.params.is_empty()) || restore.contains_key(n));
    // The assumed side is a name too; `Entry` puts back its RHS to show, its LHS to check.
    opts.assume.extend_names(problem, &mut names);
    (names, restore)
}

/// How many random points each element is checked at, per size.
const POINTS: usize = 3;
const SEED: u64 = 0x5EED;
/// The sizes every sum is expanded to in turn, when none are given.
const SIZES: std::ops::RangeInclusive<i64> = 2..=5;

/// Checks that `claimed[n]` is the derivative of `problem`'s target by `wrt[0]`, ...,
/// `wrt[n]` in turn, against dual numbers: for each size `K` in 2..=5 (every index and
/// every size symbol, the capitalised index names and the bounds of sums, set to `K`;
/// or once at `sizes` when given), for each value of each free index, `claimed[n]`
/// (which may use `problem`'s names) is compared with the derivative by the concrete
/// element of `claimed[n - 1]` (the first with the expanded input), by dual numbers at
/// random points where every element is a variable of its own. For [`derivatives`],
/// the claims are the entries' [`Entry::exact`] forms (each fact's side as itself, so
/// no point needs to satisfy the facts). The largest error of all.
pub fn check(problem: &Problem, wrt: &[Wrt], sizes: &HashMap<Sym, i64>, claimed: &[Expr]) -> Result<CheckReport> {
    let chain: Vec<Expr> =
        std::iter::once(problem.inlined_target()).chain(claimed.iter().map(|e| problem.inline(e))).collect();
    let mut free: Vec<Sym> = wrt_indices(wrt);
    for e in &chain {
        free.extend(expr::index_vars(e).into_iter().filter(|i| e.contains(i)));
    }
    free.sort();
    free.dedup();
    let mut reports = Vec::new();
    let mut seed = SEED;
    for round in rounds(&chain, &free, sizes) {
        // Expanded once per size, the free indices still symbols; a sum left (its range
        // depends on a free index) is expanded again once they have values.
        let sized: Vec<Expr> =
            chain.iter().map(|e| diff::expand_sums(&expr::substitute_all(e, &round.symbols), &round.sizes)).collect();
        let sums_left = has_sums(&sized);
        for values in assignments(&free, &round.sizes) {
            let at: HashMap<Sym, Expr> = free.iter().cloned().zip(values.into_iter().map(Expr::int)).collect();
            let concrete: Vec<Expr> = sized
                .iter()
                .map(|e| {
                    let e = expr::substitute_all(e, &at);
                    elements_as_names(&if sums_left { diff::expand_sums(&e, &round.sizes) } else { e })
                })
                .collect();
            for (n, w) in wrt.iter().enumerate().take(concrete.len() - 1) {
                seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                reports.push(check::check_chain(&concrete[n..n + 2], &element(w, &at)?, POINTS, seed)?);
            }
        }
    }
    Ok(matrix::combined(&reports))
}

/// One size for the check: every index's, and the values of the size symbols.
struct Round {
    sizes: HashMap<Sym, i64>,
    symbols: HashMap<Sym, Expr>,
}

/// The sizes the check runs at: `given`, or each of [`SIZES`] for every index of
/// `exprs` (bound or free) and every size symbol (a bound of a sum, or an index's name
/// capitalised) that is not a free index.
fn rounds(exprs: &[Expr], free: &[Sym], given: &HashMap<Sym, i64>) -> Vec<Round> {
    let mut indices: BTreeSet<Sym> = free.iter().cloned().collect();
    let mut symbols: BTreeSet<Sym> = BTreeSet::new();
    expr::walk(exprs, |x| {
        match x.node() {
            Node::Call(Func::Sum(k) | Func::Prod(k), args) => {
                indices.insert(k.clone());
                symbols.extend(args[1..].iter().flat_map(Expr::free_vars));
            }
            Node::Call(Func::Indexed(_) | Func::Delta, args) => indices.extend(args.iter().flat_map(Expr::free_vars)),
            _ => {}
        }
        Walk::Descend
    });
    symbols.extend(indices.iter().map(|i| Sym::new(&i.as_str().to_uppercase())));
    symbols.retain(|s| !free.contains(s) && exprs.iter().any(|e| e.contains(s)));
    let ks: Vec<i64> = match given.values().max() {
        Some(&k) => vec![k],
        None => SIZES.collect(),
    };
    ks.into_iter()
        .map(|k| {
            let mut sizes: HashMap<Sym, i64> = indices.iter().chain(&symbols).map(|s| (s.clone(), k)).collect();
            sizes.extend(given.iter().map(|(s, n)| (s.clone(), *n)));
            let symbols = symbols.iter().map(|s| (s.clone(), Expr::int(sizes[s]))).collect();
            Round { sizes, symbols }
        })
        .collect()
}

/// Every assignment of values `1..=size` to the indices `free`, in order.
fn assignments(free: &[Sym], sizes: &HashMap<Sym, i64>) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = vec![Vec::new()];
    for i in free {
        let n = sizes.get(i).copied().unwrap_or(1);
        out = out.into_iter().flat_map(|a| (1..=n).map(move |v| [a.clone(), vec![v]].concat())).collect();
    }
    out
}

/// The variable the element `w` is at the free indices' values `at`: `z[2]` as a name.
fn element(w: &Wrt, at: &HashMap<Sym, Expr>) -> Result<Sym> {
    match w {
        Wrt::Var(x) => Ok(x.clone()),
        Wrt::Indexed(b, idx) => {
            let idx: Vec<Expr> = idx.iter().map(|i| expr::substitute_all(i, at)).collect();
            if let Some(bad) = idx.iter().find(|i| i.as_num().is_none_or(|n| !n.is_integer())) {
                return Err(Error::new(ErrorKind::IndexNotInteger { index: bad.to_string() }));
            }
            Ok(expr::element_name(b, &idx))
        }
    }
}

/// Whether a sum or product is left in `exprs`.
fn has_sums(exprs: &[Expr]) -> bool {
    expr::walk(exprs, |x| match x.node() {
        Node::Call(Func::Sum(_) | Func::Prod(_), _) => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// `e` with each element at concrete indices (`z[2]`) a variable of its own, so that
/// the check draws a random value for each.
fn elements_as_names(e: &Expr) -> Expr {
    let enter = |x: &Expr| match x.node() {
        Node::Call(Func::Indexed(b), idx) if idx.iter().all(|i| i.as_num().is_some()) => {
            Some(Expr::sym(expr::element_name(b, idx)))
        }
        _ => None,
    };
    expr::fold(e, &mut IdMap::default(), enter, expr::rebuild)
}
