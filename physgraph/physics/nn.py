"""Network layers on traced values: dense layers, activations, batch-norm folding, ``MLP``.

A layer is written with the same traced scalars as the physics, so one kernel can compute
invariant masses and angles and feed them to a tagger.  Weights come in two ways:

- as params (``weights="param"``, the default): the kernel takes them per call, so one
  compiled kernel runs any weights of the same shape.  A wide layer (``m * k >= WIDE``)
  becomes one ``CONTRACT`` node per output row, which the backends run as a matrix product
  over a block of events; a narrow one is written out as scalar multiply-adds in the fused
  per-event body.
- baked as constants (``weights="const"``): every weight is a literal in the kernel, and a
  weight that is exactly zero builds no node at all, so a pruned network costs only its
  non-zero weights (as hls4ml does for FPGAs).
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..frontend import scalar as sc
from ..graph import Arg, Graph, Op, identifier
from .linalg import Mat, Vec, _mul, _sum

WIDE = 256        # m * k from which a param layer runs as a matrix product, not scalar code


# ---- activations (elementwise on a scalar, a Vec or a list) ---------------------------------
def _elementwise(fn):
    def apply(x, *args, **kwargs):
        if isinstance(x, (Vec, list, tuple)):
            return Vec([fn(v, *args, **kwargs) for v in x])
        return fn(x, *args, **kwargs)
    apply.__name__, apply.__doc__ = fn.__name__, fn.__doc__
    return apply


@_elementwise
def relu(x):
    """max(x, 0), written as where(x < 0, 0, x): NaN stays NaN as in torch, and a select
    (unlike a NaN-aware maximum) vectorizes in the numba loop."""
    return sc.where(x < 0, 0, x)


@_elementwise
def tanh(x):
    """Hyperbolic tangent."""
    return sc.tanh(x)


@_elementwise
def sigmoid(x):
    """1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving exactly 0."""
    return 1 / (1 + sc.exp(-x))


@_elementwise
def gelu(x):
    """GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2: torch's ``GELU()``."""
    return 0.5 * x * (1 + sc.erf(x * 0.7071067811865476))


@_elementwise
def gelu_tanh(x):
    """GELU in its tanh approximation, torch's ``GELU(approximate="tanh")``."""
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)     # sqrt(2 / pi)
    return 0.5 * x * (1 + sc.tanh(inner))


@_elementwise
def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` as in torch's Softplus."""
    return sc.where(x * beta > threshold, x, sc.log(1 + sc.exp(x * beta)) / beta)


ACTIVATIONS = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid, "gelu": gelu,
               "gelu_tanh": gelu_tanh, "softplus": softplus, None: None, "linear": None}


# ---- dense layers ---------------------------------------------------------------------------
def _graph(values):
    return next((v.g for v in values if isinstance(v, sc.Scalar)), None)


def _param_matrix(W: Mat):
    """(graph, position) when ``W`` is exactly a whole ``pg.Param[m, k]`` argument."""
    g = _graph(W.elements())
    if g is None:
        return None
    m, k = W.shape
    first = W.elements()[0]
    if not isinstance(first, sc.Scalar) or g.ops[first.i] is not Op.PARAM:
        return None
    pos = g.attrs[first.i][0]
    if g.signature[pos].shape != (m, k):
        return None
    for r in range(m):
        for c in range(k):
            e = W[r, c]
            if not isinstance(e, sc.Scalar) or g.ops[e.i] is not Op.PARAM or \
                    g.attrs[e.i] != (pos, (r, c)):
                return None
    return g, pos


def dense(x, W, b=None, *, contract: bool | None = None) -> Vec:
    """``W @ x + b`` for a per-event vector ``x`` (traced values or numbers).

    ``W`` is a numpy array (baked in; exact zeros are dropped) or a ``pg.Param[m, k]``
    argument (per call); ``b`` likewise, or None.  A param matrix with ``m * k >= WIDE``
    (or ``contract=True``) runs as a matrix product over events.
    """
    x = list(x)
    if isinstance(W, np.ndarray):
        if W.ndim != 2 or W.shape[1] != len(x):
            raise UnsupportedError(f"dense: weights of shape {W.shape} for an input of "
                                   f"length {len(x)}")
        rows = [[float(w) for w in row] for row in W]
    elif isinstance(W, Mat):
        if W.shape[1] != len(x):
            raise UnsupportedError(f"dense: a {W.shape} matrix for an input of length {len(x)}")
        rows = W.rows
        found = _param_matrix(W)
        wide = W.shape[0] > 1 and W.shape[0] * W.shape[1] >= WIDE
        if found is not None and (contract if contract is not None else wide) and \
                _graph(x) is not None:
            g, pos = found
            args = tuple(v.i if isinstance(v, sc.Scalar) else g.const(v) for v in x)
            y = Vec([sc.Scalar(g, g.node(Op.CONTRACT, args, (pos, r)))
                     for r in range(W.shape[0])])
            return y if b is None else _add_bias(y, b)
    else:
        raise UnsupportedError(f"dense: weights must be a numpy array or a pg.Param[m, k] "
                               f"argument, got {type(W).__name__}")
    y = Vec([_sum(_mul(w, v) for w, v in zip(row, x)) for row in rows])
    return y if b is None else _add_bias(y, b)


def _add_bias(y: Vec, b) -> Vec:
    bias = [float(v) for v in b] if isinstance(b, np.ndarray) else list(b)
    if len(bias) != len(y):
        raise UnsupportedError(f"dense: a bias of length {len(bias)} for {len(y)} outputs")
    return Vec(_sum([v, c]) for v, c in zip(y, bias))


def fold_batchnorm(W: np.ndarray, b: np.ndarray | None, gamma, beta, mean, var,
                   eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """The dense layer equal to ``dense(W, b)`` followed by batch normalization (inference:
    running statistics): one layer instead of two, at the cost of one."""
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    b = np.zeros(W.shape[0]) if b is None else np.asarray(b, np.float64)
    return np.asarray(W, np.float64) * scale[:, None], (b - mean) * scale + beta


# ---- MLP ------------------------------------------------------------------------------------
class MLP:
    """A stack of dense layers with activations.

    ``layers``: list of (W, b) numpy arrays, W of shape (out, in).  ``activations``: one
    name (after every layer but the last) or one entry per layer: a name in
    ``ACTIVATIONS``, a callable on traced values, a list of them, or None.
    ``weights``: "param" (per call, one kernel for any weights) or "const" (baked in).
    ``contract``: param layers as matrix products always (True), never (False), or from
    ``WIDE`` on (None).
    """

    def __init__(self, layers, activations="relu", *, weights: str = "param",
                 name: str = "mlp", contract: bool | None = None):
        if weights not in ("param", "const"):
            raise ValueError(f"weights must be 'param' or 'const', got {weights!r}")
        self.layers = [(np.asarray(W, np.float64),
                        np.zeros(len(W)) if b is None else np.asarray(b, np.float64))
                       for W, b in layers]
        for k in range(1, len(self.layers)):
            if self.layers[k][0].shape[1] != self.layers[k - 1][0].shape[0]:
                raise UnsupportedError(f"layer {k} takes {self.layers[k][0].shape[1]} inputs, "
                                       f"layer {k - 1} gives {self.layers[k - 1][0].shape[0]}")
        if isinstance(activations, (str, type(None))) or callable(activations):
            activations = [activations] * (len(self.layers) - 1) + [None]
        if len(activations) != len(self.layers):
            raise ValueError(f"{len(activations)} activations for {len(self.layers)} layers")
        self.activations = [_activation_list(a) for a in activations]
        self.weights = weights
        self.name = name
        self.contract = contract

    def __repr__(self) -> str:
        sizes = [self.layers[0][0].shape[1]] + [W.shape[0] for W, _ in self.layers]
        return f"<pg.nn.MLP {self.name} {'-'.join(map(str, sizes))} weights={self.weights}>"

    @property
    def n_in(self) -> int:
        return self.layers[0][0].shape[1]

    @property
    def n_out(self) -> int:
        return self.layers[-1][0].shape[0]

    @classmethod
    def from_torch(cls, module, *, weights: str = "param", name: str = "mlp",
                   contract: bool | None = None) -> "MLP":
        """An MLP from a ``torch.nn.Sequential`` of Linear, BatchNorm1d (folded into the
        Linear before it), ReLU, Tanh, Sigmoid, GELU (both forms), Softplus,
        Identity and Dropout (inference: nothing) layers."""
        layers, activations = sequential_layers(module)
        return cls(layers, activations, weights=weights, name=name, contract=contract)

    def parameters(self) -> dict[str, np.ndarray]:
        """The weights by argument name, for a kernel's keywords: ``k(x, **mlp.parameters())``."""
        out = {}
        for k, (W, b) in enumerate(self.layers):
            out[f"{self.name}_W{k}"] = W
            out[f"{self.name}_b{k}"] = b
        return out

    def __call__(self, x) -> Vec:
        """The network on a per-event vector of traced values (inside a traced function)."""
        x = list(x)
        if len(x) != self.n_in:
            raise UnsupportedError(f"{self!r} takes {self.n_in} inputs, got {len(x)}")
        g = _graph(x)
        for k, ((W, b), acts) in enumerate(zip(self.layers, self.activations)):
            if self.weights == "param" and g is not None:
                Wp = _param(g, f"{self.name}_W{k}", W)
                bp = Vec(_param(g, f"{self.name}_b{k}", b).rows[0])
                x = dense(x, Wp, bp, contract=self.contract)
            else:
                x = dense(x, W, b)
            for act in acts:
                x = act(x)
        return Vec(x)

    def compile(self, **options):
        """A kernel of one ``(N, n_in)`` input ``x`` returning ``(N, n_out)``."""
        from ..api import compile as pg_compile

        def network(x):
            return self(x)
        network.__annotations__ = {"x": Vec[self.n_in]}
        return pg_compile(network, name=options.pop("name", self.name), **options)


def _activation_list(a) -> list:
    items = a if isinstance(a, (list, tuple)) else [a]
    out = []
    for item in items:
        if callable(item):
            out.append(item)
        elif item in ACTIVATIONS:
            if ACTIVATIONS[item] is not None:
                out.append(ACTIVATIONS[item])
        else:
            raise UnsupportedError(f"activation {item!r}; known: "
                                   f"{', '.join(k for k in ACTIVATIONS if k)}")
    return out


def _param(g: Graph, name: str, value: np.ndarray) -> Mat:
    """The traced param argument ``name`` (added to the signature, default ``value``, once)."""
    shape = value.shape if value.ndim == 2 else (1, value.shape[0])
    pos = next((k for k, a in enumerate(g.signature) if a.name == name), None)
    if pos is None:
        taken = {a.ident for a in g.signature}
        default = np.array(value, np.float64)
        default.flags.writeable = False
        pos = g.add_arg(Arg(name, identifier(name, taken), value.shape, "param",
                            default=default))
    elif g.signature[pos].shape != value.shape or \
            not np.array_equal(g.signature[pos].default, value):
        raise UnsupportedError(f"two different networks named {name.rsplit('_', 1)[0]!r} in "
                               "one kernel; give them different names (MLP(..., name=...))")
    if value.ndim == 1:
        return Mat([[sc.Scalar(g, g.leaf(pos, (c,))) for c in range(shape[1])]])
    return Mat([[sc.Scalar(g, g.leaf(pos, (r, c))) for c in range(shape[1])]
                for r in range(shape[0])])


# ---- reading a torch model ------------------------------------------------------------------
def sequential_layers(module) -> tuple[list, list]:
    """((W, b) per Linear, activations after each) of a torch Sequential, batch norms folded."""
    import torch.nn as tnn
    layers, activations = [], []
    simple = {tnn.ReLU: "relu", tnn.Tanh: "tanh", tnn.Sigmoid: "sigmoid"}
    for m in (module if isinstance(module, tnn.Sequential) else [module]):
        if isinstance(m, tnn.Linear):
            b = None if m.bias is None else m.bias.detach().double().numpy()
            layers.append((m.weight.detach().double().numpy(), b))
            activations.append([])
            continue
        if isinstance(m, (tnn.Identity, tnn.Dropout)):
            continue
        if not layers:
            raise UnsupportedError(f"{type(m).__name__} before the first Linear layer")
        if isinstance(m, tnn.BatchNorm1d):
            if activations[-1]:
                raise UnsupportedError("BatchNorm1d after an activation cannot be folded "
                                       "into the Linear layer before it")
            W, b = layers[-1]
            layers[-1] = fold_batchnorm(
                W, b, _or_ones(m.weight, m.num_features), _or_zeros(m.bias, m.num_features),
                m.running_mean.double().numpy(), m.running_var.double().numpy(), m.eps)
        elif type(m) in simple:
            activations[-1].append(simple[type(m)])
        elif isinstance(m, tnn.GELU):
            activations[-1].append("gelu_tanh" if m.approximate == "tanh" else "gelu")
        elif isinstance(m, tnn.Softplus):
            beta, threshold = float(m.beta), float(m.threshold)
            activations[-1].append(lambda x: softplus(x, beta, threshold))
        else:
            raise UnsupportedError(f"torch layer {type(m).__name__}; pg.nn.MLP takes Linear, "
                                   "BatchNorm1d, ReLU, Tanh, Sigmoid, GELU, Softplus")
    if not layers:
        raise UnsupportedError("no Linear layer in the torch module")
    return layers, activations


def _or_ones(p, n: int) -> np.ndarray:
    return np.ones(n) if p is None else p.detach().double().numpy()


def _or_zeros(p, n: int) -> np.ndarray:
    return np.zeros(n) if p is None else p.detach().double().numpy()


__all__ = ["dense", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "softplus", "fold_batchnorm", "MLP",
           "WIDE"]
