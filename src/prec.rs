//! The one precedence table of the printers: text, LaTeX, and the steps of a derivation.
//! The parser does not read it; its productions (`grammar/deriv.ebnf`) have the same
//! levels, and the property that printing parses back (`tests/props.rs`) keeps the two
//! in step.
//!
//! Levels from loosest to tightest. `^` is right-associative, and a unary minus binds
//! looser than `^` (`-x^2` is `-(x^2)`) but may open an exponent (`e^-z`).

/// How tightly a printed form binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prec {
    /// `a > b`, `a <= b`, ...: only bare at the top, in an argument or as a condition.
    Compare,
    /// `a + b`, `a - b`.
    Sum,
    /// `-a`.
    Neg,
    /// `a*b`, `a/b`.
    Product,
    /// `a^b`.
    Power,
    /// Numbers, names, calls, parenthesised groups.
    Atom,
}
