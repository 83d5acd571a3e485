"""Layers with exact shape, parameter, MAC and vector-operation arithmetic.

A layer is the workload of one operator on concrete input shapes: it says what it
computes, never how a machine maps it (that is the compiler's business).

Shapes are tuples of element counts, outermost first:

- ``(channels, height, width)``: a feature map;
- ``(features,)``: a vector;
- ``(rows, features)``: a batch of row vectors, the left operand of a GEMM (SCALE-Sim's
  GEMM rows; the textbook's "FC 32x256 x 256x128" is 32 rows of 256 features).

Counting conventions
--------------------
- **weights**: multiplicative parameters (kernel or matrix entries, batch-norm scales);
  **biases**: additive ones; **params** = weights + biases. Batch normalization counts
  its two trainable vectors (scale gamma and shift beta), as frameworks count trainable
  parameters; the running mean and variance fold into those two at inference, so two
  values per channel is also exactly what an inference kernel reads.
- **MACs**: multiply-accumulates of the matrix work (convolution, fully connected, the
  LSTM gate matrices, a matrix product of two activations). A partial window at a border
  or in ``ceil_mode`` counts in full, as if zero-padded. One MAC is one multiply and one add.
- **neurons**: the output elements of layers that compute new neurons from a window or
  a matrix (convolution, fully connected, pooling, LSTM's ``h``, a matrix product).
  Element-wise layers (activation, batch norm, layer norm, softmax, residual add),
  lookups and views (concatenation, slice, reshape, transpose) act on neurons already
  counted or read, as the usual AlexNet figure (which counts no ReLU outputs) does.
- **bytes**: ``weight_bytes`` = params (what an inference reads: an embedding's looked-up
  rows only, a tied layer's matrix again); ``input_bytes`` = every activation element read
  (for the LSTM cell also its state ``h`` and ``c``); ``output_bytes`` = every element
  written; all times ``bytes_per_element`` (default 4, FP32).

Vector operation costs (the one table)
--------------------------------------
The vector unit executes ADD, SUB, MUL and DIV (the ISA's compute types); everything
else is decomposed into them. Comparisons are SUBs (the sign of the difference).

======================  ===================================  =======================
layer                   operations                           per
======================  ===================================  =======================
conv / fc with bias     1 ADD (the bias)                     output element
relu                    1 SUB (compare with 0)               element
relu6                   2 SUB (compare with 0 and with 6)    element
clip                    1 SUB per bound (compare with it)    element
leaky_relu              1 SUB + 1 MUL (scale if negative)    element
sigmoid, tanh           4 SUB + 1 MUL + 1 ADD                element
max pool                k - 1 SUB (compares)                 output, k = window size
avg pool                k - 1 ADD + 1 MUL (by 1/k)           output, k = window size
batch norm (inference)  1 MUL + 1 ADD (x * scale + shift)    element
add of n inputs         n - 1 ADD                            output element
concat                  nothing (data movement only)
LSTM cell               4 ADD (gate biases), 3 sigmoid +     hidden unit
                        2 tanh, 3 MUL + 1 ADD (c and h)
LSTM over a sequence    4 ADD per bias set, 3 sigmoid +      hidden unit and step
                        2 tanh, 3 MUL + 1 ADD (c and h)
GRU over a sequence     3 ADD per bias set, 2 sigmoid +      hidden unit and step
                        1 tanh, 3 MUL + 1 SUB + 1 ADD
LRN over n channels     n MUL + (n - 1) ADD (sum of          element
                        squares), 1 MUL + 1 ADD (alpha,
                        bias), power: 4 SUB + 1 MUL +
                        1 ADD, 1 MUL (apply)
element-wise op of      (n - 1) of that op                   output element
n operands
gelu                    4 SUB + 1 MUL + 1 ADD                element
softmax over L values   1 SUB (minus the max), exp (4 SUB    element
                        + 1 MUL + 1 ADD), 1 MUL (by 1/sum);
                        + 1 MUL if scaled, + 1 ADD if masked
                        L - 1 SUB (the max), L - 1 ADD       row of L
                        (the sum), 1 DIV (1/sum)
layer norm over D       1 SUB (minus the mean), 3 MUL        element
                        (square, by 1/std, by the scale),
                        3 ADD (sum, sum of squares, shift)
                        1/std: 2 MUL (mean and variance by   row of D
                        1/D), 1 ADD (epsilon), 4 SUB + 1 MUL
                        + 1 ADD (1/sqrt); minus 2 ADD (a
                        sum of D values is D - 1 ADDs)
position embedding      1 ADD                                element
matmul, embedding,      nothing beyond the MACs (a lookup,
class token, slice,     a slice or a change of layout is
reshape, transpose      data movement only)
======================  ===================================  =======================

Sigmoid, tanh, GELU, softmax's exp and layer norm's ``1/sqrt`` are piecewise-linear, as
the DianNao family's output stage evaluates such functions (so is the LRN's power
``(bias + alpha / n * sum) ** -beta``): 16 segments, the segment
found by a binary search of 4 compares, then ``a_i * x + b_i``. The window size ``k`` of
pooling counts padding elements (as ``count_include_pad`` does). Only softmax needs DIV
(once per row); it stays in every dict so that consumers can rely on all four keys.
A GRU's ``(1 - z) * n + z * h`` is 1 SUB, 2 MUL and 1 ADD; its reset gate's ``r * h`` the
third MUL.

Transformers
------------
Token sequences are ``(tokens, features)`` like a GEMM's rows. A :class:`MatMul`
multiplies two activations (attention's ``Q x K^T`` and ``A x V``): it has MACs and no
parameters. Several attention heads sit side by side along the last axis, as the Q, K
and V projections write them (``(tokens, heads x head size)``), so attention needs no
layout layer; :class:`Reshape` and :class:`Transpose` exist for what does (ViT's patches).
An :class:`Embedding` looks rows up in a table: all of the table is parameters, but an
inference reads only the rows it looks up, which is what ``weight_bytes`` counts for it
(and for :class:`PositionEmbedding`); a fully connected layer ``tied`` to an embedding
(GPT-2's LM head) reads that table again as its matrix but adds no parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, NoReturn

from dlpsim.errors import WorkloadError

Shape = tuple[int, ...]

FP32_BYTES = 4

VECTOR_OPERATIONS = ("ADD", "SUB", "MUL", "DIV")

# Segments of the piecewise-linear sigmoid/tanh, and the compares that find one.
PWL_SEGMENTS = 16
_PWL_COMPARES = PWL_SEGMENTS.bit_length() - 1


def _ops(add: int = 0, sub: int = 0, mul: int = 0, div: int = 0) -> dict[str, int]:
    return {"ADD": add, "SUB": sub, "MUL": mul, "DIV": div}


def _scaled(ops: dict[str, int], times: int) -> dict[str, int]:
    return {op: count * times for op, count in ops.items()}


def sum_ops(many: Iterable[dict[str, int]]) -> dict[str, int]:
    total = _ops()
    for ops in many:
        for op, count in ops.items():
            total[op] += count
    return total


# Element-wise activation functions: vector operations per element (the table above).
ACTIVATION_COSTS: dict[str, dict[str, int]] = {
    "relu": _ops(sub=1),
    "relu6": _ops(sub=2),
    "leaky_relu": _ops(sub=1, mul=1),
    "sigmoid": _ops(sub=_PWL_COMPARES, mul=1, add=1),
    "tanh": _ops(sub=_PWL_COMPARES, mul=1, add=1),
    "gelu": _ops(sub=_PWL_COMPARES, mul=1, add=1),
    "clip": _ops(sub=2),
}

# One piecewise-linear evaluation (exp, 1/sqrt): find the segment, then a_i * x + b_i.
_PWL = _ops(sub=_PWL_COMPARES, mul=1, add=1)


def elements(shape: Shape) -> int:
    return math.prod(shape)


def format_shape(shape: Shape) -> str:
    return "x".join(str(size) for size in shape)


@dataclass(frozen=True)
class Window:
    """One axis of a sliding window: how a layer maps positions of its input to its output."""

    kernel: int
    stride: int
    padding: int


IDENTITY = Window(1, 1, 0)


@dataclass(frozen=True)
class ReceptiveField:
    """The input region one output position sees, along one axis.

    ``size``: input positions covered; ``jump``: input positions between neighbouring
    outputs; ``offset``: the input coordinate of the first position covered by output 0
    (negative when it reaches into padding).
    """

    size: int
    jump: int
    offset: int

    def through(self, window: Window) -> ReceptiveField:
        return ReceptiveField(size=self.size + (window.kernel - 1) * self.jump,
                              jump=self.jump * window.stride,
                              offset=self.offset - window.padding * self.jump)


INPUT_FIELD = ReceptiveField(1, 1, 0)


def receptive_fields(chain: Iterable[Window | tuple[int, int, int]]) -> list[ReceptiveField]:
    """The receptive field after each layer of a chain of (kernel, stride, padding) windows.

    ``r_out = r_in + (kernel - 1) * jump_in`` and ``jump_out = jump_in * stride``;
    padding moves the field (``offset``) but does not change its size.
    """
    field = INPUT_FIELD
    fields = []
    for window in chain:
        if not isinstance(window, Window):
            window = Window(*window)
        field = field.through(window)
        fields.append(field)
    return fields


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(layer: Layer, what: str, value: object, minimum: int) -> tuple[int, int]:
    pair = (value, value) if _is_count(value) else value
    if (not isinstance(pair, tuple) or len(pair) != 2 or not all(_is_count(v) for v in pair)
            or min(pair) < minimum):
        layer._fail(f"{what} must be a whole number >= {minimum} or a (height, width) pair of them, "
                    f"got {value!r}")
    return pair


def _output_size(layer: Layer, axis: str, size: int, window: Window, ceil_mode: bool,
                 padding_end: int | None = None) -> int:
    """``padding_end``: the padding after the input when it differs from the padding before it."""
    end = window.padding if padding_end is None else padding_end
    span = size + window.padding + end - window.kernel
    if span < 0:
        sides = "on each side" if end == window.padding else f"before and {end} after"
        layer._fail(f"a kernel of {window.kernel} does not fit the input {axis} {size} padded by "
                    f"{window.padding} {sides} (the output {axis} would be "
                    f"{span // window.stride + 1})")
    if not ceil_mode:
        return span // window.stride + 1
    out = -(-span // window.stride) + 1
    # A last window that would start in the right padding or beyond is dropped (as PyTorch
    # and Caffe do), so every window overlaps the input or its left padding.
    if (out - 1) * window.stride >= size + window.padding:
        out -= 1
    return out


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One operator on concrete shapes. Subclasses define the arithmetic."""

    name: str = ""

    kind: ClassVar[str] = "layer"
    creates_neurons: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise WorkloadError(f"a layer name must be text, got {self.name!r}")

    @property
    def label(self) -> str:
        return self.name or self.kind

    def _fail(self, message: str) -> NoReturn:
        raise WorkloadError(f"{self.label}: {message}")

    def _check_shape(self, shape: object, ranks: tuple[int, ...], what: str = "input") -> Shape:
        if (not isinstance(shape, tuple) or len(shape) not in ranks
                or not all(_is_count(size) for size in shape)):
            expected = " or ".join(f"{rank} sizes" for rank in ranks)
            self._fail(f"{what} shape must be a tuple of {expected}, got {shape!r}")
        if min(shape) < 1:
            self._fail(f"{what} shape {shape} has a size below 1")
        return shape

    # -- what every layer answers; subclasses override what applies to them --------------
    # ``input_shapes`` (a tuple of shapes) is a property of one-input layers and a field
    # of many-input ones, so it is not declared here (a property would shadow the field).

    @property
    def output_shape(self) -> Shape:
        raise NotImplementedError

    @property
    def weights(self) -> int:
        return 0

    @property
    def biases(self) -> int:
        return 0

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def macs(self) -> int:
        return 0

    @property
    def vector_ops(self) -> dict[str, int]:
        return _ops()

    @property
    def neurons(self) -> int:
        return elements(self.output_shape) if self.creates_neurons else 0

    @property
    def windows(self) -> tuple[Window, Window]:
        """The (height, width) sliding windows, for receptive fields; identity by default."""
        return IDENTITY, IDENTITY

    def weight_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return self.params * bytes_per_element

    def input_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return sum(elements(shape) for shape in self.input_shapes) * bytes_per_element

    def output_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return elements(self.output_shape) * bytes_per_element

    def describe(self) -> str:
        """A short type description for tables, e.g. ``conv 11x11/4``."""
        return self.kind


@dataclass(frozen=True, kw_only=True)
class _OneInput(Layer):
    input_shape: Shape

    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_shape(self.input_shape, self.ranks)

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        return (self.input_shape,)


def _sliding_output(layer: Conv2d | Pool, channels: int) -> Shape:
    """The output shape of a sliding-window layer with ``channels`` output channels."""
    _, height, width = layer.input_shape
    window_h, window_w = layer.windows
    end_h, end_w = (None, None) if layer.padding_end is None else layer.padding_end
    return (channels,
            _output_size(layer, "height", height, window_h, layer.ceil_mode, end_h),
            _output_size(layer, "width", width, window_w, layer.ceil_mode, end_w))


def _check_padding_end(layer: Conv2d | Pool) -> None:
    if layer.padding_end is not None:
        padding_end = _pair(layer, "padding_end", layer.padding_end, 0)
        # the same padding on both sides is stored as None, so equal layers compare equal
        object.__setattr__(layer, "padding_end", None if padding_end == layer.padding else padding_end)


def _padding_text(layer: Conv2d | Pool) -> str:
    if layer.padding_end is None:
        return ""
    return f" pad {layer.padding[0]},{layer.padding[1]},{layer.padding_end[0]},{layer.padding_end[1]}"


def _window_text(kernel: tuple[int, int], stride: tuple[int, int]) -> str:
    text = f"{kernel[0]}x{kernel[1]}"
    if stride != (1, 1):
        text += f"/{stride[0]}" if stride[0] == stride[1] else f"/{stride[0]}x{stride[1]}"
    return text


@dataclass(frozen=True, kw_only=True)
class Conv2d(_OneInput):
    """2-D convolution; ``groups`` splits channels (``groups == in_channels``: depthwise).

    Output size per axis: ``floor((size + 2 * padding - reach) / stride) + 1``, or the
    ceiling with ``ceil_mode`` (SCALE-Sim's rule, for imported topologies), where the
    kernel's reach is ``dilation * (kernel - 1) + 1``. ``padding_end``, when given, is the
    padding after the input (ONNX's asymmetric ``pads``); ``padding`` is then the padding
    before it. Dilation spreads the taps apart, so it changes the shapes, not the MACs per
    output.
    """

    out_channels: int
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    groups: int = 1
    bias: bool = True
    ceil_mode: bool = False
    dilation: int | tuple[int, int] = 1
    padding_end: int | tuple[int, int] | None = None

    kind: ClassVar[str] = "conv"
    creates_neurons: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = (3,)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "kernel", _pair(self, "kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _pair(self, "stride", self.stride, 1))
        object.__setattr__(self, "padding", _pair(self, "padding", self.padding, 0))
        object.__setattr__(self, "dilation", _pair(self, "dilation", self.dilation, 1))
        _check_padding_end(self)
        if not _is_count(self.out_channels) or self.out_channels < 1:
            self._fail(f"out_channels must be a whole number >= 1, got {self.out_channels!r}")
        if not _is_count(self.groups) or self.groups < 1:
            self._fail(f"groups must be a whole number >= 1, got {self.groups!r}")
        channels = self.input_shape[0]
        if channels % self.groups:
            self._fail(f"{channels} input channels are not divisible by {self.groups} groups")
        if self.out_channels % self.groups:
            self._fail(f"{self.out_channels} output channels are not divisible by {self.groups} groups")
        _ = self.output_shape  # computed now for its checks: the kernel must fit

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    @property
    def reach(self) -> tuple[int, int]:
        """The input positions one output's kernel spans per axis, dilation included."""
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def windows(self) -> tuple[Window, Window]:
        return (Window(self.reach[0], self.stride[0], self.padding[0]),
                Window(self.reach[1], self.stride[1], self.padding[1]))

    @property
    def output_shape(self) -> Shape:
        return _sliding_output(self, self.out_channels)

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels

    @property
    def _window_macs(self) -> int:
        """MACs for one output element: its window over the channels of its group."""
        return self.in_channels // self.groups * self.kernel[0] * self.kernel[1]

    @property
    def weights(self) -> int:
        return self.out_channels * self._window_macs

    @property
    def biases(self) -> int:
        return self.out_channels if self.bias else 0

    @property
    def macs(self) -> int:
        return elements(self.output_shape) * self._window_macs

    @property
    def vector_ops(self) -> dict[str, int]:
        return _ops(add=elements(self.output_shape) if self.bias else 0)

    def describe(self) -> str:
        text = f"{'dwconv' if self.depthwise else 'conv'} {_window_text(self.kernel, self.stride)}"
        if self.groups > 1 and not self.depthwise:
            text += f" g{self.groups}"
        if self.dilation != (1, 1):
            text += f" d{self.dilation[0]}" if self.dilation[0] == self.dilation[1] else \
                f" d{self.dilation[0]}x{self.dilation[1]}"
        return text + _padding_text(self) + (" ceil" if self.ceil_mode else "")


@dataclass(frozen=True, kw_only=True)
class FullyConnected(_OneInput):
    """Fully connected (inner product): ``out = W x + b``.

    A feature map input is flattened first; a ``(rows, features)`` input is a batch of
    rows each multiplied by the same matrix, i.e. a GEMM of M=rows, K=features, N=out.
    """

    out_features: int
    bias: bool = True
    # The layer whose table this one uses as its matrix (GPT-2's LM head and token embedding):
    # the matrix is read as usual but its parameters are counted there, once.
    tied: str = ""

    kind: ClassVar[str] = "fc"
    creates_neurons: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_count(self.out_features) or self.out_features < 1:
            self._fail(f"out_features must be a whole number >= 1, got {self.out_features!r}")
        if not isinstance(self.tied, str):
            self._fail(f"tied must be a layer name, got {self.tied!r}")

    @property
    def rows(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 2 else 1

    @property
    def in_features(self) -> int:
        return self.input_shape[1] if len(self.input_shape) == 2 else elements(self.input_shape)

    @property
    def output_shape(self) -> Shape:
        if len(self.input_shape) == 2:
            return (self.rows, self.out_features)
        return (self.out_features,)

    @property
    def windows(self) -> tuple[Window, Window]:
        if len(self.input_shape) == 3:  # one window over the whole feature map
            return Window(self.input_shape[1], 1, 0), Window(self.input_shape[2], 1, 0)
        return IDENTITY, IDENTITY

    @property
    def weights(self) -> int:
        return 0 if self.tied else self.in_features * self.out_features

    @property
    def biases(self) -> int:
        return self.out_features if self.bias else 0

    @property
    def macs(self) -> int:
        return self.rows * self.in_features * self.out_features

    def weight_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return (self.in_features * self.out_features + self.biases) * bytes_per_element

    @property
    def vector_ops(self) -> dict[str, int]:
        return _ops(add=self.rows * self.out_features if self.bias else 0)

    def describe(self) -> str:
        text = f"gemm M={self.rows}" if len(self.input_shape) == 2 else "fc"
        return text + (f" tied to {self.tied}" if self.tied else "")


POOL_MODES = ("max", "avg")


@dataclass(frozen=True, kw_only=True)
class Pool(_OneInput):
    """Max or average pooling over each channel; ``stride`` defaults to the kernel."""

    mode: str
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, int] = 0
    ceil_mode: bool = False
    padding_end: int | tuple[int, int] | None = None  # as Conv2d's

    creates_neurons: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = (3,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in POOL_MODES:
            self._fail(f"unknown pooling mode {self.mode!r} (known: {', '.join(POOL_MODES)})")
        object.__setattr__(self, "kernel", _pair(self, "kernel", self.kernel, 1))
        stride = self.kernel if self.stride is None else self.stride
        object.__setattr__(self, "stride", _pair(self, "stride", stride, 1))
        object.__setattr__(self, "padding", _pair(self, "padding", self.padding, 0))
        _check_padding_end(self)
        _ = self.output_shape  # computed now for its checks: the window must fit

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"{self.mode}pool"

    @property
    def windows(self) -> tuple[Window, Window]:
        return (Window(self.kernel[0], self.stride[0], self.padding[0]),
                Window(self.kernel[1], self.stride[1], self.padding[1]))

    @property
    def output_shape(self) -> Shape:
        return _sliding_output(self, self.input_shape[0])

    @property
    def vector_ops(self) -> dict[str, int]:
        outputs = elements(self.output_shape)
        window = self.kernel[0] * self.kernel[1]
        if self.mode == "max":
            return _ops(sub=outputs * (window - 1))
        return _ops(add=outputs * (window - 1), mul=outputs)

    def describe(self) -> str:
        return (f"{self.kind} {_window_text(self.kernel, self.stride)}" + _padding_text(self)
                + (" ceil" if self.ceil_mode else ""))


@dataclass(frozen=True, kw_only=True)
class Activation(_OneInput):
    """An element-wise activation function; ``function`` is a key of ACTIVATION_COSTS.

    ``clip`` limits to ``bounds`` (low, high), either of which may be None (no limit on that
    side); it costs one compare per bound given.
    """

    function: str = "relu"
    bounds: tuple[float | None, float | None] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.function not in ACTIVATION_COSTS:
            self._fail(f"unknown activation {self.function!r} (known: {', '.join(ACTIVATION_COSTS)})")
        if (self.function == "clip") != (self.bounds is not None):
            self._fail("bounds (low, high) go with the clip activation, and only with it")
        if self.bounds is not None and (
                not isinstance(self.bounds, tuple) or len(self.bounds) != 2
                or not all(bound is None or isinstance(bound, float) for bound in self.bounds)
                or self.bounds == (None, None)
                or (None not in self.bounds and self.bounds[0] > self.bounds[1])):
            self._fail(f"clip bounds must be (low, high) numbers, low <= high, at most one None; "
                       f"got {self.bounds!r}")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.function

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    @property
    def vector_ops(self) -> dict[str, int]:
        if self.bounds is not None and None in self.bounds:  # a one-sided clip: one compare
            return _scaled(_ops(sub=1), elements(self.input_shape))
        return _scaled(ACTIVATION_COSTS[self.function], elements(self.input_shape))

    def describe(self) -> str:
        if self.bounds is None:
            return self.kind
        low, high = ("" if bound is None else f"{bound:g}" for bound in self.bounds)
        return f"clip {low}..{high}"


@dataclass(frozen=True, kw_only=True)
class _ScaleAndShift(_OneInput):
    """A normalization with a scale (gamma) and a shift (beta) per channel or feature: both are
    parameters, the output has the input's shape."""

    @property
    def _scaled_size(self) -> int:
        raise NotImplementedError

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    @property
    def weights(self) -> int:
        return self._scaled_size  # scale (gamma)

    @property
    def biases(self) -> int:
        return self._scaled_size  # shift (beta)


@dataclass(frozen=True, kw_only=True)
class BatchNorm(_ScaleAndShift):
    """Batch normalization at inference: ``x * scale + shift`` per channel.

    The channels are the first axis of a feature map and the last of a vector or batch.
    """

    kind: ClassVar[str] = "bn"

    @property
    def channels(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 3 else self.input_shape[-1]

    @property
    def _scaled_size(self) -> int:
        return self.channels

    @property
    def vector_ops(self) -> dict[str, int]:
        count = elements(self.input_shape)
        return _ops(mul=count, add=count)


@dataclass(frozen=True, kw_only=True)
class _ManyInputs(Layer):
    input_shapes: tuple[Shape, ...]

    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.input_shapes, tuple) or len(self.input_shapes) < 2:
            self._fail(f"needs at least two inputs, got {self.input_shapes!r}")
        for index, shape in enumerate(self.input_shapes, start=1):
            self._check_shape(shape, self.ranks, f"input {index}")


@dataclass(frozen=True, kw_only=True)
class Add(_ManyInputs):
    """Element-wise sum of equal-shaped inputs (a residual connection)."""

    kind: ClassVar[str] = "add"

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.input_shapes)) > 1:
            shapes = ", ".join(format_shape(shape) for shape in self.input_shapes)
            self._fail(f"cannot add inputs of different shapes ({shapes})")

    @property
    def output_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def vector_ops(self) -> dict[str, int]:
        return _ops(add=elements(self.output_shape) * (len(self.input_shapes) - 1))


@dataclass(frozen=True, kw_only=True)
class Concat(_ManyInputs):
    """Concatenation along ``axis``; by default the channels (first axis) of feature maps and
    the features (last axis) otherwise. ``axis=0`` of token rows appends tokens (a KV cache
    and the new token's keys)."""

    concat_axis: int | None = None

    kind: ClassVar[str] = "concat"

    def __post_init__(self) -> None:
        super().__post_init__()
        ranks = {len(shape) for shape in self.input_shapes}
        if len(ranks) > 1:
            shapes = ", ".join(format_shape(shape) for shape in self.input_shapes)
            self._fail(f"cannot concatenate inputs of different ranks ({shapes})")
        rank = len(self.input_shapes[0])
        if self.concat_axis is not None and (not _is_count(self.concat_axis)
                                             or not 0 <= self.concat_axis < rank):
            self._fail(f"concat_axis must be a whole number from 0 to {rank - 1}, got {self.concat_axis!r}")
        rests = {self._rest(shape) for shape in self.input_shapes}
        if len(rests) > 1:
            shapes = ", ".join(format_shape(shape) for shape in self.input_shapes)
            self._fail(f"cannot concatenate inputs whose other sizes differ ({shapes})")

    @property
    def axis(self) -> int:
        if self.concat_axis is not None:
            return self.concat_axis
        return 0 if len(self.input_shapes[0]) in (1, 3) else 1

    def _rest(self, shape: Shape) -> Shape:
        return shape[:self.axis] + shape[self.axis + 1:]

    @property
    def output_shape(self) -> Shape:
        first = self.input_shapes[0]
        joined = sum(shape[self.axis] for shape in self.input_shapes)
        return first[:self.axis] + (joined,) + first[self.axis + 1:]


@dataclass(frozen=True, kw_only=True)
class LSTMCell(_OneInput):
    """One time step of an LSTM cell (input, forget, output gates and the cell candidate).

    ``gates = W [x; h_prev] + b`` (4 x hidden rows); ``i, f, o = sigmoid``, ``g = tanh``;
    ``c = f * c_prev + i * g``; ``h = o * tanh(c)``. The output is ``h``; the state
    ``h_prev, c_prev`` is read and ``h, c`` written, so they count in the bytes. One bias
    per gate row (4 x hidden), as the equations and Keras have; PyTorch keeps two
    (``b_ih`` and ``b_hh``, 8 x hidden) that sum to these.
    """

    hidden_size: int

    kind: ClassVar[str] = "lstm"
    creates_neurons: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = (1,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_count(self.hidden_size) or self.hidden_size < 1:
            self._fail(f"hidden_size must be a whole number >= 1, got {self.hidden_size!r}")

    @property
    def input_size(self) -> int:
        return self.input_shape[0]

    @property
    def output_shape(self) -> Shape:
        return (self.hidden_size,)

    @property
    def weights(self) -> int:
        return 4 * self.hidden_size * (self.input_size + self.hidden_size)

    @property
    def biases(self) -> int:
        return 4 * self.hidden_size

    @property
    def macs(self) -> int:
        return self.weights

    @property
    def vector_ops(self) -> dict[str, int]:
        per_unit = sum_ops([
            _ops(add=4),  # gate biases
            _scaled(ACTIVATION_COSTS["sigmoid"], 3),  # i, f, o
            _scaled(ACTIVATION_COSTS["tanh"], 2),  # g and tanh(c)
            _ops(mul=3, add=1),  # f * c_prev + i * g, then o * tanh(c)
        ])
        return _scaled(per_unit, self.hidden_size)

    def input_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return (self.input_size + 2 * self.hidden_size) * bytes_per_element

    def output_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return 2 * self.hidden_size * bytes_per_element

    def describe(self) -> str:
        return f"lstm {self.input_size}->{self.hidden_size}"


def _check_positive(layer: Layer, what: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        layer._fail(f"{what} must be a number > 0, got {value!r}")


def _check_count(layer: Layer, what: str, value: object, minimum: int = 1) -> None:
    if not _is_count(value) or value < minimum:
        layer._fail(f"{what} must be a whole number >= {minimum}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class MatMul(_ManyInputs):
    """A matrix product of two activations, batched: ``A x B``, or ``A x B^T`` with ``transpose_b``.

    ``A`` is ``(..., M, heads x K)`` and ``B`` is ``(..., K, heads x N)`` (transposed:
    ``(..., N, heads x K)``); the output is ``(..., M, heads x N)``. The leading axes (none
    to two) are a batch of independent products; ``B`` without them is shared by every one.
    ``heads`` products sit side by side along the last axis of each operand, as attention's
    projections lay out their heads: ``Q x K^T`` of 12 heads of 64 over 128 tokens is
    ``A = (128, 768)``, ``B = (128, 768)`` transposed, giving ``(128, 12 x 128)``.
    """

    heads: int = 1
    transpose_b: bool = False

    kind: ClassVar[str] = "matmul"
    creates_neurons: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "heads", self.heads)
        if len(self.input_shapes) != 2:
            self._fail(f"multiplies two inputs, got {len(self.input_shapes)}")
        a, b = self.input_shapes
        if len(b) > 2 and b[:-2] != a[:-2]:
            self._fail(f"the batch axes of {format_shape(a)} and {format_shape(b)} differ")
        for what, shape in (("A", a), ("B", b)):
            if shape[-1] % self.heads:
                self._fail(f"{what}'s last axis of {shape[-1]} does not split into {self.heads} heads")
        b_reduction = b[-1] // self.heads if self.transpose_b else b[-2]
        if b_reduction != self.reduction:
            what = "columns per head" if self.transpose_b else "rows"
            self._fail(f"A {format_shape(a)} has {self.reduction} columns per head but B "
                       f"{format_shape(b)} has {b_reduction} {what}")

    @property
    def batch(self) -> int:
        """Independent products (the leading axes times the heads)."""
        return elements(self.input_shapes[0][:-2]) * self.heads

    @property
    def rows(self) -> int:  # M
        return self.input_shapes[0][-2]

    @property
    def reduction(self) -> int:  # K
        return self.input_shapes[0][-1] // self.heads

    @property
    def columns(self) -> int:  # N
        b = self.input_shapes[1]
        return b[-2] if self.transpose_b else b[-1] // self.heads

    @property
    def output_shape(self) -> Shape:
        a = self.input_shapes[0]
        return a[:-1] + (self.heads * self.columns,)

    @property
    def macs(self) -> int:
        return self.batch * self.rows * self.reduction * self.columns

    def describe(self) -> str:
        b = f"{self.columns}x{self.reduction}^T" if self.transpose_b else f"{self.reduction}x{self.columns}"
        return f"matmul {self.batch}x ({self.rows}x{self.reduction} * {b})"


@dataclass(frozen=True, kw_only=True)
class Softmax(_OneInput):
    """Softmax over runs of ``length`` consecutive values of the last axis (default: all of it).

    Attention's scores of several heads side by side, ``(tokens, heads x keys)``, are
    normalized per head: ``length`` = keys. ``scaled`` multiplies the scores by ``scale``
    first (attention's ``1/sqrt(head size)``); ``masked`` adds the causal mask first: query
    row ``r`` of ``R`` sees the keys up to ``r + length - R`` (the earlier tokens and itself).
    """

    length: int | None = None
    scaled: bool = False
    masked: bool = False
    scale: float = 1.0

    kind: ClassVar[str] = "softmax"
    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length is None:
            object.__setattr__(self, "length", self.input_shape[-1])
        _check_count(self, "length", self.length)
        _check_positive(self, "scale", self.scale)
        if self.input_shape[-1] % self.length:
            self._fail(f"runs of {self.length} do not divide the last axis of "
                       f"{format_shape(self.input_shape)}")

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    @property
    def vector_ops(self) -> dict[str, int]:
        count = elements(self.input_shape)
        rows = count // self.length
        per_element = sum_ops([_ops(sub=1), _PWL, _ops(mul=1 + int(self.scaled), add=int(self.masked))])
        per_row = _ops(sub=self.length - 1, add=self.length - 1, div=1)
        return sum_ops([_scaled(per_element, count), _scaled(per_row, rows)])

    def describe(self) -> str:
        heads = self.input_shape[-1] // self.length
        text = "softmax" + (f" {heads}x{self.length}" if heads > 1 else "")
        return text + (" masked" if self.masked else "")


@dataclass(frozen=True, kw_only=True)
class LayerNorm(_ScaleAndShift):
    """Layer normalization over the last axis, with a scale and a shift per feature (both
    parameters): ``(x - mean) / sqrt(variance + epsilon) * scale + shift``."""

    epsilon: float = 1e-5

    kind: ClassVar[str] = "layernorm"
    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "epsilon", self.epsilon)

    @property
    def features(self) -> int:
        return self.input_shape[-1]

    @property
    def _scaled_size(self) -> int:
        return self.features

    @property
    def vector_ops(self) -> dict[str, int]:
        count = elements(self.input_shape)
        rows = count // self.features
        per_element = _ops(sub=1, mul=3, add=3)
        # mean and variance by 1/D, epsilon, 1/sqrt; a sum of D values is D - 1 ADDs, not D
        per_row = sum_ops([_ops(mul=2, add=1), _PWL, _ops(add=-2)])
        return sum_ops([_scaled(per_element, count), _scaled(per_row, rows)])


@dataclass(frozen=True, kw_only=True)
class Embedding(_OneInput):
    """A table lookup: ``(tokens,)`` ids in, ``(tokens, dim)`` rows of a ``vocabulary x dim``
    table out. The table is parameters; an inference reads the looked-up rows (and the ids)."""

    vocabulary: int
    dim: int

    kind: ClassVar[str] = "embedding"
    ranks: ClassVar[tuple[int, ...]] = (1,)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "vocabulary", self.vocabulary)
        _check_count(self, "dim", self.dim)

    @property
    def tokens(self) -> int:
        return self.input_shape[0]

    @property
    def output_shape(self) -> Shape:
        return (self.tokens, self.dim)

    @property
    def weights(self) -> int:
        return self.vocabulary * self.dim

    def weight_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return self.tokens * self.dim * bytes_per_element

    def describe(self) -> str:
        return f"embedding {self.vocabulary}x{self.dim}"


@dataclass(frozen=True, kw_only=True)
class PositionEmbedding(_OneInput):
    """Adds a learned position table's rows ``first_position ..`` to ``(tokens, dim)``.

    The table has ``positions`` rows (BERT 512, GPT-2 1024, ViT-B/16 197); an inference
    reads one per token. A decoding step's single token sits at ``first_position`` (the
    tokens already in the KV cache).
    """

    positions: int
    first_position: int = 0

    kind: ClassVar[str] = "position"
    ranks: ClassVar[tuple[int, ...]] = (2,)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "positions", self.positions)
        _check_count(self, "first_position", self.first_position, 0)
        tokens = self.input_shape[0]
        if self.first_position + tokens > self.positions:
            self._fail(f"tokens at positions {self.first_position} to {self.first_position + tokens - 1} "
                       f"do not fit a table of {self.positions} positions")

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    @property
    def weights(self) -> int:
        return self.positions * self.input_shape[1]

    @property
    def vector_ops(self) -> dict[str, int]:
        return _ops(add=elements(self.input_shape))

    def weight_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return elements(self.input_shape) * bytes_per_element

    def describe(self) -> str:
        return f"position embedding {self.positions}"


@dataclass(frozen=True, kw_only=True)
class ClassToken(_OneInput):
    """Puts a learned ``dim``-vector in front of ``(tokens, dim)`` (ViT's class token)."""

    kind: ClassVar[str] = "class token"
    ranks: ClassVar[tuple[int, ...]] = (2,)

    @property
    def output_shape(self) -> Shape:
        tokens, dim = self.input_shape
        return (tokens + 1, dim)

    @property
    def weights(self) -> int:
        return self.input_shape[1]


@dataclass(frozen=True, kw_only=True)
class Slice(_OneInput):
    """Rows ``start`` to ``stop - 1`` of the first axis (BERT's pooler and ViT's head read the
    first token only); it reads only those rows."""

    start: int
    stop: int

    kind: ClassVar[str] = "slice"
    ranks: ClassVar[tuple[int, ...]] = (2, 3)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "start", self.start, 0)
        _check_count(self, "stop", self.stop, self.start + 1 if _is_count(self.start) else 1)
        if self.stop > self.input_shape[0]:
            self._fail(f"stop {self.stop} is beyond the {self.input_shape[0]} rows of "
                       f"{format_shape(self.input_shape)}")

    @property
    def output_shape(self) -> Shape:
        return (self.stop - self.start, *self.input_shape[1:])

    def input_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return self.output_bytes(bytes_per_element)

    def describe(self) -> str:
        return f"slice {self.start}:{self.stop}"


@dataclass(frozen=True, kw_only=True)
class Reshape(_OneInput):
    """The same elements in another shape (a view: nothing moves)."""

    shape: Shape

    kind: ClassVar[str] = "reshape"
    ranks: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_shape(self.shape, self.ranks, "output")
        if elements(self.shape) != elements(self.input_shape):
            self._fail(f"cannot reshape {format_shape(self.input_shape)} ({elements(self.input_shape)} "
                       f"elements) to {format_shape(self.shape)} ({elements(self.shape)})")

    @property
    def output_shape(self) -> Shape:
        return self.shape

    def describe(self) -> str:
        return f"reshape {format_shape(self.shape)}"


@dataclass(frozen=True, kw_only=True)
class Transpose(_OneInput):
    """The axes in another order: output axis ``i`` is input axis ``permutation[i]``. The layer
    that reads it fetches its tiles in that order, so nothing moves here."""

    permutation: tuple[int, ...]

    kind: ClassVar[str] = "transpose"
    ranks: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (not isinstance(self.permutation, tuple)
                or sorted(self.permutation) != list(range(len(self.input_shape)))):
            self._fail(f"permutation must order the axes 0 to {len(self.input_shape) - 1}, "
                       f"got {self.permutation!r}")

    @property
    def output_shape(self) -> Shape:
        return tuple(self.input_shape[axis] for axis in self.permutation)

    def describe(self) -> str:
        return "transpose " + ",".join(str(axis) for axis in self.permutation)


def broadcast_shapes(layer: Layer, shapes: Iterable[Shape]) -> Shape:
    """The shape numpy (and ONNX) broadcasting gives: sizes aligned from the last axis, a size
    of 1 stretching to the other."""
    shapes = list(shapes)
    rank = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-rank, 0):
        sizes = {shape[axis] for shape in shapes if len(shape) >= -axis} - {1}
        if len(sizes) > 1:
            layer._fail(f"cannot broadcast shapes {', '.join(format_shape(shape) for shape in shapes)} "
                        f"(axis {axis} has sizes {', '.join(map(str, sorted(sizes)))})")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


ELEMENTWISE_OPERATIONS = {"add": "ADD", "sub": "SUB", "mul": "MUL", "div": "DIV"}


@dataclass(frozen=True, kw_only=True)
class Elementwise(Layer):
    """An element-wise ADD, SUB, MUL or DIV of inputs of broadcastable shapes (numpy's rule).

    ``input_shapes`` are the activations read; ``constant_shape``, when given, is one more
    operand held as a constant (a batch norm written as a Mul and an Add, a bias). A
    constant with more than one element counts as parameters (weights for ``mul`` and
    ``div``, biases for ``add`` and ``sub``); a single number (a literal such as a square
    root or 0.5) does not. Each output element takes (operands - 1) operations. The constant
    is the last operand, or the first with ``constant_first`` (``c - x``, ``c / x``).
    """

    operation: str
    input_shapes: tuple[Shape, ...]
    constant_shape: Shape | None = None
    constant_first: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.operation not in ELEMENTWISE_OPERATIONS:
            self._fail(f"unknown element-wise operation {self.operation!r} "
                       f"(known: {', '.join(ELEMENTWISE_OPERATIONS)})")
        if not isinstance(self.input_shapes, tuple) or not self.input_shapes:
            self._fail(f"needs at least one input, got {self.input_shapes!r}")
        for index, shape in enumerate(self.input_shapes, start=1):
            self._check_shape(shape, (1, 2, 3), f"input {index}")
        if self.constant_shape not in (None, ()):  # () is a single number
            self._check_shape(self.constant_shape, (1, 2, 3), "constant")
        if len(self._operands) < 2:
            self._fail("needs two operands or more (inputs and constant)")
        _ = self.output_shape  # computed now for its check: the shapes must broadcast

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.operation

    @property
    def _operands(self) -> tuple[Shape, ...]:
        return self.input_shapes + (() if self.constant_shape is None else (self.constant_shape,))

    @property
    def output_shape(self) -> Shape:
        return broadcast_shapes(self, self._operands)

    @property
    def _constant_params(self) -> int:
        if self.constant_shape is None or elements(self.constant_shape) == 1:
            return 0
        return elements(self.constant_shape)

    @property
    def weights(self) -> int:
        return self._constant_params if self.operation in ("mul", "div") else 0

    @property
    def biases(self) -> int:
        return self._constant_params if self.operation in ("add", "sub") else 0

    @property
    def vector_ops(self) -> dict[str, int]:
        count = elements(self.output_shape) * (len(self._operands) - 1)
        return _ops(**{self.operation: count})

    def describe(self) -> str:
        shapes = [format_shape(shape) for shape in self.input_shapes]
        if self.constant_shape is not None:
            constant = f"const {format_shape(self.constant_shape) or 'scalar'}"
            shapes.insert(0 if self.constant_first else len(shapes), constant)
        return f"{self.operation} {' & '.join(shapes)}"


@dataclass(frozen=True, kw_only=True)
class LocalResponseNorm(_OneInput):
    """Local response normalization across ``size`` neighbouring channels (AlexNet, GoogLeNet):
    ``x / (bias + alpha / size * sum of squares) ** beta``, the sum over channels ``c -
    (size - 1) // 2`` to ``c + size // 2`` (ONNX's window); no parameters."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    bias: float = 1.0

    kind: ClassVar[str] = "lrn"
    ranks: ClassVar[tuple[int, ...]] = (3,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_count(self.size) or self.size < 1:
            self._fail(f"size must be a whole number >= 1, got {self.size!r}")

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    @property
    def vector_ops(self) -> dict[str, int]:
        per_element = sum_ops([
            _ops(mul=self.size, add=self.size - 1),  # the window's sum of squares
            _ops(mul=1, add=1),  # alpha / size, bias
            _PWL,  # ** -beta
            _ops(mul=1),  # times x
        ])
        return _scaled(per_element, elements(self.input_shape))

    def describe(self) -> str:
        return f"lrn {self.size}"


RECURRENT_GATES = {"lstm": 4, "gru": 3}
RECURRENT_DIRECTIONS = ("forward", "reverse", "bidirectional")


@dataclass(frozen=True, kw_only=True)
class Recurrent(_OneInput):
    """An LSTM or GRU run over a whole sequence of ``steps`` inputs, as ONNX's LSTM and GRU.

    The input is ``(steps, input_size)``, or ``(input_size,)`` for a single step; the output
    every step's ``h``, ``(steps, directions * hidden_size)`` (``(directions * hidden_size,)``
    for a single step). Per direction the weights are ``gates x hidden`` rows over
    ``[x; h]``, used once per step, so the MACs are ``steps`` times the weights while the
    parameters count once. ``direction``: forward, reverse or bidirectional (both, their ``h``
    side by side per step). ``bias_sets``: 2 for the input and recurrent biases ONNX and
    PyTorch keep (``8 x hidden`` for an LSTM), 0 for none. The initial state is zero; every
    step reads its ``x`` and the previous ``h`` (``input_bytes``), as :class:`LSTMCell` does.
    """

    cell: str
    hidden_size: int
    direction: str = "forward"
    bias_sets: int = 2
    linear_before_reset: bool = False  # a GRU's variant: R h is computed before the reset gate applies

    creates_neurons: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = (1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cell not in RECURRENT_GATES:
            self._fail(f"unknown recurrent cell {self.cell!r} (known: {', '.join(RECURRENT_GATES)})")
        for what, value, minimum in (("hidden_size", self.hidden_size, 1), ("bias_sets", self.bias_sets, 0)):
            if not _is_count(value) or value < minimum:
                self._fail(f"{what} must be a whole number >= {minimum}, got {value!r}")
        if self.bias_sets > 2:
            self._fail(f"bias_sets must be 0, 1 or 2, got {self.bias_sets}")
        if self.direction not in RECURRENT_DIRECTIONS:
            self._fail(f"unknown direction {self.direction!r} (known: {', '.join(RECURRENT_DIRECTIONS)})")
        if self.linear_before_reset and self.cell != "gru":
            self._fail("linear_before_reset is a GRU's variant")

    @property
    def directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.cell

    @property
    def steps(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 2 else 1

    @property
    def input_size(self) -> int:
        return self.input_shape[-1]

    @property
    def gate_rows(self) -> int:
        """Rows of one direction's gate matrix."""
        return RECURRENT_GATES[self.cell] * self.hidden_size

    @property
    def output_shape(self) -> Shape:
        return self.input_shape[:-1] + (self.directions * self.hidden_size,)

    @property
    def weights(self) -> int:
        return self.directions * self.gate_rows * (self.input_size + self.hidden_size)

    @property
    def biases(self) -> int:
        return self.directions * self.gate_rows * self.bias_sets

    @property
    def macs(self) -> int:
        return self.steps * self.weights

    @property
    def vector_ops(self) -> dict[str, int]:
        gates = RECURRENT_GATES[self.cell]
        if self.cell == "lstm":
            cell = sum_ops([_scaled(ACTIVATION_COSTS["sigmoid"], 3), _scaled(ACTIVATION_COSTS["tanh"], 2),
                            _ops(mul=3, add=1)])
        else:
            cell = sum_ops([_scaled(ACTIVATION_COSTS["sigmoid"], 2), ACTIVATION_COSTS["tanh"],
                            _ops(mul=3, sub=1, add=1)])
        per_unit = sum_ops([_ops(add=gates * self.bias_sets), cell])
        return _scaled(per_unit, self.steps * self.directions * self.hidden_size)

    def input_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        # each direction reads every step's x and its own previous h
        return self.directions * self.steps * (self.input_size + self.hidden_size) * bytes_per_element

    def describe(self) -> str:
        direction = "" if self.direction == "forward" else f" {self.direction}"
        return f"{self.cell} {self.input_size}->{self.hidden_size} x{self.steps}{direction}"


LAYER_TYPES: tuple[type[Layer], ...] = (Conv2d, FullyConnected, Pool, Activation, BatchNorm, Add,
                                        Concat, LSTMCell, MatMul, Softmax, LayerNorm, Embedding,
                                        PositionEmbedding, ClassToken, Slice, Reshape, Transpose,
                                        Elementwise, LocalResponseNorm, Recurrent)
