//! The expression type: immutable, hash-consed, canonical by construction.
//!
//! An [`Expr`] is a reference-counted pointer to an interned node. Every node is built by
//! a constructor ([`Expr::add`], [`Expr::mul`], [`Expr::pow`], [`Expr::call`], ...) that
//! puts it in canonical form — sums and products flattened, sorted and with like terms
//! collected, exact constants folded, identities dropped — and then looks it up in a
//! per-thread table, so that structurally equal expressions are one node. Equality and
//! hashing are therefore pointer operations, and memoizing work per node (as the
//! differentiator and evaluator do) makes them linear in the size of the expression DAG.
//!
//! Sums and products bind their index, and the name of a bound index does not matter:
//! `sum(k, x[k])` and `sum(m, x[m])` are one node. When a sum or product is built, a node
//! that differs from it only in the names of bound indices and is already interned is
//! returned instead (the first name used is kept), found through a hash that is blind to
//! those names (cached in a node when first asked). So a constructor may return a sum
//! whose index has another name than the one asked for: code that needs a particular
//! name (to avoid a capture) works on the body instead, and [`substitute_all`] and
//! [`replace`] rename bound indices themselves where they would capture.
//!
//! A DAG of definitions can be exponentially larger written out as a tree, so every
//! traversal goes through one toolkit that visits each distinct node once, with an
//! explicit stack, ticking the clock of [`crate::limits`]: [`Expr::children`] (a view,
//! nothing allocated), [`walk`] (parents first, a visit may skip or stop), [`post_order`]
//! (children first), and [`fold`] (a value per node from its children's, memoized by
//! node id), with [`rebuild`] and [`map_children`] for rewrites.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::func::{Builtin, Parity};
use crate::number::{self, Rational};

/// An interned variable or function name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sym(Rc<str>);

impl Sym {
    /// Makes a name.
    pub fn new(name: &str) -> Sym {
        Sym(Rc::from(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn bloom(&self) -> u64 {
        // (The ids' hasher on the name's bytes: SipHash cost more than the lookups the
        // summary saves.)
        let mut h = IdHasher::default();
        h.write(self.0.as_bytes());
        1u64 << (h.finish() % 64)
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ord for Sym {
    /// Natural order: `x2` before `x10`, then plain text order.
    fn cmp(&self, other: &Sym) -> Ordering {
        natural_cmp(&self.0, &other.0)
    }
}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn natural_cmp(a: &str, b: &str) -> Ordering {
    // Sorting a 100,000-term sum compares names millions of times: no allocation here.
    fn split(s: &str) -> (&str, Option<(usize, &str)>) {
        let i = s.len() - s.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (head, digits) = s.split_at(i);
        // Digits compare as numbers: by length without leading zeros, then as text.
        let digits = digits.trim_start_matches('0');
        (head, (i < s.len()).then_some((digits.len(), digits)))
    }
    let (ha, na) = split(a);
    let (hb, nb) = split(b);
    ha.cmp(hb).then(na.cmp(&nb)).then(a.cmp(b))
}

/// A name that no input can spell (`#` starts a comment), for what a stage holds in a
/// variable of its own: the simplifier's built-in outputs (`#0`), the stable form's
/// blocks (`#b1`), `--assume` facts (`#assume0`). `tag` keeps the users apart, `n`
/// numbers the names of one user.
pub(crate) fn hidden_name(tag: &str, n: usize) -> Sym {
    Sym::new(&format!("#{tag}{n}"))
}

/// A name that no input can spell (`~` is no character of the grammar) and that sorts
/// after every ASCII name, so canonical products put it last: the code generator's
/// intermediates (`~1`, `~2`, numbered by `n`), so that `grad*y*t1` reads inputs first.
pub(crate) fn trailing_hidden_name(n: usize) -> Sym {
    Sym::new(&format!("~{n}"))
}

/// Whether `s` is a [`hidden_name`] or a [`trailing_hidden_name`].
pub(crate) fn is_hidden(s: &Sym) -> bool {
    s.as_str().starts_with(['#', '~'])
}

/// The name that stands for one element of an indexed variable, `x[1,2]` for `x` at
/// `(1, 2)`: the key of its value in an evaluation's variables, and the name it has
/// where it is a name of its own (the variable a derivative is taken by). It is the
/// element as printed, so it cannot clash with a plain variable.
pub(crate) fn element_name(base: &Sym, index: &[impl fmt::Display]) -> Sym {
    let index: Vec<String> = index.iter().map(ToString::to_string).collect();
    Sym::new(&format!("{base}[{}]", index.join(",")))
}

/// Whether `s` is an [`element_name`].
pub(crate) fn is_element_name(s: &Sym) -> bool {
    s.as_str().contains('[')
}

/// A mathematical constant other than `e` (which is `exp(1)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Constant {
    /// The ratio of a circle's circumference to its diameter.
    Pi,
}

/// A function symbol: a built-in or an abstract function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// A built-in function, its row of the table ([`Builtin::def`]).
    Builtin(Builtin),
    /// An unknown function such as `g`, with the partial derivatives taken so far.
    Abstract(AbstractFn),
    /// An indexed variable `x[j]`: the arguments are the indices.
    Indexed(Sym),
    /// `sum(k, body)` over the index `k`: the arguments are the body, then optionally
    /// the bounds `lo` and `hi`.
    Sum(Sym),
    /// `prod(k, body)`: a product over the index `k`; arguments as for [`Func::Sum`].
    Prod(Sym),
    /// Kronecker's delta of its two arguments.
    Delta,
    /// A comparison of its two arguments: 1 where it holds, 0 elsewhere (an Iverson
    /// bracket). `heaviside(u)` is `u > 0`.
    Cmp(Cmp),
    /// `if(c1, v1, c2, v2, ..., otherwise)`: the value of the first branch whose
    /// condition is not zero, or the last argument. Only the branch taken is evaluated.
    If,
    /// The largest of two or more arguments.
    Max,
    /// The smallest of two or more arguments.
    Min,
}

/// The comparisons: `a > b`, `a >= b`, `a == b`, `a != b` (`a < b` is `b > a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmp {
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
}

impl Cmp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }

    /// Whether `a op b` holds.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }

    /// The comparison that holds exactly where `a op b` does not, with whether its
    /// arguments swap: not `a > b` is `b >= a`.
    pub fn negated(self) -> (Cmp, bool) {
        match self {
            Cmp::Gt => (Cmp::Ge, true),
            Cmp::Ge => (Cmp::Gt, true),
            Cmp::Eq => (Cmp::Ne, false),
            Cmp::Ne => (Cmp::Eq, false),
        }
    }
}

/// An abstract function `g` and the multiset of argument positions (0-based, sorted)
/// it has been differentiated by: `g''` of one argument is `partials = [0, 0]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AbstractFn {
    /// The function's name.
    pub name: Sym,
    /// Sorted argument positions, one per differentiation.
    pub partials: Vec<u32>,
}

impl Func {
    /// The name as written in the input.
    pub fn name(&self) -> &str {
        match self {
            Func::Builtin(b) => b.name(),
            Func::Abstract(a) => a.name.as_str(),
            Func::Indexed(s) => s.as_str(),
            Func::Sum(_) => "sum",
            Func::Prod(_) => "prod",
            Func::Delta => "delta",
            Func::Cmp(c) => c.symbol(),
            Func::If => "if",
            Func::Max => "max",
            Func::Min => "min",
        }
    }

    /// A sum or product over the index `k` instead; any other function as it is.
    pub(crate) fn rebind(&self, k: Sym) -> Func {
        match self {
            Func::Sum(_) => Func::Sum(k),
            Func::Prod(_) => Func::Prod(k),
            f => f.clone(),
        }
    }

    /// What tells apart functions of one name: `x[k]` from `x(k)`, and `sum(k, x[k,m])`
    /// from `sum(m, x[k,m])` (without it they would sort as equal, and a sum of both
    /// would be two nodes, by the order the terms came in).
    fn tie_key(&self) -> (u8, Option<&Sym>) {
        match self {
            Func::Builtin(_) => (0, None),
            Func::Abstract(_) => (1, None),
            Func::Indexed(_) => (2, None),
            Func::Sum(k) => (3, Some(k)),
            Func::Prod(k) => (4, Some(k)),
            Func::Delta => (5, None),
            Func::Cmp(_) => (6, None),
            Func::If => (7, None),
            Func::Max => (8, None),
            Func::Min => (9, None),
        }
    }

    fn sort_key(&self) -> (&str, &[u32]) {
        match self {
            Func::Abstract(a) => (a.name.as_str(), &a.partials),
            f => (f.name(), &[]),
        }
    }
}

/// The shape of an expression node. Read it with [`Expr::node`]; build it only through
/// the constructors on [`Expr`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// An exact rational number.
    Num(Rational),
    /// A named constant.
    Const(Constant),
    /// A variable.
    Var(Sym),
    /// A sum of at least two terms, sorted, at most one of them a number (first).
    Add(Vec<Expr>),
    /// A product of at least two factors, sorted, at most one a number (the coefficient, first).
    Mul(Vec<Expr>),
    /// `base ^ exponent`.
    Pow(Expr, Expr),
    /// A function applied to its arguments.
    Call(Func, Vec<Expr>),
}

struct Inner {
    id: u64,
    node: Node,
    depth: u32,
    /// Nodes when written out as a tree (shared subexpressions counted each time),
    /// saturating: what printing costs.
    size: u64,
    syms: u64,
    /// A structural hash in which the names of bound indices do not count (only where
    /// they are bound), so that nodes that differ only in them hash alike; 0 until
    /// first asked for ([`Expr::alpha`]), except in sums and products.
    alpha: std::cell::Cell<u64>,
}

impl Drop for Inner {
    /// Frees the children with an explicit stack: a chain of nodes 100,000 deep (built
    /// by definitions, or by a library caller) must not overflow the stack when dropped.
    fn drop(&mut self) {
        // Most nodes die alone (a temporary whose children live on): their children then
        // drop as usual, a count decrement each, and nothing is allocated here.
        if Children::of(&self.node).iter().all(|c| Rc::strong_count(&c.0) > 1) {
            return;
        }
        let mut stack: Vec<Expr> = Vec::new();
        take_children(&mut self.node, &mut stack);
        while let Some(e) = stack.pop() {
            if let Ok(mut inner) = Rc::try_unwrap(e.0) {
                take_children(&mut inner.node, &mut stack);
            }
        }
    }
}

/// Moves a node's children onto `stack`, leaving the node childless.
fn take_children(node: &mut Node, stack: &mut Vec<Expr>) {
    match std::mem::replace(node, Node::Const(Constant::Pi)) {
        Node::Add(v) | Node::Mul(v) | Node::Call(_, v) => stack.extend(v),
        Node::Pow(b, e) => stack.extend([b, e]),
        _ => {}
    }
}

/// An immutable, shared, canonical expression. Cloning is a reference-count increment;
/// equality and hashing compare identities.
#[derive(Clone)]
pub struct Expr(Rc<Inner>);

impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Expr {}

impl Hash for Expr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// The hash-consing table: every live node, by its [`shallow_hash`].
#[derive(Default)]
struct Interner {
    /// One node per hash: the one there, or the last made when it has died (a node
    /// created and dropped over and over, a temporary `1`, reuses its slot).
    table: HashMap<u64, Weak<Inner>, IdHash>,
    /// Live nodes whose hash a different live node in `table` already has (rare: the
    /// hash is 64 bits).
    clashes: HashMap<u64, Vec<Weak<Inner>>, IdHash>,
    /// Sums and products by [`Expr::alpha`]: where one that differs only in the name of
    /// its index is found.
    binders: HashMap<u64, Vec<Weak<Inner>>, IdHash>,
    next_id: u64,
    entries: usize,
    purge_at: usize,
}

impl Interner {
    /// Files a new node under `hash`.
    fn insert(&mut self, hash: u64, rc: &Rc<Inner>) {
        let weak = Rc::downgrade(rc);
        match self.table.entry(hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(weak);
                self.entries += 1;
            }
            std::collections::hash_map::Entry::Occupied(mut o) if o.get().strong_count() == 0 => {
                o.insert(weak);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.clashes.entry(hash).or_default().push(weak);
                self.entries += 1;
            }
        }
    }

    /// Drops the entries of dead nodes, when there are as many entries again as after the
    /// last purge.
    fn purge(&mut self) {
        if self.entries < self.purge_at {
            return;
        }
        self.table.retain(|_, w| w.strong_count() > 0);
        for map in [&mut self.clashes, &mut self.binders] {
            map.retain(|_, bucket| {
                bucket.retain(|w| w.strong_count() > 0);
                !bucket.is_empty()
            });
        }
        self.entries = self.table.len() + self.clashes.values().map(Vec::len).sum::<usize>();
        self.purge_at = (self.entries * 2).max(1024);
    }
}

thread_local! {
    static INTERNER: RefCell<Interner> = const {
        RefCell::new(Interner {
            table: HashMap::with_hasher(IdHash::new()),
            clashes: HashMap::with_hasher(IdHash::new()),
            binders: HashMap::with_hasher(IdHash::new()),
            next_id: 0,
            entries: 0,
            purge_at: 1024,
        })
    };
}

fn shallow_hash(node: &Node) -> u64 {
    // Children hash by id, names by their bytes: the multiplicative hash is enough for
    // the table (a collision costs one more comparison).
    let mut h = IdHasher::default();
    match node {
        // (A rational's own hash expands it as a continued fraction, to agree across
        // unreduced forms; interned numbers are reduced, so numerator and denominator do.)
        Node::Num(r) => {
            0u8.hash(&mut h);
            r.numer().hash(&mut h);
            r.denom().hash(&mut h);
        }
        _ => node.hash(&mut h),
    }
    h.finish()
}

thread_local! {
    static SMALL: Vec<Expr> = (-2..=2).map(|n| intern(Node::Num(number::int(n)))).collect();
}

/// The integer `n` when it is one of the few every rule builds (-2 to 2): made once per
/// thread, not looked up.
fn small_int(n: i64) -> Option<Expr> {
    (-2..=2).contains(&n).then(|| SMALL.with(|s| s[(n + 2) as usize].clone()))
}

/// How many small numbers [`Expr::num`] keeps at hand.
const NUMBER_SLOTS: usize = 256;

thread_local! {
    /// Small numbers lately made, each in the slot of its numerator and denominator.
    static NUMBERS: RefCell<Vec<Option<(i64, i64, Expr)>>> = RefCell::new(vec![None; NUMBER_SLOTS]);
}

/// Lets go of the small numbers [`Expr::num`] keeps at hand, so that a repeated run
/// (`--repeat`) starts as cold as the first.
pub(crate) fn forget_numbers() {
    NUMBERS.with(|c| c.borrow_mut().iter_mut().for_each(|s| *s = None));
}

fn intern(node: Node) -> Expr {
    let (e, new) = match bound_index(&node) {
        Some(_) => intern_binder(node),
        None => {
            let hash = shallow_hash(&node);
            intern_node(node, hash, 0)
        }
    };
    // Outside the interner's borrow: these may give up by unwinding. Every construction
    // spends a unit of a work budget, found or new, so that what a budgeted piece of
    // work achieves does not depend on what earlier work left in the interner.
    // Found or new, a construction is a step the clock hears about: work that only
    // builds nodes already there (a walk over a shared DAG rebuilding it) still ends
    // within --timeout.
    crate::limits::spend_work(1 + e.children().len() as u64);
    crate::limits::tick();
    if new {
        crate::limits::charge_node();
    }
    e
}

/// The index a sum or product binds.
fn bound_index(node: &Node) -> Option<&Sym> {
    match node {
        Node::Call(Func::Sum(k) | Func::Prod(k), args) if !args.is_empty() => Some(k),
        _ => None,
    }
}

/// Interns a sum or product: the node itself if it exists, else one that differs from
/// it only in the names of bound indices, else a new node.
fn intern_binder(node: Node) -> (Expr, bool) {
    let hash = shallow_hash(&node);
    if let Some(e) = INTERNER.with(|cell| lookup(&mut cell.borrow_mut(), hash, &node)) {
        return (e, false);
    }
    let alpha = nonzero(alpha_of(&node, |c, bound| match bound {
        Some(k) => Scope::new(k).hash(c),
        None => c.alpha(),
    }));
    let candidates: Vec<Expr> = INTERNER.with(|cell| {
        let mut it = cell.borrow_mut();
        let Some(bucket) = it.binders.get_mut(&alpha) else { return Vec::new() };
        bucket.retain(|w| w.strong_count() > 0);
        bucket.iter().filter_map(Weak::upgrade).map(Expr).collect()
    });
    // Outside the interner's borrow: comparing builds nodes.
    if let Some(same) = candidates.into_iter().find(|c| renamed_equal(c, &node)) {
        return (same, false);
    }
    let (e, new) = intern_node(node, hash, alpha);
    if new {
        INTERNER.with(|cell| cell.borrow_mut().binders.entry(alpha).or_default().push(Rc::downgrade(&e.0)));
    }
    (e, new)
}

/// Whether the interned sum or product `c` is `node` with its index renamed:
/// `sum(m, B)` is `sum(k, A)` when `m` is not free in `A` and `A` with `k` renamed `m`
/// is `B` (bodies are canonical, so that is one node).
fn renamed_equal(c: &Expr, node: &Node) -> bool {
    let (Node::Call(f, b), Node::Call(g, a)) = (c.node(), node) else { return false };
    let (m, k) = match (f, g) {
        (Func::Sum(m), Func::Sum(k)) | (Func::Prod(m), Func::Prod(k)) => (m, k),
        _ => return false,
    };
    a.len() == b.len() && a[1..] == b[1..] && !a[0].contains(m) && substitute(&a[0], k, &Expr::sym(m.clone())) == b[0]
}

/// The live node equal to `node` in the table, if any.
fn lookup(it: &mut Interner, hash: u64, node: &Node) -> Option<Expr> {
    if let Some(rc) = it.table.get(&hash).and_then(Weak::upgrade) {
        if rc.node == *node {
            return Some(Expr(rc));
        }
    }
    if it.clashes.is_empty() {
        return None;
    }
    let bucket = it.clashes.get_mut(&hash)?;
    let before = bucket.len();
    bucket.retain(|w| w.strong_count() > 0);
    it.entries -= before - bucket.len();
    bucket.iter().filter_map(Weak::upgrade).find(|rc| rc.node == *node).map(Expr)
}

/// Interns `node` exactly, given its [`shallow_hash`] and its name-blind hash (0: not
/// computed yet).
fn intern_node(node: Node, hash: u64, alpha: u64) -> (Expr, bool) {
    INTERNER.with(|cell| {
        let mut it = cell.borrow_mut();
        if let Some(e) = lookup(&mut it, hash, &node) {
            return (e, false);
        }
        let (depth, syms) = match &node {
            Node::Var(s) => (1, s.bloom()),
            Node::Call(Func::Indexed(s), args) => {
                args.iter().fold((1, s.bloom()), |(d, b), c| (d.max(c.0.depth.saturating_add(1)), b | c.0.syms))
            }
            _ => {
                Children::of(&node).iter().fold((1, 0), |(d, s), c| (d.max(c.0.depth.saturating_add(1)), s | c.0.syms))
            }
        };
        let size = Children::of(&node).iter().fold(1u64, |n, c| n.saturating_add(c.0.size));
        it.next_id += 1;
        let rc = Rc::new(Inner { id: it.next_id, node, depth, size, syms, alpha: std::cell::Cell::new(alpha) });
        it.purge();
        it.insert(hash, &rc);
        (Expr(rc), true)
    })
}

// ---- hashing blind to the names of bound indices ----------------------------------------

fn mix(mut x: u64) -> u64 {
    // The splitmix64 finalizer.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn text_hash(t: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// [`Expr::compare`]: `a op b` as `d op 0`, `d = a - b` scaled so that its first term
/// (after any number) has the coefficient 1 or -1 (`x > 1` is `x - 1 > 0`, `2*x > 0` is
/// `x > 0`, and `heaviside(2*x)` is `heaviside(x)`); numbers decided; a bound against a
/// `max` or `min` that must beat all of its arguments is the product of the comparisons
/// (`1 > max(-1, x)` is `1 > x`).
fn compare_node(op: Cmp, args: Vec<Expr>) -> Expr {
    let [a, b] = <[Expr; 2]>::try_from(args).unwrap_or_else(|_| unreachable!("a comparison has two arguments"));
    let d = Expr::minus(a, b);
    // r - k*max(A) >= 0 (k > 0) holds where r - k*a >= 0 for every a in A; so does
    // r + k*min(A) >= 0 where every r + k*a >= 0 (found on d, so that however the comparison was written,
    // `1 > max(-1, x)` or `1 - max(-1, x) > 0`, it is the same product).
    if matches!(op, Cmp::Gt | Cmp::Ge) {
        let terms = match d.node() {
            Node::Add(ts) => ts.clone(),
            _ => vec![d.clone()],
        };
        let bound = terms.iter().enumerate().find_map(|(i, t)| {
            let (c, rest) = t.coeff_rest();
            match rest.node() {
                Node::Call(Func::Max, xs) if c.is_negative() => Some((i, xs.clone(), c)),
                Node::Call(Func::Min, xs) if c.is_positive() => Some((i, xs.clone(), c)),
                _ => None,
            }
        });
        if let Some((i, xs, c)) = bound {
            let r = Expr::add(all_but(&terms, i));
            let each = xs
                .into_iter()
                .map(|x| Expr::compare(op, Expr::add([r.clone(), Expr::mul([Expr::num(c.clone()), x])]), Expr::zero()));
            return Expr::mul(each.collect::<Vec<_>>());
        }
    }
    if let Some(n) = d.as_num() {
        let holds = match op {
            Cmp::Gt => n.is_positive(),
            Cmp::Ge => !n.is_negative(),
            Cmp::Eq => n.is_zero(),
            Cmp::Ne => !n.is_zero(),
        };
        return Expr::int(i64::from(holds));
    }
    let lead = match d.node() {
        Node::Add(ts) => ts.iter().find(|t| t.as_num().is_none()).cloned().unwrap_or_else(|| d.clone()),
        _ => d.clone(),
    };
    let c = lead.coeff();
    // An equation may change sign; an inequality only scales by a positive number.
    let scale = if matches!(op, Cmp::Eq | Cmp::Ne) { c } else { c.abs() };
    let d = if scale.is_one() { d } else { Expr::mul([Expr::num(scale.recip()), d]) };
    intern(Node::Call(Func::Cmp(op), vec![d, Expr::zero()]))
}

/// [`Expr::piecewise`].
fn piecewise_node(args: Vec<Expr>) -> Expr {
    let mut branches: Vec<(Expr, Expr)> = Vec::new();
    let mut otherwise = args[args.len() - 1].clone();
    for pair in args[..args.len() - 1].chunks(2) {
        let (c, v) = (&pair[0], &pair[1]);
        match c.as_num() {
            Some(n) if n.is_zero() => continue,
            Some(_) => {
                otherwise = v.clone();
                break;
            }
            None => {
                // A later branch with an earlier branch's condition is never taken; a
                // branch's value that tests its own condition first takes that branch.
                let v = match v.node() {
                    Node::Call(Func::If, inner) if inner[0] == *c => inner[1].clone(),
                    _ => v.clone(),
                };
                if !branches.iter().any(|(d, _)| d == c) {
                    branches.push((c.clone(), v));
                }
            }
        }
    }
    // Branches at the end with the otherwise's value are the otherwise.
    while branches.last().is_some_and(|(_, v)| *v == otherwise) {
        branches.pop();
    }
    match branches.as_slice() {
        [] => return otherwise,
        [(c, v)] if matches!(c.node(), Node::Call(Func::Cmp(_), _)) => {
            if v.is_one() && otherwise.is_zero() {
                return c.clone();
            }
            // if(c, k*[p], 0) is k*[c][p]: hardtanh's slope (x < 1)*(x > -1).
            if otherwise.is_zero() && is_iverson(v) {
                return Expr::mul([c.clone(), v.clone()]);
            }
            if v.is_zero() && otherwise.is_one() {
                let Node::Call(Func::Cmp(op), ab) = c.node() else { unreachable!() };
                let (neg, swap) = op.negated();
                let (a, b) = if swap { (ab[1].clone(), ab[0].clone()) } else { (ab[0].clone(), ab[1].clone()) };
                return Expr::compare(neg, a, b);
            }
        }
        _ => {}
    }
    let mut args: Vec<Expr> = branches.into_iter().flat_map(|(c, v)| [c, v]).collect();
    args.push(otherwise);
    intern(Node::Call(Func::If, args))
}

/// Whether `e` is a number times comparisons (a number, a comparison, a product of
/// them): finite everywhere, so `if(c, e, 0)` is `c*e`.
fn is_iverson(e: &Expr) -> bool {
    match e.node() {
        Node::Call(Func::Cmp(_), _) | Node::Num(_) => true,
        Node::Mul(fs) => fs.iter().all(is_iverson),
        _ => false,
    }
}

/// [`Func::Max`] or [`Func::Min`] of `args`: nested ones of the same kind flattened,
/// numbers folded to the one that can matter, duplicates dropped, sorted; one argument
/// is itself.
fn extreme_node(f: &Func, args: Vec<Expr>) -> Expr {
    let mut flat: Vec<Expr> = Vec::new();
    for a in args {
        match a.node() {
            Node::Call(g, inner) if g == f => flat.extend(inner.iter().cloned()),
            _ => flat.push(a),
        }
    }
    let larger = *f == Func::Max;
    let best_number = flat.iter().filter_map(Expr::as_num).fold(None::<Rational>, |best, n| match best {
        Some(b) if (larger && b >= *n) || (!larger && b <= *n) => Some(b),
        _ => Some(n.clone()),
    });
    let mut rest: Vec<Expr> = flat.into_iter().filter(|a| a.as_num().is_none()).collect();
    rest.extend(best_number.map(Expr::num));
    rest.sort_by(cmp_expr);
    rest.dedup();
    if rest.len() == 1 {
        return rest.pop().unwrap_or_else(Expr::zero);
    }
    intern(Node::Call(f.clone(), rest))
}

/// The name-blind hash of `node` from its children's: `child(c, Some(k))` hashes the
/// body `c` of a sum over `k`, `child(c, None)` any other child. Sums, products and
/// deltas hash their operands as a multiset: renaming an index may reorder them.
fn alpha_of(node: &Node, mut child: impl FnMut(&Expr, Option<&Sym>) -> u64) -> u64 {
    let then = |h: u64, x: u64| mix(h.rotate_left(17) ^ x);
    let (tag, xs, bound, unordered): (u64, &[Expr], Option<&Sym>, bool) = match node {
        Node::Num(r) => return text_hash(("num", r)),
        Node::Const(c) => return text_hash(("const", c)),
        Node::Var(s) => return text_hash(("var", s)),
        Node::Pow(b, e) => {
            let h = then(mix(3), child(b, None));
            return then(h, child(e, None));
        }
        Node::Add(ts) => (1, ts, None, true),
        Node::Mul(fs) => (2, fs, None, true),
        Node::Call(Func::Delta, args) => (4, args, None, true),
        // The body (first) is where the index is bound; the bounds are outside.
        Node::Call(Func::Sum(k), args) => (5, args, Some(k), false),
        Node::Call(Func::Prod(k), args) => (6, args, Some(k), false),
        Node::Call(f, args) => (text_hash(("call", f)), args, None, false),
    };
    if unordered {
        mix(xs.iter().fold(tag, |h, x| h.wrapping_add(mix(child(x, None)))))
    } else {
        xs.iter().enumerate().fold(mix(tag), |h, (i, x)| then(h, child(x, bound.filter(|_| i == 0))))
    }
}

/// 0 stands for "not computed yet".
fn nonzero(h: u64) -> u64 {
    h.max(1)
}

/// Name-blind hashes of the nodes below a sum's index: an index bound there hashes by
/// how many binders out it is bound, any other node as [`Inner::alpha`].
struct Scope {
    /// The indices bound, innermost last, with the variable summary of each and those
    /// outside it, and a number for each binding (memo entries are per binding).
    names: Vec<(Sym, u64, u32)>,
    bindings: u32,
    memo: HashMap<(u64, u32), u64>,
}

impl Scope {
    fn new(k: &Sym) -> Scope {
        Scope { names: vec![(k.clone(), k.bloom(), 0)], bindings: 1, memo: HashMap::new() }
    }

    fn hash(&mut self, e: &Expr) -> u64 {
        let &(_, mask, binding) = self.names.last().expect("a scope binds an index");
        // Where no bound name can occur, the hash is the node's own: so the shortcut
        // gives what the walk would.
        if e.0.syms & mask == 0 {
            return e.alpha();
        }
        if let Node::Var(v) = e.node() {
            return match self.names.iter().rev().position(|(n, ..)| n == v) {
                Some(up) => mix(0xB0B0_0000 ^ up as u64),
                None => e.alpha(),
            };
        }
        // Only a node held by more than one parent can recur, and small subtrees are
        // cheaper to hash again than to remember.
        let remember = e.tree_size() > 8 && Rc::strong_count(&e.0) > 1;
        if let Some(&h) = self.memo.get(&(e.id(), binding)).filter(|_| remember) {
            return h;
        }
        let h = alpha_of(e.node(), |c, bound| match bound {
            Some(m) => {
                self.names.push((m.clone(), mask | m.bloom(), self.bindings));
                self.bindings += 1;
                let h = self.hash(c);
                self.names.pop();
                h
            }
            None => self.hash(c),
        });
        if remember {
            self.memo.insert((e.id(), binding), h);
        }
        nonzero(h)
    }
}

/// Nodes every stage asks for all the time, built once per thread.
struct Common {
    zero: Expr,
    one: Expr,
    minus_one: Expr,
    e: Expr,
}

thread_local! {
    static COMMON: Common = {
        let one = Expr::int(1);
        Common { zero: Expr::int(0), minus_one: Expr::int(-1), e: Expr::exp(one.clone()), one }
    };
}

/// Hashing for maps keyed by node ids and for the interner: ids are distinct already,
/// so a multiply spreads them (SipHash costs more than the lookups it serves).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Products move entropy up only: fold the high half down for the table's low bits.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a step (names are hashed by their bytes on every construction).
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.write_u64(word);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The [`IdHasher`] for maps and sets keyed by node ids.
pub type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// A map keyed by node ids (or other well-spread `u64`s).
pub type IdMap<V> = HashMap<u64, V, IdHash>;

/// A map hashed by [`IdHasher`]: for expressions (hashed by their ids) and small keys
/// of them, where SipHash would cost more than the lookups it serves.
pub type FastMap<K, V> = HashMap<K, V, IdHash>;

/// A set hashed by [`IdHasher`] (see [`FastMap`]).
pub type FastSet<T> = std::collections::HashSet<T, IdHash>;

/// The children of a node in order (a power's base, then its exponent), as a view into
/// the node: nothing is allocated. Iterate by reference with [`Children::iter`]; by value
/// (`stack.extend(e.children())`) it yields clones.
#[derive(Clone, Copy)]
pub struct Children<'a> {
    /// The arguments, terms or factors; a power's base.
    head: &'a [Expr],
    /// A power's exponent; otherwise empty.
    tail: &'a [Expr],
}

impl<'a> Children<'a> {
    fn of(node: &'a Node) -> Children<'a> {
        let (head, tail): (&[Expr], &[Expr]) = match node {
            Node::Add(v) | Node::Mul(v) | Node::Call(_, v) => (v, &[]),
            Node::Pow(b, x) => (std::slice::from_ref(b), std::slice::from_ref(x)),
            Node::Num(_) | Node::Const(_) | Node::Var(_) => (&[], &[]),
        };
        Children { head, tail }
    }

    /// How many children there are.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether this is a leaf.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The children by reference, in order.
    pub fn iter(&self) -> std::iter::Chain<std::slice::Iter<'a, Expr>, std::slice::Iter<'a, Expr>> {
        self.head.iter().chain(self.tail)
    }
}

impl std::ops::Index<usize> for Children<'_> {
    type Output = Expr;

    fn index(&self, i: usize) -> &Expr {
        match i.checked_sub(self.head.len()) {
            None => &self.head[i],
            Some(j) => &self.tail[j],
        }
    }
}

impl<'a> IntoIterator for Children<'a> {
    type Item = Expr;
    type IntoIter = std::iter::Cloned<std::iter::Chain<std::slice::Iter<'a, Expr>, std::slice::Iter<'a, Expr>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter().cloned()
    }
}

impl Expr {
    // ---- leaves ---------------------------------------------------------------------

    /// An exact rational number.
    pub fn num(r: Rational) -> Expr {
        let (Some(n), Some(d)) = (r.numer().to_i64(), r.denom().to_i64()) else { return intern(Node::Num(r)) };
        if let Some(e) = small_int(n).filter(|_| d == 1) {
            return e;
        }
        // Rules build the same few small numbers again and again: a slot of their own is
        // a cheaper find than the interner (hashing and comparing big integers).
        let slot = (n.wrapping_mul(0x9E37_79B9).wrapping_add(d) as u64 % NUMBER_SLOTS as u64) as usize;
        let found = NUMBERS.with(|c| match &c.borrow()[slot] {
            Some((a, b, e)) if (*a, *b) == (n, d) => Some(e.clone()),
            _ => None,
        });
        if let Some(e) = found {
            // Charged as the interner would charge finding it: what a budgeted search
            // achieves must not depend on what is in the slots.
            crate::limits::spend_work(1);
            crate::limits::tick();
            return e;
        }
        let e = intern(Node::Num(r));
        NUMBERS.with(|c| c.borrow_mut()[slot] = Some((n, d, e.clone())));
        e
    }

    /// An integer.
    pub fn int(n: i64) -> Expr {
        small_int(n).unwrap_or_else(|| Expr::num(number::int(n)))
    }

    /// Zero.
    pub fn zero() -> Expr {
        COMMON.with(|c| c.zero.clone())
    }

    /// One.
    pub fn one() -> Expr {
        COMMON.with(|c| c.one.clone())
    }

    /// A variable.
    pub fn var(name: &str) -> Expr {
        intern(Node::Var(Sym::new(name)))
    }

    /// A variable from an existing name.
    pub fn sym(s: Sym) -> Expr {
        intern(Node::Var(s))
    }

    /// The constant pi.
    pub fn pi() -> Expr {
        intern(Node::Const(Constant::Pi))
    }

    /// Euler's number `e`, which is `exp(1)`.
    pub fn e() -> Expr {
        COMMON.with(|c| c.e.clone())
    }

    // ---- accessors ------------------------------------------------------------------

    /// The node's shape.
    pub fn node(&self) -> &Node {
        &self.0.node
    }

    /// A number unique to this node for the life of the process.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The length of the longest path to a leaf.
    pub fn depth(&self) -> u32 {
        self.0.depth
    }

    /// How many nodes this expression has written out as a tree, every shared
    /// subexpression counted where it occurs (saturating): what printing it costs.
    pub fn tree_size(&self) -> u64 {
        self.0.size
    }

    /// The hash of this node in which the names of bound indices do not count: equal for
    /// nodes that differ only in them. Computed on first use (only nodes below a sum
    /// are asked), children first, without recursion.
    fn alpha(&self) -> u64 {
        if self.0.alpha.get() == 0 {
            let mut stack = vec![(self.clone(), false)];
            while let Some((e, expanded)) = stack.pop() {
                if e.0.alpha.get() != 0 {
                    continue;
                }
                if expanded {
                    // Sums and products have theirs from birth: no child is a body here.
                    let h = alpha_of(e.node(), |c, _| c.0.alpha.get());
                    e.0.alpha.set(nonzero(h));
                } else {
                    stack.push((e.clone(), true));
                    stack.extend(e.children().iter().filter(|c| c.0.alpha.get() == 0).map(|c| (c.clone(), false)));
                }
            }
        }
        self.0.alpha.get()
    }

    /// The children in order (the base then the exponent for a power), without
    /// allocating.
    pub fn children(&self) -> Children<'_> {
        Children::of(self.node())
    }

    /// The number, when this is one.
    pub fn as_num(&self) -> Option<&Rational> {
        match self.node() {
            Node::Num(r) => Some(r),
            _ => None,
        }
    }

    /// The numeric coefficient in front, without copying it: `-3` of `-3*x*y` and of
    /// `-3`; `None` where it is an implicit 1.
    pub fn leading_num(&self) -> Option<&Rational> {
        match self.node() {
            Node::Num(r) => Some(r),
            Node::Mul(fs) => fs[0].as_num(),
            _ => None,
        }
    }

    /// The factors but the numeric coefficient, as a view: `[x, y]` of `-3*x*y` and of
    /// `x*y`, `[x]` of `x`, none of a number. Terms with the same such factors are like
    /// terms.
    pub(crate) fn rest_factors(&self) -> &[Expr] {
        match self.node() {
            Node::Num(_) => &[],
            Node::Mul(fs) if fs[0].as_num().is_some() => &fs[1..],
            Node::Mul(fs) => fs,
            _ => std::slice::from_ref(self),
        }
    }

    /// Whether this is the number zero.
    pub fn is_zero(&self) -> bool {
        self.as_num().is_some_and(Zero::is_zero)
    }

    /// Whether this is the number one.
    pub fn is_one(&self) -> bool {
        self.as_num().is_some_and(One::is_one)
    }

    /// The argument when this is `exp(u)`.
    pub fn as_exp(&self) -> Option<&Expr> {
        match self.node() {
            Node::Call(Func::Builtin(Builtin::Exp), args) => Some(&args[0]),
            _ => None,
        }
    }

    /// The argument when this is `abs(u)`.
    fn abs_of(&self) -> Option<&Expr> {
        match self.node() {
            Node::Call(Func::Builtin(Builtin::Abs), args) => Some(&args[0]),
            _ => None,
        }
    }

    /// The factors of a product, or this alone when it is no product.
    pub fn factors(&self) -> &[Expr] {
        match self.node() {
            Node::Mul(fs) => fs,
            _ => std::slice::from_ref(self),
        }
    }

    /// Whether this is a truth value by its form: 0, 1, a comparison, or a product or
    /// power of them (the condition of an `if`).
    pub fn is_truth(&self) -> bool {
        match self.node() {
            Node::Num(r) => r.is_zero() || r.is_one(),
            Node::Call(Func::Cmp(_), _) => true,
            Node::Mul(fs) => fs.iter().all(Expr::is_truth),
            Node::Pow(b, n) => b.is_truth() && n.as_num().is_some_and(|n| n.is_integer() && n.is_positive()),
            _ => false,
        }
    }

    /// `u` of `relu(u)^n` or `max(0, u)^n` with `n > 0`.
    fn positive_power_of_relu(&self) -> Option<&Expr> {
        let b = match self.node() {
            Node::Pow(b, n) => n.as_num().filter(|n| n.is_positive()).map(|_| b)?,
            _ => self,
        };
        match b.node() {
            Node::Call(Func::Builtin(Builtin::Relu), args) => Some(&args[0]),
            Node::Call(Func::Max, args) => match args.as_slice() {
                [a, u] | [u, a] if a.is_zero() => Some(u),
                _ => None,
            },
            _ => None,
        }
    }

    /// `u` of `relu(u)^n` or `max(0, u)^n` with `n < 0`.
    fn negative_power_of_relu(&self) -> Option<&Expr> {
        match self.node() {
            Node::Pow(b, n) if n.as_num().is_some_and(|n| n.is_negative()) => b.positive_power_of_relu(),
            _ => None,
        }
    }

    /// Whether this factor may combine with another by a rule of [`Expr::mul`] beyond
    /// equal bases: a sign, a comparison or a power of a relu.
    fn combines_specially(&self) -> bool {
        self.sign_of().is_some()
            || matches!(self.node(), Node::Call(Func::Cmp(_), _))
            || self.positive_power_of_relu().is_some()
            || self.negative_power_of_relu().is_some()
    }

    /// The argument when this is `sign(u)`.
    fn sign_of(&self) -> Option<&Expr> {
        match self.node() {
            Node::Call(Func::Builtin(Builtin::Sign), args) => Some(&args[0]),
            _ => None,
        }
    }

    /// The argument when this is `heaviside(u)`, `u > 0`.
    fn step_of(&self) -> Option<&Expr> {
        match self.node() {
            Node::Call(Func::Cmp(Cmp::Gt), ab) if ab[1].is_zero() => Some(&ab[0]),
            _ => None,
        }
    }

    /// The variable summary of `vars` together, for [`Expr::may_contain_any`].
    pub(crate) fn summary(vars: &[Sym]) -> u64 {
        vars.iter().fold(0, |m, v| m | v.bloom())
    }

    /// Whether any variable of a [`Expr::summary`] may occur here (constant time).
    pub(crate) fn may_contain_any(&self, summary: u64) -> bool {
        self.0.syms & summary != 0
    }

    /// Whether `v` may occur here, read off the 64-bit summary of the variables below
    /// (constant time): `false` is certain, `true` only likely.
    pub fn may_contain(&self, v: &Sym) -> bool {
        self.0.syms & v.bloom() != 0
    }

    /// Whether `v` occurs free in this expression (exact): not counting where a sum or
    /// product over `v` binds it.
    pub fn contains(&self, v: &Sym) -> bool {
        let bit = v.bloom();
        walk(std::slice::from_ref(self), |e| match e.node() {
            _ if e.0.syms & bit == 0 => Walk::Skip,
            Node::Var(s) | Node::Call(Func::Indexed(s), _) if s == v => Walk::Stop,
            // Only the bounds are outside the binding.
            Node::Call(Func::Sum(k) | Func::Prod(k), args) if k == v => {
                if args[1..].iter().any(|b| b.contains(v)) {
                    Walk::Stop
                } else {
                    Walk::Skip
                }
            }
            _ => Walk::Descend,
        })
    }

    /// Whether any name occurs in `self`: a variable, or an indexed name (`x[1]`, which
    /// [`Expr::free_vars`] does not list). Constant time: the node's summary of the names
    /// below it is empty exactly when none does.
    pub fn has_vars(&self) -> bool {
        self.0.syms != 0
    }

    /// The variables that occur in this expression, sorted; the indices of sums and
    /// products count too, where they are bound (see [`Expr::contains`] for free).
    pub fn free_vars(&self) -> Vec<Sym> {
        // A large node's list is remembered (ids are never reused): the simplifier asks
        // for the variables of the same pre-activation of a hundred weights in every
        // search of a layer's gradient, and sorting names is what that costs.
        if self.0.size < FREE_VARS_MEMO_SIZE {
            return self.collect_free_vars();
        }
        if let Some(vs) = FREE_VARS.with(|m| m.borrow().get(&self.id()).cloned()) {
            return vs.to_vec();
        }
        let vs = self.collect_free_vars();
        FREE_VARS.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= FREE_VARS_MEMO_ENTRIES {
                m.clear();
            }
            m.insert(self.id(), vs.clone().into());
        });
        vs
    }

    fn collect_free_vars(&self) -> Vec<Sym> {
        // By reference, skipping parts without any name (their bloom is empty), each
        // shared node once; sorted at the end.
        let mut out: Vec<&Sym> = Vec::new();
        walk(std::slice::from_ref(self), |e| match e.node() {
            _ if e.0.syms == 0 => Walk::Skip,
            // A variable is one node: each is met once.
            Node::Var(s) => {
                out.push(s);
                Walk::Skip
            }
            _ => Walk::Descend,
        });
        out.sort();
        out.into_iter().cloned().collect()
    }

    /// The numeric coefficient of a term: the first part of [`Expr::coeff_rest`],
    /// without building the rest.
    pub fn coeff(&self) -> Rational {
        match self.node() {
            Node::Num(r) => r.clone(),
            Node::Mul(fs) => fs[0].as_num().cloned().unwrap_or_else(Rational::one),
            _ => Rational::one(),
        }
    }

    /// Splits off the numeric coefficient: `-3*x*y` is `(-3, x*y)`, `5` is `(5, 1)`.
    pub fn coeff_rest(&self) -> (Rational, Expr) {
        match self.node() {
            Node::Num(r) => (r.clone(), Expr::one()),
            Node::Mul(fs) => match fs[0].as_num() {
                Some(c) if fs.len() == 2 => (c.clone(), fs[1].clone()),
                Some(c) => (c.clone(), intern(Node::Mul(fs[1..].to_vec()))),
                None => (Rational::one(), self.clone()),
            },
            _ => (Rational::one(), self.clone()),
        }
    }

    /// Splits a factor into base and exponent: `x^2` is `(x, 2)`, `e^u` is `(e, u)`
    /// (base `e` stands for the exponential), anything else is `(self, 1)`.
    pub(crate) fn base_exp(&self) -> (Expr, Expr) {
        match self.node() {
            Node::Pow(b, e) => (b.clone(), e.clone()),
            Node::Call(Func::Builtin(Builtin::Exp), args) => (Expr::e(), args[0].clone()),
            _ => (self.clone(), Expr::one()),
        }
    }

    // ---- canonicalising constructors --------------------------------------------------

    /// The sum of `terms`: flattened, numbers folded, like terms collected, sorted.
    pub fn add(terms: impl IntoIterator<Item = Expr>) -> Expr {
        let mut terms: Vec<Expr> = terms.into_iter().collect();
        // (Every expression is a canonical sum of itself.)
        if terms.len() == 1 {
            return terms.pop().expect("one term");
        }
        if let Some(r) = Expr::add_pair(&terms) {
            return r;
        }
        if let Some(r) = Expr::add_one_more(&terms) {
            return r;
        }
        if terms.len() > 64 {
            // Long sums are where work without new nodes piles up: look at the clock.
            crate::limits::check();
        }
        // Flattened, in order, with the numbers folded into one constant.
        let mut constant = Rational::zero();
        let mut flat: Vec<Expr> = Vec::with_capacity(terms.len());
        let mut stack: Vec<Expr> = terms;
        stack.reverse();
        while let Some(t) = stack.pop() {
            match t.node() {
                Node::Num(r) => number::add_assign(&mut constant, r),
                Node::Add(ts) => stack.extend(ts.iter().rev().cloned()),
                _ => flat.push(t),
            }
        }
        // Like terms, by their factors but the coefficient (compared in place: no `rest`
        // is built unless terms join): the first term of each group, and the sum of the
        // group's coefficients once another term has joined it. A few terms are grouped
        // by a scan, many through a map.
        let mut groups: Vec<(usize, Option<Rational>)> = Vec::new();
        let mut index: HashMap<&[Expr], usize, IdHash> = HashMap::default();
        let scan = flat.len() <= 8;
        for (i, t) in flat.iter().enumerate() {
            let rest = t.rest_factors();
            let found = if scan {
                groups.iter().position(|&(j, _)| flat[j].rest_factors() == rest)
            } else {
                index.get(rest).copied()
            };
            match found {
                Some(g) => {
                    let (first, sum) = &mut groups[g];
                    let sum = sum.get_or_insert_with(|| flat[*first].coeff());
                    number::add_assign(sum, t.leading_num().unwrap_or(&Rational::one()));
                }
                None => {
                    if !scan {
                        index.insert(rest, groups.len());
                    }
                    groups.push((i, None));
                }
            }
        }
        let mut out: Vec<Expr> = groups
            .into_iter()
            .filter_map(|(first, sum)| match sum {
                // A term no other joined is already canonical: keep it as it is.
                None => Some(flat[first].clone()),
                Some(c) if c.is_zero() => None,
                Some(c) => {
                    Some(Expr::mul(std::iter::once(Expr::num(c)).chain(flat[first].rest_factors().iter().cloned())))
                }
            })
            .collect();
        out.sort_by(cmp_terms);
        if !constant.is_zero() {
            out.insert(0, Expr::num(constant));
        }
        match out.as_slice() {
            [] => Expr::zero(),
            [t] => t.clone(),
            _ => intern(Node::Add(out)),
        }
    }

    /// Two terms, neither a sum, that the general path would only fold: two numbers
    /// (their sum), a number and another term (their canonical sum), or like terms
    /// (`2*x + 3*x` is `5*x`; the exponents of `e^x*e^(2*x)` meet here). `None` for any
    /// other pair.
    fn add_pair(terms: &[Expr]) -> Option<Expr> {
        let [a, b] = terms else { return None };
        if matches!(a.node(), Node::Add(_)) || matches!(b.node(), Node::Add(_)) {
            return None;
        }
        match (a.as_num(), b.as_num()) {
            (Some(x), Some(y)) => {
                let mut sum = x.clone();
                number::add_assign(&mut sum, y);
                return Some(Expr::num(sum));
            }
            (Some(c), None) => return Some(number_plus(c, b)),
            (None, Some(c)) => return Some(number_plus(c, a)),
            (None, None) => {}
        }
        let rest = a.rest_factors();
        if rest != b.rest_factors() {
            return None;
        }
        let mut c = a.coeff();
        number::add_assign(&mut c, b.leading_num().unwrap_or(&Rational::one()));
        if c.is_zero() {
            return Some(Expr::zero());
        }
        Some(Expr::mul(std::iter::once(Expr::num(c)).chain(rest.iter().cloned())))
    }

    /// A canonical sum plus one more term that no term of it is like (not a number, not
    /// a sum): the term inserted in order, where the general path would hash and re-sort
    /// them all (the chain rule through nested exponentials grows one exponent a term at
    /// a time). `None` when anything could combine.
    fn add_one_more(terms: &[Expr]) -> Option<Expr> {
        let (ts, t) = one_more(terms, |n| match n {
            Node::Add(ts) => Some(ts),
            _ => None,
        })?;
        if matches!(t.node(), Node::Num(_)) {
            return None;
        }
        let rest = t.rest_factors();
        if t.leading_num().is_some_and(Zero::is_zero) || ts.iter().any(|u| u.rest_factors() == rest) {
            return None;
        }
        inserted_in_order(ts, t, cmp_terms).map(|out| intern(Node::Add(out)))
    }

    /// `a - b`.
    pub fn minus(a: Expr, b: Expr) -> Expr {
        Expr::add([a, Expr::negate(b)])
    }

    /// `-a`.
    pub fn negate(a: Expr) -> Expr {
        // A variable or a call other than e^u is canonical as a factor already: `-x` is
        // the product -1*x without the work of `mul` (a sum `x - x - ... - x` of 100,000
        // terms negates 100,000 times).
        if matches!(a.node(), Node::Var(_) | Node::Const(_))
            || matches!(a.node(), Node::Call(..)) && a.as_exp().is_none()
        {
            return intern(Node::Mul(vec![COMMON.with(|c| c.minus_one.clone()), a]));
        }
        match a.node() {
            Node::Num(r) => return Expr::num(-r),
            Node::Mul(fs) => return scaled(&-Rational::one(), fs),
            _ => {}
        }
        Expr::mul([Expr::int(-1), a])
    }

    /// `a / b`.
    pub fn quotient(a: Expr, b: Expr) -> Expr {
        Expr::mul([a, Expr::pow(b, Expr::int(-1))])
    }

    /// The product of `factors`: flattened, numbers folded into one coefficient, powers
    /// of the same base combined (`x*x` is `x^2`, `e^a*e^b` is `e^(a+b)`), sorted. A
    /// number times a sum is distributed (`2*(x + 1)` is `2*x + 2`).
    pub fn mul(factors: impl IntoIterator<Item = Expr>) -> Expr {
        let mut stack: Vec<Expr> = factors.into_iter().collect();
        // (Every expression is a canonical product of itself.)
        if stack.len() == 1 {
            return stack.pop().expect("one factor");
        }
        // A number times a canonical product changes only its coefficient; a number
        // times a sum distributes (the general path would take the sum's content out
        // first, only to multiply it back in).
        if let [a, b] = stack.as_slice() {
            match (a.node(), b.node()) {
                // (1*u is u: no rebuilding a long sum or product to multiply it by 1.)
                (Node::Num(r), _) if r.is_one() => return b.clone(),
                (_, Node::Num(r)) if r.is_one() => return a.clone(),
                (Node::Num(r), Node::Mul(fs)) | (Node::Mul(fs), Node::Num(r)) => return scaled(r, fs),
                (Node::Num(r), Node::Add(ts)) | (Node::Add(ts), Node::Num(r)) if !r.is_zero() => {
                    let c = Expr::num(r.clone());
                    return Expr::add(ts.iter().map(|t| Expr::mul([c.clone(), t.clone()])).collect::<Vec<_>>());
                }
                _ => {}
            }
        }
        if let Some(r) = Expr::mul_one_more(&stack).or_else(|| Expr::mul_merged(&stack)) {
            return r;
        }
        if stack.len() > 64 {
            crate::limits::check();
        }
        let mut coeff = Rational::one();
        // Each base once, in order of first appearance: its first exponent, more where
        // the base repeats, and the factor as given while it is alone and unchanged (it
        // is canonical already: no power is rebuilt for it). A few bases are found by a
        // scan, many through a map.
        let mut groups: Vec<(Expr, Expr, Vec<Expr>, Option<Expr>)> = Vec::with_capacity(stack.len());
        let mut index: HashMap<Expr, usize, IdHash> = HashMap::default();
        const SCAN: usize = 8;
        while let Some(f) = stack.pop() {
            match f.node() {
                Node::Num(r) => {
                    if r.is_zero() {
                        return Expr::zero();
                    }
                    // (Most coefficients are 1: no big-number product for them.)
                    if coeff.is_one() {
                        coeff = r.clone();
                    } else if !r.is_one() {
                        number::mul_assign(&mut coeff, r);
                    }
                }
                Node::Mul(fs) => stack.extend(fs.iter().cloned()),
                _ => {
                    let (mut b, e) = f.base_exp();
                    let mut given = Some(f.clone());
                    // A sum's numeric content joins the coefficient: (2 - 2*a)^n is
                    // 2^n*(1 - a)^n, and (-1 - a) is -(1 + a).
                    let n = e.as_num().filter(|r| r.is_integer());
                    if let (Some(n), Some((c, p))) = (n, b.primitive(n.is_some_and(Signed::is_negative))) {
                        if let Some(cn) = number::pow_int(&c, n.numer()) {
                            number::mul_assign(&mut coeff, &cn);
                            b = p;
                            given = None;
                        }
                    }
                    let found = if groups.len() <= SCAN {
                        groups.iter().position(|g| g.0 == b)
                    } else {
                        if index.is_empty() {
                            index.extend(groups.iter().enumerate().map(|(i, g)| (g.0.clone(), i)));
                        }
                        index.get(&b).copied()
                    };
                    match found {
                        Some(i) => {
                            groups[i].2.push(e);
                            groups[i].3 = None;
                        }
                        None => {
                            if groups.len() > SCAN {
                                index.insert(b.clone(), groups.len());
                            }
                            groups.push((b, e, Vec::new(), given));
                        }
                    }
                }
            }
        }
        let mut out: Vec<Expr> = Vec::with_capacity(groups.len() + 1);
        let mut pending: Vec<Expr> = Vec::new();
        for (b, e, more, given) in groups {
            let b_key = b.clone();
            let merged = !more.is_empty();
            let combined = if let Some(f) = given {
                f
            } else if more.is_empty() {
                if e.is_one() && !b.is_e() {
                    b
                } else {
                    Expr::pow(b, e)
                }
            } else {
                let sum = Expr::add(std::iter::once(e).chain(more).collect::<Vec<_>>());
                if sum.is_zero() {
                    assume_nonzero(&b);
                }
                Expr::pow(b, sum)
            };
            match combined.node() {
                Node::Num(r) => number::mul_assign(&mut coeff, r),
                // A power that distributed (`(x*y)^2`) or flattened (`(2^x)^-1` is
                // `2^-x`) may share a base with another factor: combine again.
                Node::Mul(fs) => pending.extend(fs.iter().cloned()),
                _ if combined.base_exp().0 != b_key => pending.push(combined),
                // Exponents that add up to an integer power of a sum with content
                // (`(2 + 2*x)^(1/2)` twice): the content joins the coefficient, as it
                // does for a power given so.
                _ if merged && integer_power_with_content(&b_key, &combined.base_exp().1) => pending.push(combined),
                _ => out.push(combined),
            }
        }
        if !pending.is_empty() {
            out.extend(pending);
            out.push(Expr::num(coeff));
            return Expr::mul(out);
        }
        if coeff.is_zero() {
            return Expr::zero();
        }
        // Roots of positive constants with the same exponent are one root:
        // sqrt(2)*sqrt(pi) is sqrt(2*pi), so that it cancels with a sqrt(2*pi) elsewhere.
        if let Some(merged) = merge_constant_roots(&out) {
            return Expr::mul(merged.into_iter().chain([Expr::num(coeff)]));
        }
        // The rules of kinks and their arguments (signs, steps, ramps), where a factor is
        // one: most products have none.
        if out.iter().any(|f| f.combines_specially() || f.base_exp().0.combines_specially()) {
            // u^k*sign(u)^k is abs(u)^k, for every real u where either is defined, whatever
            // the power k (the same on both: `y/(x*sign(x))` is `y/abs(x)` whether the
            // product is built before or after its reciprocal).
            let sign_power = |f: &Expr| match f.node() {
                Node::Pow(b, k) => b.sign_of().map(|u| (u.clone(), k.clone())),
                _ => f.sign_of().map(|u| (u.clone(), Expr::one())),
            };
            if let Some((u, k)) =
                out.iter().filter_map(sign_power).find(|(u, k)| out.contains(&Expr::pow(u.clone(), k.clone())))
            {
                let (u_k, sign_k) =
                    (Expr::pow(u.clone(), k.clone()), Expr::pow(Expr::builtin(Builtin::Sign, u.clone()), k.clone()));
                out.retain(|f| *f != u_k && *f != sign_k);
                out.push(Expr::pow(Expr::builtin(Builtin::Abs, u), k));
                out.push(Expr::num(coeff));
                return Expr::mul(out);
            }
            // (d > 0)*(-d >= 0) and (d > 0)*(-d > 0) are 0 for every d: the two never hold
            // at once (the mixed partial of `max(x, y)^2`, `heaviside(y - x)*(x >= y)`); and
            // (d > 0)*(d >= 0) is d > 0.
            match combined_comparisons(&out) {
                Some(Combined::Never) => return Expr::zero(),
                Some(Combined::Implied(i)) => {
                    out.remove(i);
                    out.push(Expr::num(coeff));
                    return Expr::mul(out);
                }
                None => {}
            }
            // heaviside(u)*relu(u)^n is relu(u)^n for n > 0: the step is 1 wherever the
            // ramp is not 0.
            let ramp_of = |f: &Expr, u: &Expr| (f.positive_power_of_relu() == Some(u)).then(Rational::one);
            if let Some((step_at, _, _, _)) = kink_and_power(&out, Expr::step_of, ramp_of) {
                out.remove(step_at);
                out.push(Expr::num(coeff));
                return Expr::mul(out);
            }
            // u^k*relu(u)^n is relu(u)^(n + k) for a whole k and a power n of the same sign
            // (so is it with max(0, u) for the ramp): x*relu(x)^2 is relu(x)^3, and the
            // reciprocal `1/(x^2*relu(x))` is `1/relu(x)^3` whether the product is built
            // before or after its reciprocal (both undefined where u <= 0). With the signs
            // mixed, `x/relu(x)`, the two are not one power: that is undefined where u < 0,
            // and 1 is not.
            for negative in [false, true] {
                let ramp_power: fn(&Expr) -> Option<&Expr> =
                    if negative { Expr::negative_power_of_relu } else { Expr::positive_power_of_relu };
                let power = |f: &Expr, u: &Expr| integer_power_of(f, u).filter(|k| k.is_negative() == negative);
                if let Some((ramp_at, at, _, k)) = kink_and_power(&out, ramp_power, power) {
                    let (ramp, n) = out[ramp_at].base_exp();
                    remove_both(&mut out, ramp_at, at);
                    out.push(Expr::pow(ramp, Expr::add([n, Expr::num(k)])));
                    out.push(Expr::num(coeff));
                    return Expr::mul(out);
                }
            }
            // heaviside(u)*u^k is relu(u)^k for a whole k > 0 (both u^k where u > 0 and 0
            // elsewhere): the derivative of x*relu(x) is 2*relu(x).
            if let Some((step_at, at, u, k)) = kink_and_power(&out, Expr::step_of, whole_power_of) {
                remove_both(&mut out, step_at, at);
                out.push(Expr::pow(Expr::builtin(Builtin::Relu, u), Expr::num(k)));
                out.push(Expr::num(coeff));
                return Expr::mul(out);
            }
            // sign(u)*abs(u)^n is u^n for an odd integer n (both undefined at u = 0 when
            // n < 0): so the derivative of ln(abs(u)) is 1/u.
            let odd_abs_power = |f: &Expr, u: &Expr| abs_power_of(f, u).filter(|n| n.numer().is_odd());
            if let Some((sign_at, at, u, n)) = kink_and_power(&out, Expr::sign_of, odd_abs_power) {
                remove_both(&mut out, sign_at, at);
                out.push(Expr::pow(u, Expr::num(n)));
                out.push(Expr::num(coeff));
                return Expr::mul(out);
            }
            // sign(u)*u^n is u^(n-1)*abs(u) for a whole n > 0 (u*sign(u) is abs(u), 0 at 0),
            // and so is sign(u)*abs(u)^n for an even n: the derivative of abs(x)^3 is
            // 3*x*abs(x).
            let power_or_even_abs_power = |f: &Expr, u: &Expr| {
                whole_power_of(f, u).or_else(|| abs_power_of(f, u).filter(|k| k.is_positive() && k.numer().is_even()))
            };
            if let Some((sign_at, at, u, k)) = kink_and_power(&out, Expr::sign_of, power_or_even_abs_power) {
                remove_both(&mut out, sign_at, at);
                out.push(Expr::pow(u.clone(), Expr::num(k - Rational::one())));
                out.push(Expr::builtin(Builtin::Abs, u));
                out.push(Expr::num(coeff));
                return Expr::mul(out);
            }
        }
        out.sort_by(cmp_factors);
        if out.is_empty() {
            return Expr::num(coeff);
        }
        if let ([f], true) = (out.as_slice(), coeff.is_one()) {
            return f.clone();
        }
        if out.len() == 1 {
            if let Node::Add(ts) = out[0].node() {
                let c = Expr::num(coeff);
                return Expr::add(ts.iter().map(|t| Expr::mul([c.clone(), t.clone()])));
            }
        }
        if !coeff.is_one() {
            out.insert(0, Expr::num(coeff));
        }
        intern(Node::Mul(out))
    }

    /// Two canonical products with no base in common: their factors merged in order (the
    /// coefficients multiplied), where the general path would group and sort them all
    /// again (the product rule through a quotient of long products meets one per
    /// factor). `None` when anything could combine.
    fn mul_merged(pair: &[Expr]) -> Option<Expr> {
        let [a, b] = pair else { return None };
        let (Node::Mul(xs), Node::Mul(ys)) = (a.node(), b.node()) else { return None };
        // (All factors, coefficients included, are looked at for what combines.)
        let special = |f: &Expr| f.combines_specially() || constant_root(f).is_some();
        if xs.iter().chain(ys).any(special) {
            return None;
        }
        let ((ca, xs), (cb, ys)) = ((a.leading_num(), a.rest_factors()), (b.leading_num(), b.rest_factors()));
        let mut coeff = ca.cloned().unwrap_or_else(Rational::one);
        if let Some(cb) = cb {
            number::mul_assign(&mut coeff, cb);
        }
        let mut out: Vec<Expr> = Vec::with_capacity(xs.len() + ys.len() + 1);
        if !coeff.is_one() {
            out.push(Expr::num(coeff));
        }
        let (long, short) = if xs.len() >= ys.len() { (xs, ys) } else { (ys, xs) };
        let shares_base = |x: &Expr, y: &Expr| x.has_base(&y.base_exp().0);
        if short.len() * 8 <= long.len() {
            // A few factors into many (the product rule's other factors times one
            // derivative): each is placed by binary search. Factors order by base first,
            // so a factor with the same base would be a neighbour of that place.
            let mut from = 0;
            for y in short {
                let at = from + long[from..].partition_point(|x| cmp_factors(x, y) == Ordering::Less);
                if long[at.saturating_sub(1)..(at + 1).min(long.len())].iter().any(|x| shares_base(x, y)) {
                    return None;
                }
                out.extend(long[from..at].iter().cloned());
                out.push(y.clone());
                from = at;
            }
            out.extend(long[from..].iter().cloned());
            return Some(intern(Node::Mul(out)));
        }
        let (mut i, mut j) = (0, 0);
        while i < xs.len() && j < ys.len() {
            let (x, y) = (&xs[i], &ys[j]);
            if shares_base(x, y) {
                return None;
            }
            if cmp_factors(x, y) == Ordering::Greater {
                out.push(y.clone());
                j += 1;
            } else {
                out.push(x.clone());
                i += 1;
            }
        }
        out.extend(xs[i..].iter().cloned());
        out.extend(ys[j..].iter().cloned());
        Some(intern(Node::Mul(out)))
    }

    /// The product of factors taken, in order, from a canonical product (all but some):
    /// canonical as they stand, so no sorting or grouping, except that a number times a
    /// lone sum distributes.
    pub(crate) fn product_of_sorted(mut fs: Vec<Expr>) -> Expr {
        match fs.as_slice() {
            [] => Expr::one(),
            [f] => f.clone(),
            _ if distributes(&fs) => Expr::mul(fs),
            _ => {
                fs.shrink_to_fit();
                intern(Node::Mul(fs))
            }
        }
    }

    /// A canonical product times one more factor whose base it does not have: the
    /// factor is inserted in order, where the general path would re-sort them all (the
    /// chain rule through a thousand nested calls builds a thousand ever longer products).
    /// `None` when anything could combine.
    fn mul_one_more(factors: &[Expr]) -> Option<Expr> {
        let (fs, f) = one_more(factors, |n| match n {
            Node::Mul(fs) => Some(fs),
            _ => None,
        })?;
        // (Roots of constants may merge: sqrt(2)*sqrt(pi) is sqrt(2*pi).)
        if matches!(f.node(), Node::Num(_))
            || f.combines_specially()
            || fs.iter().any(Expr::combines_specially)
            || constant_root(f).is_some()
        {
            return None;
        }
        let (fb, fe) = f.base_exp();
        if let Some(n) = fe.as_num().filter(|r| r.is_integer()) {
            // A sum's content joins the coefficient (as in the general path): the product
            // scaled, times the primitive sum's power, which takes this path again.
            if let Some((c, p)) = fb.primitive(n.is_negative()) {
                let cn = number::pow_int(&c, n.numer())?;
                return Some(Expr::mul([scaled(&cn, fs), Expr::pow(p, fe)]));
            }
        }
        // (The coefficient is no base: `-1*(-1)^(-1/2)` stays as the general path keeps it.)
        let mut same = fs.iter().enumerate().filter(|(_, g)| g.as_num().is_none() && g.has_base(&fb)).map(|(i, _)| i);
        match (same.next(), same.next()) {
            (None, _) => inserted_in_order(fs, f, cmp_factors).map(|out| intern(Node::Mul(out))),
            // One factor with the base: the exponents add, in its place (factors order by
            // base first, and a base stands once): e^a*e^b is e^(a + b) without re-sorting
            // the rest, where the chain rule through nested exponentials meets one at
            // every level.
            (Some(i), None) => {
                let sum = Expr::add([fs[i].base_exp().1, fe]);
                if sum.is_zero() {
                    return None;
                }
                // An integer power of a sum is the general path's to take the content out
                // of (`(2 + 2*x)^(1/2)` squared is `4 + 4*x` times the rest), and a sum to
                // the first power (`-sqrt(1 + x)*sqrt(1 + x)`) its to distribute a number over.
                if integer_power_with_content(&fb, &sum) {
                    return None;
                }
                let combined = Expr::pow(fb.clone(), sum);
                if matches!(combined.node(), Node::Num(_) | Node::Mul(_) | Node::Add(_))
                    || !combined.has_base(&fb)
                    || combined.combines_specially()
                    || constant_root(&combined).is_some()
                {
                    return None;
                }
                let mut out = fs.to_vec();
                out[i] = combined;
                Some(intern(Node::Mul(out)))
            }
            _ => None,
        }
    }

    /// Whether [`Expr::base_exp`] gives `b` as the base, without building it.
    fn has_base(&self, b: &Expr) -> bool {
        match self.node() {
            Node::Pow(base, _) => base == b,
            Node::Call(Func::Builtin(Builtin::Exp), _) => b.is_e(),
            _ => self == b,
        }
    }

    /// A sum as `c * primitive`: `c` the gcd of its coefficients, negative when every
    /// term is, and the rest. `None` when `c` is 1 or this is no sum. With `fractions`
    /// (used for sums below a fraction bar) `c` may be a fraction, so `1/(x/2 + 1/2)` is
    /// `2/(1 + x)`; otherwise only integer coefficients are factored, so `x + 0.5*x^3`
    /// keeps its look. `2 - 2*x` is `2*(1 - x)`, `-1 - a` is `-(1 + a)`.
    pub(crate) fn primitive(&self, fractions: bool) -> Option<(Rational, Expr)> {
        let Node::Add(ts) = self.node() else { return None };
        // The coefficients by reference (`None` for an implicit 1): most sums have one
        // of 1 and nothing to take out, and are asked often (every power of a sum).
        let one = Rational::one();
        let coeffs = || ts.iter().map(|t| t.leading_num().unwrap_or(&one));
        let all_negative = coeffs().all(Signed::is_negative);
        let integers = coeffs().all(Rational::is_integer);
        // The common case, cheaply: a term with coefficient 1 (or an integer sum with a
        // unit coefficient and not every sign negative) has nothing to take out.
        let unit = |c: &Rational| c.is_integer() && c.numer().magnitude().is_one();
        if integers && !all_negative && coeffs().any(unit) {
            return None;
        }
        let mut content = if fractions || integers { number::content(coeffs()) } else { Rational::one() };
        if all_negative {
            content = -content;
        }
        if content.is_one() || content.is_zero() {
            return None;
        }
        let c = Expr::num(content.clone().recip());
        Some((content, Expr::add(ts.iter().map(|t| Expr::mul([c.clone(), t.clone()])).collect::<Vec<_>>())))
    }

    fn is_e(&self) -> bool {
        self.as_exp().is_some_and(Expr::is_one)
    }

    /// `base ^ exponent`, folded where exact and valid for every real value:
    /// `x^0 = 1`, `x^1 = x`, `1^x = 1`, `e^u = exp(u)`, `(e^u)^v = e^(u*v)`,
    /// `(x^a)^n = x^(a*n)` and `(x*y)^n = x^n*y^n` for integer `n`, exact rational powers.
    pub fn pow(base: Expr, exponent: Expr) -> Expr {
        if exponent.is_zero() || base.is_one() {
            return Expr::one();
        }
        if exponent.is_one() {
            return base;
        }
        // A comparison is 0 or 1: any positive power of it is itself, and any negative
        // power its reciprocal (1 where it holds, undefined where it does not).
        if matches!(base.node(), Node::Call(Func::Cmp(_), _)) {
            match exponent.as_num() {
                Some(n) if n.is_positive() => return base,
                Some(n) if n.is_negative() && !number::is(n, -1, 1) => return Expr::pow(base, Expr::int(-1)),
                _ => {}
            }
        }
        if let Some(u) = base.as_exp() {
            return Expr::exp(Expr::mul([u.clone(), exponent]));
        }
        let int_exp: Option<BigInt> = exponent.as_num().filter(|r| r.is_integer()).map(|r| r.numer().clone());
        match (base.node(), exponent.node()) {
            (Node::Num(b), Node::Num(e)) => {
                if let Some(r) = fold_num_pow(b, e) {
                    return r;
                }
            }
            (Node::Pow(b, e), _) if int_exp.is_some() => {
                return Expr::pow(b.clone(), Expr::mul([e.clone(), exponent]));
            }
            (Node::Add(_), _) if int_exp.is_some() => {
                if let Some((c, p)) = base.primitive(int_exp.as_ref().is_some_and(Signed::is_negative)) {
                    return Expr::mul([Expr::pow(Expr::num(c), exponent.clone()), Expr::pow(p, exponent)]);
                }
            }
            (Node::Mul(fs), _) if int_exp.is_some() => {
                return Expr::mul(fs.iter().map(|f| Expr::pow(f.clone(), exponent.clone())));
            }
            // (b^2m)^r = |b|^(2m*r) for every real b: sqrt(x^2) is abs(x).
            (Node::Pow(b, e), Node::Num(_)) if e.as_num().is_some_and(|n| n.is_integer() && n.numer().is_even()) => {
                return Expr::pow(Expr::builtin(Builtin::Abs, b.clone()), Expr::mul([e.clone(), exponent]));
            }
            _ => {}
        }
        if base.is_zero() && exponent.as_num().is_some_and(Signed::is_positive) {
            return Expr::zero();
        }
        intern(Node::Pow(base, exponent))
    }

    /// `sqrt(x)`, which is `x^(1/2)`.
    pub fn sqrt(x: Expr) -> Expr {
        Expr::pow(x, Expr::num(Rational::new(1.into(), 2.into())))
    }

    /// `e^u`.
    pub fn exp(u: Expr) -> Expr {
        Expr::builtin(Builtin::Exp, u)
    }

    /// `ln(u)`.
    pub fn ln(u: Expr) -> Expr {
        Expr::builtin(Builtin::Ln, u)
    }

    /// The built-in `f` applied to `u`.
    pub fn builtin(f: Builtin, u: Expr) -> Expr {
        Expr::call(Func::Builtin(f), vec![u])
    }

    /// `a op b`, 1 where it holds and 0 elsewhere; folded where both are numbers or
    /// the same.
    pub fn compare(op: Cmp, a: Expr, b: Expr) -> Expr {
        Expr::call(Func::Cmp(op), vec![a, b])
    }

    /// `heaviside(u)`: `u > 0`, so 0 at 0 (the derivative of ReLU there, as PyTorch has it).
    pub fn heaviside(u: Expr) -> Expr {
        Expr::compare(Cmp::Gt, u, Expr::zero())
    }

    /// `if(c1, v1, ..., otherwise)` ([`Func::If`]), folded: branches whose condition is
    /// a number are dropped or taken, equal branches merge, and `if(c, 1, 0)` is the
    /// comparison `c` itself.
    pub fn piecewise(args: Vec<Expr>) -> Expr {
        Expr::call(Func::If, args)
    }

    /// A function applied to arguments, with exact values folded: a built-in's value at
    /// zero, `ln(e^u) = u`, `e^ln(u) = u`.
    pub fn call(f: Func, args: Vec<Expr>) -> Expr {
        match &f {
            Func::Cmp(op) if args.len() == 2 => return compare_node(*op, args),
            Func::If if args.len() % 2 == 1 => return piecewise_node(args),
            Func::Max | Func::Min if !args.is_empty() => return extreme_node(&f, args),
            Func::Delta if args.len() == 2 => {
                if args[0] == args[1] {
                    return Expr::one();
                }
                if let (Some(a), Some(b)) = (args[0].as_num(), args[1].as_num()) {
                    return Expr::int(i64::from(a == b));
                }
                let mut args = args;
                args.sort_by(cmp_expr);
                return intern(Node::Call(f, args));
            }
            Func::Sum(k) if !args.is_empty() => {
                let body = &args[0];
                if body.is_zero() {
                    return Expr::zero();
                }
                // sum(k, 1) over an unknown range is an atom: factoring 1 out of it again
                // recursed without end (`sum(k, x^n)`, found by the roundtrip fuzzer).
                if body.is_one() && args.len() != 3 {
                    return intern(Node::Call(f, args));
                }
                // Factors free of the index come out of the sum.
                let factors = match body.node() {
                    Node::Mul(fs) => fs.clone(),
                    _ => vec![body.clone()],
                };
                let (outside, inside): (Vec<Expr>, Vec<Expr>) = factors.into_iter().partition(|x| !x.contains(k));
                if !outside.is_empty() {
                    let mut inner = args.clone();
                    inner[0] = Expr::mul(inside);
                    if inner[0].is_one() && args.len() == 3 {
                        let count = Expr::add([args[2].clone(), Expr::negate(args[1].clone()), Expr::one()]);
                        return Expr::mul(outside.into_iter().chain([count]).collect::<Vec<_>>());
                    }
                    return Expr::mul(outside.into_iter().chain([Expr::call(f.clone(), inner)]).collect::<Vec<_>>());
                }
            }
            _ => {}
        }
        if let Func::Builtin(b) = f {
            let arg = &args[0];
            if arg.is_zero() {
                if let Some((n, d)) = b.def().at_zero {
                    return Expr::num(Rational::new(n.into(), d.into()));
                }
            }
            if let Some(folded) = abs_or_sign(b, arg) {
                return folded;
            }
            // An odd or even function of a negated argument takes the minus out or drops
            // it: `sin(-x)` is `-sin(x)`, `cosh(-2*x)` is `cosh(2*x)`.
            if let (Some(parity), Some(minus)) = (b.parity(), negated(arg)) {
                let call = Expr::call(f, vec![minus]);
                return match parity {
                    Parity::Odd => Expr::negate(call),
                    Parity::Even => call,
                };
            }
            match (b, arg.node(), arg.as_exp()) {
                (Builtin::Ln, _, Some(u)) => return u.clone(),
                (Builtin::Exp, Node::Call(Func::Builtin(Builtin::Ln), inner), _) => return inner[0].clone(),
                (Builtin::Ln, Node::Num(r), _) if r.is_one() => return Expr::zero(),
                _ => {}
            }
        }
        intern(Node::Call(f, args))
    }
}

/// `-u`, where `u` reads negative: a negative number, a product with a negative
/// coefficient, or a sum of such terms only.
fn negated(u: &Expr) -> Option<Expr> {
    let negative = |t: &Expr| t.leading_num().is_some_and(Signed::is_negative);
    let reads_negative = match u.node() {
        Node::Num(_) | Node::Mul(_) => negative(u),
        Node::Add(ts) => ts.iter().all(negative),
        _ => false,
    };
    reads_negative.then(|| Expr::negate(u.clone()))
}

/// `abs(u)` or `sign(u)` folded where exact for every real `u`: of a number; a
/// product's coefficient taken out (`abs(-2*x)` is `2*abs(x)`, `sign(-x)` is
/// `-sign(x)`); of a value never negative (`abs(e^u)` is `e^u`, `abs(x^2)` is `x^2`,
/// `abs(abs(u))` is `abs(u)`), and `sign(e^u)` is 1. `None` for any other call.
fn abs_or_sign(f: Builtin, u: &Expr) -> Option<Expr> {
    if !matches!(f, Builtin::Abs | Builtin::Sign) {
        return None;
    }
    let is_abs = f == Builtin::Abs;
    if let Some(r) = u.as_num() {
        return Some(Expr::num(if is_abs { r.abs() } else { r.signum() }));
    }
    if let (Some(c), Node::Mul(fs)) = (u.leading_num(), u.node()) {
        let rest = Expr::call(Func::Builtin(f), vec![Expr::product_of_sorted(fs[1..].to_vec())]);
        let c = if is_abs { c.abs() } else { c.signum() };
        return Some(Expr::mul([Expr::num(c), rest]));
    }
    match (is_abs, u.as_exp()) {
        (true, _) if never_negative(u) => Some(u.clone()),
        (false, Some(_)) => Some(Expr::one()),
        _ => None,
    }
}

/// The canonical product of factors `fs` times the number `r`: only the coefficient
/// changes (no factor of a canonical product combines with a number, and a product is
/// never a number times a lone sum: that is distributed).
fn scaled(r: &Rational, fs: &[Expr]) -> Expr {
    let (mut c, rest) = match fs[0].as_num() {
        Some(c) => (c.clone(), &fs[1..]),
        None => (Rational::one(), fs),
    };
    number::mul_assign(&mut c, r);
    match rest {
        _ if c.is_zero() => Expr::zero(),
        [f] if c.is_one() => f.clone(),
        _ if c.is_one() => intern(Node::Mul(rest.to_vec())),
        _ => intern(Node::Mul(std::iter::once(Expr::num(c)).chain(rest.iter().cloned()).collect())),
    }
}

/// What two comparisons among a product's factors make together.
enum Combined {
    /// `d > 0` and `-d >= 0` (or `-d > 0`): they never hold at once.
    Never,
    /// `d >= 0` (factor `i`) beside `d > 0`, which implies it.
    Implied(usize),
}

/// How two of `factors`, comparisons `d > 0` or `d >= 0` of one `d` or of `d` and `-d`,
/// combine, if any do.
fn combined_comparisons(factors: &[Expr]) -> Option<Combined> {
    fn sides(f: &Expr) -> Option<(Cmp, &Expr)> {
        match f.node() {
            Node::Call(Func::Cmp(op @ (Cmp::Gt | Cmp::Ge)), ab) => Some((*op, &ab[0])),
            _ => None,
        }
    }
    let cmps: Vec<(usize, Cmp, &Expr)> =
        factors.iter().enumerate().filter_map(|(i, f)| sides(f).map(|(op, d)| (i, op, d))).collect();
    if cmps.len() < 2 {
        return None;
    }
    for (k, &(i, op, d)) in cmps.iter().enumerate() {
        let minus_d = Expr::negate(d.clone());
        for &(j, op2, d2) in &cmps[k + 1..] {
            if *d2 == minus_d && (op == Cmp::Gt || op2 == Cmp::Gt) {
                return Some(Combined::Never);
            }
            if d2 == d && op != op2 {
                return Some(Combined::Implied(if op == Cmp::Ge { i } else { j }));
            }
        }
    }
    None
}

/// Whether `b^e` is an integer power of a sum whose numeric content [`Expr::mul`] takes
/// out into the coefficient (`2 + 2*x`, `(-1 - x)^-2`).
fn integer_power_with_content(b: &Expr, e: &Expr) -> bool {
    e.as_num().filter(|n| n.is_integer()).is_some_and(|n| b.primitive(n.is_negative()).is_some())
}

/// `c + t`, `t` neither a number nor a sum: canonical as it stands (the number first).
fn number_plus(c: &Rational, t: &Expr) -> Expr {
    if c.is_zero() {
        return t.clone();
    }
    intern(Node::Add(vec![Expr::num(c.clone()), t.clone()]))
}

/// Whether `u` is never negative, by its shape: `e^w`, `abs(w)`, an even power, a
/// product of such.
fn never_negative(u: &Expr) -> bool {
    match u.node() {
        Node::Pow(_, n) => n.as_num().is_some_and(|n| n.is_integer() && n.numer().is_even()),
        Node::Mul(fs) => fs.iter().all(never_negative),
        _ => u.as_exp().is_some() || u.abs_of().is_some(),
    }
}

macro_rules! binary_op {
    ($trait:ident, $method:ident, $build:expr) => {
        impl std::ops::$trait for Expr {
            type Output = Expr;
            fn $method(self, rhs: Expr) -> Expr {
                $build(self, rhs)
            }
        }
    };
}

binary_op!(Add, add, |a, b| Expr::add([a, b]));
binary_op!(Sub, sub, Expr::minus);
binary_op!(Mul, mul, |a, b| Expr::mul([a, b]));
binary_op!(Div, div, Expr::quotient);

impl std::ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::negate(self)
    }
}

fn fold_num_pow(b: &Rational, e: &Rational) -> Option<Expr> {
    if e.is_integer() {
        return number::pow_int(b, e.numer()).map(Expr::num);
    }
    // b^(p/q): fold when b has an exact q-th root.
    let root = number::exact_root(b, e.denom())?;
    number::pow_int(&root, e.numer()).map(Expr::num)
}

// ---- cancellations ----------------------------------------------------------------------

thread_local! {
    /// Bases that products cancelled (`x*x^-1` is 1), while [`with_assumptions`] listens.
    static ASSUMED: RefCell<Option<Vec<Expr>>> = const { RefCell::new(None) };
}

/// The first factor of `out` that `kink` reads an argument `u` off, with a factor that
/// `power` reads a power of `u` off: their indices, `u` and the power (the product rules
/// of a kink and its argument: `sign(u)*u^k`, `heaviside(u)*u^k`, `relu(u)^n*u^k`).
fn kink_and_power<'a>(
    out: &'a [Expr],
    kink: impl Fn(&'a Expr) -> Option<&'a Expr>,
    power: impl Fn(&Expr, &Expr) -> Option<Rational>,
) -> Option<(usize, usize, Expr, Rational)> {
    out.iter().enumerate().find_map(|(i, g)| {
        let u = kink(g)?;
        out.iter().enumerate().find_map(|(j, f)| Some((i, j, u.clone(), power(f, u)?)))
    })
}

/// The whole power `k > 0` that `f` is of `u` (`u` itself is its first).
fn whole_power_of(f: &Expr, u: &Expr) -> Option<Rational> {
    integer_power_of(f, u).filter(Signed::is_positive)
}

/// The integer power `k` (of either sign) that `f` is of `u`.
fn integer_power_of(f: &Expr, u: &Expr) -> Option<Rational> {
    let (b, k) = f.base_exp();
    let k = k.as_num().filter(|k| k.is_integer())?;
    (b == *u).then(|| k.clone())
}

/// The whole power `n` (of either sign) that `f` is of `abs(u)`.
fn abs_power_of(f: &Expr, u: &Expr) -> Option<Rational> {
    let (b, n) = f.base_exp();
    let n = n.as_num().filter(|n| n.is_integer())?;
    (b.abs_of() == Some(u)).then(|| n.clone())
}

/// Removes the factors at `i` and `j` (the later first, so that the earlier one still
/// stands).
fn remove_both(out: &mut Vec<Expr>, i: usize, j: usize) {
    out.remove(i.max(j));
    out.remove(i.min(j));
}

/// Records that a product cancelled `b/b` to 1, which holds only where `b` is not zero.
/// `factors` with the powers of positive constants (numbers, `pi` and products of them)
/// that share a fractional exponent multiplied under one power: `2^(1/2)*pi^(1/2)` is
/// `(2*pi)^(1/2)`. `None` when no two share one. Exact for positive bases, which is all
/// it takes.
fn merge_constant_roots(factors: &[Expr]) -> Option<Vec<Expr>> {
    let root = constant_root;
    let shared = factors.iter().enumerate().find_map(|(i, f)| {
        let x = root(f)?;
        factors[i + 1..].iter().any(|g| root(g).as_ref() == Some(&x)).then_some(x)
    })?;
    let (same, mut rest): (Vec<Expr>, Vec<Expr>) =
        factors.iter().cloned().partition(|f| root(f).as_ref() == Some(&shared));
    let bases = same.iter().map(|f| f.base_exp().0);
    rest.push(Expr::pow(Expr::mul(bases.collect::<Vec<_>>()), shared));
    Some(rest)
}

/// Of two operands, the children of the one that is a compound (as `children` reads
/// it: a sum's terms, a product's factors) and the other, which is not: what
/// [`Expr::add_one_more`] and [`Expr::mul_one_more`] insert.
fn one_more<'a>(
    pair: &'a [Expr],
    children: impl Fn(&'a Node) -> Option<&'a Vec<Expr>>,
) -> Option<(&'a Vec<Expr>, &'a Expr)> {
    let [a, b] = pair else { return None };
    match (children(a.node()), children(b.node())) {
        (Some(xs), None) => Some((xs, b)),
        (None, Some(xs)) => Some((xs, a)),
        _ => None,
    }
}

/// `xs` (sorted by `cmp` after a leading number, if any) with `x` inserted in order;
/// `None` where `x` ties with one of them.
fn inserted_in_order(xs: &[Expr], x: &Expr, cmp: fn(&Expr, &Expr) -> Ordering) -> Option<Vec<Expr>> {
    let start = usize::from(xs[0].as_num().is_some());
    let at = start + xs[start..].binary_search_by(|y| cmp(y, x)).err()?;
    let mut out = Vec::with_capacity(xs.len() + 1);
    out.extend_from_slice(&xs[..at]);
    out.push(x.clone());
    out.extend_from_slice(&xs[at..]);
    Some(out)
}

/// All of `xs` but the `i`th.
pub fn all_but(xs: &[Expr], i: usize) -> Vec<Expr> {
    xs.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, x)| x.clone()).collect()
}

/// The exponent of `f`, a root of a positive constant (`sqrt(2)`, `pi^(-1/2)`).
fn constant_root(f: &Expr) -> Option<Expr> {
    fn positive_constant(b: &Expr) -> bool {
        match b.node() {
            Node::Num(r) => r.is_positive(),
            Node::Const(Constant::Pi) => true,
            Node::Mul(fs) => fs.iter().all(positive_constant),
            _ => false,
        }
    }
    match f.node() {
        Node::Pow(b, x) if positive_constant(b) && x.as_num().is_some_and(|r| !r.is_integer()) => Some(x.clone()),
        _ => None,
    }
}

fn assume_nonzero(b: &Expr) {
    // Numbers, e^u and pi are never zero.
    if b.as_num().is_some() || b.as_exp().is_some() || matches!(b.node(), Node::Const(_)) {
        return;
    }
    ASSUMED.with(|a| {
        if let Some(v) = a.borrow_mut().as_mut() {
            if !v.contains(b) {
                v.push(b.clone());
            }
        }
    });
}

/// Runs `work`, and lists the expressions that products built meanwhile cancelled
/// against themselves (`x/x = 1`, `(a + b)^2/(a + b)^2 = 1`): the result holds only
/// where each is not zero. That is deriv's convention, and `--steps` says so.
pub(crate) fn with_assumptions<T>(work: impl FnOnce() -> T) -> (T, Vec<Expr>) {
    /// Puts back the outer listener however `work` ends (a limit unwinds through it).
    struct Listening(Option<Vec<Expr>>);
    impl Drop for Listening {
        fn drop(&mut self) {
            let outer = self.0.take();
            ASSUMED.with(|a| a.replace(outer));
        }
    }
    let _outer = Listening(ASSUMED.with(|a| a.replace(Some(Vec::new()))));
    let r = work();
    let found = ASSUMED.with(|a| a.borrow_mut().take()).expect("the listener is ours until the guard drops");
    (r, found)
}

// ---- ordering ---------------------------------------------------------------------------

fn kind_rank(e: &Expr) -> u8 {
    match e.node() {
        Node::Num(_) => 0,
        Node::Const(_) => 1,
        Node::Var(_) => 2,
        Node::Call(..) => 3,
        Node::Add(_) => 4,
        Node::Mul(_) => 5,
        Node::Pow(..) => 6,
    }
}

/// Whether the factors `fs` are a number and a sum, which [`Expr::mul`] distributes
/// (`2*(x + 1)` is `2*x + 2`) where a longer product keeps them apart.
pub(crate) fn distributes(fs: &[Expr]) -> bool {
    matches!(fs, [c, s] if c.as_num().is_some() && matches!(s.node(), Node::Add(_)))
}

/// The smallest node (in nodes written out) whose [`Expr::free_vars`] are remembered.
const FREE_VARS_MEMO_SIZE: u64 = 64;
/// How many nodes' variables are remembered before the table starts over.
const FREE_VARS_MEMO_ENTRIES: usize = 4096;

thread_local! {
    /// The variables of large nodes, by id (see [`Expr::free_vars`]).
    static FREE_VARS: RefCell<IdMap<Rc<[Sym]>>> = RefCell::new(HashMap::default());
}

thread_local! {
    /// Comparisons of deep nodes already made: comparing `cos(sin(sin(...)))` with its
    /// neighbours in a product of a thousand such factors would otherwise walk the same
    /// nesting again and again. Ids are never reused, so entries cannot go stale.
    static DEEP_ORDER: RefCell<HashMap<(u64, u64), Ordering, IdHash>> = RefCell::new(HashMap::default());
}

/// Nodes at least this deep have their comparisons remembered.
const DEEP: u32 = 12;

/// The canonical total order on expressions.
pub(crate) fn cmp_expr(a: &Expr, b: &Expr) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if a.depth().min(b.depth()) < DEEP {
        return cmp_shallow(a, b);
    }
    let key = (a.id(), b.id());
    if let Some(o) = DEEP_ORDER.with(|m| m.borrow().get(&key).copied()) {
        return o;
    }
    let o = cmp_shallow(a, b);
    DEEP_ORDER.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 1 << 20 {
            m.clear();
        }
        m.insert(key, o);
    });
    o
}

fn cmp_shallow(a: &Expr, b: &Expr) -> Ordering {
    kind_rank(a).cmp(&kind_rank(b)).then_with(|| match (a.node(), b.node()) {
        (Node::Num(x), Node::Num(y)) => x.cmp(y),
        (Node::Const(x), Node::Const(y)) => x.cmp(y),
        (Node::Var(x), Node::Var(y)) => x.cmp(y),
        (Node::Call(f, xs), Node::Call(g, ys)) => {
            let (fa, fb) = (f.sort_key(), g.sort_key());
            // (The shallower first among calls of one function: a chain of nested calls
            // is then ordered without walking down it.)
            fa.0.cmp(fb.0)
                .then_with(|| a.depth().cmp(&b.depth()))
                .then_with(|| cmp_lists(xs, ys))
                .then_with(|| fa.1.cmp(fb.1))
                .then_with(|| f.tie_key().cmp(&g.tie_key()))
        }
        (Node::Add(xs), Node::Add(ys)) | (Node::Mul(xs), Node::Mul(ys)) => cmp_lists(xs, ys),
        (Node::Pow(b1, e1), Node::Pow(b2, e2)) => cmp_expr(b1, b2).then_with(|| cmp_expr(e1, e2)),
        _ => Ordering::Equal,
    })
}

fn cmp_lists(xs: &[Expr], ys: &[Expr]) -> Ordering {
    for (x, y) in xs.iter().zip(ys) {
        let o = cmp_expr(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    xs.len().cmp(&ys.len())
}

/// Factors order by base, then exponent: `x*x^2*sin(x)` reads in that order.
fn cmp_factors(a: &Expr, b: &Expr) -> Ordering {
    // [`Expr::base_exp`] as a view: sorting and merging products compares factors most
    // of all, so nothing is cloned here.
    fn view<'a>(f: &'a Expr, c: &'a Common) -> (&'a Expr, &'a Expr) {
        match f.node() {
            Node::Pow(b, x) => (b, x),
            Node::Call(Func::Builtin(Builtin::Exp), args) => (&c.e, &args[0]),
            _ => (f, &c.one),
        }
    }
    COMMON.with(|c| {
        let ((ba, ea), (bb, eb)) = (view(a, c), view(b, c));
        cmp_expr(ba, bb).then_with(|| cmp_expr(ea, eb)).then_with(|| cmp_expr(a, b))
    })
}

/// Terms order by their factors, ignoring the coefficient; lower degree first.
fn cmp_terms(a: &Expr, b: &Expr) -> Ordering {
    // The factors without the coefficient, as a view: sorting a long sum compares terms
    // millions of times, so nothing is built here.
    let (fa, fb) = (a.rest_factors(), b.rest_factors());
    for (x, y) in fa.iter().zip(fb) {
        // (Terms of one sum share most of their factors: the same node is equal.)
        if x == y {
            continue;
        }
        let o = cmp_factors(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    fa.len().cmp(&fb.len()).then_with(|| cmp_expr(a, b))
}

// ---- walks over the DAG ------------------------------------------------------------------
//
// Every traversal of an expression goes through these: each distinct node is visited
// once (a DAG of definitions can be exponentially larger written out as a tree), with
// an explicit stack (no recursion, however deep), and each visit ticks the clock
// (`limits::tick`), so no walk outlives `--timeout`.

/// What [`walk`] does after visiting a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Visit the node's children too.
    Descend,
    /// Do not look below this node (its children are still visited where another
    /// parent reaches them).
    Skip,
    /// End the walk.
    Stop,
}

/// The ids of the nodes a walk has visited: a short list while there are few (most walks
/// are over small expressions, where a scan is cheaper than hashing every id into a
/// growing table), a table once there are more.
struct Seen {
    /// The first ids, in place (no allocation for a small walk), `len` of them.
    few: [u64; Seen::FEW],
    len: usize,
    many: std::collections::HashSet<u64, IdHash>,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen { few: [0; Seen::FEW], len: 0, many: Default::default() }
    }
}

impl Seen {
    /// The most ids kept in the list.
    const FEW: usize = 32;

    /// Adds `id`: whether it was not there yet.
    fn insert(&mut self, id: u64) -> bool {
        if self.many.is_empty() {
            if self.few[..self.len].contains(&id) {
                return false;
            }
            if self.len < Seen::FEW {
                self.few[self.len] = id;
                self.len += 1;
                return true;
            }
            self.many.extend(self.few.iter().copied());
        }
        self.many.insert(id)
    }

    fn contains(&self, id: u64) -> bool {
        if self.many.is_empty() {
            self.few[..self.len].contains(&id)
        } else {
            self.many.contains(&id)
        }
    }
}

/// Visits every distinct node under `roots` once, parents before children, depth first:
/// the last root first, and below a node its last child first. Returns whether `visit`
/// stopped the walk ([`Walk::Stop`]).
pub fn walk<'r>(roots: &'r [Expr], mut visit: impl FnMut(&'r Expr) -> Walk) -> bool {
    let mut seen = Seen::default();
    // (Room for a small expression's walk from the start: one allocation, not several.)
    let mut stack: Vec<&'r Expr> = Vec::with_capacity(roots.len().max(16));
    stack.extend(roots);
    while let Some(e) = stack.pop() {
        if !seen.insert(e.id()) {
            continue;
        }
        crate::limits::tick();
        match visit(e) {
            Walk::Descend => stack.extend(e.children().iter()),
            Walk::Skip => {}
            Walk::Stop => return true,
        }
    }
    false
}

/// The distinct nodes under `roots`, children before parents, found with an explicit
/// stack (no recursion, however deep). Only nodes for which `enter` holds are visited
/// (and their children looked at); the roots are tested too.
pub fn post_order(roots: &[Expr], mut enter: impl FnMut(&Expr) -> bool) -> Vec<Expr> {
    let mut order = Vec::new();
    let mut seen = Seen::default();
    // (node, children pushed yet?)
    let mut stack: Vec<(&Expr, bool)> = Vec::with_capacity(roots.len().max(16));
    stack.extend(roots.iter().rev().map(|r| (r, false)));
    while let Some((n, expanded)) = stack.pop() {
        if expanded {
            order.push(n.clone());
        } else if !seen.contains(n.id()) && enter(n) {
            crate::limits::tick();
            seen.insert(n.id());
            stack.push((n, true));
            stack.extend(n.children().iter().map(|c| (c, false)));
        }
    }
    order
}

/// A value for `root` computed bottom up, each distinct node once: `enter(x)` may answer
/// for `x` at once (its children are then not looked at); otherwise, once its children
/// are answered, `leave(x, answers)` gives its answer from theirs (in order). Nodes are
/// answered in the order a recursive walk would answer them (children left to right,
/// each before its parent), without recursion. Answers are kept in `memo` by node id: a
/// memo kept by the caller carries over between calls as long as `enter` and `leave`
/// compute the same function.
pub fn fold<T: Clone>(
    root: &Expr,
    memo: &mut IdMap<T>,
    mut enter: impl FnMut(&Expr) -> Option<T>,
    mut leave: impl FnMut(&Expr, &[T]) -> T,
) -> T {
    let mut stack: Vec<(&Expr, bool)> = vec![(root, false)];
    let mut below: Vec<T> = Vec::new();
    while let Some((x, expanded)) = stack.pop() {
        if expanded {
            below.clear();
            below.extend(x.children().iter().map(|c| memo.get(&c.id()).cloned().expect("children are answered first")));
            let r = leave(x, &below);
            memo.insert(x.id(), r);
        } else if let std::collections::hash_map::Entry::Vacant(slot) = memo.entry(x.id()) {
            crate::limits::tick();
            match enter(x) {
                Some(r) => {
                    slot.insert(r);
                }
                None => {
                    stack.push((x, true));
                    stack.extend(x.children().iter().rev().map(|c| (c, false)));
                }
            }
        }
    }
    memo.get(&root.id()).cloned().expect("the root is answered last")
}

/// `e` with its children replaced by `children` (as many, in order), built through the
/// constructors, so canonical; always built, even from the same children (a rewrite
/// spends the same work whatever it changed). Leaves are returned as they are.
pub fn rebuild(e: &Expr, children: &[Expr]) -> Expr {
    match e.node() {
        Node::Add(_) => Expr::add(children.to_vec()),
        Node::Mul(_) => Expr::mul(children.to_vec()),
        Node::Pow(..) => match children {
            [b, x] => Expr::pow(b.clone(), x.clone()),
            _ => unreachable!("a power is rebuilt from two children, not {}", children.len()),
        },
        Node::Call(f, _) => Expr::call(f.clone(), children.to_vec()),
        Node::Num(_) | Node::Const(_) | Node::Var(_) => e.clone(),
    }
}

/// [`rebuild`], or `e` itself when every child is the one it has.
pub(crate) fn with_children(e: &Expr, children: &[Expr]) -> Expr {
    if e.children().iter().eq(children) {
        e.clone()
    } else {
        rebuild(e, children)
    }
}

/// `e` rebuilt bottom up (calls kept whole: their arguments are parts of their own),
/// each rebuilt node passed through `at`.
pub(crate) fn rebuilt_bottom_up(e: &Expr, mut at: impl FnMut(Expr) -> Expr) -> Expr {
    let mut memo: IdMap<Expr> = IdMap::default();
    for x in post_order(std::slice::from_ref(e), |x| !matches!(x.node(), Node::Call(..))) {
        if memo.contains_key(&x.id()) {
            continue;
        }
        let rebuilt = match x.node() {
            Node::Call(..) => x.clone(),
            _ => map_children(&x, |c| memo.get(&c.id()).cloned().unwrap_or_else(|| c.clone())),
        };
        let r = at(rebuilt);
        memo.insert(x.id(), r);
    }
    memo.get(&e.id()).cloned().unwrap_or_else(|| e.clone())
}

/// `e` with each child `c` replaced by `f(c)`, rebuilt through the constructors; `e`
/// itself when no child changed.
pub fn map_children(e: &Expr, f: impl FnMut(&Expr) -> Expr) -> Expr {
    let new: Vec<Expr> = e.children().iter().map(f).collect();
    with_children(e, &new)
}

/// Whether `sub` stands somewhere in `e` as a whole subexpression.
pub(crate) fn occurs(e: &Expr, sub: &Expr) -> bool {
    walk(std::slice::from_ref(e), |x| match () {
        _ if x == sub => Walk::Stop,
        _ if x.depth() > sub.depth() => Walk::Descend,
        _ => Walk::Skip,
    })
}

/// Whether `e` holds `0` to a negative power: a division by zero the constructors keep
/// symbolic (`p = 0; 1/p` inlined, a case where a switch is 0 below a bar), which no
/// text can spell (the parser refuses `1/0`).
pub(crate) fn divides_by_zero(e: &Expr) -> bool {
    walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Pow(b, p) if b.is_zero() && p.as_num().is_some_and(Signed::is_negative) => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// Replaces every occurrence of the subexpression `from` by `to`, rebuilding canonically.
/// Inside a sum over `k`, a `from` with `k` free does not occur (its `k` is another),
/// and a `to` with `k` free has the sum's index renamed first, so that it is not captured.
pub fn replace(e: &Expr, from: &Expr, to: &Expr) -> Expr {
    let enter = |x: &Expr| match x.node() {
        _ if x == from => Some(to.clone()),
        _ if x.depth() <= from.depth() => Some(x.clone()),
        Node::Call(f @ (Func::Sum(k) | Func::Prod(k)), args) if from.contains(k) || to.contains(k) => {
            let bounds: Vec<Expr> = args[1..].iter().map(|b| replace(b, from, to)).collect();
            let (k, body) = if from.contains(k) {
                // No occurrence in the body: its `k` is the sum's.
                (k.clone(), args[0].clone())
            } else {
                // `to` would be captured: the index is renamed first.
                let fresh = fresh_index(k, &[&args[0], from, to], &[]);
                let body = substitute(&args[0], k, &Expr::sym(fresh.clone()));
                (fresh, replace(&body, from, to))
            };
            Some(Expr::call(f.rebind(k), std::iter::once(body).chain(bounds).collect()))
        }
        _ => None,
    };
    fold(e, &mut IdMap::default(), enter, rebuild)
}

/// An index name for renaming `k`, free in none of `exprs` and not in `taken`: `k1`,
/// `k2`, ...
pub(crate) fn fresh_index(k: &Sym, exprs: &[&Expr], taken: &[Sym]) -> Sym {
    (1u64..)
        .map(|n| Sym::new(&format!("{k}{n}")))
        .find(|c| !taken.contains(c) && !exprs.iter().any(|e| e.contains(c)))
        .expect("finitely many names are taken")
}

/// The names used as indices: inside `x[...]`, `delta(...)`, or summed over.
pub fn index_vars(e: &Expr) -> Vec<Sym> {
    let mut out = std::collections::BTreeSet::new();
    walk(std::slice::from_ref(e), |x| {
        match x.node() {
            Node::Call(Func::Indexed(_) | Func::Delta, args) => out.extend(args.iter().flat_map(Expr::free_vars)),
            Node::Call(Func::Sum(k) | Func::Prod(k), _) => {
                out.insert(k.clone());
            }
            _ => {}
        }
        Walk::Descend
    });
    out.into_iter().collect()
}

/// The names of the indexed variables used in `e` (`x` of `x[j]`), in order of appearance.
pub(crate) fn index_names(e: &Expr) -> Vec<Sym> {
    let mut out: Vec<Sym> = Vec::new();
    walk(std::slice::from_ref(e), |x| {
        if let Node::Call(Func::Indexed(n), _) = x.node() {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        Walk::Descend
    });
    out
}

/// Replaces every occurrence of the variable `v` by `value`, rebuilding canonically.
pub fn substitute(e: &Expr, v: &Sym, value: &Expr) -> Expr {
    let mut map = HashMap::new();
    map.insert(v.clone(), value.clone());
    substitute_all(e, &map)
}

/// [`substitute`] into a small tree, a rule's template (`2*e^(-u^2)/sqrt(pi)`): plain
/// recursion down the nodes that hold `v`, with no map and no memo. Sums and products
/// over an index take the general path.
pub(crate) fn substitute_small(e: &Expr, v: &Sym, value: &Expr) -> Expr {
    // A variable for the only variable: the constructors order nodes by their names only
    // between two variables, so the canonical template is canonical renamed, and each
    // node is interned as it stands (a row at `x`, as the chain rule and the kernel view
    // instantiate most rows, without canonicalizing it again).
    if matches!(value.node(), Node::Var(_)) && only_variable(e, v) {
        return renamed(e, v.bloom(), value);
    }
    fn go(e: &Expr, v: &Sym, mask: u64, value: &Expr) -> Expr {
        if e.0.syms & mask == 0 {
            return e.clone();
        }
        match e.node() {
            Node::Var(s) if s == v => value.clone(),
            Node::Var(_) | Node::Num(_) | Node::Const(_) => e.clone(),
            Node::Call(Func::Sum(_) | Func::Prod(_), _) => substitute(e, v, value),
            _ => {
                let children: Vec<Expr> = e.children().iter().map(|c| go(c, v, mask, value)).collect();
                with_children(e, &children)
            }
        }
    }
    go(e, v, v.bloom(), value)
}

/// Whether `v` is the only variable of `e`, which binds none.
fn only_variable(e: &Expr, v: &Sym) -> bool {
    !walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Var(s) if s != v => Walk::Stop,
        Node::Call(Func::Sum(_) | Func::Prod(_) | Func::Indexed(_), _) => Walk::Stop,
        _ => Walk::Descend,
    })
}

/// `e`, whose only variable is the one `mask` marks, with `value` (a variable) for it:
/// node by node, interned as they stand (see [`substitute_small`]).
fn renamed(e: &Expr, mask: u64, value: &Expr) -> Expr {
    if e.0.syms & mask == 0 {
        return e.clone();
    }
    let each = |xs: &[Expr]| xs.iter().map(|x| renamed(x, mask, value)).collect::<Vec<Expr>>();
    match e.node() {
        Node::Var(_) => value.clone(),
        Node::Num(_) | Node::Const(_) => e.clone(),
        Node::Add(ts) => intern(Node::Add(each(ts))),
        Node::Mul(fs) => intern(Node::Mul(each(fs))),
        Node::Pow(b, x) => intern(Node::Pow(renamed(b, mask, value), renamed(x, mask, value))),
        Node::Call(f, args) => intern(Node::Call(f.clone(), each(args))),
    }
}

/// Replaces variables by expressions, all at once, rebuilding canonically.
pub fn substitute_all(e: &Expr, map: &HashMap<Sym, Expr>) -> Expr {
    substitute_all_memo(e, map, &mut IdMap::default())
}

/// [`substitute_all`] with a memo of node results kept by the caller: valid as long as
/// `map` is the same.
pub(crate) fn substitute_all_memo(e: &Expr, map: &HashMap<Sym, Expr>, memo: &mut IdMap<Expr>) -> Expr {
    let mask = map.keys().fold(0u64, |m, s| m | s.bloom());
    // (A node without any of the names is its own answer, and is not remembered.)
    if e.0.syms & mask == 0 {
        return e.clone();
    }
    let enter = |x: &Expr| match x.node() {
        _ if x.0.syms & mask == 0 => Some(x.clone()),
        Node::Var(s) => Some(map.get(s).unwrap_or(x).clone()),
        Node::Call(f @ (Func::Sum(k) | Func::Prod(k)), args) => subst_binder(f, k, args, map, mask),
        _ => None,
    };
    fold(e, memo, enter, rebuild)
}

/// Substitution into a sum or product over `k`, where it is not the substitution
/// outside: `k` itself is not replaced in the body (it is another variable there), and
/// where a value has `k` free the index is renamed, so that it does not capture the
/// value's `k`. `None` where the body takes the same substitution as outside.
fn subst_binder(f: &Func, k: &Sym, args: &[Expr], map: &HashMap<Sym, Expr>, mask: u64) -> Option<Expr> {
    let body = &args[0];
    // The entries that can reach the body.
    let inner: HashMap<Sym, Expr> =
        map.iter().filter(|(v, _)| *v != k && body.may_contain(v)).map(|(v, x)| (v.clone(), x.clone())).collect();
    if !inner.is_empty() && !inner.values().any(|x| x.contains(k)) && !map.contains_key(k) {
        // The same substitution as outside: the caller's memo holds.
        return None;
    }
    // The bounds are outside the binding.
    let mut out: Vec<Expr> = args.to_vec();
    for o in out.iter_mut().skip(1) {
        if o.0.syms & mask != 0 {
            *o = substitute_all(o, map);
        }
    }
    let mut name = k.clone();
    if inner.is_empty() {
        // Nothing to put in.
    } else if inner.values().any(|x| x.contains(k)) {
        let values: Vec<&Expr> = std::iter::once(body).chain(inner.values()).collect();
        let taken: Vec<Sym> = inner.keys().cloned().collect();
        name = fresh_index(k, &values, &taken);
        let mut inner = inner;
        inner.insert(k.clone(), Expr::sym(name.clone()));
        out[0] = substitute_all(body, &inner);
    } else {
        out[0] = substitute_all(body, &inner);
    }
    Some(Expr::call(f.rebind(name), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x() -> Expr {
        Expr::var("x")
    }

    /// The shortcut for one more term of a sum builds what the general sum does, in the
    /// same order, and leaves like terms to it.
    #[test]
    fn one_more_term_takes_the_general_sums_shape() {
        let parse = |t: &str| crate::parse(t).unwrap();
        let terms = ["3", "x", "sin(x)", "-2*y", "x^2", "e^x*z", "cos(sin(x))", "a*b"];
        for i in 0..terms.len() {
            let rest: Vec<Expr> = terms.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, t)| parse(t)).collect();
            let sum = Expr::add(rest.clone());
            let general = Expr::add(rest.into_iter().chain([parse(terms[i])]).collect::<Vec<_>>());
            assert_eq!(Expr::add([sum.clone(), parse(terms[i])]), general, "{sum} + {}", terms[i]);
            assert_eq!(Expr::add([parse(terms[i]), sum]), general);
        }
        assert_eq!(Expr::add([parse("x + sin(x)"), parse("-x")]).to_string(), "sin(x)");
    }

    /// Roots of one sum that multiply to an integer power of it are that power as any
    /// product writes it: its content in the coefficient, a number over a lone sum
    /// distributed, whatever the order and path the factors take.
    #[test]
    fn roots_of_a_sum_that_become_a_power_are_canonical() {
        let parse = |t: &str| crate::parse(t).unwrap();
        for (product, canonical) in [
            ("-sqrt(1 + x)*sqrt(1 + x)", "-1 - x"),
            ("-sqrt(2 + 2*x)*sqrt(2 + 2*x)*y", "-2*y*(1 + x)"),
            ("y*(2 + 2*x)^(1/2)*(-1)*(2 + 2*x)^(1/2)", "-2*y*(1 + x)"),
            ("sqrt(2 + 2*x)^3*sqrt(2 + 2*x)", "4*(1 + x)^2"),
            ("(3 - 3*q)^(2/3)*(3 - 3*q)^(1/3)*s", "3*s*(1 - q)"),
        ] {
            let (p, c) = (parse(product), parse(canonical));
            assert_eq!(p, c, "{product}: {p} against {c}");
        }
        // Two factors at a time, in both orders, through the shortcuts.
        for (a, b, c) in [
            ("-sqrt(1 + x)", "sqrt(1 + x)", "-1 - x"),
            ("sqrt(2 + 2*x)", "-y*sqrt(2 + 2*x)", "-2*y*(1 + x)"),
            ("3*sqrt(1 + x)", "sqrt(1 + x)", "3 + 3*x"),
        ] {
            let (a, b, c) = (parse(a), parse(b), parse(c));
            assert_eq!(Expr::mul([a.clone(), b.clone()]), c, "{a} times {b}");
            assert_eq!(Expr::mul([b, a]), c);
        }
    }

    /// The shortcuts for a product times one more factor, and for two products (a few
    /// factors placed into many by binary search), build what the general product does:
    /// sums with content (`4*x + 4`), powers of sums, exponentials, shared bases.
    #[test]
    fn product_shortcuts_take_the_general_products_shape() {
        let parse = |t: &str| crate::parse(t).unwrap();
        let mut many: Vec<Expr> =
            ["3", "x", "(1 + x)^-1", "(2 - x)^2", "e^x", "sin(x)", "y^3", "(x + y)", "cos(y)", "z"].map(parse).to_vec();
        many.extend((1..12).map(|i| parse(&format!("w{i}"))));
        let big = Expr::mul(many.clone());
        for more in [
            "4*x + 4",
            "(2*x + 2)^-1",
            "(-3 - 3*y)^2",
            "-2*(5 + x)^-3",
            "x",
            "e^(2*x)",
            "1 + x",
            "7*q*r",
            "q*(x + 2)",
            "w3*w5^2",
        ] {
            let f = parse(more);
            let general = Expr::mul(many.iter().cloned().chain(f.factors().iter().cloned()).collect::<Vec<_>>());
            assert_eq!(Expr::mul([big.clone(), f.clone()]), general, "({big})*({more})");
            assert_eq!(Expr::mul([f.clone(), big.clone()]), general, "({more})*({big})");
        }
    }

    /// The shortcut for negating a product builds what the general product does.
    #[test]
    fn negating_takes_the_general_products_shape() {
        for text in [
            "x",
            "3",
            "-2/3",
            "2*x*y",
            "-x*y",
            "-3*x",
            "x*y",
            "-x",
            "2*sin(x)",
            "x^2*(1 - x)",
            "-(1 + x)*y",
            "e^x*y",
            "-e^x",
            "x*sign(x)*y",
            "2*(x + 1)^-1*y",
            "x + 1",
            "-x - y",
            "0.5*x^(1/2)",
            "-p*(1 - p)",
            "sum(k, x[k])*y",
        ] {
            let a = crate::parse::parse_expr(text).unwrap();
            assert_eq!(Expr::negate(a.clone()), Expr::mul([Expr::int(-1), a.clone()]), "-({text})");
            assert_eq!(Expr::negate(Expr::negate(a.clone())), a, "--({text})");
        }
    }

    #[test]
    fn equal_things_are_one_node() {
        let a = Expr::add([x(), Expr::int(1)]);
        let b = Expr::add([Expr::int(1), x()]);
        assert_eq!(a, b);
        assert_eq!(a.id(), b.id());
    }

    #[test]
    fn constructors_canonicalise() {
        assert_eq!(Expr::mul([x(), x()]), Expr::pow(x(), Expr::int(2)));
        assert_eq!(Expr::add([x(), x()]), Expr::mul([Expr::int(2), x()]));
        assert_eq!(Expr::pow(x(), Expr::zero()), Expr::one());
        assert_eq!(Expr::pow(x(), Expr::one()), x());
        assert_eq!(Expr::minus(x(), x()), Expr::zero());
        assert_eq!(Expr::quotient(x(), x()), Expr::one());
        assert_eq!(Expr::pow(Expr::int(2), Expr::int(10)), Expr::int(1024));
        assert_eq!(Expr::mul([Expr::exp(x()), Expr::exp(x())]), Expr::exp(Expr::mul([Expr::int(2), x()])));
        assert_eq!(Expr::sqrt(Expr::int(4)), Expr::int(2));
        assert_eq!(Expr::ln(Expr::exp(x())), x());
        // Roots of constants merge however the product is built, one factor at a time too.
        let half = Expr::num(Rational::new(1.into(), 2.into()));
        let root_x = Expr::mul([Expr::pow(half.clone(), half.clone()), x()]);
        assert_eq!(Expr::mul([Expr::sqrt(Expr::int(2)), root_x]), x());
        // One more factor with a number for base: the coefficient is not that base (the
        // shortcut once made -x*(-1)^(-1/2) into x*(-1)^(1/2); found by the proptests).
        let minus_x = Expr::negate(x());
        let odd = Expr::pow(Expr::int(-1), Expr::num(Rational::new((-1).into(), 2.into())));
        assert_eq!(Expr::mul([minus_x.clone(), odd.clone()]), Expr::mul([Expr::int(-1), x(), odd.clone()]));
        assert_eq!(Expr::mul([odd.clone(), minus_x]), Expr::mul([odd, x(), Expr::int(-1)]));
    }

    /// `abs` and `sign` fold where exact (numbers, coefficients, values never negative,
    /// even powers under a root), and each folded form has the value of the call as
    /// written, wherever that is defined.
    #[test]
    fn abs_and_sign_fold_exactly() {
        let cases = [
            ("abs(-2)", "2"),
            ("sign(-3/4)", "-1"),
            ("abs(-2*x/3)", "2*abs(x)/3"),
            ("sign(-5*x*y)", "-sign(x*y)"),
            ("abs(e^(x - 1))", "e^(x - 1)"),
            ("sign(e^x)", "1"),
            ("abs(x^2*y^4)", "x^2*y^4"),
            ("abs(x^2*y^3)", "abs(x^2*y^3)"),
            ("abs((1 - x)^2)", "(1 - x)^2"),
            ("abs(abs(x) - 1)", "abs(abs(x) - 1)"),
            ("abs(abs(x))", "abs(x)"),
            ("sqrt(x^2)", "abs(x)"),
            ("(x^4)^(1/4)", "abs(x)"),
            ("(x^2)^(1/3)", "abs(x)^(2/3)"),
            ("sqrt((x - 3)^-2)", "1/abs(x - 3)"),
            ("sign(x^2)", "sign(x^2)"),
            ("x*sign(x)", "abs(x)"),
            // The same power on both, whichever way the product is built (the roundtrip
            // fuzzer's `y/x/sign(x)` printed `y/(x*sign(x))`, which read back as
            // `y/abs(x)`).
            ("y/x/sign(x)", "y/abs(x)"),
            ("y/(x*sign(x))", "y/abs(x)"),
            ("x^3*sign(x)^3*y", "y*abs(x)^3"),
            ("x^2*sign(x)", "x*abs(x)"),
            ("sign(x - 1)*(x - 1)^3*y", "y*abs(x - 1)*(x - 1)^2"),
            ("sign(x)*abs(x)^2", "x*abs(x)"),
            ("sign(x)/x^2", "sign(x)/x^2"),
        ];
        let env_at =
            |v: f64| -> crate::eval::Env { [(Sym::new("x"), v), (Sym::new("y"), 0.7 - v)].into_iter().collect() };
        for (text, want) in cases {
            let folded = crate::parse::parse_expr(text).unwrap();
            assert_eq!(folded.to_string(), want, "{text}");
            // The same call built without the constructor's folds, evaluated.
            let written = text.replace("abs(", "absolute(").replace("sign(", "signum(").replace("sqrt(", "root2(");
            let unfolded = crate::parse::parse_expr(&written).unwrap();
            for v in [-2.5, -0.3, 0.4, 1.7, 3.2] {
                let env = env_at(v);
                let got = crate::eval::eval(&folded, &env).unwrap();
                let expected = eval_unfolded(&unfolded, &env);
                assert!(
                    (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                    "{text} at {v}: {got} vs {expected}"
                );
            }
        }
    }

    /// `absolute`, `signum` and `root2` (abstract calls standing for abs, sign and sqrt,
    /// so that no constructor folds them) evaluated, and everything else as usual.
    fn eval_unfolded(e: &Expr, env: &crate::eval::Env) -> f64 {
        match e.node() {
            Node::Call(Func::Abstract(f), args) => {
                let a = eval_unfolded(&args[0], env);
                match f.name.as_str() {
                    "absolute" => a.abs(),
                    "signum" => (Builtin::Sign.def().eval)(a),
                    "root2" => a.sqrt(),
                    other => panic!("no value for {other}"),
                }
            }
            Node::Num(_) | Node::Const(_) | Node::Var(_) => crate::eval::eval(e, env).unwrap(),
            Node::Add(ts) => ts.iter().map(|t| eval_unfolded(t, env)).sum(),
            Node::Mul(fs) => fs.iter().map(|f| eval_unfolded(f, env)).product(),
            Node::Pow(b, x) => eval_unfolded(b, env).powf(eval_unfolded(x, env)),
            Node::Call(Func::Builtin(f), args) => (f.def().eval)(eval_unfolded(&args[0], env)),
            _ => panic!("{e}: not in these cases"),
        }
    }

    #[test]
    fn huge_powers_stay_symbolic() {
        let p = Expr::pow(Expr::int(10), Expr::pow(Expr::int(10), Expr::int(10)));
        assert!(matches!(p.node(), Node::Pow(..)));
    }

    #[test]
    fn sums_over_different_indices_sort_apart() {
        let body = Expr::call(Func::Indexed(Sym::new("x")), vec![Expr::var("k"), Expr::var("m")]);
        let sum = |k: &str| Expr::call(Func::Sum(Sym::new(k)), vec![body.clone()]);
        assert_eq!(Expr::add([sum("k"), sum("m")]), Expr::add([sum("m"), sum("k")]));
    }

    /// `a0 = sin(x)`, `ak = a(k-1)^2 + a(k-1)`: a few nodes per level, a tree that
    /// doubles per level.
    fn doubling(n: usize, v: &Expr) -> Expr {
        let mut a = Expr::builtin(Builtin::Sin, v.clone());
        for _ in 0..n {
            a = Expr::add([Expr::pow(a.clone(), Expr::int(2)), a]);
        }
        a
    }

    #[test]
    fn walks_visit_each_node_once() {
        let e = doubling(40, &x());
        assert!(e.tree_size() > 1 << 40);
        let nodes = post_order(std::slice::from_ref(&e), |_| true).len();
        assert!(nodes < 4 * 40, "{nodes} nodes");
        let mut visits = 0;
        assert!(!walk(std::slice::from_ref(&e), |_| {
            visits += 1;
            Walk::Descend
        }));
        assert_eq!(visits, nodes);
        // A fold computes a measure of the tree in time linear in the DAG.
        let (mut entered, mut left) = (0, 0);
        let tree = fold(
            &e,
            &mut IdMap::default(),
            |_| {
                entered += 1;
                None
            },
            |_, below: &[u64]| {
                left += 1;
                1 + below.iter().sum::<u64>()
            },
        );
        assert_eq!((tree, entered, left), (e.tree_size(), nodes, nodes));
        // Every walk of this module is one of those.
        let y = Expr::var("y");
        assert!(e.contains(&Sym::new("x")) && !e.contains(&Sym::new("y")));
        assert_eq!(e.free_vars(), vec![Sym::new("x")]);
        assert!(index_vars(&e).is_empty() && index_names(&e).is_empty());
        assert_eq!(substitute(&e, &Sym::new("x"), &y), doubling(40, &y));
        assert_eq!(replace(&e, &x(), &y), doubling(40, &y));
    }

    #[test]
    fn children_are_a_view_in_order() {
        let n = Expr::var("n");
        let p = Expr::pow(x(), n.clone());
        let c = p.children();
        assert_eq!((c.len(), &c[0], &c[1]), (2, &x(), &n));
        assert_eq!(c.iter().cloned().collect::<Vec<_>>(), vec![x(), n.clone()]);
        assert_eq!(c.into_iter().collect::<Vec<_>>(), vec![x(), n]);
        assert!(x().children().is_empty());
        let s = Expr::add([x(), Expr::int(1)]);
        assert_eq!(s.children().len(), 2);
        // Rebuilt from its own children, a canonical node is itself.
        for e in [p, s, Expr::builtin(Builtin::Tanh, x())] {
            let below: Vec<Expr> = e.children().into_iter().collect();
            assert_eq!(rebuild(&e, &below), e);
            assert_eq!(map_children(&e, Expr::clone), e);
        }
    }

    #[test]
    fn hidden_names_cannot_be_typed() {
        let b1 = hidden_name("b", 1);
        assert_eq!(b1.as_str(), "#b1");
        assert!(is_hidden(&b1) && !is_hidden(&Sym::new("b1")));
        assert!(crate::parse::parse_expr("#b1").is_err());
        let t1 = trailing_hidden_name(1);
        assert_eq!(t1.as_str(), "~1");
        assert!(is_hidden(&t1) && crate::parse::parse_expr("~1").is_err());
        assert!(t1 > Sym::new("z_9") && t1 > Sym::new("Z"));
        // An element's name is the element as printed.
        let element = element_name(&Sym::new("x"), &[1, 2]);
        assert_eq!(element, Sym::new(&crate::parse::parse_expr("x[1, 2]").unwrap().to_string()));
        assert!(is_element_name(&element) && !is_element_name(&Sym::new("x")));
    }

    #[test]
    fn built_ins_print_as_their_names() {
        for f in [Builtin::Sin, Builtin::Tanh, Builtin::Tan, Builtin::Sigmoid, Builtin::Softplus] {
            assert_eq!(Expr::builtin(f, x()).to_string(), format!("{}(x)", f.name()));
        }
    }

    #[test]
    fn assumptions_are_put_back_when_the_work_unwinds() {
        let unwound = std::panic::catch_unwind(|| with_assumptions(|| std::panic::resume_unwind(Box::new(()))));
        assert!(unwound.is_err());
        assert!(ASSUMED.with(|a| a.borrow().is_none()));
        let (_, found) = with_assumptions(|| Expr::quotient(Expr::var("q"), Expr::var("q")));
        assert_eq!(found, vec![Expr::var("q")]);
    }

    #[test]
    fn contains_is_exact() {
        let e = Expr::add([Expr::var("a"), Expr::mul([Expr::var("b"), Expr::var("c")])]);
        assert!(e.contains(&Sym::new("c")));
        assert!(!e.contains(&Sym::new("x")));
    }
}
