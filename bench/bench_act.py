"""Activations: fastnorm vs torch vs NumPy on the same tensor, one group per (op, shape).

Run: python -m pytest bench/bench_act.py --benchmark-only -q
GB/s counts the bytes an elementwise op (or a softmax) must move at least: read x once, write y
once (2 * x.nbytes). fastnorm and torch run on BENCH_THREADS threads (default 1, pinned by
bench/conftest.py); NumPy on one (its gelu needs erf, which NumPy lacks: the NumPy row uses the tanh
form, noted in extra_info, and is checked with the tanh form's own error bound). Every row checks its
output against torch in float64 before it is timed.
"""
import math

import numpy as np
import pytest

import fastnorm
import fastnorm.ops as ops
from fastnorm.threads import get_num_threads

from _check import ELEMENTWISE, check
from _peers import need

torch = need("torch", module_level=True)
F = torch.nn.functional
# gelu's tanh form differs from the erf definition by up to ~5e-4 x max(1, |x|) on this data
GELU_TANH_FORM = 2e-3

SHAPES = [(8, 64, 56, 56), (1, 256, 14, 14)]
RUNTIMES = ["fastnorm", "torch", "numpy"]


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


_K = np.float32(math.sqrt(2 / math.pi))
OPS = {
    "gelu": (ops.gelu, F.gelu,
             lambda x: 0.5 * x * (1 + np.tanh(_K * (x + np.float32(0.044715) * x * x * x)))),
    "silu": (ops.silu, F.silu, lambda x: x * _np_sigmoid(x)),
    "sigmoid": (ops.sigmoid, torch.sigmoid, _np_sigmoid),
    "hardswish": (ops.hardswish, F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "softmax_dim1": (lambda x: ops.softmax(x, 1), lambda t: torch.softmax(t, 1), lambda x: _np_softmax(x, 1)),
}


def _run(benchmark, op, shape, runtime):
    x = (np.random.default_rng(0).standard_normal(shape) * 3).astype(np.float32)
    fn_f, fn_t, fn_n = OPS[op]
    if runtime == "fastnorm":
        fn = lambda: fn_f(x)  # noqa: E731
    elif runtime == "torch":
        tx = torch.from_numpy(x)

        def fn():
            with torch.inference_mode():
                return fn_t(tx)
    else:
        fn = lambda: fn_n(x)  # noqa: E731
    with torch.inference_mode():
        want = fn_t(torch.from_numpy(x).double()).numpy()
    tol = GELU_TANH_FORM if (runtime == "numpy" and op == "gelu") else ELEMENTWISE
    check("%s %s %s" % (runtime, op, shape), fn(), want, tol)
    benchmark(fn)
    benchmark.extra_info["runtime"] = runtime
    if runtime == "numpy" and op == "gelu":
        benchmark.extra_info["note"] = "NumPy has no erf: tanh form"
    if benchmark.stats is not None:
        med = benchmark.stats.stats.median
        benchmark.extra_info["GB/s"] = round(2 * x.nbytes / med / 1e9, 2)
        benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
        benchmark.extra_info["threads"] = (get_num_threads() if runtime == "fastnorm" else
                                           torch.get_num_threads() if runtime == "torch" else 1)


def _cases():
    for op in OPS:
        for shape in SHAPES:
            for runtime in RUNTIMES:
                yield pytest.param(op, shape, runtime, id="%s-%s-%s" % (op, "x".join(map(str, shape)), runtime),
                                   marks=pytest.mark.benchmark(group="%s %s" % (op, "x".join(map(str, shape)))))


@pytest.mark.parametrize("op,shape,runtime", list(_cases()))
def test_act(benchmark, op, shape, runtime):
    _run(benchmark, op, shape, runtime)
