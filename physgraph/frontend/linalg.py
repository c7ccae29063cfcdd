"""Small vectors and matrices of traced scalars (elements may also be plain numbers)."""
from __future__ import annotations

from numbers import Number

import numpy as np

from . import scalar as sc
from .argtype import ArgType, _dims


def _is_scalar(x) -> bool:
    return isinstance(x, (sc.Scalar, Number, np.number))


def _sum(terms):
    """Sum of terms, skipping exact zeros so known-zero elements build no nodes."""
    total = 0
    for t in terms:
        if isinstance(t, Number) and t == 0:
            continue
        total = t if isinstance(total, Number) and total == 0 else total + t
    return total


def _mul(a, b):
    if (isinstance(a, Number) and a == 0) or (isinstance(b, Number) and b == 0):
        return 0
    if isinstance(a, Number) and a == 1:
        return b
    if isinstance(b, Number) and b == 1:
        return a
    return a * b


class Elementwise:
    """Shared arithmetic of fixed-size containers: +, -, scalar *, scalar /."""
    __array_priority__ = 1000

    def elements(self) -> list:
        raise NotImplementedError

    def _new(self, elements: list):
        raise NotImplementedError

    def _zip(self, other, fn):
        if type(other) is not type(self) or other.shape != self.shape:
            raise TypeError(f"cannot combine {self!r} with {other!r}")
        return self._new([fn(a, b) for a, b in zip(self.elements(), other.elements())])

    def __add__(self, o): return self._zip(o, lambda a, b: a + b)
    def __sub__(self, o): return self._zip(o, lambda a, b: a - b)
    def __neg__(self): return self._new([-a for a in self.elements()])
    def __pos__(self): return self

    def __mul__(self, s):
        if not _is_scalar(s):
            return NotImplemented
        return self._new([_mul(a, s) for a in self.elements()])

    __rmul__ = __mul__

    def __truediv__(self, s):
        if not _is_scalar(s):
            return NotImplemented
        inv = 1 / s
        return self._new([_mul(a, inv) for a in self.elements()])


class Vec(Elementwise):
    """An n-vector of scalars.  As an annotation, ``pg.Vec[n]`` is an (N, n) input."""

    def __class_getitem__(cls, n):
        return ArgType("vec", _dims(n, 1, "Vec[n]"))

    def __init__(self, *elements):
        if len(elements) == 1 and not _is_scalar(elements[0]):
            elements = tuple(elements[0])
        self.v = list(elements)

    @property
    def shape(self):
        return (len(self.v),)

    def elements(self): return list(self.v)
    def _new(self, elements): return Vec(elements)
    def __len__(self): return len(self.v)
    def __iter__(self): return iter(self.v)
    def __getitem__(self, k): return self.v[k]
    def __repr__(self): return f"Vec({self.v!r})"

    def dot(self, other: "Vec"):
        if len(other) != len(self):
            raise TypeError(f"dot of vectors of lengths {len(self)} and {len(other)}")
        return _sum(_mul(a, b) for a, b in zip(self.v, other))

    def norm2(self):
        return self.dot(self)

    def norm(self):
        return sc.sqrt(self.norm2())


class Mat(Elementwise):
    """An r x c matrix of scalars.  As an annotation, ``pg.Mat[r, c]`` is an (N, r, c) input."""

    def __class_getitem__(cls, item):
        return ArgType("mat", _dims(item, 2, "Mat[r, c]"))

    def __init__(self, rows):
        self.rows = [list(r) for r in rows]
        if len({len(r) for r in self.rows}) > 1:
            raise TypeError("Mat rows must have equal lengths")

    @classmethod
    def identity(cls, n: int) -> "Mat":
        return cls([[1 if i == j else 0 for j in range(n)] for i in range(n)])

    @property
    def shape(self):
        return (len(self.rows), len(self.rows[0]) if self.rows else 0)

    def elements(self): return [x for r in self.rows for x in r]

    def _new(self, elements):
        r, c = self.shape
        return Mat([elements[i * c:(i + 1) * c] for i in range(r)])

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.rows[key[0]][key[1]]
        return Vec(self.rows[key])

    def __repr__(self): return f"Mat({self.rows!r})"

    @property
    def T(self) -> "Mat":
        r, c = self.shape
        return Mat([[self.rows[i][j] for i in range(r)] for j in range(c)])

    def __matmul__(self, other):
        r, c = self.shape
        if isinstance(other, Vec):
            if len(other) != c:
                raise TypeError(f"{r}x{c} matrix @ vector of length {len(other)}")
            return Vec([_sum(_mul(self.rows[i][k], other[k]) for k in range(c)) for i in range(r)])
        if isinstance(other, Mat):
            r2, c2 = other.shape
            if r2 != c:
                raise TypeError(f"{r}x{c} matrix @ {r2}x{c2} matrix")
            return Mat([[_sum(_mul(self.rows[i][k], other.rows[k][j]) for k in range(c))
                         for j in range(c2)] for i in range(r)])
        return NotImplemented

    def det(self):
        n, c = self.shape
        if n != c or n > 3:
            raise TypeError("det() is closed-form for square matrices up to 3x3")
        a = self.rows
        if n == 1:
            return a[0][0]
        if n == 2:
            return a[0][0] * a[1][1] - a[0][1] * a[1][0]
        return _sum(_mul(a[0][j], self._cofactor(0, j)) for j in range(3))

    def _cofactor(self, i: int, j: int):
        n = self.shape[0]
        if n == 1:
            return 1
        rest = [[self.rows[r][c] for c in range(n) if c != j] for r in range(n) if r != i]
        minor = Mat(rest).det()
        return minor if (i + j) % 2 == 0 else -minor

    def inv(self) -> "Mat":
        """Inverse by cofactors (closed form, up to 3x3)."""
        n = self.shape[0]
        inv_det = 1 / self.det()
        return Mat([[_mul(self._cofactor(j, i), inv_det) for j in range(n)] for i in range(n)])

