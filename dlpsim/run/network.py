"""Run a whole network: compile every layer, simulate it, and add the layers up.

Layers run one after another on the whole machine (no overlap between layers), so the
network's cycles are the sum of its layers' cycles, and its roofline bound the sum of
theirs. Every figure of a layer comes from its simulated run (``Stats``): the MACs
executed, the DRAM bytes moved and the bound of the program the compiler wrote.

This module knows nothing of click or plotting: ``progress`` is a plain callable, and
the results are frozen dataclasses with a JSON form (``to_dict``) and a CSV form
(``write_csv``), both byte-identical for the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.errors import RunLimitError
from dlpsim.machine import MachineConfig
from dlpsim.results import Bound
from dlpsim.results.bound import NO_WORK
from dlpsim.results.energy import COMPONENTS, NO_ENERGY, Energy
from dlpsim.results.files import csv_number, csv_ratio, exact_json, from_json, json_number, write_csv
from dlpsim.results.kinds import Objective
from dlpsim.run import Progress
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.sim.stats import Stats, mac_utilization
from dlpsim.units import format_number
from dlpsim.workloads import Network, Node
from dlpsim.workloads.layers import Layer

RESULTS_FORMAT = "dlpsim-network-run/2"  # 2: each layer and the totals have their energy

CSV_COLUMNS = ("layer", "kind", "type", "macs", "dram_bytes", "cycles", "mac_utilization",
               "compute_bound_cycles", "dram_bound_cycles", "bound_cycles", "bound", "efficiency",
               "energy_pj", "average_watts", "gops_per_watt", *(f"{name}_pj" for name in COMPONENTS))


@dataclass(frozen=True)
class LayerRun:
    """One layer's compiled program, as simulated."""

    name: str
    kind: str  # the layer's kind: conv, fc, relu, maxpool, ...
    description: str  # e.g. "conv 3x3", "gemm M=1024"
    macs: int
    dram_bytes: int
    cycles: int
    bound: Bound
    mac_unit_cycles: Fraction  # the matrix units' cycles at full rate (Stats.mac_unit_cycles)
    compute_cores: int
    energy: Energy  # of its simulated run (Stats.energy)

    @property
    def mac_utilization(self) -> Fraction:
        return mac_utilization(self.mac_unit_cycles, self.compute_cores, self.cycles)

    @property
    def efficiency(self) -> Fraction | None:
        """bound / cycles; None for a layer that takes no cycles (a concatenation)."""
        return self.bound.efficiency(self.cycles)

    def to_dict(self, clock_hz: int | Fraction) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "type": self.description,
            "macs": self.macs,
            "dram_bytes": self.dram_bytes,
            "cycles": self.cycles,
            "mac_utilization": json_number(self.mac_utilization),
            "compute_bound_cycles": self.bound.compute_cycles,
            "dram_bound_cycles": self.bound.dram_cycles,
            "bound_cycles": self.bound.cycles,
            "bound": self.bound.kind.value,
            "efficiency": json_number(self.efficiency),
            # exact (p/q when not whole): what mac_utilization is computed from (contract v2)
            "mac_unit_cycles": exact_json(self.mac_unit_cycles),
            "energy": self.energy.to_dict(Fraction(self.cycles) / Fraction(clock_hz), self.macs),
        }

    @classmethod
    def from_dict(cls, data: dict, compute_cores: int) -> LayerRun:
        """A layer as :meth:`to_dict` wrote it (in a results file)."""
        return cls(str(data["name"]), str(data["kind"]), str(data["type"]), int(data["macs"]),
                   int(data["dram_bytes"]), int(data["cycles"]),
                   Bound.limited(int(data["compute_bound_cycles"]), int(data["dram_bound_cycles"])),
                   Fraction(from_json(data["mac_unit_cycles"])), compute_cores,
                   Energy.from_dict(data["energy"]))


@dataclass(frozen=True)
class NetworkRun:
    network: str
    description: str
    machine: str
    clock_hz: int | Fraction
    compute_cores: int
    peak_macs_per_cycle: Fraction
    layers: tuple[LayerRun, ...]
    batch: int = 1  # samples per inference: every layer's figures are for the whole batch

    # -- totals (layers run one after another) ----------------------------------------------
    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def dram_bytes(self) -> int:
        return sum(layer.dram_bytes for layer in self.layers)

    @property
    def cycles(self) -> int:
        return sum(layer.cycles for layer in self.layers)

    @property
    def seconds(self) -> Fraction:
        """Time per inference (of the whole batch) at the machine's clock."""
        return Fraction(self.cycles) / Fraction(self.clock_hz)

    @property
    def seconds_per_sample(self) -> Fraction:
        return self.seconds / self.batch

    @property
    def mac_unit_cycles(self) -> Fraction:
        return sum((layer.mac_unit_cycles for layer in self.layers), Fraction(0))

    @property
    def mac_utilization(self) -> Fraction:
        return mac_utilization(self.mac_unit_cycles, self.compute_cores, self.cycles)

    @property
    def bound(self) -> Bound:
        """The sum of the layers' roofline bounds (they run one after another)."""
        return sum((layer.bound for layer in self.layers), NO_WORK)

    @property
    def efficiency(self) -> Fraction | None:
        return self.bound.efficiency(self.cycles)

    @property
    def energy(self) -> Energy:
        """The sum of the layers' energies (they run one after another)."""
        return sum((layer.energy for layer in self.layers), NO_ENERGY)

    @property
    def bound_mac_utilization(self) -> Fraction:
        """The utilization the roofline bound allows: the same MAC work over the bound's cycles."""
        return mac_utilization(self.mac_unit_cycles, self.compute_cores, self.bound.cycles)

    def layer(self, name: str) -> LayerRun:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    # -- output ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form: plain numbers, keys in a fixed order, so output is byte-identical."""
        return {
            "format": RESULTS_FORMAT,
            "network": self.network,
            "description": self.description,
            "batch": self.batch,
            "machine": self.machine,
            "clock_hz": json_number(self.clock_hz),
            "compute_cores": self.compute_cores,
            "peak_macs_per_cycle": json_number(self.peak_macs_per_cycle),
            "layers": [layer.to_dict(self.clock_hz) for layer in self.layers],
            "totals": {
                "layers": len(self.layers),
                "macs": self.macs,
                "dram_bytes": self.dram_bytes,
                "cycles": self.cycles,
                "seconds": float(self.seconds),
                "seconds_per_sample": float(self.seconds_per_sample),
                "mac_utilization": json_number(self.mac_utilization),
                "compute_bound_cycles": self.bound.compute_cycles,
                "dram_bound_cycles": self.bound.dram_cycles,
                "bound_cycles": self.bound.cycles,
                "efficiency": json_number(self.efficiency),
                "energy": self.energy.to_dict(self.seconds, self.macs),
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> NetworkRun:
        """A network run as :meth:`to_dict` wrote it (in a results file)."""
        cores = int(data["compute_cores"])
        return cls(str(data["network"]), str(data["description"]), str(data["machine"]),
                   from_json(data["clock_hz"]), cores, from_json(data["peak_macs_per_cycle"]),
                   tuple(LayerRun.from_dict(layer, cores) for layer in data["layers"]),
                   int(data.get("batch", 1)))

    def csv_rows(self) -> list[tuple[str, ...]]:
        """The CSV's header and rows: one per layer, then TOTAL. Ratios have six decimals."""
        rows = [CSV_COLUMNS]
        for layer in self.layers:
            rows.append((layer.name, layer.kind, layer.description, str(layer.macs), str(layer.dram_bytes),
                         str(layer.cycles), csv_ratio(layer.mac_utilization),
                         str(layer.bound.compute_cycles), str(layer.bound.dram_cycles),
                         str(layer.bound.cycles), layer.bound.kind.value, csv_ratio(layer.efficiency),
                         *_energy_cells(layer.energy, Fraction(layer.cycles) / Fraction(self.clock_hz),
                                        layer.macs)))
        bound = self.bound
        rows.append(("TOTAL", "", "", str(self.macs), str(self.dram_bytes), str(self.cycles),
                     csv_ratio(self.mac_utilization), str(bound.compute_cycles),
                     str(bound.dram_cycles), str(bound.cycles), "", csv_ratio(self.efficiency),
                     *_energy_cells(self.energy, self.seconds, self.macs)))
        return rows

    def write_csv(self, path) -> None:
        write_csv(path, self.csv_rows())


def _energy_cells(energy: Energy, seconds: Fraction, macs: int) -> tuple[str, ...]:
    """The CSV's energy columns: total pJ, average W, GOPS/W, pJ of each component."""
    watts, efficiency = energy.average_watts(seconds), energy.gops_per_watt(macs)
    return (csv_number(energy.total_pj), "" if watts is None else csv_number(watts),
            "" if efficiency is None else csv_number(efficiency),
            *(csv_number(pj) for _, pj in energy.components))


def run_network(network: Network, machine: MachineConfig, *, max_cycles: int | None = DEFAULT_MAX_CYCLES,
                progress: Progress | None = None, fast_forward: bool = True,
                objective: Objective = Objective.TIME) -> NetworkRun:
    """Compile and simulate every layer of ``network`` on ``machine``, in order.

    ``max_cycles`` limits the whole network (the layers' cycles together); a network that
    needs more is stopped with a RunLimitError naming the layer. Errors of a layer (one
    that fits no tile, say) propagate as they are: they name the layer. ``fast_forward``
    is simulate()'s: the results are the same either way. The compiler simulates a matrix
    layer's program to choose its mapping (fast-forwarding): with ``fast_forward``, that run
    is the layer's, and the program is not simulated a second time. ``objective`` is what the
    compiler minimises in choosing each layer's mapping.
    """
    from dlpsim.compiler.lowering import Problem
    from dlpsim.run.compile import layer_shape

    # Networks repeat layers (ResNet's blocks): equal shapes give equal programs and runs.
    simulated: dict[Problem | None, Stats | None] = {}

    def stats_of(node: Node, used: int) -> Stats | None:
        shape = layer_shape(node.layer, network.batch)
        if shape not in simulated:
            budget = None if max_cycles is None else max_cycles - used
            simulated[shape] = simulate_layer(node.layer, machine, network.batch, max_cycles=budget,
                                              network_limit=max_cycles, fast_forward=fast_forward,
                                              objective=objective)
        return simulated[shape]

    return assemble_network(network, machine, stats_of, max_cycles=max_cycles, progress=progress)


def simulate_layer(layer: Layer, machine: MachineConfig, batch: int = 1, *,
                   max_cycles: int | None = DEFAULT_MAX_CYCLES,
                   network_limit: int | None = DEFAULT_MAX_CYCLES, fast_forward: bool = True,
                   objective: Objective = Objective.TIME) -> Stats | None:
    """One layer compiled on ``batch`` samples for ``objective`` and simulated on ``machine``: its
    run, or None if it needs more than ``max_cycles``. ``network_limit`` is the limit the compiler's
    search holds each candidate to (the whole network's, where ``max_cycles`` is what the layers
    before left).
    Errors of the layer (one that fits no tile) propagate, naming it."""
    from dlpsim.run.compile import compile_layer
    from dlpsim.sim import simulate

    try:
        compilation = compile_layer(layer, machine, batch, objective=objective, max_cycles=network_limit)
    except RunLimitError:  # its program provably needs more than it may take
        return None
    stats = compilation.stats if fast_forward else None  # run by the compiler already
    if stats is None:
        try:
            stats = simulate(compilation.compiled.program, machine, max_cycles=max_cycles,
                             fast_forward=fast_forward)
        except RunLimitError:
            return None
    return stats if stats.complete else None


def assemble_network(network: Network, machine: MachineConfig, stats_of: Callable[[Node, int], Stats | None],
                     *, max_cycles: int | None = DEFAULT_MAX_CYCLES,
                     progress: Progress | None = None) -> NetworkRun:
    """The network's run from each layer's: ``stats_of(node, cycles used before it)`` gives a layer's
    run (None: it needs more cycles than it was allowed) or raises its error. The layers are taken
    in order, so the first layer that fails or passes ``max_cycles`` is the one reported, however
    the runs were made (one after another with the cycles left, or all at once elsewhere)."""
    from dlpsim.compiler import check_fits_dram

    nodes = network.nodes
    for node in nodes:  # every layer checked before any runs
        check_fits_dram(node.layer, machine, network.batch)
    _refuse_before_search(network, machine, max_cycles)
    layers: list[LayerRun] = []
    used = 0
    for index, node in enumerate(nodes):
        if progress is not None:
            progress(index, len(nodes), node.name)
        stats = stats_of(node, used)
        if stats is None or (max_cycles is not None and used + stats.cycles > max_cycles):
            raise _over_the_limit(network, node.name, max_cycles, used)
        used += stats.cycles
        layer = node.layer
        layers.append(LayerRun(node.name, layer.kind, layer.describe(), stats.mac_operations,
                               stats.dram_bytes, stats.cycles, stats.bound, stats.mac_unit_cycles,
                               machine.compute_cores, stats.energy))
    return NetworkRun(network.name, network.description, machine.name, machine.clock_hz,
                      machine.compute_cores, machine.peak_macs_per_cycle, tuple(layers), network.batch)


def check_within_limit(run: NetworkRun, network: Network, machine: MachineConfig,
                       max_cycles: int | None) -> None:
    """A complete run made earlier (the result cache's) held to this run's ``max_cycles``: the
    RunLimitError :func:`run_network` would raise for it, naming the same layer, or nothing."""
    if max_cycles is None or run.cycles <= max_cycles:
        # no layer's roofline bound exceeds its cycles, so a run that fits was never refused: the
        # compiler is not even loaded (a cached sweep's start-up)
        return
    _refuse_before_search(network, machine, max_cycles)
    used = 0
    for layer in run.layers:
        if used + layer.cycles > max_cycles:
            raise _over_the_limit(network, layer.name, max_cycles, used)
        used += layer.cycles


def _refuse_before_search(network: Network, machine: MachineConfig, max_cycles: int | None) -> None:
    """Before compiling anything: refuse a network with a layer whose smallest tile does not fit,
    or whose layers' roofline bounds (compiler.layer_bound: no program of a layer runs faster) add
    up to more than ``max_cycles``, naming the layer that passes it and the figures."""
    from dlpsim import compiler
    from dlpsim.run.compile import bound_text, check_before_search

    bound_before = 0
    for node in network.nodes:
        problem = compiler.lower(node.layer, network.batch)
        if problem is None:
            continue
        check_before_search(node.layer, problem, machine, None)
        bound = compiler.layer_bound(problem, machine)
        if max_cycles is not None and bound_before + bound.cycles > max_cycles:
            raise RunLimitError(f"{network.name}: error: layer {node.name} would pass the limit of "
                                f"{format_number(max_cycles, grouped=True)} cycles for the network: its "
                                f"roofline bound alone is {bound_text(bound)}, and the layers before it "
                                f"are bound to {format_number(bound_before, grouped=True)}; "
                                "nothing compiled (raise it with --max-cycles)")
        bound_before += bound.cycles


def _over_the_limit(network: Network, layer: str, max_cycles: int, used: int) -> RunLimitError:
    return RunLimitError(f"{network.name}: error: layer {layer} would pass the limit of "
                         f"{format_number(max_cycles, grouped=True)} "
                         f"cycles for the network ({used:,} used by the layers before it; raise it "
                         "with --max-cycles)")
