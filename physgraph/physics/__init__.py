"""The physics library, written with traced values: four-vectors (``lorentz``), small
matrices (``linalg``), loops over layers (``scan``), derivatives (``diff``), HELAS
wavefunctions and vertices (``helas``), colour algebra (``color``), phase space (``rambo``)
and network layers (``nn``).

It is user-level code beside the frontends: it builds graphs through the traced scalar, and
nothing below the graph (passes, backends, Kernel) imports it.
"""
