"""One subprocess (``SubProcesses/P*/``): ``CPPProcess.cc`` and ``color_sum.cc`` read into the
pieces of its matrix element, and the diagrams of ``calculate_jamps`` translated to Python.

What is read: the process lines, the helicity table, the external masses, the masses and
widths (``cIPD``) and independent couplings (``cIPC``) it uses, the helicity, colour and
identical-particle denominator, the number of processes (2 for a mirror process), and the
diagrams: external wavefunction calls (``ixxxxx``... from ``physgraph.physics.helas``),
vertex calls (the translated ALOHA routines) and the jamp updates with their complex
factors.  The diagrams are the statements between the generator's ``*** DIAGRAM 1 OF``
and ``*** COLOR CHOICE BELOW ***`` comments; a statement of any other kind there is an
error, so nothing is dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import UnsupportedError
from . import cpp
from .aloha import Routine
from .cpp import Node, Parser, PythonPrinter
from .parameters import Model

# MadGraph's external wavefunctions -> (helas function, C++ arguments between the momenta
# and the output, the mass when the routine has none, its fixed beam direction)
EXTERNAL = {
    "ixxxxx": ("ixxxxx", ("mass", "nhel", "nsf"), None, 0),
    "oxxxxx": ("oxxxxx", ("mass", "nhel", "nsf"), None, 0),
    "vxxxxx": ("vxxxxx", ("mass", "nhel", "nsv"), None, 0),
    "sxxxxx": ("sxxxxx", ("nss",), None, 0),
    "ipzxxx": ("ixxxxx", ("nhel", "nsf"), "0.0", 1),
    "imzxxx": ("ixxxxx", ("nhel", "nsf"), "0.0", -1),
    "ixzxxx": ("ixxxxx", ("nhel", "nsf"), "0.0", 0),
    "opzxxx": ("oxxxxx", ("nhel", "nsf"), "0.0", 1),
    "omzxxx": ("oxxxxx", ("nhel", "nsf"), "0.0", -1),
    "oxzxxx": ("oxxxxx", ("nhel", "nsf"), "0.0", 0),
}
START, END = "*** DIAGRAM 1 OF", "*** COLOR CHOICE BELOW ***"
_DIAGRAM = re.compile(r"\*\*\* DIAGRAM (\d+) OF (\d+) \*\*\*")


@dataclass
class ProcessCode:
    """A subprocess as read: everything the writer needs to print its function."""
    directory: str                 # P1_Sigma_sm_gg_ttx
    name: str                      # gg_ttx: the Python function's name
    processes: list                # "g g > t t~", ... (several share one matrix element)
    npari: int
    helicities: list
    masses: list                   # parameter names (ZERO, mdl_MT)
    ipd: list                      # cIPD: parameter names (mdl_MT, mdl_WT)
    ipc: list                      # cIPC: independent coupling names
    denominator: int
    nprocesses: int
    colour_matrix: list
    colour_denominators: list
    nwf: int
    diagrams: int
    body: list = field(default_factory=list)       # (line, comment) of the helicity function
    dependent_used: bool = False
    externals: dict = field(default_factory=dict)  # particle (0-based) -> ixxxxx, vxxxxx...


def read_process(directory: Path, model: Model, routines: dict[str, Routine]) -> ProcessCode:
    path = directory / "CPPProcess.cc"
    raw = cpp.read_source(path, f"subprocess {directory.name}")
    text = cpp.preprocess(raw, path)
    tokens = cpp.tokenize(text, path)
    header = directory / "CPPProcess.h"
    header_tokens = cpp.tokenize(cpp.preprocess(cpp.read_source(header, "npari"), header),
                                 header)
    ipd = [_member(x, path) for x in _initializer(tokens, "tIPD", path, optional=True)]
    ipc = [_member(x, path) for x in _initializer(tokens, "tIPC", path, optional=True)]
    colour = directory / "color_sum.cc"
    colour_tokens = cpp.tokenize(cpp.preprocess(cpp.read_source(colour, "the colour matrix"),
                                                colour), colour)
    matrix = [[_number(x, colour) for x in row.args]
              for row in _initializer(colour_tokens, "colorMatrix", colour)]
    code = ProcessCode(
        directory=directory.name, name=_function_name(directory.name),
        processes=_process_lines(raw, path),
        npari=_constant(header_tokens, "npari", header),
        helicities=[tuple(_number(x, path) for x in row.args)
                    for row in _initializer(tokens, "tHel", path)],
        masses=_masses(tokens, path), ipd=ipd, ipc=ipc,
        denominator=_number(_initializer(tokens, "helcolDenominators", path)[0], path),
        nprocesses=_constant(tokens, "nprocesses", path),
        colour_matrix=matrix,
        colour_denominators=[_number(x, colour)
                             for x in _initializer(colour_tokens, "colorDenom", colour)],
        nwf=_constant(tokens, "nwf", path), diagrams=0)
    _Diagrams(path, raw, text, code, model, routines).translate()
    return code


def _function_name(directory: str) -> str:
    """P1_Sigma_sm_gg_ttx -> gg_ttx."""
    m = re.fullmatch(r"P\d+_Sigma_[A-Za-z0-9]+?_(\w+)", directory) or \
        re.fullmatch(r"P\d+_(\w+)", directory)
    name = m.group(1) if m else directory
    return name if name.isidentifier() and not name[0].isdigit() else f"p_{name}"


def _process_lines(raw: str, path: Path) -> list[str]:
    found = []
    for m in re.finditer(r"//\s*Process:\s*(.*)", raw):
        words = []
        for w in m.group(1).split():
            if w.startswith(("@", "WEIGHTED", "QCD", "QED")) or "=" in w:
                break
            words.append(w)
        line = " ".join(words)
        if line not in found:
            found.append(line)
    if not found:
        raise UnsupportedError(f"{path}: no '// Process:' line names the process")
    return found


def _initializer(tokens: list, name: str, path: Path, optional: bool = False) -> tuple:
    """The items of the brace initializer of the array ``name[...] = { ... }``."""
    for k, t in enumerate(tokens):
        if t.text != name or k + 1 >= len(tokens) or tokens[k + 1].text != "[":
            continue
        j = k + 1
        while j < len(tokens) and tokens[j].text == "[":
            j = cpp.matching(tokens, j) + 1
        if j < len(tokens) and tokens[j].text == "=":
            parser = Parser(tokens[j + 1:], path)
            node = parser.expression()
            if node.kind != "braces":
                raise cpp.unsupported(path, t.line, f"{name} is not given by a {{ }} list")
            return node.args
    if optional:
        return ()
    raise UnsupportedError(f"{path}: no initializer of {name}[...] = {{ ... }}")


def _constant(tokens: list, name: str, path: Path) -> int:
    for k, t in enumerate(tokens[:-2]):
        if t.text == name and tokens[k + 1].text == "=" and tokens[k + 2].kind == "num":
            return int(tokens[k + 2].text)
    raise UnsupportedError(f"{path}: no constant {name} = <integer>")


def _number(node: Node, path: Path):
    if node.kind == "num":
        return node.value
    if node.kind == "unary" and node.value in "+-" and node.args[0].kind == "num":
        return node.args[0].value * (-1 if node.value == "-" else 1)
    raise cpp.unsupported(path, node.line, f"{cpp.describe(node)!r} where a number is needed")


def _member(node: Node, path: Path) -> str:
    """``(fptype)m_pars->mdl_MT`` or ``cxmake( m_pars->GC_3 )`` -> mdl_MT, GC_3."""
    while node.kind in ("cast", "call") and len(node.args) in (1, 2):
        node = node.args[-1]
    if node.kind == "member":
        return node.value
    raise cpp.unsupported(path, node.line, f"{cpp.describe(node)!r} is not a model parameter")


def _masses(tokens: list, path: Path) -> list[str]:
    """m_masses.push_back( m_pars->X ) in initProc: X per external particle."""
    out = []
    for k, t in enumerate(tokens):
        if t.text == "push_back" and k >= 2 and tokens[k - 2].text == "m_masses":
            close = cpp.matching(tokens, k + 1)
            parser = Parser(tokens[k + 2:close], path)
            out.append(_member(parser.expression(), path))
    if not out:
        raise UnsupportedError(f"{path}: no m_masses.push_back(...) gives the external masses")
    return out


# ---- the diagrams ---------------------------------------------------------------------------
class _Diagrams:
    def __init__(self, path: Path, raw: str, text: str, code: ProcessCode, model: Model,
                 routines: dict[str, Routine]):
        self.path, self.raw, self.text = path, raw, text
        self.code, self.model, self.routines = code, model, routines
        self.print = PythonPrinter(path, self._hook, {})

    def translate(self) -> None:
        raw_lines = self.raw.split("\n")
        start = next((k for k, line in enumerate(raw_lines) if START in line), None)
        if start is None:
            raise UnsupportedError(f"{self.path}: no '{START}' comment: not the output of "
                                   "MadGraph's CUDACPP plugin, or another version of it")
        end = next((k for k in range(start, len(raw_lines)) if END in raw_lines[k]), None)
        if end is None:
            raise UnsupportedError(f"{self.path}: no '{END}' comment after the diagrams")
        markers = {k + 1: int(m.group(1)) for k in range(start, end)
                   if (m := _DIAGRAM.search(raw_lines[k]))}
        self.code.diagrams = max(markers.values())
        region = "\n".join(self.text.split("\n")[start:end])
        parser = Parser(cpp.tokenize(region, self.path, start + 1), self.path)
        statements = parser.statements()
        parser.expect_end()
        pending = sorted(markers)
        body = self.code.body
        body.append((f"w = [None] * {self.code.nwf}", ""))
        body.append((f"jamp = [0] * {len(self.code.colour_matrix)}", ""))
        for st in statements:
            while pending and pending[0] <= st.line:
                body.append((f"# diagram {markers[pending.pop(0)]}", ""))
            body.append((self._statement(st), ""))

    def _statement(self, st: cpp.Statement) -> str:
        if st.kind == "expr" and st.value.kind == "call" and st.value.args[0].kind == "name":
            name = st.value.args[0].value
            if name in EXTERNAL:
                return self._external(name, st.value.args[1:], st.line)
            if name in self.routines:
                return self._vertex(self.routines[name], st.value.args[1:], st.line)
            raise cpp.unsupported(self.path, st.line, f"a call of {name!r}, which is neither "
                                  "an external wavefunction nor a routine of HelAmps")
        if st.kind == "assign" and st.op in ("=", "+=", "-=") and st.target.kind == "index" \
                and cpp.describe(st.target.args[0]) == "jamp_sv":
            k = self._index(st.target.args[1], st.line)
            return f"jamp[{k}] {st.op} {self.print(st.value)}"
        what = cpp.describe(st.target) if st.target else \
            cpp.describe(st.value) if st.value else st.kind
        raise cpp.unsupported(self.path, st.line, f"the statement {what!r} among the diagrams")

    def _external(self, name: str, args: tuple, line: int) -> str:
        function, middle, mass, beam = EXTERNAL[name]
        if len(args) != len(middle) + 3 or cpp.describe(args[0]) != "momenta":
            raise cpp.unsupported(self.path, line, f"{name} with {len(args)} arguments")
        ipar = self._index(args[-1], line)
        self.code.externals[ipar] = function
        values = dict(zip(middle, args[1:-2]))
        out = [f"p{ipar + 1}"]
        # beams="z" reads only the energy: for particles massless in the card and the call
        massless = self.model.values.get(self.code.masses[ipar]) == 0
        if function != "sxxxxx":
            out += [mass or self.print(values["mass"]), self._helicity(values["nhel"], ipar, line),
                    self.print(values.get("nsf") or values.get("nsv"))]
            massless = massless and (mass is not None or values["mass"].kind == "num"
                                     and values["mass"].value == 0)
        else:
            out.append(self.print(values["nss"]))
        if beam:
            out.append(f"beam={beam}")
        elif ipar < self.code.npari and massless:
            out.append(f"b{ipar + 1}")              # the beams= option of the factory
        return f"{self._wavefunction(args[-2], line)} = {function}({', '.join(out)})"

    def _helicity(self, node: Node, ipar: int, line: int) -> str:
        if cpp.describe(node) != f"cHel[ihel][{ipar}]":
            raise cpp.unsupported(self.path, line, f"the helicity {cpp.describe(node)!r} of "
                                                   f"particle {ipar}")
        return f"hel[{ipar}]"

    def _vertex(self, routine: Routine, args: tuple, line: int) -> str:
        if len(args) != len(routine.params):
            raise cpp.unsupported(self.path, line, f"{routine.name} with {len(args)} arguments"
                                  f", its definition has {len(routine.params)}")
        out = args[routine.output]
        inputs = ", ".join(self.print(a) for k, a in enumerate(args) if k != routine.output)
        if routine.amplitude:
            if cpp.describe(out) != "&amp_fp[0]":
                raise cpp.unsupported(self.path, line, f"the amplitude {cpp.describe(out)!r}")
            return f"amp = {routine.name}({inputs})"
        return f"{self._wavefunction(out, line)} = {routine.name}({inputs})"

    def _wavefunction(self, node: Node, line: int) -> str:
        if node.kind == "index" and cpp.describe(node.args[0]) == "w_fp":
            return f"w[{self._index(node.args[1], line)}]"
        raise cpp.unsupported(self.path, line, f"{cpp.describe(node)!r} is not a wavefunction")

    def _index(self, node: Node, line: int) -> int:
        """An integer index: a literal, or a sum with ``ndcoup`` (``COUPs[ndcoup + 1]``)."""
        if node.kind == "num" and isinstance(node.value, int):
            return node.value
        if node.kind == "name" and node.value == "ndcoup":
            return self.model.ndcoup
        if node.kind == "binary" and node.value in "+-":
            a, b = (self._index(x, line) for x in node.args)
            return a + b if node.value == "+" else a - b
        raise cpp.unsupported(self.path, line, f"the index {cpp.describe(node)!r}")

    def _hook(self, node: Node) -> str | None:
        if node.kind == "index":
            base = cpp.describe(node.args[0])
            if base in ("w_fp",):
                return self._wavefunction(node, node.line)
            if base == "COUPs":
                k = self._index(node.args[1], node.line)
                nd = self.model.ndcoup
                if k < nd:
                    self.code.dependent_used = True
                    return self.model.dependent[k]
                if k - nd < len(self.code.ipc):
                    return self.code.ipc[k - nd]
                raise cpp.unsupported(self.path, node.line, f"COUPs[{k}]: only {nd} dependent "
                                      f"and {len(self.code.ipc)} independent couplings")
            if base == "cIPD":
                k = self._index(node.args[1], node.line)
                if k >= len(self.code.ipd):
                    raise cpp.unsupported(self.path, node.line, f"cIPD[{k}] is not in tIPD")
                return param_name(self.code.ipd[k])
            if base in ("amp_sv", "amp_fp") and cpp.describe(node.args[1]) == "0":
                return "amp"
        if node.kind == "name":
            raise cpp.unsupported(self.path, node.line, f"the name {node.value!r}")
        return None


def param_name(parameter: str) -> str:
    """The per-call parameter's name for a model parameter: mdl_MT -> MT."""
    name = parameter.removeprefix("mdl_")
    return name if name.isidentifier() and not re.fullmatch(r"p\d+", name) \
        and name not in ("alpha_s", "hel", "w", "jamp", "amp") else parameter
