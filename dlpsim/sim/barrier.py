"""The cluster barrier: the k-th barrier of every participating core meets the others'."""

from __future__ import annotations

import simpy


class ClusterBarrier:
    def __init__(self, env: simpy.Environment, participants: int):
        self.env = env
        self.participants = participants
        self._arrived = 0
        self._release = env.event()

    def arrive(self) -> simpy.Event:
        """Count this core in; the event fires when the last participant arrives."""
        release = self._release
        self._arrived += 1
        if self._arrived == self.participants:
            self._arrived = 0
            self._release = self.env.event()
            release.succeed()
        return release
