"""Issue 14: a pre-activation BN (+ ReLU) read by the 1x1 conv after it (rewrites.conv_reads_preact).
DenseNet's BN -> ReLU -> 1x1 conv: the SCALE_SHIFT record goes; the conv applies scale, shift and the
clamp to each row of its tile as it copies it (src_c/conv/conv2d.c, fn_conv2d_nhwc_pre). Checked
against torch within 1e-4 relative under every ISA, at batch 1 and 3, and bit for bit against the
unfused records (the same scale/shift kernel on the same elements)."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_CONV2D, OP_SCALE_SHIFT
from test_epilogue_act import matches_torch
from test_se_gate import _records
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class PreAct(nn.Module):
    """concat -> BN -> act -> 1x1 conv (DenseNet's bottleneck); act None: BN alone."""

    def __init__(self, c, cout, act=F.relu, stride=1, split=0):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.act = act
        self.conv = nn.Conv2d(c, cout, 1, stride, bias=False)
        self.split = split
        with torch.no_grad():   # trained-looking statistics, so scale and shift are not 1 and 0
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        if self.split:   # a concat in front, as in a dense block
            x = torch.cat([x[:, :self.split], x[:, self.split:] * 2.0], 1)
        y = self.bn(x)
        return self.conv(self.act(y) if self.act else y)


CASES = {
    # name: (factory, input shape without batch)
    "relu": (lambda: PreAct(40, 24), (40, 9, 11)),
    "odd_channels": (lambda: PreAct(37, 19), (37, 5, 13)),
    "few_channels": (lambda: PreAct(5, 3), (5, 4, 3)),
    "relu6": (lambda: PreAct(24, 16, act=F.relu6), (24, 6, 6)),
    "no_act": (lambda: PreAct(16, 16, act=None), (16, 7, 5)),
    "stride2": (lambda: PreAct(16, 24, stride=2), (16, 9, 9)),
    "one_pixel": (lambda: PreAct(33, 17), (33, 1, 1)),
    "after_concat": (lambda: PreAct(96, 64, split=64), (96, 7, 7)),
    # 1024 channels: a pixel stride of 4 KiB, where the driver copies rows anyway (use_row_copy)
    "row_copy_width": (lambda: PreAct(1024, 64), (1024, 4, 4)),
}


def _build(name, batch, seed=0):
    """The case's module (seeded) and a (batch, ...) input."""
    torch.manual_seed(seed)
    factory, shape = CASES[name]
    return factory().eval(), torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed + 1))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_preact_conv_matches_torch(isa, name, batch):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_SCALE_SHIFT not in [r["type"] for r in recs]
    pre = [r for r in recs if r["type"] == OP_CONV2D and r.get("weights2") is not None]
    assert len(pre) == 1 and pre[0]["conv"][3:5] == (1, 1) and len(pre[0]["weights2"]) == 2 * x.shape[1]


def test_preact_is_bitwise_the_unfused_records(isa, monkeypatch):
    from fastnorm.plan import rewrites
    net, x = _build("odd_channels", 2)
    fused = fastnorm.from_torch(net, x).predict(x.numpy())
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES if p is not rewrites.conv_reads_preact))
    m = fastnorm.from_torch(net, x)
    assert OP_SCALE_SHIFT in [r["type"] for r in _records(m, x.shape)]
    np.testing.assert_array_equal(fused, m.predict(x.numpy()))


class TwoReaders(PreAct):
    def forward(self, x):
        y = F.relu(self.bn(x))
        return self.conv(y) + y[:, :self.conv.out_channels]


class Padded(PreAct):
    def __init__(self, c, cout):
        super().__init__(c, cout)
        self.conv = nn.Conv2d(c, cout, 1, padding=1, bias=False)   # a padded 1x1: padding shows BN(0)


class ThreeByThree(PreAct):
    def __init__(self, c, cout):
        super().__init__(c, cout)
        self.conv = nn.Conv2d(c, cout, 3, padding=1, bias=False)


@pytest.mark.parametrize("cls", [TwoReaders, Padded, ThreeByThree])
def test_preact_stays_a_record_where_it_cannot_fuse(cls):
    torch.manual_seed(0)
    net = cls(16, 16).eval()
    x = torch.randn(2, 16, 5, 5, generator=torch.Generator().manual_seed(2))
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_SCALE_SHIFT in [r["type"] for r in recs]
    assert not any(r["type"] == OP_CONV2D and r.get("weights2") is not None for r in recs)


def test_densenet_mini_bns_ride_in_the_convs(isa):
    """Every pre-activation BN before a 1x1 conv of DenseNet's structure (the dense layers' and the
    transition's) is absorbed; the final BN (before the pool) stays."""
    from zoo import DenseNetMini
    torch.manual_seed(0)
    net = DenseNetMini(blocks=(3, 2)).eval()
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert sum(r["type"] == OP_CONV2D and r.get("weights2") is not None for r in recs) == 3 + 2 + 1
    assert sum(r["type"] == OP_SCALE_SHIFT for r in recs) == 1
