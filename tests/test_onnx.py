"""ONNX import and export: hand-counted models, the onnx package's model zoo, round trips, errors.

Every expected parameter and MAC count is derived here from the architecture, never copied
from dlpsim's output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from click.testing import CliRunner
from onnx import TensorProto, external_data_helper, helper, numpy_helper

from dlpsim.cli import main
from dlpsim.errors import WorkloadError
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.workloads import NETWORKS, get_network, load_network
from dlpsim.workloads.layers import LSTMCell, MatMul, Recurrent
from dlpsim.workloads.onnx_export import export_onnx, write_onnx

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import SHIPPED_EXAMPLE, encoder_block, every_op_cnn, model_bytes, small_cnn  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = ("bvlc_alexnet", "zfnet512", "vgg19", "resnet50", "inception_v1", "inception_v2",
                "densenet121", "squeezenet", "shufflenet")


def _write(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model_bytes(model))
    return path


class _Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = exit_code, stdout, stderr


def _dlpsim(*args: str) -> _Result:
    """The command in this process (importing onnx for each subprocess would cost seconds)."""
    result = CliRunner().invoke(main, list(args))
    return _Result(result.exit_code, result.stdout, result.stderr)


def _conv(cin: int, cout: int, kernel: int, out_size: int, groups: int = 1, bias: bool = True):
    """(params, MACs) of a square convolution with ``out_size`` x ``out_size`` outputs."""
    window = cin // groups * kernel * kernel
    return cout * window + (cout if bias else 0), out_size * out_size * cout * window


# -- a CNN with every supported operator, counted by hand --------------------------------------

def _trunk_counts() -> tuple[int, int]:
    """The trunk both test models share (tests/onnx_models.py, _cnn_trunk), on 3x32x32."""
    conv1 = _conv(3, 8, 3, 32)  # pads 1: 32x32
    bn1 = (2 * 8, 0)  # scale and shift; the running mean and variance are buffers
    conv2 = _conv(8, 16, 3, 16, groups=2)  # after the 2x2 pool: 16x16; dilation 2 with pads 2 keeps 16
    conv3 = _conv(16, 16, 3, 8, groups=16, bias=False)  # (16 + 0 + 1 - 3) // 2 + 1 = 8
    bn3 = (16 + 16, 0)  # the Mul's scale and the Add's shift, 16 each
    parts = (conv1, bn1, conv2, conv3, bn3)
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def test_every_supported_operator_imports_with_hand_counted_parameters_and_macs(tmp_path):
    network = load_network(str(_write(tmp_path, every_op_cnn())))
    trunk_params, trunk_macs = _trunk_counts()
    assert (trunk_params, trunk_macs) == (224 + 16 + 592 + 144 + 32, 221_184 + 147_456 + 9_216)
    fc1 = (32 * 16 + 16, 32 * 16)  # Gemm after the global pool of the 32-channel concat
    projection = (4 * 8 + 8, 4 * 4 * 8)  # MatMul by a 4x8 weight on 4 tokens, its Add fused as the bias
    layernorm = (2 * 8, 0)
    attention = (0, 4 * 8 * 4)  # (4x8) x (8x4): two activations, no parameters
    lstm = (4 * 6 * (4 + 6) + 2 * 4 * 6, 4 * 4 * 6 * (4 + 6))  # 4 steps; ONNX's two bias sets
    gru = (3 * 5 * (6 + 5), 4 * 3 * 5 * (6 + 5))  # no bias
    fc2 = (20 * 10 + 10, 20 * 10)
    parts = (fc1, projection, layernorm, attention, lstm, gru, fc2)
    assert network.params == trunk_params + sum(p for p, _ in parts) == 2_255
    assert network.macs == trunk_macs + sum(m for _, m in parts) == 380_444
    kinds = {node.name: node.layer.describe() for node in network.nodes}
    assert kinds["conv2"] == "conv 3x3 g2 d2"
    assert kinds["conv3"] == "dwconv 3x3/2 pad 0,0,1,1"
    assert kinds["relu6"] == "relu6"  # Clip(0, 6)
    assert kinds["gelu"] == "gelu"  # the five nodes of x * 0.5 * (1 + erf(x / sqrt 2))
    assert "gelu_erf" not in kinds and "gelu_div" not in kinds
    assert kinds["proj"] == "gemm M=4" and "proj_bias" not in kinds
    assert kinds["keys"] == "transpose 1,0"
    assert kinds["sum3"] == "add"
    assert kinds["half"] == "div 16x8x8 & const scalar"  # a literal, not a parameter
    assert kinds["se_scale"] == "mul 16x8x8 & 16x1x1"  # broadcasting
    # the shape-only operators and the Shape-driven Reshape target are folded at zero compute
    for folded in ("shape", "batch", "batch1", "four_four", "target", "dropout", "flatten", "lstm_y",
                   "gru_y", "sequence", "bn3.s", "bn3.b"):
        assert folded not in kinds
    assert network.shape("tokens") == (4, 4)
    assert network.shape("lstm") == (4, 6) and network.shape("gru") == (4, 5)


def test_an_encoder_block_with_multi_head_attention_counts_by_hand(tmp_path):
    """8 tokens of 16 features, 2 heads of 8, a 64-wide feed-forward layer (tests/onnx_models.py)."""
    tokens, width, heads, hidden = 8, 16, 2, 64
    network = load_network(str(_write(tmp_path, encoder_block(tokens, width, heads, hidden))))
    projections = 4 * (width * width + width)  # Q, K, V and the output, each with a bias
    norms = 2 * 2 * width
    feed_forward = (width * hidden + hidden) + (hidden * width + width)
    assert network.params == projections + norms + feed_forward == 3_280
    size = width // heads
    attention = 2 * heads * tokens * size * tokens  # Q x K^T and A x V, per head
    assert network.macs == 4 * tokens * width * width + attention + 2 * tokens * width * hidden == 26_624
    layers = {node.name: node.layer for node in network.nodes}
    # the heads split by Reshape and Transpose are views: the products read the projections, as the
    # built-in transformers' attention does; the Div by sqrt(size) is the softmax's scale
    assert layers["qk"] == MatMul(name="qk", input_shapes=((tokens, width),) * 2, heads=heads,
                                  transpose_b=True)
    assert layers["qk"].macs == heads * size * tokens ** 2
    assert [node.inputs for node in network.nodes if node.name in ("qk", "av")] == [("q", "k"),
                                                                                      ("attention", "v")]
    assert layers["attention"].input_shape == (tokens, heads * tokens)
    assert layers["attention"].length == tokens
    assert layers["attention"].scaled and layers["attention"].scale == pytest.approx(size ** -0.5)
    assert not [layer for layer in layers.values() if layer.kind in ("reshape", "transpose", "div")]
    assert layers["gelu"].describe() == "gelu" and layers["ln2"].describe() == "layernorm"
    session = onnxruntime.InferenceSession(model_bytes(encoder_block()), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.ones((1, tokens, width), np.float32)})
    assert y.shape == (1, tokens, width)


def test_the_shipped_example_is_what_the_generator_writes():
    assert SHIPPED_EXAMPLE.read_bytes() == model_bytes(small_cnn())


def test_the_shipped_example_counts_by_hand_and_runs_on_both_presets():
    network = load_network(str(SHIPPED_EXAMPLE))
    trunk_params, trunk_macs = _trunk_counts()
    fc1 = (16 * 24 + 24, 16 * 24)
    lstm = (4 * 8 * (6 + 8) + 2 * 4 * 8, 4 * 4 * 8 * (6 + 8))  # 4 steps of 6 features, 8 units
    fc2 = (32 * 10 + 10, 32 * 10)
    assert network.params == trunk_params + fc1[0] + lstm[0] + fc2[0]
    assert network.macs == trunk_macs + fc1[1] + lstm[1] + fc2[1]
    for preset in ("dlp-s", "dlp-m"):
        run = run_network(network, load_machine(preset))
        assert run.macs == network.macs
        assert run.cycles >= run.bound.cycles > 0


def test_same_padding_bidirectional_lstm_and_reverse_gru_count_by_hand(tmp_path):
    def zeros(name, dims):
        return numpy_helper.from_array(np.zeros(dims, np.float32), name)

    def integers(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    model = _tiny([helper.make_node("Conv", ["x", "cw"], ["c"], name="same", kernel_shape=[3, 3],
                                    strides=[2, 2], auto_pad="SAME_UPPER"),
                   helper.make_node("Reshape", ["c", "steps"], ["seq"], name="seq"),
                   helper.make_node("LSTM", ["seq", "lw", "lr", "lb"], ["y"], name="bilstm", hidden_size=5,
                                    direction="bidirectional"),
                   helper.make_node("Reshape", ["y", "steps2"], ["y2"], name="y2"),
                   helper.make_node("GRU", ["y2", "gw", "gr"], ["z"], name="gru", hidden_size=3,
                                    linear_before_reset=1, direction="reverse")],
                  [_input("x", [1, 2, 7, 7])], [_input("z", None)],
                  [zeros("cw", [4, 2, 3, 3]), integers("steps", [4, 1, 16]), zeros("lw", [2, 20, 16]),
                   zeros("lr", [2, 20, 5]), zeros("lb", [2, 40]), integers("steps2", [4, 1, 10]),
                   zeros("gw", [1, 9, 10]), zeros("gr", [1, 9, 3])])
    network = load_network(str(_write(tmp_path, model)))
    layers = {node.name: node.layer for node in network.nodes}
    # SAME_UPPER at stride 2: ceil(7 / 2) = 4 outputs per axis
    assert layers["same"].output_shape == (4, 4, 4)
    assert (layers["same"].params, layers["same"].macs) == (4 * 2 * 9, 4 * 4 * 4 * 2 * 9)
    # 4 steps of 16; two directions of 4 gates x 5 units over [x; h] = 16 + 5, two bias sets each
    assert layers["bilstm"].output_shape == (4, 2 * 5)
    assert layers["bilstm"].params == 2 * 20 * (16 + 5) + 2 * 2 * 20
    assert layers["bilstm"].macs == 4 * 2 * 20 * (16 + 5)
    # one direction of 3 gates x 3 units over 10 + 3, no bias
    assert (layers["gru"].params, layers["gru"].macs) == (9 * (10 + 3), 4 * 9 * (10 + 3))
    for preset in ("dlp-s", "dlp-m"):
        assert run_network(network, load_machine(preset)).macs == network.macs


def _upsampling(kernel: int, stride: int, bias: bool = True) -> tuple[onnx.ModelProto, dict]:
    """A ConvTranspose of 16 -> 8 channels on a 14x14 map, then a ReLU; its weights."""
    rng = np.random.default_rng(4)
    weights = {"w": rng.standard_normal((16, 8, kernel, kernel)).astype(np.float32)}
    if bias:
        weights["b"] = rng.standard_normal(8).astype(np.float32)
    size = (14 - 1) * stride + kernel
    model = _tiny([helper.make_node("ConvTranspose", ["x", *weights], ["y"], name="up",
                                    kernel_shape=[kernel] * 2, strides=[stride] * 2),
                   helper.make_node("Relu", ["y"], ["z"], name="relu")],
                  [_input("x", [1, 16, 14, 14])], [_input("z", [1, 8, size, size])],
                  [numpy_helper.from_array(array, name) for name, array in weights.items()])
    return model, weights


def test_a_transposed_convolution_whose_stride_is_its_kernel_counts_and_computes_exactly(tmp_path):
    """2x2 stride 2, 16 -> 8 channels, 14x14 -> 28x28: each input pixel times the 16 x (8 x 2 x 2)
    kernel, a GEMM of 196 rows, the patches put in place by views, a per-channel bias add. What the
    layers compute (dlpsim's references) is what onnxruntime computes for the operator."""
    from dlpsim.workloads.reference import evaluate

    model, weights = _upsampling(kernel=2, stride=2)
    network = load_network(str(_write(tmp_path, model)))
    # MACs: in_H x in_W x C_in x C_out x kH x kW; params: the kernel and one bias per output channel
    assert network.macs == 14 * 14 * 16 * 8 * 2 * 2 == 100_352
    assert network.params == 16 * 8 * 2 * 2 + 8 == 520
    assert network.shape("up") == (14 * 14, 8 * 2 * 2) and network.shape("up/bias") == (8, 28, 28)
    x = np.random.default_rng(5).standard_normal((1, 16, 14, 14)).astype(np.float32)
    (expected,) = onnxruntime.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    values = {"x": x[0]}
    parameters = {"up": {"weight": weights["w"].reshape(16, -1)},  # C_in x (C_out x kH x kW)
                  "up/bias": {"constant": weights["b"].reshape(8, 1, 1)}}
    for node in network.nodes:
        values[node.name] = evaluate(node.layer, tuple(values[source] for source in node.inputs),
                                     parameters.get(node.name, {}))
    assert np.allclose(values["relu"], expected[0], rtol=1e-4, atol=1e-5)
    for preset in ("dlp-s", "dlp-m"):
        assert run_network(network, load_machine(preset)).macs == network.macs


def test_an_overlapping_transposed_convolution_is_refused_naming_it(tmp_path):
    model, _ = _upsampling(kernel=3, stride=2, bias=False)
    result = _dlpsim("net", "summary", str(_write(tmp_path, model)))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "node 'up' (ConvTranspose): only a transposed convolution whose stride is its kernel (3x3)" \
        in result.stderr
    assert "it has strides [2, 2]" in result.stderr


def test_a_scale_and_a_mask_fuse_into_the_softmax_and_a_vector_stays_a_layer(tmp_path):
    """Scores of 4 rows x 6 keys times 0.5 and masked by a Where of constants: one softmax, scaled
    and masked, no parameters. Times a constant vector of 6 instead: a mul layer with those 6
    weights, then a plain softmax."""
    constants = [numpy_helper.from_array(np.array(value, np.float32), name)
                 for name, value in (("half", 0.5), ("low", -1e9), ("per_key", np.ones(6)))]
    constants.append(numpy_helper.from_array(np.tril(np.ones((4, 6), bool), 2), "visible"))
    fused = _tiny([helper.make_node("Mul", ["x", "half"], ["scaled"], name="scale"),
                   helper.make_node("Where", ["visible", "scaled", "low"], ["masked"], name="mask"),
                   helper.make_node("Softmax", ["masked"], ["y"], name="softmax", axis=-1)],
                  [_input("x", [1, 4, 6])], [_input("y", [1, 4, 6])], constants)
    (softmax,) = load_network(str(_write(tmp_path, fused))).layers
    assert (softmax.scaled, softmax.scale, softmax.masked, softmax.params) == (True, 0.5, True, 0)
    vector = _tiny([helper.make_node("Mul", ["x", "per_key"], ["scaled"], name="scale"),
                    helper.make_node("Softmax", ["scaled"], ["y"], name="softmax", axis=-1)],
                   [_input("x", [1, 4, 6])], [_input("y", [1, 4, 6])], constants)
    mul, softmax = load_network(str(_write(tmp_path, vector, "vector.onnx"))).layers
    assert (mul.kind, mul.params, softmax.scaled, softmax.masked) == ("mul", 6, False, False)


def test_onnxruntime_runs_the_test_models(tmp_path):
    for model in (small_cnn(), every_op_cnn()):
        session = onnxruntime.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"])
        image = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
        (probabilities,) = session.run(None, {"image": image})
        assert probabilities.shape == (1, 10) and abs(float(probabilities.sum()) - 1) < 1e-4


# -- the onnx package's model zoo ------------------------------------------------------------------

def test_every_light_model_imports():
    found = sorted(path.stem.removeprefix("light_") for path in LIGHT.glob("*.onnx"))
    assert found == sorted(LIGHT_MODELS)
    for name in LIGHT_MODELS:
        network = load_network(str(LIGHT / f"light_{name}.onnx"))
        assert network.macs > 0 and network.params > 0


def test_vgg19_from_the_zoo_has_its_published_figures():
    """VGG-19 (configuration E): 16 3x3 convolutions padded by 1 in five stages at 224, 112, 56,
    28, 14, each stage ending in a 2x2 pool; then fc 25088 -> 4096 -> 4096 -> 1000."""
    network = load_network(str(LIGHT / "light_vgg19.onnx"))
    params = macs = 0
    channels = 3
    for width, convs, size in ((64, 2, 224), (128, 2, 112), (256, 4, 56), (512, 4, 28), (512, 4, 14)):
        for _ in range(convs):
            p, m = _conv(channels, width, 3, size)
            params, macs, channels = params + p, macs + m, width
    for inputs, outputs in ((512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)):
        params, macs = params + inputs * outputs + outputs, macs + inputs * outputs
    assert (params, macs) == (143_667_240, 19_632_062_464)  # the published 143.7 M parameters
    assert (network.params, network.macs) == (params, macs)


def test_resnet50_from_the_zoo_has_torchvisions_figures():
    """ResNet-50 with the stride of a downsampling block on its 3x3 convolution (torchvision's
    and Caffe2's): a 7x7/2 stem, four stages of bottlenecks (1x1, 3x3, 1x1 with 4x expansion, a
    1x1 projection on each stage's first block), convolutions without bias, a batch norm after
    each, then fc 2048 -> 1000."""
    network = load_network(str(LIGHT / "light_resnet50.onnx"))
    stem = _conv(3, 64, 7, 112, bias=False)
    params, macs = stem[0] + 2 * 64, stem[1]
    channels, size = 64, 56  # after the 3x3/2 max pool
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            step = stride if block == 0 else 1
            out = size // step
            convs = [_conv(channels, width, 1, size, bias=False), _conv(width, width, 3, out, bias=False),
                     _conv(width, 4 * width, 1, out, bias=False)]
            norms = [width, width, 4 * width]
            if block == 0:
                convs.append(_conv(channels, 4 * width, 1, out, bias=False))
                norms.append(4 * width)
            params += sum(p for p, _ in convs) + 2 * sum(norms)
            macs += sum(m for _, m in convs)
            channels, size = 4 * width, out
    params, macs = params + 2048 * 1000 + 1000, macs + 2048 * 1000
    assert (params, macs) == (25_557_032, 4_089_184_256)  # torchvision's resnet50
    assert (network.params, network.macs) == (params, macs)


def test_alexnet_from_the_zoo_has_the_grouped_alexnets_parameters():
    """BVLC AlexNet is the two-GPU form of workload-figures.md (60,965,224 parameters); its
    224x224 input without padding gives conv1 54x54 outputs instead of 55x55."""
    network = load_network(str(LIGHT / "light_bvlc_alexnet.onnx"))
    assert network.params == get_network("alexnet").params == 60_965_224
    assert network.shape(network.nodes[0].name) == (96, 54, 54)


# -- export and the round trip ------------------------------------------------------------------------

# The transformers at a short sequence (their layers' kinds and shapes do not depend on it), so the
# round trips stay quick; ViT-B/16 at its 197 tokens.
ROUND_TRIP_SEQ = 8


def _built_in(name: str, batch: int = 1):
    return get_network(name, seq=ROUND_TRIP_SEQ if NETWORKS[name].takes_seq else None, batch=batch)


def _assert_same_network(back, network) -> None:
    """The same layers (names, kinds, shapes, attributes), inputs, parameters and MACs; an LSTM cell
    comes back as ONNX's LSTM of one step, with its second set of 4 x hidden biases."""
    assert [node.name for node in back.nodes] == [node.name for node in network.nodes]
    assert [node.inputs for node in back.nodes] == [node.inputs for node in network.nodes]
    assert back.inputs == network.inputs and back.batch == network.batch
    assert back.macs == network.macs
    cells = [node.layer for node in network.nodes if isinstance(node.layer, LSTMCell)]
    for node, original in zip(back.nodes, network.nodes, strict=True):
        if isinstance(original.layer, LSTMCell):
            assert isinstance(node.layer, Recurrent) and node.layer.bias_sets == 2
            assert node.layer.macs == original.layer.macs
            assert node.layer.output_shape == original.layer.output_shape
        else:
            assert node.layer == original.layer
    assert back.params == network.params + sum(4 * cell.hidden_size for cell in cells)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_export_and_import_gives_the_same_layers_parameters_and_macs(tmp_path, name):
    network = _built_in(name)
    path = tmp_path / f"{name}.onnx"
    write_onnx(network, path, weights="zero")  # onnx.checker runs inside
    _assert_same_network(load_network(str(path)), network)


# Published totals, and the MACs of the transformers at 8 tokens (T) derived from their shapes: per
# layer the Q, K, V and output projections (4 T 768^2), attention's Q x K^T and A x V (2 x 12 heads x
# T x keys x 64) and the feed-forward block (2 T 768 x 3072).
def _transformer_layer_macs(tokens: int, keys: int) -> int:
    return 4 * tokens * 768 * 768 + 2 * 12 * tokens * keys * 64 + 2 * tokens * 768 * 3072


TRANSFORMER_FIGURES = {
    "bert-base": (109_482_240, 12 * _transformer_layer_macs(8, 8) + 768 * 768),  # + the pooler's one row
    "gpt2": (124_439_808, 12 * _transformer_layer_macs(8, 8) + 8 * 768 * 50_257),  # + the tied LM head
    # one token attending to the 8 cached and itself, then the LM head on it
    "gpt2-decode": (124_439_808, 12 * _transformer_layer_macs(1, 9) + 768 * 50_257),
    # the patch convolution, 197 tokens, the head on the class token
    "vit-b16": (86_567_656, 196 * 768 * 3 * 16 * 16 + 12 * _transformer_layer_macs(197, 197) + 768 * 1000),
}


@pytest.mark.parametrize("name", list(TRANSFORMER_FIGURES))
def test_an_exported_transformer_has_its_published_parameters_and_onnxruntime_runs_it(tmp_path, name):
    params, macs = TRANSFORMER_FIGURES[name]
    path = tmp_path / f"{name}.onnx"
    seq = ["--seq", str(ROUND_TRIP_SEQ)] if NETWORKS[name].takes_seq else []
    result = _dlpsim("net", "export", name, *seq, "--weights", "zero", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert path.stat().st_size < 200_000  # zeros are ConstantOfShape nodes: no data
    back = load_network(str(path))
    assert (back.params, back.macs) == (params, macs)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # no folded copies
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, _seeded_feeds(session))
    assert [list(output.shape) for output in outputs] == [[1, *back.shape(output)] for output in back.outputs]
    assert all(np.isfinite(output).all() for output in outputs)


def _seeded_feeds(session, vocabulary: int = 2) -> dict:
    """Seeded inputs: token ids below ``vocabulary`` (every table has at least 2 rows), else normal."""
    rng = np.random.default_rng(0)
    return {item.name: rng.integers(0, vocabulary, item.shape) if item.type == "tensor(int64)"
            else rng.standard_normal(item.shape).astype(np.float32) for item in session.get_inputs()}


def _small_transformers():
    """Networks of every transformer layer kind at toy sizes (2 heads of 4, 3 tokens), built with the
    built-in networks' own attention and layer functions."""
    from dlpsim.workloads.networks import NetworkBuilder, TransformerShape, _transformer_layer

    shape = TransformerShape(layers=1, hidden=8, heads=2, ffn=16, norm_epsilon=1e-5)
    decoder = NetworkBuilder("decoder", "a GPT-2 in small", {"ids": (3,)})
    decoder.embedding("wte", 11, 8)
    decoder.position_embedding("wpe", 5)
    _transformer_layer(decoder, "h0", shape, pre_norm=True, masked=True)
    decoder.fc("lm_head", 11, bias=False, tied="wte")
    cached = NetworkBuilder("cached", "a decoding step",
                            {"ids": (1,), "past_key": (3, 8), "past_value": (3, 8)})
    cached.embedding("wte", 11, 8)
    cached.position_embedding("wpe", 5, first_position=3)
    _transformer_layer(cached, "h0", shape, pre_norm=True, past=("past_key", "past_value"))
    encoder = NetworkBuilder("encoder", "a ViT in small", {"image": (3, 8, 8)})
    encoder.conv("patch", 8, 4, 4)
    encoder.reshape("patches", (8, 4))
    encoder.transpose("tokens", (1, 0))
    encoder.class_token("class_token")
    encoder.position_embedding("position", 5)
    _transformer_layer(encoder, "layer0", shape, pre_norm=False)
    encoder.slice("first", 0, 1)
    encoder.fc("head", 3)
    return [builder.build() for builder in (decoder, cached, encoder)]


def _reference_outputs(network, model, feeds: dict) -> dict:
    """The network evaluated layer by layer with dlpsim's numpy references, with the exported weights."""
    from dlpsim.workloads.layers import ClassToken, Conv2d, Embedding, FullyConnected, LayerNorm
    from dlpsim.workloads.layers import PositionEmbedding as Position
    from dlpsim.workloads.reference import evaluate

    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    values = {name: feeds[name][0] for name, _ in network.inputs}
    for node in network.nodes:
        layer, name = node.layer, node.name
        parameters = {}
        if isinstance(layer, FullyConnected) and layer.tied:
            parameters["weight"] = weights[f"{layer.tied}.weight"].T
        elif isinstance(layer, Conv2d | FullyConnected | Embedding | Position):
            role = "weight" if isinstance(layer, Conv2d | FullyConnected) else "table"
            parameters[role] = weights[f"{name}.weight"]
            if getattr(layer, "bias", False) is True:
                parameters["bias"] = weights[f"{name}.bias"]
        elif isinstance(layer, LayerNorm):
            parameters = {"scale": weights[f"{name}.weight"], "shift": weights[f"{name}.bias"]}
        elif isinstance(layer, ClassToken):
            parameters["token"] = weights[f"{name}.weight"].reshape(-1)
        values[name] = evaluate(layer, tuple(values[source] for source in node.inputs), parameters)
    return {name: values[name] for name in network.outputs}


@pytest.mark.parametrize("network", _small_transformers(), ids=lambda network: network.name)
def test_onnxruntime_computes_what_the_layers_references_compute(tmp_path, network):
    """Heads split and merged, the scaled and masked softmax, the KV cache's concatenation, the
    embeddings, the class token and the tied head compute in onnxruntime what dlpsim's layers mean."""
    model = export_onnx(network, "random", seed=5)
    session = onnxruntime.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"])
    feeds = _seeded_feeds(session, vocabulary=11)
    expected = _reference_outputs(network, model, feeds)
    for output, computed in zip(session.get_outputs(), session.run(None, feeds), strict=True):
        assert np.allclose(computed[0], expected[output.name], rtol=1e-4, atol=1e-4), output.name
    path = tmp_path / "model.onnx"
    write_onnx(network, path)
    _assert_same_network(load_network(str(path)), network)


@pytest.mark.parametrize("shape, length", [((3, 5), None), ((2, 3, 5), None), ((5,), None), ((4, 8), 4)])
@pytest.mark.parametrize("masked, scaled", [(True, True), (False, False), (True, False)])
def test_every_softmax_exports_computes_its_reference_and_reads_back(tmp_path, shape, length, masked, scaled):
    """Over rows, stacks of rows, a vector, and runs of 4 side by side; scaled, masked (causal:
    row r of R sees the keys up to r + keys - R) or neither."""
    from dlpsim.workloads import Network, Node, Softmax
    from dlpsim.workloads.reference import evaluate

    layer = Softmax(name="softmax", input_shape=shape, length=length, masked=masked, scaled=scaled,
                    scale=0.5 if scaled else 1.0)
    network = Network("softmax", "one softmax", (("x", shape),), (Node(layer, ("x",)),))
    session = onnxruntime.InferenceSession(model_bytes(export_onnx(network, "zero")),
                                           providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    assert np.allclose(session.run(None, {"x": x})[0][0], evaluate(layer, (x[0],), {}), atol=1e-6)
    write_onnx(network, tmp_path / "softmax.onnx", "zero")
    assert load_network(str(tmp_path / "softmax.onnx")).layers == (layer,)


@pytest.mark.parametrize("name", ["gpt2-decode", "vit-b16", "resnet18", "lenet5"])
def test_a_model_exported_at_a_batch_imports_at_that_batch(tmp_path, name):
    """``--batch 3`` on export: the inputs are 3 x ..; the import is the batch-1 network at batch 3
    (3 x its MACs, the same parameters), and --batch 3 (or none) may be given with it, not another."""
    network = _built_in(name)
    path = tmp_path / f"{name}.onnx"
    seq = ["--seq", str(ROUND_TRIP_SEQ)] if NETWORKS[name].takes_seq else []
    result = _dlpsim("net", "export", name, *seq, "--batch", "3", "--weights", "zero", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert [dim.dim_value for dim in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim][0] == 3
    back = load_network(str(path))
    _assert_same_network(back, network.with_batch(3))
    assert (back.macs, back.params) == (3 * network.macs, network.params)
    assert load_network(str(path), batch=3) == back
    summary = _dlpsim("net", "summary", str(path))
    builtin = _dlpsim("net", "summary", name, *seq, "--batch", "3")
    assert summary.stdout.splitlines()[-6:] == builtin.stdout.splitlines()[-6:]  # the totals
    if name == "lenet5":  # the run too: the same programs, cycles and DRAM traffic
        ours, theirs = (run_network(each, load_machine("dlp-s")) for each in (back, network.with_batch(3)))
        assert (ours.cycles, ours.macs, ours.dram_bytes) == (theirs.cycles, theirs.macs, theirs.dram_bytes)
    other = _dlpsim("net", "summary", str(path), "--batch", "2")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "--batch 2: the model's inputs fix a batch of 3; give --batch 3" in other.stderr


def test_large_random_weights_go_to_external_data_written_as_drawn(tmp_path, monkeypatch):
    """Over the threshold (lowered here for LeNet-5's 246,824 bytes) the weights go to FILE.onnx.data:
    the same values as in one file, the same bytes again, and onnxruntime reads them."""
    from dlpsim.workloads import onnx_export

    network = get_network("lenet5")
    inline = export_onnx(network, "random", seed=2)
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_ABOVE", 1000)
    result = _dlpsim("net", "export", "lenet5", "--seed", "2", "-o", str(tmp_path / "lenet.onnx"))
    assert result.returncode == 0, result.stderr
    data = tmp_path / "lenet.onnx.data"
    assert f"wrote its {network.params * 4:,} bytes of weights to {data}" in result.stdout
    assert data.stat().st_size == network.params * 4 and (tmp_path / "lenet.onnx").stat().st_size < 8000
    first = (tmp_path / "lenet.onnx").read_bytes(), data.read_bytes()
    again = _dlpsim("net", "export", "lenet5", "--seed", "2", "-o", str(tmp_path / "lenet.onnx"))
    assert again.returncode == 0
    assert ((tmp_path / "lenet.onnx").read_bytes(), data.read_bytes()) == first
    feeds = {"data": np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)}
    cpu = ["CPUExecutionProvider"]
    from_files = onnxruntime.InferenceSession(str(tmp_path / "lenet.onnx"), providers=cpu)
    in_memory = onnxruntime.InferenceSession(model_bytes(inline), providers=cpu)
    assert np.array_equal(from_files.run(None, feeds)[0], in_memory.run(None, feeds)[0])
    assert load_network(str(tmp_path / "lenet.onnx")).params == network.params
    # a layer without an export (a recurrent one at a batch above 1) leaves no weights behind
    refused = _dlpsim("net", "export", "lstm-lm", "--batch", "2", "-o", str(tmp_path / "lstm.onnx"))
    assert refused.returncode == 2
    assert "a recurrent layer has no ONNX export at a batch above 1" in refused.stderr
    assert not list(tmp_path.glob("lstm.onnx*"))


@pytest.mark.parametrize("model", ["small_cnn", "every_op_cnn", "encoder_block", "light_inception_v1",
                                   "light_shufflenet", "light_squeezenet"])
def test_an_imported_model_exports_back_to_the_same_layers(tmp_path, model):
    """LRN with its constants, channel shuffles, recurrent outputs, views (a transpose read by a
    matrix product) and attention as PyTorch writes it (heads split by Reshape and Transpose, the
    scores divided by sqrt(size)) survive the round trip."""
    made = {"every_op_cnn": every_op_cnn, "encoder_block": encoder_block}
    if model in made:
        path = _write(tmp_path, made[model](), f"{model}.onnx")
    else:
        path = SHIPPED_EXAMPLE if model == "small_cnn" else LIGHT / f"{model}.onnx"
    network = load_network(str(path))
    write_onnx(network, tmp_path / "again.onnx", weights="zero")
    again = load_network(str(tmp_path / "again.onnx"))
    assert [node.layer for node in again.nodes] == [node.layer for node in network.nodes]
    assert [node.inputs for node in again.nodes] == [node.inputs for node in network.nodes]


def test_onnxruntime_runs_exported_networks_and_random_weights_are_seeded(tmp_path):
    for name in ("lenet5", "mlp", "textbook-fc", "mobilenet"):
        network = get_network(name)
        model = export_onnx(network, weights="random" if name != "mobilenet" else "zero", seed=3)
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feeds = {item.name: rng.standard_normal(item.shape).astype(np.float32)
                 for item in session.get_inputs()}
        outputs = session.run(None, feeds)
        assert [list(output.shape) for output in outputs] == \
            [[1, *network.shape(output)] for output in network.outputs]
        assert all(np.isfinite(output).all() for output in outputs)
    first, again = (export_onnx(get_network("lenet5"), "random", 3) for _ in range(2))
    assert first.SerializeToString(deterministic=True) == again.SerializeToString(deterministic=True)
    other = export_onnx(get_network("lenet5"), "random", 4)
    assert other.SerializeToString(deterministic=True) != first.SerializeToString(deterministic=True)


def test_net_export_writes_identical_files_and_checks_the_name_first(tmp_path):
    for attempt in ("a", "b"):
        result = _dlpsim("net", "export", "lenet5", "-o", str(tmp_path / f"{attempt}.onnx"), "--seed", "5")
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    wrong = _dlpsim("net", "export", "lenet5", "-o", str(tmp_path / "model.txt"))
    assert wrong.returncode == 2 and "must end in .onnx" in wrong.stderr
    missing = _dlpsim("net", "export", "lenet5", "-o", str(tmp_path / "no" / "model.onnx"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    for args, message in ((["gpt3"], "unknown network 'gpt3'"),
                          (["vgg16", "--seq", "8"], "vgg16 takes no sequence"),
                          (["gpt2", "--seq", "2000"], "gpt2 takes 1 to 1024 tokens"),
                          (["lenet5", "--batch", "0"], "--batch 0: the batch must be")):
        refused = _dlpsim("net", "export", *args, "-o", str(tmp_path / "refused.onnx"))
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "refused.onnx").exists()


def test_random_weights_over_the_file_limit_are_refused_before_making_them():
    from dlpsim.workloads import FullyConnected, Network, Node

    # 40,000 x 20,000 weights and 20,000 biases at 4 bytes: 3,200,080,000 bytes, over 2**31
    huge = Network("huge", "one large layer", (("x", (40_000,)),),
                   (Node(FullyConnected(name="fc", input_shape=(40_000,), out_features=20_000), ("x",)),))
    with pytest.raises(WorkloadError, match="800,020,000 random FP32 weights are 3,200,080,000 bytes"):
        export_onnx(huge, "random")
    assert len(export_onnx(huge, "zero").SerializeToString()) < 1000


# -- errors --------------------------------------------------------------------------------------------

def _tiny(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _input(name: str, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def test_unsupported_operators_are_named_with_every_node(tmp_path):
    model = _tiny([helper.make_node("Relu", ["x"], ["a"], name="ok"),
                   helper.make_node("Hardmax", ["a"], ["b"], name="first"),
                   helper.make_node("Hardmax", ["b"], ["c"], name="second"),
                   helper.make_node("Round", ["c"], ["y"], name="third")],
                  [_input("x", [1, 8])], [_input("y", [1, 8])])
    path = _write(tmp_path, model)
    result = _dlpsim("net", "summary", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{path}: error: unsupported operators: Hardmax (nodes 'first', "
                                    "'second'); Round (node 'third')")


def test_a_model_without_static_shapes_asks_for_input_shape(tmp_path):
    weight = numpy_helper.from_array(np.zeros((4, 8, 3, 3), np.float32), "w")
    model = _tiny([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])],
                  [_input("x", ["N", 8, "H", "W"])], [_input("y", None)], [weight])
    path = _write(tmp_path, model)
    result = _dlpsim("net", "summary", str(path))
    assert result.returncode == 2
    assert "--input-shape NAME=DIMS (inputs: x=?x8x?x?)" in result.stderr
    fixed = _dlpsim("net", "summary", str(path), "--input-shape", "x=1x8x10x12")
    assert fixed.returncode == 0, fixed.stderr
    # 4 filters of 8 x 3 x 3 over an 8 x 10 output
    assert f"MACs        {4 * 8 * 10 * 8 * 9:,}" in fixed.stdout
    unknown = _dlpsim("net", "summary", str(path), "--input-shape", "image=1x8x10x12")
    assert unknown.returncode == 2 and "the model has no such input (inputs: x)" in unknown.stderr
    builtin = _dlpsim("net", "summary", "lenet5", "--input-shape", "x=1x1x32x32")
    assert builtin.returncode == 2 and "applies to .onnx models" in builtin.stderr


def test_a_leading_batch_is_the_models_batch(tmp_path):
    """Every input's first axis of 2: batch 2 (2 x the work, the same parameters); an input of
    another batch than the rest is refused naming it."""
    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    model = _tiny([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])],
                  [_input("x", [2, 3, 8, 8])], [_input("y", [2, 4, 6, 6])], [weight])
    network = load_network(str(_write(tmp_path, model)))
    assert network.batch == 2 and network.inputs == (("x", (3, 8, 8)),)
    assert (network.params, network.macs) == (4 * 3 * 9, 2 * 6 * 6 * 4 * 3 * 9)  # per sample: 6x6 x 4 x 27
    mixed = _tiny([helper.make_node("Add", ["x", "z"], ["y"], name="add")],
                  [_input("x", [2, 3, 8, 8]), _input("z", [5, 3, 8, 8])], [_input("y", [5, 3, 8, 8])])
    with pytest.raises(WorkloadError, match="input 'x' has a batch of 2"):
        load_network(str(_write(tmp_path, mixed, "mixed.onnx")))
    # a view that merges the batch into the rows would count every sample's rows per sample
    merged = _tiny([helper.make_node("Reshape", ["x", "rows"], ["r"], name="merge"),
                    helper.make_node("Relu", ["r"], ["y"], name="relu")],
                   [_input("x", [2, 3, 4])], [_input("y", [6, 4])],
                   [numpy_helper.from_array(np.array([6, 4], np.int64), "rows")])
    with pytest.raises(WorkloadError, match="is 6x4, whose first axis is not the model's batch of 2"):
        load_network(str(_write(tmp_path, merged, "merged.onnx")))


def test_broken_files_are_user_errors(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xffnot a protobuf" * 10)
    for path, message in ((garbage, "garbage.onnx: error: not"), (tmp_path / "absent.onnx", "no such file")):
        result = _dlpsim("net", "run", str(path))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_without_the_onnx_package_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    path = _write(tmp_path, small_cnn())
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(WorkloadError, match=r'pip install "dlpsim\[onnx\]"'):
        load_network(str(path))


def test_weights_in_external_data_are_never_read(tmp_path):
    """Every weight (a float tensor of more than 16 values) moves to an external file, which is then
    deleted: the import still works."""
    model = small_cnn()
    with open(tmp_path / "big.weights", "wb") as weights:
        for tensor in model.graph.initializer:
            if tensor.data_type == TensorProto.FLOAT and np.prod(tensor.dims) > 16:
                offset = weights.tell()
                weights.write(tensor.raw_data)
                external_data_helper.set_external_data(tensor, "big.weights", offset, len(tensor.raw_data))
                tensor.ClearField("raw_data")
                tensor.data_location = TensorProto.EXTERNAL
    onnx.save_model(model, tmp_path / "big.onnx")
    assert (tmp_path / "big.onnx").stat().st_size < 4096 < (tmp_path / "big.weights").stat().st_size
    (tmp_path / "big.weights").unlink()  # a reader that touched a weight would fail now
    shipped = load_network(str(SHIPPED_EXAMPLE))
    network = load_network(str(tmp_path / "big.onnx"))
    assert (network.params, network.macs) == (shipped.params, shipped.macs)


def test_the_shipped_model_runs_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _dlpsim("net", "run", "small_cnn.onnx", "--preset", "dlp-m", "--json")
    assert result.returncode == 0, result.stderr
    assert "no such file here, so the shipped example model" in result.stderr


# -- the new layer kinds compute what ONNX defines -----------------------------------------------

def _single_node_cases():
    """(node, input dims, output dims, float initializers) of one operator each."""
    def node(op_type, inputs, **attributes):
        return helper.make_node(op_type, inputs, ["y"], name="layer", **attributes)

    return {
        "dilated conv, asymmetric pads": (node("Conv", ["x", "w", "b"], kernel_shape=[3, 3], dilations=[2, 1],
                                               pads=[1, 0, 2, 1], group=2, strides=[1, 2]),
                                          [1, 4, 9, 9], {"w": [6, 2, 3, 3], "b": [6]}),
        "constant first sub": (node("Sub", ["c", "x"]), [1, 3, 4, 4], {"c": [3, 1, 1]}),
        "broadcast div": (node("Div", ["x", "c"]), [1, 3, 4, 4], {"c": [4]}),
        "clip": (node("Clip", ["x", "low", "high"]), [1, 6], {"low": [], "high": []}),
        "lrn": (node("LRN", ["x"], size=3, alpha=0.5, beta=0.75, bias=2.0), [1, 5, 3, 3], {}),
        "bidirectional lstm": (node("LSTM", ["x", "w", "r", "b"], hidden_size=3, direction="bidirectional"),
                               [4, 1, 5], {"w": [2, 12, 5], "r": [2, 12, 3], "b": [2, 24]}),
        "reverse gru": (node("GRU", ["x", "w", "r", "b"], hidden_size=3, direction="reverse"),
                        [4, 1, 5], {"w": [1, 9, 5], "r": [1, 9, 3], "b": [1, 18]}),
        "gru, linear before reset": (node("GRU", ["x", "w", "r"], hidden_size=3, linear_before_reset=1),
                                     [4, 1, 5], {"w": [1, 9, 5], "r": [1, 9, 3]}),
    }


@pytest.mark.parametrize("case", list(_single_node_cases()))
def test_the_reference_of_an_imported_layer_is_what_onnxruntime_computes(tmp_path, case):
    from dlpsim.workloads.reference import evaluate, parameter_shapes

    node, dims, weights = _single_node_cases()[case]
    rng = np.random.default_rng(1)
    arrays = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in weights.items()}
    if case == "clip":
        arrays = {"low": np.array(-0.5, np.float32), "high": np.array(0.25, np.float32)}
    model = _tiny([node], [_input("x", dims)], [_input("y", None)],
                  [numpy_helper.from_array(array, name) for name, array in arrays.items()])
    x = rng.standard_normal(dims).astype(np.float32)
    session = onnxruntime.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": x})
    layer = load_network(str(_write(tmp_path, model))).layer("layer")
    named = {"w": "weight", "r": "recurrent_weight", "b": "bias", "c": "constant"}
    parameters = {named[name]: array.reshape(parameter_shapes(layer)[named[name]])
                  for name, array in arrays.items() if name in named}
    computed = evaluate(layer, (x.reshape(layer.input_shapes[0]),), parameters)
    assert np.allclose(computed.reshape(-1), expected.reshape(-1), rtol=1e-4, atol=1e-5)


def test_malformed_models_are_user_errors_never_crashes(tmp_path):
    """Mutants of the every-operator model (an attribute dropped, the operator swapped for another
    supported one, two inputs swapped, an input size changed) import or fail with a WorkloadError."""
    import copy
    import random

    from dlpsim.workloads.onnx_import import SUPPORTED_OPERATORS

    base = every_op_cnn()
    rng = random.Random(12)
    operators = sorted(SUPPORTED_OPERATORS)
    path = tmp_path / "mutant.onnx"
    outcomes = {"imported": 0, "refused": 0}
    for _ in range(120):
        model = copy.deepcopy(base)
        node = rng.choice(list(model.graph.node))
        change = rng.randrange(4)
        if change == 0 and node.attribute:
            del node.attribute[rng.randrange(len(node.attribute))]
        elif change == 1:
            node.op_type = rng.choice(operators)
        elif change == 2 and len(node.input) > 1:
            node.input[0], node.input[1] = node.input[1], node.input[0]
        else:
            dims = model.graph.input[0].type.tensor_type.shape.dim
            dims[rng.randrange(4)].dim_value = rng.choice([1, 2, 5, 64])
        path.write_bytes(model.SerializeToString())
        try:
            load_network(str(path))
            outcomes["imported"] += 1
        except WorkloadError:
            outcomes["refused"] += 1
    assert outcomes["imported"] > 0 and outcomes["refused"] > 0
