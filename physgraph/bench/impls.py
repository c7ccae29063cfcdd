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
KNOWN_BACKENDS = ("numba", "numpy", "jax", "cuda")
# what a backend needs beyond physgraph's own dependencies: (modules, pip install ...)
BACKEND_NEEDS = {"jax": (("jax",), "physgraph[jax]"), "cuda": (("cupy",), "physgraph[cuda]")}


@dataclass
class Prepared:
    bind: Callable[[Arrays], Callable[[], object]]
    unpack: Callable[[object, int], list[np.ndarray]]
    info: dict = field(default_factory=dict)     # extra facts for the report (kernel flops)


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


def _build_physgraph(backend: str):
    def build(workload: Workload, dtype: str, n: int) -> Prepared:
        from .. import compile as pg_compile
        s = workload.symbolic
        kernel = pg_compile([e for e, _ in s.outputs.values()], inputs=dict(s.inputs),
                            backend=backend, dtype=dtype, name=workload.name.replace("-", "_"))
        kernel.compile()                       # the JIT now, inside the timed compile
        shapes = s.output_shapes

        def bind(inputs: Arrays):
            arrays = _to_device(backend, [inputs[name] for name in s.inputs])   # no copies

            def call():
                result = kernel(*arrays)
                _wait(result)
                return result
            return call

        def unpack(raw, n: int) -> list[np.ndarray]:
            outs = raw if isinstance(raw, tuple) else (raw,)
            # a sympy column Matrix comes back as (n, r, 1): the workload says (n, r)
            return [_to_host(o).reshape(n, *shape) for o, shape in zip(outs, shapes)]

        stats = kernel.stats
        return Prepared(bind, unpack, info={"kernel_flops": stats["flops_out"],
                                            "jit_s": stats.get("jit_s"),
                                            "cache": stats.get("cache")})
    return build


def physgraph_impl(backend: str) -> Implementation:
    modules, install = BACKEND_NEEDS.get(backend, ((), ""))
    return Implementation(
        name=f"physgraph-{backend}", key=backend, kind="physgraph",
        build=_build_physgraph(backend), requires=modules, install=install,
        unsupported=lambda w, dtype: _backend_missing(backend))


def select(backends: list[str], peers: list[str]) -> list[Implementation]:
    """The implementations to run, physgraph's first; ``peers`` are keys of ``peers.PEERS``."""
    from .peers import PEERS
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known peers: "
                         f"{', '.join(PEERS)}")
    return [physgraph_impl(b) for b in backends] + [PEERS[p] for p in peers]
