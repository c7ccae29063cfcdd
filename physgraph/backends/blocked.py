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
JIT compiles several short functions instead of one huge one.  Blocks are as small as it
takes (down to 8 events) to keep a block's scratch in L2.

The product is a small numba loop nest (``product`` below), not a BLAS call: a BLAS call
inside the parallel block loop starts its own threads under numba's (oversubscribing the
cores; OpenBLAS also warns of a possible hang under OpenMP).  Its innermost loop runs over
contiguous output rows, which LLVM vectorizes; on a block that stays in L2 it ran at
~24 GFLOP/s per core in float32 on the 2-core development machine, on par with a
single-threaded sgemm on the same block.  A product whose vector is an input argument as
it is reads the input's rows in place.
"""
from __future__ import annotations

from ..graph import Graph, Op, T
from . import contract

BLOCK = 1024       # events per block: activations of a 64-wide layer stay in L2 (256 KB)
SCRATCH_BYTES = 256 * 1024     # a block's scratch (values crossing stages) should fit in L2


def block_size(width: int, itemsize: int) -> int:
    """Events per block: BLOCK, or fewer (a power of two, at least 8) when the values that
    cross stages are many, so one block's scratch stays in L2 (a matrix element crosses
    thousands of values per event between its stages)."""
    size = BLOCK
    while size > 8 and size * width * itemsize > SCRATCH_BYTES:
        size //= 2
    return size


def stages(g: Graph, live: bytearray, var: bytearray) -> list[int]:
    """Stage of every live per-event node (0 elsewhere)."""
    stage = [0] * len(g)
    for i in range(len(g)):
        if live[i] and var[i]:
            s = max((stage[a] for a in g.args[i] if var[a]), default=0)
            stage[i] = s + 1 if g.ops[i] is Op.CONTRACT else s
    return stage


def _crossing(g: Graph, live, var, stage, members) -> dict[int, int]:
    """Computed values read by a later stage than their own: node -> first scratch slot.
    Inputs are read again where needed and contractions stay in their product buffers."""
    crossing: dict[int, int] = {}
    width = 0
    for i in range(len(g)):
        if not live[i] or not var[i]:
            continue
        used_at = stage[i] - 1 if i in members else stage[i]   # products are filled a stage early
        for a in g.args[i]:
            if var[a] and stage[a] < used_at and g.ops[a] not in (Op.INPUT, Op.CONTRACT) \
                    and a not in crossing:
                crossing[a] = width
                width += 2 if g.types[a] is T.COMPLEX else 1
    return crossing


def by_size(g: Graph, live: bytearray, var: bytearray, size: int) -> list[int]:
    """Stages of at most ``size`` per-event nodes each, in creation (topological) order: a
    long body becomes several short loops, so the JIT's time grows linearly with the graph."""
    stage = [0] * len(g)
    count = 0
    for i in range(len(g)):
        if live[i] and var[i] and g.ops[i] not in (Op.INPUT, Op.CONST):
            stage[i] = count // size
            count += 1
    return stage


def source(printer, g: Graph, name: str, size: int | None = None) -> str:
    """The kernel's source (``printer`` is the NumbaPrinter: names, reads, writes, header).
    Stages are cut at the contractions, or every ``size`` nodes when given (no contractions)."""
    live, var = g.live(), g.varying()
    members = contract.groups(g, live, var)
    stage = stages(g, live, var) if size is None else by_size(g, live, var, size)
    nstages = max(stage, default=0) + 1
    preamble, bodies = printer.staged_lines(g, stage, nstages)
    crossing = _crossing(g, live, var, stage, members)
    width = sum(2 if g.types[t] is T.COMPLEX else 1 for t in crossing)
    per_block = block_size(width, 4 if printer.dtype == "float32" else 8)
    by_stage: dict[int, dict] = {}             # stage -> {group id: group} it starts
    for i, (grp, _) in members.items():
        by_stage.setdefault(stage[i], {})[grp.id] = grp
    groups = [grp for at in sorted(by_stage) for grp in by_stage[at].values()]
    # a product of an input argument as it is reads the input's rows, with no copy
    direct = {grp.id: grp.input_arg(g) for grp in groups if grp.input_arg(g) is not None}
    buffers = [f"pg_x{grp.id}" for grp in groups if grp.id not in direct] + \
        [f"pg_y{grp.id}" for grp in groups] + (["pg_s"] if width else [])
    params = [a.ident for a in g.signature] + [f"out{k}" for k in range(len(g.outputs))]
    uniform = [line.split(" = ")[0] for line in preamble]
    call = f"({', '.join(['pg_lo', 'pg_hi', *params, *buffers, *uniform])})"
    names = _names(g, printer, members, live)
    flags = f'fastmath={printer.fastmath}, error_model="numpy", nogil=True, cache=True'
    dtype, ind = f"np.{printer.dtype}", printer.indent
    # each stage's loop is a function of its own: numba's parallel analysis then sees a few
    # calls in the block loop instead of every statement of every stage (a much faster JIT)
    functions, block = [PRODUCT.format(flags=flags)] if groups else [], [
        f"pg_lo = pg_blk * {per_block}", f"pg_hi = min(n, pg_lo + {per_block})",
        *(f"pg_x{grp.id} = np.empty((pg_hi - pg_lo, {len(grp.args)}), {dtype})"
          for grp in groups if grp.id not in direct),
        *(f"pg_y{grp.id} = np.zeros((pg_hi - pg_lo, {len(grp.rows)}), {dtype})" for grp in groups),
        *([f"pg_s = np.empty((pg_hi - pg_lo, {width}), {dtype})"] if width else [])]
    for s in range(nstages):
        uses = _uses(g, live, var, stage, members, s)
        body = [printer._load(g, t, crossing[t], "pg_s[pg_b, {}]")
                for t in sorted(uses & crossing.keys()) if stage[t] < s]
        body += bodies[s]
        body += [line for t in crossing if stage[t] == s
                 for line in printer._store_scratch(g, t, crossing[t], "pg_s[pg_b, {}]")]
        following = [grp for grp in by_stage.get(s + 1, {}).values()]
        for grp in following:
            if grp.id not in direct:
                body += [f"pg_x{grp.id}[pg_b, {k}] = {names[a]}" for k, a in enumerate(grp.args)]
        if body:
            functions.append(f"@nb.njit({flags})\ndef stage{s}{call}:\n"
                             f"{ind}for i in range(pg_lo, pg_hi):\n{ind * 2}pg_b = i - pg_lo\n"
                             + "".join(f"{ind * 2}{line}\n" for line in body))
            block.append(f"stage{s}{call}")
        for grp in following:
            arg = direct.get(grp.id)
            left = f"{arg.ident}[pg_lo:pg_hi]" if arg is not None else f"pg_x{grp.id}"
            block.append(f"product({left}, pg_w{grp.id}, pg_y{grp.id})"
                         f"  # layer {len(grp.args)} -> {len(grp.rows)}")
    weights = [f"pg_w{grp.id} = np.ascontiguousarray({grp.matrix(g)})" for grp in groups]
    note = f"# event loop in blocks of {per_block}: {nstages} stages, {len(groups)} matrix products"
    if size is not None:
        note += f" (stages of at most {size} nodes: the JIT is not linear in a function's size)"
    return (f"{printer.header(g, name)}\n{note}\nimport numpy as np\nimport numba as nb\n\n\n"
            + "\n\n".join(functions) + "\n\n"
            f"@nb.njit(parallel={printer.options.get('parallel', True)}, {flags})\n"
            f"def kernel(n, {', '.join(params)}):\n"
            + "".join(f"{ind}{line}\n" for line in preamble + weights)
            + f"{ind}for pg_blk in nb.prange((n + {per_block - 1}) // {per_block}):\n"
            + "".join(f"{ind * 2}{line}\n" for line in block))


def _names(g: Graph, printer, members, live) -> list:
    """Source text of each node as a product argument (values, reads, literals)."""
    names: list = [None] * len(g)
    for i in range(len(g)):
        if not live[i]:
            continue
        op = g.ops[i]
        if op is Op.CONST:
            names[i] = printer.literal(g.attrs[i])
        elif op in (Op.INPUT, Op.PARAM):
            names[i] = printer.read(g, i)
        elif i in members:
            names[i] = printer.column(*members[i])
        else:
            names[i] = f"t{i}"
    return names


def _uses(g: Graph, live, var, stage, members, s: int) -> set:
    """Nodes read by the loop of stage s (product arguments of stage s + 1 included)."""
    used = set()
    for i in range(len(g)):
        if live[i] and var[i]:
            at = stage[i] - 1 if i in members else stage[i]
            if at == s:
                used.update(g.args[i])
    return used


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
