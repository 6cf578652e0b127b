//! Numeric evaluation in `f64` and in forward-mode dual numbers.
//!
//! [`eval`] computes a value; [`eval_dual`] computes a value and its derivative along one
//! variable at once, without looking at any symbolic derivative: built-ins use the
//! hand-written `slope` of their row ([`Builtin::def`]), so the dual numbers are an
//! independent witness for the symbolic differentiator. Abstract functions are evaluated
//! through a [`Model`], a concrete smooth family standing in for `g` and all its
//! derivatives.

use std::collections::HashMap;
use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::error::{Error, ErrorKind, Result};
use crate::expr::IdMap;
use crate::expr::{AbstractFn, Constant, Expr, Func, Node, Sym};
use crate::func::Builtin;
use crate::number;

/// Values of the variables.
pub type Env = HashMap<Sym, f64>;

/// A concrete stand-in for abstract functions: `f(x1..xn) = sin(a·x + b) + c·|x|²/2`,
/// with parameters drawn per function name from a seed.
#[derive(Clone, Debug)]
pub struct Model {
    seed: u64,
}

impl Model {
    /// A model whose parameters are drawn from `seed`.
    pub fn new(seed: u64) -> Model {
        Model { seed }
    }

    fn params(&self, name: &Sym, n: usize) -> (Vec<f64>, f64, f64) {
        let mut h = self.seed ^ 0x9E37_79B9_7F4A_7C15;
        for b in name.as_str().bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
        let mut rng = crate::rng::Rng::new(h);
        let a = (0..n).map(|_| rng.uniform(0.6, 1.4)).collect();
        (a, rng.uniform(-1.0, 1.0), rng.uniform(0.2, 0.8))
    }

    /// The value of `f`, differentiated by `f.partials`, at `args`.
    pub fn value(&self, f: &AbstractFn, args: &[f64]) -> f64 {
        let (a, b, c) = self.params(&f.name, args.len());
        let s: f64 = a.iter().zip(args).map(|(ai, xi)| ai * xi).sum::<f64>() + b;
        let k = f.partials.len();
        let scale: f64 = f.partials.iter().map(|&i| a[i as usize]).product();
        let trig = scale * (s + k as f64 * std::f64::consts::FRAC_PI_2).sin();
        let quad = match f.partials.as_slice() {
            [] => c * args.iter().map(|x| x * x).sum::<f64>() / 2.0,
            [i] => c * args[*i as usize],
            [i, j] if i == j => c,
            _ => 0.0,
        };
        trig + quad
    }
}

/// A number type the evaluator can run on.
pub trait Scalar:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// A constant.
    fn constant(v: f64) -> Self;
    /// The real part.
    fn value(self) -> f64;
    /// `self ^ e`.
    fn pow(self, e: Self) -> Self;
    /// `self ^ (p/q)` for an exact exponent, real for negative bases when `q` is odd.
    fn pow_rational(self, p: i64, q: i64) -> Self;
    /// A built-in function of one argument.
    fn builtin(self, f: Builtin) -> Self;
    /// An abstract function.
    fn abstract_call(model: &Model, f: &AbstractFn, args: &[Self]) -> Self;
}

/// `b^(p/q)` for an exact rational exponent: real for a negative base when `q` is odd
/// (the real cube root of -8 is -2).
fn rational_pow(b: f64, p: i64, q: i64) -> f64 {
    let e = p as f64 / q as f64;
    if b < 0.0 && q % 2 == 1 {
        let mag = (-b).powf(e);
        return if p % 2 == 0 { mag } else { -mag };
    }
    if q == 1 && p.unsigned_abs() < i32::MAX as u64 {
        return b.powi(p as i32);
    }
    b.powf(e)
}

impl Scalar for f64 {
    fn constant(v: f64) -> f64 {
        v
    }
    fn value(self) -> f64 {
        self
    }
    fn pow(self, e: f64) -> f64 {
        self.powf(e)
    }
    fn pow_rational(self, p: i64, q: i64) -> f64 {
        rational_pow(self, p, q)
    }
    fn builtin(self, f: Builtin) -> f64 {
        (f.def().eval)(self)
    }
    fn abstract_call(model: &Model, f: &AbstractFn, args: &[f64]) -> f64 {
        model.value(f, args)
    }
}

/// A dual number `v + d·ε` with `ε² = 0`: carries a derivative through arithmetic. Its
/// parts are plain numbers, or [`Mag`]s that also carry how much their arithmetic
/// cancelled ([`eval_dual_magnitude`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<T = f64> {
    /// The value.
    pub v: T,
    /// The derivative.
    pub d: T,
}

/// What a dual number's parts need.
pub trait Part:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
}

impl<T: Copy + Add<Output = T> + Sub<Output = T> + Mul<Output = T> + Div<Output = T> + Neg<Output = T>> Part for T {}

impl<T: Part> Add for Dual<T> {
    type Output = Dual<T>;
    fn add(self, o: Dual<T>) -> Dual<T> {
        Dual { v: self.v + o.v, d: self.d + o.d }
    }
}

impl<T: Part> Sub for Dual<T> {
    type Output = Dual<T>;
    fn sub(self, o: Dual<T>) -> Dual<T> {
        Dual { v: self.v - o.v, d: self.d - o.d }
    }
}

impl<T: Part> Mul for Dual<T> {
    type Output = Dual<T>;
    fn mul(self, o: Dual<T>) -> Dual<T> {
        Dual { v: self.v * o.v, d: self.d * o.v + self.v * o.d }
    }
}

impl<T: Part> Div for Dual<T> {
    type Output = Dual<T>;
    fn div(self, o: Dual<T>) -> Dual<T> {
        Dual { v: self.v / o.v, d: (self.d * o.v - self.v * o.d) / (o.v * o.v) }
    }
}

impl<T: Part> Neg for Dual<T> {
    type Output = Dual<T>;
    fn neg(self) -> Dual<T> {
        Dual { v: -self.v, d: -self.d }
    }
}

impl Scalar for Dual {
    fn constant(v: f64) -> Dual {
        Dual { v, d: 0.0 }
    }
    fn value(self) -> f64 {
        self.v
    }
    fn pow(self, e: Dual) -> Dual {
        let v = Scalar::pow(self.v, e.v);
        // d(b^e) = e*b^(e-1)*b' + b^e*ln(b)*e', each term only where it is not zero.
        let mut d = 0.0;
        if self.d != 0.0 {
            d += e.v * Scalar::pow(self.v, e.v - 1.0) * self.d;
        }
        if e.d != 0.0 {
            d += v * self.v.ln() * e.d;
        }
        Dual { v, d }
    }
    fn pow_rational(self, p: i64, q: i64) -> Dual {
        let d = if self.d == 0.0 { 0.0 } else { p as f64 / q as f64 * rational_pow(self.v, p - q, q) * self.d };
        Dual { v: rational_pow(self.v, p, q), d }
    }
    fn builtin(self, f: Builtin) -> Dual {
        let f = f.def();
        let d = if self.d == 0.0 { 0.0 } else { (f.slope)(self.v) * self.d };
        Dual { v: (f.eval)(self.v), d }
    }
    fn abstract_call(model: &Model, f: &AbstractFn, args: &[Dual]) -> Dual {
        let vals: Vec<f64> = args.iter().map(|a| a.v).collect();
        let mut d = 0.0;
        for (i, a) in args.iter().enumerate() {
            if a.d != 0.0 {
                let mut partials = f.partials.clone();
                partials.push(i as u32);
                partials.sort_unstable();
                d += model.value(&AbstractFn { name: f.name.clone(), partials }, &vals) * a.d;
            }
        }
        Dual { v: model.value(f, &vals), d }
    }
}

/// A value with the magnitude of the arithmetic that made it: the value computed with
/// every term counted positive (for a sum with cancellation, the sum of the terms'
/// sizes). Floating-point rounding errs by about `f64::EPSILON * m`, so a value can only
/// be trusted to that: `1 - 4095*p + 523250*p^2 - ...` at `p = 0.5` is small with a
/// large magnitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mag {
    /// The value.
    pub v: f64,
    /// The magnitude.
    pub m: f64,
}

impl Mag {
    /// An exact input: its magnitude is its value.
    pub fn exact(v: f64) -> Mag {
        Mag { v, m: v.abs() }
    }
    /// How much larger than the value the magnitude is (at least 1).
    fn spread(self) -> f64 {
        if self.v == 0.0 {
            1.0
        } else {
            (self.m / self.v.abs()).max(1.0)
        }
    }
}

impl Add for Mag {
    type Output = Mag;
    fn add(self, o: Mag) -> Mag {
        Mag { v: self.v + o.v, m: self.m + o.m }
    }
}

impl Sub for Mag {
    type Output = Mag;
    fn sub(self, o: Mag) -> Mag {
        Mag { v: self.v - o.v, m: self.m + o.m }
    }
}

impl Mul for Mag {
    type Output = Mag;
    fn mul(self, o: Mag) -> Mag {
        Mag { v: self.v * o.v, m: self.m * o.m }
    }
}

impl Div for Mag {
    type Output = Mag;
    fn div(self, o: Mag) -> Mag {
        let v = self.v / o.v;
        Mag { v, m: (self.m / o.v.abs()) * o.spread() }
    }
}

impl Neg for Mag {
    type Output = Mag;
    fn neg(self) -> Mag {
        Mag { v: -self.v, m: self.m }
    }
}

impl Scalar for Mag {
    fn constant(v: f64) -> Mag {
        Mag::exact(v)
    }
    fn value(self) -> f64 {
        self.v
    }
    fn pow(self, e: Mag) -> Mag {
        let v = Scalar::pow(self.v, e.v);
        Mag { v, m: v.abs() * self.spread().powf(e.v.abs()) * e.spread() }
    }
    fn pow_rational(self, p: i64, q: i64) -> Mag {
        let v = rational_pow(self.v, p, q);
        Mag { v, m: v.abs() * self.spread().powf((p as f64 / q as f64).abs()) }
    }
    fn builtin(self, f: Builtin) -> Mag {
        let f = f.def();
        let v = (f.eval)(self.v);
        // An error in the argument moves the value by the slope times the error. The
        // error is what cancelled in the argument (`m - |v|`) and, where the function
        // amplifies relative errors (condition number `|slope*u/f(u)|` above 1), the
        // argument's own rounding too: `1 + e^x` at x = -36 is a few ulps of 1, which
        // `ln` turns into an error as large as its value. (Without it a check trusted
        // `ln(1 + e^x)` there and failed a right derivative against it.) Where the
        // function does not amplify, that rounding is within the value's own.
        let slope = (f.slope)(self.v).abs();
        let error = if slope * self.v.abs() > v.abs() { self.m } else { self.m - self.v.abs() };
        Mag { v, m: v.abs() + slope * error }
    }
    fn abstract_call(model: &Model, f: &AbstractFn, args: &[Mag]) -> Mag {
        let vals: Vec<f64> = args.iter().map(|a| a.v).collect();
        Mag::exact(model.value(f, &vals))
    }
}

/// [`eval_with`] on magnitudes: the value and the size of the arithmetic behind it.
pub fn eval_magnitude(e: &Expr, env: &Env, model: Option<&Model>) -> Result<Mag> {
    let vars: HashMap<Sym, Mag> = env.iter().map(|(k, &v)| (k.clone(), Mag::exact(v))).collect();
    eval_with(e, &vars, model)
}

/// Evaluates `e` on any [`Scalar`], with variables from `vars`. Shared nodes are
/// evaluated once.
pub fn eval_with<S: Scalar>(e: &Expr, vars: &HashMap<Sym, S>, model: Option<&Model>) -> Result<S> {
    let mut memo: IdMap<S> = IdMap::default();
    eval_rec(e, vars, model, &mut memo)
}

/// [`eval_with`] with a memo of node values kept by the caller, for evaluating many
/// expressions that share nodes at the same point (the memo is only valid for `vars`).
pub fn eval_with_memo<S: Scalar>(
    e: &Expr,
    vars: &HashMap<Sym, S>,
    model: Option<&Model>,
    memo: &mut IdMap<S>,
) -> Result<S> {
    eval_rec(e, vars, model, memo)
}

fn eval_rec<S: Scalar>(e: &Expr, vars: &HashMap<Sym, S>, model: Option<&Model>, memo: &mut IdMap<S>) -> Result<S> {
    if let Some(v) = memo.get(&e.id()) {
        return Ok(*v);
    }
    crate::limits::deep(|| eval_node(e, vars, model, memo))
}

fn eval_node<S: Scalar>(e: &Expr, vars: &HashMap<Sym, S>, model: Option<&Model>, memo: &mut IdMap<S>) -> Result<S> {
    crate::limits::tick();
    let v = match e.node() {
        Node::Num(r) => S::constant(number::to_f64(r)),
        Node::Const(Constant::Pi) => S::constant(std::f64::consts::PI),
        Node::Var(s) => *vars.get(s).ok_or_else(|| Error::new(ErrorKind::NoValue { name: s.to_string() }))?,
        Node::Add(ts) => {
            let mut acc = S::constant(0.0);
            for t in ts {
                acc = acc + eval_rec(t, vars, model, memo)?;
            }
            acc
        }
        Node::Mul(fs) => {
            let mut acc = S::constant(1.0);
            for f in fs {
                acc = acc * eval_rec(f, vars, model, memo)?;
            }
            acc
        }
        Node::Pow(b, x) => match small_ratio(x) {
            Some((p, q)) => eval_rec(b, vars, model, memo)?.pow_rational(p, q),
            None => {
                let b = eval_rec(b, vars, model, memo)?;
                b.pow(eval_rec(x, vars, model, memo)?)
            }
        },
        Node::Call(Func::Builtin(f), args) => eval_rec(&args[0], vars, model, memo)?.builtin(*f),
        Node::Call(Func::Indexed(b), args) => {
            let mut idx = Vec::new();
            for a in args {
                idx.push(eval_rec(a, vars, model, memo)?.value().round() as i64);
            }
            let key = crate::expr::element_name(b, &idx);
            match vars.get(&key) {
                Some(v) => *v,
                // An element no one gave a value: a fixed pseudo-random one, so that checks
                // of indexed expressions need not list every element.
                None => S::constant(element_value(&key)),
            }
        }
        Node::Call(Func::Cmp(op), args) => {
            let a = eval_rec(&args[0], vars, model, memo)?.value();
            let b = eval_rec(&args[1], vars, model, memo)?.value();
            // Undefined where a side is: neither `a > b` nor its negation `a <= b` holds.
            S::constant(if a.is_nan() || b.is_nan() { f64::NAN } else { f64::from(u8::from(op.holds(a, b))) })
        }
        // Only the branch taken is evaluated: `if(x > 0, x, e^x - 1)` is finite at
        // x = 1000, though `e^x` is not.
        Node::Call(Func::If, args) => {
            let mut taken = &args[args.len() - 1];
            for pair in args[..args.len() - 1].chunks(2) {
                let c = eval_rec(&pair[0], vars, model, memo)?.value();
                if c.is_nan() {
                    return Ok(S::constant(f64::NAN));
                }
                if c != 0.0 {
                    taken = &pair[1];
                    break;
                }
            }
            eval_rec(taken, vars, model, memo)?
        }
        // The first argument (in deriv's order) of the largest (smallest) value: its
        // derivative is the one taken at a tie, as `diff` takes it.
        Node::Call(f @ (Func::Max | Func::Min), args) => {
            let mut best = eval_rec(&args[0], vars, model, memo)?;
            for a in &args[1..] {
                let v = eval_rec(a, vars, model, memo)?;
                if v.value().is_nan() || best.value().is_nan() {
                    return Ok(S::constant(f64::NAN));
                }
                let better = if *f == Func::Max { v.value() > best.value() } else { v.value() < best.value() };
                if better {
                    best = v;
                }
            }
            best
        }
        Node::Call(Func::Delta, args) => {
            let a = eval_rec(&args[0], vars, model, memo)?.value();
            let b = eval_rec(&args[1], vars, model, memo)?.value();
            S::constant(if a == b { 1.0 } else { 0.0 })
        }
        Node::Call(f @ (Func::Sum(k) | Func::Prod(k)), args) => {
            let product = matches!(f, Func::Prod(_));
            let (lo, hi) = match args.get(1..3) {
                Some([lo, hi]) => (
                    eval_rec(lo, vars, model, memo)?.value().round() as i64,
                    eval_rec(hi, vars, model, memo)?.value().round() as i64,
                ),
                _ => (1, DEFAULT_RANGE),
            };
            if hi - lo > 100_000 {
                return Err(Error::new(ErrorKind::SumTooLong { index: k.to_string() }));
            }
            let mut acc = S::constant(if product { 1.0 } else { 0.0 });
            for i in lo..=hi {
                let mut inner = vars.clone();
                inner.insert(k.clone(), S::constant(i as f64));
                let v = eval_with(&args[0], &inner, model)?;
                acc = if product { acc * v } else { acc + v };
            }
            acc
        }
        Node::Call(Func::Abstract(f), args) => {
            let model = model.ok_or_else(|| Error::new(ErrorKind::AbstractValue { name: f.name.to_string() }))?;
            let mut xs = Vec::with_capacity(args.len());
            for a in args {
                xs.push(eval_rec(a, vars, Some(model), memo)?);
            }
            S::abstract_call(model, f, &xs)
        }
    };
    memo.insert(e.id(), v);
    Ok(v)
}

/// The exponent as a small exact fraction `p/q`, when it is a number.
fn small_ratio(x: &Expr) -> Option<(i64, i64)> {
    use num_traits::ToPrimitive;
    let r = x.as_num()?;
    Some((r.numer().to_i64()?, r.denom().to_i64()?))
}

/// The range an index runs over, `1..=DEFAULT_RANGE`, in a sum written without bounds.
pub const DEFAULT_RANGE: i64 = 3;

/// A fixed value in [0.2, 1.4] for an element of an indexed variable that was given none.
fn element_value(key: &Sym) -> f64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for b in key.as_str().bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    0.2 + 1.2 * ((h >> 11) as f64 / (1u64 << 53) as f64)
}

/// The value of `e` at `env`, computed in the stable forms of `crate::stable`: the
/// sigmoid, softplus, log-sum-exp and softmax stay finite for large inputs
/// (`e^z/(1 + e^z)` is 1 at `z = 800`, not `inf/inf`), as in generated code.
pub fn eval(e: &Expr, env: &Env) -> Result<f64> {
    eval_many(e, std::slice::from_ref(env))?.pop().expect("one value for one point")
}

/// The value of `e` at each of `points`, as [`eval`] computes it (the stable form
/// worked out once): an error for a variable with no value at the first point, and
/// otherwise each point's own result.
pub fn eval_many(e: &Expr, points: &[Env]) -> Result<Vec<Result<f64>>> {
    let s = crate::stable::stabilize(std::slice::from_ref(e));
    let mut out = Vec::with_capacity(points.len());
    for (i, env) in points.iter().enumerate() {
        let mut env = env.clone();
        let mut value = || {
            for (name, block) in &s.blocks {
                let args = block.args().iter().map(|a| eval_with(a, &env, None)).collect::<Result<Vec<f64>>>()?;
                env.insert(name.clone(), block.value(&args));
            }
            eval_with(&s.results[0], &env, None)
        };
        match value() {
            Err(err) if i == 0 && matches!(err.kind(), ErrorKind::NoValue { .. }) => return Err(err),
            v => out.push(v),
        }
    }
    Ok(out)
}

/// With [`Mag`] parts: the derivative by dual numbers, with how much its own arithmetic
/// cancelled. `sinh(x + 30)*e^-x` is about `e^30/2` with a derivative of
/// `-e^(-2*x - 30)`, which dual numbers compute as the difference of two terms of about
/// `e^30/2`: the magnitude says the result is noise there, so a check does not hold a
/// right formula to it.
impl Dual<Mag> {
    /// The plain dual number, for the rules' own derivatives.
    fn plain(self) -> Dual {
        Dual { v: self.v.v, d: self.d.v }
    }

    /// The value `v` with the derivative `d` (worked out on the plain parts), whose
    /// terms came to `terms` in size.
    fn with_derivative(v: Mag, d: f64, terms: f64) -> Dual<Mag> {
        Dual { v, d: Mag { v: d, m: terms.abs().max(d.abs()) } }
    }
}

impl Scalar for Dual<Mag> {
    fn constant(v: f64) -> Dual<Mag> {
        Dual { v: Mag::exact(v), d: Mag::exact(0.0) }
    }
    fn value(self) -> f64 {
        self.v.v
    }
    fn pow(self, e: Dual<Mag>) -> Dual<Mag> {
        let plain = Scalar::pow(self.plain(), e.plain());
        // (Each term's size: the factors' values times the derivatives' magnitudes.)
        let mut terms = 0.0;
        if self.d.v != 0.0 {
            terms += (e.v.v * Scalar::pow(self.v.v, e.v.v - 1.0)).abs() * self.d.m;
        }
        if e.d.v != 0.0 {
            terms += (plain.v * self.v.v.ln()).abs() * e.d.m;
        }
        Dual::with_derivative(Scalar::pow(self.v, e.v), plain.d, terms)
    }
    fn pow_rational(self, p: i64, q: i64) -> Dual<Mag> {
        let plain = self.plain().pow_rational(p, q);
        let factor = if self.d.v == 0.0 { 0.0 } else { plain.d / self.d.v };
        Dual::with_derivative(self.v.pow_rational(p, q), plain.d, factor.abs() * self.d.m)
    }
    fn builtin(self, f: Builtin) -> Dual<Mag> {
        let plain = self.plain().builtin(f);
        let slope = (f.def().slope)(self.v.v).abs();
        Dual::with_derivative(self.v.builtin(f), plain.d, slope * self.d.m)
    }
    fn abstract_call(model: &Model, f: &AbstractFn, args: &[Dual<Mag>]) -> Dual<Mag> {
        let plain: Vec<Dual> = args.iter().map(|a| a.plain()).collect();
        let d = Dual::abstract_call(model, f, &plain);
        let magnitudes: Vec<Mag> = args.iter().map(|a| a.v).collect();
        Dual { v: Mag::abstract_call(model, f, &magnitudes), d: Mag::exact(d.d) }
    }
}

/// The value of `e` and of its derivative along `x` at `env`, by dual numbers, each
/// with its magnitude (`Dual<Mag>`).
pub fn eval_dual_magnitude(e: &Expr, env: &Env, x: &Sym, model: Option<&Model>) -> Result<Dual<Mag>> {
    let vars: HashMap<Sym, Dual<Mag>> = env
        .iter()
        .map(|(k, &v)| (k.clone(), Dual { v: Mag::exact(v), d: Mag::exact(if k == x { 1.0 } else { 0.0 }) }))
        .collect();
    eval_with(e, &vars, model)
}

/// The value of `e` and of its derivative along `x` at `env`, by dual numbers.
pub fn eval_dual(e: &Expr, env: &Env, x: &Sym, model: Option<&Model>) -> Result<Dual> {
    let vars: HashMap<Sym, Dual> =
        env.iter().map(|(k, &v)| (k.clone(), Dual { v, d: if k == x { 1.0 } else { 0.0 } })).collect();
    eval_with(e, &vars, model)
}
