"""Matrices and float32 error of the 1-D Winograd F(m, k) for 1xk / kx1 convs (k = 3, 5, 7).

The points 0, 1, -1, 2, -2, 1/2, -1/2, inf give F(6,3), F(4,5) and F(2,7) (m + k - 1 = 8): B^T (8 x 8)
depends only on the points, so one input transform serves all three; G (8 x k) and A^T (m x 8) depend on
k. fastnorm runs k = 7 as F(3,7) on 9 points (the 8 and -1/4: 3 multiplies per output instead of 4);
the candidates for the ninth point are compared below. Prints the matrices (src_c/conv/winograd1d_simd.h and winograd1d.c carry them), checks the identity
y = A^T [(G g) . (B^T d)] exactly (float64) against direct correlation, and emulates the kernels in float32
(input transform, channel sums, output transform; the weight transform in float64 at pack time) on
Inception-like layers (kaiming weights, post-ReLU inputs) against a float64 direct conv, beside the
float32 direct conv. Run: python tools/winograd1d.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from winograd_points import matrices  # noqa: E402

POINTS = (0, 1, -1, 2, -2, 0.5, -0.5)
POINTS9 = POINTS + (-0.25,)


def algo(k):
    """(name, points, m) fastnorm uses for k taps."""
    return ("F(3,7) 9pt", POINTS9, 3) if k == 7 else ("F(%d,%d) 8pt" % (9 - k, k), POINTS, 9 - k)


def check_exact(AT, G, BT, k, rng):
    m = AT.shape[0]
    for _ in range(20):
        d, g = rng.standard_normal(m + k - 1), rng.standard_normal(k)
        y = AT @ ((G @ g) * (BT @ d))
        ref = np.array([d[i:i + k] @ g for i in range(m)])
        assert np.abs(y - ref).max() < 1e-12 * max(1.0, np.abs(ref).max()), (k, y, ref)


def wino32(x, w, AT, G, BT, pad):
    """x: (C, L) float32, w: (O, C, k); correlation along L with `pad` zeros each side, float32 emulation."""
    m, n = AT.shape
    c, L = x.shape
    k = w.shape[2]
    ol = L + 2 * pad - k + 1
    t = -(-ol // m)
    xp = np.zeros((c, t * m + k - 1), np.float32)
    xp[:, pad:pad + L] = x
    tiles = np.lib.stride_tricks.sliding_window_view(xp, n, axis=1)[:, ::m][:, :t]  # (C, t, n)
    V = np.einsum("ij,ctj->cti", BT.astype(np.float32), tiles).astype(np.float32)
    U = np.einsum("ij,ocj->oci", G, w.astype(np.float64)).astype(np.float32)
    M = np.einsum("oci,cti->oti", U, V).astype(np.float32)
    Y = np.einsum("ij,otj->oti", AT.astype(np.float32), M).astype(np.float32)
    return Y.reshape(w.shape[0], t * m)[:, :ol]


def direct(x, w, pad, dtype):
    c, L = x.shape
    k = w.shape[2]
    xp = np.pad(x.astype(dtype), ((0, 0), (pad, pad)))
    cols = np.stack([xp[:, j:j + L + 2 * pad - k + 1] for j in range(k)], 1)  # (C, k, ol)
    return np.einsum("ocj,cjl->ol", w.astype(dtype), cols).astype(dtype)


def main():
    rng = np.random.default_rng(0)
    np.set_printoptions(linewidth=160, precision=6, suppress=True)
    for k in (3, 5, 7):
        AT, G, BT = matrices(POINTS, 9 - k, k)
        check_exact(AT, G, BT, k, rng)
        print("F(%d,%d): exact in float64\nB^T =\n%s\nG =\n%s\nA^T =\n%s\n" % (9 - k, k, BT, G, AT))
    AT, G, BT = matrices(POINTS9, 3, 7)
    dy = np.round(BT * 4096) / 4096  # the least-squares solve leaves ~1e-13: its entries are dyadics
    assert np.abs(dy - BT).max() < 1e-9 and (dy.astype(np.float32) == dy).all()
    check_exact(AT, G, dy, 7, rng)  # the C table (winograd1d_simd.h), exact in float
    print("F(3,7), 9 points: exact in float64\nB^T =\n%s\nA^T =\n%s\n" % (dy + 0.0, AT))
    # Inception-v3's 1xk / kx1 layers: (channels, spatial extent); a row or column is an independent
    # 1-D problem, so rows of the image are stacked as a batch of 1-D signals
    layers = {3: [(384, 8), (448, 8)], 5: [(48, 35), (128, 17)], 7: [(128, 17), (160, 17), (192, 17)]}
    print("max |err| / max |y| vs float64 (kaiming weights, post-ReLU inputs, zero padding k//2)")
    algos = {3: [algo(3)], 5: [algo(5)], 7: [("F(2,7) 8pt", POINTS, 2)] + [
        ("F(3,7) +%g" % p, POINTS + (p,), 3) for p in (-0.25, 0.25, 1.5, 4)]}
    for k, lays in layers.items():
        for c, hw in lays:
            x = np.maximum(rng.standard_normal((c, hw * hw)), 0).astype(np.float32).reshape(c, hw, hw)
            w = (rng.standard_normal((c, c, k)) * np.sqrt(2.0 / (k * c))).astype(np.float32)
            refs = [direct(x[:, r], w, k // 2, np.float64) for r in range(hw)]  # each row a 1-D problem
            refmax = max(np.abs(ref).max() for ref in refs)
            ed = max(np.abs(direct(x[:, r], w, k // 2, np.float32) - refs[r]).max() for r in range(hw))
            line = "k=%d %3dch %2dx%-2d  direct %.1e" % (k, c, hw, hw, ed / refmax)
            for name, pts, m in algos[k]:
                AT, G, BT = matrices(pts, m, k)
                ew = max(np.abs(wino32(x[:, r], w, AT, G, BT, k // 2) - refs[r]).max() for r in range(hw))
                line += "  %s %.1e" % (name, ew / refmax)
            print(line)


if __name__ == "__main__":
    main()
