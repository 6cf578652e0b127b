#!/usr/bin/env python3
"""deriv against SymPy and SymEngine on the shared workloads, side by side.

    python3 bench/peers.py [--deriv target/release/deriv] [--only W4] [--runs 5]
                           [--peer-timeout 30] [--json out.json]

For every case of ../shared/bench/workloads.json it times, in the same run:
- deriv: `deriv diff|grad ... --repeat N`, the whole pipeline (parse, differentiate,
  simplify, print to a buffer) N times in-process; the median per run is what deriv
  prints on stderr. `--cse` is passed where the workload measures it. Peak RSS is that
  of the timing process.
- SymPy: `diff` (plus `simplify` where the workload asks for it), in-process, timed
  around the library call alone, in a child process killed after --peer-timeout.
- SymEngine: `diff`, likewise (it has no simplifier).
Output sizes are operation counts of the printed text (each + - * / ^, unary minus and
function call; ** counts once), summed over a gradient's components, and over the
definitions and results of a --cse program. SymPy and SymEngine are installed with pip
when missing; the test suite never needs them.
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = os.path.join(HERE, "..", "..", "shared", "bench", "workloads.json")


def ensure(*modules):
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)


def ops(text):
    """Printed-text operations: binary and unary + - * / ^ (** once), function calls."""
    text = text.replace("**", "^")
    signs = sum(text.count(c) for c in "+-*/^")
    calls = len(re.findall(r"[A-Za-z_][A-Za-z0-9_']*(\[[0-9,]*\])?\(", text))
    return signs + calls


def fmt_time(t):
    if t is None:
        return "—"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t * 1e9:.3g} ns"


def wrt_list(case):
    return case["wrt"] if isinstance(case["wrt"], list) else [case["wrt"]]


# ---- deriv --------------------------------------------------------------------------


def run_deriv(exe, case, runs, timeout):
    if case["task"] == "diff":
        cmd = [exe, "diff", "--wrt", case["wrt"]]
        if case.get("order", 1) != 1:
            cmd += ["--order", str(case["order"])]
    else:
        cmd = [exe, "grad", "--wrt", ",".join(case["wrt"])]
    if case["measure"].get("cse"):
        cmd.append("--cse")
    cmd += ["--repeat", str(runs), "-"]
    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(case["expr"].encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"status": "timeout"}
    out, err = out.decode(), err.decode()
    if proc.returncode != 0:
        return {"status": f"exit {proc.returncode}: {err.strip()[:80]}"}
    m = re.search(r"time per run: ([0-9.]+) (ns|µs|ms|s)", err)
    scale = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
    return {
        "status": "ok",
        "time": float(m.group(1)) * scale[m.group(2)] if m else None,
        "ops": ops(out),
        "out": out,
        "wall": time.time() - start,
    }


def deriv_rss(exe, case):
    """Peak RSS in MiB of one plain run (no --repeat), as GNU time reports it (a
    Python-side wait4 would count the forked interpreter too); None without it."""
    if case["task"] == "diff":
        cmd = [exe, "diff", "--wrt", case["wrt"], "--order", str(case.get("order", 1))]
    else:
        cmd = [exe, "grad", "--wrt", ",".join(case["wrt"])]
    if case["measure"].get("cse"):
        cmd.append("--cse")
    if not os.path.exists("/usr/bin/time"):
        return None
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd, "-"], input=case["expr"].encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = r.stderr.decode().strip().splitlines()[-1:]
    return int(last[0]) / 1024 if last and last[0].isdigit() else None


# ---- peers --------------------------------------------------------------------------


def nest(lib, case):
    """A nested composition built in `lib` (sympy or symengine): Python's parser refuses
    a few hundred nested parentheses."""
    params = case["params"]
    fns = params["cycle_outermost_first"]
    e = lib.Symbol(case["wrt"])
    for i in reversed(range(params["depth"])):
        e = getattr(lib, fns[i % len(fns)])(e)
    return e


def sympy_expr(case):
    import sympy as sp
    if "cycle_outermost_first" in case.get("params", {}):
        return nest(sp, case)
    names = {"e": sp.E, "ln": sp.log, "erf": sp.erf, "sqrt": sp.sqrt, "pi": sp.pi}
    return sp.sympify(case["expr"].replace("^", "**"), locals=names)


def symengine_expr(case):
    """The case in SymEngine, read by its own parser (converting from SymPy would make
    the large cases wait on SymPy)."""
    import symengine as se
    if "cycle_outermost_first" in case.get("params", {}):
        return nest(se, case)
    text = re.sub(r"\be\^\(", "exp(", case["expr"])
    text = re.sub(r"\be\^([A-Za-z_][A-Za-z0-9_]*|[0-9.]+)", r"exp(\1)", text).replace("^", "**")
    text = re.sub(r"\bln\(", "log(", text)
    return se.sympify(text)


def timed(fn, runs, budget):
    """Median time of fn() over up to `runs` calls, fewer when a call is slow. SymPy's
    cache is cleared before each call (outside the timing): a repeated call would
    otherwise be a cache lookup."""
    from sympy.core.cache import clear_cache
    samples, result = [], None
    spent = 0.0
    for _ in range(runs):
        clear_cache()
        t = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t
        samples.append(dt)
        spent += dt
        if spent > budget:
            break
    return statistics.median(samples), result


def peer_worker(peer, case, runs, queue):
    try:
        import sympy as sp
        order = case.get("order", 1)
        if peer == "symengine":
            import symengine as se
            e = symengine_expr(case)
            vars_ = [se.Symbol(v) for v in wrt_list(case)]
        else:
            e = sympy_expr(case)
            vars_ = [sp.Symbol(v) for v in wrt_list(case)]

        def differentiate():
            if case["task"] == "grad":
                return [e.diff(v) for v in vars_]
            return [e.diff(vars_[0], order)] if peer == "sympy" else [se_nth(e, vars_[0], order)]

        t_diff, d = timed(differentiate, runs, 5.0)
        row = {"status": "ok", "diff": t_diff, "ops": sum(ops(str(x)) for x in d)}
        if peer == "sympy" and case["measure"].get("simplify"):
            t_simp, s = timed(lambda: [sp.simplify(x) for x in d], runs, 5.0)
            row["simplify"] = t_simp
            row["simplified_ops"] = sum(ops(str(x)) for x in s)
        queue.put(row)
    except Exception as exc:  # a peer's failure is a row, not a crash of the table
        queue.put({"status": f"error: {type(exc).__name__}: {str(exc)[:60]}"})


def se_nth(e, v, order):
    for _ in range(order):
        e = e.diff(v)
    return e


def run_peer(peer, case, runs, timeout):
    queue = mp.Queue()
    proc = mp.Process(target=peer_worker, args=(peer, case, runs, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"status": "timeout"}
    try:
        return queue.get(timeout=1)
    except Exception:
        return {"status": f"crash (exit {proc.exitcode})"}


# ---- the table ----------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deriv", default=os.path.join(HERE, "..", "target", "release", "deriv"))
    ap.add_argument("--workloads", default=WORKLOADS)
    ap.add_argument("--only", default="", help="run the cases whose id starts with this")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-timeout", type=float, default=30.0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    if not args.no_peers:
        ensure("sympy", "symengine")
    cases = [c for c in json.load(open(args.workloads))["cases"] if c["id"].startswith(args.only)]

    header = ("| workload | input ops | deriv | deriv ops | SymPy diff | SymPy +simplify | SymPy ops "
              "| SymEngine diff | SymEngine ops | vs SymPy | vs SymEngine |")
    print(header)
    print("|" + "|".join(["---"] * 11) + "|")
    rows = {}
    for case in cases:
        d = run_deriv(args.deriv, case, args.runs, max(60.0, case.get("timeout_s", 60)))
        sp_row = se_row = {"status": "skipped"}
        if not args.no_peers:
            sp_row = run_peer("sympy", case, args.runs, args.peer_timeout)
            se_row = run_peer("symengine", case, args.runs, args.peer_timeout)
        rows[case["id"]] = {"deriv": {k: v for k, v in d.items() if k != "out"}, "sympy": sp_row, "symengine": se_row}
        sp_total = None
        if sp_row.get("status") == "ok":
            sp_total = sp_row["diff"] + sp_row.get("simplify", 0.0)

        def ratio(peer_time):
            if d.get("time") and peer_time:
                return f"{peer_time / d['time']:.3g}×"
            return "—"

        def status(row, key):
            return fmt_time(row.get(key)) if row.get("status") == "ok" else row.get("status", "—")

        print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            case["id"], ops(case["expr"]),
            fmt_time(d.get("time")) if d["status"] == "ok" else d["status"], d.get("ops", "—"),
            status(sp_row, "diff"), fmt_time(sp_row.get("simplify")) if "simplify" in sp_row else "—",
            sp_row.get("simplified_ops", sp_row.get("ops", "—")),
            status(se_row, "diff"), se_row.get("ops", "—"),
            ratio(sp_total), ratio(se_row.get("diff") if se_row.get("status") == "ok" else None)), flush=True)

    # Headlines: the activation set against SymPy's diff + simplify, and memory.
    w1 = [r for cid, r in rows.items() if cid.startswith("W1.") and r["deriv"].get("time")
          and r["sympy"].get("status") == "ok"]
    if w1:
        ratios = [(r["sympy"]["diff"] + r["sympy"].get("simplify", 0.0)) / r["deriv"]["time"] for r in w1]
        gm = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"\nActivation set (W1): deriv is {gm:.0f}× faster than SymPy diff+simplify (geometric mean of {len(w1)}).")
    big = sorted(cases, key=lambda c: len(c["expr"]))[-4:]
    for c in big:
        rss = deriv_rss(args.deriv, c) if rows[c["id"]]["deriv"]["status"] == "ok" else None
        if rss is not None:
            print(f"Peak RSS of deriv, {c['id']}: {rss:.1f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
