"""G of Winograd F(2x2, 5x5) for fastnorm's scaled B^T (src_c/conv/winograd_simd.h), checked exactly.

F(2, 5) has alpha = 2 + 5 - 1 = 6 points, the same 0, 1/2, -1/2, 2, -2, inf as F(4, 3), and B^T
depends only on the points: the input transform and the 36 GEMMs are shared and only G (6 x 5)
and A^T (2 x 6) change. B^T's rows are scaled to integers in the kernels; each scale goes into the
matching row of G. This script
  1. solves sum_j A^T[i,j] G[j,k] B^T[j,l] = [l == i + k] for G (exact rationals, B^T and A^T
     given) for r = 3 (must reproduce winograd.c's G3) and r = 5 (its G5),
  2. checks y = A^T [(G g G^T) . (B^T d B)] A against direct 2-D correlation on random rational
     6x6 windows and 5x5 kernels, exactly.
Run: python tools/winograd_f2x5.py
"""
from fractions import Fraction as F
import random

PTS = [F(0), F(1, 2), F(-1, 2), F(2), F(-2)]  # plus infinity (the last row / column)
BT = [[1, 0, F(-17, 4), 0, 1, 0],  # winograd_simd.h, rows scaled to small integers
      [0, -4, -8, 1, 2, 0],
      [0, 4, -8, -1, 2, 0],
      [0, -2, -1, 8, 4, 0],
      [0, 2, -1, -8, 4, 0],
      [0, 1, 0, F(-17, 4), 0, 1]]
BT = [[F(v) for v in row] for row in BT]


def at(m):
    """A^T (m x 6): A^T[k][i] = p_i^k, the inf column 1 in the last row."""
    return [[p ** k for p in PTS] + [F(1 if k == m - 1 else 0)] for k in range(m)]


def solve_g(m, r):
    """G (6 x r) from the 1-D identity, given A^T and B^T: G[j][k] for j with a finite point is
    s_j p_j^k; solve for s_j (and the inf row) via the identity's equations, then verify all."""
    AT = at(m)
    # 1-D: y_i = sum_j AT[i][j] (G g)_j (B^T d)_j = sum_k g_k d_{i+k}. Coefficient of g_k d_l:
    # sum_j AT[i][j] G[j][k] BT[j][l] == [l == i + k]. Linear in G: 6 r unknowns, m r 6 equations.
    n = 6 * r
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(6):
                row = [F(0)] * n
                for j in range(6):
                    row[j * r + k] += AT[i][j] * BT[j][l]
                rows.append(row)
                rhs.append(F(1 if l == i + k else 0))
    # Gaussian elimination in rationals (least-norm not needed: check the solution is unique)
    A = [row[:] + [b] for row, b in zip(rows, rhs)]
    piv, rk = [], 0
    for c in range(n):
        p = next((i for i in range(rk, len(A)) if A[i][c] != 0), None)
        if p is None:
            continue
        A[rk], A[p] = A[p], A[rk]
        A[rk] = [v / A[rk][c] for v in A[rk]]
        for i in range(len(A)):
            if i != rk and A[i][c] != 0:
                f = A[i][c]
                A[i] = [a - f * b for a, b in zip(A[i], A[rk])]
        piv.append(c)
        rk += 1
    assert all(all(v == 0 for v in row) for row in A[rk:]), "inconsistent: no exact G"
    assert rk == n, "G not unique (rank %d of %d)" % (rk, n)
    sol = [F(0)] * n
    for i, c in enumerate(piv):
        sol[c] = A[i][n]
    return [[sol[j * r + k] for k in range(r)] for j in range(6)]


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def tr(a):
    return [list(r) for r in zip(*a)]


def check_2d(m, r, G, trials=20):
    AT = at(m)
    rnd = random.Random(0)
    for _ in range(trials):
        d = [[F(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(6)] for _ in range(6)]
        g = [[F(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(r)] for _ in range(r)]
        U = matmul(matmul(G, g), tr(G))
        V = matmul(matmul(BT, d), tr(BT))
        Mm = [[U[i][j] * V[i][j] for j in range(6)] for i in range(6)]
        y = matmul(matmul(AT, Mm), tr(AT))
        for i in range(m):
            for j in range(m):
                want = sum(g[a][b] * d[i + a][j + b] for a in range(r) for b in range(r))
                assert y[i][j] == want, (m, r, i, j)


def main():
    for m, r in ((4, 3), (2, 5)):
        G = solve_g(m, r)
        check_2d(m, r, G)
        print("F(%dx%d, %dx%d): G =" % (m, m, r, r))
        for row in G:
            print("   ", ", ".join("%6s" % v for v in row))
        print("    exact vs direct correlation: ok")


if __name__ == "__main__":
    main()
