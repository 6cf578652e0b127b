//! Printers: plain text that parses back ([`text`]) and LaTeX ([`latex`]).
//!
//! Both printers read an expression through the same three views defined here: a sum as
//! terms with a positive one first (`g(z) - t`, not `-t + g(z)`), or, printed as a whole,
//! as its content times the rest where that is no longer (`3*(1 - y^2)`, `(1 - y^2)/2`),
//! and a product as a sign, a coefficient and the factors above and below the fraction bar.
//!
//! The index of a sum is written as it is named, unless the name is free in the
//! expression being printed or is the index of a sum around it: then, only in print, it
//! gets a fresh name (`x[k]*sum(k1, y[k1])`). Sums are one node up to the names of their
//! indices, so the node may carry a name from elsewhere; this keeps the text readable,
//! and it parses back to the same node.

pub mod latex;
pub mod text;

use std::cell::RefCell;
use std::collections::HashSet;

use num_bigint::BigInt;
use num_traits::{One, Signed};

use crate::expr::{Cmp, Expr, Func, Node, Sym};
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

/// `u` where `e` is `u > 0`, which prints as `heaviside(u)` outside a condition.
pub(crate) fn heaviside_of(e: &Expr) -> Option<&Expr> {
    match e.node() {
        Node::Call(Func::Cmp(Cmp::Gt), args) if args[1].is_zero() => Some(&args[0]),
        _ => None,
    }
}

/// A comparison `d op 0` as it is written: the terms of `d` that read positive on the
/// left and the rest on the right (`x > 1`, `a > b`), or, where none reads positive,
/// the other way round (`x < 1` for `1 - x > 0`). The operator as written between them.
pub(crate) fn comparison_sides(op: Cmp, args: &[Expr]) -> (Expr, &'static str, Expr) {
    if !args[1].is_zero() {
        return (args[0].clone(), op.symbol(), args[1].clone());
    }
    let terms = match args[0].node() {
        Node::Add(ts) => ts.clone(),
        _ => vec![args[0].clone()],
    };
    let (positive, rest): (Vec<Expr>, Vec<Expr>) =
        terms.into_iter().partition(|t| t.as_num().is_none() && !is_negative(t));
    let right = Expr::negate(Expr::add(rest));
    if !positive.is_empty() {
        return (Expr::add(positive), op.symbol(), right);
    }
    // d = N - M with M the negated terms: d > 0 is M < N.
    let (numbers, names): (Vec<Expr>, Vec<Expr>) = match right.node() {
        Node::Add(ts) => ts.iter().cloned().partition(|t| t.as_num().is_some()),
        _ if right.as_num().is_some() => (vec![right.clone()], Vec::new()),
        _ => (Vec::new(), vec![right.clone()]),
    };
    let flipped = match op {
        Cmp::Gt => "<",
        Cmp::Ge => "<=",
        Cmp::Eq => "==",
        Cmp::Ne => "!=",
    };
    (Expr::add(names), flipped, Expr::negate(Expr::add(numbers)))
}

/// Whether an exponent reads as negative: `-2`, `-n`, `-1/2`.
pub fn is_negative(e: &Expr) -> bool {
    e.leading_num().is_some_and(|c| c.is_negative())
}

/// Whether `b^x` prints below a fraction bar: a negative exponent, except on zero
/// (`0^-1` stays as it is: `1/(3*0)` would read back as `1/0`).
pub fn goes_below(b: &Expr, x: &Expr) -> bool {
    is_negative(x) && !b.is_zero()
}

/// Splits a product (or a single power with a negative exponent) into a [`Fraction`].
pub fn fraction(e: &Expr) -> Fraction {
    let (coeff, factors) = product_parts(e);
    let coeff = coeff.cloned().unwrap_or_else(Rational::one);
    let mut out = Fraction { negative: coeff.is_negative(), coeff: coeff.abs(), numer: Vec::new(), denom: Vec::new() };
    for f in factors {
        match f.node() {
            Node::Pow(b, x) if goes_below(b, x) => out.denom.push(below_bar(b, x)),
            _ => out.numer.push(f.clone()),
        }
    }
    out
}

/// A product's numeric coefficient, if it has one, and its other factors, as they stand
/// (a canonical product is flat, its number first); anything else is one factor.
pub fn product_parts(e: &Expr) -> (Option<&Rational>, &[Expr]) {
    match e.node() {
        Node::Num(r) => (Some(r), &[]),
        Node::Mul(fs) => match fs[0].as_num() {
            Some(c) => (Some(c), &fs[1..]),
            None => (None, fs),
        },
        _ => (None, std::slice::from_ref(e)),
    }
}

/// The factor `b^x` that [`goes_below`] the bar, as it is written there: its exponent made
/// positive (`b` itself for `b^-1`).
pub fn below_bar(b: &Expr, x: &Expr) -> Expr {
    match x.as_num() {
        Some(r) if crate::number::is(r, -1, 1) => b.clone(),
        _ => Expr::pow(b.clone(), Expr::negate(x.clone())),
    }
}

/// How the terms of a sum printed as a whole share a coefficient, read off them without
/// building anything (costing asks it of every sum it meets).
///
/// - An integer `c`: every term but the numbers has coefficient `±c`, and every number is
///   a multiple of it; `c*(...)` replaces their `*`s (`3*(1 - y^2)` for `3 - 3*y^2`).
///   `4*x^2 - 2*x` keeps its look.
/// - A fraction `c`, the one most terms (not numbers) have as `±c`, with the fractional
///   numbers that are whole multiples of it: those terms go over one bar, where it
///   replaces more than it adds: over two terms or more (`(x + y)/2`), or over one beside
///   a fractional number (`(1 - y^2)/2`). `x/2 - 1` and `x + 1/2` stay; whole numbers
///   stay outside (`(x + y)/2 + 1`), and so do terms with another coefficient (`(1 +
///   erf(u))/2 + v`).
///
/// Only the expression printed as a whole is written so: a sum inside a call or an
/// exponent is an argument, written as the input wrote it (`sin(2*x - 8)`), and a sum
/// among factors has its content taken out already by the constructors.
pub(crate) struct Shared {
    /// The coefficient's magnitude.
    pub unit: Rational,
    /// How many terms, not numbers, share it.
    pub over: usize,
    /// How many numbers go with them.
    pub numbers: usize,
    /// Whether that is every term.
    pub whole: bool,
}

/// The [`Shared`] coefficient of `terms`, if any.
pub(crate) fn shared(terms: &[Expr]) -> Option<Shared> {
    let mut others = terms.iter().filter(|t| t.as_num().is_none());
    if let Some(first) = others.next()?.leading_num().filter(|c| c.is_integer() && !c.numer().magnitude().is_one()) {
        let unit = first.abs();
        let same = |t: &Expr| t.leading_num().is_some_and(|c| same_magnitude(c, &unit));
        let mut numbers = terms.iter().filter_map(Expr::as_num);
        if others.all(same) && numbers.all(|n| (n / &unit).is_integer()) {
            let over = terms.iter().filter(|t| t.as_num().is_none()).count();
            return Some(Shared { unit, over, numbers: terms.len() - over, whole: true });
        }
    }
    // The fraction most terms (not numbers) share, the first such in print order.
    let mut counts: Vec<(&Rational, usize)> = Vec::new();
    for c in terms.iter().filter_map(fraction_of) {
        match counts.iter_mut().find(|(d, _)| same_magnitude(d, c)) {
            Some((_, n)) => *n += 1,
            None => counts.push((c, 1)),
        }
    }
    let (unit, over) = counts.into_iter().fold(None, |best: Option<(&Rational, usize)>, (c, n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((c, n)),
    })?;
    let unit = unit.abs();
    let numbers = terms.iter().filter(|t| t.as_num().is_some() && in_group(t, &unit)).count();
    let whole = over + numbers == terms.len();
    (over >= 2 || over == 1 && numbers >= 1).then_some(Shared { unit, over, numbers, whole })
}

/// One piece of a sum printed as a whole ([`pieces`]): a term, or the terms over a
/// [`Shared`] coefficient, as the coefficient and their sum over it.
pub(crate) enum Piece {
    Term(Expr),
    Group(Rational, Expr),
}

impl Piece {
    pub(crate) fn is_negative(&self) -> bool {
        match self {
            Piece::Term(t) => is_negative(t),
            Piece::Group(c, _) => c.is_negative(),
        }
    }

    /// The piece without its sign, as it is written after a ` - `.
    pub(crate) fn negated(&self) -> Piece {
        match self {
            Piece::Term(t) => Piece::Term(Expr::negate(t.clone())),
            Piece::Group(c, s) => Piece::Group(-c, s.clone()),
        }
    }
}

/// A sum printed as a whole with its [`Shared`] coefficient taken out, piece by piece in
/// print order: the group first (`(1 + erf(u))/2 + v`), unless it is negative beside a
/// positive term (`z - (x + y)/2`). `None` where nothing is taken out.
pub(crate) fn pieces(e: &Expr) -> Option<Vec<Piece>> {
    let Node::Add(ts) = e.node() else { return None };
    let unit = shared(ts)?.unit;
    let (group, rest): (Vec<Expr>, Vec<Expr>) = ts.iter().cloned().partition(|t| in_group(t, &unit));
    let (c, inner) = Expr::add(group).primitive(true)?;
    let rest = ordered_terms(&rest);
    let lead_rest = c.is_negative() && rest.iter().any(|t| !is_negative(t));
    let group = Piece::Group(c, inner);
    let terms = rest.into_iter().map(Piece::Term);
    Some(if lead_rest { terms.chain([group]).collect() } else { std::iter::once(group).chain(terms).collect() })
}

/// The fractional coefficient of a term that is not a number.
fn fraction_of(t: &Expr) -> Option<&Rational> {
    t.as_num().is_none().then(|| t.leading_num()).flatten().filter(|c| !c.is_integer())
}

fn same_magnitude(a: &Rational, b: &Rational) -> bool {
    a.numer().magnitude() == b.numer().magnitude() && a.denom() == b.denom()
}

/// Whether `t` shares the coefficient `unit` ([`Shared`]): a term with coefficient
/// `±unit`, or a number that is a whole multiple of it (a fractional one, where `unit` is
/// a fraction).
fn in_group(t: &Expr, unit: &Rational) -> bool {
    match t.as_num() {
        Some(n) => (unit.is_integer() || !n.is_integer()) && (n / unit).is_integer(),
        None => t.leading_num().is_some_and(|c| same_magnitude(c, unit)),
    }
}

/// The terms of a sum in print order: the first positive term leads. A polynomial in
/// one variable whose lowest term is negative and highest positive reads from the
/// highest power down, as it is written by hand (`8*x^2 - 9*x - 1`, not
/// `8*x^2 - 1 - 9*x`).
pub fn ordered_terms(terms: &[Expr]) -> Vec<Expr> {
    let mut out = terms.to_vec();
    if out.len() > 2 && is_negative(&out[0]) && out.last().is_some_and(|t| !is_negative(t)) && in_one_variable(&out) {
        out.reverse();
        return out;
    }
    if let Some(i) = out.iter().position(|t| !is_negative(t)) {
        let lead = out.remove(i);
        out.insert(0, lead);
    }
    out
}

/// Whether every term is a number or a number times a power of one and the same
/// variable (the canonical sum has them by ascending power).
fn in_one_variable(terms: &[Expr]) -> bool {
    let mut var: Option<&Expr> = None;
    terms.iter().all(|t| {
        if t.as_num().is_some() {
            return true;
        }
        let rest = match t.node() {
            Node::Mul(fs) if fs.len() == 2 && fs[0].as_num().is_some() => &fs[1],
            Node::Mul(_) => return false,
            _ => t,
        };
        let base = match rest.node() {
            Node::Pow(b, k) if k.as_num().is_some_and(|k| k.is_integer() && k.is_positive()) => b,
            _ => rest,
        };
        matches!(base.node(), Node::Var(_)) && *var.get_or_insert(base) == base
    })
}

// ---- the names indices are written with ---------------------------------------------------

/// What the printer knows about the names in scope while it writes an expression.
#[derive(Default)]
struct Scope {
    /// The expression being printed.
    root: Option<Expr>,
    /// Its free variables, found when the first sum is written.
    free: Option<HashSet<Sym>>,
    /// The indices of the sums being written, outermost first, each with the name it is
    /// written as.
    bound: Vec<(Sym, Sym)>,
}

thread_local! {
    static SCOPE: RefCell<Scope> = RefCell::new(Scope::default());
}

/// Puts back the scope of an outer print (or pops a binding) however printing ends.
struct Restore<F: FnMut()>(F);

impl<F: FnMut()> Drop for Restore<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Runs `print` as the printing of `root`: sums in it are written against its names.
pub(crate) fn printing<T>(root: &Expr, print: impl FnOnce() -> T) -> T {
    let scope = Scope { root: Some(root.clone()), ..Default::default() };
    let mut saved = Some(SCOPE.with(|c| c.replace(scope)));
    let _restore = Restore(|| {
        if let Some(s) = saved.take() {
            SCOPE.with(|c| *c.borrow_mut() = s);
        }
    });
    print()
}

/// How the variable `v` is written: as its sum's index is, where a sum binds it.
pub(crate) fn var_name(v: &Sym) -> Sym {
    SCOPE.with(|c| c.borrow().bound.iter().rev().find(|(k, _)| k == v).map_or_else(|| v.clone(), |(_, w)| w.clone()))
}

/// Writes a sum or product over `k` with `body` by `write`, which is given the name to
/// write the index with: `k`, unless `k` is free in the expression being printed or
/// written as the index of a sum around this one; then `k1`, `k2`, ... (the first that
/// is neither and is not free in `body`).
pub(crate) fn binding<T>(k: &Sym, body: &Expr, write: impl FnOnce(&Sym) -> T) -> T {
    let name = SCOPE.with(|c| {
        let mut s = c.borrow_mut();
        if s.free.is_none() {
            // (Outside `printing`, as when `--steps` writes a term's pieces, no root is
            // known: only the sums around this one take names.)
            let free = s.root.as_ref().map(|r| r.free_vars().into_iter().filter(|v| r.contains(v)).collect());
            s.free = Some(free.unwrap_or_default());
        }
        let taken = |n: &Sym| s.free.as_ref().is_some_and(|f| f.contains(n)) || s.bound.iter().any(|(_, w)| w == n);
        if !taken(k) {
            return k.clone();
        }
        (1u64..)
            .map(|n| Sym::new(&format!("{k}{n}")))
            .find(|c| !taken(c) && !body.contains(c))
            .expect("finitely many names are taken")
    });
    SCOPE.with(|c| c.borrow_mut().bound.push((k.clone(), name.clone())));
    let _pop = Restore(|| {
        SCOPE.with(|c| c.borrow_mut().bound.pop());
    });
    write(&name)
}
