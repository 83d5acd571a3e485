"""The assembled program: immutable, typed, every statement keeping its source location."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from dlpsim.asm.opcodes import ComputeType, Memory, Unit
from dlpsim.errors import SourceLocation


@dataclass(frozen=True)
class Operand:
    """A memory an instruction names: without an address (``NRAM``), at a byte offset
    (``NRAM[0x8000]``, the size following from the instruction), or as an explicit half-open
    byte range (``NRAM[0x100:0x900]``)."""

    memory: Memory
    offset: int | None
    location: SourceLocation
    end: int | None = None  # the range's end (exclusive), for MEM[offset:end]

    def region(self, size: int | None) -> tuple[int, int] | None:
        """The bytes [start, end) it covers when the instruction gives it ``size`` bytes; None
        when it has no address (or no size to go with an offset): unchecked, never guessed."""
        if self.offset is None:
            return None
        if self.end is not None:
            return self.offset, self.end
        return None if size is None else (self.offset, self.offset + size)

    def __str__(self) -> str:
        name = self.memory.value
        if self.offset is None:
            return name
        return f"{name}[{self.offset:#x}]" if self.end is None else f"{name}[{self.offset:#x}:{self.end:#x}]"


@dataclass(frozen=True)
class ComputeOperands:
    """``A, B -> C`` (C = A op B) or, accumulating, ``A, B +> C`` (C += A op B: C is read too)."""

    a: Operand
    b: Operand
    c: Operand
    accumulate: bool = False

    def __str__(self) -> str:
        return f"{self.a}, {self.b} {'+>' if self.accumulate else '->'} {self.c}"


# Marks the result of a compute: written, or (accumulating) read and written.
WRITES, ACCUMULATES = "->", "+>"


@dataclass(frozen=True)
class Move:
    source: Operand
    destination: Operand
    size: int  # bytes, > 0
    location: SourceLocation

    @property
    def touches_dram(self) -> bool:
        return Memory.DRAM in (self.source.memory, self.destination.memory)

    def __str__(self) -> str:
        return f"move {self.source} {self.destination} {self.size}"


@dataclass(frozen=True)
class Compute:
    """``compute T NUM``, or for a MAC type ``compute T MxKxN``: a GEMM of M x K by K x N;
    either may name its operands, ``A, B -> C``.

    ``count`` is the number of operations either way (M * K * N for a shape); ``shape`` is
    (M, K, N) when the text gave one. The throughput rule needs only the count; a systolic
    matrix unit needs the shape to map the product onto its array; the data checks need the
    operands.
    """

    type: ComputeType
    count: int  # operations, > 0
    location: SourceLocation
    shape: tuple[int, int, int] | None = None  # (M, K, N), only for MAC types
    operands: ComputeOperands | None = None

    def operand_bytes(self) -> tuple[int, int, int] | None:
        """The bytes of A, B and C that the shape or count implies, each element the type's width:
        M*K, K*N and M*N elements for a shape, n each for a vector op; None for a MAC given by
        its count alone (its operands need explicit ranges)."""
        width = self.type.bits // 8
        if self.shape is not None:
            m, k, n = self.shape
            return m * k * width, k * n * width, m * n * width
        if self.type.unit is Unit.VECTOR:
            return (self.count * width,) * 3
        return None

    def __str__(self) -> str:
        amount = "x".join(str(d) for d in self.shape) if self.shape is not None else str(self.count)
        text = f"compute {self.type} {amount}"
        return text if self.operands is None else f"{text} {self.operands}"


@dataclass(frozen=True)
class Sync:
    location: SourceLocation

    def __str__(self) -> str:
        return "sync"


@dataclass(frozen=True)
class Barrier:
    location: SourceLocation

    def __str__(self) -> str:
        return "barrier"


@dataclass(frozen=True)
class Loop:
    count: int  # >= 0
    body: tuple[Statement, ...]
    location: SourceLocation

    def __str__(self) -> str:
        return f"loop {self.count}"


@dataclass(frozen=True)
class Access:
    """What an instruction does to one memory: reads or writes ``region`` of ``operand.memory``
    (on the issuing core's own NRAM and WRAM, the cluster's SharedRAM, the chip's DRAM).
    ``region`` is None when the operand has no address: the access is unchecked."""

    operand: Operand
    role: str  # "source", "destination", "A", "B" or "C"
    writes: bool
    region: tuple[int, int] | None


def accesses(instruction: Move | Compute) -> tuple[Access, ...]:
    """Every memory access an instruction makes (contract v2, "Data"): a move reads its source
    and writes its destination, SIZE bytes each; a compute reads A and B and writes C (and
    reads C too when accumulating). A compute that names no operands touches its core's NRAM
    and WRAM somewhere unknown: it has no accesses to check and is unchecked as a whole."""
    if isinstance(instruction, Move):
        source, destination = instruction.source, instruction.destination
        return (Access(source, "source", False, source.region(instruction.size)),
                Access(destination, "destination", True, destination.region(instruction.size)))
    operands = instruction.operands
    if operands is None:
        return ()
    sizes = instruction.operand_bytes() or (None, None, None)
    found = [Access(operands.a, "A", False, operands.a.region(sizes[0])),
             Access(operands.b, "B", False, operands.b.region(sizes[1]))]
    if operands.accumulate:
        found.append(Access(operands.c, "C", False, operands.c.region(sizes[2])))
    found.append(Access(operands.c, "C", True, operands.c.region(sizes[2])))
    return tuple(found)


class Traffic(NamedTuple):
    """The bytes an instruction reads from and writes to one memory (contract v2, "Energy"); a
    named tuple, as a run makes one per memory of every distinct instruction it completed."""

    memory: Memory
    read: int
    written: int


def traffic(instruction: Move | Compute) -> tuple[Traffic, ...]:
    """What an instruction costs in memory traffic (contract v2, "Energy"): a move reads SIZE
    bytes of its source and writes them to its destination; a MAC shape M x K x N reads M*K
    elements of A and K*N of B and writes M*N of C (and reads C too when accumulating); a vector
    op on n elements reads n of A and n of B and writes n of C. Each operand is charged to the
    memory it names, A and C to NRAM and B to WRAM where the instruction names none. A MAC given
    by its count alone has no shape: it costs no traffic (see :func:`charged_for_operands`)."""
    if isinstance(instruction, Move):
        return (Traffic(instruction.source.memory, instruction.size, 0),
                Traffic(instruction.destination.memory, 0, instruction.size))
    sizes = instruction.operand_bytes()
    if sizes is None:
        return ()
    a, b, c = sizes
    operands = instruction.operands
    a_in, b_in, c_in = ((Memory.NRAM, Memory.WRAM, Memory.NRAM) if operands is None
                        else (operands.a.memory, operands.b.memory, operands.c.memory))
    accumulate = operands is not None and operands.accumulate
    return (Traffic(a_in, a, 0), Traffic(b_in, b, 0), Traffic(c_in, c if accumulate else 0, c))


def charged_for_operands(instruction: Move | Compute) -> bool:
    """False for a MAC given by its count alone, which :func:`traffic` charges nothing."""
    return isinstance(instruction, Move) or instruction.operand_bytes() is not None


Instruction = Move | Compute | Sync | Barrier
Statement = Instruction | Loop
INSTRUCTION_TYPES = (Move, Compute, Sync, Barrier)


@dataclass(frozen=True)
class CoreSelector:
    """The cores a ``.core`` section addresses: all compute cores, some of them, or ``mem``."""

    indices: tuple[int, ...] | None  # None: every compute core
    memory_core: bool
    location: SourceLocation | None  # None for text before any .core line

    def selects(self, core: CoreId) -> bool:
        if core.is_memory_core:
            return self.memory_core
        if self.memory_core:
            return False
        return self.indices is None or core.index in self.indices

    def __str__(self) -> str:
        if self.memory_core:
            return "mem"
        if self.indices is None:
            return "all"
        return ",".join(str(i) for i in self.indices)


@dataclass(frozen=True, order=True)
class CoreId:
    """A compute core (index 0, 1, ...) or the memory core (index -1)."""

    index: int

    @property
    def is_memory_core(self) -> bool:
        return self.index < 0

    @property
    def name(self) -> str:
        return "mem" if self.is_memory_core else f"core{self.index}"

    def __str__(self) -> str:
        return self.name


MEMORY_CORE = CoreId(-1)


@dataclass(frozen=True)
class Section:
    cores: CoreSelector
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Program:
    """What the assembler returns: the program's sections in text order."""

    file: str
    machine: str | None  # the preset named by .machine, if any
    machine_location: SourceLocation | None
    sections: tuple[Section, ...]

    def stream(self, core: CoreId) -> tuple[Statement, ...]:
        """The core's statements: the concatenation of the sections that include it."""
        statements: list[Statement] = []
        for section in self.sections:
            if section.cores.selects(core):
                statements.extend(section.statements)
        return tuple(statements)


class ProgramBuilder:
    """Statements put into sections and loops in text order: how the assembler and the
    compiler's ProgramWriter both make a Program. Callers check their own rules first."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.selector = CoreSelector(None, False, None)
        self.statements: list[Statement] = []  # of the innermost open loop, else of the section
        # Open loops, innermost last: (count, location, statements of the enclosing block).
        self.open_loops: list[tuple[int, SourceLocation, list[Statement]]] = []

    def add(self, statement: Statement) -> None:
        self.statements.append(statement)

    def open_loop(self, count: int, location: SourceLocation) -> None:
        self.open_loops.append((count, location, self.statements))
        self.statements = []

    def close_loop(self) -> None:
        count, location, enclosing = self.open_loops.pop()
        enclosing.append(Loop(count, tuple(self.statements), location))
        self.statements = enclosing

    def select(self, selector: CoreSelector) -> None:
        """Start a ``.core`` section."""
        self._close_section()
        self.selector = selector

    def _close_section(self) -> None:
        if self.statements or self.selector.location is not None:
            self.sections.append(Section(self.selector, tuple(self.statements)))
        self.statements = []

    def program(self, file: str, machine: str | None, machine_location: SourceLocation | None) -> Program:
        self._close_section()
        return Program(file, machine, machine_location, tuple(self.sections))


@dataclass(frozen=True)
class Repeat:
    """A loop as the stream runs it: one that issues something (count >= 1), body normalised."""

    count: int
    body: tuple[Instruction | Repeat, ...]


def normalised(statements: tuple[Statement, ...]) -> tuple[Instruction | Repeat, ...]:
    """The statements as the stream runs them, with the two shortcuts of the dynamic stream.

    A loop whose body issues nothing is skipped, however large its count, and one whose body
    issues nothing but syncs issues one sync: a sync right after a sync waits for nothing.
    """
    result: list[Instruction | Repeat] = []
    for statement in statements:
        if not isinstance(statement, Loop):
            result.append(statement)
        elif statement.count and dynamic_count(statement.body, INSTRUCTION_TYPES):
            if dynamic_count(statement.body, (Move, Compute, Barrier)):
                result.append(Repeat(statement.count, normalised(statement.body)))
            else:
                result.append(next(s for s in walk(statement.body) if isinstance(s, Sync)))
    return tuple(result)


def expand(statements: tuple[Statement, ...]) -> Iterator[Instruction]:
    """The dynamic instruction stream: loops unrolled lazily, never materialised (see normalised())."""
    yield from _unrolled(normalised(statements))


def _unrolled(statements: tuple[Instruction | Repeat, ...]) -> Iterator[Instruction]:
    for statement in statements:
        if isinstance(statement, Repeat):
            for _ in range(statement.count):
                yield from _unrolled(statement.body)
        else:
            yield statement


def repetitions(statements: tuple[Statement, ...], times: int = 1) -> Iterator[tuple[Instruction, int]]:
    """Each instruction of the text with how many times the stream issues it."""
    for statement in statements:
        if isinstance(statement, Loop):
            yield from repetitions(statement.body, times * statement.count)
        else:
            yield statement, times


def dynamic_count(statements: tuple[Statement, ...], kind: type | tuple[type, ...]) -> int:
    """How many instructions of ``kind`` the stream issues, counted without expanding loops."""
    total = 0
    for statement in statements:
        if isinstance(statement, Loop):
            total += statement.count * dynamic_count(statement.body, kind)
        elif isinstance(statement, kind):
            total += 1
    return total


def walk(statements: tuple[Statement, ...]) -> Iterator[Statement]:
    """Every statement of the text once, loops included, in text order (no unrolling)."""
    for statement in statements:
        yield statement
        if isinstance(statement, Loop):
            yield from walk(statement.body)
