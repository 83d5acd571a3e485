"""Functional execution (contract v2, "Data"): a program run on numpy memories.

A hazard-free program's result does not depend on timing, so any order that respects
happens-before gives the same bytes. The one used here is the simplest: barrier epoch by epoch
(everything every core issues before its k-th barrier, then everything up to its (k+1)-th),
and within an epoch core by core, each core's dynamic stream in program order (a linear
extension of that core's happens-before). The timing engine is never involved.

Semantics, one instruction at a time:

- ``move SRC DST SIZE`` copies SIZE bytes;
- ``compute MAC_T MxKxN A, B -> C``: C = A x B with A (M x K), B (K x N) and C (M x N)
  row-major; ``+>`` adds the product into C. MAC_32 multiplies float32 in float32 (numpy's
  matmul); MAC_16 reads IEEE half A and B (and C), multiplies and accumulates in float32 and
  rounds the result to half once, when it is stored;
- ``compute ADD|SUB|MUL|DIV_T n A, B -> C``: C = A op B on n elements (``+>``: C += A op B),
  float32 for _32; for _16 computed in float32 from half inputs and rounded to half once.
  IEEE rules throughout: a division by zero gives an infinity or a NaN, never an error;
- an explicit range ``MEM[lo:hi]`` holds its operand row-major from ``lo``; it must be at least
  as large as the operand (a smaller one holds packed or compressed data that has no values
  here), and the bytes after the operand are neither read nor written;
- ``sync`` and ``barrier`` order, and do nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from dlpsim.asm.opcodes import Memory, Unit
from dlpsim.asm.program import (
    Barrier,
    Compute,
    CoreId,
    Move,
    Operand,
    Program,
    Statement,
    expand,
    repetitions,
)
from dlpsim.data.functional.memory import Memories, PagedMemory
from dlpsim.data.hazards import HazardError, HazardReport, check_hazards
from dlpsim.errors import ProgramError, RunLimitError, SourceLocation
from dlpsim.machine import MachineConfig
from dlpsim.sim.check import bind

# Refusals printed in an error; the count of the rest follows.
PRINTED_REFUSALS = 10


@dataclass(frozen=True)
class FunctionalLimits:
    """What one functional run may do, checked from the text before the first instruction runs:
    every instruction is executed (no fast-forward), so a loop count that the timing model skips
    through in a moment would take hours here. At the defaults a run takes at most minutes."""

    instructions: int = 10_000_000  # moves and computes issued, all cores together
    macs: int = 10**11  # multiply-accumulates of every MAC instruction issued
    vector_elements: int = 10**10  # elements of every vector instruction issued
    bytes_moved: int = 10**11  # bytes of every move issued


DEFAULT_LIMITS = FunctionalLimits()


@dataclass(frozen=True)
class Workload:
    """What a functional run will execute, counted from the text without expanding loops."""

    instructions: int
    macs: int
    vector_elements: int
    bytes_moved: int

    def refuse_beyond(self, limits: FunctionalLimits, file: str) -> None:
        for figure, limit, what in (
                (self.instructions, limits.instructions, "move and compute instructions"),
                (self.macs, limits.macs, "MACs"),
                (self.vector_elements, limits.vector_elements, "vector elements"),
                (self.bytes_moved, limits.bytes_moved, "bytes moved")):
            if figure > limit:
                raise RunLimitError(
                    f"{file}: error: --functional executes every instruction, and this program issues "
                    f"{figure:,} {what}, over the limit of {limit:,} for one functional run")


def workload(streams: dict[CoreId, tuple[Statement, ...]]) -> Workload:
    instructions = macs = elements = moved = 0
    for stream in streams.values():
        for instruction, times in repetitions(stream):
            if isinstance(instruction, Move):
                instructions += times
                moved += times * instruction.size
            elif isinstance(instruction, Compute):
                instructions += times
                if instruction.type.unit is Unit.MATRIX:
                    macs += times * instruction.count
                else:
                    elements += times * instruction.count
    return Workload(instructions, macs, elements, moved)


class FunctionalError(ProgramError):
    """Instructions that functional execution cannot run: each (at most PRINTED_REFUSALS) as
    ``file:line:col: error: ...``, then how many there are."""

    def __init__(self, file: str, refusals: tuple[tuple[SourceLocation, str], ...]):
        super().__init__(*refusals[0])
        self.args = (file, refusals)
        self.file = file
        self.refusals = refusals

    def __str__(self) -> str:
        lines = [f"{location}: error: {message}" for location, message in self.refusals[:PRINTED_REFUSALS]]
        count = len(self.refusals)
        shown = f", the first {PRINTED_REFUSALS} shown" if count > PRINTED_REFUSALS else ""
        lines.append(f"{self.file}: note: --functional cannot execute {count} instruction"
                     f"{'s' if count != 1 else ''}{shown}: every operand needs an address and a size "
                     "that holds its data")
        return "\n".join(lines)


class FunctionalHazardError(HazardError):
    """A program with hazards: its result would depend on timing, so it has none to compute."""

    def __str__(self) -> str:
        listed = super().__str__().rsplit("\n", 1)[0]
        count = len(self.report.hazards)
        return (f"{listed}\n{self.report.file}: note: {count} data hazard{'s' if count != 1 else ''}; "
                "--functional needs a hazard-free program, whose result does not depend on timing "
                "(--allow-hazards does not apply to it)")


def _operand_refusal(operand: Operand, role: str, needed: int | None, what: str) -> str | None:
    """Why an operand cannot be executed, or None."""
    if operand.offset is None:
        return (f"--functional cannot execute this: {role} {operand.memory.value} has no address "
                f"(write {operand.memory.value}[OFFSET])")
    if operand.end is not None and needed is not None and operand.end - operand.offset < needed:
        return (f"--functional cannot execute this: {role} {operand} holds {operand.end - operand.offset} B, "
                f"but it must hold {what} ({needed} B); packed or compressed data has no values to "
                "compute on")
    return None


def refusal(instruction: Move | Compute) -> tuple[SourceLocation, str] | None:
    """Why functional execution cannot run an instruction (at the operand concerned), or None."""
    if isinstance(instruction, Move):
        for role, operand in (("its source", instruction.source),
                              ("its destination", instruction.destination)):
            why = _operand_refusal(operand, role, instruction.size, "the move")
            if why is not None:
                return operand.location, why
        return None
    operands = instruction.operands
    if operands is None:
        return (instruction.location,
                f"--functional cannot execute `{instruction}`: it names no operands, so what it reads and "
                "writes is unknown (write A, B -> C with addresses)")
    sizes = instruction.operand_bytes()
    if sizes is None:
        return (instruction.location,
                f"--functional cannot execute `{instruction}`: a MAC given by its count has no shape to "
                "multiply (write the shape MxKxN)")
    if instruction.shape is not None:
        m, k, n = instruction.shape
        matrices = (f"the {m}x{k} matrix A", f"the {k}x{n} matrix B", f"the {m}x{n} matrix C")
    else:
        matrices = (f"{instruction.count} elements",) * 3
    for role, operand, size, matrix in zip(("operand A", "operand B", "operand C"),
                                           (operands.a, operands.b, operands.c), sizes, matrices,
                                           strict=True):
        why = _operand_refusal(operand, role, size, f"{matrix} of {instruction.type}")
        if why is not None:
            return operand.location, why
    return None


def _refusals(streams: dict[CoreId, tuple[Statement, ...]]) -> tuple[tuple[SourceLocation, str], ...]:
    """Every instruction issued at least once that cannot be executed, once each, in text order."""
    seen: set[int] = set()
    found = []
    for stream in streams.values():
        for instruction, times in repetitions(stream):
            if times and isinstance(instruction, Move | Compute) and id(instruction) not in seen:
                seen.add(id(instruction))
                why = refusal(instruction)
                if why is not None:
                    found.append(why)
    return tuple(sorted(found, key=lambda item: (item[0].line, item[0].column)))


def epoch_order(streams: dict[CoreId, tuple[Statement, ...]]) -> Iterator[tuple[CoreId, Move | Compute]]:
    """Every move and compute as (core, instruction), barrier epoch by epoch, each core's part of
    an epoch in program order, the cores in ``streams``' order: a linear extension of
    happens-before. Loops are expanded lazily, one instruction at a time."""
    running = {core: expand(stream) for core, stream in streams.items()}
    while running:
        for core, stream in list(running.items()):
            for instruction in stream:
                if isinstance(instruction, Barrier):
                    break
                if isinstance(instruction, Move | Compute):
                    yield core, instruction
            else:
                del running[core]  # bind() checked the barrier counts: all end in the same epoch


_DTYPES = {32: np.dtype(np.float32), 16: np.dtype(np.float16)}
_VECTOR = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide}


class Executor:
    """Executes instructions one at a time on ``memories``, in the order it is given."""

    def __init__(self, memories: Memories):
        self.memories = memories
        self.executed = 0
        self._reachable: dict[CoreId, dict[Memory, PagedMemory]] = {}

    def run(self, schedule: Iterable[tuple[CoreId, Move | Compute]]) -> int:
        """Execute every (core, instruction) of ``schedule``; the number executed so far."""
        instruction = None
        try:
            with np.errstate(all="ignore"):  # IEEE results (inf, NaN), as the hardware gives them
                for core, instruction in schedule:
                    reachable = self._reachable.get(core)
                    if reachable is None:
                        reachable = self._reachable[core] = self.memories.reachable(core)
                    if isinstance(instruction, Move):
                        self.move(reachable, instruction)
                    else:
                        self.compute(reachable, instruction)
                    self.executed += 1
        except RunLimitError as error:  # out of pages: say where
            where = f"{instruction.location}: " if instruction is not None else ""
            raise RunLimitError(f"{where}{error}") from None
        return self.executed

    @staticmethod
    def move(reachable: dict[Memory, PagedMemory], move: Move) -> None:
        data = reachable[move.source.memory].read(move.source.offset, move.size)
        reachable[move.destination.memory].write(move.destination.offset, data)

    @staticmethod
    def compute(reachable: dict[Memory, PagedMemory], compute: Compute) -> None:
        operands = compute.operands
        dtype = _DTYPES[compute.type.bits]
        a_bytes, b_bytes, c_bytes = compute.operand_bytes()
        a = reachable[operands.a.memory].read(operands.a.offset, a_bytes).view(dtype)
        b = reachable[operands.b.memory].read(operands.b.offset, b_bytes).view(dtype)
        half = dtype.itemsize == 2
        if half:  # computed in float32, rounded to half once when stored
            a, b = a.astype(np.float32), b.astype(np.float32)
        if compute.shape is not None:
            m, k, n = compute.shape
            result = np.matmul(a.reshape(m, k), b.reshape(k, n))
        else:
            result = _VECTOR[compute.type.operation](a, b)
        destination = reachable[operands.c.memory]
        if operands.accumulate:
            c = destination.read(operands.c.offset, c_bytes).view(dtype).reshape(result.shape)
            result = (c.astype(np.float32) if half else c) + result
        destination.write(operands.c.offset, result.astype(dtype, copy=False))


@dataclass(frozen=True)
class FunctionalProgram:
    """A program accepted for functional execution: hazard-free, every instruction executable,
    within the limits. ``prepare`` checks all of that from the text, before any work."""

    program: Program
    streams: dict[CoreId, tuple[Statement, ...]]
    workload: Workload

    @classmethod
    def prepare(cls, program: Program, machine: MachineConfig, hazards: HazardReport | None = None,
                limits: FunctionalLimits = DEFAULT_LIMITS) -> FunctionalProgram:
        streams = bind(program, machine)
        hazards = hazards if hazards is not None else check_hazards(program, machine)
        if hazards.hazards:
            raise FunctionalHazardError(hazards)
        refusals = _refusals(streams)
        if refusals:
            raise FunctionalError(program.file, refusals)
        work = workload(streams)
        work.refuse_beyond(limits, program.file)
        return cls(program, streams, work)

    def execute(self, memories: Memories) -> int:
        """Run the program on ``memories`` in epoch order; the number of instructions executed."""
        return Executor(memories).run(epoch_order(self.streams))
