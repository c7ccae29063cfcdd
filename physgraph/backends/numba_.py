"""The numba backend: one ``prange`` loop over events around a straight-line scalar body."""
from __future__ import annotations

import importlib.util
import os
import sys
import threading

import numba

from .. import cost, ops
from ..graph import Graph, Op, T
from . import blocked, staging
from .printer import Printer, PrintContext

# numba's default "workqueue" threading layer runs one parallel region at a time per
# process; calls from several Python threads are serialized here instead of crashing it
_WORKQUEUE_LOCK = threading.Lock()


class NumbaPrinter(Printer):
    name = "numba"

    def literal(self, value) -> str:
        text = super().literal(value)
        if self.dtype == "float32" and not isinstance(value, bool):
            kind = "complex64" if isinstance(value, complex) else "float32"
            return f"np.{kind}({text})"
        return text

    def read(self, ctx: PrintContext, i: int) -> str:
        g = ctx.graph
        if ctx.columns is not None and g.ops[i] is Op.INPUT:
            return ctx.columns.read(i)
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        index = ([] if g.ops[i] is Op.PARAM else ["i"]) + [str(k) for k in idx]
        return f"{arg.ident}[{', '.join(index)}]" if index else arg.ident

    def write(self, out: str, index: tuple) -> str:
        return f"{out}[{', '.join(['i', *map(str, index)])}]"

    def store(self, ctx: PrintContext, node: int, target: str, names: list,
              k: int) -> list[str]:
        if ctx.columns is not None:
            return ctx.columns.store(target, names[node])
        return super().store(ctx, node, target, names, k)

    spelling = ops.spellings("numba")    # scalar control flow, math.erf

    part_size = 2500       # nodes per stage loop: numba compiles big bodies superlinearly
    columns_from = 64      # compute-bound bodies this long run in columns (vectorized)
    contracts = True       # network layers: blocked event loop around matrix products

    def column(self, grp, column: int) -> str:
        return f"pg_y{grp.id}[pg_b, {column}]"

    def product(self, g: Graph, names: list, grp) -> list[str]:
        return []          # blocked.source puts the products between the stages' loops

    def kernel_source(self, ctx: PrintContext, name: str) -> str:
        g = ctx.graph
        if Op.CONTRACT in g.ops:
            return blocked.source(self, ctx, name)
        size = staging.body_size(g)
        if size >= self.columns_from and _compute_bound(g):
            return blocked.source(self, ctx, name, size=self.part_size, in_columns=True)
        if size > self.part_size:
            return blocked.source(self, ctx, name, size=self.part_size)
        return super().kernel_source(ctx, name)

    def load_scratch(self, g: Graph, t: int, k: int, slot) -> str:
        """The line that reads node t from scratch slot k (``slot(k)`` is its text)."""
        if g.types[t] is T.BOOL:
            return f"t{t} = {slot(k)} != 0"
        if g.types[t] is T.COMPLEX:
            return f"t{t} = complex({slot(k)}, {slot(k + 1)})"
        return f"t{t} = {slot(k)}"

    def store_scratch(self, g: Graph, t: int, k: int, slot) -> list[str]:
        """The lines that write node t to scratch slot k (and k + 1, its imaginary part)."""
        if g.types[t] is T.COMPLEX:
            return [f"{slot(k)} = t{t}.real", f"{slot(k + 1)} = t{t}.imag"]
        return [f"{slot(k)} = t{t}"]

    def template(self, name, header, params, preamble, body) -> str:
        ind = self.indent
        pre = "".join(f"{ind}{line}\n" for line in preamble)
        loop = "".join(f"{ind * 2}{line}\n" for line in body) or f"{ind * 2}pass\n"
        flags = (f"parallel={self.options.get('parallel', True)}, fastmath={self.fastmath}, "
                 'error_model="numpy", nogil=True, cache=True')
        return (f"{header}\nimport numpy as np\nimport numba as nb\n\n\n"
                f"@nb.njit({flags})\n"
                f"def kernel(n, {', '.join(params)}):\n{pre}"
                f"{ind}for i in nb.prange(n):\n{loop}")

    def load(self, source: str, name: str = "kernel", path: str | None = None):
        """Imports the generated file, so that numba caches machine code beside it."""
        if path is None:
            return super().load(source, name)
        # numba's cached code refers to its module by name, so the module must be importable
        module_name = "physgraph_kernel_" + os.path.basename(os.path.dirname(path))
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        return sys.modules[module_name].kernel

    def run(self, fn, n, arrays, outs) -> None:
        if numba.config.THREADING_LAYER in ("workqueue", "default") and _uses_workqueue():
            with _WORKQUEUE_LOCK:
                fn(n, *arrays, *outs)
        else:
            fn(n, *arrays, *outs)


# flops per input or output element at and above which a kernel runs in columns: the copies
# in and out of a block's columns then cost less than vectorizing the arithmetic saves
# (a memory-bound Kalman update loses, matrix elements win: benchmarks/README.md)
COLUMNS_FROM_INTENSITY = 8


def _compute_bound(g: Graph) -> bool:
    elements = sum(a.size for a in g.signature if a.role == "input") + \
        sum(len(o.nodes) for o in g.outputs)
    return cost.flops(g) >= COLUMNS_FROM_INTENSITY * max(elements, 1)


def _uses_workqueue() -> bool:
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:        # no parallel region has run yet: be safe
        return True
