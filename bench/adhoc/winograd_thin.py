"""Thin 3x3 convs (8-24 channels) at 28x28 to 224x224, batch 1, one thread: Winograd F(4x4, 3x3) ("w4")
and F(2x2, 3x3) ("w2") against the direct conv, medians of interleaved runs of the calling thread's
CPU time. Run: python bench/adhoc/winograd_thin.py ISA REPS   (ISA: 1 avx2, 2 avx512)
"""
import sys, time
import numpy as np
from fastnorm import _C
LAYERS = [(12, 12, 224), (16, 8, 224), (8, 8, 224), (16, 8, 112), (12, 24, 112), (8, 16, 112), (16, 16, 112),
          (8, 8, 56), (16, 8, 56), (12, 12, 56), (8, 8, 28), (16, 8, 28), (12, 12, 28)]
def main(isa, reps):
    rng = np.random.default_rng(0)
    relu = (1, 0.0, float("inf"))
    print("ISA", _C.ISA_NAMES[isa])
    for ci, co, hw in LAYERS:
        x = np.maximum(rng.standard_normal((1, ci, hw, hw)), 0).astype(np.float32)
        wt = (rng.standard_normal((co, ci, 3, 3)) * np.sqrt(2.0 / (9 * ci))).astype(np.float32)
        b = (0.1 * rng.standard_normal(co)).astype(np.float32)
        desc = (ci, co, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y = np.empty((1, hw, hw, co), np.float32)
        pw, p2, pd = _C.winograd3x3_pack(isa, desc, wt, b), _C.winograd2x3_pack(isa, desc, wt, b), _C.conv2d_pack(isa, desc, wt, b)
        runs = {"w4": lambda: _C.winograd3x3_nhwc(isa, desc, xh, pw, None, relu, y, 1),
                "w2": lambda: _C.winograd2x3_nhwc(isa, desc, xh, p2, None, relu, y, 1),
                "direct": lambda: _C.conv2d_nhwc(isa, desc, xh, pd, None, relu, y, 1)}
        times = {k: [] for k in runs}
        for f in runs.values(): f()
        for _ in range(reps):
            for k, f in runs.items():
                t = time.thread_time(); f(); times[k].append(time.thread_time() - t)
        med = {k: float(np.median(v)) for k, v in times.items()}
        print("%2d->%-2d @%3d " % (ci, co, hw) + "  ".join("%s %.3f" % (k, med[k] * 1e3) for k in runs)
              + "  direct/w4 %.2f direct/w2 %.2f" % (med["direct"] / med["w4"], med["direct"] / med["w2"]))
if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
