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

use args::{CheckArgs, Cli, Command, FormArgs, InputArgs, MatrixArgs, PlotArgs};

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
    let fail = |stderr: &mut dyn Write, e: Error| {
        let _ = writeln!(stderr, "{e}");
        e.exit_code()
    };
    let Some(limits) = crate::limits::Limits::from_flags(cli.max_nodes, cli.timeout) else {
        return fail(stderr, Error::new(ErrorKind::Timeout(cli.timeout)));
    };
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
                let _ = writeln!(stderr, "{w}");
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

/// The stack of the thread that does the work: room for recursion to the parser's
/// depth limit in every stage. Only the pages touched are ever committed.
const WORKER_STACK: usize = 1 << 30;

fn execute(cmd: Command, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<String> {
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
                return Ok(values.iter().map(|v| format!("{v:?}\n")).collect());
            }
            let input = load(&a.input, false, stdin, warnings)?;
            let at = string(a.at.as_ref())?.unwrap_or_default();
            Ok(format!("{}\n", request::eval(&input, &at)?))
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
    }
}

/// `plot`: the chart (or its points) to stdout, or to `-o FILE`.
fn plot(a: PlotArgs, warnings: &mut Vec<String>) -> Result<String> {
    use crate::plot::{self, PlotFormat};
    let lets = strings(&a.lets)?;
    let mut inputs = Vec::new();
    for e in &a.exprs {
        let input = Input::load(&lets, &os_to_string(e)?)?;
        warnings.extend(input.warnings().iter().map(Error::as_warning));
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

/// `jacobian` (of the rows of the input) or `hessian` (of its target).
fn matrix(
    a: MatrixArgs,
    answer: fn(&Input, &str, &Settings) -> Result<Output>,
    rows: bool,
    stdin: &mut dyn Read,
    warnings: &mut Vec<String>,
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
    warnings: &mut Vec<String>,
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
fn render(out: &Output, format: output::Format, warnings: &mut Vec<String>) -> String {
    warnings.extend(out.check_note(format));
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
type Job<'a> = dyn Fn(&mut dyn Read, &mut Vec<String>, &mut request::Laps) -> Result<String> + 'a;

/// Runs `job` (once, or `n` times on the same input with `--repeat`); the result of the
/// last run, and with `--repeat` the median time per run on stderr, split into reading
/// (parsing and loading definitions), deriving (differentiating and simplifying) and
/// printing.
fn repeated(n: Option<u32>, stdin: &mut dyn Read, warnings: &mut Vec<String>, job: &Job) -> Result<String> {
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
    warnings.push(format!("time per run: {} ({})", output::duration(timing.total), stages.join(", ")));
    Ok(out)
}

/// The input of a subcommand: read, and loaded by the library (its warnings to stderr).
fn load(args: &InputArgs, rows: bool, stdin: &mut dyn Read, warnings: &mut Vec<String>) -> Result<Input> {
    let text = read_input(args, stdin)?;
    let lets = strings(&args.lets)?;
    let input = if rows { Input::load_rows(&lets, &text)? } else { Input::load(&lets, &text)? };
    warnings.extend(input.warnings().iter().map(Error::as_warning));
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
