"""How fast does dlpsim simulate? Wall time, instructions and events per second, per workload.

Run from the repository root:

    .venv/bin/python benchmarks/speed.py            # every workload (about half a minute)
    .venv/bin/python benchmarks/speed.py --quick    # without VGG-16 and the slow event-by-event rows

Each workload is timed once, after a warm-up run of a small program. "Instructions" counts
every move, compute, sync and barrier the cores issue, loops expanded (counted, not unrolled);
"events" the SimPy events the run processed, counted in a second, untimed run (with
fast-forward, the skipped periods process none). The wall time covers simulate() (checking
and running the model) and, for a network, compiling each layer too; not Python start-up.

The issues' targets are checked at the end: a 10^6-iteration loop of one MAC instruction
under 2 s; a 10^9-iteration one under 2 s with fast-forward; a 10^7 x 10^3 nest under 1 s;
the 10^9-iteration loop recorded, with its trace and timeline written (in a temporary folder),
in seconds; VGG-16 compiled and simulated on dlp-m under 10 s. The exit status is 0 either
way: this is a measurement, not a test. The recorded row's peak memory is printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import simpy

from dlpsim.analysis.tables import align
from dlpsim.asm import assemble, assemble_file
from dlpsim.asm.program import INSTRUCTION_TYPES, Program, dynamic_count
from dlpsim.machine import DEFAULT_PRESET, MachineConfig, load_machine
from dlpsim.sim import simulate
from dlpsim.sim.check import bind

REPO = Path(__file__).resolve().parents[1]

MAC_LOOP = "loop 10^6 x compute MAC_32 256"
BILLION_MAC_LOOP = "loop 10^9 x compute MAC_32 256"
NEST = "loop 10^7 x loop 10^3 x compute MAC_32 256"
RECORDED = "loop 10^9 x compute MAC_32 256, --timeline --trace"
VGG16 = "VGG-16 on dlp-m, compiled and simulated"
WARM_UP = "move DRAM NRAM 1024\nsync\ncompute MAC_32 256\nsync\nmove NRAM DRAM 4\n"


@dataclass
class Row:
    workload: str
    instructions: int
    cycles: int
    events: int
    seconds: float

    def cells(self) -> list[str]:
        def rate(count: int) -> str:
            return f"{count / self.seconds:,.0f}" if self.seconds > 0 else "inf"

        return [self.workload, f"{self.instructions:,}", f"{self.cycles:,}", f"{self.events:,}",
                f"{self.seconds:.4f}", rate(self.instructions), rate(self.events)]


@contextmanager
def counting_events():
    """Count the events every SimPy environment processes while inside."""
    counter = [0]
    step = simpy.Environment.step

    def counted(env):
        counter[0] += 1
        step(env)

    simpy.Environment.step = counted
    try:
        yield counter
    finally:
        simpy.Environment.step = step


def instructions_of(program: Program, machine: MachineConfig) -> int:
    return sum(dynamic_count(stream, INSTRUCTION_TYPES) for stream in bind(program, machine).values())


Work = Callable[[], tuple[Callable[[], int], int]]  # runs; returns (how to count its instructions, cycles)


def measure(name: str, work: Work) -> Row:
    """Runs ``work`` twice: timed, then counting events; its instructions are counted after."""
    start = time.perf_counter()
    count_instructions, cycles = work()
    seconds = time.perf_counter() - start
    instructions = count_instructions()
    with counting_events() as events:
        work()
    return Row(name, instructions, cycles, events[0], seconds)


def program_work(program: Program, fast_forward: bool = True) -> Work:
    machine = load_machine(program.machine or DEFAULT_PRESET)

    def work() -> tuple[Callable[[], int], int]:
        stats = simulate(program, machine, max_cycles=None, fast_forward=fast_forward)
        return (lambda: instructions_of(program, machine)), stats.cycles

    return work


def network_work(name: str, preset: str) -> Work:
    """Compile and simulate every layer, as `dlpsim net run` does (fresh compiler caches)."""
    def work() -> tuple[Callable[[], int], int]:
        from dlpsim.run import compile as compilation
        from dlpsim.run.network import run_network
        from dlpsim.workloads import get_network

        compilation._search.cache_clear()  # time the compiler's search too, not a cached answer
        machine = load_machine(preset)
        network = get_network(name)
        run = run_network(network, machine)

        def instructions() -> int:
            return sum(instructions_of(compilation.compile_layer(node.layer, machine).compiled.program,
                                       machine) for node in network.nodes)

        return instructions, sum(layer.cycles for layer in run.layers)

    return work


def recorded_work(program: Program, folder: str) -> Work:
    """The run with a recorder, then the trace file and the timeline written, as `dlpsim run
    --trace --timeline` does."""
    from dlpsim.analysis.timeline import build_timeline, write_timeline
    from dlpsim.sim import Recorder, write_chrome_trace

    machine = load_machine(program.machine or DEFAULT_PRESET)

    def work() -> tuple[Callable[[], int], int]:
        recorder = Recorder()
        stats = simulate(program, machine, recorder, max_cycles=None)
        write_chrome_trace(os.path.join(folder, "trace.json"), recorder, machine.clock_hz, {})
        write_timeline(build_timeline(recorder, stats), os.path.join(folder, "timeline.png"))
        return (lambda: instructions_of(program, machine)), stats.cycles

    return work


def loop(iterations: int, body: str) -> Program:
    return assemble(f".machine dlp-s\nloop {iterations}\n  {body}\nendloop\n", f"<loop {iterations:,}>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip VGG-16 and the slow event-by-event rows")
    options = parser.parse_args(argv)

    uname = platform.uname()
    print(f"machine: {platform.processor() or uname.machine}, {os.cpu_count()} CPUs "
          f"({uname.system} {uname.release}); Python {platform.python_version()}, SimPy {simpy.__version__}")
    simulate(assemble(WARM_UP, "<warm-up>"), load_machine("dlp-s"))

    mac_loop, move_loop = loop(10**6, "compute MAC_32 256"), loop(10**5, "move DRAM NRAM 1024")
    exercise = assemble_file(REPO / "programs" / "ex7_12_overlap.asm")
    event_by_event = "  the same, --no-fast-forward"
    workloads: list[tuple[str, Work]] = [
        (MAC_LOOP, program_work(mac_loop)),
        (event_by_event, program_work(mac_loop, fast_forward=False)),
        (BILLION_MAC_LOOP, program_work(loop(10**9, "compute MAC_32 256"))),
        ("loop 10^5 x move DRAM NRAM 1024", program_work(move_loop)),
        (event_by_event, program_work(move_loop, fast_forward=False)),
        ("programs/ex7_12_overlap.asm", program_work(exercise)),
        (event_by_event, program_work(exercise, fast_forward=False)),
    ]
    # the cost of a skipped loop does not grow with its trip count
    workloads += [(f"loop 10^{power} x (move, compute, sync)",
                   program_work(loop(10**power, "move DRAM NRAM 4096\n  compute MAC_32 65536\n  sync")))
                  for power in (3, 6, 9)]
    nest = assemble(".machine dlp-s\nloop 10000000\n  loop 1000\n    compute MAC_32 256\n  endloop\n"
                    "endloop\n", "<nest>")
    scratch = tempfile.mkdtemp(prefix="dlpsim-speed-")
    workloads += [(NEST, program_work(nest)),
                  (RECORDED, recorded_work(loop(10**9, "compute MAC_32 256"), scratch))]
    if not options.quick:
        workloads.append((VGG16, network_work("vgg16", "dlp-m")))
    if options.quick:
        workloads = [(name, work) for name, work in workloads if "--no-fast-forward" not in name]

    rows = [measure(name, work) for name, work in workloads]
    header = ["workload", "instructions", "cycles", "events", "wall s", "instructions/s", "events/s"]
    print("\n".join(align([header] + [row.cells() for row in rows], [False] + [True] * 6)))

    seconds = {row.workload: row.seconds for row in rows}
    slow = next((after for before, after in zip(rows, rows[1:], strict=False)
                 if before.workload == MAC_LOOP and after.workload == event_by_event), None)
    targets = [("10^6-iteration MAC loop < 2 s", MAC_LOOP, 2.0),
               ("10^9-iteration MAC loop < 2 s (fast-forward)", BILLION_MAC_LOOP, 2.0),
               ("10^7 x 10^3 nest of MAC loops < 1 s", NEST, 1.0),
               ("10^9-iteration MAC loop recorded, trace and timeline written < 10 s", RECORDED, 10.0),
               ("VGG-16 compiled and simulated on dlp-m < 10 s", VGG16, 10.0)]
    print()
    for target, workload, limit in targets:
        if workload in seconds:
            verdict = "met" if seconds[workload] < limit else "NOT met"
            print(f"{target}: {seconds[workload]:.4f} s, {verdict}")
            if workload == MAC_LOOP and slow is not None:
                verdict = "met" if slow.seconds < limit else "NOT met"
                print(f"  event by event (--no-fast-forward): {slow.seconds:.3f} s, {verdict}")
    import resource

    print(f"peak memory of this process (every row above): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
