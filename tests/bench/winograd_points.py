#!/usr/bin/python3
"""Which interpolation points give F(4x4,3x3) Winograd the smallest fp32 error?

Builds the Toom-Cook matrices (A^T, G, B^T; the last point at infinity, the
construction of Lavin & Gray 2015) exactly for a point set, checks them in
float64, then runs the algorithm with every stage rounded to float32 on
random 6x6 input tiles (a reference from the same float32 inputs, in
float64) and prints max |err| / max |ref| and rms(err) / rms(ref).
src/engine/winograd.c quotes its results. Needs numpy only:
    /usr/bin/python3 tests/bench/winograd_points.py
"""
from fractions import Fraction as Fr

import numpy as np


def matrices(points, m=4, r=3):
    """A^T (m x n), G (n x r), B^T (n x n) for the finite points and infinity."""
    n = m + r - 1
    p = [Fr(x) for x in points]
    assert len(p) == n - 1

    def poly(roots):  # coefficients, lowest first, of prod (x - q)
        c = [Fr(1)]
        for q in roots:
            c = [Fr(0)] + c
            for i in range(len(c) - 1):
                c[i] -= q * c[i + 1]
        return c

    at = [[p[j] ** i for j in range(n - 1)] + [Fr(int(i == m - 1))] for i in range(m)]
    g = []
    for j, pj in enumerate(p):
        f = Fr(1)
        for l, pl in enumerate(p):
            if l != j:
                f *= pj - pl
        g.append([pj ** k / f for k in range(r)])
    g.append([Fr(int(k == r - 1)) for k in range(r)])
    bt = []
    for j in range(n - 1):
        c = poly([q for l, q in enumerate(p) if l != j])
        bt.append(c + [Fr(0)] * (n - len(c)))
    c = poly(p)
    bt.append(c + [Fr(0)] * (n - len(c)))
    as_float = lambda mat: np.array([[float(x) for x in row] for row in mat])
    return as_float(at), as_float(g), as_float(bt)


def correlate(d, g):  # (T,C,6,6) x (C,K,3,3) -> (T,K,4,4), float64
    out = np.zeros((d.shape[0], g.shape[1], 4, 4))
    for i in range(4):
        for j in range(4):
            out[:, :, i, j] = np.einsum("tcab,ckab->tk", d[:, :, i:i + 3, j:j + 3], g)
    return out


def winograd(d, g, at, gm, bt, dtype):
    r = lambda x: x.astype(dtype)
    at, gm, bt, d, g = r(at), r(gm), r(bt), r(d), r(g)
    u = r(np.einsum("jb,ckib->ckij", gm, r(np.einsum("ia,ckab->ckib", gm, g))))
    v = r(np.einsum("jb,tcib->tcij", bt, r(np.einsum("ia,tcab->tcib", bt, d))))
    m = np.empty((d.shape[0], g.shape[1], 6, 6), dtype)
    for i in range(6):
        for j in range(6):
            m[:, :, i, j] = v[:, :, i, j] @ u[:, :, i, j]
    return r(np.einsum("jb,tkib->tkij", at, r(np.einsum("ia,tkab->tkib", at, m))))


def errors(points, c, k=32, tiles=1500, seed=0, relu=False):
    at, gm, bt = matrices(points)
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((tiles, c, 6, 6))
    if relu:
        d = np.maximum(d, 0)
    g = rng.standard_normal((c, k, 3, 3))
    ref = correlate(d, g)
    exact = winograd(d, g, at, gm, bt, np.float64)
    assert np.abs(exact - ref).max() < 1e-9 * np.abs(ref).max(), "matrices are wrong"
    d32, g32 = d.astype(np.float32), g.astype(np.float32)
    ref = correlate(d32.astype(np.float64), g32.astype(np.float64))
    err = np.abs(winograd(d32, g32, at, gm, bt, np.float32) - ref)
    return err.max() / np.abs(ref).max(), np.sqrt((err ** 2).mean() / (ref ** 2).mean())


SETS = [("0, ±1, ±2", [0, 1, -1, 2, -2]), ("0, ±1, ±1/2", [0, 1, -1, Fr(1, 2), Fr(-1, 2)]),
        ("0, ±1, 2, -1/2", [0, 1, -1, 2, Fr(-1, 2)]), ("0, ±1, 1/2, -2", [0, 1, -1, Fr(1, 2), -2])]

if __name__ == "__main__":
    for c, relu, seed in [(64, False, 0), (256, False, 1), (256, True, 2), (64, True, 3)]:
        for name, pts in SETS:
            mx, rms = errors(pts, c, seed=seed, relu=relu)
            print(f"C_in {c:3d} {'relu' if relu else 'N(0,1)'} inputs  points {name:16s}"
                  f" max {mx:.2e}  rms {rms:.2e}")
