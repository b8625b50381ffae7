"""The ConvNeXt block (7x7 depthwise -> channels-last LayerNorm -> linear -> GELU -> linear -> layer
scale -> residual add) as fastnorm plans it: the layer scale folded into fc2's weights
(fastnorm.passes.fold_linear_scale), the residual add taken by fc2's epilogue
(fastnorm.plan.rewrites.conv_takes_residual_add), GELU in fc1's tile store. Checked against torch
within 1e-4 relative under every ISA, on awkward shapes (channels not a multiple of 16, odd image
sizes, rows not a multiple of the GEMM tile, batch 1 and > 1), and each rewrite alone against the
graph or record list without it, including the cases it must leave alone."""
import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.passes import fold_linear_scale
from test_epilogue_act import matches_torch
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Block(nn.Module):
    """ConvNeXt's block as timm writes it (permute to channels-last, LayerNorm, MLP, gamma, permute back)."""

    def __init__(self, c, gelu="none"):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.linspace(0.5, 1.5, c))
        self.gelu = gelu

    def forward(self, x):
        s = x
        x = self.dw(x).permute(0, 2, 3, 1)
        x = self.fc2(F.gelu(self.fc1(self.norm(x)), approximate=self.gelu))
        x = (x * self.gamma).permute(0, 3, 1, 2)
        return s + x


def _records(m, x):
    return m._plan({m.graph.inputs[0].name: tuple(x.shape)}).records


# (channels, input shape with batch): rows = n*h*w of 6 .. 2*9*7 = 126 (12 / 6 / 4 tiles and a tail). A 1x1
# image is left out: its permutes are reshapes, with layout copies around them, and the add stays.
SHAPES = {"c40_9x7_batch2": (40, (2, 40, 9, 7)), "c17_5x6": (17, (1, 17, 5, 6)),
          "c24_2x1_batch3": (24, (3, 24, 2, 1)), "c33_4x13": (33, (1, 33, 4, 13))}


@pytest.mark.parametrize("gelu", ["none", "tanh"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_block_matches_torch_fused(isa, shape, gelu):
    c, xs = SHAPES[shape]
    torch.manual_seed(len(shape))
    net = Block(c, gelu).eval()
    x = torch.randn(xs, generator=torch.Generator().manual_seed(1))
    m = matches_torch(net, x)
    recs = _records(m, x)
    types = [r["type"] for r in recs]
    assert _C.OP_BINARY not in types and _C.OP_ACTK not in types, types   # mul folded, add and gelu fused
    fc2 = [r for r in recs if r["type"] == _C.OP_CONV2D][-1]
    assert fc2["in2"] >= 0
    fc = next(n for n in m.graph.nodes if n.name.startswith("fc2"))
    assert fc.attrs.get("folded") and "mul" in fc.attrs["folded"][0]


def test_block_stack_residual_in_place():
    """Two blocks: the second's fc2 adds the first block's output as its residual; nothing else reads
    it afterwards, so the sum may overwrite it (residual_in_place); the result is unchanged."""
    torch.manual_seed(3)
    net = nn.Sequential(Block(20), Block(20)).eval()
    x = torch.randn((2, 20, 6, 5), generator=torch.Generator().manual_seed(4))
    m = matches_torch(net, x)
    assert _C.OP_BINARY not in [r["type"] for r in _records(m, x)]


class LateResidual(nn.Module):
    """The add's other operand is computed after the linear: the linear cannot take it as its residual."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 12)
        self.conv = nn.Conv2d(12, 12, 3, padding=1)

    def forward(self, x):
        y = self.fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return y + torch.relu(self.conv(x) * 2.0)


class TwoReaders(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 12)

    def forward(self, x):
        y = self.fc(x)
        return (y + x) * y


class Broadcast(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 12)

    def forward(self, x):
        return self.fc(x) + x[:, :1]


@pytest.mark.parametrize("net, shape", [(LateResidual, (2, 12, 5, 4)), (TwoReaders, (7, 12)), (Broadcast, (5, 12))],
                         ids=["late_operand", "two_readers", "broadcast"])
def test_residual_add_left_alone(isa, net, shape):
    torch.manual_seed(6)
    net = net().eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    m = matches_torch(net, x)
    assert any(r["type"] == _C.OP_BINARY and r["kind"] == _C.BIN_ADD for r in _records(m, x))


def _linear_mul_graph(k_shape, k_first=False, extra_reader=False, act=None):
    """x (3, 5, 8) -> linear 8 -> 6 (+ act) -> mul by a constant of k_shape."""
    rng = np.random.default_rng(0)
    w = {"w": rng.standard_normal((6, 8)).astype(np.float32), "b": rng.standard_normal(6).astype(np.float32),
         "k": rng.uniform(0.5, 2.0, k_shape).astype(np.float32)}
    nodes = [Node("fc", "linear", ["x", "w", "b"], ["y"], {"act": [act]} if act else {}),
             Node("mul", "mul", ["k", "y"] if k_first else ["y", "k"], ["z"], {})]
    outs = [TensorSpec("z", (3, 5, 6))]
    if extra_reader:
        nodes.append(Node("abs", "abs", ["y"], ["t"], {}))
        outs.append(TensorSpec("t", (3, 5, 6)))
    return Graph([TensorSpec("x", (3, 5, 8))], outs, nodes, w)


def _run(graph, x, optimize=True):
    from fastnorm.model import Model
    return Model(graph, optimize=optimize).predict(x)


@pytest.mark.parametrize("k_shape, k_first", [((6,), False), ((1, 1, 6), True), ((1,), False), ((), True)])
def test_fold_linear_scale(k_shape, k_first):
    g = _linear_mul_graph(k_shape, k_first)
    folded = fold_linear_scale(g)
    assert [n.op for n in folded.nodes] == ["linear"] and folded.nodes[0].outputs == ["z"]
    assert folded.nodes[0].attrs["folded"] == ["mul"] and "k" not in folded.weights
    x = np.random.default_rng(1).standard_normal((3, 5, 8)).astype(np.float32)
    want = (x.astype(np.float64) @ g.weights["w"].T.astype(np.float64) + g.weights["b"]) * g.weights["k"]
    np.testing.assert_allclose(_run(folded, x, optimize=False), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_run(g, x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("order", ["C", "F"])     # F: a linear weight kept as ONNX MatMul's B transposed
def test_fold_linear_scale_weights_are_the_float64_fold_rounded(order):
    """The folded weights are w * k computed in float64 and rounded to float32 once, bit for bit
    (fold_linear_scale multiplies in float32 where that gives the same bits), tiny and huge values
    included; a transposed weight stays transposed for conv2d_pack_kn."""
    g = _linear_mul_graph((6,), False)
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((6, 8)) * np.exp2(rng.integers(-140, 120, (6, 8)))).astype(np.float32)
    g.weights["w"] = np.asfortranarray(w) if order == "F" else w
    g.weights["k"] = (rng.standard_normal(6) * 1e-3).astype(np.float32)
    folded = fold_linear_scale(g)
    got = folded.weights[folded.nodes[0].inputs[1]]
    want = (w.astype(np.float64) * g.weights["k"].astype(np.float64)[:, None]).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got.flags.f_contiguous == (order == "F")


@pytest.mark.parametrize("case", ["along_rows", "extra_reader", "act"])
def test_fold_linear_scale_leaves_alone(case):
    g = {"along_rows": lambda: _linear_mul_graph((5, 1)), "extra_reader": lambda: _linear_mul_graph((6,), extra_reader=True),
         "act": lambda: _linear_mul_graph((6,), act="relu")}[case]()
    assert [n.op for n in fold_linear_scale(g).nodes] == [n.op for n in g.nodes]
