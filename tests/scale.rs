//! Scale: n-th derivatives grow linearly in the result form, a layer's gradient with
//! shared intermediates is a small multiple of the function (the cheap-gradient
//! principle), and deep compositions differentiate in linear size.

use crate::support::run;

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
