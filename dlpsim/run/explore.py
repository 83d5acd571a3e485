"""Design-space exploration: many machines, one or more networks, and the Pareto front.

``dlpsim explore --net NAME --vary KEY=... [--vary ...]`` takes the grid of every combination
of the varies' values (the first vary outermost), or a seeded random sample of ``--samples N``
of its points (the same seed, the same sample, listed in grid order), drops the designs whose
hardware cost exceeds ``--budget`` before simulating anything, simulates each remaining design
on every network (through :func:`dlpsim.run.points.run_points`: the cache, local processes or
a Dask cluster), and finds the Pareto front: the designs no other design beats on both the
cost and the objective.

Two measures span the plane, each a :class:`Metric`:

- the *cost* is the hardware-cost proxy of the machine (:attr:`MachineConfig.cost_proxy`: MAC
  units, on-chip SRAM bytes and DRAM bandwidth, at the weights the presets' ``[cost]`` section
  documents), known before simulating, which is what lets ``--budget`` save the simulations;
- the *objective* is measured from the design's runs: :data:`TIME_PER_INFERENCE` (the sum over
  the networks of one inference each). Another objective is one more :class:`Metric` in
  :data:`OBJECTIVES`, computed from the same runs: energy per inference, once the runs carry
  energy, is ``Metric("energy", "energy per inference", "J", lambda machine, runs: ...)``.

A design on which a network cannot run (a layer that fits no tile at that SRAM size, the cycle
limit) is kept in the results with its reason and left off the front; it does not stop the
exploration. The shipped presets, as shipped, are evaluated too and marked beside the designs.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig, load_machine, preset_names
from dlpsim.machine.schema import stored_values
from dlpsim.results.files import csv_number, exact_json, from_json, read_results, write_csv, write_results
from dlpsim.run import Progress
from dlpsim.run.network import NetworkRun
from dlpsim.run.points import SERIAL, Execution, Point, run_points
from dlpsim.run.sweep import MAX_POINTS, Vary, check_varies, grid_size, machine_at, setting
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.workloads import Network

EXPLORE_FORMAT = "dlpsim-explore/1"
MAX_VARIES = 8  # keys of one exploration; the grid's size is what really limits it (MAX_POINTS)
MAX_NETWORKS = 16


@dataclass(frozen=True)
class Metric:
    """One axis of the exploration: its name, how it reads, its unit, and how it is measured from a
    design's machine and its runs (one per network, in the order of --net)."""

    name: str
    label: str
    unit: str
    measure: Callable[[MachineConfig, Sequence[NetworkRun]], Fraction]


def _seconds_per_inference(machine: MachineConfig, runs: Sequence[NetworkRun]) -> Fraction:
    return sum((run.seconds for run in runs), Fraction(0))


def _cost_proxy(machine: MachineConfig, runs: Sequence[NetworkRun]) -> Fraction:
    return machine.cost_proxy


TIME_PER_INFERENCE = Metric("time", "time per inference", "s", _seconds_per_inference)
COST_PROXY = Metric("cost", "hardware cost proxy", "cost units", _cost_proxy)
OBJECTIVES = {metric.name: metric for metric in (TIME_PER_INFERENCE,)}


@dataclass(frozen=True)
class Design:
    """One machine explored: its values of the varies (a preset: its own values of those keys)."""

    name: str  # "" for a point of the grid; the preset's name for a preset
    setting: str  # "core.matrix.macs_per_cycle=64 dram.bandwidth=32GB/s", or "preset dlp-s"
    values: tuple[int | Fraction, ...]  # one per vary, in its stored unit
    cost: Fraction
    runs: tuple[NetworkRun, ...] | None  # one per network; None: it could not run
    objective: Fraction | None
    failure: str  # why it could not run ("" if it ran)
    on_front: bool = False


@dataclass(frozen=True)
class Exploration:
    networks: tuple[str, ...]
    machine: str  # the base preset's name
    settings: tuple[str, ...]  # the --set overrides every design shares
    varies: tuple[Vary, ...]
    objective: Metric
    cost: Metric
    grid: int  # combinations of the varies' values
    sampled: int | None  # --samples N, or None for the whole grid
    seed: int
    budget: Fraction | None
    over_budget: int  # designs dropped before simulating
    designs: tuple[Design, ...]  # within the budget, in grid order
    presets: tuple[Design, ...]

    @property
    def front(self) -> tuple[Design, ...]:
        """The Pareto front, cheapest first."""
        return tuple(sorted((design for design in self.designs if design.on_front),
                            key=lambda design: (design.cost, design.objective)))

    def csv_rows(self) -> list[tuple[str, ...]]:
        """One row per design, then per preset: its values, cost, objective, whether it is on the
        front, each network's cycles and seconds, and why it could not run."""
        header = ["design", *(vary.key for vary in self.varies), self.cost.name,
                  f"{self.objective.name}_{self.objective.unit}", "pareto"]
        for network in self.networks:
            header += [f"{network}:cycles", f"{network}:seconds"]
        rows = [(*header, "failure")]
        for design in (*self.designs, *self.presets):
            row = [design.name or "grid", *(csv_number(value) for value in design.values),
                   csv_number(design.cost),
                   "" if design.objective is None else f"{float(design.objective):.9g}",
                   "yes" if design.on_front else "no"]
            for index in range(len(self.networks)):
                run = None if design.runs is None else design.runs[index]
                row += ["", ""] if run is None else [str(run.cycles), f"{float(run.seconds):.9g}"]
            rows.append((*row, design.failure))
        return rows

    def write_csv(self, path) -> None:
        write_csv(path, self.csv_rows())

    def to_dict(self) -> dict:
        def design(item: Design) -> dict:
            return {"name": item.name, "setting": item.setting,
                    "values": [exact_json(value) for value in item.values], "cost": exact_json(item.cost),
                    "runs": None if item.runs is None else [run.to_dict() for run in item.runs],
                    "objective": None if item.objective is None else exact_json(item.objective),
                    "failure": item.failure, "on_front": item.on_front}

        return {"format": EXPLORE_FORMAT, "networks": list(self.networks), "machine": self.machine,
                "settings": list(self.settings), "varies": [vary.to_dict() for vary in self.varies],
                "objective": self.objective.name, "grid": self.grid, "sampled": self.sampled,
                "seed": self.seed,
                "budget": None if self.budget is None else exact_json(self.budget),
                "over_budget": self.over_budget, "designs": [design(item) for item in self.designs],
                "presets": [design(item) for item in self.presets]}

    def write_json(self, path) -> None:
        write_results(path, self.to_dict())


def load_exploration(path) -> Exploration:
    """An exploration saved with :meth:`Exploration.write_json`, to redraw without simulating."""
    data = read_results(path, EXPLORE_FORMAT)

    def design(item: dict) -> Design:
        runs = item["runs"]
        return Design(str(item["name"]), str(item["setting"]),
                      tuple(from_json(value) for value in item["values"]), Fraction(from_json(item["cost"])),
                      None if runs is None else tuple(NetworkRun.from_dict(run) for run in runs),
                      None if item["objective"] is None else Fraction(from_json(item["objective"])),
                      str(item["failure"]), bool(item["on_front"]))

    try:
        objective = OBJECTIVES[data["objective"]]
        budget = data["budget"]
        return Exploration(tuple(str(name) for name in data["networks"]), str(data["machine"]),
                           tuple(str(setting) for setting in data["settings"]),
                           tuple(Vary.from_dict(vary) for vary in data["varies"]), objective, COST_PROXY,
                           int(data["grid"]), None if data["sampled"] is None else int(data["sampled"]),
                           int(data["seed"]), None if budget is None else Fraction(from_json(budget)),
                           int(data["over_budget"]), tuple(design(item) for item in data["designs"]),
                           tuple(design(item) for item in data["presets"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise UserError(f"{path}: error: not a valid {EXPLORE_FORMAT} results file ({error!r})") from None


def parse_budget(text: str | None) -> Fraction | None:
    """``--budget COST``: a positive number of cost units (decimals allowed)."""
    if text is None:
        return None
    try:
        budget = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UserError(f"--budget {text}: error: expected a number of cost units, e.g. --budget 800 (the "
                        "presets' [cost] section defines the proxy)") from None
    if budget <= 0:
        raise UserError(f"--budget {text}: error: must be positive")
    return budget


def chosen_indices(varies: Sequence[Vary], samples: int | None, seed: int) -> list[tuple[int, ...]]:
    """The grid's combinations to evaluate, in grid order: all of them, or ``samples`` drawn without
    replacement by a generator seeded with ``seed``."""
    total = grid_size(varies)
    if samples is None and total > MAX_POINTS:
        raise UserError(f"error: the grid has {total:,} points; at most {MAX_POINTS:,} (or draw a sample "
                        "of them with --samples N)")
    if samples is not None and samples > MAX_POINTS:
        raise UserError(f"--samples {samples}: error: at most {MAX_POINTS:,}")
    flat = range(total) if samples is None or samples >= total else sorted(
        random.Random(seed).sample(range(total), samples))
    sizes = [len(vary.values) for vary in varies]
    chosen = []
    for number in flat:
        indices = []
        for size in reversed(sizes):  # the first vary outermost, as in a sweep
            number, index = divmod(number, size)
            indices.append(index)
        chosen.append(tuple(reversed(indices)))
    return chosen


def _front(designs: Sequence[Design]) -> set[int]:
    """Positions of the designs no other beats: none is at most as costly and at most as slow, and
    better in one. Designs equal in both are on the front together."""
    ran = sorted((design.cost, design.objective, position) for position, design in enumerate(designs)
                 if design.objective is not None)
    front: set[int] = set()
    best = None
    for cost, objective, position in ran:
        if best is None or objective < best[1] or (objective == best[1] and cost == best[0]):
            front.add(position)
            best = (cost, objective)
    return front


def explore(networks: Sequence[Network], varies: Sequence[Vary], *, preset: str | None = None,
            config_file=None, overrides: Sequence[str] = (), samples: int | None = None, seed: int = 0,
            budget: Fraction | None = None, objective: Metric = TIME_PER_INFERENCE,
            max_cycles: int | None = DEFAULT_MAX_CYCLES, progress: Progress | None = None,
            execution: Execution = SERIAL) -> Exploration:
    """Evaluate the designs (see the module's description) and find their Pareto front."""
    if not networks:
        raise UserError("error: give at least one network with --net NAME")
    if len(networks) > MAX_NETWORKS:
        raise UserError(f"error: at most {MAX_NETWORKS} --net")
    check_varies(varies, MAX_VARIES, "the grid grows as the product of their values")
    if samples is not None and samples < 1:
        raise UserError(f"--samples {samples}: error: must be at least 1")
    chosen = chosen_indices(varies, samples, seed)
    machines = [(indices, machine_at(varies, indices, preset, config_file, overrides))
                for indices in chosen]
    affordable = [(indices, machine) for indices, machine in machines
                  if budget is None or machine.cost_proxy <= budget]
    if not affordable:
        cheapest_indices, cheapest = min(machines, key=lambda pair: (pair[1].cost_proxy, pair[0]))
        raise UserError(f"--budget {float(budget):g}: error: it excludes every design: the cheapest, "
                        f"{setting(varies, cheapest_indices)}, costs {float(cheapest.cost_proxy):g} cost "
                        "units")
    presets = [load_machine(name) for name in preset_names()]
    labelled = [(setting(varies, indices), machine) for indices, machine in affordable]
    labelled += [(f"preset {machine.name}", machine) for machine in presets]
    points = [Point(network, machine, label) for label, machine in labelled for network in networks]
    result = run_points(points, execution, max_cycles=max_cycles, progress=progress, stop_at_error=False)

    def design(number: int, name: str, values: tuple) -> Design:
        label, machine = labelled[number]
        first = number * len(networks)
        runs = result.runs[first:first + len(networks)]
        failures = [f"{network.name}: {result.failures[first + offset]}"
                    for offset, network in enumerate(networks) if first + offset in result.failures]
        if failures:
            return Design(name, label, values, machine.cost_proxy, None, None, "; ".join(failures))
        return Design(name, label, values, machine.cost_proxy, tuple(runs), objective.measure(machine, runs),
                      "")

    designs = [design(number, "", tuple(vary.values[i] for vary, i in zip(varies, indices, strict=True)))
               for number, (indices, _) in enumerate(affordable)]
    front = _front(designs)
    designs = [dataclasses.replace(design, on_front=position in front)
               for position, design in enumerate(designs)]
    shipped = []
    for offset, machine in enumerate(presets):
        values = stored_values(machine)
        shipped.append(design(len(affordable) + offset, machine.name,
                              tuple(values.get(vary.key, 0) for vary in varies)))
    return Exploration(tuple(network.name for network in networks), machines[0][1].name, tuple(overrides),
                       tuple(varies), objective, COST_PROXY, grid_size(varies), samples, seed, budget,
                       len(machines) - len(affordable), tuple(designs), tuple(shipped))
