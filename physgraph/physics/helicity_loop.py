"""Helicity sums run as a loop at run time instead of unrolled at trace time.

Unrolled (``helas.sum_combinations``), every helicity combination is one copy of the
diagrams in a single graph: sub-currents are shared between the combinations that use them
and vanishing combinations fold away, but the code grows as combinations x diagrams.  Past
a few tens of thousands of nodes the machine code no longer fits the core's caches and the
compile time grows faster than the graph, so a large process sums differently:

- the **inner** legs' helicities stay unrolled inside one *body* kernel;
- a loop at run time goes over the combinations of the **outer** legs' helicities, one call
  of the body per combination (a *row*);
- a *prologue* kernel computes each outer leg's external wavefunction once per helicity it
  takes, and each row hands the body the ones it needs.

The three pieces come from the one process function, which sums with
``helas.sum_combinations``: tracing it with ``helas.HELICITY_SUM`` set, an outer leg's
helicity is a ``helas.Deferred`` and its external wavefunction routine returns what the
loop decides (the prologue records the call; the body reads the wavefunction from its
arguments).  The helicity table must be a product of the inner legs' combinations and the
outer legs' ones (MadGraph's always is).  Components of a wavefunction that are the same
number for every helicity (the 0 of a massless vector's eps^0) stay constants of the body.

Rows that vanish are found as madgraph4gpu finds them: the body is run for every row on a
few probe events, and a row that is exactly 0 on all of them is skipped from then on.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from numbers import Number

from ..frontend import scalar as sc
from ..graph import T
from ..looped import LoopedKernel
from . import helas
from .linalg import Vec


@dataclass(frozen=True)
class Plan:
    """How a helicity table is summed: which legs are looped over, and the rows."""
    legs: int
    inner: tuple          # legs summed inside the body (unrolled)
    outer: tuple          # legs the loop runs over
    states: tuple         # per outer leg: its helicities, in the table's order
    rows: tuple           # per iteration: the outer legs' helicities
    combos: tuple         # the inner legs' combinations (the same in every row)

    def describe(self) -> str:
        if not self.outer:
            return f"helicities unrolled: {len(self.combos)} combinations in one body"
        legs = ", ".join(str(k + 1) for k in self.outer)
        return (f"helicity loop: {len(self.rows)} rows over the helicities of legs {legs}, "
                f"{len(self.combos)} combination(s) of the other legs unrolled in each")

    def prologue_index(self, j: int, helicity: int) -> int:
        """The prologue output of outer leg number ``j`` (in ``outer``) with ``helicity``."""
        return sum(len(s) for s in self.states[:j]) + self.states[j].index(helicity)


def plan(table, inner) -> Plan:
    """The plan that unrolls the legs ``inner`` (0-based) and loops over the others; a leg
    with one helicity in the table is always inner."""
    rows = [tuple(h) for h in table]
    if not rows:
        raise ValueError("the helicity table is empty")
    legs = len(rows[0])
    if any(len(h) != legs for h in rows):
        raise ValueError("the rows of the helicity table differ in length")
    bad = [k for k in inner if not (isinstance(k, int) and 0 <= k < legs)]
    if bad:
        raise ValueError(f"inner legs {bad} are not legs 0..{legs - 1} of the table")
    columns = [tuple(dict.fromkeys(h[k] for h in rows)) for k in range(legs)]
    inner = tuple(sorted(set(inner) | {k for k in range(legs) if len(columns[k]) == 1}))
    outer = tuple(k for k in range(legs) if k not in inner)
    groups: dict = {}
    for h in rows:
        groups.setdefault(tuple(h[k] for k in outer), []).append(tuple(h[k] for k in inner))
    combos = next(iter(groups.values()))
    if any(g != combos for g in groups.values()):
        raise ValueError("the helicity table is not a product of the inner legs' combinations"
                         " and the outer legs' ones: it cannot be looped over these legs")
    return Plan(legs, inner, outer, tuple(columns[k] for k in outer), tuple(groups),
                tuple(combos))


def compile_loop(fn, table, inner, options: dict, probe=None, name: str | None = None):
    """``fn`` (a traced process function summing over ``table`` with
    ``helas.sum_combinations``) as a ``LoopedKernel`` that loops over the legs not in
    ``inner``; ``probe()`` gives arguments on which a row that is 0 is dropped."""
    from ..api import compile as pg_compile
    p = plan(table, inner)
    name = name or fn.__name__
    parameters, momenta = _parameters(fn)
    layout: list = []
    prologue = pg_compile(**options, name=f"{name}_wavefunctions")(
        _prologue(fn, p, parameters, layout))
    body = pg_compile(**options, name=f"{name}_rows")(
        _body(fn, p, parameters, momenta, layout))
    rows = [tuple(p.prologue_index(j, h) for j, h in enumerate(row)) for row in p.rows]
    return LoopedKernel(prologue, body, rows, name, p.describe(), probe)


def _parameters(fn) -> tuple[list, int]:
    """fn's parameters with their annotations evaluated, and how many come before the first
    one with a default (the per-event arguments)."""
    hints = inspect.get_annotations(fn, eval_str=True)
    parameters = [q.replace(annotation=hints.get(q.name, q.annotation))
                  for q in inspect.signature(fn).parameters.values()]
    momenta = next((k for k, q in enumerate(parameters) if q.default is not q.empty),
                   len(parameters))
    return parameters, momenta


def _traced(call, parameters: list, name: str):
    def traced(*args):
        return call(*args)
    traced.__signature__ = inspect.Signature(parameters)
    traced.__name__ = name
    return traced


# ---- the prologue: the outer legs' external wavefunctions ------------------------------------
class _Done(Exception):
    """Every outer leg's external wavefunction call has been seen: stop tracing fn."""


class _Record(helas.Deferred):
    def __init__(self, leg: int, calls: dict, wanted: int):
        self.leg, self.calls, self.wanted = leg, calls, wanted

    def wavefunction(self, routine, p, mass, ns, beam):
        self.calls[self.leg] = (routine, p, mass, ns, beam)
        if len(self.calls) == self.wanted:
            raise _Done
        return routine(p, mass, -1, ns, beam)   # only to let fn go on to the next leg


def _prologue(fn, p: Plan, parameters: list, layout: list):
    """The traced function: fn's arguments -> per outer leg and helicity, the components of
    its wavefunction that are not the same constant for every helicity."""
    def run(*args):
        calls: dict = {}

        def record(squared, combos, label):
            hel = [combos[0][k] for k in range(p.legs)]
            for k in p.outer:
                hel[k] = _Record(k, calls, len(p.outer))
            try:
                squared(tuple(hel))
            except _Done:
                return 0
            missing = [k + 1 for k in p.outer if k not in calls]
            raise ValueError(f"legs {missing} have no external wavefunction call")

        token = helas.HELICITY_SUM.set(record)
        try:
            fn(*args)
        finally:
            helas.HELICITY_SUM.reset(token)
        if len(calls) != len(p.outer):
            raise ValueError(f"{fn.__name__} does not sum with helas.sum_combinations")
        layout.clear()
        outputs = []
        for k, states in zip(p.outer, p.states):
            routine, mom, mass, ns, beam = calls[k]
            parts = [_parts(routine(mom, mass, h, ns, beam)) for h in states]
            fixed = [all(isinstance(x[c], Number) and x[c] == parts[0][c] for x in parts)
                     for c in range(len(parts[0]))]
            if all(fixed):
                fixed[0] = False                   # a row still needs an argument
            layout.append([parts[0][c] if f else None for c, f in enumerate(fixed)])
            outputs += [Vec(*(x for x, f in zip(values, fixed) if not f)) for values in parts]
        return tuple(outputs)
    return _traced(run, parameters, f"{fn.__name__}_wavefunctions")


def _parts(wf: helas.Wavefunction) -> list:
    """The real numbers of a wavefunction: re and im of each component, then its momentum."""
    out = []
    for x in wf.w:
        if isinstance(x, Number):
            out += [complex(x).real, complex(x).imag]
        elif x.g.types[x.i] is T.COMPLEX:
            out += [sc.re(x), sc.im(x)]
        else:
            out += [x, 0.0]
    return out + list(wf.p)


# ---- the body: one row ----------------------------------------------------------------------
class _Given(helas.Deferred):
    def __init__(self, wf: helas.Wavefunction):
        self.wf = wf

    def wavefunction(self, routine, p, mass, ns, beam):
        return self.wf


def _wavefunction(values, fixed: list) -> helas.Wavefunction:
    it = iter(values)
    parts = [next(it) if f is None else f for f in fixed]
    count = len(parts) - 4
    w = []
    for re, im in zip(parts[0:count:2], parts[1:count:2]):
        w.append(re if isinstance(im, Number) and im == 0 else
                 1j * im if isinstance(re, Number) and re == 0 else re + 1j * im)
    return helas.Wavefunction(tuple(w), tuple(parts[count:]), True)


def _body(fn, p: Plan, parameters: list, momenta: int, layout: list):
    """The traced function: fn's per-event arguments, one wavefunction per outer leg, fn's
    params -> fn's sum over the inner legs' combinations."""
    given = [inspect.Parameter(f"wf{k + 1}", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               annotation=Vec[sum(f is None for f in fixed)])
             for k, fixed in zip(p.outer, layout)]

    def run(*args):
        wfs = [_wavefunction(v.elements(), fixed)
               for v, fixed in zip(args[momenta:momenta + len(given)], layout)]

        def row(squared, combos, label):
            def one(combo):
                hel: list = [None] * p.legs
                for k, h in zip(p.inner, combo):
                    hel[k] = h
                for k, wf in zip(p.outer, wfs):
                    hel[k] = _Given(wf)
                return squared(tuple(hel))
            return helas.unrolled_sum(one, p.combos, label)

        token = helas.HELICITY_SUM.set(row)
        try:
            return fn(*args[:momenta], *args[momenta + len(given):])
        finally:
            helas.HELICITY_SUM.reset(token)
    return _traced(run, parameters[:momenta] + given + parameters[momenta:],
                   f"{fn.__name__}_rows")
