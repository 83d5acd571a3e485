"""A core's control unit: reads the core's stream in order and issues each instruction.

It routes ``compute`` to the compute queue, a ``move`` touching DRAM to the
io queue and any other ``move`` to the move queue; pays ``issue_cycles`` per
issued instruction; stalls when the target queue is full; and implements
``sync`` (wait until everything issued so far has completed) and ``barrier``
(a sync, then a meeting with the other participating cores). Every cycle of
the run is counted under one cause, so the causes add up to the total.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from dlpsim.asm.program import Barrier, Compute, Move, Statement, Sync, expand
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.queues import IssueQueue

# The causes the control unit's time is split into; "finished" is the time after its last issue.
CONTROL_CAUSES = ("issuing", "queue_full", "sync", "barrier", "finished")


def queue_kind(instruction: Compute | Move) -> str:
    if isinstance(instruction, Compute):
        return "compute"
    return "io" if instruction.touches_dram else "move"


class ControlUnit:
    def __init__(self, env: simpy.Environment, core: str, stream: tuple[Statement, ...],
                 queues: dict[str, IssueQueue], issue_cycles: int, barrier: ClusterBarrier,
                 recorder=None):
        self.env = env
        self.core = core
        self.stream = stream
        self.queues = queues
        self.issue_cycles = issue_cycles
        self.barrier = barrier
        self.recorder = recorder
        self.cycles = dict.fromkeys(CONTROL_CAUSES[:-1], 0)
        self.done_issuing_at = 0
        self.barriers_passed = 0
        if recorder is not None:
            recorder.declare(core, "control")

    def run(self) -> Generator[simpy.Event, object, None]:
        env = self.env
        routes: dict[int, IssueQueue] = {}  # id(instruction) -> its queue; loops repeat instructions
        for instruction in expand(self.stream):
            kind = type(instruction)
            if kind is Sync or kind is Barrier:
                start = env.now
                for queue in self.queues.values():
                    while queue.current is not None:
                        yield queue.current
                self._charge("sync", start)
                if kind is Barrier:
                    start = env.now
                    self.barriers_passed += 1
                    yield self.barrier.arrive()
                    self._charge("barrier", start)
                continue
            if self.issue_cycles:
                start = env.now
                yield env.timeout(self.issue_cycles)
                self._charge("issuing", start)
            queue = routes.get(id(instruction))
            if queue is None:
                queue = routes[id(instruction)] = self.queues[queue_kind(instruction)]
            if queue.occupancy >= queue.depth:
                start = env.now
                while queue.occupancy >= queue.depth:
                    yield queue.current
                self._charge("queue_full", start)
            queue.push(instruction)
        self.done_issuing_at = env.now

    def _charge(self, cause: str, start: int) -> None:
        """Count the cycles since ``start`` as spent waiting for ``cause``."""
        now = self.env.now
        if now > start:
            self.cycles[cause] += now - start
            if self.recorder is not None:
                self.recorder.stall(self.core, cause, start, now)
