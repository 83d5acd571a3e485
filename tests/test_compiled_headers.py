"""A compiled program's header says what the program does, and the program does it.

For each choice the code generator makes (weights kept in WRAM or streamed through two
buffers, an operand staged in the SharedRAM in a ring or each piece at its own place, the
two loop orders), the header's claims are read back (slab loads, tiles written back, weight
block loads and where they go, staged pieces) and checked against the instructions of the
program, counted through its loops. Where the figures follow from the shapes by hand, the
test derives them too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pytest

from dlpsim import compiler
from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import MEMORY_CORE, Compute, CoreId, Move, Sync, repetitions
from dlpsim.compiler.mapping import Buffering, LoopOrder, Mapping, Staging, Tile
from dlpsim.machine import load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.workloads import get_network

# -- what the header claims --------------------------------------------------------------------


def _per_core(text: str, noun: str, cores: list[int]) -> dict[int, int]:
    """"64 slab loads", "16 slab loads on each of cores 0-3" or "16, 16 and 12 slab loads on
    cores 0-2" -> {core: figure}."""
    cores_named = r"(?: on each of cores [\d, and-]+| on cores [\d, and-]+)?"
    match = re.search(rf"([\d, and]+?) {noun}{cores_named}(?=[;,]|$)", text)
    assert match, (noun, text)
    figures = [int(number) for number in re.findall(r"\d+", match.group(1))]
    if len(figures) == 1:
        figures *= len(cores)
    assert len(figures) == len(cores), (noun, text)
    return dict(zip(cores, figures, strict=True))


def _cores_named(text: str, every: list[int]) -> list[int]:
    """The cores a WRAM line is about: "core 2: ...", "cores 0-1: ...", "cores 0 and 2: ..."."""
    match = re.match(r"cores? ([\d, and-]+): ", text)
    if not match:
        return every
    named = match.group(1)
    if "-" in named:
        first, last = named.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(number) for number in re.findall(r"\d+", named)]


@dataclass
class Claims:
    input_buffers: tuple[int, ...]  # none when the input is kept whole
    output_buffers: tuple[int, ...]  # two in turn, or one
    slab_loads: dict[int, int]
    tiles_written: dict[int, int]
    kept_slabs: int | None = None  # the slabs of a kept input, each at its own place
    kept: dict[int, int] = field(default_factory=dict)  # core -> block loads, each into its own place
    streamed: dict[int, int] = field(default_factory=dict)  # core -> block loads into two buffers
    weight_buffers: tuple[int, int] | None = None
    staged_pieces: int | None = None
    ring_slots: int | None = None  # None: each staged piece at its own place
    wram_unused: bool = False


def claims(header: tuple[str, ...], cores: list[int]) -> Claims:
    lines = {line[:8].strip(): line[8:] for line in header if line[:8].strip().endswith(":")}
    nram = lines["NRAM:"]
    slabs, tiles = re.split(r"; (?=output tiles at|one output tile buffer at)", nram, maxsplit=1)
    kept = re.search(r"the input kept whole, its (\d+) slabs", slabs)
    inputs = () if kept else tuple(int(value, 16) for value in
                                   re.search(r"at (0x[0-9a-f]+) and (0x[0-9a-f]+)", slabs).groups())
    outputs = re.search(r"at (0x[0-9a-f]+)(?: and (0x[0-9a-f]+))?", tiles).groups()
    found = Claims(inputs, tuple(int(value, 16) for value in outputs if value),
                   _per_core(slabs, "slab loads", cores), _per_core(tiles, "tiles written back", cores),
                   int(kept.group(1)) if kept else None)
    start = next(index for index, line in enumerate(header) if line.startswith("WRAM:"))
    wram = [header[start][8:]]
    for line in header[start + 1:]:  # its continuation lines, up to the next label
        if not line.startswith(" " * 8):
            break
        wram.append(line[8:])
    for line in wram:
        if line == "unused":
            found.wram_unused = True
            continue
        named = _cores_named(line, cores)
        loads = _per_core(line.split(": ", 1)[1] if line.startswith("core") else line, "block loads", named)
        if "kept at its own place" in line:
            found.kept.update(loads)
        else:
            assert "weight buffers at" in line, line
            first, second = re.search(r"weight buffers at (0x[0-9a-f]+) and (0x[0-9a-f]+)", line).groups()
            found.weight_buffers = (int(first, 16), int(second, 16))
            found.streamed.update(loads)
    shared = next((line for line in header if line.startswith("SharedRAM:")), None)
    if shared is not None:
        found.staged_pieces = int(re.search(r"its (\d+) pieces", shared).group(1))
        ring = re.search(r"in a ring of (\d+) slots", shared)
        found.ring_slots = int(ring.group(1)) if ring else None
    return found


# -- what the program does ---------------------------------------------------------------------


def moves(program, core: CoreId) -> Counter:
    """(source memory, source offset, destination memory, destination offset, size) -> times."""
    counted: Counter = Counter()
    for instruction, times in repetitions(program.stream(core)):
        if isinstance(instruction, Move):
            counted[(instruction.source.memory, instruction.source.offset, instruction.destination.memory,
                     instruction.destination.offset, instruction.size)] += times
    return counted


def weight_places(program, core: CoreId) -> set[int]:
    """Where the weight blocks the core computes with start in WRAM: the B operand of the first
    compute of each step that reads WRAM (its MAC; for a layer with per-channel values only, the
    vector op reading the block's first set, batch norm's scale before its shift)."""
    places, first_of_step = set(), True
    for instruction, _ in repetitions(program.stream(core)):
        if isinstance(instruction, Sync):
            first_of_step = True
        if not isinstance(instruction, Compute) or instruction.operands is None:
            continue
        b = instruction.operands.b_operand
        if b is None or b.memory is not Memory.WRAM:
            continue
        if first_of_step:
            places.add(b.offset)
            first_of_step = False
    return places


def check(compiled) -> Claims:
    """Every claim of the header against the program; the claims, for further checks."""
    program = compiled.program
    cores = list(range(compiled.body.cores_used))
    said = claims(compiled.header, cores)
    for index in cores:
        core = CoreId(index)
        counted = moves(program, core)
        if said.kept_slabs is None:
            assert sum(times for (_, _, to, offset, _), times in counted.items()
                       if to is Memory.NRAM and offset in said.input_buffers) == said.slab_loads[index]
        else:  # each slab loaded once, at a place of its own below the output buffers
            loads = [(offset, times) for (source, _, to, offset, _), times in counted.items()
                     if to is Memory.NRAM and source is not Memory.NRAM]
            assert len(loads) == said.slab_loads[index] <= said.kept_slabs
            assert {times for _, times in loads} == {1} and len({offset for offset, _ in loads}) == len(loads)
            assert all(offset < min(said.output_buffers) for offset, _ in loads)
        assert sum(times for (source, offset, to, _, _), times in counted.items()
                   if source is Memory.NRAM and offset in said.output_buffers and to is Memory.DRAM) \
            == said.tiles_written[index]
        into_wram = {key: times for key, times in counted.items() if key[2] is Memory.WRAM}
        places = weight_places(program, core)
        loads = {place: sum(times for (_, _, _, offset, _), times in into_wram.items() if offset == place)
                 for place in places}
        if said.wram_unused:
            assert not into_wram and not places
        elif index in said.kept:  # each block at a place of its own, loaded there once
            assert len(places) == said.kept[index]
            assert set(loads.values()) == {1}
        else:
            assert set(places) == set(said.weight_buffers)  # two buffers, both used
            assert sum(loads.values()) == said.streamed[index]
            block = said.weight_buffers[1] - said.weight_buffers[0]
            for (_, _, _, offset, size), _ in into_wram.items():  # every chunk inside one buffer
                assert any(place <= offset and offset + size <= place + block for place in places)
    staging = moves(program, MEMORY_CORE) if compiled.mapping.staged else Counter()
    if said.staged_pieces is None:
        assert not staging
    else:
        assert sum(staging.values()) == said.staged_pieces
        assert all(source is Memory.DRAM and to is Memory.SHARED for source, _, to, _, _ in staging)
        offsets = {offset for _, _, _, offset, _ in staging}
        assert len(offsets) == (said.ring_slots or said.staged_pieces)
    return said


# -- one test per choice -------------------------------------------------------------------------


def test_kept_weights_fc7_9_says_four_blocks_loaded_once():
    # fc7_9 (1024x256 x 256x128) on dlp-s: the 128 KB of weights fit the 256 KB WRAM, so its
    # 128 / 32 = 4 blocks of 32 output channels (256 x 32 x 4 B = 32 KB each) are loaded once and
    # kept; 1024 / 16 = 64 input slabs of 16 rows, each with 4 output tiles: 256 written back.
    compiled = compile_layer(get_network("textbook-fc").layer("fc7_9"), load_machine("dlp-s")).compiled
    assert compiled.mapping.tile == Tile(1, 32, 256, 16, 1)
    said = check(compiled)
    assert said.kept == {0: 4} and not said.streamed
    assert said.slab_loads == {0: 64} and said.tiles_written == {0: 256}
    assert "two weight buffers" not in compiled.text and "streams into the free one" not in compiled.text
    wram_bytes = sum(size * times for (_, _, to, _, size), times in moves(compiled.program, CoreId(0)).items()
                     if to is Memory.WRAM)
    assert wram_bytes == 256 * 128 * 4  # every weight once


def test_streamed_weights_alternate_two_buffers():
    # alexnet fc8 (4096 -> 1000, 16 MB of weights) cannot keep its weights in a 256 KB WRAM
    compiled = compile_layer(get_network("alexnet").layer("fc8"), load_machine("dlp-s")).compiled
    said = check(compiled)
    assert said.streamed and not said.kept
    tile = compiled.mapping.tile
    blocks = -(-1000 // tile.out_channels) * -(-4096 // tile.in_channels)
    assert said.streamed[0] >= blocks  # every block at least once (more if reloaded per slab)


@pytest.mark.parametrize("order", list(LoopOrder))
@pytest.mark.parametrize("staged", [None, Staging.WEIGHTS, Staging.INPUT])
def test_every_staging_and_order_is_described_as_built(order, staged):
    # textbook fc7_12 (1024x256 x 256x2048) on dlp-m with a tile of 32 rows x 16 output
    # channels: 32 slabs of 32 KB and 128 weight blocks of 16 KB, staged or not
    machine = load_machine("dlp-m")
    layer = get_network("textbook-fc").layer("fc7_12")
    problem = compiler.lower(layer)
    mapping = Mapping(problem, Tile(1, 16, 256, 32, 1), order, machine.compute_cores, 0, staged)
    compiled = compiler.finish(layer, machine, problem, compiler.build(problem, mapping, machine))
    said = check(compiled)
    if staged is Staging.INPUT:
        assert said.staged_pieces == 1024 // 32
    elif staged is Staging.WEIGHTS:
        assert said.staged_pieces == 2048 // 16
    # every slab's 32 rows x 2048 outputs are written once, as 32 x 16 tiles
    assert sum(said.tiles_written.values()) == 32 * (2048 // 16)


def test_a_staging_ring_and_pieces_at_their_own_places_are_told_apart():
    # resnet50 res2a_branch2a on dlp-m stages its input, each core copying every piece once in
    # order: a ring of 3 slots; fc7_12 stages its input too, but each core passes over it again
    # for each of its weight blocks, so every piece keeps its own place
    machine = load_machine("dlp-m")
    ring = compile_layer(get_network("resnet50").layer("res2a_branch2a"), machine).compiled
    assert ring.mapping.staged is Staging.INPUT and check(ring).ring_slots == 3
    own = compile_layer(get_network("textbook-fc").layer("fc7_12"), machine).compiled
    assert own.mapping.staged is Staging.INPUT
    said = check(own)
    assert said.ring_slots is None and said.staged_pieces == 1024 // 32


def test_no_weights_say_wram_unused():
    compiled = compile_layer(get_network("lenet5").layer("s2"), load_machine("dlp-s")).compiled
    assert check(compiled).wram_unused


@pytest.mark.parametrize("preset", ["dlp-s", "dlp-m"])
@pytest.mark.parametrize("network, layer", [("lenet5", "c1"), ("lenet5", "c3"), ("alexnet", "conv2"),
                                            ("resnet50", "bn_conv1"), ("lstm-lm", "lstm1")])
def test_the_header_matches_the_program_on_more_layers(preset, network, layer):
    check(compile_layer(get_network(network).layer(layer), load_machine(preset)).compiled)


def conv3_with_its_input_kept():
    """alexnet-single conv3 on dlp-s, its whole input kept in NRAM beside one output buffer: its
    input, 192 x 13 x 13 x 4 B = 129,792 B, fits the 128 KB (131,072 B) NRAM with 1,280 B to spare,
    room for one output tile of 12 output channels x 2 rows x 13 columns (1,248 B), not two."""
    machine = load_machine("dlp-s")
    layer = get_network("alexnet-single").layer("conv3")
    problem = compiler.lower(layer)
    mapping = Mapping(problem, Tile(1, 12, 192, 2, 13), LoopOrder.WEIGHTS_OUTER, 1, 0, None,
                      Buffering(input_kept=True, output_buffers=1))
    return compiler.finish(layer, machine, problem, compiler.build(problem, mapping, machine))


def test_a_kept_input_is_loaded_once_beside_one_output_buffer():
    # conv3_with_its_input_kept: the input is one slab loaded once; each of the 384 / 12 = 32 weight
    # blocks (all 192 input channels and the bias) streams in once and meets ceil(13 / 2) = 7
    # spatial tiles: 224 tiles written back from the one buffer, which lies after the input
    compiled = conv3_with_its_input_kept()
    said = check(compiled)
    assert said.kept_slabs == 1 and said.slab_loads == {0: 1}
    assert said.output_buffers == (192 * 13 * 13 * 4,)
    assert said.tiles_written == {0: 32 * 7} and said.streamed == {0: 32}
    # every tensor once: the input, the weights with their biases, the output
    assert compiled.dram_bytes == 192 * 13 * 13 * 4 + 384 * (192 * 9 + 1) * 4 + 384 * 13 * 13 * 4
    assert "in a step of its own" in compiled.text


@pytest.mark.parametrize("order", list(LoopOrder))
def test_a_kept_input_with_split_channels_and_two_output_buffers_is_described_as_built(order):
    # alexnet fc6 (9216 -> 4096) on dlp-m's four cores, the input kept in chunks of 1,152 input
    # channels: 8 slabs, each loaded once by each core that reads it
    machine = load_machine("dlp-m")
    layer = get_network("alexnet").layer("fc6")
    problem = compiler.lower(layer)
    mapping = Mapping(problem, Tile(1, 16, 1152, 1, 1), order, machine.compute_cores, 0, None,
                      Buffering(input_kept=True))
    compiled = compiler.finish(layer, machine, problem, compiler.build(problem, mapping, machine))
    said = check(compiled)
    assert said.kept_slabs == 9216 // 1152 and len(said.output_buffers) == 2
    assert all(loads == 8 for loads in said.slab_loads.values())
    assert sum(said.tiles_written.values()) == 4096 // 16
