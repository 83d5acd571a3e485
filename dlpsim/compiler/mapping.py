"""Choosing a mapping: tile sizes, loop order and the split across cores.

A tile is ``groups x out_channels x in_channels x rows x columns`` of a Problem
(in_channels below the full count splits the reduction: the tile's outputs then
accumulate in NRAM over several tasks). Each core runs a pipeline of tasks with
double buffers: while the matrix unit works on task t, the io queue fetches the
input of task t+1, stores the output of task t-1 and streams in the next weight
block. So a tile must fit twice: two input slabs and two output tiles in NRAM,
two weight blocks in WRAM. The energy objectives may buffer NRAM otherwise (see
Buffering): the whole input kept, one output buffer.

The search tries every candidate tile and both loop orders against a closed-form
estimate of the pipeline's time (each step lasts as long as its compute or its
DRAM traffic at the core's share of the bandwidth, plus the unhidden fill) and
keeps the fastest (or, for the energy objectives, the least energy by the estimate).
The simulator, not this estimate, gives the real cycles.

The search's work is bounded by the layer's shape alone, whatever the capacities.
With c(n) = |_candidates(n)| <= 2 ceil(log2 n) + 2 tile sizes along a dimension of
n, a Problem of G groups, N output and K input channels per group and an H x W
output estimates at most

    search_limit = c(G) c(N) c(H) c(W) x bitlength(c(K)) x b

tiles (c(G) is 1 where groups are tiled alone; b is the bufferings tried, 1 for time and at
most 4 for the energy objectives), each in O(1): the binary search over K costs
bitlength(c(K)) footprints, and a tile's slab and halo figures are sums in closed form over
its tiles (_spans), never a walk over them. Each tile's estimate covers 2 loop orders (4 with
staging). Code generation works task by task (see codegen), so a tile that leaves more than
MAX_TASKS tasks is not considered, and a layer every one of whose tiles would is refused with
the figure.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from enum import StrEnum
from math import ceil, gcd

from dlpsim.asm.opcodes import COMPUTE_TYPES
from dlpsim.compiler.lowering import ROW_SETS, Problem
from dlpsim.errors import WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results.kinds import Objective
from dlpsim.units import format_size


class LoopOrder(StrEnum):
    """Which operand the outer loop keeps on chip while the other streams past it (the value is
    how the program's header names it)."""

    WEIGHTS_OUTER = "weights-outer"  # for group, out block: for spatial tile: for in chunk
    INPUT_OUTER = "input-outer"  # for group, spatial tile: for out block: for in chunk


@dataclass(frozen=True)
class Buffering:
    """How NRAM holds the input slabs and the output tiles. The default double-buffers both: two
    slabs and two output tiles in turn, so loads and write-backs overlap the compute. Where that
    costs DRAM traffic, the energy objectives may instead keep the whole input (``input_kept``:
    every slab, a whole map of its groups, input-channel chunk and sample, loaded once into a
    place of its own and kept while every weight block streams past it; no halo is read twice)
    and single-buffer the output (``output_buffers`` 1: each finished tile goes back to DRAM in a
    step of its own before the next tile is computed into the same buffer)."""

    input_kept: bool = False
    output_buffers: int = 2


DOUBLE_BUFFERED = Buffering()


class Staging(StrEnum):
    """The operand the memory core fetches once into the SharedRAM for every core to copy."""

    WEIGHTS = "weights"
    INPUT = "input"


@dataclass(frozen=True)
class Tile:
    groups: int
    out_channels: int
    in_channels: int
    rows: int
    columns: int


@dataclass(frozen=True)
class Split:
    """Sizes of the tiles along one dimension: ``count`` tiles, the last possibly smaller."""

    size: int
    tile: int

    @property
    def count(self) -> int:
        return ceil(self.size / self.tile)

    def ranges(self) -> list[tuple[int, int]]:
        return [(start, min(start + self.tile, self.size)) for start in range(0, self.size, self.tile)]

    def ranges_at(self, index: int) -> tuple[int, int]:
        """The ``index``-th of ranges()."""
        start = index * self.tile
        return start, min(start + self.tile, self.size)


def input_span(out_start: int, out_end: int, stride: int, padding: int, kernel: int, size: int,
               outputs: int) -> tuple[int, int]:
    """The input rows (or columns) that output rows [out_start, out_end) read, as a slice.

    Padding is not moved (zeros cost nothing to make). A slab runs on to where the next
    tile's begins, and the first and last tiles reach the tensor's edges, so the tiles
    together move every input element at least once, even where a stride skips some (a
    DMA moves contiguous rows; it does not pick out every other one).
    """
    first = 0 if out_start == 0 else max(0, out_start * stride - padding)
    if out_end == outputs:
        last = size
    else:
        last = min(size, max((out_end - 1) * stride - padding + kernel, out_end * stride - padding))
    return first, max(first, last)


@dataclass(frozen=True)
class Mapping:
    problem: Problem
    tile: Tile
    order: LoopOrder
    cores: int
    estimated_cycles: int
    # The operand the memory core stages in the SharedRAM for the cores to copy from there;
    # None: every core reads DRAM directly.
    staged: Staging | None = None
    buffering: Buffering = DOUBLE_BUFFERED

    # -- the tiling of each dimension ----------------------------------------------------
    @property
    def group_split(self) -> Split:
        return Split(self.problem.groups, self.tile.groups)

    @property
    def out_split(self) -> Split:
        return Split(self.problem.out_channels, self.tile.out_channels)

    @property
    def in_split(self) -> Split:
        return Split(self.problem.in_channels, self.tile.in_channels)

    @property
    def row_split(self) -> Split:
        return Split(self.problem.out_height, self.tile.rows)

    @property
    def column_split(self) -> Split:
        return Split(self.problem.out_width, self.tile.columns)


# -- sizes of one tile's data --------------------------------------------------------------

def _slab_bytes(problem: Problem, tile: Tile) -> int:
    """The largest input slab of any of the tile's positions, halo and edges included."""
    rows = _widest_span(Split(problem.out_height, tile.rows), problem.stride[0], problem.padding[0],
                        problem.reach[0], problem.in_height)
    columns = _widest_span(Split(problem.out_width, tile.columns), problem.stride[1],
                           problem.padding[1], problem.reach[1], problem.in_width)
    return rows * columns * tile.groups * tile.in_channels * problem.input_tensors * problem.bytes_per_element


def _widest_span(split: Split, stride: int, padding: int, kernel: int, size: int) -> int:
    return _spans(split, stride, padding, kernel, size)[0]


@functools.lru_cache(maxsize=4096)
def _spans(split: Split, stride: int, padding: int, kernel: int, size: int) -> tuple[int, int]:
    """(widest, total) of the input spans (input_span) of the split's tiles, in a bounded number
    of steps however many tiles there are: tiles 1 to count-2 (the interior) all have ``split.tile``
    outputs and start ``pitch`` inputs apart, so tile t's span is a clamped linear function of t
    (clipped by the left padding while its start lies in it, by the input's end near the right),
    summed in closed form; its maximum is where the start leaves the padding."""
    count, edge = split.count, [input_span(lo, hi, stride, padding, kernel, size, split.size)
                                for lo, hi in (split.ranges_at(0), split.ranges_at(split.count - 1))]
    widest = max(b - a for a, b in edge)
    total = sum(b - a for a, b in edge[:count])  # one tile: the first is the last
    if count <= 2:
        return widest, total
    pitch = split.tile * stride
    reach = max((split.tile - 1) * stride + kernel, split.tile * stride)  # an unclipped span
    # tile t starts at input x = t * pitch - padding: while x < 0 its span is x + reach clipped to
    # [0, size]; from x >= 0 on, size - x clipped to [0, reach]
    inside = min(max(-(-padding // pitch), 1), count - 1)  # the first interior t with x >= 0 (or the end)
    total += _clamped_sum(reach - padding, pitch, 1, inside, 0, size)
    total += _clamped_sum(size + padding, -pitch, inside, count - 1, 0, reach)
    for t in (inside - 1, inside):
        if 1 <= t <= count - 2:  # an interior tile
            start, end = input_span(*split.ranges_at(t), stride, padding, kernel, size, split.size)
            widest = max(widest, end - start)
    return widest, total


def _clamped_sum(offset: int, slope: int, first: int, end: int, low: int, high: int) -> int:
    """The sum over t in [first, end) of offset + slope * t clamped to [low, high] (slope != 0)."""
    if end <= first:
        return 0
    if slope < 0:  # the same values in the reverse order of t
        return _clamped_sum(offset + slope * (first + end - 1), -slope, first, end, low, high)
    rises = min(max(-(-(low - offset) // slope), first), end)  # the first t at or above low
    tops = min(max((high - offset) // slope + 1, rises), end)  # the first t above high
    linear = (tops - rises) * offset + slope * (rises + tops - 1) * (tops - rises) // 2
    return low * (rises - first) + linear + high * (end - tops)


def _weight_block_bytes(problem: Problem, tile: Tile) -> int:
    per_channel = (tile.in_channels * problem.window if problem.matrix else 0) + problem.per_channel_values
    return tile.groups * tile.out_channels * per_channel * problem.bytes_per_element


def _output_tile_bytes(problem: Problem, tile: Tile) -> int:
    """The tile's outputs, and after them the row values of row work (ROW_SETS per row)."""
    outputs = tile.groups * tile.out_channels * tile.rows * tile.columns
    rows = outputs // problem.row_length if problem.row_length else 0
    return (outputs + ROW_SETS * rows) * problem.bytes_per_element


def holds_whole_rows(problem: Problem, groups: int, columns: int) -> bool:
    """Whether a tile of ``groups`` groups and ``columns`` columns holds whole rows of row work
    (Problem.row_length): its positions' groups x columns, which lie one after another in the
    tile (HWC, one channel per group), a whole number of rows, and so the last, smaller tile's."""
    length = problem.row_length
    if not length:
        return True
    return ((groups * columns) % length == 0 and (problem.groups % groups) * columns % length == 0
            and groups * (problem.out_width % columns) % length == 0)


def footprint(problem: Problem, tile: Tile, buffering: Buffering = DOUBLE_BUFFERED) -> tuple[int, int]:
    """(NRAM, WRAM) bytes the pipeline needs for this tile: two weight blocks in WRAM; in NRAM two
    input slabs (or the whole input, kept) and the output buffers."""
    inputs = problem.input_bytes if buffering.input_kept else 2 * _slab_bytes(problem, tile)
    nram = inputs + buffering.output_buffers * _output_tile_bytes(problem, tile)
    return nram, 2 * _weight_block_bytes(problem, tile)


def _keeps_input(problem: Problem) -> bool:
    """Whether the input may be kept whole (Buffering.input_kept): work reading one map, without
    state read once beside it (an LSTM's)."""
    return problem.input_tensors == 1 and not problem.extra_input_bytes and not problem.row_length


def bufferings(problem: Problem, objective: Objective) -> tuple[Buffering, ...]:
    """The NRAM bufferings the search tries: double buffering for time (its programs stay as they
    were); for the energy objectives' matrix work also a single output buffer, and the whole input
    kept with one or two output buffers, which trade a little time for fewer DRAM bytes (work
    without weights reads its input once anyway)."""
    if objective is Objective.TIME or not problem.matrix:
        return (DOUBLE_BUFFERED,)
    single = Buffering(output_buffers=1)
    if not _keeps_input(problem):
        return DOUBLE_BUFFERED, single
    return DOUBLE_BUFFERED, single, Buffering(input_kept=True), Buffering(input_kept=True, output_buffers=1)


# -- the estimate --------------------------------------------------------------------------

def _span_total(split: Split, stride: int, padding: int, kernel: int, size: int) -> int:
    return _spans(split, stride, padding, kernel, size)[1]


class _Estimate:
    """The estimate of one tile's pipeline: called with a loop order and a staging, the cycles
    the pipeline should take and the DRAM bytes it moves (floats: it only ranks mappings;
    infinite if the staged data do not fit). What does not depend on the order or the staging
    is worked out once, for all of them."""

    def __init__(self, problem: Problem, tile: Tile, machine: MachineConfig, rates: _Rates,
                 buffering: Buffering = DOUBLE_BUFFERED):
        self.problem, self.tile, self.machine, self.rates = problem, tile, machine, rates
        self.buffering = buffering
        rows = Split(problem.out_height, tile.rows)
        columns = Split(problem.out_width, tile.columns)
        self.groups = Split(problem.groups, tile.groups).count
        self.outs = Split(problem.out_channels, tile.out_channels).count
        self.ins = Split(problem.in_channels, tile.in_channels).count
        # spatial tiles of every sample (a tile never spans two samples)
        self.spatial = rows.count * columns.count * problem.batch
        self.tasks = self.groups * self.outs * self.ins * self.spatial
        # Input slabs, halo included, summed over the spatial tiles, for all channels and samples.
        slab_area = (_span_total(rows, problem.stride[0], problem.padding[0], problem.reach[0],
                                 problem.in_height)
                     * _span_total(columns, problem.stride[1], problem.padding[1], problem.reach[1],
                                   problem.in_width))
        self.input_once = (slab_area * problem.batch * problem.groups * problem.in_channels
                           * problem.input_tensors * problem.bytes_per_element)
        self.block = _weight_block_bytes(problem, tile)
        self.slab = _slab_bytes(problem, tile)
        if buffering.input_kept:  # whole maps, each loaded once: no halo twice
            self.input_once = problem.input_bytes
            self.slab = (problem.in_height * problem.in_width * min(tile.groups, problem.groups)
                         * min(tile.in_channels, problem.in_channels) * problem.bytes_per_element)
            self.kept_slabs = self.groups * self.ins * problem.batch
        self.output_tile = _output_tile_bytes(problem, tile)
        # What the tasks' MACs read and write on chip (contract, "Energy"): every output block reads
        # the whole im2col input again (A, NRAM), every spatial tile the weights (B, WRAM), and
        # every input-channel chunk after the first reads the partial sums back (C, NRAM).
        matrix = problem.matrix
        a_once = problem.macs // problem.out_channels  # elements of every position's input window
        self.nram_bytes = problem.bytes_per_element * matrix * (
            a_once * self.outs + problem.outputs * (2 * self.ins - 1))
        self.wram_bytes = matrix * problem.weight_bytes * self.spatial

    def __call__(self, order: LoopOrder, staged: Staging | None = None) -> tuple[float, float]:
        problem, tile, machine = self.problem, self.tile, self.machine
        groups, outs, ins, spatial, tasks = self.groups, self.outs, self.ins, self.spatial, self.tasks
        input_once = self.input_once
        weights_once = problem.weight_bytes
        cores = machine.compute_cores
        if order is LoopOrder.WEIGHTS_OUTER:
            weights = weights_once * (spatial if ins > 1 else 1)
            inputs = input_once * (outs if spatial > 1 or ins > 1 else 1)
            # a core's share of the weight blocks, when the cores split the output channels
            weight_share = weights_once / min(cores, groups * outs)
        else:
            weights = weights_once * (spatial if outs > 1 or ins > 1 else 1)
            inputs = input_once * (outs if ins > 1 else 1)
            weight_share = weights_once  # every core passes over every weight block
        if weight_share <= machine.core.wram.capacity_bytes:  # resident: each block fetched once per core
            weights = min(weights, weight_share * min(cores, tasks))
        kept = self.buffering.input_kept
        if kept:  # each core loads the slabs of the groups its share covers, once: the shares are
            # contiguous and about equal and the groups outermost, so of the c - 1 cuts between
            # c busy cores' shares, all but the gcd(c, g) - 1 falling between groups split a group
            busy = min(cores, tasks // ins)
            inputs = input_once * (groups + busy - gcd(groups, busy)) / groups

        # Staging: the memory core fetches one operand into the SharedRAM once, in the order the
        # cores first need it, and the cores copy it from there over their own links.
        staged_bytes = {Staging.WEIGHTS: weights_once, Staging.INPUT: input_once}.get(staged, 0)
        if staged and staged_bytes > machine.shared.capacity_bytes:
            return float("inf"), float("inf")
        # bytes over the SharedRAM links
        copied = {Staging.WEIGHTS: weights, Staging.INPUT: inputs}.get(staged, 0)
        core_weights = 0 if staged is Staging.WEIGHTS else weights
        core_inputs = 0 if staged is Staging.INPUT else inputs
        traffic = (staged_bytes + core_weights + core_inputs + problem.output_bytes
                   + problem.extra_input_bytes)

        storing = tasks // ins  # tasks that finish an output tile
        # Cores share out whole output tiles (a tile's partial sums stay on one core); with a staged
        # operand, whole passes over it (every core must need its pieces in the same order).
        units = {Staging.WEIGHTS: groups * spatial, Staging.INPUT: groups * outs}.get(staged, storing)
        cores = min(machine.compute_cores, units)
        dram_per_cycle = self.rates.dram
        compute = self.rates.compute_cycles(problem) / tasks
        if staged:  # the copies use the core's own SharedRAM link, beside the compute
            compute = max(compute, copied / tasks / self.rates.shared)
        # A step lasts as long as its compute or its DRAM traffic at the core's share of the link.
        # Weight chunks spread evenly over the steps; input slabs and write-backs come only in some.
        ratio = cores / dram_per_cycle
        weight_step = (core_weights + (staged_bytes if staged else 0) / cores) / tasks * ratio
        reloads = ins > 1 or (order is LoopOrder.WEIGHTS_OUTER and spatial > 1)
        input_steps = tasks if reloads else (tasks / outs if order is LoopOrder.INPUT_OUTER else groups)
        if kept:  # a slab comes in only the first time it is needed
            input_steps = min(tasks, self.kept_slabs)
        input_step = (core_inputs + problem.extra_input_bytes) / input_steps * ratio
        # With one output buffer the write-backs overlap nothing: they take steps of their own.
        single_output = self.buffering.output_buffers == 1
        store_step = 0 if single_output else problem.output_bytes / storing * ratio
        with_input, with_store = input_steps / tasks, storing / tasks
        both = min(with_input, with_store)
        per_task = (both * max(compute, weight_step + input_step + store_step)
                    + (with_input - both) * max(compute, weight_step + input_step)
                    + (with_store - both) * max(compute, weight_step + store_step)
                    + (1 - max(with_input, with_store)) * max(compute, weight_step))
        block, slab = self.block, self.slab
        # Before the first step: the first weight block and input slab of every core (the
        # memory core stages two pieces ahead of the cores).
        first = {Staging.WEIGHTS: 2 * block + cores * slab, Staging.INPUT: 2 * slab + cores * block}
        fill = first.get(staged, cores * (slab + block)) / dram_per_cycle
        drain = self.output_tile * cores / dram_per_cycle
        # The busiest core sets the pace. With few units per core the granularity shows, and
        # full-size units (not the smaller ones at the edges) are what the busiest core gets.
        heaviest = (min(tile.groups, problem.groups) * groups / problem.groups)
        if staged is not Staging.INPUT:
            heaviest *= (min(tile.rows, problem.out_height) * min(tile.columns, problem.out_width) * spatial
                         / (problem.out_height * problem.out_width * problem.batch))
        if staged is not Staging.WEIGHTS:
            heaviest *= min(tile.out_channels, problem.out_channels) * outs / problem.out_channels
        share = ceil(units / cores) if units <= 4 * cores else units / cores
        unit_time = heaviest * (tasks / units) * per_task
        if single_output:  # each core's share of the stores at its share of the link, one step each
            unit_time += heaviest * (problem.output_bytes * ratio + storing) / units
        pipeline = share * unit_time
        if staged:  # every core's first pass waits for the whole operand to be staged, and the
            # staging shares the DRAM link with the rest of that pass's traffic
            first_pass = (staged_bytes + (traffic - staged_bytes) / share) / dram_per_cycle
            pipeline = max(pipeline, first_pass + (share - 1) * unit_time)
        # Many tiny tasks cost real overhead the averages hide (rounding up every step, edge tiles).
        return max(pipeline, traffic / dram_per_cycle) + fill + drain + tasks / cores, traffic


@dataclass(frozen=True)
class _Rates:
    """A machine's rates and prices as floats, worked out once for a whole search."""

    dram: float  # bytes per cycle over the DRAM link
    shared: float | None  # bytes per cycle over a core's SharedRAM link (None: no SharedRAM)
    ops: dict[str, float]  # operations per cycle, by compute type
    # pJ per DRAM byte moved: read from DRAM and written on chip, or the reverse (on average)
    dram_pj: float
    nram_read_pj: float  # pJ per byte a MAC reads from NRAM (A, and C when accumulating)
    wram_read_pj: float  # ... from WRAM (B)
    static_pj_per_cycle: float

    @classmethod
    def of(cls, machine: MachineConfig) -> _Rates:
        def both_ways(memory: str) -> float:
            return float(machine.read_pj_per_byte(memory) + machine.write_pj_per_byte(memory)) / 2
        return cls(float(machine.bytes_per_cycle(machine.dram.link)),
                   None if machine.shared is None else float(machine.bytes_per_cycle(machine.shared.link)),
                   {name: float(machine.ops_per_cycle(kind)) for name, kind in COMPUTE_TYPES.items()},
                   both_ways("DRAM") + both_ways("NRAM"), float(machine.read_pj_per_byte("NRAM")),
                   float(machine.read_pj_per_byte("WRAM")),
                   float(machine.static_mw * 10**9 / machine.clock_hz))

    def energy_pj(self, estimate: _Estimate, cycles: float, traffic: float) -> float:
        """The energy that depends on the mapping: its DRAM traffic, its MACs' operand traffic on
        chip, and the static power over its time (the operations are the same for every mapping)."""
        return (traffic * self.dram_pj + estimate.nram_bytes * self.nram_read_pj
                + estimate.wram_bytes * self.wram_read_pj + cycles * self.static_pj_per_cycle)

    def compute_cycles(self, problem: Problem) -> float:
        cycles = problem.macs / self.ops["MAC_32"]
        for operation, count in problem.vector_ops:
            cycles += count / self.ops[f"{operation}_32"]
        return cycles


# -- the search ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=1024)
def _candidates(size: int) -> tuple[int, ...]:
    """Tile sizes worth trying along a dimension of ``size``: powers of two and halvings."""
    sizes = {size, ceil(size / 3)}
    power = 1
    while power < size:
        sizes.add(power)
        sizes.add(ceil(size / power))
        power *= 2
    return tuple(sorted(sizes))


def choose_mappings(problem: Problem, machine: MachineConfig, count: int = 1,
                    objective: Objective = Objective.TIME) -> list[Mapping]:
    """The ``count`` best mappings for ``objective`` by the estimate, best first, that fit NRAM and
    WRAM; an error naming the memory and the shortfall if not even the smallest tile fits."""
    return list(rank(problem, machine, objective).mappings[:count])


@dataclass(frozen=True)
class Ranking:
    """The search's answer: the best mappings by the estimate, best first, and its work."""

    mappings: tuple[Mapping, ...]
    tiles_estimated: int  # tiles whose pipelines the estimate timed (at most search_limit())


def rank(problem: Problem, machine: MachineConfig, objective: Objective = Objective.TIME) -> Ranking:
    """The KEPT_MAPPINGS best mappings for ``objective`` by the estimate (see choose_mappings), and
    for the energy objectives the KEPT_MAPPINGS best of the other bufferings beside them."""
    anonymous = dataclasses.replace(problem, name="", description="")  # same shapes, same mapping
    try:
        ranking = _choose(anonymous, machine, objective)
    except WorkloadError as error:
        raise WorkloadError(f"{problem.name}: {error.message}" if problem.name else error.message,
                            error.where) from None
    return dataclasses.replace(ranking, mappings=tuple(dataclasses.replace(mapping, problem=problem)
                                                       for mapping in ranking.mappings))


# How many of the best mappings by the estimate are kept, for the compiler to try for real (for
# the energy objectives, as many again of the bufferings other than double buffering).
KEPT_MAPPINGS = 12

# The most tasks (pipeline steps) a mapping may have. Code generation works task by task, so this
# bounds its work; the built-in networks need at most 8,192 on the presets. A tile that would
# leave more is not considered, and a layer whose every tile that fits would is refused.
MAX_TASKS = 1 << 15


def search_limit(problem: Problem, objective: Objective = Objective.TIME) -> int:
    """The most tiles the search for ``objective`` estimates for ``problem``, whatever the machine
    (see the module doc): a product of the candidate counts along each dimension, logarithmic in
    each size, times the bufferings tried (one for time, at most four for the energy objectives)."""
    groups = 1 if _splits_groups_alone(problem) else len(_candidates(problem.groups))
    reductions = len(_candidates(problem.in_channels)).bit_length()  # binary search steps
    return (groups * len(_candidates(problem.out_channels)) * len(_candidates(problem.out_height))
            * len(_candidates(problem.out_width)) * reductions * len(bufferings(problem, objective)))


def _splits_groups_alone(problem: Problem) -> bool:
    """Grouped matrix work keeps a group per tile: its groups are never tiled together."""
    matrix_dims = problem.in_channels > 1 or problem.out_channels > 1
    return matrix_dims and problem.groups > 1 and problem.out_channels > 1


def task_count(problem: Problem, tile: Tile) -> int:
    """How many tasks the tile leaves (codegen.tasks makes one per tile position, sample and chunk)."""
    return (Split(problem.groups, tile.groups).count * Split(problem.out_channels, tile.out_channels).count
            * Split(problem.in_channels, tile.in_channels).count * problem.batch
            * Split(problem.out_height, tile.rows).count * Split(problem.out_width, tile.columns).count)


def smallest_tile(problem: Problem) -> Tile:
    """One output position, one channel in, and one unit of output channels (one channel; an
    LSTM's four gates of one hidden unit); for row work, one row (layer norm's: every group of a
    position; softmax's: a run of columns)."""
    if problem.row_length and problem.groups > 1:
        return Tile(problem.groups, problem.out_channel_unit, 1, 1, 1)
    if problem.row_length:
        return Tile(1, problem.out_channel_unit, 1, 1, problem.row_length)
    return Tile(1, problem.out_channel_unit, 1, 1, 1)


def check_smallest_tile(problem: Problem, machine: MachineConfig) -> None:
    """A WorkloadError naming the memory and the shortfall if not even the smallest tile (one
    output, one channel) fits NRAM and WRAM with double buffering."""
    nram, wram = machine.core.nram.capacity_bytes, machine.core.wram.capacity_bytes
    need_nram, need_wram = footprint(problem, smallest_tile(problem))
    if need_nram <= nram and need_wram <= wram:
        return
    memory, need, have = ("NRAM", need_nram, nram) if need_nram > nram else ("WRAM", need_wram, wram)
    unit = "" if problem.out_channel_unit == 1 else f", {problem.out_channel_unit} output channels"
    smallest = f"one output, one channel{unit}"
    if problem.row_length:  # a tile holds whole rows
        smallest = f"one row of {problem.row_length} elements and its {ROW_SETS} row values"
    raise WorkloadError(f"even the smallest tile ({smallest}) needs "
                        f"{need} B of {memory} with double buffering, {need - have} B more than the "
                        f"{format_size(have)} {memory} of {machine.name}")


@functools.lru_cache(maxsize=1024)
def _choose(problem: Problem, machine: MachineConfig, objective: Objective) -> Ranking:
    check_smallest_tile(problem, machine)  # before any search
    nram, wram = machine.core.nram.capacity_bytes, machine.core.wram.capacity_bytes
    group_sizes = [1] if _splits_groups_alone(problem) else _candidates(problem.groups)
    variants: list[tuple[LoopOrder, Staging | None]] = [(order, None) for order in LoopOrder]
    if machine.shared is not None and machine.compute_cores > 1 and problem.matrix:
        # Cores sharing out spatial tiles all read every weight block, and cores sharing out
        # output channels all read every input slab: the memory core can fetch it for all.
        # (Not across groups: cores on different groups need different pieces, and the one
        # staging order would make the later group's cores wait for the earlier's.)
        variants += [(LoopOrder.INPUT_OUTER, Staging.WEIGHTS), (LoopOrder.WEIGHTS_OUTER, Staging.INPUT)]
    ranked: list[tuple[tuple, Mapping]] = []
    rates = _Rates.of(machine)
    estimated = 0
    # of the tiles that fit, the one leaving the fewest tasks, and its buffering
    fewest: tuple[int, Tile, Buffering] | None = None
    for groups in group_sizes:
        for out_channels in _candidates(problem.out_channels):
            if out_channels % problem.out_channel_unit:  # a tile holds whole units (an LSTM's gates)
                continue
            for rows in _candidates(problem.out_height):
                if problem.masked and rows != 1:  # one row, whose mask its runs share
                    continue
                for columns in _candidates(problem.out_width):
                    if not holds_whole_rows(problem, groups, columns):  # row work: whole rows
                        continue
                    for buffering in bufferings(problem, objective):
                        # Split the reduction only as far as needed: whole channels accumulate nothing.
                        tile = _widest_reduction(problem, Tile(groups, out_channels, 1, rows, columns),
                                                 nram, wram, buffering)
                        if tile is None:
                            continue
                        tasks = task_count(problem, tile)
                        if fewest is None or tasks < fewest[0]:
                            fewest = (tasks, tile, buffering)
                        if tasks > MAX_TASKS:
                            continue
                        estimated += 1
                        ranked += _ranked_variants(problem, tile, buffering, machine, rates, objective,
                                                   variants)
    if not ranked:  # tiles fit (checked above), but each leaves too many tasks
        tasks, tile, buffering = fewest
        need_nram, need_wram = footprint(problem, tile, buffering)
        fuller = "NRAM" if need_nram * wram >= need_wram * nram else "WRAM"
        raise WorkloadError(f"every tile it tries that fits the {format_size(nram)} NRAM and "
                            f"{format_size(wram)} WRAM of {machine.name} leaves at least {tasks:,} "
                            f"tasks (pipeline steps), more than the {MAX_TASKS:,} the compiler writes a "
                            f"program of; give {fuller} more room")
    ranked.sort(key=lambda item: item[0])
    # The best KEPT_MAPPINGS double-buffered mappings, and as many of the other bufferings (energy
    # objectives): those trade time for bytes, and must not crowd out the double-buffered ones,
    # which the energy objective falls back on where they cost too much time (run.compile).
    double = [item for item in ranked if item[1].buffering == DOUBLE_BUFFERED][:KEPT_MAPPINGS]
    other = [item for item in ranked if item[1].buffering != DOUBLE_BUFFERED][:KEPT_MAPPINGS]
    best = sorted(double + other, key=lambda item: item[0])
    return Ranking(tuple(mapping for _, mapping in best), estimated)


def _ranked_variants(problem: Problem, tile: Tile, buffering: Buffering, machine: MachineConfig,
                     rates: _Rates, objective: Objective,
                     variants: list[tuple[LoopOrder, Staging | None]]) -> list[tuple[tuple, Mapping]]:
    """The tile's mappings in each loop order and staging, each with its sort key for ``objective``
    (staging only with double buffering, and not across groups)."""
    estimate = _Estimate(problem, tile, machine, rates, buffering)
    ranked = []
    for order, staged in variants:
        if staged and (ceil(problem.groups / tile.groups) > 1 or buffering != DOUBLE_BUFFERED):
            continue
        cycles, traffic = estimate(order, staged)
        if cycles == float("inf"):
            continue
        if objective is Objective.TIME:
            # Time first; of two mappings within a percent, the one moving less data.
            score = cycles + traffic / rates.dram / 100
        else:
            score = rates.energy_pj(estimate, cycles, traffic)
            score *= cycles if objective is Objective.EDP else 1
        key = (score, -_volume(tile), order, staged or "", buffering.input_kept, -buffering.output_buffers)
        ranked.append((key, Mapping(problem, tile, order, machine.compute_cores, ceil(cycles), staged,
                                    buffering)))
    return ranked


def _widest_reduction(problem: Problem, tile: Tile, nram: int, wram: int,
                      buffering: Buffering = DOUBLE_BUFFERED) -> Tile | None:
    """The tile with the most input channels that still fits (footprints grow with them)."""
    sizes = _candidates(problem.in_channels)
    low, high = 0, len(sizes) - 1
    found = None
    while low <= high:
        middle = (low + high) // 2
        candidate = Tile(tile.groups, tile.out_channels, sizes[middle], tile.rows, tile.columns)
        need_nram, need_wram = footprint(problem, candidate, buffering)
        if need_nram <= nram and need_wram <= wram:
            found, low = candidate, middle + 1
        else:
            high = middle - 1
    return found


def _volume(tile: Tile) -> int:
    return tile.rows * tile.columns * tile.out_channels * tile.in_channels * tile.groups
