"""Long bodies become several stage loops over blocks of events; values crossing stages
survive the trip through scratch, whatever their type (real, bool, complex at opt level 0)."""
import numpy as np
import pytest

import physgraph as pg
from physgraph.backends.numba_ import NumbaPrinter
from helpers import assert_close


def chain(a, b, c, g: pg.Param):
    """A long chain whose early real, complex and boolean values are read again at the end."""
    z = a + 1j * b
    early = a > c
    w, x = z, a
    for k in range(12):
        w = w * (0.5 + 0.01j * k) + g * c
        x = pg.sqrt(x * x + b * b + k) - c * 0.25
    return pg.re(w * pg.conj(z)), pg.where(early, x, -x), early & (x > b), w + z


@pytest.mark.parametrize("opt_level", [0, 2])
def test_split_kernel_agrees_with_numpy(monkeypatch, opt_level):
    monkeypatch.setattr(NumbaPrinter, "part_size", 7)
    k = pg.compile(backend="numba", opt_level=opt_level)(chain)
    assert k.source.count("def stage") > 2
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(0.5, 2.0, 2500) for _ in range(3))    # more than one block
    ref = k.with_backend("numpy")(a, b, c, g=0.7)
    got = k(a, b, c, g=0.7)
    for r, x in zip(ref, got, strict=True):
        if r.dtype == np.bool_:
            np.testing.assert_array_equal(r, x)
        else:
            assert_close(x, r, rtol=1e-12, atol=0)
