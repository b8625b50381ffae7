"""Winograd F(2x2, 5x5) (src_c/conv/winograd*.c with a 5x5 desc) vs the float64 reference and torch,
under every ISA: odd sizes, images smaller than a tile, every padding 0..4, small and odd channel
counts, batch 1 and 3, bias, relu / relu6, residual (also in place); the plan's use of it (op 23
with a 5x5 desc) on an Inception-like block whose branches write a channel concat (ldy), and its
thresholds. Larger shapes, torch and threads: test_winograd.py's cases with k = 5."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import util
from util import importorskip
from fastnorm import _C
from fastnorm.graph import act_tuple
from fastnorm.ops._common import ACT_NONE

from test_winograd import RELU, assert_wino_close, check_reference, reference_conv, to_nchw, to_nhwc, winograd
from test_winograd import case as _case, desc_of as _desc_of, out_hw as _out_hw

# The bound is test_winograd's (tile_mag there is per kernel size: an output's error follows its
# 2x2 tile's whole 6x6 input window times all 25 taps). Measured worst |err| / tile_mag: 4.5e-7 over
# 300 random cases per ISA (cin, cout 1..64, sizes 1..15, padding 0..4, batch 1..3); a wrong tap is O(1).
RELU6 = act_tuple(["clamp", 0.0, 6.0])
K = 5


def desc_of(cin, cout, pads):
    return _desc_of(cin, cout, pads, K)


def out_hw(h, w, pads):
    return _out_hw(h, w, pads, K)


def case(rng, n, cin, cout, h, w, bias=True):
    return _case(rng, n, cin, cout, h, w, bias, K)


CHANNELS = [1, 3, 16, 17, 33, 48, 64]
SIZES = [1, 2, 3, 4, 5, 6, 7, 9, 11, 15]
ACTS = [ACT_NONE, RELU, RELU6]


@settings(max_examples=int(__import__("os").environ.get("WINO_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cin=st.sampled_from(CHANNELS), cout=st.sampled_from(CHANNELS), h=st.sampled_from(SIZES),
       w=st.sampled_from(SIZES), pads=st.tuples(*[st.integers(0, 4)] * 4), n=st.sampled_from([1, 3]),
       bias=st.booleans(), act=st.sampled_from([0, 1, 2]), residual=st.booleans(),
       seed=st.integers(0, 2**16))
def test_winograd5_matches_reference(isa, cin, cout, h, w, pads, n, bias, act, residual, seed):
    check_reference(isa, seed, n, cin, cout, h, w, pads, bias, ACTS[act], residual, K)


# (pad, (h, w)) pairs with at least one output pixel: a 5x5 window needs h + 2 pad >= 5
SMALL_IMAGES = [(pad, hw) for pad in range(5) for hw in [(1, 1), (3, 2), (5, 5), (6, 7)]
                if min(hw) + 2 * pad >= K]


@pytest.mark.parametrize("pad,hw", SMALL_IMAGES)
def test_winograd5_every_padding_small_images(isa, pad, hw):
    """Images as small as one pixel, smaller than a tile's 6x6 window, under every padding 0..4."""
    h, w = hw
    pads = (pad,) * 4
    oh, ow = out_hw(h, w, pads)
    assert oh >= 1 and ow >= 1
    rng = np.random.default_rng(pad * 10 + h)
    x, wt, b = case(rng, 3, 5, 19, h, w)
    got = winograd(x, wt, b, pads, RELU)
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, pads)
    assert_wino_close(got, np.maximum(want, 0), mag)


def test_winograd5_residual_may_be_the_output(isa):
    rng = np.random.default_rng(3)
    x, wt, b = case(rng, 1, 16, 20, 9, 9)
    pads = (2, 2, 2, 2)
    desc = desc_of(16, 20, pads)
    packed = _C.winograd3x3_pack(-1, desc, wt, b)
    res = rng.standard_normal((1, 9, 9, 20)).astype(np.float32)
    y = res.copy()
    _C.winograd3x3_nhwc(-1, desc, to_nhwc(x), packed, y, ACT_NONE, y, 1)  # in place: y += conv
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, pads, to_nchw(res))
    assert_wino_close(to_nchw(y), want, mag)


def test_winograd5_bad_arguments():
    wt = np.zeros((8, 4, 5, 5), np.float32)
    with pytest.raises(ValueError, match="stride 1"):   # 5x3: not square
        _C.winograd3x3_pack(-1, (4, 8, 1, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1), wt, None)
    with pytest.raises(ValueError, match="stride 1"):   # 7x7
        _C.winograd3x3_pack(-1, (4, 8, 1, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1), wt, None)
    with pytest.raises(ValueError, match="expected shape"):  # 3x3 weights for a 5x5 desc
        _C.winograd3x3_pack(-1, desc_of(4, 8, (2, 2, 2, 2)), np.zeros((8, 4, 3, 3), np.float32), None)


# ------------------------------------------------------------------------------------------ plan
def _inception_like(torch):
    """Inception-v3's InceptionA shape: 1x1, 1x1 -> 5x5, 1x1 -> 3x3 -> 3x3 branches into a concat (the
    convs write their blocks of the concat's buffer in place: ldy), and a 5x5 with a residual."""
    import torch.nn as nn
    from models import conv_bn_relu, realistic_bn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = conv_bn_relu(3, 32, 1, 0)
            self.b1 = conv_bn_relu(32, 24, 1, 0)
            self.b5 = nn.Sequential(conv_bn_relu(32, 20, 1, 0), conv_bn_relu(20, 36, 5, 2))
            self.b3 = nn.Sequential(conv_bn_relu(32, 16, 1, 0), conv_bn_relu(16, 24, 3, 1),
                                    conv_bn_relu(24, 24, 3, 1))
            self.res = nn.Conv2d(84, 84, 5, padding=2)

        def forward(self, x):
            x = self.stem(x)
            y = torch.cat([self.b1(x), self.b5(x), self.b3(x)], 1)
            return torch.nn.functional.relu6(self.res(y) + y)

    torch.manual_seed(0)
    return realistic_bn(Net())


def _winograd_records(model, shape, k=None):
    from fastnorm._C import OP_WINOGRAD3X3
    plan = model._plan({model.graph.inputs[0].name: tuple(shape)})
    return [r for r in plan.records if r["type"] == OP_WINOGRAD3X3 and (k is None or r["conv"][3] == k)]


def test_plan_inception_block_matches_torch(isa, monkeypatch):
    torch = importorskip("torch")
    import fastnorm
    net = _inception_like(torch)
    x = np.maximum(np.random.default_rng(1).standard_normal((3, 3, 17, 17)), 0).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    m = fastnorm.from_torch(net, torch.randn(1, 3, 17, 17))
    y = m.predict(x)
    util.assert_ran(isa)
    w5 = _winograd_records(m, x.shape, 5)
    assert len(w5) == 2
    assert [r.get("ldy") for r in w5] == [84, None]       # the branch's block of the concat, in place
    assert w5[1].get("in2", -1) >= 0                       # the 5x5 with the fused residual
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(y - ref).max() <= util.ATOL_MODEL * scale, np.abs(y - ref).max()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "0")
    m0 = fastnorm.from_torch(net, torch.randn(1, 3, 17, 17))
    assert _winograd_records(m0, x.shape) == []
    assert np.abs(m0.predict(x) - ref).max() <= util.ATOL_MODEL * scale


def test_plan_5x5_thresholds(monkeypatch):
    """Below the measured thresholds (cin < 16, one 2x2 tile, tiles mostly padding) 5x5 stays direct;
    stride 2 and depthwise 5x5 never take it."""
    torch = importorskip("torch")
    import fastnorm
    import torch.nn as nn
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 8, 5, padding=2), nn.Conv2d(8, 32, 5, padding=2),
                        nn.Conv2d(32, 32, 5, padding=2), nn.Conv2d(32, 32, 5, padding=2, groups=32),
                        nn.Conv2d(32, 32, 5, stride=2, padding=2)).eval()
    big = fastnorm.from_torch(net, torch.randn(1, 8, 16, 16))
    assert len(_winograd_records(big, (1, 8, 16, 16), 5)) == 1    # only the 32 -> 32 conv
    for hw in (2, 3):   # one tile; four tiles keeping 9 of 16 outputs
        small = fastnorm.from_torch(net, torch.randn(1, 8, hw, hw))
        assert _winograd_records(small, (1, 8, hw, hw)) == []
