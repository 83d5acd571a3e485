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
from dlpsim.errors import ProgramError
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.queues import IssueQueue

# The causes the control unit's time is split into; "finished" is the time after its last issue.
CONTROL_CAUSES = ("issuing", "queue_full", "sync", "barrier", "finished")

# Only sync and barrier can be issued without time passing (a move or compute takes at least a
# cycle, and a queue holds a few). A stream that issues this many of them in one cycle is
# spinning in a loop of nothing but syncs and barriers: stop it with a clear error.
SPIN_LIMIT = 1_000_000


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
        self.finished = False
        self.barriers_passed = 0
        self.waiting_at: Barrier | None = None  # the barrier it is blocked on, if any
        if recorder is not None:
            recorder.declare(core, "control")

    def run(self) -> Generator[simpy.Event, object, None]:
        env = self.env
        routes: dict[int, IssueQueue] = {}  # id(instruction) -> its queue; loops repeat instructions
        spin_cycle, spins = -1, 0
        for instruction in expand(self.stream):
            kind = type(instruction)
            if kind is Sync or kind is Barrier:
                if env.now != spin_cycle:
                    spin_cycle, spins = env.now, 0
                spins += 1
                if spins > SPIN_LIMIT:
                    raise ProgramError(instruction.location,
                                       f"{self.core} issued over {SPIN_LIMIT:,} sync/barrier instructions at "
                                       f"cycle {env.now} with no work between them; a loop of nothing but "
                                       "sync and barrier does nothing")
                start = env.now
                for queue in self.queues.values():
                    while queue.current is not None:
                        yield queue.current
                self._charge("sync", start)
                if kind is Barrier:
                    start = env.now
                    self.waiting_at = instruction
                    yield self.barrier.arrive()
                    self.waiting_at = None
                    self.barriers_passed += 1
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
        self.finished = True

    def _charge(self, cause: str, start: int) -> None:
        """Count the cycles since ``start`` as spent waiting for ``cause``."""
        now = self.env.now
        if now > start:
            self.cycles[cause] += now - start
            if self.recorder is not None:
                self.recorder.stall(self.core, cause, start, now)
