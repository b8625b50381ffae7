"""Issue 14: a gated or pre-activated 1x1 conv on an input past the whole copy's budget (DenseNet's
bottlenecks at 56x56 and 28x28, an SE projection on a large map with fewer pixels than padded output
channels x 4) runs on the dense-rows kernel: each thread applies the gate or the pre-activation to a
chunk's rows once, into its scratch, and the chunk's panels read the copy (src_c/conv/conv2d.c
dense_run). Checked under every ISA against torch (1e-4 relative), bit for bit against the unfused
records (the SCALE_SHIFT or BINARY record, then the plain conv: the same products in the same order),
each sample against its own batch of one, and one thread against two. The channel counts cover every
chunk height of dense_chunk_rows (<= 64, <= 160, 192-320 and past 320 input channels), odd ones, a
stride, and a channel window of a concat (rows wider than the conv reads)."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_BINARY, OP_CONV2D, OP_SCALE_SHIFT
from test_conv_preact import PreAct
from test_se_gate import SEThenConv, _records
from util import importorskip

torch = importorskip("torch")

# every input is past 1 MiB (2 x 512 KiB: conv2d.c panel_major), so no whole copy is made
PRE = {
    # name: (factory, input shape without batch)
    "c48": (lambda: PreAct(48, 40), (48, 75, 77)),
    "c67_odd": (lambda: PreAct(67, 19), (67, 61, 65)),
    "c160": (lambda: PreAct(160, 128), (160, 41, 43)),
    "c229_odd": (lambda: PreAct(229, 33), (229, 31, 37)),
    "c416": (lambda: PreAct(416, 72), (416, 27, 25)),
    "stride2": (lambda: PreAct(96, 56, stride=2), (96, 59, 61)),
    "concat_window": (lambda: PreAct(160, 64, split=96), (160, 41, 43)),
}
GATE = {
    # 289 pixels: fewer than 4 x 160 padded output channels on every ISA, so the gate is not folded
    "c960": (lambda: SEThenConv(960, 160, 40), (960, 17, 17)),
    "c700_odd_residual": (lambda: SEThenConv(700, 700, 24, residual=True), (700, 21, 19)),
}


def _build(cases, name, batch, seed=0):
    torch.manual_seed(seed)
    factory, shape = cases[name]
    net = factory().eval()
    if isinstance(net, PreAct):
        with torch.no_grad():   # some channels all negative after the BN: the ReLU's zeros show
            net.bn.bias[: net.bn.bias.shape[0] // 4] = -8.0
    x = torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed + 1))
    return net, x


def _fused(m, x, key):
    recs = [r for r in _records(m, x.shape) if r["type"] == OP_CONV2D]
    return [r for r in recs if (r.get("weights2") is not None if key == "pre" else r.get("gate", -1) >= 0)]


def _check(cases, key, isa, name, monkeypatch):
    from fastnorm.plan import rewrites
    net, x = _build(cases, name, 2)
    m = fastnorm.from_torch(net, x)
    assert len(_fused(m, x, key)) == 1, "the %s was not fused into the conv" % key
    y = m.predict(x.numpy())
    with torch.no_grad():
        want = net(x).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
    for i in range(2):   # each sample: its own bits whatever the batch
        np.testing.assert_array_equal(y[i:i + 1], m.predict(x[i:i + 1].numpy()))
    m.num_threads = 2    # tasks split between threads: the same calls, the same bits
    np.testing.assert_array_equal(y, m.predict(x.numpy()))
    drop = rewrites.conv_reads_preact if key == "pre" else rewrites.conv_reads_gated
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES if p is not drop))
    plain = fastnorm.from_torch(net, x)
    assert (OP_SCALE_SHIFT if key == "pre" else OP_BINARY) in [r["type"] for r in _records(plain, x.shape)]
    np.testing.assert_array_equal(y, plain.predict(x.numpy()))


@pytest.mark.parametrize("name", sorted(PRE))
def test_preact_dense_chunks(isa, name, monkeypatch):
    _check(PRE, "pre", isa, name, monkeypatch)


@pytest.mark.parametrize("name", sorted(GATE))
def test_gated_dense_chunks(isa, name, monkeypatch):
    _check(GATE, "gate", isa, name, monkeypatch)
