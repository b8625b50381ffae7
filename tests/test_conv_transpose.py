"""conv_transpose2d: the GEMM + scatter driver under every ISA vs the float64 reference and torch, the
graph op (shape checks, asymmetric padding, BN folding, activation fusion), the torch frontend, a
DCGAN generator end to end, and the .fnm round trip."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import util
from util import importorskip
import fastnorm
from fastnorm import _C, ops, threads
from fastnorm.errors import UnsupportedError
from fastnorm.graph import Graph, Node, TensorSpec, count_macs, infer_shapes
from fastnorm.ops._common import ACT_NONE
from fastnorm.passes import fold_batchnorm, fuse_activations
from fastnorm.testing import ISA_NAMES, force_isa
from fastnorm.threads import set_num_threads

INF = float("inf")


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def convt_case(rng, n, cin, h, w, cout, k, stride=1, padding=0, output_padding=0, groups=1,
               dilation=1, bias=True):
    kh, kw = pair(k)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cin, cout // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, wt, b, dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                          dilation=dilation)


def reference_convt(x, wt, b, **params):
    """(want, magnitude): the float64 result, and the same op over |x|, |w|, |b| for the bound."""
    want = reference.conv_transpose2d(x, wt, b, **params)
    mag = reference.conv_transpose2d(np.abs(x), np.abs(wt), None if b is None else np.abs(b), **params)
    return want, mag


def check_convt(isa, x, wt, b, params):
    got = ops.conv_transpose2d(x, wt, b, **params)
    util.assert_ran(isa)
    assert got.dtype == np.float32
    want, mag = reference_convt(x, wt, b, **params)
    util.assert_close_dot(got, want, mag)
    return got, mag


# (n, cin, h, w, cout, kernel, stride, padding, output_padding, groups, dilation)
CASES = [
    (1, 100, 1, 1, 512, 4, 1, 0, 0, 1, 1),         # DCGAN first layer: 1x1 -> 4x4
    (1, 64, 4, 4, 32, 4, 2, 1, 0, 1, 1),           # DCGAN up-sampling layer
    (2, 16, 8, 8, 3, 4, 2, 1, 0, 1, 1),            # RGB output (the 1..3-channel scatter)
    (3, 5, 1, 1, 7, 3, 2, 0, 1, 1, 1),             # 1x1 image, output_padding
    (1, 7, 5, 6, 9, 3, 2, 1, 1, 1, 1),             # odd sizes, output_padding 1
    (2, 6, 4, 5, 6, 2, 3, 0, 2, 1, 1),             # stride > kernel: rows no input reaches
    (1, 8, 5, 5, 12, 3, 1, 1, 0, 1, 2),            # dilation 2
    (1, 4, 6, 6, 8, 3, 2, 2, 1, 1, 2),             # dilation + stride + output_padding
    (2, 12, 5, 5, 18, 3, 2, 1, 1, 3, 1),           # groups 3
    (1, 8, 6, 6, 8, 4, 2, 1, 0, 8, 1),             # depthwise
    (1, 3, 7, 4, 5, (2, 5), (1, 2), (0, 2), (0, 1), 1, (2, 1)),  # per-axis everything
    (1, 17, 3, 3, 33, 5, 1, 3, 0, 1, 1),           # padding cropping all but the centre pixel
    (1, 40, 3, 3, 65, 4, 2, 1, 0, 1, 1),           # cout = 2*32 + 1: partial panel, tail lanes
    (1, 33, 16, 16, 17, 4, 2, 1, 0, 1, 1),         # several chunks of input rows per image
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_matches_reference_and_torch(isa, rng, case):
    n, cin, h, w, cout, k, s, p, op, g, d = case
    x, wt, b, params = convt_case(rng, n, cin, h, w, cout, k, s, p, op, g, d)
    got, mag = check_convt(isa, x, wt, b, params)
    torch = importorskip("torch")
    want = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt),
                                                torch.from_numpy(b), **params).numpy()
    # both sides are float32 sums, each within the bound of the exact value
    util.assert_close_dot(got, want.astype(np.float64), 2 * mag)


def test_unbatched_no_bias_and_empty_batch(isa, rng):
    x, wt, _, params = convt_case(rng, 1, 4, 3, 5, 6, 3, 2, 1, 1, bias=False)
    got = ops.conv_transpose2d(x[0], wt, None, **params)
    util.assert_ran(isa)
    want, mag = reference_convt(x, wt, None, **params)
    util.assert_close_dot(got, want[0], mag[0])
    empty = ops.conv_transpose2d(x[:0], wt, None, **params)
    assert empty.shape == (0,) + want.shape[1:] and empty.dtype == np.float32


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sweep(isa, data):
    groups = data.draw(st.sampled_from([1, 1, 1, 2, 3]), "groups")
    cin = groups * data.draw(st.integers(1, 7), "cin/groups")
    cout = groups * data.draw(st.integers(1, 9), "cout/groups")
    kh, kw = data.draw(st.integers(1, 5), "kh"), data.draw(st.integers(1, 5), "kw")
    sh, sw = data.draw(st.integers(1, 3), "sh"), data.draw(st.integers(1, 3), "sw")
    dh, dw = data.draw(st.integers(1, 2), "dh"), data.draw(st.integers(1, 2), "dw")
    oph = data.draw(st.integers(0, max(sh, dh) - 1), "oph")
    opw = data.draw(st.integers(0, max(sw, dw) - 1), "opw")
    h, w = data.draw(st.integers(1, 7), "h"), data.draw(st.integers(1, 7), "w")
    # padding may crop up to all but one row / column of the output
    full_h, full_w = (h - 1) * sh + dh * (kh - 1) + oph + 1, (w - 1) * sw + dw * (kw - 1) + opw + 1
    ph = data.draw(st.integers(0, min(3, (full_h - 1) // 2)), "ph")
    pw = data.draw(st.integers(0, min(3, (full_w - 1) // 2)), "pw")
    n = data.draw(st.sampled_from([1, 3]), "n")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), "seed"))
    x, wt, b, params = convt_case(rng, n, cin, h, w, cout, (kh, kw), (sh, sw), (ph, pw), (oph, opw),
                                  groups, (dh, dw), bias=data.draw(st.booleans(), "bias"))
    check_convt(isa, x, wt, b, params)


# ---- the driver straight through the binding: asymmetric padding, epilogue, threads -------------

def nhwc_convt(isa, x, wt, b, stride, pads, output_padding, groups, dilation, act=ACT_NONE, nthreads=1):
    """_C.conv_transpose2d_nhwc on NCHW arrays, pads = (top, left, bottom, right); result in NCHW."""
    n, cin, h, w = x.shape
    _, cout_g, kh, kw = wt.shape
    (sh, sw), (dh, dw), (oph, opw) = pair(stride), pair(dilation), pair(output_padding)
    desc = (cin, cout_g * groups, groups, kh, kw, sh, sw, dh, dw) + tuple(pads)
    packed = _C.conv_transpose2d_pack(-1, desc, wt, b)
    oh = _C.conv_transpose_out_extent(h, kh, sh, dh, pads[0], pads[2], oph)
    ow = _C.conv_transpose_out_extent(w, kw, sw, dw, pads[1], pads[3], opw)
    size = n * oh * ow * cout_g * groups
    # y is the front of a larger buffer: a write past the last row or column would hit the guard
    buf = np.full(size + 80, -12345.0, np.float32)
    y = buf[:size].reshape(n, oh, ow, cout_g * groups)
    _C.conv_transpose2d_nhwc(-1, desc, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), packed, act, y,
                             nthreads)
    util.assert_ran(isa)
    assert (buf[size:] == -12345.0).all(), "the driver wrote past the end of y"
    return y.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("pads", [(0, 1, 2, 0), (3, 0, 0, 2), (1, 2, 1, 2)])
def test_asymmetric_padding(isa, rng, pads):
    x, wt, b, _ = convt_case(rng, 2, 6, 5, 4, 10, 4, groups=2)
    got = nhwc_convt(isa, x, wt, b, 2, pads, 1, 2, 1)
    want, mag = reference_convt(x, wt, b, stride=2, padding=pads, output_padding=1, groups=2)
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("act", [(1, 0.0, INF), (1, 0.0, 6.0), (1, -0.5, 0.5), ACT_NONE],
                         ids=["relu", "relu6", "clamp", "none"])
@pytest.mark.parametrize("cout", [3, 40])
def test_fused_clamp_after_every_contribution(isa, rng, act, cout):
    """The clamp applies to the finished sum (a partial sum clamped early would differ), also on
    output_padding rows/columns that hold only the bias, and NaN passes through it."""
    x, wt, b, _ = convt_case(rng, 2, 9, 6, 5, cout, 3)
    x *= 0.3
    x[1, 4, 2, 3] = np.nan  # reaches a 3x3 patch of the stride-2 output, every channel
    got = nhwc_convt(isa, x, wt, b, 2, (1, 1, 1, 1), 1, 1, 1, act)
    want, mag = reference_convt(x, wt, b, stride=2, padding=1, output_padding=1)
    if act[0] == 1:
        want = reference.clamp(want, act[1], act[2])
    nan = np.isnan(want)
    assert nan.sum() == cout * 9
    assert (np.isnan(got) == nan).all(), "NaN positions differ"
    util.assert_close_dot(got[~nan], want[~nan], mag[~nan])


def test_infinities_like_torch(isa, rng):
    torch = importorskip("torch")
    x, wt, b, params = convt_case(rng, 1, 5, 4, 4, 6, 3, 2, 1, 1)
    x[0, 1, 1, 2] = INF
    x[0, 3, 2, 2] = -INF
    got = ops.conv_transpose2d(x, wt, b, **params)
    util.assert_ran(isa)
    want = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt),
                                                torch.from_numpy(b), **params).numpy()
    assert (np.isnan(got) == np.isnan(want)).all()
    assert (np.isposinf(got) == np.isposinf(want)).all() and (np.isneginf(got) == np.isneginf(want)).all()
    assert np.isinf(want).any() and np.isnan(want).any()


@pytest.mark.parametrize("case", [(2, 128, 32, 32, 64, 4, 2, 1, 0, 1, 1),   # several row chunks
                                  (3, 100, 1, 1, 512, 4, 1, 0, 0, 1, 1),    # images per chunk
                                  (2, 64, 9, 7, 3, 5, 3, 2, 1, 1, 1),       # RGB, odd strides
                                  (1, 48, 12, 12, 48, 3, 2, 1, 1, 4, 2)])   # groups, dilation
def test_threads_bit_identical(isa, rng, case):
    n, cin, h, w, cout, k, s, p, op, g, d = case
    x, wt, b, _ = convt_case(rng, n, cin, h, w, cout, k, s, p, op, g, d)
    one = nhwc_convt(isa, x, wt, b, s, (p,) * 4, op, g, d, (1, 0.0, INF), nthreads=1)
    for nt in (2, 3):
        many = nhwc_convt(isa, x, wt, b, s, (p,) * 4, op, g, d, (1, 0.0, INF), nthreads=nt)
        assert np.array_equal(one, many), "nthreads=%d differs from nthreads=1" % nt


def test_threads_bit_identical_through_ops(isa, rng):
    x, wt, b, params = convt_case(rng, 1, 128, 16, 16, 64, 4, 2, 1)
    saved = threads._user_threads
    try:
        set_num_threads(1)
        one = ops.conv_transpose2d(x, wt, b, **params)
        set_num_threads(2)
        two = ops.conv_transpose2d(x, wt, b, **params)
        util.assert_ran(isa)
    finally:
        set_num_threads(saved)
    assert np.array_equal(one, two)


# ---- the caller's mistakes --------------------------------------------------------------------------

def test_bad_arguments(rng):
    x = rng.standard_normal((1, 6, 4, 4)).astype(np.float32)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="weight: expected 4D"):
        ops.conv_transpose2d(x, w[0])
    with pytest.raises(ValueError, match="input: expected 6 channels"):
        ops.conv_transpose2d(x[:, :5], w)
    with pytest.raises(ValueError, match="not divisible by groups=4"):
        ops.conv_transpose2d(x, w, groups=4)
    with pytest.raises(ValueError, match="groups"):
        ops.conv_transpose2d(x, w, groups=0)
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose2d(x, w, output_padding=1)           # stride 1, dilation 1
    ops.conv_transpose2d(x, w, output_padding=1, dilation=2)   # allowed: smaller than the dilation
    with pytest.raises(ValueError, match="padding"):
        ops.conv_transpose2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="empty output"):
        ops.conv_transpose2d(x, w, padding=4)
    with pytest.raises(ValueError, match="stride"):
        ops.conv_transpose2d(x, w, stride=0)
    with pytest.raises(TypeError, match="padding"):
        ops.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match="bias"):
        ops.conv_transpose2d(x, w, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="input"):
        ops.conv_transpose2d(x.astype(np.int32), w)


def test_binding_rejects_bad_shapes(rng):
    desc = (4, 8, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)
    w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    packed = _C.conv_transpose2d_pack(-1, desc, w, None)
    x = rng.standard_normal((1, 5, 5, 4)).astype(np.float32)
    y = np.empty((1, 9, 9, 8), np.float32)
    with pytest.raises(ValueError, match="weight"):
        _C.conv_transpose2d_pack(-1, desc, w[:, :3].copy(), None)
    with pytest.raises(ValueError, match="channels"):
        _C.conv_transpose2d_nhwc(-1, desc, x[..., :3].copy(), packed, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="output"):
        _C.conv_transpose2d_nhwc(-1, desc, x, packed, ACT_NONE, y[..., :4].copy(), 1)
    with pytest.raises(ValueError, match="packed"):
        _C.conv_transpose2d_nhwc(-1, desc, x, packed[:-1].copy(), ACT_NONE, y, 1)
    with pytest.raises(ValueError):  # not packed weights (the header's offset is checked)
        _C.conv_transpose2d_nhwc(-1, desc, x, np.zeros_like(packed), ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="groups"):
        _C.conv_transpose2d_pack(-1, (4, 8, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0), w, None)


# ---- the graph op ---------------------------------------------------------------------------------

def convt_graph(rng, cin=6, cout=8, h=5, w=4, attrs=None, bias=True):
    attrs = dict({"stride": [2, 2], "padding": [0, 1, 2, 0], "output_padding": [1, 0],
                  "dilation": [1, 1], "groups": 2}, **(attrs or {}))
    g = attrs["groups"]
    weights = {"w": rng.standard_normal((cin, cout // g, 3, 3)).astype(np.float32)}
    if bias:
        weights["b"] = rng.standard_normal(cout).astype(np.float32)
    node = Node("up", "conv_transpose2d", ["x", "w", "b" if bias else ""], ["y"], attrs)
    graph = Graph([TensorSpec("x", (None, cin, h, w))], [TensorSpec("y", (None, cout, None, None))],
                  [node], weights)
    return graph


def test_graph_op_asymmetric_padding_through_a_plan(isa, rng):
    g = convt_graph(rng)
    x = rng.standard_normal((3, 6, 5, 4)).astype(np.float32)
    got = fastnorm.Model(g).predict(x)
    util.assert_ran(isa)
    params = dict(stride=2, padding=(0, 1, 2, 0), output_padding=(1, 0), groups=2)
    want, mag = reference_convt(x, g.weights["w"], g.weights["b"], **params)
    assert got.shape == want.shape == (3, 8, 10, 8)
    util.assert_close_dot(got, want, mag)


def test_graph_shape_and_macs(rng):
    g = convt_graph(rng)
    shapes = infer_shapes(g, {"x": (2, 6, 5, 4)})
    # (5-1)*2 - 0 - 2 + 2 + 1 + 1 = 10 rows, (4-1)*2 - 1 - 0 + 2 + 0 + 1 = 8 columns
    assert shapes["y"] == (2, 8, 10, 8)
    assert count_macs(g, shapes) == 2 * 6 * 5 * 4 * 4 * 3 * 3  # every input pixel x every tap


def test_graph_op_output_padding_past_the_stride(isa, rng):
    """ONNX allows output_padding >= stride (torch does not): the extra rows and columns get only
    the bias (and the activation)."""
    g = convt_graph(rng, attrs={"stride": [1, 2], "output_padding": [2, 3], "padding": [0, 0, 0, 0]})
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    got = fastnorm.Model(g).predict(x)
    util.assert_ran(isa)
    want, mag = reference_convt(x, g.weights["w"], g.weights["b"], stride=(1, 2), padding=(0, 0, 0, 0),
                                output_padding=(2, 3), groups=2)
    assert got.shape == want.shape == (2, 8, (5 - 1) * 1 + 3 + 2, (4 - 1) * 2 + 3 + 3)
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("attrs,phrase", [
    ({"output_padding": [-1, 0]}, "output_padding"),
    ({"groups": 4}, "groups=4"),
    ({"padding": [9, 0, 9, 0]}, "empty output"),
    ({"padding": [0, 0]}, "padding"),
    ({"stride": [0, 1]}, "stride"),
    ({"act": ["sigmoid"]}, "act"),
])
def test_graph_rejects_bad_attributes(rng, attrs, phrase):
    g = convt_graph(rng, attrs=attrs)
    with pytest.raises(ValueError, match=phrase):
        infer_shapes(g, {"x": (1, 6, 5, 4)})


def test_graph_rejects_bad_weights(rng):
    g = convt_graph(rng)
    g.weights["b"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="bias has 5 values"):
        infer_shapes(g, {"x": (1, 6, 5, 4)})
    with pytest.raises(ValueError, match="does not fit"):
        infer_shapes(convt_graph(rng), {"x": (1, 4, 5, 4)})
    g = convt_graph(rng)
    g.nodes[0].inputs[1] = "x"
    with pytest.raises(ValueError, match="must be a weight"):
        g.check()


def _bn_nodes(rng, graph, src, c, name):
    """A realistic eval BatchNorm after `src`: mean ~ N(0, 0.5), var ~ U(0.5, 2), gamma/beta random."""
    for k, v in (("m", rng.normal(0, 0.5, c)), ("v", rng.uniform(0.5, 2, c)),
                 ("g", rng.normal(1, 0.3, c)), ("b", rng.normal(0, 0.3, c))):
        graph.weights[name + "." + k] = v.astype(np.float32)
    return Node(name, "batch_norm", [src] + [name + "." + k for k in "mvgb"], [name + ".y"], {"eps": 1e-5})


@pytest.mark.parametrize("bias", [True, False])
def test_fold_bn_and_fuse_relu_are_equivalent(isa, rng, bias):
    """conv_transpose2d (groups 2) -> BN -> relu6 folds and fuses into one node with the numbers kept;
    the output channel is the weight's dim 1 within each group."""
    g = convt_graph(rng, bias=bias)
    g.nodes[0].outputs = ["c"]
    bn = _bn_nodes(rng, g, "c", 8, "bn")
    g.nodes += [bn, Node("r6", "clamp", [bn.outputs[0]], ["y"], {"min": 0.0, "max": 6.0})]
    folded = fold_batchnorm(g)
    assert [n.op for n in folded.nodes] == ["conv_transpose2d", "clamp"]
    assert folded.nodes[0].attrs["folded"] == ["bn"]
    fused = fuse_activations(folded)
    assert [n.op for n in fused.nodes] == ["conv_transpose2d"]
    assert fused.nodes[0].attrs["act"] == ["clamp", 0.0, 6.0]
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    params = dict(stride=2, padding=(0, 1, 2, 0), output_padding=(1, 0), groups=2)
    conv = reference.conv_transpose2d(x, g.weights["w"], g.weights.get("b"), **params)
    w = g.weights
    want = np.clip(reference.batch_norm(conv, w["bn.m"], w["bn.v"], w["bn.g"], w["bn.b"], eps=1e-5), 0, 6)
    fw = folded.weights[folded.nodes[0].inputs[1]]
    fb = folded.weights[folded.nodes[0].inputs[2]]
    assert np.abs(np.clip(reference.conv_transpose2d(x, fw, fb, **params), 0, 6) - want).max() < 1e-5
    for model in (fastnorm.Model(g), fastnorm.Model(g, optimize=False)):
        got = model.predict(x)
        util.assert_ran(isa)
        assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())


def test_save_load_round_trip(rng, tmp_path):
    g = convt_graph(rng)
    g.nodes[0].attrs["act"] = ["relu"]
    model = fastnorm.Model(g)
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    path = tmp_path / "up.fnm"
    model.save(path)
    back = fastnorm.load(path)
    node = [n for n in back.graph.nodes if n.op == "conv_transpose2d"][0]
    assert node.attrs["padding"] == [0, 1, 2, 0] and node.attrs["output_padding"] == [1, 0]
    assert np.array_equal(back.predict(x), model.predict(x))


# ---- torch frontend and a DCGAN generator ---------------------------------------------------------

def dcgan_generator(torch, nz=100, ngf=64, nc=3, seed=0):
    """DCGAN's generator (Radford et al.): 1x1 -> 4x4 (stride 1), then 4x4 kernels, stride 2,
    padding 1, with BN + ReLU after each and Tanh at the end; BN statistics like a trained one's."""
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.normal_(0, 0.02)  # DCGAN's initialisation
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.weight.normal_(1, 0.2)
                m.bias.normal_(0, 0.2)
    return net.eval()


@pytest.fixture(scope="module")
def dcgan():
    torch = importorskip("torch")
    net = dcgan_generator(torch, ngf=32)
    return net, fastnorm.from_torch(net, torch.randn(1, 100, 1, 1))


@pytest.mark.parametrize("batch", [1, 4])
def test_dcgan_generator_matches_torch(isa, dcgan, batch):
    torch = importorskip("torch")
    net, model = dcgan
    assert [n.op for n in model.graph.nodes] == ["conv_transpose2d"] * 5 + ["tanh"]
    assert all(n.attrs.get("folded") and n.attrs.get("act") == ["relu"] for n in model.graph.nodes[:4])
    z = torch.randn(batch, 100, 1, 1, generator=torch.Generator().manual_seed(batch))
    got = model.predict(z.numpy())
    util.assert_ran(isa)
    with torch.no_grad():
        want = net(z).numpy()
    assert got.shape == want.shape == (batch, 3, 64, 64)
    assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())


def test_dcgan_generator_save_load(dcgan, tmp_path):
    _, model = dcgan
    z = np.random.default_rng(3).standard_normal((2, 100, 1, 1)).astype(np.float32)
    model.save(tmp_path / "g.fnm")
    back = fastnorm.load(tmp_path / "g.fnm")
    assert np.array_equal(back.predict(z), model.predict(z))


def test_frontend_module_variants(isa):
    torch = importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(6, 9, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                         groups=3, dilation=(1, 2))
            self.bn = nn.BatchNorm2d(9)
            self.up2 = nn.ConvTranspose2d(9, 4, 3, stride=2, padding=1)
            self.w = nn.Parameter(torch.randn(4, 5, 2, 2))
            self.b = nn.Parameter(torch.randn(5))

        def forward(self, x):
            x = F.relu6(self.bn(self.up(x)))
            x = self.up2(x, output_size=[20, 28])  # 10x14 -> 19x27 + output_padding 1, chosen at call
            return F.conv_transpose2d(x, self.w, self.b, stride=2, padding=1, output_padding=1)

    torch.manual_seed(6)
    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.normal_(0, 0.5)
        net.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 6, 5, 4)
    model = fastnorm.from_torch(net, x)
    ops_ = [(n.op, n.attrs.get("output_padding")) for n in model.graph.nodes]
    assert ops_ == [("conv_transpose2d", [1, 2]), ("conv_transpose2d", [1, 1]), ("conv_transpose2d", [1, 1])]
    got = model.predict(x.numpy())
    util.assert_ran(isa)
    with torch.no_grad():
        want = net(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())


def test_frontend_rejects_what_it_cannot_run():
    torch = importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class Computed(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 2, 2, 2))

        def forward(self, x):
            return F.conv_transpose2d(x, self.w * 2) + self.w.sum()

    with pytest.raises(UnsupportedError) as e:
        fastnorm.from_torch(Computed().eval(), torch.randn(1, 3, 4, 4), route="fx")
    assert "computed weight" in str(e.value) and "parameter used directly" in str(e.value)
    # torch.export (the default route) folds weights computed from parameters at load
    net, x = Computed().eval(), torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        want = net(x).numpy()
    assert np.abs(fastnorm.from_torch(net, x).predict(x.numpy()) - want).max() <= 1e-4 * max(1, np.abs(want).max())
