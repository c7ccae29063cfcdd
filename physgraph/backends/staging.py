"""Staging: a per-event body cut into stages, and how values reach the stages that read them.

Planned once, here, with no target in mind; each backend prints the plan: numba as stage
loops over a block of events (``blocked.py``), JAX as functions jitted one by one
(``jax_.py``), CUDA as kernels launched in turn (``cuda.py``).

A body is cut for two reasons.  A contraction (a network layer) needs every event's input
vector before any output row, so the body is cut at the contractions: a node's stage is the
number of contractions on its longest path from the inputs (``at_contractions``), and the
products run between the stages.  And the compilers behind the backends (numba's JIT, XLA,
ptxas) take time superlinear in a function's size, so a long body is cut every ``size``
nodes, in creation order (``by_size``).

A computed value crosses when a stage other than its own reads it: it is handed on, through
a scratch slot per event (numba, CUDA) or as an argument (JAX).  Inputs and constants are
read again wherever they are needed, and the per-event contractions stay in the buffers of
their products.  Per-call values are either there in every stage (numba computes them
before the stages, each CUDA kernel computes them itself) or computed in one stage and handed
on like the rest (JAX: ``per_call_stage``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import LEAVES, Graph, Op, T

BLOCK = 1024       # events per block: activations of a 64-wide layer stay in L2 (256 KB)
SCRATCH_BYTES = 256 * 1024     # a block's scratch (values crossing stages) should fit in L2
MIN_COLUMN_BLOCK = 32          # events per block in columns: a few vector iterations per loop


@dataclass(frozen=True)
class Plan:
    """Which stage computes each per-event node, and which values cross between stages."""
    stage: list            # of every live per-event node (0 elsewhere)
    nstages: int
    handed: dict           # stage -> the values it computes that other stages read
    received: dict         # stage -> the values it reads from other stages
    slots: dict            # per-event value handed on -> its first scratch slot (a complex
    #                        value takes two), in the order the values are first read
    width: int             # scratch slots per event


def at_contractions(g: Graph) -> Plan:
    """The body cut at its contractions: a node's stage is the number of contractions on
    its longest path from the inputs; a contraction's product runs between its stage and
    the one before, so its arguments are read a stage early.  Per-call values are there in
    every stage."""
    live, var = g.live(), g.varying()
    stage = [0] * len(g)
    for i in range(len(g)):
        if live[i] and var[i]:
            s = max((stage[a] for a in g.args[i] if var[a]), default=0)
            stage[i] = s + 1 if g.ops[i] is Op.CONTRACT else s
    return _plan(g, stage, None, products_between=True)


def by_size(g: Graph, size: int, per_call_stage: int | None = None) -> Plan:
    """The body cut into stages of at most ``size`` per-event nodes each, in creation
    (topological) order: a long body becomes several short functions, so that compiling
    them takes time linear in the graph.  ``per_call_stage``: the stage that computes the
    per-call values and hands them on (None: they are there in every stage)."""
    live, var = g.live(), g.varying()
    stage = [0] * len(g)
    for count, i in enumerate(_in_body(g, live, var)):
        stage[i] = count // size
    return _plan(g, stage, per_call_stage, products_between=False)


def body_size(g: Graph) -> int:
    """Nodes computed per event."""
    return sum(1 for _ in _in_body(g, g.live(), g.varying()))


def _in_body(g: Graph, live: bytearray, var: bytearray):
    """The per-event nodes computed in the event loop, in creation order."""
    return (i for i in range(len(g)) if live[i] and var[i] and g.ops[i] is not Op.INPUT)


def _plan(g: Graph, stage: list[int], per_call_stage: int | None,
          products_between: bool) -> Plan:
    """The plan of a body cut into ``stage``s (see ``at_contractions``, ``by_size``).  A
    value written to an output is read where the write is (``Printer.staged_lines``): in its
    own stage if it is per-event, in the last stage otherwise."""
    live, var = g.live(), g.varying()
    nstages = max(stage, default=0) + 1

    def home(i: int) -> int | None:
        return stage[i] if var[i] else per_call_stage

    def crosses(a: int) -> bool:
        """Whether value a is handed on when another stage reads it."""
        if g.ops[a] in LEAVES or (var[a] and g.ops[a] is Op.CONTRACT):
            return False
        return bool(var[a]) or per_call_stage is not None

    received: dict[int, dict] = {s: {} for s in range(nstages)}    # ordered sets
    slots: dict[int, int] = {}
    width = 0
    for i in range(len(g)):
        if not live[i] or g.ops[i] in LEAVES or (not var[i] and per_call_stage is None):
            continue
        early = products_between and var[i] and g.ops[i] is Op.CONTRACT
        reads_at = home(i) - 1 if early else home(i)
        for a in g.args[i]:
            if crosses(a) and home(a) != reads_at:
                received[reads_at][a] = None
                if var[a] and a not in slots:
                    slots[a] = width
                    width += 2 if g.types[a] is T.COMPLEX else 1
    if per_call_stage is not None and per_call_stage != nstages - 1:
        for n in g.output_nodes():
            if crosses(n) and not var[n]:
                received[nstages - 1][n] = None
    handed: dict[int, dict] = {s: {} for s in received}
    for values in received.values():
        for a in values:
            handed[home(a)][a] = None
    return Plan(stage, nstages, {s: sorted(v) for s, v in handed.items()},
                {s: sorted(v) for s, v in received.items()}, slots, width)


def block_size(width: int, itemsize: int, smallest: int = 8) -> int:
    """Events per block of a CPU kernel: BLOCK, or fewer (a power of two, at least
    ``smallest``) when the values that cross stages are many, so one block's scratch stays
    in L2 (a matrix element crosses thousands of values per event between its stages)."""
    size = BLOCK
    while size > smallest and size * width * itemsize > SCRATCH_BYTES:
        size //= 2
    return size


@dataclass(frozen=True)
class ColumnLayout:
    """A block of events laid out in columns, one per value, each ``block`` events long:
    the per-event inputs, the values handed between stages (scratch slot k is column
    ``crossing + k``), then the output elements (a complex one takes two columns)."""
    inputs: dict           # per-event input node -> its column
    crossing: int
    outputs: list          # per output, per element (row-major): its first column
    width: int             # columns in all
    block: int             # events per block


def column_layout(g: Graph, p: Plan, out_types, itemsize: int) -> ColumnLayout:
    """The columns of a block of ``g``'s events under plan ``p``."""
    live, var = g.live(), g.varying()
    inputs: dict[int, int] = {}
    for i in range(len(g)):
        if live[i] and var[i] and g.ops[i] is Op.INPUT:
            inputs[i] = len(inputs)
    width = len(inputs) + p.width
    outputs = []
    for o, t in zip(g.outputs, out_types):
        step = 2 if t is T.COMPLEX else 1
        outputs.append(list(range(width, width + step * len(o.nodes), step)))
        width += step * len(o.nodes)
    return ColumnLayout(inputs, len(inputs), outputs, width,
                   block_size(width, itemsize, smallest=MIN_COLUMN_BLOCK))
