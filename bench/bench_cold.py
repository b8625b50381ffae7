"""Issue 14's cold start: a fresh process's import, load, plan, first run and warm run, each timed, for
fastnorm from .onnx and from .fnm, beside ONNX Runtime from the same .onnx (fastnorm/_cold.py).

    python bench/bench_cold.py                          # the table: median of 5 fresh processes each
    python bench/bench_cold.py --runs 9 --models resnet50,mobilenet_v3_small --isa avx2
    python bench/bench_cold.py --models extended          # issue 14's six (bench/zoo_extended.py)
    python bench/bench_cold.py --models resnet50 --from-torch    # also the .fnm from_torch(...).save() writes
    python -m pytest bench/bench_cold.py --benchmark-disable     # CI: one round, outputs checked

Models: tests/zoo.py at their canonical input (224 for the ImageNet ones), random calibrated weights,
exported once (torch.onnx.export, opset 17, dynamic batch) and saved as .fnm into
~/.cache/fastnorm-bench/cold/ (torch runs only there, never in a timed process). One thread, batch 1.
The .fnm is also saved with prepacked weights (Model.save(prepacked=True)) for the ISA under test, afresh
in a temporary folder each run. The processes alternate fastnorm .onnx / .fnm / .fnm prepacked / ONNX
Runtime round by round. Each row splits the python start (the interpreter, the same for every runtime),
`import numpy`, the runtime's import, load, plan, first run. The bar
(issue 14): cold start (import + load + plan + first run) <= ONNX Runtime's from .onnx and <= 0.5x from
.fnm; the first run (with its planning) <= 1.5x a warm run.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fastnorm  # noqa: E402
from fastnorm import _cold  # noqa: E402

MODELS = ["resnet50", "mobilenet_v3_small", "resnet18", "densenet_mini"]
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "fastnorm-bench", "cold")


def model_files(name, directory=CACHE, shape="canonical"):
    """(onnx path, fnm path) of zoo model `name`, exported on the first call."""
    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, "%s-%s" % (name, shape))
    onnx_path, fnm_path = stem + ".onnx", stem + ".fnm"
    if not (os.path.exists(onnx_path) and os.path.exists(fnm_path)):
        from onnx_util import export
        model, in_shape = _build(name, shape)
        tmp = onnx_path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(export(model, (1,) + tuple(in_shape), 17))
        os.replace(tmp, onnx_path)
        fastnorm.load(onnx_path).save(fnm_path)
    return onnx_path, fnm_path


def torch_fnm_file(name, directory=CACHE, shape="canonical"):
    """The .fnm of zoo model `name` as fastnorm.from_torch(model).save() writes it: the source graph
    with its BatchNorms unfolded (torch.onnx.export folds them into the convs; a load of this file
    folds them itself), made on the first call."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "%s-%s.torch.fnm" % (name, shape))
    if not os.path.exists(path):
        import torch
        model, in_shape = _build(name, shape)
        fastnorm.from_torch(model, torch.zeros((1,) + tuple(in_shape))).save(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path


def _build(name, shape):
    """(calibrated torch model, input (C, H, W)): tests/zoo.py's models, then issue 14's extended ones."""
    import zoo
    if name in zoo.ZOO:
        return zoo.build(name, shape=shape)
    import torch
    from zoo_extended import EXTENDED
    ctor, canonical, calib = EXTENDED[name]
    torch.manual_seed(0)
    return zoo.calibrate(ctor(), calib, seed=0), (calib if shape == "test" else canonical)


def prepacked_file(fnm_path, directory, isa=None):
    """The .fnm saved again with its packed weights for `isa` (default: this process's), in directory:
    made afresh by the checkout under test (a cached one could be another build's layout)."""
    from fastnorm.testing import force_isa
    p = os.path.join(directory, os.path.basename(fnm_path)[:-4] + ".prepacked.fnm")
    isa = isa or fastnorm.cpu_info()["isa"]
    with force_isa(isa):
        fastnorm.load(fnm_path).save(p, prepacked=True)
    return p


def cases(name, onnx_path, fnm_path, with_ort=True, packed_path=None, torch_path=None):
    c = [("%s, fastnorm (.onnx)" % name, "fastnorm", onnx_path), ("%s, fastnorm (.fnm)" % name, "fastnorm", fnm_path)]
    if packed_path:
        c.append(("%s, fastnorm (.fnm, prepacked)" % name, "fastnorm", packed_path))
    if torch_path:
        c.append(("%s, fastnorm (.fnm from torch)" % name, "fastnorm", torch_path))
    if with_ort:
        c.append(("%s, ONNX Runtime (.onnx)" % name, "onnxruntime", onnx_path))
    return c


def verdicts(name, res):
    """The issue's bar for one model, as text."""
    m = {k.split(", ", 1)[1]: v["median"] for k, v in res.items()}
    out = []
    ort = m.get("ONNX Runtime (.onnx)")
    for label, bar in (("fastnorm (.onnx)", 1.0), ("fastnorm (.fnm)", 0.5), ("fastnorm (.fnm, prepacked)", 0.5),
                       ("fastnorm (.fnm from torch)", 0.5)):
        if label not in m:
            continue
        f = m[label]
        first = _cold.first_over_warm(f)
        s = "%s %s: first predict %.2fx warm (bar 1.5: %s)" % (name, label, first, "met" if first <= 1.5 else "MISSED")
        if ort:
            r = f["total"] / ort["total"]
            s += "; cold start %.2fx ONNX Runtime's (bar %.1f: %s)" % (r, bar, "met" if r <= bar else "MISSED")
            r = f["after_numpy"] / ort["after_numpy"]
            s += "; after numpy %.2fx (%s)" % (r, "met" if r <= bar else "MISSED")
        out.append(s)
    return out


def test_cold_start_outputs(tmp_path):
    """CI: one round on a small model: every process computes the same output, and fastnorm's never
    imported onnx, torch or protobuf."""
    import pytest
    onnx_path, fnm_path = model_files("mobilenet_v3_small", str(tmp_path), shape="test")
    with_ort = _cold.ort_available()
    packed = prepacked_file(fnm_path, str(tmp_path))
    torch_path = torch_fnm_file("mobilenet_v3_small", str(tmp_path), shape="test")
    res = _cold.measure(cases("mnv3s", onnx_path, fnm_path, with_ort, packed, torch_path), runs=1,
                        outputs_dir=str(tmp_path))
    outs = {k: np.load(v["runs"][0]["output"]) for k, v in res.items()}
    ref = outs["mnv3s, fastnorm (.onnx)"]
    assert np.array_equal(outs["mnv3s, fastnorm (.fnm)"], ref)
    assert np.array_equal(outs["mnv3s, fastnorm (.fnm, prepacked)"], ref)
    # folded by fastnorm instead of torch.onnx.export: the same model up to float32 rounding
    assert np.max(np.abs(outs["mnv3s, fastnorm (.fnm from torch)"] - ref)) <= 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    if with_ort:
        want = outs["mnv3s, ONNX Runtime (.onnx)"]
        assert np.max(np.abs(ref - want)) <= 1e-3 * max(1.0, float(np.max(np.abs(want))))
    for k, v in res.items():
        r = v["runs"][0]
        if r["runtime"] == "fastnorm":
            assert r["heavy_modules"] == [], (k, r["heavy_modules"])
        assert all(r[s] >= 0 for s in _cold.STEPS)
    if not with_ort:
        pytest.skip("onnxruntime is not installed: outputs checked without it")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="fresh processes per runtime and model (median)")
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated; 'extended' for issue 14's six (bench/zoo_extended.py)")
    p.add_argument("--isa", help="FASTNORM_ISA for the fastnorm processes (scalar, avx2, avx512)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--from-torch", action="store_true",
                   help="also the .fnm fastnorm.from_torch(model).save() writes (BatchNorms unfolded in the file)")
    args = p.parse_args(argv)
    if args.isa:
        os.environ["FASTNORM_ISA"] = args.isa
    import subprocess
    isa = subprocess.run([sys.executable, "-c", "import fastnorm; print(fastnorm.cpu_info()['isa'])"],
                         capture_output=True, text=True, env=_cold._env()).stdout.strip()
    with_ort = _cold.ort_available()
    everything, notes = {}, []
    names = args.models.split(",")
    if names == ["extended"]:
        from zoo_extended import EXTENDED
        names = list(EXTENDED)
    for name in names:
        onnx_path, fnm_path = model_files(name)
        torch_path = torch_fnm_file(name) if args.from_torch else None
        with tempfile.TemporaryDirectory() as d:
            packed = prepacked_file(fnm_path, d, isa)
            res = _cold.measure(cases(name, onnx_path, fnm_path, with_ort, packed, torch_path), args.runs, 1,
                                args.threads, d)
        everything.update(res)
        new = verdicts(name, res)
        notes += new
        print("\n".join(new), file=sys.stderr)
    la = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("cold start, fresh processes, median of %d per row (ms), batch 1, %d thread(s); %s, fastnorm ISA %s; "
          "load average %.1f at the end" % (args.runs, args.threads, _cold.cpu_name(), isa, la))
    print(_cold.table(everything))
    print()
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
