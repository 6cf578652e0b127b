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

use std::collections::HashMap;

use crate::defs::Problem;
use crate::diff::{self, Wrt};
use crate::error::Result;
use crate::eval::{self, Env, Model};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::matrix::Options;
use crate::prec::Prec;
use crate::print::{fraction, latex, text};
use crate::rules::{self, Local, Rule};
use crate::simplify::{self, Form, Names};

/// A step's right-hand side: an expression that may contain unevaluated derivatives.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A finished expression.
    Expr(Expr),
    /// `d/dx (e)` (by a variable) or `∂/∂z[j] (e)` (by an element), not yet evaluated.
    D(Wrt, Expr),
    /// `sum(k, t)` over an index, with the bounds written (`k=1..K`) or none.
    Over {
        /// The index summed over.
        index: Sym,
        /// The bounds, `lo` and `hi`, or none.
        bounds: Vec<Expr>,
        /// What is summed.
        body: Box<Term>,
    },
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
    /// The variable, or the element (`z[j]`).
    pub var: Wrt,
    /// The steps; the last is the result.
    pub steps: Vec<Step>,
    /// The derivations of the defined names the steps use (`d/dz[j] p[i]` for a loss
    /// through a softmax `p`), in the order they are needed, before this one.
    pub lemmas: Vec<Derivation>,
    /// Expressions the input cancelled against themselves (`x/x = 1`): the derivation
    /// holds where they are not zero.
    pub assumed_nonzero: Vec<Expr>,
}

impl Derivation {
    /// The derivation of `problem`'s target by `x`, ending in the form `form` chooses:
    /// what `deriv diff` prints.
    pub fn new(problem: &Problem, x: &Sym, form: Form) -> Result<Derivation> {
        let input = problem.inlined_target();
        let (subject, subject_latex) = match &problem.target_name {
            Some(n) => (n.to_string(), latex::name(n.as_str())),
            None => subject_texts(&problem.target),
        };
        let mut steps = Vec::new();
        if problem.target_name.is_some() || problem.target != input {
            steps.push(Step { rule: "definition".into(), term: Term::D(Wrt::Var(x.clone()), input.clone()) });
        }
        let (outer, rules) = outer_rule(&input, &Cx::plain(Wrt::Var(x.clone())));
        steps.push(Step { rule: label(&rules), term: outer.clone() });
        let (evaluated, inner_rules) = evaluate(&outer);
        if !inner_rules.is_empty() {
            steps.push(Step { rule: label(&inner_rules), term: evaluated });
        }
        let raw = diff::diff(&input, x);
        steps.push(Step { rule: "collect terms".into(), term: Term::Expr(raw.clone()) });
        // The names, and the calls of defined functions (`σ(2*x)`) under placeholders.
        let opts = Options::new(problem);
        let names = crate::matrix::names(problem, Some(x), &opts);
        let plain = simplify::simplify(&raw, &Names::default(), Form::Input);
        steps.push(Step { rule: "common denominator, cancel".into(), term: Term::Expr(plain.clone()) });
        let (shown, subs) = simplify::simplify_explained(&raw, &names, form);
        // Without a name to bring in, the simplified line above is the result.
        let uses_names = shown.free_vars().iter().any(|v| names.defs.iter().any(|(n, _)| n == v));
        let shown = crate::matrix::entry(&shown, &opts).shown;
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
        steps.push(Step { rule, term: Term::Expr(shown.clone()) });
        // The result is what `deriv diff` prints: where that is the input's built-ins
        // recognized and differentiated by their rows (`ln(1 + e^x)` is `softplus(x)`),
        // one more step writes the line above in them.
        // (Where it is the line above, `changing` drops it.)
        let opts = Options { form, ..opts };
        if let Some(printed) = crate::matrix::derivatives(problem, &input, x, 1, &opts).pop().map(|d| d.shown) {
            let new = new_calls(&shown, &printed);
            let rule = if new.is_empty() { "simplify".to_owned() } else { format!("in terms of {}", new.join(", ")) };
            steps.push(Step { rule, term: Term::Expr(printed) });
        }
        Ok(Derivation {
            subject,
            subject_latex,
            var: Wrt::Var(x.clone()),
            steps: changing(steps),
            lemmas: Vec::new(),
            assumed_nonzero: problem.assumed_nonzero.clone(),
        })
    }

    /// The derivation of `problem`'s target by the element `base[idx]` (`z[j]`), ending in
    /// what `deriv diff` prints ([`crate::indexed::diff_indexed`]). Defined names that depend on
    /// the element stay names: each is differentiated once, in a derivation of its own
    /// ([`Derivation::lemmas`]), and that result is used. The steps: the outer rules down
    /// to the names, the inner derivatives (`x[i]` gives `delta(i, j)`), the sums over
    /// deltas collapsed, the terms collected, the facts of `--assume` used where they
    /// stand, the names brought in, the result.
    pub fn indexed(
        problem: &Problem,
        base: &Sym,
        idx: &[Expr],
        sizes: &HashMap<Sym, i64>,
        opts: &Options,
    ) -> Result<Derivation> {
        let wrt = Wrt::Indexed(base.clone(), idx.to_vec());
        let mut lemmas = Lemmas { list: Vec::new(), known: HashMap::new() };
        let mut d = indexed_steps(problem, &wrt, sizes, opts, &mut lemmas)?;
        d.lemmas = lemmas.list;
        Ok(d)
    }

    /// The result: the last step's expression.
    pub fn result(&self) -> Option<&Expr> {
        match &self.steps.last()?.term {
            Term::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// The derivation as a LaTeX `aligned` block that fits a page (`\textwidth` of an
    /// `article` at 10pt, about [`PAGE`] characters, [`latex::width`]). The lemmas' rows
    /// come first, in the same block, each derivation laid out on its own: each step on a
    /// row with its label in a column on the right when every row fits so; otherwise
    /// the subject on a row of its own, each step under it, broken at the `+` and `-`
    /// of its sum where it is too wide ([`latex::break_lines`]), and its label on the
    /// row below it. A column of labels is as far right as the widest step pushes it, so
    /// one long step moves every label: they leave the column together.
    pub fn to_latex(&self) -> String {
        let mut body = String::new();
        for l in &self.lemmas {
            body.push_str(&l.latex_rows());
            body.push_str(" \\\\[1ex]\n");
        }
        body.push_str(&self.latex_rows());
        format!("\\begin{{aligned}}\n{body}\n\\end{{aligned}}")
    }

    /// This derivation's rows of an `aligned` block, without its lemmas.
    fn latex_rows(&self) -> String {
        let head = format!("{} {}", d_latex(&self.var), self.subject_latex);
        let steps: Vec<(String, String)> =
            self.steps.iter().map(|s| (s.term.to_latex(), latex_text(&s.rule))).collect();
        let widest = |f: fn(&(String, String)) -> &String| steps.iter().map(|s| latex::width(f(s))).fold(0.0, f64::max);
        let fits = latex::width(&head) + widest(|s| &s.0) + widest(|s| &s.1) + 8.0 <= PAGE;
        if !fits {
            return self.latex_rows_long(&head, &steps);
        }
        let mut out = head;
        for (term, rule) in &steps {
            out.push_str(&format!(" &= {term} && \\text{{{rule}}} \\\\\n"));
        }
        for c in &self.assumed_nonzero {
            let c = latex::to_latex(c);
            out.push_str(&format!(" & && \\text{{where }} {c} \\neq 0 \\text{{ (cancelled: }} \\tfrac{{{c}}}{{{c}}} = 1 \\text{{)}} \\\\\n"));
        }
        out.strip_suffix(" \\\\\n").map(str::to_owned).unwrap_or(out)
    }

    /// [`Derivation::latex_rows`] for a derivation too wide for a column of labels.
    fn latex_rows_long(&self, head: &str, steps: &[(String, String)]) -> String {
        let mut rows = vec![format!("&{head}")];
        for (term, rule) in steps {
            for (i, line) in latex::break_lines(term, PAGE - 6.0).into_iter().enumerate() {
                rows.push(if i == 0 { format!("&= {line}") } else { format!("&\\qquad {line}") });
            }
            // A long list of rules goes on as many rows as it needs, broken after commas
            // outside math (`$...$`).
            let mut parts: Vec<String> = Vec::new();
            for r in rule.split(", ") {
                match parts.last_mut() {
                    Some(p) if p.matches('$').count() % 2 == 1 => {
                        p.push_str(", ");
                        p.push_str(r);
                    }
                    _ => parts.push(r.to_owned()),
                }
            }
            let mut lines: Vec<String> = vec![String::new()];
            for r in &parts {
                let last = lines.len() - 1;
                if !lines[last].is_empty() && lines[last].len() + r.len() > LABEL_CHARS {
                    lines[last].push(',');
                    lines.push(String::new());
                }
                let last = lines.len() - 1;
                if !lines[last].is_empty() {
                    lines[last].push_str(", ");
                }
                lines[last].push_str(r);
            }
            let n = lines.len();
            for (i, l) in lines.into_iter().enumerate() {
                let (open, close) = (if i == 0 { "(" } else { "" }, if i + 1 == n { ")" } else { "" });
                rows.push(format!("&\\qquad \\text{{{open}{l}{close}}}"));
            }
        }
        for c in &self.assumed_nonzero {
            let c = latex::to_latex(c);
            rows.push(format!(
                "&\\qquad \\text{{where }} {c} \\neq 0 \\text{{ (cancelled: }} \\tfrac{{{c}}}{{{c}}} = 1 \\text{{)}}"
            ));
        }
        rows.join(" \\\\\n")
    }

    /// The steps as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "subject": self.subject,
            "variable": wrt_text(&self.var),
            "lemmas": self.lemmas.iter().map(Derivation::to_json).collect::<Vec<_>>(),
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
/// in a label (`e^z = p/(1 - p)`, `sum(k, t[k]) = 1`) is set as math.
fn latex_text(rule: &str) -> String {
    let plain = |t: &str| t.replace('_', "\\_").replace('^', "\\^{}");
    // An equation or an expression, in math where it reads back.
    let math = |part: &str| match part.split_once(" = ") {
        Some((a, v)) => match (crate::parse::parse_expr(a), crate::parse::parse_expr(v)) {
            (Ok(a), Ok(v)) => format!("${} = {}$", latex::to_latex(&a), latex::to_latex(&v)),
            _ => plain(part),
        },
        None => crate::parse::parse_expr(part).map_or_else(|_| plain(part), |e| format!("${}$", latex::to_latex(&e))),
    };
    for verb in ["substitute ", "assume ", "in terms of "] {
        if let Some(parts) = rule.strip_prefix(verb) {
            let parts: Vec<String> = crate::parse::split_outside_brackets(parts).into_iter().map(math).collect();
            return format!("{verb}{}", parts.join(", "));
        }
    }
    plain(rule)
}

/// The built-in calls in `e` (exponentials aside), at any depth, in order, each once.
fn builtin_calls(e: &Expr) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    expr::walk(std::slice::from_ref(e), |x| {
        if matches!(x.node(), Node::Call(Func::Builtin(_), _)) && x.as_exp().is_none() && !out.contains(x) {
            out.push(x.clone());
        }
        Walk::Descend
    });
    out
}

/// The built-in calls of `after` that `before` does not have, less those that are new
/// only for a new call inside them (`softplus(x)`, not `tanh(softplus(x))` as well).
fn new_calls(before: &Expr, after: &Expr) -> Vec<String> {
    let old = builtin_calls(before);
    let new: Vec<Expr> = builtin_calls(after).into_iter().filter(|c| !old.contains(c)).collect();
    new.iter().filter(|c| !new.iter().any(|d| d != *c && expr::occurs(c, d))).map(text::to_text).collect()
}

/// The variable as written in the text: `z`, `z[j]`.
fn wrt_text(w: &Wrt) -> String {
    text::to_text(&w.element())
}

/// `\frac{d}{dz}` by a variable, `\frac{\partial}{\partial z_{j}}` by an element.
fn d_latex(w: &Wrt) -> String {
    match w {
        Wrt::Var(x) => format!("\\frac{{d}}{{d{}}}", latex::name(x.as_str())),
        Wrt::Indexed(..) => format!("\\frac{{\\partial}}{{\\partial {}}}", latex::to_latex(&w.element())),
    }
}

/// The steps that change what is printed.
fn changing(steps: Vec<Step>) -> Vec<Step> {
    let mut kept: Vec<Step> = Vec::new();
    for s in steps {
        if kept.last().is_none_or(|k| k.term.to_text() != s.term.to_text()) {
            kept.push(s);
        }
    }
    kept
}

/// The most characters of rule labels on one row of a derivation in a document.
const LABEL_CHARS: usize = 60;

impl fmt::Display for Derivation {
    /// One step per line, the rule in a comment on the right.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lemmas {
            writeln!(f, "{l}")?;
        }
        let lines: Vec<String> = self.steps.iter().map(|s| s.term.to_text()).collect();
        let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        writeln!(f, "d/d{} {}", wrt_text(&self.var), self.subject)?;
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

/// What the steps differentiate by, and the defined names that depend on it (which the
/// steps of an indexed derivation keep as names, their derivatives worked out apart).
struct Cx<'a> {
    wrt: Wrt,
    problem: Option<&'a Problem>,
    varying: Vec<Sym>,
}

impl<'a> Cx<'a> {
    /// By `wrt`, every name inlined.
    fn plain(wrt: Wrt) -> Cx<'a> {
        Cx { wrt, problem: None, varying: Vec::new() }
    }

    /// Whether `e` depends on the variable, directly or through a name.
    fn varies(&self, e: &Expr) -> bool {
        e.contains(self.wrt.base()) || self.varying.iter().any(|n| e.contains(n))
    }

    /// Whether `e` holds a name that depends on the variable.
    fn has_name(&self, e: &Expr) -> bool {
        self.varying.iter().any(|n| e.contains(n))
    }

    /// The name and its indices when `e` is a varying name (`L`, `p[i]`).
    fn name_of<'e>(&self, e: &'e Expr) -> Option<(&'e Sym, &'e [Expr])> {
        match e.node() {
            Node::Var(n) if self.varying.contains(n) => Some((n, &[])),
            Node::Call(Func::Indexed(n), idx) if self.varying.contains(n) => Some((n, idx)),
            _ => None,
        }
    }

    /// `d/dx(t)` unevaluated, or 0 where `t` does not vary.
    fn d(&self, t: &Expr) -> Term {
        if self.varies(t) {
            Term::D(self.wrt.clone(), t.clone())
        } else {
            Term::Expr(Expr::zero())
        }
    }

    /// The derivative of `e` at once: by a variable as forward mode writes it, by an
    /// element with the deltas left standing; names inlined.
    fn diff(&self, e: &Expr) -> Expr {
        match (&self.wrt, self.problem) {
            (Wrt::Var(x), _) => diff::diff(e, x),
            (w, Some(p)) if self.has_name(e) => diff::diff_unresolved(&p.inline(e), w),
            (w, _) => diff::diff_unresolved(e, w),
        }
    }
}

/// The rule for the outermost operation of `e`, with inner derivatives unevaluated: the
/// partials are the table's ([`Local`]), written the way a textbook writes them (a
/// product's constant factors in front, a fraction by the quotient rule, a sum over an
/// index term by term).
fn outer_rule(e: &Expr, cx: &Cx) -> (Term, Vec<Rule>) {
    let d = |t: &Expr| cx.d(t);
    let x = cx.wrt.element();
    let fr = fraction(e);
    let den = Expr::mul(fr.denom.to_vec());
    if matches!(e.node(), Node::Mul(_) | Node::Pow(..)) && !fr.denom.is_empty() && cx.varies(&den) {
        // Quotient rule: (N' D - N D') / D^2.
        let num = Expr::quotient(e.clone(), Expr::pow(den.clone(), Expr::int(-1)));
        let mut top = Vec::new();
        if cx.varies(&num) {
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
    if let Node::Call(Func::Sum(k), args) = e.node() {
        // Term by term; an index the variable also uses is renamed in the body.
        let taken = cx.wrt.indices();
        let (index, body) = if taken.contains(k) {
            let fresh = expr::fresh_index(k, &[e, &x], &taken);
            (fresh.clone(), expr::substitute(&args[0], k, &Expr::sym(fresh)))
        } else {
            (k.clone(), args[0].clone())
        };
        let bounds = args[1..].to_vec();
        return (Term::Over { index, bounds, body: Box::new(d(&body)) }, vec![Rule::IndexedSum]);
    }
    if !cx.varies(e) {
        return (Term::Expr(cx.diff(e)), vec![Rule::Constant]);
    }
    let Some(local) = Local::of(e) else { return (Term::Expr(cx.diff(e)), vec![rules::rule_of(e)]) };
    let children = (0..local.len()).map(|i| (i, local.child(i)));
    match local.rule() {
        Rule::Sum => {
            // A term that does not vary is dropped: its derivative is 0.
            let constant = (0..local.len()).any(|i| !cx.varies(local.child(i)));
            let rules = if constant { vec![Rule::Sum, Rule::Constant] } else { vec![Rule::Sum] };
            let parts = children.filter(|(_, t)| cx.varies(t)).map(|(_, t)| {
                if crate::print::is_negative(t) {
                    Term::Neg(Box::new(d(&Expr::negate(t.clone()))))
                } else {
                    d(t)
                }
            });
            let parts: Vec<Term> = parts.collect();
            match <[Term; 1]>::try_from(parts) {
                Ok([t]) if cx.problem.is_some() => (t, rules),
                Ok([t]) => (Term::Sum(vec![t]), rules),
                Err(parts) => (Term::Sum(parts), rules),
            }
        }
        Rule::Product => {
            // The factors of each partial that do not vary are the same for every factor
            // that does: they go in front, once.
            let (varying, consts): (Vec<_>, Vec<_>) = children.partition(|(_, f)| cx.varies(f));
            let c = Expr::mul(consts.into_iter().map(|(_, f)| f.clone()).collect::<Vec<_>>());
            let with_c = |t: Term| {
                if c.is_one() {
                    t
                } else if c == Expr::int(-1) {
                    Term::Neg(Box::new(t))
                } else {
                    Term::Prod(vec![Term::Expr(c.clone()), t])
                }
            };
            if let [(_, f)] = varying[..] {
                return (with_c(d(f)), vec![Rule::ConstantFactor]);
            }
            let terms = varying.iter().map(|&(i, f)| {
                let others = local.partial(i).into_factors().into_iter().filter(|g| cx.varies(g));
                Term::Prod(std::iter::once(d(f)).chain(others.map(Term::Expr)).collect())
            });
            (with_c(Term::Sum(terms.collect())), vec![Rule::Product])
        }
        Rule::Power | Rule::Logarithmic if !cx.varies(local.child(1)) => {
            let b = local.child(0);
            let mut fs: Vec<Term> = local.partial(0).into_factors().into_iter().map(Term::Expr).collect();
            if *b == x {
                (Term::Prod(fs), vec![Rule::Power])
            } else {
                fs.push(d(b));
                (Term::Prod(fs), vec![Rule::Power, Rule::Chain])
            }
        }
        // The function's own derivative and the chain rule: both are applied here.
        Rule::Function(f) if is_chain(e, cx) => {
            let u = local.child(0);
            (Term::Prod(vec![Term::Expr(local.partial(0).into_expr()), d(u)]), vec![Rule::Function(f), Rule::Chain])
        }
        rule => (Term::Expr(cx.diff(e)), vec![rule]),
    }
}

/// `e` as the subject of `d/dx` in text and in LaTeX: in parentheses when it is a sum
/// (or looser), so that `d/dx (3 + x)` does not read as `d/dx(3) + x`.
fn subject_texts(e: &Expr) -> (String, String) {
    let (t, l) = (text::to_text(e), latex::to_latex(e));
    if text::prec(e) < Prec::Product {
        (format!("({t})"), format!("\\left({l}\\right)"))
    } else {
        (t, l)
    }
}

/// Whether `e` is a function of one argument that is not the variable itself: a
/// built-in, or (where names stand for what varies) an abstract function.
fn is_chain(e: &Expr, cx: &Cx) -> bool {
    match e.node() {
        Node::Call(Func::Builtin(_), args) => args[0] != cx.wrt.element(),
        Node::Call(Func::Abstract(_), args) => cx.problem.is_some() && args.len() == 1 && args[0] != cx.wrt.element(),
        _ => false,
    }
}

/// The derivations of the names an indexed derivation uses, and their results: the
/// name's indices (renamed where the variable uses them) and its derivative in them.
struct Lemmas {
    list: Vec<Derivation>,
    known: HashMap<Sym, (Vec<Sym>, Expr)>,
}

/// [`Derivation::indexed`] of `problem`'s target, the names it uses derived into
/// `lemmas` first.
fn indexed_steps(
    problem: &Problem,
    wrt: &Wrt,
    sizes: &HashMap<Sym, i64>,
    opts: &Options,
    lemmas: &mut Lemmas,
) -> Result<Derivation> {
    let base = wrt.base();
    let varying: Vec<Sym> =
        problem.defs.iter().filter(|d| problem.inline(&d.body).contains(base)).map(|d| d.name.clone()).collect();
    let cx = Cx { wrt: wrt.clone(), problem: Some(problem), varying };
    let body = target_body(problem);
    let body = if sizes.is_empty() { body } else { diff::expand_sums(&body, sizes) };
    let mut steps = Vec::new();
    if problem.target_name.is_some() || body != problem.target {
        steps.push(Step { rule: "definition".into(), term: Term::D(wrt.clone(), body.clone()) });
    }
    // The outer rule, and on through what is linear or holds a name.
    let mut rules = Vec::new();
    let (outer, r) = outer_rule(&body, &cx);
    r.into_iter().for_each(|r| push(&mut rules, r));
    let term = tidy(&expand_inner(&outer, &cx, &mut rules), true);
    steps.push(Step { rule: label(&rules), term: term.clone() });
    // The inner derivatives: a name's from its own derivation.
    let mut rules = Vec::new();
    let mut failed = None;
    let term = tidy(
        &term.map(&mut |t| match t {
            Term::D(w, e) => Some(Term::Expr(match cx.name_of(e) {
                Some((n, args)) => {
                    push(&mut rules, Rule::Name(n.clone()));
                    match lemma(problem, n, wrt, sizes, opts, lemmas) {
                        Ok((params, d)) => {
                            let map: HashMap<Sym, Expr> = params.iter().cloned().zip(args.iter().cloned()).collect();
                            expr::substitute_all(&d, &map)
                        }
                        Err(err) => {
                            failed = Some(err);
                            Expr::zero()
                        }
                    }
                }
                None => {
                    push(&mut rules, rules::rule_of(e));
                    if e.contains(base) {
                        push(&mut rules, Rule::Element);
                    }
                    debug_assert!(*w == cx.wrt);
                    cx.diff(e)
                }
            })),
            _ => None,
        }),
        false,
    );
    if let Some(err) = failed {
        return Err(err);
    }
    steps.push(Step { rule: label(&rules), term: term.clone() });
    // A sum whose terms are all worked out, over a delta, collapses.
    let collapsed = term.map(&mut |t| match t {
        Term::Expr(e) => Some(Term::Expr(diff::resolve_deltas(e))),
        Term::Over { body, .. } if matches!(**body, Term::Expr(_)) => {
            t.to_expr().map(|e| Term::Expr(diff::resolve_deltas(&e)))
        }
        _ => None,
    });
    steps.push(Step { rule: Rule::DeltaSum.to_string(), term: collapsed.clone() });
    let collected = collapsed.to_expr().unwrap_or_else(|| cx.diff(&body));
    let (collected, split) = match split_fraction(&collected) {
        Some(terms) => (terms, true),
        None => (collected, false),
    };
    let rule = if split { "split the fraction" } else { "collect terms" };
    steps.push(Step { rule: rule.into(), term: Term::Expr(collected.clone()) });
    let mut e = diff::resolve_deltas(&collected);
    steps.push(Step { rule: Rule::DeltaSum.to_string(), term: Term::Expr(e.clone()) });
    // A fact used where its left side stands.
    for fact in &opts.assume.0 {
        let used = replace(&e, &fact.lhs, &fact.rhs);
        if used != e {
            e = used;
            let fact = format!("{} = {}", text::to_text(&fact.lhs), text::to_text(&fact.rhs));
            steps.push(Step { rule: Rule::Assume(fact).to_string(), term: Term::Expr(e.clone()) });
        }
    }
    // The names brought in term by term, then the result.
    let Wrt::Indexed(b, idx) = wrt else { unreachable!("an indexed derivation is by an element") };
    let names = |e: &Expr| -> Vec<Expr> {
        let mut out = Vec::new();
        expr::walk(std::slice::from_ref(e), |x| {
            if let Node::Var(n) | Node::Call(Func::Indexed(n), _) = x.node() {
                if problem.get(n).is_some() && !out.contains(x) {
                    out.push(x.clone());
                }
            }
            expr::Walk::Descend
        });
        out
    };
    let terms = match e.node() {
        Node::Add(ts) => ts.clone(),
        _ => vec![e.clone()],
    };
    let (named, restore) = element_names(problem, b, idx, sizes, opts);
    let in_names = |t: &Expr| expr::substitute_all(&simplify::simplify(t, &named, opts.form), &restore);
    let substituted = Expr::add(terms.iter().map(in_names).collect::<Vec<_>>());
    let before = names(&e);
    let mut brought: Vec<Expr> = names(&substituted).into_iter().filter(|n| !before.contains(n)).collect();
    brought.sort_by_key(text::to_text);
    let last_is_sum = matches!(e.node(), Node::Add(_));
    if !brought.is_empty() {
        let eqs: Vec<String> =
            brought.iter().map(|n| format!("{} = {}", text::to_text(n), text::to_text(&problem.inline(n)))).collect();
        steps.push(Step { rule: format!("substitute {}", eqs.join(", ")), term: Term::Expr(substituted.clone()) });
    }
    let result = crate::indexed::diff_indexed(problem, b, idx, sizes, opts);
    let rule = if matches!(result.node(), Node::Mul(_)) && (last_is_sum || matches!(substituted.node(), Node::Add(_))) {
        "factor"
    } else {
        "simplify"
    };
    steps.push(Step { rule: rule.into(), term: Term::Expr(result) });
    let subject = match (problem.target.node(), &problem.target_name) {
        (Node::Var(n) | Node::Call(Func::Indexed(n), _), _) if problem.get(n).is_some() => problem.target.clone(),
        (_, Some(n)) => match problem.get(n) {
            Some(d) if !d.params.is_empty() => {
                Expr::call(Func::Indexed(n.clone()), d.params.iter().cloned().map(Expr::sym).collect())
            }
            _ => Expr::sym(n.clone()),
        },
        _ => problem.target.clone(),
    };
    Ok(Derivation {
        subject: subject_texts(&subject).0,
        subject_latex: subject_texts(&subject).1,
        var: wrt.clone(),
        steps: changing(steps),
        lemmas: Vec::new(),
        assumed_nonzero: problem.assumed_nonzero.clone(),
    })
}

/// The names the simplifier may use for a derivative by `base[idx]`, as
/// [`crate::indexed::diff_indexed`] gives them ([`crate::indexed::element_names`] at the
/// free indices of the element and of the target), and what puts the elements and the
/// facts' sides back.
fn element_names(
    problem: &Problem,
    base: &Sym,
    idx: &[Expr],
    sizes: &HashMap<Sym, i64>,
    opts: &Options,
) -> (Names, HashMap<Sym, Expr>) {
    let free = crate::indexed::target_indices(problem, idx.iter().flat_map(Expr::free_vars).collect());
    let wrt = Sym::new(&Expr::call(Func::Indexed(base.clone()), idx.to_vec()).to_string());
    let (names, mut restore) = crate::indexed::element_names(problem, &free, Some(&wrt), sizes, opts);
    restore.extend(opts.assume.restore_map());
    (names, restore)
}

/// A fraction whose numerator is a sum, `(a - b)/c`, as a sum of fractions, `a/c - b/c`.
fn split_fraction(e: &Expr) -> Option<Expr> {
    let Node::Mul(fs) = e.node() else { return None };
    let i = fs.iter().position(|f| matches!(f.node(), Node::Add(_)))?;
    let Node::Add(ts) = fs[i].node() else { return None };
    let rest = expr::all_but(fs, i);
    if !rest.iter().any(|f| matches!(f.node(), Node::Pow(_, n) if crate::print::is_negative(n))) {
        return None;
    }
    Some(Expr::add(
        ts.iter().map(|t| Expr::mul(rest.iter().cloned().chain([t.clone()]).collect::<Vec<_>>())).collect::<Vec<_>>(),
    ))
}

/// The body of `problem`'s target: the definition of its name with the indices put in,
/// or the target itself.
fn target_body(problem: &Problem) -> Expr {
    let (name, args) = match problem.target.node() {
        Node::Var(n) => (Some(n), Vec::new()),
        Node::Call(Func::Indexed(n), args) => (Some(n), args.clone()),
        _ => (problem.target_name.as_ref(), Vec::new()),
    };
    match name.and_then(|n| problem.get(n)).filter(|d| d.params.len() == args.len()) {
        Some(d) => {
            let map: HashMap<Sym, Expr> = d.params.iter().cloned().zip(args).collect();
            expr::substitute_all(&d.body, &map)
        }
        None => problem.target.clone(),
    }
}

/// The derivative of the name `n` by `wrt`, from its own derivation (made once, pushed
/// to `lemmas`): its indices, renamed where `wrt` uses them, and the result in them.
fn lemma(
    problem: &Problem,
    n: &Sym,
    wrt: &Wrt,
    sizes: &HashMap<Sym, i64>,
    opts: &Options,
    lemmas: &mut Lemmas,
) -> Result<(Vec<Sym>, Expr)> {
    if let Some(k) = lemmas.known.get(n) {
        return Ok(k.clone());
    }
    let Some(def) = problem.get(n) else { return Ok((Vec::new(), Expr::zero())) };
    let mut taken = wrt.indices();
    let mut params = Vec::new();
    for p in &def.params {
        let q = if taken.contains(p) { expr::fresh_index(p, &[&def.body, &wrt.element()], &taken) } else { p.clone() };
        taken.push(q.clone());
        params.push(q);
    }
    let mut sub = problem.clone();
    sub.target = if params.is_empty() {
        Expr::sym(n.clone())
    } else {
        Expr::call(Func::Indexed(n.clone()), params.iter().cloned().map(Expr::sym).collect())
    };
    sub.target_name = Some(n.clone());
    let d = indexed_steps(&sub, wrt, sizes, opts, lemmas)?;
    let result = d.result().cloned().unwrap_or_else(Expr::zero);
    lemmas.list.push(d);
    lemmas.known.insert(n.clone(), (params.clone(), result.clone()));
    Ok((params, result))
}

/// Round one of an indexed derivation: each inner derivative of a sum, a constant
/// multiple or a sum over an index, or of an expression holding a name, taken apart by
/// its outer rule in turn, down to names and to what is differentiated at once.
fn expand_inner(t: &Term, cx: &Cx, rules: &mut Vec<Rule>) -> Term {
    t.map(&mut |t| match t {
        Term::D(_, e) if (cx.has_name(e) && cx.name_of(e).is_none()) || linear(e, cx) => {
            let (inner, r) = outer_rule(e, cx);
            r.into_iter().for_each(|r| push(rules, r));
            Some(expand_inner(&inner, cx, rules))
        }
        _ => None,
    })
}

/// Whether the outer rule of `e` is linear: a sum, a sum over an index, a product with
/// one factor that varies (and no denominator that does).
fn linear(e: &Expr, cx: &Cx) -> bool {
    match e.node() {
        Node::Add(_) | Node::Call(Func::Sum(_), _) => true,
        Node::Mul(fs) => match fs.iter().filter(|f| cx.varies(f)).collect::<Vec<_>>()[..] {
            [f] => !matches!(f.node(), Node::Pow(_, n) if crate::print::is_negative(n)),
            _ => false,
        },
        _ => false,
    }
}

/// `t` written the way it reads: a product's factors of 1 dropped (and, with `gather`,
/// its finished factors gathered into one in front), a product of one factor that
/// factor, a negated expression the negated expression.
fn tidy(t: &Term, gather: bool) -> Term {
    t.map(&mut |t| match t {
        Term::Prod(fs) => {
            let fs: Vec<Term> = fs
                .iter()
                .map(|f| tidy(f, gather))
                .flat_map(|f| match f {
                    Term::Prod(gs) => gs,
                    f => vec![f],
                })
                .collect();
            let mut out: Vec<Term> = Vec::new();
            for f in fs {
                match (out.last_mut(), f) {
                    (Some(Term::Expr(a)), Term::Expr(b)) if gather => *a = Expr::mul([a.clone(), b]),
                    (_, f) => out.push(f),
                }
            }
            if out.len() > 1 {
                out.retain(|f| !matches!(f, Term::Expr(e) if e.is_one()));
            }
            Some(match <[Term; 1]>::try_from(out) {
                Ok([f]) => f,
                Err(out) => Term::Prod(out),
            })
        }
        Term::Neg(a) => Some(match tidy(a, gather) {
            Term::Expr(e) => Term::Expr(Expr::negate(e)),
            a => Term::Neg(Box::new(a)),
        }),
        _ => None,
    })
}

/// `e` with each occurrence of `what` replaced by `with`.
fn replace(e: &Expr, what: &Expr, with: &Expr) -> Expr {
    expr::fold(e, &mut IdMap::default(), |x| (x == what).then(|| with.clone()), expr::rebuild)
}

/// `r` added to `rules` unless it is there.
fn push(rules: &mut Vec<Rule>, r: Rule) {
    if !rules.contains(&r) {
        rules.push(r);
    }
}

/// A step's label: its rules, in order.
fn label(rules: &[Rule]) -> String {
    rules.iter().map(Rule::to_string).collect::<Vec<_>>().join(", ")
}

/// Every rule differentiating `e` by `x` takes, outermost first: a sum's rule (and a
/// constant's, for a term that does not vary), a constant factor's or the product rule, a
/// function's own derivative and the chain rule, the power rule...; a variable's rule only
/// when `e` is the variable.
fn rules_used(e: &Expr, x: &Sym) -> Vec<Rule> {
    if !e.contains(x) {
        return vec![Rule::Constant];
    }
    let mut out = Vec::new();
    let var = Expr::sym(x.clone());
    expr::walk(std::slice::from_ref(e), |n| {
        if !n.contains(x) {
            return expr::Walk::Skip;
        }
        match n.node() {
            Node::Add(ts) => {
                push(&mut out, Rule::Sum);
                if ts.iter().any(|t| !t.contains(x)) {
                    push(&mut out, Rule::Constant);
                }
            }
            Node::Mul(fs) if fs.iter().filter(|f| f.contains(x)).count() == 1 => push(&mut out, Rule::ConstantFactor),
            Node::Pow(b, p) if !p.contains(x) => {
                push(&mut out, Rule::Power);
                if *b != var {
                    push(&mut out, Rule::Chain);
                }
            }
            Node::Call(Func::Builtin(_) | Func::Abstract(_), args) if args.len() == 1 => {
                push(&mut out, rules::rule_of(n));
                if args[0] != var {
                    push(&mut out, Rule::Chain);
                }
            }
            Node::Var(_) if n != e => {}
            _ => push(&mut out, rules::rule_of(n)),
        }
        expr::Walk::Descend
    });
    out
}

/// Evaluates the inner derivatives of `t`, collecting the rules they take.
fn evaluate(t: &Term) -> (Term, Vec<Rule>) {
    let mut rules = Vec::new();
    let out = evaluate_rec(t, &mut rules);
    (out, rules)
}

fn evaluate_rec(t: &Term, rules: &mut Vec<Rule>) -> Term {
    match t {
        Term::D(Wrt::Var(x), e) => {
            for r in rules_used(e, x) {
                push(rules, r);
            }
            Term::Expr(diff::diff(e, x))
        }
        Term::D(w, e) => {
            push(rules, rules::rule_of(e));
            Term::Expr(diff::diff_unresolved(e, w))
        }
        Term::Over { index, bounds, body } => {
            Term::Over { index: index.clone(), bounds: bounds.clone(), body: Box::new(evaluate_rec(body, rules)) }
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
    /// The term as one expression, built by the constructors (which collect it); `None`
    /// while it holds an unevaluated derivative.
    pub fn to_expr(&self) -> Option<Expr> {
        Some(match self {
            Term::Expr(e) => e.clone(),
            Term::D(..) => return None,
            Term::Over { index, bounds, body } => {
                let mut args = vec![body.to_expr()?];
                args.extend(bounds.iter().cloned());
                Expr::call(Func::Sum(index.clone()), args)
            }
            Term::Sum(ts) => Expr::add(ts.iter().map(Term::to_expr).collect::<Option<Vec<_>>>()?),
            Term::Neg(a) => Expr::negate(a.to_expr()?),
            Term::Prod(ts) => Expr::mul(ts.iter().map(Term::to_expr).collect::<Option<Vec<_>>>()?),
            Term::Quot(a, b) => Expr::quotient(a.to_expr()?, b.to_expr()?),
            Term::Pow(a, n) => Expr::pow(a.to_expr()?, n.clone()),
        })
    }

    /// The term with `f` applied to each part: `f` returns the new part, or `None` to
    /// go on into the part's own parts.
    fn map(&self, f: &mut dyn FnMut(&Term) -> Option<Term>) -> Term {
        if let Some(t) = f(self) {
            return t;
        }
        match self {
            Term::Expr(_) | Term::D(..) => self.clone(),
            Term::Over { index, bounds, body } => {
                Term::Over { index: index.clone(), bounds: bounds.clone(), body: Box::new(body.map(f)) }
            }
            Term::Sum(ts) => Term::Sum(ts.iter().map(|t| t.map(f)).collect()),
            Term::Neg(a) => Term::Neg(Box::new(a.map(f))),
            Term::Prod(ts) => Term::Prod(ts.iter().map(|t| t.map(f)).collect()),
            Term::Quot(a, b) => Term::Quot(Box::new(a.map(f)), Box::new(b.map(f))),
            Term::Pow(a, n) => Term::Pow(Box::new(a.map(f)), n.clone()),
        }
    }

    /// The value at `env`; inner derivatives by dual numbers.
    pub fn eval(&self, env: &Env, model: &Model) -> Result<f64> {
        Ok(match self {
            Term::Expr(e) => eval::eval_with(e, env, Some(model))?,
            Term::D(Wrt::Var(x), e) => eval::eval_dual(e, env, x, Some(model))?.d,
            Term::D(Wrt::Indexed(b, idx), e) => {
                let at = idx.iter().map(|i| Ok(eval::eval_with(i, env, Some(model))?.round() as i64));
                let element = expr::element_name(b, &at.collect::<Result<Vec<i64>>>()?);
                eval::eval_dual(e, env, &element, Some(model))?.d
            }
            Term::Over { index, bounds, body } => {
                let (lo, hi) = match &bounds[..] {
                    [lo, hi] => (eval::eval_with(lo, env, Some(model))?, eval::eval_with(hi, env, Some(model))?),
                    _ => (1.0, eval::DEFAULT_RANGE as f64),
                };
                let mut env = env.clone();
                let mut total = 0.0;
                for k in (lo.round() as i64)..=(hi.round() as i64).min(lo.round() as i64 + 100_000) {
                    env.insert(index.clone(), k as f64);
                    total += body.eval(&env, model)?;
                }
                total
            }
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
            Term::D(x, e) => (format!("d/d{}({})", wrt_text(x), text::to_text(e)), Prec::Atom),
            Term::Over { index, bounds, body } => {
                let range = match &bounds[..] {
                    [lo, hi] => format!("={}..{}", text::to_text(lo), text::to_text(hi)),
                    _ => String::new(),
                };
                (format!("sum({index}{range}, {})", body.text().0), Prec::Atom)
            }
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

    /// LaTeX; unevaluated derivatives print as `\frac{d}{dz} (...)`. An expression that
    /// is the whole step prints as a result does (a shared fraction taken out of its sum:
    /// `\frac{1 - \tanh^{2}(x)}{2}`), as its text does.
    pub fn to_latex(&self) -> String {
        match self {
            Term::Expr(e) => latex::to_latex(e),
            _ => self.latex().0,
        }
    }

    fn latex(&self) -> (String, Prec) {
        let wrap = |(s, p): (String, Prec), min: Prec| if p < min { format!("\\left({s}\\right)") } else { s };
        match self {
            Term::Expr(e) => latex::latex(e),
            Term::D(x, e) => {
                let (inner, p) = latex::latex(e);
                let inner = if p < Prec::Power { format!("\\left({inner}\\right)") } else { inner };
                (format!("{} {inner}", d_latex(x)), Prec::Neg)
            }
            Term::Over { index, bounds, body } => {
                let range = match &bounds[..] {
                    [lo, hi] => format!(
                        "_{{{}={}}}^{{{}}}",
                        latex::name(index.as_str()),
                        latex::to_latex(lo),
                        latex::to_latex(hi)
                    ),
                    _ => format!("_{{{}}}", latex::name(index.as_str())),
                };
                (format!("\\sum{range} {}", wrap(body.latex(), Prec::Product)), Prec::Product)
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
