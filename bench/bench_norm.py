"""Normalization: fastnorm vs torch (vs NumPy for eval batch_norm), same tensors, one group per case.

Run: python -m pytest bench/bench_norm.py --benchmark-only -q   (BENCH_THREADS=1 or 2 picks the thread
count; fastnorm, torch and NumPy's BLAS are pinned to it by bench/conftest.py). Every case checks its
output against a float64 torch reference before it is timed (tolerances in bench/_check.py).
GB/s counts the bytes a normalization must move at least: read x once, write y once (2 * x.nbytes).
The statistics-then-normalise ops read x twice when a slab does not fit in cache, so their ceiling is
2/3 of the "copy" group's GB/s (np.copyto: one read + one write, the memory bandwidth here).
"fastnorm-set-threads" is ops.batch_norm after fastnorm.threads.set_num_threads(<the pinned count>);
"fastnorm-kernel" is the C driver alone (scale/shift prepared once, y allocated once).
"fastnorm-nhwc" is the NHWC driver on the same values laid out (N, H*W, C), as the graph executor
runs it; torch's peer there is the same op on a channels_last tensor.
"""
import numpy as np
import pytest

import fastnorm
import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.ops._common import ACT_NONE
from fastnorm.threads import get_num_threads, set_num_threads

from _check import REDUCTION, check
from _peers import THREADS, need

torch = need("torch", module_level=True)
F = torch.nn.functional

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
    benchmark.extra_info["runtime"] = impl
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, nothing was timed
        return
    med = benchmark.stats.stats.median
    benchmark.extra_info["bytes"] = 2 * x.nbytes
    benchmark.extra_info["GB/s"] = round(2 * x.nbytes / med / 1e9, 2)
    benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    benchmark.extra_info["threads"] = get_num_threads() if impl.startswith("fastnorm") else (
        torch.get_num_threads() if impl == "torch" else 1)


def _bench(benchmark, x, impl, fn, want, tol=REDUCTION):
    """Check fn's output against want, then time fn."""
    check("%s %s" % (impl, benchmark.group), fn(), want, tol)
    benchmark(fn)
    _record(benchmark, x, impl)


def _run(benchmark, shape, impl):
    x, mean, var, w, b = _tensors(shape)
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
                return F.batch_norm(tx, tm, tv, tw, tb, training=False, eps=EPS)
    else:
        bs = (1, -1) + (1,) * (len(shape) - 2)
        m = mean.reshape(bs)
        s = (w / np.sqrt(var + np.float32(EPS))).reshape(bs)
        bb = b.reshape(bs)
        fn = lambda: (x - m) * s + bb  # noqa: E731
    want = (x.astype(np.float64) - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + EPS) \
        * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)
    if impl == "fastnorm-set-threads":
        set_num_threads(THREADS)
    _bench(benchmark, x, impl, fn, want)


def _group(op, shape):
    return "%s %s" % (op, "x".join(map(str, shape)))


@pytest.mark.benchmark(group=_group("batch_norm eval", SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_batch_norm_8x64x56x56(benchmark, impl):
    _run(benchmark, SHAPES[0], impl)


@pytest.mark.benchmark(group=_group("batch_norm eval", SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_batch_norm_1x256x14x14(benchmark, impl):
    _run(benchmark, SHAPES[1], impl)


# ------------------------------------------------------------------- statistics-then-normalise ops

def _nhwc(x):
    n, c = x.shape[:2]
    return np.ascontiguousarray(x.reshape(n, c, -1).transpose(0, 2, 1))


def _cases():
    """(op name, fastnorm fn(x, w, b), torch fn(tx, tw, tb), nhwc binding or None)"""
    return {
        "group_norm(32)": (lambda x, w, b: ops.group_norm(x, 32, w, b),
                           lambda x, w, b: F.group_norm(x, 32, w, b),
                           lambda xh, w, b, y, nt: _C.group_norm_nhwc(-1, xh, 32, w, b, EPS, ACT_NONE, y, nt)),
        "instance_norm": (lambda x, w, b: ops.instance_norm(x, weight=w, bias=b),
                          lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                          lambda xh, w, b, y, nt: _C.instance_norm_nhwc(-1, xh, w, b, EPS, ACT_NONE, y, nt)),
        "layer_norm_channels": (lambda x, w, b: ops.layer_norm_channels(x, w, b),
                                lambda x, w, b: F.layer_norm(x.movedim(1, -1), (x.shape[1],), w, b,
                                                             1e-6).movedim(-1, 1),
                                lambda xh, w, b, y, nt: _C.layer_norm_channels_nhwc(-1, xh, w, b, 1e-6, ACT_NONE,
                                                                                    y, nt)),
        "batch_norm train": (lambda x, w, b: ops.batch_norm(x, None, None, w, b, training=True),
                             lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                             None),
    }


CASES = _cases()


def _run_stats(benchmark, op, shape, impl):
    x, _, _, w, b = _tensors(shape)
    ours, theirs, nhwc = CASES[op]
    if impl == "fastnorm":
        fn = lambda: ours(x, w, b)  # noqa: E731
    elif impl == "fastnorm-nhwc":
        xh, yh, nt = _nhwc(x), np.empty(_nhwc(x).shape, np.float32), get_num_threads()

        def fn():
            nhwc(xh, w, b, yh, nt)
            return yh
    else:
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
        if impl == "torch-channels_last":
            tx = tx.contiguous(memory_format=torch.channels_last)

        def fn():
            with torch.inference_mode():
                return theirs(tx, tw, tb)
    if impl == "fastnorm-nhwc":
        nhwc_fn = fn
        fn = lambda: nhwc_fn().transpose(0, 2, 1).reshape(x.shape)  # noqa: E731  (a view: no copy timed)
    # the peer in float64, not fastnorm itself: mathematics is the reference
    with torch.inference_mode():
        want = theirs(*(torch.from_numpy(a).double() for a in (x, w, b))).numpy()
    _bench(benchmark, x, impl, fn, want)


STAT_IMPLS = ["fastnorm", "fastnorm-nhwc", "torch", "torch-channels_last"]


def _has(op, impl):
    """fastnorm-nhwc needs an NHWC driver; torch's channels_last kernels exist for GN and IN."""
    if impl == "fastnorm-nhwc":
        return CASES[op][2] is not None
    if impl == "torch-channels_last":
        return CASES[op][2] is not None and op != "layer_norm_channels"
    return True


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op,impl", [(op, impl) for op in CASES for impl in STAT_IMPLS if _has(op, impl)])
def test_stats_norm(benchmark, op, shape, impl):
    benchmark.group = _group(op, shape)
    _run_stats(benchmark, op, shape, impl)


@pytest.mark.parametrize("shape,ns", [((8, 3136, 64), (64,)), ((1, 256, 14, 14), (256, 14, 14)),
                                      ((8, 197, 768), (768,))], ids=["8x3136x64[64]", "1x256x14x14[CHW]",
                                                                     "8x197x768[768]"])
@pytest.mark.parametrize("impl", ["fastnorm", "torch"])
def test_layer_norm(benchmark, shape, ns, impl):
    benchmark.group = "layer_norm %s normalized %s" % ("x".join(map(str, shape)), "x".join(map(str, ns)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(ns).astype(np.float32), rng.standard_normal(ns).astype(np.float32)
    if impl == "fastnorm":
        fn = lambda: ops.layer_norm(x, ns, w, b)  # noqa: E731
    else:
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

        def fn():
            with torch.inference_mode():
                return F.layer_norm(tx, ns, tw, tb)
    with torch.inference_mode():
        want = F.layer_norm(torch.from_numpy(x).double(), ns, torch.from_numpy(w).double(),
                            torch.from_numpy(b).double()).numpy()
    _bench(benchmark, x, impl, fn, want)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("impl", ["fastnorm", "numpy"])
def test_copy_bandwidth(benchmark, shape, impl):
    """The memory bandwidth reference: np.copyto (1 read + 1 write) beside fastnorm's streaming
    eval batch_norm kernel (the same traffic)."""
    benchmark.group = _group("copy (bandwidth)", shape)
    x, mean, var, w, b = _tensors(shape)
    y = np.empty_like(x)
    if impl == "numpy":
        def fn():
            np.copyto(y, x)
            return y
        want = x
    else:
        scale, shift = _C.bnorm_prepare(mean, var, w, b, EPS)
        n, c = x.shape[:2]
        x3, y3, nt = x.reshape(n, c, -1), y.reshape(n, c, -1), get_num_threads()

        def fn():
            _C.scale_shift(-1, x3, scale, shift, ACT_NONE, y3, nt)
            return y
        want = (x.astype(np.float64) - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + EPS) \
            * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)
    _bench(benchmark, x, impl, fn, want)
