"""Compiling and running the LLVM backend's kernels: llvmlite's MCJIT for the host CPU and
its features, a ctypes call per range of events (ctypes releases the GIL), the events
split across threads.

A loaded kernel reads what it needs from its source (``; roles:`` and ``; vector:`` lines),
so a source from the on-disk cache loads without being printed again.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import itertools
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import cache
from ..errors import UnsupportedError
from . import vecmath

OPT_LEVEL = 2            # LLVM's -O2: the body is straight-line code, O3 adds little
# a thread gets at least this much work (flops, per the source's header): below it, handing
# work to a thread costs more than the work (a short body: thousands of events; a matrix
# element of 10^5 flops per event: a handful)
MIN_FLOPS_PER_THREAD = 1 << 20
STREAM_MIN_BYTES = 32 << 20    # outputs larger than a last-level cache go around it
PIECES_PER_THREAD = 8          # events of a call cut into this many pieces per thread

_KERNEL = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
                           ctypes.c_void_p)
_INIT_LOCK = threading.Lock()
_SCHEDULER_LOCK = threading.Lock()     # every compile: one may set LLVM's scheduler option
# the line of a source whose instructions keep their printed order (no machine scheduler)
SOURCE_ORDER = "; instruction order: as printed"


@functools.cache
def _llvm():
    """llvmlite's binding, initialized for the host target (once per process)."""
    import llvmlite.binding as llvm
    with _INIT_LOCK:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
    return llvm


def _target_machine():
    """A new one per kernel: the execution engine takes ownership of it."""
    llvm = _llvm()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=OPT_LEVEL, jit=True)


@functools.cache
def vector_bits() -> int:
    """The widest vector register of the host: 512 (AVX-512), 256 (AVX) or 128 bits."""
    features = _llvm().get_host_cpu_features()
    if features.get("avx512f"):
        return 512
    return 256 if features.get("avx") else 128


@dataclass(frozen=True)
class Loaded:
    """A compiled kernel: its entry point and what calling it needs to know."""
    function: object           # the ctypes function (lo, hi, args, scratch)
    roles: tuple               # "input", "param" or "scalar" per signature argument
    width: int                 # events per vector
    scratch: int               # values in a thread's scratch block (0: none)
    min_events: int            # per thread (``MIN_FLOPS_PER_THREAD``)
    dtype: type                # of the values
    engine: object             # keeps the machine code alive


def load(source: str, path: str | None = None) -> Loaded:
    """The kernel of ``source``; its machine code comes from beside ``path`` (the source's
    file in the on-disk cache) when it was compiled there before for this CPU."""
    llvm = _llvm()
    vecmath.libmvec()               # its symbols must be loaded before MCJIT links
    _check_width(source)
    key = _object_key(source)
    data = cache.load_object(path, key) if path and cache.enabled() else None
    if data is None:
        data = _framed(_compile(source))
        if path and cache.enabled():
            cache.store_object(path, key, data)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine())
    for obj in _unframed(data):
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    function = _KERNEL(engine.get_function_address("kernel"))
    roles = tuple(re.search(r"^; roles: ?(.*)$", source, re.M).group(1).split())
    width, scalar = re.search(r"^; vector: (\d+) x (\w+)", source, re.M).groups()
    scratch = re.search(r"^; scratch: (\d+) x (\d+)", source, re.M)
    size = int(scratch.group(1)) * int(scratch.group(2)) if scratch else 0
    flops = int(re.search(r"^; (\d+) flops per event", source, re.M).group(1))
    min_events = max(int(width), -(-MIN_FLOPS_PER_THREAD // max(flops, 1)))
    return Loaded(function, roles, int(width), size, min_events,
                  np.float64 if scalar == "double" else np.float32, engine)


def _check_width(source: str) -> None:
    """A source printed on a CPU with wider registers (from a cache folder two machines
    share) may call that CPU's vector functions: refuse it rather than run instructions
    this CPU lacks."""
    bits = int(re.search(r"^; registers: (\d+) bits", source, re.M).group(1))
    if bits > vector_bits():
        raise UnsupportedError(
            f"this llvm kernel was printed for {bits}-bit vectors and this CPU has "
            f"{vector_bits()}-bit ones; clear the cache (physgraph cache clear) or give "
            "each machine its own PHYSGRAPH_CACHE_DIR")


def _compile(source: str) -> list[bytes]:
    """Machine code of the IR for this CPU, optimized: one object per module of ``parts``,
    compiled in parallel (llvmlite releases the GIL; each module has its own context).  A
    source that asks for ``SOURCE_ORDER`` is compiled with LLVM's machine scheduler off, an
    option of the whole process, so it is set for this compile and restored after it, and
    physgraph's compiles take turns (numba's, on another thread meanwhile, would not see
    the scheduler either)."""
    modules = parts(source, threads())
    source_order = re.search("^" + re.escape(SOURCE_ORDER), source, re.M) is not None
    with _SCHEDULER_LOCK:
        if source_order:
            _llvm().set_option("", "--enable-misched=false")
        try:
            if len(modules) == 1:
                return [_compile_module(modules[0])]
            with ThreadPoolExecutor(min(threads(), len(modules))) as pool:
                return list(pool.map(_compile_module, modules))
        finally:
            if source_order:
                _llvm().set_option("", "--enable-misched=true")


def _compile_module(text: str) -> bytes:
    llvm = _llvm()
    module = llvm.parse_assembly(text, context=llvm.create_context())
    module.verify()
    tm = _target_machine()
    builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(OPT_LEVEL))
    builder.getModulePassManager().run(module, builder)
    return tm.emit_object(module)


_STAGE = re.compile(r"^define void @(pg\.(?:stage|product)\d+)\(", re.M)


def parts(source: str, count: int) -> list[str]:
    """The source as about ``count`` modules of equal size: a staged kernel's stage
    functions split between them (each with the declarations and helpers before them), and
    its driver with declarations of the stages; any other source as it is."""
    starts = [m.start() for m in _STAGE.finditer(source)]
    if count < 2 or len(starts) < 2:
        return [source]
    prelude, driver = source[:starts[0]], source.index("\ndefine void @kernel(")
    bounds = starts + [driver]
    size = (driver - starts[0]) / count
    groups, first = [], 0
    for k in range(1, len(starts) + 1):
        if k == len(starts) or bounds[k] - bounds[first] >= size:
            groups.append(prelude + source[bounds[first]:bounds[k]])
            first = k
    declarations = "".join(f"declare void @{name}(i64, i64, ptr, ptr)\n"
                           for name in _STAGE.findall(source))
    return groups + [declarations + source[driver:]]


def _framed(objects: list[bytes]) -> bytes:
    """Object files as one blob: each after its length (8 bytes, little-endian)."""
    return b"".join(len(obj).to_bytes(8, "little") + obj for obj in objects)


def _unframed(data: bytes) -> list[bytes]:
    objects, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 8], "little")
        objects.append(data[at + 8:at + 8 + size])
        at += 8 + size
    return objects


def _object_key(source: str) -> str:
    """What machine code depends on: the source, LLVM's version, the CPU and its features."""
    llvm = _llvm()
    facts = [source, str(llvm.llvm_version_info), str(OPT_LEVEL), llvm.get_host_cpu_name(),
             llvm.get_host_cpu_features().flatten()]
    return hashlib.sha256("\0".join(facts).encode()).hexdigest()


def threads() -> int:
    """Worker threads: ``NUMBA_NUM_THREADS`` as numba counts them, else one per core."""
    return int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1)


@functools.cache
def _pool(count: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(count, thread_name_prefix="physgraph-llvm")


def run(fn: Loaded, n: int, arrays: list, outs: list, stream: bool = False) -> None:
    """Events [0, n) of ``fn``; ``stream``: the caller keeps the outputs, which are written
    around the cache when they are larger than it."""
    if n == 0:
        return
    if n < fn.width:            # the kernel takes at least one full vector of events
        _run_padded(fn, n, arrays, outs)
        return
    keep = [np.asarray(x) for x in arrays]        # scalars as 0-d arrays, alive till done
    stream = stream and sum(o.nbytes for o in outs) >= STREAM_MIN_BYTES
    slots = np.array(_slots(keep, outs) + [int(stream)], dtype=np.int64)
    address = slots.ctypes.data
    count = max(1, min(threads(), n // fn.min_events))
    # more pieces than threads, taken in turn: a thread slowed by the machine's other load
    # takes fewer of them instead of holding up the call; each at least a vector of events
    pieces = min(count * PIECES_PER_THREAD, n // fn.width) if count > 1 else 1
    # pieces start on a multiple of W, so whole rows of W events start on a vector boundary
    bounds = [n * k // pieces // fn.width * fn.width for k in range(pieces)] + [n]
    taken = itertools.count()                 # next() on it is atomic under the GIL

    def work() -> None:
        scratch = np.empty(fn.scratch, fn.dtype) if fn.scratch else None
        pointer = None if scratch is None else scratch.ctypes.data
        for k in iter(taken.__next__, None):
            if k >= pieces:
                return
            fn.function(bounds[k], bounds[k + 1], address, pointer)

    if count == 1:
        work()
        return
    futures = [_pool(count - 1).submit(work) for _ in range(1, count)]
    work()
    for f in futures:
        f.result()


def _slots(arrays: list, outs: list) -> list[int]:
    """The kernel's ``args``: per array its address and its strides in elements (a complex
    output in elements of its real parts)."""
    slots = []
    for x in arrays:
        slots.append(x.ctypes.data)
        if x.ndim:
            slots += [s // x.itemsize for s in x.strides]
    for o in outs:
        part = o.real if o.dtype.kind == "c" else o
        slots.append(o.ctypes.data)
        slots += [s // part.itemsize for s in o.strides]
    return slots


def _run_padded(fn: Loaded, n: int, arrays: list, outs: list) -> None:
    """Fewer events than a vector: the last event repeated to fill one, outputs copied back."""
    rows = np.minimum(np.arange(fn.width), n - 1)
    padded = [x[rows] if role == "input" else x for role, x in zip(fn.roles, arrays)]
    tmp = [np.empty((fn.width, *o.shape[1:]), o.dtype) for o in outs]
    run(fn, fn.width, padded, tmp)
    for o, t in zip(outs, tmp):
        o[...] = t[:n]
