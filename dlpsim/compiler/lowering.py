"""Layer -> Problem: every layer the compiler maps, in one shape.

A Problem is a (possibly grouped) sliding-window operator on a feature map:
``groups`` independent channel groups, each reading ``in_channels`` channels of an
``in_height x in_width`` map through a ``kernel`` window at ``stride`` with
``padding``, and writing ``out_channels`` channels of ``out_height x out_width``.
Convolutions are that literally; a fully connected layer of M rows is a 1x1
convolution over an M x 1 map; an LSTM step is its gate matrix plus vector work;
pooling and element-wise layers are window operators with no weights whose work
goes to the vector unit. The workload says nothing about the machine; this module
says nothing about tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    FP32_BYTES,
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv2d,
    Elementwise,
    FullyConnected,
    Layer,
    LocalResponseNorm,
    LSTMCell,
    Pool,
    Recurrent,
    Reshape,
    Softmax,
    Transpose,
    elements,
)


@dataclass(frozen=True)
class Problem:
    name: str
    description: str
    groups: int
    in_channels: int  # per group
    out_channels: int  # per group
    in_height: int
    in_width: int
    out_height: int
    out_width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    matrix: bool  # True: MACs on the matrix unit with weights in WRAM
    input_tensors: int = 1  # an element-wise add reads several maps of the same shape
    # Values per output channel kept in WRAM beside the weights (biases, BN scale and shift).
    per_channel_values: int = 0
    # The layer's vector-unit work, in total (distributed over tiles in proportion to outputs).
    vector_ops: tuple[tuple[str, int], ...] = ()
    # Bytes read once before the first tile and written once after the last one (LSTM state).
    extra_input_bytes: int = 0
    extra_output_bytes: int = 0
    bytes_per_element: int = FP32_BYTES
    # Input positions between a kernel's taps (a dilated convolution); the taps stay ``kernel``.
    dilation: tuple[int, int] = (1, 1)

    @property
    def reach(self) -> tuple[int, int]:
        """Input positions one output's window spans per axis: what a tile's input halo covers."""
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def window(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def macs(self) -> int:
        if not self.matrix:
            return 0
        outputs = self.groups * self.out_channels * self.out_height * self.out_width
        return outputs * self.in_channels * self.window

    @property
    def outputs(self) -> int:
        return self.groups * self.out_channels * self.out_height * self.out_width

    @property
    def weight_bytes(self) -> int:
        weights = self.in_channels * self.window if self.matrix else 0
        return self.groups * self.out_channels * (weights + self.per_channel_values) * self.bytes_per_element

    @property
    def input_bytes(self) -> int:
        per_map = self.groups * self.in_channels * self.in_height * self.in_width
        return per_map * self.input_tensors * self.bytes_per_element + self.extra_input_bytes

    @property
    def output_bytes(self) -> int:
        return self.outputs * self.bytes_per_element + self.extra_output_bytes


def _as_map(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """An element-wise layer's shape as channels x height x width: leading axes fold into channels."""
    if len(shape) < 3:
        return (1, *(1,) * (2 - len(shape)), *shape)
    return (elements(shape[:-2]), shape[-2], shape[-1])


def _vector_ops(layer: Layer) -> tuple[tuple[str, int], ...]:
    return tuple((op, count) for op, count in layer.vector_ops.items() if count)


def lower(layer: Layer) -> Problem | None:
    """The layer as a Problem; None for a layer that moves no data of its own (concat)."""
    base = {"name": layer.label, "description": layer.describe(), "vector_ops": _vector_ops(layer)}
    if isinstance(layer, Conv2d):
        channels, height, width = layer.input_shape
        _, out_height, out_width = layer.output_shape
        return Problem(**base, groups=layer.groups, in_channels=channels // layer.groups,
                       out_channels=layer.out_channels // layer.groups, in_height=height, in_width=width,
                       out_height=out_height, out_width=out_width, kernel=layer.kernel,
                       stride=layer.stride, padding=layer.padding, matrix=True,
                       per_channel_values=1 if layer.bias else 0, dilation=layer.dilation)
    if isinstance(layer, FullyConnected | LSTMCell):
        if isinstance(layer, FullyConnected):
            rows, features, outputs = layer.rows, layer.in_features, layer.out_features
            extra_in = extra_out = 0
            bias = layer.bias
        else:  # the gates are one matrix over [x; h_prev]; c_prev comes in and c goes out too
            rows, features, outputs = 1, layer.input_size + layer.hidden_size, 4 * layer.hidden_size
            extra_in = layer.hidden_size * FP32_BYTES
            # h and c are written, not the 4 x hidden gate values
            extra_out = (2 * layer.hidden_size - outputs) * FP32_BYTES
            bias = True
        return Problem(**base, groups=1, in_channels=features, out_channels=outputs, in_height=rows,
                       in_width=1, out_height=rows, out_width=1, kernel=(1, 1), stride=(1, 1),
                       padding=(0, 0), matrix=True, per_channel_values=1 if bias else 0,
                       extra_input_bytes=extra_in, extra_output_bytes=extra_out)
    if isinstance(layer, Recurrent):
        # each direction's gates as one matrix over [x; h], a GEMM with a row per step (the
        # weights stay on chip across steps); h is written, not the gate values
        rows, features = layer.steps, layer.input_size + layer.hidden_size
        written = layer.directions * layer.gate_rows * rows * FP32_BYTES
        return Problem(**base, groups=layer.directions, in_channels=features, out_channels=layer.gate_rows,
                       in_height=rows, in_width=1, out_height=rows, out_width=1, kernel=(1, 1),
                       stride=(1, 1), padding=(0, 0), matrix=True, per_channel_values=layer.bias_sets,
                       extra_output_bytes=layer.output_bytes() - written)
    if isinstance(layer, Elementwise):
        return _lower_elementwise(layer, base)
    if isinstance(layer, Pool):
        channels, height, width = layer.input_shape
        _, out_height, out_width = layer.output_shape
        return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                       in_width=width, out_height=out_height, out_width=out_width, kernel=layer.kernel,
                       stride=layer.stride, padding=layer.padding, matrix=False)
    if isinstance(layer, Activation | BatchNorm | Add | LocalResponseNorm | Softmax):
        shape = layer.input_shapes[0]
        channels, height, width = _as_map(shape)
        return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                       in_width=width, out_height=height, out_width=width, kernel=(1, 1),
                       stride=(1, 1), padding=(0, 0), matrix=False,
                       input_tensors=len(layer.input_shapes),
                       per_channel_values=2 if isinstance(layer, BatchNorm) else 0)
    if isinstance(layer, Concat | Reshape | Transpose):  # views: the reader fetches its tiles in order
        return None
    raise WorkloadError(f"{layer.label}: the compiler does not know {type(layer).__name__} layers")


def _lower_elementwise(layer: Elementwise, base: dict) -> Problem:
    """Inputs of the output's full shape are read tile by tile; smaller (broadcast) ones once,
    before the first tile. A constant operand is per-channel values when it divides evenly
    over the output's channels, else one block of values beside a single channel."""
    shape = layer.output_shape
    channels, height, width = _as_map(shape)
    full = [each for each in layer.input_shapes if elements(each) == elements(shape)]
    if not full:
        layer._fail("broadcasting activations into a larger shape than every input is not compiled")
    smaller = sum(elements(each) for each in layer.input_shapes if elements(each) != elements(shape))
    if layer.params % channels:
        channels, height, width = 1, 1, elements(shape)
    return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                   in_width=width, out_height=height, out_width=width, kernel=(1, 1), stride=(1, 1),
                   padding=(0, 0), matrix=False, input_tensors=len(full),
                   per_channel_values=layer.params // channels, extra_input_bytes=smaller * FP32_BYTES)


def check_lowering(layer: Layer, problem: Problem) -> None:
    """The lowering keeps the layer's arithmetic: its MACs and every byte count."""
    ours = (problem.macs, problem.weight_bytes, problem.input_bytes, problem.output_bytes)
    theirs = (layer.macs, layer.weight_bytes(), layer.input_bytes(), layer.output_bytes())
    if ours != theirs:
        raise AssertionError(f"{layer.label}: lowered to (MACs, weight, input, output bytes) {ours}, "
                             f"the layer has {theirs}")
