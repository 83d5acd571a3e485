"""Results as files: exact numbers in JSON, ratios in CSV, and versioned results files.

Every results file is JSON with a ``format`` key naming what it holds and its version
(``dlpsim-sweep/1``); reading one checks that key first, so an analyzer never draws a
file it does not understand. Exact values (fractions) are written as a plain number when
whole and as ``"p/q"`` text otherwise, so they read back exactly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from dlpsim.errors import UserError
from dlpsim.units import whole_if_whole


def json_number(value: Fraction | int | None) -> float | int | None:
    """An exact value as a plain JSON number for people to read: an int when whole, else a float."""
    if value is None or isinstance(value, int):
        return value
    return int(value) if value.denominator == 1 else float(value)


def exact_json(value: int | Fraction) -> int | str:
    """An exact value for a results file: an int when whole, else ``"p/q"`` text (read back exactly)."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def from_json(value: object) -> int | Fraction:
    """A number from a results file (int, float or ``"p/q"``), exactly: an int when whole."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    return whole_if_whole(Fraction(repr(value)) if isinstance(value, float) else Fraction(value))


def csv_ratio(value: Fraction | float | None, digits: int = 6) -> str:
    """A ratio for a CSV cell: fixed decimals, empty when undefined."""
    return "" if value is None else f"{float(value):.{digits}f}"


def csv_number(value: int | Fraction) -> str:
    """An exact value for a CSV cell: the integer, else 12 significant digits."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.12g}"


def write_text(path: str | Path, text: str, what: str) -> None:
    """Write ``text`` to ``path``; a failure is the user's error naming the file and ``what`` it is."""
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise UserError(f"{path}: error: cannot write the {what}: {error.strerror}") from None


def write_csv(path: str | Path, rows: Iterable[Sequence[str]]) -> None:
    try:
        with open(path, "w", newline="", encoding="utf-8") as file:
            csv.writer(file, lineterminator="\n").writerows(rows)
    except OSError as error:
        raise UserError(f"{path}: error: cannot write the CSV file: {error.strerror}") from None


def write_results(path: str | Path, data: dict) -> None:
    """A results file: ``data`` (with its ``format``) as indented JSON, keys in the given order."""
    write_text(path, json.dumps(data, indent=2) + "\n", "results file")


def read_results(path: str | Path, expected_format: str) -> dict:
    """A results file's JSON, refused unless its ``format`` is ``expected_format``."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except OSError as error:
        raise UserError(f"{path}: error: cannot read the results file: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: error: not a JSON results file: {error}") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != expected_format:
        raise UserError(f"{path}: error: expected a results file of format {expected_format!r}, "
                        f"found {found!r}")
    return data
