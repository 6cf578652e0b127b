//! Logarithmic derivatives (issue 15, class 1) and denominators that stay factored
//! (class 4): each form checked against dual numbers, also where factors are negative.

use deriv::check::check_chain;
use deriv::defs::Problem;
use deriv::simplify::{simplify, Form};
use deriv::Sym;

/// The derivative of `input` by `wrt`, simplified as the command line does, checked
/// (names inlined) against dual numbers at the input's scales and at `points` too.
#[track_caller]
fn derivative_at(input: &str, wrt: &str, points: &[f64]) -> String {
    let p = Problem::load(&[], input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let x = Sym::new(wrt);
    let f = p.inlined_target();
    let raw = deriv::diff(&f, &x);
    let form = if p.defs.is_empty() { Form::Auto } else { Form::Output };
    let shown = simplify(&raw, &p.names(Some(&x)), form);
    let inlined = p.inline(&shown);
    let report = check_chain(&[f, inlined.clone()], &x, 24, 9).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert!(report.max_error < 1e-8, "{input} by {wrt}: {shown} is off by {}", report.max_error);
    for &at in points {
        let env = [(x.clone(), at)].into_iter().collect();
        let want = deriv::eval::eval_with(&raw, &env, None).unwrap();
        let got = deriv::eval::eval_with(&inlined, &env, None).unwrap();
        assert!((want - got).abs() <= 1e-9 * want.abs().max(1.0), "{input} at {at}: {shown} is {got}, not {want}");
    }
    shown.to_string()
}

#[track_caller]
fn derivative(input: &str, wrt: &str) -> String {
    derivative_at(input, wrt, &[])
}

#[test]
fn the_derivative_of_a_logarithm_of_a_product_is_a_sum() {
    insta::assert_snapshot!(derivative("ln(x^3*cos(x)/(x + 2))", "x"), @"3/x - tan(x) - 1/(2 + x)");
    // Written other ways, and in another variable.
    insta::assert_snapshot!(derivative("ln(cos(t)*t^3/(2 + t))", "t"), @"3/t - tan(t) - 1/(2 + t)");
    insta::assert_snapshot!(derivative("3*ln(x) + ln(cos(x)) - ln(x + 2)", "x"), @"3/x - tan(x) - 1/(2 + x)");
    insta::assert_snapshot!(derivative("ln(t^2*sin(t))", "t"), @"2/t + cot(t)");
    insta::assert_snapshot!(derivative("ln(sqrt(x)*(x^2 + 1)/(x - 3)^4)", "x"), @"1/(2*x) + 2*x/(1 + x^2) + 4/(3 - x)");
    // Eight factors.
    insta::assert_snapshot!(
        derivative("ln((x + 1)*(x + 2)*(x + 3)*(x + 4)*(x + 5)*(x + 6)*sin(x)*cos(x))", "x"),
        @"cot(x) - tan(x) + 1/(1 + x) + 1/(2 + x) + 1/(3 + x) + 1/(4 + x) + 1/(5 + x) + 1/(6 + x)"
    );
    // Nested in a call: the outer derivative stays a factor.
    insta::assert_snapshot!(derivative("sin(ln((u - 1)*(u + 3)))", "u"), @"cos(ln((u - 1)*(3 + u)))*(1/(u - 1) + 1/(3 + u))");
}

/// d/dx ln(u*v) = u'/u + v'/v wherever ln(u*v) is defined, u and v both negative
/// included (the derivative of ln|u| is u'/u): for ln((x - 1)*(x - 2)) at x = 0 and
/// x = -3 as at x = 3. No value-level split `ln(x - 1) + ln(x - 2)` is ever printed.
#[test]
fn the_split_derivative_holds_where_both_factors_are_negative() {
    let points = [-3.0, -0.5, 0.0, 0.5, 3.0, 7.5];
    insta::assert_snapshot!(derivative_at("ln((x - 1)*(x - 2))", "x", &points), @"1/(x - 2) + 1/(x - 1)");
    insta::assert_snapshot!(derivative_at("ln((1 - w)*(2 - w))", "w", &points), @"1/(w - 2) + 1/(w - 1)");
    insta::assert_snapshot!(derivative_at("ln(x^2 - 3*x + 2)", "x", &points), @"1/(x - 2) + 1/(x - 1)");
}

#[test]
fn a_product_of_powers_is_the_function_times_a_sum() {
    // In the name the user gave it.
    insta::assert_snapshot!(
        derivative("y = x^(1/3)*(x + 1)^5*(2*x - 3)^(-2); y", "x"),
        @"y*(1/(3*x) + 5/(1 + x) + 4/(3 - 2*x))"
    );
    insta::assert_snapshot!(
        derivative("q = s^(1/3)*(s + 1)^5/(2*s - 3)^2; q", "s"),
        @"q*(1/(3*s) + 5/(1 + s) + 4/(3 - 2*s))"
    );
    // f(x)^g(x) by logarithmic differentiation, as printed: f^g*(g*f'/f + g'*ln(f)).
    insta::assert_snapshot!(derivative("x^sin(x)", "x"), @"x^sin(x)*(sin(x)/x + cos(x)*ln(x))");
    insta::assert_snapshot!(derivative("(x^2 + 1)^x", "x"), @"(1 + x^2)^x*(2*x^2/(1 + x^2) + ln(1 + x^2))");
}

/// Written down before it was run (not tuned on).
#[test]
fn unseen_inputs() {
    insta::assert_snapshot!(derivative("ln((2*z + 1)^3*sin(z)/(z - 4)^2)", "z"), @"cot(z) + 6/(1 + 2*z) + 2/(4 - z)");
    insta::assert_snapshot!(derivative("w = (r - 1)^2*e^r/(r + 3); w", "r"), @"w*(1 + 2/(r - 1) - 1/(3 + r))");
}

/// The quotient rule's square of an irreducible quadratic stays a square.
#[test]
fn denominators_stay_factored() {
    insta::assert_snapshot!(derivative("(x + 1)/(x^2 - 5*x + 2)", "x"), @"(7 - 2*x - x^2)/(2 - 5*x + x^2)^2");
    insta::assert_snapshot!(derivative("1/(x^2 - 5*x + 2)", "x"), @"(5 - 2*x)/(2 - 5*x + x^2)^2");
    insta::assert_snapshot!(
        derivative("sin(x)/(x^2 - 5*x + 2)^2", "x"),
        @"cos(x)/(2 - 5*x + x^2)^2 - 2*sin(x)*(2*x - 5)/(2 - 5*x + x^2)^3"
    );
    // A product of powers whose expanded derivative has coefficients past the root
    // search: the square-free split finds its factors.
    insta::assert_snapshot!(
        derivative("x^2*(x + 1)^3*(x + 2)^4*(x + 3)^5", "x"),
        @"2*x*(1 + x)^2*(2 + x)^3*(3 + x)^4*(6 + 31*x + 29*x^2 + 7*x^3)"
    );
    insta::assert_snapshot!(derivative("x^2/((x + 1)*(x^2 + 3))", "x"), @"x*(6 + 3*x - x^3)/((1 + x)^2*(3 + x^2)^2)");
}
