"""The shape-aware compute form (``compute MAC_32 MxKxN``) and the systolic matrix unit."""

from __future__ import annotations

import json
import subprocess
import sys
from math import ceil

import pytest
from click.testing import CliRunner

from dlpsim.asm import assemble
from dlpsim.asm.listing import format_listing
from dlpsim.asm.opcodes import COMPUTE_TYPES
from dlpsim.asm.program import Compute, CoreId, repetitions
from dlpsim.cli import main
from dlpsim.errors import ConfigError, ConfigErrors, ProgramError
from dlpsim.machine import load_machine
from dlpsim.machine.config import DATAFLOWS, MATRIX_MODELS, RegistryError, implementation_per_name
from dlpsim.machine.loader import effective_toml
from dlpsim.run.compile import compile_layer
from dlpsim.sim import simulate
from dlpsim.sim.check import bind, minimum_cycles
from dlpsim.sim.compute import (
    DATAFLOW_MAPPINGS,
    TIMING_MODELS,
    SystolicTiming,
    ThroughputTiming,
    compute_timing,
)
from dlpsim.workloads import get_network

SYSTOLIC = ["core.matrix.model=systolic"]


def _compute(text: str) -> Compute:
    statement = assemble(text).sections[0].statements[0]
    assert isinstance(statement, Compute)
    return statement


# -- the shape form in the assembler ---------------------------------------------------------

@pytest.mark.parametrize(("text", "shape"), [
    ("compute MAC_32 32x256x128", (32, 256, 128)),
    ("compute MAC_32 4x5x6", (4, 5, 6)),
    ("compute mac_16 2*16 x 256 X 16", (32, 256, 16)),  # products, spaces and a capital X
    ("compute MAC_32 4Kx8x16", (4096, 8, 16)),  # a suffix just before the x
    ("compute MAC_32 0x10 x 0x20 x 1", (16, 32, 1)),  # hexadecimal dimensions, spaced
    ("compute MAC_32 0xAx2x3", (10, 2, 3)),  # a hexadecimal first dimension
    ("compute MAC_32, 1x1x1", (1, 1, 1)),  # the optional comma
    ("compute MAC_32 13*13 x 3*3*256 x 384", (169, 2304, 384)),
])
def test_shape_form_parses_and_counts_m_k_n_operations(text, shape):
    compute = _compute(text)
    assert compute.shape == shape
    assert compute.count == shape[0] * shape[1] * shape[2]


def test_plain_form_has_no_shape():
    compute = _compute("compute MAC_32 120")
    assert compute.shape is None and compute.count == 120
    assert str(compute) == "compute MAC_32 120"


@pytest.mark.parametrize(("text", "column", "says"), [
    ("compute MAC_32 3x4", 19, "expected 'x' and the N dimension"),  # two dimensions
    ("compute MAC_32 3x4x", 20, "expected the N dimension"),
    ("compute MAC_32 3 x", 19, "expected the K dimension"),
    ("compute MAC_32 1x2x3x4", 21, "three dimensions"),
    ("compute MAC_32 0x4x5", 21, "expected 'x' and the N"),  # hexadecimal 0x4, then x5
    ("compute MAC_32 3x0x5", 18, "got K = 0"),  # not 3 x 0x5
    ("compute MAC_32 0 x 4 x 5", 16, "got M = 0"),
    ("compute MAC_32 4x5x0", 20, "got N = 0"),
    ("compute MAC_32 3x4 5", 20, "got '5'"),
    ("compute MAC_32 3x4xq", 19, "got 'xq'"),
    ("compute MAC_32 2Gx2Gx2G", 16, "too many"),
    ("compute ADD_32 4x5x6", 17, "only for the matrix unit's MAC types"),
    ("compute DIV_16 1x1x1", 17, "`compute DIV_16 NUM`"),
])
def test_malformed_shapes_are_errors_at_their_column(text, column, says):
    with pytest.raises(ProgramError) as caught:
        assemble(text, "bad.asm")
    message = str(caught.value)
    assert message.startswith(f"bad.asm:1:{column}: error:"), message
    assert says in message, message


@pytest.mark.parametrize("text", [
    "compute MAC_32 32x256x128",
    "compute MAC_16 1x1x1",
    "compute MAC_32 4Kx3*3*64x128",
])
def test_shape_form_round_trips_through_str(text):
    compute = _compute(text)
    again = _compute(str(compute))
    assert (again.type, again.count, again.shape) == (compute.type, compute.count, compute.shape)


def test_shape_form_round_trips_through_the_listing():
    text = "loop 2\n  compute MAC_32 32x256x128\n  compute ADD_32 64\nendloop\ncompute MAC_16 7x8x9\n"
    program = assemble(text, "p.asm")
    listing = format_listing(program, [CoreId(0)])
    assert "compute MAC_32 32x256x128" in listing and "compute MAC_16 7x8x9" in listing
    # the listing's instruction text, without line numbers, assembles to the same statements
    body = [line[9:] for line in listing.splitlines()[3:]]
    again = assemble("\n".join(body), "again.asm")

    def shapes(statements):
        out = []
        for statement in statements:
            if isinstance(statement, Compute):
                out.append((statement.type.name, statement.count, statement.shape))
            elif hasattr(statement, "body"):
                out.append(("loop", statement.count, tuple(shapes(statement.body))))
        return out
    assert shapes(again.sections[0].statements) == shapes(program.sections[0].statements)


# -- the configuration -----------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["dlp-s", "dlp-m"])
def test_presets_keep_the_throughput_model_and_document_a_16x16_array(preset):
    matrix = load_machine(preset).core.matrix
    assert (matrix.model, matrix.rows, matrix.columns, matrix.dataflow) == ("throughput", 16, 16, "os")
    assert not matrix.systolic


def test_systolic_configuration_and_its_peak_rate():
    machine = load_machine("dlp-m", overrides=[*SYSTOLIC, "core.matrix.rows=8", "core.matrix.columns=32",
                                               "core.matrix.dataflow=WS"])
    matrix = machine.core.matrix
    assert (matrix.model, matrix.rows, matrix.columns, matrix.dataflow) == ("systolic", 8, 32, "ws")
    # one MAC per processing element per cycle, at either precision; macs_per_cycle is not used
    assert machine.ops_per_cycle(COMPUTE_TYPES["MAC_32"]) == 256
    assert machine.ops_per_cycle(COMPUTE_TYPES["MAC_16"]) == 256
    assert machine.ops_per_cycle(COMPUTE_TYPES["ADD_32"]) == 64  # the vector unit is untouched
    assert machine.peak_macs_per_cycle == 4 * 256


def test_the_effective_configuration_prints_and_reloads_the_systolic_keys(tmp_path):
    machine = load_machine("dlp-s", overrides=[*SYSTOLIC, "core.matrix.dataflow=is", "core.matrix.rows=4"])
    text = effective_toml(machine)
    for line in ('model = "systolic"', "rows = 4", "columns = 16", 'dataflow = "is"'):
        assert line in text
    path = tmp_path / "m.toml"
    path.write_text(text)
    assert load_machine("dlp-s", config_file=path) == machine


@pytest.mark.parametrize(("assignment", "says"), [
    ("core.matrix.model=systolc", "unknown matrix model 'systolc' (known: throughput, systolic)"),
    ("core.matrix.model=3", "unknown matrix model 3 (known: throughput, systolic)"),
    ("core.matrix.dataflow=rs", "unknown dataflow 'rs' (known: os, ws, is)"),
    ("core.matrix.rows=0", "must be at least 1, got 0"),
    ("core.matrix.columns=-4", "must be at least 1, got -4"),
    ("core.matrix.rows=2.5", "expected a whole number"),
    ("core.matrix.columns=16x16", "expected a whole number"),
    ("core.matrix.rows=100000", "must be at most 65536"),
])
def test_bad_systolic_settings_are_errors_naming_the_key(assignment, says):
    with pytest.raises((ConfigError, ConfigErrors)) as caught:
        load_machine("dlp-s", overrides=[assignment])
    key = assignment.partition("=")[0]
    assert f"--set {assignment}: error: {key}: {says}" in str(caught.value), str(caught.value)


# -- the systolic timing rule ----------------------------------------------------------------

def rule(dataflow: str, m: int, k: int, n: int, rows: int, columns: int) -> int:
    """The documented rule, written out again: folds x (fill + stream + drain)."""
    drain = rows + columns - 2
    if dataflow == "os":  # M on the rows, N on the columns, K streamed; nothing to preload
        return ceil(m / rows) * ceil(n / columns) * (0 + k + drain)
    if dataflow == "ws":  # K on the rows, N on the columns, M streamed; weights preloaded
        return ceil(k / rows) * ceil(n / columns) * (rows + m + drain)
    assert dataflow == "is"  # K on the rows, M on the columns, N streamed; inputs preloaded
    return ceil(k / rows) * ceil(m / columns) * (rows + n + drain)


def cycles(text: str, *overrides: str, preset: str = "dlp-s") -> int:
    machine = load_machine(preset, overrides=list(overrides))
    return simulate(assemble(text), machine).cycles


def systolic(dataflow: str, rows: int = 16, columns: int = 16) -> list[str]:
    return [*SYSTOLIC, f"core.matrix.dataflow={dataflow}", f"core.matrix.rows={rows}",
            f"core.matrix.columns={columns}"]


# Worked by hand on a 16 x 16 array (fill + stream + drain, drain = 16 + 16 - 2 = 30):
HAND = [
    # os: folds ceil(M/16) x ceil(N/16); each 0 + K + 30
    ("os", (16, 16, 16), 1 * 1 * (0 + 16 + 30)),    # one full fold: 46
    ("os", (8, 8, 8), 1 * 1 * (0 + 8 + 30)),        # one partial fold costs as a full one: 38
    ("os", (32, 16, 16), 2 * 1 * (0 + 16 + 30)),    # M over two folds: 92
    ("os", (20, 30, 40), 2 * 3 * (0 + 30 + 30)),    # partial folds on both sides: 360
    ("os", (1, 1000, 1), 1 * 1 * (0 + 1000 + 30)),  # a long dot product: 1030
    # ws: folds ceil(K/16) x ceil(N/16); each 16 + M + 30
    ("ws", (16, 16, 16), 1 * 1 * (16 + 16 + 30)),   # 62
    ("ws", (20, 30, 40), 2 * 3 * (16 + 20 + 30)),   # 396
    ("ws", (100, 17, 5), 2 * 1 * (16 + 100 + 30)),  # K = 17 needs a second fold: 292
    # is: folds ceil(K/16) x ceil(M/16); each 16 + N + 30
    ("is", (16, 16, 16), 1 * 1 * (16 + 16 + 30)),   # 62
    ("is", (20, 30, 40), 2 * 2 * (16 + 40 + 30)),   # 344
    ("is", (33, 8, 1), 1 * 3 * (16 + 1 + 30)),      # M = 33 over three folds: 141
]


@pytest.mark.parametrize(("dataflow", "shape", "expected"), HAND)
def test_systolic_cycles_worked_by_hand(dataflow, shape, expected):
    m, k, n = shape
    assert rule(dataflow, m, k, n, 16, 16) == expected
    assert cycles(f"compute MAC_32 {m}x{k}x{n}", *systolic(dataflow)) == expected


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize(("rows", "columns"), [(16, 16), (8, 4), (4, 8), (1, 1), (3, 5)])
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 5, 6), (7, 9, 11), (16, 16, 16), (17, 33, 15),
                                   (64, 8, 3), (5, 100, 40)])
def test_systolic_cycles_follow_the_rule(dataflow, rows, columns, shape):
    """Rectangular arrays tell rows from columns; the shapes hit full and partial folds."""
    m, k, n = shape
    machine = load_machine("dlp-s", overrides=systolic(dataflow, rows, columns))
    timing = compute_timing(machine)
    assert isinstance(timing, SystolicTiming)
    assert timing.cycles(_compute(f"compute MAC_32 {m}x{k}x{n}")) == rule(dataflow, m, k, n, rows, columns)
    assert timing.cycles(_compute(f"compute MAC_16 {m}x{k}x{n}")) == rule(dataflow, m, k, n, rows, columns)


# SCALE-Sim v3.0.0's "Total Cycles" for GEMM topologies (CALC bandwidth, no stalls), recorded by
# running it: (dataflow, ArrayHeight, ArrayWidth, (M, K, N), Total Cycles). docs/systolic.md.
SCALESIM = [
    ("os", 16, 16, (16, 16, 16), 45),
    ("os", 16, 16, (8, 8, 8), 37),
    ("os", 16, 16, (17, 33, 15), 125),
    ("os", 16, 16, (64, 64, 64), 1503),
    ("os", 16, 16, (1, 1, 1), 30),
    ("os", 16, 16, (20, 30, 40), 359),
    ("os", 16, 16, (49, 32, 58), 991),
    ("ws", 16, 16, (16, 16, 16), 61),
    ("ws", 16, 16, (8, 8, 8), 53),
    ("ws", 16, 16, (17, 33, 15), 188),
    ("ws", 16, 16, (64, 64, 64), 1759),
    ("ws", 16, 16, (1, 1, 1), 46),
    ("ws", 16, 16, (20, 30, 40), 395),
    ("ws", 16, 16, (49, 32, 58), 759),
    ("is", 16, 16, (16, 16, 16), 61),
    ("is", 16, 16, (8, 8, 8), 53),
    ("is", 16, 16, (17, 33, 15), 365),
    ("is", 16, 16, (64, 64, 64), 1759),
    ("is", 16, 16, (1, 1, 1), 46),
    ("is", 16, 16, (20, 30, 40), 343),
    ("is", 16, 16, (49, 32, 58), 831),
    ("os", 8, 4, (17, 33, 15), 515),
    ("os", 8, 4, (9, 61, 32), 1135),
    ("ws", 8, 4, (17, 33, 15), 699),
    ("ws", 8, 4, (9, 61, 32), 1727),
    ("is", 8, 4, (17, 33, 15), 824),
    ("is", 8, 4, (9, 61, 32), 1199),
    ("os", 4, 8, (17, 33, 15), 429),
    ("os", 4, 8, (35, 46, 56), 3527),
    ("ws", 4, 8, (17, 33, 15), 557),
    ("ws", 4, 8, (35, 46, 56), 4115),
    ("is", 4, 8, (17, 33, 15), 782),
    ("is", 4, 8, (35, 46, 56), 4199),
    # the GEMMs of exercises 7.7-7.9 and AlexNet's conv1 (given to SCALE-Sim as a conv row)
    ("os", 16, 16, (1, 256, 1), 285),
    ("os", 16, 16, (32, 256, 128), 4575),
    ("os", 16, 16, (1024, 256, 128), 146431),
    ("os", 16, 16, (3025, 363, 96), 448019),
    ("ws", 16, 16, (1, 256, 1), 751),
    ("ws", 16, 16, (32, 256, 128), 9983),
    ("ws", 16, 16, (1024, 256, 128), 136959),
    ("ws", 16, 16, (3025, 363, 96), 423797),
    ("is", 16, 16, (1, 256, 1), 751),
    ("is", 16, 16, (32, 256, 128), 5567),
    ("is", 16, 16, (1024, 256, 128), 178175),
    ("is", 16, 16, (3025, 363, 96), 620539),
]


@pytest.mark.parametrize(("dataflow", "rows", "columns", "shape", "total"), SCALESIM)
def test_systolic_cycles_are_scalesims_total_plus_one(dataflow, rows, columns, shape, total):
    m, k, n = shape
    assert cycles(f"compute MAC_32 {m}x{k}x{n}", *systolic(dataflow, rows, columns)) == total + 1


def test_latency_adds_to_the_systolic_time():
    assert cycles("compute MAC_32 20x30x40", *systolic("os"), "core.matrix.latency=7") == 360 + 7


def test_plain_form_on_a_systolic_machine_runs_at_the_array_peak():
    # no shape to map: ceil(n / (rows x columns)), like the throughput rule at that rate
    assert cycles("compute MAC_32 1000", *systolic("ws", 8, 4)) == ceil(1000 / 32)
    assert cycles("compute MAC_16 1000", *systolic("ws", 8, 4)) == ceil(1000 / 32)
    latency = "core.matrix.latency=3"
    assert cycles("compute MAC_32 1000", *systolic("ws", 8, 4), latency) == 3 + ceil(1000 / 32)


def test_vector_types_keep_the_throughput_rule_on_a_systolic_machine():
    text = "compute ADD_32 1000\ncompute DIV_16 1000"
    assert cycles(text, *systolic("is")) == ceil(1000 / 64) + ceil(1000 / 32)


@pytest.mark.parametrize("preset", ["dlp-s", "dlp-m"])
@pytest.mark.parametrize(("shape", "plain"), [("4x5x6", "120"), ("32x256x128", "32*256*128"),
                                               ("17x33x15", "8415")])
def test_throughput_machines_time_a_shape_as_its_operation_count(preset, shape, plain):
    for kind in ("MAC_32", "MAC_16"):
        shaped = cycles(f"compute {kind} {shape}", preset=preset)
        assert shaped == cycles(f"compute {kind} {plain}", preset=preset)
    assert cycles("compute MAC_32 4x5x6") == cycles("compute MAC_32 120") == 1


def test_every_systolic_cycle_count_is_at_least_the_peak_rate_bound():
    """The roofline bound uses rows x columns MACs per cycle: never more than the array achieves."""
    for dataflow in DATAFLOWS:
        for rows, columns in ((16, 16), (8, 4), (3, 5)):
            for m, k, n in ((1, 1, 1), (4, 5, 6), (17, 33, 15), (64, 64, 64), (100, 3, 7)):
                assert rule(dataflow, m, k, n, rows, columns) >= m * k * n / (rows * columns)


def test_a_systolic_run_reports_efficiency_at_most_one():
    machine = load_machine("dlp-s", overrides=systolic("os"))
    stats = simulate(assemble("compute MAC_32 64x64x64\ncompute MAC_32 16x16x16\n"), machine)
    assert stats.cycles == 4 * 4 * (64 + 30) + 46
    assert stats.bound.cycles == ceil((64**3 + 16**3) / 256) <= stats.cycles


def test_minimum_cycles_uses_the_configured_model():
    text = "loop 3\n  compute MAC_32 20x30x40\nendloop\n"
    for overrides, per in (([], ceil(24000 / 256)), (systolic("os"), 360), (systolic("ws"), 396)):
        machine = load_machine("dlp-s", overrides=overrides)
        program = assemble(text)
        needed, reason = minimum_cycles(bind(program, machine), machine)
        assert needed == 3 * per == simulate(program, machine).cycles, reason


def test_the_registries_name_exactly_what_the_configuration_accepts():
    assert list(TIMING_MODELS) == list(MATRIX_MODELS) == ["throughput", "systolic"]
    assert list(DATAFLOW_MAPPINGS) == list(DATAFLOWS)
    assert isinstance(compute_timing(load_machine("dlp-s")), ThroughputTiming)
    assert isinstance(compute_timing(load_machine("dlp-s", overrides=SYSTOLIC)), SystolicTiming)
    assert MATRIX_MODELS["systolic"].parameters == ("rows", "columns", "dataflow")


def test_a_registry_that_drifts_from_the_declaration_is_refused():
    with pytest.raises(RegistryError, match=r"missing \['systolic'\], not declared \['analog'\]"):
        implementation_per_name("matrix timing models", MATRIX_MODELS,
                                {"throughput": ThroughputTiming, "analog": SystolicTiming})


def test_a_model_declared_without_a_strategy_stops_the_import():
    # In a child process: the declaration changed before dlpsim.sim.compute registers its strategies.
    code = ("import dlpsim.machine.config as config\n"
            "config.MATRIX_MODELS['analog'] = config.MatrixModel('analog', parameters=())\n"
            "import dlpsim.sim.compute\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "RegistryError" in result.stderr, result.stderr
    assert "missing ['analog']" in result.stderr, result.stderr


def test_a_systolic_run_through_the_cli(tmp_path):
    program = tmp_path / "gemm.asm"
    program.write_text("move DRAM NRAM 4096\nsync\ncompute MAC_32 20x30x40\ncompute ADD_32 64\n")
    runner = CliRunner()
    args = ["run", str(program), "--json", "--set", "core.matrix.model=systolic"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    # 4096 B at 64 B/cycle, then the os GEMM (360) and the bias add (1)
    assert json.loads(result.stdout)["cycles"] == 64 + 360 + 1
    assert json.loads(result.stdout)["matrix_unit"] == "16x16 systolic array, os dataflow"
    result = runner.invoke(main, [*args, "--set", "core.matrix.dataflow=ws"])
    assert json.loads(result.stdout)["cycles"] == 64 + 396 + 1
    result = runner.invoke(main, ["run", str(program), "--json"])
    assert json.loads(result.stdout)["cycles"] == 64 + ceil(24000 / 256) + 1
    assert json.loads(result.stdout)["matrix_unit"] == "throughput"
    result = runner.invoke(main, ["run", str(program), "--set", "core.matrix.model=systolic",
                                  "--set", "core.matrix.rows=8", "--set", "core.matrix.dataflow=is"])
    assert result.stdout.splitlines()[0].endswith("(1 compute core, 1 GHz, 8x16 systolic array, is dataflow)")
    result = runner.invoke(main, ["run", str(program)])
    assert result.stdout.splitlines()[0].endswith("(1 compute core, 1 GHz)")
    result = runner.invoke(main, ["run", str(program), "--set", "core.matrix.model=sistolic"])
    assert result.exit_code == 2
    assert "core.matrix.model: unknown matrix model 'sistolic' (known: throughput, systolic)" in result.stderr
    result = runner.invoke(main, ["config", "--set", "core.matrix.model=systolic"])
    assert result.exit_code == 0
    assert 'model = "systolic"' in result.stdout and 'dataflow = "os"' in result.stdout


# -- the compiler ----------------------------------------------------------------------------

@pytest.mark.parametrize(("preset", "network", "layer"), [
    ("dlp-s", "textbook-fc", "fc7_8"), ("dlp-m", "lenet5", "c3"), ("dlp-s", "alexnet", "conv2"),
])
def test_compiled_matrix_work_is_in_the_shape_form(preset, network, layer):
    """Every MAC instruction the compiler writes has a shape whose M*K*N are the layer's MACs, so a
    throughput machine times it as before and a systolic machine can map it."""
    the_layer = get_network(network).layer(layer)
    compiled = compile_layer(the_layer, load_machine(preset)).compiled
    macs = 0
    for core in (CoreId(i) for i in range(compiled.machine.compute_cores)):
        for instruction, times in repetitions(compiled.program.stream(core)):
            if isinstance(instruction, Compute) and instruction.type.name == "MAC_32":
                assert instruction.shape is not None, instruction
                m, k, n = instruction.shape
                macs += times * m * k * n
    assert macs == the_layer.macs == compiled.macs


def test_a_compiled_layer_runs_on_a_systolic_machine():
    machine = load_machine("dlp-s", overrides=systolic("ws"))
    compiled = compile_layer(get_network("textbook-fc").layer("fc7_8"), machine).compiled
    stats = simulate(compiled.program, machine)
    assert stats.complete and stats.cycles >= stats.bound.cycles
    assert stats.cycles > simulate(compiled.program, load_machine("dlp-s")).cycles  # fills and drains
