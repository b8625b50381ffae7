"""What a repeated Model.predict costs beyond its kernels: the README's per-call overhead figure.

    python bench/bench_overhead.py [--seconds 5] [--clock cpu]

A one-op model (a 1x1 conv, 1 channel in and out, on a 1x1x1x1 input: the kernel's work is one
multiply-add) is called in turns, in one process (bench/_timing.py), four ways:
  predict        Model.predict, repeated with the same shape: the fast path (no validation, no plan lookup)
  plan.run1      the plan's single-input entry alone (arena from the pool, the C plan, the output array)
  run            Model.run({name: x}): the general path (feeds validated, plan looked up)
  empty call     a Python function that returns its argument: the floor of any call
The medians (minima beside) are per call, on 1 thread, by wall time or (--clock cpu) by the calling
thread's CPU time, which leaves out the waits for a core on a shared host. Under pytest the same model is checked
against NumPy and predict is timed by pytest-benchmark.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fastnorm  # noqa: E402
from fastnorm.graph import Graph, Node, TensorSpec  # noqa: E402

from _check import ELEMENTWISE, check  # noqa: E402
from _peers import pinned  # noqa: E402
from _timing import fmt_time, interleaved, summary  # noqa: E402


def tiny_model():
    """(model, x, expected y): y = 2 x + 0.5 as a 1x1 conv on one pixel of one channel."""
    g = Graph([TensorSpec("x", (None, 1, 1, 1))], [TensorSpec("y", (None, 1, 1, 1))],
              [Node("conv", "conv2d", ["x", "w", "b"], ["y"], {})],
              {"w": np.full((1, 1, 1, 1), 2.0, np.float32), "b": np.full(1, 0.5, np.float32)})
    x = np.full((1, 1, 1, 1), 1.5, np.float32)
    return fastnorm.Model(g), x, 2.0 * x.astype(np.float64) + 0.5


def callables(model, x):
    check("tiny model predict", model.predict(x), 2.0 * x.astype(np.float64) + 0.5, ELEMENTWISE)
    plan = model._plan({"x": x.shape})
    feeds = {"x": x}
    return {"predict": lambda: model.predict(x),
            "plan.run1": lambda: plan.run1(x, 1),
            "run": lambda: model.run(feeds),
            "empty call": lambda: x}


def main(argv=None):
    import fma_peak
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    a = p.parse_args(argv)
    model, x, _ = tiny_model()
    with pinned(1):
        stats = summary(interleaved(callables(model, x), seconds=a.seconds, min_rounds=1000,
                                    clock=time.thread_time if a.clock == "cpu" else time.perf_counter))
    print("per-call cost of a one-op model; fastnorm ISA %s; CPU %s; 1 thread; calls in turns, %s time;"
          " load average %.1f" % (fastnorm.cpu_info()["isa"], fma_peak.cpu_name(),
                                  "thread CPU" if a.clock == "cpu" else "wall", os.getloadavg()[0]))
    print()
    print("| call | median | min | calls |")
    print("|---|---|---|---|")
    for k, (med, mn, n) in stats.items():
        print("| %s | %s | %s | %d |" % (k, fmt_time(med), fmt_time(mn), n))


def test_predict_overhead(benchmark):
    model, x, want = tiny_model()
    fns = callables(model, x)  # checks the output first
    benchmark(fns["predict"])
    benchmark.extra_info["runtime"] = "fastnorm"


if __name__ == "__main__":
    main()
