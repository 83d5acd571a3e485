"""Compiling a layer: the compiler's ranked mappings, measured on the simulator.

The estimate ranks mappings well but cannot see every stall. So a matrix layer's best
mapping by the estimate is simulated; if it comes within GOOD_ENOUGH of its bound it
is taken, else the next candidates are simulated too (each stopped once it cannot beat
the fastest so far) and the fastest kept. Streaming vector work is taken on the
estimate alone. The search knows shapes, not names: its answers are cached by shape,
as networks repeat layers.

Before any search, a layer whose own roofline bound (compiler.layer_bound) already
exceeds the cycle limit is refused, as is one whose smallest tile does not fit. The
search's work is bounded by the layer (see dlpsim.compiler.mapping and codegen): it
estimates at most search_limit() tiles, builds at most KEPT_MAPPINGS candidates of at
most MAX_TASKS tasks each and SEARCH_TASKS tasks in all, and simulates each once.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from fractions import Fraction

from dlpsim import compiler
from dlpsim.compiler import CompiledLayer, MappedProgram
from dlpsim.compiler.lowering import Problem
from dlpsim.compiler.mapping import MAX_TASKS, check_smallest_tile, rank, task_count
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.sim import simulate
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.sim.stats import Stats
from dlpsim.units import format_number
from dlpsim.workloads.layers import Layer

GOOD_ENOUGH = Fraction(95, 100)

# The most tasks the search builds programs of, over all the candidates it simulates: past it,
# the fastest so far is kept. The built-in networks stay under it (12 x 8,192 at most).
SEARCH_TASKS = 4 * MAX_TASKS


@dataclass(frozen=True)
class SearchWork:
    """What choosing one layer's program took (each figure bounded: see the module doc)."""

    tiles_estimated: int
    candidates_built: int  # programs written, each simulated once
    tasks_built: int  # over those programs
    statements_written: int  # over those programs
    largest_program: int  # the most statements of any one of them


@dataclass(frozen=True)
class Compilation:
    compiled: CompiledLayer
    # The chosen program's simulated run (fast-forwarding) when the search simulated it; None
    # for work chosen by the estimate alone (vector layers, a layer with nothing to do).
    stats: Stats | None
    # Equal for layers that compile to the same program on this machine but for its header
    # and file name: the lowered problem without its name (None: nothing to do).
    shape: Problem | None
    work: SearchWork


@dataclass(frozen=True)
class _Choice:
    body: MappedProgram
    tried: int  # how many candidates were simulated to find it
    stats: Stats | None  # its program's simulated run (None: chosen by the estimate alone)
    work: SearchWork


def layer_shape(layer: Layer, batch: int = 1) -> Problem | None:
    """What a layer's program and run depend on: its lowered problem on ``batch`` samples without
    its name (None: a layer with nothing to do). Layers of equal shape compile to the same program
    on a machine."""
    return _shape_of(compiler.lower(layer, batch))


def _shape_of(problem: Problem | None) -> Problem | None:
    return None if problem is None else dataclasses.replace(problem, name="", description="")


def bound_text(bound: Bound) -> str:
    """E.g. "94,371,840,000,000 cycles (compute-limited: compute 94,371,840,000,000, DRAM 1,600)"."""
    return (f"{format_number(bound.cycles, grouped=True)} cycles ({bound.limit}: compute "
            f"{format_number(bound.compute_cycles, grouped=True)}, DRAM "
            f"{format_number(bound.dram_cycles, grouped=True)})")


def check_before_search(layer: Layer, problem: Problem, machine: MachineConfig,
                        max_cycles: int | None) -> None:
    """Refuse, with the figure, a layer no program could run within ``max_cycles`` (its own
    roofline bound is more) or whose smallest tile does not fit the memories."""
    bound = compiler.layer_bound(problem, machine)
    if max_cycles is not None and bound.cycles > max_cycles:
        raise RunLimitError(f"{layer.label}: error: the layer's roofline bound is {bound_text(bound)}, "
                            f"more than the limit of {format_number(max_cycles, grouped=True)}; not compiled "
                            "(raise it with --max-cycles)")
    try:
        check_smallest_tile(problem, machine)
    except WorkloadError as error:
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None


def compile_layer(layer: Layer, machine: MachineConfig, batch: int = 1, *,
                  max_cycles: int | None = DEFAULT_MAX_CYCLES) -> Compilation:
    """Compile one layer on ``batch`` samples for one machine, choosing among its best mappings by
    simulation, each simulated run limited to ``max_cycles``."""
    compiler.check_fits_dram(layer, machine, batch)
    problem = compiler.lower(layer, batch)
    if problem is None:
        return Compilation(compiler.finish(layer, machine, None, compiler.build_nothing(machine)), None, None,
                           SearchWork(0, 0, 0, 0, 0))
    check_before_search(layer, problem, machine, max_cycles)
    shape = _shape_of(problem)
    try:
        choice = _search(shape, machine, max_cycles)
    except WorkloadError as error:  # the search knows shapes, not names
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None
    except RunLimitError:
        raise RunLimitError(f"{layer.label}: error: its best mapping by the estimate provably needs more "
                            f"than the limit of {format_number(max_cycles, grouped=True)} cycles; not "
                            "compiled (raise it with --max-cycles)") from None
    compiled = compiler.finish(layer, machine, problem, choice.body, choice.tried)
    # The header is comments: the simulated run of the body alone is this program's.
    stats = (None if choice.stats is None
             else dataclasses.replace(choice.stats, program=compiled.file))
    return Compilation(compiled, stats, shape, choice.work)


@functools.lru_cache(maxsize=1024)
def _search(shape: Problem, machine: MachineConfig, max_cycles: int | None) -> _Choice:
    ranking = rank(shape, machine)
    candidates = ranking.mappings
    first = compiler.build(shape, candidates[0], machine)
    built = [first]

    def work() -> SearchWork:
        return SearchWork(ranking.tiles_estimated, len(built), sum(body.work.tasks for body in built),
                          sum(body.work.statements for body in built),
                          max(body.work.statements for body in built))

    if not shape.matrix:  # streaming vector work: the estimate is as good as a measurement
        return _Choice(first, 1, None, work())
    fastest, measured = first, simulate(first.program, machine, max_cycles=max_cycles)
    tried = 1
    for mapping in candidates[1:]:
        if first.bound.cycles >= GOOD_ENOUGH * measured.cycles:
            break
        if sum(body.work.tasks for body in built) + task_count(shape, mapping.tile) > SEARCH_TASKS:
            break
        tried += 1
        body = compiler.build(shape, mapping, machine)
        built.append(body)
        try:  # a candidate that cannot beat the fastest so far is stopped at its time
            stats = simulate(body.program, machine, max_cycles=measured.cycles - 1)
        except RunLimitError:
            continue
        if stats.complete:
            fastest, measured = body, stats
    return _Choice(fastest, tried, measured if measured.complete else None, work())
