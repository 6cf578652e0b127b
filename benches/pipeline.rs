//! The whole pipeline (parse, differentiate, simplify, print to a buffer) on the shared
//! benchmark's workload shapes, in-process: `cargo bench`. Peers are compared by
//! `bench/peers.py`, which times `deriv --repeat` against SymPy and SymEngine in one run.

use std::ffi::OsString;

fn main() {
    divan::main();
}

/// One `deriv` command line, run in-process as the binary would; panics on failure.
fn deriv(args: &[&str]) -> Vec<u8> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = deriv::cli::run(&args, &mut std::io::empty(), &mut out, &mut err);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    out
}

const ACTIVATIONS: &[(&str, &str)] = &[
    ("sigmoid", "e^z/(1+e^z)"),
    ("tanh", "sinh(x)/cosh(x)"),
    ("softplus", "ln(1+e^x)"),
    ("swish", "x/(1+e^(-x))"),
    ("gelu", "x/2*(1+erf(x/sqrt(2)))"),
    ("mish", "x*tanh(ln(1+e^x))"),
];

/// W1: first derivatives of activations, simplified.
#[divan::bench(args = ACTIVATIONS.iter().map(|a| a.0))]
fn activation(name: &str) -> Vec<u8> {
    let (_, e) = ACTIVATIONS.iter().find(|a| a.0 == name).copied().unwrap_or(ACTIVATIONS[0]);
    let x = if e.contains('z') { "z" } else { "x" };
    deriv(&["diff", e, "--wrt", x])
}

/// W2: n-th derivatives of the sigmoid, in terms of its output, shared.
#[divan::bench(args = [4, 8, 12, 20])]
fn sigmoid_nth(n: u32) -> Vec<u8> {
    deriv(&["diff", "e^x/(1+e^x)", "--wrt", "x", "--order", &n.to_string(), "--cse"])
}

/// W3: nested compositions sin(sin(...sin(x)...)).
#[divan::bench(args = [10, 200, 1000])]
fn nested_sin(depth: usize) -> Vec<u8> {
    let e = format!("{}x{}", "sin(".repeat(depth), ")".repeat(depth));
    deriv(&["diff", &e, "--wrt", "x", "--cse"])
}

/// W4: the gradient of E = 1/2 sum_k (tanh(sum_j x_j w_j_k) - t_k)^2 over every weight.
#[divan::bench(args = [(10, 10), (10, 100), (50, 100)], sample_count = 10)]
fn layer_gradient(km: (usize, usize)) -> Vec<u8> {
    let (k, m) = km;
    let z = |k: usize| (1..=m).map(|j| format!("x_{j}*w_{j}_{k}")).collect::<Vec<_>>().join(" + ");
    let e = format!("1/2*({})", (1..=k).map(|k| format!("(tanh({}) - t_{k})^2", z(k))).collect::<Vec<_>>().join(" + "));
    let vars: Vec<String> = (1..=m).flat_map(|j| (1..=k).map(move |k| format!("w_{j}_{k}"))).collect();
    deriv(&["grad", &e, "--wrt", &vars.join(","), "--cse"])
}
