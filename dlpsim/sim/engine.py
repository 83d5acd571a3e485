"""Builds the SimPy model of a machine for a program, runs it, and collects the Stats."""

from __future__ import annotations

from fractions import Fraction

import simpy

from dlpsim.asm.opcodes import COMPUTE_TYPES, Memory, Unit
from dlpsim.asm.program import Compute, CoreId, Move, Program
from dlpsim.errors import ProgramError, RunLimitError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound, ControlCause, QueueKind
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.check import bind, minimum_cycles
from dlpsim.sim.compute import compute_timing
from dlpsim.sim.control import ControlUnit
from dlpsim.sim.environment import ShiftableEnvironment
from dlpsim.sim.fastforward import FastForward
from dlpsim.sim.link import Link
from dlpsim.sim.queues import IssueQueue
from dlpsim.sim.stats import CoreStats, LinkStats, QueueStats, Stats
from dlpsim.sim.trace import Recorder
from dlpsim.units import format_number


def link_name(move: Move, core: CoreId) -> str:
    """The one link a move uses: DRAM's if it touches DRAM, else the core's SharedRAM or local link."""
    memories = {move.source.memory, move.destination.memory}
    if Memory.DRAM in memories:
        return "dram"
    if Memory.SHARED in memories:
        return f"shared.{core.index}"
    return f"local.{core.index}"


class _Core:
    """One core's queues and control unit, wired to the machine's links."""

    def __init__(self, env: simpy.Environment, core: CoreId, stream, machine: MachineConfig,
                 links: dict[str, Link], barrier: ClusterBarrier, recorder: Recorder | None):
        self.core = core
        self.timing = compute_timing(machine)
        self._computes: dict[int, tuple[Compute, int]] = {}  # id -> (instruction, cycles); loops repeat them
        self.env = env
        self.links = links
        self.routes: dict[int, Link] = {}
        depth = machine.core.queue_depth
        kinds = (QueueKind.IO,) if core.is_memory_core else tuple(QueueKind)
        executors = {QueueKind.COMPUTE: self._compute, QueueKind.IO: self._move, QueueKind.MOVE: self._move}
        self.queues = {kind: IssueQueue(env, core.name, kind, depth, executors[kind], recorder)
                       for kind in kinds}
        if QueueKind.COMPUTE in self.queues:
            self.queues[QueueKind.COMPUTE].completions = {}
        self.control = ControlUnit(env, core.name, stream, self.queues, machine.core.issue_cycles,
                                   barrier, recorder)
        self.control.start()

    def _compute(self, instruction: Compute) -> simpy.Event:
        known = self._computes.get(id(instruction))
        if known is None:
            known = self._computes[id(instruction)] = (instruction, self.timing.cycles(instruction))
        return self.env.timeout(known[1])

    @property
    def operations(self) -> dict[str, int]:
        """Operations of the compute instructions completed, by compute type."""
        totals: dict[str, int] = {}
        queue = self.queues.get(QueueKind.COMPUTE)
        for key, times in (queue.completions.items() if queue else ()):
            instruction = self._computes[key][0]
            name = instruction.type.name
            totals[name] = totals.get(name, 0) + times * instruction.count
        return totals

    def _move(self, instruction: Move) -> simpy.Event:
        link = self.routes.get(id(instruction))  # loops repeat the same instructions
        if link is None:
            link = self.routes[id(instruction)] = self.links[link_name(instruction, self.core)]
        return link.transfer(instruction.size)

    def stats(self, total_cycles: int) -> CoreStats:
        control = dict(self.control.cycles)
        control[ControlCause.FINISHED] = total_cycles - self.control.done_issuing_at
        return CoreStats(
            name=self.core.name,
            queues=tuple(QueueStats(q.kind, q.instructions, q.busy_cycles) for q in self.queues.values()),
            control_cycles=tuple(control.items()),
            operations=tuple(sorted(self.operations.items())),
            finish_cycle=max(q.last_completion for q in self.queues.values()),
            barriers=self.control.barriers_passed,
        )


def _links(env: simpy.Environment, machine: MachineConfig, recorder: Recorder | None) -> dict[str, Link]:
    """The chip's links. Each queue executes one transfer at a time, so the DRAM link carries at
    most one transfer per io queue, and a core's SharedRAM or local link only its move queue's."""
    def make(name, config, max_active):
        return Link(env, name, machine.bytes_per_cycle(config), config.latency_cycles, max_active, recorder)

    io_queues = machine.compute_cores + machine.has_memory_core
    links = {"dram": make("dram", machine.dram.link, io_queues)}
    for index in range(machine.compute_cores):
        if machine.shared is not None:
            links[f"shared.{index}"] = make(f"shared.{index}", machine.shared.link, 1)
        links[f"local.{index}"] = make(f"local.{index}", machine.core.local, 1)
    return links


# The default cycle limit: 10 s of simulated time at 1 GHz, far above any shipped program or
# network, low enough that a runaway program is refused instead of simulated for hours.
DEFAULT_MAX_CYCLES = 10**10


def simulate(program: Program, machine: MachineConfig, recorder: Recorder | None = None,
             max_cycles: int | None = DEFAULT_MAX_CYCLES, fast_forward: bool = True) -> Stats:
    """Run ``program`` on ``machine``.

    With ``fast_forward``, the repeats of a loop's steady state are skipped analytically
    (dlpsim.sim.fastforward); the Stats are the same either way, and so is what ``recorder``
    records (the skipped periods as repeats).

    Raises ProgramError if the program does not fit the machine, and RunLimitError if it
    provably needs more than ``max_cycles``. A run that reaches the limit anyway stops there
    and returns partial Stats (``complete`` False). ``max_cycles=None`` runs to the end.
    """
    streams = bind(program, machine)
    if max_cycles is not None:
        needed, reason = minimum_cycles(streams, machine)
        if needed > max_cycles:
            raise RunLimitError(f"{program.file}: error: the program needs at least "
                                f"{format_number(needed, grouped=True)} cycles ({reason}), more than the "
                                f"limit of {format_number(max_cycles, grouped=True)}; not run "
                                "(raise it with --max-cycles)")
    env = ShiftableEnvironment()
    links = _links(env, machine, recorder)
    barrier = ClusterBarrier(env, participants=len(streams))
    cores = [_Core(env, core, stream, machine, links, barrier, recorder) for core, stream in streams.items()]
    if fast_forward:
        controls = [core.control for core in cores]
        queues = [queue for core in cores for queue in core.queues.values()]
        FastForward(env, controls, [*controls, *queues, *links.values(), barrier], max_cycles, recorder)
    # Events at cycle max_cycles still run: a program that ends exactly at the limit is complete.
    env.run(until=None if max_cycles is None else max_cycles + 1)
    complete = all(core.control.finished and not any(q.busy for q in core.queues.values())
                   for core in cores)
    if complete:
        total = max((q.last_completion for core in cores for q in core.queues.values()), default=0)
    else:
        idle = not any(q.busy for core in cores for q in core.queues.values())
        if idle and all(core.control.finished or core.control.waiting_at is not None for core in cores):
            _report_deadlock(cores)  # nothing is executing and every unfinished core waits at a barrier
        total = max_cycles
    unit_cycles = {kind: Fraction(0) for kind in Unit}  # each unit's cycles at full rate, all cores
    for core in cores:
        for name, ops in core.operations.items():
            compute_type = COMPUTE_TYPES[name]
            unit_cycles[compute_type.unit] += Fraction(ops) / machine.ops_per_cycle(compute_type)
    dram_bytes_per_cycle = machine.bytes_per_cycle(machine.dram.link)
    dram_bytes = links["dram"].bytes
    return Stats(
        program=program.file,
        machine=machine.name,
        clock_hz=machine.clock_hz,
        compute_cores=machine.compute_cores,
        peak_macs_per_cycle=machine.peak_macs_per_cycle,
        matrix_unit=machine.matrix_unit,
        cycles=total,
        cores=tuple(core.stats(total) for core in cores),
        links=tuple(LinkStats(link.name, link.bytes_per_cycle, link.bytes, link.transfers, link.busy_cycles)
                    for link in links.values()),
        mac_unit_cycles=unit_cycles[Unit.MATRIX],
        bound=Bound.of(sum(unit_cycles.values()), machine.compute_cores, dram_bytes, dram_bytes_per_cycle),
        dram_bytes_per_cycle=dram_bytes_per_cycle,
        complete=complete,
    )


def _report_deadlock(cores: list[_Core]) -> None:
    """Nothing can happen any more, yet some core has not finished: say who waits where.

    bind() refuses unequal barrier counts, so this is a safety net, not an expected path.
    """
    waiting = [core for core in cores if core.control.waiting_at is not None]
    if not waiting:
        raise RuntimeError("the simulation stopped with unfinished cores and no barrier to blame")
    first = waiting[0].control.waiting_at
    done = [core.core.name for core in cores if core.control.finished]
    blocked = ", ".join(f"{core.core} waits at the barrier on line {core.control.waiting_at.location.line}"
                        for core in waiting)
    finished = f", while {', '.join(done)} finished without reaching it" if done else ""
    raise ProgramError(first.location, f"deadlock: {blocked}{finished}")
