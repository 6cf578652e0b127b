//! `--check` in index notation, and derivatives of second order and mixed partials by
//! elements (`--wrt 'z[j],z[l]'`, `--order 2`, `hessian`): the checks pass on the worked
//! examples under any names, fail on wrong claims (also claims wrong only where two
//! indices meet), and the softmax's second derivative is verified against finite
//! differences of a softmax computed here, independently of deriv, at K = 2..5.

use std::collections::HashMap;

use deriv::defs::Problem;
use deriv::diff::Wrt;
use deriv::matrix::Options;
use deriv::{indexed, Expr, Sym};

use crate::support::run;

/// `deriv ARGS --check`: the result, after asserting that it passed.
#[track_caller]
fn checked(args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.push("--check");
    let r = run(&args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    assert!(r.stderr.starts_with("check: passed, max error "), "{args:?}: {}", r.stderr);
    r.stdout.trim().to_owned()
}

fn element(base: &str, idx: &[&str]) -> Wrt {
    Wrt::Indexed(Sym::new(base), idx.iter().map(|i| Expr::var(i)).collect())
}

/// The largest error [`indexed::check`] finds for `claims` (text, names allowed).
#[track_caller]
fn error_of(program: &str, lets: &[&str], wrt: &[Wrt], claims: &[&str]) -> f64 {
    let lets: Vec<String> = lets.iter().map(|l| l.to_string()).collect();
    let p = Problem::load(&lets, program).unwrap();
    let claims: Vec<Expr> = claims.iter().map(|c| deriv::parse(c).unwrap()).collect();
    indexed::check(&p, wrt, &HashMap::new(), &claims).unwrap_or_else(|e| panic!("{program}: {e}")).max_error
}

const SOFTMAX: &str = "p[i] = e^z[i]/sum(k, e^z[k])";

#[test]
fn checks_pass_on_the_worked_examples() {
    assert_eq!(checked(&["diff", SOFTMAX, "--wrt", "z[j]"]), "p[i]*(delta(i, j) - p[j])");
    let loss = ["diff", "L = -sum(k, t[k]*ln(p[k]))", "--let", "p[k] = e^z[k]/sum(m, e^z[m])", "--wrt", "z[j]"];
    assert_eq!(checked(&loss), "p[j]*sum(k, t[k]) - t[j]");
    let assumed = [&loss[..], &["--assume", "sum(k, t[k]) = 1"]].concat();
    assert_eq!(checked(&assumed), "p[j] - t[j]");
    let backprop = "z[k] = sum(j, x[j]*w[j,k]); E = 1/2*sum(k, (g(z[k]) - t[k])^2)";
    assert_eq!(checked(&["diff", backprop, "--wrt", "w[j,k]"]), "g'(z[k])*x[j]*(g(z[k]) - t[k])");
    let named = "z[k] = sum(j, x[j]*w[j,k]); p[k] = 1/(1 + e^-z[k]); E = 1/2*sum(k, (p[k] - t[k])^2)";
    assert_eq!(checked(&["diff", named, "--wrt", "w[j,k]"]), "p[k]*x[j]*(1 - p[k])*(p[k] - t[k])");
}

#[test]
fn checks_pass_under_other_names_and_shapes() {
    let cases = [
        ("q[a] = e^s[a]/sum(b, e^s[b])", "s[c]", "q[a]*(delta(a, c) - q[c])"),
        ("u[b] = e^(q[b]/T)/sum(c, e^(q[c]/T))", "q[a]", "u[b]*(delta(a, b) - u[a])/T"),
        ("p[i] = e^z[i]/sum(k, e^z[k]); y[i] = ln(p[i])", "z[j]", "delta(i, j) - p[j]"),
        ("p[i] = e^z[i]/sum(k, e^z[k]); W = sum(i, c[i]*p[i])", "z[j]", "p[j]*(c[j] - W)"),
        ("z[c] = sum(a, x[a]*u[a,c]); E = 1/2*sum(c, (g(z[c]) - t[c])^2)", "u[a,b]", ""),
    ];
    for (program, wrt, want) in cases {
        let got = checked(&["diff", program, "--wrt", wrt]);
        if !want.is_empty() {
            assert_eq!(got, want, "{program} by {wrt}");
        }
    }
    let loss = "q[a] = e^s[a]/sum(b, e^s[b]); L = -sum(a, y[a]*ln(q[a]))";
    assert_eq!(checked(&["diff", loss, "--wrt", "s[c]", "--assume", "sum(b, y[b]) = 1"]), "q[c] - y[c]");
}

/// The check compares every element: a claim wrong only where `i = j`, or only under a
/// fact the points need not satisfy, fails.
#[test]
fn wrong_claims_fail_the_check() {
    let z = |j: &str| element("z", &[j]);
    assert!(error_of(SOFTMAX, &[], &[z("j")], &["p[i]*(delta(i, j) - p[j])"]) < 1e-12);
    assert!(error_of(SOFTMAX, &[], &[z("j")], &["-p[i]*p[j]"]) > 0.01);
    assert!(error_of(SOFTMAX, &[], &[z("j")], &["p[i]*(delta(i, j) - p[i])"]) > 0.01);
    let loss = "p[i] = e^z[i]/sum(k, e^z[k]); L = -sum(i, t[i]*ln(p[i]))";
    assert!(error_of(loss, &[], &[z("j")], &["p[j]*sum(k, t[k]) - t[j]"]) < 1e-12);
    assert!(error_of(loss, &[], &[z("j")], &["p[j] - t[j]"]) > 0.01);
    // Second order: the first claim right, the second missing its delta(j, l) term.
    let right = "p[i]*((delta(i, j) - p[j])*(delta(i, l) - p[l]) - p[j]*(delta(j, l) - p[l]))";
    let first = "p[i]*(delta(i, j) - p[j])";
    assert!(error_of(SOFTMAX, &[], &[z("j"), z("l")], &[first, right]) < 1e-12);
    let wrong = "p[i]*((delta(i, j) - p[j])*(delta(i, l) - p[l]) + p[j]*p[l])";
    assert!(error_of(SOFTMAX, &[], &[z("j"), z("l")], &[first, wrong]) > 0.01);
    // Transposed weights.
    let backprop = "z[k] = sum(j, x[j]*w[j,k]); E = 1/2*sum(k, (g(z[k]) - t[k])^2)";
    let w = element("w", &["j", "k"]);
    assert!(error_of(backprop, &[], std::slice::from_ref(&w), &["g'(z[k])*x[j]*(g(z[k]) - t[k])"]) < 1e-12);
    assert!(error_of(backprop, &[], &[w], &["g'(z[j])*x[k]*(g(z[j]) - t[j])"]) > 0.01);
}

/// A failed check exits 1 with the scalar check's message: a tolerance no f64 result
/// meets is the one way to fail a right derivative from the command line.
#[test]
fn a_failed_check_exits_1() {
    let r = run(&["diff", SOFTMAX, "--wrt", "z[j],z[l]", "--check", "--tolerance", "0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: check failed: max error "), "{}", r.stderr);
}

#[test]
fn second_derivatives_and_mixed_partials() {
    insta::assert_snapshot!(checked(&["diff", SOFTMAX, "--wrt", "z[j],z[l]"]), @"p[i]*((delta(i, j) - p[j])*(delta(i, l) - p[l]) - p[j]*(delta(j, l) - p[l]))");
    insta::assert_snapshot!(checked(&["diff", SOFTMAX, "--wrt", "z[j],z[l]", "--order", "2"]), @"p[i]*((delta(i, j) - p[j])*(delta(i, l) - p[l]) - p[j]*(delta(j, l) - p[l]))");
    insta::assert_snapshot!(checked(&["diff", SOFTMAX, "--wrt", "z[j]", "--order", "2"]), @"p[i]*((delta(i, j) - p[j])^2 - p[j]*(1 - p[j]))");
    insta::assert_snapshot!(checked(&["diff", "q[a] = e^(s[a]/T)/sum(b, e^(s[b]/T))", "--wrt", "s[c],s[u]"]), @"q[a]*((delta(a, c) - q[c])*(delta(a, u) - q[u]) - q[c]*(delta(c, u) - q[u]))/T^2");
    insta::assert_snapshot!(checked(&["diff", "p[i] = e^z[i]/sum(k, e^z[k]); y[i] = ln(p[i])", "--wrt", "z[j],z[l]"]), @"-p[j]*(delta(j, l) - p[l])");
    let loss = "p[i] = e^z[i]/sum(k, e^z[k]); L = -sum(i, t[i]*ln(p[i]))";
    let fact = "sum(k, t[k]) = 1";
    insta::assert_snapshot!(checked(&["hessian", loss, "--wrt", "z[j],z[l]", "--assume", fact]), @"p[j]*(delta(j, l) - p[l])");
    insta::assert_snapshot!(checked(&["diff", loss, "--wrt", "z[j],z[l]", "--assume", fact]), @"p[j]*(delta(j, l) - p[l])");
    let backprop = "z[k] = sum(j, x[j]*w[j,k]); E = 1/2*sum(k, (tanh(z[k]) - t[k])^2)";
    insta::assert_snapshot!(checked(&["diff", backprop, "--wrt", "w[j,k],x[m]"]), @"(1 - tanh(z[k])^2)*(w[m,k]*x[j]*(1 - tanh(z[k])^2) + (delta(j, m) - 2*tanh(z[k])*w[m,k]*x[j])*(tanh(z[k]) - t[k]))");
    let r = run(&["diff", SOFTMAX, "--wrt", "z[j],z[l]", "--order", "3"]);
    assert_eq!(
        (r.code, r.stderr.lines().next()),
        (2, Some("error: --order 3 with 2 elements in --wrt: give one element, or one per order"))
    );
    let r = run(&["hessian", SOFTMAX, "--wrt", "z[j],z[l],z[m]"]);
    assert_eq!(
        (r.code, r.stderr.lines().next()),
        (2, Some("error: a Hessian in index notation is by two elements, not 3"))
    );
}

/// The softmax's second derivative as deriv shows it, at K = 2..5 and every i, j, l,
/// against central differences of a softmax computed here.
#[test]
fn the_softmax_second_derivative_agrees_with_finite_differences() {
    let p = Problem::load(&[], SOFTMAX).unwrap();
    let wrt = [element("z", &["j"]), element("z", &["l"])];
    let d = indexed::derivatives(&p, &wrt, &HashMap::new(), &Options::new(&p));
    let shown = p.inline(&d[1].shown);
    let softmax = |z: &[f64], i: usize| z[i].exp() / z.iter().map(|x| x.exp()).sum::<f64>();
    let mut rng = deriv::check::Rng::new(11);
    for kk in 2..=5usize {
        let sizes: HashMap<Sym, i64> = deriv::expr::index_vars(&shown).into_iter().map(|k| (k, kk as i64)).collect();
        let expanded = deriv::diff::expand_sums(&shown, &sizes);
        let z: Vec<f64> = (0..kk).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let mut env: deriv::eval::Env = (0..kk).map(|m| (Sym::new(&format!("z[{}]", m + 1)), z[m])).collect();
        let h = 1e-4;
        for i in 0..kk {
            for j in 0..kk {
                for l in 0..kk {
                    let at = |dj: f64, dl: f64| {
                        let mut y = z.clone();
                        y[j] += dj;
                        y[l] += dl;
                        softmax(&y, i)
                    };
                    let want = (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4.0 * h * h);
                    for (name, v) in [("i", i), ("j", j), ("l", l)] {
                        env.insert(Sym::new(name), (v + 1) as f64);
                    }
                    let got = deriv::eval::eval(&expanded, &env).unwrap();
                    assert!((got - want).abs() < 1e-6, "K={kk} i={i} j={j} l={l}: {got} vs {want}");
                }
            }
        }
    }
}
