"""Compiling a layer: the compiler's ranked mappings, measured on the simulator.

The estimate ranks mappings well but cannot see every stall. So a matrix layer's best
mapping by the estimate is simulated; if it comes within GOOD_ENOUGH of its bound it
is taken, else the next candidates are simulated too (each stopped once it cannot beat
the fastest so far) and the fastest kept. Streaming vector work is taken on the
estimate alone. The search knows shapes, not names: its answers are cached by shape,
as networks repeat layers.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from fractions import Fraction

from dlpsim import compiler
from dlpsim.compiler import CompiledLayer, MappedProgram, Objective
from dlpsim.compiler.lowering import Problem
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.results.energy import static_pj
from dlpsim.sim import simulate
from dlpsim.sim.activity import program_activity
from dlpsim.sim.stats import Stats
from dlpsim.workloads.layers import Layer

GOOD_ENOUGH = Fraction(95, 100)


@dataclass(frozen=True)
class Compilation:
    compiled: CompiledLayer
    # The chosen program's simulated run (fast-forwarding) when the search simulated it; None
    # for work chosen by the estimate alone (vector layers, a layer with nothing to do).
    stats: Stats | None
    # Equal for layers that compile to the same program on this machine but for its header
    # and file name: the lowered problem without its name (None: nothing to do).
    shape: Problem | None


@dataclass(frozen=True)
class _Choice:
    body: MappedProgram
    tried: int  # how many candidates were simulated to find it
    stats: Stats | None  # its program's simulated run (None: chosen by the estimate alone)


def compile_layer(layer: Layer, machine: MachineConfig, batch: int = 1,
                  objective: Objective = Objective.TIME) -> Compilation:
    """Compile one layer on ``batch`` samples for one machine, choosing among its best mappings for
    ``objective`` by simulation."""
    compiler.check_fits_dram(layer, machine, batch)
    problem = compiler.lower(layer, batch)
    if problem is None:
        return Compilation(compiler.finish(layer, machine, None, compiler.build_nothing(machine)), None, None)
    shape = dataclasses.replace(problem, name="", description="")
    try:
        choice = _search(shape, machine) if objective is Objective.TIME else _least(shape, machine, objective)
    except WorkloadError as error:  # the search knows shapes, not names
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None
    compiled = compiler.finish(layer, machine, problem, choice.body, choice.tried, objective)
    # The header is comments: the simulated run of the body alone is this program's.
    stats = (None if choice.stats is None
             else dataclasses.replace(choice.stats, program=compiled.file))
    return Compilation(compiled, stats, shape)


@functools.lru_cache(maxsize=1024)
def _search(shape: Problem, machine: MachineConfig) -> _Choice:
    candidates = compiler.rank_mappings(shape, machine)
    first = compiler.build(shape, candidates[0], machine)
    if not shape.matrix:  # streaming vector work: the estimate is as good as a measurement
        return _Choice(first, 1, None)
    fastest, measured = first, simulate(first.program, machine)
    tried = 1
    for mapping in candidates[1:]:
        if first.bound.cycles >= GOOD_ENOUGH * measured.cycles:
            break
        tried += 1
        body = compiler.build(shape, mapping, machine)
        try:  # a candidate that cannot beat the fastest so far is stopped at its time
            stats = simulate(body.program, machine, max_cycles=measured.cycles - 1)
        except RunLimitError:
            continue
        if stats.complete:
            fastest, measured = body, stats
    return _Choice(fastest, tried, measured if measured.complete else None)


def figure(stats: Stats, objective: Objective) -> Fraction:
    """A run's figure of merit for ``objective`` (lower is better): cycles, pJ, or pJ x cycles."""
    if objective is Objective.TIME:
        return Fraction(stats.cycles)
    energy = stats.energy.total_pj
    return energy * stats.cycles if objective is Objective.EDP else energy


@functools.lru_cache(maxsize=1024)
def _least(shape: Problem, machine: MachineConfig, objective: Objective) -> _Choice:
    """The candidate of least energy (or energy-delay product), measured.

    A program's dynamic energy is known exactly from its statements, and its static energy is at
    least the static power over its roofline bound: that lower bound orders the candidates, and
    the search stops simulating once no candidate left can beat the best measured. The fastest
    program is among the candidates, so the choice is never worse by ``objective`` than it."""
    candidates = compiler.rank_mappings(shape, machine, objective)
    if not shape.matrix:  # streaming vector work: the estimate is as good as a measurement
        return _Choice(compiler.build(shape, candidates[0], machine), 1, None)
    fastest = _search(shape, machine)
    bodies = [fastest.body, *(compiler.build(shape, mapping, machine) for mapping in candidates
                              if mapping != fastest.body.mapping)]
    seconds_per_cycle = 1 / Fraction(machine.clock_hz)

    def lower_bound(body: MappedProgram) -> Fraction:
        dynamic = sum(program_activity(body.program, machine).dynamic_pj(machine).values(), Fraction(0))
        energy = dynamic + static_pj(machine.static_mw, body.bound.cycles * seconds_per_cycle)
        return energy * body.bound.cycles if objective is Objective.EDP else energy

    ordered = sorted(((lower_bound(body), index) for index, body in enumerate(bodies)))
    best: tuple[Fraction, MappedProgram, Stats] | None = None
    tried = 0
    for least_possible, index in ordered:
        if best is not None and least_possible >= best[0]:
            break
        tried += 1
        stats = (fastest.stats if index == 0 and fastest.stats is not None
                 else simulate(bodies[index].program, machine))
        if best is None or figure(stats, objective) < best[0]:
            best = figure(stats, objective), bodies[index], stats
    return _Choice(best[1], tried, best[2])
