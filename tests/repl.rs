//! The REPL: typed at through a pseudo-terminal as a person would (the line editor,
//! its prompt, history and Ctrl-D), and fed lines from a pipe.

use crate::support::run_with_stdin;

/// A session from a pipe: definitions persist, every kind of line answers, an error is
/// shown with its caret under the line typed and the session goes on.
#[test]
fn a_session_from_a_pipe() {
    let script = "\
p = sigmoid(z)
diff p wrt z
E = -(t*ln(p) + (1 - t)*ln(1 - p))
diff E wrt z
grad E wrt z, t
diff x^ wrt x
diff q(x wrt x
g = sigmod(x)
diff g wrt x
simplify e^x/(1 + e^x)
latex p^2/2
eval p at z=0
eval 2^100
:steps on
diff p^2 wrt z
:steps off
assume t1 + t2 = 1
:nope
x*x + x
:defs
";
    let r = run_with_stdin(&["repl"], script.as_bytes());
    insta::assert_snapshot!(format!("exit: {}\n--- stdout\n{}--- stderr\n{}", r.code, r.stdout, r.stderr));
}

#[test]
fn a_session_ends_at_quit_and_says_whether_a_line_failed() {
    let r = run_with_stdin(&["repl"], b"p = sigmoid(z)\n:quit\ndiff p wrt z\n");
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    // A later definition uses an earlier one; a failed line sets the exit code.
    let r = run_with_stdin(&["repl"], b"a = x^2\nb = a + 1\ndiff b wrt x\nq = (\n");
    assert_eq!((r.code, r.stdout.as_str()), (2, "2*x\n"), "{}", r.stderr);
}

#[test]
fn a_name_defined_again_is_used_in_its_new_definition() {
    let r = run_with_stdin(&["repl"], b"p = sigmoid(z)\nE = p^2\ndiff E wrt z\np = tanh(z)\ndiff E wrt z\n:defs\n");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(r.stdout, "2*E*(1 - p)\n2*p*(1 - E)\np = tanh(z)\nE = p^2\n");
    // Not where the new line would drop another name, or make a cycle.
    let r = run_with_stdin(&["repl"], b"a = 1; b = 2\na = 3\np = x\nE = p^2\np = E\n:defs\n");
    assert_eq!(r.stdout, "a = 1; b = 2\np = x\nE = p^2\n");
    assert!(r.stderr.contains("`a` is already defined") && r.stderr.contains("cycle: p -> E -> p"), "{}", r.stderr);
}

#[cfg(unix)]
mod terminal {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// How long any one answer may take to appear (a debug build on a loaded machine).
    const PATIENCE: Duration = Duration::from_secs(60);

    /// The terminal's side of a pseudo-terminal: what the program wrote, as a person
    /// would see it (escape sequences and carriage returns taken out), and keys to type.
    struct Screen {
        seen: Arc<Mutex<Vec<u8>>>,
        keys: std::fs::File,
    }

    impl Screen {
        /// The text shown so far.
        fn text(&self) -> String {
            plain(&self.seen.lock().unwrap())
        }

        /// Types `keys`, then waits for the editor's next prompt at the start of a line:
        /// the text shown in between (with the newline before the prompt).
        fn type_line(&mut self, keys: &str) -> String {
            let from = self.text().len();
            self.keys.write_all(keys.as_bytes()).unwrap();
            self.keys.flush().unwrap();
            self.wait_for(from, "\nderiv> ")
        }

        /// The text from `from` up to the first `needle` after it, once it appears (with
        /// the needle's leading newline, if it has one).
        fn wait_for(&self, from: usize, needle: &str) -> String {
            let start = Instant::now();
            loop {
                let text = self.text();
                if let Some(i) = text.get(from..).and_then(|t| t.find(needle)) {
                    return text[from..from + i + usize::from(needle.starts_with('\n'))].to_owned();
                }
                assert!(start.elapsed() < PATIENCE, "no {needle:?} after {from} in:\n{text}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Terminal output as seen: CSI and other escape sequences removed, `\r` dropped.
    fn plain(bytes: &[u8]) -> String {
        let s = String::from_utf8_lossy(bytes);
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    if chars.next_if_eq(&'[').is_some() {
                        // Parameters and intermediates, then one final byte.
                        while chars.next_if(|c| !('@'..='~').contains(c)).is_some() {}
                    }
                    chars.next();
                }
                '\r' => {}
                c => out.push(c),
            }
        }
        out
    }

    /// Types a session at `deriv` on a pseudo-terminal: definitions, a derivative, an
    /// error (its caret under the line typed), the history, and Ctrl-D to leave.
    #[test]
    fn a_session_on_a_terminal() {
        let size = nix::pty::Winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(Some(&size), None).expect("a pseudo-terminal");
        let history = std::env::temp_dir().join(format!("deriv-repl-test-{}.history", std::process::id()));
        let _ = std::fs::remove_file(&history);
        let mut child = {
            let side = |fd: &std::os::fd::OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_deriv"));
            cmd.env("DERIV_HISTORY", &history)
                .env("TERM", "xterm")
                .env_remove("NO_COLOR")
                .env_remove("CLICOLOR_FORCE")
                .stdin(side(&pty.slave))
                .stdout(side(&pty.slave))
                .stderr(side(&pty.slave));
            let child = cmd.spawn().expect("spawn deriv");
            drop(pty.slave);
            child
        };
        let master = std::fs::File::from(pty.master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (seen, mut from, mut answer) = (seen.clone(), master.try_clone().unwrap(), master.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Read until the program has gone (EIO once no one holds the terminal).
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    let mut seen = seen.lock().unwrap();
                    let before = seen.windows(4).filter(|w| w == b"\x1b[6n").count();
                    seen.extend_from_slice(&buf[..n]);
                    // A terminal answers a request for the cursor's position.
                    for _ in before..seen.windows(4).filter(|w| w == b"\x1b[6n").count() {
                        let _ = answer.write_all(b"\x1b[1;1R");
                    }
                }
            })
        };
        let mut screen = Screen { seen, keys: master };
        let banner = screen.wait_for(0, "deriv> ");
        assert!(banner.contains("Ctrl-D"), "{banner}");
        screen.type_line("p = sigmoid(z)\r");
        let shown = screen.type_line("diff p wrt z\r");
        assert!(shown.contains("\np*(1 - p)\n"), "{shown}");
        let shown = screen.type_line("E = -(t*ln(p) + (1 - t)*ln(1 - p))\r");
        assert!(!shown.contains("error"), "{shown}");
        let shown = screen.type_line("diff E wrt z\r");
        assert!(shown.contains("\np - t\n"), "{shown}");
        let shown = screen.type_line("diff x^ wrt x\r");
        assert!(shown.contains("error: expected an expression, found end of input"), "{shown}");
        assert!(shown.contains("1 | diff x^ wrt x\n  |        ^\n"), "{shown}");
        // On a terminal the error is coloured.
        assert!(String::from_utf8_lossy(&screen.seen.lock().unwrap()).contains("\x1b[1;31merror"));
        // The session went on after the error, with its definitions.
        let shown = screen.type_line("grad E wrt z, t\r");
        assert!(shown.contains("\np - t\nln(1 - p) - ln(p)\n"), "{shown}");
        // Ctrl-D at an empty line leaves, with exit code 0, and the history is kept.
        screen.keys.write_all(b"\x04").unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > PATIENCE {
                let _ = child.kill();
                panic!("Ctrl-D did not end the REPL:\n{}", screen.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{}", screen.text());
        drop(screen);
        let _ = reader.join();
        let kept = std::fs::read_to_string(&history).unwrap_or_default();
        let _ = std::fs::remove_file(&history);
        assert!(kept.contains("diff p wrt z") && kept.contains("grad E wrt z, t"), "history: {kept:?}");
    }
}

#[test]
fn a_plot_line_says_where_charts_are_drawn_and_the_session_goes_on() {
    let r = run_with_stdin(&["repl"], b"q = tanh(u)\nplot q, d/du q\ndiff q wrt u\n");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("the REPL cannot show a chart") && r.stderr.contains("deriv plot"), "{}", r.stderr);
    assert_eq!(r.stdout, "1 - q^2\n");
}

#[test]
fn functions_defined_in_a_session_persist_and_may_be_defined_again() {
    let script = "σ(z) = 1/(1 + e^-z)\ndiff σ(2*x) wrt x\nL(a, t) = (a - t)^2/2\ndiff L(σ(w*x), t) wrt w\n\
                  σ(z) = tanh(z)\ndiff σ(x) wrt x\n";
    let r = run_with_stdin(&["repl"], script.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines, ["2*σ(2*x)*(1 - σ(2*x))", "x*σ(w*x)*(1 - σ(w*x))*(σ(w*x) - t)", "1 - σ(x)^2"]);
}
