"""CuPy: a kernel called on CuPy arrays runs on the cuda backend where they are, and returns
CuPy arrays (nothing is copied to the host); the launch is the cuda backend's."""
from __future__ import annotations

from .. import foreign

foreign.register(("cupy",), backend="cuda")
