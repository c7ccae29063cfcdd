"""Network layers: pg.nn against torch and numpy, contractions on every backend, pruning,
batch-norm folding, physics and a network in one kernel, as_jax gradients."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg
from physgraph.backends.cuda import host_function, launch

from helpers import assert_close

try:                              # the torch extra: the checks against torch need it
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def _net(sizes, acts, seed=0, dtype=None):
    torch.manual_seed(seed)
    dtype = dtype or torch.float64
    mods = []
    for k in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            mods.append(acts[k % len(acts)])
    return torch.nn.Sequential(*mods).to(dtype)


def _torch(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


ACTS = [torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid(), torch.nn.GELU(approximate="tanh"),
        torch.nn.Softplus(beta=2.0, threshold=3.0), torch.nn.GELU()] if torch else []


@needs_torch
@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow),
                                     "jax", "llvm"])
def test_mlp_matches_torch_float64_with_contractions(backend, rng):
    """Every layer a matrix product; every activation (numba, slow to compile, gets two)."""
    sizes, acts = ([5, 12, 12, 12, 12, 12, 12, 2], ACTS[1:] + ACTS[:1]) if backend != "numba" \
        else ([5, 12, 12, 2], [ACTS[4], ACTS[0]])
    net = _net(sizes, acts)
    x = rng.standard_normal((2500, 5)) * 2            # more than two blocks of events
    k = pg.nn.MLP.from_torch(net, contract=True).compile(backend=backend)
    assert k.stats["ops"]["contract"] == sum(sizes[1:])
    assert_close(k(x), _torch(net, x), rtol=1e-12, atol=1e-12)


@needs_torch
def test_mlp_matches_torch_float32(rng):
    net = _net([6, 12, 12, 2], [torch.nn.ReLU(), torch.nn.Tanh()], dtype=torch.float32)
    x = rng.standard_normal((1500, 6)).astype(np.float32)
    k = pg.nn.MLP.from_torch(net, contract=True).compile(dtype="float32")
    y = k(x)
    assert y.dtype == np.float32
    assert_close(y, _torch(net, x), rtol=1e-6, atol=1e-6)


@needs_torch
def test_new_weights_run_in_the_same_compiled_kernel(rng):
    a, b = _net([5, 16, 16, 1], [torch.nn.ReLU()], seed=1), _net([5, 16, 16, 1], [torch.nn.ReLU()], seed=2)
    x = rng.standard_normal((300, 5))
    k = pg.nn.MLP.from_torch(a, contract=True).compile(backend="numpy")
    assert_close(k(x), _torch(a, x))
    fn = k._fn
    assert_close(k(x, **pg.nn.MLP.from_torch(b).parameters()), _torch(b, x))
    assert k._fn is fn
    assert not np.allclose(_torch(a, x), _torch(b, x))


@needs_torch
def test_baked_weights_prune_exact_zeros(rng):
    net = _net([8, 16, 4], [torch.nn.ReLU()])
    x = rng.standard_normal((200, 8))
    dense = pg.nn.MLP.from_torch(net, weights="const").compile(backend="numpy")
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight[torch.rand(m.weight.shape) < 0.75] = 0.0
    pruned = pg.nn.MLP.from_torch(net, weights="const").compile(backend="numpy")
    nonzero = sum(int((m.weight != 0).sum()) for m in net if isinstance(m, torch.nn.Linear))
    assert_close(pruned(x), _torch(net, x))
    assert pruned.stats["flops_out"] < 0.5 * dense.stats["flops_out"]
    assert pruned.stats["ops"].get("mul", 0) + pruned.stats["ops"].get("fma", 0) <= nonzero
    assert "contract" not in pruned.stats["ops"] and not pruned.signature[1:]


@needs_torch
def test_batchnorm_is_folded_into_the_linear_before_it(rng):
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                              torch.nn.Dropout(0.3), torch.nn.Linear(8, 2)).double()
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
    net.eval()
    mlp = pg.nn.MLP.from_torch(net)
    assert len(mlp.layers) == 2
    x = rng.standard_normal((100, 4))
    assert_close(mlp.compile(backend="numpy")(x), _torch(net, x))


@needs_torch
def test_unsupported_torch_layers_are_named():
    with pytest.raises(pg.UnsupportedError, match="LSTM"):
        pg.nn.MLP.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LSTM(2, 2)))


def _tagger_inputs(rng, n=1200):
    p = rng.standard_normal((n, 4)) * 10
    q = rng.standard_normal((n, 4)) * 10
    p[:, 0] = np.abs(p[:, 0]) + 40
    q[:, 0] = np.abs(q[:, 0]) + 40
    return p, q


def _features_np(p, q):
    s = p + q
    m2 = s[:, 0] ** 2 - (s[:, 1:] ** 2).sum(1)
    dphi = np.arctan2(p[:, 2], p[:, 1]) - np.arctan2(q[:, 2], q[:, 1])
    return np.stack([np.sqrt(np.abs(m2)) / 50, np.cos(dphi), np.hypot(p[:, 1], p[:, 2]) / 20,
                     np.hypot(q[:, 1], q[:, 2]) / 20], axis=1)


@needs_torch
def test_physics_and_network_in_one_kernel(rng):
    """Invariant mass and angles from four-vectors fed to a tagger, one kernel; the numba
    kernel is staged: physics, matrix product, activations and the narrow output layer."""
    net = _net([4, 16, 8, 1], [torch.nn.ReLU(), torch.nn.Tanh()], seed=4)
    mlp = pg.nn.MLP.from_torch(net, name="tagger", contract=True)

    @pg.compile
    def tag(p: pg.Vec4, q: pg.Vec4):
        s = p + q
        feats = [pg.sqrt(pg.abs(s.m2)) / 50, pg.cos(p.phi - q.phi), p.pt / 20, q.pt / 20]
        return pg.nn.sigmoid(mlp(feats)[0]), s.m2

    p, q = _tagger_inputs(rng)
    score, m2 = tag(p, q)
    feats = _features_np(p, q)
    assert_close(score, 1 / (1 + np.exp(-_torch(net, feats)[:, 0])), rtol=1e-10, atol=1e-12)
    assert_close(m2, (p + q)[:, 0] ** 2 - ((p + q)[:, 1:] ** 2).sum(1), rtol=1e-12)
    assert tag.stats["ops"]["contract"] == 16 + 8 + 1
    assert "stage1" in tag.source and "product(" in tag.source
    assert [a.name for a in tag.signature][2:] == ["tagger_W0", "tagger_b0", "tagger_W1",
                                                   "tagger_b1", "tagger_W2", "tagger_b2"]


def test_values_crossing_stages_and_rows_subset(rng):
    """A per-event value used before and after two products (scratch), a product whose
    result rows are partly dead, and outputs from every stage: numba == jax == llvm == numpy."""
    def f(x: pg.Vec[4], W: pg.Param[6, 4], W2: pg.Param[5, 6], s: pg.Param = 0.5):
        h = pg.nn.relu(pg.nn.dense(x, W, contract=True))
        skip = x[0] * pg.sin(x[1]) + s
        h2 = pg.nn.tanh(pg.nn.dense([v * skip for v in h], W2, contract=True))
        return h2[0] + skip * h2[3] + x[2], h2[1], skip

    x, W, W2 = rng.standard_normal((2100, 4)), rng.standard_normal((6, 4)), rng.standard_normal((5, 6))
    skip = x[:, 0] * np.sin(x[:, 1]) + 0.5
    h2 = np.tanh((np.maximum(x @ W.T, 0) * skip[:, None]) @ W2.T)
    want = (h2[:, 0] + skip * h2[:, 3] + x[:, 2], h2[:, 1], skip)
    for backend in ("numpy", "numba", "jax", "llvm"):
        got = pg.compile(backend=backend)(f)(x, W, W2)
        for a, b in zip(got, want):
            assert_close(a, b, rtol=1e-12, atol=1e-13)


@needs_torch
def test_cuda_expands_contractions_and_its_host_build_agrees(rng):
    net = _net([3, 8, 2], [torch.nn.Tanh()], seed=5)
    k = pg.nn.MLP.from_torch(net, contract=True).compile(backend="cuda")
    assert "contract" not in k.stats["ops"] and "pg_y" not in k.source
    x = rng.standard_normal((50, 3))
    out = np.empty((50, 2))
    arrays = [x] + list(pg.nn.MLP.from_torch(net).parameters().values())
    launch(host_function(k.source, "float64"), 50, arrays, [out])
    assert_close(out, _torch(net, x), rtol=1e-12, atol=1e-13)


def test_as_jax_gradients_match_jax_grad_of_jnp(rng):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    W0, b0 = rng.standard_normal((8, 4)) * 0.5, rng.standard_normal(8)
    W1, b1 = rng.standard_normal((2, 8)) * 0.5, rng.standard_normal(2)
    mlp = pg.nn.MLP([(W0, b0), (W1, b1)], "tanh", contract=True)

    @pg.compile(backend="jax")
    def f(p: pg.Vec4, q: pg.Vec4):
        out = mlp([(p + q).m2 / 2500, p.pt / 20, q.pt / 20, pg.cos(p.phi - q.phi)])
        return out[0] * out[1]

    def f_jnp(p, q):
        s = p + q
        m2 = s[:, 0] ** 2 - (s[:, 1:] ** 2).sum(1)
        dphi = jnp.arctan2(p[:, 2], p[:, 1]) - jnp.arctan2(q[:, 2], q[:, 1])
        feats = jnp.stack([m2 / 2500, jnp.hypot(p[:, 1], p[:, 2]) / 20,
                           jnp.hypot(q[:, 1], q[:, 2]) / 20, jnp.cos(dphi)], axis=1)
        out = jnp.tanh(feats @ W0.T + b0) @ W1.T + b1
        return out[:, 0] * out[:, 1]

    p, q = _tagger_inputs(rng, 40)
    fj = f.as_jax()
    with jax.enable_x64(True):
        assert_close(fj(p, q), f_jnp(p, q), rtol=1e-12, atol=1e-13)
        got = jax.grad(lambda a, b: fj(a, b).sum(), argnums=(0, 1))(p, q)
        want = jax.grad(lambda a, b: f_jnp(a, b).sum(), argnums=(0, 1))(p, q)
        for a, b in zip(got, want):
            assert_close(a, b, rtol=1e-10, atol=1e-12)
        tangent = rng.standard_normal(p.shape)
        _, got = jax.jvp(lambda a: fj(a, q), (p,), (tangent,))
        _, want = jax.jvp(lambda a: f_jnp(a, q), (p,), (tangent,))
        assert_close(got, want, rtol=1e-10, atol=1e-12)
    jvp_kernel = f.__dict__["_derived"]["jvp"]
    assert jvp_kernel.stats["ops"]["contract"] == 2 * (8 + 2)   # tangents: products too


def test_two_networks_need_two_names(rng):
    a = pg.nn.MLP([(rng.standard_normal((2, 2)), None)])
    b = pg.nn.MLP([(rng.standard_normal((2, 2)), None)])

    def f(x: pg.Vec[2]):
        return a(x)[0] + b(x)[1]
    with pytest.raises(pg.UnsupportedError, match="different names"):
        pg.compile(backend="numpy")(f)
    b.name = "other"
    k = pg.compile(backend="numpy")(f)
    x = rng.standard_normal((5, 2))
    assert_close(k(x), x @ a.layers[0][0][0] + x @ b.layers[0][0][1])


def test_dense_checks_shapes():
    with pytest.raises(pg.UnsupportedError, match="length 3"):
        pg.nn.dense([1.0, 2.0, 3.0], np.zeros((2, 2)))
    with pytest.raises(pg.UnsupportedError, match="takes 4 inputs"):
        pg.nn.MLP([(np.zeros((2, 3)), None), (np.zeros((1, 4)), None)])


@needs_torch
@pytest.mark.parametrize("name", ["mlp", "mlp-pruned"])
def test_bench_mlp_workloads_physgraph_and_torch_agree_with_the_reference(name):
    from physgraph.bench import runner, workloads
    from physgraph.bench.impls import select
    from physgraph.bench.limits import Limits
    w = workloads.get(name)
    inputs = w.inputs(3000, "float32")
    ref = w.reference(inputs)
    config = runner.Config(events=3000, dtype="float32", repeat=1)
    for impl in select(["numpy"], ["torch", "handwritten"], w):
        row = runner.run_one(impl, w, inputs, ref, Limits(), config, lambda *a: None)
        assert row.status == "ok", (impl.name, row.message)
    assert (w.flops_per_event < 1000) == (name == "mlp-pruned")
