"""The printer: a Program back to text, on the lines its statements name."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpsim.asm import assemble, assemble_file
from dlpsim.asm.opcodes import COMPUTE_TYPES, Memory
from dlpsim.asm.printer import UNPLACED, Comment, ProgramWriter, moved, print_program
from dlpsim.asm.program import Barrier, Compute, Move, Operand, Sync, walk

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((REPO / "programs").glob("*.asm"))


def _lines(program) -> list[tuple[str, int]]:
    return [(str(statement), statement.location.line)
            for section in program.sections for statement in walk(section.statements)]


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda path: path.name)
def test_a_hand_written_program_prints_with_every_statement_on_its_line(path):
    program = assemble_file(path)
    text = print_program(program)
    again = assemble(text, program.file)
    assert _lines(again) == _lines(program)
    assert (again.machine, [section.cores.indices for section in again.sections]) == (
        program.machine, [section.cores.indices for section in program.sections])
    assert print_program(again) == text


def test_the_writer_places_statements_where_the_printer_puts_them():
    writer = ProgramWriter("w.asm")
    writer.comment("a header")
    writer.comment("")
    writer.machine_line("dlp-m")
    writer.blank()
    writer.core((0, 2))
    writer.loop(3)
    writer.instruction(Move(Operand(Memory.DRAM, None, UNPLACED), Operand(Memory.NRAM, 0x40, UNPLACED),
                            64, UNPLACED))
    writer.loop(2)
    writer.instruction(Compute(COMPUTE_TYPES["MAC_32"], 24, UNPLACED, (2, 3, 4)))
    writer.endloop()
    writer.instruction(Sync(UNPLACED))
    writer.endloop()
    writer.core(None, memory_core=True)
    writer.instruction(Barrier(UNPLACED))
    program, comments = writer.program(), tuple(writer.comments)
    text = print_program(program, comments)
    assert text == ("; a header\n;\n.machine dlp-m\n\n.core 0,2\nloop 3\n    move DRAM NRAM[0x40] 64\n"
                    "    loop 2\n        compute MAC_32 2x3x4\n    endloop\n    sync\nendloop\n.core mem\n"
                    "barrier\n")
    assert assemble(text, "w.asm") == program
    below, shifted = moved(program, comments, "x.asm", 2)
    assert shifted == (Comment(3, "a header"), Comment(4, ""))
    assert assemble("\n\n" + text, "x.asm") == below


def test_loop_indices_and_affine_operands_print_back_to_an_equal_program():
    text = ("loop 3 as t\n"
            "    loop 2 as u\n"
            "        move DRAM[0x1000 + 0x2400*t - 0x4*u] NRAM[0x100 + 0x40*t : 0x140 + 0x40*t] 64\n"
            "        compute ADD_32 4 NRAM[0x100], WRAM[0x400 + t] -> NRAM[-0x20 + 0x20*u + 0x20]\n"
            "    endloop\n"
            "endloop\n")
    program = assemble(text, "affine.asm")
    printed = print_program(program)
    # the constant terms are summed, each index's multiples gathered: -0x20 + 0x20 is 0x0
    assert "NRAM[0x0 + 0x20*u]" in printed and "WRAM[0x400 + t]" in printed
    again = assemble(printed, "affine.asm")
    assert print_program(again) == printed
    assert again == assemble(print_program(again), "affine.asm")
