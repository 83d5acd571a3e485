"""The protocol between fast-forward (dlpsim.sim.fastforward) and the machine's stateful parts.

Fast-forward recognises a machine state that repeats and skips whole periods of it. It
knows nothing of the parts' insides: each control unit, issue queue, link and the barrier
implements ``Periodic``, which says
- what decides its future (``state``), with every time as an offset from now, so that two
  observations a period apart compare equal;
- which of the callbacks pending on SimPy events are its own and what they will do
  (``describe_callback``), so a pending event is described by its callbacks' owners, never
  recognised by a method's name;
- its statistics by name (``counters``), so growth over a period is computed name by name;
- how to move forward by whole periods (``advance``): each counter grows by its growth over
  one period times the number of periods, and each time it remembers moves later;
- the times it remembers that are not part of its state (``moments``), so that a period found
  from a state earlier in the run is repeated only where they agree.

tests/test_fast_forward.py checks that every statistic of every part is among its counters.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Hashable
from typing import Protocol

import simpy

# Statistics by attribute name: an int, or a dict of counts (by cause, by instruction, ...).
Counters = dict[str, int | dict]

# Describes what running an event's callbacks will do, in order (see FastForward).
DescribeEvent = Callable[[simpy.Event], tuple]

# What describe_callback returns for a callback of its own that will do nothing when run
# (a link's timer from an earlier division of its shares): left out of the state.
NO_EFFECT = ("no effect",)


class Periodic(Protocol):
    """A stateful part of the machine that fast-forward can compare and move by whole periods."""

    @abstractmethod
    def state(self, now: int, describe: DescribeEvent) -> Hashable:
        """Everything that decides its future, times as offsets from ``now``; ``describe``
        gives what the callbacks of an event it holds will do."""

    @abstractmethod
    def describe_callback(self, callback: Callable, describe: DescribeEvent) -> Hashable | None:
        """What running ``callback``, one of this part's bound methods (or a partial of one),
        will do: a hashable description, NO_EFFECT, or None if it is none of its own."""

    @abstractmethod
    def counters(self) -> Counters:
        """Every statistic, by attribute name; dicts copied, so the result is a snapshot."""

    @abstractmethod
    def advance(self, periods: int, before: Counters, shift: int) -> None:
        """Move forward by ``periods`` whole periods, ``shift`` cycles in all: add ``periods``
        times each counter's growth since ``before`` (its counters() one period ago) and move
        every remembered time ``shift`` cycles later."""

    def moments(self, now: int) -> Hashable:
        """The times it remembers outside its state that advance() moves when it was active in
        the period, as offsets from ``now``: a period found earlier in which it was active is
        repeated only where they are what they were at its end."""
        return ()


def grow_counters(part: Periodic, before: Counters, periods: int) -> None:
    """Add to each of ``part``'s counters ``periods`` times its growth since ``before``."""
    for name, then in before.items():
        now = getattr(part, name)
        if isinstance(now, dict):
            for key, value in now.items():
                now[key] = value + periods * (value - then.get(key, 0))
        else:
            setattr(part, name, now + periods * (now - then))
