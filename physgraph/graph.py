"""The IR: a hash-consed SSA DAG of per-event scalars.

A graph is a node table kept as parallel lists (op code, argument ids, attribute, value type)
with integer ids and one dict for hash-consing.  Ids are assigned in creation order, which is
a topological order, so every walk is a plain loop over ``range(len(g))`` (or its reverse):
nothing here recurses, and a graph of 10^6 nodes costs a few hundred bytes per node.

Per-event inputs and per-call params are leaves that point at an element of a kernel argument
(``Arg``); outputs are flat tuples of node ids with the shape the kernel returns them in.
"""
from __future__ import annotations

import builtins
import gc
import hashlib
import keyword
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Number

import numpy as np

from . import ops
from .errors import UnsupportedError
from .ops import DEFS, Op, T


# Module-level names for the members that per-node code tests: ``Op.X`` goes through
# EnumType.__getattr__, five times slower than a global (it adds up over 10^6 nodes).
INPUT, PARAM, CONST, ADD, SUB, MUL, DIV, NEG, FMA, POWI, POW, WHERE = (
    Op.INPUT, Op.PARAM, Op.CONST, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.NEG, Op.FMA, Op.POWI, Op.POW,
    Op.WHERE)
REAL = T.REAL


def _where(rule: str) -> frozenset:
    return frozenset(op for op, d in DEFS.items() if d.result == rule)


LEAVES = _where(ops.LEAF)
COMPARISONS = _where(ops.BOOL)
LOGICAL = _where(ops.LOGIC)
COMMUTATIVE = frozenset(op for op, d in DEFS.items() if d.commutative)
REAL_ONLY = frozenset(op for op, d in DEFS.items() if d.real_only)
# CONTRACT takes one argument per column of its matrix
VARIADIC = frozenset(op for op, d in DEFS.items() if d.arity is None)
_NUMERIC = _where(ops.NUMERIC)
_FIXED_RESULT = {ops.BOOL: T.BOOL, ops.REAL: T.REAL, ops.COMPLEX: T.COMPLEX}


def arity(op: Op) -> int | None:
    """Number of arguments of ``op`` (None: any number)."""
    return DEFS[op].arity


_ARITY_OF = {op: arity(op) for op in Op}


def normalize_const(value):
    """Constants are Fraction (exact integers and rationals), float, complex or bool."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (complex, np.complexfloating)):
        return complex(value)
    if isinstance(value, Number):
        return float(value)
    raise UnsupportedError(f"constant {value!r} of type {type(value).__name__}")


def const_key(value):
    """Hash key of a normalized constant: tells 1 from 1.0, -0.0 from 0.0, and NaN equals NaN."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, Fraction):
        return ("q", value.numerator, value.denominator)
    if isinstance(value, float):
        return ("f", value.hex())
    return ("c", value.real.hex(), value.imag.hex())


def const_type(value) -> T:
    if isinstance(value, bool):
        return T.BOOL
    return T.COMPLEX if isinstance(value, complex) else T.REAL


_RESERVED = re.compile(r"^(t\d+|out\d+|i|n|np|nb|jnp|jax|math|kernel|cuda|pg_\w*)$")


def identifier(name: str, taken: set) -> str:
    """A valid, unreserved identifier for generated code, unique among ``taken``."""
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "a_" + ident
    while ident in taken or keyword.iskeyword(ident) or _RESERVED.match(ident) \
            or hasattr(builtins, ident):
        ident += "_"
    taken.add(ident)
    return ident


def canonical_args(op: Op, args: tuple) -> tuple:
    """The arguments in the order the hash-consing key uses: a commutative op's sorted
    (all are binary: a wrong count fails here), an FMA's two factors sorted."""
    if op in COMMUTATIVE:
        a, b = args
        return (b, a) if a > b else (a, b)
    if op is FMA and args[0] > args[1]:
        return (args[1], args[0], args[2])
    return tuple(args)


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector off while graphs are built, optimized or printed.

    That work makes millions of small tuples (and next to no reference cycles), and every
    collection of the oldest generation walks all of them: 10-40% of the time on big graphs.
    The collector is back on when the use that found it on ends, exceptions included, so
    nesting is fine.  It is one switch for the process: with compiles in several threads
    it may come back on while another still runs (that one is then only slower), and a
    ``gc.disable()`` made elsewhere meanwhile is undone.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@dataclass(frozen=True)
class Arg:
    """One argument of a kernel: a per-event input or a per-call param."""
    name: str                         # the user's name (keyword for params)
    ident: str                        # identifier in generated code
    shape: tuple[int, ...] = ()       # per-event (or per-call) shape; () is a scalar
    role: str = "input"               # "input" or "param"
    symmetric: bool = False           # square input of which only i <= j is read
    default: object = None            # default value of a param, None if required

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def indices(self):
        """Element indices in row-major order."""
        return list(np.ndindex(*self.shape)) if self.shape else [()]


@dataclass(frozen=True)
class Output:
    """One array the kernel returns: ``nodes`` holds its elements in row-major order."""
    name: str
    shape: tuple[int, ...]
    nodes: tuple[int, ...]


class Routine:
    """A function the graph calls (``Op.CALL``): ``graph`` reads one real scalar input per
    argument and has one real scalar output per result.  Identity is the object (nodes
    compare attrs by it, cheaply); ``repr`` names the body's hash, so graph keys, and
    with them the kernel cache, see what it computes."""
    __slots__ = ("name", "graph", "_key")

    def __init__(self, name: str, graph: "Graph"):
        if any(a.shape or a.role != "input" for a in graph.signature) or \
                any(o.shape for o in graph.outputs):
            raise ValueError(f"routine {name}: arguments and results must be scalar inputs")
        self.name, self.graph, self._key = name, graph, None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = self.graph.key()
        return self._key

    def __repr__(self) -> str:
        return f"Routine({self.name}, {self.key[:16]})"

    def __reduce__(self):
        return (Routine, (self.name, self.graph))


@dataclass
class Graph:
    ops: list = field(default_factory=list)
    args: list = field(default_factory=list)
    attrs: list = field(default_factory=list)
    types: list = field(default_factory=list)
    signature: list = field(default_factory=list)    # list[Arg]
    outputs: list = field(default_factory=list)      # list[Output]
    _index: dict = field(default_factory=dict, repr=False)
    _analyses: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        return f"<Graph {len(self)} nodes, {len(self.signature)} args, {len(self.outputs)} outputs>"

    # ---- building -------------------------------------------------------------------------
    def node(self, op: Op, args: tuple = (), attr=None) -> int:
        """The id of node (op, args, attr), created if new; commutative args are sorted."""
        args = canonical_args(op, args)
        if op is CONST:
            attr = normalize_const(attr)
            key = (op, args, const_key(attr))
        else:
            key = (op, args, attr)
        found = self._index.get(key)
        if found is not None:
            return found
        expected = _ARITY_OF[op]
        if expected is not None and len(args) != expected:
            raise ValueError(f"{op.name} takes {expected} arguments, got {len(args)}")
        typ = self._result_type(op, args, attr)
        i = len(self.ops)
        self.ops.append(op)
        self.args.append(args)
        self.attrs.append(attr)
        self.types.append(typ)
        self._index[key] = i
        return i

    def const(self, value) -> int:
        return self.node(Op.CONST, (), value)

    def add_arg(self, arg: Arg) -> int:
        if any(a.name == arg.name for a in self.signature):
            raise ValueError(f"duplicate argument name {arg.name!r}")
        self.signature.append(arg)
        return len(self.signature) - 1

    def leaf(self, position: int, index: tuple = ()) -> int:
        """The node reading element ``index`` of argument ``position``."""
        arg = self.signature[position]
        if arg.symmetric and index[0] > index[1]:
            index = (index[1], index[0])
        op = Op.PARAM if arg.role == "param" else Op.INPUT
        return self.node(op, (), (position, tuple(index)))

    def _result_type(self, op: Op, args: tuple, attr) -> T:
        """The value type of a new node, by its op's type rule (``ops.OpDef.result``)."""
        if op is CONST:
            return const_type(attr)
        if op is INPUT or op is PARAM:
            return REAL
        types = self.types
        if op in _NUMERIC:                        # the common case, first: real operands
            for a in args:
                if types[a] is not REAL:
                    break
            else:
                return REAL
        ts = [types[a] for a in args]
        rule = DEFS[op].result
        if rule == ops.SELECT:
            if ts[0] is not T.BOOL:
                raise UnsupportedError("where() needs a boolean condition")
            if (ts[1] is T.BOOL) != (ts[2] is T.BOOL):
                raise UnsupportedError("where() cannot mix boolean and numeric branches")
            return max(ts[1], ts[2])
        if rule == ops.LOGIC:
            if any(t is not T.BOOL for t in ts):
                raise UnsupportedError(f"{op.name.lower()} needs boolean operands")
            return T.BOOL
        if rule == ops.CONTRACT:
            if any(t is not T.REAL for t in ts):
                raise UnsupportedError("a contraction (network layer) of complex or boolean values")
            return T.REAL
        if rule == ops.CALL:
            routine, k = attr
            if any(t is not T.REAL for t in ts) or len(args) != len(routine.graph.signature):
                raise UnsupportedError(f"a call of {routine.name} takes "
                                       f"{len(routine.graph.signature)} real arguments")
            return T.REAL
        if any(t is T.BOOL for t in ts):
            raise UnsupportedError(f"{op.name.lower()} of a boolean value; use where(cond, 1.0, 0.0)")
        if op in REAL_ONLY and any(t is T.COMPLEX for t in ts):
            raise UnsupportedError(f"{op.name.lower()} of a complex value")
        return _FIXED_RESULT.get(rule, max(ts))

    # ---- derived graphs -------------------------------------------------------------------
    def empty_like(self) -> "Graph":
        """A graph with the same signature and no nodes (passes build into it)."""
        return Graph(signature=list(self.signature))

    def renumbered(self, order) -> "Graph":
        """The nodes ``order`` (ids here, each after its arguments), renumbered densely in
        that order: the same nodes without a rebuild through ``node`` (no type inference,
        no folding), for passes that only drop or reorder nodes."""
        new = self.empty_like()
        mapping = [0] * len(self)
        ops, args, attrs, types = self.ops, self.args, self.attrs, self.types
        put_op, put_args, put_attr, put_type = (new.ops.append, new.args.append,
                                                new.attrs.append, new.types.append)
        index, remap = new._index, mapping.__getitem__
        for i in order:
            op, attr = ops[i], attrs[i]
            a = canonical_args(op, tuple(map(remap, args[i])))
            mapping[i] = index[(op, a, const_key(attr) if op is CONST else attr)] = len(new.ops)
            put_op(op)
            put_args(a)
            put_attr(attr)
            put_type(types[i])
        new.remap_outputs(self, mapping)
        return new

    def remap_outputs(self, old: "Graph", mapping) -> None:
        self.outputs = [Output(o.name, o.shape, tuple(mapping[n] for n in o.nodes))
                        for o in old.outputs]

    # ---- analyses (all iterative) ---------------------------------------------------------
    def output_nodes(self) -> list[int]:
        return [n for o in self.outputs for n in o.nodes]

    def _memo(self, name: str, compute) -> bytearray:
        """An analysis of the graph as it is now (nodes are only ever appended; the
        outputs may be replaced), computed once; callers get their own copy."""
        state = (len(self.ops), tuple(self.output_nodes()))
        memo = self._analyses.get(name)
        if memo is None or memo[0] != state:
            memo = self._analyses[name] = (state, compute())
        return bytearray(memo[1])

    def live(self) -> bytearray:
        """live[i] == 1 when node i is needed by an output (reverse creation order walk)."""
        return self._memo("live", self._live)

    def varying(self) -> bytearray:
        """varying[i] == 1 when node i depends on a per-event input (0: per call or constant)."""
        return self._memo("varying", self._varying)

    def _live(self) -> bytearray:
        live = bytearray(len(self))
        for n in self.output_nodes():
            live[n] = 1
        args = self.args
        for i in range(len(self) - 1, -1, -1):
            if live[i]:
                for a in args[i]:
                    live[a] = 1
        return live

    def _varying(self) -> bytearray:
        var = bytearray(len(self))
        ops, args = self.ops, self.args
        for i in range(len(self)):
            if ops[i] is INPUT:
                var[i] = 1
                continue
            for a in args[i]:
                if var[a]:
                    var[i] = 1
                    break
        return var

    def users(self) -> list[int]:
        """Number of uses of each node (by live nodes and by outputs)."""
        count = [0] * len(self)
        live = self.live()
        for i, a in enumerate(self.args):
            if live[i]:
                for x in a:
                    count[x] += 1
        for n in self.output_nodes():
            count[n] += 1
        return count

    def key(self) -> str:
        """A hash of the canonical graph: same computation, same key."""
        h = hashlib.sha256()
        for i in range(len(self)):
            attr = self.attrs[i]
            if self.ops[i] is Op.CONST:
                attr = const_key(attr)
            h.update(repr((int(self.ops[i]), self.args[i], attr)).encode())
        h.update(repr(self.signature).encode())
        h.update(repr(self.outputs).encode())
        return h.hexdigest()

    def describe(self, i: int) -> str:
        """One node as text, for error messages and debugging."""
        op = self.ops[i]
        if op is Op.CONST:
            return repr(self.attrs[i])
        if op in (Op.INPUT, Op.PARAM):
            pos, idx = self.attrs[i]
            return self.signature[pos].ident + "".join(f"[{k}]" for k in idx)
        if op is Op.CONTRACT:
            pos, row = self.attrs[i]
            return f"contract({self.signature[pos].ident}[{row}]; " + \
                ", ".join(f"%{a}" for a in self.args[i]) + ")"
        if op is Op.CALL:
            routine, k = self.attrs[i]
            return f"{routine.name}({', '.join(f'%{a}' for a in self.args[i])})[{k}]"
        extra = f", {self.attrs[i]}" if op is Op.POWI else ""
        return f"{op.name.lower()}({', '.join(f'%{a}' for a in self.args[i])}{extra})"
