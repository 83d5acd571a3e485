"""How fast does dlpsim simulate? Instructions and cycles per wall-clock second.

Run from the repository root:

    .venv/bin/python benchmarks/bench_core.py            # full sizes
    .venv/bin/python benchmarks/bench_core.py --quick    # loops 10x shorter

Each workload is assembled, then simulated once after one warm-up run of a
small program; the wall time covers `simulate()` only (binding, checking and
running the SimPy model), not Python start-up or assembly.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dlpsim.asm import assemble, assemble_file
from dlpsim.asm.program import INSTRUCTION_TYPES, Program, dynamic_count
from dlpsim.machine import DEFAULT_PRESET, MachineConfig, load_machine
from dlpsim.sim import simulate
from dlpsim.sim.check import bind

REPO = Path(__file__).resolve().parents[1]

WARM_UP = """\
move DRAM NRAM 1024
move DRAM WRAM 1024
sync
compute MAC_32 256
sync
move NRAM DRAM 4
"""


@dataclass
class Row:
    workload: str
    instructions: int
    cycles: int
    seconds: float

    def cells(self) -> list[str]:
        per_second = self.instructions / self.seconds if self.seconds > 0 else float("inf")
        cycles_per_second = self.cycles / self.seconds if self.seconds > 0 else float("inf")
        return [self.workload, f"{self.instructions:,}", f"{self.cycles:,}", f"{self.seconds:.3f}",
                f"{per_second:,.0f}", f"{cycles_per_second:,.0f}"]


def machine_for(program: Program) -> MachineConfig:
    """The preset the program names with .machine, else the default, as `dlpsim run` chooses."""
    return load_machine(program.machine or DEFAULT_PRESET)


def dynamic_instructions(program: Program, machine: MachineConfig) -> int:
    """Instructions issued by all cores together, loops expanded (counted, not unrolled)."""
    return sum(dynamic_count(stream, INSTRUCTION_TYPES) for stream in bind(program, machine).values())


def measure(name: str, program: Program) -> Row:
    machine = machine_for(program)
    instructions = dynamic_instructions(program, machine)
    start = time.perf_counter()
    stats = simulate(program, machine)
    seconds = time.perf_counter() - start
    return Row(name, instructions, stats.cycles, seconds)


def workloads(scale: int) -> list[tuple[str, Program | None, str]]:
    """(name, program or None if missing, note)."""
    compute_iterations = 10**6 // scale
    move_iterations = 10**5 // scale
    items: list[tuple[str, Program | None, str]] = [
        (f"loop {compute_iterations:,} x compute MAC_32 256 (dlp-s)",
         assemble(f".machine dlp-s\nloop {compute_iterations}\n  compute MAC_32 256\nendloop\n",
                  "<compute loop>"), ""),
        (f"loop {move_iterations:,} x move DRAM NRAM 1024 (dlp-s)",
         assemble(f".machine dlp-s\nloop {move_iterations}\n  move DRAM NRAM 1024\nendloop\n",
                  "<move loop>"), ""),
    ]
    for name in ("ex7_12.asm", "ex7_12_overlap.asm"):
        path = REPO / "programs" / name
        if path.exists():
            items.append((f"programs/{name}", assemble_file(path), ""))
        else:
            items.append((f"programs/{name}", None, "skipped: file not found"))
    return items


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for index, row in enumerate([header, *rows]):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:],
                                                                                          strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale the loops down 10x")
    options = parser.parse_args(argv)
    scale = 10 if options.quick else 1

    uname = platform.uname()
    print(f"machine: {platform.processor() or uname.machine} ({uname.system} {uname.release}, "
          f"{uname.machine})")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print(f"mode:    {'quick (loops / 10)' if options.quick else 'full'}")
    print()

    items = workloads(scale)
    warm = assemble(WARM_UP, "<warm-up>")
    simulate(warm, load_machine("dlp-s"))

    rows: list[list[str]] = []
    notes: list[str] = []
    for name, program, note in items:
        if program is None:
            notes.append(f"{name}: {note}")
            continue
        rows.append(measure(name, program).cells())
    header = ["workload", "dynamic instructions", "cycles simulated", "wall seconds", "instructions/s",
              "sim cycles/wall s"]
    print(table(header, rows))
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
