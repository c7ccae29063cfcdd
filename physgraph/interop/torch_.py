"""PyTorch: a kernel as a ``torch.autograd.Function``, and as an ``nn.Module``.

Forward runs the compiled kernel on numpy views of the CPU tensors (no copy when dtypes
match) and wraps its outputs with ``torch.from_numpy`` (no copy either).  Backward runs the
compiled vector-Jacobian-product kernel (``autodiff.vjp_graph``) with the same backend and
options.  Inputs and params both get gradients: a param's is the sum over events of the
kernel's per-event gradient, summed as the kernel hands it out, a block of events at a
time, so a network's weights never cost a copy per event of all of them at once.  A VJP
kernel is built for what needs gradients (inputs, params or both), the first time.
"""
from __future__ import annotations

import numpy as np

from .. import structure as structure_mod
from ..autodiff import layers, vjp_graph
from ..errors import UnsupportedError
from .derived import derivative, flat_outputs

PER_BLOCK = 1 << 20        # per-event param gradient elements held at once (8 MB in float64)


def _numpy(value):
    import torch
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise UnsupportedError("as_torch runs on CPU tensors; move them with .cpu() (or "
                                   "use the cuda backend through CuPy arrays)")
        return value.detach().numpy()
    return value


def gradients(k, arrays: list, cotangents: list, inputs: bool,
              params: bool) -> dict[str, np.ndarray]:
    """Gradients by argument name: with ``inputs``, each input's per event, and with
    ``params``, each param's summed over events (its network layers' parts as matrix
    products)."""
    vjp = derivative(k, vjp_graph, inputs, params)
    sig = k.input_graph.signature
    if "_layers" not in k.__dict__:         # the graph does not change: found once per kernel
        k.__dict__["_layers"] = layers(k.input_graph)
    matrices = k.__dict__["_layers"]
    transposed = [np.asarray(arrays[layer.position], k.options.dtype)[list(layer.rows)].T
                  for layer in matrices]
    names = [o.name for o in vjp.input_graph.outputs]
    totals = {a.name: np.zeros(a.shape, k.options.dtype) for a in sig
              if a.role == "param" and params}
    summed = {f"grad_{name}" for name in totals}
    per_event = sum(len(o.nodes) for o in vjp.input_graph.outputs if o.name in summed)
    n = len(cotangents[0])
    step = max(1, PER_BLOCK // per_event) if per_event else max(n, 1)
    sliced = [a.role == "input" and np.ndim(x) == len(a.shape) + 1 for a, x in zip(sig, arrays)]
    blocks: dict[str, list] = {a.name: [] for a in sig if a.role == "input" and inputs}
    for start in range(0, max(n, 1), step):
        block = slice(start, start + step)
        args = [x[block] if s else x for x, s in zip(arrays, sliced)]
        cts = [c[block] for c in cotangents]
        outs = dict(zip(names, flat_outputs(vjp.structure, vjp(*args, *cts, *transposed))))
        for a in sig:
            g = outs.get(f"grad_{a.name}")
            if g is not None and a.role == "input":
                blocks[a.name].append(g)
            elif g is not None:
                totals[a.name] += g.sum(axis=0)
        for j, layer in enumerate(matrices if params else []):
            ct, x = outs[f"layer{j}_ct"], outs[f"layer{j}_in"]
            totals[sig[layer.position].name][list(layer.rows)] += ct.T @ x
    return {name: b[0] if len(b) == 1 else np.concatenate(b)
            for name, b in blocks.items()} | totals


def _function_class():
    import torch

    class PhysgraphFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, k, *values):
            arrays = [_numpy(v) for v in values]
            outs = flat_outputs(k.structure, k(*arrays))
            ctx.k, ctx.arrays = k, arrays
            ctx.shapes = [getattr(v, "shape", None) for v in values]
            return tuple(torch.from_numpy(np.asarray(o)) for o in outs)

        @staticmethod
        def backward(ctx, *cotangents):
            k = ctx.k
            wanted = ctx.needs_input_grad[1:]
            result = [None] * (1 + len(ctx.arrays))
            if not any(wanted):
                return tuple(result)
            sig = k.input_graph.signature
            roles = {a.role for w, a in zip(wanted, sig) if w}
            cts = [_numpy(c.contiguous()) for c in cotangents]
            grads = gradients(k, ctx.arrays, cts, "input" in roles, "param" in roles)
            for p, (a, shape) in enumerate(zip(sig, ctx.shapes)):
                if not wanted[p]:
                    continue
                g = grads[a.name]
                if shape is not None and g.shape != tuple(shape):   # a broadcast input
                    g = g.sum(axis=0).reshape(shape)
                result[1 + p] = torch.from_numpy(np.ascontiguousarray(g))
            return tuple(result)
    return PhysgraphFunction


_FUNCTION = None


def as_torch(k):
    """``k`` as a function of torch tensors (same arguments, same output structure), with
    gradients for its inputs and its params; usable inside an ``nn.Module``'s forward."""
    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _function_class()
    function = _FUNCTION

    def torch_function(*args, **kwargs):
        outs = function.apply(k, *k._bind(args, kwargs))
        return structure_mod.unflatten(k.structure, list(outs))
    torch_function.__name__ = k.name
    return torch_function


def as_torch_module(k):
    """``k`` as an ``nn.Module``: each param with a default is an ``nn.Parameter`` (under
    its identifier) starting from that default; ``module(*inputs, **params)`` runs the
    kernel, keywords giving the params without a default (or overriding one)."""
    import torch

    class KernelModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.kernel = k
            self.function = as_torch(k)
            self.names = {}
            for a in k.input_graph.signature:
                if a.role == "param" and a.default is not None:
                    value = torch.tensor(np.array(a.default, k.options.dtype))
                    self.register_parameter(a.ident, torch.nn.Parameter(value))
                    self.names[a.name] = a.ident

        def forward(self, *inputs, **params):
            own = {name: getattr(self, ident) for name, ident in self.names.items()}
            return self.function(*inputs, **(own | params))

        def extra_repr(self) -> str:
            return f"kernel={k.name!r}, backend={k.options.backend!r}, dtype={k.options.dtype!r}"
    return KernelModule()
