"""Dilated 3x3 convs as their phases (fastnorm/plan/lower_conv.py _phases): a conv with dilation (dh, dw)
runs as dh * dw undilated convs, one per phase of rows and columns, batched into one Winograd record
between two strided copies (sides the dilation does not divide zero-extended first, the extra outputs
cropped) (space-to-batch, as
TensorFlow's atrous conv). Checked against NumPy (float64) and torch, under every ISA, with the fused
epilogues (clamp, silu, the residual add gathered into phases too), at one and two threads (the same
bits), and the plan shape: which convs take the path and which keep the direct kernel."""
import numpy as np
import pytest

import reference as R
from util import assert_ran, importorskip

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec

# (cin, cout, (dh, dw), (H, W), padding (top, left, bottom, right), residual, act, takes the phase path)
CASES = [
    (32, 32, (2, 2), (16, 16), (2, 2, 2, 2), False, None, True),          # DeepLab / PSPNet "same" padding
    (64, 48, (4, 4), (32, 32), (4, 4, 4, 4), True, ["relu"], True),     # dilated ResNet basic block
    (32, 32, (2, 4), (8, 16), (2, 4, 2, 4), False, ["silu"], True),     # unequal dilations
    (24, 40, (3, 3), (12, 18), (0, 3, 6, 0), False, ["clamp", 0.0, 6.0], True),   # uneven padding
    (20, 20, (2, 2), (10, 10), (0, 0, 0, 0), True, None, True),         # no padding: a smaller output
    (32, 32, (2, 2), (15, 16), (2, 2, 2, 2), False, None, True),        # H not a multiple: zero-extended
    (32, 24, (2, 2), (17, 13), (2, 2, 2, 2), True, ["relu"], True),     # neither side; the residual too
    (24, 32, (2, 2), (33, 33), (2, 2, 2, 2), True, None, True),         # DeepLab's 513 input at OS16
    (16, 16, (3, 2), (23, 15), (3, 0, 3, 2), False, ["silu"], True),    # uneven everything
    (32, 32, (4, 4), (9, 9), (4, 4, 4, 4), False, None, False),         # too few useful outputs per tile
    (32, 32, (2, 2), (16, 16), (1, 1, 1, 1), False, None, False),       # padding not a multiple
    (8, 32, (2, 2), (16, 16), (2, 2, 2, 2), False, None, False),        # too few channels for Winograd
]


def _graph(cin, cout, dil, hw, pad, residual, act, rng):
    w = {"w": rng.normal(0, 0.3, (cout, cin, 3, 3)).astype(np.float32),
         "b": rng.normal(0, 0.2, cout).astype(np.float32)}
    attrs = {"stride": [1, 1], "padding": list(pad), "dilation": list(dil), "groups": 1}
    if act is not None:
        attrs["act"] = act
    oh = hw[0] + pad[0] + pad[2] - 2 * dil[0]
    ow = hw[1] + pad[1] + pad[3] - 2 * dil[1]
    ins = ["x", "w", "b"]
    inputs = [TensorSpec("x", (None, cin) + tuple(hw))]
    if residual:
        ins.append("r")
        attrs["residual"] = True
        inputs.append(TensorSpec("r", (None, cout, oh, ow)))
    g = Graph(inputs, [TensorSpec("y", (None, cout, oh, ow))], [Node("c", "conv2d", ins, ["y"], attrs)], w)
    return g, w, (oh, ow)


def _want(x, w, pad, dil, r, act):
    y = R.conv2d(x, w["w"], w["b"], 1, tuple(pad), dil, 1)
    if r is not None:
        y = y + r
    if act is None:
        return y
    if act[0] == "relu":
        return np.maximum(y, 0)
    if act[0] == "silu":
        return y / (1 + np.exp(-y))
    return np.clip(y, act[1], act[2])


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%dx%d_d%s_%s_p%s%s%s" % (
    c[0], c[1], "x".join(map(str, c[2])), "x".join(map(str, c[3])), "".join(map(str, c[4])),
    "_res" if c[5] else "", "_" + c[6][0] if c[6] else ""))
def test_dilated_conv_phases_match_numpy(isa, case):
    cin, cout, dil, hw, pad, residual, act, phased = case
    rng = np.random.default_rng(cin + 7 * cout + hw[0])
    g, w, (oh, ow) = _graph(cin, cout, dil, hw, pad, residual, act, rng)
    m = fastnorm.Model(g, optimize=False)
    for n in (1, 3):
        x = rng.normal(0, 1, (n, cin) + tuple(hw)).astype(np.float32)
        feeds = {"x": x}
        r = None
        if residual:
            r = feeds["r"] = rng.normal(0, 1, (n, cout, oh, ow)).astype(np.float32)
        m.num_threads = 1
        y1 = m.run(feeds)["y"]
        assert_ran(isa)
        m.num_threads = 2
        y2 = m.run(feeds)["y"]
        assert np.array_equal(y1.view(np.uint32), y2.view(np.uint32))
        want = _want(x, w, pad, dil, r, act)
        # Winograd F(4x4, 3x3) on unit-scale data: bench/_check.py's WINOGRAD bound
        assert np.abs(y1 - want).max() <= 1e-4 * max(1.0, np.abs(want).max()), (case, n)
    plan = m._plan({k: v.shape for k, v in feeds.items()})
    from fastnorm import _C
    wino = {_C.OP_WINOGRAD3X3, _C.OP_WINOGRAD2X3}
    assert any(rec["type"] in wino for rec in plan.records) == phased, [rec["type"] for rec in plan.records]


def test_dilated_phases_toggle_and_torch(monkeypatch):
    """FASTNORM_DILATED_PHASES=0 keeps the direct kernel: the two agree within Winograd's bound, and
    both match torch's dilated conv."""
    torch = importorskip("torch")
    rng = np.random.default_rng(5)
    g, w, _ = _graph(48, 48, (2, 2), (16, 16), (2, 2, 2, 2), False, ["relu"], rng)
    x = rng.normal(0, 1, (2, 48, 16, 16)).astype(np.float32)
    from fastnorm import _C

    def run():
        m = fastnorm.Model(g, optimize=False)
        y = m.predict(x)
        return y, {rec["type"] for rec in m._plan({"x": x.shape}).records}

    y_phase, types_phase = run()
    monkeypatch.setenv("FASTNORM_DILATED_PHASES", "0")
    y_direct, types_direct = run()
    assert _C.OP_WINOGRAD3X3 in types_phase and _C.OP_WINOGRAD3X3 not in types_direct
    want = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w["w"]),
                                                 torch.from_numpy(w["b"]), padding=2, dilation=2)).numpy()
    scale = max(1.0, np.abs(want).max())
    assert np.abs(y_direct - want).max() <= 1e-5 * scale
    assert np.abs(y_phase - want).max() <= 1e-4 * scale
    assert not np.array_equal(y_phase, y_direct)   # the paths differ (Winograd rounding), so both ran
