"""Functional semantics of issue 12's compute forms: each compared with a value worked out by
hand or with a direct loop written here (never dlpsim's own output).

A window MAC is checked against a plain six-deep loop over output positions, groups, output
channels and the kernel window, reading zeros where the window leaves the input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlpsim.asm import assemble
from dlpsim.cli import main
from dlpsim.data.functional import FunctionalLimits, FunctionalProgram, Memories
from dlpsim.data.functional.execute import erfc
from dlpsim.machine import load_machine

DLP_S = load_machine("dlp-s")
F32, F16 = np.float32, np.float16
A_AT, B_AT, C_AT = 0x0, 0x0, 0x10000  # A in NRAM, B in WRAM, C in NRAM


DEFAULT_LIMITS = FunctionalLimits()


def run(text: str, a: np.ndarray, b: np.ndarray | None = None, c: np.ndarray | None = None,
        limits: FunctionalLimits = DEFAULT_LIMITS) -> Memories:
    """One compute on NRAM[A_AT] (and WRAM[B_AT]), C at NRAM[C_AT] (holding ``c`` first)."""
    accepted = FunctionalProgram.prepare(assemble(text, "t.asm"), DLP_S, limits=limits)
    memories = Memories(DLP_S)
    memories.nram[0].write(A_AT, a)
    if b is not None:
        memories.wram[0].write(B_AT, b)
    if c is not None:
        memories.nram[0].write(C_AT, c)
    accepted.execute(memories)
    return memories


def result(memories: Memories, count: int, dtype=F32) -> np.ndarray:
    return memories.nram[0].read(C_AT, count * np.dtype(dtype).itemsize).view(dtype).copy()


# -- window MACs against a direct loop ------------------------------------------------------------

def convolution_loop(x, w, height, width, channels, kernel, stride, pad, dilation, groups, n):
    """The tile as a textbook loop: x is IH x IW x (G*IC) (HWC), w is G x (KH*KW*IC) x N with the
    reduction index (i*KW + j)*IC + c; returns OH x OW x G x N, in float64."""
    (kh, kw), (sh, sw), (top, bottom, left, right), (dh, dw) = kernel, stride, pad, dilation
    oh = (height + top + bottom - (dh * (kh - 1) + 1)) // sh + 1
    ow = (width + left + right - (dw * (kw - 1) + 1)) // sw + 1
    out = np.zeros((oh, ow, groups, n))
    for y in range(oh):
        for z in range(ow):
            for g in range(groups):
                for o in range(n):
                    total = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            row, column = y * sh + i * dh - top, z * sw + j * dw - left
                            if not (0 <= row < height and 0 <= column < width):
                                continue  # padding reads zeros
                            for c in range(channels):
                                total += float(x[row, column, g * channels + c]) * float(
                                    w[g, (i * kw + j) * channels + c, o])
                    out[y, z, g, o] = total
    return out


CONVOLUTIONS = {  # name: (IH, IW, IC, kernel, stride, pad, dilation, groups, N)
    "stride 2, padding 1": (7, 7, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, 4),
    "asymmetric padding, 2x3 kernel": (5, 6, 2, (2, 3), (1, 2), (0, 1, 2, 0), (1, 1), 1, 3),
    "dilation 2": (7, 6, 2, (3, 2), (1, 1), (1, 1, 0, 0), (2, 2), 1, 5),
    "groups 2": (5, 5, 3, (3, 3), (2, 1), (1, 1, 1, 1), (1, 1), 2, 4),
    "depthwise, 4 groups of 1": (6, 6, 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4, 1),
}


def window_text(kind: str, shape, config) -> str:
    height, width, channels, kernel, stride, pad, dilation, groups, _ = config
    return (f"compute {kind} {'x'.join(map(str, shape))} NRAM[{A_AT:#x}], WRAM[{B_AT:#x}] -> NRAM[{C_AT:#x}] "
            f"window {height}x{width}x{channels} kernel {kernel[0]}x{kernel[1]} "
            f"stride {stride[0]}x{stride[1]} pad {','.join(map(str, pad))} "
            f"dilation {dilation[0]}x{dilation[1]} groups {groups}")


def convolution_case(config, seed: int = 0):
    height, width, channels, kernel, stride, pad, dilation, groups, n = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((height, width, groups * channels)).astype(F32)
    w = rng.standard_normal((groups, kernel[0] * kernel[1] * channels, n)).astype(F32)
    expected = convolution_loop(x, w, height, width, channels, kernel, stride, pad, dilation, groups, n)
    oh, ow = expected.shape[:2]
    shape = (groups * oh * ow, kernel[0] * kernel[1] * channels, n)
    return x, w, expected, shape


@pytest.mark.parametrize("name", CONVOLUTIONS)
def test_a_window_mac_is_the_convolution_of_the_direct_loop(name):
    config = CONVOLUTIONS[name]
    x, w, expected, shape = convolution_case(config)
    memories = run(window_text("MAC_32", shape, config), x, w)
    found = result(memories, expected.size).reshape(expected.shape)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk_bytes", [1, 700, 2500])
def test_chunks_of_output_positions_give_the_same_result(chunk_bytes):
    # "groups 2": OH = 3, OW = 5, each position's windows G x K x 4 = 2 x 27 x 4 = 216 B. 1 B
    # gathers one position at a time, 700 B three (a row in two parts), 2500 B eleven, so two
    # whole rows of 5.
    config = CONVOLUTIONS["groups 2"]
    x, w, expected, shape = convolution_case(config, seed=1)
    text = window_text("MAC_32", shape, config)
    chunked = result(run(text, x, w, limits=FunctionalLimits(im2col_chunk_bytes=chunk_bytes)), expected.size)
    whole = result(run(text, x, w), expected.size)
    np.testing.assert_allclose(chunked, expected.reshape(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)
    # a reduction too: 3x3 max pooling, stride 1, padding 1 over 5x5x2, one position at a time
    slab = np.random.default_rng(4).standard_normal((5, 5, 2)).astype(F32)
    pool = "compute MAX_32 400 NRAM[0x0] -> NRAM[0x10000] window 5x5x2 kernel 3x3 pad 1,1,1,1"
    chunked = result(run(pool, slab, limits=FunctionalLimits(im2col_chunk_bytes=chunk_bytes)), 50)
    padded = np.pad(slab, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    expected = np.array([[padded[y:y + 3, z:z + 3].max(axis=(0, 1)) for z in range(5)] for y in range(5)])
    assert chunked.tolist() == expected.reshape(-1).tolist()


def test_padding_far_larger_than_the_input_costs_nothing():
    # 1x1 input, padding 10^9 on every side, a 2x2 kernel with stride 10^9: OH = OW =
    # floor((1 + 2e9 - 2) / 1e9) + 1 = 2; only window (1, 1) (rows and columns 1e9 .. 1e9 + 1
    # of the padded input) reaches x, at its top left. A padded slab would be 4e18 elements.
    big = 10**9
    text = (f"compute MAC_32 4x4x1 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000] window 1x1x1 kernel 2x2 "
            f"stride {big}x{big} pad {big},{big},{big},{big}")
    found = result(run(text, np.array([3], F32), np.array([[1], [2], [4], [8]], F32)), 4)
    assert found.tolist() == [0, 0, 0, 3 * 1]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 3), st.tuples(*[st.integers(0, 2)] * 4), st.integers(1, 2),
       st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 64))
def test_any_small_window_mac_is_the_direct_loop(height, width, channels, kh, kw, sh, sw, pad, dh, dw,
                                                 groups, n, chunk_bytes):
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    # with no output position the assembler refuses the window (see test_compute_forms.py)
    assume(height + pad[0] + pad[1] >= spans[0] and width + pad[2] + pad[3] >= spans[1])
    config = (height, width, channels, (kh, kw), (sh, sw), pad, (dh, dw), groups, n)
    x, w, expected, shape = convolution_case(config, seed=height * 7 + width)
    limits = FunctionalLimits(im2col_chunk_bytes=chunk_bytes)
    found = result(run(window_text("MAC_32", shape, config), x, w, limits=limits), expected.size)
    np.testing.assert_allclose(found, expected.reshape(-1), rtol=1e-5, atol=1e-5)


def test_a_one_by_one_window_is_the_plain_gemm_and_accumulates():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 5)).astype(F32), rng.standard_normal((5, 2)).astype(F32)
    start = np.ones((12, 2), F32)
    text = ("compute MAC_32 12x5x2 NRAM[0x0], WRAM[0x0] +> NRAM[0x10000] window 3x4x5 kernel 1x1")
    found = result(run(text, x, w, start), 24).reshape(12, 2)
    np.testing.assert_allclose(found, 1 + x.reshape(12, 5).astype(float) @ w, rtol=1e-5)


def test_a_window_mac_16_reads_half_and_rounds_once():
    # x all 1, w all 0.1 (in half: 0.0999755859375), 2x2 kernel over 2x2x1, no padding: one
    # output, the sum of 4 products: 4 x 0.0999755859375 = 0.39990234375, exact in half
    x, w = np.ones((2, 2, 1), F16), np.full((4, 1), 0.1, F16)
    text = "compute MAC_16 1x4x1 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000] window 2x2x1 kernel 2x2"
    assert result(run(text, x, w), 1, F16).tolist() == [4 * float(F16(0.1))]


# -- window reductions -------------------------------------------------------------------------

def test_max_and_add_windows_by_hand():
    x = np.arange(1, 10, dtype=F32).reshape(3, 3, 1)  # 1 2 3 / 4 5 6 / 7 8 9
    # 2x2 windows, stride 1: max 5 6 / 8 9; sums 1+2+4+5 = 12, 16 / 24, 28; n = 2 x 2 x 1 x 3
    pool = "NRAM[0x0] -> NRAM[0x10000] window 3x3x1 kernel 2x2"
    assert result(run(f"compute MAX_32 12 {pool}", x), 4).tolist() == [5, 6, 8, 9]
    assert result(run(f"compute ADD_32 12 {pool}", x), 4).tolist() == [12, 16, 24, 28]


def test_max_ignores_padding_and_add_counts_it_as_zero():
    # -1 ... -9, padded by 1 everywhere, 2x2 windows, stride 2: OH = OW = (3 + 2 - 2) // 2 + 1 = 2.
    # Window (0, 0) covers padding and x[0, 0] = -1 only: max -1 (never the padding's 0); (0, 1)
    # covers x[0, 1..2] = -2, -3: max -2; (1, 0): x[1..2, 0] = -4, -7: -4; (1, 1): -5 -6 -8 -9: -5.
    x = -np.arange(1, 10, dtype=F32).reshape(3, 3, 1)
    pool = "NRAM[0x0] -> NRAM[0x10000] window 3x3x1 kernel 2x2 stride 2x2 pad 1,1,1,1"
    assert result(run(f"compute MAX_32 12 {pool}", x), 4).tolist() == [-1, -2, -4, -5]
    # the sums of the same windows, padding adding nothing: -1, -5, -11, -28
    assert result(run(f"compute ADD_32 12 {pool}", x), 4).tolist() == [-1, -5, -11, -28]


def test_a_reduction_keeps_channels_apart():
    # two channels: channel 1 is channel 0 x 10; a 2x2 max over a 2x2 input: one position
    x = np.stack([np.array([[1, 4], [3, 2]], F32), np.array([[10, 40], [30, 20]], F32)], axis=-1)
    text = "compute MAX_32 6 NRAM[0x0] -> NRAM[0x10000] window 2x2x2 kernel 2x2"
    assert result(run(text, x), 2).tolist() == [4, 40]


def test_a_reduction_accumulates_and_runs_at_half():
    # C += the window sums: 2x2 sums of 1..9 (12, 16, 24, 28) added to C = 100 each; at half,
    # the same values (exact in half), rounded once
    x = np.arange(1, 10, dtype=F32).reshape(3, 3, 1)
    pool = "NRAM[0x0] +> NRAM[0x10000] window 3x3x1 kernel 2x2"
    found = result(run(f"compute ADD_32 12 {pool}", x, c=np.full(4, 100, F32)), 4)
    assert found.tolist() == [112, 116, 124, 128]
    found = result(run(f"compute ADD_16 12 {pool}", x.astype(F16), c=np.full(4, 100, F16)), 4, F16)
    assert found.tolist() == [112, 116, 124, 128]


# -- broadcast and immediate B -------------------------------------------------------------------

def test_a_broadcast_b_repeats_every_l_elements():
    # C[i] = A[i] + B[i mod 3] over an HWC tile of 2 positions x 3 channels
    a = np.arange(6, dtype=F32)
    bias = np.array([100, 200, 300], F32)
    text = "compute ADD_32 6 NRAM[0x0], WRAM[0x0:0xc] -> NRAM[0x10000]"
    assert result(run(text, a, bias), 6).tolist() == [100, 201, 302, 103, 204, 305]


@pytest.mark.parametrize("text, a, expected", [
    ("MAX_32 4 NRAM[0x0], %0 -> NRAM[0x10000]", [-2, -0.5, 0, 3], [0, 0, 0, 3]),  # ReLU
    ("MIN_32 4 NRAM[0x0], %6 -> NRAM[0x10000]", [-2, 5, 6, 7], [-2, 5, 6, 6]),  # ReLU6's upper bound
    ("MUL_32 4 NRAM[0x0], %0.5 -> NRAM[0x10000]", [1, 2, 3, 4], [0.5, 1, 1.5, 2]),
    ("SUB_32 4 NRAM[0x0], %-6.5e-1 -> NRAM[0x10000]", [0, 1, 2, 3],
     [F32(0.65), F32(1.65), F32(2.65), F32(3.65)]),
])
def test_an_immediate_is_read_by_every_element(text, a, expected):
    assert result(run(f"compute {text}", np.array(a, F32)), 4).tolist() == np.array(expected, F32).tolist()


def test_an_immediate_is_rounded_to_the_types_precision():
    # MIN_16 with 0.1: the immediate becomes half's 0.0999755859375, so 0.1 itself (rounded to
    # the same half) is not above it, and 1 is clipped to it
    a = np.array([1, 0.05, 0.1, -3], F16)
    found = result(run("compute MIN_16 4 NRAM[0x0], %0.1 -> NRAM[0x10000]", a), 4, F16)
    assert found.tolist() == [float(F16(0.1)), float(F16(0.05)), float(F16(0.1)), -3.0]


def test_max_and_min_of_two_operands():
    a, b = np.array([1, 5, -2, 0], F32), np.array([3, 4, -1, -0.5], F32)
    assert result(run("compute MAX_32 4 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]", a, b), 4).tolist() == \
        [3, 5, -1, 0]
    assert result(run("compute MIN_32 4 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]", a, b), 4).tolist() == \
        [1, 4, -2, -0.5]


# -- the function types --------------------------------------------------------------------------

FUNCTIONS = {
    "EXP": math.exp,
    "TANH": math.tanh,
    "SIGMOID": lambda x: 1 / (1 + math.exp(-x)),
    # 0.5 x (1 + erf(x / sqrt 2)), written with erfc: 1 + erf cancels in float64 itself below -5
    "GELU": lambda x: 0.5 * x * math.erfc(-x / math.sqrt(2)),
    "RSQRT": lambda x: 1 / math.sqrt(x),
}


@pytest.mark.parametrize("operation", FUNCTIONS)
def test_each_function_type_is_its_function_in_float32(operation):
    values = np.linspace(0.05, 8, 50) if operation == "RSQRT" else np.linspace(-8, 8, 50)
    a = values.astype(F32)
    found = result(run(f"compute {operation}_32 50 NRAM[0x0] -> NRAM[0x10000]", a), 50)
    expected = np.array([FUNCTIONS[operation](float(x)) for x in a])
    np.testing.assert_allclose(found, expected, rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("operation", FUNCTIONS)
def test_each_function_type_at_half_rounds_the_float32_value_once(operation):
    a = np.array([0.25, 0.5, 1, 2], F16)
    found = result(run(f"compute {operation}_16 4 NRAM[0x0] -> NRAM[0x10000]", a), 4, F16)
    expected = np.array([FUNCTIONS[operation](float(x)) for x in a], F16)
    assert found.tolist() == expected.tolist()


def test_the_function_types_accumulate_and_follow_ieee():
    # +>: C = C + tanh(A); RSQRT(0) = inf, RSQRT(-1) = NaN, EXP(100) overflows float32 to inf
    found = result(run("compute TANH_32 2 NRAM[0x0] +> NRAM[0x10000]", np.array([0, 0], F32),
                       c=np.array([1, 2], F32)), 2)
    assert found.tolist() == [1, 2]
    found = result(run("compute RSQRT_32 2 NRAM[0x0] -> NRAM[0x10000]", np.array([0, -1], F32)), 2)
    assert found[0] == np.inf and np.isnan(found[1])
    assert result(run("compute EXP_32 1 NRAM[0x0] -> NRAM[0x10000]", np.array([100], F32)), 1)[0] == np.inf


def test_gelu_and_sigmoid_keep_tiny_values_precise():
    # far in the negative tail, where 1 + erf or 1 + tanh would cancel to 0 in float32
    a = np.array([-9, -12], F32)
    gelu = result(run("compute GELU_32 2 NRAM[0x0] -> NRAM[0x10000]", a), 2)
    np.testing.assert_allclose(gelu, [0.5 * x * math.erfc(-x / math.sqrt(2)) for x in (-9.0, -12.0)],
                               rtol=1e-6)
    sigmoid = result(run("compute SIGMOID_32 2 NRAM[0x0] -> NRAM[0x10000]", a), 2)
    np.testing.assert_allclose(sigmoid, [math.exp(x) / (1 + math.exp(x)) for x in (-9.0, -12.0)], rtol=1e-6)


def test_erfc_is_accurate_to_float32_relative_to_its_value():
    xs = np.linspace(-10, 10, 4001)
    expected = np.array([math.erfc(x) for x in xs])
    assert np.max(np.abs(erfc(xs) / expected - 1)) < 1.2e-7


# -- through the command line ----------------------------------------------------------------------

def test_a_program_of_new_forms_runs_functionally_from_the_command_line(tmp_path, monkeypatch):
    # y = relu(conv(x) + bias) then 2x2 max pooling: 4x4x2 input, 3x3 kernel, pad 1: 4x4x3
    # outputs, then 2x2x3 pooled. Checked against the direct loop and numpy.
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 4, 2)).astype(F32)
    w = rng.standard_normal((1, 18, 3)).astype(F32)
    bias = rng.standard_normal(3).astype(F32)
    np.save("x.npy", x)
    np.save("w.npy", w)
    np.save("bias.npy", bias)
    program = """\
move DRAM[0x0] NRAM[0x0] 128
move DRAM[0x1000] WRAM[0x0] 216
move DRAM[0x2000] WRAM[0x1000] 12
sync
compute MAC_32 16x18x3 NRAM[0x0], WRAM[0x0] -> NRAM[0x1000] window 4x4x2 kernel 3x3 pad 1,1,1,1
sync
compute ADD_32 48 NRAM[0x1000], WRAM[0x1000:0x100c] -> NRAM[0x1000]
sync
compute MAX_32 48 NRAM[0x1000], %0 -> NRAM[0x1000]
sync
compute MAX_32 36 NRAM[0x1000] -> NRAM[0x2000] window 4x4x3 kernel 2x2 stride 2x2
sync
move NRAM[0x2000] DRAM[0x3000] 48
sync
"""
    (tmp_path / "p.asm").write_text(program)
    outcome = CliRunner().invoke(main, ["run", "p.asm", "--load", "DRAM[0x0]=x.npy", "--load",
                                        "DRAM[0x1000]=w.npy", "--load", "DRAM[0x2000]=bias.npy",
                                        "--dump", "DRAM[0x3000]:2x2x3:float32=y.npy"])
    assert outcome.exit_code == 0, outcome.output
    conv = convolution_loop(x, w, 4, 4, 2, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, 3).reshape(4, 4, 3)
    activated = np.maximum(conv + bias, 0)
    expected = activated.reshape(2, 2, 2, 2, 3).max(axis=(1, 3))
    np.testing.assert_allclose(np.load("y.npy"), expected, rtol=1e-5, atol=1e-6)


# -- the rows clause ------------------------------------------------------------------------------

def test_row_reductions_by_hand():
    # 2 rows of 4: row 0 = 1, -2, 3, 0.5; row 1 = -1, -7, -3, -0.25
    a = np.array([1, -2, 3, 0.5, -1, -7, -3, -0.25], F32)
    for operation, expected in (("MAX", [3, -0.25]), ("MIN", [-2, -7]), ("ADD", [2.5, -11.25])):
        memories = run(f"compute {operation}_32 6 NRAM[0x0] -> NRAM[{C_AT:#x}] rows 2x4", a)
        assert result(memories, 2).tolist() == expected, operation


def test_a_row_reduction_accumulates_and_runs_at_half():
    a = np.array([1, 2, 3, 4, 5, 6], F16)  # 2 rows of 3: sums 6 and 15
    memories = run(f"compute ADD_16 4 NRAM[0x0] +> NRAM[{C_AT:#x}] rows 2x3", a, c=np.array([0.5, -1], F16))
    assert result(memories, 2, F16).tolist() == [6.5, 14]


def test_a_per_row_broadcast_reads_one_b_per_row():
    # 3 rows of 2; B = 10, 20, 30: element (r, j) reads B[r] (not B[i mod 3])
    a = np.array([1, 2, 3, 4, 5, 6], F32)
    b = np.array([10, 20, 30], F32)
    memories = run(f"compute SUB_32 6 NRAM[0x0], WRAM[0x0] -> NRAM[{C_AT:#x}] rows 3x2", a, b)
    assert result(memories, 6).tolist() == [-9, -8, -17, -16, -25, -24]
    memories = run(f"compute DIV_32 6 NRAM[0x0], WRAM[0x0:0xc] -> NRAM[{C_AT:#x}] rows 3x2", a, b)
    assert result(memories, 6).tolist() == [F32(1) / F32(10), F32(2) / F32(10), F32(3) / F32(20),
                                            F32(4) / F32(20), F32(5) / F32(30), F32(6) / F32(30)]


def test_softmax_of_the_reference_example_in_five_rows_instructions():
    # isa/README.md's example: 4 rows of 16, max, subtract, exp, sum, divide; against the
    # definition e^(x - max) / sum, row by row
    x = np.random.default_rng(7).uniform(-4, 4, (4, 16)).astype(F32)
    text = ("compute MAX_32 60 NRAM[0x0] -> NRAM[0x1000] rows 4x16\nsync\n"
            "compute SUB_32 64 NRAM[0x0], NRAM[0x1000] -> NRAM[0x0] rows 4x16\nsync\n"
            "compute EXP_32 64 NRAM[0x0] -> NRAM[0x0]\nsync\n"
            "compute ADD_32 60 NRAM[0x0] -> NRAM[0x1000] rows 4x16\nsync\n"
            "compute DIV_32 64 NRAM[0x0], NRAM[0x1000:0x1010] -> NRAM[0x0] rows 4x16\n")
    memories = run(text, x)
    got = memories.nram[0].read(0, 256).view(F32).reshape(4, 16)
    wide = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, wide / wide.sum(axis=1, keepdims=True), rtol=1e-6)
