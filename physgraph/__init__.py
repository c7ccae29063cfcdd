"""physgraph: a symbolic-to-kernel compiler for physics computations.

Write the math (a traced Python function or SymPy expressions); physgraph optimizes the
computation graph and emits one fused kernel batched over events.
"""
from .api import compile
from .errors import DTypeError, PhysgraphError, ShapeError, TraceError, UnsupportedError
from .frontend.argtype import Param
from .frontend.scalar import (Scalar, abs, acos, acosh, asin, asinh, atan, atan2, atanh, conj,
                              cos, cosh, exp, im, log, maximum, minimum, re, rsqrt, sin, sinh,
                              sqrt, tan, tanh, where)
from .kernel import Kernel
from .physics import nn
from .physics.diff import grad, jacobian
from .physics.linalg import Mat, Sym, Vec
from .physics.lorentz import Vec4, dot, eta, m2, phi, pt
from .physics.scan import Seq, scan

__version__ = "0.1.0"
I = 1j  # noqa: E741  (the imaginary unit, for readable amplitudes)

__all__ = [
    "compile", "Kernel", "PhysgraphError", "ShapeError", "DTypeError", "UnsupportedError",
    "TraceError", "Param", "Sym", "Vec", "Vec4", "Mat", "Scalar", "dot", "m2", "pt", "eta",
    "phi", "sqrt", "rsqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "abs", "conj", "re", "im", "minimum",
    "maximum", "where", "I", "nn", "jacobian", "grad", "Seq", "scan",
]
