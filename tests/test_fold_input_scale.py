"""fold_input_scale (fastnorm/passes/fold_scale.py): a constant multiply read only by conv2d / linear
nodes folds into their weights over the input channels (NFNet's scaled activations, a model's own
x / 255). Checked: the optimised graph has no such mul, and matches the unoptimised one and NumPy
(float64) under every ISA; a multiply read by anything else, broadcasting its operand up, or varying
along H / W stays."""
import numpy as np
import pytest
from util import assert_ran

import reference as R

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec


def _graph(k, readers, groups=1, rng=None):
    """x -> relu -> mul k -> each reader ("conv", "conv3x3", "linear", "add"); outputs every reader."""
    c = 8
    w = {"k": np.asarray(k, np.float32)}
    nodes = [Node("r", "relu", ["x"], ["a"]), Node("m", "mul", ["a", "k"], ["z"])]
    outs = []
    for i, kind in enumerate(readers):
        o = "y%d" % i
        if kind.startswith("conv"):
            ks = 3 if kind == "conv3x3" else 1
            w["w%d" % i] = rng.normal(0, 0.3, (16, c // groups, ks, ks)).astype(np.float32)
            w["b%d" % i] = rng.normal(0, 0.1, 16).astype(np.float32)
            nodes.append(Node("c%d" % i, "conv2d", ["z", "w%d" % i, "b%d" % i], [o],
                              {"stride": [1, 1], "padding": [ks // 2] * 4, "dilation": [1, 1], "groups": groups}))
        elif kind == "add":
            nodes.append(Node("c%d" % i, "add", ["z", "x"], [o]))
        outs.append(TensorSpec(o, (None, 16 if kind.startswith("conv") else c, None, None)))
    return Graph([TensorSpec("x", (None, c, None, None))], outs, nodes, w), w


def _reference(x, w, k, readers, groups):
    z = np.maximum(x.astype(np.float64), 0) * np.asarray(k, np.float64)
    outs = []
    for i, kind in enumerate(readers):
        if kind.startswith("conv"):
            ks = w["w%d" % i].shape[2]
            outs.append(R.conv2d(z, w["w%d" % i], w["b%d" % i], 1, ks // 2, 1, groups))
        else:
            outs.append(z + x)
    return outs


CASES = [
    (1.7015, ["conv3x3"], 1, True),                                   # NFNet's gamma
    (np.linspace(0.5, 2.0, 8).reshape(1, 8, 1, 1), ["conv"], 1, True),  # per channel
    (np.linspace(0.5, 2.0, 8).reshape(8, 1, 1), ["conv3x3", "conv"], 2, True),  # two readers, grouped
    (0.25, ["conv3x3"], 8, True),                                     # depthwise
    (3.0, ["conv", "add"], 1, False),                                 # another reader: kept
    (np.linspace(0.5, 2.0, 6).reshape(1, 1, 1, 6), ["conv"], 1, False),  # varies along W: kept
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_input_scale_folds_into_conv_readers(isa, case):
    k, readers, groups, folds = CASES[case]
    rng = np.random.default_rng(case)
    g, w = _graph(k, readers, groups, rng)
    opt, raw = fastnorm.Model(g), fastnorm.Model(g, optimize=False)
    assert (sum(n.op == "mul" for n in opt.graph.nodes) == 0) == folds
    for n in (1, 3):
        x = rng.normal(0, 1, (n, 8, 7, 6)).astype(np.float32)
        a, b = opt.run({"x": x}), raw.run({"x": x})
        assert_ran(isa)
        for i, want in enumerate(_reference(x, w, k, readers, groups)):
            name = "y%d" % i
            scale = max(1.0, np.abs(want).max())
            assert np.abs(a[name] - want).max() <= 2e-6 * scale, (case, name)
            assert np.abs(a[name] - b[name]).max() <= 2e-6 * scale, (case, name)


def test_input_scale_into_linear_and_from_torch():
    """x / 255 before the stem (from torch) and a scale before a linear fold; the answer is torch's."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = self.stem(x / 255.0).mean((2, 3))
            return self.fc(torch.relu(y) * 0.5)

    torch.manual_seed(0)
    net = M().eval()
    x = torch.rand(2, 3, 9, 9) * 255
    m = fastnorm.from_torch(net, x[:1])
    assert not any(n.op in ("mul", "div") for n in m.graph.nodes), [n.op for n in m.graph.nodes]
    with torch.no_grad():
        want = net(x).numpy()
    assert np.abs(m.predict(x.numpy()) - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
