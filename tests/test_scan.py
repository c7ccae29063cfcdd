"""pg.Seq arguments and pg.scan: per-layer inputs as (N, L, ...) arrays, a carried state,
forward and reverse scans, per-layer outputs, on numpy, numba and jax (CUDA: source)."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg

from helpers import assert_close

L = 6
Z = np.linspace(0.0, 1.0, L)                     # per-layer constants, not inputs


def running(m: pg.Seq[L, 2], w: pg.Seq[L], C: pg.Seq[L, pg.Sym[2]], x0: pg.Vec[2]):
    """A weighted running mean and a backward cumulative sum, per layer."""
    def forward(carry, layer):
        mean, total = carry
        m_k, w_k, C_k, z = layer
        total = total + w_k
        mean = mean + (m_k - mean) * (w_k / total)
        return (mean, total), C_k.inv()[0, 1] * z + mean[0]

    def backward(acc, w_k):
        acc = acc + w_k
        return acc, acc
    (mean, total), per_layer = pg.scan(forward, (x0, 1.0), (m, w, C, Z))
    _, suffix = pg.scan(backward, 0.0, w, reverse=True)
    return mean, per_layer, suffix


def expected(m, w, C, x0):
    mean, total = x0.copy(), np.ones(len(m))
    per_layer, suffix = [], np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    for k in range(L):
        total = total + w[:, k]
        mean = mean + (m[:, k] - mean) * (w[:, k] / total)[:, None]
        per_layer.append(np.linalg.inv(C[:, k])[:, 0, 1] * Z[k] + mean[:, 0])
    return mean, np.stack(per_layer, 1), suffix


def inputs(rng, n=9):
    a = rng.normal(size=(n, L, 2, 2))
    C = a @ a.transpose(0, 1, 3, 2) + 2 * np.eye(2)
    C_garbage = C + np.tril(rng.normal(size=C.shape), -1) * 50     # only i <= j is read
    return rng.normal(size=(n, L, 2)), rng.uniform(0.5, 2, (n, L)), C, C_garbage, \
        rng.normal(size=(n, 2))


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax"])
def test_scan_matches_the_python_loop(backend, rng):
    if backend == "jax":
        pytest.importorskip("jax")
    k = pg.compile(running, backend=backend)
    m, w, C, C_garbage, x0 = inputs(rng)
    got = k(m, w, C_garbage, x0)
    assert [np.shape(g) for g in got] == [(9, 2), (9, L), (9, L)]
    for a, e in zip(got, expected(m, w, C, x0)):
        assert_close(np.asarray(a), e, rtol=1e-11, atol=1e-12)


def test_seq_annotations_and_shapes():
    k = pg.compile(running, backend="numpy")
    shapes = {a.name: a.shape for a in k.signature}
    assert shapes == {"m": (L, 2), "w": (L,), "C": (L, 2, 2), "x0": (2,)}
    with pytest.raises(pg.ShapeError, match="'m'"):
        k(np.zeros((3, L + 1, 2)), np.zeros((3, L)), np.zeros((3, L, 2, 2)), np.zeros((3, 2)))
    assert "__global__" in k.with_backend("cuda").source     # straight-line: any backend


def test_seq_output_of_matrices():
    @pg.compile(backend="numpy")
    def outer(v: pg.Seq[3, pg.Vec[2]]):
        return pg.Seq([x.outer(x) for x in v])
    v = np.arange(12.0).reshape(2, 3, 2)
    assert_close(outer(v), v[..., :, None] * v[..., None, :])


def test_scan_errors():
    with pytest.raises(TypeError, match="lengths"):
        pg.scan(lambda c, x: (c, None), 0, ([1, 2], [1, 2, 3]))
    with pytest.raises(TypeError, match="length"):
        pg.scan(lambda c, x: (c, None), 0)
    with pytest.raises(TypeError):
        pg.Seq[0, 2]
    carry, ys = pg.scan(lambda c, x: (c + x, None), 0, length=None, xs=[1, 2, 3])
    assert carry == 6 and ys is None
