"""ALOHA's vertex routines (``src/HelAmps_<model>.h``) translated from their C++ bodies into
Python functions on traced values, whatever the model.

A MadGraph wavefunction ``W[6]`` (``W[18]`` for spin 3/2 and 2) holds the flowing momentum
packed into two complex numbers, ``W[0] = (p0, p3)`` and ``W[1] = (p1, p2)``, then the
components.  The translation maps it onto ``helas.Wavefunction``: ``cxreal(W[0])`` is
``W.p[0]``, ``cximag(W[0])`` is ``W.p[3]``, ``W[k]`` for k >= 2 is ``W.w[k - 2]``.  An output
wavefunction's momentum (``V1[0] = +V2[0] + V3[0]``) is split into its real and imaginary
parts, a vertex amplitude (``(*vertex) = ...``) is returned.  Everything else in a routine
(declarations, complex arithmetic, ``cI``, ``fpsqrt``, ``conj``, the propagator denominators,
the ``COUP`` and ``Ccoeff`` factors, ``M != 0. ? ... : ...``) is translated as written, so a
BSM model's routines translate like the SM's.  The external wavefunctions (``ixxxxx`` and
friends, whose first parameter is ``momenta``) come from ``physgraph.physics.helas``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import cpp
from .cpp import Node, Parser, PythonPrinter

FUNCTIONS = {"fpsqrt": "pg.sqrt", "sqrt": "pg.sqrt", "conj": "pg.conj", "cxconj": "pg.conj",
             "cxreal": "pg.re", "cximag": "pg.im", "fpmax": "pg.maximum",
             "fpmin": "pg.minimum", "fpternary": "pg.where", "cxternary": "pg.where"}
_PARTS = {(0, "re"): 0, (0, "im"): 3, (1, "re"): 1, (1, "im"): 2}   # W[k] part -> p index


@dataclass(frozen=True)
class Routine:
    """One translated vertex routine: its C++ name, its C++ parameters (``output`` is the
    index of the one it writes), whether it returns an amplitude or a wavefunction, and
    the Python source."""
    name: str
    params: tuple
    output: int
    amplitude: bool
    source: str


def read_routines(path: Path) -> dict[str, Routine]:
    """Every vertex routine defined in ``path`` (HelAmps_<model>.h), translated."""
    text = cpp.preprocess(cpp.read_source(path, "the vertex routines"), path)
    routines = {}
    for name, d in cpp.definitions(cpp.tokenize(text, path)).items():
        params = [cpp.param_name(p) for p in cpp.split_params(d.params)]
        if params and params[0] == "momenta":
            continue                        # an external wavefunction: the physics library's
        routines[name] = _Translation(path, d, params).routine()
    return routines


class _Translation:
    def __init__(self, path: Path, definition: cpp.Definition, params: list[str]):
        self.path = path
        self.d = definition
        self.params = params
        self.python_name = {p: p for p in params}   # renamed to their aliases (allF1 -> F1)
        self.wavefunctions: set[str] = set()        # aliases of input wavefunctions
        self.output = None                          # (alias, parameter) once known
        self.amplitude = None
        self.assigned: set[int] = set()             # output components written so far
        self.local: set[str] = set()
        self.lines: list[str] = []
        self.print = PythonPrinter(path, self._hook, FUNCTIONS)

    def routine(self) -> Routine:
        parser = Parser(self.d.body, self.path)
        statements = parser.statements()
        parser.expect_end()
        for st in statements:
            self._statement(st)
        if self.output is None or self.amplitude is None:
            raise cpp.unsupported(self.path, self.d.line, f"{self.d.name} writes no output")
        alias, param = self.output
        if self.amplitude:
            self.lines.append(f"return {alias}")
        else:
            n = max(self.assigned) + 1
            missing = sorted(set(range(n)) - self.assigned)
            if missing:
                raise cpp.unsupported(self.path, self.d.line, f"{self.d.name} never sets "
                                      f"{alias}[{missing[0]}]")
            w = ", ".join(f"{alias}_{k}" for k in range(2, n))
            p = ", ".join(f"{alias}_p{k}" for k in range(4))
            self.lines.append(f"return Wavefunction(({w}{',' if n == 3 else ''}), ({p}))")
        args = ", ".join(self.python_name[p] for p in self.params if p != param)
        body = "\n".join(f"    {line}" for line in self.lines)
        # a routine: kept as a function where the kernel keeps calls (calls=True)
        source = f"@pg.routine\ndef {self.d.name}({args}):\n{body}\n"
        return Routine(self.d.name, tuple(self.params), self.params.index(param),
                       self.amplitude, source)

    # -- statements -------------------------------------------------------------------------
    def _statement(self, st: cpp.Statement) -> None:
        if st.kind in ("empty", "return") and st.value is None:
            return
        if st.kind == "expr" and st.value.kind == "call" \
                and cpp.describe(st.value.args[0]) == "mgDebug":
            return
        if st.kind == "declare":
            return self._declare(st)
        if st.kind == "assign":
            return self._assign(st)
        raise cpp.unsupported(self.path, st.line, f"the statement "
                              f"{cpp.describe(st.value) if st.value else st.kind!r}")

    def _declare(self, st: cpp.Statement) -> None:
        value = st.value
        access = value is not None and value.kind == "call" and value.args[0].kind == "name" \
            and value.args[0].value.split("::")[-1] in ("kernelAccessConst", "kernelAccess")
        if access:
            param = cpp.describe(value.args[1])
            if param not in self.python_name:
                raise cpp.unsupported(self.path, st.line, f"{param!r} is not a parameter")
            self.python_name[param] = st.name
            if param == self.params[-1] and value.args[0].value.endswith("kernelAccess"):
                self.output = (st.name, param)
            elif st.pointer:
                self.wavefunctions.add(st.name)
            return
        if value is None:
            raise cpp.unsupported(self.path, st.line, f"{st.name} declared without a value")
        if value.kind == "construct":
            if len(value.args) != 1:
                value = Node("call", None, (Node("name", value.value), *value.args), st.line)
            else:
                value = value.args[0]
        if value.kind == "braces":
            items = [self.print(x) for x in value.args]
            text = f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        else:
            text = self.print(value)
        self.lines.append(f"{st.name} = {text}")
        self.local.add(st.name)

    def _assign(self, st: cpp.Statement) -> None:
        target = st.target
        if target.kind == "unary" and target.value == "*" and self._is_output(target.args[0]):
            self._set_kind(amplitude=True, line=st.line)
            self.lines.append(f"{self.output[0]} {st.op} {self.print(st.value)}")
            return
        if target.kind == "index" and self._is_output(target.args[0]):
            self._set_kind(amplitude=False, line=st.line)
            k = self._component(target)
            alias = self.output[0]
            if k in (0, 1):
                if st.op != "=":
                    raise cpp.unsupported(self.path, st.line, f"'{st.op}' on a momentum")
                for part in ("re", "im"):
                    index = _PARTS[(k, part)]
                    self.lines.append(f"{alias}_p{index} = {self._part(st.value, part)}")
            else:
                self.lines.append(f"{alias}_{k} {st.op} {self.print(st.value)}")
            self.assigned.add(k)
            return
        if target.kind == "name" and target.value in self.local:
            self.lines.append(f"{target.value} {st.op} {self.print(st.value)}")
            return
        raise cpp.unsupported(self.path, st.line, f"assignment to {cpp.describe(target)!r}")

    def _set_kind(self, amplitude: bool, line: int) -> None:
        if self.amplitude is not None and self.amplitude != amplitude:
            raise cpp.unsupported(self.path, line, "an output written both as an amplitude "
                                                   "and as a wavefunction")
        self.amplitude = amplitude

    def _is_output(self, node: Node) -> bool:
        return self.output is not None and node.kind == "name" and node.value == self.output[0]

    def _component(self, node: Node) -> int:
        index = node.args[1]
        if index.kind != "num" or not isinstance(index.value, int):
            raise cpp.unsupported(self.path, node.line, f"the wavefunction index "
                                  f"{cpp.describe(index)!r} (a constant is needed)")
        return index.value

    # -- expressions ------------------------------------------------------------------------
    def _part(self, node: Node, part: str) -> str:
        """Python source of the real (``re``) or imaginary part of a sum of packed momenta
        (``+V2[0] + V3[0]``); recursion on the expression's depth only."""
        if node.kind == "unary" and node.value in "+-":
            inner = self._part(node.args[0], part)
            return inner if node.value == "+" else f"-({inner})"
        if node.kind == "binary" and node.value in "+-":
            return f"{self._part(node.args[0], part)} {node.value} " \
                   f"{_wrap(self._part(node.args[1], part))}"
        if node.kind == "index":
            return self._momentum(node, part)
        raise cpp.unsupported(self.path, node.line, f"{cpp.describe(node)!r} in a momentum "
                                                    "(sums of wavefunction momenta only)")

    def _momentum(self, node: Node, part: str) -> str:
        base, k = node.args[0], self._component(node)
        if k not in (0, 1):
            raise cpp.unsupported(self.path, node.line, f"{cpp.describe(node)!r} is not a "
                                                        "momentum")
        index = _PARTS[(k, part)]
        if self._is_output(base) and k in self.assigned:
            return f"{self.output[0]}_p{index}"
        if base.kind == "name" and base.value in self.wavefunctions:
            return f"{base.value}.p[{index}]"
        raise cpp.unsupported(self.path, node.line, f"the momentum {cpp.describe(node)!r}")

    def _hook(self, node: Node) -> str | None:
        kind = node.kind
        if kind == "call" and node.args[0].kind == "name" and len(node.args) == 2 \
                and node.args[0].value in ("cxreal", "cximag") \
                and node.args[1].kind == "index" and self._is_wavefunction(node.args[1]):
            return self._momentum(node.args[1], "re" if node.args[0].value == "cxreal" else "im")
        if kind == "index" and self._is_wavefunction(node):
            k = self._component(node)
            if k < 2:
                raise cpp.unsupported(self.path, node.line, f"{cpp.describe(node)!r}: a packed "
                                      "momentum is only read through cxreal/cximag")
            if self._is_output(node.args[0]):
                if k not in self.assigned:
                    raise cpp.unsupported(self.path, node.line, f"{cpp.describe(node)!r} is "
                                                                "read before it is set")
                return f"{self.output[0]}_{k}"
            return f"{node.args[0].value}.w[{k - 2}]"
        if kind == "index" and node.args[0].kind == "name" and node.args[0].value in self.local:
            return f"{node.args[0].value}[{self.print(node.args[1])}]"
        if kind == "name":
            name = node.value
            if name in self.local or name in self.python_name.values():
                return name
            raise cpp.unsupported(self.path, node.line, f"the name {name!r}")
        return None

    def _is_wavefunction(self, node: Node) -> bool:
        base = node.args[0]
        return base.kind == "name" and (base.value in self.wavefunctions or self._is_output(base))


def _wrap(text: str) -> str:
    return f"({text})" if any(c in text for c in "+-") else text
