"""The JAX backend: agrees with numpy, keeps device arrays on device, composes with
jax.jit / vmap / grad, and never flips JAX's global x64 flag."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import physgraph as pg
from physgraph.kernel import Kernel, Options
from test_passes import INPUTS, PARAMS, assert_close, graphs

jax = pytest.importorskip("jax")
jnp = jax.numpy


def kernel(g, backend: str, **options) -> Kernel:
    return Kernel(g, tuple(range(len(g.outputs))), "random", Options(backend, **options))


@settings(max_examples=40, deadline=None)
@given(g=graphs())
def test_jax_agrees_with_numpy(g):
    args = INPUTS + [PARAMS["g"], PARAMS["h"]]
    expected = kernel(g, "numpy")(*args)
    got = kernel(g, "jax")(*args)
    assert all(isinstance(r, np.ndarray) for r in got)   # numpy in, numpy out
    assert_close(expected, got)


@settings(max_examples=15, deadline=None)
@given(g=graphs(max_steps=20))
def test_grad_of_as_jax_matches_finite_differences(g):
    f = kernel(g, "jax").as_jax()
    x = [np.float64(v[0]) for v in INPUTS]

    def loss(x0):
        return sum(jnp.real(jnp.sum(o)) for o in f(x0, *x[1:], PARAMS["g"], PARAMS["h"]))

    with jax.enable_x64(True):
        grad = float(jax.grad(loss)(x[0]))
        h = 1e-6 * x[0]
        fd = float((loss(x[0] + h) - loss(x[0] - h)) / (2 * h))
        scale = max(abs(fd), float(abs(jax.grad(lambda v: abs(loss(v)))(x[0]))), 1e-3)
    assert abs(grad - fd) <= 1e-5 * scale + 1e-7 * abs(float(loss(x[0])))


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
