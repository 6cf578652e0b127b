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
use crate::number::{self, Rational};
use crate::print::latex::{self, to_latex};
use crate::print::text::to_text;
use num_bigint::BigInt;

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
    /// `checks` are the entries' own when checked, each with what it checked
    /// (`dp1/dz2`).
    Matrix {
        functions: Vec<Expr>,
        variables: Vec<Sym>,
        entries: Vec<Vec<Expr>>,
        check: Option<Checked>,
        checks: Vec<(String, CheckReport)>,
    },
    /// `input` in its chosen form.
    Simplified { input: Expr, result: Expr },
    /// Results to print as shared intermediates, each result named by `names` where
    /// given. The sharing is found when printed: it is how the results are written.
    /// `checks` are the results' checks, each with what it checked (`d/dw`), when asked.
    Shared { results: Vec<Expr>, names: Vec<String>, checks: Vec<(String, CheckReport)> },
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
        let checks = Vec::new();
        Output(Shape::Matrix { functions: functions.to_vec(), variables: variables.to_vec(), entries, check, checks })
    }

    /// A matrix (from [`Output::matrix`]) with its check: `all`, of every entry, and
    /// each entry's own report with what it checked (`dp1/dz2`, `d2/dx dy`). Anything
    /// else is returned as it is.
    pub fn with_checks(mut self, all: Checked, entries: Vec<(String, CheckReport)>) -> Output {
        if let Shape::Matrix { check, checks, .. } = &mut self.0 {
            (*check, *checks) = (Some(all), entries);
        }
        self
    }

    /// `input` simplified to `result`.
    pub fn simplified(input: &Expr, result: Expr) -> Output {
        Output(Shape::Simplified { input: input.clone(), result })
    }

    /// `results` as shared intermediates ([`crate::cse`]), result `i` named `names[i]`
    /// where there is one (a gradient's `d_w1 = ...`).
    pub fn shared(results: &[Expr], names: Vec<String>) -> Output {
        Output(Shape::Shared { results: results.to_vec(), names, checks: Vec::new() })
    }

    /// Shared results (from [`Output::shared`]) with each result's check and what it
    /// checked (`""` for a derivative's one result, `d/dw` for a gradient's). Anything
    /// else is returned as it is.
    pub fn with_shared_checks(mut self, entries: Vec<(String, CheckReport)>) -> Output {
        if let Shape::Shared { checks, .. } = &mut self.0 {
            *checks = entries;
        }
        self
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
            (Shape::Shared { results, names, .. }, _) => shared(&crate::cse::cse(results), names, format),
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

    /// The lines that report a passed check beside the output, for the formats that
    /// have no room for it (text and LaTeX): `diff`'s one line, `check: passed, max
    /// error 1.110e-16 at 12 points`, and a line like it for each entry of a gradient
    /// (`check d/dw1: ...`), a Jacobian or a Hessian (labelled by [`Output::with_checks`]).
    pub fn check_note(&self, format: Format) -> Option<String> {
        if format == Format::Json {
            return None;
        }
        let line = |what: String, r: &CheckReport| {
            let what = if what.is_empty() { what } else { format!(" {what}") };
            format!("check{what}: passed, max error {:.3e} at {} points", r.max_error, r.points)
        };
        let lines: Vec<String> = match &self.0 {
            Shape::Derivative { check, .. } => vec![line(String::new(), &check.as_ref()?.report)],
            Shape::Gradient { partials, .. } => {
                partials.iter().filter_map(|(x, _, r)| Some(line(format!("d/d{x}"), r.as_ref()?))).collect()
            }
            Shape::Matrix { check, checks, .. } => {
                check.as_ref()?;
                checks.iter().map(|(what, r)| line(what.clone(), r)).collect()
            }
            Shape::Shared { checks, .. } => checks.iter().map(|(what, r)| line(what.clone(), r)).collect(),
            _ => return None,
        };
        (!lines.is_empty()).then(|| lines.join("\n"))
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
            Shape::Matrix { functions, variables, entries, check, .. } => json(&MatrixJson {
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
            Shape::Shared { results, checks, .. } => {
                let cse = crate::cse::cse(results);
                json(&SharedJson {
                    checks: checks.iter().map(|(_, r)| CheckJson::of(r)).collect(),
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

/// A number `eval` computed: exact, where the input and the point are and rational
/// arithmetic (which the constructors fold) reaches the value, or a float.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An exact rational.
    Exact(Rational),
    /// A floating-point value.
    Float(f64),
}

/// The most significant digits a float has to give: 17 tell every `f64` apart.
pub const FLOAT_DIGITS: usize = 17;

impl Value {
    /// The value as the nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        match self {
            Value::Exact(r) => number::to_f64(r),
            Value::Float(v) => *v,
        }
    }

    /// The number as people read one. An exact integer is written whole, whatever its
    /// length (`2^100` is `1267650600228229401496703205376`). Any other value is
    /// written with `digits` significant digits, correctly rounded and without trailing
    /// zeros; without `digits`, with the fewest digits that read back as the same `f64`
    /// (`0.1`, `0.3333333333333333`). A float has at most [`FLOAT_DIGITS`] digits to
    /// give, whatever `digits` asks; an exact value has as many as asked. The layout is
    /// Python's: an exponent when the number is below `1e-4` or from `1e16` up
    /// (`1.2246467991473532e-16`), positional otherwise (`0.001`, `123.5`). Not-finite
    /// floats are `inf`, `-inf` and `NaN`.
    pub fn display(&self, digits: Option<usize>) -> String {
        match (self, digits) {
            (Value::Exact(r), _) if r.is_integer() => r.to_integer().to_string(),
            (Value::Exact(r), None) if number::to_f64(r).is_normal() => Value::Float(number::to_f64(r)).display(None),
            (Value::Exact(r), d) => {
                let (neg, digits, exp) = rounded(r, d.unwrap_or(FLOAT_DIGITS).max(1));
                layout(neg, &digits, exp)
            }
            (Value::Float(v), _) if v.is_nan() => "NaN".to_owned(),
            (Value::Float(v), _) if v.is_infinite() => if *v > 0.0 { "inf" } else { "-inf" }.to_owned(),
            (Value::Float(v), d) => {
                // Rust writes the shortest round trip (`{:e}`) or a correctly rounded
                // number of digits (`{:.N$e}`); only the layout is ours.
                let sci = match d {
                    None => format!("{v:e}"),
                    Some(d) => format!("{v:.*e}", d.clamp(1, FLOAT_DIGITS) - 1),
                };
                let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
                let neg = mantissa.starts_with('-');
                let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
                let digits = digits.trim_end_matches('0');
                layout(neg, if digits.is_empty() { "0" } else { digits }, exp.parse().unwrap_or(0))
            }
        }
    }
}

/// `|r|` rounded to `n` significant digits (half away from zero): its sign, the digits
/// without trailing zeros, and the decimal exponent of the first.
fn rounded(r: &Rational, n: usize) -> (bool, String, i64) {
    use num_traits::{Signed, Zero};
    if r.is_zero() {
        return (false, "0".to_owned(), 0);
    }
    let a = r.abs();
    let ten = number::pow10;
    // The exponent of the first digit: from the lengths of the parts, then corrected.
    let len = |n: &BigInt| n.to_string().len() as i64;
    let mut exp = len(a.numer()) - len(a.denom());
    while a >= ten(exp + 1) {
        exp += 1;
    }
    while a < ten(exp) {
        exp -= 1;
    }
    let half = Rational::new(1.into(), 2.into());
    let mut m = (&a * ten(n as i64 - 1 - exp) + half).floor().to_integer();
    if m.to_string().len() > n {
        m /= 10;
        exp += 1;
    }
    let digits = m.to_string();
    let digits = digits.trim_end_matches('0');
    (r.is_negative(), digits.to_owned(), exp)
}

/// A number from its sign, significant digits and the decimal exponent of the first:
/// with an exponent below `1e-4` and from `1e16` up, positional between.
fn layout(neg: bool, digits: &str, exp: i64) -> String {
    let sign = if neg { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        return format!("{sign}{first}{rest}e{exp}");
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let whole = exp as usize + 1;
    if digits.len() <= whole {
        format!("{sign}{digits}{}", "0".repeat(whole - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..whole], &digits[whole..])
    }
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
    /// Each result's check, in order, when asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<CheckJson>,
    intermediates: Vec<NamedJson<'a>>,
    results: Vec<String>,
}

#[derive(Serialize)]
struct NamedJson<'a> {
    name: &'a str,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A float without `--digits` reads back as itself; with `d` digits it is the
        /// value to within half a unit of its last digit, and has at most `d` of them.
        #[test]
        fn floats_read_back(bits in any::<u64>(), d in 1usize..=17) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let shown = Value::Float(v).display(None);
            prop_assert_eq!(shown.parse::<f64>().ok(), Some(v), "{}", shown);
            let shown = Value::Float(v).display(Some(d));
            let back: f64 = shown.parse().unwrap_or(f64::NAN);
            // Rounded to `d` digits, a value near the largest double may pass it (1.75e308
            // to one digit is 2e308): nothing to read back, and only up there.
            if back.is_infinite() {
                prop_assert!(v.abs() > 1e307, "{} of {}", shown, v);
                return Ok(());
            }
            let digits: String = shown.split('e').next().unwrap_or("").chars().filter(char::is_ascii_digit).collect();
            prop_assert!(digits.trim_matches('0').len() <= d, "{}", shown);
            // Half a unit of the last digit shown, and reading the decimal back rounds
            // once more, by up to half a unit of the float's last place: 1.046632705095976e-265
            // is the correctly rounded 16 digits of -1.04663270509597649...e-265, and parses
            // to a float 5.3e-282 further off.
            let ulp = f64::EPSILON * v.abs();
            prop_assert!((back - v).abs() <= 0.5 * 10f64.powi(1 - d as i32) * v.abs() * 1.000001 + ulp, "{} of {}", shown, v);
        }

        /// An exact value to `d` digits is the nearest decimal of `d` significant digits:
        /// read back exactly, it is within half a unit of its last digit of the value.
        #[test]
        fn exact_values_round_correctly(p in -10i64.pow(15)..10i64.pow(15), q in 1i64..10i64.pow(12), scale in -40i32..40, d in 1usize..60) {
            let r = Rational::new(p.into(), q.into()) * number::pow10(scale.into());
            prop_assume!(!r.is_integer());
            let shown = Value::Exact(r.clone()).display(Some(d));
            let (mantissa, exp) = shown.split_once('e').unwrap_or((&shown, "0"));
            let neg = mantissa.starts_with('-');
            let m = number::parse_decimal(mantissa.trim_start_matches('-')).unwrap();
            let e: i32 = exp.parse().unwrap();
            let back = m * number::pow10(e.into());
            let back = if neg { -back } else { back };
            let (_, digits, first) = rounded(&r, d);
            prop_assert!(digits.len() <= d);
            let unit = number::pow10(first - d as i64 + 1);
            let err = if back > r { &back - &r } else { &r - &back };
            prop_assert!(err * Rational::from_integer(2.into()) <= unit, "{} of {}", shown, r);
        }
    }

    #[test]
    fn layout_is_pythons() {
        let f = |v: f64| Value::Float(v).display(None);
        assert_eq!(
            [f(0.0), f(-0.0), f(1.0), f(0.5), f(1e-4), f(1e-5), f(1e15), f(1e16)],
            ["0", "-0", "1", "0.5", "0.0001", "1e-5", "1000000000000000", "1e16"]
        );
        assert_eq!([f(f64::NAN), f(f64::INFINITY), f(-f64::INFINITY)], ["NaN", "inf", "-inf"]);
        assert_eq!(Value::Float(123456.0).display(Some(2)), "120000");
        assert_eq!(Value::Exact(Rational::new(995.into(), 1000.into())).display(Some(2)), "1");
        assert_eq!(Value::Exact(Rational::new((-2).into(), 3.into())).display(Some(4)), "-0.6667");
    }
}
