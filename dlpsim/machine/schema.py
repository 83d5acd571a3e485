"""The configuration schema, declared once.

Each key a preset, a ``--config`` file or ``--set`` may give is one :class:`Key`: how its value
is read, the unit it is stored in, its bounds, its default, whether it is a number (what a
sweep can vary), how plots show it, and where :class:`MachineConfig` holds it. Everything else
is derived from that declaration, :data:`KEYS`: the loader's validation (:data:`SCHEMA`, read
through :func:`key_parser`), the frozen machine (:func:`build_machine`) and its values read back
for ``dlpsim config`` (:func:`stored_values`), the sweepable keys (:func:`numeric_keys`) and
their units (:func:`display_unit`, :func:`stored_unit`). Import fails if the declaration and
MachineConfig's fields disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from fractions import Fraction
from typing import get_args, get_type_hints

from dlpsim.asm.opcodes import SLOTTED_OPERATIONS
from dlpsim.machine.config import DATAFLOWS, MATRIX_MODELS, MachineConfig, slots_field
from dlpsim.units import UnitError, format_number, parse_bandwidth, parse_frequency, parse_size

# Enough for any cluster worth simulating; more would only make a typo expensive.
MAX_CORES = 1024
# Deeper queues than this exist in no DLP; the limit keeps a run's memory bounded by the program.
MAX_QUEUE_DEPTH = 1024
# No systolic array is this large; the limit keeps a typo from looking like a design.
MAX_ARRAY_SIDE = 65536

Parser = Callable[[object], object]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise UnitError(f"expected text, got {value!r}")
    return value


def _name(value: object) -> str:
    if not _text(value).strip():
        raise UnitError("must not be empty")
    return value


def _whole_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnitError(f"expected a whole number, got {value!r}")
    return value


def _exact_number(what: str) -> Parser:
    """A reader of a plain number of ``what`` (int or float as written), kept exact: the float
    as its shortest decimal, ``0.1`` -> 1/10."""
    def read(value: object) -> int | Fraction:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UnitError(f"expected a number of {what}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UnitError(f"expected a finite number of {what}, got {value!r}")
        number = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
        return int(number) if number.denominator == 1 else number
    return read


@dataclass(frozen=True)
class ValueKind:
    """How a value is read as written (text, ``"128KB"``, ``256``); a ``numeric`` kind reads
    numbers (int or Fraction), which a sweep can vary."""

    read: Parser
    numeric: bool


def _choice(what: str, names: tuple[str, ...]) -> ValueKind:
    """One of ``names``, compared case-insensitively; an unknown name lists the known ones."""
    def read(value: object) -> str:
        if isinstance(value, str) and value.strip().lower() in names:
            return value.strip().lower()
        raise UnitError(f"unknown {what} {value!r} (known: {', '.join(names)})")
    return ValueKind(read, numeric=False)


TEXT = ValueKind(_text, numeric=False)
NAME = ValueKind(_name, numeric=False)
WHOLE = ValueKind(_whole_number, numeric=True)
RATE = ValueKind(_exact_number("operations per cycle"), numeric=True)
PICOJOULES = ValueKind(_exact_number("pJ"), numeric=True)
MILLIWATTS = ValueKind(_exact_number("mW"), numeric=True)
SIZE = ValueKind(parse_size, numeric=True)
BANDWIDTH = ValueKind(parse_bandwidth, numeric=True)
FREQUENCY = ValueKind(parse_frequency, numeric=True)


def _shown(value: object) -> str:
    """A value in a message: numbers readable however large, anything else as written."""
    exact = isinstance(value, int | Fraction) and not isinstance(value, bool)
    return format_number(value) if exact else repr(value)


@dataclass(frozen=True)
class Bounds:
    """The values a numeric key accepts: ``positive`` ones (above 0), or from ``minimum`` to
    ``maximum`` (inclusive, either optional)."""

    positive: bool = False
    minimum: int | None = None
    maximum: int | None = None

    def check(self, parsed: int | Fraction, written: object) -> None:
        if self.positive and parsed <= 0:
            raise UnitError(f"must be positive, got {_shown(written)}")
        if self.minimum is not None and parsed < self.minimum:
            raise UnitError(f"must be at least {self.minimum}, got {_shown(parsed)}")
        if self.maximum is not None and parsed > self.maximum:
            raise UnitError(f"must be at most {self.maximum}, got {_shown(parsed)}")


UNBOUNDED = Bounds()
POSITIVE = Bounds(positive=True)
NOT_NEGATIVE = Bounds(minimum=0)


@dataclass(frozen=True)
class Key:
    """One configuration key, declared once."""

    path: str  # as presets and --set write it: "core.matrix.macs_per_cycle"
    kind: ValueKind
    attribute: str  # where MachineConfig holds the value: "dram.link.bytes_per_second"
    doc: str
    unit: str = ""  # of the stored value, what sweep files' numbers mean: "B/s", "cycles"
    bounds: Bounds = UNBOUNDED
    default: str | None = None  # None: the key must be given
    display: tuple[str, int] | None = None  # (unit, scale from the stored unit) on plots; None: (unit, 1)
    # False for a value no simulation reads (the cost proxy's weights): the result cache ignores it.
    affects_results: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind.numeric

    @property
    def display_unit(self) -> tuple[str, int]:
        return self.display or (self.unit, 1)

    def parse(self, value: object) -> object:
        """The value as written -> as stored, in ``unit``; UnitError says what is wrong with it."""
        parsed = self.kind.read(value)
        self.bounds.check(parsed, value)
        return parsed


_CAPACITY_SHOWN = ("KB", 1024)
_BANDWIDTH_SHOWN = ("GB/s", 10**9)
_CYCLES = "cycles"


def _operation_energy(unit: str, compute_type: str) -> Key:
    name = f"{compute_type.lower()}_pj"
    path = f"core.{unit}.{name}"
    return Key(path, PICOJOULES, path, f"energy of one {compute_type} operation", unit="pJ",
               bounds=NOT_NEGATIVE)


def _static_power(path: str, attribute: str, doc: str) -> Key:
    return Key(path, MILLIWATTS, attribute, f"static power of {doc}", unit="mW", bounds=NOT_NEGATIVE)


def _memory_energy(section: str, attribute: str, doc: str) -> tuple[Key, Key, Key]:
    """A memory's energy keys, in ``section``, held by the MemoryEnergy at ``attribute``."""
    return (Key(f"{section}.read_pj_per_byte", PICOJOULES, f"{attribute}.read_pj_per_byte",
                f"energy of each byte read from {doc}", unit="pJ/B", bounds=NOT_NEGATIVE),
            Key(f"{section}.write_pj_per_byte", PICOJOULES, f"{attribute}.write_pj_per_byte",
                f"energy of each byte written to {doc}", unit="pJ/B", bounds=NOT_NEGATIVE),
            _static_power(f"{section}.static_mw", f"{attribute}.static_mw", doc))


def _capacity(section: str, attribute: str, doc: str) -> Key:
    return Key(f"{section}.capacity", SIZE, attribute, f"bytes the {doc} holds", unit="B", bounds=POSITIVE,
               display=_CAPACITY_SHOWN)


def _link(section: str, attribute: str, doc: str) -> tuple[Key, Key]:
    """A link's bandwidth and latency keys, in ``section``, held by the LinkConfig at ``attribute``."""
    return (Key(f"{section}.bandwidth", BANDWIDTH, f"{attribute}.bytes_per_second", f"bandwidth of {doc}",
                unit="B/s", bounds=POSITIVE, display=_BANDWIDTH_SHOWN),
            Key(f"{section}.latency", WHOLE, f"{attribute}.latency_cycles",
                f"start-up latency of each transfer on {doc}", unit=_CYCLES, bounds=NOT_NEGATIVE))


def _rate_key(path: str, unit: str, doc: str) -> Key:
    return Key(path, RATE, path, doc, unit=unit, bounds=POSITIVE)


_SPEEDUP = "x the 32-bit rate"
_ARRAY_SIDE = Bounds(minimum=1, maximum=MAX_ARRAY_SIDE)

# The declaration, in the order `dlpsim config` prints the keys. Keys sharing a section are given
# together, so each section is one TOML table.
_DECLARED: tuple[Key, ...] = (
    Key("machine.name", NAME, "name", "the machine's name, shown in reports"),
    Key("machine.description", TEXT, "description", "one line on what the machine is", default=""),
    Key("clock.frequency", FREQUENCY, "clock_hz", "the clock of every unit", unit="Hz", bounds=POSITIVE,
        display=("GHz", 10**9)),
    Key("core.count", WHOLE, "core.count", "compute cores of the cluster", unit="compute cores",
        bounds=Bounds(minimum=1, maximum=MAX_CORES)),
    Key("core.issue_cycles", WHOLE, "core.issue_cycles", "cycles the control unit spends issuing each "
        "move or compute", unit=_CYCLES, bounds=NOT_NEGATIVE),
    Key("core.queue_depth", WHOLE, "core.queue_depth", "instructions an issue queue holds, counting the "
        "one executing", unit="instructions", bounds=Bounds(minimum=1, maximum=MAX_QUEUE_DEPTH)),
    _capacity("core.nram", "core.nram.capacity_bytes", "NRAM of each core, for neurons"),
    *_memory_energy("core.nram", "core.nram.energy", "each core's NRAM"),
    _capacity("core.wram", "core.wram.capacity_bytes", "WRAM of each core, for weights"),
    *_memory_energy("core.wram", "core.wram.energy", "each core's WRAM"),
    *_link("core.local", "core.local", "the NRAM <-> WRAM link inside each core"),
    Key("core.matrix.model", _choice("matrix model", tuple(MATRIX_MODELS)), "core.matrix.model",
        "the matrix unit's timing model"),
    _rate_key("core.matrix.macs_per_cycle", "MAC_32 per cycle per core", "MAC_32 per cycle"),
    _rate_key("core.matrix.fp16_speedup", _SPEEDUP, "MAC_16 rate over the MAC_32 rate"),
    Key("core.matrix.latency", WHOLE, "core.matrix.latency_cycles", "cycles before a MAC_* starts its work",
        unit=_CYCLES, bounds=NOT_NEGATIVE),
    Key("core.matrix.rows", WHOLE, "core.matrix.rows", "rows of the systolic array",
        unit="processing elements", bounds=_ARRAY_SIDE),
    Key("core.matrix.columns", WHOLE, "core.matrix.columns", "columns of the systolic array",
        unit="processing elements", bounds=_ARRAY_SIDE),
    Key("core.matrix.dataflow", _choice("dataflow", DATAFLOWS), "core.matrix.dataflow",
        "what stays in the systolic array: outputs (os), weights (ws) or inputs (is)"),
    *(_operation_energy("matrix", name) for name in ("MAC_32", "MAC_16")),
    _static_power("core.matrix.static_mw", "core.matrix.static_mw", "each core's matrix unit"),
    _rate_key("core.vector.ops_per_cycle", "operations per cycle per core",
              "ADD_32, SUB_32, MUL_32 per cycle"),
    _rate_key("core.vector.div_ops_per_cycle", "DIV_32 per cycle per core", "DIV_32 per cycle"),
    _rate_key("core.vector.fp16_speedup", _SPEEDUP, "rate of the _16 vector types over the _32 rate"),
    Key("core.vector.latency", WHOLE, "core.vector.latency_cycles", "cycles before a vector compute starts "
        "its work", unit=_CYCLES, bounds=NOT_NEGATIVE),
    *(Key(f"core.vector.{slots_field(operation)}", RATE, f"core.vector.{slots_field(operation)}",
          f"ADD_32 slots one {operation}_32 element takes: its rate is ops_per_cycle / this",
          unit="slots per element", bounds=POSITIVE) for operation in SLOTTED_OPERATIONS),
    *(_operation_energy("vector", f"{operation}_{bits}") for bits in (32, 16)
      for operation in ("ADD", "SUB", "MUL", "DIV", *SLOTTED_OPERATIONS)),
    _static_power("core.vector.static_mw", "core.vector.static_mw", "each core's vector unit"),
    _capacity("dram", "dram.capacity_bytes", "off-chip DRAM"),
    *_link("dram", "dram.link", "the DRAM link, shared by the chip's io queues"),
    *_memory_energy("dram", "dram.energy", "the DRAM"),
    _capacity("shared", "shared.capacity_bytes", "SharedRAM of the cluster, owned by the memory core"),
    *_link("shared", "shared.link", "each core's own link to the SharedRAM"),
    *_memory_energy("shared", "shared.energy", "the SharedRAM (its static power: with the memory core)"),
    *(Key(f"cost.{name}", RATE, f"cost.{name}", doc, unit=unit, bounds=NOT_NEGATIVE, affects_results=False)
      for name, unit, doc in (
          ("per_mac_unit", "cost units per MAC_32/cycle", "the cost proxy's weight of one MAC unit"),
          ("per_sram_kb", "cost units per KB", "the cost proxy's weight of one KB of on-chip SRAM"),
          ("per_dram_gb_per_s", "cost units per GB/s", "the cost proxy's weight of one GB/s of DRAM "
           "bandwidth"))),
)

KEYS: dict[str, Key] = {key.path: key for key in _DECLARED}
# Absent: the machine has no SharedRAM and no memory core (MachineConfig.shared is None).
OPTIONAL_SECTIONS = frozenset({"shared"})


def _parser_tree() -> dict:
    tree: dict = {}
    for key in _DECLARED:
        *sections, name = key.path.split(".")
        section = tree
        for part in sections:
            section = section.setdefault(part, {})
        section[name] = key.parse
    return tree


# Section -> key -> parser, a nested dict being a sub-section: what the loader validates with.
SCHEMA: dict = _parser_tree()


def key_parser(key: str) -> Parser | None:
    """The rule the loader reads ``key``'s values with (from SCHEMA), or None for a section or an
    unknown key."""
    rule: object = SCHEMA
    for part in key.split("."):
        if not isinstance(rule, dict) or part not in rule:
            return None
        rule = rule[part]
    return None if isinstance(rule, dict) else rule


def numeric_keys() -> list[str]:
    """Every configuration key whose value is a number and changes a result (the ones a sweep can
    vary: varying a cost weight would only repeat the same simulation)."""
    return [key.path for key in _DECLARED if key.numeric and key.affects_results]


def display_unit(key: str) -> tuple[str, int]:
    """How plots show ``key``'s values: (unit, scale from the stored unit), e.g. ("GB/s", 10**9).
    A key this version does not declare (from an older results file) is shown as stored, unitless."""
    declared = KEYS.get(key)
    return ("", 1) if declared is None else declared.display_unit


def stored_unit(key: str) -> str:
    """The unit ``key``'s value is stored in (what a sweep file's numbers mean): "B/s", "cycles"."""
    return KEYS[key].unit


def _block_type(hint: object) -> type | None:
    """The configuration dataclass a field holds (also as ``Block | None``), or None for a value."""
    for candidate in get_args(hint) or (hint,):
        if isinstance(candidate, type) and is_dataclass(candidate):
            return candidate
    return None


def _attributes(block: type, prefix: str = "") -> list[str]:
    """Every value attribute of ``block`` and the blocks it holds: "core.matrix.rows", ..."""
    hints = get_type_hints(block)
    paths = []
    for field in fields(block):
        nested = _block_type(hints[field.name])
        path = f"{prefix}{field.name}"
        paths += [path] if nested is None else _attributes(nested, f"{path}.")
    return paths


def _construct(block: type, values: Mapping[str, object], prefix: str) -> object:
    hints = get_type_hints(block)
    arguments = {}
    for field in fields(block):
        path = f"{prefix}{field.name}"
        nested = _block_type(hints[field.name])
        if nested is None:
            arguments[field.name] = values[path]
        elif any(attribute.startswith(f"{path}.") for attribute in values):
            arguments[field.name] = _construct(nested, values, f"{path}.")
        else:
            arguments[field.name] = None  # an optional block left out: shared, on a machine without one
    return block(**arguments)


def build_machine(values: Mapping[str, object]) -> MachineConfig:
    """The frozen machine from validated values by key path ("dram.bandwidth" -> 64 * 10**9); a
    key not given takes its default, and the keys of an absent optional section make its block None."""
    by_attribute = {}
    for key in _DECLARED:
        if key.path in values:
            by_attribute[key.attribute] = values[key.path]
        elif key.default is not None:
            by_attribute[key.attribute] = key.default
    return _construct(MachineConfig, by_attribute, "")


def _held(machine: MachineConfig, attribute: str) -> object | None:
    """The value at ``attribute``, or None if a block on the way is absent."""
    holder: object = machine
    for part in attribute.split("."):
        holder = getattr(holder, part)
        if holder is None:
            return None
    return holder


def stored_values(machine: MachineConfig) -> dict[str, object]:
    """Key path -> the machine's value as stored, in declaration order; the keys of an absent
    optional section are left out."""
    values = {key.path: _held(machine, key.attribute) for key in _DECLARED}
    return {path: value for path, value in values.items() if value is not None}


def result_values(machine: MachineConfig) -> dict[str, object]:
    """:func:`stored_values` without the keys no simulation reads: what a run's result depends on."""
    values = stored_values(machine)
    return {path: value for path, value in values.items() if KEYS[path].affects_results}


class SchemaError(Exception):
    """The declaration disagrees with MachineConfig or the matrix models: a bug in dlpsim."""


def _check_declaration() -> None:
    declared = [key.attribute for key in _DECLARED]
    if len(KEYS) != len(_DECLARED) or len(set(declared)) != len(declared):
        raise SchemaError("a key path or attribute is declared twice")
    fields_held = set(_attributes(MachineConfig))
    if set(declared) != fields_held:
        raise SchemaError(f"keys without a MachineConfig field: {sorted(set(declared) - fields_held)}; "
                          f"fields without a key: {sorted(fields_held - set(declared))}")
    matrix_keys = {path.removeprefix("core.matrix.") for path in KEYS if path.startswith("core.matrix.")}
    for model in MATRIX_MODELS.values():
        if not set(model.parameters) <= matrix_keys:
            raise SchemaError(f"matrix model {model.name} uses undeclared keys "
                              f"{sorted(set(model.parameters) - matrix_keys)}")


_check_declaration()
