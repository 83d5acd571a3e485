"""numpy references of every layer kind, exactly as layers.py defines it: what a compiled layer's
functional run must reproduce (issue 12's verification compares against these).

Each function takes the layer and its arrays and returns its output, computed in float64 (a
reference more precise than the float32 it is compared with). Arrays and parameters, by kind:

==============  =====================================  ==========================================
layer           inputs                                 parameters (``parameter_shapes``)
==============  =====================================  ==========================================
Conv2d          x (C, H, W)                            weight (out, C / groups, kh, kw), bias (out,)
FullyConnected  x of its input shape                   weight (in_features, out_features), bias (out,)
Pool            x (C, H, W)                            none
Activation      x                                      none
BatchNorm       x                                      scale (channels,), shift (channels,)
Add             x1, x2, ... (equal shapes)             none
Concat          x1, x2, ...                            none
LSTMCell        x (input,), h (hidden,), c (hidden,)   weight (4 hidden, input + hidden), bias (4 hidden,)
MatMul          a, b (its two input shapes)            none
Softmax         x                                      none
LayerNorm       x                                      scale (features,), shift (features,)
Embedding       ids (tokens,), whole numbers           table (vocabulary, dim)
PositionEmb.    x (tokens, dim)                        table (positions, dim)
ClassToken      x (tokens, dim)                        token (dim,)
Slice           x                                      none
Reshape         x                                      none
Transpose       x                                      none
Elementwise     x1, x2, ... (broadcastable)            constant (constant_shape), if it has one
LocalResponse-  x (C, H, W)                            none
Norm
Recurrent       x (steps, input) or (input,)           weight (directions, gates x hidden, input),
                                                       recurrent_weight (directions, gates x hidden,
                                                       hidden), bias (directions, bias_sets x gates
                                                       x hidden) if bias_sets
==============  =====================================  ==========================================

Conventions where layers.py leaves a choice:

- A fully connected layer computes ``y = x . W + b`` with W stored (in_features, out_features),
  the textbook exercises' y = x . W; a feature map is flattened in C order (channel, row,
  column) first; a (rows, features) input is a batch, each row multiplied by W.
- Windows (convolution and pooling) pad with zeros on the top and left by ``padding`` and on the
  bottom and right as far as the last window reaches (``ceil_mode`` may reach past the padding):
  a partial window counts in full, as if zero-padded, as layers.py counts it. Max pooling takes
  the maximum of the window's input elements only (the padding never wins); average pooling
  divides the zero-padded window's sum by the window size k (count_include_pad).
- Activations are the exact functions (relu, relu6 = min(max(x, 0), 6), clip to its bounds,
  leaky_relu with slope 0.01, sigmoid, tanh, gelu = x * (1 + erf(x / sqrt 2)) / 2). The
  hardware's 16-segment piecewise-linear sigmoid, tanh and gelu differ from them by the
  approximation's error, which a comparison must allow for (so do softmax's exp and layer
  norm's 1/sqrt).
- A matrix product splits the last axis of each operand into its heads, side by side, and
  multiplies head by head (B transposed with ``transpose_b``); a tied fully connected layer
  takes its matrix as any other (GPT-2's LM head: the token table transposed).
- Softmax subtracts each run's maximum before exp (the same result, no overflow); a masked
  softmax gives the keys after a query's own position a probability of 0.
- Batch norm's channels are the first axis of a feature map, the last of a vector or batch.
- Concatenation joins feature maps along channels, vectors along their only axis, batches along
  features (Concat.axis).
- The LSTM cell's gate rows are, in order, input i, forget f, candidate g and output o (each
  ``hidden`` rows of W and b); ``i, f, o = sigmoid``, ``g = tanh``, ``c = f * c_prev + i * g``,
  ``h = o * tanh(c)``. It returns (h, c).
- A dilated convolution takes every ``dilation``-th input of its window's reach.
- An element-wise layer applies its operation left to right over its operands with numpy
  broadcasting, the constant last (first with ``constant_first``).
- LRN sums the squares over channels ``c - (size - 1) // 2`` to ``c + size // 2`` (ONNX's window).
- A recurrent layer (ONNX's LSTM and GRU) starts from zero state and keeps ONNX's gate orders:
  i, o, f, c for an LSTM; z, r, h for a GRU (``linear_before_reset`` as ONNX defines it). The
  biases are the input set then the recurrent set (the latter zero with one set); a reverse
  direction runs the steps backwards; both directions' h sit side by side per step.
"""

from __future__ import annotations

import math

import numpy as np

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    RECURRENT_GATES,
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
    Shape,
    Slice,
    Softmax,
    Transpose,
    Window,
)

LEAKY_RELU_SLOPE = 0.01


def parameter_shapes(layer: Layer) -> dict[str, Shape]:
    """The parameters a layer's reference takes, by name, with their shapes."""
    if isinstance(layer, Conv2d):
        shapes = {"weight": (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel)}
        return shapes | ({"bias": (layer.out_channels,)} if layer.bias else {})
    if isinstance(layer, FullyConnected):
        shapes = {"weight": (layer.in_features, layer.out_features)}
        return shapes | ({"bias": (layer.out_features,)} if layer.bias else {})
    if isinstance(layer, BatchNorm):
        return {"scale": (layer.channels,), "shift": (layer.channels,)}
    if isinstance(layer, LSTMCell):
        return {"weight": (4 * layer.hidden_size, layer.input_size + layer.hidden_size),
                "bias": (4 * layer.hidden_size,)}
    if isinstance(layer, LayerNorm):
        return {"scale": (layer.features,), "shift": (layer.features,)}
    if isinstance(layer, Embedding):
        return {"table": (layer.vocabulary, layer.dim)}
    if isinstance(layer, PositionEmbedding):
        return {"table": (layer.positions, layer.input_shape[1])}
    if isinstance(layer, ClassToken):
        return {"token": (layer.input_shape[1],)}
    if isinstance(layer, Elementwise) and layer.constant_shape is not None:
        return {"constant": layer.constant_shape}
    if isinstance(layer, Recurrent):
        rows = (layer.directions, layer.gate_rows)
        shapes = {"weight": (*rows, layer.input_size), "recurrent_weight": (*rows, layer.hidden_size)}
        biases = (layer.directions, layer.bias_sets * layer.gate_rows)
        return shapes | ({"bias": biases} if layer.bias_sets else {})
    return {}


def input_shapes(layer: Layer) -> tuple[Shape, ...]:
    """The arrays a layer's reference takes as inputs (the LSTM cell's state included)."""
    if isinstance(layer, LSTMCell):
        return (layer.input_shape, (layer.hidden_size,), (layer.hidden_size,))
    return tuple(layer.input_shapes)


def _checked(layer: Layer, what: str, array: np.ndarray, shape: Shape) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != tuple(shape):
        raise WorkloadError(f"{layer.label}: {what} must have the shape {tuple(shape)}, got {array.shape}")
    return array.astype(np.float64)


def _padded_windows(layer: Layer, x: np.ndarray, windows: tuple[Window, Window],
                    out_shape: Shape, fill: float) -> np.ndarray:
    """Every window of a (C, H, W) input as an array (C, out_h, out_w, kh, kw), the input padded
    with ``fill`` on the top and left by the padding and on the bottom and right as far as the
    last window reaches."""
    _, out_h, out_w = out_shape
    (kh, sh, ph), (kw, sw, pw) = ((w.kernel, w.stride, w.padding) for w in windows)
    channels, height, width = x.shape
    full_h = max(height + ph, (out_h - 1) * sh + kh - ph)  # rows after the top padding
    full_w = max(width + pw, (out_w - 1) * sw + kw - pw)
    padded = np.full((channels, ph + full_h, pw + full_w), fill)
    padded[:, ph:ph + height, pw:pw + width] = x
    views = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    return views[:, :(out_h - 1) * sh + 1:sh, :(out_w - 1) * sw + 1:sw]


def conv2d(layer: Conv2d, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    weight = _checked(layer, "the weight", weight, parameter_shapes(layer)["weight"])
    reach = _padded_windows(layer, x, layer.windows, layer.output_shape, 0.0)  # (C, oh, ow, reach h, w)
    windows = reach[..., ::layer.dilation[0], ::layer.dilation[1]]  # the kernel's taps: (C, oh, ow, kh, kw)
    per_group_in = layer.in_channels // layer.groups
    per_group_out = layer.out_channels // layer.groups
    groups = []
    for group in range(layer.groups):
        seen = windows[group * per_group_in:(group + 1) * per_group_in]
        kernels = weight[group * per_group_out:(group + 1) * per_group_out]
        # a matrix product over (channel, kernel row, kernel column): BLAS's speed, not einsum's loops
        groups.append(np.tensordot(kernels, seen, axes=([1, 2, 3], [0, 3, 4])))
    out = np.concatenate(groups)
    if layer.bias:
        if bias is None:
            raise WorkloadError(f"{layer.label}: the layer has a bias; give it")
        out += _checked(layer, "the bias", bias, (layer.out_channels,))[:, None, None]
    return out


def fully_connected(layer: FullyConnected, x: np.ndarray, weight: np.ndarray,
                    bias: np.ndarray | None = None) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    weight = _checked(layer, "the weight", weight, (layer.in_features, layer.out_features))
    rows = x.reshape(layer.rows, layer.in_features)
    out = rows @ weight
    if layer.bias:
        if bias is None:
            raise WorkloadError(f"{layer.label}: the layer has a bias; give it")
        out += _checked(layer, "the bias", bias, (layer.out_features,))
    return out.reshape(layer.output_shape)


def pool(layer: Pool, x: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    if layer.mode == "max":
        return _padded_windows(layer, x, layer.windows, layer.output_shape, -np.inf).max(axis=(3, 4))
    window = layer.kernel[0] * layer.kernel[1]
    return _padded_windows(layer, x, layer.windows, layer.output_shape, 0.0).sum(axis=(3, 4)) / window


def activation(layer: Activation, x: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    function = layer.function
    if function == "relu":
        return np.maximum(x, 0.0)
    if function == "relu6":
        return np.minimum(np.maximum(x, 0.0), 6.0)
    if function == "clip":
        return np.clip(x, *layer.bounds)
    if function == "leaky_relu":
        return np.where(x > 0, x, LEAKY_RELU_SLOPE * x)
    if function == "sigmoid":
        return _sigmoid(x)
    if function == "gelu":
        return 0.5 * x * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))
    return np.tanh(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|, unlike 1 / (1 + exp(-x))


def batch_norm(layer: BatchNorm, x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    scale = _checked(layer, "the scale", scale, (layer.channels,))
    shift = _checked(layer, "the shift", shift, (layer.channels,))
    if len(layer.input_shape) == 3:
        return x * scale[:, None, None] + shift[:, None, None]
    return x * scale + shift


def add(layer: Add, *inputs: np.ndarray) -> np.ndarray:
    arrays = _inputs(layer, inputs)
    return np.sum(arrays, axis=0)


def concat(layer: Concat, *inputs: np.ndarray) -> np.ndarray:
    return np.concatenate(_inputs(layer, inputs), axis=layer.axis)


def _inputs(layer: Add | Concat | MatMul, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    if len(inputs) != len(layer.input_shapes):
        raise WorkloadError(f"{layer.label}: takes {len(layer.input_shapes)} inputs, got {len(inputs)}")
    return [_checked(layer, f"input {index}", array, shape)
            for index, (array, shape) in enumerate(zip(inputs, layer.input_shapes, strict=True), start=1)]


def lstm_cell(layer: LSTMCell, x: np.ndarray, h: np.ndarray, c: np.ndarray, weight: np.ndarray,
              bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = layer.hidden_size
    x = _checked(layer, "the input", x, layer.input_shape)
    h = _checked(layer, "the state h", h, (hidden,))
    c = _checked(layer, "the state c", c, (hidden,))
    shapes = parameter_shapes(layer)
    weight = _checked(layer, "the weight", weight, shapes["weight"])
    bias = _checked(layer, "the bias", bias, shapes["bias"])
    gates = weight @ np.concatenate([x, h]) + bias
    i, f, g, o = (gates[k * hidden:(k + 1) * hidden] for k in range(4))
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c_next), c_next


def matmul(layer: MatMul, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _inputs(layer, (a, b))
    heads = layer.heads
    # (..., rows, heads x size) -> (..., heads, rows, size)
    a = np.moveaxis(a.reshape(*a.shape[:-1], heads, layer.reduction), -2, -3)
    b = np.moveaxis(b.reshape(*b.shape[:-1], heads, b.shape[-1] // heads), -2, -3)
    if layer.transpose_b:
        b = np.swapaxes(b, -1, -2)
    out = np.moveaxis(a @ b, -3, -2)  # (..., rows, heads, columns)
    return out.reshape(layer.output_shape)


def softmax(layer: Softmax, x: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    runs = x.reshape(*x.shape[:-1], -1, layer.length) * layer.scale  # (..., rows, heads, keys)
    if layer.masked:
        rows = x.shape[-2] if x.ndim > 1 else 1
        query = np.arange(rows).reshape(rows, 1, 1)
        key = np.arange(layer.length).reshape(1, 1, layer.length)
        runs = np.where(key > query + layer.length - rows, -np.inf, runs)
    exp = np.exp(runs - runs.max(axis=-1, keepdims=True))
    return (exp / exp.sum(axis=-1, keepdims=True)).reshape(layer.input_shape)


def layer_norm(layer: LayerNorm, x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    scale = _checked(layer, "the scale", scale, (layer.features,))
    shift = _checked(layer, "the shift", shift, (layer.features,))
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + layer.epsilon) * scale + shift


def embedding(layer: Embedding, ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    ids = _checked(layer, "the ids", ids, layer.input_shape)
    table = _checked(layer, "the table", table, (layer.vocabulary, layer.dim))
    if not (np.all(ids == np.round(ids)) and np.all(ids >= 0) and np.all(ids < layer.vocabulary)):
        raise WorkloadError(f"{layer.label}: the ids must be whole numbers from 0 to {layer.vocabulary - 1}")
    return table[ids.astype(np.int64)]


def position_embedding(layer: PositionEmbedding, x: np.ndarray, table: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    table = _checked(layer, "the table", table, parameter_shapes(layer)["table"])
    return x + table[layer.first_position:layer.first_position + x.shape[0]]


def class_token(layer: ClassToken, x: np.ndarray, token: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    token = _checked(layer, "the token", token, parameter_shapes(layer)["token"])
    return np.concatenate([token[None, :], x])


def view(layer: Slice | Reshape | Transpose, x: np.ndarray) -> np.ndarray:
    """The layers that only select or rearrange elements."""
    x = _checked(layer, "the input", x, layer.input_shape)
    if isinstance(layer, Slice):
        return x[layer.start:layer.stop]
    if isinstance(layer, Reshape):
        return x.reshape(layer.shape)
    return x.transpose(layer.permutation)


def elementwise(layer: Elementwise, *inputs: np.ndarray, constant: np.ndarray | None = None) -> np.ndarray:
    if len(inputs) != len(layer.input_shapes):
        raise WorkloadError(f"{layer.label}: takes {len(layer.input_shapes)} inputs, got {len(inputs)}")
    operands = [_checked(layer, f"input {index}", array, shape)
                for index, (array, shape) in enumerate(zip(inputs, layer.input_shapes, strict=True), start=1)]
    if layer.constant_shape is not None:
        operands.insert(0 if layer.constant_first else len(operands),
                        _checked(layer, "the constant", constant, layer.constant_shape))
    operation = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[layer.operation]
    result = operands[0]
    for operand in operands[1:]:
        result = operation(result, operand)
    return result


def local_response_norm(layer: LocalResponseNorm, x: np.ndarray) -> np.ndarray:
    x = _checked(layer, "the input", x, layer.input_shape)
    squares = np.pad(x * x, (((layer.size - 1) // 2, layer.size // 2), (0, 0), (0, 0)))
    sums = np.lib.stride_tricks.sliding_window_view(squares, layer.size, axis=0).sum(axis=-1)
    return x / (layer.bias + layer.alpha / layer.size * sums) ** layer.beta


def recurrent(layer: Recurrent, x: np.ndarray, weight: np.ndarray, recurrent_weight: np.ndarray,
              bias: np.ndarray | None = None) -> np.ndarray:
    shapes = parameter_shapes(layer)
    steps = _checked(layer, "the input", x, layer.input_shape).reshape(layer.steps, layer.input_size)
    weight = _checked(layer, "the weight", weight, shapes["weight"])
    recurrent_weight = _checked(layer, "the recurrent weight", recurrent_weight, shapes["recurrent_weight"])
    rows = layer.gate_rows
    if layer.bias_sets:
        bias = _checked(layer, "the bias", bias, shapes["bias"])
    else:
        bias = np.zeros((layer.directions, rows))
    biases = [(each[:rows], each[rows:] if layer.bias_sets == 2 else np.zeros(rows)) for each in bias]
    hidden = layer.hidden_size
    backwards = [layer.direction == "reverse"] if layer.directions == 1 else [False, True]
    outputs = []
    for d, reverse in enumerate(backwards):
        w, r, (w_bias, r_bias) = weight[d], recurrent_weight[d], biases[d]
        h, c = np.zeros(hidden), np.zeros(hidden)
        out = np.zeros((layer.steps, hidden))
        for t in (reversed(range(layer.steps)) if reverse else range(layer.steps)):
            from_x, from_h = w @ steps[t] + w_bias, r @ h + r_bias
            gate = [slice(k * hidden, (k + 1) * hidden) for k in range(RECURRENT_GATES[layer.cell])]
            if layer.cell == "lstm":
                i, o, f, g = (from_x[k] + from_h[k] for k in gate)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
            else:
                z, reset = (_sigmoid(from_x[k] + from_h[k]) for k in gate[:2])
                if layer.linear_before_reset:
                    candidate = np.tanh(from_x[gate[2]] + reset * from_h[gate[2]])
                else:
                    candidate = np.tanh(from_x[gate[2]] + r[gate[2]] @ (reset * h) + r_bias[gate[2]])
                h = (1 - z) * candidate + z * h
            out[t] = h
        outputs.append(out)
    return np.concatenate(outputs, axis=1).reshape(layer.output_shape)


def evaluate(layer: Layer, inputs: tuple[np.ndarray, ...], parameters: dict[str, np.ndarray]):
    """Any layer's reference from its inputs (``input_shapes``) and named parameters
    (``parameter_shapes``): an array, or (h, c) for an LSTM cell."""
    expected = parameter_shapes(layer)
    if set(parameters) != set(expected):
        raise WorkloadError(f"{layer.label}: takes the parameters {sorted(expected) or 'none'}, "
                            f"got {sorted(parameters) or 'none'}")
    count = len(input_shapes(layer))
    if len(inputs) != count:
        plural = "s" if count != 1 else ""
        raise WorkloadError(f"{layer.label}: takes {count} input{plural}, got {len(inputs)}")
    for kind, reference in REFERENCES.items():
        if isinstance(layer, kind):
            return reference(layer, *inputs, **parameters)
    raise WorkloadError(f"{layer.label}: no reference for a {type(layer).__name__}")


# Each layer kind's reference; those without parameters are given none (``parameter_shapes``).
REFERENCES = {Conv2d: conv2d, FullyConnected: fully_connected, Pool: pool, Activation: activation,
              BatchNorm: batch_norm, Add: add, Concat: concat, LSTMCell: lstm_cell, MatMul: matmul,
              Softmax: softmax, LayerNorm: layer_norm, Embedding: embedding,
              PositionEmbedding: position_embedding, ClassToken: class_token, Slice: view, Reshape: view,
              Transpose: view, Elementwise: elementwise, LocalResponseNorm: local_response_norm,
              Recurrent: recurrent}
