//! Depth 100,000: nesting that deep, written directly or built by a chain of
//! definitions, is refused with deriv's own "nesting too deep" error in every
//! subcommand, quickly, never with a stack overflow; expressions that deep built through
//! the library are dropped without one; and a chain of definitions 4,000 deep (inside
//! the limits) goes through every stage.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const N: usize = 100_000;

/// Runs the built binary with `stdin`; exit code, stdout, stderr and the time taken.
fn deriv(args: &[&str], stdin: &[u8]) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_deriv"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn deriv");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    let code = out.status.code().unwrap_or_else(|| panic!("deriv {args:?} was killed by a signal"));
    (code, String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into(), start.elapsed())
}

#[test]
fn nesting_100000_deep_is_refused_cleanly_everywhere() {
    let inputs = [
        ("parentheses", format!("{}x{}", "(".repeat(N), ")".repeat(N))),
        ("calls", format!("{}x{}", "sin(".repeat(N), ")".repeat(N))),
        ("signs", format!("{}x", "-".repeat(N))),
        ("powers", format!("{}x", "x^".repeat(N))),
        ("abstract calls", format!("{}x{}", "g(".repeat(N), ")".repeat(N))),
    ];
    for (what, src) in &inputs {
        for args in [&["parse", "-"][..], &["diff", "--wrt", "x", "-"], &["simplify", "-"], &["latex", "-"]] {
            let (code, out, err, took) = deriv(args, src.as_bytes());
            assert_eq!(code, 2, "{what} {args:?}: {err}");
            assert!(out.is_empty() && err.starts_with("error: nesting too deep (limit 2000)"), "{what}: {err}");
            assert!(err.contains("^") && err.contains("= help:"), "{what}: {err}");
            assert!(took < Duration::from_secs(5), "{what} {args:?} took {took:?}");
        }
    }
}

#[test]
fn a_chain_of_100000_definitions_is_refused_cleanly() {
    let mut src = String::from("a0 = x\n");
    for k in 1..=N {
        src.push_str(&format!("a{k} = sin(a{})\n", k - 1));
    }
    src.push_str(&format!("a{N}\n"));
    for args in [&["parse", "-"][..], &["diff", "--wrt", "x", "-"], &["eval", "--at", "x=1", "-"]] {
        let (code, out, err, took) = deriv(args, src.as_bytes());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() && err.starts_with("error: nesting too deep (limit 10000)"), "{err}");
        assert!(err.contains("line 10001, column 1") && err.contains("nests 10001 levels deep"), "{err}");
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    }
}

#[test]
fn a_chain_of_4000_definitions_goes_through_every_stage() {
    let mut src = String::from("a0 = x\n");
    for k in 1..=4000 {
        src.push_str(&format!("a{k} = a{}*y + 1\n", k - 1));
    }
    src.push_str("a4000\n");
    let (code, out, err, _) = deriv(&["diff", "--wrt", "x", "-"], src.as_bytes());
    assert_eq!((code, out.as_str()), (0, "y^4000\n"), "{err}");
    let (code, out, err, _) = deriv(&["eval", "--at", "x=2,y=1", "-"], src.as_bytes());
    assert_eq!((code, out.as_str()), (0, "4002\n"), "{err}");
    let (code, out, err, _) = deriv(&["latex", "-"], src.as_bytes());
    assert_eq!((code, out.as_str()), (0, "a_{4000}\n"), "{err}");
}

#[test]
fn expressions_100000_deep_built_by_the_library_drop_without_recursion() {
    // Built through the constructors, no parser limit applies; dropping the chain on
    // this thread's ordinary stack must not recurse 100,000 frames deep.
    let sin = deriv::func::lookup("sin").unwrap();
    let mut e = deriv::Expr::var("x");
    for _ in 0..N {
        e = deriv::Expr::call(deriv::expr::Func::Builtin(sin), vec![e]);
    }
    assert_eq!(e.depth() as usize, N + 1);
    assert_eq!(e.tree_size() as usize, N + 1);
    drop(e);
}

#[test]
fn limits_refuse_explosive_work_with_a_message() {
    // Each definition uses the one before twice: 40 nodes shared, 2^40 written out.
    let mut src = String::from("a0 = x\n");
    for k in 1..=40 {
        src.push_str(&format!("a{k} = g(a{0}, a{0})\n", k - 1));
    }
    src.push_str("a40\n");
    // Simplified, the last definition is small in terms of the one before.
    let (code, out, err, _) = deriv(&["simplify", "-"], src.as_bytes());
    assert_eq!((code, out.as_str()), (0, "g(a39, a39)\n"), "{err}");
    for args in [
        &["diff", "--wrt", "x", "-"][..],
        &["simplify", "--form", "input", "-"],
        &["grad", "--wrt", "x", "--form", "input", "-"],
    ] {
        let (code, out, err, took) = deriv(args, src.as_bytes());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() && err.starts_with("error: gave up: the work needs more than 2000000"), "{err}");
        assert!(err.contains("= help: ") && took < Duration::from_secs(10), "{args:?}: {err} ({took:?})");
    }
    let (code, _, err, _) = deriv(&["diff", "--wrt", "x", "--timeout=-1", "x"], b"");
    assert!(code == 2 && err.contains("--timeout"), "{err}");
}
