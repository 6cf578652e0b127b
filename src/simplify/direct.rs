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
//! it). The cheapest of these forms is the answer, accepted as the search accepts one
//! (the derivative itself, or a form proved equal to it that agrees at sampled points),
//! at a small part of the search's work.
//!
//! Where the atoms are related (`sinh(x)` beside `cosh(x)`, `sigmoid(x)` beside `e^x`),
//! where logarithms or roots of variables appear (logarithmic derivatives, roots in whole
//! numbers), where a kink needs cases, or where the user named things, the search runs
//! as before.

use std::collections::HashMap;

use crate::expr::FastSet as HashSet;

use super::kernel::{self, Atom, Kernels};
use super::{agrees, cases, collect, cost, implicit_names, proved_equal, ranked_by, rat_expr_within, recognize};
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
    // A part larger, or with more atoms, than the search takes whole is the search's to
    // take apart. (Its variables are counted only as far as the bound: a layer's entry
    // has every weight of a pre-activation.)
    if d.tree_size() > CFG.part_nodes {
        return None;
    }
    let atoms = atoms_of(d);
    if atoms.len() > CFG.part_atoms || more_variables_than(d, CFG.part_atoms - atoms.len()) || has_logs_or_roots(d) {
        return None;
    }
    // The outputs the search would offer (those of the input and of its derivative as
    // written) cost what a name does; those of the input recognized are offered too.
    let given: Vec<Expr> = [e, raw].into_iter().flat_map(|f| implicit_names(f, &[])).map(|(_, c)| c).collect();
    let mut cheap: HashSet<Expr> = given.iter().cloned().collect();
    cheap.extend(recognize::own_reciprocal_calls(r));
    let mut alternatives: Vec<Expr> = Vec::new();
    for c in given.into_iter().chain(implicit_names(r, &[]).into_iter().map(|(_, c)| c)) {
        if !alternatives.contains(&c) {
            alternatives.push(c);
        }
    }
    let mut table = Table::new(d, &atoms, &alternatives);
    if !table.independent() {
        return None;
    }
    let mut pool: Vec<Expr> = vec![d.clone()];
    // And the derivative as written with its built-ins recognized, where exponentials in
    // several variables make it differ from respelling atoms of one kernel (`e^a/(e^a +
    // e^b)` is `sigmoid(a - b)`, where `d` may be `1 - sigmoid(b - a)`); and `d` with
    // them recognized, where the rows bring in a sum of exponentials and numbers, as
    // every built-in spelled in them has (`log1p(e^x)`'s `e^x/(1 + e^x)` is `sigmoid(x)`).
    let spelled = [exponentials_in_several_variables(raw).then_some(raw), has_sum_of_exponentials(d).then_some(d)];
    for x in spelled.into_iter().flatten() {
        let recognized = recognize::recognized(x);
        if recognized != *x && !has_logs_or_roots(&recognized) {
            pool.push(recognized);
        }
    }
    let largest = CFG.largest_form(d.tree_size());
    let whole = table.k.rat_of(d);
    pool.extend(whole.as_ref().and_then(|w| rat_expr_within(w, &table.k, largest)));
    // `d` is always acceptable: a respelling none of whose forms can cost as little is
    // not written out.
    // The atoms of `d`'s function with `a` respelled in `b` that vary are known before it
    // is worked out: `b` takes `a`'s place and the rest stay, as `a` is an invertible
    // function of `b` (and of constants, `e^2` where the kernel is `e^(2*x + 2)`, which
    // no form needs to show). Where they alone cost more than `d`, nothing written in
    // them is cheaper.
    let d_cost = std::cell::OnceCell::new();
    let d_cost = || *d_cost.get_or_init(|| cost::cost(d, &cheap));
    let whole_vars = whole.as_ref().map(Rat::vars);
    let worth = |table: &Table, a: &Expr, b: &Expr| {
        let least = whole_vars.as_ref().and_then(|vars| table.least_respelled(vars, a, b, &cheap));
        least.is_none_or(|least| least <= d_cost())
    };
    for (a, in_b) in table.respellings(&cheap, worth) {
        let v = table.k.var(Atom::Opaque(a.clone()));
        let respelled = whole.as_ref().and_then(|w| w.subst(v, &in_b));
        if let Some(least) = respelled.as_ref().and_then(|r| table.least_cost(r, &cheap)) {
            if least > d_cost() {
                continue;
            }
        }
        // The atom replaced in `d` as written, and in its rational function, collected.
        if let Some(f) = rat_expr_within(&in_b, &table.k, largest) {
            pool.push(expr::replace(d, &a, &f));
        }
        if let Some(c) = respelled.and_then(|c| rat_expr_within(&c, &table.k, largest)) {
            pool.push(c);
        }
    }
    // And each collected around the factors its sums' terms share.
    let mut unique: Vec<Expr> = Vec::new();
    // (The forms share most of their sums: each is collected once.)
    let mut collected = Collected::default();
    for c in pool {
        if unique.contains(&c) {
            continue;
        }
        let around: Vec<Expr> = collected.around(&c);
        let inner = collected.sums(&c);
        unique.push(c);
        for a in around.into_iter().chain([inner]) {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
    }
    // As the search accepts a form: `d` itself (the rules' derivative of the input,
    // whose recognition was proved), or a form proved equal to the derivative that also
    // agrees with it numerically. The proof is first the table's own: the same rational
    // function of `d`'s atoms (what collecting and factoring `d` keep), an identity
    // whatever the atoms stand for; failing that, against the derivative as written or
    // of the input recognized, each expanded (`e^-2` and `e^2` are two atoms to the
    // proof, so one spelling may show what the other hides).
    // A form that is `d`'s polynomial in the same atoms, dividing by nothing that varies
    // (`d` neither), is defined where `d` is and equal to it there: accepted as `d` is,
    // without sampling (collecting `d` around a factor gives such forms).
    let polynomial = whole.as_ref().is_some_and(|w| w.den.as_constant().is_some()) && !super::divides(d);
    let atom_set: HashSet<&Expr> = atoms.iter().collect();
    let mut valid = |c: &Expr| {
        if c == d {
            return true;
        }
        let same_function = whole.is_some() && table.k.rat_of(c) == whole;
        if same_function && polynomial && !super::divides(c) && atoms_of(c).iter().collect::<HashSet<_>>() == atom_set {
            return true;
        }
        (same_function || proved_equal(c, raw) || proved_equal(c, d)) && agrees(c, raw, &HashMap::new())
    };
    // (The derivative is the whole result, without names: a minus may go into a sum,
    // where that makes a form cheaper than the best.)
    let signed: Vec<Expr> =
        unique.iter().map(|c| super::sign_into_a_sum(c, &|f| f.clone())).filter(|s| !unique.contains(s)).collect();
    let best = ranked_by(unique, &cheap, &HashMap::new(), Some(d)).into_iter().find(|c| valid(c))?;
    let limit = cost::cost(&best, &cheap);
    let cheaper: Vec<Expr> = signed.into_iter().filter(|c| cost::cost(c, &cheap) < limit).collect();
    let best = ranked_by(cheaper, &cheap, &HashMap::new(), None).into_iter().find(|c| valid(c)).unwrap_or(best);
    // `sec(2)` for `1/cos(2)`, where strictly cheaper.
    let respelled = recognize::reciprocals(&best);
    Some(if respelled != best && cost::cost(&respelled, &cheap) < cost::cost(&best, &cheap) && valid(&respelled) {
        respelled
    } else {
        best
    })
}

/// One kernel view of a derivative `d` (its calls and roots kept whole), of the
/// expansions of those atoms, and of the alternative spellings offered for them.
struct Table {
    k: Kernels,
    /// The atoms that vary, with their expansions.
    atoms: Vec<(Expr, Expr)>,
    /// The alternatives and their expansions.
    alternatives: Vec<(Expr, Expr)>,
    /// The variables of `d`.
    vars: Vec<Expr>,
}

impl Table {
    fn new(d: &Expr, atoms: &[Expr], alternatives: &[Expr]) -> Table {
        let varying: Vec<(Expr, Expr)> =
            atoms.iter().filter(|a| !a.free_vars().is_empty()).map(|a| (a.clone(), kernel::expand(a))).collect();
        let alternatives: Vec<(Expr, Expr)> = alternatives.iter().map(|b| (b.clone(), kernel::expand(b))).collect();
        let vars: Vec<Expr> = d.free_vars().into_iter().map(Expr::sym).collect();
        let mut scanned = vec![d.clone()];
        scanned.extend(varying.iter().map(|(_, x)| x.clone()));
        scanned.extend(alternatives.iter().map(|(_, x)| x.clone()));
        // Calls are atoms as they stand (a root of a number too), but exponentials are
        // kernels, as the atoms' expansions are written in them, and a root of what varies
        // is a root of its base.
        let whole: HashSet<Expr> = atoms
            .iter()
            .filter(|a| a.as_exp().is_none() && (matches!(a.node(), Node::Call(..)) || a.free_vars().is_empty()))
            .cloned()
            .collect();
        let k = Kernels::scan_with(&scanned, &whole);
        Table { k, atoms: varying, alternatives, vars }
    }

    /// Whether the variables and the atoms that vary are independent in the kernel view:
    /// no two are rational functions of one kernel (`sigmoid(x)` and `e^x`), one root,
    /// or a sine and a cosine of one argument.
    fn independent(&mut self) -> bool {
        let parts: Vec<Expr> = self.vars.iter().cloned().chain(self.atoms.iter().map(|(_, x)| x.clone())).collect();
        let mut seen: HashSet<Expr> = HashSet::default();
        for part in &parts {
            let Some(r) = self.k.rat_of(part) else { return false };
            let mut keys: HashSet<Expr> = HashSet::default();
            for v in r.vars() {
                let key = match self.k.atom(v) {
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

    /// Each atom that is a function of one exponential kernel `K`, as a rational function
    /// of each alternative `b` that is a linear fraction of the same kernel, `b = (p1*K +
    /// p0)/(q1*K + q0)`: `K` solved for `b` and put into the atom (`sigmoid(2*x)` is
    /// `(1 + tanh(x))/2`). By the atom. An alternative that is the atom's own function
    /// spelled another way (`tanh(ln(1 + e^x))` for `tanh(softplus(x))`) is put in only
    /// where it costs less than the atom (in `cheap`'s costs): elsewhere every form it
    /// makes costs more than the one it was made from; and only where `worth` says the
    /// respelling may pay (it is asked before the alternative is converted).
    fn respellings(&mut self, cheap: &HashSet<Expr>, worth: impl Fn(&Table, &Expr, &Expr) -> bool) -> Vec<(Expr, Rat)> {
        // Only an atom with an alternative in the same variables can be respelled.
        let vars_of = |c: &Expr| match c.node() {
            Node::Call(Func::Builtin(_), args) if args.len() == 1 => Some(args[0].free_vars()),
            _ => None,
        };
        let mut out = Vec::new();
        for i in 0..self.atoms.len() {
            let (a, ax) = self.atoms[i].clone();
            let Some(vars) = vars_of(&a) else { continue };
            if !self.alternatives.iter().any(|(b, _)| *b != a && vars_of(b).as_ref() == Some(&vars)) {
                continue;
            }
            let Some(ra) = self.k.rat_of(&ax) else { continue };
            let Some(kv) = self.single_kernel(&ra) else { continue };
            for j in 0..self.alternatives.len() {
                let (b, bx) = self.alternatives[j].clone();
                if b == a || vars_of(&b).as_ref() != Some(&vars) {
                    continue;
                }
                // (Read off its exponentials first: most alternatives are of another
                // kernel, or of a higher degree in this one, and need no converting.)
                if self.k.exponential_spans(&bx).is_some_and(|spans| spans.iter().any(|&(v, n)| v != kv || n > 1)) {
                    continue;
                }
                if !worth(self, &a, &b) {
                    continue;
                }
                let Some(rb) = self.k.rat_of(&bx) else { continue };
                if rb == ra && cost::cost(&b, cheap) >= cost::cost(&a, cheap) {
                    continue;
                }
                if self.single_kernel(&rb) != Some(kv) || rb.num.degree(kv) > 1 || rb.den.degree(kv) > 1 {
                    continue;
                }
                let (p0, p1) = super::linear_coeffs(&rb.num, kv);
                let (q0, q1) = super::linear_coeffs(&rb.den, kv);
                let bp = Poly::var(self.k.var(Atom::Opaque(b.clone())));
                let Some(kb) = Rat::new(q0.mul(&bp).sub(&p0), p1.sub(&q1.mul(&bp))) else { continue };
                if let Some(in_b) = ra.subst(kv, &kb) {
                    out.push((a.clone(), in_b));
                }
            }
        }
        out
    }

    /// A lower bound on the cost of any expression whose rational function in the
    /// table's atoms is `r` (every form made from `r` is one), where its atoms are
    /// variables and calls other than exponentials: each of them appears, a call costing
    /// at least what it costs alone; joining `n` atoms takes at least `n - 1` operations,
    /// and more than one term at least one; a quotient or a fractional coefficient shows
    /// a division or a fraction. `None` with exponentials or roots among the atoms: the
    /// constructors know relations the table does not (`e^2*e^-2` is 1, `e^x*e^y` one
    /// call, `sqrt(2)*sqrt(pi)` one root), so an atom may vanish from a form.
    fn least_cost(&self, r: &Rat, cheap: &HashSet<Expr>) -> Option<u32> {
        let vars = r.vars();
        let of_atoms = least_for_atoms(vars.iter().map(|&v| self.k.atom(v)), cheap)?;
        // (A single atom needs an operation more where there are several terms.)
        let several_terms = r.num.len() > 1 || r.den.len() > 1;
        let one_more = u32::from(vars.len() <= 1 && several_terms);
        let integral = r.den.as_constant().is_some() && r.num.terms().all(|(_, c)| c.is_integer());
        Some(of_atoms.saturating_add(one_more).saturating_add(u32::from(!integral)))
    }

    /// [`least_for_atoms`] of `d`'s function (in `whole_vars`) with its atom `a` respelled
    /// in the alternative `b`, read before the respelling is worked out: `b` takes `a`'s
    /// place and the rest stay. `None` where `a` has no variable of its own or the bound
    /// cannot be read. No variable is made for `b`.
    fn least_respelled(
        &self,
        whole_vars: &std::collections::BTreeSet<Var>,
        a: &Expr,
        b: &Expr,
        cheap: &HashSet<Expr>,
    ) -> Option<u32> {
        let a_var = self.k.var_of(&Atom::Opaque(a.clone()))?;
        let b_atom = Atom::Opaque(b.clone());
        let b_is_new = self.k.var_of(&b_atom).is_none_or(|v| !whole_vars.contains(&v));
        let rest = whole_vars.iter().filter(|&&v| v != a_var).map(|&v| self.k.atom(v));
        least_for_atoms(rest.chain(b_is_new.then_some(&b_atom)), cheap)
    }

    /// The one kernel `r` varies in (constants such as `e^2` aside), where it is one.
    fn single_kernel(&self, r: &Rat) -> Option<Var> {
        let vars: Vec<Var> = r.vars().into_iter().filter(|&v| !self.k.atom(v).expr().free_vars().is_empty()).collect();
        match vars[..] {
            [v] if matches!(self.k.atom(v), Atom::Exp(_)) => Some(v),
            _ => None,
        }
    }
}

/// The part of [`Table::least_cost`] that the atoms alone decide: each appears (a call
/// costing at least what it costs alone), and `n` of them take `n - 1` operations to
/// join. `None` where one is an exponential or a root, as there.
fn least_for_atoms<'a>(atoms: impl IntoIterator<Item = &'a Atom>, cheap: &HashSet<Expr>) -> Option<u32> {
    let (mut cost_of_atoms, mut n) = (0u32, 0u32);
    for atom in atoms {
        n += 1;
        match atom {
            Atom::Sym(_) => {}
            Atom::Opaque(c) if matches!(c.node(), Node::Call(..)) && c.as_exp().is_none() => {
                cost_of_atoms = cost_of_atoms.saturating_add(cost::cost(c, cheap));
            }
            _ => return None,
        }
    }
    Some(cost_of_atoms.saturating_add(n.saturating_sub(1)))
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

/// Whether `e` holds (outside calls) a sum with an exponential term, `c*e^w`, and another
/// that is a number or an exponential too (`1 + e^x`, `e^x - e^-x`).
fn has_sum_of_exponentials(e: &Expr) -> bool {
    let exponential = |t: &Expr| t.coeff_rest().1.as_exp().is_some();
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Add(ts)
            if ts.iter().filter(|t| exponential(t)).count() >= 1
                && ts.iter().filter(|t| exponential(t) || t.as_num().is_some()).count() >= 2 =>
        {
            Walk::Stop
        }
        Node::Call(..) if x.as_exp().is_none() => Walk::Skip,
        _ => Walk::Descend,
    })
}

/// Whether `e` has more than `n` variables (free or bound), stopping at the first past `n`.
fn more_variables_than(e: &Expr, n: usize) -> bool {
    let mut seen: HashSet<u64> = HashSet::default();
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Var(_) if seen.insert(x.id()) && seen.len() > n => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// Whether `e` holds a logarithm, or a root of something that varies.
fn has_logs_or_roots(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(Func::Builtin(Builtin::Ln), _) => Walk::Stop,
        Node::Pow(b, p) if p.as_num().is_none_or(|r| !r.is_integer()) && !b.free_vars().is_empty() => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// The atoms of `e` the direct route writes a rational function in: its calls and its
/// powers other than whole ones (roots), each taken whole.
fn atoms_of(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(..) => {
            out.push(x.clone());
            Walk::Skip
        }
        Node::Pow(_, p) if p.as_num().is_none_or(|r| !r.is_integer()) => {
            out.push(x.clone());
            Walk::Skip
        }
        _ => Walk::Descend,
    });
    out
}

/// Collecting around common factors ([`collect::around_common_factors`]), of a sum and
/// of each sum inside a form, with the answers by node kept for the next form: the forms
/// the route compares share most of their sums.
#[derive(Default)]
struct Collected {
    around: IdMap<Vec<Expr>>,
    sums: IdMap<Expr>,
}

impl Collected {
    fn around(&mut self, e: &Expr) -> Vec<Expr> {
        self.around.entry(e.id()).or_insert_with(|| collect::around_common_factors(e)).clone()
    }

    /// `e` with each sum in it collected around a factor its terms share, where cheaper
    /// (`sigmoid(x)*(1 + x*(1 - sigmoid(x)))` inside a longer form).
    fn sums(&mut self, e: &Expr) -> Expr {
        let none = HashSet::default();
        let mut sums = std::mem::take(&mut self.sums);
        let out = expr::fold(
            e,
            &mut sums,
            |x| (!matches!(x.node(), Node::Add(_) | Node::Mul(_) | Node::Pow(..))).then(|| x.clone()),
            |x, below| {
                let x = expr::with_children(x, below);
                if !matches!(x.node(), Node::Add(_)) {
                    return x;
                }
                let forms = self.around(&x);
                if forms.is_empty() {
                    return x;
                }
                let own = cost::cost(&x, &none);
                forms
                    .into_iter()
                    .map(|c| (cost::cost(&c, &none), c))
                    .filter(|(k, _)| *k < own)
                    .min_by_key(|(k, _)| *k)
                    .map_or(x, |(_, c)| c)
            },
        );
        self.sums = sums;
        out
    }
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
            assert_eq!(direct(&s("z/(1 + e^-z)"), v), Some(s("sigmoid(z)*(1 + z*(1 - sigmoid(z)))")));
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
    fn no_form_of_a_respelling_costs_less_than_its_bound() {
        // Every respelling of every atom, under several names and spellings: the forms
        // the route would write (collected, and the atom replaced in `d`) cost at least
        // the bound that lets it skip them.
        let mut checked = 0;
        for src in [
            "e^q/(1 + e^q)",
            "ln(1 + e^(2*s))",
            "ln(1 + e^(2*s + 2))",
            "u/(1 + e^-u)",
            "x*tanh(ln(1 + e^x))",
            "x/2*(1 + erf(x/sqrt(2)))",
            "3*sigmoid(4*x) - 2*sigmoid(-x)^2",
            "sigmoid(x)/(1 + x^2)",
            "x*e^-x + 1/(1 + e^(-2*x))",
        ] {
            let e = parse(src);
            let x = e.free_vars()[0].clone();
            let r = recognize::recognized(&e);
            let raw = crate::diff::diff(&e, &x);
            let d = crate::diff::diff(&r, &x);
            let cheap: HashSet<Expr> = implicit_names(&e, &[]).into_iter().map(|(_, c)| c).collect();
            let alternatives: Vec<Expr> =
                [&e, &raw, &r].into_iter().flat_map(|f| implicit_names(f, &[])).map(|(_, c)| c).collect();
            let mut table = Table::new(&d, &atoms_of(&d), &alternatives);
            let whole = table.k.rat_of(&d).expect("no division by zero");
            for (a, in_b) in table.respellings(&HashSet::default(), |_, _, _| true) {
                let v = table.k.var(Atom::Opaque(a.clone()));
                let respelled = whole.subst(v, &in_b).expect("defined");
                // The bound on the atoms the route reads off before working the respelling
                // out (`b`'s place: `in_b` is `b` and constants), and the one after.
                let before = table.least_respelled(&whole.vars(), &a, &in_b_call(&table, &in_b), &cheap);
                let Some(bound) = before.max(table.least_cost(&respelled, &cheap)) else { continue };
                let mut forms = vec![expr::replace(&d, &a, &rat_expr_within(&in_b, &table.k, u64::MAX).unwrap())];
                forms.extend(rat_expr_within(&respelled, &table.k, u64::MAX));
                for f in forms.clone() {
                    forms.extend(collect::around_common_factors(&f));
                    forms.push(Collected::default().sums(&f));
                }
                for f in forms {
                    assert!(cost::cost(&f, &cheap) >= bound, "{src}: {f} costs {} < {bound}", cost::cost(&f, &cheap));
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} forms checked");
    }

    /// The alternative `in_b` (an atom in terms of it) is written in.
    fn in_b_call(table: &Table, in_b: &Rat) -> Expr {
        let calls = in_b.vars().into_iter().filter_map(|v| match table.k.atom(v) {
            Atom::Opaque(c) if !c.free_vars().is_empty() => Some(c.clone()),
            _ => None,
        });
        let calls: Vec<Expr> = calls.collect();
        let [b] = &calls[..] else { panic!("one call varies in {in_b:?}") };
        b.clone()
    }

    use proptest::prelude::*;

    /// A polynomial in the table's variables `vs` from `(coefficient, exponents)` terms.
    fn poly_of(vs: &[Var], terms: &[(i64, i64, Vec<u32>)]) -> Poly {
        terms.iter().fold(Poly::zero(), |acc, (n, d, ks)| {
            let m = vs.iter().zip(ks).fold(Poly::one(), |p, (&v, &k)| p.mul(&Poly::var(v).pow(k)));
            acc.add(&m.scale(&crate::number::Rational::new((*n).into(), (*d).into())))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any rational function of variables and calls, written as the route writes
        /// it (factored, collected), costs at least its bound.
        #[test]
        fn forms_cost_at_least_the_bound(
            num in proptest::collection::vec((-4i64..=4, 1i64..=3, proptest::collection::vec(0u32..3, 4)), 1..4),
            den in proptest::collection::vec((1i64..=4, 1i64..=1, proptest::collection::vec(0u32..2, 4)), 1..3),
        ) {
            let atoms: Vec<Expr> = ["x", "y", "tanh(x/2)", "sigmoid(y)"].iter().map(|a| parse(a)).collect();
            let d = Expr::add(atoms.clone());
            let mut table = Table::new(&d, &atoms_of(&d), &[]);
            let vs: Vec<Var> = atoms.iter().map(|a| {
                let r = table.k.rat_of(a).expect("an atom");
                r.vars().into_iter().next().expect("one variable")
            }).collect();
            let Some(r) = Rat::new(poly_of(&vs, &num), poly_of(&vs, &den)) else { return Ok(()) };
            let cheap: HashSet<Expr> = [parse("tanh(x/2)")].into_iter().collect();
            let bound = table.least_cost(&r, &cheap).expect("variables and calls only");
            let Some(f) = rat_expr_within(&r, &table.k, u64::MAX) else { return Ok(()) };
            let mut forms = collect::around_common_factors(&f);
            forms.push(Collected::default().sums(&f));
            forms.push(f);
            for f in forms {
                prop_assert!(cost::cost(&f, &cheap) >= bound, "{} costs {} < {}", f, cost::cost(&f, &cheap), bound);
            }
        }
    }

    #[test]
    fn atoms_are_independent_only_without_a_shared_kernel() {
        let check = |src: &str| {
            let e = parse(src);
            Table::new(&e, &atoms_of(&e), &[]).independent()
        };
        assert!(check("x*sigmoid(x) + erf(x)*e^(-x^2)"));
        assert!(check("tanh(x)*sigmoid(y)"));
        assert!(!check("sigmoid(x) + e^x"));
        assert!(!check("sigmoid(x)*sigmoid(-x)"));
        assert!(!check("sin(x) + cos(x)"));
        assert!(!check("sqrt(1 + x)*x"));
    }
}
