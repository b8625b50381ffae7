"""The plan's layout changes (NCHW <-> NHWC, src_c/plan/layout.c on the glue table's transpose) under
every ISA the machine has, against NumPy's transpose, bit for bit: channel counts either side of the
8 x 8 (AVX) and 4 x 4 (NEON) blocks and of the 16- and 32-channel strips, maps from 1x1 to larger than
L2, batch 1 and > 1, one and two threads; and inside a model, a map read back in NCHW."""
import numpy as np
import pytest

from util import assert_ran

from fastnorm import _C

SHAPES = [(1, 3, 224 * 224), (2, 64, 112 * 112), (1, 21, 65 * 65), (3, 70, 33), (1, 512, 49), (2, 1, 17),
          (1, 17, 1), (1, 8, 8), (1, 33, 128 * 128), (2, 255, 100)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("threads", [1, 2])
def test_layout_matches_numpy(isa, shape, threads):
    n, c, hw = shape
    rng = np.random.default_rng(c * 7 + hw)
    x = rng.standard_normal(shape).astype(np.float32)
    y = np.full((n, hw, c), np.nan, np.float32)
    _C.nchw_to_nhwc(x, y, threads)   # the isa fixture's table
    assert_ran(isa)
    assert np.array_equal(y, x.transpose(0, 2, 1))
    back = np.full(shape, np.nan, np.float32)
    _C.nhwc_to_nchw(y, back, threads, _C.ISA_NAMES.index(isa))   # the table named
    assert np.array_equal(back, x)


def test_layout_refuses_mismatched_shapes():
    x = np.zeros((1, 4, 9), np.float32)
    with pytest.raises(ValueError, match="nchw_to_nhwc: shapes"):
        _C.nchw_to_nhwc(x, np.zeros((1, 4, 9), np.float32), 1)
    with pytest.raises(ValueError, match="nhwc_to_nchw: shapes"):
        _C.nhwc_to_nchw(x, np.zeros((1, 4, 9), np.float32), 1)
