"""The exceptions physgraph raises; every one derives from :class:`PhysgraphError`."""


class PhysgraphError(Exception):
    """Base class of every error physgraph raises on purpose."""


class ShapeError(PhysgraphError, ValueError):
    """Wrong count, shape or length of kernel inputs; the message names the argument."""


class DTypeError(ShapeError, TypeError):
    """An input of the wrong kind (strings, objects, complex where real is expected)."""


class UnsupportedError(PhysgraphError, NotImplementedError):
    """A SymPy node, Python construct or option physgraph cannot compile; the message names it."""


class TraceError(PhysgraphError, TypeError):
    """Tracing a Python function hit something that depends on a symbolic value."""
