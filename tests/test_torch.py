"""as_torch: a kernel as a torch.autograd.Function (forward and backward compiled)."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg

from helpers import assert_close

torch = pytest.importorskip("torch")


def _four_vectors(rng, n):
    p = rng.standard_normal((n, 4)) * 5
    p[:, 0] = np.abs(p[:, 0]) + 30
    return p


def _tagger(backend: str):
    rng = np.random.default_rng(7)
    mlp = pg.nn.MLP([(rng.standard_normal((16, 3)) * 0.5, rng.standard_normal(16)),
                     (rng.standard_normal((1, 16)) * 0.5, rng.standard_normal(1))],
                    "tanh", contract=True)

    @pg.compile(backend=backend)
    def tag(p: pg.Vec4, q: pg.Vec4, scale: pg.Param = 0.01):
        return mlp([(p + q).m2 * scale, p.pt / 10, pg.cos(p.phi - q.phi)])[0]
    return tag, mlp


def test_gradcheck_physics_and_network(rng):
    tag, _ = _tagger("numpy")
    f = tag.as_torch()
    p = torch.tensor(_four_vectors(rng, 6), requires_grad=True)
    q = torch.tensor(_four_vectors(rng, 6), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: f(a, b), (p, q))
    assert torch.autograd.gradcheck(lambda a: f(a, q, scale=0.02), (p,))


def _torch_tagger(mlp, p, q, scale=0.01):
    s = p + q
    m2 = s[:, 0] ** 2 - (s[:, 1:] ** 2).sum(1)
    dphi = torch.atan2(p[:, 2], p[:, 1]) - torch.atan2(q[:, 2], q[:, 1])
    x = torch.stack([m2 * scale, torch.hypot(p[:, 1], p[:, 2]) / 10, torch.cos(dphi)], 1)
    (W0, b0), (W1, b1) = [(torch.tensor(W), torch.tensor(b)) for W, b in mlp.layers]
    return (torch.tanh(x @ W0.T + b0) @ W1.T + b1)[:, 0]


def test_inside_an_nn_module_gradients_reach_both_sides(rng):
    """A torch layer before the compiled kernel: backward goes through the compiled VJP
    kernel into the torch layer's weights, equal to an all-torch version."""
    tag, mlp = _tagger("numpy")

    class Model(torch.nn.Module):
        def __init__(self, physics):
            super().__init__()
            self.calib = torch.nn.Linear(4, 4).double()
            self.physics = physics

        def forward(self, p, q):
            return self.physics(self.calib(p), q)

    torch.manual_seed(0)
    ours = Model(tag.as_torch())
    reference = Model(lambda p, q: _torch_tagger(mlp, p, q))
    reference.load_state_dict(ours.state_dict())
    p, q = torch.tensor(_four_vectors(rng, 500)), torch.tensor(_four_vectors(rng, 500))
    for model in (ours, reference):
        model.zero_grad()
        (model(p, q) ** 2).mean().backward()
    assert_close(ours(p, q).detach().numpy(), reference(p, q).detach().numpy(), rtol=1e-10)
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert_close(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_outputs_are_tensors_and_params_get_their_gradient_summed_over_events(rng):
    @pg.compile(backend="numpy")
    def f(x, y, g: pg.Param):
        return x * y * g, x + y

    fx = f.as_torch()
    x = torch.tensor(rng.standard_normal(5), requires_grad=True)
    g = torch.tensor(2.0, requires_grad=True)
    a, b = fx(x, 3.0, g)
    assert isinstance(a, torch.Tensor) and a.dtype == torch.float64
    (a.sum() + b.sum()).backward()
    assert_close(x.grad.numpy(), np.full(5, 3.0 * 2.0 + 1.0))
    assert g.grad.dtype == torch.float32        # the param's own dtype
    assert_close(g.grad.numpy(), np.float32(3.0 * x.detach().numpy().sum()), rtol=1e-6)


# ---- gradients with respect to params ------------------------------------------------------
def test_param_gradient_of_the_issue_example_and_gradcheck_with_inputs():
    """exp(-x m): m.grad was None after backward()."""
    @pg.compile(backend="numpy")
    def f(x, m: pg.Param = 2.0):
        return pg.exp(-x * m)
    ft = f.as_torch()
    x = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
    m = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    ft(x, m).sum().backward()
    h = 1e-5
    fd = (f(x.detach().numpy(), m=2.0 + h).sum() - f(x.detach().numpy(), m=2.0 - h).sum()) / (2 * h)
    assert float(m.grad) == pytest.approx(-0.31927500382233387, rel=1e-12)
    assert float(m.grad) == pytest.approx(fd, rel=1e-6)
    assert torch.autograd.gradcheck(ft, (x, m))


def test_gradcheck_inputs_and_params_together(rng, monkeypatch):
    """The tagger's momenta, its scale param and its network's weights, all at once; the
    param gradients summed one event at a time (blocks of at least one event)."""
    from physgraph.interop import torch_
    monkeypatch.setattr(torch_, "PER_BLOCK", 7)
    tag, mlp = _tagger("numpy")
    f = tag.as_torch()
    p = torch.tensor(_four_vectors(rng, 5), requires_grad=True)
    q = torch.tensor(_four_vectors(rng, 5), requires_grad=True)
    scale = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
    weights = {name: torch.tensor(w, requires_grad=True) for name, w in mlp.parameters().items()}
    names = list(weights)

    def run(p, q, scale, *ws):
        return f(p, q, scale=scale, **dict(zip(names, ws)))
    assert torch.autograd.gradcheck(run, (p, q, scale, *weights.values()))


def test_matrix_element_gradients_with_respect_to_mass_and_coupling():
    """d|M|^2/dm_t and d|M|^2/dalpha_s of g g -> t t~ through backward(), against central
    differences of the kernel itself."""
    from physgraph.bench.mem import generate_events
    from physgraph.physics import processes
    p = list(generate_events((173.0, 173.0), 500.0)(5, np.random.default_rng(5),
                                                   "float64").values())
    k = pg.compile(processes.build("gg_tt"), backend="numpy")
    m_t = torch.tensor(173.0, dtype=torch.float64, requires_grad=True)
    alpha_s = torch.tensor(0.118, dtype=torch.float64, requires_grad=True)
    k.as_torch()(*map(torch.tensor, p), m_t=m_t, alpha_s=alpha_s).sum().backward()
    assert set(k.__dict__["_derived"]) == {"vjp_of_params"}         # no momentum gradients

    def central(name, v, h):
        return (k(*p, **{name: v + h}).sum() - k(*p, **{name: v - h}).sum()) / (2 * h)
    assert float(m_t.grad) == pytest.approx(central("m_t", 173.0, 1e-2), rel=1e-6)
    assert float(alpha_s.grad) == pytest.approx(central("alpha_s", 0.118, 1e-5), rel=1e-6)


# numba (the default backend) on a narrow network: it compiles the backward kernels for
# seconds on two quiet cores, minutes on busy ones
@pytest.mark.parametrize("backend, contract, width", [
    ("numpy", True, 32), ("numpy", False, 32), ("numpy", None, 32), ("numba", True, 6)])
def test_a_compiled_network_is_a_module_with_torch_s_own_gradients(rng, backend, contract,
                                                                   width):
    """as_torch_module: the weights are nn.Parameters from the kernel's defaults; their
    gradients equal torch's for the same network (a layer run as a matrix product, written
    out, or chosen by width), and an optimizer trains them as it trains torch's."""
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Tanh(),
                              torch.nn.Linear(width, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1)).double()
    module = pg.nn.MLP.from_torch(net, contract=contract).compile(backend=backend) \
        .as_torch_module()
    names = ["mlp_W0", "mlp_b0", "mlp_W1", "mlp_b1", "mlp_W2", "mlp_b2"]
    assert [n for n, _ in module.named_parameters()] == names
    x = torch.tensor(rng.standard_normal((300, 4)))
    y = torch.sin(x[:, :1])
    for model in (module, net):
        ((model(x) - y) ** 2).mean().backward()
    for (name, ours), theirs in zip(module.named_parameters(), net.parameters()):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-13, err_msg=name)
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (module, net)]
    for _ in range(5):
        for model, opt in zip((module, net), optimizers):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
    for ours, theirs in zip(module.parameters(), net.parameters()):
        assert_close(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_module_takes_params_without_default_as_keywords():
    @pg.compile(backend="numpy")
    def f(x, a: pg.Param, b: pg.Param = 0.5):
        return a * x + b
    module = f.as_torch_module()
    assert [n for n, _ in module.named_parameters()] == ["b"]
    a = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    out = module(torch.tensor([1.0, 2.0], dtype=torch.float64), a=a)
    out.sum().backward()
    assert float(a.grad) == 3.0 and float(module.b.grad) == 2.0
