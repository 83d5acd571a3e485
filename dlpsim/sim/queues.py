"""An issue queue: holds up to ``depth`` instructions, counting the one executing,
and executes them one at a time in program order.

The queue is driven by callbacks on the completion event of the executing
instruction rather than by a process of its own, so an instruction costs no
SimPy event beyond the one that times its execution.

It implements ``Periodic`` (dlpsim.sim.periodic) for fast-forward.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

import simpy

from dlpsim.asm.program import Instruction
from dlpsim.results import QueueKind
from dlpsim.sim.periodic import Counters, DescribeEvent, Periodic, grow_counters


class IssueQueue(Periodic):
    def __init__(self, env: simpy.Environment, core: str, kind: QueueKind, depth: int,
                 execute: Callable[[Instruction], simpy.Event], recorder=None):
        self.env = env
        self.core = core
        self.kind = kind
        self.depth = depth
        self.execute = execute
        self.recorder = recorder
        self.waiting: deque[Instruction] = deque()
        self.current: simpy.Event | None = None  # completion of the executing instruction
        self.executing: Instruction | None = None
        self.started_at = 0
        self.occupancy = 0  # waiting + executing
        self.instructions = 0
        self.busy_cycles = 0
        self.last_completion = 0
        # id(instruction) -> times it completed, kept only where asked (the compute queue's
        # operations are counted from it, so a run stopped early counts only finished work)
        self.completions: dict[int, int] | None = None
        if recorder is not None:
            recorder.declare(core, kind)

    @property
    def busy(self) -> bool:
        return self.current is not None

    def push(self, instruction: Instruction) -> None:
        self.occupancy += 1
        if self.current is None:
            self._start(instruction)
        else:
            self.waiting.append(instruction)

    def _start(self, instruction: Instruction) -> None:
        self.executing = instruction
        self.started_at = self.env.now
        current = self.current = self.execute(instruction)
        current.callbacks.append(self._complete)

    def _complete(self, _event: simpy.Event) -> None:
        now = self.env.now
        executed = self.executing
        self.instructions += 1
        self.busy_cycles += now - self.started_at
        self.last_completion = now
        completions = self.completions
        if completions is not None:
            key = id(executed)
            completions[key] = completions.get(key, 0) + 1
        if self.recorder is not None:
            self.recorder.instruction(self.core, self.kind, executed, self.started_at, now)
        self.current = None
        self.occupancy -= 1
        if self.waiting:
            self._start(self.waiting.popleft())

    # -- Periodic: for fast-forward only, never on the simulation's path -----------------------

    def state(self, now: int, describe: DescribeEvent) -> Hashable:
        executing = None if self.current is None else (
            id(self.executing), now - self.started_at, describe(self.current))
        return tuple(id(waiting) for waiting in self.waiting), executing

    def describe_callback(self, callback: Callable, describe: DescribeEvent) -> Hashable | None:
        return ("complete", self.core, self.kind) if callback == self._complete else None

    def counters(self) -> Counters:
        counters: Counters = {"instructions": self.instructions, "busy_cycles": self.busy_cycles}
        if self.completions is not None:
            counters["completions"] = dict(self.completions)
        return counters

    def moments(self, now: int) -> Hashable:
        return now - self.last_completion

    def advance(self, periods: int, before: Counters, shift: int) -> None:
        if self.instructions != before["instructions"]:  # its last completion was in the period
            self.last_completion += shift
        grow_counters(self, before, periods)
        self.started_at += shift
