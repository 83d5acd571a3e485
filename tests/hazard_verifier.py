"""A brute-force check of a program's data hazards, by the rules of the machine model (contract
v2, "Data"), for the tests' use until the simulator's own checker (dlpsim/data/hazards.py) is
merged.

Every core's stream is expanded. Two accesses conflict when their byte ranges overlap in the
same memory instance (NRAM and WRAM per core, the SharedRAM and DRAM shared) and one writes.
On one core, instructions are ordered if they use the same queue (compute; io: moves touching
DRAM; move: the other moves) or a sync or barrier lies between them, so only instructions of
different queues between the same two syncs can race. Across cores only barriers order, so
accesses of two cores in the same barrier epoch race. Small compiled programs only: the
expansion is not bounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dlpsim.asm import Program
from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import MEMORY_CORE, Barrier, Compute, CoreId, Move, Sync, accesses, expand

SHARED_MEMORIES = (Memory.SHARED, Memory.DRAM)


@dataclass(frozen=True)
class Hazard:
    kind: str  # RAW, WAR or WAW, the earlier access first
    memory: str
    lines: tuple[int, int]


@dataclass(frozen=True)
class _Touch:
    instance: tuple
    start: int
    end: int
    writes: bool
    line: int
    queue: str


def _queue(instruction: Move | Compute) -> str:
    if isinstance(instruction, Compute):
        return "compute"
    return "io" if instruction.touches_dram else "move"


def _kind(first_writes: bool, second_writes: bool) -> str:
    if first_writes and second_writes:
        return "WAW"
    return "RAW" if first_writes else "WAR"


def _conflict(first: _Touch, second: _Touch) -> bool:
    return (first.instance == second.instance and (first.writes or second.writes)
            and first.start < second.end and second.start < first.end)


def check(program: Program, compute_cores: int, memory_core: bool) -> tuple[list[Hazard], int]:
    """The program's hazards (each pair once) and how many instructions are unchecked (a move or
    compute with an operand that has no address, or a compute with no operands)."""
    hazards: set[Hazard] = set()
    unchecked = 0
    cores = [CoreId(i) for i in range(compute_cores)] + ([MEMORY_CORE] if memory_core else [])
    # (epoch, instance) -> the accesses of every core there, for the shared memories
    shared: dict[tuple, set[tuple[int, int, bool, int, int]]] = defaultdict(set)
    for core in cores:
        segment: list[_Touch] = []
        epoch = 0
        for instruction in expand(program.stream(core)):
            if isinstance(instruction, Sync | Barrier):
                segment = []
                epoch += isinstance(instruction, Barrier)
                continue
            found = accesses(instruction)
            if not found or any(access.region is None for access in found):
                unchecked += 1
                continue
            touches = []
            for access in found:
                memory = access.operand.memory
                instance = (memory,) if memory in SHARED_MEMORIES else (memory, core.index)
                start, end = access.region
                touch = _Touch(instance, start, end, access.writes, instruction.location.line,
                               _queue(instruction))
                touches.append(touch)
                if memory in SHARED_MEMORIES:
                    shared[(epoch, instance)].add((start, end, access.writes, core.index, touch.line))
            for earlier in segment:
                for touch in touches:
                    if earlier.queue != touch.queue and _conflict(earlier, touch):
                        hazards.add(Hazard(_kind(earlier.writes, touch.writes), touch.instance[0].value,
                                           (earlier.line, touch.line)))
            segment += touches
    for (_, instance), found in shared.items():
        hazards.update(_across_cores(instance, sorted(found)))
    return sorted(hazards, key=lambda hazard: hazard.lines), unchecked


def _across_cores(instance: tuple, found: list[tuple[int, int, bool, int, int]]) -> list[Hazard]:
    """Overlapping accesses of different cores in one epoch, one of them a write (a sweep over
    the accesses sorted by start)."""
    result = []
    active: list[tuple[int, int, bool, int, int]] = []
    for access in found:
        start, _, writes, core, line = access
        active = [other for other in active if other[1] > start]
        for _, _, other_writes, other_core, other_line in active:
            if other_core != core and (writes or other_writes):
                (first, first_writes), (second, second_writes) = sorted(
                    [((other_core, other_line), other_writes), ((core, line), writes)])
                result.append(Hazard(_kind(first_writes, second_writes), instance[0].value,
                                     (first[1], second[1])))
        active.append(access)
    return result
