"""The data path runs one way: frontends build graphs, passes rewrite graphs, backends print
graphs, Kernel orchestrates.  No module below the frontends imports one above it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "physgraph"

# layer of each module or package of physgraph, bottom up; a module may import its own layer
# and those below it
LAYERS = [
    {"errors", "ops", "graph", "cost", "structure", "notes", "symbolic", "sympy_export",
     "foreign", "cache", "dot"},
    {"passes", "autodiff"},
    {"backends"},
    {"kernel", "looped", "interop"},      # Kernel and its adapters to other frameworks (k.as_jax())
    {"frontend", "physics", "api"},
    {"bench", "cli", "__init__", "__main__"},
]
RANK = {name: k for k, layer in enumerate(LAYERS) for name in layer}
# a backend prints graphs: it never looks at SymPy; a pass never imports a backend
FORBIDDEN = {"backends": {"sympy", "physgraph.symbolic", "physgraph.passes"},
             "passes": {"physgraph.backends"}}


def _top(module: Path) -> str:
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(module: Path) -> set[str]:
    """Absolute names of the modules ``module`` imports (relative imports resolved)."""
    tree = ast.parse(module.read_text())
    package = ["physgraph", *module.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            full = ".".join([*base, *([node.module] if node.module else [])])
            names.add(full)
            names |= {f"{full}.{alias.name}" for alias in node.names}
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {_top(m) for m in MODULES} <= set(RANK)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it(module):
    own = RANK[_top(module)]
    for name in _imports(module):
        parts = name.split(".")
        if parts[0] != "physgraph" or len(parts) < 2 or parts[1] not in RANK:
            continue
        assert RANK[parts[1]] <= own, f"{module.name} (layer {own}) imports {name}"
    for banned in FORBIDDEN.get(_top(module), ()):
        hits = [n for n in _imports(module) if n == banned or n.startswith(banned + ".")]
        assert not hits, f"{module.name} imports {hits}"


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = PACKAGE / "passes" / "fold.py"
    monkeypatch.setattr(Path, "read_text", lambda self: "from ..frontend import scalar\n")
    with pytest.raises(AssertionError, match="imports physgraph.frontend"):
        test_no_module_imports_a_layer_above_it(fake)
