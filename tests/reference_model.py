"""A second model of the timing contract, stepped one cycle at a time, for differential tests.

It shares no code with ``dlpsim.sim``: it takes the assembled program from
``dlpsim.asm`` and the rates from ``dlpsim.machine``, and nothing else. Where the
simulator is event-driven (SimPy events, integer link arithmetic, lazy loops),
this model is deliberately naive: it unrolls every loop into a list, keeps
transfers' remaining bytes as exact fractions, and advances time cycle by cycle.
At each cycle it first lets everything that can happen at that cycle happen
(completions, queue starts, issue, sync, barriers) until nothing changes, then
delivers one cycle's worth of bytes on every link.

The rules, from /work/shared/design/machine-model.md and the lead's timing notes:
- each core has a compute, an io (any move touching DRAM) and a move queue (other
  moves); the memory core only an io queue. A queue executes one instruction at a
  time, in order, and holds at most queue_depth of them, counting the executing one;
- the control unit issues in order; each move/compute costs issue_cycles, then waits
  for room in its queue (stalling everything behind it); an instruction issued into
  an idle queue at cycle t starts at t;
- sync waits until the core has nothing queued or executing; barrier is a sync, then
  a wait until every participating core (one with a non-empty stream) has arrived
  at its k-th barrier;
- compute T n takes latency(T) + ceil(n / rate(T)) cycles;
- a move uses one link (dram if it touches DRAM, else shared.i or local.i); it waits
  the link's latency, then shares the link's bytes per cycle equally with the other
  active transfers, and completes at the first whole cycle by which every byte
  has been delivered;
- the program's time is the cycle at which its last instruction completes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

from dlpsim.asm import Barrier, Compute, Loop, Move, Program, Sync
from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import MEMORY_CORE, CoreId
from dlpsim.machine import MachineConfig


@dataclass(frozen=True)
class Executed:
    """One instruction's execution: which queue ran it, its source line, start and end cycles."""

    core: str
    queue: str
    line: int
    start: int
    end: int


@dataclass
class _Transfer:
    link: str
    remaining: Fraction  # bytes
    joins_at: int  # the cycle its link latency is over
    done: bool = False


@dataclass
class _Running:
    instruction: Compute | Move
    start: int
    end: int | None = None  # known at once for a compute
    transfer: _Transfer | None = None  # for a move


@dataclass
class _Core:
    id: CoreId
    instructions: list
    queues: dict[str, deque]  # waiting instructions, by queue
    running: dict[str, _Running | None]
    position: int = 0
    # what the control unit is doing: ("fetch",), ("issue", ready_at, instruction),
    # ("sync",), ("barrier-sync",), ("barrier-wait", k) or ("done",)
    state: tuple = ("fetch",)
    barriers: int = 0

    def occupancy(self, queue: str) -> int:
        return len(self.queues[queue]) + (self.running[queue] is not None)

    def idle(self) -> bool:
        return all(self.occupancy(queue) == 0 for queue in self.queues)


def unroll(statements) -> list:
    """Every loop written out in full: the dynamic instruction stream as a list."""
    out = []
    for statement in statements:
        if isinstance(statement, Loop):
            body = unroll(statement.body)
            out += body * statement.count
        else:
            out.append(statement)
    return out


def streams(program: Program, machine: MachineConfig) -> dict[CoreId, list]:
    """Each core's unrolled stream, for the cores that have one (the participants)."""
    ids = [CoreId(i) for i in range(machine.core.count)]
    if machine.shared is not None:
        ids.append(MEMORY_CORE)
    result = {}
    for core in ids:
        statements = []
        for section in program.sections:
            selector = section.cores
            if core.is_memory_core:
                chosen = selector.memory_core
            else:
                chosen = not selector.memory_core and (selector.indices is None
                                                       or core.index in selector.indices)
            if chosen:
                statements += section.statements
        instructions = unroll(statements)
        if instructions:
            result[core] = instructions
    return result


def _queue_of(instruction: Compute | Move) -> str:
    if isinstance(instruction, Compute):
        return "compute"
    memories = {instruction.source.memory, instruction.destination.memory}
    return "io" if Memory.DRAM in memories else "move"


def _link_of(move: Move, core: CoreId) -> str:
    memories = {move.source.memory, move.destination.memory}
    if Memory.DRAM in memories:
        return "dram"
    if Memory.SHARED in memories:
        return f"shared.{core.index}"
    return f"local.{core.index}"


def run(program: Program, machine: MachineConfig, max_cycles: int = 10**6) -> tuple[int, list[Executed]]:
    """The program's total cycles and every instruction's execution, sorted."""
    cores = [_Core(core, instructions,
                   {q: deque() for q in (("io",) if core.is_memory_core else ("compute", "io", "move"))},
                   {})
             for core, instructions in streams(program, machine).items()]
    for core in cores:
        core.running = dict.fromkeys(core.queues)
    links: dict[str, tuple[Fraction, int]] = {  # name -> (bytes per cycle, latency)
        "dram": (machine.bytes_per_cycle(machine.dram.link), machine.dram.link.latency_cycles)}
    for i in range(machine.core.count):
        links[f"local.{i}"] = (machine.bytes_per_cycle(machine.core.local), machine.core.local.latency_cycles)
        if machine.shared is not None:
            links[f"shared.{i}"] = (machine.bytes_per_cycle(machine.shared.link),
                                    machine.shared.link.latency_cycles)
    transfers: list[_Transfer] = []
    arrived: dict[int, int] = {}  # barrier k -> cores that reached it
    executed: list[Executed] = []
    state = _State(machine, cores, links, transfers, arrived, executed)

    cycle = 0
    while True:
        state.settle(cycle)
        if all(core.state == ("done",) and core.idle() for core in cores):
            break
        for name, (bytes_per_cycle, _) in links.items():
            active = [t for t in transfers if t.link == name and not t.done and t.joins_at <= cycle]
            for transfer in active:
                transfer.remaining -= bytes_per_cycle / len(active)
        cycle += 1
        if cycle > max_cycles:
            raise RuntimeError(f"reference model: no end after {max_cycles} cycles")
    return max((e.end for e in executed), default=0), sorted(executed, key=_order)


def _order(e: Executed):
    return (e.core, e.queue, e.start, e.end, e.line)


@dataclass
class _State:
    machine: MachineConfig
    cores: list[_Core]
    links: dict[str, tuple[Fraction, int]]
    transfers: list[_Transfer]
    arrived: dict[int, int]
    executed: list[Executed] = field(default_factory=list)

    def settle(self, cycle: int) -> None:
        """Let everything that can happen at ``cycle`` happen, until nothing changes."""
        changed = True
        while changed:
            changed = False
            for transfer in self.transfers:
                if transfer.joins_at <= cycle and transfer.remaining <= 0:
                    transfer.done = True
            self.transfers[:] = [t for t in self.transfers if not t.done]
            for core in self.cores:
                for queue in core.queues:
                    changed |= self._advance_queue(core, queue, cycle)
            for core in self.cores:
                changed |= self._control(core, cycle)

    def _advance_queue(self, core: _Core, queue: str, cycle: int) -> bool:
        changed = False
        running = core.running[queue]
        if running is not None:
            finished = running.end == cycle if running.transfer is None else running.transfer.done
            if finished:
                self.executed.append(Executed(core.id.name, queue, running.instruction.location.line,
                                              running.start, cycle))
                core.running[queue] = running = None
                changed = True
        if running is None and core.queues[queue]:
            instruction = core.queues[queue].popleft()
            core.running[queue] = self._start(core, instruction, cycle)
            changed = True
        return changed

    def _start(self, core: _Core, instruction: Compute | Move, cycle: int) -> _Running:
        if isinstance(instruction, Compute):
            rate = self.machine.ops_per_cycle(instruction.type)
            latency = self.machine.latency_cycles(instruction.type)
            duration = latency + ceil(Fraction(instruction.count) / rate)
            return _Running(instruction, cycle, end=cycle + duration)
        link = _link_of(instruction, core.id)
        transfer = _Transfer(link, Fraction(instruction.size), cycle + self.links[link][1])
        self.transfers.append(transfer)
        return _Running(instruction, cycle, transfer=transfer)

    def _control(self, core: _Core, cycle: int) -> bool:
        """Run the control unit as far as it can go at ``cycle``; True if it did anything."""
        changed = False
        while True:
            kind = core.state[0]
            if kind == "done":
                return changed
            if kind == "fetch":
                if core.position == len(core.instructions):
                    core.state = ("done",)
                    return True
                instruction = core.instructions[core.position]
                core.position += 1
                if isinstance(instruction, Sync):
                    core.state = ("sync",)
                elif isinstance(instruction, Barrier):
                    core.state = ("barrier-sync",)
                else:
                    core.state = ("issue", cycle + self.machine.core.issue_cycles, instruction)
            elif kind == "issue":
                _, ready_at, instruction = core.state
                queue = _queue_of(instruction)
                if cycle < ready_at or core.occupancy(queue) >= self.machine.core.queue_depth:
                    return changed
                core.queues[queue].append(instruction)
                core.state = ("fetch",)
            elif kind in ("sync", "barrier-sync"):
                if not core.idle():
                    return changed
                if kind == "sync":
                    core.state = ("fetch",)
                else:
                    core.barriers += 1
                    self.arrived[core.barriers] = self.arrived.get(core.barriers, 0) + 1
                    core.state = ("barrier-wait", core.barriers)
            else:  # barrier-wait
                if self.arrived[core.state[1]] < len(self.cores):
                    return changed
                core.state = ("fetch",)
            changed = True
