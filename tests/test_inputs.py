"""Kernel input validation: each bad input raises the right pg error naming the argument;
accepted inputs (ints, strided views, read-only arrays, scalars) give correct numbers."""
from __future__ import annotations

import numpy as np
import pytest

import physgraph as pg

from helpers import assert_close

BACKENDS = ["numpy", "numba", "llvm"]


@pg.compile(backend="numpy")
def f(weight, pvec: pg.Vec4, scale: pg.Param, shift: pg.Param = 1.0):
    return weight * pvec.m2 * scale + shift


def expected_f(x, p, scale, shift=1.0):
    return x * (p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(axis=1)) * scale + shift


X = np.array([1.0, 2.0, 3.0])
P = np.array([[5.0, 1.0, 2.0, 3.0], [4.0, 0.0, 1.0, 0.5], [3.0, 1.0, 1.0, 1.0]])


def test_good_call_for_reference():
    assert_close(f(X, P, scale=2.0), expected_f(X, P, 2.0))


@pytest.mark.parametrize("call, error, names", [
    (lambda: f(X, P, 2.0, 1.0, 7.0), pg.ShapeError, ["weight", "pvec", "scale", "shift"]),
    (lambda: f(X), pg.ShapeError, ["pvec"]),
    (lambda: f(X, P), pg.ShapeError, ["scale"]),                         # missing param
    (lambda: f(X, P, scale=1.0, sclae=2.0), pg.ShapeError, ["sclae"]),   # unknown keyword
    (lambda: f(X, P, 2.0, scale=1.0), pg.ShapeError, ["scale"]),         # given twice
    (lambda: f(X[:2], P, scale=1.0), pg.ShapeError, ["weight", "pvec"]),      # lengths differ
    (lambda: f(X[:, None] * np.ones(2), P, scale=1.0), pg.ShapeError, ["weight"]),  # 2-D for 1-D
    (lambda: f(X, P[:, :3], scale=1.0), pg.ShapeError, ["pvec"]),        # (N, 3) for Vec4
    (lambda: f(X, P[:, :, None], scale=1.0), pg.ShapeError, ["pvec"]),   # (N, 4, 1)
    (lambda: f(X, P[0], scale=1.0), pg.ShapeError, ["pvec"]),            # one event, no N
    (lambda: f(X, P, scale=np.ones(3)), pg.ShapeError, ["scale"]),       # per-event param
    (lambda: f("1.0", P, scale=1.0), pg.DTypeError, ["weight"]),              # a string
    (lambda: f(X, P, scale="2"), pg.DTypeError, ["scale"]),
    (lambda: f(["1", "2", "3"], P, scale=1.0), pg.DTypeError, ["weight"]),    # strings in a list
    (lambda: f(X.astype(str), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(X + 0j, P, scale=1.0), pg.DTypeError, ["weight"]),             # complex
    (lambda: f(X, P, scale=1j), pg.DTypeError, ["scale"]),
    (lambda: f(np.array(["1", 2.0, 3.0], dtype=object), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(np.array([b"1", 2.0, 3.0], dtype=object), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(np.array([None, 2.0, 3.0], dtype=object), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(np.array([1j, 2.0, 3.0], dtype=object), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(np.array(["a", "b", "c"], dtype=object), P, scale=1.0), pg.DTypeError, ["weight"]),
    (lambda: f(X, np.datetime64("2026-01-01"), scale=1.0), pg.DTypeError, ["pvec"]),
    (lambda: f(X, [[1, 2, 3, 4], [1, 2]], scale=1.0), pg.ShapeError, ["pvec"]),  # ragged
])
def test_bad_inputs_raise_naming_the_argument(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, pg.PhysgraphError)
    for name in names:
        assert name in str(info.value), (name, str(info.value))


def test_dtype_errors_are_shape_errors_and_physgraph_errors():
    assert issubclass(pg.DTypeError, pg.ShapeError)
    for cls in (pg.ShapeError, pg.UnsupportedError, pg.TraceError):
        assert issubclass(cls, pg.PhysgraphError)


def test_int_bool_lists_and_object_arrays_of_numbers_are_converted():
    xi = np.array([1, 2, 3])
    pi = P.astype(np.int32)
    assert_close(f(xi, pi, scale=2), expected_f(X, pi.astype(float), 2.0))
    assert_close(f([1, 2, 3], P.tolist(), scale=np.float32(2)), expected_f(X, P, 2.0))
    assert_close(f(np.array([1.0, 2, 3], dtype=object), P, scale=True), expected_f(X, P, 1.0))
    assert_close(f(np.array([True, False, True]), P, scale=1.0),
                 expected_f(np.array([1.0, 0.0, 1.0]), P, 1.0))


def test_zero_dimensional_input_broadcasts_over_events():
    assert_close(f(2.0, P, scale=1.0), expected_f(np.full(3, 2.0), P, 1.0))


@pg.compile
def strided_kernel(x, p: pg.Vec4, m: pg.Mat[2, 2]):
    return x * p.E + p.pz * m[0, 1] - m[1, 0], m


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_inputs_are_read_in_place(backend, rng, monkeypatch):
    k = strided_kernel.with_backend(backend)
    base = rng.normal(size=(20, 9))
    x = base[::2, 3]                                  # stride 2 rows of 9
    p = base[::2, 8:3:-1][:, :4]                      # negative column stride
    m = np.asfortranarray(rng.normal(size=(10, 2, 2)))[:, ::-1, :]
    for a in (x, p, m):
        assert not a.flags.c_contiguous
    k.compile()                                       # the warm-up call is not under test
    handed = []
    run = k._printer.run
    monkeypatch.setattr(k._printer, "run",
                        lambda fn, n, arrays, outs: (handed.extend(arrays), run(fn, n, arrays, outs)))
    val, m_out = k(x, p, m)
    assert_close(val, x * p[:, 0] + p[:, 3] * m[:, 0, 1] - m[:, 1, 0], rtol=1e-14, atol=1e-14)
    assert_close(m_out, m, rtol=0, atol=0)
    # the compiled kernel received the caller's memory, not a contiguous copy
    for given, original in zip(handed, (x, p, m)):
        assert np.shares_memory(given, original)
        assert given.strides == original.strides


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_inputs(backend, rng):
    k = strided_kernel.with_backend(backend)
    x, p, m = rng.normal(size=6), rng.normal(size=(6, 4)), rng.normal(size=(6, 2, 2))
    for a in (x, p, m):
        a.flags.writeable = False
    val, _ = k(x, p, m)
    assert_close(val, x * p[:, 0] + p[:, 3] * m[:, 0, 1] - m[:, 1, 0], rtol=1e-14, atol=1e-14)


def test_read_only_param_array():
    @pg.compile(backend="numba")
    def g(x, w: pg.Param[2]):
        return x * w[0] + w[1]

    w = np.array([2.0, -1.0])
    w.flags.writeable = False
    assert_close(g(np.arange(4.0), w), np.arange(4.0) * 2 - 1)


def test_float32_kernel_converts_float64_inputs():
    k = f.with_backend("numpy", dtype="float32")
    out = k(X, P, scale=2.0)
    assert out.dtype == np.float32
    assert_close(out, expected_f(X, P, 2.0), rtol=1e-6, atol=1e-6)


def test_compile_time_errors_name_the_problem():
    with pytest.raises(pg.UnsupportedError, match="'y'"):
        pg.compile(_bad_annotation)
    with pytest.raises(pg.UnsupportedError, match="backend"):
        pg.compile(lambda x: x, backend="fortran")
    with pytest.raises(ValueError, match="dtype"):
        pg.compile(lambda x: x, dtype="float16")


def _bad_annotation(x, y: int):
    return x * y


@pg.compile
def ieee(x, y):
    return pg.sqrt(x) * y + 1.0 / x, pg.log(x) - y, pg.where(x > y, x, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_propagate_as_ieee_says(backend):
    k = ieee.with_backend(backend)
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 2.0, 1e-320])
    y = np.array([1.0, np.nan, 2.0, np.inf, 1.0, 3.0, -np.inf, 1.0])
    with np.errstate(all="ignore"):
        expected = (np.sqrt(x) * y + 1.0 / x, np.log(x) - y, np.where(x > y, x, y))
    for got, want in zip(k(x, y), expected, strict=True):
        np.testing.assert_array_equal(got, want)       # NaN == NaN here, signs of inf too


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single_event_batches(backend, n):
    outs = ieee.with_backend(backend)(np.ones(n), np.ones(n))
    assert all(o.shape == (n,) for o in outs)
    if n:
        assert [float(o[0]) for o in outs] == [2.0, -1.0, 1.0]


def test_outputs_are_allocated_once_and_out_is_used_as_given(rng):
    """A big batch costs one allocation per output and no copies of the inputs; with out=
    the caller's arrays are written and returned."""
    k = strided_kernel.with_backend("numba")
    x, p, m = rng.normal(size=1000), rng.normal(size=(1000, 4)), rng.normal(size=(1000, 2, 2))
    out = (np.empty(1000), np.empty((1000, 2, 2)))
    val, m_out = k(x, p, m, out=out)
    assert val is out[0] and m_out is out[1]
    assert_close(val, x * p[:, 0] + p[:, 3] * m[:, 0, 1] - m[:, 1, 0], rtol=1e-14, atol=1e-14)
