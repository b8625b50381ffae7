"""conv2d: fastnorm.ops.conv2d vs torch.nn.functional.conv2d on the same inputs, one group per shape.

Run: python -m pytest bench/bench_conv.py --benchmark-only (add --benchmark-columns=min,median,mean).
fastnorm's number includes what its functional API does per call: packing the weights and the
NCHW <-> NHWC transposes around the NHWC kernel (a compiled model does those once / not at all).

conv_transpose2d: the DCGAN generator's layers at batch 1 and the whole generator. Rows: "fastnorm"
(a one-layer compiled model: weights packed once, NCHW in and out), "fastnorm-nhwc" (the layer as it
runs inside a plan), "fastnorm-ops" (fastnorm.ops per call, packing included) and "torch"; GFLOP/s
at the median in extra_info. On a shared host, bench/adhoc/convt_cputime.py times the same by thread CPU time.

Every case first checks its output against a float64 torch reference (tolerances in bench/_check.py),
then times; every runtime runs on BENCH_THREADS threads (default 1, pinned by bench/conftest.py).
"""
import numpy as np
import pytest

from fastnorm import ops

from _check import REDUCTION, WINOGRAD, check
from _peers import THREADS, need

torch = need("torch", module_level=True)
F = torch.nn.functional


def ref_conv2d(x, wt, b, stride=1, pad=0, groups=1, relu=False):
    """float64 torch conv2d (+ ReLU) of the float32 inputs: the reference every conv row is checked against."""
    y = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(), torch.from_numpy(b).double(),
                 stride, pad, 1, groups)
    return (torch.relu(y) if relu else y).numpy()


def ref_conv_transpose2d(x, wt, b, stride, pad):
    return F.conv_transpose2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(),
                              torch.from_numpy(b).double(), stride, pad).numpy()

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
    check("fastnorm conv2d " + name, ops.conv2d(x, wt, b, 1, pad), ref_conv2d(x, wt, b, 1, pad), REDUCTION)
    benchmark(ops.conv2d, x, wt, b, 1, pad)
    record_gflops(benchmark, name, "fastnorm")


@pytest.mark.parametrize("name", CASES)
def test_torch_conv2d(benchmark, name):
    x, wt, b, pad = make(name)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

    def run():
        with torch.inference_mode():
            return torch.nn.functional.conv2d(tx, tw, tb, 1, pad)

    check("torch conv2d " + name, run(), ref_conv2d(x, wt, b, 1, pad), REDUCTION)
    benchmark(run)
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
    nt = get_num_threads()  # BENCH_THREADS: pinned for fastnorm and torch alike by bench/conftest.py
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
            return y.transpose(0, 3, 1, 2)
    elif impl == "fastnorm-ops":
        def run():
            return ops.conv2d(x, wt, b, s, p, 1, c)
    else:
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)
        if impl == "torch-channels_last":
            tx = tx.contiguous(memory_format=torch.channels_last)
            tw = tw.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                return torch.nn.functional.conv2d(tx, tw, tb, s, p, 1, c)

    check("%s %s" % (impl, name), run(), ref_conv2d(x, wt, b, s, p, c), REDUCTION)
    benchmark(run)
    benchmark.extra_info["runtime"] = impl
    benchmark.extra_info["threads"] = nt
    if impl.startswith("fastnorm"):
        import fastnorm
        benchmark.extra_info["isa"] = fastnorm.cpu_info()["isa"]
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    benchmark.extra_info["GB/s"] = round(dw_bytes(name) / benchmark.stats.stats.median / 1e9, 1)


# ------------------------------------------------------------------------------------------------
# Winograd F(4x4, 3x3) on ResNet-18's 3x3 layers at batch 1, BENCH_THREADS threads: the plan's winograd kernel
# vs its direct indirect-GEMM conv (both on prepacked weights and NHWC activations, as inside a
# compiled model) vs torch. "gflops_eff" is the direct conv's FLOP count / median time.
# Run: python -m pytest bench/bench_conv.py -k winograd --benchmark-only
RESNET18_3X3 = {"winograd_64x56x56": (64, 56), "winograd_128x28x28": (128, 28),
                "winograd_256x14x14": (256, 14), "winograd_512x7x7": (512, 7)}
WINO_CASES = [pytest.param(name, marks=pytest.mark.benchmark(group=name), id=name)
              for name in RESNET18_3X3]


def _wino_setup(name):
    from fastnorm import _C
    c, hw = RESNET18_3X3[name]
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((1, c, hw, hw)), 0).astype(np.float32)  # post-ReLU input
    wt = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)  # kaiming
    b = (0.1 * rng.standard_normal(c)).astype(np.float32)
    desc = (c, c, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
    return _C, x, wt, b, desc, 2.0 * hw * hw * c * c * 9


def _record_eff(benchmark, runtime, fl):
    benchmark.extra_info["runtime"] = runtime
    if benchmark.stats is None:
        return
    benchmark.extra_info["gflops_eff"] = round(fl / benchmark.stats.stats.median / 1e9, 1)


@pytest.mark.parametrize("name", WINO_CASES)
@pytest.mark.parametrize("variant", ["winograd", "direct"])
def test_fastnorm_resnet18_3x3(benchmark, name, variant):
    _C, x, wt, b, desc, fl = _wino_setup(name)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = np.empty_like(xh)
    act = (1, 0.0, float("inf"))  # the ReLU a ResNet conv carries in its epilogue
    if variant == "winograd":
        packed = _C.winograd3x3_pack(-1, desc, wt, b)
        args, tol = (_C.winograd3x3_nhwc, -1, desc, xh, packed, None, act, y, THREADS), WINOGRAD
    else:
        packed = _C.conv2d_pack(-1, desc, wt, b)
        args, tol = (_C.conv2d_nhwc, -1, desc, xh, packed, None, act, y, THREADS), REDUCTION
    args[0](*args[1:])
    check("%s %s" % (variant, name), y.transpose(0, 3, 1, 2), ref_conv2d(x, wt, b, 1, 1, relu=True), tol)
    benchmark(*args)
    _record_eff(benchmark, "fastnorm" if variant == "winograd" else "fastnorm-direct", fl)


@pytest.mark.parametrize("name", WINO_CASES)
def test_torch_resnet18_3x3(benchmark, name):
    _, x, wt, b, _, fl = _wino_setup(name)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

    def run():
        with torch.inference_mode():
            return torch.relu(torch.nn.functional.conv2d(tx, tw, tb, 1, 1))

    check("torch " + name, run(), ref_conv2d(x, wt, b, 1, 1, relu=True), REDUCTION)
    benchmark(run)
    _record_eff(benchmark, "torch", fl)
# ---- conv_transpose2d: the DCGAN generator's layers (batch 1) -------------------------------------
# name: (n, cin, cout, h, k, stride, padding); square images, output (h-1)*s - 2p + k
DCGAN = {
    "convt_dcgan1_100x1x1_512x4x4": (1, 100, 512, 1, 4, 1, 0),
    "convt_dcgan2_512x4x4_256x8x8": (1, 512, 256, 4, 4, 2, 1),
    "convt_dcgan3_256x8x8_128x16x16": (1, 256, 128, 8, 4, 2, 1),
    "convt_dcgan4_128x16x16_64x32x32": (1, 128, 64, 16, 4, 2, 1),
    "convt_dcgan5_64x32x32_3x64x64": (1, 64, 3, 32, 4, 2, 1),
}


def convt_flops(name):
    """2 * (multiply-adds): every input pixel meets every tap of every output channel."""
    n, cin, cout, h, k, s, p = DCGAN[name]
    return 2.0 * n * h * h * cin * cout * k * k


def record_convt(benchmark, name, runtime):
    benchmark.extra_info["runtime"] = runtime
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    benchmark.extra_info["GFLOP/s"] = round(convt_flops(name) / benchmark.stats.stats.median / 1e9, 1)
    benchmark.extra_info["gflops_at_min"] = round(convt_flops(name) / benchmark.stats.stats.min / 1e9, 1)


def make_convt(name):
    n, cin, cout, h, k, s, p = DCGAN[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, h, h)).astype(np.float32)
    wt = (rng.standard_normal((cin, cout, k, k)) * 0.02).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    return x, wt, b, s, p


CONVT_CASES = [pytest.param(name, marks=pytest.mark.benchmark(group=name), id=name) for name in DCGAN]


def convt_model(x, wt, b, s, p):
    """The transposed conv as a one-node compiled model (NCHW in and out); bench/adhoc/convt_cputime.py
    times the same model."""
    import fastnorm
    from fastnorm.graph import Graph, Node, TensorSpec
    cin, h = x.shape[1], x.shape[2]
    oh = (h - 1) * s - 2 * p + wt.shape[2]
    g = Graph([TensorSpec("x", (None, cin, h, h))], [TensorSpec("y", (None, wt.shape[1], oh, oh))],
              [Node("up", "conv_transpose2d", ["x", "w", "b"], ["y"],
                    {"stride": [s, s], "padding": [p, p, p, p]})], {"w": wt, "b": b})
    return fastnorm.Model(g)


@pytest.mark.parametrize("name", CONVT_CASES)
def test_fastnorm_conv_transpose2d(benchmark, name):
    """The layer as a compiled model runs it: weights packed once, NCHW in and out."""
    x, wt, b, s, p = make_convt(name)
    model = convt_model(x, wt, b, s, p)
    # plan and pack once, outside the timing; the same call is the check
    check("fastnorm " + name, model.predict(x), ref_conv_transpose2d(x, wt, b, s, p), REDUCTION)
    benchmark(model.predict, x)
    record_convt(benchmark, name, "fastnorm")


@pytest.mark.parametrize("name", CONVT_CASES)
def test_fastnorm_nhwc_conv_transpose2d(benchmark, name):
    """The layer inside a compiled model: NHWC in and out, weights packed once (no edge transposes)."""
    from fastnorm import _C
    from fastnorm.threads import get_num_threads
    x, wt, b, s, p = make_convt(name)
    n, cin, h, _ = x.shape
    k, cout = wt.shape[2], wt.shape[1]
    oh = (h - 1) * s - 2 * p + k
    desc = (cin, cout, 1, k, k, s, s, 1, 1, p, p, p, p)
    packed = _C.conv_transpose2d_pack(-1, desc, wt, b)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = np.empty((n, oh, oh, cout), np.float32)
    args = (_C.conv_transpose2d_nhwc, -1, desc, xn, packed, (0, 0.0, 0.0), y, get_num_threads())
    args[0](*args[1:])
    check("fastnorm-nhwc " + name, y.transpose(0, 3, 1, 2), ref_conv_transpose2d(x, wt, b, s, p), REDUCTION)
    benchmark(*args)
    record_convt(benchmark, name, "fastnorm-nhwc")


@pytest.mark.parametrize("name", CONVT_CASES)
def test_fastnorm_ops_conv_transpose2d(benchmark, name):
    """fastnorm.ops per call: packs the weights each time (dominant for the big early layers)."""
    x, wt, b, s, p = make_convt(name)
    check("fastnorm-ops " + name, ops.conv_transpose2d(x, wt, b, s, p), ref_conv_transpose2d(x, wt, b, s, p),
          REDUCTION)
    benchmark(ops.conv_transpose2d, x, wt, b, s, p)
    record_convt(benchmark, name, "fastnorm-ops")


@pytest.mark.parametrize("name", CONVT_CASES)
def test_torch_conv_transpose2d(benchmark, name):
    x, wt, b, s, p = make_convt(name)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

    def run():
        with torch.inference_mode():
            return torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p)

    check("torch " + name, run(), ref_conv_transpose2d(x, wt, b, s, p), REDUCTION)
    benchmark(run)
    record_convt(benchmark, name, "torch")


def dcgan_net(torch):
    """DCGAN's generator (nz 100, ngf 64, 3 channels) with realistic BN statistics, eval mode."""
    import test_conv_transpose
    return test_conv_transpose.dcgan_generator(torch)


@pytest.mark.benchmark(group="convt_dcgan_generator_b1")
@pytest.mark.parametrize("runtime", ["fastnorm", "torch"])
def test_dcgan_generator(benchmark, runtime):
    """The whole generator at batch 1: 5 transposed convs (BN folded, ReLU fused) and a Tanh."""
    import copy
    net = dcgan_net(torch)
    z = torch.randn(1, 100, 1, 1, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = copy.deepcopy(net).double()(z.double()).numpy()
    if runtime == "fastnorm":
        import fastnorm
        model = fastnorm.from_torch(net, z)
        zn = z.numpy()
        run = lambda: model.predict(zn)  # noqa: E731
    else:
        def run():
            with torch.inference_mode():
                return net(z)
    check("%s dcgan generator" % runtime, run(), want, REDUCTION)
    benchmark(run)
    benchmark.extra_info["runtime"] = runtime
    if benchmark.stats is not None:
        flops = sum(convt_flops(name) for name in DCGAN)
        benchmark.extra_info["GFLOP/s"] = round(flops / benchmark.stats.stats.median / 1e9, 1)
