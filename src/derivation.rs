//! Derivations: a derivative worked step by step, at a textbook's granularity.
//!
//! A [`Derivation`] is a chain of equalities, each labelled with its rule: the
//! definition substituted, the rule for the outermost operation (sum, product, quotient,
//! power or chain rule) with the inner derivatives left as `d/dz(...)`, those inner
//! derivatives evaluated, the terms collected, the result simplified, and the result in
//! terms of the names already computed. The calculus steps take their partials from the
//! table in `crate::rules` and their labels from its `Rule`s. Steps are [`Term`]s, a
//! small display tree that can hold unevaluated derivatives; every step can be evaluated
//! numerically (inner derivatives by dual numbers), which the tests use to hold each line
//! equal to the one before.

use std::fmt;

use crate::defs::Problem;
use crate::diff;
use crate::error::Result;
use crate::eval::{self, Env, Model};
use crate::expr::{Expr, Func, Node, Sym};
use crate::prec::Prec;
use crate::print::{fraction, latex, text};
use crate::rules::{self, Local, Rule};
use crate::simplify::{self, Form, Names};

/// A step's right-hand side: an expression that may contain unevaluated derivatives.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A finished expression.
    Expr(Expr),
    /// `d/dx (e)`, not yet evaluated.
    D(Sym, Expr),
    /// A sum; negative parts are [`Term::Neg`].
    Sum(Vec<Term>),
    /// `-t`.
    Neg(Box<Term>),
    /// A product, factors in order.
    Prod(Vec<Term>),
    /// `a / b`.
    Quot(Box<Term>, Box<Term>),
    /// `t ^ n`.
    Pow(Box<Term>, Expr),
}

/// One equality of a derivation.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The rule that gives this line from the one before.
    pub rule: String,
    /// The right-hand side.
    pub term: Term,
}

/// `d/dx name = ... = result`, with every step labelled.
#[derive(Clone, Debug, PartialEq)]
pub struct Derivation {
    /// What is differentiated, as written: a name or the expression.
    pub subject: String,
    /// The subject in LaTeX.
    pub subject_latex: String,
    /// The variable.
    pub var: Sym,
    /// The steps; the last is the result.
    pub steps: Vec<Step>,
    /// Expressions the input cancelled against themselves (`x/x = 1`): the derivation
    /// holds where they are not zero.
    pub assumed_nonzero: Vec<Expr>,
}

impl Derivation {
    /// The derivation of `problem`'s target by `x`, ending in the form `form` chooses.
    pub fn new(problem: &Problem, x: &Sym, form: Form) -> Result<Derivation> {
        let input = problem.inlined_target();
        let (subject, subject_latex) = match &problem.target_name {
            Some(n) => (n.to_string(), latex::name(n.as_str())),
            None => (text::to_text(&problem.target), latex::to_latex(&problem.target)),
        };
        let mut steps = Vec::new();
        if problem.target_name.is_some() || problem.target != input {
            steps.push(Step { rule: "definition".into(), term: Term::D(x.clone(), input.clone()) });
        }
        let (outer, rules) = outer_rule(&input, x);
        steps.push(Step { rule: label(&rules), term: outer.clone() });
        let (evaluated, inner_rules) = evaluate(&outer);
        if !inner_rules.is_empty() {
            steps.push(Step { rule: label(&inner_rules), term: evaluated });
        }
        let raw = diff::diff(&input, x);
        steps.push(Step { rule: "collect terms".into(), term: Term::Expr(raw.clone()) });
        let names = problem.names(Some(x));
        let plain = simplify::simplify(&raw, &Names::default(), Form::Input);
        steps.push(Step { rule: "common denominator, cancel".into(), term: Term::Expr(plain.clone()) });
        let (shown, subs) = simplify::simplify_explained(&raw, &names, form);
        // Without a name to bring in, the simplified line above is the result.
        let uses_names = shown.free_vars().iter().any(|v| problem.get(v).is_some());
        let shown = if uses_names || !subs.is_empty() { shown } else { plain.clone() };
        // Only the substitutions whose values the result still uses are worth naming.
        let used = shown.free_vars();
        let subs: Vec<_> = subs.into_iter().filter(|(_, v)| v.free_vars().iter().any(|s| used.contains(s))).collect();
        let rule = if subs.is_empty() {
            "simplify".to_owned()
        } else {
            let eqs: Vec<String> =
                subs.iter().map(|(a, v)| format!("{} = {}", text::to_text(a), text::to_text(v))).collect();
            format!("substitute {}", eqs.join(", "))
        };
        steps.push(Step { rule, term: Term::Expr(shown) });
        // Keep only lines that change what is printed.
        let mut kept: Vec<Step> = Vec::new();
        for s in steps {
            if kept.last().is_none_or(|k| k.term.to_text() != s.term.to_text()) {
                kept.push(s);
            }
        }
        Ok(Derivation {
            subject,
            subject_latex,
            var: x.clone(),
            steps: kept,
            assumed_nonzero: problem.assumed_nonzero.clone(),
        })
    }

    /// The result: the last step's expression.
    pub fn result(&self) -> Option<&Expr> {
        match &self.steps.last()?.term {
            Term::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// The derivation as a LaTeX `aligned` block that fits a page (`\textwidth` of an
    /// `article` at 10pt, about [`PAGE`] characters, [`latex::width`]): each step on a
    /// row with its label in a column on the right when every row fits so; otherwise
    /// the subject on a row of its own, each step under it, broken at the `+` and `-`
    /// of its sum where it is too wide ([`latex::break_lines`]), and its label on the
    /// row below it. A column of labels is as far right as the widest step pushes it, so
    /// one long step moves every label: they leave the column together.
    pub fn to_latex(&self) -> String {
        let head = format!("\\frac{{d}}{{d{}}} {}", latex::name(self.var.as_str()), self.subject_latex);
        let steps: Vec<(String, String)> =
            self.steps.iter().map(|s| (s.term.to_latex(), latex_text(&s.rule))).collect();
        let widest = |f: fn(&(String, String)) -> &String| steps.iter().map(|s| latex::width(f(s))).fold(0.0, f64::max);
        let fits = latex::width(&head) + widest(|s| &s.0) + widest(|s| &s.1) + 8.0 <= PAGE;
        if !fits {
            return self.to_latex_long(&head, &steps);
        }
        let mut out = format!("\\begin{{aligned}}\n{head}");
        for s in &self.steps {
            out.push_str(&format!(" &= {} && \\text{{{}}} \\\\\n", s.term.to_latex(), latex_text(&s.rule)));
        }
        for c in &self.assumed_nonzero {
            let c = latex::to_latex(c);
            out.push_str(&format!(" & && \\text{{where }} {c} \\neq 0 \\text{{ (cancelled: }} \\tfrac{{{c}}}{{{c}}} = 1 \\text{{)}} \\\\\n"));
        }
        if out.ends_with(" \\\\\n") {
            out.truncate(out.len() - 4);
            out.push('\n');
        }
        out.push_str("\\end{aligned}");
        out
    }

    /// [`Derivation::to_latex`] for a derivation too wide for a column of labels.
    fn to_latex_long(&self, head: &str, steps: &[(String, String)]) -> String {
        let mut rows = vec![format!("&{head}")];
        for (term, rule) in steps {
            for (i, line) in latex::break_lines(term, PAGE - 6.0).into_iter().enumerate() {
                rows.push(if i == 0 { format!("&= {line}") } else { format!("&\\qquad {line}") });
            }
            rows.push(format!("&\\qquad \\text{{({rule})}}"));
        }
        for c in &self.assumed_nonzero {
            let c = latex::to_latex(c);
            rows.push(format!(
                "&\\qquad \\text{{where }} {c} \\neq 0 \\text{{ (cancelled: }} \\tfrac{{{c}}}{{{c}}} = 1 \\text{{)}}"
            ));
        }
        format!("\\begin{{aligned}}\n{}\n\\end{{aligned}}", rows.join(" \\\\\n"))
    }

    /// The steps as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "subject": self.subject,
            "variable": self.var.as_str(),
            "steps": self.steps.iter().map(|s| serde_json::json!({
                "rule": s.rule, "text": s.term.to_text(), "latex": s.term.to_latex(),
            })).collect::<Vec<_>>(),
            "assumed_nonzero": self.assumed_nonzero.iter().map(text::to_text).collect::<Vec<_>>(),
        })
    }
}

/// How wide a line of display math may be, in [`latex::width`]'s units: the text width
/// of LaTeX's `article` class at 10pt (345pt), less a margin for the estimate.
pub const PAGE: f64 = 58.0;

/// Text inside `\text{...}`: the characters LaTeX treats specially are escaped, and math
/// in a label (`e^z = p/(1 - p)`) is set as math.
fn latex_text(rule: &str) -> String {
    match rule.split_once("substitute ") {
        Some((_, eqs)) => {
            let parts: Vec<String> = eqs
                .split(", ")
                .map(|eq| match eq.split_once(" = ") {
                    Some((a, v)) => match (crate::parse::parse_expr(a), crate::parse::parse_expr(v)) {
                        (Ok(a), Ok(v)) => format!("${} = {}$", latex::to_latex(&a), latex::to_latex(&v)),
                        _ => eq.replace('^', "\\^{}").replace('_', "\\_"),
                    },
                    None => eq.to_owned(),
                })
                .collect();
            format!("substitute {}", parts.join(", "))
        }
        None => rule.replace('_', "\\_").replace('^', "\\^{}"),
    }
}

impl fmt::Display for Derivation {
    /// One step per line, the rule in a comment on the right.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.steps.iter().map(|s| s.term.to_text()).collect();
        let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        writeln!(f, "d/d{} {}", self.var, self.subject)?;
        for (l, s) in lines.iter().zip(&self.steps) {
            // Padded by hand: a format width is at most 65535, and a step can be longer.
            let pad = " ".repeat(width - l.chars().count());
            writeln!(f, "  = {l}{pad}    # {}", s.rule)?;
        }
        for c in &self.assumed_nonzero {
            let t = text::to_text(c);
            let shown = if text::prec(c) < Prec::Atom { format!("({t})") } else { t.clone() };
            writeln!(f, "  where {t} ≠ 0    # cancelled: {shown}/{shown} = 1")?;
        }
        Ok(())
    }
}

/// The rule for the outermost operation of `e`, with inner derivatives unevaluated: the
/// partials are the table's ([`Local`]), written the way a textbook writes them (a
/// product's constant factors in front, a fraction by the quotient rule).
fn outer_rule(e: &Expr, x: &Sym) -> (Term, Vec<Rule>) {
    let d = |t: &Expr| -> Term {
        if t.contains(x) {
            Term::D(x.clone(), t.clone())
        } else {
            Term::Expr(Expr::zero())
        }
    };
    let fr = fraction(e);
    let den = Expr::mul(fr.denom.to_vec());
    if matches!(e.node(), Node::Mul(_) | Node::Pow(..)) && !fr.denom.is_empty() && den.contains(x) {
        // Quotient rule: (N' D - N D') / D^2.
        let num = Expr::quotient(e.clone(), Expr::pow(den.clone(), Expr::int(-1)));
        let mut top = Vec::new();
        if num.contains(x) {
            top.push(Term::Prod(vec![d(&num), Term::Expr(den.clone())]));
        }
        let nd = if num.is_one() { d(&den) } else { Term::Prod(vec![Term::Expr(num.clone()), d(&den)]) };
        top.push(Term::Neg(Box::new(nd)));
        let top = match <[Term; 1]>::try_from(top) {
            Ok([t]) => t,
            Err(top) => Term::Sum(top),
        };
        return (
            Term::Quot(Box::new(top), Box::new(Term::Pow(Box::new(Term::Expr(den)), Expr::int(2)))),
            vec![Rule::Quotient],
        );
    }
    let Some(local) = Local::of(e) else { return (Term::Expr(diff::diff(e, x)), vec![rules::rule_of(e)]) };
    let children = (0..local.len()).map(|i| (i, local.child(i)));
    match local.rule() {
        Rule::Sum => {
            let parts = children.filter(|(_, t)| t.contains(x)).map(|(_, t)| {
                if crate::print::is_negative(t) {
                    Term::Neg(Box::new(d(&Expr::negate(t.clone()))))
                } else {
                    d(t)
                }
            });
            (Term::Sum(parts.collect()), vec![Rule::Sum])
        }
        Rule::Product => {
            // The factors of each partial that do not vary are the same for every factor
            // that does: they go in front, once.
            let (varying, consts): (Vec<_>, Vec<_>) = children.partition(|(_, f)| f.contains(x));
            let c = Expr::mul(consts.into_iter().map(|(_, f)| f.clone()).collect::<Vec<_>>());
            let with_c = |t: Term| if c.is_one() { t } else { Term::Prod(vec![Term::Expr(c.clone()), t]) };
            if let [(_, f)] = varying[..] {
                return (with_c(d(f)), vec![Rule::ConstantFactor]);
            }
            let terms = varying.iter().map(|&(i, f)| {
                let others = local.partial(i).into_factors().into_iter().filter(|g| g.contains(x));
                Term::Prod(std::iter::once(d(f)).chain(others.map(Term::Expr)).collect())
            });
            (with_c(Term::Sum(terms.collect())), vec![Rule::Product])
        }
        Rule::Power | Rule::Logarithmic if !local.child(1).contains(x) => {
            let b = local.child(0);
            let mut fs: Vec<Term> = local.partial(0).into_factors().into_iter().map(Term::Expr).collect();
            if *b == Expr::sym(x.clone()) {
                (Term::Prod(fs), vec![Rule::Power])
            } else {
                fs.push(d(b));
                (Term::Prod(fs), vec![Rule::Power, Rule::Chain])
            }
        }
        Rule::Function(_)
            if matches!(e.node(), Node::Call(Func::Builtin(_), _)) && *local.child(0) != Expr::sym(x.clone()) =>
        {
            let u = local.child(0);
            (Term::Prod(vec![Term::Expr(local.partial(0).into_expr()), d(u)]), vec![Rule::Chain])
        }
        rule => (Term::Expr(diff::diff(e, x)), vec![rule]),
    }
}

/// A step's label: its rules, in order.
fn label(rules: &[Rule]) -> String {
    rules.iter().map(Rule::to_string).collect::<Vec<_>>().join(", ")
}

/// Evaluates the inner derivatives of `t`, collecting the rules they take.
fn evaluate(t: &Term) -> (Term, Vec<Rule>) {
    let mut rules = Vec::new();
    let out = evaluate_rec(t, &mut rules);
    (out, rules)
}

fn evaluate_rec(t: &Term, rules: &mut Vec<Rule>) -> Term {
    match t {
        Term::D(x, e) => {
            let r = rules::rule_of(e);
            if !rules.contains(&r) {
                rules.push(r);
            }
            Term::Expr(diff::diff(e, x))
        }
        Term::Expr(e) => Term::Expr(e.clone()),
        Term::Sum(ts) => Term::Sum(ts.iter().map(|t| evaluate_rec(t, rules)).collect()),
        Term::Prod(ts) => {
            // A factor 1 (the derivative of the variable itself) is not written.
            let mut fs: Vec<Term> = ts.iter().map(|t| evaluate_rec(t, rules)).collect();
            if fs.len() > 1 {
                fs.retain(|f| !matches!(f, Term::Expr(e) if e.is_one()));
            }
            match <[Term; 1]>::try_from(fs) {
                Ok([f]) => f,
                Err(fs) if fs.is_empty() => Term::Expr(Expr::one()),
                Err(fs) => Term::Prod(fs),
            }
        }
        Term::Neg(a) => match evaluate_rec(a, rules) {
            Term::Expr(e) => Term::Expr(Expr::negate(e)),
            t => Term::Neg(Box::new(t)),
        },
        Term::Quot(a, b) => Term::Quot(Box::new(evaluate_rec(a, rules)), Box::new(evaluate_rec(b, rules))),
        Term::Pow(a, n) => Term::Pow(Box::new(evaluate_rec(a, rules)), n.clone()),
    }
}

impl Term {
    /// The value at `env`; inner derivatives by dual numbers.
    pub fn eval(&self, env: &Env, model: &Model) -> Result<f64> {
        Ok(match self {
            Term::Expr(e) => eval::eval_with(e, env, Some(model))?,
            Term::D(x, e) => eval::eval_dual(e, env, x, Some(model))?.d,
            Term::Sum(ts) => ts.iter().map(|t| t.eval(env, model)).sum::<Result<f64>>()?,
            Term::Neg(a) => -a.eval(env, model)?,
            Term::Prod(ts) => ts.iter().map(|t| t.eval(env, model)).product::<Result<f64>>()?,
            Term::Quot(a, b) => a.eval(env, model)? / b.eval(env, model)?,
            Term::Pow(a, n) => a.eval(env, model)?.powf(eval::eval_with(n, env, Some(model))?),
        })
    }

    /// Plain text (for reading; unevaluated derivatives print as `d/dz(...)`).
    pub fn to_text(&self) -> String {
        self.text().0
    }

    fn text(&self) -> (String, Prec) {
        let wrap = |(s, p): (String, Prec), min: Prec| if p < min { format!("({s})") } else { s };
        match self {
            Term::Expr(e) => (text::to_text(e), text::prec(e)),
            Term::D(x, e) => (format!("d/d{x}({})", text::to_text(e)), Prec::Atom),
            Term::Sum(ts) => {
                let mut out = String::new();
                for (i, t) in ts.iter().enumerate() {
                    match (i, t) {
                        (0, Term::Neg(a)) => out.push_str(&format!("-{}", wrap(a.text(), Prec::Product))),
                        (0, t) => out.push_str(&t.text().0),
                        (_, Term::Neg(a)) => out.push_str(&format!(" - {}", wrap(a.text(), Prec::Product))),
                        (_, t) => out.push_str(&format!(" + {}", wrap(t.text(), Prec::Product))),
                    }
                }
                if ts.is_empty() {
                    out.push('0');
                }
                (out, Prec::Sum)
            }
            Term::Neg(a) => (format!("-{}", wrap(a.text(), Prec::Product)), Prec::Neg),
            Term::Prod(ts) => {
                (ts.iter().map(|t| wrap(t.text(), Prec::Product)).collect::<Vec<_>>().join("*"), Prec::Product)
            }
            Term::Quot(a, b) => {
                (format!("{}/{}", wrap(a.text(), Prec::Product), wrap(b.text(), Prec::Power)), Prec::Product)
            }
            Term::Pow(a, n) => match a.as_ref() {
                Term::Expr(e) => {
                    let p = Expr::pow(e.clone(), n.clone());
                    (text::to_text(&p), text::prec(&p))
                }
                _ => (
                    format!("{}^{}", wrap(a.text(), Prec::Atom), wrap((text::to_text(n), text::prec(n)), Prec::Atom)),
                    Prec::Power,
                ),
            },
        }
    }

    /// LaTeX; unevaluated derivatives print as `\frac{d}{dz} (...)`.
    pub fn to_latex(&self) -> String {
        self.latex().0
    }

    fn latex(&self) -> (String, Prec) {
        let wrap = |(s, p): (String, Prec), min: Prec| if p < min { format!("\\left({s}\\right)") } else { s };
        match self {
            Term::Expr(e) => latex::latex(e),
            Term::D(x, e) => {
                let (inner, p) = latex::latex(e);
                let inner = if p < Prec::Power { format!("\\left({inner}\\right)") } else { inner };
                (format!("\\frac{{d}}{{d{}}} {inner}", latex::name(x.as_str())), Prec::Neg)
            }
            Term::Sum(ts) => {
                let mut out = String::new();
                for (i, t) in ts.iter().enumerate() {
                    match (i, t) {
                        (0, Term::Neg(a)) => out.push_str(&format!("-{}", wrap(a.latex(), Prec::Product))),
                        (0, t) => out.push_str(&t.latex().0),
                        (_, Term::Neg(a)) => out.push_str(&format!(" - {}", wrap(a.latex(), Prec::Product))),
                        (_, t) => out.push_str(&format!(" + {}", wrap(t.latex(), Prec::Product))),
                    }
                }
                if ts.is_empty() {
                    out.push('0');
                }
                (out, Prec::Sum)
            }
            Term::Neg(a) => (format!("-{}", wrap(a.latex(), Prec::Product)), Prec::Neg),
            Term::Prod(ts) => {
                let parts: Vec<String> = ts.iter().map(|t| wrap(t.latex(), Prec::Product)).collect();
                let mut out = String::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if p.starts_with(|c: char| c.is_ascii_digit()) { " \\cdot " } else { " " });
                    }
                    out.push_str(p);
                }
                (out, Prec::Product)
            }
            Term::Quot(a, b) => (format!("\\frac{{{}}}{{{}}}", a.latex().0, b.latex().0), Prec::Product),
            Term::Pow(a, n) => match a.as_ref() {
                Term::Expr(e) => latex::latex(&Expr::pow(e.clone(), n.clone())),
                _ => (format!("{}^{{{}}}", wrap(a.latex(), Prec::Atom), latex::to_latex(n)), Prec::Power),
            },
        }
    }
}
