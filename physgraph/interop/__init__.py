"""Compiled kernels inside other frameworks: PyTorch, JAX, awkward arrays, Dask.

Each module imports its framework only when used, so none of them is a dependency of
physgraph itself.
"""
