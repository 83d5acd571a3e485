"""The ISA's vocabulary: the one table the assembler accepts and isa/README.md documents.

tests/test_isa_reference.py checks that the reference and this table name the
same mnemonics, directives, memories and compute types, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Memory(Enum):
    """The memories a ``move`` names. The value is the canonical spelling."""

    DRAM = "DRAM"
    NRAM = "NRAM"
    WRAM = "WRAM"
    SHARED = "SharedRAM"


# Spellings accepted in program text (compared case-insensitively).
MEMORY_NAMES: dict[str, Memory] = {
    "dram": Memory.DRAM,
    "nram": Memory.NRAM,
    "wram": Memory.WRAM,
    "sharedram": Memory.SHARED,
    "sram": Memory.SHARED,  # alias the contract allows
}


class Unit(Enum):
    """The functional unit of a compute core that executes a compute type."""

    MATRIX = "matrix"
    VECTOR = "vector"


@dataclass(frozen=True)
class ComputeType:
    name: str  # canonical spelling, e.g. "MAC_32"
    operation: str  # one of OPERATIONS: MAC, ADD, ..., RSQRT
    bits: int  # 32 or 16
    unit: Unit
    unary: bool = False  # a function of A alone (``compute TANH_32 n A -> C``): no operand B

    @property
    def windowed(self) -> bool:
        """Whether it takes a window clause: a MAC (a convolution tile) or a MAX or ADD over
        windows (pooling)."""
        return self.operation in WINDOWED_OPERATIONS

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Operation:
    """What a compute type does, whatever its precision."""

    name: str
    unit: Unit
    unary: bool
    meaning: str  # in words, for the reference's table


# Every operation, in the order the reference's Compute types table lists them.
OPERATIONS: tuple[Operation, ...] = (
    Operation("MAC", Unit.MATRIX, False, "multiply-accumulate"),
    Operation("ADD", Unit.VECTOR, False, "addition"),
    Operation("SUB", Unit.VECTOR, False, "subtraction"),
    Operation("MUL", Unit.VECTOR, False, "multiplication"),
    Operation("DIV", Unit.VECTOR, False, "division"),
    Operation("MAX", Unit.VECTOR, False, "maximum"),
    Operation("MIN", Unit.VECTOR, False, "minimum"),
    Operation("EXP", Unit.VECTOR, True, "exponential"),
    Operation("TANH", Unit.VECTOR, True, "hyperbolic tangent"),
    Operation("SIGMOID", Unit.VECTOR, True, "logistic sigmoid"),
    Operation("GELU", Unit.VECTOR, True, "GELU, erf form"),
    Operation("RSQRT", Unit.VECTOR, True, "reciprocal square root"),
)
# The vector operations added after the textbook's four, each timed by its own number of
# vector-unit slots per element (core.vector.<op>_slots) and priced per operation.
SLOTTED_OPERATIONS = tuple(operation.name for operation in OPERATIONS[5:])
# The operations that take a window clause (see ComputeType.windowed).
WINDOWED_OPERATIONS = ("MAC", "MAX", "ADD")


def _compute_types() -> dict[str, ComputeType]:
    table = {}
    for operation in OPERATIONS:
        for bits in (32, 16):
            name = f"{operation.name}_{bits}"
            table[name] = ComputeType(name, operation.name, bits, operation.unit, operation.unary)
    return table


# Canonical name -> type; program text is matched case-insensitively.
COMPUTE_TYPES: dict[str, ComputeType] = _compute_types()

# Mnemonic -> operand syntax, as the listing and error messages show it.
MNEMONICS: dict[str, str] = {
    "move": "move SRC DST SIZE",
    "compute": "compute TYPE NUM|MxKxN",
    "loop": "loop COUNT [as NAME]",
    "endloop": "endloop",
    "sync": "sync",
    "barrier": "barrier",
}

# Directive -> syntax.
DIRECTIVES: dict[str, str] = {
    ".machine": ".machine PRESET",
    ".core": ".core all | N | N-M | N,M,... | mem",
}

# Size suffixes accepted on numbers in program text (binary, as the contract's KB).
NUMBER_SUFFIXES: dict[str, int] = {"K": 1024, "M": 1024**2, "G": 1024**3}

# What starts an immediate operand B (``%0.5``): ``#`` already starts a comment.
IMMEDIATE_PREFIX = "%"
