"""The frame of a body that calls routines through memory.

A routine call (``Op.CALL``) passes no values: the callee reads its arguments from slots of
the caller's frame, one vector of events per slot, and writes its results to consecutive
slots there, all named by the call's row of a constant slot table.  A call site is then one
instruction whatever the routine's arity, and a wavefunction one routine writes is read by
the next where it lies, never copied through registers and back (the copies, passing
values, outweighed the routines' own work on g g -> t t~ g g g).

Slots are reused once their value is dead (a linear scan in print order), so the frame
stays small; per-call values keep theirs, since they are stored once, before the loop.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..graph import Graph, Op


@dataclass(frozen=True)
class Frame:
    size: int           # slots
    stored: dict        # node that a call reads, not a call's result -> its slot
    base: dict          # call (routine, args) -> the slot of its first result
    row: dict           # call (routine, args) -> where its row starts in ``table``
    table: tuple        # per call: the slot of its first result, then of each argument


def call_key(g: Graph, i: int) -> tuple:
    """What identifies one call: its routine and arguments (node i is one of its results)."""
    return g.attrs[i][0], g.args[i]


def plan(g: Graph) -> Frame:
    """The frame of ``g``'s calls: slots for their results and for the other values they
    read, in the order the printer writes the body."""
    live, var, ops = g.live(), g.varying(), g.ops
    first: dict = {}                   # call -> its first live result node (where it is made)
    last: dict = {}                    # owner of slots -> the last position they are read
    for i in range(len(g)):
        if live[i] and ops[i] is Op.CALL:
            key = call_key(g, i)
            first.setdefault(key, i)
            last[key] = i              # each result is read into a register where it is
    for key, at in first.items():
        for a in key[1]:
            owner = call_key(g, a) if ops[a] is Op.CALL else a
            last[owner] = max(last.get(owner, -1), at)
    # definitions in print order: a call's results at its first result node, any other
    # value a call reads where it is computed; per-call values are never released
    defs = sorted([(at, key) for key, at in first.items()] +
                  [(owner, owner) for owner in last if isinstance(owner, int)],
                  key=lambda d: d[0])
    free: dict = {}                    # block size -> released first slots
    live_blocks: list = []             # heap of (last read, first slot, size)
    size, base, stored = 0, {}, {}
    for at, owner in defs:
        while live_blocks and live_blocks[0][0] < at:
            _, slot, n = heapq.heappop(live_blocks)
            free.setdefault(n, []).append(slot)
        n = len(owner[0].graph.outputs) if isinstance(owner, tuple) else 1
        per_call = not var[at]
        # a per-call value is written before the loop: a slot the loop writes is not its
        slot = free[n].pop() if free.get(n) and not per_call else size
        size = max(size, slot + n)
        (base if isinstance(owner, tuple) else stored)[owner] = slot
        if not per_call:
            heapq.heappush(live_blocks, (last[owner], slot, n))
    row, table = {}, []
    for key in first:
        row[key] = len(table)
        table.append(base[key])
        for a in key[1]:
            table.append(base[call_key(g, a)] + g.attrs[a][1] if ops[a] is Op.CALL
                         else stored[a])
    return Frame(size, stored, base, row, tuple(table))
