//! Expressions printed as code in one language, with the fewest parentheses.
//!
//! A [`Printer`] turns an expression (in stable form, with shared intermediates already
//! named) into a [`Code`]: text and the precedence of its outermost operation. Products
//! print as `a * b / (c * d)`, sums as `a - b + c`, powers through the language's
//! `powi`/`powf`/`sqrt`/real-root forms, a built-in's call through the `code` column of
//! its row ([`crate::func::FuncDef::code`]), the other operations through the templates
//! of [`super::lang::OPS`]. An argument a template uses twice goes into a local first
//! (`let t1: f64 = ...;`), pushed to [`Printer::stmts`].

use std::collections::{BTreeSet, HashMap, HashSet};

use num_traits::{One, ToPrimitive};

use super::lang::{self, Lang};
use crate::expr::{Constant, Expr, Func, Node, Sym};
use crate::func::Builtin;
use crate::number::{self, Rational};
use crate::print::{fraction, goes_below, is_negative, ordered_terms};
use crate::stable::Block;

/// How tightly code binds, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Prec {
    /// A conditional expression (Python's `a if c else b`, Rust's `if c { a } else { b }`).
    Cond,
    /// `a > b`, `a == b`, ...
    Compare,
    /// `a + b`, `a - b`.
    Sum,
    /// `a * b`, `a / b`.
    Product,
    /// `-a`.
    Unary,
    /// Python's `a ** b`.
    Power,
    /// Names, literals, calls, method calls, parenthesised code.
    Postfix,
}

/// Printed code and how tightly it binds.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    pub text: String,
    pub prec: Prec,
    /// A numeric literal (Rust needs `_f64` on one that receives a method call).
    pub literal: bool,
}

impl Code {
    fn new(text: String, prec: Prec) -> Code {
        Code { text, prec, literal: false }
    }

    fn is_atom(&self) -> bool {
        self.literal || self.text.chars().all(|c| c.is_ascii_alphanumeric() || "_.:".contains(c))
    }

    /// An atom or its negation: as cheap to write twice as to name.
    fn is_cheap(&self) -> bool {
        let t = self.text.strip_prefix('-').unwrap_or(&self.text);
        self.is_atom() || Code::new(t.to_owned(), self.prec).is_atom()
    }
}

/// Fresh local names, avoiding every name taken.
pub(crate) struct Fresh {
    taken: HashSet<String>,
    n: usize,
}

impl Fresh {
    pub fn new(taken: impl IntoIterator<Item = String>) -> Fresh {
        Fresh { taken: taken.into_iter().collect(), n: 0 }
    }

    /// A new name `tN`.
    pub fn next(&mut self) -> String {
        loop {
            self.n += 1;
            let s = format!("t{}", self.n);
            if self.taken.insert(s.clone()) {
                return s;
            }
        }
    }
}

/// Prints expressions of one function body.
pub(crate) struct Printer<'a> {
    pub lang: Lang,
    /// Code names of the inputs and of the intermediates defined so far.
    pub names: HashMap<Sym, String>,
    /// Blocks used once, printed where they are used.
    pub inline: HashMap<Sym, Code>,
    /// Locals in order: `(name, code)`.
    pub stmts: Vec<(String, String)>,
    /// Helpers the code calls.
    pub helpers: BTreeSet<&'static str>,
    /// Names of the symbols printed.
    pub used: HashSet<Sym>,
    pub fresh: &'a mut Fresh,
}

/// A float literal that reads back as exactly `v`, with a `.` or an exponent.
fn literal(v: f64) -> String {
    format!("{v:?}")
}

impl Printer<'_> {
    /// `code` in parentheses when it binds looser than `min`.
    fn paren(code: &Code, min: Prec) -> String {
        if code.prec < min {
            format!("({})", code.text)
        } else {
            code.text.clone()
        }
    }

    /// `code` as a name or literal (or its negation): put in a local when it is neither.
    pub fn hoist(&mut self, code: Code) -> Code {
        if code.is_cheap() {
            return code;
        }
        let name = self.fresh.next();
        self.stmts.push((name.clone(), code.text));
        Code::new(name, Prec::Postfix)
    }

    /// The operation `name` of [`lang::OPS`] applied to printed arguments.
    pub fn op(&mut self, name: &str, args: Vec<Code>) -> Code {
        let Some(row) = lang::op(name) else { return Code::new("f64::NAN".into(), Prec::Postfix) };
        self.apply(name, &row.code, args)
    }

    /// The operation `name`, written `code` (a template per language), applied to printed
    /// arguments.
    fn apply(&mut self, name: &str, code: &[&'static str; 4], args: Vec<Code>) -> Code {
        let template = code[self.lang.col()];
        if let Some(h) = lang::HELPERS.iter().find(|h| h.lang == self.lang && h.ops.contains(&name)) {
            self.helpers.insert(h.code);
        }
        let pieces = parse_template(template);
        let uses = |i: usize| pieces.iter().filter(|p| matches!(p, Piece::Arg(j, _) if *j == i)).count();
        let args: Vec<Code> =
            args.into_iter().enumerate().map(|(i, a)| if uses(i) > 1 { self.hoist(a) } else { a }).collect();
        let mut text = String::new();
        for p in &pieces {
            match p {
                Piece::Text(t) => text.push_str(t),
                Piece::Arg(i, ctx) => {
                    let Some(a) = args.get(*i) else { continue };
                    match ctx {
                        Ctx::Delimited => text.push_str(&a.text),
                        Ctx::Receiver if a.literal && self.lang == Lang::Rust => {
                            if a.text.starts_with('-') {
                                text.push_str(&format!("({}_f64)", a.text));
                            } else {
                                text.push_str(&format!("{}_f64", a.text));
                            }
                        }
                        Ctx::Receiver | Ctx::Operand => text.push_str(&Self::paren(a, Prec::Postfix)),
                    }
                }
            }
        }
        Code::new(text, template_prec(template))
    }

    /// A number.
    fn number(&mut self, r: &Rational) -> Code {
        let v = number::to_f64(r);
        if v.is_infinite() {
            let inf = self.op("inf", Vec::new());
            return if v < 0.0 { Code::new(format!("-{}", inf.text), Prec::Unary) } else { inf };
        }
        let prec = if v < 0.0 { Prec::Unary } else { Prec::Postfix };
        Code { text: literal(v), prec, literal: true }
    }

    /// The code for `e`.
    pub fn expr(&mut self, e: &Expr) -> Code {
        crate::limits::deep(|| self.expr_node(e))
    }

    fn expr_node(&mut self, e: &Expr) -> Code {
        match e.node() {
            Node::Num(r) => self.number(r),
            Node::Const(Constant::Pi) => self.op("pi", Vec::new()),
            Node::Var(s) => {
                if let Some(c) = self.inline.get(s) {
                    return c.clone();
                }
                self.used.insert(s.clone());
                Code::new(self.names.get(s).cloned().unwrap_or_else(|| s.to_string()), Prec::Postfix)
            }
            Node::Add(ts) => self.sum(ts),
            Node::Mul(_) => self.product(e),
            Node::Pow(b, x) if goes_below(b, x) => self.product(e),
            Node::Pow(b, x) => self.power(b, x),
            Node::Call(Func::Builtin(f), args) => {
                let a = self.expr(&args[0]);
                self.apply(f.name(), &f.def().code, vec![a])
            }
            Node::Call(Func::Cmp(_), _) => {
                let c = self.condition(e);
                self.op("iverson", vec![c])
            }
            // if(c1, v1, c2, v2, v3) is select(c1, v1, select(c2, v2, v3)).
            Node::Call(Func::If, args) => {
                let last = args.len() - 1;
                let mut acc = self.expr(&args[last]);
                for pair in args[..last].chunks(2).rev() {
                    let c = self.condition(&pair[0]);
                    let v = self.expr(&pair[1]);
                    acc = self.op("select", vec![c, v, acc]);
                }
                acc
            }
            Node::Call(f @ (Func::Max | Func::Min), args) => {
                let mut acc = self.expr(&args[0]);
                for a in &args[1..] {
                    let b = self.expr(a);
                    acc = self.op(f.name(), vec![acc, b]);
                }
                acc
            }
            // Kernels reject every other call before printing starts.
            Node::Call(..) => Code::new("f64::NAN".into(), Prec::Postfix),
        }
    }

    /// `e` as a condition (a boolean): a comparison as written (`x > 1`), anything else
    /// as `e != 0`.
    fn condition(&mut self, e: &Expr) -> Code {
        match e.node() {
            Node::Call(Func::Cmp(op), args) => {
                let (left, sym, right) = crate::print::comparison_sides(*op, args);
                let (l, r) = (self.expr(&left), self.expr(&right));
                self.op(sym, vec![l, r])
            }
            _ => {
                let c = self.expr(e);
                let zero = self.number(&Rational::from_integer(0.into()));
                self.op("!=", vec![c, zero])
            }
        }
    }

    fn sum(&mut self, ts: &[Expr]) -> Code {
        let mut text = String::new();
        for (i, t) in ordered_terms(ts).iter().enumerate() {
            if i == 0 {
                let c = self.expr(t);
                text.push_str(&Self::paren(&c, Prec::Sum));
            } else if is_negative(t) {
                let c = self.expr(&Expr::negate(t.clone()));
                text.push_str(&format!(" - {}", Self::paren(&c, Prec::Product)));
            } else {
                let c = self.expr(t);
                text.push_str(&format!(" + {}", Self::paren(&c, Prec::Product)));
            }
        }
        Code::new(text, Prec::Sum)
    }

    fn product(&mut self, e: &Expr) -> Code {
        let fr = fraction(e);
        let mut above: Vec<Code> = Vec::new();
        let mut below: Vec<Code> = Vec::new();
        // A whole coefficient goes above the bar, 1/n below, any other as a decimal.
        let c = &fr.coeff;
        if c.is_integer() {
            if !c.is_one() {
                above.push(self.number(c));
            }
        } else if c.numer().is_one() {
            below.push(self.number(&Rational::from_integer(c.denom().clone())));
        } else {
            above.push(self.number(c));
        }
        for f in &fr.numer {
            above.push(self.expr(f));
        }
        for f in &fr.denom {
            below.push(self.expr(f));
        }
        let join = |cs: &[Code]| cs.iter().map(|c| Self::paren(c, Prec::Power)).collect::<Vec<_>>().join(" * ");
        let (mut text, mut prec) = match above.as_slice() {
            [] => ("1.0".to_owned(), Prec::Postfix),
            [one] if below.is_empty() => (one.text.clone(), one.prec),
            _ => (join(&above), Prec::Product),
        };
        match below.as_slice() {
            [] => {}
            [one] => {
                text = format!(
                    "{} / {}",
                    Self::paren(&Code::new(text, prec), Prec::Product),
                    Self::paren(one, Prec::Power)
                );
                prec = Prec::Product;
            }
            _ => {
                text = format!("{} / ({})", Self::paren(&Code::new(text, prec), Prec::Product), join(&below));
                prec = Prec::Product;
            }
        }
        if fr.negative {
            text = format!("-{}", Self::paren(&Code::new(text, prec), Prec::Product));
            prec = Prec::Unary;
        }
        Code::new(text, prec)
    }

    fn power(&mut self, b: &Expr, x: &Expr) -> Code {
        let base = self.expr(b);
        let Some(r) = x.as_num() else {
            let e = self.expr(x);
            return self.op("powf", vec![base, e]);
        };
        if let Some(n) = r.to_integer().to_i32().filter(|_| r.is_integer()) {
            // (Squares and cubes by multiplication in Python, where `**` raises past the
            // largest float and `*` gives inf, as Rust and C do.)
            match n {
                2 => return self.op("square", vec![base]),
                3 => return self.op("cube", vec![base]),
                _ => {}
            }
            return self.op("powi", vec![base, Code { text: n.to_string(), prec: Prec::Postfix, literal: true }]);
        }
        if *r == Rational::new(1.into(), 2.into()) {
            return self.op("sqrt", vec![base]);
        }
        let e = self.number(r);
        let odd = |n: &num_bigint::BigInt| n % 2 != num_bigint::BigInt::from(0);
        if odd(r.denom()) {
            let name = if odd(r.numer()) { "root_odd" } else { "root_even" };
            return self.op(name, vec![base, e]);
        }
        self.op("powf", vec![base, e])
    }

    /// A stable block as code.
    pub fn block(&mut self, b: &Block) -> Code {
        let args: Vec<Code> = b.args().iter().map(|a| self.expr(a)).collect();
        match b {
            Block::Max(_) | Block::LogSumExp(_) => {
                let name = if matches!(b, Block::Max(_)) { "max" } else { "logaddexp" };
                let mut it = args.into_iter();
                let first = it.next().unwrap_or_else(|| Code::new("0.0".into(), Prec::Postfix));
                it.fold(first, |acc, a| self.op(name, vec![acc, a]))
            }
            Block::Expm1(_) => self.apply("expm1", &Builtin::Expm1.def().code, args),
            Block::Log1p(_) => self.apply("log1p", &Builtin::Log1p.def().code, args),
            Block::Log1mExp(_) => self.op("log1mexp", args),
            Block::Hypot(_) => self.op("hypot", args),
        }
    }
}

/// Where a template argument stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ctx {
    /// Before `.`: a method receiver.
    Receiver,
    /// Between `(` or `, ` and `)` or `,`.
    Delimited,
    /// Next to an operator.
    Operand,
}

enum Piece<'t> {
    Text(&'t str),
    Arg(usize, Ctx),
}

fn parse_template(t: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = t;
    let mut before = "";
    while let Some(i) = rest.find('{') {
        let close = rest[i..].find('}').map(|j| i + j);
        let index = close.and_then(|j| rest[i + 1..j].parse::<usize>().ok());
        let (Some(j), Some(index)) = (close, index) else {
            // A brace of the language itself (a Rust block).
            out.push(Piece::Text(&rest[..=i]));
            before = &rest[..=i];
            rest = &rest[i + 1..];
            continue;
        };
        let head = &rest[..i];
        if !head.is_empty() {
            out.push(Piece::Text(head));
            before = head;
        }
        let after = &rest[j + 1..];
        // Between the words of a conditional (`if {0} { {1} } else { {2} }`, `{0} ? {1} : {2}`,
        // `{1} if {0} else {2}`) an argument needs no parentheses either.
        let prefix = &t[..t.len() - rest.len() + i];
        let opens = ["if ", "{ ", "? ", ": ", "else "].iter().any(|k| prefix.ends_with(k)) || prefix.is_empty();
        let closes = [" {", " }", " ?", " :", " if ", " else"].iter().any(|k| after.starts_with(k)) || after.is_empty();
        let conditional = opens && closes && (t.contains(" ? ") || t.contains("if "));
        let ctx = if after.starts_with('.') {
            Ctx::Receiver
        } else if conditional
            || (before.ends_with('(') || before.ends_with(", ")) && (after.starts_with(')') || after.starts_with(','))
        {
            Ctx::Delimited
        } else {
            Ctx::Operand
        };
        out.push(Piece::Arg(index, ctx));
        before = "";
        rest = after;
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The precedence of a template's outermost operation, read off its text outside
/// brackets.
fn template_prec(t: &str) -> Prec {
    let mut depth = 0i32;
    let mut outer = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(char::is_ascii_digit) => {
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                }
                if depth == 0 {
                    outer.push('x');
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ if depth == 0 => outer.push(c),
            _ => {}
        }
    }
    if outer.starts_with("if ") || outer.contains(" if ") || outer.contains(" ? ") {
        Prec::Cond
    } else if [" > ", " >= ", " < ", " <= ", " == ", " != "].iter().any(|o| outer.contains(o)) {
        Prec::Compare
    } else if outer.contains(" + ") || outer.contains(" - ") {
        Prec::Sum
    } else if outer.contains(" * ") || outer.contains(" / ") {
        Prec::Product
    } else if outer.starts_with('-') {
        Prec::Unary
    } else if outer.contains(" ** ") {
        Prec::Power
    } else {
        Prec::Postfix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_precedence() {
        assert_eq!(template_prec("{0}.exp()"), Prec::Postfix);
        assert_eq!(template_prec("{0}.max(0.0) + (-{0}.abs()).exp().ln_1p()"), Prec::Sum);
        assert_eq!(template_prec("1.0 / {0}.cos()"), Prec::Product);
        assert_eq!(template_prec("{0} ** {1}"), Prec::Power);
        assert_eq!(template_prec("(if {0} > 0.0 { 1.0 } else { 0.0 })"), Prec::Postfix);
        assert_eq!(template_prec("if {0} > 0.0 { 1.0 } else { 0.0 }"), Prec::Cond);
        assert_eq!(template_prec("(double)(({0} > 0.0) - ({0} < 0.0))"), Prec::Postfix);
    }

    #[test]
    fn argument_contexts() {
        let ctxs = |t: &str| -> Vec<Ctx> {
            parse_template(t)
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Arg(_, c) => Some(c),
                    Piece::Text(_) => None,
                })
                .collect()
        };
        assert_eq!(ctxs("{0}.powi({1})"), [Ctx::Receiver, Ctx::Delimited]);
        assert_eq!(ctxs("max({0}, {1})"), [Ctx::Delimited, Ctx::Delimited]);
        assert_eq!(ctxs("{0} ** {1}"), [Ctx::Operand, Ctx::Operand]);
        assert_eq!(ctxs("(if {0} > 0.0 { 1.0 } else { 0.0 })"), [Ctx::Operand]);
    }
}
