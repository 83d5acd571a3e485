"""Checks a program against a machine before it runs, and gives each core its stream.

Everything here is decided by the text and the configuration alone: cores the
machine lacks, SharedRAM on a machine without one, transfers larger than a
memory, addressed operands past a memory's end, unequal barrier counts.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil

from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import (
    INSTRUCTION_TYPES,
    MEMORY_CORE,
    Barrier,
    Compute,
    CoreId,
    Move,
    Operand,
    Program,
    Statement,
    accesses,
    dynamic_count,
    repetitions,
    walk,
    walk_with_counts,
)
from dlpsim.errors import ProgramError
from dlpsim.machine import MachineConfig
from dlpsim.sim.compute import compute_timing
from dlpsim.units import describe_size, format_number


def core_ids(machine: MachineConfig) -> list[CoreId]:
    cores = [CoreId(i) for i in range(machine.compute_cores)]
    return cores + [MEMORY_CORE] if machine.has_memory_core else cores


def _check_operand(operand: Operand, size: int, machine: MachineConfig, counts: dict[str, int]) -> None:
    capacity = machine.capacity(operand.memory)
    name = operand.memory.value
    if capacity is None:
        raise ProgramError(operand.location,
                           f"{machine.name} has no {name}: it is a one-cluster machine without a SharedRAM")
    if size > capacity:
        raise ProgramError(operand.location,
                           f"a {size}-byte transfer does not fit {name} ({describe_size(capacity)} "
                           f"on {machine.name})")
    if operand.strides:
        _check_extent(operand, "", operand.extent(size, counts), capacity, machine)
    elif operand.offset is not None and operand.offset + size > capacity:
        raise ProgramError(operand.location,
                           f"{operand} + {size} B ends at byte {operand.offset + size}, past the end of "
                           f"{name} ({capacity} B on {machine.name})")


def _check_extent(operand: Operand, role: str, extent: tuple[int, int], capacity: int,
                  machine: MachineConfig) -> None:
    """An operand whose address moves with loop indices stays inside its memory in every iteration."""
    name = operand.memory.value
    if extent[0] < 0:
        raise ProgramError(operand.location, f"{role}{operand} starts at byte {extent[0]} in some iteration, "
                                             f"before the start of {name}")
    if extent[1] > capacity:
        raise ProgramError(operand.location, f"{role}{operand} ends at byte {extent[1]} in some iteration, "
                                             f"past the end of {name} ({capacity} B on {machine.name})")


def _check_compute_operands(compute: Compute, machine: MachineConfig, counts: dict[str, int]) -> None:
    """Each addressed operand of a compute lies inside its memory, in every iteration."""
    for access in accesses(compute):
        region = access.region
        capacity = machine.capacity(access.operand.memory)
        if region is None or capacity is None:
            continue
        if access.operand.strides:
            size = region[1] - region[0]
            _check_extent(access.operand, f"operand {access.role} ", access.operand.extent(size, counts),
                          capacity, machine)
        elif region[1] > capacity:
            raise ProgramError(access.operand.location,
                               f"operand {access.role} {access.operand.memory.value}[{region[0]:#x}:"
                               f"{region[1]:#x}) ends at byte {region[1]}, past the end of "
                               f"{access.operand.memory.value} ({capacity} B on {machine.name})")


def bind(program: Program, machine: MachineConfig) -> dict[CoreId, tuple[Statement, ...]]:
    """The non-empty stream of every core that has instructions, after checking the program."""
    cores = machine.compute_cores
    for section in program.sections:
        selector = section.cores
        if selector.memory_core and not machine.has_memory_core:
            raise ProgramError(selector.location,
                               f"{machine.name} has no memory core: `.core mem` needs a machine with a "
                               "SharedRAM, such as dlp-m")
        for index in selector.indices or ():
            if index >= cores:
                raise ProgramError(selector.location,
                                   f"core {index} does not exist: {machine.name} has {cores} compute "
                                   f"core{'s' if cores > 1 else ''} (0-{cores - 1})")
        for statement, counts in walk_with_counts(section.statements):
            if isinstance(statement, Move):
                for operand in (statement.source, statement.destination):
                    _check_operand(operand, statement.size, machine, counts)
            elif isinstance(statement, Compute):
                _check_compute_operands(statement, machine, counts)

    streams = {}
    for core in core_ids(machine):
        stream = program.stream(core)
        if dynamic_count(stream, INSTRUCTION_TYPES) > 0:
            streams[core] = stream
    _check_barriers(streams)
    return streams


# Every barrier is a meeting of all the cores, simulated one by one; no real program needs more.
MAX_BARRIERS = 10**7


def _check_barriers(streams: dict[CoreId, tuple[Statement, ...]]) -> None:
    counts = {core: dynamic_count(stream, Barrier) for core, stream in streams.items()}
    for core, count in counts.items():
        if count > MAX_BARRIERS:
            first_barrier = next(s for s in walk(streams[core]) if isinstance(s, Barrier))
            raise ProgramError(first_barrier.location,
                               f"{core} reaches {count:,} barriers; dlpsim simulates at most "
                               f"{MAX_BARRIERS:,} (each is a meeting of every core)")
    if len(set(counts.values())) <= 1:
        return
    most = max(counts, key=lambda core: (counts[core], -core.index))
    first_barrier = next(s for s in walk(streams[most]) if isinstance(s, Barrier))
    summary = ", ".join(f"{core} reaches {count}" for core, count in counts.items())
    raise ProgramError(first_barrier.location,
                       f"the cores reach different numbers of barriers ({summary}): every core with "
                       "instructions must reach the same number, or the program would deadlock")


def minimum_cycles(streams: dict[CoreId, tuple[Statement, ...]], machine: MachineConfig) -> tuple[int, str]:
    """A lower bound on the run's cycles, from the text alone, and what sets it.

    Each queue executes its instructions one at a time, each taking at least its
    time alone (compute: its exact duration under the configured timing model; a
    transfer: latency + ceil(size / B) on its link at full bandwidth); the DRAM link
    cannot move the chip's DRAM bytes faster than its bandwidth. Used to refuse,
    before running, a program that cannot finish within the cycle limit.
    """
    timing = compute_timing(machine)
    dram = machine.dram.link
    dram_rate = machine.bytes_per_cycle(dram)
    best = (0, "nothing to do")
    dram_bytes = 0
    for core, stream in streams.items():
        busy = {"compute": 0, "io": 0, "move": 0}
        for instruction, times in repetitions(stream):
            if isinstance(instruction, Compute):
                busy["compute"] += times * timing.cycles(instruction)
            elif isinstance(instruction, Move):
                if instruction.touches_dram:
                    link, queue = dram, "io"
                    dram_bytes += times * instruction.size
                else:
                    shared = Memory.SHARED in (instruction.source.memory, instruction.destination.memory)
                    link, queue = (machine.shared.link if shared else machine.core.local), "move"
                    # machine.shared exists: bind() refused SharedRAM on machines without one
                rate = machine.bytes_per_cycle(link)
                busy[queue] += times * (link.latency_cycles + ceil(Fraction(instruction.size) / rate))
        for queue, cycles in busy.items():
            if cycles > best[0]:
                best = (cycles, f"{core}'s {queue} queue alone needs {format_number(cycles)} cycles")
    dram_cycles = ceil(Fraction(dram_bytes) / dram_rate)
    if dram_cycles > best[0]:
        best = (dram_cycles, f"{format_number(dram_bytes)} bytes over the DRAM link need "
                             f"{format_number(dram_cycles)} cycles")
    return best
