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
    operation: str  # MAC, ADD, SUB, MUL, DIV
    bits: int  # 32 or 16
    unit: Unit

    def __str__(self) -> str:
        return self.name


def _compute_types() -> dict[str, ComputeType]:
    table = {}
    for operation, unit in (("MAC", Unit.MATRIX), ("ADD", Unit.VECTOR), ("SUB", Unit.VECTOR),
                            ("MUL", Unit.VECTOR), ("DIV", Unit.VECTOR)):
        for bits in (32, 16):
            name = f"{operation}_{bits}"
            table[name] = ComputeType(name, operation, bits, unit)
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
