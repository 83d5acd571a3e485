"""The compiler's programs address every on-chip operand, and their pipelines are free of data
hazards.

Every layer of every built-in network, on both presets, compiles to a program where each move
names its on-chip ends and each compute its A, B and C; only DRAM operands are left without an
address (a loop repeats its addresses, so addressed DRAM operands would keep the steps from
folding). The simulator's own check (dlpsim.data.check_hazards) finds no two accesses racing.
Layers are deduplicated by shape, as the search is.
"""

from __future__ import annotations

import pytest

from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import Compute, Loop, Move, accesses
from dlpsim.data import check_hazards
from dlpsim.machine import load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.workloads import NETWORKS, get_network

PRESETS = ("dlp-s", "dlp-m")


def _instructions(statements):
    for statement in statements:
        if isinstance(statement, Loop):
            yield from _instructions(statement.body)
        elif isinstance(statement, Move | Compute):
            yield statement


def _memories_without_address(program) -> set[Memory]:
    found = set()
    for section in program.sections:
        for instruction in _instructions(section.statements):
            operations = accesses(instruction)
            assert operations, f"line {instruction.location.line}: a compute naming no operands"
            found |= {access.operand.memory for access in operations if access.region is None}
    return found


@pytest.mark.parametrize("preset", PRESETS)
def test_every_compiled_layer_addresses_its_on_chip_operands_and_is_hazard_free(preset):
    machine = load_machine(preset)
    seen = set()
    for name in NETWORKS:
        for layer in get_network(name).layers:
            compilation = compile_layer(layer, machine)
            if compilation.shape in seen:
                continue
            seen.add(compilation.shape)
            program = compilation.compiled.program
            where = f"{name} {layer.label} on {preset}"
            assert _memories_without_address(program) == set(), where
            report = check_hazards(program, machine)
            assert report.hazards == (), where
            assert report.unchecked == 0, where


@pytest.mark.parametrize("preset, network, layer, staged", [
    ("dlp-m", "alexnet", "fc6", True),
    ("dlp-s", "vgg16", "conv3_1", False),
    ("dlp-s", "lstm-lm", "lstm1", False),
])
def test_header_names_the_buffers_and_the_dram_layout(preset, network, layer, staged):
    compiled = compile_layer(get_network(network).layer(layer), load_machine(preset)).compiled
    header = "\n".join(compiled.header)
    assert "NRAM:   input slabs at 0x0 and 0x" in header
    assert "WRAM:   weight buffers at 0x0 and 0x" in header
    assert "DRAM:   input at 0x0 (" in header
    assert "weights at 0x" in header and "output at 0x" in header
    assert "DRAM operands carry no address" in header
    assert ("SharedRAM: the staged" in header) == staged
    if staged:  # each core copies every input piece once, in order: the pieces share a ring
        assert "pieces in a ring of 3 slots" in header
    if network == "lstm-lm":
        assert "the state at 0x" in header
