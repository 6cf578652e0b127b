//! The differentiator: forward mode over canonical expressions, by a variable or an
//! element `x[j]`.
//!
//! At a sum, product, power or call the derivative is `∂node/∂child * d(child)` summed
//! over the children, the partials taken from the table in `crate::rules` (a built-in's
//! from the `derivative` column of its row, an abstract function's as `g'(z)` or
//! `f'[1](x, y)`); a power whose base and exponent both vary is written by logarithmic
//! differentiation. This module adds what depends on the target: variables, names whose
//! derivatives are given, index notation (`x[i]` gives `delta(i, j)`, sums and products
//! over an index, deltas resolved), and the concrete expansion of sums. Work is memoized
//! per shared node, so the cost is linear in the size of the expression DAG.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::expr::IdMap;
use crate::expr::{self, Cmp, Expr, Func, Node, Sym};
use crate::limits;
use crate::reverse;
use crate::rules::Local;

/// What a derivative is taken with respect to: a variable, or an element `x[j]` of an
/// indexed variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Wrt {
    /// A plain variable.
    Var(Sym),
    /// An indexed variable and its (symbolic) indices.
    Indexed(Sym, Vec<Expr>),
}

impl Wrt {
    /// The variable, or the element, as an expression (`z`, `z[j]`).
    pub fn element(&self) -> Expr {
        match self {
            Wrt::Var(s) => Expr::sym(s.clone()),
            Wrt::Indexed(s, is) => Expr::call(Func::Indexed(s.clone()), is.clone()),
        }
    }

    /// The indexed variable's name, or the variable.
    pub fn base(&self) -> &Sym {
        match self {
            Wrt::Var(s) | Wrt::Indexed(s, _) => s,
        }
    }

    /// The index names this target uses (`j`, `k` of `w[j,k]`).
    pub fn indices(&self) -> Vec<Sym> {
        match self {
            Wrt::Var(_) => Vec::new(),
            Wrt::Indexed(_, is) => is.iter().flat_map(Expr::free_vars).collect(),
        }
    }
}

/// The first derivative of `e` with respect to the variable `x`.
pub fn diff(e: &Expr, x: &Sym) -> Expr {
    diff_wrt(e, &Wrt::Var(x.clone()))
}

/// The first derivative of `e` by `x`, where each name in `known` stands for a function
/// of `x` whose derivative is given: `p` with `p*(1 - p)` differentiates
/// `p*(1 - p)` to `p*(1 - p)*(1 - 2*p)` without going back to `e^z`.
pub fn diff_known(e: &Expr, x: &Sym, known: &HashMap<Sym, Expr>) -> Expr {
    diff_rec(e, &Wrt::Var(x.clone()), &mut Cx::new(e, known))
}

/// The first derivative of `e` with respect to `w`; with an indexed target, `x[i]`
/// differentiates to `delta(i, j)` and sums over deltas are resolved.
pub fn diff_wrt(e: &Expr, w: &Wrt) -> Expr {
    diff_known_wrt(e, w, &HashMap::new())
}

/// [`diff_known`] by any [`Wrt`]: with an element `z[l]`, a name `p[i]` in `known`
/// (an element's text, as the simplifier holds it) differentiates to its given
/// derivative, and sums over deltas are resolved.
pub fn diff_known_wrt(e: &Expr, w: &Wrt, known: &HashMap<Sym, Expr>) -> Expr {
    let d = diff_rec(e, w, &mut Cx::new(e, known));
    match w {
        Wrt::Var(_) => d,
        Wrt::Indexed(..) => resolve_deltas(&d),
    }
}

/// [`diff_wrt`] with the deltas left as they come (`sum(k, delta(k, j)*e^z[k])`), as
/// the steps of `--steps` show them before collapsing them.
pub fn diff_unresolved(e: &Expr, w: &Wrt) -> Expr {
    let none = HashMap::new();
    diff_rec(e, w, &mut Cx::new(e, &none))
}

/// `sum(k, delta(k, j)*f(k))` is `f(j)`; sums distribute over their terms first.
pub fn resolve_deltas(e: &Expr) -> Expr {
    Deltas::default().resolve(e)
}

/// What resolving deltas remembers, by node id, so that each distinct node is resolved
/// once (and searched for a delta once), however often a DAG shares it: the resolved
/// form of a node, and whether a delta occurs in it.
#[derive(Default)]
struct Deltas {
    resolved: IdMap<Expr>,
    has_delta: IdMap<bool>,
}

impl Deltas {
    /// [`resolve_deltas`], remembered per node (it is a function of the node alone). The
    /// sums built here (a sum of each term, of each term of a factor multiplied out) are
    /// resolved with the same memo.
    fn resolve(&mut self, e: &Expr) -> Expr {
        if let Some(r) = self.resolved.get(&e.id()) {
            return r.clone();
        }
        limits::tick();
        let r = match e.node() {
            Node::Add(ts) => Expr::add(ts.iter().map(|t| self.resolve(t)).collect::<Vec<_>>()),
            Node::Mul(fs) => Expr::mul(fs.iter().map(|f| self.resolve(f)).collect::<Vec<_>>()),
            Node::Pow(b, x) => Expr::pow(self.resolve(b), x.clone()),
            Node::Call(Func::Sum(k), args) => self.resolve_sum(k, args),
            Node::Call(f, args) => Expr::call(f.clone(), args.iter().map(|a| self.resolve(a)).collect()),
            _ => e.clone(),
        };
        self.resolved.insert(e.id(), r.clone());
        r
    }

    /// `sum(k, args[0])` (bounds `args[1..]`) with its deltas resolved.
    fn resolve_sum(&mut self, k: &Sym, args: &[Expr]) -> Expr {
        let body = self.resolve(&args[0]);
        let sum_of = |b: Expr| {
            let mut a = args.to_vec();
            a[0] = b;
            Expr::call(Func::Sum(k.clone()), a)
        };
        if let Node::Add(ts) = body.node() {
            return Expr::add(ts.iter().map(|t| self.resolve(&sum_of(t.clone()))).collect::<Vec<_>>());
        }
        // t[k]*(delta(k, j) - p[j]): a factor that is a sum with a delta in it is
        // multiplied out, so that each delta meets the sum.
        if let Node::Mul(fs) = body.node() {
            let with_delta = fs.iter().enumerate().find_map(|(i, f)| match f.node() {
                Node::Add(ts) if ts.iter().any(|t| self.has_delta(t)) => Some((i, ts)),
                _ => None,
            });
            if let Some((i, ts)) = with_delta {
                let rest = expr::all_but(fs, i);
                let terms = ts.iter().map(|t| {
                    let mut f = rest.clone();
                    f.push(t.clone());
                    self.resolve(&sum_of(Expr::mul(f)))
                });
                return Expr::add(terms.collect::<Vec<_>>());
            }
        }
        let factors = match body.node() {
            Node::Mul(fs) => fs.clone(),
            _ => vec![body.clone()],
        };
        let kv = Expr::sym(k.clone());
        for (i, f) in factors.iter().enumerate() {
            if let Node::Call(Func::Delta, d) = f.node() {
                let other = if d[0] == kv {
                    Some(&d[1])
                } else if d[1] == kv {
                    Some(&d[0])
                } else {
                    None
                };
                if let Some(other) = other.filter(|o| !o.contains(k)) {
                    let rest = expr::all_but(&factors, i);
                    return self.resolve(&expr::substitute(&Expr::mul(rest), k, other));
                }
            }
        }
        sum_of(body)
    }

    /// Whether a delta occurs in `t`.
    fn has_delta(&mut self, t: &Expr) -> bool {
        let enter = |x: &Expr| matches!(x.node(), Node::Call(Func::Delta, _)).then_some(true);
        expr::fold(t, &mut self.has_delta, enter, |_, below| below.iter().any(|&d| d))
    }
}

/// The `order`-th derivative; stops early once a derivative is zero.
pub fn diff_n(e: &Expr, x: &Sym, order: u64) -> Expr {
    derivatives(e, x, order).pop().unwrap_or_else(|| e.clone())
}

/// The derivatives of `e` by `x` of orders 1 to `order`, ending early after a zero one.
/// One memo serves every order, so a part met again at a later order is differentiated
/// once: the sigmoid's n-th derivative is a sum of `c*e^(k*x)/(1 + e^x)^k`, and each
/// `e^(k*x)/(1 + e^x)^k` (the product without its coefficient) recurs at every order
/// after the one that brings it.
pub fn derivatives(e: &Expr, x: &Sym, order: u64) -> Vec<Expr> {
    let none = HashMap::new();
    let (w, mut cx) = (Wrt::Var(x.clone()), Cx::new(e, &none));
    let mut out: Vec<Expr> = Vec::new();
    for _ in 0..order {
        let last = out.last().unwrap_or(e);
        if !out.is_empty() && last.is_zero() {
            break;
        }
        let d = diff_rec(last, &w, &mut cx);
        out.push(d);
    }
    out
}

/// The gradient: one derivative per variable, in order. All of them come from one
/// reverse pass ([`crate::reverse`]) where the expression allows it.
pub fn gradient(e: &Expr, vars: &[Sym]) -> Vec<Expr> {
    if vars.len() > 1 {
        if let Some(g) = reverse::gradient(e, vars) {
            return g;
        }
    }
    vars.iter().map(|v| diff(e, v)).collect()
}

/// What one differentiation carries along: derivatives already found, per node, and
/// names whose derivatives are given.
struct Cx<'a> {
    /// Each node differentiated, with its derivative. The node is kept alive, so that
    /// when it is built again (a product without its coefficient is built for each
    /// lookup) it is the same node, under the same id, and found.
    memo: IdMap<(Expr, Expr)>,
    known: &'a HashMap<Sym, Expr>,
}

impl<'a> Cx<'a> {
    /// A memo with room for the nodes of `e`, up to a few hundred (a small expression's
    /// memo then never grows, which was a tenth of its derivative's cost).
    fn new(e: &Expr, known: &'a HashMap<Sym, Expr>) -> Cx<'a> {
        let room = e.tree_size().min(256) as usize;
        Cx { memo: IdMap::with_capacity_and_hasher(room, Default::default()), known }
    }
}

fn diff_rec(e: &Expr, x: &Wrt, cx: &mut Cx) -> Expr {
    if let Some((_, d)) = cx.memo.get(&e.id()) {
        return d.clone();
    }
    crate::limits::deep(|| diff_new(e, x, cx))
}

/// [`diff_rec`] of a node not yet differentiated.
fn diff_new(e: &Expr, x: &Wrt, cx: &mut Cx) -> Expr {
    // The variable summary rules most subtrees out at once; where it only says
    // "perhaps", the derivatives of the children decide.
    let d = if !e.may_contain(x.base()) && !cx.known.keys().any(|k| e.may_contain(k)) {
        Expr::zero()
    } else {
        match e.node() {
            Node::Num(_) | Node::Const(_) => Expr::zero(),
            Node::Var(s) if cx.known.contains_key(s) => cx.known[s].clone(),
            Node::Var(s) => {
                if *x == Wrt::Var(s.clone()) {
                    Expr::one()
                } else {
                    Expr::zero()
                }
            }
            Node::Call(Func::Indexed(b), is) => match x {
                Wrt::Indexed(t, js) if t == b && js.len() == is.len() => Expr::mul(
                    is.iter()
                        .zip(js)
                        .map(|(i, j)| Expr::call(Func::Delta, vec![i.clone(), j.clone()]))
                        .collect::<Vec<_>>(),
                ),
                _ => Expr::zero(),
            },
            Node::Call(Func::Delta | Func::Cmp(_), _) => Expr::zero(),
            // Branch by branch; the conditions are constant wherever they are defined.
            Node::Call(Func::If, args) => {
                let last = args.len() - 1;
                let branches =
                    args.iter()
                        .enumerate()
                        .map(|(i, a)| if i % 2 == 0 && i < last { a.clone() } else { diff_rec(a, x, cx) });
                Expr::piecewise(branches.collect())
            }
            // The derivative of the extreme argument: of `a0` where the rest do not beat
            // it (at a tie the first argument's, as evaluation takes it; `max(0, x)` by x
            // is `heaviside(x)`, 0 at 0, PyTorch's ReLU convention).
            Node::Call(f @ (Func::Max | Func::Min), args) => {
                let rest = Expr::call(f.clone(), args[1..].to_vec());
                let beats = match f {
                    Func::Max => Expr::compare(Cmp::Gt, rest.clone(), args[0].clone()),
                    _ => Expr::compare(Cmp::Gt, args[0].clone(), rest.clone()),
                };
                let (dr, d0) = (diff_rec(&rest, x, cx), diff_rec(&args[0], x, cx));
                Expr::piecewise(vec![beats, dr, d0])
            }
            // d prod(k, f) = prod(k, f)*sum(k, f'/f), where no factor is zero.
            Node::Call(Func::Prod(_) | Func::Sum(_), _)
                if !e.contains(x.base()) && !cx.known.keys().any(|k| e.contains(k)) =>
            {
                Expr::zero()
            }
            Node::Call(Func::Prod(k), args) => {
                let (k, args) = unclash(k, args, e, x);
                let e = &Expr::call(Func::Prod(k.clone()), args.clone());
                let mut sum_args = args.clone();
                let log_diff = Expr::quotient(diff_rec(&args[0], x, cx), args[0].clone());
                sum_args[0] = log_diff;
                Expr::mul([e.clone(), Expr::call(Func::Sum(k.clone()), sum_args)])
            }
            Node::Call(Func::Sum(k), args) => {
                let (k, args) = unclash(k, args, e, x);
                let mut a = args.clone();
                a[0] = diff_rec(&args[0], x, cx);
                Expr::call(Func::Sum(k), a)
            }
            // A number times a product: the number times the product's derivative (the
            // product without it is a node of its own, met again with other numbers).
            Node::Mul(fs) if fs[0].as_num().is_some() => {
                let rest = Expr::product_of_sorted(fs[1..].to_vec());
                Expr::mul([fs[0].clone(), diff_rec(&rest, x, cx)])
            }
            // Sums, products, powers and calls: the table's row.
            _ => match Local::of(e) {
                Some(local) => forward(&local, x, cx),
                None => Expr::zero(),
            },
        }
    };
    cx.memo.insert(e.id(), (e.clone(), d.clone()));
    d
}

/// Forward mode at a node of the table: `∂node/∂child * d(child)` summed over the
/// children that vary. A power whose base and exponent both vary is written by
/// logarithmic differentiation, `b^p*(dp*ln(b) + p*db/b)`, from its `∂ln(node)/∂child`.
fn forward(local: &Local, x: &Wrt, cx: &mut Cx) -> Expr {
    let mut varying: Vec<(usize, Expr)> = Vec::new();
    for i in 0..local.len() {
        let d = diff_rec(local.child(i), x, cx);
        if !d.is_zero() {
            varying.push((i, d));
        }
    }
    if varying.len() > 1 {
        let log: Option<Vec<Expr>> =
            varying.iter().map(|(i, d)| Some(local.log_partial(*i)?.times(d.clone()))).collect();
        if let Some(terms) = log {
            return Expr::mul([local.node().clone(), Expr::add(terms)]);
        }
    }
    Expr::add(varying.into_iter().map(|(i, d)| local.partial(i).times(d)).collect::<Vec<_>>())
}

/// A summed (or multiplied) index that the target also uses, renamed in its body.
fn unclash(k: &Sym, args: &[Expr], e: &Expr, x: &Wrt) -> (Sym, Vec<Expr>) {
    if !x.indices().contains(k) {
        return (k.clone(), args.to_vec());
    }
    let fresh = fresh_index(k, e, &x.indices());
    let mut a = args.to_vec();
    a[0] = expr::substitute(&args[0], k, &Expr::sym(fresh.clone()));
    (fresh, a)
}

/// An index name not used in `e` or by `taken`: `k` becomes `k1`, `k2`, ...
fn fresh_index(k: &Sym, e: &Expr, taken: &[Sym]) -> Sym {
    let used = e.free_vars();
    (1..)
        .map(|n| Sym::new(&format!("{k}{n}")))
        .find(|c| !used.contains(c) && !taken.contains(c) && !e.contains(c))
        .expect("finitely many names are taken")
}

/// Sums expanded into their terms: an index `k` runs over `1..=n` where `sizes` gives `n`
/// for `k` (or for the bound written in the sum, `sum(k=1..K, ...)` with `K`). Sums whose
/// range is not known stay. Limited to 10,000 terms a sum.
pub fn expand_sums(e: &Expr, sizes: &HashMap<Sym, i64>) -> Expr {
    let bounds: HashMap<Sym, Expr> = sizes.iter().map(|(k, n)| (k.clone(), Expr::int(*n))).collect();
    Expansion { sizes, bounds, expanded: IdMap::default(), deltas: Deltas::default() }.expand(e)
}

/// What one [`expand_sums`] carries along: the sizes (as numbers to put in for bounds),
/// and what it has done, by node id, so that each distinct node is expanded once (and
/// each term's deltas resolved once) however often a DAG shares it.
struct Expansion<'a> {
    sizes: &'a HashMap<Sym, i64>,
    bounds: HashMap<Sym, Expr>,
    expanded: IdMap<Expr>,
    deltas: Deltas,
}

impl Expansion<'_> {
    fn expand(&mut self, e: &Expr) -> Expr {
        if let Some(r) = self.expanded.get(&e.id()) {
            return r.clone();
        }
        limits::tick();
        let r = match e.node() {
            Node::Call(f @ (Func::Sum(k) | Func::Prod(k)), args) => self.expand_sum(f, k, args),
            Node::Add(ts) => Expr::add(ts.iter().map(|t| self.expand(t)).collect::<Vec<_>>()),
            Node::Mul(fs) => Expr::mul(fs.iter().map(|f| self.expand(f)).collect::<Vec<_>>()),
            Node::Pow(b, x) => Expr::pow(self.expand(b), self.expand(x)),
            Node::Call(f, args) => Expr::call(f.clone(), args.iter().map(|a| self.expand(a)).collect()),
            _ => e.clone(),
        };
        self.expanded.insert(e.id(), r.clone());
        r
    }

    /// The sum or product `f` over `k` of `args[0]` (bounds `args[1..]`), expanded.
    fn expand_sum(&mut self, f: &Func, k: &Sym, args: &[Expr]) -> Expr {
        let body = self.expand(&args[0]);
        let range = match args.get(1..3) {
            Some([lo, hi]) => {
                let lo = expr::substitute_all(lo, &self.bounds);
                let hi = expr::substitute_all(hi, &self.bounds);
                lo.as_num().zip(hi.as_num()).and_then(|(a, b)| {
                    Some((
                        num_traits::ToPrimitive::to_i64(&a.to_integer())?,
                        num_traits::ToPrimitive::to_i64(&b.to_integer())?,
                    ))
                })
            }
            _ => self.sizes.get(k).map(|&n| (1, n)),
        };
        match range.filter(|(lo, hi)| hi.checked_sub(*lo).is_some_and(|n| n < 10_000)) {
            Some((lo, hi)) => {
                let terms = (lo..=hi).map(|v| self.deltas.resolve(&expr::substitute(&body, k, &Expr::int(v))));
                match f {
                    Func::Prod(_) => Expr::mul(terms.collect::<Vec<_>>()),
                    _ => Expr::add(terms.collect::<Vec<_>>()),
                }
            }
            None => {
                let mut a = args.to_vec();
                a[0] = body;
                Expr::call(f.clone(), a)
            }
        }
    }
}

/// Parses `K=3,M=2` (or `k=3`) into index sizes: `K` names the index `k`.
pub fn parse_sizes(text: &str) -> Result<HashMap<Sym, i64>> {
    let mut out = HashMap::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let bad = || Error::new(ErrorKind::BadSizes { found: part.to_owned() });
        let (name, n) = part.split_once('=').ok_or_else(bad)?;
        let n: i64 = n.trim().parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(bad)?;
        let name = name.trim();
        out.insert(Sym::new(name), n);
        out.insert(Sym::new(&name.to_lowercase()), n);
    }
    Ok(out)
}
