//! Errors: a kind with the data of the fault, an optional span in the input, and one
//! place that words them and draws the caret.
//!
//! Every fault deriv reports is one [`ErrorKind`] variant carrying what was found (a
//! name, a token, a count), never a message: the message and the `help:` line of each
//! kind are written here, in [`ErrorKind`]'s `Display` and [`ErrorKind::help`], and
//! nowhere else. An [`Error`] about input also carries the text it was found in and the
//! byte span of the offending part; its `Display` echoes the input line (with control
//! and invisible characters escaped) and draws `^` under the column, counted in Unicode
//! scalars, in rustc's layout. Messages are lower-case, without a trailing period.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::limits::Exceeded;

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

    /// The 1-based column (in Unicode scalars) of the span's start in `src`, on its line.
    pub fn column(self, src: &str) -> usize {
        let start = self.start.min(src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..start].chars().count() + 1
    }
}

/// What went wrong, with the data of the fault. Its `Display` is the message, and
/// [`help`](ErrorKind::help) the suggestion printed under the caret.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- Reading an expression.
    /// Nothing to read; `comments` when there were only comments.
    Empty {
        /// Whether the text had comments in it.
        comments: bool,
    },
    /// A note with no math in it.
    EmptyNote,
    /// A character the language does not use.
    UnexpectedChar(char),
    /// A token where the grammar required something else.
    Expected {
        /// What the grammar required.
        expected: Expected,
        /// What was there.
        found: Found,
        /// What the token and the one before it suggest, for the help line.
        clue: Option<Clue>,
    },
    /// A `(` without its `)`, opened at `column`.
    Unclosed {
        /// The column of the `(`.
        column: usize,
    },
    /// Two operands with no operator between them: `operand` then `found`.
    MissingOperator {
        /// The token after the missing operator (`(` for a parenthesis).
        found: String,
        /// The operand before it, as written.
        operand: String,
    },
    /// `0x12`: no hex literals, and no operator between `0` and `digits`.
    HexLiteral {
        /// What follows the `0`.
        digits: String,
    },
    /// `1.2.3`.
    TwoDecimalPoints,
    /// `2e` with no digits after the `e`.
    ExponentWithoutDigits {
        /// The number before the `e`.
        mantissa: String,
    },
    /// A number whose exact value is too large to hold; the exponent limit in digits.
    NumberTooLarge(i64),
    /// A denominator that is exactly zero.
    DivisionByZero(ZeroDenominator),
    /// Nesting beyond a limit.
    TooDeep {
        /// The limit.
        limit: usize,
        /// Which nesting passed it.
        nesting: Nesting,
    },
    /// A call with the wrong number of arguments.
    Arity {
        /// The function.
        name: String,
        /// How many it takes.
        takes: Takes,
        /// How many were given.
        found: usize,
    },
    /// A condition of `if` that is not a comparison (or a product of them), as written.
    ConditionNotComparison {
        /// The condition, printed.
        found: String,
    },
    /// A definition where one expression was required.
    DefinitionNotExpression,
    /// Several statements where one expression was required.
    SeveralStatements,
    /// A built-in function or constant with indices, `sin[j]`.
    IndexedBuiltin {
        /// The name.
        name: String,
    },
    /// An indexed name called, `x[j](2)`.
    IndexedCall,
    /// A prime on a name that is not called, `g'`.
    PrimeWithoutCall {
        /// The name.
        name: String,
    },
    /// A built-in function applied without parentheses, `sin x`.
    NoParentheses {
        /// The function.
        name: String,
        /// The argument as written.
        argument: String,
    },
    /// A built-in function not called, `sin`.
    NotCalled {
        /// The function.
        name: String,
    },
    /// A constant called, `e(x)`.
    ConstantCalled {
        /// The constant.
        name: String,
    },
    /// A prime on a built-in function, `sin'(x)`.
    PrimeOnBuiltin {
        /// The function.
        name: String,
    },
    /// A prime for an argument position that the call does not have, `g'[3](x)`.
    NoSuchArgument {
        /// The function.
        name: String,
        /// How many arguments the call has.
        arguments: usize,
        /// The 1-based position asked for.
        position: u32,
    },
    /// A prime on a call of several arguments with no position, `g'(x, y)`.
    AmbiguousPrime {
        /// The function.
        name: String,
        /// How many arguments the call has.
        arguments: usize,
    },
    /// A call of an abstract function whose name is a typo away from a built-in (a
    /// warning).
    UnknownFunction {
        /// The name called.
        name: String,
        /// The built-in it is close to.
        suggestion: String,
    },

    // ---- Definitions.
    /// A second `=` in a statement.
    StrayEquals,
    /// `= x`: a definition without a name.
    NamelessDefinition,
    /// A built-in constant defined.
    RedefinedConstant {
        /// The constant.
        name: String,
    },
    /// A built-in function defined.
    RedefinedFunction {
        /// The function.
        name: String,
    },
    /// An indexed definition with a number for an index, `z[1] = ...`.
    IndexNotName,
    /// A defined name or a function's argument that inlining puts inside `x[...]`, where
    /// only a name or a whole number can be: `z = sin(y); x[z]`.
    InlinedIndex {
        /// The element as inlined, `x[sin(y)]`.
        element: String,
        /// The index put in, `sin(y)`.
        index: String,
    },
    /// A bare expression before the last statement.
    BareExpression,
    /// Definitions that use each other; the names along the cycle, the first repeated
    /// at the end.
    Cycle {
        /// The names, `a -> b -> a`.
        names: Vec<String>,
    },
    /// A warning: the last statement, the target, defines a name another definition
    /// uses (`L = (y - t)^2/2; y = tanh(w*x)` differentiates `y`).
    UsedTarget {
        /// The name the last statement defines.
        name: String,
        /// A definition that uses it.
        user: String,
        /// The one name no definition uses, if there is exactly one.
        meant: Option<String>,
    },
    /// A warning: `log(x, 2)`, a number as the second argument of `log`, which is the
    /// logarithm of 2 to the base x.
    LogBaseSecond {
        /// The first argument as written.
        argument: String,
        /// The number.
        base: String,
    },
    /// A power on a function's name: `cos^2(x)`, `sin^-1(x)`.
    PowerOfFunction {
        /// The function.
        name: String,
        /// The power as written, `2` or `-1`.
        power: String,
        /// The argument as written.
        argument: String,
    },
    /// Derivative notation in an expression: `d/dx(x^2)`, `d^2/dx^2(sin(x))`.
    DerivativeNotation {
        /// The variable, `x` of `dx`.
        var: String,
        /// The order, `1` or the `2` of `d^2`.
        order: String,
        /// The expression differentiated, or `EXPR` when it is not in parentheses.
        body: String,
    },
    /// Function definitions that call themselves, directly or through others (or
    /// definitions of names that do); the names along the cycle, the first repeated.
    RecursiveFunction {
        /// The names, `f -> g -> f`.
        names: Vec<String>,
    },
    /// A call to a defined function with the wrong number of arguments.
    FunctionArity {
        /// The function.
        name: String,
        /// How many parameters it has.
        takes: usize,
        /// How many arguments the call has.
        found: usize,
    },
    /// Primes on a defined function (`g'(x)` with `g(u) = ...`).
    PrimeOnFunction {
        /// The function.
        name: String,
    },
    /// A function's parameter that is not a name (`g(2) = ...`, `g(pi) = ...`).
    BadParameter {
        /// What stands there.
        found: Found,
    },
    /// A parameter named twice (`f(a, a) = ...`).
    RepeatedParameter {
        /// The name.
        name: String,
    },
    /// A name defined twice.
    Redefined {
        /// The name.
        name: String,
    },

    // ---- Requests and their arguments.
    /// An empty name to differentiate by.
    EmptyVariable,
    /// A number to differentiate by.
    NumberVariable {
        /// As written.
        found: String,
    },
    /// A constant (`e`, `pi`) to differentiate by.
    ConstantVariable {
        /// The constant.
        name: String,
    },
    /// An expression to differentiate by.
    NotAVariable {
        /// As written.
        found: String,
    },
    /// Something to differentiate by that does not read as an expression.
    NotAVariableName {
        /// As written.
        found: String,
    },
    /// A `--size` part that is not `NAME=N`.
    BadSizes {
        /// The part.
        found: String,
    },
    /// A `--let` that is not one definition.
    LetNotDefinition,
    /// An `--assume` that is not an equation.
    FactNotEquation,
    /// A note line starting `diff` or `grad` without ` wrt `.
    NoteRequest {
        /// `diff` or `grad`.
        verb: String,
    },
    /// A REPL line `:...` that is no command.
    ReplCommand {
        /// What followed the colon.
        found: String,
    },
    /// A `plot` line in the REPL, which has no picture to draw on.
    ReplPlot,
    /// No expression given.
    NoExpression,
    /// A `--timeout` that is not a number of seconds.
    Timeout(f64),
    /// A name to differentiate by that is defined; its definition, when shown.
    DefinedVariable {
        /// The name.
        name: String,
        /// Its definition, as text.
        definition: Option<String>,
    },
    /// No `--wrt` and no variable to take as the default.
    NoVariable,
    /// No `--wrt` and several variables to choose from.
    SeveralVariables {
        /// The variables.
        names: Vec<String>,
    },
    /// An option not supported with an indexed `--wrt`.
    IndexedUnsupported {
        /// The option, as typed (`--steps`).
        option: String,
    },
    /// `--order` with an indexed `--wrt` that lists elements, but not one per order.
    IndexedOrder {
        /// The order asked for.
        order: u64,
        /// How many elements `--wrt` lists.
        elements: usize,
    },
    /// `hessian` by elements of indexed variables, but not one or two of them.
    IndexedHessian {
        /// How many elements `--wrt` lists.
        elements: usize,
    },
    /// An element of an indexed `--wrt` whose index is not an integer where the check
    /// puts in values.
    IndexNotInteger {
        /// The index, with the values put in.
        index: String,
    },
    /// An element, sum or variable that a specialisation (`--at`) cannot make concrete.
    Unspecialised {
        /// The element as written.
        element: String,
    },
    /// `--steps` with `--order`.
    StepsOrder,
    /// `--steps` with `--assume`.
    StepsAssume,
    /// A part of `--at` without `=`.
    PointNotPair,
    /// A value in `--at` that does not read or evaluate.
    BadValue {
        /// The variable.
        name: String,
        /// Why.
        cause: Box<ErrorKind>,
    },
    /// A value in `--at` that is not finite.
    InfiniteValue {
        /// The variable.
        name: String,
    },
    /// A line of a `--points` table that does not read: its 1-based number and why.
    BadPointsLine {
        /// The line number.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A `plot` range that is not `A..B` with `A < B`.
    BadRange {
        /// The range as written.
        range: String,
    },
    /// `plot` of expressions in different variables.
    PlotVariables {
        /// The first expression's variable.
        first: String,
        /// Another's.
        other: String,
    },
    /// A curve with no finite value over the range.
    NothingToPlot {
        /// Its label.
        curve: String,
        /// The range's start.
        from: f64,
        /// Its end.
        to: f64,
    },
    /// `plot -o` to a file that is not `.svg` or `.csv`.
    PlotFile {
        /// The path.
        path: String,
    },
    /// A note's `plot` line that does not read.
    NotePlot,
    /// A Markdown note with plots written to stdout from stdin: there is nowhere to put
    /// its figures.
    NoteFigures,
    /// A chart asked of a build without the `plot` feature.
    PlotUnavailable,
    /// A variable given twice in `--at`.
    RepeatedValue {
        /// The variable.
        name: String,
    },
    /// A variable given twice in `--wrt`.
    RepeatedVariable {
        /// The variable.
        name: String,
    },
    /// A generated function's name that is not an identifier.
    NotFunctionName {
        /// The name.
        name: String,
    },
    /// A generated function's name that is reserved in a target language.
    ReservedName {
        /// The name.
        name: String,
        /// The language.
        language: &'static str,
    },
    /// Code generation with no variable to differentiate by.
    NoCodegenVariable,
    /// Code generation for an expression with something no language computes.
    NotGenerable(Ungenerable),
    /// The input bytes are not UTF-8.
    Utf8 {
        /// The first bad byte.
        byte: u8,
        /// Its offset in the input.
        offset: usize,
    },

    // ---- Evaluation and checks.
    /// A variable with no value.
    NoValue {
        /// The variable.
        name: String,
    },
    /// A sum with too many terms to add up.
    SumTooLong {
        /// Its index.
        index: String,
    },
    /// An abstract function evaluated.
    AbstractValue {
        /// The function.
        name: String,
    },
    /// A value that is not a finite real number.
    NotFinite(f64),
    /// The check found no point where it could compare.
    NoCheckPoint,
    /// The numeric check of a derivative failed.
    CheckFailed {
        /// The largest error found.
        max_error: f64,
        /// At how many points.
        points: usize,
        /// The largest error allowed.
        tolerance: f64,
    },

    // ---- The environment.
    /// A file or stdin could not be read.
    Io {
        /// What was read.
        what: Source,
        /// Why it failed.
        cause: IoCause,
    },
    /// The work ran into `--max-nodes` or `--timeout`.
    Limit(Exceeded),
    /// The work ended without an answer (a bug).
    Internal,
}

/// What the grammar required where [`ErrorKind::Expected`] found something else.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// An operand.
    Expression,
    /// An operand, after a prime that has no function before it.
    ExpressionAfterPrime,
    /// A binary operator.
    Operator,
    /// A binary operator or the end.
    OperatorOrEnd,
    /// The `)` of a `(`.
    CloseParen,
    /// A statement (before a `;`).
    Statement,
    /// An index in `x[...]`.
    Index,
    /// `,` or `]` after an index.
    CommaOrBracket,
    /// `,` or `)` after a parameter.
    CommaOrClose,
    /// The index of `sum(k, ...)`.
    SumIndex,
    /// The `..` of `k=1..K`.
    Bounds,
    /// The `,` before a sum's summand.
    Summand,
    /// An argument position in `g'[1]`.
    Position,
    /// An argument of the named function.
    Argument(String),
}

/// What [`ErrorKind::Expected`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// The end of the input.
    EndOfInput,
    /// The end of a line.
    EndOfLine,
    /// A token, as written.
    Token(String),
    /// A `)` that closes nothing.
    UnmatchedClose,
    /// A `,` outside the arguments of a call.
    CommaOutsideCall,
}

/// What the token found, and the one before it, suggest: the help line of
/// [`ErrorKind::Expected`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clue {
    /// A `[` where no index can be.
    Grouping,
    /// `**` where an operand was required.
    DoubleStar,
    /// `**` between two operands.
    PowerOperator,
    /// `()`.
    EmptyParentheses,
    /// A binary operator with nothing after it.
    OperandAfter(String),
    /// Two binary operators in a row.
    TwoOperators,
    /// A binary operator with nothing before it.
    OperandBefore(String),
    /// A `)` right after an operator.
    OperandBeforeClose,
    /// A `;` with no statement before it.
    ExtraSemicolon,
    /// A `)` that closes nothing.
    UnmatchedClose,
    /// A `,` outside the arguments of a call.
    CommaOutsideCall,
    /// `f()`: the named function needs an argument.
    EmptyCall(String),
    /// A `,` between a Jacobian's rows.
    RowSeparator,
    /// A second comparison after a first (`a < b < c`).
    ChainedComparison,
}

/// Why a denominator is exactly zero ([`ErrorKind::DivisionByZero`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZeroDenominator {
    /// It is written `0`.
    Zero,
    /// It is written otherwise, and is 0 (`x - x`).
    ZeroValued(String),
    /// `0^-n`.
    NegativePowerOfZero,
    /// `log(1, x)`.
    LogBaseOne,
    /// A name defined as 0 stands in it.
    ZeroName,
}

/// Which nesting passed its limit ([`ErrorKind::TooDeep`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Nesting {
    /// The parser's, within one statement.
    Parser,
    /// An expression with the definitions inlined.
    Inlined,
    /// A definition with the ones it uses inlined, `depth` levels deep.
    Definition {
        /// The name.
        name: String,
        /// How deep it nests.
        depth: u32,
    },
}

/// How many arguments a built-in takes ([`ErrorKind::Arity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// One.
    One,
    /// One or two (`log`).
    OneOrTwo,
    /// Two (`delta`).
    Two,
    /// Three (`clamp`).
    Three,
    /// Two or more (`max`, `min`).
    TwoOrMore,
    /// An odd number, at least three (`if`).
    Branches,
}

/// What code generation cannot write ([`ErrorKind::NotGenerable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ungenerable {
    /// An abstract function.
    Abstract(String),
    /// An indexed variable.
    Indexed(String),
    /// `sum`, `prod` or `delta`.
    Call(String),
}

/// What an [`ErrorKind::Io`] was reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
    /// A file or folder written (a chart, a note and its figures, man pages).
    Written(PathBuf),
}

/// The [`std::io::Error`] behind an [`ErrorKind::Io`], shared so that errors stay
/// `Clone`; two are equal when they print the same.
#[derive(Clone, Debug)]
pub struct IoCause(Arc<std::io::Error>);

impl IoCause {
    /// The underlying error.
    pub fn get(&self) -> &std::io::Error {
        &self.0
    }
}

impl PartialEq for IoCause {
    fn eq(&self, other: &IoCause) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl ErrorKind {
    /// A failure to read `what`.
    pub fn io(what: Source, cause: std::io::Error) -> ErrorKind {
        ErrorKind::Io { what, cause: IoCause(Arc::new(cause)) }
    }

    /// This kind in a Jacobian's rows: a `,` found between rows is a row separator.
    pub(crate) fn in_rows(self) -> ErrorKind {
        match self {
            ErrorKind::Expected { expected, found, .. }
                if found == Found::CommaOutsideCall || found == Found::Token(",".into()) =>
            {
                ErrorKind::Expected { expected, found, clue: Some(Clue::RowSeparator) }
            }
            other => other,
        }
    }

    /// Whether the fault is in reading the text (a syntax error: an unexpected
    /// character, an unclosed parenthesis, an unknown function), rather than in what was
    /// asked of well-formed text.
    pub fn is_syntax(&self) -> bool {
        use ErrorKind as K;
        matches!(
            self,
            K::Empty { .. }
                | K::EmptyNote
                | K::UnexpectedChar { .. }
                | K::Expected { .. }
                | K::Unclosed { .. }
                | K::MissingOperator { .. }
                | K::HexLiteral { .. }
                | K::TwoDecimalPoints
                | K::ExponentWithoutDigits { .. }
                | K::NumberTooLarge { .. }
                | K::DivisionByZero { .. }
                | K::TooDeep { .. }
                | K::Arity { .. }
                | K::ConditionNotComparison { .. }
                | K::DefinitionNotExpression
                | K::SeveralStatements
                | K::IndexedBuiltin { .. }
                | K::IndexedCall
                | K::PrimeWithoutCall { .. }
                | K::NoParentheses { .. }
                | K::NotCalled { .. }
                | K::ConstantCalled { .. }
                | K::PrimeOnBuiltin { .. }
                | K::FunctionArity { .. }
                | K::DerivativeNotation { .. }
                | K::PowerOfFunction { .. }
                | K::LogBaseSecond { .. }
                | K::PrimeOnFunction { .. }
                | K::BadParameter { .. }
                | K::RepeatedParameter { .. }
                | K::NoSuchArgument { .. }
                | K::AmbiguousPrime { .. }
                | K::UnknownFunction { .. }
        )
    }

    /// The suggestion printed under the caret as `= help: ...`.
    pub fn help(&self) -> Option<String> {
        use ErrorKind as K;
        let s = |s: &str| Some(s.to_owned());
        match self {
            K::Empty { comments: true } => s("there is no expression after the comments"),
            K::Empty { comments: false } => s("give an expression, such as x^2 or p = e^z/(1+e^z)"),
            K::EmptyNote => s(
                "a note needs math: definitions such as `p = e^z/(1+e^z)`, expressions or requests such as `diff p wrt z`",
            ),
            K::UnexpectedChar(c) => s(char_help(*c)),
            K::NoCheckPoint => s(
                "the check samples points in floating point, where a value past 1e308 (e^(cosh(10)) is e^11013) overflows; the derivative is printed without --check",
            ),
            K::ReplCommand { .. } => s("the commands are :steps on, :steps off, :defs, :help and :quit"),
            K::ReplPlot => s("draw it with `deriv plot EXPR -o FILE.svg`, or with a `plot` line in a note"),
            K::Expected { clue, .. } => clue.as_ref().map(Clue::to_string),
            K::Unclosed { column } => Some(format!("add the missing `)`, or remove the `(` at column {column}")),
            K::MissingOperator { found, operand } if found == "(" => {
                Some(format!("write {operand}*(...) to multiply"))
            }
            K::MissingOperator { found, operand } => Some(format!("write {operand}*{found} to multiply")),
            K::HexLiteral { digits } => Some(format!("there are no hex literals; for a product write 0*{digits}")),
            K::TwoDecimalPoints => s("write one number, such as 1.25, or put an operator between two"),
            K::ExponentWithoutDigits { mantissa: a } => Some(format!("write {a}e2 for {a}*10^2, or {a}*e for a product")),
            K::DivisionByZero(why) => Some(match why {
                ZeroDenominator::Zero => "a denominator that is exactly 0 has no value".to_owned(),
                ZeroDenominator::ZeroValued(written) => {
                    format!("`{written}` is 0, and a denominator that is exactly 0 has no value")
                }
                ZeroDenominator::NegativePowerOfZero => "0 to a negative power divides by zero".to_owned(),
                ZeroDenominator::LogBaseOne => "the logarithm to base 1 divides by ln(1) = 0".to_owned(),
                ZeroDenominator::ZeroName => {
                    "a name defined as 0, or an argument 0 of a defined function, stands in a denominator".to_owned()
                }
            }),
            K::TooDeep { nesting, .. } => Some(match nesting {
                Nesting::Parser => "deriv reads parentheses, calls, signs and powers nested up to this depth".to_owned(),
                Nesting::Inlined => "the definitions, inlined, nest deeper than deriv works".to_owned(),
                Nesting::Definition { name, depth } => {
                    format!("`{name}`, with the definitions it uses inlined, nests {depth} levels deep")
                }
            }),
            K::Arity { name, takes: Takes::One, .. } => Some(format!("write {name}(x); to multiply, write {name}(x)*y")),
            K::Arity { takes: Takes::Branches, .. } => {
                s("write if(condition, value, ..., otherwise): pairs of a condition and its value, then the value otherwise")
            }
            K::Arity { takes: Takes::Three, .. } => s("write clamp(x, lo, hi)"),
            K::ConditionNotComparison { found } => Some(format!(
                "a condition is a comparison, such as {found} > 0 or {found} != 0, or a product of comparisons (all hold)"
            )),
            K::Arity { name, takes: Takes::TwoOrMore, .. } => Some(format!("write {name}(a, b, ...)")),
            K::Arity { takes: Takes::OneOrTwo, .. } => {
                s("log(x) is the natural logarithm, log(b, x) the logarithm to base b")
            }
            K::IndexedBuiltin { .. } => s("indices go on variables, as in x[j]"),
            K::IndexedCall => s("an element x[j] is a value: write x[j]*(...) to multiply"),
            K::PrimeWithoutCall { .. } => s("primes mark derivatives of functions, as in g'(x)"),
            K::NoParentheses { name, argument } => Some(format!("write {name}({argument})")),
            K::NotCalled { name } => Some(format!("write {name}(x)")),
            K::ConstantCalled { name } if name == "e" => {
                s("write e^(...) for the exponential, or e*(...) for a product")
            }
            K::ConstantCalled { name } => Some(format!("write {name}*(...) for a product")),
            K::PrimeOnBuiltin { .. } => s("use `deriv diff` to differentiate a built-in function"),
            K::NoSuchArgument { arguments, .. } => Some(format!("argument positions run from 1 to {arguments}")),
            K::AmbiguousPrime { name, .. } => {
                Some(format!("write {name}'[1](...) for the derivative in the first argument"))
            }
            K::UnknownFunction { name, suggestion } => {
                Some(format!("did you mean `{suggestion}`? To keep `{name}`, define it: {name}(u) = ..."))
            }
            K::UsedTarget { meant: Some(meant), .. } => {
                Some(format!("the last statement is the target: to take `{meant}`, end with it, as in `...; {meant}`"))
            }
            K::UsedTarget { meant: None, .. } => {
                s("the last statement is the target: end with the name you mean, as in `...; name`")
            }
            K::StrayEquals => s("one `=` per definition; separate definitions with `;` or a new line"),
            K::NamelessDefinition => s("write name = expression"),
            K::RedefinedConstant { name } => Some(format!("choose another name, such as {name}0")),
            K::RedefinedFunction { name } => Some(format!("choose another name, such as my_{name}")),
            K::BareExpression => s("name it: `y = ...`"),
            K::IndexedHessian { .. } => s("as in --wrt 'z[j],z[l]' for its entry [j, l], or --wrt 'z[j]' for [j, j]"),
            K::IndexedOrder { .. } => s("as in --wrt 'z[j]' --order 2, or --wrt 'z[j],z[l]' for z[j], then z[l]"),
            K::Cycle { names } if names.len() == 2 => {
                s("a name stands for its definition, so the definition cannot use it: rename one of them")
            }
            K::Cycle { .. } => s("a definition may use only names that do not depend on it"),
            K::InlinedIndex { .. } => {
                s("an index is a name such as j or a whole number; a defined name or a function's parameter in x[...] stands for what it is given, so give the index a name of its own")
            }
            K::LogBaseSecond { argument, base } => {
                let named = format!("log{base}");
                let or = if crate::func::is_builtin(&named) { format!(" or {named}({argument})") } else { String::new() };
                Some(format!(
                    "log takes the base first (SymPy's log(x, b) is the other way round): for the base-{base} logarithm of {argument} write log({base}, {argument}){or}"
                ))
            }
            K::PowerOfFunction { name, power, argument } if power == "-1" => {
                let inverse = format!("a{name}");
                Some(if crate::func::is_builtin(&inverse) {
                    format!("write {inverse}({argument}) for the inverse function, 1/{name}({argument}) for the reciprocal")
                } else {
                    format!("write 1/{name}({argument}) for the reciprocal")
                })
            }
            K::PowerOfFunction { name, power, argument } => Some(format!("write {name}({argument})^{power}")),
            K::DerivativeNotation { var, order, body } => {
                Some(if order == "1" {
                    format!(
                        "an expression cannot take a derivative: run deriv diff '{body}' --wrt {var} (in a note: diff {body} wrt {var})"
                    )
                } else {
                    format!("an expression cannot take a derivative: run deriv diff '{body}' --wrt {var} --order {order}")
                })
            }
            K::RecursiveFunction { .. } => {
                s("a call is replaced by the function's body, so a function cannot call itself, not even through another")
            }
            K::FunctionArity { name, takes, .. } => {
                let s = if *takes == 1 { "" } else { "s" };
                Some(format!("`{name}` is defined with {takes} parameter{s}: give one argument for each"))
            }
            K::PrimeOnFunction { name } => {
                Some(format!("`{name}` stands for its definition: use `deriv diff` to differentiate {name}(...)"))
            }
            K::BadParameter { .. } => s("a function is defined with names for its parameters: f(a, b) = a*b"),
            K::RepeatedParameter { .. } => s("give each parameter its own name"),
            K::Redefined { .. } => s("each name is defined once: rename one of the definitions"),
            K::BadRange { .. } => s("write the range as A..B, as -6..6 or -pi..pi"),
            K::PlotVariables { .. } => s("plot them one at a time, or pass --wrt with the variable they share"),
            K::NothingToPlot { .. } => s("choose a range where it is defined (--range A..B)"),
            K::PlotFile { .. } => s("charts are SVG: name the file FILE.svg, or FILE.csv for the sampled points"),
            K::NotePlot => s("each curve is an expression, or `d/dz EXPR` for its derivative (`d^2/dz^2 EXPR` for \
                 the second); `for z in A..B` may be left out"),
            K::NoteFigures => s("write the note with -o FILE.md, or read it from a file: the figures go beside it"),
            K::PlotUnavailable => s("build deriv with the `plot` feature (on by default)"),
            K::Utf8 { .. } => s("deriv reads UTF-8 text"),
            K::Unspecialised { .. } => s(
                "give every sum's size (--size K=2), differentiate by a concrete element (z[2]), and put values \
                 (--at z[1]=0) only in variables and elements other than that one",
            ),
            K::NotFinite(_) => s("somewhere it divides by zero, leaves the domain of ln, sqrt, asin, ..., or passes \
                 the largest double (about 1.8e308)"),
            K::Limit(Exceeded::Nodes(_)) => s(
                "the expression or its derivative grows too large to write out; raise --max-nodes (0 for no limit) to try anyway",
            ),
            K::Limit(Exceeded::Time(_)) => s("raise --timeout (0 for no limit) to let it run longer"),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorKind {
    /// The message: lower-case, names in backticks, no trailing period.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind as K;
        match self {
            K::Empty { .. } | K::EmptyNote => write!(f, "empty expression"),
            K::UnexpectedChar(c) if c.is_ascii_graphic() => write!(f, "unexpected character `{c}`"),
            K::UnexpectedChar(c) => write!(f, "unexpected character U+{:04X}", *c as u32),
            K::Expected { expected, found, .. } => write!(f, "expected {expected}, found {found}"),
            K::Unclosed { column } => write!(f, "expected `)` to close `(` opened at column {column}"),
            K::MissingOperator { found, .. } => write!(f, "missing operator before `{found}`"),
            K::HexLiteral { digits } => write!(f, "missing operator before `{digits}`"),
            K::TwoDecimalPoints => write!(f, "a number has at most one decimal point"),
            K::ExponentWithoutDigits { .. } => write!(f, "the exponent of a number needs digits"),
            K::NumberTooLarge(digits) => write!(f, "number too large (exponents are limited to {digits} digits)"),
            K::DivisionByZero(_) => write!(f, "division by zero"),
            K::TooDeep { limit, .. } => write!(f, "nesting too deep (limit {limit})"),
            K::Arity { name, takes, found } => {
                let takes = match takes {
                    Takes::One => "1 argument",
                    Takes::OneOrTwo => "1 or 2 arguments",
                    Takes::Two => "2 arguments",
                    Takes::Three => "3 arguments",
                    Takes::TwoOrMore => "2 or more arguments",
                    Takes::Branches => "an odd number of arguments, at least 3",
                };
                write!(f, "`{name}` takes {takes}, found {found}")
            }
            K::ConditionNotComparison { found } => write!(f, "the condition `{found}` is not a comparison"),
            K::DefinitionNotExpression => write!(f, "expected an expression, found a definition"),
            K::SeveralStatements => write!(f, "expected one expression, found several statements"),
            K::IndexedBuiltin { name } => write!(f, "`{name}` is built in and cannot be indexed"),
            K::IndexedCall => write!(f, "an indexed name cannot be called"),
            K::PrimeWithoutCall { name } => write!(f, "a prime needs a function call: `{name}` is not called"),
            K::NoParentheses { name, .. } => write!(f, "`{name}` needs parentheses around its argument"),
            K::NotCalled { name } => write!(f, "`{name}` is a function: call it as {name}(...)"),
            K::ConstantCalled { name } => write!(f, "`{name}` is a constant, not a function"),
            K::PrimeOnBuiltin { name } => write!(f, "`{name}` is built in: primes are for abstract functions"),
            K::NoSuchArgument { name, arguments, position } => {
                let s = if *arguments == 1 { "" } else { "s" };
                write!(f, "`{name}` has {arguments} argument{s}, so there is no argument {position}")
            }
            K::AmbiguousPrime { name, arguments } => {
                write!(f, "`{name}` has {arguments} arguments: say which one the prime is for")
            }
            K::UnknownFunction { name, .. } => {
                write!(f, "`{name}` is not a built-in function, so deriv takes it as an abstract function")
            }
            K::StrayEquals => write!(f, "unexpected `=`: a definition is `name = expression`"),
            K::NamelessDefinition => write!(f, "a definition needs a name before `=`"),
            K::RedefinedConstant { name } => write!(f, "`{name}` is a built-in constant and cannot be redefined"),
            K::RedefinedFunction { name } => write!(f, "`{name}` is a built-in function and cannot be redefined"),
            K::IndexNotName => write!(f, "an indexed definition takes index names, as in z[k] = ..."),
            K::InlinedIndex { element, index } => {
                write!(f, "`{index}` cannot be an index: putting in the definitions makes `{element}`")
            }
            K::UsedTarget { name, user, .. } => {
                write!(f, "`{name}` is the last statement, so it is the target, though `{user}` uses it")
            }
            K::BareExpression => write!(f, "only the last statement may be a bare expression"),
            K::Cycle { names } if names.len() == 2 => write!(f, "`{}` is defined in terms of itself", names[0]),
            K::Cycle { names } => write!(f, "definitions form a cycle: {}", names.join(" -> ")),
            K::LogBaseSecond { argument, base } => {
                write!(f, "log({argument}, {base}) is the logarithm of {base} to the base {argument}")
            }
            K::PowerOfFunction { name, power, .. } => {
                write!(f, "a power goes after the call: `{name}^{power}(...)` is not read")
            }
            K::DerivativeNotation { var, order, .. } if order == "1" => {
                write!(f, "d/d{var}(...) is derivative notation, which deriv does not read in an expression")
            }
            K::DerivativeNotation { var, order, .. } => write!(
                f,
                "d^{order}/d{var}^{order}(...) is derivative notation, which deriv does not read in an expression"
            ),
            K::RecursiveFunction { names } if names.len() == 2 => write!(f, "`{}` calls itself", names[0]),
            K::RecursiveFunction { names } => write!(f, "functions call each other in a cycle: {}", names.join(" -> ")),
            K::FunctionArity { name, takes, found } => {
                let plural = |n: usize| if n == 1 { "" } else { "s" };
                write!(f, "`{name}` takes {takes} argument{}, found {found}", plural(*takes))
            }
            K::PrimeOnFunction { name } => {
                write!(f, "`{name}` is a defined function: primes are for abstract functions")
            }
            K::BadParameter { found } => write!(f, "expected a parameter name, found {found}"),
            K::RepeatedParameter { name } => write!(f, "the parameter `{name}` is named twice"),
            K::Redefined { name } => write!(f, "`{name}` is already defined"),
            K::EmptyVariable => write!(f, "the variable to differentiate by is empty"),
            K::NumberVariable { found } => write!(f, "cannot differentiate with respect to a number (`{found}`)"),
            K::ConstantVariable { name } => write!(f, "cannot differentiate with respect to the constant `{name}`"),
            K::NotAVariable { found } => {
                write!(f, "`{found}` is not a variable: differentiate with respect to a name such as x")
            }
            K::NotAVariableName { found } => write!(f, "`{found}` is not a variable name"),
            K::BadSizes { found } => write!(f, "--size takes NAME=N pairs, as in K=3,M=2 (found `{found}`)"),
            K::LetNotDefinition => write!(f, "--let takes one definition, NAME=EXPRESSION"),
            K::FactNotEquation => write!(f, "--assume takes an equation, LHS = RHS"),
            K::NoteRequest { verb } => write!(f, "write `{verb} SUBJECT wrt VAR`"),
            K::ReplCommand { found } => write!(f, "no command `:{found}`"),
            K::ReplPlot => write!(f, "the REPL cannot show a chart"),
            K::NoExpression => write!(f, "no expression: pass EXPR, `-` for stdin, or --file FILE"),
            K::Timeout(found) => write!(f, "--timeout takes a number of seconds, 0 for none (found {found})"),
            K::DefinedVariable { name, definition: Some(d) } => {
                write!(f, "cannot differentiate with respect to `{name}`: it is defined as {d}")
            }
            K::DefinedVariable { name, definition: None } => {
                write!(f, "cannot differentiate with respect to `{name}`: it is defined")
            }
            K::NoVariable => write!(f, "the expression has no variable: pass --wrt VAR"),
            K::SeveralVariables { names } => {
                write!(f, "{} free variables ({}): pass --wrt to choose one", names.len(), names.join(", "))
            }
            K::IndexedUnsupported { option } => write!(f, "with an indexed --wrt, {option} is not supported yet"),
            K::IndexedOrder { order, elements } => {
                write!(f, "--order {order} with {elements} elements in --wrt: give one element, or one per order")
            }
            K::Unspecialised { element } => {
                write!(f, "cannot specialise at `{element}`: with --at, every index and every sum must be concrete")
            }
            K::IndexedHessian { elements } => {
                write!(f, "a Hessian in index notation is by two elements, not {elements}")
            }
            K::IndexNotInteger { index } => write!(f, "the index `{index}` is not an integer"),
            K::StepsOrder => write!(f, "--steps shows first derivatives: leave out --order"),
            K::StepsAssume => write!(f, "--steps does not use --assume: leave out one of them"),
            K::PointNotPair => write!(f, "expected VAR=VALUE"),
            K::BadValue { name, cause } => write!(f, "bad value for `{name}`: {cause}"),
            K::InfiniteValue { name } => write!(f, "the value of `{name}` is not a finite number"),
            K::BadPointsLine { line, why } => write!(f, "line {line} of the points: {why}"),
            K::BadRange { range } => {
                write!(f, "`{range}` is not a range A..B with A < B, finite and wide enough to sample")
            }
            K::PlotVariables { first, other } => {
                write!(f, "the expressions are plotted against different variables, `{first}` and `{other}`")
            }
            K::NothingToPlot { curve, from, to } => {
                write!(f, "`{curve}` has no finite value between {from} and {to}")
            }
            K::PlotFile { path } => write!(f, "cannot write a chart as `{path}`"),
            K::NotePlot => write!(f, "write `plot F, d/dz F for z in A..B`"),
            K::NoteFigures => write!(f, "a Markdown note with plots writes its figures beside it"),
            K::PlotUnavailable => write!(f, "this build of deriv draws no charts"),
            K::RepeatedValue { name } => write!(f, "`{name}` is given twice"),
            K::RepeatedVariable { name } => write!(f, "`{name}` is given twice in --wrt"),
            K::NotFunctionName { name } => write!(f, "`{name}` is not a function name: use letters, digits and `_`"),
            K::ReservedName { name, language } => {
                write!(f, "`{name}` is reserved in {language}: choose another --name")
            }
            K::NoCodegenVariable => write!(f, "codegen needs at least one variable in --wrt"),
            K::NotGenerable(what) => {
                write!(f, "cannot generate code for ")?;
                match what {
                    Ungenerable::Abstract(name) => write!(f, "the abstract function `{name}`")?,
                    Ungenerable::Indexed(name) => write!(f, "the indexed variable `{name}`")?,
                    Ungenerable::Call(name) => write!(f, "`{name}`")?,
                }
                write!(f, ": codegen takes expressions of variables and built-in functions")
            }
            K::Utf8 { byte, offset } => write!(f, "input is not valid UTF-8 (byte 0x{byte:02X} at offset {offset})"),
            K::NoValue { name } => write!(f, "no value for `{name}`: give one with --at {name}=..."),
            K::SumTooLong { index } => write!(f, "the sum over `{index}` has too many terms to evaluate"),
            K::AbstractValue { name } => {
                write!(f, "cannot evaluate the abstract function `{name}`: define it with --let")
            }
            K::NotFinite(v) => write!(f, "the value is not a finite real number (it evaluates to {v})"),
            K::NoCheckPoint => {
                write!(f, "no point found where the expression and its derivative are both defined and finite")
            }
            K::CheckFailed { max_error, points, tolerance } => write!(
                f,
                "check failed: max error {max_error:.3e} at {points} points exceeds the tolerance {tolerance:e}"
            ),
            K::Io { what: Source::Stdin, cause } => write!(f, "cannot read stdin: {}", cause.get()),
            K::Io { what: Source::Written(path), cause } => {
                write!(f, "cannot write `{}`: {}", path.display(), cause.get())
            }
            K::Io { what: Source::File(path), cause } => {
                write!(f, "cannot read `{}`: {}", path.display(), cause.get())
            }
            K::Limit(Exceeded::Nodes(n)) => {
                write!(f, "gave up: the work needs more than {n} expression nodes (--max-nodes)")
            }
            K::Limit(Exceeded::Time(t)) => {
                write!(f, "gave up: the work takes longer than {} s (--timeout)", t.as_secs_f64())
            }
            K::Internal => write!(f, "internal failure (please report this input)"),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Expression => write!(f, "an expression"),
            Expected::ExpressionAfterPrime => write!(f, "an expression (a prime follows a function name)"),
            Expected::Operator => write!(f, "an operator"),
            Expected::OperatorOrEnd => write!(f, "an operator or end of input"),
            Expected::CloseParen => write!(f, "`)`"),
            Expected::Statement => write!(f, "a statement before `;`"),
            Expected::Index => write!(f, "an index (a name such as j, or a whole number)"),
            Expected::CommaOrBracket => write!(f, "`,` or `]`"),
            Expected::CommaOrClose => write!(f, "`,` or `)`"),
            Expected::SumIndex => write!(f, "the index to sum over, as in sum(k, x[k])"),
            Expected::Bounds => write!(f, "`..` between the bounds, as in k=1..K"),
            Expected::Summand => write!(f, "`,` before the summand"),
            Expected::Position => write!(f, "an argument position (1, 2, ...)"),
            Expected::Argument(name) => write!(f, "an argument for `{name}`"),
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::EndOfInput => write!(f, "end of input"),
            Found::EndOfLine => write!(f, "end of line"),
            Found::Token(t) => write!(f, "`{t}`"),
            Found::UnmatchedClose => write!(f, "unmatched `)`"),
            Found::CommaOutsideCall => write!(f, "`,` outside a function call"),
        }
    }
}

impl fmt::Display for Clue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clue::Grouping => write!(f, "use ( ) for grouping"),
            Clue::DoubleStar => write!(f, "use ^ for powers"),
            Clue::PowerOperator => write!(f, "use ^ for powers, as in x^2"),
            Clue::EmptyParentheses => write!(f, "empty parentheses: put an expression inside, or remove them"),
            Clue::OperandAfter(op) => write!(f, "`{op}` needs an operand after it"),
            Clue::TwoOperators => write!(f, "two operators in a row: remove one, or put an operand between them"),
            Clue::OperandBefore(op) => write!(f, "`{op}` needs an operand before it"),
            Clue::OperandBeforeClose => write!(f, "an operand is missing before `)`"),
            Clue::ExtraSemicolon => write!(f, "remove the extra `;`"),
            Clue::UnmatchedClose => write!(f, "remove it, or add the `(` it closes"),
            Clue::CommaOutsideCall => {
                write!(f, "commas separate the arguments of a call, as in log(2, x); `;` separates statements")
            }
            Clue::EmptyCall(name) => write!(f, "write {name}(x)"),
            Clue::ChainedComparison => write!(f, "comparisons do not chain: write (a < b)*(b < c) for both"),
            Clue::RowSeparator => write!(f, "rows are separated by `;`, as in `p1; p2; p3`"),
        }
    }
}

/// The help for a character the language does not use.
fn char_help(c: char) -> &'static str {
    match c {
        '|' => "write abs(x) for an absolute value",
        '\u{2212}' => "U+2212 is a minus sign: use -",
        '\u{00D7}' | '\u{22C5}' | '\u{00B7}' => "use * to multiply",
        '\u{00B2}' | '\u{00B3}' | '\u{00B9}' => "write powers with ^, as in x^2",
        '\u{00A0}' => "U+00A0 is a no-break space: use an ordinary space",
        '\u{200B}' => "U+200B is a zero-width space: delete it",
        '!' => "there is no factorial; deriv reads + - * / ^ and calls",
        '%' => "there is no % operator",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
            "a character that changes the text direction: delete it"
        }
        '\u{0300}'..='\u{036F}' => "a combining accent: delete it",
        '\u{FF10}'..='\u{FF19}' => "a full-width digit: use 0-9",
        c if c.is_control() => "a control character: delete it",
        _ => "deriv reads numbers, names, + - * / ^, parentheses, commas, `;` and `=`",
    }
}

/// An error: its kind, and, when it is about input, the text and the span it was found
/// at. Boxed so that `Result`s stay small.
#[derive(Clone, Debug, PartialEq)]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug, PartialEq)]
struct Inner {
    kind: ErrorKind,
    span: Option<Span>,
    input: Option<String>,
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Io { cause, .. } => Some(cause.get()),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl Error {
    /// An error with no position.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner { kind, span: None, input: None }))
    }

    /// An error at `span` of `input`.
    pub fn at(kind: ErrorKind, span: Span, input: &str) -> Error {
        Error(Box::new(Inner { kind, span: Some(span), input: Some(input.to_owned()) }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// What went wrong, without the position.
    pub fn into_kind(self) -> ErrorKind {
        self.0.kind
    }

    /// Where, in [`input`](Error::input).
    pub fn span(&self) -> Option<Span> {
        self.0.span
    }

    /// The text the span points into.
    pub fn input(&self) -> Option<&str> {
        self.0.input.as_deref()
    }

    /// The suggestion printed after the caret as `= help: ...`.
    pub fn help(&self) -> Option<String> {
        self.0.kind.help()
    }

    /// The error found in a piece of text that was parsed on its own, where the piece
    /// starts at byte `from`, moved to `input`, where the piece starts at byte `to`.
    /// An error outside the piece (`span` before `from`) keeps no position.
    pub fn relocate(self, from: usize, to: usize, input: &str) -> Error {
        let mut d = *self.0;
        d.span = d.span.filter(|s| s.start >= from).map(|s| Span::new(s.start - from + to, s.end - from + to));
        d.input = d.span.map(|_| input.to_owned());
        Error(Box::new(d))
    }

    /// The same error with its kind changed by `f`.
    pub(crate) fn map_kind(mut self, f: impl FnOnce(ErrorKind) -> ErrorKind) -> Error {
        let kind = std::mem::replace(&mut self.0.kind, ErrorKind::Internal);
        self.0.kind = f(kind);
        self
    }

    /// The exit code the command line uses: 2 for bad input, 1 for other failures.
    pub fn exit_code(&self) -> u8 {
        match self.0.kind {
            ErrorKind::NoCheckPoint | ErrorKind::CheckFailed { .. } | ErrorKind::Io { .. } | ErrorKind::Internal => 1,
            _ => 2,
        }
    }

    /// The 1-based line the caret points at.
    pub fn line(&self) -> Option<usize> {
        let (span, src) = (self.0.span?, self.0.input.as_deref()?);
        Some(src[..span.start.min(src.len())].matches('\n').count() + 1)
    }

    /// The 1-based column (in Unicode scalars) the caret points at.
    pub fn column(&self) -> Option<usize> {
        Some(self.0.span?.column(self.0.input.as_deref()?))
    }

    /// The message as a warning: `warning: ...`, with the same caret and help lines.
    pub fn as_warning(&self) -> String {
        let mut out = String::new();
        let _ = self.render(&mut out, "warning", &Palette::PLAIN);
        out
    }

    /// The message as [`Display`](fmt::Display) writes it (or as [`Error::as_warning`]
    /// does when `warning`), coloured with ANSI escapes when `colour`, as rustc colours
    /// its diagnostics: the label red (a warning's yellow) and bold, the message bold,
    /// the gutter, locator and `= help` blue, the caret in the label's colour.
    pub fn styled(&self, warning: bool, colour: bool) -> String {
        let (label, mut palette) = if warning { ("warning", Palette::WARNING) } else { ("error", Palette::ERROR) };
        if !colour {
            palette = Palette::PLAIN;
        }
        let mut out = String::new();
        let _ = self.render(&mut out, label, &palette);
        out
    }

    fn render(&self, f: &mut impl fmt::Write, label: &str, p: &Palette) -> fmt::Result {
        let Palette { label: l, bold, accent: a, reset: r } = p;
        write!(f, "{l}{label}{r}{bold}: {}{r}", self.0.kind)?;
        if let (Some(span), Some(src)) = (self.0.span, self.0.input.as_deref()) {
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
            let col = span.column(src);
            write!(f, "\n{:gutter$}{a}-->{r} line {line_no}, column {col}", "")?;
            write!(
                f,
                "\n{:gutter$} {a}|{r}\n{a}{line_no} |{r} {shown}\n{:gutter$} {a}|{r} {}{l}{}{r}",
                "",
                "",
                " ".repeat(caret_at),
                "^".repeat(width)
            )?;
        }
        if let Some(help) = self.help() {
            write!(f, "\n  {a}={r} {bold}help{r}: {help}")?;
        }
        Ok(())
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

/// The ANSI escapes [`Error::styled`] writes around the parts of a message (all empty
/// for plain text).
struct Palette {
    label: &'static str,
    bold: &'static str,
    accent: &'static str,
    reset: &'static str,
}

impl Palette {
    const PLAIN: Palette = Palette { label: "", bold: "", accent: "", reset: "" };
    const ERROR: Palette = Palette { label: "\x1b[1;31m", bold: "\x1b[1m", accent: "\x1b[1;34m", reset: "\x1b[0m" };
    const WARNING: Palette = Palette { label: "\x1b[1;33m", ..Palette::ERROR };
}

impl fmt::Display for Error {
    /// rustc's layout: `error: message`, the locator, the input line echoed (control
    /// and direction-changing characters escaped), the caret under the span, and the
    /// help line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, "error", &Palette::PLAIN)
    }
}

/// A result with deriv's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_cause() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::new(ErrorKind::io(Source::File("a.txt".into()), cause));
        assert_eq!(e.to_string(), "error: cannot read `a.txt`: no such file");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no such file"));
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn the_help_comes_from_the_kind() {
        let e = Error::at(ErrorKind::Unclosed { column: 1 }, Span::at(2), "(x");
        assert_eq!(e.help().as_deref(), Some("add the missing `)`, or remove the `(` at column 1"));
        assert!(e.to_string().ends_with("= help: add the missing `)`, or remove the `(` at column 1"));
        let comma = ErrorKind::Expected {
            expected: Expected::Operator,
            found: Found::CommaOutsideCall,
            clue: Some(Clue::CommaOutsideCall),
        };
        assert_eq!(comma.in_rows().help().as_deref(), Some("rows are separated by `;`, as in `p1; p2; p3`"));
    }

    #[test]
    fn the_kinds_for_diff_rs_say_what_it_says_now() {
        use crate::diff::parse_sizes;
        use crate::parse::check_variable;
        let says = |e: Error| e.into_kind().to_string();
        let found = |s: &str| s.to_owned();
        let cases = [
            (check_variable(" ").map(|_| ()), ErrorKind::EmptyVariable),
            (check_variable("2").map(|_| ()), ErrorKind::NumberVariable { found: found("2") }),
            (check_variable("pi").map(|_| ()), ErrorKind::ConstantVariable { name: found("pi") }),
            (check_variable("x+y").map(|_| ()), ErrorKind::NotAVariable { found: found("x+y") }),
            (check_variable("(x").map(|_| ()), ErrorKind::NotAVariableName { found: found("(x") }),
            (parse_sizes("K").map(|_| ()), ErrorKind::BadSizes { found: found("K") }),
        ];
        for (res, kind) in cases {
            assert_eq!(res.err().map(says), Some(kind.to_string()));
        }
    }
}
