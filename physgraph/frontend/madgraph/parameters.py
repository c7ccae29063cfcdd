"""The model's parameters: ``Cards/param_card.dat`` (SLHA blocks and DECAY lines) read the way
``src/Parameters_<model>.cc`` reads it, its independent parameters and couplings translated
to Python statements, and the couplings that depend on the strong coupling
(``computeDependentCouplings_fromG`` in ``Parameters_<model>.h``) to a Python function.

The translation is kept as source lines, so ``import-madgraph`` writes it out as it is, and
the loader executes the same lines: the values are Python numbers (complex where MadGraph
declares ``cxsmpl``), the dependent couplings are traced, a function of ``G``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import UnsupportedError
from . import cpp
from .cpp import MadgraphError, Node, Parser, PythonPrinter, Statement

# C++ math in parameter and coupling expressions -> the Python spelling (pg.* works on
# numbers as on traced values)
FUNCTIONS = {"sqrt": "pg.sqrt", "constexpr_sqrt": "pg.sqrt", "exp": "pg.exp", "log": "pg.log",
             "sin": "pg.sin", "cos": "pg.cos", "tan": "pg.tan", "asin": "pg.asin",
             "acos": "pg.acos", "atan": "pg.atan", "sinh": "pg.sinh", "cosh": "pg.cosh",
             "tanh": "pg.tanh", "conj": "pg.conj", "abs": "abs", "fabs": "abs",
             "real": "pg.re", "imag": "pg.im", "fpsqrt": "pg.sqrt", "cxreal": "pg.re",
             "cximag": "pg.im", "atan2": "pg.atan2"}
CONSTANTS = {"M_PI": "math.pi"}


# ---- the param card -------------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    """An SLHA param card: ``entries[(block, indices)]`` -> value, blocks in lower case;
    ``DECAY pdg width`` is the entry ``("decay", (pdg,))``.  ``names``: particle name -> PDG
    code, from the comments MadGraph writes on the entries of particles whose mass or width
    is not an input (``21 0.0 # g : 0.0``)."""
    path: Path
    entries: dict
    names: dict = field(default_factory=dict)

    def get(self, block: str, indices: tuple, needed_for: str) -> float:
        key = (block.lower(), tuple(indices))
        if key not in self.entries:
            where = f"DECAY {indices[0]}" if key[0] == "decay" else \
                f"Block {block} {' '.join(map(str, indices))}"
            raise MadgraphError(f"{self.path} has no entry '{where}' ({needed_for} reads it)")
        return self.entries[key]


def read_card(path: Path) -> Card:
    text = cpp.read_source(path, "the model's parameters")
    entries: dict = {}
    names: dict = {}
    block = None
    for number, raw in enumerate(text.splitlines(), 1):
        line, _, comment = raw.partition("#")
        words = line.split()
        if not words:
            continue
        head = words[0].lower()
        try:
            if head == "block":
                block = words[1].lower()
            elif head == "decay":
                entries[("decay", (int(words[1]),))] = float(words[2])
                block = None               # branching ratios follow: not parameters
                _particle_name(comment, int(words[1]), names)
            elif block is not None:
                *indices, value = words
                entries[(block, tuple(int(k) for k in indices))] = float(value)
                if block == "mass" and len(indices) == 1:
                    _particle_name(comment, int(indices[0]), names)
        except (IndexError, ValueError):
            raise MadgraphError(f"{path}:{number}: cannot read {raw.strip()!r} as an SLHA "
                                "entry") from None
    return Card(path, entries, names)


def _particle_name(comment: str, pdg: int, names: dict) -> None:
    m = re.match(r"\s*(\S+)\s*:", comment)
    if m:
        names[m.group(1)] = pdg


# ---- the model ------------------------------------------------------------------------------
@dataclass
class Model:
    """The parameters of one model as Python source, and their values.

    ``lines``: (python statement, comment) of every independent parameter and coupling in
    MadGraph's order; ``values``: what they evaluate to; ``ndcoup``: the number of
    alpha_s-dependent couplings, ``dependent``: their names by index; ``dependent_lines``:
    the body of the function computing them from ``G``."""
    name: str
    lines: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    card_keys: dict = field(default_factory=dict)      # parameter -> (block, indices) read
    ndcoup: int = 0
    dependent: list = field(default_factory=list)
    dependent_lines: list = field(default_factory=list)


def read_model(src: Path, card: Card) -> Model:
    """The model of a CUDACPP output's ``src`` directory with the values of ``card``."""
    headers = sorted(src.glob("Parameters_*.h"))
    if not headers:
        raise cpp.MissingFileError(f"{src}/Parameters_<model>.h is missing (needed for the "
                                   "model's parameters)")
    name = headers[0].stem.removeprefix("Parameters_")
    model = Model(name)
    cc = src / f"Parameters_{name}.cc"
    found = _definitions(cc, "the model's parameters")
    for function in ("setIndependentParameters", "setIndependentCouplings"):
        if function not in found:
            raise UnsupportedError(f"{cc}: no definition of {function}")
        _independent(found[function], cc, card, model)
    _dependent(src / f"Parameters_{name}.h", model)
    return model


def _definitions(path: Path, needed_for: str) -> dict:
    text = cpp.preprocess(cpp.read_source(path, needed_for), path)
    return cpp.definitions(cpp.tokenize(text, path))


def _namespace() -> dict:
    import physgraph as pg

    from ...physics.helas import cxmake, ternary
    return {"pg": pg, "math": math, "np": np, "cxmake": cxmake, "ternary": ternary}


def _independent(definition: cpp.Definition, path: Path, card: Card, model: Model) -> None:
    """Translate and evaluate one of Parameters.cc's functions, statement by statement."""
    parser = Parser(definition.body, path)
    statements = parser.statements()
    parser.expect_end()
    namespace = _namespace()
    namespace.update(model.values)
    indices: list[int] = []
    printer = PythonPrinter(path, _names(path, model.values), FUNCTIONS)
    for st in statements:
        if st.kind == "declare" and st.name == "indices":      # std::vector<int> indices(n, 0)
            indices = [0] * int(st.value.args[0].value)
            continue
        if st.kind == "empty":
            continue
        if st.kind != "assign" or st.op != "=":
            raise cpp.unsupported(path, st.line, f"the statement kind {st.kind!r}")
        target = st.target
        if target.kind == "index" and cpp.describe(target.args[0]) == "indices":
            indices[_int(target.args[1], path)] = _int(st.value, path)
            continue
        if target.kind == "index" and cpp.describe(target.args[0]) == "mdl_bsmIndepParam":
            continue          # CUDA constant-memory copies of parameters the module has
        if target.kind != "name":
            raise cpp.unsupported(path, st.line, f"assignment to {cpp.describe(target)!r}")
        source, comment = _right_side(st, path, card, indices, printer, model)
        namespace[target.value] = eval(source, namespace)
        model.values[target.value] = namespace[target.value]
        model.lines.append((f"{target.value} = {source}", comment))


def _right_side(st: Statement, path: Path, card: Card, indices: list, printer,
                model: Model) -> tuple:
    value = st.value
    if value.kind == "call" and cpp.describe(value.args[0]) == "slha.get_block_entry":
        block, key = value.args[1], value.args[2]
        if block.kind != "str":
            raise cpp.unsupported(path, st.line, "a block name that is not a string literal")
        keys = tuple(indices) if cpp.describe(key) == "indices" else (_int(key, path),)
        entry = card.get(block.value, keys, f"{path.name}:{st.line} for "
                                             f"{cpp.describe(st.target)}")
        model.card_keys[st.target.value] = (block.value.lower(), keys)
        label = f"DECAY {keys[0]}" if block.value.lower() == "decay" else \
            f"Block {block.value} {' '.join(map(str, keys))}"
        return repr(entry), f"{card.path.name}: {label}"
    return printer(value), ""


def _int(node: Node, path: Path) -> int:
    if node.kind == "num" and isinstance(node.value, int):
        return node.value
    if node.kind == "unary" and node.value == "-" and node.args[0].kind == "num":
        return -_int(node.args[0], path)
    raise cpp.unsupported(path, node.line, f"{cpp.describe(node)!r} where an integer is needed")


def _names(path: Path, known: dict, local: set | None = None):
    """A printer hook accepting the parameters defined so far (and ``local`` names)."""
    def hook(node: Node):
        if node.kind != "name":
            return None
        if node.value in CONSTANTS:
            return CONSTANTS[node.value]
        if node.value in known or local is not None and node.value in local:
            return node.value
        raise cpp.unsupported(path, node.line, f"the name {node.value!r} is not a parameter "
                                               "defined before it")
    return hook


# ---- couplings that depend on alpha_s -------------------------------------------------------
def _dependent(path: Path, model: Model) -> None:
    text = cpp.preprocess(cpp.read_source(path, "the alpha_s-dependent couplings"), path)
    tokens = cpp.tokenize(text, path)
    by_index = {}
    for k, t in enumerate(tokens[:-2]):
        if t.kind == "name" and tokens[k + 1].text == "=" and tokens[k + 2].kind == "num":
            if t.text == "ndcoup":
                model.ndcoup = int(tokens[k + 2].text)
            elif t.text.startswith("idcoup_"):
                by_index[int(tokens[k + 2].text)] = t.text.removeprefix("idcoup_")
    model.dependent = [by_index[k] for k in sorted(by_index)]
    if len(model.dependent) != model.ndcoup:
        raise UnsupportedError(f"{path}: ndcoup is {model.ndcoup} but {len(model.dependent)} "
                               "idcoup_ indices are defined")
    found = cpp.definitions(tokens).get("computeDependentCouplings_fromG")
    if found is None:
        raise UnsupportedError(f"{path}: no definition of computeDependentCouplings_fromG")
    parser = Parser(found.body, path)
    statements = parser.statements()
    parser.expect_end()
    local = {"G", "cI"}
    printer = PythonPrinter(path, _names(path, model.values, local), FUNCTIONS)
    lines = model.dependent_lines
    for st in _flatten(statements):
        if st.kind in ("empty", "using", "return"):
            continue
        if st.kind == "declare":
            if st.type == "DependentCouplings_sv" or st.name == "G":
                continue                         # the result struct; G is the argument
            if st.name == "cI":
                lines.append("cI = 1j")
                continue
            if _reads_bsm_parameters(st.value):
                if st.name not in model.values:
                    raise cpp.unsupported(path, st.line, f"{st.name!r} is read from the BSM "
                                                         "parameters but is not a parameter")
                continue                         # the module-level parameter of that name
            lines.append(f"{st.name} = {printer(st.value)}")
            local.add(st.name)
        elif st.kind == "assign" and st.op == "=" and st.target.kind == "member" \
                and cpp.describe(st.target.args[0]) == "out":
            lines.append(f"{st.target.value} = {printer(st.value)}")
            local.add(st.target.value)
        else:
            raise cpp.unsupported(path, st.line, f"the statement {cpp.describe(st.target or st.value)!r}"
                                  if st.target or st.value else f"a {st.kind} statement")
    missing = [c for c in model.dependent if c not in local]
    if missing:
        raise UnsupportedError(f"{path}: computeDependentCouplings_fromG never sets "
                               f"{', '.join(missing)}")


def _flatten(statements: list[Statement]) -> list[Statement]:
    """Statements with bare ``{ }`` blocks opened (one level deep is all MadGraph writes;
    nested ones are opened the same way, without recursion)."""
    out, todo = [], list(reversed(statements))
    while todo:
        st = todo.pop()
        if st.kind == "block":
            todo.extend(reversed(st.body))
        else:
            out.append(st)
    return out


def _reads_bsm_parameters(node: Node | None) -> bool:
    return node is not None and "bsmIndepParamPtr" in cpp.describe(node)


def dependent_function_lines(model: Model) -> list[str]:
    """The Python function computing the dependent couplings from alpha_s (G = sqrt(4 pi
    alpha_s), written as MadGraph's 2 sqrt(aS) sqrt(pi))."""
    return [
        "def dependent_couplings(alpha_s):",
        f'    """{", ".join(model.dependent)} at the strong coupling alpha_s',
        f'    (computeDependentCouplings_fromG in Parameters_{model.name}.h)."""',
        "    G = 2. * pg.sqrt(alpha_s) * math.sqrt(math.pi)",
        *(f"    {line}" for line in model.dependent_lines),
        f"    return {names_tuple(model.dependent)}",
    ]


def names_tuple(names: list[str]) -> str:
    """Python source of a tuple of names (one name: ``(x,)``)."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)
