"""The shipped example programs: package data, found by name from any directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dlpsim.examples import examples, find_example

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "DLPSIM_DEBUG"}
    return subprocess.run([sys.executable, "-m", "dlpsim", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_every_program_in_programs_is_a_shipped_example_with_its_exercise():
    shipped = {example.name: example for example in examples()}
    assert set(shipped) == {path.name for path in (REPO / "programs").glob("*.asm")}
    for name, example in shipped.items():
        number = re.match(r"ex(\d+)_(\d+)", name)
        if number:
            assert example.exercise == f"{number.group(1)}.{number.group(2)}", name
        assert example.summary and example.text == (REPO / "programs" / name).read_text("utf-8")
    assert shipped["fc_1024x256.asm"].exercise == "7.9"
    assert find_example("fc_1024x256") == find_example("fc_1024x256.asm") == shipped["fc_1024x256.asm"]
    assert find_example("no_such_program") is None


def test_run_by_name_from_any_directory_says_it_uses_the_example(tmp_path):
    result = cli("run", "fc_1024x256.asm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()[:2]
    assert "shipped example fc_1024x256.asm" in first and "7.9" in first
    assert second.startswith("fc_1024x256.asm on dlp-s")
    assert "cycles          132736" in result.stdout  # the same program as programs/fc_1024x256.asm


def test_json_stays_json_and_the_note_goes_to_stderr(tmp_path):
    import json

    result = cli("run", "ex7_7", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cycles"] == 34  # exercise 7.7: 16 + 16 + 1 + 1
    assert "shipped example ex7_7.asm" in result.stderr


def test_a_real_file_in_the_current_directory_always_wins(tmp_path):
    (tmp_path / "fc_1024x256.asm").write_text("compute MAC_32 256\n", encoding="utf-8")
    result = cli("run", "fc_1024x256.asm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "shipped example" not in result.stdout + result.stderr
    assert "cycles          1\n" in result.stdout  # 256 MACs at 256 per cycle


def test_an_unknown_name_is_still_a_missing_file(tmp_path):
    result = cli("run", "nothing_here.asm", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("nothing_here.asm: error: cannot read the file")


def test_examples_lists_every_program_with_its_exercise_and_prints_one(tmp_path):
    listing = cli("examples", cwd=tmp_path)
    assert listing.returncode == 0
    for example in examples():
        row = next(line for line in listing.stdout.splitlines() if line.startswith(example.name + " "))
        assert row.split()[1] == (example.exercise or "-")
    printed = cli("examples", "ex7_12_overlap", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout == find_example("ex7_12_overlap").text
    unknown = cli("examples", "ex9_9", cwd=tmp_path)
    assert unknown.returncode == 2 and "no shipped example" in unknown.stderr
