"""Issue 14: the squeeze-and-excitation gate read by the 1x1 conv after it (rewrites.conv_reads_gated).
The BINARY multiply of the image by its (n, c) gate goes; the conv multiplies each row of its tile by
the sample's gate as it copies it, or on a large image folds the gate into a per-sample copy of its
weights (src_c/conv/conv2d.c, fn_conv2d_nhwc_gated). Checked against torch within 1e-4 relative under
every ISA, at batch 1 and 3 (a gate per sample)."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_BINARY, OP_CONV2D
from test_epilogue_act import matches_torch
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class SEThenConv(nn.Module):
    """depthwise -> SE (pool, 1x1, act, 1x1, gate) -> 1x1 projection (+ the block input)."""

    def __init__(self, c, cout, squeeze, gate=torch.sigmoid, residual=False, stride=1):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = gate
        self.proj = nn.Conv2d(c, cout, 1, stride)
        self.residual = residual

    def forward(self, x):
        y = F.silu(self.dw(x))
        s = self.gate(self.fc2(F.silu(self.fc1(y.mean((2, 3), keepdim=True)))))
        z = self.proj(y * s)
        return z + x if self.residual else z


CASES = {
    # name: (factory, input shape without batch)
    "sigmoid": (lambda: SEThenConv(40, 24, 10), (40, 9, 11)),
    "hardsigmoid_gate_first": (lambda: SEThenConv(32, 16, 8, gate=F.hardsigmoid), (32, 7, 7)),
    "residual": (lambda: SEThenConv(24, 24, 6, residual=True), (24, 8, 6)),
    "odd_channels": (lambda: SEThenConv(37, 19, 5), (37, 5, 13)),
    "stride2": (lambda: SEThenConv(16, 24, 4, stride=2), (16, 9, 9)),
    # 1024 channels: a pixel stride of 4 KiB, where the driver copies rows anyway (use_row_copy)
    "row_copy_width": (lambda: SEThenConv(1024, 64, 16), (1024, 4, 4)),
    # fewer pixels a sample than padded output channels on every ISA: the gate scales the input rows
    # (conv2d.c gated_rows); the cases above with more fold it into the weights (fold_gate)
    "rows_small_image": (lambda: SEThenConv(24, 40, 6), (24, 3, 5)),
    "fold_wide_image": (lambda: SEThenConv(48, 20, 12), (48, 23, 17)),
}


class GateFirst(SEThenConv):
    def forward(self, x):
        y = F.silu(self.dw(x))
        s = self.gate(self.fc2(F.silu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return self.proj(s * y)   # the gate as the first operand


CASES["gate_first_operand"] = (lambda: GateFirst(24, 12, 6), (24, 6, 6))


def _build(name, batch, seed=0):
    torch.manual_seed(seed)
    net = CASES[name][0]().eval()
    x = torch.randn((batch,) + CASES[name][1], generator=torch.Generator().manual_seed(seed + 1))
    return net, x


def _records(m, shape):
    return m._plan({m.graph.inputs[0].name: tuple(shape)}).records


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gated_conv_matches_torch(isa, name, batch):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_BINARY not in [r["type"] for r in recs]
    gated = [r for r in recs if r["type"] == OP_CONV2D and r.get("gate", -1) >= 0]
    assert len(gated) == 1 and gated[0]["conv"][3:5] == (1, 1)


def test_gated_is_bitwise_the_unfused_records(isa, monkeypatch):
    """Where the gate scales the input rows, it multiplies each input element once, as the BINARY
    record did: the same bits. (Folded into the weights it rounds as x (g w): test_folded_gate_*.)"""
    from fastnorm.plan import rewrites
    net, x = _build("rows_small_image", 2)
    fused = fastnorm.from_torch(net, x).predict(x.numpy())
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES if p is not rewrites.conv_reads_gated))
    m = fastnorm.from_torch(net, x)
    assert OP_BINARY in [r["type"] for r in _records(m, x.shape)]
    np.testing.assert_array_equal(fused, m.predict(x.numpy()))


def test_gated_product_read_twice_keeps_the_multiply():
    class TwoReaders(SEThenConv):
        def forward(self, x):
            y = F.silu(self.dw(x))
            s = torch.sigmoid(self.fc2(F.silu(self.fc1(y.mean((2, 3), keepdim=True)))))
            g = y * s
            return self.proj(g) + g   # the product is the conv's input and its fused residual

    torch.manual_seed(0)
    net = TwoReaders(16, 16, 4).eval()
    x = torch.randn(1, 16, 5, 5, generator=torch.Generator().manual_seed(2))
    m = fastnorm.from_torch(net, x)
    assert OP_BINARY in [r["type"] for r in _records(m, x.shape)]
    with torch.no_grad():
        np.testing.assert_allclose(m.predict(x.numpy()), net(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["fold_wide_image", "rows_small_image", "residual"])
def test_gated_sample_is_the_same_bits_in_any_batch(isa, name):
    """Whether the gate is folded into a copy of the weights depends on a sample's pixels, never on
    the batch: each sample of a batch of 3 (three different gates) is bit for bit its own batch of 1."""
    net, x = _build(name, 3)
    m = fastnorm.from_torch(net, x)
    whole = m.predict(x.numpy())
    for i in range(3):
        np.testing.assert_array_equal(whole[i:i + 1], m.predict(x[i:i + 1].numpy()))


def test_folded_gate_matches_the_unfused_records(isa, monkeypatch):
    """The fold (x (g w)) against the BINARY multiply then the plain conv ((x g) w): the same up to
    the rounding of the products, at a size where every ISA folds, with an input channel of zeros."""
    from fastnorm.plan import rewrites
    torch.manual_seed(3)
    net = SEThenConv(40, 24, 10, gate=lambda t: torch.sigmoid(t) * 3.0).eval()
    x = torch.randn(2, 40, 12, 12, generator=torch.Generator().manual_seed(4))
    x[:, 5] = 0.0
    fused = fastnorm.from_torch(net, x).predict(x.numpy())
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES if p is not rewrites.conv_reads_gated))
    ref = fastnorm.from_torch(net, x).predict(x.numpy())
    np.testing.assert_allclose(fused, ref, rtol=2e-5, atol=2e-6)
    with torch.no_grad():
        np.testing.assert_allclose(fused, net(x).numpy(), rtol=1e-4, atol=1e-5)
