//! Hard limits on one piece of work: how many expression nodes it may build, and how
//! long it may run.
//!
//! Inputs can ask for work that explodes (a derivative of `sin(sin(...))` written out
//! in full, a DAG of definitions printed as a tree). Every stage builds its nodes
//! through the interner in `expr.rs`, which charges each new node here; every
//! construction (found or new) and every step of a walk over an expression [`tick`]s,
//! and every [`CLOCK_EVERY`] ticks the clock is read, so work that only revisits nodes
//! already there still ends in time. Loops that do long work without building nodes
//! (polynomial arithmetic) call `check`. When a limit is passed the work is abandoned
//! by unwinding, without running the panic hook, to the nearest [`with_limits`], which
//! returns [`Exceeded`]. Outside [`with_limits`] nothing is limited, so library calls
//! behave as before unless the caller opts in; the command line always does.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The limits of one piece of work; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// How many expression nodes the work may build (new nodes, counted as they are
    /// interned), and how many nodes a result may have when written out in full.
    pub max_nodes: Option<u64>,
    /// How long the work may run.
    pub timeout: Option<Duration>,
}

/// The defaults of the command line: `--max-nodes 2000000 --timeout 60`.
pub const DEFAULT: Limits =
    Limits { max_nodes: Some(DEFAULT_MAX_NODES), timeout: Some(Duration::from_secs(DEFAULT_TIMEOUT_SECS)) };

/// The node limit of [`DEFAULT`].
pub const DEFAULT_MAX_NODES: u64 = 2_000_000;

/// The time limit of [`DEFAULT`], in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

impl Limits {
    /// The limits given as `--max-nodes` and `--timeout` are: a count of nodes and a
    /// number of seconds, 0 meaning no limit. `None` when the timeout is negative, not a
    /// number, or beyond any sensible wait (10⁹ s).
    pub fn from_flags(max_nodes: u64, timeout_secs: f64) -> Option<Limits> {
        (0.0..=1e9).contains(&timeout_secs).then(|| Limits {
            max_nodes: (max_nodes > 0).then_some(max_nodes),
            timeout: (timeout_secs > 0.0).then(|| Duration::from_secs_f64(timeout_secs)),
        })
    }
}

/// Which limit a piece of work ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    /// It built more nodes than `max_nodes`.
    Nodes(u64),
    /// It ran longer than `timeout`.
    Time(Duration),
}

/// How often (in nodes built) the clock is read.
pub const CLOCK_EVERY: u64 = 1024;

#[derive(Clone, Copy)]
struct Budget {
    limits: Limits,
    start: Option<Instant>,
    nodes: u64,
}

thread_local! {
    static BUDGET: Cell<Budget> = const { Cell::new(Budget { limits: Limits { max_nodes: None, timeout: None }, start: None, nodes: 0 }) };
    /// The work left to the innermost [`within`], if any.
    static WORK: Cell<Option<u64>> = const { Cell::new(None) };
    /// Steps counted by [`tick`].
    static TICKS: Cell<u64> = const { Cell::new(0) };
}

/// The payload that unwinds out of work whose [`within`] budget ran out.
struct WorkSpent;

/// Runs `work` with at most `budget` units of work (a node built, or a row of polynomial
/// arithmetic, is one unit): its result (`None` when the budget ran out first) and the
/// units it spent. The
/// simplifier runs each search for a cheaper form this way, so that a search that grows
/// too costly is abandoned and the part keeps the form it had. Budgets nest (an inner
/// Runs `f` with room on the stack: when less than [`RED_ZONE`] is left, `f` runs on a
/// fresh segment of [`SEGMENT`] bytes instead (the `stacker` crate, as rustc does). Every
/// recursive stage calls it once per level, so recursion as deep as the parser and
/// `defs.rs` allow fits on any thread's stack, the default 2 MiB of a spawned thread
/// included.
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// The stack [`deep`] wants left before it recurses: more than any one level uses.
pub(crate) const RED_ZONE: usize = 128 * 1024;

/// The size of each stack segment [`deep`] adds.
pub(crate) const SEGMENT: usize = 4 * 1024 * 1024;

/// one takes no more than the outer has left), and the outer [`with_limits`] still holds.
pub fn within<T>(budget: u64, work: impl FnOnce() -> T) -> (Option<T>, u64) {
    let outer = WORK.with(Cell::get);
    let inner = outer.map_or(budget, |o| o.min(budget));
    WORK.with(|w| w.set(Some(inner)));
    let res = panic::catch_unwind(AssertUnwindSafe(work));
    let spent = inner - WORK.with(Cell::get).unwrap_or(0).min(inner);
    // What the inner work spent is spent for the outer budget too.
    WORK.with(|w| w.set(outer.map(|o| o.saturating_sub(spent))));
    match res {
        Ok(v) => (Some(v), spent),
        Err(payload) => match payload.downcast::<WorkSpent>() {
            Ok(_) => (None, spent),
            Err(other) => panic::resume_unwind(other),
        },
    }
}

/// Runs `work` and says how many units of the innermost [`within`] budget it spent (0
/// outside any). A cache charges a hit what the miss cost, so that what a budgeted
/// search achieves does not depend on what earlier work left in the cache.
pub(crate) fn metered<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let before = WORK.with(Cell::get);
    let v = work();
    let after = WORK.with(Cell::get);
    (v, before.zip(after).map_or(0, |(b, a)| b.saturating_sub(a)))
}

/// A memo hit recorded with [`metered`]'s count: the value, once the work it cost is
/// charged again.
pub(crate) fn recall<V: Clone>(hit: Option<&(V, u64)>) -> Option<V> {
    hit.map(|(v, work)| {
        spend_work(*work);
        v.clone()
    })
}

/// Whether the innermost [`within`] budget (if any) has work left.
#[cfg(test)]
fn work_left() -> bool {
    WORK.with(Cell::get) != Some(0)
}

/// Spends one unit of the innermost [`within`] budget, unwinding to it when none is left.
fn spend() {
    spend_work(1);
}

/// Spends `n` units of the innermost [`within`] budget, unwinding to it when fewer are
/// left; and gives up when the time is out. Arithmetic whose cost grows with the size of
/// its numbers charges that size.
pub(crate) fn spend_work(n: u64) {
    let left = WORK.with(Cell::get);
    if let Some(left) = left {
        if left < n {
            WORK.with(|w| w.set(Some(0)));
            panic::resume_unwind(Box::new(WorkSpent));
        }
        WORK.with(|w| w.set(Some(left - n)));
    }
}

/// Runs `work` under `limits` on this thread: its result, or the limit it ran into.
/// Limits nest: an inner call replaces the outer limits until it returns. A panic that
/// is not a limit passes through unchanged.
pub fn with_limits<T>(limits: Limits, work: impl FnOnce() -> T) -> Result<T, Exceeded> {
    let outer = BUDGET.with(|b| b.replace(Budget { limits, start: Some(Instant::now()), nodes: 0 }));
    let res = panic::catch_unwind(AssertUnwindSafe(work));
    BUDGET.with(|b| b.set(outer));
    match res {
        Ok(v) => Ok(v),
        Err(payload) => match payload.downcast::<Exceeded>() {
            Ok(e) => Err(*e),
            Err(other) => panic::resume_unwind(other),
        },
    }
}

/// The `max_nodes` in force on this thread, if any.
pub fn max_nodes() -> Option<u64> {
    BUDGET.with(|b| b.get().limits.max_nodes)
}

/// Abandons the work with `e` (unwinds to [`with_limits`] without the panic hook).
fn give_up(e: Exceeded) -> ! {
    panic::resume_unwind(Box::new(e))
}

/// Starts the count of nodes built again (not the clock): each run of `--repeat` builds
/// its nodes afresh and is held to `max_nodes` on its own.
pub(crate) fn restart_node_count() {
    BUDGET.with(|b| {
        let mut v = b.get();
        v.nodes = 0;
        b.set(v);
    });
}

/// Charges one new node, and reads the clock every [`CLOCK_EVERY`] nodes.
pub(crate) fn charge_node() {
    let b = BUDGET.with(|b| {
        let mut v = b.get();
        v.nodes += 1;
        b.set(v);
        v
    });
    if let Some(max) = b.limits.max_nodes {
        if b.nodes > max {
            give_up(Exceeded::Nodes(max));
        }
    }
    if b.nodes.is_multiple_of(CLOCK_EVERY) {
        check();
    }
}

/// Gives up when the time is out. Long loops that build no nodes call this (and spend
/// one unit of a [`within`] budget).
pub(crate) fn check() {
    spend();
    check_time();
}

/// Counts one step of a walk over expressions (or one construction, found or new), and
/// every [`CLOCK_EVERY`] steps gives up when the time is out. Spends no [`within`] budget,
/// so a walk that ticks finds the same forms as before, only it can be stopped: the
/// traversals of `expr.rs` tick once per node, so no walk over a DAG, however large its
/// tree, outlives `--timeout`.
#[inline]
pub fn tick() {
    let n = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if n.is_multiple_of(CLOCK_EVERY) {
        check_time();
    }
}

/// How many steps [`tick`] has counted on this thread so far (wrapping): the work of a
/// walk that builds nothing, which a [`within`] budget does not see, is the difference
/// of two readings.
pub fn ticks() -> u64 {
    TICKS.with(Cell::get)
}

fn check_time() {
    let b = BUDGET.with(Cell::get);
    if let (Some(t), Some(start)) = (b.limits.timeout, b.start) {
        if start.elapsed() > t {
            give_up(Exceeded::Time(t));
        }
    }
}

/// Gives up when a result of `n` nodes, written out, would be more than `max_nodes`.
pub(crate) fn check_size(n: u64) {
    if let Some(max) = max_nodes() {
        if n > max {
            give_up(Exceeded::Nodes(max));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_reported_and_lifted() {
        let r = with_limits(Limits { max_nodes: Some(10), timeout: None }, || {
            for _ in 0..100 {
                charge_node();
            }
        });
        assert_eq!(r, Err(Exceeded::Nodes(10)));
        // Outside, nothing is limited.
        for _ in 0..100 {
            charge_node();
        }
        let r = with_limits(Limits { max_nodes: None, timeout: Some(Duration::ZERO) }, || {
            std::thread::sleep(Duration::from_millis(2));
            check();
        });
        assert_eq!(r, Err(Exceeded::Time(Duration::ZERO)));
        // Ticks spend no work budget, and read the clock.
        assert_eq!(within(1, || (0..CLOCK_EVERY).for_each(|_| tick())), (Some(()), 0));
        let r = with_limits(Limits { max_nodes: None, timeout: Some(Duration::ZERO) }, || {
            std::thread::sleep(Duration::from_millis(2));
            (0..CLOCK_EVERY).for_each(|_| tick());
        });
        assert_eq!(r, Err(Exceeded::Time(Duration::ZERO)));
        assert_eq!(with_limits(DEFAULT, || 7), Ok(7));
    }

    #[test]
    fn budgets_nest_and_run_out() {
        assert_eq!(within(10, || 3), (Some(3), 0));
        let spent = within(5, || {
            for _ in 0..6 {
                check();
            }
        });
        assert_eq!(spent, (None, 5));
        // An inner budget takes no more than the outer has left, and spends the outer's.
        let r = within(10, || {
            for _ in 0..4 {
                check();
            }
            let inner = within(100, || {
                for _ in 0..7 {
                    check();
                }
            });
            (inner.0, work_left())
        });
        assert_eq!(r, (Some((None, false)), 10));
        assert!(work_left());
    }
}
