//! The target languages as data: how each operation is written in Rust, C, Python and
//! NumPy, the words each reserves, and the helpers a language's standard library lacks.
//! A built-in function's code is not here but in its row of the built-ins' table (the
//! `code` column of [`crate::func::FuncDef`], in the same templates); `OPS` has the
//! operations that are not built-ins.
//!
//! A template writes `{0}`, `{1}` for the arguments. An argument followed by `.` is a
//! method receiver; one between `(` or `, ` and `)` or `,` is delimited and needs no
//! parentheses; anywhere else it is parenthesised unless it is an atom. An argument used
//! more than once is first put in a local, so that it is computed once.

/// A target language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Lang {
    /// Rust, `f64` and its methods (std only).
    Rust,
    /// C99 with `<math.h>`.
    C,
    /// Python with `math`, on floats.
    Python,
    /// Python with NumPy, vectorised over arrays.
    Numpy,
}

impl Lang {
    /// Every language, in table column order.
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::C, Lang::Python, Lang::Numpy];

    /// The name `--lang` takes.
    pub fn name(self) -> &'static str {
        ["rust", "c", "python", "numpy"][self.col()]
    }

    /// The language called `name`.
    pub fn from_name(name: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.name() == name)
    }

    pub(crate) fn col(self) -> usize {
        self as usize
    }
}

/// One operation, written in each language (columns in [`Lang::ALL`] order).
pub(crate) struct Op {
    pub name: &'static str,
    pub code: [&'static str; 4],
}

/// Every operation that is not a built-in function: the forms the printer needs for
/// powers, constants and the stable blocks of [`crate::stable`].
#[rustfmt::skip]
pub(crate) static OPS: &[Op] = &[
    Op { name: "logaddexp", code: ["{0}.max({1}) + (-({0} - {1}).abs()).exp().ln_1p()",
                                  "fmax({0}, {1}) + log1p(exp(-fabs({0} - {1})))",
                                  "max({0}, {1}) + math.log1p(math.exp(-abs({0} - {1})))",
                                  "np.maximum({0}, {1}) + np.log1p(np.exp(-np.abs({0} - {1})))"] },
    Op { name: "max",      code: ["{0}.max({1})",  "fmax({0}, {1})", "max({0}, {1})",   "np.maximum({0}, {1})"] },
    Op { name: "min",      code: ["{0}.min({1})",  "fmin({0}, {1})", "min({0}, {1})",   "np.minimum({0}, {1})"] },
    // Comparisons, as conditions (booleans), and a condition as the number 1 or 0.
    Op { name: ">",        code: ["{0} > {1}",     "{0} > {1}",    "{0} > {1}",         "{0} > {1}"] },
    Op { name: ">=",       code: ["{0} >= {1}",    "{0} >= {1}",   "{0} >= {1}",        "{0} >= {1}"] },
    Op { name: "<",        code: ["{0} < {1}",     "{0} < {1}",    "{0} < {1}",         "{0} < {1}"] },
    Op { name: "<=",       code: ["{0} <= {1}",    "{0} <= {1}",   "{0} <= {1}",        "{0} <= {1}"] },
    Op { name: "==",       code: ["{0} == {1}",    "{0} == {1}",   "{0} == {1}",        "{0} == {1}"] },
    Op { name: "!=",       code: ["{0} != {1}",    "{0} != {1}",   "{0} != {1}",        "{0} != {1}"] },
    Op { name: "iverson",  code: ["f64::from(u8::from({0}))", "(double)({0})", "float({0})", "np.where({0}, 1.0, 0.0)"] },
    // The branch taken, and only it evaluated (NumPy's `where` evaluates both, elementwise).
    Op { name: "select",   code: ["if {0} { {1} } else { {2} }", "{0} ? {1} : {2}", "{1} if {0} else {2}",
                                  "np.where({0}, {1}, {2})"] },
    // ln(1 - e^u), u < 0: Mächler's two branches, each exact where the other cancels.
    Op { name: "log1mexp", code: ["if {0} > -std::f64::consts::LN_2 { (-{0}.exp_m1()).ln() } else { (-{0}.exp()).ln_1p() }",
                                  "({0} > -0.6931471805599453 ? log(-expm1({0})) : log1p(-exp({0})))",
                                  "(math.log(-math.expm1({0})) if {0} > -0.6931471805599453 else math.log1p(-math.exp({0})))",
                                  "np.where({0} > -0.6931471805599453, np.log(-np.expm1({0})), np.log1p(-np.exp({0})))"] },
    Op { name: "hypot",    code: ["{0}.hypot({1})", "hypot({0}, {1})", "math.hypot({0}, {1})", "np.hypot({0}, {1})"] },
    Op { name: "sqrt",     code: ["{0}.sqrt()",    "sqrt({0})",    "math.sqrt({0})",    "np.sqrt({0})"] },
    // x^n for a whole n (written as an integer), x^e for any e.
    Op { name: "powi",     code: ["{0}.powi({1})", "pow({0}, {1})", "{0} ** {1}",       "{0} ** {1}"] },
    Op { name: "powf",     code: ["{0}.powf({1})", "pow({0}, {1})", "math.pow({0}, {1})", "np.power({0}, {1})"] },
    // x^2 and x^3 by multiplication in Python, whose `**` raises past the largest float.
    Op { name: "square",   code: ["{0}.powi(2)",   "pow({0}, 2)",  "{0} * {0}",         "{0} ** 2"] },
    Op { name: "cube",     code: ["{0}.powi(3)",   "pow({0}, 3)",  "{0} * {0} * {0}",   "{0} ** 3"] },
    // x^(p/q) with q odd: the real root, negative for a negative x when p is odd.
    Op { name: "root_odd", code: ["{0}.abs().powf({1}).copysign({0})", "copysign(pow(fabs({0}), {1}), {0})",
                                  "math.copysign(abs({0}) ** {1}, {0})", "np.copysign(np.abs({0}) ** {1}, {0})"] },
    Op { name: "root_even", code: ["{0}.abs().powf({1})", "pow(fabs({0}), {1})", "abs({0}) ** {1}", "np.abs({0}) ** {1}"] },
    Op { name: "pi",       code: ["std::f64::consts::PI", "3.14159265358979323846", "math.pi", "np.pi"] },
    Op { name: "inf",      code: ["f64::INFINITY", "INFINITY",     "math.inf",          "np.inf"] },
];

/// The row for `name`.
pub(crate) fn op(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.name == name)
}

/// Words a name may not be in each language: keywords, and the names the generated
/// code itself uses (modules, functions it calls, its helpers).
#[rustfmt::skip]
pub(crate) static RESERVED: [&[&str]; 4] = [
    &["as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
      "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
      "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
      "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try", "typeof",
      "unsized", "virtual", "yield", "union", "f64", "std", "erf", "erfc", "_"],
    &["auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
      "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
      "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
      "volatile", "while", "main", "exp", "log", "fabs", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
      "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "fmin", "fmax", "log1p", "expm1", "sqrt", "cbrt",
      "pow", "copysign", "hypot", "INFINITY", "NAN"],
    &["False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
      "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
      "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match",
      "case", "math", "abs", "min", "max", "float"],
    &["False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
      "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
      "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match",
      "case", "np", "numpy", "_erf", "_erfc", "_erfc_cf"],
];

/// Whether `name` is reserved in `lang`.
pub(crate) fn reserved(lang: Lang, name: &str) -> bool {
    RESERVED[lang.col()].contains(&name)
}

/// Code a language's standard library lacks, emitted once before the functions when
/// one of `ops` is used.
pub(crate) struct Helper {
    pub lang: Lang,
    pub ops: &'static [&'static str],
    pub code: &'static str,
}

/// erf and erfc for Rust (not in std) and NumPy (not in NumPy): a series with terms of
/// one sign below |x| = 2, Laplace's continued fraction for erfc above.
pub(crate) static HELPERS: &[Helper] = &[
    Helper {
        lang: Lang::Rust,
        ops: &["erf", "erfc"],
        code: r#"/// erf(x), which Rust's standard library lacks: below |x| = 2 the series
/// 2/sqrt(pi)*e^(-x^2)*sum(x*(2*x^2)^n/(1*3*...*(2*n + 1))), whose terms have one sign;
/// above, 1 - erfc(|x|).
fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a >= 2.0 {
        return (1.0 - erfc(a)).copysign(x);
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs() {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

/// erfc(x): 1 - erf(x) below x = 2; above, Laplace's continued fraction
/// e^(-x^2)/sqrt(pi)/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), from the tail.
fn erfc(x: f64) -> f64 {
    if x < 2.0 {
        return 1.0 - erf(x);
    }
    let mut f = x;
    for k in (1..=60).rev() {
        f = x + f64::from(k) / 2.0 / f;
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}
"#,
    },
    Helper {
        lang: Lang::Numpy,
        ops: &["erf", "erfc"],
        code: r#"def _erfc_cf(a):
    """erfc(a) for a >= 2 by Laplace's continued fraction, evaluated from the tail."""
    a = np.maximum(a, 2.0)
    f = a
    for k in range(60, 0, -1):
        f = a + (k / 2.0) / f
    return np.exp(-a * a) / np.sqrt(np.pi) / f


def _erf(x):
    """erf(x), which NumPy lacks: a series with terms of one sign below |x| = 2."""
    x = np.asarray(x, dtype=np.float64)
    s = np.clip(x, -2.0, 2.0)
    term = s
    total = s
    for n in range(1, 40):
        term = term * (2.0 * s * s / (2.0 * n + 1.0))
        total = total + term
    series = 2.0 / np.sqrt(np.pi) * np.exp(-s * s) * total
    return np.where(np.abs(x) < 2.0, series, np.copysign(1.0 - _erfc_cf(np.abs(x)), x))


def _erfc(x):
    """erfc(x): 1 - erf(x) below x = 2, the continued fraction above."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 2.0, 1.0 - _erf(x), _erfc_cf(x))
"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A built-in's code is its row's alone: no operation here shadows it.
    #[test]
    fn no_operation_is_a_builtin() {
        for o in OPS {
            assert!(crate::func::Builtin::from_name(o.name).is_none(), "`{}` is a built-in, coded in its row", o.name);
        }
    }
}
