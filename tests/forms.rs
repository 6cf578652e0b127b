//! Result forms at every size (issue 12): rewrites that are exact, softmax Jacobians and
//! networks in their named outputs at sizes past the textbook's, a simplifier whose work
//! is bounded, and forms that do not depend on what things are called.

use std::collections::HashMap;

use deriv::check::check_chain;
use deriv::defs::Problem;
use deriv::simplify::{simplify, Form};
use deriv::{Expr, Sym};
use proptest::prelude::*;

/// The derivative of `expr` (with `lets`) by `wrt`, simplified as the command line does,
/// checked (names inlined) against dual numbers at the input's scales, as text.
#[track_caller]
fn derivative(expr: &str, lets: &[String], wrt: &str) -> String {
    let p = Problem::load(lets, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let x = Sym::new(wrt);
    let input = p.inlined_target();
    let raw = deriv::diff(&input, &x);
    let form = if p.defs.is_empty() { Form::Auto } else { Form::Output };
    let shown = simplify(&raw, &p.names(Some(&x)), form);
    let report = check_chain(&[input, p.inline(&shown)], &x, 24, 9).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert!(report.max_error < 1e-8, "{expr} by {wrt}: {shown} is off by {}", report.max_error);
    shown.to_string()
}

fn lets(defs: &[String]) -> Vec<String> {
    defs.to_vec()
}

/// `name1 .. nameK` as a softmax of `zname1 .. znameK`, one definition each.
fn softmax(name: &str, z: &str, k: usize) -> Vec<String> {
    let sum: Vec<String> = (1..=k).map(|i| format!("e^{z}{i}")).collect();
    (1..=k).map(|i| format!("{name}{i} = e^{z}{i}/({})", sum.join(" + "))).collect()
}

#[test]
fn rewrites_are_exact_where_the_input_saturates() {
    // A shifted tanh is saturated for |x| < 2.5: the derivative is not `p` there.
    let out = derivative("x*p", &lets(&["p = tanh(x - 30)".into()]), "x");
    assert_ne!(out, "p");
    // A shifted ReLU is zero for x < 3: the derivative of its square is not its square.
    let out = derivative("h^2", &lets(&["h = (x - 3 + abs(x - 3))/2".into()]), "x");
    assert_ne!(out, "h^2");
    // By cases: 0 up to the kink (where the input's slope is 0 too), 2*h past it.
    assert_eq!(out, "if(x <= 3, 0, 2*h)");
}

#[test]
fn softmax_jacobians_at_any_size_and_name() {
    for (name, z, k) in [("p", "z", 10), ("q", "a", 7), ("s", "u", 12)] {
        let defs = softmax(name, z, k);
        for (i, j) in [(1, 1), (1, 2), (k, 3), (4, 4), (k, k)] {
            let got = derivative(&format!("{name}{i}"), &defs, &format!("{z}{j}"));
            let want = if i == j {
                format!("{name}{i}*(1 - {name}{i})")
            } else {
                let (a, b) = (i.min(j), i.max(j));
                format!("-{name}{a}*{name}{b}")
            };
            assert_eq!(got, want, "K = {k}, d{name}{i}/d{z}{j}");
        }
    }
}

/// `name1 .. nameK` as a log-softmax of `zname1 .. znameK`, one definition each.
fn log_softmax(name: &str, z: &str, k: usize) -> Vec<String> {
    let sum: Vec<String> = (1..=k).map(|i| format!("e^{z}{i}")).collect();
    (1..=k).map(|i| format!("{name}{i} = {z}{i} - ln({})", sum.join(" + "))).collect()
}

#[test]
fn log_softmax_and_log_sum_exp_in_their_outputs_at_any_size_and_name() {
    // A name defined by a term plus a multiple of a logarithm (`y = z - ln(S)`) gives the
    // relation S = e^(z - y): the softmax inside the derivative is `e^y`.
    for (name, z, k) in [("y", "a", 3), ("q", "u", 5), ("s", "w", 12)] {
        let defs = log_softmax(name, z, k);
        for (i, j) in [(1, 1), (1, 2), (k, 2), (k, k)] {
            let got = derivative(&format!("{name}{i}"), &defs, &format!("{z}{j}"));
            let want = if i == j { format!("1 - e^{name}{j}") } else { format!("-e^{name}{j}") };
            assert_eq!(got, want, "K = {k}, d{name}{i}/d{z}{j}");
        }
        // Log-sum-exp itself, a name whose body shows no variable outside its sum.
        let sum: Vec<String> = (1..=k).map(|i| format!("e^{z}{i}")).collect();
        let lse = [format!("L = ln({})", sum.join(" + "))];
        assert_eq!(derivative("L", &lse, &format!("{z}{k}")), format!("e^({z}{k} - L)"));
    }
}

#[test]
fn quotients_of_sines_and_cosines_cancel_in_whichever_spelling_the_identity_allows() {
    // The gcd after the Pythagorean reduction sees one spelling: the cancellation of
    // 1 + cos(u) needs cosines, that of 1 - sin(u)^2 too, others need sines.
    let cases = [
        ("x", "x", ["1/(1 + cos(x))", "2*sec(x)", "1/(1 - sin(x))"]),
        ("3*t", "t", ["3/(1 + cos(3*t))", "6*sec(3*t)", "3/(1 - sin(3*t))"]),
        ("w^2", "w", ["2*w/(1 + cos(w^2))", "4*w*sec(w^2)", "2*w/(1 - sin(w^2))"]),
    ];
    for (u, x, want) in cases {
        let inputs = ["sin(U)/(1 + cos(U))", "ln((1 + sin(U))/(1 - sin(U)))", "cos(U)/(1 - sin(U))"];
        for (input, want) in inputs.iter().zip(want) {
            assert_eq!(derivative(&input.replace('U', u), &[], x), want);
        }
    }
}

#[test]
fn a_lone_exponential_is_no_sigmoid() {
    // A sigmoid or a tanh is a sum of exponentials over another; an exponential that is
    // no term of a sum (the Gaussian's) keeps its own spelling.
    for (f, x, want) in [
        ("e^(-x^2/2)", "x", "-x*e^(-x^2/2)"),
        ("e^(-0.5*v^2)", "v", "-v*e^(-v^2/2)"),
        ("e^(-a*t^2)", "t", "-2*a*t*e^(-a*t^2)"),
        ("x*e^(-x^2/2)", "x", "e^(-x^2/2)*(1 - x^2)"),
    ] {
        assert_eq!(derivative(f, &[], x), want);
    }
    // Where the exponential is a term of a sum, the sigmoid is still found.
    assert_eq!(derivative("e^u/(1 + e^u)", &[], "u"), "sigmoid(u)*(1 - sigmoid(u))");
}

#[test]
fn the_hessian_of_softmax_cross_entropy_in_its_outputs() {
    // With the targets summing to one (a fact, not an identity), at K = 3 and 5 and
    // under other names.
    for (p, z, t, k) in [("p", "z", "t", 3), ("q", "a", "y", 5)] {
        let mut args: Vec<String> = vec!["hessian".into()];
        let terms: Vec<String> = (1..=k).map(|i| format!("{t}{i}*ln({p}{i})")).collect();
        args.push(format!("L = -({})", terms.join(" + ")));
        for d in softmax(p, z, k) {
            args.push("--let".into());
            args.push(d);
        }
        args.push("--wrt".into());
        args.push((1..=k).map(|i| format!("{z}{i}")).collect::<Vec<_>>().join(","));
        args.push("--assume".into());
        args.push(format!("{} = 1", (1..=k).map(|i| format!("{t}{i}")).collect::<Vec<_>>().join(" + ")));
        args.push("--check".into());
        let r = crate::support::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, 0, "{}", r.stderr);
        // Each entry checked and reported.
        let passed = r.stderr.lines().filter(|l| l.starts_with("check d2/d") && l.contains(": passed")).count();
        assert_eq!(passed, k * k, "{}", r.stderr);
        for (i, row) in r.stdout.lines().enumerate() {
            let entries: Vec<&str> = row.trim_matches(|c| c == '[' || c == ']').split(", ").collect();
            for (j, got) in entries.iter().enumerate() {
                let (a, b) = (i.min(j) + 1, i.max(j) + 1);
                let want = if i == j { format!("{p}{a}*(1 - {p}{a})") } else { format!("-{p}{a}*{p}{b}") };
                assert_eq!(*got, want, "K = {k}, entry ({i}, {j})");
            }
        }
    }
}

#[test]
fn a_sigmoid_network_in_its_activations() {
    let defs: Vec<String> = [
        "h1 = sigmoid(w11*x1 + w21*x2)",
        "h2 = sigmoid(w12*x1 + w22*x2)",
        "y1 = sigmoid(v11*h1 + v21*h2)",
        "y2 = sigmoid(v12*h1 + v22*h2)",
        "L = ((y1 - t1)^2 + (y2 - t2)^2)/2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for w in ["w11", "w22", "v11", "v21"] {
        let got = derivative("L", &defs, w);
        assert!(!got.contains("sigmoid") && !got.contains("e^"), "dL/d{w} = {got}");
    }
    assert_eq!(derivative("L", &defs, "v11"), "h1*y1*(1 - y1)*(y1 - t1)");
}

#[test]
fn binary_cross_entropy_through_a_named_sigmoid() {
    for (p, def) in [("p", "1/(1+e^-z)"), ("q", "sigmoid(z)"), ("s", "e^z/(1 + e^z)")] {
        let loss = format!("L = -(t*ln({p}) + (1-t)*ln(1-{p}))");
        assert_eq!(derivative(&loss, &lets(&[format!("{p} = {def}")]), "z"), format!("{p} - t"));
    }
}

#[test]
fn a_product_of_three_calls_gets_its_derivative() {
    // Once a search that ran past its budget; the work is now bounded per part.
    let out = derivative("erf(x*cosh(x))*(sin(x) - sigmoid(x))*atan(x)", &[], "x");
    assert!(out.contains("erf(x*cosh(x))"), "{out}");
    derivative("erfc(sin(e^x))*tanh(x^2 - 1)*ln(2 + cos(x))", &[], "x");
}

#[test]
fn the_simplifier_never_rewrites_wrongly_near_shifts_and_kinks() {
    // Each activation shifted and scaled, |c| up to 50, in a few expressions of its
    // output: every shown derivative checks at the input's own scales.
    let acts = ["tanh", "sigmoid", "erfc", "exp", "softplus", "abs"];
    let bodies = ["x*p", "p^2", "x^2*p", "p/(1 + x^2)", "ln(1 + p^2)", "p*(1 - p)"];
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(act in 0..acts.len(), body in 0..bodies.len(), a in -4i32..=4, c in -50i32..=50)| {
        let a = if a == 0 { 1 } else { a };
        let def = format!("p = {}({a}*x + {c})", acts[act]);
        derivative(bodies[body], &[def], "x");
    });
}

/// `e` with its variables renamed by `map`.
fn renamed(e: &Expr, map: &HashMap<String, String>) -> Expr {
    let subs: HashMap<Sym, Expr> = map.iter().map(|(a, b)| (Sym::new(a), Expr::var(b))).collect();
    deriv::expr::substitute_all(e, &subs)
}

#[test]
fn forms_do_not_depend_on_names_or_the_order_of_definitions() {
    // (target, definitions, variable)
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("p", vec!["p = e^z/(1 + e^z)"], "z"),
        ("L", vec!["p = sigmoid(z)", "L = -(t*ln(p) + (1 - t)*ln(1 - p))"], "z"),
        ("q1", vec!["q1 = e^a1/(e^a1 + e^a2 + e^a3 + e^a4)", "q2 = e^a2/(e^a1 + e^a2 + e^a3 + e^a4)"], "a2"),
        ("E", vec!["h = tanh(w1*x1 + w2*x2)", "E = (h - t)^2/2"], "w2"),
    ];
    let pool = ["u", "v", "s", "r", "m", "k", "b", "c", "d", "f", "q", "y", "n", "o"];
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(case in 0..cases.len(), seed in any::<u64>())| {
        let (target, defs, wrt) = &cases[case];
        let base = derivative(target, &defs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), wrt);
        // Every name in the case, renamed at random to a fresh one (with a digit kept).
        let mut names: Vec<String> = Vec::new();
        for d in defs.iter().chain([target, wrt]) {
            for w in d.split(|c: char| !c.is_ascii_alphanumeric()) {
                let builtin = deriv::func::Builtin::from_name(w).is_some() || w == "e";
                if !w.is_empty() && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !builtin && !names.contains(&w.to_string()) {
                    names.push(w.to_string());
                }
            }
        }
        let mut order: Vec<usize> = (0..pool.len()).collect();
        let mut s = seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let map: HashMap<String, String> =
            names.iter().enumerate().map(|(i, n)| (n.clone(), format!("{}{}", pool[order[i % pool.len()]], i))).collect();
        let rename = |text: &str| -> String {
            let mut out = String::new();
            let mut word = String::new();
            for ch in text.chars().chain(std::iter::once(' ')) {
                if ch.is_ascii_alphanumeric() {
                    word.push(ch);
                } else {
                    out.push_str(map.get(&word).map_or(&word, |w| w));
                    word.clear();
                    out.push(ch);
                }
            }
            out.pop();
            out
        };
        // Definitions in another order (each after what it uses is not required of --let).
        let mut new_defs: Vec<String> = defs.iter().map(|d| rename(d)).collect();
        if seed % 2 == 1 {
            new_defs.reverse();
        }
        let got = derivative(&rename(target), &new_defs, &rename(wrt));
        let back: HashMap<String, String> = map.iter().map(|(a, b)| (b.clone(), a.clone())).collect();
        let got_back = renamed(&deriv::parse(&got).unwrap(), &back);
        prop_assert_eq!(got_back, deriv::parse(&base).unwrap(), "renamed: {}", got);
    });
}

/// A network written with its activations spelled out (`1/(1 + e^-z)`, `(e^z - e^-z)/(e^z
/// + e^-z)`), of any width and with any names: each entry of `grad`, of `jacobian` and
/// (for two variables) of `hessian` is the derivative `diff` shows for it, in the
/// activations (`sigmoid(z)*(1 - sigmoid(z))`), never in exponentials, and checked.
#[test]
fn gradient_entries_are_the_derivatives_diff_shows() {
    use crate::support::run;
    for (hidden, w, v, x) in [(2, "u", "v", "x"), (3, "q", "s", "in")] {
        let act = |j: usize| {
            let z: Vec<String> = (1..=2).map(|i| format!("{x}{i}*{w}{i}{j}")).collect();
            format!("1/(1 + e^(-({})))", z.join(" + "))
        };
        let out: Vec<String> = (1..=hidden).map(|j| format!("{v}{j}*{}", act(j))).collect();
        let loss = format!("1/2*({} - t)^2", out.join(" + "));
        let vars: Vec<String> =
            (1..=hidden).flat_map(|j| [format!("{w}1{j}"), format!("{w}2{j}"), format!("{v}{j}")]).collect();
        let r = run(&["grad", "--check", "--wrt", &vars.join(","), "--", &loss]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let entries: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(entries.len(), vars.len(), "{}", r.stdout);
        for (var, entry) in vars.iter().zip(&entries) {
            let d = run(&["diff", "--wrt", var, "--", &loss]);
            assert_eq!(d.stdout.trim(), *entry, "d/d{var}");
            assert!(!entry.contains("e^"), "d/d{var} = {entry}");
            if var.starts_with(w) {
                assert!(entry.contains("*(1 - sigmoid("), "d/d{var} = {entry}");
            }
        }
    }
    let tanh = |a: &str| format!("(e^({a}) - e^(-{a}))/(e^({a}) + e^(-{a}))");
    let rows = format!("{}; {}", tanh("p*r"), tanh("p"));
    let r = run(&["jacobian", "--check", "--wrt", "p,r", "--", &rows]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "[r*(1 - tanh(p*r)^2), p*(1 - tanh(p*r)^2)]\n[1 - tanh(p)^2, 0]");
    let r = run(&["hessian", "--check", "--wrt", "p,r", "--", &tanh("p*r")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let diff = run(&["diff", "--wrt", "p", "--order", "2", "--", &tanh("p*r")]);
    assert!(r.stdout.starts_with(&format!("[{}, ", diff.stdout.trim())), "{} vs {}", r.stdout, diff.stdout);
    assert!(!r.stdout.contains("e^"), "{}", r.stdout);
}
