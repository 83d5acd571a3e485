"""The human-readable summary of a run, as ``dlpsim run`` prints it."""

from __future__ import annotations

from fractions import Fraction

from dlpsim.analysis.tables import align, percent
from dlpsim.data import HazardReport
from dlpsim.results import ControlCause
from dlpsim.results.energy import Energy
from dlpsim.sim.stats import Stats
from dlpsim.units import (
    energy_unit,
    format_energy,
    format_frequency,
    format_number,
    format_power,
    format_seconds,
)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    # text left, numbers right, so columns of figures line up
    right = [any(row[i][:1].isdigit() or row[i] == "n/a" for row in rows) for i in range(len(header))]
    return align([header, *rows], right)


def _number(value: Fraction | int) -> str:
    """A rate: exact when whole, else six significant digits; scientific when absurdly large."""
    value = Fraction(value)
    return format_number(value) if value.denominator == 1 else format_number(value, digits=6)


def _array(stats: Stats) -> str:
    """The systolic array, when the run used one (the throughput model is the textbook's)."""
    return "" if stats.matrix_unit == "throughput" else f", {stats.matrix_unit}"


# The control unit's columns, one per cause, in the order of ControlCause: they add up to the cycles.
CONTROL_COLUMNS = {ControlCause.ISSUING: "issuing", ControlCause.QUEUE_FULL: "stalled: queue full",
                   ControlCause.SYNC: "sync", ControlCause.BARRIER: "barrier",
                   ControlCause.FINISHED: "idle after issue"}


def format_run_summary(stats: Stats, hazards: HazardReport | None = None) -> str:
    """The run's figures and tables; with ``hazards``, the data-hazard check's line last (and the
    hazards a run with --allow-hazards went ahead with)."""
    total = stats.cycles
    bound = stats.bound
    lines = [] if stats.complete else [
        f"INCOMPLETE: stopped at cycle {total}; every figure covers only the cycles simulated", ""]
    lines += [
        f"{stats.program} on {stats.machine} ({stats.compute_cores} compute core"
        f"{'s' if stats.compute_cores > 1 else ''}, {format_frequency(stats.clock_hz)}{_array(stats)})",
        "",
        f"  cycles          {total}",
        f"  time            {format_seconds(stats.seconds)}",
        f"  roofline bound  {bound.cycles} cycles, {bound.limit} "
        f"(compute {bound.compute_cycles}, DRAM {bound.dram_cycles}: {stats.dram_bytes} B at "
        f"{_number(stats.dram_bytes_per_cycle)} B/cycle)",
        f"  efficiency      {percent(stats.efficiency)} of the bound",
        f"  MAC operations  {stats.mac_operations}  (utilization {percent(stats.mac_utilization)} of "
        f"{_number(stats.peak_macs_per_cycle)} MAC/cycle)",
        *energy_lines(stats.energy, stats.seconds, stats.mac_operations, indent="  "),
        "",
    ]
    rows = []
    for core in stats.cores:
        for queue in core.queues:
            if queue.instructions or core.name == "mem" or queue.kind != "move":
                rows.append((core.name, queue.kind, str(queue.instructions), str(queue.busy_cycles),
                             percent(Fraction(queue.busy_cycles, total) if total else None)))
    lines += _table(("core", "queue", "instructions", "busy cycles", "busy"), rows)
    lines.append("")
    rows = []
    for core in stats.cores:
        control = dict(core.control_cycles)
        rows.append((core.name, str(core.finish_cycle), *(str(control[cause]) for cause in CONTROL_COLUMNS)))
    lines += _table(("core", "finished at", *CONTROL_COLUMNS.values()), rows)
    lines.append("")
    rows = [(link.name, str(link.bytes), str(link.transfers), _number(link.bytes_per_cycle),
             str(link.busy_cycles), percent(Fraction(link.busy_cycles, total) if total else None))
            for link in stats.links if link.transfers]
    if rows:
        lines += _table(("link", "bytes", "transfers", "B/cycle", "busy cycles", "busy"), rows)
    else:
        lines.append("no transfers")
    lines += ["", *energy_table(stats.energy)]
    if hazards is not None:
        lines += ["", hazards.summary(), *hazards.listing()]
    return "\n".join(lines) + "\n"


def energy_lines(energy: Energy, seconds: Fraction, macs: int, indent: str = "",
                 width: int = 16) -> list[str]:
    """:func:`energy_figures` as lines under the cycles, labels ``width`` wide."""
    return [f"{indent}{label:<{width}}{value}" for label, value in energy_figures(energy, seconds, macs)]


def energy_figures(energy: Energy, seconds: Fraction, macs: int) -> list[tuple[str, str]]:
    """(label, value): energy, average power and efficiency, and a line on the count-form MACs,
    which are charged their operations only."""
    watts, efficiency = energy.average_watts(seconds), energy.gops_per_watt(macs)
    figures = [
        ("energy", format_energy(energy.total_pj)),
        ("average power", "n/a" if watts is None else format_power(watts)),
        ("GOPS/W", f"{'n/a' if efficiency is None else _number(efficiency)}  (2 x MACs / energy)"),
    ]
    if energy.uncharged_macs:
        figures.append(("not charged", f"{energy.uncharged_macs} MAC instructions given by their count "
                        "alone: operations only, no operand traffic (give MxKxN to count it)"))
    return figures


def energy_table(energy: Energy) -> list[str]:
    """The energy by component: pJ and share of the total."""
    total = energy.total_pj
    unit, scale = energy_unit(total)
    rows = [(name, f"{float(pj / scale):,.3f}", percent(pj / total if total else None))
            for name, pj in (*energy.components, ("total", total))]
    return _table(("energy", unit, "share"), rows)
