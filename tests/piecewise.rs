//! Piecewise functions (issue 16): `if`, comparisons, `heaviside`, `relu`, `max`, `min`
//! and `clamp` — parsed, printed back, differentiated branch by branch and checked
//! against dual numbers, simplified per branch in terms of the output, and written in
//! LaTeX. The activations are PyTorch's piecewise `torch.nn` family, under other names
//! too.

use deriv::defs::Problem;
use deriv::simplify::{simplify, Form};
use deriv::Sym;

/// The derivative of `program`'s target by `x`, simplified as the command line does
/// (in the definitions' names), checked against dual numbers at random points (none of
/// them at a kink: the kinks are a set of measure zero).
#[track_caller]
fn derivative(program: &str, x: &str) -> String {
    let p = Problem::load(&[], program).unwrap_or_else(|e| panic!("{program}: {e}"));
    let x = Sym::new(x);
    let input = p.inlined_target();
    let raw = deriv::diff(&input, &x);
    let form = if p.defs.is_empty() { Form::Auto } else { Form::Output };
    let shown = simplify(&raw, &p.names(Some(&x)), form);
    let report = deriv::check(&input, &p.inline(&shown), &x).unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(report.max_error < 1e-9, "{program}: {shown} is off by {}", report.max_error);
    shown.to_string()
}

fn eval(src: &str, at: &[(&str, f64)]) -> f64 {
    let env = at.iter().map(|(k, v)| (Sym::new(k), *v)).collect();
    deriv::eval::eval(&deriv::parse(src).unwrap(), &env).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn relu_max_and_min_differentiate_to_steps() {
    for x in ["x", "u", "z1"] {
        let h = format!("heaviside({x})");
        assert_eq!(derivative(&format!("relu({x})"), x), h);
        assert_eq!(derivative(&format!("max(0, {x})"), x), h);
        assert_eq!(derivative(&format!("max({x}, 0)"), x), h);
        assert_eq!(derivative(&format!("min(0, {x})"), x), format!("heaviside(-{x})"));
    }
    // PyTorch's convention at the kink: relu'(0) = 0, and the same for max(0, x).
    assert_eq!(eval("heaviside(x)", &[("x", 0.0)]), 0.0);
    assert_eq!(eval("heaviside(x)", &[("x", 1e-300)]), 1.0);
}

#[test]
fn the_piecewise_activations_in_terms_of_their_outputs() {
    // ELU, SELU (with its scale), leaky ReLU, under other names too: per branch, a name
    // defined by an `if` with the same conditions is its own branch's value.
    for (x, y, a) in [("x", "y", "alpha"), ("u", "q", "c")] {
        let elu = format!("{y} = if({x} > 0, {x}, {a}*(e^{x} - 1)); {y}");
        assert_eq!(derivative(&elu, x), format!("if({x} > 0, 1, {a} + {y})"));
        let selu = format!("{y} = if({x} > 0, s*{x}, s*{a}*(e^{x} - 1)); {y}");
        assert_eq!(derivative(&selu, x), format!("if({x} > 0, s, {a}*s + {y})"));
        let leaky = format!("{y} = if({x} > 0, {x}, 0.01*{x}); {y}");
        assert_eq!(derivative(&leaky, x), format!("if({x} > 0, 1, 0.01)"));
    }
}

#[test]
fn pytorch_s_piecewise_family_is_differentiated_and_checked() {
    // Each with the form PyTorch's backward computes (derivatives.yaml), no longer.
    let cases = [
        ("relu6", "min(max(0, x), 6)", "heaviside(x)*heaviside(6 - x)"),
        ("hardtanh", "clamp(x, -1, 1)", "heaviside(1 + x)*heaviside(1 - x)"),
        ("hardsigmoid", "clamp(x/6 + 1/2, 0, 1)", "heaviside(3 + x)*heaviside(3 - x)/6"),
        ("softshrink", "if(x > 1/2, x - 1/2, x < -1/2, x + 1/2, 0)", "if(x > 1/2, 1, x < -1/2, 1, 0)"),
        ("threshold", "if(x > 1, x, 0)", "heaviside(x - 1)"),
    ];
    for (name, f, want) in cases {
        assert_eq!(derivative(f, "x"), want, "{name}");
    }
    // Hardswish and CELU: right (checked), whatever their form.
    derivative("x*clamp(x + 3, 0, 6)/6", "x");
    derivative("y = if(x > 0, x, a*(e^(x/a) - 1)); y", "x");
}

#[test]
fn only_the_branch_taken_is_evaluated() {
    // ELU far out: e^1000 overflows, but that branch is not taken.
    let elu = "if(x > 0, x, e^x - 1)";
    assert_eq!(eval(elu, &[("x", 1000.0)]), 1000.0);
    assert_eq!(eval(elu, &[("x", -1000.0)]), -1.0);
    assert_eq!(eval("if(x < -1, -1, x <= 1, x, 1)", &[("x", 1.0)]), 1.0);
    assert_eq!(eval("max(x, y, 2) - min(x, y, 2)", &[("x", -3.0), ("y", 5.0)]), 8.0);
    assert_eq!(eval("(x == 1) + (x != 1) + (x >= 1)", &[("x", 1.0)]), 2.0);
}

#[test]
fn piecewise_forms_print_back_as_written() {
    for (src, printed) in [
        ("if(x > 0, x, a*(e^x - 1))", "if(x > 0, x, a*(e^x - 1))"),
        ("if(x < -1, -1, x <= 1, x, 1)", "if(x < -1, -1, x <= 1, x, 1)"),
        ("x*(x > 1)", "x*heaviside(x - 1)"),
        ("step(2*x)", "heaviside(x)"),
        ("max(x, 0, y)", "max(0, x, y)"),
        ("clamp(x, -1, 1)", "min(1, max(-1, x))"),
        ("if(x > 0, 1, 0)", "heaviside(x)"),
        ("if(x > 0, 0, 1)", "x <= 0"),
        ("if(1 > 0, a, b)", "a"),
    ] {
        let e = deriv::parse(src).unwrap();
        assert_eq!(e.to_string(), printed, "{src}");
        assert_eq!(deriv::parse(printed).unwrap(), e, "{printed} reads back");
    }
}

#[test]
fn max_and_min_are_built_in() {
    let r = crate::support::run(&["diff", "max(0, x)"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "heaviside(x)"), "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = crate::support::run(&["diff", "max = x^2"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("max"), "{}", r.stderr);
}

#[test]
fn steps_latex_and_the_check() {
    let d = deriv::derivation("relu(x)^2 + if(x > 0, x, 0)", "x").unwrap();
    let text = d.to_string();
    assert!(text.contains("piecewise rule"), "{text}");
    let tex = deriv::print::latex::to_latex(&deriv::parse("if(x > 0, 1, a*e^x)").unwrap());
    assert_eq!(tex, r"\begin{cases} 1 & \text{if } x > 0 \\ a e^{x} & \text{otherwise} \end{cases}");
    let r = crate::support::run(&["diff", "y = if(x > 0, x, a*(e^x - 1)); y", "--wrt", "x", "--check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "if(x > 0, 1, a + y)");
    assert!(r.stderr.contains("check: passed"), "{}", r.stderr);
}

#[test]
fn relu_written_with_abs_is_recognised() {
    let simplified =
        |src: &str| deriv::simplify(&deriv::parse(src).unwrap(), &Default::default(), Form::Auto).to_string();
    assert_eq!(simplified("(x + abs(x))/2"), "relu(x)");
    assert_eq!(simplified("q/2 + abs(q)/2 + q^2"), "q^2 + relu(q)");
    assert_eq!(simplified("u - 1 + abs(u - 1)"), "2*relu(u - 1)");
    assert_eq!(simplified("3*w + 3*abs(w) + sin(w)"), "6*relu(w) + sin(w)");
    // Not where it would not be shorter, or not the same identity.
    assert_eq!(simplified("x + 2*abs(x)"), "x + 2*abs(x)");
}

#[test]
fn kinks_in_one_variable_come_out_by_cases() {
    // Hardswish through clamp, min/max, or relu: PyTorch's three branches, and the form
    // takes the plain derivative's value at the kinks themselves too.
    // (Written with relu, the input's own slope at 3 is the middle branch's: `<=`.)
    let written = [
        ("x", "x*clamp(x + 3, 0, 6)/6", "<"),
        ("u", "u*min(max(u + 3, 0), 6)/6", "<"),
        ("s", "s*(relu(s + 3) - relu(s - 3))/6", "<="),
    ];
    for (x, f, at_3) in written {
        let shown = derivative(f, x);
        assert_eq!(shown, format!("if({x} <= -3, 0, {x} {at_3} 3, 1/2 + {x}/3, 1)"), "{f}");
        let raw = deriv::diff(&deriv::parse(f).unwrap(), &Sym::new(x)).to_string();
        for at in [-4.0, -3.0, -1.5, 0.0, 3.0, 7.0] {
            let (a, b) = (eval(&shown, &[(x, at)]), eval(&raw, &[(x, at)]));
            assert!((a - b).abs() < 1e-12, "{f} at {at}: {a} against {b}");
        }
    }
    assert_eq!(derivative("relu(x)^2", "x"), "2*relu(x)");
    assert_eq!(derivative("x*relu(x - 1)", "x"), "if(x <= 1, 0, 2*x - 1)");
    // Not where the kinks turn on two variables, or are not linear.
    assert_eq!(derivative("relu(x - y)^2", "x"), "2*relu(x - y)");
    assert!(!derivative("relu(x^2 - 1)^2", "x").contains("if("));
}

#[test]
fn no_branch_gives_a_value_where_the_input_has_none() {
    // x^4/abs(x)^3 is |x| but at 0, where it is 0/0 (so is its derivative): deciding
    // abs(x) as x at the kink cancelled x^3/x^3 and once gave the point a branch of its
    // own, `x == 0` with the value 4. Renamed, scaled by a parameter, shifted. (The
    // derivative may also come without cases, as `x/abs(x)`, undefined at 0 as it is.)
    for (x, f, kink) in [("x", "x^4*abs(x)^-3", "0"), ("q", "a*q^4*abs(q)^-3", "0"), ("u", "(u - 2)^2/abs(u - 2)", "2")]
    {
        let shown = derivative(f, x);
        assert!(shown.starts_with(&format!("if({x} <= {kink}, ")) || !shown.contains("if("), "{f}: {shown}");
        assert!(!shown.contains("=="), "{f}: {shown}");
    }
}

#[test]
fn relu_s_step_is_the_step_of_its_output() {
    // A ramp is positive exactly where its argument is: in terms of the output, ReLU's
    // derivative is the step of the output (PyTorch's `threshold_backward(grad, result)`).
    for (y, x) in [("y", "x"), ("q", "u")] {
        assert_eq!(derivative(&format!("{y} = relu({x}); {y}"), x), format!("heaviside({y})"));
        assert_eq!(derivative(&format!("{y} = 2*relu(w*{x} + b); {y}"), x), format!("2*w*heaviside({y})"));
        assert_eq!(derivative(&format!("{y} = max(0, {x} - 1); {y}"), x), format!("heaviside({y})"));
    }
    // Not a ramp with a negative scale, whose output is positive where its argument is not.
    assert_eq!(derivative("y = -relu(x); y", "x"), "-heaviside(x)");
    // The backward pass reads the saved output.
    let k = deriv::codegen::kernel("relu(w*x + b)", &["x", "w"], "layer").unwrap();
    let py = deriv::codegen::python(&k);
    assert!(py.contains("float(y > 0.0)"), "{py}");
    let backward = &py[py.find("def layer_backward").unwrap()..];
    assert!(!backward.contains("b + w * x"), "{py}");
}

/// A kink whose argument holds another kink (`y + 3*heaviside(-y)/2 > 0` turns at
/// y = -3/2, not at 0) is not taken for linear: the simplified form keeps the value on
/// every interval, between -3/2 and -1 too. Also `acot` at either zero is pi/2.
#[test]
fn a_kink_inside_a_kink_is_not_linear() {
    let src = "1/if(y + 3*heaviside(-y)/2 > 0, -1, if(y < -1, cos(x), 0))";
    let e = deriv::parse(src).unwrap();
    let s = simplify(&e, &deriv::simplify::Names::default(), Form::Auto);
    for y in [-2.0, -1.6, -1.3, -1.2, 0.5, 2.0] {
        let at = |f: &deriv::Expr| {
            let env = [(Sym::new("x"), -0.41), (Sym::new("y"), y)].into_iter().collect();
            deriv::eval::eval(f, &env).unwrap_or_else(|e| panic!("{f} at y = {y}: {e}"))
        };
        assert_eq!(at(&s), at(&e), "{s} against {src} at y = {y}");
    }
    assert_eq!(eval("acot(-7*(x <= 0)/3)", &[("x", 2.0)]), std::f64::consts::FRAC_PI_2);
}

/// Two comparisons of one difference in a product: `d > 0` beside `-d >= 0` (or `-d >
/// 0`) never hold at once, so the product is 0; `d >= 0` beside `d > 0` adds nothing.
/// The constructors see it however the comparisons are written and scaled, so the mixed
/// partial of `max(x, y)^2` is 0. Each form has the value of its factors multiplied one
/// by one, at points on both sides of each kink.
#[test]
fn comparisons_that_exclude_or_imply_each_other() {
    let cases: [(&[&str], &str); 6] = [
        (&["x > y", "y >= x"], "0"),
        (&["heaviside(y - x)", "x >= y", "w"], "0"),
        (&["2*x > y", "y > 2*x"], "0"),
        (&["x > y", "x >= y", "w"], "w*heaviside(x - y)"),
        (&["3", "y >= x", "y > x"], "3*heaviside(y - x)"),
        (&["x >= y", "y >= x"], "(x >= y)*(y >= x)"),
    ];
    for (factors, want) in cases {
        let src = factors.iter().map(|f| format!("({f})")).collect::<Vec<_>>().join("*");
        assert_eq!(deriv::parse(&src).unwrap().to_string(), want, "{src}");
        for (x, y) in [(0.3, 1.7), (1.7, 0.3), (-2.0, -0.5), (0.5, 0.5)] {
            let at = [("x", x), ("y", y), ("w", 1.5)];
            let one_by_one: f64 = factors.iter().map(|f| eval(f, &at)).product();
            assert_eq!(eval(&src, &at), one_by_one, "{src} at {at:?}");
        }
    }
    assert_eq!(derivative("2*max(x, y)*heaviside(y - x)", "x"), "0");
}

/// A ramp times a whole power of its own argument, or its argument times its step, is a
/// power of the ramp (`u*relu(u)` is `relu(u)^2`, `u*heaviside(u)` is `relu(u)`, and so
/// with `max(0, u)`): so the derivative of `x*relu(x)` is `2*relu(x)`, as `relu(x)^2`'s
/// is, under any name and shift. Each identity is also compared with its definition by
/// cases at points on both sides of the kink and at it.
#[test]
fn a_ramp_times_its_argument_is_a_power_of_the_ramp() {
    for (program, x, want) in [
        ("x*relu(x)", "x", "2*relu(x)"),
        ("q*relu(q)^2", "q", "3*relu(q)^2"),
        ("(t - 2)*relu(t - 2)", "t", "2*relu(t - 2)"),
        ("s*max(0, s)", "s", "2*max(0, s)"),
        ("max(0, u)^2/2", "u", "max(0, u)"),
    ] {
        assert_eq!(derivative(program, x), want, "{program}");
    }
    // A product of reciprocals is the reciprocal of the product, however it is built (the
    // property test's derivative of `1/(x*max(0, x))` printed `-1/(x^2*max(0, x)) - ...`,
    // which read back as a power of the ramp); with the signs mixed it stays apart.
    for (built, want) in [
        ("1/(x^2*max(0, x))", "1/max(0, x)^3"),
        ("x^-2/max(0, x)", "1/max(0, x)^3"),
        ("1/x/relu(x)^2", "1/relu(x)^3"),
        ("relu(x)^(-1/2)/x", "1/relu(x)^(3/2)"),
        ("x/relu(x)", "x/relu(x)"),
        ("relu(x)/x^2", "relu(x)/x^2"),
    ] {
        assert_eq!(deriv::parse(built).unwrap().to_string(), want, "{built}");
    }
    // Each is its definition where the ramp is positive and undefined where it is 0.
    let value = |src: &str, x: f64| {
        let env = [(Sym::new("x"), x)].into_iter().collect();
        deriv::eval::eval(&deriv::parse(src).unwrap(), &env).ok().filter(|v| v.is_finite())
    };
    for (product, power, kink) in
        [("1/(x^2*relu(x))", "x^-3", 0.0), ("relu(x - 1)^(-1/2)/(x - 1)", "(x - 1)^(-3/2)", 1.0)]
    {
        for at in [-2.5, -1.0, 0.0, 0.5, 1.0, 1.5, 3.0] {
            let want = if at > kink { value(power, at) } else { None };
            assert_eq!(value(product, at), want, "{product} at x = {at}");
        }
    }
    for (product, cases) in [
        ("x*relu(x)", "if(x > 0, x^2, 0)"),
        ("x*heaviside(x)", "if(x > 0, x, 0)"),
        ("(x - 1)^2*relu(x - 1)", "if(x > 1, (x - 1)^3, 0)"),
        ("x*max(0, x)^2", "if(x > 0, x^3, 0)"),
    ] {
        for at in [-2.5, -1.0, 0.0, 0.5, 1.0, 3.0] {
            let (a, b) = (eval(product, &[("x", at)]), eval(cases, &[("x", at)]));
            assert_eq!(a, b, "{product} at x = {at}");
        }
    }
}
