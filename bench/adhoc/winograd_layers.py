"""ResNet-18's 3x3 layers at batch 1, one thread: fastnorm's Winograd vs its direct conv vs torch.

Times are the calling thread's CPU time (time.thread_time), so a shared, loaded host's preemption
does not count; the three runs are interleaved, so each starts with caches as the others left them
(weights not warm in L2, as inside a network). Prints medians and effective GFLOP/s (the direct
conv's FLOPs / time). Run: python bench/adhoc/winograd_layers.py [isa] [reps]   (isa: 0 scalar, 1 avx2,
2 avx512; default: the best)
"""
import sys
import time

import numpy as np

from fastnorm import _C

LAYERS = [(64, 56), (128, 28), (256, 14), (512, 7)]


def main(isa, reps):
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    relu = (1, 0.0, float("inf"))
    print("ISA %s, 1 thread, medians of %d interleaved runs (thread CPU time)" % (_C.ISA_NAMES[isa], reps))
    for c, hw in LAYERS:
        x = np.maximum(rng.standard_normal((1, c, hw, hw)), 0).astype(np.float32)
        wt = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
        b = (0.1 * rng.standard_normal(c)).astype(np.float32)
        desc = (c, c, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y = np.empty_like(xh)
        pw, pd = _C.winograd3x3_pack(isa, desc, wt, b), _C.conv2d_pack(isa, desc, wt, b)
        runs = {"winograd": lambda: _C.winograd3x3_nhwc(isa, desc, xh, pw, None, relu, y, 1),
                "direct": lambda: _C.conv2d_nhwc(isa, desc, xh, pd, None, relu, y, 1)}
        if torch is not None:
            tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

            def run_torch():
                with torch.inference_mode():
                    torch.relu(torch.nn.functional.conv2d(tx, tw, tb, 1, 1))
            runs["torch"] = run_torch
        times = {k: [] for k in runs}
        for f in runs.values():
            f()
        for _ in range(reps):
            for k, f in runs.items():
                t = time.thread_time()
                f()
                times[k].append(time.thread_time() - t)
        fl = 2.0 * hw * hw * c * c * 9
        med = {k: float(np.median(v)) for k, v in times.items()}
        print("%3dx%-2dx%-2d " % (c, hw, hw) + "  ".join(
            "%s %.3f ms (%.0f GF/s)" % (k, med[k] * 1e3, fl / med[k] / 1e9) for k in runs)
            + "  winograd/direct speedup %.2fx" % (med["direct"] / med["winograd"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else _C.ISA_NAMES.index(_C.best_isa()), int(sys.argv[2]) if len(sys.argv) > 2 else 21)
