//! Step-by-step derivations: every line equals the line before it (numerically, with
//! unevaluated derivatives taken by dual numbers), and the steps are snapshotted, the
//! way a user of deriv would pin them in their own tests.

use deriv::check::{mixed_error, random_point, Rng};
use deriv::eval::Model;

#[track_caller]
fn checked(src: &str, wrt: &str) -> deriv::derivation::Derivation {
    let der = deriv::derivation(src, wrt).unwrap_or_else(|e| panic!("{src}: {e}"));
    let problem = deriv::defs::Problem::load(&[], src).unwrap();
    let mut vars = problem.inlined_target().free_vars();
    vars.push(deriv::Sym::new(wrt));
    vars.sort();
    vars.dedup();
    let bodies: Vec<(deriv::Sym, deriv::Expr)> =
        problem.defs.iter().map(|d| (d.name.clone(), problem.inline(&d.body))).collect();
    let model = Model::new(3);
    let mut rng = Rng::new(17);
    let mut compared = 0;
    for _ in 0..100 {
        let mut env = random_point(&vars, &mut rng);
        let mut defined = true;
        for (n, b) in &bodies {
            let v = deriv::eval::eval_with(b, &env, Some(&model)).unwrap();
            defined &= v.is_finite();
            env.insert(n.clone(), v);
        }
        let values: Vec<f64> = der.steps.iter().map(|s| s.term.eval(&env, &model).unwrap()).collect();
        if !defined || values.iter().any(|v| !v.is_finite() || v.abs() > 1e6) {
            continue;
        }
        for (w, s) in values.windows(2).zip(der.steps.iter().skip(1)) {
            assert!(
                mixed_error(w[1], w[0]) < 1e-9,
                "{src}: step `{}` ({}) differs: {} vs {}",
                s.term.to_text(),
                s.rule,
                w[1],
                w[0]
            );
        }
        compared += 1;
    }
    assert!(compared >= 10, "{src}: only {compared} points");
    der
}

#[test]
fn sigmoid_through_the_quotient_rule() {
    let der = checked("p = e^z/(1+e^z)", "z");
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("p*(1 - p)"));
    insta::assert_snapshot!(der.to_string());
    insta::assert_snapshot!(der.to_latex());
}

#[test]
fn tanh_through_sinh_and_cosh() {
    let der = checked("sinh(x)/cosh(x)", "x");
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("1 - tanh(x)^2"));
    insta::assert_snapshot!(der.to_string());
}

#[test]
fn worked_examples() {
    let cases = [
        ("p = 1/(1+e^-z)", "z"),
        ("p1 = e^z1/(e^z1 + e^z2 + e^z3); p2 = e^z2/(e^z1 + e^z2 + e^z3); p1", "z2"),
        ("z = x1*w11 + x2*w21; E = 1/2*(g(z) - t)^2", "w11"),
        ("y = ln(1 + e^x)", "x"),
        ("x*sigmoid(x)", "x"),
        ("x^2*sin(x)", "x"),
        ("x^x", "x"),
    ];
    let out: Vec<String> = cases.iter().map(|(s, x)| checked(s, x).to_string()).collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// What README shows a user: pin a derivative with insta.
#[test]
fn users_snapshot_a_derivative() {
    insta::assert_snapshot!(deriv::derivative("p = e^z/(1+e^z)", "z").unwrap().to_string(), @"p*(1 - p)");
}
