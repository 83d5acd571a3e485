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
An energy or EDP objective runs that search for the fastest program, then ranks again by
its own estimate (so estimates at most search_limit() tiles for time and search_limit() for
itself) and builds more candidates within the same SEARCH_TASKS and the same cycle limit;
the energy objective's candidates are also held to ENERGY_TIME_SLACK of the fastest's cycles
(see _least).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from fractions import Fraction

from dlpsim import compiler
from dlpsim.compiler import CompiledLayer, MappedProgram, Objective
from dlpsim.compiler.lowering import Problem
from dlpsim.compiler.mapping import MAX_TASKS, check_smallest_tile, rank, task_count
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.results.energy import static_pj
from dlpsim.sim import simulate
from dlpsim.sim.activity import program_activity
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.sim.stats import Stats
from dlpsim.units import format_number
from dlpsim.workloads.layers import Layer

GOOD_ENOUGH = Fraction(95, 100)

# The most cycles the energy objective's program may take, as a share of the fastest program's: it
# chooses the least energy among the programs this close to the fastest. (Static power already
# charges time, but where a slower mapping, with one output buffer, saves a few DRAM bytes it can
# come out a few joules ahead at 5% more cycles; an energy-aware choice should not cost much time.)
ENERGY_TIME_SLACK = Fraction(102, 100)

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
                  objective: Objective = Objective.TIME,
                  max_cycles: int | None = DEFAULT_MAX_CYCLES) -> Compilation:
    """Compile one layer on ``batch`` samples for one machine, choosing among its best mappings for
    ``objective`` by simulation, each simulated run limited to ``max_cycles``."""
    compiler.check_fits_dram(layer, machine, batch)
    problem = compiler.lower(layer, batch)
    if problem is None:
        return Compilation(compiler.finish(layer, machine, None, compiler.build_nothing(machine)), None, None,
                           SearchWork(0, 0, 0, 0, 0))
    check_before_search(layer, problem, machine, max_cycles)
    shape = _shape_of(problem)
    try:
        choice = (_search(shape, machine, max_cycles) if objective is Objective.TIME
                  else _least(shape, machine, objective, max_cycles))
    except WorkloadError as error:  # the search knows shapes, not names
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None
    except RunLimitError:
        raise RunLimitError(f"{layer.label}: error: its best mapping by the estimate provably needs more "
                            f"than the limit of {format_number(max_cycles, grouped=True)} cycles; not "
                            "compiled (raise it with --max-cycles)") from None
    compiled = compiler.finish(layer, machine, problem, choice.body, choice.tried, objective)
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


def figure(stats: Stats, objective: Objective) -> Fraction:
    """A run's figure of merit for ``objective`` (lower is better): cycles, pJ, or pJ x cycles."""
    if objective is Objective.TIME:
        return Fraction(stats.cycles)
    energy = stats.energy.total_pj
    return energy * stats.cycles if objective is Objective.EDP else energy


@functools.lru_cache(maxsize=1024)
def _least(shape: Problem, machine: MachineConfig, objective: Objective, max_cycles: int | None) -> _Choice:
    """The candidate of least energy (or energy-delay product), measured.

    A program's dynamic energy is known exactly from its statements, and its static energy is at
    least the static power over its roofline bound: that lower bound orders the candidates, and
    the search stops simulating once no candidate left can beat the best measured. The fastest
    program is among the candidates, so the choice is never worse by ``objective`` than it.

    The bounds of the time search hold for the two together: the fastest's search and this one
    build at most SEARCH_TASKS tasks in all (candidates past it are not built), and every run is
    limited to ``max_cycles`` (a candidate that needs more is passed over), and for the energy
    objective to ENERGY_TIME_SLACK times the fastest's cycles."""
    ranking = rank(shape, machine, objective)
    candidates = ranking.mappings
    if not shape.matrix:  # streaming vector work: the estimate is as good as a measurement
        body = compiler.build(shape, candidates[0], machine)
        return _Choice(body, 1, None, SearchWork(ranking.tiles_estimated, 1, body.work.tasks,
                                                 body.work.statements, body.work.statements))
    fastest = _search(shape, machine, max_cycles)
    done = fastest.work
    bodies = [fastest.body]
    tasks = done.tasks_built
    for mapping in candidates:
        if mapping == fastest.body.mapping:
            continue
        if tasks + task_count(shape, mapping.tile) > SEARCH_TASKS:
            break
        body = compiler.build(shape, mapping, machine)
        bodies.append(body)
        tasks += body.work.tasks
    built = bodies[1:]
    work = SearchWork(done.tiles_estimated + ranking.tiles_estimated, done.candidates_built + len(built),
                      tasks, done.statements_written + sum(body.work.statements for body in built),
                      max([done.largest_program, *(body.work.statements for body in built)]))
    seconds_per_cycle = 1 / Fraction(machine.clock_hz)

    def lower_bound(body: MappedProgram) -> Fraction:
        dynamic = sum(program_activity(body.program, machine).dynamic_pj(machine).values(), Fraction(0))
        energy = dynamic + static_pj(machine.static_mw, body.bound.cycles * seconds_per_cycle)
        return energy * body.bound.cycles if objective is Objective.EDP else energy

    limit = max_cycles
    if objective is Objective.ENERGY and fastest.stats is not None:
        slack = int(ENERGY_TIME_SLACK * fastest.stats.cycles)
        limit = slack if limit is None else min(limit, slack)
    ordered = sorted(((lower_bound(body), index) for index, body in enumerate(bodies)))
    best: tuple[Fraction, MappedProgram, Stats] | None = None
    tried = 0
    for least_possible, index in ordered:
        if best is not None and least_possible >= best[0]:
            break
        if index and limit is not None and bodies[index].bound.cycles > limit:
            continue  # it cannot run within the limit
        tried += 1
        if index == 0 and fastest.stats is not None:
            stats = fastest.stats
        else:
            try:
                stats = simulate(bodies[index].program, machine, max_cycles=limit)
            except RunLimitError:
                if index == 0:  # the fastest needs more than the limit: every candidate does
                    raise
                continue
            if index and not stats.complete:  # stopped at the limit
                continue
        if best is None or figure(stats, objective) < best[0]:
            best = figure(stats, objective), bodies[index], stats
    return _Choice(best[1], tried, best[2], work)
