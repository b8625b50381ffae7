"""A gated or pre-activated 1x1 conv on a small input applies its gate / pre-activation to the whole
input once, into scratch, and runs ungated in panel-major order with the next-panel prefetch
(src_c/conv/conv2d.c, whole_copy_bytes); a larger batch (input past panel_major's budget) still takes
the per-tile row copies. Each sample is the same bits on either path: the same product, or the same
scale/shift call per row. Shapes of MobileNetV3-Large's SE projection and DenseNet-121's bottleneck."""
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
