"""A gated or pre-activated 1x1 conv on a small input applies its gate / pre-activation to the whole
input once, into scratch, and runs ungated in panel-major order with the next-panel prefetch
(src_c/conv/conv2d.c, whole_copy_bytes); a larger batch (input past panel_major's budget) takes the
dense-rows kernel's per-chunk copies (dense_run; tests/test_conv_dense_xform.py). Each sample is the
same bits on either path: the same product, or the same scale/shift call per row. Shapes of MobileNetV3-Large's SE projection and DenseNet-121's bottleneck."""
import numpy as np
import pytest

import fastnorm
from test_conv_preact import PreAct
from test_se_gate import SEThenConv
from util import importorskip

torch = importorskip("torch")


def _net(kind):
    torch.manual_seed(5)
    if kind == "gate":
        return SEThenConv(960, 160, 40, residual=False).eval(), 960
    return PreAct(1024, 128).eval(), 1024


@pytest.mark.parametrize("kind", ["gate", "pre"])
def test_whole_copy_sample_is_the_per_tile_bits(isa, kind):
    net, c = _net(kind)
    # batch 8 at 7x7: 8 * 49 * c floats (1.5-1.6 MB) is past the whole copy's 1 MiB; batch 1 is under
    x = torch.randn(8, c, 7, 7, generator=torch.Generator().manual_seed(6))
    m = fastnorm.from_torch(net, x)
    whole = m.predict(x.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(whole, net(x).numpy(), rtol=1e-4, atol=1e-4)
    for i in (0, 7):
        np.testing.assert_array_equal(whole[i:i + 1], m.predict(x[i:i + 1].numpy()))


@pytest.mark.parametrize("cin", [96, 672])   # the dense kernel (cin <= 160) and the indirect driver
@pytest.mark.parametrize("pixels", [(7, 7), (1, 13), (5, 5)])
def test_split_tail_rows_are_their_own_bits(isa, cin, pixels):
    """M % MR == 1 (49 = 8*6 + 1 on AVX2): the last whole tile and the row run as two short tiles
    (conv2d.c SPLIT_TAIL). Each output row is bit for bit the same row computed in a conv of fewer
    rows (no split) or alone, and matches NumPy."""
    from fastnorm import _C
    i = _C.ISA_NAMES.index(isa)
    rng = np.random.default_rng(7)
    h, w = pixels
    cout = 40
    desc = (cin, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    wt = (rng.standard_normal((cout, cin, 1, 1)) * 0.05).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    packed = _C.conv2d_pack(i, desc, wt, b)
    x = rng.standard_normal((1, h, w, cin)).astype(np.float32)
    res = rng.standard_normal((1, h, w, cout)).astype(np.float32)
    m = h * w
    y = np.empty((1, h, w, cout), np.float32)
    _C.conv2d_nhwc(i, desc, x, packed, res, (0, 0.0, 0.0), y, 1)
    y = y.reshape(m, cout)
    xs, rs = x.reshape(1, 1, m, cin), res.reshape(1, 1, m, cout)
    for lo, hi in ((0, m - 1), (m - 7, m), (m - 1, m), (m - 4, m)):
        if lo < 0:
            continue
        part = np.empty((1, 1, hi - lo, cout), np.float32)
        _C.conv2d_nhwc(i, desc, np.ascontiguousarray(xs[:, :, lo:hi]), packed,
                       np.ascontiguousarray(rs[:, :, lo:hi]), (0, 0.0, 0.0), part, 1)
        np.testing.assert_array_equal(part.reshape(-1, cout), y[lo:hi])
    want = x.reshape(m, cin).astype(np.float64) @ wt.reshape(cout, cin).T.astype(np.float64)
    np.testing.assert_allclose(y, want + b + res.reshape(m, cout), rtol=1e-4, atol=1e-4)
