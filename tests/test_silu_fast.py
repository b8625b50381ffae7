"""silu's fast path (src_c/simd/vmath.h fn_silu: one-constant reduction, a degree-6 exp by Horner to
the constant, 1 + e as rounded, no Newton step after AVX-512's 14-bit reciprocal) against the float64 reference on every float32 of the windows where its error is largest,
under every ISA: around x = -1.28 (silu' = 0, so the bound is 3 ulps of |f| alone), around the -87
switch to the accurate path (vectors mixing lanes on both sides), near 0 and where exp(-|x|) leaves
the sum 1 + e (|x| near 17 and 88). Bound and check: tests/test_act_ops.py's (one place)."""
import numpy as np
import pytest

import reference as ref
from test_act_ops import _bound, check
from util import assert_ran

import fastnorm.ops as ops


def _window(lo, hi):
    """every float32 in [lo, hi] (lo < hi, the same sign), as an array"""
    a, b = np.array([lo, hi], np.float32).view(np.int32)
    bits = np.arange(min(a, b), max(a, b) + 1, dtype=np.int32)
    return bits.view(np.float32)


WINDOWS = {
    "flat_point": (-1.35, -1.2),
    "switch_-87": (-87.5, -86.5),
    "near_zero": (1e-6, 1e-3),
    "near_zero_neg": (-1e-3, -1e-6),
    "exp_leaves_sum": (16.5, 17.5),
    "exp_leaves_sum_neg": (-17.5, -16.5),
    "big": (86.0, 89.0),
}


@pytest.mark.parametrize("window", list(WINDOWS))
def test_silu_every_float_in_window(isa, window):
    x = _window(*WINDOWS[window])
    x = x[: len(x) // 2 * 2]
    # odd and even positions swapped in pairs: vectors straddle any threshold inside the window
    x = np.ascontiguousarray(x.reshape(-1, 2)[:, ::-1].reshape(-1))
    if len(x) > 3_000_000:
        x = x[:: len(x) // 3_000_000 + 1].copy()
    y = ops.silu(x)
    assert_ran(isa)
    want, bound = _bound(x, ref.silu)
    check(y, x, want, bound, "silu " + window)


def test_silu_lane_result_ignores_its_neighbours(isa):
    """a lane below -87 sends only itself to the careful path: each element alone (a masked tail of
    one lane) gives the bits it gets among others, as a conv tile's vector and the act kernel's group
    it with different neighbours (tests/test_epilogue_inreg.py compares the two bit for bit)"""
    rng = np.random.default_rng(14)
    x = (rng.standard_normal(67) * 40).astype(np.float32)
    x[::5] = -95.0
    x[3] = -np.inf
    y = ops.silu(x)
    assert_ran(isa)
    alone = np.concatenate([ops.silu(x[i:i + 1].copy()) for i in range(len(x))])
    np.testing.assert_array_equal(y.view(np.int32), alone.view(np.int32))
