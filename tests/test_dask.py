"""Kernels on dask arrays: one kernel call per chunk, on a two-worker local cluster."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg

from helpers import assert_close

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pg.compile(backend="numpy")
def observables(p: pg.Vec4, q: pg.Vec4, w, cut: pg.Param = 1.0):
    s = p + q
    return {"m2": s.m2 * w, "sum": s, "pass": s.pt > cut}


def test_four_partitions_on_two_workers(client, rng):
    n = 4000
    p, q, w = rng.standard_normal((n, 4)), rng.standard_normal((n, 4)), rng.standard_normal(n)
    dp = da.from_array(p, chunks=(n // 4, 2))              # per-event axis split: rechunked
    dq = da.from_array(q, chunks=(n // 4, 4))
    dw = da.from_array(w, chunks=n // 4)
    lazy = observables(dp, dq, dw, cut=0.5)
    assert isinstance(lazy["m2"], da.Array) and lazy["m2"].npartitions == 4
    assert lazy["sum"].shape == (n, 4) and lazy["pass"].dtype == np.bool_
    assert len(client.scheduler_info()["workers"]) == 2
    got = dict(zip(lazy, client.compute(list(lazy.values()), sync=True)))
    want = observables(p, q, w, cut=0.5)
    for key in want:
        assert_close(got[key], want[key])


def test_network_kernel_on_dask(client, rng):
    mlp = pg.nn.MLP([(rng.standard_normal((8, 3)), rng.standard_normal(8)),
                     (rng.standard_normal((2, 8)), rng.standard_normal(2))], "relu",
                    contract=True)
    k = mlp.compile(backend="numpy")
    x = rng.standard_normal((1000, 3))
    y = k(da.from_array(x, chunks=250))
    assert y.npartitions == 4 and y.shape == (1000, 2)
    assert_close(y.compute(), k(x))
