//! The built-in functions as data: one row per function, holding everything deriv knows
//! about it.
//!
//! [`Builtin`] names the functions, one variant per row in row order, and
//! [`Builtin::def`] is its row, a [`FuncDef`]: the name; the numeric value and numeric
//! derivative (used by the independent dual-number check); the symbolic derivative,
//! written in deriv's own syntax over the argument `u`; the LaTeX form; the exact value at
//! zero; the rewrite into exponentials, or sines and cosines, that the simplifier's kernel
//! view takes in the function's place; the built-in output the function makes available to
//! the simplifier as a computed name; and the code for it in each language the code
//! generator writes. Each stage reads its column: the differentiator applies the chain
//! rule once for all rows, the kernel view expands by the `expansion` column, the code
//! generator prints by the `code` column. Adding a function is adding a variant and its
//! row, and the test `every_row_is_sound` checks every column of every row.

use std::f64::consts::PI;

/// A built-in function of one argument: a name for its row of the table.
///
/// The variants are in row order (`Builtin::ALL[i]` is the `i`-th row), each named after
/// its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `exp(u)`, also written `e^u`.
    Exp,
    /// The natural logarithm `ln(u)`.
    Ln,
    /// The absolute value `abs(u)`.
    Abs,
    /// `sign(u)`: -1, 0 or 1.
    Sign,
    /// `sin(u)`.
    Sin,
    /// `cos(u)`.
    Cos,
    /// `tan(u)`.
    Tan,
    /// `sec(u) = 1/cos(u)`.
    Sec,
    /// `csc(u) = 1/sin(u)`.
    Csc,
    /// `cot(u) = cos(u)/sin(u)`.
    Cot,
    /// `asin(u)`.
    Asin,
    /// `acos(u)`.
    Acos,
    /// `atan(u)`.
    Atan,
    /// `sinh(u)`.
    Sinh,
    /// `cosh(u)`.
    Cosh,
    /// `tanh(u)`.
    Tanh,
    /// `sech(u) = 1/cosh(u)`.
    Sech,
    /// `csch(u) = 1/sinh(u)`.
    Csch,
    /// `coth(u) = cosh(u)/sinh(u)`.
    Coth,
    /// `asinh(u)`.
    Asinh,
    /// `acosh(u)`.
    Acosh,
    /// `atanh(u)`.
    Atanh,
    /// The error function `erf(u)`.
    Erf,
    /// `erfc(u) = 1 - erf(u)`.
    Erfc,
    /// The logistic function `sigmoid(u) = 1/(1 + e^-u)`.
    Sigmoid,
    /// `softplus(u) = ln(1 + e^u)`.
    Softplus,
    /// `relu(u) = max(0, u)`.
    Relu,
    /// The base-10 logarithm `log10(u) = ln(u)/ln(10)`.
    Log10,
    /// The base-2 logarithm `log2(u) = ln(u)/ln(2)`.
    Log2,
    /// `acot(u) = atan(1/u)`, with values in (-pi/2, pi/2] as SymPy's.
    Acot,
    /// `asec(u) = acos(1/u)`, for `abs(u) >= 1`.
    Asec,
    /// `acsc(u) = asin(1/u)`, for `abs(u) >= 1`.
    Acsc,
    /// `acoth(u) = atanh(1/u)`, for `abs(u) > 1`.
    Acoth,
    /// `asech(u) = acosh(1/u)`, for `0 < u <= 1`.
    Asech,
    /// `acsch(u) = asinh(1/u)`.
    Acsch,
    /// The real cube root `cbrt(u)`, negative for negative `u` (where `u^(1/3)` is not
    /// defined).
    Cbrt,
    /// `expm1(u) = e^u - 1`, accurate near zero.
    Expm1,
    /// `log1p(u) = ln(1 + u)`, accurate near zero.
    Log1p,
}

/// A value per row of the table worked out the first time it is asked for (kept in a
/// `thread_local!`): the parsed derivative and expansion columns, and the identities
/// proved of a row (its reciprocal, its `f'/f`). A one-line derivative asks about one or
/// two rows, not all of them.
pub(crate) struct RowMemo<T> {
    rows: std::cell::RefCell<Vec<Option<T>>>,
}

impl<T: Clone> RowMemo<T> {
    /// An empty table.
    pub(crate) fn new() -> RowMemo<T> {
        RowMemo { rows: std::cell::RefCell::new(vec![None; Builtin::ALL.len()]) }
    }

    /// `f`'s value, from `work` the first time. (`work` may ask this table about other
    /// rows: nothing is borrowed while it runs.)
    pub(crate) fn get(&self, f: Builtin, work: impl FnOnce(Builtin) -> T) -> T {
        if let Some(v) = &self.rows.borrow()[f.index()] {
            return v.clone();
        }
        let v = work(f);
        self.rows.borrow_mut()[f.index()] = Some(v.clone());
        v
    }
}

impl Builtin {
    /// Every built-in, in row order.
    #[rustfmt::skip]
    pub const ALL: [Builtin; 38] = {
        use Builtin::*;
        [Exp, Ln, Abs, Sign, Sin, Cos, Tan, Sec, Csc, Cot, Asin, Acos, Atan, Sinh, Cosh, Tanh, Sech, Csch, Coth,
         Asinh, Acosh, Atanh, Erf, Erfc, Sigmoid, Softplus, Relu, Log10, Log2, Acot, Asec, Acsc, Acoth, Asech,
         Acsch, Cbrt, Expm1, Log1p]
    };

    /// The function's row.
    pub fn def(self) -> &'static FuncDef {
        &FUNCS[self.index()]
    }

    /// The name as written in the input.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The built-in called `name`, or spelled so in the tables (`arcsin` is `asin`);
    /// `None` for any other name, aliases such as `sqrt` included.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .or_else(|| SPELLINGS.iter().find(|(s, _)| *s == name).map(|&(_, b)| b))
    }

    /// Whether the function is odd or even (`None`: neither, or not exactly: `acot` is
    /// `pi/2` at 0 from both sides, `abs` and `sign` fold on their own).
    pub fn parity(self) -> Option<Parity> {
        use Builtin::*;
        match self {
            Sin | Tan | Csc | Cot | Asin | Atan | Sinh | Tanh | Csch | Coth | Asinh | Atanh | Erf | Cbrt | Acsc
            | Acoth | Acsch => Some(Parity::Odd),
            Cos | Sec | Cosh | Sech => Some(Parity::Even),
            _ => None,
        }
    }

    /// The position of the function's row, for tables kept per row (the parsed
    /// derivatives and expansions).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the function is defined at every real argument (`ln`, `sqrt`'s kin,
    /// `tan` and the inverse functions with a bounded domain are not).
    pub fn is_total(self) -> bool {
        use Builtin::*;
        matches!(
            self,
            Exp | Abs
                | Sign
                | Sin
                | Cos
                | Atan
                | Acot
                | Sinh
                | Cosh
                | Tanh
                | Sech
                | Asinh
                | Erf
                | Erfc
                | Sigmoid
                | Softplus
                | Relu
                | Cbrt
                | Expm1
        )
    }
}

/// How a function treats a negated argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// `f(-u) = -f(u)` wherever either side is defined.
    Odd,
    /// `f(-u) = f(u)` wherever either side is defined.
    Even,
}

/// One built-in function of one argument: everything about it, one column per stage.
pub struct FuncDef {
    /// The name as written in the input.
    pub name: &'static str,
    /// The value at a point, in a numerically stable form.
    pub eval: fn(f64) -> f64,
    /// The derivative at a point, written independently of [`FuncDef::derivative`].
    pub slope: fn(f64) -> f64,
    /// The derivative in deriv syntax, in terms of the argument `u`.
    pub derivative: &'static str,
    /// The LaTeX form: `\sin` for operators LaTeX has, `\operatorname{sech}` otherwise.
    pub latex: &'static str,
    /// The exact value at zero as a fraction, when it is defined and rational.
    pub at_zero: Option<(i64, i64)>,
    /// The function in deriv syntax over `u`, in terms of exponentials (the hyperbolic
    /// functions, the sigmoid and softplus) or of sines and cosines (`tan`, `sec`, `csc`,
    /// `cot`): the simplifier's kernel view takes it in the function's place. It calls no
    /// built-in that has an expansion itself (the kernel view rewrites once). `None`: the
    /// function is an atom of its own.
    pub expansion: Option<&'static str>,
    /// The built-in whose value at the same argument the simplifier may use as a computed
    /// name wherever this function is called: `tanh(u)` for the hyperbolic functions,
    /// `sigmoid(u)` for the sigmoid and softplus, `tan(u)` for `tan`, `sec`, `csc` and
    /// `cot`. (What exponentials make available is not a row's: see the simplifier.)
    pub output: Option<Builtin>,
    /// The code for the function in Rust, C, Python and NumPy (the order of
    /// `codegen::Lang::ALL`), as templates in which `{0}` stands for the argument.
    pub code: [&'static str; 4],
}

/// Every built-in function, in the order of [`Builtin::ALL`].
#[rustfmt::skip]
static FUNCS: [FuncDef; 38] = [
    FuncDef { name: "exp", eval: f64::exp, slope: f64::exp,
        derivative: "exp(u)", latex: r"\exp", at_zero: Some((1, 1)),
        expansion: None, output: None,
        code: ["{0}.exp()", "exp({0})", "math.exp({0})", "np.exp({0})"] },
    FuncDef { name: "ln", eval: f64::ln, slope: |u| 1.0 / u,
        derivative: "1/u", latex: r"\ln", at_zero: None,
        expansion: None, output: None,
        code: ["{0}.ln()", "log({0})", "math.log({0})", "np.log({0})"] },
    FuncDef { name: "abs", eval: f64::abs, slope: sign,
        derivative: "sign(u)", latex: "", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.abs()", "fabs({0})", "abs({0})", "np.abs({0})"] },
    FuncDef { name: "sign", eval: sign, slope: |_| 0.0,
        derivative: "0", latex: r"\operatorname{sign}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["if {0} > 0.0 { 1.0_f64 } else if {0} < 0.0 { -1.0 } else { 0.0 }",
               "(double)(({0} > 0.0) - ({0} < 0.0))",
               "(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else 0.0)",
               "np.sign({0})"] },
    FuncDef { name: "sin", eval: f64::sin, slope: f64::cos,
        derivative: "cos(u)", latex: r"\sin", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.sin()", "sin({0})", "math.sin({0})", "np.sin({0})"] },
    FuncDef { name: "cos", eval: f64::cos, slope: |u| -u.sin(),
        derivative: "-sin(u)", latex: r"\cos", at_zero: Some((1, 1)),
        expansion: None, output: None,
        code: ["{0}.cos()", "cos({0})", "math.cos({0})", "np.cos({0})"] },
    FuncDef { name: "tan", eval: f64::tan, slope: |u| 1.0 / (u.cos() * u.cos()),
        derivative: "1 + tan(u)^2", latex: r"\tan", at_zero: Some((0, 1)),
        expansion: Some("sin(u)/cos(u)"), output: Some(Builtin::Tan),
        code: ["{0}.tan()", "tan({0})", "math.tan({0})", "np.tan({0})"] },
    FuncDef { name: "sec", eval: |u| 1.0 / u.cos(), slope: |u| u.sin() / (u.cos() * u.cos()),
        derivative: "sec(u)*tan(u)", latex: r"\sec", at_zero: Some((1, 1)),
        expansion: Some("1/cos(u)"), output: Some(Builtin::Tan),
        code: ["1.0 / {0}.cos()", "1.0 / cos({0})", "1.0 / math.cos({0})", "1.0 / np.cos({0})"] },
    FuncDef { name: "csc", eval: |u| 1.0 / u.sin(), slope: |u| -u.cos() / (u.sin() * u.sin()),
        derivative: "-csc(u)*cot(u)", latex: r"\csc", at_zero: None,
        expansion: Some("1/sin(u)"), output: Some(Builtin::Tan),
        code: ["1.0 / {0}.sin()", "1.0 / sin({0})", "1.0 / math.sin({0})", "1.0 / np.sin({0})"] },
    FuncDef { name: "cot", eval: |u| u.cos() / u.sin(), slope: |u| -1.0 / (u.sin() * u.sin()),
        derivative: "-1 - cot(u)^2", latex: r"\cot", at_zero: None,
        expansion: Some("cos(u)/sin(u)"), output: Some(Builtin::Tan),
        code: ["1.0 / {0}.tan()", "1.0 / tan({0})", "1.0 / math.tan({0})", "1.0 / np.tan({0})"] },
    FuncDef { name: "asin", eval: f64::asin, slope: |u| 1.0 / (1.0 - u * u).sqrt(),
        derivative: "1/sqrt(1 - u^2)", latex: r"\arcsin", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.asin()", "asin({0})", "math.asin({0})", "np.arcsin({0})"] },
    FuncDef { name: "acos", eval: f64::acos, slope: |u| -1.0 / (1.0 - u * u).sqrt(),
        derivative: "-1/sqrt(1 - u^2)", latex: r"\arccos", at_zero: None,
        expansion: None, output: None,
        code: ["{0}.acos()", "acos({0})", "math.acos({0})", "np.arccos({0})"] },
    FuncDef { name: "atan", eval: f64::atan, slope: |u| 1.0 / (1.0 + u * u),
        derivative: "1/(1 + u^2)", latex: r"\arctan", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.atan()", "atan({0})", "math.atan({0})", "np.arctan({0})"] },
    FuncDef { name: "sinh", eval: f64::sinh, slope: f64::cosh,
        derivative: "cosh(u)", latex: r"\sinh", at_zero: Some((0, 1)),
        expansion: Some("(e^u - e^-u)/2"), output: Some(Builtin::Tanh),
        code: ["{0}.sinh()", "sinh({0})", "math.sinh({0})", "np.sinh({0})"] },
    FuncDef { name: "cosh", eval: f64::cosh, slope: f64::sinh,
        derivative: "sinh(u)", latex: r"\cosh", at_zero: Some((1, 1)),
        expansion: Some("(e^u + e^-u)/2"), output: Some(Builtin::Tanh),
        code: ["{0}.cosh()", "cosh({0})", "math.cosh({0})", "np.cosh({0})"] },
    FuncDef { name: "tanh", eval: f64::tanh, slope: |u| 1.0 / (u.cosh() * u.cosh()),
        derivative: "1 - tanh(u)^2", latex: r"\tanh", at_zero: Some((0, 1)),
        expansion: Some("(e^(2*u) - 1)/(e^(2*u) + 1)"), output: Some(Builtin::Tanh),
        code: ["{0}.tanh()", "tanh({0})", "math.tanh({0})", "np.tanh({0})"] },
    FuncDef { name: "sech", eval: |u| 1.0 / u.cosh(), slope: |u| -u.sinh() / (u.cosh() * u.cosh()),
        derivative: "-sech(u)*tanh(u)", latex: r"\operatorname{sech}", at_zero: Some((1, 1)),
        expansion: Some("2/(e^u + e^-u)"), output: Some(Builtin::Tanh),
        // (Python's math.cosh raises past 710 and NumPy's warns; 2e^-|u|/(1 + e^-2|u|) is 0 there.)
        code: ["1.0 / {0}.cosh()", "1.0 / cosh({0})",
               "2.0 * math.exp(-abs({0})) / (1.0 + math.exp(-2.0 * abs({0})))",
               "2.0 * np.exp(-np.abs({0})) / (1.0 + np.exp(-2.0 * np.abs({0})))"] },
    FuncDef { name: "csch", eval: |u| 1.0 / u.sinh(), slope: |u| -u.cosh() / (u.sinh() * u.sinh()),
        derivative: "-csch(u)*coth(u)", latex: r"\operatorname{csch}", at_zero: None,
        expansion: Some("2/(e^u - e^-u)"), output: Some(Builtin::Tanh),
        code: ["1.0 / {0}.sinh()", "1.0 / sinh({0})",
               "math.copysign(2.0 * math.exp(-abs({0})) / -math.expm1(-2.0 * abs({0})), {0})",
               "np.copysign(2.0 * np.exp(-np.abs({0})) / -np.expm1(-2.0 * np.abs({0})), {0})"] },
    FuncDef { name: "coth", eval: |u| u.cosh() / u.sinh(), slope: |u| -1.0 / (u.sinh() * u.sinh()),
        derivative: "1 - coth(u)^2", latex: r"\coth", at_zero: None,
        expansion: Some("(e^(2*u) + 1)/(e^(2*u) - 1)"), output: Some(Builtin::Tanh),
        code: ["1.0 / {0}.tanh()", "1.0 / tanh({0})", "1.0 / math.tanh({0})", "1.0 / np.tanh({0})"] },
    FuncDef { name: "asinh", eval: f64::asinh, slope: |u| 1.0 / (u * u + 1.0).sqrt(),
        derivative: "1/sqrt(u^2 + 1)", latex: r"\operatorname{arsinh}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.asinh()", "asinh({0})", "math.asinh({0})", "np.arcsinh({0})"] },
    FuncDef { name: "acosh", eval: f64::acosh, slope: |u| 1.0 / ((u - 1.0).sqrt() * (u + 1.0).sqrt()),
        derivative: "1/sqrt(u^2 - 1)", latex: r"\operatorname{arcosh}", at_zero: None,
        expansion: None, output: None,
        code: ["{0}.acosh()", "acosh({0})", "math.acosh({0})", "np.arccosh({0})"] },
    FuncDef { name: "atanh", eval: f64::atanh, slope: |u| 1.0 / (1.0 - u * u),
        derivative: "1/(1 - u^2)", latex: r"\operatorname{artanh}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.atanh()", "atanh({0})", "math.atanh({0})", "np.arctanh({0})"] },
    // Rust's std and NumPy lack erf and erfc: the code generator adds helpers named so.
    FuncDef { name: "erf", eval: libm::erf, slope: |u| 2.0 / PI.sqrt() * (-u * u).exp(),
        derivative: "2/sqrt(pi)*e^(-u^2)", latex: r"\operatorname{erf}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["erf({0})", "erf({0})", "math.erf({0})", "_erf({0})"] },
    FuncDef { name: "erfc", eval: libm::erfc, slope: |u| -2.0 / PI.sqrt() * (-u * u).exp(),
        derivative: "-2/sqrt(pi)*e^(-u^2)", latex: r"\operatorname{erfc}", at_zero: Some((1, 1)),
        expansion: None, output: None,
        code: ["erfc({0})", "erfc({0})", "math.erfc({0})", "_erfc({0})"] },
    // The stable form e^min(u, 0)/(1 + e^-|u|).
    FuncDef { name: "sigmoid", eval: sigmoid, slope: |u| sigmoid(u) * sigmoid(-u),
        derivative: "sigmoid(u)*(1 - sigmoid(u))", latex: r"\operatorname{sigmoid}", at_zero: Some((1, 2)),
        expansion: Some("1/(1 + e^-u)"), output: Some(Builtin::Sigmoid),
        code: ["{0}.min(0.0).exp() / (1.0 + (-{0}.abs()).exp())",
               "exp(fmin({0}, 0.0)) / (1.0 + exp(-fabs({0})))",
               "math.exp(min({0}, 0.0)) / (1.0 + math.exp(-abs({0})))",
               "np.exp(np.minimum({0}, 0.0)) / (1.0 + np.exp(-np.abs({0})))"] },
    // The stable form max(u, 0) + ln(1 + e^-|u|).
    FuncDef { name: "softplus", eval: softplus, slope: sigmoid,
        derivative: "sigmoid(u)", latex: r"\operatorname{softplus}", at_zero: None,
        expansion: Some("ln(1 + e^u)"), output: Some(Builtin::Sigmoid),
        code: ["{0}.max(0.0) + (-{0}.abs()).exp().ln_1p()",
               "fmax({0}, 0.0) + log1p(exp(-fabs({0})))",
               "max({0}, 0.0) + math.log1p(math.exp(-abs({0})))",
               "np.maximum({0}, 0.0) + np.log1p(np.exp(-np.abs({0})))"] },
    // The derivative at the kink is 0, PyTorch's convention (`heaviside(0)` is 0).
    FuncDef { name: "relu", eval: |u| if u > 0.0 || u.is_nan() { u } else { 0.0 }, slope: |u| if u > 0.0 { 1.0 } else { 0.0 },
        derivative: "heaviside(u)", latex: r"\operatorname{relu}", at_zero: Some((0, 1)),
        expansion: Some("(u + abs(u))/2"), output: None,
        code: ["{0}.max(0.0)", "fmax({0}, 0.0)", "max({0}, 0.0)", "np.maximum({0}, 0.0)"] },
    FuncDef { name: "log10", eval: f64::log10, slope: |u| 1.0 / (u * std::f64::consts::LN_10),
        derivative: "1/(u*ln(10))", latex: r"\log_{10}", at_zero: None,
        expansion: Some("ln(u)/ln(10)"), output: None,
        code: ["{0}.log10()", "log10({0})", "math.log10({0})", "np.log10({0})"] },
    FuncDef { name: "log2", eval: f64::log2, slope: |u| 1.0 / (u * std::f64::consts::LN_2),
        derivative: "1/(u*ln(2))", latex: r"\log_{2}", at_zero: None,
        expansion: Some("ln(u)/ln(2)"), output: None,
        code: ["{0}.log2()", "log2({0})", "math.log2({0})", "np.log2({0})"] },
    // (acot(0) is pi/2, whichever zero: 1/-0 would make it -pi/2.)
    FuncDef { name: "acot", eval: |u| if u == 0.0 { std::f64::consts::FRAC_PI_2 } else { (1.0 / u).atan() },
        slope: |u| -1.0 / (1.0 + u * u),
        derivative: "-1/(1 + u^2)", latex: r"\operatorname{arccot}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).atan()", "atan(1.0 / ({0}))", "math.atan(1.0 / ({0}))", "np.arctan(1.0 / ({0}))"] },
    FuncDef { name: "asec", eval: |u| (1.0 / u).acos(), slope: |u| 1.0 / (u.abs() * (u * u - 1.0).sqrt()),
        derivative: "1/(abs(u)*sqrt(u^2 - 1))", latex: r"\operatorname{arcsec}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).acos()", "acos(1.0 / ({0}))", "math.acos(1.0 / ({0}))", "np.arccos(1.0 / ({0}))"] },
    FuncDef { name: "acsc", eval: |u| (1.0 / u).asin(), slope: |u| -1.0 / (u.abs() * (u * u - 1.0).sqrt()),
        derivative: "-1/(abs(u)*sqrt(u^2 - 1))", latex: r"\operatorname{arccsc}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).asin()", "asin(1.0 / ({0}))", "math.asin(1.0 / ({0}))", "np.arcsin(1.0 / ({0}))"] },
    FuncDef { name: "acoth", eval: |u| (1.0 / u).atanh(), slope: |u| 1.0 / (1.0 - u * u),
        derivative: "1/(1 - u^2)", latex: r"\operatorname{arcoth}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).atanh()", "atanh(1.0 / ({0}))", "math.atanh(1.0 / ({0}))", "np.arctanh(1.0 / ({0}))"] },
    FuncDef { name: "asech", eval: |u| (1.0 / u).acosh(), slope: |u| -1.0 / (u * (1.0 - u * u).sqrt()),
        derivative: "-1/(u*sqrt(1 - u^2))", latex: r"\operatorname{arsech}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).acosh()", "acosh(1.0 / ({0}))", "math.acosh(1.0 / ({0}))", "np.arccosh(1.0 / ({0}))"] },
    FuncDef { name: "acsch", eval: |u| (1.0 / u).asinh(), slope: |u| -1.0 / (u.abs() * (1.0 + u * u).sqrt()),
        derivative: "-1/(abs(u)*sqrt(1 + u^2))", latex: r"\operatorname{arcsch}", at_zero: None,
        expansion: None, output: None,
        code: ["(1.0 / {0}).asinh()", "asinh(1.0 / ({0}))", "math.asinh(1.0 / ({0}))", "np.arcsinh(1.0 / ({0}))"] },
    // LaTeX: \sqrt[3]{u}, written by the printer (the empty column, as for abs).
    FuncDef { name: "cbrt", eval: f64::cbrt, slope: |u| 1.0 / (3.0 * u.cbrt() * u.cbrt()),
        derivative: "1/(3*cbrt(u)^2)", latex: "", at_zero: Some((0, 1)),
        expansion: None, output: None,
        // (Python's math.cbrt is 3.11 and later.)
        code: ["{0}.cbrt()", "cbrt({0})", "math.copysign(abs({0}) ** (1.0 / 3.0), {0})", "np.cbrt({0})"] },
    FuncDef { name: "expm1", eval: f64::exp_m1, slope: f64::exp,
        derivative: "e^u", latex: r"\operatorname{expm1}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.exp_m1()", "expm1({0})", "math.expm1({0})", "np.expm1({0})"] },
    FuncDef { name: "log1p", eval: f64::ln_1p, slope: |u| 1.0 / (1.0 + u),
        derivative: "1/(1 + u)", latex: r"\operatorname{log1p}", at_zero: Some((0, 1)),
        expansion: None, output: None,
        code: ["{0}.ln_1p()", "log1p({0})", "math.log1p({0})", "np.log1p({0})"] },
];

/// Other spellings of rows, as tables and other systems write them: read as the row,
/// printed by its name (`arcsin(x)` is `asin(x)`).
pub const SPELLINGS: &[(&str, Builtin)] = &[
    ("arcsin", Builtin::Asin),
    ("arccos", Builtin::Acos),
    ("arctan", Builtin::Atan),
    ("arccot", Builtin::Acot),
    ("arcsec", Builtin::Asec),
    ("arccsc", Builtin::Acsc),
    ("arsinh", Builtin::Asinh),
    ("arcsinh", Builtin::Asinh),
    ("arcosh", Builtin::Acosh),
    ("arccosh", Builtin::Acosh),
    ("artanh", Builtin::Atanh),
    ("arctanh", Builtin::Atanh),
    ("arcoth", Builtin::Acoth),
    ("arccoth", Builtin::Acoth),
    ("arsech", Builtin::Asech),
    ("arcsech", Builtin::Asech),
    ("arcsch", Builtin::Acsch),
    ("arccsch", Builtin::Acsch),
];

/// Names that are built in but are not rows: they rewrite to rows at parse time.
pub const ALIASES: &[&str] = &["sqrt", "log", "sum", "prod", "delta", "if", "max", "min", "clamp", "heaviside", "step"];

/// Whether `name` is a built-in function name (a row or an alias).
pub fn is_builtin(name: &str) -> bool {
    Builtin::from_name(name).is_some() || ALIASES.contains(&name)
}

/// The built-in function closest to `name` by edit distance (insertions, deletions,
/// substitutions and swaps of neighbours), when `name` is not one itself and is near
/// enough to be a typo: one edit for names up to five letters, two for longer ones
/// (`tahn` is `tanh`, `sigmod` is `sigmoid`, `atna` is `atan`). Names under three
/// letters (`f`, `g`) are never typos. A built-in in other capitals (`ReLU`, `Max`,
/// `LOG10`) is one at any length, and so is `σ`, the sigmoid's usual letter; a name whose
/// digits are not the built-in's is not (`atan2` is no `atanh`, `exp2` no `exp`).
pub fn suggest(name: &str) -> Option<&'static str> {
    let n = name.chars().count();
    if is_builtin(name) {
        return None;
    }
    let names = || Builtin::ALL.into_iter().map(Builtin::name).chain(ALIASES.iter().copied());
    if let Some(b) = names().find(|b| b.eq_ignore_ascii_case(name)) {
        return Some(b);
    }
    if name == "σ" {
        return Some(Builtin::Sigmoid.name());
    }
    if n < 3 {
        return None;
    }
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let allowed = if n <= 5 { 1 } else { 2 };
    names()
        .filter(|b| digits(b) == digits(name))
        .map(|b| (edit_distance(name, b), b))
        .filter(|&(d, _)| d <= allowed)
        // Among equally near names, one of the same length (a swap: `tahn`) first.
        .min_by_key(|&(d, b)| (d, b.chars().count() != n))
        .map(|(_, b)| b)
}

/// The optimal-string-alignment distance between `a` and `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The reserved constant names.
pub const CONSTANTS: &[&str] = &["e", "pi", "π"];

fn sign(u: f64) -> f64 {
    if u > 0.0 {
        1.0
    } else if u < 0.0 {
        -1.0
    } else if u == 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// The logistic function in a form that stays finite for any finite `u`.
pub fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^u)` in a form that stays finite for any finite `u`.
pub fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::check::{mixed_error, Rng};
    use crate::eval::{eval, Env};
    use crate::expr::{self, Expr, Func, Node, Sym, Walk};
    use crate::parse::parse_expr;

    /// A column in deriv syntax over `u`, parsed, or why it is not fit to be one.
    fn over_u(src: &str) -> Result<Expr, String> {
        let e = parse_expr(src).map_err(|e| format!("does not parse: {e}"))?;
        match e.free_vars().into_iter().find(|v| v.as_str() != "u") {
            Some(v) => Err(format!("names `{v}`, not only `u`")),
            None => Ok(e),
        }
    }

    /// How closely `formula` (over `u`) agrees with `want` at random points where both are
    /// finite, and at how many points they were compared.
    fn agreement(formula: &Expr, want: fn(f64) -> f64, rng: &mut Rng) -> (f64, usize) {
        let (mut worst, mut compared) = (0.0f64, 0);
        for _ in 0..20 {
            let u = rng.uniform(-3.0, 3.0);
            let env: Env = [(Sym::new("u"), u)].into_iter().collect();
            let (Ok(got), want) = (eval(formula, &env), want(u)) else { continue };
            if got.is_finite() && want.is_finite() {
                worst = worst.max(mixed_error(got, want));
                compared += 1;
            }
        }
        (worst, compared)
    }

    /// The argument numbers a code template writes (`{0}` is 0).
    fn template_args(t: &str) -> Vec<&str> {
        t.split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}'))
            .map(|(n, _)| n)
            .filter(|n| n.parse::<u32>().is_ok())
            .collect()
    }

    /// Every row, every column: a bad row fails here, with all that is wrong with it, and
    /// not in whichever stage reads the column first.
    #[test]
    fn every_row_is_sound() {
        let mut problems = Vec::new();
        let mut rng = Rng::new(3);
        for (i, b) in Builtin::ALL.into_iter().enumerate() {
            let f = b.def();
            let mut bad = |what: String| problems.push(format!("{}: {what}", f.name));
            // The variants are in row order, each named after its row.
            if b.index() != i {
                bad(format!("`Builtin::ALL[{i}]` is `{b:?}`, whose row is {}", b.index()));
            }
            if format!("{b:?}").to_lowercase() != f.name {
                bad(format!("is the row of `Builtin::{b:?}`: the variants and the rows are out of step"));
            }
            if Builtin::ALL.iter().filter(|c| c.name() == f.name).count() > 1
                || ALIASES.contains(&f.name)
                || CONSTANTS.contains(&f.name)
                || SPELLINGS.iter().any(|(s, _)| *s == f.name)
            {
                bad("the name is taken twice".into());
            }
            // The slope, by a central difference.
            for u in [0.3, 0.7, -0.4, 1.6, 2.5] {
                let (v, s) = ((f.eval)(u), (f.slope)(u));
                if !v.is_finite() || !s.is_finite() {
                    continue;
                }
                let h = 1e-6;
                let fd = ((f.eval)(u + h) - (f.eval)(u - h)) / (2.0 * h);
                if (fd - s).abs() > 1e-6 * s.abs().max(1.0) {
                    bad(format!("the slope at {u} is {s}, a central difference {fd}"));
                }
            }
            // The derivative, against the slope.
            match over_u(f.derivative) {
                Err(why) => bad(format!("the derivative `{}` {why}", f.derivative)),
                Ok(d) => match agreement(&d, f.slope, &mut rng) {
                    (_, 0) => bad(format!("the derivative `{}` is nowhere finite", f.derivative)),
                    (err, _) if err >= 1e-12 => {
                        bad(format!("the derivative `{}` is off the slope by {err}", f.derivative))
                    }
                    _ => {}
                },
            }
            // The expansion, against the value; once rewritten, never rewritten again.
            if let Some(x) = f.expansion {
                match over_u(x) {
                    Err(why) => bad(format!("the expansion `{x}` {why}")),
                    Ok(e) => {
                        match agreement(&e, f.eval, &mut rng) {
                            (_, 0) => bad(format!("the expansion `{x}` is nowhere finite")),
                            (err, _) if err >= 1e-12 => bad(format!("the expansion `{x}` is off the value by {err}")),
                            _ => {}
                        }
                        expr::walk(std::slice::from_ref(&e), |n| {
                            if let Node::Call(Func::Builtin(c), _) = n.node() {
                                if c.def().expansion.is_some() {
                                    bad(format!("the expansion `{x}` calls `{}`, which has one too", c.name()));
                                }
                            }
                            Walk::Descend
                        });
                    }
                }
            }
            // An output is a name the simplifier solves for in the kernel view.
            if let Some(o) = f.output.filter(|o| o.def().expansion.is_none()) {
                bad(format!("the output `{}` has no expansion", o.name()));
            }
            // The code: the one argument, and nothing else in braces that looks like one.
            for t in f.code {
                let args = template_args(t);
                if args.is_empty() || args.iter().any(|&a| a != "0") {
                    bad(format!("the template `{t}` writes {args:?}, not `{{0}}` alone"));
                }
            }
        }
        assert!(problems.is_empty(), "{} bad columns:\n{}", problems.len(), problems.join("\n"));
    }

    /// A total function has a finite value everywhere it is sampled, zero and the odd
    /// multiples of pi/2 included; every other one is undefined (or, at the double
    /// nearest a pole, past 1e15) somewhere.
    #[test]
    fn total_functions_are_finite_everywhere() {
        let mut points: Vec<f64> = (-400..=400).map(|i| f64::from(i) / 40.0).collect();
        points.extend([PI / 2.0, -PI / 2.0, PI]);
        for b in Builtin::ALL {
            let bounded = points.iter().all(|&u| (b.def().eval)(u).abs() < 1e15);
            assert_eq!(b.is_total(), bounded, "{}", b.name());
        }
    }

    #[test]
    fn typos_of_builtins_are_recognised() {
        assert_eq!(suggest("tahn"), Some("tanh"));
        assert_eq!(suggest("sigmod"), Some("sigmoid"));
        assert_eq!(suggest("atna"), Some("atan"));
        assert_eq!(suggest("arctan"), None, "a spelling of atan");
        assert_eq!(suggest("softpuls"), Some("softplus"));
        assert_eq!(suggest("sqr"), Some("sqrt"));
        assert_eq!(suggest("tanh"), None);
        assert_eq!(suggest("g"), None);
        assert_eq!(suggest("loss"), None);
        assert_eq!(suggest("model"), None);
    }

    #[test]
    fn stable_forms_stay_finite() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0);
    }
}
