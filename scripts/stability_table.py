#!/usr/bin/env python3
"""High-precision values for tests/codegen.rs's stability test.

Writes tests/data/stability.json: for each stable building block deriv must emit
(sigmoid, tanh, softplus, log-sigmoid, softmax, log-sum-exp and the activations built
on them), the value and the derivative by z at z in {-1000, -800, -50, 0, 50, 800, 1000},
computed with mpmath at 60 significant digits from closed forms written here
independently of deriv. A value too large for an f64 would be written as null, and the
test compares only finite values (every value in the table is finite).

Run from the repository root:  python3 scripts/stability_table.py
"""
import json
import pathlib

import mpmath as mp

mp.mp.dps = 60

POINTS = [-1000, -800, -50, 0, 50, 800, 1000]
W, V = mp.mpf(1), mp.mpf(-2)
T = mp.mpf(0.3)  # the double nearest 0.3, as the test passes it


def sig(x):
    return 1 / (1 + mp.exp(-x))


def softplus(x):
    return mp.log(1 + mp.exp(x))


def sech2(x):
    return 1 / mp.cosh(x) ** 2


# (id, deriv expression, fixed inputs, value(z), derivative by z(z))
CASES = [
    ("sigmoid_quotient", "e^z/(1+e^z)", {}, sig, lambda z: sig(z) * sig(-z)),
    ("sigmoid_reciprocal", "1/(1+e^-z)", {}, sig, lambda z: sig(z) * sig(-z)),
    ("sigmoid_builtin", "sigmoid(z)", {}, sig, lambda z: sig(z) * sig(-z)),
    ("tanh_quotient", "sinh(z)/cosh(z)", {}, mp.tanh, sech2),
    ("softplus", "ln(1+e^z)", {}, softplus, sig),
    ("logsigmoid", "-ln(1+e^-z)", {}, lambda z: -softplus(-z), lambda z: sig(-z)),
    ("silu", "z*sigmoid(z)", {}, lambda z: z * sig(z), lambda z: sig(z) + z * sig(z) * sig(-z)),
    ("mish", "z*tanh(softplus(z))", {}, lambda z: z * mp.tanh(softplus(z)),
     lambda z: mp.tanh(softplus(z)) + z * sig(z) * sech2(softplus(z))),
    ("gelu_erf", "z/2*(1 + erf(z/sqrt(2)))", {}, lambda z: z / 2 * (1 + mp.erf(z / mp.sqrt(2))),
     lambda z: (1 + mp.erf(z / mp.sqrt(2))) / 2 + z * mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)),
    ("softmax3_own", "e^z/(e^z + e^w + e^v)", {"w": "1", "v": "-2"},
     lambda z: mp.exp(z) / (mp.exp(z) + mp.exp(W) + mp.exp(V)),
     lambda z: (lambda p: p * (1 - p))(mp.exp(z) / (mp.exp(z) + mp.exp(W) + mp.exp(V)))),
    ("softmax3_other", "e^w/(e^z + e^w + e^v)", {"w": "1", "v": "-2"},
     lambda z: mp.exp(W) / (mp.exp(z) + mp.exp(W) + mp.exp(V)),
     lambda z: -mp.exp(W) * mp.exp(z) / (mp.exp(z) + mp.exp(W) + mp.exp(V)) ** 2),
    ("logsumexp2", "ln(e^z + e^w)", {"w": "1"},
     lambda z: mp.log(mp.exp(z) + mp.exp(W)), lambda z: mp.exp(z) / (mp.exp(z) + mp.exp(W))),
    ("logsumexp3", "ln(e^z + e^w + e^v)", {"w": "1", "v": "-2"},
     lambda z: mp.log(mp.exp(z) + mp.exp(W) + mp.exp(V)),
     lambda z: mp.exp(z) / (mp.exp(z) + mp.exp(W) + mp.exp(V))),
    ("logsigmoid_builtin", "ln(sigmoid(z))", {}, lambda z: -softplus(-z), lambda z: sig(-z)),
    ("log_one_minus_sigmoid", "ln(1 - sigmoid(z))", {}, lambda z: -softplus(z), lambda z: -sig(z)),
    # Binary cross-entropy through a named sigmoid, target t = 0.3 (issue 17).
    ("bce_named_sigmoid", "p = 1/(1 + e^-z); -(t*ln(p) + (1 - t)*ln(1 - p))", {"t": "0.3"},
     lambda z: T * softplus(-z) + (1 - T) * softplus(z), lambda z: sig(z) - T),
    ("cross_entropy3", "-ln(e^z/(e^z + e^w + e^v))", {"w": "1", "v": "-2"},
     lambda z: mp.log(mp.exp(z) + mp.exp(W) + mp.exp(V)) - z,
     lambda z: mp.exp(z) / (mp.exp(z) + mp.exp(W) + mp.exp(V)) - 1),
]

F64_MAX = mp.mpf("1.7976931348623157e308")


def text(v):
    return None if abs(v) > F64_MAX else mp.nstr(v, 25, min_fixed=1, max_fixed=0)


def main():
    cases = []
    for cid, expr, fixed, f, df in CASES:
        values = []
        for z in POINTS:
            zz = mp.mpf(z)
            values.append({"z": z, "forward": text(f(zz)), "backward": text(df(zz))})
        cases.append({"id": cid, "expr": expr, "wrt": "z", "fixed": fixed, "values": values})
    out = {
        "about": "written by scripts/stability_table.py (mpmath, 60 digits); do not edit",
        "points": POINTS,
        "cases": cases,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "stability.json"
    # One line per point keeps the file short enough to read.
    lines = ['{', f' "about": {json.dumps(out["about"])},', f' "points": {json.dumps(POINTS)},', ' "cases": [']
    for i, c in enumerate(cases):
        head = {k: c[k] for k in ("id", "expr", "wrt", "fixed")}
        lines.append(f'  {json.dumps(head)[:-1]}, "values": [')
        rows = [f'   {json.dumps(v)}' for v in c["values"]]
        lines.append(",\n".join(rows))
        lines.append("  ]}" + ("," if i + 1 < len(cases) else ""))
    lines += [" ]", "}"]
    text_out = "\n".join(lines) + "\n"
    assert json.loads(text_out) == out
    path.write_text(text_out)
    print(f"wrote {path}: {len(cases)} cases x {len(POINTS)} points")


if __name__ == "__main__":
    main()
