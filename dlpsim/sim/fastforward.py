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

Every loop level is skipped this way, at a cost that grows with the depth of the nest,
not its counts, from two memories. Each state keeps a short history of the observations
that saw it, across skips: in ``loop 10^7 / loop 1000 / ...`` the inner loop's iterations
repeat one state, so its periods are skipped; when the outer loop next comes round to the
same place in the inner loop, the observation from the outer loop's previous iteration
(taken before the inner skip) matches, with the inner loop at the same iteration, and the
outer loop's iterations, inner skip included, are skipped as periods in their turn. Of the
skips the history allows, the one of most cycles is taken. A skip made in between changes
nothing in this: it is exact, so a period that contains one is still a period of the machine.
And each state keeps the periods found from it (``_Period``): what a period does depends
only on the state it starts from and on the loops it goes round, so when the state comes
back later (an inner loop entered again, in a later iteration of the loop around it), a
known period is repeated at once, as long as each core's loop has the iterations and the
loops inside it are where they were; this also needs the times the parts remember outside
their state (``Periodic.moments``, such as a queue's last completion) to agree.

Observations are taken at the end of a cycle (an event of lower priority than any
of the machine's, so nothing else is pending at that cycle) in which some loop went
round. Each costs a little, so when no state repeats for a long while, they thin out.

A run that is recorded (dlpsim.sim.trace) tells its recorder of every skip: the
intervals recorded in the period skipped repeat, shifted by one period each time
(``SkipListener``); an observation whose period the recorder no longer holds is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Protocol

import simpy

from dlpsim.sim.control import ControlUnit
from dlpsim.sim.environment import ShiftableEnvironment
from dlpsim.sim.periodic import NO_EFFECT, Counters, DescribeEvent, Periodic

# After this many observations in a row of states never seen before, observations are taken
# more sparsely (every 2nd loop iteration, then every 4th, ... up to MAX_STRIDE), so a run
# whose state does not repeat pays little for trying. A periodic state is still found at
# any stride: sampled every s iterations, a period of p iterations repeats after p / gcd(p, s)
# samples. At most MAX_REMEMBERED observations are kept, at most HISTORY of them per state:
# enough for the few observations of one state that each level of a loop nest leaves between
# two iterations of the loop around it.
MISSES_BEFORE_THINNING = 64
MAX_STRIDE = 1024
MAX_REMEMBERED = 4096
HISTORY = 16
HISTORY_PER_LEVEL = 4


class _Unrecognised(Exception):
    """Something is pending that fast-forward cannot describe: it stays off for this run."""


class SkipListener(Protocol):
    """What a recorder of the run (dlpsim.sim.trace.Recorder) hears of the skips."""

    def mark(self) -> int:
        """Where its record is now: an observation keeps it, a later skip names it."""

    def can_repeat(self, mark: int) -> bool:
        """True if it still holds what it recorded since ``mark``."""

    def repeat(self, start: int, end: int, period: int, periods: int, offset: int) -> None:
        """What it recorded between the marks ``start`` and ``end`` happens ``periods`` times
        more, the k-th shifted by ``offset + k * period`` cycles."""


class _Observation:
    __slots__ = ("time", "iterations", "counters", "mark", "moments")

    def __init__(self, time: int, iterations: list[tuple[int, ...]], counters: list[Counters], mark: int,
                 moments: tuple):
        self.time = time
        self.iterations = iterations
        self.counters = counters
        self.mark = mark
        self.moments = moments


class _Period:
    """Two observations of one state: from it, the machine came back to it ``cycles`` later,
    each core in ``advancing`` (index, depth of its loop, iterations) that many iterations
    further in one loop, the others where they were."""

    __slots__ = ("start", "end", "cycles", "advancing", "active", "moments")

    def __init__(self, start: _Observation, end: _Observation, advancing: tuple[tuple[int, int, int], ...]):
        self.start = start
        self.end = end
        self.cycles = end.time - start.time
        self.advancing = advancing
        # the parts whose counters the period changed, and the times they remembered at its end
        changes = zip(start.counters, end.counters, strict=True)
        self.active = tuple(index for index, (before, after) in enumerate(changes) if before != after)
        self.moments = tuple(end.moments[index] for index in self.active)

    def fits(self, now: _Observation) -> bool:
        """True if the parts it changes remember now the times they did at its end."""
        moments = tuple(now.moments[index] for index in self.active)
        return self.end.time <= now.time and moments == self.moments


class _Skip:
    """``periods`` repeats of ``period``, from now."""

    __slots__ = ("period", "periods")

    def __init__(self, period: _Period, periods: int):
        self.period = period
        self.periods = periods

    @property
    def cycles(self) -> int:
        return self.period.cycles * self.periods


def _rebased(now: Counters, start: Counters, end: Counters) -> Counters:
    """The counters one period before ``now`` for a period that grew them from ``start`` to ``end``."""
    before: Counters = {}
    for name, value in now.items():
        if isinstance(value, dict):
            grown, was = end[name], start[name]
            before[name] = {key: count - grown.get(key, 0) + was.get(key, 0) for key, count in value.items()}
        else:
            before[name] = value - (end[name] - start[name])
    return before


class FastForward:
    """Watches a machine's run and skips the periods of its steady states.

    ``parts`` are every stateful part of the machine (the control units among them); it
    talks to them only through the Periodic protocol, and to the control units' streams
    through their cursors.
    """

    def __init__(self, env: ShiftableEnvironment, controls: list[ControlUnit], parts: Sequence[Periodic],
                 max_cycles: int | None, listener: SkipListener | None = None):
        self.env = env
        self.controls = controls
        self.parts = tuple(parts)
        self._parts_by_id = {id(part): part for part in self.parts}
        self.max_cycles = max_cycles
        self.listener = listener
        self._seen: dict[tuple, list[_Observation]] = {}  # state -> its observations, oldest first
        self._remembered = 0
        self._periods: dict[tuple, list[_Period]] = {}  # state -> the periods found from it
        # observations kept per state: a few for each level of the deepest nest of loops
        depth = max((control.cursor.depth for control in controls), default=0)
        self._history = HISTORY + HISTORY_PER_LEVEL * depth
        self._periods_kept = 0
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
        now = self._observation()
        history = self._seen.get(key)
        if history is None:
            history = self._seen[key] = []
            self._misses += 1
            if self._misses >= MISSES_BEFORE_THINNING:
                self._misses = 0
                self._stride = min(2 * self._stride, MAX_STRIDE)
        else:
            self._misses = 0
            skip = self._best_skip(key, history, now)
            if skip is not None:
                self._make(skip, now)
                if skip.period.end is now:
                    self._keep_period(key, skip.period)
                # both ends of the skip are observations of the state: the one before it may
                # begin a period of a loop around this one
                self._remember(history, now)
                now = self._observation()
        self._remember(history, now)

    def _observation(self) -> _Observation:
        now = self.env.now
        return _Observation(now, [control.cursor.iterations() for control in self.controls],
                            [part.counters() for part in self.parts],
                            self.listener.mark() if self.listener is not None else 0,
                            tuple(part.moments(now) for part in self.parts))

    def _remember(self, history: list[_Observation], observation: _Observation) -> None:
        """Keep this observation of the state (after the skip, if one was made)."""
        if self._remembered >= MAX_REMEMBERED:
            self._seen = {key: kept for key, kept in self._seen.items() if kept is history}
            self._remembered = len(history)
        if len(history) >= self._history:
            del history[0]
            self._remembered -= 1
        history.append(observation)
        self._remembered += 1

    def _keep_period(self, key: tuple, period: _Period) -> None:
        if self._periods_kept >= MAX_REMEMBERED:
            self._periods.clear()
            self._periods_kept = 0
        kept = self._periods.setdefault(key, [])
        if any(known.advancing == period.advancing for known in kept):
            return
        if len(kept) >= HISTORY:
            del kept[0]
            self._periods_kept -= 1
        kept.append(period)
        self._periods_kept += 1

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

    def _best_skip(self, key: tuple, history: list[_Observation], now: _Observation) -> _Skip | None:
        """Of the skips the state's history and its known periods allow, the one of most cycles
        (the latest of those, on a tie)."""
        candidates = []
        for earlier in reversed(history):
            if not self._can_repeat(earlier):
                break  # older observations are older still
            period = self._period(earlier, now)
            if period is not None:
                candidates.append(period)
        candidates += [period for period in self._periods.get(key, ())
                       if self._can_repeat(period.start) and period.fits(now)]
        best = None
        for period in candidates:
            periods = self._periods_allowed(period, now)
            if periods > 0 and (best is None or period.cycles * periods > best.cycles):
                best = _Skip(period, periods)
        return best

    def _can_repeat(self, observation: _Observation) -> bool:
        return self.listener is None or self.listener.can_repeat(observation.mark)

    def _period(self, earlier: _Observation, now: _Observation) -> _Period | None:
        """The period from ``earlier`` to now, if every core either stayed or went round one loop."""
        if now.time <= earlier.time:
            return None
        advancing = []
        for core, (before, after) in enumerate(zip(earlier.iterations, now.iterations, strict=True)):
            depth = next((d for d, (b, a) in enumerate(zip(before, after, strict=True)) if b != a), None)
            if depth is None:
                continue  # this core did not move in its stream
            if after[depth] < before[depth] or after[depth + 1:] != before[depth + 1:]:
                return None
            advancing.append((core, depth, after[depth] - before[depth]))
        return _Period(earlier, now, tuple(advancing)) if advancing else None

    def _periods_allowed(self, period: _Period, now: _Observation) -> int:
        """How many times the period can repeat from now: each advancing core's loop must have the
        iterations left, with the loops inside it where they were when the period began."""
        periods = None
        for core, depth, per_period in period.advancing:
            if now.iterations[core][depth + 1:] != period.start.iterations[core][depth + 1:]:
                return 0
            allowed = self.controls[core].cursor.remaining_iterations(depth) // per_period
            periods = allowed if periods is None else min(periods, allowed)
        if self.max_cycles is not None:
            periods = min(periods, (self.max_cycles - now.time) // period.cycles)
        return periods

    def _make(self, skip: _Skip, now: _Observation) -> None:
        """Advance every loop, counter and time by the skip's periods, and tell the listener."""
        period, shift = skip.period, skip.cycles
        for core, depth, per_period in period.advancing:
            self.controls[core].cursor.skip_iterations(depth, skip.periods * per_period)
        for part, counters, start, end in zip(self.parts, now.counters, period.start.counters,
                                              period.end.counters, strict=True):
            part.advance(skip.periods, _rebased(counters, start, end), shift)
        if self.listener is not None:
            self.listener.repeat(period.start.mark, period.end.mark, period.cycles, skip.periods,
                                 now.time - period.end.time)
        self.env.shift_time(shift)
