//! What a request computed, and how it is shown: an [`Output`], rendered as deriv
//! syntax, LaTeX or JSON ([`Format`]).
//!
//! Every result the command line prints (a derivative, a gradient, a Jacobian or
//! Hessian, a simplified expression, shared intermediates, a derivation) is one
//! [`Output`], and [`Output::render`] is the one place that lays each out in each
//! format. Text reads back as deriv input: one expression per line, a matrix one
//! `[row]` per line, intermediates as `cse1 = ...` definitions. JSON comes from the
//! serde structs below, whose fields are declared in alphabetical order, the order
//! deriv's JSON has always had. A check that passed is part of the JSON; for text and
//! LaTeX, which have no room for it, [`Output::check_note`] is the line to show beside
//! them.

use serde::Serialize;

use crate::check::CheckReport;
use crate::cse::Cse;
use crate::derivation::Derivation;
use crate::expr::{Expr, Sym};
use crate::print::latex::{self, to_latex};
use crate::print::text::to_text;

/// How an [`Output`] is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// deriv syntax, which reads back.
    Text,
    /// LaTeX math.
    Latex,
    /// One JSON object.
    Json,
}

/// A numeric check that passed, and the tolerance it passed.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The check's outcome.
    pub report: CheckReport,
    /// The largest error it allowed.
    pub tolerance: f64,
}

/// A result of a request, to be rendered in any [`Format`].
#[derive(Clone, Debug)]
pub struct Output(Shape);

#[derive(Clone, Debug)]
enum Shape {
    /// A derivative of `input` by `variable`, of `order` when the request counted one.
    Derivative { input: Expr, variable: String, order: Option<u64>, result: Expr, check: Option<Checked> },
    /// One partial derivative of `input` per variable, each with its check.
    Gradient { input: Expr, partials: Vec<(Sym, Expr, Option<CheckReport>)> },
    /// A Jacobian or Hessian: one row per function.
    Matrix { functions: Vec<Expr>, variables: Vec<Sym>, entries: Vec<Vec<Expr>>, check: Option<Checked> },
    /// `input` in its chosen form.
    Simplified { input: Expr, result: Expr },
    /// Results to print as shared intermediates, each result named by `names` where
    /// given. The sharing is found when printed: it is how the results are written.
    Shared { results: Vec<Expr>, names: Vec<String> },
    /// A derivation step by step.
    Steps(Box<Derivation>),
    /// An expression as it is.
    Expression(Expr),
}

impl Output {
    /// The derivative `result` of `input` by `variable` (of `order`, when counted).
    pub fn derivative(
        input: &Expr,
        variable: String,
        order: Option<u64>,
        result: Expr,
        check: Option<Checked>,
    ) -> Output {
        Output(Shape::Derivative { input: input.clone(), variable, order, result, check })
    }

    /// The gradient of `input`: per variable, the partial derivative and its check.
    pub fn gradient(input: &Expr, partials: Vec<(Sym, Expr, Option<CheckReport>)>) -> Output {
        Output(Shape::Gradient { input: input.clone(), partials })
    }

    /// A matrix of derivatives: `entries[i][j]` of `functions[i]` by `variables[j]`.
    pub fn matrix(functions: &[Expr], variables: &[Sym], entries: Vec<Vec<Expr>>, check: Option<Checked>) -> Output {
        Output(Shape::Matrix { functions: functions.to_vec(), variables: variables.to_vec(), entries, check })
    }

    /// `input` simplified to `result`.
    pub fn simplified(input: &Expr, result: Expr) -> Output {
        Output(Shape::Simplified { input: input.clone(), result })
    }

    /// `results` as shared intermediates ([`crate::cse`]), result `i` named `names[i]`
    /// where there is one (a gradient's `d_w1 = ...`).
    pub fn shared(results: &[Expr], names: Vec<String>) -> Output {
        Output(Shape::Shared { results: results.to_vec(), names })
    }

    /// A derivation, as `--steps` shows it.
    pub fn steps(derivation: Derivation) -> Output {
        Output(Shape::Steps(Box::new(derivation)))
    }

    /// An expression.
    pub fn expression(e: Expr) -> Output {
        Output(Shape::Expression(e))
    }

    /// The output with every expression in it passed through `f`, and a derivation
    /// through `d` (a specialised result written back in the elements).
    pub fn map_exprs(self, f: impl Fn(&Expr) -> Expr, d: impl FnOnce(Derivation) -> Derivation) -> Output {
        let var = |v: String| to_text(&f(&Expr::sym(Sym::new(&v))));
        Output(match self.0 {
            Shape::Derivative { input, variable, order, result, check } => {
                Shape::Derivative { input: f(&input), variable: var(variable), order, result: f(&result), check }
            }
            Shape::Steps(s) => Shape::Steps(Box::new(d(*s))),
            other => other,
        })
    }

    /// The output written in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        let line = |e: &Expr| match format {
            Format::Latex => format!("{}\n", to_latex(e)),
            _ => format!("{}\n", to_text(e)),
        };
        match (&self.0, format) {
            (_, Format::Json) => format!("{}\n", self.json()),
            (Shape::Steps(d), Format::Text) => d.to_string(),
            (Shape::Steps(d), _) => format!("{}\n", d.to_latex()),
            (Shape::Shared { results, names }, _) => shared(&crate::cse::cse(results), names, format),
            (Shape::Derivative { result: e, .. } | Shape::Simplified { result: e, .. } | Shape::Expression(e), _) => {
                line(e)
            }
            (Shape::Gradient { partials, .. }, _) => partials.iter().map(|(_, g, _)| line(g)).collect(),
            (Shape::Matrix { entries, .. }, Format::Latex) => {
                let body: Vec<String> =
                    entries.iter().map(|row| row.iter().map(to_latex).collect::<Vec<_>>().join(" & ")).collect();
                format!("\\begin{{pmatrix}}\n{}\n\\end{{pmatrix}}\n", body.join(" \\\\\n"))
            }
            (Shape::Matrix { entries, .. }, _) => entries
                .iter()
                .map(|row| format!("[{}]\n", row.iter().map(to_text).collect::<Vec<_>>().join(", ")))
                .collect(),
        }
    }

    /// The line that reports a passed check beside the output, for the formats that
    /// have no room for it (text and LaTeX).
    pub fn check_note(&self, format: Format) -> Option<String> {
        let check = match &self.0 {
            Shape::Derivative { check, .. } | Shape::Matrix { check, .. } => check.as_ref()?,
            _ => return None,
        };
        (format != Format::Json).then(|| {
            format!("check: passed, max error {:.3e} at {} points", check.report.max_error, check.report.points)
        })
    }

    /// The output as one JSON object.
    fn json(&self) -> String {
        match &self.0 {
            Shape::Derivative { input, variable, order, result, check } => json(&DerivativeJson {
                check: check.as_ref().map(CheckJson::with_tolerance),
                derivative: Both::of(result),
                input: to_text(input),
                order: *order,
                variable,
            }),
            Shape::Gradient { input, partials } => json(&GradientJson {
                gradient: partials
                    .iter()
                    .map(|(x, g, r)| PartialJson {
                        check: r.as_ref().map(CheckJson::of),
                        latex: to_latex(g),
                        text: to_text(g),
                        variable: x.as_str(),
                    })
                    .collect(),
                input: to_text(input),
            }),
            Shape::Matrix { functions, variables, entries, check } => json(&MatrixJson {
                check: check.as_ref().map(CheckJson::with_tolerance),
                functions: functions.iter().map(to_text).collect(),
                latex: entries.iter().map(|r| r.iter().map(to_latex).collect()).collect(),
                text: entries.iter().map(|r| r.iter().map(to_text).collect()).collect(),
                variables: variables.iter().map(Sym::as_str).collect(),
            }),
            Shape::Simplified { input, result } => {
                json(&SimplifiedJson { input: to_text(input), latex: to_latex(result), text: to_text(result) })
            }
            Shape::Expression(e) => json(&Both::of(e)),
            Shape::Shared { results, .. } => {
                let cse = crate::cse::cse(results);
                json(&SharedJson {
                    intermediates: cse
                        .defs
                        .iter()
                        .map(|(n, d)| NamedJson { name: n.as_str(), text: to_text(d) })
                        .collect(),
                    results: cse.results.iter().map(to_text).collect(),
                })
            }
            Shape::Steps(d) => d.to_json().to_string(),
        }
    }
}

/// Shared intermediates: the definitions, then the results (named where `names` says),
/// as lines of text or one LaTeX `aligned` block.
fn shared(c: &Cse, names: &[String], format: Format) -> String {
    let label = |i: usize| names.get(i);
    match format {
        Format::Latex => {
            let mut rows: Vec<String> =
                c.defs.iter().map(|(n, d)| format!("{} &= {}", latex::name(n.as_str()), to_latex(d))).collect();
            for (i, r) in c.results.iter().enumerate() {
                match label(i) {
                    Some(l) => rows.push(format!("{} &= {}", latex::name(l), to_latex(r))),
                    None => rows.push(format!("&{}", to_latex(r))),
                }
            }
            format!("\\begin{{aligned}}\n{}\n\\end{{aligned}}\n", rows.join(" \\\\\n"))
        }
        _ => {
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

/// `v` as one line of JSON. The shapes hold only strings, numbers and lists of them, so
/// serializing cannot fail.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("strings, numbers and lists of them always serialize")
}

/// A duration as people read one: `3.142 ms`, four significant figures or so.
pub fn duration(d: std::time::Duration) -> String {
    let (v, unit) = match d.as_secs_f64() {
        t if t < 1e-6 => (t * 1e9, "ns"),
        t if t < 1e-3 => (t * 1e6, "µs"),
        t if t < 1.0 => (t * 1e3, "ms"),
        t => (t, "s"),
    };
    format!("{v:.3} {unit}")
}

// The JSON shapes. Fields are in alphabetical order: the order of deriv's JSON output.

/// An expression as text and LaTeX.
#[derive(Serialize)]
struct Both {
    latex: String,
    text: String,
}

impl Both {
    fn of(e: &Expr) -> Both {
        Both { latex: to_latex(e), text: to_text(e) }
    }
}

#[derive(Serialize)]
struct CheckJson {
    max_error: f64,
    points: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerance: Option<f64>,
}

impl CheckJson {
    fn of(r: &CheckReport) -> CheckJson {
        CheckJson { max_error: r.max_error, points: r.points, tolerance: None }
    }

    fn with_tolerance(c: &Checked) -> CheckJson {
        CheckJson { tolerance: Some(c.tolerance), ..CheckJson::of(&c.report) }
    }
}

#[derive(Serialize)]
struct DerivativeJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<CheckJson>,
    derivative: Both,
    input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<u64>,
    variable: &'a str,
}

#[derive(Serialize)]
struct GradientJson<'a> {
    gradient: Vec<PartialJson<'a>>,
    input: String,
}

#[derive(Serialize)]
struct PartialJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<CheckJson>,
    latex: String,
    text: String,
    variable: &'a str,
}

#[derive(Serialize)]
struct MatrixJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<CheckJson>,
    functions: Vec<String>,
    latex: Vec<Vec<String>>,
    text: Vec<Vec<String>>,
    variables: Vec<&'a str>,
}

#[derive(Serialize)]
struct SimplifiedJson {
    input: String,
    latex: String,
    text: String,
}

#[derive(Serialize)]
struct SharedJson<'a> {
    intermediates: Vec<NamedJson<'a>>,
    results: Vec<String>,
}

#[derive(Serialize)]
struct NamedJson<'a> {
    name: &'a str,
    text: String,
}
