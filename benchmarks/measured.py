"""What the comparison benchmarks (vs_scalesim.py, vs_zigzag.py) print and write alike."""

from __future__ import annotations

import csv
import os
import platform


def machine_line() -> str:
    """The machine the figures were measured on, for the table's last line."""
    return (f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}")


def write_records(path: str, records: list[dict]) -> None:
    """One CSV row per record, the first record's keys as the header."""
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(records[0]) if records else ["layer"])
        writer.writeheader()
        writer.writerows(records)
