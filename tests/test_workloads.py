"""The workload library: every figure of shared/reference/workload-figures.md, exactly.

Published figures used as extra checks are named where they are used; everything else
is derived by hand in the test (the formula is written next to the number).
"""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.errors import TopologyError, UserError, WorkloadError
from dlpsim.workloads import (
    NETWORKS,
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv2d,
    FullyConnected,
    LSTMCell,
    Network,
    NetworkBuilder,
    Node,
    Pool,
    get_network,
    load_network,
    network_names,
    receptive_fields,
)
from dlpsim.workloads.networks import inception, resnet
from dlpsim.workloads.topology import load_topology, parse_topology

# -- AlexNet, original two-GPU (grouped) form, 224x224x3 ---------------------------------

# layer: (conv output (C, H, W), pooled output or None, weights, biases, MACs)
ALEXNET_TABLE = {
    "conv1": ((96, 55, 55), (96, 27, 27), 34_848, 96, 105_415_200),
    "conv2": ((256, 27, 27), (256, 13, 13), 307_200, 256, 223_948_800),
    "conv3": ((384, 13, 13), None, 884_736, 384, 149_520_384),
    "conv4": ((384, 13, 13), None, 663_552, 384, 112_140_288),
    "conv5": ((256, 13, 13), (256, 6, 6), 442_368, 256, 74_760_192),
    "fc6": ((4096,), None, 37_748_736, 4_096, 37_748_736),
    "fc7": ((4096,), None, 16_777_216, 4_096, 16_777_216),
    "fc8": ((1000,), None, 4_096_000, 1_000, 4_096_000),
}
ALEXNET_NEURONS = {  # the figure's neuron counts, conv then pooled
    "conv1": (290_400, 69_984), "conv2": (186_624, 43_264), "conv3": (64_896, None),
    "conv4": (64_896, None), "conv5": (43_264, 9_216), "fc6": (4_096, None), "fc7": (4_096, None),
    "fc8": (1_000, None),
}
ALEXNET_POOL_AFTER = {"conv1": "pool1", "conv2": "pool2", "conv5": "pool5"}


@pytest.mark.parametrize("name", list(ALEXNET_TABLE))
def test_alexnet_grouped_per_layer_table(name):
    net = get_network("alexnet")
    output, pooled, weights, biases, macs = ALEXNET_TABLE[name]
    layer = net.layer(name)
    assert layer.output_shape == output
    assert (layer.weights, layer.biases, layer.macs) == (weights, biases, macs)
    conv_neurons, pooled_neurons = ALEXNET_NEURONS[name]
    assert layer.neurons == math.prod(output) == conv_neurons
    if pooled is not None:
        pool = net.layer(ALEXNET_POOL_AFTER[name])
        assert pool.output_shape == pooled
        assert pool.neurons == pooled_neurons


def test_alexnet_grouped_layers_are_grouped_as_the_two_gpus_were():
    net = get_network("alexnet")
    assert [net.layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]


def test_alexnet_grouped_totals():
    net = get_network("alexnet")
    assert net.params == 60_965_224
    assert net.macs == 724_406_816
    assert net.input_neurons == 150_528 == 224 * 224 * 3
    assert net.neurons == 932_264
    # only conv and fc layers do MACs; the figure's totals are their sums
    assert net.macs == sum(row[4] for row in ALEXNET_TABLE.values())
    assert net.params == sum(row[2] + row[3] for row in ALEXNET_TABLE.values())


def test_alexnet_single_tower_totals():
    net = get_network("alexnet-single")
    assert net.params == 61_100_840
    assert net.macs == 714_188_480
    # The summary tool's "775.28 M mult-adds" is MACs plus the weights (biases not
    # included: MACs plus all parameters would be 775.29 M); it is not a MAC count.
    assert round((net.macs + net.weights) / 1e6, 2) == 775.28
    assert round((net.macs + net.params) / 1e6, 2) == 775.29


# -- convolution identities ---------------------------------------------------------------


def test_conv_32x32x3_10_filters_5x5_pad_2():
    layer = Conv2d(name="c", input_shape=(3, 32, 32), out_channels=10, kernel=5, stride=1, padding=2)
    assert layer.output_shape == (10, 32, 32)
    assert layer.params == 760  # 10 * (5*5*3) + 10


@pytest.mark.parametrize("kernel, params, macs", [(3, 4_640, 3_612_672), (1, 544, 401_408)])
def test_conv_28x28x16_to_32(kernel, params, macs):
    layer = Conv2d(name="c", input_shape=(16, 28, 28), out_channels=32, kernel=kernel,
                   padding=kernel // 2)
    assert layer.output_shape == (32, 28, 28)
    assert (layer.params, layer.macs) == (params, macs)


def test_bottleneck_cuts_the_100x100x256_convolution():
    direct = Conv2d(input_shape=(256, 100, 100), out_channels=256, kernel=3, padding=1)
    assert direct.output_shape == (256, 100, 100)
    assert direct.macs == 5_898_240_000
    squeeze = Conv2d(input_shape=(256, 100, 100), out_channels=64, kernel=1)
    expand = Conv2d(input_shape=squeeze.output_shape, out_channels=256, kernel=3, padding=1)
    assert expand.output_shape == (256, 100, 100)
    assert squeeze.macs + expand.macs == 1_638_400_000


def test_depthwise_separable_against_standard():
    depthwise = Conv2d(input_shape=(32, 8, 8), out_channels=32, kernel=3, padding=1, groups=32, bias=False)
    pointwise = Conv2d(input_shape=depthwise.output_shape, out_channels=64, kernel=1, bias=False)
    standard = Conv2d(input_shape=(32, 8, 8), out_channels=64, kernel=3, padding=1, bias=False)
    assert depthwise.depthwise and depthwise.describe() == "dwconv 3x3"
    assert depthwise.params + pointwise.params == 2_336  # 32*9 + 32*64
    assert standard.params == 18_432  # 64*32*9


# -- inception module on 28x28x256 --------------------------------------------------------


def _module(widths) -> Network:
    b = NetworkBuilder("module", "one inception module", {"data": (256, 28, 28)})
    inception(b, "m", widths)
    return b.build()


def _branch_macs(net: Network) -> dict[str, int]:
    return {node.name.removeprefix("m/"): node.layer.macs for node in net.nodes if node.layer.macs}


def _millions(macs: int) -> float:
    return round(macs / 1e6, 1)


def test_naive_inception_module():
    net = _module((128, 0, 192, 0, 96, 0))
    macs = _branch_macs(net)
    assert {name: _millions(count) for name, count in macs.items()} == {
        "1x1": 25.7, "3x3": 346.8, "5x5": 481.7}
    assert _millions(net.macs) == 854.2
    assert net.shape("m/output") == (128 + 192 + 96 + 256, 28, 28)  # the pool branch keeps 256


def test_inception_module_with_bottlenecks():
    naive = _module((128, 0, 192, 0, 96, 0))
    net = _module((128, 64, 192, 32, 96, 0))
    macs = _branch_macs(net)
    rounded = {name: _millions(count) for name, count in macs.items()}
    assert rounded == {"1x1": 25.7, "3x3_reduce": 12.8, "3x3": 86.7, "5x5_reduce": 6.4, "5x5": 60.2}
    # The figure's 191.8 adds the rounded parts; the exact total (191,873,024) is within 0.1 M.
    assert round(sum(rounded.values()), 1) == 191.8
    assert net.macs == 191_873_024 and abs(net.macs / 1e6 - 191.8) < 0.1
    assert round(100 * (1 - net.macs / naive.macs), 1) == 77.5


# -- receptive fields ---------------------------------------------------------------------

ALEXNET_FIELDS = {"conv1": 11, "pool1": 19, "conv2": 51, "pool2": 67, "conv3": 99, "conv4": 131,
                  "conv5": 163, "pool5": 195, "fc6": 355}


def test_alexnet_receptive_fields_at_227():
    # (kernel, stride, padding) at 227 input, where conv1 needs no padding; fc6 is a 6x6
    # window over pool5's 6x6 output.
    chain = [(11, 4, 0), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0),
             (6, 1, 0)]
    size = 227
    for kernel, stride, padding in chain[:-1]:
        size = (size + 2 * padding - kernel) // stride + 1
    assert size == 6
    fields = receptive_fields(chain)
    assert [field.size for field in fields] == list(ALEXNET_FIELDS.values())
    assert [field.jump for field in fields] == [4, 8, 8, 16, 16, 16, 16, 32, 32]


def test_network_receptive_fields_follow_the_layers():
    fields = get_network("alexnet").receptive_fields()
    for name, size in ALEXNET_FIELDS.items():
        height, width = fields[name]
        assert height.size == width.size == size, name
    assert fields["relu1"][0].size == 11  # element-wise layers do not widen it
    assert fields["conv1"][0].offset == -2  # conv1's padding reaches 2 pixels outside


def test_receptive_field_of_branches_is_their_union():
    fields = _module((128, 64, 192, 32, 96, 32)).receptive_fields()
    assert fields["m/output"][0].size == 5  # the widest branch, the 5x5
    assert fields["m/output"][0].offset == -2


# -- published totals ---------------------------------------------------------------------

# Parameter counts as the frameworks count them: weights and biases; batch norm's scale
# and shift (not its running statistics).
PUBLISHED_PARAMS = {
    "vgg16": 138_357_544,  # torchvision vgg16
    "vgg19": 143_667_240,  # torchvision vgg19
    "resnet18": 11_689_512,  # torchvision resnet18
    "resnet50": 25_557_032,  # torchvision resnet50
    "resnet152": 60_192_808,  # torchvision resnet152
    "resnet50-v1": 25_557_032,  # the stride's placement moves no parameter
    "resnet152-v1": 60_192_808,
    "googlenet": 6_998_552,  # BVLC Caffe bvlc_googlenet without the auxiliary classifiers
    "mobilenet": 4_231_976,  # Keras MobileNet(alpha=1.0): trainable parameters
    "lenet5": 61_706,  # the usual modern LeNet-5 (full C3)
}


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMS))
def test_published_parameter_counts(name):
    assert get_network(name).params == PUBLISHED_PARAMS[name]


# torchvision's published "GFLOPS" are conv + fc MACs in billions, to two decimals; its
# ResNets (our resnet50 and resnet152) put the stride in the 3x3 of a bottleneck.
@pytest.mark.parametrize("name, gmacs", [
    ("vgg16", 15.47), ("vgg19", 19.63), ("resnet18", 1.81), ("resnet50", 4.09), ("resnet152", 11.51),
    ("alexnet-single", 0.71),
])
def test_torchvision_gmacs(name, gmacs):
    assert round(get_network(name).macs / 1e9, 2) == gmacs


def test_resnet_stride_placement_changes_macs_not_params():
    paper, torchvision = get_network("resnet50-v1"), get_network("resnet50")
    assert paper.params == torchvision.params
    assert paper.macs < torchvision.macs
    assert paper.layer("res3a_branch2a").stride == (2, 2) and paper.layer("res3a_branch2b").stride == (1, 1)
    assert torchvision.layer("res3a_branch2a").stride == (1, 1)
    assert torchvision.layer("res3a_branch2b").stride == (2, 2)
    assert resnet(50, stride_in_3x3=True) == torchvision
    # the paper's table 1: 3.8 and 11.3 x 10^9 "FLOPs" (multiply-adds) for ResNet-50/152
    assert math.floor(paper.macs / 1e8) / 10 == 3.8
    assert round(get_network("resnet152-v1").macs / 1e9, 1) == 11.3


def test_mobilenet_mult_adds_as_published():
    assert round(get_network("mobilenet").macs / 1e6) == 569  # Howard et al. 2017: 569 M


def test_mlp_and_lstm_lm_by_hand():
    mlp = get_network("mlp")
    assert mlp.params == (784 * 512 + 512) + (512 * 256 + 256) + (256 * 10 + 10)
    assert mlp.macs == 784 * 512 + 512 * 256 + 256 * 10
    lm = get_network("lstm-lm")
    hidden, vocabulary = 650, 10_000
    lstm_params = 4 * hidden * (hidden + hidden) + 4 * hidden
    assert lm.params == 2 * lstm_params + hidden * vocabulary + vocabulary == 13_275_200
    assert lm.macs == 2 * 4 * hidden * 2 * hidden + hidden * vocabulary
    assert lm.layer("decoder").output_shape == (vocabulary,)


# -- the textbook's exercises 7.7-7.12 ----------------------------------------------------


def test_textbook_fc_layers_match_the_exercises():
    net = get_network("textbook-fc")
    # exercise: (rows M, features K, outputs N); MACs = M * K * N, no bias
    exercises = {"fc7_7": (1, 256, 1), "fc7_8": (32, 256, 128), "fc7_9": (1024, 256, 128),
                 "fc7_11": (32, 256, 128), "fc7_12": (1024, 256, 2048)}
    assert [node.name for node in net.nodes] == list(exercises)
    for name, (rows, features, outputs) in exercises.items():
        layer = net.layer(name)
        assert isinstance(layer, FullyConnected) and not layer.bias
        assert layer.input_shape == (rows, features) and layer.output_shape == (rows, outputs)
        assert layer.macs == rows * features * outputs
        assert layer.weight_bytes() == features * outputs * 4
        assert layer.vector_ops == {"ADD": 0, "SUB": 0, "MUL": 0, "DIV": 0}
    assert net.layer("fc7_7").macs == 256
    assert net.layer("fc7_8").macs == net.layer("fc7_11").macs == 1_048_576
    assert net.layer("fc7_9").macs == 33_554_432
    assert net.layer("fc7_12").macs == 536_870_912
    assert net.macs == 256 + 2 * 1_048_576 + 33_554_432 + 536_870_912

# -- every network ------------------------------------------------------------------------


@pytest.mark.parametrize("name", network_names())
def test_every_network_builds_and_adds_up(name):
    net = get_network(name)
    assert net.name == name and NETWORKS[name].description
    assert net.params == sum(layer.params for layer in net.layers) == net.weights + net.biases
    assert net.macs == sum(layer.macs for layer in net.layers) > 0
    assert net.weight_bytes() == 4 * net.params and net.weight_bytes(2) == 2 * net.params
    assert set(net.vector_ops) == {"ADD", "SUB", "MUL", "DIV"}
    # textbook-fc's layers are independent (one input each), so each is an output
    assert len(net.outputs) == (len(net.nodes) if name == "textbook-fc" else 1)
    batched = net.with_batch(3)
    assert batched.macs == 3 * net.macs and batched.params == net.params
    assert batched.vector_ops == {op: 3 * count for op, count in net.vector_ops.items()}
    assert len({node.name for node in net.nodes}) == len(net.nodes)


def test_classifier_outputs():
    for name in ("alexnet", "alexnet-single", "vgg16", "vgg19", "resnet18", "resnet50", "resnet152",
                 "resnet50-v1", "resnet152-v1", "googlenet", "mobilenet"):
        net = get_network(name)
        assert net.shape(net.outputs[0]) == (1000,), name
    assert get_network("googlenet").shape("inception_5b/output") == (1024, 7, 7)
    assert get_network("resnet50").shape("res5c") == (2048, 7, 7)
    assert get_network("resnet152").shape("res4b35") == (1024, 14, 14)  # Caffe's b1..b35 names
    assert get_network("mobilenet").shape("conv6/sep") == (1024, 7, 7)
    assert get_network("lenet5").shape("c5") == (120, 1, 1)


# -- layer arithmetic ---------------------------------------------------------------------


def test_vector_operation_costs():
    shape = (2, 3, 4)  # 24 elements
    assert Activation(input_shape=shape, function="relu").vector_ops == {"ADD": 0, "SUB": 24, "MUL": 0,
                                                                         "DIV": 0}
    assert Activation(input_shape=shape, function="sigmoid").vector_ops == {"ADD": 24, "SUB": 96,
                                                                            "MUL": 24, "DIV": 0}
    assert BatchNorm(input_shape=shape).vector_ops == {"ADD": 24, "SUB": 0, "MUL": 24, "DIV": 0}
    assert BatchNorm(input_shape=shape).params == 4  # scale and shift per channel
    assert Add(input_shapes=(shape, shape, shape)).vector_ops["ADD"] == 48
    pool_max = Pool(input_shape=(1, 4, 4), mode="max", kernel=2)
    assert pool_max.output_shape == (1, 2, 2) and pool_max.vector_ops["SUB"] == 4 * 3
    pool_avg = Pool(input_shape=(1, 4, 4), mode="avg", kernel=2)
    assert (pool_avg.vector_ops["ADD"], pool_avg.vector_ops["MUL"]) == (4 * 3, 4)
    conv = Conv2d(input_shape=(1, 4, 4), out_channels=2, kernel=3)
    assert conv.vector_ops["ADD"] == 2 * 2 * 2  # one bias add per output
    assert Conv2d(input_shape=(1, 4, 4), out_channels=2, kernel=3, bias=False).vector_ops["ADD"] == 0


def test_lstm_cell():
    cell = LSTMCell(input_shape=(3,), hidden_size=2)
    assert cell.output_shape == (2,)
    assert cell.weights == cell.macs == 4 * 2 * (3 + 2) and cell.biases == 8
    assert cell.input_bytes() == (3 + 2 + 2) * 4 and cell.output_bytes() == 2 * 2 * 4
    # per hidden unit: 4 bias ADDs, 5 piecewise-linear sigmoid/tanh (4 SUB, 1 MUL, 1 ADD
    # each), then f*c + i*g and o*tanh(c): 3 MUL, 1 ADD
    assert cell.vector_ops == {"ADD": 2 * (4 + 5 + 1), "SUB": 2 * 20, "MUL": 2 * (5 + 3), "DIV": 0}


def test_bytes_follow_bytes_per_element():
    fc = FullyConnected(input_shape=(256, 6, 6), out_features=10)
    assert fc.in_features == 9216 and fc.output_shape == (10,)
    assert fc.input_bytes() == 9216 * 4 and fc.input_bytes(2) == 9216 * 2
    assert fc.output_bytes(1) == 10 and fc.weight_bytes(2) == (9216 * 10 + 10) * 2


def test_fc_on_rows_is_a_gemm():
    gemm = FullyConnected(input_shape=(32, 256), out_features=128, bias=False)  # exercise 7.8's layer
    assert gemm.output_shape == (32, 128)
    assert gemm.macs == 32 * 256 * 128 and gemm.weights == 256 * 128
    assert gemm.describe() == "gemm M=32"


def test_concat_and_ceil_mode():
    joined = Concat(input_shapes=((64, 28, 28), (32, 28, 28)))
    assert joined.output_shape == (96, 28, 28) and joined.params == joined.neurons == 0
    assert Concat(input_shapes=((3, 4), (3, 5))).output_shape == (3, 9)
    floor = Pool(input_shape=(64, 112, 112), mode="max", kernel=3, stride=2)
    ceil = Pool(input_shape=(64, 112, 112), mode="max", kernel=3, stride=2, ceil_mode=True)
    assert floor.output_shape[1] == 55 and ceil.output_shape[1] == 56
    # a window that would start in the right padding is dropped
    assert Pool(input_shape=(1, 4, 4), mode="max", kernel=2, stride=2, padding=1,
                ceil_mode=True).output_shape == (1, 3, 3)


def test_rectangular_windows():
    conv = Conv2d(input_shape=(1, 10, 20), out_channels=1, kernel=(3, 5), stride=(1, 5))
    assert conv.output_shape == (1, 8, 4) and conv.describe() == "conv 3x5/1x5"


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2d(name="conv2", input_shape=(96, 27, 27), out_channels=256, kernel=5, groups=5),
     "error: conv2: 96 input channels are not divisible by 5 groups"),
    (lambda: Conv2d(name="conv2", input_shape=(96, 27, 27), out_channels=250, kernel=5, groups=3),
     "error: conv2: 250 output channels are not divisible by 3 groups"),
    (lambda: Conv2d(name="big", input_shape=(3, 5, 5), out_channels=8, kernel=11, stride=4),
     "error: big: a kernel of 11 does not fit the input height 5 padded by 0 on each side "
     "(the output height would be -1)"),
    (lambda: Pool(name="p", input_shape=(3, 2, 2), mode="max", kernel=3),
     "error: p: a kernel of 3 does not fit"),
    (lambda: Pool(name="p", input_shape=(3, 8, 8), mode="median", kernel=3),
     "error: p: unknown pooling mode 'median' (known: max, avg)"),
    (lambda: Activation(name="a", input_shape=(4,), function="swish"),
     "error: a: unknown activation 'swish' (known: relu, relu6, leaky_relu, sigmoid, tanh, gelu, clip)"),
    (lambda: Add(name="res", input_shapes=((64, 56, 56), (256, 56, 56))),
     "error: res: cannot add inputs of different shapes (64x56x56, 256x56x56)"),
    (lambda: Concat(name="cat", input_shapes=((64, 28, 28), (64, 14, 14))),
     "error: cat: cannot concatenate inputs whose other sizes differ"),
    (lambda: Conv2d(name="c", input_shape=(3, 0, 5), out_channels=1, kernel=1),
     "error: c: input shape (3, 0, 5) has a size below 1"),
    (lambda: Conv2d(name="c", input_shape=(3, 8), out_channels=1, kernel=1),
     "error: c: input shape must be a tuple of 3 sizes"),
    (lambda: Conv2d(name="c", input_shape=(3, 8, 8), out_channels=1, kernel=3, stride=0),
     "error: c: stride must be a whole number >= 1"),
    (lambda: LSTMCell(name="l", input_shape=(3, 4), hidden_size=2),
     "error: l: input shape must be a tuple of 1 sizes"),
])
def test_impossible_shapes_are_user_errors_naming_the_layer(make, message):
    with pytest.raises(WorkloadError) as caught:
        make()
    assert isinstance(caught.value, UserError)
    assert str(caught.value).startswith(message)


def test_network_checks_every_input_shape():
    conv = Conv2d(name="conv", input_shape=(3, 8, 8), out_channels=4, kernel=3)
    with pytest.raises(WorkloadError, match=r"tiny: error: conv: expects input shape 3x8x8 but reads "
                                            r"data 3x9x9"):
        Network("tiny", "", (("data", (3, 9, 9)),), (Node(conv, ("data",)),))
    with pytest.raises(WorkloadError, match="reads 'nothing', which is not an input or an earlier layer"):
        Network("tiny", "", (("data", (3, 8, 8)),), (Node(conv, ("nothing",)),))
    with pytest.raises(WorkloadError, match="the name is used twice"):
        Network("tiny", "", (("conv", (3, 8, 8)),), (Node(conv, ("conv",)),))


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(WorkloadError) as caught:
        get_network("alexnet2")
    assert str(caught.value) == ("error: unknown network 'alexnet2' (known: " + ", ".join(NETWORKS)
                                 + ")")
    with pytest.raises(WorkloadError, match="SCALE-Sim topology"):
        load_network("resnet-50")


# -- SCALE-Sim topologies -----------------------------------------------------------------

CONV_TOPOLOGY = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1     ,224         ,224        ,11           ,11          ,3       ,96        ,4      ,
Conv2     ,27         ,27        ,5            ,5           ,96      ,256       ,1      ,

\tConv3,15,15,3,3,256,384,1,#note: SCALE-Sim ignores text after the last comma
CB2a_DP, 58, 58, 3, 3, 64, 1, 2,
Wide, 10, 20, 3, 5, 2, 4, 1, 5,
"""


def _scalesim_macs(height, width, filter_h, filter_w, channels, filters, stride_h, stride_w=None):
    stride_w = stride_w or stride_h
    out_h = math.ceil((height - filter_h + stride_h) / stride_h)
    out_w = math.ceil((width - filter_w + stride_w) / stride_w)
    return out_h * out_w * filter_h * filter_w * channels * filters


def test_convolution_topology(tmp_path):
    path = tmp_path / "alexnet_conv.csv"
    path.write_text(CONV_TOPOLOGY)
    net = load_topology(path)
    assert net.name == "alexnet_conv"
    assert [node.name for node in net.nodes] == ["Conv1", "Conv2", "Conv3", "CB2a_DP", "Wide"]
    conv1 = net.layer("Conv1")
    # SCALE-Sim: ceil((224 - 11 + 4) / 4) = 55, one more than floor((224 - 11) / 4) + 1 = 54
    assert conv1.output_shape == (96, 55, 55) and conv1.ceil_mode
    assert conv1.macs == 105_415_200 == _scalesim_macs(224, 224, 11, 11, 3, 96, 4)
    assert not net.layer("Conv2").ceil_mode and net.layer("Conv2").output_shape == (256, 23, 23)
    assert net.layer("Conv3").macs == _scalesim_macs(15, 15, 3, 3, 256, 384, 1)
    # "DP" in the name: depthwise, each of the 64 channels with its own filter
    depthwise = net.layer("CB2a_DP")
    assert depthwise.depthwise and depthwise.output_shape == (64, 29, 29) and depthwise.ceil_mode
    assert depthwise.macs == _scalesim_macs(58, 58, 3, 3, 1, 1, 2) * 64
    wide = net.layer("Wide")  # separate row and column strides
    assert wide.output_shape == (4, 8, 4) and wide.macs == _scalesim_macs(10, 20, 3, 5, 2, 4, 1, 5)
    assert net.biases == 0  # SCALE-Sim models no biases
    assert net.inputs[0] == ("Conv1:input", (3, 224, 224))


def test_gemm_topology():
    net = parse_topology("Layer Name, M, N, K,\nTest 1, 256, 128, 64,\nTest 1, 1, 5, 16,\n", "g.csv")
    first, second = net.layers
    assert first.name == "Test 1" and second.name == "Test 1@3"  # repeated names get their row
    assert first.input_shapes == ((256, 64),) and first.output_shape == (256, 128)
    assert first.macs == 256 * 128 * 64 and first.params == 64 * 128
    assert second.describe() == "gemm M=1"


@pytest.mark.parametrize("text, row, message", [
    ("h\nConv1,28,28,1,1,256,256,1\n", 2, "the row does not end with a comma"),
    ("h\nConv1,28,28,1,1,256,256,\n", 2, "expected 7 values after the name for a convolution"),
    ("h\nConv1,28,28,3,3,16,x,1,\n", 2, "column 7 (NumFilter): expected a whole number >= 1, found 'x'"),
    ("h\nok,1,2,3,\nbad,28,28,3,3,0,8,1,\n", 3, "column 6 (Channels): expected a whole number >= 1"),
    ("h\n,28,28,3,3,16,8,1,\n", 2, "the layer name (column 1) is empty"),
    ("h\nc,5,5,7,7,16,8,1,\n", 2, "c: the filter height 7 is larger than the input height 5"),
    ("h\ng,3,5,16,3:4,\n", 2, "column 5: '3:4' is a sparsity ratio"),
    ("h\nc,28,28,3,3,16,8,1\n", 2, "does not end with a comma"),
    ("h\nc 28 28 3 3 16 8 1\n", 2, "expected comma-separated fields"),
    ("conv1,227,227,11,11,3,96,4,\n", 1, "expected a header line, found a layer row"),
    ("", 1, "expected a header line first"),
    ("h\n\n", 0, "no layer rows after the header"),
])
def test_malformed_topology_names_file_and_row(text, row, message):
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "net.csv")
    error = caught.value
    assert (error.file, error.row) == ("net.csv", row)
    where = f"net.csv:{row}" if row else "net.csv"
    assert str(error).startswith(f"{where}: error: ")
    assert message in str(error)


def test_unreadable_topology(tmp_path):
    with pytest.raises(TopologyError, match=r"missing\.csv: error: cannot read the topology file"):
        load_topology(tmp_path / "missing.csv")


# -- the command line ---------------------------------------------------------------------


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_net_list():
    result = _run("net", "--list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == network_names()
    assert "AlexNet, original grouped two-GPU form" in result.output


def test_cli_net_summary_prints_the_table_and_totals():
    result = _run("net", "summary", "alexnet")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    conv2 = next(line for line in lines if line.startswith("conv2 "))
    assert conv2.split() == ["conv2", "conv", "5x5", "g2", "96x27x27", "256x27x27", "307,456", "223,948,800"]
    total = next(line for line in lines if line.startswith("total "))
    assert total.split() == ["total", "60,965,224", "724,406,816"]
    assert "neurons     932,264" in result.output


def test_cli_net_summary_of_a_topology_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CONV_TOPOLOGY)
    result = _run("net", "summary", str(path))
    assert result.exit_code == 0, result.output
    assert "Conv1" in result.output and "96x55x55" in result.output


@pytest.mark.parametrize("args, message", [
    (("net", "summary", "alexnet2"), "error: unknown network 'alexnet2' (known: lenet5, alexnet,"),
    (("net", "summary", "nothing-here.csv"), "nothing-here.csv: error: cannot read the topology file"),
])
def test_cli_bad_names_exit_2_without_traceback(args, message):
    result = _run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_malformed_topology_exits_2_naming_file_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("h\nc,28,28,3,3,16,x,1,\n")
    result = _run("net", "summary", str(path))
    assert result.exit_code == 2
    assert f"{path}:2: error: column 7 (NumFilter)" in result.output


def test_cli_net_alone_prints_help():
    result = _run("net")
    assert result.exit_code == 0 and "summary" in result.output
