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
from dlpsim.compiler import CompiledLayer, MappedProgram
from dlpsim.compiler.lowering import Problem
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import MachineConfig
from dlpsim.sim import simulate
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


def compile_layer(layer: Layer, machine: MachineConfig, batch: int = 1) -> Compilation:
    """Compile one layer on ``batch`` samples for one machine, choosing among its best mappings by
    simulation."""
    compiler.check_fits_dram(layer, machine, batch)
    problem = compiler.lower(layer, batch)
    if problem is None:
        return Compilation(compiler.finish(layer, machine, None, compiler.build_nothing(machine)), None, None)
    shape = dataclasses.replace(problem, name="", description="")
    try:
        choice = _search(shape, machine)
    except WorkloadError as error:  # the search knows shapes, not names
        raise WorkloadError(f"{layer.label}: {error.message}", error.where) from None
    compiled = compiler.finish(layer, machine, problem, choice.body, choice.tried)
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
