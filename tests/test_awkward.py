"""Kernels on awkward arrays: record fields as arguments, vector's Momentum4D as Vec4,
jagged collections flattened, computed and unflattened."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg

from helpers import assert_close

ak = pytest.importorskip("awkward")
vector = pytest.importorskip("vector")
vector.register_awkward()


@pytest.fixture
def muons(rng):
    counts = rng.integers(0, 5, 40)
    n = int(counts.sum())
    mu = ak.zip({"pt": rng.uniform(5, 60, n), "eta": rng.uniform(-2.4, 2.4, n),
                 "phi": rng.uniform(-np.pi, np.pi, n), "mass": np.full(n, 0.10566)},
                with_name="Momentum4D")
    return ak.unflatten(mu, counts)


@pg.compile(backend="numpy")
def kinematics(p: pg.Vec4):
    return {"pt": p.pt, "eta": p.eta, "e": p.E}


def test_jagged_muons_per_muon_results(muons):
    out = kinematics(muons)
    assert set(out) == {"pt", "eta", "e"}
    for key, want in (("pt", muons.pt), ("eta", muons.eta), ("e", muons.E)):
        assert ak.all(ak.num(out[key]) == ak.num(muons))
        assert_close(ak.to_numpy(ak.flatten(out[key])), ak.to_numpy(ak.flatten(want)),
                     rtol=1e-12, atol=1e-12)


def test_record_of_events_per_event_results(muons):
    """k(events): fields matched to the argument names; a dimuon mass per event."""
    two = muons[ak.num(muons) >= 2]
    events = ak.zip({"mu1": two[:, 0], "mu2": two[:, 1], "weight": ak.num(two) * 0.5},
                    depth_limit=1)

    @pg.compile(backend="numpy")
    def dimuon(mu1: pg.Vec4, mu2: pg.Vec4, weight):
        return (mu1 + mu2).mass, weight * (mu1 + mu2).pt

    mass, wpt = dimuon(events)
    assert len(mass) == len(two) and mass.ndim == 1
    assert_close(ak.to_numpy(mass), ak.to_numpy((two[:, 0] + two[:, 1]).mass), rtol=1e-9)
    assert_close(ak.to_numpy(wpt), ak.to_numpy(events.weight * (two[:, 0] + two[:, 1]).pt),
                 rtol=1e-12)


def test_per_event_values_broadcast_to_jagged_and_vector_outputs(muons, rng):
    """A per-event scalar broadcast against the muons, plain E/px/py/pz records, a Vec4
    output, and the default numba backend."""
    plain = ak.zip({"E": muons.E, "px": muons.px, "py": muons.py, "pz": muons.pz})
    scale = ak.Array(rng.uniform(0.9, 1.1, len(muons)))

    @pg.compile
    def smear(p: pg.Vec4, s):
        return p * s, p.pt * s

    p4, pt = smear(plain, scale)
    assert ak.all(ak.num(pt) == ak.num(muons))
    assert_close(ak.to_numpy(ak.flatten(pt)), ak.to_numpy(ak.flatten(muons.pt * scale)),
                 rtol=1e-12)
    flat = ak.to_numpy(ak.flatten(p4))
    assert flat.shape == (int(ak.sum(ak.num(muons))), 4)
    assert_close(flat[:, 3], ak.to_numpy(ak.flatten(muons.pz * scale)), rtol=1e-12, atol=1e-12)


def test_awkward_errors(muons):
    with pytest.raises(pg.ShapeError, match="out="):
        kinematics(muons, out=np.empty(3))
    with pytest.raises(pg.UnsupportedError, match="four-vector"):
        kinematics(ak.zip({"a": muons.pt, "b": muons.eta}))
