//! Built-ins spelled out: sub-expressions that are a built-in at some argument, written
//! back as the call, and quotients of sines and cosines written in the reciprocal
//! functions.
//!
//! [`recognized`] rewrites, bottom up and at any depth, each small sub-expression that
//! equals `tanh(u)`, `sinh(u)`, `cosh(u)`, `sigmoid(u)` or `softplus(u)` for an argument
//! `u` read off the exponentials it holds (`e^w` offers `w`, `-w`, `w/2`, `-w/2`; two of
//! them `e^a`, `e^b` offer `a - b` and its half): `(e^x - e^-x)/(e^x + e^-x)` is
//! `tanh(x)`, `ln(1 + e^x)` is `softplus(x)`, `e^a/(e^a + e^b)` is `sigmoid(a - b)`.
//! Calls of two of these built-ins at one argument offer it too (`cosh(x)/(1 +
//! sinh(x)^2)` is `sech(x)`); a product or sum is also read apart from its factors or
//! terms without exponentials (`2*sigmoid(2*u - s)`), and the logarithm of two
//! exponentials as an exponent plus a softplus (`ln(e^A + e^B)` is `B + softplus(A -
//! B)`). A guess is screened at a few points and kept only where it is cheaper and
//! [`proved_equal`] (the kernel view expands the call by its row's `expansion`, so the
//! proof is exact rational-function arithmetic). These functions are defined
//! everywhere, so a rewrite never narrows the domain.
//!
//! [`reciprocals`] writes `1/sin(u)` as `csc(u)`, `cos(u)/sin(u)` as `cot(u)` and so on
//! (and the hyperbolic ones): the search offers such a form only where it is strictly
//! cheaper than its best, so `1 + tan(u)^2` keeps its place against `sec(u)^2`.

use crate::expr::FastSet as HashSet;

use std::collections::HashMap;

use super::{agrees, cost, implicit_names, proved_equal, Form, Names};
use crate::eval;
use crate::expr::{self, Expr, Func, IdMap, Node, Sym};
use crate::func::Builtin;
use crate::number::Rational;

/// The largest sub-expression (in tree nodes) compared against the built-ins.
const MAX_NODE: u64 = 80;
/// The most exponentials of one sub-expression that arguments are read from.
const MAX_EXPS: usize = 4;
/// The most guesses screened numerically in one call of [`recognized`].
const MAX_TRIES: usize = 4000;
/// The built-ins a sub-expression may be: those whose row expands them into
/// exponentials (sinh, cosh, tanh, their reciprocals, sigmoid, softplus).
fn targets() -> &'static [Builtin] {
    // (Read off the table once: every sub-expression asks.)
    static TARGETS: std::sync::OnceLock<Vec<Builtin>> = std::sync::OnceLock::new();
    TARGETS.get_or_init(|| {
        Builtin::ALL.iter().copied().filter(|b| b.def().expansion.is_some_and(|x| x.contains("e^"))).collect()
    })
}

/// What the function table says of quotients, found per thread by proving each
/// candidate identity at the table's variable (the first time it is asked): the
/// reciprocal of each built-in that has one (`sec` of `cos`, `csch` of `sinh`;
/// `RECIPROCALS`, row by row), and the built-ins that are a product of a built-in and a
/// reciprocal (`cot = cos*csc`, `tan = sin*sec`, `coth = cosh*csch`). Asked of a
/// sigmoid, it screens the table numerically and proves nothing; a product is proved
/// only where one holds its two calls.
#[derive(Default)]
struct Quotients {
    products: Option<Vec<(Builtin, Builtin, Builtin)>>,
    proved: HashMap<(Builtin, Builtin, Builtin), bool>,
}

thread_local! {
    static QUOTIENTS: std::cell::RefCell<Quotients> = Default::default();
    static RECIPROCALS: crate::func::RowMemo<Option<Builtin>> = crate::func::RowMemo::new();
}

/// A numeric screen at two arguments: only what passes it is proved.
fn screened(a: &dyn Fn(f64) -> f64, b: &dyn Fn(f64) -> f64) -> bool {
    [0.37, 0.81].iter().all(|&t| (a(t) - b(t)).abs() <= 1e-12 * a(t).abs().max(1.0))
}

/// `f` at the atom `u`, where the table's identities are proved.
fn at_atom(f: Builtin) -> Expr {
    Expr::builtin(f, Expr::sym(crate::rules::table_variable()))
}

/// The reciprocal function of `f` (`sec` of `cos`, `cos` of `sec`), as the table's
/// expansions prove.
fn reciprocal(f: Builtin) -> Option<Builtin> {
    let val = |f: Builtin| f.def().eval;
    let find = |f: Builtin| {
        Builtin::ALL.iter().copied().find(|&g| {
            screened(&|t| (val(g))(t), &|t| 1.0 / (val(f))(t))
                && proved_equal(&at_atom(g), &Expr::pow(at_atom(f), Expr::int(-1)))
        })
    };
    RECIPROCALS.with(|r| r.get(f, find))
}

/// The built-ins `h = top*bottom` with `bottom` the reciprocal of another built-in,
/// `(top, bottom, h)` sorted, as far as the numeric screen tells: each is proved
/// ([`proved_product`]) only when a product holds `top` and `bottom`.
fn products() -> Vec<(Builtin, Builtin, Builtin)> {
    if let Some(p) = QUOTIENTS.with(|q| q.borrow().products.clone()) {
        return p;
    }
    let val = |f: Builtin| f.def().eval;
    let reciprocals: Vec<(Builtin, Builtin)> = Builtin::ALL
        .iter()
        .flat_map(|&of| {
            let is_reciprocal = move |&g: &Builtin| screened(&|t| (val(g))(t), &|t| 1.0 / (val(of))(t));
            Builtin::ALL.iter().copied().filter(is_reciprocal).map(move |bottom| (of, bottom))
        })
        .collect();
    let mut products = Vec::new();
    for &top in Builtin::ALL.iter() {
        for &(of, bottom) in &reciprocals {
            for &h in Builtin::ALL.iter().filter(|&&h| h != top && h != bottom && h.def().expansion.is_some()) {
                if screened(&|t| (val(h))(t), &|t| (val(top))(t) / (val(of))(t)) {
                    products.push((top, bottom, h));
                }
            }
        }
    }
    products.sort();
    products.dedup();
    QUOTIENTS.with(|q| q.borrow_mut().products = Some(products.clone()));
    products
}

/// Whether `h = top*bottom` is an identity of the table's expansions (proved once).
fn proved_product(top: Builtin, bottom: Builtin, h: Builtin) -> bool {
    if let Some(p) = QUOTIENTS.with(|q| q.borrow().proved.get(&(top, bottom, h)).copied()) {
        return p;
    }
    let p = proved_equal(&at_atom(h), &Expr::mul([at_atom(top), at_atom(bottom)]));
    QUOTIENTS.with(|q| q.borrow_mut().proved.insert((top, bottom, h), p));
    p
}

/// `e` with every small sub-expression that equals a built-in of [`targets`] (and costs
/// more) written as the call. Equal to `e` exactly, wherever `e` is defined.
pub(crate) fn recognized(e: &Expr) -> Expr {
    // Nothing to find without an exponential (or a built-in spelled in them).
    if !spelled_in_exponentials(e) {
        return e.clone();
    }
    if let Some(r) = RECOGNIZED.with(|m| m.borrow().get(&e.id()).cloned()) {
        return r;
    }
    let mut tries = 0;
    let none = HashSet::default();
    // The whole first: where it is one call (`e^z/(1 + e^z)`), its parts need no proofs
    // of their own (`1/(1 + e^z)` as `sigmoid(-z)`).
    let recognizable = |x: &Expr| {
        matches!(x.node(), Node::Add(_) | Node::Mul(_) | Node::Pow(..) | Node::Call(Func::Builtin(Builtin::Ln), _))
            && x.tree_size() <= MAX_NODE
    };
    // (Not where a factor or term holds no exponential, `x/(1 + e^-x)`: that whole is no
    // call, and its parts are what is recognized.)
    let all_spelled = match e.node() {
        Node::Add(items) | Node::Mul(items) => items.iter().all(spelled_in_exponentials),
        _ => true,
    };
    let whole_tried = recognizable(e) && all_spelled;
    if whole_tried {
        if let Some(call) = as_builtin(e, &none, &mut tries) {
            remember(e, &call, tries);
            return call;
        }
    }
    let mut memo: IdMap<Expr> = IdMap::default();
    for x in expr::post_order(std::slice::from_ref(e), |_| true) {
        if memo.contains_key(&x.id()) {
            continue;
        }
        if let Some(r) = RECOGNIZED.with(|m| m.borrow().get(&x.id()).cloned()) {
            memo.insert(x.id(), r);
            continue;
        }
        let rebuilt = expr::map_children(&x, |c| memo.get(&c.id()).cloned().unwrap_or_else(|| c.clone()));
        let r = if recognizable(&rebuilt) {
            // (The whole as written was tried above.)
            let tried = whole_tried && x.id() == e.id() && rebuilt == *e;
            (!tried)
                .then(|| as_builtin(&rebuilt, &none, &mut tries))
                .flatten()
                .or_else(|| around_the_rest(&rebuilt, &none, &mut tries))
                .or_else(|| log_of_exponentials(&rebuilt, &none, &mut tries))
                .unwrap_or(rebuilt)
        } else {
            rebuilt
        };
        remember(&x, &r, tries);
        memo.insert(x.id(), r);
    }
    memo.get(&e.id()).cloned().unwrap_or_else(|| e.clone())
}

/// Keeps `r` as [`recognized`]'s form of `x`, unless the search was cut short by the
/// budget (what it left as it was may be found another time).
fn remember(x: &Expr, r: &Expr, tries: usize) {
    if tries < MAX_TRIES {
        RECOGNIZED.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= MAX_REMEMBERED {
                m.clear();
            }
            m.insert(x.id(), r.clone());
        });
    }
}

/// How many nodes' [`recognized`] forms are remembered before the table starts again.
const MAX_REMEMBERED: usize = 100_000;

thread_local! {
    /// [`recognized`] by node: the entries of a gradient, and a derivative and its
    /// function, share most of their parts (node ids are never reused).
    static RECOGNIZED: std::cell::RefCell<IdMap<Expr>> = Default::default();
}

/// Empties the table of recognized forms (see [`super::forget_memos`]).
pub(crate) fn forget_memos() {
    RECOGNIZED.with(|m| m.borrow_mut().clear());
}

/// The cheaper of `plain` (the simplified `e`) and `simplify` of `e` [`recognized`], by
/// cost with the built-in outputs of both spellings counted as computed. The recognized
/// form is equal to `e` (each rewrite proved), its simplification to it (the
/// simplifier's proofs), and it must also agree with `e` numerically.
pub(crate) fn cheaper_recognized(
    e: &Expr,
    plain: (Expr, Vec<(Expr, Expr)>),
    names: &Names,
    form: Form,
    simplify: impl FnOnce(&Expr) -> (Expr, Vec<(Expr, Expr)>),
) -> (Expr, Vec<(Expr, Expr)>) {
    // The inputs' own spelling is what `--form input` asks for.
    let alt = if form == Form::Input { e.clone() } else { recognized(e) };
    if alt == *e {
        return plain;
    }
    let other = simplify(&alt);
    let cheap = computed(&[e, &alt]);
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    if better(&other.0, &plain.0, &cheap, names, form) && agrees(&other.0, e, &bodies) {
        other
    } else {
        plain
    }
}

/// `simplified` (the simplified `e`, with its substitutions) with the built-ins it
/// spells in exponentials [`recognized`], where that is cheaper (the built-in outputs
/// of `e` and of the result counted as computed). Each rewrite is proved; the form must
/// also agree with `e` numerically.
pub(crate) fn recognized_result(
    e: &Expr,
    simplified: (Expr, Vec<(Expr, Expr)>),
    names: &Names,
    form: Form,
) -> (Expr, Vec<(Expr, Expr)>) {
    let r = &simplified.0;
    let holds_exponentials = expr::walk(std::slice::from_ref(r), |n| match n.as_exp() {
        Some(_) => expr::Walk::Stop,
        None => expr::Walk::Descend,
    });
    if form == Form::Input || r == e || !holds_exponentials {
        return simplified;
    }
    let alt = recognized(r);
    let cheap = computed(&[e, r]);
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    if alt != *r && better(&alt, r, &cheap, names, form) && agrees(&alt, e, &bodies) {
        (alt, simplified.1)
    } else {
        simplified
    }
}

/// The derivative of `before` [`recognized`], simplified, where it is cheaper than `last`
/// (the simplified derivative `raw` of `before` as written). `before` recognized is equal
/// to `before` (each rewrite proved), so their derivatives are equal; the result must
/// also agree with `raw` numerically.
pub(crate) fn derivative_of_recognized(
    before: &Expr,
    raw: &Expr,
    last: &Expr,
    x: &Sym,
    known: &HashMap<Sym, Expr>,
    names: &Names,
    form: Form,
) -> Option<Expr> {
    let alt = alternative(before, form)?;
    preferred(raw, last, &crate::diff::diff_known(&alt, x, known), names, form)
}

/// `before` [`recognized`], where that changes it and `form` allows it: the function
/// whose derivatives [`preferred`] weighs against those of `before` as written.
pub(crate) fn alternative(before: &Expr, form: Form) -> Option<Expr> {
    if matches!(form, Form::Input | Form::Raw) {
        return None;
    }
    Some(recognized(before)).filter(|alt| alt != before)
}

/// `raw_alt` (the derivative of the [`alternative`] function by the same variable as
/// `raw`) simplified, where it is cheaper than `last` (`raw` simplified) and agrees with
/// `raw` numerically.
pub(crate) fn preferred(raw: &Expr, last: &Expr, raw_alt: &Expr, names: &Names, form: Form) -> Option<Expr> {
    let s = super::simplify(raw_alt, names, form);
    let cheap = computed(&[raw, raw_alt]);
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    (better(&s, last, &cheap, names, form) && agrees(&s, raw, &bodies)).then_some(s)
}

/// Whether `alt` is to be shown rather than `plain`: cheaper, and, where the forms are
/// to be in the names, in the names wherever `plain` is (`1 - e^y` for the log-sigmoid
/// `y`, not `sigmoid(-x)`).
fn better(alt: &Expr, plain: &Expr, cheap: &HashSet<Expr>, names: &Names, form: Form) -> bool {
    let uses_names = |c: &Expr| c.free_vars().iter().any(|v| names.defs.iter().any(|(n, _)| n == v));
    if form == Form::Output && uses_names(plain) && !uses_names(alt) {
        return false;
    }
    cost::cost(alt, cheap) < cost::cost(plain, cheap)
}

/// The built-in outputs (`tanh(u)`, `sigmoid(u)`) that `exprs` make available.
fn computed(exprs: &[&Expr]) -> HashSet<Expr> {
    exprs.iter().flat_map(|e| implicit_names(e, &[])).map(|(_, call)| call).collect()
}

/// Whether `e` holds an exponential or a call of [`targets`] (which the proof sees in
/// exponentials: `cosh(x)/(1 + sinh(x)^2)` is `sech(x)`).
fn spelled_in_exponentials(e: &Expr) -> bool {
    let targets = targets();
    expr::walk(std::slice::from_ref(e), |n| match n.node() {
        _ if n.as_exp().is_some() => expr::Walk::Stop,
        Node::Call(Func::Builtin(f), _) if targets.contains(f) => expr::Walk::Stop,
        _ => expr::Walk::Descend,
    })
}

/// The call of [`targets`] that `x` equals, where it is cheaper than `x`.
fn as_builtin(x: &Expr, none: &HashSet<Expr>, tries: &mut usize) -> Option<Expr> {
    let exponents = exponents(x)?;
    let mut args: Vec<Expr> = Vec::new();
    let mut offer = |u: Expr| {
        if !u.is_zero() && u.as_num().is_none() && !args.contains(&u) {
            args.push(u);
        }
    };
    let half = |u: &Expr| Expr::quotient(u.clone(), Expr::int(2));
    for (i, w) in exponents.iter().enumerate() {
        for u in [w.clone(), half(w)] {
            offer(Expr::negate(u.clone()));
            offer(u);
        }
        for v in &exponents[i + 1..] {
            let d = Expr::minus(w.clone(), v.clone());
            for u in [d.clone(), half(&d)] {
                offer(Expr::negate(u.clone()));
                offer(u);
            }
        }
    }
    // The cheapest spelling of an argument first: `sech(x)`, not `sech(-x)`.
    args.sort_by_cached_key(|u| cost::cost(u, none));
    let own = cost::cost(x, none);
    let vars = x.free_vars();
    let points = points(&vars);
    // One memo per point for all the calls: each call's argument is a part of `x` or
    // built from its exponents, valued once (a layer's argument is a long sum).
    let mut memos: Vec<IdMap<f64>> = points.iter().map(|_| IdMap::default()).collect();
    let values: Vec<Option<f64>> = points.iter().zip(&mut memos).map(|(p, m)| value(x, p, m)).collect();
    if values.iter().all(Option::is_none) {
        return None;
    }
    for u in &args {
        // The argument's values, once for all the targets: a target is screened by its
        // row's numeric value at them before any call is built or costed.
        let at: Vec<Option<f64>> = points.iter().zip(&mut memos).map(|(p, m)| value(u, p, m)).collect();
        let mut as_argument = None;
        for &f in targets() {
            if *tries >= MAX_TRIES {
                return None;
            }
            *tries += 1;
            let eval = f.def().eval;
            let close = values.iter().zip(&at).all(|(v, w)| match (v, w.map(eval).filter(|b| b.is_finite())) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
                (None, _) => true,
                (Some(_), None) => false,
            });
            if !close {
                // Or the values over the call's are one small fraction at every point
                // (`e^x/(1 + e^(2*x))` is `sech(x)/2`).
                let Some(c) = constant_ratio(&values, &at, eval) else { continue };
                let scaled = Expr::mul([Expr::num(c), Expr::builtin(f, u.clone())]);
                if cost::cost(&scaled, none) < own && proved_equal(x, &scaled) {
                    return Some(scaled);
                }
                continue;
            }
            let call = Expr::builtin(f, u.clone());
            let call_cost = match call.node() {
                Node::Call(Func::Builtin(_), a) if a[0] == *u && !none.contains(&call) => {
                    // (Costed once for all the targets: a layer's argument is a long sum.)
                    cost::builtin_call_cost(*as_argument.get_or_insert_with(|| cost::argument_cost(u, none)))
                }
                _ => cost::cost(&call, none),
            };
            if call_cost < own && proved_equal(x, &call) {
                return Some(call);
            }
        }
    }
    None
}

/// The number `c` with `values = c*f(at)` at every point where `values` is defined, where
/// it is a small fraction (`1/2`, `-3`): the numeric screen of [`as_builtin`] for a
/// multiple of a call.
fn constant_ratio(values: &[Option<f64>], at: &[Option<f64>], f: fn(f64) -> f64) -> Option<Rational> {
    let mut ratio: Option<f64> = None;
    for (v, w) in values.iter().zip(at) {
        let Some(a) = *v else { continue };
        let b = w.map(f).filter(|b| b.is_finite())?;
        if a.abs().min(b.abs()) <= 1e-9 {
            // (Near zero against near zero says nothing of the ratio; against more, no
            // small fraction relates them.)
            if a.abs().max(b.abs()) > 1e-9 {
                return None;
            }
            continue;
        }
        let r = a / b;
        match ratio {
            Some(first) if (r - first).abs() > 1e-9 * first.abs() => return None,
            Some(_) => {}
            None => ratio = Some(r),
        }
    }
    let r = ratio?;
    // The nearest fraction with a denominator up to 12, if it is that fraction.
    (1..=12i64).find_map(|q| {
        let p = (r * q as f64).round();
        ((p.abs() <= 1e6) && (p - r * q as f64).abs() <= 1e-9 * (r * q as f64).abs().max(1.0))
            .then(|| Rational::new((p as i64).into(), q.into()))
    })
}

/// A sum or product whose exponentials stand in some of its terms or factors only, or
/// in groups of them with no exponent in common: each such group of two or more
/// recognized as one call ([`as_builtin`]) and the rest kept as they are. `2*e^(2*u)/(e^s
/// + e^(2*u))` is `2*sigmoid(2*u - s)`, `x^2 + e^x/(1 + e^x)` is `x^2 + sigmoid(x)`,
/// `sinh(x)*e^c/(1 + e^c)` is `sinh(x)*sigmoid(c)`.
fn around_the_rest(x: &Expr, none: &HashSet<Expr>, tries: &mut usize) -> Option<Expr> {
    let (Node::Add(items) | Node::Mul(items)) = x.node() else { return None };
    // (A call recognized below, `sigmoid(-2*u)` of `1/(1 + e^(2*u))`, is still spelled in
    // exponentials to the proof.)
    let (with, rest): (Vec<Expr>, Vec<Expr>) = items.iter().cloned().partition(spelled_in_exponentials);
    let groups = sharing_exponents(&with);
    // (The whole, one group with nothing else, was tried as it stands.)
    if with.is_empty() || (rest.is_empty() && groups.len() == 1) {
        return None;
    }
    let join: fn(Vec<Expr>) -> Expr = match x.node() {
        Node::Add(_) => Expr::add,
        _ => Expr::mul,
    };
    let mut parts = rest;
    let mut found = false;
    for group in groups {
        // (A lone item is a part of its own, tried as such already.)
        let call = if group.len() > 1 { as_builtin(&join(group.clone()), none, tries) } else { None };
        match call {
            Some(c) => {
                found = true;
                parts.push(c);
            }
            None => parts.extend(group),
        }
    }
    found.then(|| join(parts))
}

/// `items` in groups that share an exponent (`e^w`, or a built-in of `w` that is spelled
/// in exponentials; `w` up to a numeric factor, so `e^c` and `sigmoid(-c)` share one),
/// joined through the exponents they share, in order.
fn sharing_exponents(items: &[Expr]) -> Vec<Vec<Expr>> {
    let targets = targets();
    let exponents_of = |x: &Expr| {
        let mut out: Vec<Expr> = Vec::new();
        expr::walk(std::slice::from_ref(x), |n| match n.node() {
            Node::Call(Func::Builtin(f), args) if targets.contains(f) => {
                out.push(args[0].coeff_rest().1);
                expr::Walk::Skip
            }
            _ => match n.as_exp() {
                Some(w) => {
                    out.push(w.coeff_rest().1);
                    expr::Walk::Skip
                }
                None => expr::Walk::Descend,
            },
        });
        out
    };
    let mut groups: Vec<(Vec<Expr>, Vec<Expr>)> = Vec::new();
    for item in items {
        let mut exps = exponents_of(item);
        let mut members = vec![item.clone()];
        // Every group sharing an exponent with this item joins it.
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.iter().any(|w| exps.contains(w)) {
                let (e, m) = groups.remove(i);
                exps.extend(e);
                members.splice(0..0, m);
            } else {
                i += 1;
            }
        }
        groups.push((exps, members));
    }
    groups.into_iter().map(|(_, m)| m).collect()
}

/// `ln(S)`, `S` a sum of exponentials (`1` is `e^0`), as `w + ln(S*e^-w)` for an exponent
/// `w` of `S`, where the second logarithm is a built-in ([`as_builtin`]): a sum of two
/// exponentials `e^A + e^B` is `e^B*(1 + e^(A - B))`, so `ln(e^(2*u) + e^s)` is `s +
/// softplus(2*u - s)`. The cheapest such form. Exact: `S` is positive.
fn log_of_exponentials(x: &Expr, none: &HashSet<Expr>, tries: &mut usize) -> Option<Expr> {
    let Node::Call(Func::Builtin(Builtin::Ln), args) = x.node() else { return None };
    let Node::Add(terms) = args[0].node() else { return None };
    if !terms.iter().all(|t| t.is_one() || t.as_exp().is_some()) {
        return None;
    }
    let own = cost::cost(x, none);
    let mut best: Option<(u32, Expr)> = None;
    for w in terms.iter().filter_map(Expr::as_exp) {
        let shift = Expr::exp(Expr::negate(w.clone()));
        let shifted = Expr::add(terms.iter().map(|t| Expr::mul([t.clone(), shift.clone()])).collect::<Vec<_>>());
        let Some(call) = as_builtin(&Expr::builtin(Builtin::Ln, shifted), none, tries) else { continue };
        let form = Expr::add([w.clone(), call]);
        let c = cost::cost(&form, none);
        if c < own && best.as_ref().is_none_or(|(b, _)| c < *b) {
            best = Some((c, form));
        }
    }
    best.map(|(_, form)| form)
}

/// The exponents `w` of the exponentials `e^w` in `x` outside other calls, and the
/// arguments of its calls of [`targets`] (`sinh(w)` is `(e^w - e^-w)/2`), at most
/// [`MAX_EXPS`] of them; `None` when there are none or too many. Without an exponential,
/// only where two functions are called at one argument (`cosh(x)/(1 + sinh(x)^2)`): a
/// call alone (`1/tanh(x)`) is the input's own spelling, which [`reciprocals`] respells
/// where strictly cheaper.
fn exponents(x: &Expr) -> Option<Vec<Expr>> {
    let mut found: Vec<(Option<Builtin>, Expr)> = Vec::new();
    let targets = targets();
    expr::walk(std::slice::from_ref(x), |n| {
        let arg = match n.node() {
            Node::Call(Func::Builtin(f), args) if targets.contains(f) => Some((Some(*f), args[0].clone())),
            _ => n.as_exp().map(|w| (None, w.clone())),
        };
        if let Some(a) = arg {
            found.push(a);
            return expr::Walk::Skip;
        }
        match n.node() {
            Node::Call(Func::Builtin(Builtin::Ln), _) if n.id() == x.id() => expr::Walk::Descend,
            Node::Call(..) => expr::Walk::Skip,
            _ => expr::Walk::Descend,
        }
    });
    let exp = found.iter().any(|(f, _)| f.is_none());
    let paired = |(f, w): &(Option<Builtin>, Expr)| found.iter().any(|(g, v)| v == w && g != f);
    if !exp && !found.iter().any(paired) {
        return None;
    }
    let mut out: Vec<Expr> = Vec::new();
    for (_, w) in found {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    (!out.is_empty() && out.len() <= MAX_EXPS).then_some(out)
}

/// A few fixed points for the variables (the screen only; the proof decides).
fn points(vars: &[Sym]) -> Vec<eval::Env> {
    const AT: [[f64; 3]; 3] = [[0.37, -0.81, 1.23], [-0.52, 0.64, 0.29], [1.07, 0.13, -0.46]];
    AT.iter()
        .map(|row| vars.iter().enumerate().map(|(i, v)| (v.clone(), row[i % 3] + 0.11 * (i / 3) as f64)).collect())
        .collect()
}

/// `e` at `env`, where it is finite; `memo` holds node values at `env` (node ids are
/// never reused, so it stays valid while `env` is the same).
fn value(e: &Expr, env: &eval::Env, memo: &mut IdMap<f64>) -> Option<f64> {
    eval::eval_with_memo(e, env, None, memo).ok().filter(|v: &f64| v.is_finite())
}

/// `e` with negative powers of `sin`, `cos`, `sinh`, `cosh` written as powers of `csc`,
/// `sec`, `csch`, `sech`, and in a product `cos(u)^a*csc(u)^b` as `cot(u)^min(a, b)` times
/// what is left (`cosh`/`csch` as `coth` likewise). Equal to `e`,
/// with the same domain.
pub(crate) fn reciprocals(e: &Expr) -> Expr {
    if !has_trig(e) {
        return e.clone();
    }
    expr::rebuilt_bottom_up(e, |rebuilt| match rebuilt.node() {
        Node::Pow(b, p) => flipped(b, p).unwrap_or_else(|| rebuilt.clone()),
        Node::Mul(fs) => quotients(fs).unwrap_or_else(|| rebuilt.clone()),
        _ => rebuilt.clone(),
    })
}

/// The calls of `sec`, `csc`, `cot`, `sech`, `csch`, `coth` in `e`, outside other calls.
pub(crate) fn own_reciprocal_calls(e: &Expr) -> Vec<Expr> {
    use Builtin::*;
    let mut out = Vec::new();
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(Func::Builtin(Sec | Csc | Cot | Sech | Csch | Coth), _) => {
            out.push(x.clone());
            expr::Walk::Skip
        }
        Node::Call(..) if x.as_exp().is_none() => expr::Walk::Skip,
        _ => expr::Walk::Descend,
    });
    out
}

/// Whether `e` calls `sin`, `cos`, `sinh` or `cosh` outside other calls.
fn has_trig(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(Func::Builtin(f), _) if reciprocal(*f).is_some() => expr::Walk::Stop,
        Node::Call(..) => expr::Walk::Skip,
        _ => expr::Walk::Descend,
    })
}

/// `f(u)^-k` as `g(u)^k`, `g` the reciprocal of `f`.
fn flipped(b: &Expr, p: &Expr) -> Option<Expr> {
    let Node::Call(Func::Builtin(f), args) = b.node() else { return None };
    let g = reciprocal(*f)?;
    let k = p.as_num().filter(|r| r.is_integer() && num_traits::Signed::is_negative(*r))?;
    Some(Expr::pow(Expr::builtin(g, args[0].clone()), Expr::num(-k.clone())))
}

/// A product's factors `f(u)^a`: the function, the argument and the power.
fn power_of_call(e: &Expr) -> Option<(Builtin, Expr, Rational)> {
    let (b, k) = match e.node() {
        Node::Pow(b, p) => (b, p.as_num().filter(|r| r.is_integer())?.clone()),
        _ => (e, Rational::from_integer(1.into())),
    };
    let Node::Call(Func::Builtin(f), args) = b.node() else { return None };
    Some((*f, args[0].clone(), k))
}

/// A product with `cos(u)^a*csc(u)^b` in it written with `cot(u)` (and `sin`, `sec` with
/// `tan`; `cosh`, `csch` with `coth`; `sinh`, `sech` with `tanh`).
fn quotients(fs: &[Expr]) -> Option<Expr> {
    let mut calls: Vec<Option<(Builtin, Expr, Rational)>> = fs.iter().map(power_of_call).collect();
    // (A pair is two calls at one argument. Most products hold none: the table is not
    // even read for them, nor worked out, which screens every triple of built-ins.)
    let two_at_one_argument = calls
        .iter()
        .enumerate()
        .any(|(i, c)| c.as_ref().is_some_and(|(_, u, _)| calls[i + 1..].iter().flatten().any(|(_, v, _)| v == u)));
    if !two_at_one_argument {
        return None;
    }
    let products = products();
    if !products.iter().any(|&(top, bottom, _)| pair_of(&calls, top, bottom).is_some()) {
        return None;
    }
    let mut factors: Vec<Expr> = fs.to_vec();
    let mut changed = false;
    for (top, bottom, quotient) in products {
        while let Some((i, j)) = pair_of(&calls, top, bottom) {
            if !proved_product(top, bottom, quotient) {
                break;
            }
            let (_, u, a) = calls[i].clone()?;
            let (_, _, b) = calls[j].clone()?;
            let m = a.clone().min(b.clone());
            let call = |f: Builtin, k: Rational| Expr::pow(Expr::builtin(f, u.clone()), Expr::num(k));
            let mut next: Vec<Expr> =
                factors.iter().enumerate().filter(|&(n, _)| n != i && n != j).map(|(_, f)| f.clone()).collect();
            next.extend([call(quotient, m.clone()), call(top, a - &m), call(bottom, b - &m)]);
            factors = next;
            calls = factors.iter().map(power_of_call).collect();
            changed = true;
        }
    }
    changed.then(|| Expr::mul(factors))
}

/// Factors `i`, `j` of a product (as [`power_of_call`] reads them) that are positive
/// powers of `top` and `bottom` at one argument.
fn pair_of(calls: &[Option<(Builtin, Expr, Rational)>], top: Builtin, bottom: Builtin) -> Option<(usize, usize)> {
    calls.iter().enumerate().find_map(|(i, c)| {
        let (f, u, a) = c.as_ref()?;
        if *f != top || !num_traits::Signed::is_positive(a) {
            return None;
        }
        let j = calls.iter().position(
            |d| matches!(d, Some((g, v, b)) if *g == bottom && v == u && num_traits::Signed::is_positive(b)),
        )?;
        Some((i, j))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_expr;

    fn rec(text: &str) -> String {
        recognized(&parse_expr(text).unwrap()).to_string()
    }

    /// The exponentials of a product or a sum recognized apart from its other factors
    /// or terms.
    #[test]
    fn a_builtin_among_other_factors_and_terms() {
        assert_eq!(rec("5*e^(3*k)/(e^(3*k) + e^m)"), "5*sigmoid(3*k - m)");
        assert_eq!(rec("q^3 + e^q/(1 + e^q)"), "q^3 + sigmoid(q)");
        assert_eq!(rec("r*(e^(2*r) - 1)/(e^(2*r) + 1)"), "r*tanh(r)");
        assert_eq!(rec("w*e^w"), "w*e^w");
    }

    /// A logarithm of two exponentials is either exponent plus a
    /// softplus of their difference, whatever the exponents' coefficients.
    #[test]
    fn a_log_of_two_exponentials_is_a_shifted_softplus() {
        assert_eq!(rec("ln(e^(4*r) + e^(-r))"), "softplus(5*r) - r");
        assert_eq!(rec("ln(e^(c*z) + e^m)"), "m + softplus(c*z - m)");
        assert_eq!(rec("ln(e^v + e^(v^3))"), "v + softplus(v^3 - v)");
        assert_eq!(rec("z*ln(1 + e^(3*z))"), "z*softplus(3*z)");
        // Three exponentials leave no built-in; a number other than 1 is no exponential.
        assert_eq!(rec("ln(e^a + e^b + e^c)"), "ln(e^a + e^b + e^c)");
        assert_eq!(rec("ln(2 + e^(3*t))"), "ln(2 + e^(3*t))");
    }

    /// Calls of two functions at one argument are read in exponentials too; a call alone
    /// keeps its spelling.
    #[test]
    fn hyperbolic_calls_at_one_argument() {
        assert_eq!(rec("cosh(3*w)/(1 + sinh(3*w)^2)"), "sech(3*w)");
        assert_eq!(rec("z + sinh(z)/cosh(z)"), "z + tanh(z)");
        assert_eq!(rec("m*sinh(m)*cosh(m)/(1 + sinh(m)^2)"), "m*tanh(m)");
        assert_eq!(rec("cos(v)/tanh(v)"), "cos(v)/tanh(v)");
        assert_eq!(rec("sinh(a)/tanh(b)"), "sinh(a)/tanh(b)");
    }
}
