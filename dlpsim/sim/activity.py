"""What one instruction does that costs energy, by the contract's rule (asm.program.traffic)."""

from __future__ import annotations

from dlpsim.asm.program import Compute, Move, Program, charged_for_operands, repetitions, traffic
from dlpsim.machine import MachineConfig
from dlpsim.results.energy import Activity
from dlpsim.sim.check import core_ids


def instruction_activity(instruction: Move | Compute) -> Activity:
    """The operations, bytes read and bytes written of one execution of ``instruction``."""
    reads: dict[str, int] = {}
    writes: dict[str, int] = {}
    for part in traffic(instruction):
        name = part.memory.value
        reads[name] = reads.get(name, 0) + part.read
        writes[name] = writes.get(name, 0) + part.written
    operations = () if isinstance(instruction, Move) else ((instruction.type.name, instruction.count),)
    uncharged = int(not charged_for_operands(instruction))
    once = Activity(operations, tuple(reads.items()), tuple(writes.items()), uncharged)
    return Activity.total(((once, 1),))  # sorted, zero counts left out


def program_activity(program: Program, machine: MachineConfig) -> Activity:
    """What the whole program will do, read from its statements without running it (loops counted,
    not expanded): what a complete run of it counts."""
    executed = []
    for core in core_ids(machine):
        for instruction, times in repetitions(program.stream(core)):
            if isinstance(instruction, Move | Compute):
                executed.append((instruction_activity(instruction), times))
    return Activity.total(executed)
