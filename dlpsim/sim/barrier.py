"""The cluster barrier: the k-th barrier of every participating core meets the others'.

It implements ``Periodic`` (dlpsim.sim.periodic) for fast-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import simpy

from dlpsim.sim.periodic import Counters, DescribeEvent, Periodic


class ClusterBarrier(Periodic):
    def __init__(self, env: simpy.Environment, participants: int):
        self.env = env
        self.participants = participants
        self.arrived = 0
        self.release = env.event()

    def arrive(self) -> simpy.Event:
        """Count this core in; the event fires when the last participant arrives."""
        release = self.release
        self.arrived += 1
        if self.arrived == self.participants:
            self.arrived = 0
            self.release = self.env.event()
            release.succeed()
        return release

    # -- Periodic: for fast-forward only -------------------------------------------------------

    def state(self, now: int, describe: DescribeEvent) -> Hashable:
        return self.arrived, describe(self.release)

    def describe_callback(self, callback: Callable, describe: DescribeEvent) -> Hashable | None:
        return None  # it hangs no callbacks of its own on events

    def counters(self) -> Counters:
        return {}  # the cores count the barriers they pass

    def advance(self, periods: int, before: Counters, shift: int) -> None:
        pass  # no counters, and it remembers no times
