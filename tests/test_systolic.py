"""The shape-aware compute form (``compute MAC_32 MxKxN``) and the systolic matrix unit."""

from __future__ import annotations

import pytest

from dlpsim.asm import assemble
from dlpsim.asm.listing import format_listing
from dlpsim.asm.opcodes import COMPUTE_TYPES
from dlpsim.asm.program import Compute, CoreId
from dlpsim.errors import ConfigError, ConfigErrors, ProgramError
from dlpsim.machine import load_machine
from dlpsim.machine.loader import effective_toml

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
