"""What ``dlpsim net run`` prints: a network run's per-layer table, its totals and time."""

from __future__ import annotations

from dlpsim.analysis.tables import align, percent
from dlpsim.results import Bound, BoundKind
from dlpsim.results.files import json_number
from dlpsim.run.network import NetworkRun
from dlpsim.units import format_frequency, format_seconds

# Column title -> right-aligned (numbers) or not.
TABLE_COLUMNS = {"layer": False, "type": False, "MACs": True, "DRAM bytes": True, "cycles": True,
                 "MAC util": True, "bound": True, "limit": False, "efficiency": True}


def _limit(bound: Bound) -> str:
    return "-" if bound.kind is BoundKind.NONE else bound.kind.value


def layer_rows(run: NetworkRun, undefined: str = "n/a") -> list[tuple[str, ...]]:
    """The table's rows (under TABLE_COLUMNS): one per layer, then the total.
    ``undefined`` stands for an efficiency that does not exist (a layer of no cycles)."""
    rows = [(layer.name, layer.description, f"{layer.macs:,}", f"{layer.dram_bytes:,}", f"{layer.cycles:,}",
             percent(layer.mac_utilization), f"{layer.bound.cycles:,}", _limit(layer.bound),
             percent(layer.efficiency, undefined)) for layer in run.layers]
    rows.append(("total", "", f"{run.macs:,}", f"{run.dram_bytes:,}", f"{run.cycles:,}",
                 percent(run.mac_utilization), f"{run.bound.cycles:,}", "",
                 percent(run.efficiency, undefined)))
    return rows


def limited_layers(run: NetworkRun) -> str:
    """How many layers each ceiling limits, in words."""
    compute = sum(1 for layer in run.layers if layer.bound.kind is BoundKind.COMPUTE)
    dram = sum(1 for layer in run.layers if layer.bound.kind is BoundKind.DRAM)
    return f"{len(run.layers)} ({compute} compute-limited, {dram} DRAM-limited)"


def format_network_run(run: NetworkRun) -> str:
    """A per-layer table with the totals and the time per inference."""
    table = align([tuple(TABLE_COLUMNS), *layer_rows(run)], list(TABLE_COLUMNS.values()))
    cores = f"{run.compute_cores} compute core{'s' if run.compute_cores > 1 else ''}"
    lines = [
        f"{run.network} on {run.machine} ({cores}, {format_frequency(run.clock_hz)}): {run.description}"
        + (f", batch {run.batch}" if run.batch > 1 else ""),
        "each layer compiled and simulated alone; layers run one after another",
        "",
        *table,
        "",
        f"layers              {limited_layers(run)}",
        f"MACs                {run.macs:,}",
        f"DRAM bytes          {run.dram_bytes:,}",
        f"cycles              {run.cycles:,}",
        f"time per inference  {format_seconds(run.seconds)}" if run.batch == 1 else
        f"time per batch      {format_seconds(run.seconds)} for {run.batch} samples, "
        f"{format_seconds(run.seconds_per_sample)} per sample",
        f"roofline bound      {run.bound.cycles:,} cycles (the sum of the layers' bounds)",
        f"efficiency          {percent(run.efficiency)} of the bound",
        f"MAC utilization     {percent(run.mac_utilization)} of {json_number(run.peak_macs_per_cycle)} "
        "MAC/cycle",
    ]
    return "\n".join(lines) + "\n"
