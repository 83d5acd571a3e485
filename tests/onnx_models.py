"""ONNX models built with onnx.helper, for the importer's tests and the shipped example.

``small_cnn`` is shipped as dlpsim/examples/small_cnn.onnx (README, "Simulate your own
model"); ``python tests/onnx_models.py`` writes it again, and a test checks that doing so
gives the same bytes. ``every_op_cnn`` uses every operator the importer supports. The
tests count their parameters and MACs by hand from the shapes written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SHIPPED_EXAMPLE = Path(__file__).resolve().parent.parent / "dlpsim" / "examples" / "small_cnn.onnx"


class _Graph:
    """Nodes and seeded random initializers, named in order."""

    def __init__(self, seed: int = 0):
        self.random = np.random.default_rng(seed)
        self.nodes: list = []
        self.initializers: list = []

    def weight(self, name: str, dims: list[int]) -> str:
        values = (self.random.standard_normal(dims) * 0.1).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def value(self, name: str, values, dtype=np.float32) -> str:
        self.initializers.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output

    def model(self, name: str, inputs: list, outputs: list) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, producer_name="dlpsim tests",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def _image(channels: int = 3, size: int = 32):
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, channels, size, size])


def _cnn_trunk(g: _Graph) -> str:
    """image 3x32x32 -> 16x8x8: the convolutions, normalisations and pooling of both models."""
    x = g.op("Conv", ["image", g.weight("conv1.w", [8, 3, 3, 3]), g.weight("conv1.b", [8])], "conv1",
             kernel_shape=[3, 3], pads=[1, 1, 1, 1])  # 8x32x32
    x = g.op("BatchNormalization", [x, g.weight("bn1.scale", [8]), g.weight("bn1.shift", [8]),
                                    g.value("bn1.mean", [0.0] * 8), g.value("bn1.var", [1.0] * 8)], "bn1")
    x = g.op("Relu", [x], "relu1")
    x = g.op("LRN", [x], "lrn1", size=3)
    x = g.op("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])  # 8x16x16
    x = g.op("Conv", [x, g.weight("conv2.w", [16, 4, 3, 3]), g.weight("conv2.b", [16])], "conv2",
             kernel_shape=[3, 3], group=2, dilations=[2, 2], pads=[2, 2, 2, 2])  # 16x16x16
    x = g.op("Clip", [x, g.value("zero", 0.0), g.value("six", 6.0)], "relu6")
    x = g.op("Conv", [x, g.weight("conv3.w", [16, 1, 3, 3])], "conv3", kernel_shape=[3, 3], group=16,
             strides=[2, 2], pads=[0, 0, 1, 1])  # 16x8x8
    # a batch norm written as Mul and Add of per-channel constants, as Caffe2 exports write it
    scale = g.op("Unsqueeze", [g.weight("bn3.scale", [16]), g.value("axes12", [1, 2], np.int64)], "bn3.s")
    shift = g.op("Unsqueeze", [g.weight("bn3.shift", [16]), "axes12"], "bn3.b")
    x = g.op("Mul", [x, scale], "bn3_mul")
    return g.op("Add", [x, shift], "bn3_add")


def small_cnn() -> onnx.ModelProto:
    """A small CNN with an LSTM head, on a 32x32 RGB image: every layer compiles on both presets."""
    g = _Graph(seed=13)
    x = _cnn_trunk(g)
    x = g.op("GlobalAveragePool", [x], "gap")  # 16x1x1
    x = g.op("Flatten", [x], "flatten")  # 16
    x = g.op("Gemm", [x, g.weight("fc1.w", [24, 16]), g.weight("fc1.b", [24])], "fc1", transB=1)
    x = g.op("Relu", [x], "relu_fc1")
    x = g.op("Reshape", [x, g.value("steps", [4, 1, 6], np.int64)], "steps_view")  # 4 steps of 6
    x = g.op("LSTM", [x, g.weight("lstm.w", [1, 32, 6]), g.weight("lstm.r", [1, 32, 8]),
                      g.weight("lstm.b", [1, 64])], "lstm", hidden_size=8)  # 4x1x1x8
    x = g.op("Reshape", [x, g.value("flat32", [1, 32], np.int64)], "lstm_flat")
    x = g.op("Dropout", [x], "dropout")
    x = g.op("Gemm", [x, g.weight("fc2.w", [10, 32]), g.weight("fc2.b", [10])], "fc2", transB=1)
    x = g.op("Softmax", [x], "prob")
    return g.model("small_cnn", [_image()], [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 10])])


def every_op_cnn() -> onnx.ModelProto:
    """Every operator the importer supports, in one CNN with an attention-like and a recurrent tail."""
    g = _Graph(seed=7)
    y = _cnn_trunk(g)  # 16x8x8
    a = g.op("LeakyRelu", [y], "leaky")
    s = g.op("Sigmoid", [y], "sig")
    t = g.op("Tanh", [y], "tanh")
    st = g.op("Mul", [s, t], "sig_tanh")
    b = g.op("Sub", [y, st], "sub")
    c = g.op("Div", [b, g.value("two", 2.0)], "half")
    gate = g.op("Sigmoid", [g.op("GlobalAveragePool", [y], "se_pool")], "se_gate")  # 16x1x1
    d = g.op("Mul", [y, gate], "se_scale")  # broadcast over 8x8
    total = g.op("Sum", [a, c, d], "sum3")
    p = g.op("AveragePool", [total], "avgpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = g.op("Concat", [total, p], "concat", axis=1)  # 32x8x8
    x = g.op("Dropout", [x], "dropout")
    x = g.op("GlobalAveragePool", [x], "gap")  # 32x1x1
    x = g.op("Flatten", [x], "flatten")
    x = g.op("Gemm", [x, g.weight("fc1.w", [16, 32]), g.weight("fc1.b", [16])], "fc1", transB=1)
    # GELU as PyTorch exports it: x * 0.5 * (1 + erf(x / sqrt 2))
    e = g.op("Erf", [g.op("Div", [x, g.value("sqrt2", 2.0 ** 0.5)], "gelu_div")], "gelu_erf")
    e = g.op("Add", [e, g.value("one", 1.0)], "gelu_add")
    x = g.op("Mul", [g.op("Mul", [x, e], "gelu_mul"), g.value("half_c", 0.5)], "gelu")
    # a Shape-driven target for Reshape: [batch of x, 4, 4]
    batch = g.op("Gather", [g.op("Shape", [x], "shape"), g.value("index0", 0, np.int64)], "batch")
    batch = g.op("Unsqueeze", [batch, g.value("axes0", [0], np.int64)], "batch1")
    four_four = g.op("Constant", [], "four_four", value=numpy_helper.from_array(np.array([4, 4], np.int64)))
    target = g.op("Concat", [batch, four_four], "target", axis=0)
    x = g.op("Reshape", [x, target], "tokens")  # 1x4x4: 4 tokens of 4
    x = g.op("MatMul", [x, g.weight("proj.w", [4, 8])], "proj")
    x = g.op("Add", [x, g.weight("proj.b", [8])], "proj_bias")  # 4x8
    x = g.op("LayerNormalization", [x, g.weight("ln.scale", [8]), g.weight("ln.shift", [8])], "ln", axis=-1)
    keys = g.op("Transpose", [x], "keys", perm=[0, 2, 1])  # 8x4
    x = g.op("MatMul", [x, keys], "scores")  # 4x4
    x = g.op("Softmax", [x], "attention", axis=-1)
    x = g.op("Transpose", [x], "sequence", perm=[1, 0, 2])  # 4 steps x batch 1 x 4
    x = g.op("LSTM", [x, g.weight("lstm.w", [1, 24, 4]), g.weight("lstm.r", [1, 24, 6]),
                      g.weight("lstm.b", [1, 48])], "lstm", hidden_size=6)  # 4x1x1x6
    x = g.op("Squeeze", [x, g.value("axes1", [1], np.int64)], "lstm_y")  # 4x1x6
    x = g.op("GRU", [x, g.weight("gru.w", [1, 15, 6]), g.weight("gru.r", [1, 15, 5])], "gru",
             hidden_size=5)  # 4x1x1x5
    x = g.op("Identity", [x], "gru_y")
    x = g.op("Reshape", [x, g.value("shape20", [1, 20], np.int64)], "flat20")
    x = g.op("Gemm", [x, g.weight("fc2.w", [10, 20]), g.weight("fc2.b", [10])], "fc2", transB=1)
    x = g.op("Softmax", [x], "prob")
    return g.model("every_op_cnn", [_image()], [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 10])])


def encoder_block(tokens: int = 8, width: int = 16, heads: int = 2, hidden: int = 64) -> onnx.ModelProto:
    """A transformer encoder block (post-norm, as BERT's) as PyTorch exports it: heads split by
    Reshape and Transpose, Q x K^T scaled by a Div, GELU written with Erf."""
    g = _Graph(seed=3)
    size = width // heads

    def linear(x: str, name: str, inputs: int, outputs: int) -> str:
        y = g.op("MatMul", [x, g.weight(f"{name}.w", [inputs, outputs])], f"{name}")
        return g.op("Add", [y, g.weight(f"{name}.b", [outputs])], f"{name}_bias")

    def split(x: str, name: str, order: list[int]) -> str:
        shape = g.value(f"{name}.shape", [1, tokens, heads, size], np.int64)
        x = g.op("Reshape", [x, shape], f"{name}_heads")
        return g.op("Transpose", [x], f"{name}_t", perm=order)

    q = split(linear("x", "q", width, width), "q", [0, 2, 1, 3])  # 1 x heads x tokens x size
    k = split(linear("x", "k", width, width), "k", [0, 2, 3, 1])  # 1 x heads x size x tokens
    v = split(linear("x", "v", width, width), "v", [0, 2, 1, 3])
    scores = g.op("Div", [g.op("MatMul", [q, k], "qk"), g.value("sqrt_size", size ** 0.5)], "scaled")
    context = g.op("MatMul", [g.op("Softmax", [scores], "attention", axis=-1), v], "av")
    context = g.op("Transpose", [context], "av_t", perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, g.value("merged", [1, tokens, width], np.int64)], "av_merged")
    x = g.op("Add", [linear(context, "out", width, width), "x"], "residual1")
    x = g.op("LayerNormalization", [x, g.weight("ln1.scale", [width]), g.weight("ln1.shift", [width])], "ln1")
    h = linear(x, "ffn1", width, hidden)
    e = g.op("Erf", [g.op("Div", [h, g.value("sqrt2", 2.0 ** 0.5)], "gelu_div")], "gelu_erf")
    e = g.op("Add", [e, g.value("one", 1.0)], "gelu_add")
    h = g.op("Mul", [g.op("Mul", [h, e], "gelu_mul"), g.value("half", 0.5)], "gelu")
    y = g.op("Add", [linear(h, "ffn2", hidden, width), x], "residual2")
    y = g.op("LayerNormalization", [y, g.weight("ln2.scale", [width]), g.weight("ln2.shift", [width])], "ln2")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, tokens, width])]
    return g.model("encoder_block", inputs, [helper.make_tensor_value_info(y, TensorProto.FLOAT,
                                                                            [1, tokens, width])])


def model_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED_EXAMPLE
    target.write_bytes(model_bytes(small_cnn()))
    print(f"wrote {target}")
