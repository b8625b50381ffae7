"""1x1 convs on small images (7x7, 8x8, 14x14: the late stages of EfficientNet-B0, MobileNetV3, RegNetY,
Inception-v3) with their weights coming from DRAM, as in a model whose weights do not all stay cached:
L2 and L3 are evicted (a 256 MB buffer is written) before every call, which then is timed alone in
thread time (time.thread_time, 1 thread: a loaded host's waiting is left out).

    python bench/adhoc/conv1x1_cold.py avx512 [--reps 30]      # or avx2, scalar; prints median us per shape
    python bench/adhoc/conv1x1_cold.py avx2 --shapes 1024x2048x7,2048x1024x7,1024x512x14:relu
                                     # other 1x1 convs: CINxCOUTxHW[:none|relu|silu|hardswish], comma-separated

Each conv's output is checked against NumPy (x @ w.T, then the activation) before it is timed. Used for
conv2d.c's next-panel prefetch (the figures in its comment): run it under two builds in turns.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from fastnorm import _C  # noqa: E402

SHAPES = [(1152, 320, 7, "none"), (320, 1280, 7, "silu"), (192, 1152, 7, "silu"), (1152, 192, 7, "none"),
          (960, 160, 7, "none"), (160, 960, 7, "hardswish"), (368, 368, 7, "none"), (672, 112, 14, "none"),
          (2048, 448, 8, "none")]


def _act(name):
    if name == "none":
        return (0, 0.0, 0.0), lambda v: v
    if name == "relu":
        return (1, 0.0, float("inf")), lambda v: np.maximum(v, 0.0)
    if name == "silu":
        return (_C.ACT_ACTK0 + _C.ACTK_SILU, 0.0, 0.0), lambda v: v / (1.0 + np.exp(-v))
    if name == "hardswish":
        return (_C.ACT_ACTK0 + _C.ACTK_HARDSWISH, 0.0, 0.0), lambda v: v * np.clip(v + 3.0, 0.0, 6.0) / 6.0
    raise SystemExit("unknown activation %r (none, relu, silu, hardswish)" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("isa", choices=list(_C.ISA_NAMES))
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--shapes", default=None,
                    help="CINxCOUTxHW[:act],... instead of the built-in list (session 16's large-weight convs)")
    a = ap.parse_args()
    shapes = SHAPES
    if a.shapes:
        shapes = []
        for item in a.shapes.split(","):
            dims, _, act = item.partition(":")
            cin, cout, hw = (int(v) for v in dims.split("x"))
            shapes.append((cin, cout, hw, act or "none"))
    isa = _C.ISA_NAMES.index(a.isa)
    rng = np.random.default_rng(0)
    evict = np.ones(64 << 20, np.float32)
    total, cells = 0.0, []
    for cin, cout, hw, act in shapes:
        desc = (cin, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
        w = (rng.standard_normal((cout, cin, 1, 1)) * 0.05).astype(np.float32)
        packed = _C.conv2d_pack(isa, desc, w, None)
        x = rng.standard_normal((1, hw, hw, cin)).astype(np.float32)
        y = np.empty((1, hw, hw, cout), np.float32)
        code, ref_act = _act(act)
        _C.conv2d_nhwc(isa, desc, x, packed, None, code, y, 1)
        want = ref_act(x.reshape(-1, cin).astype(np.float64) @ w.reshape(cout, cin).T.astype(np.float64))
        err = np.abs(y.reshape(-1, cout) - want).max()
        if not err <= 1e-4 * max(1.0, np.abs(want).max()):
            raise SystemExit("%d->%d at %dx%d: max error %g against NumPy" % (cin, cout, hw, hw, err))
        ts = []
        for _ in range(a.reps):
            evict[::16] += 1.0
            t = time.thread_time()
            _C.conv2d_nhwc(isa, desc, x, packed, None, code, y, 1)
            ts.append(time.thread_time() - t)
        med = sorted(ts)[len(ts) // 2]
        total += med
        cells.append("%d->%d@%d %.0f" % (cin, cout, hw, med * 1e6))
    print("%s: %s | sum %.0f us" % (a.isa, " | ".join(cells), total * 1e6))


if __name__ == "__main__":
    main()
