"""The compute unit's timing: how many cycles a ``compute`` instruction occupies it.

Rule (contract, "Compute"): ``compute T n`` takes latency(T) + ceil(n / rate(T))
cycles, rate(T) being the preset's throughput for T in operations per cycle
(the matrix unit for MAC_*, the vector unit for the rest).
"""

from __future__ import annotations

from math import ceil

from dlpsim.asm.program import Compute
from dlpsim.machine import MachineConfig


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
