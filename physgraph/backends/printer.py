"""The shared printer: one table from op to source text, one SSA line per node.

A backend is a small subclass: it overrides table entries or ``_print_<OP>`` methods (as in
SymPy's printers), says how to read an input element and write an output element, and gives
the kernel template.  Generated kernels name their inputs, state their op count in a header
comment, and compute per-call (param-only) nodes once, before the per-event body.

A printer holds only its options: what one kernel's printing needs besides the graph
travels in a ``PrintContext``, so printing changes nothing on the printer, and a loader
reads what it needs from the source.
"""
from __future__ import annotations

import linecache
import math
from dataclasses import dataclass, field
from itertools import count

import numpy as np

from .. import cost, ops
from ..errors import UnsupportedError
from ..graph import CONST, INPUT, PARAM, Graph, Op, T
from . import contract
from .staging import Plan

_loaded = count()


@dataclass(frozen=True)
class PrintContext:
    """What printing one kernel reads besides the printer's options: the optimized graph,
    the type of each output (complex outputs are written as two parts by some printers),
    for a numba kernel in columns, the columns of a block (``blocked.Columns``), and for an
    llvm kernel the outputs it writes a row of events at a time and their values so far,
    the frame its routine calls pass values through (``frame.Frame``), and whether the graph
    is a routine's body, printed as a function of its call's slots."""
    graph: Graph
    out_types: tuple
    columns: object = None
    row_outputs: frozenset = frozenset()
    pending: dict = field(default_factory=dict)
    frame: object = None
    routine: bool = False


class Printer:
    name = "printer"
    has_fma = False          # whether the pipeline may contract a * b + c into fma
    warm = True              # compile at load time with a zero-event call
    spelling = ops.spellings("numpy")   # op -> Spelling; the others have _print_<OP>
    indent = "    "
    comment = "#"
    suffix = ".py"           # of the source file in the on-disk cache
    real_only = False        # the target has no complex type: complex is always lowered
    calls = False            # prints routines as functions (``call``): calls are kept

    def __init__(self, dtype: str = "float64", fastmath: bool = False, **options):
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        self.dtype = dtype
        self.fastmath = fastmath
        self.options = options

    # ---- pieces a backend overrides --------------------------------------------------------
    def literal(self, value) -> str:
        """Source text of a constant."""
        if isinstance(value, bool):
            return repr(value)
        text = repr(value) if isinstance(value, complex) else _float_text(float(value))
        # a literal is spliced in as one operand: "-2.0 ** x" would parse as -(2.0 ** x)
        return f"({text})" if text.startswith("-") else text

    def read(self, ctx: PrintContext, i: int) -> str:
        """Source text that reads an input or param element."""
        raise NotImplementedError

    def write(self, out: str, index: tuple) -> str:
        """Source text of the output element ``index`` of output array ``out``."""
        raise NotImplementedError

    def template(self, name: str, header: str, params: list[str], preamble: list[str],
                 body: list[str]) -> str:
        raise NotImplementedError

    # ---- shared machinery ------------------------------------------------------------------
    def expr(self, g: Graph, i: int, names: list) -> str:
        """An op's spelling from the op table, or else this printer's ``_print_<OP>``."""
        op = g.ops[i]
        args = [names[a] for a in g.args[i]]
        spelled = self.spelling.get(op)
        if spelled is not None:
            return spelled.template.format(*args)
        method = getattr(self, f"_print_{op.name}", None)
        if method is None:
            raise UnsupportedError(f"the {self.name} backend has no spelling of {op.name.lower()}")
        return method(g, i, args)

    def _print_POWI(self, g: Graph, i: int, args: list) -> str:
        return f"{args[0]} ** {g.attrs[i]}"

    def _print_RSQRT(self, g: Graph, i: int, args: list) -> str:
        return f"{self.literal(1.0)} / {self.spelling[Op.SQRT].template.format(args[0])}"

    def _print_COMPLEX(self, g: Graph, i: int, args: list) -> str:
        return f"{args[0]} + {args[1]} * {self.literal(1j)}"

    def lines(self, ctx: PrintContext) -> tuple[list[str], list[str]]:
        """(per-call preamble, per-event body) in SSA form.  Each output element is written
        right after its value is computed, so temporaries die young."""
        preamble, bodies = self.staged_lines(ctx)
        return preamble, bodies[0]

    def staged_lines(self, ctx: PrintContext, plan: Plan | None = None) -> tuple[list, list]:
        """(preamble, one body per stage of ``plan``; one body when it is None): per-call
        nodes go to the preamble, output writes of inputs and per-call values to the last
        stage.  Handing values between stages is the caller's to print."""
        stage, nstages = (None, 1) if plan is None else (plan.stage, plan.nstages)
        g = ctx.graph
        live, var = g.live(), g.varying()
        members = contract.groups(g, live, var)
        writes: dict[int, list] = {}
        for k, o in enumerate(g.outputs):
            for index, node in zip(_ndindex(o.shape), o.nodes):
                writes.setdefault(node, []).append((self.write(f"out{k}", index), k))
        names: list = [None] * len(g)
        preamble, bodies = [], [[] for _ in range(nstages)]
        products: set = set()
        calls: set = set()
        frame = ctx.frame
        for i in range(len(g)):
            if not live[i]:
                continue
            op = g.ops[i]
            body = bodies[stage[i] if stage is not None and var[i] else -1]
            if op is CONST:
                names[i] = self.literal(g.attrs[i])
            elif op is INPUT or op is PARAM:
                names[i] = self.read(ctx, i)
            elif i in members:
                grp, column = members[i]
                if grp.id not in products:
                    products.add(grp.id)
                    body += self.product(g, names, grp)
                names[i] = self.column(grp, column)
            elif op is Op.CALL:
                # a call is made where its first result is met; the others read what it wrote
                where = body if var[i] else preamble
                key = (id(where), g.attrs[i][0], g.args[i])
                if key not in calls:
                    calls.add(key)
                    where += self.call(ctx, i, names)
                names[i] = f"t{i}"
                where += self.call_result(ctx, i)
            else:
                names[i] = f"t{i}"
                line = self.assign(g, i, self.expr(g, i, names))
                if line:
                    (body if var[i] else preamble).append(line)
            if frame is not None and i in frame.stored:      # a call reads it
                (body if var[i] else preamble).extend(self.store_for_calls(ctx, i, names))
            if var[i] and op is not INPUT:
                for target, k in writes.pop(i, []):
                    body += self.store(ctx, i, target, names, k)
        for node, targets in writes.items():       # outputs that are per call or inputs
            for target, k in targets:
                bodies[-1] += self.store(ctx, node, target, names, k)
        return preamble, bodies

    # contractions (network layers): printers that run them set ``contracts``; for the
    # others the pipeline expands them into scalar sums first (passes/contract.py)
    contracts = False

    def product(self, g: Graph, names: list, grp: "contract.Group") -> list[str]:
        """Lines computing the matrix product ``pg_y<id>`` of a group of contractions."""
        raise UnsupportedError(f"the {self.name} backend runs no matrix products; "
                               "contractions are expanded for it by the pipeline")

    def column(self, grp: "contract.Group", column: int) -> str:
        """Source text of one contraction: a column of its group's product."""
        return f"pg_y{grp.id}[:, {column}]"

    def call(self, ctx: PrintContext, i: int, names: list) -> list[str]:
        """Lines calling the routine of node i (a result of the call) on its arguments
        (printers that set ``calls``; for the others the pipeline inlines routines)."""
        raise UnsupportedError(f"the {self.name} backend prints no routine calls")

    def call_result(self, ctx: PrintContext, i: int) -> list[str]:
        """Lines defining node i, a result of the call made before."""
        raise UnsupportedError(f"the {self.name} backend prints no routine calls")

    def store_for_calls(self, ctx: PrintContext, i: int, names: list) -> list[str]:
        """Lines putting node i where the calls that read it find it (``ctx.frame``)."""
        raise UnsupportedError(f"the {self.name} backend prints no routine calls")

    def assign(self, g: Graph, i: int, expr: str) -> str | None:
        """The SSA line that defines node i (None: the node needs no line of its own)."""
        return f"t{i} = {expr}"

    def store(self, ctx: PrintContext, node: int, target: str, names: list,
              k: int) -> list[str]:
        """Lines that write node's value to an output element (output k)."""
        return [f"{target} = {names[node]}"]

    def header(self, g: Graph, name: str) -> str:
        by_class = cost.flops_by_class(g)
        total = sum(cost.WEIGHT[c] * n for c, n in by_class.items())
        detail = ", ".join(f"{c} {n}" for c, n in by_class.items() if n)
        var = g.varying()
        live = g.live()
        per_call = sum(1 for i in range(len(g)) if live[i] and not var[i]
                       and g.ops[i] not in (Op.CONST, Op.PARAM))
        c = self.comment
        # a spelling's imports (``import math`` for erf) come right after the comment lines
        return "\n".join([f"{c} physgraph kernel {name!r}: {self.name} backend, {self.dtype}",
                          f"{c} {total} flops per event ({detail or 'none'}); "
                          f"{cost.live_nodes(g)} nodes, {per_call} computed once per call",
                          *self.imports(g)])

    def imports(self, g: Graph) -> list[str]:
        """The import lines the spellings of the graph's live ops need (e.g. ``math`` for
        erf), in the order of the op table."""
        live, spelling = g.live(), self.spelling
        used = {g.ops[i] for i in range(len(g)) if live[i]}
        lines = [spelling[op].imports for op in sorted(used) if op in spelling]
        return list(dict.fromkeys(line for line in lines if line))

    def source(self, g: Graph, name: str = "kernel", out_types: list | None = None) -> str:
        """The kernel's source; ``out_types`` are the outputs' types (all real if None)."""
        return self.kernel_source(PrintContext(g, tuple(out_types or [T.REAL] * len(g.outputs))),
                                  name)

    def kernel_source(self, ctx: PrintContext, name: str) -> str:
        """The source of kernel ``name`` (a backend with its own layout overrides this)."""
        preamble, body = self.lines(ctx)
        g = ctx.graph
        return self.template(name, self.header(g, name), kernel_params(g), preamble, body)

    def load(self, source: str, name: str = "kernel", path: str | None = None):
        """Executes the generated module and returns its ``kernel`` function (``path``, the
        source's file in the cache, is for backends that cache machine code beside it)."""
        filename = f"<physgraph {name} {self.name} #{next(_loaded)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict = {}
        exec(compile(source, filename, "exec"), namespace)
        return namespace["kernel"]

    def run(self, fn, n: int, arrays: list, outs: list) -> None:
        fn(n, *arrays, *outs)

    def run_into(self, fn, n: int, arrays: list, outs: list) -> None:
        """``run`` into outputs the caller keeps (returned to it, or its own ``out=``), not a
        scratch buffer read back at once: a backend may write them around the cache."""
        self.run(fn, n, arrays, outs)

    # device backends (jax, cuda) also take their own arrays without a trip to the host
    def asarray(self, value, dtype: str):
        raise NotImplementedError(f"the {self.name} backend takes numpy arrays")

    def run_native(self, fn, n: int, arrays: list, out_specs: list) -> list:
        """Run on device arrays; ``out_specs`` are the outputs' (shape, dtype)."""
        raise NotImplementedError(f"the {self.name} backend takes numpy arrays")


def kernel_params(g: Graph) -> list[str]:
    """The kernel's parameters after the event count: arguments, then output arrays."""
    return [a.ident for a in g.signature] + [f"out{k}" for k in range(len(g.outputs))]


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def _ndindex(shape):
    return np.ndindex(*shape) if shape else [()]
