"""LoopedKernel: a sum over a table run as a loop, one call of a body kernel per row.

    total = sum over rows r of  body(*inputs, *[prologue(*inputs)[j] for j in rows[r]], **params)

The prologue and the body are ordinary kernels of one backend (each printed, compiled and
cached like any other), so the loop runs on every backend; events go through in chunks so
the prologue's outputs stay in cache while the rows read them.  ``physics.helicity_loop``
builds these for helicity sums too large to unroll.
"""
from __future__ import annotations

import threading
from numbers import Number

import numpy as np

from .errors import UnsupportedError
from .kernel import Kernel

CHUNK = 8192          # events per pass over the rows (the prologue's outputs stay in L2/L3)
_HOST = ("numpy", "numba", "llvm")


class LoopedKernel:
    """``k(*arrays, **params, out=None)`` like a ``Kernel``, summing a body over rows."""

    def __init__(self, prologue: Kernel, body: Kernel, rows, name: str, describe: str,
                 probe=None):
        self.prologue, self.body = prologue, body
        self.rows = tuple(tuple(r) for r in rows)
        self.name, self.describe = name, describe
        self.options = body.options
        self.structure = body.structure
        self._probe = probe
        self._live: tuple | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        args = ", ".join(a.name for a in self.signature)
        return (f"<physgraph.LoopedKernel {self.name}({args}) backend={self.options.backend} "
                f"rows={len(self.rows)} flops/event={self.stats['flops_out']}>")

    @property
    def signature(self):
        return self.prologue.signature

    def with_backend(self, backend: str, **options) -> "LoopedKernel":
        return LoopedKernel(self.prologue.with_backend(backend, **options),
                            self.body.with_backend(backend, **options), self.rows, self.name,
                            self.describe, self._probe)

    # ---- which rows run --------------------------------------------------------------------
    @property
    def live_rows(self) -> tuple:
        """The rows that are not 0 on the probe events (all rows when there is no probe)."""
        if self._live is None:
            with self._lock:
                if self._live is None:
                    self._live = self._find_live()
        return self._live

    def _find_live(self) -> tuple:
        if self._probe is None:
            return tuple(range(len(self.rows)))
        args = self._probe()
        inputs, params = self._split(self.prologue._bind(list(args), {}))
        wfs = _tuple(self.prologue(*inputs, **params))
        live = []
        for r, row in enumerate(self.rows):
            value = np.asarray(self.body(*inputs, *[wfs[j] for j in row], **params))
            if np.any(value != 0):
                live.append(r)
        return tuple(live)

    def compile(self) -> "LoopedKernel":
        """Compile both kernels and find the live rows now (otherwise the first call does)."""
        self.prologue.compile()
        self.body.compile()
        _ = self.live_rows
        return self

    # ---- running ---------------------------------------------------------------------------
    def _split(self, values: list) -> tuple[list, dict]:
        sig = self.prologue.signature
        inputs = [v for v, a in zip(values, sig) if a.role == "input"]
        params = {a.name: v for v, a in zip(values, sig) if a.role == "param"}
        return inputs, params

    def __call__(self, *args, out=None, **kwargs):
        values = self.prologue._bind(args, kwargs)
        live = self.live_rows
        if self.options.backend not in _HOST or not all(
                isinstance(v, (np.ndarray, Number, list, tuple)) for v in values):
            if out is not None:
                raise UnsupportedError(f"out= takes numpy arrays on the {list(_HOST)} backends")
            inputs, params = self._split(values)
            wfs = _tuple(self.prologue(*inputs, **params))
            total = 0
            for r in live:
                total = total + self.body(*inputs, *[wfs[j] for j in self.rows[r]], **params)
            return total
        arrays, n = self.prologue._convert(values)
        inputs, params = self._split(arrays)
        body = self.body
        total = body._check_out(out, n, arrays)[0] if out is not None else \
            np.empty(n, body._out_dtype(body._out_types[0]))
        total[:] = 0
        scratch = np.empty(min(n, CHUNK), total.dtype)
        run, function = body._printer.run, body._function()
        for start in range(0, n, CHUNK):
            part = slice(start, min(n, start + CHUNK))
            chunk = [x[part] for x in inputs]
            wfs = _tuple(self.prologue(*chunk, **params))
            into = scratch[:part.stop - part.start]
            for r in live:
                # the arguments were checked and converted once above: the rows run directly
                run(function, len(into), [*chunk, *[wfs[j] for j in self.rows[r]],
                                          *params.values()], [into])
                total[part] += into
        return total

    # ---- what it is --------------------------------------------------------------------------
    @property
    def source(self) -> str:
        c = self.body._printer.comment
        return (f"{c} {self.name}: {self.describe}\n{c} prologue\n{self.prologue.source}\n"
                f"{c} body, called once per row\n{self.body.source}")

    @property
    def stats(self) -> dict:
        p, b = self.prologue.stats, self.body.stats
        rows = len(self.live_rows) if self._live is not None else len(self.rows)
        ops = dict(p["ops"])
        for op, count in b["ops"].items():
            ops[op] = ops.get(op, 0) + count
        jit = None if p["jit_s"] is None or b["jit_s"] is None else p["jit_s"] + b["jit_s"]
        return {
            "nodes_in": p["nodes_in"] + b["nodes_in"], "nodes_out": p["nodes_out"] + b["nodes_out"],
            "flops_in": p["flops_in"] + len(self.rows) * b["flops_in"],
            # each row's result is added to the total
            "flops_out": p["flops_out"] + rows * (b["flops_out"] + 1),
            "flops_by_class": {c: p["flops_by_class"].get(c, 0) + rows * (v + (c == "add"))
                               for c, v in b["flops_by_class"].items()},
            "ops": ops, "cache": b["cache"],
            **{key: p[key] + b[key] for key in ("compile_s", "frontend_s", "passes_s",
                                                  "codegen_s")},
            "jit_s": jit, "rows": len(self.rows), "live_rows": rows,
        }

    def report(self) -> str:
        live = "not yet known (first call)" if self._live is None else \
            f"{len(self._live)} of {len(self.rows)} rows are not 0 on the probe events"
        return "\n".join([f"{self.name}: {self.describe}; {live}", "", self.prologue.report(),
                          "", self.body.report()])

    def to_dot(self, max_nodes: int = 300) -> str:
        """Graphviz text of the body: what runs once per row."""
        return self.body.to_dot(max_nodes)

    def to_sympy(self):
        raise UnsupportedError(f"{self.name} is a loop over {len(self.rows)} rows: use "
                               "helicities='unroll' for one expression")


def _tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
