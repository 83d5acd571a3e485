"""The machine's roofline, and the layers of simulated networks placed under it (exercises 6.10, 6.13).

Conventions, stated on the plot's axes as well:

- **operations**: one MAC counts as 2 operations (a multiply and an add), so the
  roof's ceiling is ``2 x peak MACs per cycle x clock`` (DLP-S: 2 x 256 x 1 GHz =
  512 GOP/s) and performance is given in GOP/s (10^9 operations per second);
- **operational intensity**: operations per byte moved over the DRAM link, as the
  compiled program moves them (its simulated DRAM bytes, not the layer's own data),
  so the DRAM slope is the DRAM bandwidth and the ridge point is
  ``peak operations per second / DRAM bytes per second``;
- **performance** of a layer: its operations divided by its simulated time.

Because a layer's simulated cycles are at least both its compute-limited and its
DRAM-limited cycles, every point lies on or under the roof; a point above it would be a
simulator bug (the tests check this exactly, with fractions).

Only MACs count: a layer without MACs (ReLU, pooling, batch norm, residual add,
concatenation: the vector unit's work) is left out of the chart and listed as such, and
the vector operations of a layer that has MACs (an LSTM's gates) are not counted as
operations, so its point is if anything low. A network's *whole* point divides all its
MACs by all its DRAM bytes and all its cycles, vector layers included.

The computation here imports no matplotlib; :func:`plot_roofline` imports it lazily and
draws with the Agg canvas, so nothing needs a display.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.analysis.tables import align, percent
from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.results import OPS_PER_MAC
from dlpsim.results.files import exact_json, from_json, read_results, write_csv, write_results
from dlpsim.run.network import NetworkRun

ROOFLINE_FORMAT = "dlpsim-roofline/1"
GIGA = 10**9

INTENSITY_LABEL = "operational intensity (operations per DRAM byte; 1 MAC = 2 operations)"
PERFORMANCE_LABEL = "performance (GOP/s; 1 MAC = 2 operations)"


@dataclass(frozen=True)
class Roof:
    """The machine's two ceilings: peak compute and DRAM bandwidth."""

    machine: str
    clock_hz: Fraction
    peak_macs_per_cycle: Fraction  # the whole machine's MAC_32 rate (all compute cores)
    dram_bytes_per_second: Fraction

    @classmethod
    def of(cls, machine: MachineConfig) -> Roof:
        return cls(machine.name, Fraction(machine.clock_hz), Fraction(machine.peak_macs_per_cycle),
                   Fraction(machine.dram.link.bytes_per_second))

    @property
    def peak_ops_per_second(self) -> Fraction:
        return OPS_PER_MAC * self.peak_macs_per_cycle * self.clock_hz

    @property
    def peak_gops(self) -> Fraction:
        return self.peak_ops_per_second / GIGA

    @property
    def bandwidth_gb_per_second(self) -> Fraction:
        return self.dram_bytes_per_second / GIGA

    @property
    def ridge_intensity(self) -> Fraction:
        """Operations per DRAM byte where the slope meets the ceiling: peak / bandwidth."""
        return self.peak_ops_per_second / self.dram_bytes_per_second

    def attainable_ops_per_second(self, intensity: Fraction) -> Fraction:
        """The roof at ``intensity``: min(peak, intensity x bandwidth)."""
        return min(self.peak_ops_per_second, intensity * self.dram_bytes_per_second)

    def to_dict(self) -> dict:
        return {"machine": self.machine, "clock_hz": exact_json(self.clock_hz),
                "peak_macs_per_cycle": exact_json(self.peak_macs_per_cycle),
                "dram_bytes_per_second": exact_json(self.dram_bytes_per_second)}

    @classmethod
    def from_dict(cls, data: dict) -> Roof:
        roof = cls(str(data["machine"]), Fraction(from_json(data["clock_hz"])),
                   Fraction(from_json(data["peak_macs_per_cycle"])),
                   Fraction(from_json(data["dram_bytes_per_second"])))
        if min(roof.clock_hz, roof.peak_macs_per_cycle, roof.dram_bytes_per_second) <= 0:
            raise ValueError("the clock, peak and bandwidth must be positive")
        return roof


@dataclass(frozen=True)
class RooflinePoint:
    """A layer (or a whole network) as simulated: its MACs, DRAM bytes and cycles."""

    network: str
    layer: str  # "TOTAL" for the whole network
    kind: str
    description: str
    macs: int
    dram_bytes: int
    cycles: int
    bound: str  # what limits its roofline bound: "compute" or "dram" (empty for a whole network)

    @property
    def operations(self) -> int:
        return OPS_PER_MAC * self.macs

    @property
    def intensity(self) -> Fraction:
        """Operations per DRAM byte (the point is plotted only when both are non-zero)."""
        return Fraction(self.operations, self.dram_bytes)

    def seconds(self, roof: Roof) -> Fraction:
        return self.cycles / roof.clock_hz

    def ops_per_second(self, roof: Roof) -> Fraction:
        return self.operations / self.seconds(roof)

    def gops(self, roof: Roof) -> Fraction:
        return self.ops_per_second(roof) / GIGA

    def fraction_of_roof(self, roof: Roof) -> Fraction:
        """Performance over the roof at this intensity: at most 1 unless the simulator is wrong."""
        return self.ops_per_second(roof) / roof.attainable_ops_per_second(self.intensity)

    @property
    def plottable(self) -> bool:
        """Whether it has a place on the log-log chart: MACs, DRAM bytes and cycles all non-zero."""
        return self.macs > 0 and self.dram_bytes > 0 and self.cycles > 0

    def to_dict(self) -> dict:
        return {"layer": self.layer, "kind": self.kind, "type": self.description, "macs": self.macs,
                "dram_bytes": self.dram_bytes, "cycles": self.cycles, "bound": self.bound}

    @classmethod
    def from_dict(cls, network: str, data: dict) -> RooflinePoint:
        return cls(network, str(data["layer"]), str(data["kind"]), str(data["type"]), int(data["macs"]),
                   int(data["dram_bytes"]), int(data["cycles"]), str(data["bound"]))


@dataclass(frozen=True)
class NetworkPoints:
    network: str
    description: str
    layers: tuple[RooflinePoint, ...]  # the layers drawn: MACs, DRAM bytes and cycles all non-zero
    skipped: tuple[str, ...]  # the layers left out (no MACs: vector-only layers, concatenations)
    total: RooflinePoint  # the whole network: all its MACs, DRAM bytes and cycles
    batch: int = 1  # samples per inference (every point is for the whole batch)

    def to_dict(self) -> dict:
        return {"network": self.network, "description": self.description, "batch": self.batch,
                "layers": [point.to_dict() for point in self.layers], "skipped": list(self.skipped),
                "total": self.total.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> NetworkPoints:
        name = str(data["network"])
        return cls(name, str(data["description"]),
                   tuple(RooflinePoint.from_dict(name, layer) for layer in data["layers"]),
                   tuple(str(layer) for layer in data["skipped"]),
                   RooflinePoint.from_dict(name, data["total"]), int(data.get("batch", 1)))


@dataclass(frozen=True)
class Roofline:
    roof: Roof
    networks: tuple[NetworkPoints, ...]

    @property
    def points(self) -> tuple[RooflinePoint, ...]:
        """Every plotted layer of every network."""
        return tuple(point for network in self.networks for point in network.layers)

    def above_roof(self) -> tuple[RooflinePoint, ...]:
        """Points (layers and whole networks) faster than the roof allows: each one a simulator bug."""
        return tuple(point for network in self.networks for point in (*network.layers, network.total)
                     if point.plottable and point.fraction_of_roof(self.roof) > 1)

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": ROOFLINE_FORMAT, "roof": self.roof.to_dict(),
                "networks": [network.to_dict() for network in self.networks]}

    def write_json(self, path) -> None:
        write_results(path, self.to_dict())

    def csv_rows(self) -> list[tuple[str, ...]]:
        """One row per plotted layer, then the network's TOTAL row, per network."""
        roof = self.roof
        rows: list[tuple[str, ...]] = [CSV_COLUMNS]
        for network in self.networks:
            for point in (*network.layers, network.total):
                plotted = point.plottable
                rows.append((
                    point.network, point.layer, point.kind, point.description, str(point.macs),
                    str(point.operations), str(point.dram_bytes), str(point.cycles),
                    f"{float(point.seconds(roof)):.9g}",
                    f"{float(point.intensity):.6f}" if plotted else "",
                    f"{float(point.gops(roof)):.6f}" if plotted else "",
                    f"{float(roof.attainable_ops_per_second(point.intensity) / GIGA):.6f}" if plotted else "",
                    f"{float(point.fraction_of_roof(roof)):.6f}" if plotted else "",
                    point.bound))
        return rows

    def write_csv(self, path) -> None:
        write_csv(path, self.csv_rows())


CSV_COLUMNS = ("network", "layer", "kind", "type", "macs", "operations", "dram_bytes", "cycles", "seconds",
               "intensity_ops_per_byte", "performance_gops", "roof_gops", "fraction_of_roof", "bound")


def network_points(run: NetworkRun) -> NetworkPoints:
    """A simulated network's layers as roofline points, and the whole network's point."""
    drawn, skipped = [], []
    for layer in run.layers:
        point = RooflinePoint(run.network, layer.name, layer.kind, layer.description, layer.macs,
                              layer.dram_bytes, layer.cycles, layer.bound.kind.value)
        if point.plottable:
            drawn.append(point)
        else:
            skipped.append(layer.name)
    total = RooflinePoint(run.network, "TOTAL", "", run.description, run.macs, run.dram_bytes, run.cycles,
                          "")
    return NetworkPoints(run.network, run.description, tuple(drawn), tuple(skipped), total, run.batch)


def roofline(machine: MachineConfig, runs: Iterable[NetworkRun] = ()) -> Roofline:
    """The roofline of ``machine`` with the layers of networks simulated on it."""
    runs = tuple(runs)
    for run in runs:
        if run.peak_macs_per_cycle != machine.peak_macs_per_cycle or run.clock_hz != machine.clock_hz:
            raise ValueError(f"{run.network} was simulated on another machine than {machine.name}")
    return Roofline(Roof.of(machine), tuple(network_points(run) for run in runs))


def load_roofline(path) -> Roofline:
    """A roofline saved with :meth:`Roofline.write_json`, to redraw without simulating."""
    data = read_results(path, ROOFLINE_FORMAT)
    try:
        return Roofline(Roof.from_dict(data["roof"]),
                        tuple(NetworkPoints.from_dict(network) for network in data["networks"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise UserError(f"{path}: error: not a valid {ROOFLINE_FORMAT} results file ({error!r})") from None


def format_roofline(result: Roofline) -> str:
    """The roof's numbers and, per network, where its layers sit: the text `dlpsim roofline` prints."""
    roof = result.roof
    lines = [
        f"roofline of {roof.machine}: 1 MAC = 2 operations",
        f"  peak compute   {float(roof.peak_gops):g} GOP/s "
        f"({float(roof.peak_macs_per_cycle):g} MAC/cycle x 2 x {float(roof.clock_hz) / 1e9:g} GHz)",
        f"  DRAM bandwidth {float(roof.bandwidth_gb_per_second):g} GB/s",
        f"  ridge point    {float(roof.ridge_intensity):g} operations per DRAM byte (peak / bandwidth)",
    ]
    if result.networks:
        lines.append("")
        header = ("network", "layers drawn", "left out (no MACs)", "ops/byte", "GOP/s", "of roof",
                  "worst layer vs roof")
        rows = [header]
        for network in result.networks:
            total = network.total
            shown = total.plottable
            worst = min(network.layers, key=lambda p: p.fraction_of_roof(roof), default=None)
            rows.append((
                network.network, str(len(network.layers)), str(len(network.skipped)),
                f"{float(total.intensity):.3g}" if shown else "-",
                f"{float(total.gops(roof)):.4g}" if shown else "-",
                percent(total.fraction_of_roof(roof)) if shown else "-",
                "-" if worst is None else f"{worst.layer} ({percent(worst.fraction_of_roof(roof))})"))
        lines += ["  " + line for line in align(rows, (False, True, True, True, True, True, False))]
        lines.append("")
        lines.append("  (whole network: all its MACs over all its DRAM bytes and cycles, vector layers "
                     "included)")
    return "\n".join(lines) + "\n"


# -- drawing ---------------------------------------------------------------------------------------

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")


def _tint(colour: str, alpha: float = 0.25) -> tuple[float, float, float, float]:
    """``colour`` as a see-through fill, so the edges of markers under it stay visible."""
    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return (red, green, blue, alpha)


def draw_roofline(figure, result: Roofline) -> None:
    """Draw ``result`` into a matplotlib Figure: the roof, the ridge point and every network's layers."""
    import math

    roof = result.roof
    peak = float(roof.peak_gops)
    bandwidth = float(roof.bandwidth_gb_per_second)
    ridge = float(roof.ridge_intensity)
    axes = figure.add_subplot(1, 1, 1)

    shown = [p for n in result.networks for p in (*n.layers, n.total) if p.plottable]
    x_min = min([ridge / 40, *(float(p.intensity) for p in shown)]) / 2
    x_max = max([ridge * 40, *(float(p.intensity) for p in shown)]) * 2
    y_min = min([x_min * bandwidth, *(float(p.gops(roof)) for p in shown)]) / 1.5
    y_max = peak * 4
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(x_min, x_max)
    axes.set_ylim(y_min, y_max)

    # The roof: the DRAM slope up to the ridge, then the compute ceiling.
    axes.plot([x_min, ridge, x_max], [x_min * bandwidth, peak, peak], color="black", linewidth=2.0,
              zorder=3)
    axes.plot([ridge, ridge], [y_min, peak], color="black", linestyle=":", linewidth=1, zorder=2)
    axes.plot([ridge], [peak], marker="o", color="black", markersize=7, zorder=4)
    axes.annotate(f"ridge point: {ridge:g} operations/byte\n= {peak:g} GOP/s / {bandwidth:g} GB/s",
                  xy=(ridge, peak), xytext=(ridge * 2, peak / 5), fontsize=9, ha="left", va="top",
                  arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 0.8}, zorder=5,
                  bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#999999"})
    axes.text(x_max / 1.3, peak * 1.15, f"peak compute {peak:g} GOP/s "
              f"= {float(roof.peak_macs_per_cycle):g} MAC/cycle x 2 x {float(roof.clock_hz) / 1e9:g} GHz",
              ha="right", va="bottom", fontsize=9)
    # The slope's label sits above its middle (in log space), turned to the line's angle on screen.
    x_text = math.sqrt(x_min * ridge)
    start = axes.transData.transform((x_min, x_min * bandwidth))
    end = axes.transData.transform((ridge, peak))
    angle = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
    axes.text(x_text, x_text * bandwidth * 1.5, f"DRAM bandwidth {bandwidth:g} GB/s", fontsize=9,
              ha="center", va="bottom", rotation=angle, rotation_mode="anchor")

    # Layers often sit on the roof together: markers are see-through with solid edges, and each
    # network's are smaller than those of the one drawn before it, so overlapping ones still show.
    for index, network in enumerate(result.networks):
        colour = COLOURS[index % len(COLOURS)]
        marker = MARKERS[index % len(MARKERS)]
        if network.layers:
            axes.scatter([float(p.intensity) for p in network.layers],
                         [float(p.gops(roof)) for p in network.layers], s=max(22, 80 - 20 * index),
                         marker=marker, facecolors=_tint(colour), edgecolors=colour, linewidths=1.3,
                         zorder=6 + index, label=f"{network.network}: {len(network.layers)} layers")
        total = network.total
        if total.plottable:
            x, y = float(total.intensity), float(total.gops(roof))
            axes.scatter([x], [y], s=190, marker=marker, facecolors="none", edgecolors=colour,
                         linewidths=2.2, zorder=5, label=f"{network.network}: whole network")
            axes.annotate(network.network, (x, y), xytext=(0, -13), textcoords="offset points",
                          ha="center", va="top", fontsize=8.5, color=colour, fontweight="bold", zorder=5)

    axes.set_xlabel(INTENSITY_LABEL)
    axes.set_ylabel(PERFORMANCE_LABEL)
    axes.grid(True, which="major", linewidth=0.5, alpha=0.5)
    axes.grid(True, which="minor", linewidth=0.3, alpha=0.2)
    title = f"Roofline of {roof.machine}"
    if result.networks:
        batches = {network.batch for network in result.networks}
        if len(batches) == 1:
            title += (": " + ", ".join(network.network for network in result.networks)
                      + f" (simulated, batch {batches.pop()})")
        else:
            title += ": " + ", ".join(f"{network.network} (batch {network.batch})"
                                      for network in result.networks) + " (simulated)"
    axes.set_title(title, fontsize=11)
    if result.networks:
        skipped = sum(len(network.skipped) for network in result.networks)
        note = ("Small markers: one layer each (2 x its MACs over its simulated DRAM bytes and time); "
                f"large hollow: the whole network.\n{skipped} layers without MACs (ReLU, pooling, batch "
                "norm, add, concat: vector-unit work) are not drawn; vector operations are not counted.")
        figure.text(0.01, 0.01, note, fontsize=7.5, ha="left", va="bottom", color="#333333")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False,
                    title="network", title_fontsize=9, labelspacing=1.0)


def _margins(result: Roofline) -> dict[str, float]:
    return {"bottom": 0.16 if result.networks else 0.1, "right": 0.76 if result.networks else 0.97}


def plot_roofline(result: Roofline, output: str | None = None, *, show: bool = False) -> None:
    """Save the chart to ``output`` (its extension picks the format) and/or show it (``show``)."""
    from dlpsim.analysis.figures import render

    width = 11.5 if result.networks else 8.5
    render(lambda figure: draw_roofline(figure, result), (width, 6.6), output, show=show, **_margins(result))


def plot_rooflines(results: Sequence[Roofline], output: str | None = None, *, show: bool = False) -> None:
    """Several machines' charts in one figure, one above the other (the same networks on each
    preset, say)."""
    from dlpsim.analysis.figures import render

    def draw(figure) -> None:
        for panel, result in zip(figure.subfigures(len(results), 1), results, strict=True):
            panel.subplots_adjust(**_margins(result))
            draw_roofline(panel, result)

    render(draw, (11.5, 6.6 * len(results)), output, show=show)
