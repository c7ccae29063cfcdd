"""A Kalman measurement update written with SymPy matrices (about 1500 operations as a tree,
25 inputs, 20 outputs), compiled by physgraph and compared with sympy.lambdify(cse=True)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import physgraph as pg

from helpers import assert_close

N_STATE, N_MEAS = 5, 2


def kalman_update():
    """(inputs, outputs): x' = x + K (m - H x), P' = (1 - K H) P, K = P H^T (H P H^T + R)^-1."""
    x = sp.Matrix(sp.symbols(f"x0:{N_STATE}", real=True))
    upper = {(i, j): sp.Symbol(f"P{i}{j}", real=True)
             for i in range(N_STATE) for j in range(i, N_STATE)}
    P = sp.Matrix(N_STATE, N_STATE, lambda i, j: upper[min(i, j), max(i, j)])
    m = sp.Matrix(sp.symbols(f"m0:{N_MEAS}", real=True))
    r00, r01, r11 = sp.symbols("R00 R01 R11", real=True)
    R = sp.Matrix([[r00, r01], [r01, r11]])
    H = sp.Matrix([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]])          # measures the first two
    K = P * H.T * (H * P * H.T + R).inv()
    x_new = x + K * (m - H * x)
    P_new = (sp.eye(N_STATE) - K * H) * P
    inputs = list(x) + list(upper.values()) + list(m) + [r00, r01, r11]
    outputs = list(x_new) + [P_new[i, j] for (i, j) in upper]
    return inputs, outputs


def random_problem(rng, n: int) -> list[np.ndarray]:
    """Inputs in the order of ``kalman_update``: SPD covariances with condition numbers ~10."""
    x = rng.normal(size=(n, N_STATE))
    a = rng.normal(size=(n, N_STATE, N_STATE))
    P = a @ a.transpose(0, 2, 1) / N_STATE + np.eye(N_STATE)
    m = rng.normal(size=(n, N_MEAS))
    b = rng.normal(size=(n, N_MEAS, N_MEAS))
    R = b @ b.transpose(0, 2, 1) / N_MEAS + 0.1 * np.eye(N_MEAS)
    iu = np.triu_indices(N_STATE)
    return ([x[:, k] for k in range(N_STATE)] + [P[:, i, j] for i, j in zip(*iu)]
            + [m[:, k] for k in range(N_MEAS)] + [R[:, 0, 0], R[:, 0, 1], R[:, 1, 1]])


def numpy_update(arrays):
    """The same update in plain numpy linear algebra, a third opinion."""
    n = len(arrays[0])
    x = np.stack(arrays[:5], 1)
    P = np.zeros((n, 5, 5))
    for value, (i, j) in zip(arrays[5:20], zip(*np.triu_indices(5))):
        P[:, i, j] = P[:, j, i] = value
    m = np.stack(arrays[20:22], 1)
    R = np.stack([np.stack([arrays[22], arrays[23]], 1), np.stack([arrays[23], arrays[24]], 1)], 1)
    H = np.zeros((2, 5))
    H[0, 0] = H[1, 1] = 1
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    x_new = x + np.einsum("nij,nj->ni", K, m - x @ H.T)
    P_new = (np.eye(5) - K @ H) @ P
    return [x_new[:, k] for k in range(5)] + [P_new[:, i, j] for i, j in zip(*np.triu_indices(5))]


@pytest.fixture(scope="module")
def update():
    inputs, outputs = kalman_update()
    return inputs, outputs, pg.compile(outputs, inputs=inputs, backend="numba")


def test_problem_size(update):
    inputs, outputs, k = update
    assert len(inputs) == 25 and len(outputs) == 20
    assert 1000 <= sp.count_ops(outputs) <= 3000
    assert len(k.signature) == 25
    assert k.stats["flops_out"] <= k.stats["flops_in"]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_matches_lambdify_with_cse(update, backend, rng):
    inputs, outputs, k = update
    reference = sp.lambdify(inputs, outputs, modules="numpy", cse=True)
    arrays = random_problem(rng, 2000)
    got = k.with_backend(backend)(*arrays)
    expected = reference(*arrays)
    assert isinstance(got, tuple) and len(got) == 20
    for a, e, third in zip(got, expected, numpy_update(arrays)):
        assert a.shape == (2000,)
        assert_close(a, e, rtol=1e-10, atol=1e-10)
        assert_close(a, third, rtol=1e-10, atol=1e-10)


def test_updated_covariance_shrinks_along_the_measurement(update, rng):
    """Physics check: measuring x0 and x1 cannot increase their variances."""
    _, outputs, k = update
    arrays = random_problem(rng, 500)
    got = k(*arrays)
    names = [str(s) for s in kalman_update()[0][5:20]]
    p00_new, p11_new = got[5 + names.index("P00")], got[5 + names.index("P11")]
    assert np.all(p00_new <= arrays[5 + names.index("P00")] + 1e-12)
    assert np.all(p11_new <= arrays[5 + names.index("P11")] + 1e-12)
    assert np.all(p00_new > 0) and np.all(p11_new > 0)
