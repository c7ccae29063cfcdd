"""The CUDA backend: one CUDA C++ kernel, one thread per event in a grid-stride loop.

Inputs are ``const T* __restrict__`` pointers read through their strides (so strided views
need no copy), per-call values are computed by each thread before its loop, complex outputs
are written as (re, im) pairs.  CuPy compiles the source with NVRTC and launches it; numpy
inputs are copied to the device and back, CuPy inputs are used in place.

A body longer than ``part_size`` nodes becomes one kernel per stage, launched in turn on
one stream, with the per-event values a later stage reads handed on in a global scratch
array (``PG_SCRATCH`` values per event, one contiguous column per value).  ptxas takes the
whole kernel at once, calls included (``__noinline__`` device functions do not help), and
its time grows faster than the kernel; as separate kernels it stays linear in the body
(benchmarks/README.md, "Why long bodies are cut").

The same source also builds as host C++ (``-DPHYSGRAPH_HOST``: a thin macro layer turns the
CUDA qualifiers into nothing and the grid into one thread), which is how machines without a
GPU check it: ``host_function`` compiles it with g++ and calls it through ctypes.
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import ops
from ..errors import UnsupportedError
from ..graph import Graph, Op, T
from . import staging
from .printer import Printer, PrintContext

SCRATCH_BYTES = 1 << 30    # staged kernels run over chunks of events whose scratch fits

PRELUDE = """\
#ifdef PHYSGRAPH_HOST
#include <cmath>
using namespace std;
#define __global__
#define __device__
#define __forceinline__ inline
struct pg_dim3 { long long x; };
static const pg_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
template <class T> static inline T rsqrt(T x) { return T(1) / sqrt(x); }
#define PG_INF INFINITY
#define PG_NAN NAN
#else
#define PG_INF __int_as_float(0x7f800000)
#define PG_NAN __int_as_float(0x7fffffff)
#endif
// numpy's minimum/maximum: NaN in, NaN out
template <class T> __device__ __forceinline__ T pg_min(T a, T b) { return (a < b || a != a) ? a : b; }
template <class T> __device__ __forceinline__ T pg_max(T a, T b) { return (a > b || a != a) ? a : b; }
"""


class CudaPrinter(Printer):
    name = "cuda"
    has_fma = True
    real_only = True
    warm = False
    part_size = 1000       # per-event nodes per kernel, in a long body (see source())
    comment = "//"
    suffix = ".cu"
    spelling = ops.spellings("cuda")

    @property
    def ctype(self) -> str:
        return "double" if self.dtype == "float64" else "float"

    def literal(self, value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, complex):
            # a constant complex *output* is fine (store() writes its two parts); as an
            # operand it would mean lowering missed a node, and expr() refuses that
            return "/* complex constant */"
        v = float(value)
        if math.isnan(v):
            return "PG_NAN"
        if math.isinf(v):
            return "PG_INF" if v > 0 else "(-PG_INF)"
        text = repr(v) + ("f" if self.dtype == "float32" else "")
        return f"({text})" if v < 0 else text

    def expr(self, g: Graph, i: int, names: list) -> str:
        if any(g.ops[a] is Op.CONST and isinstance(g.attrs[a], complex) for a in g.args[i]):
            raise UnsupportedError("a complex constant reached the CUDA printer as an operand")
        return super().expr(g, i, names)

    def _print_POWI(self, g, i, args):
        return f"pow({args[0]}, ({self.ctype}){g.attrs[i]})"

    def read(self, ctx: PrintContext, i: int) -> str:
        g = ctx.graph
        pos, idx = g.attrs[i]
        arg = g.signature[pos]
        if not arg.shape and g.ops[i] is Op.PARAM:
            return arg.ident
        index = [0, *idx] if g.ops[i] is Op.PARAM else ["i", *idx]
        return f"{arg.ident}[{_offset(arg.ident, index)}]"

    def write(self, out: str, index: tuple) -> str:
        return _offset(out, ["i", *index])   # an offset: store() puts it in place

    def _print_COMPLEX(self, g, i, args):
        return ""                 # no complex type: store() writes the two parts

    def assign(self, g: Graph, i: int, expr: str) -> str | None:
        if g.ops[i] is Op.COMPLEX:
            return None
        ctype = "bool" if g.types[i] is T.BOOL else self.ctype
        return f"const {ctype} t{i} = {expr};"

    def store(self, ctx: PrintContext, node: int, target: str, names: list,
              k: int) -> list[str]:
        g, out = ctx.graph, f"out{k}"
        if ctx.out_types[k] is not T.COMPLEX:
            return [f"{out}[{target}] = {names[node]};"]
        if g.ops[node] is Op.COMPLEX:
            re, im = (names[a] for a in g.args[node])
        elif g.ops[node] is Op.CONST and isinstance(g.attrs[node], complex):
            re, im = self.literal(g.attrs[node].real), self.literal(g.attrs[node].imag)
        else:
            re, im = names[node], self.literal(0.0)
        return [f"{out}[2 * ({target})] = {re};", f"{out}[2 * ({target}) + 1] = {im};"]

    def kernel_source(self, ctx: PrintContext, name: str) -> str:
        g = ctx.graph
        plan = staging.by_size(g, self.part_size)
        nstages, slot = plan.nstages, plan.slots
        preamble, bodies = self.staged_lines(ctx, plan)
        params = self._params(ctx)
        text = f"{self.header(g, name)}\n{PRELUDE}\n"
        if nstages == 1:
            return text + self._kernel("kernel", params, preamble, bodies[0])
        # one kernel per stage, launched in turn; each computes the per-call values itself
        # (nvcc drops those it does not use) and per-event values cross in global scratch
        text += f"// the body in {nstages} kernels of at most {self.part_size} nodes, launched " \
            "in turn (ptxas is not linear in a kernel's size)\n" \
            f"#define PG_STAGES {nstages}\n#define PG_SCRATCH {plan.width}  // values per event\n\n"
        scratch = f"{self.ctype}* __restrict__ pg_s"
        for s in range(nstages):
            body = [self._received(g, n, slot[n]) for n in plan.received[s]] + bodies[s] + \
                [f"pg_s[{slot[n]} * n + i] = t{n};" for n in plan.handed[s]]
            text += self._kernel(f"pg_stage{s}", params + [scratch], preamble, body) + "\n"
        return text

    def _kernel(self, name: str, params: list[str], preamble: list[str], body: list[str]) -> str:
        ind = self.indent
        signature = f",\n{ind}{ind}".join(params)
        return (f'extern "C" __global__ void {name}(\n{ind}{ind}{signature})\n{{\n'
                + "".join(f"{ind}{line}\n" for line in preamble)
                + f"{ind}for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;"
                  f" i < n; i += (long long)blockDim.x * gridDim.x) {{\n"
                + "".join(f"{ind * 2}{line}\n" for line in body)
                + f"{ind}}}\n}}\n")

    def _params(self, ctx: PrintContext) -> list[str]:
        """The kernel's parameters: event count, inputs and params with their element
        strides, outputs with theirs."""
        g, t = ctx.graph, self.ctype
        params = ["long long n"]
        for a in g.signature:
            if a.role == "param" and not a.shape:
                params.append(f"{t} {a.ident}")
                continue
            params.append(f"const {t}* __restrict__ {a.ident}")
            first = 1 if a.role == "param" else 0
            params += [f"long long {a.ident}_s{d}" for d in range(first, len(a.shape) + 1)]
        for k, o in enumerate(g.outputs):
            kind = "bool" if ctx.out_types[k] is T.BOOL else t
            params.append(f"{kind}* __restrict__ out{k}")
            params += [f"long long out{k}_s{d}" for d in range(len(o.shape) + 1)]
        return params

    def _received(self, g: Graph, n: int, k: int) -> str:
        value = f"pg_s[{k} * n + i]"
        if g.types[n] is T.BOOL:
            return f"const bool t{n} = {value} != 0;"
        return f"const {self.ctype} t{n} = {value};"

    # ---- running ---------------------------------------------------------------------------
    def load(self, source: str, name: str = "kernel", path: str | None = None) -> "Built":
        try:
            import cupy
        except ImportError as err:
            raise UnsupportedError("the cuda backend needs CuPy (pip install physgraph[cuda]) "
                                   "and an NVIDIA GPU; k.source shows the code anyway") from err
        module = cupy.RawModule(code=source, options=("--std=c++17",))
        return build(source, self.dtype, _gpu(self.dtype), module.get_function)

    def run(self, fn: "Built", n, arrays, outs) -> None:
        device = fn.device
        device_outs = [device.empty(o.shape, o.dtype) for o in outs]
        launch(fn, n, [device.to_device(a) for a in arrays], device_outs)
        for o, d in zip(outs, device_outs):
            o[...] = device.to_host(d)

    def run_native(self, fn: "Built", n: int, arrays: list, out_specs: list) -> list:
        outs = [fn.device.empty(shape, dtype) for shape, dtype in out_specs]
        launch(fn, n, arrays, outs)
        return outs

    @staticmethod
    def asarray(value, dtype: str):
        import cupy
        return cupy.asarray(value, dtype=dtype)

    @staticmethod
    def broadcast(x, shape):
        import cupy
        return cupy.broadcast_to(x, shape)


def _offset(name: str, index: list) -> str:
    """Element offset from strides: i * p_s0 + 2 * p_s1 (zero terms left out)."""
    terms = [f"{name}_s{d}" if k == 1 else f"{k} * {name}_s{d}"
             for d, k in enumerate(index) if k != 0]
    return " + ".join(terms) or "0"


@dataclass(frozen=True)
class Device:
    """Where a built source runs and how its kernels take arguments there: the GPU through
    CuPy (``_gpu``), or the host build that stands in for it on machines without a GPU."""
    empty: Callable            # (shape, dtype) -> a new array on the device
    to_device: Callable        # a host argument -> the same on the device
    to_host: Callable          # a device array -> a numpy array
    pointer: Callable          # a device array -> the kernel argument pointing to it
    integer: Callable          # an int (event count, stride) -> a kernel argument
    real: Callable             # a scalar param -> a kernel argument
    call: Callable             # (kernel, events, arguments): one launch
    wait: Callable             # returns when every launch is done


@dataclass(frozen=True)
class Built:
    """A CUDA source built for a device: its kernels in launch order, and what the launch
    needs to know about them, read from the source itself (a kernel that comes from the
    on-disk cache is never printed in this process)."""
    functions: list
    roles: tuple               # of the kernels' arguments (``argument_roles``)
    width: int | None          # scratch values per event (``kernel_names``)
    dtype: str
    device: Device


def build(source: str, dtype: str, device: Device, function: Callable) -> Built:
    """``function(name)`` is the loaded kernel ``name`` of ``source``."""
    names, width = kernel_names(source)
    return Built([function(name) for name in names], argument_roles(source), width, dtype,
                 device)


def launch(fn: Built, n: int, arrays: list, outs: list) -> None:
    """Runs a built source on ``n`` events: every kernel in turn (one stream: each stage sees
    the last one's stores), over chunks of events when stages hand values on."""
    for count, args in chunked_args(fn, n, arrays, outs):
        for f in fn.functions:
            fn.device.call(f, count, args)
    fn.device.wait()


def _gpu(dtype: str) -> Device:
    import cupy
    threads = 256

    def call(f, count: int, args: list) -> None:
        blocks = max(1, min(-(-count // threads), 65535))
        f((blocks,), (threads,), tuple(args))

    return Device(empty=cupy.empty,
                  to_device=lambda a: cupy.asarray(a) if isinstance(a, np.ndarray) else a,
                  to_host=cupy.asnumpy, pointer=lambda x: x, integer=np.int64,
                  real=np.dtype(dtype).type, call=call,
                  wait=lambda: cupy.cuda.get_current_stream().synchronize())


def kernel_names(source: str) -> tuple[list[str], int | None]:
    """The kernels a source runs, in launch order, and the width of the scratch they hand
    values on in (values per event; None: one kernel, no scratch argument)."""
    found = re.search(r"^#define PG_STAGES (\d+)$", source, re.M)
    if found is None:
        return ["kernel"], None
    width = re.search(r"^#define PG_SCRATCH (\d+)", source, re.M)
    return [f"pg_stage{s}" for s in range(int(found.group(1)))], int(width.group(1))


def argument_roles(source: str) -> tuple:
    """The role of each argument of the kernel, in signature order, read from the first
    kernel's parameter list (``CudaPrinter._params``): "input" (its strides start at the
    event's, ``_s0``), "param" (an array, strides from ``_s1``) or "scalar" (a scalar
    param, passed by value).  Outputs and the scratch are the pointers that are not const."""
    params = re.search(r"__global__ void \w+\(([^)]*)\)", source).group(1)
    params = [p.strip() for p in params.split(",")][1:]      # after the event count
    roles = []
    for p, following in zip(params, params[1:] + [""]):
        if p.startswith("const "):
            roles.append("input" if following.endswith("_s0") else "param")
        elif not p.startswith("long long ") and "*" not in p:
            roles.append("scalar")
    return tuple(roles)


def chunked_args(fn: Built, n: int, arrays: list, outs: list):
    """(event count, kernel arguments) per launch: all events at once, or, for staged
    kernels, chunks small enough that their scratch (``width`` values per event, allocated
    once) stays under ``SCRATCH_BYTES``; the scratch is the last argument.  Inputs and
    outputs are passed as views of the chunk, params as they are."""
    width, device = fn.width, fn.device
    step = max(n, 1) if width is None else \
        max(1, min(n, SCRATCH_BYTES // max(width * np.dtype(fn.dtype).itemsize, 1)))
    buffer = None if width is None else device.empty(max(width * step, 1), fn.dtype)
    scratch = [] if buffer is None else [device.pointer(buffer)]     # alive till done
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        part = [x[lo:hi] if role == "input" else x for role, x in zip(fn.roles, arrays)]
        yield hi - lo, kernel_args(fn, hi - lo, part, [o[lo:hi] for o in outs]) + scratch


def kernel_args(fn: Built, n: int, arrays: list, outs: list) -> list:
    """The kernel's arguments in signature order: pointers, element strides, scalars."""
    device = fn.device
    args = [device.integer(n)]
    for role, x in zip(fn.roles, arrays):
        if role == "scalar":
            args.append(device.real(x))
            continue
        args.append(device.pointer(x))
        args += [device.integer(s // x.itemsize) for s in x.strides]
    for o in outs:
        args.append(device.pointer(o))
        args += [device.integer(s // o.itemsize) for s in o.strides]
    return args


def host_function(source: str, dtype: str = "float64") -> Built:
    """The CUDA source built as host C++ (g++) and loaded with ctypes, for checking the
    generated code on machines without a GPU: ``launch`` and ``CudaPrinter.run`` take it
    as they take the GPU's build."""
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "physgraph-host")
    os.makedirs(folder, exist_ok=True)
    lib = os.path.join(folder, f"{key}.so")
    if not os.path.exists(lib):
        src = os.path.join(folder, f"{key}.cpp")
        with open(src, "w") as f:
            f.write(source)
        tmp = f"{lib}.{os.getpid()}.tmp"
        subprocess.run(["g++", "-O1", "-std=c++17", "-shared", "-fPIC", "-DPHYSGRAPH_HOST",
                        "-x", "c++", src, "-o", tmp], check=True, capture_output=True)
        os.replace(tmp, lib)
    library = ctypes.CDLL(lib)

    def function(name: str):
        f = getattr(library, name)
        f.restype = None
        return f

    host = Device(empty=np.empty, to_device=lambda a: a, to_host=lambda a: a,
                  pointer=lambda x: ctypes.c_void_p(x.ctypes.data), integer=ctypes.c_longlong,
                  real=ctypes.c_double if dtype == "float64" else ctypes.c_float,
                  call=lambda f, count, args: f(*args), wait=lambda: None)
    return build(source, dtype, host, function)
