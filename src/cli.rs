//! The command line: subcommands, input sources, output formats and exit codes.
//!
//! This is the only module that does IO, and it holds no logic of its own: argv is
//! parsed by clap into the structs of `args.rs`, the input text read from arguments,
//! files or stdin, each subcommand handed to one function of [`crate::request`], and
//! the [`Output`] rendered. [`run`] takes the arguments and three streams and returns the
//! exit code, so tests drive it in-process. Output is built in full before anything is
//! written: on an error stdout stays empty and stderr gets one message with a caret
//! under the offending column. Exit codes: 0 success, 1 a failed check or unreadable
//! file, 2 bad input or usage.

use std::ffi::OsString;
use std::io::{Read, Write};

use clap::Parser;

use crate::error::{Error, ErrorKind, Result, Source};
use crate::note;
use crate::output::{self, Output};
use crate::request::{self, Input, Settings};

mod args;
mod repl;

use args::{CheckArgs, Cli, Command, FormArgs, InputArgs, MatrixArgs, PlotArgs};

/// Runs the command line with `args` (without the program name). Returns the exit code.
/// Diagnostics are plain text, and `repl` reads its lines from `stdin`; [`run_with`]
/// says otherwise.
pub fn run(args: &[OsString], stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    run_with(args, stdin, stdout, stderr, Shell::default())
}

/// What the process around the command line is attached to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shell {
    /// Colour errors and warnings (see [`colour_on_stderr`]).
    pub colour: bool,
    /// Standard input and output are a terminal: `deriv` alone and `deriv repl` open
    /// the line editor on it.
    pub terminal: bool,
}

/// Whether diagnostics on the process's stderr get colour: on a terminal unless
/// `NO_COLOR` is set, or wherever `CLICOLOR_FORCE` is (anstream reads the conventions).
pub fn colour_on_stderr() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

/// [`run`] in a `shell`: errors and warnings coloured when it says, the REPL on its
/// terminal when there is one.
pub fn run_with(
    args: &[OsString],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    shell: Shell,
) -> u8 {
    let colour = shell.colour;
    if args.is_empty() && shell.terminal {
        return repl::terminal(crate::limits::DEFAULT, colour);
    }
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e, stdout, stderr, colour),
    };
    let fail = |stderr: &mut dyn Write, e: Error| {
        let _ = writeln!(stderr, "{}", e.styled(false, colour));
        e.exit_code()
    };
    let Some(limits) = crate::limits::Limits::from_flags(cli.max_nodes, cli.timeout) else {
        return fail(stderr, Error::new(ErrorKind::Timeout(cli.timeout)));
    };
    if let Command::Repl = cli.command {
        return if shell.terminal {
            repl::terminal(limits, colour)
        } else {
            repl::piped(stdin, stdout, stderr, limits, colour)
        };
    }
    // Standard input is read here, so the work below can run on a thread of its own.
    let mut input = Vec::new();
    if args.iter().any(|a| a == "-") {
        if let Err(e) = stdin.read_to_end(&mut input) {
            return fail(stderr, Error::new(ErrorKind::io(Source::Stdin, e)));
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
                    .unwrap_or_else(|e| Err(Error::new(ErrorKind::Limit(e))));
                (res, warnings)
            })
            .map(|h| h.join())
    });
    match work {
        Ok(Ok((Ok(out), warnings))) => {
            for w in warnings {
                let _ = writeln!(stderr, "{}", w.styled(colour));
            }
            if stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                return 1;
            }
            0
        }
        Ok(Ok((Err(e), _))) => fail(stderr, e),
        _ => fail(stderr, Error::new(ErrorKind::Internal)),
    }
}

/// The command line read by clap. EXPR may begin with `-` (`-x`, `-(a + b)`), but an
/// argument beginning with `--` and a letter that no subcommand knows is an option
/// misspelled, not an expression: clap's error for it is the one of a command line
/// whose EXPR may not begin with a hyphen.
fn parse(args: &[OsString]) -> std::result::Result<Cli, clap::Error> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("deriv")).chain(args.iter().cloned()).collect();
    let strict = || match args::strict().try_get_matches_from(&argv) {
        Err(e) if matches!(e.get(clap::error::ContextKind::InvalidArg), Some(clap::error::ContextValue::String(a)) if looks_like_option(a)) => {
            Some(e)
        }
        _ => None,
    };
    match Cli::try_parse_from(&argv) {
        Ok(cli) if cli.command.expr().is_some_and(looks_like_option) => strict().map_or(Ok(cli), Err),
        Ok(cli) => Ok(cli),
        Err(e) if args.iter().any(looks_like_option) => Err(strict().unwrap_or(e)),
        Err(e) => Err(e),
    }
}

/// clap's message for `e` (help and version to stdout with exit code 0, usage errors to
/// stderr with 2), in clap's colours when `colour`.
fn clap_error(e: &clap::Error, stdout: &mut dyn Write, stderr: &mut dyn Write, colour: bool) -> u8 {
    let code = if e.use_stderr() { 2 } else { 0 };
    let styled = e.render();
    let rendered = if colour && code == 2 { styled.ansi().to_string() } else { styled.to_string() };
    let _ = if code == 0 { stdout.write_all(rendered.as_bytes()) } else { stderr.write_all(rendered.as_bytes()) };
    code
}

/// Whether EXPR `e` reads as a long option (`--wrt`, `--bogus`) rather than an expression.
fn looks_like_option(e: impl AsRef<std::ffi::OsStr>) -> bool {
    e.as_ref()
        .to_str()
        .and_then(|e| e.strip_prefix("--"))
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// A line for stderr beside the output: a warning about the input, or a note such as
/// a passed check or the time per run.
enum Note {
    Warning(Error),
    Line(String),
}

impl Note {
    fn styled(&self, colour: bool) -> String {
        match self {
            Note::Warning(e) => e.styled(true, colour),
            Note::Line(l) => l.clone(),
        }
    }
}

/// The stack of the thread that does the work: room for recursion to the parser's
/// depth limit in every stage. Only the pages touched are ever committed.
const WORKER_STACK: usize = 1 << 30;

fn execute(cmd: Command, stdin: &mut dyn Read, warnings: &mut Vec<Note>) -> Result<String> {
    match cmd {
        Command::Diff(a) => repeated(a.result.repeat, stdin, warnings, &|stdin, warnings, laps| {
            let input = load(&a.input, false, stdin, warnings)?;
            staged(laps, a.result.format, warnings, || {
                let wrt = string(a.wrt.as_ref())?;
                let (sizes, at, settings) = (
                    string(a.size.as_ref())?,
                    string(a.at.as_ref())?,
                    settings(&a.result.simplify, &a.result.checks, a.result.cse)?,
                );
                let req = request::Diff { wrt, order: a.order, steps: a.steps, sizes, at };
                request::diff(&input, &req, &settings)
            })
        }),
        Command::Grad(a) => repeated(a.result.repeat, stdin, warnings, &|stdin, warnings, laps| {
            let input = load(&a.input, false, stdin, warnings)?;
            staged(laps, a.result.format, warnings, || {
                let settings = settings(&a.result.simplify, &a.result.checks, a.result.cse)?;
                request::grad(&input, &os_to_string(&a.wrt)?, &settings)
            })
        }),
        Command::Jacobian(a) => matrix(a, request::jacobian, true, stdin, warnings),
        Command::Hessian(a) => matrix(a, request::hessian, false, stdin, warnings),
        Command::Simplify(a) => {
            let input = load(&a.input, false, stdin, warnings)?;
            Ok(request::simplify(&input, a.form).render(a.format))
        }
        Command::Eval(a) => {
            if let Some(points) = &a.points {
                // (The program then comes from its argument or --file, never stdin too.)
                let table = if points == "-" { read_stdin(stdin)? } else { read_file(std::path::Path::new(points))? };
                let input = load(&a.input, false, &mut std::io::empty(), warnings)?;
                let values = request::eval_points(&input, &table)?;
                let digits = float_digits(a.digits, warnings);
                return Ok(values.iter().map(|v| format!("{}\n", output::Value::Float(*v).display(digits))).collect());
            }
            let input = load(&a.input, false, stdin, warnings)?;
            let at = string(a.at.as_ref())?.unwrap_or_default();
            let value = request::eval_value(&input, &at)?;
            let digits = match value {
                output::Value::Float(_) => float_digits(a.digits, warnings),
                output::Value::Exact(_) => a.digits.map(|d| d as usize),
            };
            Ok(format!("{}\n", value.display(digits)))
        }
        Command::Latex(a) => Ok(Output::expression(load(&a, false, stdin, warnings)?.problem().target.clone())
            .render(output::Format::Latex)),
        Command::Parse(a) => {
            Ok(Output::expression(load(&a, false, stdin, warnings)?.problem().target.clone())
                .render(output::Format::Text))
        }
        Command::Codegen(a) => {
            let input = load(&a.input, false, stdin, warnings)?;
            request::codegen(&input, string(a.wrt.as_ref())?.as_deref(), a.name.as_deref(), a.lang, a.backward)
        }
        Command::Plot(a) => plot(a, warnings),
        Command::Note(a) => {
            let src = if a.file == "-" { read_stdin(stdin)? } else { read_file(std::path::Path::new(&a.file))? };
            let blocks = note::blocks(&src)?;
            // A Markdown note's figures go beside the document: beside -o FILE, or
            // (on stdout) beside the note file, named after it.
            let beside = a.output.clone().or_else(|| (a.file != "-").then(|| std::path::PathBuf::from(&a.file)));
            let stem = beside.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
            let stem = stem.unwrap_or_else(|| "figure".to_owned());
            if a.format == note::NoteFormat::Markdown {
                let figures = note::figures(&blocks, &stem);
                if let (Some(place), false) = (&beside, figures.is_empty()) {
                    let dir = place.parent().unwrap_or(std::path::Path::new(""));
                    for (name, svg) in figures {
                        write_file(&dir.join(name), &svg)?;
                    }
                } else if !figures.is_empty() {
                    return Err(Error::new(ErrorKind::NoteFigures));
                }
            }
            let text = note::render_named(&blocks, a.format, &a.katex, &stem);
            match &a.output {
                Some(path) => {
                    write_file(path, &text)?;
                    Ok(String::new())
                }
                None => Ok(text),
            }
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "deriv", &mut out);
            utf8(out)
        }
        Command::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            let written = match &dir {
                Some(dir) => clap_mangen::generate_to(cmd, dir),
                None => clap_mangen::Man::new(cmd).render(&mut out),
            };
            let written = written.map(|_| ());
            written.map_err(|e| Error::new(ErrorKind::io(Source::Written(dir.clone().unwrap_or_default()), e)))?;
            utf8(out)
        }
        // (Run before the worker: it reads its own input.)
        Command::Repl => Err(Error::new(ErrorKind::Internal)),
    }
}

/// `plot`: the chart (or its points) to stdout, or to `-o FILE`.
fn plot(a: PlotArgs, warnings: &mut Vec<Note>) -> Result<String> {
    use crate::plot::{self, PlotFormat};
    let lets = strings(&a.lets)?;
    let mut inputs = Vec::new();
    for e in &a.exprs {
        let input = Input::load(&lets, &os_to_string(e)?)?;
        warnings.extend(input.warnings().iter().cloned().map(Note::Warning));
        inputs.push((input, a.order.clone()));
    }
    let range = string(a.range.as_ref())?.as_deref().map(plot::parse_range).transpose()?;
    let settings = Settings { form: a.simplify.form, assume: strings(&a.simplify.assume)?, ..Settings::default() };
    let req = plot::Request { wrt: string(a.wrt.as_ref())?, range, settings };
    let extension = a.output.as_ref().map(|p| p.extension().and_then(|x| x.to_str()).unwrap_or("").to_lowercase());
    let format = match (a.format, extension.as_deref()) {
        (Some(f), _) => f,
        (None, None | Some("svg")) => PlotFormat::Svg,
        (None, Some("csv")) => PlotFormat::Csv,
        (None, Some(_)) => {
            let path = a.output.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            return Err(Error::new(ErrorKind::PlotFile { path }));
        }
    };
    let chart = plot::chart(&inputs, &req)?;
    let text = match format {
        PlotFormat::Svg => plot::svg(&chart)?,
        PlotFormat::Csv => plot::csv(&chart),
    };
    match &a.output {
        Some(path) => {
            write_file(path, &text)?;
            Ok(String::new())
        }
        None => Ok(text),
    }
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::new(ErrorKind::io(Source::Written(path.to_owned()), e)))
}

/// `--digits` for a floating-point result, with a note on stderr when it asks for more
/// than a float has.
fn float_digits(digits: Option<u32>, warnings: &mut Vec<Note>) -> Option<usize> {
    let d = digits? as usize;
    if d > output::FLOAT_DIGITS {
        warnings.push(Note::Line(format!(
            "note: the result is computed in floating point, which has {} significant digits; more need exact \
             arithmetic (rational inputs, no function such as sin or ln on the way)",
            output::FLOAT_DIGITS
        )));
    }
    Some(d)
}

/// `jacobian` (of the rows of the input) or `hessian` (of its target).
fn matrix(
    a: MatrixArgs,
    answer: fn(&Input, &str, &Settings) -> Result<Output>,
    rows: bool,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Note>,
) -> Result<String> {
    repeated(a.repeat, stdin, warnings, &|stdin, warnings, laps| {
        let input = load(&a.input, rows, stdin, warnings)?;
        staged(laps, a.format, warnings, || {
            answer(&input, &os_to_string(&a.wrt)?, &settings(&a.simplify, &a.checks, false)?)
        })
    })
}

/// The stages of a job after reading its input: the request `answer`, then its output
/// rendered in `format`, each ending a lap (reading ended the first).
fn staged(
    laps: &mut request::Laps,
    format: output::Format,
    warnings: &mut Vec<Note>,
    answer: impl FnOnce() -> Result<Output>,
) -> Result<String> {
    laps.mark();
    let out = answer()?;
    laps.mark();
    let text = render(&out, format, warnings);
    laps.mark();
    Ok(text)
}

/// `out` in `format`; a passed check goes to stderr when the format has no room for it.
fn render(out: &Output, format: output::Format, warnings: &mut Vec<Note>) -> String {
    warnings.extend(out.check_note(format).map(Note::Line));
    out.render(format)
}

/// The settings of `--form`, `--assume`, `--check`, `--tolerance` and `--cse`.
fn settings(form: &FormArgs, checks: &CheckArgs, cse: bool) -> Result<Settings> {
    Ok(Settings {
        form: form.form,
        assume: strings(&form.assume)?,
        check: checks.check.then_some(checks.tolerance),
        cse,
    })
}

/// One run of a subcommand on some input, collecting its stderr lines.
/// It marks the end of reading, of the request and of rendering on the laps it is given.
type Job<'a> = dyn Fn(&mut dyn Read, &mut Vec<Note>, &mut request::Laps) -> Result<String> + 'a;

/// Runs `job` (once, or `n` times on the same input with `--repeat`); the result of the
/// last run, and with `--repeat` the median time per run on stderr, split into reading
/// (parsing and loading definitions), deriving (differentiating and simplifying) and
/// printing.
fn repeated(n: Option<u32>, stdin: &mut dyn Read, warnings: &mut Vec<Note>, job: &Job) -> Result<String> {
    let Some(n) = n else {
        return job(stdin, warnings, &mut request::Laps::new());
    };
    let input = read_bytes(stdin)?;
    let ((out, w), timing) = request::repeat(n, |laps| {
        let mut w = Vec::new();
        Ok((job(&mut &input[..], &mut w, laps)?, w))
    })?;
    *warnings = w;
    let stages: Vec<String> = ["read", "derive", "print"]
        .iter()
        .zip(&timing.stages)
        .map(|(name, d)| format!("{name} {}", output::duration(*d)))
        .collect();
    warnings.push(Note::Line(format!("time per run: {} ({})", output::duration(timing.total), stages.join(", "))));
    Ok(out)
}

/// The input of a subcommand: read, and loaded by the library (its warnings to stderr).
fn load(args: &InputArgs, rows: bool, stdin: &mut dyn Read, warnings: &mut Vec<Note>) -> Result<Input> {
    let text = read_input(args, stdin)?;
    let lets = strings(&args.lets)?;
    let input = if rows { Input::load_rows(&lets, &text)? } else { Input::load(&lets, &text)? };
    warnings.extend(input.warnings().iter().cloned().map(Note::Warning));
    Ok(input)
}

/// The text of `--file`, then EXPR (or stdin for `-`), without a byte-order mark.
fn read_input(input: &InputArgs, stdin: &mut dyn Read) -> Result<String> {
    let mut text = match &input.file {
        Some(path) => read_file(path)?,
        None => String::new(),
    };
    let expr = match &input.expr {
        Some(e) if e == "-" => read_stdin(stdin)?,
        Some(e) => os_to_string(e)?,
        None if input.file.is_some() => String::new(),
        None => return Err(Error::new(ErrorKind::NoExpression)),
    };
    if input.expr.is_some() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&expr);
    }
    Ok(text.strip_prefix('\u{FEFF}').map(str::to_owned).unwrap_or(text))
}

fn read_file(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::new(ErrorKind::io(Source::File(path.to_owned()), e)))?;
    utf8(bytes)
}

fn read_stdin(stdin: &mut dyn Read) -> Result<String> {
    utf8(read_bytes(stdin)?)
}

fn read_bytes(stdin: &mut dyn Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stdin.read_to_end(&mut bytes).map_err(|e| Error::new(ErrorKind::io(Source::Stdin, e)))?;
    Ok(bytes)
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        Error::new(ErrorKind::Utf8 { byte: e.as_bytes()[offset], offset })
    })
}

fn os_to_string(s: &OsString) -> Result<String> {
    match s.to_str() {
        Some(t) => Ok(t.to_owned()),
        #[cfg(unix)]
        None => utf8(std::os::unix::ffi::OsStrExt::as_bytes(s.as_os_str()).to_vec()),
        #[cfg(not(unix))]
        None => Err(Error::new(ErrorKind::Utf8 { byte: 0, offset: 0 })),
    }
}

fn string(s: Option<&OsString>) -> Result<Option<String>> {
    s.map(os_to_string).transpose()
}

fn strings(args: &[OsString]) -> Result<Vec<String>> {
    args.iter().map(os_to_string).collect()
}
