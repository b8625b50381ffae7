"""Glue ops: fastnorm vs torch vs NumPy on the same arrays, one group per case.

Run: python -m pytest bench/bench_glue.py --benchmark-only -q
GB/s counts the bytes an op must move at least (inputs read once, output written once) over the
median. fastnorm and torch run on BENCH_THREADS threads (default 1, pinned by bench/conftest.py);
NumPy on one. The "-1thread" rows run fastnorm and torch on one thread whatever BENCH_THREADS is: on a
shared, loaded 2-core host two-thread medians mostly measure how long a descheduled thread keeps the
region waiting, the one-thread rows what the kernels do. Every row checks its output against a NumPy
reference (float64 where arithmetic is involved) before it is timed. NumPy's bilinear is the vectorised gather formula (precomputed torch indices,
float32 arithmetic).
"""
import numpy as np
import pytest

import fastnorm
import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.threads import get_num_threads, set_num_threads

import reference as ref

from _check import ELEMENTWISE, check
from _peers import THREADS, need

torch = need("torch", module_level=True)
F = torch.nn.functional
RUNTIMES = ["fastnorm", "fastnorm-1thread", "torch", "torch-1thread", "numpy"]


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _record(benchmark, runtime, nbytes):
    benchmark.extra_info["runtime"] = runtime
    if benchmark.stats is None:  # --benchmark-disable: ran once, nothing timed
        return
    med = benchmark.stats.stats.median
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info["GB/s"] = round(nbytes / med / 1e9, 2)
    benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    benchmark.extra_info["threads"] = (get_num_threads() if runtime.startswith("fastnorm") else
                                       torch.get_num_threads() if runtime.startswith("torch") else 1)


def _bench(benchmark, runtime, fns, nbytes, want):
    """Check the runtime's output against want (bench/_check.py's ELEMENTWISE), then time it."""
    base = runtime.split("-")[0]
    fn = fns[base]
    if base == "torch":
        def run():
            with torch.inference_mode():
                return fn()
    else:
        run = fn
    threads = 1 if runtime.endswith("-1thread") else THREADS
    set_num_threads(threads)
    torch.set_num_threads(threads)
    try:
        check("%s %s" % (runtime, benchmark.group), run(), want, ELEMENTWISE)
        benchmark(run)
        _record(benchmark, runtime, nbytes)
    finally:  # back to the pinned count (bench/conftest.py)
        set_num_threads(THREADS)
        torch.set_num_threads(THREADS)


def _np_bilinear(x, oh, ow, ac):
    y0, y1, ly0, ly1 = (np.asarray(a) for a in ref.linear_index(x.shape[2], oh, None, ac))
    x0, x1, lx0, lx1 = (np.asarray(a) for a in ref.linear_index(x.shape[3], ow, None, ac))
    ly0, ly1 = ly0.astype(np.float32)[:, None], ly1.astype(np.float32)[:, None]
    lx0, lx1 = lx0.astype(np.float32), lx1.astype(np.float32)

    def fn():
        r0, r1 = x[:, :, y0], x[:, :, y1]
        return ly0 * (lx0 * r0[..., x0] + lx1 * r0[..., x1]) + ly1 * (lx0 * r1[..., x0] + lx1 * r1[..., x1])
    return fn


@pytest.mark.benchmark(group="add residual 8x64x56x56")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_add_residual(benchmark, runtime):
    a, b = _rand((8, 64, 56, 56)), _rand((8, 64, 56, 56), 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    fns = dict(fastnorm=lambda: ops.add(a, b), torch=lambda: torch.add(ta, tb), numpy=lambda: a + b)
    _bench(benchmark, runtime, fns, 3 * a.nbytes, a.astype(np.float64) + b)


@pytest.mark.benchmark(group="add residual 1x256x14x14")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_add_residual_small(benchmark, runtime):
    a, b = _rand((1, 256, 14, 14)), _rand((1, 256, 14, 14), 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    fns = dict(fastnorm=lambda: ops.add(a, b), torch=lambda: torch.add(ta, tb), numpy=lambda: a + b)
    _bench(benchmark, runtime, fns, 3 * a.nbytes, a.astype(np.float64) + b)


@pytest.mark.benchmark(group="mul SE 8x64x56x56 * 8x64x1x1")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mul_se(benchmark, runtime):
    a, s = _rand((8, 64, 56, 56)), _rand((8, 64, 1, 1), 1)
    ta, ts = torch.from_numpy(a), torch.from_numpy(s)
    fns = dict(fastnorm=lambda: ops.mul(a, s), torch=lambda: torch.mul(ta, ts), numpy=lambda: a * s)
    _bench(benchmark, runtime, fns, 2 * a.nbytes + s.nbytes, a.astype(np.float64) * s)


@pytest.mark.benchmark(group="cat channels 2x 8x64x56x56")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cat_channels(benchmark, runtime):
    a, b = _rand((8, 64, 56, 56)), _rand((8, 64, 56, 56), 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    fns = dict(fastnorm=lambda: ops.cat([a, b], 1), torch=lambda: torch.cat([ta, tb], 1),
               numpy=lambda: np.concatenate([a, b], 1))
    _bench(benchmark, runtime, fns, 4 * a.nbytes, np.concatenate([a, b], 1))


@pytest.mark.benchmark(group="interpolate bilinear 2x 1x64x56x56")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bilinear_2x(benchmark, runtime):
    x = _rand((1, 64, 56, 56))
    tx = torch.from_numpy(x)
    fns = dict(fastnorm=lambda: ops.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
               torch=lambda: F.interpolate(tx, scale_factor=2, mode="bilinear", align_corners=False),
               numpy=_np_bilinear(x, 112, 112, False))
    want = F.interpolate(tx.double(), scale_factor=2, mode="bilinear", align_corners=False).numpy()
    _bench(benchmark, runtime, fns, 5 * x.nbytes, want)


@pytest.mark.benchmark(group="interpolate nearest 2x 1x64x56x56")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_nearest_2x(benchmark, runtime):
    x = _rand((1, 64, 56, 56))
    tx = torch.from_numpy(x)
    fns = dict(fastnorm=lambda: ops.interpolate(x, scale_factor=2),
               torch=lambda: F.interpolate(tx, scale_factor=2),
               numpy=lambda: x.repeat(2, axis=2).repeat(2, axis=3))
    _bench(benchmark, runtime, fns, 5 * x.nbytes, x.repeat(2, axis=2).repeat(2, axis=3))


@pytest.mark.benchmark(group="pad reflect 1 1x64x112x112")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pad_reflect(benchmark, runtime):
    x = _rand((1, 64, 112, 112))
    tx = torch.from_numpy(x)
    np_pad = lambda: np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")  # noqa: E731
    fns = dict(fastnorm=lambda: ops.pad(x, (1, 1, 1, 1), mode="reflect"),
               torch=lambda: F.pad(tx, (1, 1, 1, 1), mode="reflect"), numpy=np_pad)
    _bench(benchmark, runtime, fns, x.nbytes + 64 * 114 * 114 * 4, np_pad())


@pytest.mark.benchmark(group="add residual+relu NHWC driver 8x56x56x64")
@pytest.mark.parametrize("runtime", ["fastnorm", "fastnorm-1thread", "torch", "torch-1thread"])
def test_add_relu_driver(benchmark, runtime):
    """The executor's fused residual add + relu (C driver, output into a preallocated buffer)."""
    a, b = _rand((8, 56, 56, 64)).reshape(-1), _rand((8, 56, 56, 64), 1).reshape(-1)
    y = np.empty_like(a)
    ta, tb, ty = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(y)

    def fn_fast():
        _C.binary(-1, _C.BIN_ADD, 1.0, (a.size,), (1,), (1,), a, b, (1, 0.0, float("inf")), y, get_num_threads())
        return y

    def fn_torch():
        torch.add(ta, tb, out=ty)
        return torch.relu_(ty)
    _bench(benchmark, runtime, dict(fastnorm=fn_fast, torch=fn_torch), 3 * a.nbytes, np.maximum(a.astype(np.float64) + b, 0))
