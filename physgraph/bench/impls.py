"""Implementations: anything that computes a workload's outputs from its inputs.

An ``Implementation`` is physgraph on one backend or a peer tool.  ``build`` compiles it
(the benchmark times that as compile time) and returns a ``Prepared``: ``bind`` puts the
inputs in the layout the tool takes (untimed: each tool gets its preferred layout for free),
and returns the call that is timed; ``unpack`` turns what the call returned into the
workload's outputs for the correctness check.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .workloads import Arrays, Workload

# backends physgraph has or will have; which exist now is read from physgraph.backends
KNOWN_BACKENDS = ("numba", "llvm", "numpy", "jax", "cuda")
HOST_BACKENDS = ("numba", "llvm", "numpy")      # those whose kernels take out=
# what a backend needs beyond physgraph's own dependencies: (modules, pip install ...)
BACKEND_NEEDS = {"jax": (("jax",), "physgraph[jax]"), "cuda": (("cupy",), "physgraph[cuda]")}


@dataclass
class Prepared:
    bind: Callable[[Arrays], Callable[[], object]]
    unpack: Callable[[object, int], list[np.ndarray]]
    info: dict = field(default_factory=dict)     # extra facts for the report (kernel flops)
    # a tool too slow for the whole batch (a per-event Python loop) runs on the first
    # ``subset`` events only: it is checked on those and its rate is per event it ran
    subset: int | None = None
    # a program that draws its own events and times itself (madgraph4gpu's check):
    # (events, repeat) -> (events/s, what it ran); not checked against the reference
    self_timed: Callable[[int, int], tuple[float, str]] | None = None


@dataclass(frozen=True)
class Implementation:
    name: str                    # the row's name: physgraph-numba, sympy-lambdify, ...
    key: str                     # what --backends / --peers call it
    kind: str                    # "physgraph" or "peer"
    build: Callable[[Workload, str, int], Prepared]       # (workload, dtype, events)
    requires: tuple[str, ...] = ()          # modules it imports (import time is kept apart)
    install: str = ""                       # what to pip install when they are missing
    unsupported: Callable[[Workload, str], str | None] = lambda w, dtype: None

    def skip_reason(self, workload: Workload, dtype: str) -> str | None:
        """Why this implementation cannot run here, or None."""
        reason = self.unsupported(workload, dtype)      # first: a backend physgraph lacks
        if reason:
            return reason
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"{', '.join(missing)} not installed (pip install {self.install or missing[0]})"
        return None


def split_flat(flat: list, shapes: list[tuple], n: int) -> list[np.ndarray]:
    """Per-element results (one (n,) array or scalar per output element, row-major) ->
    one (n, *shape) array per output.  Constant outputs come back as scalars: broadcast."""
    outs, k = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=int))
        cols = [np.broadcast_to(np.asarray(c), (n,)) for c in flat[k:k + size]]
        outs.append(np.stack(cols, axis=-1).reshape(n, *shape))
        k += size
    if k != len(flat):
        raise ValueError(f"{len(flat)} output elements, the workload has {k}")
    return outs


def columns(workload: Workload, inputs: Arrays) -> list[np.ndarray]:
    """One contiguous (n,) array per input symbol, in the order of ``Symbolic.symbols``."""
    cols = []
    for name in workload.symbolic.inputs:
        a = inputs[name]
        flat = a.reshape(a.shape[0], -1)
        cols.extend(np.ascontiguousarray(flat[:, j]) for j in range(flat.shape[1]))
    return cols


# ---- physgraph on each backend --------------------------------------------------------------
def _backend_missing(backend: str) -> str | None:
    from ..backends import BACKENDS  # looked up now: backends arrive over time
    if backend in BACKENDS:
        return None
    return (f"backend {backend!r} is not in physgraph yet (physgraph.backends.BACKENDS has "
            f"{', '.join(sorted(BACKENDS))})")


def _to_device(backend: str, arrays: list) -> list:
    """Inputs on the backend's device before timing, as the JAX peer gets them: the timed
    call then measures the kernel, not a host-to-device copy."""
    if backend == "jax":
        import jax
        if any(a.dtype == np.float64 for a in arrays):
            jax.config.update("jax_enable_x64", True)   # else device_put rounds to float32
        return [jax.device_put(a) for a in arrays]
    if backend == "cuda":
        import cupy
        return [cupy.asarray(a) for a in arrays]
    return arrays


def _wait(result) -> None:
    """Device backends return before the work is done: wait for it inside the timed call."""
    for out in result if isinstance(result, tuple) else (result,):
        if hasattr(out, "block_until_ready"):
            out.block_until_ready()
        elif type(out).__module__.startswith("cupy"):
            import cupy
            cupy.cuda.get_current_stream().synchronize()


def _to_host(out) -> np.ndarray:
    return out.get() if type(out).__module__.startswith("cupy") else np.asarray(out)


def _outputs(raw) -> list:
    """A kernel's result (one array, a tuple or a dict of them) as a list of outputs."""
    if isinstance(raw, dict):
        return list(raw.values())
    return list(raw) if isinstance(raw, tuple) else [raw]


def _build_physgraph(backend: str, reuse_outputs: bool = False):
    def build(workload: Workload, dtype: str, n: int) -> Prepared:
        if workload.kernel is not None:
            return _build_own_kernel(workload, backend, dtype)
        from .. import compile as pg_compile
        s = workload.symbolic
        kernel = pg_compile([e for e, _ in s.outputs.values()], inputs=dict(s.inputs),
                            backend=backend, dtype=dtype, name=workload.name.replace("-", "_"))
        kernel.compile()                       # the JIT now, inside the timed compile
        shapes = s.output_shapes

        def bind(inputs: Arrays):
            arrays = _to_device(backend, [inputs[name] for name in s.inputs])   # no copies
            if reuse_outputs:
                # the outputs of an untimed first call, written again by every timed one:
                # the timed calls fault in no fresh pages
                outs = tuple(_outputs(kernel(*arrays)))
                return lambda: kernel(*arrays, out=outs)

            def call():
                result = kernel(*arrays)
                _wait(result)
                return result
            return call

        def unpack(raw, n: int) -> list[np.ndarray]:
            # a sympy column Matrix comes back as (n, r, 1): the workload says (n, r)
            return [_to_host(o).reshape(n, *shape) for o, shape in zip(_outputs(raw), shapes)]
        return Prepared(bind, unpack, info=_kernel_info(kernel))
    return build


def _kernel_info(kernel) -> dict:
    stats = kernel.stats
    return {"kernel_flops": stats["flops_out"], "jit_s": stats.get("jit_s"),
            "cache": stats.get("cache")}


def _build_own_kernel(workload: Workload, backend: str, dtype: str) -> Prepared:
    """physgraph through the workload's own kernel (traced frontends, not SymPy)."""
    fn = workload.kernel(backend, dtype)
    kernel = getattr(fn, "kernel", None)
    if kernel is not None:
        kernel.compile()                       # the JIT now, inside the timed compile

    def bind(inputs: Arrays):
        arrays = _to_device(backend, list(inputs.values()))

        def call():
            result = fn(*arrays)
            _wait(tuple(_outputs(result)))
            return result
        return call

    def unpack(raw, n: int) -> list[np.ndarray]:
        return [_to_host(o) for o in _outputs(raw)]
    return Prepared(bind, unpack, info=_kernel_info(kernel) if kernel is not None else {})


def physgraph_impl(backend: str, reuse_outputs: bool = False) -> Implementation:
    """physgraph on ``backend``; with ``reuse_outputs``, every timed call writes into the
    same preallocated outputs (``out=``), the row ``physgraph-<backend>-out``."""
    modules, install = BACKEND_NEEDS.get(backend, ((), ""))
    suffix = "-out" if reuse_outputs else ""
    return Implementation(
        name=f"physgraph-{backend}{suffix}", key=backend + suffix, kind="physgraph",
        build=_build_physgraph(backend, reuse_outputs), requires=modules, install=install,
        unsupported=lambda w, dtype: _backend_missing(backend))


def select(backends: list[str], peers: list[str],
           workload: Workload | None = None) -> list[Implementation]:
    """The implementations to run, physgraph's first; ``peers`` are keys of the generic
    ``peers.PEERS`` or of the workload's own peers."""
    from .peers import for_workload
    known = for_workload(workload)
    unknown = [p for p in peers if p not in known]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known peers: "
                         f"{', '.join(known)}")
    from .peers import REUSE_OUTPUTS
    ours = [physgraph_impl(b) for b in backends]
    theirs = [known[p] for p in peers]
    if workload is not None and workload.reuse_outputs:
        ours += [physgraph_impl(b, reuse_outputs=True) for b in backends
                 if b in HOST_BACKENDS and workload.has_symbolic]
        theirs += [REUSE_OUTPUTS[p] for p in peers if p in REUSE_OUTPUTS]
    return ours + theirs
