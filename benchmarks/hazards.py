"""How long does the static data-hazard check take? Wall time per program, hazards found.

Run from the repository root:

    .venv/bin/python benchmarks/hazards.py

Each program is assembled first (not timed), then check_hazards() is timed once: the
checks of bind() and the hazard check itself, as `dlpsim run` does before simulating. The
issue's targets are checked at the end: a 10^9-iteration loop with addressed operands in well
under a second (also when its DRAM operands move with the loop index), a 10^5-line program in
a few seconds. The last row is a loop whose index moves an operand on a memory where accesses
may meet, which the check unrolls. The exit status is 0 either way: this
is a measurement, not a test.
"""

from __future__ import annotations

import platform
import sys
import time

from dlpsim.analysis.tables import align
from dlpsim.asm import assemble
from dlpsim.asm.program import INSTRUCTION_TYPES, dynamic_count
from dlpsim.data import check_hazards
from dlpsim.machine import load_machine

BILLION_LOOP = "loop 10^9 x double-buffered step, dlp-s"
BILLION_RACING = "the same without its syncs (hazards)"
BARRIER_LOOP = "4 cores + memory core, 10^7 barriers"
LINES_DLP_S = "10^5 lines, double-buffered, dlp-s"
LINES_DLP_M = "10^5 lines, 4 cores + memory core, dlp-m"
BILLION_AFFINE = "loop 10^9, tiles walking DRAM (as t), dlp-s"
UNROLLED = "loop 2000 as t, NRAM walking: unrolled"

# One step of a double-buffered layer: while tile t is computed from IN1 into OUT1, the next
# tile loads into IN0 and the previous output leaves OUT0; then the buffers swap.
STEP = """\
move DRAM[0x0] NRAM[0x0] 32K
move NRAM[0x10000] DRAM[0x100000] 16K
compute MAC_32 32x256x128 NRAM[0x8000], WRAM[0x0] -> NRAM[0x14000]
sync
move DRAM[0x8000] NRAM[0x8000] 32K
move NRAM[0x14000] DRAM[0x104000] 16K
compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]
sync
"""


def billion_loop(syncs: bool = True) -> str:
    body = STEP if syncs else STEP.replace("sync\n", "")
    return f"move DRAM WRAM[0x0] 128K\nsync\nloop 1000000000\n{body}endloop\nsync\n"


def lines_dlp_s(lines: int = 100_000) -> str:
    steps = STEP.splitlines()
    return "\n".join(["move DRAM WRAM[0x0] 128K", "sync"]
                     + [steps[i % len(steps)] for i in range(lines - 2)]) + "\n"


def lines_dlp_m(lines: int = 100_000) -> str:
    """The memory core stages each tile into SharedRAM; after a barrier, every core copies its
    quarter into NRAM, computes and stores its own part of the output."""
    per_step_mem = ["move DRAM SharedRAM[0x0] 128K", "barrier", "barrier"]
    per_step_core = ["barrier", "move SharedRAM[{shared}] NRAM[0x0] 32K", "sync",
                     "compute MAC_32 32x256x32 NRAM[0x0], WRAM[0x0] -> NRAM[0x8000]", "sync",
                     "move NRAM[0x8000] DRAM[{dram}] 4K", "barrier"]
    steps = (lines - 12) // (len(per_step_mem) + 4 * len(per_step_core))
    text = [".machine dlp-m", ".core mem", *per_step_mem * steps]
    for core in range(4):
        text += [f".core {core}", "move DRAM WRAM[0x0] 32K", "sync"]
        for step in range(steps):
            text += [line.format(shared=hex(core * 0x8000), dram=hex((step * 4 + core) * 0x1000))
                     for line in per_step_core]
    return "\n".join(text) + "\n"


def billion_affine() -> str:
    """The double-buffered step with its loads and stores moving through DRAM, 4 bytes per
    iteration (10^9 iterations must fit the 8 GB DRAM): hulls prove DRAM race-free (loads only
    read, stores land in a range of their own), so the loop stays a loop."""
    step = (STEP.replace("DRAM[0x0]", "DRAM[0x0 + 4*t]").replace("DRAM[0x8000]", "DRAM[0x8000 + 4*t]")
            .replace("DRAM[0x100000]", "DRAM[0x100000000 + 4*t]")
            .replace("DRAM[0x104000]", "DRAM[0x100004000 + 4*t]"))
    return f"move DRAM WRAM[0x0] 128K\nsync\nloop 1000000000 as t\n{step}endloop\nsync\n"


def unrolled_loop() -> str:
    """Each iteration loads 64 B into NRAM at 0x40*t and, after a sync, computes on them: the
    loads' and the compute's hulls meet in NRAM, so every iteration is checked on its own
    addresses (2,000 x 2 instructions; 2,000 x 64 B is most of NRAM)."""
    return ("loop 2000 as t\n"
            "move DRAM[0x0] NRAM[0x40*t] 64\n"
            "sync\n"
            "compute ADD_32 16 NRAM[0x40*t], WRAM[0x0] -> WRAM[0x100]\n"
            "endloop\nsync\n")


def barrier_loop() -> str:
    return (".machine dlp-m\n"
            ".core mem\nloop 5000000\nmove DRAM SharedRAM[0x0] 128K\nbarrier\nbarrier\nendloop\n"
            ".core all\nloop 5000000\nbarrier\nmove SharedRAM[0x0] NRAM[0x0] 32K\nsync\n"
            "compute MAC_32 32x256x32 NRAM[0x0], WRAM[0x0] -> NRAM[0x8000]\nbarrier\nendloop\n")


def main() -> None:
    workloads = [(BILLION_LOOP, billion_loop(), "dlp-s"),
                 (BILLION_RACING, billion_loop(syncs=False), "dlp-s"),
                 (BARRIER_LOOP, barrier_loop(), "dlp-m"),
                 (LINES_DLP_S, lines_dlp_s(), "dlp-s"),
                 (LINES_DLP_M, lines_dlp_m(), "dlp-m"),
                 (BILLION_AFFINE, billion_affine(), "dlp-s"),
                 (UNROLLED, unrolled_loop(), "dlp-s")]
    check_hazards(assemble(STEP, "warm-up.asm"), load_machine("dlp-s"))
    rows = [["workload", "lines", "instructions issued", "checked", "unchecked", "hazards", "wall s"]]
    seconds = {}
    for name, text, preset in workloads:
        program = assemble(text, f"{name}.asm")
        machine = load_machine(preset)
        start = time.perf_counter()
        report = check_hazards(program, machine)
        seconds[name] = time.perf_counter() - start
        issued = sum(dynamic_count(program.stream(core), INSTRUCTION_TYPES) for core in _cores(machine))
        rows.append([name, f"{text.count(chr(10)):,}", f"{issued:,}", f"{report.checked:,}",
                     f"{report.unchecked:,}", f"{len(report.hazards):,}", f"{seconds[name]:.4f}"])
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}; "
          f"Python {sys.version.split()[0]}")
    print("\n".join(align(rows, [False] + [True] * 6)))
    print()
    for name, limit in ((BILLION_LOOP, 1.0), (LINES_DLP_S, 5.0), (LINES_DLP_M, 5.0),
                        (BILLION_AFFINE, 1.0)):
        verdict = "met" if seconds[name] < limit else "NOT met"
        print(f"{name} < {limit:g} s: {seconds[name]:.4f} s, {verdict}")


def _cores(machine):
    from dlpsim.sim.check import core_ids

    return core_ids(machine)


if __name__ == "__main__":
    main()
