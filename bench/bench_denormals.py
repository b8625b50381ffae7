"""Denormals flushed or kept in fastnorm's model runs, beside the peers with and without theirs.

    python bench/bench_denormals.py                              # issue 14's six extended models + EfficientNet-B2
    python bench/bench_denormals.py efficientnet_b2 mobilenet_v3_large --seconds 10
    LD_PRELOAD=/tmp/cpuid_avx2.so python bench/bench_denormals.py   # every runtime on AVX2 (tools/cpuid_avx2.c)
    python -m pytest bench/bench_denormals.py --benchmark-disable  # CI: one model, outputs checked, short timing

fastnorm flushes denormals to zero in its runs by default (fastnorm/denormals.py; FTZ + DAZ on x86,
FZ on AArch64, each thread's mode restored after a run); fastnorm.set_flush_denormals(False) keeps
IEEE gradual underflow. ONNX Runtime (session.set_denormal_as_zero) and OpenVINO
(CPU_DENORMALS_OPTIMIZATION) have the same modes, off by default.

Models: bench_models.py's calibrated zoo nets at their canonical input, batch 1, one thread; every
variant's output is checked against torch before it is timed. Two phases, each timed in turns
(bench/_timing.py) by this process's CPU time, medians, each fastnorm variant called right after a
peer (after the other fastnorm variant it would find the model's weights warm in the caches: 2-4% in
its favour in a first version of this script):
1. fastnorm flushing, fastnorm keeping, ONNX Runtime and OpenVINO as they come;
2. fastnorm flushing, ONNX Runtime with set_denormal_as_zero, OpenVINO with its denormals optimization.
Phase 2 comes after phase 1 for every model: ONNX Runtime's option sets the creating thread's MXCSR
for the rest of the process (measured: 0x1fa0 -> 0x9fe0 at session creation), after which fastnorm's
"keep" would run flushed too.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fastnorm  # noqa: E402
from fastnorm import _C  # noqa: E402

import _peers  # noqa: E402
import bench_models as B  # noqa: E402
from _timing import interleaved  # noqa: E402

MODELS = ["efficientnet_b0", "efficientnet_b2", "mobilenet_v3_large", "regnety_200mf", "convnext_atto",
          "densenet121", "inception_v3"]


def _fastnorm(entry, flush):
    model, x = entry.fastnorm(), entry.input(1)[0]

    def run():
        prev = fastnorm.set_flush_denormals(flush)
        try:
            return model.predict(x)
        finally:
            fastnorm.set_flush_denormals(prev)
    return run


def _peer_runs(entry, threads, flush):
    """{name: run} for ONNX Runtime and OpenVINO, with their denormal modes on (flush) or as they come."""
    x = entry.input(1)[0]
    if not flush:
        return {"onnxruntime": B._runner(entry, "onnxruntime", 1, threads),
                "openvino": B._runner(entry, "openvino", 1, threads)}
    ort = _peers.need("onnxruntime")
    so = _peers.ort_options(threads)
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    sess = ort.InferenceSession(entry.onnx_path(), so, providers=["CPUExecutionProvider"])
    ov = _peers.need("openvino")
    core = ov.Core()
    m = core.read_model(entry.onnx_path())
    m.reshape({m.inputs[0]: ov.PartialShape([1] + list(entry.shape))})
    req = core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
                                        "PERFORMANCE_HINT": "LATENCY",
                                        "CPU_DENORMALS_OPTIMIZATION": True}).create_infer_request()
    return {"onnxruntime (daz)": lambda: sess.run(None, {"input": x})[0],
            "openvino (denormals opt.)": lambda: req.infer({0: x}, share_inputs=True)[0]}


def _checked(entry, runs):
    for name, run in runs.items():
        B._check(entry, "fastnorm" if name.startswith("fastnorm") else "onnxruntime", 1, run())
    return runs


def phase(entries, threads, seconds, peers_flush):
    """{model: {variant: median seconds}} (one phase, see the module doc)."""
    out = {}
    for entry in entries:
        with _peers.pinned(threads):
            peers = list(_peer_runs(entry, threads, peers_flush).items())
            # turns: each fastnorm variant right after a peer (which leaves the caches cold), never
            # after the other fastnorm variant (which would leave it the same weights, warm)
            runs = dict([("fastnorm (flush)", _fastnorm(entry, True)), peers[0]] +
                        ([] if peers_flush else [("fastnorm (keep)", _fastnorm(entry, False))]) + peers[1:])
            _checked(entry, runs)
            s = interleaved(runs, seconds=seconds, min_rounds=5, clock=time.process_time)
        order = ["fastnorm (flush)"] + ([] if peers_flush else ["fastnorm (keep)"]) + [p[0] for p in peers]
        out[entry.name] = {k: float(np.median(s[k])) for k in order}
    return out


def table(res, title):
    variants = list(next(iter(res.values())))
    lines = [title, "", "| model | " + " | ".join(v + " ms" for v in variants) + " | fastnorm (flush) / best peer |",
             "|---|" + "---|" * (len(variants) + 1)]
    for name, med in res.items():
        best = min(t for v, t in med.items() if not v.startswith("fastnorm"))
        lines.append("| %s | %s | %.2f |" % (name, " | ".join("%.2f" % (med[v] * 1e3) for v in variants),
                                             med["fastnorm (flush)"] / best))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    entries = [B.Entry(n, tmp) for n in (a.models or MODELS)]
    print("fastnorm ISA %s; %s; %s; batch 1, %d thread(s); medians of CPU time; %s UTC" % (
        fastnorm.cpu_info()["isa"], _peers.peer_isa_note(), _cpu(), a.threads,
        time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
    print(table(phase(entries, a.threads, a.seconds, False),
                "Phase 1: fastnorm flushing / keeping denormals, the peers as they come"))
    print()
    print(table(phase(entries, a.threads, a.seconds, True),
                "Phase 2: every runtime flushing (ONNX Runtime set_denormal_as_zero, OpenVINO denormals optimization)"))


def _cpu():
    with open("/proc/cpuinfo") as f:
        return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")


def test_denormals_bench(tmp_path):
    """CI: EfficientNet-B0 (SE gates and SiLU make denormals): each variant checked against torch, and
    flushed and kept outputs within the model tolerance of each other; a short timing in turns. The
    thread's modes are the same after the runs as before (fastnorm restores them; ONNX Runtime's own
    option, which would not, is left to phase 2, which CI does not run)."""
    entry = B.Entry("efficientnet_b0", str(tmp_path))
    mode = lambda: _C.fp_mode()[0] & _C.fp_mode()[2]   # noqa: E731 (x86: without the sticky flags)
    before = mode()
    res = phase([entry], 1, 0.5, False)
    assert mode() == before
    a, b = _fastnorm(entry, True)(), _fastnorm(entry, False)()
    assert np.abs(a - b).max() <= B.MODEL_TOL * max(1.0, float(np.abs(b).max()))
    print(table(res, "efficientnet_b0"))


if __name__ == "__main__":
    main()
