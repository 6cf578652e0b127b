//! Step-by-step derivations: every line equals the line before it (numerically, with
//! unevaluated derivatives taken by dual numbers), and the steps are snapshotted, the
//! way a user of deriv would pin them in their own tests.

use deriv::check::{mixed_error, random_point, Rng};
use deriv::eval::Model;

#[track_caller]
fn checked(src: &str, wrt: &str) -> deriv::derivation::Derivation {
    let der = deriv::derivation(src, wrt).unwrap_or_else(|e| panic!("{src}: {e}"));
    let problem = deriv::defs::Problem::load(&[], src).unwrap();
    let mut vars = problem.inlined_target().free_vars();
    vars.push(deriv::Sym::new(wrt));
    vars.sort();
    vars.dedup();
    let bodies: Vec<(deriv::Sym, deriv::Expr)> =
        problem.defs.iter().map(|d| (d.name.clone(), problem.inline(&d.body))).collect();
    let model = Model::new(3);
    let mut rng = Rng::new(17);
    let mut compared = 0;
    for _ in 0..100 {
        let mut env = random_point(&vars, &mut rng);
        let mut defined = true;
        for (n, b) in &bodies {
            let v = deriv::eval::eval_with(b, &env, Some(&model)).unwrap();
            defined &= v.is_finite();
            env.insert(n.clone(), v);
        }
        let values: Vec<f64> = der.steps.iter().map(|s| s.term.eval(&env, &model).unwrap()).collect();
        if !defined || values.iter().any(|v| !v.is_finite() || v.abs() > 1e6) {
            continue;
        }
        for (w, s) in values.windows(2).zip(der.steps.iter().skip(1)) {
            assert!(
                mixed_error(w[1], w[0]) < 1e-9,
                "{src}: step `{}` ({}) differs: {} vs {}",
                s.term.to_text(),
                s.rule,
                w[1],
                w[0]
            );
        }
        compared += 1;
    }
    assert!(compared >= 10, "{src}: only {compared} points");
    der
}

#[test]
fn sigmoid_through_the_quotient_rule() {
    let der = checked("p = e^z/(1+e^z)", "z");
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("p*(1 - p)"));
    insta::assert_snapshot!(der.to_string());
    insta::assert_snapshot!(der.to_latex());
}

#[test]
fn tanh_through_sinh_and_cosh() {
    let der = checked("sinh(x)/cosh(x)", "x");
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("1 - tanh(x)^2"));
    insta::assert_snapshot!(der.to_string());
}

#[test]
fn worked_examples() {
    let cases = [
        ("p = 1/(1+e^-z)", "z"),
        ("p1 = e^z1/(e^z1 + e^z2 + e^z3); p2 = e^z2/(e^z1 + e^z2 + e^z3); p1", "z2"),
        ("z = x1*w11 + x2*w21; E = 1/2*(g(z) - t)^2", "w11"),
        ("y = ln(1 + e^x)", "x"),
        ("x*sigmoid(x)", "x"),
        ("x^2*sin(x)", "x"),
        ("x^x", "x"),
    ];
    let out: Vec<String> = cases.iter().map(|(s, x)| checked(s, x).to_string()).collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// A derivation ends in what `deriv diff` prints, also where that is the input's
/// built-ins recognized (`ln(1 + e^x)` is `softplus(x)`) or another form of equal cost.
#[test]
fn derivations_end_in_what_diff_prints() {
    for (src, x) in [
        ("x*tanh(ln(1+e^x))", "x"),
        ("q*tanh(ln(1+e^q))", "q"),
        ("u*sigmoid(u)", "u"),
        ("s/(1+e^(-s))", "s"),
        ("w/2*(1+erf(w/sqrt(2)))", "w"),
        ("ln(1+e^(2*y))", "y"),
        ("e^z/(1+e^z)", "z"),
        ("p = e^z/(1+e^z)", "z"),
    ] {
        let der = checked(src, x);
        let printed = deriv::derivative(src, x).unwrap().to_string();
        assert_eq!(der.result().map(|e| e.to_string()), Some(printed), "{src}");
    }
    // The last step names the built-ins it brings in, innermost: not `tanh(softplus(x))`.
    let der = checked("x*tanh(ln(1+e^x))", "x");
    assert_eq!(der.steps.last().map(|s| s.rule.as_str()), Some("in terms of softplus(x), sigmoid(x)"));
    // In LaTeX, as the calls are written in the lines.
    assert!(der.to_latex().contains("in terms of $\\operatorname{softplus}(x)$"), "{}", der.to_latex());
}

/// What README shows a user: pin a derivative with insta.
#[test]
fn users_snapshot_a_derivative() {
    insta::assert_snapshot!(deriv::derivative("p = e^z/(1+e^z)", "z").unwrap().to_string(), @"p*(1 - p)");
}

/// The derivation of `src`'s target by the element `wrt` (`z[j]`), with the facts
/// `assume`, every line of it and of its lemmas checked against the line before: at
/// sizes K = 2..5, the sums expanded, the free indices given values, at random points
/// (where `fix` makes the facts hold).
#[track_caller]
fn checked_indexed(
    src: &str,
    wrt: &str,
    assume: &[&str],
    fix: &dyn Fn(&mut deriv::eval::Env, i64),
) -> deriv::derivation::Derivation {
    use deriv::derivation::{Derivation, Term};
    use deriv::diff::Wrt;
    use deriv::expr::{Func, Node};
    use deriv::{Expr, Sym};
    use std::collections::HashMap;
    let problem = deriv::defs::Problem::load(&[], src).unwrap();
    let element = deriv::parse(wrt).unwrap();
    let Node::Call(Func::Indexed(base), idx) = element.node() else { panic!("{wrt} is not an element") };
    let facts: Vec<String> = assume.iter().map(|s| s.to_string()).collect();
    let opts = deriv::matrix::Options::new(&problem).assuming(&facts).unwrap();
    let der = Derivation::indexed(&problem, base, idx, &HashMap::new(), &opts).unwrap_or_else(|e| panic!("{src}: {e}"));
    // A term at concrete indices: names inlined, index values put in, sums written out.
    fn concrete(t: &Term, f: &dyn Fn(&Expr, &HashMap<Sym, Expr>) -> Expr, at: &HashMap<Sym, Expr>, k: i64) -> Term {
        let go = |t: &Term| concrete(t, f, at, k);
        match t {
            Term::Expr(e) => Term::Expr(f(e, at)),
            Term::D(Wrt::Indexed(b, idx), e) => {
                let idx = idx.iter().map(|i| deriv::expr::substitute_all(i, at)).collect();
                Term::D(Wrt::Indexed(b.clone(), idx), f(e, at))
            }
            Term::D(w, e) => Term::D(w.clone(), f(e, at)),
            Term::Over { index, bounds, body } => {
                assert!(bounds.is_empty());
                let terms = (1..=k).map(|v| {
                    let mut at = at.clone();
                    at.insert(index.clone(), Expr::int(v));
                    concrete(body, f, &at, k)
                });
                Term::Sum(terms.collect())
            }
            Term::Sum(ts) => Term::Sum(ts.iter().map(go).collect()),
            Term::Neg(a) => Term::Neg(Box::new(go(a))),
            Term::Prod(ts) => Term::Prod(ts.iter().map(go).collect()),
            Term::Quot(a, b) => Term::Quot(Box::new(go(a)), Box::new(go(b))),
            Term::Pow(a, n) => Term::Pow(Box::new(go(a)), n.clone()),
        }
    }
    fn exprs(t: &Term, out: &mut Vec<Expr>) {
        match t {
            Term::Expr(e) | Term::D(_, e) => out.push(e.clone()),
            Term::Over { body, .. } => exprs(body, out),
            Term::Sum(ts) | Term::Prod(ts) => ts.iter().for_each(|t| exprs(t, out)),
            Term::Neg(a) | Term::Pow(a, _) => exprs(a, out),
            Term::Quot(a, b) => {
                exprs(a, out);
                exprs(b, out);
            }
        }
    }
    let model = Model::new(3);
    let mut rng = Rng::new(29);
    let all: Vec<&Derivation> = der.lemmas.iter().chain([&der]).collect();
    for d in all {
        let mut compared = 0;
        let subject = deriv::parse(&d.subject).unwrap();
        let mut free: Vec<Sym> = deriv::expr::index_vars(&subject);
        free.extend(deriv::expr::index_vars(&element));
        free.sort();
        free.dedup();
        for k in 2..=5i64 {
            for _ in 0..40 {
                let at: HashMap<Sym, Expr> =
                    free.iter().map(|i| (i.clone(), Expr::int(1 + (rng.next_u64() % k as u64) as i64))).collect();
                let f = |e: &Expr, at: &HashMap<Sym, Expr>| {
                    let e = deriv::expr::substitute_all(&problem.inline(e), at);
                    let mut sizes = HashMap::new();
                    for i in deriv::expr::index_vars(&e) {
                        sizes.insert(i, k);
                    }
                    deriv::diff::expand_sums(&e, &sizes)
                };
                let terms: Vec<Term> = d.steps.iter().map(|s| concrete(&s.term, &f, &at, k)).collect();
                let mut vars: Vec<Sym> = Vec::new();
                let mut all_exprs = Vec::new();
                terms.iter().for_each(|t| exprs(t, &mut all_exprs));
                deriv::expr::walk(&all_exprs, |x| {
                    match x.node() {
                        Node::Var(v) => vars.push(v.clone()),
                        Node::Call(Func::Indexed(b), args) => {
                            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                            vars.push(Sym::new(&format!("{b}[{}]", args.join(","))));
                        }
                        _ => {}
                    }
                    deriv::expr::Walk::Descend
                });
                // The element differentiated by, too, even where no line holds it.
                let Wrt::Indexed(b, idx) = &d.var else { panic!("not by an element") };
                let idx: Vec<String> = idx.iter().map(|i| deriv::expr::substitute_all(i, &at).to_string()).collect();
                vars.push(Sym::new(&format!("{b}[{}]", idx.join(","))));
                vars.sort();
                vars.dedup();
                let mut env = random_point(&vars, &mut rng);
                fix(&mut env, k);
                let values: Vec<f64> = terms.iter().map(|t| t.eval(&env, &model).unwrap()).collect();
                if values.iter().any(|v| !v.is_finite() || v.abs() > 1e6) {
                    continue;
                }
                for (w, s) in values.windows(2).zip(d.steps.iter().skip(1)) {
                    assert!(
                        mixed_error(w[1], w[0]) < 1e-9,
                        "{src}: at K = {k}, {at:?}: step `{}` ({}) differs: {} vs {}",
                        s.term.to_text(),
                        s.rule,
                        w[1],
                        w[0]
                    );
                }
                compared += 1;
            }
        }
        assert!(compared >= 40, "{src}: only {compared} points");
    }
    der
}

fn no_fix(_: &mut deriv::eval::Env, _: i64) {}

const SOFTMAX: &str = "p[i] = e^z[i]/sum(k, e^z[k])";

#[test]
fn softmax_by_an_element() {
    let der = checked_indexed(SOFTMAX, "z[j]", &[], &no_fix);
    let plain = deriv::request::diff(
        &deriv::request::Input::load(&[], SOFTMAX).unwrap(),
        &deriv::request::Diff { wrt: Some("z[j]".into()), order: 1, steps: false, sizes: None, at: None },
        &deriv::request::Settings::default(),
    )
    .unwrap();
    let result = der.result().map(|e| format!("{e}\n"));
    assert_eq!(result.as_deref(), Some(plain.render(deriv::output::Format::Text).as_str()));
    assert_eq!(result.as_deref(), Some("p[i]*(delta(i, j) - p[j])\n"));
    insta::assert_snapshot!(der.to_string());
    let latex = der.to_latex();
    assert!(
        latex.contains("\\delta_{ij}") && latex.contains("\\sum_{k}") && latex.contains("\\partial z_{j}"),
        "{latex}"
    );
    let json = der.to_json();
    assert_eq!(json["variable"], "z[j]");
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(der.steps.len()));
}

#[test]
fn squared_error_by_a_weight() {
    let src = "z[k] = sum(j, x[j]*w[j,k]); E = 1/2*sum(k, (g(z[k]) - t[k])^2)";
    let der = checked_indexed(src, "w[j,k]", &[], &no_fix);
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("g'(z[k])*x[j]*(g(z[k]) - t[k])"));
    insta::assert_snapshot!(der.to_string());
}

#[test]
fn cross_entropy_through_softmax() {
    let src = "p[i] = e^z[i]/sum(k, e^z[k]); L = -sum(i, t[i]*ln(p[i]))";
    // The targets sum to 1: the last one is what the others leave.
    let fix = |env: &mut deriv::eval::Env, k: i64| {
        let t = |i: i64| deriv::Sym::new(&format!("t[{i}]"));
        let rest: f64 = (1..k).map(|i| *env.entry(t(i)).or_insert(0.3)).sum();
        env.insert(t(k), 1.0 - rest);
    };
    let der = checked_indexed(src, "z[j]", &["sum(k, t[k]) = 1"], &fix);
    assert_eq!(der.result().map(|e| e.to_string()).as_deref(), Some("p[j] - t[j]"));
    assert!(der.steps.iter().any(|s| s.rule == "assume sum(k, t[k]) = 1"), "{der}");
    insta::assert_snapshot!(der.to_string());
    insta::assert_snapshot!(der.to_latex());
}

/// Other names, a temperature, log-softmax, a weighted sum: the same mechanisms.
#[test]
fn indexed_worked_examples() {
    let cases = [
        ("q[a] = e^s[a]/sum(b, e^s[b])", "s[c]"),
        ("p[i] = e^(z[i]/T)/sum(k, e^(z[k]/T))", "z[j]"),
        ("y[i] = z[i] - ln(sum(k, e^z[k]))", "z[j]"),
        ("y = sum(k, c[k]*x[k]^2)", "x[j]"),
        ("S = sum(k, e^z[k]); p[i] = e^z[i]/S; L = -sum(i, t[i]*ln(p[i]))", "z[j]"),
    ];
    let out: Vec<String> = cases.iter().map(|(s, x)| checked_indexed(s, x, &[], &no_fix).to_string()).collect();
    insta::assert_snapshot!(out.join("\n"));
}

/// Every rule a step uses is named: a built-in's own derivative with the chain rule, a
/// constant's derivative (a dropped term, a constant target) apart from a variable's, a
/// constant factor apart from the product rule; a sum as the subject is in parentheses.
#[test]
fn step_labels_name_every_rule_used() {
    let mut all = String::new();
    for (src, x) in
        [("erf(x^2)", "x"), ("3 + x", "x"), ("y^2 + x*y + sin(x)", "x"), ("pi*y", "x"), ("ln(1 + e^x)", "x")]
    {
        let d = deriv::derivation(src, x).unwrap();
        // Each step's result is still checked: the last line is the derivative.
        crate::support::check_diff(src, x);
        all.push_str(&d.to_string());
    }
    insta::assert_snapshot!(all, @r"
    d/dx erf(x^2)
      = 2*e^(-x^4)/sqrt(pi)*d/dx(x^2)    # derivative of erf, chain rule
      = 2*e^(-x^4)/sqrt(pi)*2*x          # power rule
      = 4*x*e^(-x^4)/sqrt(pi)            # collect terms
    d/dx (3 + x)
      = d/dx(x)    # sum rule, derivative of a constant
      = 1          # derivative of a variable
    d/dx (x*y + y^2 + sin(x))
      = d/dx(x*y) + d/dx(sin(x))    # sum rule, derivative of a constant
      = y + cos(x)                  # constant factor, derivative of sin
    d/dx pi*y
      = 0    # derivative of a constant
    d/dx ln(1 + e^x)
      = 1/(1 + e^x)*d/dx(1 + e^x)    # derivative of ln, chain rule
      = 1/(1 + e^x)*e^x              # sum rule, derivative of a constant, derivative of exp
      = e^x/(1 + e^x)                # collect terms
      = sigmoid(x)                   # substitute e^x = sigmoid(x)/(1 - sigmoid(x))
    ");
}

/// A step that is one expression prints in LaTeX as a result does, as its text does: a
/// fraction every term of a sum shares is taken out (`\frac{1 - \tanh^{2}(v/2)}{2}`, not
/// `\frac{1}{2} - \frac{\tanh^{2}(v/2)}{2}`), under any name.
#[test]
fn latex_steps_take_a_shared_fraction_out_as_results_do() {
    for v in ["v", "q"] {
        let r = crate::support::run(&["diff", &format!("tanh({v}/2)"), "--steps", "--format", "latex"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let last = r.stdout.lines().rev().nth(1).unwrap_or_default();
        let want = format!("\\frac{{1 - \\tanh^{{2}}\\left(\\frac{{{v}}}{{2}}\\right)}}{{2}}");
        assert!(last.contains(&want), "{last}");
        assert!(last.contains("collect terms"), "{last}");
    }
}
