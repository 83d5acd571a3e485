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

The transformer layers take the same shape. A matrix product of two activations
(attention's ``Q x K^T`` and ``A x V``) is a fully connected layer per product whose
"weights" are the second operand: each of the ``heads x batch`` products is a group,
its B operand the group's weight block in WRAM, read from DRAM like any activation
(``activation_weights``: no parameters). Layer norm, softmax and GELU are element-wise
vector work on rows of tokens (their per-row work, counted in the layer, spread over
the tiles with the rest); layer norm keeps its scale and shift per feature in WRAM as
batch norm does. An embedding lookup or a position embedding reads one table row per
token: the rows are per-channel values in WRAM (the position embedding adds them).
Views (reshape, transpose, slice, class token) move no data of their own, as a
concatenation: the next layer reads its tiles in their order (ViT's class token is a
constant row in front of the patches, written there once with the weights).

A batch of samples (``batch``) repeats every spatial tile once per sample with the same
weight blocks: the weights are fetched once for the batch when they stay in WRAM (or
once per pass of the loop order), the inputs and outputs once per sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    FP32_BYTES,
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
    elements,
)
from dlpsim.workloads.reference import LEAKY_RELU_SLOPE

# Where a vector step reads an operand (see VectorStep).
SLAB, TILE, VALUES, STATE = "slab", "tile", "values", "state"
# One value per row of the tile (a row's maximum, sum, mean or 1 / sqrt(variance)), in a scratch
# area after the tile in its NRAM buffer: ROW_SETS of them (see VectorStep.c_set).
ROW_VALUES = "row values"
ROW_SETS = 2
Part = tuple[int, int] | None  # parts [first, end) of the tile (of VectorStep.parts); None: all of it


@dataclass(frozen=True)
class VectorStep:
    """One vector instruction a tile's values go through, in the agreed executable forms (the ISA
    reference, "Functional execution"): ``operation`` on ``per_output`` elements per output of the
    tile, reading A from ``a`` and B from ``b`` and writing the tile.

    ``a``: SLAB (the task's input slab, its ``map``-th map when it holds several side by side) or
    TILE (the tile itself, after an earlier step). ``b``: SLAB or TILE as ``a``; VALUES (the
    block's ``values``-th set of per-channel values, broadcast over the tile); a float (an
    immediate); or None (a function type, which has no B, or a window reduction).
    ``window``: a window reduction over the slab (pooling: ``per_output`` is its pairwise
    operations per output, the window's size - 1). ``first_chunk``: done right after the tile's
    first input-channel chunk (a bias, before later chunks accumulate), not after its last."""

    operation: str
    a: str
    b: str | float | None = None
    a_map: int = 0
    b_map: int = 0
    values: int = 0
    per_output: int = 1
    window: bool = False
    first_chunk: bool = False
    # A tile cut into ``parts`` equal parts (an LSTM's gates): A, B and C may be some of them
    # (``a_part``, ``b_part``, ``c_part``), and the step then counts per_output / parts per output.
    # STATE (b) is the tile's share of the state read once (an LSTM's c_prev, per hidden unit).
    parts: int = 1
    a_part: Part = None
    b_part: Part = None
    c_part: Part = None
    # B is the value sets of the tile's output rows, one set per row (a position embedding's table
    # rows for its tokens), not a set broadcast over every position.
    values_by_row: bool = False
    # Row work (softmax, layer norm: Problem.row_length): ``rows`` gives the instruction the ISA's
    # rows clause, a row reduction of A into ROW_VALUES (no B) or a per-row broadcast of B from
    # ROW_VALUES; ``c`` is where the result goes (TILE, SLAB once its input is no longer needed,
    # or ROW_VALUES); which set of row values a ROW_VALUES operand is: ``a_map`` and ``b_map`` for
    # A and B, ``c_set`` for C.
    rows: bool = False
    c: str = TILE
    c_set: int = 0
    # B is the row_length values of the tile's one row (a masked softmax's mask for its query,
    # Problem.mask_queries), broadcast over its runs: the tile holds one row of the problem.
    values_of_row: bool = False

    def count(self, outputs: int, row_length: int) -> int:
        """The operations the step performs on ``outputs`` outputs (rows of ``row_length``): a row
        reduction's R x (L - 1) pairwise operations, R on the row values alone, else per_output per
        output (of its part)."""
        if self.rows and self.b is None:
            return outputs // row_length * (row_length - 1)
        if self.c == ROW_VALUES:
            return outputs // row_length
        return self.per_output * outputs // self.parts


# A copy of the block's values into the tile, a move (an embedding: the packer gathers the looked-up
# table rows into the values, so verifying it checks the data movement, not the lookup).
COPY = "COPY"


# An LSTM cell's tile holds each of its hidden units' four gates as four parts: i, f, g, o (the
# packer orders each weight block's columns so: compiler.packing.lstm_columns). After the bias
# (added with the first input-channel chunk) and the last chunk: i, f, o = sigmoid, g = tanh;
# c = f * c_prev + i * g into part 1, tanh(c) into part 2, h = o * tanh(c) into part 0; the tile
# writes back its first half, h then c of its units.
LSTM_STEPS = (
    VectorStep("ADD", TILE, VALUES, first_chunk=True),
    VectorStep("SIGMOID", TILE, per_output=2, parts=4, a_part=(0, 2), c_part=(0, 2)),
    VectorStep("TANH", TILE, parts=4, a_part=(2, 3), c_part=(2, 3)),
    VectorStep("SIGMOID", TILE, parts=4, a_part=(3, 4), c_part=(3, 4)),
    VectorStep("MUL", TILE, STATE, parts=4, a_part=(1, 2), c_part=(1, 2)),
    VectorStep("MUL", TILE, TILE, parts=4, a_part=(0, 1), b_part=(2, 3), c_part=(0, 1)),
    VectorStep("ADD", TILE, TILE, parts=4, a_part=(1, 2), b_part=(0, 1), c_part=(1, 2)),
    VectorStep("TANH", TILE, parts=4, a_part=(1, 2), c_part=(2, 3)),
    VectorStep("MUL", TILE, TILE, parts=4, a_part=(3, 4), b_part=(2, 3), c_part=(0, 1)),
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
    # Samples: every spatial tile once per sample, the same weights for all (see the module doc).
    batch: int = 1
    # The weights are the layer's second activation operand (a matrix product's B), not parameters.
    activation_weights: bool = False
    # Input positions between a kernel's taps (a dilated convolution); the taps stay ``kernel``.
    dilation: tuple[int, int] = (1, 1)
    # The vector work as executable steps (see VectorStep), which vector_ops then counts; None
    # for a layer whose vector work is counted only (no executable form yet: net verify refuses it).
    steps: tuple[VectorStep, ...] | None = None
    # Output channels a tile holds a whole number of (an LSTM's four gates of each hidden unit).
    out_channel_unit: int = 1
    # Row work: the steps reduce and scale rows of this many consecutive outputs of a tile (a
    # softmax's runs along the width; a layer norm's features, its groups), so a tile holds whole
    # rows: groups x columns a multiple of it (mapping). 0: no row work.
    row_length: int = 0
    # A masked softmax's queries T (0: no mask). Row t of the problem is query t mod T, which sees
    # the keys k <= t mod T + L - T (L = row_length): its mask, 0 for those and -inf after them, is
    # the L values from T - 1 - t mod T on of one vector of L zeros and T - 1 -infs, which the
    # packer places as per-channel values (constants, not parameters). A tile holds one row,
    # whose mask its runs share.
    mask_queries: int = 0

    @property
    def masked(self) -> bool:
        return self.mask_queries > 0

    @property
    def reach(self) -> tuple[int, int]:
        """Input positions one output's window spans per axis: what a tile's input halo covers."""
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def vector_instructions(self) -> int:
        """The vector instructions a task issues at most: one per step, or per kind of operation
        counted (codegen.statement_limit's V)."""
        return len(self.steps) if self.steps is not None else len(self.vector_ops)

    @property
    def window(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def macs(self) -> int:
        if not self.matrix:
            return 0
        return self.outputs * self.in_channels * self.window

    @property
    def outputs(self) -> int:
        return self.batch * self.groups * self.out_channels * self.out_height * self.out_width

    @property
    def weight_bytes(self) -> int:
        weights = self.in_channels * self.window if self.matrix else 0
        return self.groups * self.out_channels * (weights + self.per_channel_values) * self.bytes_per_element

    @property
    def input_bytes(self) -> int:
        per_map = self.batch * self.groups * self.in_channels * self.in_height * self.in_width
        return per_map * self.input_tensors * self.bytes_per_element + self.extra_input_bytes

    @property
    def output_bytes(self) -> int:
        return self.outputs * self.bytes_per_element + self.extra_output_bytes


def as_map(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """An element-wise layer's shape as channels x height x width: leading axes fold into channels."""
    if len(shape) < 3:
        return (1, *(1,) * (2 - len(shape)), *shape)
    return (elements(shape[:-2]), shape[-2], shape[-1])


def _vector_ops(layer: Layer, batch: int = 1) -> tuple[tuple[str, int], ...]:
    return tuple((op, batch * count) for op, count in layer.vector_ops.items() if count)


def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, features) of a vector, a batch of rows or a stack of them: the last axis is features."""
    return elements(shape[:-1]), shape[-1]


# Layers that are views of their input: nothing to compute and no data of their own to move.
VIEWS = (Concat, Reshape, Transpose, Slice, ClassToken)


def lower(layer: Layer, batch: int = 1) -> Problem | None:
    """The layer as a Problem on ``batch`` samples; None for a layer that moves no data of its
    own (a concatenation or another view). A layer with an executable form (see executable_steps)
    has its vector work as those steps, counted by the operations they execute."""
    problem = _lower(layer, batch)
    steps = executable_steps(layer)
    if problem is None or steps is None:
        return problem
    row_length = row_length_of(layer)
    counts: dict[str, int] = {}
    for step in steps:
        count = step.count(problem.outputs, row_length)
        counts[step.operation] = counts.get(step.operation, 0) + count
    return dataclasses.replace(problem, steps=steps, out_channel_unit=4 if isinstance(layer, LSTMCell) else 1,
                               vector_ops=tuple((op, count) for op, count in counts.items() if count),
                               row_length=row_length)


def row_length_of(layer: Layer) -> int:
    """The elements of a row the layer's steps reduce (see Problem.row_length), 0 for none."""
    if isinstance(layer, Softmax):
        return layer.length
    if isinstance(layer, LayerNorm):
        return layer.features
    return 0


def softmax_steps(layer: Softmax) -> tuple[VectorStep, ...]:
    """e^(x - max) / sum per run, as the reference: (scaled: x times the scale first; masked: plus
    the mask) each row's maximum, x - max, e^x, each row's sum, and the row times 1 / sum. The
    ISA has no reciprocal, so 1 / sum is a division of ones (the sums times 0, plus 1) by the
    sums: three operations per row rather than a division per element, which at a quarter of
    the add rate would cost about a quarter more time than the counted multiplication."""
    scaled = (VectorStep("MUL", SLAB, float(layer.scale)),) if layer.scaled else ()
    source = TILE if layer.scaled else SLAB
    if layer.masked:  # + the mask of the tile's row: -inf where the key comes after the query
        scaled += (VectorStep("ADD", source, VALUES, values_of_row=True),)
        source = TILE
    return (*scaled,
            VectorStep("MAX", source, rows=True, c=ROW_VALUES),
            VectorStep("SUB", source, ROW_VALUES, rows=True),
            VectorStep("EXP", TILE),
            VectorStep("ADD", TILE, rows=True, c=ROW_VALUES),
            VectorStep("MUL", ROW_VALUES, 0.0, c=ROW_VALUES, c_set=1),
            VectorStep("ADD", ROW_VALUES, 1.0, a_map=1, c=ROW_VALUES, c_set=1),
            VectorStep("DIV", ROW_VALUES, ROW_VALUES, a_map=1, c=ROW_VALUES, c_set=1),
            VectorStep("MUL", TILE, ROW_VALUES, b_map=1, rows=True))


def layer_norm_steps(layer: LayerNorm) -> tuple[VectorStep, ...]:
    """(x - mean) / sqrt(variance + epsilon) x scale + shift per row of features, as the reference:
    the mean a row sum times 1 / L; x - mean into the tile; its squares into the slab (x is no
    longer needed), whose row sum times 1 / L is the variance; + epsilon, 1 / sqrt; the tile times
    it (per row), then times the scale and plus the shift (per feature: the block's two sets)."""
    inverse = 1.0 / layer.features
    return (VectorStep("ADD", SLAB, rows=True, c=ROW_VALUES),
            VectorStep("MUL", ROW_VALUES, inverse, c=ROW_VALUES),
            VectorStep("SUB", SLAB, ROW_VALUES, rows=True),
            VectorStep("MUL", TILE, TILE, c=SLAB),
            VectorStep("ADD", SLAB, rows=True, c=ROW_VALUES, c_set=1),
            VectorStep("MUL", ROW_VALUES, inverse, a_map=1, c=ROW_VALUES, c_set=1),
            VectorStep("ADD", ROW_VALUES, float(layer.epsilon), a_map=1, c=ROW_VALUES, c_set=1),
            VectorStep("RSQRT", ROW_VALUES, a_map=1, c=ROW_VALUES, c_set=1),
            VectorStep("MUL", TILE, ROW_VALUES, b_map=1, rows=True),
            VectorStep("MUL", TILE, VALUES, values=0),
            VectorStep("ADD", TILE, VALUES, values=1))


# Activation functions the vector unit evaluates as one function type (the ISA's unary types).
FUNCTION_TYPES = {"tanh": "TANH", "sigmoid": "SIGMOID", "gelu": "GELU"}


def executable_steps(layer: Layer) -> tuple[VectorStep, ...] | None:
    """The layer's vector work in the executable forms, or None where there is none yet (the layer
    kinds `net verify` refuses). The steps compute what dlpsim.workloads.reference does."""
    if isinstance(layer, Conv2d | FullyConnected):
        return (VectorStep("ADD", TILE, VALUES, first_chunk=True),) if layer.bias else ()
    if isinstance(layer, LSTMCell):
        return LSTM_STEPS
    if isinstance(layer, MatMul):  # a plain MAC per product, B the second activation: no vector work
        return ()
    if isinstance(layer, Embedding):
        return (VectorStep(COPY, VALUES, per_output=0),)
    if isinstance(layer, PositionEmbedding):  # x + its tokens' rows of the table
        return (VectorStep("ADD", SLAB, VALUES, values_by_row=True),)
    if isinstance(layer, Pool):
        window = layer.kernel[0] * layer.kernel[1]
        if window == 1:  # a window of one has no pairwise operation to count: not emitted
            return None
        if layer.mode == "max":  # padding never wins: the MAX reduction ignores it
            return (VectorStep("MAX", SLAB, per_output=window - 1, window=True),)
        # the zero-padded window's sum over its full size (count_include_pad, as the reference)
        return (VectorStep("ADD", SLAB, per_output=window - 1, window=True),
                VectorStep("MUL", TILE, 1.0 / window))
    if isinstance(layer, Activation):
        function = layer.function
        if function in FUNCTION_TYPES:
            return (VectorStep(FUNCTION_TYPES[function], SLAB),)
        if function == "leaky_relu":  # max(x, slope * x)
            return (VectorStep("MUL", SLAB, LEAKY_RELU_SLOPE), VectorStep("MAX", SLAB, TILE))
        low, high = {"relu": (0.0, None), "relu6": (0.0, 6.0)}.get(function, layer.bounds or (None, None))
        steps = []
        for operation, bound in (("MAX", low), ("MIN", high)):
            if bound is not None:
                steps.append(VectorStep(operation, TILE if steps else SLAB, float(bound)))
        return tuple(steps)
    if isinstance(layer, BatchNorm):  # x * scale + shift: the block's two sets of values
        return (VectorStep("MUL", SLAB, VALUES, values=0), VectorStep("ADD", TILE, VALUES, values=1))
    if isinstance(layer, Softmax):
        return softmax_steps(layer)
    if isinstance(layer, LayerNorm):
        return layer_norm_steps(layer)
    if isinstance(layer, Add):
        maps = len(layer.input_shapes)
        return (VectorStep("ADD", SLAB, SLAB, a_map=0, b_map=1),
                *(VectorStep("ADD", TILE, SLAB, b_map=index) for index in range(2, maps)))
    return None


def _lower(layer: Layer, batch: int = 1) -> Problem | None:
    base = {"name": layer.label, "description": layer.describe(), "vector_ops": _vector_ops(layer, batch),
            "batch": batch}
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
                       extra_input_bytes=extra_in * batch, extra_output_bytes=extra_out * batch)
    if isinstance(layer, MatMul):
        a, b = layer.input_shapes
        # B differs per product unless it has no batch axes; it differs per sample always
        shared_b = len(b) == 2 and len(a) > 2
        leading = layer.batch // layer.heads
        rows = layer.rows * (leading if shared_b else 1)
        products = layer.heads * (1 if shared_b else leading)
        return Problem(**(base | {"batch": 1}), groups=products * batch, in_channels=layer.reduction,
                       out_channels=layer.columns, in_height=rows, in_width=1, out_height=rows, out_width=1,
                       kernel=(1, 1), stride=(1, 1), padding=(0, 0), matrix=True, activation_weights=True)
    if isinstance(layer, Recurrent):
        # each direction's gates as one matrix over [x; h], a GEMM with a row per step (the
        # weights stay on chip across steps); h is written, not the gate values
        rows, features = layer.steps, layer.input_size + layer.hidden_size
        written = layer.directions * layer.gate_rows * rows * FP32_BYTES
        return Problem(**base, groups=layer.directions, in_channels=features, out_channels=layer.gate_rows,
                       in_height=rows, in_width=1, out_height=rows, out_width=1, kernel=(1, 1),
                       stride=(1, 1), padding=(0, 0), matrix=True, per_channel_values=layer.bias_sets,
                       extra_output_bytes=(layer.output_bytes() - written) * batch)
    if isinstance(layer, Elementwise):
        return _lower_elementwise(layer, base, batch)
    if isinstance(layer, Pool):
        channels, height, width = layer.input_shape
        _, out_height, out_width = layer.output_shape
        return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                       in_width=width, out_height=out_height, out_width=out_width, kernel=layer.kernel,
                       stride=layer.stride, padding=layer.padding, matrix=False)
    shape = layer.input_shapes[0]
    if isinstance(layer, Softmax):  # the last axis' rows one after another: each run contiguous
        rows, width = _rows(shape)
        queries = shape[-2] if len(shape) > 1 else 1
        return Problem(**base, groups=1, in_channels=1, out_channels=1, in_height=rows, in_width=width,
                       out_height=rows, out_width=width, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                       matrix=False, per_channel_values=layer.length + queries - 1 if layer.masked else 0,
                       mask_queries=queries if layer.masked else 0)
    if isinstance(layer, Activation | Add | LocalResponseNorm) or (
            isinstance(layer, BatchNorm) and len(shape) == 3):
        channels, height, width = as_map(shape)
        return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                       in_width=width, out_height=height, out_width=width, kernel=(1, 1),
                       stride=(1, 1), padding=(0, 0), matrix=False,
                       input_tensors=len(layer.input_shapes),
                       per_channel_values=2 if isinstance(layer, BatchNorm) else 0)
    if isinstance(layer, BatchNorm | LayerNorm | PositionEmbedding):
        # rows of features, each feature a channel so that its values (a scale and a shift, or the
        # position table's column for these tokens) sit beside it in WRAM
        rows, features = _rows(shape)
        values = rows if isinstance(layer, PositionEmbedding) else 2
        return Problem(**base, groups=features, in_channels=1, out_channels=1, in_height=rows, in_width=1,
                       out_height=rows, out_width=1, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                       matrix=False, per_channel_values=values)
    if isinstance(layer, Embedding):
        # each token of each sample one group: its id in, its table row (WRAM values) copied out
        return Problem(**(base | {"batch": 1}), groups=layer.tokens * batch, in_channels=1,
                       out_channels=layer.dim, in_height=1, in_width=1, out_height=1, out_width=1,
                       kernel=(1, 1), stride=(1, 1), padding=(0, 0), matrix=False, per_channel_values=1)
    if isinstance(layer, VIEWS):
        return None
    raise WorkloadError(f"{layer.label}: the compiler does not know {type(layer).__name__} layers")


def _lower_elementwise(layer: Elementwise, base: dict, batch: int) -> Problem:
    """Inputs of the output's full shape are read tile by tile; smaller (broadcast) ones once,
    before the first tile (per sample). A constant operand is per-channel values when it divides evenly
    over the output's channels, else one block of values beside a single channel."""
    shape = layer.output_shape
    channels, height, width = as_map(shape)
    full = [each for each in layer.input_shapes if elements(each) == elements(shape)]
    if not full:
        layer._fail("broadcasting activations into a larger shape than every input is not compiled")
    smaller = sum(elements(each) for each in layer.input_shapes if elements(each) != elements(shape))
    if layer.params % channels:
        channels, height, width = 1, 1, elements(shape)
    return Problem(**base, groups=channels, in_channels=1, out_channels=1, in_height=height,
                   in_width=width, out_height=height, out_width=width, kernel=(1, 1), stride=(1, 1),
                   padding=(0, 0), matrix=False, input_tensors=len(full),
                   per_channel_values=layer.params // channels,
                   extra_input_bytes=smaller * FP32_BYTES * batch)


def check_lowering(layer: Layer, problem: Problem, batch: int = 1) -> None:
    """The lowering keeps the layer's arithmetic on ``batch`` samples: its MACs and every byte
    count. A matrix product's B operand, an activation, is among the weights of its problem;
    an embedding's rows, looked up per sample, are read per sample."""
    weights, inputs = problem.weight_bytes, problem.input_bytes
    if problem.masked:  # the causal mask is constants the packer places, not parameters
        weights = 0
    if problem.activation_weights:
        inputs, weights = inputs + weights, 0
    ours = (problem.macs, weights, inputs, problem.output_bytes)
    per_sample_weights = batch if isinstance(layer, Embedding) else 1
    theirs = (batch * layer.macs, per_sample_weights * layer.weight_bytes(), batch * layer.input_bytes(),
              batch * layer.output_bytes())
    if ours != theirs:
        raise AssertionError(f"{layer.label}: lowered to (MACs, weight, input, output bytes) {ours}, "
                             f"the layer has {theirs}")
