"""adaptive_avg_pool2d / adaptive_max_pool2d and their global (1x1) fast paths under every ISA:
torch's bins, vs the float64 reference and torch; the NHWC (graph executor) and NCHW global kernels."""
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


def _check(x, output_size):
    """Both adaptive ops: max exactly (reference and torch), avg to RTOL_AVG."""
    ya = ops.adaptive_avg_pool2d(x, output_size)
    ym = ops.adaptive_max_pool2d(x, output_size)
    mag = ref.adaptive_avg_pool2d(np.abs(np.nan_to_num(x, posinf=0, neginf=0)), output_size)
    close_avg(ya, ref.adaptive_avg_pool2d(x, output_size), mag, "avg vs reference")
    close_avg(ya, torch_call("adaptive_avg_pool2d", x, output_size), mag, "avg vs torch")
    exact(ym, ref.adaptive_max_pool2d(x, output_size), "max vs reference")
    exact(ym, torch_call("adaptive_max_pool2d", x, output_size), "max vs torch")
    return ya, ym


# (shape, output_size)
CASES = [
    ((1, 1, 1, 1), 1),              # 1 -> 1
    ((7, 3, 1, 1), 1),
    ((2, 13, 7, 7), 3),             # 7 -> 3: overlapping bins of 3
    ((2, 13, 5, 5), 7),             # 5 -> 7: more outputs than inputs, bins of 1 and 2
    ((1, 17, 13, 13), 1),           # 13 -> 1: global
    ((7, 16, 13, 13), 1),
    ((1, 33, 8, 12), (2, 3)),       # dividing: uniform bins, one call a row
    ((2, 3, 9, 10), (4, None)),     # None keeps the input size
    ((2, 3, 9, 10), (None, 4)),
    ((1, 16, 6, 6), (6, 6)),        # identity
    ((1, 1, 11, 3), (5, 2)),
    ((1, 70, 7, 7), (3, 3)),        # 64-channel blocks + tail
    ((2, 64, 7, 7), 1),             # ResNet head (small)
    ((1, 2048, 7, 7), 1),
    ((3, 13, 1, 1), (2, 3)),        # 1x1 image upsampled
    ((1, 5, 1, 9), (1, 4)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_adaptive_pool2d(isa, rng, case):
    shape, out = case
    x = rng.standard_normal(shape).astype(np.float32)
    ya, ym = _check(x, out)
    assert_ran(isa)
    oh = shape[2] if isinstance(out, tuple) and out[0] is None else (out if isinstance(out, int) else out[0])
    ow = shape[3] if isinstance(out, tuple) and out[1] is None else (out if isinstance(out, int) else out[1])
    assert ya.shape == ym.shape == shape[:2] + (oh, ow)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] != 1], ids=str)
def test_adaptive_avg_pool2d_bitwise_like_torch(rng, case):
    """Bins are summed from 0.0 in row-major order in float32 and divided by the bin's height, then
    its width, as torch's NCHW kernel: identical on every ISA and to torch."""
    shape, out = case
    x = rng.standard_normal(shape).astype(np.float32)
    want = torch_call("adaptive_avg_pool2d", x, out)
    for isa in available_isas():
        with force_isa(isa):
            y = ops.adaptive_avg_pool2d(x, out)
            assert_ran(isa)
        exact(y, want, "adaptive_avg_pool2d %s vs torch" % isa)


@pytest.mark.parametrize("hw", [(1, 1), (1, 15), (4, 4), (8, 8), (1, 63), (13, 5), (1, 65), (7, 7),
                                (14, 14), (56, 56), (3, 37)], ids=str)
@pytest.mark.parametrize("c", [1, 3, 13, 16, 17, 33])
def test_global_pool_nchw(isa, rng, hw, c):
    """The NCHW per-plane reduction behind output_size 1 (every tail of the 64 partial sums)."""
    x = rng.standard_normal((2, c) + hw).astype(np.float32)
    ya = ops.adaptive_avg_pool2d(x, 1)
    assert_ran(isa)
    ym = ops.adaptive_max_pool2d(x, (1, 1))
    assert_ran(isa)
    close_avg(ya, ref.global_avg_pool2d(x), ref.global_avg_pool2d(np.abs(x)))
    close_avg(ya, torch_call("adaptive_avg_pool2d", x, 1), ref.global_avg_pool2d(np.abs(x)), "vs torch")
    exact(ym, ref.global_max_pool2d(x))
    exact(ym, torch_call("adaptive_max_pool2d", x, 1), "vs torch")


@pytest.mark.parametrize("n,hw,c", [(1, 1, 1), (2, 49, 3), (1, 49, 13), (7, 49, 16), (2, 9, 17),
                                    (1, 196, 33), (2, 49, 64), (1, 49, 300), (3, 5, 2048)])
def test_global_pool_nhwc(isa, rng, n, hw, c):
    """The NHWC column reduction (the graph executor's layout): x: (n, hw, c) -> y: (n, c)."""
    x = rng.standard_normal((n, hw, c)).astype(np.float32)
    x.reshape(-1)[::29] = np.nan
    x.reshape(-1)[3::31] = np.inf
    for kind, want in [("avg", ref.global_avg_pool2d), ("max", ref.global_max_pool2d)]:
        y = np.empty((n, c), np.float32)
        _C.global_pool_nhwc(-1, kind, x, y, 2)
        assert_ran(isa)
        nchw = x.transpose(0, 2, 1)[..., None]
        w = want(nchw)[:, :, 0, 0]
        if kind == "max":
            exact(y, w, "global max nhwc")
        else:
            close_avg(y, w, ref.global_avg_pool2d(np.abs(np.nan_to_num(nchw, posinf=0)))[:, :, 0, 0],
                      "global avg nhwc")
        # the adaptive NHWC driver takes the same path for 1x1
        y2 = np.empty((n, 1, 1, c), np.float32)
        _C.adaptive_pool2d_nhwc(-1, kind, np.ascontiguousarray(x.reshape(n, hw, 1, c)), y2, 2)
        exact(y2.reshape(n, c), y, "adaptive 1x1 nhwc")


def test_global_avg_nchw_same_on_every_isa(rng):
    """64 interleaved partial sums folded in halves: the same order on every ISA, so the same bits."""
    x = rng.standard_normal((3, 37, 23, 29)).astype(np.float32) * 100
    ys = []
    for isa in available_isas():
        with force_isa(isa):
            ys.append(ops.adaptive_avg_pool2d(x, 1))
            assert_ran(isa)
    for y in ys[1:]:
        exact(y, ys[0], "global avg across ISAs")


def test_global_avg_nhwc_order_is_sequential(isa):
    """NHWC global averages add the pixels in order from 0.0: 1e8 + 1 - 1e8 ... in float32 shows it."""
    x = np.array([1e8, 1.0, -1e8, 1.0], np.float32).reshape(1, 4, 1)
    y = np.empty((1, 1), np.float32)
    _C.global_pool_nhwc(-1, "avg", x, y, 1)
    assert_ran(isa)
    assert y[0, 0] == np.float32(((np.float32(1e8) + 1) - np.float32(1e8) + 1) / 4)


@pytest.mark.parametrize("c", [1, 3, 13, 16, 17, 33])
@pytest.mark.parametrize("out", [1, 3, (2, 5)])
def test_adaptive_nan_inf(isa, rng, c, out):
    x = rng.standard_normal((2, c, 9, 8)).astype(np.float32)
    flat = x.reshape(-1)
    flat[::37] = np.nan
    flat[5::41] = np.inf
    flat[9::43] = -np.inf
    ya, ym = _check(x, out)
    assert_ran(isa)
    assert np.isnan(ym).any() and np.isnan(ya).any()


@pytest.mark.parametrize("hw", [1, 5, 64, 100])
def test_global_max_nan_in_one_place(isa, hw):
    """One NaN anywhere in a plane, or only +-inf (which the fast NaN check sees as inf - inf)."""
    for pos in sorted({0, hw // 2, hw - 1}):
        x = np.arange(3 * hw, dtype=np.float32).reshape(1, 3, 1, hw)
        x[0, 1, 0, pos] = np.nan
        y = ops.adaptive_max_pool2d(x, 1)
        assert_ran(isa)
        assert np.isnan(y[0, 1, 0, 0]) and not np.isnan(y[0, [0, 2]]).any()
    x = np.full((1, 2, 1, hw), -np.inf, np.float32)
    x[0, 0, 0, -1] = np.inf
    exact(ops.adaptive_max_pool2d(x, 1), torch_call("adaptive_max_pool2d", x, 1))


def test_adaptive_unbatched(isa, rng):
    x = rng.standard_normal((13, 9, 8)).astype(np.float32)
    for out in [1, 3, (None, 2)]:
        ya = ops.adaptive_avg_pool2d(x, out)
        assert_ran(isa)
        ym = ops.adaptive_max_pool2d(x, out)
        want = torch_call("adaptive_avg_pool2d", x, out)
        assert ya.shape == ym.shape == want.shape
        close_avg(ya, want, torch_call("adaptive_avg_pool2d", np.abs(x), out))
        exact(ym, torch_call("adaptive_max_pool2d", x, out))


@pytest.mark.parametrize("shape,out", [((2, 64, 56, 56), 1), ((8, 512, 7, 7), 1), ((7, 13, 31, 29), 5),
                                       ((2, 64, 56, 56), (7, 9))], ids=str)
def test_adaptive_thread_invariant(isa, rng, shape, out):
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::101] = np.nan
    try:
        set_num_threads(1)
        y1 = ops.adaptive_avg_pool2d(x, out), ops.adaptive_max_pool2d(x, out)
        set_num_threads(2)
        y2 = ops.adaptive_avg_pool2d(x, out), ops.adaptive_max_pool2d(x, out)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    for a, b in zip(y1, y2):
        assert np.array_equal(a, b, equal_nan=True)


def test_global_nhwc_thread_invariant(isa, rng):
    x = rng.standard_normal((8, 3136, 64)).astype(np.float32)
    y1, y2 = np.empty((8, 64), np.float32), np.empty((8, 64), np.float32)
    for kind in ("avg", "max"):
        _C.global_pool_nhwc(-1, kind, x, y1, 1)
        _C.global_pool_nhwc(-1, kind, x, y2, 2)
        assert_ran(isa)
        assert np.array_equal(y1, y2)


def test_adaptive_bad_arguments(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    for f in (ops.adaptive_avg_pool2d, ops.adaptive_max_pool2d):
        with pytest.raises(ValueError, match="output_size: expected positive"):
            f(x, 0)   # torch returns an empty array here; fastnorm rejects it
        with pytest.raises(ValueError, match="output_size: expected positive"):
            f(x, -1)
        with pytest.raises(ValueError, match="output_size: expected positive"):
            f(x, (2, 0))
        with pytest.raises(TypeError, match="output_size"):
            f(x, None)
        with pytest.raises(TypeError, match="output_size"):
            f(x, 2.5)
        with pytest.raises(TypeError, match="output_size"):
            f(x, (1, 2, 3))
        with pytest.raises(ValueError, match="4D"):
            f(x[0, 0], 2)
        with pytest.raises(ValueError, match="4D"):
            f(x[None], 2)
        with pytest.raises(TypeError, match="dtype int"):
            f(x.astype(np.int32), 2)
        with pytest.raises(ValueError, match="non-empty"):
            f(np.zeros((1, 2, 0, 3), np.float32), 1)
    with pytest.raises(NotImplementedError, match="return_indices"):
        ops.adaptive_max_pool2d(x, 2, return_indices=True)


def test_global_binding_checks(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="expected 'max' or 'avg'"):
        _C.global_pool_nhwc(-1, "sum", x, np.empty((2, 3), np.float32), 1)
    with pytest.raises(ValueError, match="expected output shape"):
        _C.global_pool_nhwc(-1, "avg", x, np.empty((2, 5), np.float32), 1)
    with pytest.raises(ValueError, match="at least one pixel"):
        _C.global_pool_nhwc(-1, "avg", np.empty((2, 0, 3), np.float32), np.empty((2, 3), np.float32), 1)
    with pytest.raises(ValueError, match="expected 6 outputs"):
        _C.global_pool_nchw(-1, "max", x.reshape(6, 5), np.empty(5, np.float32), 1)
    with pytest.raises(ValueError, match="does not fit"):
        _C.adaptive_pool2d_nhwc(-1, "max", x.reshape(1, 2, 5, 3), np.empty((1, 1, 1, 4), np.float32), 1)


@settings(deadline=None, max_examples=60)
@given(n=st.sampled_from([1, 2, 7]), c=st.sampled_from([1, 3, 7, 13, 15, 16, 17, 33]),
       h=st.integers(1, 14), w=st.integers(1, 14),
       oh=st.one_of(st.none(), st.integers(1, 9)), ow=st.one_of(st.none(), st.integers(1, 9)),
       nan=st.booleans(), seed=st.integers(0, 2 ** 31 - 1))
def test_adaptive_sweep(n, c, h, w, oh, ow, nan, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    if nan:
        x.reshape(-1)[rng.random(x.size) < 0.03] = np.nan
    out = (oh, ow)
    want_a, want_m = ref.adaptive_avg_pool2d(x, out), ref.adaptive_max_pool2d(x, out)
    mag = ref.adaptive_avg_pool2d(np.abs(x), out)
    ta, tm = torch_call("adaptive_avg_pool2d", x, out), torch_call("adaptive_max_pool2d", x, out)
    for isa in available_isas():
        with force_isa(isa):
            ya = ops.adaptive_avg_pool2d(x, out)
            assert_ran(isa)
            ym = ops.adaptive_max_pool2d(x, out)
        what = "%s %s -> %s" % (isa, x.shape, out)
        close_avg(ya, want_a, mag, "avg vs reference " + what)
        close_avg(ya, ta, mag, "avg vs torch " + what)
        exact(ym, want_m, "max vs reference " + what)
        exact(ym, tm, "max vs torch " + what)


def test_global_pool_stays_in_bounds():
    from test_norm import run_guarded  # the guard-page harness (child process)
    run_guarded('''
import numpy as np
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for n, hw, c in [(1, 1, 1), (2, 3, 13), (1, 5, 3), (1, 4, 17), (1, 3, 70), (2, 63, 5), (1, 65, 2), (1, 100, 1)]:
            for kind in ("avg", "max"):
                x = guarded((n, hw, c), 3.0)
                y = guarded((n, c))
                _C.global_pool_nhwc(-1, kind, x, y, 2)
                assert (y == 3.0).all(), (isa, n, hw, c, kind)
                x = guarded((n * c, hw), 3.0)
                y = guarded((n * c,))
                _C.global_pool_nchw(-1, kind, x, y, 2)
                assert (y == 3.0).all(), (isa, n, hw, c, kind)
        for n, h, w, c, oh, ow in [(1, 1, 1, 1, 2, 3), (2, 7, 7, 13, 3, 3), (1, 5, 5, 17, 7, 7), (1, 6, 4, 70, 3, 2)]:
            for kind in ("avg", "max"):
                x = guarded((n, h, w, c), 3.0)
                y = guarded((n, oh, ow, c))
                _C.adaptive_pool2d_nhwc(-1, kind, x, y, 2)
                assert (y == 3.0).all(), (isa, n, h, w, c, oh, ow, kind)
print("ok")
''')
