"""physgraph: a symbolic-to-kernel compiler for physics computations.

Write the math (a traced Python function or SymPy expressions); physgraph optimizes the
computation graph and emits one fused kernel batched over events.
"""
from . import interop  # noqa: F401  (registers the framework arrays a kernel takes)
from .api import compile
from .errors import DTypeError, PhysgraphError, ShapeError, TraceError, UnsupportedError
from .frontend.argtype import Param
from .frontend.routine import routine
from .frontend import madgraph  # noqa: F401  (pg.madgraph.load: a MadGraph output directory)
from .frontend.scalar import FUNCTIONS as _MATH
from .frontend.scalar import Scalar
from .kernel import Kernel
from .physics import nn
from .physics.diff import grad, jacobian
from .physics.linalg import Mat, Sym, Vec
from .physics.lorentz import Vec4, dot, eta, m2, phi, pt
from .physics.scan import Seq, scan

__version__ = "0.1.0"
I = 1j  # noqa: E741  (the imaginary unit, for readable amplitudes)
globals().update(_MATH)      # pg.sqrt, pg.exp, ..., pg.erf: one traced function per op of the table

__all__ = [
    "compile", "Kernel", "PhysgraphError", "ShapeError", "DTypeError", "UnsupportedError",
    "TraceError", "Param", "Sym", "Vec", "Vec4", "Mat", "Scalar", "dot", "m2", "pt", "eta",
    "phi", "I", "nn", "jacobian", "grad", "Seq", "scan", "routine", *_MATH,
]
