//! Identity tests by evaluation modulo a prime: whether an expression (in the kernel
//! view's terms) is zero, read off its value at two random points of the field of
//! integers modulo `P = 2^61 - 1` (the Schwartz–Zippel lemma).
//!
//! The expression is valued as the kernel view writes it as a rational function of its
//! atoms: variables and calls take random values, an exponential `e^(c*w)` is a power of
//! one random value per exponent `w` (so `e^(2*x)` is `(e^x)^2` and `e^(x/2)*e^(x/2)` is
//! `e^x`), and a sine and a cosine of one argument are a random point of the circle,
//! `(2*s/(1 + s^2), (1 - s^2)/(1 + s^2))`, so the Pythagorean identity holds. Everything
//! the exact proof ([`super::proved_equal`]) counts as an identity of those rational
//! functions therefore values to exactly zero here. A call's value is a random function
//! of its arguments' values (not of how they are written), which only adds identities
//! that hold: `erf(x*(1 + y))` and `erf(x + x*y)` are one value.
//!
//! Conversely, a nonzero rational function of degree `n` vanishes at a random point with
//! probability at most `n/P` (about `n*4e-19`), at two independent points at most the
//! square of that. A root `b^(k/q)` is the `k`th power of a random function of `b`, and
//! `abs(u)` a call: the relations the view knows of them (`b^(1/q)` to the `q`th power
//! is `b`, `abs(u)^2` is `u^2`) are not valued, so a zero is still a proof but a nonzero
//! value is not a disproof there (the caller asks the exact proof). Where a value
//! divides by zero, the test gives no answer.

use crate::expr::FastMap as HashMap;
use std::hash::{Hash, Hasher};

use num_integer::Integer;
use num_traits::ToPrimitive;

use super::kernel;
use crate::expr::{self, Expr, Func, IdMap, Node};
use crate::func::Builtin;
use crate::number::{self, Rational};

/// The prime `2^61 - 1`.
const P: u64 = number::MERSENNE_61;

/// The largest common denominator of one exponent's coefficients valued here.
const MAX_UNIT: u64 = 1 << 20;

/// The two points, as seeds of the random values.
const SEEDS: [u64; 2] = [0x9e37_79b9_7f4a_7c15, 0xd1b5_4a32_d192_ed03];

/// Whether `e` is zero, by its value at two random points: `Some(true)` where both are
/// zero, `Some(false)` where one is not, `None` where `e` has an exponent with too large
/// a denominator or divides by zero at a point.
pub(crate) fn is_zero(e: &Expr) -> Option<bool> {
    let exponentials = exponentials(e)?;
    for seed in SEEDS {
        let mut point = Point { seed, exponentials: &exponentials, memo: IdMap::default() };
        if crate::limits::deep(|| point.value(e))? != 0 {
            return Some(false);
        }
    }
    Some(true)
}

/// Each exponential `e^(c1*w1 + c2*w2 + ...)` in `e` (by its id), as the whole powers
/// `(k_i, w_i)` of `e^(w_i/n_i)` it is, where `n_i` is the common denominator of every
/// coefficient of `w_i` in `e`; `None` where one is too large.
fn exponentials(e: &Expr) -> Option<IdMap<Vec<(i64, u64)>>> {
    let mut terms: Vec<(u64, Vec<(Rational, Expr)>)> = Vec::new();
    let mut units: HashMap<Expr, u64> = HashMap::default();
    let mut fits = true;
    expr::walk(std::slice::from_ref(e), |x| {
        if let Some(u) = x.as_exp() {
            let ts = kernel::exponent_terms(u);
            for (c, rest) in &ts {
                let d = c.denom().to_u64().filter(|&d| d <= MAX_UNIT);
                let unit = units.entry(rest.clone()).or_insert(1);
                match d.map(|d| unit.lcm(&d)).filter(|&l| l <= MAX_UNIT) {
                    Some(l) => *unit = l,
                    None => fits = false,
                }
            }
            terms.push((x.id(), ts));
        }
        expr::Walk::Descend
    });
    if !fits {
        return None;
    }
    let mut out = IdMap::default();
    for (id, ts) in terms {
        let powers = ts.into_iter().map(|(c, rest)| {
            let unit = i64::try_from(units[&rest]).ok()?;
            let (n, d) = (c.numer().to_i64()?, c.denom().to_i64()?);
            Some((n.checked_mul(unit / d)?, rest.id()))
        });
        out.insert(id, powers.collect::<Option<Vec<_>>>()?);
    }
    Some(out)
}

struct Point<'a> {
    seed: u64,
    exponentials: &'a IdMap<Vec<(i64, u64)>>,
    memo: IdMap<Option<u64>>,
}

impl Point<'_> {
    /// The value of `e` at this point, `None` where it divides by zero or cannot be
    /// valued.
    fn value(&mut self, e: &Expr) -> Option<u64> {
        if let Some(v) = self.memo.get(&e.id()) {
            return *v;
        }
        let v = self.value_of(e);
        self.memo.insert(e.id(), v);
        v
    }

    fn value_of(&mut self, e: &Expr) -> Option<u64> {
        match e.node() {
            Node::Num(r) => number::residue(r, P),
            Node::Var(s) => Some(self.random(&("var", s))),
            Node::Const(c) => Some(self.random(&("const", c))),
            Node::Add(ts) => ts.iter().try_fold(0, |acc, t| Some(add(acc, self.value(t)?))),
            Node::Mul(fs) => fs.iter().try_fold(1, |acc, f| Some(mul(acc, self.value(f)?))),
            Node::Pow(b, x) => {
                let base = self.value(b)?;
                match x.as_num() {
                    Some(r) => self.rational_power(base, r),
                    None => {
                        // `b^(w + c)` is `b^w*b^c`, as the view writes it.
                        let (w, c) = kernel::split_exponent(x).unwrap_or_else(|| (x.clone(), number::int(0)));
                        let exponent = self.value(&w)?;
                        let varying = self.random(&("pow", base, exponent));
                        Some(mul(varying, self.rational_power(base, &c)?))
                    }
                }
            }
            Node::Call(Func::Builtin(Builtin::Exp), _) => {
                // e^(c*w) = (e^(w/n))^(c*n), a whole power.
                let mut acc = 1;
                for &(k, rest) in self.exponentials.get(&e.id())? {
                    acc = mul(acc, power(self.random(&("exp", rest)), k)?);
                }
                Some(acc)
            }
            Node::Call(Func::Builtin(f @ (Builtin::Sin | Builtin::Cos)), args) => {
                // A point of the circle, by the argument's value.
                let arg = self.value(&args[0])?;
                let s = self.random(&("circle", arg));
                let s2 = mul(s, s);
                let over = number::inv_mod(add(1, s2), P)?;
                Some(match f {
                    Builtin::Sin => mul(mul(2, s), over),
                    _ => mul(sub(1, s2), over),
                })
            }
            Node::Call(f, args) => {
                let values: Vec<u64> = args.iter().map(|a| self.value(a)).collect::<Option<_>>()?;
                Some(self.random(&("call", f, values)))
            }
        }
    }

    /// `base^r`: a whole power, or for `r = k/q` the `k`th power of a random function of
    /// `base` (what its `q`th power is, the view's relation, is not valued here: a
    /// nonzero value is left to the exact proof).
    fn rational_power(&self, base: u64, r: &Rational) -> Option<u64> {
        let (k, q) = (r.numer().to_i64()?, r.denom().to_i64()?);
        let root = if q == 1 { base } else { self.random(&("root", base, q)) };
        power(root, k)
    }

    /// A random nonzero value for `key` at this point.
    fn random(&self, key: &impl Hash) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.seed, key).hash(&mut h);
        // (Mixed, so that nearby keys spread.)
        crate::rng::Rng::new(h.finish()).next_u64() % (P - 1) + 1
    }
}

fn add(a: u64, b: u64) -> u64 {
    // (Both below P < 2^61: the sum fits, and is below 2P.)
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn sub(a: u64, b: u64) -> u64 {
    add(a, P - b)
}

fn mul(a: u64, b: u64) -> u64 {
    number::mul_mod(a, b, P)
}

/// `a^n` (a negative `n`: of the inverse); `None` for a negative power of 0.
fn power(a: u64, n: i64) -> Option<u64> {
    let base = if n < 0 { number::inv_mod(a, P)? } else { a };
    Some(number::pow_mod(base, n.unsigned_abs(), P))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero(s: &str) -> Option<bool> {
        is_zero(&kernel::expand(&crate::parse::parse_expr(s).unwrap_or_else(|e| panic!("{s}: {e}"))))
    }

    #[test]
    fn identities_of_the_kernel_view_value_to_zero() {
        for s in [
            "e^(2*x) - (e^x)^2",
            "e^(x/2)*e^(x/2) - e^x",
            "sin(u)^2 + cos(u)^2 - 1",
            "tanh(x) - sinh(x)/cosh(x)",
            "sigmoid(z) - e^z/(1 + e^z)",
            "(a + b)^3 - a^3 - 3*a^2*b - 3*a*b^2 - b^3",
            "x^(1/x - 2) - x^(1/x)/x^2",
            "erf(x*(1 + y)) - erf(x + x*y)",
            "1/(1 - sin(t)^2) - 1/cos(t)^2",
        ] {
            assert_eq!(zero(s), Some(true), "{s}");
        }
    }

    #[test]
    fn what_is_not_an_identity_is_not_zero() {
        for s in [
            "e^(2*x) - e^x",
            "sin(u) - cos(u)",
            "sin(2*u) - 2*sin(u)*cos(u)",
            "tanh(x) - sigmoid(x)",
            "(a + b)^2 - a^2 - b^2",
            "erf(x) - erf(y)",
            "x^(1/x) - x^(2/x)",
        ] {
            assert_eq!(zero(s), Some(false), "{s}");
        }
    }

    #[test]
    fn roots_are_powers_of_a_random_function_and_poles_give_no_answer() {
        // A root's power is not worked out: zero is a proof, nonzero is no disproof.
        assert_eq!(zero("sqrt(1 + x)*sqrt(1 + x)^3 - (1 + x)^2"), Some(true));
        assert_eq!(zero("(sqrt(1 + x) + 1)*(sqrt(1 + x) - 1) - x"), Some(false));
        assert_eq!(zero("1/(sin(u)^2 + cos(u)^2 - 1)"), None);
    }
}
