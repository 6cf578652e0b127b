//! deriv: symbolic differentiation that prints derivatives the way people write them.
//!
//! SymPy simplifies the derivative of the sigmoid `e^z/(1+e^z)` to
//! `exp(z)/(exp(2*z) + 2*exp(z) + 1)`; a person writes `p(1 - p)`, the derivative in
//! terms of what the forward pass already computed. deriv finds such forms itself, for
//! functions nobody listed, and proves every one numerically:
//!
//! ```
#![doc = include_str!("../examples/sigmoid.rs")]
//! ```
//!
//! # The pipeline
//!
//! Text is read by [`parse()`] (one expression) or [`Problem::load`] (definitions, ending
//! in the expression to differentiate) into an [`Expr`]: a hash-consed DAG, canonical by
//! construction. [`diff()`] and [`gradient()`] differentiate it (forward and reverse
//! accumulation over one table of rules); [`simplify()`] searches for the cheapest form,
//! in terms of the problem's names where that is cheaper; [`derivative()`] and
//! [`derivation()`] do all of it at once, as `deriv diff` and `deriv diff --steps` do.
//! The printers ([`print::text`], which reads back, and [`print::latex`]), the code
//! generator ([`codegen`]) and notes ([`note`]) write the results, and [`check()`]
//! verifies a derivative against forward-mode dual numbers ([`mod@check`], [`eval`]).
//! [`request`] answers the command line's requests and [`output`] renders them.
//!
//! # Limits
//!
//! Work that could explode runs within [`limits::with_limits`] (a node count and a
//! timeout). Input as deep as the parser accepts (2,000 levels within an expression,
//! 10,000 with definitions inlined) needs no more than a default 2 MiB thread stack:
//! recursive stages move to a fresh stack segment when the current one runs low.
//!
//! # Features
//!
//! `cli` (on by default) builds the `deriv` binary and its argument parser (clap); the
//! library itself needs none of it: `cargo build --lib --no-default-features`. `plot`
//! (on by default) draws charts as SVG with plotters: `plot()`, [`plot::svg`], and the
//! figures of notes' `plot` lines.

#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

pub(crate) mod assume;
pub mod check;
// The command line (the `deriv` binary and its in-process tests): not an API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod codegen;
pub mod cse;
pub mod defs;
pub mod derivation;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod func;
pub mod indexed;
// Entry points for the fuzz targets in `fuzz/`: not an API.
#[doc(hidden)]
pub mod fuzz;
pub mod limits;
pub mod matrix;
pub(crate) mod names;
pub mod note;
pub mod number;
pub mod output;
pub(crate) mod parse;
pub mod plot;
pub(crate) mod poly;
pub(crate) mod prec;
pub mod print;
pub mod request;
pub mod reverse;
pub(crate) mod rng;
pub(crate) mod rules;
pub mod simplify;
pub mod specialise;
pub(crate) mod stable;

pub use check::check;
pub use defs::Problem;
pub use derivation::Derivation;
pub use diff::{diff, diff_n, gradient};
pub use error::{Error, ErrorKind, Result};
pub use expr::{Expr, Node, Sym};
pub use matrix::{hessian, jacobian};
pub use simplify::simplify;

/// Parses one expression in deriv's syntax.
pub fn parse(src: &str) -> Result<Expr> {
    parse::parse_expr(src)
}

/// The derivative of `src` (an expression, or definitions ending in the one to
/// differentiate) by `wrt`, simplified into the form `deriv diff` prints: in terms of the
/// defined names where that is cheaper.
///
/// ```
/// let d = deriv::derivative("p = e^z/(1+e^z)", "z").unwrap();
/// assert_eq!(d.to_string(), "p*(1 - p)");
/// ```
pub fn derivative(src: &str, wrt: &str) -> Result<Expr> {
    let (problem, x) = problem_and_variable(src, wrt)?;
    let target = problem.inlined_target();
    let shown = matrix::derivatives(&problem, &target, &x, 1, &matrix::Options::new(&problem)).pop();
    Ok(shown.map_or(target, |d| d.shown))
}

/// The step-by-step derivation of `src` by `wrt`; its `Display` is what
/// `deriv diff --steps` prints, stable from run to run, so it snapshots well:
///
/// ```
/// let steps = deriv::derivation("p = e^z/(1+e^z)", "z").unwrap();
/// assert!(steps.to_string().ends_with("p*(1 - p)                                                # substitute e^z = p/(1 - p)\n"));
/// ```
pub fn derivation(src: &str, wrt: &str) -> Result<derivation::Derivation> {
    let (problem, x) = problem_and_variable(src, wrt)?;
    derivation::Derivation::new(&problem, &x, matrix::Options::new(&problem).form)
}

/// The chart of `src` (an expression, or definitions ending in it) and its derivatives
/// of `orders` (0 is the function) by `wrt` over `range`, as an SVG document: what
/// `deriv plot` writes, and what an HTML note shows for a `plot` line (see the `plot`
/// module for how it is sampled).
///
/// ```
/// let svg = deriv::plot("sigmoid(z)", "z", &[0, 1], (-6.0, 6.0)).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("d/dz sigmoid(z) = "));
/// ```
#[cfg(feature = "plot")]
pub fn plot(src: &str, wrt: &str, orders: &[u64], range: (f64, f64)) -> Result<String> {
    let input = request::Input::load(&[], src)?;
    let req = plot::Request { wrt: Some(wrt.to_owned()), range: Some(range), settings: request::Settings::default() };
    plot::svg(&plot::chart(&[(input, orders.to_vec())], &req)?)
}

fn problem_and_variable(src: &str, wrt: &str) -> Result<(defs::Problem, Sym)> {
    let problem = defs::Problem::load(&[], src)?;
    let x = problem.variable(wrt)?;
    Ok((problem, x))
}
