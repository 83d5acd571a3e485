"""Networks: named layers in order, each reading earlier layers or the network's inputs.

A :class:`Network` is checked when it is made: names are unique, every input names
something earlier, and every layer's input shapes equal the shapes it is given, so a
branch or residual that does not fit is an error naming the layer.

The built-in networks are in :data:`NETWORKS`. Their conventions (beyond those of
:mod:`dlpsim.workloads.layers`): inference only, batch 1 unless given (``with_batch``),
224x224x3 images unless stated; dropout (the identity at inference) is left out, as are a
classifier's final softmax (attention's softmax is in) and local response normalization
(LRN, in the original AlexNet and GoogLeNet), which these layer types do not model; an
adaptive average pool that is the identity at 224x224 is left out too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from dlpsim.errors import WorkloadError
from dlpsim.workloads.layers import (
    FP32_BYTES,
    INPUT_FIELD,
    Activation,
    Add,
    BatchNorm,
    ClassToken,
    Concat,
    Conv2d,
    Embedding,
    FullyConnected,
    Layer,
    LayerNorm,
    LSTMCell,
    MatMul,
    Pool,
    PositionEmbedding,
    ReceptiveField,
    Reshape,
    Shape,
    Slice,
    Softmax,
    Transpose,
    elements,
    format_shape,
    sum_ops,
)


@dataclass(frozen=True)
class Node:
    """A layer in a network and the names of what it reads (earlier layers or inputs)."""

    layer: Layer
    inputs: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class Network:
    name: str
    description: str
    inputs: tuple[tuple[str, Shape], ...]  # (name, shape) of each external input
    nodes: tuple[Node, ...]
    # Samples per inference. Shapes and layers are per sample; the totals' MACs, vector work
    # and neurons are for the whole batch, the parameters are the same (read once for all).
    batch: int = 1
    _shapes: dict[str, Shape] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.batch, int) or isinstance(self.batch, bool) or self.batch < 1:
            raise WorkloadError(f"the batch must be a whole number >= 1, got {self.batch!r}", self.name)
        shapes: dict[str, Shape] = {}
        for input_name, shape in self.inputs:
            if not input_name or input_name in shapes:
                raise WorkloadError(f"input name {input_name!r} is empty or used twice", self.name)
            shapes[input_name] = shape
        if not self.nodes:
            raise WorkloadError("a network needs at least one layer", self.name)
        for node in self.nodes:
            if not node.name:
                raise WorkloadError(f"a {node.layer.kind} layer has no name", self.name)
            if node.name in shapes:
                raise WorkloadError(f"{node.name}: the name is used twice", self.name)
            missing = [source for source in node.inputs if source not in shapes]
            if missing:
                raise WorkloadError(f"{node.name}: reads {missing[0]!r}, which is not an input or an "
                                    "earlier layer", self.name)
            given = tuple(shapes[source] for source in node.inputs)
            if given != node.layer.input_shapes:
                expected = ", ".join(format_shape(shape) for shape in node.layer.input_shapes)
                found = ", ".join(f"{source} {format_shape(shapes[source])}" for source in node.inputs)
                raise WorkloadError(f"{node.name}: expects input shape {expected} but reads {found}",
                                    self.name)
            shapes[node.name] = node.layer.output_shape
        object.__setattr__(self, "_shapes", shapes)

    # -- lookup ---------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(node.layer for node in self.nodes)

    def layer(self, name: str) -> Layer:
        for node in self.nodes:
            if node.name == name:
                return node.layer
        raise WorkloadError(f"no layer named {name!r} in {self.name} (it has "
                            f"{', '.join(node.name for node in self.nodes)})")

    def shape(self, name: str) -> Shape:
        """The shape of an input or of a layer's output."""
        if name not in self._shapes:
            raise WorkloadError(f"no input or layer named {name!r} in {self.name}")
        return self._shapes[name]

    @property
    def outputs(self) -> tuple[str, ...]:
        """Layers no other layer reads: the network's results."""
        read = {source for node in self.nodes for source in node.inputs}
        return tuple(node.name for node in self.nodes if node.name not in read)

    # -- totals ---------------------------------------------------------------------------

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def biases(self) -> int:
        return sum(layer.biases for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return self.batch * sum(layer.macs for layer in self.layers)

    @property
    def input_neurons(self) -> int:
        return self.batch * sum(elements(shape) for _, shape in self.inputs)

    @property
    def neurons(self) -> int:
        """Input elements plus the neurons every layer creates (see layers.py), for the batch."""
        return self.input_neurons + self.batch * sum(layer.neurons for layer in self.layers)

    @property
    def vector_ops(self) -> dict[str, int]:
        per_sample = sum_ops(layer.vector_ops for layer in self.layers)
        return {op: self.batch * count for op, count in per_sample.items()}

    def with_batch(self, batch: int) -> Network:
        """The same network on ``batch`` samples at once."""
        return dataclasses.replace(self, batch=batch)

    def weight_bytes(self, bytes_per_element: int = FP32_BYTES) -> int:
        return self.params * bytes_per_element

    # -- receptive fields -----------------------------------------------------------------

    def receptive_fields(self) -> dict[str, tuple[ReceptiveField, ReceptiveField]]:
        """Each layer's (height, width) receptive field in the network's input.

        A layer reading several inputs (a concatenation, a residual add) sees the union
        of their fields; the inputs must step through the input at the same rate.
        """
        fields: dict[str, tuple[ReceptiveField, ReceptiveField]] = {
            input_name: (INPUT_FIELD, INPUT_FIELD) for input_name, _ in self.inputs}
        for node in self.nodes:
            merged = []
            for axis in (0, 1):
                sources = [fields[source][axis] for source in node.inputs]
                if len({source.jump for source in sources}) > 1:
                    raise WorkloadError(f"{node.name}: its inputs step through the input at "
                                        "different rates; no single receptive field", self.name)
                offset = min(source.offset for source in sources)
                size = max(source.offset + source.size for source in sources) - offset
                before = ReceptiveField(size, sources[0].jump, offset)
                merged.append(before.through(node.layer.windows[axis]))
            fields[node.name] = (merged[0], merged[1])
        for input_name, _ in self.inputs:
            del fields[input_name]
        return fields


class NetworkBuilder:
    """Adds layers one by one, taking each input shape from what the layer reads.

    Every method returns the new layer's name; ``source`` defaults to the layer added
    last (or the first input).
    """

    def __init__(self, name: str, description: str, inputs: dict[str, Shape]):
        self.name = name
        self.description = description
        self.inputs = tuple(inputs.items())
        self._nodes: list[Node] = []
        self._shapes: dict[str, Shape] = dict(inputs)
        self.last = self.inputs[0][0]

    def shape(self, name: str) -> Shape:
        return self._shapes[name]

    def add_layer(self, layer: Layer, sources: Sequence[str]) -> str:
        self._nodes.append(Node(layer, tuple(sources)))
        self._shapes[layer.name] = layer.output_shape
        self.last = layer.name
        return layer.name

    def _one(self, cls: type[Layer], name: str, source: str | None, **fields) -> str:
        source = self.last if source is None else source
        return self.add_layer(cls(name=name, input_shape=self._shapes[source], **fields), [source])

    def conv(self, name: str, out_channels: int, kernel: int, stride: int = 1, padding: int = 0, *,
             groups: int = 1, bias: bool = True, source: str | None = None) -> str:
        return self._one(Conv2d, name, source, out_channels=out_channels, kernel=kernel, stride=stride,
                         padding=padding, groups=groups, bias=bias)

    def fc(self, name: str, out_features: int, *, bias: bool = True, tied: str = "",
           source: str | None = None) -> str:
        return self._one(FullyConnected, name, source, out_features=out_features, bias=bias, tied=tied)

    def pool(self, name: str, mode: str, kernel: int, stride: int | None = None, padding: int = 0, *,
             ceil_mode: bool = False, source: str | None = None) -> str:
        return self._one(Pool, name, source, mode=mode, kernel=kernel, stride=stride, padding=padding,
                         ceil_mode=ceil_mode)

    def global_avg_pool(self, name: str, *, source: str | None = None) -> str:
        _, height, width = self._shapes[self.last if source is None else source]
        return self.pool(name, "avg", (height, width), source=source)

    def act(self, name: str, function: str = "relu", *, source: str | None = None) -> str:
        return self._one(Activation, name, source, function=function)

    def bn(self, name: str, *, source: str | None = None) -> str:
        return self._one(BatchNorm, name, source)

    def lstm(self, name: str, hidden_size: int, *, source: str | None = None) -> str:
        return self._one(LSTMCell, name, source, hidden_size=hidden_size)

    def add(self, name: str, sources: Sequence[str]) -> str:
        return self.add_layer(Add(name=name, input_shapes=tuple(self._shapes[s] for s in sources)),
                              sources)

    def concat(self, name: str, sources: Sequence[str], *, axis: int | None = None) -> str:
        return self.add_layer(Concat(name=name, input_shapes=tuple(self._shapes[s] for s in sources),
                                     concat_axis=axis), sources)

    def matmul(self, name: str, a: str, b: str, *, heads: int = 1, transpose_b: bool = False) -> str:
        return self.add_layer(MatMul(name=name, input_shapes=(self._shapes[a], self._shapes[b]), heads=heads,
                                     transpose_b=transpose_b), [a, b])

    def softmax(self, name: str, *, length: int | None = None, scale: float | None = None,
                masked: bool = False, source: str | None = None) -> str:
        return self._one(Softmax, name, source, length=length, scaled=scale is not None,
                         scale=1.0 if scale is None else scale, masked=masked)

    def layer_norm(self, name: str, epsilon: float, *, source: str | None = None) -> str:
        return self._one(LayerNorm, name, source, epsilon=epsilon)

    def embedding(self, name: str, vocabulary: int, dim: int, *, source: str | None = None) -> str:
        return self._one(Embedding, name, source, vocabulary=vocabulary, dim=dim)

    def position_embedding(self, name: str, positions: int, *, first_position: int = 0,
                           source: str | None = None) -> str:
        return self._one(PositionEmbedding, name, source, positions=positions, first_position=first_position)

    def class_token(self, name: str, *, source: str | None = None) -> str:
        return self._one(ClassToken, name, source)

    def slice(self, name: str, start: int, stop: int, *, source: str | None = None) -> str:
        return self._one(Slice, name, source, start=start, stop=stop)

    def reshape(self, name: str, shape: Shape, *, source: str | None = None) -> str:
        return self._one(Reshape, name, source, shape=shape)

    def transpose(self, name: str, permutation: tuple[int, ...], *, source: str | None = None) -> str:
        return self._one(Transpose, name, source, permutation=permutation)

    def build(self) -> Network:
        return Network(self.name, self.description, self.inputs, tuple(self._nodes))


IMAGE_224 = (3, 224, 224)

# -- LeNet-5 ------------------------------------------------------------------------------


def lenet5() -> Network:
    """LeNet-5 as commonly rebuilt: every C3 map reads all S2 maps, no trainable pooling.

    32x32x1 input; tanh; average pooling; C5 is a 5x5 convolution on 5x5 maps. 61,706
    parameters. (LeCun 1998 connects C3 to a subset of S2's maps, 1,516 parameters
    instead of 2,416, and gives S2/S4 a trainable coefficient and bias per map.)
    """
    b = NetworkBuilder("lenet5", "LeNet-5 (modern full-connection form), 32x32x1 input",
                       {"data": (1, 32, 32)})
    b.conv("c1", 6, 5)
    b.act("tanh1", "tanh")
    b.pool("s2", "avg", 2)
    b.conv("c3", 16, 5)
    b.act("tanh3", "tanh")
    b.pool("s4", "avg", 2)
    b.conv("c5", 120, 5)
    b.act("tanh5", "tanh")
    b.fc("f6", 84)
    b.act("tanh6", "tanh")
    b.fc("output", 10)
    return b.build()


# -- AlexNet ------------------------------------------------------------------------------


def alexnet() -> Network:
    """AlexNet as Krizhevsky et al. (2012) trained it on two GPUs, at 224x224x3.

    conv2, conv4 and conv5 are grouped (each GPU's half reads only its own half of the
    channels); conv3 and the FC layers read everything. The paper's 224x224 input with
    an 11x11 stride-4 conv1 giving 55x55 needs padding: floor((224 + 2*2 - 11) / 4) + 1
    = 55, so conv1 pads by 2 (the last padding column is never read, so this is the same
    arithmetic as Caffe's unpadded 227x227 crop). The LRN after conv1 and conv2 is left out.
    """
    b = NetworkBuilder("alexnet", "AlexNet, original grouped two-GPU form (Krizhevsky 2012), "
                       "224x224x3", {"data": IMAGE_224})
    b.conv("conv1", 96, 11, 4, 2)
    b.act("relu1")
    b.pool("pool1", "max", 3, 2)
    b.conv("conv2", 256, 5, 1, 2, groups=2)
    b.act("relu2")
    b.pool("pool2", "max", 3, 2)
    b.conv("conv3", 384, 3, 1, 1)
    b.act("relu3")
    b.conv("conv4", 384, 3, 1, 1, groups=2)
    b.act("relu4")
    b.conv("conv5", 256, 3, 1, 1, groups=2)
    b.act("relu5")
    b.pool("pool5", "max", 3, 2)
    b.fc("fc6", 4096)
    b.act("relu6")
    b.fc("fc7", 4096)
    b.act("relu7")
    b.fc("fc8", 1000)
    return b.build()


def alexnet_single() -> Network:
    """The single-tower AlexNet of the framework model zoos (torchvision's), at 224x224x3.

    Its adaptive average pool to 6x6 is the identity at this size and is left out.
    61,100,840 parameters, 714,188,480 MACs.
    """
    b = NetworkBuilder("alexnet-single", "AlexNet, single-tower framework version "
                       "(torchvision), 224x224x3", {"data": IMAGE_224})
    b.conv("conv1", 64, 11, 4, 2)
    b.act("relu1")
    b.pool("pool1", "max", 3, 2)
    b.conv("conv2", 192, 5, 1, 2)
    b.act("relu2")
    b.pool("pool2", "max", 3, 2)
    b.conv("conv3", 384, 3, 1, 1)
    b.act("relu3")
    b.conv("conv4", 256, 3, 1, 1)
    b.act("relu4")
    b.conv("conv5", 256, 3, 1, 1)
    b.act("relu5")
    b.pool("pool5", "max", 3, 2)
    b.fc("fc6", 4096)
    b.act("relu6")
    b.fc("fc7", 4096)
    b.act("relu7")
    b.fc("fc8", 1000)
    return b.build()


# -- VGG ----------------------------------------------------------------------------------


def _vgg(name: str, convs_per_stage: Sequence[int], description: str) -> Network:
    """VGG (Simonyan and Zisserman 2014): 3x3 convolutions padded by 1, 2x2 max pools."""
    b = NetworkBuilder(name, description, {"data": IMAGE_224})
    for stage, (count, channels) in enumerate(zip(convs_per_stage, (64, 128, 256, 512, 512),
                                                  strict=True), start=1):
        for index in range(1, count + 1):
            b.conv(f"conv{stage}_{index}", channels, 3, 1, 1)
            b.act(f"relu{stage}_{index}")
        b.pool(f"pool{stage}", "max", 2)
    b.fc("fc6", 4096)
    b.act("relu6")
    b.fc("fc7", 4096)
    b.act("relu7")
    b.fc("fc8", 1000)
    return b.build()


def vgg16() -> Network:
    return _vgg("vgg16", (2, 2, 3, 3, 3), "VGG-16 (configuration D), 224x224x3")


def vgg19() -> Network:
    return _vgg("vgg19", (2, 2, 4, 4, 4), "VGG-19 (configuration E), 224x224x3")


# -- ResNet -------------------------------------------------------------------------------

RESNET_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 50: ("bottleneck", (3, 4, 6, 3)),
                 152: ("bottleneck", (3, 8, 36, 3))}


def _block_names(count: int) -> list[str]:
    """Caffe's block suffixes: a, b, c, ... up to six blocks, else a, b1, b2, ..."""
    if count <= 6:
        return [chr(ord("a") + index) for index in range(count)]
    return ["a", *(f"b{index}" for index in range(1, count))]


def resnet(depth: int, *, stride_in_3x3: bool = False) -> Network:
    """ResNet (He et al. 2015), with the layer names of the authors' Caffe models.

    No convolution has a bias (each is followed by batch norm); batch norm counts its
    scale and shift, the FC layer its bias, which gives the frameworks' parameter counts
    (ResNet-50: 25,557,032). A bottleneck block downsamples in its first 1x1
    convolution, as the paper and its Caffe models do (named ``resnet50-v1``); with
    ``stride_in_3x3`` in its 3x3 convolution, as torchvision does ("ResNet v1.5", the
    ``resnet50`` and ``resnet152`` of the course's framework: the same parameters, more MACs).
    """
    block, counts = RESNET_BLOCKS[depth]
    # Basic blocks have no 1x1 to move the stride from: one ResNet-18 for both.
    paper = not stride_in_3x3 and block == "bottleneck"
    name = f"resnet{depth}" + ("-v1" if paper else "")
    placement = "torchvision: stride on the 3x3" if stride_in_3x3 else "paper: stride on the first 1x1"
    b = NetworkBuilder(name, f"ResNet-{depth} ({placement if block == 'bottleneck' else 'basic blocks'}), "
                       "224x224x3", {"data": IMAGE_224})
    b.conv("conv1", 64, 7, 2, 3, bias=False)
    b.bn("bn_conv1")
    b.act("conv1_relu")
    b.pool("pool1", "max", 3, 2, 1)
    channels = 64
    for stage, count in enumerate(counts, start=2):
        width = 64 * 2 ** (stage - 2)
        out_channels = width * (4 if block == "bottleneck" else 1)
        for index, suffix in enumerate(_block_names(count)):
            unit = f"{stage}{suffix}"
            stride = 2 if index == 0 and stage > 2 else 1
            block_input = b.last
            if block == "bottleneck":
                first_stride, second_stride = (1, stride) if stride_in_3x3 else (stride, 1)
                b.conv(f"res{unit}_branch2a", width, 1, first_stride, bias=False, source=block_input)
                b.bn(f"bn{unit}_branch2a")
                b.act(f"res{unit}_branch2a_relu")
                b.conv(f"res{unit}_branch2b", width, 3, second_stride, 1, bias=False)
                b.bn(f"bn{unit}_branch2b")
                b.act(f"res{unit}_branch2b_relu")
                b.conv(f"res{unit}_branch2c", out_channels, 1, bias=False)
                residual = b.bn(f"bn{unit}_branch2c")
            else:
                b.conv(f"res{unit}_branch2a", width, 3, stride, 1, bias=False, source=block_input)
                b.bn(f"bn{unit}_branch2a")
                b.act(f"res{unit}_branch2a_relu")
                b.conv(f"res{unit}_branch2b", width, 3, 1, 1, bias=False)
                residual = b.bn(f"bn{unit}_branch2b")
            shortcut = block_input
            if stride != 1 or channels != out_channels:  # projection shortcut
                b.conv(f"res{unit}_branch1", out_channels, 1, stride, bias=False, source=block_input)
                shortcut = b.bn(f"bn{unit}_branch1")
            b.add(f"res{unit}", [shortcut, residual])
            b.act(f"res{unit}_relu")
            channels = out_channels
    b.global_avg_pool("pool5")
    b.fc("fc1000", 1000)
    return b.build()


# -- GoogLeNet ----------------------------------------------------------------------------

# Inception modules of GoogLeNet (Szegedy et al. 2014, table 1): #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj.
INCEPTION_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def inception(b: NetworkBuilder, prefix: str, widths: Sequence[int]) -> str:
    """Add one inception module reading ``b.last``; return the name of its concatenation.

    ``widths`` are #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj, as in the
    paper's table 1. A reduce or pool proj width of 0 leaves that 1x1 convolution out,
    which gives the "naive" module (0, 0 and 0). Branches are concatenated in the order
    1x1, 3x3, 5x5, pool.
    """
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = widths
    source = b.last
    branches = []
    b.conv(f"{prefix}/1x1", n1x1, 1, source=source)
    branches.append(b.act(f"{prefix}/relu_1x1"))
    for size, reduce_width, width in ((3, n3x3_reduce, n3x3), (5, n5x5_reduce, n5x5)):
        branch_input = source
        if reduce_width:
            b.conv(f"{prefix}/{size}x{size}_reduce", reduce_width, 1, source=source)
            branch_input = b.act(f"{prefix}/relu_{size}x{size}_reduce")
        b.conv(f"{prefix}/{size}x{size}", width, size, 1, size // 2, source=branch_input)
        branches.append(b.act(f"{prefix}/relu_{size}x{size}"))
    pooled = b.pool(f"{prefix}/pool", "max", 3, 1, 1, source=source)
    if pool_proj:
        b.conv(f"{prefix}/pool_proj", pool_proj, 1)
        pooled = b.act(f"{prefix}/relu_pool_proj")
    branches.append(pooled)
    return b.concat(f"{prefix}/output", branches)


def googlenet() -> Network:
    """GoogLeNet (Inception v1), as the paper's table 1 and the BVLC Caffe model lay it out.

    Every convolution has a bias and a ReLU; max pools between stages round up
    (``ceil_mode``, as in Caffe); the auxiliary classifiers (training only), LRN and
    dropout are left out.
    """
    b = NetworkBuilder("googlenet", "GoogLeNet (Inception v1, Szegedy 2014), 224x224x3",
                       {"data": IMAGE_224})
    b.conv("conv1/7x7_s2", 64, 7, 2, 3)
    b.act("conv1/relu_7x7")
    b.pool("pool1/3x3_s2", "max", 3, 2, ceil_mode=True)
    b.conv("conv2/3x3_reduce", 64, 1)
    b.act("conv2/relu_3x3_reduce")
    b.conv("conv2/3x3", 192, 3, 1, 1)
    b.act("conv2/relu_3x3")
    b.pool("pool2/3x3_s2", "max", 3, 2, ceil_mode=True)
    for module in ("3a", "3b"):
        inception(b, f"inception_{module}", INCEPTION_MODULES[module])
    b.pool("pool3/3x3_s2", "max", 3, 2, ceil_mode=True)
    for module in ("4a", "4b", "4c", "4d", "4e"):
        inception(b, f"inception_{module}", INCEPTION_MODULES[module])
    b.pool("pool4/3x3_s2", "max", 3, 2, ceil_mode=True)
    for module in ("5a", "5b"):
        inception(b, f"inception_{module}", INCEPTION_MODULES[module])
    b.pool("pool5/7x7_s1", "avg", 7, 1)
    b.fc("loss3/classifier", 1000)
    return b.build()


# -- MobileNet v1 -------------------------------------------------------------------------

# (name, output channels, stride) of each depthwise-separable block (Howard et al. 2017, table 1).
MOBILENET_BLOCKS = (
    ("conv2_1", 64, 1), ("conv2_2", 128, 2), ("conv3_1", 128, 1), ("conv3_2", 256, 2),
    ("conv4_1", 256, 1), ("conv4_2", 512, 2), ("conv5_1", 512, 1), ("conv5_2", 512, 1),
    ("conv5_3", 512, 1), ("conv5_4", 512, 1), ("conv5_5", 512, 1), ("conv5_6", 1024, 2),
    ("conv6", 1024, 1),
)


def mobilenet() -> Network:
    """MobileNet v1, width multiplier 1.0, 224x224x3, with the names of the common Caffe port.

    Convolutions have no bias and are followed by batch norm and ReLU (Keras uses
    ReLU6: one more compare per element); the classifier has a bias. 4,231,976
    parameters, the trainable count Keras reports.
    """
    b = NetworkBuilder("mobilenet", "MobileNet v1 (alpha 1.0, Howard 2017), 224x224x3",
                       {"data": IMAGE_224})
    b.conv("conv1", 32, 3, 2, 1, bias=False)
    b.bn("conv1/bn")
    b.act("relu1")
    for name, out_channels, stride in MOBILENET_BLOCKS:
        channels = b.shape(b.last)[0]
        suffix = name.removeprefix("conv")
        b.conv(f"{name}/dw", channels, 3, stride, 1, groups=channels, bias=False)
        b.bn(f"{name}/dw/bn")
        b.act(f"relu{suffix}/dw")
        b.conv(f"{name}/sep", out_channels, 1, bias=False)
        b.bn(f"{name}/sep/bn")
        b.act(f"relu{suffix}/sep")
    b.global_avg_pool("pool6")
    b.fc("fc7", 1000)
    return b.build()


# -- MLP and LSTM -------------------------------------------------------------------------

MLP_SIZES = (784, 512, 256, 10)


def mlp() -> Network:
    """A multilayer perceptron for 28x28 MNIST digits: 784-512-256-10, ReLU between layers."""
    sizes = " -> ".join(str(size) for size in MLP_SIZES)
    b = NetworkBuilder("mlp", f"MLP for MNIST, {sizes} (ReLU)", {"data": (MLP_SIZES[0],)})
    for index, size in enumerate(MLP_SIZES[1:], start=1):
        b.fc(f"fc{index}", size)
        if index < len(MLP_SIZES) - 1:
            b.act(f"relu{index}")
    return b.build()


LSTM_LM_VOCABULARY = 10_000
LSTM_LM_HIDDEN = 650
LSTM_LM_LAYERS = 2


def lstm_lm() -> Network:
    """One time step of an LSTM language model: Zaremba et al.'s "medium" Penn Treebank model.

    Two LSTM layers of 650 units and a projection to a 10,000-word vocabulary. The input
    is the current word's 650-wide embedding: the lookup (a 10,000 x 650 table, 6,500,000
    parameters, one row read per step) is a gather, not arithmetic, and is left out, as
    is the softmax. 13,275,200 parameters.
    """
    b = NetworkBuilder("lstm-lm", f"LSTM language model, one time step: embedding "
                       f"{LSTM_LM_HIDDEN} -> {LSTM_LM_LAYERS} x LSTM {LSTM_LM_HIDDEN} -> "
                       f"{LSTM_LM_VOCABULARY:,} words (Zaremba medium)",
                       {"embedding": (LSTM_LM_HIDDEN,)})
    for index in range(1, LSTM_LM_LAYERS + 1):
        b.lstm(f"lstm{index}", LSTM_LM_HIDDEN)
    b.fc("decoder", LSTM_LM_VOCABULARY)
    return b.build()


# -- the textbook's exercises -------------------------------------------------------------

# name -> (rows, in features, out features) of the FC layers of exercises 7.7-7.12, as GEMMs
# of rows x features times features x outputs (exercise 7.10 is 7.9 with compressed data, so
# the same shape; 7.11 is 7.8 on DLP-M).
TEXTBOOK_FC = {
    "fc7_7": (1, 256, 1),
    "fc7_8": (32, 256, 128),
    "fc7_9": (1024, 256, 128),
    "fc7_11": (32, 256, 128),
    "fc7_12": (1024, 256, 2048),
}


def textbook_fc() -> Network:
    """The fully connected layers of the textbook's exercises 7.7-7.12, without biases.

    Each layer reads its own ``(rows, features)`` input (``NAME/input``), so the layers are
    independent, like the rows of a SCALE-Sim GEMM topology; the exercises' programs in
    ``programs/`` are hand-written versions of the same layers.
    """
    b = NetworkBuilder("textbook-fc", "FC layers of exercises 7.7-7.12 (GEMMs, no bias)",
                       {f"{name}/input": (rows, features)
                        for name, (rows, features, _) in TEXTBOOK_FC.items()})
    for name, (_, _, outputs) in TEXTBOOK_FC.items():
        b.fc(name, outputs, bias=False, source=f"{name}/input")
    return b.build()


# -- transformers -------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformerShape:
    """The sizes of a transformer encoder or decoder stack."""

    layers: int
    hidden: int
    heads: int
    ffn: int  # the width of the feed-forward block's first layer
    norm_epsilon: float  # of every layer norm

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


# BERT-base, GPT-2 small and ViT-B/16 share their sizes; their layer norms' epsilons are those of
# Hugging Face's BERT and GPT-2 and of torchvision's ViT.
GPT2_SHAPE = TransformerShape(layers=12, hidden=768, heads=12, ffn=3072, norm_epsilon=1e-5)
BERT_SHAPE = dataclasses.replace(GPT2_SHAPE, norm_epsilon=1e-12)
VIT_SHAPE = dataclasses.replace(GPT2_SHAPE, norm_epsilon=1e-6)


def _attention(b: NetworkBuilder, prefix: str, source: str, shape: TransformerShape, *,
               masked: bool = False, past: tuple[str, str] | None = None) -> str:
    """Multi-head self-attention reading ``source``: Q, K, V projections, the heads' scores
    ``Q x K^T`` scaled by 1/sqrt(head size), softmax per head, ``A x V``, the output projection.

    The Q, K and V projections are one matrix in GPT-2 (``c_attn``) and torchvision
    (``in_proj``), three in BERT: the same parameters and MACs either way. With ``past``
    (the KV cache's keys and values, network inputs), the new token's key and value are
    appended to them and the token attends to every cached one: reading the cache is DRAM
    traffic of the two matrix products.
    """
    query = b.fc(f"{prefix}.query", shape.hidden, source=source)
    key = b.fc(f"{prefix}.key", shape.hidden, source=source)
    value = b.fc(f"{prefix}.value", shape.hidden, source=source)
    if past is not None:
        key = b.concat(f"{prefix}.key_cache", [past[0], key], axis=0)
        value = b.concat(f"{prefix}.value_cache", [past[1], value], axis=0)
    keys = b.shape(key)[0]
    b.matmul(f"{prefix}.scores", query, key, heads=shape.heads, transpose_b=True)
    probabilities = b.softmax(f"{prefix}.softmax", length=keys, scale=shape.head_size ** -0.5, masked=masked)
    b.matmul(f"{prefix}.context", probabilities, value, heads=shape.heads)
    return b.fc(f"{prefix}.output", shape.hidden)


def _transformer_layer(b: NetworkBuilder, prefix: str, shape: TransformerShape, *, pre_norm: bool,
                       masked: bool = False, past: tuple[str, str] | None = None) -> str:
    """One encoder (or decoder) layer: attention and a GELU feed-forward block, each with a
    residual connection; layer norm before each (``pre_norm``: GPT-2, ViT) or after each
    residual add (BERT)."""
    block_input = b.last
    attention_input = b.layer_norm(f"{prefix}.norm1", shape.norm_epsilon) if pre_norm else block_input
    attended = _attention(b, f"{prefix}.attention", attention_input, shape, masked=masked, past=past)
    residual = b.add(f"{prefix}.residual1", [block_input, attended])
    if not pre_norm:
        residual = b.layer_norm(f"{prefix}.norm1", shape.norm_epsilon)
    feed_forward_input = b.layer_norm(f"{prefix}.norm2", shape.norm_epsilon) if pre_norm else residual
    b.fc(f"{prefix}.ffn1", shape.ffn, source=feed_forward_input)
    b.act(f"{prefix}.gelu", "gelu")
    b.fc(f"{prefix}.ffn2", shape.hidden)
    b.add(f"{prefix}.residual2", [residual, b.last])
    return b.last if pre_norm else b.layer_norm(f"{prefix}.norm2", shape.norm_epsilon)


BERT_VOCABULARY = 30_522
BERT_POSITIONS = 512
BERT_TOKEN_TYPES = 2
GPT2_VOCABULARY = 50_257
GPT2_POSITIONS = 1024
DEFAULT_SEQ = 128


def bert_base(seq: int = DEFAULT_SEQ) -> Network:
    """BERT-base (uncased), with its pooler, on ``seq`` tokens: 109,482,240 parameters.

    Embeddings (word + token type + position, then layer norm), 12 post-norm encoder layers,
    the pooler (the first token through a 768 x 768 layer and tanh). Inputs: the token ids
    and the token type ids. The attention mask is all ones (no padding), so it is not added.
    """
    b = NetworkBuilder("bert-base", f"BERT-base uncased with its pooler, {seq} tokens",
                       {"input_ids": (seq,), "token_type_ids": (seq,)})
    words = b.embedding("embeddings.word", BERT_VOCABULARY, BERT_SHAPE.hidden, source="input_ids")
    types = b.embedding("embeddings.token_type", BERT_TOKEN_TYPES, BERT_SHAPE.hidden, source="token_type_ids")
    b.add("embeddings.sum", [words, types])
    b.position_embedding("embeddings.position", BERT_POSITIONS)
    b.layer_norm("embeddings.norm", BERT_SHAPE.norm_epsilon)
    for index in range(BERT_SHAPE.layers):
        _transformer_layer(b, f"layer{index}", BERT_SHAPE, pre_norm=False)
    b.slice("pooler.first_token", 0, 1)
    b.fc("pooler.dense", BERT_SHAPE.hidden)
    b.act("pooler.tanh", "tanh")
    return b.build()


def gpt2(seq: int = DEFAULT_SEQ) -> Network:
    """GPT-2 small, the prefill of a ``seq``-token prompt: 124,439,808 parameters.

    Token and position embeddings, 12 pre-norm decoder layers with causal (masked)
    attention (the scores above the diagonal are computed, then masked, and count in the
    MACs, as a framework's dense kernels compute them), a final layer norm and the LM
    head, whose matrix is the token embedding (tied: read again, not counted again), over
    every position as the model's forward pass computes it.
    """
    b = NetworkBuilder("gpt2", f"GPT-2 small, prefill of {seq} tokens", {"input_ids": (seq,)})
    b.embedding("wte", GPT2_VOCABULARY, GPT2_SHAPE.hidden)
    b.position_embedding("wpe", GPT2_POSITIONS)
    for index in range(GPT2_SHAPE.layers):
        _transformer_layer(b, f"h{index}", GPT2_SHAPE, pre_norm=True, masked=True)
    b.layer_norm("ln_f", GPT2_SHAPE.norm_epsilon)
    b.fc("lm_head", GPT2_VOCABULARY, bias=False, tied="wte")
    return b.build()


def gpt2_decode(seq: int = DEFAULT_SEQ) -> Network:
    """GPT-2 small generating one token after ``seq`` tokens, whose keys and values are in a
    KV cache (one ``seq x 768`` input each per layer): the new token at position ``seq``
    attends to the ``seq + 1`` tokens, and every weight and the whole cache are read for
    one token's work, which makes decoding DRAM-bound."""
    inputs: dict[str, Shape] = {"input_ids": (1,)}
    for index in range(GPT2_SHAPE.layers):
        inputs[f"h{index}.past_key"] = (seq, GPT2_SHAPE.hidden)
        inputs[f"h{index}.past_value"] = (seq, GPT2_SHAPE.hidden)
    b = NetworkBuilder("gpt2-decode", f"GPT-2 small, one decoding step with a KV cache of {seq} tokens",
                       inputs)
    b.embedding("wte", GPT2_VOCABULARY, GPT2_SHAPE.hidden, source="input_ids")
    b.position_embedding("wpe", GPT2_POSITIONS, first_position=seq)
    for index in range(GPT2_SHAPE.layers):
        _transformer_layer(b, f"h{index}", GPT2_SHAPE, pre_norm=True,
                           past=(f"h{index}.past_key", f"h{index}.past_value"))
    b.layer_norm("ln_f", GPT2_SHAPE.norm_epsilon)
    b.fc("lm_head", GPT2_VOCABULARY, bias=False, tied="wte")
    return b.build()


VIT_PATCH = 16


def vit_b16() -> Network:
    """ViT-B/16 as torchvision builds it (``vit_b_16``), 224x224x3: 86,567,656 parameters.

    The 16x16 stride-16 patch convolution, its 14x14 map flattened and transposed into 196
    tokens, the class token in front, the position embedding (197 positions), 12 pre-norm
    encoder layers, a final layer norm, and the head on the class token.
    """
    b = NetworkBuilder("vit-b16", "ViT-B/16 (torchvision vit_b_16), 224x224x3", {"data": IMAGE_224})
    b.conv("conv_proj", VIT_SHAPE.hidden, VIT_PATCH, VIT_PATCH)
    _, rows, columns = b.shape(b.last)
    b.reshape("patches", (VIT_SHAPE.hidden, rows * columns))
    b.transpose("tokens", (1, 0))
    b.class_token("class_token")
    b.position_embedding("pos_embedding", rows * columns + 1)
    for index in range(VIT_SHAPE.layers):
        _transformer_layer(b, f"encoder.layer{index}", VIT_SHAPE, pre_norm=True)
    b.layer_norm("encoder.ln", VIT_SHAPE.norm_epsilon)
    b.slice("class_output", 0, 1)
    b.fc("head", 1000)
    return b.build()


# -- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkEntry:
    name: str
    description: str
    build: Callable[..., Network]  # called with seq= when the network takes a sequence length
    # The largest sequence length (``--seq``) the network takes; 0: it takes none.
    max_seq: int = 0

    @property
    def takes_seq(self) -> bool:
        return self.max_seq > 0


def _entries(items: Iterable[tuple]) -> dict[str, NetworkEntry]:
    return {item[0]: NetworkEntry(*item) for item in items}


NETWORKS: dict[str, NetworkEntry] = _entries([
    ("lenet5", "LeNet-5, 32x32x1 (modern full-connection form)", lenet5),
    ("alexnet", "AlexNet, original grouped two-GPU form, 224x224x3", alexnet),
    ("alexnet-single", "AlexNet, single-tower framework version (torchvision), 224x224x3",
     alexnet_single),
    ("vgg16", "VGG-16, 224x224x3", vgg16),
    ("vgg19", "VGG-19, 224x224x3", vgg19),
    ("resnet18", "ResNet-18, 224x224x3", lambda: resnet(18)),
    ("resnet50", "ResNet-50 as torchvision builds it (stride on the 3x3), 224x224x3",
     lambda: resnet(50, stride_in_3x3=True)),
    ("resnet50-v1", "ResNet-50 as the paper builds it (stride on the first 1x1), 224x224x3",
     lambda: resnet(50)),
    ("resnet152", "ResNet-152 as torchvision builds it (stride on the 3x3), 224x224x3",
     lambda: resnet(152, stride_in_3x3=True)),
    ("resnet152-v1", "ResNet-152 as the paper builds it (stride on the first 1x1), 224x224x3",
     lambda: resnet(152)),
    ("googlenet", "GoogLeNet (Inception v1), 224x224x3", googlenet),
    ("mobilenet", "MobileNet v1, alpha 1.0, 224x224x3", mobilenet),
    ("mlp", "MLP for MNIST, 784-512-256-10", mlp),
    ("lstm-lm", "LSTM language model, one time step (2 x 650 units, 10,000 words)", lstm_lm),
    ("textbook-fc", "FC layers of exercises 7.7-7.12 as GEMMs without bias (1x256->1 ... "
     "1024x256->2048)", textbook_fc),
    ("bert-base", f"BERT-base uncased with its pooler, --seq tokens (default {DEFAULT_SEQ})", bert_base,
     BERT_POSITIONS),
    ("gpt2", f"GPT-2 small, prefill of --seq tokens (default {DEFAULT_SEQ})", gpt2, GPT2_POSITIONS),
    ("gpt2-decode", f"GPT-2 small, one token after a KV cache of --seq tokens (default {DEFAULT_SEQ})",
     gpt2_decode, GPT2_POSITIONS - 1),
    ("vit-b16", "ViT-B/16 (torchvision vit_b_16), 224x224x3", vit_b16),
])
