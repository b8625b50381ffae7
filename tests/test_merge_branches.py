"""fastnorm.passes.merge_branches: parallel conv branches of one input, summed, run as one conv (RepVGG,
MobileOne, ACNet training-time blocks). Against torch under every ISA on awkward shapes (odd sizes, 1x1
maps, channels not a multiple of 16, batch 1 and 3), the graph's conv count proving the merge, and the
cases that must stay apart (a shifted padding, strides that differ, a branch read twice) still right."""
import numpy as np
import pytest
from util import assert_model_close, importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402
from fastnorm.passes import merge_branches  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402


def cbn(cin, cout, k, s=1, g=1, p=None):
    kh, kw = (k, k) if isinstance(k, int) else k
    pad = (kh // 2, kw // 2) if p is None else p
    return nn.Sequential(nn.Conv2d(cin, cout, (kh, kw), s, pad, groups=g, bias=False), nn.BatchNorm2d(cout))


class Branches(nn.Module):
    """sum of branches(x) [+ bn(x)] [+ x] [+ const], then relu"""

    def __init__(self, branches, bn=None, identity=False, const=None):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.bn = bn
        self.identity = identity
        self.const = const

    def forward(self, x):
        y = 0 if self.const is None else self.const
        for b in self.branches:
            y = y + b(x)
        if self.bn is not None:
            y = y + self.bn(x)
        if self.identity:
            y = y + x
        return torch.relu(y)


def _randomize(net, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=gen) * 0.5 + 1)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
    return net.eval()


def _check(net, shape, want_convs):
    x = torch.randn((3,) + shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = net(x).numpy()
    model = fastnorm.from_torch(net, x[:1])
    convs = sum(n.op == "conv2d" for n in model.graph.nodes)
    assert convs == want_convs, [(n.op, n.inputs) for n in model.graph.nodes]
    for isa in available_isas():
        with force_isa(isa):
            for b in (1, 3):
                assert_model_close(model.predict(x[:b].numpy()), want[:b], "batch %d (%s)" % (b, isa))
    return model


CASES = {
    # name: (block maker (c), input shape maker (c, h, w), convs after the merge)
    "repvgg": (lambda c: Branches([cbn(c, c, 3), cbn(c, c, 1)], bn=nn.BatchNorm2d(c)), 1),
    "repvgg_stride2": (lambda c: Branches([cbn(c, c + 3, 3, 2), cbn(c, c + 3, 1, 2)]), 1),
    "mobileone_dw_k4": (lambda c: Branches([cbn(c, c, 3, 1, c) for _ in range(4)] + [cbn(c, c, 1, 1, c)],
                                           bn=nn.BatchNorm2d(c)), 1),
    "mobileone_pw_k4": (lambda c: Branches([cbn(c, 2 * c, 1) for _ in range(4)]), 1),
    "acnet_asymmetric": (lambda c: Branches([cbn(c, c, 3), cbn(c, c, (1, 3)), cbn(c, c, (3, 1))]), 1),
    "grouped_identity": (lambda c: Branches([cbn(c, c, 3, 1, c // 3 if c % 3 == 0 else 1)], identity=True), 1),
    "five_by_five_and_3": (lambda c: Branches([cbn(c, c, 5), cbn(c, c, 3), cbn(c, c, 1)], bn=nn.BatchNorm2d(c)), 1),
    "zero_start_constant": (lambda c: Branches([cbn(c, c, 3), cbn(c, c, 1)], const=0.25), 1),
    # must stay apart: a padding that shifts the window (top 0, bottom 2) beside a centred one
    "shifted_padding": (lambda c: Branches([cbn(c, c, 3), nn.Sequential(nn.ZeroPad2d((1, 1, 0, 2)),
                                                                        cbn(c, c, 3, p=0))]), 2),
}


@pytest.mark.parametrize("c", [3, 12, 17])
@pytest.mark.parametrize("hw", [(1, 1), (7, 5), (16, 16)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_branches_merge_and_match_torch(name, c, hw):
    make, convs = CASES[name]
    torch.manual_seed(c)
    net = _randomize(make(c), c + hw[0])
    _check(net, (c,) + hw, convs)


def test_identity_needs_stride_1_and_equal_channels():
    """A stride-2 block cannot take the BN of x (its shape differs): the BN stays, the convs merge."""
    c = 8
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = cbn(c, c, 3, 2), cbn(c, c, 1, 2)
            self.bn = nn.BatchNorm2d(c)
            self.pool = nn.AvgPool2d(2)

        def forward(self, x):
            return self.a(x) + self.b(x) + self.pool(self.bn(x))

    _check(_randomize(Net(), 3), (c, 10, 8), 1)


def test_a_branch_read_elsewhere_stays():
    """A branch whose output is also a graph output is not merged away (it is still computed)."""
    c = 6

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = cbn(c, c, 3), cbn(c, c, 1)

        def forward(self, x):
            u = self.b(x)
            return self.a(x) + u, u

    net = _randomize(Net(), 5)
    x = torch.randn(2, c, 5, 7)
    with torch.no_grad():
        want = [t.numpy() for t in net(x)]
    model = fastnorm.from_torch(net, x[:1])
    outs = model.run({model.inputs[0].name: x.numpy()})
    for t, w in zip(model.outputs, want):
        assert_model_close(outs[t.name], w, t.name)


def test_switch_off_and_fold_report(monkeypatch):
    """FASTNORM_MERGE_BRANCHES=0 keeps the branches (same answers); the BN of x merged in is reported
    as folded into the merged conv."""
    c = 10
    torch.manual_seed(2)
    net = _randomize(Branches([cbn(c, c, 3), cbn(c, c, 1)], bn=nn.BatchNorm2d(c)), 4)
    merged = _check(net, (c, 6, 6), 1)
    report = {r["bn"]: r for r in merged.graph.fold_report}
    conv = [n.name for n in merged.graph.nodes if n.op == "conv2d"][0]
    assert all(r["into"] == conv and r["code"] is None for r in report.values()), report
    monkeypatch.setenv("FASTNORM_MERGE_BRANCHES", "0")
    _check(net, (c, 6, 6), 2)


def test_pass_alone_keeps_its_input_graph():
    """merge_branches(graph, shapes) copies by default: the graph given is unchanged."""
    c = 4
    net = _randomize(Branches([cbn(c, c, 3), cbn(c, c, 1)]), 1)
    from fastnorm.graph import batch1_shapes
    from fastnorm.passes import fold_batchnorm
    g = fold_batchnorm(fastnorm.from_torch(net, torch.randn(1, c, 5, 5)).source_graph)
    before = [(n.op, list(n.inputs)) for n in g.nodes]
    out = merge_branches(g, batch1_shapes(g))
    assert [(n.op, list(n.inputs)) for n in g.nodes] == before
    assert sum(n.op == "conv2d" for n in g.nodes) == 2 and sum(n.op == "conv2d" for n in out.nodes) == 1
    assert all(np.isfinite(np.asarray(w, np.float64)).all() for w in out.weights.values())
