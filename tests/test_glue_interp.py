"""interpolate (nearest, nearest-exact, linear, bilinear with align_corners both ways) and the NCHW /
NHWC drivers behind it, under every ISA, against the reference and torch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_close, assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import force_isa
from fastnorm.threads import set_num_threads

from conftest import ISAS

INF = float("inf")
# Bilinear output is w0*(l0*a + l1*b) + w1*(l0*c + l1*d) with weights in [0, 1] summing to 1: six
# float32 roundings, each at most half an ulp of the largest neighbour; and torch may compute a
# source coordinate with an FMA (one ulp apart in a weight, times a neighbour difference). Both are
# bounded by a few ulp of max |x|: an absolute 1e-6 * max(1, max |x|) on top of the elementwise rtol.
# Against torch, add one more term: torch's kernels may compute a source coordinate
# src = scale * (o + 0.5) - 0.5 with an FMA (one rounding instead of two), so a weight can differ by
# one ulp of src, up to the input extent times 2^-23, and the output by that times a neighbour
# difference (at most 2 max |x|).
RTOL_INTERP = 2e-6


def _atol(x, torch_coords=False):
    fin = np.abs(x[np.isfinite(x)])
    m = max(1.0, float(fin.max()) if fin.size else 1.0)
    extent = max(x.shape[2:]) if torch_coords else 0
    return 1e-6 * m + extent * 2.0 ** -23 * 2 * m


def _torch():
    return importorskip("torch")


def _rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def _check(got, want, x, mode, what, torch_coords=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.float32 and got.shape == want.shape, "%s: %s %s vs %s" % (what, got.dtype, got.shape, want.shape)
    assert (np.isnan(got) == np.isnan(want)).all(), "%s: NaN positions differ" % what
    inf = np.isinf(want)
    assert (np.isinf(got) == inf).all() and (got[inf] == want[inf]).all(), "%s: infinities differ" % what
    fin = np.isfinite(want)
    if mode.startswith("nearest"):  # a copy of the chosen source element: exact
        assert np.array_equal(got[fin], want[fin].astype(np.float32)), "%s: values differ" % what
    else:
        if torch_coords is None:
            torch_coords = "torch" in what
        assert_close(got[fin], want[fin], rtol=RTOL_INTERP, atol=_atol(x, torch_coords), what=what)


SHAPES = [(1, 1, 1, 1), (7, 3, 5, 7), (1, 13, 4, 4), (1, 16, 15, 17), (7, 17, 3, 2), (1, 33, 9, 16),
          (2, 1, 16, 33)]
KWARGS = [dict(scale_factor=2), dict(scale_factor=0.5), dict(scale_factor=1.5), dict(scale_factor=3),
          dict(size=(7, 5)), dict(size=(3, 11)), dict(size=(1, 1)), dict(scale_factor=(2, 1.5)),
          dict(scale_factor=1.7, recompute_scale_factor=True), dict(scale_factor=0.3, recompute_scale_factor=False)]
MODES = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)]


def _valid(shape, kw):
    if "size" in kw:
        return True
    sf = kw["scale_factor"]
    sf = sf if isinstance(sf, tuple) else (sf, sf)
    return all(int(np.floor(n * s)) > 0 for n, s in zip(shape[2:], sf))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode,ac", MODES, ids=lambda v: str(v))
def test_interpolate_vs_reference_and_torch(isa, rng, shape, mode, ac):
    torch = _torch()
    x = _rand(rng, shape)
    tried = 0
    for kw in KWARGS:
        if not _valid(shape, kw):
            continue
        y = ops.interpolate(x, mode=mode, align_corners=ac, **kw)
        assert_ran(isa)
        what = "%s ac=%s %s %s" % (mode, ac, shape, kw)
        _check(y, ref.interpolate(x, mode=mode, align_corners=ac, **kw), x, mode, what)
        t = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode, align_corners=ac, **kw).numpy()
        _check(y, t, x, mode, what + " vs torch")
        tried += 1
    assert tried


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("linear", False), ("linear", True)],
                         ids=str)
def test_interpolate_3d(isa, rng, mode, ac):
    torch = _torch()
    x = _rand(rng, (7, 13, 17))
    x.reshape(-1)[::9] = INF
    for kw in (dict(scale_factor=2), dict(scale_factor=0.5), dict(size=23), dict(size=1), dict(scale_factor=1.5)):
        y = ops.interpolate(x, mode=mode, align_corners=ac, **kw)
        assert_ran(isa)
        t = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode, align_corners=ac, **kw).numpy()
        _check(y, t, x, mode, "%s %s vs torch" % (mode, kw))
        _check(y, ref.interpolate(x, mode=mode, align_corners=ac, **kw), x, mode, "%s %s" % (mode, kw))


@settings(deadline=None, max_examples=60)
@given(h=st.integers(1, 40), w=st.integers(1, 40), oh=st.integers(1, 90), ow=st.integers(1, 90),
       use_scale=st.booleans(), sf=st.sampled_from([0.5, 1.5, 2.0, 3.0, 0.3, 1.1, 2.5, 0.75]),
       mode=st.sampled_from(MODES), isa=st.sampled_from(ISAS))
def test_interpolate_index_rules_hypothesis(h, w, oh, ow, use_scale, sf, mode, isa):
    """Every (in, out) pair, or (in, scale) pair: torch's exact source indices (nearest is exact)."""
    torch = _torch()
    x = np.random.default_rng(h * 100 + w).standard_normal((1, 3, h, w)).astype(np.float32)
    kw = dict(scale_factor=sf) if use_scale else dict(size=(oh, ow))
    if use_scale and (int(h * sf) < 1 or int(w * sf) < 1):
        return
    with force_isa(isa):
        y = ops.interpolate(x, mode=mode[0], align_corners=mode[1], **kw)
        assert_ran(isa)
    t = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode[0], align_corners=mode[1], **kw).numpy()
    _check(y, t, x, mode[0], "%s %s vs torch" % (mode, kw))


@pytest.mark.parametrize("mode,ac", MODES, ids=str)
def test_interpolate_nan_inf(isa, rng, mode, ac):
    torch = _torch()
    x = _rand(rng, (2, 5, 6, 7))
    f = x.reshape(-1)
    f[::13] = np.nan
    f[1::17] = INF
    f[2::19] = -INF
    for kw in (dict(scale_factor=2), dict(size=(6, 7)), dict(size=(11, 4)), dict(scale_factor=1.5)):
        y = ops.interpolate(x, mode=mode, align_corners=ac, **kw)
        assert_ran(isa)
        t = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode, align_corners=ac, **kw).numpy()
        _check(y, t, x, mode, "%s %s vs torch" % (mode, kw))
        _check(y, ref.interpolate(x, mode=mode, align_corners=ac, **kw), x, mode, "%s %s" % (mode, kw))


@pytest.mark.parametrize("mode,ac", MODES, ids=str)
@pytest.mark.parametrize("geom", [(1, 1, 1, 1, 3, 2), (7, 3, 5, 13, 10, 9), (1, 4, 4, 16, 8, 8), (2, 7, 6, 17, 3, 4),
                                  (1, 2, 3, 33, 7, 7)], ids=str)
def test_interp_nhwc_driver(isa, rng, mode, ac, geom):
    """The executor's NHWC resampling (vectorised over channels) equals the NCHW answer."""
    n, h, w, c, oh, ow = geom
    x = _rand(rng, (n, h, w, c))
    m = {"nearest": _C.INTERP_NEAREST, "nearest-exact": _C.INTERP_NEAREST_EXACT, "bilinear": _C.INTERP_LINEAR}[mode]
    ty = _C.interp_axis(m, h, oh, -1.0, bool(ac))
    tx = _C.interp_axis(m, w, ow, -1.0, bool(ac))
    y = np.empty((n, oh, ow, c), np.float32)
    _C.interp2d_nhwc(-1, m, x, ty, tx, y, 2)
    assert_ran(isa)
    want = ref.interpolate(x.transpose(0, 3, 1, 2), size=(oh, ow), mode=mode, align_corners=ac)
    _check(y, want.transpose(0, 2, 3, 1), x, mode, "nhwc %s" % mode)
    # and the NCHW driver gives the very same bits
    yc = ops.interpolate(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), size=(oh, ow), mode=mode, align_corners=ac)
    assert np.array_equal(yc, y.transpose(0, 3, 1, 2))


def test_interpolate_isas_agree(rng):
    """No FMA in the resampling kernels: every ISA gives the same bits."""
    x = _rand(rng, (2, 17, 13, 19))
    outs = []
    for isa in ISAS:
        with force_isa(isa):
            outs.append([ops.interpolate(x, scale_factor=s, mode="bilinear", align_corners=ac)
                         for s in (2, 0.5, 1.5) for ac in (False, True)])
    for o in outs[1:]:
        for a, b in zip(outs[0], o):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("mode,ac", MODES, ids=str)
def test_interpolate_thread_invariant(isa, rng, mode, ac):
    x = _rand(rng, (4, 64, 28, 28))  # outputs above the drivers' one-thread limit (256K floats)
    try:
        out = []
        for nt in (1, 2):
            set_num_threads(nt)
            out.append([ops.interpolate(x, mode=mode, align_corners=ac, **kw)
                        for kw in (dict(scale_factor=2), dict(size=(41, 37)), dict(scale_factor=0.5))])
            assert_ran(isa)
    finally:
        set_num_threads(None)
    for a, b in zip(*out):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interp_nhwc_thread_invariant(isa, rng, mode):
    x = _rand(rng, (2, 56, 56, 64))
    m = _C.INTERP_NEAREST if mode == "nearest" else _C.INTERP_LINEAR
    ty, tx = _C.interp_axis(m, 56, 112, 2.0, False), _C.interp_axis(m, 56, 112, 2.0, False)
    outs = []
    for nt in (1, 2):
        y = np.empty((2, 112, 112, 64), np.float32)
        _C.interp2d_nhwc(-1, m, x, ty, tx, y, nt)
        assert_ran(isa)
        outs.append(y)
    assert np.array_equal(outs[0], outs[1])


def test_interpolate_bad_arguments(rng):
    x = _rand(rng, (1, 2, 4, 5))
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        ops.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        ops.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        ops.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="needs a 4D input"):
        ops.interpolate(x[0], scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="greater than 0"):
        ops.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match="greater than 0"):
        ops.interpolate(x, size=(0, 3))
    with pytest.raises(ValueError, match="mode"):
        ops.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="size"):
        ops.interpolate(x, size=(1, 2, 3))
    with pytest.raises(ValueError, match="scale_factor"):
        ops.interpolate(x, scale_factor=-2)
    with pytest.raises(ValueError, match="out of"):
        _C.interp2d_nchw(-1, _C.INTERP_NEAREST, x.reshape(2, 4, 5), (np.full(3, 4, np.int32),) * 2 + (np.zeros(3, np.float32),) * 2,
                         _C.interp_axis(_C.INTERP_NEAREST, 5, 6, -1.0, False), np.empty((2, 3, 6), np.float32), 1)


@settings(max_examples=60, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 90), use_scale=st.booleans(),
       scale=st.floats(0.25, 5.0, allow_nan=False, width=32))
def test_interp_axis_asymmetric_linear(n_in, n_out, use_scale, scale):
    """align_corners=2: ONNX's asymmetric linear coordinates (opset 9-10 'linear' Upsample / Resize), src =
    o * float32(1 / scale) (or in / out), the two samples around it clamped to the axis, no identity
    shortcut when the sizes agree; against that formula in float32 NumPy."""
    s = float(scale) if use_scale else -1.0
    i0, i1, l0, l1 = _C.interp_axis(_C.INTERP_LINEAR, n_in, n_out, s, 2)
    ratio = np.float32(1.0 / s) if use_scale else np.float32(n_in) / np.float32(n_out)
    src = np.arange(n_out, dtype=np.float32) * ratio
    idx = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - idx.astype(np.float32), 0, 1)
    assert (i0 == idx).all() and (i1 == np.minimum(idx + 1, n_in - 1)).all()
    assert np.array_equal(l1, lam.astype(np.float32)) and np.array_equal(l0, (1 - lam).astype(np.float32))
    with pytest.raises(ValueError, match="align_corners 3"):
        _C.interp_axis(_C.INTERP_LINEAR, n_in, n_out, s, 3)
