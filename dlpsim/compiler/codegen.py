"""Mapping -> program: the tasks of each core, pipelined, written as the ISA's statements.

Each core runs its share of the tasks as a software pipeline of steps. Step t
computes task t on the compute queue while the io queue, in parallel, fetches the
input slab of task t+1 into the other NRAM input buffer, writes back the output of
the last finished tile from the other NRAM output buffer, and streams a chunk of
the next weight block into the other WRAM buffer. One ``sync`` ends each step: the
only hand-off the ISA needs, since nothing else orders the queues. Runs of equal
steps, and of equal pairs of steps (ping, pong), are folded into ``loop`` blocks.

A mapping's Buffering may change two of those buffers (the energy objectives' choices): with
the input kept, every slab (a whole map) has a place of its own in NRAM and is loaded only the
first time a task reads it, so a slab read again costs no DRAM traffic and no halo is read
twice; with one output buffer, the write-back of a finished tile is a step of its own, before
the next tile's MACs write that buffer.

Every operand is addressed, so the data checks can prove the pipeline race-free in every
memory: moves name both ends (DRAM holds each tensor in the order the tiles use it: see
DramLayout, which the header states), MACs read the input slab (A) and the weight block (B)
and write or, over later input-channel chunks, accumulate into (``+>``) the output tile (C),
and vector work names its ranges too. Steps of the steady state differ in their on-chip
buffers, which alternate, and in their DRAM addresses, which walk on through the tensors;
folding turns a run of steps whose DRAM addresses advance by the same amount each time into
a loop with an index (``loop N as i``, ``DRAM[0x4458 + 0x8970*i]``), so the program keeps
the length it has without addresses.

Steps hold instructions not yet placed on a line (a ProgramWriter places them), made
once per distinct instruction: folding compares steps by their instructions with the DRAM
addresses set aside (see _template), which for most is their identity.

The work is linear in the tasks, and the tasks are bounded by the layer: a mapping has
T <= min(MAX_TASKS, G x N x K x B x H x W) tasks (mapping.task_count: one per tile position,
sample and input-channel chunk of a Problem of G groups, N output and K input channels, B
samples and H x W outputs; the search drops tiles that leave more than MAX_TASKS). Each step issues at
most 5 + V instructions and a sync for V vector instructions (Problem.vector_instructions),
plus the barriers before a staged piece (at most T per core); the memory core issues two per
piece. fold() compares at most FOLD_COMPARISONS_PER_STEP step numbers per step and writes no more instructions
than the steps hold, and at most as many loop lines. So a program has at most

    statement_limit = 2 x (T x (7 + V + C) + 6 C + 2)

statements on C compute cores, whatever the capacities (see statement_limit()).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from math import lcm

import numpy as np

from dlpsim.asm.opcodes import COMPUTE_TYPES, Memory
from dlpsim.asm.printer import UNPLACED, ProgramWriter
from dlpsim.asm.program import (
    Barrier,
    Compute,
    ComputeOperands,
    Immediate,
    Instruction,
    Move,
    Operand,
    Rows,
    Strides,
    Sync,
    Window,
)
from dlpsim.compiler.lowering import (
    COPY,
    ROW_SETS,
    ROW_VALUES,
    SLAB,
    STATE,
    TILE,
    VALUES,
    Part,
    VectorStep,
)
from dlpsim.compiler.mapping import DOUBLE_BUFFERED, Buffering, LoopOrder, Mapping, Staging, input_span
from dlpsim.machine import MachineConfig
from dlpsim.workloads.layers import FP32_BYTES

Step = tuple[Instruction, ...]  # what one step of a core's pipeline issues, ending in sync
SYNC = Sync(UNPLACED)
BARRIER = Barrier(UNPLACED)


@functools.lru_cache(maxsize=4096)
def move(source: Memory, source_offset: int | None, destination: Memory, destination_offset: int | None,
         size: int) -> Move:
    """A move; an offset of None leaves that end without an address (DRAM's: see the module doc)."""
    return Move(Operand(source, source_offset, UNPLACED), Operand(destination, destination_offset, UNPLACED),
                size, UNPLACED)


Region = tuple[Memory, int, int]  # a memory's bytes [start, end)


def operand(region: Region, plain_bytes: int | None = None) -> Operand:
    """``MEM[start]`` when the instruction's shape already gives the region's size (``plain_bytes``,
    a plain row-major matrix), else the explicit range ``MEM[start:end]``."""
    memory, start, end = region
    return Operand(memory, start, UNPLACED, None if end - start == plain_bytes else end)


@functools.lru_cache(maxsize=4096)
def mac(shape: tuple[int, int, int], a: Region, b: Region, c: Region, accumulate: bool,
        window: Window | None = None) -> Compute:
    """C = A x B (or C += A x B) for A of M x K and B of K x N, or with ``window`` a convolution
    tile (A the slab, B its groups' blocks); an operand that is not that plain matrix (a
    convolution's slab, a grouped block) is given as its byte range."""
    m, k, n = shape
    kind = COMPUTE_TYPES["MAC_32"]
    width = kind.bits // 8
    operands = ComputeOperands(operand(a, m * k * width), operand(b, k * n * width),
                               operand(c, m * n * width), accumulate)
    return Compute(kind, m * k * n, UNPLACED, shape, operands, window)


@functools.lru_cache(maxsize=4096)
def vector(name: str, count: int, a: Region, b: Region | float | None, c: Region,
           window: Window | None = None, rows: Rows | None = None) -> Compute:
    """``count`` elementwise operations reading ranges A and B and writing C (each range what the
    operation touches: a per-channel B is broadcast, a window's A is larger than C); B may be
    an immediate (a float) or absent (a function type, a window or row reduction); ``rows``: the
    rows clause of row work (a row reduction, or B one value per row)."""
    if isinstance(b, float):
        b_operand: Operand | Immediate | None = Immediate(b)
    else:
        b_operand = None if b is None else operand(b)
    return Compute(COMPUTE_TYPES[name], count, UNPLACED, None,
                   ComputeOperands(operand(a), b_operand, operand(c)), window, rows)


@dataclass(frozen=True)
class Task:
    weight_key: tuple | None  # the weight block it needs (None: no weights)
    weight_bytes: int
    input_key: tuple
    input_bytes: int
    macs: int
    # (M, K, N) of the task's GEMM: M output positions (rows x columns x groups of the tile),
    # K reduction length (the chunk's input channels x the kernel window), N output channels
    shape: tuple[int, int, int] | None
    vector_ops: tuple[tuple[str, int], ...]  # done on the tile's outputs, with its last chunk
    output_bytes: int  # written after this task; 0 while partial sums still accumulate
    output_key: tuple  # the output tile it computes (group, output channels, sample and spatial tile)
    result_bytes: int  # the tile's values in NRAM (an LSTM writes back fewer: h and c, not its gates)
    first_chunk: bool  # the tile's first input-channel chunk: C starts anew, later chunks accumulate
    values_bytes: int  # per-channel values (biases, BN scale and shift), after the weights in its block
    input_tensors: int  # maps read side by side in its slab (an elementwise add reads several)
    # The slab as the windows its MAC reads (the ISA's window clause: HWC, group g's channel c at
    # g * channels + c; the padding how far the tile's first and last windows stick out of the
    # slab, into the layer's padding); None: its windows are the tile's positions themselves (a
    # plain row-major GEMM, or element-wise work).
    window: Window | None = None
    # The executable vector work of this task (the problem's steps, each with its count): the
    # first chunk's steps (a bias) and, on the last chunk, the rest; None: counted only (vector_ops).
    steps: tuple[tuple[VectorStep, int], ...] | None = None
    value_sets: int = 0  # sets of per-channel values its block holds (each G x N values)
    # The bytes [start, end) of its slab that hold its tile's input span (all of it, but in a kept
    # slab, a whole map), and whether that span is one contiguous range there (a kept map's span
    # of some columns and several rows is not: the window form has no row pitch to reach it).
    span: tuple[int, int] = (0, 0)
    span_addressable: bool = True
    # Where the state of its units starts in the state buffer (an LSTM's c_prev: a value per
    # ``out_channel_unit`` output channels, sample after sample)
    state_offset: int = 0
    # Row work (Problem.row_length): the elements of each row of its tile; its row values
    # (lowering.ROW_VALUES: ROW_SETS values per row) follow the tile in its NRAM buffer.
    row_length: int = 0
    # A masked softmax's: where its one row's mask starts in its values (Problem.mask_queries).
    mask_start: int = 0

    @property
    def row_values_bytes(self) -> int:
        """The scratch its row work needs after the tile: ROW_SETS values per row."""
        if not self.row_length:
            return 0
        return ROW_SETS * self.result_bytes // self.row_length


def _edges(outputs: tuple[int, int], span: tuple[int, int], stride: int, padding: int,
           reach: int) -> tuple[int, int]:
    """How far the first window of outputs [o0, o1) sticks out before the slab's span [s0, s1),
    and the last one after it (the layer's padding the slab does not hold, as zeros)."""
    (first, last), (start, end) = outputs, span
    before = start - (first * stride - padding)
    after = max(0, (last - 1) * stride - padding + reach - end)
    return before, after


def _counted(steps: tuple[tuple[VectorStep, int], ...]) -> tuple[tuple[str, int], ...]:
    """Operations by kind, in the order the steps first use them."""
    counts: dict[str, int] = {}
    for step, count in steps:
        counts[step.operation] = counts.get(step.operation, 0) + count
    return tuple((op, count) for op, count in counts.items() if count)


def _distribute(total: int, share: int, whole: int, given: int) -> int:
    """The part of ``total`` for a tile whose outputs end at ``given + share`` of ``whole``:
    floors of the running proportion, so the parts always sum to ``total`` exactly."""
    return total * (given + share) // whole - total * given // whole


def tasks(mapping: Mapping) -> list[Task]:
    """Every task of the layer in the mapping's loop order."""
    problem = mapping.problem
    element = problem.bytes_per_element
    groups, outs, ins = mapping.group_split, mapping.out_split, mapping.in_split
    rows, columns = mapping.row_split, mapping.column_split
    # (sample, rows, columns): every sample's tiles, the same weight blocks for all
    spatial = [(sample, r, c) for sample in range(problem.batch) for r in rows.ranges()
               for c in columns.ranges()]
    # the input rows x columns each spatial tile reads, halo included
    row_spans = {r: input_span(*r, problem.stride[0], problem.padding[0], problem.reach[0],
                               problem.in_height, problem.out_height) for r in rows.ranges()}
    column_spans = {c: input_span(*c, problem.stride[1], problem.padding[1], problem.reach[1],
                                  problem.in_width, problem.out_width) for c in columns.ranges()}
    in_chunks = ins.ranges()
    last_chunk = in_chunks[-1]
    # A kept input is read as whole maps: every spatial tile's MACs read the slab of its sample.
    kept = mapping.buffering.input_kept
    whole = (0, problem.in_height), (0, problem.in_width)
    outputs_done = 0
    result = []

    def one(group: tuple[int, int], out: tuple[int, int], place, chunk: tuple[int, int]) -> Task:
        nonlocal outputs_done
        (g0, g1), (n0, n1), (k0, k1) = group, out, chunk
        _, (r0, r1), (c0, c1) = place
        gb, nb, kc = g1 - g0, n1 - n0, k1 - k0
        (h0, h1), (w0, w1) = whole if kept else (row_spans[place[1]], column_spans[place[2]])
        per_channel = (kc * problem.window if problem.matrix else 0)
        per_channel += problem.per_channel_values if k0 == 0 else 0
        weight_bytes = gb * nb * per_channel * element
        tile_outputs = gb * nb * (r1 - r0) * (c1 - c0)
        finishing = chunk == last_chunk
        vector_ops: tuple[tuple[str, int], ...] = ()
        output_bytes = 0
        if finishing:
            vector_ops = tuple((op, _distribute(count, tile_outputs, problem.outputs, outputs_done))
                               for op, count in problem.vector_ops)
            # what is written back (an LSTM step writes h and c, not its gate values)
            output_bytes = _distribute(problem.output_bytes, tile_outputs, problem.outputs, outputs_done)
            outputs_done += tile_outputs
        steps = None
        if problem.steps is not None:
            steps = tuple((step, step.count(tile_outputs, problem.row_length)) for step in problem.steps
                          if (step.first_chunk and k0 == 0) or (not step.first_chunk and finishing))
            vector_ops = _counted(steps)
        # The tile's windows read its input span; in a kept slab (a whole map) that span starts at
        # its first row and column, and is one contiguous range only if it spans whole rows (HWC).
        (sh0, sh1), (sw0, sw1) = row_spans[place[1]], column_spans[place[2]]
        top, bottom = _edges(place[1], (sh0, sh1), problem.stride[0], problem.padding[0], problem.reach[0])
        left, right = _edges(place[2], (sw0, sw1), problem.stride[1], problem.padding[1], problem.reach[1])
        window = Window(sh1 - sh0, sw1 - sw0, kc, problem.kernel, problem.stride, (top, bottom, left, right),
                        problem.dilation, gb)
        plain = (window.kernel == (1, 1) and window.stride == (1, 1) and window.padding == (0, 0, 0, 0)
                 and gb == 1 and (sh1 - sh0, sw1 - sw0) == (r1 - r0, c1 - c0))
        channels_bytes = gb * kc * problem.input_tensors * element
        span = (((sh0 - h0) * (w1 - w0) + sw0 - w0) * channels_bytes,
                ((sh1 - 1 - h0) * (w1 - w0) + sw1 - w0) * channels_bytes)
        return Task(
            weight_key=(group, out, chunk) if weight_bytes else None,
            weight_bytes=weight_bytes,
            input_key=(group, chunk, place[0]) if kept else (group, chunk, place),
            input_bytes=(h1 - h0) * (w1 - w0) * gb * kc * problem.input_tensors * element,
            macs=tile_outputs * kc * problem.window if problem.matrix else 0,
            shape=(gb * (r1 - r0) * (c1 - c0), kc * problem.window, nb) if problem.matrix else None,
            vector_ops=vector_ops,
            output_bytes=output_bytes,
            output_key=(group, out, place),
            result_bytes=tile_outputs * element,
            first_chunk=k0 == 0,
            values_bytes=gb * nb * problem.per_channel_values * element if k0 == 0 else 0,
            input_tensors=problem.input_tensors,
            window=None if plain else window,
            span=span,
            span_addressable=(sw0, sw1) == (w0, w1) or sh1 - sh0 == 1,
            steps=steps,
            value_sets=problem.per_channel_values if k0 == 0 else 0,
            state_offset=(place[0] * problem.out_channels + n0) // problem.out_channel_unit * element,
            row_length=problem.row_length,
            mask_start=problem.mask_queries - 1 - r0 % problem.mask_queries if problem.masked else 0,
        )

    for group in groups.ranges():
        if mapping.order is LoopOrder.WEIGHTS_OUTER:
            for out in outs.ranges():
                for place in spatial:
                    result += [one(group, out, place, chunk) for chunk in in_chunks]
        else:
            for place in spatial:
                for out in outs.ranges():
                    result += [one(group, out, place, chunk) for chunk in in_chunks]
    return result


@dataclass(frozen=True)
class _Costs:
    """What a MAC, a vector operation and a byte of the task's own traffic add to a task's work,
    in units of 1/D cycle for a D that makes each an integer: work is then summed and compared
    exactly in integers."""

    mac: int
    vector: dict[str, int]  # by operation: ADD, SUB, MUL, DIV
    byte: int  # at the core's share of the DRAM link

    @classmethod
    def of(cls, machine: MachineConfig) -> _Costs:
        cycles = {kind.operation: 1 / machine.ops_per_cycle(kind)
                  for kind in COMPUTE_TYPES.values() if kind.bits == 32}
        byte = machine.compute_cores / machine.bytes_per_cycle(machine.dram.link)
        scale = lcm(byte.denominator, *(each.denominator for each in cycles.values()))
        units = {operation: int(each * scale) for operation, each in cycles.items()}
        return cls(units.pop("MAC"), units, int(byte * scale))

    def work(self, task: Task) -> int:
        """A task's cycles (times D) if nothing else were in the way: its compute or its own traffic."""
        compute = task.macs * self.mac + sum(count * self.vector[op] for op, count in task.vector_ops)
        return max(compute, (task.input_bytes + task.weight_bytes + task.output_bytes) * self.byte)


def split_across_cores(all_tasks: list[Task], machine: MachineConfig,
                       staged: Staging | None = None) -> list[list[Task]]:
    """Contiguous shares of about equal work, cut only where a tile's output is complete
    (a tile's partial sums stay on one core) and, with a staged operand, only between whole
    passes over it (so every core needs the staged pieces in the same order)."""
    cores = machine.compute_cores
    costs = _Costs.of(machine)
    work = [costs.work(task) for task in all_tasks]
    total = sum(work)
    shares: list[list[Task]] = [[] for _ in range(cores)]
    done = 0
    core = 0
    for index, (task, cost) in enumerate(zip(all_tasks, work, strict=True)):
        shares[core].append(task)
        done += cost
        following = all_tasks[index + 1] if index + 1 < len(all_tasks) else None
        may_cut = task.output_bytes and (staged is None or following is None
                                         or _pass(following, staged) != _pass(task, staged))
        if may_cut and core < cores - 1 and done * cores >= total * (core + 1):
            core += 1
    return [share for share in shares if share]


def _pass(task: Task, staged: Staging) -> tuple:
    """What a pass over the staged operand is for: with staged weights, one input slab (group
    and spatial tile); with a staged input, one block of output channels."""
    if staged is Staging.WEIGHTS:
        group, _, place = task.input_key
        return group, place
    group, out, _ = task.weight_key
    return group, out


@dataclass(frozen=True)
class Layout:
    """Byte offsets of the on-chip buffers, the same on every core: in NRAM two input slabs (or,
    with the input kept, every slab at its own place, one after another from 0 in the order the
    tasks first read them), the output buffers (two, or one) and the state read once (an LSTM's);
    in WRAM two weight buffers (a core whose blocks all fit keeps them instead, one after another
    from 0: see core_steps)."""

    input_buffers: tuple[int, ...]  # two slab buffers in turn; none when the input is kept
    output_buffers: tuple[int, ...]  # two output tiles in turn, or one
    slab_bytes: int
    output_bytes: int
    weight_block_bytes: int
    state: int
    state_bytes: int
    kept_slabs: dict[tuple, int] | None = None  # with the input kept: each slab's place, by key

    def slab_place(self, key: tuple, buffer: int) -> int:
        """Where in NRAM slab ``key`` is: its own place if kept, else input buffer ``buffer``."""
        return self.input_buffers[buffer] if self.kept_slabs is None else self.kept_slabs[key]

    @property
    def kept_input_bytes(self) -> int:
        """The NRAM the kept slabs take (0: the input is not kept)."""
        return self.output_buffers[0] if self.kept_slabs is not None else 0

    @property
    def weight_buffers(self) -> tuple[int, int]:
        return 0, self.weight_block_bytes


def layout(all_tasks: list[Task], state_bytes: int = 0, buffering: Buffering = DOUBLE_BUFFERED) -> Layout:
    slab = max(task.input_bytes for task in all_tasks)
    # a tile's values: what is written back, or more (an LSTM's gates, of which it writes h and c;
    # the row values of row work after the tile)
    output = max(max(max(task.output_bytes, task.result_bytes + task.row_values_bytes)
                     for task in all_tasks), 1)
    weights = max(task.weight_bytes for task in all_tasks)
    kept: dict[tuple, int] | None = None
    inputs: tuple[int, ...] = (0, slab)
    end = 2 * slab  # of the input's NRAM
    if buffering.input_kept:
        kept, inputs, end = {}, (), 0
        for task in all_tasks:
            if task.input_key not in kept:
                kept[task.input_key] = end
                end += task.input_bytes
    outputs = tuple(end + number * output for number in range(buffering.output_buffers))
    return Layout(inputs, outputs, slab, output, weights, end + len(outputs) * output, state_bytes, kept)


@dataclass(frozen=True)
class DramLayout:
    """Where the layer's tensors lie in DRAM. A move is one contiguous range, so each tensor is
    stored in the order the tiles use it: the input as its slabs one after another (a halo row
    repeated in every slab that reads it), then the state read once (an LSTM's c), the weights
    as their blocks (each block's per-channel values after its weights), the output as its
    tiles in the order they are written. Offsets by key (Task's input_key, weight_key,
    output_key). The header states it, and the program's DRAM operands are these addresses."""

    slabs: dict[tuple, int]
    state: int
    weights: int  # where the first weight block starts
    blocks: dict[tuple, int]
    output: int  # where the first output tile starts
    tiles: dict[tuple, int]
    end: int  # the bytes all of it takes

    @property
    def input_bytes(self) -> int:
        return self.state - min(self.slabs.values(), default=0)


def dram_layout(all_tasks: list[Task], state_bytes: int = 0) -> DramLayout:
    offset = 0
    slabs: dict[tuple, int] = {}
    for task in all_tasks:
        if task.input_key not in slabs:
            slabs[task.input_key] = offset
            offset += task.input_bytes
    state = offset
    offset += state_bytes
    weights = offset
    blocks: dict[tuple, int] = {}
    for task in all_tasks:
        if task.weight_key is not None and task.weight_key not in blocks:
            blocks[task.weight_key] = offset
            offset += task.weight_bytes
    output = offset
    tiles: dict[tuple, int] = {}
    for task in all_tasks:
        if task.output_bytes:
            tiles[task.output_key] = offset
            offset += task.output_bytes
    return DramLayout(slabs, state, weights, blocks, output, tiles, offset)


def _computes(task: Task, slab: int, block: int | None, tile: int, state: int = 0) -> list[Compute | Move]:
    """The task's compute instructions on its slab (NRAM ``slab``), weight block (WRAM ``block``)
    and output tile (NRAM ``tile``). Its matrix work is in the shape form, M*K*N = its MACs, so a
    throughput machine times it as before and a systolic one can map it onto its array; the
    window clause says how A's slab holds each output's window (HWC, see Task.window); a later
    input-channel chunk accumulates into the tile. The vector work follows the problem's steps
    (lowering.VectorStep) on the tile, the slab's maps, the block's per-channel values
    (broadcast) and immediates, and a copy of the values into the tile is a move (an
    embedding's); a problem without steps has its vector work counted only: each operation on
    the tile in place, with the values as B where the block holds them."""
    result = (Memory.NRAM, tile, tile + task.result_bytes)
    values = None
    if task.values_bytes:
        values = (Memory.WRAM, block + task.weight_bytes - task.values_bytes, block + task.weight_bytes)
    instructions = []
    if task.macs:
        weights = (Memory.WRAM, block, block + task.weight_bytes - task.values_bytes)
        instructions.append(mac(task.shape, (Memory.NRAM, slab + task.span[0], slab + task.span[1]), weights,
                                result, not task.first_chunk, task.window))
    if task.steps is not None:
        per_map = task.input_bytes // task.input_tensors

        def region(where: str | float | None, step: VectorStep, part: Part, map_index: int = 0,
                   value_set: int = 0) -> Region | float | None:
            if where == SLAB:
                return Memory.NRAM, slab + map_index * per_map, slab + (map_index + 1) * per_map
            if where == TILE:
                if part is None:
                    return result
                size = task.result_bytes // step.parts
                return Memory.NRAM, tile + part[0] * size, tile + part[1] * size
            if where == VALUES:
                size = (values[2] - values[1]) // task.value_sets
                if step.values_of_row:  # row_length values of the tile's one row (a mask)
                    start = values[1] + task.mask_start * size
                    return Memory.WRAM, start, start + task.row_length * size
                if step.values_by_row:  # the sets of the tile's output rows, one per row
                    first, end = task.output_key[2][1]
                    return Memory.WRAM, values[1] + first * size, values[1] + end * size
                return Memory.WRAM, values[1] + value_set * size, values[1] + (value_set + 1) * size
            if where == ROW_VALUES:  # one value per row of the tile, after the tile
                size = task.row_values_bytes // ROW_SETS
                start = tile + task.result_bytes + map_index * size  # the operand's set
                return Memory.NRAM, start, start + size
            if where == STATE:  # the state of the tile's units (an LSTM's c_prev)
                size = task.result_bytes // step.parts
                return Memory.NRAM, state + task.state_offset, state + task.state_offset + size
            return where  # an immediate, or no B

        for step, count in task.steps:
            if step.operation == COPY:  # a move of the values into the tile, on the move queue
                _, start, end = region(step.a, step, None)
                instructions.append(move(Memory.WRAM, start, Memory.NRAM, tile, end - start))
            elif count:
                rows = None
                if step.rows:
                    rows = Rows(task.row_values_bytes // ROW_SETS // FP32_BYTES, task.row_length)
                instructions.append(vector(f"{step.operation}_32", count,
                                           region(step.a, step, step.a_part, step.a_map),
                                           region(step.b, step, step.b_part, step.b_map, step.values),
                                           region(step.c, step, step.c_part, step.c_set),
                                           _reduced(task) if step.window else None, rows))
        return instructions
    if task.macs:
        a, b = result, values or result
    else:
        per_map = task.input_bytes // task.input_tensors
        a = (Memory.NRAM, slab, slab + per_map)
        b = (Memory.NRAM, slab + per_map, slab + task.input_bytes) if task.input_tensors > 1 else values or a
    for op, count in task.vector_ops:
        if count:
            instructions.append(vector(f"{op}_32", count, a, b, result))
            a, b = result, values or result
    return instructions


def _reduced(task: Task) -> Window:
    """The task's slab as a window reduction reads it (pooling: a kernel of more than one
    position, so never the plain form): every group its own channel."""
    window = task.window
    return Window(window.height, window.width, window.groups * window.channels, window.kernel,
                  window.stride, window.padding, window.dilation)


def _chunks(size: int, parts: int) -> list[int]:
    base, extra = divmod(size, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _staged_key(task: Task, staged: Staging) -> tuple | None:
    return task.weight_key if staged is Staging.WEIGHTS else task.input_key


def staged_pieces(all_tasks: list[Task], staged: Staging) -> dict[tuple, tuple[int, int]]:
    """The staged operand's pieces in the order the cores first need them (the memory core's
    loading order): key -> (position, bytes)."""
    pieces: dict[tuple, tuple[int, int]] = {}
    for task in all_tasks:
        key = _staged_key(task, staged)
        if key is not None and key not in pieces:
            size = task.weight_bytes if staged is Staging.WEIGHTS else task.input_bytes
            pieces[key] = (len(pieces), size)
    return pieces


# Slots of the SharedRAM ring that staged pieces take in turn. The memory core writes piece k
# before its barrier k-1 (pieces 0 and 1 before barrier 0), and a core that copies the pieces in
# loading order, each once, copies piece k after its barrier max(k-1, 0) and before the barrier it
# passes for the next piece: barrier k, or barrier 1 for piece 0 (piece 1 is ready at barrier 0
# too). Piece k+3 goes into piece k's slot after the memory core's barrier k+1, so every copy of
# piece k happens before it. Two slots would not do: piece 2 is written after barrier 0, while
# the cores may still be copying piece 0.
RING_SLOTS = 3


@dataclass(frozen=True)
class SharedLayout:
    """Where the staged pieces lie in the SharedRAM: by key, and whether they share a ring."""

    places: dict[tuple, int]
    ring_slots: int | None  # piece k in slot k mod ring_slots; None: each piece its own place
    slot_bytes: int  # with a ring, each slot's size (the largest piece's)


def copied_pieces(share: list[Task], staged: Staging, keep_weights: bool) -> list[tuple]:
    """The staged pieces a core copies, in its order (as core_steps copies them): an input slab
    whenever the slab changes; a weight block at each run of tasks on it, only the first time if
    the core keeps its blocks."""
    copies: list[tuple] = []
    for index, task in enumerate(share):
        key = _staged_key(task, staged)
        if key is None or (index and _staged_key(share[index - 1], staged) == key):
            continue
        if staged is Staging.WEIGHTS and keep_weights and key in copies:
            continue
        copies.append(key)
    return copies


def shared_layout(pieces: dict[tuple, tuple[int, int]], copies: list[list[tuple]]) -> SharedLayout:
    """A ring of RING_SLOTS slots when every core copies the pieces in loading order, each once
    (``copies``: each core's, see copied_pieces) and the ring is smaller than the operand. Else
    each piece keeps its own place, one after another in loading order: a core that copies a
    piece again on a later pass over the staged operand must find it still there (the whole
    operand fits: see mapping's estimate)."""
    order = sorted(pieces, key=lambda key: pieces[key][0])
    largest = max(size for _, size in pieces.values())
    in_order = all(all(pieces[a][0] < pieces[b][0] for a, b in zip(core, core[1:], strict=False))
                   for core in copies)
    if in_order and RING_SLOTS * largest < sum(size for _, size in pieces.values()):
        return SharedLayout({key: (position % RING_SLOTS) * largest for position, key in enumerate(order)},
                            RING_SLOTS, largest)
    places, offset = {}, 0
    for key in order:
        places[key] = offset
        offset += pieces[key][1]
    return SharedLayout(places, None, 0)


def staging_steps(pieces: dict[tuple, tuple[int, int]], places: dict[tuple, int],
                  origins: dict[tuple, int]) -> list[Step]:
    """The memory core's program: it runs two pieces ahead, fetching pieces 0 and 1 from DRAM
    (``origins``: each piece's place there) into their places in the SharedRAM before barrier 0
    and piece b+2 after barrier b, so a core that has passed barrier b may copy any piece up
    to b+1."""
    order = sorted(pieces, key=lambda key: pieces[key][0])

    def fetch(key: tuple) -> Move:
        return move(Memory.DRAM, origins[key], Memory.SHARED, places[key], pieces[key][1])

    steps = [tuple(fetch(key) for key in order[:2])]
    for barrier in range(len(order)):
        steps.append((BARRIER,))
        if barrier + 2 < len(order):
            steps.append((fetch(order[barrier + 2]),))
    return steps


def resident(share: list[Task], wram_bytes: int) -> bool:
    """Whether every weight block the core uses fits in its WRAM at once, so that each is
    fetched only the first time it is needed."""
    blocks = {task.weight_key: task.weight_bytes for task in share if task.weight_key is not None}
    return sum(blocks.values()) <= wram_bytes


class WeightReuse(StrEnum):
    """How a core holds its weight blocks in WRAM."""

    KEPT = "kept"  # each block at its own place, loaded the first time it is needed, then reused
    STREAMED = "streamed"  # two buffers in turn: the next block streams into the one not in use


@dataclass(frozen=True)
class CorePlan:
    """One core's choices, made before any statement is written: core_steps follows them and the
    header states them (so the two cannot disagree)."""

    core: int
    weights: WeightReuse | None  # None: no weights
    block_places: tuple[int, ...]  # by task: where in WRAM its weight block is
    # The weight runs (first task, end) during which the block of the run after is loaded; the
    # first run's block is loaded before the first step.
    loading_runs: tuple[tuple[int, int], ...]
    slab_loads: int  # input slabs loaded: into the two NRAM input buffers in turn, or each once if kept
    tiles_written: int  # output tiles written back from the two NRAM output buffers in turn

    @property
    def block_loads(self) -> int:
        """Weight blocks loaded into WRAM (in chunks when streamed from DRAM)."""
        return 0 if self.weights is None else 1 + len(self.loading_runs)


def plan_core(core: int, share: list[Task], where: Layout, wram_bytes: int) -> CorePlan:
    """The core's plan: keep its weight blocks if they all fit (see resident), else stream them
    through two buffers; block j+1 loads during the run of tasks on block j (a run: a maximal
    stretch of tasks on one block), unless it is kept already."""
    runs: list[tuple[int, int]] = []
    for index, task in enumerate(share):
        if runs and share[runs[-1][0]].weight_key == task.weight_key:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    has_weights = any(task.weight_bytes for task in share)
    keep = has_weights and resident(share, wram_bytes)
    block_places: list[int] = []
    kept: dict[tuple | None, int] = {}  # each kept block's own place
    free = 0
    for number, (start, end) in enumerate(runs):
        key = share[start].weight_key
        if keep:
            if key not in kept:
                kept[key], free = free, free + share[start].weight_bytes
            place = kept[key]
        else:
            place = where.weight_buffers[number % 2]
        block_places += [place] * (end - start)
    loading: list[tuple[int, int]] = []
    loaded = {share[0].weight_key}
    for run, (next_start, _) in zip(runs, runs[1:], strict=False):
        following = share[next_start]
        if following.weight_bytes and not (keep and following.weight_key in loaded):
            loaded.add(following.weight_key)
            loading.append(run)
    slab_loads = (len({task.input_key for task in share}) if where.kept_slabs is not None
                  else 1 + sum(a.input_key != b.input_key for a, b in zip(share, share[1:], strict=False)))
    return CorePlan(core, None if not has_weights else WeightReuse.KEPT if keep else
                    WeightReuse.STREAMED, tuple(block_places), tuple(loading), slab_loads,
                    sum(1 for task in share if task.output_bytes))


def core_steps(share: list[Task], plan: CorePlan, where: Layout, dram: DramLayout, extra_in: tuple[int, int],
               staged: Staging | None = None, pieces: dict[tuple, tuple[int, int]] | None = None,
               shared: dict[tuple, int] | None = None) -> list[Step]:
    """The core's program as a list of steps, each ending in ``sync``, as ``plan`` says; its DRAM
    operands where ``dram`` puts the data (``extra_in``: the bytes [start, end) of the state it
    reads from dram.state, to the same place in its NRAM's state buffer).

    With a ``staged`` operand its pieces come from their places in the SharedRAM (``shared``:
    see shared_layout), where the memory core puts them (see staging_steps): the core copies a
    piece only after the barrier that makes it ready, and meets every one of the memory core's barriers; the
    barriers start the step whose copy waits for them.
    """
    block_place = plan.block_places
    weight_source = Memory.SHARED if staged is Staging.WEIGHTS else Memory.DRAM
    input_source = Memory.SHARED if staged is Staging.INPUT else Memory.DRAM

    # Where a piece is read from: its place in the SharedRAM when staged, else in DRAM.
    def weight_origin(key: tuple) -> int:
        return shared[key] if staged is Staging.WEIGHTS else dram.blocks[key]

    def input_origin(key: tuple) -> int:
        return shared[key] if staged is Staging.INPUT else dram.slabs[key]

    prefetch: dict[int, tuple[tuple, Move]] = {}  # task index -> (block, the move of a chunk of it)
    for start, end in plan.loading_runs:
        following = share[end]
        # From DRAM the next block trickles in over the run; from the SharedRAM it is quick.
        chunks = ([following.weight_bytes] if staged is Staging.WEIGHTS
                  else _chunks(following.weight_bytes, end - start))
        origin, place, done = weight_origin(following.weight_key), block_place[end], 0
        for offset, chunk in enumerate(chunks):
            if chunk:
                chunk_move = move(weight_source, origin + done, Memory.WRAM, place + done, chunk)
                prefetch[start + offset] = (following.weight_key, chunk_move)
                done += chunk

    steps: list[Step] = []
    waiting: list[Instruction] = []  # barriers that start the next step
    passed = -1  # the last barrier this core has passed

    def ready(key: tuple | None) -> None:
        """Pass the barriers after which the memory core has staged piece ``key``."""
        nonlocal passed
        if pieces is None or key is None:
            return
        needed = max(pieces[key][0] - 1, 0)
        while passed < needed:
            passed += 1
            waiting.append(BARRIER)

    def close(step: list[Instruction]) -> None:
        steps.append((*waiting, *step, SYNC))
        waiting.clear()

    first = share[0]
    if staged:
        ready(_staged_key(first, staged))
    prologue = []
    if first.weight_bytes:
        prologue.append(move(weight_source, weight_origin(first.weight_key), Memory.WRAM, block_place[0],
                             first.weight_bytes))
    prologue.append(move(input_source, input_origin(first.input_key), Memory.NRAM,
                         where.slab_place(first.input_key, 0), first.input_bytes))
    start, end = extra_in
    if end > start:
        prologue.append(move(Memory.DRAM, dram.state + start, Memory.NRAM, where.state + start, end - start))
    close(prologue)

    in_buffer = out_buffer = 0
    loaded = {first.input_key}  # the slabs in NRAM (kept ones stay)
    pending_store: Move | None = None  # the last finished tile's write-back, in the next step
    for index, task in enumerate(share):
        step: list[Instruction] = []
        following = share[index + 1] if index + 1 < len(share) else None
        next_in_buffer = in_buffer
        if following is not None and following.input_key != task.input_key and (
                where.kept_slabs is None or following.input_key not in loaded):
            loaded.add(following.input_key)
            next_in_buffer = 1 - in_buffer
            if staged is Staging.INPUT:
                ready(following.input_key)
            step.append(move(input_source, input_origin(following.input_key), Memory.NRAM,
                             where.slab_place(following.input_key, next_in_buffer), following.input_bytes))
        if pending_store is not None:
            step.append(pending_store)
            pending_store = None
        if index in prefetch:
            key, chunk = prefetch[index]
            if staged is Staging.WEIGHTS:
                ready(key)
            step.append(chunk)
        step += _computes(task, where.slab_place(task.input_key, in_buffer), block_place[index],
                          where.output_buffers[out_buffer], where.state)
        close(step)
        if task.output_bytes:
            store = move(Memory.NRAM, where.output_buffers[out_buffer], Memory.DRAM,
                         dram.tiles[task.output_key], task.output_bytes)
            if len(where.output_buffers) == 1:  # the next tile goes into this buffer: store it first
                close([store])
            else:
                pending_store = store
            out_buffer = (out_buffer + 1) % len(where.output_buffers)
        in_buffer = next_in_buffer

    if pending_store is not None:
        close([pending_store])
    if pieces is not None:  # every core meets every barrier of the memory core
        while passed < len(pieces) - 1:
            passed += 1
            steps.append((BARRIER,))
    return steps


def state_share(share: list[Task], unit: int, state_bytes: int, first_core: bool) -> tuple[int, int]:
    """The bytes [start, end) of the state read once (an LSTM's c_prev) that a core's tasks use: with
    a state per ``unit`` output channels (an LSTM's hidden unit per four gates), the units of its
    output channels; else all of it, on the first core."""
    if not state_bytes:
        return 0, 0
    if unit == 1:
        return (0, state_bytes) if first_core else (0, 0)
    return (min(task.state_offset for task in share),
            max(task.state_offset + task.result_bytes // unit for task in share))


def statement_limit(tasks: int, vector_operations: int, cores: int) -> int:
    """The most statements (instructions and loop lines) a mapping of ``tasks`` tasks with
    ``vector_operations`` vector instructions per task writes on ``cores`` compute cores (module doc)."""
    return 2 * (tasks * (7 + vector_operations + cores) + 6 * cores + 2)


# Step numbers fold() may compare per step it folds, at most: the budget that keeps its work
# linear in the steps. Periodic pipelines fold within a few comparisons per step; past the
# budget the rest is written out unfolded (longer, never wrong: only equal bodies become loops).
# 256, not 64: with DRAM addresses, bodies equal but for addresses that stop advancing evenly (a
# new group's slabs) are candidates too, and 64 left vgg16 conv4_2 on dlp-s at 901 lines, not 187.
FOLD_COMPARISONS_PER_STEP = 256


@dataclass(frozen=True)
class Folded:
    """What fold() wrote, and the work it took."""

    statements: int  # instructions and loop lines written
    comparisons: int  # step numbers compared to find repeats (at most the budget)


class _Budget:
    """What one fold() has left to compare and has written so far (mutable: a running count)."""

    def __init__(self, comparisons: int):
        self.left = comparisons
        self.statements = 0


# Names of the indices of folded loops, by nesting depth (deeper ones: i4, i5, ...).
INDEX_NAMES = ("i", "j", "k", "l")


def _index_name(depth: int) -> str:
    return INDEX_NAMES[depth] if depth < len(INDEX_NAMES) else f"i{depth}"


def _template(instruction: Instruction) -> tuple[object, int | None]:
    """An instruction without its DRAM address, and that address (None if it names no DRAM):
    steps whose templates are equal fold when their addresses advance evenly."""
    if isinstance(instruction, Move) and instruction.touches_dram:
        dram_end = instruction.source if instruction.source.memory is Memory.DRAM else instruction.destination
        other = instruction.destination if dram_end is instruction.source else instruction.source
        return ((dram_end is instruction.source, other.memory, other.offset, other.strides, dram_end.strides,
                 instruction.size), dram_end.offset)
    return id(instruction), None


def _with_stride(instruction: Instruction, name: str, stride: int) -> Instruction:
    """The move with its DRAM address advancing ``stride`` bytes per iteration of index ``name``."""
    assert isinstance(instruction, Move)

    def advancing(operand: Operand) -> Operand:
        if operand.memory is not Memory.DRAM:
            return operand
        strides: Strides = (*operand.strides, (name, stride))
        return Operand(operand.memory, operand.offset, operand.location, operand.end, strides)

    return Move(advancing(instruction.source), advancing(instruction.destination), instruction.size,
                instruction.location)


def fold(steps: list[Step], writer: ProgramWriter) -> Folded:
    """Write steps, folding each run of a repeated body of steps into a loop, and the body's own
    repeats into loops inside it; at most FOLD_COMPARISONS_PER_STEP step comparisons per step.

    Steps repeat when their instructions are equal but for DRAM addresses (see _template) that
    advance by the same bytes from each repetition of the body to the next: the loop gets an
    index, and each such address its stride. The body is often one step or a ping/pong pair;
    staged pieces copied from a ring of RING_SLOTS slots in the SharedRAM make it RING_SLOTS
    steps or a multiple; a core that passes over a staged operand again copies its pieces from
    their own places in the SharedRAM, so its body is a whole pass (or two, as the buffers
    alternate). Each step is reduced to a number by its templates and to its DRAM addresses;
    bodies are compared as lists of numbers, then their addresses."""
    budget = _Budget(FOLD_COMPARISONS_PER_STEP * len(steps))
    _fold_steps(steps, writer, budget, 0)
    return Folded(budget.statements, FOLD_COMPARISONS_PER_STEP * len(steps) - budget.left)


def _fold_steps(steps: list[Step], writer: ProgramWriter, budget: _Budget, depth: int) -> None:
    numbers: dict[tuple, int] = {}
    sequence: list[int] = []
    addresses: list[int] = []  # every step's DRAM addresses, one after another
    starts = [0]  # where each step's begin in addresses
    templates: dict[int, tuple[object, int | None]] = {}
    for step in steps:
        key = []
        for instruction in step:
            template = templates.get(id(instruction))
            if template is None:
                template = templates[id(instruction)] = _template(instruction)
            key.append(template[0])
            if template[1] is not None:
                addresses.append(template[1])
        sequence.append(numbers.setdefault(tuple(key), len(numbers)))
        starts.append(len(addresses))
    _fold(steps, sequence, _Addresses(starts, np.array(addresses, dtype=np.int64)), writer, budget, depth)


@dataclass(frozen=True)
class _Addresses:
    """The DRAM addresses of a run of steps: step i's are values[starts[i]:starts[i + 1]]."""

    starts: list[int]
    values: np.ndarray

    def repeats(self, start: int, period: int, most: int) -> tuple[int, list[tuple[int, ...]]]:
        """Of ``most`` repetitions of a body of ``period`` steps at ``start`` (equal but for their
        DRAM addresses), how many from the first advance their addresses evenly, and by how many
        bytes per repetition (by step, by address)."""
        first = self.starts[start]
        length = self.starts[start + period] - first
        strides = np.zeros(length, dtype=np.int64)
        if length:
            block = self.values[first:first + most * length].reshape(most, length)
            steps = block[1:] - block[:-1]
            strides = steps[0]
            uneven = np.flatnonzero((steps != strides).any(axis=1))
            if len(uneven):
                most = int(uneven[0]) + 1
        bounds = [self.starts[start + offset] - first for offset in range(period + 1)]
        return most, [tuple(int(each) for each in strides[bounds[o]:bounds[o + 1]]) for o in range(period)]


def _fold(steps: list[Step], sequence: list[int], addresses: _Addresses, writer: ProgramWriter,
          budget: _Budget, depth: int) -> None:
    # A body of period p >= 2 repeated from i has sequence[i + p : i + p + 2] equal to
    # sequence[i : i + 2]: so the periods worth comparing at i are the distances to the later
    # places of the same pair of numbers (period 1 apart); each place knows the next one.
    pairs = [(number, sequence[index + 1] if index + 1 < len(sequence) else -1)
             for index, number in enumerate(sequence)]
    following: list[int | None] = [None] * len(sequence)
    last_seen: dict[tuple[int, int], int] = {}
    for index in range(len(sequence) - 1, -1, -1):
        following[index] = last_seen.get(pairs[index])
        last_seen[pairs[index]] = index
    index = 0
    while index < len(sequence):
        best_period, best_repeats = 1, 1
        if index + 1 < len(sequence) and sequence[index + 1] == sequence[index] and budget.left >= 2:
            best_repeats = _even_repeats(sequence, addresses, index, 1, budget)
        end = following[index]
        while end is not None and 2 * (end - index) <= len(sequence) - index and budget.left > 0:
            period = end - index
            budget.left -= 1  # looking at a candidate costs a comparison, even one skipped
            # a body of this period covers at most this much: if no more than the best, skip it
            if period > 1 and (len(sequence) - index) // period * period > best_repeats * best_period:
                if budget.left < 2 * period:
                    break
                repeats = _even_repeats(sequence, addresses, index, period, budget)
                if repeats >= 2 and repeats * period > best_repeats * best_period:
                    best_period, best_repeats = period, repeats
            end = following[end]
        if best_repeats < 2:
            for instruction in steps[index]:
                writer.instruction(instruction)
            budget.statements += len(steps[index])
        else:
            body = steps[index:index + best_period]
            _, strides = addresses.repeats(index, best_period, best_repeats)
            if any(any(step) for step in strides):
                name = _index_name(depth)
                body = [_advancing(step, name, step_strides)
                        for step, step_strides in zip(body, strides, strict=True)]
                writer.loop(best_repeats, name)
            else:
                writer.loop(best_repeats)
            budget.statements += 1
            _fold_steps(body, writer, budget, depth + 1)
            writer.endloop()
        index += best_period * best_repeats


def _even_repeats(sequence: list[int], addresses: _Addresses, index: int, period: int,
                  budget: _Budget) -> int:
    """How many times the body of ``period`` numbers at ``index`` repeats from there with its
    DRAM addresses advancing evenly, counting each number compared against the budget (and
    stopping when it runs out): a repetition whose addresses break the progression ends the
    count at once, so the budget pays only for repetitions that fold."""
    body = sequence[index:index + period]
    first = addresses.starts[index]
    length = addresses.starts[index + period] - first  # equal bodies hold as many addresses
    values = addresses.values
    stride = None
    repeats = 1
    budget.left -= period
    while budget.left >= period and sequence[index + repeats * period:index + (repeats + 1) * period] == body:
        if length:
            start = first + repeats * length
            advance = values[start:start + length] - values[start - length:start]
            if stride is None:
                stride = advance
            elif not np.array_equal(advance, stride):
                break
        budget.left -= period
        repeats += 1
    return repeats


def _advancing(step: Step, name: str, strides: tuple[int, ...]) -> Step:
    """The step with each DRAM address advancing by its stride per iteration of ``name``."""
    result: list[Instruction] = []
    remaining = iter(strides)
    for instruction in step:
        if isinstance(instruction, Move) and instruction.touches_dram:
            stride = next(remaining)
            result.append(_with_stride(instruction, name, stride) if stride else instruction)
        else:
            result.append(instruction)
    return tuple(result)
