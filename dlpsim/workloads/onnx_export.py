"""Networks as ONNX models: ``dlpsim net export NAME -o FILE.onnx``.

Each layer becomes the ONNX operators the importer (:mod:`dlpsim.workloads.onnx_import`)
reads back as that layer, so a model exported and imported again has the same layers,
parameters and MACs. Shapes gain the batch axis in front (the network's batch, 1 unless
given). Weights are seeded random numbers (scaled by ``1/sqrt(fan-in)``, so activations
stay in range), or zeros written as ``ConstantOfShape`` nodes, which hold no data (VGG-16
in 8 kB, GPT-2 in about 100 kB). Random weights of a network over
:data:`EXTERNAL_DATA_ABOVE` bytes go to ``FILE.onnx.data`` beside the model (ONNX's
external data), written as they are drawn, :data:`RANDOM_CHUNK` values at a time, so the
export holds no copy of them. The files are the same bytes for the same network, weights
and seed.

Transformer layers are written as a framework exports them, in dlpsim's layout (each
layer's output is ``batch x tokens x features``, heads side by side along the features):

- a :class:`MatMul` of ``heads`` splits each operand with ``Reshape`` (``.. x heads x
  size``) and ``Transpose`` (heads first; for ``B^T`` the size before the tokens), multiplies
  the heads with one batched ``MatMul`` and merges them back;
- a :class:`Softmax` over runs of ``length`` values views them as their own axis
  (``Reshape``), scales them with a ``Mul``, masks them with a ``Where`` whose condition is a
  lower triangle made from constants (``ConstantOfShape`` and ``Trilu``), then ``Softmax``;
- an :class:`Embedding` is a ``Gather`` of its table, a :class:`PositionEmbedding` an
  ``Add`` of a ``Slice`` of its table, a :class:`ClassToken` a ``Concat`` of a constant in
  front of the tokens, a fully connected layer ``tied`` to an embedding a ``MatMul`` by the
  ``Transpose`` of that table (one table in the file, as PyTorch writes a tied LM head).

The one layer without an exact ONNX form is the one-step :class:`LSTMCell`: it becomes an
ONNX ``LSTM`` over one step, whose bias holds two sets of ``4 x hidden`` values (input and
recurrent, as PyTorch's), so it imports as an ``lstm`` over a sequence of one step with
the same MACs and ``4 x hidden`` more biases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    Activation,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv2d,
    Elementwise,
    Embedding,
    FullyConnected,
    Layer,
    LayerNorm,
    LocalResponseNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    Recurrent,
    Reshape,
    Slice,
    Softmax,
    Transpose,
    Window,
    elements,
)
from dlpsim.workloads.networks import Network
from dlpsim.workloads.onnx_import import INSTALL_HINT, TARGET_OPSET

WEIGHTS = ("random", "zero")
PROTOBUF_LIMIT = 2**31  # bytes in one protobuf message, so in one .onnx file without external data
# Random weights above this many bytes are written to FILE.onnx.data (AlexNet, VGG, the transformers).
EXTERNAL_DATA_ABOVE = 2**26
# Random values drawn at a time (16 MB of FP32): what the export holds of a large table.
RANDOM_CHUNK = 2**22
PRODUCER = "dlpsim"
# What a masked attention score becomes before its softmax (the float32 minimum, as Hugging Face's
# GPT-2 uses: exp of it minus the row's max is 0).
MASKED_SCORE = -3.4028234663852886e38

_ONNX_ACTIVATIONS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
_ONNX_ELEMENTWISE = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}


def _end_padding(window: Window, size: int, out: int) -> int:
    """The padding after the input that gives ``out`` outputs without ceil mode."""
    return max(0, (out - 1) * window.stride + window.kernel - size - window.padding)


@dataclass(frozen=True)
class _ExternalData:
    """Where large weights go: an open file, named in the model relative to it."""

    file: BinaryIO
    location: str


class _Writer:
    def __init__(self, onnx, numpy, weights: str, seed: int, batch: int, external: _ExternalData | None):
        self.onnx = onnx
        self.numpy = numpy
        self.helper = onnx.helper
        self.weights = weights
        self.random = numpy.random.default_rng(seed)
        self.batch = batch
        self.external = external
        self.nodes: list = []
        self.initializers: list = []
        self.masks: dict[tuple[int, int, bool], str] = {}  # (rows, keys, runs axis) -> the causal mask

    @property
    def scale_fill(self) -> float | None:
        """Normalisation scales of random weights are 1 (zeros would silence the layer)."""
        return None if self.weights == "zero" else 1.0

    def dims(self, shape: tuple[int, ...]) -> list[int]:
        """A layer shape as ONNX dims: the batch axis in front."""
        return [self.batch, *shape]

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, name=name, **attributes))
        return outputs[0]

    def random_chunks(self, count: int, fan_in: int, fill: float | None):
        """The values of a tensor of ``count`` elements, in chunks of at most RANDOM_CHUNK."""
        numpy = self.numpy
        for start in range(0, count, RANDOM_CHUNK):
            size = min(RANDOM_CHUNK, count - start)
            if fill is not None:
                yield numpy.full(size, fill, dtype=numpy.float32)
            else:
                values = self.random.standard_normal(size, dtype=numpy.float32)
                values *= numpy.float32(1 / math.sqrt(fan_in))
                yield values

    def constant(self, name: str, dims: list[int], fan_in: int = 1, fill: float | None = None) -> str:
        """A float parameter tensor: seeded random (or ``fill``), or with zero weights a
        ConstantOfShape node of zeros (or ``fill``), which holds no data."""
        numpy = self.numpy
        if self.weights == "zero":
            shape = self.integers(f"{name}/shape", dims)
            value = self.onnx.numpy_helper.from_array(numpy.array([fill or 0.0], dtype=numpy.float32))
            return self.node("ConstantOfShape", [shape], [name], f"{name}/fill", value=value)
        chunks = self.random_chunks(math.prod(dims), fan_in, fill)
        if self.external is None:
            values = numpy.concatenate(list(chunks)).reshape(dims)
            self.initializers.append(self.onnx.numpy_helper.from_array(values, name))
            return name
        tensor = self.onnx.TensorProto(name=name, data_type=self.onnx.TensorProto.FLOAT, dims=dims)
        offset = self.external.file.tell()
        for chunk in chunks:
            self.external.file.write(chunk.astype("<f4", copy=False).tobytes())
        length = self.external.file.tell() - offset
        for key, value in (("location", self.external.location), ("offset", offset), ("length", length)):
            tensor.external_data.add(key=key, value=str(value))
        tensor.data_location = self.onnx.TensorProto.EXTERNAL
        self.initializers.append(tensor)
        return name

    def integers(self, name: str, values: list[int] | int) -> str:
        array = self.numpy.array(values, dtype=self.numpy.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def scalar(self, name: str, value: float) -> str:
        array = self.numpy.array(value, dtype=self.numpy.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def reshape(self, source: str, shape: tuple[int, ...], output: str, node_name: str | None = None) -> str:
        """``source`` seen as ``shape``; the node is named ``node_name`` (default: its output), which
        must differ from the name of the node whose layer the output is."""
        node_name = node_name or output
        return self.node("Reshape", [source, self.integers(f"{node_name}/shape", self.dims(shape))], [output],
                         node_name)

    # -- one layer ------------------------------------------------------------------------
    def layer(self, layer: Layer, inputs: list[str]) -> None:
        name = layer.name
        if isinstance(layer, Conv2d):
            return self.conv(layer, inputs[0])
        if isinstance(layer, FullyConnected):
            return self.fully_connected(layer, inputs[0])
        if isinstance(layer, Pool):
            return self.pool(layer, inputs[0])
        if isinstance(layer, Activation):
            return self.activation(layer, inputs[0])
        if isinstance(layer, BatchNorm):
            if len(layer.input_shape) == 2:
                raise WorkloadError(f"{name}: a batch norm over the features of rows has no ONNX "
                                    "BatchNormalization form (its channels are the second axis)")
            channels = [layer.channels]
            parameters = [self.constant(f"{name}.weight", channels, fill=self.scale_fill),
                          self.constant(f"{name}.bias", channels),
                          self.constant(f"{name}.running_mean", channels, fill=0.0),
                          self.constant(f"{name}.running_var", channels, fill=1.0)]
            return self.node("BatchNormalization", [inputs[0], *parameters], [name], name)
        if isinstance(layer, Add):
            return self.node("Add" if len(inputs) == 2 else "Sum", inputs, [name], name)
        if isinstance(layer, Elementwise):
            operands = list(inputs)
            if layer.constant_shape is not None:
                constant = self.constant(f"{name}.constant", list(layer.constant_shape)) if \
                    elements(layer.constant_shape) > 1 else self.scalar(f"{name}.constant", 1.0)
                operands.insert(0 if layer.constant_first else len(operands), constant)
            return self.node(_ONNX_ELEMENTWISE[layer.operation], operands, [name], name)
        if isinstance(layer, Concat):
            return self.node("Concat", inputs, [name], name, axis=layer.axis + 1)
        if isinstance(layer, LocalResponseNorm):
            return self.node("LRN", inputs, [name], name, size=layer.size, alpha=layer.alpha, beta=layer.beta,
                             bias=layer.bias)
        if isinstance(layer, LSTMCell | Recurrent):
            return self.recurrent(layer, inputs[0])
        if isinstance(layer, Softmax):
            return self.softmax(layer, inputs[0])
        if isinstance(layer, MatMul):
            return self.matmul(layer, inputs[0], inputs[1])
        if isinstance(layer, LayerNorm):
            features = [layer.features]
            scale = self.constant(f"{name}.weight", features, fill=self.scale_fill)
            shift = self.constant(f"{name}.bias", features)
            return self.node("LayerNormalization", [inputs[0], scale, shift], [name], name, axis=-1,
                             epsilon=layer.epsilon)
        if isinstance(layer, Embedding):
            table = self.constant(f"{name}.weight", [layer.vocabulary, layer.dim])
            return self.node("Gather", [table, inputs[0]], [name], name, axis=0)
        if isinstance(layer, PositionEmbedding):
            tokens, dim = layer.input_shape
            table = self.constant(f"{name}.weight", [layer.positions, dim])
            rows = self.node("Slice", [table, self.integers(f"{name}/start", [layer.first_position]),
                                       self.integers(f"{name}/stop", [layer.first_position + tokens]),
                                       self.integers(f"{name}/axes", [0])], [f"{name}/rows"], f"{name}/rows")
            return self.node("Add", [inputs[0], rows], [name], name)
        if isinstance(layer, ClassToken):
            dim = layer.input_shape[1]
            token = self.constant(f"{name}.weight", [1, 1, dim])
            if self.batch > 1:  # one copy per sample, as torchvision's expand
                token = self.node("Expand", [token, self.integers(f"{name}/batch", [self.batch, 1, dim])],
                                  [f"{name}/expanded"], f"{name}/expanded")
            return self.node("Concat", [token, inputs[0]], [name], name, axis=1)
        if isinstance(layer, Slice):
            bounds = [self.integers(f"{name}/{what}", [value])
                      for what, value in (("start", layer.start), ("stop", layer.stop), ("axes", 1))]
            return self.node("Slice", [inputs[0], *bounds], [name], name)
        if isinstance(layer, Reshape):
            return self.reshape(inputs[0], layer.shape, name)
        if isinstance(layer, Transpose):
            permutation = [0, *(axis + 1 for axis in layer.permutation)]  # the batch axis stays first
            return self.node("Transpose", inputs, [name], name, perm=permutation)
        raise WorkloadError(f"{name}: a {layer.describe()} layer has no ONNX export yet")

    def conv(self, layer: Conv2d, source: str) -> None:
        name = layer.name
        fan_in = layer.in_channels // layer.groups * layer.kernel[0] * layer.kernel[1]
        weight = self.constant(f"{name}.weight", [layer.out_channels, layer.in_channels // layer.groups,
                                                  *layer.kernel], fan_in)
        inputs = [source, weight]
        if layer.bias:
            inputs.append(self.constant(f"{name}.bias", [layer.out_channels]))
        self.node("Conv", inputs, [name], name, kernel_shape=list(layer.kernel), strides=list(layer.stride),
                  pads=self.pads(layer), group=layer.groups, dilations=list(layer.dilation))

    def pads(self, layer: Conv2d | Pool) -> list[int]:
        """ONNX pads: the layer's own; a convolution in ceil mode (which ONNX's Conv lacks) gets
        as much padding after the input as its last window needs."""
        if isinstance(layer, Conv2d) and layer.ceil_mode:
            ends = [_end_padding(window, size, out) for window, size, out in
                    zip(layer.windows, layer.input_shape[1:], layer.output_shape[1:], strict=True)]
        else:
            ends = list(layer.padding_end or layer.padding)
        return [*layer.padding, *ends]

    def pool(self, layer: Pool, source: str) -> None:
        op_type = "MaxPool" if layer.mode == "max" else "AveragePool"
        extra = {} if layer.mode == "max" else {"count_include_pad": 1}
        if layer.ceil_mode:
            extra["ceil_mode"] = 1
        self.node(op_type, [source], [layer.name], layer.name, kernel_shape=list(layer.kernel),
                  strides=list(layer.stride), pads=self.pads(layer), **extra)

    def activation(self, layer: Activation, source: str) -> None:
        name = layer.name
        if layer.function in _ONNX_ACTIVATIONS:
            return self.node(_ONNX_ACTIVATIONS[layer.function], [source], [name], name)
        if layer.function in ("relu6", "clip"):
            low, high = (0.0, 6.0) if layer.bounds is None else layer.bounds
            bounds = ["" if bound is None else self.scalar(f"{name}.{side}", bound)
                      for bound, side in ((low, "min"), (high, "max"))]
            return self.node("Clip", [source, *bounds], [name], name)
        if layer.function == "gelu":  # x * 0.5 * (1 + erf(x / sqrt 2)), as PyTorch exports it
            scaled = self.node("Div", [source, self.scalar(f"{name}.sqrt2", math.sqrt(2.0))], [f"{name}/div"],
                               f"{name}/div")
            erf = self.node("Erf", [scaled], [f"{name}/erf"], f"{name}/erf")
            plus = self.node("Add", [erf, self.scalar(f"{name}.one", 1.0)], [f"{name}/add"], f"{name}/add")
            times = self.node("Mul", [plus, source], [f"{name}/mul"], f"{name}/mul")
            return self.node("Mul", [times, self.scalar(f"{name}.half", 0.5)], [name], name)
        raise WorkloadError(f"{name}: the activation {layer.function} has no ONNX export")

    def fully_connected(self, layer: FullyConnected, source: str) -> None:
        name = layer.name
        if len(layer.input_shape) == 2:  # rows: MatMul, then Add of the bias (the importer fuses them)
            if layer.tied:  # the embedding's table read again, transposed: one table in the file
                weight = self.node("Transpose", [f"{layer.tied}.weight"], [f"{name}/weight"],
                                   f"{name}/weight", perm=[1, 0])
            else:
                weight = self.constant(f"{name}.weight", [layer.in_features, layer.out_features],
                                       layer.in_features)
            product = self.node("MatMul", [source, weight], [f"{name}/matmul" if layer.bias else name], name)
            if layer.bias:
                self.node("Add", [product, self.constant(f"{name}.bias", [layer.out_features])], [name],
                          f"{name}/bias")
            return
        if layer.tied:
            raise WorkloadError(f"{name}: a tied layer over a vector has no ONNX export (over rows it has)")
        if len(layer.input_shape) == 3:
            flat = f"{name}/flatten"
            self.node("Flatten", [source], [flat], flat, axis=1)
            source = flat
        inputs = [source, self.constant(f"{name}.weight", [layer.out_features, layer.in_features],
                                        layer.in_features)]
        if layer.bias:
            inputs.append(self.constant(f"{name}.bias", [layer.out_features]))
        self.node("Gemm", inputs, [name], name, transB=1)

    def heads(self, source: str, shape: tuple[int, ...], heads: int, last_two: tuple[int, int],
              output: str) -> str:
        """``(rows, heads x size)`` split into ``batch x rows x heads x size`` and seen heads first:
        the last two axes are (rows, size) with ``last_two`` (1, 3), (size, rows) with (3, 1)."""
        rows, features = shape
        split = self.reshape(source, (rows, heads, features // heads), f"{output}/split")
        return self.node("Transpose", [split], [output], output, perm=[0, 2, *last_two])

    def matmul(self, layer: MatMul, a: str, b: str) -> None:
        name = layer.name
        a_shape, b_shape = layer.input_shapes
        if len(a_shape) == len(b_shape) == 2:
            heads = layer.heads
            left = self.heads(a, a_shape, heads, (1, 3), f"{name}/a")
            right = self.heads(b, b_shape, heads, (3, 1) if layer.transpose_b else (1, 3), f"{name}/b")
            product = self.node("MatMul", [left, right], [f"{name}/heads"], name)  # batch x heads x M x N
            merged = self.node("Transpose", [product], [f"{name}/merge"], f"{name}/merge", perm=[0, 2, 1, 3])
            self.reshape(merged, layer.output_shape, name, f"{name}/view")
            return
        if layer.heads == 1 and not layer.transpose_b and len(b_shape) == len(a_shape):
            self.node("MatMul", [a, b], [name], name)
            return
        raise WorkloadError(f"{name}: a {layer.describe()} layer of {len(a_shape)}-axis operands has no ONNX "
                            "export yet (two-axis ones with heads have)")

    def softmax(self, layer: Softmax, source: str) -> None:
        """Runs of ``length`` values of a row seen as an axis of their own (when the row holds more
        than one: the heads side by side), then the scale, the mask and the softmax over that axis."""
        name = layer.name
        shape = layer.input_shape
        runs = shape[-1] // layer.length
        rows = shape[-2] if len(shape) >= 2 else 1
        scores = source
        if runs > 1:
            if len(shape) != 2:
                raise WorkloadError(f"{name}: a {layer.describe()} layer over {len(shape)} axes has no ONNX "
                                    "export yet (over rows it has)")
            scores = self.reshape(source, (rows, runs, layer.length), f"{name}/runs")
        if layer.scaled:
            scores = self.node("Mul", [scores, self.scalar(f"{name}.scale", layer.scale)], [f"{name}/scaled"],
                               f"{name}/scaled")
        if layer.masked:
            scores = self.node("Where", [self.causal_mask(rows, layer.length, runs > 1), scores,
                                         self.scalar(f"{name}.masked", MASKED_SCORE)],
                               [f"{name}/masked"], f"{name}/masked")
        if runs == 1:
            self.node("Softmax", [scores], [name], name, axis=-1)
            return
        probabilities = self.node("Softmax", [scores], [f"{name}/probabilities"], name, axis=-1)
        self.reshape(probabilities, shape, name, f"{name}/view")

    def causal_mask(self, rows: int, keys: int, runs_axis: bool) -> str:
        """``rows x keys`` booleans (``rows x 1 x keys`` over an axis of runs), true where query row
        ``r`` sees key ``k``: ``k <= r + keys - rows``. Made from constants (folded by the importer),
        so the file holds no table; layers of the same sizes share it."""
        if (rows, keys, runs_axis) not in self.masks:
            name = f"causal_mask_{rows}x{keys}" + ("_runs" if runs_axis else "")
            true = self.onnx.numpy_helper.from_array(self.numpy.array([True]))
            ones = self.node("ConstantOfShape", [self.integers(f"{name}/shape", [rows, keys])],
                             [f"{name}/ones"], f"{name}/ones", value=true)
            lower = self.node("Trilu", [ones, self.integers(f"{name}/diagonal", keys - rows)],
                              [name if not runs_axis else f"{name}/lower"], f"{name}/lower", upper=0)
            if runs_axis:
                lower = self.node("Unsqueeze", [lower, self.integers(f"{name}/axes", [1])], [name], name)
            self.masks[(rows, keys, runs_axis)] = lower
        return self.masks[(rows, keys, runs_axis)]

    def recurrent(self, layer: LSTMCell | Recurrent, source: str) -> None:
        name = layer.name
        if self.batch > 1:  # ONNX's recurrent input is steps x batch x features: a transpose we do not write
            raise WorkloadError(f"{name}: a recurrent layer has no ONNX export at a batch above 1 yet")
        features, hidden = layer.input_size, layer.hidden_size
        extra = {}
        if isinstance(layer, LSTMCell):
            cell, steps, direction, bias_sets = "lstm", 1, "forward", 2
        else:
            cell, steps, direction, bias_sets = layer.cell, layer.steps, layer.direction, layer.bias_sets
            if layer.linear_before_reset:
                extra["linear_before_reset"] = 1
            if bias_sets == 1:
                raise WorkloadError(f"{name}: one set of biases has no ONNX form (ONNX keeps two)")
        directions = 2 if direction == "bidirectional" else 1
        gates = {"lstm": 4, "gru": 3}[cell] * hidden
        sequence = f"{name}/sequence"  # steps x batch x features
        self.node("Reshape", [source, self.integers(f"{sequence}/shape", [steps, 1, features])], [sequence],
                  sequence)
        fan_in = features + hidden
        inputs = [sequence, self.constant(f"{name}.weight_ih", [directions, gates, features], fan_in),
                  self.constant(f"{name}.weight_hh", [directions, gates, hidden], fan_in)]
        if bias_sets:
            inputs.append(self.constant(f"{name}.bias", [directions, 2 * gates]))
        output = f"{name}/y"
        self.node(cell.upper(), inputs, [output], name, hidden_size=hidden, direction=direction, **extra)
        self.node("Reshape", [output, self.integers(f"{name}/shape", self.dims(layer.output_shape))], [name],
                  f"{name}/view")


def _modules():
    try:
        import numpy
        import onnx
    except ImportError:
        raise WorkloadError(INSTALL_HINT.replace("reading", "writing")) from None
    return onnx, numpy


def _check_weights(weights: str) -> None:
    if weights not in WEIGHTS:
        raise WorkloadError(f"unknown weights {weights!r} (known: {', '.join(WEIGHTS)})")


def _model(onnx, numpy, network: Network, weights: str, seed: int, external: _ExternalData | None):
    writer = _Writer(onnx, numpy, weights, seed, network.batch, external)
    for node in network.nodes:
        writer.layer(node.layer, list(node.inputs))
    helper = onnx.helper
    # token ids are integers (what Gather indexes a table with); everything else is FP32
    ids = {node.inputs[0] for node in network.nodes if isinstance(node.layer, Embedding)}
    float32, int64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    inputs = [helper.make_tensor_value_info(name, int64 if name in ids else float32, writer.dims(shape))
              for name, shape in network.inputs]
    outputs = [helper.make_tensor_value_info(name, float32, writer.dims(network.shape(name)))
               for name in network.outputs]
    graph = helper.make_graph(writer.nodes, network.name, inputs, outputs, writer.initializers)
    model = helper.make_model(graph, producer_name=PRODUCER,
                              opset_imports=[helper.make_opsetid("", TARGET_OPSET)])
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    model.doc_string = network.description
    return model


def export_onnx(network: Network, weights: str = "random", seed: int = 0):
    """The network as an ONNX ModelProto (opset :data:`TARGET_OPSET`), every weight in it."""
    onnx, numpy = _modules()
    _check_weights(weights)
    if weights == "random" and network.params * 4 >= PROTOBUF_LIMIT:  # refused before making them
        raise WorkloadError(f"{network.name}: {network.params:,} random FP32 weights are "
                            f"{network.params * 4:,} bytes, over the 2 GB limit of one ONNX file; "
                            "export it with --weights zero, or write it to a file (its weights go to "
                            "external data)")
    model = _model(onnx, numpy, network, weights, seed, None)
    onnx.checker.check_model(model)
    return model


def external_data_path(path: str | Path) -> Path:
    """Where :func:`write_onnx` puts the random weights of a large network: ``FILE.onnx.data``."""
    path = Path(path)
    return path.with_name(path.name + ".data")


def write_onnx(network: Network, path: str | Path, weights: str = "random", seed: int = 0) -> Path | None:
    """Write the model to ``path``; random weights over :data:`EXTERNAL_DATA_ABOVE` bytes go to
    :func:`external_data_path`, which is returned (None when every weight is in the model)."""
    onnx, numpy = _modules()
    _check_weights(weights)
    path = Path(path)
    external = weights == "random" and network.params * 4 > EXTERNAL_DATA_ABOVE
    try:
        if not external:
            model = export_onnx(network, weights, seed)
            size = model.ByteSize()
            if size >= PROTOBUF_LIMIT:
                raise WorkloadError(f"{network.name}: the model is {size:,} bytes, over the 2 GB limit of "
                                    "one ONNX file; export it with --weights zero", str(path))
            path.write_bytes(model.SerializeToString(deterministic=True))
            return None
        data_path = external_data_path(path)
        try:
            with data_path.open("wb") as data:
                model = _model(onnx, numpy, network, weights, seed, _ExternalData(data, data_path.name))
        except WorkloadError:  # a layer without an export: no half-written weights left behind
            data_path.unlink()
            raise
        path.write_bytes(model.SerializeToString(deterministic=True))
    except OSError as error:
        raise WorkloadError(f"cannot write the model: {error.strerror}", str(path)) from None
    onnx.checker.check_model(str(path))  # by path, so that it finds the external data
    return data_path
