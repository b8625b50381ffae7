"""Every activation of fastnorm.ops under every ISA, vs the float64 NumPy reference and vs torch.

Tolerance (one place, with the reason): a result must be within RTOL * (|f(x)| + |x f'(x)|) of the
float64 reference, RTOL = 3 float32 ulps (3 * 2^-23), plus 2 denormal ulps (2^-148) for results in
the denormal range. The |x f'(x)| term is the "mixed" part: a float32 kernel may round an inner
argument (x * beta, x / alpha, the cubic of gelu's tanh form) once, which moves f by about
|x f'(x)| * 2^-24; where f is well conditioned the bound is simply 3 ulps relative.
vs torch the same bound, plus TORCH_SLACK[name] * 2^-24 * |x| where torch's own float32 formula
cancels (gelu's 1 + erf(x/sqrt2) for x < 0, 1 + tanh(u) likewise) or its erf is coarser: there
torch is the less accurate of the two, so the comparison allows torch's error, not ours.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm.threads import set_num_threads

ULP = 2.0 ** -23
RTOL = 3 * ULP
DENORM_ATOL = 2.0 ** -148
# torch's vectorised float32 erf is off by up to ~6e-7 absolute near |z| = 2.4 (measured: gelu(-3.389)
# differs from float64 by 1e-6), and 1 + erf / 1 + tanh turn that into |x|-scaled absolute error
TORCH_SLACK = {"gelu": 32.0, "gelu_tanh": 4.0, "mish": 2.0}
INF, NAN = float("inf"), float("nan")

# name -> (fastnorm, reference, torch (given torch.nn.functional, a tensor))
ACTS = {
    "relu6": (ops.relu6, ref.relu6, lambda F, t: F.relu6(t)),
    "hardtanh": (lambda x: ops.hardtanh(x, -2.0, 3.5), lambda x: ref.hardtanh(x, -2.0, 3.5),
                 lambda F, t: F.hardtanh(t, -2.0, 3.5)),
    "clamp": (lambda x: ops.clamp(x, -0.5, 2.0), lambda x: ref.hardtanh(x, -0.5, 2.0),
              lambda F, t: t.clamp(-0.5, 2.0)),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.2), lambda x: ref.leaky_relu(x, 0.2),
                   lambda F, t: F.leaky_relu(t, 0.2)),
    "elu": (lambda x: ops.elu(x, 1.3), lambda x: ref.elu(x, 1.3), lambda F, t: F.elu(t, 1.3)),
    "selu": (ops.selu, ref.selu, lambda F, t: F.selu(t)),
    "celu": (lambda x: ops.celu(x, 0.7), lambda x: ref.celu(x, 0.7), lambda F, t: F.celu(t, 0.7)),
    "sigmoid": (ops.sigmoid, ref.sigmoid, lambda F, t: F.sigmoid(t)),
    "tanh": (ops.tanh, ref.tanh, lambda F, t: F.tanh(t)),
    "silu": (ops.silu, ref.silu, lambda F, t: F.silu(t)),
    "gelu": (ops.gelu, ref.gelu, lambda F, t: F.gelu(t)),
    "gelu_tanh": (lambda x: ops.gelu(x, approximate="tanh"), lambda x: ref.gelu(x, "tanh"),
                  lambda F, t: F.gelu(t, approximate="tanh")),
    "hardsigmoid": (ops.hardsigmoid, ref.hardsigmoid, lambda F, t: F.hardsigmoid(t)),
    "hardswish": (ops.hardswish, ref.hardswish, lambda F, t: F.hardswish(t)),
    "mish": (ops.mish, ref.mish, lambda F, t: F.mish(t)),
    "softsign": (ops.softsign, lambda x: np.asarray(x, np.float64) / (1 + np.abs(np.asarray(x, np.float64))),
                 lambda F, t: F.softsign(t)),
    "softplus": (ops.softplus, ref.softplus, lambda F, t: F.softplus(t)),
    "abs": (ops.abs, lambda x: np.abs(np.asarray(x, np.float64)), lambda F, t: t.abs()),
    "softplus_b2_t5": (lambda x: ops.softplus(x, beta=2.0, threshold=5.0), lambda x: ref.softplus(x, 2.0, 5.0),
                       lambda F, t: F.softplus(t, beta=2.0, threshold=5.0)),
    "logsigmoid": (ops.logsigmoid, ref.logsigmoid, lambda F, t: F.logsigmoid(t)),
}
INPLACE = ["relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "silu", "hardsigmoid", "hardswish", "mish"]

FINITE_SPECIALS = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 1e-10, -1e-10, 1e4, -1e4, 3e38, -3e38,
                            -3.0, 3.0, 6.0, -1.0, 1.0, 20.0, 20.000002, 10.0, 2.5, 0.5], np.float32)


def _sweep():
    """dense [-30, 30] plus the special values"""
    return np.concatenate([np.linspace(-30, 30, 240001, dtype=np.float32), FINITE_SPECIALS])


def _bound(x, refname_fn):
    """RTOL * (|f| + |x f'(x)|) + denormal slack, x f'(x) by a central difference in x's log"""
    xd = x.astype(np.float64)
    with np.errstate(all="ignore"):
        f = refname_fn(xd)
        h = 1e-6
        xf = (refname_fn(xd * (1 + h)) - refname_fn(xd * (1 - h))) / (2 * h)
        xf = np.where(np.isfinite(xf), xf, 0.0)
    return f, RTOL * (np.abs(f) + np.abs(xf)) + DENORM_ATOL


def check(got, x, want, bound, what):
    got = np.asarray(got)
    assert got.dtype == np.float32 and got.shape == x.shape, (got.dtype, got.shape)
    want = np.asarray(want, np.float64)
    with np.errstate(over="ignore"):
        want = np.where(np.isinf(want.astype(np.float32)), want.astype(np.float32), want)
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert (nan_g == nan_w).all(), "%s: NaN positions differ at x=%s" % (what, x[nan_g != nan_w][:8])
    inf = np.isinf(want)
    assert (got[inf] == want[inf]).all(), "%s: infinities differ at x=%s" % (what, x[inf][got[inf] != want[inf]][:8])
    fin = np.isfinite(want)
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    bad = ~(err <= bound[fin])
    if bad.any():
        i = np.argmax(np.where(bad, err / bound[fin], 0))
        raise AssertionError("%s: %d of %d off; worst at x=%r: got %r want %r (bound %.3g)" % (
            what, bad.sum(), bad.size, float(x[fin][i]), float(got[fin][i]), want[fin][i], bound[fin][i]))


@pytest.mark.parametrize("name", list(ACTS))
def test_act_vs_reference(isa, name):
    fn, rf, _ = ACTS[name]
    x = _sweep()
    y = fn(x)
    assert_ran(isa)
    want, bound = _bound(x, rf)
    check(y, x, want, bound, name)


# The limits at +-inf (README, "Edge values"): mathematics, the same on every ISA and machine. A limit of
# 0 approached from below is -0.0, from above +0.0.
SELU_LIM = -ref.SELU_SCALE * ref.SELU_ALPHA
LIMITS = {"relu6": (6.0, 0.0), "hardtanh": (3.5, -2.0), "clamp": (2.0, -0.5), "leaky_relu": (INF, -INF),
          "elu": (INF, -1.3), "selu": (INF, SELU_LIM), "celu": (INF, -0.7), "sigmoid": (1.0, 0.0),
          "tanh": (1.0, -1.0), "silu": (INF, -0.0), "gelu": (INF, -0.0), "gelu_tanh": (INF, -0.0),
          "hardsigmoid": (1.0, 0.0), "hardswish": (INF, -0.0), "mish": (INF, -0.0), "softsign": (1.0, -1.0), "softplus": (INF, 0.0),
          "abs": (INF, INF),
          "softplus_b2_t5": (INF, 0.0), "logsigmoid": (-0.0, -INF)}
FMAX = float(np.finfo(np.float32).max)
EDGE_FINITE = np.array([0.0, -0.0, 1e-45, -1e-45, 3e-42, -3e-42, 1e-39, -1e-39, 1.1754942e-38, -1.1754942e-38,
                        1e30, -1e30, 3e38, -3e38, FMAX, -FMAX, 88.7, -88.7, 103.0, -103.0], np.float32)


def test_limits_cover_every_activation():
    assert sorted(LIMITS) == sorted(ACTS)
    for name, (hi, lo) in LIMITS.items():  # the table is the float64 reference far out, where it is finite
        with np.errstate(all="ignore"):
            far = ACTS[name][1](np.array([1e300, -1e300]))
        for want, got in zip((hi, lo), far):
            assert (got >= 1e299 if want == INF else got <= -1e299 if want == -INF
                    else abs(got - want) <= 1e-12), (name, want, got)


@pytest.mark.parametrize("name", list(ACTS))
def test_act_edge_values(isa, name):
    """+-inf give the limit, NaN (any sign or payload) gives NaN, and zeros, denormals and values near
    FLT_MAX match the float64 reference: no torch here, whose CPU paths disagree on these."""
    fn, rf, _ = ACTS[name]
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FC12345], np.uint32).view(np.float32)
    x = np.concatenate([np.array([INF, -INF], np.float32), nans, EDGE_FINITE])
    y = fn(x)
    assert_ran(isa)
    hi, lo = LIMITS[name]
    assert y[0] == hi and y[1] == lo, "%s(+-inf) = %r, %r; expected %r, %r" % (name, y[0], y[1], hi, lo)
    for got, want in ((y[0], hi), (y[1], lo)):
        if want == 0:
            assert np.signbit(got) == np.signbit(want), "%s: limit 0 with the wrong sign" % name
    assert np.isnan(y[2:6]).all(), "%s(NaN) = %s" % (name, y[2:6])
    want, bound = _bound(x[6:], rf)
    check(y[6:], x[6:], want, bound, name + " edge values")


def _ordinary(x):
    """Values torch's CPU paths agree on: finite, normal or zero, |x| <= 1e4 (no overflow in any formula)."""
    a = np.abs(x)
    return x[(a <= 1e4) & ((a == 0) | (a >= np.finfo(np.float32).tiny))]


# ops whose zero results take a sign that depends on the ISA path torch runs (AMD Zen 3 / AVX2:
# F.gelu(-0.0) and F.gelu(-30.0) are +0)
TORCH_ZERO_SIGN_VARIES = {"gelu"}
# ops whose zero results take the sign of torch's formula, not of the value it rounds: F.logsigmoid(x)
# for x > ~104 is min(x, 0) - log1p(exp(-x)) = 0 - 0 = +0, where -exp(-x) < 0 rounds to -0 (fastnorm's;
# the limit's sign, which test_act_edge_values holds it to)
TORCH_ZERO_SIGN_VARIES |= {"logsigmoid"}


@pytest.mark.parametrize("name", list(ACTS))
def test_act_vs_torch(isa, name):
    """torch is the reference for ordinary values only; edges are test_act_edge_values' job"""
    torch = importorskip("torch")
    import torch.nn.functional as F
    fn, rf, tf = ACTS[name]
    x = _ordinary(_sweep())
    y = fn(x)
    assert_ran(isa)
    t = tf(F, torch.from_numpy(x)).numpy()
    _, bound = _bound(x, rf)
    bound = bound + TORCH_SLACK.get(name, 0.0) * 2.0 ** -24 * np.abs(x.astype(np.float64))
    check(y, x, t, np.where(np.isfinite(bound), bound, 0), name + " vs torch")
    # zeros with torch's sign (relu6(-0) = -0, silu(-1e-45) = -0, ...), where torch's sign is one
    # answer: its erf gelu gives +0 on its AVX2 path for x = -0 and the underflowed tail (x < -14)
    # and -0 elsewhere, so gelu's zero signs are test_act_edge_values' alone (the limit's sign)
    z = (t == 0) & (y == 0) & (name not in TORCH_ZERO_SIGN_VARIES)
    assert np.array_equal(np.signbit(y[z]), np.signbit(t[z])), "%s: signed zeros differ at %s" % (
        name, x[z][np.signbit(y[z]) != np.signbit(t[z])])
    assert ((t == 0) == (y == 0))[np.abs(x) < 1e-30].all(), "%s: zero results differ near 0" % name


@pytest.mark.parametrize("name", ["gelu", "silu", "sigmoid", "tanh", "mish", "softplus", "elu", "hardswish"])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 16385, 70001])
def test_act_sizes_and_tails(isa, rng, name, n):
    """each element's result does not depend on its position (vector body, masked tail) or n"""
    fn = ACTS[name][0]
    x = (rng.standard_normal(70001) * 6).astype(np.float32)
    full = fn(x)
    y = fn(x[:n].copy())
    assert_ran(isa)
    assert np.array_equal(y, full[:n], equal_nan=True)
    want, bound = _bound(x[:n], ACTS[name][1])
    check(y, x[:n], want, bound, name)


@pytest.mark.parametrize("name", list(ACTS))
def test_act_thread_invariant(isa, rng, name):
    x = (rng.standard_normal(300007) * 8).astype(np.float32)
    fn = ACTS[name][0]
    try:
        set_num_threads(1)
        y1 = fn(x)
        set_num_threads(2)
        y2 = fn(x)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(y1.view(np.int32), y2.view(np.int32))


def test_gelu_same_bits_as_scalar(isa):
    """gelu's fast path is one algorithm on every ISA, its roundings included (src_c/simd/vmath.h
    fn_gelu_fast: AVX-512 spells the clamped |x| and D 2^j as vrangeps and vscalefps, the others in
    two operations each, all exact): every ISA gives the scalar kernel's bits, over the whole fast
    range, its clamp at 12.5 and the fallback below -12.5."""
    from fastnorm.testing import force_isa
    x = np.concatenate([np.linspace(-14, 14, 400001, dtype=np.float32), FINITE_SPECIALS,
                        np.array([12.5, -12.5, np.nextafter(12.5, 0), np.nextafter(-12.5, 0), INF, -INF, NAN],
                                 np.float32)])
    y = ops.gelu(x)
    assert_ran(isa)
    with force_isa("scalar"):
        want = ops.gelu(x)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(y), nan)
    assert np.array_equal(y[~nan].view(np.int32), want[~nan].view(np.int32))  # signed zeros too


@pytest.mark.parametrize("name", INPLACE)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7,), ()], ids=str)
def test_act_inplace_and_shapes(isa, rng, name, shape):
    fn = getattr(ops, name)
    x = np.asarray(rng.standard_normal(shape) * 4, np.float32)
    y = fn(x)
    assert y.shape == x.shape and y.dtype == np.float32 and y is not x
    x2 = x.copy()
    out = fn(x2, inplace=True)
    assert out is x2
    assert np.array_equal(x2, y, equal_nan=True)
    # float64 in: converted, new array, the input untouched
    xd = x.astype(np.float64)
    out = fn(xd, inplace=True)
    assert out.dtype == np.float32 and np.array_equal(xd, x.astype(np.float64))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 33), min_size=1, max_size=4),
       alpha=st.floats(0.05, 3.0), slope=st.floats(-2.0, 2.0), beta=st.floats(0.25, 4.0),
       threshold=st.floats(1.0, 30.0), lo=st.floats(-5, 0), width=st.floats(0, 8), seed=st.integers(0, 99))
def test_act_params_hypothesis(shape, alpha, slope, beta, threshold, lo, width, seed):
    torch = importorskip("torch")
    import torch.nn.functional as F
    # the kernels (like torch on float32 tensors) take their parameters as float32: the reference
    # gets the same rounded values (a denormal slope such as 4.9e-41 is off by 3e-5 relative after
    # rounding, which the product inherits)
    alpha, slope, beta, threshold, lo = (float(np.float32(v)) for v in (alpha, slope, beta, threshold, lo))
    width = float(np.float32(lo + width)) - lo
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 10).astype(np.float32)
    t = torch.from_numpy(x)
    cases = [
        (ops.elu(x, alpha), lambda v: ref.elu(v, alpha), F.elu(t, alpha)),
        (ops.celu(x, alpha), lambda v: ref.celu(v, alpha), F.celu(t, alpha)),
        (ops.leaky_relu(x, slope), lambda v: ref.leaky_relu(v, slope), F.leaky_relu(t, slope)),
        (ops.softplus(x, beta, threshold), lambda v: ref.softplus(v, beta, threshold),
         F.softplus(t, beta=beta, threshold=threshold)),
        (ops.hardtanh(x, lo, lo + width), lambda v: ref.hardtanh(v, lo, lo + width), F.hardtanh(t, lo, lo + width)),
    ]
    for got, rf, tt in cases:
        want, bound = _bound(x, rf)
        check(got, x, want, bound, "hypothesis")
        check(got, x, tt.numpy(), bound, "hypothesis vs torch")


def test_clamp_semantics():
    torch = importorskip("torch")
    x = np.array([-3, -1, 0, 1, 3, NAN, -INF, INF, -0.0], np.float32)
    t = torch.from_numpy(x)
    for lo, hi in [(-1.0, 1.0), (None, 0.5), (-0.5, None), (2.0, -2.0)]:
        got = ops.clamp(x, lo, hi)
        want = torch.clamp(t, lo, hi).numpy()
        assert np.array_equal(got, want, equal_nan=True), (lo, hi, got, want)
        assert np.array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0]))


def test_act_bad_arguments():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="dtype int"):
        ops.sigmoid(np.arange(3))
    with pytest.raises(TypeError, match="alpha"):
        ops.elu(x, alpha="1")
    with pytest.raises(TypeError, match="negative_slope"):
        ops.leaky_relu(x, negative_slope=None)
    with pytest.raises(TypeError, match="inplace"):
        ops.elu(x, 1.0, "yes")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        ops.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="alpha cannot be 0"):
        ops.celu(x, 0.0)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'exact'"):
        ops.gelu(x, approximate="exact")
    with pytest.raises(ValueError, match="at least one of 'min' or 'max'"):
        ops.clamp(x)
    with pytest.raises(TypeError, match="beta"):
        ops.softplus(x, beta=True)
