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
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.asm import Program
from dlpsim.asm.opcodes import ComputeType
from dlpsim.asm.printer import Comment, ProgramWriter, moved, print_program
from dlpsim.asm.program import MEMORY_CORE, Compute, CoreId, Move, repetitions
from dlpsim.compiler import lowering
from dlpsim.compiler.codegen import (
    DramLayout,
    Layout,
    SharedLayout,
    copied_pieces,
    core_steps,
    dram_layout,
    fold,
    layout,
    resident,
    shared_layout,
    split_across_cores,
    staged_pieces,
    staging_steps,
    tasks,
)
from dlpsim.compiler.lowering import Problem, check_lowering
from dlpsim.compiler.mapping import KEPT_MAPPINGS, LoopOrder, Mapping, Staging, choose_mappings
from dlpsim.errors import WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.results.bound import NO_WORK
from dlpsim.units import describe_size, format_size
from dlpsim.workloads.layers import Layer, format_shape

__all__ = ["CompiledLayer", "MappedProgram", "build", "build_nothing", "check_fits_dram", "finish", "lower",
           "rank_mappings"]

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
    kept_weights: bool  # some core keeps every weight block it uses in WRAM (see codegen.resident)
    macs: int
    dram_bytes: int
    bound: Bound


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


def rank_mappings(problem: Problem, machine: MachineConfig) -> list[Mapping]:
    """The mappings worth trying, best by the estimate first (a WorkloadError if none fits)."""
    return choose_mappings(problem, machine, KEPT_MAPPINGS)


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


def _header(layer: Layer, problem: Problem | None, mapping: Mapping | None, machine: MachineConfig,
            body: MappedProgram, tried: int = 1) -> list[str]:
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
            f"order:  {mapping.order} (" + ("each weight block stays in WRAM while every input slab "
                                            "streams past it" if mapping.order is LoopOrder.WEIGHTS_OUTER else
                                            "each input slab stays in NRAM while every weight block "
                                            "streams past it") + ")"
            + ("; input channels split, partial sums accumulate in NRAM" if tile.in_channels < p.in_channels
               else ""),
            f"cores:  {body.cores_used} of {machine.compute_cores}, each a contiguous share of the tiles"
            + (f"; the memory core stages the {mapping.staged} in the SharedRAM two pieces ahead, and "
               "the cores copy each piece from there after the barrier that makes it ready"
               if mapping.staged else ""),
            f"NRAM:   input slabs at {where.input_buffers[0]:#x} and {where.input_buffers[1]:#x} "
            f"({describe_size(where.slab_bytes)} each), output tiles at {where.output_buffers[0]:#x} and "
            f"{where.output_buffers[1]:#x} ({describe_size(where.output_bytes)} each)"
            + (f", the state at {where.state:#x} ({describe_size(where.state_bytes)})" if where.state_bytes
               else ""),
            _wram_line(where, body.kept_weights),
        ]
        if mapping.staged:
            lines.append(_shared_line(mapping, body.dram, body.shared))
        lines += _dram_lines(layer, p, body.dram)
    lines += [
        f"        {describe_size(dram)} moved; the layer's own data are "
        f"{describe_size(own_in)} in, {describe_size(own_weights)} weights, "
        f"{describe_size(problem.output_bytes)} out" if mapping is not None else
        f"DRAM:   {describe_size(dram)} moved",
        f"bound:  {bound.cycles} cycles "
        f"({bound.limit}: compute {bound.compute_cycles}, DRAM {bound.dram_cycles})"
        + (f"; the tiler estimated {mapping.estimated_cycles}" if mapping else "")
        + (f", and chose this mapping as the fastest of its best {tried} when simulated"
           if tried > 1 else ""),
        "",
        "Each step: the io queue fetches the next input slab, writes back the previous output tile",
        "and streams weights while the compute queue works on the current tile; one sync ends it.",
    ]
    return lines


def _wram_line(where: Layout, kept: bool) -> str:
    if not where.weight_block_bytes:
        return "WRAM:   unused"
    first, second = where.weight_buffers
    size = describe_size(where.weight_block_bytes)
    return (f"WRAM:   weight buffers at {first:#x} and {second:#x} ({size} each); the next block streams "
            "into the free one in chunks"
            + ("; a core whose blocks all fit keeps each one, one after another from 0x0" if kept else ""))


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


def _dram_lines(layer: Layer, problem: Problem, dram: DramLayout) -> list[str]:
    """Where the layer's tensors lie in DRAM (see codegen.DramLayout)."""
    # a matrix product's second operand is among the weights' blocks (see lowering)
    inputs = layer.input_shapes[:1] if problem.activation_weights else layer.input_shapes
    maps = " and ".join(format_shape(shape) for shape in inputs)
    side_by_side = ", the maps side by side" if len(inputs) > 1 else ""
    halo = ", halos repeated" if dram.state > problem.input_bytes - problem.extra_input_bytes else ""
    values = {0: "", 1: ", each block's biases after its weights",
              2: ", each block's scales and shifts after its weights"}.get(
        problem.per_channel_values, f", each block's {problem.per_channel_values} values per channel (its "
                                    "table entries for these rows)")
    lines = [f"DRAM:   input at 0x0 ({maps}: its {len(dram.slabs)} slabs one after another as the tiles "
             f"read them{side_by_side}{halo})"]
    if dram.weights > dram.state:
        lines.append(f"        state at {dram.state:#x} ({describe_size(dram.weights - dram.state)}), "
                     "read once")
    if dram.blocks and problem.activation_weights:
        second = format_shape(layer.input_shapes[1])
        lines.append(f"        second operand at {dram.weights:#x} ({second}, an activation: its "
                     f"{len(dram.blocks)} blocks of the tile in the order used)")
    elif dram.blocks:
        lines.append(f"        weights at {dram.weights:#x} ({len(dram.blocks)} blocks of the tile in the "
                     f"order used{values})")
    lines.append(f"        output at {dram.output:#x} ({format_shape(layer.output_shape)}: its "
                 f"{len(dram.tiles)} tiles in the order written)")
    return lines


def build(problem: Problem, mapping: Mapping, machine: MachineConfig) -> MappedProgram:
    """The program of one mapping, and its figures."""
    all_tasks = tasks(mapping)
    shares = split_across_cores(all_tasks, machine, mapping.staged)
    where = layout(all_tasks, problem.extra_input_bytes)
    dram = dram_layout(all_tasks, problem.extra_input_bytes)
    writer = ProgramWriter(TRIAL_FILE)
    writer.machine_line(machine.name)
    keeps = [resident(share, machine.core.wram.capacity_bytes) for share in shares]
    pieces = staged_pieces(all_tasks, mapping.staged) if mapping.staged else None
    shared = None
    if pieces:
        shared = shared_layout(pieces, [copied_pieces(share, mapping.staged, keep)
                                        for share, keep in zip(shares, keeps, strict=True)])
        writer.blank()
        writer.core(None, memory_core=True)
        writer.comment(f"stage the {mapping.staged} in the SharedRAM, two pieces ahead of the cores")
        origins = dram.slabs if mapping.staged is Staging.INPUT else dram.blocks
        fold(staging_steps(pieces, shared.places, origins), writer)
    for index, share in enumerate(shares):
        steps = core_steps(share, where, dram, problem.extra_input_bytes if index == 0 else 0, mapping.staged,
                           pieces, None if shared is None else shared.places, keep_weights=keeps[index])
        writer.blank()
        if machine.compute_cores > 1:
            writer.core((index,))
        fold(steps, writer)
    program = writer.program()
    macs, dram_bytes, compute = _program_figures(program, machine)
    bound = Bound.of(compute, machine.compute_cores, dram_bytes, machine.bytes_per_cycle(machine.dram.link))
    return MappedProgram(mapping, program, tuple(writer.comments), len(shares), where, dram, shared,
                         any(keeps), macs, dram_bytes, bound)


def build_nothing(machine: MachineConfig) -> MappedProgram:
    """The program of a layer with nothing to do."""
    writer = ProgramWriter(TRIAL_FILE)
    writer.machine_line(machine.name)
    writer.comment("nothing to do: the producers of a concatenation write straight into their")
    writer.comment("slices of its output, so it moves no data of its own (an assumption)")
    return MappedProgram(None, writer.program(), tuple(writer.comments), 0, None, None, None, False, 0, 0,
                         NO_WORK)


def finish(layer: Layer, machine: MachineConfig, problem: Problem | None, body: MappedProgram,
           tried: int = 1) -> CompiledLayer:
    """The layer's program: ``body`` (built for ``problem`` or a problem of its shape) under the
    header comment that explains it; ``tried`` candidates were simulated to choose it."""
    mapping = None if body.mapping is None else dataclasses.replace(body.mapping, problem=problem)
    header = _header(layer, problem, mapping, machine, body, tried)
    return CompiledLayer(layer, machine, mapping, tuple(header), body, body.macs, body.dram_bytes, body.bound)
