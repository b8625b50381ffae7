"""Video nets: Conv3d (any kernel, stride, padding, dilation, groups; BatchNorm3d folded into it, the
activation fused) runs per temporal tap on the conv2d kernels (fastnorm/plan/lower_conv.py
_lower_conv3d); MaxPool3d / AvgPool3d as two separable 2-D pools between reshapes that keep the batch;
the global 3-D average pool as a mean over (T, H, W). Checked against a NumPy float64 reference and
torch on the three routes (from_torch with route="export" and route="fx", torch.onnx.export ->
from_onnx), every ISA, batch 1 and 3, awkward sizes (odd frames, 1-frame clips, channels not a multiple
of 16)."""
import io
import warnings

import numpy as np
import pytest
from util import assert_ran, importorskip

import reference as R

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec

torch = importorskip("torch")
nn = torch.nn


def _conv3d_ref(x, w, b, stride, pad, dil, groups):
    """float64: sum over temporal taps of the 2-D reference conv of each output frame's input frame."""
    x = np.asarray(x, np.float64)
    n, c, t, h, ww = x.shape
    cout, _, kt = w.shape[:3]
    st, sh, sw = stride
    pf, ph, pw = pad
    dt, dh, dw = dil
    ot = (t + 2 * pf - dt * (kt - 1) - 1) // st + 1
    xp = np.zeros((n, c, t + 2 * pf, h, ww))
    xp[:, :, pf:pf + t] = x
    frames = []
    for o in range(ot):
        acc = 0
        for a in range(kt):
            acc = acc + R.conv2d(xp[:, :, o * st + a * dt], w[:, :, a], None, (sh, sw), (ph, pw), (dh, dw), groups)
        frames.append(acc + (0 if b is None else np.asarray(b, np.float64)[None, :, None, None]))
    return np.stack(frames, 2)


# (cin, cout, kernel, stride, padding, dilation, groups, (T, H, W))
CASES = [
    (3, 8, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, (5, 9, 10)),       # C3D
    (4, 12, (1, 3, 3), (1, 2, 2), (0, 1, 1), (1, 1, 1), 1, (4, 11, 9)),     # R(2+1)D spatial
    (12, 20, (3, 1, 1), (2, 1, 1), (1, 0, 0), (1, 1, 1), 1, (7, 6, 5)),     # R(2+1)D temporal, strided
    (16, 16, (3, 3, 3), (1, 1, 1), (2, 2, 2), (2, 2, 2), 16, (6, 8, 8)),    # depthwise, dilated (CSN / X3D)
    (6, 9, (3, 5, 5), (2, 2, 2), (1, 2, 2), (1, 1, 1), 3, (5, 9, 7)),       # grouped, every axis strided
    (24, 40, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, (1, 12, 12)),   # a one-frame clip (Winograd size)
    (5, 7, (2, 1, 1), (1, 1, 1), (0, 0, 0), (3, 1, 1), 1, (4, 3, 3)),       # temporal dilation, no padding
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%d_%d_k%s_s%s_g%d_%s" % (
    c[0], c[1], "".join(map(str, c[2])), "".join(map(str, c[3])), c[6], "x".join(map(str, c[7]))))
def test_conv3d_matches_numpy(isa, case):
    cin, cout, k, s, p, d, g, thw = case
    rng = np.random.default_rng(cin * 7 + cout)
    w = rng.normal(0, 0.3, (cout, cin // g) + k).astype(np.float32)
    b = rng.normal(0, 0.2, cout).astype(np.float32)
    graph = Graph([TensorSpec("x", (None, cin) + thw)], [TensorSpec("y", (None, cout, None, None, None))],
                  [Node("c", "conv3d", ["x", "w", "b"], ["y"], {"stride": list(s), "padding": list(p) * 2,
                                                               "dilation": list(d), "groups": g, "act": ["relu"]})],
                  {"w": w, "b": b})
    m = fastnorm.Model(graph, optimize=False)
    for n in (1, 3):
        x = rng.normal(0, 1, (n, cin) + thw).astype(np.float32)
        got = m.predict(x)
        want = np.maximum(_conv3d_ref(x, w, b, s, p, d, g), 0)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max()), (case, n)
        assert_ran(isa)


class _R2Plus1D(nn.Module):
    """A small R(2+1)D: (1, 3, 3) and (3, 1, 1) convs with BatchNorm3d, a residual block with a full
    3x3x3 conv, a 3-D pool, a global pool and a linear head."""

    def __init__(self, pool):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 10, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False), nn.BatchNorm3d(10),
                                  nn.ReLU(), nn.Conv3d(10, 24, (3, 1, 1), padding=(1, 0, 0), bias=False),
                                  nn.BatchNorm3d(24), nn.ReLU())
        self.pool = pool
        self.block = nn.Sequential(nn.Conv3d(24, 24, 3, padding=1, bias=False), nn.BatchNorm3d(24), nn.ReLU(),
                                   nn.Conv3d(24, 24, 3, padding=1, groups=24, bias=False), nn.BatchNorm3d(24))
        self.gap = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(24, 7)

    def forward(self, x):
        y = self.pool(self.stem(x))
        y = torch.relu(y + self.block(y))
        return self.head(torch.flatten(self.gap(y), 1))


POOLS = {
    "max_133": lambda: nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
    "max_333_ceil": lambda: nn.MaxPool3d(3, 2, 1, ceil_mode=True),
    "avg_233_nopad": lambda: nn.AvgPool3d((2, 3, 3), 2, (0, 1, 1), count_include_pad=False),
    "avg_2": lambda: nn.AvgPool3d(2),
}


def _net(pool):
    torch.manual_seed(0)
    net = _R2Plus1D(POOLS[pool]()).eval()
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.3, 0.3)
    return net


@pytest.mark.parametrize("pool", sorted(POOLS))
@pytest.mark.parametrize("route", ["export", "fx", "onnx"])
def test_r2plus1d_matches_torch(isa, route, pool):
    net = _net(pool)
    x = torch.randn(3, 3, 5, 16, 18)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if route == "onnx":
            importorskip("onnx")
            buf = io.BytesIO()
            torch.onnx.export(net, (x[:1],), buf, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
            m = fastnorm.from_onnx(buf.getvalue())
        else:
            m = fastnorm.from_torch(net, x[:1], route=route)
    assert m.inputs[0].shape[0] is None
    ops = [nd.op for nd in m.graph.nodes]
    assert "batch_norm" not in ops and ops.count("conv3d") == 4   # every BatchNorm3d folded
    for n in (1, 3):
        with torch.no_grad():
            want = net(x[:n]).numpy()
        got = m.predict(x[:n].numpy())
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max()), (route, pool, n)
    assert_ran(isa)


def test_conv3d_prepacked_file_round_trip(tmp_path):
    """Saved with prepacked weights and loaded again: the same answer (the per-tap packings are made
    at load; the file keeps the 5-D weight)."""
    net = _net("max_133")
    x = torch.randn(2, 3, 5, 16, 18)
    m = fastnorm.from_torch(net, x[:1])
    path = str(tmp_path / "r2p1d.fnm")
    m.save(path, prepacked=True)
    got = fastnorm.load(path).predict(x.numpy())
    assert np.array_equal(got, m.predict(x.numpy()))
