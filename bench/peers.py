#!/usr/bin/env python3
"""deriv against SymPy and SymEngine on the shared workloads, side by side.

    python3 bench/peers.py [--deriv target/release/deriv] [--only W4|X.] [--runs 5]
                           [--peer-timeout 30] [--json out.json] [--form raw]

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

Extra cases, built here rather than in the shared JSON (ids X.*, selected by --only like
the others, e.g. `--only X.` or `--only X.softmax`):
- X.softmax10, X.softmax40: the softmax Jacobian, `deriv jacobian 'p1 = e^z1/(e^z1 + ...
  + e^zK); ...' --wrt z1,...,zK` (one row per definition). `jacobian` takes no --repeat,
  so its time is the whole process (startup, parse, differentiate, print), median of
  --runs processes. Every entry is checked to be pI*(1 - pI) on the diagonal and -pI*pJ
  off it. SymPy: Matrix(p).jacobian(z), then simplify of every entry (K = 10 only);
  SymEngine: diff of every p by every z (no simplifier).
- X.mlp222, X.mlp884: the gradient of a squared loss through a sigmoid network with named
  activations, `deriv grad L --let 'h1 = sigmoid(w11*x1 + ...)' ... --let 'y1 =
  sigmoid(v11*h1 + ...)' ... --let 'L = ((y1 - t1)^2 + ...)/2' --wrt <every w and v>
  --repeat N`; no component may contain `sigmoid(` or `e^`. SymEngine: the same loss with
  everything inlined (sigmoid as 1/(1 + exp(-a))), diff by each weight; SymPy skipped.
deriv gets `--timeout 0` on these (its own limit spans all --repeat runs); the script's
process timeout still applies. Input ops are those of every definition and EXPR.
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


# `--form` passed to every deriv run (`raw`: no simplification), or None for deriv's default.
FORM = None


def deriv_cmd(exe, case, repeat=None):
    """The argv of one run (`--repeat N` when given) and its stdin."""
    rep = ["--repeat", str(repeat)] if repeat else []
    if FORM:
        rep += ["--form", FORM]
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


def run_deriv(exe, case, runs, timeout):
    if not case.get("repeat", True):
        return run_deriv_processes(*deriv_cmd(exe, case), runs, timeout)
    cmd, stdin = deriv_cmd(exe, case, runs)
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


def run_deriv_processes(cmd, stdin, runs, timeout):
    """For a subcommand without --repeat: the median wall time of `runs` whole processes
    (startup, parse, work, print), `timeout` for them all."""
    samples, out, start = [], None, time.time()
    for _ in range(runs):
        t = time.perf_counter()
        try:
            r = subprocess.run(cmd, input=stdin, capture_output=True,
                               timeout=max(1.0, timeout - (time.time() - start)))
        except subprocess.TimeoutExpired:
            return {"status": "timeout"}
        samples.append(time.perf_counter() - t)
        if r.returncode != 0:
            return {"status": f"exit {r.returncode}: {r.stderr.decode().strip()[:80]}"}
        out = r.stdout.decode()
    return {"status": "ok", "time": statistics.median(samples), "per_process": True, "samples": samples,
            "ops": ops(out), "out": out, "wall": time.time() - start}


def deriv_rss(exe, case):
    """Peak RSS in MiB of one plain run (no --repeat), as GNU time reports it (a
    Python-side wait4 would count the forked interpreter too); None without it."""
    if not os.path.exists("/usr/bin/time"):
        return None
    cmd, stdin = deriv_cmd(exe, case)
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
            "argv": ["jacobian", defs, "--wrt", ",".join(zs)], "repeat": False,
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
            "argv": argv + ["--wrt", ",".join(wrt)], "repeat": True,
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


# ---- the table ----------------------------------------------------------------------


def extra_notes(args, extras, rows):
    """What the extra cases add under the table: form checks, scaling, ratios, memory."""
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
    if any(d["deriv"].get("per_process") for d in rows.values()):
        print(f"† `deriv jacobian` accepts no --repeat: whole process timed (startup, parse, "
              f"differentiate, print), median of {args.runs} runs.")
    t10 = rows.get("X.softmax10", {}).get("deriv", {}).get("time")
    t40 = rows.get("X.softmax40", {}).get("deriv", {}).get("time")
    if t10 and t40:
        print(f"Softmax Jacobian, deriv K=40/K=10 time: {t40 / t10:.3g}× (entries: 16×).")
    for c in extras:
        if c["build"] != "mlp":
            continue
        d, se_row = rows[c["id"]]["deriv"], rows[c["id"]]["symengine"]
        if d.get("time") and se_row.get("status") == "ok":
            print(f"{c['id']}: deriv/SymEngine time {d['time'] / se_row['diff']:.3g} "
                  f"(deriv {fmt_time(d['time'])}, SymEngine raw diff {fmt_time(se_row['diff'])}).")
    for c in extras:
        rss = deriv_rss(args.deriv, c) if rows[c["id"]]["deriv"]["status"] == "ok" else None
        if rss is not None:
            rows[c["id"]]["deriv"]["rss_mib"] = rss
            print(f"Peak RSS of deriv, {c['id']}: {rss:.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deriv", default=os.path.join(HERE, "..", "target", "release", "deriv"))
    ap.add_argument("--workloads", default=WORKLOADS)
    ap.add_argument("--only", default="", help="run the cases whose id starts with this "
                    "(the extra cases: X.softmax10, X.softmax40, X.mlp222, X.mlp884)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-timeout", type=float, default=30.0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--form", choices=["output", "input", "auto", "raw"],
                    help="passed to every deriv run (raw: the plain derivative, no simplification)")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    global FORM
    FORM = args.form
    if not args.no_peers:
        ensure("sympy", "symengine")
    shared = [c for c in json.load(open(args.workloads))["cases"] if c["id"].startswith(args.only)]
    extras = [c for c in EXTRA_CASES if c["id"].startswith(args.only)]
    cases = shared + extras

    header = ("| workload | input ops | deriv | deriv ops | SymPy diff | SymPy +simplify | SymPy ops "
              "| SymEngine diff | SymEngine ops | vs SymPy | vs SymEngine |")
    print(header)
    print("|" + "|".join(["---"] * 11) + "|")
    rows = {}
    for case in cases:
        d = run_deriv(args.deriv, case, args.runs, max(60.0, case.get("timeout_s", 60)))
        sp_row = se_row = {"status": "skipped"}
        if not args.no_peers:
            if case.get("sympy", True):
                sp_row = run_peer("sympy", case, args.runs, args.peer_timeout)
            se_row = run_peer("symengine", case, args.runs, args.peer_timeout)
        rows[case["id"]] = {"deriv": {k: v for k, v in d.items() if k != "out"}, "sympy": sp_row, "symengine": se_row}
        if d["status"] == "ok" and case.get("build") == "softmax":
            rows[case["id"]]["deriv"]["form_problems"] = check_softmax(d["out"], case["params"]["K"])
        elif d["status"] == "ok" and case.get("build") == "mlp":
            rows[case["id"]]["deriv"]["form_problems"] = check_mlp(d["out"], len(case["wrt"]))
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
            (fmt_time(d.get("time")) + ("†" if d.get("per_process") else "")) if d["status"] == "ok"
            else d["status"], d.get("ops", "—"),
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
    big = sorted(shared, key=lambda c: len(c["expr"]))[-4:]
    for c in big:
        rss = deriv_rss(args.deriv, c) if rows[c["id"]]["deriv"]["status"] == "ok" else None
        if rss is not None:
            print(f"Peak RSS of deriv, {c['id']}: {rss:.1f} MiB")
    if extras:
        extra_notes(args, extras, rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
