"""Issue 14: silu, gelu, hardswish, sigmoid, ... as conv / linear epilogues (fastnorm.passes.fuse,
src_c/fastnorm.h FN_ACT_ACTK0). The conv driver and the depthwise conv apply them to each tile / row
as they store it; the Winograd and first-layer kernels keep an ACTK record after them. Checked
against torch within 1e-4 relative under every ISA, and the fused record list has no ACTK record
where the kernel takes the activation."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_ACTK
from fastnorm.graph import EPILOGUE_ACTS
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional

ACTS = {"silu": nn.SiLU(), "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"),
        "hardswish": nn.Hardswish(), "sigmoid": nn.Sigmoid(), "hardsigmoid": nn.Hardsigmoid(),
        "tanh": nn.Tanh(), "mish": nn.Mish()}


class ConvAct(nn.Module):
    """conv (+ residual) -> act, the conv picked to land on one kernel path."""

    def __init__(self, act, cin, cout, k, groups=1, stride=1, residual=False, dilation=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, dilation * (k // 2), dilation, groups=groups)
        self.act = act
        self.residual = residual

    def forward(self, x):
        y = self.conv(x)
        return self.act(y + x if self.residual else y)


class LinearAct(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc = nn.Linear(40, 70)
        self.act = act

    def forward(self, x):
        return self.act(self.fc(x.flatten(1)))


# name: (factory(act), input shape with batch, whether the kernel takes the act (no ACTK record))
PATHS = {
    "igemm_1x1": (lambda a: ConvAct(a, 24, 40, 1), (2, 24, 9, 7), True),
    "igemm_3x3_stride2": (lambda a: ConvAct(a, 12, 37, 3, stride=2), (1, 12, 11, 13), True),
    "grouped": (lambda a: ConvAct(a, 32, 32, 3, groups=4), (1, 32, 10, 10), True),
    "residual": (lambda a: ConvAct(a, 16, 16, 1, residual=True), (1, 16, 6, 5), True),
    "depthwise": (lambda a: ConvAct(a, 48, 48, 5, groups=48), (1, 48, 12, 9), True),
    "winograd": (lambda a: ConvAct(a, 32, 32, 3), (1, 32, 16, 16), False),
    "first_layer": (lambda a: ConvAct(a, 3, 16, 3, stride=2), (1, 3, 17, 15), True),
    "linear": (lambda a: LinearAct(a), (3, 10, 2, 2), True),
}


def _model(path, act, seed=0):
    torch.manual_seed(seed)
    net = PATHS[path][0](ACTS[act]).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)   # pre-activations spread over both tails of every activation
    x = torch.randn(PATHS[path][1], generator=torch.Generator().manual_seed(seed + 1))
    return net, x


def matches_torch(net, x):
    """fastnorm.from_torch(net) after checking its output against torch's within 1e-4 relative."""
    m = fastnorm.from_torch(net, x)
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(m.predict(x.numpy()), ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    return m


def test_every_epilogue_kind_is_covered():
    assert set(ACTS) == set(EPILOGUE_ACTS)


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("path", sorted(PATHS))
def test_conv_act_matches_torch(isa, path, act):
    net, x = _model(path, act)
    m = matches_torch(net, x)
    fused = next(n for n in m.graph.nodes if n.op in ("conv2d", "linear")).attrs.get("act")
    assert fused and fused[0] == act.split("_")[0], "the %s was not fused into the %s" % (act, path)
    types = [r["type"] for r in m._plan({m.graph.inputs[0].name: tuple(x.shape)}).records]
    assert (OP_ACTK not in types) == PATHS[path][2], types


def test_fused_is_bitwise_the_unfused_records(isa):
    """The epilogue runs the act family's kernel on the stored tile: the same bits as the ACTK record."""
    net, x = _model("igemm_1x1", "gelu")
    fused = fastnorm.from_torch(net, x).predict(x.numpy())
    unfused = fastnorm.from_torch(net.conv, x).predict(x.numpy())
    np.testing.assert_array_equal(fused, fastnorm.ops.gelu(unfused))


def test_two_readers_are_not_fused():
    """A conv output read by the activation and something else keeps the ACTK record."""
    class TwoReaders(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 1)

        def forward(self, x):
            y = self.conv(x)
            return F.silu(y) + y

    net = TwoReaders().eval()
    x = torch.randn(1, 8, 5, 5, generator=torch.Generator().manual_seed(3))
    m = fastnorm.from_torch(net, x)
    assert not m.graph.nodes[0].attrs.get("act")
    with torch.no_grad():
        np.testing.assert_allclose(m.predict(x.numpy()), net(x).numpy(), rtol=1e-4, atol=1e-5)
