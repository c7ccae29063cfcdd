"""The CUDA backend without a GPU: every generated source compiles with nvcc (when it is on
PATH) and, built as host C++, agrees with the numpy backend; with a GPU (marker ``gpu``),
CuPy runs it."""
from __future__ import annotations

import contextlib
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings

import physgraph as pg
from physgraph import kernel as kernel_module
from physgraph.backends.cuda import CudaPrinter, host_function, launch
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
    launch(host_function(k.source, k.options.dtype), n, arrays, outs)
    return outs


@contextlib.contextmanager
def host_build_for_the_gpu():
    """CUDA kernels load as their host build, which stands in for CuPy: calling a kernel
    then runs the GPU's own path (Kernel -> CudaPrinter.load, run -> launch).  Loaded
    kernels are kept apart from those of other tests (they are the host's, not CuPy's)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel_module, "_COMPILED", {})
        mp.setattr(CudaPrinter, "load", lambda self, source, name="kernel", path=None:
                   host_function(source, self.dtype))
        yield


@contextlib.contextmanager
def cache_in(folder):
    """Kernels are compiled into (and read back from) the on-disk cache in ``folder``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHYSGRAPH_CACHE_DIR", str(folder))
        mp.setenv("PHYSGRAPH_CACHE", "on")
        yield


def from_cache(k: Kernel) -> Kernel:
    """The same kernel made afresh, as another process would: its source comes from the
    on-disk cache, and this process never prints it."""
    again = Kernel(k.input_graph, k.structure, k.name, k.options)
    assert (k.cache_status, again.cache_status) == ("miss", "hit")
    return again


@contextlib.contextmanager
def stages_of(part_size: int):
    """CUDA kernels whose body is cut into kernels of at most ``part_size`` nodes each
    (none, when it is CudaPrinter's own: these graphs are short), printed afresh."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CudaPrinter, "part_size", part_size)
        mp.setenv("PHYSGRAPH_CACHE", "off")
        yield


@pytest.mark.parametrize("part_size", [CudaPrinter.part_size, 2])
@settings(max_examples=25, deadline=None)
@given(g=graphs())
def test_host_build_agrees_with_numpy(g, part_size, tmp_path_factory):
    structure = tuple(range(len(g.outputs)))
    with stages_of(part_size):
        cuda = Kernel(g, structure, "random", Options("cuda"))
    nvcc_compiles(cuda.source, tmp_path_factory.mktemp("nvcc"))
    args = INPUTS + [PARAMS["g"], PARAMS["h"]]
    expected = Kernel(g, structure, "random", Options("numpy"))(*args)
    assert_close(expected, run_host(cuda, args))


def pair(p: pg.Vec4, q: pg.Vec4, W: pg.Param[2, 2], cut: pg.Param = 0.5):
    s = p + q
    amp = (p.E + 1j * p.px) * (q.E - 1j * q.py)
    return (s.mass, s.eta, s.phi, pg.where(p.pt > cut, W[0, 1] * p.pt, W[1, 0]), amp,
            pg.minimum(p.E, q.E), p.E > q.E)


observables = pg.compile(pair, backend="cuda", dtype="float32", name="observables")


@pytest.mark.parametrize("part_size", [CudaPrinter.part_size, 5])
def test_float32_strided_params_complex_and_bool_outputs(tmp_path, part_size, monkeypatch):
    from physgraph.backends import cuda
    monkeypatch.setattr(cuda, "SCRATCH_BYTES", 1000)     # staged: several chunks of events
    with stages_of(part_size):
        k = pg.compile(backend="cuda", dtype="float32")(pair)
    assert ("pg_stage3" in k.source) == (part_size == 5)
    nvcc_compiles(k.source, tmp_path)
    rng = np.random.default_rng(5)
    big = rng.uniform(-1, 1, (50, 10))
    big[:, 0] = big[:, 5] = 3.0
    p, q = big[:, 0:4], big[:, 5:9]          # strided views, read in place
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = run_host(k, [p, q, W, 0.7])
    expected = observables.with_backend("numpy")(p, q, W, 0.7)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype
        np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("part_size", [CudaPrinter.part_size, 5])
def test_a_kernel_from_the_cache_launches(tmp_path, part_size, monkeypatch):
    """On a cache hit the source is read from disk, not printed, so what the launch needs
    (the arguments' roles, the stages, the scratch) must come from the source: it once came
    from the printer's state, set only while printing."""
    monkeypatch.setattr(CudaPrinter, "part_size", part_size)
    with cache_in(tmp_path), host_build_for_the_gpu():
        k = from_cache(pg.compile(backend="cuda", dtype="float32")(pair))
        assert ("pg_stage3" in k.source) == (part_size == 5)
        rng = np.random.default_rng(7)
        p, q = rng.uniform(-1, 1, (40, 4)), rng.uniform(-1, 1, (40, 4))
        W = np.array([[1.0, 2.0], [3.0, 4.0]])
        got = k(p, q, W, 0.7)
    expected = observables.with_backend("numpy")(p, q, W, 0.7)
    for e, g in zip(expected, got, strict=True):
        assert e.dtype == g.dtype
        np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)


def test_source_is_there_without_a_gpu():
    assert 'extern "C" __global__ void kernel(' in observables.source
    assert "const float* __restrict__ p" in observables.source
    assert observables.source.startswith("// physgraph kernel 'observables'")


@pytest.mark.gpu
@pytest.mark.parametrize("part_size", [CudaPrinter.part_size, 5])
def test_cupy_runs_the_kernel_on_the_gpu(part_size, monkeypatch):
    cupy = pytest.importorskip("cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no NVIDIA GPU here")
    from physgraph.backends import cuda
    monkeypatch.setattr(cuda, "SCRATCH_BYTES", 100_000)  # staged: several chunks of events
    with stages_of(part_size):
        k = pg.compile(backend="cuda", dtype="float32")(pair)
    rng = np.random.default_rng(6)
    p = rng.uniform(1, 2, (10_000, 4))
    expected = k.with_backend("numpy")(p, p, np.eye(2), 0.7)
    host_in = k(p, p, np.eye(2), 0.7)                             # numpy in, numpy out
    device_in = k(cupy.asarray(p), cupy.asarray(p), np.eye(2), 0.7)
    for e, h, d in zip(expected, host_in, device_in):
        assert isinstance(d, cupy.ndarray)
        np.testing.assert_allclose(h, e, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(cupy.asnumpy(d), e, rtol=2e-6, atol=1e-6)
