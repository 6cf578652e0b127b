//! Errors: a kind, an optional span in the input, and one place that draws the caret.
//!
//! Every error deriv reports about user input carries the text it was found in and the
//! byte span of the offending part. [`Error`]'s `Display` echoes the input line (with
//! control and invisible characters escaped) and draws `^` under the column, counted in
//! Unicode scalars. Messages are lower-case, without a trailing period.

use std::fmt;

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at `at`.
    pub fn at(at: usize) -> Span {
        Span { start: at, end: at }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// Nothing to read.
    #[error("empty expression")]
    Empty,
    /// A character the language does not use.
    #[error("unexpected character {0}")]
    UnexpectedChar(String),
    /// A token where something else was required.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar required.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A `(` without its `)`.
    #[error("expected `)` to close `(` opened at column {0}")]
    Unclosed(usize),
    /// Two operands with no operator between them.
    #[error("missing operator before {0}")]
    MissingOperator(String),
    /// A malformed number literal.
    #[error("{0}")]
    BadNumber(String),
    /// A number whose exact value is too large to hold.
    #[error("number too large (exponents are limited to {0} digits)")]
    NumberTooLarge(i64),
    /// A denominator that is exactly zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Nesting beyond the parser's limit.
    #[error("nesting too deep (limit {0})")]
    TooDeep(usize),
    /// A call with the wrong number of arguments.
    #[error("`{name}` takes {expected}, found {found}")]
    Arity {
        /// The function.
        name: String,
        /// How many it takes, in words.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// Misuse of a name: a constant called, a function not called, a prime on a variable.
    #[error("{0}")]
    Misuse(String),
    /// A definition that the rules for definitions forbid.
    #[error("{0}")]
    Definition(String),
    /// A bad `--wrt`, `--at`, `--let` or `--order` value.
    #[error("{0}")]
    Argument(String),
    /// The input bytes are not UTF-8.
    #[error("input is not valid UTF-8 (byte 0x{byte:02X} at offset {offset})")]
    Utf8 {
        /// The first bad byte.
        byte: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// Numeric evaluation failed.
    #[error("{0}")]
    Eval(String),
    /// The numeric check of a derivative failed.
    #[error("{0}")]
    Check(String),
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// The work ran into `--max-nodes` or `--timeout`.
    #[error("{0}")]
    Limit(String),
}

/// An error, with the input it was found in when it is about input. The details are
/// boxed so that `Result`s stay small; read them through `Deref`.
#[derive(Clone, Debug, PartialEq)]
pub struct Error(Box<Detail>);

/// What an [`Error`] holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where, in `source`.
    pub span: Option<Span>,
    /// The text the span points into.
    pub source: Option<String>,
    /// A suggestion, printed after the caret as `= help: ...`.
    pub hint: Option<String>,
}

impl std::error::Error for Error {}

impl std::ops::Deref for Error {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl Error {
    /// An error with no position.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Detail { kind, span: None, source: None, hint: None }))
    }

    /// An error at `span` of `source`.
    pub fn at(kind: ErrorKind, span: Span, source: &str) -> Error {
        Error(Box::new(Detail { kind, span: Some(span), source: Some(source.to_owned()), hint: None }))
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.0.hint = Some(hint.into());
        self
    }

    /// The error found in a piece of text that was parsed on its own, where the piece
    /// starts at byte `from`, moved to `source`, where the piece starts at byte `to`.
    /// An error outside the piece (`span` before `from`) keeps no position.
    pub fn relocate(self, from: usize, to: usize, source: &str) -> Error {
        let mut d = *self.0;
        d.span = d.span.filter(|s| s.start >= from).map(|s| Span::new(s.start - from + to, s.end - from + to));
        d.source = d.span.map(|_| source.to_owned());
        Error(Box::new(d))
    }

    /// The exit code the command line uses: 2 for bad input, 1 for other failures.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Check(_) | ErrorKind::Io(_) => 1,
            _ => 2,
        }
    }

    /// The 1-based column (in Unicode scalars) the caret points at.
    pub fn column(&self) -> Option<usize> {
        let (span, src) = (self.span?, self.source.as_deref()?);
        let line_start = src[..span.start.min(src.len())].rfind('\n').map_or(0, |i| i + 1);
        Some(src[line_start..span.start.min(src.len())].chars().count() + 1)
    }
}

/// How a character is echoed: itself, or an escape when it is a control, invisible or
/// direction-changing character that would corrupt the terminal or hide the caret.
fn echo(c: char) -> String {
    match c {
        '\t' => "    ".to_owned(),
        '\r' => String::new(),
        c if c.is_control() => format!("\\x{:02x}", c as u32),
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00A0}' => {
            format!("\\u{{{:04X}}}", c as u32)
        }
        c => c.to_string(),
    }
}

impl Error {
    /// The message as a warning: `warning: ...`, with the same caret and help lines.
    pub fn as_warning(&self) -> String {
        let mut out = String::new();
        let _ = self.render(&mut out, "warning");
        out
    }

    fn render(&self, f: &mut impl fmt::Write, label: &str) -> fmt::Result {
        write!(f, "{label}: {}", self.kind)?;
        if let (Some(span), Some(src)) = (self.span, self.source.as_deref()) {
            let start = span.start.min(src.len());
            let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = src[line_start..].find('\n').map_or(src.len(), |i| line_start + i);
            let line_no = src[..line_start].matches('\n').count() + 1;
            let mut shown = String::new();
            let mut caret_at = 0;
            for (i, c) in src[line_start..line_end].char_indices() {
                if line_start + i == start {
                    caret_at = shown.chars().count();
                }
                shown.push_str(&echo(c));
            }
            if start >= line_end {
                caret_at = shown.chars().count();
            }
            let end = span.end.clamp(start, line_end);
            let width = src[start..end].chars().map(|c| echo(c).chars().count().max(1)).sum::<usize>().max(1);
            let gutter = line_no.to_string().len();
            let col = self.column().unwrap_or(1);
            write!(f, "\n{:gutter$}--> line {line_no}, column {col}", "")?;
            write!(
                f,
                "\n{:gutter$} |\n{line_no} | {shown}\n{:gutter$} | {}{}",
                "",
                "",
                " ".repeat(caret_at),
                "^".repeat(width)
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    /// rustc's layout: `error: message`, the locator, the input line echoed (control
    /// and direction-changing characters escaped), the caret under the span, and the
    /// help line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, "error")
    }
}

/// A result with deriv's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
