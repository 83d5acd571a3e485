"""Compiled layers compute the right thing: `dlpsim net verify` and `dlpsim compile --verify`
execute each compiled layer on random data and compare it with numpy's reference.

CI verifies the small networks on both presets; benchmarks/verify.py the large ones. A program
changed after compiling (two DRAM offsets swapped) fails, naming the element; a network with a
layer the compiler cannot emit executably is refused before any work. (A program refused for a
hazard is refused by --functional too: tests/test_functional.py,
test_a_hazard_is_refused_even_with_allow_hazards.)
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from dlpsim.asm import assemble
from dlpsim.cli import main
from dlpsim.compiler.packing import lstm_columns
from dlpsim.machine import load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.run.verify import EPSILON, random_data, verify_layer
from dlpsim.workloads import get_network
from dlpsim.workloads.layers import (
    Activation,
    Add,
    BatchNorm,
    Conv2d,
    Embedding,
    FullyConnected,
    LayerNorm,
    LocalResponseNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    Softmax,
)

PRESETS = ("dlp-s", "dlp-m")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("network", ["lenet5", "mlp", "lstm-lm"])
def test_net_verify_passes_the_small_networks(network, preset):
    result = invoke("net", "verify", network, "--preset", preset)
    assert result.exit_code == 0, result.output
    layers = len(get_network(network).layers)
    assert f"verified: {layers} layers within the tolerance" in result.output
    assert "eps = 2^-23" in result.output  # the tolerance is stated


def test_net_verify_with_a_batch():
    result = invoke("net", "verify", "lenet5", "--batch", "2", "--preset", "dlp-m")
    assert result.exit_code == 0, result.output
    assert "batch 2" in result.output


def test_compile_verify_one_layer(tmp_path):
    program = tmp_path / "c3.asm"
    result = invoke("compile", "lenet5", "--layer", "c3", "--verify", "-o", str(program))
    assert result.exit_code == 0, result.output
    assert re.search(r"^c3 +conv +1,600 +151 ", result.output, re.MULTILINE), result.output
    assert re.search(r"window \d+x14x6 kernel 5x5", program.read_text())  # the program it verified


def test_a_layer_without_an_executable_form_is_refused_up_front():
    """Local response normalization has none yet (as element-wise ONNX operators and recurrent
    sequences): a network with one is refused before any work, naming it."""
    from dlpsim.errors import UserError
    from dlpsim.run.verify import refuse_unverifiable
    from dlpsim.workloads.networks import NetworkBuilder

    builder = NetworkBuilder("lrn-net", "a convolution and an LRN", {"x": (3, 8, 8)})
    builder.conv("conv", 4, 3)
    builder.add_layer(LocalResponseNorm(name="norm", input_shape=builder.shape("conv"), size=3), ["conv"])
    with pytest.raises(UserError) as raised:
        refuse_unverifiable(builder.build())
    message = str(raised.value)
    assert "lrn-net: error: 1 layer cannot be verified, so none is" in message
    assert "norm: " in message and "(LocalResponseNorm) has no executable form" in message
    assert "conv:" not in message


@pytest.mark.parametrize("network", ["bert-base", "gpt2", "gpt2-decode"])
def test_the_transformers_verify_with_eight_tokens(network):
    """Softmax (scaled; gpt2's masked) and layer norm are executable: every layer verifies
    (benchmarks/verify.py times them on both presets; the README gives ViT-B/16's time)."""
    result = invoke("net", "verify", network, "--seq", "8")
    assert result.exit_code == 0, result.output
    assert re.search(r"^verified: \d+ layers within the tolerance$", result.output, re.MULTILINE)
    for kind in ("softmax", "layernorm"):  # each row-work layer executed and compared, not skipped
        assert re.search(rf"^\S+ +{kind} +[\d,]+ +\d+ .* ok$", result.output, re.MULTILINE), kind


# -- layers whose every edge case goes through the window form, the packers and the reference ------

TRICKY = [
    # strided, padded on its edges, dilated, grouped: windows that stick out of their slabs
    Conv2d(name="grouped", input_shape=(8, 13, 11), out_channels=12, kernel=3, stride=2, padding=1, groups=2),
    Conv2d(name="dilated", input_shape=(6, 12, 12), out_channels=5, kernel=(3, 2), dilation=2, padding=(2, 1),
           padding_end=(1, 0)),
    Conv2d(name="depthwise", input_shape=(16, 9, 9), out_channels=16, kernel=3, groups=16, padding=1,
           bias=False),
    Pool(name="ceil_max", input_shape=(5, 10, 10), mode="max", kernel=3, stride=2, ceil_mode=True),
    Pool(name="padded_avg", input_shape=(4, 9, 9), mode="avg", kernel=3, stride=2, padding=1),
    Activation(name="relu6", input_shape=(3, 7, 7), function="relu6"),
    Activation(name="leaky", input_shape=(100,), function="leaky_relu"),
    Activation(name="clip", input_shape=(4, 5), function="clip", bounds=(-0.25, None)),
    Activation(name="sigmoid", input_shape=(2, 6, 6), function="sigmoid"),
    Activation(name="gelu", input_shape=(3, 64), function="gelu"),
    BatchNorm(name="bn_map", input_shape=(6, 5, 5)),
    BatchNorm(name="bn_rows", input_shape=(7, 9)),
    Add(name="add3", input_shapes=((4, 6, 6),) * 3),
    FullyConnected(name="gemm", input_shape=(9, 70), out_features=33),
    LSTMCell(name="lstm", input_shape=(20,), hidden_size=24),
    # matrix products of two activations: heads side by side, B transposed, B shared by the products
    MatMul(name="heads", input_shapes=((2, 7, 12), (2, 5, 12)), heads=3, transpose_b=True),
    MatMul(name="shared_b", input_shapes=((3, 5, 8), (4, 6)), heads=2),
    Embedding(name="words", input_shape=(9,), vocabulary=50, dim=12),
    PositionEmbedding(name="positions", input_shape=(6, 10), positions=20, first_position=3),
    # row work: a tile holds whole rows (runs of a softmax, a layer norm's features)
    Softmax(name="softmax", input_shape=(5, 24)),
    Softmax(name="softmax_heads", input_shape=(6, 4 * 9), length=9, scaled=True, scale=0.3),
    Softmax(name="softmax_masked", input_shape=(7, 3 * 7), length=7, scaled=True, scale=0.5, masked=True),
    Softmax(name="softmax_decode", input_shape=(1, 2 * 11), length=11, masked=True),
    Softmax(name="softmax_rank3", input_shape=(2, 3, 10), length=5, masked=True),
    LayerNorm(name="layernorm", input_shape=(9, 40)),
    LayerNorm(name="layernorm_rank3", input_shape=(2, 3, 16), epsilon=1e-3),
]

# Memories small enough that the tiles split the input channels (partial sums accumulate, the bias
# comes with the first chunk) and the cores share out few tiles.
SMALL = ("core.nram.capacity=4KB", "core.wram.capacity=4KB")


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("small", [False, True], ids=["presets", "small-memories"])
@pytest.mark.parametrize("layer", TRICKY, ids=[layer.label for layer in TRICKY])
def test_tricky_layers_verify(layer, preset, small):
    machine = load_machine(preset, overrides=SMALL if small else ())
    compiled = compile_layer(layer, machine, 2 if small else 1).compiled
    check = verify_layer(compiled, seed=7)
    assert check.passed, check.mismatch.describe(layer.label, 2)
    assert check.executed and check.elements > 0


def test_small_memories_do_split_the_input_channels():
    machine = load_machine("dlp-s", overrides=SMALL)
    compiled = compile_layer(TRICKY[0], machine).compiled
    assert compiled.mapping.tile.in_channels < compiled.mapping.problem.in_channels
    assert "+>" in compiled.text  # later chunks accumulate


# -- a wrong program is caught ---------------------------------------------------------------------

def _swap_two_stores(text: str) -> tuple[str, int, int]:
    """The program with the DRAM addresses of two write-backs of the same size swapped."""
    stores = re.findall(r"^ *move NRAM\[0x[0-9a-f]+\] DRAM\[(0x[0-9a-f]+)\] (\d+)$", text, re.MULTILINE)
    by_size: dict[str, list[str]] = {}
    for address, size in stores:
        by_size.setdefault(size, []).append(address)
    first, second = next(addresses[:2] for addresses in by_size.values() if len(addresses) >= 2)
    swapped = text.replace(f"DRAM[{first}]", "DRAM[@]").replace(f"DRAM[{second}]", f"DRAM[{first}]")
    return swapped.replace("DRAM[@]", f"DRAM[{second}]"), int(first, 16), int(second, 16)


def test_swapping_two_dram_offsets_fails_naming_the_element():
    layer = get_network("lenet5").layer("c1")
    compiled = compile_layer(layer, load_machine("dlp-s")).compiled
    assert verify_layer(compiled).passed
    text, first, second = _swap_two_stores(compiled.text)
    assert text != compiled.text
    check = verify_layer(compiled, program=assemble(text, compiled.file))
    assert not check.passed
    mismatch = check.mismatch
    message = mismatch.describe("c1", 1)
    assert re.fullmatch(r"c1: output\[\d+, \d+, \d+\] is \S+, expected \S+ \(error \S+, tolerance \S+\)",
                        message)
    assert abs(mismatch.got - mismatch.expected) > mismatch.tolerance


def test_the_cli_names_the_first_mismatching_element(monkeypatch):
    """`net verify` exits 1 with the layer, the element, what it got and what it expected."""
    from dlpsim.run import verify

    original = verify.evaluate

    def expecting_more(layer, inputs, parameters):  # a reference that disagrees at fc3's element 3
        result = np.array(original(layer, inputs, parameters))
        if layer.label == "fc3":
            result[3] += 1.0
        return result

    monkeypatch.setattr(verify, "evaluate", expecting_more)
    result = invoke("net", "verify", "mlp")
    assert result.exit_code == 1, result.output
    assert re.search(r"^MISMATCH: fc3: output\[3\] is \S+, expected \S+ \(error 1,", result.output,
                     re.MULTILINE)
    assert re.search(r"^fc3 .* MISMATCH$", result.output, re.MULTILINE)


# -- the pieces --------------------------------------------------------------------------------------

def test_random_data_depend_on_the_seed_and_the_place_only():
    layer = TRICKY[0]
    first, params = random_data(layer, 3, 5, 2)
    again, params_again = random_data(layer, 3, 5, 2)
    other, _ = random_data(layer, 3, 6, 2)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert np.array_equal(params["weight"], params_again["weight"])
    assert not np.array_equal(first[0][0], other[0][0])
    assert first[0][0].dtype == np.float32 and first[0][0].min() >= -1 and first[0][0].max() < 1


def test_lstm_columns_put_each_tiles_units_gate_by_gate():
    class Tile:  # only its output channels matter
        def __init__(self, outs):
            self.outs = outs

    # hidden 3: tiles of 8 and 4 output channels (units 0-1 and 2)
    order = lstm_columns(3, (Tile((0, 8)), Tile((8, 12))))
    # gate rows i = 0..2, f = 3..5, g = 6..8, o = 9..11
    assert order.tolist() == [0, 1, 3, 4, 6, 7, 9, 10, 2, 5, 8, 11]


def test_the_tolerance_is_float32s_epsilon():
    assert EPSILON == 2.0**-23


@pytest.mark.parametrize("preset", PRESETS)
def test_the_header_states_the_layout_the_packers_use(preset):
    """Offsets, shapes and layouts of the input, weights, bias and output, from the packers' records."""
    compiled = compile_layer(get_network("alexnet").layer("conv2"), load_machine(preset)).compiled
    header = "\n".join(compiled.header)
    tensors = compiled.body.tensors
    assert (f"input at 0x0 (96x27x27, seen as G 2 x IC 48 x H 27 x W 27): {len(tensors.slabs)} slabs "
            f"[0x0, {tensors.input_end:#x})") in header
    assert "rows x columns x channels (HWC, group g's channel c at g*IC + c)" in header
    assert (f"weights at {tensors.weights:#x} (G 2 x N 128 x IC 48 x 5x5): {len(tensors.blocks)} blocks "
            f"[{tensors.weights:#x}, {tensors.output:#x})") in header
    assert "each per group (KH*KW*IC) x N row-major, row (i*KW + j)*IC + c" in header
    assert "the bias: G x N values per set after the weights of each block of the first input-channel chunk" \
        in header
    assert (f"output at {tensors.output:#x} (256x27x27, seen as G 2 x N 128 x OH 27 x OW 27): "
            f"{len(tensors.tiles)} tiles [{tensors.output:#x}, {tensors.end:#x})") in header
    assert "each positions x groups x N (rows x columns x channels)" in header
    assert [slab.offset for slab in tensors.slabs] == sorted(slab.offset for slab in tensors.slabs)
    assert sum(slab.bytes for slab in tensors.slabs) == tensors.input_end
    assert sum(block.bytes for block in tensors.blocks) == tensors.output - tensors.weights
    assert sum(tile.bytes for tile in tensors.tiles) == tensors.end - tensors.output


def test_the_readmes_example_is_what_net_verify_prints():
    """README's "Compiled layers" example: every line it shows ("..." for those left out), in order."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    shown = re.search(r"```text\n\$ dlpsim net verify lenet5\n(.*?)```", readme, re.S)[1].splitlines()
    printed = invoke("net", "verify", "lenet5").output.splitlines()
    at = 0
    for line in shown:
        if line == "...":
            continue
        at = printed.index(line, at) + 1  # ValueError: not printed, or not in this order
    assert shown[-1] == printed[-1]


@pytest.mark.parametrize("preset", PRESETS)
def test_a_position_embedding_split_into_row_tiles_adds_each_tiles_rows(preset):
    """Memories so small that each tile holds half the tokens: B is its rows' sets of values."""
    layer = PositionEmbedding(name="positions", input_shape=(64, 48), positions=100, first_position=7)
    machine = load_machine(preset, overrides=("core.nram.capacity=512B", "core.wram.capacity=1KB"))
    compiled = compile_layer(layer, machine, 2).compiled
    assert compiled.mapping.tile.rows < 64
    assert verify_layer(compiled).passed


def test_an_lstm_whose_four_gates_do_not_fit_is_refused_with_the_figure():
    """A tile holds whole hidden units, so the smallest is 4 gate columns: 2 x 4 x (1 weight + 1
    bias) x 4 B = 64 B of WRAM."""
    result = invoke("compile", "lstm-lm", "--layer", "lstm1", "--set", "core.wram.capacity=48B")
    assert result.exit_code == 2
    assert "needs 64 B of WRAM with double buffering, 16 B more than the 48 B WRAM" in result.output


def _kept(layer, tile):
    """The layer compiled with its whole input kept in NRAM (an energy objective's buffering)."""
    from dlpsim import compiler
    from dlpsim.compiler.mapping import Buffering, LoopOrder, Mapping

    machine = load_machine("dlp-m")
    problem = compiler.lower(layer)
    mapping = Mapping(problem, tile, LoopOrder.WEIGHTS_OUTER, machine.compute_cores, 0, None,
                      Buffering(input_kept=True))
    return compiler.finish(layer, machine, problem, compiler.build(problem, mapping, machine))


def test_a_kept_input_is_read_at_each_tiles_span():
    """Whole rows of a kept map are one range of it: each tile's MAC reads its span there."""
    from dlpsim.compiler.mapping import Tile

    layer = Conv2d(name="kept", input_shape=(6, 12, 10), out_channels=8, kernel=3, stride=2, padding=1)
    assert verify_layer(_kept(layer, Tile(1, 4, 3, 2, 5))).passed  # all 5 output columns, 2 rows


def test_a_kept_input_tiled_in_columns_is_refused():
    from dlpsim.compiler.mapping import Tile
    from dlpsim.errors import UserError

    layer = Conv2d(name="kept", input_shape=(6, 12, 10), out_channels=8, kernel=3, stride=2, padding=1)
    with pytest.raises(UserError, match="keeps the whole input and tiles its columns"):
        verify_layer(_kept(layer, Tile(1, 4, 3, 2, 2)))


def test_a_layer_norm_whose_one_row_does_not_fit_is_refused_with_the_figure():
    """A tile holds whole rows: BERT's smallest layer-norm tile is one token's 768 features. With
    double buffering NRAM holds two slabs of them, 2 x 768 x 4 = 6144 B, and two output tiles each
    with its 2 row values after it, 2 x (768 + 2) x 4 = 6160 B: 12304 B, 4112 B over 8 KB."""
    result = invoke("compile", "bert-base", "--seq", "8", "--layer", "layer0.norm1",
                    "--set", "core.nram.capacity=8KB")
    assert result.exit_code == 2
    assert ("even the smallest tile (one row of 768 elements and its 2 row values) needs 12304 B of NRAM "
            "with double buffering, 4112 B more than the 8 KB NRAM of dlp-s") in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("preset", PRESETS)
def test_row_work_tiles_hold_whole_rows(preset):
    """Small memories split the rows over tiles, never a row: each rows clause's L is the row."""
    machine = load_machine(preset, overrides=("core.nram.capacity=1KB", "core.wram.capacity=1KB"))
    for layer, length in ((Softmax(name="softmax", input_shape=(6, 4 * 9), length=9, masked=True), 9),
                          (LayerNorm(name="layernorm", input_shape=(12, 20)), 20)):
        compiled = compile_layer(layer, machine).compiled
        clauses = re.findall(r" rows (\d+)x(\d+)", compiled.text)
        assert clauses and {int(each) for _, each in clauses} == {length}
        all_rows = layer.input_shape[0] * layer.input_shape[1] // length  # 24 runs; 12 tokens
        assert max(int(rows) for rows, _ in clauses) < all_rows  # split over several tiles
        assert verify_layer(compiled, seed=3).passed
