"""Small vectors and matrices of traced scalars, with their structure kept in the type.

Elements are traced scalars or plain Python numbers; a number is a *known* value, so a
product never builds a node for a known zero and never multiplies by a known one (what
mkFit's generated matrix multiplies do by hand, here a property of every product).  A
``Sym`` stores its upper triangle only (n(n+1)/2 elements) and keeps symmetric results
symmetric (``sandwich``, ``Sym + Sym``, ``inv``), so each element is computed once; ``.T`` is
a view that swaps indices, not a copy.  Symmetric positive-definite systems are solved in
closed form up to 3x3 and by Cholesky above, and ``joseph`` is the Joseph-form covariance
update that keeps a float32 Kalman filter's covariance positive definite.
"""
from __future__ import annotations

from numbers import Number

import numpy as np

from ..frontend import scalar as sc
from ..frontend.argtype import ArgType, _dims

CLOSED_FORM_MAX = 3          # inv/solve by cofactors up to this size, Cholesky above


def _is_scalar(x) -> bool:
    return isinstance(x, (sc.Scalar, Number, np.number))


def _known(x, value) -> bool:
    return isinstance(x, Number) and x == value


def _sum(terms):
    """Sum of terms, skipping exact zeros so known-zero elements build no nodes."""
    total = 0
    for t in terms:
        if _known(t, 0):
            continue
        total = t if _known(total, 0) else total + t
    return total


def _mul(a, b):
    """a * b without a node for a known zero, one or minus one."""
    if _known(a, 0) or _known(b, 0):
        return 0
    for x, y in ((a, b), (b, a)):
        if _known(x, 1):
            return y
        if _known(x, -1):
            return -y
    return a * b


def _sub(a, b):
    """a - b without a node when either is a known zero."""
    if _known(b, 0):
        return a
    return _mul(-1, b) if _known(a, 0) else a - b


def _dot(a, b):
    return _sum(_mul(x, y) for x, y in zip(a, b))


class Elementwise:
    """Shared arithmetic of fixed-size containers: +, -, scalar *, scalar /."""
    __array_priority__ = 1000

    def elements(self) -> list:
        raise NotImplementedError

    def _new(self, elements: list):
        raise NotImplementedError

    def _map(self, fn):
        return self._new([fn(a) for a in self.elements()])

    def _zip(self, other, fn):
        if type(other) is not type(self) or other.shape != self.shape:
            raise TypeError(f"cannot combine {self!r} with {other!r}")
        return self._new([fn(a, b) for a, b in zip(self.elements(), other.elements())])

    def __add__(self, o): return self._zip(o, lambda a, b: _sum([a, b]))
    def __sub__(self, o): return self._zip(o, _sub)
    def __neg__(self): return self._map(lambda a: _mul(-1, a))
    def __pos__(self): return self

    def __mul__(self, s):
        if not _is_scalar(s):
            return NotImplemented
        return self._map(lambda a: _mul(a, s))

    __rmul__ = __mul__

    def __truediv__(self, s):
        if not _is_scalar(s):
            return NotImplemented
        inv = 1 / s
        return self._map(lambda a: _mul(a, inv))


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
        return _dot(self.v, other)

    def norm2(self):
        return self.dot(self)

    def norm(self):
        return sc.sqrt(self.norm2())

    def outer(self, other: "Vec") -> "Mat":
        """self other^T; ``v.outer(v)`` is a ``Sym``."""
        if other is self:
            return Sym.build(len(self), lambda i, j: _mul(self.v[i], self.v[j]))
        return Mat([[_mul(a, b) for b in other] for a in self.v])


class Mat(Elementwise):
    """An r x c matrix of scalars.  As an annotation, ``pg.Mat[r, c]`` is an (N, r, c) input.

    ``m.T`` is a view of the same elements with the indices swapped.
    """

    def __class_getitem__(cls, item):
        return ArgType("mat", _dims(item, 2, "Mat[r, c]"))

    def __init__(self, rows):
        self._data = [list(r) for r in rows]
        self._transposed = False
        if len({len(r) for r in self._data}) > 1:
            raise TypeError("Mat rows must have equal lengths")

    @classmethod
    def identity(cls, n: int) -> "Mat":
        return cls([[1 if i == j else 0 for j in range(n)] for i in range(n)])

    @property
    def shape(self) -> tuple[int, int]:
        r, c = len(self._data), len(self._data[0]) if self._data else 0
        return (c, r) if self._transposed else (r, c)

    def get(self, i: int, j: int):
        return self._data[j][i] if self._transposed else self._data[i][j]

    @property
    def rows(self) -> list[list]:
        r, c = self.shape
        return [[self.get(i, j) for j in range(c)] for i in range(r)]

    def elements(self): return [x for r in self.rows for x in r]

    def _new(self, elements):
        r, c = self.shape
        return Mat([elements[i * c:(i + 1) * c] for i in range(r)])

    def _zip(self, other, fn):
        if not isinstance(other, Mat) or other.shape != self.shape:
            raise TypeError(f"cannot combine {self!r} with {other!r}")
        return Mat._new(self, [fn(a, b) for a, b in zip(self.elements(), other.elements())])

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.get(*key)
        return Vec(self.rows[key])

    def __repr__(self): return f"{type(self).__name__}({self.rows!r})"

    @property
    def T(self) -> "Mat":
        view = Mat.__new__(Mat)
        view._data, view._transposed = self._data, not self._transposed
        return view

    def col(self, j: int) -> list:
        return [self.get(i, j) for i in range(self.shape[0])]

    def __matmul__(self, other):
        r, c = self.shape
        if isinstance(other, Vec):
            if len(other) != c:
                raise TypeError(f"{r}x{c} matrix @ vector of length {len(other)}")
            return Vec([_dot(self.rows[i], other) for i in range(r)])
        if isinstance(other, Mat):
            r2, c2 = other.shape
            if r2 != c:
                raise TypeError(f"{r}x{c} matrix @ {r2}x{c2} matrix")
            rows, cols = self.rows, [other.col(j) for j in range(c2)]
            return Mat([[_dot(rows[i], cols[j]) for j in range(c2)] for i in range(r)])
        return NotImplemented

    def det(self):
        n, c = self.shape
        if n != c or n > 3:
            raise TypeError("det() is closed-form for square matrices up to 3x3")
        a = self.rows
        if n == 1:
            return a[0][0]
        if n == 2:
            return _sub(_mul(a[0][0], a[1][1]), _mul(a[0][1], a[1][0]))
        return _sum(_mul(a[0][j], self._cofactor(0, j)) for j in range(3))

    def _cofactor(self, i: int, j: int):
        n = self.shape[0]
        if n == 1:
            return 1
        rest = [[self.get(r, c) for c in range(n) if c != j] for r in range(n) if r != i]
        minor = Mat(rest).det()
        return minor if (i + j) % 2 == 0 else _mul(-1, minor)

    def inv(self) -> "Mat":
        """Inverse by cofactors (closed form, up to 3x3)."""
        n = self.shape[0]
        inv_det = 1 / self.det()
        return Mat([[_mul(self._cofactor(j, i), inv_det) for j in range(n)] for i in range(n)])


class Sym(Mat):
    """A symmetric n x n matrix stored as its upper triangle (n(n+1)/2 elements).

    As an annotation, ``pg.Sym[n]`` is an (N, n, n) input of which only i <= j is read.
    ``Sym(rows)`` reads the upper triangle of full rows; ``Sym.build(n, f)`` calls f(i, j)
    for i <= j only.
    """

    def __class_getitem__(cls, n):
        (n,) = _dims(n, 1, "Sym[n]")
        return ArgType("mat", (n, n), symmetric=True)

    def __init__(self, rows):
        rows = [list(r) for r in rows]
        n = len(rows)
        if any(len(r) != n for r in rows):
            raise TypeError("Sym needs square rows")
        self._init_packed(n, [rows[i][j] for i in range(n) for j in range(i, n)])

    def _init_packed(self, n: int, packed: list) -> None:
        self.n, self.packed = n, packed
        self._transposed = False

    @classmethod
    def build(cls, n: int, f) -> "Sym":
        s = cls.__new__(cls)
        s._init_packed(n, [f(i, j) for i in range(n) for j in range(i, n)])
        return s

    @classmethod
    def identity(cls, n: int) -> "Sym":
        return cls.build(n, lambda i, j: 1 if i == j else 0)

    @classmethod
    def diag(cls, values) -> "Sym":
        values = list(values)
        return cls.build(len(values), lambda i, j: values[i] if i == j else 0)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n)

    def _index(self, i: int, j: int) -> int:
        if i > j:
            i, j = j, i
        return i * self.n - i * (i - 1) // 2 + (j - i)

    def get(self, i: int, j: int):
        return self.packed[self._index(i, j)]

    @property
    def T(self) -> "Sym":
        return self

    def _packed_new(self, packed: list) -> "Sym":
        s = Sym.__new__(Sym)
        s._init_packed(self.n, packed)
        return s

    def _map(self, fn):
        return self._packed_new([fn(a) for a in self.packed])

    def _zip(self, other, fn):
        if isinstance(other, Sym) and other.n == self.n:
            return self._packed_new([fn(a, b) for a, b in zip(self.packed, other.packed)])
        return super()._zip(other, fn)

    def inv(self) -> "Sym":
        """Inverse of a symmetric positive-definite matrix: cofactors up to 3x3 (each
        element once), Cholesky above.  Also correct for any invertible symmetric matrix
        up to 3x3."""
        if self.n <= CLOSED_FORM_MAX:
            inv_det = 1 / self.det()
            return Sym.build(self.n, lambda i, j: _mul(self._cofactor(j, i), inv_det))
        linv = _lower_inverse(cholesky(self))
        # S^-1 = L^-T L^-1; (L^-1)[k][i] is zero for k < i
        return Sym.build(self.n, lambda i, j: _sum(_mul(linv[k][i], linv[k][j])
                                                   for k in range(max(i, j), self.n)))


def cholesky(s: Sym) -> Mat:
    """The lower-triangular L with L L^T = s (s positive definite); known zeros above the
    diagonal, one square root and one division per row."""
    n = s.n
    L = [[0] * n for _ in range(n)]
    for j in range(n):
        d = sc.sqrt(_sub(s.get(j, j), _dot(L[j][:j], L[j][:j])))
        L[j][j], inv_d = d, 1 / d
        for i in range(j + 1, n):
            L[i][j] = _mul(_sub(s.get(i, j), _dot(L[i][:j], L[j][:j])), inv_d)
    return Mat(L)


def _lower_inverse(L: Mat) -> list[list]:
    """Rows of L^-1 for lower-triangular L (forward substitution on the identity)."""
    n = L.shape[0]
    inv = [[0] * n for _ in range(n)]
    for i in range(n):
        r = 1 / L.get(i, i)
        inv[i][i] = r
        for j in range(i):
            inv[i][j] = _mul(-r, _sum(_mul(L.get(i, k), inv[k][j]) for k in range(j, i)))
    return inv


def solve(s: Sym, b):
    """s^-1 b for symmetric positive-definite ``s`` and a Vec or Mat ``b``: closed form up to
    3x3, forward and back substitution with the Cholesky factor above."""
    if not isinstance(s, Sym):
        raise TypeError("solve() takes a Sym (symmetric positive-definite) matrix")
    if s.n <= CLOSED_FORM_MAX:
        return s.inv() @ b
    L = cholesky(s)
    if isinstance(b, Vec):
        return Vec(_substitute(L, list(b)))
    cols = [_substitute(L, b.col(j)) for j in range(b.shape[1])]
    return Mat([[cols[j][i] for j in range(len(cols))] for i in range(s.n)])


def _substitute(L: Mat, b: list) -> list:
    """x with L L^T x = b."""
    n = len(b)
    inv_diag = [1 / L.get(i, i) for i in range(n)]
    y = [0] * n
    for i in range(n):
        y[i] = _mul(_sub(b[i], _dot(L.rows[i][:i], y[:i])), inv_diag[i])
    x = [0] * n
    for i in reversed(range(n)):
        x[i] = _mul(_sub(y[i], _dot([L.get(k, i) for k in range(i + 1, n)], x[i + 1:])),
                    inv_diag[i])
    return x


def sandwich(a: Mat, s: Sym) -> Sym:
    """a s a^T, symmetric by construction: each element computed once (i <= j)."""
    if not isinstance(s, Sym):
        raise TypeError("sandwich(a, s) takes a Sym s")
    t = a @ s
    r = a.shape[0]
    rows_t, rows_a = t.rows, a.rows
    return Sym.build(r, lambda i, j: _dot(rows_t[i], rows_a[j]))


def joseph(P: Sym, K: Mat, H: Mat, R: Sym) -> Sym:
    """The Joseph-form covariance after a Kalman update, (I - K H) P (I - K H)^T + K R K^T:
    symmetric and positive semi-definite whatever the rounding, unlike (I - K H) P."""
    n = P.n
    A = Mat.identity(n) - K @ H
    return sandwich(A, P) + sandwich(K, R)
