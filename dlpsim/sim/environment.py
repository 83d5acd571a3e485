"""The SimPy environment of a run, with what fast-forward needs from it beyond SimPy's API:
the pending events in the order they will run, a callback at the end of the current cycle,
and moving the clock and every pending event later together.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

import simpy
from simpy.core import BoundClass, StopSimulation

# An event priority after SimPy's URGENT (0) and NORMAL (1): it runs once everything
# else due at its cycle has run.
END_OF_CYCLE = 2


class ShiftableEnvironment(simpy.Environment):
    """A simpy.Environment whose clock and pending events can be moved in time together.

    SimPy offers no public way to list the pending events, to schedule an already-triggered
    event at a chosen priority, or to move the clock: its clock is ``_now``, its event queue
    the heap ``_queue`` of (time, priority, order, event), and an event's outcome ``_ok`` and
    ``_value``. Every use of them is here, so a SimPy release that changes them breaks this
    one class. None of it overrides SimPy's ``step``, so the simulation's hot path is SimPy's own.
    """

    def __init__(self, initial_time: int = 0):
        super().__init__(initial_time)
        # SimPy binds env.timeout, env.event, ... to the environment once, in __init__, but only
        # those defined on the instance's own class, not on simpy.Environment for a subclass:
        # without this, every env.timeout() of the model would build its bound method anew.
        for name, attribute in vars(simpy.Environment).items():
            if type(attribute) is BoundClass:
                setattr(self, name, getattr(self, name))

    def pending(self) -> Iterator[tuple[int, int, simpy.Event]]:
        """The events scheduled and not yet processed, in the order they will run, as (cycles
        from now, priority, event); env.run's deadline is left out, being no part of the model."""
        now = self._now
        for when, priority, _order, event in sorted(self._queue):
            if not _is_deadline(event):
                yield when - now, priority, event

    def call_at_end_of_cycle(self, callback: Callable[[simpy.Event], None]) -> None:
        """Call ``callback(event)`` once everything else due at the current cycle has run."""
        event = simpy.Event(self)
        event._ok, event._value = True, None  # triggered already: only its priority is ours
        event.callbacks.append(callback)
        self.schedule(event, END_OF_CYCLE)

    def shift_time(self, shift: int) -> None:
        """Move the clock and every pending event ``shift`` cycles later; env.run's deadline
        stays where it is, so a run still stops at its cycle limit."""
        self._queue[:] = [(when if _is_deadline(event) else when + shift, priority, order, event)
                          for when, priority, order, event in self._queue]
        heapq.heapify(self._queue)
        self._now += shift


def _is_deadline(event: simpy.Event) -> bool:
    """True for the event env.run(until=...) schedules to stop the run."""
    return StopSimulation.callback in event.callbacks
