"""Energy (contract v2, "Energy"): what a run's own counts cost at the machine's prices.

    E = sum over compute types T of ops(T) x e_op(T)
      + sum over memories M of bytes read from M x e_read(M) + bytes written to M x e_write(M)
      + static power of every block x run time

The counts (an :class:`Activity`) come from the simulation: operations per compute type
and bytes read and written per memory, of the instructions that completed. The prices come
from the machine's configuration through the :class:`EnergyPrices` protocol, so this layer
needs neither. Everything is exact (pJ as fractions): energy adds over layers and is the same
whether or not the run fast-forwarded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from dlpsim.results.bound import OPS_PER_MAC
from dlpsim.results.files import exact_json, from_json, json_number

# The breakdown's components, in the order every report shows them: the matrix unit's MACs,
# the vector unit, each memory (by the ISA's spelling), and the static power of every block.
MAC, VECTOR, STATIC = "MAC", "vector", "static"
MEMORIES = ("NRAM", "WRAM", "SharedRAM", "DRAM")
COMPONENTS = (MAC, VECTOR, *MEMORIES, STATIC)

PJ_PER_JOULE = 10**12
MW_PER_WATT = 10**3


def is_mac(compute_type: str) -> bool:
    """MAC_32, MAC_16: the matrix unit's types (the rest run on the vector unit)."""
    return compute_type.startswith("MAC")


class EnergyPrices(Protocol):
    """What each counted thing costs (a MachineConfig answers these from its preset)."""

    def operation_pj(self, compute_type: str) -> Fraction: ...

    def read_pj_per_byte(self, memory: str) -> Fraction: ...

    def write_pj_per_byte(self, memory: str) -> Fraction: ...

    @property
    def static_mw(self) -> Fraction: ...


def _sorted_counts(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((name, count) for name, count in counts.items() if count))


@dataclass(frozen=True)
class Activity:
    """What a run (or one instruction) did that costs energy."""

    operations: tuple[tuple[str, int], ...] = ()  # compute type -> operations
    reads: tuple[tuple[str, int], ...] = ()  # memory -> bytes read
    writes: tuple[tuple[str, int], ...] = ()  # memory -> bytes written
    # MAC instructions given by their count alone (no shape): charged their operations only
    uncharged_macs: int = 0

    @classmethod
    def total(cls, parts: Iterable[tuple[Activity, int]]) -> Activity:
        """The sum of each activity times how often it happened."""
        operations: dict[str, int] = {}
        reads: dict[str, int] = {}
        writes: dict[str, int] = {}
        uncharged = 0
        for activity, times in parts:
            for counts, into in ((activity.operations, operations), (activity.reads, reads),
                                 (activity.writes, writes)):
                for name, count in counts:
                    into[name] = into.get(name, 0) + times * count
            uncharged += times * activity.uncharged_macs
        return cls(_sorted_counts(operations), _sorted_counts(reads), _sorted_counts(writes), uncharged)

    def __add__(self, other: Activity) -> Activity:
        return Activity.total(((self, 1), (other, 1)))

    def dynamic_pj(self, prices: EnergyPrices) -> dict[str, Fraction]:
        """The dynamic energy by component (no static), every component present."""
        energy = dict.fromkeys(COMPONENTS[:-1], Fraction(0))
        for name, count in self.operations:
            energy[MAC if is_mac(name) else VECTOR] += count * prices.operation_pj(name)
        for memory, count in self.reads:
            energy[memory] += count * prices.read_pj_per_byte(memory)
        for memory, count in self.writes:
            energy[memory] += count * prices.write_pj_per_byte(memory)
        return energy

    def to_dict(self) -> dict:
        return {"operations": dict(self.operations), "bytes_read": dict(self.reads),
                "bytes_written": dict(self.writes), "uncharged_macs": self.uncharged_macs}


def static_pj(static_mw: Fraction, seconds: Fraction) -> Fraction:
    """Static energy: mW x s = 1e-3 J = 1e9 pJ."""
    return Fraction(static_mw) * seconds * PJ_PER_JOULE / MW_PER_WATT


@dataclass(frozen=True)
class Energy:
    """A run's energy by component, in pJ, exact."""

    components: tuple[tuple[str, Fraction], ...]  # every one of COMPONENTS, in that order
    uncharged_macs: int  # count-form MAC instructions not charged for their operands

    @classmethod
    def of(cls, activity: Activity, prices: EnergyPrices, seconds: Fraction) -> Energy:
        energy = activity.dynamic_pj(prices)
        energy[STATIC] = static_pj(prices.static_mw, seconds)
        return cls(tuple((name, energy[name]) for name in COMPONENTS), activity.uncharged_macs)

    @property
    def total_pj(self) -> Fraction:
        return sum((pj for _, pj in self.components), Fraction(0))

    @property
    def dynamic_pj(self) -> Fraction:
        return self.total_pj - self.component(STATIC)

    def component(self, name: str) -> Fraction:
        return dict(self.components)[name]

    def joules(self) -> Fraction:
        return self.total_pj / PJ_PER_JOULE

    def average_watts(self, seconds: Fraction) -> Fraction | None:
        """Energy / time; None for a run of no time."""
        return None if not seconds else self.joules() / seconds

    def gops_per_watt(self, macs: int) -> Fraction | None:
        """Efficiency: 2 x MACs per joule, in GOPS/W (= operations per nJ); None for no energy."""
        total = self.total_pj
        return None if not total else Fraction(OPS_PER_MAC * macs * 1000, 1) / total

    def __add__(self, other: Energy) -> Energy:
        """The energy of this work and then ``other``'s."""
        theirs = dict(other.components)
        return Energy(tuple((name, pj + theirs[name]) for name, pj in self.components),
                      self.uncharged_macs + other.uncharged_macs)

    def to_dict(self, seconds: Fraction, macs: int) -> dict:
        """The JSON form: pJ as plain numbers to read, and exactly (an int, or "p/q" text) under
        ``exact_pj`` to compute with; power and efficiency as plain numbers."""
        watts, efficiency = self.average_watts(seconds), self.gops_per_watt(macs)
        return {
            "total_pj": json_number(self.total_pj),
            "components_pj": {name: json_number(pj) for name, pj in self.components},
            "average_watts": json_number(watts),
            "gops_per_watt": json_number(efficiency),
            "uncharged_macs": self.uncharged_macs,
            "exact_pj": {"total": exact_json(self.total_pj),
                         **{name: exact_json(pj) for name, pj in self.components}},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Energy:
        """The energy as :meth:`to_dict` wrote it (in a results file)."""
        components = data["exact_pj"]
        return cls(tuple((name, Fraction(from_json(components[name]))) for name in COMPONENTS),
                   int(data["uncharged_macs"]))


def power_steps(pieces: Iterable[tuple[int, int, Fraction]], static_mw: Fraction,
                clock_hz: int | Fraction) -> list[tuple[int, Fraction]]:
    """The machine's power over time, in watts, as (cycle, power from then on) steps: each piece
    (start, end, pJ) spreads its energy evenly over its cycles [start, end), on top of the static
    power. A piece of no cycles has no time to spread over and is left out."""
    change: dict[int, Fraction] = {}  # cycle -> pJ per cycle starting or stopping there
    for start, end, picojoules in pieces:
        if end > start and picojoules:
            rate = Fraction(picojoules) / (end - start)
            change[start] = change.get(start, Fraction(0)) + rate
            change[end] = change.get(end, Fraction(0)) - rate
    static_watts = Fraction(static_mw) / MW_PER_WATT
    watts_per_pj_per_cycle = Fraction(clock_hz) / PJ_PER_JOULE
    steps = [(0, static_watts)] if 0 not in change else []
    pj_per_cycle = Fraction(0)
    for cycle in sorted(change):
        pj_per_cycle += change[cycle]
        steps.append((cycle, static_watts + pj_per_cycle * watts_per_pj_per_cycle))
    return steps


NO_ENERGY = Energy(tuple((name, Fraction(0)) for name in COMPONENTS), 0)
