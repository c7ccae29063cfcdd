"""PyTorch: a kernel as a ``torch.autograd.Function``, and ``nn.Sequential`` -> ``pg.nn.MLP``.

Forward runs the compiled kernel on numpy views of the CPU tensors (no copy when dtypes
match) and wraps its outputs with ``torch.from_numpy`` (no copy either).  Backward runs the
compiled vector-Jacobian-product kernel (``autodiff.vjp_graph``) with the same backend and
options.  Per-event inputs get gradients; params are per-call constants and get none.
"""
from __future__ import annotations

import numpy as np

from .. import structure as structure_mod
from ..autodiff import vjp_graph
from ..errors import UnsupportedError
from .derived import derived, flat_outputs


def _numpy(value):
    import torch
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise UnsupportedError("as_torch runs on CPU tensors; move them with .cpu() (or "
                                   "use the cuda backend through CuPy arrays)")
        return value.detach().numpy()
    return value


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
            vjp = derived(k, vjp_graph, "vjp")
            cts = [_numpy(c.contiguous()) for c in cotangents]
            grads = iter(flat_outputs(vjp.structure, vjp(*ctx.arrays, *cts)))
            for p, (a, shape) in enumerate(zip(k.input_graph.signature, ctx.shapes)):
                if a.role != "input":
                    continue                    # params: per-call constants, no gradient
                g = next(grads)
                if not wanted[p]:
                    continue
                if shape is not None and g.shape != tuple(shape):   # a broadcast input
                    g = g.sum(axis=0).reshape(shape)
                result[1 + p] = torch.from_numpy(np.ascontiguousarray(g))
            return tuple(result)
    return PhysgraphFunction


_FUNCTION = None


def as_torch(k):
    """``k`` as a function of torch tensors (same arguments, same output structure), with
    gradients for the per-event inputs; usable inside an ``nn.Module``'s forward."""
    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _function_class()
    function = _FUNCTION

    def torch_function(*args, **kwargs):
        outs = function.apply(k, *k._bind(args, kwargs))
        return structure_mod.unflatten(k.structure, list(outs))
    torch_function.__name__ = k.name
    return torch_function
