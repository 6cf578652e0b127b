//! Every LaTeX output renders: the worked examples' derivations, the example notes and
//! the printer's forms go through KaTeX (strict, throwOnError) via
//! scripts/katex-check.mjs with the machine's Node.js. Without Node.js or KaTeX
//! (`cd scripts && npm ci`) the test prints `skipped: ...` and passes locally; under CI it
//! fails.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn latex_lines() -> Vec<String> {
    let mut lines = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["examples/activations.deriv", "examples/softmax.deriv"] {
        let note = std::fs::read_to_string(root.join(file)).unwrap();
        for b in deriv::note::blocks(&note).unwrap() {
            if let deriv::note::Block::Math(m) = b {
                lines.push(m);
            }
        }
    }
    for (src, x) in [("p = 1/(1+e^-z)", "z"), ("x^x", "x"), ("z = x1*w11 + x2*w21; E = 1/2*(g(z) - t)^2", "w11")] {
        lines.push(deriv::derivation(src, x).unwrap().to_latex());
    }
    for src in
        ["g'''(z) + f'[1,2](x, y)^2", "w_alpha*x1 + sqrt(2/pi)*e^(-x^2/2)", "1e400 + x^(3/2)", "abs(x)/sech(x)^2"]
    {
        lines.push(deriv::print::latex::to_latex(&deriv::parse(src).unwrap()));
    }
    // Piecewise: cases, the Heaviside step, max and min, a comparison as a value.
    for src in ["if(x > 0, x, x < -1, -1, a*(e^x - 1))", "heaviside(x - 1)*max(0, x) + min(x, y)", "x*(x >= y)"] {
        lines.push(deriv::print::latex::to_latex(&deriv::parse(src).unwrap()));
    }
    // Names that would print alike, told apart (one written out in typewriter letters).
    for src in ["π + pi + alpha + α + x_1 + x1 + x12 + x[12]", "w_j_k*w[j,k] + σ(x) + sigma(y) + α_1*alpha1"] {
        lines.push(deriv::print::latex::to_latex(&deriv::parse(src).unwrap()));
    }
    for src in ["p[i]*(delta(i,j) - p[j])", "sum(k=1..K, (g(z[k]) - t[k])^2)/2 + prod(k, x[k])", "w[j,k]*x[j]"] {
        lines.push(deriv::print::latex::to_latex(&deriv::parse(src).unwrap()));
    }
    let softmax = "p1 = e^z1/(e^z1 + e^z2); p2 = e^z2/(e^z1 + e^z2)";
    let jac = crate::support::run(&["jacobian", softmax, "--wrt", "z1,z2", "--format", "latex"]);
    lines.push(jac.stdout.trim().to_owned());
    lines.into_iter().map(|l| l.replace('\n', " ")).collect()
}

#[test]
fn every_latex_output_renders_in_katex() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/katex-check.mjs");
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        crate::support::skip("node not found: LaTeX output not rendered in KaTeX");
        return;
    }
    if !root.join("scripts/node_modules/katex").exists() {
        crate::support::skip("KaTeX is not installed (cd scripts && npm ci): LaTeX output not rendered in KaTeX");
        return;
    }
    let lines = latex_lines();
    assert!(lines.len() > 20);
    let mut child = Command::new("node")
        .arg(&script)
        .current_dir(root.join("scripts"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("OK")).collect();
    assert!(
        out.status.success() && failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("OK")).count(), lines.len());
}
