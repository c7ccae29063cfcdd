"""The numba backend: one ``prange`` loop over events around a straight-line scalar body."""
from __future__ import annotations

import importlib.util
import os
import sys
import threading

import numba

from ..graph import Graph, Op, T
from . import blocked
from .printer import Printer
from .split import split

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

    def read(self, g: Graph, i: int) -> str:
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        index = ([] if g.ops[i] is Op.PARAM else ["i"]) + [str(k) for k in idx]
        return f"{arg.ident}[{', '.join(index)}]" if index else arg.ident

    def write(self, out: str, index: tuple) -> str:
        return f"{out}[{', '.join(['i', *map(str, index)])}]"

    # scalar control flow instead of numpy's array functions
    def _print_WHERE(self, g, i, args): return f"{args[1]} if {args[0]} else {args[2]}"
    def _print_AND(self, g, i, args): return f"{args[0]} and {args[1]}"
    def _print_OR(self, g, i, args): return f"{args[0]} or {args[1]}"
    def _print_NOT(self, g, i, args): return f"not {args[0]}"

    part_size = 1500       # lines per part function: numba compiles big bodies superlinearly
    contracts = True       # network layers: blocked event loop around matrix products

    def column(self, grp, column: int) -> str:
        return f"pg_y{grp.id}[pg_b, {column}]"

    def product(self, g: Graph, names: list, grp) -> list[str]:
        return []          # blocked.source puts the products between the stages' loops

    def source(self, g: Graph, name: str = "kernel", out_types: list | None = None) -> str:
        self.out_types = out_types or [T.REAL] * len(g.outputs)
        if Op.CONTRACT in g.ops:
            return blocked.source(self, g, name)
        preamble, body = self.lines(g)
        params = [a.ident for a in g.signature] + [f"out{k}" for k in range(len(g.outputs))]
        if len(body) <= self.part_size:
            return self.template(name, self.header(g, name), params, preamble, body)
        outside = {int(line.split(" = ")[0][1:]) for line in preamble}
        parts = split(body, self.part_size, outside)
        slots = {t: k for k, t in enumerate(t for p in parts for t in p.live_out)}
        width = sum(2 if g.types[t] is T.COMPLEX else 1 for t in slots)
        offset, k = {}, 0
        for t in slots:
            offset[t] = k
            k += 2 if g.types[t] is T.COMPLEX else 1
        ind = self.indent
        text = [self.header(g, name) + f"\n# body split into {len(parts)} parts of at most "
                f"{self.part_size} lines; values crossing parts go through scratch s",
                "import numpy as np\nimport numba as nb\n"]
        flags = (f"fastmath={self.fastmath}, error_model=\"numpy\", nogil=True, cache=True")
        uniform = [int(line.split(" = ")[0][1:]) for line in preamble]
        args = ", ".join(["i", *params, "s", *(f"t{u}" for u in uniform)])
        for j, part in enumerate(parts):
            loads = [self._load(g, t, offset[t]) for t in part.live_in]
            stores = [self._store_scratch(g, t, offset[t]) for t in part.live_out]
            lines = loads + part.lines + stores
            text.append(f"@nb.njit({flags})\ndef part{j}({args}):\n"
                        + "".join(f"{ind}{line}\n" for line in lines))
        calls = [f"part{j}({args})" for j in range(len(parts))]
        main = [f"s = np.empty({max(width, 1)}, np.{self.dtype})", *calls]
        kernel = self.template(name, "", params, preamble, main)
        text.append(kernel.split("import numba as nb\n", 1)[1].strip("\n") + "\n")
        return "\n\n".join(text)

    def _load(self, g: Graph, t: int, k: int, slot: str = "s[{}]") -> str:
        if g.types[t] is T.BOOL:
            return f"t{t} = {slot.format(k)} != 0"
        if g.types[t] is T.COMPLEX:
            return f"t{t} = complex({slot.format(k)}, {slot.format(k + 1)})"
        return f"t{t} = {slot.format(k)}"

    def _store_scratch(self, g: Graph, t: int, k: int, slot: str = "s[{}]") -> str:
        if g.types[t] is T.COMPLEX:
            return (f"{slot.format(k)} = t{t}.real\n{self.indent}"
                    f"{slot.format(k + 1)} = t{t}.imag")
        return f"{slot.format(k)} = t{t}"

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


def _uses_workqueue() -> bool:
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:        # no parallel region has run yet: be safe
        return True
