"""A Program printed back to assemblable text, and written in the layout it prints in.

``print_program`` puts every statement on the line its location names (blank lines and
whole-line comments fill the gaps), loop bodies indented by four spaces. A
:class:`ProgramWriter` gives each statement it is handed the line and column that text
will show, so a program built with it prints to text that assembles to an equal Program,
and errors and traces name real lines of what was printed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dlpsim.asm.program import (
    Barrier,
    Compute,
    ComputeOperands,
    CoreSelector,
    Instruction,
    Loop,
    Move,
    Operand,
    Program,
    ProgramBuilder,
    Section,
    Statement,
    Sync,
)
from dlpsim.errors import SourceLocation

INDENT = "    "  # one level of loop nesting
# Where an instruction not yet placed on a line says it is; ProgramWriter gives it its place.
UNPLACED = SourceLocation("", 0, 0)


@dataclass(frozen=True)
class Comment:
    """A whole line of comment: ``; text``, at column 1."""

    line: int
    text: str

    def __str__(self) -> str:
        return f"; {self.text}".rstrip()


def placed(instruction: Instruction, location: SourceLocation) -> Instruction:
    """The instruction at ``location``, its operands at the columns the printed line gives them."""
    def at(operand: Operand, offset: int) -> Operand:
        return Operand(operand.memory, operand.offset,
                       SourceLocation(location.file, location.line, location.column + offset), operand.end,
                       operand.strides)

    if isinstance(instruction, Move):
        source_offset, destination_offset = _operand_offsets(instruction)
        return Move(at(instruction.source, source_offset), at(instruction.destination, destination_offset),
                    instruction.size, location)
    if isinstance(instruction, Compute):
        operands = instruction.operands
        if operands is not None:  # "compute T AMOUNT A, B -> C"
            a_offset, b_offset, c_offset = _operand_offsets(instruction)
            b = at(operands.b, b_offset) if isinstance(operands.b, Operand) else operands.b
            operands = ComputeOperands(at(operands.a, a_offset), b, at(operands.c, c_offset),
                                       operands.accumulate)
        return Compute(instruction.type, instruction.count, location, instruction.shape, operands,
                       instruction.window, instruction.rows)
    return Sync(location) if isinstance(instruction, Sync) else Barrier(location)


# id(instruction) -> (the instruction, its operands' columns from the line's first column). A
# compiled program places the same few instruction objects thousands of times, and printing
# operands to measure them is most of the cost of placing one; the instruction is kept so
# that its id cannot be reused while cached.
_OFFSETS: dict[int, tuple[Instruction, tuple[int | None, ...]]] = {}
_MAX_OFFSETS = 65536


def _operand_offsets(instruction: Move | Compute) -> tuple[int | None, ...]:
    known = _OFFSETS.get(id(instruction))
    if known is not None and known[0] is instruction:
        return known[1]
    if isinstance(instruction, Move):
        source = len("move ")
        offsets: tuple[int | None, ...] = (source, source + len(str(instruction.source)) + 1)
    else:
        operands = instruction.operands
        a = len(str(dataclasses.replace(instruction, operands=None, window=None, rows=None))) + 1
        if operands.b is None:  # "A -> C"
            b = None
            c = a + len(str(operands.a)) + len(" -> ")
        else:
            b = a + len(str(operands.a)) + len(", ")
            c = b + len(str(operands.b)) + len(" -> ")
        offsets = (a, b, c)
    if len(_OFFSETS) >= _MAX_OFFSETS:
        _OFFSETS.clear()
    _OFFSETS[id(instruction)] = (instruction, offsets)
    return offsets


class ProgramWriter:
    """Builds a Program line by line, each statement placed where print_program prints it."""

    def __init__(self, file: str):
        self.file = file
        self.line = 0  # the last line written
        self.builder = ProgramBuilder()
        self.machine: str | None = None
        self.machine_location: SourceLocation | None = None
        self.comments: list[Comment] = []

    def _next_line(self) -> SourceLocation:
        self.line += 1
        return SourceLocation(self.file, self.line, 1 + len(INDENT) * len(self.builder.open_loops))

    def blank(self) -> None:
        self.line += 1

    def comment(self, text: str) -> None:
        self.line += 1
        self.comments.append(Comment(self.line, text))

    def machine_line(self, name: str) -> None:
        self.machine, self.machine_location = name, self._next_line()

    def core(self, indices: tuple[int, ...] | None, memory_core: bool = False) -> None:
        """A ``.core`` line: the statements after it are those cores' (see CoreSelector)."""
        self.builder.select(CoreSelector(indices, memory_core, self._next_line()))

    def instruction(self, instruction: Instruction) -> None:
        self.builder.add(placed(instruction, self._next_line()))

    def loop(self, count: int, index: str | None = None) -> None:
        self.builder.open_loop(count, self._next_line(), index)

    def endloop(self) -> None:
        self.line += 1
        self.builder.close_loop()

    def program(self) -> Program:
        return self.builder.program(self.file, self.machine, self.machine_location)


class _Lines:
    """Text being printed: each item on its line, or the next line if that one is taken."""

    def __init__(self, comments: tuple[Comment, ...]):
        self.lines: list[str] = []
        self.comments = {comment.line: str(comment) for comment in comments}

    def put(self, location: SourceLocation | None, text: str) -> None:
        line = 0 if location is None else location.line
        while len(self.lines) + 1 < line:
            self.lines.append(self.comments.pop(len(self.lines) + 1, ""))
        self.lines.append(text)

    def statements(self, statements: tuple[Statement, ...], depth: int) -> None:
        for statement in statements:
            self.put(statement.location, f"{INDENT * depth}{statement}")
            if isinstance(statement, Loop):
                self.statements(statement.body, depth + 1)
                self.put(None, f"{INDENT * depth}endloop")

    def text(self) -> str:
        # comments after the last statement, and any a statement's line took, are not lost
        for line in sorted(self.comments):
            self.put(SourceLocation("", line, 1), self.comments.pop(line))
        return "\n".join(self.lines) + "\n"


def print_program(program: Program, comments: tuple[Comment, ...] = ()) -> str:
    """The program as assemblable text, with ``comments`` on their lines."""
    lines = _Lines(comments)
    if program.machine is not None:
        lines.put(program.machine_location, f".machine {program.machine}")
    for section in program.sections:
        if section.cores.location is not None:
            lines.put(section.cores.location, f".core {section.cores}")
        lines.statements(section.statements, 0)
    return lines.text()


def moved(program: Program, comments: tuple[Comment, ...], file: str,
          lines: int) -> tuple[Program, tuple[Comment, ...]]:
    """A program laid out as print_program prints it, and its comments, ``lines`` lines further
    down and in ``file``: what it becomes when text is put above it."""
    def at(location: SourceLocation) -> SourceLocation:
        return SourceLocation(file, location.line + lines, location.column)

    def statement(each: Statement) -> Statement:
        if isinstance(each, Loop):
            return Loop(each.count, tuple(statement(inner) for inner in each.body), at(each.location),
                        each.index)
        return placed(each, at(each.location))

    sections = tuple(Section(CoreSelector(section.cores.indices, section.cores.memory_core,
                                                 None if section.cores.location is None
                                                 else at(section.cores.location)),
                                   tuple(statement(each) for each in section.statements))
                     for section in program.sections)
    machine_location = None if program.machine_location is None else at(program.machine_location)
    return (Program(file, program.machine, machine_location, sections),
            tuple(Comment(comment.line + lines, comment.text) for comment in comments))
