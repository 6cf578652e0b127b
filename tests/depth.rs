//! Depth 100,000: nesting that deep, written directly or built by a chain of
//! definitions, is refused with deriv's own "nesting too deep" error in every
//! subcommand, never with a stack overflow, with work that grows linearly in the input;
//! expressions that deep built through the library are dropped without one; and a chain
//! of definitions 4,000 deep (inside the limits) goes through every stage.

use std::ffi::OsString;
use std::time::Duration;

use crate::support::binary;

const N: usize = 100_000;

/// Runs the built binary with `stdin`: exit code, stdout, stderr and the processor time
/// used. A run is killed after a minute of processor time (a hang, not a slow run).
fn deriv(args: &[&str], stdin: &[u8]) -> (i32, String, String, Duration) {
    let argv: Vec<OsString> = args.iter().map(Into::into).collect();
    let o = binary::run(&argv, stdin, Duration::from_secs(60));
    assert!(!o.killed, "deriv {args:?} was killed after {:?}", o.cpu);
    let code = o.code.unwrap_or_else(|| panic!("deriv {args:?} was killed by a signal"));
    (code, String::from_utf8_lossy(&o.stdout).into(), o.stderr, o.cpu)
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
    let subcommands = [&["parse", "-"][..], &["diff", "--wrt", "x", "-"], &["simplify", "-"], &["latex", "-"]];
    let runs: Vec<(&str, &String, &[&str])> =
        inputs.iter().flat_map(|(what, src)| subcommands.iter().map(move |args| (*what, src, *args))).collect();
    let outcomes = binary::parallel(&runs, |(_, src, args)| deriv(args, src.as_bytes()));
    for ((what, _, args), (code, out, err, cpu)) in runs.iter().zip(outcomes) {
        assert_eq!(code, 2, "{what} {args:?}: {err}");
        assert!(out.is_empty() && err.starts_with("error: nesting too deep (limit 2000)"), "{what}: {err}");
        assert!(err.contains("^") && err.contains("= help:"), "{what}: {err}");
        // The parser stops at the limit: refusing takes little more than reading the input.
        assert!(cpu < Duration::from_secs(5), "{what} {args:?} took {cpu:?} of processor time");
    }
}

/// `a0 = x`, then `a1 = sin(a0)` and so on to `a{n}`, then `a{n}`.
fn sin_chain(n: usize) -> String {
    let mut src = String::from("a0 = x\n");
    for k in 1..=n {
        src.push_str(&format!("a{k} = sin(a{})\n", k - 1));
    }
    src.push_str(&format!("a{n}\n"));
    src
}

#[test]
fn a_chain_of_100000_definitions_is_refused_cleanly() {
    let src = sin_chain(N);
    let subcommands = [&["parse", "-"][..], &["diff", "--wrt", "x", "-"], &["eval", "--at", "x=1", "-"]];
    let outcomes = binary::parallel(&subcommands, |args| deriv(args, src.as_bytes()));
    for (args, (code, out, err, _)) in subcommands.iter().zip(outcomes) {
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() && err.starts_with("error: nesting too deep (limit 10000)"), "{err}");
        assert!(err.contains("line 10001, column 1") && err.contains("nests 10001 levels deep"), "{err}");
    }
}

/// Refusing a chain costs work linear in its length, measured without a clock: the
/// library's work units (one per node constructor call, found or new, plus its
/// children; see `limits::within`), which are the same on every run. A chain twice as
/// long costs at most twice the work (reading the chain is linear, and inlining stops at
/// the limit); a quadratic step would cost about four times. Work that builds no nodes
/// is not counted.
#[test]
fn refusing_a_chain_twice_as_long_costs_at_most_twice_the_work() {
    let work = |n: usize| {
        let src = sin_chain(n);
        // Inlining recurses as deep as the limit: room for it, as the command line gives.
        let run = move || deriv::limits::within(u64::MAX, || deriv::defs::Problem::load(&[], &src).map(|_| ()));
        let (res, units) = std::thread::Builder::new().stack_size(1 << 30).spawn(run).unwrap().join().unwrap();
        let err = res.unwrap().expect_err("the chain is deeper than the limit").to_string();
        assert!(
            err.starts_with("error: nesting too deep (limit 10000)") && err.contains("line 10001, column 1"),
            "{err}"
        );
        units
    };
    let (short, long) = (work(15_000), work(30_000));
    assert!(short < long && long <= 2 * short, "{short} units for 15,000 definitions, {long} for 30,000");
}

#[test]
fn a_chain_of_4000_definitions_goes_through_every_stage() {
    let mut src = String::from("a0 = x\n");
    for k in 1..=4000 {
        src.push_str(&format!("a{k} = a{}*y + 1\n", k - 1));
    }
    src.push_str("a4000\n");
    let runs = [
        (&["diff", "--wrt", "x", "-"][..], "y^4000\n"),
        (&["eval", "--at", "x=2,y=1", "-"], "4002\n"),
        (&["latex", "-"], "a_{4000}\n"),
    ];
    let outcomes = binary::parallel(&runs, |(args, _)| deriv(args, src.as_bytes()));
    for ((args, want), (code, out, err, _)) in runs.iter().zip(outcomes) {
        assert_eq!((code, out.as_str()), (0, *want), "{args:?}: {err}");
    }
}

#[test]
fn expressions_100000_deep_built_by_the_library_drop_without_recursion() {
    // Built through the constructors, no parser limit applies; dropping the chain on
    // this thread's ordinary stack must not recurse 100,000 frames deep.
    let mut e = deriv::Expr::var("x");
    for _ in 0..N {
        e = deriv::Expr::builtin(deriv::func::Builtin::Sin, e);
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
    let refused = [
        &["diff", "--wrt", "x", "-"][..],
        &["simplify", "--form", "input", "-"],
        &["grad", "--wrt", "x", "--form", "input", "-"],
    ];
    let outcomes = binary::parallel(&refused, |args| deriv(args, src.as_bytes()));
    for (args, (code, out, err, cpu)) in refused.iter().zip(outcomes) {
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() && err.starts_with("error: gave up: the work needs more than 2000000"), "{err}");
        assert!(
            err.contains("= help: ") && cpu < Duration::from_secs(10),
            "{args:?}: {err} ({cpu:?} of processor time)"
        );
    }
    // Code generation walks the input before it builds anything; it must look at each
    // node once, or a DAG of built-ins like this one (2^40 nodes written out) takes 2^40
    // steps that no limit stops (it once ran past --timeout).
    let mut src = String::from("a0 = x\n");
    for k in 1..=40 {
        src.push_str(&format!("a{k} = sin(a{0}) + a{0}\n", k - 1));
    }
    src.push_str("a40\n");
    let (code, out, err, cpu) = deriv(&["codegen", "--wrt", "x", "-"], src.as_bytes());
    assert!(
        code == 2 && out.is_empty() && err.starts_with("error: gave up: the work needs more than 2000000"),
        "{err}"
    );
    assert!(cpu < Duration::from_secs(10), "codegen took {cpu:?} of processor time");
    let (code, _, err, _) = deriv(&["diff", "--wrt", "x", "--timeout=-1", "x"], b"");
    assert!(code == 2 && err.contains("--timeout"), "{err}");
}

/// The library on a thread with the default 2 MiB stack of `std::thread::spawn`, on
/// input as deep as the parser and the definitions' limits allow: recursion moves to a
/// fresh stack segment when the current one runs low (`limits::deep`), so nothing
/// overflows, in debug builds too.
#[test]
fn the_library_fits_a_default_thread_stack() {
    const DEEP: usize = 1990;
    let nests = [
        format!("{}x{}", "(".repeat(DEEP), ")".repeat(DEEP)),
        format!("{}x{}", "sin(".repeat(DEEP), ")".repeat(DEEP)),
        format!("{}x", "-".repeat(DEEP)),
        format!("{}x", "x^".repeat(DEEP)),
        format!("{}x{}", "g(".repeat(DEEP), ")".repeat(DEEP)),
    ];
    // 4,900 definitions, each adding two levels: 9,800 deep once inlined (limit 10,000).
    let mut chain = String::from("a0 = x\n");
    for k in 1..=4900 {
        chain.push_str(&format!("a{k} = a{}*y + 1\n", k - 1));
    }
    chain.push_str("a4900\n");
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for src in &nests {
                let e = deriv::parse(src).expect("within the parser's depth limit");
                let back = deriv::parse(&e.to_string()).expect("the printed form reads back");
                assert_eq!(back, e);
                assert!(!deriv::print::latex::to_latex(&e).is_empty());
                let env: deriv::eval::Env = [(deriv::Sym::new("x"), 0.5)].into_iter().collect();
                let _ = deriv::eval::eval(&e, &env);
            }
            // The simplifier's walks, on the tower (the nests of calls take seconds in a
            // debug build: every part's variables are gathered again).
            let tower = deriv::parse(&nests[3]).expect("within the parser's depth limit");
            let _ = deriv::simplify::simplify(&tower, &Default::default(), deriv::simplify::Form::Auto);
            // Differentiation, every stage after it, and the steps, on the deepest chain.
            assert_eq!(deriv::derivative(&chain, "x").map(|d| d.to_string()), Ok("y^4900".to_owned()));
            let steps = deriv::derivation(&chain, "x").expect("a derivation").to_string();
            let last = steps.lines().last().unwrap_or_default();
            assert!(last.trim_start().starts_with("= y^4900 "), "the steps end on {last}");
            let kernel = deriv::codegen::kernel(&chain, &["x"], "f").expect("code");
            assert!(!deriv::codegen::generate(&kernel, deriv::codegen::Lang::C).is_empty());
        })
        .expect("a thread")
        .join();
    assert!(outcome.is_ok(), "the library panicked on a 2 MiB stack");
}
