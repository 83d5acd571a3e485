"""The assembler: text -> Program, with locations, extensions and errors."""

from __future__ import annotations

import dataclasses

import pytest

from dlpsim.asm import Barrier, Compute, CoreId, Loop, Move, Sync, assemble, dynamic_count, expand
from dlpsim.asm.listing import format_listing
from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import INSTRUCTION_TYPES, MEMORY_CORE
from dlpsim.errors import ProgramError


def only_stream(text: str):
    return assemble(text, "t.asm").stream(CoreId(0))


def test_textbook_syntax_as_the_exercises_write_it():
    stream = only_stream(
        "move DRAM NRAM 1024\n"
        "move DRAM WRAM 1024\n"
        "sync\n"
        "compute MAC_32 256\n"
        "loop 4\n"
        "  compute ADD_16 8\n"
        "endloop\n"
    )
    first, second, sync, compute, loop = stream
    assert isinstance(first, Move) and first.source.memory is Memory.DRAM
    assert first.destination.memory is Memory.NRAM and first.size == 1024
    assert second.destination.memory is Memory.WRAM
    assert isinstance(sync, Sync)
    assert isinstance(compute, Compute) and compute.type.name == "MAC_32" and compute.count == 256
    assert isinstance(loop, Loop) and loop.count == 4 and loop.body[0].type.name == "ADD_16"


def test_every_statement_remembers_file_line_and_column():
    stream = only_stream("\n   move DRAM  NRAM 4 ; comment\n\tsync\n")
    move, sync = stream
    assert (move.location.file, move.location.line, move.location.column) == ("t.asm", 2, 4)
    assert (move.destination.location.line, move.destination.location.column) == (2, 15)
    assert (sync.location.line, sync.location.column) == (3, 2)


def test_repeated_lines_each_keep_their_own_place():
    """A repeated line (generated programs repeat a few lines thousands of times) makes the
    statement its first occurrence made, at its own line: the same program as when every line
    is different text (here, by a comment of its own)."""
    block = ["loop 3", "  move DRAM NRAM[0x40] 64", "  compute MAC_32 2x3x4", "  sync", "  loop 2",
             "    barrier", "  endloop", "endloop"]
    lines = [".machine dlp-m", ".core 0-1", *block, ".core mem", "loop 2", "move DRAM SRAM 8", "barrier",
             "endloop", ".core 0-1", *block, *block]
    program = assemble("\n".join(lines), "t.asm")
    distinct = "\n".join(f"{line} ; {number}" for number, line in enumerate(lines))
    assert program == assemble(distinct, "t.asm")
    loops = program.stream(CoreId(1))
    assert [loop.location.line for loop in loops] == [3, 17, 25]
    assert [loop.body[0].location.line for loop in loops] == [4, 18, 26]
    assert {loop.body[0].destination.location.column for loop in loops} == {13}
    assert [loop.body[3].body[0].location.line for loop in loops] == [8, 22, 30]


@pytest.mark.parametrize("text, size", [
    ("move DRAM NRAM 32*256*4", 32 * 256 * 4),
    ("move DRAM NRAM 32 * 256 * 4", 32 * 256 * 4),
    ("move DRAM NRAM 0x8000", 0x8000),
    ("move DRAM NRAM 0X10*2", 32),
    ("move DRAM NRAM 128K", 128 * 1024),
    ("move DRAM NRAM 2M", 2 * 1024 * 1024),
    ("move DRAM NRAM 1_024", 1024),
    ("move dram, nram, 4", 4),
    ("MOVE Dram SRAM 4", 4),
])
def test_number_and_operand_forms(text, size):
    (move,) = only_stream(text)
    assert move.size == size


@pytest.mark.parametrize("comment", ["; note", "# note", "// note"])
def test_three_comment_styles(comment):
    assert len(only_stream(f"sync {comment}\n{comment}\n")) == 1


def test_addressed_operands_keep_their_offset():
    (move,) = only_stream("move DRAM[0x100] NRAM[32*1024] 64")
    assert move.source.offset == 0x100 and move.destination.offset == 32 * 1024
    assert str(move) == "move DRAM[0x100] NRAM[0x8000] 64"


def test_sram_is_an_alias_of_sharedram():
    (move,) = only_stream("move SRAM NRAM 4")
    assert move.source.memory is Memory.SHARED


def test_core_sections_build_each_cores_stream_in_text_order():
    program = assemble(
        ".machine dlp-m\n"
        "sync\n"               # before any .core: every compute core
        ".core 0\n"
        "compute MAC_32 1\n"
        ".core 1-2\n"
        "compute MAC_32 2\n"
        ".core all\n"
        "barrier\n"
        ".core mem\n"
        "move DRAM SharedRAM 4\n"
        "barrier\n"
        ".core 0,3\n"
        "compute MAC_32 3\n",
        "t.asm")
    assert program.machine == "dlp-m"

    def shape(core):
        return [str(s) for s in program.stream(core)]

    assert shape(CoreId(0)) == ["sync", "compute MAC_32 1", "barrier", "compute MAC_32 3"]
    assert shape(CoreId(1)) == ["sync", "compute MAC_32 2", "barrier"]
    assert shape(CoreId(2)) == ["sync", "compute MAC_32 2", "barrier"]
    assert shape(CoreId(3)) == ["sync", "barrier", "compute MAC_32 3"]
    assert shape(MEMORY_CORE) == ["move DRAM SharedRAM 4", "barrier"]


def test_loops_nest_and_expand_lazily_with_exact_counts():
    stream = only_stream("loop 3\n  compute MAC_32 1\n  loop 2\n    sync\n  endloop\nendloop\n"
                         "loop 0\nbarrier\nendloop\n")
    issued = [str(i) for i in expand(stream)]
    # the inner loop holds nothing but syncs: it issues one (a sync after a sync waits for nothing)
    assert issued == ["compute MAC_32 1", "sync"] * 3
    assert dynamic_count(stream, Sync) == 6 and dynamic_count(stream, Barrier) == 0
    huge = only_stream("loop 1000000000000\nloop 1000\ncompute MAC_32 1\nendloop\nendloop\n")
    assert dynamic_count(huge, INSTRUCTION_TYPES) == 10**15


def test_program_and_instructions_are_immutable():
    program = assemble("move DRAM NRAM 4\n", "t.asm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.file = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.sections[0].statements[0].size = 8


@pytest.mark.parametrize("text, line, column, words", [
    ("mov DRAM NRAM 4", 1, 1, "unknown instruction 'mov'"),
    ("sync\nmove DRAM XRAM 4", 2, 11, "unknown memory 'XRAM'"),
    ("compute MAC_64 4", 1, 9, "unknown compute type 'MAC_64'"),
    ("move DRAM NRAM 0", 1, 16, "must be positive"),
    ("compute MAC_32 0", 1, 16, "must be positive"),
    ("move DRAM NRAM", 1, 15, "expected a size"),
    ("move DRAM NRAM 4 4", 1, 18, "unexpected '4'"),
    ("sync now", 1, 6, "unexpected 'now'"),
    ("move DRAM NRAM 4 @", 1, 18, "unexpected character '@'"),
    ("sync\nloop 2\nsync\n", 2, 1, "loop without endloop"),
    ("endloop", 1, 1, "endloop without a matching loop"),
    ("move NRAM NRAM 4", 1, 11, "to itself"),
    ("move DRAM NRAM 99999999999999999999", 1, 16, "too large"),
    ("move DRAM NRAM[0x10 4", 1, 21, "expected ']'"),
    (".core mem\ncompute MAC_32 4", 2, 1, "no compute unit"),
    (".core mem\nmove DRAM NRAM 4", 2, 1, "only move between DRAM and SharedRAM"),
    ("loop 2\n.core 0\nendloop", 2, 1, "inside the loop"),
    (".core 3-1", 1, 9, "empty core range"),
    (".core", 1, 6, "which cores"),
    ("sync\n.machine dlp-m", 2, 1, "must come before"),
    (".machine dlp-m\n.machine dlp-s", 2, 1, "given twice"),
    ("loop 1\n" * 101, 101, 1, "nest more than 100"),
    # A repeated line is checked against where it stands, like its first occurrence.
    ("move DRAM NRAM 4\n.core mem\nmove DRAM NRAM 4", 3, 1, "only move between DRAM and SharedRAM"),
    ("compute MAC_32 4\n.core mem\ncompute MAC_32 4", 3, 1, "no compute unit"),
    ("loop 2\nsync\nendloop\nendloop", 4, 1, "endloop without a matching loop"),
    ("loop 2\nendloop\nloop 2\n", 3, 1, "loop without endloop"),
])
def test_errors_name_line_and_column(text, line, column, words):
    with pytest.raises(ProgramError) as raised:
        assemble(text, "bad.asm")
    error = raised.value
    assert (error.location.line, error.location.column) == (line, column)
    assert words in error.message
    assert str(error).startswith(f"bad.asm:{line}:{column}: error: ")


def test_listing_shows_each_core_with_line_numbers():
    program = assemble(".core 0\nloop 2\ncompute MAC_32 4\nendloop\n.core mem\nmove DRAM SRAM 8\n", "t.asm")
    listing = format_listing(program, [CoreId(0), CoreId(1), MEMORY_CORE])
    assert "core0: 2 instructions issued" in listing
    assert "      2  loop 2" in listing and "      3      compute MAC_32 4" in listing
    assert "core1: 0 instructions issued\n  (empty)" in listing
    assert "mem: 1 instruction issued\n      6  move DRAM SharedRAM 8" in listing


# -- operands: what each instruction reads and writes (contract v2, "Data") ----------------------

def test_shape_operands_are_sized_by_the_shape_and_the_type_width():
    from dlpsim.asm.program import accesses

    (gemm,) = only_stream("compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x100] -> NRAM[0x8000]\n")
    a, b, c = accesses(gemm)
    assert (a.operand.memory, a.role, a.writes, a.region) == (Memory.NRAM, "A", False, (0, 32 * 256 * 4))
    assert (b.operand.memory, b.role, b.writes, b.region) == (Memory.WRAM, "B", False,
                                                              (0x100, 0x100 + 256 * 128 * 4))
    assert (c.operand.memory, c.role, c.writes, c.region) == (Memory.NRAM, "C", True,
                                                              (0x8000, 0x8000 + 32 * 128 * 4))
    # MAC_16: two bytes per element
    (half,) = only_stream("compute MAC_16 2x3x4 NRAM[0x0], WRAM[0x0] -> NRAM[0x100]\n")
    assert [access.region for access in accesses(half)] == [(0, 2 * 3 * 2), (0, 3 * 4 * 2),
                                                           (0x100, 0x100 + 2 * 4 * 2)]


def test_accumulating_reads_and_writes_c():
    from dlpsim.asm.program import accesses

    (gemm,) = only_stream("compute MAC_32 4x8x2 NRAM[0x0], WRAM[0x0] +> NRAM[0x400]\n")
    assert gemm.operands.accumulate
    roles = [(access.role, access.writes) for access in accesses(gemm)]
    assert roles == [("A", False), ("B", False), ("C", False), ("C", True)]
    assert str(gemm) == "compute MAC_32 4x8x2 NRAM[0x0], WRAM[0x0] +> NRAM[0x400]"


def test_vector_operands_are_n_elements_each_and_may_work_in_place():
    from dlpsim.asm.program import accesses

    (add,) = only_stream("compute ADD_16 100 NRAM[0x0], NRAM[0x1000] -> NRAM[0x0]\n")
    assert [access.region for access in accesses(add)] == [(0, 200), (0x1000, 0x1000 + 200), (0, 200)]


def test_explicit_ranges_and_operands_without_addresses():
    from dlpsim.asm.program import accesses

    ranged, loose, move = only_stream(
        "compute MAC_32 256 NRAM[0x0:0x400], WRAM[0x0:0x400] -> NRAM[0x400:0x404]\n"
        "compute MUL_32 64 NRAM, WRAM -> NRAM\n"
        "move DRAM[0x40:0x80] NRAM 64\n")
    assert [access.region for access in accesses(ranged)] == [(0, 0x400), (0, 0x400), (0x400, 0x404)]
    assert [access.region for access in accesses(loose)] == [None, None, None]  # unchecked, never guessed
    assert [access.region for access in accesses(move)] == [(0x40, 0x80), None]
    plain = only_stream("compute MAC_32 256\n")[0]
    assert accesses(plain) == ()  # no operands: nothing to check


def test_operands_print_back_and_reassemble_equal():
    from dlpsim.asm.printer import print_program

    text = ("compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x0] -> NRAM[0x8000]\n"
            "compute ADD_32 64 NRAM[0x0:0x100], NRAM[0x100] +> NRAM[0x200]\n"
            "move DRAM[0x0:0x400] NRAM[0x0] 1024\n")
    program = assemble(text, "t.asm")
    assert print_program(program) == text
    listing = format_listing(program, [CoreId(0)])
    assert "compute ADD_32 64 NRAM[0x0:0x100], NRAM[0x100] +> NRAM[0x200]" in listing


@pytest.mark.parametrize("text, where, message", [
    ("compute MAC_32 4x4x4 SharedRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n", "1:22", "NRAM and WRAM only"),
    ("compute MAC_32 4x4x4 NRAM[0x0], WRAM[0x0]\n", "1:42", "expected '->'"),
    ("compute MAC_32 4x4x4 NRAM[0x0] WRAM[0x0] -> NRAM[0x400]\n", "1:32", "expected ','"),
    ("compute MAC_32 4x4x4 NRAM[0x10:0x8], WRAM[0x0] -> NRAM[0x400]\n", "1:32", "an empty range"),
    ("compute MAC_32 64 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n", "1:19", "gives no shape"),
    ("compute MAC_32 2x2x2 NRAM[0x0], WRAM[0x0] -> NRAM[0x8]\n", "1:46", "overlaps operand A"),
    ("compute ADD_32 4 NRAM[0x0], NRAM[0x10] -> NRAM[0x8]\n", "1:43", "overlaps operand A"),
    ("compute MAC_32 2x2x2 NRAM[0x0], WRAM[0x0] -> NRAM[0x10] WRAM\n", "1:57", "unexpected 'WRAM'"),
    ("move DRAM[0x0:0x10] NRAM 32\n", "1:6", "holds 16 B, but the move's size is 32 B"),
])
def test_bad_operands_are_refused_at_their_place(text, where, message):
    with pytest.raises(ProgramError) as raised:
        assemble(text, "bad.asm")
    assert str(raised.value).startswith(f"bad.asm:{where}: error:"), str(raised.value)
    assert message in str(raised.value)


def test_operands_past_the_end_of_their_memory_are_refused_with_the_machine():
    from dlpsim.machine import load_machine
    from dlpsim.sim.check import bind

    dlp_s = load_machine("dlp-s")
    # B is 256 x 128 x 4 B = 128 KB; from 128 KB it ends exactly at the end of the 256 KB WRAM
    bind(assemble("compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x20000] -> NRAM[0x8000]\n", "ok.asm"), dlp_s)
    program = assemble("compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x20004] -> NRAM[0x8000]\n", "bad.asm")
    with pytest.raises(ProgramError) as raised:
        bind(program, dlp_s)
    assert str(raised.value) == (f"bad.asm:1:38: error: operand B WRAM[0x20004:0x40004) ends at byte "
                                 f"{0x40004}, past the end of WRAM (262144 B on dlp-s)")


# -- loop indices and affine operand addresses ----------------------------------------------------------

AFFINE = ("loop 3 as t\n"
          "    loop 2 as u\n"
          "        move DRAM[0x1000 + 0x2400*t - 4*u] NRAM[0x100 + 0x40*t : 0x140 + 0x40*t] 64\n"
          "        compute ADD_32 4 NRAM[0x0], WRAM[t*16 + 1K] -> NRAM[0x800 + 2*0x10*u]\n"
          "    endloop\n"
          "endloop\n")


def test_affine_operands_keep_the_address_at_zero_and_a_stride_per_index():
    (outer,) = assemble(AFFINE).sections[0].statements
    (inner,) = outer.body
    move, compute = inner.body
    assert (outer.index, inner.index) == ("t", "u")
    assert (move.source.offset, move.source.strides) == (0x1000, (("t", 0x2400), ("u", -4)))
    assert (move.destination.offset, move.destination.end, move.destination.strides) == (0x100, 0x140,
                                                                                         (("t", 0x40),))
    assert (compute.operands.b.offset, compute.operands.b.strides) == (1024, (("t", 16),))
    assert (compute.operands.c.offset, compute.operands.c.strides) == (0x800, (("u", 32),))
    assert compute.operands.a.strides == ()


def test_expand_resolves_each_iteration_and_keeps_constant_instructions_identical():
    program = assemble(AFFINE + "sync\n")
    stream = list(expand(program.stream(CoreId(0))))
    moves = [i for i in stream if isinstance(i, Move)]
    # iteration (t, u) reads DRAM[0x1000 + 0x2400*t - 4*u], in the order t=0: u=0,1; t=1: ...
    assert [m.source.offset for m in moves] == [0x1000 + 0x2400 * t - 4 * u
                                                for t in range(3) for u in range(2)]
    assert [m.destination.region(64) for m in moves] == [(0x100 + 0x40 * t, 0x140 + 0x40 * t)
                                                         for t in range(3) for _ in range(2)]
    assert all(m.source.strides == () and m.destination.strides == () for m in moves)
    assert stream[-1] is program.sections[0].statements[-1]  # the sync: the text's own object
    constant = assemble("loop 3\nmove DRAM[0x0] NRAM[0x0] 4\nendloop\n")
    (text_move,) = constant.sections[0].statements[0].body
    assert all(each is text_move for each in expand(constant.sections[0].statements))


@pytest.mark.parametrize("text, line, column, words", [
    ("loop 2 as t\nmove DRAM[u] NRAM 4\nendloop", 2, 11,
     "unknown loop index 'u' (the enclosing loops' indices: t)"),
    ("move DRAM[t] NRAM 4", 1, 11, "no enclosing loop has an index"),
    ("loop 2 as t\nendloop\nmove DRAM[t] NRAM 4", 3, 11,
     "'t' is used outside its loop (opened at bad.asm:1:1)"),
    ("loop 2 as t\nloop 2 as t\nendloop\nendloop", 2, 11,
     "shadows the index of the enclosing loop at bad.asm:1:1"),
    ("loop 2 as t\nloop 2 as u\nmove DRAM[t*u] NRAM 4\nendloop\nendloop", 3, 13,
     "multiplies two loop indices"),
    ("loop 2 as nram\nendloop", 1, 11, "cannot name a loop index"),
    ("loop 2 as move\nendloop", 1, 11, "cannot name a loop index"),
    ("loop 2 as\nendloop", 1, 10, "a name for the loop index"),
    ("loop 2 as 3\nendloop", 1, 11, "a name for the loop index"),
    ("loop 2 as t\nmove DRAM NRAM[t : 0x40 + 2*t] 64\nendloop", 2, 20,
     "the ends of a range must move together"),
    ("move DRAM NRAM[-0x40] 4", 1, 16, "a negative address"),
    # A (16 B) at 0x40 - 0x10*t reaches C at 0x10 when t = 3
    ("loop 4 as t\ncompute MAC_32 2x2x2 NRAM[0x40 - 0x10*t], WRAM[0x0] -> NRAM[0x10]\nendloop", 2, 56,
     "NRAM[0x10:0x20) overlaps operand A NRAM[0x10:0x20) when t = 3"),
    ("loop 3 as t\ncompute MAC_32 2x2x2 NRAM[0x40 - 0x10*t], WRAM[0x0] -> NRAM[0x10]\nendloop", 0, 0,
     "no error: t <= 2 keeps A above 0x20"),
])
def test_affine_errors_name_line_and_column(text, line, column, words):
    if line == 0:
        assemble(text, "bad.asm")
    else:
        test_errors_name_line_and_column(text, line, column, words)


def test_affine_bounds_hold_in_every_iteration():
    from dlpsim.machine import load_machine
    from dlpsim.sim.check import bind
    machine = load_machine("dlp-s")  # NRAM: 128 KB = 0x20000 B
    # 0x1F000 + 0x400*t + 1 KB ends at 0x1F000 + 0x400*3 + 0x400 = 0x20000 for t <= 3: fits;
    # one more iteration ends at 0x20400, past the end.
    fits = "loop 4 as t\nmove DRAM NRAM[0x1F000 + 0x400*t] 1K\nendloop\n"
    bind(assemble(fits), machine)
    with pytest.raises(ProgramError, match=r"2:11: error: NRAM\[0x1f000 \+ 0x400\*t\] ends at byte 132096 "):
        bind(assemble(fits.replace("loop 4", "loop 5")), machine)
    # 0x100 - 0x40*t starts below 0 once t = 5
    with pytest.raises(ProgramError, match="starts at byte -64 in some iteration"):
        bind(assemble("loop 6 as t\nmove DRAM NRAM[0x100 - 0x40*t] 64\nendloop\n"), machine)
