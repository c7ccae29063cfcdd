"""Routine calls (``Op.CALL``): inlined where the backend prints no functions, optimized as
functions of their own where it does.

A call keeps a routine's body out of the caller: one copy of its code serves every call,
which is what keeps a looped matrix element of thousands of vertex calls small enough for
the instruction cache.  Backends without functions, and anything that reasons per scalar
(autodiff, SymPy export), see the body inlined, the call's arguments in place of its inputs.
"""
from __future__ import annotations

from typing import Callable

from ..graph import CONST, INPUT, Arg, Graph, Op, Output, Routine, const_key
from .builder import Builder
from .rewrite import Pass, Rewrite


def has_calls(g: Graph) -> bool:
    return Op.CALL in g.ops


def inline_body(b: Builder, routine: Routine, args: tuple) -> list[int]:
    """The nodes of the routine's results built with ``b``, its inputs being ``args``."""
    callee = routine.graph
    live, mapping = callee.live(), [0] * len(callee)
    ops, cargs, attrs, build = callee.ops, callee.args, callee.attrs, b.build
    for j in range(len(callee)):
        if not live[j]:
            continue
        op = ops[j]
        if op is INPUT:
            mapping[j] = args[attrs[j][0]]
        elif op is CONST:
            mapping[j] = b.const(attrs[j])
        else:
            mapping[j] = build(op, tuple(mapping[a] for a in cargs[j]), attrs[j])
    return [mapping[o.nodes[0]] for o in callee.outputs]


def _inline(rw: Rewrite, i: int) -> int:
    routine, k = rw.old.attrs[i]
    args = tuple(rw.args(i))
    results = rw.state.get((routine, args))
    if results is None:                     # the first output of this call met
        results = rw.state[(routine, args)] = inline_body(rw.b, routine, args)
    return results[k]


# Inlines every call unless the backend prints functions and ``calls`` asks to keep them;
# the bodies fold into their callers (constant arguments, shared subexpressions).
lower_call = Pass("lower_call", options={"calls": False}, rules={Op.CALL: _inline},
                  applies=lambda g, options: has_calls(g) and not options["calls"],
                  start=lambda rw: {})


def inline(g: Graph) -> Graph:
    """``g`` with every call inlined."""
    return lower_call(g, calls=False)


def _specialize(rw: Rewrite, i: int):
    """A call with constant arguments (a zero component, a real coupling's zero imaginary
    part, known only once the caller is folded) calls a copy of its routine with those
    constants in its body, where they fold."""
    g, args = rw.new, rw.args(i)
    bound = tuple((n, const_key(g.attrs[a])) for n, a in enumerate(args) if g.ops[a] is CONST)
    if not bound:
        return None
    routine, k = rw.old.attrs[i]
    variant = rw.state.get((routine, bound))
    if variant is None:
        variant = rw.state[(routine, bound)] = _bind(
            routine, {n: g.attrs[a] for n, a in enumerate(args) if g.ops[a] is CONST})
    kept = tuple(a for a in args if g.ops[a] is not CONST)
    body = variant.graph
    node = body.outputs[k].nodes[0]
    if body.ops[node] is CONST:
        return rw.b.const(body.attrs[node])
    if body.ops[node] is INPUT:
        return kept[body.attrs[node][0]]
    return rw.b.build(Op.CALL, kept, (variant, k))


def _bind(routine: Routine, values: dict) -> Routine:
    """The routine with the arguments ``values`` (position -> constant) bound, folded."""
    body = Graph()
    b = Builder(body)
    args = [b.const(values[n]) if n in values else
            body.leaf(body.add_arg(Arg(f"a{n}", f"a{n}")))
            for n in range(len(routine.graph.signature))]
    body.outputs = [Output(f"r{k}", (), (node,))
                    for k, node in enumerate(inline_body(b, routine, tuple(args)))]
    return Routine(routine.name, body)


def _trimmed(routine: Routine) -> tuple[Routine, tuple]:
    """The routine without the arguments its body does not read (passed for nothing at
    every call), and the positions of those it keeps."""
    body = routine.graph
    live = body.live()
    used = tuple(sorted({body.attrs[j][0] for j in range(len(body))
                         if live[j] and body.ops[j] is INPUT}))
    if len(used) == len(body.signature):
        return routine, used
    trimmed = Graph()
    b = Builder(trimmed, folding=False)
    args = [0] * len(body.signature)
    for n in used:
        args[n] = trimmed.leaf(trimmed.add_arg(body.signature[n]))
    trimmed.outputs = [Output(f"r{k}", (), (node,))
                       for k, node in enumerate(inline_body(b, routine, tuple(args)))]
    return Routine(routine.name, trimmed), used


# Binds the constant arguments of kept calls into copies of their routines (``_specialize``).
specialize_calls = Pass("specialize_calls", rules={Op.CALL: _specialize},
                        applies=lambda g, options: has_calls(g), start=lambda rw: {})


def optimize_routines(g: Graph, optimize: Callable[[Graph], Graph]) -> Graph:
    """``g`` calling ``optimize``d copies of its routines (each optimized once; copies that
    compute the same become one routine, so their calls on the same arguments are one)."""
    done: dict = {}
    same: dict = {}

    def rebuild(rw: Rewrite, i: int) -> int:
        routine, k = rw.old.attrs[i]
        if routine not in done:
            optimized, used = _trimmed(Routine(routine.name, optimize(routine.graph)))
            done[routine] = same.setdefault(optimized.key, optimized), used
        optimized, used = done[routine]
        args = rw.args(i)
        return rw.b.build(Op.CALL, tuple(args[n] for n in used), (optimized, k))

    return Pass("optimize_routines", rules={Op.CALL: rebuild}, folding=False)(g)
