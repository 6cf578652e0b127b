//! Exact multivariate polynomials and rational functions over the rationals.
//!
//! The simplifier's algebra: [`Poly`] is a sparse list of terms, sorted by monomial,
//! with rational coefficients, [`Rat`] a quotient of two polynomials kept reduced by a
//! greatest common divisor (the recursive primitive polynomial remainder sequence).
//! Variables are plain numbers; what they stand for is the caller's business.
//!
//! Made for speed where the simplifier spends its time: coefficients are fractions of
//! machine words that fall back to big rationals only when they overflow (`Coef`),
//! monomials of up to four variables need no allocation ([`Exps`]), and a gcd takes
//! shortcuts before the remainder sequence (a monomial; coprimality shown by images mod a
//! prime; one polynomial dividing the other). The interface speaks [`Rational`].

use std::cmp::Ordering;
use std::collections::BTreeSet;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};

use crate::number::{self, Rational};

/// A polynomial variable.
pub type Var = u32;

/// A monomial: sorted `(var, exponent)` pairs, exponents above zero, no repeated var.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Monomial(pub Exps);

/// How many `(var, exponent)` pairs [`Exps`] holds without allocating.
const INLINE: usize = 4;

/// A short list of `(var, exponent)` pairs, read as a slice: up to four (`INLINE`) are
/// kept in place, more on the heap. A polynomial's every term has one, and most have
/// few variables, so this saves an allocation per term and per product of terms.
/// Equality, order and hash are those of the slice.
#[derive(Clone)]
pub struct Exps(ExpsRepr);

#[derive(Clone)]
enum ExpsRepr {
    Inline(u8, [(Var, u32); INLINE]),
    Heap(Vec<(Var, u32)>),
}

impl Exps {
    /// No pairs.
    pub const fn new() -> Exps {
        Exps(ExpsRepr::Inline(0, [(0, 0); INLINE]))
    }

    fn with_capacity(n: usize) -> Exps {
        if n <= INLINE {
            Exps::new()
        } else {
            Exps(ExpsRepr::Heap(Vec::with_capacity(n)))
        }
    }

    /// Appends a pair.
    pub fn push(&mut self, x: (Var, u32)) {
        match &mut self.0 {
            ExpsRepr::Inline(n, a) if (*n as usize) < INLINE => {
                a[*n as usize] = x;
                *n += 1;
            }
            ExpsRepr::Inline(_, a) => {
                let mut v = Vec::with_capacity(2 * INLINE);
                v.extend_from_slice(a);
                v.push(x);
                self.0 = ExpsRepr::Heap(v);
            }
            ExpsRepr::Heap(v) => v.push(x),
        }
    }
}

impl Default for Exps {
    fn default() -> Exps {
        Exps::new()
    }
}

impl std::ops::Deref for Exps {
    type Target = [(Var, u32)];
    fn deref(&self) -> &[(Var, u32)] {
        match &self.0 {
            ExpsRepr::Inline(n, a) => &a[..*n as usize],
            ExpsRepr::Heap(v) => v,
        }
    }
}

impl PartialEq for Exps {
    fn eq(&self, o: &Exps) -> bool {
        **self == **o
    }
}

impl Eq for Exps {}

impl PartialOrd for Exps {
    fn partial_cmp(&self, o: &Exps) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Exps {
    fn cmp(&self, o: &Exps) -> Ordering {
        (**self).cmp(&**o)
    }
}

impl std::hash::Hash for Exps {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}

impl std::fmt::Debug for Exps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl FromIterator<(Var, u32)> for Exps {
    fn from_iter<I: IntoIterator<Item = (Var, u32)>>(it: I) -> Exps {
        let mut e = Exps::new();
        for x in it {
            e.push(x);
        }
        e
    }
}

impl From<Vec<(Var, u32)>> for Exps {
    fn from(v: Vec<(Var, u32)>) -> Exps {
        if v.len() <= INLINE {
            v.into_iter().collect()
        } else {
            Exps(ExpsRepr::Heap(v))
        }
    }
}

impl Monomial {
    fn mul(&self, o: &Monomial) -> Monomial {
        let mut out = Exps::with_capacity(self.0.len() + o.0.len());
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
        let mut out = Exps::new();
        let mut j = 0;
        for &(v, e) in self.0.iter() {
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

/// A coefficient: a fraction of machine words while it fits, a big rational when it
/// does not. Each value has exactly one form (`Big` only when `Small` cannot hold it),
/// so the derived equality and hash are those of the value. The arithmetic is checked:
/// a result that overflows the words is computed again with big integers, and a big
/// result that fits is brought back to words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Coef {
    /// `n/d` in lowest terms, `d > 0`, and `n != i64::MIN` so that `-n` fits.
    Small(i64, i64),
    /// Boxed, so that a coefficient is three words.
    Big(Box<Rational>),
}

/// The greatest common divisor (binary; `gcd(0, b) = b`).
fn gcd_u64(mut a: u64, mut b: u64) -> u64 {
    if a == 0 {
        return b;
    }
    if b == 0 {
        return a;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

fn gcd_u128(a: u128, b: u128) -> u128 {
    // Products of word coefficients mostly fit back in a word: the fast path.
    if a <= u64::MAX as u128 && b <= u64::MAX as u128 {
        return gcd_u64(a as u64, b as u64) as u128;
    }
    num_integer::Integer::gcd(&a, &b)
}

impl Coef {
    const ZERO: Coef = Coef::Small(0, 1);
    const ONE: Coef = Coef::Small(1, 1);

    /// `±n/d` reduced, for `d > 0`.
    fn from_parts(negative: bool, n: u128, d: u128) -> Coef {
        let g = gcd_u128(n, d);
        let (n, d) = (n / g, d / g);
        if n <= i64::MAX as u128 && d <= i64::MAX as u128 {
            let n = n as i64;
            return Coef::Small(if negative { -n } else { n }, d as i64);
        }
        let sign = if negative { num_bigint::Sign::Minus } else { num_bigint::Sign::Plus };
        let n = BigInt::from_biguint(sign, n.into());
        Coef::Big(Box::new(Rational::new_raw(n, d.into())))
    }

    /// `n/d` reduced, for `d > 0`.
    fn from_i128(n: i128, d: i128) -> Coef {
        debug_assert!(d > 0);
        Coef::from_parts(n < 0, n.unsigned_abs(), d as u128)
    }

    /// A reduced rational (as num-rational keeps them) in its one form.
    fn from_big(r: Rational) -> Coef {
        use num_traits::ToPrimitive;
        match (r.numer().to_i64(), r.denom().to_i64()) {
            (Some(n), Some(d)) if n != i64::MIN => Coef::Small(n, d),
            _ => Coef::Big(Box::new(r)),
        }
    }

    /// The value as a big integer, where it is an integer: integers add and multiply
    /// without the gcds that a quotient's sum and product reduce by (num-bigint's binary
    /// gcd with 1 still shifts through the other number a bit per step), and a remainder
    /// sequence's coefficients are all integers, which grow.
    fn integer(&self) -> Option<std::borrow::Cow<'_, BigInt>> {
        match self {
            Coef::Small(n, 1) => Some(std::borrow::Cow::Owned(BigInt::from(*n))),
            Coef::Big(r) if r.is_integer() => Some(std::borrow::Cow::Borrowed(r.numer())),
            _ => None,
        }
    }

    fn to_big(&self) -> Rational {
        match self {
            Coef::Small(n, d) => Rational::new_raw(BigInt::from(*n), BigInt::from(*d)),
            Coef::Big(r) => (**r).clone(),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Coef::Small(0, _))
    }

    fn is_one(&self) -> bool {
        matches!(self, Coef::Small(1, 1))
    }

    fn is_negative(&self) -> bool {
        match self {
            Coef::Small(n, _) => *n < 0,
            Coef::Big(r) => r.is_negative(),
        }
    }

    fn neg(&self) -> Coef {
        match self {
            Coef::Small(n, d) => Coef::Small(-n, *d),
            Coef::Big(r) => Coef::from_big(-&**r),
        }
    }

    fn add(&self, o: &Coef) -> Coef {
        match (self, o) {
            (&Coef::Small(a, b), &Coef::Small(c, d)) => {
                if b == 1 && d == 1 {
                    if let Some(s) = a.checked_add(c).filter(|&s| s != i64::MIN) {
                        return Coef::Small(s, 1);
                    }
                }
                if b == d {
                    return Coef::from_i128(a as i128 + c as i128, b as i128);
                }
                // |a*d + c*b| < 2^127 and b*d < 2^126: no overflow in 128 bits.
                let (a, b, c, d) = (a as i128, b as i128, c as i128, d as i128);
                Coef::from_i128(a * d + c * b, b * d)
            }
            _ => {
                charge_big(self, o);
                match (self.integer(), o.integer()) {
                    (Some(a), Some(b)) => Coef::from_big(Rational::from_integer(&*a + &*b)),
                    _ => Coef::from_big(self.to_big() + o.to_big()),
                }
            }
        }
    }

    fn sub(&self, o: &Coef) -> Coef {
        self.add(&o.neg())
    }

    fn mul(&self, o: &Coef) -> Coef {
        match (self, o) {
            (&Coef::Small(a, b), &Coef::Small(c, d)) => {
                if a == 0 || c == 0 {
                    return Coef::ZERO;
                }
                if b == 1 && d == 1 {
                    if let Some(p) = a.checked_mul(c).filter(|&p| p != i64::MIN) {
                        return Coef::Small(p, 1);
                    }
                }
                // Cancel crosswise first: the result is then in lowest terms.
                let g1 = gcd_u64(a.unsigned_abs(), d as u64) as i64;
                let g2 = gcd_u64(c.unsigned_abs(), b as u64) as i64;
                let n = (a / g1) as i128 * (c / g2) as i128;
                let m = (b / g2) as i128 * (d / g1) as i128;
                if let (Ok(n), Ok(m)) = (i64::try_from(n), i64::try_from(m)) {
                    if n != i64::MIN {
                        return Coef::Small(n, m);
                    }
                }
                Coef::from_i128(n, m)
            }
            _ => {
                charge_big(self, o);
                match (self.integer(), o.integer()) {
                    (Some(a), Some(b)) => Coef::from_big(Rational::from_integer(&*a * &*b)),
                    _ => Coef::from_big(self.to_big() * o.to_big()),
                }
            }
        }
    }

    /// `1/self`, for a nonzero `self`.
    fn recip(&self) -> Coef {
        debug_assert!(!self.is_zero());
        match self {
            &Coef::Small(n, d) => Coef::Small(if n < 0 { -d } else { d }, n.abs()),
            Coef::Big(r) => Coef::from_big(r.recip()),
        }
    }

    /// `self/o`, for a nonzero `o`.
    fn div(&self, o: &Coef) -> Coef {
        self.mul(&o.recip())
    }

    /// The positive `c` with every `x / c` an integer and all of them coprime: the gcd
    /// of the numerators over the lcm of the denominators (zero for none or all zero).
    fn content<'a>(cs: impl Iterator<Item = &'a Coef> + Clone) -> Coef {
        let (mut g, mut l) = (0u64, 1u64);
        let mut small = true;
        for c in cs.clone() {
            let Coef::Small(n, d) = *c else {
                small = false;
                break;
            };
            g = gcd_u64(g, n.unsigned_abs());
            let d = d as u64;
            match (l / gcd_u64(l, d)).checked_mul(d) {
                Some(m) => l = m,
                None => {
                    small = false;
                    break;
                }
            }
        }
        if small {
            return if g == 0 { Coef::ZERO } else { Coef::from_parts(false, g as u128, l as u128) };
        }
        let (mut g, mut l) = (BigInt::zero(), BigInt::one());
        for c in cs {
            let r = c.to_big();
            g = g.gcd(r.numer());
            l = l.lcm(r.denom());
        }
        if g.is_zero() {
            Coef::ZERO
        } else {
            Coef::from_big(Rational::new(g, l))
        }
    }
}

/// A polynomial with rational coefficients; no zero coefficient is stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Poly {
    /// The terms, sorted by monomial (so the constant term, if any, is first), each
    /// monomial once.
    terms: Vec<(Monomial, Coef)>,
}

/// Sorts terms by monomial and adds up those of one monomial, dropping zeros.
fn collect_terms(mut v: Vec<(Monomial, Coef)>) -> Vec<(Monomial, Coef)> {
    // Stable sort: linear when the terms come (nearly) sorted, as they often do.
    v.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Monomial, Coef)> = Vec::with_capacity(v.len());
    for (m, c) in v {
        match out.last_mut() {
            Some((lm, lc)) if *lm == m => *lc = lc.add(&c),
            _ => out.push((m, c)),
        }
    }
    out.retain(|(_, c)| !c.is_zero());
    out
}

impl Poly {
    /// Zero.
    pub fn zero() -> Poly {
        Poly::default()
    }

    /// One.
    pub fn one() -> Poly {
        Poly::mono(Monomial::default(), Coef::ONE)
    }

    /// A constant.
    pub fn constant(c: Rational) -> Poly {
        Poly::mono(Monomial::default(), Coef::from_big(c))
    }

    /// A variable.
    pub fn var(v: Var) -> Poly {
        Poly::mono(Monomial(vec![(v, 1)].into()), Coef::ONE)
    }

    /// `c * m`.
    pub fn monomial(m: Monomial, c: Rational) -> Poly {
        Poly::mono(m, Coef::from_big(c))
    }

    fn mono(m: Monomial, c: Coef) -> Poly {
        Poly { terms: if c.is_zero() { Vec::new() } else { vec![(m, c)] } }
    }

    fn from_terms(v: Vec<(Monomial, Coef)>) -> Poly {
        // Sorting and combining the terms costs as a sum of them does.
        crate::limits::spend_work(v.len() as u64 / MERGE_TERMS_PER_UNIT);
        Poly { terms: collect_terms(v) }
    }

    /// The coefficient when this is a nonzero constant.
    fn constant_coef(&self) -> Option<&Coef> {
        match self.terms.as_slice() {
            [(m, c)] if m.0.is_empty() => Some(c),
            _ => None,
        }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether this is a constant (zero included).
    fn is_constant(&self) -> bool {
        self.terms.is_empty() || self.constant_coef().is_some()
    }

    /// The value when this is a constant (zero included).
    pub fn as_constant(&self) -> Option<Rational> {
        if self.terms.is_empty() {
            return Some(Rational::zero());
        }
        self.constant_coef().map(Coef::to_big)
    }

    /// The terms, in a fixed order.
    pub fn terms(&self) -> impl Iterator<Item = (&Monomial, Rational)> {
        self.terms.iter().map(|(m, c)| (m, c.to_big()))
    }

    /// How many terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// `self + o`, or `self - o` when `negate`: a merge of the sorted terms.
    fn merge(&self, o: &Poly, negate: bool) -> Poly {
        let (a, b) = (&self.terms, &o.terms);
        // A sum costs in proportion to its terms: the remainder loop of an exact division
        // (a multivariate gcd's content) is a long series of these.
        crate::limits::spend_work(1 + (a.len() + b.len()) as u64 / MERGE_TERMS_PER_UNIT);
        let other = |c: &Coef| if negate { c.neg() } else { c.clone() };
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    out.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    out.push((b[j].0.clone(), other(&b[j].1)));
                    j += 1;
                }
                Ordering::Equal => {
                    let c = if negate { a[i].1.sub(&b[j].1) } else { a[i].1.add(&b[j].1) };
                    if !c.is_zero() {
                        out.push((a[i].0.clone(), c));
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend(b[j..].iter().map(|(m, c)| (m.clone(), other(c))));
        Poly { terms: out }
    }

    /// `self + o`.
    pub fn add(&self, o: &Poly) -> Poly {
        self.merge(o, false)
    }

    /// `self - o`.
    pub fn sub(&self, o: &Poly) -> Poly {
        self.merge(o, true)
    }

    /// `-self`.
    pub fn neg(&self) -> Poly {
        Poly { terms: self.terms.iter().map(|(m, c)| (m.clone(), c.neg())).collect() }
    }

    /// `self * o`.
    pub fn mul(&self, o: &Poly) -> Poly {
        if self.is_zero() || o.is_zero() {
            return Poly::zero();
        }
        if let Some(c) = self.constant_coef() {
            return o.scale_by(c);
        }
        if let Some(c) = o.constant_coef() {
            return self.scale_by(c);
        }
        let mut v = Vec::with_capacity(self.terms.len() * o.terms.len());
        for (m1, c1) in &self.terms {
            // A row of products costs in proportion to its terms, as a sum does.
            crate::limits::spend_work(1 + o.terms.len() as u64 / MERGE_TERMS_PER_UNIT);
            for (m2, c2) in &o.terms {
                v.push((m1.mul(m2), c1.mul(c2)));
            }
        }
        Poly::from_terms(v)
    }

    /// `c*m * self`.
    fn mul_term(&self, m: &Monomial, c: &Coef) -> Poly {
        if m.0.is_empty() {
            return self.scale_by(c);
        }
        Poly::from_terms(self.terms.iter().map(|(k, x)| (k.mul(m), x.mul(c))).collect())
    }

    /// `c * self`.
    pub fn scale(&self, c: &Rational) -> Poly {
        self.scale_by(&Coef::from_big(c.clone()))
    }

    fn scale_by(&self, c: &Coef) -> Poly {
        if c.is_zero() {
            return Poly::zero();
        }
        if c.is_one() {
            return self.clone();
        }
        Poly { terms: self.terms.iter().map(|(m, x)| (m.clone(), x.mul(c))).collect() }
    }

    /// `self ^ n`.
    pub fn pow(&self, n: u32) -> Poly {
        // By squaring, starting from the first power taken rather than from 1.
        let mut r: Option<Poly> = None;
        let mut base = self.clone();
        let mut n = n;
        while n > 0 {
            if n & 1 == 1 {
                r = Some(match r {
                    Some(r) => r.mul(&base),
                    None => base.clone(),
                });
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(&base);
            }
        }
        r.unwrap_or_else(Poly::one)
    }

    /// The variables that occur.
    pub fn vars(&self) -> BTreeSet<Var> {
        self.terms.iter().flat_map(|(m, _)| m.0.iter().map(|&(v, _)| v)).collect()
    }

    /// The degree in `v` (0 when absent).
    pub fn degree(&self, v: Var) -> u32 {
        self.terms.iter().map(|(m, _)| m.degree(v)).max().unwrap_or(0)
    }

    /// The coefficients in `v`: `c[k]` multiplies `v^k`; each is free of `v`.
    pub fn coeffs_in(&self, v: Var) -> Vec<Poly> {
        let mut out = vec![Vec::new(); self.degree(v) as usize + 1];
        for (m, c) in &self.terms {
            out[m.degree(v) as usize].push((m.without(v), c.clone()));
        }
        out.into_iter().map(Poly::from_terms).collect()
    }

    /// The inverse of [`Poly::coeffs_in`].
    #[cfg(test)]
    pub fn from_coeffs_in(v: Var, cs: &[Poly]) -> Poly {
        let mut v_terms = Vec::new();
        for (k, c) in cs.iter().enumerate() {
            let vk = Monomial(vec![(v, k as u32)].into());
            v_terms.extend(c.terms.iter().map(|(m, x)| (if k == 0 { m.clone() } else { m.mul(&vk) }, x.clone())));
        }
        Poly::from_terms(v_terms)
    }

    fn leading(&self) -> Option<(&Monomial, &Coef)> {
        self.terms.iter().max_by(|a, b| a.0.cmp_lex(&b.0)).map(|(m, c)| (m, c))
    }

    /// The quotient when `d` divides `self` exactly.
    pub fn div_exact(&self, d: &Poly) -> Option<Poly> {
        if d.is_constant() {
            // Most gcds are 1: no division to do.
            let c = &d.terms.first()?.1;
            return Some(if c.is_one() { self.clone() } else { self.scale_by(&c.recip()) });
        }
        let (dm, dc) = d.leading()?;
        let mut r = self.clone();
        let mut q = Vec::new();
        while let Some((rm, rc)) = r.leading() {
            let m = rm.div(dm)?;
            let c = rc.div(dc);
            r = r.sub(&d.mul_term(&m, &c));
            q.push((m, c));
        }
        Some(Poly::from_terms(q))
    }

    /// The positive rational `c` with `self / c` of coprime integer coefficients.
    #[cfg(test)]
    pub fn content(&self) -> Rational {
        self.content_coef().to_big()
    }

    fn content_coef(&self) -> Coef {
        Coef::content(self.terms.iter().map(|(_, c)| c))
    }

    /// `(c, p)` with `self = c*p`, `p` of coprime integer coefficients and a positive
    /// leading coefficient.
    pub fn normalize(&self) -> (Rational, Poly) {
        let (c, p) = self.normalized();
        (c.to_big(), p)
    }

    fn normalized(&self) -> (Coef, Poly) {
        if self.is_zero() {
            return (Coef::ZERO, Poly::zero());
        }
        let mut c = self.content_coef();
        if self.leading().is_some_and(|(_, l)| l.is_negative()) {
            c = c.neg();
        }
        let p = if c.is_one() { self.clone() } else { self.scale_by(&c.recip()) };
        (c, p)
    }

    /// The largest monomial dividing every term; `1` for the zero polynomial.
    pub fn monomial_gcd(&self) -> Monomial {
        let mut it = self.terms.iter().map(|(m, _)| m);
        // No terms: every monomial divides them, and `1` is the one that takes nothing
        // out (dividing by it is the identity), so callers need no case for zero.
        let Some(first) = it.next() else { return Monomial::default() };
        it.fold(first.clone(), |g, m| g.gcd(m))
    }

    /// Exact division by a monomial that divides every term.
    pub fn div_monomial(&self, m: &Monomial) -> Poly {
        if m.0.is_empty() {
            return self.clone();
        }
        Poly::from_terms(self.terms.iter().filter_map(|(k, c)| Some((k.div(m)?, c.clone()))).collect())
    }

    /// The greatest common divisor, normalized; `gcd(0, 0) = 0`.
    pub fn gcd(a: &Poly, b: &Poly) -> Poly {
        if a.is_zero() {
            return b.normalized().1;
        }
        if b.is_zero() {
            return a.normalized().1;
        }
        if a.is_constant() || b.is_constant() {
            return Poly::one();
        }
        if a.len() == 1 || b.len() == 1 {
            // A divisor of a monomial is a monomial.
            return Poly::mono(a.monomial_gcd().gcd(&b.monomial_gcd()), Coef::ONE);
        }
        // The common monomial first: cheap, and it keeps the remainder sequence small.
        let m = a.monomial_gcd().gcd(&b.monomial_gcd());
        let (a, b) = (a.div_monomial(&m), b.div_monomial(&m));
        // Most gcds the simplifier asks for are 1: images mod a prime show that cheaply.
        let (small, large) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
        let g = if coprime(&a, &b) {
            Poly::one()
        } else if large.div_exact(small).is_some() {
            // Often one divides the other: (1 + x)^2 and 1 + x.
            small.clone()
        } else {
            gcd_rec(&a, &b)
        };
        Poly::mono(m, Coef::ONE).mul(&g).normalized().1
    }
}

/// Arithmetic on big coefficients costs about the square of their size in words (the
/// gcd that reduces each result): charged to the work budget, so that coefficient
/// growth in a gcd's remainder sequence ends a search rather than stalling it.
fn charge_big(a: &Coef, b: &Coef) {
    let bits = |c: &Coef| match c {
        Coef::Small(..) => 64,
        Coef::Big(r) => r.numer().bits() + r.denom().bits(),
    };
    let words = (bits(a) + bits(b)) / 64;
    crate::limits::spend_work(1 + words * words / 2);
    // (And the clock: outside a budget, big arithmetic still stops at --timeout.)
    crate::limits::tick();
}

/// How many terms of a sum, a difference or a row of a product make one unit of a
/// work budget (a unit is about one node built).
const MERGE_TERMS_PER_UNIT: u64 = 4;

/// The prime of the coprimality test: below 2^31, so that a product of residues fits a u64.
const P: u64 = 2_147_483_647;

/// `1/a` mod P, for `a` not a multiple of P.
fn inv_mod(a: u64) -> u64 {
    number::inv_mod(a, P).unwrap_or(0)
}

impl Coef {
    /// The residue mod P, `None` when P divides the denominator.
    fn residue(&self) -> Option<u64> {
        let (n, d) = match self {
            Coef::Small(n, d) => (n.rem_euclid(P as i64) as u64, *d as u64 % P),
            Coef::Big(r) => return number::residue(r, P),
        };
        (d != 0).then(|| n * inv_mod(d) % P)
    }
}

/// A pseudo-random residue in `1..P`, fixed by `seed`.
fn residue_at(seed: u64) -> u64 {
    // splitmix64.
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % (P - 1) + 1
}

/// The residues mod P of the coefficients of `p`, `None` when P divides a denominator.
fn residues(p: &Poly) -> Option<Vec<u64>> {
    p.terms
        .iter()
        .map(|(_, c)| match *c {
            Coef::Small(n, 1) => Some(n.rem_euclid(P as i64) as u64),
            _ => c.residue(),
        })
        .collect()
}

/// `p` mod P, its coefficients' residues `res`, with every variable `v` but `x` at
/// `point[v]`, as coefficients in `x` (lowest first).
fn image_mod(p: &Poly, res: &[u64], x: Var, point: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; p.degree(x) as usize + 1];
    for ((m, _), &r) in p.terms.iter().zip(res) {
        let mut t = r;
        let mut k = 0;
        for &(v, e) in m.0.iter() {
            if v == x {
                k = e as usize;
            } else if e <= 4 {
                for _ in 0..e {
                    t = t * point[v as usize] % P;
                }
            } else {
                t = t * number::pow_mod(point[v as usize], e as u64, P) % P;
            }
        }
        out[k] = (out[k] + t) % P;
    }
    out
}

/// The degree of the gcd of two polynomials over the integers mod P (coefficients lowest
/// first), by Euclid's algorithm; `a` is not zero.
fn gcd_degree_mod(mut a: Vec<u64>, mut b: Vec<u64>) -> usize {
    let trim = |v: &mut Vec<u64>| {
        while v.last() == Some(&0) {
            v.pop();
        }
    };
    trim(&mut a);
    trim(&mut b);
    while let Some(&lb) = b.last() {
        let inv = inv_mod(lb);
        while a.len() >= b.len() {
            let q = a[a.len() - 1] * inv % P;
            let shift = a.len() - b.len();
            for (i, &bi) in b.iter().enumerate() {
                a[shift + i] = (a[shift + i] + P - q * bi % P) % P;
            }
            trim(&mut a);
        }
        std::mem::swap(&mut a, &mut b);
    }
    a.len().saturating_sub(1)
}

/// Whether `a` and `b` certainly have no common factor but a constant (`false`: not
/// known). For each variable `x` of both, the others are set to pseudo-random residues
/// mod P where the leading coefficient of `a` in `x` does not vanish. The gcd `G`, taken
/// with integer coefficients, divides both images, and keeps its degree in `x` there
/// (its leading coefficient in `x` divides `a`'s); so when the images' gcd is a
/// constant, `G` is free of `x`. A variable of only one of them is not in `G` either.
fn coprime(a: &Poly, b: &Poly) -> bool {
    let (va, vb) = (a.vars(), b.vars());
    let shared: Vec<Var> = va.intersection(&vb).copied().collect();
    if shared.is_empty() {
        return true;
    }
    let (Some(ra), Some(rb)) = (residues(a), residues(b)) else { return false };
    let n = va.iter().chain(&vb).max().map_or(0, |&v| v as usize + 1);
    let points: Vec<Vec<u64>> =
        (0..2u64).map(|attempt| (0..n as u64).map(|v| residue_at(v << 1 | attempt)).collect()).collect();
    shared.iter().all(|&x| {
        for point in &points {
            let ia = image_mod(a, &ra, x, point);
            if ia.last() == Some(&0) {
                // The leading coefficient vanishes there: another point.
                continue;
            }
            return gcd_degree_mod(ia, image_mod(b, &rb, x, point)) == 0;
        }
        false
    })
}

/// The content of `p` in `v`: the gcd of its coefficients, which are free of `v`.
fn content_in(p: &Poly, v: Var) -> Poly {
    let mut cs = p.coeffs_in(v);
    cs.retain(|c| !c.is_zero());
    if cs.iter().any(Poly::is_constant) {
        return Poly::one();
    }
    // The fewest terms first: a monomial makes every later gcd a monomial's.
    cs.sort_by_key(Poly::len);
    let mut g = Poly::zero();
    for c in cs {
        g = if g.is_zero() { c.normalized().1 } else { Poly::gcd(&g, &c) };
        if g.is_constant() && !g.is_zero() {
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
            Poly::mono(if dr > db { Monomial(vec![(v, dr - db)].into()) } else { Monomial::default() }, Coef::ONE);
        r = r.mul(&lc).sub(&lr.mul(&shift).mul(b));
    }
    r
}

fn gcd_rec(a: &Poly, b: &Poly) -> Poly {
    if a.is_constant() || b.is_constant() {
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
        r1 = r.div_exact(&cr).unwrap_or(r).normalized().1;
    }
    let cr = content_in(&r1, v);
    let g = r1.div_exact(&cr).unwrap_or(r1);
    c.mul(&g).normalized().1
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
        let (c, den) = den.normalized();
        Some(Rat { num: num.scale_by(&c.recip()), den })
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

    /// `v^n`, a whole power (negative: `1/v^-n`); `None` past an `i32`'s powers.
    pub fn var_power(v: Var, n: i64) -> Option<Rat> {
        let k = u32::try_from(n.unsigned_abs()).ok().filter(|&k| k <= i32::MAX as u32)?;
        let power = || Poly::mono(Monomial(vec![(v, k)].into()), Coef::ONE);
        Some(match n {
            0 => Rat::from_poly(Poly::one()),
            n if n > 0 => Rat::from_poly(power()),
            _ => Rat { num: Poly::one(), den: power() },
        })
    }

    /// Whether this is one.
    fn is_one(&self) -> bool {
        self.den.is_constant() && self.num.constant_coef() == Some(&Coef::ONE)
    }

    fn reduced(num: Poly, den: Poly) -> Rat {
        Rat::new(num.clone(), den).unwrap_or_else(|| Rat::from_poly(num))
    }

    /// `self + o`.
    pub fn add(&self, o: &Rat) -> Rat {
        if self.is_zero() {
            return o.clone();
        }
        if o.is_zero() {
            return self.clone();
        }
        if o.den.is_constant() && self.den.is_constant() {
            // Both denominators are normalized constants, hence 1.
            return Rat::from_poly(self.num.add(&o.num));
        }
        // A polynomial added: n1/d1 + n2 is (n1 + n2*d1)/d1, reduced as n1/d1 is (a
        // factor of d1 dividing the sum divides n1).
        if o.den.is_constant() {
            return Rat { num: self.num.add(&o.num.mul(&self.den)), den: self.den.clone() };
        }
        if self.den.is_constant() {
            return Rat { num: o.num.add(&self.num.mul(&o.den)), den: o.den.clone() };
        }
        if self.den == o.den {
            return Rat::reduced(self.num.add(&o.num), self.den.clone());
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
                let (c, den) = d.normalized();
                return Rat { num: n.scale_by(&c.recip()), den };
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
        if self.is_one() {
            return o.clone();
        }
        if o.is_one() {
            return self.clone();
        }
        if self.den.is_constant() && o.den.is_constant() {
            return Rat::from_poly(self.num.mul(&o.num));
        }
        // Both factors are reduced, so only the crosswise pairs can share a factor:
        // two small gcds instead of one of the full products.
        let (g1, g2) = (Poly::gcd(&self.num, &o.den), Poly::gcd(&o.num, &self.den));
        match (self.num.div_exact(&g1), o.den.div_exact(&g1), o.num.div_exact(&g2), self.den.div_exact(&g2)) {
            (Some(n1), Some(d2), Some(n2), Some(d1)) => {
                let (c, den) = d1.mul(&d2).normalized();
                Rat { num: n1.mul(&n2).scale_by(&c.recip()), den }
            }
            _ => Rat::reduced(self.num.mul(&o.num), self.den.mul(&o.den)),
        }
    }

    /// `self / o`, `None` when `o` is zero.
    pub fn div(&self, o: &Rat) -> Option<Rat> {
        if o.is_zero() {
            return None;
        }
        // 1/o is reduced as o is; normalize its denominator and multiply, which takes
        // two crosswise gcds instead of one of the full products.
        let (c, den) = o.num.normalized();
        Some(self.mul(&Rat { num: o.den.scale_by(&c.recip()), den }))
    }

    /// `self ^ n`, `None` for a negative power of zero.
    pub fn powi(&self, n: i32) -> Option<Rat> {
        let k = n.unsigned_abs();
        if n >= 0 {
            return Some(Rat { num: self.num.pow(k), den: self.den.pow(k) });
        }
        if self.is_zero() {
            return None;
        }
        // The powers of a reduced quotient are coprime: turned over, only the new
        // denominator's constant needs taking out.
        let (c, den) = self.num.pow(k).normalized();
        Some(Rat { num: self.den.pow(k).scale_by(&c.recip()), den })
    }

    /// `self` with `v` replaced by `value`.
    pub fn subst(&self, v: Var, value: &Rat) -> Option<Rat> {
        // p(v) of degree n at v = a/b is (sum c_k a^k b^(n-k)) / b^n.
        let (mut num_pows, mut den_pows) = (vec![Poly::one()], vec![Poly::one()]);
        let mut homog = |p: &Poly| -> (Poly, u32) {
            let cs = p.coeffs_in(v);
            let n = cs.len() as u32 - 1;
            while num_pows.len() < cs.len() {
                num_pows.push(num_pows[num_pows.len() - 1].mul(&value.num));
                den_pows.push(den_pows[den_pows.len() - 1].mul(&value.den));
            }
            let mut acc = Poly::zero();
            for (k, c) in cs.iter().enumerate() {
                if !c.is_zero() {
                    acc = acc.add(&c.mul(&num_pows[k]).mul(&den_pows[n as usize - k]));
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

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Integers around the edges of the words: small, any i64, next to i64::MAX and
        /// i64::MIN, just past them, and products of two words.
        fn int() -> impl Strategy<Value = BigInt> {
            prop_oneof![
                (-20i64..20).prop_map(BigInt::from),
                any::<i64>().prop_map(BigInt::from),
                (0i64..3).prop_map(|k| BigInt::from(i64::MAX - k)),
                (0i64..3).prop_map(|k| BigInt::from(i64::MIN + k)),
                (0i64..3, any::<bool>()).prop_map(|(k, neg)| {
                    let b: BigInt = BigInt::from(i64::MAX) + 1 + k;
                    if neg {
                        -b
                    } else {
                        b
                    }
                }),
                (any::<i64>(), any::<i64>()).prop_map(|(a, b)| BigInt::from(a) * BigInt::from(b)),
            ]
        }

        fn rational() -> impl Strategy<Value = Rational> {
            prop_oneof![
                int().prop_map(Rational::from_integer),
                (int(), int().prop_filter("nonzero", |d| !d.is_zero())).prop_map(|(n, d)| Rational::new(n, d)),
            ]
        }

        /// The one form of a value: words exactly when they hold it.
        fn canonical(c: &Coef) -> bool {
            use num_traits::ToPrimitive;
            match c {
                Coef::Small(n, d) => *d > 0 && *n != i64::MIN && n.unsigned_abs().gcd(&(*d as u64)) == 1,
                Coef::Big(r) => {
                    !matches!((r.numer().to_i64(), r.denom().to_i64()), (Some(n), Some(_)) if n != i64::MIN)
                }
            }
        }

        fn check(got: Coef, want: Rational) -> Result<(), TestCaseError> {
            prop_assert!(canonical(&got), "{got:?} is not in its one form");
            prop_assert_eq!(got.to_big(), want);
            Ok(())
        }

        /// A nonzero polynomial in three variables with coefficients from `coef`.
        fn poly_with(coef: impl Strategy<Value = Rational>) -> impl Strategy<Value = Poly> {
            proptest::collection::vec(((0u32..3, 0u32..3, 0u32..2), coef), 1..5)
                .prop_map(|ts| {
                    ts.into_iter().fold(Poly::zero(), |p, ((a, b, c), k)| {
                        let m = [(0, a), (1, b), (2, c)].into_iter().filter(|&(_, e)| e > 0).collect();
                        p.add(&Poly::monomial(Monomial(m), k))
                    })
                })
                .prop_filter("nonzero", |p| !p.is_zero())
        }

        /// Coefficients small or huge.
        fn poly() -> impl Strategy<Value = Poly> {
            poly_with(prop_oneof![3 => (-5i64..6).prop_map(|n| Rational::from_integer(n.into())), 1 => rational()])
        }

        /// Small coefficients and, now and then, one next to the edge of the words: what
        /// the remainder sequence of a gcd can take (with huge ones it swells past what a
        /// test can wait for).
        fn gcd_poly() -> impl Strategy<Value = Poly> {
            let edge = prop_oneof![
                Just(Rational::from_integer(i64::MAX.into())),
                Just(Rational::from_integer((i64::MIN + 1).into())),
                Just(Rational::new(1.into(), i64::MAX.into())),
                Just(Rational::new(3.into(), 4_294_967_296i64.into())),
            ];
            poly_with(prop_oneof![12 => (-5i64..6).prop_map(|n| Rational::from_integer(n.into())), 1 => edge])
        }

        fn point() -> impl Strategy<Value = Vec<Rational>> {
            proptest::collection::vec((-30i64..30, 1i64..7).prop_map(|(n, d)| Rational::new(n.into(), d.into())), 3)
        }

        /// The exact value at a point.
        fn at(p: &Poly, x: &[Rational]) -> Rational {
            p.terms()
                .map(|(m, c)| {
                    m.0.iter().fold(c, |acc, &(v, e)| acc * num_traits::pow(x[v as usize].clone(), e as usize))
                })
                .fold(Rational::zero(), |a, b| a + b)
        }

        fn rat_at(r: &Rat, x: &[Rational]) -> Option<Rational> {
            let d = at(&r.den, x);
            (!d.is_zero()).then(|| at(&r.num, x) / d)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn coefficients_agree_with_big_rationals(a in rational(), b in rational()) {
                let (x, y) = (Coef::from_big(a.clone()), Coef::from_big(b.clone()));
                check(x.clone(), a.clone())?;
                check(x.add(&y), &a + &b)?;
                check(x.sub(&y), &a - &b)?;
                check(x.mul(&y), &a * &b)?;
                check(x.neg(), -&a)?;
                if !b.is_zero() {
                    check(x.div(&y), &a / &b)?;
                    check(y.recip(), b.recip())?;
                }
                prop_assert_eq!(x.is_negative(), a.is_negative());
                prop_assert_eq!(x.is_zero(), a.is_zero());
                prop_assert_eq!(x.is_one(), a.is_one());
            }

            #[test]
            fn monomials_agree_with_exponent_vectors(
                a in proptest::collection::vec(0u32..3, 8),
                b in proptest::collection::vec(0u32..3, 8),
            ) {
                // Up to eight variables: in place and on the heap.
                let mono = |e: &[u32]| Monomial(e.iter().enumerate().filter(|&(_, &k)| k > 0).map(|(v, &k)| (v as Var, k)).collect());
                let pairs = |e: &[u32]| -> Vec<(Var, u32)> { mono(e).0.to_vec() };
                let (ma, mb) = (mono(&a), mono(&b));
                let sum: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                let min: Vec<u32> = a.iter().zip(&b).map(|(x, y)| *x.min(y)).collect();
                prop_assert_eq!(ma.mul(&mb), mono(&sum));
                prop_assert_eq!(ma.gcd(&mb), mono(&min));
                prop_assert_eq!(mono(&sum).div(&mb), Some(ma.clone()));
                let divides = a.iter().zip(&b).all(|(x, y)| y <= x);
                let diff: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x.saturating_sub(*y)).collect();
                prop_assert_eq!(ma.div(&mb), divides.then(|| mono(&diff)));
                prop_assert_eq!(ma.cmp(&mb), pairs(&a).cmp(&pairs(&b)));
                prop_assert_eq!(ma == mb, a == b);
                prop_assert_eq!(Monomial(pairs(&a).into()), ma.clone());
                let hash = |m: &Monomial| {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    m.hash(&mut h);
                    h.finish()
                };
                prop_assert_eq!(hash(&ma), hash(&mono(&a)));
            }

            #[test]
            fn content_agrees_with_big_integers(cs in proptest::collection::vec(rational(), 0..5)) {
                let coefs: Vec<Coef> = cs.iter().cloned().map(Coef::from_big).collect();
                let num = cs.iter().fold(BigInt::zero(), |g, c| g.gcd(c.numer()));
                let den = cs.iter().fold(BigInt::one(), |l, c| l.lcm(c.denom()));
                let want = if num.is_zero() { Rational::zero() } else { Rational::new(num, den) };
                check(Coef::content(coefs.iter()), want)?;
            }

            #[test]
            fn arithmetic_agrees_at_points(a in poly(), b in poly(), x in point()) {
                prop_assert_eq!(at(&a.add(&b), &x), at(&a, &x) + at(&b, &x));
                prop_assert_eq!(at(&a.sub(&b), &x), at(&a, &x) - at(&b, &x));
                prop_assert_eq!(at(&a.mul(&b), &x), at(&a, &x) * at(&b, &x));
                prop_assert_eq!(at(&a.pow(3), &x), num_traits::pow(at(&a, &x), 3));
                prop_assert_eq!(a.mul(&b).div_exact(&b), Some(a.clone()));
                let (c, n) = a.normalize();
                prop_assert_eq!(at(&n, &x) * c, at(&a, &x));
                prop_assert_eq!(n.content(), Rational::one());
                prop_assert_eq!(Poly::from_coeffs_in(1, &a.coeffs_in(1)), a.clone());
            }

            #[test]
            fn gcds_divide_and_contain_the_common_factor(a in gcd_poly(), b in gcd_poly(), c in gcd_poly()) {
                let (ac, bc) = (a.mul(&c), b.mul(&c));
                let g = Poly::gcd(&ac, &bc);
                prop_assert!(ac.div_exact(&g).is_some() && bc.div_exact(&g).is_some(), "{g:?} divides neither");
                prop_assert!(g.div_exact(&c).is_some(), "{g:?} misses {c:?}");
                prop_assert_eq!(g.normalize().1, g);
                // The test by images mod P claims coprimality only where it holds.
                for (x, y) in [(&a, &b), (&ac, &bc), (&a, &c)] {
                    if coprime(x, y) {
                        prop_assert_eq!(gcd_rec(x, y), Poly::one(), "{:?} and {:?} share a factor", x, y);
                    }
                }
            }

        }

        proptest! {
            // Fewer: each case runs several remainder sequences.
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn rational_functions_agree_at_points(a in gcd_poly(), b in gcd_poly(), c in gcd_poly(), d in gcd_poly(), x in point()) {
                let (r, s) = (Rat::new(a.mul(&c), b.mul(&c)).unwrap(), Rat::new(d.clone(), c.clone()).unwrap());
                let (ra, rb, rc, rd) = (at(&a, &x), at(&b, &x), at(&c, &x), at(&d, &x));
                prop_assume!(!rb.is_zero() && !rc.is_zero());
                let (vr, vs) = (&ra / &rb, &rd / &rc);
                prop_assert_eq!(rat_at(&r, &x), Some(vr.clone()));
                prop_assert_eq!(rat_at(&r.add(&s), &x), Some(&vr + &vs));
                prop_assert_eq!(rat_at(&r.sub(&s), &x), Some(&vr - &vs));
                prop_assert_eq!(rat_at(&r.mul(&s), &x), Some(&vr * &vs));
                if !rd.is_zero() {
                    prop_assert_eq!(rat_at(&r.div(&s).unwrap(), &x), Some(&vr / &vs));
                }
                // Reduced: no common factor is left, and the denominator is normalized.
                prop_assert_eq!(Poly::gcd(&r.num, &r.den), Poly::one());
                prop_assert_eq!(r.den.normalize().1, r.den.clone());
            }
        }
    }
}
