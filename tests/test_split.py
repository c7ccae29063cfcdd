"""Long bodies become several stage loops over blocks of events; values crossing stages
survive the trip through scratch, whatever their type (real, bool, complex at opt level 0)."""
import copy
import platform
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physgraph as pg
from physgraph.backends import printer_for, staging
from physgraph.backends.cuda import CudaPrinter
from physgraph.backends.jax_ import JaxPrinter
from physgraph.backends.llvm import LlvmPrinter
from physgraph.backends.numba_ import NumbaPrinter
from physgraph.graph import LEAVES, T
from helpers import assert_close
from test_passes import graphs


def chain(a, b, c, g: pg.Param):
    """A long chain whose early real, complex and boolean values are read again at the end."""
    z = a + 1j * b
    early = a > c
    w, x = z, a
    for k in range(12):
        w = w * (0.5 + 0.01j * k) + g * c
        x = pg.sqrt(x * x + b * b + k) - c * 0.25
    return pg.re(w * pg.conj(z)), pg.where(early, x, -x), early & (x > b), w + z


@pytest.mark.parametrize("opt_level", [0, 2])
def test_split_kernel_agrees_with_numpy(monkeypatch, opt_level):
    monkeypatch.setattr(NumbaPrinter, "part_size", 7)
    k = pg.compile(backend="numba", opt_level=opt_level)(chain)
    assert k.source.count("def stage") > 2
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(0.5, 2.0, 2500) for _ in range(3))    # more than one block
    ref = k.with_backend("numpy")(a, b, c, g=0.7)
    got = k(a, b, c, g=0.7)
    for r, x in zip(ref, got, strict=True):
        if r.dtype == np.bool_:
            np.testing.assert_array_equal(r, x)
        else:
            assert_close(x, r, rtol=1e-12, atol=0)


def shaped(x: pg.Vec[3], P: pg.Sym[2], s, g: pg.Param):
    """Vector and symmetric-matrix inputs, vector, boolean and complex outputs, one input
    written out as it is, and a per-call value: every way a value enters or leaves a block."""
    z = x[0] + 1j * x[1]
    for k in range(6):
        z = z * (0.9 + 0.05j * k) + g * s
    v = pg.Vec(pg.sin(x[0]) * P[0, 1] + pg.re(z), x[2] * x[2] * s / P[1, 1], g * g)
    return v, x[0] < pg.im(z), z * pg.conj(z) + 1j * s, x


@pytest.fixture
def in_columns(monkeypatch):
    """Every numba kernel below runs in columns, cut into stages of 7 nodes."""
    from physgraph.backends import numba_
    monkeypatch.setattr(NumbaPrinter, "part_size", 7)
    monkeypatch.setattr(NumbaPrinter, "columns_from", 1)
    monkeypatch.setattr(numba_, "COLUMNS_FROM_INTENSITY", 0)


@pytest.mark.parametrize("opt_level", [0, 2])
def test_kernel_in_columns_agrees_with_numpy(in_columns, opt_level):
    k = pg.compile(backend="numba", opt_level=opt_level)(shaped)
    assert "columns" in k.source and k.source.count("def stage") > 2
    rng = np.random.default_rng(5)
    n = 3000                                     # several blocks, the last one partial
    x, s = rng.uniform(-1, 1, (n, 3)), rng.uniform(-1, 1, n)
    P = rng.uniform(0.5, 1.5, (n, 2, 2))
    x_strided = np.repeat(x, 2, axis=0)[::2]     # a non-contiguous input goes through gather
    ref = k.with_backend("numpy")(x, P, s, g=0.3)
    got = k(x_strided, P, s, g=0.3)
    for r, y in zip(ref, got, strict=True):
        assert r.shape == y.shape and r.dtype == y.dtype
        if r.dtype == np.bool_:
            np.testing.assert_array_equal(r, y)
        else:
            assert_close(y, r, rtol=1e-12, atol=1e-15)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 mnemonics")
def test_stage_loops_in_columns_are_vectorized(in_columns):
    """The point of columns: LLVM turns each stage loop into packed arithmetic across events
    (mulpd/vmulpd on x86).  A change that hid the columns' offsets from LLVM (a signed index,
    a store to the caller's arrays inside a stage) would leave the loops scalar."""
    k = pg.compile(backend="numba", opt_level=2)(shaped)
    namespace: dict = {}
    exec(compile(k.source.replace("cache=True", "cache=False"), "<columns>", "exec"), namespace)
    x, P, s = np.ones((4, 3)), np.ones((4, 2, 2)), np.ones(4)
    outs = [np.empty((4, 3)), np.empty(4, np.bool_), np.empty(4, np.complex128), np.empty((4, 3))]
    namespace["kernel"](4, x, P, s, 0.3, *outs)
    stages = [f for name, f in namespace.items() if name.startswith("stage")]
    assert stages
    for f in stages:
        asm = "".join(f.inspect_asm().values())
        assert re.search(r"\bv?mulpd\b", asm), f"{f.__name__} has no packed multiply"


def test_only_compute_bound_kernels_run_in_columns():
    """A matrix element (~60 flops per input element) runs in columns; a body of a few
    flops per element (a memory-bound update) keeps its direct, strided loop."""
    from physgraph.backends.numba_ import _compute_bound

    def heavy(x: pg.Vec[4]):
        y = x[0]
        for k in range(40):
            y = y * x[k % 4] + pg.sqrt(x[(k + 1) % 4] * x[(k + 1) % 4] + k)
        return y

    def light(x: pg.Vec[8]):
        return pg.Vec(*(x[k] * 2.0 + x[(k + 1) % 8] for k in range(8)))

    assert _compute_bound(pg.compile(heavy, backend="numpy").graph)
    assert not _compute_bound(pg.compile(light, backend="numpy").graph)


def layer(x: pg.Vec[4], W: pg.Param[3, 4]):
    """A contraction: numba prints it as blocks of stage loops around a matrix product."""
    return pg.nn.tanh(pg.nn.dense(x, W, contract=True)), x[0] * x[1]


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax", "cuda", "llvm"])
@pytest.mark.parametrize("staged", [False, True])
def test_printing_leaves_the_printer_as_it_was(backend, staged, monkeypatch):
    """A printer holds only its options: printing changes nothing on it, and kernels printed
    in turn by one printer are those that fresh printers print.  ``staged``: long bodies
    are cut (numba in columns, jax and CUDA into stages)."""
    if staged:
        from physgraph.backends import numba_
        for cls in (NumbaPrinter, JaxPrinter, CudaPrinter, LlvmPrinter):
            monkeypatch.setattr(cls, "part_size", 7)
        monkeypatch.setattr(LlvmPrinter, "one_function_max", 0)
        monkeypatch.setattr(JaxPrinter, "max_handed_on", 10.0)
        monkeypatch.setattr(NumbaPrinter, "columns_from", 1)
        monkeypatch.setattr(numba_, "COLUMNS_FROM_INTENSITY", 0)
    monkeypatch.setenv("PHYSGRAPH_CACHE", "off")
    kernels = [pg.compile(backend=backend)(f) for f in (chain, shaped, layer)]
    cls = printer_for(backend)
    printer = cls("float32", fastmath=True)
    before = copy.deepcopy(vars(printer))
    printed = [printer.source(k.graph, k.name, k._out_types) for k in kernels + kernels]
    assert vars(printer) == before
    fresh = [cls("float32", fastmath=True).source(k.graph, k.name, k._out_types)
             for k in kernels]
    assert printed == fresh + fresh
    if staged and backend != "numpy":        # numpy prints one body, always
        assert all("stage1" in text for text in printed[:2])
        assert backend != "numba" or "columns" in printed[1]


@settings(max_examples=40, deadline=None)
@given(g=graphs(), size=st.integers(1, 6), per_call_stage=st.sampled_from([None, 0]))
def test_a_plan_hands_each_stage_what_it_reads(g, size, per_call_stage):
    """The staging plan, which every backend prints: each stage receives exactly the values
    computed in another stage that it reads (outputs are written in the last stage unless
    per-event), each from an earlier stage that hands it on; each per-event value handed on
    has scratch slots of its own."""
    plan = staging.by_size(g, size, per_call_stage)
    live, var = g.live(), g.varying()

    def home(i):
        return plan.stage[i] if var[i] else per_call_stage

    def everywhere(i):               # read wherever needed: never handed on
        return g.ops[i] in LEAVES or (not var[i] and per_call_stage is None)

    reads = {s: set() for s in range(plan.nstages)}
    for i in range(len(g)):
        if live[i] and not everywhere(i):
            reads[home(i)].update(a for a in g.args[i] if not everywhere(a) and home(a) != home(i))
    for n in g.output_nodes():
        if not everywhere(n) and not var[n] and home(n) != plan.nstages - 1:
            reads[plan.nstages - 1].add(n)
    assert {s: set(values) for s, values in plan.received.items()} == reads
    received = set().union(*reads.values())
    assert all(home(a) < s for s, values in reads.items() for a in values)
    assert {a for values in plan.handed.values() for a in values} == received
    assert all(a in plan.handed[home(a)] for a in received)
    assert set(plan.slots) == {a for a in received if var[a]}
    spans = sorted((k, k + (2 if g.types[a] is T.COMPLEX else 1)) for a, k in plan.slots.items())
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
    assert plan.width == (spans[-1][1] if spans else 0)
