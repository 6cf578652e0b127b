//! Requests: what each command asks of the library, answered as an [`Output`].
//!
//! The command line reads its arguments and files and hands the text to
//! [`Input::load`] (or [`Input::load_rows`] for a Jacobian); each command is then one
//! function here, from the input and the request's [`Settings`] to an [`Output`] (or a
//! value, or source code). What lies between (choosing the variable, the form and the
//! facts, differentiating by an element `z[j]`, checking the results against dual
//! numbers) is all here, so a library caller gets exactly what the command line prints.
//!
//! ```
//! use deriv::output::Format;
//! use deriv::request::{self, Input, Settings};
//! let input = Input::load(&[], "p = e^z/(1+e^z)").unwrap();
//! let settings = Settings { check: Some(1e-9), ..Settings::default() };
//! let out = request::grad(&input, "z", &settings).unwrap();
//! assert_eq!(out.render(Format::Text), "p*(1 - p)\n");
//! ```

use std::collections::HashMap;

use crate::check::{self, CheckReport};
use crate::codegen;
use crate::defs::Problem;
use crate::derivation::Derivation;
use crate::diff::Wrt;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{self, Env};
use crate::expr::{self, Expr, Func, Node, Sym, Walk};
use crate::func;
use crate::indexed;
use crate::matrix::{self, Options};
use crate::output::{Checked, Output, Value};
use crate::parse;
use crate::simplify::{self, Form};
use crate::specialise;

/// A program and the definitions given beside it, read, with the warnings found on the
/// way (calls of abstract functions whose names are a typo away from a built-in).
#[derive(Clone, Debug)]
pub struct Input {
    problem: Problem,
    rows: Vec<Expr>,
    warnings: Vec<Error>,
}

impl Input {
    /// Reads `lets` (each `NAME=DEF`) and then `program` ([`Problem::load`]).
    pub fn load(lets: &[String], program: &str) -> Result<Input> {
        let problem = Problem::load(lets, program)?;
        let mut warnings = typos(&problem, &[], program, lets);
        if let Some((target, user, meant)) = problem.used_target() {
            let kind = ErrorKind::UsedTarget {
                name: target.name.to_string(),
                user: user.to_string(),
                meant: meant.map(|m| m.to_string()),
            };
            warnings.push(Error::at(kind, target.span, &target.source));
        }
        let rows = vec![problem.target.clone()];
        Ok(Input { problem, rows, warnings })
    }

    /// Reads `lets` and then `program`, whose statements are the rows of a Jacobian
    /// ([`Problem::load_rows`]).
    pub fn load_rows(lets: &[String], program: &str) -> Result<Input> {
        let (problem, rows) = Problem::load_rows(lets, program)?;
        let warnings = typos(&problem, &rows, program, lets);
        Ok(Input { problem, rows, warnings })
    }

    /// The definitions and the target.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// What to warn about, in order.
    pub fn warnings(&self) -> &[Error] {
        &self.warnings
    }
}

/// How results are simplified, checked and written: the settings `diff`, `grad`,
/// `jacobian` and `hessian` share.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Which forms to choose from; `None` is in terms of the names when the input
    /// defines any, the cheapest form otherwise.
    pub form: Option<Form>,
    /// Facts `LHS = RHS` the simplifier may use.
    pub assume: Vec<String>,
    /// Check every result against dual numbers at random points, accepting at most this
    /// error.
    pub check: Option<f64>,
    /// Write the results as shared intermediates (`diff` and `grad`).
    pub cse: bool,
}

/// What `diff` differentiates by, and how often.
#[derive(Clone, Debug)]
pub struct Diff {
    /// A variable (`x`) or an element of an indexed one (`z[j]`); `None` is the
    /// expression's only variable.
    pub wrt: Option<String>,
    /// How many times to differentiate.
    pub order: u64,
    /// Show the derivation step by step.
    pub steps: bool,
    /// Sizes to expand sums to (`K=3,M=2`).
    pub sizes: Option<String>,
    /// Values to put in before differentiating (`z[1]=0`): the problem is specialised
    /// ([`crate::specialise`]) at them and at `sizes`, and differentiated as a problem in
    /// plain variables.
    pub at: Option<String>,
}

/// The derivative of the input's target.
pub fn diff(input: &Input, request: &Diff, settings: &Settings) -> Result<Output> {
    let p = &input.problem;
    let sizes = request.sizes.as_deref().map(crate::diff::parse_sizes).transpose()?;
    if let Some(at) = &request.at {
        return diff_specialised(input, at, request, settings, &sizes.unwrap_or_default());
    }
    let target = match &sizes {
        Some(s) => crate::diff::expand_sums(&p.inlined_target(), s),
        None => p.inlined_target(),
    };
    if let Some(w) = &request.wrt {
        if let Some(elements) = elements(p, w)? {
            return diff_by_element(input, &elements, request, settings, sizes.unwrap_or_default());
        }
    }
    let x = match &request.wrt {
        Some(w) => p.variable(w)?,
        None => only_variable(&target)?,
    };
    let opts = options(p, settings)?;
    if request.steps {
        if request.order != 1 {
            return Err(Error::new(ErrorKind::StepsOrder));
        }
        if !opts.assume.is_empty() {
            return Err(Error::new(ErrorKind::StepsAssume));
        }
        return Ok(Output::steps(Derivation::new(p, &x, opts.form)?));
    }
    let shown = matrix::derivatives(p, &target, &x, request.order, &opts);
    let d = shown.last().map_or_else(|| target.clone(), |s| s.shown.clone());
    // The check runs on what is shown, with the names inlined (and each assumed side as
    // itself): each order against the derivative of the one before.
    let check = match settings.check {
        Some(tolerance) => {
            let chain: Vec<Expr> = std::iter::once(target.clone()).chain(shown.iter().map(|s| s.exact(p))).collect();
            Some(passed(check::check_chain(&chain, &x, 12, 0x5EED)?, tolerance)?)
        }
        None => None,
    };
    if settings.cse {
        let checks = check.map(|c| (String::new(), c.report)).into_iter().collect();
        return Ok(Output::shared(&[d], Vec::new()).with_shared_checks(checks));
    }
    Ok(Output::derivative(&p.target, x.to_string(), Some(request.order), d, check))
}

/// `diff` at sizes and values: the problem specialised, differentiated as usual, and
/// its result (or steps) written back in the elements.
fn diff_specialised(
    input: &Input,
    at: &str,
    request: &Diff,
    settings: &Settings,
    sizes: &std::collections::HashMap<Sym, i64>,
) -> Result<Output> {
    let p = &input.problem;
    let wrt = match &request.wrt {
        Some(w) => w.clone(),
        None => only_variable(&p.inlined_target())?.to_string(),
    };
    let s = specialise::specialise(p, &wrt, sizes, &specialise::parse_values(at)?)?;
    let inner = Input { rows: vec![s.problem.target.clone()], problem: s.problem.clone(), warnings: Vec::new() };
    let scalar =
        Diff { wrt: Some(s.wrt.to_string()), order: request.order, steps: request.steps, sizes: None, at: None };
    let out = diff(&inner, &scalar, settings)?;
    Ok(out.map_exprs(|e| s.restore(e), |d| s.restore_derivation(d)))
}

/// `diff` by elements of indexed variables ([`indexed::derivatives`]): one element
/// `order` times, or a list (`z[j],z[l]`: by `z[j]`, then by `z[l]`) of `order`
/// elements (or with the order left at 1).
fn diff_by_element(
    input: &Input,
    wrt: &[Wrt],
    request: &Diff,
    settings: &Settings,
    sizes: HashMap<Sym, i64>,
) -> Result<Output> {
    if request.steps {
        let [Wrt::Indexed(base, idx)] = wrt else {
            return Err(Error::new(ErrorKind::IndexedUnsupported {
                option: "--steps with several elements".to_owned(),
            }));
        };
        if request.order != 1 {
            return Err(Error::new(ErrorKind::StepsOrder));
        }
        return Ok(Output::steps(Derivation::indexed(
            input.problem(),
            base,
            idx,
            &sizes,
            &options(input.problem(), settings)?,
        )?));
    }
    let order = request.order;
    let wrt: Vec<Wrt> = match wrt {
        [w] if order <= MAX_INDEXED_ORDER => vec![w.clone(); order as usize],
        [_] => return Err(Error::new(ErrorKind::IndexedUnsupported { option: format!("--order {order}") })),
        ws if order == 1 || order == ws.len() as u64 => ws.to_vec(),
        ws => return Err(Error::new(ErrorKind::IndexedOrder { order, elements: ws.len() })),
    };
    let shown_order = (wrt.len() != 1).then_some(wrt.len() as u64);
    by_elements(input, &wrt, shown_order, settings, &sizes)
}

/// The highest `--order` taken by one element of an indexed variable.
const MAX_INDEXED_ORDER: u64 = 16;

/// The derivative of the input's target by the elements `wrt` in turn, checked when
/// asked; `order` is the order shown.
fn by_elements(
    input: &Input,
    wrt: &[Wrt],
    order: Option<u64>,
    settings: &Settings,
    sizes: &HashMap<Sym, i64>,
) -> Result<Output> {
    let p = &input.problem;
    let entries = indexed::derivatives(p, wrt, sizes, &options(p, settings)?);
    let check = match settings.check {
        Some(tolerance) => {
            let exact: Vec<Expr> = entries.iter().map(|e| e.exact(p)).collect();
            Some(passed(indexed::check(p, wrt, sizes, &exact)?, tolerance)?)
        }
        None => None,
    };
    let d = entries.last().map_or_else(|| crate::diff::expand_sums(&p.inlined_target(), sizes), |e| e.shown.clone());
    if settings.cse {
        let checks = check.clone().map(|c| (String::new(), c.report)).into_iter().collect();
        return Ok(Output::shared(&[d], Vec::new()).with_shared_checks(checks));
    }
    let variable: Vec<String> = wrt
        .iter()
        .map(|w| match w {
            Wrt::Var(x) => x.to_string(),
            Wrt::Indexed(b, idx) => Expr::call(Func::Indexed(b.clone()), idx.clone()).to_string(),
        })
        .collect();
    Ok(Output::derivative(&p.target, variable.join(","), order, d, check))
}

/// `wrt` as what to differentiate by, when it names an element of an indexed variable:
/// its parts, split at the commas outside brackets (`w[j,k],x`), each an element
/// (`z[j]`, whose base is no defined name) or a variable. `None` when no part is an
/// element.
fn elements(p: &Problem, wrt: &str) -> Result<Option<Vec<Wrt>>> {
    // An element is written with brackets: a part without any is not parsed.
    let element = |part: &str| {
        if !part.contains('[') {
            return None;
        }
        match parse::parse_expr(part).as_ref().map(Expr::node) {
            Ok(Node::Call(Func::Indexed(base), idx)) => Some((base.clone(), idx.clone())),
            _ => None,
        }
    };
    let parts = parse::split_outside_brackets(wrt);
    if !parts.iter().any(|part| element(part).is_some()) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for part in parts {
        out.push(match element(part) {
            Some((base, _)) if p.get(&base).is_some() => {
                return Err(Error::new(ErrorKind::DefinedVariable { name: base.to_string(), definition: None }));
            }
            Some((base, idx)) => Wrt::Indexed(base, idx),
            None => Wrt::Var(p.variable(part.trim())?),
        });
    }
    Ok(Some(out))
}

/// The gradient of the input's target by `wrt` (comma-separated variables).
pub fn grad(input: &Input, wrt: &str, settings: &Settings) -> Result<Output> {
    let p = &input.problem;
    let vars = variables(p, wrt)?;
    let opts = options(p, settings)?;
    let entries = matrix::gradient(p, &p.target, &vars, &opts);
    let mut reports = Vec::new();
    if let Some(tolerance) = settings.check {
        reports = matrix::check_gradient(p, &p.target, &vars, &entries)?;
        for r in &reports {
            passed(r.clone(), tolerance)?;
        }
    }
    let grads: Vec<Expr> = entries.into_iter().map(|e| e.shown).collect();
    if settings.cse {
        let checks = vars.iter().zip(&reports).map(|(x, r)| (format!("d/d{x}"), r.clone())).collect();
        return Ok(Output::shared(&grads, vars.iter().map(|x| format!("d_{x}")).collect()).with_shared_checks(checks));
    }
    let mut reports = reports.into_iter();
    Ok(Output::gradient(&p.target, vars.into_iter().zip(grads).map(|(x, g)| (x, g, reports.next())).collect()))
}

/// The Jacobian of the input's rows ([`Input::load_rows`]) by `wrt`.
pub fn jacobian(input: &Input, wrt: &str, settings: &Settings) -> Result<Output> {
    let (p, rows) = (&input.problem, &input.rows);
    let vars = variables(p, wrt)?;
    let opts = options(p, settings)?;
    let m = matrix::jacobian(p, rows, &vars, &opts);
    let checks = settings.check.map(|_| matrix::check_jacobian(p, rows, &vars, &m)).transpose()?;
    let label = |i: usize, j: usize| match rows[i].node() {
        Node::Var(name) => format!("d{name}/d{}", vars[j]),
        _ => format!("d(row {})/d{}", i + 1, vars[j]),
    };
    checked_matrix(Output::matrix(rows, &vars, shown(m), None), checks, label, settings)
}

/// The Hessian of the input's target by `wrt`.
///
/// By elements of an indexed variable (`z[j],z[l]`, or `z[j]` for `z[j],z[j]`), the
/// Hessian's general entry in index notation.
pub fn hessian(input: &Input, wrt: &str, settings: &Settings) -> Result<Output> {
    let p = &input.problem;
    if let Some(elements) = elements(p, wrt)? {
        let pair = match elements.as_slice() {
            [w] => vec![w.clone(), w.clone()],
            [_, _] => elements,
            ws => return Err(Error::new(ErrorKind::IndexedHessian { elements: ws.len() })),
        };
        return by_elements(input, &pair, Some(2), settings, &HashMap::new());
    }
    let vars = variables(p, wrt)?;
    let opts = options(p, settings)?;
    let m = matrix::hessian(p, &p.target, &vars, &opts);
    let checks = settings.check.map(|_| matrix::check_hessian(p, &p.target, &vars, &m)).transpose()?;
    let label = |i: usize, j: usize| match (&vars[i], &vars[j]) {
        (x, y) if x == y => format!("d2/d{x}^2"),
        (x, y) => format!("d2/d{x} d{y}"),
    };
    checked_matrix(Output::matrix(std::slice::from_ref(&p.target), &vars, shown(m), None), checks, label, settings)
}

/// The input's target simplified, in terms of the names it defines where `form` allows;
/// a definition's own name would be a trivial answer, so its body is simplified.
pub fn simplify(input: &Input, form: Option<Form>) -> Output {
    let p = &input.problem;
    let mut names = p.names(None);
    let own = match p.target.node() {
        Node::Var(v) if p.get(v).is_some() => Some(v.clone()),
        _ => p.target_name.clone(),
    };
    names.defs.retain(|(n, _)| Some(n) != own.as_ref());
    let form = form.unwrap_or(Options::new(p).form);
    Output::simplified(&p.target, simplify::simplify(&p.inlined_target(), &names, form))
}

/// The input's target at the point `at` (`x=1,y=pi/2`): a finite number, or an error.
pub fn eval(input: &Input, at: &str) -> Result<f64> {
    let v = eval::eval(&evaluated_form(input), &point(at)?)?;
    if !v.is_finite() {
        return Err(Error::new(ErrorKind::NotFinite(v)));
    }
    Ok(v)
}

/// The input's target at the point `at`, exactly where it can be: when every value of
/// `at` is an exact number (`x=2`, `x=1/3`, `x=0.1`) and the target with them put in
/// folds to a number (rational arithmetic and integer powers: `2^100`, `x/3 + 1`),
/// that rational; otherwise the float [`eval()`] computes.
pub fn eval_value(input: &Input, at: &str) -> Result<Value> {
    let (env, exact) = point_exprs(at)?;
    if exact.values().all(|v| v.as_num().is_some()) {
        let target = input.problem.inlined_target();
        if target.tree_size() <= EVAL_SIMPLIFIES {
            if let Some(r) = expr::substitute_all(&target, &exact).as_num() {
                return Ok(Value::Exact(r.clone()));
            }
        }
    }
    let v = eval::eval(&evaluated_form(input), &env)?;
    if !v.is_finite() {
        return Err(Error::new(ErrorKind::NotFinite(v)));
    }
    Ok(Value::Float(v))
}

/// The input's target at each point of `table`: CSV whose first line names the
/// variables and each further line gives one point's values (numbers as Rust reads an
/// `f64`; blank lines are skipped). A value that is not finite is returned as it is.
pub fn eval_points(input: &Input, table: &str) -> Result<Vec<f64>> {
    let mut lines = table.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let bad = |line: usize, why: String| Error::new(ErrorKind::BadPointsLine { line: line + 1, why });
    let Some((_, header)) = lines.next() else { return Ok(Vec::new()) };
    let names: Vec<Sym> = header.split(',').map(|n| crate::parse::check_variable(n.trim())).collect::<Result<_>>()?;
    let mut points = Vec::new();
    for (i, line) in lines {
        let values: Vec<&str> = line.split(',').map(str::trim).collect();
        if values.len() != names.len() {
            return Err(bad(i, format!("{} values for {} variables", values.len(), names.len())));
        }
        let mut env = Env::new();
        for (name, v) in names.iter().zip(values) {
            let v: f64 = v.parse().map_err(|_| bad(i, format!("`{v}` is not a number")))?;
            env.insert(name.clone(), v);
        }
        points.push(env);
    }
    Ok(eval::eval_many(&evaluated_form(input), &points)?.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// The form `eval` computes: the input's target simplified, as the forward pass of
/// generated code is (built-ins spelled in exponentials are the built-ins, so
/// `(e^x - e^-x)/(e^x + e^-x)` is computed as `tanh(x)`), then in stable forms. An input
/// larger than [`EVAL_SIMPLIFIES`] nodes is computed as written (in stable forms).
fn evaluated_form(input: &Input) -> Expr {
    computed(input.problem.inlined_target())
}

/// `e` (written in the inputs) as `eval` computes it: simplified when small enough.
fn computed(e: Expr) -> Expr {
    if e.tree_size() > EVAL_SIMPLIFIES {
        return e;
    }
    simplify::simplify(&e, &simplify::Names::default(), Form::Auto)
}

/// The largest input (in nodes, written out) that `eval` simplifies before computing.
const EVAL_SIMPLIFIES: u64 = 2_000;

/// The input's target and its backward pass as source code in `lang`, differentiated
/// by `wrt` (comma-separated; `None` is the only variable), the function named `name`
/// (`None` is the definition's name, or `f`).
pub fn codegen(
    input: &Input,
    wrt: Option<&str>,
    name: Option<&str>,
    lang: codegen::Lang,
    backward: codegen::Backward,
) -> Result<String> {
    let p = &input.problem;
    let vars = match wrt {
        Some(w) => variables(p, w)?,
        None => vec![only_variable(&p.inlined_target())?],
    };
    let name = match (name, &p.target_name) {
        (Some(n), _) => n.to_owned(),
        (None, Some(n)) => n.to_string(),
        (None, None) => "f".to_owned(),
    };
    Ok(codegen::generate(&codegen::Kernel::new(p, &vars, &name)?.backward_from(backward), lang))
}

/// One function `plot` draws: the input's target or one of its derivatives.
#[derive(Clone, Debug)]
pub struct Plotted {
    /// How many times the target was differentiated.
    pub order: u64,
    /// As `diff --order N` prints it (the target itself for order 0): in terms of the
    /// names, the facts applied.
    pub shown: Expr,
    /// What is computed for it, as `eval` computes what is shown (names inlined,
    /// simplified), in the stable forms of [`eval::eval`].
    pub computed: Expr,
}

/// The input's target and its derivatives by `wrt` (`None`: the only variable) of the
/// given orders, in that order, each as `diff` shows it and as `eval` computes it: what
/// `plot` draws. Also the variable.
pub fn plotted(input: &Input, wrt: Option<&str>, orders: &[u64], settings: &Settings) -> Result<(Sym, Vec<Plotted>)> {
    let p = &input.problem;
    let target = p.inlined_target();
    let x = match wrt {
        Some(w) => p.variable(w)?,
        None => only_variable(&target)?,
    };
    let opts = options(p, settings)?;
    let top = orders.iter().copied().max().unwrap_or(0);
    let shown = matrix::derivatives(p, &target, &x, top, &opts);
    let mut out = Vec::new();
    for &order in orders {
        let (shown, exact) = match order {
            0 => (p.target.clone(), target.clone()),
            // Past the last derivative that is not zero, every one is zero.
            n => shown
                .get(n as usize - 1)
                .map_or_else(|| (Expr::int(0), Expr::int(0)), |e| (e.shown.clone(), e.exact(p))),
        };
        out.push(Plotted { order, shown, computed: computed(exact) });
    }
    Ok((x, out))
}

/// The split times of one run of a request: the job marks the end of each stage.
#[derive(Debug)]
pub struct Laps {
    start: std::time::Instant,
    marks: Vec<std::time::Duration>,
}

impl Laps {
    /// Laps that start now.
    pub fn new() -> Laps {
        Laps { start: std::time::Instant::now(), marks: Vec::new() }
    }

    /// Ends the current stage (its time runs from the end of the one before).
    pub fn mark(&mut self) {
        self.marks.push(self.start.elapsed());
    }

    fn stages(&self) -> Vec<std::time::Duration> {
        let mut last = std::time::Duration::ZERO;
        self.marks
            .iter()
            .map(|&m| {
                let d = m - last;
                last = m;
                d
            })
            .collect()
    }
}

impl Default for Laps {
    fn default() -> Laps {
        Laps::new()
    }
}

/// The median time per run of [`repeat`], and the median of each stage the job marked.
#[derive(Debug)]
pub struct Timing {
    /// The whole run.
    pub total: std::time::Duration,
    /// Each stage the job marked, in order.
    pub stages: Vec<std::time::Duration>,
}

/// Runs `job` `n` times (at least once), each from cold: the memo tables that outlive a
/// request (the simplifier's) are emptied first, so no run reuses an earlier one's work,
/// and each run is held to the node limit on its own (the time limit spans them all).
/// The last run's result and the median times; the first error stops it.
pub fn repeat<T>(n: u32, mut job: impl FnMut(&mut Laps) -> Result<T>) -> Result<(T, Timing)> {
    let mut totals = Vec::new();
    let mut stages: Vec<Vec<std::time::Duration>> = Vec::new();
    let mut last = None;
    for _ in 0..n.max(1) {
        simplify::forget_memos();
        crate::expr::forget_numbers();
        crate::limits::restart_node_count();
        let mut laps = Laps::new();
        last = Some(job(&mut laps)?);
        totals.push(laps.start.elapsed());
        for (i, d) in laps.stages().into_iter().enumerate() {
            if stages.len() <= i {
                stages.push(Vec::new());
            }
            stages[i].push(d);
        }
    }
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let last = last.expect("the loop runs at least once");
    Ok((last, Timing { total: median(totals), stages: stages.into_iter().map(median).collect() }))
}

/// `wrt`, comma-separated variables, none of them a defined name.
fn variables(p: &Problem, wrt: &str) -> Result<Vec<Sym>> {
    wrt.split(',').map(|w| p.variable(w.trim())).collect()
}

/// The variable of `e` when it has exactly one.
fn only_variable(e: &Expr) -> Result<Sym> {
    let vars = e.free_vars();
    match vars.as_slice() {
        [x] => Ok(x.clone()),
        [] => Err(Error::new(ErrorKind::NoVariable)),
        _ => Err(Error::new(ErrorKind::SeveralVariables { names: vars.iter().map(Sym::to_string).collect() })),
    }
}

/// The form and the facts of `settings`, for `p`.
fn options(p: &Problem, settings: &Settings) -> Result<Options> {
    let opts = Options::new(p);
    let opts = match settings.form {
        Some(form) => opts.with_form(form),
        None => opts,
    };
    opts.assuming(&settings.assume)
}

/// The report of a check, as passed when its error is within `tolerance`.
fn passed(report: CheckReport, tolerance: f64) -> Result<Checked> {
    if report.max_error > tolerance {
        let CheckReport { max_error, points } = report;
        return Err(Error::new(ErrorKind::CheckFailed { max_error, points, tolerance }));
    }
    Ok(Checked { report, tolerance })
}

/// A matrix with its entries' checks (when `settings` asks for them), entry `[i][j]`
/// labelled `label(i, j)`: passed when every entry's error is within the tolerance.
fn checked_matrix(
    out: Output,
    checks: Option<Vec<Vec<CheckReport>>>,
    label: impl Fn(usize, usize) -> String,
    settings: &Settings,
) -> Result<Output> {
    let (Some(checks), Some(tolerance)) = (checks, settings.check) else { return Ok(out) };
    let all = passed(matrix::combined(&checks.concat()), tolerance)?;
    let mut entries = Vec::new();
    for (i, row) in checks.into_iter().enumerate() {
        entries.extend(row.into_iter().enumerate().map(|(j, r)| (label(i, j), r)));
    }
    Ok(out.with_checks(all, entries))
}

/// The entries of a matrix as shown.
fn shown(m: Vec<Vec<matrix::Entry>>) -> Vec<Vec<Expr>> {
    m.into_iter().map(|row| row.into_iter().map(|e| e.shown).collect()).collect()
}

/// `--at`: values of the variables, `x=1,y=pi/2`, each an expression without variables.
fn point(at: &str) -> Result<Env> {
    Ok(point_exprs(at)?.0)
}

/// `--at` read: each value as a float, and as the expression it was written as.
fn point_exprs(at: &str) -> Result<(Env, HashMap<Sym, Expr>)> {
    let mut env = Env::new();
    let mut exprs = HashMap::new();
    if at.trim().is_empty() {
        return Ok((env, exprs));
    }
    let mut offset = 0;
    for part in at.split(',') {
        let span = Span::new(offset, offset + part.len());
        offset += part.len() + 1;
        let bad = |kind: ErrorKind| Error::at(kind, span, at);
        let (name, value) = part.split_once('=').ok_or_else(|| bad(ErrorKind::PointNotPair))?;
        let x = crate::parse::check_variable(name.trim()).map_err(|e| bad(e.into_kind()))?;
        let name = x.to_string();
        let e = parse::parse_expr(value)
            .map_err(|e| bad(ErrorKind::BadValue { name: name.clone(), cause: Box::new(e.into_kind()) }))?;
        let v = eval::eval(&e, &Env::new()).map_err(|e| bad(e.into_kind()))?;
        if !v.is_finite() {
            return Err(bad(ErrorKind::InfiniteValue { name }));
        }
        if env.insert(x.clone(), v).is_some() {
            return Err(bad(ErrorKind::RepeatedValue { name }));
        }
        exprs.insert(x, e);
    }
    Ok((env, exprs))
}

/// Warnings about abstract functions in `p` and `more` whose names are a typo away from
/// a built-in, with a caret under the first call in the program, or else in the `lets`.
fn typos(p: &Problem, more: &[Expr], program: &str, lets: &[String]) -> Vec<Error> {
    let mut out: Vec<Error> = Vec::new();
    let roots: Vec<Expr> = p
        .defs
        .iter()
        .chain(&p.functions)
        .map(|d| d.body.clone())
        .chain([p.target.clone()])
        .chain(more.iter().cloned())
        .collect();
    expr::walk(&roots, |e| {
        if let Node::Call(Func::Abstract(a), _) = e.node() {
            let name = a.name.as_str();
            if p.function(&a.name).is_some() {
                // A defined function is no typo, whatever it is near.
                return Walk::Descend;
            }
            if let Some(f) = func::suggest(name) {
                let kind = ErrorKind::UnknownFunction { name: name.to_owned(), suggestion: f.to_owned() };
                let w = std::iter::once(program)
                    .chain(lets.iter().map(String::as_str))
                    .find_map(|src| Some(Error::at(kind.clone(), call_span(src, name)?, src)))
                    .unwrap_or_else(|| Error::new(kind));
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
        Walk::Descend
    });
    for src in std::iter::once(program).chain(lets.iter().map(String::as_str)) {
        out.extend(crate::parse::log_base_warnings(src));
    }
    out
}

/// Where `name` is first called in `src`: the name as a whole word, then `(` or a prime.
fn call_span(src: &str, name: &str) -> Option<Span> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    src.match_indices(name).map(|(i, _)| i).find_map(|i| {
        let before = src[..i].chars().next_back();
        let after = src[i + name.len()..].trim_start().chars().next();
        (!before.is_some_and(word) && matches!(after, Some('(' | '\''))).then(|| Span::new(i, i + name.len()))
    })
}
