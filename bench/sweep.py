#!/usr/bin/env python3
"""Random-expression sweep: every derivative within the default limits, and how long.

Generates N random expressions of up to 30 nodes in one variable (products of three or
four calls, nested calls, sums and quotients of them, shifted and scaled arguments),
runs `deriv diff --wrt x --check` on each (default limits, the whole process timed) and
reports the distribution of times, the slowest inputs, and every failure: a nonzero
exit, a limit reached, or a failed check.

    python3 bench/sweep.py [--deriv target/release/deriv] [--n 3000] [--seed 1]
                           [--order 1] [--jobs 2]

Deterministic for a seed. The test suite does not run it (it takes minutes).
"""
import argparse
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

CALLS = ["sin", "cos", "tanh", "sigmoid", "erf", "erfc", "atan", "cosh", "sinh", "exp"]
GUARDED = {"ln": "ln(1 + ({})^2)", "sqrt": "sqrt(1 + ({})^2)", "softplus": "ln(1 + e^({}))"}


def nodes(text):
    """A rough node count: variables, numbers, operators and calls."""
    count = 0
    prev_alnum = False
    for ch in text:
        alnum = ch.isalnum() or ch in "._"
        if alnum and not prev_alnum:
            count += 1
        elif ch in "+-*/^":
            count += 1
        prev_alnum = alnum
    return count


def leaf(rng):
    r = rng.random()
    if r < 0.5:
        return "x"
    if r < 0.8:
        a = rng.choice([1, 2, 3, -1, -2, 0.5])
        c = rng.choice([1, 2, 3, 5, 10, 30, -1, -3, -8])
        scaled = "x" if a == 1 else f"{a}*x"
        return f"{scaled} + {c}" if c > 0 else f"{scaled} - {-c}"
    return str(rng.choice([2, 3, 5]))


def call(rng, depth):
    inner = leaf(rng) if depth <= 0 or rng.random() < 0.5 else expr(rng, depth - 1)
    name = rng.choice(CALLS + list(GUARDED))
    if name in GUARDED:
        return GUARDED[name].format(inner)
    if name == "exp":
        return f"e^({inner})"
    return f"{name}({inner})"


def expr(rng, depth):
    shape = rng.random()
    if shape < 0.35:
        return "*".join(f"({call(rng, depth)})" for _ in range(rng.choice([3, 4])))
    if shape < 0.55:
        return f"({call(rng, depth)})/({call(rng, depth)})"
    if shape < 0.75:
        return f"{call(rng, depth)} + {leaf(rng)}*{call(rng, depth)}"
    if shape < 0.9:
        return call(rng, depth + 1)
    return f"({leaf(rng)})*{call(rng, depth)}"


def generate(n, seed):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        e = expr(rng, 2)
        if nodes(e) <= 30 and e not in out:
            out.append(e)
    return out


def run(exe, e, order):
    cmd = [exe, "diff", "--wrt", "x", "--check", "--order", str(order), "--", e]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    return e, took, p.returncode, p.stdout.strip(), p.stderr.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deriv", default="target/release/deriv")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--order", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="processes at once (1 for honest times)")
    a = ap.parse_args()
    exprs = generate(a.n, a.seed)
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(lambda e: run(a.deriv, e, a.order), exprs))
    times = sorted(r[1] for r in results)
    failures = [r for r in results if r[2] != 0 or "check: passed" not in r[4]]
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))]
    print(f"{len(results)} expressions of up to 30 nodes, order {a.order}, seed {a.seed}")
    print(f"time per process: median {statistics.median(times) * 1e3:.1f} ms, "
          f"p99 {q(0.99) * 1e3:.1f} ms, slowest {times[-1] * 1e3:.1f} ms")
    print("slowest five:")
    for e, took, *_ in sorted(results, key=lambda r: -r[1])[:5]:
        print(f"  {took * 1e3:8.1f} ms  {e}")
    print(f"failures (nonzero exit, limit, or failed check): {len(failures)}")
    for e, took, rc, out, err in failures[:20]:
        print(f"  exit {rc}: {e}\n    {err.splitlines()[0] if err else out[:200]}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
