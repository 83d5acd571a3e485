"""The machine, one frozen dataclass per hardware block.

Values carry their units in their names; the derived per-cycle rates the
simulator needs (bytes per cycle, operations per cycle) are computed here and
nowhere else, exactly, as fractions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import TypeVar

from dlpsim.asm.opcodes import COMPUTE_TYPES, SLOTTED_OPERATIONS, ComputeType, Memory, Unit


@dataclass(frozen=True)
class LinkConfig:
    """A DMA link: its bandwidth and the start-up latency of each transfer."""

    bytes_per_second: int | Fraction
    latency_cycles: int


@dataclass(frozen=True)
class MemoryEnergy:
    """What a memory costs (contract v2, "Energy"): pJ per byte read and per byte written, and
    its static power in mW."""

    read_pj_per_byte: int | Fraction
    write_pj_per_byte: int | Fraction
    static_mw: int | Fraction


@dataclass(frozen=True)
class MemoryConfig:
    capacity_bytes: int
    energy: MemoryEnergy


@dataclass(frozen=True)
class MatrixModel:
    """A timing model of the matrix unit: its name in ``core.matrix.model`` and the keys of
    ``[core.matrix]`` that set its rate (``latency`` counts under every model)."""

    name: str
    parameters: tuple[str, ...]


# The matrix unit's timing models, by name; dlpsim/sim/compute.py registers one strategy for each
# with implementation_per_name, so a model declared here without a strategy, or the reverse,
# stops dlpsim at import.
MATRIX_MODELS: dict[str, MatrixModel] = {model.name: model for model in (
    MatrixModel("throughput", parameters=("macs_per_cycle", "fp16_speedup")),
    MatrixModel("systolic", parameters=("rows", "columns", "dataflow")),
)}
# How a systolic array maps a GEMM: output, weight or input stationary (each mapped in
# dlpsim/sim/compute.py, registered the same way).
DATAFLOWS = ("os", "ws", "is")


def slots_field(operation: str) -> str:
    """The field of VectorUnitConfig holding a later vector operation's slots: TANH -> tanh_slots."""
    return f"{operation.lower()}_slots"


def operation_energy_field(compute_type: ComputeType) -> str:
    """The field of its unit's configuration holding a compute type's pJ per operation:
    MAC_32 -> MatrixUnitConfig.mac_32_pj, ADD_16 -> VectorUnitConfig.add_16_pj."""
    return f"{compute_type.name.lower()}_pj"


Implementation = TypeVar("Implementation")


class RegistryError(Exception):
    """An implementation table that does not match the names the configuration accepts: a bug in
    dlpsim, raised when the module holding the table is imported."""


def implementation_per_name(what: str, names: Iterable[str],
                            implementations: Mapping[str, Implementation]) -> dict[str, Implementation]:
    """``implementations`` in the order of ``names``, after checking it has one for every name and
    none for a name the configuration does not accept."""
    names = tuple(names)
    missing = [name for name in names if name not in implementations]
    undeclared = [name for name in implementations if name not in names]
    if missing or undeclared:
        raise RegistryError(f"the {what} registered do not match the configuration's "
                            f"({', '.join(names)}): missing {missing}, not declared {undeclared}")
    return {name: implementations[name] for name in names}


@dataclass(frozen=True)
class MatrixUnitConfig:
    """Executes MAC_*, timed by ``model``.

    ``throughput`` (the textbook's rule): ``macs_per_cycle`` MAC_32 per cycle, ``fp16_speedup``
    times that for MAC_16. ``systolic``: a ``rows`` x ``columns`` array of processing elements,
    one MAC per element per cycle whatever the precision, running ``dataflow``; its peak,
    rows x columns MACs per cycle, replaces ``macs_per_cycle`` and ``fp16_speedup``.
    """

    macs_per_cycle: int | Fraction
    fp16_speedup: int | Fraction
    latency_cycles: int
    model: str  # one of MATRIX_MODELS
    rows: int
    columns: int
    dataflow: str  # one of DATAFLOWS
    mac_32_pj: int | Fraction  # energy of one MAC_32 operation
    mac_16_pj: int | Fraction
    static_mw: int | Fraction

    @property
    def systolic(self) -> bool:
        return self.model == "systolic"


@dataclass(frozen=True)
class VectorUnitConfig:
    """Executes ADD/SUB/MUL (``ops_per_cycle``) and DIV (``div_ops_per_cycle``) at 32 bits; each
    later operation (MAX, MIN, EXP, TANH, SIGMOID, GELU, RSQRT) takes ``<op>_slots`` ADD_32
    slots per element, so its rate is ops_per_cycle / slots. ``fp16_speedup`` times each for _16."""

    ops_per_cycle: int | Fraction
    div_ops_per_cycle: int | Fraction
    fp16_speedup: int | Fraction
    latency_cycles: int
    max_slots: int | Fraction
    min_slots: int | Fraction
    exp_slots: int | Fraction
    tanh_slots: int | Fraction
    sigmoid_slots: int | Fraction
    gelu_slots: int | Fraction
    rsqrt_slots: int | Fraction
    add_32_pj: int | Fraction  # energy of one operation of each vector type
    sub_32_pj: int | Fraction
    mul_32_pj: int | Fraction
    div_32_pj: int | Fraction
    max_32_pj: int | Fraction
    min_32_pj: int | Fraction
    exp_32_pj: int | Fraction
    tanh_32_pj: int | Fraction
    sigmoid_32_pj: int | Fraction
    gelu_32_pj: int | Fraction
    rsqrt_32_pj: int | Fraction
    add_16_pj: int | Fraction
    sub_16_pj: int | Fraction
    mul_16_pj: int | Fraction
    div_16_pj: int | Fraction
    max_16_pj: int | Fraction
    min_16_pj: int | Fraction
    exp_16_pj: int | Fraction
    tanh_16_pj: int | Fraction
    sigmoid_16_pj: int | Fraction
    gelu_16_pj: int | Fraction
    rsqrt_16_pj: int | Fraction
    static_mw: int | Fraction

    def rate_32(self, operation: str) -> Fraction:
        """Operations per cycle of ``operation`` at 32 bits."""
        if operation == "DIV":
            return Fraction(self.div_ops_per_cycle)
        if operation in SLOTTED_OPERATIONS:
            return Fraction(self.ops_per_cycle) / Fraction(getattr(self, slots_field(operation)))
        return Fraction(self.ops_per_cycle)


@dataclass(frozen=True)
class CoreConfig:
    count: int
    issue_cycles: int
    queue_depth: int
    nram: MemoryConfig
    wram: MemoryConfig
    local: LinkConfig  # NRAM <-> WRAM
    matrix: MatrixUnitConfig
    vector: VectorUnitConfig


@dataclass(frozen=True)
class DramConfig:
    capacity_bytes: int
    link: LinkConfig
    energy: MemoryEnergy


@dataclass(frozen=True)
class SharedConfig:
    """The SharedRAM of a multi-core cluster; ``link`` is each core's own link to it."""

    capacity_bytes: int
    link: LinkConfig
    energy: MemoryEnergy  # the SharedRAM's, its static power the memory core's too


@dataclass(frozen=True)
class CostConfig:
    """The weights of the hardware-cost proxy (design-space exploration), in cost units: what one
    MAC_32 per cycle of peak rate, one KB of on-chip SRAM and one GB/s of DRAM bandwidth cost.
    No simulation reads them."""

    per_mac_unit: int | Fraction
    per_sram_kb: int | Fraction
    per_dram_gb_per_s: int | Fraction


@dataclass(frozen=True)
class MachineConfig:
    name: str
    description: str
    clock_hz: int | Fraction
    core: CoreConfig
    dram: DramConfig
    shared: SharedConfig | None  # None: no SharedRAM and no memory core
    cost: CostConfig

    @property
    def compute_cores(self) -> int:
        return self.core.count

    @property
    def has_memory_core(self) -> bool:
        return self.shared is not None

    def bytes_per_cycle(self, link: LinkConfig) -> Fraction:
        return Fraction(link.bytes_per_second) / Fraction(self.clock_hz)

    def _memory(self, memory: Memory) -> MemoryConfig | DramConfig | SharedConfig | None:
        """The block configuring a memory, or None if this machine has no such memory."""
        if memory is Memory.DRAM:  # tests, not a table: bind() asks once per operand of the program
            return self.dram
        if memory is Memory.NRAM:
            return self.core.nram
        return self.core.wram if memory is Memory.WRAM else self.shared

    def capacity(self, memory: Memory) -> int | None:
        """Bytes a memory holds, or None if this machine has no such memory."""
        block = self._memory(memory)
        return None if block is None else block.capacity_bytes

    def memory_energy(self, memory: Memory) -> MemoryEnergy | None:
        """What a memory costs, or None if this machine has no such memory."""
        block = self._memory(memory)
        return None if block is None else block.energy

    # -- energy prices (dlpsim.results.energy.EnergyPrices), by the names Stats counts under ----

    def operation_pj(self, compute_type: str) -> Fraction:
        """pJ per operation of a compute type ("MAC_32")."""
        kind = COMPUTE_TYPES[compute_type]
        unit = self.core.matrix if kind.unit is Unit.MATRIX else self.core.vector
        return Fraction(getattr(unit, operation_energy_field(kind)))

    def _priced_memory(self, memory: str) -> MemoryEnergy:
        energy = self.memory_energy(Memory(memory))
        if energy is None:  # bind() refuses a program naming a memory the machine lacks
            raise ValueError(f"{self.name} has no {memory}")
        return energy

    def read_pj_per_byte(self, memory: str) -> Fraction:
        return Fraction(self._priced_memory(memory).read_pj_per_byte)

    def write_pj_per_byte(self, memory: str) -> Fraction:
        return Fraction(self._priced_memory(memory).write_pj_per_byte)

    @property
    def static_mw(self) -> Fraction:
        """The whole machine's static power: every compute core's blocks, the SharedRAM with the
        memory core, and the DRAM."""
        core = self.core
        per_core = (Fraction(core.matrix.static_mw) + core.vector.static_mw + core.nram.energy.static_mw
                    + core.wram.energy.static_mw)
        shared = 0 if self.shared is None else self.shared.energy.static_mw
        return per_core * core.count + shared + self.dram.energy.static_mw

    def ops_per_cycle(self, compute_type: ComputeType) -> Fraction:
        """The throughput rate(T) of the contract's compute rule."""
        if compute_type.unit is Unit.MATRIX:
            matrix = self.core.matrix
            if matrix.systolic:  # one MAC per processing element per cycle, at either precision
                return Fraction(matrix.rows * matrix.columns)
            rate, speedup = matrix.macs_per_cycle, matrix.fp16_speedup
        else:
            vector = self.core.vector
            rate, speedup = vector.rate_32(compute_type.operation), vector.fp16_speedup
        return Fraction(rate) * (Fraction(speedup) if compute_type.bits == 16 else 1)

    def latency_cycles(self, compute_type: ComputeType) -> int:
        unit = self.core.matrix if compute_type.unit is Unit.MATRIX else self.core.vector
        return unit.latency_cycles

    @property
    def matrix_unit(self) -> str:
        """The matrix unit's timing model in words: "throughput", or "16x16 systolic array, os dataflow"."""
        matrix = self.core.matrix
        if matrix.model == "systolic":
            return f"{matrix.rows}x{matrix.columns} systolic array, {matrix.dataflow} dataflow"
        return matrix.model

    @property
    def peak_macs_per_cycle(self) -> Fraction:
        """Peak MAC_32 rate of the whole machine, the denominator of MAC utilization."""
        return self.ops_per_cycle(COMPUTE_TYPES["MAC_32"]) * self.core.count

    @property
    def sram_bytes(self) -> int:
        """On-chip SRAM of the whole machine: every core's NRAM and WRAM, and the SharedRAM."""
        per_core = self.core.nram.capacity_bytes + self.core.wram.capacity_bytes
        return per_core * self.core.count + (0 if self.shared is None else self.shared.capacity_bytes)

    @property
    def cost_proxy(self) -> Fraction:
        """The hardware-cost proxy: MAC units, on-chip SRAM and DRAM bandwidth, each at its weight
        (``[cost]`` in the presets, where the weights are documented)."""
        cost = self.cost
        return (cost.per_mac_unit * self.peak_macs_per_cycle
                + Fraction(cost.per_sram_kb) * self.sram_bytes / 1024
                + Fraction(cost.per_dram_gb_per_s) * Fraction(self.dram.link.bytes_per_second) / 10**9)


def _check_operation_energies() -> None:
    """Every compute type has its pJ per operation on its unit's configuration."""
    for kind in COMPUTE_TYPES.values():
        block = MatrixUnitConfig if kind.unit is Unit.MATRIX else VectorUnitConfig
        if operation_energy_field(kind) not in {field.name for field in fields(block)}:
            raise RegistryError(f"{block.__name__} has no {operation_energy_field(kind)} for {kind}")


_check_operation_energies()
