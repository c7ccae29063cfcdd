"""The JAX backend: agrees with numpy, keeps device arrays on device, composes with
jax.jit / vmap / grad, and never flips JAX's global x64 flag."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings

import physgraph as pg
from physgraph.backends import staging
from physgraph.backends.jax_ import JaxPrinter
from physgraph.kernel import Kernel, Options
from test_passes import INPUTS, PARAMS, assert_close, graphs

jax = pytest.importorskip("jax")
jnp = jax.numpy


def kernel(g, backend: str, **options) -> Kernel:
    return Kernel(g, tuple(range(len(g.outputs))), "random", Options(backend, **options))


@contextlib.contextmanager
def stages_of(part_size: int):
    """JAX kernels cut into XLA computations of at most ``part_size`` nodes (the default
    when it is JaxPrinter's own), compiled afresh (not from the on-disk cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(JaxPrinter, "part_size", part_size)
        mp.setattr(JaxPrinter, "max_handed_on", float("inf"))     # cut even where wide
        mp.setenv("PHYSGRAPH_CACHE", "off")
        yield


STAGES = [JaxPrinter.part_size, 2]          # the default (these graphs fit one), and many


@pytest.mark.parametrize("part_size", STAGES)
@settings(max_examples=40, deadline=None)
@given(g=graphs())
def test_jax_agrees_with_numpy(g, part_size):
    args = INPUTS + [PARAMS["g"], PARAMS["h"]]
    expected = kernel(g, "numpy")(*args)
    with stages_of(part_size):
        k = kernel(g, "jax")
        got = k(*args)
    body = staging.body_size(k.graph)
    assert k.source.count("@jax.jit") == max(1, -(-body // part_size))     # one per stage
    assert all(isinstance(r, np.ndarray) for r in got)   # numpy in, numpy out
    assert_close(expected, got)


@pytest.mark.parametrize("part_size", STAGES)
@settings(max_examples=15, deadline=None)
@given(g=graphs(max_steps=20))
def test_grad_of_as_jax_matches_finite_differences(g, part_size):
    with stages_of(part_size):
        f = kernel(g, "jax").as_jax()
    x = [np.float64(v[0]) for v in INPUTS]

    def loss(x0):
        return sum(jnp.real(jnp.sum(o)) for o in f(x0, *x[1:], PARAMS["g"], PARAMS["h"]))

    with jax.enable_x64(True):
        grad = float(jax.grad(loss)(x[0]))
        h = 1e-6 * x[0]
        fd = float((loss(x[0] + h) - loss(x[0] - h)) / (2 * h))
        scale = max(abs(fd), float(abs(jax.grad(lambda v: abs(loss(v)))(x[0]))), 1e-3)
        value = float(loss(x[0]))
    assert abs(grad - fd) <= 1e-5 * scale + 1e-7 * abs(value)


def test_grad_through_constant_complex_and_boolean_outputs():
    """JAX wants each tangent in its primal's type: complex for a complex output even
    where the derivative folds to a real zero (found by the long fuzzing run), float0 for
    a boolean output."""
    @pg.compile(backend="jax")
    def f(x: pg.Vec[2], g: pg.Param):
        return g - 1j * g, x[0] > x[1], x[0] * (1 + 2j), x[0] * x[1]
    h = f.as_jax()

    def loss(a):
        c, b, z, r = h(jnp.stack([a, 2.0]), 1.3)
        return jnp.real(c) + jnp.where(b, 1.0, 0.0) + jnp.imag(z) + r

    with jax.enable_x64(True):
        assert float(jax.grad(loss)(1.5)) == pytest.approx(2.0 + 2.0, rel=1e-12)


def narrow(x: pg.Vec[2]):
    """A chain that hands on two values wherever it is cut."""
    a, b = x[0], x[1]
    for k in range(40):
        a, b = b, pg.sqrt(a * b + 0.1 * k)
    return a + b, a


def wide(x: pg.Vec[2]):
    """Forty values that the first output needs, read again by the second: a cut in
    between hands on all of them."""
    u = [pg.sqrt(x[0] * k + x[1]) for k in range(1, 41)]
    v = [pg.exp(a * b * 0.01) for a, b in zip(u, u[1:] + u[:1])]
    return sum(u[1:], u[0]), sum(v[1:], v[0])


@pytest.mark.parametrize("f, cut", [(narrow, True), (wide, False)])
def test_body_is_cut_only_where_few_values_cross(monkeypatch, f, cut):
    monkeypatch.setattr(JaxPrinter, "part_size", 20)
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    k = pg.compile(f, backend="jax")
    assert ("pg_stage1" in k.source) == cut
    x = np.random.default_rng(2).uniform(1.0, 2.0, (50, 2))
    assert_close(list(k.with_backend("numpy")(x)), list(k(x)))


@pytest.mark.parametrize("process", ["gg_tt", "uu_aaa"])
def test_matrix_elements_stay_one_computation(process):
    """Their cuts would hand on many arrays (benchmarks/README.md has what a cut cost)."""
    from physgraph.physics import processes
    k = pg.compile(processes.build(process), backend="jax")
    assert k.source.count("@jax.jit") == 1 and len(k.graph) > JaxPrinter.part_size


@pg.compile(backend="jax", dtype="float32")
def pair_mass(p: pg.Vec4, q: pg.Vec4, scale: pg.Param = 1.0):
    return (p + q).mass * scale, p.pt


def test_device_arrays_stay_on_device_and_x64_is_left_alone():
    x64 = jax.config.read("jax_enable_x64")
    rng = np.random.default_rng(1)
    p = rng.uniform(-1, 1, (100, 4))
    p[:, 0] = 5.0
    m, pt = pair_mass(jnp.asarray(p, jnp.float32), jnp.asarray(p, jnp.float32), scale=2.0)
    assert isinstance(m, jax.Array) and m.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(m), 2 * 2 * np.sqrt(p[:, 0]**2 - (p[:, 1:]**2).sum(1)),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(pt), np.hypot(p[:, 1], p[:, 2]), rtol=1e-6)
    assert jax.config.read("jax_enable_x64") == x64


def test_as_jax_composes_with_jit_and_vmap():
    f = pair_mass.as_jax()
    p = jnp.asarray(np.random.default_rng(2).uniform(1, 2, (8, 4)), jnp.float32)
    batched = jax.jit(lambda a: f(a, a)[1])(p)
    one_by_one = jax.vmap(lambda a: f(a, a, 1.0)[1])(p)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(one_by_one), rtol=1e-6)


def test_unnamed_backend_follows_jax_arrays_named_backend_refuses():
    @pg.compile
    def f(x):
        return x * x

    @pg.compile(backend="numba")
    def g(x):
        return x * x

    x = jnp.arange(4.0)
    assert isinstance(f(x), jax.Array)
    with pytest.raises(pg.UnsupportedError, match="with_backend"):
        g(x)


def test_as_jax_of_a_float64_kernel_will_not_run_in_float32():
    """With JAX's x64 mode off, float64 values would come back as float32 without a word."""
    f = pair_mass.with_backend("jax", dtype="float64").as_jax()
    p = np.tile([5.0, 1.0, 2.0, 2.0], (3, 1))
    with jax.enable_x64(False):
        with pytest.raises(pg.UnsupportedError, match='jax.config.update\\("jax_enable_x64", '
                           'True\\).*dtype="float32"'):
            f(p, p)
        with pytest.raises(pg.UnsupportedError, match="jax_enable_x64"):
            jax.jit(f)(p, p)
        assert pair_mass.as_jax()(p, p)[0].dtype == jnp.float32     # what it was asked for
    with jax.enable_x64(True):
        m, _ = f(p, p)
    assert m.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(m), np.sqrt(100 - 4 - 16 - 16))       # p + p
