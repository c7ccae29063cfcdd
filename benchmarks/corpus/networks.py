"""Small network layers with fixed (trained-looking) weights, inputs per event."""
from itertools import pairwise

import numpy as np
import sympy as sp

from physgraph.bench.corpus import Case, Entry

GBC = "I. Goodfellow, Y. Bengio, A. Courville, Deep Learning (MIT Press, 2016) ch. 6"


def _weights(rows: int, cols: int, seed: int) -> sp.Matrix:
    w = np.round(np.random.default_rng(seed).normal(0, 0.5, (rows, cols)), 3)
    return sp.Matrix(rows, cols, lambda i, j: sp.Float(w[i, j]))


def _mlp(activation, sizes, seed: int) -> Case:
    x = sp.symbols(f"x0:{sizes[0]}")
    h = sp.Matrix(x)
    for k, (n_in, n_out) in enumerate(pairwise(sizes)):
        h = _weights(n_out, n_in, seed + k) * h + _weights(n_out, 1, seed + 10 + k)
        if k < len(sizes) - 2:
            h = h.applyfunc(activation)
    return Case(list(h), list(x))


def _softmax() -> Case:
    case = _mlp(sp.tanh, (4, 6, 3), 7)
    e = [sp.exp(z) for z in case.outputs]
    return Case([z / sum(e) for z in e], case.inputs)


ENTRIES = [
    Entry("mlp-tanh-4-8-1", GBC + " (feedforward network, tanh units)",
          lambda: _mlp(sp.tanh, (4, 8, 1), 1)),
    Entry("mlp-relu-5-8-8-2", GBC + " (rectified linear units)",
          lambda: _mlp(lambda z: sp.Max(0, z), (5, 8, 8, 2), 2)),
    Entry("mlp-softmax-4-6-3", GBC + " (softmax output units)", _softmax),
]
