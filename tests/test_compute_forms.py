"""The compute forms of issue 12 (part 2): window clauses, broadcast and immediate B, MAX/MIN and
the unary function types. What the assembler accepts and prints, what it refuses and where, the
regions the hazard check sees, and their timing and energy, each derived by hand from the
presets (dlpsim/machine/presets/dlp-s.toml) in the test.
"""

from __future__ import annotations

import re
from fractions import Fraction as F
from math import ceil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.asm import Compute, assemble
from dlpsim.asm.opcodes import COMPUTE_TYPES, Memory
from dlpsim.asm.printer import UNPLACED, ProgramWriter, print_program
from dlpsim.asm.program import ComputeOperands, Immediate, Operand, Rows, Window, accesses, expand
from dlpsim.cli import main
from dlpsim.data import check_hazards
from dlpsim.data.functional import FunctionalError, FunctionalProgram
from dlpsim.errors import ProgramError
from dlpsim.machine import load_machine
from dlpsim.sim import simulate

DLP_S = load_machine("dlp-s")

# A 3x3 convolution, stride 2, padding 1 on every side, over an 8x8x3 slab: OH = OW =
# floor((8 + 1 + 1 - 3) / 2) + 1 = 4, so M = 16 positions, K = 3 x 3 x 3 = 27, N = 8.
CONV = ("compute MAC_32 16x27x8 NRAM[0x0], WRAM[0x0] -> NRAM[0x4000] "
        "window 8x8x3 kernel 3x3 stride 2x2 pad 1,1,1,1")
# Two groups of 2 channels, 4x4 input, 3x3 kernel dilated 2: spans 5, pad 2 each side:
# OH = OW = 4 + 4 - 5 + 1 = 4; M = G x 16 = 32, K = 2 x 9 = 18.
GROUPED = ("compute MAC_32 32x18x4 NRAM[0x0], WRAM[0x0] +> NRAM[0x4000] "
           "window 4x4x2 kernel 3x3 stride 1x1 pad 2,2,2,2 dilation 2x2 groups 2")
# 2x2 max pooling, stride 2, of 8x8x4: 4x4x4 outputs, each 3 pairwise maxima: n = 192.
POOL = "compute MAX_32 192 NRAM[0x0] -> NRAM[0x4000] window 8x8x4 kernel 2x2 stride 2x2 pad 0,0,0,0"
FORMS = [
    CONV, GROUPED, POOL,
    "compute ADD_32 48 NRAM[0x0], NRAM[0x1000:0x1010] -> NRAM[0x2000]",  # broadcast of 4
    "compute MAX_32 64 NRAM[0x0], %0.0 -> NRAM[0x0]",  # ReLU, in place
    "compute MIN_16 64 NRAM[0x0], %-0.65 -> NRAM[0x0]",
    "compute TANH_32 64 NRAM[0x0] -> NRAM[0x400]",
    "compute GELU_16 64 NRAM[0x0] +> NRAM[0x400]",
    # OH = OW = 2 + 1 - 2 + 1 = 2: n = 2 x 2 x 3 x (2 x 2 - 1) = 36
    "compute ADD_32 36 NRAM[0x0] -> NRAM[0x100] window 2x2x3 kernel 2x2 stride 1x1 pad 0,1,0,1",
]


def one(text: str) -> Compute:
    (section,) = assemble(text, "t.asm").sections
    (compute,) = section.statements
    return compute


# -- what is read, printed back and checked -----------------------------------------------------

def test_a_window_clause_is_read_into_a_window_with_its_defaults():
    compute = one(CONV)
    assert compute.window == Window(8, 8, 3, (3, 3), (2, 2), (1, 1, 1, 1))
    assert compute.window.dilation == (1, 1) and compute.window.groups == 1
    assert (compute.window.output_height, compute.window.output_width) == (4, 4)
    assert compute.shape == (16, 27, 8) and compute.count == 16 * 27 * 8
    # only `window` and `kernel` are required: stride 1x1, no padding, no dilation, one group
    plain = one("compute MAC_32 36x9x2 NRAM[0x0], WRAM[0x0] -> NRAM[0x1000] window 8x8x1 kernel 3x3")
    assert plain.window == Window(8, 8, 1, (3, 3))  # OH = 8 - 3 + 1 = 6, M = 36


def test_options_come_in_any_order():
    again = one("compute MAC_32 32x18x4 NRAM[0x0], WRAM[0x0] +> NRAM[0x4000] window 4x4x2 kernel 3x3 "
                "groups 2 dilation 2x2 pad 2,2,2,2")
    assert again.window == one(GROUPED).window == Window(4, 4, 2, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 2)


def test_immediates_and_missing_b_are_read_as_such():
    assert one(FORMS[4]).operands.b == Immediate(0.0)
    assert one(FORMS[5]).operands.b == Immediate(-0.65)
    assert one("compute MUL_32 4 NRAM[0x0], %-6.5e-1 -> NRAM[0x0]").operands.b == Immediate(-0.65)
    assert one("compute MUL_32 4 NRAM[0x0], %.5 -> NRAM[0x0]").operands.b == Immediate(0.5)
    assert one(FORMS[6]).operands.b is None and one(POOL).operands.b is None
    assert one(FORMS[7]).operands.accumulate


@pytest.mark.parametrize("value", [1e-05, 1e+20, -0.0, 0.1, 123456.789, -6.5e-1, 5e-324])
def test_every_immediate_prints_as_text_that_reads_back_to_the_same_value(value):
    compute = Compute(COMPUTE_TYPES["MUL_32"], 4, UNPLACED, None,
                      ComputeOperands(Operand(Memory.NRAM, 0, UNPLACED), Immediate(value),
                                      Operand(Memory.NRAM, 0, UNPLACED)))
    again = one(str(compute)).operands.b.value
    assert again == value and str(again) == str(value)  # -0.0 keeps its sign


@pytest.mark.parametrize("text", FORMS)
def test_every_new_form_prints_back_as_written_and_assembles_to_the_same_text(text):
    program = assemble(text, "t.asm")
    printed = print_program(program)
    assert printed == text + "\n"
    assert print_program(assemble(printed, "t.asm")) == printed


def test_the_writer_places_every_new_form_and_the_text_assembles_to_an_equal_program():
    writer = ProgramWriter("w.asm")
    nram, wram = (lambda offset: Operand(Memory.NRAM, offset, UNPLACED)), (
        lambda offset: Operand(Memory.WRAM, offset, UNPLACED))
    mac, maximum, tanh = COMPUTE_TYPES["MAC_32"], COMPUTE_TYPES["MAX_32"], COMPUTE_TYPES["TANH_16"]
    writer.loop(2, "t")
    writer.instruction(Compute(mac, 16 * 27 * 8, UNPLACED, (16, 27, 8),
                               ComputeOperands(Operand(Memory.NRAM, 0, UNPLACED, None, (("t", 0x1000),)),
                                               wram(0), nram(0x8000)),
                               Window(8, 8, 3, (3, 3), (2, 2), (1, 1, 1, 1))))
    writer.endloop()
    relu = ComputeOperands(nram(0), Immediate(0.0), nram(0))
    writer.instruction(Compute(maximum, 64, UNPLACED, None, relu))
    writer.instruction(Compute(maximum, 192, UNPLACED, None, ComputeOperands(nram(0), None, nram(0x4000)),
                               Window(8, 8, 4, (2, 2), (2, 2))))
    writer.instruction(Compute(tanh, 64, UNPLACED, None, ComputeOperands(nram(0), None, nram(0x400), True)))
    program = writer.program()
    text = print_program(program)
    assert assemble(text, "w.asm") == program
    # loop indices resolve through a window MAC, keeping its window
    (first, second, *_) = list(expand(program.sections[0].statements))
    assert (first.operands.a.offset, second.operands.a.offset) == (0, 0x1000)
    assert first.window == second.window == Window(8, 8, 3, (3, 3), (2, 2), (1, 1, 1, 1))


@pytest.mark.parametrize("text, at, message", [
    # the window clause
    (CONV.replace(" kernel 3x3", ""), "stride", "expected 'kernel KHxKW' after the window's input IHxIWxIC, "
                                                "got 'stride'"),
    (CONV.replace("kernel 3x3", "kernel 3"), "stride", "expected 'x' in the kernel KHxKW, got 'stride'"),
    (CONV.replace("8x8x3", "8x0x3"), "8x0x3",
     "each dimension of the window's input must be positive, got 8x0x3"),
    (CONV.replace("stride 2x2", "stride 2x0"), "2x0", "the stride SHxSW must be positive, got 2x0"),
    (CONV.replace("pad 1,1,1,1", "pad 1,1,1"), None, "expected ',' in the padding T,B,L,R"),
    (CONV + " pad 0,0,0,0", "pad", "'pad' given twice in the window clause"),
    (CONV.replace("pad 1,1,1,1", "pad 1,1,4294967297,1"), "1,1,4294967297",
     "each padding must be at most 4,294,967,296, got 1,1,4294967297,1"),
    (CONV + " shift 1", "shift", "unexpected 'shift' in the window clause"),
    (CONV.replace("16x27x8", "32x27x8"), "window", "the shape's M = 32, but the window gives "
                                                   "M = G x OH x OW = 1 x 4 x 4 = 16"),
    (CONV.replace("16x27x8", "16x9x8"), "window", "the shape's K = 9, but the window gives "
                                                  "K = IC x KH x KW = 3 x 3 x 3 = 27"),
    ("compute MAC_32 1x27x1 NRAM[0x0], WRAM[0x0] -> NRAM[0x1000] window 2x2x3 kernel 3x3", "window",
     "the kernel spans 3 rows but the padded input has 2 (height 2 + padding 0 + 0): the window has no "
     "output position"),
    (CONV.replace("NRAM[0x0],", "NRAM[0x0:0x200],"), "window",
     "operand A NRAM[0x0:0x200] holds 512 B, but the window's input 8x8x3 take 768 B of MAC_32"),
    (CONV.replace("WRAM[0x0]", "WRAM[0x0:0x40]"), "window", "operand B WRAM[0x0:0x40] holds 64 B, but 1 "
                                                            "block(s) of K x N weights take 864 B"),
    (CONV.replace("NRAM[0x4000]", "NRAM[0x4000:0x4010]"), "window",
     "operand C NRAM[0x4000:0x4010] holds 16 B"),
    ("compute SUB_32 192 NRAM[0x0] -> NRAM[0x4000] window 8x8x4 kernel 2x2 stride 2x2", "window",
     "a window clause is for the MAC, MAX and ADD types"),
    ("compute MAC_32 3456 NRAM[0x0:0x300], WRAM[0x0:0xd80] -> NRAM[0x4000:0x4200] window 8x8x3 kernel 3x3 "
     "stride 2x2 pad 1,1,1,1", "window", "a window MAC needs its shape"),
    (POOL.replace("192", "256"), "window", "a window reduction performs OH x OW x CH x (KH x KW - 1) = "
                                           "4 x 4 x 4 x 3 = 192 pairwise operations, but the count is 256"),
    ("compute MAX_32 4 NRAM[0x0] -> NRAM[0x400] window 2x2x1 kernel 1x1", "window",
     "a 1x1 window reduces nothing"),
    (POOL + " groups 2", "groups", "groups are for a MAC window"),
    (POOL.replace("NRAM[0x0] ->", "NRAM[0x0], NRAM[0x800] ->"), "NRAM[0x800]",
     "a window reduction reads A alone"),
    ("compute MAC_32 16x27x8 window 8x8x3 kernel 3x3 stride 2x2 pad 1,1,1,1", "window",
     "a window clause says how the operands hold their data: name them first"),
    # unary types, B, immediates
    ("compute TANH_32 64 NRAM[0x0], NRAM[0x400] -> NRAM[0x800]", "NRAM[0x400]",
     "TANH_32 is a function of A alone"),
    ("compute ADD_32 64 NRAM[0x0] -> NRAM[0x800]", "->", "ADD_32 needs operand B"),
    ("compute MAC_32 4x4x4 NRAM[0x0] -> NRAM[0x800]", "->", "MAC_32 needs operand B"),
    ("compute MAC_32 4x4x4 NRAM[0x0], %1 -> NRAM[0x800]", "%1", "MAC_32 multiplies by a matrix B in memory, "
                                                               "not by an immediate"),
    ("compute MUL_32 4 NRAM[0x0], % -> NRAM[0x0]", "%", "expected a decimal number after '%'"),
    ("compute MUL_32 4 NRAM[0x0], %1e999 -> NRAM[0x0]", "%", "the immediate '%1e999' is outside the range"),
    ("compute MUL_32 4 NRAM[0x0], 2 -> NRAM[0x0]", "2", "operand B: write a constant as an immediate, %2"),
])
def test_malformed_forms_are_refused_at_their_column(text, at, message):
    """``at``: the text the error points at (its last occurrence), or None for the line's end."""
    with pytest.raises(ProgramError) as raised:
        assemble(text, "t.asm")
    column = len(text) + 1 if at is None else text.rindex(at) + 1
    assert raised.value.location.column == column, str(raised.value)
    assert message in raised.value.message


@pytest.mark.parametrize("b_range, message", [
    ("NRAM[0x1000:0x1014]", "a broadcast B of 5 elements must divide the 48 elements of the operation "
                            "(element i reads B[i mod 5])"),
    ("NRAM[0x1000:0x1006]", "a broadcast B must hold whole elements of ADD_32 (4 B each), but "
                            "NRAM[0x1000:0x1006] holds 6 B"),
])
def test_a_b_that_is_no_broadcast_assembles_but_is_not_executed(b_range, message):
    # A range of fewer than n elements is a region like any packed operand: it is timed and
    # checked; it has values to compute on only as a broadcast (L whole elements, L dividing n).
    text = f"compute ADD_32 48 NRAM[0x0], {b_range} -> NRAM[0x2000]"
    program = assemble(text, "t.asm")
    with pytest.raises(FunctionalError) as raised:
        FunctionalProgram.prepare(program, DLP_S)
    assert raised.value.refusals[0] == (program.sections[0].statements[0].operands.b.location,
                                        f"--functional cannot execute this: {message}")
    assert raised.value.refusals[0][0].column == text.index(b_range) + 1


def test_a_refused_form_exits_2_with_file_line_and_column():
    text = "sync\ncompute TANH_32 64 NRAM[0x0], %1 -> NRAM[0x0]\n"
    result = CliRunner().invoke(main, ["asm", "-"], input=text)
    assert result.exit_code == 2
    assert "<stdin>:2:31: error: TANH_32 is a function of A alone" in result.output
    assert "Traceback" not in result.output


# -- the regions the hazard check sees ----------------------------------------------------------

def regions(text: str) -> list[tuple[str, bool, tuple[int, int]]]:
    return [(access.role, access.writes, access.region) for access in accesses(one(text))]


def test_operand_regions_of_the_new_forms():
    # window A: the 8x8x3 slab, 768 B (not M x K = 16 x 27 floats); B: 27 x 8 floats; C: 16 x 8
    assert regions(CONV) == [("A", False, (0, 768)), ("B", False, (0, 864)), ("C", True, (0x4000, 0x4200))]
    # two groups: A 4x4x(2x2) floats, B 2 blocks of 18 x 4, C 32 x 4 read and written
    assert regions(GROUPED) == [("A", False, (0, 256)), ("B", False, (0, 576)),
                                ("C", False, (0x4000, 0x4200)), ("C", True, (0x4000, 0x4200))]
    # a reduction: A the 8x8x4 slab, no B, C the 4x4x4 outputs
    assert regions(POOL) == [("A", False, (0, 1024)), ("C", True, (0x4000, 0x4100))]
    # a broadcast B reads its 4 elements; an immediate reads nothing; a unary type has no B
    assert regions(FORMS[3]) == [("A", False, (0, 192)), ("B", False, (0x1000, 0x1010)),
                                 ("C", True, (0x2000, 0x20c0))]
    assert regions(FORMS[4]) == [("A", False, (0, 256)), ("C", True, (0, 256))]
    assert regions(FORMS[6]) == [("A", False, (0, 256)), ("C", True, (0x400, 0x500))]


def test_the_hazard_check_sees_the_whole_slab_and_nothing_beyond():
    # The io queue loads into NRAM while the compute queue reads the slab, no sync between:
    # a race on the slab's last float (byte 764), none just past it (byte 768).
    for offset, races in ((764, True), (768, False)):
        text = f"move DRAM[0x0] NRAM[{offset:#x}] 4\n{CONV}\nsync\n"
        report = check_hazards(assemble(text, "t.asm"), DLP_S)
        assert bool(report.hazards) == races, offset
        assert report.checked == 2 and report.unchecked == 0
    # an immediate B names no memory: a ReLU in place races with nothing else in the program
    text = "move DRAM[0x0] WRAM[0x0] 64\ncompute MAX_32 16 NRAM[0x0], %0 -> NRAM[0x0]\n"
    report = check_hazards(assemble(text, "t.asm"), DLP_S)
    assert not report.hazards and report.checked == 2


# -- timing and energy: derived from dlp-s.toml ------------------------------------------------

# dlp-s: core.vector.ops_per_cycle = 64, fp16_speedup = 2, latency 0; max/min_slots = 1, the
# function types' slots = 6; core.matrix.macs_per_cycle = 256. Energies (pJ): add 0.9, max/min
# 0.9 (32) and 0.4 (16), the functions 8.2 (32) and 3.1 (16), MAC_32 4.6; NRAM 5, WRAM 7.07 pJ/B.
OPS_PER_CYCLE, FP16, FUNCTION_SLOTS = 64, 2, 6
FUNCTION_32_PJ, FUNCTION_16_PJ, COMPARE_32_PJ = F("8.2"), F("3.1"), F("0.9")
ADD_32_PJ, MAC_32_PJ = F("0.9"), F("4.6")
NRAM_PJ, WRAM_PJ = F(5), F("7.07")
STATIC_MW = F("118") + F("23.7") + F("12.8") + F("25.6")  # matrix, vector, NRAM, WRAM


def cycles(text: str, overrides=()) -> int:
    return simulate(assemble(text, "t.asm"), load_machine("dlp-s", overrides=overrides)).cycles


@pytest.mark.parametrize("operation", ["EXP", "TANH", "SIGMOID", "GELU", "RSQRT"])
def test_each_function_type_takes_its_slots_per_element(operation):
    # rate = 64 / 6 per cycle at 32 bits, twice that at 16: 1000 elements take ceil(1000 x 6 / 64)
    # = 94 cycles, and ceil(1000 x 6 / 128) = 47 at 16 bits
    assert cycles(f"compute {operation}_32 1000 NRAM[0x0] -> NRAM[0x1000]\n") == ceil(1000 * FUNCTION_SLOTS
                                                                                     / OPS_PER_CYCLE)
    assert cycles(f"compute {operation}_16 1000\n") == ceil(1000 * FUNCTION_SLOTS / (OPS_PER_CYCLE * FP16))
    # --set changes the slots, and so the rate: 3 slots, 64/3 per cycle
    key = f"core.vector.{operation.lower()}_slots"
    assert cycles(f"compute {operation}_32 1000\n", [f"{key}=3"]) == ceil(1000 * 3 / OPS_PER_CYCLE)


@pytest.mark.parametrize("operation", ["MAX", "MIN"])
def test_max_and_min_run_at_the_add_rate(operation):
    assert cycles(f"compute {operation}_32 1000 NRAM[0x0], %0 -> NRAM[0x0]\n") == ceil(1000 / OPS_PER_CYCLE)
    assert cycles(f"compute {operation}_16 1000\n") == ceil(1000 / (OPS_PER_CYCLE * FP16))
    assert cycles(f"compute {operation}_32 1000\n", [f"core.vector.{operation.lower()}_slots=2"]) == \
        ceil(1000 * 2 / OPS_PER_CYCLE)


def test_a_window_is_data_not_time():
    # the window MAC takes the time of its shape: 16 x 27 x 8 = 3456 MACs / 256 = 13.5 -> 14 cycles
    assert cycles(CONV) == ceil(16 * 27 * 8 / 256) == cycles("compute MAC_32 16x27x8\n")
    # ... on a systolic unit too (os, 16 x 16: one fold of M = 16 by N = 8, K = 27 streamed:
    # 0 + 27 + 16 + 16 - 2 = 57 cycles)
    systolic = ["core.matrix.model=systolic"]
    assert cycles(CONV, systolic) == 27 + 16 + 16 - 2 == cycles("compute MAC_32 16x27x8\n", systolic)
    # a reduction of n = 192 pairwise maxima at the MAX rate: ceil(192 / 64) = 3 cycles
    assert cycles(POOL) == ceil(192 / OPS_PER_CYCLE)


def energy(text: str) -> dict[str, F]:
    return dict(simulate(assemble(text, "t.asm"), DLP_S).energy.components)


def static(cycle_count: int) -> F:
    return STATIC_MW * F(cycle_count, 10**9) * 10**9  # mW x s = 1e9 pJ


def test_energy_of_a_function_type_by_hand():
    # TANH_32 on 1000 elements: 94 cycles; 1000 x 8.2 pJ; reads 4000 B of A and writes 4000 B
    # of C, both NRAM at 5 pJ/B; no B
    found = energy("compute TANH_32 1000 NRAM[0x0] -> NRAM[0x1000]\n")
    assert found["vector"] == 1000 * FUNCTION_32_PJ
    assert found["NRAM"] == (4000 + 4000) * NRAM_PJ and found["WRAM"] == 0
    assert found["static"] == static(94)
    # at 16 bits, accumulating: 3.1 pJ each, A 2000 B read, C 2000 B read and 2000 B written
    found = energy("compute GELU_16 1000 NRAM[0x0] +> NRAM[0x1000]\n")
    assert found["vector"] == 1000 * FUNCTION_16_PJ and found["NRAM"] == 3 * 2000 * NRAM_PJ


def test_energy_of_immediates_broadcasts_windows_by_hand():
    # ReLU by immediate: 64 compares, A read (256 B) and C written (256 B); the immediate reads nothing
    found = energy("compute MAX_32 64 NRAM[0x0], %0 -> NRAM[0x0]\n")
    assert found["vector"] == 64 * COMPARE_32_PJ and found["NRAM"] == 512 * NRAM_PJ
    # a broadcast B of 4 elements in WRAM is read for every one of the 48 elements: 192 B
    found = energy("compute ADD_32 48 NRAM[0x0], WRAM[0x0:0x10] -> NRAM[0x1000]\n")
    assert found["vector"] == 48 * ADD_32_PJ
    assert found["WRAM"] == 192 * WRAM_PJ and found["NRAM"] == (192 + 192) * NRAM_PJ
    # a window reduction: n = 192 pairwise maxima, each reading two values and writing one
    found = energy(POOL)
    assert found["vector"] == 192 * COMPARE_32_PJ and found["NRAM"] == (2 * 768 + 768) * NRAM_PJ
    # a window MAC is charged as its shape: A 16 x 27, B 27 x 8, C 16 x 8 floats
    found = energy(CONV)
    assert found["MAC"] == 16 * 27 * 8 * MAC_32_PJ
    assert found["NRAM"] == (16 * 27 + 16 * 8) * 4 * NRAM_PJ and found["WRAM"] == 27 * 8 * 4 * WRAM_PJ


def test_the_presets_give_every_new_type_a_rate_and_an_energy():
    for preset in ("dlp-s", "dlp-m"):
        machine = load_machine(preset)
        for name, kind in COMPUTE_TYPES.items():
            assert machine.ops_per_cycle(kind) > 0 and machine.operation_pj(name) >= 0
        assert machine.ops_per_cycle(COMPUTE_TYPES["TANH_32"]) == F(OPS_PER_CYCLE, FUNCTION_SLOTS)
        assert machine.operation_pj("SIGMOID_16") == FUNCTION_16_PJ


# -- the ISA reference's examples of these forms -------------------------------------------------

def test_the_references_refusals_of_the_new_forms_are_what_the_assembler_says():
    """isa/README.md, from "Window clause" to `### loop`: each ```asm-error block is followed by
    the message dlpsim prints for it (as bad.asm), verbatim."""
    text = (Path(__file__).resolve().parents[1] / "isa" / "README.md").read_text("utf-8")
    part = text[text.index("#### Window clause"):text.index("### loop")]
    shown = re.findall(r"```asm-error\n([^`]*)```\n\n    (bad\.asm:[^\n]*)\n", part)
    assert len(shown) == 13  # 9 of the window, broadcast and function forms, 4 of the rows clause
    for program, message in shown:
        with pytest.raises(ProgramError) as raised:
            assemble(program, "bad.asm")
        assert str(raised.value) == message


# -- the rows clause: row reductions and per-row broadcast ---------------------------------------

# 4 rows of 16: a row maximum is 4 x 15 = 60 pairwise operations; a broadcast 4 x 16 = 64 elements.
ROW_MAX = "compute MAX_32 60 NRAM[0x0] -> NRAM[0x1000] rows 4x16"
ROW_DIV = "compute DIV_32 64 NRAM[0x0], NRAM[0x1000:0x1010] -> NRAM[0x0] rows 4x16"
ROW_FORMS = [ROW_MAX, ROW_DIV,
             "compute ADD_16 60 NRAM[0x0] +> NRAM[0x1000] rows 4x16",
             "compute MIN_32 7 NRAM[0x0] -> NRAM[0x1000] rows 1x8",
             "compute SUB_32 64 NRAM[0x0], WRAM[0x0] -> NRAM[0x400] rows 4x16"]


@pytest.mark.parametrize("text", ROW_FORMS)
def test_every_rows_form_prints_back_as_written(text):
    printed = print_program(assemble(text, "t.asm"))
    assert printed == text + "\n"
    assert print_program(assemble(printed, "t.asm")) == printed


def test_the_writer_places_a_rows_form_and_loop_indices_keep_it():
    writer = ProgramWriter("w.asm")
    writer.loop(2, "t")
    rows = Rows(4, 16)
    writer.instruction(Compute(COMPUTE_TYPES["MAX_32"], 60, UNPLACED, None,
                               ComputeOperands(Operand(Memory.NRAM, 0, UNPLACED, None, (("t", 0x100),)), None,
                                               Operand(Memory.NRAM, 0x1000, UNPLACED)), None, rows))
    writer.endloop()
    program = writer.program()
    assert assemble(print_program(program), "w.asm") == program
    first, second = list(expand(program.sections[0].statements))
    assert (first.operands.a.offset, second.operands.a.offset) == (0, 0x100)
    assert first.rows == second.rows == rows and first.row_reduction


@pytest.mark.parametrize("text, at, message", [
    (ROW_MAX.replace("60", "64"), "rows", "a row reduction performs R x (L - 1) = 4 x 15 = 60 pairwise "
                                          "operations, but the count is 64"),
    (ROW_DIV.replace("64", "60"), "rows", "a per-row broadcast performs R x L = 4 x 16 = 64 operations, "
                                          "but the count is 60"),
    (ROW_DIV.replace("0x1010", "0x1008"), "rows", "operand B NRAM[0x1000:0x1008] holds 8 B, but it must hold "
                                                  "one element for each of the 4 rows: 16 B of DIV_32"),
    (ROW_MAX.replace("NRAM[0x1000]", "NRAM[0x1000:0x100c]"), "rows",
     "operand C NRAM[0x1000:0x100c] holds 12 B, but it must hold one result per row: 16 B of MAX_32"),
    ("compute SUB_32 60 NRAM[0x0] -> NRAM[0x1000] rows 4x16", "->", "SUB_32 needs operand B: a rows clause "
                                                                    "without B is a row reduction"),
    ("compute EXP_32 64 NRAM[0x0] -> NRAM[0x0] rows 4x16", "rows", "a rows clause is for the binary vector "
                                                                   "types"),
    ("compute MAC_32 4x4x4 NRAM[0x0], WRAM[0x0] -> NRAM[0x100] rows 4x4", "rows",
     "a rows clause is for the binary vector types"),
    ("compute MUL_32 64 NRAM[0x0], %2 -> NRAM[0x0] rows 4x16", "%2",
     "an immediate B is the same for every row"),
    ("compute MAX_32 4 NRAM[0x0] -> NRAM[0x1000] rows 4x1", "rows", "a row of one element reduces nothing"),
    ("compute MAX_32 4 NRAM[0x0] -> NRAM[0x1000] rows 4x0", "4x0", "each dimension of the rows RxL must be "
                                                                   "positive, got 4x0"),
    ("compute MAX_32 4 NRAM[0x0] -> NRAM[0x1000] rows 4", None, "expected 'x' in the rows RxL"),
    ("compute ADD_32 12 rows 4x4", "rows", "a rows clause says how the operands hold their data"),
    # a reduction's C over its own A: refused, as any partial overlap of a vector op
    ("compute ADD_32 12 NRAM[0x0] -> NRAM[0x8] rows 4x4", "NRAM[0x8]", "the result NRAM[0x8:0x18) overlaps "
                                                                       "operand A NRAM[0x0:0x40)"),
])
def test_malformed_rows_forms_are_refused_at_their_column(text, at, message):
    test_malformed_forms_are_refused_at_their_column(text, at, message)


def test_operand_regions_of_the_rows_forms():
    # a reduction reads A's 4 x 16 floats (256 B) and writes one float per row (16 B); no B
    assert regions(ROW_MAX) == [("A", False, (0, 256)), ("C", True, (0x1000, 0x1010))]
    # a broadcast reads B's one float per row and writes C, in place over A
    assert regions(ROW_DIV) == [("A", False, (0, 256)), ("B", False, (0x1000, 0x1010)), ("C", True, (0, 256))]
    # an accumulating reduction at half: A 4 x 16 x 2 B, C 4 x 2 B read and written
    assert regions(ROW_FORMS[2]) == [("A", False, (0, 128)), ("C", False, (0x1000, 0x1008)),
                                     ("C", True, (0x1000, 0x1008))]


def test_the_hazard_check_sees_the_row_results_and_nothing_beyond():
    # a load into the row maxima's last float (byte 0x100c) races with the reduction; one just
    # past them (0x1010) does not
    for offset, races in ((0x100c, True), (0x1010, False)):
        text = f"move DRAM[0x0] NRAM[{offset:#x}] 4\n{ROW_MAX}\nsync\n"
        assert bool(check_hazards(assemble(text, "t.asm"), DLP_S).hazards) == races, offset


def test_rows_are_data_not_time_and_a_reduction_is_charged_as_a_window_one():
    # n = 60 pairwise maxima at the MAX rate (1 slot, 64 per cycle): ceil(60 / 64) = 1 cycle;
    # a division of 64 elements at DIV_32's 16 per cycle: 4 cycles
    assert cycles(ROW_MAX) == ceil(60 / OPS_PER_CYCLE) == cycles("compute MAX_32 60\n")
    assert cycles(ROW_DIV) == ceil(64 / 16) == cycles("compute DIV_32 64\n")
    # energy: 60 compares, 2 x 60 floats of A read and 60 floats of C written, all NRAM
    found = energy(ROW_MAX)
    assert found["vector"] == 60 * COMPARE_32_PJ and found["NRAM"] == (2 * 240 + 240) * NRAM_PJ
    # a broadcast is a vector op: B (in WRAM) read for every one of its 64 elements
    found = energy(ROW_FORMS[4])
    assert found["WRAM"] == 256 * WRAM_PJ and found["NRAM"] == (256 + 256) * NRAM_PJ
