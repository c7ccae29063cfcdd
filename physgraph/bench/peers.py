"""Peers: the tools physicists use today, each compiling the workload's own SymPy expressions
(a workload that brings its own kernel brings its own peers instead: ``for_workload``).

Every peer gets the same expressions and the same input values as physgraph, in the layout
the tool takes (one contiguous array per symbol, or one (n, n_args) block for SymEngine),
prepared outside the timed call.  A peer whose package is missing is reported as skipped by
the runner, never dropped; a peer that raises is reported as failed.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

from .impls import Implementation, Prepared, columns, split_flat
from .workloads import Arrays, Workload


def _flat(w: Workload):
    s = w.symbolic
    return s.symbols, s.exprs, s.output_shapes


# ---- sympy.lambdify to NumPy ----------------------------------------------------------------
def _build_lambdify(w: Workload, dtype: str, n: int) -> Prepared:
    import sympy
    symbols, exprs, shapes = _flat(w)
    f = sympy.lambdify(symbols, exprs, modules="numpy", cse=True)

    def bind(inputs: Arrays):
        cols = columns(w, inputs)
        return lambda: f(*cols)
    return Prepared(bind, lambda raw, n: split_flat(list(raw), shapes, n))


# ---- sympy.lambdify to JAX, under jax.jit ---------------------------------------------------
def _build_jax(w: Workload, dtype: str, n: int) -> Prepared:
    import jax
    import sympy
    jax.config.update("jax_enable_x64", True)     # else JAX silently computes in float32
    symbols, exprs, shapes = _flat(w)
    jitted = jax.jit(sympy.lambdify(symbols, exprs, modules="jax", cse=True))
    # compile ahead of time for the benchmark's batch size, so compile time is its own number
    spec = jax.ShapeDtypeStruct((n,), np.dtype(dtype))
    compiled = jitted.lower(*[spec] * len(symbols)).compile()

    def bind(inputs: Arrays):
        cols = [jax.device_put(c) for c in columns(w, inputs)]
        fn = compiled if cols and cols[0].shape[0] == n else jitted   # other sizes: re-jit
        return lambda: jax.block_until_ready(fn(*cols))

    def unpack(raw, n: int):
        return split_flat([np.asarray(r) for r in raw], shapes, n)
    return Prepared(bind, unpack)


# ---- SymEngine's LLVM Lambdify --------------------------------------------------------------
def _symengine(reuse_outputs: bool):
    """SymEngine's LLVM Lambdify; with ``reuse_outputs``, every timed call writes into the
    same preallocated block (its ``out=``), as physgraph's ``-out`` rows do."""
    def build(w: Workload, dtype: str, n: int) -> Prepared:
        import symengine
        symbols, exprs, shapes = _flat(w)
        f = symengine.Lambdify(symbols, exprs, backend="llvm", cse=True, real=True)

        def bind(inputs: Arrays):
            # Lambdify maps the last axis to its arguments: one C-contiguous (n, n_args) block
            block = np.ascontiguousarray(np.stack(columns(w, inputs), axis=1))
            if reuse_outputs:
                out = np.asarray(f(block))          # an untimed first call's block
                return lambda: f(block, out=out)
            return lambda: f(block)

        def unpack(raw, n: int):
            raw = np.asarray(raw).reshape(n, -1)
            return split_flat([raw[:, j] for j in range(raw.shape[1])], shapes, n)
        return Prepared(bind, unpack)
    return build


def _symengine_unsupported(w: Workload, dtype: str) -> str | None:
    if dtype != "float64":
        return "SymEngine's Lambdify evaluates in double precision only"
    if not _symengine_has_llvm():
        return ("this symengine module has no LLVM backend: SymForce's wheel installs its own "
                "build of symengine over SymEngine's (PyPI's has LLVM), so measure SymEngine "
                "in an environment without symforce")
    return None


@functools.cache
def _symengine_has_llvm() -> bool:
    """Whether the symengine module compiles with LLVM (True where there is none: its rows
    are then skipped as not installed)."""
    if importlib.util.find_spec("symengine") is None:
        return True
    import symengine
    x = symengine.Symbol("x")
    try:
        symengine.Lambdify([x], [x], backend="llvm")
    except (ValueError, TypeError):
        return False
    return True


# ---- PyTensor, through sympytensor ----------------------------------------------------------
def _build_pytensor(w: Workload, dtype: str, n: int) -> Prepared:
    import pytensor
    from sympytensor import pytensor_function
    symbols, exprs, shapes = _flat(w)
    with pytensor.config.change_flags(floatX=dtype):
        # dim=1: every symbol is a vector over events; PyTensor fuses the elementwise graph
        # a workload may take inputs its expressions never read (the beam momenta's px, py)
        f = pytensor_function(symbols, exprs, dim=1, dtypes={s: dtype for s in symbols},
                              on_unused_input="ignore")

    def bind(inputs: Arrays):
        cols = columns(w, inputs)
        return lambda: f(*cols)
    # one output comes back as the array itself, several as a list
    return Prepared(bind, lambda raw, n: split_flat([raw] if len(exprs) == 1 else list(raw),
                                                     shapes, n))


# ---- the workload's own hand-written NumPy --------------------------------------------------
def _build_handwritten(w: Workload, dtype: str, n: int) -> Prepared:
    def bind(inputs: Arrays):
        return lambda: w.handwritten(inputs)
    return Prepared(bind, lambda raw, n: [np.asarray(r) for r in raw])


def _no_handwritten(w: Workload, dtype: str) -> str | None:
    return None if w.handwritten else f"workload {w.name!r} has no hand-written NumPy version"


PEERS: dict[str, Implementation] = {
    "lambdify": Implementation("sympy-lambdify", "lambdify", "peer", _build_lambdify,
                               requires=("sympy",)),
    "jax": Implementation("sympy-lambdify-jax", "jax", "peer", _build_jax,
                          requires=("jax",), install="jax"),
    "symengine": Implementation("symengine-llvm", "symengine", "peer", _symengine(False),
                                requires=("symengine",), install="symengine",
                                unsupported=_symengine_unsupported),
    "pytensor": Implementation("pytensor", "pytensor", "peer", _build_pytensor,
                               requires=("pytensor", "sympytensor"),
                               install="pytensor sympytensor"),
    "handwritten": Implementation("numpy-handwritten", "handwritten", "peer",
                                  _build_handwritten, unsupported=_no_handwritten),
}


# peers that also get a row timed into preallocated outputs, on workloads that ask for one
REUSE_OUTPUTS = {"symengine": Implementation(
    "symengine-llvm-out", "symengine-out", "peer", _symengine(True), requires=("symengine",),
    install="symengine", unsupported=_symengine_unsupported)}

# the peers that compile the workload's SymPy form (not the hand-written NumPy)
SYMPY_PEERS = frozenset({"lambdify", "jax", "symengine", "pytensor"})


def for_workload(w: Workload | None) -> dict[str, Implementation]:
    """The peers that apply to workload ``w`` by key: the generic ones (those compiling SymPy
    only when it has a SymPy form) and its own; with no workload, the generic ones."""
    if w is None:
        return dict(PEERS)
    generic = {k: p for k, p in PEERS.items() if w.has_symbolic or k not in SYMPY_PEERS}
    own = {p.key: p for p in w.peers}
    return {**generic, **own}
