"""The per-core instruction listing that ``dlpsim asm`` prints."""

from __future__ import annotations

from dlpsim.asm.program import INSTRUCTION_TYPES, CoreId, Loop, Program, Statement, dynamic_count


def _lines(statements: tuple[Statement, ...], depth: int) -> list[str]:
    lines = []
    for statement in statements:
        where = f"{statement.location.line:>5}"
        lines.append(f"  {where}  {'    ' * depth}{statement}")
        if isinstance(statement, Loop):
            lines += _lines(statement.body, depth + 1)
            lines.append(f"  {'':>5}  {'    ' * depth}endloop")
    return lines


def format_listing(program: Program, cores: list[CoreId]) -> str:
    """Each core's stream as the control unit will read it, with source line numbers."""
    out = [f"{program.file}" + (f" (.machine {program.machine})" if program.machine else "")]
    for core in cores:
        stream = program.stream(core)
        issued = dynamic_count(stream, INSTRUCTION_TYPES)
        out.append("")
        out.append(f"{core.name}: {issued} instruction{'s' if issued != 1 else ''} issued")
        out += _lines(stream, 0) if stream else ["  (empty)"]
    return "\n".join(out) + "\n"
