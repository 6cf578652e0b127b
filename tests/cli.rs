//! The command line, in-process: outputs, formats, and errors with their carets.

use crate::support::{numeric, run, run_with_stdin, transcript};

#[test]
fn diff_prints_one_line() {
    insta::assert_snapshot!(transcript(&["diff", "e^z/(1+e^z)", "--wrt", "z"]));
}

#[test]
fn diff_check_reports_the_error() {
    let r = run(&["diff", "e^z/(1+e^z)", "--wrt", "z", "--check"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), 1);
    let err: f64 = r.stderr.split("max error ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(err < 1e-12, "{}", r.stderr);
}

#[test]
fn diff_without_wrt_uses_the_only_variable() {
    let r = run(&["diff", "sin(x)^2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "2*cos(x)*sin(x)\n"));
}

#[test]
fn diff_of_a_definition_differentiates_its_body() {
    insta::assert_snapshot!(transcript(&["diff", "p = 1/(1+e^-z)", "--wrt", "z"]));
}

#[test]
fn diff_with_lets() {
    insta::assert_snapshot!(transcript(&[
        "diff",
        "E",
        "--let",
        "z=x1*w11 + x2*w21",
        "--let",
        "E=1/2*(g(z)-t)^2",
        "--wrt",
        "w11"
    ]));
}

#[test]
fn diff_order() {
    insta::assert_snapshot!(transcript(&["diff", "g(z)^2/2", "--wrt", "z", "--order", "2"]));
    let r = run(&["diff", "x", "--wrt", "x", "--order", "100000000"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"));
}

#[test]
fn diff_formats() {
    insta::assert_snapshot!(transcript(&["diff", "sinh(x)/cosh(x)", "--wrt", "x", "--format", "latex"]));
    let r = run(&["diff", "sigmoid(z)", "--wrt", "z", "--format", "json", "--check"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["variable"], "z");
    assert_eq!(v["derivative"]["text"], "sigmoid(z)*(1 - sigmoid(z))");
    assert!(v["check"]["max_error"].as_f64().unwrap() < 1e-12);
    insta::assert_snapshot!(transcript(&["diff", "x^2*y", "--wrt", "x", "--format", "json"]));
}

#[test]
fn grad_prints_one_line_per_variable() {
    insta::assert_snapshot!(transcript(&["grad", "1/2*(tanh(x1*w1 + x2*w2) - t)^2", "--wrt", "w1,w2,t", "--check"]));
}

#[test]
fn eval_parse_latex() {
    insta::assert_snapshot!(transcript(&["eval", "sigmoid(z) + x^2", "--at", "z=0,x=pi"]));
    insta::assert_snapshot!(transcript(&["parse", "x*x + x + x + 2*(y + 1) - 2*y"]));
    insta::assert_snapshot!(transcript(&["latex", "e^z/(1+e^z)^2"]));
}

#[test]
fn form_raw_is_the_plain_derivative() {
    // No search: the differentiator's canonical output, checked like any other.
    let r = run(&["diff", "e^z/(1+e^z)", "--form", "raw", "--check"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "e^z/(1 + e^z) - e^(2*z)/(1 + e^z)^2\n"), "{}", r.stderr);
    let r = run(&["diff", "p = e^z/(1+e^z); p", "--form", "raw", "--order", "2", "--check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains('p'), "raw is in the inputs: {}", r.stdout);
    for cmd in [&["grad", "tanh(w*x + b)", "--wrt", "w,b"][..], &["hessian", "x^2*y^3", "--wrt", "x,y"][..]] {
        let mut argv = cmd.to_vec();
        argv.extend(["--form", "raw"]);
        let r = run(&argv);
        assert_eq!(r.code, 0, "{cmd:?}: {}", r.stderr);
    }
}

#[test]
fn eval_of_log_sigmoids_far_out() {
    // ln of a sigmoid is a softplus, however the sigmoid is written: finite where the
    // sigmoid itself underflows.
    for (f, at, want) in [
        ("ln(sigmoid(x))", "x=-800", "-800"),
        ("ln(1/(1 + e^-x))", "x=-800", "-800"),
        ("ln(1 - sigmoid(x))", "x=800", "-800"),
        ("p = 1/(1 + e^-z); -(t*ln(p) + (1 - t)*ln(1 - p))", "z=800,t=0.25", "600"),
        ("0 - ln(e^a/(e^a + e^b))", "a=-1000,b=0", "1000"),
    ] {
        let r = run(&["eval", f, "--at", at]);
        assert_eq!((r.code, r.stdout.trim()), (0, want), "{f} at {at}: {}", r.stderr);
    }
}

#[test]
fn eval_at_many_points() {
    // One value per point, as eval gives it at each; not finite where it is not.
    let table = b"z,t\n0,0.5\n3,0.25\n\n-2.5,1\n1e-300,0\n";
    let bce = "p = 1/(1 + e^-z); -(t*ln(p) + (1 - t)*ln(1 - p))";
    let r = run_with_stdin(&["eval", bce, "--points", "-"], table);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got: Vec<f64> = r.stdout.lines().map(|l| l.parse().unwrap()).collect();
    let one = |at: &str| run(&["eval", bce, "--at", at]).stdout.trim().parse::<f64>().unwrap();
    let want = [one("z=0,t=0.5"), one("z=3,t=0.25"), one("z=-2.5,t=1"), one("z=1e-300,t=0")];
    assert_eq!(got, want);
    let r = run_with_stdin(&["eval", "ln(x)", "--points", "-"], b"x\n-1\n0\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "NaN\n-inf\n"));
    // A bad line names its line; a missing column is the usual missing value.
    let r = run_with_stdin(&["eval", "x", "--points", "-"], b"x\n1\n2,3\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("line 3 of the points: 2 values for 1 variables"), "{}", r.stderr);
    let r = run_with_stdin(&["eval", "x + y", "--points", "-"], b"x\n1\n");
    assert!(r.code == 2 && r.stderr.contains("no value for `y`"), "{}", r.stderr);
}

#[test]
fn stdin_and_files() {
    let r = run_with_stdin(&["diff", "-", "--wrt", "x"], b"y = x^3\n# a comment\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "3*x^2\n"));
    let dir = std::env::temp_dir().join(format!("deriv-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("defs.deriv");
    std::fs::write(&file, "z = x1*w1 + x2*w2\nE = (g(z) - t)^2/2\n").unwrap();
    let r = run(&["diff", "--file", file.to_str().unwrap(), "--wrt", "w2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r2 = run(&["diff", "E", "--file", file.to_str().unwrap(), "--wrt", "w2"]);
    assert_eq!(r.stdout, r2.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expressions_starting_with_minus_after_double_dash() {
    let r = run(&["diff", "--wrt", "x", "--", "-ln(1+e^-x)"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "1 - sigmoid(x)\n");
}

#[test]
fn errors_have_a_caret_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["diff", "x +* 2", "--wrt", "x"],
        &["diff", "2x", "--wrt", "x"],
        &["diff", "sin x"],
        &["diff", "(x+1", "--wrt", "x"],
        &["diff", "2**3"],
        &["diff", "sin(x, y)"],
        &["diff", "p = q; q = p; p", "--wrt", "x"],
        &["diff", "e^x", "--let", "e=2", "--wrt", "x"],
        &["diff", "x^2", "--wrt", "2"],
        &["diff", "p", "--let", "p=x^2", "--wrt", "p"],
        &["diff", "x*y"],
        &["diff", "x +\t)", "--wrt", "x"],
        &["diff", "x\u{202E}+1", "--wrt", "x"],
        &["eval", "x", "--at", "x=1,x=2"],
        &["eval", "1/x", "--at", "x=0"],
        &["eval", "g(x)", "--at", "x=0"],
    ];
    let mut out = String::new();
    for args in cases {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} printed {}", r.stdout);
        assert!(!r.stderr.contains('\u{202E}'), "raw bidi override echoed");
        out.push_str(&transcript(args));
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

#[test]
fn usage_errors_exit_2() {
    let r = run(&["diff", "x", "--order", "-1"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    let r = run(&["frobnicate"]);
    assert_eq!(r.code, 2);
}

#[test]
fn a_typo_of_a_builtin_warns() {
    let r = run(&["diff", "tnah(x)", "--wrt", "x"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "tnah'(x)\n");
    assert!(r.stderr.contains("did you mean `tanh`"), "{}", r.stderr);
}

#[test]
fn deep_nesting_gives_an_answer_or_a_clear_error() {
    for n in [1_000, 10_000] {
        let parens = format!("{}x{}", "(".repeat(n), ")".repeat(n));
        let r = run(&["diff", &parens, "--wrt", "x"]);
        assert!(r.code == 0 && r.stdout == "1\n" || r.code == 2 && r.stderr.contains("nesting too deep"), "{n}");
        let minus = format!("{}x", "-".repeat(n));
        let r = run(&["parse", "--", &minus]);
        assert!(r.code == 0 && r.stdout == "x\n" || r.code == 2 && r.stderr.contains("nesting too deep"), "{n}");
    }
    let unclosed = "(".repeat(100_000);
    let r = run(&["parse", &unclosed]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("expected `)`"), "{}", r.stderr);
}

/// The binary itself, once: a real process, real exit code.
#[test]
fn the_binary_runs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deriv"))
        .args(["diff", "e^z/(1+e^z)", "--wrt", "z", "--check"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sigmoid(z)*(1 - sigmoid(z))\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deriv")).args(["diff", "x +* 2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn forms_and_the_simplify_command() {
    insta::assert_snapshot!(transcript(&["diff", "p = e^z/(1+e^z)", "--wrt", "z", "--check"]));
    insta::assert_snapshot!(transcript(&["diff", "p = e^z/(1+e^z)", "--wrt", "z", "--form", "input"]));
    insta::assert_snapshot!(transcript(&[
        "diff",
        "p = e^z/(1+e^z)",
        "--wrt",
        "z",
        "--form",
        "auto",
        "--format",
        "latex"
    ]));
    insta::assert_snapshot!(transcript(&["simplify", "sinh(x)/cosh(x) + e^z/(1+e^z)"]));
    insta::assert_snapshot!(transcript(&["simplify", "e^z/(1+e^z)^2", "--let", "p=1/(1+e^-z)"]));
    insta::assert_snapshot!(transcript(&[
        "grad",
        "E",
        "--let",
        "z=x1*w1 + x2*w2",
        "--let",
        "E=(g(z)-t)^2/2",
        "--wrt",
        "w1,w2"
    ]));
}

#[test]
fn sigmoid_derivative_stays_finite_where_naive_forms_overflow() {
    // p*(1 - p) at z = 800 is 0; e^z/(1 + e^z)^2 is inf/inf there.
    let r = run(&["diff", "p = e^z/(1+e^z)", "--wrt", "z"]);
    let shown = r.stdout.trim().to_owned();
    let v = run(&["eval", &shown, "--let", "p=sigmoid(z)", "--at", "z=800"]);
    assert_eq!((v.code, v.stdout.as_str()), (0, "0\n"), "{}", v.stderr);
}

/// The softmax of three inputs, as `--let` definitions.
const SOFTMAX3: [&str; 3] =
    ["p1 = e^z1/(e^z1 + e^z2 + e^z3)", "p2 = e^z2/(e^z1 + e^z2 + e^z3)", "p3 = e^z3/(e^z1 + e^z2 + e^z3)"];

/// The cross-entropy through [`SOFTMAX3`].
const CROSS_ENTROPY3: &str = "L = -(t1*ln(p1) + t2*ln(p2) + t3*ln(p3))";

/// Points for the softmax examples where `t1 + t2 + t3 = 1` holds.
fn softmax_points(n: usize) -> Vec<deriv::eval::Env> {
    softmax_points_where(n, true)
}

/// Points for the softmax examples, where `t1 + t2 + t3 = 1` holds if `normalised`.
fn softmax_points_where(n: usize, normalised: bool) -> Vec<deriv::eval::Env> {
    let mut rng = deriv::check::Rng::new(if normalised { 7 } else { 11 });
    (0..n)
        .map(|_| {
            let mut env = deriv::eval::Env::new();
            for z in ["z1", "z2", "z3"] {
                env.insert(deriv::Sym::new(z), rng.uniform(-2.0, 2.0));
            }
            let (t1, t2) = (rng.uniform(0.0, 0.5), rng.uniform(0.0, 0.5));
            let t3 = if normalised { 1.0 - t1 - t2 } else { rng.uniform(-1.0, 1.0) };
            for (t, v) in [("t1", t1), ("t2", t2), ("t3", t3)] {
                env.insert(deriv::Sym::new(t), v);
            }
            env
        })
        .collect()
}

/// `deriv ARGS` followed by `--let` for each of `lets`.
fn with_lets<'a>(args: &[&'a str], lets: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    for l in lets {
        v.extend(["--let", l]);
    }
    v
}

#[test]
fn assume_with_plain_variables() {
    insta::assert_snapshot!(transcript(&["diff", "(a + b)*x^2", "--wrt", "x", "--assume", "a + b = 1", "--check"]));
    let args =
        with_lets(&["grad", CROSS_ENTROPY3, "--wrt", "z3", "--assume", "t1 + t2 + t3 = 1", "--check"], &SOFTMAX3);
    insta::assert_snapshot!(transcript(&args));
    // What is shown equals the derivative where the fact holds.
    let mut diff = args.clone();
    diff[0] = "diff";
    for args in [args, diff] {
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        for env in softmax_points(8) {
            let (got, want) = (
                numeric::value(&SOFTMAX3, r.stdout.trim(), &env),
                numeric::slope(&SOFTMAX3, CROSS_ENTROPY3, "z3", &env),
            );
            assert!((got - want).abs() < 1e-12, "{args:?}: {got} vs {want}");
        }
    }
    // --steps shows no use of facts: it says so rather than leave one out.
    let r = run(&["diff", "(a + b)*x^2", "--wrt", "x", "--assume", "a + b = 1", "--steps"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--steps does not use --assume"), "{}", r.stderr);
}

#[test]
fn assume_takes_an_equation() {
    let mut out = String::new();
    for fact in ["a + b", "a + b = 1 +", "a +* b = 1"] {
        let r = run(&["grad", "(a + b)*x^2", "--wrt", "x", "--assume", fact]);
        assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{fact}");
        out.push_str(&transcript(&["grad", "(a + b)*x^2", "--wrt", "x", "--assume", fact]));
    }
    insta::assert_snapshot!(out);
}

/// The entries of a `jacobian` or `hessian` run with `--format json`.
fn matrix_entries(args: &[&str]) -> Vec<Vec<String>> {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v["text"].as_array().unwrap();
    rows.iter().map(|r| r.as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect()).collect()
}

/// Whether every entry, evaluated with `lets`, is within `tol` of `want(i, j, point)`.
#[track_caller]
fn entries_agree(
    m: &[Vec<String>],
    lets: &[&str],
    points: &[deriv::eval::Env],
    want: impl Fn(usize, usize, &deriv::eval::Env) -> f64,
    tol: f64,
) {
    for env in points {
        for (i, row) in m.iter().enumerate() {
            for (j, e) in row.iter().enumerate() {
                let (got, want) = (numeric::value(lets, e, env), want(i, j, env));
                assert!((got - want).abs() < tol * want.abs().max(1.0), "[{i}][{j}] = {e}: {got} vs {want}");
            }
        }
    }
}

/// A Hessian prints symmetric: each entry below the diagonal is the one above it,
/// spelled alike (the log-sum-exp's were `sigmoid(a - b)` above and `sigmoid(b - a)`
/// below), under any names and sizes, and every entry passes `--check`.
#[test]
fn a_hessian_prints_symmetric() {
    let cases: [(&str, &str); 4] = [
        ("ln(e^a + e^b)", "a,b"),
        ("ln(e^u + e^v + e^w)", "u,v,w"),
        ("x^2*y^3 + sin(x*y)", "x,y"),
        ("sigmoid(p*q + r)", "r,q,p"),
    ];
    for (f, wrt) in cases {
        let m = matrix_entries(&["hessian", f, "--wrt", wrt]);
        for (i, row) in m.iter().enumerate() {
            for (j, e) in row.iter().enumerate() {
                assert_eq!(e, &m[j][i], "{f}: [{i}][{j}] against [{j}][{i}]");
            }
        }
        let r = run(&["hessian", f, "--wrt", wrt, "--check"]);
        assert_eq!(r.code, 0, "{f}: {}", r.stderr);
        assert!(!r.stderr.contains("failed"), "{f}: {}", r.stderr);
    }
}

/// The example: the Hessian of the cross-entropy through a softmax by its
/// inputs is `p_i*(1 - p_i)` on the diagonal and `-p_i*p_j` off it, given that the
/// targets sum to 1.
#[test]
fn hessian_of_the_softmax_cross_entropy() {
    let z = ["z1", "z2", "z3"];
    let hessian = |args: &[&'static str]| {
        let mut v = with_lets(&["hessian", CROSS_ENTROPY3, "--wrt", "z1,z2,z3"], &SOFTMAX3);
        v.extend(args);
        v
    };
    let assumed = hessian(&["--assume", "t1 + t2 + t3 = 1", "--check"]);
    let shown = transcript(&assumed);
    insta::assert_snapshot!(shown);
    // Shown entries may use L itself, as `diff --order 2` does.
    let mut names = SOFTMAX3.to_vec();
    names.push(CROSS_ENTROPY3);
    let want =
        |i: usize, j: usize, env: &deriv::eval::Env| numeric::curvature(&SOFTMAX3, CROSS_ENTROPY3, z[i], z[j], env);
    let stdout = shown.split("--- stdout\n").nth(1).and_then(|s| s.split("--- stderr").next()).unwrap();
    let m: Vec<Vec<String>> = stdout
        .lines()
        .map(|l| l.trim_start_matches('[').trim_end_matches(']').split(", ").map(str::to_owned).collect())
        .collect();
    entries_agree(&m, &names, &softmax_points(6), want, 1e-7);
    let fact = ["--assume", "t1 + t2 + t3 = 1"];
    for (form, facts) in [("output", &[][..]), ("input", &[][..]), ("auto", &fact[..]), ("input", &fact[..])] {
        let mut args = hessian(&["--form", form]);
        args.extend(facts);
        let m = matrix_entries(&args);
        entries_agree(&m, &names, &softmax_points_where(6, !facts.is_empty()), want, 1e-7);
        if form == "input" {
            assert!(m.iter().flatten().all(|e| !e.contains('p') && !e.contains('L')), "{args:?}: {m:?}");
        }
    }
    // With the fact, each diagonal entry is what `diff --order 2` prints with it.
    let m = matrix_entries(&assumed);
    for (i, x) in z.iter().enumerate() {
        let d =
            with_lets(&["diff", CROSS_ENTROPY3, "--wrt", x, "--order", "2", "--assume", "t1 + t2 + t3 = 1"], &SOFTMAX3);
        assert_eq!(run(&d).stdout.trim(), m[i][i], "{x}");
    }
}

#[test]
fn jacobian_takes_form_assume_and_check() {
    let softmax = "p1 = e^z1/(e^z1 + e^z2 + e^z3); p2 = e^z2/(e^z1 + e^z2 + e^z3); p3 = e^z3/(e^z1 + e^z2 + e^z3)";
    insta::assert_snapshot!(transcript(&["jacobian", softmax, "--wrt", "z1,z2,z3", "--form", "input", "--check"]));
    let y = "y1 = (a + b)*x1^2; y2 = x1*x2*(a + b)";
    insta::assert_snapshot!(transcript(&["jacobian", y, "--wrt", "x1,x2", "--assume", "a + b = 1", "--check"]));
    // Where the simplifier does not use the fact (here with the name y2 about), it does
    // not for `diff` either: each entry is what `diff` prints.
    let entries = matrix_entries(&["jacobian", y, "--wrt", "x1,x2", "--assume", "a + b = 1"]);
    for (i, f) in ["y2 = x1*x2*(a + b); y1 = (a + b)*x1^2", y].iter().enumerate() {
        for (j, x) in ["x1", "x2"].iter().enumerate() {
            let d = run(&["diff", f, "--wrt", x, "--assume", "a + b = 1"]);
            assert_eq!(d.stdout.trim(), entries[i][j], "{f} by {x}");
        }
    }
    let z = ["z1", "z2", "z3"];
    let points = softmax_points_where(6, false);
    for form in ["output", "input", "auto"] {
        let m = matrix_entries(&["jacobian", softmax, "--wrt", "z1,z2,z3", "--form", form, "--check"]);
        let want = |i: usize, j: usize, env: &deriv::eval::Env| numeric::slope(&[], SOFTMAX3[i], z[j], env);
        entries_agree(&m, &SOFTMAX3, &points, want, 1e-12);
    }
}

/// `--let`, `--assume` and `--form` mean the same to every subcommand that simplifies
/// a derivative.
#[test]
fn every_derivative_subcommand_takes_let_assume_and_form() {
    for sub in ["diff", "grad", "jacobian", "hessian"] {
        for form in ["output", "input", "auto"] {
            let args = ["y", "--let", "y = (a + b)*x^2", "--wrt", "x", "--assume", "a + b = 1", "--form", form];
            let mut v = vec![sub];
            v.extend(args);
            let r = run(&v);
            assert_eq!(r.code, 0, "{v:?}: {}", r.stderr);
        }
        let r = run(&[sub, "x^2", "--wrt", "x", "--assume", "a + b"]);
        assert_eq!(r.code, 2, "{sub}");
        assert!(r.stderr.starts_with("error: --assume takes an equation, LHS = RHS"), "{sub}: {}", r.stderr);
    }
    // The fact is used in the output form only; all four agree.
    let out = |sub: &str| {
        run(&[sub, "y", "--let", "y = (a + b)*x^2", "--wrt", "x", "--assume", "a + b = 1"])
            .stdout
            .replace(['[', ']'], "")
    };
    for sub in ["diff", "grad", "jacobian", "hessian"] {
        let want = if sub == "hessian" { "2\n" } else { "2*x\n" };
        assert_eq!(out(sub), want, "{sub}");
    }
}

/// A Jacobian's rows are EXPR's expressions separated by `;`, names defined with --let
/// among them; commas get a caret and that advice.
#[test]
fn jacobian_rows_are_statements() {
    let args = with_lets(&["jacobian", "p1; p2; p3", "--wrt", "z1,z2,z3", "--check"], &SOFTMAX3);
    insta::assert_snapshot!(transcript(&args));
    let z = ["z1", "z2", "z3"];
    let m = matrix_entries(&args);
    let slope = |i: usize, j: usize, env: &deriv::eval::Env| numeric::slope(&[], SOFTMAX3[i], z[j], env);
    entries_agree(&m, &SOFTMAX3, &softmax_points_where(6, false), slope, 1e-12);
    // The same as the definitions written in EXPR.
    let defs = SOFTMAX3.join("; ");
    assert_eq!(m, matrix_entries(&["jacobian", &defs, "--wrt", "z1,z2,z3"]));
    let commas = with_lets(&["jacobian", "p1,p2,p3", "--wrt", "z1,z2,z3"], &SOFTMAX3);
    let r = run(&commas);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    insta::assert_snapshot!(transcript(&commas));
    // Expressions, and a helper definition before them (which is no row).
    insta::assert_snapshot!(transcript(&["jacobian", "z = x*y; z^2; x + y; sin(z)", "--wrt", "x,y"]));
    let m = matrix_entries(&["jacobian", "z = x*y; z^2; x + y; sin(z)", "--wrt", "x,y"]);
    let fs = ["(x*y)^2", "x + y", "sin(x*y)"];
    let mut rng = deriv::check::Rng::new(3);
    let points: Vec<deriv::eval::Env> =
        (0..6).map(|_| deriv::check::random_point(&[deriv::Sym::new("x"), deriv::Sym::new("y")], &mut rng)).collect();
    let xy = ["x", "y"];
    entries_agree(&m, &["z = x*y"], &points, |i, j, env| numeric::slope(&[], fs[i], xy[j], env), 1e-12);
    // From a file of definitions, with the rows in EXPR.
    let dir = std::env::temp_dir().join(format!("deriv-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("softmax.deriv");
    std::fs::write(&file, "s = e^z1 + e^z2\np1 = e^z1/s\np2 = e^z2/s\n").unwrap();
    let r = run(&["jacobian", "--file", file.to_str().unwrap(), "p2; p1", "--wrt", "z1,z2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "[-p1*p2, p1*p2]\n[p1*p2, -p1*p2]\n"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Hessian is of EXPR's last statement, as `diff` differentiates it, whatever EXPR
/// defines before it.
#[test]
fn hessian_of_the_last_statement() {
    let args = ["hessian", "z = x*y; L = z^2 + x", "--wrt", "x,y", "--check"];
    insta::assert_snapshot!(transcript(&args));
    let mut rng = deriv::check::Rng::new(5);
    let points: Vec<deriv::eval::Env> =
        (0..6).map(|_| deriv::check::random_point(&[deriv::Sym::new("x"), deriv::Sym::new("y")], &mut rng)).collect();
    let xy = ["x", "y"];
    let want = |i: usize, j: usize, env: &deriv::eval::Env| numeric::curvature(&[], "(x*y)^2 + x", xy[i], xy[j], env);
    entries_agree(&matrix_entries(&args), &["z = x*y"], &points, want, 1e-7);
}

#[test]
fn an_expression_may_begin_with_a_minus() {
    // A loss is minus a log-likelihood: no `--` needed before it, before or after --wrt.
    let loss = "-(t*ln(p) + (1-t)*ln(1-p))";
    let r = run(&["diff", loss, "--let", "p=sigmoid(z)", "--wrt", "z"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "p - t\n"), "{}", r.stderr);
    let r = run(&["diff", "--wrt", "z", "--let", "p=sigmoid(z)", loss]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "p - t\n"), "{}", r.stderr);
    let r = run(&["eval", "-x", "--at", "x=2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "-2\n"), "{}", r.stderr);
    // Every subcommand that takes EXPR.
    for (args, want) in [
        (&["diff", "-x^2"][..], "-2*x\n"),
        (&["grad", "-x*y", "--wrt", "x,y"], "-y\n-x\n"),
        (&["jacobian", "-x*y; -x", "--wrt", "x"], "[-y]\n[-1]\n"),
        (&["hessian", "-x^3", "--wrt", "x"], "[-6*x]\n"),
        (&["simplify", "-x + 2*x"], "x\n"),
        (&["parse", "-x - x"], "-2*x\n"),
        (&["latex", "-x/2"], "-\\frac{x}{2}\n"),
        (&["eval", "-2"], "-2\n"),
    ] {
        let r = run(args);
        assert_eq!((r.code, r.stdout.as_str()), (0, want), "{args:?}: {}", r.stderr);
    }
    let r = run(&["codegen", "-x", "--lang", "python"]);
    assert!(r.code == 0 && r.stdout.contains("f(x) = -x"), "{}", r.stderr);
    // `--` still marks the end of the options: `--x` is minus minus x.
    let r = run(&["diff", "--wrt", "x", "--", "--x"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "1\n"), "{}", r.stderr);
}

#[test]
fn an_unknown_option_is_still_an_error() {
    // Whether it stands where EXPR would, alone, or after it: clap's message.
    insta::assert_snapshot!(transcript(&["diff", "--bogus", "x"]));
    for args in [&["diff", "--bogus"][..], &["diff", "x", "--bogus"], &["eval", "--bogus", "--at", "x=1"]] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.starts_with("error: unexpected argument '--bogus' found"), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    // Another argument too many is named as before.
    let r = run(&["diff", "-x", "y"]);
    assert!(r.code == 2 && r.stderr.starts_with("error: unexpected argument 'y' found"), "{}", r.stderr);
}

#[test]
fn eval_prints_numbers_as_numbers() {
    for (f, at, want) in [
        // A float in its shortest round trip, with an exponent when small or large.
        ("sin(pi)", "", "1.2246467991473532e-16"),
        ("e^x", "x=40", "2.3538526683702e17"),
        ("e^x", "x=-10", "4.5399929762484854e-5"),
        ("ln(x)", "x=2", "0.6931471805599453"),
        // Exact results exactly: integers whole, other rationals as their nearest float.
        ("2^100", "", "1267650600228229401496703205376"),
        ("x^2", "x=1e10", "100000000000000000000"),
        ("1/3", "", "0.3333333333333333"),
        ("0.1 + 0.2", "", "0.3"),
        ("x/4 - 1", "x=-2", "-1.5"),
        ("x", "x=1e-4", "0.0001"),
        ("x", "x=1e-5", "1e-5"),
        ("1e15 + 1/2", "", "1000000000000000.5"),
        ("2^-100", "", "7.888609052210118e-31"),
        ("10^-400", "", "1e-400"),
        // Exact below the smallest double: a float would say 0.
        ("x^2", "x=1e-200", "1e-400"),
    ] {
        let r = run(&["eval", f, "--at", at]);
        assert_eq!((r.code, r.stdout.trim(), r.stderr.as_str()), (0, want, ""), "{f} at {at}");
        // What is printed reads back as the value computed, within a rounding.
        let printed: f64 = want.parse().unwrap();
        let v = deriv::request::eval(&deriv::request::Input::load(&[], f).unwrap(), at).unwrap_or(printed);
        assert!(v == printed || (v - printed).abs() <= 2.0 * f64::EPSILON * v.abs(), "{f}: {v} printed {want}");
    }
}

#[test]
fn eval_digits() {
    // Exact values to as many digits as asked, correctly rounded.
    let r = run(&["eval", "x/3", "--at", "x=2", "--digits", "40"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0.6666666666666666666666666666666666666667\n"), "{}", r.stderr);
    let r = run(&["eval", "2^-100", "--digits", "30"]);
    assert_eq!(r.stdout, "7.88860905221011805411728565283e-31\n");
    // Fewer digits where the value has fewer; integers whole whatever is asked.
    assert_eq!(run(&["eval", "1/8", "--digits", "30"]).stdout, "0.125\n");
    assert_eq!(run(&["eval", "3^40", "--digits", "3"]).stdout, "12157665459056928801\n");
    assert_eq!(run(&["eval", "2/3", "--digits", "3"]).stdout, "0.667\n");
    // A float has 17 digits at most: more are not invented, and stderr says why.
    let r = run(&["eval", "sqrt(2)", "--digits", "3"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("1.41\n", ""));
    let r = run(&["eval", "sqrt(2)", "--digits", "30"]);
    assert_eq!(r.stdout, "1.4142135623730951\n");
    assert!(r.stderr.contains("17 significant digits"), "{}", r.stderr);
    // The points too, one value per line.
    let r = run_with_stdin(&["eval", "1/x", "--points", "-", "--digits", "3"], b"x\n3\n0\n7e-9\n1e-20\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "0.333\ninf\n143000000\n1e20\n"), "{}", r.stderr);
    let r = run(&["eval", "x", "--digits", "0", "--at", "x=1"]);
    assert_eq!(r.code, 2);
}

#[test]
fn grad_jacobian_and_hessian_check_report_each_entry() {
    insta::assert_snapshot!(transcript(&[
        "jacobian",
        "p1 = e^z1/(e^z1 + e^z2); p2 = e^z2/(e^z1 + e^z2)",
        "--wrt",
        "z1,z2",
        "--check"
    ]));
    insta::assert_snapshot!(transcript(&["hessian", "x^2*y^3", "--wrt", "x,y", "--check"]));
    let r = run(&["jacobian", "x*y; x + y", "--wrt", "x,y", "--check"]);
    let labels: Vec<&str> = r.stderr.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(labels, ["check d(row 1)/dx", "check d(row 1)/dy", "check d(row 2)/dx", "check d(row 2)/dy"]);
    // Each line as diff's: a passed check, its error within the tolerance.
    for cmd in
        [&["grad", "tanh(w*x + b)", "--wrt", "w,b", "--check"][..], &["hessian", "sin(x*y)", "--wrt", "x,y", "--check"]]
    {
        let r = run(cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        for line in r.stderr.lines() {
            let err: f64 = line.split("max error ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
            assert!(line.starts_with("check d") && line.contains(": passed") && err < 1e-9, "{line}");
        }
    }
    // Nothing beside JSON, which carries the check itself.
    let r = run(&["hessian", "x^2*y^3", "--wrt", "x,y", "--check", "--format", "json"]);
    assert!(r.stderr.is_empty() && r.stdout.contains("\"check\""), "{}", r.stderr);
}

#[test]
fn completions_and_man_page_come_from_the_definition() {
    // Every subcommand `deriv --help` lists is in the completions and the man page.
    let help = run(&["--help"]).stdout;
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"diff") && commands.contains(&"repl") && commands.len() > 10, "{commands:?}");
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_deriv()") && bash.stdout.contains("complete -F _deriv"), "{}", bash.stdout);
    for shell in ["zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert!(r.code == 0 && r.stdout.contains("--wrt"), "{shell}");
        for c in &commands {
            assert!(r.stdout.contains(c), "{shell} completions lack {c}");
        }
    }
    let man = run(&["man"]);
    assert_eq!(man.code, 0);
    for section in [".TH deriv 1", ".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(man.stdout.contains(section), "man page lacks {section}");
    }
    for c in &commands {
        assert!(bash.stdout.contains(&format!("deriv,{c})")), "bash completions lack {c}");
        assert!(man.stdout.contains(&format!("deriv\\-{}(1)", c.replace('-', "\\-"))), "man page lacks {c}");
    }
    // --dir writes a page per subcommand; a folder that cannot be written is an error.
    let dir = std::env::temp_dir().join(format!("deriv-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let diff_page = std::fs::read_to_string(dir.join("deriv-diff.1")).unwrap_or_default();
    assert!(diff_page.contains(".SH NAME") && diff_page.contains("\\-\\-wrt"), "{diff_page}");
    let _ = std::fs::remove_dir_all(&dir);
    let r = run(&["man", "--dir", "/nonexistent/deriv-man"]);
    assert!(r.code == 1 && r.stderr.starts_with("error: cannot write `/nonexistent/deriv-man`"), "{}", r.stderr);
}

/// Runs the built binary with its stderr a pipe and the environment `env` (NO_COLOR and
/// CLICOLOR_FORCE unset otherwise): its stderr.
fn stderr_with(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_deriv"));
    cmd.args(args).env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    String::from_utf8(cmd.output().expect("run deriv").stderr).unwrap()
}

#[test]
fn diagnostics_are_coloured_on_a_terminal_only() {
    // Piped: plain text, as in-process.
    let plain = stderr_with(&["diff", "x^"], &[]);
    assert_eq!(plain, run(&["diff", "x^"]).stderr);
    assert!(!plain.contains('\x1b'));
    // Forced: the same text, coloured; NO_COLOR wins over the force.
    let forced = stderr_with(&["diff", "x^"], &[("CLICOLOR_FORCE", "1")]);
    insta::assert_snapshot!(forced.replace('\x1b', "\\e"));
    let stripped =
        forced.replace("\x1b[1;31m", "").replace("\x1b[1;34m", "").replace("\x1b[1m", "").replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
    assert!(!stderr_with(&["diff", "x^"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
    // Warnings and clap's usage errors too.
    let w = stderr_with(&["diff", "sigmod(x)"], &[("CLICOLOR_FORCE", "1")]);
    assert!(w.starts_with("\x1b[1;33mwarning\x1b[0m"), "{w:?}");
    assert!(stderr_with(&["diff", "--bogus"], &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    assert!(!stderr_with(&["diff", "--bogus"], &[]).contains('\x1b'));
}

#[test]
fn bash_completes_with_the_script() {
    // The script as bash runs it: a subcommand from its prefix, an option of it.
    let script = run(&["completions", "bash"]).stdout;
    let path = std::env::temp_dir().join(format!("deriv-completion-{}.bash", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let probe = format!(
        "source '{}'; COMP_WORDS=(deriv di); COMP_CWORD=1; _deriv deriv di deriv; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(deriv diff --w); COMP_CWORD=2; _deriv deriv --w diff; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&probe).output();
    let _ = std::fs::remove_file(&path);
    let Ok(out) = out else { return crate::support::skip("bash is not installed: the completion script not run") };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "diff\n--wrt\n", "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn deriv_alone_off_a_terminal_shows_the_usage() {
    // The REPL opens on a terminal only (tests/repl.rs types at one): here, clap's usage.
    let r = run(&[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty() && r.stderr.contains("Usage: deriv [OPTIONS] <COMMAND>"), "{}", r.stderr);
}

#[test]
fn check_is_reported_with_shared_intermediates_too() {
    // --cse changes how results are written, not whether --check says what it found.
    let g = run(&["grad", "tanh(w*x + b)*w", "--wrt", "w,b", "--check", "--cse"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(g.stdout.contains("d_w = ") && g.stdout.contains("d_b = "), "{}", g.stdout);
    let lines: Vec<&str> = g.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", g.stderr);
    assert!(lines[0].starts_with("check d/dw: passed, max error ") && lines[1].starts_with("check d/db: passed"));
    let d = run(&["diff", "q = sigmoid(s)", "--wrt", "s", "--check", "--cse"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(d.stderr.starts_with("check: passed, max error "), "{}", d.stderr);
    let j = run(&["grad", "tanh(w*x + b)", "--wrt", "w,b", "--check", "--cse", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(v["checks"].as_array().map(Vec::len), Some(2), "{}", j.stdout);
    assert!(v["checks"][0]["max_error"].as_f64().is_some_and(|e| e < 1e-9));
}
