"""Networks as ONNX models: ``dlpsim net export NAME -o FILE.onnx``.

Each layer becomes the ONNX operators the importer (:mod:`dlpsim.workloads.onnx_import`)
reads back as that layer, so a model exported and imported again has the same layers,
parameters and MACs. Shapes gain a batch axis of 1 in front. Weights are seeded random
numbers (scaled by ``1/sqrt(fan-in)``, so activations stay in range), or zeros written as
``ConstantOfShape`` nodes, which hold no data (VGG-16 in 8 kB). The
file is the same bytes for the same network, weights and seed.

The one layer without an exact ONNX form is the one-step :class:`LSTMCell`: it becomes an
ONNX ``LSTM`` over one step, whose bias holds two sets of ``4 x hidden`` values (input and
recurrent, as PyTorch's), so it imports as an ``lstm`` over a sequence of one step with
the same MACs and ``4 x hidden`` more biases.
"""

from __future__ import annotations

import math
from pathlib import Path

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv2d,
    Elementwise,
    FullyConnected,
    Layer,
    LayerNorm,
    LocalResponseNorm,
    LSTMCell,
    Pool,
    Recurrent,
    Reshape,
    Softmax,
    Window,
    elements,
)
from dlpsim.workloads.networks import Network
from dlpsim.workloads.onnx_import import INSTALL_HINT, TARGET_OPSET

WEIGHTS = ("random", "zero")
PROTOBUF_LIMIT = 2**31  # bytes in one protobuf message, so in one .onnx file without external data
PRODUCER = "dlpsim"

_ONNX_ACTIVATIONS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
_ONNX_ELEMENTWISE = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}


def _dims(shape: tuple[int, ...]) -> list[int]:
    return [1, *shape]


def _end_padding(window: Window, size: int, out: int) -> int:
    """The padding after the input that gives ``out`` outputs without ceil mode."""
    return max(0, (out - 1) * window.stride + window.kernel - size - window.padding)


class _Writer:
    def __init__(self, onnx, numpy, weights: str, seed: int):
        self.onnx = onnx
        self.numpy = numpy
        self.helper = onnx.helper
        self.weights = weights
        self.random = numpy.random.default_rng(seed)
        self.nodes: list = []
        self.initializers: list = []

    @property
    def scale_fill(self) -> float | None:
        """Normalisation scales of random weights are 1 (zeros would silence the layer)."""
        return None if self.weights == "zero" else 1.0

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str, **attributes) -> None:
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, name=name, **attributes))

    def constant(self, name: str, dims: list[int], fan_in: int = 1, fill: float | None = None) -> str:
        """A float parameter tensor: seeded random (or ``fill``), or with zero weights a
        ConstantOfShape node of zeros (or ``fill``), which holds no data."""
        numpy = self.numpy
        if self.weights == "random":
            if fill is not None:
                values = numpy.full(dims, fill, dtype=numpy.float32)
            else:
                values = (self.random.standard_normal(dims) / math.sqrt(fan_in)).astype(numpy.float32)
            self.initializers.append(self.onnx.numpy_helper.from_array(values, name))
            return name
        shape = self.integers(f"{name}/shape", dims)
        value = self.onnx.numpy_helper.from_array(numpy.array([fill or 0.0], dtype=numpy.float32))
        self.node("ConstantOfShape", [shape], [name], f"{name}/fill", value=value)
        return name

    def integers(self, name: str, values: list[int]) -> str:
        array = self.numpy.array(values, dtype=self.numpy.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def scalar(self, name: str, value: float) -> str:
        array = self.numpy.array(value, dtype=self.numpy.float32)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

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
        if isinstance(layer, Softmax) and layer.length == layer.input_shape[-1]:
            return self.node("Softmax", inputs, [name], name, axis=-1)
        if isinstance(layer, LayerNorm):
            features = [layer.features]
            scale = self.constant(f"{name}.weight", features, fill=self.scale_fill)
            shift = self.constant(f"{name}.bias", features)
            return self.node("LayerNormalization", [inputs[0], scale, shift], [name], name, axis=-1)
        if isinstance(layer, Reshape):
            shape = self.integers(f"{name}/shape", _dims(layer.shape))
            return self.node("Reshape", [inputs[0], shape], [name], name)
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
            steps = [("Div", [source, self.scalar(f"{name}.sqrt2", math.sqrt(2.0))]),
                     ("Erf", None), ("Add", self.scalar(f"{name}.one", 1.0)),
                     ("Mul", source), ("Mul", self.scalar(f"{name}.half", 0.5))]
            previous = None
            for index, (op_type, operand) in enumerate(steps):
                output = name if index == len(steps) - 1 else f"{name}/{op_type.lower()}{index}"
                if index == 0:
                    operands = operand
                elif operand is None:
                    operands = [previous]
                else:
                    operands = [previous, operand] if isinstance(operand, str) else [previous, *operand]
                self.node(op_type, operands, [output], output)
                previous = output
            return None
        raise WorkloadError(f"{name}: the activation {layer.function} has no ONNX export")

    def fully_connected(self, layer: FullyConnected, source: str) -> None:
        name = layer.name
        if layer.tied:
            raise WorkloadError(f"{name}: a layer tied to another's table has no ONNX export yet")
        if len(layer.input_shape) == 2:  # rows: MatMul, then Add of the bias (the importer fuses them)
            weight = self.constant(f"{name}.weight", [layer.in_features, layer.out_features],
                                   layer.in_features)
            output = f"{name}/matmul" if layer.bias else name
            self.node("MatMul", [source, weight], [output], output)
            if layer.bias:
                self.node("Add", [output, self.constant(f"{name}.bias", [layer.out_features])], [name], name)
            return
        if len(layer.input_shape) == 3:
            flat = f"{name}/flatten"
            self.node("Flatten", [source], [flat], flat, axis=1)
            source = flat
        inputs = [source, self.constant(f"{name}.weight", [layer.out_features, layer.in_features],
                                        layer.in_features)]
        if layer.bias:
            inputs.append(self.constant(f"{name}.bias", [layer.out_features]))
        self.node("Gemm", inputs, [name], name, transB=1)

    def recurrent(self, layer: LSTMCell | Recurrent, source: str) -> None:
        name = layer.name
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
        shape = list(layer.output_shape)
        self.node("Reshape", [output, self.integers(f"{name}/shape", [1, *shape])], [name], f"{name}/view")


def export_onnx(network: Network, weights: str = "random", seed: int = 0):
    """The network as an ONNX ModelProto (opset :data:`TARGET_OPSET`)."""
    try:
        import numpy
        import onnx
    except ImportError:
        raise WorkloadError(INSTALL_HINT.replace("reading", "writing")) from None
    if weights not in WEIGHTS:
        raise WorkloadError(f"unknown weights {weights!r} (known: {', '.join(WEIGHTS)})")
    if weights == "random" and network.params * 4 >= PROTOBUF_LIMIT:  # refused before making them
        raise WorkloadError(f"{network.name}: {network.params:,} random FP32 weights are "
                            f"{network.params * 4:,} bytes, over the 2 GB limit of one ONNX file; "
                            "export it with --weights zero")
    writer = _Writer(onnx, numpy, weights, seed)
    for node in network.nodes:
        writer.layer(node.layer, list(node.inputs))
    helper = onnx.helper
    float32 = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(name, float32, _dims(shape)) for name, shape in network.inputs]
    outputs = [helper.make_tensor_value_info(name, float32, _dims(network.shape(name)))
               for name in network.outputs]
    graph = helper.make_graph(writer.nodes, network.name, inputs, outputs, writer.initializers)
    model = helper.make_model(graph, producer_name=PRODUCER,
                              opset_imports=[helper.make_opsetid("", TARGET_OPSET)])
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    model.doc_string = network.description
    onnx.checker.check_model(model)
    return model


def write_onnx(network: Network, path: str | Path, weights: str = "random", seed: int = 0) -> None:
    model = export_onnx(network, weights, seed)
    size = model.ByteSize()
    if size >= PROTOBUF_LIMIT:
        raise WorkloadError(f"{network.name}: the model is {size:,} bytes, over the 2 GB limit of one "
                            "ONNX file; export it with --weights zero", str(path))
    try:
        Path(path).write_bytes(model.SerializeToString(deterministic=True))
    except OSError as error:
        raise WorkloadError(f"cannot write the model: {error.strerror}", str(path)) from None
