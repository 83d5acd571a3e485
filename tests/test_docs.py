"""The documentation's numbers are the simulator's: docs/exercises.md and the README's sample."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from dlpsim.asm import assemble_file
from dlpsim.machine import load_machine
from dlpsim.sim import simulate

ROOT = Path(__file__).resolve().parent.parent


def exercise_rows() -> list[dict]:
    text = (ROOT / "docs" / "exercises.md").read_text("utf-8")
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("`"):
            rows.append({"program": cells[1].strip("`"), "estimate": int(cells[2]),
                         "cycles": int(cells[3]), "time": cells[4], "bound": cells[5],
                         "efficiency": cells[6]})
    return rows


def test_the_exercise_table_covers_every_program():
    documented = {row["program"] for row in exercise_rows()}
    shipped = {path.name for path in (ROOT / "programs").glob("*.asm")}
    assert documented == shipped


@pytest.mark.parametrize("row", exercise_rows(), ids=lambda row: row["program"])
def test_exercise_table_row_matches_the_simulator(row):
    program = assemble_file(ROOT / "programs" / row["program"])
    stats = simulate(program, load_machine(program.machine))
    assert row["cycles"] == stats.cycles
    assert row["estimate"] == stats.cycles, "the hand estimate and the simulation should agree"
    microseconds = Fraction(stats.cycles) * 10**6 / Fraction(stats.clock_hz)
    assert row["time"] == f"{float(microseconds):.3f} us"
    kind = "compute" if stats.bound.kind == "compute" else "DRAM"
    assert row["bound"] == f"{stats.bound.cycles} ({kind})"
    assert row["efficiency"] == f"{float(stats.efficiency) * 100:.1f}%"


def test_readme_sample_output_is_what_the_main_job_prints():
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"```text\n\$ dlpsim run (\S+)\n(.*?)```", readme, re.S)
    assert match, "the README shows the main job's output"
    result = subprocess.run([sys.executable, "-m", "dlpsim", "run", match[1]], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert result.stdout == match[2]
