"""The track fit, written with physgraph's linalg: extended Kalman filter passes over the
planes, forward and backward, compiled into one kernel.

    from physgraph.physics import kalman, telescope
    tel = telescope.Telescope()
    k = kalman.compile_fit(tel)                   # numba, float64
    out = k(measurements)                         # (N, L, 2) -> dict of (N, ...) arrays

Per track: a *reference* forward pass finds q/p; the Highland scattering of the other two
passes is evaluated at that momentum (the running estimate knows nothing of it at the first
planes).  The *final* forward pass gives the state at the last plane and the chi2; the
*backward* pass, a filter run against the track, gives the state at the first plane from
every measurement (what a smoother gives there, without the smoother's cancellations).
Everything runs in registers: ``pg.scan`` unrolls the layers at trace time,
``pg.jacobian`` derives the transport matrix from ``telescope.propagate``, and the matrices
carry their structure (the projection's zeros and ones, the Jacobian's known entries,
symmetric covariances) so that no node is built for a known zero.

``dense=True`` traces the same fit blind to structure, for the flop comparison: every known
number of every matrix becomes an unknown per-call value and covariances are full matrices.
"""
import numpy as np

import physgraph as pg

from . import telescope as tm
from .linalg import Mat, Sym, Vec, joseph, sandwich

QOP_FLOOR = 1 / 50.0        # |q/p| used for scattering before the reference pass knows it
# The first two planes fix position and direction: their residuals measure the prior, not
# the fit, so the chi2 (2 L - n_state degrees of freedom) counts the planes after them.
CHI2_FROM = 2


class Structured:
    """The algebra of the fit as physgraph's linalg does it: known numbers stay known,
    covariances are packed ``Sym``, A P A^T computes its upper triangle only."""

    def known(self, m):
        return m

    def congruence(self, A: Mat, P: Sym) -> Sym:
        return sandwich(A, P)

    def joseph(self, P: Sym, K: Mat, H: Mat, R: Sym) -> Sym:
        return joseph(P, K, H, R)

    def inv(self, S):
        return S.inv()


class Dense(Structured):
    """The same fit blind to structure, for the flop comparison: every known number of a
    matrix becomes an element of the per-call parameter ``consts`` (its values recorded for
    the call) and covariances are full matrices multiplied in full (inverses above 3x3
    still go through the symmetric Cholesky)."""
    SIZE = 4096

    def __init__(self, consts):
        self.consts, self.values = consts, []

    def _hide(self, x):
        if isinstance(x, pg.Scalar):
            return x
        self.values.append(float(x))
        return self.consts[len(self.values) - 1]

    def known(self, m):
        if isinstance(m, Vec):
            return Vec([self._hide(x) for x in m])
        return Mat([[self._hide(x) for x in row] for row in m.rows])

    def congruence(self, A, P):
        return A @ self.known(P) @ A.T

    def joseph(self, P, K, H, R):
        A = self.known(Mat.identity(P.shape[0])) - K @ H
        return self.congruence(A, P) + self.congruence(K, R)

    def inv(self, S):
        return S.inv() if S.shape[0] <= 3 else Sym(S.rows).inv()


def _projection(n: int) -> Mat:
    return Mat([[1 if j == i else 0 for j in range(n)] for i in range(2)])


def _noise(tel: tm.Telescope, x: Vec, qop_ref) -> Sym:
    """Scattering covariance of one plane: only the slope block is non-zero."""
    p = 1 / pg.maximum(pg.abs(x[4] if qop_ref is None else qop_ref), QOP_FLOOR) \
        if tel.field else tel.p_no_field
    vxx, vxy, vyy = tm.scattering(tel, x[2], x[3], p)
    block = {(2, 2): vxx, (2, 3): vxy, (3, 3): vyy}
    return Sym.build(tel.n_state, lambda i, j: block.get((i, j), 0))


def filter_pass(tel: tm.Telescope, meas: pg.Seq, qop_ref=None, backward: bool = False,
                alg: Structured = Structured()):
    """One Kalman filter pass over the planes: (x, P, chi2) at the last plane it visits.

    Forward, plane k's scattering is added after its measurement, before the transport to
    k + 1 (it changes the slopes arriving there); backward, after the transport to k and
    before its measurement (against the track, the slopes that arrived at k are the ones
    leaving it minus the kick).  Both passes end with the state that arrived at their last
    plane, so the backward pass gives the fully informed state at the first plane.  The
    transport matrix is ``pg.jacobian`` of ``telescope.propagate`` at the current state.
    """
    n = tel.n_state
    H, R = alg.known(_projection(n)), alg.known(Sym.diag([tel.sigma ** 2] * 2))
    prior = (alg.known(Vec([0] * n)), alg.known(Sym.diag(tel.prior_var[:n])))
    gaps = [-dz for dz in tel.gaps[1:]] + [0.0] if backward else tel.gaps
    counts = [int(k >= CHI2_FROM) for k in range(tel.layers)]
    if backward:
        counts.reverse()

    def step(carry, layer):
        x, P, chi2 = carry
        m, dz, counted = layer
        if dz:                            # transport from the previous plane
            if not backward:              # ... whose scattering acted after its measurement
                P = P + alg.known(_noise(tel, x, qop_ref))
            F = alg.known(pg.jacobian(lambda s: tm.propagate(tel, s, dz), x))
            x, P = Vec(tm.propagate(tel, x, dz)), alg.congruence(F, P)
            if backward:                  # this plane's, seen against the track
                P = P + alg.known(_noise(tel, x, qop_ref))
        r = m - H @ x
        S_inv = alg.inv(alg.congruence(H, P) + R)
        K = P @ H.T @ S_inv
        x = x + K @ r
        P = alg.joseph(P, K, H, R)
        if counted:
            chi2 = chi2 + r.dot(S_inv @ r)
        return (x, P, chi2), None
    (x, P, chi2), _ = pg.scan(step, (*prior, 0), (meas, gaps, counts), reverse=backward)
    return x, P, chi2


def make_fit(tel: tm.Telescope, dense: bool = False):
    """The traced function: measurements (N, L, 2) -> dict of fitted quantities.  The dense
    variant takes the per-call ``consts`` too; after tracing, ``fn.alg.values`` holds them."""
    def run(meas, alg: Structured) -> dict:
        qop_ref = filter_pass(tel, meas, None, False, alg)[0][4] if tel.field else None
        x_last, P_last, chi2 = filter_pass(tel, meas, qop_ref, False, alg)
        x_first, P_first, _ = filter_pass(tel, meas, qop_ref, True, alg)
        return {"x_first": x_first, "P_first": P_first, "x_last": x_last, "P_last": P_last,
                "chi2": chi2}

    def kalman_fit(meas):
        return run(meas, Structured())

    def kalman_fit_dense(meas, consts):
        kalman_fit_dense.alg = Dense(consts)
        return run(meas, kalman_fit_dense.alg)
    fn = kalman_fit_dense if dense else kalman_fit
    fn.__annotations__ = {"meas": pg.Seq[tel.layers, 2]}
    if dense:
        fn.__annotations__["consts"] = pg.Param[Dense.SIZE]
    return fn


def compile_fit(tel: tm.Telescope, dense: bool = False, **options) -> pg.Kernel:
    """The compiled fit (numba, float64 unless ``options`` say otherwise).  The dense
    variant is returned with its recorded constants bound: call it like the structured one."""
    fn = make_fit(tel, dense)
    kernel = pg.compile(fn, **options)
    if not dense:
        return kernel
    consts = np.zeros(Dense.SIZE)
    consts[:len(fn.alg.values)] = fn.alg.values
    return lambda meas, **kw: kernel(meas, consts, **kw)
