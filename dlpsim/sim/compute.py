"""The compute unit's timing: how many cycles a ``compute`` instruction occupies it.

One strategy per matrix-unit model, chosen by name (``core.matrix.model``) from
TIMING_MODELS; each answers ``cycles(instruction)``. The models and the keys they
read are declared once, in dlpsim.machine.config.MATRIX_MODELS; TIMING_MODELS
registers a strategy for each, and importing this module fails if one is missing
or names a model the configuration does not accept. The vector types (ADD, SUB,
MUL, DIV) follow the throughput rule under either model.

Throughput (the contract's rule, "Compute")
    ``compute T n`` takes latency(T) + ceil(n / rate(T)) cycles, rate(T) being the
    preset's throughput for T in operations per cycle (the matrix unit for MAC_*,
    the vector unit for the rest). A shape ``MxKxN`` only gives n = M*K*N.

Systolic (``core.matrix.model = "systolic"``)
    The matrix unit is an R x C array of processing elements (R = ``rows``,
    C = ``columns``), each doing one MAC per cycle. ``compute MAC_* MxKxN`` is the
    GEMM of an M x K input matrix (M output positions, each a row of K = channels x
    window inputs) by a K x N weight matrix (N output channels). The dataflow maps
    two of M, K, N onto the array, one along its rows (S_R) and one along its
    columns (S_C), and streams the third through it in time (T):

        dataflow                 stays in the array    S_R   S_C   T
        os  output stationary    the M x N outputs     M     N     K
        ws  weight stationary    the K x N weights     K     N     M
        is  input stationary     the M x K inputs      K     M     N

    An operand larger than the array is cut into folds of R x C:
    folds = ceil(S_R / R) * ceil(S_C / C), run one after the other. A partial fold
    (at the edge of S_R or S_C) costs as much as a full one: the idle elements
    still sit in the pipeline. Each fold takes

        fill + stream + drain = L + T + (R + C - 2) cycles

    - fill L: the stationary operand is shifted into the array one row per cycle
      before streaming starts: L = R for ws and is; L = 0 for os, whose
      accumulators simply start at zero;
    - stream T: one vector of the moving operands enters per cycle;
    - drain R + C - 2: the operands enter skewed (row r one cycle after row r-1), so
      the last vector reaches the far corner element R - 1 + C - 1 cycles after it
      reached the first, and the last result leaves with it.

    So ``compute MAC_* MxKxN`` takes latency(MAC) + folds * (L + T + R + C - 2)
    cycles, at either precision. This is SCALE-Sim v3's timing exactly: its
    "Total Cycles" for the same GEMM on the same array and dataflow is this
    number minus one (it reports the zero-based index of the cycle of the last
    output write; dlpsim counts cycles), with no stalls when its memories can
    keep up (docs/systolic.md has the cases checked).

    A plain ``compute MAC_* n`` gives no shape to map, so it is timed at the
    array's peak: latency(MAC) + ceil(n / (R * C)), the throughput rule at
    rate R x C. That is a lower bound of any shape's systolic time with n MACs,
    so the roofline bound (which uses the same rate) stays a bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Protocol

from dlpsim.asm.opcodes import Unit
from dlpsim.asm.program import Compute
from dlpsim.machine import MachineConfig
from dlpsim.machine.config import DATAFLOWS, MATRIX_MODELS, implementation_per_name


class ComputeTiming(Protocol):
    """A compute unit's timing model: the cycles one ``compute`` occupies the unit."""

    def cycles(self, instruction: Compute) -> int: ...


class ThroughputTiming:
    """The textbook's model: a unit completes rate(T) operations every cycle."""

    def __init__(self, machine: MachineConfig):
        self.machine = machine
        self._cycles: dict[tuple[str, int], int] = {}  # loops repeat the same few instructions

    def cycles(self, instruction: Compute) -> int:
        key = (instruction.type.name, instruction.count)
        cycles = self._cycles.get(key)
        if cycles is None:
            kind = instruction.type
            rate = self.machine.ops_per_cycle(kind)
            cycles = self.machine.latency_cycles(kind) + ceil(instruction.count / rate)
            self._cycles[key] = cycles
        return cycles


@dataclass(frozen=True)
class Dataflow:
    """How a dataflow lays the GEMM (M, K, N) on the array, and its per-fold fill."""

    name: str
    along_rows: str  # the GEMM dimension spread over the array's rows (S_R)
    along_columns: str  # ... over its columns (S_C)
    in_time: str  # ... streamed through it (T)
    preloads: bool  # the stationary operand is shifted in before each fold (R cycles)

    def folds(self, shape: tuple[int, int, int], rows: int, columns: int) -> int:
        size = dict(zip("MKN", shape, strict=True))
        return ceil(size[self.along_rows] / rows) * ceil(size[self.along_columns] / columns)

    def fold_cycles(self, shape: tuple[int, int, int], rows: int, columns: int) -> int:
        """fill + stream + drain of one fold."""
        fill = rows if self.preloads else 0
        stream = dict(zip("MKN", shape, strict=True))[self.in_time]
        drain = rows + columns - 2
        return fill + stream + drain


# core.matrix.dataflow -> its mapping, one for each name the loader accepts (DATAFLOWS).
DATAFLOW_MAPPINGS: dict[str, Dataflow] = implementation_per_name("dataflow mappings", DATAFLOWS, {
    "os": Dataflow("output stationary", along_rows="M", along_columns="N", in_time="K", preloads=False),
    "ws": Dataflow("weight stationary", along_rows="K", along_columns="N", in_time="M", preloads=True),
    "is": Dataflow("input stationary", along_rows="K", along_columns="M", in_time="N", preloads=True),
})


def systolic_cycles(shape: tuple[int, int, int], rows: int, columns: int, dataflow: str) -> int:
    """Cycles of the GEMM ``shape`` (M, K, N) on a rows x columns array, latency excluded."""
    flow = DATAFLOW_MAPPINGS[dataflow]
    return flow.folds(shape, rows, columns) * flow.fold_cycles(shape, rows, columns)


class SystolicTiming:
    """A systolic matrix unit (see the module's docstring); vector types as ThroughputTiming."""

    def __init__(self, machine: MachineConfig):
        self.machine = machine
        self.throughput = ThroughputTiming(machine)  # the array's peak rate, and the vector unit
        matrix = machine.core.matrix
        self.rows, self.columns, self.dataflow = matrix.rows, matrix.columns, matrix.dataflow
        self._cycles: dict[tuple[str, tuple[int, int, int]], int] = {}

    def cycles(self, instruction: Compute) -> int:
        shape = instruction.shape
        if shape is None or instruction.type.unit is not Unit.MATRIX:
            return self.throughput.cycles(instruction)
        key = (instruction.type.name, shape)
        cycles = self._cycles.get(key)
        if cycles is None:
            cycles = (self.machine.latency_cycles(instruction.type)
                      + systolic_cycles(shape, self.rows, self.columns, self.dataflow))
            self._cycles[key] = cycles
        return cycles


# core.matrix.model -> its strategy, one for each model the loader accepts (MATRIX_MODELS).
TIMING_MODELS: dict[str, Callable[[MachineConfig], ComputeTiming]] = implementation_per_name(
    "matrix timing models", MATRIX_MODELS, {
        "throughput": ThroughputTiming,
        "systolic": SystolicTiming,
    })


def compute_timing(machine: MachineConfig) -> ComputeTiming:
    """The timing strategy the machine's configuration names."""
    return TIMING_MODELS[machine.core.matrix.model](machine)
