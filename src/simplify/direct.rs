//! First derivatives taken straight from the table, where nothing could cancel.
//!
//! The input with its built-ins recognized (`e^z/(1 + e^z)` is `sigmoid(z)`) is
//! differentiated by the rules, whose rows are written in the functions' own outputs
//! (`sigmoid(u)*(1 - sigmoid(u))`, `1 - tanh(u)^2`). Where the atoms of that derivative
//! (its variables, calls and exponentials) are independent in the kernel view (no two
//! are functions of one exponential kernel, one root or one sine-cosine pair), no
//! identity relates them, so the search would only re-derive what the rows say: the
//! derivative is written as one rational function of those atoms, factored, and each
//! atom that is a function of one exponential is also tried in the other outputs of
//! that exponential (`tanh(x)` for `sigmoid(2*x)`, as the elimination would solve for
//! it). The cheapest of these forms is the answer, at a small part of the search's work.
//!
//! Where the atoms are related (`sinh(x)` beside `cosh(x)`, `sigmoid(x)` beside `e^x`),
//! where logarithms or roots of variables appear (logarithmic derivatives, roots in whole
//! numbers), where a kink needs cases, or where the user named things, the search runs
//! as before.

use std::collections::{HashMap, HashSet};

use super::kernel::{self, Atom, Kernels, View};
use super::{agrees, cases, collect, cost, implicit_names, rat_expr_within, recognize};
use super::{Form, Names, CFG};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::func::Builtin;
use crate::limits;
use crate::poly::{Poly, Rat, Var};

/// `e` with its built-ins recognized, where the direct route may apply to its
/// derivatives (the forms allow it, no names, no kinks, logarithms or roots of variables).
pub(crate) fn function(e: &Expr, names: &Names, form: Form) -> Option<Expr> {
    if !matches!(form, Form::Auto | Form::Output) || !names.defs.is_empty() {
        return None;
    }
    let r = recognize::recognized(e);
    (!cases::has_kinks(&r) && !has_logs_or_roots(&r)).then_some(r)
}

/// The derivative `d` of `r` (the [`function`] of `e`) in its cheapest form, where its
/// atoms are independent; `raw` is the derivative of `e` as written. `None` where the
/// search is needed.
pub(crate) fn derivative(e: &Expr, raw: &Expr, r: &Expr, d: &Expr) -> Option<Expr> {
    // Within a part's budget, as the search is: cut short, the search takes over.
    limits::within(CFG.part_work, || cheapest_form(e, raw, r, d)).0.flatten()
}

/// [`derivative`], unbounded.
fn cheapest_form(e: &Expr, raw: &Expr, r: &Expr, d: &Expr) -> Option<Expr> {
    // (A part larger, or with more atoms, than the search takes whole is the search's to
    // take apart.)
    if d.tree_size() > CFG.part_nodes || has_logs_or_roots(d) {
        return None;
    }
    let (opaque, atoms) = calls_opaque(d);
    if d.free_vars().len() + atoms.len() > CFG.part_atoms || !independent(d, &atoms) {
        return None;
    }
    // The outputs the search would offer (those of the input and of its derivative as
    // written) cost what a name does; those of the input recognized are offered too.
    let mut alternatives: Vec<Expr> = Vec::new();
    for c in [e, raw, r].into_iter().flat_map(|f| implicit_names(f, &[])).map(|(_, c)| c) {
        if !alternatives.contains(&c) {
            alternatives.push(c);
        }
    }
    let mut cheap: HashSet<Expr> = [e, raw].into_iter().flat_map(|f| implicit_names(f, &[])).map(|(_, c)| c).collect();
    cheap.extend(recognize::own_reciprocal_calls(r));
    // Each form with whether it needs the numeric check (a division cancelled).
    let mut pool: Vec<(Expr, bool)> = vec![(d.clone(), false)];
    // And the derivative as written with its built-ins recognized, where exponentials in
    // several variables make it differ from respelling atoms of one kernel (`e^a/(e^a +
    // e^b)` is `sigmoid(a - b)`, where `d` may be `1 - sigmoid(b - a)`).
    if exponentials_in_several_variables(raw) {
        let recognized = recognize::recognized(raw);
        if recognized != *raw && !has_logs_or_roots(&recognized) {
            pool.push((recognized, false));
        }
    }
    pool.extend(collected_in_calls(d));
    for respelled in respellings(&opaque, &atoms, &alternatives) {
        let f = expr::substitute_all(&respelled, &atoms);
        pool.extend(collected_in_calls(&f));
        pool.push((f, false));
    }
    // And each collected around the factors its sums' terms share.
    let mut unique: Vec<(Expr, bool)> = Vec::new();
    for (c, check) in pool {
        if unique.iter().any(|(u, _)| *u == c) {
            continue;
        }
        let around: Vec<Expr> = collect::around_common_factors(&c);
        let inner = sums_collected(&c);
        unique.push((c, check));
        for a in around.into_iter().chain([inner]) {
            if !unique.iter().any(|(u, _)| *u == a) {
                unique.push((a, check));
            }
        }
    }
    let best = ranked(unique, &cheap).into_iter().find(|(c, check)| !check || agrees(c, d, &HashMap::new()))?.0;
    // `sec(2)` for `1/cos(2)`, where strictly cheaper.
    let respelled = recognize::reciprocals(&best);
    Some(if cost::cost(&respelled, &cheap) < cost::cost(&best, &cheap) { respelled } else { best })
}

/// `forms` cheapest first: by cost, then (where the cost ties) by printed length, then
/// in the order given.
fn ranked<T>(forms: Vec<(Expr, T)>, cheap: &HashSet<Expr>) -> Vec<(Expr, T)> {
    let costs: Vec<u32> = forms.iter().map(|(c, _)| cost::cost(c, cheap)).collect();
    let tied = |k: u32| costs.iter().filter(|&&c| c == k).count() > 1;
    // (Printed only where the cost ties.)
    let lengths: Vec<usize> =
        forms.iter().zip(&costs).map(|((c, _), &k)| if tied(k) { c.to_string().len() } else { 0 }).collect();
    let mut order: Vec<usize> = (0..forms.len()).collect();
    order.sort_by_key(|&i| (costs[i], lengths[i], i));
    let mut forms: Vec<Option<(Expr, T)>> = forms.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| forms[i].take()).collect()
}

/// Whether the exponents of the exponentials in `e` (outside other calls) are in more
/// than one set of variables.
fn exponentials_in_several_variables(e: &Expr) -> bool {
    let mut first: Option<Vec<Sym>> = None;
    expr::walk(std::slice::from_ref(e), |x| match x.as_exp() {
        Some(w) => {
            let vars = w.free_vars();
            match &first {
                Some(f) if *f != vars => Walk::Stop,
                Some(_) => Walk::Skip,
                None => {
                    first = Some(vars);
                    Walk::Skip
                }
            }
        }
        None if matches!(x.node(), Node::Call(..)) => Walk::Skip,
        None => Walk::Descend,
    })
}

/// Whether `e` holds a logarithm, or a root of something that varies.
fn has_logs_or_roots(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(Func::Builtin(Builtin::Ln), _) => Walk::Stop,
        Node::Pow(b, p) if !b.free_vars().is_empty() && p.as_num().is_none_or(|r| !r.is_integer()) => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// `e` with its calls and roots (of numbers) as fresh symbols, and what each stands for.
fn calls_opaque(e: &Expr) -> (Expr, HashMap<Sym, Expr>) {
    let mut atoms: HashMap<Sym, Expr> = HashMap::new();
    let mut memo: IdMap<Expr> = IdMap::default();
    let opaque = expr::fold(
        e,
        &mut memo,
        |x| {
            let atom = match x.node() {
                Node::Call(..) => true,
                Node::Pow(_, p) => p.as_num().is_none_or(|r| !r.is_integer()),
                _ => false,
            };
            atom.then(|| {
                let s = expr::hidden_name("direct", atoms.len());
                atoms.insert(s.clone(), x.clone());
                Expr::sym(s)
            })
        },
        expr::rebuild,
    );
    (opaque, atoms)
}

/// `e` as one rational function of its variables, calls and roots, factored, where that
/// is another form, with whether it needs the numeric check (a division by something
/// that varies may have cancelled).
fn collected_in_calls(e: &Expr) -> Option<(Expr, bool)> {
    // The calls and roots kept whole, so that the written form is costed in them.
    let (_, atoms) = calls_opaque(e);
    let whole: HashSet<Expr> = atoms.into_values().collect();
    let largest = CFG.largest_form(e.tree_size());
    let (found, _) = limits::within(CFG.part_work, || {
        let mut k = Kernels::scan_with(std::slice::from_ref(e), &whole);
        rat_expr_within(&k.rat_of(e)?, &k, largest)
    });
    let back = found.flatten()?;
    (back != *e).then(|| (back, divides_by_variable(e)))
}

/// Whether `e` divides by something that varies (where a cancelled division would widen
/// the domain).
fn divides_by_variable(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Pow(b, p)
            if !b.free_vars().is_empty()
                && p.as_num().is_none_or(|r| !r.is_integer() || num_traits::Signed::is_negative(r)) =>
        {
            Walk::Stop
        }
        _ => Walk::Descend,
    })
}

/// Whether the variables of `e` and the `atoms` that vary are independent in the kernel
/// view: no two are rational functions of one kernel (`sigmoid(x)` and `e^x`), one root,
/// or a sine and a cosine of one argument.
fn independent(e: &Expr, atoms: &HashMap<Sym, Expr>) -> bool {
    let mut parts: Vec<Expr> = e.free_vars().into_iter().map(Expr::sym).collect();
    parts.extend(atoms.values().filter(|a| !a.free_vars().is_empty()).cloned());
    let expanded: Vec<Expr> = parts.iter().map(kernel::expand).collect();
    let mut k = Kernels::scan_view(&expanded, View::Full);
    let mut seen: HashSet<Expr> = HashSet::new();
    for part in &expanded {
        let Some(r) = k.rat_of(part) else { return false };
        let mut keys: HashSet<Expr> = HashSet::new();
        for v in r.vars() {
            let key = match k.atom(v) {
                // (A root's base holds variables of its own.)
                Atom::Root(b, _) if !b.free_vars().is_empty() => return false,
                Atom::Opaque(c) => match c.node() {
                    Node::Call(Func::Builtin(Builtin::Cos), a) => Expr::builtin(Builtin::Sin, a[0].clone()),
                    _ => c.clone(),
                },
                a => a.expr(),
            };
            if !key.free_vars().is_empty() {
                keys.insert(key);
            }
        }
        if keys.iter().any(|key| seen.contains(key)) {
            return false;
        }
        seen.extend(keys);
    }
    true
}

/// `opaque` (an expression in the symbols of `atoms`) with one atom at a time written in
/// one of `alternatives`: another function of the same exponential kernel `K` that is a
/// linear fraction of it, `b = (p1*K + p0)/(q1*K + q0)`, so that `K` is solved for `b`
/// and put into the atom (`sigmoid(2*x)` is `(1 + tanh(x))/2`).
fn respellings(opaque: &Expr, atoms: &HashMap<Sym, Expr>, alternatives: &[Expr]) -> Vec<Expr> {
    let mut order: Vec<(&Sym, &Expr)> = atoms.iter().filter(|(_, a)| !a.free_vars().is_empty()).collect();
    order.sort_by(|a, b| a.0.cmp(b.0));
    // Only an atom with an alternative in the same variables can be respelled.
    let rest = |c: &Expr| match c.node() {
        Node::Call(Func::Builtin(_), args) if args.len() == 1 => Some(args[0].free_vars()),
        _ => None,
    };
    let wanted: Vec<bool> = order
        .iter()
        .map(|(_, a)| rest(a).is_some_and(|t| alternatives.iter().any(|b| b != *a && rest(b).as_ref() == Some(&t))))
        .collect();
    if !wanted.contains(&true) {
        return Vec::new();
    }
    let expanded: Vec<Expr> = order
        .iter()
        .map(|(_, a)| (*a).clone())
        .chain(alternatives.iter().cloned())
        .map(|a| kernel::expand(&a))
        .collect();
    let mut k = Kernels::scan_view(&expanded, View::Full);
    // The one kernel a rational function varies in (constants such as `e^2` aside).
    let single = |r: &Rat, k: &Kernels| -> Option<Var> {
        let vars: Vec<Var> = r.vars().into_iter().filter(|&v| !k.atom(v).expr().free_vars().is_empty()).collect();
        match vars[..] {
            [v] if matches!(k.atom(v), Atom::Exp(_)) => Some(v),
            _ => None,
        }
    };
    let largest = CFG.largest_form(opaque.tree_size());
    let mut out = Vec::new();
    for (i, (s, a)) in order.iter().enumerate().filter(|(i, _)| wanted[*i]) {
        let Some(ra) = k.rat_of(&expanded[i]) else { continue };
        let Some(kv) = single(&ra, &k) else { continue };
        for (j, b) in alternatives.iter().enumerate() {
            if b == *a || rest(b) != rest(a) {
                continue;
            }
            let Some(rb) = k.rat_of(&expanded[order.len() + j]) else { continue };
            if single(&rb, &k) != Some(kv) || rb.num.degree(kv) > 1 || rb.den.degree(kv) > 1 {
                continue;
            }
            let (p0, p1) = super::linear_coeffs(&rb.num, kv);
            let (q0, q1) = super::linear_coeffs(&rb.den, kv);
            let bp = Poly::var(k.var(Atom::Opaque(b.clone())));
            let Some(kb) = Rat::new(q0.mul(&bp).sub(&p0), p1.sub(&q1.mul(&bp))) else { continue };
            let Some(a_in_b) = ra.subst(kv, &kb) else { continue };
            let Some(f) = rat_expr_within(&a_in_b, &k, largest) else { continue };
            out.push(expr::substitute(opaque, s, &f));
        }
    }
    out
}

/// `e` with each sum in it collected around a factor its terms share, where cheaper
/// (`sigmoid(x)*(1 + x*(1 - sigmoid(x)))` inside a longer form).
fn sums_collected(e: &Expr) -> Expr {
    let none = HashSet::new();
    let mut memo: IdMap<Expr> = IdMap::default();
    expr::fold(
        e,
        &mut memo,
        |x| (!matches!(x.node(), Node::Add(_) | Node::Mul(_) | Node::Pow(..))).then(|| x.clone()),
        |x, below| {
            let x = expr::rebuild(x, below);
            if !matches!(x.node(), Node::Add(_)) {
                return x;
            }
            let own = cost::cost(&x, &none);
            collect::around_common_factors(&x)
                .into_iter()
                .map(|c| (cost::cost(&c, &none), c))
                .filter(|(k, _)| *k < own)
                .min_by_key(|(k, _)| *k)
                .map_or(x, |(_, c)| c)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Expr {
        crate::parse(s).unwrap()
    }

    /// The direct route's form of d/d`x` of `src`, where it applies.
    fn direct(src: &str, x: &str) -> Option<String> {
        let e = parse(src);
        let x = Sym::new(x);
        let r = function(&e, &Names::default(), Form::Auto)?;
        let raw = crate::diff::diff(&e, &x);
        let d = crate::diff::diff(&r, &x);
        let found = derivative(&e, &raw, &r, &d)?;
        // Equal to the derivative, wherever it is compared.
        assert!(agrees(&found, &raw, &HashMap::new()), "{src}: {found} against {raw}");
        Some(found.to_string())
    }

    #[test]
    fn independent_atoms_take_the_rows_forms_under_any_name() {
        for v in ["z", "q", "s"] {
            let s = |t: &str| t.replace('z', v);
            assert_eq!(direct(&s("e^z/(1 + e^z)"), v), Some(s("sigmoid(z)*(1 - sigmoid(z))")));
            assert_eq!(direct(&s("ln(1 + e^z)"), v), Some(s("sigmoid(z)")));
            assert_eq!(direct(&s("sinh(z)/cosh(z)"), v), Some(s("1 - tanh(z)^2")));
            assert_eq!(direct(&s("z/(1 + e^-z)"), v), Some(s("sigmoid(z)*(1 + z - z*sigmoid(z))")));
        }
    }

    #[test]
    fn an_atom_is_respelled_in_another_output_of_its_exponential() {
        // sigmoid(2*x) is (1 + tanh(x))/2: as the elimination would solve for e^(2*x).
        assert_eq!(direct("ln(1 + e^(2*x))", "x").as_deref(), Some("1 + tanh(x)"));
        assert_eq!(direct("ln(1 + e^(2*x + 2))", "x").as_deref(), Some("1 + tanh(1 + x)"));
        assert_eq!(direct("-ln(1 + e^-x)", "x").as_deref(), Some("1 - sigmoid(x)"));
    }

    #[test]
    fn related_atoms_logarithms_roots_and_kinks_are_left_to_the_search() {
        // sinh and cosh of one argument, sigmoid beside its exponential, sine and cosine.
        for src in ["atan(sinh(x))", "e^x/(1 + e^x)^2", "sin(x)/cos(x)", "cosh(x)*sigmoid(x)"] {
            assert_eq!(direct(src, "x"), None, "{src}");
        }
        // Logarithmic derivatives, roots in whole numbers, cases.
        for src in ["ln(x^3*(x + 2))", "asin(x/3)", "x*sqrt(1 + x^2)", "x*abs(x)", "relu(x)*x"] {
            assert_eq!(direct(src, "x"), None, "{src}");
        }
        // Named definitions are the search's too.
        let names = Names { defs: vec![(Sym::new("p"), parse("sigmoid(z)"))], wrt: None };
        assert_eq!(function(&parse("p"), &names, Form::Auto), None);
        assert_eq!(function(&parse("sigmoid(z)"), &Names::default(), Form::Input), None);
    }

    #[test]
    fn atoms_are_independent_only_without_a_shared_kernel() {
        let check = |src: &str| {
            let e = parse(src);
            let (_, atoms) = calls_opaque(&e);
            independent(&e, &atoms)
        };
        assert!(check("x*sigmoid(x) + erf(x)*e^(-x^2)"));
        assert!(check("tanh(x)*sigmoid(y)"));
        assert!(!check("sigmoid(x) + e^x"));
        assert!(!check("sigmoid(x)*sigmoid(-x)"));
        assert!(!check("sin(x) + cos(x)"));
        assert!(!check("sqrt(1 + x)*x"));
    }
}
