//! The bodies of the fuzz targets (`fuzz/`), here so that `cargo test` replays the
//! inputs the fuzzers found (`tests/fuzz-crashes/`) through exactly the same code.
//!
//! Each body takes any bytes, runs them on a thread with the command line's stack, under
//! small [`limits`], and panics only on a real defect: a panic inside
//! deriv, a stack overflow (which aborts), an error without a message, or a printed
//! result that does not parse back to itself.

use std::time::Duration;

use crate::defs::Problem;
use crate::limits::{self, Limits};
use crate::print::{latex::to_latex, text::to_text};
use crate::simplify::{self, Form};

/// The limits each fuzz input runs under: small, so that the fuzzer stays fast.
pub const LIMITS: Limits = Limits { max_nodes: Some(200_000), timeout: Some(Duration::from_secs(2)) };

/// Runs `work` on a thread with a 1 GiB stack (as the command line does), passing on
/// its panic if it has one.
fn on_big_stack(work: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new().stack_size(1 << 30).spawn_scoped(s, work);
        match h.map(|h| h.join()) {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => panic!("cannot start a thread: {e}"),
        }
    });
}

/// Parses `data` as a program (definitions and an expression) and renders whatever
/// error it gives: every error must have a message.
pub fn parse(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else { return };
    on_big_stack(|| {
        let _ = limits::with_limits(LIMITS, || match Problem::load(&[], src) {
            Ok(p) => {
                let _ = to_text(&p.inlined_target());
            }
            Err(e) => assert!(e.to_string().starts_with("error: "), "an error without a message: {e:?}"),
        });
    });
}

/// Parses `data`, differentiates by its first variable, simplifies, prints as text and
/// LaTeX, and parses the text back: it must be the same expression.
pub fn roundtrip(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else { return };
    on_big_stack(|| {
        let _ = limits::with_limits(LIMITS, || {
            let Ok(p) = Problem::load(&[], src) else { return };
            let e = p.inlined_target();
            let x = e.free_vars().into_iter().next().unwrap_or_else(|| crate::Sym::new("x"));
            let d = crate::diff(&e, &x);
            let shown = simplify::simplify(&d, &p.names(Some(&x)), Form::Auto);
            let _ = to_latex(&shown);
            for r in [&e, &d, &shown] {
                let text = to_text(r);
                match crate::parse(&text) {
                    Ok(back) => assert!(back == *r, "`{text}` parses back as `{back}`"),
                    Err(err) => panic!("`{text}` does not parse back: {err}"),
                }
            }
        });
    });
}
