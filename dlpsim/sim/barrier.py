"""The cluster barrier: the k-th barrier of every participating core meets the others'."""

from __future__ import annotations

import simpy


class ClusterBarrier:
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
