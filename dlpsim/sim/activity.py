"""What one instruction does that costs energy, by the contract's rule (asm.program.traffic)."""

from __future__ import annotations

from dlpsim.asm.program import Compute, Move, charged_for_operands, traffic
from dlpsim.results.energy import Activity


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
