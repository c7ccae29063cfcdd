"""The same track fit written the ways one would without physgraph, for the benchmark and
as independent checks: NumPy batched over tracks (einsum/matmul, a Python loop over the
planes), filterpy's ExtendedKalmanFilter track by track, and ``jax.vmap`` of a jnp fit.

All three run the algorithm of ``physgraph.physics.kalman`` (reference pass, forward pass
with chi2 from plane ``CHI2_FROM`` on, backward pass; Joseph updates) and return the same
dict.  The NumPy and filterpy versions use the transport Jacobian written out by hand below,
the JAX one ``jax.jacfwd``: neither uses physgraph's derivative.
"""
from __future__ import annotations

import numpy as np

from ..physics import telescope as tm
from ..physics.kalman import CHI2_FROM, QOP_FLOOR

KEYS = ("x_first", "P_first", "x_last", "P_last", "chi2")


def jacobian(tel: tm.Telescope, state: np.ndarray, dz: float) -> np.ndarray:
    """d propagate / d state, by hand: (n, n_state) -> (n, n_state, n_state)."""
    n, ns = state.shape
    F = np.zeros((n, ns, ns))
    F[:, range(ns), range(ns)] = 1.0
    F[:, 0, 2] = F[:, 1, 3] = dz
    if not tel.field:
        return F
    tx, ty, qop = state[:, 2], state[:, 3], state[:, 4]
    N = np.sqrt(1 + tx * tx + ty * ty)
    kb = -tm.KAPPA * tel.field
    ax, ay = kb * N * (1 + tx * tx), kb * N * tx * ty
    dax = (kb * (tx / N * (1 + tx * tx) + 2 * tx * N), kb * ty / N * (1 + tx * tx))
    day = (kb * (tx * tx * ty / N + N * ty), kb * (tx * ty * ty / N + N * tx))
    for row, a, da in ((0, ax, dax), (1, ay, day)):
        for col, d in ((2, da[0]), (3, da[1])):
            F[:, row, col] += 0.5 * qop * d * dz * dz
            F[:, row + 2, col] += qop * d * dz
        F[:, row, 4] = 0.5 * a * dz * dz
        F[:, row + 2, 4] = a * dz
    return F


def _noise(tel: tm.Telescope, x: np.ndarray, qop_ref, xp=np):
    """Scattering covariance of a plane, (n, ns, ns); qop_ref None: the running estimate."""
    qop = x[..., 4] if qop_ref is None else qop_ref
    p = 1 / xp.maximum(xp.abs(qop), QOP_FLOOR) if tel.field else tel.p_no_field
    vxx, vxy, vyy = tm.scattering(tel, x[..., 2], x[..., 3], p, xp)
    zero = 0 * vxx
    rows = [[zero] * tel.n_state for _ in range(tel.n_state)]
    rows[2][2], rows[2][3], rows[3][2], rows[3][3] = vxx, vxy, vxy, vyy
    return xp.stack([xp.stack(r, -1) for r in rows], -2)


def _plan(tel: tm.Telescope, backward: bool):
    """(plane, dz from the previous plane or 0, counted in chi2) in the order of the pass."""
    order = range(tel.layers - 1, -1, -1) if backward else range(tel.layers)
    prev = None
    for k in order:
        yield k, 0.0 if prev is None else tel.z[k] - tel.z[prev], k >= CHI2_FROM
        prev = k


# ---- NumPy, batched over tracks ------------------------------------------------------------
def numpy_pass(tel: tm.Telescope, meas: np.ndarray, qop_ref=None, backward=False):
    """One filter pass over all tracks at once, in the dtype of ``meas``."""
    n, ns, dtype = len(meas), tel.n_state, meas.dtype
    x = np.zeros((n, ns), dtype)
    P = np.broadcast_to(np.diag(tel.prior_var[:ns]), (n, ns, ns)).astype(dtype)
    R = (tel.sigma ** 2 * np.eye(2)).astype(dtype)
    chi2 = np.zeros(n, dtype)
    for k, dz, counted in _plan(tel, backward):
        if dz:
            if not backward:
                P = P + _noise(tel, x, qop_ref).astype(dtype, copy=False)
            F = jacobian(tel, x, dz).astype(dtype, copy=False)
            x = np.stack(tm.propagate(tel, x.T, dz, np), 1).astype(dtype, copy=False)
            P = F @ P @ F.transpose(0, 2, 1)
            if backward:
                P = P + _noise(tel, x, qop_ref).astype(dtype, copy=False)
        r = meas[:, k] - x[:, :2]
        S = P[:, :2, :2] + R
        S_inv = np.linalg.inv(S)
        K = P[:, :, :2] @ S_inv
        x = x + np.einsum("nij,nj->ni", K, r)
        A = np.broadcast_to(np.eye(ns, dtype=dtype), (n, ns, ns)).copy()
        A[:, :, :2] -= K
        P = A @ P @ A.transpose(0, 2, 1) + K @ R @ K.transpose(0, 2, 1)
        if counted:
            chi2 = chi2 + np.einsum("ni,nij,nj->n", r, S_inv, r)
    return x, P, chi2


def numpy_fit(tel: tm.Telescope, meas: np.ndarray) -> dict:
    qop_ref = numpy_pass(tel, meas)[0][:, 4] if tel.field else None
    x_last, P_last, chi2 = numpy_pass(tel, meas, qop_ref)
    x_first, P_first, _ = numpy_pass(tel, meas, qop_ref, backward=True)
    return dict(zip(KEYS, (x_first, P_first, x_last, P_last, chi2)))


# ---- filterpy, track by track --------------------------------------------------------------
def _filterpy_pass(tel: tm.Telescope, meas: np.ndarray, qop_ref, backward: bool):
    """One pass over one track with filterpy's EKF; transport by ``telescope.propagate``
    (predict_x), the scattering folded into filterpy's Q (forward: F Q F^T, since it acts
    before the transport)."""
    from filterpy.kalman import ExtendedKalmanFilter

    class TelescopeEKF(ExtendedKalmanFilter):
        def predict_x(self, u=0):
            self.x = np.array(tm.propagate(tel, self.x[:, 0], self.dz, np))[:, None]

    ns = tel.n_state
    kf = TelescopeEKF(dim_x=ns, dim_z=2)
    kf.x = np.zeros((ns, 1))
    kf.P = np.diag(np.asarray(tel.prior_var[:ns], float))
    kf.R = tel.sigma ** 2 * np.eye(2)
    H = np.eye(2, ns)
    chi2 = 0.0
    for k, dz, counted in _plan(tel, backward):
        if dz:
            state = kf.x[:, 0]
            kf.F = jacobian(tel, state[None], dz)[0]
            kf.dz = dz
            if backward:
                moved = np.array(tm.propagate(tel, state, dz, np))
                kf.Q = _noise(tel, moved[None], qop_ref)[0]
            else:
                Q = _noise(tel, state[None], qop_ref)[0]
                kf.Q = kf.F @ Q @ kf.F.T
            kf.predict()
        kf.update(meas[k][:, None], HJacobian=lambda x: H, Hx=lambda x: H @ x)
        if counted:
            chi2 += float(kf.y[:, 0] @ kf.SI @ kf.y[:, 0])
    return kf.x[:, 0], kf.P, chi2


def filterpy_fit(tel: tm.Telescope, meas: np.ndarray) -> dict:
    out = {key: [] for key in KEYS}
    for track in np.asarray(meas, float):
        qop_ref = _filterpy_pass(tel, track, None, False)[0][4] if tel.field else None
        x_last, P_last, chi2 = _filterpy_pass(tel, track, qop_ref, False)
        x_first, P_first, _ = _filterpy_pass(tel, track, qop_ref, True)
        for key, v in zip(KEYS, (x_first, P_first, x_last, P_last, chi2)):
            out[key].append(v)
    return {key: np.array(v) for key, v in out.items()}


# ---- JAX: one track in jnp, jax.vmap over tracks, jax.jit ----------------------------------
def jax_fit(tel: tm.Telescope):
    """A jitted function (N, L, 2) -> the fit dict; float64 needs JAX's x64 mode."""
    import jax
    import jax.numpy as jnp

    ns = tel.n_state

    def one_pass(meas, qop_ref, backward):
        H, R = jnp.eye(2, ns, dtype=meas.dtype), tel.sigma ** 2 * jnp.eye(2, dtype=meas.dtype)
        x = jnp.zeros(ns, meas.dtype)
        P = jnp.diag(jnp.asarray(tel.prior_var[:ns], meas.dtype))
        chi2 = jnp.zeros((), meas.dtype)
        for k, dz, counted in _plan(tel, backward):
            if dz:
                def move(s, dz=dz):
                    return jnp.stack(tm.propagate(tel, s, dz, jnp))
                if not backward:
                    P = P + _noise(tel, x, qop_ref, jnp).astype(meas.dtype)
                F = jax.jacfwd(move)(x).astype(meas.dtype)
                x, P = move(x).astype(meas.dtype), F @ P @ F.T
                if backward:
                    P = P + _noise(tel, x, qop_ref, jnp).astype(meas.dtype)
            r = meas[k] - H @ x
            S_inv = jnp.linalg.inv(H @ P @ H.T + R)
            K = P @ H.T @ S_inv
            x = x + K @ r
            A = jnp.eye(ns, dtype=meas.dtype) - K @ H
            P = A @ P @ A.T + K @ R @ K.T
            if counted:
                chi2 = chi2 + r @ S_inv @ r
        return x, P, chi2

    def one_track(meas):
        qop_ref = one_pass(meas, None, False)[0][4] if tel.field else None
        x_last, P_last, chi2 = one_pass(meas, qop_ref, False)
        x_first, P_first, _ = one_pass(meas, qop_ref, True)
        return dict(zip(KEYS, (x_first, P_first, x_last, P_last, chi2)))
    return jax.jit(jax.vmap(one_track))
