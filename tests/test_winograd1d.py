"""1-D Winograd F(6,3) / F(4,5) / F(3,7) conv for 1xk / kx1 convs (src_c/conv/winograd1d*.c) vs the
float64 reference and torch, under every ISA; the concat (ldy) and in-place residual paths; threads;
the plan's use of it (WINOGRAD1D records) on an Inception-like block."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import util
from util import importorskip
from fastnorm import _C
from fastnorm.graph import act_tuple
from fastnorm.ops._common import ACT_NONE

# An output's rounding follows its tile's whole 8- or 9-pixel window times all k taps (see mag_of). Measured
# worst |err| / mag over 300 random cases like test_matches_reference's (avx512, avx2): k = 3 1.2e-6, 5 0.9e-6,
# 7 2.4e-6 (F(3,7)). ~10x margin; a wrong tap or tile is O(1 / (cin k)) of mag.
RTOL = 2e-5
ATOL = 1e-6
RELU = act_tuple(["relu"])
RELU6 = act_tuple(["clamp", 0.0, 6.0])


def to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(y):
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def desc_of(cin, cout, kh, kw, pads):
    return (cin, cout, 1, kh, kw, 1, 1, 1, 1) + tuple(pads)


def out_hw(h, w, kh, kw, pads):
    t, l, b, r = pads
    return h + t + b - kh + 1, w + l + r - kw + 1


def wino1d(x, wt, b, pads, act=ACT_NONE, res=None, nthreads=1, isa=-1, ldy_extra=0):
    """x: NCHW float32 -> NCHW output through the C driver (NHWC inside); ldy_extra > 0 writes into a
    channel block of a wider NHWC array (the concat path) and checks the other channels stay."""
    n, cin, h, w = x.shape
    cout, _, kh, kw = wt.shape
    desc = desc_of(cin, cout, kh, kw, pads)
    packed = _C.winograd1d_pack(isa, desc, wt, b)
    oh, ow = out_hw(h, w, kh, kw, pads)
    wide = np.full((n, oh, ow, cout + ldy_extra), 7.0, np.float32)
    off = ldy_extra // 2
    y = wide[..., off:off + cout]
    _C.winograd1d_nhwc(isa, desc, to_nhwc(x), packed, None if res is None else to_nhwc(res), act, y,
                       nthreads)
    if ldy_extra:
        assert (wide[..., :off] == 7.0).all() and (wide[..., off + cout:] == 7.0).all()
    return to_nchw(y)


def mag_of(x, wt, b, pads, res=None):
    """Scale of the rounding: sum_ci max |x[ci]| over the image * sum_taps |w[co, ci]| (+ |b|, + |res|),
    per (n, co), broadcast like the output (a tile's window is a part of the image: looser, simpler)."""
    xm = np.abs(x.astype(np.float64)).max(axis=(2, 3))                 # (n, cin)
    ws = np.abs(wt.astype(np.float64)).sum(axis=(2, 3))                # (cout, cin)
    m = xm @ ws.T                                                       # (n, cout)
    if b is not None:
        m = m + np.abs(b)[None, :]
    m = m[:, :, None, None]
    if res is not None:
        m = m + np.abs(res).max(axis=(2, 3), keepdims=True)
    return m


def check(got, x, wt, b, pads, res=None, act=None, ref=None):
    want = reference.conv2d(x, wt, b, 1, pads, 1, 1) if ref is None else ref.astype(np.float64)
    if res is not None and ref is None:
        want = want + res
    if act == "relu":
        want = np.maximum(want, 0)
    elif act == "relu6":
        want = np.clip(want, 0, 6)
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got.astype(np.float64) - want)
    bound = ATOL + RTOL * mag_of(x, wt, b, pads, res)
    assert (err <= bound).all(), "max err %.3g, bound there %.3g" % (err.max(), bound.flat[np.argmax(err - bound)])


def case(rng, n, cin, cout, h, w, kh, kw, bias=True):
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, wt, b


@settings(max_examples=int(__import__("os").environ.get("WINO_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([3, 5, 7]), vertical=st.booleans(), cin=st.sampled_from([1, 3, 16, 17, 33, 40]),
       cout=st.sampled_from([1, 5, 16, 17, 35]), h=st.sampled_from([1, 2, 3, 5, 6, 7, 9, 17]),
       w=st.sampled_from([1, 2, 3, 4, 6, 8, 11, 17]), data=st.data(), n=st.sampled_from([1, 3]),
       bias=st.booleans(), act=st.sampled_from([None, "relu", "relu6"]), residual=st.booleans(),
       ldy_extra=st.sampled_from([0, 0, 5]), seed=st.integers(0, 2**16))
def test_matches_reference(isa, k, vertical, cin, cout, h, w, data, n, bias, act, residual, ldy_extra, seed):
    kh, kw = (k, 1) if vertical else (1, k)
    # every padding 0..k-1 along the axis, asymmetric too; 0..1 across it (a 1-wide kernel with padding
    # there makes rows of bias only)
    pa, pb = data.draw(st.integers(0, k - 1)), data.draw(st.integers(0, k - 1))
    pc, pd = data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1))
    pads = (pa, pc, pb, pd) if vertical else (pc, pa, pd, pb)
    oh, ow = out_hw(h, w, kh, kw, pads)
    if oh < 1 or ow < 1:
        return
    rng = np.random.default_rng(seed)
    x, wt, b = case(rng, n, cin, cout, h, w, kh, kw, bias)
    res = rng.standard_normal((n, cout, oh, ow)).astype(np.float32) if residual and not ldy_extra else None
    acts = {None: ACT_NONE, "relu": RELU, "relu6": RELU6}
    got = wino1d(x, wt, b, pads, acts[act], res, ldy_extra=ldy_extra)
    util.assert_ran(isa)
    check(got, x, wt, b, pads, res, act)


@pytest.mark.parametrize("n,cin,cout,h,w,kh,kw,pads", [
    (1, 192, 192, 17, 17, 1, 7, (0, 3, 0, 3)),    # Inception-v3 mixed_6: several blocks and panels
    (1, 160, 192, 17, 17, 7, 1, (3, 0, 3, 0)),
    (3, 384, 384, 8, 8, 1, 3, (0, 1, 0, 1)),      # mixed_7
    (2, 448, 384, 8, 8, 3, 1, (1, 0, 1, 0)),
    (1, 48, 64, 35, 35, 5, 1, (2, 0, 2, 0)),
    (2, 33, 70, 15, 13, 1, 5, (0, 4, 1, 0)),      # odd channels, asymmetric padding, partial tiles
])
def test_larger_shapes_threads_bit_identical(isa, n, cin, cout, h, w, kh, kw, pads):
    rng = np.random.default_rng(cin + cout)
    x, wt, b = case(rng, n, cin, cout, h, w, kh, kw)
    oh, ow = out_hw(h, w, kh, kw, pads)
    res = rng.standard_normal((n, cout, oh, ow)).astype(np.float32)
    ys = [wino1d(x, wt, b, pads, RELU, res, nthreads=t) for t in (1, 2, 3)]
    util.assert_ran(isa)
    check(ys[0], x, wt, b, pads, res, "relu")
    for y in ys[1:]:
        assert np.array_equal(y, ys[0])


@pytest.mark.parametrize("kh,kw", [(1, 3), (3, 1), (1, 5), (5, 1), (1, 7), (7, 1)])
def test_matches_torch(isa, kh, kw):
    torch = importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(kh * 10 + kw)
    x, wt, b = case(rng, 3, 24, 40, 11, 10, kh, kw)
    pads = (kh // 2, kw // 2, kh // 2, kw // 2)
    got = wino1d(x, wt, b, pads, RELU)
    util.assert_ran(isa)
    with torch.no_grad():
        ref = torch.relu(F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b),
                                  padding=(kh // 2, kw // 2))).numpy()
    check(got, x, wt, b, pads, ref=ref)


def test_residual_may_be_the_output(isa):
    rng = np.random.default_rng(3)
    x, wt, b = case(rng, 2, 16, 24, 9, 10, 7, 1)
    pads = (3, 0, 3, 0)
    desc = desc_of(16, 24, 7, 1, pads)
    packed = _C.winograd1d_pack(-1, desc, wt, b)
    res = rng.standard_normal((2, 9, 10, 24)).astype(np.float32)
    y = res.copy()
    _C.winograd1d_nhwc(-1, desc, to_nhwc(x), packed, y, ACT_NONE, y, 1)  # in place: y += conv
    util.assert_ran(isa)
    check(to_nchw(y), x, wt, b, pads, to_nchw(res))


def test_rejects():
    with pytest.raises(ValueError):
        _C.winograd1d_pack(-1, desc_of(4, 4, 3, 3, (1, 1, 1, 1)), np.zeros((4, 4, 3, 3), np.float32), None)
    with pytest.raises(ValueError):
        _C.winograd1d_pack(-1, desc_of(4, 4, 1, 9, (0, 4, 0, 4)), np.zeros((4, 4, 1, 9), np.float32), None)
    assert not _C.winograd1d_supported((4, 4, 1, 1, 7, 2, 2, 1, 1, 0, 3, 0, 3))   # stride 2
    assert _C.winograd1d_supported((4, 4, 1, 7, 1, 1, 1, 1, 1, 3, 0, 3, 0))


# ------------------------------------------------------------------------------------------ plan
def _inception_block(torch):
    """Inception-v3's mixed_6 branch shape: 1x1 -> 1x7 -> 7x1 (BN + ReLU), concat with a 1x1 branch,
    plus a 1x3 / 3x1 pair with a residual add."""
    import torch.nn as nn
    from models import conv_bn_relu

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = conv_bn_relu(64, 48, 1, 0)
            self.b = nn.Sequential(conv_bn_relu(64, 40, 1, 0), conv_bn_relu(40, 48, (1, 7), (0, 3)),
                                   conv_bn_relu(48, 48, (7, 1), (3, 0)))
            self.c3 = nn.Conv2d(96, 96, (1, 3), padding=(0, 1))
            self.d3 = nn.Conv2d(96, 96, (3, 1), padding=(1, 0))

        def forward(self, x):
            y = torch.cat([self.a(x), self.b(x)], 1)
            return torch.relu(self.d3(self.c3(y)) + y)

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():  # BN statistics like a trained network's (models.realistic_bn feeds 3 channels)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.7, 1.3), m.bias.uniform_(-0.2, 0.2)
    return net


def _records(model, shape):
    plan = model._plan({model.graph.inputs[0].name: tuple(shape)})
    return sum(r["type"] == _C.OP_WINOGRAD1D for r in plan.records)


def test_plan_inception_block_matches_torch(isa, monkeypatch):
    torch = importorskip("torch")
    import fastnorm
    from fastnorm.threads import set_num_threads
    net = _inception_block(torch)
    x = np.random.default_rng(1).standard_normal((2, 64, 17, 17)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    monkeypatch.setenv("FASTNORM_BATCH_SPLIT", "0")   # every op on 2 threads (a split batch plans per sample)
    m = fastnorm.from_torch(net, torch.randn(1, 64, 17, 17))
    try:
        set_num_threads(1)
        y = m.predict(x)
        set_num_threads(2)
        y2 = m.predict(x)
    finally:
        set_num_threads(None)
    util.assert_ran(isa)
    assert np.array_equal(y, y2)
    assert _records(m, x.shape) == 4
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(y - ref).max() <= util.ATOL_MODEL * scale, np.abs(y - ref).max()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "0")
    m0 = fastnorm.from_torch(net, torch.randn(1, 64, 17, 17))
    assert _records(m0, x.shape) == 0
    y0 = m0.predict(x)
    assert np.abs(y - y0).max() <= util.ATOL_MODEL * scale


def test_plan_keeps_few_tiles_direct(monkeypatch):
    """Below the measured thresholds (fewer than 64 tiles, channels < 32) the plan stays direct."""
    torch = importorskip("torch")
    import fastnorm
    import torch.nn as nn
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 16, (1, 7), padding=(0, 3)), nn.Conv2d(16, 64, (7, 1), padding=(3, 0)),
                        nn.Conv2d(64, 64, (1, 7), padding=(0, 3))).eval()
    big = fastnorm.from_torch(net, torch.randn(1, 16, 17, 17))
    assert _records(big, (1, 16, 17, 17)) == 1        # only the 64 -> 64 conv (17 x 6 tiles)
    small = fastnorm.from_torch(net, torch.randn(1, 16, 8, 8))
    assert _records(small, (1, 16, 8, 8)) == 0        # 8 x 3 tiles


def _g_matrix(np_, k):
    """winograd1d.c's G (np x k) in float64: the points 0, 1, -1, 2, -2, 1/2, -1/2[, -1/4], inf."""
    pts = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, -0.25][:np_ - 1]
    g = np.zeros((np_, k))
    g[np_ - 1, k - 1] = 1.0
    for j, a in enumerate(pts):
        nrm = 1.0
        for b in pts:
            if b != a:
                nrm *= a - b
        p = 1.0
        for i in range(k):
            g[j, i] = p / nrm
            p *= a
    if np_ == 8:
        g[0, 0] = -g[0, 0]
    return g


@pytest.mark.parametrize("cin,cout,kh,kw", [(1, 1, 1, 3), (7, 13, 1, 5), (33, 31, 7, 1), (5, 70, 1, 7),
                                           (64, 80, 3, 1), (16, 16, 5, 1)])
def test_pack_is_g_times_taps_in_float64(isa, cin, cout, kh, kw):
    """The packed weights (fn_winograd1d_pack, its rows from the ISA table's pack_rows) are, bit for bit,
    U[p] = float32(sum over taps i, in order, of G[p, i] * g[i]) in float64, laid out in the micro-kernel's
    panels: [NR zeros][cin][NR] per point and panel, zeros past cout, then the biases."""
    rng = np.random.default_rng(cin * 7 + cout)
    w = rng.normal(0, 1, (cout, cin, kh, kw)).astype(np.float32)
    b = rng.normal(0, 1, cout).astype(np.float32)
    desc = (cin, cout, 1, kh, kw, 1, 1, 1, 1, kh // 2, kw // 2, kh // 2, kw // 2)
    packed = np.asarray(_C.winograd1d_pack(-1, desc, w, b))    # the table the isa fixture forced
    k = max(kh, kw)
    np_ = 9 if k == 7 else 8
    nr = _C.gemm_tile(-1)[1]
    assert _C.ISA_NAMES[_C.resolve_isa(-1)] == isa
    npanels = -(-cout // nr)
    g = _g_matrix(np_, k)
    taps = w.reshape(cout, cin, k).astype(np.float64)
    want = np.zeros((np_, npanels * nr, cin + 1), np.float32)    # [point][output channel][bias row, cin]
    for p in range(np_):
        acc = np.zeros((cout, cin))
        for i in range(k):
            acc = acc + g[p, i] * taps[:, :, i]
        want[p, :cout, 1:] = acc.astype(np.float32)
    off = int(packed[0])
    u = packed[off:off + np_ * npanels * nr * (cin + 1)].reshape(np_, npanels, cin + 1, nr)
    got = u.transpose(0, 1, 3, 2).reshape(np_, npanels * nr, cin + 1)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    tail = packed[off + np_ * npanels * nr * (cin + 1):]
    assert np.array_equal(tail[:cout], b) and not tail[cout:].any()
