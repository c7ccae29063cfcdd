"""The numpy backend: straight-line array code, one numpy call per node.  The reference."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Op
from .contract import Group, array_product
from .printer import Printer, PrintContext


class NumpyPrinter(Printer):
    name = "numpy"
    contracts = True

    def product(self, g: Graph, names: list, grp: Group) -> list[str]:
        return array_product(g, names, grp, "np", f".astype(np.{self.dtype}, copy=False)")

    def read(self, ctx: PrintContext, i: int) -> str:
        g = ctx.graph
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        if g.ops[i] is Op.PARAM:
            return arg.ident + (f"[{', '.join(map(str, idx))}]" if idx else "")
        return f"{arg.ident}[:, {', '.join(map(str, idx))}]" if idx else arg.ident

    def write(self, out: str, index: tuple) -> str:
        return f"{out}[:, {', '.join(map(str, index))}]" if index else f"{out}[:]"

    def template(self, name, header, params, preamble, body) -> str:
        lines = "\n".join(self.indent + line for line in preamble + body) or self.indent + "pass"
        return (f"{header}\nimport numpy as np\n\n\n"
                f"def kernel(n, {', '.join(params)}):\n{lines}\n")

    def run(self, fn, n, arrays, outs) -> None:
        with np.errstate(all="ignore"):
            fn(n, *arrays, *outs)
