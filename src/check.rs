//! Numeric verification of derivatives at random points.
//!
//! A symbolic derivative is compared with forward-mode dual numbers run on the
//! expression it came from (see [`crate::eval`]). For an n-th derivative each step is
//! checked against the dual derivative of the step before. Points are drawn from a
//! seeded generator, so a check is reproducible; points where either side is undefined
//! (outside the domain of `ln`, `sqrt`, `asin`, ...) are skipped.

use crate::error::{Error, ErrorKind, Result};
use crate::eval::{self, Env, Model};
use crate::expr::{Expr, Sym};
/// The generator the points are drawn from (it lives in `crate::rng`, below evaluation).
pub use crate::rng::Rng;

/// The outcome of a numeric check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// The largest error seen: relative where the value's magnitude is at least 1,
    /// absolute below that.
    pub max_error: f64,
    /// How many points were compared.
    pub points: usize,
}

/// The error measure: relative for large values, absolute for small ones.
pub fn mixed_error(got: f64, want: f64) -> f64 {
    if got == want {
        return 0.0;
    }
    (got - want).abs() / want.abs().max(1.0)
}

/// [`mixed_error`], except where the formula's own arithmetic cancels: there the
/// difference is measured against a millionth of the magnitude of the terms (see
/// [`eval::Mag`]), the most that f64 arithmetic can resolve. A polynomial with
/// coefficients of 10^12 (the 12th derivative of the sigmoid in `p`) cannot be checked
/// to 10^-9 of its value, and no formula for it could.
pub fn rounding_aware_error(got: eval::Mag, want: f64) -> f64 {
    // (An exact reference's millionth is below the error's floor: no other change.)
    reference_aware_error(got, eval::Mag::exact(want))
}

/// [`rounding_aware_error`], where the reference's own arithmetic may cancel too: the
/// difference is also measured against a millionth of the magnitude of the terms dual
/// numbers added up to get `want` (`sinh(x + 30)*e^-x` differentiated that way is the
/// difference of two numbers near `e^30/2`; its derivative `-e^(-2*x - 30)` is exact).
pub fn reference_aware_error(got: eval::Mag, want: eval::Mag) -> f64 {
    if got.v == want.v {
        return 0.0;
    }
    (got.v - want.v).abs() / want.v.abs().max(1.0).max(got.m * 1e-6).max(want.m * 1e-6)
}

const RANGES: [(f64, f64); 4] = [(0.1, 0.9), (1.1, 2.5), (-0.9, -0.1), (-2.5, -1.1)];

/// Draws a point for `vars`, each coordinate from one of a few ranges on both sides of
/// zero, so that `ln`, `sqrt`, `asin` and `acosh` all find points in their domains.
pub fn random_point(vars: &[Sym], rng: &mut Rng) -> Env {
    vars.iter()
        .map(|v| {
            let (lo, hi) = RANGES[(rng.next_u64() % 4) as usize];
            (v.clone(), rng.uniform(lo, hi))
        })
        .collect()
}

/// Where an expression's own scales are, per variable: every shift `a*v + c` in it (a
/// bias on `tanh(x - 30)`, the kink of `abs(x - 3)`, the pole of `1/(x + 8)`) puts a
/// center at `v = -c/a`. Sampling only near zero would miss what happens there: a
/// derivative that is wrong only where `tanh(x - 30)` is not saturated looks right for
/// all `|x| < 2.5`.
#[derive(Clone, Debug, Default)]
pub struct Scales {
    centers: std::collections::HashMap<Sym, Vec<f64>>,
}

impl Scales {
    /// The centers of the shifts in `exprs`.
    pub fn of(exprs: &[&Expr]) -> Scales {
        use crate::expr::Node;
        let mut centers: std::collections::HashMap<Sym, Vec<f64>> = std::collections::HashMap::new();
        let roots: Vec<Expr> = exprs.iter().map(|e| (*e).clone()).collect();
        for x in crate::expr::post_order(&roots, |_| true) {
            let Node::Add(ts) = x.node() else { continue };
            if ts.len() != 2 {
                continue;
            }
            let (c, t) = match (ts[0].as_num(), ts[1].as_num()) {
                (Some(c), None) => (c, &ts[1]),
                (None, Some(c)) => (c, &ts[0]),
                _ => continue,
            };
            let (a, rest) = t.coeff_rest();
            let Node::Var(v) = rest.node() else { continue };
            let at = -num_traits::ToPrimitive::to_f64(&(c / a)).unwrap_or(0.0);
            if at.is_finite() && at.abs() > 0.5 && at.abs() < 1e6 {
                let list = centers.entry(v.clone()).or_default();
                if !list.contains(&at) && list.len() < 16 {
                    list.push(at);
                }
            }
        }
        Scales { centers }
    }

    /// A point for `vars`: each coordinate near zero (as [`random_point`]), near one of
    /// its centers, or far out (|v| from 5 to 40), so that saturated and shifted
    /// regions are sampled as well as the origin.
    pub fn point(&self, vars: &[Sym], rng: &mut Rng) -> Env {
        vars.iter()
            .map(|v| {
                let (lo, hi) = RANGES[(rng.next_u64() % 4) as usize];
                let near = rng.uniform(lo, hi);
                let value = match (rng.next_u64() % 8, self.centers.get(v)) {
                    (0..=3, Some(cs)) => cs[(rng.next_u64() % cs.len() as u64) as usize] + near,
                    (4, _) => near.signum() * rng.uniform(5.0, 40.0),
                    _ => near,
                };
                (v.clone(), value)
            })
            .collect()
    }
}

/// Checks that `df` is the derivative of `f` along `x`, at 16 random points (seeded, so
/// the same on every run): [`check_chain`] for one derivative.
///
/// ```
/// let (f, df): (deriv::Expr, deriv::Expr) = ("x*sin(x)".parse()?, "sin(x) + x*cos(x)".parse()?);
/// assert!(deriv::check(&f, &df, &deriv::Sym::new("x"))?.max_error < 1e-12);
/// # Ok::<(), deriv::Error>(())
/// ```
pub fn check(f: &Expr, df: &Expr, x: &Sym) -> Result<CheckReport> {
    check_chain(&[f.clone(), df.clone()], x, 16, 1)
}

/// Checks that each `derivs[k + 1]` is the derivative of `derivs[k]` along `x`,
/// at `n_points` random points.
pub fn check_chain(derivs: &[Expr], x: &Sym, n_points: usize, seed: u64) -> Result<CheckReport> {
    let mut vars: Vec<Sym> = derivs.iter().flat_map(|d| d.free_vars()).collect();
    vars.push(x.clone());
    vars.sort();
    vars.dedup();
    let mut rng = Rng::new(seed);
    let model = Model::new(seed);
    let scales = Scales::of(&derivs.iter().collect::<Vec<_>>());
    let mut report = CheckReport { max_error: 0.0, points: 0 };
    for pair in derivs.windows(2) {
        let mut found = 0;
        for _ in 0..n_points * 20 {
            if found == n_points {
                break;
            }
            let env = scales.point(&vars, &mut rng);
            // Far out, the input itself may not be computable in f64 (`ln(1 - p)` where
            // `p` rounds to 1): such a point says nothing about the derivative.
            let input = eval::eval_magnitude(&pair[0], &env, Some(&model))?;
            if !(input.m.is_finite() && input.m <= 1e6 * input.v.abs().max(1.0)) {
                continue;
            }
            let dual = eval::eval_dual_magnitude(&pair[0], &env, x, Some(&model))?;
            let sym = eval::eval_magnitude(&pair[1], &env, Some(&model))?;
            if !(dual.v.v.is_finite() && dual.d.v.is_finite() && sym.v.is_finite() && sym.m.is_finite()) {
                continue;
            }
            found += 1;
            report.max_error = report.max_error.max(reference_aware_error(sym, dual.d));
        }
        if found == 0 {
            return Err(Error::new(ErrorKind::NoCheckPoint));
        }
        report.points += found;
    }
    Ok(report)
}
