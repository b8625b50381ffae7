"""The batch split among threads (fastnorm/plan/split.py) against the unsplit run, in one process.

    python bench/adhoc/batch_split.py [model ...] [--modes "0;whole;auto"] [--batch 16] [--threads 2] [--seconds 8]
    LD_PRELOAD=/tmp/cpuid_avx2.so python bench/adhoc/batch_split.py   # the AVX2 path (tools/cpuid_avx2.c)

Each mode is a FASTNORM_BATCH_SPLIT value ("0": unsplit, every op threaded; "whole": split, no cut;
"auto": the estimate's cut; "cut:K,C"); the first is the baseline. Models are bench_models.py's zoo
(random calibrated weights); every mode's output is checked against torch (max error relative to the
output's largest magnitude < 1e-4) before any timing, then the modes run in turns for --seconds and
the medians of wall time are printed with each over the baseline, and the stages each mode ran
(records@samples a run).
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import numpy as np  # noqa: E402

import bench_models as B  # noqa: E402
import fastnorm  # noqa: E402
from fastnorm.plan import split  # noqa: E402

DEFAULT = ["efficientnet_b0", "mnasnet", "regnetx_400mf", "resnext50", "resnet50", "resnet18"]


def _use(model, mode):
    os.environ[split.ENV] = mode
    model._fast = None      # the mode is read when a shape's runner is made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--modes", default="0;whole;auto")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    modes = a.modes.split(";")
    print("fastnorm ISA %s; batch %d, %d threads; load average %s; %s UTC" % (
        fastnorm.cpu_info()["isa"], a.batch, a.threads, " ".join("%.1f" % x for x in os.getloadavg()),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
    tmp = tempfile.mkdtemp()
    for name in a.models or DEFAULT:
        e = B.Entry(name, tmp)
        x, ref = e.input(a.batch)[0], e.reference(a.batch)
        model = e.fastnorm()
        model.num_threads = a.threads
        stages = {}
        for mode in modes:
            _use(model, mode)
            err = float(np.abs(model.predict(x) - ref).max() / np.abs(ref).max())
            assert err < 1e-4, "%s under %s=%s: error %.3g" % (name, split.ENV, mode, err)
            r = model._fast[2]
            stages[mode] = ("unsplit" if not isinstance(r, split.SplitRunner) else
                            "+".join("%d@%d" % (len(p.records), c) for p, c in r.stages))
        times = {mode: [] for mode in modes}
        end = time.time() + a.seconds
        while time.time() < end or min(len(v) for v in times.values()) < 5:
            for mode in modes:
                _use(model, mode)       # the runner for this mode is kept: a lookup, microseconds
                t0 = time.perf_counter()
                model.predict(x)
                times[mode].append(time.perf_counter() - t0)
        med = {mode: sorted(v)[len(v) // 2] * 1e3 for mode, v in times.items()}
        print("%-16s " % name + " | ".join("%s [%s] %.1f ms %.2f" % (mode, stages[mode], med[mode],
                                                                   med[mode] / med[modes[0]])
                                            for mode in modes), flush=True)
    os.environ.pop(split.ENV, None)


if __name__ == "__main__":
    main()
