"""What ``dlpsim sweep`` prints and draws: a sweep's table, its line chart or heat map (exercise 6.8).

MAC utilization is the contract's (v2): the matrix units' cycles at full rate (the sum over
MAC types of ops / rate) over compute cores x cycles, per layer and for the whole network;
the *roofline limit* of utilization is the same with the bound's cycles in place of the
simulated ones. The sweep itself is run by :mod:`dlpsim.run.sweep`.

Nothing here imports matplotlib at module level; :func:`plot_sweep` imports it lazily (Agg
canvas).
"""

from __future__ import annotations

from fractions import Fraction

from dlpsim.analysis.tables import align, percent
from dlpsim.machine import display_unit
from dlpsim.run.sweep import Sweep, Vary, format_value
from dlpsim.units import format_seconds, time_unit


def format_sweep(result: Sweep) -> str:
    """The table `dlpsim sweep` prints: one row per point."""
    header = (*(vary.axis_label for vary in result.varies), "cycles", "time", "MAC util", "roofline limit",
              "efficiency")
    rows = [header]
    for point in result.points:
        run = point.run
        rows.append((*(format_value(vary.key, value) for vary, value in zip(result.varies, point.values,
                                                                            strict=True)),
                     f"{run.cycles:,}", format_seconds(run.seconds), percent(run.mac_utilization),
                     percent(point.run.bound_mac_utilization), percent(run.efficiency, "-")))
    lines = [f"{result.network} on {result.machine}"
             + (f" with {' '.join('--set ' + s for s in result.settings)}" if result.settings else "")
             + f": {len(result.points)} simulations", ""]
    lines += align(rows, [True] * len(header))
    lines += ["", "MAC utilization = MACs / (peak MAC/cycle x cycles); the roofline limit uses the bound's "
              "cycles instead"]
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


def draw_sweep(figure, result: Sweep) -> None:
    if len(result.varies) == 1:
        _draw_lines(figure, result)
    else:
        _draw_heat_map(figure, result)


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


def plot_sweep(result: Sweep, output: str | None = None, *, show: bool = False) -> None:
    """Save the chart to ``output`` (its extension picks the format) and/or show it (``show``)."""
    from dlpsim.analysis.figures import render

    if len(result.varies) == 1:
        render(lambda figure: draw_sweep(figure, result), (13.5, 5.8), output, show=show,
               left=0.06, right=0.82, bottom=0.14, top=0.88, wspace=0.22)
    else:
        render(lambda figure: draw_sweep(figure, result), (14, 6.0), output, show=show,
               left=0.06, right=0.95, bottom=0.14, top=0.88, wspace=0.25)
