"""``pg.compile``: the one entry point from user code to a Kernel."""
from __future__ import annotations

import time

import sympy

from .backends import printer_for
from .errors import UnsupportedError
from .frontend import sympy_io, tracer
from .graph import gc_paused
from .kernel import Kernel, Options

_SYMPY_TYPES = (sympy.Basic, sympy.MatrixBase, list, tuple, dict)


def compile(fn=None, /, *, inputs=None, params=None, backend: str | None = None,  # noqa: A001
            dtype: str = "float64", opt_level: int = 2, fastmath: bool = False,
            unsafe: bool = False, simplify: float = 0.0, calls="auto",
            name: str | None = None):
    """Compile a Python function (traced) or SymPy expressions into a batched kernel.

    ``@pg.compile``, ``@pg.compile(backend="jax")`` and
    ``pg.compile(exprs, inputs=[...], params=[...])`` are the three forms.  ``simplify``
    gives the passes that many seconds of SymPy cancel/factor on small regions (off: 0).
    ``calls`` says whether calls of ``pg.routine`` functions stay calls on a backend that
    prints functions (llvm), one copy of a routine's code then serving every call: True,
    False (inlined), or "auto" (kept in a computation too large to inline well).
    """
    pinned = backend is not None           # unnamed: numba, and JAX/CuPy arrays switch backend
    backend = backend or "numba"
    options = Options(backend, dtype, opt_level, fastmath, unsafe, simplify, pinned, calls)
    printer_for(backend)(dtype)            # fail now on a bad backend or dtype
    if opt_level not in (0, 1, 2, 3):
        raise ValueError(f"opt_level must be 0, 1, 2 or 3, got {opt_level!r}")
    if not (isinstance(calls, bool) or calls == "auto"):
        raise ValueError(f"calls must be True, False or 'auto', got {calls!r}")
    if fn is None:
        if inputs is not None:
            raise TypeError("pg.compile(inputs=...) needs the expressions as first argument")
        return lambda f: compile(f, params=params, backend=backend if pinned else None,
                                 dtype=dtype, opt_level=opt_level, fastmath=fastmath, unsafe=unsafe,
                                 simplify=simplify, calls=calls, name=name)
    with gc_paused():
        return _compile(fn, inputs, params, options, name)


def _compile(fn, inputs, params, options: Options, name: str | None):
    start = time.perf_counter()
    if isinstance(fn, _SYMPY_TYPES):
        if inputs is None:
            raise TypeError("compiling SymPy expressions needs inputs=[...] (and params=[...])")
        graph, structure, symbols = sympy_io.from_sympy(fn, inputs, params)
        return Kernel(graph, structure, name or "sympy_kernel", options, symbols,
                      time.perf_counter() - start)
    if not callable(fn):
        raise UnsupportedError(f"pg.compile needs a function or SymPy expressions, got "
                               f"{type(fn).__name__}")
    if inputs is not None or params is not None:
        raise TypeError("inputs= and params= are for SymPy expressions; a traced function "
                        "declares them with annotations (x, p: pg.Vec4, g: pg.Param)")
    graph, structure = tracer.trace(fn)
    return Kernel(graph, structure, name or getattr(fn, "__name__", "kernel"), options,
                  frontend_s=time.perf_counter() - start)
