"""Workload ``kalman-update``: one Kalman measurement update of a track state.

State x (5 track parameters) with covariance P (5x5, symmetric positive definite), a 2-D
measurement m with noise covariance R (2x2), and a fixed projection H that reads the two
position parameters:

    S = H P H^T + R,   K = P H^T S^-1,   x' = x + K (m - H x),   P' = (I - K H) P

Per event it reads 36 numbers and writes 30 for a few hundred flops, so on a CPU it is
limited by memory bandwidth: the roofline is the triad, not the FMA peak.
"""
from __future__ import annotations

import numpy as np
import sympy

from .workloads import Arrays, Symbolic, Workload, register

N_STATE, N_MEAS = 5, 2
# H picks the two local position parameters out of the five (as in a silicon-strip layer).
H = np.zeros((N_MEAS, N_STATE))
H[0, 0] = H[1, 1] = 1.0


def _matrix_symbols(name: str, rows: int, cols: int) -> sympy.Matrix:
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}{i}{j}", real=True))


def build() -> Symbolic:
    x = sympy.Matrix(sympy.symbols(f"x0:{N_STATE}", real=True))
    m = sympy.Matrix(sympy.symbols(f"m0:{N_MEAS}", real=True))
    P = _matrix_symbols("P", N_STATE, N_STATE)
    R = _matrix_symbols("R", N_MEAS, N_MEAS)
    Hs = sympy.Matrix(H.astype(int))
    K = P * Hs.T * (Hs * P * Hs.T + R).inv()
    x_new = x + K * (m - Hs * x)
    P_new = (sympy.eye(N_STATE) - K * Hs) * P
    return Symbolic(inputs={"x": list(x), "P": P, "m": list(m), "R": R},
                    outputs={"x_new": (x_new, (N_STATE,)), "P_new": (P_new, (N_STATE, N_STATE))})


def generate(n: int, rng: np.random.Generator, dtype: str) -> Arrays:
    """Track-like events: symmetric positive definite P and R, measurements near H x.

    Made in float64 and rounded once to ``dtype``, so a float32 run and its float64 reference
    see exactly the same numbers.
    """
    x = rng.standard_normal((n, N_STATE))
    a = 0.3 * rng.standard_normal((n, N_STATE, N_STATE))
    P = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(N_STATE)
    b = 0.1 * rng.standard_normal((n, N_MEAS, N_MEAS))
    R = b @ b.transpose(0, 2, 1) + 0.01 * np.eye(N_MEAS)
    m = x @ H.T + 0.2 * rng.standard_normal((n, N_MEAS))
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in
            {"x": x, "P": P, "m": m, "R": R}.items()}


def reference(inputs: Arrays) -> list[np.ndarray]:
    """float64, and a linear solve instead of the explicit inverse the kernel is written with,
    so a mistake shared by the formula and an implementation cannot hide."""
    x, P, m, R = (inputs[k].astype(np.float64) for k in ("x", "P", "m", "R"))
    PHt = P @ H.T
    S = H @ PHt + R
    # K S = P H^T  <=>  S^T K^T = (P H^T)^T
    K = np.linalg.solve(S.transpose(0, 2, 1), PHt.transpose(0, 2, 1)).transpose(0, 2, 1)
    x_new = x + (K @ (m - x @ H.T)[..., None])[..., 0]
    P_new = P - K @ (H @ P)
    return [x_new, P_new]


def handwritten(inputs: Arrays) -> list[np.ndarray]:
    """What one writes by hand in NumPy: batched matmuls and the closed-form 2x2 inverse."""
    x, P, m, R = (inputs[k] for k in ("x", "P", "m", "R"))
    h = H.astype(x.dtype)              # keep float32 runs in float32
    PHt = P @ h.T
    S = h @ PHt + R
    det = S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] * S[:, 1, 0]
    S_inv = np.empty_like(S)
    S_inv[:, 0, 0] = S[:, 1, 1] / det
    S_inv[:, 1, 1] = S[:, 0, 0] / det
    S_inv[:, 0, 1] = -S[:, 0, 1] / det
    S_inv[:, 1, 0] = -S[:, 1, 0] / det
    K = PHt @ S_inv
    x_new = x + np.einsum("nij,nj->ni", K, m - x @ h.T)
    P_new = P - K @ (h @ P)
    return [x_new, P_new]


WORKLOAD = register(Workload(
    name="kalman-update",
    description="Kalman measurement update: 5-parameter track state, 2-D measurement",
    build=build, generate=generate, reference=reference, handwritten=handwritten,
    # 528 bytes an event: 5*10^5 events (264 MB) are larger than a server's L3, so the
    # default run measures memory, not cache, and with every peer's cold compile it still
    # ends inside two minutes.  The committed results use --events 1000000.
    default_events=500_000,
    reuse_outputs=True,
))
