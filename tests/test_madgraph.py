"""pg.madgraph: MadGraph5_aMC@NLO CUDACPP output imported and checked against MadGraph's own
reference values (its 128-event dumps), against the hand-written processes, and against
closed forms on a hand-written toy output; the C++ reader on small inputs; bad input."""
from __future__ import annotations

import functools
import importlib.util
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import physgraph as pg
from physgraph.cli import main
from physgraph.frontend.madgraph import cpp
from physgraph.physics import processes

DATA = Path(os.environ.get("PHYSGRAPH_MADGRAPH_DIR",
                           Path(__file__).parents[2] / "shared" / "madgraph"))
TOY = Path(__file__).parent / "fixtures" / "madgraph" / "toy.sa"
RNG = np.random.default_rng(17)
# float32: spinors of massive tops and the colour sums lose ~1e-5 relative on MadGraph's
# RAMBO events (largest seen: 3.6e-5 for g g -> t t~ g); the bound leaves room
FLOAT32_RTOL = 5e-4


def output(name: str) -> Path:
    path = DATA / f"{name}.sa"
    if not path.is_dir():
        pytest.skip(f"MadGraph outputs not found at {DATA} (set PHYSGRAPH_MADGRAPH_DIR to the "
                    "folder holding ee_mumu.sa, gg_tt.sa, ...)")
    return path


def read_dump(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The momenta (one (N, 4) array per particle) and MEs of a dump_CPUTest file."""
    events, mes, current = [], [], []
    for line in path.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "Event":
            current = []
        elif words[0] == "ME":
            events.append(current)
            mes.append(float(words[1]))
        elif len(words) == 5 and words[0].isdigit():
            current.append([float(x) for x in words[1:]])
    p = np.array(events)
    return [np.ascontiguousarray(p[:, k]) for k in range(p.shape[1])], np.array(mes)


@functools.cache
def loaded(name: str):
    """(subprocess, momenta, MadGraph's MEs) of an output with one subprocess."""
    path = output(name)
    (sub,) = pg.madgraph.load(path).subprocesses.values()
    (dump,) = (path / "test" / "ref").glob("dump_CPUTest.*.txt")
    momenta, reference = read_dump(dump)
    assert len(reference) == 128
    return sub, momenta, reference


@functools.cache
def imported(name: str, beams: str = "any") -> pg.Kernel:
    """The subprocess traced and optimized once (numpy backend); other backends and dtypes
    come from ``with_backend``, which shares the traced graph (g g -> t t~ g takes seconds)."""
    return loaded(name)[0].kernel(beams=beams, backend="numpy")


def assert_rel(got, expected, rtol):
    err = np.max(np.abs(np.asarray(got, np.float64) / expected - 1))
    assert err <= rtol, f"max relative error {err:.3g} > {rtol:g}"


# ---- MadGraph's own reference values ---------------------------------------------------------
@pytest.mark.parametrize("name", ["ee_mumu", "gg_tt", "gg_ttg"])
def test_numpy_backend_equals_the_reference_dump(name):
    _, momenta, reference = loaded(name)
    k = imported(name)
    assert_rel(k(*momenta), reference, 1e-12)
    assert_rel(k.with_backend("numpy", dtype="float32")(
        *(p.astype(np.float32) for p in momenta)), reference, FLOAT32_RTOL)


@pytest.mark.parametrize("name", ["ee_mumu", "gg_tt",
                                  pytest.param("gg_ttg", marks=pytest.mark.slow)])
def test_numba_equals_the_reference_dump(name):
    _, momenta, reference = loaded(name)
    assert_rel(imported(name).with_backend("numba")(*momenta), reference, 1e-12)


@pytest.mark.parametrize("name", ["ee_mumu", "gg_tt", "gg_ttg"])
def test_the_default_backend_equals_the_reference_dump(name):
    sub, momenta, reference = loaded(name)
    k = sub.kernel()
    assert k.options.backend == "llvm"
    assert_rel(k(*momenta), reference, 1e-12)
    f32 = k.with_backend("llvm", dtype="float32")
    assert_rel(f32(*(p.astype(np.float32) for p in momenta)), reference, FLOAT32_RTOL)


# numba and XLA take minutes to compile g g -> t t~ g's 3.6*10^4-flop body on two cores
@pytest.mark.parametrize("name", ["ee_mumu", "gg_tt",
                                  pytest.param("gg_ttg", marks=pytest.mark.slow)])
def test_jax_equals_the_reference_dump(name):
    jax = pytest.importorskip("jax")
    _, momenta, reference = loaded(name)
    k = imported(name).with_backend("jax")
    with jax.enable_x64(True):
        assert_rel(k(*momenta), reference, 1e-12)
    assert_rel(k.with_backend("jax", dtype="float32")(
        *(p.astype(np.float32) for p in momenta)), reference, FLOAT32_RTOL)


@pytest.mark.slow
def test_gg_ttgg_equals_the_reference_dump():
    _, momenta, reference = loaded("gg_ttgg")
    assert_rel(imported("gg_ttgg")(*momenta), reference, 1e-12)


def test_what_a_subprocess_says_about_itself():
    proc = pg.madgraph.load(output("gg_tt"))
    assert proc.model == "sm"
    sub = proc.subprocesses["P1_Sigma_sm_gg_ttx"]
    assert sub.processes == ("g g > t t~",)
    assert sub.pdg == (21, 21, 6, -6)
    assert sub.masses == (0.0, 0.0, 173.0, 173.0)
    assert sub.params == {"alpha_s": 0.118, "MT": 173.0, "WT": 1.4915}
    assert not sub.mirror
    ee = pg.madgraph.load(output("ee_mumu")).subprocesses["P1_Sigma_sm_epem_mupmum"]
    assert ee.pdg == (-11, 11, -13, 13)
    assert set(ee.params) == {"MZ", "WZ"}            # no alpha_s: nothing depends on it


# ---- against the hand-written processes -------------------------------------------------------
@pytest.mark.parametrize("name, hand", [("gg_tt", "gg_tt"), ("gg_ttg", "gg_ttg")])
@pytest.mark.parametrize("beams", ["any", "z"])
def test_imported_equals_the_hand_written_process(name, hand, beams):
    _, momenta, _ = loaded(name)
    written = pg.compile(processes.build(hand, beams), backend="numpy")(
        *momenta, alpha_s=0.118, m_t=173.0, w_t=1.4915)
    assert_rel(imported(name, beams)(*momenta), written, 1e-12)


def test_beams_along_z_fold_the_incoming_wavefunctions():
    sub, momenta, reference = loaded("gg_tt")
    general, along_z = imported("gg_tt"), imported("gg_tt", "z")
    assert_rel(along_z(*momenta), reference, 1e-12)
    assert along_z.stats["flops_out"] < general.stats["flops_out"] / 2
    with pytest.raises(ValueError, match="beams must be"):
        sub.build("x")


def test_vanishing_helicities_fold_away():
    assert "4 of 16 combinations survive" in imported("ee_mumu").report()


def test_parameters_are_per_call():
    _, momenta, reference = loaded("gg_tt")
    k = imported("gg_tt")
    # g g -> t t~ is of order alpha_s^2
    assert_rel(k(*momenta, alpha_s=2 * 0.118), 4 * reference, 1e-12)
    assert np.all(np.abs(k(*momenta, MT=172.0) / reference - 1) > 1e-6)


# ---- the toy output: closed forms, the translator's corners -----------------------------------
def toy_events(n: int, m: float = 100.0, sqrt_s: float = 1000.0):
    """2 -> 2 at sqrt_s, both beams and the final state in random directions."""
    def direction():
        c, phi = RNG.uniform(-1, 1, n), RNG.uniform(0, 2 * math.pi, n)
        s = np.sqrt(1 - c * c)
        return np.column_stack([s * np.cos(phi), s * np.sin(phi), c])
    e = sqrt_s / 2
    k = math.sqrt(e * e - m * m)
    a, b = direction() * k, direction() * k
    col = np.full((n, 1), e)
    return [np.hstack([col, a]), np.hstack([col, -a]), np.hstack([col, b]), np.hstack([col, -b])]


def mdot(a, b):
    return a[:, 0] * b[:, 0] - (a[:, 1:] * b[:, 1:]).sum(1)


def test_toy_scalar_scattering_matches_its_closed_form():
    sub = pg.madgraph.load(TOY).subprocesses["P1_Sigma_toy_ss_ss"]
    assert sub.pdg == (9000001,) * 4
    assert sub.params == {"alpha_s": 0.118, "MS": 100.0, "WS": 2.0}
    p1, p2, p3, p4 = toy_events(50)
    alpha_s, ms, ws = 0.2, 120.0, 3.0
    got = sub.kernel(backend="numpy")(p1, p2, p3, p4, alpha_s=alpha_s, MS=ms, WS=ws)
    lam3, lam4 = 50.0, 0.2                   # Block toy 1, Block toymix 1 2
    g3, g4 = 1j * lam3, -lam4 * 4 * math.pi * alpha_s
    exchange = sum(1 / (mdot(q, q) - ms * ms + 1j * ms * ws)
                   for q in (p1 + p2, p1 - p3, p1 - p4))
    amplitude = -1j * g4 - 1j * g3 * (1j * g3) * exchange
    assert_rel(got, np.abs(amplitude) ** 2 / 2, 1e-12)


def test_import_madgraph_writes_a_module_that_equals_the_loaded_function(tmp_path, capsys):
    target = tmp_path / "toy_process.py"
    assert main(["import-madgraph", str(TOY), "-o", str(target)]) == 0
    text = target.read_text()
    assert "GNU Lesser General Public License" in text and str(TOY.resolve()) in text
    spec = importlib.util.spec_from_file_location("toy_process", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    events = toy_events(20)
    written = pg.compile(module.ss_ss, backend="numpy")(*events)
    loaded_ = pg.madgraph.load(TOY).subprocesses["P1_Sigma_toy_ss_ss"].kernel(backend="numpy")
    np.testing.assert_array_equal(written, loaded_(*events))
    assert str(target) in capsys.readouterr().out


def test_import_madgraph_of_gg_tt_equals_the_dump(tmp_path):
    _, momenta, reference = loaded("gg_tt")
    target = tmp_path / "gg_tt_module.py"
    assert main(["import-madgraph", str(output("gg_tt")), "-o", str(target)]) == 0
    spec = importlib.util.spec_from_file_location("gg_tt_module", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert_rel(pg.compile(module.gg_ttx, backend="numpy")(*momenta), reference, 1e-12)


def test_show_prints_every_subprocess_report(capsys):
    assert main(["show", f"madgraph:{TOY}", "--report"]) == 0
    out = capsys.readouterr().out
    assert "P1_Sigma_toy_ss_ss: s s > s s" in out
    assert "kernel 'ss_ss'" in out and "helicities: 1 of 1" in out


@pytest.mark.parametrize("command", [["show", "madgraph:{}"], ["import-madgraph", "{}", "-o",
                                                                "x.py"], ["bench", "madgraph:{}"]])
def test_a_missing_output_directory_is_a_usage_error(command, tmp_path, capsys):
    missing = str(tmp_path / "nowhere.sa")
    with pytest.raises(SystemExit) as exit_:
        main([word.format(missing) for word in command])
    assert exit_.value.code == 2
    assert f"{missing} is not a directory" in capsys.readouterr().err


# ---- the benchmark ----------------------------------------------------------------------------
FAKE_CHECK = """#!/bin/sh
echo "FP precision                = DOUBLE (NaN/abnormal=0, zero=0)"
echo "EvtsPerSec[MatrixElems] (3) = ( 1.234500e+06                 )  sec^-1"
echo "$@ threads=$OMP_NUM_THREADS" > args.txt
"""


def test_bench_runs_the_import_and_reads_the_check_programs_rate(tmp_path, monkeypatch):
    """The check program runs as one single-threaded copy per thread physgraph uses, the
    events shared out and the copies' rates added."""
    from physgraph.bench import runner, workloads
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    from physgraph.bench.impls import select
    toy = toy_copy(tmp_path)
    folder = toy / "SubProcesses" / "P1_Sigma_toy_ss_ss"
    w = workloads.get(f"madgraph:{folder}")
    assert w.peers[0].skip_reason(w, "float64").startswith("no check_cpp.exe")
    exe = folder / "check_cpp.exe"        # stands in for madgraph4gpu's: prints what it prints
    exe.write_text(FAKE_CHECK)
    exe.chmod(0o755)
    impls = select(["numpy"], ["madgraph4gpu"], w)
    rows = {r.impl: r for r in runner.run(w, impls, runner.Config(events=300, repeat=2)).rows}
    assert rows["physgraph-numpy"].status == "ok"
    assert rows["physgraph-numpy"].max_rel_err < 1e-12
    peer = rows["madgraph4gpu-check"]
    assert (peer.status, peer.events_per_s) == ("ok", 2 * 1.2345e6)
    assert "not checked here" in peer.message
    assert (folder / "args.txt").read_text() == "-p 1 256 2 threads=1\n"
    rows = runner.run(w, impls[1:], runner.Config(events=300, dtype="float32")).rows
    assert rows[0].status == "failed" and "FPTYPE=f" in rows[0].message


# ---- bad input ----------------------------------------------------------------------------
def toy_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TOY, tmp_path / "toy.sa"))


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_an_unknown_function_in_a_routine_names_file_line_and_construct(tmp_path):
    toy = toy_copy(tmp_path)
    helamps = toy / "src" / "HelAmps_toy.h"
    replace_in(helamps, "( S1[2] * S2[2] * S3[2] )", "( S1[2] * frobnicate( S2[2] ) * S3[2] )")
    line = next(k for k, text in enumerate(helamps.read_text().splitlines(), 1)
                if "frobnicate" in text)
    with pytest.raises(pg.UnsupportedError, match=f"HelAmps_toy.h:{line}: the function "
                                                  "'frobnicate'"):
        pg.madgraph.load(toy)


def test_control_flow_in_a_routine_is_refused(tmp_path):
    toy = toy_copy(tmp_path)
    replace_in(toy / "src" / "HelAmps_toy.h", "    ( *vertex ) = Ccoeff * COUP * -cI * TMP0;",
               "    if( COUP != 0. ) ( *vertex ) = Ccoeff * COUP * -cI * TMP0;")
    with pytest.raises(pg.UnsupportedError, match=r"HelAmps_toy.h:\d+: 'if' statement"):
        pg.madgraph.load(toy)


def test_an_unknown_statement_among_the_diagrams_is_refused(tmp_path):
    toy = toy_copy(tmp_path)
    replace_in(toy / "SubProcesses" / "P1_Sigma_toy_ss_ss" / "CPPProcess.cc",
               "      jamp_sv[0] += amp_sv[0];\n\n      // *** DIAGRAM 2",
               "      jamp_sv[0] += amp_sv[0];\n      amp_sv[0] *= 2;\n\n      // *** DIAGRAM 2")
    with pytest.raises(pg.UnsupportedError, match=r"CPPProcess.cc:\d+: the statement "
                                                  r"'amp_sv\[0\]' among the diagrams"):
        pg.madgraph.load(toy)


def test_a_missing_file_is_named(tmp_path):
    toy = toy_copy(tmp_path)
    (toy / "SubProcesses" / "P1_Sigma_toy_ss_ss" / "color_sum.cc").unlink()
    with pytest.raises(pg.madgraph.MissingFileError, match="color_sum.cc is missing"):
        pg.madgraph.load(toy)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        pg.madgraph.load(tmp_path / "nowhere")


def test_a_missing_card_entry_is_named(tmp_path):
    toy = toy_copy(tmp_path)
    replace_in(toy / "Cards" / "param_card.dat", "   1 2 2.000000e-01 # lam4\n", "")
    with pytest.raises(pg.madgraph.MadgraphError, match=r"no entry 'Block toymix 1 2' "
                                                        r"\(Parameters_toy.cc:\d+ for mdl_lam4"):
        pg.madgraph.load(toy)
    assert issubclass(pg.madgraph.MadgraphError, pg.PhysgraphError)


def test_a_malformed_card_line_is_named(tmp_path):
    toy = toy_copy(tmp_path)
    replace_in(toy / "Cards" / "param_card.dat", "   1 5.000000e+01 # lam3",
               "   1 fifty # lam3")
    with pytest.raises(pg.madgraph.MadgraphError, match=r"param_card.dat:10: cannot read"):
        pg.madgraph.load(toy)


# ---- the C++ reader -------------------------------------------------------------------------
def test_preprocess_keeps_line_numbers_and_takes_the_plain_cpp_branches():
    text = ("a\n#ifdef GPU\nb\n#elif not( defined SIMD && defined FLOAT )\nc\n#else\nd\n#endif\n"
            "#ifndef GPU\n#if 0\ne\n#endif\nf /* two\nlines */ g // gone\n#endif\n")
    lines = cpp.preprocess(text, "t.h").split("\n")
    assert len(lines) == text.count("\n") + 1
    assert [(k + 1, w.strip()) for k, w in enumerate(lines) if w.strip()] == \
        [(1, "a"), (5, "c"), (13, "f"), (14, "g")]
    with pytest.raises(pg.UnsupportedError, match="t.h:1: #endif without #if"):
        cpp.preprocess("#endif\n", "t.h")


def names(node: cpp.Node) -> str | None:
    """A printer hook that knows every name (the translators know only their own)."""
    return node.value if node.kind == "name" else None


@pytest.mark.parametrize("source, python", [
    ("a - ( b - c )", "a - (b - c)"),
    ("( a - b ) - c", "a - b - c"),
    ("a * -b * c", "a * -b * c"),
    ("-( a + b ) * c", "-(a + b) * c"),
    ("a / ( b * c )", "a / (b * c)"),
    ("+a + ( +b )", "a + b"),
    ("1 / 2 + 1. / 2.", "1 // 2 + 1.0 / 2.0"),
    ("cxmake( 0., 1. ) * cxtype( a, b )", "1j * cxmake(a, b)"),
    ("x != 0. ? 1. / x : 0.", "ternary(x != 0.0, lambda: 1.0 / x, lambda: 0.0)"),
    ("(fptype)a * pow( b, 2 )", "a * b ** 2"),
    ("fpsqrt( a ) * conj( b )", "pg.sqrt(a) * pg.conj(b)"),
    ("a != 0. && b < c", "(a != 0.0) & (b < c)"),
    ("a < b || c > x && a > 0.", "(a < b) | (c > x) & (a > 0.0)"),
])
def test_expressions_print_as_python_with_cpp_grouping(source, python):
    printer = cpp.PythonPrinter("t.h", names, {"fpsqrt": "pg.sqrt", "conj": "pg.conj"})
    assert printer(cpp.parse_expression(source, "t.h")) == python
    values = {"a": 1.5, "b": -2.25, "c": 0.75, "x": 4.0}
    if "?" not in source and "cx" not in source and "pg." not in python:
        c_like = source.replace("(fptype)", "").replace("pow( b, 2 )", "b * b") \
            .replace("&&", "and").replace("||", "or")
        assert eval(python, values) == pytest.approx(eval(c_like.replace("1 / 2", "0"), values))


def test_unknown_constructs_in_expressions_name_their_line():
    printer = cpp.PythonPrinter("t.h", names, {})
    with pytest.raises(pg.UnsupportedError, match="t.h:3: the function 'mystery'"):
        printer(cpp.parse_expression("a +\n\nmystery( b )", "t.h"))
    with pytest.raises(pg.UnsupportedError, match="t.h:1: the operator '%'"):
        printer(cpp.parse_expression("a % b", "t.h"))
    with pytest.raises(pg.UnsupportedError, match="t.h:2: character '@'"):
        cpp.tokenize("a\n@", "t.h")


def test_statements_and_templates_parse():
    text = ("const cxtype_sv* F1 = W_ACCESS::kernelAccessConst( allF1 );\n"
            "constexpr fptype one( 1. );\n"
            "const fptype_sv P1[4] = { -cxreal( V[0] ), a < b, c };\n"
            "FFV1_0<W_ACCESS, A_ACCESS>( w_fp[0], &amp_fp[0] );\n"
            "jamp_sv[1] -= amp_sv[0];\n")
    parser = cpp.Parser(cpp.tokenize(text, "t.h"), "t.h")
    kinds = [(s.kind, s.name or cpp.describe(s.target or s.value), s.line)
             for s in parser.statements()]
    assert kinds == [("declare", "F1", 1), ("declare", "one", 2), ("declare", "P1", 3),
                     ("expr", "FFV1_0(w_fp[0], &amp_fp[0])", 4), ("assign", "jamp_sv[1]", 5)]
