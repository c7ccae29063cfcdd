"""Sequences inside one kernel: per-layer inputs (``pg.Seq``) and ``pg.scan`` over them.

A track crossing L detector layers is a loop with a small state carried from layer to layer.
``pg.scan`` runs the step function once per layer while tracing (L is fixed by the argument
annotation), so the kernel is straight-line code: the carried state lives in registers, the
compiler optimizes across layers, and every backend (numba, jax, cuda) runs it unchanged.
The semantics are those of ``jax.lax.scan``.
"""
from __future__ import annotations

from typing import Callable

from ..frontend.argtype import ArgType, _dims


class Seq:
    """L per-layer values.  As an annotation, ``pg.Seq[L]`` is an (N, L) input,
    ``pg.Seq[L, n]`` or ``pg.Seq[L, pg.Vec[n]]`` an (N, L, n) input, ``pg.Seq[L, pg.Mat[r, c]]``
    an (N, L, r, c) input and ``pg.Seq[L, pg.Sym[n]]`` one of which only i <= j is read.
    As a value it is a list-like of per-layer scalars, Vecs or Mats; returned from a traced
    function it becomes one (N, L, ...) array."""

    def __class_getitem__(cls, item):
        length, *rest = item if isinstance(item, tuple) else (item,)
        (length,) = _dims(length, 1, "Seq[L, ...]")
        if not rest:
            inner = ArgType("scalar")
        elif len(rest) == 1 and isinstance(rest[0], ArgType):
            inner = rest[0]
        else:
            dims = _dims(tuple(rest), len(rest), "Seq[L, ...]")
            inner = ArgType("vec" if len(dims) == 1 else "mat", dims)
        if inner.role != "input" or inner.kind == "seq":
            raise TypeError("Seq[L, item]: the item is a per-event scalar, Vec, Mat or Sym")
        return ArgType("seq", (length, *inner.shape), item=inner)

    def __init__(self, items):
        self.items = list(items)
        shapes = {tuple(getattr(x, "shape", ())) for x in self.items}
        if len(shapes) > 1:
            raise TypeError(f"Seq items must have one shape, got {sorted(shapes)}")
        self.item_shape = shapes.pop() if shapes else ()

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.items), *self.item_shape)

    def elements(self) -> list:
        """Every element, layer-major then row-major (the (N, L, ...) array's order)."""
        out = []
        for x in self.items:
            out.extend(x.elements() if hasattr(x, "elements") else [x])
        return out

    def __len__(self): return len(self.items)
    def __iter__(self): return iter(self.items)
    def __getitem__(self, k): return self.items[k]
    def __repr__(self): return f"Seq({self.items!r})"


def _layer(xs, k: int):
    if xs is None:
        return None
    if isinstance(xs, tuple):
        return tuple(x[k] for x in xs)
    return xs[k]


def _length(xs) -> int:
    lengths = {len(x) for x in (xs if isinstance(xs, tuple) else (xs,))}
    if len(lengths) != 1:
        raise TypeError(f"scan over sequences of different lengths {sorted(lengths)}")
    return lengths.pop()


def scan(step: Callable, carry, xs=None, length: int | None = None, reverse: bool = False):
    """``carry, ys = scan(step, carry, xs)``: ``carry, y = step(carry, x)`` for each layer.

    ``xs`` is a ``Seq`` (or any sequence: a list or array of per-layer constants), a tuple
    of them (the step gets a tuple), or None with ``length``.  ``reverse`` walks the layers
    last to first (a backward smoother) and still returns ``ys`` in layer order.  ``ys`` is a
    ``Seq`` of the step's second results, or None when the step returns None there.
    """
    n = _length(xs) if xs is not None else length
    if n is None:
        raise TypeError("scan needs xs or length")
    ys = [None] * n
    for k in (reversed(range(n)) if reverse else range(n)):
        carry, ys[k] = step(carry, _layer(xs, k))
    return carry, (None if all(y is None for y in ys) else Seq(ys))
