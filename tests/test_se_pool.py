"""Issue 14: the squeeze-and-excitation pool folded into the depthwise conv (rewrites.dwconv_takes_pool).
The global average pool of a DWCONV2D record's output goes; the depthwise conv sums each output row
just after computing it and writes the (n, c) means to the pool's buffer (field out2,
src_c/conv/dwconv.c fn_dwconv2d_mean_nhwc). Checked against torch within 1e-4 relative under every
ISA, at batch 1 and 3, and for independence of the thread count (bit for bit)."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_ADAPTIVE_POOL2D, OP_AVGPOOL2D, OP_DWCONV2D, OP_DWCONV_PW
from test_epilogue_act import matches_torch
from test_se_gate import _records
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional

POOLS = (OP_ADAPTIVE_POOL2D, OP_AVGPOOL2D)


@pytest.fixture(autouse=True)
def _fold_every_size(monkeypatch):
    """The small images here fold too (models fold from DWCONV_MEAN_MIN_PIXELS output pixels on)."""
    from fastnorm.plan import rewrites
    monkeypatch.setattr(rewrites, "DWCONV_MEAN_MIN_PIXELS", 0)


def _mean(y):
    return y.mean((2, 3), keepdim=True)


def _adaptive(y):
    return F.adaptive_avg_pool2d(y, 1)


def _avg_whole(y):
    return F.avg_pool2d(y, tuple(y.shape[2:]))


class SEBlock(nn.Module):
    """depthwise -> act -> SE (pool, 1x1, act, 1x1, gate) -> gate * image -> 1x1 projection
    (+ the block input): EfficientNet's MBConv / MobileNetV3's inverted residual without the expand."""

    def __init__(self, c, cout, squeeze, gate=torch.sigmoid, k=3, stride=1, residual=False,
                 pool=_mean, act=F.silu):
        super().__init__()
        self.dw = nn.Conv2d(c, c, k, stride, k // 2, groups=c)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.proj = nn.Conv2d(c, cout, 1)
        self.gate, self.pool, self.act, self.residual = gate, pool, act, residual

    def forward(self, x):
        y = self.act(self.dw(x))
        s = self.gate(self.fc2(F.relu(self.fc1(self.pool(y)))))
        z = self.proj(y * s)
        return z + x if self.residual else z


CASES = {
    # name: (factory, input shape without batch)
    "sigmoid": (lambda: SEBlock(40, 24, 10), (40, 9, 11)),
    "hardsigmoid": (lambda: SEBlock(32, 16, 8, gate=F.hardsigmoid, act=F.hardswish, k=5), (32, 7, 7)),
    "one_pixel": (lambda: SEBlock(24, 16, 6), (24, 1, 1)),
    "7x5_channels37": (lambda: SEBlock(37, 19, 5, pool=_adaptive), (37, 7, 5)),
    "stride2": (lambda: SEBlock(16, 24, 4, stride=2, k=5, pool=_avg_whole), (16, 9, 11)),
    "residual": (lambda: SEBlock(24, 24, 6, residual=True, act=F.relu), (24, 8, 6)),
    # a wide output row (stride-1 band kernel) and the threaded driver
    "big": (lambda: SEBlock(48, 24, 12), (48, 40, 36)),
}


def _build(name, batch, seed=0):
    torch.manual_seed(seed)
    net = CASES[name][0]().eval()
    x = torch.randn((batch,) + CASES[name][1], generator=torch.Generator().manual_seed(seed + 1))
    return net, x


def _assert_pool_folded(recs):
    types = [r["type"] for r in recs]
    assert not any(t in POOLS for t in types), types
    dw = [r for r in recs if r["type"] == OP_DWCONV2D]
    assert len(dw) == 1 and dw[0].get("out2", -1) >= 0, dw


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_se_pool_matches_torch(isa, name, batch):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    _assert_pool_folded(_records(m, x.shape))


def test_thread_count_independent():
    net, x = _build("big", 2)
    m = fastnorm.from_torch(net, x)
    _assert_pool_folded(_records(m, x.shape))
    old = fastnorm.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 1, 2):
            fastnorm.set_num_threads(n)
            outs.append(m.predict(x.numpy()))
    finally:
        fastnorm.set_num_threads(old)
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


class DwPool(nn.Module):
    """The depthwise output's pool as the model's output (the conv's only reader is the pool)."""

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c)

    def forward(self, x):
        return F.adaptive_avg_pool2d(F.silu(self.dw(x)), 1).flatten(1)


def test_mean_accuracy_like_the_pool(isa, monkeypatch):
    """On a 112x112 image (EfficientNet-B0's first SE block) the folded mean (row sums, then the sum of
    rows) is at least as accurate as the standalone pool (one float32 sum over 12,544 pixels),
    against a float64 reference."""
    from fastnorm.plan import rewrites
    torch.manual_seed(0)
    net = DwPool(32).eval()
    x = torch.randn(1, 32, 112, 112, generator=torch.Generator().manual_seed(3)) + 0.5
    with torch.no_grad():
        ref = net.double()(x.double()).numpy()
    net = net.float()
    m = fastnorm.from_torch(net, x)
    _assert_pool_folded(_records(m, x.shape))
    folded = m.predict(x.numpy())
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES if p is not rewrites.dwconv_takes_pool))
    m2 = fastnorm.from_torch(net, x)
    assert OP_ADAPTIVE_POOL2D in [r["type"] for r in _records(m2, x.shape)]
    pooled = m2.predict(x.numpy())
    err_folded = float(np.max(np.abs(folded - ref) / np.abs(ref)))
    err_pool = float(np.max(np.abs(pooled - ref) / np.abs(ref)))
    assert err_folded < 2e-6 and err_folded <= max(err_pool, 1e-6), (err_folded, err_pool)


def test_pool_of_pool_input_not_dw_kept():
    """A pool over a window smaller than the image stays a pool record (not a global average)."""
    class Local(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)

        def forward(self, x):
            return F.avg_pool2d(F.relu(self.dw(x)), 2)

    net = Local().eval()
    x = torch.randn(1, 8, 6, 6)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_AVGPOOL2D in [r["type"] for r in recs]
    assert all(r.get("out2", -1) < 0 for r in recs)


def test_big_se_dw_output_does_not_fuse_with_the_projection():
    """The dw output of an SE block has two readers (pool, gate): no DWCONV_PW record, the pool folds."""
    torch.manual_seed(0)
    net = SEBlock(64, 32, 16).eval()
    x = torch.randn(1, 64, 64, 64)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_DWCONV_PW not in [r["type"] for r in recs]
    _assert_pool_folded(recs)


def test_record_check_rejects_a_bad_mean_buffer():
    """A plan from a file is untrusted: the C record check refuses a mean over the conv's own buffers,
    and a second output on any other record."""
    from fastnorm import _C
    net, x = _build("sigmoid", 1)
    m = fastnorm.from_torch(net, x)
    plan = m._plan({m.graph.inputs[0].name: tuple(x.shape)})
    recs = [dict(r) for r in plan.records]
    i = next(k for k, r in enumerate(recs) if r["type"] == OP_DWCONV2D)
    nbufs = len(plan.buf_sizes)
    for bad in (recs[i]["in"], recs[i]["out"]):
        rr = [dict(r) for r in recs]
        rr[i]["out2"] = bad
        with pytest.raises(ValueError, match="mean must have a buffer of its own"):
            _C.CPlan(plan.isa, rr, nbufs)
    rr = [dict(r) for r in recs]
    j = next(k for k, r in enumerate(rr) if r["type"] != OP_DWCONV2D)
    rr[j]["out2"] = rr[i]["out2"]
    with pytest.raises(ValueError, match="second output"):
        _C.CPlan(plan.isa, rr, nbufs)
    rr = [dict(r) for r in recs]
    rr[i]["out2"] = nbufs
    with pytest.raises(ValueError, match="out of range"):
        _C.CPlan(plan.isa, rr, nbufs)


def test_small_images_keep_their_pool(monkeypatch):
    """Under DWCONV_MEAN_MIN_PIXELS output pixels the pool record stays (the fold measured no faster)."""
    from fastnorm.plan import rewrites
    monkeypatch.setattr(rewrites, "DWCONV_MEAN_MIN_PIXELS", 100)
    net, x = _build("sigmoid", 1)   # 9x11 = 99 pixels
    recs = _records(matches_torch(net, x), x.shape)
    assert OP_ADAPTIVE_POOL2D in [r["type"] for r in recs]
    net, x = _build("big", 1)       # 40x36
    _assert_pool_folded(_records(matches_torch(net, x), x.shape))
