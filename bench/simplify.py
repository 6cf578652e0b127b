#!/usr/bin/env python3
"""Simplify-time benchmark over the shared reference suite.

For every case of ../shared/reference/corpus.json (errors excluded) it times
`deriv diff` (parse, differentiate, simplify, check-free print: the whole command,
process start-up included) and, in the same run, SymPy's diff + simplify on the same
input with the lets substituted (in-process, no start-up). It prints one row per case
and the totals, with deriv's ratio to SymPy.

    python3 bench/simplify.py [--deriv target/release/deriv] [--runs 5]

SymPy is installed with pip when missing; the test suite never needs it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "shared", "reference", "corpus.json")


def ensure_sympy():
    try:
        import sympy  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "sympy"], check=True)


def deriv_cmd(exe, case):
    cmd = [exe, "diff"]
    for let in case.get("lets") or []:
        cmd += ["--let", let]
    cmd += ["--wrt", case["wrt"]]
    if case.get("order", 1) != 1:
        cmd += ["--order", str(case["order"])]
    return cmd + ["--", case["expr"]]


def sympy_input(case):
    import sympy as sp
    names = {"e": sp.E, "pi": sp.pi, "ln": sp.log, "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
             "softplus": lambda u: sp.log(1 + sp.exp(u)), "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
             "erf": sp.erf, "erfc": sp.erfc, "abs": sp.Abs, "sign": sp.sign, "g": sp.Function("g")}
    def parse(text):
        return sp.sympify(text.replace("^", "**"), locals=names)
    expr = parse(case["expr"])
    for let in reversed(case.get("lets") or []):
        name, body = let.split("=", 1)
        expr = expr.subs(sp.Symbol(name.strip()), parse(body))
    return expr, sp.Symbol(case["wrt"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deriv", default=os.path.join(HERE, "..", "target", "release", "deriv"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    ensure_sympy()
    import sympy as sp
    cases = [c for c in json.load(open(CORPUS))["cases"] if not c.get("expect_error")]
    total_d, total_s = 0.0, 0.0
    print(f"{'case':28} {'deriv':>10} {'sympy':>10} {'ratio':>8}")
    for c in cases:
        cmd = deriv_cmd(args.deriv, c)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        d = statistics.median(times)
        expr, x = sympy_input(c)
        times = []
        for _ in range(max(1, args.runs // 2)):
            t = time.perf_counter()
            sp.simplify(sp.diff(expr, x, c.get("order", 1)))
            times.append(time.perf_counter() - t)
        s = statistics.median(times)
        total_d += d
        total_s += s
        print(f"{c['id']:28} {d*1e3:8.2f}ms {s*1e3:8.2f}ms {s/d:7.1f}x")
    print(f"{'total':28} {total_d*1e3:8.1f}ms {total_s*1e3:8.1f}ms {total_s/total_d:7.1f}x  (deriv includes process start-up)")


if __name__ == "__main__":
    main()
