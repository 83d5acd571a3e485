"""Plain-text tables and the number formats every report shares."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction


def align(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """Rows of cells padded into columns; ``right[i]`` right-aligns column i (numbers)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(right))]
    return ["  ".join(cell.rjust(width) if flush else cell.ljust(width)
                      for cell, width, flush in zip(row, widths, right, strict=True)).rstrip()
            for row in rows]


def percent(value: Fraction | float | None, missing: str = "n/a") -> str:
    return missing if value is None else f"{float(value) * 100:.1f}%"
