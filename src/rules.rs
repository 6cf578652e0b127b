//! The calculus rules, written once: for a node, its children, the derivative of the node
//! by each child (∂node/∂child), and the [`Rule`] that names it.
//!
//! Forward mode ([`diff`](mod@crate::diff)) sums `∂node/∂child * d(child)` over the
//! children; reverse mode ([`crate::reverse`]) hands `adjoint * ∂node/∂child` down to each
//! child; the steps of `--steps` ([`derivation`](mod@crate::derivation)) write the
//! outermost rule with the inner derivatives unevaluated and label it with the rule's
//! `Display`. A built-in's own derivative is the `derivative` column of its row
//! ([`Builtin::def`]: deriv syntax over `u`, parsed once), an abstract function's is a
//! partial (`g'(z)`, `f'[1](x, y)`). Quotients have no row: `a/b` is `a*b^-1`, so the
//! product and power rules cover them (only the steps write a quotient rule). Index
//! notation (`sum`, `prod`, `x[j]`, `delta`) has no row either: its derivative depends on
//! the target (deltas, renamed indices), so forward mode handles it and reverse mode
//! declines it. Nothing here walks an expression: each question is about one node, so the
//! callers' walks (memoized per node) stay linear in the DAG.

use std::fmt;

use crate::expr::{self, AbstractFn, Cmp, Expr, Func, Node, Sym};
use crate::func::{Builtin, RowMemo};
use crate::parse;

/// An entry of the function table written in deriv syntax (a derivative, an
/// expansion), parsed; `None` where the row has none. A table that does not parse is a
/// bug: it panics.
pub(crate) fn parsed_entry(f: Builtin, text: Option<&'static str>) -> Option<Expr> {
    text.map(|text| {
        parse::parse_expr(text)
            .unwrap_or_else(|e| panic!("the table's entry `{text}` for {} does not parse: {e}", f.name()))
    })
}

thread_local! {
    /// The built-ins' derivatives, parsed as they are first used.
    static DERIVATIVES: RowMemo<Option<Expr>> = RowMemo::new();
}

thread_local! {
    /// The variable of the table's columns.
    static U: Sym = Sym::new("u");
}

/// The variable the table's columns are written in (`u` of `cos(u)`), at which
/// identities of the table are proved once for every argument.
pub(crate) fn table_variable() -> Sym {
    U.with(Sym::clone)
}

/// The derivative of the built-in `f` at `arg`.
pub fn builtin_derivative(f: Builtin, arg: &Expr) -> Expr {
    let rule = DERIVATIVES.with(|r| r.get(f, |f| parsed_entry(f, Some(f.def().derivative))));
    let rule = rule.expect("every row has a derivative");
    U.with(|u| expr::substitute_small(&rule, u, arg))
}

/// The partial derivative of the abstract function `f` by its argument `i`, at `args`:
/// `g'(z)` for one argument, `f'[1,2](x, y)` for several.
pub fn abstract_partial(f: &AbstractFn, i: usize, args: &[Expr]) -> Expr {
    let mut partials = f.partials.clone();
    partials.push(i as u32);
    partials.sort_unstable();
    Expr::call(Func::Abstract(AbstractFn { name: f.name.clone(), partials }), args.to_vec())
}

/// A rule of differentiation; its `Display` is the label `--steps` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `d(a + b) = da + db`.
    Sum,
    /// `d(a*b) = da*b + a*db`.
    Product,
    /// `d(c*u) = c*du`: a product with one factor that varies (a step's view of
    /// [`Rule::Product`]).
    ConstantFactor,
    /// `d(N/D) = (dN*D - N*dD)/D^2`: a product whose denominator varies (a step's view of
    /// [`Rule::Product`] and [`Rule::Power`]).
    Quotient,
    /// `d(b^n) = n*b^(n - 1)*db`, the exponent a constant.
    Power,
    /// `d(b^p) = b^p*(dp*ln(b) + p*db/b)`, the exponent not a constant.
    Logarithmic,
    /// `d f(u) = f'(u)*du`, `u` not the variable itself (a step's view of
    /// [`Rule::Function`]).
    Chain,
    /// A function's own derivative, `f'(u)`: a built-in's from its row
    /// ([`Builtin::def`]), an abstract function's partial. Holds the function's name.
    Function(Sym),
    /// The derivative of a variable by itself (1) or by another variable (0).
    Variable,
    /// The derivative of what does not vary (0): a number, `e`, `pi`, a delta, anything
    /// free of the variable.
    Constant,
    /// `d x[i]/d x[j] = delta(i, j)`: an element of an indexed variable by an element.
    Element,
    /// `d sum(k, f) = sum(k, df)`: a sum over an index, term by term.
    IndexedSum,
    /// `sum(k, delta(k, j)*f(k)) = f(j)`: a sum over a Kronecker delta collapses.
    DeltaSum,
    /// The derivative of a defined name, worked out above. Holds the name.
    Name(Sym),
    /// A fact given with `--assume`, used as written. Holds the fact, `LHS = RHS`.
    Assume(String),
    /// `d if(c, a, b) = if(c, da, db)`: branch by branch (a comparison is constant where
    /// it is defined; `max` and `min` are the branch of the extreme argument).
    Piecewise,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Sum => f.write_str("sum rule"),
            Rule::Product => f.write_str("product rule"),
            Rule::ConstantFactor => f.write_str("constant factor"),
            Rule::Quotient => f.write_str("quotient rule"),
            Rule::Power => f.write_str("power rule"),
            Rule::Logarithmic => f.write_str("logarithmic differentiation"),
            Rule::Chain => f.write_str("chain rule"),
            Rule::Function(name) => write!(f, "derivative of {name}"),
            Rule::Variable => f.write_str("derivative of a variable"),
            Rule::Constant => f.write_str("derivative of a constant"),
            Rule::Element => f.write_str("derivative of an element"),
            Rule::IndexedSum => f.write_str("sum rule over an index"),
            Rule::DeltaSum => f.write_str("sum over a Kronecker delta"),
            Rule::Name(name) => write!(f, "derivative of {name} (above)"),
            Rule::Assume(fact) => write!(f, "assume {fact}"),
            Rule::Piecewise => f.write_str("piecewise rule"),
        }
    }
}

/// The rule that differentiates `e` as a whole: the rule of its row, the rule of index
/// notation ([`Rule::Element`], [`Rule::IndexedSum`]), [`Rule::Variable`] for a variable,
/// or [`Rule::Constant`] for a number, a constant or a delta.
pub fn rule_of(e: &Expr) -> Rule {
    match e.node() {
        Node::Num(_) | Node::Const(_) | Node::Call(Func::Delta, _) => Rule::Constant,
        Node::Call(Func::Indexed(_), _) => Rule::Element,
        Node::Call(Func::Sum(_), _) => Rule::IndexedSum,
        Node::Call(Func::Cmp(_) | Func::If | Func::Max | Func::Min, _) => Rule::Piecewise,
        _ => Local::of(e).map_or(Rule::Variable, |l| l.rule()),
    }
}

/// `∂f(args)/∂args[i]` for a comparison (0: it is constant wherever it is defined), an
/// `if` (1 on the branch whose value `args[i]` is, 0 elsewhere, 0 by a condition), a
/// `max` or `min` (1 where `args[i]` is the extreme argument, the first at a tie, as
/// `diff` and evaluation take it).
fn piecewise_partial(f: &Func, i: usize, args: &[Expr]) -> Expr {
    let last = args.len() - 1;
    match f {
        Func::If if i == last || i % 2 == 1 => {
            let mut ind: Vec<Expr> = args
                .iter()
                .enumerate()
                .map(|(j, a)| if j % 2 == 0 && j < last { a.clone() } else { Expr::int(i64::from(j == i)) })
                .collect();
            ind.truncate(args.len());
            Expr::piecewise(ind)
        }
        Func::Max | Func::Min => {
            // For max: a_i beats every earlier argument and is at least every later one.
            let beats = |a: &Expr, b: &Expr, strict: bool| {
                let (x, y) = if *f == Func::Max { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
                Expr::compare(if strict { Cmp::Gt } else { Cmp::Ge }, x, y)
            };
            Expr::mul(
                args.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, a)| beats(&args[i], a, j < i))
                    .collect::<Vec<_>>(),
            )
        }
        _ => Expr::zero(),
    }
}

/// `∂node/∂child`, in the shape the constructors need. A product is kept as its factors
/// so that the caller multiplies them and its own factor (`d(child)`, an adjoint) in one
/// product: the canonical form of a product depends on how it is grouped
/// (`(-1*(2 - 2*x))*y` is `2*y*(x - 1)`, `-1*(2 - 2*x)*y` is `-2*y*(1 - x)`).
#[derive(Clone, Debug, PartialEq)]
pub enum Partial {
    /// One: the node is a sum.
    One,
    /// One expression.
    Expr(Expr),
    /// The product of these factors, not yet multiplied.
    Product(Vec<Expr>),
    /// The factors of a canonical product but one, in its order: a canonical product
    /// already, built without sorting or grouping again (the product rule over `n`
    /// factors builds `n` of them).
    Others(Vec<Expr>),
}

impl Partial {
    /// The partial derivative as an expression.
    pub fn into_expr(self) -> Expr {
        match self {
            Partial::One => Expr::one(),
            Partial::Expr(e) => e,
            Partial::Product(fs) => Expr::mul(fs),
            Partial::Others(fs) => Expr::product_of_sorted(fs),
        }
    }

    /// The factors of the partial derivative, unmultiplied (none for [`Partial::One`]).
    pub fn into_factors(self) -> Vec<Expr> {
        match self {
            Partial::One => Vec::new(),
            Partial::Expr(e) => vec![e],
            Partial::Product(fs) | Partial::Others(fs) => fs,
        }
    }

    /// `self * d`, as one product (`d` itself for [`Partial::One`]).
    pub fn times(self, d: Expr) -> Expr {
        match self {
            Partial::One => d,
            Partial::Expr(e) => Expr::mul([e, d]),
            Partial::Product(mut fs) => {
                fs.push(d);
                Expr::mul(fs)
            }
            // A number and a sum would distribute on their own: multiplied with `d` at once.
            Partial::Others(mut fs) if expr::distributes(&fs) => {
                fs.push(d);
                Expr::mul(fs)
            }
            // Otherwise the product's one-more-factor path.
            Partial::Others(fs) => Expr::mul([Expr::product_of_sorted(fs), d]),
        }
    }
}

/// One node's row of the table: its children and the partial derivative by each.
#[derive(Clone, Copy, Debug)]
pub struct Local<'e> {
    node: &'e Expr,
    kind: Kind<'e>,
}

#[derive(Clone, Copy, Debug)]
enum Kind<'e> {
    Sum(&'e [Expr]),
    Product(&'e [Expr]),
    Power(&'e Expr, &'e Expr),
    Builtin(Builtin, &'e Expr),
    Abstract(&'e AbstractFn, &'e [Expr]),
    /// A comparison, `if`, `max` or `min`: its arguments.
    Piecewise(&'e Func, &'e [Expr]),
}

impl<'e> Local<'e> {
    /// The row for `e`; `None` for a leaf (a number, a constant, a variable) and for
    /// index notation.
    pub fn of(e: &'e Expr) -> Option<Local<'e>> {
        let kind = match e.node() {
            Node::Add(ts) => Kind::Sum(ts),
            Node::Mul(fs) => Kind::Product(fs),
            Node::Pow(b, p) => Kind::Power(b, p),
            Node::Call(Func::Builtin(f), args) => Kind::Builtin(*f, &args[0]),
            Node::Call(Func::Abstract(f), args) => Kind::Abstract(f, args),
            Node::Num(_) | Node::Const(_) | Node::Var(_) => return None,
            Node::Call(Func::Indexed(_) | Func::Sum(_) | Func::Prod(_) | Func::Delta, _) => return None,
            Node::Call(f @ (Func::Cmp(_) | Func::If | Func::Max | Func::Min), args) => Kind::Piecewise(f, args),
        };
        Some(Local { node: e, kind })
    }

    /// The node.
    pub fn node(&self) -> &'e Expr {
        self.node
    }

    /// The rule that differentiates the node.
    pub fn rule(&self) -> Rule {
        match self.kind {
            Kind::Sum(_) => Rule::Sum,
            Kind::Product(_) => Rule::Product,
            Kind::Power(_, p) if !p.has_vars() => Rule::Power,
            Kind::Power(..) => Rule::Logarithmic,
            Kind::Builtin(f, _) => Rule::Function(Sym::new(f.name())),
            Kind::Abstract(f, _) => Rule::Function(f.name.clone()),
            Kind::Piecewise(..) => Rule::Piecewise,
        }
    }

    /// How many children the node has.
    pub fn len(&self) -> usize {
        match self.kind {
            Kind::Sum(cs) | Kind::Product(cs) | Kind::Abstract(_, cs) | Kind::Piecewise(_, cs) => cs.len(),
            Kind::Power(..) => 2,
            Kind::Builtin(..) => 1,
        }
    }

    /// The child `i` (`i < len()`); for a power, 0 is the base and 1 the exponent.
    pub fn child(&self, i: usize) -> &'e Expr {
        match self.kind {
            Kind::Sum(cs) | Kind::Product(cs) | Kind::Abstract(_, cs) | Kind::Piecewise(_, cs) => &cs[i],
            Kind::Power(b, p) => [b, p][i],
            Kind::Builtin(_, u) => u,
        }
    }

    /// `∂node/∂child(i)`.
    pub fn partial(&self, i: usize) -> Partial {
        match self.kind {
            Kind::Sum(_) => Partial::One,
            // d(f1*...*fn)/dfi: the other factors.
            Kind::Product(fs) => Partial::Others(expr::all_but(fs, i)),
            // d(b^p)/db = p*b^(p - 1)
            Kind::Power(b, p) if i == 0 => {
                Partial::Product(vec![p.clone(), Expr::pow(b.clone(), Expr::minus(p.clone(), Expr::one()))])
            }
            // d(b^p)/dp = b^p*ln(b)
            Kind::Power(b, _) => Partial::Product(vec![self.node.clone(), Expr::ln(b.clone())]),
            Kind::Builtin(f, u) => Partial::Expr(builtin_derivative(f, u)),
            Kind::Abstract(f, args) => Partial::Expr(abstract_partial(f, i, args)),
            Kind::Piecewise(f, args) => Partial::Expr(piecewise_partial(f, i, args)),
        }
    }

    /// `∂ln(node)/∂child(i)` for a power, `None` for the other rows: `p/b` by the base,
    /// `ln(b)` by the exponent. Where both vary, `d(b^p) = b^p*(dp*ln(b) + p*db/b)`
    /// (logarithmic differentiation) is how forward mode writes the derivative.
    pub fn log_partial(&self, i: usize) -> Option<Partial> {
        match self.kind {
            Kind::Power(b, p) if i == 0 => Some(Partial::Product(vec![p.clone(), Expr::pow(b.clone(), Expr::int(-1))])),
            Kind::Power(b, _) => Some(Partial::Expr(Expr::ln(b.clone()))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::mixed_error;
    use crate::eval::{eval_dual, eval_with, Env, Model};

    /// A row at a variable, renamed node by node (`expr::substitute_small`'s shortcut),
    /// is the row rebuilt through the constructors at that variable, whatever the name
    /// and wherever it sorts among others.
    #[test]
    fn a_row_at_any_variable_is_the_row_renamed() {
        let u = table_variable();
        let names = ["x", "a", "z", "zz", "x10", "A", "w_1", "t", "v", "#0", "~1"];
        let mut rows = 0;
        for f in Builtin::ALL {
            for text in [Some(f.def().derivative), f.def().expansion].into_iter().flatten() {
                let row = parsed_entry(f, Some(text)).expect("a row");
                for name in names {
                    let x = Expr::sym(crate::expr::Sym::new(name));
                    let rebuilt = crate::expr::substitute(&row, &u, &x);
                    assert_eq!(crate::expr::substitute_small(&row, &u, &x), rebuilt, "{} at {name}", f.name());
                    rows += 1;
                }
            }
        }
        assert!(rows > 300, "only {rows} rows instantiated");
    }

    /// Every row's derivative and expansion parse (the columns are parsed row by row as
    /// they are used, so a bad row would otherwise wait for its first use).
    #[test]
    fn every_row_of_the_parsed_columns_parses() {
        let derivatives: RowMemo<Option<Expr>> = RowMemo::new();
        let derivative = |f| derivatives.get(f, |f: Builtin| parsed_entry(f, Some(f.def().derivative)));
        for f in Builtin::ALL {
            assert!(derivative(f).is_some(), "{}", f.name());
            assert_eq!(parsed_entry(f, f.def().expansion).is_some(), f.def().expansion.is_some(), "{}", f.name());
            // The second read is the first one's.
            assert_eq!(derivative(f), derivative(f));
        }
    }

    fn parsed(src: &str) -> Expr {
        parse::parse_expr(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// Every kind of row, and every built-in: the sum of ∂node/∂child * d(child) at a
    /// point is the node's derivative by dual numbers (the hand-written slopes of
    /// the rows, an independent witness).
    #[test]
    fn partials_agree_with_dual_numbers() {
        let x = Sym::new("x");
        let model = Model::new(3);
        let mut nodes: Vec<Expr> =
            ["x^3 + sin(x) + 2", "x^2*cos(x)*(1 + x)", "(1 + x^2)^(5/2)", "x^x", "2^x", "g(x^2)", "f(x, x^2)"]
                .into_iter()
                .map(parsed)
                .collect();
        for f in Builtin::ALL {
            for u in ["x/3 + 0.1", "x + 1.1"] {
                nodes.push(Expr::builtin(f, parsed(u)));
            }
        }
        let mut compared = 0;
        for node in &nodes {
            let local = Local::of(node).unwrap_or_else(|| panic!("{node} has no row"));
            for at in [0.3, 0.7, 1.6, 2.5] {
                let env: Env = [(x.clone(), at)].into_iter().collect();
                let Ok(want) = eval_dual(node, &env, &x, Some(&model)) else { continue };
                let mut got = 0.0;
                for i in 0..local.len() {
                    let partial = eval_with(&local.partial(i).into_expr(), &env, Some(&model));
                    let child = eval_dual(local.child(i), &env, &x, Some(&model));
                    got += partial.map_or(f64::NAN, |p| p * child.map_or(f64::NAN, |c| c.d));
                }
                if want.d.is_finite() && got.is_finite() {
                    assert!(mixed_error(got, want.d) < 1e-9, "d/dx {node} at {at}: {got} vs {}", want.d);
                    compared += 1;
                }
            }
        }
        assert!(compared > 2 * nodes.len(), "{compared} points for {} nodes", nodes.len());
    }

    /// A node's rule does not depend on the variable: a power is by the power rule when
    /// its exponent is a constant, by logarithmic differentiation otherwise.
    #[test]
    fn rules_of_nodes() {
        let cases = [
            ("x + y", "sum rule"),
            ("x*y", "product rule"),
            ("x/y", "product rule"),
            ("x^2", "power rule"),
            ("x^n", "logarithmic differentiation"),
            ("2^x", "logarithmic differentiation"),
            ("e^x", "derivative of exp"),
            ("tanh(x)", "derivative of tanh"),
            ("g'(x)", "derivative of g"),
            ("x", "derivative of a variable"),
            ("sum(k, x[k])", "sum rule over an index"),
            ("x[k]", "derivative of an element"),
            ("delta(k, j)", "derivative of a constant"),
            ("3", "derivative of a constant"),
            ("pi", "derivative of a constant"),
        ];
        for (src, label) in cases {
            assert_eq!(rule_of(&parsed(src)).to_string(), label, "{src}");
        }
    }

    /// A partial that is a product stays one product with the factor it is multiplied by:
    /// grouped, the sign would go into the sum first.
    #[test]
    fn a_product_partial_is_multiplied_in_one_product() {
        let (minus, s, y) = (Expr::int(-1), parsed("2 - 2*x"), parsed("y"));
        let grouped = Expr::mul([Expr::mul([minus.clone(), s.clone()]), y.clone()]);
        let flat = Partial::Product(vec![minus, s]).times(y.clone());
        assert_eq!((flat.to_string(), grouped.to_string()), ("-2*y*(1 - x)".into(), "2*y*(x - 1)".into()));
        assert_eq!(Partial::One.times(y.clone()), y);
    }
}
