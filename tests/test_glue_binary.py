"""add / mul with broadcasting, and the binary drivers behind them (incl. the fused-act epilogue and
the executor's NCHW / NHWC per-channel wrappers), under every ISA."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_close, assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.threads import set_num_threads

INF = float("inf")
ACT_NONE = (0, 0.0, 0.0)
ACT_RELU = (1, 0.0, INF)
# alphas exactly representable in float32: the kernel multiplies by float(alpha), the reference by
# the double; with these they agree and the only error is the one rounding of the result
ALPHAS = [1, 2.5, -0.75, 3, 0]


def _torch():
    return importorskip("torch")


def assert_same_nonfinite(got, want, what):
    """NaN and +-inf exactly where the reference has them (assert_close checks the finite rest)."""
    got, want = np.asarray(got), np.asarray(want)
    assert (np.isnan(got) == np.isnan(want)).all(), "%s: NaN positions differ" % what
    inf = np.isinf(want)
    assert (np.isinf(got) == inf).all() and (got[inf] == want[inf]).all(), "%s: infinities differ" % what


def _check_nonfinite(got, want, what):
    assert_same_nonfinite(got, want, what)
    fin = np.isfinite(np.asarray(want))
    assert_close(np.asarray(got)[fin], np.asarray(want)[fin], what=what)


def _rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


# (input shape, other shape): residual adds of equal shapes, SE per-channel (N,C,1,1), bias-like
# (C,1,1) / (1,C,1,1), NHWC-like per-pixel vectors (.., C) , scalars, broadcast of the first operand,
# both broadcast, C = 1/3/13/16/17/33, 1x1 images, batch 1 and 7.
PAIRS = [
    ((7, 13, 5, 5), (7, 13, 5, 5)), ((1, 16, 1, 1), (1, 16, 1, 1)), ((1, 33, 17, 7), (1, 33, 17, 7)),
    ((7, 17, 9, 9), (7, 17, 1, 1)), ((1, 3, 16, 16), (1, 3, 1, 1)), ((2, 33, 7, 15), (33, 1, 1)),
    ((7, 13, 3, 3), (1, 13, 1, 1)), ((1, 1, 7, 7), (1, 1, 1, 1)),
    ((7, 5, 5, 16), (7, 1, 1, 16)), ((2, 3, 3, 17), (17,)), ((1, 7, 7, 33), (1, 1, 1, 33)),
    ((2, 13, 4, 4), ()), ((), (2, 13, 4, 4)), ((7, 1, 1), (1, 1, 1)),
    ((7, 1, 1, 1), (7, 17, 3, 3)), ((1, 16, 1, 1), (7, 16, 5, 5)),
    ((3, 1, 5), (1, 4, 1)), ((7, 1, 6, 1), (1, 3, 1, 5)), ((13,), (4, 1)), ((2, 1, 3), (3,)),
]


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
def test_add_mul_vs_reference(isa, rng, shapes):
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    for alpha in ALPHAS:
        y = ops.add(a, b, alpha=alpha)
        assert_ran(isa)
        assert_close(y, ref.add(a, b, alpha), what="add alpha=%s" % alpha)
    y = ops.mul(a, b)
    assert_ran(isa)
    assert_close(y, ref.mul(a, b), what="mul")


@pytest.mark.parametrize("shapes", PAIRS[::2], ids=str)
def test_add_mul_vs_torch(isa, rng, shapes):
    torch = _torch()
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert_close(ops.add(a, b), torch.add(ta, tb).numpy(), rtol=0, atol=0, what="add")  # alpha 1: exact
    assert_close(ops.add(a, b, alpha=2.5), torch.add(ta, tb, alpha=2.5).numpy(), what="add alpha")
    assert_close(ops.mul(a, b), torch.mul(ta, tb).numpy(), rtol=0, atol=0, what="mul")
    assert_ran(isa)


def test_scalars_and_numbers(isa, rng):
    torch = _torch()
    a = _rand(rng, (2, 17, 3, 3))
    for other in (2, -1.5, np.float32(0.25), np.float64(3.0)):
        assert_close(ops.add(a, other), torch.add(torch.from_numpy(a), float(other)).numpy(), what="add %r" % other)
        assert_close(ops.mul(a, other), torch.mul(torch.from_numpy(a), float(other)).numpy(), what="mul %r" % other)
    assert_ran(isa)
    y = ops.add(np.float32(2), np.float32(3), alpha=2)
    assert y.shape == () and y.dtype == np.float32 and y == 8


@settings(deadline=None, max_examples=60)
@given(data=st.data())
def test_broadcast_hypothesis(data):
    """Random broadcast-compatible shape pairs (sizes 1, 7, 15, 16, 17, 33 and dims of 1 on either side)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    nd = data.draw(st.integers(1, 5))
    out = data.draw(st.lists(st.sampled_from([1, 2, 3, 7, 15, 16, 17, 33]), min_size=nd, max_size=nd))
    if np.prod(out) > 40000:
        out[-1] = 1
    shapes = []
    for _ in range(2):
        keep = data.draw(st.integers(0, nd))  # drop leading dims
        s = [d if data.draw(st.booleans()) else 1 for d in out[nd - keep:]]
        shapes.append(tuple(s))
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    alpha = data.draw(st.sampled_from(ALPHAS))
    isa = data.draw(st.sampled_from(__import__("conftest").ISAS))
    from fastnorm.testing import force_isa
    with force_isa(isa):
        y = ops.add(a, b, alpha=alpha)
        assert_ran(isa)
        m = ops.mul(a, b)
    assert_close(y, ref.add(a, b, alpha), what="add %r %r" % tuple(shapes))
    assert_close(m, ref.mul(a, b), what="mul %r %r" % tuple(shapes))


@pytest.mark.parametrize("shapes", [((7, 13, 3, 3), (7, 13, 3, 3)), ((2, 17, 5, 5), (2, 17, 1, 1)),
                                    ((3, 4, 4, 33), (33,)), ((5,), ())], ids=str)
def test_nan_inf_pass_through(isa, rng, shapes):
    torch = _torch()
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    fa = a.reshape(-1)
    fa[::5] = np.nan
    fa[1::7] = INF
    fa[2::9] = -INF
    if b.size > 1:
        b.reshape(-1)[3::4] = INF
    for alpha in (1, -0.75):
        y = ops.add(a, b, alpha=alpha)
        assert_ran(isa)
        _check_nonfinite(y, ref.add(a, b, alpha), "add")
        _check_nonfinite(y, torch.add(torch.from_numpy(a), torch.from_numpy(b), alpha=alpha).numpy(), "add vs torch")
    y = ops.mul(a, b)
    _check_nonfinite(y, ref.mul(a, b), "mul")
    _check_nonfinite(y, torch.mul(torch.from_numpy(a), torch.from_numpy(b)).numpy(), "mul vs torch")


# -------------------------------------------------------------------------- drivers: act, layouts

def _merged_binary(op, alpha, shape, sa, sb, a, b, act, nthreads=2):
    y = np.empty(int(np.prod(shape)), np.float32)
    _C.binary(-1, op, alpha, shape, sa, sb, a.reshape(-1), b.reshape(-1), act, y, nthreads)
    return y


@pytest.mark.parametrize("n", [1, 7, 15, 16, 17, 33, 100, 40000], ids=str)
def test_fused_relu_same_shape(isa, rng, n):
    a, b = _rand(rng, n), _rand(rng, n)
    a[::11] = np.nan
    for op, want in [(_C.BIN_ADD, ref.add(a, b, 2.5)), (_C.BIN_MUL, ref.mul(a, b))]:
        y = _merged_binary(op, 2.5, (n,), (1,), (1,), a, b, ACT_RELU)
        assert_ran(isa)
        assert_close(y, ref.relu(want), what="op %d + relu" % op)
    # in place: y aliases a (the executor's residual add into the conv output)
    a2 = a.copy()
    _C.binary(-1, _C.BIN_ADD, 1.0, (n,), (1,), (1,), a2, b, ACT_RELU, a2, 2)
    assert np.array_equal(a2, ref.relu(ref.add(a, b)).astype(np.float32), equal_nan=True)


@pytest.mark.parametrize("geom", [(1, 1, 1), (7, 13, 9), (2, 16, 49), (1, 17, 3136), (7, 33, 1)], ids=str)
def test_channel_drivers_nchw_nhwc(isa, rng, geom):
    """The executor's per-channel cases: NCHW (a scalar per plane) and NHWC (a vector per pixel),
    scale per sample (SE) or shared, both operand orders, with relu fused."""
    n, c, hw = geom
    x = _rand(rng, (n, c, hw))
    for per_sample in (True, False):
        s = _rand(rng, (n, c) if per_sample else (c,))
        s4 = s.reshape((n, c, 1) if per_sample else (1, c, 1))
        for op in (_C.BIN_ADD, _C.BIN_RADD, _C.BIN_MUL):
            want = (ref.add(x, s4, -0.75) if op == _C.BIN_ADD else ref.add(s4, x, -0.75) if op == _C.BIN_RADD
                    else ref.mul(x, s4))
            y = _merged_binary(op, -0.75, (n, c, hw), (c * hw, hw, 1), (c if per_sample else 0, 1, 0), x, s, ACT_RELU)
            assert_ran(isa)
            assert_close(y.reshape(n, c, hw), ref.relu(want), what="nchw op %d" % op)
            xh = np.ascontiguousarray(x.transpose(0, 2, 1))  # (n, hw, c)
            y = _merged_binary(op, -0.75, (n, hw, c), (c * hw, c, 1), (c if per_sample else 0, 0, 1), xh, s, ACT_RELU)
            assert_close(y.reshape(n, hw, c), ref.relu(want).transpose(0, 2, 1), what="nhwc op %d" % op)


@pytest.mark.parametrize("geom", [(1, 1, 1), (7, 13, 9), (2, 16, 49), (3, 17, 3136), (7, 33, 1)], ids=str)
def test_executor_wrappers(isa, rng, geom):
    """fn_binary_same / fn_binary_channel_nchw / _nhwc: the C entry points the executor calls."""
    n, c, hw = geom
    x, z = _rand(rng, (n, c, hw)), _rand(rng, (n, c, hw))
    y = np.empty_like(x)
    _C.binary_same(-1, _C.BIN_ADD, 1.0, x.reshape(-1), z.reshape(-1), ACT_RELU, y.reshape(-1), 2)
    assert_ran(isa)
    assert np.array_equal(y, ref.relu(ref.add(x, z)).astype(np.float32))
    for per_sample in (True, False):
        s = _rand(rng, (n, c) if per_sample else (c,))
        s3 = s.reshape((n, c, 1) if per_sample else (1, c, 1))
        for op in (_C.BIN_ADD, _C.BIN_RADD, _C.BIN_MUL):
            want = (ref.add(x, s3, 2.5) if op == _C.BIN_ADD else ref.add(s3, x, 2.5) if op == _C.BIN_RADD
                    else ref.mul(x, s3))
            _C.binary_channel(-1, op, 2.5, False, x, s.reshape(-1), ACT_NONE, y, 2)
            assert_close(y, want, what="nchw wrapper op %d" % op)
            xh = np.ascontiguousarray(x.transpose(0, 2, 1))
            yh = np.empty_like(xh)
            _C.binary_channel(-1, op, 2.5, True, xh, s.reshape(-1), ACT_RELU, yh, 2)
            assert_close(yh, ref.relu(want).transpose(0, 2, 1), what="nhwc wrapper op %d" % op)


@pytest.mark.parametrize("shapes", [((8, 64, 56, 56), (8, 64, 56, 56)), ((8, 64, 56, 56), (8, 64, 1, 1)),
                                    ((2, 64, 56, 56), (64, 1, 1)), ((4, 56, 56, 64), (4, 1, 1, 64)),
                                    ((30, 1, 200), (1, 77, 1)), ((1, 3, 300, 301), ())], ids=str)
def test_thread_invariant(isa, rng, shapes):
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    try:
        out = []
        for nt in (1, 2):
            set_num_threads(nt)
            out.append((ops.add(a, b, alpha=-0.75), ops.mul(a, b)))
            assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert_close(out[1][0], ref.add(a, b, -0.75))


def test_bad_arguments(rng):
    a = _rand(rng, (2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"other: shape \(2, 2, 4, 4\) cannot be broadcast"):
        ops.add(a, a[:, :2])
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ops.mul(a, _rand(rng, (5,)))
    with pytest.raises(TypeError, match="input"):
        ops.add(a.astype(np.int32), a)
    with pytest.raises(TypeError, match="other"):
        ops.mul(a, "x")
    with pytest.raises(TypeError, match="alpha"):
        ops.add(a, a, alpha="2")
    with pytest.raises(ValueError, match="reach past"):
        _C.binary(-1, _C.BIN_ADD, 1.0, (4, 5), (5, 1), (0, 1), np.zeros(20, np.float32),
                  np.zeros(4, np.float32), ACT_NONE, np.zeros(20, np.float32), 1)
    with pytest.raises(ValueError, match="output has"):
        _C.binary(-1, _C.BIN_ADD, 1.0, (4,), (1,), (1,), np.zeros(4, np.float32),
                  np.zeros(4, np.float32), ACT_NONE, np.zeros(3, np.float32), 1)


def test_empty(rng):
    a = _rand(rng, (2, 0, 3))
    assert ops.add(a, _rand(rng, (3,))).shape == (2, 0, 3)
    assert ops.mul(a, np.float32(2)).shape == (2, 0, 3)


def test_isas_agree_exactly_where_one_rounding(rng):
    """alpha == 1 adds and muls round once in every ISA: identical bits across ISAs."""
    from conftest import ISAS
    from fastnorm.testing import force_isa
    a, b, s = _rand(rng, (3, 17, 9, 7)), _rand(rng, (3, 17, 9, 7)), _rand(rng, (3, 17, 1, 1))
    outs = []
    for isa in ISAS:
        with force_isa(isa):
            outs.append((ops.add(a, b), ops.mul(a, s), ops.add(s, a), ops.mul(a, 0.3)))
    for o in outs[1:]:
        for x, y in zip(outs[0], o):
            assert np.array_equal(x, y)
