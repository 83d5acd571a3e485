"""Loop fast-forward: recognise a machine state that repeats, and skip the repeats exactly.

The simulated machine is deterministic and nothing in it depends on the absolute cycle
number. So if, at the ends of two cycles t0 < t1, the whole machine is in the same
state up to a shift of t1 - t0 in time, with every core at the same place in its loop
bodies, then what happened between t0 and t1 happens again from t1, and again after
that, for as long as each core's stream keeps repeating: as long as its loops still
have the iterations to issue. Instead of simulating those periods, the fast-forward
advances time, every counter and every loop by whole periods at once, then lets the
simulation go on event by event. The result is the full simulation's, to the cycle
and to the byte.

The state compared ("key") is everything that decides the future:
- each control unit: its position in its stream (loop counters left out), the
  instruction it holds and what it waits for, and since how long;
- each issue queue: the instructions waiting, the one executing and since how long;
- each link: its active transfers (bytes left, and whose), and the time since its
  shares were last divided;
- the barrier: how many cores have arrived;
- every pending SimPy event: when it fires, relative to now, and what its callbacks
  will do, in the order the event queue will run them.

Loop counters are compared separately. Between the two observations each core must
have either not moved in its stream at all, or gone round exactly one of its loops
(the outermost frame that changed) a whole number d of times, with every loop inside
that one at the same iteration. Then each period issues d iterations of that loop's
body, so a core with ``r`` iterations left after the current one allows ``r // d``
more periods. The skip takes the fewest any core allows, and never passes the run's
cycle limit.

Observations are taken at the end of a cycle (an event of lower priority than any
of the machine's, so nothing else is pending at that cycle) in which some loop went
round. Each costs a little, so when no state repeats for a long while, they thin out.
Recording a trace turns fast-forward off: a trace lists every instruction.
"""

from __future__ import annotations

import heapq
from functools import partial

import simpy
from simpy.core import StopSimulation

from dlpsim.results import ControlCause
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.control import ControlUnit
from dlpsim.sim.link import Link
from dlpsim.sim.queues import IssueQueue

# An event priority after SimPy's URGENT (0) and NORMAL (1): it runs once everything
# else due at its cycle has run.
END_OF_CYCLE = 2

# After this many observations in a row of states never seen before, observations are taken
# more sparsely (every 2nd loop iteration, then every 4th, ... up to MAX_STRIDE), so a run
# whose state does not repeat pays little for trying. A periodic state is still found at
# any stride: sampled every s iterations, a period of p iterations repeats after p / gcd(p, s)
# samples. At most MAX_REMEMBERED states are kept.
MISSES_BEFORE_THINNING = 64
MAX_STRIDE = 1024
MAX_REMEMBERED = 4096


class _Unrecognised(Exception):
    """Something is pending that fast-forward cannot describe: it stays off for this run."""


class _Observer(simpy.Event):
    """An event already triggered, due at the end of the current cycle."""

    def __init__(self, env: simpy.Environment, callback):
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(callback)
        env.schedule(self, END_OF_CYCLE)


class _Observation:
    __slots__ = ("time", "iterations", "counters")

    def __init__(self, time: int, iterations: list[tuple[int, ...]], counters: list):
        self.time = time
        self.iterations = iterations
        self.counters = counters


class FastForward:
    """Watches a machine's run and skips the periods of its steady states."""

    def __init__(self, env: simpy.Environment, controls: list[ControlUnit],
                 queues: list[IssueQueue], links: list[Link], barrier: ClusterBarrier,
                 max_cycles: int | None):
        self.env = env
        self.controls = controls
        self.queues = queues
        self.links = links
        self.barrier = barrier
        self.max_cycles = max_cycles
        self._queue_names = {id(queue): f"{queue.core}.{queue.kind}" for queue in queues}
        self._seen: dict[tuple, _Observation] = {}
        self._stride = 1  # observe at every stride-th loop iteration
        self._misses = 0  # observations in a row that found a new state
        self._iterations_until_observed = 1
        self._observing = False
        for control in controls:
            control.cursor.on_iteration = self._loop_went_round

    # -- when to look --------------------------------------------------------------------

    def _loop_went_round(self) -> None:
        if self._observing:
            return
        self._iterations_until_observed -= 1
        if self._iterations_until_observed > 0 or not self._could_repeat():
            return
        self._iterations_until_observed = self._stride
        self._observing = True
        _Observer(self.env, self._observe)

    def _could_repeat(self) -> bool:
        """False while some core issues outside any loop: its place in the stream, and so the
        machine's state, cannot come round again. (A core blocked at a barrier can stay put
        while the others repeat a loop; a finished one too.)"""
        return all(len(control.cursor.frames) > 1 or control.finished
                   or control.waiting_for is ControlCause.BARRIER for control in self.controls)

    def _stop(self) -> None:
        for control in self.controls:
            control.cursor.on_iteration = None

    def _observe(self, _event: simpy.Event) -> None:
        self._observing = False
        try:
            key = self._state()
        except _Unrecognised:
            self._stop()
            return
        now = self.env.now
        iterations = [control.cursor.iterations() for control in self.controls]
        counters = self._counters()
        earlier = self._seen.get(key)
        self._seen[key] = _Observation(now, iterations, counters)
        if earlier is not None:
            self._misses = 0
            if self._skip(earlier, iterations):
                self._seen.clear()
            return
        self._misses += 1
        if self._misses >= MISSES_BEFORE_THINNING:
            self._misses = 0
            self._stride = min(2 * self._stride, MAX_STRIDE)
        if len(self._seen) > MAX_REMEMBERED:
            self._seen.clear()

    # -- the state ----------------------------------------------------------------------

    def _state(self) -> tuple:
        now = self.env.now
        owners = {id(queue.current): self._queue_names[id(queue)] for queue in self.queues
                  if queue.current is not None}
        describe = partial(self._describe_callbacks, owners)
        controls = tuple(
            (control.cursor.position(), control.waiting_for, id(control.holding),
             now - control.waiting_since if control.waiting_for else None)
            for control in self.controls)
        queues = tuple(
            (tuple(id(waiting) for waiting in queue.waiting),
             None if queue.current is None
             else (id(queue.executing), now - queue.started_at, describe(queue.current.callbacks)))
            for queue in self.queues)
        links = tuple(
            (tuple(self._describe_transfer(owners, transfer) for transfer in link.active),
             now - link.divided_at if link.active else None)
            for link in self.links)
        barrier = (self.barrier.arrived, describe(self.barrier.release.callbacks))
        pending = []
        for when, priority, _order, event in sorted(self.env._queue):
            if isinstance(event, _Observer) or StopSimulation.callback in event.callbacks:
                continue  # the observers' own events, and env.run's deadline: not the machine's
            what = describe(event.callbacks)
            if what:
                pending.append((when - now, priority, what))
        return controls, queues, links, barrier, tuple(pending)

    def _describe_callbacks(self, owners: dict[int, str], callbacks) -> tuple:
        """What running these callbacks will do; timers of earlier share divisions do nothing."""
        described = []
        for callback in callbacks:
            if isinstance(callback, partial):
                link = getattr(callback.func, "__self__", None)
                name = getattr(callback.func, "__name__", "")
                if isinstance(link, Link) and name == "_on_timer":
                    if callback.args[0] == link.timer_generation:
                        described.append(("timer", link.name))
                    continue
                if isinstance(link, Link) and name == "_join":
                    described.append(("join", link.name, self._describe_transfer(owners, callback.args[0])))
                    continue
                raise _Unrecognised(callback)
            owner = getattr(callback, "__self__", None)
            name = getattr(callback, "__name__", "")
            if isinstance(owner, IssueQueue) and name == "_complete":
                described.append(("complete", self._queue_names[id(owner)]))
            elif isinstance(owner, ControlUnit) and name == "_resume":
                described.append(("resume", owner.core))
            else:
                raise _Unrecognised(callback)
        return tuple(described)

    @staticmethod
    def _describe_transfer(owners: dict[int, str], transfer) -> tuple:
        owner = owners.get(id(transfer.done))
        if owner is None:
            raise _Unrecognised(transfer)
        return transfer.size, transfer.remaining, owner

    # -- the counters -------------------------------------------------------------------

    def _counters(self) -> list:
        """Every statistic, in a fixed order (see _advance_counters)."""
        values: list = []
        for control in self.controls:
            values += [dict(control.cycles), control.barriers_passed]
        for queue in self.queues:
            values += [queue.instructions, queue.busy_cycles, queue.last_completion,
                       dict(queue.completions) if queue.completions is not None else None]
        for link in self.links:
            values += [link.bytes, link.transfers, link.busy_cycles]
        return values

    def _advance_counters(self, before: list, periods: int, shift: int) -> None:
        """Add ``periods`` times each counter's growth since ``before``; move times by ``shift``."""
        earlier = iter(before)

        def grown(now: int) -> int:
            return now + periods * (now - next(earlier))

        def grown_dict(now: dict | None) -> None:
            then = next(earlier)
            if now is not None:
                for key, value in now.items():
                    now[key] = value + periods * (value - then.get(key, 0))

        for control in self.controls:
            grown_dict(control.cycles)
            control.barriers_passed = grown(control.barriers_passed)
        for queue in self.queues:
            queue.instructions = grown(queue.instructions)
            queue.busy_cycles = grown(queue.busy_cycles)
            if queue.last_completion != next(earlier):  # it completed something in the period
                queue.last_completion += shift
            grown_dict(queue.completions)
        for link in self.links:
            link.bytes = grown(link.bytes)
            link.transfers = grown(link.transfers)
            link.busy_cycles = grown(link.busy_cycles)

    # -- the skip -----------------------------------------------------------------------

    def _skip(self, earlier: _Observation, iterations: list[tuple[int, ...]]) -> bool:
        """Skip as many whole periods as every core's loops allow; False if none."""
        now = self.env.now
        period = now - earlier.time
        if period <= 0:
            return False
        advancing = []  # (control, depth of the loop that went round, iterations per period)
        for control, before, after in zip(self.controls, earlier.iterations, iterations, strict=True):
            depth = next((d for d, (b, a) in enumerate(zip(before, after, strict=True)) if b != a), None)
            if depth is None:
                continue  # this core did not move in its stream
            if after[depth] < before[depth] or after[depth + 1:] != before[depth + 1:]:
                return False
            advancing.append((control, depth, after[depth] - before[depth]))
        if not advancing:
            return False
        periods = min(control.cursor.remaining_iterations(depth) // per_period
                      for control, depth, per_period in advancing)
        if self.max_cycles is not None:
            periods = min(periods, (self.max_cycles - now) // period)
        if periods <= 0:
            return False
        shift = periods * period
        for control, depth, per_period in advancing:
            control.cursor.skip_iterations(depth, periods * per_period)
        self._advance_counters(earlier.counters, periods, shift)
        for control in self.controls:
            control.waiting_since += shift
            control.spin_cycle += shift
        for queue in self.queues:
            queue.started_at += shift
        for link in self.links:
            link.divided_at += shift
        self._shift_time(shift)
        return True

    def _shift_time(self, shift: int) -> None:
        """Move the clock and every pending event of the machine ``shift`` cycles later.

        SimPy has no public way to do this: its clock is ``_now`` and its event queue the
        heap ``_queue`` of (time, priority, order, event). env.run's deadline stays put.
        """
        env = self.env
        env._queue[:] = [(when if StopSimulation.callback in event.callbacks else when + shift,
                          priority, order, event)
                         for when, priority, order, event in env._queue]
        heapq.heapify(env._queue)
        env._now += shift
