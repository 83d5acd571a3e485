"""What instructions do that costs energy, by the contract's rule (asm.program.traffic)."""

from __future__ import annotations

from collections.abc import Iterable

from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import Compute, Move, Program, charged_for_operands, repetitions, traffic
from dlpsim.machine import MachineConfig
from dlpsim.results.energy import Activity
from dlpsim.sim.check import core_ids


def activity_of(executed: Iterable[tuple[Move | Compute, int]]) -> Activity:
    """The operations, bytes read and bytes written of each instruction times how often it ran.

    Called once per run on every distinct instruction that completed (compiled layers have
    tens of thousands), so it adds into plain dicts rather than building an Activity each."""
    operations: dict[str, int] = {}
    reads: dict[Memory, int] = {}
    writes: dict[Memory, int] = {}
    uncharged = 0
    for instruction, times in executed:
        if isinstance(instruction, Compute):
            name = instruction.type.name
            operations[name] = operations.get(name, 0) + times * instruction.count
            if not charged_for_operands(instruction):
                uncharged += times
        for part in traffic(instruction):
            memory = part.memory
            if part.read:
                reads[memory] = reads.get(memory, 0) + times * part.read
            if part.written:
                writes[memory] = writes.get(memory, 0) + times * part.written
    def by_name(counts: dict[Memory, int]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((memory.value, count) for memory, count in counts.items()))
    return Activity(tuple(sorted(operations.items())), by_name(reads), by_name(writes), uncharged)


def instruction_activity(instruction: Move | Compute) -> Activity:
    """The operations, bytes read and bytes written of one execution of ``instruction``."""
    return activity_of(((instruction, 1),))


def program_activity(program: Program, machine: MachineConfig) -> Activity:
    """What the whole program will do, read from its statements without running it (loops counted,
    not expanded): what a complete run of it counts."""
    return activity_of((instruction, times) for core in core_ids(machine)
                       for instruction, times in repetitions(program.stream(core))
                       if isinstance(instruction, Move | Compute))
