"""avg_pool2d (NHWC row kernel behind the NCHW functional API) under every ISA: vs the float64
reference and torch, torch's divisor rules (count_include_pad, ceil_mode overhang, divisor_override)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from test_pool import close_avg, exact, torch_call
from util import assert_ran

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import available_isas, force_isa
from fastnorm.threads import set_num_threads


def _check(x, *args, **kw):
    """ops.avg_pool2d(x, ...) vs the reference (to RTOL_AVG) and torch (to RTOL_AVG; in practice bit
    for bit: same float32 order and one divide, see test_avg_pool2d_bitwise_like_torch)."""
    y = ops.avg_pool2d(x, *args, **kw)
    mag = ref.avg_pool2d(np.abs(np.nan_to_num(x, posinf=0, neginf=0)), *args, **kw)
    close_avg(y, ref.avg_pool2d(x, *args, **kw), mag, "vs reference")
    close_avg(y, torch_call("avg_pool2d", x, *args, **kw), mag, "vs torch")
    return y


# (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
CASES = [
    ((1, 1, 1, 1), 1, 1, 0, False, True, None),          # 1x1 image, 1x1 kernel
    ((7, 13, 1, 1), 2, 2, 1, False, True, None),         # 1x1 image, padding on every side
    ((7, 13, 1, 1), 2, 2, 1, False, False, None),
    ((2, 3, 1, 1), 3, 1, 1, True, True, None),
    ((1, 16, 8, 8), 2, 2, 0, False, True, None),         # the common 2x2/2
    ((2, 17, 9, 9), 3, 2, 1, False, True, None),         # 3x3/2 pad 1
    ((2, 17, 9, 9), 3, 2, 1, False, False, None),
    ((1, 13, 5, 5), 2, 2, 0, True, True, None),          # ceil overhang past the input, no padding
    ((1, 13, 5, 5), 2, 2, 0, True, False, None),
    ((7, 13, 5, 5), 2, 2, 1, True, True, None),          # torch drops the window starting in the pad
    ((1, 3, 6, 6), 3, 2, 1, True, True, None),           # overhang past the padded input: not counted
    ((1, 3, 6, 6), 3, 2, 1, True, False, None),
    ((1, 33, 8, 8), 4, 3, 2, True, True, None),          # overhang with padding 2
    ((1, 33, 10, 7), (2, 3), (1, 2), (1, 1), False, True, None),  # non-square everything
    ((3, 5, 10, 12), (3, 1), (2, 1), (1, 0), True, False, None),
    ((2, 13, 11, 11), 5, 2, 2, True, True, None),
    ((2, 13, 11, 11), 5, 1, 2, False, False, None),
    ((1, 16, 7, 7), 3, 2, 1, False, True, 5),            # divisor_override
    ((1, 16, 7, 7), 3, 2, 1, True, False, 1),
    ((1, 17, 7, 7), 2, 2, 0, True, True, -3),            # torch accepts a negative one
    ((1, 64, 14, 14), 2, 2, 0, False, True, None),       # 64-channel blocks
    ((1, 129, 6, 6), 3, 1, 1, False, False, None),       # 2 x 64 + a tail
    ((2, 1, 9, 9), 3, 3, 0, False, True, None),          # C = 1
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_avg_pool2d(isa, rng, case):
    shape, k, s, p, ceil_mode, cip, div = case
    x = rng.standard_normal(shape).astype(np.float32)
    _check(x, k, s, p, ceil_mode, cip, div)
    assert_ran(isa)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_avg_pool2d_bitwise_like_torch(rng, case):
    """Every ISA sums the window from 0.0 in row-major order in float32 and divides once, as torch:
    the results are identical across ISAs and to torch's."""
    shape, k, s, p, ceil_mode, cip, div = case
    x = rng.standard_normal(shape).astype(np.float32)
    want = torch_call("avg_pool2d", x, k, s, p, ceil_mode, cip, div)
    for isa in available_isas():
        with force_isa(isa):
            y = ops.avg_pool2d(x, k, s, p, ceil_mode, cip, div)
            assert_ran(isa)
        exact(y, want, "avg_pool2d %s vs torch" % isa)


@pytest.mark.parametrize("c", [1, 3, 13, 16, 17, 33])
def test_avg_pool2d_nan_inf(isa, rng, c):
    x = rng.standard_normal((2, c, 9, 8)).astype(np.float32)
    flat = x.reshape(-1)
    flat[::37] = np.nan
    flat[5::41] = np.inf
    flat[9::43] = -np.inf
    y = _check(x, 3, 2, 1, True, False)
    assert_ran(isa)
    assert np.isnan(y).any() and np.isinf(y).any()


def test_avg_pool2d_divisor_rules_by_hand(isa):
    """Ones in, so each output is (elements summed) / divisor: the divisor rules made visible.
    h = w = 6, k = 3, s = 2, p = 1, ceil_mode: oh = ceil((6 + 2 - 3) / 2) + 1 = 4 windows starting at
    padded 0, 2, 4, 6 -> input rows [-1, 2), [1, 4), [3, 6), [5, 8). The last one hangs past the
    padded input [-1, 7) by one row: counted 2 (rows 5, 6) with count_include_pad, 1 without."""
    x = np.ones((1, 1, 6, 6), np.float32)
    y = ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    assert_ran(isa)
    counts = np.array([2, 3, 3, 1], np.float32)     # input rows under each window
    padded = np.array([3, 3, 3, 2], np.float32)     # rows of the padded input under each window
    assert np.array_equal(y[0, 0], np.outer(counts, counts) / np.outer(padded, padded))
    y = ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    assert np.array_equal(y[0, 0], np.ones((4, 4), np.float32))
    y = ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=2)
    assert np.array_equal(y[0, 0], np.outer(counts, counts) / 2)


def test_avg_pool2d_unbatched(isa, rng):
    x = rng.standard_normal((13, 9, 8)).astype(np.float32)
    y = ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
    assert_ran(isa)
    assert y.shape == (13, 5, 5)
    exact(y, torch_call("avg_pool2d", x, 3, 2, 1, True))
    close_avg(y, ref.avg_pool2d(x[None], 3, 2, 1, True)[0], ref.avg_pool2d(np.abs(x[None]), 3, 2, 1, True)[0])


@pytest.mark.parametrize("shape,args", [
    ((2, 64, 56, 56), (2, 2, 0)), ((7, 13, 31, 29), (3, 2, 1, True, False)), ((1, 3, 200, 200), (5, 3, 2)),
], ids=str)
def test_avg_pool2d_thread_invariant(isa, rng, shape, args):
    x = rng.standard_normal(shape).astype(np.float32)
    try:
        set_num_threads(1)
        y1 = ops.avg_pool2d(x, *args)
        set_num_threads(2)
        y2 = ops.avg_pool2d(x, *args)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(y1, y2, equal_nan=True)


def test_avg_pool2d_bad_arguments(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="at most half the kernel"):
        ops.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="at most half the kernel"):
        ops.avg_pool2d(x, (2, 4), padding=(1, 3))
    with pytest.raises(ValueError, match="non-negative"):
        ops.avg_pool2d(x, 3, padding=-1)
    with pytest.raises(ValueError, match="too small"):
        ops.avg_pool2d(x, 6)
    with pytest.raises(ValueError, match="positive"):
        ops.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="positive"):
        ops.avg_pool2d(x, 2, stride=(1, 0))
    with pytest.raises(TypeError, match="int or a pair"):
        ops.avg_pool2d(x, 2.5)
    with pytest.raises(TypeError, match="int or a pair"):
        ops.avg_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="divisor_override: expected a non-zero"):
        ops.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override"):
        ops.avg_pool2d(x, 2, divisor_override=1.5)
    with pytest.raises(TypeError, match="ceil_mode"):
        ops.avg_pool2d(x, 2, ceil_mode="yes")
    with pytest.raises(ValueError, match="4D"):
        ops.avg_pool2d(x[0, 0], 2)
    with pytest.raises(ValueError, match="4D"):
        ops.avg_pool2d(x[None], 2)
    with pytest.raises(TypeError, match="dtype int"):
        ops.avg_pool2d(x.astype(np.int64), 2)
    with pytest.raises(TypeError, match="input"):
        ops.avg_pool2d("x", 2)


def test_avgpool_kernel_binding_checks(rng):
    x = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
    y = np.empty((1, 2, 2, 3), np.float32)
    with pytest.raises(ValueError, match="10 fields"):
        _C.avgpool2d_nhwc(-1, (2, 2, 2, 2), x, y, 1)
    with pytest.raises(ValueError, match="at most half"):
        _C.avgpool2d_nhwc(-1, (2, 2, 2, 2, 2, 0, 0, 0, True, 0), x, y, 1)
    with pytest.raises(ValueError, match="does not fit"):
        _C.avgpool2d_nhwc(-1, (2, 2, 2, 2, 0, 0, 0, 0, True, 0), x, np.empty((1, 4, 2, 3), np.float32), 1)
    with pytest.raises(ValueError, match="does not fit"):
        _C.avgpool2d_nhwc(-1, (2, 2, 2, 2, 0, 0, 0, 0, True, 0), x, np.empty((1, 2, 2, 4), np.float32), 1)


@settings(deadline=None, max_examples=60)
@given(n=st.sampled_from([1, 2, 7]), c=st.sampled_from([1, 3, 7, 13, 15, 16, 17, 33]),
       h=st.integers(1, 12), w=st.integers(1, 12), kh=st.integers(1, 5), kw=st.integers(1, 5),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ceil_mode=st.booleans(), cip=st.booleans(),
       pad=st.sampled_from(["none", "half", "one"]), div=st.sampled_from([None, None, 1, 3, 7]),
       seed=st.integers(0, 2 ** 31 - 1))
def test_avg_pool2d_sweep(n, c, h, w, kh, kw, sh, sw, ceil_mode, cip, pad, div, seed):
    p = {"none": (0, 0), "half": (kh // 2, kw // 2), "one": (min(1, kh // 2), min(1, kw // 2))}[pad]
    if ref.pool_extent(h, kh, sh, p[0], ceil_mode) < 1 or ref.pool_extent(w, kw, sw, p[1], ceil_mode) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    args = ((kh, kw), (sh, sw), p, ceil_mode, cip, div)
    want = torch_call("avg_pool2d", x, *args)
    mag = ref.avg_pool2d(np.abs(x), *args)
    for isa in available_isas():
        with force_isa(isa):
            y = ops.avg_pool2d(x, *args)
            assert_ran(isa)
        close_avg(y, ref.avg_pool2d(x, *args), mag, "avg_pool2d %s %s %s vs reference" % (isa, x.shape, args))
        close_avg(y, want, mag, "avg_pool2d %s %s %s vs torch" % (isa, x.shape, args))


def test_avgpool_stays_in_bounds():
    from test_norm import run_guarded  # the guard-page harness (child process)
    run_guarded('''
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for n, h, w, c in [(1, 1, 1, 1), (2, 3, 3, 13), (1, 5, 4, 3), (1, 4, 4, 17), (1, 3, 3, 70), (1, 6, 7, 37)]:
            for k, s, p in [(1, 1, 0), (2, 2, 1), (3, 1, 1), (3, 2, 1), (min(h, w), 1, 0)]:
                for ceil in (0, 1):
                    oh = (h + 2 * p - k + (s - 1) * ceil) // s + 1
                    ow = (w + 2 * p - k + (s - 1) * ceil) // s + 1
                    if ceil and (oh - 1) * s >= h + p: oh -= 1
                    if ceil and (ow - 1) * s >= w + p: ow -= 1
                    x = guarded((n, h, w, c), 3.0)
                    y = guarded((n, oh, ow, c))
                    _C.avgpool2d_nhwc(-1, (k, k, s, s, p, p, p, p, False, 0), x, y, 2)
                    assert (y == 3.0).all(), (isa, n, h, w, c, k, s, p)
print("ok")
''')
