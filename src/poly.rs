//! Exact multivariate polynomials and rational functions over the rationals.
//!
//! The simplifier's algebra: [`Poly`] is a sparse map from monomials to rational
//! coefficients, [`Rat`] a quotient of two polynomials kept reduced by a greatest common
//! divisor (the recursive primitive polynomial remainder sequence). Variables are plain
//! numbers; what they stand for is the caller's business.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};

use crate::number::Rational;

/// A polynomial variable.
pub type Var = u32;

/// A monomial: sorted `(var, exponent)` pairs, exponents above zero, no repeated var.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Monomial(pub Vec<(Var, u32)>);

impl Monomial {
    fn mul(&self, o: &Monomial) -> Monomial {
        let mut out = Vec::with_capacity(self.0.len() + o.0.len());
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() || j < o.0.len() {
            match (self.0.get(i), o.0.get(j)) {
                (Some(&(a, x)), Some(&(b, y))) if a == b => {
                    out.push((a, x + y));
                    i += 1;
                    j += 1;
                }
                (Some(&(a, x)), Some(&(b, _))) if a < b => {
                    out.push((a, x));
                    i += 1;
                }
                (Some(&(a, x)), None) => {
                    out.push((a, x));
                    i += 1;
                }
                (_, Some(&(b, y))) => {
                    out.push((b, y));
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Monomial(out)
    }

    fn div(&self, o: &Monomial) -> Option<Monomial> {
        let mut out = Vec::new();
        let mut j = 0;
        for &(v, e) in &self.0 {
            let d = match o.0.get(j) {
                Some(&(w, f)) if w == v => {
                    j += 1;
                    f
                }
                _ => 0,
            };
            match e.cmp(&d) {
                Ordering::Greater => out.push((v, e - d)),
                Ordering::Equal => {}
                Ordering::Less => return None,
            }
        }
        (j == o.0.len()).then_some(Monomial(out))
    }

    fn degree(&self, v: Var) -> u32 {
        self.0.iter().find(|(w, _)| *w == v).map_or(0, |&(_, e)| e)
    }

    fn without(&self, v: Var) -> Monomial {
        Monomial(self.0.iter().copied().filter(|(w, _)| *w != v).collect())
    }

    fn gcd(&self, o: &Monomial) -> Monomial {
        Monomial(self.0.iter().filter_map(|&(v, e)| Some((v, e.min(o.degree(v)))).filter(|&(_, e)| e > 0)).collect())
    }

    /// Lexicographic term order, the smallest variable most significant: a monomial order,
    /// so the leading term of a product is the product of the leading terms.
    fn cmp_lex(&self, o: &Monomial) -> Ordering {
        let (mut i, mut j) = (0, 0);
        loop {
            match (self.0.get(i), o.0.get(j)) {
                (None, None) => return Ordering::Equal,
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
                (Some(&(a, x)), Some(&(b, y))) => {
                    if a != b {
                        return if a < b { Ordering::Greater } else { Ordering::Less };
                    }
                    if x != y {
                        return x.cmp(&y);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
    }
}

/// A polynomial with rational coefficients; no zero coefficient is stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Poly {
    terms: BTreeMap<Monomial, Rational>,
}

impl Poly {
    /// Zero.
    pub fn zero() -> Poly {
        Poly::default()
    }

    /// One.
    pub fn one() -> Poly {
        Poly::constant(Rational::one())
    }

    /// A constant.
    pub fn constant(c: Rational) -> Poly {
        Poly::monomial(Monomial::default(), c)
    }

    /// A variable.
    pub fn var(v: Var) -> Poly {
        Poly::monomial(Monomial(vec![(v, 1)]), Rational::one())
    }

    /// `c * m`.
    pub fn monomial(m: Monomial, c: Rational) -> Poly {
        let mut terms = BTreeMap::new();
        if !c.is_zero() {
            terms.insert(m, c);
        }
        Poly { terms }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value when this is a constant (zero included).
    pub fn as_constant(&self) -> Option<Rational> {
        match self.terms.len() {
            0 => Some(Rational::zero()),
            1 => self.terms.get(&Monomial::default()).cloned(),
            _ => None,
        }
    }

    /// The terms, in a fixed order.
    pub fn terms(&self) -> impl Iterator<Item = (&Monomial, &Rational)> {
        self.terms.iter()
    }

    /// How many terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether there are no terms (zero).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    fn add_term(&mut self, m: Monomial, c: Rational) {
        if c.is_zero() {
            return;
        }
        match self.terms.get_mut(&m) {
            Some(x) => {
                *x += c;
                if x.is_zero() {
                    self.terms.remove(&m);
                }
            }
            None => {
                self.terms.insert(m, c);
            }
        }
    }

    /// `self + o`.
    pub fn add(&self, o: &Poly) -> Poly {
        let mut r = self.clone();
        for (m, c) in &o.terms {
            r.add_term(m.clone(), c.clone());
        }
        r
    }

    /// `self - o`.
    pub fn sub(&self, o: &Poly) -> Poly {
        self.add(&o.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Poly {
        Poly { terms: self.terms.iter().map(|(m, c)| (m.clone(), -c)).collect() }
    }

    /// `self * o`.
    pub fn mul(&self, o: &Poly) -> Poly {
        let mut r = Poly::zero();
        for (m1, c1) in &self.terms {
            crate::limits::check();
            // Big coefficients cost in proportion to their size.
            let words = (c1.numer().bits() + c1.denom().bits()) / 64;
            crate::limits::spend_work(words * o.terms.len() as u64);
            for (m2, c2) in &o.terms {
                r.add_term(m1.mul(m2), c1 * c2);
            }
        }
        r
    }

    /// `c * self`.
    pub fn scale(&self, c: &Rational) -> Poly {
        if c.is_zero() {
            return Poly::zero();
        }
        Poly { terms: self.terms.iter().map(|(m, x)| (m.clone(), x * c)).collect() }
    }

    /// `self ^ n`.
    pub fn pow(&self, n: u32) -> Poly {
        let mut r = Poly::one();
        let mut base = self.clone();
        let mut n = n;
        while n > 0 {
            if n & 1 == 1 {
                r = r.mul(&base);
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(&base);
            }
        }
        r
    }

    /// The variables that occur.
    pub fn vars(&self) -> BTreeSet<Var> {
        self.terms.keys().flat_map(|m| m.0.iter().map(|&(v, _)| v)).collect()
    }

    /// The degree in `v` (0 when absent).
    pub fn degree(&self, v: Var) -> u32 {
        self.terms.keys().map(|m| m.degree(v)).max().unwrap_or(0)
    }

    /// The largest total degree of a term.
    pub fn total_degree(&self) -> u32 {
        self.terms.keys().map(|m| m.0.iter().map(|&(_, e)| e).sum()).max().unwrap_or(0)
    }

    /// The coefficients in `v`: `c[k]` multiplies `v^k`; each is free of `v`.
    pub fn coeffs_in(&self, v: Var) -> Vec<Poly> {
        let mut out = vec![Poly::zero(); self.degree(v) as usize + 1];
        for (m, c) in &self.terms {
            out[m.degree(v) as usize].add_term(m.without(v), c.clone());
        }
        out
    }

    /// The inverse of [`Poly::coeffs_in`].
    pub fn from_coeffs_in(v: Var, cs: &[Poly]) -> Poly {
        let mut r = Poly::zero();
        for (k, c) in cs.iter().enumerate() {
            let vk = Poly::monomial(
                if k == 0 { Monomial::default() } else { Monomial(vec![(v, k as u32)]) },
                Rational::one(),
            );
            r = r.add(&c.mul(&vk));
        }
        r
    }

    fn leading(&self) -> Option<(&Monomial, &Rational)> {
        self.terms.iter().max_by(|a, b| a.0.cmp_lex(b.0))
    }

    /// The quotient when `d` divides `self` exactly.
    pub fn div_exact(&self, d: &Poly) -> Option<Poly> {
        if let Some(c) = d.as_constant() {
            // Most gcds are 1: no division to do.
            return (!c.is_zero()).then(|| if c.is_one() { self.clone() } else { self.scale(&c.recip()) });
        }
        let (dm, dc) = d.leading()?;
        let (dm, dc) = (dm.clone(), dc.clone());
        let mut r = self.clone();
        let mut q = Poly::zero();
        while let Some((rm, rc)) = r.leading() {
            let m = rm.div(&dm)?;
            let c = rc / &dc;
            let t = Poly::monomial(m, c);
            r = r.sub(&t.mul(d));
            q = q.add(&t);
        }
        Some(q)
    }

    /// The positive rational `c` with `self / c` of coprime integer coefficients.
    pub fn content(&self) -> Rational {
        let num = self.terms.values().fold(BigInt::zero(), |g, c| g.gcd(c.numer()));
        let den = self.terms.values().fold(BigInt::one(), |l, c| l.lcm(c.denom()));
        if num.is_zero() {
            return Rational::zero();
        }
        Rational::new(num, den)
    }

    /// `(c, p)` with `self = c*p`, `p` of coprime integer coefficients and a positive
    /// leading coefficient.
    pub fn normalize(&self) -> (Rational, Poly) {
        if self.is_zero() {
            return (Rational::zero(), Poly::zero());
        }
        let mut c = self.content();
        if self.leading().is_some_and(|(_, l)| l.is_negative()) {
            c = -c;
        }
        (c.clone(), self.scale(&c.recip()))
    }

    /// The largest monomial dividing every term.
    pub fn monomial_gcd(&self) -> Monomial {
        let mut it = self.terms.keys();
        let first = it.next().cloned().unwrap_or_default();
        it.fold(first, |g, m| g.gcd(m))
    }

    /// Exact division by a monomial that divides every term.
    pub fn div_monomial(&self, m: &Monomial) -> Poly {
        Poly { terms: self.terms.iter().filter_map(|(k, c)| Some((k.div(m)?, c.clone()))).collect() }
    }

    /// `self` with `v` replaced by `value`.
    pub fn subst(&self, v: Var, value: &Poly) -> Poly {
        let cs = self.coeffs_in(v);
        // Horner's rule from the top coefficient down.
        cs.iter().rev().fold(Poly::zero(), |acc, c| acc.mul(value).add(c))
    }

    /// The value at a point.
    pub fn eval(&self, vals: &dyn Fn(Var) -> f64) -> f64 {
        use num_traits::ToPrimitive;
        self.terms
            .iter()
            .map(|(m, c)| {
                c.to_f64().unwrap_or(f64::NAN) * m.0.iter().map(|&(v, e)| vals(v).powi(e as i32)).product::<f64>()
            })
            .sum()
    }

    /// The greatest common divisor, normalized; `gcd(0, 0) = 0`.
    pub fn gcd(a: &Poly, b: &Poly) -> Poly {
        if a.is_zero() {
            return b.normalize().1;
        }
        if b.is_zero() {
            return a.normalize().1;
        }
        if a.as_constant().is_some() || b.as_constant().is_some() {
            return Poly::one();
        }
        // The common monomial first: cheap, and it keeps the remainder sequence small.
        let m = a.monomial_gcd().gcd(&b.monomial_gcd());
        let (a, b) = (a.div_monomial(&m), b.div_monomial(&m));
        let g = gcd_rec(&a, &b);
        Poly::monomial(m, Rational::one()).mul(&g).normalize().1
    }
}

/// The content of `p` in `v`: the gcd of its coefficients, which are free of `v`.
fn content_in(p: &Poly, v: Var) -> Poly {
    let mut g = Poly::zero();
    for c in p.coeffs_in(v) {
        g = if g.is_zero() { c.normalize().1 } else { Poly::gcd(&g, &c) };
        if g.as_constant().is_some() && !g.is_zero() {
            return Poly::one();
        }
    }
    g
}

/// `lc(b)^k * a mod b` in `v`, for `deg_v(a) >= deg_v(b)`.
fn pseudo_rem(a: &Poly, b: &Poly, v: Var) -> Poly {
    let db = b.degree(v);
    let lc = b.coeffs_in(v).pop().unwrap_or_else(Poly::one);
    let mut r = a.clone();
    while !r.is_zero() && r.degree(v) >= db {
        let dr = r.degree(v);
        let lr = r.coeffs_in(v).pop().unwrap_or_else(Poly::zero);
        let shift =
            Poly::monomial(if dr > db { Monomial(vec![(v, dr - db)]) } else { Monomial::default() }, Rational::one());
        r = r.mul(&lc).sub(&lr.mul(&shift).mul(b));
    }
    r
}

fn gcd_rec(a: &Poly, b: &Poly) -> Poly {
    if a.as_constant().is_some() || b.as_constant().is_some() {
        return Poly::one();
    }
    let vars: BTreeSet<Var> = a.vars().union(&b.vars()).copied().collect();
    let Some(&v) = vars.iter().next_back() else { return Poly::one() };
    let (ca, cb) = (content_in(a, v), content_in(b, v));
    let c = Poly::gcd(&ca, &cb);
    let pa = a.div_exact(&ca).unwrap_or_else(|| a.clone());
    let pb = b.div_exact(&cb).unwrap_or_else(|| b.clone());
    if pa.degree(v) == 0 || pb.degree(v) == 0 {
        return c;
    }
    let (mut r0, mut r1) = if pa.degree(v) >= pb.degree(v) { (pa, pb) } else { (pb, pa) };
    loop {
        let r = pseudo_rem(&r0, &r1, v);
        if r.is_zero() {
            break;
        }
        if r.degree(v) == 0 {
            return c;
        }
        let cr = content_in(&r, v);
        r0 = r1;
        r1 = r.div_exact(&cr).unwrap_or(r).normalize().1;
    }
    let cr = content_in(&r1, v);
    let g = r1.div_exact(&cr).unwrap_or(r1);
    c.mul(&g).normalize().1
}

/// A quotient of polynomials, reduced, with a normalized denominator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rat {
    /// The numerator.
    pub num: Poly,
    /// The denominator: coprime integer coefficients, positive leading coefficient.
    pub den: Poly,
}

impl Rat {
    /// `num / den` reduced, or `None` when `den` is zero.
    pub fn new(num: Poly, den: Poly) -> Option<Rat> {
        if den.is_zero() {
            return None;
        }
        if num.is_zero() {
            return Some(Rat::from_poly(Poly::zero()));
        }
        let g = Poly::gcd(&num, &den);
        let (num, den) = match (num.div_exact(&g), den.div_exact(&g)) {
            (Some(n), Some(d)) => (n, d),
            _ => (num, den),
        };
        let (c, den) = den.normalize();
        Some(Rat { num: num.scale(&c.recip()), den })
    }

    /// A polynomial.
    pub fn from_poly(p: Poly) -> Rat {
        Rat { num: p, den: Poly::one() }
    }

    /// A constant.
    pub fn constant(c: Rational) -> Rat {
        Rat::from_poly(Poly::constant(c))
    }

    /// A variable.
    pub fn var(v: Var) -> Rat {
        Rat::from_poly(Poly::var(v))
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.num.is_zero()
    }

    fn reduced(num: Poly, den: Poly) -> Rat {
        Rat::new(num.clone(), den).unwrap_or_else(|| Rat::from_poly(num))
    }

    /// `self + o`.
    pub fn add(&self, o: &Rat) -> Rat {
        if self.den == o.den {
            return Rat::reduced(self.num.add(&o.num), self.den.clone());
        }
        if o.den.as_constant().is_some() && self.den.as_constant().is_some() {
            // Both denominators are normalized constants, hence 1.
            return Rat::from_poly(self.num.add(&o.num));
        }
        // Over the lcm of the denominators: with g = gcd(d1, d2), the sum is
        // (n1*(d2/g) + n2*(d1/g)) / (d1*(d2/g)), and only g can still divide it.
        let g = Poly::gcd(&self.den, &o.den);
        if let (Some(d1g), Some(d2g)) = (self.den.div_exact(&g), o.den.div_exact(&g)) {
            let num = self.num.mul(&d2g).add(&o.num.mul(&d1g));
            let den = self.den.mul(&d2g);
            if num.is_zero() {
                return Rat::from_poly(Poly::zero());
            }
            let h = Poly::gcd(&num, &g);
            if let (Some(n), Some(d)) = (num.div_exact(&h), den.div_exact(&h)) {
                let (c, den) = d.normalize();
                return Rat { num: n.scale(&c.recip()), den };
            }
        }
        Rat::reduced(self.num.mul(&o.den).add(&o.num.mul(&self.den)), self.den.mul(&o.den))
    }

    /// `self - o`.
    pub fn sub(&self, o: &Rat) -> Rat {
        self.add(&o.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Rat {
        Rat { num: self.num.neg(), den: self.den.clone() }
    }

    /// `self * o`.
    pub fn mul(&self, o: &Rat) -> Rat {
        if self.den.as_constant().is_some() && o.den.as_constant().is_some() {
            return Rat::from_poly(self.num.mul(&o.num));
        }
        // Both factors are reduced, so only the crosswise pairs can share a factor:
        // two small gcds instead of one of the full products.
        let (g1, g2) = (Poly::gcd(&self.num, &o.den), Poly::gcd(&o.num, &self.den));
        match (self.num.div_exact(&g1), o.den.div_exact(&g1), o.num.div_exact(&g2), self.den.div_exact(&g2)) {
            (Some(n1), Some(d2), Some(n2), Some(d1)) => {
                let (c, den) = d1.mul(&d2).normalize();
                Rat { num: n1.mul(&n2).scale(&c.recip()), den }
            }
            _ => Rat::reduced(self.num.mul(&o.num), self.den.mul(&o.den)),
        }
    }

    /// `self / o`, `None` when `o` is zero.
    pub fn div(&self, o: &Rat) -> Option<Rat> {
        Rat::new(self.num.mul(&o.den), self.den.mul(&o.num))
    }

    /// `self ^ n`, `None` for a negative power of zero.
    pub fn powi(&self, n: i32) -> Option<Rat> {
        let k = n.unsigned_abs();
        let p = Rat { num: self.num.pow(k), den: self.den.pow(k) };
        if n >= 0 {
            Some(p)
        } else {
            Rat::new(p.den, p.num)
        }
    }

    /// `self` with `v` replaced by `value`.
    pub fn subst(&self, v: Var, value: &Rat) -> Option<Rat> {
        // p(v) of degree n at v = a/b is (sum c_k a^k b^(n-k)) / b^n.
        let homog = |p: &Poly| -> (Poly, u32) {
            let cs = p.coeffs_in(v);
            let n = cs.len() as u32 - 1;
            let mut acc = Poly::zero();
            for (k, c) in cs.iter().enumerate() {
                if !c.is_zero() {
                    acc = acc.add(&c.mul(&value.num.pow(k as u32)).mul(&value.den.pow(n - k as u32)));
                }
            }
            (acc, n)
        };
        let (n, dn) = homog(&self.num);
        let (d, dd) = homog(&self.den);
        let (n, d) = if dn >= dd { (n, d.mul(&value.den.pow(dn - dd))) } else { (n.mul(&value.den.pow(dd - dn)), d) };
        Rat::new(n, d)
    }

    /// The variables that occur.
    pub fn vars(&self) -> BTreeSet<Var> {
        self.num.vars().union(&self.den.vars()).copied().collect()
    }

    /// The value at a point.
    pub fn eval(&self, vals: &dyn Fn(Var) -> f64) -> f64 {
        self.num.eval(vals) / self.den.eval(vals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x() -> Poly {
        Poly::var(0)
    }
    fn y() -> Poly {
        Poly::var(1)
    }
    fn c(n: i64) -> Poly {
        Poly::constant(Rational::from_integer(n.into()))
    }

    #[test]
    fn gcd_finds_common_factors() {
        let a = x().add(&c(1)).pow(2).mul(&y().sub(&c(2)));
        let b = x().add(&c(1)).mul(&y().sub(&c(2)).pow(3)).mul(&x().sub(&y()));
        let g = Poly::gcd(&a, &b);
        let want = x().add(&c(1)).mul(&y().sub(&c(2))).normalize().1;
        assert_eq!(g, want);
        assert_eq!(Poly::gcd(&x().add(&c(1)), &y()), Poly::one());
    }

    #[test]
    fn rational_functions_reduce() {
        let r = Rat::new(x().pow(2).sub(&c(1)), x().sub(&c(1))).unwrap();
        assert_eq!(r, Rat::from_poly(x().add(&c(1))));
        let one_plus_x = Rat::from_poly(x().add(&c(1)));
        let s = Rat::var(0).div(&one_plus_x).unwrap().add(&Rat::constant(Rational::one()).div(&one_plus_x).unwrap());
        assert_eq!(s, Rat::constant(Rational::one()));
    }

    #[test]
    fn sigmoid_substitution_gives_p_times_one_minus_p() {
        // x/(1+x)^2 at x = p/(1-p) is p*(1-p), with p the variable 1.
        let d = Rat::var(0).div(&Rat::from_poly(x().add(&c(1)).pow(2))).unwrap();
        let p = Rat::var(1);
        let s = p.div(&Rat::constant(Rational::one()).sub(&p)).unwrap();
        let r = d.subst(0, &s).unwrap();
        assert_eq!(r, Rat::from_poly(y().sub(&y().pow(2))));
    }

    #[test]
    fn softmax_identity() {
        let (u1, u2, u3) = (Poly::var(0), Poly::var(1), Poly::var(2));
        let s = u1.add(&u2).add(&u3);
        let p = Rat::new(u1.clone(), s.clone()).unwrap();
        let lhs = p.sub(&p.mul(&p));
        let rhs = Rat::new(u1.mul(&u2.add(&u3)), s.pow(2)).unwrap();
        assert_eq!(lhs, rhs);
    }

    #[test]
    fn exact_division() {
        let a = x().add(&y()).mul(&x().sub(&c(3)));
        assert_eq!(a.div_exact(&x().sub(&c(3))), Some(x().add(&y())));
        assert_eq!(a.div_exact(&x().sub(&c(2))), None);
    }

    #[test]
    fn random_gcds_contain_the_common_factor() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        let random_poly = |next: &mut dyn FnMut() -> i64| {
            let mut p = Poly::zero();
            for _ in 0..3 {
                let m = Monomial(
                    (0..3u32).filter_map(|v| Some((v, (next() % 3) as u32)).filter(|&(_, e)| e > 0)).collect(),
                );
                p = p.add(&Poly::monomial(m, Rational::from_integer((next() % 7 - 3).into())));
            }
            if p.is_zero() {
                c(1)
            } else {
                p
            }
        };
        for _ in 0..30 {
            let (a, b, cc) = (random_poly(&mut next), random_poly(&mut next), random_poly(&mut next));
            let g = Poly::gcd(&a.mul(&cc), &b.mul(&cc));
            assert!(g.div_exact(&cc.normalize().1).is_some(), "gcd {g:?} of multiples of {cc:?}");
            assert_eq!(a.mul(&cc).div_exact(&cc), Some(a.clone()));
        }
    }
}
