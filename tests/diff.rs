//! Derivatives of the worked examples and of every built-in, each checked numerically
//! (dual numbers at random points) and snapshotted.

use crate::support::{check_diff, check_diff_n};

#[test]
fn sigmoid_as_quotient() {
    insta::assert_snapshot!(check_diff("e^z/(1+e^z)", "z"), @"e^z/(1 + e^z) - e^(2*z)/(1 + e^z)^2");
}

#[test]
fn sigmoid_as_reciprocal() {
    insta::assert_snapshot!(check_diff("1/(1+e^-z)", "z"), @"e^-z/(1 + e^-z)^2");
}

#[test]
fn sigmoid_builtin() {
    insta::assert_snapshot!(check_diff("sigmoid(z)", "z"), @"sigmoid(z)*(1 - sigmoid(z))");
}

#[test]
fn tanh_as_sinh_over_cosh() {
    insta::assert_snapshot!(check_diff("sinh(x)/cosh(x)", "x"), @"1 - sinh(x)^2/cosh(x)^2");
}

#[test]
fn softmax_three_inputs() {
    let defs = "p1 = e^z1/(e^z1 + e^z2 + e^z3); p1";
    insta::assert_snapshot!(check_diff(defs, "z1"));
    insta::assert_snapshot!(check_diff(defs, "z2"));
    insta::assert_snapshot!(check_diff(defs, "z3"));
}

#[test]
fn squared_error_with_abstract_activation() {
    insta::assert_snapshot!(check_diff("(g(z) - t)^2/2", "z"));
    insta::assert_snapshot!(check_diff("g(z)^2/2", "z"));
    insta::assert_snapshot!(check_diff("g(x1*w1 + x2*w2)^2/2", "w1"));
    insta::assert_snapshot!(check_diff("z = x1*w11 + x2*w21; E = 1/2*(g(z) - t)^2", "w11"));
}

#[test]
fn abstract_functions_of_several_arguments() {
    insta::assert_snapshot!(check_diff("f(x*y, x + y)", "x"));
    insta::assert_snapshot!(check_diff_n("f(x, y)", "x", 2).to_string());
    insta::assert_snapshot!(check_diff("f'[1](x, y)", "y"));
}

#[test]
fn higher_orders() {
    insta::assert_snapshot!(check_diff_n("g(z)^2/2", "z", 2).to_string());
    insta::assert_snapshot!(check_diff_n("tanh(x)", "x", 3).to_string());
    insta::assert_snapshot!(check_diff_n("1/(1+e^-z)", "z", 3).to_string());
    assert!(check_diff_n("x^3", "x", 4).is_zero());
}

#[test]
fn calculus_rules() {
    let cases = [
        ("x^2*sin(x)", "x"),
        ("sin(cos(e^x))", "x"),
        ("x^x", "x"),
        ("x^sin(x)", "x"),
        ("x^n", "x"),
        ("ln(ln(x))", "x"),
        ("sqrt(sin(x))", "x"),
        ("log(2, x)", "x"),
        ("2^x", "x"),
        ("abs(x)^3", "x"),
        ("x/(1 + abs(x))", "x"),
        ("0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))", "x"),
        ("x/2*(1 + erf(x/sqrt(2)))", "x"),
        ("x*tanh(softplus(x))", "x"),
        ("-ln(1+e^-x)", "x"),
        ("cosh(x)^2 - sinh(x)^2", "x"),
    ];
    let out: Vec<String> = cases.iter().map(|(e, x)| format!("d/d{x} {e} = {}", check_diff(e, x))).collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// Every built-in's rule, through the chain rule, at random points.
#[test]
fn every_builtin() {
    let out: Vec<String> = deriv::func::Builtin::ALL
        .into_iter()
        .map(|f| {
            let e = format!("{}(x^2 + 1/3)", f.name());
            format!("{e}: {}", check_diff(&e, "x"))
        })
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// Every other spelling of a built-in (`arcsin`, `arsinh`, `arccoth`...) reads as its
/// row: the same derivative, printed by the row's name.
#[test]
fn other_spellings_are_the_builtins() {
    for (spelled, row) in deriv::func::SPELLINGS {
        let e = format!("{spelled}(x^2 + 1/3)");
        assert_eq!(deriv::parse(&e).unwrap().to_string(), format!("{}(1/3 + x^2)", row.name()), "{e}");
        assert_eq!(check_diff(&e, "x"), check_diff(&format!("{}(x^2 + 1/3)", row.name()), "x"), "{e}");
    }
}

#[test]
fn differentiating_a_free_expression_gives_zero() {
    assert_eq!(check_diff("y^2 + sin(y)", "x"), "0");
}

#[test]
fn a_variable_asked_for_twice_gets_its_derivative_twice() {
    // The reverse pass gives the gradient; it once gave a repeated variable 0.
    let r = crate::support::run(&["grad", "x*y", "--wrt", "x,y,x", "--check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), ["y", "x", "y"]);
}

/// The check measures a difference against what f64 can resolve of the reference too:
/// `sinh(3*x + 30)/e^(3*x - 3)` is nearly constant, and dual numbers get its derivative
/// as the difference of two numbers near `e^33`, so the exact `3*e^(-27 - 6*x)` passes
/// (it failed the check before), while a formula 0.1% off still fails at the points near
/// the input's own shift, where nothing cancels.
#[test]
fn a_check_allows_for_cancellation_in_the_reference() {
    let x = deriv::Sym::new("x");
    let f = deriv::parse("sinh(3*x + 30)/e^(3*x - 3)").unwrap();
    let exact = deriv::parse("3*e^(-27 - 6*x)").unwrap();
    let off = deriv::parse("3.003*e^(-27 - 6*x)").unwrap();
    assert!(deriv::check(&f, &exact, &x).unwrap().max_error < 1e-9);
    assert!(deriv::check(&f, &off, &x).unwrap().max_error > 1e-6);
    let r = crate::support::run(&["diff", "sinh(3*x + 30)/e^(3*x - 3)", "--check"]);
    assert_eq!((r.code, r.stdout.trim_end()), (0, "3*e^(-27 - 6*x)"), "{}", r.stderr);
}
