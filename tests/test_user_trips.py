"""What a new user trips on (the issue "Runs that hang or eat memory, and what a new user trips
on", items 6 to 8): each small thing with the test that keeps it fixed."""

from __future__ import annotations

import pytest

from dlpsim.asm import CoreId, Move, assemble, assemble_file
from dlpsim.errors import ProgramError

# -- a byte-order mark -----------------------------------------------------------------------


def test_a_byte_order_mark_is_accepted_in_a_file_and_in_text(tmp_path):
    path = tmp_path / "bom.asm"
    path.write_bytes("move DRAM, NRAM, 64\n".encode("utf-8-sig"))
    for program in (assemble_file(path), assemble("\ufeffmove DRAM, NRAM, 64\n", "t.asm")):
        (move,) = program.stream(CoreId(0))
        assert isinstance(move, Move) and move.location.column == 1


def test_line_1s_columns_after_a_byte_order_mark_are_those_the_editor_shows():
    with pytest.raises(ProgramError) as error:
        assemble("\ufeffmove DRAM, NRAM, 64 x\n", "t.asm")
    assert str(error.value).startswith("t.asm:1:21: error: unexpected 'x'")


def test_a_byte_order_mark_after_the_start_is_still_an_unexpected_character():
    with pytest.raises(ProgramError, match=r"t.asm:2:1: error: unexpected character '\\ufeff'"):
        assemble("sync\n\ufeffsync\n", "t.asm")


# -- long numbers in messages ----------------------------------------------------------------

HUGE = "1" * 99_999 + "7"


@pytest.mark.parametrize(("text", "message"), [
    (f"loop {HUGE}\nendloop\n", "t.asm:1:6: error: a loop count is too large (at most 9223372036854775807)"),
    (f"loop 5 {HUGE}\nendloop\n",
     "t.asm:1:8: error: unexpected '11111111...11111117' (100,000 digits) after the operands of `loop"),
    (f"{HUGE}\n", "t.asm:1:1: error: expected an instruction, got '11111111...11111117' (100,000 digits)"),
    (f"move DRAM {HUGE}\n",
     "t.asm:1:11: error: unknown memory '11111111...11111117' (100,000 digits) (expected DRAM"),
    (f"compute {HUGE}\n",
     "t.asm:1:9: error: unknown compute type '11111111...11111117' (100,000 digits) (expected one of"),
    (f"move DRAM[0 {HUGE}\n", "t.asm:1:13: error: expected ']', got '11111111...11111117' (100,000 digits)"),
    (f"loop 0x{'F' * 30}_K\nendloop\n", "t.asm:1:6: error: a loop count is too large"),
    (f"sync 0x{'F' * 30}_K\n", "t.asm:1:6: error: unexpected '0xFFFFFF...FFFFFF_K' (30 digits) after"),
])
def test_a_long_number_is_abbreviated_with_its_digit_count(text, message):
    with pytest.raises(ProgramError) as error:
        assemble(text, "t.asm")
    shown = str(error.value)
    assert message in shown and len(shown) < 300


def test_a_number_of_ordinary_length_is_echoed_whole():
    with pytest.raises(ProgramError, match=r"unexpected '123456789012345678901234' after"):
        assemble("sync 123456789012345678901234\n", "t.asm")
