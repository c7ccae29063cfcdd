"""Awkward arrays: a kernel called on awkward arrays returns awkward arrays.

- A record array passed alone is a bundle of arguments: its fields are matched to the
  kernel's argument names (``k(events)`` with fields ``mu1``, ``mu2``).
- A four-vector argument (``pg.Vec4``) takes records of the ``vector`` package
  (``Momentum4D`` in any coordinates: their E, px, py, pz are read through vector) or
  records with fields E/t, px/x, py/y, pz/z.
- Jagged inputs (a list of muons per event) are broadcast against each other, flattened to
  one (M,) batch, computed in one kernel call, and every output is unflattened back to the
  same jagged structure.
"""
from __future__ import annotations

import numpy as np

from .. import foreign
from .. import structure as structure_mod
from ..errors import ShapeError, UnsupportedError
from .derived import flat_outputs

_VEC4 = (("E", "t", "energy"), ("px", "x"), ("py", "y"), ("pz", "z"))


def _is_awkward(v) -> bool:
    return any(c.__module__.startswith("awkward") for c in type(v).__mro__)


def _fields(v) -> list:
    return list(v.fields) if _is_awkward(v) else []


def _expand_record(k, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``k(events)``: the fields of one record array as the kernel's arguments by name."""
    sig = k.input_graph.signature
    if len(args) == 1 and not kwargs and len(sig) > 0:
        fields = _fields(args[0])
        needed = [a.name for a in sig if a.default is None]
        if fields and all(name in fields for name in needed) and \
                not (len(needed) == 1 and sig[0].shape == (4,) and _is_vec4(args[0])):
            return (), {a.name: args[0][a.name] for a in sig if a.name in fields}
    return args, kwargs


def _is_vec4(v) -> bool:
    fields = set(_fields(v))
    try:
        return all(hasattr(v, names[0]) or fields & set(names) for names in _VEC4)
    except Exception:                                   # noqa: BLE001 - vector may refuse
        return False


def _vec4_numpy(v, name: str) -> np.ndarray:
    """(M, 4) E, px, py, pz of a flat array of four-vector records."""
    import awkward as ak
    fields = set(_fields(v))
    cols = []
    for names in _VEC4:
        found = next((n for n in names if n in fields), None)
        col = v[found] if found is not None else getattr(v, names[0], None)
        if col is None:
            raise UnsupportedError(f"argument {name!r} is a record without four-vector "
                                   f"components ({'/'.join(names)}); fields: {sorted(fields)}")
        cols.append(ak.to_numpy(col))
    return np.stack(cols, axis=-1)


def call(k, args: tuple, kwargs: dict, out=None):
    """``k`` on awkward arrays (and per-call values): awkward arrays in k's structure."""
    import awkward as ak
    if out is not None:
        raise ShapeError("out= takes numpy arrays; on awkward arrays the kernel returns new ones")
    args, kwargs = _expand_record(k, args, kwargs)
    values = k._bind(args, kwargs)
    sig = k.input_graph.signature
    positions = [p for p, v in enumerate(values) if _is_awkward(v)]
    jagged = ak.broadcast_arrays(*(values[p] for p in positions)) if positions else []
    depth = [_list_depth(x, sig[p]) for x, p in zip(jagged, positions)]
    deepest = max(range(len(jagged)), key=depth.__getitem__, default=None)
    counts = []
    if deepest is not None:
        template = jagged[deepest]
        for _ in range(depth[deepest] - 1):
            counts.append(ak.num(template, axis=1))
            template = ak.flatten(template, axis=1)
    for x, p in zip(jagged, positions):
        for _ in range(len(counts)):
            x = ak.flatten(x, axis=1)
        values[p] = _vec4_numpy(x, sig[p].name) if _fields(x) else ak.to_numpy(x)
    outs = flat_outputs(k.structure, k(*values))
    results = []
    for o in outs:
        arr = ak.Array(np.asarray(o))
        for c in reversed(counts):
            arr = ak.unflatten(arr, c)
        results.append(arr)
    return structure_mod.unflatten(k.structure, results)


def _list_depth(x, arg) -> int:
    """Nesting of ``x`` above one element of ``arg`` (1: one value per event)."""
    inner = 0 if _fields(x) else len(arg.shape)
    return x.ndim - inner


foreign.register(("awkward",), call=call)
