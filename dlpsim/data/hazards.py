"""The static data-hazard check (contract v2, "Data: operands, hazards and functional execution").

Two accesses conflict when their byte regions overlap in the same memory instance (NRAM and
WRAM are per core, SharedRAM is the cluster's, DRAM the chip's) and at least one writes. A
conflicting pair is a hazard unless one instruction happens before the other:

- on one core, when both use the same queue (it runs them in order) or a ``sync`` or
  ``barrier`` lies between them in the dynamic stream;
- across cores, when they lie in different barrier epochs (epoch k of a core is what it
  issues between its k-th and (k+1)-th barrier).

The check is exact without expanding loops, from two facts.

One core: the stream falls into *segments* between syncs and barriers, and two instructions
are unordered exactly when they lie in one segment and use different queues. Addresses do not
depend on the iteration, so a loop's iterations only ever add the same segments again: a loop
whose body has no sync puts all its iterations in one segment, where (with two iterations or
more) every pair of its instructions occurs in both orders; a loop whose body has one adds the
segments of its body and, with two iterations or more, the segment joining the end of one
iteration to the start of the next. Each distinct segment is checked once, so a loop costs the
same whatever its count; this is what examining two iterations gives (tests/test_hazards.py
proves it against brute-force expansion).

Across cores: only SharedRAM and DRAM are shared. Each core's epochs are summarised by the set
of instructions that address them; a loop containing barriers makes its summaries repeat with
the loop's period, so the sequences are kept as repeated patterns, walked in step across the
cores (one period of the common period is enough where every core repeats), and each distinct
combination of summaries is compared once.

Loops with an index (``loop N as t``) whose operands use it break the first fact: their
iterations touch other addresses. First a quick proof settles most memories: an operand's
*hull* is the span of bytes it covers over all the iterations of its loops; on a memory
instance where no two hulls of different groups (a queue on a core), one of them written,
overlap, no two accesses can race, whatever the order (a compiler's DRAM: inputs and weights
only read, each core's output tiles in a range of their own). On the other memories, each
loop whose index an operand there uses is unrolled, its iterations resolved to constant
addresses (other loops stay loops, however large), so everything above applies to the result
unchanged and stays exact: an operand that still moves with a loop index lies on a proven
memory, where its first iteration's region, inside its hull, cannot race either. The unrolled
stream's size is computed first and refused beyond UNROLLED_BUDGET instructions, naming the
loop.

Each pair of program lines is reported once per kind (RAW, WAR, WAW), however many iterations
or cores repeat it. An access without an address is unchecked, never guessed.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from math import lcm
from typing import NamedTuple

from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import (
    Access,
    Barrier,
    Compute,
    CoreId,
    Instruction,
    Move,
    Program,
    Repeat,
    Statement,
    Sync,
    accesses,
    is_affine,
    normalised,
    operands_of,
    resolved,
    walk,
    walk_with_counts,
)
from dlpsim.errors import ProgramError, SourceLocation
from dlpsim.machine import MachineConfig
from dlpsim.results import QueueKind
from dlpsim.sim.check import bind
from dlpsim.sim.control import queue_kind

# Hazards printed in an error or a summary; --json carries them all.
PRINTED_HAZARDS = 10
# Instructions that unrolling the loops whose operands use their index may produce, per core:
# the check takes about 3 seconds per 10^5 of them (benchmarks/hazards.py, the unrolled row),
# and memory in proportion, so at most about 15 seconds.
UNROLLED_BUDGET = 500_000

SHARED_MEMORIES = (Memory.SHARED, Memory.DRAM)


class HazardKind(StrEnum):
    RAW = "RAW"  # the later instruction reads what the earlier one writes
    WAR = "WAR"  # the later one writes what the earlier one reads
    WAW = "WAW"  # both write


def _kind(earlier_writes: bool, later_writes: bool) -> HazardKind:
    if earlier_writes and later_writes:
        return HazardKind.WAW
    return HazardKind.RAW if earlier_writes else HazardKind.WAR


@dataclass(frozen=True)
class HazardSide:
    """One instruction of a hazard and what it does to the shared bytes."""

    core: str  # "core0", ..., or "mem"
    location: SourceLocation
    instruction: str  # as the listing prints it
    queue: str  # "compute", "io" or "move"
    role: str  # the operand: "source", "destination", "A", "B" or "C"
    writes: bool

    def describe(self) -> str:
        """``writes its destination``, ``reads operand A``."""
        verb = "writes" if self.writes else "reads"
        return f"{verb} {'its' if self.role in ('source', 'destination') else 'operand'} {self.role}"

    def to_dict(self) -> dict:
        return {"core": self.core, "line": self.location.line, "column": self.location.column,
                "instruction": self.instruction, "queue": self.queue, "role": self.role,
                "writes": self.writes}


@dataclass(frozen=True)
class Hazard:
    """Two instructions that may touch the same bytes in either order, one of them writing.

    ``earlier`` comes first in the dynamic stream of one core, or across cores in (core, line)
    order; ``kind`` is said from the earlier one's side (RAW: the later reads what it writes).
    """

    kind: HazardKind
    memory: Memory
    instance: str  # "NRAM.0", "WRAM.3", "SharedRAM" or "DRAM"
    region: tuple[int, int]  # the bytes [start, end) both touch
    earlier: HazardSide
    later: HazardSide

    @property
    def lines(self) -> tuple[int, int]:
        return self.earlier.location.line, self.later.location.line

    @property
    def bytes_text(self) -> str:
        return f"{self.memory.value}[{self.region[0]:#x}:{self.region[1]:#x})"

    def message(self, name_cores: bool) -> str:
        """The error's text, at the later instruction: ``RAW hazard on NRAM[0x0:0x400): line 5
        (compute queue, reads operand A) may run while line 4 (io queue, writes its destination)
        is in flight; ...``. ``name_cores`` when several cores run."""
        earlier, later = self.earlier, self.later
        same_core = earlier.core == later.core

        def side(instruction: HazardSide, extra: str = "") -> str:
            core = f"{instruction.core}, " if name_cores else ""
            return (f"line {instruction.location.line} ({core}{instruction.queue} queue, "
                    f"{instruction.describe()}{extra})")

        # On one core, an earlier instruction further down the text ran in an earlier iteration.
        loop_carried = same_core and earlier.location.line >= later.location.line
        carried = ", an earlier iteration" if loop_carried else ""
        why = ("different queues, no sync or barrier between" if same_core
               else "different cores, no barrier between")
        return (f"{self.kind} hazard on {self.bytes_text}: {side(later)} may run while "
                f"{side(earlier, carried)} is in flight; nothing orders them: {why}")

    def note(self) -> str:
        """The line shown at the earlier instruction."""
        verb = "writes" if self.earlier.writes else "reads"
        return (f"{self.earlier.location}: note: line {self.earlier.location.line} {verb} "
                f"{self.bytes_text} here: {self.earlier.instruction}")

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "memory": self.instance,
                "region": [self.region[0], self.region[1]],
                "lines": [self.earlier.location.line, self.later.location.line],
                "cores": [self.earlier.core, self.later.core],
                "earlier": self.earlier.to_dict(), "later": self.later.to_dict()}


@dataclass(frozen=True)
class HazardReport:
    """What the check found, and how much of the program it could check.

    ``checked`` counts the program's move and compute instructions (lines of text, each
    counted once however often it is issued and on however many cores) that are issued at
    least once and whose every access has an address; ``unchecked`` those issued at least once
    with some access without an address, computes naming no operands included.
    """

    file: str
    hazards: tuple[Hazard, ...]
    checked: int
    unchecked: int
    name_cores: bool  # more than one core runs: messages say which

    def to_dict(self) -> dict:
        return {"hazards": [hazard.to_dict() for hazard in self.hazards],
                "instructions_checked": self.checked, "instructions_unchecked": self.unchecked}

    def summary(self) -> str:
        """One line: ``data hazards: none; 82 instructions checked, 19 unchecked (operands
        without addresses)``."""
        if self.hazards:
            by_kind = [f"{sum(h.kind is kind for h in self.hazards)} {kind}" for kind in HazardKind
                       if any(h.kind is kind for h in self.hazards)]
            found = f"{len(self.hazards)} ({', '.join(by_kind)})"
        else:
            found = "none"
        unchecked = f"{self.unchecked} unchecked"
        if self.unchecked:
            unchecked += " (operands without addresses)"
        return (f"data hazards: {found}; {self.checked} instruction{'s' if self.checked != 1 else ''} "
                f"checked, {unchecked}")

    def marks(self) -> dict[tuple[str, int], tuple[str, ...]]:
        """(core, line) of every instruction in a hazard -> what it races with, in words, for the
        trace and the timeline to mark its intervals (``RAW hazard on NRAM[0x0:0x400) with line 4``)."""
        marked: dict[tuple[str, int], list[str]] = {}
        for hazard in self.hazards:
            for this, other in ((hazard.earlier, hazard.later), (hazard.later, hazard.earlier)):
                elsewhere = f" on {other.core}" if other.core != this.core else ""
                with_whom = f"line {other.location.line}{elsewhere}"
                marked.setdefault((this.core, this.location.line), []).append(
                    f"{hazard.kind} hazard on {hazard.bytes_text} with {with_whom}")
        return {key: tuple(dict.fromkeys(texts)) for key, texts in marked.items()}

    def listing(self, limit: int = PRINTED_HAZARDS) -> list[str]:
        """The first ``limit`` hazards, one line each, and how many more there are."""
        lines = [f"  {h.message(self.name_cores)}" for h in self.hazards[:limit]]
        if len(self.hazards) > limit:
            lines.append(f"  ... and {len(self.hazards) - limit} more (--json lists them all)")
        return lines


class HazardError(ProgramError):
    """A program with data hazards, refused before it runs: each hazard (at most
    PRINTED_HAZARDS) as ``file:line:col: error: ...`` with a ``note:`` at the other line, then
    the count."""

    def __init__(self, report: HazardReport):
        first = report.hazards[0]
        super().__init__(first.later.location, first.message(report.name_cores))
        self.args = (report,)
        self.report = report

    def __str__(self) -> str:
        report = self.report
        lines = []
        for hazard in report.hazards[:PRINTED_HAZARDS]:
            lines += [f"{hazard.later.location}: error: {hazard.message(report.name_cores)}", hazard.note()]
        count = len(report.hazards)
        shown = f", the first {PRINTED_HAZARDS} shown" if count > PRINTED_HAZARDS else ""
        lines.append(f"{report.file}: note: {count} data hazard{'s' if count != 1 else ''}{shown}; "
                     "--allow-hazards runs the program anyway")
        return "\n".join(lines)


# -- the check ------------------------------------------------------------------------------------

class _Access(NamedTuple):  # a tuple: made for every access of every instruction, so cheap to make
    """One addressed access of one instruction on one core."""

    instruction: int  # the instruction's number (see _Instructions)
    memory: Memory
    instance: str
    start: int
    end: int
    writes: bool
    queue: QueueKind
    role: str


class _Instructions:
    """Numbers for the program's move and compute instructions, and their addressed accesses
    per core. A number stands for a place in the text, the same on every core that runs it;
    the checks number every instruction of the normalised streams, that is every one issued."""

    def __init__(self, origins: dict[int, Move | Compute]) -> None:
        self.numbers: dict[int, int] = {}  # id(statement) -> number
        self.statements: list[Move | Compute] = []
        self.every_access: list[tuple[Access, ...]] = []  # by number, with or without an address
        self._accesses: dict[tuple[int, int], tuple[_Access, ...]] = {}  # (number, core index) ->
        # A loop iteration's resolved instruction (see _unrolled) stands for its line of text:
        # id(resolved) -> the text's instruction; place[number]: the number of that text's.
        self.origins = origins
        self.place: list[int] = []

    def number(self, statement: Move | Compute) -> int:
        number = self.numbers.get(id(statement))
        if number is None:
            number = self.numbers[id(statement)] = len(self.statements)
            self.statements.append(statement)
            self.every_access.append(accesses(statement))
            origin = self.origins.get(id(statement))
            self.place.append(number if origin is None else self.number(origin))
        return number

    def counts(self) -> tuple[int, int]:
        """(checked, unchecked): the text's instructions numbered so far by whether every access
        they make has an address (a compute naming no operands has none: unchecked)."""
        texts = [number for number, place in enumerate(self.place) if place == number]
        checked = sum(1 for number in texts
                      if self.every_access[number]
                      and all(access.region is not None for access in self.every_access[number]))
        return checked, len(texts) - checked

    def accesses(self, number: int, core: CoreId) -> tuple[_Access, ...]:
        key = (number, core.index)
        found = self._accesses.get(key)
        if found is None:
            statement = self.statements[number]
            queue = queue_kind(statement)
            found = tuple(
                _Access(number, access.operand.memory, _instance(access.operand.memory, core),
                        access.region[0], access.region[1], access.writes, queue, access.role)
                for access in self.every_access[number] if access.region is not None)
            self._accesses[key] = found
        return found

    def side(self, access: _Access, core: CoreId) -> HazardSide:
        statement = self.statements[access.instruction]
        return HazardSide(core.name, statement.location, str(statement), access.queue.value, access.role,
                          access.writes)


def _instance(memory: Memory, core: CoreId) -> str:
    """NRAM and WRAM belong to their core; the SharedRAM and DRAM are one each."""
    if memory is Memory.NRAM or memory is Memory.WRAM:
        return f"{memory.value}.{core.index}"
    return memory.value


class _Found:
    """The hazards found so far, one per kind and pair of instructions (by their places in the
    text): a loop's iterations and the cores running the same text repeat the same pair."""

    def __init__(self, instructions: _Instructions):
        self.instructions = instructions
        self.hazards: dict[tuple, Hazard] = {}

    def add(self, earlier: _Access, earlier_core: CoreId, later: _Access, later_core: CoreId) -> None:
        kind = _kind(earlier.writes, later.writes)
        places = sorted((self.instructions.place[earlier.instruction],
                         self.instructions.place[later.instruction]))
        key = (kind, *places)
        if key in self.hazards:
            return
        region = (max(earlier.start, later.start), min(earlier.end, later.end))
        self.hazards[key] = Hazard(kind, earlier.memory, earlier.instance, region,
                                   self.instructions.side(earlier, earlier_core),
                                   self.instructions.side(later, later_core))


_Item = tuple[_Access, int]  # an access and its group


_FEW_ITEMS = 12  # below this, comparing every pair is quicker than the sweep


def _conflicting_pairs(items: list[_Item]) -> Iterator[tuple[_Item, _Item]]:
    """Every two items of different groups whose regions overlap, at least one writing.

    Items are (access, group) on one memory instance: a group is a queue on one core, a core
    across cores. A sweep over start addresses keeps, per (group, writes), the items whose
    region is still open; everything left in them after dropping the ones that ended overlaps
    the new item, so the work grows with the pairs found, not with all pairs (two reads are
    never looked at together). A few items are simply compared pairwise.
    """
    if len(items) <= _FEW_ITEMS:
        for index, (access, group) in enumerate(items):
            for other in items[index + 1:]:
                other_access = other[0]
                if (other[1] != group and (access.writes or other_access.writes)
                        and access.start < other_access.end and other_access.start < access.end):
                    yield (access, group), other
        return
    open_items: dict[tuple[int, bool], list[tuple[int, int, _Item]]] = {}
    for serial, item in enumerate(sorted(items, key=lambda item: (item[0].start, item[0].end))):
        access, group = item
        for (other_group, other_writes), heap in open_items.items():
            while heap and heap[0][0] <= access.start:
                heapq.heappop(heap)
            if other_group != group and (other_writes or access.writes):
                for _, _, other in heap:
                    yield other, item
        heapq.heappush(open_items.setdefault((group, access.writes), []), (access.end, serial, item))


# A block of a segment: (cyclic, instruction numbers). A cyclic block is a loop of two or more
# iterations without a sync: each pair of its instructions occurs in both orders.
_Block = tuple[bool, tuple[int, ...]]


def _segments(statements: tuple[Statement | Repeat, ...],
              number) -> tuple[list[_Block], list[list[_Block]] | None, list[_Block]]:
    """The sync-separated segments of a normalised stream: (head, closed, tail), where head is
    the blocks before the first sync or barrier, tail those after the last, and closed the
    complete segments between (None when there is no sync: head is then everything)."""
    head: list[_Block] | None = None
    closed: list[list[_Block]] = []
    opened: list[_Block] = []
    for statement in statements:
        if isinstance(statement, Repeat):
            body_head, body_closed, body_tail = _segments(statement.body, number)
            if body_closed is None:  # every iteration in one segment
                if statement.count >= 2 and body_head:
                    body_head = [(True, tuple(i for _, members in body_head for i in members))]
                opened.extend(body_head)
                continue
            opened.extend(body_head)
            if head is None:
                head = opened
            else:
                closed.append(opened)
            closed.extend(body_closed)
            if statement.count >= 2:  # the end of one iteration runs into the start of the next
                closed.append(body_tail + body_head)
            opened = list(body_tail)
        elif isinstance(statement, (Sync, Barrier)):
            if head is None:
                head = opened
            else:
                closed.append(opened)
            opened = []
        else:
            instruction = number(statement)
            if instruction is not None:
                opened.append((False, (instruction,)))
    if head is None:
        return opened, None, []
    return head, closed, opened


def _check_core(core: CoreId, stream: tuple[Instruction | Repeat, ...], instructions: _Instructions,
                found: _Found) -> None:
    """Pairs on one core: in one segment, on different queues."""
    def number(statement: Move | Compute) -> int | None:
        instruction = instructions.number(statement)
        return instruction if instructions.accesses(instruction, core) else None

    head, closed, tail = _segments(stream, number)
    segments = [head] if closed is None else [head, *closed, tail]
    seen: set[tuple[_Block, ...]] = set()
    for segment in segments:
        key = tuple(segment)
        if key in seen or sum(len(members) for _, members in segment) < 2:
            continue
        seen.add(key)
        by_instance: dict[str, list[tuple[_Access, int]]] = {}
        # instruction -> the indices of its first and last blocks: an instruction whose address
        # does not move appears once per iteration of an unrolled loop (see _constant_addresses)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        queues = set()
        for index, (_, members) in enumerate(segment):
            for instruction in members:
                last[instruction] = index
                if instruction in first:
                    continue  # its accesses are listed already
                first[instruction] = index
                for access in instructions.accesses(instruction, core):
                    by_instance.setdefault(access.instance, []).append((access, access.queue))
                    queues.add(access.queue)
        if len(queues) < 2:  # one queue runs them all in order
            continue
        for items in by_instance.values():
            for (one, _), (other, _) in _conflicting_pairs(items):
                # one may run before other if some occurrence of it comes first (or both are in
                # one cyclic block, where each pair occurs in both orders)
                if first[one.instruction] <= last[other.instruction]:
                    found.add(one, core, other, core)
                if first[other.instruction] <= last[one.instruction]:
                    found.add(other, core, one, core)


# -- loops whose addresses move: unrolled -----------------------------------------------------------

def _proven_instances(texts: dict[CoreId, tuple[Statement, ...]]) -> set[str]:
    """The memory instances where operands move with loop indices and yet no two accesses can
    race: no two hulls (see the module doc) of different groups overlap, one of them written."""
    items: dict[str, list[_Item]] = {}
    moving: set[str] = set()
    for core, text in texts.items():
        for statement, counts in walk_with_counts(text):
            if not isinstance(statement, Move | Compute):
                continue
            queue = queue_kind(statement)
            for access in accesses(statement):
                if access.region is None:
                    continue
                instance = _instance(access.operand.memory, core)
                start, end = access.operand.extent(access.region[1] - access.region[0], counts)
                if access.operand.strides:
                    moving.add(instance)
                hull = _Access(0, access.operand.memory, instance, start, end, access.writes, queue,
                               access.role)
                items.setdefault(instance, []).append((hull, (core.index, queue)))
    return {instance for instance in moving if next(_conflicting_pairs(items[instance]), None) is None}


def _constant_addresses(stream: tuple[Instruction | Repeat, ...], origins: dict[int, Move | Compute],
                        core: CoreId, proven: set[str]) -> tuple[Instruction | Repeat, ...]:
    """The normalised stream with every loop unrolled whose index an operand uses on a memory
    instance not ``proven`` race-free, each iteration's instructions resolved to constant
    addresses there (``origins`` learns which text instruction each resolved one stands for);
    other loops stay loops. Refused, before any work, when that would make more than
    UNROLLED_BUDGET instructions."""
    uses: dict[int, bool] = {}  # id(loop body) -> whether it uses the loop's index

    def unrolls(loop: Repeat) -> bool:
        if loop.index is None:
            return False
        known = uses.get(id(loop.body))
        if known is None:
            known = uses[id(loop.body)] = any(
                loop.index in dict(operand.strides) and _instance(operand.memory, core) not in proven
                for instruction in _instructions(loop.body) for operand in operands_of(instruction))
        return known

    sizes: dict[int, int] = {}  # id(body) -> instructions once unrolled

    def size(statements: tuple) -> int:
        known = sizes.get(id(statements))
        if known is None:
            known = 0
            for statement in statements:
                if isinstance(statement, Repeat):
                    known += size(statement.body) * (statement.count if unrolls(statement) else 1)
                else:
                    known += 1
            sizes[id(statements)] = known
        return known

    total = size(stream)
    if total > UNROLLED_BUDGET:
        widest = max((s for s in _loops(stream) if unrolls(s)), key=lambda s: s.count * size(s.body))
        raise ProgramError(widest.location,
                           f"checking data hazards would unroll {total:,} instructions (at most "
                           f"{UNROLLED_BUDGET:,}): the operands of this loop of {widest.count:,} "
                           f"iterations move with its index '{widest.index}', so each iteration is "
                           "checked on its own addresses")
    made: dict[tuple, Instruction] = {}  # (id(text's), the iterations it depends on) -> resolved

    def resolve(statements: tuple, values: dict[str, int]) -> list:
        result: list = []
        for statement in statements:
            if isinstance(statement, Repeat):
                if unrolls(statement):
                    for iteration in range(statement.count):
                        result += resolve(statement.body, {**values, statement.index: iteration})
                else:
                    result.append(Repeat(statement.count, tuple(resolve(statement.body, values)),
                                         statement.index, statement.location))
            elif values and is_affine(statement):
                key = (id(statement), *(values.get(name) for operand in operands_of(statement)
                                        for name, _ in operand.strides))
                instance = made.get(key)
                if instance is None:
                    instance = made[key] = resolved(statement, values)
                    origins[id(instance)] = statement
                result.append(instance)
            else:
                result.append(statement)
        return result

    return tuple(resolve(stream, {}))


def _instructions(statements: tuple) -> Iterator[Move | Compute]:
    for statement in statements:
        if isinstance(statement, Repeat):
            yield from _instructions(statement.body)
        elif isinstance(statement, Move | Compute):
            yield statement


def _loops(statements: tuple) -> Iterator[Repeat]:
    for statement in statements:
        if isinstance(statement, Repeat):
            yield statement
            yield from _loops(statement.body)


# -- across cores: barrier epochs ----------------------------------------------------------------

@dataclass(frozen=True)
class _Periodic:
    """A loop's epochs in the middle of a stream: ``pattern`` (summaries and nested _Periodic)
    ``times`` times."""

    times: int
    pattern: tuple


def _epochs(statements: tuple[Statement | Repeat, ...], summary_of, shared) -> tuple[set, list | None, set]:
    """The barrier epochs of a normalised stream: (head, middle, tail) as for _segments, where
    head and tail are sets of instructions and middle the summaries of the complete epochs
    between (None when there is no barrier)."""
    head: set | None = None
    middle: list = []
    opened: set = set()
    for statement in statements:
        if isinstance(statement, Repeat):
            body_head, body_middle, body_tail = _epochs(statement.body, summary_of, shared)
            opened |= body_head
            if body_middle is None:
                continue
            if head is None:
                head = opened
            else:
                middle.append(summary_of(opened))
            middle.extend(body_middle)
            if statement.count >= 2:
                joined = summary_of(body_tail | body_head)  # one iteration's end and the next one's start
                middle.append(_Periodic(statement.count - 1, (joined, *body_middle)))
            opened = set(body_tail)
        elif isinstance(statement, Barrier):
            if head is None:
                head = opened
            else:
                middle.append(summary_of(opened))
            opened = set()
        elif not isinstance(statement, Sync):
            instruction = shared(statement)
            if instruction is not None:
                opened.add(instruction)
    if head is None:
        return opened, None, set()
    return head, middle, opened


# A pattern expanded into one repeated block when it is at most this many epochs long.
_EXPANDED_PATTERN = 1024


def _runs(items: Iterable, known: dict[int, list] | None = None) -> list[tuple[tuple[int, ...], int]]:
    """Summaries and _Periodic as (pattern, times) runs, merged where they repeat. ``known``
    keeps each _Periodic's runs: a loop's middle epochs appear twice in its own (see _epochs)."""
    known = {} if known is None else known
    runs: list[tuple[tuple[int, ...], int]] = []

    def append(pattern: tuple[int, ...], times: int) -> None:
        if len(set(pattern)) == 1:
            pattern, times = pattern[:1], times * len(pattern)
        if runs and runs[-1][0] == pattern:
            runs[-1] = (pattern, runs[-1][1] + times)
        else:
            runs.append((pattern, times))

    for item in items:
        if not isinstance(item, _Periodic):
            append((item,), 1)
            continue
        inner = known.get(id(item))
        if inner is None:
            inner = known[id(item)] = _runs(item.pattern, known)
        length = sum(len(pattern) * times for pattern, times in inner)
        if len(inner) == 1:
            append(inner[0][0], inner[0][1] * item.times)
        elif length <= _EXPANDED_PATTERN:
            append(tuple(s for pattern, times in inner for _ in range(times) for s in pattern), item.times)
        else:  # a long period: at most MAX_BARRIERS / _EXPANDED_PATTERN repetitions of it
            for _ in range(item.times):
                for pattern, times in inner:
                    append(pattern, times)
    return runs


def _combinations(sequences: list[list[tuple[tuple[int, ...], int]]]) -> dict[tuple[int, ...], None]:
    """Each distinct tuple (summary of core 0's epoch k, core 1's, ...) over every epoch k.

    Walks the cores' runs in step; while every core stays in its run, the tuples repeat with
    the least common multiple of the patterns' lengths, so at most one such period is read."""
    found: dict[tuple[int, ...], None] = {}
    cursors = [[0, 0] for _ in sequences]  # (run index, epochs of the run already passed)
    while cursors[0][0] < len(sequences[0]):
        runs = [sequence[index] for sequence, (index, _) in zip(sequences, cursors, strict=True)]
        step = min(len(pattern) * times - passed
                   for (pattern, times), (_, passed) in zip(runs, cursors, strict=True))
        period = lcm(*(len(pattern) for pattern, _ in runs))
        for offset in range(min(step, period)):
            found[tuple(pattern[(cursor[1] + offset) % len(pattern)]
                        for (pattern, _), cursor in zip(runs, cursors, strict=True))] = None
        for (pattern, times), cursor in zip(runs, cursors, strict=True):
            cursor[1] += step
            if cursor[1] == len(pattern) * times:
                cursor[0], cursor[1] = cursor[0] + 1, 0
    return found


def _check_across_cores(streams: dict[CoreId, tuple[Instruction | Repeat, ...]], instructions: _Instructions,
                        found: _Found) -> None:
    cores = sorted(streams)  # (core, line) order: the memory core first
    summaries: dict[frozenset, int] = {}
    members: list[frozenset] = []

    def summary_of(instructions_in_epoch: set) -> int:
        key = frozenset(instructions_in_epoch)
        if key not in summaries:
            summaries[key] = len(members)
            members.append(key)
        return summaries[key]

    sequences = []
    for core in cores:
        def shared(statement: Move | Compute, core: CoreId = core) -> int | None:
            instruction = instructions.number(statement)
            return instruction if any(access.memory in SHARED_MEMORIES
                                      for access in instructions.accesses(instruction, core)) else None

        head, middle, tail = _epochs(streams[core], summary_of, shared)
        items = [summary_of(head)] if middle is None else [summary_of(head), *middle, summary_of(tail)]
        sequences.append(_runs(items))

    compared: set[tuple[int, int]] = set()
    for combination in _combinations(sequences):
        for i, earlier in enumerate(combination):
            for j in range(i + 1, len(combination)):
                later = combination[j]
                # The same summaries on other cores give the same pairs of lines.
                if not members[earlier] or not members[later] or (earlier, later) in compared:
                    continue
                compared.add((earlier, later))
                by_memory: dict[str, list[tuple[_Access, int]]] = {}
                for group, core, summary in ((0, cores[i], earlier), (1, cores[j], later)):
                    for instruction in members[summary]:
                        for access in instructions.accesses(instruction, core):
                            if access.memory in SHARED_MEMORIES:
                                by_memory.setdefault(access.instance, []).append((access, group))
                for items in by_memory.values():
                    for (first, first_group), (second, _) in _conflicting_pairs(items):
                        if first_group == 0:
                            found.add(first, cores[i], second, cores[j])
                        else:
                            found.add(second, cores[i], first, cores[j])


def check_hazards(program: Program, machine: MachineConfig) -> HazardReport:
    """Every data hazard of the program on the machine, found from the text alone (after the
    checks of bind(), whose errors it raises)."""
    texts = bind(program, machine)
    origins: dict[int, Move | Compute] = {}
    streams = {}
    # Only a program with loop indices in its operands needs the hulls and the unrolling.
    moving = any(is_affine(statement) for text in texts.values() for statement in walk(text))
    proven = _proven_instances(texts) if moving else set()
    for core, text in texts.items():
        stream = normalised(text)
        streams[core] = _constant_addresses(stream, origins, core, proven) if moving else stream
    instructions = _Instructions(origins)
    found = _Found(instructions)
    checked_streams: set[tuple[int, ...]] = set()
    for core in sorted(streams):
        # Cores running the same text have the same pairs of lines on their own memories.
        key = tuple(id(statement) for statement in texts[core])
        if key not in checked_streams:
            checked_streams.add(key)
            _check_core(core, streams[core], instructions, found)
    if len(streams) > 1:
        _check_across_cores(streams, instructions, found)
    hazards = sorted(found.hazards.values(), key=lambda h: (
        h.later.location.line, h.later.location.column, h.earlier.location.line, h.earlier.location.column,
        list(HazardKind).index(h.kind)))
    checked, unchecked = instructions.counts()
    return HazardReport(program.file, tuple(hazards), checked, unchecked, name_cores=len(streams) > 1)
