"""The compiler's programs name every operand, and their pipelines are free of data hazards.

Every layer of every built-in network, on both presets, compiles to a program where each
move names both ends and each compute its A, B and C (zero unchecked instructions), and no
two accesses race by the machine model's rules (tests/hazard_verifier.py, until the
simulator's own checker is merged). Layers are deduplicated by shape, as the search is.
"""

from __future__ import annotations

import pytest
from hazard_verifier import Hazard, check

from dlpsim.asm import assemble
from dlpsim.machine import load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.workloads import NETWORKS, get_network

PRESETS = ("dlp-s", "dlp-m")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_compiled_layer_is_addressed_and_hazard_free(preset):
    machine = load_machine(preset)
    seen = set()
    for name in NETWORKS:
        for layer in get_network(name).layers:
            compilation = compile_layer(layer, machine)
            if compilation.shape in seen:
                continue
            seen.add(compilation.shape)
            hazards, unchecked = check(compilation.compiled.program, machine.compute_cores,
                                       machine.has_memory_core)
            assert (hazards, unchecked) == ([], 0), f"{name} {layer.label} on {preset}"


def test_the_verifier_finds_every_kind_of_hazard():
    program = assemble(""".machine dlp-m
.core 0
move DRAM[0x0] NRAM[0x0] 64
compute MAC_32 1x4x4 NRAM[0x0], WRAM[0x0] -> NRAM[0x100]
sync
move NRAM[0x100] DRAM[0x1000] 16
compute ADD_32 4 NRAM[0x100:0x110], NRAM[0x0:0x10] -> NRAM[0x100:0x110]
move WRAM NRAM[0x200] 4
.core 1
move NRAM[0x0] DRAM[0x1008] 16
""", "racy.asm")
    hazards, unchecked = check(program, 4, True)
    assert hazards == [Hazard("RAW", "NRAM", (3, 4)), Hazard("WAR", "NRAM", (6, 7)),
                       Hazard("WAW", "DRAM", (6, 10))]
    assert unchecked == 1  # the move from WRAM without an address


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
    assert ("SharedRAM: the staged" in header) == staged
    if network == "lstm-lm":
        assert "the state at 0x" in header

