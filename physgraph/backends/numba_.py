"""The numba backend: one ``prange`` loop over events around a straight-line scalar body."""
from __future__ import annotations

from ..graph import Graph, Op
from .printer import Printer


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

    def template(self, name, header, params, preamble, body) -> str:
        ind = self.indent
        pre = "".join(f"{ind}{line}\n" for line in preamble)
        loop = "".join(f"{ind * 2}{line}\n" for line in body) or f"{ind * 2}pass\n"
        flags = (f"parallel={self.options.get('parallel', True)}, fastmath={self.fastmath}, "
                 'error_model="numpy", nogil=True')
        return (f"{header}\nimport numpy as np\nimport numba as nb\n\n\n"
                f"@nb.njit({flags})\n"
                f"def kernel(n, {', '.join(params)}):\n{pre}"
                f"{ind}for i in nb.prange(n):\n{loop}")
