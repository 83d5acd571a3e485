"""The machine configuration: presets, units, layering of files and --set overrides, errors.

The preset values are checked against the contract's "Presets" section and the
exercises it names (7.7 for dlp-s, 7.11 for dlp-m); values the textbook does
not give are the presets' documented assumptions, checked here as documented.
"""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from importlib import resources

import pytest

from dlpsim.errors import ConfigError, ConfigErrors, UserError
from dlpsim.machine import (
    display_unit,
    key_parser,
    load_machine,
    numeric_keys,
    preset_names,
    preset_text,
    schema,
    stored_unit,
)
from dlpsim.machine.loader import effective_toml
from dlpsim.machine.schema import KEYS, build_machine, stored_values
from dlpsim.units import UnitError, parse_bandwidth, parse_frequency, parse_size

KB = 1024
MB = 1024 * KB
GB_SIZE = 1024 * MB
GB_S = 10**9  # bandwidth: decimal
GHZ = 10**9

# --------------------------------------------------------------------------------------------
# The presets


def test_both_presets_are_shipped():
    assert {"dlp-s", "dlp-m"} <= set(preset_names())


def test_dlp_s_has_the_values_of_exercise_7_7():
    machine = load_machine("dlp-s")
    assert machine.name == "dlp-s"
    assert machine.clock_hz == 1 * GHZ
    assert machine.core.count == 1
    assert machine.compute_cores == 1
    assert machine.core.nram.capacity_bytes == 128 * KB
    assert machine.core.wram.capacity_bytes == 256 * KB
    assert machine.core.matrix.macs_per_cycle == 256
    assert machine.dram.link.bytes_per_second == 64 * GB_S
    assert machine.bytes_per_cycle(machine.dram.link) == 64
    # "all latencies 0", and issuing costs nothing
    assert machine.dram.link.latency_cycles == 0
    assert machine.core.local.latency_cycles == 0
    assert machine.core.matrix.latency_cycles == 0
    assert machine.core.vector.latency_cycles == 0
    assert machine.core.issue_cycles == 0
    # contract default
    assert machine.core.queue_depth == 8
    # single core: no SharedRAM, no memory core
    assert machine.shared is None
    assert not machine.has_memory_core
    assert machine.peak_macs_per_cycle == 256


def test_dlp_s_documented_assumptions():
    machine = load_machine("dlp-s")
    assert machine.core.local.bytes_per_second == 256 * GB_S
    assert machine.bytes_per_cycle(machine.core.local) == 256
    assert machine.core.matrix.fp16_speedup == 2
    assert machine.core.vector.ops_per_cycle == 64
    assert machine.core.vector.div_ops_per_cycle == 16
    assert machine.core.vector.fp16_speedup == 2
    assert machine.dram.capacity_bytes == 8 * GB_SIZE


def test_dlp_m_has_the_values_of_exercise_7_11():
    machine = load_machine("dlp-m")
    single = load_machine("dlp-s")
    assert machine.name == "dlp-m"
    assert machine.core.count == 4
    assert machine.has_memory_core
    assert machine.shared is not None
    assert machine.shared.capacity_bytes == 2 * MB
    assert machine.dram.link.bytes_per_second == 128 * GB_S
    assert machine.bytes_per_cycle(machine.dram.link) == 128
    assert machine.shared.link.bytes_per_second == 10**12
    assert machine.bytes_per_cycle(machine.shared.link) == 1000  # 1e12 / 1e9, not 1024
    assert machine.shared.link.latency_cycles == 0
    assert machine.dram.link.latency_cycles == 0
    assert machine.peak_macs_per_cycle == 4 * 256
    # "four dlp-s cores": each core is configured as on dlp-s
    assert machine.core.count == 4 * single.core.count
    assert machine.clock_hz == single.clock_hz
    assert machine.core.nram == single.core.nram
    assert machine.core.wram == single.core.wram
    assert machine.core.local == single.core.local
    assert machine.core.matrix == single.core.matrix
    assert machine.core.vector == single.core.vector
    assert machine.core.queue_depth == single.core.queue_depth
    assert machine.core.issue_cycles == single.core.issue_cycles


@pytest.mark.parametrize(("kind", "rate"), [
    ("MAC_32", 256), ("MAC_16", 512), ("ADD_32", 64), ("SUB_32", 64), ("MUL_32", 64), ("DIV_32", 16),
    ("ADD_16", 128), ("SUB_16", 128), ("MUL_16", 128), ("DIV_16", 32),
])
def test_preset_compute_rates(kind, rate):
    from dlpsim.asm.opcodes import COMPUTE_TYPES

    for preset in ("dlp-s", "dlp-m"):
        assert load_machine(preset).ops_per_cycle(COMPUTE_TYPES[kind]) == rate


def test_default_preset_is_dlp_s():
    assert load_machine().name == "dlp-s"
    assert load_machine(None) == load_machine("dlp-s")


def test_machine_is_frozen():
    machine = load_machine("dlp-s")
    with pytest.raises(AttributeError):
        machine.clock_hz = 2  # type: ignore[misc]


_ASSIGNMENT = re.compile(r"^\s*(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<rest>.*)$")
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]")


def _preset_files() -> list[str]:
    folder = resources.files("dlpsim.machine") / "presets"
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".toml"))


def _leaf_count(table: dict) -> int:
    return sum(_leaf_count(value) if isinstance(value, dict) else 1 for value in table.values())


# Keys whose value is a name (one of a few choices), not a number or quantity.
NAMED_KEYS = {"core.matrix.model", "core.matrix.dataflow"}


@pytest.mark.parametrize("file_name", _preset_files())
def test_every_preset_value_says_where_it_comes_from(file_name):
    text = (resources.files("dlpsim.machine") / "presets" / file_name).read_text("utf-8")
    section = ""
    checked = 0
    for number, line in enumerate(text.splitlines(), 1):
        if match := _SECTION.match(line):
            section = match["name"].strip()
            continue
        match = _ASSIGNMENT.match(line)
        if not match or section == "machine":  # name and description are text, not values
            continue
        value, hash_sign, comment = match["rest"].partition("#")
        assert hash_sign, f"{file_name}:{number}: {match['key']} has no comment"
        where = f"{file_name}:{number}: {section}.{match['key']}"
        assert re.search(r"textbook|assumption|source: \w", comment, re.IGNORECASE), \
            f"{where}: the comment says neither textbook, nor source:, nor assumption"
        if f"{section}.{match['key']}" in NAMED_KEYS:
            assert re.match(r'\s*"[a-z]+"\s*$', value), f"{where} is not a name"
        else:
            assert re.match(r'\s*("[0-9][^"]*"|[0-9][0-9_.eE+-]*)\s*$', value), \
                f"{where} is not a number or quantity"
        checked += 1
    parsed = tomllib.loads(text)
    assert checked == _leaf_count(parsed) - _leaf_count({"machine": parsed["machine"]}) > 0


@pytest.mark.parametrize("name", ["dlp-s", "dlp-m"])
def test_preset_text_is_the_shipped_file(name):
    text = preset_text(name)
    assert tomllib.loads(text)["machine"]["name"] == name


# --------------------------------------------------------------------------------------------
# Units


@pytest.mark.parametrize(("text", "bytes_per_second"), [
    ("128GB/s", 128 * 10**9),
    ("64GB/s", 64 * 10**9),
    ("12.8GB/s", 12_800_000_000),
    ("1TB/s", 10**12),
    ("64GiB/s", 64 * 2**30),
    ("1 MB/s", 10**6),
    ("500MiB/s", 500 * 2**20),
    ("1_000B/s", 1000),
])
def test_parse_bandwidth(text, bytes_per_second):
    assert parse_bandwidth(text) == bytes_per_second


@pytest.mark.parametrize(("text", "size"), [
    ("2MB", 2 * 1024**2), ("128KB", 128 * 1024), ("128K", 128 * 1024), ("256KiB", 256 * 1024),
    ("8GB", 8 * 1024**3), ("1.5KB", 1536), ("4096", 4096), ("100B", 100),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "hertz"), [
    ("1GHz", 10**9), ("800MHz", 800 * 10**6), ("1.5GHz", 1_500_000_000), ("100kHz", 10**5), ("50Hz", 50),
])
def test_parse_frequency(text, hertz):
    assert parse_frequency(text) == hertz


@pytest.mark.parametrize("text", ["64GB", "1GHz/s", "fast", "", "GB/s", "-1GB/s", "64 GB/h"])
def test_bad_bandwidths_are_unit_errors(text):
    with pytest.raises(UnitError):
        parse_bandwidth(text)


@pytest.mark.parametrize("text", ["1.5B", "128KB/s", "-1KB", "big", "1 PB"])
def test_bad_sizes_are_unit_errors(text):
    with pytest.raises(UnitError):
        parse_size(text)


def test_fractional_bytes_per_cycle_is_exact():
    machine = load_machine("dlp-s", overrides=["dram.bandwidth=12.8GB/s"])
    assert machine.bytes_per_cycle(machine.dram.link) == Fraction(64, 5)


def test_gib_per_second_is_binary():
    machine = load_machine("dlp-s", overrides=["dram.bandwidth=64GiB/s"])
    assert machine.bytes_per_cycle(machine.dram.link) == Fraction(64 * 2**30, 10**9)


def test_bytes_per_cycle_follows_the_clock():
    machine = load_machine("dlp-s", overrides=["clock.frequency=500MHz"])
    assert machine.clock_hz == 500 * 10**6
    assert machine.bytes_per_cycle(machine.dram.link) == 128  # 64e9 / 5e8


# --------------------------------------------------------------------------------------------
# --set overrides and configuration files


def test_set_overrides_one_key_and_keeps_the_others():
    base = load_machine("dlp-m")
    machine = load_machine("dlp-m", overrides=["dram.bandwidth=64GB/s"])
    assert machine.dram.link.bytes_per_second == 64 * GB_S
    assert machine.dram.capacity_bytes == base.dram.capacity_bytes
    assert machine.dram.link.latency_cycles == base.dram.link.latency_cycles
    assert machine.core == base.core
    assert machine.shared == base.shared


@pytest.mark.parametrize(("assignment", "read"), [
    ("core.queue_depth=1", lambda m: m.core.queue_depth == 1),
    ("core.issue_cycles=2", lambda m: m.core.issue_cycles == 2),
    ("core.count=3", lambda m: m.core.count == 3),
    ("core.nram.capacity=64KB", lambda m: m.core.nram.capacity_bytes == 64 * KB),
    ("core.wram.capacity=1MB", lambda m: m.core.wram.capacity_bytes == MB),
    ("core.local.bandwidth=512GB/s", lambda m: m.core.local.bytes_per_second == 512 * GB_S),
    ("core.local.latency=3", lambda m: m.core.local.latency_cycles == 3),
    ("core.matrix.macs_per_cycle=1024", lambda m: m.core.matrix.macs_per_cycle == 1024),
    ("core.matrix.macs_per_cycle=2.5", lambda m: m.core.matrix.macs_per_cycle == Fraction(5, 2)),
    ("core.matrix.fp16_speedup=4", lambda m: m.core.matrix.fp16_speedup == 4),
    ("core.matrix.latency=5", lambda m: m.core.matrix.latency_cycles == 5),
    ("core.vector.ops_per_cycle=32", lambda m: m.core.vector.ops_per_cycle == 32),
    ("core.vector.div_ops_per_cycle=8", lambda m: m.core.vector.div_ops_per_cycle == 8),
    ("core.vector.fp16_speedup=1", lambda m: m.core.vector.fp16_speedup == 1),
    ("core.vector.latency=7", lambda m: m.core.vector.latency_cycles == 7),
    ("dram.capacity=16GB", lambda m: m.dram.capacity_bytes == 16 * GB_SIZE),
    ("dram.bandwidth=12.8GB/s", lambda m: m.dram.link.bytes_per_second == 12_800_000_000),
    ("dram.bandwidth=100000", lambda m: m.dram.link.bytes_per_second == 100000),
    ("dram.bandwidth='32GB/s'", lambda m: m.dram.link.bytes_per_second == 32 * GB_S),
    ("dram.latency=10", lambda m: m.dram.link.latency_cycles == 10),
    ("clock.frequency=2GHz", lambda m: m.clock_hz == 2 * GHZ),
    ("shared.capacity=4MB", lambda m: m.shared.capacity_bytes == 4 * MB),
    ("shared.bandwidth=2TB/s", lambda m: m.shared.link.bytes_per_second == 2 * 10**12),
    ("shared.latency=4", lambda m: m.shared.link.latency_cycles == 4),
    (" dram.latency = 6 ", lambda m: m.dram.link.latency_cycles == 6),
])
def test_every_documented_key_can_be_set(assignment, read):
    assert read(load_machine("dlp-m", overrides=[assignment]))


def test_later_overrides_win():
    machine = load_machine("dlp-s", overrides=["dram.latency=1", "dram.latency=2"])
    assert machine.dram.link.latency_cycles == 2


def test_config_file_layers_over_the_preset(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text('[dram]\nbandwidth = "32GB/s"\n\n[core]\nqueue_depth = 4\n\n[core.matrix]\nlatency = 3\n')
    machine = load_machine("dlp-m", config_file=path)
    base = load_machine("dlp-m")
    assert machine.dram.link.bytes_per_second == 32 * GB_S
    assert machine.core.queue_depth == 4
    assert machine.core.matrix.latency_cycles == 3
    # keys the file does not name keep the preset's values
    assert machine.dram.capacity_bytes == base.dram.capacity_bytes
    assert machine.core.matrix.macs_per_cycle == base.core.matrix.macs_per_cycle
    assert machine.core.count == 4
    assert machine.shared == base.shared
    assert machine.name == "dlp-m"


def test_set_overrides_the_config_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("[core]\nqueue_depth = 4\nissue_cycles = 1\n")
    machine = load_machine("dlp-s", config_file=str(path), overrides=["core.queue_depth=2"])
    assert machine.core.queue_depth == 2  # --set beats the file
    assert machine.core.issue_cycles == 1  # the file beats the preset


def test_config_file_can_rename_the_machine(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[machine]\nname = "my-dlp"\n[core]\ncount = 2\n')
    machine = load_machine("dlp-m", config_file=path)
    assert machine.name == "my-dlp"
    assert machine.core.count == 2


def test_config_file_can_add_a_sharedram_to_dlp_s(tmp_path):
    path = tmp_path / "shared.toml"
    path.write_text('[shared]\ncapacity = "1MB"\nbandwidth = "1TB/s"\nlatency = 0\n'
                    'read_pj_per_byte = 12.5\nwrite_pj_per_byte = 12.5\nstatic_mw = 102.4\n')
    machine = load_machine("dlp-s", config_file=path)
    assert machine.has_memory_core
    assert machine.shared.capacity_bytes == MB


def test_effective_configuration_reloads_to_the_same_machine(tmp_path):
    for preset, overrides in (("dlp-s", []), ("dlp-m", ["dram.bandwidth=12.8GB/s", "core.queue_depth=3"])):
        machine = load_machine(preset, overrides=overrides)
        path = tmp_path / f"{preset}.toml"
        path.write_text(effective_toml(machine))
        assert load_machine(preset, config_file=path) == machine


# --------------------------------------------------------------------------------------------
# Errors: each names the key and where the value came from, and is a UserError


def _error(preset: str = "dlp-s", config_file=None, overrides=()) -> UserError:
    with pytest.raises(UserError) as caught:
        load_machine(preset, config_file=config_file, overrides=list(overrides))
    assert isinstance(caught.value, ConfigError | ConfigErrors)
    return caught.value


def _assert_names(error: UserError, key: str, source: str, *words: str) -> None:
    message = str(error)
    assert key in message, message
    assert source in message, message
    for word in words:
        assert word in message, message
    if isinstance(error, ConfigErrors):
        assert any(item.key == key and item.source == source for item in error.errors), error.errors


def test_config_errors_are_user_errors():
    assert issubclass(ConfigError, UserError)
    assert issubclass(ConfigErrors, UserError)


def test_unknown_key_from_set():
    error = _error(overrides=["dram.bandwith=1GB/s"])
    _assert_names(error, "dram.bandwith", "--set dram.bandwith=1GB/s", "unknown key", "dram.bandwidth")


def test_unknown_section_from_set():
    error = _error(overrides=["hbm.bandwidth=1TB/s"])
    _assert_names(error, "hbm", "--set hbm.bandwidth=1TB/s", "unknown key")


def test_unknown_key_in_a_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[core]\nqueue_dept = 4\n")
    error = _error(config_file=path)
    _assert_names(error, "core.queue_dept", str(path), "unknown key")


@pytest.mark.parametrize(("assignment", "key", "words"), [
    ("dram.bandwidth=0", "dram.bandwidth", ("positive",)),
    ("dram.bandwidth=0GB/s", "dram.bandwidth", ("positive",)),
    ("dram.bandwidth=-5", "dram.bandwidth", ("positive",)),
    ("dram.bandwidth=-5GB/s", "dram.bandwidth", ()),
    ("shared.bandwidth=0TB/s", "shared.bandwidth", ("positive",)),
    ("core.local.bandwidth=0", "core.local.bandwidth", ("positive",)),
    ("dram.bandwidth=5 parsecs", "dram.bandwidth", ("bandwidth",)),
    ("dram.bandwidth=64GB", "dram.bandwidth", ("bandwidth",)),
    ("core.nram.capacity=0", "core.nram.capacity", ("positive",)),
    ("core.wram.capacity=-1KB", "core.wram.capacity", ()),
    ("core.nram.capacity=0.5B", "core.nram.capacity", ("whole",)),
    ("dram.capacity=8GB/s", "dram.capacity", ("size",)),
    ("clock.frequency=0", "clock.frequency", ("positive",)),
    ("clock.frequency=0GHz", "clock.frequency", ("positive",)),
    ("clock.frequency=1GB/s", "clock.frequency", ("frequency",)),
    ("core.queue_depth=0", "core.queue_depth", ("at least 1",)),
    ("core.queue_depth=-3", "core.queue_depth", ("at least 1",)),
    ("core.queue_depth=1.5", "core.queue_depth", ("whole number",)),
    ("core.queue_depth=eight", "core.queue_depth", ("whole number",)),
    ("core.queue_depth=true", "core.queue_depth", ("whole number",)),
    ("core.count=0", "core.count", ("at least 1",)),
    ("core.issue_cycles=-1", "core.issue_cycles", ("at least 0",)),
    ("dram.latency=-1", "dram.latency", ("at least 0",)),
    ("dram.latency=1.5", "dram.latency", ("whole number",)),
    ("core.matrix.macs_per_cycle=0", "core.matrix.macs_per_cycle", ("positive",)),
    ("core.matrix.macs_per_cycle='256'", "core.matrix.macs_per_cycle", ("operations per cycle",)),
    ("core.vector.fp16_speedup=-2", "core.vector.fp16_speedup", ("positive",)),
    ("core.vector.div_ops_per_cycle=false", "core.vector.div_ops_per_cycle", ()),
    ("dram.bandwidth=[1, 2]", "dram.bandwidth", ()),
    ("machine.name=5", "machine.name", ("text",)),
])
def test_bad_values_name_the_key_and_the_option(assignment, key, words):
    error = _error("dlp-m", overrides=[assignment])
    _assert_names(error, key, f"--set {assignment}", *words)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_infinite_or_nan_values_are_config_errors(value):
    error = _error(overrides=[f"dram.bandwidth={value}"])
    _assert_names(error, "dram.bandwidth", f"--set dram.bandwidth={value}")


def test_infinite_rate_in_a_file_is_a_config_error(tmp_path):
    path = tmp_path / "inf.toml"
    path.write_text("[core.matrix]\nmacs_per_cycle = inf\n")
    _assert_names(_error(config_file=path), "core.matrix.macs_per_cycle", str(path))


def test_bad_value_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[dram]\nbandwidth = 0\n")
    _assert_names(_error(config_file=path), "dram.bandwidth", str(path), "positive")


def test_error_names_the_layer_the_bad_value_came_from(tmp_path):
    path = tmp_path / "fine.toml"
    path.write_text("[core]\nqueue_depth = 4\n")
    error = _error(config_file=path, overrides=["dram.latency=-2"])
    _assert_names(error, "dram.latency", "--set dram.latency=-2")
    assert str(path) not in str(error)


def test_several_errors_are_reported_together():
    error = _error(overrides=["dram.bandwidth=0", "core.queue_depth=0"])
    assert isinstance(error, ConfigErrors)
    assert {item.key for item in error.errors} == {"dram.bandwidth", "core.queue_depth"}
    assert "dram.bandwidth" in str(error) and "core.queue_depth" in str(error)


def test_a_section_given_a_value():
    error = _error(overrides=["dram=5"])
    _assert_names(error, "dram", "--set dram=5", "section")


def test_a_section_given_a_value_in_a_file(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text("core = 4\n")
    _assert_names(_error(config_file=path), "core", str(path), "section")


def test_a_value_given_a_section_in_a_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("[dram.bandwidth]\nvalue = 5\n")
    _assert_names(_error(config_file=path), "dram.bandwidth", str(path), "not a section")


def test_an_incomplete_new_section_names_the_missing_keys():
    error = _error("dlp-s", overrides=["shared.capacity=1MB"])
    _assert_names(error, "shared.bandwidth", "--set shared.capacity=1MB", "missing")
    _assert_names(error, "shared.latency", "--set shared.capacity=1MB", "missing")


@pytest.mark.parametrize("assignment", ["dram.bandwidth", "=5", "dram.bandwidth=", "  "])
def test_malformed_set(assignment):
    error = _error(overrides=[assignment])
    assert "KEY=VALUE" in str(error)
    assert f"--set {assignment}" in str(error)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[dram\nbandwidth = 1\n")
    error = _error(config_file=path)
    _assert_names(error, "", str(path), "not valid TOML")


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "absent.toml"
    error = _error(config_file=path)
    _assert_names(error, "", str(path), "cannot read")


def test_directory_as_file_names_it(tmp_path):
    error = _error(config_file=tmp_path)
    _assert_names(error, "", str(tmp_path), "cannot read")


def test_non_utf8_file_names_it(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[dram]\nbandwidth = \"64GB/s\" # \xe9\xff\n")
    error = _error(config_file=path)
    _assert_names(error, "", str(path), "cannot read")


def test_unknown_preset():
    with pytest.raises(UserError) as caught:
        load_machine("dlp-x")
    message = str(caught.value)
    assert "dlp-x" in message
    assert "dlp-s" in message and "dlp-m" in message  # the known presets are listed
    with pytest.raises(UserError):
        preset_text("no-such-preset")


# --------------------------------------------------------------------------------------------
# The schema: each key declared once, everything else derived from it


# The vector operations issue 12 added, each with its slots per element and its energies.
LATER_VECTOR = ("max", "min", "exp", "tanh", "sigmoid", "gelu", "rsqrt")


def test_the_sweepable_keys_and_their_units():
    # The axis units plots and sweep files have always used; a change here changes every plot.
    cycles, elements, speedup = ("cycles", 1), ("processing elements", 1), ("x the 32-bit rate", 1)
    assert {key: display_unit(key) for key in numeric_keys()} == {
        "clock.frequency": ("GHz", 10**9), "core.count": ("compute cores", 1),
        "core.issue_cycles": cycles, "core.queue_depth": ("instructions", 1),
        "core.nram.capacity": ("KB", 1024), "core.wram.capacity": ("KB", 1024),
        "core.local.bandwidth": ("GB/s", 10**9), "core.local.latency": cycles,
        "core.matrix.macs_per_cycle": ("MAC_32 per cycle per core", 1), "core.matrix.fp16_speedup": speedup,
        "core.matrix.latency": cycles, "core.matrix.rows": elements, "core.matrix.columns": elements,
        "core.vector.ops_per_cycle": ("operations per cycle per core", 1),
        "core.vector.div_ops_per_cycle": ("DIV_32 per cycle per core", 1),
        "core.vector.fp16_speedup": speedup, "core.vector.latency": cycles,
        **{f"core.vector.{operation}_slots": ("slots per element", 1) for operation in LATER_VECTOR},
        "dram.capacity": ("KB", 1024), "dram.bandwidth": ("GB/s", 10**9), "dram.latency": cycles,
        "shared.capacity": ("KB", 1024), "shared.bandwidth": ("GB/s", 10**9), "shared.latency": cycles,
        **{f"{memory}.{name}": (unit, 1) for memory in ("core.nram", "core.wram", "dram", "shared")
           for name, unit in (("read_pj_per_byte", "pJ/B"), ("write_pj_per_byte", "pJ/B"),
                              ("static_mw", "mW"))},
        **{f"core.{unit}.{kind.lower()}_pj": ("pJ", 1) for unit, kinds in (
            ("matrix", ("MAC_32", "MAC_16")),
            ("vector", ("ADD_32", "SUB_32", "MUL_32", "DIV_32", "ADD_16", "SUB_16", "MUL_16", "DIV_16",
                        *(f"{operation}_{bits}" for bits in (32, 16) for operation in LATER_VECTOR))))
           for kind in kinds},
        "core.matrix.static_mw": ("mW", 1), "core.vector.static_mw": ("mW", 1),
    }
    memory_energy = ("read_pj_per_byte", "write_pj_per_byte", "static_mw")
    assert numeric_keys() == [  # the order `dlpsim sweep` lists them in
        "clock.frequency", "core.count", "core.issue_cycles", "core.queue_depth", "core.nram.capacity",
        *(f"core.nram.{name}" for name in memory_energy), "core.wram.capacity",
        *(f"core.wram.{name}" for name in memory_energy), "core.local.bandwidth", "core.local.latency",
        "core.matrix.macs_per_cycle", "core.matrix.fp16_speedup", "core.matrix.latency", "core.matrix.rows",
        "core.matrix.columns", "core.matrix.mac_32_pj", "core.matrix.mac_16_pj", "core.matrix.static_mw",
        "core.vector.ops_per_cycle", "core.vector.div_ops_per_cycle", "core.vector.fp16_speedup",
        "core.vector.latency", *(f"core.vector.{operation}_slots" for operation in LATER_VECTOR),
        *(f"core.vector.{kind}_pj" for bits in (32, 16)
          for kind in (f"add_{bits}", f"sub_{bits}", f"mul_{bits}", f"div_{bits}",
                       *(f"{operation}_{bits}" for operation in LATER_VECTOR))),
        "core.vector.static_mw", "dram.capacity", "dram.bandwidth", "dram.latency",
        *(f"dram.{name}" for name in memory_energy), "shared.capacity", "shared.bandwidth", "shared.latency",
        *(f"shared.{name}" for name in memory_energy)]
    assert [stored_unit(key) for key in ("dram.bandwidth", "shared.capacity", "clock.frequency")] == [
        "B/s", "B", "Hz"]
    assert display_unit("no.such.key") == ("", 1)  # a key from an older sweep file: shown as stored


def test_names_descriptions_and_choices_are_not_numeric():
    assert not {"machine.name", "machine.description", "core.matrix.model", "core.matrix.dataflow"} \
        & set(numeric_keys())
    assert set(numeric_keys()) < set(KEYS)


def test_key_parser_reads_values_as_the_loader_does():
    assert key_parser("dram.bandwidth")("12.8GB/s") == 12_800_000_000
    assert key_parser("core.matrix.model")(" Systolic ") == "systolic"
    assert key_parser("dram") is None and key_parser("dram.speed") is None and key_parser("") is None
    with pytest.raises(UnitError, match="must be at most 1024, got 2000"):
        key_parser("core.count")(2000)


def test_every_key_has_a_unit_or_is_text_and_a_doc():
    for key in KEYS.values():
        assert key.doc and (key.unit or not key.numeric), key.path


@pytest.mark.parametrize("name", ["dlp-s", "dlp-m"])
def test_building_a_machine_from_its_stored_values_gives_it_back(name):
    machine = load_machine(name)
    values = stored_values(machine)
    assert list(values)[0] == "machine.name" and ("shared.capacity" in values) == machine.has_memory_core
    assert build_machine(values) == machine


def test_the_description_defaults_to_empty():
    values = stored_values(load_machine("dlp-s"))
    del values["machine.description"]
    assert build_machine(values).description == ""


def test_a_huge_whole_number_is_refused_in_readable_digits():
    error = _error(overrides=["core.count=9223372036854775807"])
    _assert_names(error, "core.count", "--set core.count=9223372036854775807",
                  "must be at most 1024, got 9.22337203685478e+18")
    error = _error(overrides=["dram.latency=-9223372036854775807"])
    _assert_names(error, "dram.latency", "--set dram.latency=-9223372036854775807",
                  "must be at least 0, got -9.22337203685478e+18")


def test_a_declaration_that_disagrees_with_machine_config_is_refused(monkeypatch):
    without_dram_latency = tuple(key for key in schema._DECLARED if key.path != "dram.latency")
    monkeypatch.setattr(schema, "_DECLARED", without_dram_latency)
    monkeypatch.setattr(schema, "KEYS", {key.path: key for key in without_dram_latency})
    with pytest.raises(schema.SchemaError, match=r"fields without a key: \['dram.link.latency_cycles'\]"):
        schema._check_declaration()
