"""The plan's layout changes (NCHW -> NHWC and back, src_c/plan/layout.c) per ISA table, one thread,
each output checked against NumPy's transpose first; medians of 30 calls, ms (nchw->nhwc / nhwc->nchw).

    python bench/adhoc/layout_transpose.py [CxS ...]     # C channels of an S x S map (default below)

A 3 MB map's layout change against a copy of as many bytes (np.copyto) in the same run shows how near
the copy's speed it is.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from fastnorm import _C  # noqa: E402
from fastnorm.plan.core import _empty_on_line  # noqa: E402

SHAPES = ["64x112", "128x56", "32x128", "256x28", "21x128", "3x224", "512x14"]


def _median(fn, runs=30):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[runs // 2] * 1e3


def main():
    best = _C.ISA_NAMES.index(_C.best_isa())
    print("fastnorm ISAs up to %s; ms, median of 30 (nchw->nhwc / nhwc->nchw), a copy of the same bytes" % _C.best_isa())
    for spec in sys.argv[1:] or SHAPES:
        c, s = (int(v) for v in spec.split("x"))
        hw = s * s
        a = _empty_on_line(c * hw * 2)
        x = a[:c * hw].reshape(1, c, hw)
        x[...] = np.random.default_rng(0).standard_normal(x.shape)
        y = a[c * hw:].reshape(1, hw, c)
        cols = []
        for isa in range(best + 1):
            _C.nchw_to_nhwc(x, y, 1, isa)
            if not np.array_equal(y[0], x[0].T):
                raise SystemExit("%s: nchw->nhwc differs from NumPy under %s" % (spec, _C.ISA_NAMES[isa]))
            t1 = _median(lambda: _C.nchw_to_nhwc(x, y, 1, isa))
            t2 = _median(lambda: _C.nhwc_to_nchw(y, x, 1, isa))
            cols.append("%s %.3f / %.3f" % (_C.ISA_NAMES[isa], t1, t2))
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)
        copy = _median(lambda: np.copyto(flat_y, flat_x))
        print("%-8s %s   copy %.3f" % (spec, "   ".join(cols), copy))


if __name__ == "__main__":
    main()
