//! Index notation: indexed variables, sums and Kronecker deltas. Indexed derivatives are
//! checked against dual numbers on the concrete elements (sums run over 1..3, every index
//! value tried), and the worked examples are snapshotted.

use deriv::check::{mixed_error, Rng};
use deriv::defs::Problem;
use deriv::eval::{eval_dual, eval_with, Env};
use deriv::Sym;

/// Runs `deriv diff` with an indexed `--wrt` and checks the printed result, with the
/// definitions inlined, against dual numbers at every index value in 1..3.
#[track_caller]
fn checked(expr: &str, lets: &[&str], base: &str, wrt_indices: &[&str], elements: &[&str]) -> String {
    let wrt = format!("{base}[{}]", wrt_indices.join(","));
    let mut args = vec!["diff", expr];
    for l in lets {
        args.extend(["--let", l]);
    }
    args.extend(["--wrt", &wrt]);
    let r = crate::support::run(&args);
    assert_eq!(r.code, 0, "{expr}: {}", r.stderr);
    let shown = r.stdout.trim().to_owned();
    let lets: Vec<String> = lets.iter().map(|s| s.to_string()).collect();
    let p = Problem::load(&lets, expr).unwrap();
    let shown_expr = p.inline(&deriv::parse(&shown).unwrap());
    let input = p.inlined_target();
    let mut free: Vec<Sym> =
        deriv::expr::index_vars(&input).into_iter().chain(deriv::expr::index_vars(&shown_expr)).collect();
    free.extend(wrt_indices.iter().map(|s| Sym::new(s)));
    free.sort();
    free.dedup();
    let mut rng = Rng::new(7);
    for trial in 0..40 {
        let mut env = Env::new();
        for e in elements {
            env.insert(Sym::new(e), rng.uniform(-1.5, 1.5));
        }
        for i in &free {
            env.insert(i.clone(), (1 + (rng.next_u64() + trial) % 3) as f64);
        }
        let idx: Vec<String> = wrt_indices.iter().map(|i| format!("{}", env[&Sym::new(i)] as i64)).collect();
        let element = Sym::new(&format!("{base}[{}]", idx.join(",")));
        env.entry(element.clone()).or_insert(0.7);
        let want = eval_dual(&input, &env, &element, None).unwrap().d;
        let got = eval_with(&shown_expr, &env, None).unwrap();
        assert!(mixed_error(got, want) < 1e-12, "{expr} by {wrt} = {shown} at {env:?}: {got} vs {want}");
    }
    shown
}

fn elements(base: &str, dims: usize) -> Vec<String> {
    match dims {
        1 => (1..=3).map(|i| format!("{base}[{i}]")).collect(),
        _ => (1..=3).flat_map(|i| (1..=3).map(move |j| format!("{base}[{i},{j}]"))).collect(),
    }
}

#[test]
fn softmax_in_index_form() {
    let z = elements("z", 1);
    let z: Vec<&str> = z.iter().map(String::as_str).collect();
    insta::assert_snapshot!(checked("p[i] = e^z[i]/sum(k, e^z[k])", &[], "z", &["j"], &z), @"p[i]*(delta(i, j) - p[j])");
}

#[test]
fn squared_error_layer_in_index_form() {
    let mut els = elements("w", 2);
    els.extend(elements("x", 1));
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    let shown =
        checked("E = 1/2*sum(k, (tanh(z[k]) - t[k])^2)", &["z[k] = sum(j, x[j]*w[j,k])"], "w", &["j", "k"], &els);
    insta::assert_snapshot!(shown, @"x[j]*(1 - tanh(z[k])^2)*(tanh(z[k]) - t[k])");
}

#[test]
fn squared_error_layer_with_a_named_sigmoid_output() {
    let mut els = elements("w", 2);
    els.extend(elements("x", 1));
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    let shown = checked(
        "E = 1/2*sum(k, (p[k] - t[k])^2)",
        &["z[k] = sum(j, x[j]*w[j,k])", "p[k] = 1/(1 + e^-z[k])"],
        "w",
        &["j", "k"],
        &els,
    );
    insta::assert_snapshot!(shown, @"p[k]*x[j]*(1 - p[k])*(p[k] - t[k])");
}

#[test]
fn sums_and_deltas() {
    let x = elements("x", 1);
    let x: Vec<&str> = x.iter().map(String::as_str).collect();
    insta::assert_snapshot!(checked("sum(k, x[k]^2)", &[], "x", &["j"], &x), @"2*x[j]");
    insta::assert_snapshot!(checked("x[i]*x[i]", &[], "x", &["j"], &x), @"2*delta(i, j)*x[i]");
    insta::assert_snapshot!(checked("sum(k, x[k])^2", &[], "x", &["j"], &x), @"2*sum(k, x[k])");
    insta::assert_snapshot!(checked("prod(k, x[k])", &[], "x", &["j"], &x), @"prod(k, x[k])/x[j]");
}

#[test]
fn indexed_syntax_prints_and_parses_back() {
    for src in
        ["w[j,k]*x[j] + delta(i, j)", "sum(k=1..K, x[k]^2)", "sum(k, e^z[k])", "g'(z[k])*x[2]", "prod(k, 1 + x[k])"]
    {
        let e = deriv::parse(src).unwrap();
        assert_eq!(deriv::parse(&e.to_string()).unwrap(), e, "{src} printed as {e}");
    }
    let latex = deriv::print::latex::to_latex(&deriv::parse("p[i]*(delta(i,j) - p[j]) + sum(k=1..K, w[j,k])").unwrap());
    insta::assert_snapshot!(latex, @r"p_{i} \left(\delta_{ij} - p_{j}\right) + \sum_{k=1}^{K} w_{j,k}");
}

#[test]
fn jacobians_and_hessians() {
    use crate::support::transcript;
    let softmax = "p1 = e^z1/(e^z1 + e^z2 + e^z3); p2 = e^z2/(e^z1 + e^z2 + e^z3); p3 = e^z3/(e^z1 + e^z2 + e^z3)";
    insta::assert_snapshot!(transcript(&["jacobian", softmax, "--wrt", "z1,z2,z3"]));
    insta::assert_snapshot!(transcript(&["jacobian", softmax, "--wrt", "z1,z2,z3", "--format", "latex"]));
    insta::assert_snapshot!(transcript(&["hessian", "x^2*y + sin(x*y)", "--wrt", "x,y", "--format", "json"]));
}

#[test]
fn cross_entropy_through_softmax_with_an_assumption() {
    let args = ["diff", "L = -sum(k, t[k]*ln(p[k]))", "--let", "p[k] = e^z[k]/sum(m, e^z[m])", "--wrt", "z[j]"];
    let r = crate::support::run(&args);
    assert_eq!(r.stdout, "p[j]*sum(k, t[k]) - t[j]\n", "{}", r.stderr);
    let mut with = args.to_vec();
    with.extend(["--assume", "sum(k, t[k]) = 1"]);
    let r = crate::support::run(&with);
    assert_eq!(r.stdout, "p[j] - t[j]\n", "{}", r.stderr);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() })]

    /// For random sizes K, M and random elements, the indexed softmax derivative at
    /// concrete indices equals the derivative of the concrete expansion.
    #[test]
    fn softmax_indexed_equals_concrete(kk in 1i64..6, i in 1i64..6, j in 1i64..6, seed in 0u64..1000) {
        let (i, j) = (1 + (i - 1) % kk, 1 + (j - 1) % kk);
        let size = format!("K={kk}");
        let wrt = format!("z[{j}]");
        let expr = format!("p[{i}]");
        let concrete = crate::support::run(&["diff", &expr, "--let", "p[i] = e^z[i]/sum(k, e^z[k])", "--wrt", &wrt, "--size", &size]);
        proptest::prop_assert_eq!(concrete.code, 0, "{}", concrete.stderr);
        let p = Problem::load(&["p[i] = e^z[i]/sum(k, e^z[k])".to_owned()], "p[i]").unwrap();
        let sizes = deriv::diff::parse_sizes(&size).unwrap();
        let concrete = deriv::diff::expand_sums(&p.inline(&deriv::parse(concrete.stdout.trim()).unwrap()), &sizes);
        let general = deriv::diff::expand_sums(&p.inline(&deriv::parse("p[i]*(delta(i, j) - p[j])").unwrap()), &sizes);
        let mut rng = Rng::new(seed);
        let mut env = Env::new();
        for m in 1..=kk {
            env.insert(Sym::new(&format!("z[{m}]")), rng.uniform(-2.0, 2.0));
        }
        env.insert(Sym::new("i"), i as f64);
        env.insert(Sym::new("j"), j as f64);
        let (a, b) = (eval_with(&general, &env, None).unwrap(), eval_with(&concrete, &env, None).unwrap());
        proptest::prop_assert!(mixed_error(a, b) < 1e-12, "K={} i={} j={}: {} vs {}", kk, i, j, a, b);
    }
}

/// The indexed derivative, at concrete index values, equals the derivative of the
/// concrete expansion (`--size`), for several sizes.
#[test]
fn indexed_results_agree_with_concrete_expansions() {
    let lets = "z[k] = sum(j, x[j]*w[j,k])";
    let expr = "E = 1/2*sum(k, (tanh(z[k]) - t[k])^2)";
    let indexed = crate::support::run(&["diff", expr, "--let", lets, "--wrt", "w[j,k]"]);
    assert_eq!(indexed.code, 0, "{}", indexed.stderr);
    let p = Problem::load(&[lets.to_owned()], expr).unwrap();
    let general = p.inline(&deriv::parse(indexed.stdout.trim()).unwrap());
    let mut rng = Rng::new(23);
    for (kk, mm) in [(1, 1), (2, 3), (3, 2), (4, 4)] {
        for (j, k) in [(1, 1), (mm, kk), (1, kk)] {
            let size = format!("K={kk},J={mm}");
            let wrt = format!("w[{j},{k}]");
            let concrete = crate::support::run(&["diff", expr, "--let", lets, "--wrt", &wrt, "--size", &size]);
            assert_eq!(concrete.code, 0, "{}", concrete.stderr);
            let concrete = p.inline(&deriv::parse(concrete.stdout.trim()).unwrap());
            let sizes = deriv::diff::parse_sizes(&size).unwrap();
            let concrete = deriv::diff::expand_sums(&concrete, &sizes);
            let general = deriv::diff::expand_sums(&general, &sizes);
            let mut env = Env::new();
            for b in ["x", "t"] {
                for i in 1..=4 {
                    env.insert(Sym::new(&format!("{b}[{i}]")), rng.uniform(-1.0, 1.0));
                }
            }
            for a in 1..=4 {
                for b in 1..=4 {
                    env.insert(Sym::new(&format!("w[{a},{b}]")), rng.uniform(-1.0, 1.0));
                }
            }
            env.insert(Sym::new("j"), j as f64);
            env.insert(Sym::new("k"), k as f64);
            let (a, b) = (eval_with(&general, &env, None).unwrap(), eval_with(&concrete, &env, None).unwrap());
            assert!(mixed_error(a, b) < 1e-12, "{size} {wrt}: {a} vs {b}");
        }
    }
}
