"""How fast does functional execution run? Instructions executed per second, and MACs per second.

Run from the repository root:

    .venv/bin/python benchmarks/functional.py

Each program is assembled and accepted (FunctionalProgram.prepare: the hazard check, the
refusals, the limits) untimed, then executed three times on fresh memories (DRAM filled from a
seed), timed with time.perf_counter; the best time is reported. Small instructions measure
dlpsim's cost per instruction (Python); large MACs measure numpy. The exit status is 0: this
is a measurement, not a test.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from dlpsim.analysis.tables import align
from dlpsim.asm import assemble, assemble_file
from dlpsim.data.functional import FunctionalProgram, Memories
from dlpsim.machine import load_machine

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3

SMALL_MOVES = ("loop 100000\nmove DRAM[0x0] NRAM[0x0] 64\nsync\nmove NRAM[0x0] DRAM[0x1000] 64\nsync\n"
               "endloop\n")
SMALL_VECTORS = ("move DRAM[0x0] NRAM[0x0] 128\nsync\nloop 100000\n"
                 "compute ADD_32 16 NRAM[0x0], NRAM[0x40] -> NRAM[0x100]\nsync\nendloop\n")
TILES = ("move DRAM[0x0] NRAM[0x0] 32K\nmove DRAM[0x100000] WRAM[0x0] 128K\nsync\nloop 1000\n"
         "compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]\nsync\n"
         "move NRAM[0x10000] DRAM[0x200000] 16K\nsync\nendloop\n")

# A 3x3 convolution tile, padding 1, of a 16x16x64 slab (64 KB) into 64 channels: M = 256,
# K = 576, N = 64 (B 144 KB); then 2x2 max pooling of its 16x16x64 output: n = 8 x 8 x 64 x 3.
CONVOLUTIONS = ("move DRAM[0x0] NRAM[0x0] 256*64*4\nmove DRAM[0x100000] WRAM[0x0] 576*64*4\nsync\n"
                "loop 1000\ncompute MAC_32 256x576x64 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000] "
                "window 16x16x64 kernel 3x3 pad 1,1,1,1\nsync\n"
                "compute MAX_32 12288 NRAM[0x10000] -> NRAM[0x0] window 16x16x64 kernel 2x2 stride 2x2\n"
                "sync\nendloop\n")


def workloads():
    yield "10^5 x 2 moves of 64 B, dlp-s", assemble(SMALL_MOVES, "moves.asm"), "dlp-s"
    yield "10^5 ADD_32 of 16 elements, dlp-s", assemble(SMALL_VECTORS, "vectors.asm"), "dlp-s"
    yield "10^3 x (MAC 32x256x128, 16 KB store), dlp-s", assemble(TILES, "tiles.asm"), "dlp-s"
    yield ("10^3 x (3x3 window MAC 16x16x64 -> 64, 2x2 MAX pool), dlp-s",
           assemble(CONVOLUTIONS, "convolutions.asm"), "dlp-s")
    for name in ("fc_1024x256.asm", "ex7_12.asm"):
        program = assemble_file(ROOT / "programs" / name)
        yield f"programs/{name}", program, program.machine


def main() -> int:
    rows = [("workload", "instructions", "MACs", "bytes moved", "seconds", "instructions/s", "GMAC/s")]
    for name, program, preset in workloads():
        machine = load_machine(preset)
        accepted = FunctionalProgram.prepare(program, machine)
        seconds = math.inf
        for _ in range(REPEATS):  # the best of a few: the others measure the machine's other work
            memories = Memories(machine, seed=1)
            start = time.perf_counter()
            executed = accepted.execute(memories)
            seconds = min(seconds, time.perf_counter() - start)
        work = accepted.workload
        rows.append((name, f"{executed:,}", f"{work.macs:,}", f"{work.bytes_moved:,}", f"{seconds:.2f}",
                     f"{executed / seconds:,.0f}", f"{work.macs / seconds / 1e9:.2f}"))
    print("\n".join(align(rows, [False] + [True] * 6)))
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
