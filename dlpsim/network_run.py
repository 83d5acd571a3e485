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

import csv
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.errors import RunLimitError, UserError
from dlpsim.machine import MachineConfig
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.tables import align, json_number, percent
from dlpsim.units import format_frequency, format_seconds
from dlpsim.workloads import Network

RESULTS_FORMAT = "dlpsim-network-run/1"

# progress(index, total, layer_name): called before layer ``index`` (from 0) of ``total`` starts.
Progress = Callable[[int, int, str], None]

CSV_COLUMNS = ("layer", "kind", "type", "macs", "dram_bytes", "cycles", "mac_utilization",
               "compute_bound_cycles", "dram_bound_cycles", "bound_cycles", "bound", "efficiency")


def _ratio(numerator: int | Fraction, denominator: int | Fraction) -> Fraction | None:
    return None if denominator == 0 else Fraction(numerator) / Fraction(denominator)


def _fixed(value: Fraction | None, digits: int = 6) -> str:
    """A ratio for the CSV: fixed decimals, empty when undefined."""
    return "" if value is None else f"{float(value):.{digits}f}"


@dataclass(frozen=True)
class LayerRun:
    """One layer's compiled program, as simulated."""

    name: str
    kind: str  # the layer's kind: conv, fc, relu, maxpool, ...
    description: str  # e.g. "conv 3x3", "gemm M=1024"
    macs: int
    dram_bytes: int
    cycles: int
    compute_bound_cycles: int
    dram_bound_cycles: int
    peak_macs_per_cycle: Fraction  # of the whole machine

    @property
    def bound_cycles(self) -> int:
        return max(self.compute_bound_cycles, self.dram_bound_cycles)

    @property
    def bound_kind(self) -> str:
        """"compute" or "dram": what limits the roofline bound ("none" for a layer with no work)."""
        if self.bound_cycles == 0:
            return "none"
        return "compute" if self.compute_bound_cycles >= self.dram_bound_cycles else "dram"

    @property
    def mac_utilization(self) -> Fraction:
        return _ratio(self.macs, self.peak_macs_per_cycle * self.cycles) or Fraction(0)

    @property
    def efficiency(self) -> Fraction | None:
        """bound / cycles; None for a layer that takes no cycles (a concatenation)."""
        return _ratio(self.bound_cycles, self.cycles)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "type": self.description,
            "macs": self.macs,
            "dram_bytes": self.dram_bytes,
            "cycles": self.cycles,
            "mac_utilization": json_number(self.mac_utilization),
            "compute_bound_cycles": self.compute_bound_cycles,
            "dram_bound_cycles": self.dram_bound_cycles,
            "bound_cycles": self.bound_cycles,
            "bound": self.bound_kind,
            "efficiency": json_number(self.efficiency),
        }


@dataclass(frozen=True)
class NetworkRun:
    network: str
    description: str
    machine: str
    clock_hz: int | Fraction
    compute_cores: int
    peak_macs_per_cycle: Fraction
    layers: tuple[LayerRun, ...]

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
        """Time per inference at the machine's clock."""
        return Fraction(self.cycles) / Fraction(self.clock_hz)

    @property
    def mac_utilization(self) -> Fraction:
        return _ratio(self.macs, self.peak_macs_per_cycle * self.cycles) or Fraction(0)

    @property
    def bound_cycles(self) -> int:
        """The sum of the layers' roofline bounds."""
        return sum(layer.bound_cycles for layer in self.layers)

    @property
    def compute_bound_cycles(self) -> int:
        return sum(layer.compute_bound_cycles for layer in self.layers)

    @property
    def dram_bound_cycles(self) -> int:
        return sum(layer.dram_bound_cycles for layer in self.layers)

    @property
    def efficiency(self) -> Fraction | None:
        return _ratio(self.bound_cycles, self.cycles)

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
            "machine": self.machine,
            "clock_hz": json_number(self.clock_hz),
            "compute_cores": self.compute_cores,
            "peak_macs_per_cycle": json_number(self.peak_macs_per_cycle),
            "layers": [layer.to_dict() for layer in self.layers],
            "totals": {
                "layers": len(self.layers),
                "macs": self.macs,
                "dram_bytes": self.dram_bytes,
                "cycles": self.cycles,
                "seconds": float(self.seconds),
                "mac_utilization": json_number(self.mac_utilization),
                "compute_bound_cycles": self.compute_bound_cycles,
                "dram_bound_cycles": self.dram_bound_cycles,
                "bound_cycles": self.bound_cycles,
                "efficiency": json_number(self.efficiency),
            },
        }

    def csv_rows(self) -> list[tuple[str, ...]]:
        """The CSV's header and rows: one per layer, then TOTAL. Ratios have six decimals."""
        rows = [CSV_COLUMNS]
        for layer in self.layers:
            rows.append((layer.name, layer.kind, layer.description, str(layer.macs), str(layer.dram_bytes),
                         str(layer.cycles), _fixed(layer.mac_utilization),
                         str(layer.compute_bound_cycles), str(layer.dram_bound_cycles),
                         str(layer.bound_cycles), layer.bound_kind, _fixed(layer.efficiency)))
        rows.append(("TOTAL", "", "", str(self.macs), str(self.dram_bytes), str(self.cycles),
                     _fixed(self.mac_utilization), str(self.compute_bound_cycles),
                     str(self.dram_bound_cycles), str(self.bound_cycles), "", _fixed(self.efficiency)))
        return rows

    def write_csv(self, path) -> None:
        try:
            with open(path, "w", newline="", encoding="utf-8") as file:
                csv.writer(file, lineterminator="\n").writerows(self.csv_rows())
        except OSError as error:
            raise UserError(f"{path}: error: cannot write the CSV file: {error.strerror}") from None


def run_network(network: Network, machine: MachineConfig, *, max_cycles: int | None = DEFAULT_MAX_CYCLES,
                progress: Progress | None = None, fast_forward: bool = True) -> NetworkRun:
    """Compile and simulate every layer of ``network`` on ``machine``, in order.

    ``max_cycles`` limits the whole network (the layers' cycles together); a network that
    needs more is stopped with a RunLimitError naming the layer. Errors of a layer (one
    that fits no tile, say) propagate as they are: they name the layer. ``fast_forward``
    is simulate()'s: the results are the same either way. The compiler simulates a matrix
    layer's program to choose its mapping (fast-forwarding): with ``fast_forward``, that run
    is the layer's, and the program is not simulated a second time.
    """
    from dlpsim.compiler import compile_layer
    from dlpsim.sim import simulate

    nodes = network.nodes
    layers: list[LayerRun] = []
    # Networks repeat layers (ResNet's blocks): equal program bodies give equal runs.
    simulated: dict[str, tuple[int, int, int, int, int]] = {}
    used = 0
    for index, node in enumerate(nodes):
        if progress is not None:
            progress(index, len(nodes), node.name)
        layer = node.layer
        compiled = compile_layer(layer, machine)
        body = "\n".join(line for line in compiled.text.splitlines() if not line.startswith(";"))
        if body not in simulated:
            budget = None if max_cycles is None else max_cycles - used
            stats = compiled.measured if fast_forward else None  # run by the compiler already
            if stats is None:
                try:
                    stats = simulate(compiled.program, machine, max_cycles=budget, fast_forward=fast_forward)
                except RunLimitError:
                    stats = None
            if stats is None or not stats.complete:
                raise _over_the_limit(network, node.name, max_cycles, used)
            simulated[body] = (stats.mac_operations, stats.dram_bytes, stats.cycles,
                               stats.compute_bound_cycles, stats.dram_bound_cycles)
        macs, dram_bytes, cycles, compute_bound, dram_bound = simulated[body]
        if max_cycles is not None and used + cycles > max_cycles:
            raise _over_the_limit(network, node.name, max_cycles, used)
        used += cycles
        layers.append(LayerRun(node.name, layer.kind, layer.describe(), macs, dram_bytes, cycles,
                               compute_bound, dram_bound, machine.peak_macs_per_cycle))
    return NetworkRun(network.name, network.description, machine.name, machine.clock_hz,
                      machine.compute_cores, machine.peak_macs_per_cycle, tuple(layers))


def _over_the_limit(network: Network, layer: str, max_cycles: int, used: int) -> RunLimitError:
    return RunLimitError(f"{network.name}: error: layer {layer} would pass the limit of {max_cycles:,} "
                         f"cycles for the network ({used:,} used by the layers before it; raise it "
                         "with --max-cycles)")


# -- the table `dlpsim net run` prints ---------------------------------------------------------

# Column title -> right-aligned (numbers) or not.
TABLE_COLUMNS = {"layer": False, "type": False, "MACs": True, "DRAM bytes": True, "cycles": True,
                 "MAC util": True, "bound": True, "limit": False, "efficiency": True}


def format_network_run(run: NetworkRun) -> str:
    """A per-layer table with the totals and the time per inference."""
    rows = [tuple(TABLE_COLUMNS)]
    for layer in run.layers:
        rows.append((layer.name, layer.description, f"{layer.macs:,}", f"{layer.dram_bytes:,}",
                     f"{layer.cycles:,}", percent(layer.mac_utilization), f"{layer.bound_cycles:,}",
                     layer.bound_kind if layer.bound_kind != "none" else "-", percent(layer.efficiency)))
    rows.append(("total", "", f"{run.macs:,}", f"{run.dram_bytes:,}", f"{run.cycles:,}",
                 percent(run.mac_utilization), f"{run.bound_cycles:,}", "", percent(run.efficiency)))
    table = align(rows, list(TABLE_COLUMNS.values()))
    compute = sum(1 for layer in run.layers if layer.bound_kind == "compute")
    dram = sum(1 for layer in run.layers if layer.bound_kind == "dram")
    cores = f"{run.compute_cores} compute core{'s' if run.compute_cores > 1 else ''}"
    lines = [
        f"{run.network} on {run.machine} ({cores}, {format_frequency(run.clock_hz)}): {run.description}",
        "each layer compiled and simulated alone; layers run one after another",
        "",
        *table,
        "",
        f"layers              {len(run.layers)} ({compute} compute-limited, {dram} DRAM-limited)",
        f"MACs                {run.macs:,}",
        f"DRAM bytes          {run.dram_bytes:,}",
        f"cycles              {run.cycles:,}",
        f"time per inference  {format_seconds(run.seconds)}",
        f"roofline bound      {run.bound_cycles:,} cycles (the sum of the layers' bounds)",
        f"efficiency          {percent(run.efficiency)} of the bound",
        f"MAC utilization     {percent(run.mac_utilization)} of {json_number(run.peak_macs_per_cycle)} "
        "MAC/cycle",
    ]
    return "\n".join(lines) + "\n"
