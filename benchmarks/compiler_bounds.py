"""How long does compiling take as the memories shrink, and what work does it do?

Run from the repository root:

    .venv/bin/python benchmarks/compiler_bounds.py

For AlexNet's conv1 on dlp-s with NRAM from the preset's 128 KB down to 1 KB (which issue 16
found running for minutes at 1 KB, 1100 B and 1200 B), and for SCALE-Sim rows of 2.4 x 10^16
and 2.7 x 10^12 MACs, each row times `dlpsim compile` as the command does it (compiler caches cleared first)
and prints what the search did: tiles estimated, candidate programs built and simulated, their
tasks and statements, or the refusal. Each row's work is bounded by the layer (see
dlpsim/compiler/mapping.py and codegen.py); the time is a measurement, not a test. The exit
status is 1 if any row takes over 10 s.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from dlpsim.analysis.tables import align
from dlpsim.errors import UserError
from dlpsim.machine import load_machine
from dlpsim.run import compile as compilation
from dlpsim.workloads import load_network

# What issue 16 measured: over 100 s at 1 KB, 1100 B and 1200 B
LIMIT_SECONDS = 10.0
HUGE_ROW = "C1, 100000, 100000, 3, 3, 512, 512, 1,"  # 41 TB of data: past the DRAM too
HEAVY_ROW = "H1, 100, 100, 1, 1, 16384, 16384, 1,"  # 2.5 GB of data, 1.05 x 10^10 cycles at best


def row(network: str, layer: str, nram: str | None) -> list[str]:
    compilation._search.cache_clear()
    overrides = [] if nram is None else [f"core.nram.capacity={nram}"]
    machine = load_machine("dlp-s", overrides=overrides)
    start = time.perf_counter()
    try:
        done = compilation.compile_layer(load_network(network).layer(layer), machine)
    except UserError as error:
        seconds = time.perf_counter() - start
        return [layer, nram or "128 KB", f"{seconds:.2f}", "-", "-", "-", "-", f"refused: {error}"]
    seconds = time.perf_counter() - start
    work = done.work
    return [layer, nram or "128 KB", f"{seconds:.2f}", f"{work.tiles_estimated:,}",
            f"{work.candidates_built}", f"{work.tasks_built:,}", f"{work.statements_written:,}",
            f"{done.compiled.bound.cycles:,} cycles bound"]


def main() -> int:
    uname = platform.uname()
    print(f"machine: {platform.processor() or uname.machine}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    rows = [["layer", "NRAM", "seconds", "tiles", "built", "tasks", "statements", "result"]]
    for nram in (None, "8KB", "2KB", "1500B", "1200B", "1100B", "1KB", "512B"):
        rows.append(row("alexnet", "conv1", nram))
    with TemporaryDirectory() as folder:
        topology = Path(folder) / "huge.csv"
        topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                            f"{HUGE_ROW}\n{HEAVY_ROW}\n")
        rows.append(row(str(topology), "C1", None))
        rows.append(row(str(topology), "H1", None))
    print("\n".join(align([cells[:-1] + [cells[-1] if len(cells[-1]) < 40 else "refused, below"]
                          for cells in rows], [False, True, True, True, True, True, True, False])))
    for cells in rows[1:]:
        if cells[-1].startswith("refused: "):
            print(f"{cells[0]} at {cells[1]}: {cells[-1].removeprefix('refused: ')}")
    slowest = max(float(cells[2]) for cells in rows[1:])
    print(f"slowest {slowest:.2f} s (limit {LIMIT_SECONDS:.0f} s)")
    return 0 if slowest <= LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
