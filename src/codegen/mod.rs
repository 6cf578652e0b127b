//! Code generation: a function and its backward pass as Rust, C, Python or NumPy source.
//!
//! A [`Kernel`] is what is generated: the forward expression, simplified, and one
//! partial derivative per input differentiated by, each simplified with the forward's
//! own output as a name `y`, so that the backward pass uses the saved output wherever
//! that is cheaper (`y*(1 - y)` for the sigmoid, `1 - y^2` for tanh) and the inputs
//! otherwise. [`generate`] writes it out: `NAME(inputs)` and
//! `NAME_backward(inputs, y, grad)`, which returns `grad` times the derivative (a tuple
//! of them, or out-parameters in C, for several inputs). Each body is computed in the
//! stable forms of `crate::stable`, with repeated subexpressions shared through
//! [`crate::cse`]; the source uses only the language's standard library.
//!
//! ```
//! let k = deriv::codegen::kernel("p = e^z/(1+e^z)", &["z"], "sigmoid").unwrap();
//! let src = deriv::codegen::rust(&k);
//! assert!(src.contains("pub fn sigmoid_backward(z: f64, y: f64, grad: f64) -> f64 {"));
//! assert!(src.contains("grad * y * (1.0 - y)"));
//! ```

mod emit;
pub(crate) mod lang;

use std::collections::{HashMap, HashSet};

pub use lang::Lang;

use crate::cse;
use crate::defs::Problem;
use crate::diff;
use crate::error::{Error, ErrorKind, Result, Ungenerable};
use crate::expr::{self, Expr, Func, IdMap, Node, Sym, Walk};
use crate::simplify::{self, Form, Names};
use crate::stable::{self, Block};
use emit::{Fresh, Printer};

/// A function and its partial derivatives, ready to be written in any language.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The function's name.
    pub name: String,
    /// The inputs in parameter order: those differentiated by first, then the others.
    pub inputs: Vec<Sym>,
    /// The inputs differentiated by.
    pub wrt: Vec<Sym>,
    /// The forward expression, in its cheapest form.
    pub forward: Expr,
    /// One partial derivative per input in `wrt`, in the inputs and `output`.
    pub partials: Vec<Expr>,
    /// The name of the saved forward output in `partials`.
    pub output: Sym,
    /// The name of the incoming gradient.
    pub grad: Sym,
    /// The input as it was written (definitions inlined), for comments.
    pub source: Expr,
}

/// The kernel for `src` (an expression, or definitions ending in the one to generate)
/// differentiated by each of `wrt`.
pub fn kernel(src: &str, wrt: &[&str], name: &str) -> Result<Kernel> {
    let problem = Problem::load(&[], src)?;
    let wrt = wrt.iter().map(|w| crate::parse::check_variable(w)).collect::<Result<Vec<_>>>()?;
    Kernel::new(&problem, &wrt, name)
}

/// What the backward pass computes its partial derivatives from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Backward {
    /// The saved forward output `y` wherever that is cheaper (sigmoid's `y*(1 - y)`), as
    /// PyTorch's hand-written backward formulas do. Where the output saturates (`y`
    /// rounds to 1 at z = 40) such a form loses the small value it should give.
    #[default]
    Output,
    /// The inputs only (`sigmoid(z)*sigmoid(-z)`), in stable forms: accurate wherever the
    /// output saturates, at the cost of recomputing.
    Input,
}

/// Whether `s` is an identifier in every target language.
fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Kernel {
    /// The kernel for `problem`'s target differentiated by each of `wrt`, named `name`.
    pub fn new(problem: &Problem, wrt: &[Sym], name: &str) -> Result<Kernel> {
        if !is_identifier(name) {
            return Err(Error::new(ErrorKind::NotFunctionName { name: name.into() }));
        }
        if let Some(l) = Lang::ALL.into_iter().find(|&l| lang::reserved(l, name)) {
            return Err(Error::new(ErrorKind::ReservedName { name: name.into(), language: l.name() }));
        }
        if wrt.is_empty() {
            return Err(Error::new(ErrorKind::NoCodegenVariable));
        }
        for (i, x) in wrt.iter().enumerate() {
            problem.check_wrt(x)?;
            if wrt[..i].contains(x) {
                return Err(Error::new(ErrorKind::RepeatedVariable { name: x.to_string() }));
            }
        }
        let source = problem.inlined_target();
        generable(&source)?;
        let mut inputs = wrt.to_vec();
        inputs.extend(source.free_vars().into_iter().filter(|v| !wrt.contains(v)));
        let pick = |cands: &[&str], avoid: &[Sym]| {
            let taken = |s: &str| inputs.iter().chain(avoid).any(|v| v.as_str() == s) || s == name;
            let first = cands.iter().find(|c| !taken(c)).map(|c| (*c).to_owned());
            Sym::new(&first.unwrap_or_else(|| {
                (1..).map(|n| format!("y{n}_")).find(|c| !taken(c)).expect("finitely many names are taken")
            }))
        };
        let output = pick(&["y", "out", "y_out", "y_saved"], &[]);
        let grad = pick(&["grad", "grad_y", "dy", "g_out"], std::slice::from_ref(&output));
        let forward = simplify::simplify(&source, &Names::default(), Form::Auto);
        let names = |x: &Sym| Names { defs: vec![(output.clone(), source.clone())], wrt: Some(x.clone()) };
        let partials = wrt.iter().map(|x| simplify::simplify(&diff::diff(&source, x), &names(x), Form::Auto)).collect();
        Ok(Kernel { name: name.to_owned(), inputs, wrt: wrt.to_vec(), forward, partials, output, grad, source })
    }

    /// The same kernel with its backward pass computed from `from`.
    pub fn backward_from(mut self, from: Backward) -> Kernel {
        if from == Backward::Input {
            let names = |x: &Sym| Names { defs: Vec::new(), wrt: Some(x.clone()) };
            self.partials = self
                .wrt
                .iter()
                .map(|x| simplify::simplify(&diff::diff(&self.source, x), &names(x), Form::Auto))
                .collect();
        }
        self
    }
}

/// An error unless every call in `e` is a built-in function. Each node is looked at
/// once ([`expr::walk`]): a DAG of definitions used twice each is exponentially larger
/// as a tree.
fn generable(e: &Expr) -> Result<()> {
    let mut found = None;
    expr::walk(std::slice::from_ref(e), |x| {
        found = match x.node() {
            Node::Call(Func::Builtin(_), _) => None,
            Node::Call(Func::Abstract(a), _) => Some(Ungenerable::Abstract(a.name.to_string())),
            Node::Call(Func::Indexed(b), _) => Some(Ungenerable::Indexed(b.to_string())),
            Node::Call(f @ (Func::Sum(_) | Func::Prod(_) | Func::Delta), _) => {
                Some(Ungenerable::Call(f.name().to_string()))
            }
            _ => None,
        };
        if found.is_some() {
            Walk::Stop
        } else {
            Walk::Descend
        }
    });
    match found {
        Some(what) => Err(Error::new(ErrorKind::NotGenerable(what))),
        None => Ok(()),
    }
}

/// The source of `k` in Rust.
pub fn rust(k: &Kernel) -> String {
    generate(k, Lang::Rust)
}

/// The source of `k` in C.
pub fn c(k: &Kernel) -> String {
    generate(k, Lang::C)
}

/// The source of `k` in Python with `math`.
pub fn python(k: &Kernel) -> String {
    generate(k, Lang::Python)
}

/// The source of `k` in Python with NumPy, vectorised.
pub fn numpy(k: &Kernel) -> String {
    generate(k, Lang::Numpy)
}

/// A function body: locals, then the results.
struct Body {
    stmts: Vec<(String, String)>,
    results: Vec<String>,
    used: HashSet<Sym>,
}

/// The code that computes `results`: stable forms, repeated subexpressions (and blocks
/// used more than once) in locals.
fn body(
    lang: Lang,
    results: &[Expr],
    wrap: &dyn Fn(usize, Expr) -> Expr,
    names: &HashMap<Sym, String>,
    fresh: &mut Fresh,
    helpers: &mut Vec<&'static str>,
) -> Body {
    let st = stable::stabilize(results);
    let mut all: Vec<Expr> = st.blocks.iter().flat_map(|(_, b)| b.args().to_vec()).collect();
    let n_args = all.len();
    all.extend(st.results.iter().cloned());
    let shared = cse::cse(&all);
    // Intermediates get names that sort after every input, so that products read
    // `grad * y * t1` rather than `t1 * grad * y`.
    let mut rename: HashMap<Sym, Expr> = HashMap::new();
    for (i, n) in st.blocks.iter().map(|(n, _)| n).chain(shared.defs.iter().map(|(n, _)| n)).enumerate() {
        rename.insert(n.clone(), Expr::sym(expr::trailing_hidden_name(i + 1)));
    }
    let renamed = |e: &Expr| expr::substitute_all(e, &rename);
    let new_name = |n: &Sym| match rename.get(n).map(Expr::node) {
        Some(Node::Var(s)) => s.clone(),
        _ => n.clone(),
    };
    let shared = cse::Cse {
        defs: shared.defs.iter().map(|(n, e)| (new_name(n), renamed(e))).collect(),
        results: shared.results.iter().map(renamed).collect(),
    };
    let mut rest = shared.results.into_iter();
    let mut defs: Vec<(Sym, Def)> = Vec::new();
    for (n, b) in &st.blocks {
        let args: Vec<Expr> = rest.by_ref().take(b.args().len()).collect();
        defs.push((new_name(n), Def::Block(b.with_args(args))));
    }
    // A result that is itself shared (equal partials) is its intermediate's name.
    let named: HashMap<Expr, Sym> = shared.defs.iter().map(|(n, e)| (e.clone(), n.clone())).collect();
    let results: Vec<Expr> =
        rest.enumerate().map(|(i, r)| wrap(i, named.get(&r).map_or(r, |n| Expr::sym(n.clone())))).collect();
    debug_assert_eq!(all.len() - n_args, results.len());
    defs.extend(shared.defs.into_iter().map(|(n, e)| (n, Def::Expr(e))));
    let defs = in_dependency_order(defs);
    let uses = count_uses(defs.iter().flat_map(|(_, d)| d.exprs()).chain(&results));
    let mut p = Printer {
        lang,
        names: names.clone(),
        inline: HashMap::new(),
        stmts: Vec::new(),
        helpers: Default::default(),
        used: HashSet::new(),
        fresh,
    };
    for (n, d) in &defs {
        let code = match d {
            Def::Expr(e) => p.expr(e),
            Def::Block(b) => p.block(b),
        };
        if matches!(d, Def::Block(_)) && uses.get(n).copied().unwrap_or(0) <= 1 {
            p.inline.insert(n.clone(), code);
        } else {
            let local = p.fresh.next();
            p.stmts.push((local.clone(), code.text));
            p.names.insert(n.clone(), local);
        }
    }
    let results = results.iter().map(|r| p.expr(r).text).collect();
    for h in &p.helpers {
        if !helpers.contains(h) {
            helpers.push(h);
        }
    }
    Body { stmts: p.stmts, results, used: p.used }
}

/// An intermediate: an expression, or a stable block.
enum Def {
    Expr(Expr),
    Block(Block),
}

impl Def {
    fn exprs(&self) -> Vec<&Expr> {
        match self {
            Def::Expr(e) => vec![e],
            Def::Block(b) => b.args().iter().collect(),
        }
    }
}

/// `defs` ordered so that each uses only earlier ones (stable otherwise).
fn in_dependency_order(mut defs: Vec<(Sym, Def)>) -> Vec<(Sym, Def)> {
    let names: HashSet<Sym> = defs.iter().map(|(n, _)| n.clone()).collect();
    let deps: HashMap<Sym, Vec<Sym>> = defs
        .iter()
        .map(|(n, d)| {
            let vs = d.exprs().iter().flat_map(|e| e.free_vars()).filter(|v| names.contains(v)).collect();
            (n.clone(), vs)
        })
        .collect();
    let mut done: HashSet<Sym> = HashSet::new();
    let mut out = Vec::with_capacity(defs.len());
    while !defs.is_empty() {
        let i = defs.iter().position(|(n, _)| deps[n].iter().all(|d| done.contains(d))).unwrap_or(0);
        let (n, d) = defs.remove(i);
        done.insert(n.clone());
        out.push((n, d));
    }
    out
}

/// How many times each variable occurs in `exprs`, counted in the trees they are
/// written out as (a block used twice is written twice if inlined). Each distinct node
/// is looked at once: how often it occurs in the trees is the sum of its parents' counts
/// (a root's starts at how often it is given), found parents first, in reverse
/// [`expr::post_order`].
fn count_uses<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> HashMap<Sym, usize> {
    let roots: Vec<Expr> = exprs.into_iter().cloned().collect();
    let mut times: IdMap<usize> = IdMap::default();
    for r in &roots {
        *times.entry(r.id()).or_default() += 1;
    }
    let mut uses: HashMap<Sym, usize> = HashMap::new();
    for x in expr::post_order(&roots, |_| true).iter().rev() {
        crate::limits::tick();
        let n = *times.get(&x.id()).expect("every parent of a node comes before it, and has counted it");
        match x.node() {
            Node::Var(s) => {
                let u = uses.entry(s.clone()).or_default();
                *u = u.saturating_add(n);
            }
            _ => {
                for c in x.children().iter() {
                    let t = times.entry(c.id()).or_default();
                    *t = t.saturating_add(n);
                }
            }
        }
    }
    uses
}

/// The code names of the inputs in `lang`: reserved words get a trailing `_`.
fn input_names(k: &Kernel, lang: Lang) -> HashMap<Sym, String> {
    let mut out: HashMap<Sym, String> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::from([k.name.clone(), format!("{}_backward", k.name)]);
    for s in k.inputs.iter().chain([&k.output, &k.grad]) {
        let mut n = s.to_string();
        while lang::reserved(lang, &n) || taken.contains(&n) {
            n.push('_');
        }
        taken.insert(n.clone());
        out.insert(s.clone(), n);
    }
    out
}

/// The source of `k` in `lang`.
pub fn generate(k: &Kernel, lang: Lang) -> String {
    let names = input_names(k, lang);
    let name_of = |s: &Sym| names.get(s).cloned().unwrap_or_else(|| s.to_string());
    let inputs: Vec<String> = k.inputs.iter().map(name_of).collect();
    let (y, grad) = (name_of(&k.output), name_of(&k.grad));
    let mut outs: Vec<String> = Vec::new();
    for x in &k.wrt {
        let mut n = format!("d_{}", name_of(x));
        while names.values().any(|v| *v == n) || outs.contains(&n) || lang::reserved(lang, &n) {
            n.push('_');
        }
        outs.push(n);
    }
    let taken: Vec<String> = names.values().cloned().chain(outs.clone()).chain([k.name.clone()]).collect();
    let mut helpers: Vec<&'static str> = Vec::new();
    let mut fresh = Fresh::new(taken.clone());
    let fwd = body(lang, std::slice::from_ref(&k.forward), &|_, r| r, &names, &mut fresh, &mut helpers);
    // The backward pass: grad times each partial, the coefficients kept outside so that
    // partials equal up to a factor share one intermediate.
    let (coeffs, rests): (Vec<_>, Vec<_>) = k.partials.iter().map(Expr::coeff_rest).unzip();
    let g = Expr::sym(k.grad.clone());
    let wrap = |i: usize, r: Expr| Expr::mul([Expr::num(coeffs[i].clone()), g.clone(), r]);
    let mut fresh = Fresh::new(taken);
    let bwd = body(lang, &rests, &wrap, &names, &mut fresh, &mut helpers);
    let unused = |b: &Body, params: &[&Sym]| -> Vec<String> {
        params.iter().filter(|s| !b.used.contains(**s)).map(|s| name_of(s)).collect()
    };
    let fwd_params: Vec<&Sym> = k.inputs.iter().collect();
    let mut bwd_params = fwd_params.clone();
    bwd_params.extend([&k.output, &k.grad]);
    let layout = Layout {
        k,
        lang,
        inputs: &inputs,
        y: &y,
        grad: &grad,
        outs: &outs,
        helpers: &helpers,
        fwd: &fwd,
        fwd_unused: unused(&fwd, &fwd_params),
        bwd_stmts: &bwd.stmts,
        bwd_results: &bwd.results,
        bwd_unused: unused(&bwd, &bwd_params),
    };
    layout.write()
}

/// `e` as text for a comment, cut after 200 characters (the code shares what the text
/// repeats).
fn short(e: &Expr) -> String {
    let text = e.to_string();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{} ...", &text[..i]),
        None => text,
    }
}

/// What one generated file is made of.
struct Layout<'a> {
    k: &'a Kernel,
    lang: Lang,
    inputs: &'a [String],
    y: &'a str,
    grad: &'a str,
    outs: &'a [String],
    helpers: &'a [&'static str],
    fwd: &'a Body,
    fwd_unused: Vec<String>,
    bwd_stmts: &'a [(String, String)],
    bwd_results: &'a [String],
    bwd_unused: Vec<String>,
}

impl Layout<'_> {
    fn write(&self) -> String {
        let k = self.k;
        let comment = if matches!(self.lang, Lang::Rust | Lang::C) { "//" } else { "#" };
        let wrt: Vec<String> = k.wrt.iter().map(|x| x.to_string()).collect();
        let mut out = format!(
            "{comment} Generated by deriv: {}({}) = {} and its backward pass by {}.\n",
            k.name,
            self.inputs.join(", "),
            short(&k.source),
            wrt.join(", ")
        );
        for (x, d) in k.wrt.iter().zip(&k.partials) {
            let call = format!("{}({})", k.name, self.inputs.join(", "));
            if d.free_vars().contains(&k.output) {
                out.push_str(&format!("{comment} d/d{x} = {}, where {} = {call}.\n", short(d), k.output));
            } else {
                out.push_str(&format!("{comment} d/d{x} = {}.\n", short(d)));
            }
        }
        match self.lang {
            Lang::Rust => {}
            Lang::C => out.push_str("#include <math.h>\n"),
            Lang::Python => out.push_str("import math\n"),
            Lang::Numpy => out.push_str("import numpy as np\n"),
        }
        let gap = if matches!(self.lang, Lang::Python | Lang::Numpy) { "\n\n" } else { "\n" };
        for h in self.helpers {
            out.push_str(gap);
            out.push_str(h);
        }
        out.push_str(gap);
        out.push_str(&self.forward());
        out.push_str(gap);
        out.push_str(&self.backward());
        out
    }

    fn forward(&self) -> String {
        let params = self.params(self.inputs);
        let stmts = &self.fwd.stmts;
        let result = self.fwd.results.first().cloned().unwrap_or_else(|| "0.0".into());
        match self.lang {
            Lang::Rust => format!(
                "pub fn {}({params}) -> f64 {{\n{}{}    {result}\n}}\n",
                self.k.name,
                self.discard(&self.fwd_unused),
                self.locals(stmts)
            ),
            Lang::C => format!(
                "double {}({params}) {{\n{}{}    return {result};\n}}\n",
                self.k.name,
                self.discard(&self.fwd_unused),
                self.locals(stmts)
            ),
            Lang::Python | Lang::Numpy => {
                format!("def {}({params}):\n{}    return {result}\n", self.k.name, self.locals(stmts))
            }
        }
    }

    fn backward(&self) -> String {
        let mut all: Vec<String> = self.inputs.to_vec();
        all.extend([self.y.to_owned(), self.grad.to_owned()]);
        let params = self.params(&all);
        let name = format!("{}_backward", self.k.name);
        let pre = format!("{}{}", self.discard(&self.bwd_unused), self.locals(self.bwd_stmts));
        let single = self.bwd_results.len() == 1;
        let first = self.bwd_results.first().cloned().unwrap_or_else(|| "0.0".into());
        let assigns = |fmt: &dyn Fn(&str, &str) -> String| -> String {
            self.outs.iter().zip(self.bwd_results).map(|(o, r)| fmt(o, r)).collect()
        };
        match self.lang {
            Lang::Rust if single => format!("pub fn {name}({params}) -> f64 {{\n{pre}    {first}\n}}\n"),
            Lang::Rust => format!(
                "pub fn {name}({params}) -> ({}) {{\n{pre}{}    ({})\n}}\n",
                vec!["f64"; self.outs.len()].join(", "),
                assigns(&|o, r| format!("    let {o}: f64 = {r};\n")),
                self.outs.join(", ")
            ),
            Lang::C if single => format!("double {name}({params}) {{\n{pre}    return {first};\n}}\n"),
            Lang::C => {
                let outs: Vec<String> = self.outs.iter().map(|o| format!("double *{o}")).collect();
                format!(
                    "void {name}({params}, {}) {{\n{pre}{}}}\n",
                    outs.join(", "),
                    assigns(&|o, r| format!("    *{o} = {r};\n"))
                )
            }
            Lang::Python | Lang::Numpy if single => format!("def {name}({params}):\n{pre}    return {first}\n"),
            Lang::Python | Lang::Numpy => format!(
                "def {name}({params}):\n{pre}{}    return {}\n",
                assigns(&|o, r| format!("    {o} = {r}\n")),
                self.outs.join(", ")
            ),
        }
    }

    fn params(&self, names: &[String]) -> String {
        let typed: Vec<String> = names
            .iter()
            .map(|n| match self.lang {
                Lang::Rust => format!("{n}: f64"),
                Lang::C => format!("double {n}"),
                Lang::Python | Lang::Numpy => n.clone(),
            })
            .collect();
        typed.join(", ")
    }

    fn locals(&self, stmts: &[(String, String)]) -> String {
        stmts
            .iter()
            .map(|(n, v)| match self.lang {
                Lang::Rust => format!("    let {n}: f64 = {v};\n"),
                Lang::C => format!("    const double {n} = {v};\n"),
                Lang::Python | Lang::Numpy => format!("    {n} = {v}\n"),
            })
            .collect()
    }

    /// Marks parameters a body does not read, so that compilers do not warn.
    fn discard(&self, unused: &[String]) -> String {
        unused
            .iter()
            .map(|n| match self.lang {
                Lang::Rust => format!("    let _ = {n};\n"),
                Lang::C => format!("    (void){n};\n"),
                Lang::Python | Lang::Numpy => String::new(),
            })
            .collect()
    }
}
