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


def test_the_racing_7_9_of_the_exercises_is_refused_with_the_documented_message(tmp_path):
    """docs/exercises.md shows ex7_9_overlap without its syncs and the error dlpsim prints, verbatim."""
    text = (ROOT / "docs" / "exercises.md").read_text("utf-8")
    section = text[text.index("## Placing syncs: a racing 7.9"):]
    program = re.search(r"```asm\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n\$ dlpsim run racing_7_9.asm\n(.*?)```", section, re.S).group(1)
    (tmp_path / "racing_7_9.asm").write_text(program, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dlpsim", "run", "racing_7_9.asm"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == shown
    # the racing lines the section names: the first compute reads W and tile 0 while they load
    assert "RAW hazard on WRAM[0x0:0x20000): line 9 (compute queue, reads operand B)" in shown
    # and the same program with its syncs is the shipped, clean one
    clean = subprocess.run([sys.executable, "-m", "dlpsim", "run",
                            str(ROOT / "programs" / "ex7_9_overlap.asm")],
                           capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0 and clean.stdout.endswith("data hazards: none; 13 instructions checked, "
                                                           "0 unchecked\n")


def _in_process(args: list[str]) -> str:
    """The command's standard output, run in this process (each subprocess would import onnx anew)."""
    from click.testing import CliRunner

    from dlpsim.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_readme_onnx_example_is_what_the_shipped_model_gives(tmp_path, monkeypatch):
    """The README's "Simulate your own model" output, verbatim, from a folder without the file."""
    readme = (ROOT / "README.md").read_text("utf-8")
    command_line = r"```text\n\$ dlpsim (net \w+ small_cnn\.onnx[^\n|]*?)(?: \| tail -n (\d+))?\n(.*?)```"
    blocks = re.findall(command_line, readme, re.S)
    assert [command for command, _, _ in blocks] == ["net summary small_cnn.onnx",
                                                     "net run small_cnn.onnx --preset dlp-m"]
    monkeypatch.chdir(tmp_path)
    for command, tail, shown in blocks:
        printed = _in_process(command.split())
        if tail:
            printed = "".join(printed.splitlines(keepends=True)[-int(tail):])
        assert printed == shown


def test_onnx_doc_figures_are_what_net_summary_prints():
    """docs/onnx.md's summary of every model-zoo CNN the onnx package ships, checked line by line."""
    import onnx

    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    text = (ROOT / "docs" / "onnx.md").read_text("utf-8")
    command_line = r"```text\n\$ dlpsim net summary \$LIGHT/(\S+) \| tail -n (\d+)\n(.*?)```"
    blocks = re.findall(command_line, text, re.S)
    assert sorted(model for model, _, _ in blocks) == sorted(path.name for path in light.glob("*.onnx"))
    for model, tail, shown in blocks:
        printed = _in_process(["net", "summary", str(light / model)])
        assert "".join(printed.splitlines(keepends=True)[-int(tail):]) == shown, model
