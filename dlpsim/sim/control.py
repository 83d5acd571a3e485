"""A core's control unit: reads the core's stream in order and issues each instruction.

It routes ``compute`` to the compute queue, a ``move`` touching DRAM to the
io queue and any other ``move`` to the move queue; pays ``issue_cycles`` per
issued instruction; stalls when the target queue is full; and implements
``sync`` (wait until everything issued so far has completed) and ``barrier``
(a sync, then a meeting with the other participating cores). Every cycle of
the run is counted under one cause, so the causes add up to the total.

It implements ``Periodic`` (dlpsim.sim.periodic) for fast-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import simpy

from dlpsim.asm.program import Barrier, Compute, Instruction, Move, Statement, Sync
from dlpsim.errors import ProgramError
from dlpsim.results import ControlCause, QueueKind
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.periodic import Counters, DescribeEvent, Periodic, grow_counters
from dlpsim.sim.queues import IssueQueue
from dlpsim.sim.stream import StreamCursor

# Only sync and barrier can be issued without time passing (a move or compute takes at least a
# cycle, and a queue holds a few). A stream that issues this many of them in one cycle is
# spinning in a loop of nothing but syncs and barriers: stop it with a clear error.
SPIN_LIMIT = 1_000_000


def queue_kind(instruction: Compute | Move) -> QueueKind:
    if isinstance(instruction, Compute):
        return QueueKind.COMPUTE
    return QueueKind.IO if instruction.touches_dram else QueueKind.MOVE


class ControlUnit(Periodic):
    """Issues one core's stream.

    Like the issue queues, it is driven by callbacks rather than by a SimPy process:
    when it must wait, it hangs ``_resume`` on the event it waits for, and everything it
    remembers meanwhile is an attribute (what it holds, what it waits for and since when,
    where its cursor is). So an instruction costs no event of its own, and the machine's
    state can be read, compared and moved in time by fast-forward.
    """

    def __init__(self, env: simpy.Environment, core: str, stream: tuple[Statement, ...],
                 queues: dict[QueueKind, IssueQueue], issue_cycles: int, barrier: ClusterBarrier,
                 recorder=None):
        self.env = env
        self.core = core
        self.cursor = StreamCursor(stream)
        self._instructions = iter(self.cursor)  # one generator, resumed wherever issuing stopped
        self.queues = queues
        self._queue_order = tuple(queues.values())
        self._routes: dict[int, IssueQueue] = {}  # id(instruction) -> its queue; loops repeat them
        self.issue_cycles = issue_cycles
        self.barrier = barrier
        self.recorder = recorder
        # cycles by cause; FINISHED is the time after the last issue, known only at the end
        self.cycles = {cause: 0 for cause in ControlCause if cause is not ControlCause.FINISHED}
        self.done_issuing_at = 0
        self.finished = False
        self.barriers_passed = 0
        self.holding: Instruction | None = None  # the instruction being issued, or the sync/barrier
        self.waiting_for: ControlCause | None = None  # the cause it is waiting for now, if any
        self.waiting_since = 0
        self.spin_cycle, self.spins = -1, 0  # syncs and barriers issued in cycle spin_cycle
        if recorder is not None:
            recorder.declare(core, "control")

    @property
    def waiting_at(self) -> Barrier | None:
        """The barrier it is blocked on, if any."""
        return self.holding if self.waiting_for is ControlCause.BARRIER else None

    @property
    def could_repeat(self) -> bool:
        """False while it issues outside any loop: its place in the stream, and so the
        machine's state, cannot come round again. (Blocked at a barrier, it can stay put
        while the other cores repeat a loop; finished too.)"""
        return len(self.cursor.frames) > 1 or self.finished or self.waiting_for is ControlCause.BARRIER

    def start(self) -> None:
        """Begin issuing at the current cycle, after whatever is already scheduled for it."""
        self.env.timeout(0).callbacks.append(self._resume)

    def _resume(self, _event: simpy.Event | None = None) -> None:
        """Go on from where it waited; issue until it must wait again or the stream ends."""
        if self.waiting_for is ControlCause.QUEUE_FULL:  # first: the common case of a loop bound by one unit
            queue = self._routes[id(self.holding)]
            if queue.occupancy >= queue.depth:
                queue.current.callbacks.append(self._resume)
                return
            self._charge()
            queue.push(self.holding)
        elif not self._end_wait():
            return
        self._issue()

    def _end_wait(self) -> bool:
        """What it waited for (other than room in a queue) has happened: finish that step.
        False if it must wait on."""
        cause = self.waiting_for
        if cause is ControlCause.SYNC:
            return self._sync()
        if cause is ControlCause.BARRIER:
            self._charge()
            self.barriers_passed += 1
            return True
        if cause is ControlCause.ISSUING:
            self._charge()
            return self._push(self.holding)
        return True  # not waiting: the first call, at the start of the run

    def _issue(self) -> None:
        for instruction in self._instructions:
            self.holding = instruction
            kind = type(instruction)
            if kind is Sync or kind is Barrier:
                self._count_spin(instruction)
                self._wait(ControlCause.SYNC)
                if not self._sync():
                    return
            elif self.issue_cycles:
                self._wait(ControlCause.ISSUING)
                self.env.timeout(self.issue_cycles).callbacks.append(self._resume)
                return
            elif not self._push(instruction):
                return
        self.holding = None
        self.done_issuing_at = self.env.now
        self.finished = True

    def _sync(self) -> bool:
        """A sync waits until every queue is idle; a barrier then waits for the other cores.
        True when it is through."""
        for queue in self._queue_order:
            if queue.current is not None:
                queue.current.callbacks.append(self._resume)
                return False
        self._charge()
        if type(self.holding) is Barrier:
            self._wait(ControlCause.BARRIER)
            self.barrier.arrive().callbacks.append(self._resume)
            return False
        return True

    def _push(self, instruction: Compute | Move) -> bool:
        """Hand the instruction to its queue; False if the queue is full and it must wait."""
        queue = self._routes.get(id(instruction))
        if queue is None:
            queue = self._routes[id(instruction)] = self.queues[queue_kind(instruction)]
        if queue.occupancy >= queue.depth:
            self._wait(ControlCause.QUEUE_FULL)
            queue.current.callbacks.append(self._resume)
            return False
        queue.push(instruction)
        return True

    def _count_spin(self, instruction: Sync | Barrier) -> None:
        now = self.env.now
        if now != self.spin_cycle:
            self.spin_cycle, self.spins = now, 0
        self.spins += 1
        if self.spins > SPIN_LIMIT:
            raise ProgramError(instruction.location,
                               f"{self.core} issued over {SPIN_LIMIT:,} sync/barrier instructions at "
                               f"cycle {now} with no work between them; a loop of nothing but "
                               "sync and barrier does nothing")

    def _wait(self, cause: ControlCause) -> None:
        self.waiting_for = cause
        self.waiting_since = self.env.now

    def _charge(self) -> None:
        """Count the cycles since the wait began as spent waiting for its cause."""
        now = self.env.now
        start = self.waiting_since
        cause = self.waiting_for
        self.waiting_for = None
        if now > start:
            self.cycles[cause] += now - start
            if self.recorder is not None:
                self.recorder.stall(self.core, cause, start, now)

    # -- Periodic: for fast-forward only, never on the simulation's path -----------------------

    def state(self, now: int, describe: DescribeEvent) -> Hashable:
        waited = now - self.waiting_since if self.waiting_for else None
        return self.cursor.position(), self.waiting_for, id(self.holding), waited

    def describe_callback(self, callback: Callable, describe: DescribeEvent) -> Hashable | None:
        return ("resume", self.core) if callback == self._resume else None

    def counters(self) -> Counters:
        return {"cycles": dict(self.cycles), "barriers_passed": self.barriers_passed}

    def advance(self, periods: int, before: Counters, shift: int) -> None:
        grow_counters(self, before, periods)
        self.waiting_since += shift
        self.spin_cycle += shift
