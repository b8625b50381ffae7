"""conv2d: fastnorm.ops.conv2d vs torch.nn.functional.conv2d on the same inputs, one group per shape.

Run: python -m pytest bench/bench_conv.py --benchmark-only (add --benchmark-columns=min,median,mean).
fastnorm's number includes what its functional API does per call: packing the weights and the
NCHW <-> NHWC transposes around the NHWC kernel (a compiled model does those once / not at all).
"""
import numpy as np
import pytest

from fastnorm import ops

# name: (n, cin, cout, h, w, k, padding)
SHAPES = {
    "conv3x3_64x64_56x56_b1": (1, 64, 64, 56, 56, 3, 1),
    "simplecnn_conv2_16x32_16x16_b64": (64, 16, 32, 16, 16, 3, 1),
}


def flops(name):
    n, cin, cout, h, w, k, pad = SHAPES[name]
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    return 2.0 * n * oh * ow * cout * cin * k * k


def record_gflops(benchmark, name, runtime):
    """GFLOP/s at the fastest round, in the saved JSON (--benchmark-json) as extra_info."""
    benchmark.extra_info["runtime"] = runtime
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    benchmark.extra_info["gflops_at_min"] = round(flops(name) / benchmark.stats.stats.min / 1e9, 1)


def make(name):
    n, cin, cout, h, w, k, pad = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    return x, wt, b, pad


# each shape is its own benchmark group, so fastnorm and torch sit side by side
CASES = [pytest.param(name, marks=pytest.mark.benchmark(group=name), id=name) for name in SHAPES]


@pytest.mark.parametrize("name", CASES)
def test_fastnorm_conv2d(benchmark, name):
    x, wt, b, pad = make(name)
    y = benchmark(ops.conv2d, x, wt, b, 1, pad)
    assert y.shape[0] == x.shape[0]
    record_gflops(benchmark, name, "fastnorm")


@pytest.mark.parametrize("name", CASES)
def test_torch_conv2d(benchmark, name):
    torch = pytest.importorskip("torch")
    x, wt, b, pad = make(name)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

    def run():
        with torch.inference_mode():
            return torch.nn.functional.conv2d(tx, tw, tb, 1, pad)

    y = benchmark(run)
    assert y.shape[0] == x.shape[0]
    record_gflops(benchmark, name, "torch")
