"""Program text -> :class:`Program`.

One pass over the lines: each line is stripped of its comment, split into
tokens that remember their column, and parsed by the rule of its first word.
The first error stops assembly and names its file, line and column.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from pathlib import Path

from dlpsim.asm.opcodes import (
    COMPUTE_TYPES,
    DIRECTIVES,
    IMMEDIATE_PREFIX,
    MEMORY_NAMES,
    MNEMONICS,
    NUMBER_SUFFIXES,
    OPERATIONS,
    ComputeType,
    Memory,
    Unit,
)
from dlpsim.asm.program import (
    ACCUMULATES,
    SEARCH_BUDGET,
    WRITES,
    Barrier,
    Compute,
    ComputeOperands,
    CoreSelector,
    Immediate,
    Loop,
    Move,
    Operand,
    Program,
    ProgramBuilder,
    Rows,
    SearchTooLarge,
    Statement,
    Strides,
    Sync,
    Window,
    affine_text,
    overlap_possible,
)
from dlpsim.errors import ProgramError, SourceLocation

# The largest number a program may write: counts and sizes are 64-bit quantities.
MAX_NUMBER = 2**63 - 1
# Deeper loop nests are refused: no real program needs them, and they would exhaust the stack.
MAX_LOOP_DEPTH = 100
# A window's sizes, kernel, strides, padding, dilation and groups are at most this: no memory
# holds that many rows, and it keeps functional execution's index arithmetic within 64 bits.
MAX_WINDOW_NUMBER = 2**32
# Core numbers beyond this are refused at once rather than listed one by one.
MAX_CORE_INDEX = 1023

BYTE_ORDER_MARK = "\ufeff"

_COMMENT = re.compile(r";|#|//")
# An ``x`` before a digit separates the dimensions of a shape (``32x256x128``, ``4Kx8x16``), and a
# suffix may stand just before it. ``0x`` starts a hexadecimal number except straight after such
# an ``x``: ``3x0x5`` is 3 x 0 x 5, and a hexadecimal dimension after the first needs a space.
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:(?<![xX])0[xX][0-9A-Fa-f_]+|[0-9][0-9_]*)"
    r"(?:[KMGkmg](?![A-Za-z0-9_])|[KMGkmg](?=[xX]\s*[0-9]))?)"
    r"|(?P<times>[xX](?=\s*[0-9]))"
    r"|(?P<word>\.?[A-Za-z_][A-Za-z0-9_]*)"
    rf"|(?P<immediate>{re.escape(IMMEDIATE_PREFIX)}(?:[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)?)"
    r"|(?P<punct>->|\+>|[*\[\],:+-]))"
)


# A number token longer than this is shown abbreviated in messages: a 100,000-digit number
# echoed whole would bury the error line.
SHOWN_NUMBER_LENGTH = 24
SHOWN_NUMBER_ENDS = 8


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "word" or "punct"
    text: str
    location: SourceLocation

    @property
    def shown(self) -> str:
        """The token quoted for a message; a long number as its first and last digits and its length."""
        if self.kind != "number" or len(self.text) <= SHOWN_NUMBER_LENGTH:
            return repr(self.text)
        body = self.text[2:] if self.text[:2].lower() == "0x" else self.text
        digits = sum(character in string.hexdigits for character in body)  # not _ or a K, M, G suffix
        return (f"'{self.text[:SHOWN_NUMBER_ENDS]}...{self.text[-SHOWN_NUMBER_ENDS:]}' "
                f"({digits:,} digits)")


def strip_comment(line: str) -> str:
    match = _COMMENT.search(line)
    return line if match is None else line[: match.start()]


def tokenize(line: str, file: str, line_number: int) -> list[Token]:
    tokens = []
    text = strip_comment(line)
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            character = text[column - 1]
            raise ProgramError(SourceLocation(file, line_number, column),
                               f"unexpected character {character!r}")
        group = match.lastgroup
        column = match.start(group) + 1
        kind = "punct" if group == "times" else group
        tokens.append(Token(kind, match.group(group), SourceLocation(file, line_number, column)))
        position = match.end()
    return tokens


def number_value(token: Token) -> int:
    """``4096``, ``0x1000``, ``4K`` (K, M, G are binary: 1024, 1024**2, 1024**3)."""
    text = token.text.replace("_", "")
    scale = NUMBER_SUFFIXES.get(text[-1].upper(), 1)
    if scale != 1:
        text = text[:-1]
    base = 16 if text.lower().startswith("0x") else 10
    digits = text[2:] if base == 16 else text
    if len(digits.lstrip("0_")) > len(str(MAX_NUMBER)):
        # Surely above MAX_NUMBER, which every caller refuses with its own words; not converted,
        # as int() refuses more than 4,300 digits and would make it "malformed".
        return MAX_NUMBER + 1
    try:
        return int(text, base) * scale
    except ValueError:
        raise ProgramError(token.location, f"malformed number {token.shown}") from None


# Words that cannot name a loop index: they already mean something in an operand or a line.
RESERVED_WORDS = frozenset([*MEMORY_NAMES, *MNEMONICS, *(name.lower() for name in COMPUTE_TYPES),
                            "as", "all", "mem"])


class _Line:
    """A cursor over one line's tokens, with the parsing rules operands share."""

    def __init__(self, tokens: list[Token], end: SourceLocation,
                 indices: tuple[str, ...] = (), closed: dict[str, SourceLocation] | None = None):
        self.tokens = tokens
        self.position = 0
        self.end = end  # where "expected X" points when the line runs out
        self.indices = indices  # of the loops open around the line, outermost first
        self.closed = closed or {}  # indices of loops already closed -> where they were opened

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise ProgramError(self.end, f"expected {what}")
        self.position += 1
        return token

    def skip_comma(self) -> None:
        token = self.peek()
        if token is not None and token.text == ",":
            self.position += 1

    def finish(self, syntax: str) -> None:
        token = self.peek()
        if token is not None:
            raise ProgramError(token.location,
                               f"unexpected {token.shown} after the operands of `{syntax}`")

    def expression(self, what: str) -> tuple[int, SourceLocation]:
        """A number, or a product of numbers such as ``32*256*4``."""
        first = self.take(what)
        if first.kind != "number":
            raise ProgramError(first.location, f"expected {what}, got {first.shown}")
        value = number_value(first)
        while (token := self.peek()) is not None and token.text == "*":
            self.position += 1
            factor = self.take(f"a number after '*' in {what}")
            if factor.kind != "number":
                raise ProgramError(factor.location, f"expected a number after '*', got {factor.shown}")
            value *= number_value(factor)
            if value > MAX_NUMBER:
                break
        if value > MAX_NUMBER:
            raise ProgramError(first.location, f"{what} is too large (at most {MAX_NUMBER})")
        return value, first.location

    def affine(self, what: str) -> tuple[int, Strides, SourceLocation]:
        """An address: a sum of terms, each a product of numbers and at most one loop index
        (``0x1000 + 0x2400*t - 64*u``). Returns the value when every index is 0 and each index's
        coefficient, in the order the text first names them."""
        start = self.peek()
        constant = 0
        coefficients: dict[str, int] = {}
        sign = 1
        if start is not None and start.text == "-":
            sign = -1
            self.position += 1
        while True:
            value, index, location = self.term(what)
            if index is None:
                constant += sign * value
            else:
                coefficients[index] = coefficients.get(index, 0) + sign * value
            if abs(constant) > MAX_NUMBER or any(abs(c) > MAX_NUMBER for c in coefficients.values()):
                raise ProgramError(location, f"{what} is too large (at most {MAX_NUMBER})")
            token = self.peek()
            if token is None or token.text not in ("+", "-"):
                break
            sign = 1 if token.text == "+" else -1
            self.position += 1
        where = start.location if start is not None else self.end
        return constant, tuple((name, c) for name, c in coefficients.items() if c), where

    def term(self, what: str) -> tuple[int, str | None, SourceLocation]:
        """A product of numbers and at most one loop index: (the numbers' product, the index)."""
        value, index, first_location = 1, None, None
        while True:
            token = self.take(what)
            first_location = first_location or token.location
            if token.kind == "number":
                value *= number_value(token)
                if value > MAX_NUMBER:
                    raise ProgramError(first_location, f"{what} is too large (at most {MAX_NUMBER})")
            elif token.kind == "word" and not token.text.startswith("."):
                name = self.index_name(token)
                if index is not None:
                    raise ProgramError(token.location,
                                       f"{index}*{name} multiplies two loop indices: an address must be "
                                       "affine, each term a number times at most one index")
                index = name
            else:
                raise ProgramError(token.location, f"expected {what}, got {token.shown}")
            if (following := self.peek()) is None or following.text != "*":
                return value, index, first_location
            self.position += 1

    def index_name(self, token: Token) -> str:
        """The loop index a word in an address names, refused unless an enclosing loop has it."""
        name = token.text
        if name in self.indices:
            return name
        if name in self.closed:
            raise ProgramError(token.location, f"the loop index '{name}' is used outside its loop "
                                               f"(opened at {self.closed[name]})")
        known = (f"the enclosing loops' indices: {', '.join(self.indices)}" if self.indices
                 else "no enclosing loop has an index: write `loop COUNT as NAME`")
        raise ProgramError(token.location, f"unknown loop index {token.shown} ({known})")

    def shape(self, first: int, first_location: SourceLocation,
              compute_type: ComputeType) -> tuple[int, int, int] | None:
        """After the first number of ``compute``: the rest of a shape ``MxKxN``, if an ``x`` follows."""
        token = self.peek()
        if token is None or token.text not in ("x", "X"):
            return None
        if compute_type.unit is not Unit.MATRIX:
            raise ProgramError(token.location,
                               f"a shape MxKxN is only for the matrix unit's MAC types; {compute_type} "
                               f"takes a number of operations: `compute {compute_type} NUM`")
        dimensions = [(first, first_location)]
        for name in ("K", "N"):
            separator = self.take(f"'x' and the {name} dimension of the shape MxKxN")
            if separator.text not in ("x", "X"):
                raise ProgramError(separator.location,
                                   f"expected 'x' and the {name} dimension of the shape MxKxN, "
                                   f"got {separator.shown}")
            dimensions.append(self.expression(f"the {name} dimension of the shape MxKxN"))
        if (token := self.peek()) is not None and token.text in ("x", "X"):
            raise ProgramError(token.location, "a shape has three dimensions, MxKxN, not more")
        for name, (value, where) in zip("MKN", dimensions, strict=True):
            if value <= 0:
                raise ProgramError(where, f"each dimension of a shape must be positive, got {name} = {value}")
        (m, _), (k, _), (n, _) = dimensions
        if m * k * n > MAX_NUMBER:
            raise ProgramError(first_location, f"the shape's {m} x {k} x {n} operations are too many "
                                               f"(at most {MAX_NUMBER})")
        return m, k, n

    def memory(self, what: str) -> Operand:
        token = self.take(what)
        memory = MEMORY_NAMES.get(token.text.lower()) if token.kind == "word" else None
        if memory is None:
            names = ", ".join(m.value for m in Memory)
            raise ProgramError(token.location, f"unknown memory {token.shown} (expected {names})")
        offset = end = None
        strides: Strides = ()
        bracket = self.peek()
        if bracket is not None and bracket.text == "[":
            self.position += 1
            offset, strides, offset_location = self.affine(f"an offset into {memory.value}")
            if (colon := self.peek()) is not None and colon.text == ":":
                self.position += 1
                end, end_strides, end_location = self.affine(f"the end of the range in {memory.value}")
                if dict(end_strides) != dict(strides):
                    raise ProgramError(end_location,
                                       f"the ends of a range must move together: the start is "
                                       f"{affine_text(offset, strides)}, the end "
                                       f"{affine_text(end, end_strides)} "
                                       "(give both ends the same multiple of each loop index)")
                if end <= offset:
                    raise ProgramError(end_location, f"an empty range: {memory.value}[{offset:#x}:{end:#x}] "
                                                     "ends where it starts or before (write MEM[lo:hi], "
                                                     "hi > lo)")
            if offset < 0 and not strides:
                raise ProgramError(offset_location, f"a negative address: {memory.value}[{offset:#x}]")
            close = self.take("']' to close the address")
            if close.text != "]":
                raise ProgramError(close.location, f"expected ']', got {close.shown}")
        return Operand(memory, offset, token.location, end, strides)

    def compute_operands(self, compute_type: ComputeType,
                         count: int, shape: tuple[int, int, int] | None) -> _Operands | None:
        """``A, B -> C``, ``A, B +> C`` or (no B) ``A -> C`` after a compute's count or shape, if a
        memory follows; B may be an immediate. Which forms a type takes is checked by the caller,
        once it has seen whether a window clause follows."""
        token = self.peek()
        if token is None or token.kind != "word" or token.text.lower() not in MEMORY_NAMES:
            return None  # anything else after the count is reported as unexpected
        reachable = "NRAM or WRAM"
        a = self.memory(f"operand A ({reachable})")
        separator = self.take(f"',' and operand B, or '{WRITES}' and operand C")
        b: Operand | Immediate | None = None
        b_location = None
        if separator.text == ",":
            following = self.peek()
            b_location = following.location if following is not None else self.end
            if following is not None and following.kind == "number":
                raise ProgramError(following.location, f"operand B: write a constant as an immediate, "
                                                       f"{IMMEDIATE_PREFIX}{following.text} (a bare number "
                                                       "is not an operand)")
            b = self.immediate() if following is not None and following.kind == "immediate" \
                else self.memory(f"operand B ({reachable}, or an immediate such as {IMMEDIATE_PREFIX}0)")
            separator = self.take(f"'{WRITES}' and operand C")
            if separator.text not in (WRITES, ACCUMULATES):
                raise ProgramError(separator.location,
                                   f"expected '{WRITES}' (C = A op B) or '{ACCUMULATES}' (C += A op B) and "
                                   f"operand C after operand B, got {separator.shown}")
        elif separator.text not in (WRITES, ACCUMULATES):
            raise ProgramError(separator.location,
                               f"expected ',' and operand B after operand A, got {separator.shown} "
                               f"(a compute names three operands: A, B {WRITES} C; a unary type two: "
                               f"A {WRITES} C)")
        arrow = separator.location
        accumulate = separator.text == ACCUMULATES
        c = self.memory(f"operand C ({reachable})")
        in_memory = [(name, operand) for name, operand in (("A", a), ("B", b), ("C", c))
                     if isinstance(operand, Operand)]
        for _, operand in in_memory:
            if operand.memory not in (Memory.NRAM, Memory.WRAM):
                raise ProgramError(operand.location,
                                   f"a compute reads and writes its core's NRAM and WRAM only, not "
                                   f"{operand.memory.value}")
        if shape is None and compute_type.unit is Unit.MATRIX:
            for name, operand in in_memory:
                if operand.offset is not None and operand.end is None:
                    raise ProgramError(operand.location,
                                       f"operand {name}: `compute {compute_type} {count}` gives no shape to "
                                       "size its operands; give the shape MxKxN or an explicit range "
                                       f"{operand.memory.value}[lo:hi]")
        return _Operands(ComputeOperands(a, b, c, accumulate), b_location, arrow)

    def immediate(self) -> Immediate:
        """``%0.5``, ``%-6.5e-1``: a finite decimal constant."""
        token = self.take("an immediate")
        text = token.text[len(IMMEDIATE_PREFIX):]
        if not text:
            raise ProgramError(token.location, f"expected a decimal number after '{IMMEDIATE_PREFIX}' (an "
                                               f"immediate such as {IMMEDIATE_PREFIX}0 or "
                                               f"{IMMEDIATE_PREFIX}-6.5e-1)")
        value = float(text)
        if not math.isfinite(value):
            raise ProgramError(token.location, f"the immediate {token.shown} is outside the range of a "
                                               "64-bit float")
        return Immediate(value)

    def dimensions(self, count: int, what: str,
                   separator: str = "x") -> tuple[tuple[int, ...], SourceLocation]:
        """``count`` numbers separated by ``separator`` (``8x8x3``, ``1,1,0,0``)."""
        values = []
        first_location = None
        for index in range(count):
            if index:
                token = self.take(f"'{separator}' in {what}")
                if token.text.lower() != separator:
                    raise ProgramError(token.location, f"expected '{separator}' in {what}, got {token.shown}")
            value, location = self.expression(what)
            first_location = first_location or location
            values.append(value)
        return tuple(values), first_location

    def window(self, compute_type: ComputeType) -> tuple[Window, SourceLocation]:
        """The clause after the operands: ``window IHxIWxIC kernel KHxKW [stride SHxSW]
        [pad T,B,L,R] [dilation DHxDW] [groups G]`` (the options in any order, each once)."""
        head = self.take("'window'")
        if not compute_type.windowed:
            raise ProgramError(head.location, f"a window clause is for the MAC, MAX and ADD types (a "
                                              f"convolution tile, a pooling), not {compute_type}")
        (height, width, channels), where = self.dimensions(3, "the window's input IHxIWxIC")
        token = self.take("'kernel KHxKW' after the window's input IHxIWxIC")
        if token.text.lower() != "kernel":
            raise ProgramError(token.location, f"expected 'kernel KHxKW' after the window's input IHxIWxIC, "
                                               f"got {token.shown}")
        kernel, kernel_where = self.dimensions(2, "the kernel KHxKW")
        options = {"stride": (2, "the stride SHxSW", "x"), "pad": (4, "the padding T,B,L,R", ","),
                   "dilation": (2, "the dilation DHxDW", "x"), "groups": (1, "the number of groups G", "x")}
        given: dict[str, tuple[tuple[int, ...], SourceLocation]] = {}
        while (token := self.peek()) is not None:
            word = token.text.lower()
            if token.kind != "word" or word not in options:
                raise ProgramError(token.location, f"unexpected {token.shown} in the window clause (after "
                                                   "the kernel: stride, pad, dilation, groups)")
            if word in given:
                raise ProgramError(token.location, f"'{word}' given twice in the window clause")
            if word == "groups" and compute_type.unit is not Unit.MATRIX:
                raise ProgramError(token.location, "groups are for a MAC window (a convolution); a "
                                                   f"{compute_type.operation} window reduces each channel "
                                                   "on its own already")
            self.position += 1
            count, what, separator = options[word]
            given[word] = self.dimensions(count, what, separator)
        checks = [((height, width, channels), where, "each dimension of the window's input"),
                  (kernel, kernel_where, "each dimension of the kernel")]
        for word in ("stride", "dilation", "groups"):
            if word in given:
                checks.append((*given[word], f"the {options[word][1][4:]}"))
        if "pad" in given:
            checks.append((*given["pad"], "each padding"))
        for values, location, what in checks:
            if any(value > MAX_WINDOW_NUMBER for value in values):
                shown = ("," if what == "each padding" else "x").join(str(v) for v in values)
                raise ProgramError(location, f"{what} must be at most {MAX_WINDOW_NUMBER:,}, got {shown}")
            if what != "each padding" and any(value <= 0 for value in values):
                raise ProgramError(location, f"{what} must be positive, got "
                                             f"{'x'.join(str(v) for v in values)}")
        window = Window(height, width, channels, kernel,
                        given.get("stride", ((1, 1),))[0], given.get("pad", ((0, 0, 0, 0),))[0],
                        given.get("dilation", ((1, 1),))[0], given.get("groups", ((1,),))[0][0])
        sides = ((height, *window.padding[:2]), (width, *window.padding[2:]))
        for axis, (size, before, after) in enumerate(sides):
            spanned = window.dilation[axis] * (window.kernel[axis] - 1) + 1
            if size + before + after < spanned:
                direction = ("rows", "height") if axis == 0 else ("columns", "width")
                raise ProgramError(head.location,
                                   f"the kernel spans {spanned} {direction[0]} but the padded input has "
                                   f"{size + before + after} ({direction[1]} {size} + padding {before} + "
                                   f"{after}): the window has no output position")
        return window, head.location


    def rows(self, compute_type: ComputeType) -> tuple[Rows, SourceLocation]:
        """The clause after the operands: ``rows RxL``."""
        head = self.take("'rows'")
        if compute_type.operation not in ROW_OPERATIONS:
            raise ProgramError(head.location, f"a rows clause is for the binary vector types "
                                              f"({', '.join(ROW_OPERATIONS)}: a row reduction or a per-row "
                                              f"broadcast B), not {compute_type}")
        (rows, length), where = self.dimensions(2, "the rows RxL (rows x elements per row)")
        if any(value > MAX_WINDOW_NUMBER for value in (rows, length)):
            raise ProgramError(where, f"each dimension of the rows RxL must be at most "
                                      f"{MAX_WINDOW_NUMBER:,}, got {rows}x{length}")
        if rows <= 0 or length <= 0:
            raise ProgramError(where, f"each dimension of the rows RxL must be positive, got {rows}x{length}")
        return Rows(rows, length), head.location


# The vector operations that take a rows clause: with B, a per-row broadcast; ADD, MAX and MIN
# without B, a row reduction (the sum, maximum or minimum of each row).
ROW_OPERATIONS = ("ADD", "SUB", "MUL", "DIV", "MAX", "MIN")
ROW_REDUCTIONS = ("ADD", "MAX", "MIN")


@dataclass(frozen=True)
class _Operands:
    """What compute_operands read, with where B and the arrow are for the caller's checks."""

    operands: ComputeOperands
    b_location: SourceLocation | None  # None: no B
    arrow: SourceLocation


def _check_forms(compute: Compute, read: _Operands | None, window_location: SourceLocation | None) -> None:
    """The operands and window (or rows) clause a compute type takes, and the sizes it implies.
    ``window_location``: where the window or rows clause starts."""
    kind = compute.type
    window = compute.window
    if read is None:
        if window_location is not None:
            clause = "a window" if window is not None else "a rows"
            raise ProgramError(window_location, f"{clause} clause says how the operands hold their data: "
                                                "name them first, `A, B -> C` (a reduction: `A -> C`)")
        return
    if compute.rows is not None:
        _check_rows(compute, read, window_location)
        return
    operands = read.operands
    b = operands.b
    if kind.unary and b is not None:
        raise ProgramError(read.b_location, f"{kind} is a function of A alone: write `compute {kind} "
                                            f"{compute.count} A {WRITES} C`, with no operand B")
    if kind.unit is Unit.MATRIX and isinstance(b, Immediate):
        raise ProgramError(read.b_location, f"{kind} multiplies by a matrix B in memory, not by an "
                                            "immediate (a constant scale is MUL with an immediate)")
    if window is not None and kind.unit is Unit.VECTOR and b is not None:
        raise ProgramError(read.b_location, f"a window reduction reads A alone: write `compute {kind} "
                                            f"{compute.count} A {WRITES} C window ...`")
    if b is None and not kind.unary and (window is None or kind.unit is Unit.MATRIX):
        raise ProgramError(read.arrow, f"{kind} needs operand B: `compute {kind} ... A, B {WRITES} C` "
                                       "(only a unary type and a MAX or ADD window reduction read A alone)")
    if window is not None:
        _check_window(compute, window, window_location)
    # A vector op's B range of fewer than n elements is a broadcast when its L elements divide n;
    # one that does not is accepted here, as any packed range is (it has a region to time and
    # check), and refused by functional execution, which needs its values (see execute.refusal).


def _check_rows(compute: Compute, read: _Operands, location: SourceLocation) -> None:
    """A row reduction (ADD, MAX, MIN without B) performs n = R x (L - 1) pairwise operations; a
    per-row broadcast (B in memory, one element per row) n = R x L; every explicit range holds
    what the rows put in it."""
    kind, rows = compute.type, compute.rows
    b = read.operands.b
    shape = f"R x L = {rows.rows} x {rows.length}"
    if b is None:
        if kind.operation not in ROW_REDUCTIONS:
            raise ProgramError(read.arrow, f"{kind} needs operand B: a rows clause without B is a row "
                                           f"reduction, for {', '.join(ROW_REDUCTIONS)} only")
        if rows.length == 1:
            raise ProgramError(location, "a row of one element reduces nothing: a row reduction needs "
                                         "rows of two elements or more")
        wanted = rows.rows * (rows.length - 1)
        if compute.count != wanted:
            raise ProgramError(location, f"a row reduction performs R x (L - 1) = {rows.rows} x "
                                         f"{rows.length - 1} = {wanted} pairwise operations, but the count "
                                         f"is {compute.count}")
    else:
        if isinstance(b, Immediate):
            raise ProgramError(read.b_location, "an immediate B is the same for every row: drop the rows "
                                                "clause, or give B one element per row in memory")
        if compute.count != rows.rows * rows.length:
            raise ProgramError(location, f"a per-row broadcast performs {shape} = {rows.rows * rows.length} "
                                         f"operations, but the count is {compute.count}")
    operands = compute.operands
    sizes = compute.operand_bytes()
    for name, operand, size, what in (
            ("A", operands.a, sizes[0], f"the {rows.rows} rows of {rows.length} elements"),
            ("B", operands.b_operand, sizes[1], f"one element for each of the {rows.rows} rows"),
            ("C", operands.c, sizes[2], "one result per row" if b is None else
             f"the {rows.rows} rows of {rows.length} elements")):
        if operand is not None and operand.end is not None and operand.end - operand.offset < size:
            raise ProgramError(location, f"operand {name} {operand} holds {operand.end - operand.offset} B, "
                                         f"but it must hold {what}: {size} B of {kind}")


def _check_window(compute: Compute, window: Window, location: SourceLocation) -> None:
    """M = G*OH*OW and K = IC*KH*KW for a MAC, n = OH*OW*CH*(KH*KW - 1) for a reduction, and
    every explicit range large enough for what the window puts in it."""
    kind = compute.type
    shown = (f"{window.output_height}x{window.output_width} output positions of the window "
             f"{window.height}x{window.width} (kernel {window.kernel[0]}x{window.kernel[1]})")
    if compute.shape is not None:
        m, k, _ = compute.shape
        wanted_m, wanted_k = window.groups * window.positions, window.channels * window.kernel_size
        if m != wanted_m:
            raise ProgramError(location, f"the shape's M = {m}, but the window gives M = G x OH x OW = "
                                         f"{window.groups} x {window.output_height} x {window.output_width} "
                                         f"= {wanted_m} ({shown})")
        if k != wanted_k:
            raise ProgramError(location, f"the shape's K = {k}, but the window gives K = IC x KH x KW = "
                                         f"{window.channels} x {window.kernel[0]} x {window.kernel[1]} = "
                                         f"{wanted_k}")
    elif kind.unit is Unit.MATRIX:
        raise ProgramError(location, f"a window MAC needs its shape: `compute {kind} MxKxN A, B -> C "
                                     "window ...`")
    else:
        if window.kernel_size == 1:
            raise ProgramError(location, "a 1x1 window reduces nothing: a reduction needs a kernel of two "
                                         "elements or more")
        wanted = window.positions * window.channels * (window.kernel_size - 1)
        if compute.count != wanted:
            raise ProgramError(location, f"a window reduction performs OH x OW x CH x (KH x KW - 1) = "
                                         f"{window.output_height} x {window.output_width} x "
                                         f"{window.channels} x {window.kernel_size - 1} = {wanted} pairwise "
                                         "operations, but "
                                         f"the count is {compute.count}")
    operands = compute.operands
    sizes = compute.operand_bytes()
    for name, operand, size, what in (
            ("A", operands.a, sizes[0], f"the window's input {window.height}x{window.width}x"
                                        f"{window.groups * window.channels}"),
            ("B", operands.b_operand, sizes[1], f"{window.groups} block(s) of K x N weights"),
            ("C", operands.c, sizes[2], "the window's outputs")):
        if operand is not None and operand.end is not None and operand.end - operand.offset < size:
            raise ProgramError(location, f"operand {name} {operand} holds {operand.end - operand.offset} B, "
                                         f"but {what} take {size} B of {kind}")


def _check_compute_overlaps(compute: Compute, counts: dict[str, int]) -> None:
    """A result that overlaps an input it is computed from is refused: a GEMM would read what it
    is overwriting. An elementwise op may work in place (C exactly A or B), not partly over it.
    With addresses that depend on loop indices (``counts``: each enclosing index's iterations),
    in any iteration; the message names the iterations all 0 or the first that overlaps."""
    operands = compute.operands
    if operands is None:
        return
    sizes = compute.operand_bytes() or (None, None, None)
    result = operands.c.region(sizes[2])
    for name, operand, size in (("A", operands.a, sizes[0]), ("B", operands.b_operand, sizes[1])):
        if operand is None:
            continue
        region = operand.region(size)
        if result is None or region is None or operand.memory is not operands.c.memory:
            continue
        if compute.type.unit is Unit.VECTOR and region == result and operand.strides == operands.c.strides:
            continue  # in place, element by element
        try:
            where = overlap_possible(region, operand.strides, result, operands.c.strides, counts)
        except SearchTooLarge as error:
            raise ProgramError(operands.c.location,
                               f"cannot check whether the result overlaps operand {name}: it would take "
                               f"{error.cases:,} cases (at most {SEARCH_BUDGET:,}); give both the same "
                               "multiples of the loop indices") from None
        if where is None:
            continue
        region = operand.at(where).region(size)
        result = operands.c.at(where).region(sizes[2])
        when = ", ".join(f"{index} = {value}" for index, value in where.items() if value)
        raise ProgramError(operands.c.location,
                           f"the result {operands.c.memory.value}[{result[0]:#x}:{result[1]:#x}) overlaps "
                           f"operand {name} {operand.memory.value}[{region[0]:#x}:{region[1]:#x})"
                           + (f" when {when}" if when else "")
                           + ("" if compute.type.unit is Unit.VECTOR else
                              ": a MAC would overwrite what it still reads"))


class _Assembler:
    def __init__(self, file: str):
        self.file = file
        self.machine: str | None = None
        self.machine_location: SourceLocation | None = None
        self.builder = ProgramBuilder()
        self.seen_code = False
        self.closed_indices: dict[str, SourceLocation] = {}  # of loops already closed -> where opened

    def line(self, number: int, text: str) -> None:
        tokens = tokenize(text, self.file, number)
        if not tokens:
            return
        end = SourceLocation(self.file, number, len(strip_comment(text).rstrip()) + 1)
        indices = tuple(index for _, _, _, index in self.builder.open_loops if index is not None)
        cursor = _Line(tokens, end, indices, self.closed_indices)
        head = cursor.take("an instruction")
        word = head.text.lower()
        if head.kind != "word":
            raise ProgramError(head.location, f"expected an instruction, got {head.shown}")
        if word in DIRECTIVES:
            self.directive(word, head, cursor, text)
        elif word in MNEMONICS:
            self.place(self.instruction(word, head.location, cursor), head.location)
        else:
            known = ", ".join(list(MNEMONICS) + list(DIRECTIVES))
            raise ProgramError(head.location, f"unknown instruction {head.shown} (expected one of {known})")

    def directive(self, word: str, head: Token, cursor: _Line, text: str) -> None:
        if word == ".machine":
            if self.machine is not None:
                raise ProgramError(head.location, f".machine given twice (first at {self.machine_location})")
            if self.seen_code or self.builder.sections:
                raise ProgramError(head.location, ".machine must come before any instruction or .core")
            start = head.location.column - 1 + len(head.text)
            name = strip_comment(text)[start:].strip()
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ProgramError(cursor.end if not name else head.location,
                                   "expected a preset name after .machine, e.g. `.machine dlp-m`")
            self.machine, self.machine_location = name, head.location
            return
        # .core
        if self.builder.open_loops:
            _, loop_location, _, _ = self.builder.open_loops[-1]
            raise ProgramError(head.location, f"`.core` inside the loop opened at {loop_location}: "
                                              "close it with endloop first")
        self.builder.select(self.core_selector(head, cursor))

    def core_selector(self, head: Token, cursor: _Line) -> CoreSelector:
        first = cursor.take("which cores: all, mem, N, N-M or N,M,...")
        if first.kind == "word" and first.text.lower() in ("all", "mem"):
            cursor.finish(".core")
            return CoreSelector(None, first.text.lower() == "mem", head.location)
        cursor.position -= 1
        indices: list[int] = []
        while True:
            low, low_location = cursor.expression("a core number")
            high = low
            if (token := cursor.peek()) is not None and token.text == "-":
                cursor.position += 1
                high, high_location = cursor.expression("the last core of the range")
                if high < low:
                    raise ProgramError(high_location, f"empty core range {low}-{high}")
            if high > MAX_CORE_INDEX:
                raise ProgramError(low_location, f"core {high} is out of range (cores are numbered "
                                                 f"from 0 to at most {MAX_CORE_INDEX})")
            indices.extend(range(low, high + 1))
            if (token := cursor.peek()) is not None and token.text == ",":
                cursor.position += 1
                continue
            cursor.finish(".core")
            return CoreSelector(tuple(sorted(set(indices))), False, head.location)

    def instruction(self, word: str, location: SourceLocation, cursor: _Line) -> Statement | None:
        """What an instruction line says, checked as far as its text alone can be: a loop with no
        body yet for ``loop``, None for ``endloop``. ``place`` checks it against its context."""
        if word == "move":
            source = cursor.memory("a source memory (DRAM, NRAM, WRAM, SharedRAM)")
            cursor.skip_comma()
            destination = cursor.memory("a destination memory (DRAM, NRAM, WRAM, SharedRAM)")
            cursor.skip_comma()
            size, size_location = cursor.expression("a size in bytes")
            cursor.finish(MNEMONICS[word])
            if size <= 0:
                raise ProgramError(size_location, f"a move's size must be positive, got {size}")
            for operand in (source, destination):
                if operand.end is not None and operand.end - operand.offset != size:
                    raise ProgramError(operand.location,
                                       f"the range {operand} holds {operand.end - operand.offset} B, but the "
                                       f"move's size is {size} B")
            if source.memory is destination.memory:
                raise ProgramError(destination.location, f"move from {source.memory.value} to itself: "
                                                         "source and destination must differ")
            return Move(source, destination, size, location)
        if word == "compute":
            token = cursor.take("a compute type such as MAC_32")
            compute_type = COMPUTE_TYPES.get(token.text.upper()) if token.kind == "word" else None
            if compute_type is None:
                known = ", ".join(operation.name for operation in OPERATIONS)
                raise ProgramError(token.location,
                                   f"unknown compute type {token.shown} (expected one of {known}, "
                                   "each as _32 or _16)")
            cursor.skip_comma()
            count, count_location = cursor.expression("a number of operations")
            shape = cursor.shape(count, count_location, compute_type)
            if shape is not None:
                count = shape[0] * shape[1] * shape[2]
            elif count <= 0:
                raise ProgramError(count_location,
                                   f"a compute's number of operations must be positive, got {count}")
            read = cursor.compute_operands(compute_type, count, shape)
            window = window_location = rows = rows_location = None
            token = cursor.peek()
            if token is not None and token.kind == "word" and token.text.lower() == "window":
                window, window_location = cursor.window(compute_type)
            elif token is not None and token.kind == "word" and token.text.lower() == "rows":
                rows, rows_location = cursor.rows(compute_type)
            cursor.finish(MNEMONICS[word])
            compute = Compute(compute_type, count, location, shape, None if read is None else read.operands,
                              window, rows)
            _check_forms(compute, read, window_location or rows_location)
            _check_compute_overlaps(compute, {index: count for count, _, _, index in self.builder.open_loops
                                              if index is not None})
            return compute
        if word == "loop":
            count, _ = cursor.expression("a loop count")
            index = None
            if (token := cursor.peek()) is not None and token.kind == "word" and token.text.lower() == "as":
                cursor.position += 1
                index = self.index(cursor)
            cursor.finish(MNEMONICS[word])
            return Loop(count, (), location, index)
        cursor.finish(MNEMONICS[word])
        if word == "endloop":
            return None
        return Sync(location) if word == "sync" else Barrier(location)

    def index(self, cursor: _Line) -> str:
        """The NAME of ``loop COUNT as NAME``: an identifier no enclosing loop's index has."""
        token = cursor.take("a name for the loop index after 'as'")
        if token.kind != "word" or token.text.startswith("."):
            raise ProgramError(token.location,
                               f"expected a name for the loop index after 'as', got {token.shown}")
        if token.text.lower() in RESERVED_WORDS:
            raise ProgramError(token.location, f"{token.shown} cannot name a loop index: it is a keyword, "
                                               "memory or compute type")
        for _, opened, _, index in self.builder.open_loops:
            if index == token.text:
                raise ProgramError(token.location, f"the loop index '{index}' shadows the index of the "
                                                   f"enclosing loop at {opened}")
        return token.text

    def place(self, statement: Statement | None, location: SourceLocation) -> None:
        """Add an instruction line's statement where the text has got to (in the current
        section, in the innermost open loop), or open or close a loop."""
        self.seen_code = True
        if self.builder.selector.memory_core:
            if isinstance(statement, Move) and {statement.source.memory,
                                                statement.destination.memory} != {Memory.DRAM, Memory.SHARED}:
                raise ProgramError(location, "the memory core can only move between DRAM and SharedRAM")
            if isinstance(statement, Compute):
                raise ProgramError(location, "the memory core has no compute unit")
        if isinstance(statement, Loop):
            if len(self.builder.open_loops) >= MAX_LOOP_DEPTH:
                raise ProgramError(location, f"loops nest more than {MAX_LOOP_DEPTH} deep")
            self.builder.open_loop(statement.count, location, statement.index)
        elif statement is None:  # endloop
            if not self.builder.open_loops:
                raise ProgramError(location, "endloop without a matching loop")
            _, opened, _, index = self.builder.open_loops[-1]
            if index is not None:
                self.closed_indices[index] = opened
            self.builder.close_loop()
        else:
            self.builder.add(statement)

    def finish(self) -> Program:
        if self.builder.open_loops:
            _, location, _, _ = self.builder.open_loops[-1]
            raise ProgramError(location, "loop without endloop")
        return self.builder.program(self.file, self.machine, self.machine_location)


def assemble(text: str, file: str = "<input>") -> Program:
    """Assemble program text; ``file`` names it in error messages."""
    assembler = _Assembler(file)
    # A byte-order mark (Windows editors write one) is not part of the first line: dropping it
    # keeps line 1's columns as the user's editor shows them.
    text = text.removeprefix(BYTE_ORDER_MARK)
    # Only a line feed ends a line (as editors and assemble_file's own error positions count);
    # other characters str.splitlines() breaks at stay inside their line.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        assembler.line(number, line)
    return assembler.finish()


def assemble_file(path: str | Path) -> Program:
    """Read and assemble a file; unreadable or non-text files are errors, not crashes."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ProgramError(SourceLocation(name, 0, 0), f"cannot read the file: {reason}") from None
    return assemble_bytes(data, name)


def assemble_bytes(data: bytes, name: str) -> Program:
    """Assemble a program's bytes as read (a file, standard input); ``name`` names it in errors."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise ProgramError(SourceLocation(name, line, column),
                           f"the file is not UTF-8 text (byte {data[error.start]:#04x})") from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise ProgramError(SourceLocation(name, line, column),
                           "the file contains a NUL byte: is it a program?")
    return assemble(text, name)
