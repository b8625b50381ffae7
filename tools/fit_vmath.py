"""Derive the float32 polynomial coefficients of src_c/simd/vmath.h.

Run: python tools/fit_vmath.py [expm1 log1p erf erfc tanh gelu]   (needs mpmath: pip install ".[dev]")

Each approximation is a weighted least-squares fit on a dense grid in float64, refined towards the
minimax (equi-ripple) solution by Lawson's iteration (weights grow where the error is largest), then
rounded to float32; the printed max relative error is that of the rounded polynomial in float64.
The float32 evaluation is checked by tests/test_act_vmath.py against float64 on dense sweeps.
"""
import math
import sys

import numpy as np
import mpmath

mpmath.mp.dps = 40


def lawson(basis, target, weight, iters=60):
    """min over c of max |weight * (basis @ c - target)| (approximately)."""
    lw = np.ones_like(target)
    for _ in range(iters):
        sw = np.sqrt(lw) * weight
        c, *_ = np.linalg.lstsq(basis * sw[:, None], target * sw, rcond=None)
        e = np.abs((basis @ c - target) * weight)
        lw = lw * (e + 1e-300)
        lw /= lw.sum()
    return c


def fit32(basis, target, weight, fixed0=()):
    """lawson() with float32 coefficients: fix one coefficient at a time (rounded), refit the rest."""
    n = basis.shape[1]
    fixed = np.zeros(n)
    for i in range(n):
        if i < len(fixed0):
            fixed[i] = fixed0[i]
            continue
        c = lawson(basis[:, i:], target - basis[:, :i] @ fixed[:i], weight, 40)
        fixed[i] = np.float32(c[0])
    return fixed


def rel_err(approx, exact):
    return np.max(np.abs(approx - exact) / np.abs(exact))


def report(name, c, err):
    c32 = [np.float32(v) for v in c]
    print("%s: max rel err %.3g" % (name, err))
    for i, v in enumerate(c32):
        print("    c%d = %s  /* %r */" % (i, float.hex(float(v)), float(v)))
    return np.array(c32, np.float64)


def poly(c, t):
    y = np.zeros_like(t)
    for v in c[::-1]:
        y = y * t + v
    return y


def fit_expm1(deg=5):
    # expm1(r) = r + r^2 * q(r), |r| <= ln2/2 (+ margin for the rounding of k)
    r = np.linspace(-0.3466 * 1.002, 0.3466 * 1.002, 100001)
    r = r[r != 0]
    em = np.array([float(mpmath.expm1(v)) for v in r[::50]])
    rr = r[::50]
    target = (em - rr) / rr ** 2
    basis = np.stack([rr ** i for i in range(deg + 1)], 1)
    # weight: the error of q is multiplied by r^2 in expm1 (~ r): relative to expm1, weight r^2/expm1
    c = fit32(basis, target, rr ** 2 / np.abs(em), fixed0=(0.5,))
    err = rel_err(rr + rr ** 2 * poly(c, rr), em)
    return report("expm1 q(r)", c, err)


def fit_log1p(deg=7):
    # log1p(f) = f - f^2/2 + f^3 * p(f), f in [sqrt(.5)-1, sqrt(2)-1]
    f = np.linspace(math.sqrt(0.5) - 1 - 1e-4, math.sqrt(2) - 1 + 1e-4, 4001)
    f = f[np.abs(f) > 1e-6]
    l1 = np.array([float(mpmath.log1p(v)) for v in f])
    target = (l1 - f + f ** 2 / 2) / f ** 3
    basis = np.stack([f ** i for i in range(deg + 1)], 1)
    c = fit32(basis, target, np.abs(f ** 3 / l1))
    err = rel_err(f - f ** 2 / 2 + f ** 3 * poly(c, f), l1)
    return report("log1p p(f)", c, err)


def fit_erf_small(deg=7, zmax=1.0):
    # erf(z) = z * (c0 + t * p(t)), t = z^2; c0 = 2/sqrt(pi) is applied as a float32 hi + lo pair
    # (its float32 rounding alone is a 5e-8 relative error)
    z = np.linspace(1e-4, zmax * 1.001, 4001)
    e = np.array([float(mpmath.erf(v)) for v in z])
    t = z * z
    basis = np.stack([t ** i for i in range(deg + 1)], 1)
    c = fit32(basis, e / z, np.ones_like(z), fixed0=(2 / math.sqrt(math.pi),))
    c0 = 2 / math.sqrt(math.pi)
    print("    c0 = hi %s + lo %s" % (float.hex(float(np.float32(c0))),
                                     float.hex(float(np.float32(c0 - float(np.float32(c0)))))))
    err = rel_err(z * poly(c, t), e)
    return report("erf(z)/z in z^2, z <= %g" % zmax, c, err)


def fit_erfc_tail(lo=0.5, hi=10.1, deg=11):
    # erfc(z) = exp(-z^2) / z * S(t), t = (z - 1) / (z + 1): S is smooth in t on all of
    # [lo, hi] and near 1/sqrt(pi) (0.43 .. 0.56), so Horner's partial sums never cancel
    z = np.linspace(lo, hi, 6001)
    R = np.array([float(mpmath.erfc(v) * mpmath.exp(v * v) * v) for v in z])
    t = (z - 1) / (z + 1)
    basis = np.stack([t ** i for i in range(deg + 1)], 1)
    c = fit32(basis, R, 1.0 / R)
    err = rel_err(poly(c, t), R)
    return report("erfc(z)*exp(z^2)*z in t = (z-1)/(z+1), z in [%g, %g]" % (lo, hi), c, err)


def fit_tanh_small(deg=6, xmax=0.55):
    # tanh(x) = x + x^3 p(x^2), |x| <= xmax
    x = np.linspace(1e-3, xmax * 1.001, 4001)
    th = np.array([float(mpmath.tanh(v)) for v in x])
    t = x * x
    basis = np.stack([t ** i for i in range(deg + 1)], 1)
    c = fit32(basis, (th - x) / x ** 3, x ** 3 / th)
    err = rel_err(x + x ** 3 * poly(c, t), th)
    return report("tanh(x) = x + x^3 p(x^2), |x| <= %g" % xmax, c, err)


def fit_gelu(n=3, m=4, hi=12.5, iters=30):
    """gelu's fast path (vmath.h, fn_gelu): Phi(-a) = exp(-a^2/2) * N(a) / D(a) for a = |x| in
    [0, hi], a rational of degrees (n, m) with D(0) = 1, and exp(-r) for |r| <= ln2/2 as a degree-6
    polynomial (vmath.h evaluates it in s = 2r: coefficient i times 2^-i, exact). (3, 4) is the
    lowest pair within the bound: 0.28 allowed ulps; (3, 3) and (2, 4) reach 7. The rational is
    weighted by the error the act tests allow gelu at x = -a relative to |gelu|:
    3 ulp * (|f| + |x f'|) / |f| = 1 + |a phi(a) / Phi(-a) - 1| ulps (2 at 0, 1 at x = -0.75, where
    gelu' = 0, and growing like a^2): where gelu is flat the fit is tightest.
    Linearised (Loeb): N - G (D - 1) = G, reweighted by 1 / D of the previous round; the
    denominator is rounded to float32 and the numerator refitted with fit32."""
    a = np.linspace(0.0, hi * 1.001, 4001)
    G = np.array([float(mpmath.erfc(v / mpmath.sqrt(2)) / 2 * mpmath.exp(v * v / 2)) for v in a])
    phi = np.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    allow = 1 + np.abs(a * phi / (G * np.exp(-a * a / 2)) - 1)
    w = 1.0 / (G * allow)
    A = np.concatenate([np.stack([a ** i for i in range(n + 1)], 1),
                        np.stack([-G * a ** j for j in range(1, m + 1)], 1)], 1)
    den = np.ones_like(a)
    for _ in range(iters):
        c = lawson(A, G, w / np.abs(den), 40)
        b = np.concatenate([[1.0], c[n + 1:]])
        den = poly(b, a)
    b32 = np.array([np.float32(v) for v in b], np.float64)
    den = poly(b32, a)
    a32 = fit32(np.stack([a ** i / den for i in range(n + 1)], 1), G, w)
    err = np.max(np.abs(poly(a32, a) / den - G) * w)
    report("gelu: Phi(-a) exp(a^2/2) = N(a) / D(a), a in [0, %g]; max err in allowed ulps / 2^23" % hi, a32,
           err)
    report("  D(a)", b32, err)
    r = np.linspace(-0.3466 * 1.002, 0.3466 * 1.002, 4001)
    e = np.exp(-r)
    c = fit32(np.stack([r ** i for i in range(7)], 1), e, 1 / e, fixed0=(1.0,))
    report("gelu: exp(-r), |r| <= ln2/2", c, rel_err(poly(c, r), e))


if __name__ == "__main__":
    what = sys.argv[1:] or ["expm1", "log1p", "erf", "erfc", "tanh", "gelu"]
    if "tanh" in what:
        fit_tanh_small()
    if "expm1" in what:
        fit_expm1()
    if "log1p" in what:
        fit_log1p()
    if "erf" in what:
        fit_erf_small()
    if "erfc" in what:
        fit_erfc_tail()
    if "gelu" in what:
        fit_gelu()
