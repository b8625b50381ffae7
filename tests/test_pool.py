"""max_pool2d (NHWC kernel behind the NCHW functional API) and flatten, under every ISA.

Also the pool family's shared test helpers (tolerances with their reasons, comparators), imported by
tests/test_pool_*.py.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.ops import _pool
from fastnorm.testing import available_isas, force_isa
from fastnorm.threads import set_num_threads


# A window average of K float32 terms summed in float32 vs the float64 reference: each of the K
# additions rounds once (relative 2^-24 of the running |sum| <= sum |terms|), and the divide once
# more, so the error is below ~K * 6e-8 of the average of |terms|. K <= 25 for 5x5 windows; global
# pooling sums up to 64 terms per partial and then folds 6 times. 4e-6 of the |terms| average (plus
# a tiny absolute floor for all-zero windows) covers both with margin.
RTOL_AVG = 4e-6
ATOL_AVG = 1e-7


def exact(got, want, what="max pool"):
    """A max is one of its inputs: no tolerance, NaN exactly where expected."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.float32 and got.shape == want.shape, (what, got.dtype, got.shape, want.shape)
    assert (np.isnan(got) == np.isnan(want)).all(), "%s: NaN positions differ" % what
    assert np.array_equal(got, want.astype(np.float32), equal_nan=True), "%s: values differ" % what


def close_avg(got, want, magnitude, what="avg pool"):
    """got vs want within RTOL_AVG of `magnitude` (the same average taken over |x|); NaN and +-inf
    exactly where expected."""
    got, want = np.asarray(got), np.asarray(want, np.float64)
    assert got.dtype == np.float32 and got.shape == want.shape, (what, got.dtype, got.shape, want.shape)
    assert (np.isnan(got) == np.isnan(want)).all(), "%s: NaN positions differ" % what
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf]), "%s: infinities differ" % what
    assert not np.isinf(got[~inf]).any(), "%s: unexpected infinity" % what
    fin = np.isfinite(want)
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    bound = ATOL_AVG + RTOL_AVG * np.abs(np.asarray(magnitude, np.float64)[fin])
    bad = err > bound
    assert not bad.any(), "%s: %d of %d off, max err %.3g (bound %.3g)" % (
        what, bad.sum(), bad.size, err.max(), bound[np.argmax(err - bound)])


def torch_call(fn, x, *args, **kw):
    torch = importorskip("torch")
    return getattr(torch.nn.functional, fn)(torch.from_numpy(np.ascontiguousarray(x)), *args, **kw).numpy()


_exact = exact


@contextlib.contextmanager
def pool_path(name):
    """ops.max_pool2d / ops.avg_pool2d through the direct NCHW kernels ("nchw") or through the
    NHWC kernels the graph executor runs ("nhwc"), within the block."""
    old = _pool._DIRECT_NCHW
    _pool._DIRECT_NCHW = name == "nchw"
    try:
        yield
    finally:
        _pool._DIRECT_NCHW = old


PATHS = ["nchw", "nhwc"]


@pytest.fixture(params=PATHS)
def path(request):
    with pool_path(request.param):
        yield request.param


def _torch_pool(x, k, s, p, d, ceil_mode):
    torch = importorskip("torch")
    return torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=ceil_mode).numpy()


# (shape, kernel, stride, padding, dilation, ceil_mode)
CASES = [
    ((1, 1, 1, 1), 1, 1, 0, 1, False),            # 1x1 image, 1x1 kernel
    ((7, 13, 1, 1), 2, 2, 1, 1, False),           # 1x1 image, kernel 2 with padding
    ((2, 3, 1, 1), 3, 1, 1, 1, True),
    ((1, 13, 5, 5), 2, 2, 0, 1, False),
    ((1, 13, 5, 5), 2, 2, 0, 1, True),            # last window hangs over the edge
    ((7, 13, 5, 5), 2, 2, 1, 1, True),            # torch drops a last window starting in the right pad
    ((1, 16, 6, 6), 2, 2, 1, 1, True),
    ((2, 17, 9, 9), 3, 2, 1, 1, False),
    ((2, 17, 9, 9), 3, 2, 1, 1, True),
    ((1, 64, 112, 112), 3, 2, 1, 1, False),       # ResNet stem
    ((1, 33, 11, 7), (2, 3), (1, 2), (1, 1), 1, False),  # non-square everything
    ((3, 5, 10, 12), (3, 1), (2, 1), (1, 0), 1, True),
    ((2, 13, 13, 13), 3, 1, 1, 2, False),         # dilation
    ((2, 8, 17, 15), (3, 2), 2, (1, 1), (2, 3), True),
    ((1, 70, 10, 10), 9, 1, 4, 1, False),         # 81 taps: the driver chunks at 64
    ((2, 13, 12, 12), 9, 3, 4, 1, True),
    ((1, 3, 20, 20), (11, 7), 2, (5, 3), 1, False),  # 77 taps, C=3
    ((7, 1, 7, 7), 7, 1, 0, 1, False),            # kernel == input
    ((1, 129, 4, 4), 2, 1, 0, 1, False),          # C over 2 x 64 with a tail
    ((1, 13, 8, 8), 8, 1, 0, 1, False),           # exactly 64 taps: one chunk
    ((2, 13, 13, 5), (13, 5), 1, 0, 1, False),    # 65 taps: a chunk and one more
    ((1, 17, 12, 11), (12, 11), 1, 0, 1, False),  # 132 taps: chained twice
    ((1, 5, 14, 14), (12, 11), 2, (6, 5), 1, True),  # long windows clipped by padding
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_max_pool2d(isa, path, rng, case):
    shape, k, s, p, d, ceil_mode = case
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.max_pool2d(x, k, s, p, d, ceil_mode)
    assert_ran(isa)
    _exact(y, ref.max_pool2d(x, k, s, p, d, ceil_mode))
    _exact(y, _torch_pool(x, k, s, p, d, ceil_mode), "vs torch")


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[8], CASES[14], CASES[16]], ids=str)
def test_max_pool2d_nan_propagates(isa, path, rng, case):
    shape, k, s, p, d, ceil_mode = case
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::37] = np.nan
    flat[5::41] = np.inf
    flat[9::43] = -np.inf
    y = ops.max_pool2d(x, k, s, p, d, ceil_mode)
    assert_ran(isa)
    want = ref.max_pool2d(x, k, s, p, d, ceil_mode)
    assert np.isnan(want).any()
    _exact(y, want)
    _exact(y, _torch_pool(x, k, s, p, d, ceil_mode), "vs torch")


@pytest.mark.parametrize("c", [1, 3, 8, 13, 16, 17, 64, 65])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_max_pool2d_nan_in_one_tap(isa, path, c, where):
    """NaN in exactly one tap of one window, the tap before/after larger values, all channels."""
    x = np.arange(1 * c * 4 * 4, dtype=np.float32).reshape(1, c, 4, 4)
    pos = {"first": (0, 0), "middle": (0, 1), "last": (1, 1)}[where]
    x[0, :, pos[0], pos[1]] = np.nan
    y = ops.max_pool2d(x, 2)
    assert_ran(isa)
    assert np.isnan(y[0, :, 0, 0]).all()
    assert not np.isnan(y[0, :, 0, 1:]).any() and not np.isnan(y[0, :, 1:, :]).any()
    _exact(y, ref.max_pool2d(x, 2))


@pytest.mark.parametrize("c", [1, 13, 70])
def test_max_pool2d_window_without_input_is_minus_inf(isa, path, rng, c):
    """Dilation can put every tap of a window in the padding (padding <= k/2 still holds): torch
    answers -inf there, the max of nothing."""
    for shape, args in [((2, c, 3, 1), ((1, 2), 1, (0, 1), (1, 2), False)),
                        ((1, c, 2, 2), ((2, 2), 1, (1, 1), (3, 3), False)),
                        ((1, c, 2, 5), ((2, 2), 1, (1, 1), (3, 3), True))]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = ops.max_pool2d(x, *args)
        assert_ran(isa)
        want = _torch_pool(x, *args)
        assert np.isneginf(want).any()
        _exact(y, want, "vs torch")


def test_max_pool2d_unbatched(isa, path, rng):
    x = rng.standard_normal((13, 9, 8)).astype(np.float32)
    y = ops.max_pool2d(x, 3, 2, 1, ceil_mode=True)
    assert_ran(isa)
    assert y.shape == (13, 5, 5)
    _exact(y, ref.max_pool2d(x[None], 3, 2, 1, ceil_mode=True)[0])
    _exact(y, _torch_pool(x, 3, 2, 1, 1, True), "vs torch")


@pytest.mark.parametrize("shape", [(2, 64, 56, 56), (7, 13, 31, 29), (1, 3, 200, 200)], ids=str)
def test_max_pool2d_thread_invariant(isa, path, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::101] = np.nan
    try:
        set_num_threads(1)
        y1 = ops.max_pool2d(x, 3, 2, 1)
        set_num_threads(2)
        y2 = ops.max_pool2d(x, 3, 2, 1)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(y1, y2, equal_nan=True)


def test_maxpool_kernel_direct(isa, path, rng):
    """The NHWC binding itself, with taps > 64 and an odd channel count."""
    x = rng.standard_normal((1, 10, 10, 37)).astype(np.float32)
    y = np.empty((1, 1, 1, 37), np.float32)
    _C.maxpool2d_nhwc(-1, (10, 10, 1, 1, 1, 1, 0, 0), x, y, 2)
    assert_ran(isa)
    _exact(y[0, 0, 0], x.reshape(100, 37).max(axis=0))


def test_max_pool2d_bad_arguments(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="at most half the kernel"):
        ops.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="at most half the kernel"):
        ops.max_pool2d(x, (2, 4), padding=(1, 3))
    with pytest.raises(ValueError, match="non-negative"):
        ops.max_pool2d(x, 3, padding=-1)
    with pytest.raises(ValueError, match="too small"):
        ops.max_pool2d(x, 6)
    with pytest.raises(ValueError, match="too small"):
        ops.max_pool2d(x, 3, dilation=3)
    with pytest.raises(ValueError, match="positive"):
        ops.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="positive"):
        ops.max_pool2d(x, 2, stride=0)
    with pytest.raises(TypeError, match="int or a pair"):
        ops.max_pool2d(x, 2.5)
    with pytest.raises(ValueError, match="4D"):
        ops.max_pool2d(x[0, 0], 2)
    with pytest.raises(TypeError, match="dtype int"):
        ops.max_pool2d(x.astype(np.int64), 2)
    with pytest.raises(NotImplementedError):
        ops.max_pool2d(x, 2, return_indices=True)


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 3), c=st.integers(1, 20), h=st.integers(1, 12), w=st.integers(1, 12),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), ceil_mode=st.booleans(), pad=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_max_pool2d_sweep(n, c, h, w, kh, kw, sh, sw, dh, dw, ceil_mode, pad, seed):
    p = (kh // 2, kw // 2) if pad else (0, 0)
    if ref.pool_out_extent(h, kh, sh, p[0], dh, ceil_mode) < 1 or \
            ref.pool_out_extent(w, kw, sw, p[1], dw, ceil_mode) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    x.reshape(-1)[rng.random(x.size) < 0.03] = np.nan
    args = ((kh, kw), (sh, sw), p, (dh, dw), ceil_mode)
    try:
        want = ref.max_pool2d(x, *args)
    except ValueError:  # reference.max_pool2d cannot reduce a window with no input (dilation): torch only
        want = _torch_pool(x, *args)
    for isa in available_isas():
        for p_ in PATHS:
            with force_isa(isa), pool_path(p_):
                y = ops.max_pool2d(x, *args)
                assert_ran(isa)
            _exact(y, want, "max_pool2d %s %s %s %s" % (isa, p_, x.shape, args))
    _exact(y, _torch_pool(x, *args), "vs torch")


# ------------------------------------------------------------------------------------------ flatten

@pytest.mark.parametrize("shape,start,end", [
    ((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), -2, -1),
    ((2, 3, 4, 5), 2, 2), ((7, 13, 1, 1), 1, -1), ((5,), 0, -1), ((3, 0, 2), 0, 1),
    ((0, 3, 2), 1, -1),
])
def test_flatten_vs_torch(rng, shape, start, end):
    torch = importorskip("torch")
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.flatten(x, start, end)
    t = torch.flatten(torch.from_numpy(x), start, end).numpy()
    assert y.shape == t.shape and np.array_equal(y, t)
    assert np.array_equal(y, ref.flatten(x, start, end))
    assert not np.shares_memory(y, x)


def test_flatten_bad_dims():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="out of range"):
        ops.flatten(x, 3)
    with pytest.raises(ValueError, match="comes after"):
        ops.flatten(x, 2, 1)


def test_maxpool_stays_in_bounds():
    from test_norm import run_guarded  # the guard-page harness (child process)
    run_guarded('''
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for n, h, w, c in [(1, 1, 1, 1), (2, 3, 3, 13), (1, 5, 4, 3), (1, 4, 4, 17), (1, 3, 3, 70), (1, 10, 10, 37)]:
            for k, s, p in [(1, 1, 0), (2, 2, 1), (3, 1, 1), (min(h, w), 1, 0)]:
                oh = (h + 2 * p - k) // s + 1
                ow = (w + 2 * p - k) // s + 1
                x = guarded((n, h, w, c), 3.0)
                y = guarded((n, oh, ow, c))
                _C.maxpool2d_nhwc(-1, (k, k, s, s, 1, 1, p, p), x, y, 2)
                assert (y == 3.0).all(), (isa, n, h, w, c, k)
print("ok")
''')


def test_max_pool2d_signed_zeros_like_torch(isa, path):
    """Between equal values the first tap in row-major window order wins, as in torch: 0.0 and -0.0
    keep their sign the same way."""
    torch = importorskip("torch")
    x = np.zeros((1, 17, 4, 4), np.float32)
    x[0, :, 0, 0] = -0.0  # window (0,0) starts with -0.0, then +0.0
    x[0, :, 0, 3] = -0.0  # window (0,1): +0.0 first, -0.0 second
    x[0, :, 2:4, 2:4] = -0.0  # window (1,1): all -0.0
    y = ops.max_pool2d(x, 2)
    assert_ran(isa)
    t = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2).numpy()
    assert np.array_equal(np.signbit(y), np.signbit(t))


def test_max_pool2d_ceil_mode_drops_window_starting_in_right_padding(isa, path, rng):
    """h = 5, k = 2, s = 2, p = 1: ceil gives 4 windows, but the 4th would start at padded index 6,
    inside the right padding, so torch keeps 3. Without padding the ceil window at 4 is kept."""
    x = rng.standard_normal((1, 13, 5, 5)).astype(np.float32)
    y = ops.max_pool2d(x, 2, 2, 1, ceil_mode=True)
    assert_ran(isa)
    assert y.shape == (1, 13, 3, 3)
    _exact(y, _torch_pool(x, 2, 2, 1, 1, True), "vs torch")
    y0 = ops.max_pool2d(x, 2, 2, 0, ceil_mode=True)
    assert y0.shape == (1, 13, 3, 3)
    assert ops.max_pool2d(x, 2, 2, 0, ceil_mode=False).shape == (1, 13, 2, 2)
    _exact(y0, _torch_pool(x, 2, 2, 0, 1, True), "vs torch")


# ------------------------------------------------- max_pool2d row kernel: interior runs and edges

@pytest.mark.parametrize("c", [1, 3, 16, 17, 65, 129])
@pytest.mark.parametrize("args", [(2, 2, 0, 1, False), (3, 2, 1, 1, False), (2, 2, 1, 1, True),
                                  (3, 1, 1, 1, False), (1, 1, 0, 1, False), ((3, 2), (2, 1), (1, 0), 1, True),
                                  (3, 2, 1, 2, False), (4, 3, 2, 1, True)], ids=str)
def test_max_pool2d_row_kernel(isa, path, rng, c, args):
    """A row of output pixels per micro-kernel call: the unclipped run in one call (the unrolled
    2x2 and 3x3 windows, or the generic one), the clipped edge windows one by one; channel counts
    below, at and above the vector width and the four-vector block (NHWC), and runs of outputs
    below, at and above 8, 16 and 32 with masked tails (NCHW, stride 2)."""
    for n, h, w in [(1, 9, 17), (7, 4, 6), (1, 1, 1), (1, 5, 67), (2, 3, 34), (1, 2, 31)]:
        k = args[0] if isinstance(args[0], tuple) else (args[0], args[0])
        if any(ref.pool_out_extent(sz, kk, ss, pp, args[3], args[4]) < 1 for sz, kk, ss, pp in
               zip((h, w), k, args[1] if isinstance(args[1], tuple) else (args[1],) * 2,
                   args[2] if isinstance(args[2], tuple) else (args[2],) * 2)):
            continue
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        x.reshape(-1)[::53] = np.nan
        y = ops.max_pool2d(x, *args)
        assert_ran(isa)
        exact(y, _torch_pool(x, *args), "vs torch %s" % ((n, c, h, w),))


def test_max_pool2d_same_on_every_isa(rng):
    x = rng.standard_normal((3, 37, 23, 29)).astype(np.float32)
    x.reshape(-1)[::41] = np.nan
    ys = []
    for isa in available_isas():
        for p_ in PATHS:
            with force_isa(isa), pool_path(p_):
                ys.append(ops.max_pool2d(x, 3, 2, 1))
                assert_ran(isa)
    for y in ys[1:]:
        exact(y, ys[0], "max_pool2d across ISAs")


def test_pool_nchw_stays_in_bounds():
    """The direct NCHW kernels (max and avg) read only the planes and write only the output."""
    from test_norm import run_guarded
    run_guarded('''
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for planes, h, w in [(1, 1, 1), (2, 3, 3), (1, 5, 4), (3, 4, 17), (1, 3, 33), (2, 9, 70)]:
            for k, s, p, d in [(1, 1, 0, 1), (2, 2, 1, 1), (3, 1, 1, 1), (3, 2, 1, 1), (2, 3, 1, 1),
                               (min(h, w), 1, 0, 1), (2, 1, 1, 2)]:
                for ceil in (0, 1):
                    ext = [(sz + 2 * p - d * (k - 1) - 1 + (s - 1) * ceil) // s + 1 for sz in (h, w)]
                    ext = [e - 1 if ceil and (e - 1) * s >= sz + p else e for e, sz in zip(ext, (h, w))]
                    if min(ext) < 1:
                        continue
                    x = guarded((planes, h, w), 3.0)
                    y = guarded((planes, ext[0], ext[1]))
                    _C.maxpool2d_nchw(-1, (k, k, s, s, d, d, p, p), x, y, 2)
                    assert ((y == 3.0) | (y == -float("inf"))).all(), (isa, planes, h, w, k, s, p, d)
                    if d == 1:
                        _C.avgpool2d_nchw(-1, (k, k, s, s, p, p, p, p, False, 0), x, y, 2)
                        assert (y == 3.0).all(), (isa, planes, h, w, k, s, p)
print("ok")
''')


@pytest.mark.parametrize("shape,args", [((1, 37, 7, 7), (3, 2, 1)), ((2, 5, 14, 14), (3, 2, 1)),
                                        ((1, 3, 9, 9), (2, 2, 0, 1, True)), ((2, 16, 28, 28), (2,))], ids=str)
def test_pool_default_path_matches_both(rng, shape, args):
    """The per-call choice between the NCHW and NHWC kernels never changes a result."""
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::17] = np.nan
    for op in (ops.max_pool2d, ops.avg_pool2d):
        a = args if op is ops.max_pool2d or len(args) < 4 else args[:3] + args[4:]
        got = op(x, *a)
        for p_ in PATHS:
            with pool_path(p_):
                exact(got, op(x, *a), "%s default vs %s" % (op.__name__, p_))
