"""The helicity-amplitude DSL against the physics it encodes: Dirac equation and spin sums of
the spinors, polarization-vector completeness, the colour algebra against Casimirs and the
Gell-Mann matrices, and helicity filtering by the compiler."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import physgraph as pg
from physgraph.physics import helas, processes
from physgraph.physics.color import F_PHASE, ColourBasis, comm

RNG = np.random.default_rng(7)
METRIC = np.diag([1.0, -1.0, -1.0, -1.0])


def _momenta(n: int, mass: float) -> np.ndarray:
    p = RNG.normal(0, 50, (n, 3))
    return np.column_stack([np.sqrt(mass**2 + (p**2).sum(1)), p])


def _slash(p: np.ndarray) -> np.ndarray:
    """p-slash in the chiral basis used by HELAS (numpy, one momentum)."""
    s = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]
    sp = sum(pk * sk for pk, sk in zip(p[1:], s))
    z = np.zeros((2, 2))
    return np.block([[z, p[0] * np.eye(2) - sp], [p[0] * np.eye(2) + sp, z]])


def _wavefunctions(fn, mass, nhel, nsf, p):
    def f(q: pg.Vec4, m: pg.Param = 1.0):
        return tuple(fn(q, m if mass else 0, nhel, nsf).w)
    return np.array(pg.compile(f, backend="numpy")(p, m=mass)).T


@pytest.mark.parametrize("mass", [0.0, 4.7])
def test_spinors_solve_dirac_and_sum_to_p_slash(mass):
    p = _momenta(4, mass)
    gamma0 = _slash(np.array([1.0, 0, 0, 0]))
    for nsf, fn in itertools.product((1, -1), (helas.ixxxxx, helas.oxxxxx)):
        spins = [_wavefunctions(fn, mass, h, nsf, p) for h in (-1, 1)]
        for k in range(len(p)):
            ps = _slash(p[k])
            total = np.zeros((4, 4), complex)
            for w in (s[k] for s in spins):
                # u and v solve (p-slash - nsf m) psi = 0; oxxxxx returns the barred spinor
                column = w if fn is helas.ixxxxx else gamma0 @ w.conj()
                assert np.abs((ps - nsf * mass * np.eye(4)) @ column).max() < 1e-9 * p[k, 0]
                total += np.outer(column, column.conj() @ gamma0)
            np.testing.assert_allclose(total, ps + nsf * mass * np.eye(4), atol=1e-9 * p[k, 0])


def test_massive_polarizations_are_complete_and_transverse():
    m = 80.4
    p = _momenta(3, m)
    eps = {h: _wavefunctions(helas.vxxxxx, m, h, 1, p) for h in (-1, 0, 1)}
    for k in range(len(p)):
        total = sum(np.outer(e[k], e[k].conj()) for e in eps.values())
        expected = -np.linalg.inv(METRIC) + np.outer(p[k], p[k]) / m**2
        np.testing.assert_allclose(total, expected, atol=1e-9)
        for e in eps.values():
            assert abs(e[k] @ METRIC @ p[k]) < 1e-9 * p[k, 0]


def test_beam_wavefunctions_equal_the_general_ones_on_the_axis():
    e = np.array([[30.0, 0, 0, 30.0], [45.0, 0, 0, -45.0]])
    for beam, p in zip((1, -1), e):
        for fn, h, ns in itertools.product((helas.ixxxxx, helas.oxxxxx, helas.vxxxxx),
                                          (-1, 1), (-1, 1)):
            w = np.array(pg.compile(_both(fn, h, ns, beam), backend="numpy")(p[None])).ravel()
            np.testing.assert_allclose(w[:4], w[4:], atol=1e-12)


def test_colour_matrix_matches_casimirs():
    cf, ca, n = Fraction(4, 3), Fraction(3), 3
    one = ColourBasis([lambda a: a], 1)
    assert one.matrix == [[cf * n]]                                  # tr(T^a T^a)
    two = ColourBasis([lambda a, b: a @ b, lambda a, b: b @ a], 2)
    assert two.matrix[0][0] == cf * cf * n
    assert two.matrix[0][1] == cf * n * (cf - ca / 2)                 # T^a T^b T^a = (CF-CA/2) T^b
    assert two.matrix[1][0] == two.matrix[0][1]


def test_f_contraction_phase_matches_gell_mann_structure_constants():
    t = _gell_mann_generators()
    f = np.einsum("aij,bjk,cki->abc", t, t, t) - np.einsum("bij,ajk,cki->abc", t, t, t)
    f = (-2j * f).real                                                # f^abc = -2i tr([Ta,Tb]Tc)
    lhs = np.einsum("abe,eij->abij", f, t)
    rhs = F_PHASE * (np.einsum("aik,bkj->abij", t, t) - np.einsum("bik,akj->abij", t, t))
    np.testing.assert_allclose(lhs, rhs, atol=1e-12)
    two = ColourBasis([lambda a, b: a @ b, lambda a, b: b @ a], 2)
    assert two.decompose(comm, F_PHASE) == [F_PHASE, -F_PHASE]
    with pytest.raises(ValueError):
        two.decompose(lambda a, b: a @ b + np.trace(a @ b, axis1=-2, axis2=-1)[..., None, None]
                      * np.eye(3, dtype=np.int64))


def _both(fn, h, ns, beam):
    def f(q: pg.Vec4):
        return tuple(fn(q, 0, h, ns, beam).w) + tuple(fn(q, 0, h, ns).w)
    return f


def _gell_mann_generators() -> np.ndarray:
    s3 = np.sqrt(3)
    lam = np.array([
        [[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]],
        [[1, 0, 0], [0, -1, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 0], [1, 0, 0]],
        [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]], [[0, 0, 0], [0, 0, 1], [0, 1, 0]],
        [[0, 0, 0], [0, 0, -1j], [0, 1j, 0]], np.diag([1, 1, -2]) / s3], dtype=complex)
    return lam / 2


def test_compiler_removes_the_helicities_that_vanish():
    k = pg.compile(processes.build("ee_mumu"), backend="numpy")
    line = next(r for r in k.report().splitlines() if r.startswith("helicities"))
    survivors = set(line.split(": ", 2)[2].split())
    # a massless vector coupling conserves chirality: e+ and e- (and mu+, mu-) opposite
    expected = {"".join("+" if x > 0 else "-" for x in h)
                for h in itertools.product((-1, 1), repeat=4) if h[0] == -h[1] and h[2] == -h[3]}
    assert survivors == expected
    assert "4 of 16" in line
    # the dead combinations are gone from the kernel: a quarter of the amplitude work is left
    assert k.stats["flops_out"] < k.stats["flops_in"] / 2


def test_boost_preserves_invariants_and_composes_to_rest_frame():
    p = _momenta(5, 3.0)
    q = _momenta(5, 10.0)

    def f(a: pg.Vec4, b: pg.Vec4):
        beta = (-b.px / b.E, -b.py / b.E, -b.pz / b.E)
        return helas.boost(a, beta), helas.boost(b, beta)
    a, b = pg.compile(f, backend="numpy")(p, q)
    np.testing.assert_allclose(b[:, 1:], 0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", a, METRIC, a), 9.0, rtol=1e-9)
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", a, METRIC, b),
                               np.einsum("ni,ij,nj->n", p, METRIC, q), rtol=1e-9)


def test_linear_polarizations_span_the_helicity_ones():
    p = _momenta(4, 0.0)
    for nsv in (-1, 1):
        eps = {h: _wavefunctions(helas.vxxxxx, 0.0, h, nsv, p) for h in (-1, 1)}
        lin = np.stack([_wavefunctions(lambda q, m, pol, ns: helas.vlinear(q, pol, ns),
                                       0.0, pol, nsv, p) for pol in "xy"], axis=1)
        assert np.all(lin.imag == 0)                      # real vectors
        lin = lin.real
        for k in range(len(p)):
            np.testing.assert_allclose(lin[k] @ METRIC @ lin[k].T, -np.eye(2), atol=1e-12)
            np.testing.assert_allclose(lin[k] @ METRIC @ p[k], 0, atol=1e-9 * p[k, 0])
            helicity_sum = sum(np.outer(e[k], e[k].conj()) for e in eps.values())
            np.testing.assert_allclose(lin[k].T @ lin[k], helicity_sum.real, atol=1e-12)
            np.testing.assert_allclose(helicity_sum.imag, 0, atol=1e-12)
