"""The ways in: traced Python functions (``tracer``, recording the traced scalar of
``scalar`` on arguments declared with ``argtype``) and SymPy expressions (``sympy_io``)."""
