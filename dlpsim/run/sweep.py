"""Sweep configuration values: simulate a network once per value (exercise 6.8).

``--vary KEY=V1,V2,...`` names any numeric key of the machine configuration (the keys
``--set`` takes) and its values, written as ``--set`` takes them (``12.8GB/s``, ``128KB``,
``512``). ``a,b,...,z`` expands to a series ending exactly at ``z``: doubling when the
values written before ``...`` double (``16,32,...,4096``), else stepping evenly when they
step evenly (``10,20,30,...,100``), else multiplying by their constant ratio
(``16,64,256,...,4096``). Each value is applied after the preset, ``--config`` and
``--set``, through :func:`dlpsim.machine.load_machine`, and the network is compiled and
simulated on that machine by :func:`dlpsim.run.network.run_network`; one ``--vary`` gives a
line per layer, two give a grid (a heat map).

The points run through :func:`dlpsim.run.points.run_points`: from the result cache, in
worker processes or on a Dask cluster, with the same result wherever they run. The
result, :class:`Sweep`, keeps every point's network run and saves as a versioned
results file (``--results``) or a CSV; dlpsim.analysis.sweep prints and draws it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from dlpsim.errors import ConfigError, UserError
from dlpsim.machine import MachineConfig, display_unit, key_parser, load_machine, numeric_keys
from dlpsim.machine.loader import parse_override
from dlpsim.results.files import (
    csv_number,
    csv_ratio,
    exact_json,
    from_json,
    read_results,
    write_csv,
    write_results,
)
from dlpsim.run import Progress
from dlpsim.run.network import NetworkRun
from dlpsim.run.points import SERIAL, Execution, Point, run_points
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.units import UnitError, whole_if_whole
from dlpsim.workloads import Network

SWEEP_FORMAT = "dlpsim-sweep/1"
ELLIPSIS = ("...", "\u2026")
MAX_VALUES = 1000  # values of one --vary
MAX_POINTS = 10_000  # simulations of one sweep
MAX_VARIES = 2


def format_value(key: str, value: int | Fraction) -> str:
    """A value in its axis unit, without the unit: 12800000000 B/s -> ``12.8``."""
    unit, scale = display_unit(key)
    return f"{float(Fraction(value) / scale):g}"


@dataclass(frozen=True)
class Vary:
    """One swept key: its values (exact, in the unit the configuration stores) and the text of each
    as given to ``--set``."""

    key: str
    values: tuple[int | Fraction, ...]
    texts: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(format_value(self.key, value) for value in self.values)

    @property
    def axis_label(self) -> str:
        unit = display_unit(self.key)[0]
        return f"{self.key} ({unit})" if unit else self.key

    def to_dict(self) -> dict:
        return {"key": self.key, "values": [exact_json(value) for value in self.values],
                "texts": list(self.texts)}

    @classmethod
    def from_dict(cls, data: dict) -> Vary:
        return cls(str(data["key"]), tuple(from_json(value) for value in data["values"]),
                   tuple(str(text) for text in data["texts"]))


def _parse_one(source: str, key: str, text: str) -> int | Fraction:
    """``text`` as ``--set KEY=TEXT`` reads it, then parsed by the key's rule: a number in its unit."""
    layer = parse_override(f"{key}={text}")
    value: object = layer.values
    for part in key.split("."):
        value = value[part]
    try:
        parsed = key_parser(key)(value)
    except UnitError as error:
        raise ConfigError(source, key, f"{text!r}: {error}") from None
    if isinstance(parsed, bool) or not isinstance(parsed, int | Fraction):
        raise ConfigError(source, key, f"{text!r}: not a number")
    return parsed


def _text(value: Fraction) -> str:
    """A generated value as --set text: an integer, or a decimal."""
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def _series(source: str, key: str, given: list[Fraction], end: Fraction) -> list[Fraction]:
    """Expand ``given..., end``: doubling, else evenly stepped, else a constant ratio; ending at ``end``."""
    def steps_evenly() -> Fraction | None:
        differences = {b - a for a, b in itertools.pairwise(given)}
        return differences.pop() if len(differences) == 1 and 0 not in differences else None

    def constant_ratio() -> Fraction | None:
        if any(value <= 0 for value in given):
            return None
        ratios = {b / a for a, b in itertools.pairwise(given)}
        return ratios.pop() if len(ratios) == 1 and 1 not in ratios else None

    ratio = constant_ratio()
    halves = ratio in (2, Fraction(1, 2))  # doubling (or halving) wins over even steps
    step = None if halves else steps_evenly()
    if ratio is None and step is None:
        raise ConfigError(source, key, "before '...' the values must double, step evenly or have a "
                          "constant ratio, e.g. 16,32,...,4096 or 10,20,30,...,100")
    if end in given:
        raise ConfigError(source, key, f"the series ends at {_text(end)}, which is already before '...'")
    values = list(given)
    while len(values) <= MAX_VALUES:
        last = values[-1]
        if last == end:
            return values
        following = last * ratio if step is None else last + step
        if (following - last) * (end - last) <= 0 or abs(following - last) > abs(end - last):
            break  # past the end without meeting it
        values.append(following)
    if len(values) > MAX_VALUES:
        raise ConfigError(source, key, f"the series has more than {MAX_VALUES} values")
    kind = f"doubles ({_text(given[0])}, {_text(given[1])}, ...)" if halves and ratio == 2 else (
        f"halves ({_text(given[0])}, {_text(given[1])}, ...)" if halves else
        f"steps by {_text(step)}" if step is not None else f"multiplies by {_text(ratio)}")
    hint = " (write three values before '...' for an evenly stepped series)" if halves else ""
    raise ConfigError(source, key, f"the series {kind} and never reaches {_text(end)}; it goes "
                      f"{', '.join(_text(v) for v in values[-3:])}, then past it{hint}")


def parse_vary(spec: str) -> Vary:
    """``KEY=V1,V2,...`` (with ``a,b,...,z`` series) -> a :class:`Vary`; a bad key or value is a
    ConfigError naming the key."""
    source = f"--vary {spec}" if spec.isprintable() else f"--vary {spec!r}"
    key, separator, raw = spec.partition("=")
    key, raw = key.strip(), raw.strip()
    if not separator or not key or not raw:
        raise ConfigError(source, key, "expected KEY=V1,V2,..., e.g. --vary core.matrix.macs_per_cycle="
                          "16,32,...,4096")
    rule = key_parser(key)
    if rule is None or key not in numeric_keys():
        raise ConfigError(source, key, "not a numeric configuration key (these can be varied: "
                          f"{', '.join(numeric_keys())})")
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ConfigError(source, key, "an empty value between commas")
    dots = [index for index, item in enumerate(items) if item in ELLIPSIS]
    if not dots:
        texts = items
        values = [_parse_one(source, key, text) for text in items]
    else:
        where = dots[0]
        if len(dots) > 1 or where < 2 or where != len(items) - 2:
            raise ConfigError(source, key, "write a series as a,b,...,z: at least two values before '...' "
                              "and exactly one after it")
        given = [Fraction(_parse_one(source, key, text)) for text in items[:where]]
        end = Fraction(_parse_one(source, key, items[-1]))
        series = _series(source, key, given, end)
        texts = items[:where] + [_text(value) for value in series[where:-1]] + [items[-1]]
        values = [whole_if_whole(value) for value in series]
        for text, value in zip(texts, values, strict=True):  # generated texts must read back the same
            if _parse_one(source, key, text) != value:
                raise ConfigError(source, key, f"the series value {_text(Fraction(value))} is not a valid "
                                  "value of this key")
    if len(values) > MAX_VALUES:
        raise ConfigError(source, key, f"more than {MAX_VALUES} values")
    return Vary(key, tuple(values), tuple(texts))


@dataclass(frozen=True)
class SweepPoint:
    """One simulation: the value of each swept key (in the order of the varies) and the network's run."""

    values: tuple[int | Fraction, ...]
    texts: tuple[str, ...]
    run: NetworkRun

    def setting(self, varies: Sequence[Vary]) -> str:
        return " ".join(f"{vary.key}={text}" for vary, text in zip(varies, self.texts, strict=True))


@dataclass(frozen=True)
class Sweep:
    network: str
    description: str
    machine: str  # the machine's name (its preset)
    settings: tuple[str, ...]  # the --set overrides every point shares
    varies: tuple[Vary, ...]
    points: tuple[SweepPoint, ...]  # the first vary outermost

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.points[0].run.layers) if self.points else ()

    @property
    def mac_layer_names(self) -> tuple[str, ...]:
        """The layers with MACs (the others have no MAC utilization to show)."""
        return tuple(layer.name for layer in self.points[0].run.layers if layer.macs) if self.points else ()

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": SWEEP_FORMAT, "network": self.network, "description": self.description,
                "machine": self.machine, "settings": list(self.settings),
                "varies": [vary.to_dict() for vary in self.varies],
                "points": [{"values": [exact_json(value) for value in point.values],
                            "texts": list(point.texts), "run": point.run.to_dict()} for point in self.points]}

    def write_json(self, path) -> None:
        write_results(path, self.to_dict())

    def csv_rows(self) -> list[tuple[str, ...]]:
        """One row per point: the swept values (in the stored unit: B/s, B, Hz, per cycle), the
        network's totals, then each layer's cycles and MAC utilization."""
        header = [*(vary.key for vary in self.varies), *TOTAL_COLUMNS]
        for name in self.layer_names:
            header += [f"{name}:cycles", f"{name}:mac_utilization"]
        rows = [tuple(header)]
        for point in self.points:
            run = point.run
            row = [*(csv_number(value) for value in point.values), str(run.macs), str(run.dram_bytes),
                   str(run.cycles), f"{float(run.seconds):.9g}", csv_ratio(run.mac_utilization),
                   csv_ratio(run.bound_mac_utilization), str(run.bound.cycles), csv_ratio(run.efficiency)]
            for layer in run.layers:
                row += [str(layer.cycles), csv_ratio(layer.mac_utilization)]
            rows.append(tuple(row))
        return rows

    def write_csv(self, path) -> None:
        write_csv(path, self.csv_rows())


TOTAL_COLUMNS = ("macs", "dram_bytes", "cycles", "seconds", "mac_utilization", "bound_mac_utilization",
                 "bound_cycles", "efficiency")


def sweep_machines(varies: Sequence[Vary], preset: str | None = None, config_file=None,
                   overrides: Sequence[str] = ()) -> list[tuple[tuple[int, ...], MachineConfig]]:
    """The machine of every point (index of each vary's value, machine), all loaded before any run,
    so a bad combination is reported at once."""
    check_varies(varies, MAX_VARIES, "a line plot or a heat map")
    total = grid_size(varies)
    if total > MAX_POINTS:
        raise UserError(f"error: the sweep has {total:,} points; at most {MAX_POINTS:,}")
    return [(indices, machine_at(varies, indices, preset, config_file, overrides))
            for indices in itertools.product(*(range(len(vary.values)) for vary in varies))]


def check_varies(varies: Sequence[Vary], most: int, why: str) -> None:
    """At least one --vary, at most ``most`` (``why`` says what limits them), no key twice."""
    if not varies:
        raise UserError("error: give at least one --vary KEY=V1,V2,...")
    if len(varies) > most:
        raise UserError(f"error: at most {most} --vary ({why})")
    keys = [vary.key for vary in varies]
    if len(set(keys)) != len(keys):
        raise UserError(f"error: --vary {keys[0] if keys[0] in keys[1:] else keys[1]} is given twice")


def grid_size(varies: Sequence[Vary]) -> int:
    """How many combinations of the varies' values there are."""
    return math.prod(len(vary.values) for vary in varies)


def machine_at(varies: Sequence[Vary], indices: Sequence[int], preset: str | None, config_file,
               overrides: Sequence[str]) -> MachineConfig:
    """The machine with value ``indices[i]`` of each vary, applied after the preset, --config and --set."""
    sets = [f"{vary.key}={vary.texts[i]}" for vary, i in zip(varies, indices, strict=True)]
    return load_machine(preset, config_file, [*overrides, *sets])


def setting(varies: Sequence[Vary], indices: Sequence[int]) -> str:
    """``KEY=TEXT ...`` of one combination, as --vary gave the values."""
    return " ".join(f"{vary.key}={vary.texts[i]}" for vary, i in zip(varies, indices, strict=True))


def sweep(network: Network, varies: Sequence[Vary], *, preset: str | None = None, config_file=None,
          overrides: Sequence[str] = (), max_cycles: int | None = DEFAULT_MAX_CYCLES,
          progress: Progress | None = None, execution: Execution = SERIAL) -> Sweep:
    """Simulate ``network`` once per combination of the varies' values (the first vary outermost),
    where ``execution`` says (the cache, local processes, a Dask scheduler); the result does not
    depend on where."""
    machines = sweep_machines(varies, preset, config_file, overrides)
    points = sweep_points(network, varies, machines)
    runs = run_points(points, execution, max_cycles=max_cycles, progress=progress).runs
    return sweep_result(network, varies, machines, overrides, runs)


def sweep_points(network: Network, varies: Sequence[Vary],
                 machines: Sequence[tuple[tuple[int, ...], MachineConfig]]) -> list[Point]:
    """The points to simulate for the machines :func:`sweep_machines` loaded, each labelled with its
    values as ``--vary`` gives them."""
    return [Point(network, machine, f"--vary {setting(varies, indices)}") for indices, machine in machines]


def sweep_result(network: Network, varies: Sequence[Vary], machines: Sequence[tuple[tuple[int, ...],
                 MachineConfig]], overrides: Sequence[str], runs: Sequence[NetworkRun]) -> Sweep:
    """The sweep of ``machines`` from their points' runs (in the same order)."""
    return Sweep(network.name, network.description, machines[0][1].name, tuple(overrides), tuple(varies),
                 tuple(SweepPoint(tuple(vary.values[i] for vary, i in zip(varies, indices, strict=True)),
                                  tuple(vary.texts[i] for vary, i in zip(varies, indices, strict=True)), run)
                       for (indices, _), run in zip(machines, runs, strict=True)))


def load_sweep(path) -> Sweep:
    """A sweep saved with :meth:`Sweep.write_json`, to redraw without simulating."""
    data = read_results(path, SWEEP_FORMAT)
    try:
        varies = tuple(Vary.from_dict(vary) for vary in data["varies"])
        points = tuple(SweepPoint(tuple(from_json(value) for value in point["values"]),
                                  tuple(str(text) for text in point["texts"]),
                                  NetworkRun.from_dict(point["run"]))
                       for point in data["points"])
        if not points or any(len(point.values) != len(varies) for point in points):
            raise ValueError("points and varies do not match")
        return Sweep(str(data["network"]), str(data["description"]), str(data["machine"]),
                     tuple(str(setting) for setting in data["settings"]), varies, points)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise UserError(f"{path}: error: not a valid {SWEEP_FORMAT} results file ({error!r})") from None
