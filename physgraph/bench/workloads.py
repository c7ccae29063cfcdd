"""The workload registry: what ``physgraph bench`` can measure.

A workload is one computation with everything a fair benchmark needs around it: inputs made
from a fixed seed, an independent float64 reference, the compulsory memory traffic per
event and the arithmetic per event.  Every implementation reads the same inputs.

The computation comes in one of two forms (or both):
- SymPy expressions (``build``): physgraph and the SymPy-based peers (lambdify, SymEngine,
  PyTensor) all compile the same expressions;
- its own physgraph kernel (``kernel``) and its own peers (``peers``): for computations
  that are not expressions, e.g. a Kalman fit over detector layers or a network, written
  with physgraph's frontends and compared with the tools that field uses (filterpy, torch).
  The generic SymPy peers are then left out.
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

    - ``build()`` makes the SymPy form (called once, cached: building it is not compile time);
      None for a workload that brings its own ``kernel``.
    - ``generate(n, rng, dtype)`` makes n events of every input, same seed -> same events;
      the dict's order is the order kernels take the inputs in.
    - ``reference(inputs)`` computes the outputs in float64 with an independent method.
    - ``handwritten(inputs)``, optional: the NumPy code a physicist would write by hand.
    - ``kernel(backend, dtype)``, optional: physgraph's own implementation, a callable of the
      inputs (in ``generate``'s order) returning the outputs (one array, a tuple, or a dict
      in the reference's order); its ``.kernel`` attribute, if any, is the ``pg.Kernel``
      (for flop counts).  Without it physgraph compiles the SymPy form.
    - ``reuse_outputs``: physgraph's CPU backends also get a row timed with ``out=``.
    - ``peers``: the workload's own peers (``impls.Implementation`` objects, keyed by their
      ``key`` on the command line), run besides the generic ones.
    """
    name: str
    description: str
    build: Callable[[], Symbolic] | None
    generate: Callable[[int, np.random.Generator, str], Arrays]
    reference: Callable[[Arrays], list[np.ndarray]]
    handwritten: Callable[[Arrays], list[np.ndarray]] | None = None
    kernel: Callable[[str, str], Callable] | None = None
    peers: tuple = ()            # impls.Implementation (impls imports this module)
    default_events: int = 100_000
    note: str = ""               # shown by --list: what to expect when running it
    seed: int = 20261122
    # |got - ref| / |ref| allowed per dtype; float32 is loose because the reference is exact
    # float64 arithmetic on the same (float32) inputs.
    tolerance: dict = field(default_factory=lambda: {"float64": 1e-9, "float32": 2e-3})
    # memory-bound workloads: physgraph's CPU rows are also timed writing into preallocated
    # outputs (``out=``), where the OS zeroes no fresh output pages
    reuse_outputs: bool = False

    @cached_property
    def symbolic(self) -> Symbolic:
        if self.build is None:
            raise TypeError(f"workload {self.name!r} has no SymPy form; it brings its own kernel")
        return self.build()

    @property
    def has_symbolic(self) -> bool:
        return self.build is not None

    def inputs(self, n: int, dtype: str = "float64") -> Arrays:
        """n events of every input, from the workload's fixed seed."""
        return self.generate(n, np.random.default_rng(self.seed), dtype)

    def bytes_per_event(self, dtype: str = "float64") -> dict:
        """Compulsory traffic: every input element read once, every output element written
        once (STREAM's convention, so it compares with the triad bandwidth; write-allocate
        reads are not counted on either side)."""
        size = np.dtype(dtype).itemsize
        n_in, n_out = self._elements_per_event
        return {"in": n_in * size, "out": n_out * size, "total": (n_in + n_out) * size}

    @cached_property
    def _elements_per_event(self) -> tuple[int, int]:
        if self.has_symbolic:
            s = self.symbolic
            return (sum(len(_flat(item)) for item in s.inputs.values()),
                    sum(int(np.prod(shape, dtype=int)) for shape in s.output_shapes))
        one = self.inputs(1)                  # a kernel workload: count one event's arrays
        return (sum(a[0].size for a in one.values()),
                sum(np.asarray(r)[0].size for r in self.reference(one)))

    @cached_property
    def flops_per_event(self) -> int:
        """Real arithmetic per event of the computation as written, counted by physgraph's
        cost model before its optimization passes (add, mul, div 1; each special function 1),
        so the number is a property of the workload, the same for every implementation: of
        the SymPy form, or else of the workload's own kernel's traced graph."""
        from .. import compile as pg_compile
        if not self.has_symbolic:
            return int(self.kernel("numpy", "float64").kernel.stats["flops_in"])
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
    from . import expr_large, kalman_fit, kalman_update, mem, mlp  # noqa: F401


def registry() -> dict[str, Workload]:
    """name -> Workload, sorted by name."""
    _load_builtin()           # always: importing one workload module directly registers it alone
    return dict(sorted(_REGISTRY.items()))


class UnknownWorkloadError(LookupError):
    """A workload name that is not registered; the message lists the known ones."""


def get(name: str) -> Workload:
    """The workload called ``name``; ``madgraph:PATH`` imports a MadGraph output."""
    from . import madgraph
    if name.startswith(madgraph.PREFIX):
        return madgraph.workload(name.removeprefix(madgraph.PREFIX))
    known = registry()
    if name not in known:
        raise UnknownWorkloadError(f"unknown workload {name!r}; known workloads: "
                                   f"{', '.join(known)}")
    return known[name]


DEFAULT = "kalman-update"
