//! Collecting a sum around a common factor: `b*y - b*y*s + s` is also
//! `b*y + s*(1 - b*y)`. After names are substituted, a form's terms often share a
//! factor that the polynomial normal form multiplied out; each factor shared by two or
//! more terms gives one candidate, which the search takes only where it is strictly
//! cheaper, proved equal and checked like any other.

use crate::expr::{Expr, Func, Node};
use crate::func::Builtin;

/// The most terms a sum may have to be collected, and the most factors tried per sum.
const MAX_TERMS: usize = 12;
const MAX_FACTORS: usize = 6;

/// `e`, a sum, with the terms that share a factor written as the factors they all share
/// times the sum of the rest of them, one form per shared factor (numbers aside). Empty when `e` is
/// not a sum or no factor is shared.
pub(crate) fn around_common_factors(e: &Expr) -> Vec<Expr> {
    let Node::Add(terms) = e.node() else { return Vec::new() };
    if terms.len() > MAX_TERMS {
        return Vec::new();
    }
    let factors_of = |t: &Expr| -> Vec<Expr> {
        match t.node() {
            Node::Mul(fs) => fs.iter().filter(|f| f.as_num().is_none()).cloned().collect(),
            Node::Num(_) => Vec::new(),
            _ => vec![t.clone()],
        }
    };
    // (Each term's factors listed once: the pairs below ask them again and again.)
    let factors: Vec<Vec<Expr>> = terms.iter().map(factors_of).collect();
    let mut shared: Vec<Expr> = Vec::new();
    for (i, fs) in factors.iter().enumerate() {
        for f in fs {
            if !shared.contains(f) && factors[i + 1..].iter().any(|gs| gs.contains(f)) {
                shared.push(f.clone());
            }
        }
    }
    shared
        .into_iter()
        .take(MAX_FACTORS)
        .map(|f| {
            let (with, rest): (Vec<usize>, Vec<usize>) = (0..terms.len()).partition(|&i| factors[i].contains(&f));
            // Every factor the group shares comes out, not only `f`: `q*a/T^2 - q*b/T^2`
            // is `q*(a - b)/T^2`.
            let mut common = factors[with[0]].clone();
            common.retain(|g| with[1..].iter().all(|&i| factors[i].contains(g)));
            // Each term without them: its other factors, numbers too (what dividing by
            // the common factors leaves, without dividing: each is one of its factors).
            let without = |t: &Expr| match t.node() {
                Node::Mul(fs) => Expr::mul(fs.iter().filter(|f| !common.contains(f)).cloned().collect::<Vec<_>>()),
                _ => Expr::int(1),
            };
            let inner = Expr::add(with.iter().map(|&i| without(&terms[i])).collect::<Vec<_>>());
            let common = Expr::mul(common);
            // A fraction every collected term has comes out too: `a*(1 - t^2)/2`, not
            // `a*(1/2 - t^2/2)` (but `a*(1 - t/2)` stays).
            let fractional = |t: &Expr| t.leading_num().is_some_and(|c| !c.is_integer());
            let all_fractional = matches!(inner.node(), Node::Add(ts) if ts.iter().all(fractional));
            let collected = match all_fractional.then(|| inner.primitive(true)).flatten() {
                Some((c, p)) => Expr::mul([Expr::num(c), common, p]),
                None => Expr::mul([common, inner]),
            };
            Expr::add(rest.iter().map(|&i| terms[i].clone()).chain([collected]).collect::<Vec<_>>())
        })
        .filter(|c| c != e)
        .collect()
}

/// `e`, a sum with a term `c*abs(u)`, with `c*u + c*abs(u)` written `2*c*relu(u)`, one
/// form per such term: `(x + abs(x))/2` is `relu(x)`. (The identity holds everywhere, so
/// the form is `e` itself where `e` has no `c*u` to take: the search keeps it only
/// where strictly cheaper.)
pub(crate) fn as_relus(e: &Expr) -> Vec<Expr> {
    let Node::Add(terms) = e.node() else { return Vec::new() };
    terms
        .iter()
        .take(MAX_TERMS)
        .filter_map(|t| {
            let (c, rest) = t.coeff_rest();
            let u = match rest.node() {
                Node::Call(Func::Builtin(Builtin::Abs), args) => args[0].clone(),
                _ => return None,
            };
            let c = Expr::num(c);
            let relu = Expr::mul([Expr::int(2), c.clone(), Expr::builtin(Builtin::Relu, u.clone())]);
            let taken = Expr::negate(Expr::mul([c, Expr::add([u, rest])]));
            Some(Expr::add([e.clone(), taken, relu]))
        })
        .filter(|r| r != e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_expr;

    #[test]
    fn terms_sharing_a_factor_are_collected_around_it() {
        let e = parse_expr("b*y - b*y*s + s").unwrap();
        let forms: Vec<String> = around_common_factors(&e).iter().map(Expr::to_string).collect();
        assert!(forms.contains(&"b*y + s*(1 - b*y)".to_owned()), "{forms:?}");
        assert!(around_common_factors(&parse_expr("x + y").unwrap()).is_empty());
        // What the collected terms' numbers share comes out with the factor.
        let e = parse_expr("a/2 - a*t^2/2 + 3*b").unwrap();
        let forms: Vec<String> = around_common_factors(&e).iter().map(Expr::to_string).collect();
        assert!(forms.contains(&"a*(1 - t^2)/2 + 3*b".to_owned()), "{forms:?}");
    }
}
