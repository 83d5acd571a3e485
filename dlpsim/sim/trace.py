"""Recording what happened when, and writing it as a Chrome trace-event file.

The simulator calls a recorder only when one is given, so untraced runs keep
no per-instruction records and their memory does not grow with run length.
The file has one track per core queue and control unit, and one per link;
Perfetto (ui.perfetto.dev) and chrome://tracing open it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from dlpsim.asm.program import Compute, Instruction, Move
from dlpsim.machine import MachineConfig
from dlpsim.results.energy import power_steps
from dlpsim.sim.activity import instruction_activity


@dataclass(frozen=True, slots=True)
class Interval:
    """A link segment or a control unit's wait."""

    track: tuple[str, str]  # (group, lane): ("core0", "control"), ("links", "dram")
    name: str
    start: int
    end: int
    args: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class Executed:
    """An instruction's time on its queue. Its name (the instruction's text) and arguments are
    made when a trace is written, not for every instruction recorded."""

    track: tuple[str, str]  # (core, queue): ("core0", "compute")
    instruction: Instruction
    start: int
    end: int

    @property
    def name(self) -> str:
        return str(self.instruction)

    @property
    def args(self) -> tuple[tuple[str, object], ...]:
        return (("line", self.instruction.location.line), ("kind", type(self.instruction).__name__))

    @property
    def mark_key(self) -> tuple[str, int]:
        """(core, line): how marks name the instruction."""
        return self.track[0], self.instruction.location.line


@dataclass
class Recorder:
    intervals: list[Interval | Executed] = field(default_factory=list)
    tracks: list[tuple[str, str]] = field(default_factory=list)  # every unit's track, used or not

    def declare(self, group: str, lane: str) -> None:
        self.tracks.append((group, lane))

    def instruction(self, core: str, queue: str, instruction: Instruction, start: int, end: int) -> None:
        self.intervals.append(Executed((core, queue), instruction, start, end))

    def link_segment(self, link: str, start: int, end: int, active: int) -> None:
        name = "1 transfer" if active == 1 else f"{active} transfers"
        self.intervals.append(Interval(("links", link), name, start, end, (("active", active),)))

    def stall(self, core: str, cause: str, start: int, end: int) -> None:
        self.intervals.append(Interval((core, "control"), f"wait: {cause}", start, end, (("cause", cause),)))


# (core, line) of an instruction -> why its intervals are marked (a data hazard it is part of)
Marks = dict[tuple[str, int], tuple[str, ...]]


def chrome_trace(recorder: Recorder, clock_hz: int | Fraction, metadata: dict,
                 marks: Marks | None = None, power: Sequence[tuple[int, Fraction]] = ()) -> dict:
    """Trace-event JSON: times in microseconds of simulated time at the machine's clock. The
    executions of the instructions in ``marks`` carry the reasons (``"hazards"``) and are drawn
    in the viewers' alarm colour. ``power`` (cycle, watts from then on) becomes a counter track."""
    marks = marks or {}
    microseconds_per_cycle = Fraction(10**6) / Fraction(clock_hz)
    groups: dict[str, int] = {}
    lanes: dict[tuple[str, str], int] = {}
    events: list[dict] = []
    declared = [*recorder.tracks, *(interval.track for interval in recorder.intervals)]
    # cores first, in the order they were built, then the links they share
    for group, lane in sorted(declared, key=lambda track: track[0] == "links"):
        track = (group, lane)
        if group not in groups:
            groups[group] = len(groups) + 1
            events.append({"ph": "M", "name": "process_name", "pid": groups[group], "tid": 0,
                           "args": {"name": group}})
        if track not in lanes:
            lanes[track] = len(lanes) + 1
            events.append({"ph": "M", "name": "thread_name", "pid": groups[group],
                           "tid": lanes[track], "args": {"name": lane}})
    for interval in sorted(recorder.intervals, key=lambda i: (i.start, lanes[i.track], i.end)):
        args = {"start_cycle": interval.start, "end_cycle": interval.end, **dict(interval.args)}
        event = {
            "ph": "X", "name": interval.name, "cat": interval.track[1],
            "pid": groups[interval.track[0]], "tid": lanes[interval.track],
            "ts": float(interval.start * microseconds_per_cycle),
            "dur": float((interval.end - interval.start) * microseconds_per_cycle),
            "args": args,
        }
        reasons = marks.get(interval.mark_key) if isinstance(interval, Executed) else None
        if reasons:
            args["hazards"] = list(reasons)
            event["cname"] = "terrible"  # the trace viewers' red
        events.append(event)
    if power:
        pid = len(groups) + 1
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "energy"}})
        events += [{"ph": "C", "name": "power", "pid": pid, "tid": 0,
                    "ts": float(cycle * microseconds_per_cycle), "args": {"W": float(watts)}}
                   for cycle, watts in power]
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": metadata}


def power_track(recorder: Recorder, machine: MachineConfig) -> list[tuple[int, Fraction]]:
    """The power the recorded run drew, as (cycle, watts) steps: each executed instruction's dynamic
    energy (its operations and memory traffic, as the run counts them) spread over the cycles it
    executed, and the static power throughout."""
    pieces = []
    energies: dict[int, Fraction] = {}  # loops execute the same instructions again
    for interval in recorder.intervals:
        if isinstance(interval, Executed) and isinstance(interval.instruction, Move | Compute):
            key = id(interval.instruction)
            if key not in energies:
                energies[key] = sum(instruction_activity(interval.instruction).dynamic_pj(machine).values(),
                                    Fraction(0))
            pieces.append((interval.start, interval.end, energies[key]))
    return power_steps(pieces, machine.static_mw, machine.clock_hz)


def write_chrome_trace(path: str, recorder: Recorder, clock_hz: int | Fraction, metadata: dict,
                       marks: Marks | None = None, power: Sequence[tuple[int, Fraction]] = ()) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(chrome_trace(recorder, clock_hz, metadata, marks, power), file, separators=(",", ":"))
        file.write("\n")
