"""The transformers, GPT-2 decoding, batches and torchvision's ResNets: every count by hand.

Parameter totals are the published ones (BERT-base 109,482,240; GPT-2 small 124,439,808;
ViT-B/16 86,567,656), each written out as the sum of its parts; MACs count every matrix
product, attention's Q x K^T and A x V included.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.workloads import NETWORKS, Conv2d, get_network, load_network

HIDDEN, HEADS, HEAD_SIZE, FFN, LAYERS = 768, 12, 64, 3072, 12

# One encoder or decoder layer's parameters: Q, K, V and output projections with biases,
# two layer norms (scale and shift), the feed-forward block's two layers with biases.
LAYER_PARAMS = (4 * (HIDDEN * HIDDEN + HIDDEN) + 2 * (2 * HIDDEN)
                + (HIDDEN * FFN + FFN) + (FFN * HIDDEN + HIDDEN))


def layer_macs(queries: int, keys: int) -> int:
    """One layer's MACs for ``queries`` tokens attending to ``keys`` tokens."""
    projections = 4 * queries * HIDDEN * HIDDEN  # Q, K, V (of the new tokens) and the output
    attention = HEADS * queries * HEAD_SIZE * keys + HEADS * queries * keys * HEAD_SIZE  # QK^T, AV
    feed_forward = 2 * queries * HIDDEN * FFN
    return projections + attention + feed_forward


def test_layer_params_are_the_familiar_7_087_872():
    assert LAYER_PARAMS == 7_087_872


def test_bert_base_parameters_and_macs():
    bert = get_network("bert-base")
    embeddings = 30_522 * HIDDEN + 512 * HIDDEN + 2 * HIDDEN + 2 * HIDDEN  # words, positions, types, norm
    pooler = HIDDEN * HIDDEN + HIDDEN
    assert bert.params == embeddings + LAYERS * LAYER_PARAMS + pooler == 109_482_240
    seq = 128
    assert bert.macs == LAYERS * layer_macs(seq, seq) + HIDDEN * HIDDEN
    assert bert.shape("layer0.attention.scores") == (seq, HEADS * seq)
    assert bert.shape("layer11.norm2") == (seq, HIDDEN)
    assert bert.shape("pooler.tanh") == (1, HIDDEN)


def test_gpt2_prefill_parameters_and_macs_with_the_tied_head():
    gpt2 = get_network("gpt2", seq=64)
    embeddings = 50_257 * HIDDEN + 1024 * HIDDEN  # token and position tables
    final_norm = 2 * HIDDEN
    assert gpt2.params == embeddings + LAYERS * LAYER_PARAMS + final_norm == 124_439_808
    lm_head = 64 * HIDDEN * 50_257  # every position's logits, the matrix read from wte
    assert gpt2.macs == LAYERS * layer_macs(64, 64) + lm_head
    assert gpt2.layer("lm_head").params == 0
    assert gpt2.layer("lm_head").weight_bytes() == HIDDEN * 50_257 * 4
    assert gpt2.layer("h0.attention.softmax").masked


def test_gpt2_decode_reads_the_kv_cache():
    seq = 300
    decode = get_network("gpt2-decode", seq=seq)
    assert decode.params == 124_439_808
    # the new token attends to the seq cached tokens and itself
    assert decode.macs == LAYERS * layer_macs(1, seq + 1) + HIDDEN * 50_257
    scores = decode.layer("h5.attention.scores")
    assert scores.input_shapes == ((1, HIDDEN), (seq + 1, HIDDEN))
    assert scores.input_bytes() == (1 + seq + 1) * HIDDEN * 4  # the query, then every key
    assert decode.layer("h5.attention.context").input_bytes() == (HEADS * (seq + 1) + (seq + 1) * HIDDEN) * 4
    assert dict(decode.inputs)["h11.past_value"] == (seq, HIDDEN)
    assert decode.layer("wpe").first_position == seq


def test_vit_b16_is_torchvisions():
    vit = get_network("vit-b16")
    patch_embedding = HIDDEN * 3 * 16 * 16 + HIDDEN
    class_token, positions = HIDDEN, 197 * HIDDEN
    final_norm, head = 2 * HIDDEN, HIDDEN * 1000 + 1000
    assert (vit.params == patch_embedding + class_token + positions + LAYERS * LAYER_PARAMS + final_norm
            + head == 86_567_656)
    tokens = 14 * 14 + 1
    assert vit.macs == 14 * 14 * HIDDEN * 3 * 16 * 16 + LAYERS * layer_macs(tokens, tokens) + HIDDEN * 1000
    assert [vit.shape(name) for name in ("conv_proj", "patches", "tokens", "class_token")] == [
        (HIDDEN, 14, 14), (HIDDEN, 196), (196, HIDDEN), (197, HIDDEN)]
    assert vit.shape("head") == (1, 1000)


def test_seq_changes_the_tokens_and_is_refused_where_it_does_not_apply():
    assert get_network("bert-base", seq=512).shape("embeddings.norm") == (512, HIDDEN)
    with pytest.raises(Exception, match=r"--seq 513: bert-base takes 1 to 512 tokens"):
        get_network("bert-base", seq=513)
    with pytest.raises(Exception, match=r"--seq 1024: gpt2-decode takes 1 to 1023"):
        get_network("gpt2-decode", seq=1024)
    with pytest.raises(Exception, match=r"--seq 64: vgg16 takes no sequence length"):
        get_network("vgg16", seq=64)


def test_batch_multiplies_the_work_not_the_parameters():
    vgg = get_network("vgg16")
    batched = load_network("vgg16", batch=8)
    assert batched.batch == 8
    assert batched.macs == 8 * vgg.macs == 8 * 15_470_264_320
    assert batched.params == vgg.params == 138_357_544
    with pytest.raises(Exception, match="--batch 0"):
        load_network("vgg16", batch=0)
    with pytest.raises(Exception, match="--batch 257: the batch must be a whole number from 1 to 256"):
        load_network("vgg16", batch=257)


# -- ResNets as torchvision builds them -----------------------------------------------------


def bottleneck_stage_macs(size: int, in_channels: int, width: int, blocks: int, stride: int) -> int:
    """MACs of a stage of bottlenecks with torchvision's stride on the 3x3: the first block's
    1x1 runs at the input ``size``, everything after its 3x3 at ``size / stride``; the first
    block also has the 1x1 projection shortcut."""
    out = size // stride
    out_channels = 4 * width
    first = (size * size * in_channels * width + out * out * width * width * 9
             + out * out * width * out_channels + out * out * in_channels * out_channels)
    rest = out * out * (out_channels * width + width * width * 9 + width * out_channels)
    return first + (blocks - 1) * rest


def test_resnet50_follows_torchvision():
    net = get_network("resnet50")
    stem = 112 * 112 * 64 * 3 * 7 * 7
    stages = (bottleneck_stage_macs(56, 64, 64, 3, 1) + bottleneck_stage_macs(56, 256, 128, 4, 2)
              + bottleneck_stage_macs(28, 512, 256, 6, 2) + bottleneck_stage_macs(14, 1024, 512, 3, 2))
    assert net.macs == stem + stages + 2048 * 1000 == 4_089_184_256
    assert net.params == 25_557_032
    # layer2's first block: the 1x1 keeps 56x56, the 3x3 halves it (the course's table)
    assert net.shape("res3a_branch2a") == (128, 56, 56) and net.shape("res3a_branch2b") == (128, 28, 28)


def _torchinfo_rows() -> list[tuple[str, str, tuple[int, ...], int]]:
    text = (Path(__file__).parent / "data" / "resnet152-torchinfo.md").read_text()
    rows = []
    for match in re.finditer(r"^\| (\d)-\d+ \| (\w+) \| 1, ([\d, ]+) \| ([\d,]+|--) \|$", text, re.M):
        depth, kind, shape, params = match.groups()
        rows.append((depth, kind, tuple(int(size) for size in shape.split(", ")),
                     0 if params == "--" else int(params.replace(",", ""))))
    return rows


def test_resnet152_matches_the_courses_torchinfo_table_layer_by_layer():
    net = get_network("resnet152")
    rows = _torchinfo_rows()
    assert len(rows) == 514  # every row of the table, containers included
    # The leaves as torchinfo lists them: conv, batch norm, ReLU (after the residual add at a
    # block's end), the projection shortcut (a depth-3 Sequential: its 1x1 conv and batch norm).
    ours = []
    nodes = list(net.nodes)
    for index, node in enumerate(nodes):
        layer, name = node.layer, node.name
        if name.endswith("_branch1") and layer.kind == "conv":
            shortcut_bn = nodes[index + 1].layer
            ours.append(("Sequential", net.shape(nodes[index + 1].name), layer.params + shortcut_bn.params))
        elif "branch1" in name or layer.kind == "add":
            continue
        else:
            kind = {"conv": "Conv2d", "bn": "BatchNorm2d", "relu": "ReLU", "maxpool": "MaxPool2d",
                    "avgpool": "AdaptiveAvgPool2d", "fc": "Linear"}[layer.kind]
            shape = layer.output_shape if kind != "AdaptiveAvgPool2d" else (*layer.output_shape,)
            ours.append((kind, shape, layer.params))
    leaves = [(kind, shape, params) for depth, kind, shape, params in rows
              if kind not in ("Bottleneck",) and not (kind == "Sequential" and depth == "1")]
    assert ours == leaves
    # every block's and every stage's output
    block_outputs = [net.shape(node.name) for node in nodes if node.name.startswith("res")
                     and node.name.endswith("_relu") and "branch" not in node.name]
    assert block_outputs == [shape for _, kind, shape, _ in rows if kind == "Bottleneck"]
    stage_outputs = [shape for depth, kind, shape, _ in rows if kind == "Sequential" and depth == "1"]
    assert stage_outputs == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
    assert [block_outputs[index] for index in (2, 10, 46, 49)] == stage_outputs
    assert net.params == sum(params for _, _, params in leaves) == 60_192_808


def test_the_paper_placement_keeps_its_figures():
    paper = get_network("resnet50-v1")
    conv = paper.layer("res3a_branch2a")
    assert isinstance(conv, Conv2d) and conv.stride == (2, 2) and conv.output_shape == (128, 28, 28)
    assert paper.params == 25_557_032
    assert get_network("resnet152-v1").params == 60_192_808


# -- the command line ------------------------------------------------------------------------


def test_net_list_says_which_resnet_is_which():
    listing = CliRunner().invoke(main, ["net", "--list"]).output
    assert re.search(r"^resnet50 +ResNet-50 as torchvision builds it \(stride on the 3x3\)", listing, re.M)
    assert re.search(r"^resnet50-v1 +ResNet-50 as the paper builds it \(stride on the first 1x1\)", listing,
                     re.M)
    for name in ("bert-base", "gpt2", "gpt2-decode", "vit-b16"):
        assert re.search(rf"^{name} ", listing, re.M)
    assert set(NETWORKS) >= {"resnet152-v1", "resnet152"}


def test_net_summary_lists_each_layers_shapes_with_seq_and_batch():
    result = CliRunner().invoke(main, ["net", "summary", "bert-base", "--seq", "64", "--batch", "2"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("layer0.attention.scores "))
    # per sample: the 64x768 queries and keys in, 64 x (12 heads x 64 keys) out; MACs for the batch
    assert re.split(r"\s{2,}", line.strip()) == [
        "layer0.attention.scores", "matmul 12x (64x64 * 64x64^T)", "64x768, 64x768", "64x768", "0",
        f"{2 * 12 * 64 * 64 * 64:,}"]
    assert "batch 2" in result.output


@pytest.mark.parametrize("args, message", [
    (["net", "summary", "vgg16", "--seq", "10"], "error: --seq 10: vgg16 takes no sequence length"),
    (["net", "summary", "bert-base", "--seq", "0"], "error: --seq 0: bert-base takes 1 to 512 tokens"),
    (["net", "summary", "vgg16", "--batch", "0"], "--batch"),
])
def test_bad_seq_and_batch_exit_2_naming_the_option(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


# -- the compiler: the new layers and a batch -----------------------------------------------------


@pytest.mark.parametrize("name", ["bert-base", "gpt2", "gpt2-decode", "vit-b16"])
def test_every_transformer_layer_lowers_with_its_own_figures(name):
    from dlpsim.compiler import lower

    network = get_network(name, seq=32) if NETWORKS[name].takes_seq else get_network(name)
    for layer in network.layers:
        for batch in (1, 3):
            lower(layer, batch)  # check_lowering raises if a MAC or a byte is lost or invented


@pytest.mark.parametrize("network, layer_name", [
    ("bert-base", "layer0.attention.scores"),  # Q x K^T, 12 heads: B is an activation
    ("bert-base", "layer0.attention.context"),  # A x V
    ("bert-base", "layer0.attention.softmax"),
    ("bert-base", "embeddings.word"),  # a lookup
    ("bert-base", "embeddings.position"),
    ("bert-base", "layer0.norm1"),
    ("bert-base", "layer0.gelu"),
    ("gpt2-decode", "h0.attention.scores"),  # the KV cache read from DRAM
])
def test_new_layers_compile_and_move_their_data(network, layer_name):
    from dlpsim.machine import load_machine
    from dlpsim.run.compile import compile_layer

    layer = get_network(network, seq=32).layer(layer_name)
    for preset in ("dlp-s", "dlp-m"):
        machine = load_machine(preset)
        compilation = compile_layer(layer, machine)
        body = compilation.compiled
        assert body.macs == layer.macs
        own = layer.input_bytes() + layer.weight_bytes() + layer.output_bytes()
        assert body.dram_bytes >= own  # every operand comes from DRAM and the result goes back
        stats = compilation.stats
        if stats is not None:
            assert stats.cycles >= stats.bound.cycles


def test_a_batch_reuses_the_weights_and_repeats_the_activations():
    from dlpsim.machine import load_machine
    from dlpsim.run.compile import compile_layer

    machine = load_machine("dlp-s")
    fc = get_network("textbook-fc").layer("fc7_9")  # 128 KB of weights: they stay in WRAM
    weights, activations = 256 * 128 * 4, (1024 * 256 + 1024 * 128) * 4
    for batch in (1, 4):
        stats = compile_layer(fc, machine, batch).stats
        assert stats.mac_operations == batch * 1024 * 256 * 128
        assert stats.dram_bytes == weights + batch * activations  # the weights once for the batch
    conv = get_network("lenet5").layer("c3")
    one, three = (compile_layer(conv, machine, batch).stats for batch in (1, 3))
    assert three.mac_operations == 3 * one.mac_operations
    assert three.dram_bytes == 3 * one.dram_bytes - 2 * conv.weight_bytes()
    # attention's second operand is an activation: each sample brings its own
    scores = get_network("bert-base", seq=32).layer("layer0.attention.scores")
    one, two = (compile_layer(scores, machine, batch).stats for batch in (1, 2))
    assert two.dram_bytes == 2 * one.dram_bytes


def test_net_run_reports_the_batch(tmp_path):
    result = CliRunner().invoke(main, ["net", "run", "lenet5", "--batch", "3", "--json"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output)
    assert data["batch"] == 3
    assert data["totals"]["macs"] == 3 * get_network("lenet5").macs
    assert data["totals"]["seconds_per_sample"] == pytest.approx(data["totals"]["seconds"] / 3)
    text = CliRunner().invoke(main, ["net", "run", "lenet5", "--batch", "3"]).output
    assert "batch 3" in text.splitlines()[0] and "for 3 samples" in text


def test_a_batch_that_cannot_fit_dram_is_refused_before_any_run():
    result = CliRunner().invoke(main, ["net", "run", "vgg16", "--batch", "256", "--set", "dram.capacity=1GB"])
    assert result.exit_code == 2
    # conv1_1 at batch 256: (3 + 64) x 224 x 224 x 4 B per sample, and its weights and biases
    need = 256 * (3 + 64) * 224 * 224 * 4 + (64 * 3 * 9 + 64) * 4
    assert f"conv1_1: its inputs, weights and outputs at batch 256 take {need:,} B" in result.output
    assert "more than the 1 GB DRAM of dlp-s" in result.output


def test_compile_report_and_roofline_take_the_network_options(tmp_path):
    runner = CliRunner()
    compiled = runner.invoke(main, ["compile", "lenet5", "--layer", "c3", "--batch", "2"])
    assert compiled.exit_code == 0, compiled.output
    # c3: 16 maps of 10x10, each output a 5x5 window over 6 channels, for 2 samples
    assert f"work:   {2 * 16 * 10 * 10 * 6 * 5 * 5} MACs" in compiled.output
    assert "for each of 2 samples with the same weights" in compiled.output
    report = runner.invoke(main, ["report", "lenet5", "--batch", "2", "-o", str(tmp_path / "lenet5.md")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "lenet5.md").read_text()
    assert "`dlpsim report lenet5 --batch 2`" in text and "| batch | 2 samples |" in text
    program = runner.invoke(main, ["report", "ex7_7.asm", "--batch", "2", "-o", str(tmp_path / "r.md")])
    assert program.exit_code == 2
    assert "error: --batch applies to a network, and ex7_7.asm is a program" in program.output
    roof = runner.invoke(main, ["roofline", "--net", "lenet5", "--seq", "5"])
    assert roof.exit_code == 2 and "--seq 5: lenet5 takes no sequence length" in roof.output


def test_roofline_results_keep_the_batch(tmp_path):
    import json

    saved = tmp_path / "roof.json"
    runner = CliRunner()
    result = runner.invoke(main, ["roofline", "--net", "lenet5", "--batch", "2", "--results", str(saved)])
    assert result.exit_code == 0, result.output
    network = json.loads(saved.read_text())["networks"][0]
    assert network["batch"] == 2
    assert network["total"]["macs"] == 2 * get_network("lenet5").macs
    redrawn = runner.invoke(main, ["roofline", "--from", str(saved), "-o", str(tmp_path / "roof.svg")])
    assert redrawn.exit_code == 0, redrawn.output
    assert "lenet5 (simulated, batch 2)" in (tmp_path / "roof.svg").read_text()
