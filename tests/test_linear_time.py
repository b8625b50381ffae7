"""Issue 13: loading and planning are linear in the node count. A 100,000-node chain (a small file)
is saved, loaded and planned in seconds; the quadratic version took 13.8 s for 8,000 nodes."""
import inspect
import time

import numpy as np
import pytest

import fastnorm
from fastnorm import fileformat
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.plan import Plan

# Plan._plan_memory sorts every placed buffer once per buffer (O(n^2 log n)); load plans at batch 1,
# so until the planner's linear version lands (issue 13) these tests would take hours, not seconds.
quadratic_planner = pytest.mark.skipif(
    "sorted(placed)" in inspect.getsource(Plan._plan_memory),
    reason="Plan._plan_memory is still quadratic (sorted(placed) per buffer, issue 13)")

OPS = ("relu", "sigmoid", "tanh", "clamp")


def chain(n):
    """x -> n elementwise nodes (cycling through a few ops, none fusable into a conv) -> y."""
    nodes, prev = [], "x"
    for i in range(n):
        op = OPS[i % len(OPS)]
        out = "y" if i == n - 1 else "v%d" % i
        attrs = {"min": -1.0, "max": 1.0} if op == "clamp" else {}
        nodes.append(Node("n%d" % i, op, [prev], [out], attrs))
        prev = out
    return Graph([TensorSpec("x", (None, 2, 2, 2))], [TensorSpec("y", (None, 2, 2, 2))], nodes, {})


def reference(x, n):
    for i in range(n):
        op = OPS[i % len(OPS)]
        x = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
             "tanh": np.tanh, "clamp": lambda v: np.clip(v, -1, 1)}[op](x)
    return x


@quadratic_planner
@pytest.mark.parametrize("n", [100_000])
def test_a_long_chain_loads_and_plans_in_seconds(tmp_path, n):
    g = chain(n)
    path = tmp_path / "chain.fnm"
    t0 = time.perf_counter()
    fileformat.save(str(path), g.to_dict(), g.weights)
    t1 = time.perf_counter()
    m = fastnorm.load(str(path))        # parse, check, optimise, and plan at batch 1
    t2 = time.perf_counter()
    x = np.linspace(-2, 2, 16, dtype=np.float32).reshape(2, 2, 2, 2)
    y = m.predict(x)                    # a second plan (batch 2) and a run
    t3 = time.perf_counter()
    np.testing.assert_allclose(y, reference(x.astype(np.float64), n), rtol=1e-5, atol=1e-6)
    # linear work is well under a second per phase on any machine that runs the suite; the quadratic
    # planner needed minutes here. Generous bounds: a loaded CI runner must not flake.
    assert t1 - t0 < 30 and t2 - t1 < 60 and t3 - t2 < 60, (t1 - t0, t2 - t1, t3 - t2)


@quadratic_planner
def test_load_time_grows_linearly(tmp_path):
    # 4x the nodes may take at most ~4x (x2.5 slack for noise), not 16x
    times = []
    for n in (5_000, 20_000):
        g = chain(n)
        path = tmp_path / ("c%d.fnm" % n)
        fileformat.save(str(path), g.to_dict(), g.weights)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            fastnorm.load(str(path))
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    assert times[1] < 10 * times[0] + 0.5, times
