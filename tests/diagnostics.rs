//! Error messages for the common mistakes, in rustc's layout: every one names the
//! problem, echoes the input line (control and direction-changing characters escaped),
//! draws a caret under the column and ends with a `help:` line.

use crate::support::run;

const MISTAKES: &[&str] = &[
    "2**3",
    "2x",
    "sin x",
    "(x+1)(x-1)",
    "x y",
    "(x+1",
    "x+1)",
    "()",
    "x+",
    "x^^2",
    "*x",
    "x,y",
    "1.2.3",
    "1e",
    "0x1F",
    "|x|",
    "x!",
    "x % 2",
    "sin(x,y)",
    "sin()",
    "log(x, 2, 3)",
    "e(x)",
    "sin",
    "x'",
    "p = x = y",
    "e = 2; e^x",
    "p = q; q = p; p",
    "1/0",
    "1/(x - x)",
    "0^-1",
    "x \u{2212} 1",
    "x\u{200B}+1",
    "x\u{202E}+1",
    "x\u{1b}[31m+1",
    "x +\t)",
    "\u{3c3} + )",
    "d/dx(x^2)",
    "d/dx x^2",
    "d^2/dx^2(sin(x))",
    "2*d/dtheta(sin(theta))",
    "sin(x)cos(x)",
    "cos^2(x)",
    "sin^-1(x)",
    "sech^-1(x + 1)",
    "z = sin(y); x[z]",
    "f(j) = x[j]^2; f(y + 1)",
];

#[test]
fn common_mistakes_get_a_caret_and_help() {
    let mut all = String::new();
    for m in MISTAKES {
        let r = run(&["parse", "--", m]);
        assert_eq!(r.code, 2, "{m:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.starts_with("error: "), "{m:?}: {}", r.stderr);
        assert!(
            r.stderr.lines().any(|l| l.trim_start().starts_with("| ") && l.contains('^')),
            "no caret: {}",
            r.stderr
        );
        assert!(r.stderr.contains("\n  = help: "), "{m:?} has no help line: {}", r.stderr);
        assert!(!r.stderr.chars().any(|c| c.is_control() && c != '\n' || ('\u{202A}'..='\u{202E}').contains(&c)));
        all.push_str(&r.stderr);
        all.push('\n');
    }
    insta::assert_snapshot!(all);
}

#[test]
fn typos_of_builtins_are_warnings_with_a_suggestion() {
    let r = run(&["diff", "--wrt", "x", "tahn(x)^2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stderr, @r"
    warning: `tahn` is not a built-in function, so deriv takes it as an abstract function
     --> line 1, column 1
      |
    1 | tahn(x)^2
      | ^^^^
      = help: did you mean `tanh`? To keep `tahn`, define it: tahn(u) = ...
    ");
}

/// Names that read as abstract functions but are meant as built-ins get a warning with
/// the built-in; names that merely look alike (`atan2`, `exp2`), defined functions and
/// short names get none. `log(x, 2)`, SymPy's order, is read as deriv's and warned about.
#[test]
fn near_misses_and_the_log_base_are_warnings() {
    let mut all = String::new();
    for (input, warned) in [
        ("ReLU(x)", true),
        ("Max(x, y)", true),
        ("LOG10(x)", true),
        ("\u{3c3}(x)", true),
        ("Tanh(x) + sigmod(x)", true),
        ("atan2(y, x)", false),
        ("exp2(x)", false),
        ("f(x) + g(x, y)", false),
        ("sigmod(z) = 1/(1 + e^-z); sigmod(x)", false),
        ("log(x, 2)", true),
        ("log(x^2 + 1, 10)*log(y, 7)", true),
        ("log(2, x) + log(10, 100) + log(x)", false),
    ] {
        let r = run(&["simplify", "--", input]);
        assert_eq!(r.code, 0, "{input}: {}", r.stderr);
        assert_eq!(r.stderr.contains("warning: "), warned, "{input}: {}", r.stderr);
        all.push_str(&format!("$ deriv simplify '{input}'\n{}{}\n", r.stderr, r.stdout));
    }
    insta::assert_snapshot!(all);
}

/// The target is the last statement, whatever the order of the definitions: where it is
/// a name another definition uses (definitions written top down, the loss first), the
/// derivative is still of it, with a warning that names the definition nobody uses.
#[test]
fn a_last_statement_that_others_use_is_warned_about() {
    let mut all = String::new();
    for (input, wrt, warned) in [
        ("L = (y - t)^2/2; y = sigmoid(a); a = w*x", "w", true),
        ("loss = (out - t)^2\nout = tanh(v*hid)\nhid = tanh(w*x)", "w", true),
        ("p = q^2; r = q^3; q = sin(x)", "x", true),
        ("a = w*x; y = sigmoid(a); L = (y - t)^2/2", "w", false),
        ("p = 1/(1 + e^-z); q = 2*p", "z", false),
        ("y = tanh(h); h = w*x; y", "w", false),
    ] {
        let r = run(&["diff", "--wrt", wrt, input]);
        assert_eq!(r.code, 0, "{input}: {}", r.stderr);
        assert_eq!(r.stderr.contains("warning: "), warned, "{input}: {}", r.stderr);
        all.push_str(&format!("$ deriv diff --wrt {wrt} '{input}'\n{}{}\n", r.stderr, r.stdout));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn steps_show_what_a_cancellation_assumes() {
    let r = run(&["diff", "--wrt", "x", "--steps", "(1 + x)/(1 + x)*sin(x)"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @r"
    d/dx sin(x)
      = cos(x)    # derivative of sin
      where 1 + x ≠ 0    # cancelled: (1 + x)/(1 + x) = 1
    ");
}

/// Errors say where they are (line and column) and whether the text failed to read (a
/// syntax error) or the request failed on well-formed text: what the Python package
/// turns into `ParseError` and `DerivError`.
#[test]
fn errors_know_their_line_and_whether_they_are_syntax() {
    let load = |src: &str| deriv::Problem::load(&[], src).err().unwrap_or_else(|| panic!("{src} loaded"));
    let e = load("x**2");
    assert!(e.kind().is_syntax(), "{e}");
    assert_eq!((e.line(), e.column()), (Some(1), Some(2)));
    let e = load("p = e^z;\nq = (p + 1;\nq");
    assert!(e.kind().is_syntax(), "{e}");
    assert_eq!(e.line(), Some(2));
    let e = load("foo bar");
    assert!(e.kind().is_syntax(), "{e}");
    // Well-formed, but a defined name is no variable to differentiate by.
    let e = deriv::derivative("p = x^2; p", "p").expect_err("p is defined");
    assert!(!e.kind().is_syntax(), "{e}");
}
