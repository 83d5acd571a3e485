"""Loop fast-forward: recognise a machine state that repeats, and skip the repeats exactly.

The simulated machine is deterministic and nothing in it depends on the absolute cycle
number. So if, at the ends of two cycles t0 < t1, the whole machine is in the same
state up to a shift of t1 - t0 in time, with every core at the same place in its loop
bodies, then what happened between t0 and t1 happens again from t1, and again after
that, for as long as each core's stream keeps repeating: as long as its loops still
have the iterations to issue. Instead of simulating those periods, the fast-forward
advances time, every counter and every loop by whole periods at once (each part adds
its counters' growth, name by name, and moves the times it remembers; the environment,
a ShiftableEnvironment, moves its clock and pending events), then lets the simulation
go on event by event. The result is the full simulation's, to the cycle
and to the byte.

The state compared ("key") is everything that decides the future. Each stateful part
of the machine gives its own through the Periodic protocol (dlpsim.sim.periodic):
- each control unit: its position in its stream (loop counters left out), the
  instruction it holds and what it waits for, and since how long;
- each issue queue: the instructions waiting, the one executing and since how long;
- each link: its active transfers (bytes left, and whose), and the time since its
  shares were last divided;
- the barrier: how many cores have arrived;
and to these the key adds every pending SimPy event: when it fires, relative to now, and
what its callbacks will do, in the order the event queue will run them. A callback is
described by the part it is a method of; one that no part owns turns fast-forward off
for the run, so nothing pending goes undescribed.

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

from collections.abc import Sequence
from functools import partial

import simpy

from dlpsim.sim.control import ControlUnit
from dlpsim.sim.environment import ShiftableEnvironment
from dlpsim.sim.periodic import NO_EFFECT, Counters, DescribeEvent, Periodic

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


class _Observation:
    __slots__ = ("time", "iterations", "counters")

    def __init__(self, time: int, iterations: list[tuple[int, ...]], counters: list[Counters]):
        self.time = time
        self.iterations = iterations
        self.counters = counters


class FastForward:
    """Watches a machine's run and skips the periods of its steady states.

    ``parts`` are every stateful part of the machine (the control units among them); it
    talks to them only through the Periodic protocol, and to the control units' streams
    through their cursors.
    """

    def __init__(self, env: ShiftableEnvironment, controls: list[ControlUnit], parts: Sequence[Periodic],
                 max_cycles: int | None):
        self.env = env
        self.controls = controls
        self.parts = tuple(parts)
        self._parts_by_id = {id(part): part for part in self.parts}
        self.max_cycles = max_cycles
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
        if self._iterations_until_observed > 0 or not all(control.could_repeat for control in self.controls):
            return
        self._iterations_until_observed = self._stride
        self._observing = True
        self.env.call_at_end_of_cycle(self._observe)

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
        counters = [part.counters() for part in self.parts]
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
        """Every part's state and every pending event, with times relative to now (the
        observer's own event has been taken off the queue to run, so it is not among them)."""
        now = self.env.now
        # An io queue's executing event is also a link's transfer and a pending event's:
        # each event is described once per observation.
        described: dict[int, tuple] = {}

        def describe(event: simpy.Event) -> tuple:
            what = described.get(id(event))
            if what is None:
                what = described[id(event)] = self._describe(event, describe)
            return what

        parts = tuple(part.state(now, describe) for part in self.parts)
        pending = []
        for delay, priority, event in self.env.pending():
            what = describe(event)
            if what:
                pending.append((delay, priority, what))
        return parts, tuple(pending)

    def _describe(self, event: simpy.Event, describe: DescribeEvent) -> tuple:
        """What running the event's callbacks will do, in order, each described by the part
        it is a method of; callbacks that will do nothing are left out."""
        described = []
        parts_by_id = self._parts_by_id
        for callback in event.callbacks:
            # the object the callback is a bound method of, directly or through functools.partial
            function = callback.func if type(callback) is partial else callback
            part = parts_by_id.get(id(getattr(function, "__self__", None)))
            what = None if part is None else part.describe_callback(callback, describe)
            if what is None:
                raise _Unrecognised(callback)
            if what is not NO_EFFECT:
                described.append(what)
        return tuple(described)

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
        for part, before in zip(self.parts, earlier.counters, strict=True):
            part.advance(periods, before, shift)
        self.env.shift_time(shift)
        return True

