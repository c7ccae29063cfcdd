"""The registry of other frameworks' arrays that Kernel.__call__ asks (physgraph.foreign)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import physgraph as pg
from physgraph import foreign


class FrameworkArray:
    """Stands for an array type of a framework called ``fakeframe``."""


FrameworkArray.__module__ = "fakeframe.core"


class Subclassed(FrameworkArray):
    """Defined elsewhere, like vector's records on awkward's arrays: found through its base."""


@pg.compile(backend="numpy")
def double(x):
    return 2 * x


def test_a_registered_framework_takes_the_call_over_subclasses_too(monkeypatch):
    calls = []

    def call(k, args, kwargs, out):
        calls.append((k, args, kwargs))
        return "handled"
    monkeypatch.setitem(foreign._BY_PACKAGE, "fakeframe", foreign.Accepted(call=call))
    x = Subclassed()
    assert double(x) == "handled" and double(np.ones(2), scale=x) == "handled"
    assert calls[0] == (double, (x,), {}) and calls[1][2] == {"scale": x}
    assert foreign.call_for([np.ones(2), 1.0, [1.0]]) is None   # numpy and plain values


def test_a_registered_device_framework_names_its_backend(monkeypatch):
    monkeypatch.setitem(foreign._BY_PACKAGE, "fakeframe", foreign.Accepted(backend="cuda"))
    assert foreign.backend_for([np.ones(2), FrameworkArray()]) == "cuda"
    assert foreign.call_for([FrameworkArray()]) is None
    assert foreign.backend_for([np.ones(2)]) is None


def test_the_interop_modules_register_without_importing_their_frameworks():
    code = ("import sys, physgraph.foreign as f; r = f._BY_PACKAGE; "
            "print(bool(r['awkward'].call and r['dask'].call), r['jax'].backend, "
            "r['cupy'].backend, sorted({'awkward', 'dask', 'jax', 'cupy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["True", "jax", "cuda", "[]"]


def test_register_takes_one_way_to_handle_arrays():
    with pytest.raises(TypeError, match="exactly one"):
        foreign.register(("fakeframe",))
    with pytest.raises(TypeError, match="exactly one"):
        foreign.register(("fakeframe",), call=print, backend="cuda")
