"""JAX: a kernel as a pure JAX function whose derivatives are physgraph's own.

The primal runs the jax backend's generated ``jnp`` code; its JVP is the jax kernel of
``autodiff.jvp_graph`` (a ``jax.custom_jvp`` rule), which JAX transposes for reverse mode,
so ``jax.grad`` works too.  Per-event inputs are differentiated; params are per-call
constants and get zero tangents from physgraph.

JAX arrays passed to a kernel itself run on the jax backend, where they are.
"""
from __future__ import annotations

import numpy as np

from .. import foreign
from .. import structure as structure_mod
from ..autodiff import jvp_graph
from ..errors import UnsupportedError
from .derived import derived


def as_jax(k):
    import jax
    kj = k if k.options.backend == "jax" else k.with_backend("jax")
    fn = kj._function()
    sig = kj.input_graph.signature
    inputs = [p for p, a in enumerate(sig) if a.role == "input"]

    @jax.custom_jvp
    def flat(*values):
        return tuple(fn(*values))

    @flat.defjvp
    def flat_jvp(primals, tangents):
        jvp = derived(kj, jvp_graph, "jvp")._function()
        out = flat(*primals)
        return out, tuple(map(_tangent_of, out, jvp(*primals, *(tangents[p] for p in inputs))))

    def jax_function(*args, **kwargs):
        # checked per call (per trace under jax.jit): x64 is JAX's global setting or a context
        if jax.dtypes.canonicalize_dtype(kj.options.dtype) != np.dtype(kj.options.dtype):
            raise UnsupportedError(
                f"kernel {k.name!r} computes in {kj.options.dtype}, but JAX's x64 mode is "
                f"off, so JAX would silently hand back float32; enable it with "
                f'jax.config.update("jax_enable_x64", True) (or inside "with '
                f'jax.enable_x64(True):"), or compile with dtype="float32"')
        return structure_mod.unflatten(kj.structure, list(flat(*kj._bind(args, kwargs))))
    jax_function.__name__ = k.name
    return jax_function


def _tangent_of(primal, tangent):
    """``tangent`` as JAX wants the tangent of ``primal``: float0 for a boolean, and the
    primal's dtype otherwise (the derivative of a complex output that does not depend on
    the inputs folds to a real zero)."""
    import jax
    if primal.dtype == bool:
        return np.zeros(primal.shape, jax.dtypes.float0)
    return tangent.astype(primal.dtype)


foreign.register(("jax", "jaxlib"), backend="jax")
