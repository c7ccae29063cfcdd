"""Backends: printers from the optimized graph to source text, plus their loaders."""
from __future__ import annotations

from ..errors import UnsupportedError
from .cuda import CudaPrinter
from .jax_ import JaxPrinter
from .llvm import LlvmPrinter
from .numba_ import NumbaPrinter
from .numpy_ import NumpyPrinter
from .printer import Printer

BACKENDS: dict[str, type[Printer]] = {"numpy": NumpyPrinter, "numba": NumbaPrinter,
                                      "jax": JaxPrinter, "cuda": CudaPrinter, "llvm": LlvmPrinter}


def printer_for(name: str) -> type[Printer]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnsupportedError(f"backend {name!r}; choose one of {sorted(BACKENDS)}") from None
