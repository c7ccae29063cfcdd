"""Workloads ``mlp`` and ``mlp-pruned``: a 16-64-64-1 ReLU network on a batch of events.

``mlp``: dense weights, which physgraph takes as params (one kernel for any weights; the
16x64 and 64x64 layers run as matrix products over blocks of events, the 64x1 layer in the
fused per-event loop).  ``mlp-pruned``: the same network with 90% of each layer's weights
(the smallest in magnitude) set to zero, which physgraph bakes in as constants, so the
zeros and the neurons left without a path to the output cost nothing.

The workloads bring their own kernel (``pg.nn.MLP``) and their own peer, torch on the CPU:
the same weights in a ``torch.nn.Sequential`` under ``torch.inference_mode``, on the same
inputs (``torch.from_numpy``: no copy), with torch's own thread count (all cores).  The
hand-written NumPy peer is the same network as three BLAS matrix products.  There is no
SymPy form (a 10^4-operation expression is not how anyone writes a network), so the SymPy
peers do not apply.  The flops per event are those of the traced network: for
``mlp-pruned`` only the weights that are not zero and lead to the output.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .impls import Implementation, Prepared
from .workloads import Arrays, Workload, register

SIZES = (16, 64, 64, 1)
PRUNED = 0.9
SEED = 8


@lru_cache(maxsize=2)
def layers(pruned: float = 0.0) -> tuple:
    """(W, b) per layer, torch's default initialization (uniform +-1/sqrt(in)), in float64;
    with ``pruned``, that fraction of each layer's weights, smallest first, are zero."""
    rng = np.random.default_rng(SEED)
    out = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(n_in)
        W = rng.uniform(-bound, bound, (n_out, n_in))
        b = rng.uniform(-bound, bound, n_out)
        if pruned:
            cut = np.quantile(np.abs(W), pruned)
            W[np.abs(W) <= cut] = 0.0
        # float32-exact, so a float32 run and its float64 reference use the same weights
        out.append((W.astype(np.float32).astype(np.float64),
                    b.astype(np.float32).astype(np.float64)))
    return tuple(out)


def _generate(n: int, rng: np.random.Generator, dtype: str) -> Arrays:
    return {"x": rng.standard_normal((n, SIZES[0])).astype(dtype)}


def _reference(pruned: float):
    def reference(inputs: Arrays) -> list[np.ndarray]:
        h = inputs["x"].astype(np.float64)
        net = layers(pruned)
        for k, (W, b) in enumerate(net):
            h = h @ W.T + b
            if k < len(net) - 1:
                h = np.maximum(h, 0.0)
        return [h[:, 0]]
    return reference


def _handwritten(pruned: float):
    def handwritten(inputs: Arrays) -> list[np.ndarray]:
        x = inputs["x"]
        h = x
        net = layers(pruned)
        for k, (W, b) in enumerate(net):
            h = h @ W.T.astype(x.dtype) + b.astype(x.dtype)
            if k < len(net) - 1:
                np.maximum(h, 0, out=h)
        return [h[:, 0]]
    return handwritten


def kernel(pruned: float):
    """The physgraph kernel of the workload: (backend, dtype) -> Kernel of ``x``."""
    def build(backend: str, dtype: str):
        from ..physics.nn import MLP
        mlp = MLP(layers(pruned), "relu", weights="const" if pruned else "param",
                  name="mlp_pruned" if pruned else "mlp")
        k = mlp.compile(backend=backend, dtype=dtype)

        def call(x):
            return k(x)[:, 0]
        call.kernel = k
        return call
    return build


# ---- the torch peer -------------------------------------------------------------------------
def _build_torch(w: Workload, dtype: str, n: int) -> Prepared:
    import torch
    pruned = PRUNED if w.name == "mlp-pruned" else 0.0
    mods = []
    for k, (W, b) in enumerate(layers(pruned)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin] + ([torch.nn.ReLU()] if k < len(SIZES) - 2 else [])
    net = torch.nn.Sequential(*mods).to(getattr(torch, dtype)).eval()

    def bind(inputs: Arrays):
        x = torch.from_numpy(inputs["x"])

        def call():
            with torch.inference_mode():
                return net(x)
        return call
    return Prepared(bind, lambda raw, n: [raw.numpy()[:, 0]],
                    info={"torch_threads": torch.get_num_threads()})


TORCH = Implementation("torch-cpu", "torch", "peer", _build_torch, requires=("torch",),
                       install="physgraph[torch]")

for _name, _pruned, _what in (("mlp", 0.0, "dense weights as params: matrix products"),
                              ("mlp-pruned", PRUNED, "90% of weights zero, baked in")):
    register(Workload(
        name=_name, description=f"16-64-64-1 ReLU MLP, {_what}",
        build=None, generate=_generate, reference=_reference(_pruned),
        handwritten=_handwritten(_pruned), kernel=kernel(_pruned), peers=(TORCH,),
        default_events=1_000_000))
