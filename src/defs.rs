//! Definitions: `name = expr` statements and `--let` flags, gathered into one scope.
//!
//! A [`Problem`] holds every definition in the order given and the target expression
//! (the last statement). It rejects redefinitions and cycles, and can inline the
//! definitions into an expression. The names stay available, so a later stage can
//! express a result in terms of them.
//!
//! A function definition `σ(z) = 1/(1 + e^-z)` (or `f(a, b) = a*b + a`) is inlined at
//! each call by putting the arguments in for the parameters at once, so the body's other
//! names are never captured by an argument (`f(a) = a + x; f(x)` is `2*x`). Each call
//! met on the way (`σ(2*x)`) is an *instance*: a computed output like a defined name
//! ([`Problem::instances`]), so a derivative can be written in terms of `σ(2*x)`.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Nesting, Result, Span, ZeroDenominator};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::parse::{self, Statement};

/// One definition and where it was written.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The defined name.
    pub name: Sym,
    /// Index names, for an indexed definition `z[k] = ...`.
    pub params: Vec<Sym>,
    /// Parameters, for a function definition `g(u) = ...`; empty otherwise.
    pub args: Vec<Sym>,
    /// Its body, which may use other defined names.
    pub body: Expr,
    /// The span of the name in `source`.
    pub span: Span,
    /// The text the definition was read from (shared by the definitions of one text).
    pub source: Rc<str>,
}

/// How deep an expression may nest once definitions are inlined. The parser bounds
/// nesting within one statement (`parse::MAX_DEPTH`); a chain of definitions, each
/// one level deeper than the last, is bounded here, so every later stage works on
/// expressions of bounded depth.
pub const MAX_DEPTH: u32 = 10_000;

/// How many times an element of an indexed definition is inlined within what inlining
/// one gave (`z[k] = ...z[k - 1]...` would go on for ever; a real definition needs one
/// level per definition it uses).
const MAX_INDEXED_DEPTH: u32 = 64;

/// How many instances of defined functions a problem hands the simplifier as names (each
/// is searched for; a function calling others can make many).
const MAX_INSTANCES: usize = 16;

/// A function definition with its body inlined.
#[derive(Clone, Debug)]
struct Resolved {
    params: Vec<Sym>,
    /// The body with every name and every call inlined, in the parameters.
    body: Expr,
    /// The calls inlining met in the body (`σ(a)` in `f(a) = σ(a)^2`), with their
    /// inlined bodies, in the parameters: instances at each call of this function.
    calls: Vec<(Expr, Expr)>,
}

/// Definitions and a target expression.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Every definition of a name (plain or indexed), in the order given.
    pub defs: Vec<Definition>,
    /// Every function definition (`g(u) = ...`), in the order given.
    pub functions: Vec<Definition>,
    /// The expression to work on: the last statement (for a definition, its body).
    pub target: Expr,
    /// The name of the target when the last statement is a definition.
    pub target_name: Option<Sym>,
    /// What the input cancelled as it was read (`x/x` is 1 where `x` is not zero): the
    /// expressions assumed not to be zero.
    pub assumed_nonzero: Vec<Expr>,
    /// Where each definition is in `defs`, or (`true`) in `functions`.
    index: HashMap<Sym, (bool, usize)>,
    /// Each plain definition with every name in it inlined.
    resolved: HashMap<Sym, Expr>,
    /// Each function definition, inlined.
    resolved_fns: HashMap<Sym, Resolved>,
}

impl Problem {
    /// Reads `--let` values (each `NAME=DEF`) and then a program.
    pub fn load(lets: &[String], program: &str) -> Result<Problem> {
        Problem::load_statements(lets, program, false).map(|(p, ..)| p)
    }

    /// Reads `--let` values and a program whose statements are the rows of a Jacobian:
    /// every statement may be a bare expression (`p1; p2; p3`, `x*y; x + y`). The rows
    /// are the bare expressions, or, when there are none, the names the program defines
    /// (`p1 = ...; p2 = ...`; not those of `lets`). The target is the last statement.
    pub fn load_rows(lets: &[String], program: &str) -> Result<(Problem, Vec<Expr>)> {
        let (p, mut rows, from_lets) = Problem::load_statements(lets, program, true).map_err(|e| {
            if e.input() == Some(program) {
                e.map_kind(ErrorKind::in_rows)
            } else {
                e
            }
        })?;
        if p.target_name.is_none() {
            rows.push(p.target.clone());
        }
        if rows.is_empty() {
            // The program's definitions come after those of `lets`, one per `--let`.
            rows = p.defs[from_lets..].iter().map(|d| Expr::sym(d.name.clone())).collect();
        }
        Ok((p, rows))
    }

    /// [`load`](Self::load), and the bare expressions of `program` before its last
    /// statement, in order: there may be some only when `bare_anywhere`; and how many
    /// names (not functions) `lets` define.
    fn load_statements(lets: &[String], program: &str, bare_anywhere: bool) -> Result<(Problem, Vec<Expr>, usize)> {
        let mut defs: Vec<Definition> = Vec::new();
        let mut functions: Vec<Definition> = Vec::new();
        let mut index: HashMap<Sym, (bool, usize)> = HashMap::new();
        // The functions any text defines, so that every text reads calls to them.
        let heads: HashMap<String, usize> =
            lets.iter().map(String::as_str).chain([program]).flat_map(parse::function_heads).collect();
        for l in lets {
            let stmts = parse::parse_program_with(l, &heads)?;
            match stmts.as_slice() {
                [Statement { name: Some((name, span)), body, params, args, .. }] => {
                    let def = Definition {
                        name: name.clone(),
                        params: params.clone(),
                        args: args.clone(),
                        body: body.clone(),
                        span: *span,
                        source: Rc::from(l.as_str()),
                    };
                    push_def(&mut defs, &mut functions, &mut index, def)?;
                }
                _ => return Err(Error::at(ErrorKind::LetNotDefinition, Span::new(0, l.len()), l)),
            }
        }
        let from_lets = defs.len();
        let (stmts, assumed_nonzero) = expr::with_assumptions(|| parse::parse_program_with(program, &heads));
        let stmts = stmts?;
        let source: Rc<str> = Rc::from(program);
        let last = stmts.len() - 1;
        let mut target = None;
        let mut bare = Vec::new();
        // Where the target and each bare expression are written.
        let mut spans = Vec::new();
        for (i, s) in stmts.into_iter().enumerate() {
            if i == last || s.name.is_none() {
                spans.push(s.span);
            }
            match s.name {
                Some((name, span)) => {
                    let def = Definition {
                        name: name.clone(),
                        params: s.params.clone(),
                        args: s.args.clone(),
                        body: s.body.clone(),
                        span,
                        source: source.clone(),
                    };
                    push_def(&mut defs, &mut functions, &mut index, def)?;
                    if i == last && !s.args.is_empty() {
                        // A function last: the target is its call at its parameters.
                        let f = Func::Abstract(expr::AbstractFn { name, partials: Vec::new() });
                        target = Some((None, Expr::call(f, s.args.iter().cloned().map(Expr::sym).collect())));
                    } else if i == last {
                        target = Some((Some(name), s.body));
                    }
                }
                None if i == last => target = Some((None, s.body)),
                None if bare_anywhere => bare.push(s.body),
                None => return Err(Error::at(ErrorKind::BareExpression, s.span, program)),
            }
        }
        let (target_name, target) = target.ok_or_else(|| Error::new(ErrorKind::Empty { comments: false }))?;
        let mut p = Problem {
            defs,
            functions,
            target,
            target_name,
            assumed_nonzero,
            index,
            resolved: HashMap::new(),
            resolved_fns: HashMap::new(),
        };
        let order = p.dependency_order()?;
        p.resolve_all(&order)?;
        // Only a name defined as 0, or an argument put in, can bring a new division by zero.
        let zero_names = p.resolved.values().any(Expr::is_zero) || !p.functions.is_empty();
        if zero_names && p.resolved.values().any(expr::divides_by_zero) {
            return Err(zero_denominator());
        }
        for d in &p.defs {
            if let Some(kind) = p.resolved.get(&d.name).and_then(inlined_index) {
                return Err(Error::at(kind, d.span, &d.source));
            }
        }
        for (e, span) in bare.iter().chain([&p.target]).zip(&spans) {
            let inlined = p.expand_calls(&p.inline_plain(e), &mut Vec::new());
            if zero_names && expr::divides_by_zero(&inlined) {
                return Err(zero_denominator());
            }
            if inlined.depth() > MAX_DEPTH {
                return Err(Error::new(ErrorKind::TooDeep { limit: MAX_DEPTH as usize, nesting: Nesting::Inlined }));
            }
            if let Some(kind) = inlined_index(&inlined) {
                return Err(Error::at(kind, *span, program));
            }
        }
        Ok((p, bare, from_lets))
    }

    /// Where the last statement defines a name that another definition uses, as in
    /// `L = (y - t)^2/2; y = tanh(w*x)`, which differentiates `y` (the target is the
    /// last statement, whatever the order): that definition, the first definition that
    /// uses it, and the one name no definition uses, if there is exactly one (what was
    /// likely meant).
    pub fn used_target(&self) -> Option<(&Definition, Sym, Option<Sym>)> {
        let target = self.get(self.target_name.as_ref()?)?;
        let mut user = None;
        let mut used: std::collections::HashSet<Sym> = std::collections::HashSet::new();
        for d in self.defs.iter().chain(&self.functions) {
            let deps = self.deps(&d.name);
            if user.is_none() && deps.contains(&target.name) {
                user = Some(d.name.clone());
            }
            used.extend(deps);
        }
        let user = user?;
        let mut unused = self.defs.iter().filter(|d| !used.contains(&d.name));
        let meant = match (unused.next(), unused.next()) {
            (Some(d), None) => Some(d.name.clone()),
            _ => None,
        };
        Some((target, user, meant))
    }

    /// The definition of `name`, if there is one (not a function: see [`function`](Self::function)).
    pub fn get(&self, name: &Sym) -> Option<&Definition> {
        self.index.get(name).filter(|(f, _)| !f).map(|&(_, i)| &self.defs[i])
    }

    /// The function definition of `name`, if there is one.
    pub fn function(&self, name: &Sym) -> Option<&Definition> {
        self.index.get(name).filter(|(f, _)| *f).map(|&(_, i)| &self.functions[i])
    }

    /// The definition of a name or a function.
    fn any(&self, name: &Sym) -> Option<&Definition> {
        self.index.get(name).map(|&(f, i)| if f { &self.functions[i] } else { &self.defs[i] })
    }

    /// `wrt` as a variable to differentiate by: a name (`parse::check_variable`) that
    /// is not defined here.
    pub fn variable(&self, wrt: &str) -> Result<Sym> {
        let x = parse::check_variable(wrt)?;
        self.check_wrt(&x)?;
        Ok(x)
    }

    /// `Ok` unless `x` is a name defined here: a defined name stands for its
    /// definition, so there is nothing to differentiate by.
    pub fn check_wrt(&self, x: &Sym) -> Result<()> {
        match self.any(x) {
            Some(d) => Err(Error::new(ErrorKind::DefinedVariable {
                name: x.to_string(),
                definition: Some(crate::print::text::to_text(&d.body)),
            })),
            None => Ok(()),
        }
    }

    /// The defined names and functions `name`'s body uses, in order (a function's
    /// parameters are its own, whatever else they name).
    fn deps(&self, name: &Sym) -> Vec<Sym> {
        let Some(d) = self.any(name) else { return Vec::new() };
        let mut out: Vec<Sym> =
            d.body.free_vars().into_iter().filter(|v| self.get(v).is_some() && !d.args.contains(v)).collect();
        for n in called_functions(&d.body) {
            if self.function(&n).is_some() && !out.contains(&n) {
                out.push(n);
            }
        }
        // Indexed names used in the body (`z[m]`) count too: `z[k] = ...*z[k1]` is a
        // cycle (inlining it never ended; found by the parse fuzzer).
        for n in expr::index_names(&d.body) {
            if self.get(&n).is_some() && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    /// Every definition, each after those it uses; a cycle is an error. Depth-first with
    /// an explicit stack, so a chain of 100,000 definitions is no deeper a recursion
    /// than one.
    fn dependency_order(&self) -> Result<Vec<Sym>> {
        // 1 = on the current path, 2 = done.
        let mut state: HashMap<Sym, u8> = HashMap::new();
        let mut order = Vec::new();
        for d in self.defs.iter().chain(&self.functions) {
            if state.contains_key(&d.name) {
                continue;
            }
            state.insert(d.name.clone(), 1);
            let mut deps = self.deps(&d.name);
            deps.reverse();
            let mut path: Vec<(Sym, Vec<Sym>)> = vec![(d.name.clone(), deps)];
            while let Some((_, pending)) = path.last_mut() {
                let Some(v) = pending.pop() else {
                    if let Some((n, _)) = path.pop() {
                        state.insert(n.clone(), 2);
                        order.push(n);
                    }
                    continue;
                };
                match state.get(&v) {
                    Some(2) => {}
                    Some(_) => return Err(self.cycle_error(&path, &v)),
                    None => {
                        state.insert(v.clone(), 1);
                        let mut deps = self.deps(&v);
                        deps.reverse();
                        path.push((v, deps));
                    }
                }
            }
        }
        Ok(order)
    }

    fn cycle_error(&self, path: &[(Sym, Vec<Sym>)], name: &Sym) -> Error {
        let start = path.iter().position(|(n, _)| n == name).expect("a cycle closes on a name on the path");
        let mut names: Vec<String> = path[start..].iter().map(|(n, _)| n.to_string()).collect();
        names.push(name.to_string());
        let kind = if path[start..].iter().any(|(n, _)| self.function(n).is_some()) {
            ErrorKind::RecursiveFunction { names }
        } else {
            ErrorKind::Cycle { names }
        };
        match self.any(name) {
            Some(def) => Error::at(kind, def.span, &def.source),
            None => Error::new(kind),
        }
    }

    /// Inlines every definition into the ones after it in `order`, refusing a result
    /// deeper than [`MAX_DEPTH`].
    fn resolve_all(&mut self, order: &[Sym]) -> Result<()> {
        for name in order {
            if let Some(f) = self.function(name) {
                let body = self.inline_plain_except(&f.body, &f.args);
                let mut calls = Vec::new();
                let body = self.expand_calls(&body, &mut calls);
                // Only so many become names; a chain of functions must not grow a list
                // per function as long as the chain.
                calls.truncate(MAX_INSTANCES);
                if body.depth() > MAX_DEPTH {
                    let nesting = Nesting::Definition { name: name.to_string(), depth: body.depth() };
                    let kind = ErrorKind::TooDeep { limit: MAX_DEPTH as usize, nesting };
                    return Err(Error::at(kind, f.span, &f.source));
                }
                let resolved = Resolved { params: f.args.clone(), body, calls };
                self.resolved_fns.insert(name.clone(), resolved);
                continue;
            }
            let Some(def) = self.get(name) else { continue };
            let e = self.inline_plain(&def.body);
            let e = self.expand_calls(&e, &mut Vec::new());
            if e.depth() > MAX_DEPTH {
                let nesting = Nesting::Definition { name: name.to_string(), depth: e.depth() };
                let kind = ErrorKind::TooDeep { limit: MAX_DEPTH as usize, nesting };
                return Err(Error::at(kind, def.span, &def.source));
            }
            self.resolved.insert(name.clone(), e);
        }
        Ok(())
    }

    /// `e` with the plain (not indexed) names it uses replaced by their inlined bodies.
    fn inline_plain(&self, e: &Expr) -> Expr {
        self.inline_plain_except(e, &[])
    }

    /// [`inline_plain`](Self::inline_plain) but for the names `keep` (a function's
    /// parameters, which stand for its arguments whatever else they name).
    fn inline_plain_except(&self, e: &Expr, keep: &[Sym]) -> Expr {
        if self.resolved.is_empty() {
            return e.clone();
        }
        let mut map: HashMap<Sym, Expr> = HashMap::new();
        expr::walk(std::slice::from_ref(e), |x| {
            if let Node::Var(v) = x.node() {
                if let Some(r) = self.resolved.get(v).filter(|_| !keep.contains(v)) {
                    map.insert(v.clone(), r.clone());
                }
            }
            Walk::Descend
        });
        if map.is_empty() {
            return e.clone();
        }
        expr::substitute_all(e, &map)
    }

    /// `e` with every call of a defined function replaced by the function's inlined body
    /// with the (inlined) arguments put in for the parameters, all at once, so that no
    /// argument is captured by a parameter. Each call is pushed to `calls` with what it
    /// became, and so are the calls inlining met in the function's body.
    fn expand_calls(&self, e: &Expr, calls: &mut Vec<(Expr, Expr)>) -> Expr {
        if self.resolved_fns.is_empty() {
            return e.clone();
        }
        let leave = |x: &Expr, kids: &[Expr]| match x.node() {
            Node::Call(Func::Abstract(a), _) if a.partials.is_empty() => match self.resolved_fns.get(&a.name) {
                Some(f) if f.params.len() == kids.len() => {
                    let map: HashMap<Sym, Expr> = f.params.iter().cloned().zip(kids.iter().cloned()).collect();
                    let body = expr::substitute_all(&f.body, &map);
                    calls.push((expr::rebuild(x, kids), body.clone()));
                    for (c, b) in &f.calls {
                        calls.push((expr::substitute_all(c, &map), expr::substitute_all(b, &map)));
                    }
                    body
                }
                _ => expr::rebuild(x, kids),
            },
            _ => expr::rebuild(x, kids),
        };
        expr::fold(e, &mut IdMap::default(), |_| None, leave)
    }

    /// `e` with every defined name replaced by its (fully inlined) definition; an
    /// indexed name `z[m]` by its definition with the indices put in, and a call of a
    /// defined function by its body at the arguments.
    pub fn inline(&self, e: &Expr) -> Expr {
        let e = self.inline_plain(e);
        let e = self.expand_calls(&e, &mut Vec::new());
        self.inline_indexed(&e, 0)
    }

    /// The calls of defined functions in the target, such as `σ(2*x)` (arguments
    /// inlined), and those their bodies make, each with its inlined body: outputs a
    /// result may be written in, as a defined name is (at most [`MAX_INSTANCES`]).
    pub fn instances(&self) -> Vec<(Expr, Expr)> {
        let mut calls = Vec::new();
        self.expand_calls(&self.inline_plain(&self.target), &mut calls);
        let mut out: Vec<(Expr, Expr)> = Vec::new();
        for (c, b) in calls {
            if out.len() < MAX_INSTANCES && !out.iter().any(|(d, _)| *d == c) {
                out.push((c, b));
            }
        }
        out
    }

    /// `e` with each element `z[m]` of an indexed definition replaced by the definition
    /// with the indices put in (inlined again, down to [`MAX_INDEXED_DEPTH`] levels).
    fn inline_indexed(&self, e: &Expr, depth: u32) -> Expr {
        if depth > MAX_INDEXED_DEPTH || !self.defs.iter().any(|d| !d.params.is_empty()) {
            return e.clone();
        }
        let enter = |x: &Expr| match x.node() {
            Node::Call(Func::Indexed(n), idx) => Some(match self.get(n).filter(|d| d.params.len() == idx.len()) {
                Some(d) => {
                    // Substitution renames a summed index that would capture one put in
                    // (`z[k] = sum(j, ...)` at `k = j`).
                    let map: HashMap<Sym, Expr> = d.params.iter().cloned().zip(idx.iter().cloned()).collect();
                    self.inline_indexed(&expr::substitute_all(&self.inline(&d.body), &map), depth + 1)
                }
                None => x.clone(),
            }),
            _ => None,
        };
        expr::fold(e, &mut IdMap::default(), enter, expr::rebuild)
    }

    /// Every definition with its body fully inlined, in the order given except that the
    /// target's own definition comes first: it is the output a result is most naturally
    /// written in. These are the names the simplifier may use (`Problem::names`, in
    /// `crate::names`, hands them over).
    pub fn inlined_defs(&self) -> Vec<(Sym, Expr)> {
        let mut defs: Vec<(Sym, Expr)> = self
            .defs
            .iter()
            .map(|d| {
                let body = match self.resolved.get(&d.name) {
                    Some(r) => self.inline_indexed(r, 0),
                    None => self.inline(&d.body),
                };
                (d.name.clone(), body)
            })
            .collect();
        let own = match self.target.node() {
            Node::Var(v) if self.get(v).is_some() => Some(v.clone()),
            _ => self.target_name.clone(),
        };
        if let Some(i) = defs.iter().position(|(n, _)| Some(n) == own.as_ref()) {
            let own = defs.remove(i);
            defs.insert(0, own);
        }
        defs
    }

    /// The target with all definitions inlined.
    pub fn inlined_target(&self) -> Expr {
        self.inline(&self.target)
    }
}

/// The first element `x[i]` in `e` whose index `i` is neither a name nor a whole
/// number, as an error: only inlining can make one (`z = sin(y); x[z]`, or `f(j) =
/// x[j]; f(y + 1)`), and the text it would print could not be read back.
fn inlined_index(e: &Expr) -> Option<ErrorKind> {
    let mut found = None;
    expr::walk(std::slice::from_ref(e), |x| {
        if let Node::Call(Func::Indexed(_), idx) = x.node() {
            let whole = |i: &Expr| i.as_num().is_some_and(|n| n.is_integer() && !num_traits::Signed::is_negative(n));
            if let Some(i) = idx.iter().find(|i| !matches!(i.node(), Node::Var(_)) && !whole(i)) {
                let text = crate::print::text::to_text;
                found = Some(ErrorKind::InlinedIndex { element: text(x), index: text(i) });
                return Walk::Stop;
            }
        }
        Walk::Descend
    });
    found
}

fn zero_denominator() -> Error {
    Error::new(ErrorKind::DivisionByZero(ZeroDenominator::ZeroName))
}

fn push_def(
    defs: &mut Vec<Definition>,
    functions: &mut Vec<Definition>,
    index: &mut HashMap<Sym, (bool, usize)>,
    def: Definition,
) -> Result<()> {
    if index.contains_key(&def.name) {
        let kind = ErrorKind::Redefined { name: def.name.to_string() };
        return Err(Error::at(kind, def.span, &def.source));
    }
    let list = if def.args.is_empty() { defs } else { functions };
    index.insert(def.name.clone(), (!def.args.is_empty(), list.len()));
    list.push(def);
    Ok(())
}

/// The names of the abstract functions `e` calls without primes.
fn called_functions(e: &Expr) -> Vec<Sym> {
    let mut out: Vec<Sym> = Vec::new();
    expr::walk(std::slice::from_ref(e), |x| {
        if let Node::Call(Func::Abstract(a), _) = x.node() {
            if a.partials.is_empty() && !out.contains(&a.name) {
                out.push(a.name.clone());
            }
        }
        Walk::Descend
    });
    out
}
