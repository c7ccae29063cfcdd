"""Import any process from MadGraph5_aMC@NLO's CUDACPP output (``output standalone_cudacpp``).

    proc = pg.madgraph.load("gg_tt.sa")
    sub = proc.subprocesses["P1_Sigma_sm_gg_ttx"]
    k = sub.kernel()                  # llvm: k(p1, p2, p3, p4, alpha_s=..., MT=..., WT=...)

The directory's C++ is translated, not matched against routines known in advance: the ALOHA
vertex routines of ``src/HelAmps_<model>.h`` from their bodies (``aloha``), the model's
parameters from ``src/Parameters_<model>.{h,cc}`` and ``Cards/param_card.dat``
(``parameters``), each ``SubProcesses/P*/`` from its ``CPPProcess.cc`` and ``color_sum.cc``
(``process``).  The translation is one Python module (``writer``), executed here and written
by ``physgraph import-madgraph``; external wavefunctions come from
``physgraph.physics.helas``.

Parameters: a subprocess whose couplings depend on the strong coupling takes ``alpha_s``
per call; the masses and widths it passes to its routines (MadGraph's ``cIPD``: ``MT``,
``WT``...) are per-call parameters too; all of them default to the param card's values.
The other parameters and couplings are constants computed from the card at load time
(``load(path, param_card=...)`` reads another card), so changing a mass per call does not
recompute couplings derived from it.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import UnsupportedError
from .aloha import read_routines
from .cpp import MadgraphError, MissingFileError
from .parameters import read_card, read_model
from ...physics.helicity_loop import compile_loop
from .process import ProcessCode, param_name, read_process
from .writer import module_source

__all__ = ["MadgraphError", "MissingFileError", "Process", "Subprocess", "load"]

# ``helicities="auto"`` unrolls up to this many diagrams x helicity combinations (g g -> t t~
# g: 16 x 32) and loops beyond (g g -> t t~ g g: 123 x 64); benchmarks/README.md has the
# measurements behind it
UNROLL_MAX = 1024
# a looped process keeps the helicities of some legs unrolled inside each row while
# diagrams x their combinations stay within this (g g -> t t~ g g: the top pair, 123 x 4)
GROUP_MAX = 512


@dataclass
class Subprocess:
    """One ``SubProcesses/P*/`` directory: its matrix element as a traced function."""
    name: str                  # the directory: P1_Sigma_sm_gg_ttx
    processes: tuple           # "g g > t t~", ... (all sharing this matrix element)
    particles: tuple           # names, MadGraph's order: incoming first
    pdg: tuple                 # PDG codes (None where the card does not say)
    masses: tuple              # the param card's values
    params: dict               # per-call parameter -> default
    mirror: bool               # MadGraph also uses it with the incoming particles swapped
    code: ProcessCode = field(repr=False)
    _make: object = field(repr=False, default=None)

    @property
    def function(self):
        """The traced function: one ``pg.Vec4`` per particle, then the per-call params."""
        return self.build()

    def build(self, beams: str = "any"):
        """The traced function; ``beams="z"``: incoming momenta along +z (the first) and -z
        (the second): only their energies are read and their wavefunctions fold."""
        return self._make(beams)

    def kernel(self, beams: str = "any", helicities="auto", **options):
        """``pg.compile(**options)`` of the function (``beams`` as in ``build``); the
        backend is llvm unless ``backend=`` says otherwise.

        ``helicities`` says how the helicity sum is run: ``"unroll"``, every combination in
        one graph; ``"loop"``, a loop at run time over the combinations
        (``physics.helicity_loop``); a tuple of particles (1-based, as p1, p2...) whose
        helicities stay unrolled inside a loop over the others'; ``"auto"`` (the default)
        unrolls a process of up to ``UNROLL_MAX`` diagrams x helicity combinations and
        loops over the helicities of a larger one."""
        from ...api import compile as pg_compile
        # numba needs minutes for a body of 10^4 nodes; llvm compiles it in seconds
        options.setdefault("backend", "llvm")
        inner = self.inner_legs(helicities)
        if inner is None:
            return pg_compile(**options)(self.build(beams))
        return compile_loop(self.build(beams), self.code.helicities, inner, options,
                            probe=lambda: probe_momenta(self.masses, beams),
                            name=self.code.name)

    def _grouped_legs(self) -> tuple:
        """The most legs unrolled inside the loop that keep diagrams x their combinations
        within GROUP_MAX: fermions first (their currents are the fewest), then the last
        legs."""
        fermions = ("ixxxxx", "oxxxxx")
        order = sorted(range(len(self.masses)),
                       key=lambda k: (self.code.externals.get(k) not in fermions, -k))
        inner: list = []
        for k in order:
            combos = len({tuple(h[j] for j in (*inner, k)) for h in self.code.helicities})
            if self.code.diagrams * combos > GROUP_MAX:
                break
            inner.append(k)
        return tuple(sorted(inner))

    def inner_legs(self, helicities="auto") -> tuple | None:
        """The legs (0-based) unrolled inside the helicity loop, or None: no loop."""
        if helicities == "auto":
            if self.code.diagrams * len(self.code.helicities) <= UNROLL_MAX:
                return None
            return self._grouped_legs()
        if helicities == "unroll":
            return None
        if helicities == "loop":
            return ()
        legs = len(self.masses)
        if not isinstance(helicities, (tuple, list)) or not all(
                isinstance(k, int) and 1 <= k <= legs for k in helicities):
            raise ValueError(f"helicities must be 'auto', 'unroll', 'loop' or a tuple of "
                             f"particles 1..{legs}, got {helicities!r}")
        return tuple(k - 1 for k in helicities)


@dataclass
class Process:
    """A loaded output directory: its subprocesses, by directory name, and the module
    source they were executed from."""
    path: Path
    model: str
    subprocesses: dict
    source: str = field(repr=False)

    def write(self, path: str | Path) -> Path:
        """Write the Python module (``physgraph import-madgraph``)."""
        path = Path(path)
        path.write_text(self.source)
        return path


def load(path: str | Path, param_card: str | Path | None = None) -> Process:
    """Read a MadGraph5_aMC@NLO CUDACPP output directory (``output standalone_cudacpp``)."""
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise MissingFileError(f"{directory} is not a directory (a MadGraph output directory "
                               "with src/, SubProcesses/ and Cards/ is needed)")
    card = read_card(Path(param_card) if param_card else directory / "Cards" / "param_card.dat")
    model = read_model(directory / "src", card)
    routines = read_routines(directory / "src" / f"HelAmps_{model.name}.h")
    subdirs = sorted(p for p in (directory / "SubProcesses").glob("P*") if p.is_dir())
    if not subdirs:
        raise MissingFileError(f"{directory}/SubProcesses has no P*/ subprocess directory")
    codes = [read_process(d, model, routines) for d in subdirs]
    alpha_s = card.get("sminputs", (3,), "the alpha_s default of the dependent couplings") \
        if any(c.dependent_used for c in codes) else None
    source = module_source(directory, card, model, routines, codes, alpha_s)
    module = types.ModuleType(f"madgraph_{directory.stem.replace('.', '_')}")
    module.__file__ = str(directory / "<physgraph import>")
    exec(compile(source, f"<madgraph import of {directory}>", "exec"),  # noqa: S102
         module.__dict__)
    subprocesses = {c.directory: _subprocess(c, model, card, module, alpha_s) for c in codes}
    return Process(directory, model.name, subprocesses, source)


def _subprocess(code: ProcessCode, model, card, module, alpha_s) -> Subprocess:
    particles = tuple(code.processes[0].replace(">", " ").split())
    if len(particles) != len(code.masses):
        raise UnsupportedError(f"{code.directory}: the process line '{code.processes[0]}' "
                               f"names {len(particles)} particles, the masses are "
                               f"{len(code.masses)}")
    params = {"alpha_s": alpha_s} if code.dependent_used else {}
    params.update({param_name(p): model.values[p] for p in code.ipd})
    masses = tuple(float(abs(model.values[m])) for m in code.masses)
    pdg = tuple(_pdg(name, mass, model, card) for name, mass in zip(particles, code.masses))
    return Subprocess(code.directory, tuple(code.processes), particles, pdg, masses, params,
                      code.nprocesses == 2, code, getattr(module, f"make_{code.name}"))


def _pdg(name: str, mass_param: str, model, card) -> int | None:
    """The PDG code of particle ``name``: from the card's particle names, flipping the sign
    for an antiparticle (``t~``, or ``e+`` when the card names ``e-``), else from the mass
    block entry its mass is read from."""
    base, sign = (name[:-1], -1) if name.endswith("~") else (name, 1)
    if base in card.names:
        return sign * card.names[base]
    if base[-1:] in ("+", "-"):
        other = base[:-1] + ("-" if base.endswith("+") else "+")
        if other in card.names:
            return -sign * card.names[other]
    block, keys = model.card_keys.get(mass_param, (None, ()))
    if block == "mass" and len(keys) == 1:
        return sign * keys[0]
    return None


def probe_momenta(masses: tuple, beams: str = "any", events: int = 8) -> list:
    """A few fixed, generic momenta (E, px, py, pz) per particle, on shell for ``masses``;
    the incoming ones along +z and -z for ``beams="z"``.  The helicity loop runs every row
    on them and drops the rows that are exactly 0 (madgraph4gpu's helicity filter)."""
    rng = np.random.default_rng(20261127)
    out = []
    for k, mass in enumerate(masses):
        q = rng.normal(scale=300.0, size=(events, 3))
        if beams == "z" and k < 2:
            q[:, :2] = 0
            q[:, 2] = np.abs(q[:, 2]) * (1 if k == 0 else -1)
        out.append(np.column_stack([np.sqrt((q * q).sum(axis=1) + mass * mass), q]))
    return out
