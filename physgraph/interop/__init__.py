"""Compiled kernels inside other frameworks: PyTorch, JAX, awkward arrays, Dask, CuPy.

Each module imports its framework only when used, so none of them is a dependency of
physgraph itself.  Each registers the arrays a kernel takes (``physgraph.foreign``) when it
is imported, which is here.
"""
from . import awkward_, cupy_, dask_, jax_  # noqa: F401  (their foreign.register calls)
