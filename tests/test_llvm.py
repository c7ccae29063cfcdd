"""The LLVM backend: vectors of W events, the tail, threads, complex and bool outputs,
float32, params, out=, and every vector math function against numpy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import physgraph as pg
from physgraph.backends import llvm_run, vecmath
from physgraph.backends.llvm import LlvmPrinter

from helpers import assert_close
from test_split import chain, shaped


@pg.compile(backend="llvm")
def mixed(x, p: pg.Vec4, m: pg.Param[2, 2], a: pg.Param):
    z = pg.exp(x * pg.I) * a                    # complex, lowered to its two parts
    return z, x < p.E, m[1, 0] * p.m2 + m[0, 1] * a, pg.exp(pg.I * a)


def expected_mixed(x, p, m, a):
    m2 = p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(axis=1)
    return (np.exp(1j * x) * a, x < p[:, 0], m[1, 0] * m2 + m[0, 1] * a,
            np.full(len(x), np.exp(1j * a)))


# around the vector width (the last vector overlaps) and the threads' split
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 7, 8, 9, 31, 8191, 8192, 8193, 20_011])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_event_right_at_any_count(n, dtype, rng):
    k = mixed.with_backend("llvm", dtype=dtype)
    x, p = rng.normal(size=n), rng.normal(size=(n, 4))
    m = rng.normal(size=(2, 2))
    got = k(x, p, m, a=0.3)
    tol = 1e-14 if dtype == "float64" else 2e-6
    assert [o.dtype.kind for o in got] == ["c", "b", "f", "c"]
    for g, want in zip(got, expected_mixed(x, p, m, 0.3)):
        assert g.shape == (n,)
        assert_close(g, want, rtol=tol, atol=tol)


@pg.compile(backend="numpy")
def _long(x, y, a: pg.Param):
    big = x > y                                  # a bool crossing the stages
    u = pg.where(big, x, y) * a
    for k in range(6):
        u = pg.sin(u) * x + pg.cos(y * u) - k
    return pg.where(big, u, -u), u * y


@pytest.mark.parametrize("n", [1, 5, 1024, 1027, 1029, 5000])
def test_a_long_body_runs_as_stages(n, monkeypatch, rng):
    """Stages of 5 nodes hand values on through the scratch block, block after block; the
    last block takes up to W - 1 more events."""
    monkeypatch.setattr(LlvmPrinter, "part_size", 5)
    monkeypatch.setattr(LlvmPrinter, "one_function_max", 0)
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")      # stages compiled as 3 modules, in parallel
    k = _long.with_backend("llvm")
    assert "@pg.stage5" in k.source and "; scratch:" in k.source
    assert len(llvm_run.parts(k.source, 3)) == 4         # and the driver's
    x, y = rng.normal(size=n), rng.normal(size=n)
    for got, want in zip(k(x, y, a=0.7), _long(x, y, a=0.7), strict=True):
        assert_close(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("staged", [False, True])
def test_a_long_body_keeps_its_printed_instruction_order(staged, monkeypatch, rng):
    """Past ``source_order_min`` nodes the source asks for no machine scheduler, which the
    loader turns off for that compile only; short bodies are scheduled as before."""
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    if staged:
        monkeypatch.setattr(LlvmPrinter, "part_size", 5)
        monkeypatch.setattr(LlvmPrinter, "one_function_max", 0)
    llvm = llvm_run._llvm()
    options = []

    def set_option(name, value):
        options.append(value)
        real(name, value)
    real = llvm.set_option
    monkeypatch.setattr(llvm, "set_option", set_option)
    short = _long.with_backend("llvm")
    assert llvm_run.SOURCE_ORDER not in short.source
    short._function()
    assert options == []
    monkeypatch.setattr(LlvmPrinter, "source_order_min", 3)
    k = _long.with_backend("llvm")
    assert llvm_run.SOURCE_ORDER in k.source and ("@pg.stage1" in k.source) is staged
    k._function()
    assert options == ["--enable-misched=false", "--enable-misched=true"]   # this compile only
    x, y = rng.normal(size=1001), rng.normal(size=1001)
    for got, want in zip(k(x, y, a=0.7), _long(x, y, a=0.7), strict=True):
        assert_close(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("function", [chain, shaped])
def test_staged_complex_bool_and_shaped_values(function, monkeypatch, rng):
    """Complex values (as their parts), bools, vectors and a symmetric matrix cross stages
    of 7 nodes."""
    monkeypatch.setattr(LlvmPrinter, "part_size", 7)
    monkeypatch.setattr(LlvmPrinter, "one_function_max", 0)
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    k = pg.compile(backend="llvm")(function)
    assert "@pg.stage2" in k.source
    if function is chain:
        args = [rng.uniform(0.5, 2.0, 2500) for _ in range(3)]
    else:
        args = [rng.uniform(0.5, 2.0, (2500, 3)), rng.uniform(0.5, 2.0, (2500, 2, 2)),
                rng.uniform(0.5, 2.0, 2500)]
    ref = k.with_backend("numpy")(*args, g=0.7)
    for r, x in zip(ref, k(*args, g=0.7), strict=True):
        assert_close(x, r, rtol=1e-12, atol=1e-12)


def test_threads_split_events(monkeypatch, rng):
    """Four threads on a count that does not divide: every event once, none skipped."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", "4")
    x, p = rng.normal(size=50_001), rng.normal(size=(50_001, 4))
    got = mixed(x, p, np.eye(2), a=2.0)
    for g, want in zip(got, expected_mixed(x, p, np.eye(2), 2.0)):
        assert_close(g, want, rtol=1e-14, atol=1e-14)


def test_a_heavy_body_splits_few_events_across_threads(monkeypatch, rng):
    """Each thread gets at least MIN_FLOPS_PER_THREAD of work by the header's flop count:
    a short body needs thousands of events per thread, a long one a few."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", "4")

    @pg.compile(backend="llvm")
    def heavy(x):
        u = x
        for k in range(3000):
            u = u * 0.999 + pg.sin(x) * 1e-3
        return u
    assert mixed._function().min_events > 1000
    assert heavy._function().min_events * 4 <= 1001
    x = rng.normal(size=1001)
    assert_close(heavy(x), heavy.with_backend("numpy")(x), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("n", [4, 5, 9, 17, 43, 50, 130])
def test_a_thread_for_every_vector_still_gets_whole_vectors(n, monkeypatch, rng):
    """With a thread worth it for a single vector of events, a few events are cut into
    pieces of at least a vector each, none empty."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", "4")
    monkeypatch.setattr(llvm_run, "MIN_FLOPS_PER_THREAD", 1)
    k = pg.compile(lambda x: pg.sin(x) * x + 0.25, backend="llvm", name="every_vector")
    assert k._function().min_events == llvm_run.vector_bits() // 64
    x = rng.normal(size=n)
    assert_close(k(x), np.sin(x) * x + 0.25, rtol=1e-15, atol=1e-15)
    room = np.full(n + 64, 7.0)             # nothing is written outside the output
    k(x, out=room[32:32 + n])
    assert_close(room[32:32 + n], np.sin(x) * x + 0.25, rtol=1e-15, atol=1e-15)
    assert (room[:32] == 7.0).all() and (room[32 + n:] == 7.0).all()


def test_out_is_written_in_place(rng):
    x, p = rng.normal(size=1001), rng.normal(size=(1001, 4))
    out = (np.empty(1001, complex), np.empty(1001, bool), np.empty(1001), np.empty(1001, complex))
    got = mixed(x, p, np.eye(2), a=1.5, out=out)
    assert all(g is o for g, o in zip(got, out))
    assert_close(out[2], expected_mixed(x, p, np.eye(2), 1.5)[2], rtol=1e-14, atol=1e-14)


def test_strided_outputs_are_written_through_their_strides(rng):
    x, p = rng.normal(size=40), rng.normal(size=(40, 4))
    outs = [np.zeros((40, 3), t)[:, 1] for t in (complex, bool, float, complex)]
    mixed(x, p, np.eye(2), a=0.5, out=outs)
    for g, want in zip(outs, expected_mixed(x, p, np.eye(2), 0.5)):
        assert_close(g, want, rtol=1e-14, atol=1e-14)


def test_source_is_vector_ir_with_per_call_values_before_the_loop():
    k = _per_call
    width = llvm_run.vector_bits() // 64
    entry, loop = k.source.split("\nloop:\n")[:2]
    loop = loop.split("\n}\n")[0]          # the first function's loop
    assert f"<{width} x double>" in loop
    assert "@pg.tanh" in entry.split("entry:")[1] and "@pg.tanh" not in loop


@pg.compile(backend="llvm")
def _per_call(x, a: pg.Param):
    return x * pg.tanh(a)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_outputs_the_caller_keeps_are_streamed_in_rows_and_equal_lane_stores(
        dtype, rng, monkeypatch):
    """Outputs larger than STREAM_MIN_BYTES, returned or out= arrays, take the rows loop (vector loads of whole
    input rows, non-temporal stores of whole output rows) where inputs and outputs are
    contiguous and the outputs aligned at the range's start, the lanes loop elsewhere; every
    layout gives numpy's values, including the events after the last whole vector."""
    monkeypatch.setattr(llvm_run, "STREAM_MIN_BYTES", 0)
    k = pg.compile(_rows_and_scalars, backend="llvm", dtype=dtype)
    assert "!nontemporal" in k.source
    ref = pg.compile(_rows_and_scalars, backend="numpy", dtype=dtype)
    for n in (1, 5, 4099, 20003):
        x, y = rng.normal(size=(n, 3)).astype(dtype), rng.normal(size=(n, 2)).astype(dtype)
        want = ref(x, y)
        layouts = {"fresh": [np.empty((n, 3), dtype), np.empty(n, dtype)],
                   "offset": [np.empty(n * 3 + 1, dtype)[1:].reshape(n, 3), np.empty(n, dtype)],
                   "strided": [np.empty((n, 6), dtype)[:, ::2], np.empty(2 * n, dtype)[::2]],
                   "kept": [np.asarray(o) for o in k(x, y)]}
        strided_x = np.empty((n, 6), dtype)[:, ::2]
        strided_x[...] = x
        for name, outs in layouts.items():
            for inputs in ((x, y), (strided_x, y)):
                for o in outs:
                    o[...] = np.nan
                k(*inputs, out=outs)
                for got, w in zip(outs, want):
                    np.testing.assert_array_equal(got, w, err_msg=f"{name} outputs, n={n}")
        for inputs in ((x, y), (strided_x, y)):          # fresh outputs, kept as well
            for got, w in zip(k(*inputs), want):
                np.testing.assert_array_equal(got, w, err_msg=f"returned outputs, n={n}")


def test_a_body_of_many_per_call_values_computes_on_two_registers_per_vector():
    """A layer's weights (more per-call values than ``wide_min``) make the kernel compute on
    vectors of twice the register width; a vector math function then runs on each half,
    so it calls nothing this CPU lacks."""
    weights = np.random.default_rng(0).normal(size=(20, 20))

    def layer(x: pg.Vec[20], w: pg.Param[20, 20] = weights):
        return [pg.tanh(sum(w[i, j] * x[j] for j in range(20))) + pg.exp(x[i] * 0.1)
                for i in range(20)]
    k = pg.compile(layer, backend="llvm")
    width = 2 * llvm_run.vector_bits() // 64
    assert f"; vector: {width} x double" in k.source
    x = np.random.default_rng(1).normal(size=(1003, 20))
    got = np.stack([np.asarray(o) for o in k(x)], axis=1)
    assert_close(got, np.tanh(x @ weights.T) + np.exp(x * 0.1), rtol=1e-13, atol=1e-14)


def _rows_and_scalars(x: pg.Vec[3], y: pg.Vec[2]):
    return x * y[0] - x * 1.5, x[0] * y[1]


FUNCTIONS = {   # name -> (numpy reference, domain sampled)
    "exp": (np.exp, (-700, 700)), "log": (np.log, (1e-300, 1e300)),
    "sin": (np.sin, (-1e4, 1e4)), "cos": (np.cos, (-1e4, 1e4)), "tan": (np.tan, (-10, 10)),
    "asin": (np.arcsin, (-1, 1)), "acos": (np.arccos, (-1, 1)), "atan": (np.arctan, (-1e5, 1e5)),
    "sinh": (np.sinh, (-700, 700)), "cosh": (np.cosh, (-700, 700)),
    "tanh": (np.tanh, (-20, 20)), "asinh": (np.arcsinh, (-1e5, 1e5)),
    "acosh": (np.arccosh, (1, 1e5)), "atanh": (np.arctanh, (-1, 1)),
    "log1p": (np.log1p, (-0.999, 1e5)), "expm1": (np.expm1, (-50, 700)),
    "sqrt": (np.sqrt, (0, 1e300)), "rsqrt": (lambda x: 1 / np.sqrt(x), (1e-300, 1e300)),
    "abs": (np.abs, (-1e3, 1e3)),
}


@pytest.mark.parametrize("per_lane", [False, True])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vector_math_agrees_with_numpy(name, per_lane, monkeypatch, rng):
    """libmvec's functions (and, with ``per_lane``, libm's, as where libmvec is missing)."""
    if per_lane:
        monkeypatch.setattr(vecmath, "libmvec_name", lambda name, vec: None)
    reference, (lo, hi) = FUNCTIONS[name]
    x = rng.uniform(lo, hi, 4001)
    k = pg.compile(lambda x: getattr(pg, name)(x), backend="llvm", name=f"{name}{per_lane}")
    assert ("_ZGV" in k.source) is (not per_lane and name not in ("sqrt", "rsqrt", "abs"))
    with np.errstate(all="ignore"):
        assert_close(k(x), reference(x), rtol=4e-15, atol=0)


@pytest.mark.parametrize("name, reference", [("atan2", np.arctan2), ("pow", np.power),
                                             ("hypot", np.hypot)])
def test_two_argument_functions_agree_with_numpy(name, reference, rng):
    x, y = rng.uniform(0.01, 20, 2001), rng.uniform(-20, 20, 2001)
    k = pg.compile(lambda x, y: x ** y if name == "pow" else getattr(pg, name)(x, y),
                   backend="llvm", name=name)
    assert_close(k(x, y), reference(x, y), rtol=4e-15, atol=0)


def test_fastmath_compiles_with_fast_flags(rng):
    k = pg.compile(lambda x, y: x * y + x / y, backend="llvm", fastmath=True)
    assert " fast " in k.source
    x, y = rng.uniform(1, 2, 100), rng.uniform(1, 2, 100)
    assert_close(k(x, y), x * y + x / y, rtol=1e-14, atol=0)


def test_machine_code_is_cached_beside_the_source(tmp_path, monkeypatch, rng):
    """A warm start loads the object file; bytes that do not match their hash, or code
    compiled for another key (CPU, LLVM), are compiled again."""
    monkeypatch.setenv("PHYSGRAPH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PHYSGRAPH_CACHE", "on")
    source = _per_call.source
    path = tmp_path / "kernel.ll"
    path.write_text(source)
    compiled = []
    compile_ = llvm_run._compile
    monkeypatch.setattr(llvm_run, "_compile", lambda s: compiled.append(s) or compile_(s))
    x = rng.normal(size=100)

    def check(fn):
        out = np.empty(100)
        llvm_run.run(fn, 100, [x, np.float64(0.5)], [out])
        assert_close(out, x * np.tanh(0.5), rtol=1e-15, atol=0)

    check(llvm_run.load(source, str(path)))
    check(llvm_run.load(source, str(path)))
    assert len(compiled) == 1 and (tmp_path / "kernel.ll.o").exists()
    obj = tmp_path / "kernel.ll.o"
    data = obj.read_bytes()
    obj.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))     # damaged: compiled again
    check(llvm_run.load(source, str(path)))
    assert len(compiled) == 2
    monkeypatch.setattr(llvm_run, "_object_key", lambda s: "another cpu")
    check(llvm_run.load(source, str(path)))
    assert len(compiled) == 3


def test_a_source_for_wider_vectors_is_refused(monkeypatch):
    """From a cache shared with a machine with AVX-512: a clear error, not SIGILL."""
    monkeypatch.setattr(llvm_run, "vector_bits", lambda: 128)
    with pytest.raises(pg.UnsupportedError, match="cache"):
        llvm_run.load(_per_call.source)


@settings(deadline=None)
@given(sizes=st.tuples(st.integers(1, 19), st.integers(1, 19), st.integers(1, 11)),
       picks=st.lists(st.integers(0, 18), min_size=1, max_size=6),
       n=st.sampled_from([1, 4, 7, 9, 64, 1029, 2500]), dtype=st.sampled_from(["float64", "float32"]),
       transposed=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_layers_run_as_matrix_products_over_events(sizes, picks, n, dtype, transposed, seed):
    """Two layers, the second reading the first's products directly, some of whose rows
    are outputs themselves and some dead: the products' row blocks (fewer rows than one
    block, a last block moved back), event vectors, blocks of events and weights in any
    strides agree with numpy's matrix products."""
    n_in, n_mid, n_out = sizes
    picks = sorted({p % n_mid for p in picks})

    def f(x, w, v):
        h = pg.nn.dense(x, w, contract=True)
        y = pg.nn.dense(h, v, contract=True)
        return [pg.tanh(y[j]) for j in range(n_out)] + [h[p] for p in picks]
    # the sizes are drawn: annotations in this module are strings, so set the types here
    f.__annotations__ = {"x": pg.Vec[n_in], "w": pg.Param[n_mid, n_in],
                         "v": pg.Param[n_out, n_mid]}
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(dtype)
    w, v = rng.normal(size=(n_mid, n_in)), rng.normal(size=(n_out, n_mid))
    if transposed:
        w, v = np.asfortranarray(w), np.asfortranarray(v)
    k = pg.compile(f, backend="llvm", dtype=dtype)
    assert "@pg.product0" in k.source and "@pg.product1" in k.source
    got = k(x, w.astype(dtype), v.astype(dtype))
    h = x.astype(np.float64) @ w.T
    want = [np.tanh(h @ v.T)[:, j] for j in range(n_out)] + [h[:, p] for p in picks]
    tol = 1e-12 if dtype == "float64" else 1e-4
    for a, b in zip(got, want):
        assert_close(a, b, rtol=tol, atol=tol)


def test_fresh_outputs_are_aligned_disjoint_views_of_one_allocation(rng):
    """One allocation per call (numpy asks the OS for huge pages when it is large); every
    output starts on a cache line, no two share an element, and the values are right."""
    @pg.compile(backend="llvm")
    def f(x, v: pg.Vec[3]):
        return x * 2.0, pg.exp(x * pg.I), v * x
    x, v = rng.normal(size=1001), rng.normal(size=(1001, 3))
    outs = f(x, v)
    assert len({o.base.ctypes.data for o in outs}) == 1
    assert all(o.ctypes.data % 64 == 0 for o in outs)
    for a in range(3):
        for b in range(a):
            assert not np.may_share_memory(outs[a], outs[b])
    for o, want in zip(outs, (x * 2, np.exp(1j * x), v * x[:, None])):
        assert_close(o, want, rtol=1e-15, atol=1e-15)
