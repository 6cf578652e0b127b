//! Case analysis: an expression whose kinks (comparisons, `max`, `min`, `relu`, `abs`,
//! `sign`, `if`) all turn on one variable, linearly, is written as one `if` over the
//! intervals between the kinks. On each interval every kink is decided (its arguments
//! are linear, so their sign at an interior point is their sign throughout), and what
//! is left is an ordinary expression for the rest of the simplifier. At a kink itself the
//! branch whose formula gives the input's own value there is the one the condition
//! chooses, so the form agrees with the input everywhere, kinks included: hardswish's
//! derivative written with `clamp` comes out as PyTorch's three branches.

use crate::expr::{self, Cmp, Expr, Func, IdMap, Node, Sym};
use crate::func::Builtin;
use crate::number::Rational;

/// The most kinks a case analysis takes on.
const MAX_KINKS: usize = 6;

/// `e` as `if(v < r1, e1, v <= r2, e2, ..., e_last)` (each `e_k` `e` decided on its
/// interval, passed through `simplify`), or `None` where `e` has no kink, kinks in more
/// than one variable, or a kink that is not linear.
/// `inline` writes out the names, so that values at a kink compare.
pub(crate) fn by_cases(e: &Expr, simplify: impl Fn(&Expr) -> Expr, inline: impl Fn(&Expr) -> Expr) -> Option<Expr> {
    let mut v: Option<Sym> = None;
    let mut kinks: Vec<Rational> = Vec::new();
    // Switches with a kink inside (`y + 3*heaviside(-y)/2`) bend there: three points on
    // one side of it would call them linear with a root that is not theirs. Their roots
    // are found interval by interval once the plain kinks are known.
    let mut nested: Vec<Expr> = Vec::new();
    let mut ok = true;
    expr::walk(std::slice::from_ref(e), |x| {
        for d in switches(x) {
            if has_kinks(&d) {
                nested.push(d);
                continue;
            }
            match root(&d, &mut v) {
                Some(Some(r)) => kinks.push(r),
                Some(None) => {}
                None => ok = false,
            }
        }
        if ok {
            expr::Walk::Descend
        } else {
            expr::Walk::Stop
        }
    });
    let v = v?;
    kinks.sort();
    kinks.dedup();
    if !ok || kinks.is_empty() || kinks.len() > MAX_KINKS {
        return None;
    }
    let plain = kinks.clone();
    for d in &nested {
        kinks.extend(nested_roots(d, &v, &plain)?);
    }
    kinks.sort();
    kinks.dedup();
    if kinks.len() > MAX_KINKS {
        return None;
    }
    let var = Expr::sym(v.clone());
    // The formula on each interval, decided at a point inside it.
    let formulas: Vec<Expr> = interior_points(&kinks).iter().map(|p| decided(e, &v, p)).collect::<Option<_>>()?;
    // Undefined on a whole interval (`1/heaviside(x - 3)` below 3): no formula to write
    // there, and `0^(-1)` would print as text that does not read back.
    if formulas.iter().any(expr::divides_by_zero) {
        return None;
    }
    let formulas: Vec<Expr> = formulas.iter().map(&simplify).collect();
    let written = inline(e);
    let mut args = Vec::new();
    for (k, r) in kinks.iter().enumerate() {
        let at = |f: &Expr| expr::substitute(&inline(f), &v, &Expr::num(r.clone()));
        // The input's value at the kink, and which side's formula gives it.
        let own_formula = decided(e, &v, r)?;
        let own = at(&own_formula);
        let (left, right) = (at(&formulas[k]), at(&formulas[k + 1]));
        // Where the input itself is undefined at the kink (the 0/0 of `x^4/abs(x)^3`'s
        // derivative at 0, which deciding `abs(x)` as `x` there cancels away), no value is
        // owed there: the left branch's condition takes the point.
        let take_left = left == own || undefined_at(&written, &v, r);
        let r = Expr::num(r.clone());
        if take_left {
            args.push(Expr::compare(Cmp::Ge, r, var.clone()));
            args.push(formulas[k].clone());
        } else {
            args.push(Expr::compare(Cmp::Gt, r.clone(), var.clone()));
            args.push(formulas[k].clone());
            if right != own {
                args.push(Expr::compare(Cmp::Eq, var.clone(), r));
                args.push(simplify(&own_formula));
            }
        }
    }
    args.push(formulas[formulas.len() - 1].clone());
    Some(Expr::piecewise(args))
}

/// The roots of a switch `d` with kinks inside, those kinks among `plain` (sorted): on
/// each interval between them `d` is decided and linear, and its root there, if it has
/// one in the interval, is a kink. `None` where a kink inside is itself nested or `d` is
/// not linear on an interval.
fn nested_roots(d: &Expr, v: &Sym, plain: &[Rational]) -> Option<Vec<Rational>> {
    let mut inner_nested = false;
    expr::walk(std::slice::from_ref(d), |x| {
        inner_nested |= switches(x).iter().any(has_kinks);
        expr::Walk::Descend
    });
    if inner_nested {
        return None;
    }
    let mut out = Vec::new();
    for (i, p) in interior_points(plain).iter().enumerate() {
        let (lo, hi) = (i.checked_sub(1).map(|j| &plain[j]), plain.get(i));
        let mut var = Some(v.clone());
        match root(&decided(d, v, p)?, &mut var)? {
            Some(r) if lo.is_none_or(|l| *l <= r) && hi.is_none_or(|h| r <= *h) => out.push(r),
            _ => {}
        }
    }
    Some(out)
}

/// A point inside each interval that the sorted, non-empty `kinks` cut the line into:
/// one before the first, the midpoints, one after the last.
fn interior_points(kinks: &[Rational]) -> Vec<Rational> {
    let one = Rational::from_integer(1.into());
    let mut points: Vec<Rational> = vec![&kinks[0] - &one];
    points.extend(kinks.windows(2).map(|w| (&w[0] + &w[1]) / Rational::from_integer(2.into())));
    points.push(&kinks[kinks.len() - 1] + &one);
    points
}

/// Whether `e` evaluates to no finite number at `v = r` (in floating point, where `r` is
/// exact in it), any other variable at a value with nothing special about it.
fn undefined_at(e: &Expr, v: &Sym, r: &Rational) -> bool {
    let x = crate::number::to_f64(r);
    if !r.is_integer() || x.abs() > 1e15 {
        return false;
    }
    let mut at: std::collections::HashMap<Sym, f64> = e.free_vars().into_iter().map(|w| (w, 0.618_033_988_7)).collect();
    at.insert(v.clone(), x);
    matches!(crate::eval::eval_with::<f64>(e, &at, None), Ok(y) if !y.is_finite())
}

/// Whether `e` has a kink [`by_cases`] could take apart (a comparison, `max`, `min`,
/// `relu`, `abs` or `sign`).
pub(crate) fn has_kinks(e: &Expr) -> bool {
    expr::walk(std::slice::from_ref(e), |x| if switches(x).is_empty() { expr::Walk::Descend } else { expr::Walk::Stop })
}

/// The quantities whose sign decides the kink `x` (`d` of `d > 0`, `a - b` for each pair
/// of a `max`, the argument of `relu`, `abs`, `sign`); none for anything else.
fn switches(x: &Expr) -> Vec<Expr> {
    match x.node() {
        Node::Call(Func::Cmp(_), ab) => vec![Expr::minus(ab[0].clone(), ab[1].clone())],
        Node::Call(Func::Max | Func::Min, xs) => xs
            .iter()
            .enumerate()
            .flat_map(|(i, a)| xs[i + 1..].iter().map(move |b| Expr::minus(a.clone(), b.clone())))
            .collect(),
        Node::Call(Func::Builtin(Builtin::Relu | Builtin::Abs | Builtin::Sign), u) => vec![u[0].clone()],
        _ => Vec::new(),
    }
}

/// The root of `d` where it is linear in one variable, that variable `v` (set on the
/// first, the same for all): `Some(None)` where `d` is a number, `None` where it is not
/// linear or in another variable.
fn root(d: &Expr, v: &mut Option<Sym>) -> Option<Option<Rational>> {
    if d.as_num().is_some() {
        return Some(None);
    }
    let vars = d.free_vars();
    let [x] = vars.as_slice() else { return None };
    if v.get_or_insert_with(|| x.clone()) != x {
        return None;
    }
    let at = |n: i64| expr::substitute(d, x, &Expr::int(n)).as_num().cloned();
    let (d0, d1, d2) = (at(0)?, at(1)?, at(2)?);
    let a = &d1 - &d0;
    // Linear: the second difference is zero (and the slope is not).
    if &d2 - &d1 != a || a == Rational::from_integer(0.into()) {
        return None;
    }
    Some(Some(-d0 / a))
}

/// `e` with every kink decided at `v = p`: comparisons to 0 or 1, `max` and `min` to the
/// argument that wins there (the first at a tie), `relu`, `abs`, `sign` and `if` to their
/// formula there. `None` where a kink cannot be decided.
fn decided(e: &Expr, v: &Sym, p: &Rational) -> Option<Expr> {
    let value = |x: &Expr| expr::substitute(x, v, &Expr::num(p.clone())).as_num().cloned();
    let mut failed = false;
    let mut memo: IdMap<Expr> = IdMap::default();
    let out = expr::fold(
        e,
        &mut memo,
        |x| matches!(x.node(), Node::Num(_) | Node::Const(_) | Node::Var(_)).then(|| x.clone()),
        |x, below| {
            let x = expr::rebuild(x, below);
            let zero = Rational::from_integer(0.into());
            let decide = |d: &Expr| value(d);
            match x.node() {
                Node::Call(Func::Cmp(op), ab) => match decide(&Expr::minus(ab[0].clone(), ab[1].clone())) {
                    Some(d) => Expr::int(i64::from(match op {
                        Cmp::Gt => d > zero,
                        Cmp::Ge => d >= zero,
                        Cmp::Eq => d == zero,
                        Cmp::Ne => d != zero,
                    })),
                    None => {
                        failed = true;
                        x.clone()
                    }
                },
                Node::Call(f @ (Func::Max | Func::Min), xs) => {
                    let mut best = 0;
                    for i in 1..xs.len() {
                        match decide(&Expr::minus(xs[i].clone(), xs[best].clone())) {
                            Some(d) if (*f == Func::Max && d > zero) || (*f == Func::Min && d < zero) => best = i,
                            Some(_) => {}
                            None => failed = true,
                        }
                    }
                    xs[best].clone()
                }
                Node::Call(Func::Builtin(b @ (Builtin::Relu | Builtin::Abs | Builtin::Sign)), u) => match decide(&u[0])
                {
                    Some(d) => match b {
                        Builtin::Relu if d > zero => u[0].clone(),
                        Builtin::Relu => Expr::zero(),
                        Builtin::Abs if d < zero => Expr::negate(u[0].clone()),
                        Builtin::Abs => u[0].clone(),
                        _ => Expr::int(if d > zero {
                            1
                        } else if d < zero {
                            -1
                        } else {
                            0
                        }),
                    },
                    None => {
                        failed = true;
                        x.clone()
                    }
                },
                _ => x.clone(),
            }
        },
    );
    (!failed).then_some(out)
}
