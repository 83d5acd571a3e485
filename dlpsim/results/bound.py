"""The roofline bound (contract, "Compute"): the fewest cycles some work could take.

bound = max(compute-limited, DRAM-limited), where compute-limited is the compute
units' cycles at full rate spread over the compute cores, and DRAM-limited the DRAM
bytes at the DRAM link's full bandwidth. Work done one piece after another (a
network's layers, each run alone) is bounded by the sum of the pieces' bounds, which is
what adding two Bounds gives: every figure adds, so a sum's ``cycles`` can exceed the
max of its compute-limited and DRAM-limited parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from math import ceil

# A MAC is a multiply and an add: the roofline counts it as two operations.
OPS_PER_MAC = 2


class BoundKind(StrEnum):
    """What limits a bound: the compute units, the DRAM link, or nothing (no work at all)."""

    COMPUTE = "compute"
    DRAM = "dram"
    NONE = "none"


@dataclass(frozen=True)
class Bound:
    compute_cycles: int  # compute-limited cycles
    dram_cycles: int  # DRAM-limited cycles
    cycles: int  # the bound: the max of the two for one piece of work, the sum of the pieces' for several

    @classmethod
    def limited(cls, compute_cycles: int, dram_cycles: int) -> Bound:
        """The bound of one piece of work with these compute-limited and DRAM-limited cycles."""
        return cls(compute_cycles, dram_cycles, max(compute_cycles, dram_cycles))

    @classmethod
    def of(cls, compute_cycles_needed: Fraction | int, compute_cores: int, dram_bytes: int,
           dram_bytes_per_cycle: Fraction) -> Bound:
        """The bound of work needing ``compute_cycles_needed`` compute-unit cycles in all (the sum
        over compute types of ops / rate) and moving ``dram_bytes`` over DRAM."""
        return cls.limited(ceil(Fraction(compute_cycles_needed) / compute_cores),
                           ceil(Fraction(dram_bytes) / Fraction(dram_bytes_per_cycle)))

    @property
    def kind(self) -> BoundKind:
        if self.cycles == 0:
            return BoundKind.NONE
        return BoundKind.COMPUTE if self.compute_cycles >= self.dram_cycles else BoundKind.DRAM

    @property
    def limit(self) -> str:
        """The kind in words: "compute-limited", "DRAM-limited" or "no work"."""
        return {BoundKind.COMPUTE: "compute-limited", BoundKind.DRAM: "DRAM-limited",
                BoundKind.NONE: "no work"}[self.kind]

    def efficiency(self, cycles: int) -> Fraction | None:
        """bound / cycles (at most 1 for a simulated run); None for zero cycles, nothing to compare."""
        return None if cycles == 0 else Fraction(self.cycles, cycles)

    def __add__(self, other: Bound) -> Bound:
        """The bound of this work and then ``other``, one after the other."""
        return Bound(self.compute_cycles + other.compute_cycles, self.dram_cycles + other.dram_cycles,
                     self.cycles + other.cycles)


NO_WORK = Bound(0, 0, 0)
