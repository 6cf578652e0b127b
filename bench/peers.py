#!/usr/bin/env python3
"""deriv against SymPy and SymEngine on the shared workloads, side by side.

    python3 bench/peers.py [--deriv target/release/deriv] [--only W4|X.] [--runs 5]
                           [--peer-timeout 30] [--json out.json] [--form default|raw|both]
                           [--no-startup] [--no-sympy] [--python]

For every case of ../shared/bench/workloads.json it times, in the same run:
- deriv, twice: as it prints by default (simplified) and with `--form raw` (the plain
  derivative, no search for a cheaper form). Each is `deriv diff|grad ... --repeat N`:
  the whole pipeline N times in-process, cold each time; deriv prints the median per run
  and of each stage: read (parse, load definitions), derive (differentiate, simplify),
  print. `--cse` is passed where the workload measures it. Peak RSS (MiB) of one plain
  run of each, by GNU time.
- SymPy: `diff` (plus `simplify` where the workload asks for it), in-process, timed
  around the library call alone, in a child process killed after --peer-timeout.
- SymEngine: `diff`, likewise (it has no simplifier), right after deriv's raw run. On the
  fast cases (SymEngine under 10 ms) deriv's raw run and SymEngine's alternate for three
  rounds, and each side's derive time is the median of its rounds: the machine's speed
  drifts over minutes, and the two times a ratio compares should drift alike.
The ratios compare like with like: a peer's library call on an expression it already
holds against deriv's derive stage (peers' parsing and printing are not timed either);
the whole-pipeline time is in its own column. `vs SymPy` is SymPy's diff + simplify over
deriv's default derive; `raw vs SE` is SymEngine's diff over deriv's raw derive; `vs SE`
is SymEngine's diff over deriv's default derive (>1: deriv faster).
Output sizes are operation counts of the printed text (each + - * / ^, unary minus and
function call; ** counts once), summed over a gradient's components, and over the
definitions and results of a --cse program. SymPy and SymEngine are installed with pip
when missing; the test suite never needs them.

Extra cases, built here rather than in the shared JSON (ids X.*, selected by --only like
the others, e.g. `--only X.` or `--only X.softmax`):
- X.softmax10, X.softmax40: the softmax Jacobian, `deriv jacobian 'p1 = e^z1/(e^z1 + ...
  + e^zK); ...' --wrt z1,...,zK` (one row per definition). Every entry of the default
  form is checked to be pI*(1 - pI) on the diagonal and -pI*pJ off it. SymPy:
  Matrix(p).jacobian(z), then simplify of every entry (K = 10 only); SymEngine: diff of
  every p by every z (no simplifier).
- X.mlp222, X.mlp884: the gradient of a squared loss through a sigmoid network with named
  activations, `deriv grad L --let 'h1 = sigmoid(w11*x1 + ...)' ... --let 'y1 =
  sigmoid(v11*h1 + ...)' ... --let 'L = ((y1 - t1)^2 + ...)/2' --wrt <every w and v>`;
  no component of the default form may contain `sigmoid(` or `e^`. SymEngine: the same
  loss with everything inlined (sigmoid as 1/(1 + exp(-a))), diff by each weight; SymPy
  skipped.
deriv gets `--timeout 0` on these (its own limit spans all --repeat runs); the script's
process timeout still applies. Input ops are those of every definition and EXPR.

With --python (after `pip install ./python`), the activation set is also timed from
Python in one process: `deriv.diff` (default and raw) beside SymPy's diff + simplify and
SymEngine's diff, and deriv's in-process time for the same request, so that what a call
through Python adds is their difference.

Last, the cost of one whole command (unless --no-startup): `deriv diff 'e^z/(1+e^z)'
--wrt z` as a process, start to exit, against `python3 -c` importing SymEngine (and
SymPy) and differentiating the same expression (SymPy also simplifying), median of
--runs processes each.
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


def deriv_cmd(exe, case, form=None, repeat=None):
    """The argv of one run (`--form raw` when asked, `--repeat N` when given) and its stdin."""
    rep = ["--repeat", str(repeat)] if repeat else []
    if form:
        rep += ["--form", form]
    if "argv" in case:  # an extra case: its own argv, nothing on stdin
        return [exe, *case["argv"], "--timeout", "0", *rep], b""
    if case["task"] == "diff":
        cmd = [exe, "diff", "--wrt", case["wrt"]]
        if case.get("order", 1) != 1:
            cmd += ["--order", str(case["order"])]
    else:
        cmd = [exe, "grad", "--wrt", ",".join(case["wrt"])]
    if case["measure"].get("cse"):
        cmd.append("--cse")
    return cmd + rep + ["-"], case["expr"].encode()


UNITS = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(m):
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def run_deriv(exe, case, form, runs, timeout):
    """One `--repeat runs` process: the median whole run and derive stage, the output."""
    cmd, stdin = deriv_cmd(exe, case, form, runs)
    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"status": "timeout"}
    out, err = out.decode(), err.decode()
    if proc.returncode != 0:
        first = err.strip().splitlines()[0] if err.strip() else ""
        return {"status": f"exit {proc.returncode}: {first[:80]}"}
    time_re = r"([0-9.]+) (ns|µs|ms|s)"
    return {
        "status": "ok",
        "time": seconds(re.search(r"time per run: " + time_re, err)),
        "derive": seconds(re.search(r"derive " + time_re, err)),
        "ops": ops(out),
        "out": out,
        "wall": time.time() - start,
    }


def deriv_rss(exe, case, form=None):
    """Peak RSS in MiB of one plain run (no --repeat), as GNU time reports it (a
    Python-side wait4 would count the forked interpreter too); None without it."""
    if not os.path.exists("/usr/bin/time"):
        return None
    cmd, stdin = deriv_cmd(exe, case, form)
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], input=stdin,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = r.stderr.decode().strip().splitlines()[-1:]
    return int(last[0]) / 1024 if last and last[0].isdigit() else None


# ---- extra cases (built here, not in the shared JSON) ---------------------------------


def softmax_case(K):
    zs = [f"z{j}" for j in range(1, K + 1)]
    total = " + ".join(f"e^{z}" for z in zs)
    defs = "; ".join(f"p{i} = e^z{i}/({total})" for i in range(1, K + 1))
    return {"id": f"X.softmax{K}", "task": "jacobian", "expr": defs, "wrt": zs,
            "argv": ["jacobian", defs, "--wrt", ",".join(zs)],
            # SymPy's simplify of 1600 entries would only burn the timeout: K = 10 alone
            "measure": {"simplify": True}, "sympy": K <= 10,
            "build": "softmax", "params": {"K": K}, "timeout_s": 900}


def mlp_names(I, H, O):
    w = [[f"w{i}{j}" for j in range(1, H + 1)] for i in range(1, I + 1)]  # input i -> hidden j
    v = [[f"v{j}{k}" for k in range(1, O + 1)] for j in range(1, H + 1)]  # hidden j -> output k
    wrt = [w[i][j] for j in range(H) for i in range(I)] + [v[j][k] for k in range(O) for j in range(H)]
    return w, v, wrt


def mlp_case(I, H, O):
    w, v, wrt = mlp_names(I, H, O)
    lets = [f"h{j + 1} = sigmoid(" + " + ".join(f"{w[i][j]}*x{i + 1}" for i in range(I)) + ")"
            for j in range(H)]
    lets += [f"y{k + 1} = sigmoid(" + " + ".join(f"{v[j][k]}*h{j + 1}" for j in range(H)) + ")"
             for k in range(O)]
    lets.append("L = (" + " + ".join(f"(y{k} - t{k})^2" for k in range(1, O + 1)) + ")/2")
    argv = ["grad", "L"]
    for d in lets:
        argv += ["--let", d]
    return {"id": f"X.mlp{I}{H}{O}", "task": "grad", "expr": "; ".join(lets + ["L"]), "wrt": wrt,
            "argv": argv + ["--wrt", ",".join(wrt)],
            "measure": {}, "sympy": False, "build": "mlp", "params": {"I": I, "H": H, "O": O},
            "timeout_s": 900}


EXTRA_CASES = [softmax_case(10), softmax_case(40), mlp_case(2, 2, 2), mlp_case(8, 8, 4)]


def build_softmax(lib, K):
    zs = [lib.Symbol(f"z{j}") for j in range(1, K + 1)]
    total = sum((lib.exp(z) for z in zs[1:]), lib.exp(zs[0]))
    return [lib.exp(z) / total for z in zs], zs


def build_mlp(lib, I, H, O):
    """The loss with every activation inlined, sigmoid written as 1/(1 + exp(-a))."""
    w, v, wrt = mlp_names(I, H, O)
    sig = lambda a: 1 / (1 + lib.exp(-a))
    x = [lib.Symbol(f"x{i}") for i in range(1, I + 1)]
    t = [lib.Symbol(f"t{k}") for k in range(1, O + 1)]
    h = [sig(sum(lib.Symbol(w[i][j]) * x[i] for i in range(I))) for j in range(H)]
    y = [sig(sum(lib.Symbol(v[j][k]) * h[j] for j in range(H))) for k in range(O)]
    loss = sum((y[k] - t[k]) ** 2 for k in range(O)) / 2
    return loss, [lib.Symbol(n) for n in wrt]


def split_row(line):
    """`[a, b(c, d), e]` -> ['a', 'b(c, d)', 'e']; None for anything else."""
    line = line.strip()
    if not (line.startswith("[") and line.endswith("]")):
        return None
    items, depth, cur = [], 0, ""
    for ch in line[1:-1]:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return items + [cur.strip()]


def check_softmax(out, K):
    """Entries of deriv's softmax Jacobian that are not pI*(1 - pI) / -pI*pJ."""
    rows = [split_row(line) for line in out.strip().splitlines()]
    if len(rows) != K or any(r is None or len(r) != K for r in rows):
        return [f"expected {K} rows of {K} entries, got {[None if r is None else len(r) for r in rows][:5]}..."]
    bad = []
    for i in range(1, K + 1):
        for j in range(1, K + 1):
            got = rows[i - 1][j - 1]
            if i == j:
                ok = got in (f"p{i}*(1 - p{i})", f"(1 - p{i})*p{i}")
            else:
                ok = got in (f"-p{i}*p{j}", f"-p{j}*p{i}")
            if not ok:
                bad.append(f"[{i},{j}] = {got}")
    return bad


def check_mlp(out, n):
    lines = out.strip().splitlines()
    bad = [] if len(lines) == n else [f"expected {n} components, got {len(lines)}"]
    return bad + [f"component {c + 1} = {line[:80]}" for c, line in enumerate(lines)
                  if "sigmoid(" in line or "e^" in line]


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
        if "build" in case:
            queue.put(extra_peer_worker(peer, case, runs))
            return
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


def extra_peer_worker(peer, case, runs):
    """An extra case, built in the peer's own objects (no parsing), timed like the rest."""
    import sympy as sp
    lib = sp
    if peer == "symengine":
        import symengine as lib
    params = case["params"]
    if case["build"] == "softmax":
        ps, zs = build_softmax(lib, params["K"])
        if peer == "sympy":
            jacobian = lambda: list(sp.Matrix(ps).jacobian(zs))
        else:
            jacobian = lambda: [p.diff(z) for p in ps for z in zs]
    else:
        loss, ws = build_mlp(lib, params["I"], params["H"], params["O"])
        jacobian = lambda: [loss.diff(w) for w in ws]
    t_diff, d = timed(jacobian, runs, 5.0)
    row = {"status": "ok", "diff": t_diff, "ops": sum(ops(str(x)) for x in d)}
    if peer == "sympy" and case["measure"].get("simplify"):
        t_simp, s = timed(lambda: [sp.simplify(x) for x in d], runs, 5.0)
        row["simplify"] = t_simp
        row["simplified_ops"] = sum(ops(str(x)) for x in s)
    return row


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


# ---- the whole command -----------------------------------------------------------------


STARTUP_EXPR = "e^z/(1+e^z)"
STARTUP_PEERS = {
    "SymEngine diff": "import symengine as se; z = se.Symbol('z'); print(se.diff(se.exp(z)/(1 + se.exp(z)), z))",
    "SymPy diff": "import sympy as sp; z = sp.Symbol('z'); print(sp.diff(sp.exp(z)/(1 + sp.exp(z)), z))",
    "SymPy diff + simplify": "import sympy as sp; z = sp.Symbol('z'); "
                             "print(sp.simplify(sp.diff(sp.exp(z)/(1 + sp.exp(z)), z)))",
}


def process_time(cmd, runs):
    """Median wall time of `runs` whole processes, and the last one's stdout."""
    samples, out = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        samples.append(time.perf_counter() - t)
        if r.returncode != 0:
            return None, r.stderr.decode().strip()[:80]
        out = r.stdout.decode().strip()
    return statistics.median(samples), out


def startup(args):
    """One command from process start to exit: deriv (default and raw form) against
    `python3 -c` of SymEngine and SymPy, in the same run."""
    rows = {}
    for label, form in (("deriv diff", None), ("deriv diff --form raw", "raw")):
        cmd = [args.deriv, "diff", STARTUP_EXPR, "--wrt", "z"] + (["--form", form] if form else [])
        rows[label] = process_time(cmd, args.runs)
    if not args.no_peers:
        for label, code in STARTUP_PEERS.items():
            rows[label] = process_time([sys.executable, "-c", code], args.runs)
    print(f"\nOne whole command, process start to exit, d/dz {STARTUP_EXPR} (median of {args.runs}):\n")
    print("| command | time | output |")
    print("|---|---|---|")
    for label, (t, out) in rows.items():
        print(f"| {label} | {fmt_time(t)} | `{out}` |")
    base = rows["deriv diff"][0]
    for label in STARTUP_PEERS:
        if label in rows and rows[label][0] and base:
            print(f"{label} / deriv diff: {rows[label][0] / base:.3g}×")
    return {k: {"time": t, "out": o} for k, (t, o) in rows.items()}


# ---- deriv from Python ---------------------------------------------------------------


def python_section(args, cases):
    """The activation set from Python, in one process: `deriv.diff` (the package in
    python/, default and raw form) beside SymPy's diff + simplify and SymEngine's diff,
    and deriv's own in-process time for the same request (the CLI's --repeat), so that
    what calling through Python adds is their difference."""
    try:
        import deriv
    except ImportError:
        print("\n(deriv's Python package is not installed: `pip install ./python` for the Python section)")
        return None
    import timeit

    import sympy as sp
    import symengine as se

    def best(fn, number):
        return min(timeit.repeat(fn, number=number, repeat=5)) / number

    rows = {}
    print("\nThe activation set from Python, one process (best of 5, seconds per call):\n")
    print("| workload | deriv.diff | deriv.diff raw | CLI in-process (whole run) | raw | Python adds | "
          "SymPy diff + simplify | SymEngine diff |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        expr, wrt = case["expr"], case["wrt"]
        t_py = best(lambda: deriv.diff(expr, wrt), 20)
        t_raw = best(lambda: deriv.diff(expr, wrt, form="raw"), 200)
        cli = run_deriv(args.deriv, case, None, 20, 60)
        cli_raw = run_deriv(args.deriv, case, "raw", 200, 60)
        e_sp, x_sp = sympy_expr(case), sp.Symbol(wrt)
        t_sp = best(lambda: sp.simplify(sp.diff(e_sp, x_sp)), 1)
        e_se, x_se = symengine_expr(case), se.Symbol(wrt)
        t_se = best(lambda: e_se.diff(x_se), 200)
        adds = t_raw - cli_raw["time"] if cli_raw.get("time") else None
        rows[case["id"]] = {"python": t_py, "python_raw": t_raw, "cli": cli.get("time"), "cli_raw": cli_raw.get("time"),
                            "sympy": t_sp, "symengine": t_se}
        print(f"| {case['id']} | {fmt_time(t_py)} | {fmt_time(t_raw)} | {fmt_time(cli.get('time'))} | "
              f"{fmt_time(cli_raw.get('time'))} | {fmt_time(adds) if adds and adds > 0 else '—'} | "
              f"{fmt_time(t_sp)} | {fmt_time(t_se)} |", flush=True)
    return rows


# ---- the table ----------------------------------------------------------------------


def extra_notes(extras, rows):
    """What the extra cases add under the table: form checks, scaling."""
    print()
    for c in extras:
        d = rows[c["id"]]["deriv"]
        if d["status"] != "ok":
            continue
        bad = d["form_problems"]
        what = ("every entry is pI*(1 - pI) / -pI*pJ" if c["build"] == "softmax"
                else "no component has sigmoid( or e^")
        if bad:
            print(f"WARNING {c['id']}: {len(bad)} deriv entries off form ({what} expected): "
                  + "; ".join(bad[:6]) + (" ..." if len(bad) > 6 else ""))
        else:
            print(f"{c['id']}: form check passed ({what}).")
    t10 = rows.get("X.softmax10", {}).get("deriv", {}).get("derive")
    t40 = rows.get("X.softmax40", {}).get("deriv", {}).get("derive")
    if t10 and t40:
        print(f"Softmax Jacobian, deriv K=40/K=10 derive time: {t40 / t10:.3g}× (entries: 16×).")


def summary(rows):
    """The headline figures under the table."""
    def ratio(peer, d):
        return peer / d if peer and d else None

    raw = [(cid, ratio(r["symengine"].get("diff"), r["raw"].get("derive"))) for cid, r in rows.items()
           if r["symengine"].get("status") == "ok" and r["raw"].get("derive")]
    if raw:
        slow = [(cid, x) for cid, x in raw if x < 1]
        print(f"\n--form raw vs SymEngine diff: {len(raw) - len(slow)} of {len(raw)} workloads at least as fast; "
              f"lowest {min(x for _, x in raw):.3g}×, geometric mean "
              f"{math.exp(sum(math.log(x) for _, x in raw) / len(raw)):.3g}×.")
        if slow:
            print("Slower than SymEngine (raw): " + ", ".join(f"{cid} {x:.2g}×" for cid, x in slow))
        more_ops = [cid for cid, r in rows.items() if r["symengine"].get("status") == "ok"
                    and r["raw"].get("ops") is not None and r["raw"]["ops"] > r["symengine"]["ops"]]
        print("Raw output ops above SymEngine's: " + (", ".join(more_ops) if more_ops else "none") + ".")
    w1 = [(cid, ratio(r["symengine"].get("diff"), r["deriv"].get("derive"))) for cid, r in rows.items()
          if cid.startswith("W1.") and r["symengine"].get("status") == "ok" and r["deriv"].get("derive")]
    if w1:
        print("Activation set (W1), default form (simplified) vs SymEngine's raw diff: "
              + ", ".join(f"{cid[3:]} {x:.2g}×" for cid, x in w1)
              + f"; slowest {1 / min(x for _, x in w1):.3g}× SymEngine's time.")
    sp = [ratio(r["sympy"]["diff"] + r["sympy"].get("simplify", 0.0), r["deriv"].get("derive"))
          for cid, r in rows.items() if cid.startswith("W1.") and r["sympy"].get("status") == "ok"]
    sp = [x for x in sp if x]
    if sp:
        print(f"Activation set (W1): deriv is {math.exp(sum(map(math.log, sp)) / len(sp)):.0f}× faster than SymPy "
              f"diff+simplify (geometric mean of {len(sp)}).")
    mem = [(r[k].get("rss_mib"), cid, k) for cid, r in rows.items() for k in ("deriv", "raw") if r[k].get("rss_mib")]
    if mem:
        top, cid, k = max(mem)
        over = [f"{c} ({f})" for m, c, f in mem if m > 64]
        print(f"Peak RSS of deriv: largest {top:.1f} MiB ({cid}, {'raw' if k == 'raw' else 'default'}); "
              f"above 64 MiB: {', '.join(over) if over else 'none'}.")


def cell_time(d, key="time"):
    if d.get("status") != "ok":
        return d.get("status", "—")
    return fmt_time(d.get(key))


ROUNDS = 3
FAST = 0.01


def alternate(args, case, row, se_row):
    """On a case whose SymEngine diff takes under FAST seconds, ROUNDS - 1 more rounds of
    deriv's raw run then SymEngine's: each side's derive time becomes the median of its
    rounds' medians (`rounds` in the JSON)."""
    raw = row.get("raw", {})
    if raw.get("status") != "ok" or se_row.get("status") != "ok" or se_row["diff"] >= FAST:
        return
    raws, ses = [raw["derive"]], [se_row["diff"]]
    for _ in range(ROUNDS - 1):
        r = run_deriv(args.deriv, case, "raw", args.runs, max(60.0, case.get("timeout_s", 60)))
        p = run_peer("symengine", case, args.runs, args.peer_timeout)
        if r["status"] != "ok" or p.get("status") != "ok":
            return
        raws.append(r["derive"])
        ses.append(p["diff"])
    raw["derive"], se_row["diff"] = statistics.median(raws), statistics.median(ses)
    raw["rounds"], se_row["rounds"] = raws, ses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deriv", default=os.path.join(HERE, "..", "target", "release", "deriv"))
    ap.add_argument("--workloads", default=WORKLOADS)
    ap.add_argument("--only", default="", help="run the cases whose id starts with this "
                    "(the extra cases: X.softmax10, X.softmax40, X.mlp222, X.mlp884)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-timeout", type=float, default=30.0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-sympy", action="store_true", help="time SymEngine only")
    ap.add_argument("--no-startup", action="store_true", help="skip the whole-command section")
    ap.add_argument("--form", choices=["default", "raw", "both"], default="both",
                    help="which deriv runs to time (raw: the plain derivative, no simplification)")
    ap.add_argument("--python", action="store_true",
                    help="also time deriv's Python package (python/) on the activation set, in one process")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    if not args.no_peers:
        ensure("sympy", "symengine")
    shared = [c for c in json.load(open(args.workloads))["cases"] if c["id"].startswith(args.only)]
    extras = [c for c in EXTRA_CASES if c["id"].startswith(args.only)]
    cases = shared + extras
    forms = {"default": [("deriv", None)], "raw": [("raw", "raw")],
             "both": [("deriv", None), ("raw", "raw")]}[args.form]

    print("| workload | input ops | deriv | derive | ops | MiB | raw | raw derive | raw ops | raw MiB "
          "| SymPy diff | SymPy +simplify | SymPy ops | SymEngine diff | SymEngine ops "
          "| vs SymPy | raw vs SE | vs SE |")
    print("|" + "|".join(["---"] * 18) + "|")
    rows = {}
    for case in cases:
        row = {"deriv": {"status": "skipped"}, "raw": {"status": "skipped"}}
        for key, form in forms:
            d = run_deriv(args.deriv, case, form, args.runs, max(60.0, case.get("timeout_s", 60)))
            if d["status"] == "ok":
                d["rss_mib"] = deriv_rss(args.deriv, case, form)
                if key == "deriv" and case.get("build") == "softmax":
                    d["form_problems"] = check_softmax(d["out"], case["params"]["K"])
                elif key == "deriv" and case.get("build") == "mlp":
                    d["form_problems"] = check_mlp(d["out"], len(case["wrt"]))
            row[key] = {k: v for k, v in d.items() if k != "out"}
        sp_row = se_row = {"status": "skipped"}
        if not args.no_peers:
            # SymEngine right after deriv's raw run, and on the fast cases in alternating
            # rounds: the machine's speed drifts over minutes, and the two compared times
            # should drift alike.
            se_row = run_peer("symengine", case, args.runs, args.peer_timeout)
            alternate(args, case, row, se_row)
            if case.get("sympy", True) and not args.no_sympy:
                sp_row = run_peer("sympy", case, args.runs, args.peer_timeout)
        row["sympy"], row["symengine"] = sp_row, se_row
        rows[case["id"]] = row
        d, r = row["deriv"], row["raw"]
        sp_total = sp_row["diff"] + sp_row.get("simplify", 0.0) if sp_row.get("status") == "ok" else None
        se_diff = se_row.get("diff") if se_row.get("status") == "ok" else None

        def ratio(peer_time, ours):
            return f"{peer_time / ours:.3g}×" if peer_time and ours else "—"

        def mib(x):
            return f"{x['rss_mib']:.1f}" if x.get("rss_mib") else "—"

        print("| " + " | ".join(str(c) for c in [
            case["id"], ops(case["expr"]),
            cell_time(d), cell_time(d, "derive"), d.get("ops", "—"), mib(d),
            cell_time(r), cell_time(r, "derive"), r.get("ops", "—"), mib(r),
            cell_time(sp_row, "diff"), fmt_time(sp_row.get("simplify")) if "simplify" in sp_row else "—",
            sp_row.get("simplified_ops", sp_row.get("ops", "—")),
            cell_time(se_row, "diff"), se_row.get("ops", "—"),
            ratio(sp_total, d.get("derive")), ratio(se_diff, r.get("derive")), ratio(se_diff, d.get("derive")),
        ]) + " |", flush=True)

    summary(rows)
    if extras and any(k == "deriv" for k, _ in forms):
        extra_notes(extras, rows)
    result = {"cases": rows}
    if not args.no_startup:
        result["startup"] = startup(args)
    if args.python:
        result["python"] = python_section(args, [c for c in shared if c["id"].startswith("W1.")])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
