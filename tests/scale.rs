//! Scale: n-th derivatives grow linearly in the result form, a layer's gradient with
//! shared intermediates is a small multiple of the function (the cheap-gradient
//! principle), deep compositions differentiate in linear size, and a chain of
//! definitions each using the one before twice (a DAG whose tree doubles per level) is
//! differentiated (by a variable, or by an element with deltas resolved and sums
//! expanded), walked, generated as code and simplified in work linear in its levels,
//! within the limits.

use deriv::codegen::{self, Kernel};
use deriv::defs::Problem;
use deriv::diff::{self, Wrt};
use deriv::expr::{self, Expr, Func, Node, Walk};
use deriv::{limits, Sym};

use crate::support::{run, run_with_stdin};

/// Operations in printed text, as the shared benchmark counts them: each `+ - * / ^`
/// (binary or unary) and each function call.
fn ops(text: &str) -> usize {
    let b = text.as_bytes();
    let signs = b.iter().filter(|c| b"+-*/^".contains(c)).count();
    let calls =
        (1..b.len()).filter(|&i| b[i] == b'(' && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')).count();
    // `name = ...` lines of a --cse program: the `=` is not an operation.
    signs + calls
}

#[test]
fn op_counter_counts_the_benchmark_way() {
    assert_eq!(ops("sigmoid(z)*(1 - sigmoid(z))"), 4);
    assert_eq!(ops("-x^2 + e^(2*x)"), 5);
}

#[test]
fn nth_derivatives_of_sigmoid_and_tanh_grow_linearly() {
    for (f, name) in [("e^x/(1+e^x)", "sigmoid(x)"), ("sinh(x)/cosh(x)", "tanh(x)")] {
        let mut sizes = Vec::new();
        for n in 1..=12 {
            let r = run(&["diff", f, "--wrt", "x", "--order", &n.to_string(), "--cse", "--check"]);
            assert_eq!(r.code, 0, "order {n} of {f}: {}", r.stderr);
            assert!(
                r.stdout.contains(name) && !r.stdout.contains("e^"),
                "order {n} of {f} is not in {name}:\n{}",
                r.stdout
            );
            sizes.push(ops(&r.stdout));
        }
        // A polynomial of degree n + 1 in the output: a bounded number of operations
        // more per order.
        for (n, w) in sizes.windows(2).enumerate() {
            assert!(w[1] <= w[0] + 6, "{f}: order {} has {} ops after {} ({sizes:?})", n + 2, w[1], w[0]);
        }
    }
}

/// E = 1/2 sum_k (tanh(sum_j x_j w_j_k) - t_k)^2 for K outputs and M inputs.
fn layer(k: usize, m: usize) -> (String, Vec<String>) {
    let z = |k: usize| (1..=m).map(|j| format!("x_{j}*w_{j}_{k}")).collect::<Vec<_>>().join(" + ");
    let terms: Vec<String> = (1..=k).map(|k| format!("(tanh({}) - t_{k})^2", z(k))).collect();
    let vars = (1..=m).flat_map(|j| (1..=k).map(move |k| format!("w_{j}_{k}"))).collect();
    (format!("1/2*({})", terms.join(" + ")), vars)
}

#[test]
fn a_layer_gradient_is_a_small_multiple_of_the_function() {
    let (e, vars) = layer(6, 12);
    let g = run(&["grad", &e, "--wrt", &vars.join(","), "--cse"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let (fun, grad) = (ops(&e), ops(&g.stdout));
    assert!(grad <= 3 * fun, "gradient {grad} ops for a function of {fun}");
    // Every component is there, and named.
    assert_eq!(g.stdout.lines().filter(|l| l.starts_with("d_w_")).count(), vars.len());
}

#[test]
fn the_gradient_checks_numerically() {
    let (e, vars) = layer(3, 4);
    let g = run(&["grad", &e, "--wrt", &vars.join(","), "--check"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert_eq!(g.stdout.lines().count(), vars.len());
}

#[test]
fn deep_compositions_differentiate_in_linear_size() {
    for depth in [100, 400] {
        let e = format!("{}x{}", "sin(tanh(".repeat(depth / 2), "))".repeat(depth / 2));
        let r = run(&["diff", &e, "--wrt", "x", "--cse", "--check"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let n = ops(&r.stdout);
        assert!(n <= 4 * depth, "depth {depth}: {n} ops");
    }
}

/// `a0 = sin(x); a1 = a0^2 + a0; ...; aN = a(N-1)^2 + a(N-1)`, then `aN`: each level uses
/// the one before twice, so the tree written out doubles per level while the DAG grows
/// by a few nodes.
fn doubling_chain(n: usize) -> String {
    let mut src = String::from("a0 = sin(x)\n");
    for k in 1..=n {
        src.push_str(&format!("a{k} = a{0}^2 + a{0}\n", k - 1));
    }
    src.push_str(&format!("a{n}\n"));
    src
}

/// The distinct nodes of `e`.
fn dag_size(e: &Expr) -> usize {
    expr::post_order(std::slice::from_ref(e), |_| true).len()
}

#[test]
fn a_doubling_chain_and_its_derivative_grow_linearly_as_dags() {
    let x = Sym::new("x");
    let mut sizes = Vec::new();
    for n in 1..=30 {
        let p = deriv::defs::Problem::load(&[], &doubling_chain(n)).unwrap();
        let e = p.inlined_target();
        let d = deriv::diff(&e, &x);
        sizes.push((dag_size(&e), dag_size(&d), d.tree_size()));
    }
    // Every level adds the same few nodes to the function and to its derivative, while
    // the derivative written out grows exponentially.
    for w in sizes.windows(2).skip(2) {
        let ((e0, d0, _), (e1, d1, _)) = (w[0], w[1]);
        assert!(e1 - e0 <= 4 && d1 - d0 <= 12, "a level added {} and {} nodes ({sizes:?})", e1 - e0, d1 - d0);
    }
    assert!(sizes[29].2 > 1 << 30, "{sizes:?}");
}

/// The size of `e` as a DAG with its edges: each distinct node and each of its children.
fn dag_weight(e: &Expr) -> u64 {
    expr::post_order(std::slice::from_ref(e), |_| true).iter().map(|n| 1 + n.children().len() as u64).sum()
}

#[test]
fn walks_over_a_doubling_chain_do_work_linear_in_its_dag() {
    let x = Sym::new("x");
    let sin_x = Expr::builtin(deriv::func::Builtin::Sin, Expr::var("x"));
    for n in [10, 20, 30] {
        let e = deriv::defs::Problem::load(&[], &doubling_chain(n)).unwrap().inlined_target();
        let d = deriv::diff(&e, &x);
        // The work of a rebuild (`limits::within` units: a node built costs one and one
        // per child) is a small multiple of the DAG's size, not of the tree's.
        let (_, subst) = deriv::limits::within(u64::MAX, || expr::substitute(&e, &x, &Expr::var("y")));
        let (_, replaced) = deriv::limits::within(u64::MAX, || expr::replace(&d, &sin_x, &Expr::var("s")));
        assert!(subst <= 4 * dag_weight(&e), "{n} levels: {subst} units for {}", dag_weight(&e));
        assert!(replaced <= 4 * dag_weight(&d), "{n} levels: {replaced} units for {}", dag_weight(&d));
        // The cost counts the printed form, a tree, so it grows as the tree (saturating);
        // computing it walks the DAG.
        let cost = deriv::simplify::cost::cost(&d, &deriv::expr::FastSet::default());
        assert!(u64::from(cost) >= d.tree_size().min(u64::from(u32::MAX)) / 4, "{n} levels: cost {cost}");
    }
}

#[test]
fn a_doubling_chain_of_30_levels_stops_within_its_limits() {
    // Without a node limit only the clock can stop the simplifier and the printer: it
    // must, whatever the walks do.
    let src = doubling_chain(30);
    for args in
        [&["diff", "-", "--wrt", "x", "--timeout", "1", "--max-nodes", "0"][..], &["simplify", "-", "--timeout", "1"]]
    {
        let r = run_with_stdin(args, src.as_bytes());
        assert!(
            r.code == 0 || r.stderr.contains("--timeout") || r.stderr.contains("--max-nodes"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// What `work` costs: its result, and the steps it took (`limits::ticks`: each
/// construction, found or new, and each node a walk visits).
fn steps<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let before = limits::ticks();
    let r = work();
    (r, limits::ticks().wrapping_sub(before))
}

/// The doubling chain over an indexed variable: `a0 = sum(k, w[k]*x[k])`, then
/// `ak = a(k-1)^2 + a(k-1)`.
fn indexed_chain(n: usize) -> String {
    doubling_chain(n).replacen("sin(x)", "sum(k, w[k]*x[k])", 1)
}

/// Whether a call `f` with `pred(f)` occurs in `e`.
fn calls(e: &Expr, pred: impl Fn(&Func) -> bool) -> bool {
    expr::walk(std::slice::from_ref(e), |x| match x.node() {
        Node::Call(f, _) if pred(f) => Walk::Stop,
        _ => Walk::Descend,
    })
}

#[test]
fn index_notation_on_a_doubling_chain_does_work_linear_in_its_dag() {
    let sizes = diff::parse_sizes("K=3").unwrap();
    let by_xj = Wrt::Indexed(Sym::new("x"), vec![Expr::var("j")]);
    let by_x2 = Wrt::Indexed(Sym::new("x"), vec![Expr::int(2)]);
    for n in [10, 20, 30] {
        let e = Problem::load(&[], &indexed_chain(n)).unwrap().inlined_target();
        // By `x[j]`: deltas resolved (`d a0/d x[j]` is `w[j]`) across the shared levels.
        let (d, resolving) = steps(|| diff::diff_wrt(&e, &by_xj));
        assert!(!calls(&d, |f| matches!(f, Func::Delta)), "{n} levels: a delta is left");
        // Sums expanded (`--size K=3`), then by `x[2]`.
        let (expanded, expanding) = steps(|| diff::expand_sums(&e, &sizes));
        assert!(!calls(&expanded, |f| matches!(f, Func::Sum(_))), "{n} levels: a sum is left");
        let (d2, concrete) = steps(|| diff::diff_wrt(&expanded, &by_x2));
        assert!(calls(&d2, |f| matches!(f, Func::Indexed(w) if w.as_str() == "w")), "{n} levels: no w[2]");
        let (e, d, d2) = (dag_weight(&e), dag_weight(&d), dag_weight(&d2));
        eprintln!(
            "{n} levels: resolving {resolving}, expanding {expanding}, concrete {concrete} steps; dags {e}, {d}, {d2}"
        );
        assert!(resolving <= 20 * (e + d), "{n} levels: {resolving} steps to resolve deltas in {d}");
        assert!(expanding <= 20 * e, "{n} levels: {expanding} steps to expand sums in {e}");
        assert!(concrete <= 20 * (e + d2), "{n} levels: {concrete} steps for {d2}");
    }
}

#[test]
fn code_for_a_doubling_chain_is_generated_in_work_linear_in_its_dag() {
    let x = Sym::new("x");
    for n in [10, 20, 30] {
        // An abstract function at the bottom is found by a walk of the DAG.
        let src = doubling_chain(n).replacen("sin(x)", "g(x)", 1);
        let (k, finding) = steps(|| codegen::kernel(&src, &["x"], "f"));
        assert!(k.is_err(), "{n} levels: g(x) generated");
        // The chain's code: its stable form, shared subexpressions and the uses of each
        // local are found per node. (The comments print the source and the partials as
        // text, a tree: here they are short.)
        let e = Problem::load(&[], &doubling_chain(n)).unwrap().inlined_target();
        let k = Kernel {
            name: "f".into(),
            inputs: vec![x.clone()],
            wrt: vec![x.clone()],
            forward: e.clone(),
            partials: vec![Expr::var("y")],
            output: Sym::new("y"),
            grad: Sym::new("grad"),
            source: Expr::var("x"),
        };
        let (code, generating) = steps(|| codegen::rust(&k));
        let w = dag_weight(&e);
        eprintln!("{n} levels: finding {finding}, generating {generating} steps, {} bytes; dag {w}", code.len());
        assert!(finding <= 20 * w, "{n} levels: {finding} steps to find g in {w}");
        assert!(generating <= 50 * w, "{n} levels: {generating} steps to generate {w}");
        assert!(code.len() <= 40 * w as usize, "{n} levels: {} bytes of code for {w}", code.len());
    }
}

/// A chain of depth `n`, as text.
type Chain = fn(usize) -> String;

/// The raw derivative of a depth-`n` chain: constructions (found or new) must grow
/// linearly with the depth, for nested calls, calls through exponentials and long
/// products alike.
#[test]
fn raw_derivatives_of_chains_cost_linear_constructions() {
    let chains: [(&str, Chain); 3] = [
        ("sin(sin(...(x)))", |n| format!("{}x{}", "sin(".repeat(n), ")".repeat(n))),
        ("tanh(e^(sin(...)))", |n| format!("{}x{}", "tanh(e^(sin(".repeat(n / 3), ")))".repeat(n / 3))),
        ("x*(x + 1)*...*(x + n)", |n| (0..n).map(|k| format!("(x + {k})")).collect::<Vec<_>>().join("*")),
    ];
    let x = Sym::new("x");
    for (what, chain) in chains {
        let cost = |n: usize| {
            let e = deriv::parse(&chain(n)).unwrap();
            let (d, steps) = steps(|| deriv::diff(&e, &x));
            assert!(!d.is_zero(), "{what}");
            (steps, dag_size(&d))
        };
        let ((small, small_dag), (large, large_dag)) = (cost(150), cost(600));
        // Linear: four times the depth, about four times the work and the distinct nodes
        // of the result (quadratic would be sixteen).
        assert!(large < 6 * small, "{what}: {small} constructions at depth 150, {large} at 600");
        assert!(large_dag < 6 * small_dag, "{what}: {small_dag} nodes at depth 150, {large_dag} at 600");
    }
}

#[test]
fn a_layer_gradient_searches_each_output_once_not_once_per_input() {
    // Entry (j, k) is x_j times a factor of output k alone: the simplifier searches that
    // factor once per output, so four times the inputs (each pre-activation four times
    // longer, four times the entries) costs about four times the steps (5.2 measured
    // with the per-thread tables built beforehand; 4.5 was measured with them counted
    // in the smaller layer), not sixteen.
    let cost = |m: usize| {
        let (e, vars) = layer(2, m);
        let input = deriv::request::Input::load(&[], &e).unwrap();
        let settings = deriv::request::Settings::default();
        let (out, n) = steps(|| deriv::request::grad(&input, &vars.join(","), &settings));
        let text = out.unwrap().render(deriv::output::Format::Text);
        // Each entry in the form people write: x_j, the output's error and tanh's slope.
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with("x_1*(1 - tanh(") && first.contains("- t_1)"), "{first}");
        assert_eq!(text.lines().count(), vars.len());
        n
    };
    // (A layer of 3 first, so that neither measure holds the tables each thread
    // builds once, the function table's quotients and parsed rows.)
    cost(3);
    let (small, large) = (cost(8), cost(32));
    assert!(large <= 6 * small, "8 inputs: {small} steps, 32 inputs: {large} steps");
    // And the search is shared by the entries of one output, whatever weight each is by:
    // the 64 entries cost far less than 64 times one.
    // (Each in a thread of its own: nothing remembered from the other.)
    let fresh = |by_first_only: bool| {
        std::thread::spawn(move || {
            let (e, vars) = layer(2, 32);
            let input = deriv::request::Input::load(&[], &e).unwrap();
            let wrt = if by_first_only { vars[0].clone() } else { vars.join(",") };
            steps(|| deriv::request::grad(&input, &wrt, &deriv::request::Settings::default())).1
        })
        .join()
        .unwrap()
    };
    let (one, all) = (fresh(true), fresh(false));
    // (13 times measured; 31 when each weight's entries were searched apart.)
    assert!(all < 20 * one, "one entry: {one} steps, all 64: {all} steps");
}

/// Higher orders differentiate each part once: the sigmoid's n-th derivative is a sum of
/// `c*e^(k*x)/(1 + e^x)^k`, and the product without its number recurs at every later
/// order. The steps of orders 1 to 24, per term of all of them, are about 9 (for the
/// renamed, rewritten definition too), where differentiating every term afresh at every
/// order took about 15 (and three times the time).
#[test]
fn higher_orders_differentiate_each_part_once() {
    let x = Sym::new("s");
    for src in ["e^s/(1 + e^s)", "1/(e^-s + 1)"] {
        let e = deriv::parse(src).unwrap();
        let per_term = |n: u64| {
            let (ds, steps) = steps(|| diff::derivatives(&e, &x, n));
            let terms: usize = ds.iter().map(|d| if let Node::Add(ts) = d.node() { ts.len() } else { 1 }).sum();
            steps as f64 / terms as f64
        };
        let (small, large) = (per_term(8), per_term(24));
        eprintln!("{src}: {small:.1} steps a term at order 8, {large:.1} at 24");
        assert!(large < 12.0, "{src}: {large:.1} steps a term at order 24");
    }
}

/// `--repeat` holds each run to the node limit on its own: three runs that each build
/// 600 new nodes pass a limit of 1,000 (they once counted 1,800 together).
#[test]
fn each_repeated_run_has_its_own_node_limit() {
    let limits = limits::Limits { max_nodes: Some(1000), timeout: None };
    let built = limits::with_limits(limits, || {
        deriv::request::repeat(3, |_| {
            let vars: Vec<Expr> = (0..600).map(|i| Expr::var(&format!("fresh{i}"))).collect();
            Ok(vars.len())
        })
    });
    let (n, _) = built.expect("within the limit").expect("no error");
    assert_eq!(n, 600);
    // One run that builds more than the limit still gives up.
    let over = limits::with_limits(limits, || (0..1200).map(|i| Expr::var(&format!("more{i}"))).count());
    assert!(over.is_err(), "1,200 new nodes passed a limit of 1,000");
}

/// Big powers of sums are searched under the part's budget wherever they are expanded:
/// the logarithmic-derivative forms of `(x*(x - t)^n - t)^11`, found to key the search
/// memo, expanded it outside any budget (degree 440, seconds, past `--timeout`). Once
/// the budget binds, a larger exponent costs no more steps (big arithmetic ticks), and
/// the derivative is still the plain chain rule's.
#[test]
fn big_powers_of_sums_stay_within_the_budget() {
    let cost = |n: usize| {
        let input = deriv::request::Input::load(&[], &format!("(x*(x - t)^{n} - t)^11")).unwrap();
        let settings = deriv::request::Settings::default();
        let request = deriv::request::Diff { wrt: Some("x".into()), order: 1, steps: false, sizes: None, at: None };
        let (out, steps) = steps(|| deriv::request::diff(&input, &request, &settings));
        let text = out.unwrap().render(deriv::output::Format::Text);
        assert!(text.starts_with("11*(x*(x - t)^"), "{text}");
        steps
    };
    let (small, large) = (cost(16), cost(39));
    // (1.0 measured; 6.3 with the forms found outside the budget.)
    assert!(large < 2 * small, "n = 16: {small} steps, n = 39: {large} steps");
}
