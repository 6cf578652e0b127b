//! Property tests over random expressions: the derivative equals the dual-number
//! derivative, printing parses back to the same expression, the canonical form is a
//! fixed point of the constructors, and their shortcuts for two operands build what the
//! general path builds.
//!
//! Each property counts what it compared and fails if no case compared anything. A
//! failing case is shrunk and its seed saved in `proptest-regressions/props.txt`, which
//! is committed and replayed first on every run.

use deriv::check::{mixed_error, random_point, rounding_aware_error, Rng};
use deriv::eval::{eval_dual, eval_with, Model};
use deriv::expr::{substitute, Expr, Sym};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};

#[derive(Clone, Debug)]
enum Ast {
    Num(i64, i64),
    Var(&'static str),
    Add(Box<Ast>, Box<Ast>),
    Sub(Box<Ast>, Box<Ast>),
    Mul(Box<Ast>, Box<Ast>),
    Div(Box<Ast>, Box<Ast>),
    Pow(Box<Ast>, i64),
    PowVar(Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Call(&'static str, Box<Ast>),
    Abstract(Box<Ast>),
    /// `if(a > b, c, d)`.
    If(Box<Ast>, Box<Ast>, Box<Ast>, Box<Ast>),
    /// `max(a, b)`.
    Max(Box<Ast>, Box<Ast>),
}

const FUNCS: &[&str] = &[
    "sin", "cos", "exp", "tanh", "sigmoid", "softplus", "atan", "ln", "sqrt", "erf", "sinh", "abs", "relu", "cbrt",
    "acot", "expm1",
];

fn ast() -> impl Strategy<Value = Ast> {
    let leaf = prop_oneof![
        (-4i64..5, 1i64..4).prop_map(|(n, d)| Ast::Num(n, d)),
        prop_oneof![Just("x"), Just("y")].prop_map(Ast::Var),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Add(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Sub(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Mul(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Div(a.into(), b.into())),
            (inner.clone(), -3i64..4).prop_map(|(a, n)| Ast::Pow(a.into(), n)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::PowVar(a.into(), b.into())),
            inner.clone().prop_map(|a| Ast::Neg(a.into())),
            (proptest::sample::select(FUNCS), inner.clone()).prop_map(|(f, a)| Ast::Call(f, a.into())),
            inner.clone().prop_map(|a| Ast::Abstract(a.into())),
            (inner.clone(), inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c, d)| Ast::If(
                a.into(),
                b.into(),
                c.into(),
                d.into()
            )),
            (inner.clone(), inner).prop_map(|(a, b)| Ast::Max(a.into(), b.into())),
        ]
    })
}

/// The AST as fully parenthesised source text.
fn source(a: &Ast) -> String {
    match a {
        Ast::Num(n, d) => format!("({n}/{d})"),
        Ast::Var(v) => v.to_string(),
        Ast::Add(a, b) => format!("({} + {})", source(a), source(b)),
        Ast::Sub(a, b) => format!("({} - {})", source(a), source(b)),
        Ast::Mul(a, b) => format!("({} * {})", source(a), source(b)),
        Ast::Div(a, b) => format!("({} / {})", source(a), source(b)),
        Ast::Pow(a, n) => format!("({}^({n}))", source(a)),
        Ast::PowVar(a, b) => format!("({}^{})", source(a), source(b)),
        Ast::Neg(a) => format!("(-{})", source(a)),
        Ast::Call(f, a) => format!("{f}({})", source(a)),
        Ast::Abstract(a) => format!("g({})", source(a)),
        Ast::If(a, b, c, d) => format!("if({} > {}, {}, {})", source(a), source(b), source(c), source(d)),
        Ast::Max(a, b) => format!("max({}, {})", source(a), source(b)),
    }
}

/// The AST parsed; `None` when it divides by an exact zero (`x/(0/1)`, `(0/1)^(-2)`),
/// which deriv refuses as input. Any other parse error is a failure.
fn parsed(a: &Ast) -> Option<Expr> {
    match deriv::parse(&source(a)) {
        Ok(e) => Some(e),
        Err(e) if matches!(e.kind(), deriv::ErrorKind::DivisionByZero(_)) => None,
        Err(e) => panic!("{} does not parse: {e}", source(a)),
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300),
        // A failing case's seed goes to proptest-regressions/props.txt (committed), and
        // every seed there is run again first.
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel("proptest-regressions"))),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    }
}

/// Runs `property` on random expressions; it returns how many comparisons it made (points,
/// or expressions). A failure is shrunk and reported; and since a property that skipped
/// every case (all points outside the domain, every input refused) proves nothing, it
/// must have compared something.
#[track_caller]
fn check(property: impl Fn(&Ast) -> Result<usize, TestCaseError>) {
    let compared = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(config());
    if let Err(e) = runner.run(&ast(), |a| {
        compared.set(compared.get() + property(&a)?);
        Ok(())
    }) {
        panic!("{e}\n{runner}");
    }
    assert!(compared.get() > 0, "no case compared anything in {} cases", config().cases);
}

#[test]
fn derivative_matches_dual_numbers() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        // An input with an undefined constant in it (`0^(x/ln(0))`, 1 by way of ln(0) =
        // -inf) is undefined everywhere: nothing to compare.
        if has_undefined_constant(&e) {
            return Ok(0);
        }
        let x = Sym::new("x");
        let d = deriv::diff(&e, &x);
        let model = Model::new(5);
        let mut rng = Rng::new(9);
        let vars = [Sym::new("x"), Sym::new("y")];
        let mut compared = 0;
        for _ in 0..16 {
            let env = random_point(&vars, &mut rng);
            let (Ok(dual), Ok(sym)) = (eval_dual(&e, &env, &x, Some(&model)), eval_with(&d, &env, Some(&model))) else {
                continue;
            };
            // Points where the value is huge are ill-conditioned in f64 (1 - tanh(u)^2 near
            // tanh(u) = 1): they say nothing about the formula.
            if !(dual.d.is_finite() && sym.is_finite() && dual.v.is_finite()) || dual.d.abs() > 1e4 {
                continue;
            }
            let err = mixed_error(sym, dual.d);
            prop_assert!(err < 1e-7, "d/dx {} = {} at {:?}: {} vs {}", e, d, env, sym, dual.d);
            compared += 1;
        }
        Ok(compared)
    });
}

#[test]
fn reverse_gradient_matches_forward_derivatives() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        let vars = [Sym::new("x"), Sym::new("y")];
        let Some(grad) = deriv::reverse::gradient(&e, &vars) else {
            return Err(TestCaseError::fail(format!("no reverse gradient for {e}")));
        };
        let model = Model::new(5);
        let mut rng = Rng::new(11);
        let mut compared = 0;
        for (v, g) in vars.iter().zip(&grad) {
            let forward = deriv::diff(&e, v);
            for _ in 0..8 {
                let env = random_point(&vars, &mut rng);
                let magnitude = |x: &Expr| deriv::eval::eval_magnitude(x, &env, Some(&model));
                let (Ok(r), Ok(f)) = (magnitude(g), magnitude(&forward)) else {
                    continue;
                };
                if !(r.v.is_finite() && f.v.is_finite() && r.m.is_finite() && f.m.is_finite()) || f.v.abs() > 1e4 {
                    continue;
                }
                // Both may cancel terms far larger than the derivative (0 for
                // `(y*max(-1, x)/x)^g(27)` near x = -0.17, from terms of 10^10): the
                // error is measured against the larger of their magnitudes.
                let wider = deriv::eval::Mag { v: r.v, m: r.m.max(f.m) };
                prop_assert!(
                    rounding_aware_error(wider, f.v) < 1e-7,
                    "d{}/d{} reverse {} forward {} at {:?}",
                    e,
                    v,
                    g,
                    forward,
                    env
                );
                compared += 1;
            }
        }
        Ok(compared)
    });
}

#[test]
fn printing_parses_back() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        let text = e.to_string();
        let again = deriv::parse(&text);
        prop_assert!(again.is_ok(), "{} printed as {} does not parse: {:?}", source(a), text, again.err());
        prop_assert_eq!(again.unwrap(), e, "printed as {}", text);
        Ok(1)
    });
}

#[test]
fn derivatives_print_and_parse_back() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        let d = deriv::diff(&e, &Sym::new("x"));
        prop_assert_eq!(deriv::parse(&d.to_string()).unwrap(), d.clone(), "printed as {}", d);
        Ok(1)
    });
}

#[test]
fn simplify_keeps_the_value() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        let s = deriv::simplify::simplify(&e, &deriv::simplify::Names::default(), deriv::simplify::Form::Auto);
        let model = Model::new(5);
        let mut rng = Rng::new(13);
        let vars = [Sym::new("x"), Sym::new("y")];
        let mut compared = 0;
        for _ in 0..16 {
            let env = random_point(&vars, &mut rng);
            let magnitude = |x: &Expr| deriv::eval::eval_magnitude(x, &env, Some(&model));
            let (Ok(a), Ok(b)) = (magnitude(&e), magnitude(&s)) else {
                continue;
            };
            if !(a.v.is_finite() && b.v.is_finite() && a.m.is_finite() && b.m.is_finite()) || a.v.abs() > 1e4 {
                continue;
            }
            // Either may be ill-conditioned where the other is not (`sin(1/abs(x)^18)`
            // and `sin(1/x^18)` near x = -0.16, an argument of 10^14 rounded differently):
            // the error is measured against the larger of their magnitudes.
            let wider = deriv::eval::Mag { v: b.v, m: a.m.max(b.m) };
            prop_assert!(
                rounding_aware_error(wider, a.v) < 1e-7,
                "{} simplified to {} at {:?}: {} vs {}",
                e,
                s,
                env,
                b.v,
                a.v
            );
            compared += 1;
        }
        Ok(compared)
    });
}

#[test]
fn canonical_form_is_a_fixed_point() {
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        // Substituting x for x rebuilds every node that contains x through the constructors.
        let x = Sym::new("x");
        prop_assert_eq!(substitute(&e, &x, &Expr::var("x")), e);
        Ok(1)
    });
}

/// Whether a part of `e` without variables has no finite value (`ln(0)`, `1/0`).
fn has_undefined_constant(e: &Expr) -> bool {
    let (env, model) = (deriv::eval::Env::new(), Model::new(5));
    nodes(e)
        .iter()
        .filter(|n| n.free_vars().is_empty())
        .any(|n| !eval_with(n, &env, Some(&model)).is_ok_and(f64::is_finite))
}

/// The distinct nodes of `e`, children first.
fn nodes(e: &Expr) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    let mut stack = vec![e.clone()];
    while let Some(x) = stack.pop() {
        if !out.contains(&x) {
            stack.extend(x.children().iter().cloned());
            out.push(x);
        }
    }
    out
}

#[test]
fn two_operand_shortcuts_agree_with_the_general_constructors() {
    // A sum or product of two operands takes shortcuts (numbers folded, like terms
    // joined, one factor inserted in order, a coefficient scaled); a zero term or a
    // factor 1 more sends the same operands through the general path.
    check(|a| {
        let Some(e) = parsed(a) else { return Ok(0) };
        let parts: Vec<Expr> = nodes(&e).into_iter().take(10).collect();
        let mut compared = 0;
        for p in &parts {
            for q in &parts {
                let (p, q) = (p.clone(), q.clone());
                prop_assert_eq!(Expr::add([p.clone(), q.clone()]), Expr::add([p.clone(), q.clone(), Expr::zero()]));
                prop_assert_eq!(Expr::mul([p.clone(), q.clone()]), Expr::mul([p, q, Expr::one()]));
                compared += 2;
            }
        }
        Ok(compared)
    });
}
