//! Polynomials back to expressions, in the factored shapes people write.
//!
//! A polynomial is split into its numeric content, the monomial common to every term,
//! and factors: linear factors from rational roots (of `q(w)` with `w = v^g`, so that
//! `1 - 4*t^2 + 3*t^4` is `(1 - t^2)*(1 - 3*t^2)`), and common factors of the coefficients
//! when the polynomial is linear in a variable. Each factor reads with a positive
//! constant term where it has one: `p*(1 - p)`, not `-p*(p - 1)`.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::kernel::{Atom, Kernels};
use super::CFG;
use crate::expr::{self, Expr, Func, Node};
use crate::number::Rational;
use crate::poly::{Monomial, Poly, Var};

/// `p` as a product of its content, common monomial and factors.
pub fn factored(p: &Poly, k: &Kernels) -> Expr {
    let (c, rest) = factored_parts(p, k);
    Expr::mul([Expr::num(c), rest])
}

/// [`factored`] as the signed numeric coefficient and the rest, kept apart so that a
/// quotient can put the sign where it reads best (`p/(1 - p)`, not `-p/(p - 1)`).
pub fn factored_parts(p: &Poly, k: &Kernels) -> (Rational, Expr) {
    factored_parts_within(p, k, u64::MAX).expect("no form is larger than u64::MAX nodes")
}

/// [`factored_parts`], or `None` when its factors written out would be larger than
/// `max_size` nodes (each term counted as its atoms' sizes): it is not built.
pub fn factored_parts_within(p: &Poly, k: &Kernels, max_size: u64) -> Option<(Rational, Expr)> {
    if p.is_zero() {
        return Some((Rational::zero(), Expr::one()));
    }
    let (c, q) = p.normalize();
    let m = q.monomial_gcd();
    let q = q.div_monomial(&m);
    let mut negative = false;
    let mut parts = vec![k.monomial_expr(&m)];
    let factors = factor_by(&q, &k.bases);
    // The factors multiply to q up to a constant; fold that constant into the content.
    let product = factors.iter().fold(Poly::one(), |acc, (f, e)| acc.mul(&f.pow(*e)));
    // (Big-rational products reduce by a gcd: skipped where a factor is one.)
    let c = match q.div_exact(&product).and_then(|r| r.as_constant()) {
        Some(l) if l.is_one() => c,
        Some(l) => c * l,
        None if written_size(&q, k) > max_size => return None,
        None => return Some((c, Expr::mul([k.monomial_expr(&m), k.sum_expr(&q)]))),
    };
    if factors.iter().map(|(f, _)| written_size(f, k)).fold(0u64, u64::saturating_add) > max_size {
        return None;
    }
    for (f, e) in factors {
        let (flipped, f) = tidy_sign(&f, k);
        negative ^= flipped && e % 2 == 1;
        parts.push(Expr::pow(k.sum_expr(&f), Expr::int(e as i64)));
    }
    Some((if negative { -c } else { c }, Expr::mul(parts)))
}

/// About how many nodes `p` takes written out: each term one, plus its atoms' sizes.
pub fn written_size(p: &Poly, k: &Kernels) -> u64 {
    p.terms()
        .map(|(m, _)| m.0.iter().fold(1u64, |n, &(v, _)| n.saturating_add(k.atom_size(v))))
        .fold(0u64, u64::saturating_add)
}

/// Flips a factor so that its constant term is positive (or, without one, its weightiest
/// term: `g(z) - t`, `delta(i, j) - p[j]`); returns whether it was flipped.
fn tidy_sign(f: &Poly, k: &Kernels) -> (bool, Poly) {
    // Turned as the base of a root among the atoms, so that the two merge into one
    // power (`(x - 1)*(x - 1)^(1/3)` is `(x - 1)^(4/3)`, where `1 - x` would stay apart).
    if f.len() > 1 && (0..k.len()).any(|v| matches!(k.atom(v as Var), Atom::Root(..))) {
        let turned = f.neg();
        let base_of_a_root = |p: &Poly| {
            let e = k.sum_expr(p);
            (0..k.len()).any(|v| matches!(k.atom(v as Var), Atom::Root(b, _) if *b == e))
        };
        if base_of_a_root(f) {
            return (false, f.clone());
        }
        if base_of_a_root(&turned) {
            return (true, turned);
        }
    }
    let constant = f.terms().find(|(m, _)| m.0.is_empty()).map(|(_, c)| c.clone());
    let weight = |m: &Monomial| {
        m.0.iter()
            .map(|&(v, _)| {
                let e = k.atom(v).expr();
                let rank = match e.node() {
                    Node::Call(Func::Indexed(_), _) => 1,
                    Node::Call(..) => 2,
                    // A placeholder for a built-in output (tanh(u)), a fact, or an indexed
                    // name (p[k]) weighs as a computed output.
                    Node::Var(s) if expr::is_hidden(s) || expr::is_element_name(s) => 2,
                    _ => 0,
                };
                (rank, e.depth())
            })
            .max()
    };
    let lead = f.terms().max_by_key(|(m, _)| weight(m)).map(|(_, c)| c.clone());
    let negative = match constant {
        Some(c) => c.is_negative(),
        None => lead.is_some_and(|c| c.is_negative()),
    };
    if negative {
        (true, f.neg())
    } else {
        (false, f.clone())
    }
}

/// [`factor`], with each of `known` divided out first as often as it divides.
fn factor_by(q: &Poly, known: &[Poly]) -> Vec<(Poly, u32)> {
    let mut rest = q.clone();
    let mut out = Vec::new();
    for b in known {
        let mut n = 0;
        while rest.as_constant().is_none() {
            let Some(next) = rest.div_exact(b) else { break };
            rest = next;
            n += 1;
        }
        if n > 0 {
            out.push((b.clone(), n));
        }
    }
    if out.is_empty() {
        return factor(q);
    }
    out.extend(factor(&rest.normalize().1));
    merge(out)
}

/// Factors of a primitive polynomial with no monomial factor, with multiplicities.
fn factor(q: &Poly) -> Vec<(Poly, u32)> {
    if q.as_constant().is_some() {
        return Vec::new();
    }
    let vars: Vec<Var> = q.vars().into_iter().collect();
    if let [v] = vars.as_slice() {
        // A binomial `a + b*v^n` (a not 0) is linear in `w = v^n`: the search below finds
        // its one root in `w` and gives it back whole (or, past the root search's bound,
        // finds it square-free), so it is its own factor.
        if q.len() == 2 && q.terms().any(|(m, _)| m.0.is_empty()) {
            return vec![(q.normalize().1, 1)];
        }
        return factor_univariate(q, *v);
    }
    // Linear in some variable: q = a + b*v; a common factor of a and b splits off.
    for &v in &vars {
        if q.degree(v) == 1 {
            let cs = q.coeffs_in(v);
            let g = Poly::gcd(&cs[0], &cs[1]);
            if g.as_constant().is_none() {
                if let Some(rest) = q.div_exact(&g) {
                    let mut out = factor(&g.normalize().1);
                    out.extend(factor(&rest.normalize().1));
                    return merge(out);
                }
            }
        }
    }
    vec![(q.clone(), 1)]
}

fn merge(fs: Vec<(Poly, u32)>) -> Vec<(Poly, u32)> {
    let mut out: Vec<(Poly, u32)> = Vec::new();
    for (f, e) in fs {
        let f = f.normalize().1;
        match out.iter_mut().find(|(g, _)| *g == f) {
            Some((_, m)) => *m += e,
            None => out.push((f, e)),
        }
    }
    out
}

/// Rational roots of `q` as a polynomial in `w = v^g`, each giving a factor `d*w - n`.
fn factor_univariate(q: &Poly, v: Var) -> Vec<(Poly, u32)> {
    let exps: Vec<u32> = q.terms().map(|(m, _)| m.0.first().map_or(0, |&(_, e)| e)).collect();
    let g = exps.iter().fold(0u32, |g, &e| g.gcd(&e)).max(1);
    let mut coeffs = vec![Rational::zero(); (q.degree(v) / g + 1) as usize];
    for (m, c) in q.terms() {
        let e = m.0.first().map_or(0, |&(_, e)| e);
        coeffs[(e / g) as usize] = c.clone();
    }
    let mut out: Vec<(Poly, u32)> = Vec::new();
    let w = Poly::monomial(Monomial(vec![(v, g)].into()), Rational::one());
    let mut rest = q.clone();
    while let Some(root) = rational_root(&coeffs) {
        let lin = w
            .scale(&Rational::from_integer(root.denom().clone()))
            .sub(&Poly::constant(Rational::from_integer(root.numer().clone())));
        let Some(next) = rest.div_exact(&lin) else { break };
        match out.iter_mut().find(|(f, _)| *f == lin) {
            Some((_, e)) => *e += 1,
            None => out.push((lin, 1)),
        }
        rest = next;
        coeffs = deflate(&coeffs, &root);
        if coeffs.len() <= 1 {
            break;
        }
    }
    if rest.as_constant().is_none() {
        // What has no rational root may still be a power: `(x^2 + 3)^2` stays a square
        // (a quotient rule's denominator), never `9 + 6*x^2 + x^4`.
        for (piece, m) in square_free(&rest.normalize().1, v) {
            if piece.degree(v) < rest.degree(v) && piece.as_constant().is_none() {
                out.extend(factor_univariate(&piece, v).into_iter().map(|(f, e)| (f, e * m)));
            } else {
                out.push((piece, m));
            }
        }
    }
    merge(out)
}

/// `p` (in `v` alone) as square-free factors with multiplicities (Yun's algorithm):
/// `(x^2 + 3)^2*(x + 5)` gives `(x + 5, 1)` and `(x^2 + 3, 2)`.
fn square_free(p: &Poly, v: Var) -> Vec<(Poly, u32)> {
    let d = |q: &Poly| {
        q.terms().filter_map(|(m, c)| m.0.first().map(|&(_, e)| (e, c))).fold(Poly::zero(), |acc, (e, c)| {
            let m = Monomial(if e > 1 { vec![(v, e - 1)].into() } else { Vec::new().into() });
            acc.add(&Poly::monomial(m, c * Rational::from_integer(e.into())))
        })
    };
    let dp = d(p);
    let g = Poly::gcd(p, &dp);
    if g.as_constant().is_some() {
        return vec![(p.clone(), 1)];
    }
    let (Some(mut c), Some(dg)) = (p.div_exact(&g), dp.div_exact(&g)) else { return vec![(p.clone(), 1)] };
    let mut w = dg.sub(&d(&c));
    let mut out = Vec::new();
    let mut i = 1;
    while c.as_constant().is_none() {
        let a = Poly::gcd(&c, &w);
        let (Some(c2), Some(w2)) = (c.div_exact(&a), w.div_exact(&a)) else { return vec![(p.clone(), 1)] };
        if a.as_constant().is_none() {
            out.push((a.normalize().1, i));
        }
        c = c2;
        w = w2.sub(&d(&c));
        i += 1;
    }
    out
}

/// Divides the polynomial with coefficients `cs` (lowest first) by `(w - r)`.
fn deflate(cs: &[Rational], r: &Rational) -> Vec<Rational> {
    let n = cs.len() - 1;
    let mut out = vec![Rational::zero(); n];
    let mut carry = Rational::zero();
    for i in (1..=n).rev() {
        carry = &cs[i] + carry * r;
        out[i - 1] = carry.clone();
    }
    out
}

/// A rational root of the polynomial with coefficients `cs` (lowest first), if a small
/// one exists (rational root theorem): the divisors of its constant and leading
/// coefficients are tried up to [`Config::max_root_search`](super::Config::max_root_search).
fn rational_root(cs: &[Rational]) -> Option<Rational> {
    if cs.len() < 2 {
        return None;
    }
    if cs[0].is_zero() {
        return Some(Rational::zero());
    }
    // Clear denominators.
    let l = cs.iter().fold(BigInt::one(), |l, c| l.lcm(c.denom()));
    let ints: Vec<BigInt> = cs.iter().map(|c| (c * Rational::from_integer(l.clone())).to_integer()).collect();
    let (a0, an) = (ints[0].abs().to_u64()?, ints[ints.len() - 1].abs().to_u64()?);
    if a0 > CFG.max_root_search || an > CFG.max_root_search {
        return None;
    }
    let words: Option<Vec<i128>> = ints.iter().map(|c| c.to_i128()).collect();
    for p in divisors(a0) {
        for q in divisors(an) {
            for sign in [1i64, -1] {
                let sp = i128::from(sign) * i128::from(p);
                // In machine words where nothing overflows; exactly in rationals otherwise.
                let zero = match words.as_deref().and_then(|a| homogeneous_value(a, sp, i128::from(q))) {
                    Some(v) => v == 0,
                    None => homogeneous_value_big(&ints, sp, q).is_zero(),
                };
                if zero {
                    return Some(Rational::new(BigInt::from(sp), BigInt::from(q)));
                }
            }
        }
    }
    None
}

/// `q^n * P(p/q)` for `P` with integer coefficients `a` (lowest first) of degree `n`:
/// zero exactly when `p/q` is a root. `None` on overflow.
fn homogeneous_value(a: &[i128], p: i128, q: i128) -> Option<i128> {
    let (&lead, rest) = a.split_last()?;
    let mut acc = lead;
    let mut q_pow: i128 = 1;
    for &c in rest.iter().rev() {
        q_pow = q_pow.checked_mul(q)?;
        acc = acc.checked_mul(p)?.checked_add(c.checked_mul(q_pow)?)?;
    }
    Some(acc)
}

/// [`homogeneous_value`] exactly, in big integers: no gcd at each step (evaluating in
/// rationals reduced every partial sum, quadratic in the coefficients' size, and a
/// polynomial of degree 620 took seconds), each step charged to the work budget and
/// the clock by the size of its numbers.
fn homogeneous_value_big(a: &[BigInt], p: i128, q: u64) -> BigInt {
    let (p, q) = (BigInt::from(p), BigInt::from(q));
    let Some((lead, rest)) = a.split_last() else { return BigInt::zero() };
    let mut acc = lead.clone();
    let mut q_pow = BigInt::one();
    for c in rest.iter().rev() {
        q_pow *= &q;
        acc = acc * &p + c * &q_pow;
        crate::limits::spend_work(1 + (acc.bits() + q_pow.bits()) / 64);
        crate::limits::tick();
    }
    acc
}

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).take_while(|d| d * d <= n).filter(|d| n.is_multiple_of(*d)).flat_map(|d| [d, n / d]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binomial with a constant term is its own factor, as the root search finds it:
    /// the shortcut in [`factor`] gives what [`factor_univariate`] gives.
    #[test]
    fn binomials_factor_as_the_search_finds_them() {
        let v: Var = 0;
        let big = BigInt::from(10).pow(25);
        let mut checked = 0;
        for n in 1..=6u32 {
            for (a, b) in [(1, -1), (-1, 1), (3, 2), (-4, 9), (6, -15)] {
                for scale in [BigInt::from(1), big.clone()] {
                    let a = Rational::from_integer(BigInt::from(a) * &scale);
                    let q = Poly::constant(a)
                        .add(&Poly::monomial(Monomial(vec![(v, n)].into()), Rational::from_integer(b.into())));
                    assert_eq!(factor(&q), factor_univariate(&q, v), "{q:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 60);
    }

    /// The word evaluation agrees with the exact one wherever it answers.
    #[test]
    fn homogeneous_value_is_the_scaled_polynomial() {
        let polys: [&[i128]; 4] = [&[-6, 1, 1], &[2, -3, 0, 5], &[7], &[0, 0, 4, -1]];
        for a in polys {
            for (p, q) in [(1, 1), (-2, 3), (3, -1), (5, 2)] {
                let n = a.len() as u32 - 1;
                let x = Rational::new(BigInt::from(p), BigInt::from(q));
                let exact =
                    a.iter().rev().fold(Rational::zero(), |acc, &c| acc * &x + Rational::from_integer(c.into()));
                let scaled = exact * Rational::from_integer(BigInt::from(q).pow(n));
                assert_eq!(
                    homogeneous_value(a, p, q).map(|v| Rational::from_integer(v.into())),
                    Some(scaled),
                    "{a:?} at {p}/{q}"
                );
            }
        }
        assert_eq!(homogeneous_value(&[1, i128::MAX], i128::MAX, 1), None);
    }

    /// The big-integer evaluation agrees with the exact rational one, also where the
    /// words overflow (degree 80, coefficients near 2^100).
    #[test]
    fn homogeneous_value_big_is_the_scaled_polynomial() {
        let big = |k: i64| BigInt::from(k) * BigInt::from(2).pow(100) + BigInt::from(k * 7 - 3);
        let long: Vec<BigInt> = (0..=80).map(|k| if k % 3 == 0 { big(k - 40) } else { BigInt::from(k) }).collect();
        let small: Vec<BigInt> = [-6, 1, 1].iter().map(|&c| BigInt::from(c)).collect();
        for a in [long, small.clone()] {
            for (p, q) in [(1i128, 1u64), (-2, 3), (7, 1), (5, 1024)] {
                let n = a.len() as u32 - 1;
                let x = Rational::new(BigInt::from(p), BigInt::from(q));
                let exact =
                    a.iter().rev().fold(Rational::zero(), |acc, c| acc * &x + Rational::from_integer(c.clone()));
                let scaled = exact * Rational::from_integer(BigInt::from(q).pow(n));
                assert_eq!(Rational::from_integer(homogeneous_value_big(&a, p, q)), scaled, "degree {n} at {p}/{q}");
            }
        }
        // The roots of x^2 + x - 6 are found as zeros.
        assert!(homogeneous_value_big(&small, 2, 1).is_zero());
        assert!(homogeneous_value_big(&small, -3, 1).is_zero());
    }
}
