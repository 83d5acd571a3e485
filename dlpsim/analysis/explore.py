"""What ``dlpsim explore`` prints and draws: the Pareto front of cost against the objective.

The exploration itself is run by :mod:`dlpsim.run.explore`. The table lists the front (cheapest
first) and the presets; the CSV (``Exploration.write_csv``) has every design. The chart plots
every design that ran, the front as a highlighted staircase, and the presets as labelled stars.
"""

from __future__ import annotations

from dlpsim.analysis.tables import align
from dlpsim.run.explore import Design, Exploration
from dlpsim.run.sweep import format_value
from dlpsim.units import format_seconds, time_unit


def _objective_text(result: Exploration, design: Design) -> str:
    if design.objective is None:
        return "-"
    if result.objective.unit == "s":
        return format_seconds(design.objective)
    return f"{float(design.objective):.6g}"


def _row(result: Exploration, design: Design) -> tuple[str, ...]:
    runs = design.runs or ()
    per_network = [format_seconds(run.seconds) for run in runs] if len(result.networks) > 1 else []
    if design.runs is None and len(result.networks) > 1:
        per_network = ["-"] * len(result.networks)
    values = zip(result.varies, design.values, strict=True)
    return (design.name or "", *(format_value(vary.key, value) for vary, value in values),
            f"{float(design.cost):g}", _objective_text(result, design), *per_network)


def format_exploration(result: Exploration) -> str:
    """The front, cheapest first, then the presets, and what was left out."""
    header = ("", *(vary.axis_label for vary in result.varies), result.cost.name, result.objective.label,
              *(f"{network}" for network in result.networks if len(result.networks) > 1))
    sampled = result.sampled is not None and result.sampled < result.grid
    sample = (f"a sample of {len(result.designs) + result.over_budget:,} (seed {result.seed}) of the "
              f"{result.grid:,} designs of the grid" if sampled else
              f"all {result.grid:,} designs of the grid")
    settings = f" with {' '.join('--set ' + s for s in result.settings)}" if result.settings else ""
    lines = [f"{' + '.join(result.networks)} on {result.machine}{settings}: {sample}"]
    if result.budget is not None:
        lines.append(f"budget {float(result.budget):g} cost units: {result.over_budget:,} over it, left out "
                     "before simulating")
    failed = [design for design in result.designs if design.runs is None]
    lines.append(f"{len(result.designs) - len(failed):,} designs ran, {len(failed):,} could not"
                 + (f" (first: {failed[0].setting}: {failed[0].failure})" if failed else ""))
    lines += ["", f"Pareto front ({len(result.front)} designs, cheapest first): no design is cheaper and "
              "faster than one of them"]
    rows = [header, *(_row(result, design) for design in result.front)]
    rows += [_row(result, design) for design in result.presets]
    lines += align(rows, [False] + [True] * (len(header) - 1))
    lines += ["", f"{result.cost.name}: the presets' [cost] weights x (MAC units, KB of on-chip SRAM, "
              "GB/s of DRAM bandwidth); the named rows are the presets as shipped"]
    return "\n".join(lines) + "\n"


def draw_exploration(figure, result: Exploration) -> None:
    axes = figure.add_subplot(1, 1, 1)
    ran = [design for design in result.designs if design.objective is not None]
    reference = [design.objective for design in ran] + [design.objective for design in result.presets
                                                        if design.objective is not None]
    if not reference:  # every design failed: an empty chart that says so, the reasons are in the CSV
        axes.text(0.5, 0.5, "no design could run (the CSV says why)", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set_title(f"{' + '.join(result.networks)} on {result.machine}", fontsize=10)
        return
    unit, scale = (time_unit(float(max(reference))) if result.objective.unit == "s"
                   else (result.objective.unit, 1))

    def y(design: Design) -> float:
        return float(design.objective) / scale

    axes.scatter([float(design.cost) for design in ran], [y(design) for design in ran], s=16, color="#9a9a9a",
                 alpha=0.7, label="design", zorder=2)
    front = result.front
    axes.step([float(design.cost) for design in front], [y(design) for design in front], where="post",
              color="#d62728", linewidth=1.6, zorder=3)
    axes.scatter([float(design.cost) for design in front], [y(design) for design in front], s=42,
                 color="#d62728", edgecolor="black", linewidth=0.6, label="Pareto front", zorder=4)
    for design in result.presets:
        if design.objective is None:
            continue
        axes.scatter([float(design.cost)], [y(design)], marker="*", s=220, color="#1f77b4",
                     edgecolor="black", linewidth=0.6, zorder=5,
                     label="preset (as shipped)" if design is result.presets[0] else "_")
        axes.annotate(design.name, (float(design.cost), y(design)), textcoords="offset points", xytext=(8, 6),
                      fontsize=9, color="#1f77b4")
    if result.budget is not None:
        axes.axvline(float(result.budget), color="#555555", linestyle="--", linewidth=1, label="budget")
    from matplotlib.ticker import FuncFormatter

    axes.set_xscale("log")
    axes.set_yscale("log")
    for axis in (axes.xaxis, axes.yaxis):  # 300, not 3 x 10^2; minor ticks labelled at 2, 3 and 5 only
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(FuncFormatter(_minor_label))
    axes.set_xlabel(f"{result.cost.label} ({result.cost.unit}, log scale)")
    axes.set_ylabel(f"{result.objective.label} ({unit}, log scale)")
    axes.grid(True, which="both", linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=9, frameon=False)
    settings = f", {', '.join(result.settings)}" if result.settings else ""
    axes.set_title(f"{' + '.join(result.networks)} on {result.machine}{settings}: "
                   f"{', '.join(vary.key for vary in result.varies)}", fontsize=10)


def _minor_label(value: float, _position) -> str:
    """A log axis's minor tick labelled when it is 2, 3 or 5 times a power of ten: enough to read, few
    enough not to collide."""
    import math

    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if any(math.isclose(mantissa, digit) for digit in (2, 3, 5)) else ""


def plot_exploration(result: Exploration, output: str | None = None, *, show: bool = False) -> None:
    """Save the chart to ``output`` (its extension picks the format) and/or show it (``show``)."""
    from dlpsim.analysis.figures import render

    render(lambda figure: draw_exploration(figure, result), (9, 6.2), output, show=show,
           left=0.1, right=0.97, bottom=0.1, top=0.92)
