"""deriv: symbolic differentiation that prints derivatives the way people write them.

>>> import deriv
>>> print(deriv.diff("p = e^z/(1+e^z)", "z"))
p*(1 - p)
>>> print(deriv.diff("sinh(x)/cosh(x)", "x"))
1 - tanh(x)^2

Expressions are written in deriv's syntax (``^`` for powers, ``e^x``, ``ln``,
``sigmoid``, ``softplus``, ``relu``, indices ``x[i]``, ``sum(k, ...)``); a program may
start with definitions (``p = ...;`` or ``let=["p = ..."]``) and ends in the
expression to differentiate. Results render as LaTeX in a notebook, carry the
derivation (``.steps``), a numeric check (``.check()``), SymPy (``.to_sympy()``) and
generated code (``.codegen()``); :func:`function` compiles an expression and its
backward pass into NumPy, in numerically stable forms.
"""

from __future__ import annotations

import json as _json
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _native

__all__ = [
    "diff",
    "grad",
    "jacobian",
    "hessian",
    "simplify",
    "parse",
    "eval",
    "function",
    "Result",
    "Steps",
    "CheckReport",
    "Error",
    "ParseError",
    "DerivError",
]

__version__ = "0.1.0"

Lets = Union[None, str, Sequence[str], Dict[str, str]]
Names = Union[str, Sequence[str]]

FORMS = ("auto", "output", "input", "raw")


class Error(ValueError):
    """An error reported by deriv. ``str()`` is the message with its caret, as the
    command line prints it; ``message`` is the first line alone; ``line`` and ``column``
    (1-based) locate the fault in the program text, when it has a place."""

    def __init__(self, message: str, rendered: str, line: Optional[int], column: Optional[int]):
        super().__init__(rendered)
        self.message = message
        self.rendered = rendered
        self.line = line
        self.column = column

    @property
    def caret(self) -> str:
        """The text as rendered, with the caret under the column."""
        return self.rendered


class ParseError(Error):
    """The text is not an expression deriv reads (a syntax error, an unknown function)."""


class DerivError(Error):
    """Well-formed text whose request cannot be answered (an unknown variable, a limit)."""


def _raise(err: BaseException) -> None:
    syntax, message, rendered, line, column, _kind = err.args
    cls = ParseError if syntax else DerivError
    raise cls(message, rendered, line, column) from None


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _native.NativeError as e:
        _raise(e)


def _lets(let: Lets) -> List[str]:
    if let is None:
        return []
    if isinstance(let, str):
        return [let]
    if isinstance(let, dict):
        return [f"{name} = {body}" for name, body in let.items()]
    return list(let)


def _names(wrt: Optional[Names]) -> Optional[str]:
    if wrt is None:
        return None
    if isinstance(wrt, str):
        return wrt
    return ",".join(wrt)


def _form(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    return form


def _assume(assume: Union[None, str, Sequence[str]]) -> List[str]:
    if assume is None:
        return []
    if isinstance(assume, str):
        return [assume]
    return list(assume)


class CheckReport:
    """The numeric verification of a result against forward-mode dual numbers at random
    points. ``passed`` is whether the largest relative error is within ``tolerance``."""

    def __init__(self, passed: bool, text: str, tolerance: float):
        self.passed = passed
        self.text = text
        self.tolerance = tolerance

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"CheckReport(passed={self.passed!r}, {self.text!r})"


class Steps:
    """A derivation step by step: ``str()`` is the table ``deriv diff --steps`` prints,
    ``latex`` the aligned LaTeX, rendered in a notebook."""

    def __init__(self, text: str, latex: str):
        self.text = text
        self.latex = latex

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_latex_(self) -> str:
        return f"$${self.latex.strip()}$$"

    _repr_markdown_ = _repr_latex_


class Result:
    """What a request gives: ``str()`` is deriv's text (which reads back), ``latex`` the
    LaTeX, and a notebook shows the math rendered. ``parts`` holds the components of a
    gradient and ``rows`` the rows of a matrix, as text."""

    def __init__(self, kind: str, request: Dict[str, Any], rendered: tuple):
        text, latex, json_text, note = rendered
        self.kind = kind
        self.text = text.rstrip("\n")
        self.latex = latex.rstrip("\n")
        self.json = _json.loads(json_text)
        self._note = note
        self._request = request
        if kind == "grad":
            # One component per line is no display: an aligned block, each labelled by
            # its variable.
            rows = []
            for part in self.json["gradient"]:
                var = _call(_native.run, "parse", part["variable"], [])[1].strip()
                rows.append(f"\\frac{{\\partial}}{{\\partial {var}}} &= {part['latex']}")
            self.latex = "\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}"

    # ---- as text and math

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<deriv.Result {self.kind}: {self.text}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return self.text == other.text
        if isinstance(other, str):
            return self.text == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        return f"$${self.latex}$$"

    @property
    def parts(self) -> List[str]:
        """The results one per line: a gradient's components (by its variables in order)."""
        return self.text.splitlines()

    # ---- what else a result knows

    @property
    def steps(self) -> Steps:
        """The derivation, step by step (first derivatives from ``diff``)."""
        if self.kind != "diff":
            raise DerivError("steps are shown for `diff` alone", "error: steps are shown for `diff` alone", None, None)
        r = self._request
        text, latex, _, _ = _call(_native.run, "steps", r["program"], r["lets"], r["wrt"], 1, r["form"], r["assume"])
        return Steps(text.rstrip("\n"), latex)

    def check(self, tolerance: float = 1e-9) -> CheckReport:
        """Verifies the result numerically against forward-mode dual numbers at random
        points (what ``--check`` does on the command line)."""
        r = self._request
        try:
            rendered = _native.run(self.kind, r["program"], r["lets"], r["wrt"], r["order"], r["form"], r["assume"],
                                   float(tolerance))
        except _native.NativeError as e:
            if e.args[5] in ("CheckFailed", "NoCheckPoint"):
                return CheckReport(False, e.args[2], tolerance)
            _raise(e)
        note = rendered[3] or ""
        return CheckReport(True, note.strip(), tolerance)

    def to_sympy(self) -> Any:
        """The result as a SymPy expression (a list for a gradient, a Matrix for a
        matrix). Needs SymPy."""
        from ._sympy import to_sympy

        if self.kind in ("jacobian", "hessian"):
            import sympy

            return sympy.Matrix([[to_sympy(t) for t in row] for row in self.json["text"]])
        if self.kind == "grad":
            return [to_sympy(t) for t in self.parts]
        return to_sympy(self.text)

    def codegen(self, lang: str = "numpy", name: Optional[str] = None, backward: str = "output") -> str:
        """Source code for the request's expression and its backward pass, in ``lang``
        (numpy, python, c or rust): the code ``deriv codegen`` writes."""
        r = self._request
        return _call(_native.codegen, r["program"], r["lets"], r["wrt"], name, lang, backward)


def _request(kind: str, expr: str, wrt: Optional[Names], let: Lets, order: int, form: str,
             assume: Union[None, str, Sequence[str]]) -> Result:
    if kind == "jacobian" and isinstance(expr, (list, tuple)):
        expr = "; ".join(expr)
    if not isinstance(expr, str):
        raise TypeError(f"expr must be a string of deriv's syntax, not {type(expr).__name__}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, not {order!r}")
    request = {"program": expr, "lets": _lets(let), "wrt": _names(wrt), "order": order,
               "form": _form(form), "assume": _assume(assume)}
    rendered = _call(_native.run, kind, request["program"], request["lets"], request["wrt"], order,
                     request["form"], request["assume"])
    return Result(kind, request, rendered)


def diff(expr: str, wrt: Optional[str] = None, *, let: Lets = None, order: int = 1, form: str = "auto",
         assume: Union[None, str, Sequence[str]] = None) -> Result:
    """The derivative of ``expr`` by ``wrt`` (which may be left out when there is one
    variable), simplified into the form people write: in terms of the program's names
    (``p = ...``) where that is cheaper.

    >>> str(diff("p = e^z/(1+e^z)", "z"))
    'p*(1 - p)'
    >>> str(diff("x^3", order=2))
    '6*x'
    >>> str(diff("e^z/(1+e^z)", "z", form="raw"))
    'e^z/(1 + e^z) - e^(2*z)/(1 + e^z)^2'
    """
    return _request("diff", expr, wrt, let, order, form, assume)


def grad(expr: str, wrt: Names, *, let: Lets = None, form: str = "auto",
         assume: Union[None, str, Sequence[str]] = None) -> Result:
    """One partial derivative per variable of ``wrt`` (a list, or names separated by
    commas), in order; ``.parts`` lists them.

    >>> grad("x^2*y", ["x", "y"]).parts
    ['2*x*y', 'x^2']
    """
    return _request("grad", expr, wrt, let, 1, form, assume)


def jacobian(exprs: Union[str, Sequence[str]], wrt: Names, *, let: Lets = None, form: str = "auto",
             assume: Union[None, str, Sequence[str]] = None) -> Result:
    """The Jacobian: one row per expression (a list, or definitions separated by ``;``,
    one row per definition), one column per variable.

    >>> jacobian(["x*y", "x + y"], ["x", "y"]).json["text"]
    [['y', 'x'], ['1', '1']]
    """
    return _request("jacobian", exprs, wrt, let, 1, form, assume)


def hessian(expr: str, wrt: Names, *, let: Lets = None, form: str = "auto",
            assume: Union[None, str, Sequence[str]] = None) -> Result:
    """The Hessian of ``expr`` by the variables of ``wrt``.

    >>> hessian("x^2*y", ["x", "y"]).json["text"]
    [['2*y', '2*x'], ['2*x', '0']]
    """
    return _request("hessian", expr, wrt, let, 1, form, assume)


def simplify(expr: str, *, let: Lets = None, form: str = "auto") -> Result:
    """``expr`` in its cheapest form (in terms of the names where that is cheaper).

    >>> str(simplify("sinh(x)/cosh(x)"))
    'tanh(x)'
    """
    return _request("simplify", expr, None, let, 1, form, None)


def parse(expr: str, *, let: Lets = None) -> Result:
    """``expr`` read and written back in deriv's canonical form (definitions inlined).

    >>> str(parse("x*2 + x"))
    '3*x'
    """
    return _request("parse", expr, None, let, 1, "auto", None)


def eval(expr: str, at: Optional[Dict[str, float]] = None, *, let: Lets = None, **values: float) -> float:
    """The value of ``expr`` at a point, given as a dict or as keywords.

    >>> eval("x^2 + y", x=3, y=1)
    10.0
    """
    point = dict(at or {})
    point.update(values)
    text = ", ".join(f"{k}={float(v)!r}" for k, v in point.items())
    return _call(_native.evaluate, expr, _lets(let), text)


def function(expr: str, wrt: Optional[str] = None, *, let: Lets = None, name: Optional[str] = None,
             backward: str = "output") -> Callable[..., Any]:
    """``expr`` as a NumPy-vectorised function, compiled from the numerically stable
    code deriv generates; its ``.backward(*inputs, out, grad)`` is the backward pass by
    ``wrt`` (from the saved output where that is cheaper, as ``backward="output"``).
    ``.source`` is the generated code. Needs NumPy.

    >>> import numpy as np
    >>> f = function("1/(1+e^-z)")
    >>> f(np.array([0.0, 800.0, -800.0])).tolist()
    [0.5, 1.0, 0.0]
    >>> f.backward(np.array([0.0]), f(np.array([0.0])), 1.0).tolist()
    [0.25]
    """
    source = _call(_native.codegen, expr, _lets(let), wrt, name or "f", "numpy", backward)
    namespace: Dict[str, Any] = {}
    exec(compile(source, f"<deriv.function {expr!r}>", "exec"), namespace)
    fname = name or "f"
    forward = namespace[fname]
    back = namespace[f"{fname}_backward"]

    def call(*args: Any) -> Any:
        return forward(*args)

    call.__name__ = fname
    call.__doc__ = source.split("\n\n")[0].replace("# ", "")
    call.backward = back  # type: ignore[attr-defined]
    call.source = source  # type: ignore[attr-defined]
    return call
