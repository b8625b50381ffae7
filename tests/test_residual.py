"""Residual blocks: conv -> BN -> (+ shortcut) -> ReLU fuses into one conv epilogue, and matches torch."""
import numpy as np
import pytest

import fastnorm
from fastnorm.passes import fold_batchnorm, fuse_residual_add
from fastnorm._C import OP_CONV2D, OP_WINOGRAD2X3, OP_WINOGRAD3X3
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
from models import TinyResNet, realistic_bn  # noqa: E402


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return realistic_bn(TinyResNet())


@pytest.mark.parametrize("batch", [1, 4])
def test_tiny_resnet_matches_torch(isa, net, batch):
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = m.predict(x)
    assert_ran(isa)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max())


def test_every_add_and_bn_is_fused(net):
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    ops = [n.op for n in m.graph.nodes]
    assert "add" not in ops and "batch_norm" not in ops and "relu" not in ops, ops
    fused = [n for n in m.graph.nodes if n.attrs.get("residual")]
    assert len(fused) == 2 and all(n.attrs.get("act") == ["relu"] for n in fused)
    # the downsample conv runs before the conv whose epilogue adds its output
    names = [n.name for n in m.graph.nodes]
    for n in fused:
        producer = next(p for p in m.graph.nodes if n.inputs[3] in p.outputs)
        assert names.index(producer.name) < names.index(n.name)
    assert "+residual" in m.summary()


def test_residual_pass_leaves_unfusable_adds(net):
    g = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32)).source_graph
    f = fuse_residual_add(g)  # without BN folding, the add's operands come from BNs: nothing fuses
    assert [n.op for n in f.nodes].count("add") == [n.op for n in g.nodes].count("add")
    f = fuse_residual_add(fold_batchnorm(g))
    assert [n.op for n in f.nodes].count("add") == 0


def test_residual_into_a_conv_without_bias_matches_torch():
    # pre-activation blocks end in conv(bias=False) + identity, with no BN to give the conv a bias
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)

        def forward(self, x):
            return torch.relu(self.conv(torch.relu(x)) + x)

    torch.manual_seed(1)
    net = Block().eval()
    m = fastnorm.from_torch(net, torch.randn(1, 4, 8, 8))
    (conv,) = [n for n in m.graph.nodes if n.op == "conv2d"]
    assert conv.attrs.get("residual") and conv.inputs[2] == ""
    # (conv(x) + x, the conv reading x itself, is one conv: fastnorm.passes.merge_branches)
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.predict(x) - ref).max() <= ATOL_MODEL


def _plan(m, shape):
    return m._plan({m.graph.inputs[0].name: shape})


def test_residual_conv_writes_over_its_last_reader(isa, net):
    """A conv whose residual input is read by nothing after it writes its output over that buffer
    (the plan's _residual_in_place); the answer is unchanged."""
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    shape = (2, 3, 32, 32)
    plan = _plan(m, shape)
    with_res = [r for r in plan.records if r.get("in2", -1) >= 0
                and r["type"] in (OP_CONV2D, OP_WINOGRAD3X3, OP_WINOGRAD2X3)]
    assert len(with_res) == 2
    assert all(r["out"] == r["in2"] for r in with_res), [(r["in2"], r["out"]) for r in with_res]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    y = m.predict(x)
    assert_ran(isa)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max())


def test_residual_read_again_later_is_not_overwritten(isa):
    """When the shortcut is read after the conv that adds it, the conv gets a fresh buffer."""
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(4, 8, 3, padding=1)
            self.conv = torch.nn.Conv2d(8, 8, 3, padding=1)
            self.head = torch.nn.Conv2d(8, 8, 1)

        def forward(self, x):
            s = self.stem(x)
            y = torch.relu(self.conv(s) + s)
            return self.head(y) + s  # s read again after the residual conv

    torch.manual_seed(2)
    net = Block().eval()
    m = fastnorm.from_torch(net, torch.randn(1, 4, 9, 7))
    shape = (3, 4, 9, 7)
    recs = _plan(m, shape).records
    first = next(r for r in recs if r.get("in2", -1) >= 0)
    assert first["out"] != first["in2"]
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = m.predict(x)
    assert_ran(isa)
    assert np.abs(got - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max())
