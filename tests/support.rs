//! Helpers shared by the tests: the whole pipeline in one call, the CLI in-process, the
//! built binary in processes of its own, and visible skips.

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

/// For each `(function, variable, form)`: `deriv diff FUNCTION --wrt VARIABLE --check`
/// passes its check and prints `form`.
#[track_caller]
pub fn assert_diff_prints(cases: &[(&str, &str, &str)]) {
    for &(e, wrt, want) in cases {
        let r = run(&["diff", e, "--wrt", wrt, "--check"]);
        assert!(r.stderr.contains("check: passed"), "{e}: {}", r.stderr);
        assert_eq!(r.stdout.trim_end(), want, "{e}");
    }
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

/// Says past the test harness's output capture, so that it shows in a plain `cargo test`,
/// that part of a test did not run and why: `skipped: node not found`. Under CI (`CI`
/// set) nothing may be skipped: the machine must have every tool, so this fails instead.
#[track_caller]
pub fn skip(why: &str) {
    use std::io::Write;
    assert!(std::env::var_os("CI").is_none(), "CI must not skip: {why}");
    // `eprintln!` would be captured (and shown only if the test failed); a write to the
    // stderr handle is not.
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// The built `deriv` binary, for the tests that need a process of its own: the exit code
/// the OS sees, death by a signal (a stack overflow), a run that has to be killed.
pub mod binary {
    use std::ffi::OsString;
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// How long a run may take on the clock, whatever processor time it has used: a run
    /// that waits without working is hung too.
    pub const WALL_LIMIT: Duration = Duration::from_secs(60);

    /// One run of the binary.
    pub struct Outcome {
        /// The exit code, or `None` when a signal ended the process.
        pub code: Option<i32>,
        pub stdout: Vec<u8>,
        pub stderr: String,
        /// The processor time it used (user and system, all threads), where the OS says
        /// (Linux); elsewhere the time on the clock. Unlike the clock, this does not grow
        /// when other work loads the machine.
        pub cpu: Duration,
        /// Whether it was killed for passing its limit or [`WALL_LIMIT`].
        pub killed: bool,
    }

    /// Runs `deriv ARGS` with `stdin` as its standard input, and kills it once it has
    /// used `cpu_limit` of processor time or [`WALL_LIMIT`] on the clock.
    pub fn run(args: &[OsString], stdin: &[u8], cpu_limit: Duration) -> Outcome {
        let start = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_deriv"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn deriv");
        let mut pipe_in = child.stdin.take().expect("stdin");
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe_in.write_all(&input);
        });
        let mut pipe_out = child.stdout.take().expect("stdout");
        let mut pipe_err = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = pipe_out.read_to_end(&mut v);
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = pipe_err.read_to_end(&mut v);
            v
        });
        let (mut killed, mut cpu) = (false, Duration::ZERO);
        let status = loop {
            // Read before the exit status: once reaped, the process has no times to read.
            cpu = cpu_time(child.id()).unwrap_or_else(|| start.elapsed()).max(cpu);
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if cpu > cpu_limit || start.elapsed() > WALL_LIMIT {
                killed = true;
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = writer.join();
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
        Outcome { code: status.code(), stdout, stderr, cpu, killed }
    }

    /// The processor time process `pid` has used so far, all threads, user and system:
    /// fields 14 and 15 of `/proc/PID/stat`, in clock ticks of 1/100 s (Linux's `USER_HZ`).
    fn cpu_time(pid: u32) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
        let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
        Some(Duration::from_millis(10 * (ticks(14)? + ticks(15)?)))
    }

    /// `work` applied to every job, on as many threads as the machine has cores; the
    /// results in the jobs' order.
    pub fn parallel<T: Sync, R: Send>(jobs: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len().max(1));
        let next = AtomicUsize::new(0);
        let done = Mutex::new(Vec::with_capacity(jobs.len()));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = work(job);
                    done.lock().unwrap().push((i, r));
                });
            }
        });
        let mut done = done.into_inner().unwrap();
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, r)| r).collect()
    }
}
