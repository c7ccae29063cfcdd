"""The physics library, written with traced values: four-vectors (``lorentz``), small
matrices (``linalg``), loops over layers (``scan``), derivatives (``diff``), HELAS
wavefunctions and vertices (``helas``), colour algebra (``color``), phase space (``rambo``)
and network layers (``nn``); and what is built with them: matrix elements ported from
MadGraph (``processes``), a toy telescope (``telescope``) and its Kalman track fit
(``kalman``), which the benchmarks and the examples share.

It is user-level code beside the frontends: it builds graphs through the traced scalar, and
nothing below the graph (passes, backends, Kernel) imports it.
"""
