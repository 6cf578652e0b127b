//! Function definitions (`σ(z) = 1/(1 + e^-z)`, `f(a, b) = a*b + a`) in a program, in
//! `--let` and in a note: calls inlined without capture, derivatives written in terms of
//! the calls, each checked at random points against the function written out by hand.

use deriv::check::check_chain;
use deriv::defs::Problem;
use deriv::Sym;

use crate::support::{run, run_with_stdin};

/// `deriv diff --wrt x [--let L]... -- "DEFS; TARGET"`: what it prints, after checking it
/// (its calls inlined) at random points against the derivative of `by_hand`, the target
/// written out with no definitions.
#[track_caller]
fn diff_checked(lets: &[&str], defs: &str, target: &str, x: &str, by_hand: &str) -> String {
    let program = if defs.is_empty() { target.to_owned() } else { format!("{defs}; {target}") };
    let mut args = vec!["diff", "--wrt", x];
    for l in lets {
        args.extend(["--let", l]);
    }
    args.extend(["--", &program]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{program}: {}", r.stderr);
    let shown = r.stdout.trim().to_owned();
    let lets: Vec<String> = lets.iter().map(|l| l.to_string()).collect();
    let with_shown = if defs.is_empty() { shown.clone() } else { format!("{defs}; {shown}") };
    let claimed = Problem::load(&lets, &with_shown).unwrap_or_else(|e| panic!("{shown} does not read back: {e}"));
    let by_hand = deriv::parse(by_hand).unwrap();
    let report = check_chain(&[by_hand, claimed.inlined_target()], &Sym::new(x), 16, 7).unwrap();
    assert!(report.max_error < 1e-12 && report.points >= 16, "{program}: {shown}: {report:?}");
    shown
}

#[test]
fn a_call_is_an_output_like_a_defined_name() {
    let s = "σ(z) = 1/(1 + e^-z)";
    insta::assert_snapshot!(diff_checked(&[], s, "σ(2*x)", "x", "1/(1 + e^(-2*x))"), @"2*σ(2*x)*(1 - σ(2*x))");
    insta::assert_snapshot!(
        diff_checked(&[s], "", "σ(w*x + b)", "w", "1/(1 + e^(-w*x - b))"),
        @"x*σ(b + w*x)*(1 - σ(b + w*x))"
    );
    // A function of a function: the inner calls are outputs too.
    insta::assert_snapshot!(
        diff_checked(&[], &format!("{s}; h(a) = σ(a)^2"), "h(3*x)", "x", "1/(1 + e^(-3*x))^2"),
        @"6*σ(3*x)^2*(1 - σ(3*x))"
    );
    // A function last: the target is its call at its parameters.
    let last = run(&["diff", "--wrt", "z", s]);
    assert_eq!(last.stdout, format!("{}\n", diff_checked(&[s], "", "σ(z)", "z", "1/(1 + e^-z)")));
    insta::assert_snapshot!(last.stdout, @"σ(z)*(1 - σ(z))");
}

#[test]
fn several_parameters_and_lets() {
    insta::assert_snapshot!(diff_checked(&[], "f(a, b) = a*b + a", "f(x, x^2)", "x", "x^3 + x"), @"1 + 3*x^2");
    insta::assert_snapshot!(diff_checked(&["g(u) = u^2"], "", "g(sin(x))", "x", "sin(x)^2"), @"2*cos(x)*sin(x)");
    let lets = ["σ(z) = 1/(1 + e^-z)", "L(a, t) = (a - t)^2/2"];
    insta::assert_snapshot!(
        diff_checked(&lets, "", "L(σ(w*x), y)", "w", "(1/(1 + e^(-w*x)) - y)^2/2"),
        @"x*σ(w*x)*(1 - σ(w*x))*(σ(w*x) - y)"
    );
    // A call before the definition, as for names.
    assert_eq!(diff_checked(&[], "q = k(x) + 1; k(u) = u^3", "q", "x", "x^3 + 1"), "3*x^2");
}

#[test]
fn parameters_capture_nothing() {
    // Parameters named like the variables the arguments use.
    insta::assert_snapshot!(diff_checked(&[], "f(x, y) = x*y^2", "f(y, x)", "x", "y*x^2"), @"2*x*y");
    insta::assert_snapshot!(diff_checked(&[], "f(a) = a*x", "f(x^2)", "x", "x^3"), @"3*x^2");
    // A parameter named like a defined name stands for its argument, not for the name.
    insta::assert_snapshot!(diff_checked(&[], "p = x^2; f(p) = p + 1", "f(y)*p", "y", "(y + 1)*x^2"), @"p");
    // A summed index is renamed where an argument would be captured.
    let p = Problem::load(&[], "f(a) = sum(k, a*x[k]); f(k)").unwrap();
    let by_hand = Problem::load(&[], "sum(j, k*x[j])").unwrap();
    assert_eq!(p.inlined_target(), by_hand.inlined_target());
}

#[test]
fn mistakes_with_functions_are_errors_with_a_caret() {
    let mut all = String::new();
    for (lets, program) in [
        (&[][..], "f(a) = f(a) + 1; f(x)"),
        (&[], "f(a) = g(a); g(b) = f(b) + 1; f(x)"),
        (&[], "f(a, b) = a*b; f(x)"),
        (&[], "f(a, b) = a*b; f(x, y, z)"),
        (&["f(a, b) = a*b"], "f(x)"),
        (&[], "f(a, a) = a; f(x, y)"),
        (&[], "f(2) = 3; f(x)"),
        (&[], "f(pi) = 3; f(x)"),
        (&[], "f(a) = a^2; f + 1"),
        (&[], "f(a) = a^2; f'(x)"),
        (&[], "f(a) = a; f = 2; f(x)"),
        (&[], "f(a) = 1/a; f(0)"),
    ] {
        let mut args = vec!["diff", "--wrt", "x"];
        for l in lets {
            args.extend(["--let", l]);
        }
        args.extend(["--", program]);
        let r = run(&args);
        assert_eq!(r.code, 2, "{program}: {}", r.stdout);
        assert!(r.stderr.contains("= help: "), "{program}: {}", r.stderr);
        all.push_str(&format!("$ {}\n{}\n", args.join(" "), r.stderr));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn a_note_defines_and_uses_functions() {
    let src = "σ(z) = 1/(1 + e^-z)\ndiff σ(2*x) wrt x\n";
    let r = run_with_stdin(&["note", "-"], src.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\\sigma(z) = \\frac{1}{1 + e^{-z}}"), "{}", r.stdout);
    assert!(r.stdout.contains("2 \\sigma(2 x) \\left(1 - \\sigma(2 x)\\right)"), "{}", r.stdout);
}

/// A chain of 2,000 functions, each calling the one before: inlined and differentiated
/// (each function keeps a bounded list of the calls it makes, so the chain is not
/// quadratic); an exponential one gives up with the timeout's error, not a hang. (Its
/// two calls have different arguments at every level, so no merging of equal factors
/// keeps it small: `f(a)*f(a + 1)` merges to 200 powers, and a fast build finishes it.)
#[test]
fn long_chains_of_functions() {
    let n = 2000;
    let mut src = String::from("f0(a) = a^2\n");
    for i in 1..n {
        src.push_str(&format!("f{i}(a) = f{}(a) + a\n", i - 1));
    }
    src.push_str(&format!("f{}(x)", n - 1));
    let r = run(&["diff", "--wrt", "x", "--", &src]);
    assert_eq!((r.code, r.stdout.trim()), (0, format!("{} + 2*x", n - 1).as_str()), "{}", r.stderr);
    let mut src = String::from("f0(a) = a^2\n");
    for i in 1..200 {
        src.push_str(&format!("f{i}(a) = f{0}(a + 1)*f{0}(2*a)\n", i - 1));
    }
    src.push_str("f199(x)");
    let r = run(&["--timeout", "2", "diff", "--wrt", "x", "--", &src]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("gave up"), "{}", r.stderr);
}
