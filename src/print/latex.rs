//! The LaTeX printer, following `LATEX.md`: output that KaTeX, MathJax and pdflatex
//! render, ASCII only.
//!
//! `\frac` for quotients, `e^{u}` (or `\exp\left(u\right)` when `u` is tall or long),
//! `\tanh^{2}(x)` for powers of named functions, `\operatorname{sigmoid}` for names LaTeX
//! lacks, `g'(z)` and `\partial_{1} f(x, y)` for abstract derivatives, braced subscripts
//! (`x_{1}`, `w_{j,k}`), Greek names as commands, and `\left( \right)` only around tall
//! contents.

use num_bigint::BigInt;
use num_traits::Signed;

use super::{fraction, goes_below, is_negative, ordered_terms, pieces, Piece};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::expr::{self, Cmp, Constant, Expr, Func, Node, Sym};
use crate::func::Builtin;
use crate::number::{self, Rational};
use crate::prec::Prec;

const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "varpi",
    "rho",
    "varrho",
    "sigma",
    "varsigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
];

const GREEK_CHARS: &[(char, &str)] = &[
    ('α', "alpha"),
    ('β', "beta"),
    ('γ', "gamma"),
    ('δ', "delta"),
    ('ε', "varepsilon"),
    ('ζ', "zeta"),
    ('η', "eta"),
    ('θ', "theta"),
    ('ι', "iota"),
    ('κ', "kappa"),
    ('λ', "lambda"),
    ('μ', "mu"),
    ('ν', "nu"),
    ('ξ', "xi"),
    ('π', "pi"),
    ('ρ', "rho"),
    ('σ', "sigma"),
    ('ς', "varsigma"),
    ('τ', "tau"),
    ('υ', "upsilon"),
    ('φ', "varphi"),
    ('χ', "chi"),
    ('ψ', "psi"),
    ('ω', "omega"),
    ('ϑ', "vartheta"),
    ('ϕ', "phi"),
    ('ϖ', "varpi"),
    ('ϱ', "varrho"),
    ('ϵ', "epsilon"),
    ('µ', "mu"),
    ('Γ', "Gamma"),
    ('Δ', "Delta"),
    ('Θ', "Theta"),
    ('Λ', "Lambda"),
    ('Ξ', "Xi"),
    ('Π', "Pi"),
    ('Σ', "Sigma"),
    ('Φ', "Phi"),
    ('Ψ', "Psi"),
    ('Ω', "Omega"),
];

/// The expression as LaTeX math (without surrounding `$`). Under
/// [`crate::limits::with_limits`], gives up on an expression larger than `max_nodes`
/// written out.
///
/// Distinct names print distinctly. [`name`] writes the common spellings the way people
/// do (`x1` and `x_1` as `x_{1}`, `alpha` and `α` as `\alpha`, `x12` and the element
/// `x[12]` as `x_{12}`), so within one expression the names that would print alike are
/// told apart: one keeps the plain form, by this preference: an element (`x[12]`), then
/// a name with a Greek letter in it (`α`), then a name without `_` (`x1`, `alpha`), then
/// the rest; the others are written out literally in typewriter letters
/// (`\mathtt{x\_1}`, `\mathtt{alpha}`, `\mathtt{x12}`), which no plain form uses. (`π`
/// is the constant, as `pi` is.)
pub fn to_latex(e: &Expr) -> String {
    crate::limits::check_size(e.tree_size());
    let literal: HashSet<Sym> = clashes(e).into_iter().flat_map(|(_, names)| names.into_iter().skip(1)).collect();
    let saved = LITERAL.with(|l| l.replace(literal));
    let out = super::printing(e, || match pieces(e) {
        Some(pieces) => {
            let mut out = String::new();
            for (i, p) in pieces.iter().enumerate() {
                match i {
                    0 => out.push_str(&piece_latex(p, Prec::Neg)),
                    _ if p.is_negative() => {
                        out.push_str(" - ");
                        out.push_str(&piece_latex(&p.negated(), Prec::Product));
                    }
                    _ => {
                        out.push_str(" + ");
                        out.push_str(&piece_latex(p, Prec::Product));
                    }
                }
            }
            out
        }
        None => latex(e).0,
    });
    LITERAL.with(|l| *l.borrow_mut() = saved);
    out
}

/// A piece of a sum printed as a whole ([`pieces`]): a term (in parentheses below `min`),
/// or a group.
fn piece_latex(p: &Piece, min: Prec) -> String {
    match p {
        Piece::Term(t) => wrap(latex(t), min),
        Piece::Group(c, s) => content_latex(c, s),
    }
}

/// A sum as its content `c` times `rest` ([`super::Shared`]): `3 \left(1 - y^{2}\right)`, or
/// a fraction's numerator folded in, as a product's is: `\frac{3 \left(1 - y^{2}\right)}{4}`.
fn content_latex(c: &Rational, rest: &Expr) -> String {
    if c.is_integer() || number::decimal_digits(c).is_some() {
        return juxtapose(&[num(c).0, wrap(latex(rest), Prec::Product)]);
    }
    let sign = if c.is_negative() { "-" } else { "" };
    let top = match num_traits::One::is_one(c.numer().magnitude()) {
        true => latex(rest).0,
        false => juxtapose(&[integer(&c.numer().abs()), wrap(latex(rest), Prec::Product)]),
    };
    format!("{sign}\\frac{{{top}}}{{{}}}", integer(c.denom()))
}

thread_local! {
    /// The names [`to_latex`] is writing out literally, for the expression it prints.
    static LITERAL: RefCell<HashSet<Sym>> = RefCell::new(HashSet::new());
}

/// The names in `e` (variables, indexed names with their indices, functions) whose plain
/// forms are alike, grouped by that form, each group in order of preference (the first
/// keeps the plain form; see [`to_latex`]). Elements are written by their base's name, so
/// they come first as `Sym`s of their printed text (`x[12]`), never written literally.
fn clashes(e: &Expr) -> Vec<(String, Vec<Sym>)> {
    let mut seen: HashMap<String, Vec<(u8, Sym)>> = HashMap::new();
    let mut add = |plain: String, rank: u8, s: Sym| {
        let group = seen.entry(plain).or_default();
        if !group.iter().any(|(_, t)| *t == s) {
            group.push((rank, s));
        }
    };
    let rank = |n: &str| {
        if !n.is_ascii() {
            1
        } else if !n.contains('_') {
            2
        } else {
            3
        }
    };
    expr::walk(std::slice::from_ref(e), |x| {
        match x.node() {
            Node::Var(s) => add(name(s.as_str()), rank(s.as_str()), s.clone()),
            Node::Call(Func::Indexed(s), idx) => {
                let idx: Vec<String> = idx.iter().map(|a| latex(a).0).collect();
                add(format!("{}_{{{}}}", name(s.as_str()), idx.join(",")), 0, Sym::new(&x.to_string()));
            }
            Node::Call(Func::Abstract(a), _) => add(name(a.name.as_str()), rank(a.name.as_str()), a.name.clone()),
            _ => {}
        }
        expr::Walk::Descend
    });
    let mut out: Vec<(String, Vec<Sym>)> = seen
        .into_iter()
        .filter(|(_, g)| g.len() > 1)
        .map(|(plain, mut g)| {
            g.sort();
            (plain, g.into_iter().map(|(_, s)| s).collect())
        })
        .collect();
    out.sort();
    out
}

/// `n` written out character by character in typewriter letters (`\mathtt{x\_1}`,
/// `\mathtt{{\alpha}1}`): a different text for every name, and unlike any plain form.
fn literal(n: &str) -> String {
    let mut out = String::from("\\mathtt{");
    for c in n.chars() {
        match c {
            '_' => out.push_str("\\_"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("{{{}}}", word(&c.to_string()))),
        }
    }
    out.push('}');
    out
}

/// Each name, indexed name and function of `e` with how [`to_latex`] writes it there:
/// distinct for distinct names.
pub fn atoms(e: &Expr) -> Vec<(String, String)> {
    let literal: HashSet<Sym> = clashes(e).into_iter().flat_map(|(_, names)| names.into_iter().skip(1)).collect();
    let saved = LITERAL.with(|l| l.replace(literal));
    let mut out: Vec<(String, String)> = Vec::new();
    expr::walk(std::slice::from_ref(e), |x| {
        let atom = match x.node() {
            Node::Var(s) => Some((s.to_string(), name(s.as_str()))),
            Node::Call(Func::Indexed(_), _) => Some((x.to_string(), latex(x).0)),
            Node::Call(Func::Abstract(a), _) => Some((a.name.to_string(), name(a.name.as_str()))),
            _ => None,
        };
        if let Some(a) = atom.filter(|a| !out.contains(a)) {
            out.push(a);
        }
        expr::Walk::Descend
    });
    LITERAL.with(|l| *l.borrow_mut() = saved);
    out
}

/// A name as LaTeX: Greek names and letters become commands, a trailing index becomes a
/// braced subscript (`x1` is `x_{1}`, `w_j_k` is `w_{j,k}`, `w_alpha` is `w_{\alpha}`),
/// other long names `\mathit{name}`.
pub fn name(n: &str) -> String {
    if LITERAL.with(|l| l.borrow().iter().any(|s| s.as_str() == n)) {
        return literal(n);
    }
    // An element that stands as a name of its own (`z[2]`, `w[1,2]`).
    if let Some((base, idx)) = n.strip_suffix(']').and_then(|n| n.split_once('[')) {
        return format!("{}_{{{}}}", name(base), idx.split(',').map(|i| index(i.trim())).collect::<Vec<_>>().join(","));
    }
    let mut parts = n.split('_').filter(|p| !p.is_empty());
    let head = parts.next().unwrap_or("");
    let mut indices: Vec<String> = parts.map(index).collect();
    let (head, trailing) = split_digits(head);
    if let Some(t) = trailing {
        indices.insert(0, t.to_owned());
    }
    let head = word(head);
    if indices.is_empty() {
        return head;
    }
    format!("{head}_{{{}}}", indices.join(","))
}

/// A subscript: as written, with Greek names as commands (`jk`, `\\alpha`).
fn index(w: &str) -> String {
    if w.is_ascii() && !GREEK.contains(&w) {
        w.to_owned()
    } else {
        word(w)
    }
}

/// One word of a name: a Greek command, a letter, or `\mathit{word}`; a word mixing
/// Greek and Latin letters is read group by group (`Δx` is `\Delta x`).
fn word(w: &str) -> String {
    if GREEK.contains(&w) {
        return format!("\\{w}");
    }
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<String>| match run.chars().count() {
        0 => {}
        1 => out.push(std::mem::take(run)),
        _ if run.chars().all(|c| c.is_ascii_digit()) => out.push(std::mem::take(run)),
        _ => out.push(format!("\\mathit{{{}}}", std::mem::take(run))),
    };
    for c in w.chars() {
        match GREEK_CHARS.iter().find(|(g, _)| *g == c) {
            Some((_, g)) => {
                flush(&mut run, &mut out);
                out.push(format!("\\{g}"));
            }
            None if c.is_ascii_alphanumeric() => run.push(c),
            None => {
                flush(&mut run, &mut out);
                out.push(format!("\\text{{U+{:04X}}}", c as u32));
            }
        }
    }
    flush(&mut run, &mut out);
    out.join(" ")
}

fn split_digits(s: &str) -> (&str, Option<&str>) {
    let i = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if i == 0 || i == s.len() {
        (s, None)
    } else {
        (&s[..i], Some(&s[i..]))
    }
}

fn is_tall(s: &str) -> bool {
    s.contains("\\frac") || s.contains("\\sqrt")
}

fn paren(s: &str) -> String {
    if is_tall(s) {
        format!("\\left({s}\\right)")
    } else {
        format!("({s})")
    }
}

/// A group inside a product or under a power: `\left( \right)`, so that it is not read
/// as the arguments of a call before it and grows with a superscript after it.
fn wrap((s, p): (String, Prec), min: Prec) -> String {
    if p < min {
        format!("\\left({s}\\right)")
    } else {
        s
    }
}

/// Integers print in full up to 20 digits; longer ones as `m \cdot 10^{k}` when they
/// end in many zeros, or as `b^{k}` when they are an exact power of a small base.
fn integer(n: &BigInt) -> String {
    let s = n.abs().to_string();
    let sign = if n.is_negative() { "-" } else { "" };
    if s.len() <= 20 {
        return n.to_string();
    }
    let zeros = s.len() - s.trim_end_matches('0').len();
    if zeros >= 10 {
        let m = s.trim_end_matches('0');
        return match m {
            "1" => format!("{sign}10^{{{zeros}}}"),
            _ if m.len() <= 20 => format!("{sign}{m} \\cdot 10^{{{zeros}}}"),
            _ => n.to_string(),
        };
    }
    let a = n.abs();
    for b in 2u32..=36 {
        let base = BigInt::from(b);
        let k = ((a.bits() - 1) as f64 / (b as f64).log2()).round() as u32;
        for k in k.saturating_sub(1)..=k + 1 {
            if k > 1 && num_traits::pow(base.clone(), k as usize) == a {
                return format!("{sign}{b}^{{{k}}}");
            }
        }
    }
    n.to_string()
}

fn num(r: &Rational) -> (String, Prec) {
    let neg = r.is_negative();
    let p = if neg { Prec::Neg } else { Prec::Atom };
    if r.is_integer() {
        return (integer(r.numer()), p);
    }
    if let Some(d) = number::decimal_digits(r) {
        return (d, p);
    }
    let a = r.abs();
    let s = format!("\\frac{{{}}}{{{}}}", integer(a.numer()), integer(a.denom()));
    if neg {
        (format!("-{s}"), Prec::Neg)
    } else {
        (s, Prec::Product)
    }
}

pub(crate) fn latex(e: &Expr) -> (String, Prec) {
    crate::limits::deep(|| latex_node(e))
}

fn latex_node(e: &Expr) -> (String, Prec) {
    // The output is a tree, as large as the expression written out: the clock hears of
    // every node, so a DAG printed without --max-nodes still ends within --timeout.
    crate::limits::tick();
    match e.node() {
        Node::Num(r) => num(r),
        Node::Const(Constant::Pi) => ("\\pi".into(), Prec::Atom),
        Node::Var(s) => (name(super::var_name(s).as_str()), Prec::Atom),
        Node::Add(ts) => {
            let mut out = String::new();
            for (i, t) in ordered_terms(ts).iter().enumerate() {
                if i == 0 {
                    out.push_str(&wrap(latex(t), Prec::Neg));
                } else if is_negative(t) {
                    out.push_str(" - ");
                    out.push_str(&wrap(latex(&Expr::negate(t.clone())), Prec::Product));
                } else {
                    out.push_str(" + ");
                    out.push_str(&wrap(latex(t), Prec::Product));
                }
            }
            (out, Prec::Sum)
        }
        Node::Mul(_) => product(e),
        Node::Pow(b, x) if goes_below(b, x) => product(e),
        Node::Pow(b, x) => power(b, x),
        Node::Call(f, args) => call(e, f, args),
    }
}

fn product(e: &Expr) -> (String, Prec) {
    let fr = fraction(e);
    let mut numer: Vec<String> = Vec::new();
    match number::decimal_digits(&fr.coeff) {
        Some(d) => numer.push(d),
        None => {
            if let Some(n) = fr.coeff_numer() {
                numer.push(integer(n));
            }
        }
    }
    let coeff_denom = if number::decimal_digits(&fr.coeff).is_some() { None } else { fr.coeff_denom().map(integer) };
    // Each factor is written once (a factor written twice at every level of a nesting
    // would take time exponential in its depth).
    let numer_tex: Vec<(String, Prec)> = fr.numer.iter().map(latex).collect();
    let denom_tex: Vec<(String, Prec)> = fr.denom.iter().map(latex).collect();
    numer.extend(numer_tex.iter().map(|f| wrap(f.clone(), Prec::Product)));
    let mut denom: Vec<String> = coeff_denom.into_iter().collect();
    denom.extend(denom_tex.iter().map(|f| wrap(f.clone(), Prec::Product)));
    let sign = if fr.negative { "-" } else { "" };
    let top = juxtapose(&numer);
    if denom.is_empty() {
        let p = if fr.negative {
            Prec::Neg
        } else if numer.len() == 1 {
            numer_tex.first().map_or(Prec::Atom, |f| f.1)
        } else {
            Prec::Product
        };
        return (format!("{sign}{top}"), p);
    }
    // Inside \frac a lone numerator or denominator needs no parentheses.
    let top = match (numer.len(), numer_tex.as_slice()) {
        (0, _) => "1".to_owned(),
        (1, [only]) => only.0.clone(),
        _ => top,
    };
    if let (1, [only]) = (denom.len(), denom_tex.as_slice()) {
        return (format!("{sign}\\frac{{{top}}}{{{}}}", only.0), p_of(fr.negative));
    }
    (format!("{sign}\\frac{{{top}}}{{{}}}", juxtapose(&denom)), p_of(fr.negative))
}

fn p_of(negative: bool) -> Prec {
    if negative {
        Prec::Neg
    } else {
        Prec::Product
    }
}

/// Factors side by side, with `\cdot` where the next factor starts with a digit and a
/// thin space `\,` before a derivative of an abstract function (`2 x \, g'(x^{2})`) and
/// after a call (`g'(z) \, x_{1}`).
fn juxtapose(fs: &[String]) -> String {
    let mut out = String::new();
    for (i, f) in fs.iter().enumerate() {
        if i > 0 {
            let prev = &fs[i - 1];
            let derivative = f.contains("'(") || f.starts_with("\\partial") || f.contains("^{(");
            let sep = if f.starts_with(|c: char| c.is_ascii_digit()) {
                " \\cdot "
            } else if derivative || (prev.ends_with(')') && !f.starts_with("\\left(")) {
                " \\, "
            } else {
                " "
            };
            out.push_str(sep);
        }
        out.push_str(f);
    }
    out
}

/// An exponent: a fraction of two integers stays on one line (`x^{3/2}`).
fn exponent(x: &Expr) -> String {
    match x.as_num() {
        Some(r) if !r.is_integer() && number::decimal_digits(r).is_none() => format!("{}/{}", r.numer(), r.denom()),
        _ => latex(x).0,
    }
}

fn power(b: &Expr, x: &Expr) -> (String, Prec) {
    if x.as_num().is_some_and(|r| *r == Rational::new(1.into(), 2.into())) {
        return (format!("\\sqrt{{{}}}", latex(b).0), Prec::Atom);
    }
    // A named function's power goes after its name: \tanh^{2}(x).
    if let Node::Call(Func::Builtin(f), args) = b.node() {
        let f = f.def();
        if b.as_exp().is_none() && !f.latex.is_empty() {
            return (format!("{}^{{{}}}{}", f.latex, exponent(x), paren(&latex(&args[0]).0)), Prec::Power);
        }
    }
    let (base, p) = latex(b);
    // A partial derivative under a power is grouped: \left(\partial_{2} f(x, y)\right)^{2}.
    let p = if base.starts_with("\\partial") { Prec::Power } else { p };
    (format!("{}^{{{}}}", wrap((base, p), Prec::Atom), exponent(x)), Prec::Power)
}

/// A comparison as written ([`super::comparison_sides`]) in LaTeX (`\\geq`, `\\neq`).
fn comparison(op: Cmp, args: &[Expr]) -> String {
    let (left, sym, right) = super::comparison_sides(op, args);
    let sym = match sym {
        ">=" => "\\geq",
        "<=" => "\\leq",
        "==" => "=",
        "!=" => "\\neq",
        s => s,
    };
    format!("{} {sym} {}", wrap(latex(&left), Prec::Sum), wrap(latex(&right), Prec::Sum))
}

fn call(e: &Expr, f: &Func, args: &[Expr]) -> (String, Prec) {
    let arglist = || args.iter().map(|a| latex(a).0).collect::<Vec<_>>().join(", ");
    if let Some(u) = e.as_exp() {
        if u.is_one() {
            return ("e".into(), Prec::Atom);
        }
        let s = latex(u).0;
        if is_tall(&s) || s.len() > 24 {
            return (format!("\\exp\\left({s}\\right)"), Prec::Atom);
        }
        return (format!("e^{{{s}}}"), Prec::Power);
    }
    match f {
        Func::Cmp(op) => match super::heaviside_of(e) {
            Some(u) => (format!("H{}", paren(&latex(u).0)), Prec::Atom),
            // A comparison as a value is Iverson's bracket: 1 where it holds, 0 elsewhere.
            None => (format!("\\left[{}\\right]", comparison(*op, args)), Prec::Atom),
        },
        Func::If => {
            // One row per branch, `value & \text{if } condition`, the last `otherwise`.
            let last = args.len() - 1;
            let mut rows: Vec<String> = args[..last]
                .chunks(2)
                .map(|p| {
                    let cond = match p[0].node() {
                        Node::Call(Func::Cmp(op), ab) => comparison(*op, ab),
                        _ => latex(&p[0]).0,
                    };
                    format!("{} & \\text{{if }} {cond}", latex(&p[1]).0)
                })
                .collect();
            rows.push(format!("{} & \\text{{otherwise}}", latex(&args[last]).0));
            (format!("\\begin{{cases}} {} \\end{{cases}}", rows.join(" \\\\ ")), Prec::Atom)
        }
        Func::Max | Func::Min => (format!("\\{}{}", f.name(), paren(&arglist())), Prec::Atom),
        Func::Indexed(s) => {
            let idx: Vec<String> = args.iter().map(|a| latex(a).0).collect();
            // LATEX.md rule 9: indices of indexed variables are comma-separated, w_{j,k}.
            (format!("{}_{{{}}}", name(s.as_str()), idx.join(",")), Prec::Atom)
        }
        Func::Delta => {
            let idx: Vec<String> = args.iter().map(|a| latex(a).0).collect();
            let sep = if idx.iter().all(|i| i.chars().count() == 1) { "" } else { "," };
            (format!("\\delta_{{{}}}", idx.join(sep)), Prec::Atom)
        }
        Func::Sum(k) | Func::Prod(k) => {
            let op = if matches!(f, Func::Prod(_)) { "\\prod" } else { "\\sum" };
            // The bounds are outside the index's scope; the body inside.
            let bounds = args.get(1..3).map(|b| (latex(&b[0]).0, latex(&b[1]).0));
            super::binding(k, &args[0], |k| {
                let (body, p) = latex(&args[0]);
                let body = if p < Prec::Product { format!("\\left({body}\\right)") } else { body };
                let range = match bounds {
                    Some((lo, hi)) => format!("_{{{}={lo}}}^{{{hi}}}", name(k.as_str())),
                    None => format!("_{{{}}}", name(k.as_str())),
                };
                (format!("{op}{range} {body}"), Prec::Product)
            })
        }
        Func::Builtin(Builtin::Abs) => (format!("\\left|{}\\right|", arglist()), Prec::Atom),
        Func::Builtin(Builtin::Cbrt) => (format!("\\sqrt[3]{{{}}}", arglist()), Prec::Atom),
        Func::Builtin(f) => (format!("{}{}", f.def().latex, paren(&arglist())), Prec::Atom),
        Func::Abstract(a) => {
            let n = a.name.as_str();
            // Letters, Greek names and indexed names as written (g, \sigma, g_{1});
            // longer names as operators.
            let named = name(n);
            let head = if named.contains("\\mathit") || named.contains("\\text") {
                format!("\\operatorname{{{}}}", n.replace('_', "\\_"))
            } else {
                named
            };
            let s = if args.len() == 1 {
                match a.partials.len() {
                    0 => head,
                    k @ 1..=2 => format!("{head}{}", "'".repeat(k)),
                    k => format!("{head}^{{({k})}}"),
                }
            } else if a.partials.is_empty() {
                head
            } else {
                let mut parts = String::new();
                let mut i = 0;
                while i < a.partials.len() {
                    let p = a.partials[i];
                    let run = a.partials[i..].iter().take_while(|&&q| q == p).count();
                    parts.push_str(&format!("\\partial_{{{}}}", p + 1));
                    if run > 1 {
                        parts.push_str(&format!("^{{{run}}}"));
                    }
                    parts.push(' ');
                    i += run;
                }
                format!("{parts}{head}")
            };
            (format!("{s}{}", paren(&arglist())), Prec::Atom)
        }
    }
}

// ---- fitting the page -----------------------------------------------------------------

/// How wide `latex` sets in display math, roughly, in units of an average math
/// character (about 5.5pt at 10pt): a fraction is as wide as the wider of its parts,
/// scripts are smaller, `\left`/`\right` and spacing commands count for their
/// delimiters and space. An estimate for choosing where to break a line, not a measure.
pub fn width(latex: &str) -> f64 {
    Width { s: latex.as_bytes(), i: 0 }.run(1.0)
}

/// A small reader of the LaTeX this module writes, for [`width`].
struct Width<'a> {
    s: &'a [u8],
    i: usize,
}

impl Width<'_> {
    /// Until the end or an unmatched `}`, at `scale`.
    fn run(&mut self, scale: f64) -> f64 {
        let mut w = 0.0;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            w += match c {
                b'}' => return w,
                b'{' => self.run(scale),
                b'^' | b'_' => self.arg(scale * 0.7),
                b' ' => 0.0,
                b'+' | b'-' | b'=' => 1.8 * scale,
                b'\\' => self.command(scale),
                _ => scale,
            };
        }
        w
    }

    /// One argument: a group or a single character (or command).
    fn arg(&mut self, scale: f64) -> f64 {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                self.run(scale)
            }
            Some(b'\\') => {
                self.i += 1;
                self.command(scale)
            }
            Some(_) => {
                self.i += 1;
                scale
            }
            None => 0.0,
        }
    }

    /// After a backslash: a command and what it takes.
    fn command(&mut self, scale: f64) -> f64 {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_alphabetic) {
            self.i += 1;
        }
        if self.i == start {
            // `\,`, `\;`, `\{`, `\\`: a symbol or a little space.
            self.i += 1;
            return 0.3 * scale;
        }
        match &self.s[start..self.i] {
            b"frac" | b"tfrac" => {
                // Nested fractions are set smaller.
                let inner = if scale < 1.0 { 0.7 } else { 0.8 };
                let (a, b) = (self.arg(scale * inner), self.arg(scale * inner));
                a.max(b) + 0.4 * scale
            }
            b"left" | b"right" => {
                let d = self.arg(scale);
                d.min(scale)
            }
            b"operatorname" | b"mathit" | b"mathrm" | b"text" | b"texttt" => self.arg(scale) * 0.9,
            b"sqrt" => self.arg(scale) + scale,
            b"quad" => 1.8 * scale,
            b"qquad" => 3.6 * scale,
            b"cdot" | b"neq" => 1.8 * scale,
            b"sum" | b"prod" => 1.6 * scale,
            _ => scale,
        }
    }
}

/// `latex`, a sum as this module writes it, broken into lines of at most `max`
/// ([`width`]): at the `+` and `-` between its terms, or, for one term that is a
/// parenthesised sum with a factor (`\frac{1}{2} \left(a + b\right)`), at the `+` and
/// `-` inside the parentheses, each line closing with `\right.` and the next opening
/// with `\left.`. Lines after the first start with their operator. A term wider than
/// `max` on its own stays whole.
pub fn break_lines(latex: &str, max: f64) -> Vec<String> {
    if width(latex) <= max {
        return vec![latex.to_owned()];
    }
    let top = split_points(latex, 0);
    if !top.is_empty() {
        return pack(latex, &top, max, "", "");
    }
    // One term: break inside its one outermost `\left( ... \right)` group.
    let (Some(open), Some(close)) = (latex.find("\\left("), latex.rfind("\\right)")) else {
        return vec![latex.to_owned()];
    };
    let inner = split_points(latex, 1).into_iter().filter(|&p| p > open && p < close).collect::<Vec<_>>();
    if inner.is_empty() {
        return vec![latex.to_owned()];
    }
    pack(latex, &inner, max, " \\right.", "\\left. ")
}

/// Where `latex` may break: the byte offsets of ` + ` and ` - ` at brace depth 0 and
/// `\left`/`\right` depth `depth`.
fn split_points(latex: &str, depth: i32) -> Vec<usize> {
    let b = latex.as_bytes();
    let (mut braces, mut delims, mut out) = (0i32, 0i32, Vec::new());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => braces += 1,
            b'}' => braces -= 1,
            b'\\' if latex[i..].starts_with("\\left") => delims += 1,
            b'\\' if latex[i..].starts_with("\\right") => delims -= 1,
            b'\\' => i += 1,
            b' ' if braces == 0
                && delims == depth
                && (latex[i..].starts_with(" + ") || latex[i..].starts_with(" - ")) =>
            {
                out.push(i)
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `latex` cut at some of `points`, greedily, so that each line is at most `max` wide
/// where it can be; `close` ends every line but the last, `open` starts every line but
/// the first.
fn pack(latex: &str, points: &[usize], max: f64, close: &str, open: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut start = 0;
    let mut last_fit = None;
    for &p in points.iter().chain(std::iter::once(&latex.len())) {
        let piece = latex[start..p].trim();
        if width(piece) > max {
            if let Some(cut) = last_fit.filter(|&c| c > start) {
                lines.push(latex[start..cut].trim().to_owned());
                start = cut;
            }
        }
        last_fit = Some(p);
    }
    lines.push(latex[start..].trim().to_owned());
    let n = lines.len();
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let l = if i + 1 < n { format!("{l}{close}") } else { l };
            if i > 0 {
                format!("{open}{l}")
            } else {
                l
            }
        })
        .collect()
}
