"""Vector math for the LLVM backend: the IR that defines ``@pg.<name>.<mangling>``, the
vector functions the op table's LLVM spellings call (``ops.vector_call``).

``sqrt``, ``fabs``, min and max are LLVM intrinsics, so they become vector instructions.
The transcendentals call glibc's vector math library (libmvec, in glibc since 2.22,
documented at <= 4 ulp) at the target's vector width where it exports the function, and
otherwise the C library's scalar function once per lane, which is exact to libm's
accuracy but not fast.  ``benchmarks/vecmath_accuracy.py`` measures every function
against numpy.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass

# C name -> LLVM intrinsic that computes it on vectors
INTRINSICS = {"sqrt": "llvm.sqrt", "fabs": "llvm.fabs",
              # numpy's minimum and maximum propagate NaN, as llvm.minimum/maximum do
              "pg_min": "llvm.minimum", "pg_max": "llvm.maximum"}

ARITY = {"atan2": 2, "pow": 2, "hypot": 2, "pg_min": 2, "pg_max": 2}

# libmvec's ISA letter for a vector register size in bits (x86_64 vector function ABI)
_ISA = {128: "b", 256: "d", 512: "e"}


@dataclass(frozen=True)
class Vector:
    """The vector type a kernel computes on: ``width`` lanes of ``scalar``."""
    scalar: str         # "double" or "float"
    width: int

    @property
    def type(self) -> str:
        return f"<{self.width} x {self.scalar}>"

    @property
    def mangling(self) -> str:
        return f"v{self.width}f{64 if self.scalar == 'double' else 32}"

    @property
    def bits(self) -> int:
        return self.width * (64 if self.scalar == "double" else 32)


@functools.cache
def libmvec() -> ctypes.CDLL | None:
    """glibc's vector math library, loaded into the process so that MCJIT resolves its
    symbols (None where there is none: macOS, musl, old glibc)."""
    import llvmlite.binding as llvm
    name = ctypes.util.find_library("mvec") or "libmvec.so.1"
    try:
        library = ctypes.CDLL(name)
        llvm.load_library_permanently(name)
    except (OSError, RuntimeError):
        return None
    return library


def libmvec_name(name: str, vec: Vector) -> str | None:
    """The libmvec symbol of ``name`` at this vector size, if the library exports it."""
    isa = _ISA.get(vec.bits)
    library = libmvec()
    if isa is None or library is None:
        return None
    symbol = f"_ZGV{isa}N{vec.width}{'v' * ARITY.get(name, 1)}_{name}" + \
        ("f" if vec.scalar == "float" else "")
    return symbol if hasattr(library, symbol) else None


def definition(name: str, vec: Vector, register_bits: int | None = None) -> list[str]:
    """IR lines defining ``@pg.<name>.<mangling>`` (and declaring what it calls).  A vector
    wider than the CPU's registers (``register_bits``) calls the function on each half."""
    t, m, arity = vec.type, vec.mangling, ARITY.get(name, 1)
    params = ", ".join(f"{t} %a{k}" for k in range(arity))
    operands = ", ".join(f"{t} %a{k}" for k in range(arity))
    head = f"define internal {t} @pg.{name}.{m}({params}) alwaysinline {{"
    if register_bits and vec.bits > register_bits and name not in INTRINSICS:
        return _halves(name, vec, head, arity, register_bits)
    if name in INTRINSICS:
        return [head, f"  %r = call {t} @{INTRINSICS[name]}.{m}({operands})",
                f"  ret {t} %r", "}"]
    if name == "rsqrt":
        one = f"splat ({vec.scalar} 1.0)"
        return [head, f"  %s = call {t} @llvm.sqrt.{m}({t} %a0)",
                f"  %r = fdiv {t} {one}, %s", f"  ret {t} %r", "}"]
    symbol = libmvec_name(name, vec)
    if symbol is not None:
        return [f"declare {t} @{symbol}({', '.join([t] * arity)})", head,
                f"  %r = call {t} @{symbol}({operands})", f"  ret {t} %r", "}"]
    return _per_lane(name, vec, head, arity)


def _halves(name: str, vec: Vector, head: str, arity: int, register_bits: int) -> list[str]:
    """The function at half the width, called on the low and the high lanes."""
    half = Vector(vec.scalar, vec.width // 2)
    h, t = half.type, vec.type
    low = ", ".join(f"i32 {j}" for j in range(half.width))
    high = ", ".join(f"i32 {j}" for j in range(half.width, vec.width))
    lines = definition(name, half, register_bits) + [head]
    for k in range(arity):
        lines += [f"  %l{k} = shufflevector {t} %a{k}, {t} poison, <{half.width} x i32> <{low}>",
                  f"  %h{k} = shufflevector {t} %a{k}, {t} poison, <{half.width} x i32> <{high}>"]
    for part in "lh":
        operands = ", ".join(f"{h} %{part}{k}" for k in range(arity))
        lines.append(f"  %r{part} = call {h} @pg.{name}.{half.mangling}({operands})")
    every = ", ".join(f"i32 {j}" for j in range(vec.width))
    return lines + [f"  %r = shufflevector {h} %rl, {h} %rh, <{vec.width} x i32> <{every}>",
                    f"  ret {t} %r", "}"]


def _per_lane(name: str, vec: Vector, head: str, arity: int) -> list[str]:
    """The C library's scalar function, called once per lane."""
    s, t = vec.scalar, vec.type
    c_name = name + ("f" if s == "float" else "")
    lines = [f"declare {s} @{c_name}({', '.join([s] * arity)})", head]
    last = "poison"
    for lane in range(vec.width):
        for k in range(arity):
            lines.append(f"  %x{k}.{lane} = extractelement {t} %a{k}, i32 {lane}")
        operands = ", ".join(f"{s} %x{k}.{lane}" for k in range(arity))
        lines += [f"  %y{lane} = call {s} @{c_name}({operands})",
                  f"  %v{lane} = insertelement {t} {last}, {s} %y{lane}, i32 {lane}"]
        last = f"%v{lane}"
    return lines + [f"  ret {t} {last}", "}"]
