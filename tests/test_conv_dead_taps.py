"""Convs whose kernel taps read only padding at the input size of a plan (fastnorm/plan/lower_conv.py
_live_taps): the plan runs the conv with the live taps alone (the kernel cropped, the padding reduced by
the taps dropped), e.g. DeepLab's ASPP at rate 36 on a 32x32 map is a 1x1 conv, a 7x7 depthwise conv on
a 2x2 map a 3x3 one. Checked against NumPy (float64) and torch on dilated, strided, depthwise, grouped
and asymmetric-padding convs, every ISA, batch 1 and 3; the plan's conv records show the cropped kernel;
FASTNORM_DEAD_TAPS=0 keeps every tap and gives the same answer; one model serves two input sizes, one
cropped and one not, each right (their packings are kept apart)."""
import numpy as np
import pytest

import reference as R
from util import assert_ran, importorskip

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.plan.lower_conv import _live_axis

# (cin, cout, groups, k (kh, kw), stride, dilation, padding (t, l, b, r), (H, W), the kernel the plan runs)
CASES = [
    (32, 24, 1, (3, 3), (1, 1), (36, 36), (36, 36, 36, 36), (32, 32), (1, 1)),   # ASPP rate 36
    (32, 24, 1, (3, 3), (1, 1), (24, 24), (24, 24, 24, 24), (20, 30), (1, 3)),   # rows dead, columns live
    (16, 16, 16, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3), (2, 2), (3, 3)),          # depthwise 7x7 on 2x2
    (16, 16, 16, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3), (1, 1), (1, 1)),          # depthwise on 1x1
    (20, 12, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), (1, 1), (1, 1)),           # 3x3 on a pooled 1x1
    (20, 12, 1, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (1, 2), (1, 2)),           # strided: top row and left column dead
    (24, 24, 3, (5, 5), (1, 1), (2, 2), (4, 4, 4, 4), (3, 4), (3, 3)),           # grouped, dilated
    (12, 8, 1, (3, 5), (1, 1), (3, 1), (3, 2, 3, 2), (2, 9), (1, 5)),            # a 1-D-like band
    (12, 8, 1, (3, 3), (1, 1), (2, 2), (0, 2, 4, 2), (2, 6), (1, 3)),            # asymmetric padding: rows 1-2 dead
    (16, 16, 1, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), (8, 8), (3, 3)),           # every tap live
]


def _graph(c, rng):
    cin, cout, g, k, s, d, pad, hw, _ = c
    w = {"w": rng.normal(0, 0.3, (cout, cin // g) + k).astype(np.float32),
         "b": rng.normal(0, 0.2, cout).astype(np.float32)}
    attrs = {"stride": list(s), "padding": list(pad), "dilation": list(d), "groups": g, "act": ["relu"]}
    oh = (hw[0] + pad[0] + pad[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (hw[1] + pad[1] + pad[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    graph = Graph([TensorSpec("x", (None, cin, None, None))], [TensorSpec("y", (None, cout, None, None))],
                  [Node("c", "conv2d", ["x", "w", "b"], ["y"], attrs)], w)
    return graph, w, (oh, ow)


def _kernels(m, shape):
    name = m.graph.inputs[0].name
    return [(rec["conv"][3], rec["conv"][4]) for rec in m._plan({name: shape}).records if "conv" in rec]


def _expected_kernel(c):
    """The live taps' extent by brute force: tap t of an axis is live if some output reads an input
    position through it."""
    cin, cout, g, k, s, d, pad, hw, _ = c
    ext = []
    for ax in (0, 1):
        out = (hw[ax] + pad[ax] + pad[ax + 2] - d[ax] * (k[ax] - 1) - 1) // s[ax] + 1
        live = [t for t in range(k[ax]) if any(0 <= o * s[ax] - pad[ax] + t * d[ax] < hw[ax] for o in range(out))]
        ext.append(live[-1] - live[0] + 1)
    return tuple(ext)


def _want(x, w, c):
    cin, cout, g, k, s, d, pad, hw, _ = c
    return np.maximum(R.conv2d(x, w["w"], w["b"], s, tuple(pad), d, g), 0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%dx%d_g%d_k%dx%d_s%d_d%dx%d_%dx%d" % (
    c[0], c[1], c[2], c[3][0], c[3][1], c[4][0], c[5][0], c[5][1], c[7][0], c[7][1]))
def test_dead_taps_match_numpy(isa, case):
    rng = np.random.default_rng(sum(case[7]) + case[0])
    g, w, _ = _graph(case, rng)
    m = fastnorm.Model(g, optimize=False)
    for n in (1, 3):
        x = rng.normal(0, 1, (n, case[0]) + case[7]).astype(np.float32)
        y = m.predict(x)
        assert_ran(isa)
        want = _want(x, w, case)
        assert y.shape == want.shape
        assert np.abs(y - want).max() <= 2e-5 * max(1.0, np.abs(want).max()), (case, n)
        kernels = _kernels(m, x.shape)
        assert case[8] == _expected_kernel(case)
        assert kernels and all(k == case[8] for k in kernels), kernels


def test_dead_taps_toggle_torch_and_two_sizes(monkeypatch):
    """One model at 32x32 (rate 36: the 1x1 centre tap) and 96x96 (every tap live): both match torch,
    in either order, and FASTNORM_DEAD_TAPS=0 runs the whole kernel with the same answer."""
    torch = importorskip("torch")
    rng = np.random.default_rng(3)
    case = CASES[0]
    g, w, _ = _graph(case, rng)

    def ref(x):
        return torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w["w"]),
                                                     torch.from_numpy(w["b"]), padding=36, dilation=36)).numpy()

    small = rng.normal(0, 1, (2, 32, 32, 32)).astype(np.float32)
    large = rng.normal(0, 1, (1, 32, 96, 96)).astype(np.float32)
    for order in ((small, large), (large, small)):
        m = fastnorm.Model(g, optimize=False)
        for x in order + order:
            want = ref(x)
            assert np.abs(m.predict(x) - want).max() <= 2e-5 * max(1.0, np.abs(want).max())
        assert set(_kernels(m, small.shape)) == {(1, 1)} and set(_kernels(m, large.shape)) == {(3, 3)}
    y_crop = fastnorm.Model(g, optimize=False).predict(small)
    monkeypatch.setenv("FASTNORM_DEAD_TAPS", "0")
    m = fastnorm.Model(g, optimize=False)
    y_all = m.predict(small)
    assert set(_kernels(m, small.shape)) == {(3, 3)}
    assert np.abs(y_all - y_crop).max() <= 2e-5 * max(1.0, np.abs(y_crop).max())


def test_dead_taps_through_torch_aspp(tmp_path):
    """An ASPP head (BN folded, rates 12 / 24 / 36 on an 8x8 map) from torch, every rate's conv cropped;
    saved with prepacked weights (the cropped packings are not stored: packed again at load) and loaded,
    the same answer."""
    torch = importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class ASPP(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.ModuleList(nn.Sequential(nn.Conv2d(16, 8, 3, padding=r, dilation=r, bias=False),
                                                 nn.BatchNorm2d(8), nn.ReLU()) for r in (12, 24, 36))

        def forward(self, x):
            return torch.cat([b(x) for b in self.b], 1)

    net = ASPP().eval()
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 16, 8, 8)
    m = fastnorm.from_torch(net, x[:1])
    with torch.no_grad():
        want = net(x).numpy()
    got = m.predict(x.numpy())
    assert np.abs(got - want).max() <= 2e-5 * max(1.0, np.abs(want).max())
    assert set(_kernels(m, tuple(x.shape))) == {(1, 1)}
    path = str(tmp_path / "aspp.fnm")
    m.save(path, prepacked=True)
    assert np.array_equal(fastnorm.load(path).predict(x.numpy()), got)


@pytest.mark.parametrize("size,out,k,stride,dil,before,after", [
    (5, 5, 3, 1, 1, 1, 1), (1, 1, 3, 1, 1, 1, 1), (32, 32, 3, 1, 36, 36, 36), (2, 1, 3, 2, 1, 1, 1),
    (4, 4, 7, 1, 1, 3, 3), (3, 2, 5, 2, 3, 6, 6), (6, 3, 3, 3, 2, 0, 4), (1, 1, 5, 1, 1, 2, 2)])
def test_live_axis_against_brute_force(size, out, k, stride, dil, before, after):
    """_live_axis's taps are exactly those that read an input position for some output, and the reduced
    padding keeps the output length."""
    live = [any(0 <= o * stride - before + t * dil < size for o in range(out)) for t in range(k)]
    r = _live_axis(size, out, k, stride, dil, before, after)
    if r is None:
        assert all(live) or not any(live) or not all(live[live.index(True):k - live[::-1].index(True)]) or (
            before - live.index(True) * dil < 0 or after - live[::-1].index(True) * dil < 0)
        return
    k0, k1, b, a = r
    assert live == [k0 <= t <= k1 for t in range(k)]
    assert (size + b + a - dil * (k1 - k0) - 1) // stride + 1 == out
