"""Output checks every benchmark runs before it times anything, and the tolerances they use.

A benchmark that times a wrong answer measures nothing, so each bench computes its output once,
compares it with a reference (float64 torch or NumPy where that is cheap: mathematics, not one
CPU's float32 rounding), and only then hands the callable to the timer. The check runs in every
mode, including `pytest bench --benchmark-disable` (what CI runs).

Tolerances, as max |got - want| <= tol * max(1, max |want|):
"""
import numpy as np

# Max/min pooling, copies, concatenation, padding, nearest upsampling: no arithmetic.
EXACT = 0.0
# One or a few float32 roundings per element (add, mul, scale/shift, bilinear), or a vectorised
# transcendental function accurate to a few ulp (gelu, silu, sigmoid, softmax).
ELEMENTWISE = 1e-5
# Float32 sums of up to ~10^4 terms in a different order than the reference (convs, norms' statistics).
REDUCTION = 1e-4
# Winograd F(4x4, 3x3): the input and output transforms (entries up to 8) amplify float32
# rounding ~30x over the direct conv on unit-scale data.
WINOGRAD = 1e-3
# Whole models: float32 through up to ~50 layers, BatchNorm folded in float64 then rounded.
MODEL = 1e-4
# Peer runtimes on whole models: they fold, fuse and pick algorithms of their own; a sanity check
# that the timed graph computes the same function, not a statement about their accuracy.
PEER = 1e-3


def as_numpy(out):
    """A NumPy array from a torch tensor, a NumPy array or anything array-like."""
    if hasattr(out, "detach"):
        out = out.detach()
        if hasattr(out, "is_contiguous") and not out.is_contiguous():
            out = out.contiguous()
        return out.numpy()
    return np.asarray(out)


def check(what, got, want, tol):
    """Raise AssertionError unless got matches want within tol (scaled as above); NaN must match NaN."""
    got, want = as_numpy(got), as_numpy(want)
    assert got.shape == want.shape, "%s: shape %s, reference %s" % (what, got.shape, want.shape)
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    assert (nan_g == nan_w).all(), "%s: NaN at different positions than the reference" % what
    ok = ~nan_w
    if not ok.any():
        return 0.0
    err = float(np.abs(g[ok] - w[ok]).max())
    bound = tol * max(1.0, float(np.abs(w[ok]).max()))
    assert err <= bound, "%s: max |got - reference| = %.3g > %.3g (tol %g)" % (what, err, bound, tol)
    return err


def checked(what, fn, want, tol):
    """Run fn once, check its output against want, and return fn for the timer."""
    check(what, fn(), want, tol)
    return fn
