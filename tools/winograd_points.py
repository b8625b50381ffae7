"""Float32 error of Winograd F(m x m, 3x3) for several interpolation point sets, on ResNet-like layers.

Emulates the algorithm in NumPy with float32 arithmetic where fastnorm's kernels use float32 (input
transform, the channel sums, output transform) and float64 where they use double (the weight
transform, once at pack time), and compares against a float64 direct convolution. Kaiming-normal
weights, post-ReLU inputs. Run: python tools/winograd_points.py
"""
import itertools
import numpy as np


def matrices(points, m, r=3):
    """A^T (m x n), G (n x r), B^T (n x n) of the Toom-Cook construction with `points` + infinity."""
    n = m + r - 1
    pts = list(points)
    assert len(pts) == n - 1
    AT = np.zeros((m, n))
    G = np.zeros((n, r))
    for j, a in enumerate(pts):
        AT[:, j] = [a ** i for i in range(m)]
        N = np.prod([a - b for b in pts if b != a])
        G[j] = [a ** k / N for k in range(r)]
    AT[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    # B^T from: sum_j AT[i,j] G[j,k] BT[j,l] = [l == i + k]   (a linear system in BT)
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros((n, n))
                row[:, l] = AT[i, :] * G[:, k]
                rows.append(row.ravel())
                rhs.append(1.0 if l == i + k else 0.0)
    sol, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    BT = sol.reshape(n, n)
    assert np.abs(np.array(rows) @ sol - rhs).max() < 1e-9, "points do not give an exact algorithm"
    return AT, G, BT


def direct(x, w):
    """float64 3x3 conv, padding 1. x: (C, H, W), w: (O, C, 3, 3) -> (O, H, W)."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    y = np.zeros((w.shape[0], h, wd))
    for ky in range(3):
        for kx in range(3):
            y += np.einsum("oc,chw->ohw", w[:, :, ky, kx], xp[:, ky:ky + h, kx:kx + wd])
    return y


def winograd(x, w, AT, G, BT):
    m, n = AT.shape
    c, h, wd = x.shape
    th, tw = -(-h // m), -(-wd // m)
    xp = np.zeros((c, th * m + 2, tw * m + 2), np.float32)
    xp[:, 1:1 + h, 1:1 + wd] = x
    # tiles: (C, th, tw, n, n)
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (n, n), axis=(1, 2))[:, ::m, ::m]
    BT32, AT32 = BT.astype(np.float32), AT.astype(np.float32)
    V = np.einsum("ij,cxyjk,lk->cxyil", BT32, tiles.astype(np.float32), BT32).astype(np.float32)
    U = np.einsum("ij,ocjk,lk->ocil", G, w.astype(np.float64), G).astype(np.float32)
    M = np.einsum("ocij,cxyij->oxyij", U, V).astype(np.float32)
    Y = np.einsum("ij,oxyjk,lk->oxyil", AT32, M, AT32).astype(np.float32)
    y = Y.transpose(0, 1, 3, 2, 4).reshape(w.shape[0], th * m, tw * m)
    return y[:, :h, :wd]


def main():
    rng = np.random.default_rng(0)
    layers = [(64, 28), (128, 28), (256, 14), (512, 7)]
    sets = {
        "F4 0,+-1,+-2 (Lavin; fastnorm)": ((0, 1, -1, 2, -2), 4),
        "F4 0,+-1,+-1/2": ((0, 1, -1, 0.5, -0.5), 4),
        "F4 0,+-1,2,1/2": ((0, 1, -1, 2, 0.5), 4),
        "F4 0,-1,1,1/2,-2": ((0, -1, 1, 0.5, -2), 4),
        "F4 0,+-1/2,+-2": ((0, 0.5, -0.5, 2, -2), 4),
        "F6 0,+-1,+-2,+-1/2": ((0, 1, -1, 2, -2, 0.5, -0.5), 6),
        "F2 0,+-1": ((0, 1, -1), 2),
    }
    data = []
    for c, hw in layers:
        x = np.maximum(rng.standard_normal((c, hw, hw)), 0).astype(np.float32)
        w = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
        ref = direct(x.astype(np.float64), w.astype(np.float64))
        d32 = direct(x, w)  # the float64 of float32 data; float32 direct rounding is below
        data.append((c, hw, x, w, ref))
    print("max |err| / max |y| per layer (C x HW), float32 Winograd vs float64 direct conv")
    print("%-34s" % "points", "  ".join("%4dx%-3d" % (c, hw) for c, hw, *_ in data))
    for name, (pts, m) in sets.items():
        AT, G, BT = matrices(pts, m)
        errs = []
        for c, hw, x, w, ref in data:
            y = winograd(x, w, AT, G, BT)
            errs.append(np.abs(y - ref).max() / np.abs(ref).max())
        print("%-34s" % name, "  ".join("%.1e " % e for e in errs))
    errs = []
    for c, hw, x, w, ref in data:  # float32 direct conv (the im2col/GEMM rounding) for scale
        y = np.zeros_like(ref, dtype=np.float32)
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        cols = np.stack([xp[:, ky:ky + hw, kx:kx + hw] for ky in range(3) for kx in range(3)], 1)
        y = np.einsum("ock,ckhw->ohw", w.reshape(c, c, 9), cols.reshape(c, 9, hw, hw)).astype(np.float32)
        errs.append(np.abs(y - ref).max() / np.abs(ref).max())
    print("%-34s" % "direct (float32 GEMM)", "  ".join("%.1e " % e for e in errs))


if __name__ == "__main__":
    main()
