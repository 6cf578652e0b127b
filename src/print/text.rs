//! The plain-text printer: deriv's own input syntax, with minimal parentheses.
//!
//! The output parses back to the same expression (a property test holds it to that):
//! `x^2`, `-x`, `a - b`, `a/b`, `sqrt(x)`, `e^z`, `e^-z`, `g'(z)`, `f'[1](x, y)`. Exact
//! numbers print as integers, as `p/q`, or as decimals when the decimal is exact and
//! reads better (`0.044715`).

use std::fmt::{self, Write};

use num_traits::{One, Signed};

use super::{fraction, goes_below, is_negative, ordered_terms, pieces, Piece};
use crate::expr::{Cmp, Constant, Expr, Func, Node};
use crate::number::{self, Rational};
use crate::prec::Prec;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(self))
    }
}

/// The expression in deriv's input syntax. Under [`crate::limits::with_limits`], gives
/// up on an expression larger than `max_nodes` written out.
pub fn to_text(e: &Expr) -> String {
    crate::limits::check_size(e.tree_size());
    let mut out = String::new();
    super::printing(e, || match pieces(e) {
        Some(pieces) => {
            for (i, p) in pieces.iter().enumerate() {
                match i {
                    0 => write_piece(p, Prec::Neg, &mut out),
                    _ if p.is_negative() => {
                        out.push_str(" - ");
                        write_piece(&p.negated(), Prec::Product, &mut out);
                    }
                    _ => {
                        out.push_str(" + ");
                        write_piece(p, Prec::Product, &mut out);
                    }
                }
            }
        }
        None => write_expr(e, &mut out),
    });
    out
}

pub(crate) fn prec(e: &Expr) -> Prec {
    match e.node() {
        Node::Num(r) => num_prec(r),
        Node::Const(_) | Node::Var(_) => Prec::Atom,
        Node::Add(_) => Prec::Sum,
        Node::Mul(_) => {
            // What [`fraction`] would show, without building it: a negative coefficient
            // leads with a minus; a lone factor above no bar is that factor.
            let (coeff, factors) = (e.leading_num(), e.rest_factors());
            if coeff.is_some_and(|c| c.is_negative()) {
                return Prec::Neg;
            }
            let whole = coeff.is_none_or(|c| c.denom().is_one());
            let lone_coeff = coeff.is_some_and(|c| !c.numer().is_one());
            let below = |f: &Expr| matches!(f.node(), Node::Pow(b, x) if goes_below(b, x));
            match factors {
                [f] if whole && !lone_coeff && !below(f) => prec(f),
                [] if whole => Prec::Atom,
                _ => Prec::Product,
            }
        }
        Node::Pow(b, x) if goes_below(b, x) => Prec::Product,
        Node::Pow(_, x) if is_half(x) => Prec::Atom,
        Node::Pow(..) => Prec::Power,
        Node::Call(Func::Cmp(_), _) if super::heaviside_of(e).is_none() => Prec::Compare,
        Node::Call(..) => match e.as_exp() {
            Some(u) if u.is_one() => Prec::Atom,
            Some(_) => Prec::Power,
            None => Prec::Atom,
        },
    }
}

fn num_prec(r: &Rational) -> Prec {
    if r.is_negative() {
        Prec::Neg
    } else if r.is_integer() || number::decimal_digits(r).is_some() {
        Prec::Atom
    } else {
        Prec::Product
    }
}

fn is_half(x: &Expr) -> bool {
    x.as_num().is_some_and(|r| number::is(r, 1, 2))
}

fn write_paren(e: &Expr, min: Prec, out: &mut String) {
    if prec(e) < min {
        out.push('(');
        write_expr(e, out);
        out.push(')');
    } else {
        write_expr(e, out);
    }
}

/// A piece of a sum printed as a whole ([`pieces`]): a term (in parentheses below `min`),
/// or a group.
fn write_piece(p: &Piece, min: Prec, out: &mut String) {
    match p {
        Piece::Term(t) => write_paren(t, min, out),
        Piece::Group(c, s) => write_content(c, s, out),
    }
}

/// A sum as its content `c` times `rest` ([`super::Shared`]): `3*(1 - y^2)`, `-(1 + y^2)/2`,
/// `3*(x + y)/4`, `0.25*(x + y)` (a coefficient the printer writes as a decimal).
fn write_content(c: &Rational, rest: &Expr, out: &mut String) {
    if c.is_integer() || number::decimal_digits(c).is_some() {
        write_num(c, out);
        out.push('*');
        return write_paren(rest, Prec::Product, out);
    }
    if c.is_negative() {
        out.push('-');
    }
    if !c.numer().magnitude().is_one() {
        let _ = write!(out, "{}*", number::Digits(&c.numer().abs()));
    }
    write_paren(rest, Prec::Product, out);
    let _ = write!(out, "/{}", number::Digits(c.denom()));
}

fn write_num(r: &Rational, out: &mut String) {
    if r.is_integer() {
        let _ = write!(out, "{}", number::Digits(r.numer()));
    } else if let Some(d) = number::decimal_digits(r) {
        out.push_str(&d);
    } else {
        let _ = write!(out, "{}/{}", number::Digits(r.numer()), number::Digits(r.denom()));
    }
}

fn write_expr(e: &Expr, out: &mut String) {
    crate::limits::deep(|| write_node(e, out))
}

fn write_node(e: &Expr, out: &mut String) {
    // The output is a tree, as large as the expression written out: the clock hears of
    // every node, so a DAG printed without --max-nodes still ends within --timeout.
    crate::limits::tick();
    match e.node() {
        Node::Num(r) => write_num(r, out),
        Node::Const(Constant::Pi) => out.push_str("pi"),
        Node::Var(s) => out.push_str(super::var_name(s).as_str()),
        Node::Add(ts) => {
            for (i, t) in ordered_terms(ts).iter().enumerate() {
                if i == 0 {
                    write_paren(t, Prec::Neg, out);
                } else if is_negative(t) {
                    out.push_str(" - ");
                    write_paren(&Expr::negate(t.clone()), Prec::Product, out);
                } else {
                    out.push_str(" + ");
                    write_paren(t, Prec::Product, out);
                }
            }
        }
        Node::Mul(_) => write_fraction(e, out),
        Node::Pow(b, x) if goes_below(b, x) => write_fraction(e, out),
        Node::Pow(b, x) if is_half(x) => {
            out.push_str("sqrt(");
            write_expr(b, out);
            out.push(')');
        }
        Node::Pow(b, x) => {
            write_paren(b, Prec::Atom, out);
            out.push('^');
            write_exponent(x, out);
        }
        Node::Call(f, args) => {
            if let Some(u) = e.as_exp() {
                out.push('e');
                if !u.is_one() {
                    out.push('^');
                    write_exponent(u, out);
                }
                return;
            }
            match f {
                Func::Cmp(op) => {
                    match super::heaviside_of(e) {
                        Some(u) => {
                            out.push_str("heaviside(");
                            write_expr(u, out);
                            out.push(')');
                        }
                        None => write_comparison(*op, args, out),
                    }
                    return;
                }
                Func::If => {
                    out.push_str("if(");
                    let last = args.len() - 1;
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        match a.node() {
                            // A condition reads as a comparison: `if(x > 0, ...)`.
                            Node::Call(Func::Cmp(op), ab) if i % 2 == 0 && i < last => write_comparison(*op, ab, out),
                            _ => write_expr(a, out),
                        }
                    }
                    out.push(')');
                    return;
                }
                Func::Indexed(b) => {
                    out.push_str(b.as_str());
                    out.push('[');
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_expr(a, out);
                    }
                    out.push(']');
                    return;
                }
                Func::Sum(k) | Func::Prod(k) => {
                    out.push_str(f.name());
                    out.push('(');
                    // The bounds are outside the index's scope; the body inside.
                    let mut bounds = String::new();
                    if let Some([lo, hi]) = args.get(1..3) {
                        bounds.push('=');
                        write_expr(lo, &mut bounds);
                        bounds.push_str("..");
                        write_expr(hi, &mut bounds);
                    }
                    super::binding(k, &args[0], |name| {
                        out.push_str(name.as_str());
                        out.push_str(&bounds);
                        out.push_str(", ");
                        write_expr(&args[0], out);
                    });
                    out.push(')');
                    return;
                }
                _ => {}
            }
            out.push_str(f.name());
            if let Func::Abstract(a) = f {
                if args.len() == 1 {
                    out.push_str(&"'".repeat(a.partials.len()));
                } else if !a.partials.is_empty() {
                    let ps: Vec<String> = a.partials.iter().map(|p| (p + 1).to_string()).collect();
                    let _ = write!(out, "'[{}]", ps.join(","));
                }
            }
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(a, out);
            }
            out.push(')');
        }
    }
}

/// A comparison as written ([`super::comparison_sides`]), each side parenthesised only
/// where it is itself a comparison.
fn write_comparison(op: Cmp, args: &[Expr], out: &mut String) {
    let (left, sym, right) = super::comparison_sides(op, args);
    write_paren(&left, Prec::Sum, out);
    let _ = write!(out, " {sym} ");
    write_paren(&right, Prec::Sum, out);
}

/// Exponents stay bare when they are atoms or the negation of one (`x^2`, `e^-z`);
/// anything else is parenthesised (`x^(n - 1)`, `e^(-x^2/2)`).
fn write_exponent(x: &Expr, out: &mut String) {
    let neg = || Some(Expr::negate(x.clone())).filter(|n| prec(n) == Prec::Atom && !matches!(n.node(), Node::Num(_)));
    if prec(x) == Prec::Atom {
        write_expr(x, out);
    } else if let Some(neg) = is_negative(x).then(neg).flatten() {
        out.push('-');
        write_expr(&neg, out);
    } else {
        out.push('(');
        write_expr(x, out);
        out.push(')');
    }
}

fn write_fraction(e: &Expr, out: &mut String) {
    let fr = fraction(e);
    if !fr.negative {
        return write_unsigned_fraction(&fr, out);
    }
    // `-(a - b)*c` would read back as `(b - a)*c`: the sign must not land on a sum whose
    // negation is another sum. A lone sum of positive terms is safe: `-(a + b)/c` reads
    // back as `(-a - b)/c`, and a product takes the sign out of such a sum again.
    out.push('-');
    let sum_first = fr.coeff_numer().is_none() && fr.numer.iter().all(|f| matches!(f.node(), Node::Add(_)));
    let positive_sum = |f: &Expr| matches!(f.node(), Node::Add(ts) if !ts.iter().any(is_negative));
    let safe = matches!(fr.numer.as_slice(), [f] if positive_sum(f));
    if sum_first && !fr.numer.is_empty() && !safe {
        out.push('(');
        write_unsigned_fraction(&fr, out);
        out.push(')');
    } else {
        write_unsigned_fraction(&fr, out);
    }
}

/// Writes `parts` joined by `*`.
fn write_parts<'a>(parts: impl IntoIterator<Item = Part<'a>>, out: &mut String) {
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push('*');
        }
        write_part(part, out);
    }
}

/// A coefficient or a factor above or below the bar.
enum Part<'a> {
    Text(&'a str),
    Int(&'a num_bigint::BigInt),
    Factor(&'a Expr),
}

fn write_part(part: Part, out: &mut String) {
    match part {
        Part::Text(t) => out.push_str(t),
        Part::Int(n) => {
            let _ = write!(out, "{}", number::Digits(n));
        }
        Part::Factor(f) => write_paren(f, Prec::Product, out),
    }
}

fn write_unsigned_fraction(fr: &super::Fraction, out: &mut String) {
    let decimal = number::decimal_digits(&fr.coeff);
    let (coeff_numer, coeff_denom) = match &decimal {
        Some(d) => (Some(Part::Text(d)), None),
        None => (fr.coeff_numer().map(Part::Int), fr.coeff_denom()),
    };
    // Lead with a factor that is not a sum, where there is one, so that a leading
    // minus never lands on a sum (`-(a + b)*c` would read back as `(-a - b)*c`).
    let mut order: Vec<&Expr> = fr.numer.iter().collect();
    if let Some(i) = order.iter().position(|f| !matches!(f.node(), Node::Add(_))) {
        let lead = order.remove(i);
        order.insert(0, lead);
    }
    if coeff_numer.is_none() && order.is_empty() {
        out.push('1');
    }
    write_parts(coeff_numer.into_iter().chain(order.into_iter().map(Part::Factor)), out);
    match (coeff_denom, fr.denom.as_slice()) {
        (None, []) => {}
        (Some(d), []) => {
            let _ = write!(out, "/{}", number::Digits(d));
        }
        (None, [single]) => {
            out.push('/');
            write_paren(single, Prec::Power, out);
        }
        (d, fs) => {
            out.push_str("/(");
            write_parts(d.map(Part::Int).into_iter().chain(fs.iter().map(Part::Factor)), out);
            out.push(')');
        }
    }
}
