//! Logarithmic derivatives: a derivative written as a sum of simple terms `a*f'/f`.
//!
//! Two forms are offered to a search (and kept only where the cost model prefers them
//! and they are proved equal, like every candidate):
//! - **a sum of logarithmic derivatives**, `Σ c_i*f_i'/f_i`, for a part whose reduced
//!   form has only simple factors `f_i` below the bar: d/dx ln(x^3*cos(x)/(x + 2)) is
//!   `3/x - tan(x) - 1/(x + 2)`, not one fraction over `x*cos(x)*(2 + x)`;
//! - **the function times such a sum**, `y*Σ a_i*f_i'/f_i`, for the derivative of a
//!   product of powers `y = Π f_i^a_i` (logarithmic differentiation), with `y` written as
//!   a name where the user defined one for it.
//!
//! Domains. Both forms are identities of rational functions of the kernels, never of
//! logarithms: nothing here writes `ln(u*v)` as `ln(u) + ln(v)`, which is false where `u`
//! and `v` are both negative. The derivative may still be split: d/dx ln(u*v) is
//! `u'/u + v'/v` wherever `ln(u*v)` is defined, whatever the signs of `u` and `v`, since
//! the derivative of `ln|u|` is `u'/u` too. So `ln((x - 1)*(x - 2))` has the derivative
//! `1/(x - 1) + 1/(x - 2)` at x = 0 as at x = 3. The sum form has the same denominators
//! as the part, so it is defined exactly where the part is. The product form
//! `y*Σ a_i*f_i'/f_i` is the part wherever every `f_i` is nonzero; at a zero of a factor
//! with a positive exponent (x = -1 for `(x + 1)^5`) it has a removable singularity, as
//! logarithmic differentiation has on paper. The search's numeric check still rejects a
//! form undefined at the origin where the part is defined there.

use crate::expr::FastSet as HashSet;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::kernel::{self, Kernels, View};
use super::{cost, factor, proved_equal, CFG};
use crate::check;
use crate::eval::{self, Model};
use crate::expr::{Expr, Func, Node, Sym};
use crate::func::Builtin;
use crate::number::Rational;

/// The most factors a part may have for these forms to be tried: each is one unknown of
/// a small linear system, and a derivative people read as a sum has few.
const MAX_FACTORS: usize = 10;

/// The largest denominator a coefficient `c_i` may have: exponents people write
/// (`1/3`, `5`, `-2`) have small ones; the form is proved afterwards anyway.
const MAX_DENOMINATOR: i64 = 360;

/// The forms of `e` (names inlined: `inlined`) as logarithmic derivatives, by `x`: the
/// sum form and the product form, each where it fits. `defs` are the names that may
/// stand for the function (`y` in `y*(...)`), with their inlined bodies.
pub(super) fn log_forms(inlined: &Expr, x: &Sym, defs: &[(Sym, Expr)], largest: u64) -> Vec<Expr> {
    let mut out = Vec::new();
    let Some(n) = factored(inlined, largest) else { return out };
    let factors = factors_of(&n);
    if factors.is_empty() || factors.len() > MAX_FACTORS || factors.iter().all(|(f, _)| !f.has_vars()) {
        return out;
    }
    out.extend(sum_form(inlined, &factors, x));
    out.extend(product_forms(inlined, &factors, x, defs));
    out
}

/// `e` as one reduced rational function of its atoms, its top and bottom factored (never
/// split into terms, as a search's normal form may be). `None` where it would be larger
/// than `largest` nodes.
fn factored(e: &Expr, largest: u64) -> Option<Expr> {
    // The full view where it is affordable: the opaque one keeps `x^2 - 3*x + 2` whole,
    // and its factors are the terms.
    let view =
        if super::count_atoms(e, CFG.full_atoms + 1, View::Full) <= CFG.full_atoms { View::Full } else { View::Opaque };
    let mut k = Kernels::scan_view(std::slice::from_ref(e), view);
    let r = kernel::pythagorean(&k.rat_of(e)?, &k);
    let (cn, n) = factor::factored_parts_within(&r.num, &k, largest)?;
    let (cd, d) = factor::factored_parts_within(&r.den, &k, largest)?;
    Some(Expr::mul([Expr::num(cn / cd), n, Expr::pow(d, Expr::int(-1))]))
}

/// `c*f'/f`, or `c*(-f)'/(-f)` (the same) where that reads cheaper: `1/(x - 1)`, not
/// `-1/(1 - x)`.
fn term(c: &Rational, f: &Expr, x: &Sym) -> Expr {
    let none = HashSet::default();
    let t = Expr::mul([Expr::num(c.clone()), log_derivative(f, x)]);
    let flipped = Expr::mul([Expr::num(c.clone()), log_derivative(&Expr::negate(f.clone()), x)]);
    if cost::cost(&flipped, &none) < cost::cost(&t, &none) {
        flipped
    } else {
        t
    }
}

/// The non-numeric factors of a product and their exponents (`x^(-2/3)` is `(x, -2/3)`).
fn factors_of(e: &Expr) -> Vec<(Expr, Rational)> {
    let fs = match e.node() {
        Node::Mul(fs) => fs.clone(),
        _ => vec![e.clone()],
    };
    fs.into_iter()
        .filter(|f| f.as_num().is_none())
        .map(|f| match f.node() {
            Node::Pow(b, p) if f.as_exp().is_none() => match p.as_num() {
                Some(r) => (b.clone(), r.clone()),
                None => (f.clone(), Rational::one()),
            },
            _ => (f.clone(), Rational::one()),
        })
        .collect()
}

/// `Σ c_i*f_i'/f_i` over the factors `f_i` below the bar, each of them simple (exponent
/// -1), times the calls above the bar, with the constants `c_i` found numerically and rounded to small fractions (the
/// search then proves the form exactly, or drops it).
fn sum_form(e: &Expr, factors: &[(Expr, Rational)], x: &Sym) -> Option<Expr> {
    let below: Vec<&Expr> = factors.iter().filter(|(_, a)| a.is_negative()).map(|(f, _)| f).collect();
    if below.len() < 2 || factors.iter().any(|(_, a)| a.is_negative() && *a != -Rational::one()) {
        return None;
    }
    // Calls above the bar are an outer function's derivative (`cos(ln(u))` in the
    // derivative of `sin(ln(u))`): they stay a factor of the sum.
    let outer = Expr::mul(
        factors
            .iter()
            .filter(|(f, a)| a.is_positive() && matches!(f.node(), Node::Call(..)))
            .map(|(f, a)| Expr::pow(f.clone(), Expr::num(a.clone()))),
    );
    let terms: Vec<Expr> = below.iter().map(|f| Expr::mul([outer.clone(), log_derivative(f, x)])).collect();
    let cs = solve_constants(e, &terms)?;
    Some(Expr::mul([outer, Expr::add(cs.iter().zip(&below).map(|(c, f)| term(c, f, x)))]))
}

/// `K*y*Σ a_i*f_i'/f_i` for `y = Π f_i^a_i`, read off the part's factors: a factor with
/// exponent `b` in the derivative has `a = b + 1` in the function (an exponential
/// `a = b`). A sum above the bar
/// with exponent 1 may instead be the sum `Σ` itself (written out over a common
/// denominator): each such is tried left out of `y`. `K` is the constant the factors
/// lose (found numerically, rounded, proved afterwards). Where a name's body is `K*y`,
/// the name is written for it.
fn product_forms(e: &Expr, factors: &[(Expr, Rational)], x: &Sym, defs: &[(Sym, Expr)]) -> Vec<Expr> {
    let mut out = Vec::new();
    let ambiguous: Vec<usize> =
        (0..factors.len()).filter(|&i| factors[i].1.is_one() && matches!(factors[i].0.node(), Node::Add(_))).collect();
    let mut left_out: Vec<Vec<usize>> = ambiguous.iter().map(|&i| vec![i]).collect();
    if ambiguous.len() != 1 {
        left_out.push(ambiguous.clone());
    }
    for skip in left_out {
        let kept: Vec<(Expr, Rational)> = factors
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip.contains(i))
            // (An exponential keeps its power: (e^u)^a is its own derivative's factor.)
            .map(|(_, (f, b))| (f.clone(), if f.as_exp().is_some() { b.clone() } else { b + Rational::one() }))
            .filter(|(f, a)| !a.is_zero() && f.has_vars())
            .collect();
        if kept.len() < 2 {
            continue;
        }
        let y = Expr::mul(kept.iter().map(|(f, a)| Expr::pow(f.clone(), Expr::num(a.clone()))));
        let sum = Expr::add(kept.iter().map(|(f, a)| term(a, f, x)));
        let Some(k) = solve_constants(e, &[Expr::mul([y.clone(), sum.clone()])]).map(|c| c[0].clone()) else {
            continue;
        };
        let function = Expr::mul([Expr::num(k), y]);
        out.push(Expr::mul([function.clone(), sum.clone()]));
        if let Some((name, _)) = defs.iter().find(|(_, b)| *b == function || proved_equal(b, &function)) {
            out.push(Expr::mul([Expr::sym(name.clone()), sum]));
        }
    }
    out
}

/// `f'/f` by `x`, in the forms people write: for a built-in `g(u)`, `u'` times the
/// built-in of `u` (or its negative) that `g'(u)/g(u)` equals, where a row's expansion
/// proves one (`-tan(u)` for `cos`, `cot(u)` for `sin`, `tanh(u)` for `cosh`, `tan(u)`
/// for `sec`); `u'` for `e^u`; `g'*ln(b) + g*b'/b` for `b^g`.
pub(super) fn log_derivative(f: &Expr, x: &Sym) -> Expr {
    let d = |u: &Expr| crate::diff::diff(u, x);
    if let Some(u) = f.as_exp() {
        return d(u);
    }
    match f.node() {
        Node::Call(Func::Builtin(g), args) if args.len() == 1 => match ratio_as_builtin(*g, &args[0]) {
            Some(r) => Expr::mul([d(&args[0]), r]),
            None => Expr::quotient(d(f), f.clone()),
        },
        Node::Pow(b, g) => match g.as_num() {
            Some(_) => Expr::mul([g.clone(), log_derivative(b, x)]),
            None => Expr::add([
                Expr::mul([d(g), Expr::builtin(Builtin::Ln, b.clone())]),
                Expr::mul([g.clone(), log_derivative(b, x)]),
            ]),
        },
        _ => Expr::quotient(d(f), f.clone()),
    }
}

/// `g'(u)/g(u)` as `±h(u)` for the built-in `h` whose row's expansion proves it equal,
/// when there is one. Which `h` is a fact of `g`'s row alone: it is proved once per
/// thread at an atom and the argument put in (a layer's argument is a long sum, and
/// a proof at it costs as much as the sum).
fn ratio_as_builtin(g: Builtin, u: &Expr) -> Option<Expr> {
    thread_local! {
        static RATIOS: crate::func::RowMemo<Option<Expr>> = crate::func::RowMemo::new();
    }
    let at = crate::rules::table_variable();
    let template = RATIOS.with(|r| r.get(g, |g| ratio_at(g, &Expr::sym(at.clone()))));
    template.map(|t| crate::expr::substitute_small(&t, &at, u))
}

/// [`ratio_as_builtin`] at `u`, proved there.
fn ratio_at(g: Builtin, u: &Expr) -> Option<Expr> {
    let ratio = Expr::quotient(crate::rules::builtin_derivative(g, u), Expr::builtin(g, u.clone()));
    Builtin::ALL.iter().filter(|h| h.def().expansion.is_some()).find_map(|&h| {
        let hu = Expr::builtin(h, u.clone());
        let minus = Expr::negate(hu.clone());
        [hu, minus].into_iter().find(|c| proved_equal(&ratio, c))
    })
}

/// Constants `c` with `e = Σ c_i*terms_i`, from the values at a few sampled points
/// (least squares would hide a misfit: the points beyond the unknowns must agree),
/// rounded to fractions of small denominators. `None` where no such constants fit.
fn solve_constants(e: &Expr, terms: &[Expr]) -> Option<Vec<Rational>> {
    let n = terms.len();
    let mut vars = e.free_vars();
    for t in terms {
        vars.extend(t.free_vars());
    }
    vars.sort();
    vars.dedup();
    let model = Model::new(CFG.model_seed);
    let mut rng = check::Rng::new(CFG.sample_seed);
    let mut rows: Vec<(Vec<f64>, f64)> = Vec::new();
    for _ in 0..CFG.sample_tries {
        if rows.len() == n + 3 {
            break;
        }
        let env: eval::Env = check::random_point(&vars, &mut rng);
        let value = |t: &Expr| eval::eval_with(t, &env, Some(&model)).ok().filter(|v| v.is_finite() && v.abs() < 1e6);
        let Some(rhs) = value(e) else { continue };
        let Some(row) = terms.iter().map(value).collect::<Option<Vec<f64>>>() else { continue };
        rows.push((row, rhs));
    }
    if rows.len() < n + 3 {
        return None;
    }
    let cs = solve_square(&rows[..n])?;
    let fits = rows[n..].iter().all(|(row, rhs)| {
        let got: f64 = row.iter().zip(&cs).map(|(a, c)| a * c).sum();
        (got - rhs).abs() <= 1e-6 * rhs.abs().max(1.0)
    });
    if !fits {
        return None;
    }
    cs.iter().map(|&c| rounded(c)).collect()
}

/// The solution of the square system `rows` (Gaussian elimination with partial pivoting).
fn solve_square(rows: &[(Vec<f64>, f64)]) -> Option<Vec<f64>> {
    let n = rows.len();
    let mut m: Vec<Vec<f64>> = rows.iter().map(|(r, b)| r.iter().copied().chain([*b]).collect()).collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        for r in 0..n {
            if r != col {
                let f = m[r][col] / m[col][col];
                let pivot_row = m[col].clone();
                for (a, p) in m[r].iter_mut().zip(&pivot_row).skip(col) {
                    *a -= f * p;
                }
            }
        }
    }
    Some((0..n).map(|i| m[i][n] / m[i][i]).collect())
}

/// `c` as a fraction with a denominator up to [`MAX_DENOMINATOR`], where one is within
/// rounding of it.
fn rounded(c: f64) -> Option<Rational> {
    if !c.is_finite() || c.abs() > 1e6 {
        return None;
    }
    (1..=MAX_DENOMINATOR).find_map(|q| {
        let p = (c * q as f64).round();
        ((c - p / q as f64).abs() <= 1e-7 * c.abs().max(1.0))
            .then(|| Some(Rational::new(p.to_i64()?.into(), q.into())))
            .flatten()
    })
}
