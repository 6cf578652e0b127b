//! deriv: symbolic differentiation that prints derivatives the way people write them.
//!
//! The pipeline is text → [`parse`] → [`Expr`] (canonical by construction) → [`diff`] →
//! printers ([`print::text`], [`print::latex`]), with every derivative checkable
//! numerically against forward-mode dual numbers ([`check`]).
//!
//! ```
//! let e = deriv::parse("e^z/(1+e^z)").unwrap();
//! let d = deriv::diff(&e, &deriv::Sym::new("z"));
//! let report = deriv::check::check_chain(&[e, d.clone()], &deriv::Sym::new("z"), 10, 1).unwrap();
//! assert!(report.max_error < 1e-12);
//! assert_eq!(d.to_string(), "e^z/(1 + e^z) - e^(2*z)/(1 + e^z)^2");
//! ```

pub mod check;
pub mod cli;
pub mod defs;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod func;
pub mod number;
pub mod parse;
pub mod prec;
pub mod print;

pub use diff::{diff, diff_n, gradient};
pub use error::{Error, ErrorKind, Result};
pub use expr::{Expr, Node, Sym};

/// Parses one expression in deriv's syntax.
pub fn parse(src: &str) -> Result<Expr> {
    parse::parse_expr(src)
}
