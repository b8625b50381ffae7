"""A depthwise record that took its 1x1 expand conv in (rewrites.dwconv_takes_expand; src_c/conv/dwpw.c
fn_dwconv_pw_mean_nhwc): EfficientNet's MBConv with squeeze-and-excitation, whose depthwise output the
SE pool and gate read, so no 1x1 conv reads it alone and the DWCONV_PW record does not form. Checked
against torch, bit for bit against the records it replaces (the expand conv, the depthwise conv and
the pool's means), at 1 and 2 threads (both of the driver's schedules), under every ISA. The tests lift
DW_EXPAND_MIN_BYTES (and DWCONV_MEAN_MIN_PIXELS, so small images fold the pool too);
test_small_expansions_stay_apart checks the bound itself."""
import numpy as np
import pytest

import fastnorm
import util
from util import importorskip
from fastnorm._C import OP_CONV2D, OP_DWCONV2D, OP_DWCONV_PW
from fastnorm.plan import rewrites
from test_dwconv_pw import predict_threads, realistic_bn

torch = importorskip("torch")
nn = torch.nn


class MBConv(nn.Module):
    """expand 1x1-BN-act, kxk depthwise-BN-act, SE (mean, 1x1, act, 1x1, sigmoid, scale), project 1x1-BN
    (+ identity): EfficientNet's block."""

    def __init__(self, cin, cout, hidden, stride=1, k=3, act=nn.SiLU, se=True):
        super().__init__()
        self.identity = stride == 1 and cin == cout
        self.ex = nn.Sequential(nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act())
        self.dw = nn.Sequential(nn.Conv2d(hidden, hidden, k, stride, k // 2, groups=hidden, bias=False),
                                nn.BatchNorm2d(hidden), act())
        sq = max(1, hidden // 4)
        self.se = nn.Sequential(nn.Conv2d(hidden, sq, 1), act(), nn.Conv2d(sq, hidden, 1), nn.Sigmoid()) if se else None
        self.pr = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.dw(self.ex(x))
        if self.se is not None:
            y = y * self.se(y.mean((2, 3), keepdim=True))
        y = self.pr(y)
        return x + y if self.identity else y


CASES = {
    # name: (module factory, input shape without batch)
    "efficientnet_stage2_s2": (lambda: MBConv(16, 24, 96, stride=2), (16, 24, 22)),
    "identity_k3": (lambda: MBConv(24, 24, 144), (24, 17, 15)),
    "k5_s2_odd_channels": (lambda: MBConv(7, 11, 37, stride=2, k=5), (7, 19, 21)),
    "relu6_one_pixel": (lambda: MBConv(8, 8, 40, act=nn.ReLU6), (8, 1, 1)),
    "hardswish_no_se": (lambda: MBConv(12, 20, 60, stride=2, act=nn.Hardswish, se=False), (12, 13, 16)),
    # 192 channels at 64 wide: 49 KB an expanded row, several bands per image, the last one short
    "many_bands": (lambda: MBConv(16, 16, 192), (16, 40, 64)),
}


def records(model, shape):
    return model._plan({model.graph.inputs[0].name: shape}).records


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("batch", [1, 3, 5])
def test_fused_matches_torch_and_the_records_it_replaces(isa, monkeypatch, name, batch):
    make, shape = CASES[name]
    torch.manual_seed(0)
    net = realistic_bn(make(), shape)
    x = np.random.default_rng(batch).standard_normal((batch,) + shape).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()

    monkeypatch.setattr(rewrites, "DW_EXPAND_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWCONV_MEAN_MIN_PIXELS", 0)
    monkeypatch.setenv("FASTNORM_DW_EXPAND", "0")
    plain = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    recs = records(plain, x.shape)
    assert all(r.get("weights_ex") is None for r in recs)
    base = predict_threads(plain, x, 1)

    monkeypatch.setenv("FASTNORM_DW_EXPAND", "1")
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    recs = records(m, x.shape)
    assert OP_DWCONV_PW not in [r["type"] for r in recs]
    dw = [r for r in recs if r["type"] == OP_DWCONV2D]
    assert len(dw) == 1 and dw[0].get("weights_ex") is not None
    assert dw[0]["conv_ex"][:2] == (shape[0], dw[0]["c"])
    # the expand conv is gone: the SE's two 1x1 convs and the projection remain
    se = net.se is not None
    assert [r["type"] for r in recs].count(OP_CONV2D) == (3 if se else 1)
    # with SE the pool's means come from the same record
    assert (dw[0].get("out2", -1) >= 0) == se
    # batch 3 at 2 threads runs bands one after the other, batch 5 hands whole bands to threads
    one, two = predict_threads(m, x, 1), predict_threads(m, x, 2)
    util.assert_ran(isa)
    assert one.shape == want.shape
    assert np.abs(one - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())
    assert np.array_equal(one, base), "taking the expand conv in changed the result"
    assert np.array_equal(one, two), "the thread count changed the result"


def test_expand_read_elsewhere_is_not_absorbed(monkeypatch):
    """An expand conv whose output another node also reads (here a shortcut) keeps its own record."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.ex = nn.Conv2d(8, 24, 1)
            self.dw = nn.Conv2d(24, 24, 3, 1, 1, groups=24)

        def forward(self, x):
            e = torch.relu(self.ex(x))
            y = self.dw(e)
            return y * y.mean((2, 3), keepdim=True) + e

    assert_apart_and_right(monkeypatch, Shared, (2, 8, 11, 9))


def assert_apart_and_right(monkeypatch, cls, shape):
    """No depthwise record takes an expand conv in, at any size, and the model still computes torch's."""
    monkeypatch.setattr(rewrites, "DW_EXPAND_MIN_BYTES", 0)
    torch.manual_seed(3)
    net = cls().eval()
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    assert all(r.get("weights_ex") is None for r in records(m, x.shape))
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.predict(x) - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())


def test_residual_depthwise_keeps_its_expand_apart(monkeypatch):
    """A depthwise conv that adds a residual (or a post) does not take an expand conv: the banded driver
    has no residual."""
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.ex = nn.Conv2d(8, 24, 1)
            self.dw = nn.Conv2d(24, 24, 3, 1, 1, groups=24)
            self.sk = nn.Conv2d(8, 24, 1)

        def forward(self, x):
            return self.dw(torch.relu(self.ex(x))) + self.sk(x)

    assert_apart_and_right(monkeypatch, Res, (2, 8, 10, 12))


def test_small_expansions_stay_apart():
    """Below DW_EXPAND_MIN_BYTES the expanded tensor stays in L2 between two records anyway."""
    make, shape = CASES["efficientnet_stage2_s2"]
    m = fastnorm.from_torch(realistic_bn(make(), shape), torch.zeros((1,) + shape))
    assert 24 * 22 * 96 * 4 < rewrites.DW_EXPAND_MIN_BYTES
    assert all(r.get("weights_ex") is None for r in records(m, (1,) + shape))
    big = (64,) + shape  # 13 MB expanded
    assert any(r.get("weights_ex") is not None for r in records(m, big))


def test_narrow_expansions_stay_apart(monkeypatch):
    """A 1x1 conv that widens its input less than DW_EXPAND_MIN_RATIO times keeps its own record."""
    monkeypatch.setattr(rewrites, "DW_EXPAND_MIN_BYTES", 0)
    shape = (32, 12, 12)
    wide = fastnorm.from_torch(realistic_bn(MBConv(32, 32, 2 * 32), shape), torch.zeros((1,) + shape))
    assert any(r.get("weights_ex") is not None for r in records(wide, (2,) + shape))
    narrow = fastnorm.from_torch(realistic_bn(MBConv(32, 32, 2 * 32 - 1), shape), torch.zeros((1,) + shape))
    assert all(r.get("weights_ex") is None for r in records(narrow, (2,) + shape))


def test_switch_off(monkeypatch):
    monkeypatch.setattr(rewrites, "DW_EXPAND_MIN_BYTES", 0)
    monkeypatch.setenv("FASTNORM_DW_EXPAND", "0")
    make, shape = CASES["identity_k3"]
    m = fastnorm.from_torch(realistic_bn(make(), shape), torch.zeros((1,) + shape))
    assert all(r.get("weights_ex") is None for r in records(m, (2,) + shape))
