"""Accuracy of the vector math (src_c/simd/vmath.h) under every ISA: maximum relative error
vs float64 on dense sweeps (>= 10^7 points per function: float32 bit patterns spread over the whole
useful range, every float32 in windows around zero and the overflow/underflow thresholds, and a
linear grid). Results in the float32 denormal range cannot be held to a relative bound (their
spacing is 2^-149 absolute): there the bound is 1 ulp (2^-149) plus the relative bound.

Requirement (and the bound asserted): 2e-7 relative for exp, expm1, log, log1p, tanh, erf, sigmoid.
erfc is internal (gelu's negative tail, see src_c/act/act_simd.h) and measured against 3e-7.
Run with -s to print the measured maxima (they are quoted at the top of src_c/simd/vmath.h).
"""
import numpy as np
import pytest

import reference as ref
from util import assert_ran

from fastnorm import _C
from fastnorm.ops import _act

REL_BOUND = 2e-7
DENORM = 2.0 ** -126
P = _act.params()


def _bits_between(a, b, n):
    """n float32s spread evenly in bit pattern (so evenly in ulps) over [a, b], 0 <= a < b."""
    ia, ib = (int(v) for v in np.array([a, b], np.float32).view(np.int32))
    return (ia + np.arange(n, dtype=np.int64) * (ib - ia) // (n - 1)).astype(np.int32).view(np.float32)


def _window(c, k):
    """every float32 within k ulps of c"""
    i = np.array([c], np.float32).view(np.int32)[0]
    return np.arange(i - k, i + k + 1, dtype=np.int32).view(np.float32)


def _sym(a, b, n):
    p = _bits_between(a, b, n)
    return np.concatenate([p, -p])


def _sweep(name):
    tiny = [np.float32(0.0), np.float32(-0.0), np.float32(1e-45), np.float32(-1e-45)]
    if name in ("exp", "sigmoid"):
        parts = [_sym(1e-30, 104.0, 2_500_000), np.linspace(-104, 89, 3_000_000, dtype=np.float32),
                 _window(88.72283, 300_000), _window(-87.33654, 300_000), _window(-103.27893, 300_000),
                 _window(1e-4, 300_000), _window(-1e-4, 300_000)]
        if name == "sigmoid":
            parts.append(_sym(104.0, 200.0, 500_000))
    elif name == "expm1":
        parts = [_sym(1e-38, 100.0, 3_000_000), np.linspace(-90, 89, 3_000_000, dtype=np.float32),
                 _window(88.72283, 300_000), _window(0.34657, 300_000), _window(-0.34657, 300_000),
                 _window(17.3, 300_000), _window(1e-6, 300_000)]
    elif name == "log":
        parts = [_bits_between(1e-45, 3.4e38, 6_000_000), _window(1.0, 1_500_000),
                 _window(0.70710677, 300_000), _window(1.4142135, 300_000), _window(2.0 ** -126, 300_000),
                 np.linspace(0.1, 100, 2_000_000, dtype=np.float32)]
    elif name == "log1p":
        parts = [_bits_between(1e-45, 3.4e38, 4_000_000), -_bits_between(1e-45, 0.99999994, 3_000_000),
                 _window(0.0, 500_000), np.linspace(-0.999, 10, 2_000_000, dtype=np.float32),
                 _window(-0.29289323, 300_000), _window(0.41421357, 300_000)]
    elif name == "tanh":
        parts = [_sym(1e-38, 12.0, 3_000_000), np.linspace(-12, 12, 3_000_000, dtype=np.float32),
                 _window(0.55, 500_000), _window(-0.55, 500_000), _window(9.0, 300_000), _window(1e-3, 300_000)]
    elif name == "erf":
        parts = [_sym(1e-38, 6.0, 3_000_000), np.linspace(-6, 6, 3_000_000, dtype=np.float32),
                 _window(1.0, 500_000), _window(-1.0, 500_000), _window(1e-3, 300_000), _window(3.9, 300_000)]
    elif name == "erfc":
        parts = [_bits_between(1e-38, 10.1, 3_000_000), -_bits_between(1e-38, 6.0, 2_000_000),
                 np.linspace(-4, 10.1, 3_000_000, dtype=np.float32), _window(0.5, 500_000),
                 _window(-0.5, 500_000), _window(9.2, 500_000)]
    return np.concatenate(parts + [np.array(tiny, np.float32)])


def _oracle(name, x):
    xd = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name in ("erf", "erfc"):
            try:
                import torch
                return getattr(torch, name)(torch.from_numpy(xd)).numpy()
            except ImportError:
                return getattr(ref, name)(xd)
        if name == "sigmoid":
            return ref.sigmoid(xd)
        return getattr(np, name)(xd)


_cache = {}


def _case(name):
    if name not in _cache:
        x = _sweep(name)
        _cache[name] = (x, _oracle(name, x))
    return _cache[name]


KINDS = {"exp": _C.ACTK_EXP, "expm1": _C.ACTK_EXPM1, "log": _C.ACTK_LOG, "log1p": _C.ACTK_LOG1P,
         "tanh": _C.ACTK_TANH, "erf": _C.ACTK_ERF, "erfc": _C.ACTK_ERFC, "sigmoid": _C.ACTK_SIGMOID}
BOUND = dict.fromkeys(KINDS, REL_BOUND)
BOUND["erfc"] = 3e-7


def measure(name, isa_checked=None):
    x, want = _case(name)
    y = np.empty_like(x)
    _C.act_apply(-1, KINDS[name], x, P, y, 2)
    if isa_checked:
        assert_ran(isa_checked)
    yd = y.astype(np.float64)
    with np.errstate(over="ignore"):
        want = np.where(np.isinf(want.astype(np.float32)), want.astype(np.float32), want)  # overflows to inf
    fin = np.isfinite(want)
    # special values: exactly as the oracle (inf where it overflows, NaN where it is undefined)
    assert (np.isnan(y) == np.isnan(want)).all(), "%s: NaN positions differ at %s" % (
        name, x[np.isnan(y) != np.isnan(want)][:5])
    inf = np.isinf(want)
    assert (yd[inf] == want[inf]).all(), "%s: infinities differ at %s" % (name, x[inf][yd[inf] != want[inf]][:5])
    big = fin & (np.abs(want) >= DENORM)
    rel = np.abs(yd[big] - want[big]) / np.abs(want[big])
    small = fin & (np.abs(want) < DENORM)
    den = np.abs(yd[small] - want[small])
    bad = den > 2.0 ** -149 + BOUND[name] * np.abs(want[small])
    assert not bad.any(), "%s: denormal result off by more than 1 ulp + the relative bound at %s" % (
        name, x[small][bad][:5])
    i = int(np.argmax(rel))
    return float(rel[i]), float(x[big][i]), int(x.size)


@pytest.mark.parametrize("name", list(KINDS))
def test_vmath_max_relative_error(isa, name):
    err, at, n = measure(name, isa)
    print("\n%-8s %-7s max rel err %.3g at x=%r over %d points" % (name, isa, err, at, n))
    assert n >= 10_000_000
    assert err <= BOUND[name], "%s/%s: max rel err %.3g at x=%r exceeds %.3g" % (name, isa, err, at, BOUND[name])


@pytest.mark.parametrize("name", list(KINDS))
def test_vmath_special_values(isa, name):
    inf, nan = np.inf, np.nan
    x = np.array([nan, inf, -inf, 0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 100.0, -100.0], np.float32)
    y = np.empty_like(x)
    _C.act_apply(-1, KINDS[name], x, P, y, 1)
    assert_ran(isa)
    with np.errstate(all="ignore"):
        want = {
            "exp": [nan, inf, 0, 1, 1, 1, 1, inf, 0, inf, np.exp(-100.0)],
            "expm1": [nan, inf, -1, 0, -0.0, 1e-45, -1e-45, inf, -1, inf, -1],
            "log": [nan, inf, nan, -inf, -inf, np.log(np.float32(1e-45)), nan, np.log(3.4e38), nan, np.log(100), nan],
            "log1p": [nan, inf, nan, 0, -0.0, 1e-45, -1e-45, np.log(np.float32(3.4e38)), nan, np.log(101), nan],
            "tanh": [nan, 1, -1, 0, -0.0, 1e-45, -1e-45, 1, -1, 1, -1],
            "erf": [nan, 1, -1, 0, -0.0, 1e-45, -1e-45, 1, -1, 1, -1],
            "erfc": [nan, 0, 2, 1, 1, 1, 1, 0, 2, 0, 2],
            "sigmoid": [nan, 1, 0, 0.5, 0.5, 0.5, 0.5, 1, 0, 1, ref.sigmoid(-100.0)],
        }[name]
    want = np.array(want, np.float32)
    assert np.allclose(y, want, rtol=2e-7, atol=0, equal_nan=True), (name, y, want)
    zeros = want == 0
    if name in ("expm1", "tanh", "erf", "log1p"):  # odd near 0: the sign of zero is kept
        assert np.array_equal(np.signbit(y[zeros]), np.signbit(want[zeros])), (name, y)
    # log(1) is exactly 0, exp(0) exactly 1
    one = np.array([1.0, 0.0], np.float32)
    out = np.empty_like(one)
    _C.act_apply(-1, _C.ACTK_LOG, one[:1], P, out[:1], 1)
    _C.act_apply(-1, _C.ACTK_EXP, one[1:], P, out[1:], 1)
    assert out[0] == 0 and out[1] == 1
