"""JAX: a kernel as a pure JAX function whose derivatives are physgraph's own.

The primal runs the jax backend's generated ``jnp`` code; its JVP is the jax kernel of
``autodiff.jvp_graph`` (a ``jax.custom_jvp`` rule), which JAX transposes for reverse mode,
so ``jax.grad``, ``jacrev`` and ``jacfwd`` all work, under ``jit`` and ``vmap`` too.

Every argument is differentiable, params included.  A param's tangent is a per-call value
that the JVP kernel reads like the param itself, so in reverse mode (the transpose of that
read, a broadcast over events) a param's cotangent is the sum over events of the per-event
derivative.  A JVP kernel is built for what has tangents (inputs, params or both: those
that are symbolic zeros cost nothing), the first time it is needed.  Integer arrays
are not differentiated (their tangents are float0, as everywhere in JAX).

Params are keyword arguments, so a dict of them is a pytree: ``jax.grad(loss)(params)``
with ``loss(params) = ... f(x, **params) ...`` returns a dict of the same shape, which
optax-style optimizers update.  ``f.defaults`` is such a dict of the kernel's defaults.

JAX arrays passed to a kernel itself run on the jax backend, where they are.
"""
from __future__ import annotations

import numpy as np

from .. import foreign
from .. import structure as structure_mod
from ..autodiff import jvp_graph
from ..errors import UnsupportedError
from .derived import derivative


def as_jax(k):
    import jax
    kj = k if k.options.backend == "jax" else k.with_backend("jax")
    fn = kj._function()
    sig = kj.input_graph.signature

    @jax.custom_jvp
    def flat(*values):
        return tuple(fn(*values))

    def flat_jvp(primals, tangents):
        moving = {a.role for a, t in zip(sig, tangents) if not _is_zero(t)} or {"input"}
        jvp = derivative(kj, jvp_graph, "input" in moving, "param" in moving)
        wrt = [p for p, a in enumerate(sig) if a.role in moving]
        dense = [_dense(tangents[p], primals[p], kj.options.dtype) for p in wrt]
        out = flat(*primals)
        return out, tuple(map(_tangent_of, out, jvp._function()(*primals, *dense)))
    flat.defjvp(flat_jvp, symbolic_zeros=True)

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
    jax_function.defaults = {a.name: np.array(a.default, kj.options.dtype) for a in sig
                             if a.role == "param" and a.default is not None}
    return jax_function


def _is_zero(tangent) -> bool:
    from jax.custom_derivatives import SymbolicZero
    return isinstance(tangent, SymbolicZero)


def _dense(tangent, primal, dtype: str):
    """A tangent as the JVP kernel reads it: zeros for a symbolic zero and for an integer
    array's float0 tangent."""
    import jax
    import jax.numpy as jnp
    if _is_zero(tangent) or jnp.result_type(tangent) == jax.dtypes.float0:
        return jnp.zeros(jnp.shape(primal), dtype)
    return tangent


def _tangent_of(primal, tangent):
    """``tangent`` as JAX wants the tangent of ``primal``: float0 for a boolean, and the
    primal's dtype otherwise (the derivative of a complex output that does not depend on
    the inputs folds to a real zero)."""
    import jax
    if primal.dtype == bool:
        return np.zeros(primal.shape, jax.dtypes.float0)
    return tangent.astype(primal.dtype)


foreign.register(("jax", "jaxlib"), backend="jax")
