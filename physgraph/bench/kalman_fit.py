"""Workload ``kalman-fit``: the full track fit of ``physgraph.physics.kalman`` on 10-plane
tracks of the toy telescope (``physgraph.physics.telescope``).

A workload with its own kernel (the fit is a loop over detector layers with a Jacobian, not
an expression): physgraph runs the fit (one kernel per track batch: reference, forward and
backward extended-Kalman passes), and the peers are the same fit written the other ways a
physicist would (``kalman_peers``): NumPy batched over tracks, filterpy's
ExtendedKalmanFilter track by track, and ``jax.jit(jax.vmap(...))`` of a jnp version (these
two on a subset of the tracks, rate per track).  The reference is the NumPy version in
float64 (its transport Jacobian is written out by hand: no physgraph derivative in it).
"""
from __future__ import annotations

import numpy as np

from ..physics import kalman, telescope
from . import kalman_peers as peers
from .impls import Implementation, Prepared
from .workloads import Arrays, Workload, register

FILTERPY_TRACKS = 200        # filterpy runs ~100 tracks/s: timed on this many
# XLA's first call on 10^5 tracks takes minutes (its compile grows with the scan's
# unrolled body): the JAX peer is timed on this many, like filterpy
JAX_TRACKS = 20_000
TELESCOPE = telescope.Telescope()


def generate(n: int, rng: np.random.Generator, dtype: str) -> Arrays:
    meas, _ = telescope.generate(TELESCOPE, n, rng)
    return {"meas": np.ascontiguousarray(meas, dtype=dtype)}


def _as_list(out: dict) -> list[np.ndarray]:
    return [np.asarray(out[key]) for key in peers.KEYS]


def reference(inputs: Arrays) -> list[np.ndarray]:
    return _as_list(peers.numpy_fit(TELESCOPE, inputs["meas"].astype(np.float64)))


def kernel(backend: str, dtype: str):
    k = kalman.compile_fit(TELESCOPE, backend=backend, dtype=dtype)

    def call(meas):
        return k(meas)
    call.kernel = k
    return call


def _peer(name: str, key: str, make, requires=(), subset=None, float64_only=False):
    def build(w: Workload, dtype: str, n: int) -> Prepared:
        fn = make()

        def bind(inputs: Arrays):
            meas = inputs["meas"]
            return lambda: fn(meas)
        return Prepared(bind, lambda raw, n: _as_list(raw), subset=subset)

    def unsupported(w: Workload, dtype: str):
        return f"{name} computes in float64 only" if float64_only and dtype != "float64" \
            else None
    return Implementation(name, key, "peer", build, requires=requires, install=" ".join(requires),
                          unsupported=unsupported)


def _numpy():
    return lambda meas: peers.numpy_fit(TELESCOPE, meas)


def _filterpy():
    return lambda meas: peers.filterpy_fit(TELESCOPE, meas)


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)        # else float64 silently becomes float32
    fn = peers.jax_fit(TELESCOPE)

    def call(meas):
        return jax.block_until_ready(fn(jax.device_put(meas)))
    return call


PEERS = (
    _peer("numpy-batched", "numpy-batched", _numpy),
    _peer("filterpy", "filterpy", _filterpy, ("filterpy",), FILTERPY_TRACKS, float64_only=True),
    _peer("jax-vmap", "jax-vmap", _jax, ("jax",), JAX_TRACKS),
)

WORKLOAD = register(Workload(
    name="kalman-fit",
    description="extended Kalman track fit, 10 planes, q/p in a field: 3 passes per track",
    build=None, generate=generate, reference=reference, kernel=kernel, peers=PEERS,
    default_events=100_000,
    note="peers: numpy-batched, filterpy (on 200 tracks), jax-vmap (on 20000); numba "
         "compiles for minutes",
    # float32: the fit in float32 against the float64 NumPy fit of the same inputs; worst
    # element on 3000 tracks: 0.7% (physgraph), 1.3% (NumPy in float32), on chi2 and on
    # covariance elements near the comparison's 1e-3 * rms floor
    tolerance={"float64": 1e-9, "float32": 5e-2},
))
