"""Machine configuration from TOML: presets, files and ``--set key=value`` overrides.

Layers are applied in order (preset, then ``--config`` file, then each
``--set``); every layer is checked against the schema, so an unknown key is
reported with the file or option it came from. The merged result is then
validated as a whole, collecting every error with its key, before the frozen
:class:`MachineConfig` is built. No value is ever evaluated as code.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from dlpsim.errors import ConfigError, ConfigErrors
from dlpsim.machine.config import (
    DATAFLOWS,
    MATRIX_MODELS,
    CoreConfig,
    DramConfig,
    LinkConfig,
    MachineConfig,
    MatrixUnitConfig,
    MemoryConfig,
    SharedConfig,
    VectorUnitConfig,
)
from dlpsim.units import UnitError, parse_bandwidth, parse_frequency, parse_size

DEFAULT_PRESET = "dlp-s"


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise UnitError(f"expected text, got {value!r}")
    return value


def _name(value: object) -> str:
    if not _text(value).strip():
        raise UnitError("must not be empty")
    return value


# Enough for any cluster worth simulating; more would only make a typo expensive.
MAX_CORES = 1024
# Deeper queues than this exist in no DLP; the limit keeps a run's memory bounded by the program.
MAX_QUEUE_DEPTH = 1024


def _whole(minimum: int, maximum: int | None = None) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UnitError(f"expected a whole number, got {value!r}")
        if value < minimum:
            raise UnitError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise UnitError(f"must be at most {maximum}, got {value}")
        return value
    return parse


def _positive(parse: Callable[[object], int | Fraction]) -> Callable[[object], int | Fraction]:
    def checked(value: object) -> int | Fraction:
        result = parse(value)
        if result <= 0:
            raise UnitError(f"must be positive, got {value!r}")
        return result
    return checked


def _rate(value: object) -> int | Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"expected a number of operations per cycle, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UnitError(f"expected a finite number of operations per cycle, got {value!r}")
    rate = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    return int(rate) if rate.denominator == 1 else rate


def _choice(what: str, names: tuple[str, ...]) -> Callable[[object], str]:
    """One of ``names``, compared case-insensitively; an unknown name lists the known ones."""
    def parse(value: object) -> str:
        if isinstance(value, str) and value.strip().lower() in names:
            return value.strip().lower()
        raise UnitError(f"unknown {what} {value!r} (known: {', '.join(names)})")
    return parse


# No systolic array is this large; the limit keeps a typo from looking like a design.
MAX_ARRAY_SIDE = 65536

_SIZE = _positive(parse_size)
_BANDWIDTH = _positive(parse_bandwidth)
_FREQUENCY = _positive(parse_frequency)
_RATE = _positive(_rate)
_CYCLES = _whole(0)


def _link_schema() -> dict:
    return {"bandwidth": _BANDWIDTH, "latency": _CYCLES}


# Section -> key -> parser. A nested dict is a sub-section.
SCHEMA: dict = {
    "machine": {"name": _name, "description": _text},
    "clock": {"frequency": _FREQUENCY},
    "core": {
        "count": _whole(1, MAX_CORES),
        "issue_cycles": _CYCLES,
        "queue_depth": _whole(1, MAX_QUEUE_DEPTH),
        "nram": {"capacity": _SIZE},
        "wram": {"capacity": _SIZE},
        "local": _link_schema(),
        "matrix": {"model": _choice("matrix model", MATRIX_MODELS), "macs_per_cycle": _RATE,
                   "fp16_speedup": _RATE, "latency": _CYCLES, "rows": _whole(1, MAX_ARRAY_SIDE),
                   "columns": _whole(1, MAX_ARRAY_SIDE), "dataflow": _choice("dataflow", DATAFLOWS)},
        "vector": {"ops_per_cycle": _RATE, "div_ops_per_cycle": _RATE, "fp16_speedup": _RATE,
                   "latency": _CYCLES},
    },
    "dram": {"capacity": _SIZE, **_link_schema()},
    "shared": {"capacity": _SIZE, **_link_schema()},
}
OPTIONAL_SECTIONS = {"shared"}  # absent: the machine has no SharedRAM and no memory core


@dataclass
class _Layer:
    source: str  # shown in error messages: a file path, "preset dlp-s" or "--set key=value"
    values: dict


def preset_names() -> list[str]:
    folder = resources.files("dlpsim.machine") / "presets"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir()
                  if entry.name.endswith(".toml"))


def preset_text(name: str) -> str:
    """The preset's TOML exactly as shipped, comments (the assumptions) included."""
    if name not in preset_names():
        raise ConfigError("", "", f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    return (resources.files("dlpsim.machine") / "presets" / f"{name}.toml").read_text("utf-8")


def _parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, "", f"not valid TOML: {error}") from None


def _read_file(path: str | Path) -> _Layer:
    source = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(source, "", f"cannot read the configuration file: {reason}") from None
    return _Layer(source, _parse_toml(text, source))


def parse_override(assignment: str) -> _Layer:
    """``dram.bandwidth=128GB/s`` -> a one-key layer. TOML literals are typed, the rest is text."""
    source = f"--set {assignment}" if assignment.isprintable() else f"--set {assignment!r}"
    key, separator, raw = assignment.partition("=")
    key, raw = key.strip(), raw.strip()
    if not separator or not key or not raw:
        raise ConfigError(source, key, "expected KEY=VALUE, e.g. --set dram.bandwidth=128GB/s")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    nested: dict = {}
    cursor = nested
    parts = key.split(".")
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return _Layer(source, nested)


def _check_keys(source: str, values: dict, schema: dict, prefix: str,
                errors: list[ConfigError]) -> None:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in schema:
            known = ", ".join(f"{prefix}{name}" for name in schema)
            errors.append(ConfigError(source, path, f"unknown key (known here: {known})"))
        elif isinstance(schema[key], dict):
            if not isinstance(value, dict):
                errors.append(ConfigError(source, path, "is a section: give its keys, e.g. "
                                          f"{path}.{next(iter(schema[key]))}"))
            else:
                _check_keys(source, value, schema[key], f"{path}.", errors)
        elif isinstance(value, dict):
            errors.append(ConfigError(source, path, "expected a value, not a section"))


def _merge(layers: Iterable[_Layer]) -> tuple[dict, dict[str, str]]:
    """Deep-merge the layers; also return which layer gave each leaf key."""
    merged: dict = {}
    origin: dict[str, str] = {}

    def merge_into(target: dict, values: dict, prefix: str, source: str) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                origin.setdefault(f"{prefix}{key}", source)  # the layer that opened the section
                merge_into(target.setdefault(key, {}), value, f"{prefix}{key}.", source)
            else:
                target[key] = value
                origin[f"{prefix}{key}"] = source
    for layer in layers:
        merge_into(merged, layer.values, "", layer.source)
    return merged, origin


def _validate(values: dict, schema: dict, prefix: str, origin: dict[str, str], fallback: str,
              errors: list[ConfigError]) -> dict:
    """Parse every leaf of ``values``; returns the same shape with parsed values."""
    parsed: dict = {}
    for key, rule in schema.items():
        path = f"{prefix}{key}"
        if isinstance(rule, dict):
            if key in values:
                parsed[key] = _validate(values[key], rule, f"{path}.", origin, fallback, errors)
            elif not (prefix == "" and key in OPTIONAL_SECTIONS):
                errors.append(ConfigError(fallback, path, "missing section"))
        elif key not in values:
            if path != "machine.description":
                section_origin = origin.get(prefix.removesuffix("."), fallback)
                errors.append(ConfigError(section_origin, path, "missing key"))
        else:
            try:
                parsed[key] = rule(values[key])
            except UnitError as error:
                errors.append(ConfigError(origin.get(path, fallback), path, str(error)))
    return parsed


def _build(v: dict) -> MachineConfig:
    def link(section: dict) -> LinkConfig:
        return LinkConfig(section["bandwidth"], section["latency"])

    core = v["core"]
    shared = v.get("shared")
    return MachineConfig(
        name=v["machine"]["name"],
        description=v["machine"].get("description", ""),
        clock_hz=v["clock"]["frequency"],
        core=CoreConfig(
            count=core["count"],
            issue_cycles=core["issue_cycles"],
            queue_depth=core["queue_depth"],
            nram=MemoryConfig(core["nram"]["capacity"]),
            wram=MemoryConfig(core["wram"]["capacity"]),
            local=link(core["local"]),
            matrix=MatrixUnitConfig(core["matrix"]["macs_per_cycle"], core["matrix"]["fp16_speedup"],
                                    core["matrix"]["latency"], core["matrix"]["model"],
                                    core["matrix"]["rows"], core["matrix"]["columns"],
                                    core["matrix"]["dataflow"]),
            vector=VectorUnitConfig(core["vector"]["ops_per_cycle"], core["vector"]["div_ops_per_cycle"],
                                    core["vector"]["fp16_speedup"], core["vector"]["latency"]),
        ),
        dram=DramConfig(v["dram"]["capacity"], link(v["dram"])),
        shared=None if shared is None else SharedConfig(shared["capacity"], link(shared)),
    )


def load_machine(preset: str | None = None, config_file: str | Path | None = None,
                 overrides: Iterable[str] = ()) -> MachineConfig:
    """The machine: ``preset`` (default dlp-s), then ``config_file``'s keys, then each override."""
    name = DEFAULT_PRESET if preset is None else preset
    if name not in preset_names():
        raise ConfigError("--preset", "", f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    layers = [_Layer(f"preset {name}", _parse_toml(preset_text(name), f"preset {name}"))]
    if config_file is not None:
        layers.append(_read_file(config_file))
    layers.extend(parse_override(assignment) for assignment in overrides)
    errors: list[ConfigError] = []
    for layer in layers:
        _check_keys(layer.source, layer.values, SCHEMA, "", errors)
    if errors:
        raise ConfigErrors(errors)
    merged, origin = _merge(layers)
    parsed = _validate(merged, SCHEMA, "", origin, layers[-1].source, errors)
    if errors:
        raise ConfigErrors(errors)
    return _build(parsed)


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Fraction) and value.denominator != 1:
        return repr(float(value))
    return str(int(value)) if isinstance(value, Fraction) else str(value)


def effective_toml(machine: MachineConfig) -> str:
    """The machine as a complete TOML file in the presets' schema, with plain numbers:
    sizes in bytes, bandwidths in B/s, frequency in Hz, latencies in cycles."""
    def link(config: LinkConfig) -> dict:
        return {"bandwidth": config.bytes_per_second, "latency": config.latency_cycles}

    core = machine.core
    sections: dict[str, dict] = {
        "machine": {"name": machine.name, "description": machine.description},
        "clock": {"frequency": machine.clock_hz},
        "core": {"count": core.count, "issue_cycles": core.issue_cycles, "queue_depth": core.queue_depth},
        "core.nram": {"capacity": core.nram.capacity_bytes},
        "core.wram": {"capacity": core.wram.capacity_bytes},
        "core.local": link(core.local),
        "core.matrix": {"model": core.matrix.model, "macs_per_cycle": core.matrix.macs_per_cycle,
                        "fp16_speedup": core.matrix.fp16_speedup, "latency": core.matrix.latency_cycles,
                        "rows": core.matrix.rows, "columns": core.matrix.columns,
                        "dataflow": core.matrix.dataflow},
        "core.vector": {"ops_per_cycle": core.vector.ops_per_cycle,
                        "div_ops_per_cycle": core.vector.div_ops_per_cycle,
                        "fp16_speedup": core.vector.fp16_speedup, "latency": core.vector.latency_cycles},
        "dram": {"capacity": machine.dram.capacity_bytes, **link(machine.dram.link)},
    }
    if machine.shared is not None:
        sections["shared"] = {"capacity": machine.shared.capacity_bytes, **link(machine.shared.link)}
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)
