"""Host-side packing: a layer's tensors placed in DRAM exactly as its compiled program reads them,
and its output read back from where the program writes it.

A compiled program reads its input as slabs, its weights as blocks and writes its output as tiles,
each tensor's pieces one after another in the order the pipeline uses them (codegen.DramLayout).
Inside a piece the layout is the ISA's window form (isa/README.md, "Functional execution"):

- a slab holds its tile's input span (halo included) rows x columns x channels (HWC), group g's
  channel c at g x IC + c for the tile's groups and input-channel chunk; an add's maps side by
  side, one whole slab each;
- a block holds, for each of its groups, the (KH x KW x IC) x N matrix of its output channels
  row-major, row (i x KW + j) x IC + c for kernel row i, column j and channel c; the first
  input-channel chunk's block then holds each set of per-channel values (bias; batch norm's scale,
  then its shift) as G x N values;
- a tile holds positions x groups x N: rows x columns x channels for one group.

Every layer is first seen as maps of groups x channels x height x width (``Geometry``): a
convolution's input as its groups, a fully connected layer's as one group of its features over
its rows, element-wise work's as its channels. :class:`DramTensors` lists the pieces; the header
(compiler._dram_lines) and the packers here both read it, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlpsim.compiler.codegen import DramLayout, Task
from dlpsim.compiler.lowering import Problem, as_map
from dlpsim.compiler.mapping import input_span
from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    Activation,
    Add,
    BatchNorm,
    Conv2d,
    Embedding,
    FullyConnected,
    Layer,
    LayerNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    Softmax,
)

Span = tuple[int, int]


@dataclass(frozen=True)
class Slab:
    offset: int
    sample: int
    groups: Span
    channels: Span  # the input-channel chunk, within each group
    rows: Span  # input rows, halo included
    columns: Span
    maps: int  # maps side by side (an add's inputs)

    @property
    def bytes(self) -> int:
        (g0, g1), (k0, k1), (h0, h1), (w0, w1) = self.groups, self.channels, self.rows, self.columns
        return (g1 - g0) * (k1 - k0) * (h1 - h0) * (w1 - w0) * self.maps * 4


@dataclass(frozen=True)
class Block:
    offset: int
    groups: Span
    outs: Span  # output channels, within each group
    channels: Span  # the input-channel chunk
    weights: bool  # whether it holds matrix weights (else values only)
    value_sets: int  # sets of per-channel values after the weights (0: none in this block)
    window: int  # KH x KW

    @property
    def bytes(self) -> int:
        (g0, g1), (n0, n1), (k0, k1) = self.groups, self.outs, self.channels
        per_channel = (k1 - k0) * self.window * self.weights + self.value_sets
        return (g1 - g0) * (n1 - n0) * per_channel * 4


@dataclass(frozen=True)
class Tile:
    offset: int
    sample: int
    groups: Span
    outs: Span
    rows: Span  # output rows
    columns: Span
    bytes: int  # written back


@dataclass(frozen=True)
class DramTensors:
    """Every piece of a layer's tensors in DRAM, in DRAM order (see the module doc)."""

    slabs: tuple[Slab, ...]
    blocks: tuple[Block, ...]
    tiles: tuple[Tile, ...]
    input_end: int  # where the slabs end
    weights: int  # where the first block starts
    output: int  # where the first tile starts
    end: int
    # Whether every tile's MAC addresses exactly its input span (not so for a kept input tiled in
    # columns: see codegen.Task.span); the packers cannot make such a program compute its layer.
    addressable: bool = True


def dram_tensors(problem: Problem, all_tasks: list[Task], dram: DramLayout) -> DramTensors:
    """The pieces of ``all_tasks`` (codegen.tasks) where ``dram`` (codegen.DramLayout) puts them."""
    slabs, blocks, tiles = {}, {}, {}
    for task in all_tasks:
        group, chunk, place = task.input_key
        if task.input_key not in slabs:
            if isinstance(place, int):  # a kept input: the whole map of a sample
                sample, rows_in, columns_in = place, (0, problem.in_height), (0, problem.in_width)
            else:
                sample, rows, columns = place
                rows_in = input_span(*rows, problem.stride[0], problem.padding[0], problem.reach[0],
                                     problem.in_height, problem.out_height)
                columns_in = input_span(*columns, problem.stride[1], problem.padding[1], problem.reach[1],
                                        problem.in_width, problem.out_width)
            slabs[task.input_key] = Slab(dram.slabs[task.input_key], sample, group, chunk, rows_in,
                                         columns_in, problem.input_tensors)
        if task.weight_key is not None and task.weight_key not in blocks:
            _, out, _ = task.weight_key
            sets = problem.per_channel_values if chunk[0] == 0 else 0
            blocks[task.weight_key] = Block(dram.blocks[task.weight_key], group, out, chunk, problem.matrix,
                                            sets, problem.window)
        if task.output_bytes:
            _, out, (sample, rows, columns) = task.output_key
            tiles[task.output_key] = Tile(dram.tiles[task.output_key], sample, group, out, rows, columns,
                                          task.output_bytes)
    return DramTensors(tuple(slabs.values()), tuple(blocks.values()), tuple(tiles.values()), dram.state,
                       dram.weights, dram.output, dram.end,
                       all(task.span_addressable for task in all_tasks))


# -- the layer's arrays as maps -------------------------------------------------------------------

def packable(layer: Layer) -> bool:
    """Whether the packers know the layer's kind (the compiler emits it executably too)."""
    return isinstance(layer, Conv2d | FullyConnected | Pool | Activation | BatchNorm | Add | LSTMCell
                      | MatMul | Embedding | PositionEmbedding | Softmax | LayerNorm)


def samples_as_groups(layer: Layer) -> bool:
    """Whether the problem's groups are every sample's (a matrix product's products, an embedding's
    tokens: lowering gives them a batch of one)."""
    return isinstance(layer, MatMul | Embedding)


def lstm_columns(hidden: int, tiles: tuple[Tile, ...]) -> np.ndarray:
    """The gate rows of an LSTM cell's weight (i, f, g, o, each ``hidden`` rows) in the order its
    output channels take them: each tile's output channels [n0, n1) hold its units n0/4 to n1/4
    gate by gate (i of each unit, then f, g, o), as lowering.LSTM_STEPS reads them."""
    order = np.arange(4 * hidden)
    for n0, n1 in sorted({tile.outs for tile in tiles}):
        units, first = (n1 - n0) // 4, n0 // 4
        for gate in range(4):
            order[n0 + gate * units:n0 + (gate + 1) * units] = gate * hidden + first + np.arange(units)
    return order


def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]


def _products(layer: MatMul, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sample's products of a matrix product as the problem's groups (lowering: a B without
    batch axes shared by every product folds the leading axes into the rows): A as (products,
    K, rows, 1), B as (products, N, K, 1, 1); product p = leading index x heads + head."""
    heads, k = layer.heads, layer.reduction
    a = np.asarray(a)
    shared = b.ndim == 2 and a.ndim > 2
    rows = a.reshape(-1, heads, k) if shared else a.reshape(-1, layer.rows, heads, k)
    # B as (leading, N, heads, K): transposed, it is so already; else its (K, heads x N) turned
    b = np.asarray(b)
    if layer.transpose_b:
        b = b.reshape(-1, layer.columns, heads, k)
    else:
        b = b.reshape(-1, k, heads, layer.columns).transpose(0, 3, 2, 1)
    # (rows, heads, K) -> (heads, K, rows), or (leading, rows, heads, K) -> (leading x heads, K, rows)
    a_maps = rows.transpose(1, 2, 0) if shared else rows.transpose(0, 2, 3, 1).reshape(-1, k, layer.rows)
    b_maps = b.transpose(0, 2, 1, 3).reshape(-1, layer.columns, k)  # (leading x heads, N, K)
    return a_maps[..., None], b_maps[..., None, None]


def _features_as_groups(layer: Layer) -> bool:
    """Rows of features with each feature a group (lowering: batch norm on rows, layer norm, position
    embedding)."""
    return isinstance(layer, PositionEmbedding | LayerNorm) or (isinstance(layer, BatchNorm)
                                                                and len(layer.input_shape) != 3)


def input_maps(layer: Layer, problem: Problem, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """One sample's inputs as (groups, channels, height, width) maps, as the problem sees them
    (a matrix product's: its products' A, its groups for one sample)."""
    shape = (problem.groups, problem.in_channels, problem.in_height, problem.in_width)
    if isinstance(layer, MatMul):
        return [_products(layer, *inputs)[0]]
    if isinstance(layer, Embedding):  # each token's id a group of its own
        return [np.asarray(inputs[0]).reshape(-1, 1, 1, 1)]
    if isinstance(layer, LSTMCell):  # [x; h_prev], one row of features (c_prev is the state)
        return [np.concatenate([np.asarray(inputs[0]), np.asarray(inputs[1])]).reshape(shape)]
    if isinstance(layer, FullyConnected):  # its rows of features: one group, the features channels
        rows = np.asarray(inputs[0]).reshape(layer.rows, layer.in_features)
        return [rows.T.reshape(shape)]
    if _features_as_groups(layer):  # each feature a group over the rows
        rows = np.asarray(inputs[0]).reshape(_rows(layer.input_shape))
        return [rows.T.reshape(shape)]
    if isinstance(layer, Conv2d | Pool):
        return [np.asarray(inputs[0]).reshape(shape)]
    return [np.asarray(each).reshape(as_map(layer.output_shape)).reshape(shape) for each in inputs]


def output_array(layer: Layer, problem: Problem, maps: np.ndarray) -> np.ndarray:
    """One sample's output from its (groups, channels, height, width) map."""
    if isinstance(layer, MatMul):  # (products, N, rows, 1) -> (..., rows, heads x N)
        shared = len(layer.input_shapes[1]) == 2 and len(layer.input_shapes[0]) > 2
        per_head = maps[..., 0].reshape(-1, layer.heads, layer.columns, maps.shape[2])
        if shared:  # (1, heads, N, all rows)
            return per_head[0].transpose(2, 0, 1).reshape(layer.output_shape)
        return per_head.transpose(0, 3, 1, 2).reshape(layer.output_shape)
    if isinstance(layer, FullyConnected) or _features_as_groups(layer):
        return maps.reshape(-1, problem.out_height).T.reshape(layer.output_shape)
    return maps.reshape(layer.output_shape)


def weight_tensors(layer: Layer, problem: Problem, parameters: dict[str, np.ndarray], tensors: DramTensors,
                   samples: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """The weights as (groups, N, channels, KH, KW) and each set of per-channel values as
    (groups, N), as the problem's blocks hold them (a matrix product's: B of every sample's
    products, sample after sample)."""
    groups, outs = problem.groups, problem.out_channels
    if isinstance(layer, MatMul):
        return np.concatenate([_products(layer, *inputs)[1] for inputs in samples]), []
    if isinstance(layer, Embedding):  # the host looks the rows up: the program only copies them
        ids = np.concatenate([np.asarray(inputs[0]) for inputs in samples]).astype(np.int64)
        return None, [np.asarray(parameters["table"])[ids]]
    if isinstance(layer, PositionEmbedding):  # one set per token: its row of the table, per feature
        table = np.asarray(parameters["table"])
        return None, [table[layer.first_position + row].reshape(groups, outs)
                      for row in range(problem.in_height)]
    if isinstance(layer, LSTMCell):
        order = lstm_columns(layer.hidden_size, tensors.tiles)
        return (np.asarray(parameters["weight"])[order].reshape(1, outs, problem.in_channels, 1, 1),
                [np.asarray(parameters["bias"])[order].reshape(1, outs)])
    if isinstance(layer, Conv2d):
        weights = np.asarray(parameters["weight"]).reshape(groups, outs, problem.in_channels, *problem.kernel)
    elif isinstance(layer, FullyConnected):
        weights = np.asarray(parameters["weight"]).T.reshape(1, outs, problem.in_channels, 1, 1)
    else:
        weights = None
    if isinstance(layer, Softmax) and layer.masked:
        values = list(causal_mask(layer, problem.mask_queries).reshape(-1, 1, 1))
    elif isinstance(layer, BatchNorm | LayerNorm):
        values = [np.asarray(parameters[name]).reshape(groups, outs) for name in ("scale", "shift")]
    elif "bias" in parameters:
        values = [np.asarray(parameters["bias"]).reshape(groups, outs)]
    else:
        values = []
    return weights, values


def causal_mask(layer: Softmax, queries: int) -> np.ndarray:
    """A masked softmax's mask for all its rows at once (lowering.Problem.mask_queries): ``length``
    zeros, then ``queries`` - 1 -infs. Query q sees the keys k <= q + length - queries (as
    reference.softmax), and the length values from queries - 1 - q on are 0 exactly there."""
    return np.concatenate([np.zeros(layer.length, np.float32), np.full(queries - 1, -np.inf, np.float32)])


# -- packing and unpacking ------------------------------------------------------------------------

def pack(layer: Layer, problem: Problem, tensors: DramTensors, samples: list[tuple[np.ndarray, ...]],
         parameters: dict[str, np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """(DRAM offset, float32 values) of every slab and block, from each sample's inputs and the
    layer's parameters (as dlpsim.workloads.reference takes them)."""
    if not packable(layer):
        raise WorkloadError(f"{layer.label}: no packer for {type(layer).__name__} layers yet")
    pieces = []
    maps = [input_maps(layer, problem, inputs) for inputs in samples]
    if samples_as_groups(layer):  # every sample's groups are those of one problem sample
        maps = [[np.concatenate([each[0] for each in maps])]]
    for slab in tensors.slabs:
        (g0, g1), (k0, k1), (h0, h1), (w0, w1) = slab.groups, slab.channels, slab.rows, slab.columns
        parts = [each[g0:g1, k0:k1, h0:h1, w0:w1].transpose(2, 3, 0, 1).reshape(-1)
                 for each in maps[slab.sample]]
        pieces.append((slab.offset, np.concatenate(parts).astype(np.float32)))
    weights, values = weight_tensors(layer, problem, parameters, tensors, samples)
    for block in tensors.blocks:
        (g0, g1), (n0, n1), (k0, k1) = block.groups, block.outs, block.channels
        parts = []
        if block.weights:
            # (groups, N, chunk, KH, KW) -> each group's (KH x KW x chunk) x N, row-major
            parts.append(weights[g0:g1, n0:n1, k0:k1].transpose(0, 3, 4, 2, 1).reshape(-1))
        parts += [each[g0:g1, n0:n1].reshape(-1) for each in values[:block.value_sets]]
        pieces.append((block.offset, np.concatenate(parts).astype(np.float32)))
    if isinstance(layer, LSTMCell):  # c_prev of each sample, read once
        states = np.concatenate([inputs[2] for inputs in samples])
        pieces.append((tensors.input_end, states.astype(np.float32)))
    return pieces


def unpack(layer: Layer, problem: Problem, tensors: DramTensors, read: Callable[[int, int], np.ndarray],
           samples: int = 1) -> list[np.ndarray]:
    """Each sample's output, from the tiles ``read(offset, bytes)`` (uint8) returns; an LSTM cell's
    is h and c stacked, (2, hidden)."""
    if isinstance(layer, LSTMCell):
        return _unpack_lstm(layer, problem, tensors, read)
    shape = (problem.groups, problem.out_channels, problem.out_height, problem.out_width)
    outputs = [np.zeros(shape, np.float32) for _ in range(problem.batch)]
    for tile in tensors.tiles:
        (g0, g1), (n0, n1), (r0, r1), (c0, c1) = tile.groups, tile.outs, tile.rows, tile.columns
        values = read(tile.offset, tile.bytes).view(np.float32)
        # positions x groups x N
        outputs[tile.sample][g0:g1, n0:n1, r0:r1, c0:c1] = \
            values.reshape(r1 - r0, c1 - c0, g1 - g0, n1 - n0).transpose(2, 3, 0, 1)
    if samples_as_groups(layer):  # the groups are the samples', sample after sample
        outputs = np.split(outputs[0], samples)
    return [output_array(layer, problem, each) for each in outputs]


def _unpack_lstm(layer: LSTMCell, problem: Problem, tensors: DramTensors,
                 read: Callable[[int, int], np.ndarray]) -> list[np.ndarray]:
    """Each tile of units [n0/4, n1/4) writes their h, then their c (lowering.LSTM_STEPS)."""
    outputs = [np.zeros((2, layer.hidden_size), np.float32) for _ in range(problem.batch)]
    for tile in tensors.tiles:
        n0, n1 = tile.outs
        units, first = (n1 - n0) // 4, n0 // 4
        values = read(tile.offset, tile.bytes).view(np.float32).reshape(2, units)
        outputs[tile.sample][:, first:first + units] = values
    return outputs
