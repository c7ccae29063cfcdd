"""The JAX backend: straight-line ``jax.numpy`` code under ``jax.jit``.

Inputs are indexed as ``p[..., k]`` and outputs broadcast to the inputs' batch shape, so
the same function works on (N, ...) batches, on single events, under ``jax.vmap`` and
under ``jax.grad``.  Float64 kernels run inside ``jax.enable_x64(True)`` (a context, so the
user's global setting is left as it is); JAX is imported only when a kernel is loaded.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..graph import Graph, Op
from .contract import Group, array_product
from .printer import Printer, _ndindex


class JaxPrinter(Printer):
    name = "jax"
    warm = False              # jit compiles per input shape; a zero-event warm-up buys nothing
    functions = {op: "j" + f for op, f in Printer.functions.items()}
    contracts = True                # layers as jnp.matmul: XLA picks the GEMM

    def product(self, g: Graph, names: list, grp: Group) -> list[str]:
        return array_product(g, names, grp, "jnp")

    def column(self, grp: Group, column: int) -> str:
        return f"pg_y{grp.id}[..., {column}]"

    def literal(self, value) -> str:
        return super().literal(value).replace("np.", "jnp.")

    def read(self, g: Graph, i: int) -> str:
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        if not idx:
            return arg.ident
        lead = "" if g.ops[i] is Op.PARAM else "..., "
        return f"{arg.ident}[{lead}{', '.join(map(str, idx))}]"

    def write(self, out: str, index: tuple) -> str:
        return "_".join([out, *map(str, index)]) + "_"

    def source(self, g: Graph, name: str = "kernel", out_types: list | None = None) -> str:
        preamble, body = self.lines(g)
        ind = self.indent
        batch = [f"jnp.shape({a.ident})[:jnp.ndim({a.ident}) - {len(a.shape)}]"
                 for a in g.signature if a.role == "input"]
        lines = [f"batch = jnp.broadcast_shapes({', '.join(batch)})" if batch else "batch = ()"]
        lines += preamble + body
        for k, o in enumerate(g.outputs):
            parts = [self.write(f"out{k}", index) for index in _ndindex(o.shape)]
            if not o.shape:
                lines.append(f"out{k} = jnp.broadcast_to({parts[0]}, batch)")
            else:
                lines.append(f"out{k} = jnp.stack([jnp.broadcast_to(v, batch) for v in "
                             f"({', '.join(parts)},)], axis=-1).reshape(batch + {o.shape})")
        outs = ", ".join(f"out{k}" for k in range(len(g.outputs)))
        lines.append(f"return ({outs},)")
        params = ", ".join(a.ident for a in g.signature)
        return (f"{self.header(g, name)}\nimport jax.numpy as jnp\n\n\n"
                f"def kernel({params}):\n" + "".join(f"{ind}{line}\n" for line in lines))

    def load(self, source: str, name: str = "kernel", path: str | None = None):
        import jax
        return jax.jit(super().load(source, name))

    def precision(self):
        """The context float64 kernels run in."""
        if self.dtype == "float64":
            import jax
            return jax.enable_x64(True)
        return contextlib.nullcontext()

    def run(self, fn, n, arrays, outs) -> None:
        with self.precision():
            for o, r in zip(outs, fn(*arrays)):
                o[...] = np.asarray(r)

    def run_native(self, fn, n: int, arrays: list, out_specs: list) -> list:
        with self.precision():
            return list(fn(*arrays))

    @staticmethod
    def owns(value) -> bool:
        return type(value).__module__.startswith(("jax", "jaxlib"))

    def asarray(self, value, dtype: str):
        import jax.numpy as jnp
        with self.precision():
            return jnp.asarray(value, dtype=dtype)

    def broadcast(self, x, shape):
        return x                   # jnp code broadcasts by itself
