"""The assembled program: immutable, typed, every statement keeping its source location."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dlpsim.asm.opcodes import ComputeType, Memory
from dlpsim.errors import SourceLocation


@dataclass(frozen=True)
class Operand:
    """A memory named by a ``move``, optionally at a byte offset (``NRAM[0x8000]``)."""

    memory: Memory
    offset: int | None
    location: SourceLocation

    def __str__(self) -> str:
        name = self.memory.value
        return name if self.offset is None else f"{name}[{self.offset:#x}]"


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
    """``compute T NUM``, or for a MAC type ``compute T MxKxN``: a GEMM of M x K by K x N.

    ``count`` is the number of operations either way (M * K * N for a shape); ``shape`` is
    (M, K, N) when the text gave one. The throughput rule needs only the count; a systolic
    matrix unit needs the shape to map the product onto its array.
    """

    type: ComputeType
    count: int  # operations, > 0
    location: SourceLocation
    shape: tuple[int, int, int] | None = None  # (M, K, N), only for MAC types

    def __str__(self) -> str:
        if self.shape is not None:
            return f"compute {self.type} {'x'.join(str(d) for d in self.shape)}"
        return f"compute {self.type} {self.count}"


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
