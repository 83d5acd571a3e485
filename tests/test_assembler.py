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
