"""The workload registry: what ``physgraph bench`` can measure.

A workload is one computation, written once in SymPy, with everything a fair benchmark
needs around it: inputs made from a fixed seed, an independent float64 reference, the
compulsory memory traffic per event and the arithmetic per event.  Every implementation
(physgraph backends and peers) compiles the same expressions and reads the same inputs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Symbolic:
    """The computation in SymPy form.

    ``inputs``: name -> a Symbol, a list of Symbols (an (N, n) array) or a Matrix of Symbols
    (an (N, r, c) array), in the order kernels take them.  ``outputs``: name -> (expression or
    Matrix, per-event shape), in the order kernels return them.
    """
    inputs: dict
    outputs: dict

    @property
    def symbols(self) -> list[sympy.Symbol]:
        """Every input symbol, arguments in order and each one row-major: the flat signature
        that the sympy-based peers compile."""
        return [s for item in self.inputs.values() for s in _flat(item)]

    @property
    def exprs(self) -> list:
        """Every output element, outputs in order and each one row-major."""
        return [e for expr, _ in self.outputs.values() for e in _flat(expr)]

    @property
    def output_shapes(self) -> list[tuple]:
        return [tuple(shape) for _, shape in self.outputs.values()]


def _flat(item) -> list:
    if isinstance(item, sympy.MatrixBase):
        return list(item)            # row-major, like numpy's reshape
    if isinstance(item, (list, tuple)):
        return list(item)
    return [item]


@dataclass(frozen=True)
class Workload:
    """One benchmark computation.  Callables take plain arrays, so peers never see physgraph.

    - ``build()`` makes the SymPy form (called once, cached: building it is not compile time).
    - ``generate(n, rng, dtype)`` makes n events of every input, same seed -> same events.
    - ``reference(inputs)`` computes the outputs in float64 with an independent method.
    - ``handwritten(inputs)``, optional: the NumPy code a physicist would write by hand.
    """
    name: str
    description: str
    build: Callable[[], Symbolic]
    generate: Callable[[int, np.random.Generator, str], Arrays]
    reference: Callable[[Arrays], list[np.ndarray]]
    handwritten: Callable[[Arrays], list[np.ndarray]] | None = None
    default_events: int = 100_000
    note: str = ""               # shown by --list: what to expect when running it
    seed: int = 20261122
    # |got - ref| / |ref| allowed per dtype; float32 is loose because the reference is exact
    # float64 arithmetic on the same (float32) inputs.
    tolerance: dict = field(default_factory=lambda: {"float64": 1e-9, "float32": 2e-3})

    @cached_property
    def symbolic(self) -> Symbolic:
        return self.build()

    def inputs(self, n: int, dtype: str = "float64") -> Arrays:
        """n events of every input, from the workload's fixed seed."""
        return self.generate(n, np.random.default_rng(self.seed), dtype)

    def bytes_per_event(self, dtype: str = "float64") -> dict:
        """Compulsory traffic: every input element read once, every output element written
        once (STREAM's convention, so it compares with the triad bandwidth; write-allocate
        reads are not counted on either side)."""
        size = np.dtype(dtype).itemsize
        n_in = sum(len(_flat(item)) for item in self.symbolic.inputs.values())
        n_out = sum(int(np.prod(shape, dtype=int)) for shape in self.symbolic.output_shapes)
        return {"in": n_in * size, "out": n_out * size, "total": (n_in + n_out) * size}

    @cached_property
    def flops_per_event(self) -> int:
        """Real arithmetic per event of the expressions as written, counted by physgraph's
        cost model before its optimization passes (add, mul, div 1; each special function 1),
        so the number is a property of the workload, the same for every implementation."""
        from .. import compile as pg_compile
        s = self.symbolic
        k = pg_compile([e for e, _ in s.outputs.values()], inputs=dict(s.inputs),
                       backend="numpy", opt_level=0)
        return int(k.stats["flops_in"])


_REGISTRY: dict[str, Workload] = {}


def register(w: Workload) -> Workload:
    if w.name in _REGISTRY:
        raise ValueError(f"workload {w.name!r} is registered twice")
    _REGISTRY[w.name] = w
    return w


def _load_builtin() -> None:
    # imported here, not at the top, because these modules import this one to register
    from . import expr_large, kalman_update, mem  # noqa: F401


def registry() -> dict[str, Workload]:
    """name -> Workload, sorted by name."""
    _load_builtin()           # always: importing one workload module directly registers it alone
    return dict(sorted(_REGISTRY.items()))


class UnknownWorkloadError(LookupError):
    """A workload name that is not registered; the message lists the known ones."""


def get(name: str) -> Workload:
    """The workload called ``name``."""
    known = registry()
    if name not in known:
        raise UnknownWorkloadError(f"unknown workload {name!r}; known workloads: "
                                   f"{', '.join(known)}")
    return known[name]


DEFAULT = "kalman-update"
