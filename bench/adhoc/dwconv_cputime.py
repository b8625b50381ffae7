"""Depthwise conv per shape, one thread, CPU time (min over rounds), optionally A/B against another
build of fastnorm in the same run (each build in its own subprocess, rounds interleaved).

    python bench/adhoc/dwconv_cputime.py [--act none|relu] [--isa avx2] [--old /path/to/tree] [--rounds 15]

--old: a directory holding another fastnorm/ (e.g. a copy of the package with main's _C*.so); the
table then shows old ms, new ms and old / new per shape.
"""
import argparse
import json
import os
import subprocess
import sys

# (label, c, h, w, k, stride): MobileNetV3-large / EfficientNet-B0 depthwise layers at batch 1
SHAPES = [
    ("3x3/1 32ch 112", 32, 112, 112, 3, 1),
    ("3x3/1 144ch 56", 144, 56, 56, 3, 1),
    ("3x3/2 96ch 112->56", 96, 112, 112, 3, 2),
    ("5x5/1 240ch 28", 240, 28, 28, 5, 1),
    ("5x5/1 672ch 14", 672, 14, 14, 5, 1),
    ("5x5/2 144ch 56->28", 144, 56, 56, 5, 2),
    ("5x5/2 672ch 14->7", 672, 14, 14, 5, 2),
    ("3x3/2 64ch 112->56", 64, 112, 112, 3, 2),
    ("3x3/1 72ch 56", 72, 56, 56, 3, 1),
    ("5x5/1 960ch 7", 960, 7, 7, 5, 1),
    ("3x3/1 240ch 14", 240, 14, 14, 3, 1),
    ("9x9/1 256ch 32", 256, 32, 32, 9, 1),     # ConvMixer-256/8
    ("9x9/1 1536ch 32", 1536, 32, 32, 9, 1),   # ConvMixer-1536/20
    ("9x9/1 40ch 19x17", 40, 19, 17, 9, 1),
]

WORKER = r"""
import json, sys, time
import numpy as np
from fastnorm import _C
isa, act, rounds, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
shapes = json.loads(sys.argv[5])
isa_i = list(_C.ISA_NAMES).index(isa)
actt = (0, 0.0, 0.0) if act == "none" else (1, 0.0, float("inf"))
rng = np.random.default_rng(0)
def aligned(shape):  # 64-byte aligned, as the plan's arena buffers are
    n = int(np.prod(shape))
    buf = np.empty(n + 16, np.float32)
    off = (-buf.ctypes.data % 64) // 4
    return buf[off:off + n].reshape(shape)
cases = []
for label, c, h, w, k, s in shapes:
    p = k // 2
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    x = aligned((1, h, w, c))
    x[...] = rng.standard_normal((1, h, w, c), dtype=np.float32)
    wt = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    packed = _C.dwconv2d_pack(wt, rng.standard_normal(c, dtype=np.float32))
    y = aligned((1, oh, ow, c))
    desc = (c, c, c, k, k, s, s, 1, 1, p, p, p, p)
    cases.append((desc, x, packed, y))
best = [float("inf")] * len(cases)
for r in range(rounds):
    for i, (desc, x, packed, y) in enumerate(cases):
        _C.dwconv2d_nhwc(isa_i, desc, x, packed, None, actt, y, 1)
        t = time.process_time()
        for _ in range(reps):
            _C.dwconv2d_nhwc(isa_i, desc, x, packed, None, actt, y, 1)
        best[i] = min(best[i], (time.process_time() - t) / reps)
print(json.dumps(best))
"""


def run(tree, a, shapes):
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", WORKER, a.isa, a.act, "1", str(a.reps), json.dumps(shapes)],
                         env=env, capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--act", default="none", choices=["none", "relu"])
    ap.add_argument("--isa", default="avx2")
    ap.add_argument("--old", default=None)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    new = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    trees = [a.old, new] if a.old else [new]
    shapes = [list(s) for s in SHAPES]
    best = [[float("inf")] * len(shapes) for _ in trees]
    for _ in range(a.rounds):  # builds alternate, so both see the same load
        for t, tree in enumerate(trees):
            best[t] = [min(u, v) for u, v in zip(best[t], run(tree, a, shapes))]
    print("isa %s, act %s, 1 thread, min CPU time of %d rounds x %d reps, ms" % (a.isa, a.act, a.rounds, a.reps))
    print("| shape | " + (" old ms | new ms | old / new |" if a.old else " ms |"))
    for i, s in enumerate(SHAPES):
        if a.old:
            print("| %s | %.4f | %.4f | %.2f |" % (s[0], best[0][i] * 1e3, best[1][i] * 1e3, best[0][i] / best[1][i]))
        else:
            print("| %s | %.4f |" % (s[0], best[0][i] * 1e3))


if __name__ == "__main__":
    main()
