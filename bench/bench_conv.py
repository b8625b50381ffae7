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


# ---- depthwise (groups == in == out channels): MobileNetV2's layers (+ a 5x5 and a 7x7) -----------------------------
# "fastnorm" is the NHWC depthwise kernel with weights packed once (what a compiled model runs);
# "fastnorm-ops" is ops.conv2d (NCHW in and out: packing and the two transposes included); "torch"
# is F.conv2d on NCHW, "torch-channels_last" on channels_last tensors. GB/s: the bytes the conv
# must move at least (input + output + weights) / median; depthwise is memory-bound.
# name: (n, c, h, k, stride)
DW_SHAPES = {
    "dw3x3_32x112x112_s1_b1": (1, 32, 112, 3, 1),
    "dw3x3_96x112x112_s2_b1": (1, 96, 112, 3, 2),
    "dw3x3_144x56x56_s1_b1": (1, 144, 56, 3, 1),
    "dw3x3_144x56x56_s2_b1": (1, 144, 56, 3, 2),
    "dw3x3_192x28x28_s1_b1": (1, 192, 28, 3, 1),
    "dw3x3_384x14x14_s1_b1": (1, 384, 14, 3, 1),
    "dw3x3_576x14x14_s2_b1": (1, 576, 14, 3, 2),
    "dw3x3_960x7x7_s1_b1": (1, 960, 7, 3, 1),
    "dw3x3_144x56x56_s1_b16": (16, 144, 56, 3, 1),
    "dw5x5_240x14x14_s1_b1": (1, 240, 14, 5, 1),     # MobileNetV3 / EfficientNet
    "dw7x7_96x56x56_s1_b1": (1, 96, 56, 7, 1),       # ConvNeXt-T stage 1
}
DW_IMPLS = ["fastnorm", "fastnorm-ops", "torch", "torch-channels_last"]
DW_CASES = [pytest.param(name, impl, marks=pytest.mark.benchmark(group=name), id="%s-%s" % (name, impl))
            for name in DW_SHAPES for impl in DW_IMPLS]


def dw_make(name):
    n, c, h, k, s = DW_SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    wt = (rng.standard_normal((c, 1, k, k)) / k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    return x, wt, b, s, k // 2


def _on_line(shape):
    buf = np.empty(int(np.prod(shape)) + 16, np.float32)
    skip = (-buf.ctypes.data % 64) // 4
    return buf[skip:skip + int(np.prod(shape))].reshape(shape)


def dw_bytes(name):
    n, c, h, k, s = DW_SHAPES[name]
    oh = (h + 2 * (k // 2) - k) // s + 1
    return 4 * (n * c * h * h + n * c * oh * oh + c * k * k + c)


@pytest.mark.parametrize("name,impl", DW_CASES)
def test_dwconv(benchmark, name, impl):
    from fastnorm import _C
    from fastnorm.ops._common import ACT_NONE
    from fastnorm.threads import get_num_threads

    x, wt, b, s, p = dw_make(name)
    n, c, h, _ = x.shape
    nt = get_num_threads()
    if impl == "fastnorm":
        desc = (c, c, c, wt.shape[2], wt.shape[3], s, s, 1, 1, p, p, p, p)
        packed = _C.dwconv2d_pack(wt, b)
        oh = _C.conv_out_extent(h, wt.shape[2], s, 1, p, p)
        # on 64-byte lines, as the plan's arena buffers (numpy's own start 16 bytes past one)
        xn = _on_line((n, h, h, c))
        xn[...] = x.transpose(0, 2, 3, 1)
        y = _on_line((n, oh, oh, c))

        def run():
            _C.dwconv2d_nhwc(-1, desc, xn, packed, None, ACT_NONE, y, nt)
            return y
    elif impl == "fastnorm-ops":
        def run():
            return ops.conv2d(x, wt, b, s, p, 1, c)
    else:
        torch = pytest.importorskip("torch")
        torch.set_num_threads(nt)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)
        if impl == "torch-channels_last":
            tx = tx.contiguous(memory_format=torch.channels_last)
            tw = tw.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                return torch.nn.functional.conv2d(tx, tw, tb, s, p, 1, c)

    benchmark(run)
    benchmark.extra_info["runtime"] = impl
    benchmark.extra_info["threads"] = nt
    if impl.startswith("fastnorm"):
        import fastnorm
        benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    benchmark.extra_info["GB/s"] = round(dw_bytes(name) / benchmark.stats.stats.median / 1e9, 1)
