//! The command line's grammar: clap's derive structs for every subcommand and option.
//!
//! The doc comments here are the `--help` text. The values of `--format`, `--form` and
//! `--lang` are the library's own enums ([`Format`], [`Form`], [`Lang`], [`NoteFormat`]),
//! which derive clap's `ValueEnum` when the `cli` feature is on.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

use crate::codegen::{Backward, Lang};
use crate::limits;
use crate::note::{self, NoteFormat};
use crate::output::Format;
use crate::plot::PlotFormat;
use crate::simplify::Form;

/// What every EXPR is written in, in brief (the top-level and `diff` help).
const LANGUAGE: &str = "\
EXPR is in deriv's language (grammar/deriv.ebnf): log(b, x) is the base-b logarithm, the
base first (log(x) is ln(x); log2 and log10 are built in); p = BODY defines a name and
g(u) = BODY a function; there is no d/dx(...) inside an expression: --order N takes the
N-th derivative.";

#[derive(Parser, Debug)]
#[command(
    name = "deriv",
    version,
    about = "Symbolic differentiation that prints derivatives the way people write them",
    after_help = LANGUAGE
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
    /// Give up when the work builds more than N expression nodes, or a result has more
    /// than N nodes written out (0: no limit)
    #[arg(long, global = true, value_name = "N", default_value_t = limits::DEFAULT_MAX_NODES)]
    pub(super) max_nodes: u64,
    /// Give up after SECS seconds of work (0: no limit)
    #[arg(long, global = true, value_name = "SECS", default_value_t = limits::DEFAULT_TIMEOUT_SECS as f64)]
    pub(super) timeout: f64,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Differentiate an expression
    #[command(after_help = LANGUAGE)]
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
    /// Draw functions and their derivatives on one chart (SVG), or list the points drawn
    #[command(after_help = "\
Each EXPR is read as `diff` reads it (`p = e^z/(1+e^z)`, or an expression); every curve is
labelled with its formula as `diff` prints it. Curves are sampled densely where they bend,
with gaps where they are undefined or jump, and clipped where they blow up.")]
    Plot(PlotArgs),
    /// Work interactively: definitions, `diff p wrt z`, `grad`, `simplify`, `latex`,
    /// `eval`, with history (also what `deriv` alone opens on a terminal)
    Repl,
    /// Write the completion script for a shell to stdout
    #[command(after_help = "\
Install it where the shell looks, for example:
  bash: deriv completions bash > ~/.local/share/bash-completion/completions/deriv
  zsh:  deriv completions zsh > ~/.zfunc/_deriv   (with fpath+=~/.zfunc before compinit)
  fish: deriv completions fish > ~/.config/fish/completions/deriv.fish")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man page (roff) to stdout, or with --dir every page
    #[command(after_help = "\
Install the pages where man looks, for example:
  deriv man --dir ~/.local/share/man/man1   (then `man deriv`, `man deriv-diff`)")]
    Man {
        /// Write deriv.1 and a page per subcommand (deriv-diff.1, ...) into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Debug)]
pub(super) struct PlotArgs {
    /// The expressions, all on one chart (after `--` when one begins with `-`: `deriv plot
    /// --wrt x -- '-x^2'`, as a list of them cannot tell an expression from an option)
    #[arg(required = true, value_name = "EXPR")]
    pub(super) exprs: Vec<OsString>,
    /// The variable (may be left out when each expression has one, the same)
    #[arg(long, value_name = "VAR")]
    pub(super) wrt: Option<OsString>,
    /// Which derivatives to draw, comma-separated (0 is the function)
    #[arg(long, value_delimiter = ',', default_value = "0,1", value_name = "ORDERS")]
    pub(super) order: Vec<u64>,
    /// The variable's range, as -6..6 or -pi..pi [default: -6..6]
    #[arg(long, value_name = "A..B", allow_hyphen_values = true)]
    pub(super) range: Option<OsString>,
    /// Define a name that EXPR uses (repeatable)
    #[arg(long = "let", value_name = "NAME=DEF")]
    pub(super) lets: Vec<OsString>,
    #[command(flatten)]
    pub(super) simplify: FormArgs,
    /// Write to FILE (FILE.svg, or FILE.csv for the points) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub(super) output: Option<std::path::PathBuf>,
    /// The chart, or the points drawn (curve, piece, x, y) [default: by -o's extension, else svg]
    #[arg(long, value_enum)]
    pub(super) format: Option<PlotFormat>,
}

impl Command {
    /// The EXPR the subcommand was given, if it takes one.
    pub(super) fn expr(&self) -> Option<&OsString> {
        let input = match self {
            Command::Diff(a) => &a.input,
            Command::Grad(a) => &a.input,
            Command::Eval(a) => &a.input,
            Command::Latex(a) | Command::Parse(a) => a,
            Command::Simplify(a) => &a.input,
            Command::Jacobian(a) | Command::Hessian(a) => &a.input,
            Command::Codegen(a) => &a.input,
            _ => return None,
        };
        input.expr.as_ref()
    }
}

/// The command line as clap reads it when EXPR may not begin with a hyphen: what an
/// EXPR such as `--bogus` would have been, an unknown option, gets clap's own error.
pub(super) fn strict() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.get_arguments().any(|a| a.get_id() == "expr"))
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |s| s.mut_arg("expr", |a| a.allow_hyphen_values(false)));
    }
    cmd
}

#[derive(Args, Debug)]
pub(super) struct CodegenArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The variables to differentiate by, comma-separated (may be left out when there is one)
    #[arg(long, value_name = "VARS")]
    pub(super) wrt: Option<OsString>,
    /// The language
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub(super) lang: Lang,
    /// The function's name [default: the definition's name, or f]
    #[arg(long)]
    pub(super) name: Option<String>,
    /// What the backward pass computes from: the saved output y where that is cheaper
    /// (y*(1 - y) for the sigmoid, which is 0 once y rounds to 1), or the inputs only,
    /// accurate where the output saturates
    #[arg(long, value_enum, default_value_t = Backward::Output, value_name = "FROM")]
    pub(super) backward: Backward,
}

#[derive(Args, Debug)]
pub(super) struct MatrixArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The variables, comma-separated
    #[arg(long, value_name = "VARS", required = true)]
    pub(super) wrt: OsString,
    /// Output format: text rows, a LaTeX pmatrix, or JSON arrays
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    #[command(flatten)]
    pub(super) simplify: FormArgs,
    #[command(flatten)]
    pub(super) checks: CheckArgs,
    /// Run the whole pipeline N times in-process and report the median time on stderr
    /// (each run within --max-nodes; --timeout for all of them)
    #[arg(long, value_name = "N")]
    pub(super) repeat: Option<u32>,
}

#[derive(Args, Debug)]
pub(super) struct NoteArgs {
    /// The note file (`-` reads stdin)
    pub(super) file: OsString,
    /// Document format
    #[arg(long, value_enum, default_value_t = NoteFormat::Markdown)]
    pub(super) format: NoteFormat,
    /// Where an HTML note loads KaTeX from (a URL or a path to KaTeX's dist folder)
    #[arg(long, default_value = note::KATEX_CDN)]
    pub(super) katex: String,
    /// Write the document to FILE instead of stdout (a Markdown note's figures,
    /// FILE-1.svg..., go beside it; on stdout, beside the note file)
    #[arg(short, long, value_name = "FILE")]
    pub(super) output: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct SimplifyArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// Which forms to choose from [default: output]
    #[arg(long, value_enum)]
    pub(super) form: Option<Form>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
}

#[derive(Args, Debug, Clone)]
pub(super) struct InputArgs {
    /// The expression or definitions (`-` reads stdin); it may begin with a minus,
    /// `-(t*ln(p) + (1 - t)*ln(1 - p))`, without `--` before it
    #[arg(allow_hyphen_values = true)]
    pub(super) expr: Option<OsString>,
    /// Read definitions from a file; EXPR, if given, comes after them
    #[arg(long, value_name = "FILE")]
    pub(super) file: Option<std::path::PathBuf>,
    /// Define a name that EXPR uses, p=BODY, or a function, g(u)=BODY (repeatable)
    #[arg(long = "let", value_name = "NAME=DEF")]
    pub(super) lets: Vec<OsString>,
}

#[derive(Args, Debug, Clone)]
pub(super) struct DiffArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The variable to differentiate by (may be left out when there is one)
    #[arg(long, value_name = "VAR")]
    pub(super) wrt: Option<OsString>,
    /// How many times to differentiate
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(super) order: u64,
    /// Show the derivation step by step, each step labelled with its rule
    #[arg(long)]
    pub(super) steps: bool,
    /// Expand sums to concrete terms: `K=3,M=2` (an index runs over 1..K where K is its
    /// name in capitals) or `k=3`
    #[arg(long, value_name = "SIZES")]
    pub(super) size: Option<OsString>,
    /// Put values in first, `z[1]=0` (with --size, and --wrt a concrete element such as
    /// `z[2]`): the sums are expanded, the values put in, and the result is written in
    /// terms of the target's own element
    #[arg(long, value_name = "VALUES")]
    pub(super) at: Option<OsString>,
    #[command(flatten)]
    pub(super) result: ResultArgs,
}

#[derive(Args, Debug, Clone)]
pub(super) struct GradArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The variables, comma-separated
    #[arg(long, value_name = "VARS", required = true)]
    pub(super) wrt: OsString,
    #[command(flatten)]
    pub(super) result: ResultArgs,
}

/// How a derivative is shown and checked (`diff` and `grad`).
#[derive(Args, Debug, Clone)]
pub(super) struct ResultArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    #[command(flatten)]
    pub(super) simplify: FormArgs,
    #[command(flatten)]
    pub(super) checks: CheckArgs,
    /// Print the result as shared intermediates (`cse1 = ...` lines) and the result
    #[arg(long)]
    pub(super) cse: bool,
    /// Run the whole pipeline N times in-process and report the median time on stderr
    /// (each run within --max-nodes; --timeout for all of them)
    #[arg(long, value_name = "N")]
    pub(super) repeat: Option<u32>,
}

/// What the simplifier may use and choose from (`diff`, `grad`, `jacobian`, `hessian`).
#[derive(Args, Debug, Clone)]
pub(super) struct FormArgs {
    /// Which forms to choose from: in terms of defined names, inputs only, cheapest, or
    /// raw (no simplification: the plain derivative, fast)
    /// [default: output for definitions and --let, auto otherwise]
    #[arg(long, value_enum)]
    pub(super) form: Option<Form>,
    /// A fact the simplifier may use, as `t1 + t2 + t3 = 1` or `sum(k, t[k]) = 1`
    /// (repeatable)
    #[arg(long, value_name = "LHS=RHS")]
    pub(super) assume: Vec<OsString>,
}

/// `--check` and its tolerance.
#[derive(Args, Debug, Clone)]
pub(super) struct CheckArgs {
    /// Verify the result against dual numbers at random points
    #[arg(long)]
    pub(super) check: bool,
    /// The largest error --check accepts
    #[arg(long, default_value_t = 1e-9, value_name = "TOL")]
    pub(super) tolerance: f64,
}

#[derive(Args, Debug)]
pub(super) struct EvalArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// Values of the variables, as `x=1,y=pi/2`
    #[arg(long, value_name = "VAR=VALUE,...")]
    pub(super) at: Option<OsString>,
    /// Evaluate at many points: a CSV file (`-` reads stdin) whose first line names the
    /// variables and each further line gives one point's values; prints one value per
    /// line (`inf`, `-inf` or `NaN` where it is not finite)
    #[arg(long, value_name = "FILE", conflicts_with = "at")]
    pub(super) points: Option<OsString>,
    /// Significant digits to print. An exact result (the input and the point rational,
    /// no function such as sin or ln on the way: `2^100`, `1/3`) has as many as asked;
    /// a floating-point one has 17 at most, the digits an f64 holds. Without it: an
    /// exact integer whole, anything else in the fewest digits that read back as the
    /// same f64, with an exponent below 1e-4 and from 1e16 up (`1.2246467991473532e-16`)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(super) digits: Option<u32>,
}
