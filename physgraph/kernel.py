"""Kernel: a compiled computation.  Validates inputs, dispatches to its backend, caches.

Source is generated when the kernel is made (``k.source`` works on any machine); the backend
compiles it lazily at the first call and the result is shared, in memory, by every kernel
with the same source.
"""
from __future__ import annotations

import numbers
import dataclasses
import threading
import time
from dataclasses import dataclass

import numpy as np

from . import cache, cost, foreign, notes
from . import structure as structure_mod
from .backends import printer_for
from .errors import DTypeError, ShapeError, UnsupportedError
from .graph import Arg, Graph, Op, T, gc_paused
from .passes import PassRow, optimize

_COMPILED: dict = {}          # (backend, source) -> loaded function
_COMPILE_LOCK = threading.Lock()
_COMPLEX = {"float64": np.complex128, "float32": np.complex64}
_OPT_KEYS = ("opt_level", "unsafe")
# calls="auto" keeps the calls of a computation of more flops than this (its routines'
# bodies counted at every call): inlined, routines share work across calls, but past this
# the straight-line code no longer fits the caches and calls win (g g -> t t~ g g's loop
# body is below, g g -> t t~ g g g's above; benchmarks/README.md has the measurements)
CALLS_MIN_FLOPS = 200_000


@dataclass(frozen=True)
class Options:
    backend: str = "numba"
    dtype: str = "float64"
    opt_level: int = 2
    fastmath: bool = False
    unsafe: bool = False
    simplify: float = 0.0     # seconds for SymPy-assisted simplification; 0 is off
    pinned: bool = True       # the user named the backend: no switching on device arrays
    calls: object = "auto"    # keep routine calls (pg.routine) as calls where the backend
    #                           prints functions (llvm): True, False, or "auto" (past
    #                           CALLS_MIN_FLOPS); else their bodies are inlined

    def replace(self, **changes) -> "Options":
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; options are "
                            f"{sorted(self.__dataclass_fields__)}")
        return Options(**{**self.__dict__, **changes})


class Kernel:
    """A compiled kernel: ``k(*arrays, **params, out=None)``."""

    def __init__(self, graph: Graph, structure, name: str = "kernel",
                 options: Options = Options(), symbols: dict | None = None,
                 frontend_s: float = 0.0, _optimized: dict | None = None):
        self.name = name
        self.input_graph = graph
        self.structure = structure
        self.options = options
        self._symbols = symbols
        self._frontend_s = frontend_s
        self._printer = printer_for(options.backend)(options.dtype, options.fastmath)
        self._out_types = [max((graph.types[n] for n in o.nodes), default=T.REAL)
                           for o in graph.outputs]
        self._optimized = {} if _optimized is None else _optimized
        self._keeps_calls = self._calls_kept()
        self._opt_key = (options.opt_level, options.unsafe, options.simplify,
                         self._printer.has_fma, self._printer.real_only,
                         self._printer.contracts, self._keeps_calls)
        entry, cache_key = None, None
        if cache.enabled():
            cache_key = cache.key(graph.key(), name, self._cache_options())
            entry = cache.load(cache_key, self._printer.suffix)
        if entry is not None:
            self.cache_status = "hit"
            self.source = entry.source
            self._rows = [PassRow(**row) for row in entry.meta["rows"]]
            self._ops = entry.meta["ops"]
            self._passes_s = self._codegen_s = 0.0
        else:
            self.cache_status = "miss" if cache_key else "off"
            _, self._rows, self._passes_s = self._optimize()
            self._ops = cost.op_counts(self.graph)
            start = time.perf_counter()
            with gc_paused():
                self.source = self._printer.source(self.graph, name, self._out_types)
            self._codegen_s = time.perf_counter() - start
            if cache_key:
                rows = [dataclasses.asdict(r) for r in self._rows]
                entry = cache.store(cache_key, self._printer.suffix, self.source,
                                    {"name": name, "rows": rows, "ops": self._ops,
                                     "options": self._cache_options()})
        self._source_file = entry.source_file if entry is not None else None
        self._fn = None
        self._jit_s = None
        self._routes: dict = {}
        self._lock = threading.Lock()

    def __reduce__(self):
        # pickled as its graph and options (Dask ships kernels to workers); the receiving
        # process optimizes again and compiles on first call (both hit the on-disk cache)
        return (Kernel, (self.input_graph, self.structure, self.name, self.options,
                         self._symbols, self._frontend_s))

    def __repr__(self) -> str:
        args = ", ".join(a.name for a in self.input_graph.signature)
        return (f"<physgraph.Kernel {self.name}({args}) backend={self.options.backend} "
                f"dtype={self.options.dtype} flops/event={self.stats['flops_out']}>")

    def _calls_kept(self) -> bool:
        calls = self.options.calls
        if not self._printer.calls or not calls or Op.CALL not in self.input_graph.ops:
            return False
        if calls is True:
            return True
        # (llvm runs network layers between stages, which a frame of calls does not survive)
        return Op.CONTRACT not in self.input_graph.ops and \
            cost.flops(self.input_graph) > CALLS_MIN_FLOPS

    def _cache_options(self) -> dict:
        return {**self.options.__dict__, "out_types": [int(t) for t in self._out_types]}

    def _optimize(self) -> tuple:
        """(graph, rows, seconds) of the passes, shared by kernels made by with_backend."""
        if self._opt_key not in self._optimized:
            o = self.options
            start = time.perf_counter()
            with gc_paused():
                graph, rows = optimize(self.input_graph, o.opt_level, unsafe=o.unsafe,
                                       simplify=o.simplify, fma=self._printer.has_fma,
                                       real_only=self._printer.real_only,
                                       contracts=self._printer.contracts,
                                       calls=self._keeps_calls)
            self._optimized[self._opt_key] = (graph, rows, time.perf_counter() - start)
        return self._optimized[self._opt_key]

    @property
    def graph(self) -> Graph:
        """The optimized graph (recomputed on first use when the source came from the cache)."""
        return self._optimize()[0]

    # ---- other views of the same kernel ---------------------------------------------------
    def with_backend(self, backend: str, **options) -> "Kernel":
        """The same computation for another backend (and/or other options)."""
        opts = self.options.replace(**{"pinned": True, **options, "backend": backend})
        return Kernel(self.input_graph, self.structure, self.name, opts, self._symbols,
                      self._frontend_s, self._optimized)

    def to_sympy(self):
        """The optimized graph as SymPy expressions, in the structure of the outputs."""
        from .sympy_export import to_sympy
        from .passes.calls import inline
        from .passes.contract import scalarize
        return to_sympy(scalarize(inline(self.graph)), self.structure, self._symbols)

    def to_dot(self, max_nodes: int = 300) -> str:
        """Graphviz text of the optimized graph (clustered by output above ``max_nodes``)."""
        from .dot import to_dot
        return to_dot(self.graph, self.name, max_nodes)

    @property
    def signature(self) -> list[Arg]:
        return list(self.input_graph.signature)

    # ---- statistics -----------------------------------------------------------------------
    @property
    def stats(self) -> dict:
        first, last = self._rows[0], self._rows[-1]
        compile_s = self._frontend_s + self._passes_s + self._codegen_s + (self._jit_s or 0.0)
        return {
            "nodes_in": first.nodes, "nodes_out": last.nodes,
            "flops_in": first.total_flops, "flops_out": last.total_flops,
            "flops_by_class": dict(last.flops), "ops": dict(self._ops), "cache": self.cache_status,
            "compile_s": compile_s, "frontend_s": self._frontend_s,
            "passes_s": self._passes_s, "codegen_s": self._codegen_s, "jit_s": self._jit_s,
            "pass_s": [(r.name, r.seconds) for r in self._rows[1:]],
        }

    def report(self) -> str:
        """Per-pass table: live nodes, flops by class, time."""
        classes = list(cost.CLASSES)
        head = f"{'pass':<14}{'nodes':>9}" + "".join(f"{c:>9}" for c in classes) + \
            f"{'flops':>9}{'ms':>9}"
        rows = [f"kernel {self.name!r} ({self.options.backend}, {self.options.dtype}, "
                f"opt_level {self.options.opt_level})", head, "-" * len(head)]
        for r in self._rows:
            counts = [r.flops[c] for c in classes] + [r.total_flops] if r.flops else \
                ["-"] * (len(classes) + 1)         # not counted on a huge graph
            rows.append(f"{r.name:<14}{r.nodes:>9}" + "".join(f"{x:>9}" for x in counts)
                        + f"{r.seconds * 1e3:>9.2f}")
        rows.append("-" * len(head))
        jit = "not yet (first call)" if self._jit_s is None else f"{self._jit_s * 1e3:.1f} ms"
        rows.append(f"frontend {self._frontend_s * 1e3:.1f} ms, passes {self._passes_s * 1e3:.1f}"
                    f" ms, codegen {self._codegen_s * 1e3:.1f} ms, backend compile {jit}")
        rows += notes.of(self.input_graph)      # what the frontend knows (physgraph.notes)
        return "\n".join(rows)

    # ---- running --------------------------------------------------------------------------
    def compile(self) -> "Kernel":
        """Compile now (otherwise the first call does); returns self."""
        self._function()
        return self

    def _function(self):
        if self._fn is not None:
            return self._fn
        with self._lock:
            if self._fn is None:
                start = time.perf_counter()
                key = (self.options.backend, self.source)
                with _COMPILE_LOCK:
                    fn = _COMPILED.get(key)
                    if fn is None:
                        path = self._source_file or cache.scratch_file(self.source,
                                                                       self._printer.suffix)
                        fn = self._printer.load(self.source, self.name, path)
                        if self._printer.warm:
                            self._warm(fn)
                        _COMPILED[key] = fn
                self._jit_s = time.perf_counter() - start
                self._fn = fn
        return self._fn

    def _warm(self, fn) -> None:
        """One call on zero events, so a JIT backend compiles for contiguous inputs now."""
        arrays = [np.zeros(a.shape, self._dtype) if a.role == "param"
                  else np.zeros((0, *a.shape), self._dtype) for a in self.input_graph.signature]
        arrays = [self._dtype(0) if a.role == "param" and not a.shape else x
                  for a, x in zip(self.input_graph.signature, arrays)]
        self._printer.run(fn, 0, arrays, self._allocate(0))

    @property
    def _dtype(self):
        return np.dtype(self.options.dtype).type

    def __call__(self, *args, out=None, **kwargs):
        framework = foreign.call_for((*args, *kwargs.values()))
        if framework is not None:          # awkward or dask arrays: physgraph.interop
            return framework(self, args, kwargs, out)
        values = self._bind(args, kwargs)
        device = foreign.backend_for(values)
        if device is not None and device != self.options.backend:
            return self._on_device(device)(*values, out=out)
        if device is not None:
            if out is not None:
                raise ShapeError(f"out= takes numpy arrays; the {device} backend returns "
                                 "new device arrays")
            return self._call_native(values)
        arrays, n = self._convert(values)
        outs = self._allocate(n) if out is None else self._check_out(out, n, arrays)
        # fresh or passed in, the caller keeps the outputs
        self._printer.run_into(self._function(), n, arrays, outs)
        return structure_mod.unflatten(self.structure, outs)

    def _on_device(self, backend: str) -> "Kernel":
        """The kernel for device arrays of another backend (JAX arrays -> jax, CuPy -> cuda)."""
        if self.options.pinned:
            raise UnsupportedError(
                f"kernel {self.name!r} was compiled for backend {self.options.backend!r} and got "
                f"{backend} arrays; use k.with_backend({backend!r}), or pass numpy arrays "
                "(np.asarray copies them to the host)")
        if backend not in self._routes:
            self._routes[backend] = self.with_backend(backend, pinned=True)
        return self._routes[backend]

    def _call_native(self, values: list):
        """Device arrays in, device arrays out: nothing is copied to the host."""
        sig = self.input_graph.signature
        arrays, n, first = [], None, None
        for v, a in zip(values, sig):
            kind = np.dtype(getattr(v, "dtype", np.float64)).kind
            if kind not in "biuf":
                raise DTypeError(f"argument {a.name!r} has dtype {v.dtype}; it needs real numbers")
            if a.role == "param" and not a.shape:
                arrays.append(self._dtype(v))
                continue
            x = self._printer.asarray(v, self.options.dtype)
            _check_shape(x.shape, a)
            if a.role == "input" and x.ndim:
                if n is not None and x.shape[0] != n:
                    raise ShapeError(f"argument {a.name!r} has {x.shape[0]} events but "
                                     f"{first!r} has {n}; all inputs need the same length")
                n, first = x.shape[0], a.name
            arrays.append(x)
        n = 1 if n is None else n
        arrays = [self._printer.broadcast(x, (n, *a.shape))
                  if a.role == "input" and x.ndim == len(a.shape) else x
                  for a, x in zip(sig, arrays)]
        specs = [((n, *o.shape), self._out_dtype(t))
                 for o, t in zip(self.input_graph.outputs, self._out_types)]
        results = self._printer.run_native(self._function(), n, arrays, specs)
        return structure_mod.unflatten(self.structure, results)

    def as_jax(self):
        """A pure JAX function of the same arguments, for use inside jax.jit, vmap and grad.

        It takes (N, ...) or single-event arrays; float64 needs JAX's x64 mode enabled.
        Derivatives, with respect to inputs and params, come from physgraph's own
        forward-mode kernel (a ``jax.custom_jvp``)."""
        from .interop.jax_ import as_jax
        return as_jax(self)

    def as_torch(self):
        """The kernel as a function of CPU torch tensors with autograd support for inputs
        and params (backward runs the compiled vector-Jacobian-product kernel); see
        ``physgraph.interop.torch_``."""
        from .interop.torch_ import as_torch
        return as_torch(self)

    def as_torch_module(self):
        """The kernel as a ``torch.nn.Module`` whose params are ``nn.Parameter``s started
        from their defaults, so it trains like any layer (``physgraph.interop.torch_``)."""
        from .interop.torch_ import as_torch_module
        return as_torch_module(self)

    def _bind(self, args: tuple, kwargs: dict) -> list:
        sig = self.input_graph.signature
        if len(args) > len(sig):
            raise ShapeError(f"{self.name}() takes {len(sig)} arguments "
                             f"({', '.join(a.name for a in sig)}), got {len(args)}")
        values = list(args) + [_MISSING] * (len(sig) - len(args))
        by_name = {a.name: k for k, a in enumerate(sig)} | {a.ident: k for k, a in enumerate(sig)}
        for key, value in kwargs.items():
            if key not in by_name:
                raise ShapeError(f"{self.name}() got an unexpected argument {key!r}; its "
                                 f"arguments are {', '.join(a.name for a in sig)}")
            if values[by_name[key]] is not _MISSING:
                raise ShapeError(f"{self.name}() got argument {key!r} twice")
            values[by_name[key]] = value
        for k, a in enumerate(sig):
            if values[k] is _MISSING:
                if a.default is None:
                    raise ShapeError(f"{self.name}() is missing argument {a.name!r}")
                values[k] = a.default
        return values

    def _convert(self, values: list) -> tuple[list, int]:
        sig = self.input_graph.signature
        arrays = [_as_array(v, a, self.options.dtype) for v, a in zip(values, sig)]
        n, first = None, None
        for a, x in zip(sig, arrays):
            if a.role == "input" and x.ndim == len(a.shape) + 1:
                if n is None:
                    n, first = x.shape[0], a.name
                elif x.shape[0] != n:
                    raise ShapeError(f"argument {a.name!r} has {x.shape[0]} events but "
                                     f"{first!r} has {n}; all inputs need the same length")
        n = 1 if n is None else n
        for k, (a, x) in enumerate(zip(sig, arrays)):
            if a.role == "input" and x.ndim == len(a.shape):
                arrays[k] = np.broadcast_to(x, (n, *a.shape))   # a view, no copy
            elif a.role == "param" and not a.shape:
                arrays[k] = self._dtype(x)
        return arrays, n

    def _out_dtype(self, t: T):
        return {T.BOOL: np.bool_, T.REAL: np.dtype(self.options.dtype),
                T.COMPLEX: _COMPLEX[self.options.dtype]}[t]

    def _allocate(self, n: int) -> list:
        return _aligned_views([((n, *o.shape), self._out_dtype(t))
                               for o, t in zip(self.input_graph.outputs, self._out_types)])

    def _check_out(self, out, n: int, arrays: list) -> list:
        outs = [out] if isinstance(out, np.ndarray) else list(out)
        if len(outs) != len(self.input_graph.outputs):
            raise ShapeError(f"out= needs {len(self.input_graph.outputs)} array(s), got {len(outs)}")
        for k, (x, o, t) in enumerate(zip(outs, self.input_graph.outputs, self._out_types)):
            want = (n, *o.shape)
            if not isinstance(x, np.ndarray) or x.shape != want or \
                    x.dtype != self._out_dtype(t) or not x.flags.writeable:
                got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
                raise ShapeError(f"out[{k}] must be a writeable {np.dtype(self._out_dtype(t))} "
                                 f"array of shape {want}; got {got}")
            # outputs are written while inputs are still being read
            for a, x_in in zip(self.input_graph.signature, arrays):
                if np.may_share_memory(x, x_in):
                    raise ShapeError(f"out[{k}] overlaps argument {a.name!r}; pass a "
                                     "separate output array")
        return outs


_MISSING = object()
ALIGN = 64       # bytes: a cache line, and the widest vector register


def _aligned_views(arrays: list) -> list[np.ndarray]:
    """Empty arrays of the given (shape, dtype)s, as views of one allocation, each starting
    on a cache line (numpy's large arrays start 16 bytes into one) so that a kernel's vector
    stores of whole rows are aligned.  One allocation: numpy asks the OS for transparent huge
    pages for a large one, and an output of a few MB alone is below its threshold, so the
    first writes fault in 512 times fewer pages (a caller keeping one output keeps them all
    in memory)."""
    sizes = [int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
             for shape, dtype in arrays]
    starts = np.cumsum([0] + [-(-size // ALIGN) * ALIGN for size in sizes])
    raw = np.empty(int(starts[-1]) + ALIGN, np.uint8)
    base = -raw.ctypes.data % ALIGN
    return [raw[base + start:base + start + size].view(dtype).reshape(shape)
            for (shape, dtype), start, size in zip(arrays, starts, sizes)]


def _as_array(value, arg: Arg, dtype: str) -> np.ndarray:
    """``value`` as an array of ``dtype`` for argument ``arg`` (a view when it already is)."""
    if isinstance(value, (str, bytes)):
        raise DTypeError(f"argument {arg.name!r} is a string ({value!r:.40}); it needs numbers")
    try:
        x = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ShapeError(f"argument {arg.name!r} cannot be read as an array: {err}") from err
    if x.dtype.kind == "O":
        x = _from_objects(x, arg, dtype)
    if x.dtype.kind == "c":
        raise DTypeError(f"argument {arg.name!r} is complex ({x.dtype}); physgraph inputs are "
                         "real: pass .real and .imag as two arguments")
    if x.dtype.kind not in "biuf":
        raise DTypeError(f"argument {arg.name!r} has dtype {x.dtype}; it needs real numbers")
    if x.dtype != np.dtype(dtype):
        x = x.astype(dtype)
    _check_shape(x.shape, arg)
    return x


def _check_shape(shape: tuple, arg: Arg) -> None:
    if arg.role == "param":
        if shape != arg.shape:
            want = str(arg.shape) if arg.shape else "a scalar"
            raise ShapeError(f"param {arg.name!r} must be {want}, got shape {shape}")
    elif not (len(shape) == len(arg.shape) + 1 and shape[1:] == arg.shape) and \
            not (len(shape) == 0 and not arg.shape):
        per_event = "(N, " + ", ".join(map(str, arg.shape)) + ")" if arg.shape else "(N,)"
        raise ShapeError(f"argument {arg.name!r} must have shape {per_event}, got {shape}")


def _from_objects(x: np.ndarray, arg: Arg, dtype: str) -> np.ndarray:
    """An object array as numbers; numpy's astype would read '1.5', b'1' and None (as NaN)."""
    bad = next((v for v in x.flat if not isinstance(v, numbers.Real)), _MISSING)
    if bad is not _MISSING:
        raise DTypeError(f"argument {arg.name!r} holds a {type(bad).__name__} ({bad!r:.40}); "
                         "it needs real numbers")
    return x.astype(dtype)
