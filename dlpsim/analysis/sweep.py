"""What ``dlpsim sweep`` prints and draws: a sweep's table, its line chart or heat map (exercise 6.8).

MAC utilization is the contract's (v2): the matrix units' cycles at full rate (the sum over
MAC types of ops / rate) over compute cores x cycles, per layer and for the whole network;
the *roofline limit* of utilization is the same with the bound's cycles in place of the
simulated ones. The sweep itself is run by :mod:`dlpsim.run.sweep`.

Nothing here imports matplotlib at module level; :func:`plot_sweep` imports it lazily (Agg
canvas).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.analysis.tables import align, percent
from dlpsim.machine import display_unit
from dlpsim.run.network import LayerRun, NetworkRun
from dlpsim.run.sweep import Sweep, Vary, format_value
from dlpsim.units import energy_unit, format_energy, format_seconds, time_unit


@dataclass(frozen=True)
class Metric:
    """A figure ``--metric`` plots against the swept key, for the whole network and per layer."""

    title: str
    unit: str  # "J" (scaled to a readable unit on the chart), or as shown
    of_network: Callable[[NetworkRun], Fraction | None]
    of_layer: Callable[[LayerRun, NetworkRun], Fraction | None]
    log_scale: bool
    mac_layers_only: bool  # layers without MACs have no value to show


def _gops_per_watt(energy, macs: int) -> Fraction | None:
    return energy.gops_per_watt(macs) if macs else None


# --metric NAME -> what the chart shows; "utilization" is the chart of MAC utilization and time.
METRICS: dict[str, Metric | None] = {
    "utilization": None,
    "energy": Metric("energy per inference", "J", lambda run: run.energy.total_pj,
                     lambda layer, run: layer.energy.total_pj, log_scale=True, mac_layers_only=False),
    "gops-per-watt": Metric("efficiency (2 x MACs / energy)", "GOPS/W",
                            lambda run: _gops_per_watt(run.energy, run.macs),
                            lambda layer, run: _gops_per_watt(layer.energy, layer.macs),
                            log_scale=False, mac_layers_only=True),
}
DEFAULT_METRIC = "utilization"


def format_sweep(result: Sweep) -> str:
    """The table `dlpsim sweep` prints: one row per point."""
    header = (*(vary.axis_label for vary in result.varies), "cycles", "time", "MAC util", "roofline limit",
              "efficiency", "energy", "GOPS/W")
    rows = [header]
    for point in result.points:
        run = point.run
        efficiency = _gops_per_watt(run.energy, run.macs)
        rows.append((*(format_value(vary.key, value) for vary, value in zip(result.varies, point.values,
                                                                            strict=True)),
                     f"{run.cycles:,}", format_seconds(run.seconds), percent(run.mac_utilization),
                     percent(point.run.bound_mac_utilization), percent(run.efficiency, "-"),
                     format_energy(run.energy.total_pj),
                     "-" if efficiency is None else f"{float(efficiency):.4g}"))
    lines = [f"{result.network} on {result.machine}"
             + (f" with {' '.join('--set ' + s for s in result.settings)}" if result.settings else "")
             + f": {len(result.points)} simulations", ""]
    lines += align(rows, [True] * len(header))
    lines += ["", "MAC utilization = MACs / (peak MAC/cycle x cycles); the roofline limit uses the bound's "
              "cycles instead; energy per inference, and GOPS/W = 2 x MACs / energy"]
    return "\n".join(lines) + "\n"


# -- drawing ---------------------------------------------------------------------------------------

MAX_LABELLED_LAYERS = 12


def _x_axis(axes, vary: Vary) -> list[float]:
    """Set up the x axis for ``vary``: logarithmic (base 2) when its values are positive and span 8x
    or more, ticks at the values. Returns the x positions."""
    from matplotlib.ticker import FixedLocator, NullLocator

    scale = display_unit(vary.key)[1]
    xs = [float(Fraction(value) / scale) for value in vary.values]
    if min(xs) > 0 and max(xs) / min(xs) >= 8:
        axes.set_xscale("log", base=2)
    axes.xaxis.set_major_locator(FixedLocator(xs))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xticklabels(vary.labels, rotation=45 if len(xs) > 8 else 0)
    axes.set_xlabel(vary.axis_label)
    return xs


def draw_sweep(figure, result: Sweep, metric: str = DEFAULT_METRIC) -> None:
    chosen = METRICS[metric]
    if chosen is not None:
        (_draw_metric_lines if len(result.varies) == 1 else _draw_metric_heat_map)(figure, result, chosen)
    elif len(result.varies) == 1:
        _draw_lines(figure, result)
    else:
        _draw_heat_map(figure, result)


def _metric_scale(metric: Metric, result: Sweep) -> tuple[str, Fraction]:
    """The unit the metric's values are shown in, and pJ per that unit for energy."""
    if metric.unit != "J":
        return metric.unit, Fraction(1)
    unit, scale = energy_unit(max(point.run.energy.total_pj for point in result.points))
    return unit, Fraction(scale)


def _shown(value: Fraction | None, scale: Fraction) -> float:
    return float("nan") if value is None else float(value / scale)


def _draw_metric_lines(figure, result: Sweep, metric: Metric) -> None:
    from matplotlib import colormaps

    vary = result.varies[0]
    axes = figure.add_subplot(1, 1, 1)
    xs = _x_axis(axes, vary)
    unit, scale = _metric_scale(metric, result)
    names = result.mac_layer_names if metric.mac_layers_only else result.layer_names
    labelled = len(names) <= MAX_LABELLED_LAYERS
    palette = colormaps["tab20" if len(names) > 10 else "tab10"]
    for index, name in enumerate(names):
        style = ({"color": palette(index % palette.N), "linewidth": 1.2, "marker": "o", "markersize": 3.5,
                  "label": name} if labelled else
                 {"color": "#9a9a9a", "linewidth": 0.6, "alpha": 0.6,
                  "label": f"each of the {len(names)} layers" if index == 0 else "_"})
        axes.plot(xs, [_shown(metric.of_layer(point.run.layer(name), point.run), scale)
                       for point in result.points], **style)
    axes.plot(xs, [_shown(metric.of_network(point.run), scale) for point in result.points], color="black",
              linewidth=2.6, marker="o", markersize=6, label="whole network", zorder=5)
    if metric.log_scale:
        axes.set_yscale("log")
    axes.set_ylabel(f"{metric.title} ({unit}{', log scale' if metric.log_scale else ''})")
    axes.grid(True, linewidth=0.5, alpha=0.5)
    figure.legend(*axes.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(0.835, 0.9),
                  fontsize=8.5, frameon=False, title="layer", title_fontsize=9)
    figure.suptitle(f"{metric.title} vs {vary.key}: {_title(result)}", fontsize=11)


def _draw_metric_heat_map(figure, result: Sweep, metric: Metric) -> None:
    import numpy
    from matplotlib.ticker import FuncFormatter

    across, down = result.varies
    unit, scale = _metric_scale(metric, result)
    data = numpy.zeros((len(down.values), len(across.values)))
    for index, point in enumerate(result.points):
        column, row = divmod(index, len(down.values))
        data[row, column] = _shown(metric.of_network(point.run), scale)
    axes = figure.add_subplot(1, 1, 1)
    colours = "magma_r" if metric.unit == "J" else "viridis"
    image = axes.imshow(data, origin="lower", aspect="auto", cmap=colours)
    axes.set_xticks(range(len(across.values)), across.labels, rotation=45 if len(across.values) > 8 else 0)
    axes.set_yticks(range(len(down.values)), down.labels)
    axes.set_xlabel(across.axis_label)
    axes.set_ylabel(down.axis_label)
    axes.set_title(f"{metric.title} of the whole network ({unit})", fontsize=10)
    bar = figure.colorbar(image, ax=axes, fraction=0.05)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    if data.size <= 150:
        middle = (numpy.nanmax(data) + numpy.nanmin(data)) / 2
        for (row, column), value in numpy.ndenumerate(data):
            axes.text(column, row, f"{value:.3g}", ha="center", va="center", fontsize=7.5,
                      color="white" if (value > middle) == (metric.unit == "J") else "black")
    figure.suptitle(f"{across.key} x {down.key}: {_title(result)}", fontsize=11)


def _title(result: Sweep) -> str:
    settings = f", {', '.join(result.settings)}" if result.settings else ""
    batch = result.points[0].run.batch if result.points else 1
    return f"{result.network} on {result.machine}{settings} (simulated, batch {batch})"


def _draw_lines(figure, result: Sweep) -> None:
    from matplotlib import colormaps

    vary = result.varies[0]
    utilization_axes = figure.add_subplot(1, 2, 1)
    time_axes = figure.add_subplot(1, 2, 2)
    xs = _x_axis(utilization_axes, vary)
    _x_axis(time_axes, vary)
    names = result.mac_layer_names
    unit, factor = _time_unit(result)
    labelled = len(names) <= MAX_LABELLED_LAYERS
    palette = colormaps["tab20" if len(names) > 10 else "tab10"]
    for index, name in enumerate(names):
        layers = [point.run.layer(name) for point in result.points]
        style = ({"color": palette(index % palette.N), "linewidth": 1.2, "marker": "o", "markersize": 3.5,
                  "label": name} if labelled else
                 {"color": "#9a9a9a", "linewidth": 0.6, "alpha": 0.6,
                  "label": f"each of the {len(names)} MAC layers" if index == 0 else "_"})
        utilization_axes.plot(xs, [float(layer.mac_utilization) * 100 for layer in layers], **style)
        time_axes.plot(xs, [float(layer.cycles / point.run.clock_hz) * factor
                            for layer, point in zip(layers, result.points, strict=True)],
                       **{**style, "label": "_"})
    vector = [sum(layer.cycles for layer in point.run.layers if not layer.macs) for point in result.points]
    if any(vector):
        time_axes.plot(xs, [float(cycles / point.run.clock_hz) * factor for cycles, point in
                            zip(vector, result.points, strict=True)],
                       color="#555555", linestyle="--", linewidth=1.3, label="vector-only layers, together")
    utilization_axes.plot(xs, [float(point.run.mac_utilization) * 100 for point in result.points],
                          color="black", linewidth=2.6, marker="o", markersize=6, label="whole network",
                          zorder=5)
    utilization_axes.plot(xs, [float(point.run.bound_mac_utilization) * 100 for point in result.points],
                          color="#777777", linewidth=1.2, linestyle=":", marker="D", markersize=3.5,
                          markerfacecolor="white", markeredgecolor="black", markeredgewidth=0.8,
                          label="whole network, roofline limit", zorder=6)
    time_axes.plot(xs, [float(point.run.seconds) * factor for point in result.points], color="black",
                   linewidth=2.6, marker="o", markersize=6, zorder=5)
    utilization_axes.set_ylabel("MAC utilization (% of peak MAC_32 per cycle)")
    utilization_axes.set_ylim(0, 105)
    utilization_axes.set_title("MAC utilization", fontsize=10)
    time_axes.set_yscale("log")
    time_axes.set_ylabel(f"time per inference ({unit}, log scale)")
    time_axes.set_title("time", fontsize=10)
    for axes in (utilization_axes, time_axes):
        axes.grid(True, linewidth=0.5, alpha=0.5)
    handles, labels = utilization_axes.get_legend_handles_labels()
    more_handles, more_labels = time_axes.get_legend_handles_labels()
    figure.legend(handles + more_handles, labels + more_labels, loc="upper left", bbox_to_anchor=(0.835, 0.9),
                  fontsize=8.5, frameon=False, title="layer", title_fontsize=9)
    figure.suptitle(f"MAC utilization and time vs {vary.key}: {_title(result)}", fontsize=11)


def _time_unit(result: Sweep) -> tuple[str, float]:
    """The unit of the longest point's time, and the factor from seconds to it."""
    unit, scale = time_unit(max(float(point.run.seconds) for point in result.points))
    return unit, 1 / scale


def _draw_heat_map(figure, result: Sweep) -> None:
    import numpy
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter

    across, down = result.varies
    shape = (len(down.values), len(across.values))
    utilization = numpy.zeros(shape)
    times = numpy.zeros(shape)
    unit, factor = _time_unit(result)
    for index, point in enumerate(result.points):
        column, row = divmod(index, len(down.values))
        utilization[row, column] = float(point.run.mac_utilization) * 100
        times[row, column] = float(point.run.seconds) * factor
    panels = ((utilization, "MAC utilization of the whole network (%)", {"vmin": 0, "vmax": 100}, "viridis",
               "{:.1f}"),
              (times, f"time per inference ({unit})",
               {"norm": LogNorm(vmin=times.min(), vmax=max(times.max(), times.min() * 1.01))},
               "magma_r", "{:.3g}"))
    for number, (data, title, scale, colours, text) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, 2, number)
        image = axes.imshow(data, origin="lower", aspect="auto", cmap=colours, **scale)
        axes.set_xticks(range(len(across.values)), across.labels,
                        rotation=45 if len(across.values) > 8 else 0)
        axes.set_yticks(range(len(down.values)), down.labels)
        axes.set_xlabel(across.axis_label)
        axes.set_ylabel(down.axis_label)
        axes.set_title(title, fontsize=10)
        bar = figure.colorbar(image, ax=axes, fraction=0.05)
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain if number == 2 else FuncFormatter(lambda value, _: ""))
        if data.size <= 150:
            middle = (data.max() + data.min()) / 2 if number == 1 else (data.max() * data.min()) ** 0.5
            for (row, column), value in numpy.ndenumerate(data):
                dark = value < middle if number == 1 else value > middle
                axes.text(column, row, text.format(value), ha="center", va="center", fontsize=7.5,
                          color="white" if dark else "black")
    figure.suptitle(f"{across.key} x {down.key}: {_title(result)}", fontsize=11)


def plot_sweep(result: Sweep, output: str | None = None, *, show: bool = False,
               metric: str = DEFAULT_METRIC) -> None:
    """Save the chart of ``metric`` to ``output`` (its extension picks the format) and/or show it."""
    from dlpsim.analysis.figures import render

    def draw(figure):
        draw_sweep(figure, result, metric)
    one_panel = METRICS[metric] is not None
    if len(result.varies) == 1:
        render(draw, (9.5, 5.8) if one_panel else (13.5, 5.8), output, show=show,
               left=0.09 if one_panel else 0.06, right=0.82, bottom=0.14, top=0.88, wspace=0.22)
    else:
        render(draw, (8, 6.0) if one_panel else (14, 6.0), output, show=show,
               left=0.1 if one_panel else 0.06, right=0.95, bottom=0.14, top=0.88, wspace=0.25)
