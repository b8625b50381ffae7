"""Eval-mode batch_norm: fastnorm vs torch vs a NumPy reference, same tensors, one group per shape.

Run: python -m pytest bench/bench_norm.py --benchmark-only -q
GB/s counts the bytes an elementwise op must move at least: read x once, write y once (2 * x.nbytes).
fastnorm and torch use their default thread counts (fastnorm.threads.get_num_threads(),
torch.get_num_threads()); NumPy runs on one thread. "fastnorm-set-threads" is the same call after
fastnorm.threads.set_num_threads(<the default count>): same threads, but get_num_threads() no longer
re-reads the affinity mask and cgroup files on every call (tens of microseconds here).
"fastnorm-kernel" is the C driver alone (fastnorm._C.scale_shift with scale/shift prepared once and y
allocated once): what the ops.batch_norm wrapper's Python adds is the difference.
"""
import numpy as np
import pytest

import fastnorm
from fastnorm.ops._common import ACT_NONE
import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.threads import get_num_threads, set_num_threads

torch = pytest.importorskip("torch")

SHAPES = [(8, 64, 56, 56), (1, 256, 14, 14)]
EPS = 1e-5
IMPLS = ["fastnorm", "fastnorm-set-threads", "fastnorm-kernel", "torch", "numpy"]


def _tensors(shape):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    mean = rng.standard_normal(c).astype(np.float32)
    var = (rng.random(c) + 0.5).astype(np.float32)
    w = rng.standard_normal(c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    return x, mean, var, w, b


def _record(benchmark, x, impl):
    benchmark.extra_info["impl"] = impl
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, nothing was timed
        return
    med = benchmark.stats.stats.median
    benchmark.extra_info["bytes"] = 2 * x.nbytes
    benchmark.extra_info["GB/s"] = round(2 * x.nbytes / med / 1e9, 2)
    benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    benchmark.extra_info["threads"] = get_num_threads() if impl.startswith("fastnorm") else (
        torch.get_num_threads() if impl == "torch" else 1)


def _run(benchmark, shape, impl):
    x, mean, var, w, b = _tensors(shape)
    want = None
    if impl == "fastnorm-kernel":
        scale, shift = _C.bnorm_prepare(mean, var, w, b, EPS)
        y = np.empty_like(x)
        n, c = x.shape[:2]
        x3, y3, nt = x.reshape(n, c, -1), y.reshape(n, c, -1), get_num_threads()

        def fn():
            _C.scale_shift(-1, x3, scale, shift, ACT_NONE, y3, nt)
            return y
    elif impl.startswith("fastnorm"):
        fn = lambda: ops.batch_norm(x, mean, var, w, b, eps=EPS)  # noqa: E731
    elif impl == "torch":
        tx, tm, tv, tw, tb = (torch.from_numpy(a) for a in (x, mean, var, w, b))

        def fn():
            with torch.inference_mode():
                return torch.nn.functional.batch_norm(tx, tm, tv, tw, tb, training=False, eps=EPS)
    else:
        bs = (1, -1) + (1,) * (len(shape) - 2)
        m = mean.reshape(bs)
        s = (w / np.sqrt(var + np.float32(EPS))).reshape(bs)
        bb = b.reshape(bs)
        fn = lambda: (x - m) * s + bb  # noqa: E731
    if impl == "fastnorm-set-threads":
        set_num_threads(get_num_threads())
    try:
        out = benchmark(fn)
        _record(benchmark, x, impl)
    finally:
        set_num_threads(None)
    # same answer from all three (folded vs unfolded arithmetic: a few ulp of the terms)
    want = (x.astype(np.float64) - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + EPS) \
        * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)
    got = out.numpy() if hasattr(out, "numpy") else out
    assert np.abs(got - want).max() < 1e-4


def _group(shape):
    return "batch_norm eval %s" % "x".join(map(str, shape))


@pytest.mark.benchmark(group=_group(SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_batch_norm_8x64x56x56(benchmark, impl):
    _run(benchmark, SHAPES[0], impl)


@pytest.mark.benchmark(group=_group(SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_batch_norm_1x256x14x14(benchmark, impl):
    _run(benchmark, SHAPES[1], impl)
