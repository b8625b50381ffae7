"""Taps that fall wholly in the zero padding for a tile are left out of the GEMM (src_c/conv/conv2d.c
drop_padding_taps, fn_igemm_taps_ukernel): a dilated conv on a small map (DeepLab's ASPP) has most of
its taps there. Leaving them out must change no output: each case is checked against NumPy, against
torch, and bit for bit against the same conv on an input padded with zeros explicitly (where every tap
reads real rows, so nothing is dropped)."""
import numpy as np
import pytest

import fastnorm
import fastnorm.ops as F
import reference as R
from util import assert_ran

# (n, cin, h, w, cout, k, dilation, padding, groups)
CASES = [
    (1, 19, 32, 32, 21, 3, 18, 18, 1),    # ASPP at output stride 8: 61% of the taps in padding
    (2, 16, 32, 32, 16, 3, 12, 12, 1),
    (1, 7, 9, 11, 13, 3, 6, 6, 1),
    (1, 5, 5, 5, 3, 3, 4, 4, 1),          # every off-centre tap in padding
    (1, 3, 1, 1, 5, 3, 2, 2, 1),          # a 1x1 map: only the centre tap is real
    (2, 17, 6, 14, 33, 3, 2, 2, 1),
    (1, 12, 8, 8, 12, 3, 1, 1, 1),        # an ordinary 3x3: the border rows' tiles drop 3 taps
    (1, 9, 7, 7, 10, 5, 3, 6, 1),         # 5x5, padding wider than the reach
    (1, 24, 10, 10, 24, 3, 5, 5, 4),      # grouped
    (1, 6, 12, 9, 8, 3, 4, (4, 2), 1),    # a different padding on each axis
]


def _case(rng, n, cin, h, w, cout, k, groups):
    x = rng.normal(0, 1, (n, cin, h, w)).astype(np.float32)
    wt = rng.normal(0, 0.3, (cout, cin // groups, k, k)).astype(np.float32)
    b = rng.normal(0, 0.5, cout).astype(np.float32)
    return x, wt, b


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n%d-c%d-%dx%d-co%d-k%d-d%d-p%s-g%d" % (
    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]))
def test_padding_taps_left_out_change_nothing(case, isa):
    n, cin, h, w, cout, k, dil, pad, groups = case
    rng = np.random.default_rng(sum(case[:7]))
    x, wt, b = _case(rng, n, cin, h, w, cout, k, groups)
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    got = F.conv2d(x, wt, b, padding=(ph, pw), dilation=dil, groups=groups)
    assert_ran(isa)
    want = R.conv2d(x, wt, b, 1, (ph, pw), dil, groups)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    explicit = F.conv2d(xp, wt, b, padding=0, dilation=dil, groups=groups)
    assert np.array_equal(got.view(np.uint32), explicit.view(np.uint32))


def test_padding_taps_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for n, cin, h, w, cout, k, dil, pad, groups in CASES:
        x, wt, b = _case(rng, n, cin, h, w, cout, k, groups)
        got = F.conv2d(x, wt, b, padding=pad, dilation=dil, groups=groups)
        with torch.no_grad():
            want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b),
                                              padding=pad, dilation=dil, groups=groups).numpy()
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), (n, cin, h, w, cout, k, dil)


def test_aspp_model_with_residual_and_act(isa):
    """Dilated convs inside a model (fused relu and residual add in the epilogue), at two thread counts:
    the same bits either way, and NumPy's answer."""
    from fastnorm.graph import Graph, Node, TensorSpec
    rng = np.random.default_rng(9)
    c = 20
    w = {}
    nodes = []
    outs = []
    for i, d in enumerate((6, 12, 18)):
        w["w%d" % i] = rng.normal(0, 0.2, (c, c, 3, 3)).astype(np.float32)
        w["b%d" % i] = rng.normal(0, 0.2, c).astype(np.float32)
        nodes.append(Node("c%d" % i, "conv2d", ["x", "w%d" % i, "b%d" % i], ["y%d" % i],
                          {"stride": [1, 1], "padding": [d, d, d, d], "dilation": [d, d], "groups": 1}))
        outs.append("y%d" % i)
    nodes.append(Node("a0", "add", ["y0", "y1"], ["s0"]))
    nodes.append(Node("a1", "add", ["s0", "y2"], ["s1"]))
    nodes.append(Node("r", "relu", ["s1"], ["out"]))
    g = Graph([TensorSpec("x", (None, c, 24, 24))], [TensorSpec("out", (None, c, 24, 24))], nodes, w)
    x = rng.normal(0, 1, (2, c, 24, 24)).astype(np.float32)
    m = fastnorm.Model(g)
    m.num_threads = 1
    y1 = m.predict(x)
    assert_ran(isa)
    m.num_threads = 2
    y2 = m.predict(x)
    assert np.array_equal(y1.view(np.uint32), y2.view(np.uint32))
    want = sum(R.conv2d(x, w["w%d" % i], w["b%d" % i], 1, d, d, 1) for i, d in enumerate((6, 12, 18)))
    want = np.maximum(want, 0)
    assert np.abs(y1 - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
