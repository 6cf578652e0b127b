//! Exact rational numbers: parsing decimal literals, bounded powers and roots.
//!
//! Every number deriv manipulates is an exact [`Rational`]. Arithmetic that could
//! explode (a huge integer power) is bounded by [`MAX_BITS`]: when a result would be
//! larger the caller keeps the expression symbolic instead.

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// An exact rational number of any size.
pub type Rational = num_rational::BigRational;

/// The largest number of bits a folded power may produce.
pub const MAX_BITS: u64 = 1 << 16;

/// The largest decimal exponent a literal may carry (`1e400` is fine, `1e100000` is not).
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// `a *= b`, without the gcd that [`Rational`]'s own product reduces by where both are
/// integers (most coefficients are).
pub fn mul_assign(a: &mut Rational, b: &Rational) {
    if a.is_integer() && b.is_integer() {
        *a = Rational::from_integer(a.numer() * b.numer());
    } else if let Some(r) = small_product(a, b) {
        *a = r;
    } else {
        *a *= b;
    }
}

/// `a*b` reduced in machine words, when every part fits.
fn small_product(a: &Rational, b: &Rational) -> Option<Rational> {
    let (an, ad) = (a.numer().to_i64()?, a.denom().to_i64()?);
    let (bn, bd) = (b.numer().to_i64()?, b.denom().to_i64()?);
    if an == i64::MIN || bn == i64::MIN {
        return None;
    }
    // Cross-cancel first (both fractions are reduced): the products then are too.
    let g1 = an.gcd(&bd).max(1);
    let g2 = bn.gcd(&ad).max(1);
    let n = (an / g1).checked_mul(bn / g2)?;
    let d = (ad / g2).checked_mul(bd / g1)?;
    Some(Rational::new_raw(n.into(), d.into()))
}

/// `a += b`, likewise without a gcd where both are integers.
pub fn add_assign(a: &mut Rational, b: &Rational) {
    if a.is_integer() && b.is_integer() {
        *a = Rational::from_integer(a.numer() + b.numer());
    } else if let Some(r) = small_sum(a, b) {
        *a = r;
    } else {
        *a += b;
    }
}

/// `a + b` reduced in double machine words, when the parts fit in single ones.
fn small_sum(a: &Rational, b: &Rational) -> Option<Rational> {
    let (an, ad) = (i128::from(a.numer().to_i64()?), i128::from(a.denom().to_i64()?));
    let (bn, bd) = (i128::from(b.numer().to_i64()?), i128::from(b.denom().to_i64()?));
    let n = an * bd + bn * ad;
    let d = ad * bd;
    let g = n.gcd(&d).max(1);
    let (n, d) = (i64::try_from(n / g).ok()?, i64::try_from(d / g).ok()?);
    Some(Rational::new_raw(n.into(), d.into()))
}

/// `a/b` rounded toward zero, in machine words where both fit one (`None` otherwise, or
/// for `b = 0`): the power of an exponent's unit an exponential is.
pub fn small_quotient(a: &Rational, b: &Rational) -> Option<i64> {
    let (an, ad) = (i128::from(a.numer().to_i64()?), i128::from(a.denom().to_i64()?));
    let (bn, bd) = (i128::from(b.numer().to_i64()?), i128::from(b.denom().to_i64()?));
    let (n, d) = (an.checked_mul(bd)?, ad.checked_mul(bn)?);
    if d == 0 {
        return None;
    }
    i64::try_from(n / d).ok()
}

/// The Mersenne prime `2^61 - 1`, whose products reduce by shifts: the proofs by value
/// work modulo it.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// `a*b` modulo a prime `p` below 2^63 (residues mod a prime are how the proofs by
/// value and the polynomial gcd's coprimality test sample an expression), for `a` and
/// `b` below `p`. Modulo [`MERSENNE_61`] by shifts and adds (`2^61` is 1), elsewhere by
/// a division.
pub fn mul_mod(a: u64, b: u64, p: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    if p == MERSENNE_61 {
        // x = hi*2^61 + lo is hi + lo modulo p; below 2^122, so hi + lo < 2^62.
        let folded = (x as u64 & p) + (x >> 61) as u64;
        let folded = (folded & p) + (folded >> 61);
        return if folded >= p { folded - p } else { folded };
    }
    (x % u128::from(p)) as u64
}

/// `b^e` modulo a prime `p`.
pub fn pow_mod(b: u64, mut e: u64, p: u64) -> u64 {
    let (mut acc, mut b) = (1, b % p);
    while e > 0 {
        if e & 1 == 1 {
            acc = mul_mod(acc, b, p);
        }
        b = mul_mod(b, b, p);
        e >>= 1;
    }
    acc
}

/// `1/a` modulo a prime `p` below 2^63, `None` for a multiple of `p`: by the extended
/// Euclidean algorithm (a few dozen divisions, where Fermat's `a^(p-2)` takes a hundred
/// products).
pub fn inv_mod(a: u64, p: u64) -> Option<u64> {
    let a = a % p;
    if a == 0 {
        return None;
    }
    // Invariant: r0 = s0*a and r1 = s1*a modulo p. The coefficients alternate in sign
    // and grow to at most p in size (|s| at one step is the sum of the two before it
    // weighted by the quotient, which the remainders shrink by), so they fit an i64.
    let (mut r0, mut r1) = (p, a);
    let (mut s0, mut s1) = (0i64, 1i64);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (s0, s1) = (s1, s0 - q as i64 * s1);
    }
    // r0 is gcd(p, a) = 1.
    Some(if s0 < 0 { p - s0.unsigned_abs() } else { s0 as u64 })
}

/// `r` modulo a prime `p`, `None` where `p` divides its denominator.
pub fn residue(r: &Rational, p: u64) -> Option<u64> {
    let of = |n: &BigInt| match n.to_i64() {
        Some(n) => n.rem_euclid(i64::try_from(p).ok()?).to_u64(),
        None => n.mod_floor(&BigInt::from(p)).to_u64(),
    };
    Some(mul_mod(of(r.numer())?, inv_mod(of(r.denom())?, p)?, p))
}

/// The content of a list of coefficients: the gcd of the numerators over the lcm of the
/// denominators (0 for none). In machine words while they fit, which they nearly always
/// do.
pub fn content<'a>(rs: impl Iterator<Item = &'a Rational> + Clone) -> Rational {
    let small = rs.clone().try_fold((0u64, 1u64), |(g, l), r| {
        let n = r.numer().to_i64()?.unsigned_abs();
        let d = r.denom().to_u64()?;
        let l = l.checked_mul(d / l.gcd(&d))?;
        Some((g.gcd(&n), l))
    });
    match small {
        Some((g, l)) => Rational::new(g.into(), l.into()),
        None => {
            let num = rs.clone().fold(BigInt::zero(), |g, c| g.gcd(c.numer()));
            let den = rs.fold(BigInt::one(), |l, c| l.lcm(c.denom()));
            Rational::new(num, den)
        }
    }
}

/// An integer's decimal digits, written through a machine word where it fits (the big
/// integer's own conversion divides by a radix power each time).
pub struct Digits<'a>(pub &'a BigInt);

impl std::fmt::Display for Digits<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.to_i64() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Whether `r` is `n/d` (`d` positive), without building either.
pub fn is(r: &Rational, n: i64, d: i64) -> bool {
    r.denom().to_i64() == Some(d) && r.numer().to_i64() == Some(n)
}

/// Builds an integer rational.
pub fn int(n: i64) -> Rational {
    Rational::from_integer(BigInt::from(n))
}

/// Parses a decimal literal such as `12`, `0.5`, `.5`, `1e-3`, `2.5E+10` exactly.
/// Returns `None` when the exponent is beyond [`MAX_DECIMAL_EXPONENT`].
pub fn parse_decimal(text: &str) -> Option<Rational> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let digits = format!("{whole}{frac}");
    let digits = if digits.is_empty() { "0" } else { &digits };
    let n: BigInt = digits.parse().ok()?;
    let scale = exponent.checked_sub(frac.len() as i64)?;
    // (`unsigned_abs`: an exponent of -2^63 has no `abs`, and wrapped it passed.)
    let (most, frac_len) = (MAX_DECIMAL_EXPONENT.unsigned_abs(), frac.len() as u64);
    if scale.unsigned_abs() > most + frac_len || exponent.unsigned_abs() > most {
        return None;
    }
    let ten = BigInt::from(10);
    let p = num_traits::pow(ten, scale.unsigned_abs() as usize);
    Some(if scale >= 0 { Rational::from_integer(n * p) } else { Rational::new(n, p) })
}

/// Bits needed to hold the numerator and denominator of `r`.
pub fn bits(r: &Rational) -> u64 {
    r.numer().bits().max(r.denom().bits())
}

/// `base^n` for an integer `n`, or `None` when the result would exceed [`MAX_BITS`]
/// or divide by zero.
pub fn pow_int(base: &Rational, n: &BigInt) -> Option<Rational> {
    if base.is_zero() {
        return match n.sign() {
            Sign::Minus => None,
            Sign::NoSign => Some(Rational::one()),
            Sign::Plus => Some(Rational::zero()),
        };
    }
    if base.is_one() {
        return Some(Rational::one());
    }
    if is(base, -1, 1) {
        return Some(if n.is_even() { Rational::one() } else { -Rational::one() });
    }
    let e = n.magnitude().to_u64()?;
    // (A reciprocal is no larger than its base, whatever the base's size: `1/N` is the
    // number whether it was written so or found as a product's coefficient.)
    if e > 1 && bits(base).saturating_mul(e) > MAX_BITS {
        return None;
    }
    let r = num_traits::pow(base.clone(), e as usize);
    Some(if n.is_negative() { r.recip() } else { r })
}

/// The exact `q`-th root of `r` when it is rational (`8/27`, `3` gives `2/3`).
pub fn exact_root(r: &Rational, q: &BigInt) -> Option<Rational> {
    let q = q.to_u32()?;
    if q == 0 || r.is_negative() && q % 2 == 0 {
        return None;
    }
    let root = |n: &BigInt| -> Option<BigInt> {
        let c = n.nth_root(q);
        (num_traits::pow(c.clone(), q as usize) == *n).then_some(c)
    };
    Some(Rational::new(root(r.numer())?, root(r.denom())?))
}

/// The value of `r` as the nearest `f64` (infinite when out of range).
pub fn to_f64(r: &Rational) -> f64 {
    // Both parts exact in an f64: one correctly rounded division (the general
    // conversion shifts and divides big integers).
    const EXACT: u64 = 1 << 53;
    if let (Some(n), Some(d)) = (r.numer().to_i64(), r.denom().to_i64()) {
        // (`unsigned_abs`: -2^63 has no `abs`.)
        if n.unsigned_abs() <= EXACT && d.unsigned_abs() <= EXACT {
            return n as f64 / d as f64;
        }
    }
    r.to_f64().unwrap_or(f64::NAN)
}

/// How many times 2 and 5 divide `d`, when they are its only prime factors.
fn twos_and_fives<T: Integer + Clone + From<u8>>(mut d: T) -> Option<(u64, u64)> {
    let mut count = |p: T| {
        let mut k = 0;
        while d.is_multiple_of(&p) {
            d = d.clone() / p.clone();
            k += 1;
        }
        k
    };
    let (a, b) = (count(T::from(2)), count(T::from(5)));
    d.is_one().then_some((a, b))
}

/// `10^k` for any whole `k`, negative too.
pub fn pow10(k: i64) -> Rational {
    let p = Rational::from_integer(num_traits::pow(BigInt::from(10), k.unsigned_abs() as usize));
    if k < 0 {
        p.recip()
    } else {
        p
    }
}

/// Whether `r` prints exactly as a short decimal (`0.044715`) rather than a fraction.
/// Small fractions such as `1/2` or `3/8` keep the fraction form.
pub fn decimal_digits(r: &Rational) -> Option<String> {
    if r.is_integer() {
        return None;
    }
    // (In a machine word where the denominator fits, as nearly every one does.)
    let (a, b) = match r.denom().to_u64() {
        Some(d) => twos_and_fives(d)?,
        None => twos_and_fives(r.denom().clone())?,
    };
    let k = a.max(b) as usize;
    // The decimal is used only when it is shorter than the fraction: 0.044715, not
    // 8943/200000; but 1/1024, not 0.0009765625, and x/2, not 0.5*x.
    let len = |n: &BigInt| Digits(n).to_string().len();
    let fraction_len = len(r.numer()) + 1 + len(r.denom());
    let decimal_len = (len(r.numer()) - usize::from(r.is_negative())).max(k) + 2 + usize::from(r.is_negative());
    if decimal_len >= fraction_len || k > 64 {
        return None;
    }
    let scaled = (r * pow10(k as i64)).to_integer();
    let neg = scaled.is_negative();
    let mut s = scaled.abs().to_string();
    if s.len() <= k {
        s = format!("{}{}", "0".repeat(k + 1 - s.len()), s);
    }
    let (i, f) = s.split_at(s.len() - k);
    Some(format!("{}{}.{}", if neg { "-" } else { "" }, i, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word quotient rounds toward zero as the big one does, and declines what does
    /// not fit.
    #[test]
    fn small_quotients_match_big_ones() {
        let r = |n: i64, d: i64| Rational::new(n.into(), d.into());
        for (a, b) in
            [(r(6, 1), r(2, 1)), (r(-7, 2), r(1, 2)), (r(7, 3), r(-2, 3)), (r(-5, 1), r(3, 1)), (r(9, 4), r(3, 8))]
        {
            assert_eq!(small_quotient(&a, &b), (a.clone() / b.clone()).to_integer().to_i64(), "{a}/{b}");
        }
        assert_eq!(small_quotient(&r(1, 1), &r(0, 1)), None);
        let huge = Rational::from_integer(BigInt::from(10).pow(30));
        assert_eq!(small_quotient(&huge, &r(1, 1)), None);
    }

    /// Products and inverses modulo the Mersenne prime (by shifts) and another prime
    /// (by division) agree with plain 128-bit remainders and with Fermat's inverse.
    #[test]
    fn arithmetic_modulo_a_prime_matches_the_definitions() {
        let mut rng = crate::rng::Rng::new(5);
        for p in [MERSENNE_61, 2_147_483_647, 1_000_000_007] {
            let edges = [0, 1, 2, p - 1, p - 2, p / 2];
            for i in 0..2000 {
                let (a, b) = match i {
                    i if i < 36 => (edges[i / 6], edges[i % 6]),
                    _ => (rng.next_u64() % p, rng.next_u64() % p),
                };
                assert_eq!(
                    u128::from(mul_mod(a, b, p)),
                    u128::from(a) * u128::from(b) % u128::from(p),
                    "{a}*{b} mod {p}"
                );
                match inv_mod(a, p) {
                    None => assert_eq!(a, 0),
                    Some(inv) => {
                        assert!(inv < p);
                        assert_eq!(mul_mod(a, inv, p), 1, "1/{a} mod {p}");
                        assert_eq!(inv, pow_mod(a, p - 2, p));
                    }
                }
            }
        }
    }

    /// -2^63, whose `abs` overflows a word, as a number and in an exponent (the
    /// roundtrip fuzzer's `8^-8^21` panicked; `1e-9223372036854775808` hung).
    #[test]
    fn the_most_negative_word_converts() {
        let min = Rational::from_integer(BigInt::from(i64::MIN));
        assert_eq!(to_f64(&min), -(2f64.powi(63)));
        assert_eq!(to_f64(&min.recip()), -(2f64.powi(-63)));
        assert_eq!(parse_decimal("1e-9223372036854775808"), None);
        assert_eq!(parse_decimal("1.5e-9223372036854775807"), None);
    }

    /// Powers past [`MAX_BITS`] stay unfolded, but a reciprocal always folds: `1/N` of a
    /// huge `N` must be the same number as the coefficient a product finds (the
    /// roundtrip fuzzer's `x/30^7300/30^7300` printed a coefficient that read back as a
    /// power).
    #[test]
    fn reciprocals_fold_at_any_size() {
        let huge = num_traits::pow(Rational::from_integer(BigInt::from(30)), 14_607);
        assert!(bits(&huge) > MAX_BITS);
        assert_eq!(pow_int(&huge, &BigInt::from(-1)), Some(huge.recip()));
        assert_eq!(pow_int(&huge, &BigInt::from(1)), Some(huge.clone()));
        assert_eq!(pow_int(&huge, &BigInt::from(2)), None);
        assert_eq!(pow_int(&huge, &BigInt::from(-2)), None);
    }

    /// The machine-word product and sum agree with the big rationals' own, reduced,
    /// including zeros, signs and words that overflow.
    #[test]
    fn word_arithmetic_agrees_with_big_rationals() {
        let parts = [0i64, 1, -1, 2, -3, 6, 7, -12, 1 << 40, -(1 << 40) + 1, i64::MAX, i64::MIN + 1];
        let dens = [1i64, 2, 3, 4, 9, 1 << 33, i64::MAX];
        let values: Vec<Rational> =
            parts.iter().flat_map(|&n| dens.iter().map(move |&d| Rational::new(n.into(), d.into()))).collect();
        for a in &values {
            for b in &values {
                let mut m = a.clone();
                mul_assign(&mut m, b);
                assert_eq!(m, a * b, "{a} * {b}");
                assert_eq!((m.numer(), m.denom()), ((a * b).numer(), (a * b).denom()), "{a} * {b} reduced");
                let mut s = a.clone();
                add_assign(&mut s, b);
                assert_eq!((s.numer(), s.denom()), ((a + b).numer(), (a + b).denom()), "{a} + {b}");
            }
        }
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("0.1"), Some(Rational::new(1.into(), 10.into())));
        assert_eq!(parse_decimal("1e-3"), Some(Rational::new(1.into(), 1000.into())));
        assert_eq!(parse_decimal(".5"), Some(Rational::new(1.into(), 2.into())));
        assert_eq!(parse_decimal("2.5E+1"), Some(int(25)));
        assert!(parse_decimal("1e99999").is_none());
    }

    #[test]
    fn decimal_printing_round_trips() {
        for s in ["0.044715", "-1.0507009873554804934193349852946", "0.1"] {
            let r = parse_decimal(s.trim_start_matches('-')).unwrap();
            let r = if s.starts_with('-') { -r } else { r };
            assert_eq!(decimal_digits(&r).as_deref(), Some(s));
        }
        assert_eq!(decimal_digits(&Rational::new(1.into(), 2.into())), None);
        assert_eq!(decimal_digits(&Rational::new(1.into(), 3.into())), None);
        assert_eq!(decimal_digits(&Rational::new(1.into(), 1024.into())), None);
    }

    #[test]
    fn powers_are_bounded() {
        assert_eq!(pow_int(&int(2), &BigInt::from(10)), Some(int(1024)));
        assert_eq!(pow_int(&int(2), &BigInt::from(-1)), Some(Rational::new(1.into(), 2.into())));
        assert!(pow_int(&int(10), &BigInt::from(10_000_000_000i64)).is_none());
        assert!(pow_int(&int(0), &BigInt::from(-1)).is_none());
        assert_eq!(
            exact_root(&Rational::new(8.into(), 27.into()), &BigInt::from(3)),
            Some(Rational::new(2.into(), 3.into()))
        );
        assert_eq!(exact_root(&int(2), &BigInt::from(2)), None);
    }
}
