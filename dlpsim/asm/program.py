"""The assembled program: immutable, typed, every statement keeping its source location."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from dlpsim.asm.opcodes import IMMEDIATE_PREFIX, ComputeType, Memory, Unit
from dlpsim.errors import SourceLocation

Strides = tuple[tuple[str, int], ...]  # (loop index, bytes per iteration), by index name


@dataclass(frozen=True)
class Operand:
    """A memory an instruction names: without an address (``NRAM``), at a byte offset
    (``NRAM[0x8000]``, the size following from the instruction), or as an explicit half-open
    byte range (``NRAM[0x100:0x900]``).

    Inside loops with indices the address may be affine in them (``DRAM[0x1000 + 0x2400*t]``):
    ``offset`` (and ``end``) are then the address when every index is 0 and ``strides`` says
    how many bytes each iteration of an index adds, to both ends; ``at`` resolves it for given
    iterations. A constant operand has no strides."""

    memory: Memory
    offset: int | None
    location: SourceLocation
    end: int | None = None  # the range's end (exclusive), for MEM[offset:end]
    strides: Strides = ()

    def extent(self, size: int | None, counts: dict[str, int]) -> tuple[int, int] | None:
        """The lowest start and highest end of its region over every iteration of the loops
        (``counts``: each index's iterations), or None when it has no region (see region())."""
        region = self.region(size)
        if region is None or not self.strides:
            return region
        low = sum(min(0, stride * (counts[name] - 1)) for name, stride in self.strides if counts[name] > 1)
        high = sum(max(0, stride * (counts[name] - 1)) for name, stride in self.strides if counts[name] > 1)
        return region[0] + low, region[1] + high

    def at(self, values: dict[str, int]) -> Operand:
        """The operand in the iterations ``values`` (index name -> iteration): itself when constant.
        Indices ``values`` does not give keep their strides."""
        if not self.strides:
            return self
        shift = sum(stride * values[name] for name, stride in self.strides if name in values)
        remaining = tuple((name, stride) for name, stride in self.strides if name not in values)
        return Operand(self.memory, self.offset + shift, self.location,
                       None if self.end is None else self.end + shift, remaining)

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
        start = affine_text(self.offset, self.strides)
        if self.end is None:
            return f"{name}[{start}]"
        separator = " : " if self.strides else ":"
        return f"{name}[{start}{separator}{affine_text(self.end, self.strides)}]"


def affine_text(constant: int, strides: Strides) -> str:
    """``0x1000 + 0x2400*t - u`` as the assembler reads it back."""
    text = f"{constant:#x}" if constant >= 0 else f"-{-constant:#x}"
    for name, stride in strides:
        size = abs(stride)
        text += f" {'-' if stride < 0 else '+'} {name if size == 1 else f'{size:#x}*{name}'}"
    return text


@dataclass(frozen=True)
class Immediate:
    """Operand B as a constant, ``%0.5``: every element reads ``value`` (rounded to the type's
    precision); no memory is read."""

    value: float

    def __str__(self) -> str:
        return f"{IMMEDIATE_PREFIX}{self.value!r}"


@dataclass(frozen=True)
class ComputeOperands:
    """``A, B -> C`` (C = A op B) or, accumulating, ``A, B +> C`` (C += A op B: C is read too).
    ``b`` is an :class:`Immediate` for a constant B, and None where there is no B: a unary type
    (``TANH_32 n A -> C``) or a window reduction (``MAX_32 n A -> C window ...``)."""

    a: Operand
    b: Operand | Immediate | None
    c: Operand
    accumulate: bool = False

    @property
    def b_operand(self) -> Operand | None:
        """B when it is in memory."""
        return self.b if isinstance(self.b, Operand) else None

    def __str__(self) -> str:
        inputs = str(self.a) if self.b is None else f"{self.a}, {self.b}"
        return f"{inputs} {'+>' if self.accumulate else '->'} {self.c}"


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]}x{values[1]}"


@dataclass(frozen=True)
class Window:
    """The window clause of a compute: ``window IHxIWxIC kernel KHxKW stride SHxSW pad T,B,L,R
    [dilation DHxDW] [groups G]``.

    A holds an input slab of ``height`` x ``width`` x (``groups`` * ``channels``) elements in
    HWC order (group g's channel c at channel index g * channels + c). The kernel slides over it
    padded with ``padding`` (top, bottom, left, right) rows and columns, by ``stride``, reading
    every ``dilation``-th position. A MAC window is a convolution tile (B: ``groups`` blocks of
    (KH*KW*channels) x N, C: OH x OW x groups x N); a MAX or ADD window a pooling (C: OH x OW x
    channels, no B, ``groups`` 1)."""

    height: int
    width: int
    channels: int  # per group
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def _positions(self, axis: int) -> int:
        size = (self.height, self.width)[axis]
        before, after = self.padding[2 * axis], self.padding[2 * axis + 1]
        spanned = self.dilation[axis] * (self.kernel[axis] - 1) + 1
        return (size + before + after - spanned) // self.stride[axis] + 1

    @property
    def output_height(self) -> int:
        """OH = floor((IH + T + B - (DH*(KH-1)+1)) / SH) + 1; below 1 when the kernel does not fit."""
        return self._positions(0)

    @property
    def output_width(self) -> int:
        return self._positions(1)

    @property
    def positions(self) -> int:
        """OH x OW."""
        return self.output_height * self.output_width

    @property
    def kernel_size(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def input_elements(self) -> int:
        """IH x IW x G*IC: the slab A holds."""
        return self.height * self.width * self.groups * self.channels

    def __str__(self) -> str:
        text = (f"window {self.height}x{self.width}x{self.channels} kernel {_pair(self.kernel)} "
                f"stride {_pair(self.stride)} pad {','.join(str(p) for p in self.padding)}")
        if self.dilation != (1, 1):
            text += f" dilation {_pair(self.dilation)}"
        if self.groups != 1:
            text += f" groups {self.groups}"
        return text


@dataclass(frozen=True)
class Rows:
    """The rows clause of a vector compute, ``rows RxL``: A holds ``rows`` rows of ``length``
    elements each, row-major. Without B it is a row reduction (ADD, MAX, MIN): C holds one
    element per row, the row's sum, maximum or minimum, and the count is the R x (L - 1)
    pairwise operations. With B in memory it is a per-row broadcast: B holds one element per
    row, C[r, j] = A[r, j] op B[r], and the count is R x L (softmax's subtraction of each row's
    maximum, layer norm's scaling by each row's 1 / sqrt(variance))."""

    rows: int
    length: int

    def __str__(self) -> str:
        return f"rows {self.rows}x{self.length}"


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
        return self.source.memory is Memory.DRAM or self.destination.memory is Memory.DRAM

    def __str__(self) -> str:
        return f"move {self.source} {self.destination} {self.size}"


@dataclass(frozen=True)
class Compute:
    """``compute T NUM``, or for a MAC type ``compute T MxKxN``: a GEMM of M x K by K x N;
    either may name its operands, ``A, B -> C``, and a MAC, MAX or ADD may add a window clause.

    ``count`` is the number of operations either way (M * K * N for a shape); ``shape`` is
    (M, K, N) when the text gave one. The throughput rule needs only the count; a systolic
    matrix unit needs the shape to map the product onto its array; the data checks need the
    operands and the window (which never changes the timing).
    """

    type: ComputeType
    count: int  # operations, > 0
    location: SourceLocation
    shape: tuple[int, int, int] | None = None  # (M, K, N), only for MAC types
    operands: ComputeOperands | None = None
    window: Window | None = None
    rows: Rows | None = None

    @property
    def row_reduction(self) -> bool:
        """A rows clause without B: one result per row (see Rows)."""
        return self.rows is not None and self.operands is not None and self.operands.b is None

    def operand_bytes(self) -> tuple[int, int | None, int] | None:
        """The bytes of A, B and C the instruction's data take, each element the type's width:
        M*K, K*N and M*N elements for a shape, n each for a vector op; with a window, A is the
        input slab, B a MAC's G blocks of K x N (a reduction has no B) and C the OH x OW outputs
        of every group or channel. B is None when it is not in memory (an immediate, a unary
        type); a broadcast B's explicit range holds fewer elements than n. None as a whole for a
        MAC given by its count alone (its operands need explicit ranges)."""
        width = self.type.bits // 8
        b_in_memory = self.operands is None or self.operands.b_operand is not None
        if self.rows is not None:  # R x L of A; a reduction's B none and C R, a broadcast's B R
            rows, length = self.rows.rows, self.rows.length
            if self.row_reduction:
                return rows * length * width, None, rows * width
            return rows * length * width, rows * width if b_in_memory else None, rows * length * width
        window = self.window
        if window is not None:
            if self.shape is not None:
                m, k, n = self.shape
                return window.input_elements * width, window.groups * k * n * width, m * n * width
            return window.input_elements * width, None, window.positions * window.channels * width
        if self.shape is not None:
            m, k, n = self.shape
            return m * k * width, k * n * width, m * n * width
        if self.type.unit is Unit.VECTOR:
            elements = self.count * width
            return elements, elements if b_in_memory else None, elements
        return None

    def traffic_bytes(self) -> tuple[int, int, int] | None:
        """The bytes the unit reads of A and of B and writes to C (contract v2, "Energy"): a shape's
        M*K, K*N and M*N elements, a window MAC's included (the clause is data: it is charged as
        its shape); a vector op's n of A, n of B (a broadcast B is read n times, an immediate or
        absent B not at all) and n of C; a window reduction's n pairwise operations, 2n of A and
        n of C. None for a MAC given by its count alone."""
        width = self.type.bits // 8
        if self.shape is not None:
            m, k, n = self.shape
            return m * k * width, k * n * width, m * n * width
        if self.type.unit is not Unit.VECTOR:
            return None
        elements = self.count * width
        if self.window is not None or self.row_reduction:
            return 2 * elements, 0, elements
        b_in_memory = self.operands is None or self.operands.b_operand is not None
        return elements, elements if b_in_memory and not self.type.unary else 0, elements

    def __str__(self) -> str:
        amount = "x".join(str(d) for d in self.shape) if self.shape is not None else str(self.count)
        text = f"compute {self.type} {amount}"
        if self.operands is not None:
            text = f"{text} {self.operands}"
        if self.rows is not None:
            text = f"{text} {self.rows}"
        return text if self.window is None else f"{text} {self.window}"


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
    """``loop COUNT`` ... ``endloop``, or ``loop COUNT as NAME``: NAME is the iteration (0, 1, ...)
    that operand addresses in the body may depend on (see Operand)."""

    count: int  # >= 0
    body: tuple[Statement, ...]
    location: SourceLocation
    index: str | None = None

    def __str__(self) -> str:
        return f"loop {self.count}" if self.index is None else f"loop {self.count} as {self.index}"


@dataclass(frozen=True)
class Access:
    """What an instruction does to one memory: reads or writes ``region`` of ``operand.memory``
    (on the issuing core's own NRAM and WRAM, the cluster's SharedRAM, the chip's DRAM).
    ``region`` is None when the operand has no address: the access is unchecked."""

    operand: Operand
    role: str  # "source", "destination", "A", "B" or "C"
    writes: bool
    region: tuple[int, int] | None


# Iterations an exact search over a box of loop indices may enumerate before it refuses.
SEARCH_BUDGET = 10**6


class SearchTooLarge(Exception):
    """An exact search over loop iterations would enumerate more than SEARCH_BUDGET cases."""

    def __init__(self, cases: int):
        super().__init__(cases)
        self.cases = cases


def affine_witness(terms: list[tuple[str, int, int]], low: int, high: int) -> dict[str, int] | None:
    """Iterations x (each index name -> 0 .. count-1) with low < sum(coefficient * x) < high, the
    first found, or None when there are none: exact. ``terms`` are (name, coefficient, count).

    The bounds of the sum over the box settle most cases at once; otherwise every combination
    of all indices but the one with the most iterations is tried, and that one solved in closed
    form (refused with SearchTooLarge past SEARCH_BUDGET combinations)."""
    if any(count <= 0 for _, _, count in terms):
        return None  # the loop never runs
    zero = {name: 0 for name, _, _ in terms}
    moving = [(name, c, n) for name, c, n in terms if c and n > 1]
    least = sum(min(0, c * (n - 1)) for _, c, n in moving)
    most = sum(max(0, c * (n - 1)) for _, c, n in moving)
    if most <= low or least >= high:
        return None
    if not moving:
        return zero
    moving.sort(key=lambda term: term[2])
    *others, (last, coefficient, count) = moving
    cases = 1
    for _, _, n in others:
        cases *= n
    if cases > SEARCH_BUDGET:
        raise SearchTooLarge(cases)
    for combination in itertools.product(*(range(n) for _, _, n in others)):
        partial = sum(c * x for (_, c, _), x in zip(others, combination, strict=True))
        # low < partial + coefficient * x < high, x in [0, count)
        lower, upper = low - partial, high - partial
        if coefficient < 0:
            lower, upper, step = -upper, -lower, -coefficient
        else:
            step = coefficient
        first = max(lower // step + 1, 0)
        if first <= min(-(-upper // step) - 1, count - 1):
            found = dict(zero)
            found.update({name: x for (name, _, _), x in zip(others, combination, strict=True)})
            found[last] = first
            return found
    return None


def overlap_possible(first: tuple[int, int], first_strides: Strides, second: tuple[int, int],
                     second_strides: Strides, counts: dict[str, int]) -> dict[str, int] | None:
    """Iterations in which regions [start, end) moving by their strides overlap (the first such
    found), or None if they never do; ``counts``: each index's iterations."""
    difference = dict(first_strides)
    for name, stride in second_strides:
        difference[name] = difference.get(name, 0) - stride
    # With d = sum over indices of (first's stride - second's) * iteration, they overlap when
    # first.start + d < second.end and second.start < first.end + d.
    terms = [(name, coefficient, counts[name]) for name, coefficient in difference.items()]
    return affine_witness(terms, second[0] - first[1], second[1] - first[0])


def operands_of(instruction: Move | Compute) -> tuple[Operand, ...]:
    """The operands an instruction names, in text order."""
    if isinstance(instruction, Move):
        return instruction.source, instruction.destination
    operands = instruction.operands
    if operands is None:
        return ()
    b = operands.b_operand
    return (operands.a, operands.c) if b is None else (operands.a, b, operands.c)


def is_affine(instruction: Instruction) -> bool:
    """Whether some operand's address depends on a loop index."""
    if isinstance(instruction, Move):
        return bool(instruction.source.strides or instruction.destination.strides)
    if isinstance(instruction, Compute):
        return any(operand.strides for operand in operands_of(instruction))
    return False


def resolved(instruction: Instruction, values: dict[str, int]) -> Instruction:
    """The instruction in the iterations ``values`` (index name -> iteration), every operand at
    its address there; the identical object when no operand depends on an index."""
    if not is_affine(instruction):
        return instruction
    if isinstance(instruction, Move):
        return Move(instruction.source.at(values), instruction.destination.at(values), instruction.size,
                    instruction.location)
    operands = instruction.operands
    b = operands.b.at(values) if isinstance(operands.b, Operand) else operands.b
    return Compute(instruction.type, instruction.count, instruction.location, instruction.shape,
                   ComputeOperands(operands.a.at(values), b, operands.c.at(values), operands.accumulate),
                   instruction.window, instruction.rows)


def accesses(instruction: Move | Compute) -> tuple[Access, ...]:
    """Every memory access an instruction makes (contract v2, "Data"): a move reads its source
    and writes its destination, SIZE bytes each; a compute reads A and B and writes C (and
    reads C too when accumulating); an immediate B reads nothing and a unary type or a window
    reduction has no B. A compute that names no operands touches its core's NRAM and WRAM
    somewhere unknown: it has no accesses to check and is unchecked as a whole."""
    if isinstance(instruction, Move):
        source, destination = instruction.source, instruction.destination
        return (Access(source, "source", False, source.region(instruction.size)),
                Access(destination, "destination", True, destination.region(instruction.size)))
    operands = instruction.operands
    if operands is None:
        return ()
    sizes = instruction.operand_bytes() or (None, None, None)
    found = [Access(operands.a, "A", False, operands.a.region(sizes[0]))]
    if (b := operands.b_operand) is not None:
        found.append(Access(b, "B", False, b.region(sizes[1])))
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
    op on n elements reads n of A and n of B and writes n of C (see Compute.traffic_bytes for
    the window, unary and immediate forms). Each operand is charged to the memory it names, A
    and C to NRAM and B to WRAM where the instruction names none. A MAC given by its count alone
    has no shape: it costs no traffic (see :func:`charged_for_operands`)."""
    if isinstance(instruction, Move):
        return (Traffic(instruction.source.memory, instruction.size, 0),
                Traffic(instruction.destination.memory, 0, instruction.size))
    sizes = instruction.traffic_bytes()
    if sizes is None:
        return ()
    a, b, c = sizes
    operands = instruction.operands
    if operands is None:
        a_in, b_in, c_in = Memory.NRAM, Memory.WRAM, Memory.NRAM
    else:
        b_operand = operands.b_operand
        a_in, c_in = operands.a.memory, operands.c.memory
        b_in = Memory.WRAM if b_operand is None else b_operand.memory  # b is 0 without one
    accumulate = operands is not None and operands.accumulate
    return (Traffic(a_in, a, 0), Traffic(b_in, b, 0), Traffic(c_in, c if accumulate else 0, c))


def charged_for_operands(instruction: Move | Compute) -> bool:
    """False for a MAC given by its count alone, which :func:`traffic` charges nothing."""
    return isinstance(instruction, Move) or instruction.traffic_bytes() is not None


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
        # Open loops, innermost last: (count, location, statements of the enclosing block, index).
        self.open_loops: list[tuple[int, SourceLocation, list[Statement], str | None]] = []

    def add(self, statement: Statement) -> None:
        self.statements.append(statement)

    def open_loop(self, count: int, location: SourceLocation, index: str | None = None) -> None:
        self.open_loops.append((count, location, self.statements, index))
        self.statements = []

    def close_loop(self) -> None:
        count, location, enclosing, index = self.open_loops.pop()
        enclosing.append(Loop(count, tuple(self.statements), location, index))
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
    """A loop as the stream runs it: one that issues something (count >= 1), body normalised;
    ``index`` as the loop's (see Loop)."""

    count: int
    body: tuple[Instruction | Repeat, ...]
    index: str | None = None
    location: SourceLocation | None = None  # the loop's


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
                result.append(Repeat(statement.count, normalised(statement.body), statement.index,
                                     statement.location))
            else:
                result.append(next(s for s in walk(statement.body) if isinstance(s, Sync)))
    return tuple(result)


def expand(statements: tuple[Statement, ...]) -> Iterator[Instruction]:
    """The dynamic instruction stream: loops unrolled lazily, never materialised (see normalised()),
    each instruction resolved for the current iterations of the loops around it (see resolved():
    one whose operands depend on no index is the text's own object)."""
    yield from _unrolled(normalised(statements), {})


def _unrolled(statements: tuple[Instruction | Repeat, ...], values: dict[str, int]) -> Iterator[Instruction]:
    for statement in statements:
        if isinstance(statement, Repeat):
            if statement.index is None:
                for _ in range(statement.count):
                    yield from _unrolled(statement.body, values)
            else:
                for iteration in range(statement.count):
                    yield from _unrolled(statement.body, {**values, statement.index: iteration})
        elif values:
            yield resolved(statement, values)
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


def walk_with_counts(statements: tuple[Statement, ...],
                     counts: dict[str, int] | None = None) -> Iterator[tuple[Statement, dict[str, int]]]:
    """Every statement of the text once, as walk(), with the iterations of each loop index in
    scope (index name -> count)."""
    counts = {} if counts is None else counts
    for statement in statements:
        yield statement, counts
        if isinstance(statement, Loop):
            inner = counts if statement.index is None else {**counts, statement.index: statement.count}
            yield from walk_with_counts(statement.body, inner)


def walk(statements: tuple[Statement, ...]) -> Iterator[Statement]:
    """Every statement of the text once, loops included, in text order (no unrolling)."""
    for statement in statements:
        yield statement
        if isinstance(statement, Loop):
            yield from walk(statement.body)
