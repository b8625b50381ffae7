"""softmax / log_softmax over every axis and prelu, under every ISA, vs the float64 reference and torch.

Tolerances (reason): softmax rounds x - max (relative error |x - max| * 2^-24 in exp), exp itself
(< 2e-7), the float32 sum of up to L terms in VW lanes (~ (L / VW + log2 VW) * 2^-24 relative) and
the scaling: |got - want| <= RTOL_SM * (1 + |x - max| + L / 8) * |want| + 2^-148.
log_softmax: absolute, a few ulps of the magnitudes involved plus the sum's relative error:
RTOL_SM * (|x - max| + |log sum| + |want| + 1 + L / 8). prelu is a compare and one product: exact
vs torch, 1 rounding vs float64.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_ran, importorskip

import fastnorm
import fastnorm.ops as ops
from fastnorm.threads import set_num_threads

RTOL_SM = 6 * 2.0 ** -24  # exp (< 2e-7, 3.4 of these) + the 1/sum and the product roundings
INF = float("inf")

SHAPES = [(1, 1), (7, 13), (3, 1000), (1000, 3), (2, 1, 5), (3, 17, 33), (5, 16, 1), (2, 3, 4, 5),
          (1, 64, 7, 7), (2, 33, 1, 1), (1, 1, 1, 1), (2, 5, 9, 17)]


def _data(rng, shape, scale=5.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _check_softmax(got, x, dim, log, what="softmax"):
    x64 = x.astype(np.float64)
    want = (ref.log_softmax if log else ref.softmax)(x64, dim)
    assert got.dtype == np.float32 and got.shape == x.shape
    nan_w = np.isnan(want)
    assert (np.isnan(got) == nan_w).all(), "%s: NaN positions differ" % what
    with np.errstate(invalid="ignore"):
        d = np.abs(x64 - np.max(x64, axis=dim, keepdims=True))
    d = np.where(np.isfinite(d), d, 0.0)
    L = x.shape[dim]
    ok = ~nan_w & np.isfinite(want)
    inf = np.isinf(want)
    assert (got[inf] == want[inf]).all(), "%s: infinities differ" % what
    g = got.astype(np.float64)
    if log:
        with np.errstate(invalid="ignore"):
            ls = np.abs(np.log(np.exp(x64 - np.max(x64, axis=dim, keepdims=True)).sum(axis=dim, keepdims=True)))
        ls = np.where(np.isfinite(ls), ls, 0.0)
        # (x - max) and the final subtraction round at their magnitudes; the sum's relative error
        # (1 + L/8 ulps) is an absolute error of log(sum)
        bound = RTOL_SM * (d + ls + np.abs(want) + 1 + L / 8)
    else:
        bound = RTOL_SM * (1 + d + L / 8) * np.abs(want) + 2.0 ** -148
    bound = np.broadcast_to(bound, want.shape)
    err = np.abs(g - want)
    bad = ok & ~(err <= bound)
    assert not bad.any(), "%s: %d off, worst err %.3g (bound %.3g)" % (
        what, bad.sum(), err[bad].max(), bound[bad][np.argmax(err[bad])])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_every_axis(isa, rng, shape, log):
    torch = importorskip("torch")
    x = _data(rng, shape)
    fn = ops.log_softmax if log else ops.softmax
    tf = torch.log_softmax if log else torch.softmax
    for dim in list(range(len(shape))) + [-1]:
        y = fn(x, dim)
        assert_ran(isa)
        _check_softmax(y, x, dim % len(shape), log, "dim=%d" % dim)
        t = tf(torch.from_numpy(x), dim).numpy()
        _check_softmax(t, x, dim % len(shape), log, "torch itself dim=%d" % dim)  # same bound holds for torch
        assert np.allclose(y, t, rtol=1e-5, atol=1e-6 if log else 1e-7), "vs torch dim=%d" % dim


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_large_logits_and_infinities(isa, rng, log, dim):
    torch = importorskip("torch")
    x = _data(rng, (6, 1000), 50.0)
    x[0, 3] = 1e30             # one huge logit: probability 1 there, 0 elsewhere
    x[1, ::7] = -INF           # -inf entries: probability 0 (log: -inf)
    x[2, :] = -INF             # all -inf row: NaN, as torch
    x[3, 5] = INF              # +inf: inf - inf = NaN, the row is NaN, as torch
    x[4, 10] = np.nan          # NaN: the row is NaN
    x[5, :] = -1e30            # all equal, huge: uniform
    if dim == 0:
        x = np.ascontiguousarray(x.T)
    fn = ops.log_softmax if log else ops.softmax
    y = fn(x, dim)
    assert_ran(isa)
    # the edges (inf, NaN) against float64 NumPy; torch only where every input of the slice is finite
    _check_softmax(y, x, dim, log)
    t = (torch.log_softmax if log else torch.softmax)(torch.from_numpy(x), dim).numpy()
    fin = np.broadcast_to(np.isfinite(x).all(axis=dim, keepdims=True), x.shape) & np.isfinite(t)
    assert fin.sum() >= 2000
    assert np.allclose(y[fin], t[fin], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,dim", [((4, 1000), 1), ((1000, 4), 0), ((8, 64, 56), 1), ((8, 64, 56), 2),
                                       ((2, 64, 30, 30), 1)], ids=str)
def test_softmax_thread_invariant(isa, rng, shape, dim):
    x = _data(rng, shape)
    try:
        set_num_threads(1)
        a = ops.softmax(x, dim), ops.log_softmax(x, dim)
        set_num_threads(2)
        b = ops.softmax(x, dim), ops.log_softmax(x, dim)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    for p, q in zip(a, b):
        assert np.array_equal(p.view(np.int32), q.view(np.int32))


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=4), seed=st.integers(0, 99), data=st.data())
def test_softmax_hypothesis(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = _data(np.random.default_rng(seed), shape, 10.0)
    for log in (False, True):
        y = (ops.log_softmax if log else ops.softmax)(x, dim)
        _check_softmax(y, x, dim % len(shape), log)


def test_softmax_arguments():
    x = np.ones((2, 3), np.float32)
    with pytest.warns(UserWarning, match="implicit dimension"):
        y = ops.softmax(x)
    assert np.allclose(y, 1 / 3)
    with pytest.raises(ValueError, match="dim 2 out of range for a 2D input"):
        ops.softmax(x, 2)
    with pytest.raises(TypeError, match="dim must be an int"):
        ops.log_softmax(x, 1.0)
    with pytest.raises(TypeError, match="dtype"):
        ops.softmax(x, 1, dtype=np.float64)
    assert ops.softmax(np.float32(3.0), 0) == 1  # 0-d, as torch
    assert ops.softmax(np.zeros((0, 4), np.float32), 1).shape == (0, 4)


# --------------------------------------------------------------------------------------------- prelu

@pytest.mark.parametrize("shape", [(5,), (7, 13), (1, 1), (2, 3, 4, 5), (1, 17, 1, 1), (3, 33, 7), (2, 16, 9, 9),
                                   (1, 5, 130, 130)], ids=str)
@pytest.mark.parametrize("shared", [False, True], ids=["per-channel", "shared"])
def test_prelu(isa, rng, shape, shared):
    torch = importorskip("torch")
    x = _data(rng, shape)
    x.flat[:4] = [np.nan, -INF, -0.0, INF][: min(4, x.size)]
    c = 1 if shared or len(shape) < 2 else shape[1]
    w = rng.standard_normal(c).astype(np.float32)
    y = ops.prelu(x, w)
    assert_ran(isa)
    want = ref.prelu(x, w)
    assert np.allclose(y, want, rtol=2.0 ** -24, atol=0, equal_nan=True)
    t = torch.nn.functional.prelu(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    assert np.array_equal(y, t, equal_nan=True)
    assert np.array_equal(np.signbit(y[y == 0]), np.signbit(t[t == 0]))


def test_prelu_thread_invariant_and_errors(isa, rng):
    x = _data(rng, (4, 37, 40, 40))
    w = rng.standard_normal(37).astype(np.float32)
    try:
        set_num_threads(1)
        a = ops.prelu(x, w)
        set_num_threads(2)
        b = ops.prelu(x, w)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="weight has 3 values, expected 1 or 37"):
        ops.prelu(x, w[:3])
    with pytest.raises(ValueError, match="no channel dim"):
        ops.prelu(x[0, 0, 0], w)


@pytest.mark.parametrize("c", [1, 5, 16, 37, 128], ids=lambda c: "c%d" % c)
@pytest.mark.parametrize("shared", [False, True], ids=["per-channel", "shared"])
def test_prelu_channels_last_in_a_model(isa, c, shared):
    """In a model prelu runs on NHWC activations (fn_act.h, prelu_cols: rows of c channels, each its own
    slope): conv -> BN -> PReLU -> conv against torch, odd channel counts, batch 2, 1x1 to 9x11 maps."""
    torch = importorskip("torch")
    torch.manual_seed(c)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, c, 3, padding=1), torch.nn.BatchNorm2d(c),
                              torch.nn.PReLU(1 if shared else c), torch.nn.Conv2d(c, 4, 1)).eval()
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[2].weight.uniform_(-0.5, 0.5)
    for shape in [(2, 3, 9, 11), (1, 3, 1, 1)]:
        x = np.random.default_rng(c).normal(0, 1, shape).astype(np.float32)
        model = fastnorm.from_torch(net, torch.from_numpy(x))
        got = model.predict(x)
        assert_ran(isa)
        with torch.no_grad():
            want = net(torch.from_numpy(x)).numpy()
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
