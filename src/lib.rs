//! deriv: symbolic differentiation that prints derivatives the way people write them.
//!
//! The pipeline is text → [`parse`] → [`Expr`] (canonical by construction) → [`diff`] →
//! printers ([`print::text`], [`print::latex`]), with every derivative checkable
//! numerically against forward-mode dual numbers ([`check`]).
//!
//! The sigmoid, differentiated and checked (this is `examples/sigmoid.rs`):
//!
//! ```
#![doc = include_str!("../examples/sigmoid.rs")]
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
pub mod poly;
pub mod prec;
pub mod print;
pub mod simplify;

pub use diff::{diff, diff_n, gradient};
pub use error::{Error, ErrorKind, Result};
pub use expr::{Expr, Node, Sym};

/// Parses one expression in deriv's syntax.
pub fn parse(src: &str) -> Result<Expr> {
    parse::parse_expr(src)
}
