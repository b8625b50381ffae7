"""F(2x2, 3x3) against F(4x4, 3x3) and the direct conv: single small-channel 3x3 layers, and whole models
under variants of the plan's choice (fastnorm/plan/lower_conv.py WINOGRAD2_MAX_CIN, WINOGRAD2_FIRST_CONVS).

    python bench/adhoc/winograd2_ab.py layers [isa]            # isa: 0 scalar, 1 avx2, 2 avx512 (default: best)
    python bench/adhoc/winograd2_ab.py models inception_v3 unet_small [--seconds 10] \\
        [--variants 0:n,48:n,48:4]                             # MAX_CIN:FIRST_CONVS, n = None (every conv)

layers: medians of 15 interleaved calls per algorithm, 1 thread, batch 1, each output checked against the
direct conv first. models: bench_models.ZOO's models at their canonical size from their ONNX export, one
Model per variant in one process, timed in turns (CPU time, 1 thread) for --seconds; every variant's
output is checked against torch (1e-4 of max |output|) before it is timed; ratios over the first variant.
For AVX2 figures on an AVX-512 machine run under tools/cpuid_avx2.c's shim (LD_PRELOAD).
"""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

from fastnorm import _C  # noqa: E402

LAYERS = [(16, 16, 256), (16, 32, 256), (32, 32, 128), (32, 32, 147), (32, 64, 147), (32, 32, 67),
          (48, 48, 56), (64, 64, 56), (24, 24, 112), (40, 40, 28)]
RELU = (1, 0.0, float("inf"))


def layers(isa):
    rng = np.random.default_rng(0)
    print("ISA %s, 1 thread, batch 1, medians of 15 interleaved calls (ms)" % _C.ISA_NAMES[_C.resolve_isa(isa)])
    for cin, cout, hw in LAYERS:
        desc = (cin, cout, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
        x = np.maximum(rng.standard_normal((1, hw, hw, cin)), 0).astype(np.float32)
        wt = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        ys = {k: np.empty((1, hw, hw, cout), np.float32) for k in ("F43", "F23", "direct")}
        p4, p2 = _C.winograd3x3_pack(isa, desc, wt, b), _C.winograd2x3_pack(isa, desc, wt, b)
        pd = _C.conv2d_pack(isa, desc, wt, b)
        runs = {"F43": lambda: _C.winograd3x3_nhwc(isa, desc, x, p4, None, RELU, ys["F43"], 1),
                "F23": lambda: _C.winograd2x3_nhwc(isa, desc, x, p2, None, RELU, ys["F23"], 1),
                "direct": lambda: _C.conv2d_nhwc(isa, desc, x, pd, None, RELU, ys["direct"], 1)}
        for f in runs.values():
            f()
        scale = max(1.0, float(np.abs(ys["direct"]).max()))
        for k in ("F43", "F23"):
            err = float(np.abs(ys[k] - ys["direct"]).max())
            assert err <= 1e-4 * scale, (k, cin, cout, hw, err)
        ts = {k: [] for k in runs}
        for _ in range(15):
            for k, f in runs.items():
                t = time.thread_time()
                f()
                ts[k].append(time.thread_time() - t)
        med = {k: float(np.median(v)) * 1e3 for k, v in ts.items()}
        print("%3d->%3d %3dx%-3d  F(4x4,3x3) %.3f  F(2x2,3x3) %.3f  direct %.3f   F23/F43 %.2f  direct/F43 %.2f"
              % (cin, cout, hw, hw, med["F43"], med["F23"], med["direct"], med["F23"] / med["F43"],
                 med["direct"] / med["F43"]))


def models(names, seconds, variants):
    import torch
    import fastnorm
    from bench_models import ZOO
    from fastnorm.plan import lower_conv as L
    from onnx_util import export
    from zoo import calibrate, example_input
    fastnorm.set_num_threads(1)
    parsed = [tuple(None if p == "n" else int(p) for p in v.split(":")) for v in variants.split(",")]
    print("fastnorm ISA %s; variants (WINOGRAD2_MAX_CIN, WINOGRAD2_FIRST_CONVS): %s"
          % (fastnorm.cpu_info()["isa"], parsed))
    saved = (L.WINOGRAD2_MAX_CIN, L.WINOGRAD2_FIRST_CONVS)
    for name in names:
        ctor, canonical, test = ZOO[name]
        torch.manual_seed(0)
        net = calibrate(ctor(), test, seed=0)
        data = export(net, (1,) + tuple(canonical), 17)
        x = example_input(canonical, 1, seed=1)
        with torch.no_grad():
            ref = net(x).numpy()
        x = x.numpy()
        ms = []
        try:
            for v in parsed:
                L.WINOGRAD2_MAX_CIN, L.WINOGRAD2_FIRST_CONVS = v
                m = fastnorm.from_onnx(data)
                err = float(np.abs(m.predict(x) - ref).max())
                assert err <= 1e-4 * max(1.0, float(np.abs(ref).max())), (name, v, err)
                ms.append(m)
        finally:
            L.WINOGRAD2_MAX_CIN, L.WINOGRAD2_FIRST_CONVS = saved
        ts = [[] for _ in ms]
        end = time.time() + seconds
        while time.time() < end:
            for i, m in enumerate(ms):
                t = time.process_time()
                m.predict(x)
                ts[i].append(time.process_time() - t)
        med = [float(np.median(t)) * 1e3 for t in ts]
        print("%s: %s   over the first: %s" % (name, "  ".join("%s %.2f ms" % (v, t) for v, t in zip(parsed, med)),
                                               " ".join("%.3f" % (t / med[0]) for t in med[1:])), flush=True)


def main(argv):
    if not argv or argv[0] not in ("layers", "models"):
        raise SystemExit(__doc__)
    if argv[0] == "layers":
        layers(int(argv[1]) if len(argv) > 1 else -1)
        return
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--variants", default="0:n,48:n,48:4")
    a = ap.parse_args(argv[1:])
    models(a.models, a.seconds, a.variants)


if __name__ == "__main__":
    main(sys.argv[1:])
