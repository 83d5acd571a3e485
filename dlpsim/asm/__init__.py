"""Assembler: program text -> immutable :class:`Program` of typed instructions."""

from dlpsim.asm.parser import assemble, assemble_bytes, assemble_file
from dlpsim.asm.program import (
    MEMORY_CORE,
    Barrier,
    Compute,
    CoreId,
    Immediate,
    Instruction,
    Loop,
    Move,
    Program,
    Rows,
    Statement,
    Sync,
    Window,
    dynamic_count,
    expand,
)

__all__ = [
    "MEMORY_CORE", "Barrier", "Compute", "CoreId", "Immediate", "Instruction", "Loop", "Move", "Program",
    "Rows", "Statement", "Sync", "Window", "assemble", "assemble_bytes", "assemble_file", "dynamic_count",
    "expand",
]
