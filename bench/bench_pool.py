"""Pooling: fastnorm vs torch vs NumPy on the same NCHW tensors, one group per (op, shape).

Run: python -m pytest bench/bench_pool.py --benchmark-only -q
GB/s counts the bytes the op must move at least: read x once, write y once (x.nbytes + y.nbytes).
"fastnorm" is the NCHW functional API (ops.*): for the windowed ops it converts NCHW -> NHWC,
runs the NHWC kernel and converts back (three passes over the data), while global pooling reduces
the NCHW planes directly. "fastnorm-kernel" is the NHWC driver alone on an input converted once
(what the graph executor runs: its activations are NHWC). "torch-cl" is torch on a channels_last
tensor (its NHWC kernels). fastnorm and torch run on BENCH_THREADS threads (default 1, pinned by
bench/conftest.py); NumPy on one. Every row checks its output against torch in float64 before it is
timed (max pooling exactly; the averages within bench/_check.py's ELEMENTWISE).
"""
import numpy as np
import pytest

import fastnorm
import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.threads import get_num_threads

from _check import ELEMENTWISE, EXACT, check
from _peers import need

torch = need("torch", module_level=True)
F = torch.nn.functional

SHAPES = [(8, 64, 56, 56), (1, 256, 14, 14)]
IMPLS = ["fastnorm", "fastnorm-kernel", "torch", "torch-cl", "numpy"]


def _np_max2x2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _np_max3x3s2p1(x):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2, w + 2), -np.inf, np.float32)
    xp[:, :, 1:-1, 1:-1] = x
    oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    y = xp[:, :, 0:2 * oh:2, 0:2 * ow:2].copy()
    for ky in range(3):
        for kx in range(3):
            np.maximum(y, xp[:, :, ky:ky + 2 * oh:2, kx:kx + 2 * ow:2], out=y)
    return y


def _np_avg2x2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


# op name -> (fastnorm op, NHWC kernel call, torch call, numpy call)
OPS = {
    "max_pool2d 2x2/2": (
        lambda x: ops.max_pool2d(x, 2),
        lambda xh, y, nt: _C.maxpool2d_nhwc(-1, (2, 2, 2, 2, 1, 1, 0, 0), xh, y, nt),
        lambda t: F.max_pool2d(t, 2), _np_max2x2),
    "max_pool2d 3x3/2 pad 1": (
        lambda x: ops.max_pool2d(x, 3, 2, 1),
        lambda xh, y, nt: _C.maxpool2d_nhwc(-1, (3, 3, 2, 2, 1, 1, 1, 1), xh, y, nt),
        lambda t: F.max_pool2d(t, 3, 2, 1), _np_max3x3s2p1),
    "avg_pool2d 2x2/2": (
        lambda x: ops.avg_pool2d(x, 2),
        lambda xh, y, nt: _C.avgpool2d_nhwc(-1, (2, 2, 2, 2, 0, 0, 0, 0, True, 0), xh, y, nt),
        lambda t: F.avg_pool2d(t, 2), _np_avg2x2),
    "global avg pool": (
        lambda x: ops.adaptive_avg_pool2d(x, 1),
        lambda xh, y, nt: _C.global_pool_nhwc(-1, "avg", xh.reshape(xh.shape[0], -1, xh.shape[3]),
                                              y.reshape(y.shape[0], y.shape[3]), nt),
        lambda t: F.adaptive_avg_pool2d(t, 1), lambda x: x.mean(axis=(2, 3), keepdims=True)),
}


def _run(benchmark, op, shape, impl):
    fn_op, fn_kernel, torch_op, np_op = OPS[op]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = torch_op(torch.from_numpy(x).double()).numpy()
    if impl == "fastnorm":
        fn = lambda: fn_op(x)  # noqa: E731
    elif impl == "fastnorm-kernel":
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y = np.empty((want.shape[0],) + want.shape[2:] + (want.shape[1],), np.float32)
        nt = get_num_threads()

        def fn():
            fn_kernel(xh, y, nt)
            return y.transpose(0, 3, 1, 2)
    elif impl.startswith("torch"):
        t = torch.from_numpy(x)
        if impl == "torch-cl":
            t = t.contiguous(memory_format=torch.channels_last)

        def fn():
            with torch.inference_mode():
                return torch_op(t)
    else:
        fn = lambda: np_op(x)  # noqa: E731
    check("%s %s %s" % (impl, op, shape), fn(), want, EXACT if op.startswith("max") else ELEMENTWISE)
    benchmark(fn)
    benchmark.extra_info["runtime"] = impl
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, nothing was timed
        return
    moved = x.nbytes + want.nbytes
    benchmark.extra_info["bytes"] = moved
    benchmark.extra_info["GB/s"] = round(moved / benchmark.stats.stats.median / 1e9, 2)
    benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    benchmark.extra_info["threads"] = get_num_threads() if impl.startswith("fastnorm") else (
        torch.get_num_threads() if impl.startswith("torch") else 1)


def _group(op, shape):
    return "%s %s" % (op, "x".join(map(str, shape)))


@pytest.mark.benchmark(group=_group("max_pool2d 2x2/2", SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool2d_2x2_8x64x56x56(benchmark, impl):
    _run(benchmark, "max_pool2d 2x2/2", SHAPES[0], impl)


@pytest.mark.benchmark(group=_group("max_pool2d 2x2/2", SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool2d_2x2_1x256x14x14(benchmark, impl):
    _run(benchmark, "max_pool2d 2x2/2", SHAPES[1], impl)


@pytest.mark.benchmark(group=_group("max_pool2d 3x3/2 pad 1", SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool2d_3x3_8x64x56x56(benchmark, impl):
    _run(benchmark, "max_pool2d 3x3/2 pad 1", SHAPES[0], impl)


@pytest.mark.benchmark(group=_group("max_pool2d 3x3/2 pad 1", SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool2d_3x3_1x256x14x14(benchmark, impl):
    _run(benchmark, "max_pool2d 3x3/2 pad 1", SHAPES[1], impl)


@pytest.mark.benchmark(group=_group("avg_pool2d 2x2/2", SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_avg_pool2d_2x2_8x64x56x56(benchmark, impl):
    _run(benchmark, "avg_pool2d 2x2/2", SHAPES[0], impl)


@pytest.mark.benchmark(group=_group("avg_pool2d 2x2/2", SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_avg_pool2d_2x2_1x256x14x14(benchmark, impl):
    _run(benchmark, "avg_pool2d 2x2/2", SHAPES[1], impl)


@pytest.mark.benchmark(group=_group("global avg pool", SHAPES[0]))
@pytest.mark.parametrize("impl", IMPLS)
def test_global_avg_pool_8x64x56x56(benchmark, impl):
    _run(benchmark, "global avg pool", SHAPES[0], impl)


@pytest.mark.benchmark(group=_group("global avg pool", SHAPES[1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_global_avg_pool_1x256x14x14(benchmark, impl):
    _run(benchmark, "global avg pool", SHAPES[1], impl)
