//! Index notation: indexed variables, sums and Kronecker deltas. Indexed derivatives are
//! checked against dual numbers on the concrete elements (sums run over 1..3, every index
//! value tried), and the worked examples are snapshotted.

use deriv::check::{mixed_error, Rng};
use deriv::defs::Problem;
use deriv::eval::{eval_dual, eval_with, Env};
use deriv::Sym;

/// Runs `deriv diff` with an indexed `--wrt` and checks the printed result, with the
/// definitions inlined, against dual numbers at every index value in 1..3.
#[track_caller]
fn checked(expr: &str, lets: &[&str], base: &str, wrt_indices: &[&str], elements: &[&str]) -> String {
    checked_assuming(expr, lets, &[], base, wrt_indices, elements)
}

/// [`checked`] with `--assume` facts `sum(k, b[k]) = 1`, given as the names `b`: the
/// check draws `b[1..3]` that sum to 1 (sums run over 1..3 in the checks).
#[track_caller]
fn checked_assuming(
    expr: &str,
    lets: &[&str],
    unit_sums: &[(&str, &str)],
    base: &str,
    wrt_indices: &[&str],
    elements: &[&str],
) -> String {
    let wrt = format!("{base}[{}]", wrt_indices.join(","));
    let mut args = vec!["diff", expr];
    for l in lets {
        args.extend(["--let", l]);
    }
    args.extend(["--wrt", &wrt]);
    let facts: Vec<String> = unit_sums.iter().map(|(b, k)| format!("sum({k}, {b}[{k}]) = 1")).collect();
    for f in &facts {
        args.extend(["--assume", f]);
    }
    let r = crate::support::run(&args);
    assert_eq!(r.code, 0, "{expr}: {}", r.stderr);
    let shown = r.stdout.trim().to_owned();
    let lets: Vec<String> = lets.iter().map(|s| s.to_string()).collect();
    let p = Problem::load(&lets, expr).unwrap();
    let shown_expr = p.inline(&deriv::parse(&shown).unwrap());
    let input = p.inlined_target();
    let mut free: Vec<Sym> =
        deriv::expr::index_vars(&input).into_iter().chain(deriv::expr::index_vars(&shown_expr)).collect();
    free.extend(wrt_indices.iter().map(|s| Sym::new(s)));
    free.sort();
    free.dedup();
    let mut rng = Rng::new(7);
    for trial in 0..40 {
        let mut env = Env::new();
        for e in elements {
            env.insert(Sym::new(e), rng.uniform(-1.5, 1.5));
        }
        for (b, _) in unit_sums {
            let xs: Vec<f64> = (0..3).map(|_| rng.uniform(0.1, 1.0)).collect();
            let total: f64 = xs.iter().sum();
            for (i, x) in xs.iter().enumerate() {
                env.insert(Sym::new(&format!("{b}[{}]", i + 1)), x / total);
            }
        }
        for i in &free {
            env.insert(i.clone(), (1 + (rng.next_u64() + trial) % 3) as f64);
        }
        let idx: Vec<String> = wrt_indices.iter().map(|i| format!("{}", env[&Sym::new(i)] as i64)).collect();
        let element = Sym::new(&format!("{base}[{}]", idx.join(",")));
        env.entry(element.clone()).or_insert(0.7);
        let want = eval_dual(&input, &env, &element, None).unwrap().d;
        let got = eval_with(&shown_expr, &env, None).unwrap();
        assert!(mixed_error(got, want) < 1e-12, "{expr} by {wrt} = {shown} at {env:?}: {got} vs {want}");
    }
    shown
}

fn elements(base: &str, dims: usize) -> Vec<String> {
    match dims {
        1 => (1..=3).map(|i| format!("{base}[{i}]")).collect(),
        _ => (1..=3).flat_map(|i| (1..=3).map(move |j| format!("{base}[{i},{j}]"))).collect(),
    }
}

#[test]
fn softmax_in_index_form() {
    let z = elements("z", 1);
    let z: Vec<&str> = z.iter().map(String::as_str).collect();
    insta::assert_snapshot!(checked("p[i] = e^z[i]/sum(k, e^z[k])", &[], "z", &["j"], &z), @"p[i]*(delta(i, j) - p[j])");
}

#[test]
fn squared_error_layer_in_index_form() {
    let mut els = elements("w", 2);
    els.extend(elements("x", 1));
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    let shown =
        checked("E = 1/2*sum(k, (tanh(z[k]) - t[k])^2)", &["z[k] = sum(j, x[j]*w[j,k])"], "w", &["j", "k"], &els);
    insta::assert_snapshot!(shown, @"x[j]*(1 - tanh(z[k])^2)*(tanh(z[k]) - t[k])");
}

#[test]
fn squared_error_layer_with_a_named_sigmoid_output() {
    let mut els = elements("w", 2);
    els.extend(elements("x", 1));
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    let shown = checked(
        "E = 1/2*sum(k, (p[k] - t[k])^2)",
        &["z[k] = sum(j, x[j]*w[j,k])", "p[k] = 1/(1 + e^-z[k])"],
        "w",
        &["j", "k"],
        &els,
    );
    insta::assert_snapshot!(shown, @"p[k]*x[j]*(1 - p[k])*(p[k] - t[k])");
}

#[test]
fn sums_and_deltas() {
    let x = elements("x", 1);
    let x: Vec<&str> = x.iter().map(String::as_str).collect();
    insta::assert_snapshot!(checked("sum(k, x[k]^2)", &[], "x", &["j"], &x), @"2*x[j]");
    insta::assert_snapshot!(checked("x[i]*x[i]", &[], "x", &["j"], &x), @"2*delta(i, j)*x[i]");
    insta::assert_snapshot!(checked("sum(k, x[k])^2", &[], "x", &["j"], &x), @"2*sum(k, x[k])");
    insta::assert_snapshot!(checked("prod(k, x[k])", &[], "x", &["j"], &x), @"prod(k, x[k])/x[j]");
}

#[test]
fn indexed_syntax_prints_and_parses_back() {
    for src in
        ["w[j,k]*x[j] + delta(i, j)", "sum(k=1..K, x[k]^2)", "sum(k, e^z[k])", "g'(z[k])*x[2]", "prod(k, 1 + x[k])"]
    {
        let e = deriv::parse(src).unwrap();
        assert_eq!(deriv::parse(&e.to_string()).unwrap(), e, "{src} printed as {e}");
    }
    let latex = deriv::print::latex::to_latex(&deriv::parse("p[i]*(delta(i,j) - p[j]) + sum(k=1..K, w[j,k])").unwrap());
    insta::assert_snapshot!(latex, @r"p_{i} \left(\delta_{ij} - p_{j}\right) + \sum_{k=1}^{K} w_{j,k}");
}

#[test]
fn jacobians_and_hessians() {
    use crate::support::transcript;
    let softmax = "p1 = e^z1/(e^z1 + e^z2 + e^z3); p2 = e^z2/(e^z1 + e^z2 + e^z3); p3 = e^z3/(e^z1 + e^z2 + e^z3)";
    insta::assert_snapshot!(transcript(&["jacobian", softmax, "--wrt", "z1,z2,z3"]));
    insta::assert_snapshot!(transcript(&["jacobian", softmax, "--wrt", "z1,z2,z3", "--format", "latex"]));
    insta::assert_snapshot!(transcript(&["hessian", "x^2*y + sin(x*y)", "--wrt", "x,y", "--format", "json"]));
}

#[test]
fn cross_entropy_through_softmax_with_an_assumption() {
    let args = ["diff", "L = -sum(k, t[k]*ln(p[k]))", "--let", "p[k] = e^z[k]/sum(m, e^z[m])", "--wrt", "z[j]"];
    let r = crate::support::run(&args);
    assert_eq!(r.stdout, "p[j]*sum(k, t[k]) - t[j]\n", "{}", r.stderr);
    let mut with = args.to_vec();
    with.extend(["--assume", "sum(k, t[k]) = 1"]);
    let r = crate::support::run(&with);
    assert_eq!(r.stdout, "p[j] - t[j]\n", "{}", r.stderr);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 24, failure_persistence: None, ..Default::default() })]

    /// For random sizes K, M and random elements, the indexed softmax derivative at
    /// concrete indices equals the derivative of the concrete expansion.
    #[test]
    fn softmax_indexed_equals_concrete(kk in 1i64..6, i in 1i64..6, j in 1i64..6, seed in 0u64..1000) {
        let (i, j) = (1 + (i - 1) % kk, 1 + (j - 1) % kk);
        let size = format!("K={kk}");
        let wrt = format!("z[{j}]");
        let expr = format!("p[{i}]");
        let concrete = crate::support::run(&["diff", &expr, "--let", "p[i] = e^z[i]/sum(k, e^z[k])", "--wrt", &wrt, "--size", &size]);
        proptest::prop_assert_eq!(concrete.code, 0, "{}", concrete.stderr);
        let p = Problem::load(&["p[i] = e^z[i]/sum(k, e^z[k])".to_owned()], "p[i]").unwrap();
        let sizes = deriv::diff::parse_sizes(&size).unwrap();
        let concrete = deriv::diff::expand_sums(&p.inline(&deriv::parse(concrete.stdout.trim()).unwrap()), &sizes);
        let general = deriv::diff::expand_sums(&p.inline(&deriv::parse("p[i]*(delta(i, j) - p[j])").unwrap()), &sizes);
        let mut rng = Rng::new(seed);
        let mut env = Env::new();
        for m in 1..=kk {
            env.insert(Sym::new(&format!("z[{m}]")), rng.uniform(-2.0, 2.0));
        }
        env.insert(Sym::new("i"), i as f64);
        env.insert(Sym::new("j"), j as f64);
        let (a, b) = (eval_with(&general, &env, None).unwrap(), eval_with(&concrete, &env, None).unwrap());
        proptest::prop_assert!(mixed_error(a, b) < 1e-12, "K={} i={} j={}: {} vs {}", kk, i, j, a, b);
    }
}

/// The indexed derivative, at concrete index values, equals the derivative of the
/// concrete expansion (`--size`), for several sizes.
#[test]
fn indexed_results_agree_with_concrete_expansions() {
    let lets = "z[k] = sum(j, x[j]*w[j,k])";
    let expr = "E = 1/2*sum(k, (tanh(z[k]) - t[k])^2)";
    let indexed = crate::support::run(&["diff", expr, "--let", lets, "--wrt", "w[j,k]"]);
    assert_eq!(indexed.code, 0, "{}", indexed.stderr);
    let p = Problem::load(&[lets.to_owned()], expr).unwrap();
    let general = p.inline(&deriv::parse(indexed.stdout.trim()).unwrap());
    let mut rng = Rng::new(23);
    for (kk, mm) in [(1, 1), (2, 3), (3, 2), (4, 4)] {
        for (j, k) in [(1, 1), (mm, kk), (1, kk)] {
            let size = format!("K={kk},J={mm}");
            let wrt = format!("w[{j},{k}]");
            let concrete = crate::support::run(&["diff", expr, "--let", lets, "--wrt", &wrt, "--size", &size]);
            assert_eq!(concrete.code, 0, "{}", concrete.stderr);
            let concrete = p.inline(&deriv::parse(concrete.stdout.trim()).unwrap());
            let sizes = deriv::diff::parse_sizes(&size).unwrap();
            let concrete = deriv::diff::expand_sums(&concrete, &sizes);
            let general = deriv::diff::expand_sums(&general, &sizes);
            let mut env = Env::new();
            for b in ["x", "t"] {
                for i in 1..=4 {
                    env.insert(Sym::new(&format!("{b}[{i}]")), rng.uniform(-1.0, 1.0));
                }
            }
            for a in 1..=4 {
                for b in 1..=4 {
                    env.insert(Sym::new(&format!("w[{a},{b}]")), rng.uniform(-1.0, 1.0));
                }
            }
            env.insert(Sym::new("j"), j as f64);
            env.insert(Sym::new("k"), k as f64);
            let (a, b) = (eval_with(&general, &env, None).unwrap(), eval_with(&concrete, &env, None).unwrap());
            assert!(mixed_error(a, b) < 1e-12, "{size} {wrt}: {a} vs {b}");
        }
    }
}

// ---- sums are equal up to the names of their indices ------------------------------------

fn parse(src: &str) -> deriv::Expr {
    deriv::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The issue's example: the softmax's sum comes back from inlining under another name
/// (`k1`, where the loss also sums over `k`), and must still cancel against itself. Every
/// naming of the definition's index, the loss's and the assumption's gives `p[j] - t[j]`.
#[test]
fn cross_entropy_through_softmax_under_any_index_names() {
    let mut els = elements("z", 1);
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    for def in ["k", "m", "q"] {
        for loss in ["k", "n"] {
            for fact in ["k", "n", "m"] {
                let p = format!("p[i] = e^z[i]/sum({def}, e^z[{def}])");
                let e = format!("E = -sum({loss}, t[{loss}]*ln(p[{loss}]))");
                let shown = checked_assuming(&e, &[&p], &[("t", fact)], "z", &["j"], &els);
                assert_eq!(shown, "p[j] - t[j]", "{p}; {e}; sum({fact}, t[{fact}]) = 1");
            }
            // Without the assumption, the sum of the targets stays, by any name.
            let p = format!("p[i] = e^z[i]/sum({def}, e^z[{def}])");
            let e = format!("E = -sum({loss}, t[{loss}]*ln(p[{loss}]))");
            let shown = checked(&e, &[&p], "z", &["j"], &els);
            assert_eq!(shown, format!("p[j]*sum({loss}, t[{loss}]) - t[j]"), "{p}; {e}");
        }
    }
}

/// Nested sums: the softmax over a layer `z[k] = sum(j, w[k,j]*x[j])`, with the layer's
/// index also named as the target's (`a`, `b` of `w[a,b]`: a capture, before, gave
/// `e^sum(a, w[a,a]*x[a])`) and the softmax's as the loss's.
#[test]
fn cross_entropy_through_a_softmax_layer_under_any_index_names() {
    let mut els = elements("w", 2);
    els.extend(elements("x", 1));
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    for layer in ["j", "a", "b"] {
        for def in ["k", "m"] {
            for loss in ["k", "n"] {
                let z = format!("z[k] = sum({layer}, w[k,{layer}]*x[{layer}])");
                let p = format!("p[i] = e^z[i]/sum({def}, e^z[{def}])");
                let e = format!("E = -sum({loss}, t[{loss}]*ln(p[{loss}]))");
                let shown = checked_assuming(&e, &[&z, &p], &[("t", "n")], "w", &["a", "b"], &els);
                assert_eq!(shown, "x[b]*(p[a] - t[a])", "{z}; {p}; {e}");
            }
        }
    }
}

/// A product inlined under a loss that uses its index name: `prod(k1, x[k1])` from the
/// inlining and `prod(k, x[k])` are one product.
#[test]
fn products_inlined_under_any_index_names() {
    let mut els = elements("x", 1);
    els.extend(elements("t", 1));
    let els: Vec<&str> = els.iter().map(String::as_str).collect();
    for def in ["k", "m"] {
        for loss in ["k", "n"] {
            let r = format!("r[i] = x[i]^2/prod({def}, x[{def}]^2)");
            let e = format!("L = sum({loss}, t[{loss}]*ln(r[{loss}]))");
            let shown = checked_assuming(&e, &[&r], &[("t", "k")], "x", &["j"], &els);
            assert_eq!(shown, "-2*(1 - t[j])/x[j]", "{r}; {e}");
            // prod(l, x[l]/P)*P is P^(2 - K), with K = sum(k, 1) the number of terms.
            let r = format!("r[i] = x[i]/prod({def}, x[{def}])");
            let e = format!("L = prod({loss}, r[{loss}])*prod({def}, x[{def}])");
            let shown = checked(&e, &[&r], "x", &["j"], &els);
            assert_eq!(parse(&shown), parse("L*(2 - sum(k, 1))/x[j]"), "{r}; {e}: {shown}");
        }
    }
}

#[test]
fn sums_that_differ_only_in_the_index_name_are_one_expression() {
    let s = parse("sum(k, x[k])");
    assert_eq!(parse("sum(m, x[m])"), s);
    assert_eq!(parse("sum(m, x[m])").id(), s.id());
    assert_eq!(parse("sum(k, x[k])/sum(m, x[m])"), parse("1"));
    assert_eq!(parse("sum(k, x[k]) + sum(m, x[m])"), parse("2*sum(n, x[n])"));
    assert_eq!(parse("sum(k, x[k]) - sum(m, x[m])"), parse("0"));
    assert_eq!(parse("prod(k, 1 + x[k])/prod(n, 1 + x[n])"), parse("1"));
    assert_eq!(parse("sum(k=1..K, x[k]^2)"), parse("sum(i=1..K, x[i]^2)"));
    assert_eq!(parse("sum(k, e^z[k]*w[k,j])"), parse("sum(m, w[m,j]*e^z[m])"));
    // Nested, and a name reused inside.
    assert_eq!(parse("sum(k, sum(m, x[k,m]*y[m]))"), parse("sum(a, sum(b, x[a,b]*y[b]))"));
    assert_eq!(parse("sum(k, x[k]*ln(sum(k, y[k])))"), parse("sum(m, x[m]*ln(sum(n, y[n])))"));
    assert_eq!(parse("sum(k, x[k]*sum(m, y[m,k]))"), parse("sum(m, x[m]*sum(k, y[k,m]))"));
    // Free indices around a sum keep their meaning.
    assert_eq!(parse("x[k]*sum(m, y[m]) + sum(k, y[k])"), parse("sum(n, y[n]) + x[k]*sum(n, y[n])"));
}

/// Printed, a sum whose index is also free in the expression, or is the index of a sum
/// around it, is written with another name (the node may carry a name from elsewhere);
/// the text reads back as the same expression.
#[test]
fn printed_indices_do_not_clash() {
    let e = parse("sum(k, y[k]) + x[k]*sum(m, y[m])");
    assert_eq!(e.to_string(), "sum(k1, y[k1]) + sum(k1, y[k1])*x[k]");
    assert_eq!(deriv::print::latex::to_latex(&e), r"\sum_{k_{1}} y_{k_{1}} + \sum_{k_{1}} y_{k_{1}} x_{k}");
    assert_eq!(parse(&e.to_string()), e);
    // The sum made first (the inner one, here) keeps its name where it does not clash.
    let e = parse("sum(m, x[m]*ln(x[m] + sum(k, y[k]))) + sum(k, y[k])");
    assert_eq!(e.to_string(), "sum(k, y[k]) + sum(m, ln(sum(k, y[k]) + x[m])*x[m])");
    assert_eq!(parse(&e.to_string()), e);
    // The first name is that of the first such sum still alive: while `s` is, the inner
    // sum below is `sum(k, z[k])`, which would read as bound by the outer `k`.
    let s = parse("sum(k, z[k])");
    let e = parse("sum(k, x[k]*ln(x[k] + sum(m, z[m])))");
    assert_eq!(e.to_string(), "sum(k, ln(sum(k1, z[k1]) + x[k])*x[k])");
    assert_eq!(parse(&e.to_string()), e);
    assert_eq!(s.to_string(), "sum(k, z[k])");
    // While an equal sum is alive, a new one takes its name.
    let e = parse("sum(m, x[m]*ln(x[m] + sum(k, y[k])))");
    assert_eq!(parse("sum(k, x[k]*ln(x[k] + sum(m, y[m])))").to_string(), "sum(m, ln(sum(k, y[k]) + x[m])*x[m])");
    drop(e);
    let e = parse("sum(k, x[k,m]) + sum(m, x[k,m])");
    assert_eq!(e.to_string(), "sum(k1, x[k1,m]) + sum(m1, x[k,m1])");
    assert_eq!(parse(&e.to_string()), e);
    // Bounds are outside the index's scope.
    let e = parse("x[k]*sum(k=1..k, y[k])");
    assert_eq!(e.to_string(), "sum(k1=1..k, y[k1])*x[k]");
    assert_eq!(parse(&e.to_string()), e);
}

#[test]
fn sums_that_differ_in_more_than_the_index_name_stay_apart() {
    let pairs = [
        // j is free in the first, bound in the second.
        ("sum(k, x[k]*y[j])", "sum(j, x[j]*y[j])"),
        ("sum(k, x[k,m])", "sum(m, x[m,k])"),
        ("sum(k, x[k,m])", "sum(m, x[k,m])"),
        ("sum(k, x[k])", "prod(k, x[k])"),
        ("sum(k=1..K, x[k])", "sum(k=1..N, x[k])"),
        ("sum(k=1..K, x[k])", "sum(k, x[k])"),
        ("sum(k, sum(m, x[k,m]))", "sum(a, sum(b, x[b,a]))"),
        ("sum(k, x[k]*sum(m, y[m,k]))", "sum(k, x[k]*sum(m, y[k,m]))"),
        ("sum(k, x[k]*ln(sum(k, y[k])))", "sum(k, x[k]*ln(sum(m, y[k])))"),
    ];
    for (a, b) in pairs {
        let (x, y) = (parse(a), parse(b));
        assert_ne!(x, y, "{a} and {b}");
        assert!(!parse(&format!("({a})/({b})")).is_one(), "{a} / {b}");
        // Each prints back to itself.
        assert_eq!(parse(&x.to_string()), x, "{a}");
        assert_eq!(parse(&y.to_string()), y, "{b}");
    }
}

/// Putting an expression in for a variable renames a summed index that would capture
/// one of its variables, and leaves the index itself alone inside its sum.
#[test]
fn substitution_does_not_capture() {
    use deriv::expr::{replace, substitute};
    let (j, k) = (Sym::new("j"), Sym::new("k"));
    let s = parse("sum(k, x[k]*y[j])");
    let put = substitute(&s, &j, &parse("k"));
    assert_eq!(put, parse("sum(m, x[m]*y[k])"));
    assert_ne!(put, parse("sum(k, x[k]*y[k])"));
    assert_eq!(substitute(&s, &k, &parse("2")), parse("sum(m, x[m]*y[j])"));
    assert_eq!(substitute(&s, &j, &parse("2")), parse("sum(k, x[k]*y[2])"));
    // Nested: the inner sum's index is renamed too when the value would meet it.
    let s = parse("sum(k, x[k]*sum(m, y[m,j]*z[m,k]))");
    assert_eq!(substitute(&s, &j, &parse("m")), parse("sum(a, x[a]*sum(b, y[b,m]*z[b,a]))"));
    assert_eq!(substitute(&s, &j, &parse("k")), parse("sum(a, x[a]*sum(b, y[b,k]*z[b,a]))"));
    // Replacing a subexpression: not inside a sum that binds one of its variables, and
    // not into one that would capture the replacement's.
    let s = parse("y[k] + sum(k, x[k]*y[k])");
    assert_eq!(replace(&s, &parse("y[k]"), &parse("c")), parse("c + sum(m, x[m]*y[m])"));
    let s = parse("sum(m, x[m]*g(x[m], a))");
    assert_eq!(replace(&s, &parse("a"), &parse("y[m]")), parse("sum(n, x[n]*g(x[n], y[m]))"));
}

/// An expression with sums and products, generated at random, written twice: with the
/// generated index names, and with every bound index renamed at random (to any name that
/// does not capture, so reusing names bound outside or free elsewhere).
struct Gen {
    rng: Rng,
}

#[derive(Clone, Debug)]
enum Tree {
    /// `x[i, ...]`: an indexed variable and its index names.
    Elem(&'static str, Vec<&'static str>),
    Add(Box<Tree>, Box<Tree>),
    Mul(Box<Tree>, Box<Tree>),
    Exp(Box<Tree>),
    /// `sum` or `prod`, the index, bounded by `K` or not, the body.
    Bind(&'static str, &'static str, bool, Box<Tree>),
}

const NAMES: [&str; 6] = ["i", "j", "k", "m", "n", "q"];

impl Gen {
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.rng.next_u64() % xs.len() as u64) as usize]
    }

    fn tree(&mut self, depth: u32, scope: &mut Vec<&'static str>) -> Tree {
        let choice = if depth == 0 { 0 } else { self.rng.next_u64() % 6 };
        match choice {
            0 | 1 => {
                let base = self.pick(&["x", "y", "w"]);
                let n = 1 + (self.rng.next_u64() % 2) as usize;
                // Mostly the indices in scope, sometimes a free one.
                let idx = (0..n)
                    .map(|_| {
                        if !scope.is_empty() && !self.rng.next_u64().is_multiple_of(4) {
                            self.pick(scope)
                        } else {
                            self.pick(&NAMES)
                        }
                    })
                    .collect();
                Tree::Elem(base, idx)
            }
            2 => Tree::Add(Box::new(self.tree(depth - 1, scope)), Box::new(self.tree(depth - 1, scope))),
            3 => Tree::Mul(Box::new(self.tree(depth - 1, scope)), Box::new(self.tree(depth - 1, scope))),
            4 => Tree::Exp(Box::new(self.tree(depth - 1, scope))),
            _ => {
                let op = self.pick(&["sum", "sum", "prod"]);
                let k = self.pick(&NAMES);
                let bounded = self.rng.next_u64().is_multiple_of(4);
                scope.push(k);
                let body = self.tree(depth - 1, scope);
                scope.pop();
                Tree::Bind(op, k, bounded, Box::new(body))
            }
        }
    }
}

impl Tree {
    /// The free index names, as written under `names` (bound index -> written name,
    /// innermost last).
    fn free(&self, names: &[(&'static str, &'static str)], out: &mut Vec<&'static str>) {
        let written = |v: &'static str| names.iter().rev().find(|(k, _)| *k == v).map_or(v, |(_, w)| *w);
        match self {
            Tree::Elem(_, idx) => out.extend(idx.iter().map(|v| written(v))),
            Tree::Add(a, b) | Tree::Mul(a, b) => {
                a.free(names, out);
                b.free(names, out);
            }
            Tree::Exp(a) => a.free(names, out),
            Tree::Bind(_, k, _, body) => {
                let mut inner = names.to_vec();
                inner.push((k, "#"));
                let mut found = Vec::new();
                body.free(&inner, &mut found);
                out.extend(found.into_iter().filter(|v| *v != "#"));
            }
        }
    }

    /// The text, with each bound index written as `rename` chooses: given the index
    /// and the names that it must not take (free in its body), a name.
    fn text(
        &self,
        names: &mut Vec<(&'static str, &'static str)>,
        rename: &mut dyn FnMut(&'static str, &[&'static str]) -> &'static str,
    ) -> String {
        let written = |names: &[(&str, &'static str)], v: &'static str| {
            names.iter().rev().find(|(k, _)| *k == v).map_or(v, |(_, w)| *w)
        };
        match self {
            Tree::Elem(b, idx) => {
                format!("{b}[{}]", idx.iter().map(|v| written(names, v)).collect::<Vec<_>>().join(","))
            }
            Tree::Add(a, b) => format!("({} + {})", a.text(names, rename), b.text(names, rename)),
            Tree::Mul(a, b) => format!("({})*({})", a.text(names, rename), b.text(names, rename)),
            Tree::Exp(a) => format!("e^({})", a.text(names, rename)),
            Tree::Bind(op, k, bounded, body) => {
                let mut free = Vec::new();
                Tree::Bind(op, k, *bounded, body.clone()).free(names, &mut free);
                let w = rename(k, &free);
                names.push((k, w));
                let inner = body.text(names, rename);
                names.pop();
                let range = if *bounded { "=1..K" } else { "" };
                format!("{op}({w}{range}, {inner})")
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 200, failure_persistence: None, ..Default::default() })]

    /// Renaming bound indices (without capture) gives the same expression, which prints
    /// and reads back as itself.
    #[test]
    fn renaming_bound_indices_gives_the_same_expression(seed in 0u64..u64::MAX) {
        let mut g = Gen { rng: Rng::new(seed) };
        let tree = g.tree(5, &mut Vec::new());
        let original = tree.text(&mut Vec::new(), &mut |k, _| k);
        let mut pool: Vec<&'static str> = NAMES.to_vec();
        pool.extend(["a", "b", "k1", "k2"]);
        let renamed = tree.text(&mut Vec::new(), &mut |_, free| loop {
            let w = g.pick(&pool);
            if !free.contains(&w) {
                break w;
            }
        });
        let (a, b) = (parse(&original), parse(&renamed));
        proptest::prop_assert_eq!(&a, &b, "{} vs {}", original, renamed);
        proptest::prop_assert_eq!(parse(&a.to_string()), a.clone(), "{} printed as {}", original, a);
    }

    /// Inlining indexed definitions never captures: whatever the names of the
    /// definitions' parameters and summed indices, and of the indices they are used at,
    /// the inlined target is the one written with names that cannot clash.
    #[test]
    fn inlining_never_captures(names in proptest::collection::vec(0usize..4, 6)) {
        let n = |i: usize| ["i", "j", "k", "m"][names[i]];
        let (o, s, zp, zb, hp, hb) = (n(0), n(1), n(2), n(3), n(4), n(5));
        let lets = [
            format!("z[{zp}] = sum({zb}, w[{zp},{zb}]*h[{zb}])"),
            format!("h[{hp}] = sum({hb}, v[{hp},{hb}]*x[{hb}])"),
        ];
        for target in [format!("E = sum({o}, y[{o}]*z[{s}])"), format!("E = z[{s}]*sum({o}, y[{o}]*z[{o}])")] {
            let p = Problem::load(&lets, &target).unwrap();
            // A parameter that the definition's own sum rebinds does not reach the body.
            let h = if hp == hb { "sum(c9, v[c9,c9]*x[c9])" } else { "sum(c9, v[c8,c9]*x[c9])" };
            let z = |at: &str| {
                let at = if zp == zb { "c8" } else { at };
                format!("sum(c8, w[{at},c8]*{h})")
            };
            let want = if target.starts_with("E = sum") {
                format!("sum(c7, y[c7]*{})", z(if s == o { "c7" } else { s }))
            } else {
                format!("{}*sum(c7, y[c7]*{})", z(s), z("c7"))
            };
            proptest::prop_assert_eq!(p.inlined_target(), parse(&want), "{:?} {}", lets, target);
        }
    }
}

#[test]
fn a_sum_whose_range_overflows_is_not_expanded() {
    // hi - lo is more than an i64 holds: the sum stays (it once overflowed).
    let r = crate::support::run(&[
        "diff",
        "sum(k=-9223372036854775808..9223372036854775807, x[k])",
        "--wrt",
        "x[1]",
        "--size",
        "K=3",
    ]);
    assert!(!r.stderr.contains("internal"), "{}", r.stderr);
    let lo = deriv::parse("sum(k=-9223372036854775808..9223372036854775807, x[k])").unwrap();
    let sizes = deriv::diff::parse_sizes("K=3").unwrap();
    assert_eq!(deriv::diff::expand_sums(&lo, &sizes), lo);
}
