"""The helicity sum as a run-time loop (physics.helicity_loop, physgraph.looped): it equals
MadGraph's own reference values and the unrolled sum, on every backend and grouping."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import physgraph as pg
from physgraph.frontend.madgraph import UNROLL_MAX, probe_momenta
from physgraph.physics import helicity_loop, processes
from physgraph.looped import LoopedKernel

from test_madgraph import FLOAT32_RTOL, assert_rel, loaded


# ---- MadGraph's reference values, looped -----------------------------------------------------
@pytest.mark.parametrize("name, helicities", [
    ("ee_mumu", "loop"), ("gg_tt", "loop"), ("gg_tt", (3, 4)), ("gg_tt", (1,)),
    ("gg_ttg", (3, 4, 5)),
])
def test_looped_numpy_equals_the_reference_dump(name, helicities):
    sub, momenta, reference = loaded(name)
    k = sub.kernel(backend="numpy", helicities=helicities)
    assert isinstance(k, LoopedKernel)
    assert_rel(k(*momenta), reference, 1e-12)


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_looped_compiled_backends_equal_the_reference_dump(backend):
    sub, momenta, reference = loaded("gg_tt")
    k = sub.kernel(backend=backend, helicities=(2, 3))
    assert_rel(k(*momenta), reference, 1e-12)
    f32 = k.with_backend(backend, dtype="float32")
    assert_rel(f32(*(p.astype(np.float32) for p in momenta)), reference, FLOAT32_RTOL)


def test_looped_jax_equals_the_reference_dump():
    jax = pytest.importorskip("jax")
    sub, momenta, reference = loaded("ee_mumu")
    k = sub.kernel(backend="jax", helicities="loop")
    with jax.enable_x64(True):
        assert_rel(np.asarray(k(*momenta)), reference, 1e-12)


def test_gg_ttgg_loops_by_default_and_equals_the_reference_dump():
    sub, momenta, reference = loaded("gg_ttgg")
    assert sub.code.diagrams * len(sub.code.helicities) > UNROLL_MAX
    k = sub.kernel()
    assert k.options.backend == "llvm"
    assert isinstance(k, LoopedKernel)
    assert_rel(k(*momenta), reference, 1e-12)
    f32 = k.with_backend("llvm", dtype="float32")
    assert_rel(f32(*(p.astype(np.float32) for p in momenta)), reference, FLOAT32_RTOL)


def test_a_warm_cache_gives_the_same_values():
    sub, momenta, reference = loaded("gg_tt")
    first = sub.kernel(backend="llvm", helicities="loop")
    a = first(*momenta)
    again = sub.kernel(backend="llvm", helicities="loop")
    assert again.body.cache_status == "hit" and again.prologue.cache_status == "hit"
    np.testing.assert_array_equal(again(*momenta), a)
    assert_rel(a, reference, 1e-12)


@pytest.mark.parametrize("name, inner", [("ee_mumu", None), ("gg_tt", None), ("gg_ttg", None),
                                         ("gg_ttgg", (2, 3))])
def test_auto_unrolls_small_processes_and_keeps_the_top_pair_in_large_ones(name, inner):
    sub = loaded(name)[0]
    assert sub.inner_legs("auto") == inner


# ---- what the loop does ----------------------------------------------------------------------
def test_vanishing_rows_are_dropped_by_the_probe():
    # e+ e- -> mu+ mu- with massless leptons: 4 of 16 helicity combinations survive
    sub, momenta, reference = loaded("ee_mumu")
    k = sub.kernel(backend="numpy", helicities="loop").compile()
    assert k.stats["rows"] == 16 and k.stats["live_rows"] == 4
    dead = [r for r in range(16) if r not in k.live_rows]
    inputs = momenta
    wfs = k.prologue(*inputs)
    for r in dead:      # what was dropped is exactly 0 on MadGraph's events too
        assert not np.any(k.body(*inputs, *[wfs[j] for j in k.rows[r]]))
    assert_rel(k(*momenta), reference, 1e-12)
    assert "4 of 16 rows" in k.report()


def test_flops_count_the_rows_that_run():
    sub, _, _ = loaded("gg_tt")
    k = sub.kernel(backend="numpy", helicities="loop").compile()
    s = k.stats
    assert s["flops_out"] == k.prologue.stats["flops_out"] + \
        s["live_rows"] * (k.body.stats["flops_out"] + 1)


def test_out_one_event_and_none():
    sub, momenta, reference = loaded("gg_tt")
    k = sub.kernel(backend="llvm", helicities="loop")
    out = np.full(128, np.nan)
    assert k(*momenta, out=out) is out
    assert_rel(out, reference, 1e-12)
    one = k(*(p[3:4] for p in momenta))
    assert_rel(one, reference[3:4], 1e-12)
    assert k(*(p[:0] for p in momenta)).shape == (0,)


def test_chunks_cover_every_event(monkeypatch):
    import physgraph.looped as looped
    monkeypatch.setattr(looped, "CHUNK", 48)
    sub, momenta, reference = loaded("gg_tt")
    assert_rel(sub.kernel(backend="numpy", helicities="loop")(*momenta), reference, 1e-12)


def test_params_reach_both_kernels():
    sub, momenta, _ = loaded("gg_tt")
    unrolled = sub.kernel(backend="numpy", helicities="unroll")
    looped = sub.kernel(backend="numpy", helicities="loop")
    heavy = dict(MT=180.0, alpha_s=0.13)
    assert_rel(looped(*momenta, **heavy), unrolled(*momenta, **heavy), 1e-12)


def test_beams_along_z_fold_constant_wavefunction_components():
    sub, _, _ = loaded("gg_tt")
    anywhere = sub.kernel(backend="numpy", helicities="loop")
    along_z = sub.kernel(backend="numpy", helicities="loop", beams="z")
    p = probe_momenta(sub.masses, "z", events=16)
    assert_rel(along_z(*p), anywhere(*p), 1e-12)
    wf = [a for a in along_z.body.signature if a.name.startswith("wf")]
    assert wf[0].shape[0] < [a for a in anywhere.body.signature if a.name == "wf1"][0].shape[0]


def test_a_hand_written_process_loops_too():
    """physics.processes' g g -> t t~ sums with helas.sum_helicities: any such function can
    be looped, not only imported ones."""
    fn = processes.make_gg_tt(beams="any")
    table = list(itertools.product([-1, 1], repeat=4))
    k = helicity_loop.compile_loop(fn, table, inner=(2,), options={"backend": "numpy"})
    unrolled = pg.compile(backend="numpy")(fn)
    p = probe_momenta((0.0, 0.0, processes.M_TOP, processes.M_TOP), events=32)
    assert_rel(k(*p), unrolled(*p), 1e-12)


# ---- bad input -------------------------------------------------------------------------------
def test_a_table_that_is_not_a_product_cannot_loop():
    with pytest.raises(ValueError, match="not a product"):
        helicity_loop.plan([(1, 1), (1, -1), (-1, 1)], inner=(1,))


def test_helicities_option_is_checked():
    sub, _, _ = loaded("gg_tt")
    with pytest.raises(ValueError, match="helicities must be"):
        sub.kernel(backend="numpy", helicities=(0, 9))
    with pytest.raises(ValueError, match="helicities must be"):
        sub.kernel(backend="numpy", helicities="sometimes")


def test_a_function_without_a_helicity_sum_is_refused():
    def f(p1: pg.Vec4, p2: pg.Vec4):
        return p1.E * p2.E
    with pytest.raises(ValueError, match="sum_combinations"):
        helicity_loop.compile_loop(f, [(1, 1), (-1, -1), (1, -1), (-1, 1)], (),
                                   {"backend": "numpy"})


# ---- the big ones (minutes: deselected unless asked for with -m slow) -------------------------
@pytest.mark.slow
def test_gg_ttggg_equals_the_reference_dump():
    # 2.9*10^7 flops per event summed in another order than MadGraph's: one event of 128
    # differs by 1.3e-12 (llvm, inlined) and 1.6e-12 (numpy without passes); the others by <= 1e-12
    sub, momenta, reference = loaded("gg_ttggg")
    assert_rel(sub.kernel(backend="llvm")(*momenta), reference, 2e-12)
