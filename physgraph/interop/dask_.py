"""Dask: a kernel called on dask arrays returns dask arrays, one kernel call per chunk.

Chunks run where Dask puts them (threads, processes or a ``distributed`` cluster); events
are split along axis 0 only, so an argument's per-event axes are rechunked to one chunk and
every input is aligned to the first one's event chunks.  With several outputs, each chunk
runs the kernel once and the outputs are views of that one result.
"""
from __future__ import annotations

import string
from functools import partial
from operator import itemgetter

import numpy as np

from .. import foreign
from .. import structure as structure_mod
from ..errors import ShapeError
from .derived import flat_outputs


def call(k, args: tuple, kwargs: dict, out=None):
    import dask.array as da
    if out is not None:
        raise ShapeError("out= takes numpy arrays; on dask arrays the kernel returns new ones")
    values = k._bind(args, kwargs)
    sig = k.input_graph.signature
    lazy = [p for p, v in enumerate(values) if isinstance(v, da.Array)]
    chunks = None
    operands = []
    for p in lazy:
        x = values[p]
        if x.ndim == 0 or sig[p].role == "param":
            raise ShapeError(f"argument {sig[p].name!r}: dask arrays are for per-event inputs "
                             "with events along axis 0; pass params as numpy values")
        chunks = chunks or x.chunks[0]
        x = x.rechunk((chunks, *(-1,) * (x.ndim - 1)))
        operands += [x, "i" + string.ascii_lowercase[:x.ndim - 1]]

    resident = [None if p in lazy else v for p, v in enumerate(values)]   # shipped per task
    block = partial(_block, k, resident, lazy)
    outputs = k.input_graph.outputs
    dtypes = [k._out_dtype(t) for t in k._out_types]
    letters = string.ascii_uppercase
    results = []
    if len(outputs) == 1:
        results.append(_output(da, partial(_single, block), operands, outputs[0], dtypes[0],
                               letters))
    else:
        packed = da.blockwise(block, "i", *operands, dtype=object, concatenate=True,
                              meta=np.empty((0,), object))
        for j, (o, dt) in enumerate(zip(outputs, dtypes)):
            results.append(_output(da, itemgetter(j), [packed, "i"], o, dt, letters))
    return structure_mod.unflatten(k.structure, results)


def _block(k, values: list, lazy: list, *blocks) -> tuple:
    """The kernel on one chunk: ``blocks`` replace the dask arguments at ``lazy``."""
    vals = list(values)
    for p, b in zip(lazy, blocks):
        vals[p] = b
    return tuple(flat_outputs(k.structure, k(*vals)))


def _single(block, *blocks):
    return block(*blocks)[0]


def _output(da, fn, operands: list, o, dtype, letters: str):
    """One output as a dask array: (events, *o.shape), one block per event chunk."""
    index = "i" + letters[:len(o.shape)]
    new_axes = dict(zip(letters, o.shape))
    return da.blockwise(fn, index, *operands, dtype=dtype, concatenate=True,
                        new_axes=new_axes, meta=np.empty((0,) * len(index), dtype))


foreign.register(("dask",), call=call)
