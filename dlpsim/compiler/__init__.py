"""The compiler: a layer and a machine -> a program in the ISA that ``dlpsim run`` accepts.

Three steps, kept apart as Timeloop keeps workload, architecture and mapping apart:
``lowering`` puts every layer in one shape (a grouped window operator), ``mapping``
chooses tiles, loop order and the split across cores, and ``codegen`` writes each
core's double-buffered pipeline as the ISA's typed statements. This package offers
the pure steps: :func:`lower`, :func:`rank_mappings`, :func:`build` (a mapping's
program and its figures) and :func:`finish` (the header comment on top). Which of the
ranked mappings to keep is decided by simulating them: that search is
dlpsim.run.compile's, so the compiler does not depend on the simulator.
"""

from __future__ import annotations

import dataclasses
import functools
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.asm import Program
from dlpsim.asm.opcodes import COMPUTE_TYPES, ComputeType
from dlpsim.asm.printer import Comment, ProgramWriter, moved, print_program
from dlpsim.asm.program import MEMORY_CORE, Compute, CoreId, Move, repetitions
from dlpsim.compiler import lowering
from dlpsim.compiler.codegen import (
    CorePlan,
    DramLayout,
    Folded,
    Layout,
    SharedLayout,
    WeightReuse,
    copied_pieces,
    core_steps,
    dram_layout,
    fold,
    layout,
    plan_core,
    shared_layout,
    split_across_cores,
    staged_pieces,
    staging_steps,
    state_share,
    tasks,
)
from dlpsim.compiler.lowering import Problem, check_lowering
from dlpsim.compiler.mapping import KEPT_MAPPINGS, LoopOrder, Mapping, Objective, Staging, rank
from dlpsim.compiler.packing import DramTensors, dram_tensors
from dlpsim.errors import WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.results.bound import NO_WORK
from dlpsim.units import describe_size, format_size
from dlpsim.workloads.layers import Layer, format_shape

__all__ = ["KEPT_MAPPINGS", "CodegenWork", "CompiledLayer", "MappedProgram", "Objective", "build",
           "build_nothing", "check_fits_dram", "finish", "layer_bound", "lower", "rank_mappings"]

# The file a mapping's program names before finish() puts it under its layer's name.
TRIAL_FILE = "trial.asm"


@dataclass(frozen=True)
class CompiledLayer:
    layer: Layer
    machine: MachineConfig
    mapping: Mapping | None  # None for a layer with nothing to move or compute (concat)
    header: tuple[str, ...]  # the lines of the header comment, without their "; "
    body: MappedProgram  # the program below the header
    macs: int  # in the program, equal to the layer's
    dram_bytes: int  # the program's DRAM traffic
    bound: Bound  # the program's roofline bound

    @property
    def file(self) -> str:
        """The name the program goes by: in its statements' locations and its simulated runs."""
        return f"{self.layer.label}.asm"

    @functools.cached_property
    def _placed(self) -> tuple[Program, tuple[Comment, ...]]:
        """The body moved below the header, when first asked for (net run does not need the
        program of a layer the compiler has simulated)."""
        program, comments = moved(self.body.program, self.body.comments, self.file, len(self.header) + 1)
        header = tuple(Comment(line, text) for line, text in enumerate(self.header, start=1))
        return program, header + comments

    @property
    def program(self) -> Program:
        """Each statement at its line and column of ``text``."""
        return self._placed[0]

    @property
    def comments(self) -> tuple[Comment, ...]:
        """The header's and the body's comment lines."""
        return self._placed[1]

    @property
    def text(self) -> str:
        """The program as `dlpsim compile` prints it (and assemble() reads back as ``program``)."""
        return print_program(self.program, self.comments)


@dataclass(frozen=True)
class MappedProgram:
    """The program of one mapping (file TRIAL_FILE, lines from 1, no header), and its figures."""

    mapping: Mapping | None  # None: nothing to do
    program: Program
    comments: tuple[Comment, ...]
    cores_used: int
    where: Layout | None  # the on-chip buffers (None: no tiles)
    dram: DramLayout | None  # where the tensors lie in DRAM (None: no tiles)
    shared: SharedLayout | None  # where the staged pieces lie in the SharedRAM (None: nothing staged)
    plans: tuple[CorePlan, ...]  # each core's choices, which the program follows and the header states
    tensors: DramTensors | None  # the pieces of the tensors in DRAM, which the header and the packers read
    macs: int
    dram_bytes: int
    bound: Bound
    work: CodegenWork


@dataclass(frozen=True)
class CodegenWork:
    """What writing one mapping's program took: its statements at most codegen.statement_limit()
    of the layer, its comparisons at most FOLD_COMPARISONS_PER_STEP per step (codegen's doc)."""

    tasks: int
    steps: int  # over every core, the memory core's included
    statements: int  # instructions and loop lines written
    comparisons: int  # step numbers compared while folding


def lower(layer: Layer, batch: int = 1) -> Problem | None:
    """The layer on ``batch`` samples as one Problem, checked against the layer's own figures;
    None for a layer with nothing to do (a concatenation or another view)."""
    problem = lowering.lower(layer, batch)
    if problem is not None:
        check_lowering(layer, problem, batch)
    return problem


def check_fits_dram(layer: Layer, machine: MachineConfig, batch: int = 1) -> None:
    """Refuse a layer whose data on ``batch`` samples (inputs, weights, outputs) do not fit the
    machine's DRAM, before any work on it."""
    problem = lowering.lower(layer, batch)
    if problem is None:
        return
    need = problem.input_bytes + problem.weight_bytes + problem.output_bytes
    if need > machine.dram.capacity_bytes:
        at = f" at batch {batch}" if batch > 1 else ""
        raise WorkloadError(f"{layer.label}: its inputs, weights and outputs{at} take {need:,} B, "
                            f"more than the {format_size(machine.dram.capacity_bytes)} DRAM of "
                            f"{machine.name}")


def rank_mappings(problem: Problem, machine: MachineConfig,
                  objective: Objective = Objective.TIME) -> list[Mapping]:
    """The mappings worth trying for ``objective``, best by the estimate first (a WorkloadError if
    none fits)."""
    return list(rank(problem, machine, objective).mappings)


def layer_bound(problem: Problem, machine: MachineConfig) -> Bound:
    """The roofline bound of the layer itself, before any mapping: its work at the compute units'
    peak rates over every core, and its own data (input, weights, output) over DRAM once. Every
    program the compiler writes does this work and moves at least these bytes (each input element
    at least once: see mapping.input_span), so none can run in fewer cycles."""
    compute = Fraction(problem.macs) / machine.ops_per_cycle(COMPUTE_TYPES["MAC_32"])
    for operation, count in problem.vector_ops:
        compute += Fraction(count) / machine.ops_per_cycle(COMPUTE_TYPES[f"{operation}_32"])
    data = problem.input_bytes + problem.weight_bytes + problem.output_bytes
    return Bound.of(compute, machine.compute_cores, data, machine.bytes_per_cycle(machine.dram.link))


def _program_figures(program: Program, machine: MachineConfig) -> tuple[int, int, Fraction]:
    """MACs, DRAM bytes and compute cycles (all cores) of a program, read from its statements."""
    macs = dram = 0
    operations: Counter[ComputeType] = Counter()
    cores = [CoreId(i) for i in range(machine.compute_cores)]
    if machine.has_memory_core:  # it stages data from DRAM into the SharedRAM
        cores.append(MEMORY_CORE)
    for core in cores:
        for instruction, times in repetitions(program.stream(core)):
            if isinstance(instruction, Compute):
                operations[instruction.type] += times * instruction.count
            elif isinstance(instruction, Move) and instruction.touches_dram:
                dram += times * instruction.size
    compute = Fraction(0)
    for kind, count in operations.items():
        if kind.operation == "MAC":
            macs += count
        compute += Fraction(count) / machine.ops_per_cycle(kind)
    return macs, dram, compute


# How the header names the candidate each objective picks.
CHOSEN_AS = {Objective.TIME: "fastest", Objective.ENERGY: "least energy",
             Objective.EDP: "least energy x cycles"}


def _header(layer: Layer, problem: Problem | None, mapping: Mapping | None, machine: MachineConfig,
            body: MappedProgram, tried: int = 1, objective: Objective = Objective.TIME) -> list[str]:
    """The header comment's lines, without their ``; ``."""
    macs, dram, bound, where = body.macs, body.dram_bytes, body.bound, body.where
    if problem is not None:  # the layer's figures on the problem's samples (see check_lowering)
        own_in, own_weights = problem.input_bytes, problem.weight_bytes
        if problem.activation_weights:
            own_in, own_weights = own_in + own_weights, 0
    shapes = ", ".join(format_shape(shape) for shape in layer.input_shapes)
    lines = [
        f"{layer.label}: {layer.describe()}, input {shapes} -> output {format_shape(layer.output_shape)}",
        f"compiled by dlpsim for {machine.name} ({machine.compute_cores} compute core"
        f"{'s' if machine.compute_cores > 1 else ''})",
        "",
        f"work:   {macs} MACs; vector ops "
        + (", ".join(f"{op} {count}" for op, count in problem.vector_ops) if problem and problem.vector_ops
           else "none"),
    ]
    if mapping is not None:
        tile = mapping.tile
        p = mapping.problem
        lines += [
            f"tile:   {tile.groups} of {p.groups} groups x {tile.out_channels} of {p.out_channels} output "
            f"channels x {tile.in_channels} of {p.in_channels} input channels x {tile.rows} of "
            f"{p.out_height} rows x {tile.columns} of {p.out_width} columns"
            + (f", for each of {p.batch} samples with the same weights" if p.batch > 1 else ""),
            f"order:  {mapping.order} (" + ("for each weight block, every input slab in turn"
                                            if mapping.order is LoopOrder.WEIGHTS_OUTER else
                                            "for each input slab, every weight block in turn") + ")"
            + ("; input channels split, partial sums accumulate in NRAM" if tile.in_channels < p.in_channels
               else ""),
            f"cores:  {body.cores_used} of {machine.compute_cores}, each a contiguous share of the tiles"
            + (f"; the memory core stages the {mapping.staged} in the SharedRAM two pieces ahead, and "
               "the cores copy each piece from there after the barrier that makes it ready"
               if mapping.staged else ""),
            _nram_line(where, body.plans),
            *_wram_lines(where, body.plans, mapping.staged),
        ]
        if mapping.staged:
            lines.append(_shared_line(mapping, body.dram, body.shared))
        lines += _dram_lines(layer, p, body.dram, body.tensors)
    lines += [
        f"        {describe_size(dram)} moved; the layer's own data are "
        f"{describe_size(own_in)} in, {describe_size(own_weights)} weights, "
        f"{describe_size(problem.output_bytes)} out" if mapping is not None else
        f"DRAM:   {describe_size(dram)} moved",
        f"bound:  {bound.cycles} cycles "
        f"({bound.limit}: compute {bound.compute_cycles}, DRAM {bound.dram_cycles})"
        + (f"; the tiler estimated {mapping.estimated_cycles}" if mapping else "")
        + (f", and chose this mapping as the {CHOSEN_AS[objective]} of its best {tried} when simulated"
           if tried > 1 else "")
        + (f" (objective: {objective})" if objective is not Objective.TIME else ""),
    ]
    if mapping is not None:
        lines += _step_lines(mapping, body.plans)
    return lines


def _cores(plans: Sequence[CorePlan]) -> str:
    numbers = [plan.core for plan in plans]
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
        return f"{numbers[0]}-{numbers[-1]}"
    if len(numbers) == 1:
        return str(numbers[0])
    return ", ".join(map(str, numbers[:-1])) + " and " + str(numbers[-1])


def _counted(plans: Sequence[CorePlan], figure: Callable[[CorePlan], int], noun: str) -> str:
    """``figure`` of each core, e.g. "64 slab loads" (one core), "16 slab loads on each of cores
    0-3", "16, 16, 16 and 12 slab loads on cores 0-3"."""
    values = [figure(plan) for plan in plans]
    if len(values) == 1:
        return f"{values[0]} {noun}"
    if len(set(values)) == 1:
        return f"{values[0]} {noun} on each of cores {_cores(plans)}"
    return f"{', '.join(map(str, values[:-1]))} and {values[-1]} {noun} on cores {_cores(plans)}"


def _nram_line(where: Layout, plans: Sequence[CorePlan]) -> str:
    slab_loads = _counted(plans, lambda plan: plan.slab_loads, "slab loads")
    if where.kept_slabs is None:
        inputs = (f"input slabs at {where.input_buffers[0]:#x} and {where.input_buffers[1]:#x} "
                  f"({describe_size(where.slab_bytes)} each) in turn: {slab_loads}")
    else:
        inputs = (f"the input kept whole, its {len(where.kept_slabs)} slabs (whole maps) at their own "
                  f"places one after another from 0x0 ({describe_size(where.kept_input_bytes)}), each "
                  f"loaded the first time it is read: {slab_loads}")
    tiles_written = _counted(plans, lambda plan: plan.tiles_written, "tiles written back")
    if len(where.output_buffers) == 2:
        outputs = (f"output tiles at {where.output_buffers[0]:#x} and {where.output_buffers[1]:#x} "
                   f"({describe_size(where.output_bytes)} each) in turn: {tiles_written}")
    else:
        outputs = (f"one output tile buffer at {where.output_buffers[0]:#x} "
                   f"({describe_size(where.output_bytes)}), each tile written back in a step of its own "
                   f"before the next is computed there: {tiles_written}")
    return (f"NRAM:   {inputs}; {outputs}"
            + (f"; the state at {where.state:#x} ({describe_size(where.state_bytes)})" if where.state_bytes
               else ""))


def _wram_lines(where: Layout, plans: Sequence[CorePlan], staged: Staging | None) -> list[str]:
    """What the cores do with WRAM, as their plans say: one line per choice (kept or streamed),
    naming the cores only when they chose differently."""
    lines = []
    for reuse in WeightReuse:
        chosen = [plan for plan in plans if plan.weights is reuse]
        if not chosen:
            continue
        who = "" if len(chosen) == len(plans) else f"core {_cores(chosen)}: " if len(chosen) == 1 else \
            f"cores {_cores(chosen)}: "
        loads = _counted(chosen, lambda plan: plan.block_loads, "block loads")
        if reuse is WeightReuse.KEPT:
            lines.append(f"{who}every weight block kept at its own place, one after another from 0x0, "
                         f"loaded once and reused by every later step on it: {loads}, each into a place "
                         "of its own")
        else:
            first, second = where.weight_buffers
            how = "copied whole from the SharedRAM" if staged is Staging.WEIGHTS else "streaming in chunks"
            lines.append(f"{who}weight buffers at {first:#x} and {second:#x} "
                         f"({describe_size(where.weight_block_bytes)} each) in turn: {loads}, the next block "
                         f"{how} into the free buffer while the other is in use")
    if not lines:
        return ["WRAM:   unused"]
    return [("WRAM:   " if number == 0 else "        ") + line for number, line in enumerate(lines)]


def _step_lines(mapping: Mapping, plans: Sequence[CorePlan]) -> list[str]:
    """What one step of the pipeline does, as the plans say."""
    doing = []
    if any(plan.slab_loads > 1 for plan in plans):
        doing.append("the next input slab comes in" + (" (copied from the SharedRAM)"
                                                        if mapping.staged is Staging.INPUT else "")
                     + (" if it is not kept already" if mapping.buffering.input_kept else ""))
    if mapping.buffering.output_buffers == 2:
        doing.append("the previous output tile goes back to DRAM")
    if any(plan.block_loads > 1 for plan in plans):
        doing.append("the next weight block comes in when one is due"
                     + (" (copied from the SharedRAM)" if mapping.staged is Staging.WEIGHTS else ""))
    listed = "" if not doing else doing[0] if len(doing) == 1 else f"{', '.join(doing[:-1])} and {doing[-1]}"
    text = (f"Each step: while the compute queue works on the current tile, {listed}; one sync ends it."
            if doing else "Each step: the compute queue works on the current tile; one sync ends it.")
    if mapping.buffering.output_buffers == 1:
        text += " A finished tile goes back to DRAM in a step of its own (there is one output buffer)."
    return ["", *textwrap.wrap(text, 96)]


def _shared_line(mapping: Mapping, dram: DramLayout, shared: SharedLayout) -> str:
    pieces = dram.slabs if mapping.staged is Staging.INPUT else dram.blocks
    if shared.ring_slots:
        return (f"SharedRAM: the staged {mapping.staged}, its {len(pieces)} pieces in a ring of "
                f"{shared.ring_slots} slots of {describe_size(shared.slot_bytes)} from 0x0, piece k in slot "
                f"k mod {shared.ring_slots}: every core copies each piece once, in order, before the "
                "barrier after which the memory core refills its slot")
    size = dram.state if mapping.staged is Staging.INPUT else dram.output - dram.weights
    return (f"SharedRAM: the staged {mapping.staged}, its {len(pieces)} pieces one after another from 0x0 "
            f"({describe_size(size)}), each kept for the cores' later passes")


def _dram_lines(layer: Layer, problem: Problem, dram: DramLayout, tensors: DramTensors) -> list[str]:
    """Where the layer's tensors lie in DRAM and how each piece holds its values: the records
    the packers (compiler.packing) read too (see codegen.DramLayout, packing's module doc)."""
    # a matrix product's second operand is among the weights' blocks (see lowering)
    inputs = layer.input_shapes[:1] if problem.activation_weights else layer.input_shapes
    maps = " and ".join(format_shape(shape) for shape in inputs)
    side_by_side = ", the maps side by side" if len(inputs) > 1 else ""
    halo = ", halos repeated" if dram.state > problem.input_bytes - problem.extra_input_bytes else ""
    geometry = (f"G {problem.groups} x IC {problem.in_channels} x H {problem.in_height} x W "
                f"{problem.in_width}")
    lines = [f"DRAM:   input at 0x0 ({maps}, seen as {geometry}): {len(dram.slabs)} slabs "
             f"{_range(0, tensors.input_end)} one after another as the tiles read them, each its span's "
             f"rows x columns x channels (HWC, group g's channel c at g*IC + c){side_by_side}{halo}"]
    if dram.weights > dram.state:
        lines.append(f"        state at {dram.state:#x} ({describe_size(dram.weights - dram.state)}), "
                     "read once")
    values = problem.per_channel_values
    if dram.blocks and problem.masked:
        lines.append(f"        mask at {dram.weights:#x} (constants, not parameters: {problem.row_length} "
                     f"zeros, then {problem.mask_queries - 1} -infs): {len(dram.blocks)} block "
                     f"{_range(dram.weights, dram.output)}; row t's mask, 0 where its query t mod "
                     f"{problem.mask_queries} sees the key and -inf after it, is the {problem.row_length} "
                     f"values from {problem.mask_queries - 1} - t mod {problem.mask_queries} on, added "
                     "to its runs")
    elif dram.blocks and problem.activation_weights:
        second = format_shape(layer.input_shapes[1])
        lines.append(f"        second operand at {dram.weights:#x} ({second}, an activation: its "
                     f"{len(dram.blocks)} blocks of the tile in the order used)")
    elif dram.blocks and problem.matrix:
        lines.append(f"        weights at {dram.weights:#x} (G {problem.groups} x N {problem.out_channels} "
                     f"x IC {problem.in_channels} x {problem.kernel[0]}x{problem.kernel[1]}): "
                     f"{len(dram.blocks)} blocks {_range(dram.weights, dram.output)} in the order used, each "
                     f"per group (KH*KW*IC) x N row-major, row (i*KW + j)*IC + c")
    elif dram.blocks:
        lines.append(f"        weights at {dram.weights:#x} (none: {values} per-channel value set"
                     f"{'s' if values != 1 else ''}): {len(dram.blocks)} blocks "
                     f"{_range(dram.weights, dram.output)} in the order used")
    if dram.blocks and values and not problem.activation_weights and not problem.masked:
        if problem.matrix:
            what, use = "the bias", "broadcast over the tile's positions"
        elif values == 1:
            what, use = "the values (looked-up table rows, gathered by the host)", "copied into the tile"
        elif values == 2:
            what, use = "the scale, then the shift", "broadcast over the tile's positions"
        else:
            what, use = f"{values} value sets (a table row per row)", "the tile's rows' sets added to it"
        lines.append(f"        {what}: G x N values per set after the weights of each block of the "
                     f"first input-channel chunk, {use}")
    lines.append(f"        output at {dram.output:#x} ({format_shape(layer.output_shape)}, seen as G "
                 f"{problem.groups} x N {problem.out_channels} x OH {problem.out_height} x OW "
                 f"{problem.out_width}): {len(dram.tiles)} tiles {_range(dram.output, dram.end)} in the "
                 "order written, each positions x groups x N (rows x columns x channels)")
    return lines


def _range(start: int, end: int) -> str:
    return f"[{start:#x}, {end:#x})"


def build(problem: Problem, mapping: Mapping, machine: MachineConfig) -> MappedProgram:
    """The program of one mapping, and its figures."""
    all_tasks = tasks(mapping)
    shares = split_across_cores(all_tasks, machine, mapping.staged)
    where = layout(all_tasks, problem.extra_input_bytes, mapping.buffering)
    dram = dram_layout(all_tasks, problem.extra_input_bytes)
    writer = ProgramWriter(TRIAL_FILE)
    writer.machine_line(machine.name)
    plans = tuple(plan_core(index, share, where, machine.core.wram.capacity_bytes)
                  for index, share in enumerate(shares))
    pieces = staged_pieces(all_tasks, mapping.staged) if mapping.staged else None
    shared = None
    folded: list[Folded] = []
    step_count = 0
    if pieces:
        shared = shared_layout(pieces, [copied_pieces(share, mapping.staged, plan.weights is WeightReuse.KEPT)
                                        for share, plan in zip(shares, plans, strict=True)])
        writer.blank()
        writer.core(None, memory_core=True)
        writer.comment(f"stage the {mapping.staged} in the SharedRAM, two pieces ahead of the cores")
        origins = dram.slabs if mapping.staged is Staging.INPUT else dram.blocks
        steps = staging_steps(pieces, shared.places, origins)
        step_count += len(steps)
        folded.append(fold(steps, writer))
    for share, plan in zip(shares, plans, strict=True):
        state = state_share(share, problem.out_channel_unit, problem.extra_input_bytes, plan.core == 0)
        steps = core_steps(share, plan, where, dram, state,
                           mapping.staged, pieces, None if shared is None else shared.places)
        writer.blank()
        if machine.compute_cores > 1:
            writer.core((plan.core,))
        step_count += len(steps)
        folded.append(fold(steps, writer))
    program = writer.program()
    macs, dram_bytes, compute = _program_figures(program, machine)
    bound = Bound.of(compute, machine.compute_cores, dram_bytes, machine.bytes_per_cycle(machine.dram.link))
    work = CodegenWork(len(all_tasks), step_count, sum(each.statements for each in folded),
                       sum(each.comparisons for each in folded))
    return MappedProgram(mapping, program, tuple(writer.comments), len(shares), where, dram, shared,
                         plans, dram_tensors(problem, all_tasks, dram), macs, dram_bytes, bound, work)


def build_nothing(machine: MachineConfig) -> MappedProgram:
    """The program of a layer with nothing to do."""
    writer = ProgramWriter(TRIAL_FILE)
    writer.machine_line(machine.name)
    writer.comment("nothing to do: the producers of a concatenation write straight into their")
    writer.comment("slices of its output, so it moves no data of its own (an assumption)")
    return MappedProgram(None, writer.program(), tuple(writer.comments), 0, None, None, None, (), None, 0, 0,
                         NO_WORK, CodegenWork(0, 0, 0, 0))


def finish(layer: Layer, machine: MachineConfig, problem: Problem | None, body: MappedProgram,
           tried: int = 1, objective: Objective = Objective.TIME) -> CompiledLayer:
    """The layer's program: ``body`` (built for ``problem`` or a problem of its shape) under the
    header comment that explains it; ``tried`` candidates were simulated to choose it by
    ``objective``."""
    mapping = None if body.mapping is None else dataclasses.replace(body.mapping, problem=problem)
    header = _header(layer, problem, mapping, machine, body, tried, objective)
    return CompiledLayer(layer, machine, mapping, tuple(header), body, body.macs, body.dram_bytes, body.bound)
