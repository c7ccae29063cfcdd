"""The LLVM backend: LLVM IR text that computes W events at once on ``<W x double>`` vectors,
compiled with llvmlite for the host CPU and called through ctypes.

Vectorization is by construction: every node is one vector instruction over W events (W = 4
doubles with AVX2, 8 with AVX-512, twice as many floats), so nothing depends on an
auto-vectorizer.  The kernel ``void kernel(i64 lo, i64 hi, ptr args)`` runs events
``[lo, hi)``, ``hi - lo >= W``; ``args`` is an array of 64-bit slots, per argument of the
signature and then per output: its pointer and its strides in elements (a scalar param: a
pointer to it).  Inputs are read where they are, lane by lane, so strided and broadcast
views need no copy.  The last vector of a range is moved back to end at ``hi``: it computes
a few events twice and writes the same values, which saves a second, masked copy of the
body (``Kernel`` refuses outputs that overlap inputs, so the recomputed events read what
they read the first time).  Per-call values are computed once, before the event loop.

Network layers stay matrix products (``contracts``): the body is cut into stages at them
(``staging.at_contractions``), and between two stages ``pg.product<id>`` multiplies the block
of events' operand columns by the weights in the scratch block, a register block of rows by
vectors of events at a time, each weight loaded once per step.  Expanded into scalar sums
instead, a layer's weights become per-call vectors that LLVM keeps on the stack, one load
per weight per vector of events.

The pipeline lowers complex values to pairs of reals for this backend (``real_only``);
a complex output is written as its two parts.  The loader (``llvm_run``) splits the events
across threads, each a ctypes call that releases the GIL.
"""
from __future__ import annotations

import dataclasses
import re
import struct

import numpy as np

from ..errors import UnsupportedError
from .. import cost, ops
from ..graph import Graph, Op, T
from . import contract, frame, llvm_run, staging, vecmath
from .printer import Printer, PrintContext

# the metadata a non-temporal store points at
_NONTEMPORAL = "!0 = !{i32 1}"
# LLVM IR instructions that take fast-math flags (``fastmath=True``)
_FLOAT_OPS = re.compile(r"^(fadd|fsub|fmul|fdiv|fneg|fcmp|call) ")


class LlvmPrinter(Printer):
    name = "llvm"
    has_fma = True
    # network layers stay matrix products, run between the stages they cut (``_product``)
    contracts = True
    # routines are functions of vectors (``_routine``), called where their calls are kept
    calls = True
    real_only = True
    comment = ";"
    suffix = ".ll"
    spelling = ops.spellings("llvm")
    # A body of up to ``one_function_max`` per-event nodes is one function: cut into stages,
    # a matrix element hands tens of thousands of values between them through memory and
    # runs at half the speed.  Past that, LLVM's time per node grows with the function, so a
    # longer body is cut into stages of ``part_size`` nodes (benchmarks/README.md, "Why
    # long bodies are cut").
    one_function_max = 60000
    # a body up to this size is printed twice, the second copy storing whole rows of
    # events around the cache (``_dispatch``); memory-bound bodies are short
    rows_max = 4000
    # a body with more per-call values than this (a network layer's weights) computes on
    # vectors of two registers: LLVM keeps each per-call value as a vector on the stack,
    # and one load of it then serves twice the events
    wide_min = 256
    part_size = 4000
    # a body of more per-event nodes than this keeps the printed (depth-first) order of its
    # instructions: LLVM's machine scheduler, reordering them for parallelism, lengthens the
    # values' lives in a long body until they spill (benchmarks/README.md has the numbers)
    source_order_min = 10000

    def __init__(self, dtype: str = "float64", fastmath: bool = False, **options):
        super().__init__(dtype, fastmath, **options)
        scalar = "double" if dtype == "float64" else "float"
        # wide: two registers per vector (``kernel_source`` prints such bodies with it)
        self.wide = options.get("wide", False)
        bits = llvm_run.vector_bits() * (2 if self.wide else 1)
        self.vector = vecmath.Vector(scalar, bits // (64 if dtype == "float64" else 32))
        self.bools = f"<{self.vector.width} x i1>"
        # the op table's {t}, {m}, {b} for this vector type, filled in once
        typed = {"{t}": self.vector.type, "{m}": self.vector.mangling, "{b}": self.bools}
        self.spelling = {op: ops.Spelling(_fill(s.template, typed, fastmath), s.imports)
                         for op, s in self.spelling.items()}

    # ---- values ----------------------------------------------------------------------------
    def literal(self, value) -> str:
        if isinstance(value, bool):
            return f"splat (i1 {'true' if value else 'false'})"
        if isinstance(value, complex):
            return "complex"   # only an output's value: store() writes its parts
        return f"splat ({self.vector.scalar} {_hex(float(value), self.vector.scalar)})"

    def read(self, ctx: PrintContext, i: int) -> str:
        if ctx.routine:                    # an argument, loaded from its slot (``_routine``)
            return f"%a{ctx.graph.attrs[i][0]}"
        return f"%{'p' if ctx.graph.ops[i] is Op.PARAM else 'x'}{i}"

    def write(self, out: str, index: tuple) -> str:
        return "_".join(map(str, index))

    def expr(self, g: Graph, i: int, names: list) -> str:
        if any(g.ops[a] is Op.CONST and isinstance(g.attrs[a], complex) for a in g.args[i]):
            raise UnsupportedError("a complex constant reached the LLVM printer as an operand")
        return super().expr(g, i, _Operands(names))

    def _print_POWI(self, g: Graph, i: int, args: list) -> str:
        t, m = self.vector.type, self.vector.mangling
        return f"call {t} @llvm.powi.{m}.i32({t} {args[0]}, i32 {g.attrs[i]})"

    def _print_WHERE(self, g: Graph, i: int, args: list) -> str:
        t = self.bools if g.types[i] is T.BOOL else self.vector.type
        return f"select {self.bools} {args[0]}, {t} {args[1]}, {t} {args[2]}"

    def _print_COMPLEX(self, g: Graph, i: int, args: list) -> str:
        return ""                # no complex type: store() writes the two parts

    # ---- routine calls (through the frame: ``backends/frame.py``) ----------------------------
    def call(self, ctx: PrintContext, i: int, names: list) -> list[str]:
        key = frame.call_key(ctx.graph, i)
        return [f"call fastcc void @{_routine_name(key[0])}(ptr %frame, ptr getelementptr "
                f"inbounds (i32, ptr @pg.slots, i64 {ctx.frame.row[key]}))"]

    def call_result(self, ctx: PrintContext, i: int) -> list[str]:
        slot = ctx.frame.base[frame.call_key(ctx.graph, i)] + ctx.graph.attrs[i][1]
        return [*self._slot(f"%t{i}", slot), f"%t{i} = load {self.vector.type}, ptr %t{i}.f, "
                f"align {self._vector_bytes}"]

    def store_for_calls(self, ctx: PrintContext, i: int, names: list) -> list[str]:
        return [*self._slot(f"%t{i}.c", ctx.frame.stored[i]),
                f"store {self.vector.type} {_ref(names[i])}, ptr %t{i}.c.f, "
                f"align {self._vector_bytes}"]

    def _slot(self, name: str, slot: int) -> list[str]:
        return [f"{name}.f = getelementptr {self.vector.type}, ptr %frame, i64 {slot}"]

    @property
    def _vector_bytes(self) -> int:
        return self.vector.width * np.dtype(self.dtype).itemsize

    def _frame_lines(self, ctx: PrintContext) -> tuple[list[str], list[str]]:
        """(module lines: the slot table; entry lines: the frame) of a body with calls."""
        f = ctx.frame
        if f is None:
            return [], []
        table = ", ".join(f"i32 {slot * self._vector_bytes}" for slot in f.table)
        return ([f"; frame: {f.size} vectors, {len(f.row)} calls",
                 f"@pg.slots = private unnamed_addr constant [{len(f.table)} x i32] [{table}]"],
                [f"%frame = alloca {self.vector.type}, i64 {f.size}, "
                 f"align {self._vector_bytes}"])

    def _routine(self, routine) -> list[str]:
        """The routine as a function of the frame and its call's row of slots: it reads
        each argument from its slot and writes its results from the row's first slot on;
        not inlined, so one copy of its code serves every call."""
        body, t, ind, align = routine.graph, self.vector.type, self.indent, self._vector_bytes
        # the arguments first, %a<n> to the shared printer (``read``), which then stores
        # each result where the row says (``store``); the table holds byte offsets,
        # zero-extended: an argument is two instructions
        lines = ["%base.32 = load i32, ptr %slots", "%base.64 = zext i32 %base.32 to i64",
                 "%base = getelementptr i8, ptr %frame, i64 %base.64"]
        for n in range(len(body.signature)):
            lines += [f"%s{n}.p = getelementptr i32, ptr %slots, i64 {n + 1}",
                      f"%s{n}.32 = load i32, ptr %s{n}.p",
                      f"%s{n} = zext i32 %s{n}.32 to i64",
                      f"%a{n}.f = getelementptr i8, ptr %frame, i64 %s{n}",
                      f"%a{n} = load {t}, ptr %a{n}.f, align {align}"]
        preamble, bodies = self.staged_lines(PrintContext(body, (T.REAL,) * len(body.outputs),
                                                          routine=True))
        lines += preamble + bodies[0]
        return [f"; {routine.name}: {cost.flops(body)} flops",
                f"define internal fastcc void @{_routine_name(routine)}(ptr nocapture %frame, "
                "ptr nocapture readonly %slots) noinline nounwind {", "entry:",
                *(ind + line for line in lines), f"{ind}ret void", "}", ""]

    def assign(self, g: Graph, i: int, expr: str) -> str | None:
        if g.ops[i] is Op.COMPLEX:
            return None
        return f"%t{i} = {expr}"

    def store(self, ctx: PrintContext, node: int, target: str, names: list,
              k: int) -> list[str]:
        if ctx.routine:                    # result k, into the row's k-th slot
            return [f"%r{k}.f = getelementptr {self.vector.type}, ptr %base, i64 {k}",
                    f"store {self.vector.type} {_ref(names[node])}, ptr %r{k}.f, "
                    f"align {self._vector_bytes}"]
        if k not in ctx.row_outputs:
            return self._store_lanes(ctx, node, target, names, k)
        # held until the output's last element is known, then stored as whole rows
        pending = ctx.pending.setdefault(k, {})
        pending[target] = _ref(names[node])
        if len(pending) < len(ctx.graph.outputs[k].nodes):
            return []
        return self._store_rows(ctx, k)

    def _store_rows(self, ctx: PrintContext, k: int) -> list[str]:
        """Output k's elements for the W events as E whole vectors of the W x E block of
        rows, with non-temporal stores: vector m holds block element m W + l in lane l,
        element (m W + l) mod E of event (m W + l) div E.  Only in the rows loop, which
        runs where the rows are contiguous and start on a vector boundary."""
        out, w, s = f"%o{k}", self.vector.width, self.vector.scalar
        t, size = self.vector.type, np.dtype(self.dtype).itemsize
        pending = ctx.pending.pop(k)
        values = [pending[self.write("", index)]
                  for index in np.ndindex(*ctx.graph.outputs[k].shape)]
        e = len(values)
        lines = [f"{out}.rb = getelementptr {s}, ptr {out}, i64 {out}.r"]
        for m in range(e):
            picks = [(values[j % e], j // e) for j in range(m * w, (m + 1) * w)]
            lines += _gathered(f"{out}.u{m}", self.vector, picks)
            lines += [f"{out}.w{m} = getelementptr {s}, ptr {out}.rb, i64 {m * w}",
                      f"store {t} {out}.u{m}, ptr {out}.w{m}, align {w * size}, "
                      "!nontemporal !0"]
        return lines

    def _store_lanes(self, ctx: PrintContext, node: int, target: str, names: list,
                     k: int) -> list[str]:
        g, out, s = ctx.graph, f"%o{k}", self.vector.scalar
        name = f"{out}_{target}"
        index = tuple(int(d) for d in target.split("_") if d)
        lines = _offset(f"{name}.c", out, index, 1) + [f"{name}.o = add i64 {out}.r, {name}.c"]
        if ctx.out_types[k] is T.BOOL:        # numpy's bools are bytes
            lines.append(f"{name}.z = zext {self.bools} {_ref(names[node])} to "
                         f"<{self.vector.width} x i8>")
            return lines + self._lanes(name, out, "i8", f"{name}.z", f"{name}.o")
        if ctx.out_types[k] is not T.COMPLEX:
            return lines + self._lanes(name, out, s, _ref(names[node]), f"{name}.o")
        if g.ops[node] is Op.COMPLEX:
            re, im = (_ref(names[a]) for a in g.args[node])
        elif g.ops[node] is Op.CONST and isinstance(g.attrs[node], complex):
            re, im = self.literal(g.attrs[node].real), self.literal(g.attrs[node].imag)
        else:
            re, im = _ref(names[node]), self.literal(0.0)
        # the imaginary part is the element after the real one
        return lines + self._lanes(f"{name}.re", out, s, re, f"{name}.o") + \
            [f"{name}.o1 = add i64 {name}.o, 1"] + \
            self._lanes(f"{name}.im", out, s, im, f"{name}.o1")

    def _lanes(self, name: str, array: str, scalar: str, value: str, offset: str) -> list[str]:
        """Stores lane l of ``value`` at element ``offset`` + l * (event stride) of ``array``.
        Plain stores: non-temporal ones (``!nontemporal``, movnti per element) made the
        kalman-update 20% slower (12.2 against 9.9 M events/s with out=, same run)."""
        lanes = f"<{self.vector.width} x {scalar}>"
        lines = [f"{name}.b = getelementptr {scalar}, ptr {array}, i64 {offset}"]
        for lane in range(self.vector.width):
            lines += [f"{name}.e{lane} = extractelement {lanes} {value}, i32 {lane}",
                      f"{name}.p{lane} = getelementptr {scalar}, ptr {name}.b, "
                      f"i64 {array}.l{lane}",
                      f"store {scalar} {name}.e{lane}, ptr {name}.p{lane}"]
        return lines

    # ---- the kernel ------------------------------------------------------------------------
    def imports(self, g: Graph) -> list[str]:
        """The definitions of the vector functions the live ops call (routines' included)."""
        imported = super().imports
        names = dict.fromkeys(name for h in (g, *(r.graph for r in _routines(g)))
                              for name in imported(h))
        return [line for name in names
                for line in vecmath.definition(name, self.vector, llvm_run.vector_bits())]

    def kernel_source(self, ctx: PrintContext, name: str) -> str:
        g = ctx.graph
        members = contract.groups(g, g.live(), g.varying())     # network layers
        if not members and not self.wide and _per_call_values(g) > self.wide_min:
            return LlvmPrinter(self.dtype, self.fastmath,
                               **{**self.options, "wide": True}).kernel_source(ctx, name)
        size = staging.body_size(g)
        routines = _routines(g)
        if members and routines:
            raise UnsupportedError("routine calls and network layers in one llvm kernel: "
                                   "compile it with calls=False")
        if members:
            plan = staging.at_contractions(g)
        elif routines:
            # one function: its calls pass values through its frame (with calls kept, the
            # body is short: the routines' code is theirs)
            plan = staging.by_size(g, size + 1)
            ctx = dataclasses.replace(ctx, frame=frame.plan(g))
        else:
            plan = staging.by_size(g, self.part_size if size > self.one_function_max
                                   else size + 1)
        preamble, bodies = self.staged_lines(ctx, plan)
        roles = " ".join("scalar" if a.role == "param" and not a.shape else a.role
                         for a in g.signature)
        w, s = self.vector.width, self.vector.scalar
        # lines every function has; LLVM drops those a stage does not use
        table, alloca = self._frame_lines(ctx)
        entry = alloca + self._arguments(ctx) + self._params(ctx) + preamble
        loads = self._rows(ctx) + self._inputs(ctx)
        text = [self.header(g, name), f"; roles: {roles}", f"; vector: {w} x {s}",
                f"; registers: {llvm_run.vector_bits()} bits"]
        if size > self.source_order_min and not routines:
            # (with calls, the work is in the routines, short functions the scheduler helps)
            text.append(f"{llvm_run.SOURCE_ORDER} (the scheduler's reordering for parallelism "
                        "costs spills in a body this long)")
        text += table
        for routine in routines:
            text += ["", *self._routine(routine)]
        rows = frozenset(k for k, t in enumerate(ctx.out_types) if t is T.REAL)
        if plan.nstages == 1 and (size > self.rows_max or not rows):
            return "\n".join([*text, "", *self._function("kernel", entry, loads + bodies[0]),
                              ""])
        if plan.nstages == 1:
            # a short body twice: storing lane by lane, and storing whole rows around the
            # cache for outputs the caller keeps (``_store_rows``)
            in_rows = dataclasses.replace(ctx, pending={}, row_outputs=rows)
            _, rows_body = self.staged_lines(in_rows, plan)
            row_loads = self._rows(ctx) + self._input_rows(ctx)
            return "\n".join([
                *text, "", *self._function("pg.lanes", entry, loads + bodies[0], "internal "),
                "", *self._function("pg.rows", entry, row_loads + rows_body[0], "internal "), "",
                *self._dispatch(ctx, rows), "", _NONTEMPORAL, ""])
        return "\n".join(text + self._staged(ctx, plan, entry, loads, bodies, members) + [""])

    def _staged(self, ctx: PrintContext, plan: staging.Plan, entry: list[str],
                loads: list[str], bodies: list, members: dict) -> list[str]:
        """A staged body (a long one, or one cut at its contractions): one function per
        stage and one per matrix product, each run on a block of events in turn, the values
        crossing stages and the products' operands in a per-thread scratch block of
        columns, ``column`` events long (the last block may be up to W - 1 events longer
        than ``block``).  ``members``: the contractions' groups (``contract.groups``)."""
        g, w = ctx.graph, self.vector.width
        groups = _groups_by_stage(members, plan)
        width, columns = plan.width, {}          # group id -> (first x column, first y column)
        for grp in (grp for at in groups.values() for grp in at):
            columns[grp.id] = (width, width + len(grp.args))
            width += len(grp.args) + len(grp.rows)
        # a block holds a vector of events, and its columns (W events longer) the E vectors
        # a product computes at once
        block = staging.block_size(width, np.dtype(self.dtype).itemsize,
                                   smallest=max(8, w * (self.product_vectors - 1)))
        column = block + w
        text = [f"; scratch: {width} x {column}"]
        if groups:
            text.append(f"; the body in {plan.nstages} functions, cut at its "
                        f"{sum(map(len, groups.values()))} matrix products")
        else:
            text.append(f"; the body in {plan.nstages} functions of at most {self.part_size} "
                        "nodes (compile time grows faster than a function's size)")
        text += [f"@pg.rows{grp.id} = private unnamed_addr constant [{len(grp.rows)} x i64] "
                 f"[{', '.join(f'i64 {r}' for r in grp.rows)}]"
                 for at in groups.values() for grp in at]
        text.append("")
        calls = []
        for stage in range(plan.nstages):
            for grp in groups.get(stage, []):
                text += self._product(ctx, grp, *columns[grp.id], column) + [""]
                calls.append(f"pg.product{grp.id}")
            body = [line for n in plan.received[stage]
                    for line in self._received(g, n, plan.slots[n] * column)]
            # the products' results this stage may read (LLVM drops the loads it does not)
            body += [line for i, (grp, c) in members.items() if plan.stage[i] <= stage
                     for line in self._column_load(self.column(grp, c),
                                                   (columns[grp.id][1] + c) * column)]
            body += bodies[stage] + [line for n in plan.handed[stage]
                                     for line in self._handed(g, n, plan.slots[n] * column)]
            # the operands of the products that run after this stage
            for grp in groups.get(stage + 1, []):
                for k, a in enumerate(grp.args):
                    body += self._column_store(f"%x{grp.id}.{k}", self._operand(ctx, a, members),
                                               (columns[grp.id][0] + k) * column)
            # not internal: the loader may compile stages as modules of their own, in parallel
            text += self._function(f"pg.stage{stage}", entry, loads + body, "",
                                   "noinline ") + [""]
            calls.append(f"pg.stage{stage}")
        return text + self._driver(calls, block)

    def _function(self, name: str, entry: list[str], body: list[str], linkage: str = "",
                  attributes: str = "") -> list[str]:
        """A function that runs events [lo, hi) in vectors of W; hi - lo >= W."""
        w, ind = self.vector.width, self.indent
        loop = ["%i0 = phi i64 [ %lo, %entry ], [ %next, %loop ]",
                # the last vector ends at hi: a few events are computed twice
                "%i = call i64 @llvm.smin.i64(i64 %i0, i64 %last)",
                "%rel = sub i64 %i, %lo", *body,
                f"%next = add i64 %i0, {w}", "%more = icmp slt i64 %next, %hi",
                "br i1 %more, label %loop, label %exit"]
        return [f"define {linkage}void @{name}(i64 %lo, i64 %hi, ptr noalias nocapture "
                f"readonly %args, ptr noalias nocapture %scratch) {attributes}nounwind {{",
                "entry:", *(ind + line for line in entry),
                f"{ind}%last = sub i64 %hi, {w}", f"{ind}br label %loop", "loop:",
                *(ind + line for line in loop), "exit:", f"{ind}ret void", "}"]

    def _dispatch(self, ctx: PrintContext, rows: frozenset) -> list[str]:
        """The kernel of a short body: the rows loop on the whole vectors of [lo, hi) when
        the caller keeps the outputs (the call's last ``args`` slot), every real output is
        contiguous rows starting on a vector boundary at lo, and every input is contiguous
        rows; then, or else, the lanes loop on what is left."""
        w, size, ind = self.vector.width, np.dtype(self.dtype).itemsize, self.indent
        g = ctx.graph
        lines, flag = self._arguments(ctx), "%stream"
        for pos, a in enumerate(g.signature):
            if a.role == "input":
                lines += _dense(f"%a{pos}", a.shape) + [
                    f"%fast.a{pos} = and i1 {flag}, %a{pos}.dense"]
                flag = f"%fast.a{pos}"
        for k in sorted(rows):
            o = f"%o{k}"
            lines += _dense(o, g.outputs[k].shape) + [
                f"{o}.r0 = mul i64 %lo, {o}.s0",
                f"{o}.b0 = getelementptr {self.vector.scalar}, ptr {o}, i64 {o}.r0",
                f"{o}.a0 = ptrtoint ptr {o}.b0 to i64",
                f"{o}.m0 = and i64 {o}.a0, {w * size - 1}",
                f"{o}.z0 = icmp eq i64 {o}.m0, 0",
                f"%fast.{k}.z = and i1 {flag}, {o}.z0",
                f"%fast.{k} = and i1 %fast.{k}.z, {o}.dense"]
            flag = f"%fast.{k}"
        call = "call void @pg.{}(i64 {}, i64 {}, ptr %args, ptr %scratch)"
        lines += [f"br i1 {flag}, label %rows, label %lanes", "rows:",
                  "%count = sub i64 %hi, %lo", f"%whole = and i64 %count, {-w}",
                  "%mid = add i64 %lo, %whole", call.format("rows", "%lo", "%mid"),
                  # non-temporal stores are weakly ordered: done before the caller reads
                  "fence seq_cst", "%tail = icmp slt i64 %mid, %hi",
                  "br i1 %tail, label %last, label %exit", "last:",
                  f"%from = sub i64 %hi, {w}", call.format("lanes", "%from", "%hi"),
                  "br label %exit", "lanes:", call.format("lanes", "%lo", "%hi"),
                  "br label %exit", "exit:", "ret void"]
        return ["define void @kernel(i64 %lo, i64 %hi, ptr noalias nocapture readonly %args, "
                "ptr noalias nocapture %scratch) nounwind {", "entry:",
                *(line if line.endswith(":") else ind + line for line in lines), "}"]

    def _driver(self, functions: list[str], block: int) -> list[str]:
        """The kernel of a staged body: the stages and products in turn on each block of
        events; fewer than W events left after a block are added to it."""
        w, ind = self.vector.width, self.indent
        calls = [f"call void @{name}(i64 %b, i64 %e, ptr %args, ptr %scratch)"
                 for name in functions]
        lines = ["%b = phi i64 [ %lo, %entry ], [ %e, %block ]",
                 f"%e0 = add i64 %b, {block}", "%rest = sub i64 %hi, %e0",
                 f"%short = icmp slt i64 %rest, {w}", "%e = select i1 %short, i64 %hi, i64 %e0",
                 *calls, "%more = icmp slt i64 %e, %hi",
                 "br i1 %more, label %block, label %exit"]
        return ["define void @kernel(i64 %lo, i64 %hi, ptr noalias nocapture readonly %args, "
                "ptr noalias nocapture %scratch) nounwind {", "entry:", f"{ind}br label %block",
                "block:", *(ind + line for line in lines), "exit:", f"{ind}ret void", "}"]

    # ---- matrix products (network layers) ----------------------------------------------------
    # The product's register block: R rows by E vectors of events, R E accumulators.  Per
    # step of k it loads E vectors and R weights for R E FMAs; this shape keeps the loads
    # under the FMAs' issue rate and the accumulators in 16 registers.
    product_rows = 6
    product_vectors = 2

    def product(self, g: Graph, names: list, grp: contract.Group) -> list[str]:
        return []          # run between the stages, by pg.product<id> (``_product``)

    def column(self, grp: contract.Group, column: int) -> str:
        return f"%y{grp.id}.{column}"

    def _product(self, ctx: PrintContext, grp: contract.Group, x: int, y: int,
                 column: int) -> list[str]:
        """``pg.product<id>``: y[j] = sum_k W[rows[j], k] x[k] on a block of events, where
        x[k] and y[j] are the scratch columns ``x + k`` and ``y + j``.  Loops: R rows at a
        time (the last R moved back to end at the last row), E vectors of events at a time
        (the last ones moved back likewise; in a block shorter than E vectors they run past
        its events, into the column's spare W events, and those results are never read),
        and k, each weight loaded once per step and broadcast."""
        t, s, w = self.vector.type, self.vector.scalar, self.vector.width
        ind, nrows, size = self.indent, len(grp.rows), len(grp.args)
        r_count, vectors = min(self.product_rows, nrows), range(self.product_vectors)
        rng = range(r_count)
        acc = [(r, e) for r in rng for e in vectors]
        a, align = f"%a{grp.position}", np.dtype(self.dtype).itemsize
        rows = ["%j0 = phi i64 [ 0, %entry ], [ %j.next, %rows.next ]",
                f"%j = call i64 @llvm.smin.i64(i64 %j0, i64 {nrows - r_count})"]
        for r in rng:
            rows += [f"%jr{r} = add i64 %j, {r}",
                     f"%row{r}.p = getelementptr i64, ptr @pg.rows{grp.id}, i64 %jr{r}",
                     f"%row{r} = load i64, ptr %row{r}.p",
                     f"%row{r}.o = mul i64 %row{r}, {a}.s0",
                     f"%w{r} = getelementptr {s}, ptr {a}, i64 %row{r}.o"]
        events = ["%v0 = phi i64 [ 0, %rows ], [ %v.next, %store ]",
                  "%v1 = call i64 @llvm.smin.i64(i64 %v0, i64 %last)",
                  "%v = call i64 @llvm.smax.i64(i64 %v1, i64 0)",
                  f"%x.v = add i64 %v, {x * column}"]
        inner = ["%k = phi i64 [ 0, %events ], [ %k.next, %inner ]",
                 *(f"%acc{r}.{e} = phi {t} [ zeroinitializer, %events ], "
                   f"[ %acc{r}.{e}.next, %inner ]" for r, e in acc),
                 f"%x.c = mul i64 %k, {column}", "%x.o = add i64 %x.v, %x.c",
                 f"%k.w = mul i64 %k, {a}.s1"]
        for e in vectors:
            inner += self._scratch(f"%x{e}", "%x.o", e * w) + [
                f"%x{e} = load {t}, ptr %x{e}.p, align {align}"]
        for r in rng:
            inner += [f"%w{r}.p = getelementptr {s}, ptr %w{r}, i64 %k.w",
                      f"%w{r}.s = load {s}, ptr %w{r}.p",
                      f"%w{r}.i = insertelement {t} poison, {s} %w{r}.s, i32 0",
                      f"%w{r}.v = shufflevector {t} %w{r}.i, {t} poison, <{w} x i32> "
                      "zeroinitializer"]
            inner += [f"%acc{r}.{e}.next = call {t} @llvm.fma.{self.vector.mangling}("
                      f"{t} %w{r}.v, {t} %x{e}, {t} %acc{r}.{e})" for e in vectors]
        inner += ["%k.next = add i64 %k, 1", f"%k.more = icmp slt i64 %k.next, {size}",
                  "br i1 %k.more, label %inner, label %store"]
        store = []
        for r in rng:
            store += [f"%y{r}.c = mul i64 %jr{r}, {column}",
                      f"%y{r}.o = add i64 %y{r}.c, {y * column}",
                      f"%y{r}.v = add i64 %y{r}.o, %v"]
            for e in vectors:
                store += self._scratch(f"%y{r}.{e}", f"%y{r}.v", e * w) + [
                    f"store {t} %acc{r}.{e}.next, ptr %y{r}.{e}.p, align {align}"]
        store += [f"%v.next = add i64 %v0, {w * len(vectors)}",
                  "%v.more = icmp slt i64 %v.next, %count",
                  "br i1 %v.more, label %events, label %rows.next"]
        blocks = {"rows": rows + ["br label %events"], "events": events + ["br label %inner"],
                  "inner": inner, "store": store,
                  "rows.next": [f"%j.next = add i64 %j0, {r_count}",
                                f"%j.more = icmp slt i64 %j.next, {nrows}",
                                "br i1 %j.more, label %rows, label %exit"]}
        lines = [f"; layer {size} -> {nrows}: a matrix product over the block's events",
                 f"define void @pg.product{grp.id}(i64 %lo, i64 %hi, ptr noalias nocapture "
                 "readonly %args, ptr noalias nocapture %scratch) noinline nounwind {", "entry:",
                 *(ind + line for line in self._arguments(ctx)),
                 f"{ind}%count = sub i64 %hi, %lo",
                 f"{ind}%last = sub i64 %count, {w * len(vectors)}",
                 f"{ind}br label %rows"]
        for label, body in blocks.items():
            lines += [f"{label}:", *(ind + line for line in body)]
        return lines + ["exit:", f"{ind}ret void", "}"]

    def _column_load(self, name: str, offset: int) -> list[str]:
        """``name`` = the current events' vector of the scratch column at ``offset``."""
        return self._scratch(name, "%rel", offset) + [
            f"{name} = load {self.vector.type}, ptr {name}.p, align {self._align}"]

    def _column_store(self, name: str, value: str, offset: int) -> list[str]:
        """``value`` for the current events into the scratch column at ``offset``."""
        return self._scratch(name, "%rel", offset) + [
            f"store {self.vector.type} {value}, ptr {name}.p, align {self._align}"]

    def _operand(self, ctx: PrintContext, i: int, members: dict) -> str:
        """Node i as an operand (the names ``staged_lines`` gives, as LLVM operands)."""
        op = ctx.graph.ops[i]
        if op is Op.CONST:
            return self.literal(ctx.graph.attrs[i])
        if op is Op.INPUT or op is Op.PARAM:
            return self.read(ctx, i)
        if i in members:
            return self.column(*members[i])
        return f"%t{i}"

    @property
    def _align(self) -> int:
        """Of a vector in the scratch: its events start anywhere (the last vector moves)."""
        return np.dtype(self.dtype).itemsize

    def _scratch(self, name: str, index: str, offset: int) -> list[str]:
        """``<name>.p``, the address of scratch element ``index`` + ``offset``."""
        return [f"{name}.o = add i64 {index}, {offset}",
                f"{name}.p = getelementptr {self.vector.scalar}, ptr %scratch, i64 {name}.o"]

    def _handed(self, g: Graph, n: int, offset: int) -> list[str]:
        """Node n's value into its scratch column (a bool as 0.0 or 1.0)."""
        if g.types[n] is not T.BOOL:
            return self._column_store(f"%h{n}", f"%t{n}", offset)
        return [f"%h{n}.f = uitofp {self.bools} %t{n} to {self.vector.type}",
                *self._column_store(f"%h{n}", f"%h{n}.f", offset)]

    def _received(self, g: Graph, n: int, offset: int) -> list[str]:
        """Node n's value from its scratch column."""
        if g.types[n] is not T.BOOL:
            return self._column_load(f"%t{n}", offset)
        return [*self._column_load(f"%h{n}.f", offset),
                f"%t{n} = fcmp une {self.vector.type} %h{n}.f, zeroinitializer"]

    def _arguments(self, ctx: PrintContext) -> list[str]:
        """Entry lines: each argument's and output's pointer and strides from ``args``, and
        each stride times each lane."""
        g = ctx.graph
        arrays = [(f"%a{pos}", a.role, len(a.shape)) for pos, a in enumerate(g.signature)]
        arrays += [(f"%o{k}", "output", len(o.shape)) for k, o in enumerate(g.outputs)]
        lines, slot = [], 0
        for name, role, dims in arrays:
            lines += [f"{name}.q = getelementptr i64, ptr %args, i64 {slot}",
                      f"{name} = load ptr, ptr {name}.q"]
            slot += 1
            if role == "scalar" or (role == "param" and dims == 0):
                continue
            for d in range(dims + (role != "param")):
                lines += [f"{name}.q{d} = getelementptr i64, ptr %args, i64 {slot}",
                          f"{name}.s{d} = load i64, ptr {name}.q{d}"]
                slot += 1
            if role != "param":
                lines += [f"{name}.l{lane} = mul i64 {lane}, {name}.s0"
                          for lane in range(self.vector.width)]
        # the last slot: whether the caller keeps the outputs (``_dispatch``)
        return lines + [f"%stream.q = getelementptr i64, ptr %args, i64 {slot}",
                        "%stream.v = load i64, ptr %stream.q",
                        "%stream = icmp ne i64 %stream.v, 0"]

    def _params(self, ctx: PrintContext) -> list[str]:
        """Entry lines: each live param element, loaded and splat to a vector."""
        g, live = ctx.graph, ctx.graph.live()
        s, t, w = self.vector.scalar, self.vector.type, self.vector.width
        lines = []
        for i in range(len(g)):
            if not live[i] or g.ops[i] is not Op.PARAM:
                continue
            pos, idx = g.attrs[i]
            lines += _offset(f"%p{i}.c", f"%a{pos}", idx, 0)
            lines += [f"%p{i}.a = getelementptr {s}, ptr %a{pos}, i64 %p{i}.c",
                      f"%p{i}.s = load {s}, ptr %p{i}.a",
                      f"%p{i}.v = insertelement {t} poison, {s} %p{i}.s, i32 0",
                      f"%p{i} = shufflevector {t} %p{i}.v, {t} poison, <{w} x i32> "
                      "zeroinitializer"]
        return lines

    def _rows(self, ctx: PrintContext) -> list[str]:
        """Loop lines: the offset of event i in each input and output."""
        g = ctx.graph
        lines = [f"%a{pos}.r = mul i64 %i, %a{pos}.s0"
                 for pos, a in enumerate(g.signature) if a.role == "input"]
        return lines + [f"%o{k}.r = mul i64 %i, %o{k}.s0" for k in range(len(g.outputs))]

    def _inputs(self, ctx: PrintContext) -> list[str]:
        """Loop lines: each live input element of W events, lane by lane."""
        g, live = ctx.graph, ctx.graph.live()
        s, t = self.vector.scalar, self.vector.type
        lines = []
        for i in range(len(g)):
            if not live[i] or g.ops[i] is not Op.INPUT:
                continue
            pos, idx = g.attrs[i]
            a, x = f"%a{pos}", f"%x{i}"
            lines += _offset(f"{x}.c", a, idx, 1)
            lines += [f"{x}.o = add i64 {a}.r, {x}.c",
                      f"{x}.b = getelementptr {s}, ptr {a}, i64 {x}.o"]
            last = "poison"
            for lane in range(self.vector.width):
                name = x if lane == self.vector.width - 1 else f"{x}.v{lane}"
                lines += [f"{x}.p{lane} = getelementptr {s}, ptr {x}.b, i64 {a}.l{lane}",
                          f"{x}.e{lane} = load {s}, ptr {x}.p{lane}",
                          f"{name} = insertelement {t} {last}, {s} {x}.e{lane}, i32 {lane}"]
                last = name
        return lines

    def _input_rows(self, ctx: PrintContext) -> list[str]:
        """Loop lines of the rows loop: each input's W x E block of rows as E vector
        loads, and each live element's vector gathered from them (element e of event l
        is block element l E + e)."""
        g, live = ctx.graph, ctx.graph.live()
        s, t, w = self.vector.scalar, self.vector.type, self.vector.width
        used: dict = {}
        for i in range(len(g)):
            if live[i] and g.ops[i] is Op.INPUT:
                pos, idx = g.attrs[i]
                used.setdefault(pos, []).append((i, idx))
        lines = []
        for pos, elements in used.items():
            a, shape = f"%a{pos}", g.signature[pos].shape
            e = int(np.prod(shape, dtype=np.int64))
            lines.append(f"{a}.rb = getelementptr {s}, ptr {a}, i64 {a}.r")
            align = np.dtype(self.dtype).itemsize
            for m in range(e):
                lines += [f"{a}.w{m} = getelementptr {s}, ptr {a}.rb, i64 {m * w}",
                          f"{a}.u{m} = load {t}, ptr {a}.w{m}, align {align}"]
            for i, idx in elements:
                flat = int(np.ravel_multi_index(idx, shape)) if shape else 0
                picks = [(f"{a}.u{j // w}", j % w) for j in range(flat, w * e, e)]
                lines += _gathered(f"%x{i}", self.vector, picks)
        return lines

    # ---- running ---------------------------------------------------------------------------
    def load(self, source: str, name: str = "kernel", path: str | None = None):
        return llvm_run.load(source, path)

    def run(self, fn, n: int, arrays: list, outs: list) -> None:
        llvm_run.run(fn, n, arrays, outs)

    def run_into(self, fn, n: int, arrays: list, outs: list) -> None:
        llvm_run.run(fn, n, arrays, outs, stream=True)


def _offset(name: str, array: str, index: tuple, first: int) -> list[str]:
    """Lines that define ``name`` as the offset of element ``index`` within one event (or
    one param): the sum of index[d] * stride[d + first], strides named ``<array>.s<d>``.
    The offsets are loop-invariant: LLVM hoists them out of the event loop."""
    total, lines = "0", []
    for d, k in enumerate(index, first):
        if k:
            lines += [f"{name}.m{d} = mul i64 {k}, {array}.s{d}",
                      f"{name}.a{d} = add i64 {total}, {name}.m{d}"]
            total = f"{name}.a{d}"
    return lines + [f"{name} = add i64 {total}, 0"]


def _gathered(name: str, vector: vecmath.Vector, picks: list) -> list[str]:
    """Lines that define ``name`` as the vector whose lane l is lane ``picks[l][1]`` of the
    vector ``picks[l][0]`` (LLVM turns the chain into shuffles)."""
    t, s, last, lines = vector.type, vector.scalar, "poison", []
    for lane, (source, at) in enumerate(picks):
        into = name if lane == len(picks) - 1 else f"{name}.v{lane}"
        lines += [f"{name}.e{lane} = extractelement {t} {source}, i32 {at}",
                  f"{into} = insertelement {t} {last}, {s} {name}.e{lane}, i32 {lane}"]
        last = into
    return lines


def _groups_by_stage(members: dict, plan: staging.Plan) -> dict[int, list]:
    """stage -> the matrix products whose contractions are in it (``contract.groups``'
    ``members``), in order of appearance: they run before it, on operands the stage
    before stored."""
    by_stage: dict[int, dict] = {}
    for i, (grp, _) in members.items():
        by_stage.setdefault(plan.stage[i], {})[grp.id] = grp
    return {stage: list(at.values()) for stage, at in by_stage.items()}


def _per_call_values(g: Graph) -> int:
    """Live per-call values of a body: params and values computed once per call."""
    live, var = g.live(), g.varying()
    return sum(1 for i in range(len(g)) if live[i] and not var[i] and g.ops[i] is not Op.CONST)


def _dense(array: str, shape: tuple) -> list[str]:
    """Entry lines: ``<array>.dense``, whether the array's events are contiguous rows (its
    strides, in elements, are those of a C-contiguous array of ``shape`` per event)."""
    lines, flag, step = [], "true", 1
    for d in range(len(shape), -1, -1):
        both = f"{array}.dense" if d == 0 else f"{array}.f{d}"
        lines += [f"{array}.d{d} = icmp eq i64 {array}.s{d}, {step}",
                  f"{both} = and i1 {flag}, {array}.d{d}"]
        flag = both
        step *= shape[d - 1] if d else 1
    return lines


def _fill(template: str, typed: dict, fastmath: bool) -> str:
    for key, value in typed.items():
        template = template.replace(key, value)
    return _FLOAT_OPS.sub(r"\1 fast ", template) if fastmath else template


def _routines(g: Graph) -> list:
    """The routines the live graph calls, in order of first call."""
    if Op.CALL not in g.ops:
        return []
    live = g.live()
    # by what they compute: two routine objects of the same body are one function
    return list({r.key: r for r in (g.attrs[i][0] for i in range(len(g))
                                    if live[i] and g.ops[i] is Op.CALL)}.values())


def _routine_name(routine) -> str:
    return f'"pg.{routine.name}.{routine.key[:12]}"'


def _ref(name: str) -> str:
    """An operand: SSA temporaries are named ``t<id>`` by the shared printer."""
    return f"%{name}" if name.startswith("t") else name


class _Operands:
    """The shared printer's names of nodes, read as LLVM operands."""

    def __init__(self, names: list):
        self.names = names

    def __getitem__(self, i: int) -> str:
        return _ref(self.names[i])


def _hex(value: float, scalar: str) -> str:
    """An exact LLVM constant: a double's bits (a float's value, widened, for float)."""
    if scalar == "float":
        value = float(np.float32(value))
    return "0x" + struct.pack(">d", value).hex().upper()
