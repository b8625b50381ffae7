"""Single convs with and without their dead kernel taps (fastnorm/plan/lower_conv.py _live_taps): the
same weights planned under FASTNORM_DEAD_TAPS=0 and =1, outputs checked, timed in turns by the thread's
CPU time (bench/_timing.py), one thread, batch 1.

    python bench/adhoc/dead_taps_ab.py [--seconds 4]

Rows: cin cout k dilation HxW groups; medians in us and live / all.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import fastnorm  # noqa: E402
from _timing import interleaved, summary  # noqa: E402
from fastnorm.graph import Graph, Node, TensorSpec  # noqa: E402

CASES = [  # cin, cout, k, dilation, side, groups
    (256, 256, 3, 18, 16, 1),    # DeepLab ASPP rate 18 at output stride 16 of a 256 input
    (256, 256, 3, 36, 32, 1),    # rate 36 at output stride 8
    (384, 384, 7, 1, 2, 384),    # a ConvNeXt 7x7 depthwise conv on a 2x2 map
    (512, 512, 3, 1, 1, 1),      # a 3x3 conv on a pooled 1x1 map
    (160, 160, 5, 1, 1, 160),    # a 5x5 depthwise conv on 1x1
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print("fastnorm ISA %s; one thread, batch 1" % fastnorm.cpu_info()["isa"])
    print("| cin | cout | k | dilation | map | groups | all taps us | live taps us | live / all |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cin, cout, k, d, side, g in CASES:
        w = {"w": rng.normal(0, 0.1, (cout, cin // g, k, k)).astype(np.float32), "b": np.zeros(cout, np.float32)}
        p = d * (k - 1) // 2
        graph = Graph([TensorSpec("x", (None, cin, None, None))], [TensorSpec("y", (None, cout, None, None))],
                      [Node("c", "conv2d", ["x", "w", "b"], ["y"], {"stride": [1, 1], "padding": [p] * 4,
                                                                   "dilation": [d, d], "groups": g})], w)
        x = rng.normal(0, 1, (1, cin, side, side)).astype(np.float32)
        models = {}
        for env in ("0", "1"):
            os.environ["FASTNORM_DEAD_TAPS"] = env
            m = fastnorm.Model(graph, optimize=False)
            m.num_threads = 1
            m.predict(x)   # planned under the switch
            models[env] = m
        os.environ.pop("FASTNORM_DEAD_TAPS")
        y0, y1 = models["0"].predict(x), models["1"].predict(x)
        assert np.abs(y0 - y1).max() <= 1e-4 * max(1.0, np.abs(y0).max())
        st = summary(interleaved({"all": lambda: models["0"].predict(x), "live": lambda: models["1"].predict(x)},
                                 seconds=a.seconds, clock=time.thread_time))
        print("| %d | %d | %d | %d | %dx%d | %d | %.1f | %.1f | %.3f |" % (
            cin, cout, k, d, side, side, g, st["all"][0] * 1e6, st["live"][0] * 1e6, st["live"][0] / st["all"][0]))


if __name__ == "__main__":
    main()
