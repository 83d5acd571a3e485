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
- with a window clause, a MAC is a convolution tile: A (an IH x IW x G*IC slab, HWC) padded
  with zeros, its windows laid out as rows (im2col: reduction index (i*KW + j)*IC + c) and
  multiplied per group g by B's g-th (KH*KW*IC) x N block; C is OH x OW x G x N. The rows are
  gathered by one strided copy per kernel offset (the padding is never materialised), a chunk
  of output positions at a time (at most FunctionalLimits.im2col_chunk_bytes), so memory stays
  bounded whatever the window; window reductions are gathered the same way;
- ``compute ADD|SUB|MUL|DIV|MAX|MIN_T n A, B -> C``: C = A op B on n elements (``+>``: C += A op
  B), float32 for _32; for _16 computed in float32 from half inputs and rounded to half once.
  B may be an immediate (every element reads it, rounded to the type) or a broadcast range of
  L elements (element i reads B[i mod L]). IEEE rules throughout: a division by zero gives an
  infinity or a NaN, never an error;
- ``compute EXP|TANH|SIGMOID|GELU|RSQRT_T n A -> C``: C = f(A), in float32 (GELU's erf by
  :func:`erfc`, accurate to float32);
- ``compute MAX|ADD_T n A -> C window ...``: C (OH x OW x CH) is the max (the sum) of each window
  of A (IH x IW x CH), per channel; MAX ignores padding, ADD counts it as zeros;
- with a rows clause ``rows RxL`` (A: R rows of L elements), a vector op without B is a row
  reduction, C[r] = the sum (in float32), maximum or minimum of row r; with B, B holds one
  element per row and C[r, j] = A[r, j] op B[r];
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
    Immediate,
    Move,
    Operand,
    Program,
    Statement,
    Window,
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
    # The im2col rows of a window MAC (or the windows of a reduction) held at once, float32: larger
    # ones are gathered a chunk of output rows at a time, so memory stays bounded (one output row
    # at least, itself bounded by the C operand that fits its memory).
    im2col_chunk_bytes: int = 64 << 20


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
    window = instruction.window
    if window is not None:  # the assembler checked every range against the window
        matrices = ("the window's input", "the window's weights", "the window's outputs")
    elif instruction.rows is not None:  # and every range against the rows
        matrices = ("the rows", "the rows' values", "the results")
    elif instruction.shape is not None:
        m, k, n = instruction.shape
        matrices = (f"the {m}x{k} matrix A", f"the {k}x{n} matrix B", f"the {m}x{n} matrix C")
    else:
        matrices = (f"{instruction.count} elements",) * 3
    vector = instruction.type.unit is Unit.VECTOR
    for role, operand, size, matrix in zip(("operand A", "operand B", "operand C"),
                                           (operands.a, operands.b_operand, operands.c), sizes, matrices,
                                           strict=True):
        if operand is None:
            continue
        if vector and role == "operand B" and window is None and instruction.rows is None:
            why = _broadcast_refusal(operand, instruction)
        else:
            why = _operand_refusal(operand, role, size, f"{matrix} of {instruction.type}")
        if why is not None:
            return operand.location, why
    return None


def _broadcast_refusal(b: Operand, instruction: Compute) -> str | None:
    """Why a vector op's B cannot be executed, or None: without an address it has no data, and a
    range of fewer than n elements is a broadcast only when it holds whole elements, L of them,
    L dividing n."""
    why = _operand_refusal(b, "operand B", None, "")
    if why is not None or b.end is None:
        return why
    width, count = instruction.type.bits // 8, instruction.count
    held = b.end - b.offset
    if held >= count * width:
        return None
    if held % width:
        return (f"--functional cannot execute this: a broadcast B must hold whole elements of "
                f"{instruction.type} ({width} B each), but {b} holds {held} B")
    if count % (held // width):
        return (f"--functional cannot execute this: a broadcast B of {held // width} elements must divide "
                f"the {count} elements of the operation (element i reads B[i mod {held // width}])")
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
_BINARY = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide,
           "MAX": np.maximum, "MIN": np.minimum}
_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_ROW_REDUCTIONS = {"ADD": lambda rows: rows.sum(axis=1, dtype=np.float32),
                   "MAX": lambda rows: rows.max(axis=1), "MIN": lambda rows: rows.min(axis=1)}


def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function in float64, accurate to float32 relative to its value:
    the Chebyshev-fitted form t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z = |x|, P of degree 9
    (fractional error below 1.2e-7 for every x >= 0: Press et al., Numerical Recipes, 2nd ed.,
    section 6.2), and erfc(-z) = 2 - erfc(z). tests/test_functional_forms.py checks it against
    math.erfc."""
    z = np.abs(np.asarray(x, np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    polynomial = np.zeros_like(z)
    for coefficient in (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
                        0.09678418, 0.37409196, 1.00002368, -1.26551223):
        polynomial = polynomial * t + coefficient
    tail = t * np.exp(-z * z + polynomial)
    return np.where(np.asarray(x) >= 0, tail, 2.0 - tail)


def _gelu(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), computed as 0.5 x erfc(-x / sqrt 2): no cancellation for
    negative x, where the value is tiny."""
    wide = x.astype(np.float64)
    return (0.5 * wide * erfc(-wide * _SQRT_HALF)).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), as e^x / (1 + e^x) for negative x: no overflow, and a tiny value keeps its
    precision (0.5 (1 + tanh(x / 2)) would cancel to 0)."""
    small = np.exp(-np.abs(x))  # e^-|x|, at most 1
    return np.where(x >= 0, np.float32(1), small) / (np.float32(1) + small)


_UNARY = {
    "EXP": np.exp,
    "TANH": np.tanh,
    "SIGMOID": _sigmoid,
    "GELU": _gelu,
    "RSQRT": lambda x: np.float32(1) / np.sqrt(x),
}


def _inside(positions: slice, kernel_offset: int, stride: int, size: int) -> tuple[int, int]:
    """The output positions p of ``positions`` (along one axis) whose input index p * stride +
    kernel_offset lies in [0, size), as [first, stop); empty when first >= stop."""
    first = max(positions.start, -(kernel_offset // stride))  # ceil(-offset / stride)
    stop = min(positions.stop, (size - 1 - kernel_offset) // stride + 1)
    return first, stop


def _windows(slab: np.ndarray, window: Window, fill: float, rows: slice, columns: slice) -> np.ndarray:
    """The windows of the output positions ``rows`` x ``columns`` of an HWC slab, gathered group
    by group as (G, rows, columns, KH, KW, channels per group), padded positions reading
    ``fill``: one strided copy per kernel offset (i, j), of the outputs whose input (y SH + i DH
    - T, x SW + j DW - L) lies in the slab. For a group, rows x columns by KH*KW*IC is its im2col
    matrix, already contiguous. The padding is never materialised, so its size costs nothing."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, _, left, _ = window.padding
    groups = window.groups
    patches = np.full((groups, rows.stop - rows.start, columns.stop - columns.start, kh, kw,
                       window.channels), fill, slab.dtype)
    for i in range(kh):
        row_offset = i * dh - top
        first_row, stop_row = _inside(rows, row_offset, sh, window.height)
        if first_row >= stop_row:
            continue
        source_rows = slice(first_row * sh + row_offset, (stop_row - 1) * sh + row_offset + 1, sh)
        for j in range(kw):
            column_offset = j * dw - left
            first_column, stop_column = _inside(columns, column_offset, sw, window.width)
            if first_column >= stop_column:
                continue
            source_columns = slice(first_column * sw + column_offset,
                                   (stop_column - 1) * sw + column_offset + 1, sw)
            source = slab[source_rows, source_columns]  # (rows, columns, G*IC)
            patches[:, first_row - rows.start:stop_row - rows.start,
                    first_column - columns.start:stop_column - columns.start, i, j] = \
                source.reshape(*source.shape[:2], groups, window.channels).transpose(2, 0, 1, 3)
    return patches


def _chunks(window: Window, bytes_per_position: int, chunk_bytes: int) -> Iterator[tuple[slice, slice]]:
    """The output positions as (rows, columns) blocks whose gathered windows take at most
    ``chunk_bytes`` each (one position at least, whose windows are bounded by the operand B or
    A that fits its memory): whole rows at a time, or parts of one row when a row is larger."""
    height, width = window.output_height, window.output_width
    positions = max(1, chunk_bytes // max(1, bytes_per_position))
    if positions >= width:
        step = positions // width
        for start in range(0, height, step):
            yield slice(start, min(start + step, height)), slice(0, width)
        return
    for row in range(height):
        for start in range(0, width, positions):
            yield slice(row, row + 1), slice(start, min(start + positions, width))


def window_mac(slab: np.ndarray, weights: np.ndarray, window: Window, n: int, chunk_bytes: int) -> np.ndarray:
    """A convolution tile in float32: im2col of the padded slab, then one matmul per group, a chunk
    of output positions at a time. Returns OH*OW*G x N (position, group, output channel)."""
    groups, channels = window.groups, window.channels
    k = window.kernel_size * channels
    slab = slab.reshape(window.height, window.width, groups * channels)
    blocks = weights.reshape(groups, k, n)
    result = np.empty((window.output_height, window.output_width, groups, n), np.float32)
    for rows, columns in _chunks(window, groups * k * 4, chunk_bytes):
        count, width = rows.stop - rows.start, columns.stop - columns.start
        # (G, positions, KH*KW*IC): the reduction index (i*KW + j)*IC + c of each group
        im2col = _windows(slab, window, 0.0, rows, columns).reshape(groups, count * width, k)
        product = np.matmul(im2col, blocks)  # (G, positions, N)
        result[rows, columns] = product.transpose(1, 0, 2).reshape(count, width, groups, n)
    return result.reshape(-1, n)


def window_reduction(slab: np.ndarray, window: Window, operation: str, chunk_bytes: int) -> np.ndarray:
    """MAX (padding ignored) or ADD (padding as zeros) over each window, per channel, a chunk of
    output positions at a time: OH x OW x CH."""
    slab = slab.reshape(window.height, window.width, window.channels)
    result = np.empty((window.output_height, window.output_width, window.channels), np.float32)
    for rows, columns in _chunks(window, window.kernel_size * window.channels * 4, chunk_bytes):
        if operation == "MAX":  # (one group: rows, columns, KH, KW, CH)
            result[rows, columns] = _windows(slab, window, -np.inf, rows, columns)[0].max(axis=(2, 3))
        else:
            result[rows, columns] = _windows(slab, window, 0.0, rows, columns)[0].sum(axis=(2, 3),
                                                                                     dtype=np.float32)
    return result


class Executor:
    """Executes instructions one at a time on ``memories``, in the order it is given."""

    def __init__(self, memories: Memories, limits: FunctionalLimits = DEFAULT_LIMITS):
        self.memories = memories
        self.limits = limits
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

    def compute(self, reachable: dict[Memory, PagedMemory], compute: Compute) -> None:
        operands = compute.operands
        kind = compute.type
        dtype = _DTYPES[kind.bits]
        a_bytes, b_bytes, c_bytes = compute.operand_bytes()
        # every input is computed on in float32 (a half one converted exactly), the result rounded
        # to the type once when stored
        a = reachable[operands.a.memory].read(operands.a.offset, a_bytes).view(dtype)
        a = a.astype(np.float32, copy=False)
        b = self._operand_b(reachable, compute, dtype, b_bytes)
        window = compute.window
        if window is not None and compute.shape is not None:
            result = window_mac(a, b, window, compute.shape[2], self.limits.im2col_chunk_bytes)
        elif window is not None:
            result = window_reduction(a, window, kind.operation, self.limits.im2col_chunk_bytes).reshape(-1)
        elif compute.rows is not None:
            matrix = a.reshape(compute.rows.rows, compute.rows.length)
            if b is None:  # a row reduction: one result per row
                result = _ROW_REDUCTIONS[kind.operation](matrix)
            else:  # a per-row broadcast: element (r, j) reads B[r]
                result = _BINARY[kind.operation](matrix, b.reshape(-1, 1)).reshape(-1)
        elif compute.shape is not None:
            m, k, n = compute.shape
            result = np.matmul(a.reshape(m, k), b.reshape(k, n))
        elif kind.unary:
            result = _UNARY[kind.operation](a)
        elif b.size not in (1, a.size):  # broadcast: element i reads B[i mod L]
            result = _BINARY[kind.operation](a.reshape(-1, b.size), b).reshape(-1)
        else:
            result = _BINARY[kind.operation](a, b)
        destination = reachable[operands.c.memory]
        if operands.accumulate:
            c = destination.read(operands.c.offset, c_bytes).view(dtype).reshape(result.shape)
            result = c.astype(np.float32) + result
        destination.write(operands.c.offset, np.asarray(result, np.float32).astype(dtype, copy=False))

    @staticmethod
    def _operand_b(reachable: dict[Memory, PagedMemory], compute: Compute, dtype: np.dtype,
                   size: int | None) -> np.ndarray | None:
        """B in float32: its elements in memory (a broadcast B's range, which holds fewer than
        n), an immediate rounded to the type's precision, or None when there is no B."""
        b = compute.operands.b
        if b is None:
            return None
        if isinstance(b, Immediate):
            return np.asarray(b.value, dtype).astype(np.float32).reshape(1)
        if b.end is not None and compute.type.unit is Unit.VECTOR:
            size = min(size, b.end - b.offset)
        return reachable[b.memory].read(b.offset, size).view(dtype).astype(np.float32, copy=False)


@dataclass(frozen=True)
class FunctionalProgram:
    """A program accepted for functional execution: hazard-free, every instruction executable,
    within the limits. ``prepare`` checks all of that from the text, before any work."""

    program: Program
    streams: dict[CoreId, tuple[Statement, ...]]
    workload: Workload
    limits: FunctionalLimits = DEFAULT_LIMITS

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
        return cls(program, streams, work, limits)

    def execute(self, memories: Memories) -> int:
        """Run the program on ``memories`` in epoch order; the number of instructions executed."""
        return Executor(memories, self.limits).run(epoch_order(self.streams))
