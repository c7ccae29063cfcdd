"""The ``physgraph`` command: ``bench`` (measure a workload), ``show`` (what the compiler did
to a function), ``import-madgraph`` (a MadGraph output as a Python module) and ``cache`` (the
on-disk kernel cache).  Each subcommand is one ``_add_<name>`` function that registers its
parser, and one function that runs it."""
from __future__ import annotations

import argparse
import shlex
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


# ---- physgraph bench ------------------------------------------------------------------------
def _add_bench(sub) -> None:
    from .bench.impls import KNOWN_BACKENDS
    from .bench.workloads import DEFAULT
    p = sub.add_parser(
        "bench", help="measure a workload: physgraph backends, peers, machine limits",
        description="Compile WORKLOAD with physgraph's backends and with the tools physicists "
        "use today, check every result against a float64 reference, time the correct ones, "
        "and place them against the machine's measured memory bandwidth and FMA peak.")
    p.add_argument("workload", nargs="?", default=DEFAULT,
                   help=f"workload name (default {DEFAULT}; see --list), or 'corpus': the "
                   "flops of the expression corpus, physgraph against other simplifiers")
    p.add_argument("--list", action="store_true", help="list workloads, backends and peers")
    p.add_argument("--events", type=_positive_int, default=None,
                   help="events per call (default: the workload's own)")
    p.add_argument("--backends", type=_names, default=list(KNOWN_BACKENDS),
                   help=f"physgraph backends, comma-separated (default {','.join(KNOWN_BACKENDS)})")
    p.add_argument("--peers", default="all",
                   help="peers, comma-separated, or 'all' or 'none' (default all)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--repeat", type=_positive_int, default=5, help="timed calls (median)")
    p.add_argument("--json", metavar="PATH", help="write the full record as JSON")
    p.add_argument("--csv", metavar="PATH", help="write one row per implementation as CSV")
    p.add_argument("--plot", metavar="PATH",
                   help="write a PNG of events/s against batch size (times a few batch sizes)")
    p.add_argument("--machine", metavar="NAME",
                   help="name of the machine in the JSON (default: CPU model and cores)")
    p.add_argument("--no-limits", action="store_true",
                   help="skip measuring triad bandwidth and FMA peak (no roofline fractions)")
    p.add_argument("--triad-mb", type=_positive_float, default=None,
                   help="MB per triad array (default: 4x the last-level cache)")
    p.add_argument("--corpus", metavar="DIR", default=None,
                   help="bench corpus: the expression corpus (default benchmarks/corpus)")
    p.add_argument("--only", type=_names, default=None,
                   help="bench corpus: only these entries, comma-separated")
    p.add_argument("--readme", metavar="PATH",
                   help="bench corpus: rewrite the corpus table section of this markdown file")
    p.set_defaults(func=_bench, parser=p)


def _peer_keys(text: str, parser: argparse.ArgumentParser, workload=None) -> list[str]:
    from .bench.peers import for_workload
    known = for_workload(workload)
    if text == "all":
        return list(known)
    if text == "none":
        return []
    keys = _names(text)
    unknown = [k for k in keys if k not in known]
    if unknown:
        parser.error(f"--peers: unknown peer(s) {', '.join(map(repr, unknown))}; known peers: "
                     f"{', '.join(known)} (or 'all', 'none')")
    return keys


def _check_backends(names: list[str], parser: argparse.ArgumentParser) -> None:
    from .backends import BACKENDS
    from .bench.impls import KNOWN_BACKENDS
    known = list(dict.fromkeys([*KNOWN_BACKENDS, *BACKENDS]))
    unknown = [b for b in names if b not in known]
    if unknown:
        parser.error(f"--backends: unknown backend(s) {', '.join(map(repr, unknown))}; "
                     f"known backends: {', '.join(known)}")


def _list() -> int:
    from .backends import BACKENDS
    from .bench import workloads
    from .bench.impls import KNOWN_BACKENDS, physgraph_impl
    from .bench.peers import PEERS
    print("workloads:")
    for name, w in workloads.registry().items():
        extra = "" if w.handwritten else "; no hand-written NumPy version"
        print(f"  {name:<16} {w.description} (default {w.default_events:,} events{extra})")
        if w.note:
            print(f"  {'':<16} {w.note}")
        if w.peers:
            print(f"  {'':<16} its own peers: {', '.join(p.key for p in w.peers)}")
    print("physgraph backends:")
    for b in dict.fromkeys([*KNOWN_BACKENDS, *BACKENDS]):
        reason = physgraph_impl(b).skip_reason(workloads.get(workloads.DEFAULT), "float64")
        print(f"  {b:<16} {'available' if reason is None else 'skipped: ' + reason}")
    print("peers (--peers):")
    for key, impl in PEERS.items():
        missing = impl.skip_reason(workloads.get(workloads.DEFAULT), "float64")
        state = "available" if missing is None else "skipped: " + missing
        print(f"  {key:<16} {impl.name}: {state}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import limits as limits_mod
    from .bench import report, runner, workloads
    from .bench.impls import select
    if args.list:
        return _list()
    if args.workload == "corpus":
        return _corpus(args)
    parser = args.parser
    from .frontend.madgraph import MadgraphError
    try:
        workload = workloads.get(args.workload)
    except (workloads.UnknownWorkloadError, MadgraphError) as err:   # madgraph:PATH's files
        parser.error(str(err))
    _check_backends(args.backends, parser)
    impls = select(args.backends, _peer_keys(args.peers, parser, workload), workload)
    config = runner.Config(events=args.events or workload.default_events, dtype=args.dtype,
                           repeat=args.repeat, sweep=bool(args.plot))
    limits = None if args.no_limits else \
        (lambda: limits_mod.measure(args.dtype, args.triad_mb, repeat=args.repeat))
    with report.progress_bar(total=2 + len(impls)) as progress:
        result = runner.run(workload, impls, config, limits, progress)
    doc = report.to_json(result, args.machine, command=args.command_line)
    report.print_table(doc)
    for option, write in ((args.json, report.write_json), (args.csv, report.write_csv),
                          (args.plot, report.write_plot)):
        if option:
            write(doc, option)
            print(f"wrote {option}")
    # a wrong result is a bug somewhere: say so in the exit status too
    return 1 if any(r["status"] == "WRONG" for r in doc["results"]) else 0


def _corpus(args: argparse.Namespace) -> int:
    """``physgraph bench corpus``: flops of the corpus expressions, physgraph and its peers."""
    from .bench import corpus
    try:
        entries = corpus.load(args.corpus or corpus.DEFAULT_DIR)
    except corpus.CorpusError as err:
        args.parser.error(str(err))
    if args.only:
        unknown = sorted(set(args.only) - {e.name for e in entries})
        if unknown:
            args.parser.error(f"--only: unknown corpus entries {', '.join(unknown)}")
        entries = [e for e in entries if e.name in args.only]
    special = {"all": list(corpus.PEERS), "none": []}
    peers = special[args.peers] if args.peers in special else _names(args.peers)
    unknown = [k for k in peers if k not in corpus.PEERS]
    if unknown:
        args.parser.error(f"--peers: unknown corpus peer(s) {', '.join(unknown)}; known: "
                          f"{', '.join(corpus.PEERS)}")
    doc = corpus.run(entries, peers, args.command_line)
    print("\n".join(corpus.markdown(doc)))
    for option, write in ((args.json, corpus.write_json), (args.readme, corpus.write_readme)):
        if option:
            write(doc, option)
            print(f"wrote {option}")
    return 0


# ---- physgraph show --------------------------------------------------------------------------
def _add_show(sub) -> None:
    p = sub.add_parser(
        "show", help="what the compiler did to a function: source, pass report, graph",
        description="Import MODULE (a dotted name or a .py file) and show the kernel FUNCTION: "
        "a compiled kernel (@pg.compile) as it is, a plain function traced on the spot. "
        "With no option, the pass report and the source.")
    p.add_argument("target", metavar="MODULE:FUNCTION",
                   help="or madgraph:PATH, a MadGraph CUDACPP output directory: every "
                   "subprocess in turn")
    p.add_argument("--source", action="store_true", help="print the generated source")
    p.add_argument("--report", action="store_true", help="print the per-pass table")
    p.add_argument("--graph", metavar="FILE", help="write the optimized graph as Graphviz text")
    p.add_argument("--backend", default=None, help="show it for this backend instead")
    p.add_argument("--dtype", choices=("float64", "float32"), default=None)
    p.set_defaults(func=_show, parser=p)


def _load_target(target: str, parser: argparse.ArgumentParser):
    import importlib
    import importlib.util
    import os
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        parser.error(f"{target!r}: expected MODULE:FUNCTION, "
                     "e.g. physgraph.physics.processes:gg_tt")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            spec = importlib.util.spec_from_file_location(
                os.path.splitext(os.path.basename(module_name))[0], module_name)
            if spec is None or not os.path.exists(module_name):
                parser.error(f"no such file: {module_name}")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, os.path.dirname(os.path.abspath(module_name)))
            spec.loader.exec_module(module)
        else:
            sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except ImportError as err:
        parser.error(f"cannot import {module_name!r}: {err}")
    if not hasattr(module, attr):
        parser.error(f"{module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _show(args: argparse.Namespace) -> int:
    from . import compile as pg_compile
    from .kernel import Kernel
    if args.target.startswith("madgraph:"):
        return _show_madgraph(args)
    obj = _load_target(args.target, args.parser)
    kernel = obj if isinstance(obj, Kernel) else pg_compile(obj)
    return _show_kernel(kernel, args)


def _show_kernel(kernel, args: argparse.Namespace) -> int:
    changes = {k: v for k, v in (("dtype", args.dtype),) if v}
    if args.backend or changes:
        kernel = kernel.with_backend(args.backend or kernel.options.backend, **changes)
    everything = not (args.source or args.report or args.graph)
    if args.report or everything:
        print(kernel.report())
    if args.source or everything:
        print(kernel.source)
    if args.graph:
        with open(args.graph, "w") as f:
            f.write(kernel.to_dot())
        print(f"wrote {args.graph} (render: dot -Tsvg {args.graph} -o graph.svg)")
    return 0


def _show_madgraph(args: argparse.Namespace) -> int:
    proc = _load_madgraph(args.target.removeprefix("madgraph:"), args.parser)
    for name, sub in proc.subprocesses.items():
        particles = ", ".join(f"{p} ({pdg})" for p, pdg in zip(sub.particles, sub.pdg))
        print(f"{name}: {' | '.join(sub.processes)}\n  particles {particles}\n  masses "
              f"{sub.masses}\n  params {sub.params}" + ("\n  mirror process too" if sub.mirror
                                                       else ""))
        _show_kernel(sub.kernel(), args)
        print()
    return 0


def _load_madgraph(path: str, parser: argparse.ArgumentParser, param_card: str | None = None):
    """``pg.madgraph.load``, a missing file reported as a usage error naming it."""
    from .frontend import madgraph
    try:
        return madgraph.load(path, param_card=param_card)
    except madgraph.MissingFileError as err:
        parser.error(str(err))


# ---- physgraph import-madgraph ---------------------------------------------------------------
def _add_import_madgraph(sub) -> None:
    p = sub.add_parser(
        "import-madgraph", help="write a MadGraph output directory as a Python module",
        description="Translate a MadGraph5_aMC@NLO CUDACPP output directory (output "
        "standalone_cudacpp) into one readable Python module written with physgraph's physics "
        "library: one traced function per subprocess, parameters from the param card.")
    p.add_argument("path", metavar="PATH", help="the MadGraph output directory")
    p.add_argument("-o", "--output", metavar="MODULE.py", required=True,
                   help="the Python file to write")
    p.add_argument("--param-card", metavar="CARD", default=None,
                   help="another param card (default PATH/Cards/param_card.dat)")
    p.set_defaults(func=_import_madgraph, parser=p)


def _import_madgraph(args: argparse.Namespace) -> int:
    proc = _load_madgraph(args.path, args.parser, args.param_card)
    written = proc.write(args.output)
    names = ", ".join(sub.code.name for sub in proc.subprocesses.values())
    print(f"wrote {written}: {len(proc.subprocesses)} subprocess(es) ({names}), "
          f"model {proc.model}")
    return 0


# ---- physgraph cache -------------------------------------------------------------------------
def _add_cache(sub) -> None:
    p = sub.add_parser("cache", help="the on-disk cache of generated kernels: info or clear",
                       description="Generated kernels are cached in $PHYSGRAPH_CACHE_DIR "
                       "(default ~/.cache/physgraph); PHYSGRAPH_CACHE=off turns it off.")
    p.add_argument("action", choices=("info", "clear"))
    p.set_defaults(func=_cache, parser=p)


def _cache(args: argparse.Namespace) -> int:
    from . import cache
    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.directory()}")
        return 0
    info = cache.info()
    state = "yes" if info["enabled"] else f"no ({info['why_off']})"
    print(f"path     {info['path']}\nentries  {info['entries']}\n"
          f"size     {info['bytes'] / 2**20:.1f} MiB\nenabled  {state}")
    return 0


# ---- entry point ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="physgraph", description="physgraph: a symbolic-to-kernel compiler for physics")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_bench(sub)
    _add_show(sub)
    _add_import_madgraph(sub)
    _add_cache(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = "physgraph " + shlex.join(argv)
    try:
        return args.func(args)
    except BrokenPipeError:          # `physgraph show ... | head`: the reader has left
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
