//! Roots in whole numbers. A root of a sum is also written with the sum over a common
//! denominator and made primitive (integer coefficients, content 1): `(1 - x^2/9)^(1/2)`
//! is `(9 - x^2)^(1/2)/3`, `(1 - 1/x^2)^(1/2)` is `(x^2 - 1)^(1/2)/abs(x)`. A product
//! then takes an even power of what came out of a root as a power of its absolute value
//! (`x^2/abs(x)` is `abs(x)`), and a sum whose terms hold powers of one root over the
//! lowest of them (`u^(-1/2) - a*x^2*u^(-3/2)` is `u^(-3/2)*(u - a*x^2)`, with the rest
//! collected as a polynomial). The search takes these forms only where strictly
//! cheaper, proved equal and checked like any other; the proof writes every root the
//! same way ([`canonical`]) and knows what a root to its degree is.

use crate::expr::FastMap as HashMap;
use crate::expr::FastSet as HashSet;

use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::kernel::View;
use crate::expr::{self, Expr, Func, Node};
use crate::func::Builtin;
use crate::number::Rational;

/// The most terms a sum may have to be put over a power of a root, and the largest root
/// degree looked at.
const MAX_TERMS: usize = 12;
const MAX_DEGREE: i64 = 6;

/// A root's base `b` over the common denominator of its terms: `c*P/D`, with `c` a
/// positive number, `P` primitive (integer coefficients, content 1) and `D` a `q`-th
/// power (each factor's exponent in the denominators rounded up to a multiple of `q`).
struct Split {
    c: Rational,
    p: Expr,
    /// `D^(-r)`: for `D = f^(q*m)`, `abs(f)^(-k*m)` (`f^(-k*m)` where `q` is odd or `m`
    /// even), `r = k/q`.
    outside: Expr,
}

/// `b^r` for a fraction `r = k/q` as [`Split`] writes `b`; `None` where the base is no
/// sum, product or power of variables, `q` is beyond [`MAX_DEGREE`], or nothing would
/// change.
///
/// `(c*P/D)^r = c^r*P^r*D^(-r)` is exact over the reals wherever either side is defined:
/// `c > 0`, and `D = f^(q*m)` has the real `q`-th root `abs(f)^m` (`f^m` where `q` is
/// odd, or `m` even), whatever the sign of `f`.
fn split(b: &Expr, r: &Rational) -> Option<Split> {
    let q = r.denom().to_i64().filter(|q| (2..=MAX_DEGREE).contains(q))?;
    let k = r.numer().to_i64()?;
    // (A constant's root is a number of its own: `sqrt(2/pi)` stays.)
    if !b.has_vars() {
        return None;
    }
    let terms: Vec<Expr> = match b.node() {
        Node::Add(ts) => ts.clone(),
        Node::Mul(_) | Node::Pow(..) => vec![b.clone()],
        _ => return None,
    };
    // The common denominator, as bases and their exponents (multiples of q).
    let mut den: Vec<(Expr, i64)> = Vec::new();
    for t in &terms {
        for f in t.factors() {
            let Node::Pow(base, n) = f.node() else { continue };
            // (A constant divisor stays in P: `abs(pi)` would say nothing.)
            if !base.has_vars() {
                continue;
            }
            let Some(n) =
                n.as_num().filter(|n| n.is_integer() && n.is_negative()).and_then(|n| (-n).to_integer().to_i64())
            else {
                continue;
            };
            // (Rounded up to a multiple of q, where that is still a word.)
            let Some(n) = n.checked_add(q - 1).map(|m| m / q * q) else { continue };
            match den.iter_mut().find(|(b, _)| b == base) {
                Some((_, m)) => *m = (*m).max(n),
                None => den.push((base.clone(), n)),
            }
        }
    }
    let d = Expr::mul(den.iter().map(|(f, m)| Expr::pow(f.clone(), Expr::int(*m))).collect::<Vec<_>>());
    let n = Expr::add(terms.iter().map(|t| Expr::mul([t.clone(), d.clone()])).collect::<Vec<_>>());
    let coeffs: Vec<Rational> = match n.node() {
        Node::Add(ts) => ts.iter().map(Expr::coeff).collect(),
        _ => vec![n.coeff()],
    };
    let numer = coeffs.iter().fold(num_bigint::BigInt::zero(), |g, c| g.gcd(c.numer()));
    let denom = coeffs.iter().fold(num_bigint::BigInt::one(), |l, c| l.lcm(c.denom()));
    let c = Rational::new(numer, denom);
    if c.is_zero() || (c.is_one() && den.is_empty()) {
        return None;
    }
    let p = Expr::mul([Expr::num(c.recip()), n]);
    let outside = den.iter().map(|(f, m)| {
        let m = m / q;
        let root = if q % 2 == 0 && m % 2 == 1 { Expr::builtin(Builtin::Abs, f.clone()) } else { f.clone() };
        Expr::pow(root, Expr::int(-k * m))
    });
    Some(Split { c, p, outside: Expr::mul(outside.collect::<Vec<_>>()) })
}

impl Split {
    /// `(c^r, P'^r*D^(-r))`, `P'` the spelling of `P` given.
    fn power(self, p: Expr, r: &Rational) -> (Expr, Expr) {
        let r = Expr::num(r.clone());
        (Expr::pow(Expr::num(self.c), r.clone()), Expr::mul([Expr::pow(p, r), self.outside]))
    }
}

/// A root `f = b^r` as [`split`] writes it, `P` collected where a denominator was
/// multiplied in (`(1 + x)^2 - 1` is `x*(2 + x)`): the number `c^r` that comes out, and
/// the rest.
fn split_root(f: &Expr) -> Option<(Expr, Expr)> {
    let (b, r) = fraction(f)?;
    let s = split(b, r)?;
    let p = if s.outside.is_one() { s.p.clone() } else { collected(&s.p) };
    Some(s.power(p, r))
}

/// The fractional exponent of a power, if it is one.
fn fraction(e: &Expr) -> Option<(&Expr, &Rational)> {
    match e.node() {
        Node::Pow(b, x) => x.as_num().filter(|r| !r.is_integer()).map(|r| (b, r)),
        _ => None,
    }
}

/// Whether `e` holds a root or an absolute value outside calls.
pub(crate) fn has_roots(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        _ if fraction(x).is_some() => expr::Walk::Stop,
        Node::Call(Func::Builtin(Builtin::Abs), _) => expr::Walk::Stop,
        Node::Call(..) => expr::Walk::Skip,
        _ => expr::Walk::Descend,
    })
}

/// `e` with every root written as [`split`] writes it, whatever the number that comes
/// out: both sides of an equation the proof is asked about are written so, and a root
/// of `1 + x^2/25` meets one of `25 + x^2`, and one of `(1 + x)^2 - 1` one of
/// `x*(2 + x)`.
pub(crate) fn canonical(e: &Expr) -> Expr {
    if !has_roots(e) {
        return e.clone();
    }
    // Every base as one polynomial, so that two spellings of it are one root.
    let spelled = |p: &Expr| normal(p).unwrap_or_else(|| p.clone());
    expr::rebuilt_bottom_up(e, |x| {
        let Some((b, r)) = fraction(&x) else { return x.clone() };
        match split(b, r) {
            Some(s) => {
                let p = spelled(&s.p);
                let (c, rest) = s.power(p, r);
                Expr::mul([c, rest])
            }
            None if matches!(b.node(), Node::Add(_) | Node::Mul(_)) => Expr::pow(spelled(b), Expr::num(r.clone())),
            None => x.clone(),
        }
    })
}

/// The form of `e` with roots in whole numbers, where that changes anything: each root
/// as [`split`] writes it where the number that comes out is rational (alone, or with
/// the other numbers of its product), even powers next to an absolute value as its
/// powers, and sums over the lowest power of a root their terms share.
pub(crate) fn respelled(e: &Expr) -> Option<Expr> {
    if !has_roots(e) {
        return None;
    }
    let r = expr::rebuilt_bottom_up(e, |x| match x.node() {
        Node::Pow(..) => match split_root(&x) {
            Some((c, rest)) if c.as_num().is_some() => Expr::mul([c, rest]),
            _ => x,
        },
        Node::Mul(fs) => with_abs_powers(&with_rational_roots(fs).unwrap_or_else(|| x.clone())),
        Node::Add(_) => over_lowest_powers(&x),
        _ => x,
    });
    (r != *e).then_some(r)
}

/// A product's roots split where the numbers that come out are not rational but the
/// product's numbers then are (`2^(1/2)*(1 + x^2/2)^(1/2)` is `(2 + x^2)^(1/2)`).
fn with_rational_roots(fs: &[Expr]) -> Option<Expr> {
    let irrational = |f: &Expr| fraction(f).is_some_and(|(b, _)| b.as_num().is_some());
    let before = fs.iter().filter(|f| irrational(f)).count();
    let mut changed = false;
    let split_fs: Vec<Expr> = fs
        .iter()
        .map(|f| match split_root(f) {
            Some((c, rest)) => {
                changed = true;
                Expr::mul([c, rest])
            }
            None => f.clone(),
        })
        .collect();
    let product = Expr::mul(split_fs);
    let after = product.factors().iter().filter(|f| irrational(f)).count();
    (changed && after <= before).then_some(product)
}

/// A product with each even power `u^n` beside a power of `abs(u)` partly written as a
/// power of `abs(u)` (`u^(2*m)` is `abs(u)^(2*m)` for every real `u`), so that the two
/// exponents come as close to zero as they can: `abs(x)/x^2` is `1/abs(x)`,
/// `abs(x)/x^3` is `1/(x*abs(x))`.
fn with_abs_powers(e: &Expr) -> Expr {
    let fs = e.factors();
    let int_power = |f: &Expr| -> (Expr, i64) {
        match f.node() {
            Node::Pow(b, n) => match n.as_num().filter(|n| n.is_integer()).and_then(|n| n.to_integer().to_i64()) {
                Some(n) => (b.clone(), n),
                None => (f.clone(), 1),
            },
            _ => (f.clone(), 1),
        }
    };
    let powers: Vec<(Expr, i64)> = fs.iter().map(int_power).collect();
    let mut out: HashMap<Expr, i64> = HashMap::default();
    let mut changed = false;
    for (b, k) in &powers {
        let Node::Call(Func::Builtin(Builtin::Abs), args) = b.node() else { continue };
        let Some((_, n)) = powers.iter().find(|(u, _)| *u == args[0]) else { continue };
        // u^n*abs(u)^k as u^(n - 2*m)*abs(u)^(k + 2*m), m the best shift: the spread is
        // convex and piecewise linear in m, bent at n/2 and -k/2, so the least (and of
        // the least, the one nearest 0) is 0 or next to a bend. (In i128: the exponents
        // may be any words.)
        let (n, k) = (i128::from(*n), i128::from(*k));
        let spread = |m: i128| (n - 2 * m).abs() + (k + 2 * m).abs();
        let bends = [n.div_euclid(2), n.div_euclid(2) + 1, (-k).div_euclid(2), (-k).div_euclid(2) + 1];
        let best = bends.into_iter().chain([0]).min_by_key(|&m| (spread(m), m.abs())).unwrap_or(0);
        let (Ok(to_u), Ok(to_abs)) = (i64::try_from(n - 2 * best), i64::try_from(k + 2 * best)) else { continue };
        if best != 0 && spread(best) < spread(0) {
            out.insert(args[0].clone(), to_u);
            out.insert(b.clone(), to_abs);
            changed = true;
        }
    }
    if !changed {
        return e.clone();
    }
    Expr::mul(
        powers
            .into_iter()
            .zip(fs)
            .map(|((b, n), f)| match out.get(&b) {
                Some(m) if *m != n => Expr::pow(b, Expr::int(*m)),
                _ => f.clone(),
            })
            .collect::<Vec<_>>(),
    )
}

/// A sum with the terms that hold powers of one root `u^r` (exponents differing by whole
/// numbers) written as the lowest power times the sum of the rest, that sum collected
/// as a polynomial where that is cheaper: `u^(-1/2) - a*x^2*u^(-3/2)` with
/// `u = 1 + a*x^2` is `u^(-3/2)*(1 + a*x^2 - a*x^2)`, which is `u^(-3/2)`.
fn over_lowest_powers(e: &Expr) -> Expr {
    let Node::Add(terms) = e.node() else { return e.clone() };
    if terms.len() > MAX_TERMS {
        return e.clone();
    }
    let roots_of = |t: &Expr| -> Vec<(Expr, Rational)> {
        t.factors().iter().filter_map(|f| fraction(f).map(|(b, r)| (b.clone(), r.clone()))).collect()
    };
    let mut sum = e.clone();
    let mut bases: Vec<Expr> = Vec::new();
    for t in terms {
        for (b, _) in roots_of(t) {
            if !bases.contains(&b) {
                bases.push(b);
            }
        }
    }
    for u in bases {
        let Node::Add(terms) = sum.node() else { break };
        // The terms with a power of u, by the fractional part of its exponent.
        let power_of = |t: &Expr| roots_of(t).into_iter().find(|(b, _)| *b == u).map(|(_, r)| r);
        let held: Vec<(Expr, Rational)> = terms.iter().filter_map(|t| Some((t.clone(), power_of(t)?))).collect();
        let Some((_, first)) = held.first() else { continue };
        let same: Vec<&(Expr, Rational)> = held.iter().filter(|(_, r)| (r - first).is_integer()).collect();
        if same.len() < 2 {
            continue;
        }
        let lowest = same.iter().map(|(_, r)| r.clone()).min().expect("two terms at least");
        let lowered = Expr::pow(u.clone(), Expr::num(-lowest.clone()));
        let inner = Expr::add(same.iter().map(|(t, _)| Expr::mul([t.clone(), lowered.clone()])).collect::<Vec<_>>());
        let inner = collected(&inner);
        let rest = terms.iter().filter(|t| !same.iter().any(|(s, _)| s == *t)).cloned();
        sum = Expr::add(rest.chain([Expr::mul([Expr::pow(u.clone(), Expr::num(lowest)), inner])]).collect::<Vec<_>>());
    }
    sum
}

/// `e` collected as one polynomial, where it is a polynomial in variables and that is
/// cheaper (collecting anything else, with calls in it, costs far more than it finds).
fn collected(e: &Expr) -> Expr {
    if !super::polynomial_in_variables(e) {
        return e.clone();
    }
    let none = HashSet::default();
    match normal(e) {
        Some(c) if super::cost::cost(&c, &none) < super::cost::cost(e, &none) => c,
        _ => e.clone(),
    }
}

/// `e` as one reduced rational function of its atoms, factored.
fn normal(e: &Expr) -> Option<Expr> {
    super::normalized(e, View::Full, super::CFG.largest_form(e.tree_size()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_expr;

    fn respelled_text(text: &str) -> String {
        let e = parse_expr(text).unwrap();
        respelled(&e).unwrap_or(e).to_string()
    }

    /// The best shift between `u^n` and `abs(u)^k` is found by where the spread bends,
    /// not by trying every shift: exponents of any size (`x^4000000000000` was a loop of
    /// four trillion), the same shifts as trying every one where that is possible.
    #[test]
    fn abs_powers_shift_at_any_size() {
        let shifted = |text: &str| with_abs_powers(&parse_expr(text).unwrap()).to_string();
        assert_eq!(shifted("abs(x)/x^3"), "1/(x*abs(x))");
        assert_eq!(shifted("abs(x)/x^2"), "1/abs(x)");
        assert_eq!(shifted("x^2*abs(x)"), "x^2*abs(x)");
        assert_eq!(shifted("x^-4*abs(x)^3"), "1/abs(x)");
        assert_eq!(shifted("x^4000000000000*abs(x)^-3"), "x^3999999999996*abs(x)");
        assert_eq!(shifted("x^-9223372036854775807*abs(x)^9223372036854775807"), "abs(x)/x");
        // Every small pair against trying every shift.
        for n in -7i64..=7 {
            for k in -7i64..=7 {
                let spread = |m: i64| (n - 2 * m).abs() + (k + 2 * m).abs();
                let best = (-8..=8).min_by_key(|&m| (spread(m), m.abs())).unwrap_or(0);
                let want = if best != 0 && spread(best) < spread(0) { (n - 2 * best, k + 2 * best) } else { (n, k) };
                let e = Expr::mul([
                    Expr::pow(Expr::var("x"), Expr::int(n)),
                    Expr::pow(Expr::builtin(Builtin::Abs, Expr::var("x")), Expr::int(k)),
                ]);
                let w = Expr::mul([
                    Expr::pow(Expr::var("x"), Expr::int(want.0)),
                    Expr::pow(Expr::builtin(Builtin::Abs, Expr::var("x")), Expr::int(want.1)),
                ]);
                if e.factors().len() == 2 {
                    assert_eq!(with_abs_powers(&e), w, "x^{n}*abs(x)^{k}");
                }
            }
        }
    }

    #[test]
    fn a_root_of_a_sum_is_written_in_whole_numbers() {
        for (text, want) in [
            ("1/(7*sqrt(1 - y^2/49))", "1/sqrt(49 - y^2)"),
            ("2/(3*sqrt(1 + 4*t^2/9))", "2/sqrt(9 + 4*t^2)"),
            ("4*x/sqrt(8 + 4*x^2)", "2*x/sqrt(2 + x^2)"),
            ("sin(x)/(4*sqrt(x^2/16 - 1)) + cos(x)", "cos(x) + sin(x)/sqrt(x^2 - 16)"),
            ("sqrt(2)*sqrt(1 + x^2/2)", "sqrt(2 + x^2)"),
        ] {
            assert_eq!(respelled_text(text), want, "{text}");
        }
    }

    #[test]
    fn a_denominator_comes_out_of_a_root_as_an_absolute_value() {
        for (text, want) in [
            ("1/(u^2*sqrt(1 - 1/u^2))", "1/(abs(u)*sqrt(u^2 - 1))"),
            ("2/(x^2*sqrt(1 - 4/x^2))", "2/(abs(x)*sqrt(x^2 - 4))"),
            ("1/(x^3*sqrt(1 - 1/x^2))", "1/(x*abs(x)*sqrt(x^2 - 1))"),
            ("1/((1 + x)^2*sqrt(1 - 1/(1 + x)^2))", "1/(abs(1 + x)*sqrt(x*(2 + x)))"),
        ] {
            assert_eq!(respelled_text(text), want, "{text}");
        }
    }

    #[test]
    fn powers_of_one_root_go_over_the_lowest() {
        for (text, want) in [
            ("1/sqrt(1 + b*s^2) - b*s^2/(1 + b*s^2)^(3/2)", "1/(1 + b*s^2)^(3/2)"),
            ("1/sqrt(1 + x^2) - x*(1 + x)/(1 + x^2)^(3/2)", "(1 - x)/(1 + x^2)^(3/2)"),
            ("y + 1/sqrt(9 + x^2) - x^2/(9 + x^2)^(3/2)", "y + 9/(9 + x^2)^(3/2)"),
        ] {
            assert_eq!(respelled_text(text), want, "{text}");
        }
    }

    /// The proof sees a root of `1 - x^2/9` and one of `9 - x^2` as the same root, and a
    /// root to its degree as its base.
    #[test]
    fn the_proof_knows_the_rewritten_roots() {
        for (a, b) in [
            ("1/(3*sqrt(1 - x^2/9))", "1/sqrt(9 - x^2)"),
            ("1/(x^2*sqrt(1 - 1/x^2))", "1/(abs(x)*sqrt(x^2 - 1))"),
            ("1/sqrt(1 + a*x^2) - a*x^2/(1 + a*x^2)^(3/2)", "1/(1 + a*x^2)^(3/2)"),
            ("sqrt(2)*sqrt(1 + x^2/2)", "sqrt(2 + x^2)"),
            ("(4*x^2 + 8)^(3/2)", "8*(x^2 + 2)^(3/2)"),
            ("1/((1 + x)^2*sqrt(1 - 1/(1 + x)^2))", "1/(abs(1 + x)*sqrt(x*(2 + x)))"),
            ("1/((1 + x)^2*sqrt(1 - 1/(1 + x)^2))", "1/(abs(1 + x)*sqrt(x^2 + 2*x))"),
        ] {
            let (a, b) = (parse_expr(a).unwrap(), parse_expr(b).unwrap());
            assert!(super::super::proved_equal(&a, &b), "{a} = {b}");
        }
        let (a, b) = (parse_expr("1/(x^2*sqrt(1 - 1/x^2))").unwrap(), parse_expr("1/(x*sqrt(x^2 - 1))").unwrap());
        assert!(!super::super::proved_equal(&a, &b), "x is not abs(x)");
    }
}
