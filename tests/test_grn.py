"""Global Response Normalization (ConvNeXt-V2) and its tail (fastnorm/passes/fuse_grn.py): gamma * (x * nx)
+ beta + x becomes x * (gamma * nx + 1) + beta, beta folds into the bias of the linear that reads it, and
that linear reads x and the gate itself (rewrites.conv_reads_gated, the linear run as a 1x1 conv over
the (n, h, w) images). Checked against torch on every ISA at batch 1 and 3 on both routes; the shapes
the rewrite must leave alone (an intermediate with another reader, a large nx, a conv after it in
place of a linear) stay correct."""
import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from onnx_util import export
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class GRN(nn.Module):
    """ConvNeXt-V2's, channels last: norm over (H, W), mean over C."""

    def __init__(self, dim, channels_last=True, leak=False):
        super().__init__()
        self.leak = leak   # x * nx read twice: the rewrite must leave it
        shape = (1, 1, 1, dim) if channels_last else (1, dim, 1, 1)
        self.gamma = nn.Parameter(torch.empty(shape).uniform_(-1, 1))
        self.beta = nn.Parameter(torch.empty(shape).uniform_(-1, 1))
        self.dims, self.cdim = ((1, 2), -1) if channels_last else ((2, 3), 1)

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=self.dims, keepdim=True)
        nx = gx / (gx.mean(dim=self.cdim, keepdim=True) + 1e-6)
        t = x * nx
        y = self.gamma * t + self.beta + x
        return y + 0.25 * t if self.leak else y


class Block(nn.Module):
    """ConvNeXt-V2's MLP half: permute, linear, GELU, GRN, linear, permute, + x."""

    def __init__(self, c=24, expand=4, tail=None):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, expand * c), nn.Linear(expand * c, c)
        self.grn = GRN(expand * c, leak=tail == "leak")
        self.tail = tail

    def forward(self, x):
        y = F.gelu(self.fc1(x.permute(0, 2, 3, 1)))
        z = self.grn(y)
        if self.tail == "second_reader":
            out = self.fc2(z) + self.fc2(y * 0.5)
        else:
            out = self.fc2(z)
        return x + out.permute(0, 3, 1, 2)


class ChannelsFirst(nn.Module):
    """GRN on NCHW, then a 1x1 conv (the gate rewrite applies; the bias fold is for linears)."""

    def __init__(self, c=16):
        super().__init__()
        self.a, self.grn, self.b = nn.Conv2d(c, 2 * c, 1), GRN(2 * c, channels_last=False), nn.Conv2d(2 * c, c, 1)

    def forward(self, x):
        return self.b(self.grn(F.relu(self.a(x))))


class LargeNx(nn.Module):
    """The same algebra with nx the size of x: left as it is."""

    def __init__(self, c=8):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.gamma = nn.Parameter(torch.empty(1, c, 1, 1).uniform_(-1, 1))
        self.beta = nn.Parameter(torch.empty(1, c, 1, 1).uniform_(-1, 1))

    def forward(self, x):
        y = self.a(x)
        return self.gamma * (y * torch.sigmoid(y)) + self.beta + y


CASES = {
    "block": (lambda: Block(), (24, 9, 11), True),
    "block_odd": (lambda: Block(c=13, expand=3), (13, 5, 7), True),
    "block_one_pixel": (lambda: Block(c=16), (16, 1, 1), False),   # nx as large as x: left alone
    "second_reader": (lambda: Block(tail="second_reader"), (24, 6, 6), True),   # x read twice: still fine
    "intermediate_reader": (lambda: Block(tail="leak"), (24, 6, 6), False),
    "channels_first": (lambda: ChannelsFirst(), (16, 7, 8), False),
    "large_nx": (lambda: LargeNx(), (8, 6, 5), False),
}


def _case(name, batch):
    torch.manual_seed(len(name))
    factory, shape, _ = CASES[name]
    net = factory().eval()
    x = torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        want = net(x).numpy()
    return net, x, want


def _check(m, x, want):
    np.testing.assert_allclose(m.predict(x.numpy()), want, rtol=1e-4, atol=2e-5 * max(1.0, float(np.abs(want).max())))
    return m._plan({m.graph.inputs[0].name: tuple(x.shape)}).records


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_grn_matches_torch(isa, name, batch):
    net, x, want = _case(name, batch)
    recs = _check(fastnorm.from_torch(net, x), x, want)
    gated = [r for r in recs if r["type"] == _C.OP_CONV2D and r.get("gate", -1) >= 0]
    assert bool(gated) == CASES[name][2]
    if name.startswith("block") and CASES[name][2]:   # no pass over the GRN's input but the norm's
        big = x.shape[0] * x.shape[2] * x.shape[3] * gated[0]["c"]
        assert not [r for r in recs if r["type"] == _C.OP_BINARY and np.prod(r["binary"][0]) >= big]


@pytest.mark.parametrize("name", sorted(CASES))
def test_grn_onnx_route(isa, name):
    importorskip("onnx")
    net, x, want = _case(name, 2)
    recs = _check(fastnorm.from_onnx(export(net, (1,) + tuple(x.shape[1:]), 17)), x, want)
    assert bool([r for r in recs if r.get("gate", -1) >= 0]) == CASES[name][2]


@pytest.mark.parametrize("beta_shape", [(10,), (1, 1, 1, 10), ()])
def test_add_before_linear_folds_into_its_bias(isa, beta_shape):
    class AddLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(10, 10, 1)
            self.beta = nn.Parameter(torch.randn(beta_shape))
            self.fc = nn.Linear(10, 6)

        def forward(self, x):
            return self.fc(self.conv(x).permute(0, 2, 3, 1) + self.beta)
    torch.manual_seed(1)
    net = AddLinear().eval()
    x = torch.randn(2, 10, 4, 5)
    with torch.no_grad():
        want = net(x).numpy()
    from fastnorm.passes.fuse_grn import fold_add_into_linear
    m = fastnorm.from_torch(net, x)
    np.testing.assert_allclose(m.predict(x.numpy()), want, rtol=1e-5, atol=1e-5)
    from fastnorm.graph import batch1_shapes
    g = fold_add_into_linear(m.source_graph, batch1_shapes(m.source_graph))
    assert "add" not in {n.op for n in g.nodes}
