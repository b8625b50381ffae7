"""1x1 convs on large maps, whose input and output together outgrow L2 (the entry of Xception,
ResNet-50's first stage, MobileNet expansions at 112x112): GFLOP/s of one thread, input and output
in one arena as a model's plan lays them out, the same conv called back to back (each call reads its
input from L3, as a layer does after the one that wrote it).

    python bench/adhoc/conv1x1_stream.py [avx512|avx2|scalar] [--shapes 64x64x112,...] [--rounds 7]

Each conv's output is checked against NumPy (x @ w.T, then relu) before it is timed. Prints the
median over rounds of each round's median call. Used for conv2d.c's next-rows prefetch (dense_run):
run it under two builds in turns.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from fastnorm import _C  # noqa: E402
from fastnorm.plan.core import _empty_on_line  # noqa: E402

SHAPES = "64x64x112,32x32x112,128x128x112,16x96x112,64x256x56,64x64x56"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("isa", nargs="?", default="avx512", choices=list(_C.ISA_NAMES))
    ap.add_argument("--shapes", default=SHAPES, help="CINxCOUTxHW,... (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    isa = _C.ISA_NAMES.index(a.isa)
    rng = np.random.default_rng(0)
    act = (1, 0.0, float("inf"))   # relu
    for item in a.shapes.split(","):
        cin, cout, hw = (int(v) for v in item.split("x"))
        desc = (cin, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
        w = (rng.standard_normal((cout, cin, 1, 1)) * 0.05).astype(np.float32)
        packed = _C.conv2d_pack(isa, desc, w, None)
        arena = _empty_on_line(hw * hw * (cin + cout))
        x = arena[:hw * hw * cin].reshape(1, hw, hw, cin)
        x[...] = rng.standard_normal(x.shape)
        y = arena[hw * hw * cin:].reshape(1, hw, hw, cout)
        _C.conv2d_nhwc(isa, desc, x, packed, None, act, y, 1)
        want = np.maximum(x.reshape(-1, cin).astype(np.float64) @ w.reshape(cout, cin).T.astype(np.float64), 0)
        err = np.abs(y.reshape(-1, cout) - want).max()
        if not err <= 1e-4 * max(1.0, np.abs(want).max()):
            raise SystemExit("%s: max error %g against NumPy" % (item, err))
        meds = []
        for _ in range(a.rounds):
            ts = []
            for _ in range(30):
                t = time.perf_counter()
                _C.conv2d_nhwc(isa, desc, x, packed, None, act, y, 1)
                ts.append(time.perf_counter() - t)
            meds.append(float(np.median(ts)))
        med = float(np.median(meds))
        print("%s %s: %.3f ms, %.0f GFLOP/s" % (a.isa, item, med * 1e3, 2 * cin * cout * hw * hw / med / 1e9),
              flush=True)


if __name__ == "__main__":
    main()
