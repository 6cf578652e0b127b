"""deriv's text syntax read into SymPy (for ``Result.to_sympy``)."""

from __future__ import annotations

import re
from typing import Any, Dict


def _namespace() -> Dict[str, Any]:
    import sympy as sp

    x = sp.Symbol("x")

    def piecewise(*args: Any) -> Any:
        pairs = [(args[i + 1], args[i]) for i in range(0, len(args) - 1, 2)]
        return sp.Piecewise(*pairs, (args[-1], True))

    def log(a: Any, b: Any = None) -> Any:
        # deriv's log(b, x) is the base-b logarithm of x.
        return sp.log(a) if b is None else sp.log(b) / sp.log(a)

    class cbrt(sp.Function):  # noqa: N801 (named as deriv prints it)
        """deriv's cbrt, the real cube root (SymPy's cbrt is the principal root, and its
        real_root does not differentiate)."""

        @classmethod
        def eval(cls, a: Any) -> Any:
            return sp.real_root(a, 3) if a.is_number else None

        def fdiff(self, argindex: int = 1) -> Any:
            return 1 / (3 * cbrt(self.args[0]) ** 2)

    return {
        "e": sp.E,
        "pi": sp.pi,
        "ln": sp.log,
        "log": log,
        "exp": sp.exp,
        "sqrt": sp.sqrt,
        "abs": sp.Abs,
        "sign": sp.sign,
        "erf": sp.erf,
        "erfc": sp.erfc,
        "sigmoid": sp.Lambda(x, 1 / (1 + sp.exp(-x))),
        "softplus": sp.Lambda(x, sp.log(1 + sp.exp(x))),
        "relu": sp.Lambda(x, sp.Max(0, x)),
        "log10": sp.Lambda(x, sp.log(x, 10)),
        "log2": sp.Lambda(x, sp.log(x, 2)),
        "cbrt": cbrt,
        "expm1": sp.Lambda(x, sp.exp(x) - 1),
        "log1p": sp.Lambda(x, sp.log(1 + x)),
        "heaviside": sp.Lambda(x, sp.Heaviside(x, 0)),
        "step": sp.Lambda(x, sp.Heaviside(x, 0)),
        "max": sp.Max,
        "min": sp.Min,
        "clamp": lambda u, lo, hi: sp.Min(sp.Max(u, lo), hi),
        "_if": piecewise,
        **{f: getattr(sp, f) for f in ("sin", "cos", "tan", "sec", "csc", "cot", "asin", "acos", "atan",
                                       "sinh", "cosh", "tanh", "sech", "csch", "coth", "asinh", "acosh",
                                       "atanh", "asec", "acsc", "acot", "acoth", "asech", "acsch")},
    }


def to_sympy(text: str) -> Any:
    """``text`` (deriv's syntax, as deriv prints it) as a SymPy expression."""
    import sympy as sp
    from sympy.parsing.sympy_parser import parse_expr

    if "[" in text or re.search(r"\b(sum|prod|delta)\(", text):
        raise NotImplementedError("index notation (x[i], sum, delta) has no SymPy form here")
    source = re.sub(r"\bif\(", "_if(", text.replace("^", "**"))
    names = _namespace()
    # Every other name is a symbol (a variable, or a definition's name such as p).
    for name in set(re.findall(r"[A-Za-z_][A-Za-z_0-9']*", source)) - set(names):
        names[name] = sp.Symbol(name)
    return parse_expr(source, local_dict=names, evaluate=True)
