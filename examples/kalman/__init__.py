"""Track fitting on a toy telescope: ``telescope`` (detector and generator), ``fit`` (the
physgraph Kalman fit), ``peers`` (NumPy-batched, filterpy and JAX versions of the same fit),
``validate`` (pulls and chi2 on simulated tracks).  Run from the repository root, e.g.
``python -m examples.kalman.validate``."""
