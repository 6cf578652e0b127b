//! `deriv._native`: the Rust library's requests for the Python package.
//!
//! Each function takes the text of a program (definitions ending in an expression, as
//! the command line reads it), answers one request through `deriv::request` under the
//! command line's default limits, and returns what the package turns into Python
//! objects: rendered text, LaTeX and JSON. A failure raises `NativeError` with the
//! error's kind, message, caret rendering and position; the package re-raises it as
//! `deriv.ParseError` or `deriv.DerivError`.

use deriv::limits;
use deriv::output::{Format, Output};
use deriv::request::{self, Input, Settings};
use deriv::simplify::Form;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    _native,
    NativeError,
    PyValueError,
    "An error from deriv's core: (syntax, message, caret text, line, column, kind)."
);

/// A deriv error as a Python exception: whether it is a syntax error, the message, the
/// rendering with its caret, the 1-based line and column (or None), and the kind's name
/// (`CheckFailed`).
fn py_err(e: deriv::Error) -> PyErr {
    let syntax = e.kind().is_syntax();
    let debug = format!("{:?}", e.kind());
    let kind: String = debug.chars().take_while(char::is_ascii_alphanumeric).collect();
    NativeError::new_err((syntax, e.kind().to_string(), e.to_string(), e.line(), e.column(), kind))
}

/// Runs `work` under the command line's default node and time limits.
fn limited<T>(work: impl FnOnce() -> deriv::Result<T>) -> PyResult<T> {
    match limits::with_limits(limits::DEFAULT, work) {
        Ok(r) => r.map_err(py_err),
        Err(e) => Err(py_err(deriv::Error::new(deriv::ErrorKind::Limit(e)))),
    }
}

fn form(name: Option<&str>) -> PyResult<Option<Form>> {
    Ok(match name {
        None | Some("auto") => None,
        Some("output") => Some(Form::Output),
        Some("input") => Some(Form::Input),
        Some("raw") => Some(Form::Raw),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "form must be \"auto\", \"output\", \"input\" or \"raw\", not {other:?}"
            )))
        }
    })
}

/// The text, LaTeX and JSON of an output, and the note of a passed check.
type Rendered = (String, String, String, Option<String>);

fn rendered(out: &Output) -> Rendered {
    (out.render(Format::Text), out.render(Format::Latex), out.render(Format::Json), out.check_note(Format::Text))
}

/// One request on `program`: `kind` is diff, steps, grad, jacobian, hessian,
/// simplify or parse.
#[pyfunction]
#[pyo3(signature = (kind, program, lets, wrt=None, order=1, form_name=None, assume=Vec::new(), check=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    kind: &str,
    program: &str,
    lets: Vec<String>,
    wrt: Option<String>,
    order: u64,
    form_name: Option<&str>,
    assume: Vec<String>,
    check: Option<f64>,
) -> PyResult<Rendered> {
    let settings = Settings { form: form(form_name)?, assume, check, cse: false };
    let kind = kind.to_owned();
    limited(move || {
        let rows = kind == "jacobian";
        let input = if rows { Input::load_rows(&lets, program)? } else { Input::load(&lets, program)? };
        let wrt_all = wrt.clone().unwrap_or_default();
        let out = match kind.as_str() {
            "diff" | "steps" => {
                let req = request::Diff { wrt, order, steps: kind == "steps", sizes: None, at: None };
                request::diff(&input, &req, &settings)?
            }
            "grad" => request::grad(&input, &wrt_all, &settings)?,
            "jacobian" => request::jacobian(&input, &wrt_all, &settings)?,
            "hessian" => request::hessian(&input, &wrt_all, &settings)?,
            "simplify" => request::simplify(&input, settings.form),
            "parse" => Output::expression(input.problem().target.clone()),
            _ => return Err(deriv::Error::new(deriv::ErrorKind::Internal)),
        };
        Ok(rendered(&out))
    })
}

/// The value of `program` at `at` (`x=1.5, y=2`).
#[pyfunction]
fn evaluate(program: &str, lets: Vec<String>, at: &str) -> PyResult<f64> {
    limited(|| request::eval(&Input::load(&lets, program)?, at))
}

/// The values of `program` at the rows of a CSV table whose header names the variables.
#[pyfunction]
fn evaluate_table(program: &str, lets: Vec<String>, table: &str) -> PyResult<Vec<f64>> {
    limited(|| request::eval_points(&Input::load(&lets, program)?, table))
}

/// Source code of `program` and its backward pass.
#[pyfunction]
#[pyo3(signature = (program, lets, wrt=None, name=None, lang="numpy", backward="output"))]
fn codegen(
    program: &str,
    lets: Vec<String>,
    wrt: Option<&str>,
    name: Option<&str>,
    lang: &str,
    backward: &str,
) -> PyResult<String> {
    use deriv::codegen::{Backward, Lang};
    let lang = Lang::from_name(lang).ok_or_else(|| {
        let names: Vec<&str> = Lang::ALL.iter().map(|l| l.name()).collect();
        PyValueError::new_err(format!("lang must be one of {}, not {lang:?}", names.join(", ")))
    })?;
    let backward = match backward {
        "output" => Backward::Output,
        "input" => Backward::Input,
        other => return Err(PyValueError::new_err(format!("backward must be \"output\" or \"input\", not {other:?}"))),
    };
    limited(|| request::codegen(&Input::load(&lets, program)?, wrt, name, lang, backward))
}

/// The Python module `deriv._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_table, m)?)?;
    m.add_function(wrap_pyfunction!(codegen, m)?)?;
    Ok(())
}
