//! Generated code, compiled and run: Rust with rustc, C with cc, Python and NumPy with
//! python3, one program per language holding every kernel. Without cc, python3 or NumPy
//! that language is skipped, saying so (`skipped: ...`); under CI that fails.
//!
//! The kernels are every case of the shared reference suite (`corpus.json`) whose
//! expression has no abstract function, each run at random points of its domain, and the
//! stability table (`tests/data/stability.json`, written by `scripts/stability_table.py`
//! with mpmath), run at z in {-1000, -800, -50, 0, 50, 800, 1000}. Outputs must equal
//! deriv's own evaluation (the forward by [`deriv::eval::eval`], the backward by
//! forward-mode dual numbers on the input, independent of the symbolic derivative) to a
//! relative error of 1e-12, and the stability values must be finite and match the
//! high-precision ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use deriv::check::Rng;
use deriv::codegen::{self, Kernel, Lang};
use deriv::defs::Problem;
use deriv::eval::{self, Env};
use deriv::Sym;

/// One kernel and the points it is run at.
struct Job {
    id: String,
    kernel: Kernel,
    /// Input values, in `kernel.inputs` order.
    points: Vec<Vec<f64>>,
    grads: Vec<f64>,
    /// What the outputs must be: the forward value, then one backward value per input.
    want: Vec<Vec<f64>>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A case of the reference suite, held to deriv's evaluation.
    Corpus,
    /// A kernel that exercises more built-ins and powers, held to deriv's evaluation.
    Coverage,
    /// A row of the stability table, held to its high-precision values (see [`stable_match`]).
    Stability,
}

impl Job {
    fn new(id: String, kernel: Kernel, kind: Kind) -> Job {
        Job { id, kernel, points: vec![], grads: vec![], want: vec![], kind }
    }

    /// Adds a point, with deriv's own values there: the forward by the evaluator, the
    /// backward by dual numbers on the input.
    fn push(&mut self, point: Vec<f64>, grad: f64) {
        let env: Env = self.kernel.inputs.iter().cloned().zip(point.iter().copied()).collect();
        let mut want = vec![eval::eval(&self.kernel.source, &env).unwrap()];
        for x in &self.kernel.wrt {
            want.push(grad * eval::eval_dual(&self.kernel.source, &env, x, None).unwrap().d);
        }
        self.points.push(point);
        self.grads.push(grad);
        self.want.push(want);
    }
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every corpus case with a concrete expression, at 6 random points of its domain.
fn corpus_jobs() -> Vec<Job> {
    // A copy of ../shared/reference/corpus.json (.ci/run checks it is current).
    let path = manifest().join("tests/data/reference-corpus.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let corpus: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut jobs = Vec::new();
    let mut refused = Vec::new();
    for (n, case) in corpus["cases"].as_array().unwrap().iter().enumerate() {
        if case["expect_error"].as_bool() == Some(true) {
            continue;
        }
        let id = case["id"].as_str().unwrap().to_owned();
        let lets: Vec<String> = case["lets"]
            .as_array()
            .map(|l| l.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let problem = Problem::load(&lets, case["expr"].as_str().unwrap()).unwrap();
        let wrt = Sym::new(case["wrt"].as_str().unwrap());
        let kernel = match Kernel::new(&problem, &[wrt], &format!("f_{id}")) {
            Ok(k) => k,
            Err(e) => {
                assert!(e.to_string().contains("abstract function"), "{id}: {e}");
                refused.push(id);
                continue;
            }
        };
        let domain = &case["domain"];
        let mut rng = Rng::new(0xC0DE + n as u64);
        let mut job = Job::new(id, kernel, Kind::Corpus);
        for _ in 0..6 {
            let point: Vec<f64> = job
                .kernel
                .inputs
                .iter()
                .map(|v| {
                    let r = &domain[v.as_str()];
                    rng.uniform(r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
                })
                .collect();
            job.push(point, rng.uniform(0.5, 2.0));
        }
        jobs.push(job);
    }
    assert_eq!(refused, ["sqerr_direct", "sqerr_chain_w11", "sqerr_inline_w1", "abstract_second_order"]);
    jobs
}

/// The stability table's kernels at its points, with grad = 1.
fn stability_jobs() -> Vec<Job> {
    let text = std::fs::read_to_string(manifest().join("tests/data/stability.json")).unwrap();
    let table: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut jobs = Vec::new();
    for case in table["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap().to_owned();
        let kernel = codegen::kernel(case["expr"].as_str().unwrap(), &["z"], &format!("s_{id}")).unwrap();
        let mut job = Job::new(id, kernel, Kind::Stability);
        for v in case["values"].as_array().unwrap() {
            let point = job
                .kernel
                .inputs
                .iter()
                .map(|s| match s.as_str() {
                    "z" => v["z"].as_f64().unwrap(),
                    other => case["fixed"][other].as_str().unwrap().parse().unwrap(),
                })
                .collect();
            let value = |k: &str| v[k].as_str().map_or(f64::NAN, |s| s.parse::<f64>().unwrap());
            job.points.push(point);
            job.grads.push(1.0);
            job.want.push(vec![value("forward"), value("backward")]);
        }
        jobs.push(job);
    }
    jobs
}

/// Kernels that between them use every built-in and every form of power, at random
/// points of a domain where all of it is defined.
fn coverage_jobs() -> Vec<Job> {
    let cases: &[(&str, &[&str], f64, f64)] = &[
        ("abs(x)*x/(2 + sign(x)) + sign(x - 1/2)^2", &["x"], -2.0, 2.0),
        ("sec(x) + csc(x) + cot(x) + tan(x)", &["x"], 0.3, 1.2),
        ("sech(x) + csch(x) + coth(x) + cosh(x)*sinh(x)", &["x"], 0.3, 2.0),
        ("acos(x) + asin(x)*atan(x) + asinh(x) + acosh(x + 2) + atanh(x/2)", &["x"], -0.9, 0.9),
        ("erfc(x) + erf(2*x)", &["x"], -3.0, 3.0),
        // The reciprocal inverses where each is defined (x in 0.2..0.9), the cube root on
        // both signs, and expm1 and log1p.
        (
            "acot(x) + asec(x + 2) + acsc(x + 2) + acoth(x + 2) + asech(x) + acsch(x) + cbrt(x - 1/2) + expm1(x) + log1p(x)",
            &["x"],
            0.2,
            0.9,
        ),
        ("x^(1/3) + x^(2/3) + 2^x + x^(-3/2) + x^(3/2) + x^-2", &["x"], 0.3, 3.0),
        ("x^(1/3) + x^(5/3) + x^(4/3)", &["x"], -2.0, -0.2),
        ("softplus(x*w) + sigmoid(2*x - w) + ln(1 + x^2*w^2) + e^(x*w) - 1", &["x", "w"], -3.0, 3.0),
        ("w*ln(e^x + 2*e^w + 3) + pi*x", &["w", "x"], -3.0, 3.0),
        // ln(1 - e^u) on both sides of u = -ln 2, and the half-angle form of 1 - cos.
        ("ln(1 - e^-x) + ln(2 - 2*e^(-x/4))*w + (1 - cos(x))/x^2", &["x", "w"], 0.1, 5.0),
        // A root of a sum of squares (hypot) and its difference by the conjugate, both
        // signs; identities of 1 + k*f (erfc, tanh by sigmoid, csch).
        ("sqrt(x^2 + 1) - x + w*(x/sqrt(1 + x^2) - 1) + sqrt(4 + w^2)", &["x", "w"], -3.0, 3.0),
        (
            "x*(1 + erf(x)) + w - w*tanh(x) + 1/4 - 1/(4*tanh(x/2)^2) + x*sigmoid(x)*(1 - 2*sigmoid(x))",
            &["x", "w"],
            0.2,
            3.0,
        ),
        // Piecewise: leaky ReLU, ReLU, max/min/clamp, `if` with three branches, comparisons.
        ("if(x > 0, x, 0.01*x) + relu(x - 1/2)*w", &["x", "w"], -2.0, 2.0),
        ("max(x, w, 0) + min(x, 2*w) + clamp(x, -1, 1)*w", &["x", "w"], -2.0, 2.0),
        ("if(x > 1/2, x^2, x < -1/2, e^x - 1, w*x) + heaviside(x)*w + (x >= w)*x", &["x", "w"], -2.0, 2.0),
        // PyTorch's piecewise activations: relu6, hardtanh, hardsigmoid, hardswish (twice),
        // ELU, SELU, CELU, softshrink, threshold; w stands for alpha.
        ("min(max(0, x), 6) + clamp(x, -1, 1) + clamp(x/6 + 1/2, 0, 1) + x*clamp(x + 3, 0, 6)/6", &["x"], -8.0, 8.0),
        ("if(x > 3, x, x < -3, 0, x*(x + 3)/6) + if(x > 0, x, w*(e^x - 1))", &["x", "w"], -5.0, 5.0),
        // (x - 2 takes both signs where w, alpha, stays positive.)
        ("1.0507*if(x > 2, x - 2, w*(e^(x - 2) - 1)) + if(x > 2, x - 2, w*(e^((x - 2)/w) - 1))", &["x", "w"], 0.5, 3.5),
        ("if(x > 1/2, x - 1/2, x < -1/2, x + 1/2, 0) + if(x > w, x, 0)", &["x", "w"], -2.0, 2.0),
    ];
    let mut rng = Rng::new(0xC0FE);
    let mut jobs = Vec::new();
    for (n, (src, wrt, lo, hi)) in cases.iter().enumerate() {
        let kernel = codegen::kernel(src, wrt, &format!("cover{n}")).unwrap();
        let mut job = Job::new(format!("cover{n}"), kernel, Kind::Coverage);
        for _ in 0..6 {
            let point: Vec<f64> = job.kernel.inputs.iter().map(|_| rng.uniform(*lo, *hi)).collect();
            job.push(point, rng.uniform(0.5, 2.0));
        }
        jobs.push(job);
    }
    jobs
}

fn all_jobs() -> Vec<Job> {
    let mut jobs = corpus_jobs();
    jobs.extend(coverage_jobs());
    jobs.extend(stability_jobs());
    jobs
}

/// The relative error of `got` against `want` (0 when they are equal).
fn relative_error(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs().max(f64::MIN_POSITIVE)
    }
}

/// For the stability table: a finite value within 1e-12 relative error, or within 1e-15
/// absolute error of a value below 1 (a derivative in the output `y` cannot resolve
/// `1 - tanh(50)^2 = 1.5e-43` once `y` has rounded to 1; the tests print both errors).
fn stable_match(got: f64, want: f64) -> bool {
    !want.is_finite() || (got.is_finite() && (relative_error(got, want) <= 1e-12 || (got - want).abs() <= 1e-15))
}

fn literal(v: f64) -> String {
    format!("{v:?}")
}

/// One program per language that prints `job point values...` lines.
fn program(lang: Lang, jobs: &[Job]) -> String {
    let mut src = String::new();
    let mut main = String::new();
    if lang == Lang::C {
        src.push_str("#include <stdio.h>\n");
    }
    for (j, job) in jobs.iter().enumerate() {
        let code = codegen::generate(&job.kernel, lang);
        let name = &job.kernel.name;
        let n_out = job.kernel.wrt.len();
        match lang {
            Lang::Rust => src.push_str(&format!("mod k{j} {{\n{code}}}\n\n")),
            _ => src.push_str(&format!("{code}\n\n")),
        }
        if lang == Lang::Numpy {
            let arrays: Vec<String> = (0..job.kernel.inputs.len())
                .map(|i| {
                    format!("np.array([{}])", job.points.iter().map(|p| literal(p[i])).collect::<Vec<_>>().join(", "))
                })
                .collect();
            let grads = format!("np.array([{}])", job.grads.iter().map(|g| literal(*g)).collect::<Vec<_>>().join(", "));
            let n = job.points.len();
            main.push_str(&format!(
                "y = np.broadcast_to(np.asarray({name}({}), dtype=float), ({n},))\n",
                arrays.join(", ")
            ));
            main.push_str(&format!("d = {name}_backward({}, y, {grads})\n", arrays.join(", ")));
            if n_out == 1 {
                main.push_str("d = (d,)\n");
            }
            main.push_str(&format!(
                "d = [np.broadcast_to(np.asarray(c, dtype=float), ({n},)) for c in d]\nfor k in range({n}):\n    print({j}, k, repr(float(y[k])), *[repr(float(c[k])) for c in d])\n"
            ));
            continue;
        }
        for (k, (p, g)) in job.points.iter().zip(&job.grads).enumerate() {
            let args: Vec<String> = p.iter().map(|v| literal(*v)).collect();
            let args = args.join(", ");
            let g = literal(*g);
            let outs: Vec<String> = (0..n_out).map(|i| format!("d{i}")).collect();
            match lang {
                Lang::Rust => {
                    let pattern = if n_out == 1 { "d0".to_owned() } else { format!("({})", outs.join(", ")) };
                    let fmt = vec!["{:e}"; n_out + 1].join(" ");
                    main.push_str(&format!(
                        "    {{ let y = k{j}::{name}({args}); let {pattern} = k{j}::{name}_backward({args}, y, {g}); println!(\"{j} {k} {fmt}\", y, {}); }}\n",
                        outs.join(", ")
                    ));
                }
                Lang::C => {
                    let fmt = vec!["%.17g"; n_out + 1].join(" ");
                    let call = if n_out == 1 {
                        format!("double d0 = {name}_backward({args}, y, {g});")
                    } else {
                        let refs: Vec<String> = outs.iter().map(|o| format!("&{o}")).collect();
                        format!("double {}; {name}_backward({args}, y, {g}, {});", outs.join(", "), refs.join(", "))
                    };
                    main.push_str(&format!(
                        "    {{ double y = {name}({args}); {call} printf(\"{j} {k} {fmt}\\n\", y, {}); }}\n",
                        outs.join(", ")
                    ));
                }
                Lang::Python => {
                    let pattern = if n_out == 1 { "d0".to_owned() } else { outs.join(", ") };
                    main.push_str(&format!(
                        "y = {name}({args})\n{pattern} = {name}_backward({args}, y, {g})\nprint({j}, {k}, repr(y), {})\n",
                        outs.iter().map(|o| format!("repr({o})")).collect::<Vec<_>>().join(", ")
                    ));
                }
                Lang::Numpy => {}
            }
        }
    }
    match lang {
        Lang::Rust => format!("{src}fn main() {{\n{main}}}\n"),
        Lang::C => format!("{src}int main(void) {{\n{main}    return 0;\n}}\n"),
        Lang::Python | Lang::Numpy => format!("{src}{main}"),
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn work_dir(lang: Lang) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("codegen-{}", lang.name()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles (where the language compiles) and runs the program; its output lines.
fn compile_and_run(lang: Lang, src: &str) -> String {
    let dir = work_dir(lang);
    match lang {
        Lang::Rust => {
            std::fs::write(dir.join("prog.rs"), src).unwrap();
            run(Command::new("rustc")
                .args(["--edition", "2021", "-D", "warnings", "-o"])
                .arg(dir.join("prog"))
                .arg(dir.join("prog.rs")));
            run(&mut Command::new(dir.join("prog")))
        }
        Lang::C => {
            std::fs::write(dir.join("prog.c"), src).unwrap();
            run(Command::new("cc")
                .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
                .arg(dir.join("prog"))
                .arg(dir.join("prog.c"))
                .arg("-lm"));
            run(&mut Command::new(dir.join("prog")))
        }
        Lang::Python | Lang::Numpy => {
            std::fs::write(dir.join("prog.py"), src).unwrap();
            run(Command::new("python3").args(["-W", "error"]).arg(dir.join("prog.py")))
        }
    }
}

/// Runs every job in `lang` and checks the outputs: the failures, and a summary line.
fn check_language(lang: Lang, jobs: &[Job]) -> (Vec<String>, String) {
    let out = compile_and_run(lang, &program(lang, jobs));
    let mut got: HashMap<(usize, usize), Vec<f64>> = HashMap::new();
    for line in out.lines() {
        let mut words = line.split_whitespace();
        let j: usize = words.next().unwrap().parse().unwrap();
        let k: usize = words.next().unwrap().parse().unwrap();
        let values = words.map(|w| w.parse::<f64>().unwrap_or_else(|_| panic!("{line}"))).collect();
        got.insert((j, k), values);
    }
    let (mut max_err, mut worst, mut n_points) = (0.0f64, String::new(), 0);
    let n_cases = jobs.iter().filter(|j| j.kind == Kind::Corpus).count();
    let n_cover = jobs.iter().filter(|j| j.kind == Kind::Coverage).count();
    let mut table = String::new();
    let mut failures = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        for (k, want) in job.want.iter().enumerate() {
            let values = got.get(&(j, k)).unwrap_or_else(|| panic!("{}: no output for point {k}", job.id));
            assert_eq!(values.len(), want.len(), "{}", job.id);
            for (i, (g, w)) in values.iter().zip(want).enumerate() {
                let what = if i == 0 { "forward" } else { "backward" };
                let err = relative_error(*g, *w);
                if job.kind == Kind::Stability {
                    if !stable_match(*g, *w) {
                        failures.push(format!("{} at z = {}: {what} {g:e}, want {w:e}", job.id, job.points[k][0]));
                    }
                    table.push_str(&format!(
                        "{:<20} {:>6} {:<9} {:>24e} {:>24e} {:>9.1e}\n",
                        job.id, job.points[k][0], what, g, w, err
                    ));
                    continue;
                }
                n_points += 1;
                if err > max_err {
                    max_err = err;
                    worst = format!("{} {what} at {:?}", job.id, job.points[k]);
                }
                if err > 1e-12 {
                    failures
                        .push(format!("{} {what} at {:?}: {g:e}, want {w:e} (error {err:.1e})", job.id, job.points[k]));
                }
            }
        }
    }
    assert!(n_cases >= 40, "only {n_cases} cases");
    let summary = format!(
        "{}: {n_cases} corpus cases and {n_cover} more kernels, {n_points} values agree, max relative error {max_err:.1e} ({worst})",
        lang.name()
    );
    println!("{summary}\nstability ({}): case, z, which, got, want, relative error\n{table}", lang.name());
    (failures.into_iter().map(|f| format!("{}: {f}", lang.name())).collect(), summary)
}

/// One program per language (the kernels are built once: the simplifier is the slow
/// part), each compiled once.
#[test]
fn generated_code_compiles_runs_and_agrees() {
    let jobs = all_jobs();
    let runs = |cmd: &str, args: &[&str]| Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success());
    let mut failures = Vec::new();
    for lang in Lang::ALL {
        // rustc is required (it built this test); the other tools are optional locally.
        let missing = match lang {
            Lang::Rust => None,
            Lang::C => (!runs("cc", &["--version"])).then_some("cc not found"),
            Lang::Python => (!runs("python3", &["--version"])).then_some("python3 not found"),
            Lang::Numpy => (!runs("python3", &["-c", "import numpy"]))
                .then_some("NumPy is not installed (`python3 -m pip install numpy`; .ci/run installs it)"),
        };
        if let Some(why) = missing {
            crate::support::skip(&format!("{why}: the generated {} code was not run", lang.name()));
            continue;
        }
        failures.extend(check_language(lang, &jobs).0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The library's own evaluator computes the stable forms: every value of the table,
/// forward and backward as the kernel writes them (the forward simplified, the backward
/// with `y` the forward's value), is finite and matches.
#[test]
fn the_evaluator_is_stable() {
    let jobs = stability_jobs();
    assert!(jobs.len() >= 10 && jobs.iter().all(|j| j.points.len() >= 7), "the stability table is too short");
    for job in jobs {
        for (p, want) in job.points.iter().zip(&job.want) {
            let mut env: Env = job.kernel.inputs.iter().cloned().zip(p.iter().copied()).collect();
            let y = eval::eval(&job.kernel.forward, &env).unwrap();
            env.insert(job.kernel.output.clone(), y);
            let d = eval::eval(&job.kernel.partials[0], &env).unwrap();
            assert!(stable_match(y, want[0]), "{} at {p:?}: forward {y:e}, want {:e}", job.id, want[0]);
            assert!(stable_match(d, want[1]), "{} at {p:?}: backward {d:e}, want {:e}", job.id, want[1]);
        }
    }
}

#[test]
fn worked_examples() {
    let sigmoid = codegen::kernel("p = e^z/(1+e^z)", &["z"], "sigmoid").unwrap();
    assert_eq!(sigmoid.partials[0].to_string(), "y*(1 - y)");
    for lang in Lang::ALL {
        insta::assert_snapshot!(format!("sigmoid_{}", lang.name()), codegen::generate(&sigmoid, lang));
    }
    let tanh = codegen::kernel("sinh(x)/cosh(x)", &["x"], "tanh_fwd").unwrap();
    assert_eq!(tanh.partials[0].to_string(), "1 - y^2");
    insta::assert_snapshot!("tanh_rust", codegen::rust(&tanh));
    let softmax = codegen::kernel("p1 = e^z1/(e^z1 + e^z2 + e^z3)", &["z1", "z2", "z3"], "softmax1").unwrap();
    insta::assert_snapshot!("softmax_rust", codegen::rust(&softmax));
    insta::assert_snapshot!("softmax_c", codegen::c(&softmax));
    let softplus = codegen::kernel("ln(1+e^x)", &["x"], "softplus").unwrap();
    insta::assert_snapshot!("softplus_numpy", codegen::numpy(&softplus));
    let lse = codegen::kernel("ln(e^a + e^b + e^c)", &["a", "b", "c"], "logsumexp").unwrap();
    insta::assert_snapshot!("logsumexp_python", codegen::python(&lse));
}

#[test]
fn a_backward_from_the_inputs_keeps_what_the_output_loses() {
    // The sigmoid's y*(1 - y) is 0 once y rounds to 1 (z = 40); from the inputs the
    // backward keeps the true 4.2e-18, and reads no y.
    let at = |e: &deriv::Expr, z: f64| deriv::eval::eval(e, &[(deriv::Sym::new("z"), z)].into()).unwrap();
    let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    let truths: [(&str, &dyn Fn(f64) -> f64); 3] = [
        ("p = e^z/(1 + e^z)", &|z| s(z) * s(-z)),
        ("sigmoid(z)", &|z| s(z) * s(-z)),
        ("tanh(z)", &|z: f64| 1.0 / z.cosh().powi(2)),
    ];
    for (src, truth) in truths {
        let k = codegen::kernel(src, &["z"], "k").unwrap();
        assert!(k.partials[0].free_vars().contains(&k.output), "{src}: {}", k.partials[0]);
        let exact = k.backward_from(codegen::Backward::Input);
        let d = &exact.partials[0];
        assert!(!d.free_vars().contains(&exact.output), "{src}: {d}");
        for z in [-40.0, -3.0, 0.5, 40.0, 300.0] {
            let (got, want) = (at(d, z), truth(z));
            assert!(got > 0.0 && ((got - want) / want).abs() < 1e-13, "{src} at {z}: {got} against {want}");
        }
    }
    let r = crate::support::run(&["codegen", "sigmoid(z)", "--lang", "python", "--backward", "input"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("where y") && !r.stdout.contains("* y"), "{}", r.stdout);
}

#[test]
fn the_command_line() {
    insta::assert_snapshot!(crate::support::transcript(&[
        "codegen",
        "p = e^z/(1+e^z)",
        "--wrt",
        "z",
        "--lang",
        "python",
        "--name",
        "sigmoid"
    ]));
    // The name defaults to the definition's, or `f`; --wrt to the one variable.
    let r = crate::support::run(&["codegen", "t = tanh(x)", "--lang", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("double t_backward(double x, double y, double grad) {"), "{}", r.stdout);
    let r = crate::support::run(&["codegen", "--lang", "numpy", "--", "-ln(1+e^-x)"]);
    assert!(
        r.stdout.contains("def f(x):\n    return -(np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(-x))))\n"),
        "{}",
        r.stdout
    );
    for (args, message) in [
        (&["codegen", "g(x)^2/2", "--wrt", "x"][..], "error: cannot generate code for the abstract function `g`"),
        (&["codegen", "x*y", "--wrt", "x", "--name", "2f"][..], "error: `2f` is not a function name"),
        (&["codegen", "x*y"][..], "error: 2 free variables (x, y): pass --wrt to choose one"),
        (&["codegen", "x", "--lang", "go"][..], "error: invalid value 'go' for '--lang <LANG>'"),
    ] {
        let r = crate::support::run(args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stdout.is_empty(), "{args:?}");
        assert!(r.stderr.starts_with(message), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn names_that_clash_are_renamed_or_refused() {
    // An input named like a keyword gets a trailing `_`; the saved output is not `y`
    // when an input is.
    let k = codegen::kernel("fn*y + float", &["fn", "float"], "f").unwrap();
    let rust = codegen::rust(&k);
    assert!(
        rust.contains("pub fn f_backward(fn_: f64, float: f64, y: f64, out: f64, grad: f64) -> (f64, f64)"),
        "{rust}"
    );
    let py = codegen::python(&k);
    assert!(py.contains("def f_backward(fn, float_, y, out, grad):"), "{py}");
    let err = codegen::kernel("x^2", &["x"], "return").unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
    let err = codegen::kernel("g(x)", &["x"], "f").unwrap_err();
    assert!(err.to_string().contains("abstract function `g`"), "{err}");
}

#[test]
fn long_derivatives_are_cut_in_comments_and_shared_in_code() {
    let src = format!("{}x{}", "sin(".repeat(60), ")".repeat(60));
    let k = codegen::kernel(&src, &["x"], "f").unwrap();
    let py = codegen::python(&k);
    // The derivative printed in full is quadratic in the depth; the code is linear.
    assert!(k.partials[0].to_string().len() > 9_000);
    assert!(py.len() < 4_000, "{}", py.len());
    assert!(py.lines().nth(1).is_some_and(|l| l.starts_with("# d/dx = cos(x)*") && l.ends_with(" ....")));
}
