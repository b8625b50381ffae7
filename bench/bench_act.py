"""Activations: fastnorm vs torch vs NumPy on the same tensor, one group per (op, shape).

Run: python -m pytest bench/bench_act.py --benchmark-only -q
GB/s counts the bytes an elementwise op (or a softmax) must move at least: read x once, write y
once (2 * x.nbytes). fastnorm and torch use their default thread counts; NumPy runs on one thread
(its gelu needs erf, which NumPy lacks: the NumPy row uses the tanh form, noted in extra_info).
"""
import math

import numpy as np
import pytest

import fastnorm
import fastnorm.ops as ops
from fastnorm.threads import get_num_threads

torch = pytest.importorskip("torch")
F = torch.nn.functional

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
    out = benchmark(fn)
    benchmark.extra_info["runtime"] = runtime
    if runtime == "numpy" and op == "gelu":
        benchmark.extra_info["note"] = "NumPy has no erf: tanh form"
    if benchmark.stats is not None:
        med = benchmark.stats.stats.median
        benchmark.extra_info["GB/s"] = round(2 * x.nbytes / med / 1e9, 2)
        benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
        benchmark.extra_info["threads"] = (get_num_threads() if runtime == "fastnorm" else
                                           torch.get_num_threads() if runtime == "torch" else 1)
    got = out.numpy() if hasattr(out, "numpy") else out
    ref = fn_t(torch.from_numpy(x)).numpy()
    assert np.allclose(got, ref, rtol=1e-5, atol=2e-3 if (runtime == "numpy" and op == "gelu") else 1e-5)


def _cases():
    for op in OPS:
        for shape in SHAPES:
            for runtime in RUNTIMES:
                yield pytest.param(op, shape, runtime, id="%s-%s-%s" % (op, "x".join(map(str, shape)), runtime),
                                   marks=pytest.mark.benchmark(group="%s %s" % (op, "x".join(map(str, shape)))))


@pytest.mark.parametrize("op,shape,runtime", list(_cases()))
def test_act(benchmark, op, shape, runtime):
    _run(benchmark, op, shape, runtime)
