"""Cold start: what a fresh process pays before its first result (`fastnorm bench FILE --cold`).

Each measurement is a new Python process that times, separately, the interpreter's start (from the parent's
clock just before it starts the child to the child's first line), `import numpy`, the runtime's import,
loading the model, planning (fastnorm: every Plan built, at load for an .onnx, at the first predict for a
.fnm), the first run (without its planning) and a warm run (the median of WARM_RUNS more), and prints them
as one JSON line. ONNX Runtime's process does the same with InferenceSession (its graph optimisation is
part of its load) and its first run. One untimed process per case goes first (bytecode written, files in
the page cache: a host where the package is installed and the model was read before). Processes of the
runtimes alternate, so that a host whose load drifts slows each alike; the report is the median per
step over the runs.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

WARM_RUNS = 5

_INPUTS = r"""
def _inputs(specs, batch, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in specs:
        shape = [batch if (d is None or isinstance(d, str) or d < 1) and i == 0 else (1 if d is None or
                 isinstance(d, str) or d < 1 else d) for i, d in enumerate(shape)]
        out[name] = rng.standard_normal(shape).astype(np.float32)
    return out


def _finish(r, run, out):
    t4 = time.perf_counter()
    first = run()
    t5 = time.perf_counter()
    warm = []
    for _ in range(WARM_RUNS):
        t = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t)
    r["first_run"] = t5 - t4 - r.get("plan_in_run", 0.0)
    r["plan_at_first_run"] = r.get("plan_in_run", 0.0)       # a .fnm plans at its first predict
    r["plan"] = r.get("plan", 0.0) + r.pop("plan_in_run", 0.0)
    r["warm_run"] = sorted(warm)[len(warm) // 2]
    r["total"] = r["import"] + r["load"] + r["plan"] + r["first_run"]
    r["after_numpy"] = r["total"] - r["numpy_import"]       # what the runtime adds to a process that has numpy
    r["with_start"] = r["total"] + r["python_start"]
    r["onnx_imported"] = "onnx" in sys.modules
    r["heavy_modules"] = sorted({k.split(".")[0] for k in sys.modules} & {"onnx", "torch", "scipy", "ml_dtypes",
                                                                           "google"})
    if out:
        np.save(out, np.asarray(first))
    print("COLD " + json.dumps(r))
"""

_PROLOGUE = r"""
import time
w0 = time.time()
t0 = time.perf_counter()
import json, sys
import numpy as np
t_np = time.perf_counter()
import %(module)s
t1 = time.perf_counter()
WARM_RUNS = %(warm)d
path, batch, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
START = {"python_start": max(w0 - float(sys.argv[5]), 0.0), "numpy_import": t_np - t0, "runtime_import": t1 - t_np}
"""

_FASTNORM = r"""
from fastnorm import model as _model
r = {"runtime": "fastnorm", "import": t1 - t0, "plan": 0.0, "plan_in_run": 0.0, "phase": "load", **START}
_orig = _model.Model._plan


def _timed_plan(self, shapes):
    t = time.perf_counter()
    try:
        return _orig(self, shapes)
    finally:
        r["plan" if r["phase"] == "load" else "plan_in_run"] += time.perf_counter() - t


_model.Model._plan = _timed_plan
if threads:
    fastnorm.set_num_threads(threads)
t2 = time.perf_counter()
m = fastnorm.load(path)
t3 = time.perf_counter()
r["load"] = t3 - t2 - r["plan"]
r["phase"] = "run"
r["isa"] = fastnorm.cpu_info()["isa"]
feeds = _inputs([(t.name, t.shape) for t in m.inputs], batch)
name = m.outputs[0].name
_finish(r, lambda: m.run(feeds)[name], out)
"""

_ORT = r"""
ort = onnxruntime
r = {"runtime": "onnxruntime", "import": t1 - t0, "plan": 0.0, **START}
t2 = time.perf_counter()
so = ort.SessionOptions()
so.intra_op_num_threads, so.inter_op_num_threads = max(threads, 0), 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
t3 = time.perf_counter()
r["load"] = t3 - t2
r["version"] = ort.__version__
feeds = _inputs([(i.name, i.shape) for i in sess.get_inputs()], batch)
_finish(r, lambda: sess.run(None, feeds)[0], out)
"""

STEPS = ("import", "load", "plan", "first_run", "warm_run", "total", "plan_at_first_run", "python_start",
         "numpy_import", "runtime_import", "with_start", "after_numpy")


def _script(which):
    prologue = _PROLOGUE % {"module": "fastnorm" if which == "fastnorm" else "onnxruntime", "warm": WARM_RUNS}
    return prologue + _INPUTS + (_FASTNORM if which == "fastnorm" else _ORT)


def _env():
    """The child imports the same fastnorm as this process (a source checkout too)."""
    env = dict(os.environ)
    # as installed packages are: with bytecode (a source checkout run with PYTHONDONTWRITEBYTECODE would
    # compile every module in every process; pip compiles them at install)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def one(which, path, batch=1, threads=1, out="", timeout=600):
    """One fresh process: {step: seconds, ...} for which in ("fastnorm", "onnxruntime")."""
    # run from a neutral folder: `python -c` puts the working directory first on sys.path, and a source
    # checkout there (no compiled extension) would shadow the fastnorm this process imported
    cmd = [sys.executable, "-c", _script(which), os.path.abspath(str(path)), str(batch), str(threads),
           os.path.abspath(out) if out else "", None]
    cmd[-1] = repr(time.time())           # the child's interpreter start is timed from here
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout,
                       cwd=tempfile.gettempdir())
    line = next((x for x in p.stdout.splitlines() if x.startswith("COLD ")), None)
    if p.returncode or line is None:
        raise RuntimeError("cold-start child (%s, %s) failed (exit %d): %s"
                           % (which, path, p.returncode, (p.stderr or p.stdout).strip()[-2000:]))
    return json.loads(line[5:])


def ort_available():
    import importlib.util
    return importlib.util.find_spec("onnxruntime") is not None


def measure(cases, runs=5, batch=1, threads=1, outputs_dir=None):
    """cases: [(label, runtime, path)]; the processes of the cases alternate, `runs` rounds.
    -> {label: {"runs": [result dicts], "median": {step: seconds}}}; with outputs_dir, each case's first
    output of the first round is saved there as <label index>.npy (result key "output")."""
    res = {label: {"runs": []} for label, _, _ in cases}
    for label, which, path in cases:       # untimed: writes the bytecode, reads the files into the page cache
        one(which, path, batch, threads)
    for k in range(runs):
        for i, (label, which, path) in enumerate(cases):
            out = os.path.join(outputs_dir, "%d.npy" % i) if outputs_dir and k == 0 else ""
            r = one(which, path, batch, threads, out)
            if out:
                r["output"] = out
            res[label]["runs"].append(r)
    for v in res.values():
        v["median"] = {s: float(np.median([r[s] for r in v["runs"]])) for s in STEPS}
    return res


def cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def first_over_warm(m):
    """The first predict (with the planning it does itself) over a warm one."""
    return (m["first_run"] + m["plan_at_first_run"]) / m["warm_run"] if m["warm_run"] else float("nan")


TABLE_HEAD = ("| model, file, runtime | python start | numpy import | runtime import | load | plan | first run | "
              "warm run | cold start (import+load+plan+first) | with python start | after numpy (runtime import+load+plan+first) "
              "| first predict / warm |")


def table(res):
    """Markdown rows (ms, medians) for the cases of measure(). `import` in the cold start is numpy's
    import plus the runtime's; the python start (the interpreter, before the script's first line) is
    the same for every runtime and only in its own column; `after numpy` leaves out numpy's import too
    (a process that already has numpy, as any caller of predict does, pays only that)."""
    lines = [TABLE_HEAD, "|" + "---|" * 12]
    cols = ("python_start", "numpy_import", "runtime_import", "load", "plan", "first_run", "warm_run")
    for label, v in res.items():
        m = v["median"]
        lines.append("| %s | %s | **%.0f** | %.0f | %.0f | %.2f |" % (
            label, " | ".join("%.0f" % (m[s] * 1e3) for s in cols), m["total"] * 1e3, m["with_start"] * 1e3,
            m["after_numpy"] * 1e3, first_over_warm(m)))
    return "\n".join(lines)


def convert_to_fnm(onnx_path, directory, prepacked=False):
    """The .onnx model saved as a .fnm in directory (what `fastnorm convert` writes); prepacked: with
    its packed weights for this process's ISA (Model.save(prepacked=True))."""
    import fastnorm
    p = os.path.join(directory, os.path.splitext(os.path.basename(onnx_path))[0]
                     + (".prepacked.fnm" if prepacked else ".fnm"))
    fastnorm.load(onnx_path).save(p, prepacked=prepacked)
    return p


def run_cli(path, onnx_path=None, runs=5, batch=1, threads=1):
    """`fastnorm bench FILE --cold`: the table for FILE (and, for an .onnx, the same model as a .fnm) beside
    ONNX Runtime on the .onnx when it is installed."""
    import fastnorm
    with tempfile.TemporaryDirectory() as d:
        cases = []
        if str(path).lower().endswith(".onnx"):
            onnx_path = onnx_path or path
            cases.append(("fastnorm (.onnx)", "fastnorm", path))
            cases.append(("fastnorm (.fnm)", "fastnorm", convert_to_fnm(path, d)))
            cases.append(("fastnorm (.fnm, prepacked)", "fastnorm", convert_to_fnm(path, d, prepacked=True)))
        else:
            cases.append(("fastnorm (.fnm)", "fastnorm", path))
        if onnx_path and ort_available():
            cases.append(("ONNX Runtime (.onnx)", "onnxruntime", onnx_path))
        res = measure(cases, runs, batch, threads)
    info = fastnorm.cpu_info()
    print("cold start of %s: fresh processes, median of %d, batch %d, %d thread(s); %s, fastnorm ISA %s"
          % (path, runs, batch, threads, cpu_name(), info["isa"]))
    print(table(res))
    ort = res.get("ONNX Runtime (.onnx)")
    if ort:
        for label, v in res.items():
            if label.startswith("fastnorm"):
                print("  %s / ONNX Runtime cold start: %.2f (after numpy: %.2f)" % (
                    label, v["median"]["total"] / ort["median"]["total"],
                    v["median"]["after_numpy"] / ort["median"]["after_numpy"]))
    return res
