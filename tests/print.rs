//! The printers: text as a person writes it and parses back; LaTeX per LATEX.md.

use deriv::print::latex::to_latex;
fn text(src: &str) -> String {
    deriv::parse(src).unwrap().to_string()
}

fn latex(src: &str) -> String {
    deriv::print::latex::to_latex(&deriv::parse(src).unwrap())
}

#[test]
fn text_forms() {
    let cases = [
        ("x^2", "x^2"),
        ("-x^2", "-x^2"),
        ("(-x)^2", "x^2"),
        ("a - b", "a - b"),
        ("-t + g(z)", "g(z) - t"),
        ("a/b", "a/b"),
        ("a/(b*c)", "a/(b*c)"),
        ("(a+b)/(c+d)", "(a + b)/(c + d)"),
        ("x^(1/2)", "sqrt(x)"),
        ("1/sqrt(x)", "1/sqrt(x)"),
        ("x^(-1/2)*y", "y/sqrt(x)"),
        ("e^(-z)", "e^-z"),
        ("exp(-x^2/2)", "e^(-x^2/2)"),
        ("e^1", "e"),
        ("x^(n-1)", "x^(n - 1)"),
        ("2^3^2", "512"),
        ("0.044715*x", "0.044715*x"),
        ("x/2", "x/2"),
        ("-x/2", "-x/2"),
        ("3/4", "3/4"),
        ("(1/2)^x", "(1/2)^x"),
        ("(x^2)^y", "(x^2)^y"),
        ("g''(z)", "g''(z)"),
        ("f'[2,1](x,y)", "f'[1,2](x, y)"),
        ("log(x)", "ln(x)"),
        ("x*x*x", "x^3"),
        ("x + x", "2*x"),
        // A number times a sum is distributed, and printed with the sum's content taken
        // out where that leaves no coefficient inside.
        ("2*(x+1)", "2*(1 + x)"),
        ("3 - 3*y^2", "3*(1 - y^2)"),
        ("2*a - 2*b*c", "2*(a - b*c)"),
        ("-5*u - 5", "-5*(1 + u)"),
        ("sin(6*t - 6)", "sin(6*t - 6)"),
        ("4*x^2 - 2*x", "4*x^2 - 2*x"),
        ("4*x + 6*y", "4*x + 6*y"),
        // A fraction is taken out where its bar replaces more than it adds: over two
        // terms, or one beside a fractional number; not over one beside an integer.
        ("x/2 + y/2", "(x + y)/2"),
        ("1/2 - y^2/2", "(1 - y^2)/2"),
        ("-1/2 - y^2/2", "-(1 + y^2)/2"),
        ("3/4 - 3*y^2/4", "3*(1 - y^2)/4"),
        ("0.25*a + 0.25*b", "(a + b)/4"),
        ("0.044715*a + 0.044715*b", "0.044715*(a + b)"),
        ("x/2 - 1", "x/2 - 1"),
        ("x + 1/2", "1/2 + x"),
        ("x + x^3/2", "x + x^3/2"),
        // Only some terms sharing a fraction: those over it, first, beside the rest.
        ("x/2 + y/2 + z", "(x + y)/2 + z"),
        ("z - x/2 - y/2", "z - (x + y)/2"),
        ("-x/2 - y/2 - z", "-(x + y)/2 - z"),
        ("x/3 + y/2 + z/2 + 1", "(y + z)/2 + 1 + x/3"),
        ("x/2 + 1/2 + y^2", "(1 + x)/2 + y^2"),
        // Whole numbers stay outside the bar, as they do beside a group.
        ("x/2 + y/2 + 1", "(x + y)/2 + 1"),
        ("3*x/2 + 3*y/2 - 3", "3*(x + y)/2 - 3"),
        ("x/2 + y^2 - 1", "x/2 - 1 + y^2"),
        // A minus before a lone sum of positive terms over a bar; elsewhere around the
        // whole, so that it reads back as the same product.
        ("-(a+b)/c", "-(a + b)/c"),
        ("-(x*sin(x) + cos(x))/x^2", "-(x*sin(x) + cos(x))/x^2"),
        ("-(a - b)/c", "(b - a)/c"),
        ("-(a+b)*(c+d)/w", "-((a + b)*(c + d)/w)"),
        ("x^0 + y^1 + 0*z", "1 + y"),
        ("x2 + x10 + x1", "x1 + x2 + x10"),
    ];
    for (input, want) in cases {
        assert_eq!(text(input), want, "{input}");
        assert_eq!(text(want), want, "{want} does not print back as itself");
    }
}

#[test]
fn latex_forms() {
    let cases = [
        "e^z/(1+e^z)^2",
        "1 - tanh(x)^2",
        "1/cosh(x)^2",
        "sigmoid(z)*(1 - sigmoid(z))",
        "g'(x^2)*2*x",
        "g'''(z) + g''''(z)",
        "f'[1,1,2](x, y)",
        "w_jk + w_j_k + x1 + t_k + alpha + sigma + theta_1",
        "sin(1/x)",
        "2*3^x",
        "x^2/2",
        "exp(-x^2/2)",
        "e^(-z)",
        "abs(x) + sign(x) + asinh(x) + erf(x) + softplus(x)",
        "sqrt(2/pi)",
        "1e400",
        "(g(z) - t)*g'(z)*x1",
        "3 - 3*y^2",
        "-5*u - 5",
        "1/2 - tanh(x)^2/2",
        "-3/4 - 3*y^2/4",
        "1/2 + x*e^(-x^2/2)/sqrt(2*pi) + erf(x/sqrt(2))/2",
    ];
    let out: Vec<String> = cases.iter().map(|c| format!("{c}\n    {}", latex(c))).collect();
    for l in &out {
        assert!(l.is_ascii(), "{l}");
    }
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn greek_input_prints_as_commands() {
    assert_eq!(latex("\u{3c3}(z)*(1 - \u{3c3}(z))"), latex("sigma(z)*(1 - sigma(z))"));
    assert_eq!(latex("\u{3b1}"), r"\alpha");
}

/// A derivative whose terms share a fraction is written over it, where that takes fewer
/// operations (`(1 - tanh(x/2)^2)/2`, not `1/2 - tanh(x/2)^2/2`), whatever the names and
/// the scale; a single term beside an integer keeps its own bar. Each checked by `--check`.
#[test]
fn fractional_content_taken_out_of_a_result() {
    let cases: [(&str, &str, &str); 8] = [
        ("tanh(x/2)", "x", "(1 - tanh(x/2)^2)/2"),
        ("tanh(q/3)", "q", "(1 - tanh(q/3)^2)/3"),
        ("3*tanh(u/4)", "u", "3*(1 - tanh(u/4)^2)/4"),
        ("1/(1 + e^(-2*s)) + s", "s", "(3 - tanh(s)^2)/2"),
        ("(a^2 + a)/2", "a", "1/2 + a"),
        ("x^2/4 + x/2 + y^2/2", "y", "y"),
        ("x/2*(1 + erf(x/sqrt(2)))", "x", "(1 + erf(x/sqrt(2)))/2 + x*e^(-x^2/2)/sqrt(2*pi)"),
        ("w*(1 + erf(w/sqrt(2)))/2", "w", "(1 + erf(w/sqrt(2)))/2 + w*e^(-w^2/2)/sqrt(2*pi)"),
    ];
    crate::support::assert_diff_prints(&cases);
}

/// A derivative whose terms share an integer content is written with it taken out (no
/// more operations, tie to the factored form), in the names as in the inputs; forms
/// without such a content keep theirs. Every derivative checked by `--check`.
#[test]
fn integer_content_taken_out_of_a_result() {
    let cases: [&[&str]; 8] = [
        &["diff", "y = tanh(3*x); y", "--wrt", "x"],
        &["diff", "q = tanh(5*t); q", "--wrt", "t"],
        &["diff", "(w + 4)^2", "--wrt", "w"],
        &["diff", "v^3 - 6*v", "--wrt", "v"],
        &["diff", "2*sinh(k) - 2*k", "--wrt", "k"],
        &["diff", "p = sigmoid(z); p", "--wrt", "z"],
        &["diff", "tanh(x)", "--wrt", "x"],
        &["diff", "x^4 - 2*x^2", "--wrt", "x"],
    ];
    let out: Vec<String> = cases
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().copied().chain(["--check"]).collect();
            let r = crate::support::run(&args);
            assert!(r.stderr.contains("check: passed"), "{args:?}: {}", r.stderr);
            format!("{} by {} = {}", args[1], args[3], r.stdout.trim_end())
        })
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// A name as a user may write it: ASCII letters with digits, underscores, a Greek name
/// spelled out or as a letter, or an element of an indexed variable.
fn a_name() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let greek = prop::sample::select(vec!["alpha", "beta", "sigma", "pi", "theta", "Delta", "omega", "mu"]);
    let letter = prop::sample::select(vec!["α", "β", "σ", "π", "θ", "Δ", "ω", "µ", "μ", "ϕ", "φ"]);
    let tail = "(_?[a-z0-9]{1,2}){0,2}";
    prop_oneof![
        "[a-zA-Z][a-z]{0,2}[0-9]{0,2}",
        "[a-z]{1,2}(_[a-z0-9]{1,2}){1,2}",
        (greek, tail).prop_map(|(g, t)| format!("{g}{t}")),
        (letter, tail).prop_map(|(g, t)| format!("{g}{t}")),
        ("[a-z]{1,2}", "[0-9]{1,2}|[a-z]", proptest::option::of("[0-9]")).prop_map(|(b, i, j)| match j {
            Some(j) => format!("{b}[{i},{j}]"),
            None => format!("{b}[{i}]"),
        }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(500),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::SourceParallel("proptest-regressions"),
        )),
        source_file: Some(file!()),
        ..proptest::test_runner::Config::default()
    })]

    /// Distinct names print distinctly in LaTeX, wherever they meet: in one expression
    /// (as variables, or as functions), and alone.
    #[test]
    fn distinct_names_print_distinctly(a in a_name(), b in a_name()) {
        let (Ok(x), Ok(y)) = (deriv::parse(&a), deriv::parse(&b)) else { return Ok(()) };
        // Names only: a constant (pi, π, e) or a built-in is no name.
        let is_name = |e: &deriv::Expr| matches!(e.node(), deriv::expr::Node::Var(_) | deriv::expr::Node::Call(deriv::expr::Func::Indexed(_), _));
        proptest::prop_assume!(is_name(&x) && is_name(&y) && x != y);
        let both = deriv::parse(&format!("{a} + 2*{b}")).unwrap();
        let atoms = to_latex_atoms(&both);
        let (la, lb) = (&atoms[&x.to_string()], &atoms[&y.to_string()]);
        proptest::prop_assert_ne!(la, lb, "{} and {} print alike", a, b);
        let whole = to_latex(&both);
        proptest::prop_assert!(whole.contains(la.as_str()) && whole.contains(lb.as_str()), "{}", whole);
        proptest::prop_assert!(whole.is_ascii());
        // As functions too, where both are plain names.
        if let (deriv::expr::Node::Var(_), deriv::expr::Node::Var(_)) = (x.node(), y.node()) {
            let calls = deriv::parse(&format!("{a}(t) + {b}(t)^2")).unwrap();
            let atoms = to_latex_atoms(&calls);
            proptest::prop_assert_ne!(&atoms[&a], &atoms[&b]);
        }
    }
}

fn to_latex_atoms(e: &deriv::Expr) -> std::collections::HashMap<String, String> {
    deriv::print::latex::atoms(e).into_iter().collect()
}

/// The spellings that used to collide, side by side: one keeps the plain form.
#[test]
fn names_that_print_alike_are_told_apart() {
    let e = deriv::parse("π + pi + alpha + α + x_1 + x1 + x12 + x[12] + w_j_k*w[j,k]").unwrap();
    insta::assert_snapshot!(to_latex(&e), @r"2 \pi + \mathtt{alpha} + \mathtt{w\_j\_k} w_{j,k} + x_{1} + \mathtt{x12} + \mathtt{x\_1} + \alpha + x_{12}");
    // Alone, each keeps the plain form.
    for (n, plain) in [("alpha", "\\alpha"), ("α", "\\alpha"), ("x_1", "x_{1}"), ("x12", "x_{12}")] {
        assert_eq!(to_latex(&deriv::parse(n).unwrap()), plain);
    }
}

/// A polynomial in one variable whose lowest term is negative and highest positive reads
/// from the highest power down, under any name; others keep the first positive term in
/// front. Each reads back as the same expression.
#[test]
fn polynomials_in_one_variable_read_from_the_highest_power() {
    let cases = [
        ("-1 - 9*x + 8*x^2", "8*x^2 - 9*x - 1"),
        ("-8 + 30*s + 13*s^2", "13*s^2 + 30*s - 8"),
        ("-1 - 2*u + u^3", "u^3 - 2*u - 1"),
        ("x^2 - 1", "x^2 - 1"),
        ("1 - x^2", "1 - x^2"),
        ("-1 + 2*x - x^2", "2*x - 1 - x^2"),
        ("-t + a*x + x^2", "a*x - t + x^2"),
    ];
    for (src, want) in cases {
        assert_eq!(text(src), want, "{src}");
        assert_eq!(deriv::parse(want).unwrap(), deriv::parse(src).unwrap(), "{want} reads back");
    }
    assert_eq!(latex("-8 + 30*s + 13*s^2"), "13 s^{2} + 30 s - 8");
}
