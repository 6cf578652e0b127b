//! Definitions: `name = expr` statements and `--let` flags, gathered into one scope.
//!
//! A [`Problem`] holds every definition in the order given and the target expression
//! (the last statement). It rejects redefinitions and cycles, and can inline the
//! definitions into an expression. The names stay available, so a later stage can
//! express a result in terms of them.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::parse::{self, Statement};

/// One definition and where it was written.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The defined name.
    pub name: Sym,
    /// Index names, for an indexed definition `z[k] = ...`.
    pub params: Vec<Sym>,
    /// Its body, which may use other defined names.
    pub body: Expr,
    /// The span of the name in `source`.
    pub span: Span,
    /// The text the definition was read from (shared by the definitions of one text).
    pub source: Rc<str>,
}

/// How deep an expression may nest once definitions are inlined. The parser bounds
/// nesting within one statement ([`parse::MAX_DEPTH`]); a chain of definitions, each
/// one level deeper than the last, is bounded here, so every later stage works on
/// expressions of bounded depth.
pub const MAX_DEPTH: u32 = 10_000;

/// How many times an element of an indexed definition is inlined within what inlining
/// one gave (`z[k] = ...z[k - 1]...` would go on for ever; a real definition needs one
/// level per definition it uses).
const MAX_INDEXED_DEPTH: u32 = 64;

/// Definitions and a target expression.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Every definition, in the order given.
    pub defs: Vec<Definition>,
    /// The expression to work on: the last statement (for a definition, its body).
    pub target: Expr,
    /// The name of the target when the last statement is a definition.
    pub target_name: Option<Sym>,
    /// What the input cancelled as it was read (`x/x` is 1 where `x` is not zero): the
    /// expressions assumed not to be zero.
    pub assumed_nonzero: Vec<Expr>,
    /// Where each definition is in `defs`.
    index: HashMap<Sym, usize>,
    /// Each plain definition with every name in it inlined.
    resolved: HashMap<Sym, Expr>,
}

impl Problem {
    /// Reads `--let` values (each `NAME=DEF`) and then a program.
    pub fn load(lets: &[String], program: &str) -> Result<Problem> {
        Problem::load_statements(lets, program, false).map(|(p, _)| p)
    }

    /// Reads `--let` values and a program whose statements are the rows of a Jacobian:
    /// every statement may be a bare expression (`p1; p2; p3`, `x*y; x + y`). The rows
    /// are the bare expressions, or, when there are none, the names the program defines
    /// (`p1 = ...; p2 = ...`; not those of `lets`). The target is the last statement.
    pub fn load_rows(lets: &[String], program: &str) -> Result<(Problem, Vec<Expr>)> {
        let (p, mut rows) = Problem::load_statements(lets, program, true).map_err(|e| match &e.kind {
            ErrorKind::Expected { found, .. } if found.starts_with("`,`") && e.source.as_deref() == Some(program) => {
                e.with_hint("rows are separated by `;`, as in `p1; p2; p3`")
            }
            _ => e,
        })?;
        if p.target_name.is_none() {
            rows.push(p.target.clone());
        }
        if rows.is_empty() {
            rows = p.defs.iter().filter(|d| *d.source == *program).map(|d| Expr::sym(d.name.clone())).collect();
        }
        Ok((p, rows))
    }

    /// [`load`](Self::load), and the bare expressions of `program` before its last
    /// statement, in order: there may be some only when `bare_anywhere`.
    fn load_statements(lets: &[String], program: &str, bare_anywhere: bool) -> Result<(Problem, Vec<Expr>)> {
        let mut defs: Vec<Definition> = Vec::new();
        let mut index: HashMap<Sym, usize> = HashMap::new();
        for l in lets {
            let stmts = parse::parse_program(l)?;
            match stmts.as_slice() {
                [Statement { name: Some((name, span)), body, params, .. }] => {
                    let def = Definition {
                        name: name.clone(),
                        params: params.clone(),
                        body: body.clone(),
                        span: *span,
                        source: Rc::from(l.as_str()),
                    };
                    push_def(&mut defs, &mut index, def)?;
                }
                _ => {
                    return Err(Error::at(
                        ErrorKind::Argument("--let takes one definition, NAME=EXPRESSION".into()),
                        Span::new(0, l.len()),
                        l,
                    ))
                }
            }
        }
        let (stmts, assumed_nonzero) = expr::with_assumptions(|| parse::parse_program(program));
        let stmts = stmts?;
        let source: Rc<str> = Rc::from(program);
        let last = stmts.len() - 1;
        let mut target = None;
        let mut bare = Vec::new();
        for (i, s) in stmts.into_iter().enumerate() {
            match s.name {
                Some((name, span)) => {
                    let def = Definition {
                        name: name.clone(),
                        params: s.params.clone(),
                        body: s.body.clone(),
                        span,
                        source: source.clone(),
                    };
                    push_def(&mut defs, &mut index, def)?;
                    if i == last {
                        target = Some((Some(name), s.body));
                    }
                }
                None if i == last => target = Some((None, s.body)),
                None if bare_anywhere => bare.push(s.body),
                None => {
                    return Err(Error::at(
                        ErrorKind::Definition("only the last statement may be a bare expression".into()),
                        s.span,
                        program,
                    )
                    .with_hint("name it: `y = ...`"))
                }
            }
        }
        let (target_name, target) = target.ok_or_else(|| Error::new(ErrorKind::Empty))?;
        let mut p = Problem { defs, target, target_name, assumed_nonzero, index, resolved: HashMap::new() };
        let order = p.dependency_order()?;
        p.resolve_all(&order)?;
        // Only a name defined as 0 can bring a new division by zero.
        let zero_names = p.resolved.values().any(Expr::is_zero);
        if zero_names && p.resolved.values().any(divides_by_zero) {
            return Err(zero_denominator());
        }
        for e in bare.iter().chain([&p.target]) {
            let inlined = p.inline_plain(e);
            if zero_names && divides_by_zero(&inlined) {
                return Err(zero_denominator());
            }
            if inlined.depth() > MAX_DEPTH {
                return Err(Error::new(ErrorKind::TooDeep(MAX_DEPTH as usize))
                    .with_hint("the definitions, inlined, nest deeper than deriv works"));
            }
        }
        Ok((p, bare))
    }

    /// The definition of `name`, if there is one.
    pub fn get(&self, name: &Sym) -> Option<&Definition> {
        self.index.get(name).map(|&i| &self.defs[i])
    }

    /// The defined names `name`'s body uses, in order.
    fn deps(&self, name: &Sym) -> Vec<Sym> {
        let Some(d) = self.get(name) else { return Vec::new() };
        let mut out: Vec<Sym> = d.body.free_vars().into_iter().filter(|v| self.get(v).is_some()).collect();
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
        for d in &self.defs {
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
        let mut names: Vec<&str> = path[start..].iter().map(|(n, _)| n.as_str()).collect();
        names.push(name.as_str());
        let msg = if names.len() == 2 {
            format!("`{name}` is defined in terms of itself")
        } else {
            format!("definitions form a cycle: {}", names.join(" -> "))
        };
        let e = match self.get(name) {
            Some(def) => Error::at(ErrorKind::Definition(msg), def.span, &def.source),
            None => Error::new(ErrorKind::Definition(msg)),
        };
        e.with_hint(if names.len() == 2 {
            "a name stands for its definition, so the definition cannot use it: rename one of them"
        } else {
            "a definition may use only names that do not depend on it"
        })
    }

    /// Inlines every definition into the ones after it in `order`, refusing a result
    /// deeper than [`MAX_DEPTH`].
    fn resolve_all(&mut self, order: &[Sym]) -> Result<()> {
        for name in order {
            let Some(def) = self.get(name) else { continue };
            let e = self.inline_plain(&def.body);
            if e.depth() > MAX_DEPTH {
                return Err(Error::at(ErrorKind::TooDeep(MAX_DEPTH as usize), def.span, &def.source).with_hint(
                    format!("`{name}`, with the definitions it uses inlined, nests {} levels deep", e.depth()),
                ));
            }
            self.resolved.insert(name.clone(), e);
        }
        Ok(())
    }

    /// `e` with the plain (not indexed) names it uses replaced by their inlined bodies.
    fn inline_plain(&self, e: &Expr) -> Expr {
        if self.resolved.is_empty() {
            return e.clone();
        }
        let mut map: HashMap<Sym, Expr> = HashMap::new();
        expr::walk(std::slice::from_ref(e), |x| {
            if let Node::Var(v) = x.node() {
                if let Some(r) = self.resolved.get(v) {
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

    /// `e` with every defined name replaced by its (fully inlined) definition; an
    /// indexed name `z[m]` by its definition with the indices put in.
    pub fn inline(&self, e: &Expr) -> Expr {
        let e = self.inline_plain(e);
        self.inline_indexed(&e, 0)
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

    /// The definitions as names the simplifier may use (bodies inlined), the target's own
    /// name first: it is the output the result is most naturally written in.
    pub fn names(&self, wrt: Option<&Sym>) -> crate::simplify::Names {
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
            crate::expr::Node::Var(v) if self.get(v).is_some() => Some(v.clone()),
            _ => self.target_name.clone(),
        };
        if let Some(i) = defs.iter().position(|(n, _)| Some(n) == own.as_ref()) {
            let own = defs.remove(i);
            defs.insert(0, own);
        }
        crate::simplify::Names { defs, wrt: wrt.cloned() }
    }

    /// The target with all definitions inlined.
    pub fn inlined_target(&self) -> Expr {
        self.inline(&self.target)
    }
}

/// Whether `e` holds `0` to a negative power: a division by zero that inlining a
/// definition made (`p = 0; 1/p`).
fn divides_by_zero(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Pow(b, p) if b.is_zero() && p.as_num().is_some_and(num_traits::Signed::is_negative) => Walk::Stop,
        _ => Walk::Descend,
    })
}

fn zero_denominator() -> Error {
    Error::new(ErrorKind::DivisionByZero).with_hint("a name that is defined as 0 stands in a denominator")
}

fn push_def(defs: &mut Vec<Definition>, index: &mut HashMap<Sym, usize>, def: Definition) -> Result<()> {
    if index.contains_key(&def.name) {
        let name = &def.name;
        return Err(Error::at(ErrorKind::Definition(format!("`{name}` is already defined")), def.span, &def.source)
            .with_hint("each name is defined once: rename one of the definitions"));
    }
    index.insert(def.name.clone(), defs.len());
    defs.push(def);
    Ok(())
}
