"""What a new user trips on (the issue "Runs that hang or eat memory, and what a new user trips
on", items 6 to 8): each small thing with the test that keeps it fixed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.asm import CoreId, Move, assemble, assemble_file
from dlpsim.cli import main
from dlpsim.errors import ProgramError

REPO = Path(__file__).resolve().parents[1]

# -- a byte-order mark -----------------------------------------------------------------------


def test_a_byte_order_mark_is_accepted_in_a_file_and_in_text(tmp_path):
    path = tmp_path / "bom.asm"
    path.write_bytes("move DRAM, NRAM, 64\n".encode("utf-8-sig"))
    for program in (assemble_file(path), assemble("\ufeffmove DRAM, NRAM, 64\n", "t.asm")):
        (move,) = program.stream(CoreId(0))
        assert isinstance(move, Move) and move.location.column == 1


def test_line_1s_columns_after_a_byte_order_mark_are_those_the_editor_shows():
    with pytest.raises(ProgramError) as error:
        assemble("\ufeffmove DRAM, NRAM, 64 x\n", "t.asm")
    assert str(error.value).startswith("t.asm:1:21: error: unexpected 'x'")


def test_a_byte_order_mark_after_the_start_is_still_an_unexpected_character():
    with pytest.raises(ProgramError, match=r"t.asm:2:1: error: unexpected character '\\ufeff'"):
        assemble("sync\n\ufeffsync\n", "t.asm")


# -- long numbers in messages ----------------------------------------------------------------

HUGE = "1" * 99_999 + "7"


@pytest.mark.parametrize(("text", "message"), [
    (f"loop {HUGE}\nendloop\n", "t.asm:1:6: error: a loop count is too large (at most 9223372036854775807)"),
    (f"loop 5 {HUGE}\nendloop\n",
     "t.asm:1:8: error: unexpected '11111111...11111117' (100,000 digits) after the operands of `loop"),
    (f"{HUGE}\n", "t.asm:1:1: error: expected an instruction, got '11111111...11111117' (100,000 digits)"),
    (f"move DRAM {HUGE}\n",
     "t.asm:1:11: error: unknown memory '11111111...11111117' (100,000 digits) (expected DRAM"),
    (f"compute {HUGE}\n",
     "t.asm:1:9: error: unknown compute type '11111111...11111117' (100,000 digits) (expected one of"),
    (f"move DRAM[0 {HUGE}\n", "t.asm:1:13: error: expected ']', got '11111111...11111117' (100,000 digits)"),
    (f"loop 0x{'F' * 30}_K\nendloop\n", "t.asm:1:6: error: a loop count is too large"),
    (f"sync 0x{'F' * 30}_K\n", "t.asm:1:6: error: unexpected '0xFFFFFF...FFFFFF_K' (30 digits) after"),
])
def test_a_long_number_is_abbreviated_with_its_digit_count(text, message):
    with pytest.raises(ProgramError) as error:
        assemble(text, "t.asm")
    shown = str(error.value)
    assert message in shown and len(shown) < 300


def test_a_number_of_ordinary_length_is_echoed_whole():
    with pytest.raises(ProgramError, match=r"unexpected '123456789012345678901234' after"):
        assemble("sync 123456789012345678901234\n", "t.asm")


# -- the command line ------------------------------------------------------------------------

def invoke(*args: str, input: str | None = None):
    """The command in the repository's folder (programs/ as the README writes them), stderr apart."""
    previous = os.getcwd()
    os.chdir(REPO)
    try:
        return CliRunner().invoke(main, list(args), input=input)
    finally:
        os.chdir(previous)


def test_asm_check_says_ok_with_the_counts():
    result = invoke("asm", "--check", "programs/ex7_9.asm")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "programs/ex7_9.asm: OK, 1 core, 7 instructions (82 issued)\n", "")


def test_asm_check_counts_every_core_of_a_dlp_m_program():
    result = invoke("asm", "--check", "programs/ex7_12.asm")
    assert (result.exit_code, result.stdout) == (0, "programs/ex7_12.asm: OK, 5 cores, 35 instructions "
                                                    "(790 issued)\n")


def test_a_key_set_twice_keeps_the_last_with_a_warning():
    result = invoke("config", "--set", "core.issue_cycles=3", "--set", "dram.latency=7",
                    "--set", "core.issue_cycles=5")
    assert result.exit_code == 0, result.output
    assert "issue_cycles = 5\n" in result.stdout
    assert result.stderr == "dlpsim: warning: --set core.issue_cycles given twice: using the last, 5\n"


def test_a_key_set_three_times_says_so_once():
    result = invoke("config", *("--set", "core.issue_cycles=1") * 2, "--set", "core.issue_cycles = 2")
    assert result.stderr == "dlpsim: warning: --set core.issue_cycles given 3 times: using the last, 2\n"


def test_keys_set_once_give_no_warning():
    result = invoke("config", "--set", "core.issue_cycles=3", "--set", "dram.latency=7")
    assert (result.exit_code, result.stderr) == (0, "")


@pytest.mark.parametrize("command", ["compile", "roofline", "sweep", ("net", "run")])
def test_commands_without_a_program_say_their_preset_defaults_to_dlp_s(command):
    words = command if isinstance(command, tuple) else (command,)
    help_text = " ".join(invoke(*words, "--help").stdout.split())
    assert "Machine preset (default: dlp-s)" in help_text and ".machine" not in help_text.split("--preset")[1]


@pytest.mark.parametrize("command", ["run", "report", "asm", "config"])
def test_commands_with_a_program_say_its_machine_line_chooses_the_preset(command):
    help_text = " ".join(invoke(command, "--help").stdout.split())
    assert "Machine preset (default: the program's .machine, else dlp-s)" in help_text


# -- PROGRAM - reads standard input ---------------------------------------------------------

def test_run_reads_the_program_from_standard_input():
    text = (REPO / "programs/ex7_9.asm").read_text()
    from_stdin = invoke("run", "-", "--json", input=text)
    from_file = invoke("run", "programs/ex7_9.asm", "--json")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert from_stdin.stdout == from_file.stdout.replace('"programs/ex7_9.asm"', '"<stdin>"')


@pytest.mark.parametrize("command", [("run", "-"), ("asm", "-"), ("asm", "--check", "-"), ("config", "-"),
                                     ("report", "-", "-o", "never.html")])
def test_a_program_from_standard_input_is_named_stdin_in_errors(command):
    result = invoke(*command, input="sync\nfoo\n")
    assert (result.exit_code, result.stderr) == (
        2, "<stdin>:2:1: error: unknown instruction 'foo' (expected one of move, compute, loop, endloop, "
           "sync, barrier, .machine, .core)\n")


def test_asm_check_and_config_read_standard_input_with_its_machine_line():
    assert invoke("asm", "--check", "-", input=".machine dlp-m\nsync\n").stdout == (
        "<stdin>: OK, 4 cores, 1 instruction (4 issued)\n")
    assert 'name = "dlp-m"' in invoke("config", "-", input=".machine dlp-m\n").stdout


def test_report_reads_a_program_from_standard_input(tmp_path):
    result = invoke("report", "-", "-o", str(tmp_path / "r.html"),
                    input=(REPO / "programs/ex7_9.asm").read_text())
    assert result.exit_code == 0, result.output
    assert "&lt;stdin&gt;" in (tmp_path / "r.html").read_text()


# -- the loop-nesting limit, documented ------------------------------------------------------

def test_isa_reference_states_the_loop_nesting_limit_and_its_error():
    from dlpsim.asm.parser import MAX_LOOP_DEPTH

    reference = (REPO / "isa" / "README.md").read_text()
    assert f"Loops nest up to {MAX_LOOP_DEPTH} deep (`MAX_LOOP_DEPTH`" in reference
    with pytest.raises(ProgramError) as error:
        assemble("loop 1\n" * (MAX_LOOP_DEPTH + 1), "bad.asm")
    assert f"\n    {error.value}\n" in reference
    assert "```asm-error\n" + "loop 1\n" * (MAX_LOOP_DEPTH + 1) + "```\n" in reference


# -- outputs checked before any work ---------------------------------------------------------

MISSING = "/nonexistent-dlpsim-folder"


@pytest.mark.parametrize(("args", "message"), [
    (("roofline", "--net", "lenet5", "-o", f"{MISSING}/x.png"),
     f"{MISSING}/x.png: error: cannot write the chart"),
    (("roofline", "--net", "lenet5", "--csv", f"{MISSING}/x.csv"),
     f"{MISSING}/x.csv: error: cannot write the CSV file"),
    (("roofline", "--net", "lenet5", "--results", f"{MISSING}/x.json"),
     f"{MISSING}/x.json: error: cannot write the results file"),
    (("sweep", "--net", "lenet5", "--vary", "dram.latency=1,2", "-o", f"{MISSING}/x.png"),
     f"{MISSING}/x.png: error: cannot write the chart"),
    (("run", "programs/ex7_9.asm", "--trace", f"{MISSING}/t.json"),
     f"{MISSING}/t.json: error: cannot write the trace"),
    (("run", "programs/ex7_9.asm", "--timeline", f"{MISSING}/t.png"),
     f"{MISSING}/t.png: error: cannot write the timeline"),
    (("report", "programs/ex7_9.asm", "-o", f"{MISSING}/r.html"),
     f"{MISSING}/r.html: error: cannot write the report"),
    (("compile", "lenet5", "--layer", "c1", "-o", f"{MISSING}/c.asm"),
     f"{MISSING}/c.asm: error: cannot write the program"),
    (("net", "run", "lenet5", "--csv", f"{MISSING}/n.csv"),
     f"{MISSING}/n.csv: error: cannot write the CSV file"),
])
def test_an_output_in_a_missing_folder_is_refused_before_any_simulation(args, message):
    result = invoke(*args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{message}: the folder {MISSING} does not exist\n"


def test_sweeps_csv_beside_the_chart_is_named_with_the_chart(tmp_path):
    (tmp_path / "x.csv").mkdir()
    chart = str(tmp_path / "x.png")
    result = invoke("sweep", "--net", "lenet5", "--vary", "dram.latency=1,2", "-o", chart)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"{tmp_path / 'x.csv'} (the CSV written beside the chart {chart}): error: "
                             "cannot write the CSV file: it is a folder\n")


def test_an_output_that_is_a_folder_or_has_an_unknown_extension_is_refused_first(tmp_path):
    result = invoke("net", "run", "lenet5", "--csv", str(tmp_path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", f"{tmp_path}: error: cannot write the CSV file: it is a folder\n")
    result = invoke("roofline", "--net", "lenet5", "-o", str(tmp_path / "x.gif"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert "x.gif: error: cannot tell the chart's format from the extension '.gif'" in result.stderr


def test_outputs_in_an_existing_folder_are_written(tmp_path):
    result = invoke("compile", "lenet5", "--layer", "c1", "-o", str(tmp_path / "c.asm"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.asm").read_text().strip()


# -- --show without a display -----------------------------------------------------------------

@pytest.fixture
def no_display(monkeypatch):
    import matplotlib

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    matplotlib.use("Agg")


def test_run_show_without_a_display_warns_why_and_goes_on(no_display):
    result = invoke("run", "programs/ex7_9.asm", "--show")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("programs/ex7_9.asm on dlp-s")  # the figures are still printed
    assert result.stderr == ("dlpsim: warning: --show needs a display: matplotlib's backend is agg "
                             "(DISPLAY is not set; MPLBACKEND chooses the backend); the run goes on without "
                             "the window (--timeline FILE writes the chart to a file)\n")


def test_analyzer_show_without_a_display_is_refused_before_simulating(no_display):
    result = invoke("roofline", "--net", "lenet5", "--show")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("error: --show needs a display: matplotlib's backend is agg (DISPLAY is not "
                             "set; MPLBACKEND chooses the backend); write the chart to a file with -o "
                             "instead\n")


def test_run_help_says_show_opens_the_timeline_without_timeline_too():
    help_text = " ".join(invoke("run", "--help").stdout.split())
    assert "Open the timeline in a window, with or without --timeline" in help_text
