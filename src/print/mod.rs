//! Printers: plain text that parses back ([`text`]) and LaTeX ([`latex`]).
//!
//! Both printers read an expression through the same two views defined here: a sum as
//! terms with a positive one first (`g(z) - t`, not `-t + g(z)`), and a product as a
//! sign, a coefficient and the factors above and below the fraction bar.

pub mod latex;
pub mod text;

use num_bigint::BigInt;
use num_traits::{One, Signed};

use crate::expr::{Expr, Node};
use crate::number::Rational;

/// A product seen as `sign * coeff * numer / denom`, with positive exponents below.
pub struct Fraction {
    /// Whether a leading minus is printed.
    pub negative: bool,
    /// The absolute value of the numeric coefficient.
    pub coeff: Rational,
    /// Factors above the bar.
    pub numer: Vec<Expr>,
    /// Factors below the bar, with their exponents made positive.
    pub denom: Vec<Expr>,
}

impl Fraction {
    /// The coefficient's numerator, when it is not one.
    pub fn coeff_numer(&self) -> Option<&BigInt> {
        (!self.coeff.numer().is_one()).then(|| self.coeff.numer())
    }

    /// The coefficient's denominator, when it is not one.
    pub fn coeff_denom(&self) -> Option<&BigInt> {
        (!self.coeff.denom().is_one()).then(|| self.coeff.denom())
    }
}

/// Whether an exponent reads as negative: `-2`, `-n`, `-1/2`.
pub fn is_negative(e: &Expr) -> bool {
    e.coeff_rest().0.is_negative()
}

/// Whether `b^x` prints below a fraction bar: a negative exponent, except on zero
/// (`0^-1` stays as it is: `1/(3*0)` would read back as `1/0`).
pub fn goes_below(b: &Expr, x: &Expr) -> bool {
    is_negative(x) && !b.is_zero()
}

/// Splits a product (or a single power with a negative exponent) into a [`Fraction`].
pub fn fraction(e: &Expr) -> Fraction {
    let (coeff, rest) = e.coeff_rest();
    let factors = match rest.node() {
        Node::Mul(fs) => fs.clone(),
        _ if rest.is_one() => Vec::new(),
        _ => vec![rest],
    };
    let mut out = Fraction { negative: coeff.is_negative(), coeff: coeff.abs(), numer: Vec::new(), denom: Vec::new() };
    for f in factors {
        match f.node() {
            // `0^-1` stays above the bar: `1/(3*0)` would read back as `1/0`.
            Node::Pow(b, x) if is_negative(x) && !b.is_zero() => {
                out.denom.push(Expr::pow(b.clone(), Expr::negate(x.clone())))
            }
            _ => out.numer.push(f),
        }
    }
    out
}

/// The terms of a sum in print order: the first positive term leads.
pub fn ordered_terms(terms: &[Expr]) -> Vec<Expr> {
    let mut out = terms.to_vec();
    if let Some(i) = out.iter().position(|t| !is_negative(t)) {
        let lead = out.remove(i);
        out.insert(0, lead);
    }
    out
}
