//! deriv: symbolic differentiation that prints derivatives the way people write them.
//!
//! The pipeline is text → [`parse()`] → [`Expr`] (canonical by construction) → [`diff()`] →
//! printers ([`print::text`], [`print::latex`]), with every derivative checkable
//! numerically against forward-mode dual numbers ([`check`]).
//!
//! The sigmoid, differentiated and checked (this is `examples/sigmoid.rs`):
//!
//! ```
#![doc = include_str!("../examples/sigmoid.rs")]
//! ```

pub mod assume;
pub mod check;
#[cfg(feature = "cli")]
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
pub mod fuzz;
pub mod limits;
pub mod matrix;
pub mod names;
pub mod note;
pub mod number;
pub mod output;
pub mod parse;
pub mod poly;
pub mod prec;
pub mod print;
pub mod request;
pub mod reverse;
pub mod rng;
pub mod rules;
pub mod simplify;
pub mod stable;

pub use diff::{diff, diff_n, gradient};
pub use error::{Error, ErrorKind, Result};
pub use expr::{Expr, Node, Sym};
pub use matrix::{hessian, jacobian};

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
    let names = problem.names(Some(&x));
    let form = matrix::Options::new(&problem).form;
    Ok(simplify::simplify(&diff(&problem.inlined_target(), &x), &names, form))
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

fn problem_and_variable(src: &str, wrt: &str) -> Result<(defs::Problem, Sym)> {
    let problem = defs::Problem::load(&[], src)?;
    let x = problem.variable(wrt)?;
    Ok((problem, x))
}
