"""Machine configuration from TOML: presets, files and ``--set key=value`` overrides.

Layers are applied in order (preset, then ``--config`` file, then each
``--set``); every layer is checked against the schema, so an unknown key is
reported with the file or option it came from. The merged result is then
validated as a whole, collecting every error with its key, before the frozen
:class:`MachineConfig` is built. No value is ever evaluated as code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from dlpsim.errors import ConfigError, ConfigErrors
from dlpsim.machine.config import MachineConfig
from dlpsim.machine.schema import KEYS, OPTIONAL_SECTIONS, SCHEMA, build_machine, stored_values
from dlpsim.units import UnitError

DEFAULT_PRESET = "dlp-s"


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


def repeated_overrides(overrides: Iterable[str]) -> list[tuple[str, int, str]]:
    """Each key given to ``--set`` more than once: (key, times given, the last value, which wins)."""
    given: dict[str, list[str]] = {}
    for assignment in overrides:
        key, separator, raw = assignment.partition("=")
        if separator and key.strip():  # a malformed one is load_machine's error, not a repeat
            given.setdefault(key.strip(), []).append(raw.strip())
    return [(key, len(values), values[-1]) for key, values in given.items() if len(values) > 1]


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
              errors: list[ConfigError], parsed: dict[str, object]) -> None:
    """Parse every leaf of ``values`` into ``parsed``, by key path."""
    for key, rule in schema.items():
        path = f"{prefix}{key}"
        if isinstance(rule, dict):
            if key in values:
                _validate(values[key], rule, f"{path}.", origin, fallback, errors, parsed)
            elif not (prefix == "" and key in OPTIONAL_SECTIONS):
                errors.append(ConfigError(fallback, path, "missing section"))
        elif key not in values:
            if KEYS[path].default is None:
                section_origin = origin.get(prefix.removesuffix("."), fallback)
                errors.append(ConfigError(section_origin, path, "missing key"))
        else:
            try:
                parsed[path] = rule(values[key])
            except UnitError as error:
                errors.append(ConfigError(origin.get(path, fallback), path, str(error)))


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
    parsed: dict[str, object] = {}
    _validate(merged, SCHEMA, "", origin, layers[-1].source, errors, parsed)
    if errors:
        raise ConfigErrors(errors)
    return build_machine(parsed)


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Fraction) and value.denominator != 1:
        return repr(float(value))
    return str(int(value)) if isinstance(value, Fraction) else str(value)


def effective_toml(machine: MachineConfig) -> str:
    """The machine as a complete TOML file in the presets' schema, with plain numbers:
    sizes in bytes, bandwidths in B/s, frequency in Hz, latencies in cycles."""
    sections: dict[str, list[str]] = {}
    for path, value in stored_values(machine).items():
        section, _, name = path.rpartition(".")
        sections.setdefault(section, []).append(f"{name} = {_toml_value(value)}")
    lines = []
    for section, entries in sections.items():
        lines += [f"[{section}]", *entries, ""]
    return "\n".join(lines)
