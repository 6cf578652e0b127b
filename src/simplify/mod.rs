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
//!   is substituted everywhere (a kernel first; where the variable or a call could be
//!   solved for instead, that form is offered too, `e^-x - y` for `y = x*e^-x`); names
//!   defined by a logarithm, `p = c*ln(A)`, give the relation `A = e^(p/c)`. No answer
//!   is looked up: `p*(1 - p)` for the sigmoid is what substituting `e^z = p/(1 - p)`
//!   into `e^z/(1 + e^z)^2` and cancelling gives.
//!
//! Names are the definitions the user gave (all of them count as computed) and, when
//! the input uses hyperbolic functions, exponentials or the sigmoid, the built-in
//! outputs `tanh(u)` and `sigmoid(u)` of their arguments.
//!
//! How hard it looks (the work a search may spend, which parts are searched whole, how
//! large a candidate may be, how the numeric comparison samples) is [`Config`].

mod cases;
mod collect;
pub mod config;
pub mod cost;
pub(crate) mod direct;
pub(crate) mod factor;
pub(crate) mod kernel;
mod logs;
mod modular;
pub(crate) mod recognize;
mod roots;

use crate::expr::FastSet as HashSet;
use std::collections::HashMap;

use crate::check;
use crate::eval::{self, Model};
use crate::expr::IdMap;
use crate::expr::{self, Cmp, Expr, Func, Node, Sym, Walk};
use crate::func::Builtin;
use crate::limits;
use crate::poly::{Monomial, Poly, Rat, Var};
pub use config::Config;
use kernel::{Atom, Kernels, View};

/// The knobs the simplifier runs with.
const CFG: &Config = &Config::DEFAULT;

/// Which forms the simplifier may choose from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Form {
    /// In terms of the names where that is possible.
    Output,
    /// In the inputs only.
    Input,
    /// Whatever is cheapest.
    Auto,
    /// No search at all: the differentiator's canonical output as it is, in the inputs
    /// (the plain derivative, fast, as SymEngine's `diff` gives it).
    Raw,
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
    if form == Form::Raw {
        return crate::diff::derivatives(e, x, order);
    }
    let mut out: Vec<Expr> = Vec::new();
    let mut known: HashMap<Sym, Expr> = HashMap::new();
    let mut last = e.clone();
    for _ in 0..order {
        if !out.is_empty() && last.is_zero() {
            break;
        }
        last = next_derivative(&last, x, names, form, &mut known, !out.is_empty());
        out.push(last.clone());
    }
    out
}

/// One order of [`derivatives`]: the derivative of `last` (as shown) by `x`, simplified;
/// `known` holds the derivatives of names by `x` found so far, and `again` says that
/// `last` is itself a derivative shown.
fn next_derivative(
    last: &Expr,
    x: &Sym,
    names: &Names,
    form: Form,
    known: &mut HashMap<Sym, Expr>,
    again: bool,
) -> Expr {
    for (n, body) in &names.defs {
        if !known.contains_key(n) && last.contains(n) {
            known.insert(n.clone(), simplify(&crate::diff::diff(body, x), names, form));
        }
    }
    let raw = crate::diff::diff_known(last, x, known);
    // A first derivative whose atoms are independent is taken from the table.
    if let Some(r) = (!again).then(|| direct::function(last, names, form)).flatten() {
        let d = if r == *last { raw.clone() } else { crate::diff::diff_known(&r, x, known) };
        if let Some(d) = direct::derivative(last, &raw, &r, &d) {
            return d;
        }
    }
    // Past the first order, a derivative in the same functions and variables as the
    // order before (a polynomial in `p`, or in `tanh(x)`) only needs collecting and
    // factoring. (A new variable may make a name: `2*x*y + 2*z` by `y` of `2*y*z` with
    // `z = x*y` is `4*z`.)
    let same_calls = again && calls(&raw).is_subset(&calls(last)) && {
        let vars = last.free_vars();
        raw.free_vars().iter().all(|v| vars.contains(v))
    };
    let next = match same_calls.then(|| collected(&raw, names)).flatten() {
        Some(c) => c,
        None => simplify(&raw, names, form),
    };
    // Built-ins spelled out in exponentials (`(e^x - e^-x)/(e^x + e^-x)`) are
    // differentiated as the built-ins, where that shows a cheaper derivative.
    recognize::derivative_of_recognized(last, &raw, &next, x, known, names, form).unwrap_or(next)
}

/// The gradient of `e` by `vars`, each entry simplified with `names` (their variable
/// set to the entry's): as [`derivatives`] does for one variable, where `e` with its
/// built-ins recognized (`1/(1 + e^-z)` as `sigmoid(z)`) has a cheaper derivative, that
/// one, so that an entry of `grad` is the derivative `diff` shows.
pub fn gradient(e: &Expr, vars: &[Sym], names: &Names, form: Form) -> Vec<Expr> {
    let plain = crate::diff::gradient(e, vars);
    if form == Form::Raw {
        return plain;
    }
    let alt = recognize::alternative(e, form).map(|a| crate::diff::gradient(&a, vars));
    let alt = alt.as_deref();
    // Entries whose atoms are independent are taken from the table, as `diff` takes them.
    let r = direct::function(e, names, form);
    // (Its derivatives: `alt`'s, where it differs from `e`.)
    let of_r = r.as_ref().and_then(|r| if r == e { Some(&plain[..]) } else { alt });
    vars.iter()
        .enumerate()
        .map(|(i, x)| {
            r.as_ref()
                .zip(of_r)
                .and_then(|(r, d)| direct::derivative(e, &plain[i], r, &d[i]))
                .unwrap_or_else(|| gradient_entry(&plain[i], alt.map(|a| &a[i]), x, names, form))
        })
        .collect()
}

/// The Hessian of `e` by `vars`: entry `[i][j]`, `i <= j`, is the derivative by
/// `vars[j]` of the [`gradient`]'s entry `i` as shown, as [`derivatives`] takes a second
/// order (the second derivative of the sigmoid is that of `sigmoid(z)*(1 - sigmoid(z))`,
/// not of a tower of quotients of `e^z`, which no numeric check can read far out). The
/// matrix is symmetric, as second partials are wherever they are continuous: entry
/// `[j][i]` is `[i][j]`, worked out once and written alike (not `sigmoid(a - b)` above
/// the diagonal and `sigmoid(b - a)` below it).
pub fn hessian(e: &Expr, vars: &[Sym], names: &Names, form: Form) -> Vec<Vec<Expr>> {
    let first = gradient(e, vars, names, form);
    let by = |y: &Sym| Names { defs: names.defs.clone(), wrt: Some(y.clone()) };
    let second = |g: &Expr, y: &Sym| match form {
        Form::Raw => crate::diff::diff(g, y),
        _ => next_derivative(g, y, &by(y), form, &mut HashMap::new(), true),
    };
    let upper: Vec<Vec<Expr>> =
        first.iter().enumerate().map(|(i, g)| vars[i..].iter().map(|y| second(g, y)).collect()).collect();
    let entry = |i: usize, j: usize| if i <= j { upper[i][j - i].clone() } else { upper[j][i - j].clone() };
    (0..vars.len()).map(|i| (0..vars.len()).map(|j| entry(i, j)).collect()).collect()
}

/// One entry of a gradient: `raw` (a derivative by `x`) simplified, or
/// `raw_alt` (the same derivative of the function recognized) where that is better.
fn gradient_entry(raw: &Expr, raw_alt: Option<&Expr>, x: &Sym, names: &Names, form: Form) -> Expr {
    let names = Names { defs: names.defs.clone(), wrt: Some(x.clone()) };
    let last = simplify(raw, &names, form);
    raw_alt.and_then(|a| recognize::preferred(raw, &last, a, &names, form)).unwrap_or(last)
}

/// The function calls in `e`.
fn calls(e: &Expr) -> HashSet<Expr> {
    let mut out = HashSet::default();
    expr::walk(std::slice::from_ref(e), |x| {
        if matches!(x.node(), Node::Call(..)) {
            out.insert(x.clone());
        }
        Walk::Descend
    });
    out
}

/// `e` as one reduced rational function of its atoms, factored, where that is cheaper
/// and equal (names evaluated as values); no kernels and no names are sought.
/// `None` when collecting ran out of its budget (the whole simplification's): the caller
/// then simplifies part by part.
fn collected(e: &Expr, names: &Names) -> Option<Expr> {
    let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
    // Collecting a polynomial is exact and loses no point of its domain; only a
    // cancelled division needs the numeric check (which large coefficients would
    // defeat, by cancellation in floating point).
    let exact = |c: &Expr| !divides(e) || agrees(c, e, &bodies);
    let (found, _) = limits::within(CFG.total_work, || normalized(e, View::Full, CFG.largest_form(e.tree_size())));
    Some(match found? {
        Some(c) if cost::cost(&c, &HashSet::default()) < cost::cost(e, &HashSet::default()) && exact(&c) => c,
        _ => e.clone(),
    })
}

/// Whether `e` divides by anything but a number.
fn divides(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Pow(b, p)
            if b.as_num().is_none()
                && p.as_num().is_none_or(|r| !num_traits::Signed::is_positive(r) || !r.is_integer()) =>
        {
            Walk::Stop
        }
        _ => Walk::Descend,
    })
}

/// Whether `e` holds a number larger than [`Config::max_number_bits`].
fn beyond_reach(e: &Expr) -> bool {
    // Numbers inside a call's arguments are the atom's business, not this part's.
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Num(r) if crate::number::bits(r) > CFG.max_number_bits => Walk::Stop,
        Node::Call(..) if x.id() != e.id() && x.as_exp().is_none() => Walk::Skip,
        _ => Walk::Descend,
    })
}

/// [`simplify`], with the substitutions made, as `atom = value` equations.
///
/// The expression is first written in terms of the names wherever a name's body stands
/// whole (exact: it is the definition). Then it is simplified part by part, top down: a
/// part small enough (in atoms) is searched for its cheapest form within
/// [`Config::part_work`]; a larger one, or one whose search ran out of work, is taken
/// apart and its terms and factors are searched. Every form a search accepts is proved
/// equal to the part exactly ([`proved_equal`]: the difference is zero as a rational
/// function of kernels) and agrees with it numerically; a part no search improved keeps
/// its form, so the result is never worse than the differentiator's.
pub fn simplify_explained(e: &Expr, names: &Names, form: Form) -> (Expr, Vec<(Expr, Expr)>) {
    if form == Form::Raw {
        return (e.clone(), Vec::new());
    }
    if names.defs.len() > CFG.max_names {
        let inputs_only = Names { defs: Vec::new(), wrt: names.wrt.clone() };
        return simplify_explained(e, &inputs_only, form);
    }
    let plain = simplify_parts(e, names, form);
    // Built-ins spelled out (`ln(1 + e^x)` inside a call) as the calls, where cheaper.
    let best = recognize::cheaper_recognized(e, plain, names, form, |r| simplify_parts(r, names, form));
    // And those the simplified form spells out where the input did not
    // (`(1 - tanh(x/2)^2)/(1 + tanh(x/2)^2)` is `2*e^x/(1 + e^(2*x))`, which is `sech(x)`).
    recognize::recognized_result(e, best, names, form)
}

/// [`simplify_explained`] of `e` as it is written.
fn simplify_parts(e: &Expr, names: &Names, form: Form) -> (Expr, Vec<(Expr, Expr)>) {
    let mut ctx = Ctx::new(names, form);
    let named = ctx.named(e);
    ctx.root = named.id();
    let r = ctx.part(&named);
    // A name's whole body, wherever the search left it, is the name.
    let r = ctx.named(&r);
    // (Each name looked for, which stops at its first use and skips what cannot hold it:
    // listing the result's variables sorted a hundred weights' names per entry.)
    let subs = ctx.subs.into_iter().filter(|(_, v)| v.free_vars().iter().any(|s| r.contains(s))).collect();
    (r, subs)
}

/// Values of nodes at the points [`agrees`] samples, per point: plain values for the
/// names' bodies, magnitudes for the forms compared.
type PointMemo = IdMap<(IdMap<f64>, IdMap<eval::Mag>)>;

thread_local! {
    static POINT_MEMO: std::cell::RefCell<PointMemo> = std::cell::RefCell::new(IdMap::default());
}

type NormalizedMemo = HashMap<(u64, View, u64), (Option<Expr>, u64)>;

thread_local! {
    /// The variables of each name's body, by the body's id (see [`inlined_vars`]).
    static BODY_VARS: std::cell::RefCell<IdMap<std::rc::Rc<[Sym]>>> = Default::default();
    /// [`normalized`] by node, view and size bound, with the work each cost (see
    /// [`normalized_memo`]).
    static NORMALIZED: std::cell::RefCell<NormalizedMemo> = Default::default();
}

/// Empties the simplifier's memo tables, which only save time: `--repeat` calls this
/// before each run, so that every run is timed from cold, as one invocation is.
pub(crate) fn forget_memos() {
    POINT_MEMO.with(|m| m.borrow_mut().clear());
    PREPARED.with(|p| *p.borrow_mut() = None);
    BODY_VARS.with(|m| m.borrow_mut().clear());
    NORMALIZED.with(|m| m.borrow_mut().clear());
    kernel::forget_memos();
    recognize::forget_memos();
    cost::forget_memos();
}

/// What [`Ctx::new`] last worked out from its names.
/// What each name's body shows: see [`Ctx::visible`].
type Visible = Vec<(HashSet<Sym>, HashSet<Expr>, bool)>;

type Prepared = (Vec<(Sym, Expr)>, Form, HashMap<Expr, Expr>, Visible, NamedMemo, NamedMemo, SearchMemo);

/// [`Ctx::search_within`]'s results by part and the variable differentiated by: pure
/// functions of the names, shared by the entries of a gradient (a layer's `(tanh(a_k) -
/// t_k)*(1 - tanh(a_k)^2)` is searched once, not once per input `x_j` it multiplies).
type SearchMemo = std::rc::Rc<std::cell::RefCell<HashMap<(u64, Option<Sym>, bool), Option<Searched>>>>;

/// A search's form and the substitutions behind it.
type Searched = (Expr, Vec<(Expr, Expr)>);

/// [`Ctx::named`]'s or [`Ctx::inline`]'s results by node: pure functions of the names,
/// shared by the simplifications that use the same names (a Jacobian's entries share
/// most nodes).
type NamedMemo = std::rc::Rc<std::cell::RefCell<IdMap<Expr>>>;

thread_local! {
    static PREPARED: std::cell::RefCell<Option<Prepared>> = const { std::cell::RefCell::new(None) };
}

/// The forms a search chooses from, and the substitutions behind those in the names.
struct Candidates {
    /// Every candidate, the part itself among them, in the order found.
    pool: Vec<Expr>,
    explanations: Explanations,
    /// The logarithmic derivatives among them (`y*(1/(3*x) + 5/(1 + x))`), which may
    /// divide by a factor of the input where the input is zero, as the textbook form does.
    logs: HashSet<Expr>,
}

/// The substitutions (`atom = value`) that gave each form in the names.
type Explanations = HashMap<Expr, Vec<(Expr, Expr)>>;

/// Where a candidate ranks, cheapest first (compared field by field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Rank {
    /// [`cost::cost`], with the part's built-in outputs as cheap as names.
    cost: u32,
    /// Whether the form is not finite with every variable far out
    /// ([`Config::far_out`]): among equally cheap forms, the one that stays finite wins
    /// (`p*(1 - p)` is 0 at z = 800, where `e^z/(1 + e^z)^2` is inf/inf). Worked out only
    /// where two forms tie on cost (`false` otherwise).
    infinite_far_out: bool,
    /// Whether the form uses none of the names, where the two above tie (`false`
    /// otherwise): what is already computed is preferred (`5 - y^2/5` for `y =
    /// 5*tanh(x)`, not the equally cheap `5*(1 - tanh(x)^2)`).
    unnamed: bool,
    /// How many times variables occur in the printed form, where the three above tie (0
    /// otherwise): the fewer, the more is factored (`tanh(x) + x*(1 - tanh(x)^2)`, not
    /// `x - x*tanh(x)^2 + tanh(x)`).
    occurrences: u64,
    /// Whether the form is not the expression as given, where the four above tie
    /// (`false` otherwise): a rewriting must be better to replace it, so the rows'
    /// `s*(1 - s)` stays against an equally cheap `s - s^2`.
    rewritten: bool,
    /// The length of the printed form, where the five above tie (0 otherwise): the
    /// shorter reads better.
    printed_len: usize,
}

/// What one simplification knows: the names, and the parts done so far.
struct Ctx<'a> {
    names: &'a Names,
    form: Form,
    /// The variable of differentiation as the kernel view meets it: a variable, or an
    /// element `x[j]` (an atom of its own), which [`Names::wrt`] holds as its text.
    wrt: Option<Expr>,
    /// Each name's inlined body.
    bodies: HashMap<Sym, Expr>,
    /// Each name's body written in the earlier names, to the name; and the comparisons
    /// that a name decides as well as its body's argument does (`u > 0` is `y > 0` for
    /// `y = relu(u)`), to the comparison of the name.
    by_body: HashMap<Expr, Expr>,
    /// The variables each name's body shows outside opaque sums (see [`visible_vars`]),
    /// those sums ([`opaque_sums`]), and whether the body is a polynomial in variables.
    visible: Visible,
    named_memo: NamedMemo,
    inline_memo: NamedMemo,
    search_memo: SearchMemo,
    memo: IdMap<Expr>,
    subs: Vec<(Expr, Expr)>,
    work_left: u64,
    /// The expression being simplified (its id): only its own forms take a minus into a
    /// sum ([`sign_into_a_sum`]), where no sign outside can cancel it.
    root: u64,
}

impl<'a> Ctx<'a> {
    fn new(names: &'a Names, form: Form) -> Ctx<'a> {
        let bodies: HashMap<Sym, Expr> = names.defs.iter().cloned().collect();
        let mut ctx = Ctx {
            names,
            form,
            wrt: names.wrt.as_ref().map(variable_of),
            bodies,
            by_body: HashMap::new(),
            visible: Vec::new(),
            named_memo: NamedMemo::default(),
            inline_memo: NamedMemo::default(),
            search_memo: SearchMemo::default(),
            memo: IdMap::default(),
            subs: Vec::new(),
            work_left: CFG.total_work,
            root: 0,
        };
        // A Jacobian simplifies many entries with the same names: what the names give is
        // worked out once.
        let cached = PREPARED.with(|p| {
            p.borrow()
                .as_ref()
                .filter(|(defs, f, ..)| *defs == names.defs && *f == form)
                .map(|(_, _, b, v, m, i, s)| (b.clone(), v.clone(), m.clone(), i.clone(), s.clone()))
        });
        if let Some((by_body, visible, named_memo, inline_memo, search_memo)) = cached {
            ctx.by_body = by_body;
            ctx.visible = visible;
            ctx.named_memo = named_memo;
            ctx.inline_memo = inline_memo;
            ctx.search_memo = search_memo;
            return ctx;
        }
        ctx.visible =
            names.defs.iter().map(|(_, b)| (visible_vars(b), opaque_sums(b), polynomial_in_variables(b))).collect();
        if form != Form::Input {
            // Smaller bodies first: a body can only hold smaller ones.
            let mut order: Vec<&(Sym, Expr)> = names.defs.iter().collect();
            order.sort_by_key(|(_, b)| b.tree_size());
            for (n, b) in order {
                if matches!(b.node(), Node::Var(_) | Node::Num(_) | Node::Const(_)) {
                    continue;
                }
                // (by_body grows as this goes: nothing named before may be reused.)
                ctx.named_memo.borrow_mut().clear();
                let nf = ctx.named(b);
                if !matches!(nf.node(), Node::Var(_)) {
                    let y = Expr::sym(n.clone());
                    // A ramp is positive exactly where its argument is: the step of the
                    // argument is the step of the output (ReLU's backward `grad*(y > 0)`).
                    if let Some(u) = ramp_argument(&nf) {
                        let (u, zero) = (u.clone(), Expr::zero());
                        let pairs = [
                            (
                                Expr::compare(Cmp::Gt, u.clone(), zero.clone()),
                                Expr::compare(Cmp::Gt, y.clone(), zero.clone()),
                            ),
                            (Expr::compare(Cmp::Ge, zero.clone(), u), Expr::compare(Cmp::Ge, zero, y.clone())),
                        ];
                        for (step, of_y) in pairs {
                            ctx.by_body.entry(step).or_insert(of_y);
                        }
                    }
                    ctx.by_body.entry(nf).or_insert(y);
                }
            }
        }
        PREPARED.with(|p| {
            *p.borrow_mut() = Some((
                names.defs.clone(),
                form,
                ctx.by_body.clone(),
                ctx.visible.clone(),
                NamedMemo::default(),
                ctx.inline_memo.clone(),
                ctx.search_memo.clone(),
            ));
        });
        ctx
    }

    /// `e` with every name's body that stands whole in it replaced by the name, bottom up.
    fn named(&self, e: &Expr) -> Expr {
        if self.by_body.is_empty() {
            return e.clone();
        }
        let mut memo = self.named_memo.borrow_mut();
        if memo.len() > CFG.named_memo {
            memo.clear();
        }
        if let Some(r) = memo.get(&e.id()) {
            return r.clone();
        }
        // Nodes already done (and all below them) are not walked again.
        for x in expr::post_order(std::slice::from_ref(e), |x| !memo.contains_key(&x.id())) {
            if memo.contains_key(&x.id()) {
                continue;
            }
            let done = |c: &Expr| memo.get(&c.id()).cloned().expect("children are done before their parents");
            let r = expr::map_children(&x, done);
            let r = self.by_body.get(&r).cloned().unwrap_or(r);
            memo.insert(x.id(), r);
        }
        memo.get(&e.id()).cloned().expect("the part itself is done last")
    }

    /// The simplified form of the part `e`, searched whole where that is affordable, or
    /// rebuilt from its simplified children.
    fn part(&mut self, e: &Expr) -> Expr {
        if let Some(r) = self.memo.get(&e.id()) {
            return r.clone();
        }
        let r = crate::limits::deep(|| self.part_of(e));
        self.memo.insert(e.id(), r.clone());
        r
    }

    fn part_of(&mut self, e: &Expr) -> Expr {
        // A call is an atom to every search: only its arguments can be simplified.
        if e.children().is_empty() {
            e.clone()
        } else if let Node::Call(Func::If, args) = e.node() {
            self.branches(args)
        } else if matches!(e.node(), Node::Call(..)) {
            // A call is searched only where a name may stand for it (`e^x` is `1 + y`
            // for `y = e^x - 1`); otherwise only its arguments are simplified.
            let whole = if self.relevant(e).is_empty() { None } else { self.search_within(e) };
            whole.filter(|r| r != e).unwrap_or_else(|| expr::map_children(e, |c| self.part(c)))
        } else if let Some((lone, rest)) = self.lone_factors(e) {
            Expr::mul(lone.into_iter().chain([self.part(&rest)]))
        } else if let Some(r) = self.search_within(e) {
            r
        } else {
            let rebuilt = expr::map_children(e, |c| self.part(c));
            if rebuilt != *e {
                self.search_within(&rebuilt).unwrap_or(rebuilt)
            } else {
                rebuilt
            }
        }
    }

    /// The factors of the product `e` that no search could do anything with, and the
    /// product of the others: plain variables (or their numeric powers) that occur in no
    /// name's body, are neither a name nor the variable differentiated by, and occur in
    /// the other factors only inside calls and exponents (a layer gradient's input `x_j`,
    /// which is also in `tanh(x_1*w_1 + ...)`). Nothing cancels against such a factor
    /// (what holds it elsewhere is an atom of its own to the kernel view), and no name
    /// can absorb it, so the rest is searched alone, and is the same part for every `x_j`.
    fn lone_factors(&self, e: &Expr) -> Option<(Vec<Expr>, Expr)> {
        let Node::Mul(fs) = e.node() else { return None };
        let lone = |i: usize, f: &Expr| {
            let base = match f.node() {
                Node::Pow(b, k) if k.as_num().is_some() => b,
                _ => f,
            };
            let Node::Var(v) = base.node() else { return false };
            self.wrt.as_ref() != Some(base)
                && !self.bodies.contains_key(v)
                && !self.bodies.values().any(|b| b.contains(v))
                && !fs.iter().enumerate().any(|(j, g)| j != i && polynomial_in(g, v))
        };
        let (mut alone, mut rest) = (Vec::new(), Vec::new());
        for (i, f) in fs.iter().enumerate() {
            if lone(i, f) { &mut alone } else { &mut rest }.push(f.clone());
        }
        if alone.is_empty() || rest.iter().all(|f| f.as_num().is_some()) {
            return None;
        }
        Some((alone, Expr::mul(rest)))
    }

    /// `if(c1, v1, ..., otherwise)` with each part simplified, each value under the names
    /// as they are on its branch: a name defined by an `if` with the same conditions
    /// stands, on branch `k`, for its own `k`th value (the ELU `y = if(x > 0, x,
    /// a*(e^x - 1))` is `a*(e^x - 1)` where `x > 0` fails, so `a*e^x` there is `y + a`).
    fn branches(&mut self, args: &[Expr]) -> Expr {
        let last = args.len() - 1;
        let conditions: Vec<&Expr> = args[..last].iter().step_by(2).collect();
        // The names as they are on branch `k`, and those that differ there.
        let on_branch = |k: usize| -> Option<(Names, Vec<Sym>)> {
            let mut changed = Vec::new();
            let defs = self.names.defs.iter().map(|(n, body)| match body.node() {
                Node::Call(Func::If, bargs)
                    if bargs.len() == args.len() && bargs[..last].iter().step_by(2).eq(conditions.iter().copied()) =>
                {
                    changed.push(n.clone());
                    (n.clone(), bargs[(2 * k + 1).min(last)].clone())
                }
                _ => (n.clone(), body.clone()),
            });
            let names = Names { defs: defs.collect(), wrt: self.names.wrt.clone() };
            (!changed.is_empty()).then_some((names, changed))
        };
        let mut out = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let value_of_branch = if i == last { Some(conditions.len()) } else { (i % 2 == 1).then_some(i / 2) };
            match value_of_branch.and_then(on_branch) {
                Some((names, changed)) => {
                    let (r, subs) = simplify_parts(a, &names, self.form);
                    // What the branch's own names gave is what the branch explains.
                    let own = |v: &Expr| v.free_vars().iter().any(|s| changed.contains(s));
                    for s in subs.into_iter().filter(|(_, v)| own(v)) {
                        if !self.subs.contains(&s) {
                            self.subs.push(s);
                        }
                    }
                    out.push(r);
                }
                // A condition is canonical as it is (a comparison with 0).
                None if value_of_branch.is_none() => out.push(a.clone()),
                None => out.push(self.part(a)),
            }
        }
        Expr::piecewise(out)
    }

    /// [`Ctx::search`] on `e` within [`Config::part_work`] (and what is left of
    /// [`Config::total_work`]), where `e` is small enough ([`Config::part_nodes`],
    /// [`Config::part_atoms`], [`Config::max_number_bits`]).
    fn search_within(&mut self, e: &Expr) -> Option<Expr> {
        if self.work_left == 0
            || e.tree_size() > CFG.part_nodes
            || count_atoms(e, CFG.part_atoms + 1, View::Opaque) > CFG.part_atoms
            || beyond_reach(e)
        {
            return None;
        }
        let (keyed_by, logs) = self.reads_wrt(e);
        let key = (e.id(), keyed_by, e.id() == self.root);
        let known = self.search_memo.borrow().get(&key).cloned();
        let found = match known {
            Some(found) => found,
            None => {
                let budget = CFG.part_work.min(self.work_left);
                let (found, spent) = limits::within(budget, || self.search(e, logs));
                self.work_left = self.work_left.saturating_sub(spent);
                // (A search cut short by what this simplification had left is not what
                // another entry, with its own budget, would find.)
                if budget == CFG.part_work {
                    let mut memo = self.search_memo.borrow_mut();
                    if memo.len() > CFG.named_memo {
                        memo.clear();
                    }
                    memo.insert(key, found.clone());
                }
                found
            }
        };
        let (r, subs) = found?;
        for s in subs {
            if !self.subs.contains(&s) {
                self.subs.push(s);
            }
        }
        Some(r)
    }

    /// The variable of differentiation where the search of `e` could depend on it (the
    /// key of its memo), `None` where it cannot, so that the entries of a gradient by
    /// different variables share the search (a layer's gradient by each weight `w_j_k`
    /// searches `(1 - tanh(a_k)^2)*(tanh(a_k) - t_k)` once per `k`); and the
    /// logarithmic-derivative forms, where finding that out computed them. The search
    /// reads the variable in three places only: those forms, the elimination's preference
    /// for solving a name's body for it (which needs it as an atom of a body: not only
    /// inside a call or an exponent), and the case analysis of kinks, which simplifies
    /// again.
    fn reads_wrt(&self, e: &Expr) -> (Option<Sym>, Option<Vec<Expr>>) {
        let Some(w) = self.names.wrt.as_ref() else { return (None, None) };
        let reads = || (Some(w.clone()), None);
        if !matches!(self.wrt.as_ref().map(Expr::node), Some(Node::Var(_))) || cases::has_kinks(e) {
            return reads();
        }
        let relevant = self.relevant(e);
        let implicit = implicit_names(e, &relevant);
        if relevant.iter().chain(&implicit).any(|(_, b)| polynomial_in(b, w)) {
            return reads();
        }
        // Under a part's budget, as in the search: expanding `(x*(x - t)^39 - t)^10` to
        // factor it took seconds. Cut short, there are no such forms, and the search may
        // still read the variable.
        let (logs, _) = limits::within(CFG.part_work, || self.log_forms(e, CFG.largest_form(e.tree_size())));
        let Some(logs) = logs else { return (Some(w.clone()), Some(Vec::new())) };
        let keyed_by = if logs.is_empty() { None } else { Some(w.clone()) };
        (keyed_by, Some(logs))
    }

    /// The cheapest form of `e` among the candidates, each proved equal to `e`: the
    /// candidates ([`Ctx::candidates`]), cheapest first ([`Ctx::ranked`]), and the first
    /// that is proved equal to `e` and agrees with it numerically ([`Ctx::validated`]).
    /// `logs`: the logarithmic-derivative forms of `e`, where already found.
    fn search(&self, e: &Expr, logs: Option<Vec<Expr>>) -> (Expr, Vec<(Expr, Expr)>) {
        let Candidates { pool, mut explanations, logs } = self.candidates(e, logs);
        // The forms in `csc`, `cot`, `sech`... come in only where strictly cheaper.
        // (Not in the inputs' own spelling, which `--form input` asks for.)
        let respelled: Vec<Expr> = match self.form {
            Form::Input | Form::Raw => Vec::new(),
            _ => pool.iter().map(recognize::reciprocals).filter(|r| !pool.contains(r)).collect(),
        };
        // And sums collected around a factor their terms share (`s*(1 - b*y)`, and
        // `csc(x)*(1 - x*cot(x))` of the respelled ones), and roots in whole numbers
        // (`1/sqrt(9 - x^2)`, `1/(abs(x)*sqrt(x^2 - 1))`), of those too.
        let mut collected: Vec<Expr> = pool.iter().chain(&respelled).flat_map(collect::around_common_factors).collect();
        // And `c*u + c*abs(u)` as `2*c*relu(u)`.
        collected.extend(pool.iter().flat_map(collect::as_relus));
        let rooted: Vec<Expr> = pool.iter().chain(&collected).filter_map(roots::respelled).collect();
        // And, for the whole expression, a minus taken into a sum (`(x*cos(x) - sin(x))/x^2`).
        let signs: Vec<Expr> = match e.id() == self.root {
            true => pool.iter().chain(&collected).map(|c| sign_into_a_sum(c, &|f| self.inline(f))).collect(),
            false => Vec::new(),
        };
        // (Those rewritten in another way also where they cost the same as the best and
        // are more factored, as ties in the pool are settled: `s*(1 + x*(1 - s))`, not
        // `s*(1 + x - x*s)`.)
        let rewritten: Vec<Expr> = collected
            .into_iter()
            .chain(rooted)
            .chain(signs)
            .filter(|r| !pool.contains(r) && !respelled.contains(r))
            .collect();
        let ranked = self.ranked(e, pool);
        let best = self.validated(e, ranked, &logs);
        let best = match best {
            Some(c) if !respelled.is_empty() || !rewritten.is_empty() => {
                let cheap = cheap_calls(e);
                let limit = cost::cost(&c, &cheap);
                let occurrences = variable_occurrences(&c);
                let better = |r: &Expr| match cost::cost(r, &cheap).cmp(&limit) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => variable_occurrences(r) < occurrences,
                    std::cmp::Ordering::Greater => false,
                };
                let cheaper: Vec<Expr> = respelled
                    .into_iter()
                    .filter(|r| cost::cost(r, &cheap) < limit)
                    .chain(rewritten.into_iter().filter(better))
                    .collect();
                let ranked = self.ranked(e, cheaper);
                Some(self.validated(e, ranked, &logs).unwrap_or(c))
            }
            other => other,
        };
        // And, where the kinks turn on one variable, the input by cases: taken where
        // strictly cheaper. (Exact by construction, each branch the input decided on its
        // interval; the proof cannot see into an `if`, so it is checked numerically.)
        let best = match best {
            Some(c) if self.form != Form::Input => {
                let cases = cases::by_cases(e, |f| simplify_parts(f, self.names, self.form).0, |f| self.inline(f));
                let cheaper = |k: &Expr| {
                    let cheap = cheap_calls(e);
                    cost::cost(k, &cheap) < cost::cost(&c, &cheap)
                };
                match cases {
                    Some(k) if cheaper(&k) && agrees(&k, e, &self.bodies) => Some(k),
                    _ => Some(c),
                }
            }
            other => other,
        };
        match best {
            Some(c) => {
                let why = explanations.remove(&c).unwrap_or_default();
                (c, why)
            }
            None => (e.clone(), Vec::new()),
        }
    }

    /// The views `e` is looked at in: the opaque one, and the full one too where it
    /// differs (a sum is kept whole) and the part is small enough to look into every sum.
    fn views(&self, e: &Expr) -> Vec<View> {
        let mut views = vec![View::Opaque];
        if has_big_sum(e) && count_atoms(e, CFG.full_atoms + 1, View::Full) <= CFG.full_atoms {
            views.push(View::Full);
        }
        views
    }

    /// The forms `e` may take, with the substitutions behind each form in the names, in
    /// the order they were found; `e` itself among them. None larger than
    /// [`Config::largest_form`] of `e`. `logs` as for [`Ctx::search`].
    fn candidates(&self, e: &Expr, logs: Option<Vec<Expr>>) -> Candidates {
        let views = self.views(e);
        let largest = CFG.largest_form(e.tree_size());
        let input_forms = self.input_forms(e, &views, largest);
        let (output_forms, explanations) =
            if self.form == Form::Input { Default::default() } else { self.output_forms(e, &views) };
        let name_syms: HashSet<&Sym> = self.bodies.keys().collect();
        let uses_names = |c: &Expr| c.free_vars().iter().any(|v| name_syms.contains(v));
        // Logarithmic derivatives (`3/x - tan(x) - 1/(x + 2)`, `y*(1/(3*x) + 5/(1 + x))`):
        // those written in a name are forms in the names.
        let (mut input_forms, mut output_forms) = (input_forms, output_forms);
        let logs = logs.unwrap_or_else(|| self.log_forms(e, largest));
        let log_set: HashSet<Expr> = logs.iter().cloned().collect();
        for c in logs {
            if !uses_names(&c) {
                input_forms.push(c);
            } else if self.form != Form::Input {
                output_forms.push(c);
            }
        }
        let mut pool: Vec<Expr> = match self.form {
            Form::Input | Form::Raw => input_forms,
            Form::Auto => input_forms.into_iter().chain(output_forms).collect(),
            Form::Output => {
                let named: Vec<Expr> = output_forms.iter().filter(|c| uses_names(c)).cloned().collect();
                if named.is_empty() || uses_names(e) {
                    input_forms.into_iter().chain(output_forms).filter(|c| uses_names(c) || !uses_names(e)).collect()
                } else {
                    named.into_iter().chain(input_forms).collect()
                }
            }
        };
        // (Nor are the other such forms; costing them would take long.)
        pool.retain(|c| c.tree_size() <= largest);
        if !pool.contains(e) {
            pool.push(e.clone());
        }
        Candidates { pool, explanations, logs: log_set }
    }

    /// The forms of `e` as logarithmic derivatives by the variable of differentiation
    /// ([`logs::log_forms`]), where `e` depends on it.
    fn log_forms(&self, e: &Expr, largest: u64) -> Vec<Expr> {
        let Some(x) =
            self.names.wrt.as_ref().filter(|_| matches!(self.wrt.as_ref().map(Expr::node), Some(Node::Var(_))))
        else {
            return Vec::new();
        };
        let inlined = self.inline(e);
        if !inlined.free_vars().contains(x) {
            return Vec::new();
        }
        let defs: Vec<(Sym, Expr)> = self.relevant(e);
        logs::log_forms(&inlined, x, &defs, largest)
    }

    /// The forms of `e` in the inputs: as it is, and as one reduced rational function of
    /// its atoms in each view, with the names as atoms and with them inlined.
    fn input_forms(&self, e: &Expr, views: &[View], largest: u64) -> Vec<Expr> {
        let mut forms = vec![e.clone()];
        let inlined = self.inline(e);
        for &v in views {
            // Collected as it stands (names as atoms: `q*(1 - t) - t*(1 - q)` is `q - t`),
            // and with the names inlined.
            if inlined != *e {
                forms.extend(normalized(e, v, largest));
            }
            // With the names inlined, unless that makes the part far larger (a network's
            // activations inlined into a product of its weights): the elimination below
            // works from the named form anyway.
            if inlined.tree_size() <= CFG.largest_inlined(e.tree_size()) {
                forms.extend(normalized(&inlined, v, largest));
                forms.extend(normalized(&kernel::expand(&inlined), v, largest));
            }
        }
        forms
    }

    /// The forms of `e` in terms of the names (relations solved for atoms and
    /// substituted, [`eliminate`]), with the substitutions behind each.
    fn output_forms(&self, e: &Expr, views: &[View]) -> (Vec<Expr>, Explanations) {
        let mut output_forms: Vec<Expr> = Vec::new();
        let mut explanations = Explanations::new();
        let relevant = self.relevant(e);
        // Built-in outputs are looked for with the names' bodies already read as names,
        // so that tanh(sum(j, x[j]*w[j,k])) offers tanh(z[k]).
        let implicit = implicit_names(e, &relevant);
        // The variables the names can take away: a form without any is complete.
        let eliminable: HashSet<Sym> = relevant.iter().flat_map(|(_, b)| visible_vars(b)).collect();
        let complete = |c: &Expr| !c.free_vars().iter().any(|v| eliminable.contains(v));
        let mut try_set = |set: &[(Sym, Expr)], v: View, solve: Solve, out: &mut Vec<Expr>| -> bool {
            if set.is_empty() {
                return false;
            }
            // Names already in `e` stay names; the relations are solved for atoms.
            let got = eliminate(e, set, self.wrt.as_ref(), v, solve);
            let Some((r, subs)) = got else { return false };
            let r = restore_implicit(&r, &implicit);
            let r = self.named(&self.recognize_names(&r, &relevant));
            let subs = subs.iter().map(|(a, x)| (restore_implicit(a, &implicit), restore_implicit(x, &implicit)));
            explanations.entry(r.clone()).or_insert_with(|| subs.collect());
            let done = complete(&r) && !relevant.is_empty();
            out.push(r);
            done
        };
        for &v in views {
            // The full view only where the opaque one gave no complete form.
            if v == View::Full && output_forms.iter().any(&complete) && !relevant.is_empty() {
                break;
            }
            let complete_found = try_set(&relevant, v, Solve::KernelsFirst, &mut output_forms);
            // And the first name solved for the variable where it could be solved for a
            // kernel too: `y = x*e^-x` as `x = y*e^x` writes `e^-x*(1 - x)` as `e^-x - y`.
            try_set(&relevant, v, Solve::BesideKernel, &mut output_forms);
            // The first name solved takes its kernel: let each of the first names go
            // first in turn, so that the ELU's `y` is not pre-empted by an earlier
            // softplus of the same input.
            for i in 1..relevant.len().min(CFG.first_names) {
                let mut order = relevant.clone();
                let first = order.remove(i);
                order.insert(0, first);
                try_set(&order, v, Solve::KernelsFirst, &mut output_forms);
            }
            // With a complete form in several names (a softmax entry in p1 and p2),
            // built-in outputs of the same arguments would only spell it again, at a
            // cost that grows with the names; with one name they are its rivals
            // (`sigmoid(x)` against `1 - e^-y` for the softplus `y`).
            if complete_found && relevant.len() > 1 {
                continue;
            }
            // Built-in outputs of the part's own arguments (`tanh(x)` for sinh(x)/cosh(x)).
            for imp in &implicit {
                let mut set = relevant.clone();
                set.push(imp.clone());
                try_set(&set, v, Solve::KernelsFirst, &mut output_forms);
            }
            if implicit.len() > 1 {
                let set: Vec<(Sym, Expr)> = relevant.iter().chain(&implicit).cloned().collect();
                try_set(&set, v, Solve::KernelsFirst, &mut output_forms);
            }
        }
        (output_forms, explanations)
    }

    /// The candidates of `e`, cheapest first ([`ranked_by`]).
    fn ranked(&self, e: &Expr, pool: Vec<Expr>) -> Vec<Expr> {
        // Built-in outputs of the part's own arguments (`tanh(x)`) cost what a name does.
        ranked_by(pool, &cheap_calls(e), &self.bodies, Some(e))
    }

    /// The first of `ranked` that is `e` itself, or is proved equal to `e` and agrees
    /// with it numerically.
    /// (A logarithmic derivative among `logs` may divide by a linear factor of the
    /// input: see [`agrees_where`].)
    fn validated(&self, e: &Expr, ranked: Vec<Expr>, logs: &HashSet<Expr>) -> Option<Expr> {
        ranked
            .into_iter()
            .find(|c| c == e || (self.proved(c, e) && agrees_where(c, e, &self.bodies, !logs.contains(c))))
    }

    /// `e` with every name replaced by its inlined body.
    fn inline(&self, e: &Expr) -> Expr {
        let mut memo = self.inline_memo.borrow_mut();
        if memo.len() > CFG.named_memo {
            memo.clear();
        }
        expr::substitute_all_memo(e, &self.bodies, &mut memo)
    }

    /// The names whose bodies bear on `e`: those it uses, and those whose bodies show a
    /// variable `e` shows (outside opaque sums), in definition order.
    ///
    /// A part that is a polynomial in symbols (`h1*x1*(1 - h1)*(y1 - t1)`) has no kernel
    /// or call that a transcendental name could be solved for: only names that are
    /// polynomials themselves (a fact `t1 + t2 + t3 = 1`, a pre-activation) bear on it.
    fn relevant(&self, e: &Expr) -> Vec<(Sym, Expr)> {
        let seen = visible_vars(e);
        let sums = opaque_sums(e);
        let polynomial = polynomial_in_variables(e);
        self.names
            .defs
            .iter()
            .zip(&self.visible)
            // A body that shows no variable (`ln(e^a + e^b + e^c)`) bears on what holds
            // one of its sums. (Bodies that show variables are not searched for that
            // too: a softmax's outputs all hold its denominator, and every part of a
            // Hessian holding it would be searched in all of them.)
            .filter(|((n, _), (vis, vis_sums, _))| {
                seen.contains(n)
                    || vis.iter().any(|v| seen.contains(v))
                    || (vis.is_empty() && vis_sums.iter().any(|s| sums.contains(s)))
            })
            .filter(|(_, (_, _, polynomial_body))| !polynomial || *polynomial_body)
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Whether `c` equals `e` exactly: with the names inlined, their difference is zero as
    /// a rational function of kernels, in the opaque view or (failing that) the full one.
    fn proved(&self, c: &Expr, e: &Expr) -> bool {
        proved_equal(&self.inline(c), &self.inline(e))
    }

    /// Replaces sums inside `e` that equal a name by that name: with softmax outputs,
    /// `1 - p1` is `p2` when there are two, `1 - p1 - p2` is `p3` when there are three.
    fn recognize_names(&self, e: &Expr, defs: &[(Sym, Expr)]) -> Expr {
        let mut memo: IdMap<Expr> = IdMap::default();
        self.recognize_rec(e, defs, &mut memo)
    }

    fn recognize_rec(&self, e: &Expr, defs: &[(Sym, Expr)], memo: &mut IdMap<Expr>) -> Expr {
        if let Some(r) = memo.get(&e.id()) {
            return r.clone();
        }
        let r = match e.node() {
            Node::Add(_) if e.free_vars().iter().any(|v| self.bodies.contains_key(v)) => {
                let inlined = self.inline(e);
                let hit = defs.iter().map(|(n, _)| Expr::sym(n.clone())).find(|n| {
                    let b = self.inline(n);
                    agrees(&b, &inlined, &self.bodies) && proved_equal(&b, &inlined)
                });
                hit.unwrap_or_else(|| e.clone())
            }
            Node::Mul(fs) => Expr::mul(fs.iter().map(|f| self.recognize_rec(f, defs, memo)).collect::<Vec<_>>()),
            Node::Pow(b, x) => Expr::pow(self.recognize_rec(b, defs, memo), x.clone()),
            _ => e.clone(),
        };
        memo.insert(e.id(), r.clone());
        r
    }
}

/// `pool` cheapest first ([`Rank`]): by cost with `cheap` calls as cheap as names, and
/// where that ties by the later fields of [`Rank`] in turn (finite far out, with names
/// valued by `bodies`; in the names; fewer occurrences; `given` itself; shorter
/// printed); in the order given, where all tie.
fn ranked_by(
    mut pool: Vec<Expr>,
    cheap: &HashSet<Expr>,
    bodies: &HashMap<Sym, Expr>,
    given: Option<&Expr>,
) -> Vec<Expr> {
    pool.dedup();
    let mut keyed: Vec<(Rank, Expr)> =
        pool.into_iter().map(|c| (Rank { cost: cost::cost(&c, cheap), ..Rank::default() }, c)).collect();
    // Each later field is worked out only where the fields before it tie: finiteness,
    // then names, then occurrences, then whether it is the expression as given, then
    // the printed length (printing every form would cost more than the rest of the
    // ranking; forms are at most `largest_form` nodes, so printing one is cheap).
    where_tied(&mut keyed, |r, c| r.infinite_far_out = !finite_far_out(c, bodies));
    if !bodies.is_empty() {
        where_tied(&mut keyed, |r, c| r.unnamed = !c.free_vars().iter().any(|v| bodies.contains_key(v)));
    }
    where_tied(&mut keyed, |r, c| r.occurrences = variable_occurrences(c));
    if let Some(given) = given {
        where_tied(&mut keyed, |r, c| r.rewritten = given != c);
    }
    where_tied(&mut keyed, |r, c| r.printed_len = c.to_string().len());
    keyed.sort_by_key(|(r, _)| *r);
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Runs `fill` on each form whose rank so far ties with another's.
fn where_tied(keyed: &mut [(Rank, Expr)], mut fill: impl FnMut(&mut Rank, &Expr)) {
    // (The ranks sorted: a rank ties where a neighbour equals it.)
    let mut ranks: Vec<Rank> = keyed.iter().map(|(r, _)| *r).collect();
    ranks.sort_unstable();
    let tied = |r: &Rank| {
        let at = ranks.partition_point(|x| x < r);
        ranks.get(at + 1) == Some(r)
    };
    for (r, c) in keyed.iter_mut() {
        if tied(r) {
            fill(r, c);
        }
    }
}

/// How many times variables occur in `e` written out as a tree (a shared node counts
/// at each of its places).
fn variable_occurrences(e: &Expr) -> u64 {
    let mut memo: IdMap<u64> = IdMap::default();
    fn count(e: &Expr, memo: &mut IdMap<u64>) -> u64 {
        if let Some(&n) = memo.get(&e.id()) {
            return n;
        }
        let n = match e.node() {
            Node::Var(_) => 1,
            _ => e.children().iter().map(|c| count(c, memo)).fold(0u64, u64::saturating_add),
        };
        memo.insert(e.id(), n);
        n
    }
    limits::deep(|| count(e, &mut memo))
}

/// `u` where `e` is positive exactly where `u` is, and zero elsewhere: `relu(u)`,
/// `max(0, u)`, either times a positive number.
fn ramp_argument(e: &Expr) -> Option<&Expr> {
    match e.node() {
        Node::Call(Func::Builtin(Builtin::Relu), u) => Some(&u[0]),
        Node::Call(Func::Max, xs) => match xs.as_slice() {
            [a, u] | [u, a] if a.is_zero() => Some(u),
            _ => None,
        },
        Node::Mul(fs) => match fs.as_slice() {
            [c, r] if c.as_num().is_some_and(num_traits::Signed::is_positive) => ramp_argument(r),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `a` and `b` (in the inputs, no names) are equal exactly: their difference,
/// with hyperbolic and logistic functions expanded, is zero as a rational function of
/// kernels (with `cos^2 = 1 - sin^2`), or, failing that, with its roots written in whole
/// numbers (`roots::canonical`) and reduced by the relations of its atoms
/// (`kernel::reduced`: a root to its degree is its base, `abs(u)^2` is `u^2`). Each
/// view is sound: an identity of rational functions in atoms holds whatever the atoms
/// stand for, and the relations hold wherever the atoms are defined. So a `true` is a
/// proof; a `false` only means no proof was found.
pub fn proved_equal(a: &Expr, b: &Expr) -> bool {
    if a == b {
        return true;
    }
    let d = Expr::minus(kernel::expand(a), kernel::expand(b));
    if d.is_zero() {
        return true;
    }
    // By value at random points first: zero there is a proof (but for a chance below
    // 1e-30), and nonzero settles it wherever the view knows no relation the values do
    // not (roots, `abs`).
    match modular::is_zero(&d) {
        Some(true) => return true,
        Some(false) if !roots::has_roots(&d) => return false,
        _ => {}
    }
    // The full view costs exponentially in its atoms: only for few.
    let views: &[View] = if count_atoms(&d, CFG.full_atoms + 1, View::Full) <= CFG.full_atoms {
        &[View::Opaque, View::Full]
    } else {
        &[View::Opaque]
    };
    let zero = |d: &Expr, relations: bool| {
        views.iter().any(|&v| {
            let mut k = Kernels::scan_view(std::slice::from_ref(d), v);
            k.rat_of(d).is_some_and(|r| match relations {
                false => kernel::pythagorean(&r, &k).is_zero(),
                true => kernel::reduced(&r, &mut k).is_zero(),
            })
        })
    };
    // Failing that, with the roots in whole numbers and what a root to its degree is.
    zero(&d, false) || (roots::has_roots(&d) && zero(&roots::canonical(&d), true))
}

/// The variables `e` shows outside sums that [`View::Opaque`] keeps whole, and the
/// names of indexed variables.
fn visible_vars(e: &Expr) -> HashSet<Sym> {
    let mut out = HashSet::default();
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        _ if !x.has_vars() => Walk::Skip,
        Node::Var(s) => {
            out.insert(s.clone());
            Walk::Skip
        }
        Node::Call(Func::Indexed(s), _) => {
            out.insert(s.clone());
            Walk::Descend
        }
        _ if x.id() != e.id() && is_big_sum(x) => Walk::Skip,
        _ => Walk::Descend,
    });
    out
}

/// The sums below the top of `e` that [`View::Opaque`] keeps whole and
/// [`visible_vars`] does not look into: a name whose body holds one
/// (`L = ln(e^a + e^b + e^c)`) bears on an expression that holds it too, though no
/// variable of either shows.
fn opaque_sums(e: &Expr) -> HashSet<Expr> {
    let mut out = HashSet::default();
    expr::walk(std::slice::from_ref(e), |x| {
        if x.id() != e.id() && is_big_sum(x) {
            out.insert(x.clone());
            return Walk::Skip;
        }
        Walk::Descend
    });
    out
}

/// Whether `e` is a polynomial in variables alone (no calls, no exponentials).
fn polynomial_in_variables(e: &Expr) -> bool {
    // (A walk that stops at the first call: a layer's entry holds a call near its top.)
    let stopped = expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(..) => Walk::Stop,
        Node::Pow(_, p) if !p.as_num().is_some_and(|r| r.is_integer() && num_traits::Signed::is_positive(r)) => {
            Walk::Stop
        }
        _ => Walk::Descend,
    });
    !stopped
}

/// Whether `v` occurs in `e` where a rational function of `e`'s atoms would show it: not
/// only inside a call's arguments or an exponent (`x` in `tanh(x*w)` or `e^(x*w)` is
/// part of an atom), but as a term, a factor or the base of a power (`x^(1/2)` shares
/// its base with `x`).
fn polynomial_in(e: &Expr, v: &Sym) -> bool {
    let mut found = false;
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        _ if found || !x.may_contain(v) => Walk::Skip,
        Node::Var(s) => {
            found = s == v;
            Walk::Skip
        }
        Node::Call(..) => Walk::Skip,
        Node::Pow(b, _) => {
            found = polynomial_in(b, v);
            Walk::Skip
        }
        _ => Walk::Descend,
    });
    found
}

/// Whether [`View::Opaque`] keeps a sum of `e` whole (then the full view differs).
fn has_big_sum(e: &Expr) -> bool {
    !kernel::opaque_parts(std::slice::from_ref(e)).is_empty()
}

use kernel::big_sum as is_big_sum;

/// The distinct atoms of `e` in `view` (variables and calls; in the opaque view also the
/// sums below the top and the exponentials of sums it may keep whole), counted up to
/// `stop`.
fn count_atoms(e: &Expr, stop: usize, view: View) -> usize {
    // Each node is visited once, so each atom is counted once.
    let mut atoms = 0;
    let opaque = view == View::Opaque;
    expr::walk(std::slice::from_ref(e), |x| {
        if atoms >= stop {
            return Walk::Stop;
        }
        let whole = match x.node() {
            Node::Var(_) => true,
            Node::Call(..) => x.as_exp().is_none() || (opaque && x.as_exp().is_some_and(is_big_sum)),
            _ => opaque && is_big_sum(x) && x.id() != e.id(),
        };
        if whole {
            atoms += 1;
            Walk::Skip
        } else {
            Walk::Descend
        }
    });
    atoms
}

/// Numerically, at random points: does `candidate` equal `e`? Names are evaluated
/// first and their values used, so the candidate is judged as it is written: a form
/// that is undefined where the input is defined (`y*(1 + x - y)/x` at x = 0 for the
/// SiLU) is rejected, even though `y/x` cancels once `y` is inlined. This is the second
/// line of defence: every form is first proved equal ([`proved_equal`]).
fn agrees(candidate: &Expr, e: &Expr, all_bodies: &HashMap<Sym, Expr>) -> bool {
    agrees_where(candidate, e, all_bodies, true)
}

/// [`agrees`], checking the roots of linear denominators only where `linear_roots`: a
/// logarithmic derivative `y*(2/(1 + x) + 1)` of `y = (1 + x)^2*e^x` is the textbook
/// form, undefined where a factor of `y` is zero as it is written.
fn agrees_where(candidate: &Expr, e: &Expr, all_bodies: &HashMap<Sym, Expr>, linear_roots: bool) -> bool {
    // A name's value depends on its body: all the bodies are part of a point's key (the
    // same for every entry of a Jacobian, so their shared pieces are evaluated once).
    // (Combined in any order: nothing is sorted per comparison or per point.)
    let named = all_bodies.iter().fold(0u64, |h, (n, b)| h.wrapping_add(point_hash(n, b.id())));
    let bodies = &used_bodies(&[candidate, e], all_bodies);
    let vars = inlined_vars(&[candidate, e], bodies);
    let model = Model::new(CFG.model_seed);
    let mut indices = expr::index_vars(e);
    indices.extend(expr::index_vars(candidate));
    // The points depend only on the variables, so many comparisons (the entries of a
    // Jacobian) evaluate the same shared pieces at the same points: their values are
    // remembered per point.
    // Also says whether every name is defined (finite) at the point.
    let values = |env: &eval::Env| -> (bool, Option<(eval::Mag, eval::Mag)>) {
        let key = env.iter().fold(named, |h, (k, v)| h.wrapping_add(point_hash(k, v.to_bits()).rotate_left(1)));
        POINT_MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() > CFG.point_memo {
                m.clear();
            }
            let (plain, mags) = m.entry(key).or_default();
            let mut env = env.clone();
            let mut names_defined = true;
            for (n, b) in bodies {
                match eval::eval_with_memo(b, &env, Some(&model), plain) {
                    Ok(v) => {
                        names_defined &= v.is_finite();
                        env.insert(n.clone(), v);
                    }
                    Err(_) => names_defined = false,
                }
            }
            let menv: HashMap<Sym, eval::Mag> = env.iter().map(|(k, &v)| (k.clone(), eval::Mag::exact(v))).collect();
            let pair = (|| {
                Some((
                    eval::eval_with_memo(candidate, &menv, Some(&model), mags).ok()?,
                    eval::eval_with_memo(e, &menv, Some(&model), mags).ok()?,
                ))
            })();
            (names_defined, pair)
        })
    };
    // Points at the input's own scales (its shifts and kinks, and far out) as well as
    // near zero; the error is measured against the size of the candidate's terms.
    let scales = check::Scales::of(&[e, &inline_names(candidate, bodies)]);
    let mut rng = check::Rng::new(CFG.sample_seed);
    let mut compared = 0;
    for _ in 0..CFG.sample_tries {
        if compared == CFG.sample_points {
            break;
        }
        let mut env = scales.point(&vars, &mut rng);
        for i in &indices {
            env.insert(i.clone(), (1 + rng.next_u64() % eval::DEFAULT_RANGE as u64) as f64);
        }
        let (_, Some((a, b))) = values(&env) else { continue };
        if !(a.v.is_finite() && a.m.is_finite() && b.v.is_finite() && b.m.is_finite()) || b.v.abs() > CFG.max_value {
            continue;
        }
        // Either side may lose digits to cancellation far out (1 - p where p is
        // almost 1): the error is measured against the larger of their magnitudes.
        let b_v = if a.m >= b.m { b.v } else { a.v };
        let wider = if a.m >= b.m { a } else { b };
        if check::rounding_aware_error(wider, b_v) > CFG.tolerance {
            return false;
        }
        compared += 1;
    }
    if compared < CFG.min_points && !vars.is_empty() {
        return false;
    }
    // A form may not be undefined where the input is defined: at the origin, and with
    // each variable the candidate uses directly at zero (one it reaches only through
    // names changes nothing but the names' values, which both sides share).
    // (Only a variable the candidate may be undefined at can make it so by being zero:
    // a network's gradient entry uses a hundred variables, none of them under a pole.)
    // And where a denominator linear in one variable is zero (`1/(1 + x)` at x = -1).
    let direct = singular_vars(candidate);
    let zeroed = std::iter::once(None)
        .chain(vars.iter().filter(|v| direct.contains(*v)).map(|v| Some((v.clone(), 0.0))))
        .chain(linear_poles(candidate).into_iter().filter(|(v, _)| linear_roots && vars.contains(v)).map(Some));
    for zero in zeroed {
        let mut env = check::random_point(&vars, &mut rng);
        match zero {
            Some((v, at)) => {
                env.insert(v, at);
            }
            None => env.values_mut().for_each(|x| *x = 0.0),
        }
        // Points where a name itself is undefined say nothing about the form.
        let (names_defined, pair) = values(&env);
        let (a, b) = pair.map_or((f64::NAN, f64::NAN), |(a, b)| (a.v, b.v));
        if names_defined && b.is_finite() && !a.is_finite() {
            return false;
        }
    }
    true
}

/// Where the denominators of `e` as written that are linear in one variable vanish:
/// `(x, -1)` for `1/(1 + x)`, `(t, 2.5)` for `(2*t - 5)^(-1/2)` (a canonical sum of a
/// number and a multiple of a variable; a bare variable is the zero already tried).
fn linear_poles(e: &Expr) -> Vec<(Sym, f64)> {
    let root = |n: &Expr| {
        let Node::Pow(b, p) = n.node() else { return None };
        let Node::Add(ts) = b.node() else { return None };
        let ([c0, t], true) = (ts.as_slice(), p.as_num().is_some_and(num_traits::Signed::is_negative)) else {
            return None;
        };
        let (c1, rest) = t.coeff_rest();
        let (Some(c0), Node::Var(x)) = (c0.as_num(), rest.node()) else { return None };
        Some((x.clone(), crate::number::to_f64(&(-c0 / c1))))
    };
    let mut out: Vec<(Sym, f64)> = Vec::new();
    expr::walk(std::slice::from_ref(e), |n| {
        if let Some(r) = root(n).filter(|r| !out.contains(r)) {
            out.push(r);
        }
        Walk::Descend
    });
    out
}

/// The variables at which `e` may be undefined, as it is written: those in the base or
/// exponent of a power other than a non-negative integer one, or in the argument of a
/// function not defined everywhere (`ln`, `tan`, `asin`, an abstract function). With any
/// other variable at any value, `e` is defined wherever the rest of it is.
fn singular_vars(e: &Expr) -> HashSet<Sym> {
    let mut out = HashSet::default();
    expr::walk(std::slice::from_ref(e), |n| {
        let under_pole = match n.node() {
            Node::Pow(_, p) => !p.as_num().is_some_and(|r| r.is_integer() && !num_traits::Signed::is_negative(r)),
            Node::Call(Func::Builtin(f), _) => !f.is_total(),
            Node::Call(Func::Abstract(_), _) => true,
            _ => false,
        };
        if !under_pole {
            return Walk::Descend;
        }
        out.extend(n.free_vars());
        Walk::Skip
    });
    out
}

/// One entry of a point memo's key: a name and a value (a number's bits, a body's id).
fn point_hash(name: &Sym, value: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    value.hash(&mut h);
    h.finish()
}

/// Whether `c` (names evaluated as values) is finite with every variable at
/// [`Config::far_out`] and at minus that.
fn finite_far_out(c: &Expr, bodies: &HashMap<Sym, Expr>) -> bool {
    let bodies = &used_bodies(&[c], bodies);
    let mut vars = inline_names(c, bodies).free_vars();
    vars.retain(|v| !bodies.contains_key(v));
    let model = Model::new(CFG.model_seed);
    [CFG.far_out, -CFG.far_out].iter().all(|&at| {
        let mut env: eval::Env = vars.iter().map(|v| (v.clone(), at)).collect();
        for (n, b) in bodies {
            let v = eval::eval_with(b, &env, Some(&model)).unwrap_or(f64::NAN);
            env.insert(n.clone(), v);
        }
        eval::eval_with(c, &env, Some(&model)).is_ok_and(f64::is_finite)
    })
}

/// The bodies of the names that `exprs` use (bodies are inlined: they use no names).
fn used_bodies(exprs: &[&Expr], bodies: &HashMap<Sym, Expr>) -> HashMap<Sym, Expr> {
    let mut out = HashMap::new();
    for e in exprs {
        for v in e.free_vars() {
            if let Some(b) = bodies.get(&v) {
                out.insert(v, b.clone());
            }
        }
    }
    out
}

/// The variables of `exprs` with the names of `bodies` inlined, sorted (a body's are
/// remembered by its id: a Jacobian's entries share their names' bodies).
fn inlined_vars(exprs: &[&Expr], bodies: &HashMap<Sym, Expr>) -> Vec<Sym> {
    let mut vars = std::collections::BTreeSet::new();
    for e in exprs {
        for v in e.free_vars() {
            let Some(b) = bodies.get(&v) else {
                vars.insert(v);
                continue;
            };
            let of_body = BODY_VARS.with(|m| {
                let mut m = m.borrow_mut();
                if m.len() > CFG.body_vars_memo {
                    m.clear();
                }
                m.entry(b.id()).or_insert_with(|| b.free_vars().into()).clone()
            });
            vars.extend(of_body.iter().cloned());
        }
    }
    vars.into_iter().collect()
}

fn inline_names(e: &Expr, bodies: &HashMap<Sym, Expr>) -> Expr {
    expr::substitute_all(e, bodies)
}

/// The input as one reduced rational function of its atoms in `view`, factored.
/// A product whose factors fall into groups with no variable in common is normalized
/// group by group: nothing cancels or factors across groups (their atoms differ), so
/// the product of the groups' normal forms is the normal form, without expanding the
/// whole product and factoring it back (a network's `h*x*(1 - h)*(v1*y1*... + ...)`).
/// A group's normal form is remembered (a network's gradient has the same backpropagated
/// sum in many components): a group's atoms, and so its kernel view, are its own.
/// `None` where the form would be larger than `max_size` nodes (about): it is not built
/// (a search has no use for a form far larger than its part).
fn normalized(e: &Expr, view: View, max_size: u64) -> Option<Expr> {
    let groups = independent_factors(e);
    if groups.len() > 1 {
        let parts = groups.into_iter().map(|g| normalized_memo(&Expr::mul(g), view, max_size));
        return parts.collect::<Option<Vec<Expr>>>().map(Expr::mul);
    }
    normalized_whole(e, view, max_size)
}

/// [`normalized`] without looking for independent factors: one rational function.
fn normalized_whole(e: &Expr, view: View, max_size: u64) -> Option<Expr> {
    let mut k = Kernels::scan_view(std::slice::from_ref(e), view);
    let r = k.rat_of(e)?;
    let plain = kernel::pythagorean(&r, &k);
    // And with the roots to their degrees (and `abs(u)^2`) worked out, where that is
    // cheaper: `sqrt(1 + sin(x)^2)^2` beside `cos(x)^2` is 2, but `(1 + abs(x))^2`
    // is better left whole.
    let reduced = kernel::reduced(&r, &mut k);
    let plain_form = rat_expr_within(&plain, &k, max_size);
    if reduced == plain {
        return plain_form;
    }
    let none = HashSet::default();
    match (plain_form, rat_expr_within(&reduced, &k, max_size)) {
        (Some(p), Some(r)) if cost::cost(&r, &none) < cost::cost(&p, &none) => Some(r),
        (None, r) => r,
        (p, _) => p,
    }
}

/// [`normalized`], remembered; a hit is charged the work the miss spent.
fn normalized_memo(e: &Expr, view: View, max_size: u64) -> Option<Expr> {
    let key = (e.id(), view, max_size);
    if let Some(r) = NORMALIZED.with(|m| limits::recall(m.borrow().get(&key))) {
        return r;
    }
    let (r, cost) = limits::metered(|| normalized(e, view, max_size));
    NORMALIZED.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > CFG.normalized_memo {
            m.clear();
        }
        m.insert(key, (r.clone(), cost));
    });
    r
}

/// The factors of a product grouped so that factors sharing a variable (or a name) are
/// in one group; factors without any are one group. A single group for anything else.
fn independent_factors(e: &Expr) -> Vec<Vec<Expr>> {
    let Node::Mul(fs) = e.node() else { return vec![vec![e.clone()]] };
    // Union-find over the factors, joined through the symbols they use.
    let mut parent: Vec<usize> = (0..=fs.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let constants = fs.len();
    let mut owner: HashMap<Sym, usize> = HashMap::new();
    for (i, f) in fs.iter().enumerate() {
        let vars = f.free_vars();
        if vars.is_empty() {
            let (a, b) = (root(&mut parent, i), root(&mut parent, constants));
            parent[a] = b;
        }
        for v in vars {
            let j = *owner.entry(v).or_insert(i);
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut groups: Vec<(usize, Vec<Expr>)> = Vec::new();
    for (i, f) in fs.iter().enumerate() {
        let r = root(&mut parent, i);
        match groups.iter_mut().find(|(g, _)| *g == r) {
            Some((_, g)) => g.push(f.clone()),
            None => groups.push((r, vec![f.clone()])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// A rational function of atoms as an expression: factored, or, over a monomial
/// denominator, term by term (`1 - e^-y` rather than `(e^y - 1)/e^y`), whichever is
/// cheaper.
fn rat_expr(r: &Rat, k: &Kernels) -> Expr {
    rat_expr_within(r, k, u64::MAX).expect("no form is larger than u64::MAX nodes")
}

/// [`rat_expr`], or `None` when it would be larger than `max_size` nodes (about).
fn rat_expr_within(r: &Rat, k: &Kernels, max_size: u64) -> Option<Expr> {
    let (cn, n) = factor::factored_parts_within(&r.num, k, max_size)?;
    let (cd, d) = factor::factored_parts_within(&r.den, k, max_size)?;
    let c = if num_traits::One::is_one(&cd) { cn } else { cn / cd };
    let factored = Expr::mul([Expr::num(c), n, Expr::pow(d, Expr::int(-1))]);
    if r.den.len() != 1
        || r.den.as_constant().is_some()
        || r.num.len() < 2
        || factor::written_size(&r.num, k) > max_size
    {
        return Some(factored);
    }
    let den = factor::factored(&r.den, k);
    let split = Expr::add(
        r.num
            .terms()
            .map(|(m, c)| Expr::quotient(Expr::mul([Expr::num(c.clone()), k.monomial_expr(m)]), den.clone()))
            .collect::<Vec<_>>(),
    );
    let none = HashSet::default();
    Some(if cost::cost(&split, &none) < cost::cost(&factored, &none) { split } else { factored })
}

/// `e` with the minus of a negative product taken into one of its sums (to an odd power,
/// above or below the bar) where that is cheaper: `-(b - a*x)/x^2` is `(a*x - b)/x^2`, and
/// `-e^x*(1 - x)/x^2` is `e^x*(x - 1)/x^2`. A sum of negative terms only would give the
/// minus back (`-(1 + x)`), so it is never cheaper. The minus goes only into a sum that
/// is negative somewhere it is sampled (with the names written out by `inline`): one
/// positive throughout is what people write as it is (`-p*(1 - p)` for the sigmoid's `p`,
/// not `p*(p - 1)`; `-(1 - tanh(x)^2)`; `-p[j]*(delta(j, l) - p[l])`).
pub(crate) fn sign_into_a_sum(e: &Expr, inline: &dyn Fn(&Expr) -> Expr) -> Expr {
    let Node::Mul(fs) = e.node() else { return e.clone() };
    let Some(c) = e.leading_num().filter(|c| num_traits::Signed::is_negative(*c)) else { return e.clone() };
    // Only a sum with terms of both signs can take the minus: its negation leads with a
    // positive term too, so the form loses the minus and nothing else (one operation).
    let takes_the_minus = |f: &Expr| {
        let (b, k) = match f.node() {
            Node::Pow(b, k) => (b, k.as_num()?.clone()),
            _ => (f, crate::number::int(1)),
        };
        let Node::Add(ts) = b.node() else { return None };
        let mixed = ts.iter().any(crate::print::is_negative) && !ts.iter().all(crate::print::is_negative);
        let odd = k.is_integer() && num_integer::Integer::is_odd(k.numer());
        (mixed && odd && negative_somewhere(&inline(b))).then(|| (b.clone(), k))
    };
    let Some((i, (b, k))) = fs.iter().enumerate().find_map(|(i, f)| Some((i, takes_the_minus(f)?))) else {
        return e.clone();
    };
    let flipped = fs.iter().enumerate().map(|(j, f)| match () {
        _ if j == i => Expr::pow(Expr::negate(b.clone()), Expr::num(k.clone())),
        _ if f.as_num().is_some() => Expr::num(-c.clone()),
        _ => f.clone(),
    });
    Expr::mul(flipped.collect::<Vec<_>>())
}

/// Whether `e` is negative at one of the points the simplifier samples (both sides of
/// zero, [`check::random_point`]); never where it holds indices (`delta(j, l) - p[l]`),
/// which have no real values to sample.
fn negative_somewhere(e: &Expr) -> bool {
    let indexed =
        |x: &Expr| matches!(x.node(), Node::Call(Func::Delta | Func::Indexed(_) | Func::Sum(_) | Func::Prod(_), _));
    if expr::walk(std::slice::from_ref(e), |x| if indexed(x) { Walk::Stop } else { Walk::Descend }) {
        return false;
    }
    let vars = e.free_vars();
    let mut rng = check::Rng::new(CFG.sample_seed);
    (0..CFG.sample_points).any(|_| {
        let env = check::random_point(&vars, &mut rng);
        eval::eval_with::<f64>(e, &env, None).is_ok_and(|y| y < 0.0)
    })
}

/// The calls that cost what a name does in the forms of `e`: its built-in outputs
/// (`tanh(x)`), and its own calls of `sec`, `csc`, `cot`, `sech`, `csch`, `coth`, which
/// the forward pass computes as it computes `tan(x)`.
fn cheap_calls(e: &Expr) -> HashSet<Expr> {
    let mut cheap: HashSet<Expr> = implicit_names(e, &[]).into_iter().map(|(_, call)| call).collect();
    cheap.extend(recognize::own_reciprocal_calls(e));
    cheap
}

/// Built-in outputs the input's calls make available, each under a placeholder name:
/// the `output` column of a built-in's row (`tanh(u)` for `sinh(u)`, `sigmoid(u)` for
/// `softplus(u)`, `tan(u)` for `sec(u)`), and for an exponential `e^(c*t)` both
/// `sigmoid(|c|*t)` and `tanh(|c|*t/2)`.
fn implicit_names(e: &Expr, defs: &[(Sym, Expr)]) -> Vec<(Sym, Expr)> {
    let mut found: Vec<Expr> = Vec::new();
    let mut add = |c: Expr| {
        if !found.contains(&c) {
            found.push(c);
        }
    };
    let roots: Vec<Expr> = std::iter::once(e.clone()).chain(defs.iter().map(|(_, b)| b.clone())).collect();
    let in_sums = exponentials_in_sums(&roots);
    expr::walk(&roots, |x| {
        if let Node::Call(Func::Builtin(f), args) = x.node() {
            let u = &args[0];
            if let Some(output) = f.def().output {
                add(Expr::builtin(output, u.clone()));
            }
            if *f != Builtin::Exp {
                // Calls inside a call's arguments belong to the parts below (the
                // arguments are simplified on their own); an exponent's are kernels of
                // this part.
                return Walk::Skip;
            }
            // Only an exponential that is a term of a sum (`1 + e^-z`, `e^x - e^-x`), or a
            // factor of one, is where a sigmoid or a tanh can be: the Gaussian's lone
            // `e^(-x^2/2)` is neither, and `x/sigmoid(x^2/2)` is no form of it.
            if !u.is_one() && u.as_num().is_none() && in_sums.contains(x) {
                let (c, rest) = u.coeff_rest();
                let base = Expr::mul([Expr::num(num_traits::Signed::abs(&c)), rest]);
                add(Expr::builtin(Builtin::Sigmoid, base.clone()));
                add(Expr::builtin(Builtin::Tanh, Expr::quotient(base, Expr::int(2))));
            }
        }
        // Nor is a sum that the opaque view keeps whole looked into.
        if is_big_sum(x) && x.id() != e.id() {
            return Walk::Skip;
        }
        Walk::Descend
    });
    found.truncate(CFG.implicit_names);
    found.into_iter().enumerate().map(|(i, c)| (expr::hidden_name("", i), c)).collect()
}

/// The exponentials in `roots` that are terms of a sum, or factors of its terms.
fn exponentials_in_sums(roots: &[Expr]) -> HashSet<Expr> {
    let mut out = HashSet::default();
    for x in expr::post_order(roots, |_| true) {
        let Node::Add(terms) = x.node() else { continue };
        for t in terms {
            out.extend(t.factors().iter().filter(|f| f.as_exp().is_some()).cloned());
        }
    }
    out
}

fn restore_implicit(e: &Expr, implicit: &[(Sym, Expr)]) -> Expr {
    let map: HashMap<Sym, Expr> = implicit.iter().cloned().collect();
    expr::substitute_all(e, &map)
}

/// The variable of differentiation `w` of [`Names::wrt`] as an expression: an element
/// `x[j]`, which `w` holds as its text ([`expr::element_name`]), read back (the text is
/// what the printer wrote, so it reads back as the node); any other name a variable.
fn variable_of(w: &Sym) -> Expr {
    let element = || crate::parse::parse_expr(w.as_str()).ok();
    expr::is_element_name(w).then(element).flatten().unwrap_or_else(|| Expr::sym(w.clone()))
}

/// For `name = R + F*ln(A)` (`R` free of `A`, often zero): the relation
/// `e^((name - R)/F) = A`; otherwise `name = body`. Log-softmax, `y = x - ln(S)`, gives
/// `S = e^(x - y)`, so `e^x/S` is `e^y`.
fn relation(name: &Sym, body: &Expr) -> (Expr, Expr) {
    let n = Expr::sym(name.clone());
    let ln_arg = |f: &Expr| match f.node() {
        Node::Call(Func::Builtin(Builtin::Ln), args) => Some(args[0].clone()),
        _ => None,
    };
    // The term F*ln(A), as (F, A).
    let log_term = |t: &Expr| -> Option<(Expr, Expr)> {
        let factors = match t.node() {
            Node::Mul(fs) => fs.clone(),
            _ => vec![t.clone()],
        };
        let (i, a) = factors.iter().enumerate().find_map(|(i, f)| Some((i, ln_arg(f)?)))?;
        let rest = factors.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, f)| f.clone());
        Some((Expr::mul(rest.collect::<Vec<_>>()), a))
    };
    let terms = match body.node() {
        Node::Add(ts) => ts.clone(),
        _ => vec![body.clone()],
    };
    // Exactly one logarithmic term, and the rest free of its argument.
    let logs: Vec<(usize, (Expr, Expr))> =
        terms.iter().enumerate().filter_map(|(i, t)| Some((i, log_term(t)?))).collect();
    if let [(i, (f, a))] = logs.as_slice() {
        let rest =
            Expr::add(terms.iter().enumerate().filter(|(j, _)| j != i).map(|(_, t)| t.clone()).collect::<Vec<_>>());
        if !expr::occurs(&rest, a) {
            return (Expr::exp(Expr::quotient(n - rest, f.clone())), a.clone());
        }
    }
    (n, body.clone())
}

/// Which atom [`eliminate`] solves the first definition for, where it could take
/// several.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Solve {
    /// An exponential kernel or a root first ([`pick_atom`]'s order).
    KernelsFirst,
    /// The variable of differentiation or a call kept whole (`sin(x)`), where it is one
    /// of the choices beside a kernel (`None` from [`eliminate`] otherwise: the first
    /// order gives that form).
    BesideKernel,
}

/// Rewrites `e` in terms of the names in `defs`, solving each definition for one of its
/// atoms where it is a linear fraction of it.
fn eliminate(
    e: &Expr,
    defs: &[(Sym, Expr)],
    wrt: Option<&Expr>,
    view: View,
    solve: Solve,
) -> Option<(Expr, Vec<(Expr, Expr)>)> {
    let mut subs = Vec::new();
    let name_set: HashSet<Sym> = defs.iter().map(|(n, _)| n.clone()).collect();
    let mut d = kernel::expand(e);
    let mut rels: Vec<(Expr, Expr)> = defs.iter().map(|(n, b)| relation(n, &kernel::expand(b))).collect();
    // A definition is solved only for what it was written in: once substitutions have
    // brought other symbols into its body, solving for those would be meaningless.
    let own_vars: Vec<HashSet<Sym>> = defs.iter().map(|(_, b)| b.free_vars().into_iter().collect()).collect();
    // What the view keeps whole is decided once, on the input and the relations.
    let opaque = match view {
        View::Full => HashSet::default(),
        View::Opaque => {
            // The input's shared sums, and those of the relations; a relation's side that
            // is itself such a sum (`e^y = e^a + e^b + e^c` for a log-sum-exp) stays whole.
            let mut all = kernel::opaque_parts(std::slice::from_ref(&d));
            for (s, b) in &rels {
                all.extend(kernel::opaque_parts(&[s.clone(), b.clone()]));
            }
            all
        }
    };
    for i in 0..rels.len() {
        let (side, body) = rels[i].clone();
        let mut scope = vec![d.clone(), side.clone(), body.clone()];
        scope.extend(rels[i + 1..].iter().flat_map(|(s, b)| [s.clone(), b.clone()]));
        let mut k = Kernels::scan_with(&scope, &opaque);
        let r = k.rat_of(&d)?;
        let b = k.rat_of(&body)?;
        let n = k.rat_of(&side)?;
        let mut others = vec![r.clone(), n.clone()];
        for (s, b) in &rels[i + 1..] {
            others.push(k.rat_of(s)?);
            others.push(k.rat_of(b)?);
        }
        let own_name = &defs[i].0;
        let whole = expr::occurs(&d, &body);
        let rel = Relation { own_name, names: &name_set, own: &own_vars[i], wrt, whole, kernels: true };
        let picked = pick_atom(&b, &others, &k, &rel);
        let picked = match solve {
            Solve::BesideKernel if i == 0 => {
                let is_kernel = |(v, _): &(Var, u32)| matches!(k.atom(*v), Atom::Exp(_) | Atom::Root(..));
                if !picked.as_ref().is_some_and(is_kernel) {
                    return None;
                }
                let picked = pick_atom(&b, &others, &k, &Relation { kernels: false, ..rel });
                // The variable, or a call kept whole (`sin(x)` of `y = sin(x)*e^-x`).
                let beside = |(v, _): (Var, u32)| match (k.atom(v), wrt.map(Expr::node)) {
                    (Atom::Sym(s), Some(Node::Var(w))) => s == w,
                    (Atom::Opaque(a), _) => matches!(a.node(), Node::Call(..)),
                    _ => false,
                };
                if !picked.is_some_and(beside) {
                    return None;
                }
                picked
            }
            _ => picked,
        };
        let Some((v, g)) = picked else { continue };
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
            let s2 = deflate(&k.rat_of(s)?).subst(v, &solution)?;
            let b2 = deflate(&k.rat_of(b)?).subst(v, &solution)?;
            later.push((rat_expr(&s2, &k), rat_expr(&b2, &k)));
        }
        // Atoms kept whole (`g(x1*w11 + x2*w21)`, `g(sum(j, x[j]*w[j,k]))`) may contain
        // what was solved for: replace it there too.
        let value = rat_expr(&solution, &k);
        match &solved_atom {
            // (The variable solved for in place of a kernel stays in the kernel: `e^-x`
            // is what the input computes.)
            Atom::Sym(_) if solve == Solve::BesideKernel && i == 0 => {}
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
    let Relation { own_name, names, own, wrt, whole, kernels } = *rel;
    let mut best: Option<((u8, usize), Var, u32)> = None;
    for v in b.vars() {
        if !k.atom(v).expr().free_vars().iter().all(|s| own.contains(s) || names.contains(s)) {
            continue;
        }
        // An element x[2] is solved for only where the body stands whole (z[1] inside
        // g(...)), not to rewrite a factor x[2] of the result through z[2].
        if !whole && matches!(k.atom(v), Atom::Opaque(e) if matches!(e.node(), Node::Call(Func::Indexed(_), _))) {
            continue;
        }
        // An atom that cannot be written out within --max-nodes, met where a variable of
        // differentiation is sought, gives up the work (as it did when atoms were told
        // from the variable by their printed text).
        if let (Atom::Opaque(e), Some(_)) = (k.atom(v), wrt) {
            limits::check_size(e.tree_size());
        }
        let rank = match k.atom(v) {
            // e^(p/F) is the name's own side of a logarithm's relation.
            Atom::Exp(t) if t.contains(own_name) => continue,
            Atom::Exp(_) | Atom::Root(..) if !kernels => continue,
            Atom::Exp(_) | Atom::Root(..) => 0,
            Atom::Sym(s) if names.contains(s) => continue,
            Atom::Sym(s) if wrt.is_some_and(|w| matches!(w.node(), Node::Var(v) if v == s)) => 1,
            // Another variable is an input the result is written in, not an output to
            // eliminate, except where the body is a polynomial in variables (a fact
            // `t1 + t2 + t3 = 1`, a pre-activation `x1*w11 + x2*w21`): then solving for
            // one of them is what writes the result in the name.
            Atom::Sym(_) if b.vars().iter().all(|&w| matches!(k.atom(w), Atom::Sym(_))) => 2,
            Atom::Sym(_) => continue,
            // An element x[2] that is the variable of differentiation.
            Atom::Opaque(e) if wrt == Some(e) => 1,
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
        // Between equal choices, the atom in the fewest terms of the expression: it is
        // the one whose value brings in least (Markowitz's rule). For `p1*(t1 + t2 + t3)
        // - t1` under `t1 + t2 + t3 = 1`, t2 or t3, which gives `p1 - t1`.
        let fill = others.first().map_or(0, |r| {
            [&r.num, &r.den].iter().flat_map(|p| p.terms()).filter(|(m, _)| m.0.iter().any(|&(w, _)| w == v)).count()
        });
        let rank = (rank, fill);
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
    /// The variable of differentiation: a variable or an element `x[j]`.
    wrt: Option<&'a Expr>,
    /// Whether the definition's body stands whole in the expression.
    whole: bool,
    /// Whether kernels (exponentials, roots) may be solved for.
    kernels: bool,
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

#[cfg(test)]
mod tests {

    use super::*;

    /// Only variables under a pole, a root, a logarithm or a partial function are
    /// singular; the check at zero leaves the others alone, and a form undefined where
    /// one of the singular ones is zero is still refused.
    #[test]
    fn singular_variables_are_those_under_poles() {
        let e = crate::parse::parse_expr(
            "a*sigmoid(w1*x1 + w2*x2)*tanh(b)^2 + 1/(c - d) + ln(q) + sqrt(r)*s^3 + g(k) + y^h",
        )
        .unwrap();
        let mut got: Vec<String> = singular_vars(&e).into_iter().map(|v| v.to_string()).collect();
        got.sort();
        assert_eq!(got, ["c", "d", "h", "k", "q", "r", "y"]);
        let bodies = HashMap::new();
        let x = |t: &str| crate::parse::parse_expr(t).unwrap();
        // (Undefined at the origin both, so only u = 0 alone tells them apart.)
        assert!(!agrees(&x("1/w + (u + u^2)/u"), &x("1/w + 1 + u"), &bodies), "undefined at u = 0");
        assert!(agrees(&x("w*(1 + u)"), &x("w + w*u"), &bodies));
    }

    /// The variable of differentiation is matched against atoms as a node, not as text.
    #[test]
    fn the_variable_is_read_back_as_a_node() {
        let element = crate::parse::parse_expr("x[1]").unwrap();
        assert_eq!(variable_of(&expr::element_name(&Sym::new("x"), &[1])), element);
        assert_eq!(variable_of(&Sym::new("x")), Expr::var("x"));
        assert_eq!(CFG.largest_form(100), 264);
        assert_eq!(CFG.largest_inlined(100), 464);
    }

    /// A product normalized group by group is the product normalized whole, up to how it
    /// is written: proved equal, and no costlier.
    #[test]
    fn independent_factors_normalize_alone() {
        let none = HashSet::default();
        for (text, groups) in [
            ("h*x*(1 - h)*(v1*y1*(1 - y1)*(y1 - t1) + v2*y2*(1 - y2)*(y2 - t2))", 3),
            ("q*u*(1 - q)*(2*a - 2*b)/(c + d)", 5),
            ("(x + 1)*(x - 1)*(y^2 - 1)/(y + 1)", 2),
            ("3*x*(1/x + y)", 2),
            ("cos(u)^2*z/(1 - sin(u)^2)", 2),
            ("e^x*(1 + e^-x)*w", 2),
        ] {
            let e = crate::parse::parse_expr(text).unwrap();
            assert_eq!(independent_factors(&e).len(), groups, "{text}");
            for view in [View::Opaque, View::Full] {
                let parts = normalized(&e, view, u64::MAX).unwrap();
                let whole = normalized_whole(&e, view, u64::MAX).unwrap();
                assert!(proved_equal(&parts, &e), "{text}: {parts}");
                assert!(cost::cost(&parts, &none) <= cost::cost(&whole, &none), "{text}: {parts} against {whole}");
            }
        }
    }
}
