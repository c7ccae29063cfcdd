"""The JAX backend: straight-line ``jax.numpy`` code under ``jax.jit``.

Inputs are indexed as ``p[..., k]`` and outputs broadcast to the inputs' batch shape, so
the same function works on (N, ...) batches, on single events, under ``jax.vmap`` and
under ``jax.grad``.  Float64 kernels run inside ``jax.enable_x64(True)`` (a context, so the
user's global setting is left as it is); JAX is imported only when a kernel is loaded.

XLA's fusion copies cheap shared producers into each of their consumers.  On a body with
heavy local reuse that makes compile time and run time grow faster than the body, so a
body longer than ``part_size`` nodes is cut, in creation order, into stages jitted one by
one; ``kernel`` calls them in turn, handing on the values later stages read.  The values
handed on are whole arrays in memory, which a matrix element pays for dearly, so the body
is cut only where few cross the cuts (``max_handed_on`` per node; per-call scalars not
counted).  Both thresholds come from measurements, in benchmarks/README.md ("Why long
bodies are cut").  (Under an outer ``jax.jit``, ``as_jax`` inside it, XLA inlines the
stages and compiles the body as one.)
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import ops
from ..graph import INPUT, Graph, Op
from . import staging
from .contract import Group, array_product, groups
from .printer import Printer, PrintContext, _ndindex


class JaxPrinter(Printer):
    name = "jax"
    warm = False              # jit compiles per input shape; a zero-event warm-up buys nothing
    spelling = ops.spellings("jax")
    contracts = True                # layers as jnp.matmul: XLA picks the GEMM
    part_size = 400                 # per-event nodes per XLA computation (see above)
    max_handed_on = 0.11            # per node: more values crossing cuts, and no cuts

    def product(self, g: Graph, names: list, grp: Group) -> list[str]:
        return array_product(g, names, grp, "jnp")

    def column(self, grp: Group, column: int) -> str:
        return f"pg_y{grp.id}[..., {column}]"

    def literal(self, value) -> str:
        return super().literal(value).replace("np.", "jnp.")

    def read(self, ctx: PrintContext, i: int) -> str:
        g = ctx.graph
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        if not idx:
            return arg.ident
        lead = "" if g.ops[i] is Op.PARAM else "..., "
        return f"{arg.ident}[{lead}{', '.join(map(str, idx))}]"

    def write(self, out: str, index: tuple) -> str:
        return "_".join([out, *map(str, index)]) + "_"

    def kernel_source(self, ctx: PrintContext, name: str) -> str:
        g = ctx.graph
        live, var = g.live(), g.varying()
        plan = None if groups(g, live, var) else \
            staging.by_size(g, self.part_size, per_call_stage=0)   # layers: XLA's GEMMs, uncut
        if plan is not None and plan.nstages > 1:
            needs, gives = self._interface(g, plan)
            # arrays handed on, each to every stage that reads it (per-call scalars aside)
            handed_on = sum(a in plan.slots for values in plan.received.values() for a in values)
            if handed_on > self.max_handed_on * len(g):      # wide cuts: not worth it
                plan = None
        nstages = 1 if plan is None else plan.nstages
        preamble, bodies = self.staged_lines(ctx, plan)
        bodies[0][:0] = preamble                   # per-call values: in the first stage
        bodies[-1] += self._outputs(g)
        args = ", ".join(a.ident for a in g.signature)
        text = f"{self.header(g, name)}\nimport jax\nimport jax.numpy as jnp\n\n\n"
        if nstages == 1:
            return text + self._function("kernel", args, bodies[0])
        calls = [f"{', '.join(gives[s])}{',' * (len(gives[s]) == 1)} = "
                 f"pg_stage{s}({', '.join([args, *needs[s]])})" for s in range(nstages - 1)]
        calls.append(f"return pg_stage{nstages - 1}({', '.join([args, *needs[-1]])})")
        text += f"# the body in {nstages} XLA computations of at most {self.part_size} nodes\n" \
            f"def kernel({args}):\n" + "".join(f"{self.indent}{line}\n" for line in calls)
        for s in range(nstages):
            body = bodies[s] + ([f"return ({', '.join(gives[s])},)"] if s < nstages - 1 else [])
            text += "\n\n" + self._function(f"pg_stage{s}", ", ".join([args, *needs[s]]), body)
        return text

    def _function(self, name: str, params: str, lines: list[str]) -> str:
        return f"@jax.jit\ndef {name}({params}):\n" + \
            "".join(f"{self.indent}{line}\n" for line in lines)

    def _output_names(self, g: Graph) -> list[list[str]]:
        """Per output, the names its elements are written to."""
        return [[self.write(f"out{k}", index) for index in _ndindex(o.shape)]
                for k, o in enumerate(g.outputs)]

    def _outputs(self, g: Graph) -> list[str]:
        """Lines that assemble the output arrays from their elements and return them."""
        batch = [f"jnp.shape({a.ident})[:jnp.ndim({a.ident}) - {len(a.shape)}]"
                 for a in g.signature if a.role == "input"]
        lines = [f"batch = jnp.broadcast_shapes({', '.join(batch)})" if batch else "batch = ()"]
        for k, (o, parts) in enumerate(zip(g.outputs, self._output_names(g))):
            if not o.shape:
                lines.append(f"out{k} = jnp.broadcast_to({parts[0]}, batch)")
            else:
                lines.append(f"out{k} = jnp.stack([jnp.broadcast_to(v, batch) for v in "
                             f"({', '.join(parts)},)], axis=-1).reshape(batch + {o.shape})")
        outs = ", ".join(f"out{k}" for k in range(len(g.outputs)))
        return lines + [f"return ({outs},)"]

    def _interface(self, g: Graph, plan: staging.Plan) -> tuple[list, list]:
        """Per stage, the names of the values it reads from other stages and of those it
        hands on.  The first stage also computes the per-call values; the last one assembles
        the outputs, so output elements computed before it are handed on too."""
        nstages, stage, var = plan.nstages, plan.stage, g.varying()
        needs = [[f"t{a}" for a in plan.received[s]] for s in range(nstages)]
        gives = [[f"t{a}" for a in plan.handed[s]] for s in range(nstages)]
        for o, targets in zip(g.outputs, self._output_names(g)):
            for target, n in zip(targets, o.nodes):
                if var[n] and g.ops[n] is not INPUT and stage[n] != nstages - 1:
                    gives[stage[n]].append(target)
                    needs[-1].append(target)
        return needs, gives

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
