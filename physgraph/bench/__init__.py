"""``physgraph bench``: physgraph's backends against the tools physicists use today and
against the machine's own limits (memory bandwidth and FMA peak), on registered workloads.

Modules, one job each: ``workloads`` (the registry) with one module per workload,
``impls`` (physgraph's backends as implementations), ``peers`` (the other tools),
``compare`` (the correctness check), ``limits`` (triad and FMA), ``runner`` (timing),
``machine`` (what the run ran on), ``report`` (table, progress, JSON, CSV, plot).
"""
