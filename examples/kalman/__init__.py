"""Track fitting on a toy telescope: ``validate`` (pulls and chi2 on simulated tracks, flops
of the structured and the dense fit).  The detector and generator are
``physgraph.physics.telescope``, the fit ``physgraph.physics.kalman``, its peers
``physgraph.bench.kalman_peers``.  Run from the repository root, e.g.
``python -m examples.kalman.validate``."""
