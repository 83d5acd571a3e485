"""A DMA link whose bandwidth the active transfers share equally.

The rule (contract, "Transfers"): a transfer of s bytes alone on a link of B
bytes/cycle with latency L takes L + ceil(s / B) cycles. Transfers active at
the same time each get B / n bytes per cycle. Shares are re-divided only at
whole cycles, when a transfer joins or finishes; a transfer finishes at the
first whole cycle by which all its bytes have been delivered. The latency is
spent before the transfer joins the sharing.

Arithmetic is exact and in integers: bytes are counted in units of
1 / (q * lcm(1..N)) byte, where B = p / q and N is the most transfers that can
be active at once (one per queue that uses the link), so every share B / n is
a whole number of units per cycle. The link costs one SimPy event per change
of its set of active transfers, never one per cycle.

It implements ``Periodic`` (dlpsim.sim.periodic) for fast-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from math import lcm

import simpy

from dlpsim.sim.periodic import NO_EFFECT, Counters, DescribeEvent, Periodic, grow_counters


@dataclass
class _Transfer:
    size: int  # bytes
    remaining: int  # units not yet delivered
    done: simpy.Event


class Link(Periodic):
    def __init__(self, env: simpy.Environment, name: str, bytes_per_cycle: Fraction,
                 latency_cycles: int, max_active: int, recorder=None):
        self.env = env
        self.name = name
        self.bytes_per_cycle = Fraction(bytes_per_cycle)
        self.latency_cycles = latency_cycles
        self.max_active = max_active
        self.recorder = recorder
        shares = lcm(*range(1, max_active + 1))
        self._units_per_byte = self.bytes_per_cycle.denominator * shares
        # units each of n active transfers receives per cycle, by n
        self._units_per_cycle = [0] + [self.bytes_per_cycle.numerator * shares // n
                                       for n in range(1, max_active + 1)]
        self.active: list[_Transfer] = []  # in joining order, so ties resolve deterministically
        self.divided_at = 0  # the cycle at which the current shares were set
        self.timer_generation = 0  # timers from earlier share divisions are ignored
        self.bytes = 0
        self.transfers = 0
        self.busy_cycles = 0
        if recorder is not None:
            recorder.declare("links", name)

    def transfer(self, size: int) -> simpy.Event:
        """Start moving ``size`` bytes; the returned event fires when the last byte is delivered."""
        transfer = _Transfer(size, size * self._units_per_byte, self.env.event())
        if self.latency_cycles:
            self.env.timeout(self.latency_cycles).callbacks.append(partial(self._join, transfer))
        else:
            self._join(transfer)
        return transfer.done

    def _join(self, transfer: _Transfer, _event: simpy.Event | None = None) -> None:
        self._settle()
        if len(self.active) >= self.max_active:
            raise RuntimeError(f"link {self.name}: more than {self.max_active} concurrent transfers")
        self.active.append(transfer)
        self._divide()

    def _settle(self) -> None:
        """Deliver the bytes due up to now and retire the transfers that are complete.

        A transfer may complete at the very cycle another joins, before this
        link's timer for that cycle has run: it is retired here, so the new
        shares are divided among the transfers still in flight.
        """
        now = self.env.now
        elapsed = now - self.divided_at
        self.divided_at = now
        if not elapsed or not self.active:
            return
        delivered = elapsed * self._units_per_cycle[len(self.active)]
        self.busy_cycles += elapsed
        if self.recorder is not None:
            self.recorder.link_segment(self.name, now - elapsed, now, len(self.active))
        finished = False
        for transfer in self.active:
            transfer.remaining -= delivered
            finished = finished or transfer.remaining <= 0
        if finished:
            done = [t for t in self.active if t.remaining <= 0]
            self.active = [t for t in self.active if t.remaining > 0]
            for transfer in done:
                # counted when complete, so a run stopped early counts only delivered transfers
                self.bytes += transfer.size
                self.transfers += 1
                transfer.done.succeed()

    def _divide(self) -> None:
        """Set the shares and wake up at the first cycle by which some transfer is complete."""
        self.timer_generation += 1
        if not self.active:
            return
        share = self._units_per_cycle[len(self.active)]
        first_done = -(-min(t.remaining for t in self.active) // share)
        generation = self.timer_generation
        self.env.timeout(first_done).callbacks.append(partial(self._on_timer, generation))

    def _on_timer(self, generation: int, _event: simpy.Event) -> None:
        if generation != self.timer_generation:
            return  # the shares changed since this timer was set
        self._settle()
        self._divide()

    # -- Periodic: for fast-forward only, never on the simulation's path -----------------------

    def state(self, now: int, describe: DescribeEvent) -> Hashable:
        if not self.active:
            return ()
        transfers = tuple(_describe_transfer(transfer, describe) for transfer in self.active)
        return transfers, now - self.divided_at

    def describe_callback(self, callback: Callable, describe: DescribeEvent) -> Hashable | None:
        if not isinstance(callback, partial):
            return None
        if callback.func == self._on_timer:
            current = callback.args[0] == self.timer_generation
            return ("timer", self.name) if current else NO_EFFECT
        if callback.func == self._join:
            return "join", self.name, _describe_transfer(callback.args[0], describe)
        return None

    def counters(self) -> Counters:
        return {"bytes": self.bytes, "transfers": self.transfers, "busy_cycles": self.busy_cycles}

    def advance(self, periods: int, before: Counters, shift: int) -> None:
        grow_counters(self, before, periods)
        self.divided_at += shift


def _describe_transfer(transfer: _Transfer, describe: DescribeEvent) -> tuple:
    """A transfer by its size, what is left of it, and who waits for it to be done."""
    return transfer.size, transfer.remaining, describe(transfer.done)
