#!/usr/bin/env python3
"""Numeric accuracy of deriv's results, measured Herbie-style in bits of error.

    python3 bench/accuracy.py [--deriv target/release/deriv] [--corpus bench/accuracy.json]
                              [--seed 1] [--points 200] [--only ID ...]
                              [--langs eval,rust,c,python,numpy] [--jobs 2]
                              [--json FILE] [--sample] [--check]

For each formula of the corpus (bench/accuracy.json) it measures four formulas derived
with the deriv binary: the function itself (`f`), its first derivative as `deriv diff`
prints it (`d1`, in terms of the defined names, measured with the definitions put before
it), the first derivative in the inputs only (`d1_input`, `--form input`) and the second
derivative (`d2`, `--order 2`, again after the definitions). Each is computed by

- `eval`: the deriv CLI itself, `deriv eval PROGRAM --points FILE` (falling back to one
  `deriv eval PROGRAM --at ...` process per point where the batch mode is missing);
- the code `deriv codegen` writes in Rust (rustc -O), C (gcc -O2), Python (math) and
  NumPy (float64 arrays): the forward function of each formula, and the backward pass
  of `f` with grad = 1 and y = the forward's value (`backward`, whose truth is d1's;
  `backward_input` is the same pass generated with `--backward input`).
  A Python function that raises (OverflowError, math domain error) gives NaN, and a
  forward that raises gives the backward y = NaN.
  Each language is compiled or loaded once per run, every function in one program.

The truth comes from the input function alone: a parser of deriv's syntax here turns it
(definitions inlined) into SymPy, `sympy.diff` differentiates it, and the result is
evaluated with mpmath and rounded to the nearest double. The evaluation is Monte Carlo
arithmetic at rising precision (256, 1280 and 4096 bits): a value counts only when one
exact and two randomly perturbed evaluations (every operation's result moved by a random
relative 2^-(precision - 8)) round to the same double, so lost digits show up as
disagreement rather than as a wrong truth. Where the expression as written cannot settle
(1 - sigmoid(z) at z = 1e300 needs 10^300 bits), equal forms with less cancellation are
tried: after `sympy.together`, then `sympy.cancel`, then with the hyperbolic functions
as exponentials. Points that settle in none are "unresolved" and skipped, like the
points where the true value is not a finite double (it overflows, or the formula is
undefined there). The oracle's conventions at kinks follow deriv's: a condition picks
its branch (relu'(0) = 0); max and min take the first argument as written at a tie
(deriv takes the first in its own order there).

Points: per formula, --points random points (each variable drawn from its domain) and,
for each variable in turn, every "suspect" value of its domain with the other variables
drawn at random. Domains: "all" (both signs, magnitudes log-uniform in [1e-300, 1e300];
suspects 0, ±5e-324, ±1e-300, ±1e-8, ±1, ±20, ±40, ±800, ±1e300), "positive" (the
positive half of that), [a, b] (uniform; suspects a, b and the suspects of "all" inside),
or a list of those (a union: each random point picks a part). Deterministic for --seed.

Error in bits, as Herbie counts it: doubles mapped to ordinals (the bit pattern as a
signed integer, negatives mirrored so the order is that of the values), bits =
log2(1 + |ordinal(result) - ordinal(truth)|), 0 to 64. A result that is not finite
where the truth is counts 64 bits and as non-finite.

Output: a table with one row per formula and form and one column per implementation
(mean/max bits, and the share of non-finite results), then every row that breaks the
thresholds (mean > 1 bit, max > 8 bits or any non-finite result), worst first, with its
worst point. --json FILE writes all rows, worst points, the derived programs and the
skipped points. --check exits 1 when a row breaks the thresholds, unless its corpus
entry lists "FORM/IMPL" (either may be *) under "exceptions" with a reason. --sample is the quick subset
for CI: 10 random points per formula (and the suspects), all formulas.

Corpus entries: {"id", "function" (deriv syntax, statements separated by "; "), "wrt",
"domains": {variable: domain}, "source": a note on where it comes from, optional
"exceptions": {"d2/eval": "reason"}}.
"""
import argparse
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import mpmath
import numpy as np
import sympy as sp

FORMS = ["f", "d1", "d1_input", "d2"]
LANGS = ["rust", "c", "python", "numpy"]
IMPLS = ["eval"] + LANGS
# The truth each measured form is compared with.
TRUTH_OF = {"f": "f", "d1": "d1", "d1_input": "d1", "d2": "d2", "backward": "d1", "backward_input": "d1"}
# The backward passes measured: as generated (reusing the saved output y), and with
# `--backward input` (from the inputs alone).
BACKWARDS = ["backward", "backward_input"]
PRECISIONS = (256, 1280, 4096)
PERTURBED_RUNS = 2
MEAN_LIMIT = 1.0
MAX_LIMIT = 8.0
SAMPLE_POINTS = 10
SUSPECTS = [0.0, 5e-324, 1e-300, 1e-8, 1.0, 20.0, 40.0, 800.0, 1e300]
SUSPECTS = sorted({s * sign for s in SUSPECTS for sign in (1.0, -1.0)}, key=abs)


# ---- deriv's syntax, parsed into SymPy ----------------------------------------------

TOKEN = re.compile(
    r"""(?P<space>[ \t\r]+|\#[^\n]*)
      | (?P<newline>\n)
      | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*)
      | (?P<op><=|>=|==|!=|[-+*/^(),;=<>])""",
    re.X,
)
BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: a / b, "^": lambda a, b: a**b}
COMPARISONS = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}
UNARY = {
    "exp": sp.exp, "ln": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh,
    "tanh": sp.tanh, "sech": sp.sech, "csch": sp.csch, "coth": sp.coth, "asinh": sp.asinh,
    "acosh": sp.acosh, "atanh": sp.atanh, "erf": sp.erf, "erfc": sp.erfc,
    "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
    "softplus": lambda u: sp.log(1 + sp.exp(u)),
    "relu": lambda u: sp.Piecewise((u, u > 0), (0, True)),
    "heaviside": lambda u: sp.Piecewise((1, u > 0), (0, True)),
    "step": lambda u: sp.Piecewise((1, u > 0), (0, True)),
}


class SyntaxProblem(ValueError):
    """The oracle's parser cannot read a formula (bad syntax or an unsupported form)."""


def tokenize(text):
    """The tokens of a program as (kind, text, offset); a newline outside parentheses
    separates statements like `;`, inside them it is white space."""
    tokens, depth, pos = [], 0, 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise SyntaxProblem(f"unexpected {text[pos]!r} at offset {pos} in {text!r}")
        kind, tok = m.lastgroup, m.group()
        if kind == "newline":
            if depth == 0:
                tokens.append(("op", ";", pos))
        elif kind != "space":
            depth += {"(": 1, ")": -1}.get(tok, 0) if kind == "op" else 0
            tokens.append((kind, tok, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


class Parser:
    """Precedence climbing over deriv's grammar (grammar/deriv.ebnf), loosest first:
    comparison, sum, product, unary sign, right-associative power. Expressions come
    out as tuples: ("num", text), ("name", name), ("neg", a), ("bin", op, a, b),
    ("cmp", op, a, b), ("call", name, [args])."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead=0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self, expected=None):
        kind, tok, pos = self.peek()
        if expected is not None and tok != expected:
            raise SyntaxProblem(f"expected {expected!r} at offset {pos} in {self.text!r}")
        self.i += 1
        return tok

    def program(self):
        """The statements as (defined name or None, expression, source text)."""
        statements = []
        while self.peek()[0] != "end":
            if self.peek()[1] == ";":
                self.take()
                continue
            start = self.peek()[2]
            name = None
            if self.peek()[0] == "name" and self.peek(1)[1] == "=":
                name = self.take()
                self.take("=")
            expr = self.comparison()
            if self.peek()[1] not in (";", ""):
                raise SyntaxProblem(f"unexpected {self.peek()[1]!r} in {self.text!r}")
            statements.append((name, expr, self.text[start:self.peek()[2]].strip()))
        if not statements:
            raise SyntaxProblem("empty program")
        return statements

    def comparison(self):
        left = self.sum()
        if self.peek()[1] in COMPARISONS:
            op = self.take()
            return ("cmp", op, left, self.sum())
        return left

    def sum(self):
        left = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()
            left = ("bin", op, left, self.product())
        return left

    def product(self):
        left = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()
            left = ("bin", op, left, self.unary())
        return left

    def unary(self):
        if self.peek()[1] in ("-", "+"):
            op = self.take()
            inner = self.unary()
            return ("neg", inner) if op == "-" else inner
        return self.power()

    def power(self):
        base = self.primary()
        if self.peek()[1] == "^":
            self.take()
            return ("bin", "^", base, self.unary())
        return base

    def primary(self):
        kind, tok, pos = self.peek()
        if kind == "number":
            self.take()
            return ("num", tok)
        if tok == "(":
            self.take()
            inner = self.comparison()
            self.take(")")
            return inner
        if kind == "name":
            self.take()
            if self.peek()[1] != "(":
                return ("name", tok)
            self.take()
            args = [self.comparison()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.comparison())
            self.take(")")
            return ("call", tok, args)
        raise SyntaxProblem(f"unexpected {tok or 'end'!r} at offset {pos} in {self.text!r}")


def piecewise_max(args, pick):
    """max (pick = Ge) or min (pick = Le) of args as a Piecewise; at a tie the earlier
    argument is taken."""
    pieces = []
    for i, a in enumerate(args[:-1]):
        pieces.append((a, sp.And(*[pick(a, b) for j, b in enumerate(args) if j != i])))
    return sp.Piecewise(*pieces, (args[-1], True))


class ToSympy:
    """Converts parsed statements to one SymPy expression of the last statement, the
    definitions inlined; variables are real SymPy symbols."""

    def __init__(self, statements):
        self.definitions = {name: expr for name, expr, _ in statements if name}
        self.done = {}
        self.busy = set()
        self.root = statements[-1][1]

    def result(self):
        return self.value(self.root)

    def name(self, name):
        if name == "e":
            return sp.E
        if name == "pi":
            return sp.pi
        if name not in self.definitions:
            return sp.Symbol(name, real=True)
        if name in self.busy:
            raise SyntaxProblem(f"the definition of {name} refers to itself")
        if name not in self.done:
            self.busy.add(name)
            self.done[name] = self.value(self.definitions[name])
            self.busy.discard(name)
        return self.done[name]

    def condition(self, node):
        """A condition of `if`: a comparison or a product of comparisons (all hold)."""
        if node[0] == "cmp":
            return COMPARISONS[node[1]](self.value(node[2]), self.value(node[3]))
        if node[0] == "bin" and node[1] == "*":
            return sp.And(self.condition(node[2]), self.condition(node[3]))
        raise SyntaxProblem("a condition of if must be a comparison or a product of them")

    def value(self, node):
        kind = node[0]
        if kind == "num":
            return sp.Rational(node[1])
        if kind == "name":
            return self.name(node[1])
        if kind == "neg":
            return -self.value(node[1])
        if kind == "cmp":
            return sp.Piecewise((1, self.condition(node)), (0, True))
        if kind == "bin":
            return BINARY[node[1]](self.value(node[2]), self.value(node[3]))
        return self.call(node[1], node[2])

    def call(self, name, args):
        if name == "if":
            if len(args) % 2 == 0:
                raise SyntaxProblem("if takes conditions and values and a last otherwise")
            pieces = [(self.value(args[k + 1]), self.condition(args[k]))
                      for k in range(0, len(args) - 1, 2)]
            return sp.Piecewise(*pieces, (self.value(args[-1]), True))
        values = [self.value(a) for a in args]
        if name in UNARY and len(values) == 1:
            return UNARY[name](values[0])
        if name == "log" and len(values) == 2:
            return sp.log(values[1]) / sp.log(values[0])
        if name in ("max", "min") and len(values) >= 2:
            return piecewise_max(values, sp.Ge if name == "max" else sp.Le)
        if name == "clamp" and len(values) == 3:
            low = piecewise_max(values[:2], sp.Ge)
            return piecewise_max([low, values[2]], sp.Le)
        raise SyntaxProblem(f"{name} with {len(values)} arguments is not supported here")


def parse_program(text):
    """The statements of a deriv program, as Parser.program gives them."""
    return Parser(text).program()


# ---- the oracle: Monte Carlo arithmetic at rising precision ---------------------------

class Undefined(ArithmeticError):
    """An operation outside its real domain (log of a negative, 1/0, ...)."""


def mp_erfc(x):
    """erfc, with the asymptotic series beyond |x| = 1e6 (mpmath overflows a float on
    erfc(1e300)): erfc(x) = e^(-x^2)/(x sqrt(pi)) * sum((-1)^n (2n-1)!!/(2x^2)^n)."""
    if x < -1e6:
        return 2 - mp_erfc(-x)
    if x <= 1e6:
        return mpmath.erfc(x)
    term, total, n = mpmath.mpf(1), mpmath.mpf(1), 0
    while abs(term) > mpmath.eps:
        n += 1
        term *= -(2 * n - 1) / (2 * x * x)
        total += term
    return mpmath.exp(-x * x) / (x * mpmath.sqrt(mpmath.pi)) * total


def dirac(u, *order):
    """DiracDelta (from differentiating abs or sign): 0 away from 0, undefined at 0."""
    if u == 0:
        raise Undefined("DiracDelta at 0")
    return mpmath.mpf(0)


MP_FUNCS = {
    sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
    sp.tan: mpmath.tan, sp.sec: mpmath.sec, sp.csc: mpmath.csc, sp.cot: mpmath.cot,
    sp.asin: mpmath.asin, sp.acos: mpmath.acos, sp.atan: mpmath.atan,
    sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.tanh: mpmath.tanh,
    sp.sech: mpmath.sech, sp.csch: mpmath.csch, sp.coth: mpmath.coth,
    sp.asinh: mpmath.asinh, sp.acosh: mpmath.acosh, sp.atanh: mpmath.atanh,
    sp.erf: mpmath.erf, sp.erfc: mp_erfc, sp.Abs: mpmath.fabs, sp.sign: mpmath.sign,
    sp.DiracDelta: dirac,
}
MP_RELATIONS = {sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
                sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
                sp.Equality: lambda a, b: a == b, sp.Unequality: lambda a, b: a != b}


def real(v):
    """v if it is a real mpf; a complex result means the real function is undefined."""
    if not isinstance(v, mpmath.mpf):
        raise Undefined("complex")
    return v


def mp_pow(b, e, exponent):
    """b^e, with the real odd root of a negative base when the exponent is a rational
    of odd denominator (as deriv has it: (-8)^(1/3) = -2)."""
    if exponent.is_Integer:
        return b ** int(exponent)
    if exponent == sp.S.Half:
        return real(mpmath.sqrt(b))
    if exponent.is_Rational and b < 0:
        if exponent.q % 2 == 0:
            raise Undefined("even root of a negative")
        magnitude = mpmath.power(-b, e)
        return -magnitude if exponent.p % 2 else magnitude
    return real(mpmath.power(b, e))


def compile_node(node):
    """A function (env, noise) -> mpf evaluating the SymPy node at the current mpmath
    precision; env maps symbols to mpf values, noise perturbs each operation's result."""
    if node.is_Symbol:
        return lambda env, noise: env[node]
    if node.is_Integer:
        value = int(node)
        return lambda env, noise: mpmath.mpf(value)
    if node.is_Rational:
        p, q = node.p, node.q
        return lambda env, noise: noise(mpmath.mpf(p) / q)
    if node is sp.E:
        return lambda env, noise: noise(+mpmath.e)
    if node is sp.pi:
        return lambda env, noise: noise(+mpmath.pi)
    if node.is_Float:
        text = str(node)
        return lambda env, noise: noise(mpmath.mpf(text))
    if isinstance(node, sp.Piecewise):
        return compile_piecewise(node)
    parts = [compile_node(a) for a in node.args]
    if node.is_Add:
        return lambda env, noise: noise(mpmath.fsum([f(env, noise) for f in parts]))
    if node.is_Mul:
        return lambda env, noise: noise(mpmath.fprod([f(env, noise) for f in parts]))
    if node.is_Pow:
        base, power = parts
        exponent = node.exp
        return lambda env, noise: noise(mp_pow(base(env, noise), power(env, noise), exponent))
    func = MP_FUNCS.get(node.func)
    if func is None:
        raise SyntaxProblem(f"the oracle cannot evaluate {node.func} in {node}")
    return lambda env, noise: noise(real(func(*[f(env, noise) for f in parts])))


def compile_condition(cond):
    """A function (env, noise) -> bool for a SymPy condition."""
    if cond is sp.true:
        return lambda env, noise: True
    if cond is sp.false:
        return lambda env, noise: False
    if isinstance(cond, (sp.And, sp.Or)):
        parts = [compile_condition(c) for c in cond.args]
        combine = all if isinstance(cond, sp.And) else any
        return lambda env, noise: combine(p(env, noise) for p in parts)
    if isinstance(cond, sp.Not):
        inner = compile_condition(cond.args[0])
        return lambda env, noise: not inner(env, noise)
    relation = MP_RELATIONS.get(type(cond))
    if relation is None:
        raise SyntaxProblem(f"the oracle cannot evaluate the condition {cond}")
    lhs, rhs = compile_node(cond.lhs), compile_node(cond.rhs)
    return lambda env, noise: relation(lhs(env, noise), rhs(env, noise))


def compile_piecewise(node):
    """The first branch whose condition holds; only that branch is evaluated."""
    branches = [(compile_node(e), compile_condition(c)) for e, c in node.args]

    def evaluate(env, noise):
        for value, cond in branches:
            if cond(env, noise):
                return value(env, noise)
        raise Undefined("no branch of a Piecewise holds")
    return evaluate


def compile_expr(expr):
    """A function (env, noise) -> mpf for a whole expression, its common
    subexpressions (sympy.cse) computed once."""
    replacements, (reduced,) = sp.cse(expr)
    steps = [(sym, compile_node(e)) for sym, e in replacements]
    final = compile_node(reduced)

    def evaluate(env, noise):
        env = dict(env)
        for sym, f in steps:
            env[sym] = f(env, noise)
        return final(env, noise)
    return evaluate


def to_double(v):
    """The double nearest to an mpf (correctly rounded, subnormals included)."""
    if mpmath.isnan(v):
        return math.nan
    if mpmath.isinf(v):
        return math.copysign(math.inf, v)
    sign, man, exp, bc = v._mpf_
    if man == 0:
        return 0.0
    if exp + bc > 1025:
        magnitude = math.inf
    elif exp + bc < -1076:
        magnitude = 0.0
    else:
        try:
            magnitude = float(man << exp) if exp >= 0 else man / (1 << -exp)
        except OverflowError:
            magnitude = math.inf
    return -magnitude if sign else magnitude


def settle_key(v):
    """What perturbed evaluations must agree on: the nearest double, and beyond the
    largest double the value to 53 bits (so that noise far above the true value cannot
    agree by overflowing)."""
    d = to_double(v)
    if math.isinf(d) and mpmath.isfinite(v):
        with mpmath.workprec(53):
            return (d, +v)
    return "nan" if d != d else d


def is_tie(v):
    """Whether an mpf lies exactly halfway between two normal doubles (54 significant
    bits; mpmath keeps mantissas odd)."""
    if v is None or not mpmath.isfinite(v) or v == 0:
        return False
    sign, man, exp, bc = v._mpf_
    return bc == 54 and -1021 <= exp + bc <= 1024


HYPERBOLIC = [sp.tanh, sp.sinh, sp.cosh, sp.sech, sp.csch, sp.coth]


def exponential_form(expr):
    """The hyperbolic functions written as exponentials, then over one denominator
    with common factors cancelled: 1 - tanh(u)^2 becomes 4*e^(2*u)/(e^(2*u) + 1)^2."""
    for f in HYPERBOLIC:
        expr = expr.rewrite(f, sp.exp)
    return sp.cancel(sp.together(expr, deep=True))


# The rewritten forms the oracle falls back on, in order, where the expression as
# written does not settle: each is equal to the expression, with less cancellation.
REWRITES = [
    lambda e: sp.together(e, deep=True),
    lambda e: sp.cancel(sp.together(e, deep=True)),
    exponential_form,
]


class Oracle:
    """The true values of one SymPy expression: Monte Carlo arithmetic at each precision
    of PRECISIONS, on the expression as written and then on the REWRITES of it (built
    when first needed), until one of them settles."""

    def __init__(self, expr, seed):
        self.expr = expr
        self.forms = [compile_expr(expr)]
        self.seen = {expr}
        self.rewrites = list(REWRITES)
        self.rng = random.Random(seed)

    def form(self, k):
        """The k-th distinct form, building rewritten ones on demand; None past the last."""
        while len(self.forms) <= k and self.rewrites:
            try:
                other = self.rewrites.pop(0)(self.expr)
            except Exception:  # SymPy refused the rewrite (cancel of a Piecewise, ...)
                continue
            if other not in self.seen:
                self.seen.add(other)
                self.forms.append(compile_expr(other))
        return self.forms[k] if k < len(self.forms) else None

    def settle(self, form, env, prec):
        """The double that one unperturbed and PERTURBED_RUNS perturbed evaluations at
        prec bits all agree on (NaN when all are undefined), or None when they differ.
        An unperturbed value exactly halfway between two doubles (a sum of two doubles
        often is one) stands when the perturbed ones stray from it by no more than the
        perturbation's own size."""
        def run(noise):
            try:
                v = real(form(env, noise))
                return settle_key(v), v
            except (ArithmeticError, ValueError):
                return "nan", None

        rng = self.rng
        with mpmath.workprec(prec):
            scale = mpmath.ldexp(mpmath.mpf(1), 8 - prec)
            key, value = run(lambda v: v)
            for _ in range(PERTURBED_RUNS):
                other_key, other = run(lambda v: v * (1 + scale * (2 * rng.random() - 1)))
                tie_flip = (is_tie(value) and other is not None
                            and abs(other - value) <= 2**16 * scale * abs(value))
                if other_key != key and not tie_flip:
                    return None
        if key == "nan":
            return math.nan
        return key[0] if isinstance(key, tuple) else key

    def truth(self, point):
        """The true value at a point (dict variable name -> float) rounded to a double,
        NaN where it is undefined, or None when no form settles at any precision."""
        env = {sp.Symbol(k, real=True): mpmath.mpf(v) for k, v in point.items()}
        for prec in PRECISIONS:
            k = 0
            while (form := self.form(k)) is not None:
                value = self.settle(form, env, prec)
                if value is not None:
                    return value
                k += 1
        return None


# ---- points ---------------------------------------------------------------------------

def domain_parts(domain):
    """A domain as a list of parts: "all", "positive" or (a, b)."""
    if isinstance(domain, str):
        if domain not in ("all", "positive"):
            raise ValueError(f"unknown domain {domain!r}")
        return [domain]
    if len(domain) == 2 and all(isinstance(v, (int, float)) for v in domain):
        return [(float(domain[0]), float(domain[1]))]
    return [part for d in domain for part in domain_parts(d)]


def draw(rng, parts):
    """One random value from a domain's parts."""
    part = rng.choice(parts)
    if isinstance(part, tuple):
        return rng.uniform(*part)
    magnitude = 10.0 ** rng.uniform(-300, 300)
    return magnitude if part == "positive" or rng.random() < 0.5 else -magnitude


def suspects(parts):
    """The suspect values of a domain: the usual suspects inside it, and the ends of
    its intervals."""
    found = set()
    for part in parts:
        if part == "all":
            found.update(SUSPECTS)
        elif part == "positive":
            found.update(s for s in SUSPECTS if s > 0)
        else:
            found.update(part)
            found.update(s for s in SUSPECTS if part[0] < s < part[1])
    return sorted(found)


def make_points(entry, n, seed):
    """The points of a formula: n random ones, then each variable's suspects with the
    other variables random. Deterministic for (seed, id)."""
    rng = random.Random(f"{seed}:{entry['id']}")
    parts = {v: domain_parts(d) for v, d in entry["domains"].items()}
    names = list(parts)
    points = [{v: draw(rng, parts[v]) for v in names} for _ in range(n)]
    for v in names:
        for s in suspects(parts[v]):
            point = {w: draw(rng, parts[w]) for w in names}
            point[v] = s
            points.append(point)
    return points


# ---- deriv ----------------------------------------------------------------------------

def run_deriv(deriv, args, program):
    """stdout of `deriv ARGS -- PROGRAM`; raises RuntimeError with stderr on failure."""
    proc = subprocess.run([deriv, *args, "--", program], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[0] if proc.stderr else "failed")
    return proc.stdout


def derive_programs(deriv, entry, statements):
    """The program of each form: f is the function; d1 and d2 are what `deriv diff`
    prints, after the function's definitions; d1_input stands alone. A form deriv
    cannot derive maps to its error message (a str starting with "error")."""
    definitions = [text for name, _, text in statements if name]
    prefix = "; ".join(definitions + [""]) if definitions else ""
    programs = {"f": entry["function"]}
    for form, extra in (("d1", []), ("d1_input", ["--form", "input"]), ("d2", ["--order", "2"])):
        try:
            printed = run_deriv(deriv, ["diff", "--wrt", entry["wrt"], *extra], entry["function"])
            printed = printed.strip()
            programs[form] = printed if form == "d1_input" else prefix + printed
        except RuntimeError as err:
            programs[form] = None
            programs[f"{form}_error"] = str(err)
    return programs


def batch_eval_supported(deriv):
    """Whether `deriv eval --points FILE` exists (checked once per run)."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("x\n2\n")
    try:
        proc = subprocess.run([deriv, "eval", "--points", f.name, "--", "x"],
                              capture_output=True, text=True)
        return proc.returncode == 0 and [parse_value(v) for v in proc.stdout.split()] == [2.0]
    finally:
        os.unlink(f.name)


def parse_value(text):
    """A printed number as a float; anything unreadable is NaN."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def eval_points(deriv, program, names, points, batch, jobs, errors):
    """deriv eval of a program at every point: one process with --points FILE, or one
    process per point with --at, where an error exit counts as NaN (its message is
    added to the set errors unless it says the value is not finite)."""
    if batch:
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write(",".join(names) + "\n")
            for p in points:
                f.write(",".join(repr(p[v]) for v in names) + "\n")
        try:
            out = run_deriv(deriv, ["eval", "--points", f.name], program).split()
        finally:
            os.unlink(f.name)
        if len(out) != len(points):
            raise RuntimeError(f"deriv eval --points gave {len(out)} values for {len(points)} points")
        return [parse_value(s) for s in out]

    def one(p):
        at = ",".join(f"{v}={p[v]!r}" for v in names)
        proc = subprocess.run([deriv, "eval", "--at", at, "--", program],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return parse_value(proc.stdout.strip())
        message = (proc.stderr.strip().splitlines() or ["no message"])[0]
        if "not a finite real number" not in message:
            errors.add(message)
        return math.nan

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, points))


# ---- generated code, one program per language ---------------------------------------

SIGNATURES = {
    "rust": r"pub fn {}\(([^)]*)\)",
    "c": r"double {}\(([^)]*)\)",
    "python": r"def {}\(([^)]*)\)",
    "numpy": r"def {}\(([^)]*)\)",
}


def parameters(lang, code, name):
    """The parameter names of the generated forward function NAME, in order."""
    m = re.search(SIGNATURES[lang].format(re.escape(name)), code)
    if not m:
        raise RuntimeError(f"no function {name} in the generated {lang}")
    params = [p.strip() for p in m.group(1).split(",") if p.strip()]
    return [p.split(":")[0].strip() if lang == "rust" else p.split()[-1] for p in params]


class Job:
    """One generated function to run at every point of its formula: the forward of a
    form, or (backward) f's backward pass with grad = 1 and y = f's forward."""

    def __init__(self, key, code, name, params, backward):
        self.key = key          # (formula id, form)
        self.code = code
        self.name = name
        self.params = params
        self.backward = backward


def rust_program(jobs):
    """One Rust program: every generated file in a module of its own, and a main that
    reads `k v1 v2 ...` lines and prints job k's value with {:?}."""
    modules, arms = [], []
    for k, job in enumerate(jobs):
        args = ", ".join(f"a[{i}]" for i in range(len(job.params)))
        call = f"m{k}::{job.name}({args})"
        if job.backward:
            call = (f"{{ let y = m{k}::{job.name}({args}); "
                    f"m{k}::{job.name}_backward({args}{', ' if args else ''}y, 1.0) }}")
        modules.append(f"mod m{k} {{\n{job.code}\n}}\n")
        arms.append(f"        {k} => {call},")
    return ("#![allow(warnings)]\n" + "".join(modules) + """
fn call(k: usize, a: &[f64]) -> f64 {
    match k {
""" + "\n".join(arms) + """
        _ => f64::NAN,
    }
}

fn main() {
    use std::io::{BufRead, Write};
    let mut out = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        let k: usize = words.next().unwrap().parse().unwrap();
        let a: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
        out.push_str(&format!("{:?}\\n", call(k, &a)));
    }
    std::io::stdout().write_all(out.as_bytes()).unwrap();
}
""")


def c_program(jobs):
    """One C program likewise (the generated files concatenated; names are unique),
    printing with %.17g."""
    cases = []
    for k, job in enumerate(jobs):
        args = ", ".join(f"a[{i}]" for i in range(len(job.params)))
        if job.backward:
            cases.append(f"    case {k}: {{ double y = {job.name}({args}); "
                         f"return {job.name}_backward({args}{', ' if args else ''}y, 1.0); }}")
        else:
            cases.append(f"    case {k}: return {job.name}({args});")
    # (A backward job shares its file with the forward job of the same name.)
    files = {job.name: job.code for job in jobs}
    return ("#include <stdio.h>\n#include <stdlib.h>\n#include <math.h>\n"
            + "\n".join(files.values()) + """
static double call(int k, const double *a) {
    switch (k) {
""" + "\n".join(cases) + """
    default: return NAN;
    }
}

int main(void) {
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        char *s, *end;
        double a[64];
        int n = 0, k = (int)strtol(line, &s, 10);
        for (;;) {
            double v = strtod(s, &end);
            if (end == s || n == 64) break;
            a[n++] = v;
            s = end;
        }
        printf("%.17g\\n", call(k, a));
    }
    return 0;
}
""")


def run_compiled(lang, jobs, inputs, workdir):
    """Compiles the one program of a language (Rust or C), runs every (job, point)
    line through it, and returns the values in order."""
    src = os.path.join(workdir, "acc.rs" if lang == "rust" else "acc.c")
    exe = os.path.join(workdir, f"acc_{lang}")
    with open(src, "w") as f:
        f.write(rust_program(jobs) if lang == "rust" else c_program(jobs))
    cmd = (["rustc", "-O", "--edition", "2021", "-o", exe, src] if lang == "rust"
           else ["gcc", "-O2", "-o", exe, src, "-lm"])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{proc.stderr[-3000:]}")
    lines = "".join(f"{k} {' '.join(repr(v) for v in vals)}\n" for k, vals in inputs)
    run = subprocess.run([exe], input=lines, capture_output=True, text=True, check=True)
    return [parse_value(s) for s in run.stdout.split()]


def load_python(job):
    """The generated module of a Python or NumPy job, executed in its own namespace."""
    namespace = {}
    exec(compile(job.code, f"<{job.name}>", "exec"), namespace)
    return namespace


def call_python(function, *args):
    """A generated Python function's value; an exception (math domain error, overflow,
    division by zero) is a NaN."""
    try:
        return float(function(*args))
    except (ArithmeticError, ValueError):
        return math.nan


def run_python(job, columns):
    """A Python job at every point, one call each. For the backward pass, a forward
    that raises gives y = NaN."""
    ns = load_python(job)
    forward = ns[job.name]
    if not job.backward:
        return [call_python(forward, *args) for args in zip(*columns)]
    backward = ns[job.name + "_backward"]
    return [call_python(backward, *args, call_python(forward, *args), 1.0)
            for args in zip(*columns)]


def run_numpy(job, columns, n):
    """A NumPy job on float64 arrays of every point at once."""
    ns = load_python(job)
    arrays = [np.array(c, dtype=np.float64) for c in columns]
    with np.errstate(all="ignore"):
        if job.backward:
            y = ns[job.name](*arrays)
            result = ns[job.name + "_backward"](*arrays, y, np.ones(n))
        else:
            result = ns[job.name](*arrays)
    return [float(v) for v in np.broadcast_to(np.asarray(result, dtype=np.float64), (n,))]


# ---- error in bits --------------------------------------------------------------------

def ordinal(x):
    """The double's position in the order of all doubles (+0 and -0 both 0)."""
    i = struct.unpack("<q", struct.pack("<d", x))[0]
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def bits(computed, truth):
    """Herbie's bits of error, log2(1 + ordinal distance); 64 for a non-finite result."""
    if not math.isfinite(computed):
        return 64.0
    return math.log2(1 + abs(ordinal(computed) - ordinal(truth)))


def summarise(values, truths, points):
    """Non-finite share, mean and max bits and the worst point over the points where the
    truth is a finite double."""
    scored = [(bits(v, t), i) for i, (v, t) in enumerate(zip(values, truths))
              if t is not None and math.isfinite(t)]
    if not scored:
        return None
    nonfinite = sum(1 for _, i in scored if not math.isfinite(values[i]))
    worst_bits, worst = max(scored)
    return {
        "points": len(scored),
        "nonfinite": nonfinite / len(scored),
        "mean_bits": sum(b for b, _ in scored) / len(scored),
        "max_bits": worst_bits,
        "worst": {"point": points[worst], "truth": truths[worst],
                  # as text when not finite, so that the JSON stays standard
                  "computed": values[worst] if math.isfinite(values[worst]) else str(values[worst])},
    }


def breaks(row):
    """Whether a row breaks the thresholds."""
    return row["nonfinite"] > 0 or row["mean_bits"] > MEAN_LIMIT or row["max_bits"] > MAX_LIMIT


# ---- the run --------------------------------------------------------------------------

class Formula:
    """One corpus entry: its SymPy expressions (f, d1, d2), points, the programs deriv
    derives, and the truths."""

    def __init__(self, entry, args):
        self.entry = entry
        self.id = entry["id"]
        self.names = list(entry["domains"])
        statements = parse_program(entry["function"])
        f = ToSympy(statements).result()
        free = {s.name for s in f.free_symbols}
        if not free <= set(self.names) or entry["wrt"] not in self.names:
            raise ValueError(f"{self.id}: domains {self.names} do not cover {sorted(free)} and wrt")
        wrt = sp.Symbol(entry["wrt"], real=True)
        d1 = sp.diff(f, wrt)
        self.exprs = {"f": f, "d1": d1, "d2": sp.diff(d1, wrt)}
        self.points = make_points(entry, args.points, args.seed)
        self.programs = derive_programs(args.deriv, entry, statements)
        self.truths = {}
        self.unresolved = {}

    def compute_truths(self, seed):
        """The true value of f, d1 and d2 at every point (None where unresolved)."""
        for key, expr in self.exprs.items():
            oracle = Oracle(expr, f"{seed}:{self.id}:{key}")
            self.truths[key] = [oracle.truth(p) for p in self.points]
            self.unresolved[key] = sum(1 for t in self.truths[key] if t is None)

    def slug(self, form):
        """The name of a form's generated function, unique in the run."""
        return re.sub(r"\W", "_", self.id) + "__" + form


def generate_jobs(formulas, lang, deriv, notes):
    """The jobs of a language: each form's forward function, and f's backward."""
    jobs = []
    for fm in formulas:
        for form in FORMS:
            program = fm.programs.get(form)
            if program is None:
                continue
            name = fm.slug(form)
            try:
                code = run_deriv(deriv, ["codegen", "--wrt", fm.entry["wrt"], "--lang", lang,
                                         "--name", name], program)
                params = parameters(lang, code, name)
            except RuntimeError as err:
                notes.append(f"{fm.id} {form} {lang}: codegen failed: {err}")
                continue
            jobs.append(Job((fm.id, form), code, name, params, False))
            if form == "f":
                jobs.append(Job((fm.id, "backward"), code, name, params, True))
                name = fm.slug("f_from_inputs")
                try:
                    code = run_deriv(deriv, ["codegen", "--wrt", fm.entry["wrt"], "--lang", lang,
                                             "--name", name, "--backward", "input"], program)
                except RuntimeError as err:
                    notes.append(f"{fm.id} backward_input {lang}: codegen failed: {err}")
                    continue
                jobs.append(Job((fm.id, "backward_input"), code, name, params, True))
    return jobs


def measure_language(lang, formulas, deriv, workdir, notes):
    """{(formula id, form): values at the formula's points} for one language."""
    by_id = {fm.id: fm for fm in formulas}
    jobs = generate_jobs(formulas, lang, deriv, notes)
    columns = {job.key: [[p[v] for p in by_id[job.key[0]].points] for v in job.params]
               for job in jobs}
    if lang in ("rust", "c"):
        inputs = [(k, vals) for k, job in enumerate(jobs) for vals in zip(*columns[job.key])]
        flat = run_compiled(lang, jobs, inputs, workdir)
        results, pos = {}, 0
        for job in jobs:
            n = len(by_id[job.key[0]].points)
            results[job.key] = flat[pos:pos + n]
            pos += n
        return results
    results = {}
    for job in jobs:
        try:
            if lang == "python":
                results[job.key] = run_python(job, columns[job.key])
            else:
                results[job.key] = run_numpy(job, columns[job.key], len(by_id[job.key[0]].points))
        except Exception as err:  # generated code that does not load or run at all
            notes.append(f"{job.key[0]} {job.key[1]} {lang}: {type(err).__name__}: {err}")
    return results


def measure_eval(formulas, deriv, jobs, notes):
    """{(formula id, form): values} from deriv eval."""
    batch = batch_eval_supported(deriv)
    if not batch:
        notes.append("deriv eval has no --points: one process per point (--at)")
    results = {}
    for fm in formulas:
        for form in FORMS:
            program = fm.programs.get(form)
            if program is None:
                continue
            errors = set()
            try:
                results[(fm.id, form)] = eval_points(deriv, program, fm.names, fm.points,
                                                     batch, jobs, errors)
            except RuntimeError as err:
                notes.append(f"{fm.id} {form} eval: {err}")
            notes.extend(f"{fm.id} {form} eval: {e}" for e in sorted(errors))
    return results


def fmt(x):
    """A double (or the text of a non-finite one), short."""
    return f"{x:.6g}" if isinstance(x, float) and math.isfinite(x) else str(x)


def cell(row):
    """A table cell: mean/max bits, and the non-finite share when there is one."""
    if row is None:
        return "-"
    text = f"{row['mean_bits']:.2f}/{row['max_bits']:.0f}"
    if row["nonfinite"]:
        text += f" nf{100 * row['nonfinite']:.0f}%"
    return text + ("!" if breaks(row) and not row.get("excepted") else "")


def report(formulas, rows, impls, notes, out):
    """The table (formula x form rows, implementation columns), then the rows breaking
    the thresholds, worst first, then the oracle's skipped points and notes."""
    index = {(r["id"], r["form"], r["impl"]): r for r in rows}
    width = max(len(fm.id) for fm in formulas)
    header = f"{'formula':<{width}}  {'form':<14}" + "".join(f"{i:>16}" for i in impls)
    print("bits of error: mean/max over the points with a finite true value; nf = share "
          "not finite; ! = breaks the thresholds", file=out)
    print(header, file=out)
    for fm in formulas:
        for form in FORMS + BACKWARDS:
            cells = [cell(index.get((fm.id, form, i))) for i in impls]
            if any(c != "-" for c in cells):
                print(f"{fm.id:<{width}}  {form:<14}" + "".join(f"{c:>16}" for c in cells), file=out)
    bad = sorted((r for r in rows if breaks(r)),
                 key=lambda r: (-r["nonfinite"], -r["mean_bits"], -r["max_bits"]))
    print(f"\n{len(bad)} of {len(rows)} rows break the thresholds (mean > {MEAN_LIMIT:g}, "
          f"max > {MAX_LIMIT:g} bits, or any non-finite), worst first; implementations "
          "with the same figures share a line:", file=out)
    groups = {}
    for r in bad:
        w = r["worst"]
        at = ", ".join(f"{k}={fmt(v)}" for k, v in w["point"].items())
        flag = f"  [excepted: {r['excepted']}]" if r.get("excepted") else ""
        text = (f"nf {100 * r['nonfinite']:.1f}%, mean {r['mean_bits']:.2f}, max "
                f"{r['max_bits']:.0f} at {at}: got {fmt(w['computed'])}, true {fmt(w['truth'])}{flag}")
        groups.setdefault((r["id"], r["form"], text), []).append(r["impl"])
    for (fid, form, text), group in groups.items():
        print(f"  {fid} {form} [{', '.join(group)}]: {text}", file=out)
    print("\noracle: points skipped per formula (true value not a finite double / unresolved)",
          file=out)
    for fm in formulas:
        parts = []
        for key in ("f", "d1", "d2"):
            skipped = sum(1 for t in fm.truths[key] if t is not None and not math.isfinite(t))
            parts.append(f"{key} {skipped}/{fm.unresolved[key]}")
        print(f"  {fm.id:<{width}}  {len(fm.points)} points; " + ", ".join(parts), file=out)
    for note in notes:
        print(f"note: {note}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deriv", default="target/release/deriv")
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "accuracy.json"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--points", type=int, default=None,
                    help="random points per formula (default 200, or 10 with --sample)")
    ap.add_argument("--only", action="append", help="a formula id (repeatable)")
    ap.add_argument("--langs", default=",".join(IMPLS), help="implementations to measure")
    ap.add_argument("--jobs", type=int, default=2, help="deriv processes at once")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--sample", action="store_true", help="the quick subset for CI")
    ap.add_argument("--check", action="store_true", help="exit 1 when a row breaks the thresholds")
    args = ap.parse_args()
    if args.points is None:
        args.points = SAMPLE_POINTS if args.sample else 200
    impls = [i for i in args.langs.split(",") if i]
    unknown = set(impls) - set(IMPLS)
    if unknown:
        ap.error(f"unknown implementations {sorted(unknown)}; choose from {IMPLS}")

    started = time.time()
    with open(args.corpus) as f:
        corpus = json.load(f)
    if args.only:
        missing = set(args.only) - {e["id"] for e in corpus}
        if missing:
            ap.error(f"no formula {sorted(missing)} in the corpus")
        corpus = [e for e in corpus if e["id"] in args.only]

    notes = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        formulas = list(pool.map(lambda e: Formula(e, args), corpus))
    for fm in formulas:
        for form in FORMS:
            if fm.programs.get(form) is None:
                notes.append(f"{fm.id} {form}: deriv diff failed: {fm.programs[form + '_error']}")
    truth_started = time.time()
    for fm in formulas:
        fm.compute_truths(args.seed)
    truth_time = time.time() - truth_started

    values, timings = {}, {"oracle": truth_time}
    with tempfile.TemporaryDirectory(prefix="deriv-acc-") as workdir:
        for impl in impls:
            impl_started = time.time()
            try:
                if impl == "eval":
                    values["eval"] = measure_eval(formulas, args.deriv, args.jobs, notes)
                else:
                    values[impl] = measure_language(impl, formulas, args.deriv, workdir, notes)
            except (RuntimeError, subprocess.CalledProcessError) as err:
                notes.append(f"{impl}: {err}")
            timings[impl] = time.time() - impl_started

    rows = []
    for fm in formulas:
        exceptions = fm.entry.get("exceptions", {})
        for impl in impls:
            for form in FORMS + BACKWARDS:
                got = values.get(impl, {}).get((fm.id, form))
                if got is None:
                    continue
                row = summarise(got, fm.truths[TRUTH_OF[form]], fm.points)
                if row is None:
                    continue
                row.update(id=fm.id, form=form, impl=impl)
                for key in (f"{form}/{impl}", f"{form}/*", f"*/{impl}", "*/*"):
                    if key in exceptions:
                        row["excepted"] = exceptions[key]
                        break
                rows.append(row)

    print(f"deriv accuracy: {len(formulas)} formulas, {args.points} random points each plus "
          f"suspects, seed {args.seed}, {', '.join(impls)}")
    report(formulas, rows, impls, notes, sys.stdout)
    elapsed = time.time() - started
    print(f"\n{elapsed:.1f} s in all; " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "seed": args.seed, "points": args.points, "implementations": impls,
                "seconds": round(elapsed, 1), "timings": timings, "notes": notes, "rows": rows,
                "formulas": [{"id": fm.id, "programs": fm.programs, "n_points": len(fm.points),
                              "unresolved": fm.unresolved} for fm in formulas],
            }, f, indent=1, allow_nan=False)
    failing = [r for r in rows if breaks(r) and not r.get("excepted")]
    if args.check and failing:
        print(f"check: {len(failing)} rows break the thresholds", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
