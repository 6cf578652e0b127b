//! The command line: subcommands, input sources, output formats and exit codes.
//!
//! This is the only module that does IO. [`run`] takes the arguments and three streams
//! and returns the exit code, so tests drive it in-process. Output is built in full
//! before anything is written: on an error stdout stays empty and stderr gets one
//! message with a caret under the offending column. Exit codes: 0 success, 1 a failed
//! check or unreadable file, 2 bad input or usage.

use std::ffi::OsString;
use std::io::{Read, Write};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::assume::Assumptions;
use crate::check::{self, CheckReport};
use crate::codegen;
use crate::defs::Problem;
use crate::derivation::Derivation;
use crate::diff;
use crate::error::{Error, ErrorKind, Result, Source, Span};
use crate::eval::{self, Env};
use crate::expr::{Expr, Func, Node, Sym};
use crate::func;
use crate::matrix;
use crate::note;
use crate::print::{latex::to_latex, text::to_text};
use crate::simplify::{self, Form, Names};

#[derive(Parser, Debug)]
#[command(
    name = "deriv",
    version,
    about = "Symbolic differentiation that prints derivatives the way people write them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Give up when the work builds more than N expression nodes, or a result has more
    /// than N nodes written out (0: no limit)
    #[arg(long, global = true, value_name = "N", default_value_t = DEFAULT_MAX_NODES)]
    max_nodes: u64,
    /// Give up after SECS seconds of work (0: no limit)
    #[arg(long, global = true, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT)]
    timeout: f64,
}

const DEFAULT_MAX_NODES: u64 = match crate::limits::DEFAULT.max_nodes {
    Some(n) => n,
    None => 0,
};

const DEFAULT_TIMEOUT: f64 = match crate::limits::DEFAULT.timeout {
    Some(t) => t.as_secs() as f64,
    None => 0.0,
};

#[derive(Subcommand, Debug)]
enum Command {
    /// Differentiate an expression
    Diff(DiffArgs),
    /// Print one partial derivative per variable, in order
    Grad(GradArgs),
    /// Evaluate an expression at a point
    Eval(EvalArgs),
    /// Print an expression as LaTeX
    Latex(InputArgs),
    /// Print an expression's canonical form
    Parse(InputArgs),
    /// Simplify an expression, in terms of the names it defines where that is cheaper
    Simplify(SimplifyArgs),
    /// Work a note file (definitions, `diff p wrt z`, `grad E wrt w1, w2`, `# prose`)
    /// into a document
    Note(NoteArgs),
    /// The Jacobian of the functions in EXPR, one row each
    #[command(after_help = "\
The rows are EXPR's expressions, separated by `;` (not commas): names defined with --let,
`p1; p2; p3`, or any expressions, `x*y; x + y`. When EXPR is only definitions, each name
it defines is a row: `p1 = ...; p2 = ...`.")]
    Jacobian(MatrixArgs),
    /// The Hessian of EXPR (of its last statement, as `diff` differentiates it)
    Hessian(MatrixArgs),
    /// Write EXPR and its backward pass as source code (Rust, C, Python or NumPy)
    Codegen(CodegenArgs),
}

#[derive(Args, Debug)]
struct CodegenArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The variables to differentiate by, comma-separated (may be left out when there is one)
    #[arg(long, value_name = "VARS")]
    wrt: Option<OsString>,
    /// The language
    #[arg(long, value_enum, default_value_t = LangArg::Rust)]
    lang: LangArg,
    /// The function's name [default: the definition's name, or f]
    #[arg(long)]
    name: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LangArg {
    Rust,
    C,
    Python,
    Numpy,
}

impl From<LangArg> for codegen::Lang {
    fn from(l: LangArg) -> codegen::Lang {
        match l {
            LangArg::Rust => codegen::Lang::Rust,
            LangArg::C => codegen::Lang::C,
            LangArg::Python => codegen::Lang::Python,
            LangArg::Numpy => codegen::Lang::Numpy,
        }
    }
}

#[derive(Args, Debug)]
struct MatrixArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The variables, comma-separated
    #[arg(long, value_name = "VARS", required = true)]
    wrt: OsString,
    /// Output format: text rows, a LaTeX pmatrix, or JSON arrays
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    simplify: FormArgs,
    #[command(flatten)]
    checks: CheckArgs,
}

#[derive(Args, Debug)]
struct NoteArgs {
    /// The note file (`-` reads stdin)
    file: OsString,
    /// Document format
    #[arg(long, value_enum, default_value_t = NoteFormatArg::Markdown)]
    format: NoteFormatArg,
    /// Where an HTML note loads KaTeX from (a URL or a path to KaTeX's dist folder)
    #[arg(long, default_value = note::KATEX_CDN)]
    katex: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum NoteFormatArg {
    Markdown,
    Latex,
    Html,
}

#[derive(Args, Debug)]
struct SimplifyArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Which forms to choose from [default: output]
    #[arg(long, value_enum)]
    form: Option<FormArg>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `--form`: in terms of named outputs, in the inputs only, or whatever is cheapest.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormArg {
    Output,
    Input,
    Auto,
}

impl From<FormArg> for Form {
    fn from(f: FormArg) -> Form {
        match f {
            FormArg::Output => Form::Output,
            FormArg::Input => Form::Input,
            FormArg::Auto => Form::Auto,
        }
    }
}

#[derive(Args, Debug, Clone)]
struct InputArgs {
    /// The expression or definitions (`-` reads stdin)
    #[arg(allow_hyphen_values = false)]
    expr: Option<OsString>,
    /// Read definitions from a file; EXPR, if given, comes after them
    #[arg(long, value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    /// Define a name that EXPR uses (repeatable)
    #[arg(long = "let", value_name = "NAME=DEF")]
    lets: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Latex,
    Json,
}

#[derive(Args, Debug, Clone)]
struct DiffArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The variable to differentiate by (may be left out when there is one)
    #[arg(long, value_name = "VAR")]
    wrt: Option<OsString>,
    /// How many times to differentiate
    #[arg(long, default_value_t = 1, value_name = "N")]
    order: u64,
    /// Show the derivation step by step, each step labelled with its rule
    #[arg(long)]
    steps: bool,
    /// Expand sums to concrete terms: `K=3,M=2` (an index runs over 1..K where K is its
    /// name in capitals) or `k=3`
    #[arg(long, value_name = "SIZES")]
    size: Option<OsString>,
    #[command(flatten)]
    result: ResultArgs,
}

#[derive(Args, Debug, Clone)]
struct GradArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The variables, comma-separated
    #[arg(long, value_name = "VARS", required = true)]
    wrt: OsString,
    #[command(flatten)]
    result: ResultArgs,
}

/// How a derivative is shown and checked (`diff` and `grad`).
#[derive(Args, Debug, Clone)]
struct ResultArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    simplify: FormArgs,
    #[command(flatten)]
    checks: CheckArgs,
    /// Print the result as shared intermediates (`cse1 = ...` lines) and the result
    #[arg(long)]
    cse: bool,
    /// Run the whole pipeline N times in-process and report the median time on stderr
    #[arg(long, value_name = "N")]
    repeat: Option<u32>,
}

/// What the simplifier may use and choose from (`diff`, `grad`, `jacobian`, `hessian`).
#[derive(Args, Debug, Clone)]
struct FormArgs {
    /// Which forms to choose from: in terms of defined names, inputs only, or cheapest
    /// [default: output for definitions and --let, auto otherwise]
    #[arg(long, value_enum)]
    form: Option<FormArg>,
    /// A fact the simplifier may use, as `t1 + t2 + t3 = 1` or `sum(k, t[k]) = 1`
    /// (repeatable)
    #[arg(long, value_name = "LHS=RHS")]
    assume: Vec<OsString>,
}

/// `--check` and its tolerance.
#[derive(Args, Debug, Clone)]
struct CheckArgs {
    /// Verify the result against dual numbers at random points
    #[arg(long)]
    check: bool,
    /// The largest error --check accepts
    #[arg(long, default_value_t = 1e-9, value_name = "TOL")]
    tolerance: f64,
}

#[derive(Args, Debug)]
struct EvalArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Values of the variables, as `x=1,y=pi/2`
    #[arg(long, value_name = "VAR=VALUE,...")]
    at: Option<OsString>,
}

/// Runs the command line with `args` (without the program name). Returns the exit code.
pub fn run(args: &[OsString], stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let argv = std::iter::once(OsString::from("deriv")).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let rendered = e.render().to_string();
            let _ =
                if code == 0 { stdout.write_all(rendered.as_bytes()) } else { stderr.write_all(rendered.as_bytes()) };
            return code;
        }
    };
    let limits = match limits_of(&cli) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(stderr, "{e}");
            return e.exit_code();
        }
    };
    // Standard input is read here, so the work below can run on a thread of its own.
    let needs_stdin = args.iter().any(|a| a == "-");
    let mut input = Vec::new();
    if needs_stdin {
        if let Err(e) = stdin.read_to_end(&mut input) {
            let e = Error::new(ErrorKind::io(Source::Stdin, e));
            let _ = writeln!(stderr, "{e}");
            return e.exit_code();
        }
    }
    // Deep input is bounded by the parser's depth limit; a large stack makes sure every
    // recursive stage below that limit has room, whatever thread called us.
    let work = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, || {
                let mut warnings = Vec::new();
                let res = crate::limits::with_limits(limits, || execute(cli.command, &mut &input[..], &mut warnings))
                    .unwrap_or_else(|e| Err(limit_error(e)));
                (res, warnings)
            })
            .map(|h| h.join())
    });
    let (res, warnings) = match work {
        Ok(Ok(r)) => r,
        _ => {
            let e = Error::new(ErrorKind::Internal);
            let _ = writeln!(stderr, "{e}");
            return e.exit_code();
        }
    };
    match res {
        Ok(out) => {
            for w in warnings {
                let _ = writeln!(stderr, "{w}");
            }
            if stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                return 1;
            }
            0
        }
        Err(e) => {
            let _ = writeln!(stderr, "{e}");
            e.exit_code()
        }
    }
}

/// `--max-nodes` and `--timeout` as [`Limits`](crate::limits::Limits).
fn limits_of(cli: &Cli) -> Result<crate::limits::Limits> {
    if !(cli.timeout >= 0.0 && cli.timeout <= 1e9) {
        return Err(Error::new(ErrorKind::Timeout(cli.timeout)));
    }
    Ok(crate::limits::Limits {
        max_nodes: (cli.max_nodes > 0).then_some(cli.max_nodes),
        timeout: (cli.timeout > 0.0).then(|| std::time::Duration::from_secs_f64(cli.timeout)),
    })
}

fn limit_error(e: crate::limits::Exceeded) -> Error {
    Error::new(ErrorKind::Limit(e))
}

/// The stack of the thread that does the work: room for recursion to the parser's
/// depth limit in every stage. Only the pages touched are ever committed.
const WORKER_STACK: usize = 1 << 30;

fn os_to_string(s: &OsString) -> Result<String> {
    match s.to_str() {
        Some(t) => Ok(t.to_owned()),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                utf8(s.as_bytes().to_vec())
            }
            #[cfg(not(unix))]
            {
                Err(Error::new(ErrorKind::Utf8 { byte: 0, offset: 0 }))
            }
        }
    }
}

fn strings(args: &[OsString]) -> Result<Vec<String>> {
    args.iter().map(os_to_string).collect()
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[offset];
        Error::new(ErrorKind::Utf8 { byte, offset })
    })
}

fn read_input(input: &InputArgs, stdin: &mut dyn Read) -> Result<String> {
    let mut text = String::new();
    if let Some(path) = &input.file {
        let bytes = std::fs::read(path).map_err(|e| Error::new(ErrorKind::io(Source::File(path.clone()), e)))?;
        text = utf8(bytes)?;
    }
    match &input.expr {
        Some(e) if e == "-" => {
            let mut bytes = Vec::new();
            stdin.read_to_end(&mut bytes).map_err(|e| Error::new(ErrorKind::io(Source::Stdin, e)))?;
            push_statement(&mut text, &utf8(bytes)?);
        }
        Some(e) => push_statement(&mut text, &os_to_string(e)?),
        None if input.file.is_some() => {}
        None => return Err(Error::new(ErrorKind::NoExpression)),
    }
    Ok(text.strip_prefix('\u{FEFF}').map(str::to_owned).unwrap_or(text))
}

fn push_statement(text: &mut String, s: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(s);
}

fn load(input: &InputArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<Problem> {
    let text = read_input(input, stdin)?;
    let lets = strings(&input.lets)?;
    let p = Problem::load(&lets, &text)?;
    warn_typos(&p, &[], std::iter::once(&text).chain(&lets), warnings);
    Ok(p)
}

/// [`load`] for a Jacobian: the problem and its rows ([`Problem::load_rows`]).
fn load_rows(input: &InputArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<(Problem, Vec<Expr>)> {
    let text = read_input(input, stdin)?;
    let lets = strings(&input.lets)?;
    let (p, rows) = Problem::load_rows(&lets, &text)?;
    warn_typos(&p, &rows, std::iter::once(&text).chain(&lets), warnings);
    Ok((p, rows))
}

/// Warns about abstract functions in `p` and `more` whose names are a typo away from a
/// built-in, with a caret under the first call in `sources` (the input, then the `--let`
/// values).
fn warn_typos<'a>(
    p: &Problem,
    more: &[Expr],
    sources: impl Iterator<Item = &'a String> + Clone,
    warnings: &mut Vec<String>,
) {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<Expr> =
        p.defs.iter().map(|d| d.body.clone()).chain([p.target.clone()]).chain(more.iter().cloned()).collect();
    while let Some(e) = stack.pop() {
        if !seen.insert(e.id()) {
            continue;
        }
        if let Node::Call(Func::Abstract(a), _) = e.node() {
            let n = a.name.as_str();
            if let Some(f) = func::suggest(n) {
                let kind = ErrorKind::UnknownFunction { name: n.to_owned(), suggestion: f.to_owned() };
                let w = sources
                    .clone()
                    .find_map(|src| Some(Error::at(kind.clone(), call_span(src, n)?, src)))
                    .unwrap_or_else(|| Error::new(kind));
                if !warnings.contains(&w.as_warning()) {
                    warnings.push(w.as_warning());
                }
            }
        }
        stack.extend(e.children());
    }
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

fn variable(p: &Problem, wrt: &str) -> Result<Sym> {
    p.variable(wrt)
}

fn default_variable(e: &Expr) -> Result<Sym> {
    let vars = e.free_vars();
    match vars.as_slice() {
        [x] => Ok(x.clone()),
        [] => Err(Error::new(ErrorKind::NoVariable)),
        _ => Err(Error::new(ErrorKind::SeveralVariables { names: vars.iter().map(Sym::to_string).collect() })),
    }
}

/// One run of a subcommand on some input, collecting its stderr lines.
type Job<'a> = dyn Fn(&mut dyn Read, &mut Vec<String>) -> Result<String> + 'a;

/// Runs `job` `n` times on the same input; the result of the last run, and the median
/// time per run on stderr.
fn repeated(n: u32, stdin: &mut dyn Read, warnings: &mut Vec<String>, job: &Job) -> Result<String> {
    let mut input = Vec::new();
    stdin.read_to_end(&mut input).map_err(|e| Error::new(ErrorKind::io(Source::Stdin, e)))?;
    let mut times = Vec::new();
    let mut out = String::new();
    for _ in 0..n.max(1) {
        let mut w = Vec::new();
        // Every run from cold: what an earlier run left in the memo tables is not reused.
        crate::simplify::forget_memos();
        let start = std::time::Instant::now();
        out = job(&mut &input[..], &mut w)?;
        times.push(start.elapsed());
        *warnings = w;
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let (v, unit) = match median {
        t if t < 1e-6 => (t * 1e9, "ns"),
        t if t < 1e-3 => (t * 1e6, "µs"),
        t if t < 1.0 => (t * 1e3, "ms"),
        t => (t, "s"),
    };
    warnings.push(format!("time per run: {v:.3} {unit}"));
    Ok(out)
}

fn execute(cmd: Command, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    match cmd {
        Command::Diff(a) if a.result.repeat.is_some() => {
            let n = a.result.repeat.unwrap_or(1);
            repeated(n, stdin, warnings, &|i, w| run_diff(a.clone(), i, w))
        }
        Command::Grad(a) if a.result.repeat.is_some() => {
            let n = a.result.repeat.unwrap_or(1);
            repeated(n, stdin, warnings, &|i, w| run_grad(a.clone(), i, w))
        }
        Command::Diff(a) => run_diff(a, stdin, warnings),
        Command::Grad(a) => run_grad(a, stdin, warnings),
        Command::Eval(a) => run_eval(a, stdin, warnings),
        Command::Latex(a) => {
            let p = load(&a, stdin, warnings)?;
            Ok(format!("{}\n", to_latex(&p.target)))
        }
        Command::Parse(a) => {
            let p = load(&a, stdin, warnings)?;
            Ok(format!("{}\n", to_text(&p.target)))
        }
        Command::Note(a) => {
            let src = if a.file == "-" {
                let mut bytes = Vec::new();
                stdin.read_to_end(&mut bytes).map_err(|e| Error::new(ErrorKind::io(Source::Stdin, e)))?;
                utf8(bytes)?
            } else {
                let path = std::path::PathBuf::from(&a.file);
                let bytes =
                    std::fs::read(&path).map_err(|e| Error::new(ErrorKind::io(Source::File(path.clone()), e)))?;
                utf8(bytes)?
            };
            let format = match a.format {
                NoteFormatArg::Markdown => note::NoteFormat::Markdown,
                NoteFormatArg::Latex => note::NoteFormat::Latex,
                NoteFormatArg::Html => note::NoteFormat::Html,
            };
            Ok(note::render(&note::blocks(&src)?, format, &a.katex))
        }
        Command::Jacobian(a) => run_matrix(a, false, stdin, warnings),
        Command::Hessian(a) => run_matrix(a, true, stdin, warnings),
        Command::Codegen(a) => run_codegen(a, stdin, warnings),
        Command::Simplify(a) => {
            let p = load(&a.input, stdin, warnings)?;
            let mut names = names_of(&p, None);
            // A definition's own name would be a trivial answer: simplify its body.
            let own = match p.target.node() {
                Node::Var(v) if p.get(v).is_some() => Some(v.clone()),
                _ => p.target_name.clone(),
            };
            names.defs.retain(|(n, _)| Some(n) != own.as_ref());
            let target = p.inlined_target();
            let shown = simplify::simplify(&target, &names, form_of(a.form, &p));
            Ok(match a.format {
                Format::Latex => format!("{}\n", to_latex(&shown)),
                Format::Json => format!(
                    "{}\n",
                    serde_json::json!({ "input": to_text(&p.target), "text": to_text(&shown), "latex": to_latex(&shown) })
                ),
                Format::Text => format!("{}\n", to_text(&shown)),
            })
        }
    }
}

fn check_figures(report: &CheckReport, tol: f64) -> Result<()> {
    if report.max_error > tol {
        let CheckReport { max_error, points } = *report;
        return Err(Error::new(ErrorKind::CheckFailed { max_error, points, tolerance: tol }));
    }
    Ok(())
}

/// The definitions, inlined, as names the simplifier may use.
fn names_of(p: &Problem, wrt: Option<&Sym>) -> Names {
    p.names(wrt)
}

/// `--form`, or its default: in terms of names when there are any, cheapest otherwise.
fn form_of(arg: Option<FormArg>, p: &Problem) -> Form {
    match arg {
        Some(f) => f.into(),
        None if p.defs.is_empty() => Form::Auto,
        None => Form::Output,
    }
}

fn run_diff(a: DiffArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    let p = load(&a.input, stdin, warnings)?;
    let input = match &a.size {
        Some(s) => diff::expand_sums(&p.inlined_target(), &diff::parse_sizes(&os_to_string(s)?)?),
        None => p.inlined_target(),
    };
    if let Some(w) = &a.wrt {
        let w = os_to_string(w)?;
        if let Ok(Node::Call(Func::Indexed(base), idx)) = crate::parse::parse_expr(&w).as_ref().map(Expr::node) {
            return run_diff_indexed(&a, &p, base, idx);
        }
    }
    let x = match &a.wrt {
        Some(w) => variable(&p, &os_to_string(w)?)?,
        None => default_variable(&input)?,
    };
    let opts = options(&a.result.simplify, &p)?;
    if a.steps {
        if a.order != 1 {
            return Err(Error::new(ErrorKind::StepsOrder));
        }
        if !opts.assume.is_empty() {
            return Err(Error::new(ErrorKind::StepsAssume));
        }
        let der = Derivation::new(&p, &x, opts.form)?;
        return Ok(match a.result.format {
            Format::Text => der.to_string(),
            Format::Latex => format!("{}\n", der.to_latex()),
            Format::Json => format!("{}\n", der.to_json()),
        });
    }
    let names = matrix::names(&p, Some(&x), &opts);
    let shown: Vec<matrix::Entry> =
        simplify::derivatives(&input, &x, a.order, &names, opts.form).iter().map(|s| matrix::entry(s, &opts)).collect();
    let d = shown.last().map_or_else(|| input.clone(), |s| s.shown.clone());
    // The check runs on what is shown, with the names inlined (and each assumed side as
    // itself): each order against the derivative of the one before.
    let chain: Vec<Expr> = std::iter::once(input.clone()).chain(shown.iter().map(|s| s.exact(&p))).collect();
    let report = if a.result.checks.check {
        let r = check::check_chain(&chain, &x, 12, 0x5EED)?;
        check_figures(&r, a.result.checks.tolerance)?;
        Some(r)
    } else {
        None
    };
    if a.result.cse {
        return Ok(cse_output(&[d], &[], a.result.format));
    }
    let out = match a.result.format {
        Format::Text => format!("{}\n", to_text(&d)),
        Format::Latex => format!("{}\n", to_latex(&d)),
        Format::Json => {
            let mut obj = serde_json::json!({
                "input": to_text(&p.target),
                "variable": x.as_str(),
                "order": a.order,
                "derivative": { "text": to_text(&d), "latex": to_latex(&d) },
            });
            if let Some(r) = &report {
                obj["check"] = serde_json::json!({ "max_error": r.max_error, "points": r.points, "tolerance": a.result.checks.tolerance });
            }
            format!("{obj}\n")
        }
    };
    if let (Some(r), Format::Text | Format::Latex) = (&report, a.result.format) {
        warnings.push(format!("check: passed, max error {:.3e} at {} points", r.max_error, r.points));
    }
    Ok(out)
}

/// `diff` with respect to an element of an indexed variable, `--wrt 'z[j]'`: `x[i]`
/// differentiates to `delta(i, j)`, sums over deltas resolve, and indexed definitions
/// count as computed at the free indices (`p[i]`, `p[j]`).
fn run_diff_indexed(a: &DiffArgs, p: &Problem, base: &Sym, idx: &[Expr]) -> Result<String> {
    if p.get(base).is_some() {
        return Err(Error::new(ErrorKind::DefinedVariable { name: base.to_string(), definition: None }));
    }
    if a.order != 1 || a.steps || a.result.checks.check {
        return Err(Error::new(ErrorKind::IndexedUnsupported));
    }
    let wrt = diff::Wrt::Indexed(base.clone(), idx.to_vec());
    let sizes = match &a.size {
        Some(s) => diff::parse_sizes(&os_to_string(s)?)?,
        None => Default::default(),
    };
    let d = diff::diff_wrt(&diff::expand_sums(&p.inlined_target(), &sizes), &wrt);
    // Free indices: those of the target and of the variable.
    let mut free: Vec<Sym> = idx.iter().flat_map(Expr::free_vars).collect();
    if let Node::Call(Func::Indexed(_), ti) = p.target.node() {
        free.extend(ti.iter().flat_map(Expr::free_vars));
    }
    if let Some(n) = &p.target_name {
        if let Some(def) = p.get(n) {
            free.extend(def.params.iter().cloned());
        }
    }
    free.sort();
    free.dedup();
    let mut names = p.names(Some(&Sym::new(&to_text(&Expr::call(Func::Indexed(base.clone()), idx.to_vec())))));
    let mut restore = std::collections::HashMap::new();
    // Instances at the free indices, and with --size at every concrete index too.
    let mut at: Vec<Expr> = free.iter().map(|i| Expr::sym(i.clone())).collect();
    at.extend((1..=sizes.values().copied().max().unwrap_or(0).min(8)).map(Expr::int));
    for def in p.defs.iter().filter(|d| d.params.len() == 1) {
        for i in &at {
            let call = Expr::call(Func::Indexed(def.name.clone()), vec![i.clone()]);
            let placeholder = Sym::new(&format!("{}[{}]", def.name, i));
            names.defs.push((placeholder.clone(), diff::expand_sums(&p.inline(&call), &sizes)));
            restore.insert(placeholder, call);
        }
    }
    names.defs.retain(|(n, _)| p.get(n).is_none_or(|d| d.params.is_empty()) || restore.contains_key(n));
    // The assumed side is a name whose value is the other side.
    let assume = Assumptions::parse(&strings(&a.result.simplify.assume)?)?;
    assume.extend_names(p, &mut names);
    restore.extend(assume.restore_map());
    let shown =
        crate::expr::substitute_all(&simplify::simplify(&d, &names, form_of(a.result.simplify.form, p)), &restore);
    Ok(match a.result.format {
        Format::Text => format!("{}\n", to_text(&shown)),
        Format::Latex => format!("{}\n", to_latex(&shown)),
        Format::Json => format!(
            "{}\n",
            serde_json::json!({ "input": to_text(&p.target), "variable": to_text(&Expr::call(Func::Indexed(base.clone()), idx.to_vec())),
                "derivative": { "text": to_text(&shown), "latex": to_latex(&shown) } })
        ),
    })
}

/// Results as shared intermediates: `cse1 = ...` lines, then the results, each named
/// when `names` are given (a gradient's `d_w1 = ...`). The text reads back as a program.
fn cse_output(results: &[Expr], names: &[String], format: Format) -> String {
    let c = crate::cse::cse(results);
    let label = |i: usize| names.get(i).cloned();
    match format {
        Format::Latex => {
            let mut rows: Vec<String> = c
                .defs
                .iter()
                .map(|(n, d)| format!("{} &= {}", crate::print::latex::name(n.as_str()), to_latex(d)))
                .collect();
            for (i, r) in c.results.iter().enumerate() {
                match label(i) {
                    Some(l) => rows.push(format!("{} &= {}", crate::print::latex::name(&l), to_latex(r))),
                    None => rows.push(format!("&{}", to_latex(r))),
                }
            }
            format!("\\begin{{aligned}}\n{}\n\\end{{aligned}}\n", rows.join(" \\\\\n"))
        }
        Format::Json => format!(
            "{}\n",
            serde_json::json!({
                "intermediates": c.defs.iter().map(|(n, d)| serde_json::json!({"name": n.as_str(), "text": to_text(d)})).collect::<Vec<_>>(),
                "results": c.results.iter().map(to_text).collect::<Vec<_>>(),
            })
        ),
        Format::Text => {
            let mut out: String = c.defs.iter().map(|(n, d)| format!("{n} = {}\n", to_text(d))).collect();
            for (i, r) in c.results.iter().enumerate() {
                match label(i) {
                    Some(l) => out.push_str(&format!("{l} = {}\n", to_text(r))),
                    None => out.push_str(&format!("{}\n", to_text(r))),
                }
            }
            out
        }
    }
}

/// A Jacobian (rows: [`Problem::load_rows`]) or a Hessian (of the target, as `diff`
/// differentiates it).
fn run_matrix(a: MatrixArgs, hessian: bool, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    let (p, rows) = if hessian {
        let p = load(&a.input, stdin, warnings)?;
        let target = p.target.clone();
        (p, vec![target])
    } else {
        load_rows(&a.input, stdin, warnings)?
    };
    let vars = variables(&p, &a.wrt)?;
    let opts = options(&a.simplify, &p)?;
    let (matrix, report) = if hessian {
        let m = matrix::hessian(&p, &p.target, &vars, &opts);
        let report = a.checks.check.then(|| matrix::check_hessian(&p, &p.target, &vars, &m)).transpose()?;
        (m, report)
    } else {
        let m = matrix::jacobian(&p, &rows, &vars, &opts);
        let report = a.checks.check.then(|| matrix::check_jacobian(&p, &rows, &vars, &m)).transpose()?;
        (m, report)
    };
    if let Some(r) = &report {
        check_figures(r, a.checks.tolerance)?;
    }
    let matrix: Vec<Vec<Expr>> = matrix.into_iter().map(|row| row.into_iter().map(|e| e.shown).collect()).collect();
    let out = match a.format {
        Format::Text => {
            matrix.iter().map(|row| format!("[{}]\n", row.iter().map(to_text).collect::<Vec<_>>().join(", "))).collect()
        }
        Format::Latex => {
            let body: Vec<String> =
                matrix.iter().map(|row| row.iter().map(to_latex).collect::<Vec<_>>().join(" & ")).collect();
            format!("\\begin{{pmatrix}}\n{}\n\\end{{pmatrix}}\n", body.join(" \\\\\n"))
        }
        Format::Json => {
            let rows_json: Vec<Vec<String>> = matrix.iter().map(|r| r.iter().map(to_text).collect()).collect();
            let rows_latex: Vec<Vec<String>> = matrix.iter().map(|r| r.iter().map(to_latex).collect()).collect();
            let mut obj = serde_json::json!({
                "functions": rows.iter().map(to_text).collect::<Vec<_>>(),
                "variables": vars.iter().map(Sym::as_str).collect::<Vec<_>>(),
                "text": rows_json,
                "latex": rows_latex,
            });
            if let Some(r) = &report {
                obj["check"] = serde_json::json!({ "max_error": r.max_error, "points": r.points, "tolerance": a.checks.tolerance });
            }
            format!("{obj}\n")
        }
    };
    if let (Some(r), Format::Text | Format::Latex) = (&report, a.format) {
        warnings.push(format!("check: passed, max error {:.3e} at {} points", r.max_error, r.points));
    }
    Ok(out)
}

fn run_grad(a: GradArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    let p = load(&a.input, stdin, warnings)?;
    let vars = variables(&p, &a.wrt)?;
    let opts = options(&a.result.simplify, &p)?;
    let entries = matrix::gradient(&p, &p.target, &vars, &opts);
    let mut reports = Vec::new();
    if a.result.checks.check {
        reports = matrix::check_gradient(&p, &p.target, &vars, &entries)?;
        for r in &reports {
            check_figures(r, a.result.checks.tolerance)?;
        }
    }
    let grads: Vec<Expr> = entries.into_iter().map(|e| e.shown).collect();
    if a.result.cse {
        let names: Vec<String> = vars.iter().map(|x| format!("d_{x}")).collect();
        return Ok(cse_output(&grads, &names, a.result.format));
    }
    Ok(match a.result.format {
        Format::Text => grads.iter().map(|g| format!("{}\n", to_text(g))).collect(),
        Format::Latex => grads.iter().map(|g| format!("{}\n", to_latex(g))).collect(),
        Format::Json => {
            let comps: Vec<serde_json::Value> = vars
                .iter()
                .zip(&grads)
                .enumerate()
                .map(|(i, (x, g))| {
                    let mut c = serde_json::json!({ "variable": x.as_str(), "text": to_text(g), "latex": to_latex(g) });
                    if let Some(r) = reports.get(i) {
                        c["check"] = serde_json::json!({ "max_error": r.max_error, "points": r.points });
                    }
                    c
                })
                .collect();
            format!("{}\n", serde_json::json!({ "input": to_text(&p.target), "gradient": comps }))
        }
    })
}

/// `--wrt a,b,c`: the variables, none of them a defined name.
fn variables(p: &Problem, wrt: &OsString) -> Result<Vec<Sym>> {
    os_to_string(wrt)?.split(',').map(|w| variable(p, w.trim())).collect()
}

/// `--form` and `--assume` for `p`.
fn options(a: &FormArgs, p: &Problem) -> Result<matrix::Options> {
    matrix::Options::new(p).with_form(form_of(a.form, p)).assuming(&strings(&a.assume)?)
}

fn run_codegen(a: CodegenArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    let p = load(&a.input, stdin, warnings)?;
    let vars = match &a.wrt {
        Some(w) => os_to_string(w)?.split(',').map(|w| variable(&p, w.trim())).collect::<Result<Vec<_>>>()?,
        None => vec![default_variable(&p.inlined_target())?],
    };
    let name = match (&a.name, &p.target_name) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) => n.to_string(),
        (None, None) => "f".to_owned(),
    };
    let k = codegen::Kernel::new(&p, &vars, &name)?;
    Ok(codegen::generate(&k, a.lang.into()))
}

fn parse_point(at: &str) -> Result<Env> {
    let mut env = Env::new();
    if at.trim().is_empty() {
        return Ok(env);
    }
    let mut offset = 0;
    for part in at.split(',') {
        let span = Span::new(offset, offset + part.len());
        offset += part.len() + 1;
        let bad = |kind: ErrorKind| Error::at(kind, span, at);
        let (name, value) = part.split_once('=').ok_or_else(|| bad(ErrorKind::PointNotPair))?;
        let x = diff::check_variable(name.trim()).map_err(|e| bad(e.into_kind()))?;
        let name = x.to_string();
        let v = crate::parse::parse_expr(value)
            .map_err(|e| bad(ErrorKind::BadValue { name: name.clone(), cause: Box::new(e.into_kind()) }))
            .and_then(|e| eval::eval(&e, &Env::new()).map_err(|e| bad(e.into_kind())))?;
        if !v.is_finite() {
            return Err(bad(ErrorKind::InfiniteValue { name }));
        }
        if env.insert(x, v).is_some() {
            return Err(bad(ErrorKind::RepeatedValue { name }));
        }
    }
    Ok(env)
}

fn run_eval(a: EvalArgs, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
    let p = load(&a.input, stdin, warnings)?;
    let at = match &a.at {
        Some(s) => os_to_string(s)?,
        None => String::new(),
    };
    let env = parse_point(&at)?;
    let v = eval::eval(&p.inlined_target(), &env)?;
    if !v.is_finite() {
        return Err(Error::new(ErrorKind::NotFinite(v)));
    }
    Ok(format!("{v}\n"))
}
