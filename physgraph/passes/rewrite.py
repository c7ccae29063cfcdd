"""Passes as data, and the one driver that runs them.

A ``Pass`` names the pipeline options it reads and either a table of rules keyed by op
(rewrites) or an order of the nodes to keep (dead-code elimination, scheduling).  The driver
walks the live nodes of the old graph in creation order: a node whose op has a rule goes to
that rule, which returns the node replacing it in the new graph, or None for "no rewrite";
every other node is rebuilt from its mapped arguments through the folding ``Builder``.
Outputs are remapped at the end.  Folding itself is the driver with no rules at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable, Mapping

from ..graph import Graph, Op
from .builder import Builder

# rule(rewrite, old node id) -> the node replacing it in the new graph, or None: rebuilt as is
Rule = Callable[["Rewrite", int], object]


class Rewrite:
    """One run of a pass over ``old``: what its rules read and build with."""

    def __init__(self, old: Graph, builder: Builder, options: dict):
        self.old = old
        self.b = builder
        self.new = builder.g
        self.options = options
        self.mapping: list = [0] * len(old)    # old id -> its node in new (or what a rule
        #                                        keeps there, e.g. a (re, im) pair)
        self.visit = old.live()                # nodes the driver walks; a pass's start may
        #                                        drop the ones its rules absorb into others
        self.state = None                      # what the pass's start made for its rules

    def args(self, i: int) -> list:
        """The new nodes of old node ``i``'s arguments."""
        m = self.mapping
        return [m[a] for a in self.old.args[i]]

    def rebuild(self, i: int) -> int:
        """Old node ``i`` built in the new graph from its mapped arguments, as it is."""
        old = self.old
        return self.b.build(old.ops[i], tuple(self.args(i)), old.attrs[i])

    @cached_property
    def users(self) -> list[int]:
        """Uses of each old node by live nodes and outputs (``Graph.users``)."""
        return self.old.users()

    @cached_property
    def sole_user(self) -> list[int]:
        """The live node that is the only use of each old node; -1 where there is none,
        several, or the use is an output."""
        old, users = self.old, self.users
        live, args = old.live(), old.args
        sole = [-1] * len(old)
        for i in range(len(old)):
            if live[i]:
                for a in args[i]:
                    if users[a] == 1:
                        sole[a] = i
        return sole


@dataclass(frozen=True, eq=False)
class Pass:
    """A graph -> graph pass: called with the options it reads (keywords), nothing else."""
    name: str
    options: Mapping[str, object] = field(default_factory=dict)   # name -> default value
    rules: Mapping[Op, Rule] = field(default_factory=dict)        # the driver runs these
    order: Callable[[Graph], Iterable[int]] | None = None  # instead of rules: the nodes to
    #                                                       keep, in order (renumbered)
    applies: Callable[[Graph, dict], bool] | None = None   # False: the graph is returned as is
    start: Callable[[Rewrite], object] | None = None       # per-run state for the rules
    output: Callable[[Rewrite, object], int] | None = None  # an output's node from its mapping
    folding: bool = True                                   # rebuild through the folding Builder
    # score: where given, the pass returns the lowest-scoring of its input and its results,
    # one per variant of the graph (extra options its start reads); ties keep the earlier
    score: Callable[[Graph], float] | None = None
    variants: Callable[[Graph], Iterable[dict]] = lambda g: ({},)

    @property
    def __name__(self) -> str:
        return self.name

    def __call__(self, g: Graph, **options) -> Graph:
        unknown = options.keys() - self.options.keys()
        if unknown:
            raise TypeError(f"pass {self.name} got unknown option(s) {', '.join(sorted(unknown))};"
                            f" it reads {', '.join(sorted(self.options)) or 'none'}")
        options = {**self.options, **options}
        if self.applies is not None and not self.applies(g, options):
            return g
        if self.order is not None:
            return g.renumbered(self.order(g))
        if self.score is None:
            return _drive(self, g, options)
        results = [g] + [_drive(self, g, {**options, **v}) for v in self.variants(g)]
        return min(results, key=self.score)

    def run(self, g: Graph, options: Mapping) -> Graph:
        """Run with a pipeline's options: the ones this pass reads."""
        return self(g, **{k: v for k, v in options.items() if k in self.options})


def _drive(p: Pass, g: Graph, options: dict) -> Graph:
    rw = Rewrite(g, Builder(g.empty_like(), options.get("unsafe", False), p.folding), options)
    if p.start is not None:
        rw.state = p.start(rw)
    rule_for = p.rules.get
    build, m, visit = rw.b.build, rw.mapping, rw.visit
    ops, args, attrs, remap = g.ops, g.args, g.attrs, rw.mapping.__getitem__
    for i in range(len(g)):
        if not visit[i]:
            continue
        op = ops[i]
        rule = rule_for(op)
        if rule is not None:
            new = rule(rw, i)
            if new is not None:
                m[i] = new
                continue
        m[i] = build(op, tuple(map(remap, args[i])), attrs[i])
    if p.output is not None:
        m = {n: p.output(rw, m[n]) for n in g.output_nodes()}
    rw.new.remap_outputs(g, m)
    return rw.new


# Constant folding and the safe identities (see fold.py): no rules, every live node rebuilt
# through the folding Builder.
fold = Pass("fold", options={"unsafe": False})
