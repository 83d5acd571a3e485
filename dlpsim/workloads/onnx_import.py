"""ONNX models as networks: bring your own model, exported from any framework.

The model is read with the ``onnx`` package (an optional extra: ``pip install
"dlpsim[onnx]"``), converted to opset :data:`TARGET_OPSET` when older, and its shapes come
from ONNX's own shape inference; weights are never read (external data stays on disk),
only their shapes. Each operator becomes a layer of :mod:`dlpsim.workloads.layers`:

- computed once, not per inference: any node whose inputs are all constants (initializers,
  ``Constant``, ``ConstantOfShape``, ``Shape`` of a static shape) is folded, so weights
  produced by ``ConstantOfShape`` or reshaped before a ``Gemm`` are just weights;
- views at zero compute: ``Reshape``, ``Transpose``, ``Flatten``, ``Squeeze``,
  ``Unsqueeze``, ``Identity`` and ``Dropout`` (the identity at inference). A view that a
  layer must read in its new shape becomes a ``reshape`` layer (nothing computed or moved);
  a flatten before a fully connected layer is absorbed by it;
- layers: ``Conv`` (2-D: groups, strides, asymmetric pads, dilations, ``auto_pad``),
  ``ConvTranspose`` whose stride is its kernel (a GEMM of the pixels and views that place the
  patches), ``Gemm`` and ``MatMul`` with a constant weight (a following ``Add`` of a constant
  vector becomes its bias; the transpose of an embedding's table makes it tied), activations,
  ``LRN``, ``BatchNormalization``, pooling, element-wise ``Add``/``Sub``/``Mul``/``Div``/``Sum``
  with broadcasting, ``Concat``, ``LSTM`` and ``GRU``;
- transformers: ``Gather`` of a table (an embedding), an ``Add`` of a ``Slice`` of a table's
  rows (a position embedding), a ``Concat`` of a constant row in front (a class token), a
  ``MatMul`` of attention's heads split by ``Reshape`` and ``Transpose`` (views of the
  projections, so one ``matmul`` of ``heads`` products), a ``Softmax`` with the ``Mul``/``Div``
  by a number and the ``Where`` of a constant condition before it (its scale and mask).

Shapes follow dlpsim's convention: the batch axis is dropped (``1x3x224x224`` is the feature
map ``3x224x224``). When every input starts with the same size N (and has two axes or more),
N is the model's batch (:func:`at_batch`). Parameters are the
floating-point constants a layer multiplies or adds (weights, biases, normalisation scales
and offsets); batch norm's running mean and variance are buffers, and integer constants
(shapes, axes) and single numbers are not parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy

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
    MatMul,
    Pool,
    PositionEmbedding,
    Recurrent,
    Reshape,
    Shape,
    Slice,
    Softmax,
    Transpose,
    elements,
    format_shape,
)
from dlpsim.workloads.networks import Network, Node

INSTALL_HINT = 'reading .onnx models needs the onnx package: pip install "dlpsim[onnx]"'

# Models older than this are converted to it with onnx's version converter, so that one set of
# operator definitions is read (Unsqueeze's axes as an input, Clip's bounds as inputs, ...).
TARGET_OPSET = 17

# Operators that only change how the same elements are seen.
VIEW_OPERATORS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})

ACTIVATIONS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
               "Gelu": "gelu"}
ELEMENTWISE = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Sum": "add"}
POOLS = {"MaxPool": "max", "AveragePool": "avg", "GlobalMaxPool": "max", "GlobalAveragePool": "avg"}
RECURRENT = {"LSTM": "lstm", "GRU": "gru"}

LAYER_OPERATORS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Clip", "LRN", "BatchNormalization",
                             "Concat", "Softmax", "LayerNormalization", "Gather", "Slice",
                             *ACTIVATIONS, *ELEMENTWISE, *POOLS, *RECURRENT})
SUPPORTED_OPERATORS = LAYER_OPERATORS | VIEW_OPERATORS

# Constants up to this many elements keep their values (Clip's bounds); larger ones only their shape.
SMALL_CONSTANT = 16


def _onnx():
    try:
        import onnx
    except ImportError:
        raise WorkloadError(INSTALL_HINT) from None
    return onnx


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``NAME=1x3x224x224`` as (name, dims); the name may itself contain ``=``."""
    name, equals, dims = text.rpartition("=")
    sizes = dims.lower().split("x")
    if not equals or not name or not all(size.isdigit() and int(size) >= 1 for size in sizes):
        raise WorkloadError(f"--input-shape {text!r}: expected NAME=DIMS with DIMS sizes >= 1 joined by "
                            "x, e.g. input=1x3x224x224")
    return name, tuple(int(size) for size in sizes)


@dataclass(frozen=True)
class _Constant:
    dims: tuple[int, ...]
    floating: bool
    value: tuple[float, ...] | None  # only for small constants
    # The constant tensor (initializer or constant node) this one is, or a transpose of (a tied
    # layer's matrix is the transpose of an embedding's table).
    origin: str | None = None
    # When it is rows ``first_row ..`` of a 2-axis table (a position embedding's), the table's dims.
    table: tuple[int, int] | None = None
    first_row: int = 0


@dataclass(frozen=True)
class _SoftmaxInput:
    """What a Softmax normalizes once the scale and the mask fused into it are taken out."""

    tensor: str  # the scores before the scale and the mask
    scale: str | None  # the constant the scores are multiplied (or divided) by
    divided: bool
    masked: bool  # by a Where of a constant condition


@dataclass(frozen=True)
class _Activation:
    """A tensor computed per inference: ``source`` (a layer or network input) seen as ``dims``."""

    source: str
    dims: tuple[int, ...]
    view_of: str | None = None  # the tensor name when it is a view of ``source`` in other dims
    permutation: tuple[int, ...] | None = None  # when the view is one Transpose of the source's axes
    # (heads, transposed) when the view is ``(rows, heads x size)`` split into heads: ``batch x
    # heads x rows x size``, or ``batch x heads x size x rows`` when transposed (attention's K^T)
    heads: tuple[int, bool] | None = None

    @property
    def plain_view(self) -> bool:
        """The source's elements in their order, in other dims (a Reshape)."""
        return self.view_of is not None and self.permutation is None and self.heads is None


def _dlpsim_shape(dims: tuple[int, ...], batch: int = 1) -> Shape | None:
    """ONNX dims in dlpsim's convention: the batch axis (of ``batch`` or 1) dropped, then extra
    axes of 1 (a recurrent layer's direction axis) until three are left; None when that cannot be."""
    shape = dims[1:] if len(dims) >= 2 and dims[0] in (1, batch) else dims
    while len(shape) > 3 and 1 in shape:
        index = shape.index(1)
        shape = shape[:index] + shape[index + 1:]
    return shape if 1 <= len(shape) <= 3 else None


def _without_ones(dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(size for size in dims if size != 1)


def _constant_shape(dims: tuple[int, ...]) -> Shape:
    """A constant operand's dims without leading 1s (broadcasting aligns from the last axis)."""
    index = 0
    while index < len(dims) and dims[index] == 1:
        index += 1
    return dims[index:]


class _Importer:
    """One walk over a shape-inferred graph, in its (topological) node order, making the layers."""

    def __init__(self, onnx, model, file: str):
        self.onnx = onnx
        self.model = model
        self.file = file
        self.graph = model.graph
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        self.element_types: dict[str, int] = {}
        self.tensors: dict[str, _Constant | _Activation] = {}
        self.nodes: list[Node] = []
        self.layer_shapes: dict[str, Shape] = {}
        self.names: set[str] = set()
        self.reshaped: dict[tuple[str, Shape], str] = {}  # (tensor, shape) -> the reshape layer made
        self.fused: dict[str, str] = {}  # a MatMul's output -> the output of the Add of its bias
        self.skipped: set[int] = set()  # indices of nodes fused into another
        self.gelus: dict[int, str] = {}  # the last node of an Erf-based GELU -> the tensor it applies to
        self.softmaxes: dict[str, _SoftmaxInput] = {}  # a Softmax's output -> what it normalizes
        # a layer's output whose ONNX tensor is a view of the layer's shape -> the heads it is split
        # into (None: a plain reshape of it)
        self.layouts: dict[str, tuple[int, bool] | None] = {}
        self.tables: dict[str, str] = {}  # a constant table -> the embedding layer looking rows up in it
        self.batch = 1

    # -- errors and names ------------------------------------------------------------------
    def fail(self, message: str) -> WorkloadError:
        return WorkloadError(message, self.file)

    @staticmethod
    def node_label(node) -> str:
        return f"node {node.name or node.output[0]!r} ({node.op_type})"

    def node_fail(self, node, message: str) -> WorkloadError:
        return self.fail(f"{self.node_label(node)}: {message}")

    def unique(self, wanted: str) -> str:
        name, count = wanted, 1
        while name in self.names:
            count += 1
            name = f"{wanted}#{count}"
        self.names.add(name)
        return name

    # -- reading the graph -------------------------------------------------------------------
    def collect_shapes(self) -> None:
        for info in (*self.graph.input, *self.graph.value_info, *self.graph.output):
            tensor_type = info.type.tensor_type
            self.element_types[info.name] = tensor_type.elem_type
            if not tensor_type.HasField("shape"):
                continue
            dims = tuple(dim.dim_value if dim.HasField("dim_value") else 0 for dim in tensor_type.shape.dim)
            self.shapes[info.name] = dims if all(size >= 1 for size in dims) else None

    def floating(self, data_type: int) -> bool:
        return data_type in (self.onnx.TensorProto.FLOAT, self.onnx.TensorProto.DOUBLE,
                             self.onnx.TensorProto.FLOAT16, self.onnx.TensorProto.BFLOAT16)

    def constant(self, dims, data_type: int, tensor=None) -> _Constant:
        floating = self.floating(data_type)
        dims = tuple(int(size) for size in dims)
        value = None
        external = tensor is not None and tensor.data_location == self.onnx.TensorProto.EXTERNAL
        if tensor is not None and not external and math.prod(dims) <= SMALL_CONSTANT:
            array = self.onnx.numpy_helper.to_array(tensor)
            value = tuple(float(each) for each in array.reshape(-1))
        return _Constant(dims, floating, value)

    def static_dims(self, name: str, node=None) -> tuple[int, ...]:
        dims = self.shapes.get(name)
        if dims is None:
            inputs = ", ".join(f"{info.name}=" + "x".join(str(size or "?") for size in self._dims(info))
                               for info in self.real_inputs)
            where = f"{self.node_label(node)}: " if node is not None else ""
            raise self.fail(f"{where}the shape of {name!r} is not static; give every input's shape with "
                            f"--input-shape NAME=DIMS (inputs: {inputs})")
        return dims

    @staticmethod
    def _dims(info) -> list[int]:
        return [dim.dim_value for dim in info.type.tensor_type.shape.dim]

    @property
    def real_inputs(self):
        initialized = {tensor.name for tensor in self.graph.initializer}
        return [info for info in self.graph.input if info.name not in initialized]

    # -- the walk ------------------------------------------------------------------------------
    def run(self, name: str, description: str) -> Network:
        for tensor in self.graph.initializer:
            self.tensors[tensor.name] = dataclasses.replace(
                self.constant(tensor.dims, tensor.data_type, tensor), origin=tensor.name)
        self.constants = set(self.tensors)
        self.batch = self.model_batch()
        inputs = []
        for info in self.real_inputs:
            dims = self.static_dims(info.name)
            shape = self.layer_shape(dims, f"input {info.name!r}")
            self.names.add(info.name)
            self.tensors[info.name] = _Activation(info.name, dims)
            inputs.append((info.name, shape))
        if not inputs:
            raise self.fail("the model has no inputs besides its constants")
        self.check_arity()
        self.find_fusions()
        self.find_erf_gelus()
        self.find_softmax_inputs()
        self.refuse_unsupported()
        for index, node in enumerate(self.graph.node):
            if index in self.gelus:
                self.add_layer(node, self.gelu(node, self.gelus[index]))
            elif index not in self.skipped:
                self.visit(node)
        if not self.nodes:
            raise self.fail("the model computes nothing dlpsim models (no layer after folding constants)")
        return Network(name, description, tuple(inputs), tuple(self.nodes), batch=self.batch)

    def model_batch(self) -> int:
        """The batch: the first size of every input when they all have two axes or more and it is
        the same (``batch x ..``, as frameworks export); 1 otherwise, and in a model with an LSTM
        or GRU, whose input is ``steps x batch x ..`` (dlpsim models them at batch 1)."""
        if any(node.op_type in RECURRENT for node in self.graph.node):
            return 1
        dims = [self.static_dims(info.name) for info in self.real_inputs]
        firsts = {each[0] for each in dims if each}
        return firsts.pop() if len(firsts) == 1 and min(len(each) for each in dims) >= 2 else 1

    def is_constant_node(self, node, constant: set[str]) -> bool:
        if node.op_type in ("Constant", "ConstantOfShape"):
            return True
        if node.op_type == "Shape":
            return self.shapes.get(node.input[0]) is not None
        return all(not name or name in constant for name in node.input)

    def folded_tensors(self) -> set[str]:
        """The tensors computed from constants alone (initializers included)."""
        constant = {tensor.name for tensor in self.graph.initializer}
        for node in self.graph.node:
            if self.is_constant_node(node, constant):
                constant.update(node.output)
        return constant

    def refuse_unsupported(self) -> None:
        """Every unsupported operator type with its nodes, in one error, before any work."""
        constant = self.folded_tensors()
        unsupported: dict[str, list[str]] = {}
        for index, node in enumerate(self.graph.node):
            if all(output in constant for output in node.output if output):
                continue
            if index in self.skipped or index in self.gelus:
                continue
            known = node.domain in ("", "ai.onnx") and node.op_type in SUPPORTED_OPERATORS
            if not known:
                op_type = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
                unsupported.setdefault(op_type, []).append(repr(node.name or node.output[0]))
        if unsupported:
            listed = "; ".join(f"{op_type} (node{'s' * (len(nodes) > 1)} {', '.join(nodes)})"
                               for op_type, nodes in unsupported.items())
            raise self.fail(f"unsupported operator{'s' * (len(unsupported) > 1)}: {listed} (supported: "
                            f"{', '.join(sorted(SUPPORTED_OPERATORS))}, and any node of constants only)")

    def check_arity(self) -> None:
        """Every supported node has as many inputs as its operator's definition allows, so the
        mappings may read them."""
        opset = next(entry.version for entry in self.model.opset_import if entry.domain in ("", "ai.onnx"))
        for node in self.graph.node:
            if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED_OPERATORS:
                continue
            try:
                schema = self.onnx.defs.get_schema(node.op_type, opset, "")
            except self.onnx.defs.SchemaError:
                raise self.node_fail(node, f"{node.op_type} is not an operator of opset {opset}") from None
            if not schema.min_input <= len(node.input) <= schema.max_input or not node.output:
                raise self.node_fail(node, f"has {len(node.input)} inputs; ONNX's {node.op_type} takes "
                                     f"{schema.min_input} to {schema.max_input}")

    def find_fusions(self) -> None:
        """A MatMul by a constant (an initializer or folded from constants, as zero weights written as
        ConstantOfShape are) followed only by an Add of a constant vector: one layer with a bias."""
        consumers: dict[str, list[int]] = {}
        for index, node in enumerate(self.graph.node):
            for name in node.input:
                consumers.setdefault(name, []).append(index)
        outputs = {info.name for info in self.graph.output}
        dims = {tensor.name: tuple(tensor.dims) for tensor in self.graph.initializer}
        folded = self.folded_tensors()
        for node in self.graph.node:
            if node.op_type != "MatMul" or node.input[1] not in folded or node.input[0] in folded:
                continue
            users = consumers.get(node.output[0], [])
            if len(users) != 1 or node.output[0] in outputs:
                continue
            add = self.graph.node[users[0]]
            if add.op_type != "Add" or len(add.input) != 2:
                continue
            bias = add.input[1] if add.input[0] == node.output[0] else add.input[0]
            weight, bias_dims = dims.get(node.input[1], self.shapes.get(node.input[1])), \
                dims.get(bias, self.shapes.get(bias))
            if bias in folded and weight is not None and bias_dims is not None and len(weight) == 2 and \
                    _constant_shape(bias_dims) == (weight[1],):
                self.fused[node.output[0]] = add.output[0]
                self.skipped.add(users[0])

    def find_erf_gelus(self) -> None:
        """``x * 0.5 * (1 + erf(x / sqrt 2))`` as PyTorch exports GELU: Div (or Mul), Erf, Add, Mul
        and Mul, the 0.5 on x or on the product. The five nodes become one gelu activation."""
        producers, consumers = {}, {}
        for index, node in enumerate(self.graph.node):
            for name in node.output:
                producers[name] = index
            for name in node.input:
                consumers.setdefault(name, []).append(index)
        initialized = {tensor.name for tensor in self.graph.initializer}
        constants = initialized | {out for node in self.graph.node if node.op_type == "Constant"
                                   for out in node.output}
        nodes = self.graph.node

        def only_user(name: str, op_type: str) -> int | None:
            users = consumers.get(name, [])
            return users[0] if len(users) == 1 and nodes[users[0]].op_type == op_type else None

        def other(node, name: str) -> str | None:
            rest = [each for each in node.input if each != name]
            return rest[0] if len(rest) == 1 else None

        for index, erf in enumerate(nodes):
            if erf.op_type != "Erf" or erf.input[0] not in producers:
                continue
            scale = nodes[producers[erf.input[0]]]
            if scale.op_type not in ("Div", "Mul") or scale.input[1] not in constants:
                continue
            x = scale.input[0]
            plus = only_user(erf.output[0], "Add")
            if plus is None or other(nodes[plus], erf.output[0]) not in constants:
                continue
            times = only_user(nodes[plus].output[0], "Mul")
            if times is None:
                continue
            partner = other(nodes[times], nodes[plus].output[0])
            fused = [producers[erf.input[0]], index, plus]
            if partner == x:  # (x * (1 + erf)) * 0.5
                half = only_user(nodes[times].output[0], "Mul")
                if half is None or other(nodes[half], nodes[times].output[0]) not in constants:
                    continue
                fused.append(times)
                last = half
            elif partner in producers and nodes[producers[partner]].op_type == "Mul" \
                    and x in nodes[producers[partner]].input \
                    and other(nodes[producers[partner]], x) in constants:  # (x * 0.5) * (1 + erf)
                fused.append(producers[partner])
                last = times
            else:
                continue
            self.skipped.update(fused)
            self.gelus[last] = x

    def find_softmax_inputs(self) -> None:
        """A Softmax of scores multiplied (or divided) by a constant number and masked by a Where of a
        constant condition, in either order, as attention's are: one softmax layer, scaled and
        masked (its mask, whatever its pattern, costs one ADD per score)."""
        producers, consumers = {}, {}
        for index, node in enumerate(self.graph.node):
            for name in node.output:
                producers[name] = index
            for name in node.input:
                consumers[name] = consumers.get(name, 0) + 1
        folded = self.folded_tensors()
        outputs = {info.name for info in self.graph.output}
        initializers = {tensor.name: tuple(tensor.dims) for tensor in self.graph.initializer}

        def number(name: str) -> bool:
            """A constant of one element (a scale, not a per-channel vector, which stays a layer)."""
            dims = initializers.get(name, self.shapes.get(name))
            return name in folded and dims is not None and math.prod(dims) == 1

        for node in self.graph.node:
            if node.op_type != "Softmax" or node.input[0] in folded:
                continue
            tensor, scale, divided, masked, fused = node.input[0], None, False, False, []
            while tensor in producers and consumers.get(tensor) == 1 and tensor not in outputs:
                index = producers[tensor]
                before = self.graph.node[index]
                if before.op_type == "Where" and not masked and len(before.input) == 3 \
                        and before.input[0] in folded and before.input[2] in folded \
                        and before.input[1] not in folded:
                    tensor, masked = before.input[1], True
                elif before.op_type in ("Mul", "Div") and scale is None and len(before.input) == 2 \
                        and number(before.input[1]) and before.input[0] not in folded:
                    tensor, scale, divided = before.input[0], before.input[1], before.op_type == "Div"
                else:
                    break
                fused.append(index)
            if fused:
                self.skipped.update(fused)
                self.softmaxes[node.output[0]] = _SoftmaxInput(tensor, scale, divided, masked)

    def gelu(self, node, applied_to: str) -> tuple[Layer, tuple[str, ...]]:
        name = self.unique(node.name or node.output[0])
        tensor = self.tensors.get(applied_to)
        if not isinstance(tensor, _Activation):
            raise self.node_fail(node, f"the GELU's input {applied_to!r} must be computed")
        shape = self.layer_shape(tensor.dims, f"{self.node_label(node)}: input {applied_to!r}")
        return Activation(name=name, input_shape=shape, function="gelu"), \
            (self.read_as(tensor, applied_to, shape),)

    def visit(self, node) -> None:
        if self.is_constant_node(node, self.constants):
            return self.fold(node)
        if node.op_type in VIEW_OPERATORS:
            return self.view(node)
        layer = self.layer(node)
        self.add_layer(node, layer)

    def fold(self, node) -> None:
        for name in node.output:
            if not name:
                continue
            self.constants.add(name)
            if node.op_type == "Constant":
                attribute = next((a for a in node.attribute if a.name == "value"), None)
                if attribute is not None:
                    tensor = attribute.t
                    self.tensors[name] = dataclasses.replace(
                        self.constant(tensor.dims, tensor.data_type, tensor), origin=name)
                    continue
            dims = self.shapes.get(name) or ()
            self.tensors[name] = _Constant(dims, self.floating(self.element_types.get(name, 0)), None,
                                           **self.provenance(node, dims))

    def provenance(self, node, dims: tuple[int, ...]) -> dict:
        """Where a folded constant comes from: the tensor it transposes (a tied layer's matrix), or
        the table whose rows it slices (a position embedding's rows); else itself."""
        source = self.tensors.get(node.input[0]) if node.input else None
        if not isinstance(source, _Constant):
            return {"origin": node.output[0]}
        if node.op_type in ("Transpose", "Identity"):
            return {"origin": source.origin}
        if node.op_type == "Slice" and len(source.dims) == 2 and len(dims) == 2:
            names = (list(node.input[1:5]) + ["", "", ""])[:4]  # starts, ends, axes, steps
            values = [getattr(self.tensors.get(name), "value", None) for name in names]
            starts, _, axes, steps = values
            one_axis = starts is not None and len(starts) == 1 and axes in (None, (0.0,))
            if one_axis and steps in (None, (1.0,)) and dims[1] == source.dims[1]:
                first = int(starts[0]) % source.dims[0]
                return {"origin": node.output[0], "table": source.dims, "first_row": first}
        return {"origin": node.output[0]}

    def view(self, node) -> None:
        source = self.activation_input(node, 0)
        output = node.output[0]
        dims = self.static_dims(output, node)
        if elements(dims) != elements(source.dims):
            raise self.node_fail(node, f"a view of {format_shape(source.dims)} as {format_shape(dims)} "
                                 "changes the element count")
        if node.op_type in ("Dropout", "Identity"):  # the same tensor under another name
            self.tensors[output] = source
            return
        order = tuple(self.attributes(node).get("perm", range(len(dims) - 1, -1, -1))) \
            if node.op_type == "Transpose" else None
        if order is not None and source.view_of is not None:
            heads = self.heads_view(source, order)
            if heads is not None:
                self.tensors[output] = dataclasses.replace(heads, dims=dims, view_of=output)
                return
        shape = _dlpsim_shape(source.dims, self.batch)
        chained = source.permutation is not None or (order is not None and source.plain_view)
        if shape is not None and chained:
            # a transpose and another view, or a reshape and a transpose: the first a layer (a
            # transpose or a reshape), this one a view of it
            source = _Activation(self.read_as(source, source.view_of, shape), source.dims)
        if _dlpsim_shape(dims, self.batch) == self.source_shape(source.source):  # back in the layer's shape
            self.tensors[output] = _Activation(source.source, dims)
            return
        if source.view_of is not None:  # a view of a view is named after the first, made on the layer
            self.tensors[output] = _Activation(source.source, dims, source.view_of)
            return
        permutation = None
        if order is not None:
            dropped = len(source.dims) - len(self.source_shape(source.source))
            if dropped == 1 and order[0] == 0:  # the batch axis stays first
                permutation = tuple(axis - 1 for axis in order[1:])
        self.tensors[output] = _Activation(source.source, dims, output, permutation)

    def heads_view(self, source: _Activation, order: tuple[int, ...]) -> _Activation | None:
        """A Transpose that splits attention heads out of ``(rows, heads x size)`` or merges them back:
        ``batch x rows x heads x size`` (a plain view) with the heads first is the split (with the
        size before the rows, its transpose); the split with its last two axes swapped is the
        other; the split with the rows first again is the plain view. None for any other."""
        shape = self.source_shape(source.source)
        if len(shape) != 2 or len(source.dims) != 4:
            return None
        rows, features = shape
        if source.plain_view:
            _, view_rows, heads, size = source.dims
            if view_rows != rows or heads * size != features:
                return None
            transposed = {(0, 2, 1, 3): False, (0, 2, 3, 1): True}.get(order)
            return None if transposed is None else _Activation(source.source, (), heads=(heads, transposed))
        if source.heads is None:
            return None
        heads, transposed = source.heads
        if order == (0, 1, 3, 2):
            return _Activation(source.source, (), heads=(heads, not transposed))
        if order == (0, 2, 1, 3) and not transposed:
            return _Activation(source.source, ())
        return None

    # -- inputs of a layer -----------------------------------------------------------------------
    def activation_input(self, node, index: int) -> _Activation:
        tensor = self.tensors.get(node.input[index])
        if not isinstance(tensor, _Activation):
            raise self.node_fail(node, f"input {index + 1} ({node.input[index]!r}) must be computed, "
                                 "not a constant")
        return tensor

    def constant_input(self, node, index: int, what: str) -> _Constant:
        name = node.input[index] if index < len(node.input) else ""
        tensor = self.tensors.get(name)
        if not isinstance(tensor, _Constant):
            raise self.node_fail(node, f"the {what} ({name!r}) must be a constant (an initializer or "
                                 "folded from constants), not computed")
        return tensor

    def optional_constant(self, node, index: int, what: str) -> _Constant | None:
        if index >= len(node.input) or not node.input[index]:
            return None
        return self.constant_input(node, index, what)

    def layer_shape(self, dims: tuple[int, ...], what: str) -> Shape:
        if self.batch > 1 and (len(dims) < 2 or dims[0] != self.batch):  # else samples would mix
            raise self.fail(f"{what} is {format_shape(dims) or 'a scalar'}, whose first axis is not the "
                            f"model's batch of {self.batch}: a view that merges or moves the batch is not "
                            "modelled; export the model with a batch of 1")
        shape = _dlpsim_shape(dims, self.batch)
        if shape is None and len(dims) == 4 and dims[0] not in (1, self.batch):
            raise self.fail(f"{what} has a batch of {dims[0]} ({format_shape(dims)}), which not every input "
                            "has; give the inputs one batch with --input-shape NAME=DIMS")
        if shape is None:
            raise self.fail(f"{what} is {format_shape(dims) or 'a scalar'}: a layer needs 1 to 3 axes "
                            "besides the batch")
        return shape

    def read(self, node, index: int, flattened_by_layer: bool = False) -> tuple[str, Shape]:
        """What a layer reads for input ``index``: the name and shape, making a reshape layer for a
        view the layer cannot read directly."""
        tensor = self.activation_input(node, index)
        shape = self.layer_shape(tensor.dims, f"{self.node_label(node)}: input {node.input[index]!r}")
        source_shape = self.source_shape(tensor.source)
        # a fully connected layer flattens a feature map itself (not rows, which it multiplies one by one)
        if flattened_by_layer and len(shape) == 1 and len(source_shape) == 3 \
                and elements(shape) == elements(source_shape):
            return tensor.source, source_shape
        return self.read_as(tensor, tensor.view_of or node.input[index], shape), shape

    def read_as(self, tensor: _Activation, name: str, shape: Shape) -> str:
        """The name to read ``tensor`` from in ``shape``: its source, or a reshape layer of it."""
        if shape == self.source_shape(tensor.source):
            return tensor.source
        key = (name, shape)
        if key not in self.reshaped:
            source_shape = self.source_shape(tensor.source)
            layer: Layer = Reshape(name=self.unique(name), input_shape=source_shape, shape=shape)
            if tensor.permutation is not None and \
                    tuple(source_shape[axis] for axis in tensor.permutation) == shape:
                layer = Transpose(name=layer.name, input_shape=source_shape, permutation=tensor.permutation)
            self.append(Node(layer, (tensor.source,)))
            self.reshaped[key] = layer.name
        return self.reshaped[key]

    def source_shape(self, source: str) -> Shape:
        if source in self.layer_shapes:
            return self.layer_shapes[source]
        return self.layer_shape(self.tensors[source].dims, f"input {source!r}")

    # -- layers ---------------------------------------------------------------------------------
    def add_layer(self, node, layer: tuple[Layer, tuple[str, ...]]) -> None:
        made, reads = layer
        output = self.fused.get(node.output[0], node.output[0])
        dims = self.static_dims(output, node)
        if output in self.layouts:  # the layer's output seen as its ONNX tensor is (attention's heads)
            if elements(dims) != self.batch * elements(made.output_shape):
                raise self.node_fail(node, f"the layer computes {format_shape(made.output_shape)}, but ONNX "
                                     f"infers {format_shape(dims)} for {output!r}")
            self.append(Node(made, reads))
            self.tensors[output] = _Activation(made.name, dims, output, heads=self.layouts.pop(output))
            return
        expected = self.layer_shape(dims, f"{self.node_label(node)}: output {output!r}")
        same_elements = _without_ones(made.output_shape) == _without_ones(dims) or (
            isinstance(made, Recurrent) and elements(made.output_shape) == elements(dims))
        if made.output_shape != expected and same_elements:
            # the same elements in other axes: ONNX's LSTM and GRU output Y is steps x directions x
            # batch x hidden; a softmax over channels keeps its 1x1 map
            self.append(Node(made, reads))
            self.tensors[output] = _Activation(made.name, dims)
            return
        if made.output_shape != expected:
            raise self.node_fail(node, f"the layer computes {format_shape(made.output_shape)}, but ONNX "
                                 f"infers {format_shape(dims)} for {output!r}; dlpsim does not model "
                                 "this operator's attributes as given")
        self.append(Node(made, reads))
        self.tensors[output] = _Activation(made.name, dims)

    def append(self, node: Node) -> None:
        self.nodes.append(node)
        self.layer_shapes[node.name] = node.layer.output_shape

    def required(self, node, attributes: dict, name: str):
        if name not in attributes:
            raise self.node_fail(node, f"the attribute {name} is required")
        return attributes[name]

    def attributes(self, node) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def layer(self, node) -> tuple[Layer, tuple[str, ...]]:
        name = self.unique(node.name or node.output[0])
        op = node.op_type
        attributes = self.attributes(node)
        try:
            if op == "Conv":
                return self.conv(node, name, attributes)
            if op == "ConvTranspose":
                return self.conv_transpose(node, name, attributes)
            if op in ("Gemm", "MatMul"):
                return self.fully_connected(node, name, attributes)
            if op in POOLS:
                return self.pool(node, name, attributes)
            if op in ELEMENTWISE:
                return self.elementwise(node, name)
            if op in RECURRENT:
                return self.recurrent(node, name, attributes)
            if op == "Concat":
                return self.concat(node, name, attributes)
            if op == "Gather":
                return self.gather(node, name, attributes)
            if op in ("Softmax", "LayerNormalization"):
                return self.normalization(node, name, attributes)
            if op == "Slice":
                return self.slice(node, name)
            source, shape = self.read(node, 0)
            if op in ACTIVATIONS:
                return Activation(name=name, input_shape=shape, function=ACTIVATIONS[op]), (source,)
            if op == "Clip":
                return self.clip(node, name, shape), (source,)
            if op == "LRN":
                given = {key: _float32(attributes[key]) for key in ("alpha", "beta", "bias")
                         if key in attributes}
                size = self.required(node, attributes, "size")
                layer = LocalResponseNorm(name=name, input_shape=shape, size=size, **given)
                return layer, (source,)
            if op == "BatchNormalization":
                scale = self.constant_input(node, 1, "scale")
                layer = BatchNorm(name=name, input_shape=shape)
                if (layer.channels,) != _constant_shape(scale.dims):
                    raise self.node_fail(node, f"{layer.channels} channels against a scale of "
                                         f"{format_shape(scale.dims)}")
                return layer, (source,)
        except WorkloadError as error:
            if error.where:
                raise
            raise self.node_fail(node, error.message) from None
        raise AssertionError(f"{op} is listed as supported but has no mapping")

    def clip(self, node, name: str, shape: Shape) -> Activation:
        bounds = []
        for index, what in ((1, "min"), (2, "max")):
            bound = self.optional_constant(node, index, what)
            if bound is not None and bound.value is None:
                raise self.node_fail(node, f"the {what} bound must be a single constant number")
            bounds.append(None if bound is None else bound.value[0])
        if bounds == [0.0, 6.0]:
            return Activation(name=name, input_shape=shape, function="relu6")
        if bounds[0] == 0.0 and bounds[1] is None:
            return Activation(name=name, input_shape=shape, function="relu")
        if bounds == [None, None]:
            raise self.node_fail(node, "a Clip without bounds is the identity; not modelled")
        return Activation(name=name, input_shape=shape, function="clip", bounds=(bounds[0], bounds[1]))

    def sliding(self, node, attributes: dict, input_hw: tuple[int, int], reach: tuple[int, int],
                stride: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The (before, after) padding per axis, from ``pads`` or ``auto_pad``."""
        auto = attributes.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begin, end = [], []
            for size, span, step in zip(input_hw, reach, stride, strict=True):
                total = max((-(-size // step) - 1) * step + span - size, 0)
                small, large = total // 2, total - total // 2
                begin.append(small if auto == "SAME_UPPER" else large)
                end.append(large if auto == "SAME_UPPER" else small)
            return (begin[0], begin[1]), (end[0], end[1])
        pads = attributes.get("pads", [0, 0, 0, 0])
        if len(pads) != 4:
            raise self.node_fail(node, f"expected 4 pads for a 2-D window, got {list(pads)}")
        return (pads[0], pads[1]), (pads[2], pads[3])

    def conv(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        source, shape = self.read(node, 0)
        weight = self.constant_input(node, 1, "weight")
        bias = self.optional_constant(node, 2, "bias")
        if len(weight.dims) != 4 or len(shape) != 3:
            raise self.node_fail(node, "only 2-D convolutions are modelled (weight "
                                 f"{format_shape(weight.dims)}, input {format_shape(shape)})")
        out_channels, per_group, *kernel = weight.dims
        groups = attributes.get("group", 1)
        if per_group * groups != shape[0]:
            raise self.node_fail(node, f"the weight reads {per_group} channels x {groups} groups, the input "
                                 f"has {shape[0]}")
        stride = tuple(attributes.get("strides", [1, 1]))
        dilation = tuple(attributes.get("dilations", [1, 1]))
        reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
        begin, end = self.sliding(node, attributes, shape[1:], reach, stride)
        return Conv2d(name=name, input_shape=shape, out_channels=out_channels, kernel=tuple(kernel),
                      stride=stride, padding=begin, padding_end=end, groups=groups, bias=bias is not None,
                      dilation=dilation), (source,)

    def conv_transpose(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        """A transposed convolution whose stride is its kernel (each input pixel's patch lands apart
        from its neighbours', as an upsampling decoder's 2x2/2 does): every pixel times the kernel
        is a fully connected layer over the pixels as rows (``C_in`` in, ``C_out x kH x kW`` out:
        ``H x W x C_in x C_out x kH x kW`` MACs, exactly the operator's), then views put each
        pixel's patch in place, and a per-channel constant add is the bias. Overlapping patches
        (stride below the kernel) would sum into each other, which no dlpsim layer models."""
        source, shape = self.read(node, 0)
        weight = self.constant_input(node, 1, "weight")
        bias = self.optional_constant(node, 2, "bias")
        if len(weight.dims) != 4 or len(shape) != 3 or weight.dims[0] != shape[0]:
            raise self.node_fail(node, "only a 2-D transposed convolution of the input's channels is "
                                 f"modelled (weight {format_shape(weight.dims)}, input "
                                 f"{format_shape(shape)})")
        _, out_channels, kernel_h, kernel_w = weight.dims
        plain = {"group": 1, "dilations": [1, 1], "pads": [0, 0, 0, 0], "output_padding": [0, 0],
                 "auto_pad": b"NOTSET"}
        others = [f"{key} {attributes[key]}" for key, default in plain.items()
                  if attributes.get(key, default) not in (default, b"VALID")]
        stride = list(attributes.get("strides", [1, 1]))
        if stride != [kernel_h, kernel_w]:
            others.insert(0, f"strides {stride}")
        others += ["output_shape"] * ("output_shape" in attributes)
        if others:
            raise self.node_fail(node, f"only a transposed convolution whose stride is its kernel "
                                 f"({kernel_h}x{kernel_w}), without groups, dilations, pads or output "
                                 f"padding, is modelled (overlapping patches are not); it has "
                                 f"{', '.join(others)}")
        channels, height, width = shape
        steps: list[tuple[str, Callable[..., Layer]]] = [
            ("pixels", functools.partial(Reshape, shape=(channels, height * width))),
            ("rows", functools.partial(Transpose, permutation=(1, 0))),
            ("", functools.partial(FullyConnected, out_features=out_channels * kernel_h * kernel_w,
                                   bias=False)),
            ("patches", functools.partial(Reshape, shape=(height, width, out_channels * kernel_h,
                                                          kernel_w))),
            ("channels", functools.partial(Transpose, permutation=(2, 0, 1, 3))),
            ("split", functools.partial(Reshape, shape=(out_channels, kernel_h, height,
                                                        width * kernel_w))),
            ("placed", functools.partial(Transpose, permutation=(0, 2, 1, 3))),
            ("map", functools.partial(Reshape, shape=(out_channels, height * kernel_h, width * kernel_w)))]
        if bias is not None:
            steps.append(("bias", lambda name, input_shape: Elementwise(
                name=name, operation="add", input_shapes=(input_shape,),
                constant_shape=(out_channels, 1, 1))))
        *placing, (suffix, last) = steps
        for step, make in placing:
            layer = make(name=self.unique(f"{name}/{step}") if step else name, input_shape=shape)
            self.append(Node(layer, (source,)))
            source, shape = layer.name, layer.output_shape
        return last(name=self.unique(f"{name}/{suffix}"), input_shape=shape), (source,)

    def pool(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        source, shape = self.read(node, 0)
        mode = POOLS[node.op_type]
        if len(shape) != 3:
            raise self.node_fail(node, f"only 2-D pooling is modelled (input {format_shape(shape)})")
        if node.op_type.startswith("Global"):
            return Pool(name=name, input_shape=shape, mode=mode, kernel=shape[1:], stride=1), (source,)
        if any(d != 1 for d in attributes.get("dilations", [1, 1])):
            raise self.node_fail(node, "dilated pooling is not modelled")
        kernel = tuple(self.required(node, attributes, "kernel_shape"))
        stride = tuple(attributes.get("strides", [1, 1]))
        begin, end = self.sliding(node, attributes, shape[1:], kernel, stride)
        return Pool(name=name, input_shape=shape, mode=mode, kernel=kernel, stride=stride, padding=begin,
                    padding_end=end, ceil_mode=bool(attributes.get("ceil_mode", 0))), (source,)

    def fully_connected(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        if node.op_type == "Gemm" and attributes.get("transA", 0):
            raise self.node_fail(node, "a Gemm with transA=1 is not modelled")
        if not isinstance(self.tensors.get(node.input[1]), _Constant):
            if node.op_type == "Gemm":
                raise self.node_fail(node, "a Gemm of two computed tensors is not modelled (MatMul is)")
            a, b = self.activation_input(node, 0), self.activation_input(node, 1)
            if a.heads is not None and b.heads is not None and a.heads[0] == b.heads[0] and not a.heads[1]:
                # attention's heads, split from (rows, heads x size) operands: the product of each head
                shapes = (self.source_shape(a.source), self.source_shape(b.source))
                self.layouts[node.output[0]] = (a.heads[0], False)
                return MatMul(name=name, input_shapes=shapes, heads=a.heads[0], transpose_b=b.heads[1]), \
                    (a.source, b.source)
            (a_name, a_shape), (b_name, b_shape) = self.read(node, 0), self.read(node, 1)
            return MatMul(name=name, input_shapes=(a_shape, b_shape)), (a_name, b_name)
        weight = self.constant_input(node, 1, "weight")
        if len(weight.dims) != 2:
            raise self.node_fail(node, f"the weight must be a matrix, got {format_shape(weight.dims)}")
        features, outputs = weight.dims
        if node.op_type == "Gemm":
            if attributes.get("transB", 0):
                outputs, features = weight.dims
            bias = self.optional_constant(node, 2, "bias") is not None
        else:
            bias = node.output[0] in self.fused
        source, shape = self.read(node, 0, flattened_by_layer=True)
        # a matrix that is an embedding's table (transposed) is that table read again: tied, no parameters
        tied = self.tables.get(weight.origin, "") if node.op_type == "MatMul" else ""
        layer = FullyConnected(name=name, input_shape=shape, out_features=outputs, bias=bias, tied=tied)
        if layer.in_features != features:
            raise self.node_fail(node, f"the weight takes {features} features, the input has "
                                 f"{layer.in_features} ({format_shape(shape)})")
        return layer, (source,)

    def elementwise(self, node, name: str) -> tuple[Layer, tuple[str, ...]]:
        operation = ELEMENTWISE[node.op_type]
        reads, shapes, constants = [], [], []
        constant_first = isinstance(self.tensors.get(node.input[0]), _Constant)
        for index, tensor_name in enumerate(node.input):
            if isinstance(self.tensors.get(tensor_name), _Constant):
                constants.append(self.tensors[tensor_name])
            else:
                source, shape = self.read(node, index)
                reads.append(source)
                shapes.append(shape)
        if len(constants) > 1:
            raise self.node_fail(node, "more than one constant operand is not modelled")
        if operation == "add" and not constants and len(set(shapes)) == 1 and len(shapes) > 1:
            return Add(name=name, input_shapes=tuple(shapes)), tuple(reads)
        if operation == "add" and len(shapes) == 1 and constants and constants[0].table is not None \
                and constants[0].dims == shapes[0]:
            # rows of a table added to the tokens: a position embedding (the table is its parameters)
            positions = constants[0].table[0]
            return PositionEmbedding(name=name, input_shape=shapes[0], positions=positions,
                                     first_position=constants[0].first_row), tuple(reads)
        constant = None
        if constants:
            constant = _constant_shape(constants[0].dims)
            if not constants[0].floating:
                constant = ()  # an integer constant is never a parameter; its size does not matter here
        return Elementwise(name=name, operation=operation, input_shapes=tuple(shapes),
                           constant_shape=constant, constant_first=constant_first and constant is not None), \
            tuple(reads)

    def concat(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        token = self.tensors.get(node.input[0])
        if isinstance(token, _Constant) and len(node.input) == 2:
            return self.class_token(node, name, attributes, token)
        reads, shapes = [], []
        for index in range(len(node.input)):
            source, shape = self.read(node, index)
            reads.append(source)
            shapes.append(shape)
        if len(shapes) == 1:
            raise self.node_fail(node, "a concatenation of one input is a copy; not modelled")
        axis = self.layer_axis(node, attributes.get("axis", 1), self.activation_input(node, 0).dims)
        default = 0 if len(shapes[0]) in (1, 3) else 1
        return Concat(name=name, input_shapes=tuple(shapes),
                      concat_axis=None if axis == default else axis), tuple(reads)

    def class_token(self, node, name: str, attributes: dict,
                    token: _Constant) -> tuple[Layer, tuple[str, ...]]:
        """A constant vector put in front of the tokens (ViT's class token, expanded to the batch)."""
        source, shape = self.read(node, 1)
        axis = self.layer_axis(node, attributes.get("axis", 1), self.activation_input(node, 1).dims)
        leading = token.dims[:-2]
        if len(shape) != 2 or axis != 0 or token.dims[-2:] != (1, shape[1]) \
                or any(size not in (1, self.batch) for size in leading):
            raise self.node_fail(node, f"a constant {format_shape(token.dims)} concatenated with "
                                 f"{format_shape(shape)} is modelled only as one token in front of them")
        return ClassToken(name=name, input_shape=shape), (source,)

    def layer_axis(self, node, axis: int, dims: tuple[int, ...]) -> int:
        """An ONNX axis of ``dims`` as an axis of the layer's shape (the batch axis dropped)."""
        axis %= len(dims)
        shape = self.layer_shape(dims, self.node_label(node))
        dropped = len(dims) - len(shape)
        if axis < dropped:
            raise self.node_fail(node, f"axis {axis} is the batch axis; dlpsim models batch 1")
        if dropped > 1 or len(dims) > 4:
            raise self.node_fail(node, f"an axis of a {len(dims)}-axis tensor is not modelled")
        return axis - dropped

    def normalization(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        """Softmax and LayerNormalization over the last axis (or an axis after which only 1s follow).
        A softmax over runs of a layer's last axis (attention's heads, split or side by side) reads
        that layer, with the runs' length."""
        fused = self.softmaxes.get(node.output[0])
        input_name = node.input[0] if fused is None else fused.tensor
        tensor = self.tensors.get(input_name)
        if not isinstance(tensor, _Activation):
            raise self.node_fail(node, f"input 1 ({input_name!r}) must be computed, not a constant")
        axis = attributes.get("axis", -1) % len(tensor.dims)
        if any(size != 1 for size in tensor.dims[axis + 1:]) or (
                node.op_type == "LayerNormalization" and axis != len(tensor.dims) - 1):
            raise self.node_fail(node, f"normalizing along axis {axis} of {format_shape(tensor.dims)} is "
                                 "not modelled (only the last axis)")
        if node.op_type == "LayerNormalization":
            shape = self.layer_shape(tensor.dims[:axis + 1], f"{self.node_label(node)}: input")
            scale = self.constant_input(node, 1, "scale")
            bias = self.optional_constant(node, 2, "bias")
            if _constant_shape(scale.dims) != (shape[-1],) or bias is None:
                raise self.node_fail(node, f"expected a scale and a bias of {shape[-1]} values")
            epsilon = _float32(attributes.get("epsilon", 1e-5))
            return LayerNorm(name=name, input_shape=shape, epsilon=epsilon), \
                (self.read_as(tensor, tensor.view_of or input_name, shape),)
        options = {}
        if fused is not None:
            options["masked"] = fused.masked
            if fused.scale is not None:
                factor = self.tensors[fused.scale]
                if not isinstance(factor, _Constant) or factor.value is None or len(factor.value) != 1:
                    raise self.node_fail(node, f"the scores' scale {fused.scale!r} must be one number")
                value = _float32(factor.value[0])
                # ONNX's float32 either way, so that an exported scale reads back the same
                options.update(scaled=True, scale=_float32(1 / value) if fused.divided else value)
        length = tensor.dims[-1]
        source_shape = self.source_shape(tensor.source)
        runs_of_rows = tensor.plain_view or (tensor.heads is not None and not tensor.heads[1])
        if runs_of_rows and axis == len(tensor.dims) - 1 and length > 1 and source_shape[-1] % length == 0:
            # runs of ``length`` consecutive values of the layer's rows: the heads' scores
            self.layouts[node.output[0]] = tensor.heads
            return Softmax(name=name, input_shape=source_shape, length=length, **options), (tensor.source,)
        shape = self.layer_shape(tensor.dims[:axis + 1], f"{self.node_label(node)}: input")
        return Softmax(name=name, input_shape=shape, **options), \
            (self.read_as(tensor, tensor.view_of or input_name, shape),)

    def gather(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        """A constant table looked up by computed ids (an embedding), or a computed tensor indexed
        by a constant along its first axis (a token taken out)."""
        table = self.tensors.get(node.input[0])
        if isinstance(table, _Constant):
            if len(table.dims) != 2 or attributes.get("axis", 0) != 0:
                raise self.node_fail(node, "only a lookup of rows of a 2-axis table is modelled")
            source, shape = self.read(node, 1)
            if len(shape) != 1:
                raise self.node_fail(node, f"the ids must be one sequence, got {format_shape(shape)}")
            self.tables[table.origin or node.input[0]] = name
            return Embedding(name=name, input_shape=shape, vocabulary=table.dims[0], dim=table.dims[1]), \
                (source,)
        index = self.constant_input(node, 1, "indices")
        if index.value is None or len(index.value) != 1:
            raise self.node_fail(node, "only a single constant index into a computed tensor is modelled")
        tensor = self.activation_input(node, 0)
        axis = self.layer_axis(node, attributes.get("axis", 0), tensor.dims)
        start = int(index.value[0]) % self.layer_shape(tensor.dims, self.node_label(node))[axis]
        return self.rows(node, name, axis, start, start + 1)

    def slice(self, node, name: str) -> tuple[Layer, tuple[str, ...]]:
        tensor = self.activation_input(node, 0)
        bounds = [self.optional_constant(node, index, what)
                  for index, what in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))]
        values = [None if bound is None else bound.value for bound in bounds]
        if any(bound is not None and value is None for bound, value in zip(bounds, values, strict=True)) \
                or len(values[0]) != 1 or (values[3] is not None and values[3] != (1.0,)):
            raise self.node_fail(node, "only a slice of one axis with step 1 and constant bounds is modelled")
        axis = self.layer_axis(node, int(values[2][0]) if values[2] else 0, tensor.dims)
        size = self.layer_shape(tensor.dims, self.node_label(node))[axis]
        start, stop, _ = slice(int(values[0][0]), int(max(min(values[1][0], 2**62), -2**62))).indices(size)
        return self.rows(node, name, axis, start, max(stop, start + 1))

    def rows(self, node, name: str, axis: int, start: int, stop: int) -> tuple[Layer, tuple[str, ...]]:
        if axis != 0:
            raise self.node_fail(node, f"only taking rows of the first axis is modelled, not of axis {axis}")
        source, shape = self.read(node, 0)
        return Slice(name=name, input_shape=shape, start=start, stop=stop), (source,)

    def recurrent(self, node, name: str, attributes: dict) -> tuple[Layer, tuple[str, ...]]:
        cell = RECURRENT[node.op_type]
        if attributes.get("layout", 0) or "activations" in attributes:
            raise self.node_fail(node, "only the default layout and activations are modelled")
        if len(node.input) > 4 and node.input[4]:
            raise self.node_fail(node, "sequence_lens is not modelled (every sequence runs all its steps)")
        for output in node.output[1:]:
            if output and any(output in other.input for other in self.graph.node):
                raise self.node_fail(node, f"its last-state output {output!r} is used; dlpsim models the "
                                     "sequence output Y only")
        tensor = self.activation_input(node, 0)
        if len(tensor.dims) != 3:
            raise self.node_fail(node, "the input must be steps x batch x features, got "
                                 f"{format_shape(tensor.dims)}")
        steps, batch, features = tensor.dims
        if batch != 1:
            raise self.node_fail(node, f"a batch of {batch}: dlpsim models a recurrent layer at batch 1")
        weight = self.constant_input(node, 1, "weight")
        self.constant_input(node, 2, "recurrent weight")
        bias = self.optional_constant(node, 3, "bias")
        direction = attributes.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        hidden = attributes.get("hidden_size") or weight.dims[1] // (4 if cell == "lstm" else 3)
        # one step of a vector stays a vector (an LSTM cell of a language model's step)
        one_step = steps == 1 and self.source_shape(tensor.source) == (features,)
        shape = (features,) if one_step else (steps, features)
        layer = Recurrent(name=name, input_shape=shape, cell=cell, hidden_size=hidden,
                          direction=direction, bias_sets=0 if bias is None else 2,
                          linear_before_reset=bool(attributes.get("linear_before_reset", 0)))
        return layer, (self.read_as(tensor, tensor.view_of or node.input[0], shape),)


def at_batch(network: Network, batch: int, file: str) -> Network:
    """An imported model at ``--batch``: a model of batch 1 runs at any batch; a model whose inputs
    fix a batch N runs at N, which ``--batch`` may repeat (1, the default, keeps it) but not change."""
    from dlpsim.workloads import batched

    if network.batch > 1 and batch not in (1, network.batch):
        raise WorkloadError(f"--batch {batch}: the model's inputs fix a batch of {network.batch}; give "
                            f"--batch {network.batch} (or none), or --input-shape NAME=DIMS with batch 1 "
                            "to run it at any batch", file)
    return batched(network, batch) if network.batch == 1 else network


def _float32(value: float) -> float:
    """An attribute ONNX keeps as float32, as its shortest decimal (1e-4, not 9.99999974737875e-05)."""
    return float(str(numpy.float32(value)))


def load_onnx(path: str | Path, input_shapes: Mapping[str, tuple[int, ...]] | None = None,
              name: str | None = None, shown_as: str | None = None) -> Network:
    """A network from an ONNX model file; ``input_shapes`` fixes the dims of named inputs.
    Messages and the description name the file ``shown_as`` (default: the path)."""
    onnx = _onnx()
    file = shown_as or str(path)
    if not Path(path).is_file():
        raise WorkloadError("no such file", file)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises its own DecodeError, among others
        raise WorkloadError(f"not a readable ONNX model ({type(error).__name__}: {error})", file) from None
    if not model.graph.node:
        raise WorkloadError("not an ONNX model with a graph (no nodes)", file)
    _load_small_tensors(onnx, model, Path(path).parent, file)
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise WorkloadError("the model imports no standard ONNX opset", file)
    # an unnamed node is named by its first output, as tools such as Netron show it (the version
    # converter would number it instead)
    names = {node.output[0]: node.name or node.output[0] for node in model.graph.node if node.output}
    if input_shapes:
        _set_input_shapes(model, input_shapes, file)
    if opset < TARGET_OPSET:
        try:
            model = onnx.version_converter.convert_version(model, TARGET_OPSET)
        except Exception as error:
            raise WorkloadError(f"cannot convert opset {opset} to {TARGET_OPSET}: {error}", file) from None
    for node in model.graph.node:
        if node.output and node.output[0] in names:
            node.name = names[node.output[0]]
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as error:
        raise WorkloadError(f"ONNX shape inference failed: {error}", file) from None
    importer = _Importer(onnx, model, file)
    importer.collect_shapes()
    producer = f", from {model.producer_name}" if model.producer_name else ""
    return importer.run(name or Path(file).stem, f"ONNX model {file} (opset {opset}{producer})")


# Integer tensors (shapes, axes, indices) up to this many elements are read from external data,
# since shape inference needs their values, and so are float ones up to SMALL_CONSTANT (a Clip's
# bounds); weights never are.
SMALL_INTEGERS = 4096


def _load_small_tensors(onnx, model, folder: Path, file: str) -> None:
    integers = {onnx.TensorProto.INT64, onnx.TensorProto.INT32}
    for tensor in model.graph.initializer:
        limit = SMALL_INTEGERS if tensor.data_type in integers else SMALL_CONSTANT
        if tensor.data_location == onnx.TensorProto.EXTERNAL and math.prod(tensor.dims) <= limit:
            try:
                onnx.external_data_helper.load_external_data_for_tensor(tensor, str(folder))
            except OSError as error:
                raise WorkloadError(f"cannot read the external data of {tensor.name!r}: {error}",
                                    file) from None


def _set_input_shapes(model, input_shapes: Mapping[str, tuple[int, ...]], file: str) -> None:
    initialized = {tensor.name for tensor in model.graph.initializer}
    inputs = {info.name: info for info in model.graph.input if info.name not in initialized}
    for input_name, dims in input_shapes.items():
        if input_name not in inputs:
            raise WorkloadError(f"--input-shape {input_name}: the model has no such input "
                                f"(inputs: {', '.join(inputs)})", file)
        shape = inputs[input_name].type.tensor_type.shape
        if len(shape.dim) and len(shape.dim) != len(dims):
            raise WorkloadError(f"--input-shape {input_name}: {len(dims)} sizes given, the input has "
                                f"{len(shape.dim)} axes", file)
        del shape.dim[:]
        for size in dims:
            shape.dim.add().dim_value = size
