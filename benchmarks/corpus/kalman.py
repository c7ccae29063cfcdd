"""Kalman measurement updates and extended-Kalman Jacobians.

Update (Kalman 1960; Fruhwirth, NIM A262 (1987) 444, eqs. 7-9):
S = H P H^T + R, K = P H^T S^-1, x' = x + K (m - H x), P' = (I - K H) P.
"""
import sympy as sp

from physgraph.bench.corpus import Case, Entry

KALMAN = "R. E. Kalman, J. Basic Eng. 82 (1960) 35; R. Fruhwirth, NIM A262 (1987) 444, eqs. 7-9"


def _update(n: int, symmetric: bool, joseph: bool = False) -> Case:
    """State of n parameters, a 2-D measurement of the first two; P dense (n^2 symbols) or
    with the structure of pg.Sym (upper triangle, n(n+1)/2 symbols)."""
    x = sp.Matrix(sp.symbols(f"x0:{n}"))
    if symmetric:
        P = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"P{min(i, j)}{max(i, j)}"))
    else:
        P = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"P{i}{j}"))
    m = sp.Matrix(sp.symbols("m0:2"))
    r = sp.symbols("r0:3")
    R = sp.Matrix([[r[0], r[1]], [r[1], r[2]]])
    H = sp.Matrix(2, n, lambda i, j: 1 if i == j else 0)
    S = H * P * H.T + R
    K = P * H.T * S.inv()
    x_new = x + K * (m - H * x)
    A = sp.eye(n) - K * H
    P_new = A * P * A.T + K * R * K.T if joseph else A * P
    cells = [(i, j) for i in range(n) for j in range(i if symmetric else 0, n)]
    outputs = list(x_new) + [P_new[i, j] for i, j in cells]
    inputs = list(x) + sorted(P.free_symbols, key=str) + list(m) + list(r)
    return Case(outputs, inputs)


def _range_bearing() -> Case:
    """Jacobian of the range-bearing measurement of a landmark from a pose (EKF-SLAM)."""
    px, py, th, lx, ly = sp.symbols("px py theta lx ly")
    h = sp.Matrix([sp.sqrt((lx - px)**2 + (ly - py)**2), sp.atan2(ly - py, lx - px) - th])
    J = h.jacobian([px, py, th, lx, ly])
    return Case(list(h) + list(J), [px, py, th, lx, ly])


def _ctrv() -> Case:
    """Jacobian of the constant-turn-rate-and-velocity motion model over a step dt."""
    x, y, v, yaw, w, dt = sp.symbols("x y v yaw omega dt")
    f = sp.Matrix([x + v / w * (sp.sin(yaw + w * dt) - sp.sin(yaw)),
                   y + v / w * (sp.cos(yaw) - sp.cos(yaw + w * dt)), v, yaw + w * dt, w])
    J = f.jacobian([x, y, v, yaw, w])
    return Case(list(f) + list(J), [x, y, v, yaw, w, dt])


def _helix() -> Case:
    """Jacobian of straight-line-plus-small-bending transport of (x, y, tx, ty, q/p) over dz
    in a field B along y, to second order (the telescope model of physgraph.physics)."""
    x, y, tx, ty, qop, dz, B = sp.symbols("x y tx ty qop dz B")
    N = sp.sqrt(1 + tx**2 + ty**2)
    ax, ay = -B * N * (1 + tx**2), -B * N * tx * ty
    f = sp.Matrix([x + tx * dz + qop * ax * dz**2 / 2, y + ty * dz + qop * ay * dz**2 / 2,
                   tx + qop * ax * dz, ty + qop * ay * dz, qop])
    J = f.jacobian([x, y, tx, ty, qop])
    return Case(list(J), [x, y, tx, ty, qop, dz, B])


ENTRIES = [
    *(Entry(f"kalman-dense-{n}", KALMAN + "; dense P", lambda n=n: _update(n, False))
      for n in (2, 3, 4, 5, 6)),
    *(Entry(f"kalman-sym-{n}", KALMAN + "; P symmetric as pg.Sym",
            lambda n=n: _update(n, True)) for n in (2, 3, 4, 5, 6)),
    Entry("kalman-joseph-5", "P. S. Maybeck, Stochastic Models, Estimation and Control 1 "
          "(1979) ch. 5 (Joseph form); P symmetric", lambda: _update(5, True, joseph=True)),
    Entry("ekf-range-bearing", "S. Thrun, W. Burgard, D. Fox, Probabilistic Robotics (2005) "
          "ch. 7 (EKF localization, range-bearing model)", _range_bearing),
    Entry("ekf-ctrv", "S. Thrun et al., Probabilistic Robotics (2005) ch. 5 "
          "(velocity motion model)", _ctrv),
    Entry("ekf-track-transport", "R. Fruhwirth et al., Data Analysis Techniques for "
          "High-Energy Physics, 2nd ed. (2000) ch. 3 (track models, parabolic approximation)",
          _helix),
]
