"""silu fused into the depthwise row kernels (src_c/conv/dwconv_simd.h, DW_SILU_TILE on AVX2): a band
tile stores its sums and applies silu in a second pass, a slide output in registers; fn_silu_fast
without its clamp when no lane of the tile's (output's) vectors has |s| > 87, else fn_silu vector by
vector. Either way every lane must carry the bits
of the separate act kernel on the unfused output, under every ISA: tiles with one lane past +-87,
exactly +-87, NaN, +-inf, denormal results, masked channel tails and a residual."""
import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from fastnorm.ops._common import ACT_NONE
from test_dwconv import run_nhwc

SILU = (_C.ACT_ACTK0 + _C.ACTK_SILU, 0.0, 0.0)


def unfused(isa, x, wt, b, s, pads, res):
    y = run_nhwc(isa, x, wt, b, s, pads, (1, 1), res, ACT_NONE)
    return fastnorm.ops.silu(np.ascontiguousarray(y))


# (n, c, h, w, kernel, stride, pads): band tiles (stride 1, rows of 8+ outputs), the rest slides
SHAPES = [
    (1, 16, 3, 24, (3, 3), 1, (1, 1, 1, 1)),   # three full tiles, both ends clipped
    (2, 20, 4, 19, (3, 3), 1, (1, 1, 1, 1)),   # a masked tail of 4 channels, 3 outputs slide
    (1, 33, 3, 17, (5, 5), 1, (2, 2, 2, 2)),   # 5x5, a masked tail of 1
    (1, 8, 2, 16, (7, 7), 1, (3, 3, 3, 3)),    # 7x7
    (1, 40, 5, 7, (5, 5), 1, (2, 2, 2, 2)),    # a row narrower than a tile: all slide, 2 vectors + 1
    (2, 36, 6, 21, (3, 3), 2, (1, 1, 1, 1)),   # stride 2 slides: pairs of vectors, a masked tail
    (1, 16, 7, 15, (5, 5), 2, (2, 2, 2, 2)),   # 5x5 stride 2
]
SPECIAL = [87.0, -87.0, 87.00001, -87.00001, 86.99999, -86.99999, -95.0, -100.0, 200.0, -200.0,
           float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-30, -1e-30]


@pytest.mark.parametrize("shape", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
@pytest.mark.parametrize("weights", ["zero", "small"])
def test_band_tile_silu_is_the_act_kernel(isa, shape, weights):
    """Zero weights and bias make the pre-activations the residual itself (exact special values);
    small ones add a little of the input on top. Special values are sprinkled sparsely, so some
    tiles take the fast path and others (with one such lane) the careful one."""
    n, c, h, w, k, st, pads = shape
    rng = np.random.default_rng(c * 31 + h)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    scale = 0.0 if weights == "zero" else 1e-3
    wt = (rng.standard_normal((c, 1) + k) * scale).astype(np.float32)
    b = (rng.standard_normal(c) * scale).astype(np.float32)
    oh = _C.conv_out_extent(h, k[0], st, 1, pads[0], pads[2])
    ow = _C.conv_out_extent(w, k[1], st, 1, pads[1], pads[3])
    res = (rng.standard_normal((n, c, oh, ow)) * 4).astype(np.float32)
    flat = res.reshape(-1)
    idx = rng.choice(flat.size, size=min(flat.size // 12, 4 * len(SPECIAL)), replace=False)
    flat[idx] = np.resize(np.array(SPECIAL, np.float32), idx.size)
    res[0, :, 0, :8] *= 30.0  # a whole tile of large values, many past +-87
    got = run_nhwc(isa, x, wt, b, (st, st), pads, (1, 1), res, SILU)
    want = unfused(isa, x, wt, b, (st, st), pads, res)
    np.testing.assert_array_equal(got, want)
    if weights == "zero":
        assert (np.isnan(got) == np.isnan(res)).all()


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_band_tile_silu_without_residual(isa, scale):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((1, 24, 6, 33)) * scale).astype(np.float32)
    wt = rng.standard_normal((24, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    got = run_nhwc(isa, x, wt, b, (1, 1), (1, 1, 1, 1), (1, 1), None, SILU)
    np.testing.assert_array_equal(got, unfused(isa, x, wt, b, (1, 1), (1, 1, 1, 1), None))
