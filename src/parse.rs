//! The parser: text in the grammar of `grammar/deriv.ebnf` to canonical expressions.
//!
//! Lexemes (numbers, identifiers, operators, comments) are read with nom; the grammar's
//! productions are one function each below (`program`, `statement`, `sum`, `product`,
//! `unary`, `power`, `primary`, `call`), and build [`Expr`]s through the canonicalising
//! constructors as they go. Every recursive descent (parenthesis, call, unary sign,
//! exponent) counts against [`MAX_DEPTH`], so hostile nesting gives an error, not a
//! stack overflow. Sums and products are collected into one list before they are built,
//! so a 100,000-term sum costs one canonicalisation, not 100,000.

use std::collections::HashMap;

use nom::branch::alt;
use nom::bytes::complete::{take_till, take_while};
use nom::character::complete::{char, digit0, digit1, one_of, satisfy};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser as _};

use crate::error::{Clue, Error, ErrorKind, Expected, Found, Nesting, Result, Span, Takes, ZeroDenominator};
use crate::expr::{AbstractFn, Cmp, Expr, Func, Sym};
use crate::func::{self, Builtin};
use crate::number;

/// How deeply parentheses, calls, signs and exponents may nest.
pub const MAX_DEPTH: usize = 2000;

/// One statement of a program: `name = expr` or a bare `expr`.
#[derive(Clone, Debug)]
pub struct Statement {
    /// The defined name and its span, for a definition.
    pub name: Option<(Sym, Span)>,
    /// The index names of an indexed definition (`k` of `z[k] = ...`).
    pub params: Vec<Sym>,
    /// The parameters of a function definition (`u` of `g(u) = u^2`); empty otherwise.
    pub args: Vec<Sym>,
    /// The expression.
    pub body: Expr,
    /// The span of the whole statement.
    pub span: Span,
}

/// Parses a program: statements separated by `;` or newlines, with `#` comments.
pub fn parse_program(src: &str) -> Result<Vec<Statement>> {
    parse_program_with(src, &HashMap::new())
}

/// [`parse_program`] where the functions `functions` (name and number of parameters)
/// are defined elsewhere (by `--let`), besides those `src` defines itself: a call to one
/// must have as many arguments as it has parameters, and its name is no variable.
pub fn parse_program_with(src: &str, functions: &HashMap<String, usize>) -> Result<Vec<Statement>> {
    let mut p = Parser::new(src);
    p.functions = functions.clone();
    p.functions.extend(function_heads(src));
    p.program()
}

/// The functions `src` defines (`g(u) = ...`, `f(a, b) = ...`), each with its number of
/// parameters: found by their heads alone, so a call may come before the definition.
pub fn function_heads(src: &str) -> Vec<(String, usize)> {
    let toks = lex(src);
    let mut out = Vec::new();
    let mut at_start = true;
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        if at_start && t.tok == Tok::Ident {
            if let Some(n) = head_arity(&toks, i) {
                out.push((src[t.span.start..t.span.end].to_owned(), n));
            }
        }
        match t.tok {
            Tok::Op('(') => depth += 1,
            Tok::Op(')') => depth = depth.saturating_sub(1),
            _ => {}
        }
        at_start = depth == 0 && matches!(t.tok, Tok::Newline | Tok::Op(';'));
    }
    out
}

/// Warnings for `log(x, 2)`: a literal number as the second argument of `log`, whose
/// base is its first (SymPy's `log(x, b)` takes the base second), with a caret under the
/// call.
pub fn log_base_warnings(src: &str) -> Vec<Error> {
    let toks = lex(src);
    let p = Parser::new(src);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.tok != Tok::Ident || &src[t.span.start..t.span.end] != "log" {
            continue;
        }
        if toks.get(i + 1).is_none_or(|k| k.tok != Tok::Op('(')) {
            continue;
        }
        let Some(close) = p.closing(i + 1) else { continue };
        // The commas at the call's own depth.
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (j, k) in toks.iter().enumerate().skip(i + 1) {
            match k.tok {
                Tok::Op('(') => depth += 1,
                Tok::Op(')') if depth == 1 => break,
                Tok::Op(')') => depth -= 1,
                Tok::Op(',') if depth == 1 => commas.push(j),
                _ => {}
            }
        }
        let [c] = commas[..] else { continue };
        let second = &toks[c + 1..];
        let first_is_number = c == i + 3 && toks[i + 2].tok == Tok::Num;
        if second.len() < 2 || second[0].tok != Tok::Num || second[1].span != close || first_is_number {
            continue;
        }
        let argument = src[toks[i + 1].span.end..toks[c].span.start].trim().to_owned();
        let base = src[second[0].span.start..second[0].span.end].to_owned();
        out.push(Error::at(ErrorKind::LogBaseSecond { argument, base }, Span::new(t.span.start, close.end), src));
    }
    out
}

/// The number of parameters when the tokens at `i` are a function's head and its `=`:
/// `name ( p1 , p2 ) =`.
fn head_arity(toks: &[Token], i: usize) -> Option<usize> {
    if toks.get(i + 1)?.tok != Tok::Op('(') {
        return None;
    }
    let mut n = 0;
    let mut j = i + 2;
    loop {
        if toks.get(j)?.tok != Tok::Ident {
            return None;
        }
        n += 1;
        match toks.get(j + 1)?.tok {
            Tok::Op(',') => j += 2,
            Tok::Op(')') => return (toks.get(j + 2)?.tok == Tok::Op('=')).then_some(n),
            _ => return None,
        }
    }
}

/// `text` split at the commas outside parentheses and brackets, each part trimmed:
/// `w[j,k], x[j]` is `w[j,k]` and `x[j]`; `a = f(x, y), b = 1` is two equations. The
/// lists of `--wrt`, a note's `where` and `grad` lines, and the labels of steps.
pub(crate) fn split_outside_brackets(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i64, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// `"x*sin(x)".parse::<Expr>()`: the same as [`crate::parse()`].
impl std::str::FromStr for Expr {
    type Err = crate::Error;

    fn from_str(src: &str) -> Result<Expr> {
        parse_expr(src)
    }
}

/// Parses a single expression (no definitions).
pub fn parse_expr(src: &str) -> Result<Expr> {
    let stmts = parse_program(src)?;
    match stmts.as_slice() {
        [Statement { name: None, body, .. }] => Ok(body.clone()),
        [Statement { name: Some((_, span)), .. }] => Err(Error::at(ErrorKind::DefinitionNotExpression, *span, src)),
        _ => Err(Error::at(ErrorKind::SeveralStatements, stmts[1].span, src)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Num,
    Ident,
    Op(char),
    DoubleStar,
    DotDot,
    /// A comparison: `<`, `<=`, `>`, `>=`, `==`, `!=`.
    Rel,
    Newline,
    Bad(char),
    End,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    tok: Tok,
    span: Span,
}

fn number(input: &str) -> IResult<&str, &str> {
    let mantissa = alt((recognize((digit1, opt((char('.'), digit0)))), recognize((char('.'), digit1))));
    let exponent = (one_of("eE"), opt(one_of("+-")), digit1);
    recognize((mantissa, opt(exponent))).parse(input)
}

/// Letters of names: ASCII letters, `_`, and Greek letters (printed as `\alpha` ...).
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || ('\u{0391}'..='\u{03C9}').contains(&c) || "ϑϕϖϱϵµ".contains(c)
}

fn identifier(input: &str) -> IResult<&str, &str> {
    let start = satisfy(is_letter);
    let rest = take_while(|c: char| is_letter(c) || c.is_ascii_digit());
    recognize((start, rest)).parse(input)
}

fn blank(input: &str) -> IResult<&str, &str> {
    let spaces = take_while(|c| c == ' ' || c == '\t' || c == '\r');
    let comment = recognize((char('#'), take_till(|c| c == '\n')));
    recognize((spaces, opt(comment))).parse(input)
}

/// The length of the integer at the start of `rest` when `..` follows it (`1..K`).
/// Only the digits are looked at, so lexing stays linear in the input.
fn range_start(rest: &str) -> Option<usize> {
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0 && rest[n..].starts_with("..")).then_some(n)
}

fn lex(src: &str) -> Vec<Token> {
    let mut toks = Vec::new();
    let mut rest = src;
    let offset = |r: &str| src.len() - r.len();
    loop {
        if let Ok((r, _)) = blank(rest) {
            rest = r;
        }
        let start = offset(rest);
        let Some(c) = rest.chars().next() else {
            toks.push(Token { tok: Tok::End, span: Span::at(start) });
            return toks;
        };
        let (tok, len) = if rest.starts_with("..") {
            (Tok::DotDot, 2)
        } else if let Some(n) = range_start(rest) {
            // `1..K`: the integer before a range, not the decimal `1.`.
            (Tok::Num, n)
        } else if let Ok((r, _)) = number(rest) {
            (Tok::Num, rest.len() - r.len())
        } else if let Ok((r, _)) = identifier(rest) {
            (Tok::Ident, rest.len() - r.len())
        } else if rest.starts_with("**") {
            (Tok::DoubleStar, 2)
        } else if ["<=", ">=", "==", "!="].iter().any(|r| rest.starts_with(r)) {
            (Tok::Rel, 2)
        } else if c == '<' || c == '>' {
            (Tok::Rel, 1)
        } else if c == '\n' {
            (Tok::Newline, 1)
        } else if "+-*/^(),'[]=;".contains(c) {
            (Tok::Op(c), 1)
        } else {
            (Tok::Bad(c), c.len_utf8())
        };
        toks.push(Token { tok, span: Span::new(start, start + len) });
        rest = &rest[len..];
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Parenthesis depth: newlines inside parentheses are white space.
    parens: usize,
    /// The defined functions and their numbers of parameters.
    functions: HashMap<String, usize>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        Parser { src, toks: lex(src), pos: 0, depth: 0, parens: 0, functions: HashMap::new() }
    }

    fn peek(&mut self) -> Token {
        while self.parens > 0 && self.toks[self.pos].tok == Tok::Newline {
            self.pos += 1;
        }
        self.toks[self.pos]
    }

    fn peek2(&mut self) -> Token {
        self.peek();
        self.toks[(self.pos + 1).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.span.start..t.span.end]
    }

    fn err(&self, kind: ErrorKind, span: Span) -> Error {
        Error::at(kind, span, self.src)
    }

    fn found(&self, t: Token) -> Found {
        match t.tok {
            Tok::End => Found::EndOfInput,
            Tok::Newline => Found::EndOfLine,
            _ => Found::Token(self.text(t).to_owned()),
        }
    }

    fn expected(&self, expected: Expected, t: Token) -> Error {
        if let Tok::Bad(c) = t.tok {
            return self.err(ErrorKind::UnexpectedChar(c), t.span);
        }
        // The token before the one found, for a clue about the pair.
        let i = self.toks.partition_point(|k| k.span.start < t.span.start);
        let prev = self.toks[..i].iter().rev().find(|k| k.tok != Tok::Newline).copied();
        let binary = prev.filter(|k| matches!(k.tok, Tok::Op('+' | '-' | '*' | '/' | '^' | '=')));
        let after_open = prev.is_some_and(|k| k.tok == Tok::Op('('));
        let clue = match t.tok {
            Tok::Op('[') => Some(Clue::Grouping),
            Tok::DoubleStar => Some(Clue::DoubleStar),
            Tok::Op(')') if after_open => Some(Clue::EmptyParentheses),
            Tok::End | Tok::Newline | Tok::Op(')' | ',' | ';') if binary.is_some() => {
                binary.map(|op| Clue::OperandAfter(self.text(op).to_owned()))
            }
            Tok::Op('*' | '/' | '^') if binary.is_some() => Some(Clue::TwoOperators),
            Tok::Op('*' | '/' | '^') if prev.is_none() || after_open => {
                Some(Clue::OperandBefore(self.text(t).to_owned()))
            }
            Tok::Op(')') => Some(Clue::OperandBeforeClose),
            _ => None,
        };
        self.err(ErrorKind::Expected { expected, found: self.found(t), clue }, t.span)
    }

    fn enter(&mut self, at: Token) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            // Unclosed parentheses are the likelier fault than honest deep nesting.
            let rest = &self.src[at.span.start..];
            let (opens, closes) = (rest.matches('(').count(), rest.matches(')').count());
            if opens > closes {
                let column = at.span.column(self.src);
                return Err(self.err(ErrorKind::Unclosed { column }, Span::at(self.src.len())));
            }
            return Err(self.err(ErrorKind::TooDeep { limit: MAX_DEPTH, nesting: Nesting::Parser }, at.span));
        }
        Ok(())
    }

    // ---- program = { newline } statement { separator { newline } statement } [ ";" ] { newline }

    fn program(&mut self) -> Result<Vec<Statement>> {
        let mut out = Vec::new();
        loop {
            let t = self.peek();
            match t.tok {
                Tok::End => break,
                Tok::Newline => {
                    self.bump();
                }
                Tok::Op(';') => {
                    let found = Found::Token(";".into());
                    let kind =
                        ErrorKind::Expected { expected: Expected::Statement, found, clue: Some(Clue::ExtraSemicolon) };
                    return Err(self.err(kind, t.span));
                }
                _ => {
                    out.push(self.statement()?);
                    let t = self.peek();
                    match t.tok {
                        Tok::End | Tok::Newline => {}
                        Tok::Op(';') => {
                            self.bump();
                        }
                        _ => return Err(self.trailing(t)),
                    }
                }
            }
        }
        if out.is_empty() {
            let comments = self.src.contains('#');
            return Err(self.err(ErrorKind::Empty { comments }, Span::at(self.src.len())));
        }
        Ok(out)
    }

    fn trailing(&self, t: Token) -> Error {
        let kind = match t.tok {
            Tok::Op(')') => ErrorKind::Expected {
                expected: Expected::OperatorOrEnd,
                found: Found::UnmatchedClose,
                clue: Some(Clue::UnmatchedClose),
            },
            Tok::Op('=') => ErrorKind::StrayEquals,
            Tok::Rel => self.chained(t),
            Tok::Op(',') => ErrorKind::Expected {
                expected: Expected::Operator,
                found: Found::CommaOutsideCall,
                clue: Some(Clue::CommaOutsideCall),
            },
            _ => return self.expected(Expected::Operator, t),
        };
        self.err(kind, t.span)
    }

    /// A comparison where one has just been read: `a < b < c`.
    fn chained(&self, t: Token) -> ErrorKind {
        ErrorKind::Expected {
            expected: Expected::Operator,
            found: Found::Token(self.text(t).into()),
            clue: Some(Clue::ChainedComparison),
        }
    }

    // ---- statement = identifier "=" comparison | comparison

    fn statement(&mut self) -> Result<Statement> {
        let start = self.peek();
        if start.tok == Tok::Op('=') {
            return Err(self.err(ErrorKind::NamelessDefinition, start.span));
        }
        // An indexed definition `z[k] = ...`: the indices up to `]`, then `=`.
        let indexed_def = start.tok == Tok::Ident && self.peek2().tok == Tok::Op('[') && {
            let close = self.toks[self.pos..].iter().position(|t| t.tok == Tok::Op(']'));
            close.is_some_and(|c| self.toks.get(self.pos + c + 1).is_some_and(|t| t.tok == Tok::Op('=')))
        };
        // A function definition `g(u) = ...`: the parentheses close just before `=`.
        let function_def = start.tok == Tok::Ident && self.peek2().tok == Tok::Op('(') && self.closes_before_equals();
        if start.tok == Tok::Ident && (self.peek2().tok == Tok::Op('=') || indexed_def || function_def) {
            let name = self.text(start);
            if func::CONSTANTS.contains(&name) {
                return Err(self.err(ErrorKind::RedefinedConstant { name: name.into() }, start.span));
            }
            if func::is_builtin(name) {
                return Err(self.err(ErrorKind::RedefinedFunction { name: name.into() }, start.span));
            }
            self.bump();
            let mut params = Vec::new();
            if indexed_def {
                for i in self.indices()? {
                    match i.node() {
                        crate::expr::Node::Var(s) => params.push(s.clone()),
                        _ => return Err(self.err(ErrorKind::IndexNotName, start.span)),
                    }
                }
            }
            let args = if function_def { self.parameters()? } else { Vec::new() };
            self.bump();
            let body = self.comparison()?;
            let end = self.toks[self.pos.saturating_sub(1)].span.end;
            return Ok(Statement {
                name: Some((Sym::new(name), start.span)),
                params,
                args,
                body,
                span: Span::new(start.span.start, end),
            });
        }
        let body = self.comparison()?;
        let end = self.toks[self.pos.saturating_sub(1)].span.end;
        Ok(Statement { name: None, params: Vec::new(), args: Vec::new(), body, span: Span::new(start.span.start, end) })
    }

    /// Whether the `(` after the current token closes, at its own depth, right before an
    /// `=` on the same statement: the head of a function definition.
    fn closes_before_equals(&self) -> bool {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(self.pos + 1) {
            match t.tok {
                Tok::Op('(') => depth += 1,
                Tok::Op(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return self.toks.get(i + 1).is_some_and(|t| t.tok == Tok::Op('='));
                    }
                }
                Tok::End | Tok::Op(';') => return false,
                Tok::Newline if depth == 0 => return false,
                _ => {}
            }
        }
        false
    }

    // ---- parameters = "(" identifier { "," identifier } ")"

    fn parameters(&mut self) -> Result<Vec<Sym>> {
        self.bump();
        let mut out: Vec<Sym> = Vec::new();
        loop {
            let t = self.bump();
            let text = self.text(t);
            if t.tok != Tok::Ident || func::is_builtin(text) || func::CONSTANTS.contains(&text) {
                return Err(self.err(ErrorKind::BadParameter { found: self.found(t) }, t.span));
            }
            let p = Sym::new(text);
            if out.contains(&p) {
                return Err(self.err(ErrorKind::RepeatedParameter { name: text.into() }, t.span));
            }
            out.push(p);
            let t = self.bump();
            match t.tok {
                Tok::Op(',') => continue,
                Tok::Op(')') => return Ok(out),
                _ => return Err(self.expected(Expected::CommaOrClose, t)),
            }
        }
    }

    // ---- comparison = sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=") sum ]

    fn comparison(&mut self) -> Result<Expr> {
        let a = self.sum()?;
        if self.peek().tok != Tok::Rel {
            return Ok(a);
        }
        let op = self.bump();
        let b = self.sum()?;
        Ok(match self.text(op) {
            ">" => Expr::compare(Cmp::Gt, a, b),
            ">=" => Expr::compare(Cmp::Ge, a, b),
            "<" => Expr::compare(Cmp::Gt, b, a),
            "<=" => Expr::compare(Cmp::Ge, b, a),
            "==" => Expr::compare(Cmp::Eq, a, b),
            _ => Expr::compare(Cmp::Ne, a, b),
        })
    }

    // ---- sum = product { ("+" | "-") product }

    fn sum(&mut self) -> Result<Expr> {
        crate::limits::deep(|| self.terms())
    }

    fn terms(&mut self) -> Result<Expr> {
        let mut terms = vec![self.product()?];
        loop {
            match self.peek().tok {
                Tok::Op('+') => {
                    self.bump();
                    terms.push(self.product()?);
                }
                Tok::Op('-') => {
                    self.bump();
                    terms.push(Expr::negate(self.product()?));
                }
                _ => break,
            }
        }
        Ok(if terms.len() == 1 { terms.swap_remove(0) } else { Expr::add(terms) })
    }

    // ---- product = unary { ("*" | "/") unary }

    fn product(&mut self) -> Result<Expr> {
        let mut factors = vec![self.operand()?];
        loop {
            let t = self.peek();
            match t.tok {
                Tok::Op('*') => {
                    self.bump();
                    factors.push(self.operand()?);
                }
                Tok::Op('/') => {
                    self.bump();
                    let first = self.peek();
                    let d = self.operand()?;
                    if d.is_zero() {
                        let end = self.toks[self.pos - 1].span.end;
                        return Err(self.division_by_zero(Span::new(first.span.start, end)));
                    }
                    factors.push(Expr::pow(d, Expr::int(-1)));
                }
                Tok::DoubleStar => {
                    let found = Found::Token("**".into());
                    let clue = Some(Clue::PowerOperator);
                    return Err(self.err(ErrorKind::Expected { expected: Expected::Operator, found, clue }, t.span));
                }
                _ => break,
            }
        }
        Ok(if factors.len() == 1 { factors.swap_remove(0) } else { Expr::mul(factors) })
    }

    /// The error for a denominator that is exactly zero (as written, or once canonical:
    /// `1/(x - x)`), which deriv refuses rather than fold to a number or to infinity.
    fn division_by_zero(&self, span: Span) -> Error {
        let written = &self.src[span.start..span.end];
        let why =
            if written.trim() == "0" { ZeroDenominator::Zero } else { ZeroDenominator::ZeroValued(written.to_owned()) };
        self.err(ErrorKind::DivisionByZero(why), span)
    }

    /// A unary, then a check that no operand follows it directly (`2x`, `x y`, `(a)(b)`).
    fn operand(&mut self) -> Result<Expr> {
        let before = self.pos;
        let e = self.unary()?;
        let prev = self.toks[self.pos - 1];
        let t = self.peek();
        if matches!(t.tok, Tok::Num | Tok::Ident | Tok::Op('(')) {
            return Err(self.missing_operator(prev, t, before));
        }
        Ok(e)
    }

    fn missing_operator(&self, prev: Token, t: Token, first: usize) -> Error {
        let adjacent = prev.span.end == t.span.start;
        let (a, b) = (self.text(prev), self.text(t));
        if prev.tok == Tok::Num && adjacent {
            if t.tok == Tok::Num && b.starts_with('.') {
                return self.err(ErrorKind::TwoDecimalPoints, t.span);
            }
            if t.tok == Tok::Ident && (b == "e" || b == "E") && !a.contains(['e', 'E']) {
                return self.err(ErrorKind::ExponentWithoutDigits { mantissa: a.into() }, t.span);
            }
            if t.tok == Tok::Ident && a == "0" && b.starts_with(['x', 'X']) {
                return self.err(ErrorKind::HexLiteral { digits: b.into() }, t.span);
            }
        }
        let operand = self.src[self.toks[first].span.start..prev.span.end].to_owned();
        // A call after the operand is written whole in the help: sin(x)*cos(x).
        let at = self.toks.partition_point(|k| k.span.start < t.span.start);
        let call = (t.tok == Tok::Ident && self.toks.get(at + 1).is_some_and(|k| k.tok == Tok::Op('(')))
            .then(|| self.closing(at + 1))
            .flatten();
        let found = match call {
            Some(close) => self.src[t.span.start..close.end].to_owned(),
            None if t.tok == Tok::Op('(') => "(".to_owned(),
            None => b.to_owned(),
        };
        self.err(ErrorKind::MissingOperator { found, operand }, t.span)
    }

    // ---- unary = ("-" | "+") unary | power

    fn unary(&mut self) -> Result<Expr> {
        crate::limits::deep(|| self.signed())
    }

    fn signed(&mut self) -> Result<Expr> {
        let t = self.peek();
        match t.tok {
            Tok::Op('-') => {
                self.bump();
                self.enter(t)?;
                let e = self.unary()?;
                self.depth -= 1;
                Ok(Expr::negate(e))
            }
            Tok::Op('+') => {
                self.bump();
                self.enter(t)?;
                let e = self.unary();
                self.depth -= 1;
                e
            }
            _ => self.power(),
        }
    }

    // ---- power = primary [ "^" unary ]

    fn power(&mut self) -> Result<Expr> {
        let base = self.primary()?;
        let t = self.peek();
        if t.tok != Tok::Op('^') {
            return Ok(base);
        }
        self.bump();
        // A parenthesised exponent is one level, counted at its `(`: the printer writes
        // `x^(x^x)`, and what it writes must read back within the same limit.
        let counted = self.peek().tok != Tok::Op('(');
        if counted {
            self.enter(t)?;
        }
        let exponent = self.unary()?;
        if counted {
            self.depth -= 1;
        }
        if base.is_zero() && exponent.as_num().is_some_and(num_traits::Signed::is_negative) {
            let end = self.toks[self.pos - 1].span.end;
            let kind = ErrorKind::DivisionByZero(ZeroDenominator::NegativePowerOfZero);
            return Err(self.err(kind, Span::new(t.span.start, end)));
        }
        Ok(Expr::pow(base, exponent))
    }

    // ---- primary = number | "(" sum ")" | call | identifier

    fn primary(&mut self) -> Result<Expr> {
        let t = self.bump();
        match t.tok {
            Tok::Num => {
                let text = self.text(t);
                number::parse_decimal(text)
                    .map(Expr::num)
                    .ok_or_else(|| self.err(ErrorKind::NumberTooLarge(number::MAX_DECIMAL_EXPONENT), t.span))
            }
            Tok::Op('(') => {
                self.enter(t)?;
                self.parens += 1;
                let e = self.comparison();
                self.parens -= 1;
                let e = e?;
                self.depth -= 1;
                self.close(t)?;
                Ok(e)
            }
            Tok::Ident => self.call(t),
            _ => {
                let what = if t.tok == Tok::Op('\'') { Expected::ExpressionAfterPrime } else { Expected::Expression };
                Err(self.expected(what, t))
            }
        }
    }

    fn close(&mut self, open: Token) -> Result<()> {
        let t = self.peek();
        match t.tok {
            Tok::Op(')') => {
                self.bump();
                Ok(())
            }
            Tok::End => Err(self.err(ErrorKind::Unclosed { column: open.span.column(self.src) }, t.span)),
            Tok::Rel => Err(self.err(self.chained(t), t.span)),
            _ => Err(self.expected(Expected::CloseParen, t)),
        }
    }

    // ---- call = identifier (or a plain identifier, when no "(" follows) { "'" } [ "[" integer { "," integer } "]" ] "(" sum { "," sum } ")"

    fn call(&mut self, t: Token) -> Result<Expr> {
        let name = self.text(t);
        if name == "d" {
            if let Some(e) = self.derivative_notation(t) {
                return Err(e);
            }
        }
        let mut primes = 0u32;
        let mut prime_span = None;
        while self.peek().tok == Tok::Op('\'') {
            let p = self.bump();
            prime_span.get_or_insert(p.span);
            primes += 1;
        }
        let mut positions: Option<Vec<u32>> = None;
        if primes > 0 && self.peek().tok == Tok::Op('[') {
            positions = Some(self.partials()?);
        }
        if primes == 0 && self.peek().tok == Tok::Op('[') {
            if func::is_builtin(name) || func::CONSTANTS.contains(&name) {
                return Err(self.err(ErrorKind::IndexedBuiltin { name: name.into() }, t.span));
            }
            let indices = self.indices()?;
            if self.peek().tok == Tok::Op('(') {
                let p = self.peek();
                return Err(self.err(ErrorKind::IndexedCall, p.span));
            }
            return Ok(Expr::call(Func::Indexed(Sym::new(name)), indices));
        }
        if let Some(&arity) = self.functions.get(name) {
            if let Some(span) = prime_span {
                return Err(self.err(ErrorKind::PrimeOnFunction { name: name.into() }, span));
            }
            if self.peek().tok != Tok::Op('(') {
                return Err(self.err(ErrorKind::NotCalled { name: name.into() }, t.span));
            }
            let open = self.bump();
            self.enter(open)?;
            self.parens += 1;
            let args = self.arguments(name, open);
            self.parens -= 1;
            let args = args?;
            self.depth -= 1;
            if args.len() != arity {
                // Under the first argument too many, or else under the `)` one is missing at.
                let at = args.get(arity).map_or(self.toks[self.pos - 1].span, |a| a.1);
                let kind = ErrorKind::FunctionArity { name: name.into(), takes: arity, found: args.len() };
                return Err(self.err(kind, at));
            }
            let f = Func::Abstract(AbstractFn { name: Sym::new(name), partials: Vec::new() });
            return Ok(Expr::call(f, args.into_iter().map(|(e, _)| e).collect()));
        }
        if self.peek().tok != Tok::Op('(') {
            if let Some(span) = prime_span {
                return Err(self.err(ErrorKind::PrimeWithoutCall { name: name.into() }, span));
            }
            if func::is_builtin(name) {
                if let Some(e) = self.power_of_function(t) {
                    return Err(e);
                }
                let next = self.peek();
                if matches!(next.tok, Tok::Num | Tok::Ident) {
                    let kind = ErrorKind::NoParentheses { name: name.into(), argument: self.text(next).into() };
                    return Err(self.err(kind, next.span));
                }
                return Err(self.err(ErrorKind::NotCalled { name: name.into() }, t.span));
            }
            return Ok(match name {
                "e" => Expr::e(),
                "pi" | "π" => Expr::pi(),
                _ => Expr::var(name),
            });
        }
        if func::CONSTANTS.contains(&name) {
            return Err(self.err(ErrorKind::ConstantCalled { name: name.into() }, t.span));
        }
        let open = self.bump();
        self.enter(open)?;
        self.parens += 1;
        if (name == "sum" || name == "prod") && primes == 0 {
            let r = self.sum_call(name, open);
            self.parens -= 1;
            self.depth -= 1;
            return r;
        }
        let args = self.arguments(name, open);
        self.parens -= 1;
        let args = args?;
        self.depth -= 1;
        self.build_call(name, t, primes, positions, args, open)
    }

    /// The error for a power written on a function's name, `cos^2(x)` (which is `cos(x)^2`)
    /// or `sin^-1(x)` (the inverse `asin(x)`, where there is one, or else `1/sin(x)`), when
    /// the tokens after the name (just read) are that.
    fn power_of_function(&self, f: Token) -> Option<Error> {
        let toks = &self.toks[self.pos..];
        let is = |i: usize, tok: Tok| toks.get(i).is_some_and(|t| t.tok == tok);
        if !is(0, Tok::Op('^')) {
            return None;
        }
        let minus = is(1, Tok::Op('-'));
        let n = if minus { 2 } else { 1 };
        if !is(n, Tok::Num) || !is(n + 1, Tok::Op('(')) {
            return None;
        }
        let power = format!("{}{}", if minus { "-" } else { "" }, self.text(toks[n]));
        let call_end = self.closing(self.pos + n + 1)?;
        let name = self.text(f);
        let argument = self.src[toks[n + 1].span.end..call_end.start].trim().to_owned();
        let kind = ErrorKind::PowerOfFunction { name: name.to_owned(), power, argument };
        Some(self.err(kind, Span::new(f.span.start, toks[n].span.end)))
    }

    /// The span of the `)` that closes the `(` at token `open`, if it closes.
    fn closing(&self, open: usize) -> Option<Span> {
        let mut depth = 0usize;
        for t in &self.toks[open..] {
            match t.tok {
                Tok::Op('(') => depth += 1,
                Tok::Op(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(t.span);
                    }
                }
                Tok::End => return None,
                _ => {}
            }
        }
        None
    }

    /// The error for derivative notation, `d/dx(x^2)`, `d/dx x^2` or `d^2/dx^2(...)`, when
    /// the tokens from `d` (just read) are that: it is no part of the language, and read
    /// as written it would be a division by a function `dx` or by a variable times `x`.
    /// `d/dx` followed by an operator or the end is a division and no error.
    fn derivative_notation(&self, d: Token) -> Option<Error> {
        let toks = &self.toks[self.pos..];
        let is = |i: usize, tok: Tok| toks.get(i).is_some_and(|t| t.tok == tok);
        let order = |i: usize| (is(i, Tok::Op('^')) && is(i + 1, Tok::Num)).then(|| self.text(toks[i + 1]).to_owned());
        let top = order(0);
        let mut i = if top.is_some() { 2 } else { 0 };
        if !is(i, Tok::Op('/')) || !is(i + 1, Tok::Ident) {
            return None;
        }
        let var = self.text(toks[i + 1]).strip_prefix('d').filter(|v| !v.is_empty())?;
        i += 2;
        let bottom = order(i);
        if bottom.is_some() {
            i += 2;
        }
        let next = toks.get(i)?;
        if !matches!(next.tok, Tok::Op('(') | Tok::Ident | Tok::Num) || bottom != top {
            return None;
        }
        // The expression: inside the parentheses when they close, else left as `...`.
        let body = if next.tok == Tok::Op('(') {
            let mut depth = 0usize;
            toks[i..].iter().find_map(|t| {
                match t.tok {
                    Tok::Op('(') => depth += 1,
                    Tok::Op(')') => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(self.src[next.span.end..t.span.start].trim().to_owned());
                        }
                    }
                    _ => {}
                }
                None
            })
        } else {
            None
        };
        let end = toks[i - 1].span.end;
        let kind = ErrorKind::DerivativeNotation {
            var: var.to_owned(),
            order: top.unwrap_or_else(|| "1".to_owned()),
            body: body.unwrap_or_else(|| "EXPR".to_owned()),
        };
        Some(self.err(kind, Span::new(d.span.start, end)))
    }

    // ---- indices = "[" ( identifier | digits ) { "," ( identifier | digits ) } "]"

    fn indices(&mut self) -> Result<Vec<Expr>> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Ident if !func::is_builtin(self.text(t)) && !func::CONSTANTS.contains(&self.text(t)) => {
                    out.push(Expr::var(self.text(t)))
                }
                Tok::Num if self.text(t).bytes().all(|b| b.is_ascii_digit()) => {
                    out.push(number::parse_decimal(self.text(t)).map(Expr::num).unwrap_or_else(Expr::zero))
                }
                _ => return Err(self.expected(Expected::Index, t)),
            }
            let t = self.bump();
            match t.tok {
                Tok::Op(',') => continue,
                Tok::Op(']') => return Ok(out),
                _ => return Err(self.expected(Expected::CommaOrBracket, t)),
            }
        }
    }

    // ---- sum_call = ( "sum" | "prod" ) "(" identifier [ "=" sum ".." sum ] "," sum ")"

    fn sum_call(&mut self, name: &str, open: Token) -> Result<Expr> {
        let t = self.bump();
        if t.tok != Tok::Ident {
            return Err(self.expected(Expected::SumIndex, t));
        }
        let k = Sym::new(self.text(t));
        let mut bounds = Vec::new();
        if self.peek().tok == Tok::Op('=') {
            self.bump();
            bounds.push(self.sum()?);
            let t = self.bump();
            if t.tok != Tok::DotDot {
                return Err(self.expected(Expected::Bounds, t));
            }
            bounds.push(self.sum()?);
        }
        let t = self.bump();
        if t.tok != Tok::Op(',') {
            return Err(self.expected(Expected::Summand, t));
        }
        let body = self.sum()?;
        self.close(open)?;
        let mut args = vec![body];
        args.extend(bounds);
        Ok(Expr::call(if name == "prod" { Func::Prod(k) } else { Func::Sum(k) }, args))
    }

    // ---- partials = "[" digits { "," digits } "]"

    fn partials(&mut self) -> Result<Vec<u32>> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let t = self.bump();
            let n = (t.tok == Tok::Num).then(|| self.text(t).parse::<u32>().ok()).flatten().filter(|&n| n >= 1);
            let Some(n) = n else {
                return Err(self.expected(Expected::Position, t));
            };
            out.push(n - 1);
            let t = self.bump();
            match t.tok {
                Tok::Op(',') => continue,
                Tok::Op(']') => break,
                _ => return Err(self.expected(Expected::CommaOrBracket, t)),
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn arguments(&mut self, name: &str, open: Token) -> Result<Vec<(Expr, Span)>> {
        let first = self.peek();
        if first.tok == Tok::Op(')') {
            let kind = ErrorKind::Expected {
                expected: Expected::Argument(name.into()),
                found: Found::Token(")".into()),
                clue: Some(Clue::EmptyCall(name.into())),
            };
            return Err(self.err(kind, first.span));
        }
        let mut args = Vec::new();
        // Each argument's span starts at the comma before it, so an arity error
        // underlines `, y` in `sin(x, y)`.
        let mut start = self.peek().span.start;
        loop {
            let e = self.comparison()?;
            let end = self.toks[self.pos - 1].span.end;
            args.push((e, Span::new(start, end)));
            if self.peek().tok == Tok::Op(',') {
                start = self.bump().span.start;
                continue;
            }
            self.close(open)?;
            return Ok(args);
        }
    }

    fn build_call(
        &self,
        name: &str,
        t: Token,
        primes: u32,
        positions: Option<Vec<u32>>,
        args: Vec<(Expr, Span)>,
        open: Token,
    ) -> Result<Expr> {
        let n = args.len();
        let arity_error =
            |takes: Takes, at: usize| self.err(ErrorKind::Arity { name: name.into(), takes, found: n }, args[at].1);
        let values = || args.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>();
        match name {
            "if" if n < 3 || n.is_multiple_of(2) => return Err(arity_error(Takes::Branches, n.saturating_sub(1))),
            "if" => {
                if let Some((c, at)) = args[..n - 1].iter().step_by(2).find(|(c, _)| !c.is_truth()) {
                    // (The span of an argument after the first starts at its comma.)
                    let text = self.src.get(at.start..at.end).unwrap_or_default();
                    let after_comma = text.strip_prefix(',').unwrap_or(text);
                    let written = after_comma.trim_start();
                    let at = Span::new(at.end - written.len(), at.end);
                    let found = if written.is_empty() { c.to_string() } else { written.trim_end().to_owned() };
                    return Err(self.err(ErrorKind::ConditionNotComparison { found }, at));
                }
                return Ok(Expr::piecewise(values()));
            }
            "max" | "min" if n < 2 => return Err(arity_error(Takes::TwoOrMore, 0)),
            "max" => return Ok(Expr::call(Func::Max, values())),
            "min" => return Ok(Expr::call(Func::Min, values())),
            "clamp" if n != 3 => return Err(arity_error(Takes::Three, n.min(3).saturating_sub(1))),
            // clamp(x, lo, hi) = min(max(x, lo), hi), as PyTorch's clamp.
            "clamp" => {
                let v = values();
                let low = Expr::call(Func::Max, vec![v[0].clone(), v[1].clone()]);
                return Ok(Expr::call(Func::Min, vec![low, v[2].clone()]));
            }
            "heaviside" | "step" if n != 1 => return Err(arity_error(Takes::One, 1)),
            "heaviside" | "step" => return Ok(Expr::heaviside(values().remove(0))),
            _ => {}
        }
        if name == "delta" {
            if n != 2 {
                return Err(arity_error(Takes::Two, n.min(args.len()).saturating_sub(1)));
            }
            return Ok(Expr::call(Func::Delta, args.into_iter().map(|(e, _)| e).collect()));
        }
        if func::is_builtin(name) {
            if primes > 0 {
                return Err(self.err(ErrorKind::PrimeOnBuiltin { name: name.into() }, t.span));
            }
            let mut a: Vec<Expr> = args.iter().map(|(e, _)| e.clone()).collect();
            return match (name, n) {
                ("log", 2) => {
                    let x = a.pop().unwrap_or_else(Expr::one);
                    let b = a.pop().unwrap_or_else(Expr::one);
                    let ln_b = Expr::ln(b);
                    if ln_b.is_zero() {
                        // log(1, x) = ln(x)/ln(1) = ln(x)/0 (found by the roundtrip fuzzer).
                        return Err(self.err(ErrorKind::DivisionByZero(ZeroDenominator::LogBaseOne), args[0].1));
                    }
                    Ok(Expr::quotient(Expr::ln(x), ln_b))
                }
                ("log", _) if n > 2 => Err(arity_error(Takes::OneOrTwo, 2)),
                (_, 1) => {
                    let x = a.pop().unwrap_or_else(Expr::one);
                    Ok(match name {
                        "sqrt" => Expr::sqrt(x),
                        "log" => Expr::ln(x),
                        // No other alias gets here: `delta` returned above, and `sum` and
                        // `prod` are read by `sum_call` unless primed, refused above.
                        _ => Expr::builtin(Builtin::from_name(name).expect("a built-in name not an alias is a row"), x),
                    })
                }
                _ => Err(arity_error(Takes::One, 1)),
            };
        }
        let partials = match positions {
            Some(ps) => {
                if let Some(&bad) = ps.iter().find(|&&p| p as usize >= n) {
                    let kind = ErrorKind::NoSuchArgument { name: name.into(), arguments: n, position: bad + 1 };
                    return Err(self.err(kind, t.span));
                }
                ps
            }
            None if primes == 0 => Vec::new(),
            None if n == 1 => vec![0; primes as usize],
            None => return Err(self.err(ErrorKind::AmbiguousPrime { name: name.into(), arguments: n }, open.span)),
        };
        let f = Func::Abstract(AbstractFn { name: Sym::new(name), partials });
        Ok(Expr::call(f, args.into_iter().map(|(e, _)| e).collect()))
    }
}

/// Checks that `x` names a variable one can differentiate by: not empty, not a number,
/// not an expression, not a constant.
pub fn check_variable(x: &str) -> Result<Sym> {
    let bad = |kind: ErrorKind| Err(Error::new(kind));
    if x.trim().is_empty() {
        return bad(ErrorKind::EmptyVariable);
    }
    // A lone name that is neither a built-in nor a constant is the variable of that name
    // (what the parser makes of it), without lexing and parsing a program.
    if let Ok(("", name)) = identifier(x.trim_matches([' ', '\t', '\r'])) {
        if !func::is_builtin(name) && !func::CONSTANTS.contains(&name) {
            return Ok(Sym::new(name));
        }
    }
    parsed_variable(x)
}

/// [`check_variable`] by parsing `x` as an expression.
fn parsed_variable(x: &str) -> Result<Sym> {
    let bad = |kind: ErrorKind| Err(Error::new(kind));
    let found = x.to_owned();
    match parse_expr(x) {
        Ok(e) => match e.node() {
            crate::expr::Node::Var(s) => Ok(s.clone()),
            crate::expr::Node::Num(_) => bad(ErrorKind::NumberVariable { found }),
            _ if func::CONSTANTS.contains(&x) => bad(ErrorKind::ConstantVariable { name: found }),
            _ => bad(ErrorKind::NotAVariable { found }),
        },
        Err(_) => bad(ErrorKind::NotAVariableName { found }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(src: &str) -> usize {
        parse_program(src).err().and_then(|e| e.column()).unwrap_or(0)
    }

    #[test]
    fn lone_names_are_the_variables_the_parser_makes_of_them() {
        let builtins = func::Builtin::ALL.iter().map(|b| b.name());
        let names = builtins.chain(func::ALIASES.iter().copied()).chain(func::CONSTANTS.iter().copied());
        let others = ["x", " x ", "x\t", "z_1", "_", "σ", "µ", "d", "dx", "E", "Pi", "x1y2", "sinx", "x y", "1x", "x'"];
        for name in names.chain(others) {
            let fast = check_variable(name).map_err(|e| e.kind().clone());
            let parsed = parsed_variable(name).map_err(|e| e.kind().clone());
            assert_eq!(fast, parsed, "{name:?}");
        }
    }

    #[test]
    fn error_columns() {
        assert_eq!(col("x +* 2"), 4);
        assert_eq!(col("(x+1"), 5);
        assert_eq!(col("2x"), 2);
        assert_eq!(col("sin x"), 5);
        assert_eq!(col("1.2.3"), 4);
        assert_eq!(col("1e"), 2);
        assert_eq!(col("sin(x,y)"), 6);
        assert_eq!(col("sin()"), 5);
        assert_eq!(col("x'"), 2);
        assert_eq!(col("e(x)"), 1);
        assert_eq!(col("p = x = y"), 7);
        assert_eq!(col(";;"), 1);
        assert_eq!(col("   "), 4);
        assert_eq!(col("\u{3c3} + )"), 5);
    }

    #[test]
    fn precedence() {
        assert_eq!(parse_expr("-x^2").ok(), parse_expr("-(x^2)").ok());
        assert_eq!(parse_expr("2^3^2").ok(), Some(Expr::int(512)));
        assert_eq!(parse_expr("e^-z").ok(), parse_expr("exp(-z)").ok());
        assert_eq!(parse_expr("x--1").ok(), parse_expr("x+1").ok());
    }
}
