"""One kernel called from four threads at once gives every thread its own right answer."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import physgraph as pg


@pytest.mark.parametrize("backend", ["numba", "numpy", "jax", "llvm"])
def test_four_threads_one_kernel(backend):
    if backend == "jax":
        pytest.importorskip("jax")

    @pg.compile(backend=backend)
    def f(x, y, a: pg.Param):
        return pg.sqrt(x * x + y * y) * a, pg.where(x > y, x, y)

    rng = np.random.default_rng(11)
    jobs = [(rng.uniform(-1, 1, 20_000), rng.uniform(-1, 1, 20_000), float(k + 1))
            for k in range(16)]

    def run(job):
        x, y, a = job
        return f(x, y, a)

    with ThreadPoolExecutor(4) as pool:      # the first calls race to compile, too
        results = list(pool.map(run, jobs))
    for (x, y, a), (r, m) in zip(jobs, results):
        np.testing.assert_allclose(r, np.hypot(x, y) * a, rtol=1e-14)
        np.testing.assert_array_equal(m, np.maximum(x, y))
