"""The numba kernel of a graph with contractions: a blocked event loop, with scalar loops and
matrix products taking turns inside each block.

A contraction needs every event's input vector before any output row, so the per-event body
is cut into stages at the contractions.  A node's stage is the number of contractions on its
longest path from the inputs.  Each block of events (the blocks run in parallel)
does, for stage s = 0, 1, ...: one loop over its events computing stage s's nodes, writing
the arguments of the next contractions into ``pg_x<id>`` and values a later stage still
needs into scratch ``pg_s``; then the products ``pg_y<id> = pg_x<id> @ W[rows].T``.  The
next stage reads its contractions as columns of ``pg_y<id>``, so bias and activation run
fused in the loop after the product.

A long body without contractions is cut the same way, every ``size`` nodes, so that the
JIT compiles several short functions instead of one huge one.  Where the stages are and
which values cross them is planned in ``staging.py``; this module prints that plan.  Blocks
are as small as it takes (down to 8 events; 32 in columns, see ``Columns``) to keep a
block's scratch in L2.

The product is a small numba loop nest (``product`` below), not a BLAS call: a BLAS call
inside the parallel block loop starts its own threads under numba's (oversubscribing the
cores; OpenBLAS also warns of a possible hang under OpenMP).  Its innermost loop runs over
contiguous output rows, which LLVM vectorizes; on a block that stays in L2 it keeps up
with a single-threaded sgemm on the same block (benchmarks/README.md).  A product whose vector is an input argument as
it is reads the input's rows in place.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..graph import Graph, Op, T
from . import contract, staging
from .printer import PrintContext, kernel_params


def source(printer, ctx: PrintContext, name: str, size: int | None = None,
           in_columns: bool = False) -> str:
    """The kernel's source (``printer`` is the NumbaPrinter: names, reads, writes, header).
    Stages are cut at the contractions, or every ``size`` nodes when given (no contractions);
    ``in_columns``: lay a block out in columns (``Columns``; not with contractions)."""
    g = ctx.graph
    live, var = g.live(), g.varying()
    members = contract.groups(g, live, var)
    plan = staging.at_contractions(g) if size is None else staging.by_size(g, size)
    stage, nstages = plan.stage, plan.nstages
    itemsize = 4 if printer.dtype == "float32" else 8
    # in columns (structure of arrays) every value an event loop loads or stores is
    # contiguous across events, and LLVM vectorizes the loop across events
    columns = None
    if in_columns and not members:
        columns = Columns(staging.column_layout(g, plan, ctx.out_types, itemsize), ctx, printer)
        width, per_block, slot = columns.layout.width, columns.layout.block, columns.slot
    else:
        width, per_block = plan.width, staging.block_size(plan.width, itemsize)
        slot = "pg_s[pg_b, {}]".format
    preamble, bodies = printer.staged_lines(dataclasses.replace(ctx, columns=columns), plan)
    by_stage: dict[int, dict] = {}             # stage -> {group id: group} it starts
    for i, (grp, _) in members.items():
        by_stage.setdefault(stage[i], {})[grp.id] = grp
    groups = [grp for at in sorted(by_stage) for grp in by_stage[at].values()]
    # a product of an input argument as it is reads the input's rows, with no copy
    direct = {grp.id: grp.input_arg(g) for grp in groups if grp.input_arg(g) is not None}
    buffers = [f"pg_x{grp.id}" for grp in groups if grp.id not in direct] + \
        [f"pg_y{grp.id}" for grp in groups] + (["pg_s"] if width else [])
    params = kernel_params(g)
    uniform = [line.split(" = ")[0] for line in preamble]
    call = f"({', '.join(['pg_lo', 'pg_hi', *params, *buffers, *uniform])})"
    names = _names(ctx, printer, members, live)
    flags = f'fastmath={printer.fastmath}, error_model="numpy", nogil=True, cache=True'
    dtype, ind = f"np.{printer.dtype}", printer.indent
    scratch = (f"np.empty({width * per_block}, {dtype})" if columns is not None
               else f"np.empty((pg_hi - pg_lo, {width}), {dtype})")
    # each stage's loop is a function of its own: numba's parallel analysis then sees a few
    # calls in the block loop instead of every statement of every stage (a much faster JIT)
    functions, block = [PRODUCT.format(flags=flags)] if groups else [], [
        f"pg_lo = pg_blk * {per_block}", f"pg_hi = min(n, pg_lo + {per_block})",
        *(f"pg_x{grp.id} = np.empty((pg_hi - pg_lo, {len(grp.args)}), {dtype})"
          for grp in groups if grp.id not in direct),
        *(f"pg_y{grp.id} = np.zeros((pg_hi - pg_lo, {len(grp.rows)}), {dtype})" for grp in groups),
        *([f"pg_s = {scratch}"] if width else [])]

    def loop(label: str, body: list) -> None:
        """A function looping over the block's events."""
        if columns is None:
            head = ["for i in range(pg_lo, pg_hi):", f"{ind}pg_b = i - pg_lo"]
        else:       # an unsigned index: no wraparound select that hides the columns' offsets
            head = ["for pg_b in range(u(pg_hi - pg_lo)):", f"{ind}i = pg_lo + pg_b"]
        functions.append(f"@nb.njit({flags})\ndef {label}{call}:\n"
                         + "".join(f"{ind}{line}\n" for line in head)
                         + "".join(f"{ind * 2}{line}\n" for line in body))
        block.append(f"{label}{call}")

    if columns is not None and columns.gather:
        loop("gather", columns.gather)
    stored: list[list] = [[] for _ in range(nstages)]      # values handed on, by stage
    for t in plan.slots:
        stored[stage[t]].append(t)
    for s in range(nstages):
        body = [printer.load_scratch(g, t, plan.slots[t], slot) for t in plan.received[s]]
        body += bodies[s]
        body += [line for t in stored[s]
                 for line in printer.store_scratch(g, t, plan.slots[t], slot)]
        following = [grp for grp in by_stage.get(s + 1, {}).values()]
        for grp in following:
            if grp.id not in direct:
                body += [f"pg_x{grp.id}[pg_b, {k}] = {names[a]}" for k, a in enumerate(grp.args)]
        if body:
            loop(f"stage{s}", body)
        for grp in following:
            arg = direct.get(grp.id)
            left = f"{arg.ident}[pg_lo:pg_hi]" if arg is not None else f"pg_x{grp.id}"
            block.append(f"product({left}, pg_w{grp.id}, pg_y{grp.id})"
                         f"  # layer {len(grp.args)} -> {len(grp.rows)}")
    if columns is not None and columns.scatter:
        loop("scatter", columns.scatter)
    weights = [f"pg_w{grp.id} = np.ascontiguousarray({grp.matrix(g)})" for grp in groups]
    note = f"# event loop in blocks of {per_block}: {nstages} stages, {len(groups)} matrix products"
    if size is not None:
        note += f" (stages of at most {size} nodes: the JIT is not linear in a function's size)"
    if columns is not None:
        note += f"\n# a block's values in {width} columns (inputs, values crossing stages, " \
            "outputs): the loops vectorize across events"
    imports = "import numpy as np\nimport numba as nb\n" + \
        ("\nu = np.uint64          # column offsets and the event index in a block\n"
         if columns is not None else "")
    return (f"{printer.header(g, name)}\n{note}\n{imports}\n\n"
            + "\n\n".join(functions) + "\n\n"
            f"@nb.njit(parallel={printer.options.get('parallel', True)}, {flags})\n"
            f"def kernel(n, {', '.join(params)}):\n"
            + "".join(f"{ind}{line}\n" for line in preamble + weights)
            + f"{ind}for pg_blk in nb.prange((n + {per_block - 1}) // {per_block}):\n"
            + "".join(f"{ind * 2}{line}\n" for line in block))


class Columns:
    """The text of a block in columns (``staging.ColumnLayout``): per-event inputs (copied
    in by the ``gather`` loop), values crossing stages, and output elements (copied out by
    the ``scatter`` loop; a complex one takes two columns).

    Each stage loop then touches one array only, at a constant offset from the event index:
    ``pg_s[pg_b + u(<column start>)]``.  LLVM sees that two columns never overlap within a
    block and vectorizes the loop across events.  A stage that read ``p[i, 0]`` or wrote
    ``out[i]`` directly would stay scalar: LLVM can't rule out that the caller's arrays
    overlap the scratch when there are many pointers, and a strided access has no vector
    load.  The index is unsigned because numba wraps a negative signed index around, a
    select that hides the offset from LLVM's dependence analysis.  The printer reads
    inputs and stores outputs through ``read``/``store`` when the print context holds the
    columns."""

    def __init__(self, layout: staging.ColumnLayout, ctx: PrintContext, printer):
        self.layout = layout
        self._copied_in = [(c, printer.read(ctx, i)) for i, c in layout.inputs.items()]
        self.outputs: dict[str, tuple[int, T]] = {}      # element text -> (column, type)
        for k, (o, t, starts) in enumerate(zip(ctx.graph.outputs, ctx.out_types,
                                                layout.outputs)):
            for index, c in zip(np.ndindex(*o.shape), starts):
                self.outputs[printer.write(f"out{k}", index)] = (c, t)

    @property
    def gather(self) -> list[str]:
        return [f"{self.column(c)} = {text}" for c, text in self._copied_in]

    @property
    def scatter(self) -> list[str]:
        return [f"{target} = {self._value(c, t)}" for target, (c, t) in self.outputs.items()]

    def _value(self, c: int, t: T) -> str:
        if t is T.COMPLEX:
            return f"complex({self.column(c)}, {self.column(c + 1)})"
        return self.column(c) + (" != 0" if t is T.BOOL else "")

    def store(self, target: str, value: str) -> list[str]:
        """Lines that put ``value`` in the columns of output element ``target``."""
        c, t = self.outputs[target]
        if t is T.COMPLEX:
            return [f"{self.column(c)} = {value}.real", f"{self.column(c + 1)} = {value}.imag"]
        return [f"{self.column(c)} = {value}"]

    def column(self, c: int) -> str:
        return f"pg_s[pg_b + u({c * self.layout.block})]"

    def slot(self, k: int) -> str:
        """Scratch slot k of the values crossing stages."""
        return self.column(self.layout.crossing + k)

    def read(self, i: int) -> str:
        return self.column(self.layout.inputs[i])


def _names(ctx: PrintContext, printer, members, live) -> list:
    """Source text of each node as a product argument (values, reads, literals)."""
    g = ctx.graph
    names: list = [None] * len(g)
    for i in range(len(g)):
        if not live[i]:
            continue
        op = g.ops[i]
        if op is Op.CONST:
            names[i] = printer.literal(g.attrs[i])
        elif op in (Op.INPUT, Op.PARAM):
            names[i] = printer.read(ctx, i)
        elif i in members:
            names[i] = printer.column(*members[i])
        else:
            names[i] = f"t{i}"
    return names


PRODUCT = """\
@nb.njit({flags})
def product(x, w, y):
    # y += x @ w on one block; the innermost loop runs over contiguous output rows
    for b in range(x.shape[0]):
        for k in range(x.shape[1]):
            v = x[b, k]
            for j in range(y.shape[1]):
                y[b, j] += v * w[k, j]
"""
