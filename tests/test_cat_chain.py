"""Issue 14: a chain of channel concats that each extend the one before (DenseNet's dense block) shares
one buffer (rewrites.cat_chain_in_one_buffer): each earlier concat is a window of the last one's buffer,
read in place by its 1x1 convs, and each input is copied (or written by its conv, Winograd included)
into that buffer once. Checked against torch within 1e-4 relative under every ISA, at batch 1 and 2,
in both ways of writing the block (torch.cat of the whole list, and x = cat(x, y) layer by layer);
against the same model without the rewrite bit for bit; and the chain must really be one buffer (the
data copied per predict falls from quadratic in the layer count to linear). A concat that something
else reads too (a pool, a graph output) keeps its own buffer and the answer stays right."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_CAT, OP_CONV2D, OP_WINOGRAD2X3, OP_WINOGRAD3X3
from test_epilogue_act import matches_torch
from test_se_gate import _records
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _trained_bn(c):
    bn = nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


class Layer(nn.Module):
    """DenseNet's layer: BN-ReLU-1x1 conv-BN-ReLU-3x3 conv (growth channels)."""

    def __init__(self, cin, growth, mid):
        super().__init__()
        self.norm1, self.conv1 = _trained_bn(cin), nn.Conv2d(cin, mid, 1, bias=False)
        self.norm2, self.conv2 = _trained_bn(mid), nn.Conv2d(mid, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class Block(nn.Module):
    """n layers; listwise: torch.cat(feats) per layer (torchvision); else x = cat(x, y). tap: a max pool
    of the third concat, through a 1x1 conv, is added to the output (that concat then has a reader that
    is not a conv)."""

    def __init__(self, n, cin, growth, mid, listwise=True, tap=False):
        super().__init__()
        self.layers = nn.ModuleList([Layer(cin + i * growth, growth, mid) for i in range(n)])
        self.listwise, self.tap = listwise, tap
        self.head = nn.Conv2d(cin + n * growth, 8, 1)
        self.tap_conv = nn.Conv2d(cin + 2 * growth, 8, 1) if tap else None

    def forward(self, x):
        feats, extra = [x], None
        for i, layer in enumerate(self.layers):
            cat = torch.cat(feats, 1) if self.listwise else x
            if self.tap and i == 2:
                extra = self.tap_conv(F.max_pool2d(cat, 3, 1, 1))
            y = layer(cat)
            feats.append(y)
            if not self.listwise:
                x = torch.cat([x, y], 1)
        out = self.head(torch.cat(feats, 1) if self.listwise else x)
        return out if extra is None else out + extra


CASES = {
    # name: (factory, input shape without batch)
    "list": (lambda: Block(4, 16, 8, 16), (16, 9, 11)),
    "iterative": (lambda: Block(4, 16, 8, 16, listwise=False), (16, 9, 11)),
    "odd_channels": (lambda: Block(3, 7, 5, 11), (7, 5, 6)),
    "one_pixel": (lambda: Block(3, 12, 4, 8), (12, 1, 1)),
    # 16 -> 16 3x3 convs at 16x16: 16 Winograd tiles, so its output transform writes the concat's block
    "winograd": (lambda: Block(4, 16, 16, 16), (16, 16, 16)),
    "iterative_winograd": (lambda: Block(3, 24, 16, 16, listwise=False), (24, 16, 16)),
    "tapped": (lambda: Block(4, 16, 8, 16, tap=True), (16, 9, 11)),
    "tapped_iterative": (lambda: Block(4, 16, 8, 16, listwise=False, tap=True), (16, 9, 11)),
}


def _build(name, batch, seed=0):
    torch.manual_seed(seed)
    factory, shape = CASES[name]
    x = torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed + 1))
    return factory().eval(), x


def _cat_floats(recs):
    """Floats the plan's CAT records copy per predict."""
    total = 0
    for r in recs:
        if r["type"] == OP_CAT:
            ins, inner = r["cat"][:2]
            total += r["outer"] * sum(c for b, c in zip(ins, inner) if b >= 0)
    return total


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cat_chain_matches_torch(isa, name, batch):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    n, cin, h, w = x.shape
    layers = net.layers
    growth = layers[0].conv2.out_channels
    # without the rewrite every layer's concat copies every earlier feature: sum over layers
    quadratic = n * h * w * sum(cin + i * growth for i in range(1, len(layers) + 1))
    copied = _cat_floats(recs)
    if not name.startswith("tapped"):
        # at most x0 and each layer's output once
        assert copied <= n * h * w * (cin + len(layers) * growth), (copied, quadratic)
        # layers 1.. read windows of one buffer (layer 0 reads x0 itself): their 1x1 convs read it in place
        win = [r for r in recs if r["type"] == OP_CONV2D and r.get("weights2") is not None and r.get("ldx")]
        assert len(win) == len(layers) - 1 and len({r["in"] for r in win}) == 1, win
    assert copied < quadratic
    if "winograd" in name:
        wino = [r for r in recs if r["type"] in (OP_WINOGRAD3X3, OP_WINOGRAD2X3)]
        assert wino and all(r.get("ldy") for r in wino), "a Winograd output still goes through a copy"


@pytest.mark.parametrize("name", sorted(CASES))
def test_cat_chain_is_bitwise_without_it(isa, name, monkeypatch):
    from fastnorm.plan import rewrites
    net, x = _build(name, 2)
    chained = fastnorm.from_torch(net, x).predict(x.numpy())
    monkeypatch.setattr(rewrites, "PASSES", tuple(p for p in rewrites.PASSES
                                                  if p is not rewrites.cat_chain_in_one_buffer))
    plain = fastnorm.from_torch(net, x).predict(x.numpy())
    np.testing.assert_array_equal(chained, plain)


def test_zoo_densenet_mini_chains(isa):
    """tests/zoo.py's DenseNetMini (two blocks of 4 layers): fewer CAT records than concat nodes, and
    the answer still torch's."""
    import zoo
    torch.manual_seed(0)
    net = zoo.calibrate(zoo.DenseNetMini().eval(), (3, 64, 64), seed=0)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert len([r for r in recs if r["type"] == OP_CAT]) < len([nd for nd in m.graph.nodes if nd.op == "cat"])


class LongChain(nn.Module):
    """x = cat(x, conv(x)) 300 times, one channel each: flattened, the last concat would have 301
    inputs, past what a CAT record takes (rewrites.CAT_MAX_INPUTS)."""

    def __init__(self, n=300):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(2 + i, 1, 1) for i in range(n)])

    def forward(self, x):
        for conv in self.convs:
            x = torch.cat([x, conv(x)], 1)
        return x


def test_long_iterative_chain_still_loads():
    from fastnorm.plan import rewrites
    torch.manual_seed(0)
    net = LongChain().eval()
    x = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert all(len(r["cat"][0]) <= rewrites.CAT_MAX_INPUTS for r in recs if r["type"] == OP_CAT)
