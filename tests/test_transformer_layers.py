"""The transformer layer kinds: shapes, MACs, parameters, bytes and vector work, by hand."""

from __future__ import annotations

import pytest

from dlpsim.errors import WorkloadError
from dlpsim.workloads import (
    Activation,
    ClassToken,
    Concat,
    Embedding,
    FullyConnected,
    LayerNorm,
    MatMul,
    PositionEmbedding,
    Reshape,
    Slice,
    Softmax,
    Transpose,
)


def test_attention_scores_per_head_side_by_side():
    # Q x K^T of 12 heads of 64 over 128 tokens: 12 products of 128x64 by 64x128
    scores = MatMul(name="qk", input_shapes=((128, 768), (128, 768)), heads=12, transpose_b=True)
    assert (scores.batch, scores.rows, scores.reduction, scores.columns) == (12, 128, 64, 128)
    assert scores.output_shape == (128, 12 * 128)
    assert scores.macs == 12 * 128 * 64 * 128
    assert scores.params == 0
    assert scores.input_bytes() == 2 * 128 * 768 * 4
    assert scores.output_bytes() == 128 * 1536 * 4
    # A x V: 12 products of 128x128 by 128x64, heads merged back to 768 features
    context = MatMul(name="av", input_shapes=((128, 1536), (128, 768)), heads=12)
    assert context.output_shape == (128, 768)
    assert context.macs == 12 * 128 * 128 * 64


def test_batched_matmul_with_leading_axes_and_a_shared_operand():
    batched = MatMul(input_shapes=((4, 3, 5), (4, 5, 2)))
    assert batched.output_shape == (4, 3, 2) and batched.macs == 4 * 3 * 5 * 2
    shared = MatMul(input_shapes=((2, 4, 3, 5), (5, 7)))
    assert shared.output_shape == (2, 4, 3, 7) and shared.macs == 2 * 4 * 3 * 5 * 7


@pytest.mark.parametrize("shapes, options, message", [
    (((3, 5), (4, 2)), {}, "has 5 columns per head but B 4x2 has 4 rows"),
    (((3, 5), (4, 5)), {"heads": 2}, "does not split into 2 heads"),
    (((2, 3, 5), (3, 5, 2)), {}, "batch axes"),
    (((3, 5), (5, 2), (2, 2)), {}, "multiplies two inputs"),
])
def test_matmul_refuses_operands_that_do_not_fit(shapes, options, message):
    with pytest.raises(WorkloadError, match=message):
        MatMul(name="m", input_shapes=shapes, **options)


def test_softmax_vector_work_per_element_and_per_row():
    # 12 heads x 128 keys for each of 128 queries: 1536 rows of 128
    softmax = Softmax(input_shape=(128, 1536), length=128, scaled=True, masked=True)
    count, rows, length = 128 * 1536, 128 * 12, 128
    # per element: minus the max (1 SUB), exp (4 SUB, 1 MUL, 1 ADD), by 1/sum (1 MUL),
    # scale (1 MUL), mask (1 ADD); per row: max (L-1 SUB), sum (L-1 ADD), 1/sum (1 DIV)
    assert softmax.vector_ops == {"SUB": count * 5 + rows * (length - 1),
                                  "ADD": count * 2 + rows * (length - 1),
                                  "MUL": count * 3, "DIV": rows}
    assert softmax.output_shape == (128, 1536) and softmax.params == 0
    plain = Softmax(input_shape=(10,))
    assert plain.vector_ops == {"SUB": 10 * 5 + 9, "ADD": 10 + 9, "MUL": 10 * 2, "DIV": 1}
    with pytest.raises(WorkloadError, match="runs of 7"):
        Softmax(input_shape=(4, 10), length=7)


def test_layer_norm_parameters_and_vector_work():
    norm = LayerNorm(input_shape=(128, 768))
    assert norm.params == 2 * 768 and norm.weights == 768 and norm.biases == 768
    count, rows = 128 * 768, 128
    # per element 1 SUB, 3 MUL, 3 ADD; per row 2 MUL + 1 ADD (epsilon) + 1/sqrt (4 SUB, 1 MUL,
    # 1 ADD) - 2 ADD (two sums of 768 values are 767 ADDs each)
    assert norm.vector_ops == {"SUB": count + 4 * rows, "MUL": 3 * count + 3 * rows,
                               "ADD": 3 * count + 0 * rows, "DIV": 0}


def test_gelu_is_a_piecewise_linear_activation():
    gelu = Activation(input_shape=(128, 3072), function="gelu")
    assert gelu.vector_ops == {"SUB": 4 * 128 * 3072, "MUL": 128 * 3072, "ADD": 128 * 3072, "DIV": 0}


def test_embedding_counts_the_table_but_reads_the_rows_looked_up():
    words = Embedding(input_shape=(128,), vocabulary=30522, dim=768)
    assert words.output_shape == (128, 768)
    assert words.params == 30522 * 768
    assert words.weight_bytes() == 128 * 768 * 4  # rows looked up, not the table
    assert words.input_bytes() == 128 * 4  # the ids
    assert words.macs == 0 and words.vector_ops == {"ADD": 0, "SUB": 0, "MUL": 0, "DIV": 0}


def test_position_embedding_adds_rows_of_its_table():
    positions = PositionEmbedding(input_shape=(128, 768), positions=512)
    assert positions.params == 512 * 768 and positions.weight_bytes() == 128 * 768 * 4
    assert positions.vector_ops["ADD"] == 128 * 768
    decoding = PositionEmbedding(input_shape=(1, 768), positions=1024, first_position=1023)
    assert decoding.weight_bytes() == 768 * 4
    with pytest.raises(WorkloadError, match="positions 1024 to 1024 do not fit a table of 1024"):
        PositionEmbedding(name="wpe", input_shape=(1, 768), positions=1024, first_position=1024)


def test_tied_fully_connected_reads_the_table_but_adds_no_parameters():
    head = FullyConnected(input_shape=(128, 768), out_features=50257, bias=False, tied="wte")
    assert head.params == 0 and head.macs == 128 * 768 * 50257
    assert head.weight_bytes() == 768 * 50257 * 4
    assert "tied to wte" in head.describe()


def test_views_and_slices_move_nothing_of_their_own():
    patches = Reshape(input_shape=(768, 14, 14), shape=(768, 196))
    assert patches.output_shape == (768, 196) and patches.macs == 0 and patches.params == 0
    tokens = Transpose(input_shape=(768, 196), permutation=(1, 0))
    assert tokens.output_shape == (196, 768)
    with_class = ClassToken(input_shape=(196, 768))
    assert with_class.output_shape == (197, 768) and with_class.params == 768
    first = Slice(input_shape=(197, 768), start=0, stop=1)
    assert first.output_shape == (1, 768) and first.input_bytes() == 768 * 4
    with pytest.raises(WorkloadError, match="cannot reshape"):
        Reshape(input_shape=(4, 4), shape=(3, 5))
    with pytest.raises(WorkloadError, match="permutation"):
        Transpose(input_shape=(4, 4), permutation=(0, 0))
    with pytest.raises(WorkloadError, match="beyond"):
        Slice(input_shape=(4, 4), start=0, stop=5)


def test_concat_along_tokens_appends_to_a_cache():
    cache = Concat(input_shapes=((128, 768), (1, 768)), concat_axis=0)
    assert cache.output_shape == (129, 768)
    assert Concat(input_shapes=((128, 768), (128, 64))).output_shape == (128, 832)
    with pytest.raises(WorkloadError, match="other sizes differ"):
        Concat(input_shapes=((128, 768), (1, 64)), concat_axis=0)


@pytest.mark.parametrize("layer", [
    LayerNorm(input_shape=(2, 4, 8, 16)),
    Softmax(input_shape=(2, 4, 8, 8)),
    MatMul(input_shapes=((2, 4, 8, 16), (2, 4, 16, 8))),  # batch x heads of 8x16 by 16x8
    MatMul(input_shapes=((2, 4, 8, 16), (16, 8))),  # one B for every product
    Activation(input_shape=(4, 8, 16), function="gelu"),
], ids=lambda layer: f"{layer.kind} {'x'.join(map(str, layer.input_shapes[0]))}")
def test_the_compiler_lowers_the_batched_shapes_of_exported_graphs(layer):
    from dlpsim.compiler import lower

    for batch in (1, 2):
        problem = lower(layer, batch)  # its own check: no MAC or byte lost or invented
        assert problem.macs == batch * layer.macs
