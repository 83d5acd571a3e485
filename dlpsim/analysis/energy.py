"""Energy charts: a network's energy per layer, stacked by component (``dlpsim report``).

Nothing here imports matplotlib at module level; the figure is drawn on the one given.
"""

from __future__ import annotations

from fractions import Fraction

from dlpsim.results.energy import COMPONENTS
from dlpsim.run.network import NetworkRun
from dlpsim.units import energy_unit

# One colour per component, in the order of COMPONENTS: the units warm, the memories cool from the
# nearest (NRAM) to the farthest (DRAM), static power grey.
COMPONENT_COLOURS = dict(zip(COMPONENTS, ("#d62728", "#ff7f0e", "#9ecae1", "#6baed6", "#3182bd", "#08519c",
                                          "#9a9a9a"), strict=True))

# Past this many layers the names are not written under the bars (they would overlap).
MAX_NAMED_LAYERS = 40


def draw_energy_by_layer(figure, run: NetworkRun) -> None:
    """A bar per layer, its height the layer's energy, stacked by component."""
    axes = figure.add_subplot(1, 1, 1)
    unit, scale = energy_unit(max((layer.energy.total_pj for layer in run.layers), default=0))
    positions = range(len(run.layers))
    bottoms = [0.0] * len(run.layers)
    for component in COMPONENTS:
        heights = [float(layer.energy.component(component) / Fraction(scale)) for layer in run.layers]
        if not any(heights):
            continue  # a memory the machine has not, or a unit no layer used
        axes.bar(positions, heights, bottom=bottoms, color=COMPONENT_COLOURS[component], width=0.8,
                 label=component)
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    if len(run.layers) <= MAX_NAMED_LAYERS:
        axes.set_xticks(list(positions), [layer.name for layer in run.layers], rotation=60, ha="right",
                        fontsize=8)
    else:
        axes.set_xlabel(f"the {len(run.layers)} layers, in order")
    axes.set_ylabel(f"energy ({unit})")
    axes.grid(True, axis="y", linewidth=0.5, alpha=0.5)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False, title="component")
    axes.set_title(f"energy per layer by component: {run.network} on {run.machine}", fontsize=10)
