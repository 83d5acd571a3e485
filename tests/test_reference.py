"""The numpy references of dlpsim/workloads/reference.py, each on a case small enough to do by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
)
from dlpsim.workloads.reference import evaluate, input_shapes, parameter_shapes

GRID = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_convolution_slides_its_kernel():
    layer = Conv2d(input_shape=(1, 3, 3), out_channels=1, kernel=2, bias=True)
    # windows of ones: 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28; plus the bias 1
    out = evaluate(layer, (GRID,), {"weight": np.ones((1, 1, 2, 2)), "bias": np.array([1.0])})
    assert out.tolist() == [[[13, 17], [25, 29]]]


def test_convolution_pads_with_zeros_and_strides():
    # 3x3 kernel of ones, padding 1, stride 2: output floor((3 + 2 - 3) / 2) + 1 = 2 per axis; each
    # window holds one corner 2x2 block of the input (the rest is padding): 12, 16, 24, 28
    layer = Conv2d(input_shape=(1, 3, 3), out_channels=1, kernel=3, stride=2, padding=1, bias=False)
    assert evaluate(layer, (GRID,), {"weight": np.ones((1, 1, 3, 3))}).tolist() == [[[12, 16], [24, 28]]]


def test_convolution_sums_over_input_channels_and_groups_keep_them_apart():
    x = np.array([[[1, 2]], [[3, 4]]], dtype=np.float32)  # 2 channels of 1x2
    mixed = Conv2d(input_shape=(2, 1, 2), out_channels=1, kernel=1, bias=False)
    # out = 1 * channel 0 + 10 * channel 1 = [31, 42]
    assert evaluate(mixed, (x,), {"weight": np.array([[[[1]], [[10]]]])}).tolist() == [[[31, 42]]]
    grouped = Conv2d(input_shape=(2, 1, 2), out_channels=2, kernel=1, groups=2, bias=False)
    assert parameter_shapes(grouped) == {"weight": (2, 1, 1, 1)}
    # group 0: 2 * channel 0; group 1: 3 * channel 1
    assert evaluate(grouped, (x,), {"weight": np.array([[[[2]]], [[[3]]]])}).tolist() == [[[2, 4]], [[9, 12]]]


def test_fully_connected_is_x_times_w_plus_b():
    w = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    layer = FullyConnected(input_shape=(2,), out_features=3)
    # [1, 2] . W = [1 + 8, 2 + 10, 3 + 12] = [9, 12, 15]; plus 1
    assert evaluate(layer, (np.array([1, 2]),), {"weight": w, "bias": np.ones(3)}).tolist() == [10, 13, 16]
    batch = FullyConnected(input_shape=(2, 2), out_features=3, bias=False)
    # rows [1, 2] and [0, 1]: [9, 12, 15] and row 1 of W
    assert evaluate(batch, (np.array([[1, 2], [0, 1]]),), {"weight": w}).tolist() == [[9, 12, 15], [4, 5, 6]]
    flattened = FullyConnected(input_shape=(2, 1, 1), out_features=3, bias=False)
    assert evaluate(flattened, (np.array([[[1]], [[2]]]),), {"weight": w}).tolist() == [9, 12, 15]


def test_max_and_average_pooling():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)  # rows 0-3, 4-7, 8-11, 12-15
    assert (evaluate(Pool(input_shape=(1, 4, 4), mode="max", kernel=2), (x,), {}).tolist()
            == [[[5, 7], [13, 15]]])
    # (0 + 1 + 4 + 5) / 4 = 2.5, (2 + 3 + 6 + 7) / 4 = 4.5, ...
    assert (evaluate(Pool(input_shape=(1, 4, 4), mode="avg", kernel=2), (x,), {}).tolist()
            == [[[2.5, 4.5], [10.5, 12.5]]])


def test_pooling_padding_counts_in_the_average_but_never_wins_the_max():
    x = np.array([[[-1, -2], [-3, -4]]], dtype=np.float32)
    # kernel 2, stride 2, padding 1: output 2x2, each window one input element and three padding
    assert evaluate(Pool(input_shape=(1, 2, 2), mode="max", kernel=2, padding=1), (x,), {}).tolist() == \
        [[[-1, -2], [-3, -4]]]
    assert evaluate(Pool(input_shape=(1, 2, 2), mode="avg", kernel=2, padding=1), (x,), {}).tolist() == \
        [[[-0.25, -0.5], [-0.75, -1]]]


def test_ceil_mode_windows_reach_past_the_input():
    # 3x3, kernel 2, stride 2, ceil: output ceil((3 - 2) / 2) + 1 = 2; the last window holds only 9
    layer = Pool(input_shape=(1, 3, 3), mode="max", kernel=2, ceil_mode=True)
    assert evaluate(layer, (GRID,), {}).tolist() == [[[5, 6], [8, 9]]]
    average = Pool(input_shape=(1, 3, 3), mode="avg", kernel=2, ceil_mode=True)
    # (1 + 2 + 4 + 5) / 4 = 3, (3 + 6) / 4, (7 + 8) / 4, 9 / 4
    assert evaluate(average, (GRID,), {}).tolist() == [[[3, 2.25], [3.75, 2.25]]]


@pytest.mark.parametrize("function, expected", [
    ("relu", [0, 0, 0, 3, 7]),
    ("relu6", [0, 0, 0, 3, 6]),
    ("leaky_relu", [-0.02, -0.005, 0, 3, 7]),
])
def test_piecewise_activations(function, expected):
    layer = Activation(input_shape=(5,), function=function)
    np.testing.assert_allclose(evaluate(layer, (np.array([-2, -0.5, 0, 3, 7]),), {}), expected, rtol=1e-12)


def test_sigmoid_and_tanh():
    # at ln 3: sigmoid = 1 / (1 + 1/3) = 0.75, tanh = (9 - 1) / (9 + 1) = 0.8; at 0: 0.5 and 0
    x = np.array([0, math.log(3), -1000])
    np.testing.assert_allclose(evaluate(Activation(input_shape=(3,), function="sigmoid"), (x,), {}),
                               [0.5, 0.75, 0], atol=1e-12)
    np.testing.assert_allclose(evaluate(Activation(input_shape=(3,), function="tanh"), (x,), {}),
                               [0, 0.8, -1], atol=1e-12)


def test_batch_norm_scales_and_shifts_each_channel():
    feature_map = BatchNorm(input_shape=(2, 1, 2))
    x = np.array([[[1, 2]], [[3, 4]]])
    # channel 0: 2x + 1 -> [3, 5]; channel 1: 10x - 1 -> [29, 39]
    assert evaluate(feature_map, (x,), {"scale": np.array([2, 10]), "shift": np.array([1, -1])}).tolist() == \
        [[[3, 5]], [[29, 39]]]
    batch = BatchNorm(input_shape=(2, 2))  # channels last
    assert evaluate(batch, (np.array([[1, 2], [3, 4]]),), {"scale": np.array([2, 10]),
                                                          "shift": np.array([1, -1])}).tolist() == \
        [[3, 19], [7, 39]]


def test_add_and_concat():
    a, b, c = np.array([1, 2]), np.array([10, 20]), np.array([100, 200])
    assert evaluate(Add(input_shapes=((2,), (2,), (2,))), (a, b, c), {}).tolist() == [111, 222]
    maps = Concat(input_shapes=((1, 1, 2), (2, 1, 2)))
    joined = evaluate(maps, (np.array([[[1, 2]]]), np.array([[[3, 4]], [[5, 6]]])), {})
    assert joined.tolist() == [[[1, 2]], [[3, 4]], [[5, 6]]]  # along channels
    rows = Concat(input_shapes=((2, 2), (2, 1)))
    assert evaluate(rows, (np.array([[1, 2], [3, 4]]), np.array([[5], [6]])), {}).tolist() == \
        [[1, 2, 5], [3, 4, 6]]  # along features


def test_lstm_cell_gates_in_order_i_f_g_o():
    # input 1, hidden 1; x = 1, h = 2. Gate rows i, f, g, o:
    #   i: bias 0          -> sigmoid 0.5
    #   f: bias -ln 3      -> sigmoid 1 / (1 + 3) = 0.25
    #   g: W = [ln 3 - 2, 1], so (ln 3 - 2) * 1 + 1 * 2 = ln 3 -> tanh 0.8
    #   o: bias ln 3       -> sigmoid 0.75
    # c = 0.25 c_prev + 0.5 * 0.8; with c_prev = 2 ln 3 - 1.6, c = ln 3 / 2, tanh(c) = (3 - 1) / (3 + 1) = 0.5
    # h = 0.75 * 0.5 = 0.375
    layer = LSTMCell(input_shape=(1,), hidden_size=1)
    assert input_shapes(layer) == ((1,), (1,), (1,))
    ln3 = math.log(3)
    weight = np.array([[0, 0], [0, 0], [ln3 - 2, 1], [0, 0]])
    bias = np.array([0, -ln3, 0, ln3])
    h, c = evaluate(layer, (np.array([1.0]), np.array([2.0]), np.array([2 * ln3 - 1.6])),
                    {"weight": weight, "bias": bias})
    np.testing.assert_allclose(c, [ln3 / 2], rtol=1e-12)
    np.testing.assert_allclose(h, [0.375], rtol=1e-12)


def test_wrong_shapes_and_parameters_are_refused_by_name():
    layer = FullyConnected(input_shape=(2,), out_features=3, name="fc1")
    with pytest.raises(WorkloadError, match=r"fc1: the weight must have the shape \(2, 3\), got \(3, 2\)"):
        evaluate(layer, (np.ones(2),), {"weight": np.ones((3, 2)), "bias": np.ones(3)})
    with pytest.raises(WorkloadError, match=r"fc1: takes the parameters \['bias', 'weight'\], "
                                            r"got \['weight'\]"):
        evaluate(layer, (np.ones(2),), {"weight": np.ones((2, 3))})
    with pytest.raises(WorkloadError, match="fc1: takes 1 input, got 2"):
        evaluate(layer, (np.ones(2), np.ones(2)), {"weight": np.ones((2, 3)), "bias": np.ones(3)})


def test_every_layer_kind_has_a_reference():
    from dlpsim.workloads.layers import LAYER_TYPES

    layers = [Conv2d(input_shape=(2, 4, 4), out_channels=2, kernel=3, padding=1, groups=2),
              FullyConnected(input_shape=(3,), out_features=2),
              Pool(input_shape=(1, 4, 4), mode="max", kernel=2),
              Activation(input_shape=(3,)), BatchNorm(input_shape=(3,)), Add(input_shapes=((3,), (3,))),
              Concat(input_shapes=((3,), (2,))), LSTMCell(input_shape=(3,), hidden_size=2),
              MatMul(input_shapes=((3, 4), (3, 4)), heads=2, transpose_b=True),
              Softmax(input_shape=(3, 6), length=3, masked=True), LayerNorm(input_shape=(3, 4)),
              PositionEmbedding(input_shape=(3, 4), positions=5), ClassToken(input_shape=(3, 4)),
              Slice(input_shape=(3, 4), start=1, stop=3), Reshape(input_shape=(3, 4), shape=(2, 6)),
              Transpose(input_shape=(3, 4), permutation=(1, 0)),
              Elementwise(operation="mul", input_shapes=((2, 3),), constant_shape=(3,)),
              LocalResponseNorm(input_shape=(4, 2, 2), size=3),
              Recurrent(input_shape=(3, 2), cell="gru", hidden_size=2, direction="bidirectional")]
    assert {type(layer) for layer in layers} | {Embedding} == set(LAYER_TYPES)  # ids: see below
    rng = np.random.default_rng(0)
    for layer in layers:
        inputs = tuple(rng.standard_normal(shape) for shape in input_shapes(layer))
        parameters = {name: rng.standard_normal(shape) for name, shape in parameter_shapes(layer).items()}
        out = evaluate(layer, inputs, parameters)
        first = out[0] if isinstance(layer, LSTMCell) else out
        assert first.shape == layer.output_shape and np.isfinite(first).all()


# -- the transformer layers ----------------------------------------------------------------


def test_matmul_multiplies_head_by_head():
    # two heads side by side: A = [[1, 2 | 3, 4]], B = [[1, 0 | 0, 1], [0, 1 | 1, 0]] (2 x (2 + 2))
    a = np.array([[1.0, 2, 3, 4]])
    b = np.array([[1.0, 0, 0, 1], [0, 1, 1, 0]])
    layer = MatMul(input_shapes=((1, 4), (2, 4)), heads=2)
    # head 0: [1, 2] x [[1, 0], [0, 1]] = [1, 2]; head 1: [3, 4] x [[0, 1], [1, 0]] = [4, 3]
    assert evaluate(layer, (a, b), {}).tolist() == [[1, 2, 4, 3]]
    # transposed: B's rows are the keys; head 0: [1, 2] . [1, 0] and [0, 1]: [1, 2]; head 1:
    # [3, 4] . [0, 1] = 4 and [1, 0] = 3
    keys = MatMul(input_shapes=((1, 4), (2, 4)), heads=2, transpose_b=True)
    assert evaluate(keys, (a, b), {}).tolist() == [[1, 2, 4, 3]]
    batched = MatMul(input_shapes=((2, 1, 2), (2, 2, 1)))
    assert evaluate(batched, (np.array([[[1.0, 2]], [[3, 4]]]), np.array([[[1.0], [1]], [[2], [0]]])),
                    {}).tolist() == [[[3]], [[6]]]


def test_softmax_per_run_scaled_and_causally_masked():
    x = np.log(np.array([[1.0, 3, 2, 2]]))  # two runs of 2: exp gives [1, 3] and [2, 2]
    out = evaluate(Softmax(input_shape=(1, 4), length=2), (x,), {})
    assert np.allclose(out, [[0.25, 0.75, 0.5, 0.5]])
    halved = evaluate(Softmax(input_shape=(1, 2), scaled=True, scale=0.5), (np.log([[1.0, 9]]),), {})
    assert np.allclose(halved, [[0.25, 0.75]])  # exp(0.5 log 9) = 3
    # two queries over two keys: the first sees only itself
    masked = evaluate(Softmax(input_shape=(2, 2), masked=True), (np.zeros((2, 2)),), {})
    assert np.allclose(masked, [[1, 0], [0.5, 0.5]])


def test_layer_norm_normalizes_each_row():
    layer = LayerNorm(input_shape=(1, 4), epsilon=1e-12)
    # mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
    out = evaluate(layer, (np.array([[1.0, 2, 3, 4]]),), {"scale": np.full(4, 2.0), "shift": np.ones(4)})
    expected = (np.array([1.0, 2, 3, 4]) - 2.5) / math.sqrt(1.25) * 2 + 1
    assert np.allclose(out, [expected])


def test_gelu_is_x_times_the_normal_cdf():
    out = evaluate(Activation(input_shape=(3,), function="gelu"), (np.array([0.0, 1, -1]),), {})
    assert np.allclose(out, [0, 0.8413447460685429, -0.15865525393145707])


def test_embeddings_and_the_class_token():
    table = np.arange(12, dtype=np.float64).reshape(4, 3)
    words = Embedding(name="wte", input_shape=(2,), vocabulary=4, dim=3)
    assert evaluate(words, (np.array([3, 0]),), {"table": table}).tolist() == [[9, 10, 11], [0, 1, 2]]
    with pytest.raises(WorkloadError, match="wte: the ids must be whole numbers from 0 to 3"):
        evaluate(words, (np.array([4, 0]),), {"table": table})
    positions = PositionEmbedding(input_shape=(1, 3), positions=4, first_position=2)
    assert evaluate(positions, (np.ones((1, 3)),), {"table": table}).tolist() == [[7, 8, 9]]
    cls = ClassToken(input_shape=(1, 3))
    assert evaluate(cls, (np.ones((1, 3)),), {"token": np.zeros(3)}).tolist() == [[0, 0, 0], [1, 1, 1]]


def test_views_select_and_rearrange():
    x = np.arange(6.0).reshape(2, 3)
    assert evaluate(Slice(input_shape=(2, 3), start=1, stop=2), (x,), {}).tolist() == [[3, 4, 5]]
    assert evaluate(Reshape(input_shape=(2, 3), shape=(3, 2)), (x,), {}).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert evaluate(Transpose(input_shape=(2, 3), permutation=(1, 0)), (x,), {}).tolist() == [
        [0, 3], [1, 4], [2, 5]]
