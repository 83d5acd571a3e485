"""A Gantt chart of a run: every core's queues and control unit, and every link, over time.

``build_timeline`` turns a run's :class:`~dlpsim.sim.trace.Recorder` into lanes (one per
issue queue, one per control unit for its waits, one per link) and either

- **exact** bars, one per instruction, wait or link segment, when the recorder kept every
  interval of the run and there are at most ``max_bars`` of them (a few hundred
  instructions), or
- **aggregated** busy fractions: the recorder's spans of equal cycles (between 256 and 512
  of them over the run), and each lane shows, per span, the fraction of its cycles spent on
  each kind of work, stacked in the lane's height (a full-height strip is a lane busy the
  whole span). The recorder adds every interval to its spans as it records it, and a
  fast-forwarded stretch in closed form, so the chart costs the same whatever the run's length.

Bars are coloured by kind (dlpsim.sim.trace.kind_of_work): MAC vs vector compute, DRAM loads vs
stores, on-chip moves vs SharedRAM copies, the control unit's waits (sync, barrier, full queue),
and on the links how many transfers share the link. The title says what the recorder kept
exactly and what it aggregated. Building the data needs numpy only; ``draw_timeline`` imports
matplotlib when called and draws on a plain Figure (Agg canvas, no display).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from dlpsim.sim.stats import Stats
from dlpsim.sim.trace import MAX_LINK_SHARES, Executed, Interval, Marks, Recorder, expand, kind_of_work
from dlpsim.units import format_frequency, format_seconds, time_unit

MAX_EXACT_BARS = 2000  # more recorded intervals than this: aggregate
MARKED_RUNS = 3  # executions outlined per instruction in a data hazard: a loop repeats the rest
HAZARD_COLOUR = "#d4007f"  # magenta: no work category uses it

# category -> (legend label, colour), in legend and stacking order
CATEGORIES: dict[str, tuple[str, str]] = {
    "mac": ("compute: MAC (matrix unit)", "#3170b8"),
    "vector": ("compute: ADD/SUB/MUL/DIV (vector unit)", "#8d5cc0"),
    "load": ("io: load from DRAM", "#3b9c4a"),
    "store": ("io: store to DRAM", "#ec8a2c"),
    "move": ("move: NRAM <-> WRAM", "#22a9b8"),
    "shared": ("move: SharedRAM copy", "#9a6a3c"),
    "issuing": ("control: issuing", "#b0b0b0"),
    "queue_full": ("control: stalled, queue full", "#d6403a"),
    "sync": ("control: waiting at sync", "#f3d98f"),
    "barrier": ("control: waiting at barrier", "#eb94cc"),
    "link1": ("link: 1 transfer", "#bdbdbd"),
    "link2": ("link: 2 transfers share it", "#8f8f8f"),
    "link3": ("link: 3 transfers share it", "#666666"),
    "link4": ("link: 4 transfers share it", "#404040"),
    "link5": (f"link: {MAX_LINK_SHARES} or more share it", "#161616"),
    "other": ("other", "#e0e0e0"),
}
_ORDER = {name: index for index, name in enumerate(CATEGORIES)}


@dataclass(frozen=True)
class Lane:
    group: str  # core0, core1, ..., mem, or "links"
    name: str  # compute, io, move, control, or the link's name

    @property
    def track(self) -> tuple[str, str]:
        return (self.group, self.name)

    @property
    def label(self) -> str:
        return f"link {self.name}" if self.group == "links" else f"{self.group} {self.name}"


@dataclass(frozen=True)
class Bar:
    lane: int  # index into Timeline.lanes
    start: int
    end: int
    category: str


@dataclass(frozen=True, eq=False)
class Timeline:
    title: str
    cycles: int
    clock_hz: int | Fraction
    complete: bool
    lanes: tuple[Lane, ...]
    intervals: int  # recorded intervals the chart covers
    mode: str  # "exact" or "aggregated"
    recording: str = ""  # what the recorder kept exactly and what it aggregated, in words
    bars: tuple[Bar, ...] = ()  # exact mode
    edges: np.ndarray | None = None  # aggregated mode: span edges in cycles (integers)
    span_cycles: int = 0  # aggregated mode: the width of a span (the last may be shorter)
    # aggregated mode: (lane, category) -> busy fraction of each span
    fractions: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    used: tuple[str, ...] = ()  # categories present, in CATEGORIES order
    busy_cycles: tuple[int, ...] = ()  # per lane: cycles covered by its intervals
    # (lane, start, end) of the first executions of each instruction in a data hazard (a run with
    # --allow-hazards), outlined in red in either mode so both sides of each race can be found
    marked: tuple[tuple[int, int, int], ...] = ()

    @property
    def busy_lanes(self) -> frozenset[int]:
        """The lanes with at least one interval."""
        return frozenset(lane for lane, busy in enumerate(self.busy_cycles) if busy)


# The kind of work an interval shows, as the key of CATEGORIES (one rule: the recorder's).
category = kind_of_work


def _lanes(recorder: Recorder) -> tuple[Lane, ...]:
    """Every declared track and any recorded one: the cores in build order, then the links."""
    groups: dict[str, list[str]] = {}
    for group, lane in recorder.lanes():
        groups.setdefault(group, []).append(lane)
    order = {"compute": 0, "io": 1, "move": 2, "control": 3}
    lanes = []
    for group in sorted(groups, key=lambda g: g == "links"):  # stable: cores keep their order
        names = groups[group]
        if group != "links":
            names = sorted(names, key=lambda name: order.get(name, len(order)))
        lanes.extend(Lane(group, name) for name in names)
    return tuple(lanes)


def _marked(exact: list[Interval | Executed], index: dict[tuple[str, str], int], marks: Marks) -> tuple:
    """The first MARKED_RUNS executions of each marked instruction: (lane, start, end)."""
    seen: dict[tuple[str, int], int] = {}
    found = []
    for interval in exact:
        if isinstance(interval, Executed) and interval.mark_key in marks:
            runs = seen.get(interval.mark_key, 0)
            if runs < MARKED_RUNS:
                seen[interval.mark_key] = runs + 1
                found.append((index[interval.track], interval.start, interval.end))
    return tuple(sorted(found))


def build_timeline(recorder: Recorder, stats: Stats, *, title: str | None = None,
                   max_bars: int = MAX_EXACT_BARS, marks: Marks | None = None) -> Timeline:
    """The chart's data: exact bars if the recorder kept every interval and there are at most
    ``max_bars``, else its spans; the instructions in ``marks`` (data hazards) outlined where
    the recorder kept them exactly."""
    lanes = _lanes(recorder)
    index = {lane.track: i for i, lane in enumerate(lanes)}
    cycles = max(stats.cycles, recorder.end)
    if title is None:
        title = f"{stats.program} on {stats.machine}"
    width, rows = recorder.grid.totals(cycles)
    busy = [0] * len(lanes)
    present = set()
    for (track, kind), row in rows.items():
        total = sum(row)
        busy[index[track]] += total
        if total:
            present.add(kind)
    marks = marks or {}
    exact_mode = recorder.complete and recorder.exact_intervals <= max_bars
    exact = list(expand(recorder.exact)) if exact_mode or marks else []
    common = dict(title=title, cycles=cycles, clock_hz=stats.clock_hz, complete=stats.complete,
                  lanes=lanes, intervals=recorder.intervals_recorded, recording=recorder.describe(),
                  used=tuple(kind for kind in CATEGORIES if kind in present), busy_cycles=tuple(busy),
                  marked=_marked(exact, index, marks))
    if exact_mode:
        bars = sorted((index[interval.track], interval.start, interval.end, category(interval))
                      for interval in exact if interval.end > interval.start)
        return Timeline(mode="exact", bars=tuple(Bar(*bar) for bar in bars), **common)
    spans = -(-cycles // width) if cycles else 1
    edges = np.minimum(np.arange(spans + 1, dtype=np.int64) * width, cycles)
    widths = np.maximum(np.diff(edges), 1).astype(np.float64)
    fractions = {(index[track], kind): np.asarray(row, dtype=np.float64) / widths
                 for (track, kind), row in rows.items() if any(row)}
    return Timeline(mode="aggregated", edges=edges, span_cycles=width, fractions=fractions, **common)


# -- drawing ----------------------------------------------------------------------------------

def _darker(colour: str, factor: float = 0.6) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return tuple(channel * factor for channel in to_rgb(colour))


def figure_size(timeline: Timeline) -> tuple[float, float]:
    """Inches: 13 wide, a fixed part for titles, axes and legend, and a third of an inch a lane."""
    legend_rows = -(-len(timeline.used) // 5)
    return 13.0, 1.9 + 0.34 * len(timeline.lanes) + 0.25 * legend_rows


def draw_timeline(timeline: Timeline, figure=None):
    """Draw the chart on ``figure`` (a new headless matplotlib Figure if None) and return it."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if figure is None:
        figure = Figure(figsize=figure_size(timeline), layout="constrained")
    ax = figure.add_subplot()
    lanes = timeline.lanes
    height = 0.72
    span = max(1, timeline.cycles)

    if timeline.mode == "exact":
        spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for bar in timeline.bars:
            spans.setdefault((bar.lane, bar.category), []).append((bar.start, bar.end - bar.start))
        for (lane, kind), ranges in spans.items():
            colour = CATEGORIES[kind][1]
            # a dark outline marks each bar's ends and keeps bars of a cycle or two visible
            ax.broken_barh(ranges, (lane - height / 2, height), facecolors=colour,
                           edgecolors=[_darker(colour)], linewidth=0.6)
    else:
        from matplotlib.collections import PolyCollection

        edges = timeline.edges.astype(np.float64)
        ax.add_collection(PolyCollection(
            [[(0, lane - height / 2), (span, lane - height / 2), (span, lane + height / 2),
              (0, lane + height / 2)] for lane in range(len(lanes))],
            facecolors="#f4f4f4", edgecolors="none", zorder=0.5), autolim=False)
        polygons: dict[str, list[np.ndarray]] = {kind: [] for kind in timeline.used}
        for lane in range(len(lanes)):
            bottom = np.full(len(edges) - 1, lane + height / 2, dtype=np.float64)
            for kind in timeline.used:
                fraction = timeline.fractions.get((lane, kind))
                if fraction is None:
                    continue
                top = bottom - fraction * height  # the y axis is inverted: lanes grow upwards
                polygons[kind].append(_band(edges, bottom, top))
                bottom = top
        for kind, bands in polygons.items():
            ax.add_collection(PolyCollection(bands, facecolors=CATEGORIES[kind][1], edgecolors="none",
                                             linewidths=0), autolim=False)

    # lanes top to bottom, a rule between cores and before the links
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_yticks(range(len(lanes)), [lane.label for lane in lanes])
    for lane, label in enumerate(ax.get_yticklabels()):
        if lane not in timeline.busy_lanes:
            label.set_color("#9a9a9a")
    # each lane's share of the run at the right: busy queues and links, waiting control units
    for lane, busy in enumerate(timeline.busy_cycles):
        ax.text(1.004, lane, f"{100 * busy / span:.1f}%", transform=ax.get_yaxis_transform(),
                va="center", ha="left", fontsize=9, color="#333333" if busy else "#9a9a9a")
    ax.text(1.004, -0.5, "of run", transform=ax.get_yaxis_transform(), va="bottom", ha="left",
            fontsize=8, color="#555555")
    for lane in range(1, len(lanes)):
        if lanes[lane].group != lanes[lane - 1].group:
            ax.axhline(lane - 0.5, color="#555555", linewidth=0.8)
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(0, span)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_xlabel("cycle")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)

    seconds_per_cycle = 1.0 / float(timeline.clock_hz)
    unit, scale = time_unit(span * seconds_per_cycle)
    top_axis = ax.secondary_xaxis("top", functions=(lambda c: c * seconds_per_cycle / scale,
                                                     lambda t: t * scale / seconds_per_cycle))
    top_axis.set_xlabel(f"time at {format_frequency(timeline.clock_hz)} ({unit})")

    seconds = Fraction(timeline.cycles) / Fraction(timeline.clock_hz)
    headline = f"{timeline.title}: {timeline.cycles:,} cycles = {format_seconds(seconds)}"
    if not timeline.complete:
        headline += " (INCOMPLETE: stopped at the cycle limit)"
    if timeline.mode == "exact":
        detail = f"every instruction, wait and link segment ({timeline.intervals:,} bars)"
    else:
        detail = (f"busy fraction of each lane per span of {timeline.span_cycles:,} cycles (strip height = "
                  f"fraction busy)\nrecorded: {timeline.recording}")
    ax.set_title(f"{headline}\n{detail}", fontsize=11 if timeline.mode == "exact" else 10)

    if timeline.marked:
        from matplotlib.patches import Rectangle

        for lane, start, end in timeline.marked:
            ax.add_patch(Rectangle((start, lane - height / 2 - 0.06), max(end - start, span / 800),
                                   height + 0.12, facecolor="none", edgecolor=HAZARD_COLOUR,
                                   linewidth=1.6, zorder=5))
    handles = [Patch(facecolor=CATEGORIES[kind][1], edgecolor=_darker(CATEGORIES[kind][1]),
                     linewidth=0.6, label=CATEGORIES[kind][0]) for kind in timeline.used]
    if timeline.marked:
        handles.append(Patch(facecolor="none", edgecolor=HAZARD_COLOUR, linewidth=1.6,
                             label=f"in a data hazard (first {MARKED_RUNS} runs of each)"))
    if handles:
        rows = -(-len(handles) // 5)
        figure.legend(handles=handles, loc="outside lower center", ncols=-(-len(handles) // rows),
                      frameon=False, fontsize=9)
    return figure


def _band(edges: np.ndarray, bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The outline of the step-shaped band between ``bottom`` and ``top`` over the spans."""
    x = np.repeat(edges, 2)[1:-1]  # e0 e1 e1 e2 e2 ... eN
    upper = np.column_stack((x, np.repeat(top, 2)))
    lower = np.column_stack((x[::-1], np.repeat(bottom, 2)[::-1]))
    return np.concatenate((upper, lower))


def write_timeline(timeline: Timeline, path: str) -> None:
    """Draw the chart and write it to ``path``; the format follows the extension."""
    from dlpsim.analysis.imagefile import image_format, save_figure

    image_format(path, "timeline")  # refuse an unknown extension before drawing
    save_figure(draw_timeline(timeline), path, "timeline")


def show_timeline(timeline: Timeline) -> None:
    """Open the chart in a window (the only place pyplot is used; only on --show)."""
    import matplotlib.pyplot as pyplot

    draw_timeline(timeline, pyplot.figure(figsize=figure_size(timeline), layout="constrained"))
    pyplot.show()
