"""The Kalman track fit of examples/kalman: physics (pulls and chi2 on simulated tracks),
agreement with the independent NumPy, filterpy and hand-Jacobian versions, float32, the
dense (structure-blind) variant.  The numpy backend throughout: no JIT wait."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import physgraph as pg
from physgraph.bench import kalman_peers as peers
from physgraph.bench.compare import max_rel_err
from physgraph.physics import kalman as fit, telescope as tm

sys.path.append(str(Path(__file__).resolve().parents[1]))
from examples.kalman.validate import pulls  # noqa: E402

from helpers import assert_close  # noqa: E402

TEL = tm.Telescope()
N = 4000


@pytest.fixture(scope="module")
def kernel() -> pg.Kernel:
    return fit.compile_fit(TEL, backend="numpy")


@pytest.fixture(scope="module")
def tracks():
    return tm.generate(TEL, N, np.random.default_rng(7))


def test_pulls_and_chi2_on_simulated_tracks(kernel, tracks):
    """With 4000 tracks a pull mean has sigma 0.016 and a width 0.011: the bounds are 5 sigma.
    The chi2 of the forward pass must follow chi2(2 L - 5): mean, and flat probability."""
    meas, truth = tracks
    out = kernel(meas)
    for where, p in pulls(out, truth).items():
        assert np.all(np.abs(p.mean(0)) < 0.08), (where, p.mean(0))
        assert np.all(np.abs(p.std(0) - 1) < 0.055), (where, p.std(0))
    assert abs(out["chi2"].mean() / TEL.ndf - 1) < 0.03
    prob = stats.chi2.sf(out["chi2"], TEL.ndf)
    assert abs(np.mean(prob < 0.05) - 0.05) < 0.02
    assert stats.kstest(prob, "uniform").pvalue > 1e-4


def test_scattering_matters(kernel, tracks):
    """The same tracks fitted as if the planes had no material: the pulls must widen, so the
    test above can fail when the scattering model is wrong."""
    meas, truth = tracks
    thin = fit.compile_fit(tm.Telescope(x_over_x0=1e-6), backend="numpy")(meas)
    assert pulls(thin, truth)["first"][:, 2].std() > 1.5
    assert thin["chi2"].mean() / TEL.ndf > 1.5


def test_straight_line_telescope():
    tel = tm.Telescope(field=0.0)
    meas, truth = tm.generate(tel, 2000, np.random.default_rng(3))
    out = fit.compile_fit(tel, backend="numpy")(meas)
    assert out["x_last"].shape == (2000, 4)
    for p in pulls(out, truth).values():
        assert np.all(np.abs(p.mean(0)) < 0.11) and np.all(np.abs(p.std(0) - 1) < 0.08)
    assert abs(out["chi2"].mean() / tel.ndf - 1) < 0.04


def test_agrees_with_the_numpy_batched_fit(kernel, tracks):
    meas = tracks[0][:500]
    got, ref = kernel(meas), peers.numpy_fit(TEL, meas)
    err, message = max_rel_err([got[k] for k in peers.KEYS], [ref[k] for k in peers.KEYS])
    assert not message and err < 1e-10, err


def test_agrees_with_filterpy_track_by_track(kernel, tracks):
    meas = tracks[0][:8]
    got, ref = kernel(meas), peers.filterpy_fit(TEL, meas)
    for key in peers.KEYS:
        assert_close(got[key], ref[key], rtol=1e-9, atol=1e-14)


def test_transport_jacobian_matches_the_hand_written_one():
    @pg.compile(backend="numpy")
    def jac(s: pg.Vec[5]):
        return pg.jacobian(lambda v: tm.propagate(TEL, v, 37.5), s)
    rng = np.random.default_rng(4)
    s = np.column_stack([rng.normal(size=(50, 2)), rng.uniform(-0.3, 0.3, (50, 2)),
                         rng.uniform(-1, 1, 50)])
    assert_close(jac(s), peers.jacobian(TEL, s, 37.5), rtol=1e-13, atol=1e-15)


def test_float32_within_documented_tolerance(kernel, tracks):
    """float32 (Joseph form): parameters within 0.05 sigma of the float64 fit, sigmas within
    1%, chi2 within 0.5 (README of examples/kalman)."""
    meas = tracks[0][:2000]
    f64 = kernel(meas)
    f32 = fit.compile_fit(TEL, backend="numpy", dtype="float32")(meas.astype(np.float32))
    for where in ("first", "last"):
        sigma = np.sqrt(np.diagonal(f64["P_" + where], axis1=1, axis2=2))
        s32 = np.sqrt(np.diagonal(f32["P_" + where], axis1=1, axis2=2))
        assert np.max(np.abs(f32["x_" + where] - f64["x_" + where]) / sigma) < 0.05
        assert np.max(np.abs(s32 / sigma - 1)) < 0.01
    assert np.max(np.abs(f32["chi2"] - f64["chi2"])) < 0.5


def test_dense_variant_computes_the_same_with_more_flops(kernel, tracks):
    meas = tracks[0][:200]
    fn = fit.make_fit(TEL, dense=True)
    dense = pg.compile(fn, backend="numpy")
    consts = np.zeros(fit.Dense.SIZE)
    consts[:len(fn.alg.values)] = fn.alg.values
    got, ref = dense(meas, consts), kernel(meas)
    err, _ = max_rel_err([got[k] for k in peers.KEYS], [ref[k] for k in peers.KEYS])
    assert err < 1e-9
    assert dense.stats["flops_out"] > 2 * kernel.stats["flops_out"]


# ---- the benchmark workload: its own kernel and peers ---------------------------------------
def test_workload_brings_its_own_peers_and_subset_timing():
    from physgraph.bench import runner, workloads
    from physgraph.bench.impls import Implementation, Prepared, select
    from physgraph.bench.limits import Limits
    from physgraph.bench.peers import for_workload
    w = workloads.get("kalman-fit")
    keys = set(for_workload(w))
    assert {"numpy-batched", "filterpy", "jax-vmap"} <= keys
    assert not keys & {"lambdify", "symengine", "pytensor"}          # no SymPy form to compile
    assert "filterpy" not in for_workload(workloads.get("kalman-update"))
    (impl,) = select([], ["numpy-batched"], w)
    assert impl.name == "numpy-batched"

    def build(w, dtype, n):     # the NumPy fit, told to run on 10 of the events only
        return Prepared(lambda inputs: (lambda: peers.numpy_fit(TEL, inputs["meas"])),
                        lambda raw, n: [raw[k] for k in peers.KEYS], subset=10)
    inputs = w.inputs(40)
    row = runner.run_one(Implementation("subset", "subset", "peer", build), w, inputs,
                         w.reference(inputs), Limits(), runner.Config(events=40, repeat=1),
                         lambda text, advance: None)
    assert row.status == "ok", row.message
    assert row.info["events_run"] == 10
    assert row.events_per_s == pytest.approx(10 / row.time_s)
