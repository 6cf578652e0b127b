//! Definitions: `name = expr` statements and `--let` flags, gathered into one scope.
//!
//! A [`Problem`] holds every definition in the order given and the target expression
//! (the last statement). It rejects redefinitions and cycles, and can inline the
//! definitions into an expression. The names stay available, so a later stage can
//! express a result in terms of them.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::expr::{self, Expr, Func, Node, Sym};
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
    /// The text the definition was read from.
    pub source: String,
}

/// Definitions and a target expression.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Every definition, in the order given.
    pub defs: Vec<Definition>,
    /// The expression to work on: the last statement (for a definition, its body).
    pub target: Expr,
    /// The name of the target when the last statement is a definition.
    pub target_name: Option<Sym>,
}

impl Problem {
    /// Reads `--let` values (each `NAME=DEF`) and then a program.
    pub fn load(lets: &[String], program: &str) -> Result<Problem> {
        let mut defs: Vec<Definition> = Vec::new();
        for l in lets {
            let stmts = parse::parse_program(l)?;
            match stmts.as_slice() {
                [Statement { name: Some((name, span)), body, params, .. }] => {
                    push_def(&mut defs, name.clone(), params.clone(), body.clone(), *span, l)?;
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
        let stmts = parse::parse_program(program)?;
        let last = stmts.len() - 1;
        let mut target = None;
        for (i, s) in stmts.into_iter().enumerate() {
            match s.name {
                Some((name, span)) => {
                    push_def(&mut defs, name.clone(), s.params.clone(), s.body.clone(), span, program)?;
                    if i == last {
                        target = Some((Some(name), s.body));
                    }
                }
                None if i == last => target = Some((None, s.body)),
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
        let p = Problem { defs, target, target_name };
        p.check_cycles()?;
        Ok(p)
    }

    /// The definition of `name`, if there is one.
    pub fn get(&self, name: &Sym) -> Option<&Definition> {
        self.defs.iter().find(|d| &d.name == name)
    }

    fn check_cycles(&self) -> Result<()> {
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state: HashMap<Sym, u8> = HashMap::new();
        for d in &self.defs {
            let mut path = Vec::new();
            self.visit(&d.name, &mut state, &mut path)?;
        }
        Ok(())
    }

    fn visit(&self, name: &Sym, state: &mut HashMap<Sym, u8>, path: &mut Vec<Sym>) -> Result<()> {
        let Some(def) = self.get(name) else {
            return Ok(());
        };
        match state.get(name) {
            Some(2) => return Ok(()),
            Some(1) => {
                let start = path.iter().position(|n| n == name).unwrap_or(0);
                let mut names: Vec<&str> = path[start..].iter().map(Sym::as_str).collect();
                names.push(name.as_str());
                let msg = if names.len() == 2 {
                    format!("`{name}` is defined in terms of itself")
                } else {
                    format!("definitions form a cycle: {}", names.join(" -> "))
                };
                return Err(Error::at(ErrorKind::Definition(msg), def.span, &def.source));
            }
            _ => {}
        }
        state.insert(name.clone(), 1);
        path.push(name.clone());
        for v in def.body.free_vars() {
            self.visit(&v, state, path)?;
        }
        path.pop();
        state.insert(name.clone(), 2);
        Ok(())
    }

    /// `e` with every defined name replaced by its (fully inlined) definition; an
    /// indexed name `z[m]` by its definition with the indices put in.
    pub fn inline(&self, e: &Expr) -> Expr {
        let mut resolved: HashMap<Sym, Expr> = HashMap::new();
        // Definitions are acyclic, so resolving each in dependency order terminates.
        for d in self.defs.iter().filter(|d| d.params.is_empty()) {
            self.resolve(&d.name, &mut resolved);
        }
        let e = expr::substitute_all(e, &resolved);
        self.inline_indexed(&e, 0)
    }

    fn inline_indexed(&self, e: &Expr, depth: u32) -> Expr {
        if depth > 64 || !self.defs.iter().any(|d| !d.params.is_empty()) {
            return e.clone();
        }
        match e.node() {
            Node::Call(Func::Indexed(n), idx) => match self.get(n).filter(|d| d.params.len() == idx.len()) {
                Some(d) => {
                    let avoid: Vec<Sym> = idx.iter().flat_map(Expr::free_vars).collect();
                    let body = rename_bound(&self.inline(&d.body), &avoid);
                    let map: HashMap<Sym, Expr> = d.params.iter().cloned().zip(idx.iter().cloned()).collect();
                    self.inline_indexed(&expr::substitute_all(&body, &map), depth + 1)
                }
                None => e.clone(),
            },
            Node::Add(ts) => Expr::add(ts.iter().map(|t| self.inline_indexed(t, depth)).collect::<Vec<_>>()),
            Node::Mul(fs) => Expr::mul(fs.iter().map(|f| self.inline_indexed(f, depth)).collect::<Vec<_>>()),
            Node::Pow(b, x) => Expr::pow(self.inline_indexed(b, depth), self.inline_indexed(x, depth)),
            Node::Call(f, args) => Expr::call(f.clone(), args.iter().map(|a| self.inline_indexed(a, depth)).collect()),
            _ => e.clone(),
        }
    }

    fn resolve(&self, name: &Sym, resolved: &mut HashMap<Sym, Expr>) -> Option<Expr> {
        if let Some(e) = resolved.get(name) {
            return Some(e.clone());
        }
        let def = self.get(name)?;
        let mut map = HashMap::new();
        for v in def.body.free_vars() {
            if let Some(r) = self.resolve(&v, resolved) {
                map.insert(v, r);
            }
        }
        let e = expr::substitute_all(&def.body, &map);
        resolved.insert(name.clone(), e.clone());
        Some(e)
    }

    /// The definitions as names the simplifier may use (bodies inlined), the target's own
    /// name first: it is the output the result is most naturally written in.
    pub fn names(&self, wrt: Option<&Sym>) -> crate::simplify::Names {
        let mut defs: Vec<(Sym, Expr)> = self.defs.iter().map(|d| (d.name.clone(), self.inline(&d.body))).collect();
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

/// `e` with every summed index that is in `avoid` renamed, so that putting indices into
/// a definition never captures one (`z[k] = sum(j, ...)` at `k = j`).
pub fn rename_bound(e: &Expr, avoid: &[Sym]) -> Expr {
    match e.node() {
        Node::Call(Func::Sum(k), args) if avoid.contains(k) => {
            let fresh = (1..)
                .map(|n| Sym::new(&format!("{k}{n}")))
                .find(|c| !avoid.contains(c) && !e.contains(c))
                .unwrap_or_else(|| k.clone());
            let mut a: Vec<Expr> = args.iter().map(|x| rename_bound(x, avoid)).collect();
            a[0] = expr::substitute(&a[0], k, &Expr::sym(fresh.clone()));
            Expr::call(Func::Sum(fresh), a)
        }
        Node::Add(ts) => Expr::add(ts.iter().map(|t| rename_bound(t, avoid)).collect::<Vec<_>>()),
        Node::Mul(fs) => Expr::mul(fs.iter().map(|f| rename_bound(f, avoid)).collect::<Vec<_>>()),
        Node::Pow(b, x) => Expr::pow(rename_bound(b, avoid), rename_bound(x, avoid)),
        Node::Call(f, args) => Expr::call(f.clone(), args.iter().map(|a| rename_bound(a, avoid)).collect()),
        _ => e.clone(),
    }
}

fn push_def(
    defs: &mut Vec<Definition>,
    name: Sym,
    params: Vec<Sym>,
    body: Expr,
    span: Span,
    source: &str,
) -> Result<()> {
    if defs.iter().any(|d| d.name == name) {
        return Err(Error::at(ErrorKind::Definition(format!("`{name}` is already defined")), span, source));
    }
    defs.push(Definition { name, params, body, span, source: source.to_owned() });
    Ok(())
}
