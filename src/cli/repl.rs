//! `deriv repl` (and `deriv` alone on a terminal): one line at a time, definitions kept
//! from line to line.
//!
//! A line is read as a line of a note file ([`crate::note::statement`]): definitions
//! (`p = sigmoid(z)`; a name defined again takes its new definition everywhere),
//! `diff SUBJECT wrt VAR [where ...]`, `grad SUBJECT wrt A, B`,
//! `assume LHS = RHS`, `# prose`; and a few more requests of the command line,
//! `simplify SUBJECT`, `latex SUBJECT`, `eval SUBJECT at x=1, y=2`, with `:steps on`,
//! `:defs`, `:help` and `:quit`. An error is shown with its caret under the line typed
//! and the session goes on. On a terminal, rustyline edits the line and keeps a history
//! (`~/.deriv_history`, or the file `DERIV_HISTORY` names; a history that cannot be
//! read or written is no error); Ctrl-D leaves. Elsewhere the lines come from stdin,
//! with no prompt, so a session can be replayed from a file.

use std::io::{BufRead, Write};

use crate::error::{Error, ErrorKind, Result, Source, Span};
use crate::limits::{self, Limits};
use crate::note::{self, Statement, Verb};
use crate::output::{Format, Output};
use crate::request::{self, Diff, Input, Settings};

/// What the session remembers between lines.
#[derive(Default)]
pub(super) struct Session {
    /// The definitions so far, one statement per line, as a program.
    program: String,
    /// The facts of the `assume` lines so far.
    facts: Vec<String>,
    /// Whether `diff` shows its steps (`:steps on`).
    steps: bool,
    /// The warnings about the line being worked (`sigmod(x)`: did you mean `sigmoid`?).
    warnings: std::cell::RefCell<Vec<Error>>,
}

/// The result of one line: text for stdout (possibly empty), or the request to leave.
enum Reply {
    Print(String),
    Quit,
}

const HELP: &str = "\
\x20 p = sigmoid(z)            define names (several separated by `;`); they stay defined
\x20 g(u) = u^2/2              define a function (or define again what is defined)
  diff p wrt z              the derivative (with :steps on, step by step)
  diff E wrt z[j] where K = 2, z[1] = 0
  grad E wrt w1, w2         one partial derivative per line
  simplify EXPR             EXPR simplified, in terms of the names where cheaper
  latex EXPR                EXPR as LaTeX
  eval EXPR at x=1, y=2     EXPR at a point
  assume t1 + t2 = 1        a fact the requests after it may use
  EXPR                      EXPR in canonical form
  :steps on|off  :defs  :help  :quit (or Ctrl-D)
";

impl Session {
    /// Works one line (without its newline).
    fn line(&mut self, line: &str) -> Result<Reply> {
        let trimmed = line.trim();
        // Where a piece of the line starts in it.
        let offset_of = |piece: &str| piece.as_ptr() as usize - line.as_ptr() as usize;
        let whole = Span::new(offset_of(trimmed), offset_of(trimmed) + trimmed.len());
        if trimmed.is_empty() {
            return Ok(Reply::Print(String::new()));
        }
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.command(command.trim()).map_err(|k| Error::at(k, whole, line));
        }
        if let Some((verb, subject)) = trimmed.split_once(' ') {
            let subject = subject.trim();
            match verb {
                "simplify" => {
                    let input = self.load(subject, line)?;
                    return Ok(Reply::Print(request::simplify(&input, None).render(Format::Text)));
                }
                "latex" => {
                    let input = self.load(subject, line)?;
                    let target = input.problem().target.clone();
                    return Ok(Reply::Print(Output::expression(target).render(Format::Latex)));
                }
                "eval" => {
                    let (subject, at) = match subject.rsplit_once(" at ") {
                        Some((s, at)) => (s, Some(at)),
                        None => (subject, None),
                    };
                    let input = self.load(subject, line)?;
                    let value = match at {
                        Some(at) => request::eval_value(&input, at).map_err(|e| e.relocate(0, offset_of(at), line))?,
                        None => request::eval_value(&input, "")?,
                    };
                    return Ok(Reply::Print(format!("{}\n", value.display(None))));
                }
                _ => {}
            }
        }
        match note::statement(trimmed).map_err(|k| Error::at(k, whole, line))? {
            Statement::Prose(_) => Ok(Reply::Print(String::new())),
            Statement::Plot(_) => Err(Error::at(ErrorKind::ReplPlot, whole, line)),
            Statement::Assume(fact) => {
                let input = self.load("", line)?;
                crate::matrix::Options::new(input.problem())
                    .assuming(&[fact.to_owned()])
                    .map_err(|e| Error::at(e.into_kind(), whole, line))?;
                self.facts.push(fact.to_owned());
                Ok(Reply::Print(String::new()))
            }
            Statement::Request { verb, subject, vars, spec } => {
                let input = self.load(subject, line)?;
                let settings = Settings { assume: self.facts.clone(), ..Settings::default() };
                let at_vars =
                    |e: Error| Error::at(e.into_kind(), Span::new(offset_of(vars), offset_of(vars) + vars.len()), line);
                let (sizes, at) = match spec {
                    Some(spec) => note::specialisation(spec, &input.problem().inlined_target().free_vars()),
                    None => (None, None),
                };
                let mut out = String::new();
                let wrts: Vec<&str> = match verb {
                    Verb::Diff => vec![vars.trim()],
                    Verb::Grad => {
                        crate::parse::split_outside_brackets(vars).into_iter().filter(|v| !v.is_empty()).collect()
                    }
                };
                for wrt in wrts {
                    let steps = self.steps && verb == Verb::Diff;
                    let req = Diff { wrt: Some(wrt.to_owned()), order: 1, steps, sizes: sizes.clone(), at: at.clone() };
                    out.push_str(&request::diff(&input, &req, &settings).map_err(at_vars)?.render(Format::Text));
                }
                Ok(Reply::Print(out))
            }
            Statement::Definitions(defs) => {
                let text = format!("{}\n{defs}", self.program);
                let input = match self.load(defs, line) {
                    Err(e) if matches!(e.kind(), ErrorKind::Redefined { .. }) => {
                        return self.redefine(defs).unwrap_or(Err(e));
                    }
                    input => input?,
                };
                // A line that defines a name or a function (`σ(z) = ...`) is kept.
                let functions = |program: &str| {
                    crate::defs::Problem::load(&[], &format!("{program}\n0")).map_or(0, |p| p.functions.len())
                };
                if input.problem().target_name.is_some() || functions(&text) > functions(&self.program) {
                    self.program = text;
                    return Ok(Reply::Print(String::new()));
                }
                // A bare expression is shown; it defines nothing.
                Ok(Reply::Print(Output::expression(input.problem().target.clone()).render(Format::Text)))
            }
        }
    }

    /// `defs` defines again what earlier lines define: it takes their place (the first
    /// one's), so the definitions that use the names use the new ones. `None` (the
    /// redefinition stays an error) where an earlier line also defines a name `defs`
    /// does not.
    fn redefine(&mut self, defs: &str) -> Option<Result<Reply>> {
        let names = |text: &str| {
            let p = crate::defs::Problem::load(&[], text).ok()?;
            Some(p.defs.iter().chain(&p.functions).map(|d| d.name.clone()).collect::<Vec<_>>())
        };
        let new = names(defs)?;
        let (mut kept, mut at) = (Vec::new(), None);
        for l in self.program.lines().filter(|l| !l.is_empty()) {
            let old = names(l)?;
            if !old.iter().any(|n| new.contains(n)) {
                kept.push(l.to_owned());
            } else if old.iter().all(|n| new.contains(n)) {
                at.get_or_insert(kept.len());
            } else {
                return None;
            }
        }
        kept.insert(at?, defs.to_owned());
        let program: String = kept.iter().map(|l| format!("\n{l}")).collect();
        // The new program must hold together (no cycle through the new definition).
        match Input::load(&[], &format!("{program}\n0")) {
            Ok(_) => {
                self.program = program;
                Some(Ok(Reply::Print(String::new())))
            }
            Err(e) => Some(Err(Error::new(e.into_kind()))),
        }
    }

    /// The program so far with `subject` (a part of `line`, or empty) after it, loaded.
    /// The subject stands at its own column, the words before it blanked out, so an
    /// error's caret and the columns its message names are those of the line typed.
    fn load(&self, subject: &str, line: &str) -> Result<Input> {
        let at = (subject.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
        let text = match line.get(..at).filter(|_| !subject.is_empty()) {
            Some(before) => format!("{}\n{}{subject}", self.program, " ".repeat(before.len())),
            None => format!("{}\n0", self.program),
        };
        let input = Input::load(&[], &text).map_err(|e| e.relocate(self.program.len() + 1, 0, line))?;
        let from = self.program.len() + 1;
        let mut warnings = self.warnings.borrow_mut();
        // (Those about earlier lines were shown with them.)
        for w in input.warnings() {
            let w = w.clone().relocate(from, 0, line);
            if w.line().is_some() && !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        Ok(input)
    }

    /// A `:command`.
    fn command(&mut self, command: &str) -> std::result::Result<Reply, ErrorKind> {
        match command {
            "q" | "quit" | "exit" => Ok(Reply::Quit),
            "help" | "h" | "?" => Ok(Reply::Print(HELP.to_owned())),
            "steps on" => {
                self.steps = true;
                Ok(Reply::Print(String::new()))
            }
            "steps off" => {
                self.steps = false;
                Ok(Reply::Print(String::new()))
            }
            "defs" => {
                let defs: String = self.program.lines().filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
                Ok(Reply::Print(defs))
            }
            _ => Err(ErrorKind::ReplCommand { found: command.to_owned() }),
        }
    }

    /// Works `line` within `limits`: what to print on stdout, or the error for stderr.
    /// The warnings about it come first, rendered in `colour`.
    fn answer(&mut self, line: &str, limits: Limits, colour: bool) -> (String, Result<Reply>) {
        let reply =
            limits::with_limits(limits, || self.line(line)).unwrap_or_else(|e| Err(Error::new(ErrorKind::Limit(e))));
        let warnings = self.warnings.take().iter().map(|w| format!("{}\n", w.styled(true, colour))).collect();
        (warnings, reply)
    }
}

/// The session on a terminal: rustyline's editor with history, until Ctrl-D or `:quit`.
pub(super) fn terminal(limits: Limits, colour: bool) -> u8 {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            let e = Error::new(ErrorKind::io(Source::Stdin, std::io::Error::other(e.to_string())));
            eprintln!("{}", e.styled(false, colour));
            return 1;
        }
    };
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "deriv {}: definitions, diff p wrt z, grad, simplify, latex, eval; :help, Ctrl-D to leave",
        env!("CARGO_PKG_VERSION")
    );
    let mut session = Session::default();
    loop {
        match editor.readline("deriv> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let (warnings, reply) = session.answer(&line, limits, colour);
                eprint!("{warnings}");
                match reply {
                    Ok(Reply::Print(out)) => {
                        print!("{out}");
                        let _ = std::io::stdout().flush();
                    }
                    Ok(Reply::Quit) => break,
                    Err(e) => eprintln!("{}", e.styled(false, colour)),
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    0
}

/// The session on lines from `stdin` (not a terminal): no prompt, no history. The
/// exit code is that of the last error, 0 when there was none.
pub(super) fn piped(
    stdin: &mut dyn std::io::Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    limits: Limits,
    colour: bool,
) -> u8 {
    let mut session = Session::default();
    let mut code = 0;
    for line in std::io::BufReader::new(stdin).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let e = Error::new(ErrorKind::io(Source::Stdin, e));
                let _ = writeln!(stderr, "{}", e.styled(false, colour));
                return e.exit_code();
            }
        };
        let (warnings, reply) = session.answer(&line, limits, colour);
        let _ = stderr.write_all(warnings.as_bytes());
        match reply {
            Ok(Reply::Print(out)) => {
                let _ = stdout.write_all(out.as_bytes());
            }
            Ok(Reply::Quit) => break,
            Err(e) => {
                let _ = writeln!(stderr, "{}", e.styled(false, colour));
                code = e.exit_code();
            }
        }
    }
    let _ = stdout.flush();
    code
}

/// Where the history is kept: the file `DERIV_HISTORY` names (none when it is empty),
/// else `~/.deriv_history`.
fn history_file() -> Option<std::path::PathBuf> {
    match std::env::var_os("DERIV_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p.into()),
        None => std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".deriv_history")),
    }
}
