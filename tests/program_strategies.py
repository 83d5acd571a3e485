"""Hypothesis strategies for valid dlpsim programs, shared by the fuzz and reference-model tests.

``valid_runs()`` draws a program that the assembler accepts and the machine can run
(every size fits its memories, every core reaches the same number of barriers),
together with the preset and the ``--set`` overrides it runs under. Programs stay
small (a few thousand cycles), so a cycle-by-cycle model can run them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

COMPUTE_TYPES = ("MAC_32", "MAC_16", "ADD_32", "ADD_16", "SUB_32", "SUB_16", "MUL_32", "MUL_16",
                 "DIV_32", "DIV_16", "MAX_32", "MIN_16", "TANH_32", "GELU_16", "RSQRT_32")


@dataclass(frozen=True)
class Run:
    """A program text and the machine options to run it with."""

    text: str
    preset: str
    overrides: tuple[str, ...]

    def describe(self) -> str:
        options = " ".join(f"--set {o}" for o in self.overrides)
        return f"--preset {self.preset} {options}\n{self.text}"


def _size(draw) -> str:
    """A transfer size, sometimes written as a product, in hex or with a suffix."""
    size = draw(st.integers(1, 5000))
    form = draw(st.sampled_from(["plain", "plain", "hex", "product"]))
    if form == "hex":
        return hex(size)
    if form == "product" and size % 4 == 0:
        return f"{size // 4}*4"
    return str(size)


SHORT_TRIPS = st.integers(0, 3)
# Trip counts long enough for a loop to settle into a steady state and repeat it.
LONG_TRIPS = st.integers(0, 3) | st.integers(4, 400)


# Nests four deep with counts small enough for an event-by-event run, large enough for every
# level to settle and repeat (so fast-forward skips at the outer levels too).
NEST_TRIPS = st.integers(0, 3) | st.integers(4, 9)
NEST_DEPTH = 4


@st.composite
def _body(draw, depth: int, memory_core: bool, shared: bool, trips=SHORT_TRIPS,
          max_depth: int = 2) -> list[str]:
    """A few statements without barriers (so every core's barrier count is set by the caller),
    with loops nested at most ``max_depth`` deep."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["move", "move", "compute", "compute", "sync", "loop"]))
        if kind == "loop" and depth < max_depth:
            lines.append(f"loop {draw(trips)}")
            lines += draw(_body(depth + 1, memory_core, shared, trips, max_depth))
            lines.append("endloop")
        elif kind == "sync":
            lines.append("sync")
        elif memory_core:
            source, destination = draw(st.permutations(["DRAM", "SharedRAM"]))
            lines.append(f"move {source} {destination} {_size(draw)}")
        elif kind == "compute":
            lines.append(f"compute {draw(st.sampled_from(COMPUTE_TYPES))} {draw(st.integers(1, 3000))}")
        else:
            memories = ["DRAM", "NRAM", "WRAM"] + (["SharedRAM"] if shared else [])
            source, destination = draw(st.permutations(memories))[:2]
            offset = ""
            if destination in ("NRAM", "WRAM") and draw(st.booleans()):
                address = draw(st.integers(0, 64 * 1024))
                # Addresses only on loads from DRAM: they all go to the io queue, which runs them
                # in order, so these programs have no data hazards (tests/test_hazards.py draws
                # those). The draws stay those of every move into NRAM or WRAM, so the examples,
                # and how long they take, are what they were before the hazard check.
                if source == "DRAM":
                    offset = f"[{hex(address)}]"
            lines.append(f"move {source} {destination}{offset} {_size(draw)}")
    return lines


# Overrides that change the timing, each with values that keep runs short.
_TIMING_OVERRIDES = {
    "dram.bandwidth": st.sampled_from(["12.8GB/s", "64GB/s", "50GB/s", "7GB/s", "100GB/s", "1000GB/s"]),
    "dram.latency": st.integers(0, 5),
    "core.issue_cycles": st.integers(0, 3),
    "core.queue_depth": st.integers(1, 3),
    "core.matrix.latency": st.integers(0, 4),
    "core.matrix.macs_per_cycle": st.sampled_from([256, 100, 3]),
    "core.vector.latency": st.integers(0, 4),
    "core.local.bandwidth": st.sampled_from(["256GB/s", "33GB/s"]),
    "core.local.latency": st.integers(0, 3),
    "clock.frequency": st.sampled_from(["1GHz", "1.5GHz", "700MHz"]),
}
_SHARED_OVERRIDES = {
    "shared.latency": st.integers(0, 4),
    "shared.bandwidth": st.sampled_from(["1TB/s", "20GB/s"]),
}


@st.composite
def valid_runs(draw, trips=SHORT_TRIPS, max_depth: int = 2) -> Run:
    """``trips`` draws the loops' trip counts: LONG_TRIPS for programs that fast-forward, NEST_TRIPS
    with ``max_depth=NEST_DEPTH`` for nests."""
    multi = draw(st.booleans())
    overrides = []
    options = {**_TIMING_OVERRIDES, **(_SHARED_OVERRIDES if multi else {})}
    for key in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
        overrides.append(f"{key}={draw(options[key])}")
    if not multi:
        text = "\n".join(draw(_body(0, False, False, trips, max_depth))) + "\n"
        return Run(text, "dlp-s", tuple(overrides))

    cores = draw(st.integers(2, 4))
    if cores != 4:
        overrides.append(f"core.count={cores}")
    # Each selected group of cores gets the same skeleton of barriers: bodies separated by
    # a barrier, or by a loop (the same trip count for every core) ending in a barrier.
    separators = draw(st.lists(trips | st.none(), max_size=2))
    groups = draw(st.sampled_from(["each", "all"]))
    selectors = [str(i) for i in range(cores)] if groups == "each" else ["all"]
    selectors = [s for s in selectors + ["mem"] if draw(st.integers(0, 4)) > 0]
    lines = [".machine dlp-m"]
    for selector in selectors:
        memory_core = selector == "mem"
        lines.append(f".core {selector}")
        for index in range(len(separators) + 1):
            lines += draw(_body(0, memory_core, True, trips, max_depth))
            if index == len(separators):
                break
            separator = separators[index]
            if separator is None:
                lines.append("barrier")
            else:
                lines.append(f"loop {separator}")
                lines += draw(_body(1, memory_core, True, trips, max_depth))
                lines += ["barrier", "endloop"]
    return Run("\n".join(lines) + "\n", "dlp-m", tuple(overrides))
