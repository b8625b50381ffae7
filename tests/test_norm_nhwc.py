"""The NHWC drivers (the graph executor's layout) of group_norm / instance_norm / layer_norm_channels,
checked against the NCHW ops and the reference through the bindings, under every ISA."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from test_norm_stats import ACT_NONE, ACT_RELU, _bound, _pc, check
from util import assert_ran

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import available_isas, force_isa


def _to_nhwc(x):
    n, c = x.shape[:2]
    return np.ascontiguousarray(x.reshape(n, c, -1).transpose(0, 2, 1))


def _from_nhwc(y, shape):
    return np.ascontiguousarray(y.transpose(0, 2, 1)).reshape(shape)


def _nhwc(kind, x, w, b, eps, act=ACT_NONE, nthreads=1, groups=None):
    xh = _to_nhwc(x)
    yh = np.empty_like(xh)
    if kind == "group":
        _C.group_norm_nhwc(-1, xh, groups, w, b, eps, act, yh, nthreads)
    elif kind == "instance":
        _C.instance_norm_nhwc(-1, xh, w, b, eps, act, yh, nthreads)
    else:
        _C.layer_norm_channels_nhwc(-1, xh, w, b, eps, act, yh, nthreads)
    return _from_nhwc(yh, x.shape)


SHAPES = [(1, 1, 1, 1), (2, 4, 1, 1), (1, 7, 3, 5), (3, 16, 4, 4), (2, 17, 5, 3), (1, 33, 7, 7), (2, 15, 16, 17),
          (1, 64, 20, 20), (2, 3, 33, 30), (1, 8, 40, 40)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_nhwc_matches_nchw(isa, rng, shape, affine):
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    c = shape[1]
    w = (rng.standard_normal(c) + 0.5).astype(np.float32) if affine else None
    b = rng.standard_normal(c).astype(np.float32) if affine else None
    for g in sorted({1, c, next(d for d in (3, 2, 1) if c % d == 0)}):
        y = _nhwc("group", x, w, b, 1e-5, groups=g)
        assert_ran(isa)
        bound = _bound(ref.group_norm(x, g), _pc(w, 4), _pc(b, 4))
        check(y, ops.group_norm(x, g, w, b), 2 * bound, "group_norm_nhwc(%d) vs NCHW" % g)
        check(y, ref.group_norm(x, g, w, b), bound, "group_norm_nhwc(%d) vs reference" % g)
    y = _nhwc("instance", x, w, b, 1e-5)
    bound = _bound(ref.instance_norm(x), _pc(w, 4), _pc(b, 4))
    check(y, ops.instance_norm(x, weight=w, bias=b), 2 * bound, "instance_norm_nhwc vs NCHW")
    check(y, ref.instance_norm(x, w, b), bound, "instance_norm_nhwc vs reference")
    if affine:  # the LayerNorm-over-channels kernels take weight and bias together
        y = _nhwc("layer", x, w, b, 1e-6)
        bound = _bound(ref.layer_norm_channels(x), _pc(w, 4), _pc(b, 4))
        check(y, ops.layer_norm_channels(x, w, b), 2 * bound, "layer_norm_channels_nhwc vs NCHW")
        check(y, ref.layer_norm_channels(x, w, b), bound, "layer_norm_channels_nhwc vs reference")


def test_nhwc_edge_values(isa, rng):
    """1e4 + noise, values near 1e30, constant channels, NaN: as the NCHW kernels."""
    x = (1e4 + 0.01 * rng.standard_normal((2, 6, 5, 5))).astype(np.float32)
    w, b = (rng.standard_normal(6) + 0.5).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    for g in (1, 2, 6):
        check(_nhwc("group", x, w, b, 1e-5, groups=g), ref.group_norm(x, g, w, b),
              _bound(ref.group_norm(x, g), _pc(w, 4), _pc(b, 4)), "1e4+noise")
        assert_ran(isa)
    x = (1e30 * (1 + 0.1 * rng.standard_normal((2, 6, 5, 5)))).astype(np.float32)
    check(_nhwc("instance", x, w, b, 1e-5), ref.instance_norm(x, w, b),
          _bound(ref.instance_norm(x), _pc(w, 4), _pc(b, 4)), "1e30")
    check(_nhwc("layer", x, w, b, 1e-6), ref.layer_norm_channels(x, w, b),
          _bound(ref.layer_norm_channels(x), _pc(w, 4), _pc(b, 4)), "1e30 LN")
    x = np.full((2, 6, 3, 3), -3.5, np.float32)
    assert np.array_equal(_nhwc("group", x, w, b, 1e-5, groups=3), np.broadcast_to(b.reshape(1, 6, 1, 1), x.shape))
    assert np.array_equal(_nhwc("layer", x, w, b, 1e-6), np.broadcast_to(b.reshape(1, 6, 1, 1), x.shape))
    x = rng.standard_normal((2, 6, 3, 3)).astype(np.float32)
    x[0, 4, 1, 1] = np.nan
    y = _nhwc("group", x, None, None, 1e-5, groups=3)
    assert np.isnan(y[0, 4:]).all() and not np.isnan(y[0, :4]).any() and not np.isnan(y[1]).any()


def test_nhwc_activation_and_threads(isa, rng):
    x = rng.standard_normal((3, 24, 30, 31)).astype(np.float32)  # > 32K floats: threaded, several chunks
    w, b = rng.standard_normal(24).astype(np.float32), rng.standard_normal(24).astype(np.float32)
    for kind in ("group", "instance", "layer"):
        y1 = _nhwc(kind, x, w, b, 1e-5, nthreads=1, groups=4)
        y2 = _nhwc(kind, x, w, b, 1e-5, nthreads=2, groups=4)
        y3 = _nhwc(kind, x, w, b, 1e-5, nthreads=3, groups=4)
        assert_ran(isa)
        assert np.array_equal(y1, y2) and np.array_equal(y1, y3), kind
        # one sample on 2 threads takes the three-phase path, on 1 thread the per-sample one
        assert np.array_equal(_nhwc(kind, x[:1], w, b, 1e-5, nthreads=2, groups=4), y1[:1]), kind
        big = np.repeat(x[:1], 10, axis=3)  # one sample larger than L2: three phases at any count
        assert np.array_equal(_nhwc(kind, big, w, b, 1e-5, nthreads=1, groups=4),
                              _nhwc(kind, big, w, b, 1e-5, nthreads=2, groups=4)), kind
        yr = _nhwc(kind, x, w, b, 1e-5, act=ACT_RELU, nthreads=2, groups=4)
        assert np.array_equal(yr, np.maximum(y1, 0)), kind


def test_nhwc_batch_independent(isa, rng):
    x = rng.standard_normal((4, 12, 20, 21)).astype(np.float32)
    for kind in ("group", "instance", "layer"):
        full = _nhwc(kind, x, None, None, 1e-5, nthreads=2, groups=3)
        for i in range(4):
            assert np.array_equal(_nhwc(kind, x[i:i + 1], None, None, 1e-5, groups=3)[0], full[i]), kind
        assert_ran(isa)


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 3), c=st.sampled_from([1, 2, 3, 7, 15, 16, 17, 33, 48]),
       hw=st.sampled_from([1, 7, 16, 17, 255, 256, 257, 600]), gi=st.integers(0, 5), seed=st.integers(0, 2 ** 31 - 1))
def test_nhwc_sweep(n, c, hw, gi, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c, hw, 1)) + rng.standard_normal()).astype(np.float32)
    w, b = (rng.standard_normal(c) + 0.5).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    divisors = [d for d in range(1, c + 1) if c % d == 0]
    g = divisors[gi % len(divisors)]
    for isa in available_isas():
        with force_isa(isa):
            check(_nhwc("group", x, w, b, 1e-5, groups=g), ref.group_norm(x, g, w, b),
                  _bound(ref.group_norm(x, g), _pc(w, 4), _pc(b, 4)), "gn nhwc %s" % isa)
            assert_ran(isa)
            check(_nhwc("layer", x, w, b, 1e-6), ref.layer_norm_channels(x, w, b),
                  _bound(ref.layer_norm_channels(x), _pc(w, 4), _pc(b, 4)), "lnc nhwc %s" % isa)


def test_norm_kernels_stay_in_bounds():
    """Every norm driver on arrays that end at a PROT_NONE page: no read or write past the end."""
    from test_norm import run_guarded
    run_guarded('''
from fastnorm import _C
A = (1, 0.0, 6.0)
for isa in available_isas():
    with force_isa(isa):
        for n, c, hw in [(1, 1, 1), (2, 3, 1), (1, 5, 7), (2, 17, 3), (1, 33, 17), (3, 16, 15), (1, 40, 300),
                         (1, 2, 20003), (2, 9, 257)]:
            x = guarded((n, c, hw), 1.5)
            x[..., ::2] = -0.5
            w, b = guarded((c,), 2.0), guarded((c,), -1.0)
            xh = guarded((n, hw, c), 1.5)
            for nt in (1, 2):
                y = guarded((n, c, hw))
                _C.group_norm_nchw(-1, x, 1, w, b, 1e-5, A, y, nt)
                _C.instance_norm_nchw(-1, x, w, b, 1e-5, A, y, nt)
                _C.layer_norm_channels_nchw(-1, x, w, b, 1e-5, A, y, nt)
                _C.batch_norm_stats(-1, x, w, b, 1e-5, A, y, nt)
                x2, y2 = guarded((n * c, hw), 1.0), guarded((n * c, hw))
                _C.layer_norm_rows(-1, x2, guarded((hw,), 1.0), guarded((hw,), 0.0), 1e-5, A, y2, nt)
                yh = guarded((n, hw, c))
                _C.group_norm_nhwc(-1, xh, 1, w, b, 1e-5, A, yh, nt)
                _C.instance_norm_nhwc(-1, xh, w, b, 1e-5, A, yh, nt)
                _C.layer_norm_channels_nhwc(-1, xh, w, b, 1e-5, A, yh, nt)
                _C.batch_norm_stats(-1, guarded((n * hw, c, 1), 0.5), w, b, 1e-5, A, guarded((n * hw, c, 1)), nt)
print("ok")
''')
