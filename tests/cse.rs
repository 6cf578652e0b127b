//! `--cse`: the shared-intermediates output reads back as a program and evaluates
//! equal to the plain result; `--repeat` reports a time per run.

use deriv::check::{mixed_error, random_point, Rng};
use deriv::defs::Problem;
use deriv::eval::{eval_with, Model};

use crate::support::run;

/// The program `--cse` prints, read back: the value of `name` (or of the last line).
fn read_back(text: &str, name: Option<&str>) -> deriv::Expr {
    let p = Problem::load(&[], text).unwrap_or_else(|e| panic!("--cse output does not parse:\n{text}\n{e}"));
    match name {
        Some(n) => p.inline(&deriv::Expr::var(n)),
        None => p.inlined_target(),
    }
}

#[track_caller]
fn assert_equal(a: &deriv::Expr, b: &deriv::Expr) {
    let mut vars = a.free_vars();
    vars.extend(b.free_vars());
    vars.sort();
    vars.dedup();
    let mut rng = Rng::new(5);
    let model = Model::new(1);
    let mut compared = 0;
    for _ in 0..50 {
        let env = random_point(&vars, &mut rng);
        let (Ok(x), Ok(y)) = (eval_with(a, &env, Some(&model)), eval_with(b, &env, Some(&model))) else { continue };
        if x.is_finite() && y.is_finite() {
            assert!(mixed_error(x, y) < 1e-12, "{a} vs {b}: {x} vs {y}");
            compared += 1;
        }
    }
    assert!(compared > 10);
}

#[test]
fn cse_output_reads_back_equal() {
    for (expr, wrt) in [
        ("e^z/(1+e^z)", "z"),
        ("sin(sin(sin(sin(x))))", "x"),
        ("tanh(exp(sin(tanh(exp(sin(x))))))", "x"),
        ("1/(1+e^-z)", "z"),
    ] {
        let plain = run(&["diff", expr, "--wrt", wrt]);
        let shared = run(&["diff", expr, "--wrt", wrt, "--cse"]);
        assert_eq!(shared.code, 0, "{}", shared.stderr);
        assert_equal(&read_back(&shared.stdout, None), &deriv::parse(plain.stdout.trim()).unwrap());
    }
    insta::assert_snapshot!(run(&["diff", "tanh(exp(sin(tanh(exp(sin(x))))))", "--wrt", "x", "--cse"]).stdout);
}

#[test]
fn gradients_share_intermediates_across_components() {
    let e = "1/2*((tanh(x1*w11 + x2*w21) - t1)^2 + (tanh(x1*w12 + x2*w22) - t2)^2)";
    let vars = ["w11", "w12", "w21", "w22"];
    let shared = run(&["grad", e, "--wrt", &vars.join(","), "--cse"]);
    assert_eq!(shared.code, 0, "{}", shared.stderr);
    let plain = run(&["grad", e, "--wrt", &vars.join(",")]);
    for (v, line) in vars.iter().zip(plain.stdout.lines()) {
        assert_equal(&read_back(&shared.stdout, Some(&format!("d_{v}"))), &deriv::parse(line).unwrap());
    }
    insta::assert_snapshot!(shared.stdout);
}

#[test]
fn repeat_reports_a_time_per_run() {
    let r = run(&["diff", "e^z/(1+e^z)", "--wrt", "z", "--repeat", "3"]);
    assert_eq!(r.stdout, "sigmoid(z)*(1 - sigmoid(z))\n");
    let line = r.stderr.lines().find(|l| l.starts_with("time per run: ")).unwrap_or_else(|| panic!("{}", r.stderr));
    // `time per run: 1.2 ms (read 100 µs, derive 1 ms, print 100 µs)`: a total and the
    // three stages, each a number and a unit.
    let (total, stages) = line["time per run: ".len()..].split_once(" (").unwrap_or_else(|| panic!("{line}"));
    let stages = stages.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));
    let units = ["ns", "µs", "ms", "s"];
    let is_time = |t: &str| {
        let (v, unit) = t.split_once(' ').unwrap_or_else(|| panic!("{line}"));
        v.parse::<f64>().is_ok() && units.contains(&unit)
    };
    assert!(is_time(total), "{line}");
    let names: Vec<&str> = stages
        .split(", ")
        .map(|s| {
            s.split_once(' ').map_or(s, |(n, t)| {
                assert!(is_time(t), "{line}");
                n
            })
        })
        .collect();
    assert_eq!(names, ["read", "derive", "print"], "{line}");
}
