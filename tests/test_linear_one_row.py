"""The one-row GEMM (a batch-1 linear, a 1x1 conv of one pixel): src_c/conv/conv2d.c panels_run runs
k->igemm_panels (src_c/conv/igemm_simd.h panels_tile: up to 4 weight panels side by side) and the
partial last panel through k->igemm. Under every ISA, on sizes that are not multiples of any tile
width (K and N not multiples of 16, 1 to 9 full panels and a partial one): against the float64
reference for M = 1..5 rows (M > 1 takes the tiles), and bit for bit against the same row computed
in a batch (the panels keep the tile's summation order), with a residual and every fused act, at 1
and 2 threads."""
import numpy as np
import pytest

import reference
import util
from fastnorm import _C, ops
from fastnorm.threads import set_num_threads, get_num_threads

SHAPES = [(1, 1), (7, 15), (33, 17), (161, 63), (300, 129), (1030, 257), (64, 288), (19, 1000)]


@pytest.fixture
def threads2():
    old = get_num_threads()
    set_num_threads(2)
    yield
    set_num_threads(old)


@pytest.mark.parametrize("k,n", SHAPES)
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_linear_small_batch_matches_reference(isa, rng, k, n, m):
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    got = ops.linear(x, w, b)
    util.assert_ran(isa)
    util.assert_close_dot(got, reference.linear(x, w, b), reference.linear(np.abs(x), np.abs(w), np.abs(b)))


@pytest.mark.parametrize("k,n", SHAPES)
def test_batch1_is_bitwise_a_row_of_the_batch(isa, rng, threads2, k, n):
    x = rng.standard_normal((5, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    full = ops.linear(x, w, b)
    for i in range(5):
        one = ops.linear(x[i:i + 1], w, b)
        util.assert_ran(isa)
        assert np.array_equal(one[0], full[i]), (k, n, i)


ACTS = [(0, 0.0, 0.0), (1, 0.0, float("inf")), (1, -0.5, 0.75)] + [
    (_C.ACT_ACTK0 + getattr(_C, "ACTK_" + a), 0.0, 0.0)
    for a in ("SILU", "HARDSWISH", "GELU", "GELU_TANH", "MISH")]


def _conv1x1(x, packed, desc, res, act, nthreads):
    m, k = x.shape
    y = np.full((m, 1, 1, desc[1]), np.nan, np.float32)
    _C.conv2d_nhwc(-1, desc, x.reshape(m, 1, 1, k), packed,
                   None if res is None else res.reshape(m, 1, 1, -1), act, y, nthreads)
    return y.reshape(m, -1)


@pytest.mark.parametrize("k,n", [(37, 139), (300, 129), (1030, 257)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("with_res", [False, True])
def test_one_row_epilogue_is_bitwise_the_tile(isa, rng, k, n, act, with_res):
    """Residual and act on the one-row path, bit for bit the batch tile's, at 1 and 2 threads; the
    values reach silu's and gelu's fallbacks (large negative pre-activations)."""
    x = (rng.standard_normal((3, k)) * (300 / np.sqrt(k))).astype(np.float32)
    w = rng.standard_normal((n, k, 1, 1)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    res = rng.standard_normal((3, n)).astype(np.float32) if with_res else None
    desc = (k, n, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed = _C.conv2d_pack(-1, desc, w, b)
    assert (_conv1x1(x, packed, desc, res, ACTS[0], 1) < -100).any()
    full = _conv1x1(x, packed, desc, res, act, 1)
    assert np.isfinite(full).all()
    for nthreads in (1, 2):
        for i in range(3):
            one = _conv1x1(x[i:i + 1], packed, desc, None if res is None else res[i:i + 1], act, nthreads)
            util.assert_ran(isa)
            assert np.array_equal(one[0], full[i]), (nthreads, i)
    if act[0] <= 1:
        want = reference.linear(x, w[:, :, 0, 0], b) + (0 if res is None else res)
        if act[0] == 1:
            want = np.clip(want, act[1], act[2])
        mag = reference.linear(np.abs(x), np.abs(w[:, :, 0, 0]), np.abs(b)) + (0 if res is None else np.abs(res))
        util.assert_close_dot(full, want, mag)


def test_one_pixel_strided_1x1_conv(isa, rng):
    """A 1x1 stride-2 conv of a 2x2 image has one output pixel, read from input pixel (0, 0)."""
    x = rng.standard_normal((1, 70, 2, 2)).astype(np.float32)
    w = rng.standard_normal((90, 70, 1, 1)).astype(np.float32)
    b = rng.standard_normal(90).astype(np.float32)
    got = ops.conv2d(x, w, b, stride=2)
    util.assert_ran(isa)
    want = reference.linear(x[:, :, 0, 0], w[:, :, 0, 0], b)
    mag = reference.linear(np.abs(x[:, :, 0, 0]), np.abs(w[:, :, 0, 0]), np.abs(b))
    util.assert_close_dot(got[:, :, 0, 0], want, mag)
