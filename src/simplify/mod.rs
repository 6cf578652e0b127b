//! The simplifier: an expression in the cheapest equal form, in terms of what is
//! already computed.
//!
//! Candidates are built and the cheapest under [`cost::cost`] is kept, after a numeric
//! check against the input:
//! - the input as it is, and as one reduced rational function of its atoms;
//! - the input rewritten in terms of names. Each name `p = B` is a relation between `p`
//!   and the atoms of `B` (in the kernel view, where `e^z`, `e^(2*z)`, `tanh(z)` and
//!   `sigmoid(z)` are all rational in one kernel `e^z`). Where `B` is a linear fraction
//!   of one atom `k`, `(a1*k + a0)/(b1*k + b0)`, the relation is solved for `k` and `k`
//!   is substituted everywhere; names defined by a logarithm, `p = c*ln(A)`, give the
//!   relation `A = e^(p/c)`. No answer is looked up: `p*(1 - p)` for the sigmoid is what
//!   substituting `e^z = p/(1 - p)` into `e^z/(1 + e^z)^2` and cancelling gives.
//!
//! Names are the definitions the user gave (all of them count as computed) and, when
//! the input uses hyperbolic functions, exponentials or the sigmoid, the built-in
//! outputs `tanh(u)` and `sigmoid(u)` of their arguments.

pub mod cost;
pub mod factor;
pub mod kernel;

use std::collections::{HashMap, HashSet};

use crate::check;
use crate::eval::{self, Model};
use crate::expr::{self, Expr, Func, Node, Sym};
use crate::func;
use crate::poly::{Monomial, Poly, Rat, Var};
use kernel::{Atom, Kernels};

/// Which forms the simplifier may choose from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// In terms of the names where that is possible.
    Output,
    /// In the inputs only.
    Input,
    /// Whatever is cheapest.
    Auto,
}

/// What the simplifier may use: named definitions (with their bodies fully inlined)
/// and the variable of differentiation, which it prefers to eliminate.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// `(name, inlined body)`, in definition order.
    pub defs: Vec<(Sym, Expr)>,
    /// The variable a derivative was taken by.
    pub wrt: Option<Sym>,
}

/// `e` (written in the inputs) in its cheapest equal form; `names` are free.
pub fn simplify(e: &Expr, names: &Names, form: Form) -> Expr {
    simplify_explained(e, names, form).0
}

/// The derivatives of `e` by `x` of orders 1 to `order` (fewer once one is zero), each
/// simplified. Each order differentiates the one before *as shown*: once the first
/// derivative of the sigmoid is `p*(1 - p)`, the next is the derivative of that
/// polynomial in `p` (with `p' = p*(1 - p)`), never of a tower of quotients of `e^z`.
/// The work and the output then grow linearly with the order.
pub fn derivatives(e: &Expr, x: &Sym, order: u64, names: &Names, form: Form) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    let mut known: HashMap<Sym, Expr> = HashMap::new();
    let mut last = e.clone();
    for _ in 0..order {
        if !out.is_empty() && last.is_zero() {
            break;
        }
        for (n, body) in &names.defs {
            if !known.contains_key(n) && last.contains(n) {
                known.insert(n.clone(), simplify(&crate::diff::diff(body, x), names, form));
            }
        }
        let raw = crate::diff::diff_known(&last, x, &known);
        // Past the first order, a derivative in the same functions as the order before
        // (a polynomial in `p`, or in `tanh(x)`) only needs collecting and factoring.
        last = if out.is_empty() || !calls(&raw).is_subset(&calls(&last)) {
            simplify(&raw, names, form)
        } else {
            collected(&raw, names)
        };
        out.push(last.clone());
    }
    out
}

/// The function calls in `e`.
fn calls(e: &Expr) -> HashSet<Expr> {
    let mut out = HashSet::new();
    let mut seen = HashSet::new();
    let mut stack = vec![e.clone()];
    while let Some(x) = stack.pop() {
        if seen.insert(x.id()) {
            if matches!(x.node(), Node::Call(..)) {
                out.insert(x.clone());
            }
            stack.extend(x.children());
        }
    }
    out
}

/// `e` as one reduced rational function of its atoms, factored, where that is cheaper
/// and equal (names evaluated as values); no kernels and no names are sought.
fn collected(e: &Expr, names: &Names) -> Expr {
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    // Collecting a polynomial is exact and loses no point of its domain; only a
    // cancelled division needs the numeric check (which large coefficients would
    // defeat, by cancellation in floating point).
    let exact = |c: &Expr| !divides(e) || agrees(c, e, &bodies);
    match normalized(e) {
        Some(c) if cost::cost(&c, &HashSet::new()) < cost::cost(e, &HashSet::new()) && exact(&c) => c,
        _ => e.clone(),
    }
}

/// Whether `e` divides by anything but a number.
fn divides(e: &Expr) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![e.clone()];
    while let Some(x) = stack.pop() {
        if !seen.insert(x.id()) {
            continue;
        }
        if let Node::Pow(b, p) = x.node() {
            if b.as_num().is_none() && p.as_num().is_none_or(|r| !num_traits::Signed::is_positive(r) || !r.is_integer())
            {
                return true;
            }
        }
        stack.extend(x.children());
    }
    false
}

/// The largest expression (in nodes written out) the simplifier works on; larger ones
/// keep their canonical form, so that the cost stays bounded.
pub const MAX_NODES: u64 = 5_000;

/// The largest number (in bits) the simplifier's rational-function algebra takes in:
/// gcds of larger ones cost too much. Expressions holding one keep their canonical form.
pub const MAX_NUMBER_BITS: u64 = 4096;

/// The most definitions the simplifier writes results in terms of: solving each for an
/// atom costs a pass over the expression, so with more than this (a file of thousands of
/// definitions) results are written in the inputs only.
pub const MAX_NAMES: usize = 64;

/// Whether `e` is beyond what the simplifier works on ([`MAX_NODES`], [`MAX_NUMBER_BITS`]).
pub fn beyond_reach(e: &Expr) -> bool {
    if e.tree_size() > MAX_NODES {
        return true;
    }
    let mut stack = vec![e.clone()];
    let mut seen = HashSet::new();
    while let Some(x) = stack.pop() {
        if !seen.insert(x.id()) {
            continue;
        }
        if x.as_num().is_some_and(|r| crate::number::bits(r) > MAX_NUMBER_BITS) {
            return true;
        }
        stack.extend(x.children());
    }
    false
}

/// [`simplify`], with the substitutions made, as `atom = value` equations.
pub fn simplify_explained(e: &Expr, names: &Names, form: Form) -> (Expr, Vec<(Expr, Expr)>) {
    if names.defs.len() > MAX_NAMES {
        let inputs_only = Names { defs: Vec::new(), wrt: names.wrt.clone() };
        return simplify_explained(e, &inputs_only, form);
    }
    if e.tree_size() > MAX_NODES {
        return (e.clone(), Vec::new());
    }
    if is_large(e) {
        return (large(e, names, form), Vec::new());
    }
    if beyond_reach(e) || names.defs.iter().any(|(_, b)| beyond_reach(b)) {
        return (e.clone(), Vec::new());
    }
    // Built-in outputs are looked for with the names' bodies already read as names, so
    // that tanh(sum(j, x[j]*w[j,k])) offers tanh(z[k]).
    let named_e = names
        .defs
        .iter()
        .filter(|(_, b)| matches!(b.node(), Node::Call(..)))
        .fold(e.clone(), |r, (n, b)| expr::replace(&r, b, &Expr::sym(n.clone())));
    let implicit = implicit_names(&named_e, names);
    let cheap: HashSet<Expr> = implicit.iter().map(|(_, call)| call.clone()).collect();
    let mut input_forms = vec![e.clone()];
    input_forms.extend(normalized(e));
    input_forms.extend(normalized(&kernel::expand(e)));
    let mut output_forms = Vec::new();
    let mut explanations: HashMap<Expr, Vec<(Expr, Expr)>> = HashMap::new();
    if form != Form::Input {
        let mut sets: Vec<Vec<(Sym, Expr)>> = vec![names.defs.clone()];
        // The first name solved takes its kernel: let each name go first in turn, so that
        // the ELU's `y` is not pre-empted by an earlier softplus of the same input.
        for i in 1..names.defs.len().min(8) {
            let mut order = names.defs.clone();
            let first = order.remove(i);
            order.insert(0, first);
            sets.push(order);
        }
        for imp in &implicit {
            let mut s = names.defs.clone();
            s.push((imp.0.clone(), imp.1.clone()));
            sets.push(s);
        }
        if implicit.len() > 1 {
            sets.push(names.defs.iter().chain(&implicit).cloned().collect());
        }
        for set in sets {
            if set.is_empty() {
                continue;
            }
            if let Some((r, subs)) = eliminate(e, &set, names.wrt.as_ref()) {
                let r = recognize_names(&r, &names.defs);
                let subs = subs.iter().map(|(a, v)| (restore_implicit(a, &implicit), restore_implicit(v, &implicit)));
                // A name's whole body, wherever it still stands (inside tanh(...)), is the name.
                let r = names
                    .defs
                    .iter()
                    .filter(|(_, b)| matches!(b.node(), Node::Call(..)))
                    .fold(restore_implicit(&r, &implicit), |r, (n, b)| expr::replace(&r, b, &Expr::sym(n.clone())));
                output_forms.push(r);
                explanations.insert(output_forms.last().cloned().unwrap_or_else(Expr::zero), subs.collect());
            }
        }
    }
    let name_syms: HashSet<Sym> = names.defs.iter().map(|(n, _)| n.clone()).collect();
    let uses_names = |c: &Expr| c.free_vars().iter().any(|v| name_syms.contains(v));
    let mut pool: Vec<Expr> = match form {
        Form::Input => input_forms,
        Form::Auto => input_forms.into_iter().chain(output_forms).collect(),
        Form::Output => {
            let named: Vec<Expr> = output_forms.iter().filter(|c| uses_names(c)).cloned().collect();
            if named.is_empty() {
                input_forms.into_iter().chain(output_forms).collect()
            } else {
                named.into_iter().chain([e.clone()]).collect()
            }
        }
    };
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    // Among equally cheap forms the one that stays finite far out wins: p*(1 - p) is 0
    // at z = 800, where e^z/(1 + e^z)^2 is inf/inf.
    pool.sort_by_cached_key(|c| (cost::cost(c, &cheap), !finite_far_out(c, &bodies), c.to_string().len()));
    for c in pool {
        if c == *e || agrees(&c, e, &bodies) {
            let why = explanations.remove(&c).unwrap_or_default();
            return (c, why);
        }
    }
    (e.clone(), Vec::new())
}

/// Above this many nodes (as a tree) an expression is not searched for a cheaper form:
/// the rational-function view of a layer's gradient (hundreds of atoms) costs far more
/// than it could save, and the differentiator's own output is already in terms of
/// `tanh(z)` and `sigmoid(z)`. Every derivative in the reference suite is well below.
pub const LARGE: usize = 300;

/// Nor is an expression in more variables than this: a rational function's size grows
/// exponentially with them. Softmax with six outputs is still searched.
pub const MANY_VARS: usize = 6;

/// Nor is an expression with functions nested deeper than this (`sin(tanh(e^sin(x)))`):
/// every level adds kernels to the rational-function view. Mish, `x*tanh(ln(1 + e^x))`,
/// nests three deep.
pub const DEEP_CALLS: usize = 4;

/// Whether `e` is past [`LARGE`], [`MANY_VARS`] or [`DEEP_CALLS`]; the cheap tests first.
fn is_large(e: &Expr) -> bool {
    e.tree_size() as usize > LARGE || call_nesting(e) > DEEP_CALLS || e.free_vars().len() > MANY_VARS
}

/// The most function calls met on a path from the root to a leaf.
fn call_nesting(e: &Expr) -> usize {
    let mut memo: HashMap<u64, usize> = HashMap::new();
    for x in expr::post_order(std::slice::from_ref(e), |_| true) {
        let below = x.children().iter().map(|c| memo.get(&c.id()).copied().unwrap_or(0)).max().unwrap_or(0);
        memo.insert(x.id(), below + usize::from(matches!(x.node(), Node::Call(..))));
    }
    memo.get(&e.id()).copied().unwrap_or(0)
}

/// A large expression as it is, with the names' bodies read as the names.
fn large(e: &Expr, names: &Names, form: Form) -> Expr {
    if form == Form::Input {
        return e.clone();
    }
    names
        .defs
        .iter()
        .filter(|(_, b)| !matches!(b.node(), Node::Var(_) | Node::Num(_)))
        .fold(e.clone(), |r, (n, b)| expr::replace(&r, b, &Expr::sym(n.clone())))
}

/// Numerically, at random points: does `candidate` equal `e`? Names are evaluated
/// first and their values used, so the candidate is judged as it is written: a form
/// that is undefined where the input is defined (`y*(1 + x - y)/x` at x = 0 for the
/// SiLU) is rejected, even though `y/x` cancels once `y` is inlined.
fn agrees(candidate: &Expr, e: &Expr, bodies: &HashMap<Sym, Expr>) -> bool {
    let mut vars: Vec<Sym> = inline_names(candidate, bodies).free_vars();
    vars.extend(e.free_vars());
    vars.extend(bodies.values().flat_map(|b| b.free_vars()));
    vars.retain(|v| !bodies.contains_key(v));
    vars.sort();
    vars.dedup();
    let model = Model::new(11);
    let mut indices = expr::index_vars(e);
    indices.extend(expr::index_vars(candidate));
    let values = |env: &eval::Env| -> Option<(f64, f64)> {
        let mut env = env.clone();
        for (n, b) in bodies {
            let v = eval::eval_with(b, &env, Some(&model)).ok()?;
            env.insert(n.clone(), v);
        }
        Some((eval::eval_with(candidate, &env, Some(&model)).ok()?, eval::eval_with(e, &env, Some(&model)).ok()?))
    };
    let mut rng = check::Rng::new(0xC0FFEE);
    let mut compared = 0;
    for _ in 0..200 {
        if compared == 12 {
            break;
        }
        let Some((a, b)) = values(&check::random_point_indexed(&vars, &indices, &mut rng)) else { return false };
        if !(a.is_finite() && b.is_finite()) || b.abs() > 1e8 {
            continue;
        }
        if check::mixed_error(a, b) > 1e-7 {
            return false;
        }
        compared += 1;
    }
    if compared < 3 {
        return false;
    }
    // A form may not be undefined where the input is defined.
    for (i, v) in vars.iter().enumerate() {
        let mut env = check::random_point(&vars, &mut rng);
        env.insert(v.clone(), 0.0);
        if i == 0 {
            vars.iter().for_each(|w| {
                env.insert(w.clone(), 0.0);
            });
        }
        // Points where a name itself is undefined say nothing about the form.
        let names_defined = bodies.values().all(|b| eval::eval_with(b, &env, Some(&model)).is_ok_and(f64::is_finite));
        let (a, b) = values(&env).unwrap_or((f64::NAN, f64::NAN));
        if names_defined && b.is_finite() && !a.is_finite() {
            return false;
        }
    }
    true
}

/// Whether `c` (names evaluated as values) is finite with every variable at 800 or
/// at -800.
fn finite_far_out(c: &Expr, bodies: &HashMap<Sym, Expr>) -> bool {
    let mut vars = inline_names(c, bodies).free_vars();
    vars.retain(|v| !bodies.contains_key(v));
    let model = Model::new(11);
    [800.0, -800.0].iter().all(|&at| {
        let mut env: eval::Env = vars.iter().map(|v| (v.clone(), at)).collect();
        for (n, b) in bodies {
            let v = eval::eval_with(b, &env, Some(&model)).unwrap_or(f64::NAN);
            env.insert(n.clone(), v);
        }
        eval::eval_with(c, &env, Some(&model)).is_ok_and(f64::is_finite)
    })
}

fn inline_names(e: &Expr, bodies: &HashMap<Sym, Expr>) -> Expr {
    expr::substitute_all(e, bodies)
}

/// The input as one reduced rational function of its atoms, factored.
fn normalized(e: &Expr) -> Option<Expr> {
    let mut k = Kernels::scan(std::slice::from_ref(e));
    let r = kernel::pythagorean(&k.to_rat(e)?, &k);
    Some(rat_expr(&r, &k))
}

/// A rational function of atoms as an expression: factored, or, over a monomial
/// denominator, term by term (`1 - e^-y` rather than `(e^y - 1)/e^y`), whichever is
/// cheaper.
fn rat_expr(r: &Rat, k: &Kernels) -> Expr {
    let (cn, n) = factor::factored_parts(&r.num, k);
    let (cd, d) = factor::factored_parts(&r.den, k);
    let factored = Expr::mul([Expr::num(cn / cd), n, Expr::pow(d, Expr::int(-1))]);
    if r.den.len() != 1 || r.den.as_constant().is_some() || r.num.len() < 2 {
        return factored;
    }
    let den = factor::factored(&r.den, k);
    let split = Expr::add(
        r.num
            .terms()
            .map(|(m, c)| Expr::quotient(Expr::mul([Expr::num(c.clone()), k.monomial_expr(m)]), den.clone()))
            .collect::<Vec<_>>(),
    );
    let none = HashSet::new();
    if cost::cost(&split, &none) < cost::cost(&factored, &none) {
        split
    } else {
        factored
    }
}

/// Replaces sums inside `e` that equal a name by that name: with softmax outputs,
/// `1 - p1` is `p2` when there are two, `1 - p1 - p2` is `p3` when there are three.
fn recognize_names(e: &Expr, defs: &[(Sym, Expr)]) -> Expr {
    let bodies: HashMap<Sym, Expr> = defs.iter().cloned().collect();
    let mut memo: HashMap<u64, Expr> = HashMap::new();
    recognize_rec(e, defs, &bodies, &mut memo)
}

fn recognize_rec(e: &Expr, defs: &[(Sym, Expr)], bodies: &HashMap<Sym, Expr>, memo: &mut HashMap<u64, Expr>) -> Expr {
    if let Some(r) = memo.get(&e.id()) {
        return r.clone();
    }
    let r = match e.node() {
        Node::Add(_) if e.free_vars().iter().any(|v| bodies.contains_key(v)) => {
            let hit =
                defs.iter().map(|(n, _)| Expr::sym(n.clone())).find(|n| agrees(n, &inline_names(e, bodies), bodies));
            hit.unwrap_or_else(|| e.clone())
        }
        Node::Mul(fs) => Expr::mul(fs.iter().map(|f| recognize_rec(f, defs, bodies, memo)).collect::<Vec<_>>()),
        Node::Pow(b, x) => Expr::pow(recognize_rec(b, defs, bodies, memo), x.clone()),
        _ => e.clone(),
    };
    memo.insert(e.id(), r.clone());
    r
}

/// Built-in outputs the input's hyperbolic functions, exponentials and sigmoids make
/// available: `tanh(u)` and `sigmoid(u)`, each under a placeholder name.
fn implicit_names(e: &Expr, names: &Names) -> Vec<(Sym, Expr)> {
    let mut found: Vec<Expr> = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![e.clone()];
    stack.extend(names.defs.iter().map(|(_, b)| b.clone()));
    let call = |name: &str, u: Expr| func::lookup(name).map(|i| Expr::call(Func::Builtin(i), vec![u]));
    while let Some(x) = stack.pop() {
        if !seen.insert(x.id()) {
            continue;
        }
        if let Node::Call(Func::Builtin(i), args) = x.node() {
            let u = &args[0];
            let name = func::FUNCS[*i].name;
            let mut add = |c: Option<Expr>| {
                if let Some(c) = c.filter(|c| !found.contains(c)) {
                    found.push(c);
                }
            };
            match name {
                "tanh" | "sinh" | "cosh" | "sech" | "csch" | "coth" => add(call("tanh", u.clone())),
                "sigmoid" | "softplus" => add(call("sigmoid", u.clone())),
                "tan" | "sec" | "csc" | "cot" => add(call("tan", u.clone())),
                "exp" if !u.is_one() && u.as_num().is_none() => {
                    let (c, rest) = u.coeff_rest();
                    let base = Expr::mul([Expr::num(num_traits::Signed::abs(&c)), rest]);
                    add(call("sigmoid", base.clone()));
                    add(call("tanh", Expr::quotient(base, Expr::int(2))));
                }
                _ => {}
            }
        }
        stack.extend(x.children());
    }
    found.truncate(8);
    found.into_iter().enumerate().map(|(i, c)| (Sym::new(&format!("#{i}")), c)).collect()
}

fn restore_implicit(e: &Expr, implicit: &[(Sym, Expr)]) -> Expr {
    let map: HashMap<Sym, Expr> = implicit.iter().cloned().collect();
    expr::substitute_all(e, &map)
}

/// For `name = F*ln(A)`: the relation `e^(name/F) = A`; otherwise `name = body`.
fn relation(name: &Sym, body: &Expr) -> (Expr, Expr) {
    let n = Expr::sym(name.clone());
    let factors = match body.node() {
        Node::Mul(fs) => fs.clone(),
        _ => vec![body.clone()],
    };
    let ln_arg = |f: &Expr| match f.node() {
        Node::Call(Func::Builtin(func::LN), args) => Some(args[0].clone()),
        _ => None,
    };
    // body = F*ln(A): e^(name/F) = A.
    if let Some(i) = factors.iter().position(|f| ln_arg(f).is_some()) {
        let a = ln_arg(&factors[i]).unwrap_or_else(Expr::one);
        let f =
            Expr::mul(factors.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, f)| f.clone()).collect::<Vec<_>>());
        return (Expr::exp(Expr::quotient(n, f)), a);
    }
    (n, body.clone())
}

/// Rewrites `e` in terms of the names in `defs`, solving each definition for one of its
/// atoms where it is a linear fraction of it.
fn eliminate(e: &Expr, defs: &[(Sym, Expr)], wrt: Option<&Sym>) -> Option<(Expr, Vec<(Expr, Expr)>)> {
    let mut subs = Vec::new();
    let name_set: HashSet<Sym> = defs.iter().map(|(n, _)| n.clone()).collect();
    let mut d = kernel::expand(e);
    let mut rels: Vec<(Expr, Expr)> = defs.iter().map(|(n, b)| relation(n, &kernel::expand(b))).collect();
    // A definition is solved only for what it was written in: once substitutions have
    // brought other symbols into its body, solving for those would be meaningless.
    let own_vars: Vec<HashSet<Sym>> = defs.iter().map(|(_, b)| b.free_vars().into_iter().collect()).collect();
    for i in 0..rels.len() {
        let (side, body) = rels[i].clone();
        let mut scope = vec![d.clone(), side.clone(), body.clone()];
        scope.extend(rels[i + 1..].iter().flat_map(|(s, b)| [s.clone(), b.clone()]));
        let mut k = Kernels::scan(&scope);
        let r = k.to_rat(&d)?;
        let b = k.to_rat(&body)?;
        let n = k.to_rat(&side)?;
        let mut others = vec![r.clone(), n.clone()];
        for (s, b) in &rels[i + 1..] {
            others.push(k.to_rat(s)?);
            others.push(k.to_rat(b)?);
        }
        let own_name = &defs[i].0;
        let whole = occurs(&d, &body);
        let rel = Relation { own_name, names: &name_set, own: &own_vars[i], wrt, whole };
        let Some((v, g)) = pick_atom(&b, &others, &k, &rel) else { continue };
        // Where the atom only occurs as v^g (tanh(x) is rational in e^(2*x)), solve for v^g.
        let deflate = |x: &Rat| Rat { num: deflate(&x.num, v, g), den: deflate(&x.den, v, g) };
        let (b, r) = (deflate(&b), deflate(&r));
        let (a0, a1) = linear_coeffs(&b.num, v);
        let (b0, b1) = linear_coeffs(&b.den, v);
        // (a1*v + a0)/(b1*v + b0) = n  gives  v = (n*b0 - a0)/(a1 - n*b1).
        let top = n.mul(&Rat::from_poly(b0)).sub(&Rat::from_poly(a0));
        let bottom = Rat::from_poly(a1).sub(&n.mul(&Rat::from_poly(b1)));
        let solution = top.div(&bottom)?;
        let solved_atom = k.atom(v).clone();
        let atom_power = Expr::pow(solved_atom.expr(), Expr::int(g as i64));
        subs.push((atom_power, rat_expr(&solution, &k)));
        let replaced = kernel::pythagorean(&r.subst(v, &solution)?, &k);
        d = rat_expr(&replaced, &k);
        let mut later = Vec::new();
        for (s, b) in &rels[i + 1..] {
            let s2 = deflate(&k.to_rat(s)?).subst(v, &solution)?;
            let b2 = deflate(&k.to_rat(b)?).subst(v, &solution)?;
            later.push((rat_expr(&s2, &k), rat_expr(&b2, &k)));
        }
        // Atoms kept whole (`g(x1*w11 + x2*w21)`, `g(sum(j, x[j]*w[j,k]))`) may contain
        // what was solved for: replace it there too.
        let value = rat_expr(&solution, &k);
        match &solved_atom {
            Atom::Sym(sym) => {
                d = expr::substitute(&d, sym, &value);
                for (s, b) in later.iter_mut() {
                    *s = expr::substitute(s, sym, &value);
                    *b = expr::substitute(b, sym, &value);
                }
            }
            Atom::Opaque(atom) if g == 1 => {
                d = expr::replace(&d, atom, &value);
                for (s, b) in later.iter_mut() {
                    *s = expr::replace(s, atom, &value);
                    *b = expr::replace(b, atom, &value);
                }
            }
            _ => {}
        }
        rels.truncate(i + 1);
        rels.extend(later);
    }
    Some((d, subs))
}

/// Whether `sub` stands somewhere in `e` as a whole subexpression.
fn occurs(e: &Expr, sub: &Expr) -> bool {
    let mut stack = vec![e.clone()];
    let mut seen = HashSet::new();
    while let Some(x) = stack.pop() {
        if x == *sub {
            return true;
        }
        if x.depth() > sub.depth() && seen.insert(x.id()) {
            stack.extend(x.children());
        }
    }
    false
}

/// The coefficients `(c0, c1)` of a polynomial of degree at most 1 in `v`.
fn linear_coeffs(p: &Poly, v: Var) -> (Poly, Poly) {
    let cs = p.coeffs_in(v);
    (cs.first().cloned().unwrap_or_else(Poly::zero), cs.get(1).cloned().unwrap_or_else(Poly::zero))
}

/// The atom to solve a definition's body for, and the power `g` it occurs in (every
/// exponent of it in the body and in `others` is a multiple of `g`): the body must be a
/// linear fraction of `v^g`, and `v` no name. Kernels first, then the variable of
/// differentiation, then other variables.
fn pick_atom(b: &Rat, others: &[Rat], k: &Kernels, rel: &Relation) -> Option<(Var, u32)> {
    let Relation { own_name, names, own, wrt, whole } = *rel;
    let mut best: Option<(u8, Var, u32)> = None;
    for v in b.vars() {
        if !k.atom(v).expr().free_vars().iter().all(|s| own.contains(s) || names.contains(s)) {
            continue;
        }
        // An element x[2] is solved for only where the body stands whole (z[1] inside
        // g(...)), not to rewrite a factor x[2] of the result through z[2].
        if !whole && matches!(k.atom(v), Atom::Opaque(e) if matches!(e.node(), Node::Call(Func::Indexed(_), _))) {
            continue;
        }
        let rank = match k.atom(v) {
            // e^(p/F) is the name's own side of a logarithm's relation.
            Atom::Exp(t) if t.contains(own_name) => continue,
            Atom::Exp(_) | Atom::Root(..) => 0,
            Atom::Sym(s) if names.contains(s) => continue,
            Atom::Sym(s) if Some(s) == wrt => 1,
            Atom::Sym(_) => 2,
            // An element x[2] that is the variable of differentiation (wrt holds its text).
            Atom::Opaque(e) if wrt.is_some_and(|w| e.to_string() == w.as_str()) => 1,
            Atom::Opaque(_) => 3,
        };
        let g = std::iter::once(b)
            .chain(others)
            .flat_map(|r| [&r.num, &r.den])
            .flat_map(|p| p.terms().map(move |(m, _)| m.0.iter().find(|(w, _)| *w == v).map_or(0, |&(_, e)| e)))
            .fold(0u32, |g, e| num_integer::Integer::gcd(&g, &e))
            .max(1);
        let (dn, dd) = (b.num.degree(v) / g, b.den.degree(v) / g);
        if dn > 1 || dd > 1 || dn + dd == 0 {
            continue;
        }
        // A body with the atom above the bar reads as "solved for" it: prefer those.
        let rank = rank * 2 + u8::from(dn == 0);
        if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
            best = Some((rank, v, g));
        }
    }
    best.map(|(_, v, g)| (v, g))
}

/// What [`pick_atom`] knows of the definition being solved.
struct Relation<'a> {
    /// The definition's name.
    own_name: &'a Sym,
    /// Every name.
    names: &'a HashSet<Sym>,
    /// The symbols the definition was written in.
    own: &'a HashSet<Sym>,
    /// The variable of differentiation (or the text of an indexed element).
    wrt: Option<&'a Sym>,
    /// Whether the definition's body stands whole in the expression.
    whole: bool,
}

/// Replaces `v^(g*k)` by `v^k` in every term (all exponents of `v` are multiples of `g`).
fn deflate(p: &Poly, v: Var, g: u32) -> Poly {
    if g == 1 {
        return p.clone();
    }
    p.terms().fold(Poly::zero(), |acc, (m, c)| {
        let m = Monomial(m.0.iter().map(|&(w, e)| if w == v { (w, e / g) } else { (w, e) }).collect());
        acc.add(&Poly::monomial(m, c.clone()))
    })
}
