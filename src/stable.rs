//! Numerically stable forms: the sigmoid, softplus, log-sigmoid, log-sum-exp and
//! softmax recognised in an expression and rewritten so that nothing overflows where the
//! value itself is finite.
//!
//! [`stabilize`] rewrites, bottom up:
//! - a quotient by a sum of exponentials `(1 + e^v)^-n` times `e^(k*v)` into
//!   `sigmoid(v)^k*sigmoid(-v)^(n - k)` (`e^z/(1 + e^z)` is `sigmoid(z)`, `1/(1 + e^-z)`
//!   too, `e^(a - b)`-shaped softmax pairs likewise);
//! - any other `e^w/(c1*e^a1 + ... + cn*e^an)^n` by the max-shift:
//!   `e^(w - n*m)/(c1*e^(a1 - m) + ...)^n` with `m = max(a1, ..., an)` (a constant term
//!   counts as `e^0`), which is how a softmax is computed;
//! - `ln(1 + e^u)` into `softplus(u)` (so `-ln(1 + e^-x)`, the log-sigmoid, is
//!   `-softplus(-x)`), and any other logarithm of a sum of exponentials into a
//!   log-sum-exp, folded pairwise as `max(a, b) + ln(1 + e^-|a - b|)`;
//! - `c - c*e^u` into `-c*expm1(u)` and `ln(1 + u)` into `log1p(u)`, which keep their
//!   precision near `u = 0` (`1 - e^-y`, the softplus derivative in its output), and
//!   `1 - sigmoid(u)` into `sigmoid(-u)`, which keeps it where `sigmoid(u)` rounds to 1.
//!
//! Built-in `sigmoid` and `softplus` calls are already stable where they are evaluated
//! ([`crate::func`]). What has no expression node (a maximum, a log-sum-exp, `expm1`,
//! `log1p`) is a [`Block`] under a placeholder name (`#b1`, which no input can spell);
//! [`Stable`] lists them in the order they must be computed. The f64 evaluator
//! ([`crate::eval::eval`]) and the code generator ([`crate::codegen`]) both run on this
//! form, so deriv computes what the generated code computes.

use std::collections::HashMap;

use num_traits::{One, Signed, ToPrimitive};

use crate::expr::IdMap;
use crate::expr::{self, Cmp, Expr, Func, Node, Sym};
use crate::func::Builtin;
use crate::number::Rational;

/// A stable building block that has no expression node of its own.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// The largest argument.
    Max(Vec<Expr>),
    /// `ln(e^a1 + ... + e^an)`, folded pairwise as `max(a, b) + ln(1 + e^-|a - b|)`.
    LogSumExp(Vec<Expr>),
    /// `e^u - 1`.
    Expm1(Expr),
    /// `ln(1 + u)`.
    Log1p(Expr),
    /// `ln(1 - e^u)` for `u < 0`: `ln(-expm1(u))` above `u = -ln 2`, `log1p(-e^u)`
    /// below (Mächler's log1mexp), each exact where the other cancels.
    Log1mExp(Expr),
    /// `sqrt(a^2 + b^2)` of the two arguments, without overflow where the squares would.
    Hypot(Vec<Expr>),
}

impl Block {
    /// The arguments.
    pub fn args(&self) -> &[Expr] {
        match self {
            Block::Max(a) | Block::LogSumExp(a) | Block::Hypot(a) => a,
            Block::Expm1(u) | Block::Log1p(u) | Block::Log1mExp(u) => std::slice::from_ref(u),
        }
    }

    /// The same block with other arguments (as many as it has).
    ///
    /// # Panics
    ///
    /// When a block of one argument is given none.
    pub fn with_args(&self, args: Vec<Expr>) -> Block {
        let one = || args.first().cloned().expect("a block of one argument is given one");
        match self {
            Block::Max(_) => Block::Max(args),
            Block::LogSumExp(_) => Block::LogSumExp(args),
            Block::Expm1(_) => Block::Expm1(one()),
            Block::Log1p(_) => Block::Log1p(one()),
            Block::Log1mExp(_) => Block::Log1mExp(one()),
            Block::Hypot(_) => Block::Hypot(args),
        }
    }

    /// The value at the arguments' values, computed as the generated code computes it.
    pub fn value(&self, args: &[f64]) -> f64 {
        match self {
            Block::Max(_) => args.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
            Block::LogSumExp(_) => args.iter().copied().reduce(log_add_exp).unwrap_or(f64::NAN),
            Block::Expm1(_) => args.first().map_or(f64::NAN, |u| u.exp_m1()),
            Block::Log1p(_) => args.first().map_or(f64::NAN, |u| u.ln_1p()),
            Block::Log1mExp(_) => args.first().map_or(f64::NAN, |&u| log1mexp(u)),
            Block::Hypot(_) => match args {
                [a, b] => a.hypot(*b),
                _ => f64::NAN,
            },
        }
    }

    fn key(&self) -> (u8, Vec<u64>) {
        let kind = match self {
            Block::Max(_) => 0,
            Block::LogSumExp(_) => 1,
            Block::Expm1(_) => 2,
            Block::Log1p(_) => 3,
            Block::Log1mExp(_) => 4,
            Block::Hypot(_) => 5,
        };
        (kind, self.args().iter().map(Expr::id).collect())
    }
}

/// `ln(1 - e^u)` for `u < 0`, to the last bit at both ends (Mächler 2012).
pub fn log1mexp(u: f64) -> f64 {
    if u > -std::f64::consts::LN_2 {
        (-u.exp_m1()).ln()
    } else {
        (-u.exp()).ln_1p()
    }
}

/// `ln(e^a + e^b)` without overflow: `max(a, b) + ln(1 + e^-|a - b|)`.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    a.max(b) + (-(a - b).abs()).exp().ln_1p()
}

/// Expressions in stable form: the blocks, each using only earlier ones, and the results.
#[derive(Clone, Debug, PartialEq)]
pub struct Stable {
    /// `(placeholder, block)` in the order they must be computed.
    pub blocks: Vec<(Sym, Block)>,
    /// The rewritten expressions, in the inputs and the placeholders.
    pub results: Vec<Expr>,
}

/// Rewrites `results` into stable forms (see the module documentation); equal blocks
/// are shared between the results.
pub fn stabilize(results: &[Expr]) -> Stable {
    let mut r = Rewriter::default();
    let results = results.iter().map(|e| r.rewrite(e)).collect();
    Stable { blocks: r.blocks, results }
}

#[derive(Default)]
struct Rewriter {
    /// Inside the branches of a [`conjugate`]: no conjugating again.
    in_conjugate: bool,
    blocks: Vec<(Sym, Block)>,
    index: HashMap<(u8, Vec<u64>), Sym>,
    memo: IdMap<Expr>,
}

/// One term of a sum of exponentials: `coeff * e^exponent` (`exponent` 0 for a constant).
struct ExpTerm {
    coeff: Rational,
    exponent: Expr,
}

/// The terms of `s` when it is a sum of positive multiples of exponentials and positive
/// constants, with at least one exponential.
fn exp_sum(s: &Expr) -> Option<Vec<ExpTerm>> {
    let Node::Add(ts) = s.node() else { return None };
    let mut out = Vec::with_capacity(ts.len());
    for t in ts {
        let (coeff, rest) = t.coeff_rest();
        if !coeff.is_positive() {
            return None;
        }
        let exponent = if rest.is_one() { Expr::zero() } else { rest.as_exp()?.clone() };
        out.push(ExpTerm { coeff, exponent });
    }
    out.iter().any(|t| !t.exponent.is_zero()).then_some(out)
}

impl Rewriter {
    fn block(&mut self, b: Block) -> Expr {
        let key = b.key();
        if let Some(s) = self.index.get(&key) {
            return Expr::sym(s.clone());
        }
        let s = expr::hidden_name("b", self.blocks.len() + 1);
        self.index.insert(key, s.clone());
        self.blocks.push((s.clone(), b));
        Expr::sym(s)
    }

    fn rewrite(&mut self, e: &Expr) -> Expr {
        if let Some(r) = self.memo.get(&e.id()) {
            return r.clone();
        }
        crate::limits::deep(|| self.rewrite_node(e))
    }

    fn rewrite_node(&mut self, e: &Expr) -> Expr {
        let r = match e.node() {
            Node::Num(_) | Node::Const(_) | Node::Var(_) => e.clone(),
            Node::Call(Func::Builtin(Builtin::Ln), args) => self.log(&args[0]),
            Node::Call(f, args) => {
                let args = args.iter().map(|a| self.rewrite(a)).collect();
                Expr::call(f.clone(), args)
            }
            Node::Add(ts) => self.sum(ts),
            Node::Mul(fs) => self.product(fs),
            Node::Pow(..) => self.product(std::slice::from_ref(e)),
        };
        self.memo.insert(e.id(), r.clone());
        r
    }

    /// A sum, with its cancellations taken out: an `if` among the terms takes the others
    /// into its branches (`1 + if(c, x, e^x - 1)` is `if(c, 1 + x, e^x)`); a number plus
    /// a fraction whose numerator cancels over the common denominator is that fraction
    /// (`e^a/(e^a + e^b) - 1` is `-e^b/(e^a + e^b)`); two terms `t + k*t*F` that an
    /// identity of `1 + k*F` turns into one ([`one_plus`]); and `r + softplus(v)` where
    /// `r + v` cancels is the log-sum-exp of `r` and `r + v`.
    fn sum(&mut self, ts: &[Expr]) -> Expr {
        if let Some(r) = into_branches(ts) {
            return self.rewrite(&r);
        }
        if let Some(r) = cancelled_fraction(ts) {
            return self.rewrite(&r);
        }
        if !self.in_conjugate {
            if let Some((diff, t1, t2)) = conjugate(ts) {
                // (The branches are sums of the same roots: not conjugated again.)
                self.in_conjugate = true;
                let condition = Expr::compare(Cmp::Gt, Expr::negate(Expr::mul([t1.clone(), t2.clone()])), Expr::zero());
                let condition = self.rewrite(&condition);
                let cancelling = self.rewrite(&Expr::quotient(diff, Expr::minus(t1.clone(), t2.clone())));
                let plain = vec![self.rewrite(&t1), self.rewrite(&t2)];
                let plain = self.sum_of_rewritten(plain);
                self.in_conjugate = false;
                return Expr::piecewise(vec![condition, cancelling, plain]);
            }
        }
        let terms: Vec<Expr> = ts.iter().map(|t| self.rewrite(t)).collect();
        self.sum_of_rewritten(terms)
    }

    /// The sum of terms already rewritten, with [`Rewriter::pair_identity`] and
    /// [`Rewriter::softplus_as_lse`] applied.
    fn sum_of_rewritten(&mut self, mut terms: Vec<Expr>) -> Expr {
        while let Some((i, j, merged)) = self.pair_identity(&terms) {
            terms[i] = merged;
            terms.remove(j);
        }
        let s = Expr::add(terms);
        self.softplus_as_lse(s)
    }

    /// Terms `i` and `j` of `terms` (`i < j`), `t` and `k*t*F`, as the one term
    /// `t*(1 + k*F)` rewritten by [`one_plus`].
    fn pair_identity(&mut self, terms: &[Expr]) -> Option<(usize, usize, Expr)> {
        // Only a factor with an identity can pair (most sums have none).
        let special = |f: &Expr| {
            f.as_exp().is_some()
                || matches!(
                    f.base_exp().0.node(),
                    Node::Call(
                        Func::Builtin(
                            Builtin::Cos
                                | Builtin::Sigmoid
                                | Builtin::Tanh
                                | Builtin::Coth
                                | Builtin::Erf
                                | Builtin::Erfc
                        ),
                        _
                    )
                )
        };
        let factors_of = |core: &Expr| -> Vec<Expr> { core.factors().iter().filter(|f| special(f)).cloned().collect() };
        if !terms.iter().any(|t| !factors_of(&t.coeff_rest().1).is_empty()) {
            return None;
        }
        let cores: Vec<(Rational, Expr)> = terms.iter().map(Expr::coeff_rest).collect();
        let index: HashMap<&Expr, usize> = cores.iter().enumerate().map(|(i, (_, core))| (core, i)).collect();
        for (b, (cb, core_b)) in cores.iter().enumerate() {
            for f in factors_of(core_b) {
                let rest = Expr::mul([core_b.clone(), Expr::pow(f.clone(), Expr::int(-1))]);
                let Some(&a) = index.get(&rest) else { continue };
                if a == b {
                    continue;
                }
                let k = cb / &cores[a].0;
                if let Some(g) = self.one_plus(&k, &f) {
                    let merged = Expr::mul([terms[a].clone(), g]);
                    return Some((a.min(b), a.max(b), merged));
                }
            }
        }
        None
    }

    /// `1 + k*f` written without the cancellation, where an identity has it: `1 - e^u` is
    /// `-expm1(u)`; `1 -+ cos(u)` is `2*sin(u/2)^2` or `2*cos(u/2)^2`; `1 - sigmoid(u)`
    /// is `sigmoid(-u)` and `1 - 2*sigmoid(u)` is `-tanh(u/2)`; `1 - tanh(u)^2` is
    /// `sech(u)^2`; `1 +- tanh(u)` is `2*sigmoid(+-2*u)`; `1 +- erf(u)` is `erfc(-+u)`;
    /// `1 - erfc(u)` is `erf(u)`.
    fn one_plus(&mut self, k: &Rational, f: &Expr) -> Option<Expr> {
        let (one, two) = (Rational::one(), Rational::from_integer(2.into()));
        let minus_one = -one.clone();
        let half = |u: &Expr| Expr::mul([Expr::num(Rational::new(1.into(), 2.into())), u.clone()]);
        let twice = |u: &Expr, sign: i64| Expr::mul([Expr::int(2 * sign), u.clone()]);
        if let Some(u) = f.as_exp() {
            return (*k == minus_one).then(|| {
                let m = self.block(Block::Expm1(u.clone()));
                Expr::negate(m)
            });
        }
        let (base, n) = f.base_exp();
        let Node::Call(Func::Builtin(g), args) = base.node() else { return None };
        let u = &args[0];
        let square = |h: Builtin, u: Expr| Expr::pow(Expr::builtin(h, u), Expr::int(2));
        // 1 - tanh(u)^2 = sech(u)^2; 1 - coth(u)^2 = 1 - tanh(u)^-2 = -csch(u)^2.
        if *k == minus_one {
            match (g, n.as_num().and_then(|n| n.to_integer().to_i64())) {
                (Builtin::Tanh, Some(2)) => return Some(square(Builtin::Sech, u.clone())),
                (Builtin::Tanh, Some(-2)) | (Builtin::Coth, Some(2)) => {
                    return Some(Expr::negate(square(Builtin::Csch, u.clone())))
                }
                _ => {}
            }
        }
        if !n.is_one() {
            return None;
        }
        let r = match (g, k) {
            (Builtin::Cos, k) if *k == minus_one => Expr::mul([Expr::int(2), square(Builtin::Sin, half(u))]),
            (Builtin::Cos, k) if *k == one => Expr::mul([Expr::int(2), square(Builtin::Cos, half(u))]),
            (Builtin::Sigmoid, k) if *k == minus_one => Expr::builtin(Builtin::Sigmoid, Expr::negate(u.clone())),
            (Builtin::Sigmoid, k) if *k == -two.clone() => Expr::negate(Expr::builtin(Builtin::Tanh, half(u))),
            (Builtin::Tanh, k) if *k == one => Expr::mul([Expr::int(2), Expr::builtin(Builtin::Sigmoid, twice(u, 1))]),
            (Builtin::Tanh, k) if *k == minus_one => {
                Expr::mul([Expr::int(2), Expr::builtin(Builtin::Sigmoid, twice(u, -1))])
            }
            (Builtin::Erf, k) if *k == one => Expr::builtin(Builtin::Erfc, Expr::negate(u.clone())),
            (Builtin::Erf, k) if *k == minus_one => Expr::builtin(Builtin::Erfc, u.clone()),
            (Builtin::Erfc, k) if *k == minus_one => Expr::builtin(Builtin::Erf, u.clone()),
            _ => return None,
        };
        Some(r)
    }

    /// `s` with a term `softplus(v)` and the rest `r`, where `r + v` is smaller than the
    /// larger of the two (they cancel: `a + softplus(b - a)`, `softplus(t) - t`), as the
    /// log-sum-exp of `r` and `r + v`, which does not lose `r` to the size of `v`.
    fn softplus_as_lse(&mut self, s: Expr) -> Expr {
        let Node::Add(ts) = s.node() else { return s };
        // (Each try builds the rest of the sum: not for sums of thousands of terms.)
        if ts.len() > 64 {
            return s;
        }
        for (i, t) in ts.iter().enumerate() {
            let Node::Call(Func::Builtin(Builtin::Softplus), v) = t.node() else { continue };
            let rest = Expr::add(expr::all_but(ts, i));
            let shifted = Expr::add([rest.clone(), v[0].clone()]);
            if shifted.tree_size() < v[0].tree_size().max(rest.tree_size()) {
                return self.block(Block::LogSumExp(vec![rest, shifted]));
            }
        }
        s
    }

    /// `b^x` for `x = n/2` (n odd) and `b = u^2 + v^2` (either may be a positive
    /// number, `c = sqrt(c)^2`) as `hypot(u, v)^n`: `sqrt(x^2 + 1)` is finite for every
    /// finite x.
    fn hypot(&mut self, b: &Expr, x: &Expr) -> Option<Expr> {
        let r = x.as_num()?;
        let two = Rational::from_integer(2.into());
        if !(r * &two).is_integer() || r.is_integer() {
            return None;
        }
        let Node::Add(ts) = b.node() else { return None };
        let [p, q] = ts.as_slice() else { return None };
        let root = |t: &Expr| -> Option<Expr> {
            if let Some(c) = t.as_num() {
                return c.is_positive().then(|| Expr::pow(t.clone(), Expr::num(Rational::new(1.into(), 2.into()))));
            }
            let (c, rest) = t.coeff_rest();
            let (u, n) = rest.base_exp();
            (c.is_one() && n == Expr::int(2)).then_some(u)
        };
        let (u, v) = (root(p)?, root(q)?);
        let (u, v) = (self.rewrite(&u), self.rewrite(&v));
        let h = self.block(Block::Hypot(vec![u, v]));
        Some(Expr::pow(h, Expr::num(r * two)))
    }

    /// `ln(a)`: softplus, log-sum-exp, log1p or as it is.
    fn log(&mut self, a: &Expr) -> Expr {
        if let Some(terms) = exp_sum(a) {
            let mut exponents: Vec<Expr> = Vec::with_capacity(terms.len());
            for t in &terms {
                let x = self.rewrite(&t.exponent);
                exponents.push(if t.coeff.is_one() { x } else { Expr::add([x, Expr::ln(Expr::num(t.coeff.clone()))]) });
            }
            // ln(1 + c*e^u) = softplus(u + ln(c)).
            if let [one, _] = terms.as_slice() {
                if one.exponent.is_zero() && one.coeff.is_one() {
                    return Expr::builtin(Builtin::Softplus, exponents[1].clone());
                }
            }
            return self.block(Block::LogSumExp(exponents));
        }
        // The logarithm of a product with positive factors that have stable logarithms
        // is a sum: a cross-entropy through its logits never takes ln of an underflowed
        // probability.
        if let Some(split) = self.split_log(a) {
            return split;
        }
        // ln(c - c*e^u) = ln(c) + log1mexp(u).
        if let Node::Add(ts) = a.node() {
            if let ([c, t], Some(c_num)) = (ts.as_slice(), ts[0].as_num()) {
                let (d, rest) = t.coeff_rest();
                if let Some(u) = rest.as_exp().filter(|_| c_num.is_positive() && d == -c_num.clone()) {
                    let u = self.rewrite(u);
                    let b = self.block(Block::Log1mExp(u));
                    return Expr::add([Expr::ln(c.clone()), b]);
                }
            }
        }
        let a = self.rewrite(a);
        if let Some(split) = self.split_log(&a) {
            return split;
        }
        if let Node::Add(ts) = a.node() {
            if ts[0].is_one() {
                let u = Expr::add(ts[1..].to_vec());
                return self.block(Block::Log1p(u));
            }
        }
        Expr::ln(a)
    }

    /// `ln(a)` for a product `a` with factors whose logarithms are stable, as the sum of
    /// their logarithms and `ln` of the rest: `ln(e^w) = w`, `ln(s^n) = n*ln(s)` for a
    /// sum of exponentials `s` (a softplus or log-sum-exp), `ln(sigmoid(v)^k) =
    /// -k*softplus(-v)`. `None` where `a` has no such factor. (Each is positive, so the
    /// split holds wherever `ln(a)` is real.)
    fn split_log(&mut self, a: &Expr) -> Option<Expr> {
        if !matches!(a.node(), Node::Mul(_) | Node::Pow(..) | Node::Call(..)) {
            return None;
        }
        let factors = a.factors();
        let mut terms = Vec::new();
        let mut rest = Vec::new();
        // ln(e^w/s) for a sum of exponentials s is -ln(s*e^-w), every exponent shifted by
        // w: a cross-entropy -ln(softmax) is the log-sum-exp of the differences, with no
        // cancellation between a log-sum-exp and w.
        let quotient = factors.iter().find_map(|f| f.as_exp().cloned()).and_then(|w| {
            let den = factors.iter().find(|f| match f.node() {
                Node::Pow(b, m) => *m == Expr::int(-1) && exp_sum(b).is_some(),
                _ => false,
            })?;
            Some((w, den.clone()))
        });
        let mut factors: Vec<Expr> = factors.to_vec();
        if let Some((w, den)) = quotient {
            let Node::Pow(s, _) = den.node() else { unreachable!("found as a power above") };
            let Node::Add(ts) = s.node() else { unreachable!("a sum of exponentials is a sum") };
            // (A product distributes over a sum only for a number: term by term here.)
            let e_minus_w = Expr::exp(Expr::negate(w.clone()));
            let shifted = Expr::add(ts.iter().map(|t| Expr::mul([t.clone(), e_minus_w.clone()])).collect::<Vec<_>>());
            terms.push(Expr::negate(self.log(&shifted)));
            factors.retain(|f| *f != den && f.as_exp() != Some(&w));
        }
        for f in &factors {
            if let Some(w) = f.as_exp() {
                terms.push(self.rewrite(w));
                continue;
            }
            // (Any numeric power: the base is positive.)
            let (b, k) = f.base_exp();
            match b.node() {
                _ if k.as_num().is_none() => rest.push(f.clone()),
                Node::Call(Func::Builtin(Builtin::Sigmoid), v) => terms.push(Expr::mul([
                    k,
                    Expr::int(-1),
                    Expr::builtin(Builtin::Softplus, Expr::negate(self.rewrite(&v[0]))),
                ])),
                _ if exp_sum(&b).is_some() => terms.push(Expr::mul([k, self.log(&b)])),
                _ => rest.push(f.clone()),
            }
        }
        if terms.is_empty() {
            return None;
        }
        let rest = Expr::mul(rest);
        if !rest.is_one() {
            terms.push(self.log(&rest));
        }
        Some(Expr::add(terms))
    }

    /// A product with quotients by sums of exponentials made stable.
    fn product(&mut self, fs: &[Expr]) -> Expr {
        let is_den = |f: &Expr| match f.node() {
            Node::Pow(b, x) => x.as_num().is_some_and(Signed::is_negative) && exp_sum(b).is_some(),
            _ => false,
        };
        // A numerator that is a sum with exponentials in it goes over the denominator term
        // by term, so that each quotient is made stable: (e^z - t - t*e^z)/(1 + e^z) is
        // sigmoid(z) - t*sigmoid(-z) - t*sigmoid(z), finite at z = 1e300.
        let exp_numerator = |f: &Expr| match f.node() {
            Node::Add(ts) => ts.iter().any(|t| t.factors().iter().any(|g| g.as_exp().is_some())),
            _ => false,
        };
        if fs.iter().any(is_den) {
            if let Some(i) = fs.iter().position(exp_numerator) {
                let Node::Add(ts) = fs[i].node() else { unreachable!("exp_numerator holds only for sums") };
                let others = expr::all_but(fs, i);
                let terms: Vec<Expr> = ts
                    .iter()
                    .map(|t| {
                        let term = Expr::mul(others.iter().cloned().chain([t.clone()]).collect::<Vec<_>>());
                        self.rewrite(&term)
                    })
                    .collect();
                return self.sum_of_rewritten(terms);
            }
        }
        if !fs.iter().any(is_den) {
            let rebuilt: Vec<Expr> = fs
                .iter()
                .map(|f| match f.node() {
                    Node::Pow(b, x) => match self.hypot(b, x) {
                        Some(h) => h,
                        None => Expr::pow(self.rewrite(b), self.rewrite(x)),
                    },
                    _ => self.rewrite(f),
                })
                .collect();
            return Expr::mul(rebuilt);
        }
        // The exponential factor e^w (a product has at most one; none is e^0), consumed by
        // the first quotient it combines with.
        let mut w = fs.iter().find_map(|f| f.as_exp().cloned()).map(|w| self.rewrite(&w)).unwrap_or_else(Expr::zero);
        let mut out = Vec::new();
        for f in fs {
            if f.as_exp().is_some() {
                continue;
            }
            let Node::Pow(b, x) = f.node() else {
                out.push(self.rewrite(f));
                continue;
            };
            let (Some(terms), Some(n)) = (exp_sum(b), x.as_num().filter(|r| r.is_negative())) else {
                out.push(Expr::pow(self.rewrite(b), self.rewrite(x)));
                continue;
            };
            let n = -n.clone();
            let terms: Vec<ExpTerm> =
                terms.into_iter().map(|t| ExpTerm { coeff: t.coeff, exponent: self.rewrite(&t.exponent) }).collect();
            if let Some(s) = sigmoids(&terms, &n, &w) {
                out.push(s);
            } else {
                out.push(self.max_shift(&terms, &n, &w));
            }
            w = Expr::zero();
        }
        out.push(Expr::exp(w));
        Expr::mul(out)
    }

    /// `e^w/(sum of c_j*e^a_j)^n` as `e^(w - n*m)/(sum of c_j*e^(a_j - m))^n`,
    /// `m = max(a_j)`.
    fn max_shift(&mut self, terms: &[ExpTerm], n: &Rational, w: &Expr) -> Expr {
        let m = self.block(Block::Max(terms.iter().map(|t| t.exponent.clone()).collect()));
        let shifted = Expr::add(
            terms
                .iter()
                .map(|t| Expr::mul([Expr::num(t.coeff.clone()), Expr::exp(Expr::minus(t.exponent.clone(), m.clone()))]))
                .collect::<Vec<_>>(),
        );
        let num = Expr::exp(Expr::minus(w.clone(), Expr::mul([Expr::num(n.clone()), m])));
        Expr::mul([num, Expr::pow(shifted, Expr::num(-n.clone()))])
    }
}

/// `t1 + t2` where one has a square root of a sum and `t1^2 - t2^2` cancels (has fewer
/// nodes than the two squares, after [`cancelled_fraction`]): that difference and the two
/// terms, for `(t1^2 - t2^2)/(t1 - t2)`, which is exact where `t1 + t2` cancels
/// (`sqrt(x^2 + 1) - x` is `1/(sqrt(x^2 + 1) + x)` for x > 0).
fn conjugate(ts: &[Expr]) -> Option<(Expr, Expr, Expr)> {
    let [t1, t2] = ts else { return None };
    let half = Rational::new(1.into(), 2.into());
    let has_root = |t: &Expr| {
        t.factors().iter().any(|f| match f.node() {
            Node::Pow(b, x) => matches!(b.node(), Node::Add(_)) && x.as_num().is_some_and(|r| r.abs() == half),
            _ => false,
        })
    };
    if !has_root(t1) && !has_root(t2) {
        return None;
    }
    let (s1, s2) = (Expr::pow(t1.clone(), Expr::int(2)), Expr::pow(t2.clone(), Expr::int(2)));
    let plain_size = s1.tree_size() + s2.tree_size();
    let diff = Expr::minus(s1, s2);
    let diff = match diff.node() {
        Node::Add(ds) => cancelled_fraction(ds).unwrap_or(diff),
        _ => diff,
    };
    let has_any_root = |e: &Expr| {
        let mut found = false;
        expr::walk(std::slice::from_ref(e), |x| {
            found |= matches!(x.node(), Node::Pow(_, r) if r.as_num().is_some_and(|r| !r.is_integer()));
            if found {
                expr::Walk::Stop
            } else {
                expr::Walk::Descend
            }
        });
        found
    };
    (diff.tree_size() < plain_size && !has_any_root(&diff)).then(|| (diff, t1.clone(), t2.clone()))
}

/// The sum of `ts` with its one `if` taking the other terms into each branch, where
/// there is one `if` and other terms.
fn into_branches(ts: &[Expr]) -> Option<Expr> {
    let i = ts.iter().position(|t| matches!(t.node(), Node::Call(Func::If, _)))?;
    let Node::Call(Func::If, args) = ts[i].node() else { return None };
    if ts.len() < 2 || ts.iter().filter(|t| matches!(t.node(), Node::Call(Func::If, _))).count() > 1 {
        return None;
    }
    let others = expr::all_but(ts, i);
    let last = args.len() - 1;
    let branches = args.iter().enumerate().map(|(k, a)| {
        if k % 2 == 1 || k == last {
            Expr::add(others.iter().cloned().chain([a.clone()]).collect::<Vec<_>>())
        } else {
            a.clone()
        }
    });
    let r = Expr::piecewise(branches.collect());
    // (Unless the constructor takes the terms back out.)
    (!matches!(r.node(), Node::Add(_))).then_some(r)
}

/// `c + t` for a number `c` and a fraction `t = n/d` (`d` a sum) as `(c*d + n)/d`, where
/// that numerator has fewer terms than `d`: the cancellation done exactly.
fn cancelled_fraction(ts: &[Expr]) -> Option<Expr> {
    let [c, t] = ts else { return None };
    c.as_num()?;
    let Node::Mul(fs) = t.node() else { return None };
    let d = fs.iter().find_map(|f| match f.node() {
        Node::Pow(d, m) if *m == Expr::int(-1) && matches!(d.node(), Node::Add(_)) => Some(d.clone()),
        _ => None,
    })?;
    let Node::Add(d_terms) = d.node() else { return None };
    let numerator = Expr::add([Expr::mul([c.clone(), d.clone()]), Expr::mul([t.clone(), d.clone()])]);
    let n_terms = match numerator.node() {
        Node::Add(ns) => ns.len(),
        _ => 1,
    };
    (n_terms < d_terms.len()).then(|| Expr::quotient(numerator, d.clone()))
}

/// `e^w/(c*e^p + c*e^q)^n` as `c^-n*sigmoid(v)^k*sigmoid(-v)^(n - k)`, `v = p - q`,
/// when `w - n*q = k*v` for a whole `k` in `0..=n`.
fn sigmoids(terms: &[ExpTerm], n: &Rational, w: &Expr) -> Option<Expr> {
    let [a, b] = terms else { return None };
    if a.coeff != b.coeff || !n.is_integer() {
        return None;
    }
    let n_int = n.to_integer().to_i64().filter(|&n| n <= 64)?;
    for (p, q) in [(&a.exponent, &b.exponent), (&b.exponent, &a.exponent)] {
        let v = Expr::minus(p.clone(), q.clone());
        let r = Expr::minus(w.clone(), Expr::mul([Expr::num(n.clone()), q.clone()]));
        if let Some(k) = (0..=n_int).find(|&k| Expr::mul([Expr::int(k), v.clone()]) == r) {
            return Some(Expr::mul([
                Expr::pow(Expr::num(a.coeff.clone()), Expr::num(-n.clone())),
                Expr::pow(Expr::builtin(Builtin::Sigmoid, v.clone()), Expr::int(k)),
                Expr::pow(Expr::builtin(Builtin::Sigmoid, Expr::negate(v)), Expr::int(n_int - k)),
            ]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable_text(src: &str) -> String {
        let s = stabilize(&[crate::parse(src).unwrap()]);
        let mut out: String = s.blocks.iter().map(|(n, b)| format!("{n} = {b:?}; ")).collect();
        out.push_str(&s.results[0].to_string());
        out
    }

    #[test]
    fn sigmoid_shapes() {
        assert_eq!(stable_text("e^z/(1+e^z)"), "sigmoid(z)");
        assert_eq!(stable_text("1/(1+e^-z)"), "sigmoid(z)");
        assert_eq!(stable_text("e^z/(1+e^z)^2"), "sigmoid(z)*sigmoid(-z)");
        assert_eq!(stable_text("e^z1/(e^z1+e^z2)"), "sigmoid(z1 - z2)");
        assert_eq!(stable_text("1/(1+e^(-a*z))"), "sigmoid(a*z)");
    }

    #[test]
    fn logs_of_sums_of_exponentials() {
        assert_eq!(stable_text("ln(1+e^x)"), "softplus(x)");
        assert_eq!(stable_text("-ln(1+e^-x)"), "-softplus(-x)");
        assert_eq!(stable_text("ln(e^a+e^b+e^c)"), "#b1 = LogSumExp([a, b, c]); #b1");
        assert_eq!(stable_text("ln(1+x^2)"), "#b1 = Log1p(x^2); #b1");
        assert_eq!(stable_text("1 - e^-y"), "#b1 = Expm1(-y); -#b1");
        assert_eq!(stable_text("1 - sigmoid(x)"), "sigmoid(-x)");
        assert_eq!(stable_text("(1 - cos(x))/x^2"), "2*sin(x/2)^2/x^2");
        assert_eq!(stable_text("ln(1 - e^-x)"), "#b1 = Log1mExp(-x); #b1");
        assert_eq!(stable_text("ln(2 - 2*e^y)"), "#b1 = Log1mExp(y); #b1 + ln(2)");
        assert_eq!(stable_text("3 + 3*cos(2*x)"), "6*cos(x)^2");
        assert_eq!(stable_text("1 - tanh(x)^2"), "sech(x)^2");
        assert_eq!(stable_text("1/4 - 1/(4*tanh(x/2)^2)"), "-csch(x/2)^2/4");
        assert_eq!(stable_text("1 - coth(x)^2"), "-csch(x)^2");
        assert_eq!(stable_text("1/4 - coth(x/2)^2/4"), "-csch(x/2)^2/4");
        // Two terms t and k*t*f with an identity for 1 + k*f, whatever t is.
        assert_eq!(stable_text("x - x*sigmoid(x)"), "x*sigmoid(-x)");
        assert_eq!(stable_text("1 - 2*sigmoid(z)"), "-tanh(z/2)");
        assert_eq!(stable_text("u/2 + u*erf(v)/2"), "u*erfc(-v)/2");
        assert_eq!(stable_text("w + w*tanh(x)"), "2*w*sigmoid(2*x)");
        // A number plus a fraction that cancels over the common denominator.
        assert_eq!(stable_text("x/(1 + x) - 1"), "-1/(1 + x)");
        // An if takes the rest of the sum into its branches.
        assert_eq!(stable_text("1 + if(x > 0, x, e^x - 1)"), "if(x > 0, 1 + x, e^x)");
        // a + softplus(b - a) is the log-sum-exp of a and b.
        assert_eq!(stable_text("a + softplus(b - a)"), "#b1 = LogSumExp([a, b]); #b1");
        assert_eq!(stable_text("softplus(t) - t"), "#b1 = LogSumExp([-t, 0]); #b1");
        assert_eq!(stable_text("x + softplus(y)"), "x + softplus(y)");
        // A numerator with exponentials goes over the denominator term by term.
        assert_eq!(stable_text("(e^z - t)/(1 + e^z)"), "sigmoid(z) - t*sigmoid(-z)");
        // Differences with a square root by the conjugate where they cancel, roots of
        // sums of squares by hypot.
        assert_eq!(stable_text("sqrt(x^2 + 1) - x"), "#b1 = Hypot([1, x]); if(#b1*x > 0, 1/(#b1 + x), #b1 - x)");
        // Log-sigmoids, however the sigmoid is written, are softplus.
        assert_eq!(stable_text("ln(sigmoid(x))"), "-softplus(-x)");
        assert_eq!(stable_text("ln(1/(1 + e^-x))"), "-softplus(-x)");
        assert_eq!(stable_text("ln(1 - 1/(1 + e^-x))"), "-softplus(x)");
        assert_eq!(stable_text("ln(3*x*sigmoid(u)^2)"), "ln(3*x) - 2*softplus(-u)");
        assert_eq!(stable_text("ln(y*(1 + e^x))"), "ln(y) + softplus(x)");
        // A categorical cross-entropy through its logits: no ln of an underflowed softmax.
        assert_eq!(stable_text("-ln(e^a/(e^a + e^b + e^c))"), "#b1 = LogSumExp([0, b - a, c - a]); #b1");
    }

    #[test]
    fn softmax_is_max_shifted() {
        assert_eq!(
            stable_text("e^a/(e^a+e^b+e^c)"),
            "#b1 = Max([a, b, c]); e^(a - #b1)/(e^(a - #b1) + e^(b - #b1) + e^(c - #b1))"
        );
    }

    #[test]
    fn stable_values_at_large_inputs() {
        let env = |z: f64| crate::eval::Env::from([(Sym::new("z"), z), (Sym::new("w"), 1.0)]);
        let at = |src: &str, z: f64| crate::eval::eval(&crate::parse(src).unwrap(), &env(z)).unwrap();
        assert_eq!(at("e^z/(1+e^z)", 800.0), 1.0);
        assert_eq!(at("e^z/(1+e^z)", -800.0), 0.0);
        assert_eq!(at("ln(1+e^z)", 1000.0), 1000.0);
        assert_eq!(at("ln(e^z + e^w + 1)", 1000.0), 1000.0);
        assert_eq!(at("e^w/(e^z + e^w + 1)", 1000.0), 0.0);
        assert_eq!(at("e^z/(e^z + e^w + 1)", 1000.0), 1.0);
        assert!((at("ln(1+e^z)", -50.0) - 1.9287498479639178e-22).abs() < 1e-35);
    }
}
