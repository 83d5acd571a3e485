"""The compiler: a layer and a machine -> a program in the ISA that ``dlpsim run`` accepts.

Three steps, kept apart as Timeloop keeps workload, architecture and mapping apart:
``lowering`` puts every layer in one shape (a grouped window operator), ``mapping``
chooses tiles, loop order and the split across cores, and ``codegen`` writes each
core's double-buffered pipeline as commented ISA text.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from dlpsim.asm import Program, assemble
from dlpsim.asm.opcodes import ComputeType
from dlpsim.asm.program import MEMORY_CORE, Compute, CoreId, Move, repetitions
from dlpsim.compiler.codegen import (
    Layout,
    core_steps,
    fold,
    layout,
    resident,
    split_across_cores,
    staged_pieces,
    staging_steps,
    tasks,
)
from dlpsim.compiler.lowering import Problem, check_lowering, lower
from dlpsim.compiler.mapping import KEPT_MAPPINGS, Mapping, choose_mappings
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.results.bound import NO_WORK
from dlpsim.units import describe_size
from dlpsim.workloads.layers import Layer, format_shape

if TYPE_CHECKING:
    from dlpsim.sim.stats import Stats

__all__ = ["CompiledLayer", "compile_layer"]


@dataclass(frozen=True)
class CompiledLayer:
    layer: Layer
    machine: MachineConfig
    mapping: Mapping | None  # None for a layer with nothing to move or compute (concat)
    text: str
    macs: int  # in the program, equal to the layer's
    dram_bytes: int  # the program's DRAM traffic
    bound: Bound  # the program's roofline bound
    # What simulate() gives for this program (fast-forwarding), when the compiler ran it to choose
    # the mapping (a matrix layer); None if it did not.
    measured: Stats | None = None

    @functools.cached_property
    def program(self) -> Program:
        """The text assembled, when first asked for (net run does not need the program of a
        layer the compiler has simulated)."""
        return assemble(self.text, f"{self.layer.label}.asm")


def _program_figures(program: Program, machine: MachineConfig) -> tuple[int, int, Fraction]:
    """MACs, DRAM bytes and compute cycles (all cores) of a program, read from its text."""
    macs = dram = 0
    operations: Counter[ComputeType] = Counter()
    cores = [CoreId(i) for i in range(machine.compute_cores)]
    if machine.has_memory_core:  # it stages data from DRAM into the SharedRAM
        cores.append(MEMORY_CORE)
    for core in cores:
        for instruction, times in repetitions(program.stream(core, machine.compute_cores)):
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
            cores_used: int, macs: int, dram: int, bound: Bound, where=None, tried: int = 1) -> list[str]:
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
            f"{p.out_height} rows x {tile.columns} of {p.out_width} columns",
            f"order:  {mapping.order} (" + ("each weight block stays in WRAM while every input slab "
                                            "streams past it" if mapping.order == "weights-outer" else
                                            "each input slab stays in NRAM while every weight block "
                                            "streams past it") + ")"
            + ("; input channels split, partial sums accumulate in NRAM" if tile.in_channels < p.in_channels
               else ""),
            f"cores:  {cores_used} of {machine.compute_cores}, each a contiguous share of the tiles"
            + (f"; the memory core stages the {mapping.staged} in the SharedRAM two pieces ahead, and "
               "the cores copy each piece from there after the barrier that makes it ready"
               if mapping.staged else ""),
            f"NRAM:   input slabs at {where.input_buffers[0]:#x} and {where.input_buffers[1]:#x} "
            f"({describe_size(where.slab_bytes)} each), output tiles at {where.output_buffers[0]:#x} and "
            f"{where.output_buffers[1]:#x} ({describe_size(where.output_bytes)} each)",
            f"WRAM:   two weight buffers of {describe_size(where.weight_block_bytes)}; the next block "
            "streams into the free one in chunks (moves without an address)"
            if where.weight_block_bytes else "WRAM:   unused",
        ]
    lines += [
        f"DRAM:   {describe_size(dram)} moved; the layer's own data are "
        f"{describe_size(layer.input_bytes())} in, {describe_size(layer.weight_bytes())} weights, "
        f"{describe_size(layer.output_bytes())} out",
        f"bound:  {bound.cycles} cycles "
        f"({bound.limit}: compute {bound.compute_cycles}, DRAM {bound.dram_cycles})"
        + (f"; the tiler estimated {mapping.estimated_cycles}" if mapping else "")
        + (f", and chose this mapping as the fastest of its best {tried} when simulated"
           if tried > 1 else ""),
        "",
        "Each step: the io queue fetches the next input slab, writes back the previous output tile",
        "and streams weights while the compute queue works on the current tile; one sync ends it.",
    ]
    return [f"; {line}".rstrip() for line in lines]


@dataclass(frozen=True)
class _Body:
    """The program of one mapping without its header comment, and its figures."""

    text: str  # from the .machine line on
    cores_used: int
    where: Layout
    macs: int
    dram_bytes: int
    bound: Bound


# A matrix layer's best mapping by the estimate is simulated; if it comes this close to the
# bound it is taken, else the next candidates are simulated too and the fastest kept (the
# estimate ranks well but cannot see every stall).
GOOD_ENOUGH = Fraction(95, 100)


def compile_layer(layer: Layer, machine: MachineConfig) -> CompiledLayer:
    """Compile one layer for one machine."""
    problem = lower(layer)
    if problem is None:
        body = ["; nothing to do: the producers of a concatenation write straight into their",
                "; slices of its output, so it moves no data of its own (an assumption)"]
        text = "\n".join([f".machine {machine.name}", *body]) + "\n"
        header = _header(layer, None, None, machine, 0, 0, 0, NO_WORK)
        text = "\n".join(header) + "\n\n" + text
        return CompiledLayer(layer, machine, None, text, 0, 0, NO_WORK)
    check_lowering(layer, problem)
    try:
        choice = _select(dataclasses.replace(problem, name="", description=""), machine)
    except WorkloadError as error:  # the search knows shapes, not names
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None
    mapping, body = dataclasses.replace(choice.mapping, problem=problem), choice.body
    header = _header(layer, problem, mapping, machine, body.cores_used, body.macs, body.dram_bytes,
                     body.bound, body.where, choice.tried)
    text = "\n".join(header) + "\n\n" + body.text
    # The header is comments: the simulated run of the body alone is this program's.
    measured = (None if choice.measured is None
                else dataclasses.replace(choice.measured, program=f"{layer.label}.asm"))
    return CompiledLayer(layer, machine, mapping, text, body.macs, body.dram_bytes, body.bound, measured)


@dataclass(frozen=True)
class _Choice:
    mapping: Mapping
    body: _Body  # its program
    tried: int  # how many candidates were simulated to find it
    measured: Stats | None  # its program's simulated run (None: chosen by the estimate alone)


@functools.lru_cache(maxsize=1024)
def _select(problem: Problem, machine: MachineConfig) -> _Choice:
    """The mapping to use (cached by shape: a network repeats layers)."""
    candidates = choose_mappings(problem, machine, KEPT_MAPPINGS)
    if not problem.matrix:  # streaming vector work: the estimate is as good as a measurement
        body, _ = _build(problem, candidates[0], machine)
        return _Choice(candidates[0], body, 1, None)
    from dlpsim.sim import simulate  # the compiler's own measuring stick

    first, program = _build(problem, candidates[0], machine)
    fastest, fastest_body, measured = candidates[0], first, simulate(program, machine)
    tried = 1
    for mapping in candidates[1:]:
        if first.bound.cycles >= GOOD_ENOUGH * measured.cycles:
            break
        tried += 1
        body, program = _build(problem, mapping, machine)
        try:  # a candidate that cannot beat the fastest so far is stopped at its time
            stats = simulate(program, machine, max_cycles=measured.cycles - 1)
        except RunLimitError:
            continue
        if stats.complete:
            fastest, fastest_body, measured = mapping, body, stats
    return _Choice(fastest, fastest_body, tried, measured if measured.complete else None)


def _build(problem: Problem, mapping: Mapping, machine: MachineConfig) -> tuple[_Body, Program]:
    """The program of one mapping, as text and assembled."""
    all_tasks = tasks(mapping)
    shares = split_across_cores(all_tasks, machine, mapping.staged)
    where = layout(all_tasks)
    body = [f".machine {machine.name}"]
    pieces = staged_pieces(all_tasks, mapping.staged) if mapping.staged else None
    if pieces:
        body += ["", ".core mem",
                 f"; stage the {mapping.staged} in the SharedRAM, two pieces ahead of the cores"]
        body += fold(staging_steps(pieces))
    for index, share in enumerate(shares):
        steps = core_steps(share, where, problem.extra_input_bytes if index == 0 else 0, mapping.staged,
                           pieces, keep_weights=resident(share, machine.core.wram.capacity_bytes))
        if machine.compute_cores > 1:
            body += ["", f".core {index}"]
        else:
            body.append("")
        body += fold(steps)
    text = "\n".join(body) + "\n"
    program = assemble(text, "trial.asm")
    macs, dram, compute = _program_figures(program, machine)
    bound = Bound.of(compute, machine.compute_cores, dram, machine.bytes_per_cycle(machine.dram.link))
    return _Body(text, len(shares), where, macs, dram, bound), program
