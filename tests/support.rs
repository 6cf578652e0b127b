//! Helpers shared by the tests: the whole pipeline in one call, and the CLI in-process.

use deriv::check::check_chain;
use deriv::{Expr, Sym};

/// Parses `input`, differentiates by `wrt` `order` times, checks every step against dual
/// numbers (max error 1e-12), and returns the derivative.
#[track_caller]
pub fn check_diff_n(input: &str, wrt: &str, order: u64) -> Expr {
    let problem = deriv::defs::Problem::load(&[], input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let e = problem.inlined_target();
    let x = Sym::new(wrt);
    let mut chain = vec![e];
    for _ in 0..order {
        let next = deriv::diff(chain.last().unwrap(), &x);
        chain.push(next);
    }
    let report = check_chain(&chain, &x, 16, 7).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert!(report.max_error < 1e-12, "{input}: error {}", report.max_error);
    assert!(report.points >= 16 * order as usize, "{input}: only {} points", report.points);
    chain.pop().unwrap()
}

/// [`check_diff_n`] for a first derivative, as text.
#[track_caller]
pub fn check_diff(input: &str, wrt: &str) -> String {
    check_diff_n(input, wrt, 1).to_string()
}

/// The result of running the command line in-process.
pub struct Run {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `deriv ARGS` in-process with `stdin` as standard input.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = deriv::cli::run(&args, &mut &stdin[..], &mut out, &mut err);
    Run { code, stdout: String::from_utf8_lossy(&out).into(), stderr: String::from_utf8_lossy(&err).into() }
}

/// Runs `deriv ARGS` in-process.
pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, b"")
}

/// A readable transcript of a run, for snapshots.
pub fn transcript(args: &[&str]) -> String {
    let r = run(args);
    format!("$ deriv {}\nexit: {}\n--- stdout\n{}--- stderr\n{}", shell_words(args), r.code, r.stdout, r.stderr)
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=.,".contains(c)) {
                a.to_string()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Numeric witnesses for results that a command prints: the printed text evaluated, and
/// the derivatives of the input it came from, by dual numbers and central differences.
pub mod numeric {
    use deriv::defs::Problem;
    use deriv::eval::{eval, eval_dual, Env};
    use deriv::Sym;

    /// `text` (deriv syntax, which may use the names that `lets` define) at `env`.
    pub fn value(lets: &[&str], text: &str, env: &Env) -> f64 {
        let lets: Vec<String> = lets.iter().map(|l| l.to_string()).collect();
        let p = Problem::load(&lets, text).unwrap_or_else(|e| panic!("{text}: {e}"));
        eval(&p.inlined_target(), env).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// `d f / d x` at `env`, by dual numbers.
    pub fn slope(lets: &[&str], f: &str, x: &str, env: &Env) -> f64 {
        let lets: Vec<String> = lets.iter().map(|l| l.to_string()).collect();
        let p = Problem::load(&lets, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        eval_dual(&p.inlined_target(), env, &Sym::new(x), None).unwrap_or_else(|e| panic!("{f}: {e}")).d
    }

    /// `d/dy (d f / d x)` at `env`: central differences along `y` of dual slopes along `x`.
    pub fn curvature(lets: &[&str], f: &str, x: &str, y: &str, env: &Env) -> f64 {
        let h = 1e-5;
        let at = |dy: f64| {
            let mut e = env.clone();
            *e.get_mut(&Sym::new(y)).unwrap_or_else(|| panic!("no value for {y}")) += dy;
            slope(lets, f, x, &e)
        };
        (at(h) - at(-h)) / (2.0 * h)
    }
}
