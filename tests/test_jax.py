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
from physgraph.bench.mem import generate_events
from physgraph.kernel import Kernel, Options
from helpers import assert_close as close
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


@settings(max_examples=10, deadline=None)
@given(g=graphs(max_steps=20))
def test_param_grad_of_as_jax_matches_finite_differences(g):
    """The random graphs again, differentiated with respect to both params at once."""
    f = kernel(g, "jax").as_jax()
    x = [np.float64(v[0]) for v in INPUTS]

    def loss(g_, h_):
        return sum(jnp.real(jnp.sum(o)) for o in f(*x, g_, h_))

    point = [PARAMS["g"], PARAMS["h"]]

    def at(k: int, v: float) -> float:
        return float(loss(*(v if j == k else p for j, p in enumerate(point))))

    with jax.enable_x64(True):
        grads = jax.grad(loss, argnums=(0, 1))(*point)
        for k, name in enumerate(PARAMS):
            h = 1e-6 * point[k]
            fd = (at(k, point[k] + h) - at(k, point[k] - h)) / (2 * h)
            scale = max(abs(fd), abs(at(k, point[k])), 1e-3)
            assert abs(float(grads[k]) - fd) <= 1e-5 * scale, name


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


# ---- gradients with respect to params ------------------------------------------------------
@pg.compile(backend="jax", dtype="float64")
def decay(x, m: pg.Param = 2.0):
    return pg.exp(-x * m)


X = np.array([0.5, 1.0])


def central(f, v: float, h: float) -> float:
    return (f(v + h) - f(v - h)) / (2 * h)


def test_grad_with_respect_to_a_param_is_the_sum_over_events():
    """It was a silent 0.0: params had no tangent in the JVP rule."""
    f = decay.as_jax()
    with jax.enable_x64(True):
        def loss(m):
            return f(X, m).sum()
        grad = float(jax.grad(loss)(2.0))
        assert grad == pytest.approx(-0.31927500382233387, rel=1e-12)
        assert grad == pytest.approx(central(lambda m: float(loss(m)), 2.0, 1e-5), rel=1e-6)
        assert float(jax.jit(jax.grad(loss))(2.0)) == pytest.approx(grad, rel=1e-14)
        per_m = jax.vmap(jax.grad(loss))(jnp.array([2.0, 3.0]))
        assert_close(np.asarray(per_m), -(X * np.exp(-np.outer([2.0, 3.0], X))).sum(1))
        per_event = -X * np.exp(-2 * X)
        assert_close(np.asarray(jax.jacfwd(lambda m: f(X, m))(2.0)), per_event)
        assert_close(np.asarray(jax.jacrev(lambda m: f(X, m))(2.0)), per_event)
        both = jax.grad(lambda x, m: f(x, m).sum(), argnums=(0, 1))(X, 2.0)
        assert_close(np.asarray(both[0]), -2 * np.exp(-2 * X))
        assert float(jax.hessian(loss)(2.0)) == pytest.approx((X * X * np.exp(-2 * X)).sum(),
                                                               rel=1e-12)


def test_a_jvp_kernel_for_what_moves():
    """Tangents that are symbolic zeros (held fixed) cost nothing: a kernel for the inputs,
    one for the params, one for both, each built when first needed."""
    @pg.compile(backend="jax")
    def k(x, m: pg.Param = 2.0):
        return pg.exp(-x * m)
    f = k.as_jax()
    built = k.__dict__.setdefault("_derived", {})
    with jax.enable_x64(True):
        jax.grad(lambda x: f(x, 2.0).sum())(X)
        assert set(built) == {"jvp"}
        jax.grad(lambda m: f(X, m).sum())(2.0)
        assert set(built) == {"jvp", "jvp_of_params"}
        assert [a.name for a in built["jvp_of_params"].input_graph.signature] == ["x", "m", "d_m"]
        jax.grad(lambda x, m: f(x, m).sum(), argnums=(0, 1))(X, 2.0)
        assert set(built) == {"jvp", "jvp_of_params", "jvp_params"}


def test_integer_inputs_are_not_differentiated():
    f = decay.as_jax()
    with jax.enable_x64(True):
        _, tangent = jax.jvp(lambda m: f(jnp.array([1, 2]), m), (2.0,), (1.0,))
    assert_close(np.asarray(tangent), -np.array([1, 2]) * np.exp(-2 * np.array([1, 2])))


def test_matrix_element_gradients_with_respect_to_mass_and_coupling():
    """d|M|^2/dm_t and d|M|^2/dalpha_s of g g -> t t~ against central differences."""
    from physgraph.physics import processes
    p = gg_tt_events(5)
    k = processes.compiled("gg_tt", backend="jax")
    f, reference = k.as_jax(), k.with_backend("numpy")

    def summed(**params):
        return float(reference(*p, **params).sum())

    with jax.enable_x64(True):
        d_m, d_a = jax.grad(lambda m, a: f(*p, m_t=m, alpha_s=a).sum(), argnums=(0, 1))(
            173.0, 0.118)
    assert float(d_m) == pytest.approx(central(lambda m: summed(m_t=m), 173.0, 1e-2), rel=1e-6)
    assert float(d_a) == pytest.approx(central(lambda a: summed(alpha_s=a), 0.118, 1e-5),
                                       rel=1e-6)
    assert float(d_a) == pytest.approx(2 * summed() / 0.118, rel=1e-12)     # |M|^2 ~ alpha_s^2


def gg_tt_events(n: int, sqrt_s: float = 500.0) -> list[np.ndarray]:
    """n phase-space points of g g -> t t~ (RAMBO, the beams along z)."""
    return list(generate_events((173.0, 173.0), sqrt_s)(n, np.random.default_rng(5),
                                                         "float64").values())


def _mlp_parts(rng):
    layers = [(rng.standard_normal((16, 3)) * 0.5, rng.standard_normal(16)),
              (rng.standard_normal((1, 16)) * 0.5, rng.standard_normal(1))]
    return layers, rng.standard_normal((40, 3))


def _jnp_mlp(params, x):
    h = jnp.tanh(x @ params["mlp_W0"].T + params["mlp_b0"])
    return (h @ params["mlp_W1"].T + params["mlp_b1"])[:, 0]


@pytest.mark.parametrize("contract", [True, False])
def test_network_weights_get_jax_s_own_gradient_and_train(rng, contract):
    """The weights as a pytree: jax.grad gives the gradient jnp code gets (a layer run as a
    matrix product or written out), and an optax-style update (tree_map) trains them."""
    layers, x = _mlp_parts(rng)
    mlp = pg.nn.MLP(layers, "tanh", contract=contract)
    f = mlp.compile(backend="jax").as_jax()
    params = f.defaults
    assert sorted(params) == ["mlp_W0", "mlp_W1", "mlp_b0", "mlp_b1"]
    target = np.sin(x[:, 0])

    def loss(params, net):
        return jnp.mean((net(params) - target) ** 2)
    def ours(params):
        return f(x, **params)[:, 0]

    def theirs(params):
        return _jnp_mlp(params, x)
    with jax.enable_x64(True):
        got = jax.grad(loss)(params, ours)
        want = jax.grad(loss)(params, theirs)
        for name in params:
            close(np.asarray(got[name]), np.asarray(want[name]), rtol=1e-10, atol=1e-13)
        step = jax.jit(lambda p: jax.tree_util.tree_map(
            lambda w, g: w - 0.1 * g, p, jax.grad(loss)(p, ours)))
        trained = params
        for _ in range(30):
            trained = step(trained)
        assert float(loss(trained, ours)) < 0.5 * float(loss(params, ours))
