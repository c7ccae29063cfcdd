"""The CUDA backend without a GPU: every generated source compiles with nvcc (when it is on
PATH) and, built as host C++, agrees with the numpy backend; with a GPU (marker ``gpu``),
CuPy runs it."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings

import physgraph as pg
from physgraph.backends.cuda import host_function
from physgraph.kernel import Kernel, Options
from test_passes import INPUTS, PARAMS, assert_close, graphs

NVCC = shutil.which("nvcc")


def nvcc_compiles(source: str, tmp_path) -> None:
    if NVCC is None:     # CI machines have it; the host build below still runs
        return
    src = tmp_path / "kernel.cu"
    src.write_text(source)
    done = subprocess.run([NVCC, "-arch=sm_90", "-ptx", str(src), "-o", str(tmp_path / "k.ptx")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def run_host(k: Kernel, values: list):
    arrays, n = k._convert(k._bind(values, {}))
    outs = k._allocate(n)
    host_function(k.source, k.options.dtype)(k.graph.signature, n, arrays, outs)
    return outs


@settings(max_examples=25, deadline=None)
@given(g=graphs())
def test_host_build_agrees_with_numpy(g, tmp_path_factory):
    structure = tuple(range(len(g.outputs)))
    cuda = Kernel(g, structure, "random", Options("cuda"))
    nvcc_compiles(cuda.source, tmp_path_factory.mktemp("nvcc"))
    args = INPUTS + [PARAMS["g"], PARAMS["h"]]
    expected = Kernel(g, structure, "random", Options("numpy"))(*args)
    assert_close(expected, run_host(cuda, args))


@pg.compile(backend="cuda", dtype="float32")
def observables(p: pg.Vec4, q: pg.Vec4, W: pg.Param[2, 2], cut: pg.Param = 0.5):
    s = p + q
    amp = (p.E + 1j * p.px) * (q.E - 1j * q.py)
    return (s.mass, s.eta, s.phi, pg.where(p.pt > cut, W[0, 1] * p.pt, W[1, 0]), amp,
            pg.minimum(p.E, q.E), p.E > q.E)


def test_float32_strided_params_complex_and_bool_outputs(tmp_path):
    nvcc_compiles(observables.source, tmp_path)
    rng = np.random.default_rng(5)
    big = rng.uniform(-1, 1, (50, 10))
    big[:, 0] = big[:, 5] = 3.0
    p, q = big[:, 0:4], big[:, 5:9]          # strided views, read in place
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = run_host(observables, [p, q, W, 0.7])
    expected = observables.with_backend("numpy")(p, q, W, 0.7)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype
        np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)


def test_source_is_there_without_a_gpu():
    assert 'extern "C" __global__ void kernel(' in observables.source
    assert "const float* __restrict__ p" in observables.source
    assert observables.source.startswith("// physgraph kernel 'observables'")


@pytest.mark.gpu
def test_cupy_runs_the_kernel_on_the_gpu():
    cupy = pytest.importorskip("cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no NVIDIA GPU here")
    rng = np.random.default_rng(6)
    p = rng.uniform(1, 2, (10_000, 4))
    expected = observables.with_backend("numpy")(p, p, np.eye(2), 0.7)
    host_in = observables(p, p, np.eye(2), 0.7)                   # numpy in, numpy out
    device_in = observables(cupy.asarray(p), cupy.asarray(p), np.eye(2), 0.7)
    for e, h, d in zip(expected, host_in, device_in):
        assert isinstance(d, cupy.ndarray)
        np.testing.assert_allclose(h, e, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(cupy.asnumpy(d), e, rtol=2e-6, atol=1e-6)
