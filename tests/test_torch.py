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


def test_outputs_share_memory_with_the_kernel_result_and_params_get_no_grad(rng):
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
    assert g.grad is None                       # params are per-call constants
