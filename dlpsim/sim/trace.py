"""Recording what ran when, in bounded memory, and writing it as a Chrome trace-event file.

The simulator calls a recorder only when one is given, so untraced runs keep no
per-instruction records. A recorder's memory is bounded whatever the run's length:

- **exact**: the first ``exact_budget`` intervals (instructions on their queues, control
  units' waits, link segments), in the order they end, are kept one by one;
- **aggregated**: every interval, those kept exactly included, is also added as it is
  recorded to per-span totals (``SpanGrid``): the busy cycles of each lane and kind of work
  in each span of ``width`` cycles; when the run outgrows the spans, neighbours merge and
  the width doubles, so their number stays between half ``max_spans`` and ``max_spans``;
- **repeats**: fast-forward (dlpsim.sim.fastforward) tells the recorder of every skip, and
  what was recorded in the period skipped is kept once, as a ``Repeat``, never as its
  instances: the spans add its busy cycles in closed form, and the exact part expands it
  only as far as the budget goes, so the exact part is the same intervals a run without
  fast-forward records.

The file has one track per core queue and control unit, and one per link; Perfetto
(ui.perfetto.dev) and chrome://tracing open it. When the exact part does not cover the
whole run, each lane also gets a counter track of its busy fraction per span, and the
file's metadata (``recording``) says what was kept exactly and what was aggregated.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import islice

from dlpsim.asm.opcodes import Memory, Unit
from dlpsim.asm.program import Compute, Instruction, Move

# Intervals kept one by one before the rest is only aggregated: about 100 bytes each in
# memory, and about 200 in a trace file (20 MB).
EXACT_BUDGET = 100_000
# The spans of the aggregated view: between half of this and this many over the run.
MAX_SPANS = 512
# Recorded items kept for fast-forward to repeat (a period with more is not skipped).
WINDOW = 20_000
MAX_LINK_SHARES = 5  # link segments shared by more transfers are one kind of work


@dataclass(frozen=True, slots=True)
class Interval:
    """A link segment or a control unit's wait."""

    track: tuple[str, str]  # (group, lane): ("core0", "control"), ("links", "dram")
    name: str
    start: int
    end: int
    args: tuple[tuple[str, object], ...] = ()

    def shifted(self, cycles: int) -> Interval:
        return Interval(self.track, self.name, self.start + cycles, self.end + cycles, self.args)

    @property
    def identity(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Executed:
    """An instruction's time on its queue. Its name (the instruction's text) and arguments are
    made when a trace is written, not for every instruction recorded."""

    track: tuple[str, str]  # (core, queue): ("core0", "compute")
    instruction: Instruction
    start: int
    end: int

    def shifted(self, cycles: int) -> Executed:
        return Executed(self.track, self.instruction, self.start + cycles, self.end + cycles)

    @property
    def identity(self) -> int:
        return id(self.instruction)  # loops repeat the same instruction objects

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


def kind_of_work(interval: Interval | Executed) -> str:
    """What an interval shows: ``mac`` or ``vector`` compute, a ``load``, ``store``, on-chip
    ``move`` or ``shared`` copy, a control unit's cause of waiting, ``linkN`` for a link shared
    by N transfers (MAX_LINK_SHARES or more as one), else ``other``."""
    if isinstance(interval, Executed):
        instruction = interval.instruction
        if isinstance(instruction, Compute):
            return "mac" if instruction.type.unit is Unit.MATRIX else "vector"
        if isinstance(instruction, Move):
            source, destination = instruction.source.memory, instruction.destination.memory
            if source is Memory.DRAM:
                return "load"
            if destination is Memory.DRAM:
                return "store"
            return "shared" if Memory.SHARED in (source, destination) else "move"
        return "other"
    group, lane = interval.track
    if group == "links":
        return f"link{min(int(dict(interval.args).get('active', 1)), MAX_LINK_SHARES)}"
    if lane == "control":
        return str(dict(interval.args).get("cause", "other"))
    return "other"


# What the spans are totalled by: a lane and a kind of work.
Code = tuple[tuple[str, str], str]


class Repeat:
    """The intervals recorded in one period (``template``), happening ``count`` more times, the
    k-th shifted by ``shift + k * period`` cycles (k = 1 .. count).

    For the spans it keeps, per code, the busy cycles the template covers before any cycle y
    (``covered``), in closed form: on one lane intervals never overlap, so consecutive
    repetitions of a lane's intervals never interleave, and before y lie some whole ones and at
    most one in part. Nested repeats (inner loops skipped within the period) are pieces of the
    template like intervals, so the cost grows with the depth of the nest, not its counts.
    """

    __slots__ = ("template", "period", "count", "shift", "instances", "_pieces", "extent", "busy")

    def __init__(self, template: tuple, period: int, count: int, code_of, shift: int = 0):
        self.template = template
        self.period = period
        self.count = count
        self.shift = shift
        self.instances = count * sum(getattr(item, "instances", 1) for item in template)
        # code -> its pieces: (first start, last end, busy cycles, the nested repeat or None)
        pieces: dict[Code, list[tuple[int, int, int, Repeat | None]]] = {}
        for item in template:
            if isinstance(item, Repeat):
                for code, (low, high) in item.extent.items():
                    pieces.setdefault(code, []).append((low, high, item.busy[code], item))
            elif item.end > item.start:
                piece = (item.start, item.end, item.end - item.start, None)
                pieces.setdefault(code_of(item), []).append(piece)
        self._pieces = {}
        self.extent: dict[Code, tuple[int, int]] = {}  # code -> (first start, last end) over all repeats
        self.busy: dict[Code, int] = {}  # code -> busy cycles over all repeats
        for code, found in pieces.items():
            found.sort(key=lambda piece: piece[1])
            prefix = [0]
            for piece in found:
                prefix.append(prefix[-1] + piece[2])
            self._pieces[code] = ([piece[1] for piece in found], found, prefix)
            low, high = min(piece[0] for piece in found), found[-1][1]
            self.extent[code] = (low + shift + period, high + shift + count * period)
            self.busy[code] = count * prefix[-1]

    def _template_covered(self, code: Code, y: int) -> int:
        highs, pieces, prefix = self._pieces[code]
        index = bisect_right(highs, y)
        total = prefix[index]
        if index < len(pieces):
            low, _high, _busy, repeat = pieces[index]
            if low < y:
                total += y - low if repeat is None else repeat.covered(code, y)
        return total

    def covered(self, code: Code, y: int) -> int:
        """Busy cycles of ``code`` over all the repeats before cycle ``y``."""
        low, high = self.extent[code]
        if y <= low:
            return 0
        if y >= high:
            return self.busy[code]
        period = self.period
        once = self._pieces[code][2][-1]
        # the repeats whose intervals all end by y, then the one y may fall inside
        whole = min(self.count, max(0, (y - (high - self.count * period)) // period))
        total = whole * once
        if whole < self.count:
            total += self._template_covered(code, y - self.shift - (whole + 1) * period)
        return total

    def expand(self, shift: int = 0) -> Iterator[Interval | Executed]:
        """Every interval of every repeat, in the order they end."""
        for k in range(1, self.count + 1):
            yield from expand(self.template, shift + self.shift + k * self.period)


def expand(items: Iterable, shift: int = 0) -> Iterator[Interval | Executed]:
    """The intervals ``items`` (intervals and repeats) stand for, each shifted by ``shift``."""
    for item in items:
        if isinstance(item, Repeat):
            yield from item.expand(shift)
        else:
            yield item.shifted(shift) if shift else item


class SpanGrid:
    """Busy cycles per span of ``width`` cycles, by code, over [0, max_spans * width); the
    width doubles (neighbouring spans merge) when something ends beyond that."""

    def __init__(self, max_spans: int = MAX_SPANS):
        if max_spans < 2 or max_spans % 2:
            raise ValueError("max_spans must be even and at least 2")
        self.max_spans = max_spans
        self.width = 1
        self.busy: dict[Code, list[int]] = {}
        self.end = 0  # the last cycle anything covers

    def _reach(self, end: int) -> None:
        while end > self.max_spans * self.width:
            self.busy = _merged(self.busy)
            self.width *= 2
        self.end = max(self.end, end)

    def _row(self, code: Code) -> list[int]:
        row = self.busy.get(code)
        if row is None:
            row = self.busy[code] = [0] * self.max_spans
        return row

    def add(self, code: Code, start: int, end: int) -> None:
        if end <= start:
            return
        if end > self.end:
            self._reach(end)
        row = self._row(code)
        width = self.width
        first, last = start // width, (end - 1) // width
        if first == last:
            row[first] += end - start
            return
        row[first] += (first + 1) * width - start
        for span in range(first + 1, last):
            row[span] += width
        row[last] += end - last * width

    def add_repeat(self, repeat: Repeat) -> None:
        for code, (low, high) in repeat.extent.items():
            self._reach(high)
            row = self._row(code)
            width = self.width
            before = 0
            for span in range(low // width, (high - 1) // width + 1):
                upto = repeat.covered(code, min((span + 1) * width, high))
                row[span] += upto - before
                before = upto

    def spans(self, cycles: int) -> int:
        """How many spans cover [0, cycles)."""
        return max(1, -(-cycles // self.width))

    def totals(self, cycles: int) -> tuple[int, dict[Code, list[int]]]:
        """The span width and each code's busy cycles per span over [0, cycles), as few spans
        as cover it (wider ones, merged from these, if ``cycles`` is beyond max_spans spans)."""
        width, rows = self.width, self.busy
        while cycles > self.max_spans * width:
            rows = _merged(rows)
            width *= 2
        spans = max(1, -(-cycles // width))
        return width, {code: row[:spans] for code, row in rows.items()}


def _merged(rows: dict[Code, list[int]]) -> dict[Code, list[int]]:
    """Each pair of neighbouring spans as one: the first half of the spans, the rest empty."""
    merged = {}
    for code, row in rows.items():
        half = len(row) // 2
        merged[code] = [row[2 * j] + row[2 * j + 1] for j in range(half)] + [0] * half
    return merged


@dataclass
class Recorder:
    """Records a run (see the module's docstring): ``exact`` holds the intervals and repeats
    kept one by one, ``grid`` every interval's busy cycles per span."""

    exact_budget: int = EXACT_BUDGET
    max_spans: int = MAX_SPANS
    window: int = WINDOW
    tracks: list[tuple[str, str]] = field(default_factory=list)  # every unit's track, used or not
    exact: list = field(default_factory=list)  # intervals and repeats, in the order they end
    exact_intervals: int = 0  # the intervals ``exact`` stands for
    exact_until: int | None = None  # None, or the end of the first interval not kept exactly
    intervals_recorded: int = 0  # every interval of the run, repeats counted by their instances
    repeated_intervals: int = 0  # of which fast-forward skipped (recorded as repeats)
    repeats: int = 0  # skips recorded
    grid: SpanGrid = field(init=False)

    def __post_init__(self):
        self.grid = SpanGrid(self.max_spans)
        self._codes: dict[tuple, Code] = {}
        self._recent: list = []  # the latest items, for fast-forward to repeat
        self._recent_base = 0  # the mark of _recent[0]

    # -- what the simulator calls ---------------------------------------------------------

    def declare(self, group: str, lane: str) -> None:
        self.tracks.append((group, lane))

    def instruction(self, core: str, queue: str, instruction: Instruction, start: int, end: int) -> None:
        self._add(Executed((core, queue), instruction, start, end))

    def link_segment(self, link: str, start: int, end: int, active: int) -> None:
        name = "1 transfer" if active == 1 else f"{active} transfers"
        self._add(Interval(("links", link), name, start, end, (("active", active),)))

    def stall(self, core: str, cause: str, start: int, end: int) -> None:
        self._add(Interval((core, "control"), f"wait: {cause}", start, end, (("cause", cause),)))

    def code(self, interval: Interval | Executed) -> Code:
        key = (interval.track, interval.identity)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = (interval.track, kind_of_work(interval))
        return code

    def _add(self, interval: Interval | Executed) -> None:
        self.intervals_recorded += 1
        self.grid.add(self.code(interval), interval.start, interval.end)
        self._remember(interval)
        if self.exact_until is None:
            if self.exact_intervals < self.exact_budget:
                self.exact.append(interval)
                self.exact_intervals += 1
            else:
                self.exact_until = interval.end

    def _remember(self, item) -> None:
        recent = self._recent
        recent.append(item)
        if len(recent) > self.window:
            dropped = len(recent) - self.window // 2
            del recent[:dropped]
            self._recent_base += dropped

    # -- what fast-forward calls (the SkipListener protocol) ------------------------------

    def mark(self) -> int:
        return self._recent_base + len(self._recent)

    def can_repeat(self, mark: int) -> bool:
        return mark >= self._recent_base

    def repeat(self, start: int, end: int, period: int, periods: int, offset: int) -> None:
        template = tuple(self._recent[start - self._recent_base:end - self._recent_base])
        if not template:
            return
        repeat = Repeat(template, period, periods, self.code, offset)
        self.repeats += 1
        self.intervals_recorded += repeat.instances
        self.repeated_intervals += repeat.instances
        self.grid.add_repeat(repeat)
        self._remember(repeat)
        if self.exact_until is not None:
            return
        room = self.exact_budget - self.exact_intervals
        if repeat.instances <= room:
            self.exact.append(repeat)
            self.exact_intervals += repeat.instances
            return
        # keep the whole repeats that fit, then the first intervals of the next one
        per_period = repeat.instances // periods
        whole = room // per_period
        if whole:
            self.exact.append(Repeat(template, period, whole, self.code, offset))
        rest = room - whole * per_period
        partial = list(islice(expand(template, offset + (whole + 1) * period), rest + 1))
        self.exact += partial[:rest]
        self.exact_intervals += room
        self.exact_until = partial[rest].end

    # -- what readers use -----------------------------------------------------------------

    @property
    def intervals(self) -> list[Interval | Executed]:
        """The exact part, every interval one by one, in the order they ended."""
        return list(expand(self.exact))

    @property
    def complete(self) -> bool:
        """True if the exact part holds every interval of the run."""
        return self.exact_until is None

    @property
    def end(self) -> int:
        """The last cycle any recorded interval covers."""
        return self.grid.end

    def summary(self) -> dict:
        """What was kept exactly and what was aggregated (a trace's metadata says it)."""
        return {
            "intervals": self.intervals_recorded,
            "exact_intervals": self.exact_intervals,
            "exact_until_cycle": self.exact_until,
            "aggregated_intervals": self.intervals_recorded - self.exact_intervals,
            "span_cycles": self.grid.width,
            "fast_forwarded_intervals": self.repeated_intervals,
            "fast_forward_skips": self.repeats,
        }

    def describe(self) -> str:
        """The summary in words, for a figure or a report."""
        total = self.intervals_recorded
        stretches = "stretch" if self.repeats == 1 else "stretches"
        repeated = (f"; {self.repeated_intervals:,} of them in {self.repeats:,} fast-forwarded {stretches}, "
                    "recorded as repeats" if self.repeats else "")
        if self.complete:
            return f"{total:,} intervals, every one recorded exactly{repeated}"
        return (f"{total:,} intervals: the first {self.exact_intervals:,} (every one that ended before cycle "
                f"{self.exact_until:,}) exactly, all of them as busy cycles per span of "
                f"{self.grid.width:,} cycles{repeated}")

    def lanes(self) -> list[tuple[str, str]]:
        """Every declared track and any recorded one, in the order first seen."""
        seen = dict.fromkeys(self.tracks)
        for track, _kind in self.grid.busy:
            seen.setdefault(track, None)
        return list(seen)


# (core, line) of an instruction -> why its intervals are marked (a data hazard it is part of)
Marks = dict[tuple[str, int], tuple[str, ...]]


def _trace_lanes(recorder: Recorder) -> tuple[dict[str, int], dict[tuple[str, str], int], list[dict]]:
    """Process and thread ids: cores first, in the order they were built, then the links."""
    groups: dict[str, int] = {}
    lanes: dict[tuple[str, str], int] = {}
    events: list[dict] = []
    for group, lane in sorted(recorder.lanes(), key=lambda track: track[0] == "links"):
        if group not in groups:
            groups[group] = len(groups) + 1
            events.append({"ph": "M", "name": "process_name", "pid": groups[group], "tid": 0,
                           "args": {"name": group}})
        if (group, lane) not in lanes:
            lanes[(group, lane)] = len(lanes) + 1
            events.append({"ph": "M", "name": "thread_name", "pid": groups[group],
                           "tid": lanes[(group, lane)], "args": {"name": lane}})
    return groups, lanes, events


def _trace_events(recorder: Recorder, clock_hz: int | Fraction, marks: Marks) -> Iterator[dict]:
    microseconds_per_cycle = Fraction(10**6) / Fraction(clock_hz)
    groups, lanes, events = _trace_lanes(recorder)
    yield from events
    for interval in sorted(expand(recorder.exact), key=lambda i: (i.start, lanes[i.track], i.end)):
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
        yield event
    if recorder.complete:
        return
    # the whole run, aggregated: per lane, a counter of the busy fraction of each kind per span
    end = recorder.end
    width, rows = recorder.grid.totals(end)
    by_lane: dict[tuple[str, str], dict[str, list[int]]] = {}
    for (track, kind), row in rows.items():
        by_lane.setdefault(track, {})[kind] = row
    for span in range(-(-end // width)):
        start = span * width
        cycles = min(width, end - start)
        for track in sorted(by_lane, key=lambda track: lanes[track]):
            yield {"ph": "C", "name": f"{track[1]} busy (aggregated)", "pid": groups[track[0]],
                   "ts": float(start * microseconds_per_cycle),
                   "args": {kind: round(row[span] / cycles, 6) for kind, row in by_lane[track].items()}}


def chrome_trace(recorder: Recorder, clock_hz: int | Fraction, metadata: dict,
                 marks: Marks | None = None) -> dict:
    """Trace-event JSON: times in microseconds of simulated time at the machine's clock. The
    executions of the instructions in ``marks`` carry the reasons (``"hazards"``) and are drawn
    in the viewers' alarm colour; ``recording`` in the metadata says what was kept exactly."""
    return {"traceEvents": list(_trace_events(recorder, clock_hz, marks or {})), "displayTimeUnit": "ns",
            "otherData": {**metadata, "recording": recorder.summary()}}


def write_chrome_trace(path: str, recorder: Recorder, clock_hz: int | Fraction, metadata: dict,
                       marks: Marks | None = None) -> None:
    """The same as chrome_trace(), written one event at a time (a trace can be large)."""
    with open(path, "w", encoding="utf-8") as file:
        file.write('{"traceEvents":[')
        for index, event in enumerate(_trace_events(recorder, clock_hz, marks or {})):
            if index:
                file.write(",")
            file.write(json.dumps(event, separators=(",", ":")))
        tail = {"displayTimeUnit": "ns", "otherData": {**metadata, "recording": recorder.summary()}}
        file.write("]," + json.dumps(tail, separators=(",", ":"))[1:])
        file.write("\n")
