"""Structured small-matrix algebra: known zeros build no nodes, symmetric results are packed,
transposes are views, SPD inverse/solve (closed form and Cholesky) and the Joseph update
agree with numpy."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg
from physgraph.physics.linalg import Sym, cholesky, joseph, sandwich, solve
from physgraph.graph import Op

from helpers import assert_close


def spd(rng, n_events: int, n: int) -> np.ndarray:
    a = rng.normal(size=(n_events, n, n))
    return a @ a.transpose(0, 2, 1) + n * np.eye(n)


def op_count(k: pg.Kernel, op: Op, optimized: bool = False) -> int:
    g = k.graph if optimized else k.input_graph
    live = g.live()
    return sum(1 for i in range(len(g)) if live[i] and g.ops[i] is op)


H = pg.Mat([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]])            # reads x and y of a 5-state


def test_known_zeros_and_ones_build_no_nodes():
    @pg.compile(backend="numpy", opt_level=0)
    def project(P: pg.Sym[5], x: pg.Vec[5]):
        return H @ P @ H.T, H @ x, sandwich(H, P)
    assert op_count(project, Op.MUL) == 0 and op_count(project, Op.ADD) == 0
    rng = np.random.default_rng(1)
    P, x = spd(rng, 4, 5), rng.normal(size=(4, 5))
    a, b, c = project(P, x)
    h = np.asarray(H.rows, float)
    assert_close(a, h @ P @ h.T)
    assert_close(b, x @ h.T)
    assert_close(c, a)


def test_sym_storage_and_views():
    s = Sym.build(4, lambda i, j: 10 * i + j)
    assert len(s.packed) == 10 and s[3, 1] == s[1, 3] == 13 and s.T is s
    m = pg.Mat([[1, 2, 3], [4, 5, 6]])
    t = m.T
    assert t.shape == (3, 2) and t[2, 1] == 6 and t._data is m._data      # a view, no copy
    assert t.T.rows == m.rows
    assert isinstance(s + s, Sym) and isinstance(s * 2, Sym) and isinstance(-s, Sym)
    full = pg.Mat(s.rows)
    assert type(s + full) is pg.Mat and (s + full).rows == (full + s).rows
    v = pg.Vec(1, 2, 3)
    assert isinstance(v.outer(v), Sym) and v.outer(v)[2, 1] == 6


def test_sandwich_computes_each_element_once():
    """A P A^T as a Sym: the upper triangle only, fewer multiplies than the full product."""
    @pg.compile(backend="numpy", opt_level=0)
    def packed(A: pg.Mat[4, 4], P: pg.Sym[4]):
        return sandwich(A, P)

    @pg.compile(backend="numpy", opt_level=0)
    def full(A: pg.Mat[4, 4], P: pg.Mat[4, 4]):
        return A @ P @ A.T
    assert op_count(packed, Op.MUL) < op_count(full, Op.MUL)
    rng = np.random.default_rng(2)
    A, P = rng.normal(size=(5, 4, 4)), spd(rng, 5, 4)
    expected = A @ P @ A.transpose(0, 2, 1)
    assert_close(packed(A, P), expected, rtol=1e-12, atol=1e-12)
    assert_close(full(A, P), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_spd_inverse_solve_and_cholesky_match_numpy(n, rng):
    def f(S, b, B):
        return S.inv(), solve(S, b), solve(S, B), cholesky(S)
    f.__annotations__ = {"S": pg.Sym[n], "b": pg.Vec[n], "B": pg.Mat[n, 2]}   # n varies
    f = pg.compile(f, backend="numpy")
    S, b, B = spd(rng, 20, n), rng.normal(size=(20, n)), rng.normal(size=(20, n, 2))
    inv, x, X, L = f(S, b, B)
    assert_close(inv, np.linalg.inv(S), rtol=1e-10, atol=1e-12)
    assert_close(x, np.linalg.solve(S, b[..., None])[..., 0], rtol=1e-10, atol=1e-12)
    assert_close(X, np.linalg.solve(S, B), rtol=1e-10, atol=1e-12)
    assert_close(L, np.linalg.cholesky(S), rtol=1e-10, atol=1e-12)


def test_cholesky_above_3x3_builds_square_roots_and_closed_form_below():
    @pg.compile(backend="numpy", opt_level=0)
    def inverses(S3: pg.Sym[3], S5: pg.Sym[5]):
        return S3.inv(), S5.inv()
    assert op_count(inverses, Op.SQRT) == 5               # one per row of the 5x5 factor only


def test_joseph_update_matches_the_standard_form_and_stays_symmetric(rng):
    @pg.compile(backend="numpy")
    def update(P: pg.Sym[5], R: pg.Sym[2]):
        S = sandwich(H, P) + R
        K = P @ H.T @ S.inv()
        return joseph(P, K, H, R), (pg.Mat.identity(5) - K @ H) @ P
    P, R = spd(rng, 30, 5), 0.1 * spd(rng, 30, 2)
    jos, std = update(P, R)
    assert_close(jos, std, rtol=1e-9, atol=1e-12)
    assert np.array_equal(jos, jos.transpose(0, 2, 1))
    h = np.asarray(H.rows, float)
    K = P @ h.T @ np.linalg.inv(h @ P @ h.T + R)
    A = np.eye(5) - K @ h
    assert_close(jos, A @ P @ A.transpose(0, 2, 1) + K @ R @ K.transpose(0, 2, 1), rtol=1e-9)


def test_solve_needs_a_sym():
    with pytest.raises(TypeError, match="Sym"):
        solve(pg.Mat([[1, 0], [0, 1]]), pg.Vec(1, 2))
