//! The kernel view: an expression as a rational function of atoms.
//!
//! Hyperbolic functions, the sigmoid and softplus are first rewritten into exponentials,
//! and `tan`, `sec`, `csc`, `cot` into sines and cosines: each built-in's row says how, in
//! its `expansion` column ([`Builtin::def`], deriv syntax over `u`). Then every
//! exponential `e^(c*t)` becomes a power of one kernel `K = e^(g*t)` per exponent term
//! `t`, `g` the gcd of the coefficients seen with `t`: `e^(2*x)` and `e^-x` are `K^2` and
//! `K^-1` of `K = e^x`, and `e^(-x^2/2)` is `K^-1` of `K = e^(x^2/2)`. Fractional powers
//! become powers of one root `b^(1/q)` per base, and every other call is an opaque atom.
//! What is left is polynomial arithmetic, done exactly by `crate::poly`.

use crate::expr::FastMap as HashMap;
use crate::expr::FastSet as HashSet;

use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::CFG;
use crate::expr::IdMap;
use crate::expr::{self, Expr, Func, Node, Sym, Walk};
use crate::func::Builtin;
use crate::number::Rational;
use crate::poly::{Monomial, Poly, Rat, Var};

/// What a polynomial variable stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Atom {
    /// A variable or a defined name.
    Sym(Sym),
    /// The kernel `e^t` for an exponent unit `t`.
    Exp(Expr),
    /// The root `b^(1/q)`.
    Root(Expr, u32),
    /// Anything else, kept whole.
    Opaque(Expr),
}

impl Atom {
    /// The atom as an expression.
    pub fn expr(&self) -> Expr {
        match self {
            Atom::Sym(s) => Expr::sym(s.clone()),
            Atom::Exp(t) => Expr::exp(t.clone()),
            Atom::Root(b, q) => Expr::pow(b.clone(), Expr::num(Rational::new(1.into(), (*q).into()))),
            Atom::Opaque(e) => e.clone(),
        }
    }
}

/// How much of an expression the kernel view looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// Everything: every sum is a polynomial in its atoms.
    Full,
    /// Sums of [`Config::opaque_terms`](super::Config::opaque_terms) or more terms below the top (a softmax's denominator
    /// `e^z1 + ... + e^zK`, a factor, an exponent such as a layer's pre-activation) are
    /// atoms themselves. The rational functions then have a few atoms whatever the size
    /// of the sums, and `-e^(z1 + z2)/S^2` is a problem in `e^z1`, `e^z2` and `S`. What
    /// the view loses is what the sum's own terms would cancel against.
    Opaque,
}

/// A table of atoms, with the exponent units and root degrees found by
/// [`Kernels::scan_view`].
#[derive(Default)]
pub struct Kernels {
    atoms: Vec<Atom>,
    index: HashMap<Atom, Var>,
    units: HashMap<Expr, Rational>,
    roots: HashMap<Expr, u32>,
    opaque: HashSet<Expr>,
    memo: IdMap<Option<Rat>>,
    /// [`Kernels::unit_of`] by the id of the exponent's rest.
    unit_vars: IdMap<Option<(Rational, Var)>>,
    /// The bases of roots that [`reduced`] wrote out as polynomials: factors to try
    /// first where a polynomial is factored, so that what a root's power put in comes
    /// back out as a power of the base (`(4 + s^2)*sqrt(4 + s^2)`).
    pub(crate) bases: Vec<Poly>,
}

/// What [`View::Opaque`] keeps whole in `exprs`: the [`big_sum`]s that are the base of a
/// power (a softmax's denominator `S`), exponentials of such sums, and the big sums whose
/// terms, over a common denominator, would expand to more than
/// [`Config::opaque_expansion`](super::Config::opaque_expansion) terms and more than twice
/// their own number (a network's output `v1/(1 + e^-a1) + ... + v4/(1 + e^-a4) - t`: 48
/// terms over 16). A sum that
/// stands as a plain factor or term and stays small (`t1*S + t2*S + t3*S`) is looked
/// into, so that it collects.
pub fn opaque_parts(exprs: &[Expr]) -> HashSet<Expr> {
    let mut bases: HashSet<u64> = HashSet::default();
    let nodes = expr::post_order(exprs, |_| true);
    for x in &nodes {
        if let Node::Pow(b, _) = x.node() {
            bases.insert(b.id());
        }
    }
    let mut out = HashSet::default();
    // Each node's terms as a rational function (numerator, denominator), estimated
    // bottom up with what is kept whole counted as one atom.
    let mut terms: IdMap<(u64, u64)> = IdMap::default();
    for x in nodes {
        let shared = bases.contains(&x.id());
        let (n, d) = expansion(&x, &terms);
        let big = big_sum(&x) && !exprs.contains(&x);
        // A long sum that is only long (a pre-activation of 100 terms) costs nothing more
        // looked into; one whose terms multiply out does.
        let grows = |len: usize| n.saturating_mul(d) > CFG.opaque_expansion.max(2 * len as u64);
        let whole = (big && (shared || grows(x.children().len()))) || x.as_exp().is_some_and(big_sum);
        terms.insert(x.id(), if whole { (1, 1) } else { (n, d) });
        if whole {
            out.insert(x);
        }
    }
    out
}

/// About how many terms `e`'s numerator and denominator have once written as one rational
/// function of atoms (an upper bound: common factors of denominators are not found), from
/// its children's estimates in `terms`.
fn expansion(e: &Expr, terms: &IdMap<(u64, u64)>) -> (u64, u64) {
    let of = |c: &Expr| terms.get(&c.id()).copied().unwrap_or((1, 1));
    match e.node() {
        Node::Add(ts) => {
            let parts: Vec<(u64, u64)> = ts.iter().map(of).collect();
            let den = parts.iter().fold(1u64, |acc, &(_, d)| acc.saturating_mul(d));
            let num = parts.iter().fold(0u64, |acc, &(n, d)| acc.saturating_add(n.saturating_mul(den / d)));
            (num, den)
        }
        Node::Mul(fs) => fs.iter().map(of).fold((1, 1), |(n, d), (a, b)| (n.saturating_mul(a), d.saturating_mul(b))),
        Node::Pow(b, k) => match k.as_num().filter(|k| k.is_integer()).and_then(|k| k.to_integer().to_i64()) {
            Some(k) if k != 0 && k.unsigned_abs() <= CFG.max_power.unsigned_abs() => {
                let (n, d) = of(b);
                let m = k.unsigned_abs() as u32;
                let (n, d) = (n.saturating_pow(m), d.saturating_pow(m));
                if k > 0 {
                    (n, d)
                } else {
                    (d, n)
                }
            }
            _ => (1, 1),
        },
        _ => (1, 1),
    }
}

/// Whether `e` is a sum of at least [`Config::opaque_terms`](super::Config::opaque_terms)
/// terms.
pub fn big_sum(e: &Expr) -> bool {
    matches!(e.node(), Node::Add(ts) if ts.len() >= CFG.opaque_terms)
}

thread_local! {
    /// The built-ins' expansions, parsed as they are first used.
    static EXPANSION_RULES: crate::func::RowMemo<Option<Expr>> = crate::func::RowMemo::new();
}

/// Rewrites every built-in that has an expansion, everywhere: hyperbolic functions, the
/// sigmoid and softplus into exponentials, `tan`, `sec`, `csc`, `cot` into sines and
/// cosines.
pub fn expand(e: &Expr) -> Expr {
    // Remembered across calls (ids are never reused): the simplifier expands the same
    // shared pieces (a softmax's denominator) for every candidate and every proof.
    EXPANDED.with(|m| {
        let mut memo = m.borrow_mut();
        if memo.len() > CFG.expand_memo {
            memo.clear();
        }
        expand_with(e, &mut memo)
    })
}

thread_local! {
    static EXPANDED: std::cell::RefCell<IdMap<Expr>> = std::cell::RefCell::new(IdMap::default());
}

/// Empties [`expand`]'s memo.
pub(crate) fn forget_memos() {
    EXPANDED.with(|m| m.borrow_mut().clear());
}

fn expand_with(e: &Expr, memo: &mut IdMap<Expr>) -> Expr {
    let rule = |f: &Func| match f {
        Func::Builtin(b) => EXPANSION_RULES.with(|r| r.get(*b, |b| crate::rules::parsed_entry(b, b.def().expansion))),
        _ => None,
    };
    // The arguments of a call that stays a call are an atom's, left as they are (they are
    // simplified as parts of their own); those of an expanded call and of an exponential
    // become kernels here.
    let enter = |x: &Expr| match x.node() {
        Node::Num(_) | Node::Const(_) | Node::Var(_) => Some(x.clone()),
        Node::Call(f, _) if !matches!(f, Func::Builtin(Builtin::Exp)) && rule(f).is_none() => Some(x.clone()),
        _ => None,
    };
    let u = crate::rules::table_variable();
    let leave = |x: &Expr, below: &[Expr]| match x.node() {
        Node::Call(Func::Builtin(Builtin::Exp), _) => exp_of_logs(&below[0]),
        Node::Call(f, _) => match rule(f) {
            Some(rule) => expr::substitute_small(&rule, &u, &below[0]),
            None => unreachable!("only calls with a rule are looked into"),
        },
        _ => expr::rebuild(x, below),
    };
    expr::fold(e, memo, enter, leave)
}

/// `e^u` with each term `c*ln(A)` of `u` taken out as `A^c` (an identity wherever
/// `ln(A)` is defined): `e^(-ln(1 + e^-x))` is `1/(1 + e^-x)`.
fn exp_of_logs(u: &Expr) -> Expr {
    let mut powers = Vec::new();
    let mut rest = Vec::new();
    for (c, t) in exponent_terms(u) {
        match t.node() {
            Node::Call(Func::Builtin(Builtin::Ln), a) => powers.push(Expr::pow(a[0].clone(), Expr::num(c))),
            _ => rest.push(Expr::mul([Expr::num(c), t])),
        }
    }
    if powers.is_empty() {
        return Expr::exp(u.clone());
    }
    powers.push(Expr::exp(Expr::add(rest)));
    Expr::mul(powers)
}

/// The whole power `c/g` of an exponent's unit `g` that a coefficient `c` is (in machine
/// words where they fit); `None` past an `i64`.
fn power_of_unit(c: &Rational, g: &Rational) -> Option<i64> {
    crate::number::small_quotient(c, g).or_else(|| (c / g).to_integer().to_i64())
}

fn rational_gcd(a: &Rational, b: &Rational) -> Rational {
    Rational::new(a.numer().gcd(b.numer()), a.denom().lcm(b.denom()))
}

/// A varying exponent with a number among its terms, as the rest and the number
/// (`1/x - 2` as `1/x` and `-2`), where the number is small enough to be a power.
pub(super) fn split_exponent(x: &Expr) -> Option<(Expr, Rational)> {
    let Node::Add(ts) = x.node() else { return None };
    let c = ts.iter().find_map(Expr::as_num)?;
    if c.numer().abs() > CFG.max_power.into() || c.denom() > &CFG.max_power.into() {
        return None;
    }
    let rest = Expr::add(ts.iter().filter(|t| t.as_num().is_none()).cloned().collect::<Vec<_>>());
    Some((rest, c.clone()))
}

/// The terms of an exponent: `(coefficient, rest)` with the constant term's rest `1`.
pub(super) fn exponent_terms(u: &Expr) -> Vec<(Rational, Expr)> {
    match u.node() {
        Node::Add(ts) => ts.iter().map(Expr::coeff_rest).collect(),
        _ => vec![u.coeff_rest()],
    }
}

impl Kernels {
    /// A table prepared for `exprs` in `view`.
    pub fn scan_view(exprs: &[Expr], view: View) -> Kernels {
        let opaque = match view {
            View::Full => HashSet::default(),
            View::Opaque => opaque_parts(exprs),
        };
        Kernels::scan_with(exprs, &opaque)
    }

    /// A table prepared for `exprs` with the sums and exponentials in `opaque` kept
    /// whole (a work in several steps keeps the ones its input had, not those its own
    /// rewriting makes).
    pub fn scan_with(exprs: &[Expr], opaque: &HashSet<Expr>) -> Kernels {
        let mut k = Kernels::default();
        expr::walk(exprs, |e| {
            if opaque.contains(e) {
                k.opaque.insert(e.clone());
                return Walk::Skip;
            }
            if let Some(u) = e.as_exp() {
                for (c, rest) in exponent_terms(u) {
                    if !rest.is_one() && !c.is_zero() {
                        let g = k.units.get(&rest).map_or(c.abs(), |g| rational_gcd(g, &c));
                        k.units.insert(rest, g);
                    }
                }
            }
            if let Node::Pow(b, x) = e.node() {
                if let Some(r) = x.as_num().filter(|r| !r.is_integer()) {
                    if let Some(q) = r.denom().to_u32() {
                        let d = k.roots.get(b).map_or(q, |d| d.lcm(&q));
                        k.roots.insert(b.clone(), d);
                    }
                }
            }
            // An atom's arguments are not looked into; an exponential's are its kernels.
            if !matches!(e.node(), Node::Call(..)) || e.as_exp().is_some() {
                Walk::Descend
            } else {
                Walk::Skip
            }
        });
        k
    }

    /// The variable of `a`, where it has one already (none is made).
    pub fn var_of(&self, a: &Atom) -> Option<Var> {
        self.index.get(a).copied()
    }

    /// The polynomial variable of an atom, made on first use.
    pub fn var(&mut self, a: Atom) -> Var {
        if let Some(v) = self.index.get(&a) {
            return *v;
        }
        let v = self.atoms.len() as Var;
        self.atoms.push(a.clone());
        self.index.insert(a, v);
        v
    }

    /// How many atoms there are (variables `0..len`).
    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    /// The atom behind a polynomial variable.
    pub fn atom(&self, v: Var) -> &Atom {
        &self.atoms[v as usize]
    }

    /// The tree size of the atom behind `v`.
    pub fn atom_size(&self, v: Var) -> u64 {
        match self.atom(v) {
            Atom::Sym(_) => 1,
            Atom::Exp(t) => 2 + t.tree_size(),
            Atom::Root(b, _) => 2 + b.tree_size(),
            Atom::Opaque(e) => e.tree_size(),
        }
    }

    fn atom_power(&mut self, a: Atom, n: i64) -> Option<Rat> {
        Rat::var_power(self.var(a), n)
    }

    /// The exponential kernels `e` is a rational function of, with the span of their
    /// whole powers (highest less lowest, counting the power 0), read off its
    /// exponentials without converting it: `1/(1 + e^(-2*x))` is `[(e^x, 2)]` where
    /// the unit of `x` is 1. `None` where something else in it varies (a variable, a
    /// call, a root). For a built-in's expansion (its row, reduced) these are the
    /// kernels and degrees of its rational function.
    pub fn exponential_spans(&mut self, e: &Expr) -> Option<Vec<(Var, u64)>> {
        let mut spans: Vec<(Var, i64, i64)> = Vec::new();
        let mut stack = vec![e.clone()];
        while let Some(x) = stack.pop() {
            match x.node() {
                Node::Num(_) | Node::Const(_) => {}
                Node::Var(_) => return None,
                Node::Add(ts) | Node::Mul(ts) => stack.extend(ts.iter().cloned()),
                Node::Pow(b, k) if k.as_num().is_some_and(|r| r.is_integer()) => stack.push(b.clone()),
                Node::Call(Func::Builtin(Builtin::Exp), args) => {
                    for (c, rest) in exponent_terms(&args[0]) {
                        if !rest.has_vars() {
                            continue;
                        }
                        let (g, v) = self.unit_of(&rest)?;
                        let k = power_of_unit(&c, &g)?;
                        match spans.iter_mut().find(|(w, _, _)| *w == v) {
                            Some((_, lo, hi)) => (*lo, *hi) = ((*lo).min(k), (*hi).max(k)),
                            None => spans.push((v, k.min(0), k.max(0))),
                        }
                    }
                }
                _ if !x.has_vars() => {}
                _ => return None,
            }
        }
        Some(spans.into_iter().map(|(v, lo, hi)| (v, hi.abs_diff(lo))).collect())
    }

    /// The unit of the exponentials `e^(c*rest)` and the variable of `e^(unit*rest)`,
    /// where the scan found them (worked out once per `rest`).
    fn unit_of(&mut self, rest: &Expr) -> Option<(Rational, Var)> {
        if let Some(found) = self.unit_vars.get(&rest.id()) {
            return found.clone();
        }
        let found = self.units.get(rest).cloned().map(|g| {
            let v = self.var(Atom::Exp(Expr::mul([Expr::num(g.clone()), rest.clone()])));
            (g, v)
        });
        self.unit_vars.insert(rest.id(), found.clone());
        found
    }

    /// The expression as a rational function of atoms, or `None` when it divides by zero.
    pub fn rat_of(&mut self, e: &Expr) -> Option<Rat> {
        if let Some(r) = self.memo.get(&e.id()) {
            return r.clone();
        }
        let r = crate::limits::deep(|| self.convert(e));
        self.memo.insert(e.id(), r.clone());
        r
    }

    fn convert(&mut self, e: &Expr) -> Option<Rat> {
        if self.opaque.contains(e) {
            return Some(Rat::var(self.var(Atom::Opaque(e.clone()))));
        }
        if let (Some(q), false) = (self.roots.get(e).copied(), e.as_num().is_some()) {
            return self.atom_power(Atom::Root(e.clone(), q), q as i64);
        }
        self.convert_node(e)
    }

    /// [`Kernels::convert`] of `e` by what it is, not as a root's base.
    fn convert_node(&mut self, e: &Expr) -> Option<Rat> {
        match e.node() {
            Node::Num(r) => Some(Rat::constant(r.clone())),
            Node::Var(s) => Some(Rat::var(self.var(Atom::Sym(s.clone())))),
            Node::Add(ts) => {
                let mut acc = Rat::constant(Rational::zero());
                for t in ts {
                    acc = acc.add(&self.rat_of(t)?);
                }
                Some(acc)
            }
            Node::Mul(fs) => {
                let mut acc = Rat::constant(Rational::one());
                for f in fs {
                    acc = acc.mul(&self.rat_of(f)?);
                }
                Some(acc)
            }
            Node::Pow(b, x) => {
                let r = x.as_num();
                match r {
                    Some(r) if r.is_integer() && r.numer().abs() <= CFG.max_power.into() => {
                        self.rat_of(b)?.powi(r.to_integer().to_i32()?)
                    }
                    Some(r) if !r.is_integer() && r.numer().abs() <= CFG.max_power.into() => {
                        let q = self.roots.get(b).copied().unwrap_or(r.denom().to_u32()?);
                        let k = (r * Rational::from_integer(q.into())).to_integer().to_i64()?;
                        self.atom_power(Atom::Root(b.clone(), q), k)
                    }
                    // A number in a varying exponent is a power of the base of its own
                    // (`x^(1/x - 2)` is `x^(1/x)/x^2`, which the product's constructor
                    // writes as one power), as an exponential's is.
                    _ => match split_exponent(x) {
                        Some((rest, c)) => {
                            let varying = Rat::var(self.var(Atom::Opaque(Expr::pow(b.clone(), rest))));
                            Some(varying.mul(&self.rat_of(&Expr::pow(b.clone(), Expr::num(c)))?))
                        }
                        None => Some(Rat::var(self.var(Atom::Opaque(e.clone())))),
                    },
                }
            }
            Node::Call(Func::Builtin(Builtin::Exp), args) => {
                let mut acc = Rat::constant(Rational::one());
                for (c, rest) in exponent_terms(&args[0]) {
                    let factor = match self.unit_of(&rest) {
                        Some((g, v)) if !rest.is_one() => {
                            let k = power_of_unit(&c, &g)?;
                            Rat::var_power(v, k)?
                        }
                        _ => {
                            let whole = Expr::exp(Expr::mul([Expr::num(c), rest]));
                            Rat::var(self.var(Atom::Opaque(whole)))
                        }
                    };
                    acc = acc.mul(&factor);
                }
                Some(acc)
            }
            Node::Const(_) | Node::Call(..) => Some(Rat::var(self.var(Atom::Opaque(e.clone())))),
        }
    }

    /// A monomial as an expression: the product of its atoms' powers.
    pub fn monomial_expr(&self, m: &Monomial) -> Expr {
        Expr::mul(
            m.0.iter().map(|&(v, k)| Expr::pow(self.atoms[v as usize].expr(), Expr::int(k as i64))).collect::<Vec<_>>(),
        )
    }

    /// A polynomial as a plain sum of terms.
    pub fn sum_expr(&self, p: &Poly) -> Expr {
        Expr::add(p.terms().map(|(m, c)| Expr::mul([Expr::num(c.clone()), self.monomial_expr(m)])).collect::<Vec<_>>())
    }
}

/// The Pythagorean identity as a reduction, wherever both `sin(u)` and `cos(u)` are
/// atoms: `cos(u)^2` replaced by `1 - sin(u)^2`, or `sin(u)^2` by `1 - cos(u)^2`,
/// whichever leaves fewer terms (the first where they tie). Either is a normal form
/// modulo the identity, but the gcd taken after it is a polynomial gcd, which sees only
/// one spelling: `(1 + cos(u))/(2 + 2*cos(u) - sin(u)^2)` cancels to `1/(1 + cos(u))`
/// only in cosines, `2*cos(u)/(1 - sin(u)^2)` to `2/cos(u)` only in cosines too, and
/// other quotients only in sines.
pub fn pythagorean(r: &Rat, k: &Kernels) -> Rat {
    let size = |r: &Rat| r.num.len() + r.den.len();
    let in_sines = reduce_squares(r, k, Builtin::Cos, Builtin::Sin);
    let in_cosines = reduce_squares(r, k, Builtin::Sin, Builtin::Cos);
    if size(&in_cosines) < size(&in_sines) {
        in_cosines
    } else {
        in_sines
    }
}

/// `r` with `f(u)^2` replaced by `1 - g(u)^2` wherever both `f(u)` and `g(u)` are atoms
/// (`f`, `g` are `sin` and `cos`, either way round).
fn reduce_squares(r: &Rat, k: &Kernels, f: Builtin, g: Builtin) -> Rat {
    let mut out = r.clone();
    for (cv, c) in k.atoms.iter().enumerate() {
        let Atom::Opaque(c) = c else { continue };
        let Node::Call(Func::Builtin(b), cargs) = c.node() else { continue };
        if *b != f {
            continue;
        }
        let other = Expr::builtin(g, cargs[0].clone());
        let Some(&sv) = k.index.get(&Atom::Opaque(other)) else { continue };
        let one_minus_s2 = Rat::from_poly(Poly::one().sub(&Poly::var(sv).pow(2)));
        if let Some(reduced) = reduce_power(&out, cv as Var, 2, &one_minus_s2) {
            out = reduced;
        }
    }
    out
}

/// `r` reduced by every relation between its atoms that the proof knows: the Pythagorean
/// identity ([`pythagorean`]); a root `b^(1/q)` to the `q`-th power is `b`, where `b` is
/// a number, a sum, a product or a power (a base the view otherwise sees only under the
/// root, such as `1 + a*x^2` in `(1 + a*x^2)^(-3/2)`); and `abs(u)^2` is `u^2`. Each is
/// an identity wherever both sides are defined, so a zero it gives is a proof.
pub fn reduced(r: &Rat, k: &mut Kernels) -> Rat {
    let mut out = pythagorean(r, k);
    // A value may bring in powers of atoms reduced before it (the base of a root holding
    // another root): a second pass takes those down.
    for _ in 0..2 {
        let mut v = 0;
        // (Working a value out may make atoms: they are looked at too.)
        while v < k.atoms.len() {
            if let Some((q, value)) = k.power_relation(v as Var) {
                if let Some(r) = reduce_power(&out, v as Var, q, &value) {
                    if r != out && value.den.as_constant().is_some() && value.num.len() > 1 {
                        let base = value.num.normalize().1;
                        if !k.bases.contains(&base) {
                            k.bases.push(base);
                        }
                    }
                    out = r;
                }
            }
            v += 1;
        }
    }
    // A root's value may bring the Pythagorean identity back in (`sqrt(1 + sin(u)^2)`
    // squared beside `cos(u)^2`).
    pythagorean(&out, k)
}

impl Kernels {
    /// The relation `v^q = value` that the atom `v` satisfies, for [`reduced`].
    fn power_relation(&mut self, v: Var) -> Option<(u32, Rat)> {
        let (q, value) = match self.atom(v).clone() {
            Atom::Root(b, q) => match b.node() {
                Node::Num(r) => (q, Rat::constant(r.clone())),
                _ if self.opaque.contains(&b) => (q, Rat::var(self.var(Atom::Opaque(b)))),
                Node::Add(_) | Node::Mul(_) | Node::Pow(..) => (q, self.convert_node(&b)?),
                _ => return None,
            },
            Atom::Opaque(a) => match a.node() {
                Node::Call(Func::Builtin(Builtin::Abs), args) => (2, self.rat_of(&args[0])?.powi(2)?),
                _ => return None,
            },
            _ => return None,
        };
        // (A value in terms of the atom itself would not reduce anything.)
        (!value.vars().contains(&v)).then_some((q, value))
    }
}

/// `r` with every power `v^j` of the atom `v` from `v^q` up written
/// `v^(j mod q)*value^(j div q)`: the relation `v^q = value` as a reduction. `None` where
/// no power of `v` reaches `q`.
fn reduce_power(r: &Rat, v: Var, q: u32, value: &Rat) -> Option<Rat> {
    if r.num.degree(v) < q && r.den.degree(v) < q {
        return None;
    }
    // A polynomial p(v) as n/den(value)^top, top the highest (j div q).
    let reduce = |p: &Poly| -> (Poly, u32) {
        let cs = p.coeffs_in(v);
        let top = (cs.len() as u32).saturating_sub(1) / q;
        let n = cs.iter().enumerate().filter(|(_, a)| !a.is_zero()).fold(Poly::zero(), |acc, (j, a)| {
            let (d, m) = (j as u32 / q, j as u32 % q);
            let term = a.mul(&Poly::var(v).pow(m)).mul(&value.num.pow(d)).mul(&value.den.pow(top - d));
            acc.add(&term)
        });
        (n, top)
    };
    let (n, tn) = reduce(&r.num);
    let (d, td) = reduce(&r.den);
    Rat::new(n.mul(&value.den.pow(td)), d.mul(&value.den.pow(tn)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        crate::parse::parse_expr(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn sum_of(n: usize, term: impl Fn(usize) -> String) -> String {
        (1..=n).map(term).collect::<Vec<_>>().join(" + ")
    }

    #[test]
    fn the_opaque_view_keeps_whole_the_sums_that_would_multiply_out() {
        // A network's output: its sigmoids' denominators would multiply out over a common
        // denominator (2^n terms), whatever the layer's size or names.
        for (n, v, u) in [(3, "v", "a"), (4, "q", "s"), (8, "w", "h")] {
            let out = format!("{} - t", sum_of(n, |i| format!("{v}{i}/(1 + e^(-{u}{i}))")));
            let whole = expr(&out);
            let e = expr(&format!("({out})*x1*{v}1"));
            assert!(opaque_parts(std::slice::from_ref(&e)).contains(&whole), "{n} sigmoids: {e}");
            // At the top it is the part itself, never an atom.
            assert!(!opaque_parts(std::slice::from_ref(&whole)).contains(&whole));
        }
        // Two sigmoids and a constant expand to 8 terms over 4: looked into.
        let small = expr("v1/(1 + e^(-a1)) + v2/(1 + e^(-a2)) - t");
        assert!(!opaque_parts(&[expr(&format!("({small})*x"))]).contains(&small));
    }

    #[test]
    fn the_opaque_view_looks_into_long_sums_that_do_not_multiply_out() {
        // A pre-activation of a hundred weights is only long.
        let a = expr(&sum_of(100, |i| format!("x{i}*w{i}")));
        let e = expr(&format!("(tanh({a}) - t)*({a})*y"));
        assert!(!opaque_parts(std::slice::from_ref(&e)).contains(&a));
        // A sum whose terms share a power's base collects (t1*S + t2*S + t3*S): the base
        // is whole, the sum is looked into.
        let s = expr("e^z1 + e^z2 + e^z3");
        let t = expr(&format!("t1*({s}) + t2*({s}) + t3*({s})"));
        let e = expr(&format!("({t})*({s})^-1*y"));
        let parts = opaque_parts(std::slice::from_ref(&e));
        assert!(parts.contains(&s) && !parts.contains(&t), "{e}");
    }
    #[test]
    fn a_number_in_a_varying_exponent_is_a_power_of_the_base() {
        // (The product's constructor merges the two powers, so they are multiplied here
        // as rational functions.)
        for (merged, varying, number) in
            [("x^(1/x - 2)", "x^(1/x)", "x^-2"), ("q^(q^2 + 1)", "q^(q^2)", "q"), ("b^(y + 1/2)", "b^y", "sqrt(b)")]
        {
            let (m, v, n) = (expr(merged), expr(varying), expr(number));
            let mut k = Kernels::scan_view(&[m.clone(), v.clone(), n.clone()], View::Full);
            let apart = k.rat_of(&v).zip(k.rat_of(&n)).map(|(v, n)| v.mul(&n));
            assert_eq!(k.rat_of(&m), apart, "{merged} against {varying} times {number}");
        }
        // A varying exponent without a number is one atom.
        let mut k = Kernels::scan_view(&[expr("x^(1/x)")], View::Full);
        assert_eq!(k.rat_of(&expr("x^(1/x)")).map(|r| r.vars().len()), Some(1));
    }

    /// What [`Kernels::exponential_spans`] reads off a built-in's expansion is what
    /// converting it gives: the same kernels, each to the degree of the rational function
    /// in it, whatever the arguments and the units the table found.
    #[test]
    fn exponential_spans_are_the_degrees_of_the_expansions() {
        let parse = |s: &str| crate::parse::parse_expr(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let mut checked = 0;
        for units in ["x", "x/2", "x/3 + y/3"] {
            for f in ["sigmoid", "tanh", "sinh", "cosh", "sech", "csch", "coth", "exp"] {
                for arg in ["x", "-x", "2*x", "x/2", "-3*x/2", "x + 1", "x + y", "x*y"] {
                    let e = expand(&parse(&format!("{f}({arg})")));
                    let mut k = Kernels::scan_view(&[e.clone(), parse(&format!("e^({units})"))], View::Full);
                    let Some(spans) = k.exponential_spans(&e) else { continue };
                    let r = k.rat_of(&e).expect("defined");
                    let varying: Vec<Var> =
                        r.vars().into_iter().filter(|&v| !k.atom(v).expr().free_vars().is_empty()).collect();
                    let mut read: Vec<Var> = spans.iter().map(|&(v, _)| v).collect();
                    read.sort_unstable();
                    assert_eq!(read, varying, "{f}({arg}) with {units}");
                    for (v, n) in spans {
                        assert_eq!(n, u64::from(r.num.degree(v).max(r.den.degree(v))), "{f}({arg}) with {units}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} checked");
        // Something else that varies: no reading.
        let e = expand(&parse("x*sigmoid(x)"));
        assert_eq!(Kernels::scan_view(std::slice::from_ref(&e), View::Full).exponential_spans(&e), None);
    }
}
