"""The results of a run: frozen, exact, and convertible to the JSON the CLI prints.

Derived figures (time, utilization, the roofline bound, efficiency) are
computed here from the counters, by the definitions in the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from dlpsim.results import Bound, ControlCause, QueueKind
from dlpsim.results.energy import Activity, Energy, is_mac
from dlpsim.results.files import json_number

RESULTS_FORMAT = "dlpsim-results/1"


@dataclass(frozen=True)
class QueueStats:
    kind: QueueKind
    instructions: int
    busy_cycles: int


@dataclass(frozen=True)
class CoreStats:
    name: str  # core0, core1, ..., mem
    queues: tuple[QueueStats, ...]
    control_cycles: tuple[tuple[ControlCause, int], ...]  # every cause once; they sum to the run's cycles
    # what its completed instructions did: operations by compute type, bytes read and written by memory
    activity: Activity
    finish_cycle: int  # when its last instruction completed
    barriers: int

    @property
    def operations(self) -> tuple[tuple[str, int], ...]:
        """Compute type -> operations executed."""
        return self.activity.operations


@dataclass(frozen=True)
class LinkStats:
    name: str  # dram, shared.i, local.i
    bytes_per_cycle: Fraction
    bytes: int
    transfers: int
    busy_cycles: int  # cycles with at least one transfer active


@dataclass(frozen=True)
class Stats:
    program: str
    machine: str
    clock_hz: int | Fraction
    compute_cores: int
    peak_macs_per_cycle: Fraction  # MAC_32 rate x compute cores
    cycles: int
    cores: tuple[CoreStats, ...]
    links: tuple[LinkStats, ...]
    # The matrix units' cycles at full rate: sum over MAC types T of ops(T) / rate(T), all cores
    mac_unit_cycles: Fraction
    bound: Bound  # the roofline bound of the work executed
    dram_bytes_per_cycle: Fraction
    energy: Energy  # of the work counted here, at the machine's prices (contract v2, "Energy")
    # False when the run was stopped at the cycle limit: then every figure covers only the
    # cycles simulated, and the instructions still executing are not counted.
    complete: bool = True
    matrix_unit: str = "throughput"  # the matrix unit's timing model: MachineConfig.matrix_unit

    @property
    def seconds(self) -> Fraction:
        return Fraction(self.cycles) / Fraction(self.clock_hz)

    @property
    def mac_operations(self) -> int:
        return sum(ops for core in self.cores for kind, ops in core.operations if is_mac(kind))

    @property
    def mac_utilization(self) -> Fraction:
        """The fraction of the matrix units' time their work needs at full rate (contract v2):
        never above 1, whatever mix of MAC types ran."""
        return mac_utilization(self.mac_unit_cycles, self.compute_cores, self.cycles)

    @property
    def dram_bytes(self) -> int:
        return next((link.bytes for link in self.links if link.name == "dram"), 0)

    @property
    def efficiency(self) -> Fraction | None:
        return self.bound.efficiency(self.cycles)

    def to_dict(self) -> dict:
        """The JSON form: plain numbers, keys in a fixed order, so output is byte-identical."""
        number = json_number
        total = self.cycles
        return {
            "format": RESULTS_FORMAT,
            "complete": self.complete,
            "program": self.program,
            "machine": self.machine,
            "matrix_unit": self.matrix_unit,
            "clock_hz": number(self.clock_hz),
            "cycles": self.cycles,
            "seconds": float(self.seconds),
            "mac_operations": self.mac_operations,
            "mac_utilization": number(self.mac_utilization),
            "compute_bound_cycles": self.bound.compute_cycles,
            "dram_bound_cycles": self.bound.dram_cycles,
            "bound_cycles": self.bound.cycles,
            "bound": self.bound.kind.value,
            "efficiency": number(self.efficiency),
            "dram_bytes": self.dram_bytes,
            "energy": self.energy.to_dict(self.seconds, self.mac_operations),
            "cores": {
                core.name: {
                    "finish_cycle": core.finish_cycle,
                    "barriers": core.barriers,
                    "operations": dict(core.operations),
                    "bytes_read": dict(core.activity.reads),
                    "bytes_written": dict(core.activity.writes),
                    "control": dict(core.control_cycles),
                    "queues": {
                        queue.kind: {
                            "instructions": queue.instructions,
                            "busy_cycles": queue.busy_cycles,
                            "utilization": number(Fraction(queue.busy_cycles, total) if total else 0),
                        }
                        for queue in core.queues
                    },
                }
                for core in self.cores
            },
            "links": {
                link.name: {
                    "bytes_per_cycle": number(link.bytes_per_cycle),
                    "bytes": link.bytes,
                    "transfers": link.transfers,
                    "busy_cycles": link.busy_cycles,
                    "bandwidth_utilization": number(
                        link.bytes / (link.bytes_per_cycle * total) if total else 0),
                }
                for link in self.links
            },
        }


def mac_utilization(mac_unit_cycles: Fraction, compute_cores: int, cycles: int) -> Fraction:
    """The matrix units' cycles at full rate over the cycles they had: (sum over MAC types of
    ops / rate) / (compute cores x cycles); 0 for a run of no cycles."""
    return Fraction(0) if cycles == 0 else Fraction(mac_unit_cycles) / (compute_cores * cycles)
