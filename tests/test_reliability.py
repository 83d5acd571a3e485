"""Reliability: runaway runs, spinning, deadlocks, memory use, configuration safety, determinism.

Each test states what a broken handler would do and fails if it did; where that is cheap,
a companion test breaks the handler on purpose and shows the check notices.
Expected cycle counts are derived by hand from the contract (dlp-s at 1 GHz: MAC_32 256
per cycle, DRAM 64 B/cycle; dlp-m: DRAM 128 B/cycle for the chip).

Configuration errors are covered key by key in test_machine_config.py (unknown keys,
wrong types, zero, negative, non-finite values, from --set and from files); here only
what a hostile file adds: a value written as code is never run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import pytest
import simpy
from click.testing import CliRunner
from test_cli import assert_no_traceback, cli

import dlpsim.sim.check
import dlpsim.sim.control
import dlpsim.sim.engine
from dlpsim.asm import assemble
from dlpsim.cli import main
from dlpsim.errors import ProgramError
from dlpsim.machine import load_machine
from dlpsim.machine.loader import SCHEMA
from dlpsim.sim import simulate
from dlpsim.sim.check import MAX_BARRIERS
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.sim.stream import StreamCursor
from dlpsim.units import format_frequency, format_number, format_seconds

REPO = Path(__file__).resolve().parents[1]


def run_cli(tmp_path: Path, text: str, *options: str, process: bool = False):
    """`dlpsim run` on ``text``; returns (exit status, stdout, stderr, wall seconds).

    In this process by default; with ``process``, in a child process, so that a handler
    broken into an endless run fails the test (test_cli's 120 s timeout) instead of hanging it.
    """
    program = tmp_path / "p.asm"
    program.write_text(textwrap.dedent(text), encoding="utf-8")
    started = time.monotonic()
    if process:
        result = cli("run", str(program), *options, cwd=tmp_path)
        assert_no_traceback(result)
        return result.returncode, result.stdout, result.stderr, time.monotonic() - started
    result = CliRunner().invoke(main, ["run", str(program), *options])
    elapsed = time.monotonic() - started
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr, elapsed


# --------------------------------------------------------------------------------------------
# Runaway programs: --max-cycles
# --------------------------------------------------------------------------------------------

def test_trillion_iteration_loop_is_refused_in_seconds(tmp_path):
    status, stdout, stderr, elapsed = run_cli(tmp_path, """\
        loop 1000000000000
          compute MAC_32 256
        endloop
        """, process=True)
    assert status == 2
    assert stdout == ""
    # 10^12 computes of 256 / 256 = 1 cycle each: at least 10^12 cycles, over the default 10^10.
    assert stderr.startswith(f"{tmp_path / 'p.asm'}: error:"), stderr
    assert "1,000,000,000,000 cycles" in stderr and "--max-cycles" in stderr, stderr
    assert elapsed < 10, elapsed


# Both queues alone need 10 x 1000 cycles (64000 B / 64 B/cycle; 256000 / 256 MACs/cycle), so the
# static lower bound is 10000; the syncs serialise them, so the run takes 10 x 2000 = 20000 cycles.
SERIALISED = """\
    loop 10
      move DRAM NRAM 64000
      sync
      compute MAC_32 256000
      sync
    endloop
    """


def test_run_past_the_limit_prints_the_partial_report_as_json(tmp_path):
    status, stdout, stderr, _ = run_cli(tmp_path, SERIALISED, "--max-cycles", "15000", "--json")
    assert status == 2
    assert "stopped at the limit of 15,000 cycles" in stderr and "--max-cycles" in stderr, stderr
    results = json.loads(stdout)
    assert results["complete"] is False
    assert results["cycles"] == 15000
    # Iteration i (0-based) moves during 2000i..2000i+1000 and computes during 2000i+1000..2000(i+1).
    # By cycle 15000: 8 moves completed (the 8th at exactly 15000) and 7 computes.
    queues = results["cores"]["core0"]["queues"]
    assert queues["io"]["instructions"] == 8
    assert queues["compute"]["instructions"] == 7
    assert queues["compute"]["busy_cycles"] == 7000
    assert queues["io"]["busy_cycles"] == 8000


def test_partial_report_leaves_out_instructions_still_executing(tmp_path):
    # bound 2000 (compute 2 x 1000; io 2 x 1000; DRAM 128000 / 64); the syncs make it 3000.
    # At 2500: the load (0..1000) and the first compute (1000..2000) are done; the second
    # compute and the store (2000..3000) are half done and must not be counted.
    status, stdout, _, _ = run_cli(tmp_path, """\
        move DRAM NRAM 64000
        sync
        compute MAC_32 256000
        sync
        compute MAC_32 256000
        move NRAM DRAM 64000
        """, "--max-cycles", "2500", "--json")
    assert status == 2
    results = json.loads(stdout)
    assert results["cores"]["core0"]["queues"]["compute"]["instructions"] == 1
    assert results["mac_operations"] == 256000
    assert results["mac_utilization"] == results["cores"]["core0"]["queues"]["compute"]["utilization"]
    assert results["dram_bytes"] == 64000


def test_run_past_the_limit_prints_the_partial_report_as_text(tmp_path):
    # core1 can only compute after core0's 1000-cycle compute (the barrier): 2000 cycles, though
    # each queue alone needs only 1000.
    status, stdout, stderr, _ = run_cli(tmp_path, """\
        .machine dlp-m
        .core 0
        compute MAC_32 256000
        barrier
        .core 1
        barrier
        compute MAC_32 256000
        """, "--max-cycles", "1500")
    assert status == 2
    assert stdout.startswith("INCOMPLETE: stopped at cycle 1500"), stdout
    assert "  cycles          1500\n" in stdout
    assert "stopped at the limit of 1,500 cycles" in stderr


def test_run_ending_exactly_at_the_limit_is_complete(tmp_path):
    status, stdout, stderr, _ = run_cli(tmp_path, SERIALISED, "--max-cycles", "20000", "--json")
    assert (status, stderr) == (0, "")
    results = json.loads(stdout)
    assert results["complete"] is True and results["cycles"] == 20000
    status, stdout, _, _ = run_cli(tmp_path, SERIALISED, "--max-cycles", "19999", "--json")
    assert status == 2
    assert json.loads(stdout)["cycles"] == 19999 and json.loads(stdout)["complete"] is False


def test_default_limit_is_documented_and_far_above_every_shipped_program():
    run_command = main.get_command(None, "run")
    option = next(p for p in run_command.params if p.name == "max_cycles")
    assert option.default == DEFAULT_MAX_CYCLES
    programs = sorted((REPO / "programs").glob("*.asm"))
    assert programs
    for path in programs:
        program = assemble(path.read_text(encoding="utf-8"), str(path))
        stats = simulate(program, load_machine(program.machine or "dlp-s"))
        assert stats.complete
        assert 100 * stats.cycles <= DEFAULT_MAX_CYCLES, (path.name, stats.cycles)


# --------------------------------------------------------------------------------------------
# Spinning: loops of nothing but sync and barrier; loops with nothing in them
# --------------------------------------------------------------------------------------------

def test_a_loop_of_only_syncs_issues_one_sync_and_finishes_at_once(tmp_path):
    # A sync right after a sync waits for nothing, so 10^12 of them cost what one costs:
    # the compute (256 / 256 = 1 cycle) is all the time there is.
    status, stdout, stderr, elapsed = run_cli(
        tmp_path, "compute MAC_32 256\nloop 1000000000000\n  sync\n  loop 3\n    sync\n  endloop\n"
                  "endloop\n", "--json", process=True)
    assert (status, stderr) == (0, "")
    assert json.loads(stdout)["cycles"] == 1
    assert elapsed < 10, elapsed


@pytest.mark.parametrize(("text", "line"), [
    ("loop 1000000000000\n  loop 1000000000000\n    barrier\n  endloop\nendloop\n", 3),
    (".machine dlp-m\n.core all\nloop 1000000000000\n  barrier\nendloop\n", 4),
    (".machine dlp-m\nloop 20000\n  loop 999999\n    barrier\n  endloop\n  compute MAC_32 256\nendloop\n", 4),
], ids=["nested", "four-cores", "between-computes"])
def test_a_program_reaching_too_many_barriers_is_refused_naming_the_barrier(tmp_path, text, line):
    status, stdout, stderr, elapsed = run_cli(tmp_path, text, process=True)
    assert status == 2
    assert stdout == ""
    assert stderr.startswith(f"{tmp_path / 'p.asm'}:{line}:"), stderr
    assert "barriers" in stderr and f"{MAX_BARRIERS:,}" in stderr, stderr
    assert elapsed < 10, elapsed


def test_the_spin_guard_stops_barrier_meetings_that_make_no_progress(monkeypatch):
    # Below the static barrier limit, a stream of barriers at one cycle is still stopped by the
    # run-time guard rather than simulated meeting by meeting for ever.
    monkeypatch.setattr(dlpsim.sim.control, "SPIN_LIMIT", 1000)
    program = assemble(".machine dlp-m\nloop 5000\n  barrier\nendloop\n", "spin.asm")
    with pytest.raises(ProgramError) as raised:
        simulate(program, load_machine("dlp-m"))
    assert raised.value.location.line == 3
    assert "sync/barrier" in raised.value.message


@pytest.mark.parametrize(("text", "cycles"), [
    ("loop 1000000000000\nendloop\n", 0),
    ("loop 1000000000000\n  loop 1000000000000\n  endloop\nendloop\n", 0),
    ("loop 1000000000000\n  loop 0\n    compute MAC_32 256\n  endloop\nendloop\ncompute MAC_32 512\n", 2),
    (".machine dlp-m\n.core all\nloop 1000000000000\n  loop 7\n  endloop\nendloop\n"
     "move DRAM NRAM 1280\n", 40),  # four cores share 128 B/cycle: 4 x 1280 / 128
], ids=["empty", "empty-inner", "zero-inner", "four-cores"])
def test_loops_with_nothing_to_issue_take_no_time(tmp_path, text, cycles):
    status, stdout, stderr, elapsed = run_cli(tmp_path, text, "--json", process=True)
    assert (status, stderr) == (0, "")
    assert json.loads(stdout)["cycles"] == cycles
    assert elapsed < 10, elapsed


def test_syncs_between_short_computes_do_not_run_for_hours(tmp_path):
    (tmp_path / "p.asm").write_text(
        "loop 20000\n  loop 999999\n    sync\n  endloop\n  compute MAC_32 256\nendloop\n")
    try:
        result = subprocess.run([sys.executable, "-m", "dlpsim", "run", "p.asm", "--max-cycles", "20000"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("still running after 10 s")
    assert result.returncode in (0, 2)


# --------------------------------------------------------------------------------------------
# Deadlocks: barriers the cores cannot all reach
# --------------------------------------------------------------------------------------------

UNEQUAL_LOOPS = """\
    .machine dlp-m
    .core 0
    compute MAC_32 256*1000000
    loop 2
      barrier
    endloop
    .core 1
    loop 3
      compute MAC_32 256
      barrier
    endloop
    """
UNEQUAL_MEMORY_CORE = """\
    .machine dlp-m
    .core mem
    loop 3
      move DRAM SharedRAM 64K
      barrier
    endloop
    .core all
    loop 2
      barrier
      move SharedRAM NRAM 16K
    endloop
    """


@pytest.mark.parametrize(("text", "says", "barrier_lines"), [
    (UNEQUAL_LOOPS, "core0 reaches 2, core1 reaches 3", {5, 10}),
    (UNEQUAL_MEMORY_CORE, "mem reaches 3", {5, 9}),
], ids=["compute-cores", "memory-core"])
def test_unequal_barriers_are_refused_before_running(tmp_path, monkeypatch, text, says, barrier_lines):
    def no_running(*args, **kwargs):
        raise RuntimeError("the program was simulated")
    monkeypatch.setattr(simpy.Environment, "run", no_running)  # refused before running, or exit 1
    status, stdout, stderr, _ = run_cli(tmp_path, text)
    assert status == 2 and stdout == ""
    assert "different numbers of barriers" in stderr and says in stderr, stderr
    line = int(stderr.split(":")[1])
    assert line in barrier_lines, stderr
    assert textwrap.dedent(text).splitlines()[line - 1].strip() == "barrier"


def _assert_deadlock_reported(text: str, waiting: str, finished: str, line: int, max_cycles) -> None:
    program = assemble(textwrap.dedent(text), "d.asm")
    try:
        stats = simulate(program, load_machine("dlp-m"), max_cycles=max_cycles)
    except ProgramError as error:
        message = str(error)
    except Exception as error:
        raise AssertionError(f"the deadlock crashed the engine: {error!r}") from error
    else:
        raise AssertionError(f"no deadlock reported: {stats.cycles} cycles, complete={stats.complete}")
    assert message.startswith(f"d.asm:{line}:"), message
    assert "deadlock" in message
    assert f"{waiting} waits at the barrier on line {line}" in message, message
    assert f"{finished} finished without reaching it" in message, message


DEADLOCKS = [(UNEQUAL_LOOPS, "core1", "core0", 10),
             (UNEQUAL_MEMORY_CORE, "mem", "core0, core1, core2, core3", 5)]


@pytest.mark.parametrize("max_cycles", [None, DEFAULT_MAX_CYCLES],
                         ids=["no-limit", "default-limit"])
@pytest.mark.parametrize(("text", "waiting", "finished", "line"), DEADLOCKS,
                         ids=["compute-cores", "memory-core"])
def test_run_time_deadlock_is_reported_not_counted(monkeypatch, text, waiting, finished, line, max_cycles):
    """With the static check switched off, the run reaches a state where no event can happen:
    the engine must say who waits where, not return a cycle count."""
    monkeypatch.setattr(dlpsim.sim.check, "_check_barriers", lambda streams: None)
    _assert_deadlock_reported(text, waiting, finished, line, max_cycles)


def test_deadlock_check_catches_an_engine_without_the_safety_net(monkeypatch):
    monkeypatch.setattr(dlpsim.sim.check, "_check_barriers", lambda streams: None)
    monkeypatch.setattr(dlpsim.sim.engine, "_report_deadlock", lambda cores: None)
    with pytest.raises(AssertionError):
        _assert_deadlock_reported(*DEADLOCKS[0], max_cycles=None)


# --------------------------------------------------------------------------------------------
# Memory: bounded by the program's size, not by its dynamic instruction count
# --------------------------------------------------------------------------------------------

def _peak_bytes(iterations: int) -> int:
    program = assemble(f"loop {iterations}\n  compute MAC_32 256\nendloop\n", "m.asm")
    machine = load_machine("dlp-s")
    tracemalloc.start()
    try:
        stats = simulate(program, machine)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.cycles == iterations  # one cycle per compute, one after another
    return peak


def _assert_flat_memory() -> None:
    _peak_bytes(10)  # warm up: caches, first-use allocations
    small, large = _peak_bytes(1000), _peak_bytes(100_000)
    assert large < 2 * small + 64 * 1024, (small, large)


def test_memory_does_not_grow_with_loop_iterations():
    _assert_flat_memory()


def test_memory_check_catches_eager_loop_expansion(monkeypatch):
    lazy = StreamCursor.__iter__
    monkeypatch.setattr(StreamCursor, "__iter__", lambda cursor: iter(list(lazy(cursor))))
    with pytest.raises(AssertionError):
        _assert_flat_memory()


# The child process caps its address space at what it uses after importing dlpsim plus
# HEADROOM, then runs 10^7 iterations. Expanding the loop eagerly would need 8 bytes per
# iteration for the list alone (80 MB), so it cannot fit; the lazy engine needs nothing more.
HEADROOM_MB = 48
MEMORY_CAPPED_RUN = """\
import resource, sys
from dlpsim.asm import assemble
from dlpsim.machine import load_machine
from dlpsim.sim import simulate
from dlpsim.sim.stream import StreamCursor

def vm_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))

if sys.argv[2] == "eager":
    lazy = StreamCursor.__iter__
    StreamCursor.__iter__ = lambda cursor: iter(list(lazy(cursor)))
program = assemble(f"loop {sys.argv[1]}\\n  compute MAC_32 256\\nendloop\\n", "m.asm")
machine = load_machine("dlp-s")
cap = vm_size() + int(sys.argv[3]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
print(simulate(program, machine, fast_forward=False).cycles)  # every iteration, one by one
"""
TEN_MILLION = 10_000_000
_MEMORY_TEST = "test_ten_million_iterations_under_a_memory_cap"


def _start_capped(mode: str) -> subprocess.Popen:
    command = [sys.executable, "-c", MEMORY_CAPPED_RUN, str(TEN_MILLION), mode, str(HEADROOM_MB)]
    return subprocess.Popen(command,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module", autouse=True)
def capped_runs(request):
    """Start the two slow child processes when the module starts, so they overlap its other tests."""
    wanted = sys.platform.startswith("linux") and any(
        item.name == _MEMORY_TEST for item in request.session.items)
    processes = {mode: _start_capped(mode) for mode in ("lazy", "eager")} if wanted else {}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and an enforced RLIMIT_AS")
def test_ten_million_iterations_under_a_memory_cap(capped_runs):
    """About 40 s of simulation (in the background from the start of the module)."""
    stdout, stderr = capped_runs["eager"].communicate(timeout=300)
    assert capped_runs["eager"].returncode != 0 and "MemoryError" in stderr, (
        "the cap is too loose to catch eager expansion", stdout, stderr)
    stdout, stderr = capped_runs["lazy"].communicate(timeout=600)
    assert capped_runs["lazy"].returncode == 0, stderr
    assert int(stdout) == TEN_MILLION  # 10^7 computes of 256 MACs at 256 per cycle, back to back


# --------------------------------------------------------------------------------------------
# Configuration: values are data, never code
# --------------------------------------------------------------------------------------------

PAYLOAD = "__import__('os').system('touch PWNED')"


def _leaf_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, rule in schema.items():
        keys += _leaf_keys(rule, f"{prefix}{key}.") if isinstance(rule, dict) else [f"{prefix}{key}"]
    return keys


NUMERIC_KEYS = [key for key in _leaf_keys(SCHEMA) if not key.startswith("machine.")]


def _assert_code_is_not_run(folder: Path, key: str) -> None:
    """A config file giving ``key`` a Python expression: an error naming key and file, and no PWNED."""
    section, _, leaf = key.rpartition(".")
    config = folder / "evil.toml"
    config.write_text(f'[{section}]\n{leaf} = "{PAYLOAD}"\n', encoding="utf-8")
    (folder / "ok.asm").write_text("compute MAC_32 256\n")
    before = sorted(folder.iterdir())
    result = CliRunner().invoke(main, ["run", "ok.asm", "--preset", "dlp-m", "--config", str(config)])
    assert sorted(folder.iterdir()) == before and not (folder / "PWNED").exists()
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{config}: error: {key}:"), result.stderr


@pytest.mark.parametrize("key", NUMERIC_KEYS)
def test_code_in_a_config_value_is_an_error_and_never_runs(tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)  # where `touch PWNED` would write
    _assert_code_is_not_run(tmp_path, key)


def test_code_check_catches_a_loader_that_evaluates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rule = SCHEMA["clock"]["frequency"]
    monkeypatch.setitem(SCHEMA["clock"], "frequency",
                        lambda value: rule(eval(value) if isinstance(value, str) else value))
    with pytest.raises(AssertionError):
        _assert_code_is_not_run(tmp_path, "clock.frequency")


@pytest.mark.parametrize(("content", "key", "says"), [
    ("[dram]\nbandwidth = -64\n", "dram.bandwidth", "positive"),
    ('[clock]\nfrequency = "0GHz"\n', "clock.frequency", "positive"),
    ("[core.matrix]\nmacs_per_cycle = 0\n", "core.matrix.macs_per_cycle", "positive"),
    ('[shared]\ncapacity = "-2MB"\n', "shared.capacity", "size"),
    ("[core.nram]\ncapacity = 1\nsize = 1\n", "core.nram.size", "unknown key"),
])
def test_bad_values_in_a_file_name_the_key_and_the_file(tmp_path, content, key, says):
    config = tmp_path / "cfg.toml"
    config.write_text(content, encoding="utf-8")
    status, stdout, stderr, _ = run_cli(tmp_path, "sync\n", "--preset", "dlp-m", "--config", str(config))
    assert status == 2 and stdout == ""
    assert stderr.startswith(f"{config}: error: {key}:") and says in stderr, stderr


# A 2048-byte load at 64 B/cycle, then 256 MACs at 256 per cycle: absurd settings make either
# need a number of cycles no one can read in digits.
ABSURD = "move DRAM NRAM 2048\ncompute MAC_32 256\n"


@pytest.mark.parametrize(("setting", "needs"), [
    ("clock.frequency=1e300", "3.2e+292 cycles (core0's io queue alone needs 3.2e+292 cycles)"),
    ("dram.bandwidth=1e-300", "2.048e+312 cycles (core0's io queue alone needs 2.048e+312 cycles)"),
    ("core.matrix.macs_per_cycle=1e-300", "2.56e+302 cycles (core0's compute queue alone"),
    ("dram.bandwidth=1e-5000B/s", "2.048e+5012 cycles"),  # past a float's range and int-to-text limit
    ("core.matrix.latency=9223372036854775807", "9.22337203685478e+18 cycles"),
])
def test_absurd_values_are_refused_in_numbers_people_can_read(tmp_path, setting, needs):
    status, stdout, stderr, _ = run_cli(tmp_path, ABSURD, "--set", setting)
    assert status == 2 and stdout == ""
    assert f"needs at least {needs}" in stderr and "limit of 10,000,000,000;" in stderr, stderr
    assert not re.search(r"[0-9,]{20}", stderr), stderr


def test_a_clock_slower_than_a_float_holds_reports_its_time():
    stats = simulate(assemble(ABSURD), load_machine(overrides=["clock.frequency=1e-400Hz"]))
    assert (format_frequency(load_machine(overrides=["clock.frequency=1e-400Hz"]).clock_hz),
            format_seconds(stats.seconds)) == ("1e-400 Hz", "1e+400 s")
    assert format_seconds(Fraction(3, 10**400)) == "3e-391 ns"


@pytest.mark.parametrize(("value", "grouped", "shown"), [
    (0, False, "0"), (64, False, "64"), (10**15 - 1, True, "999,999,999,999,999"), (10**15, True, "1e+15"),
    (Fraction(1, 2), False, "0.5"), (-(10**300), False, "-1e+300"), (1e-300, False, "1e-300"),
    (Fraction(1, 10**400), False, "1e-400"), (Fraction(32, 10) * 10**5000, True, "3.2e+5000"),
])
def test_format_number_writes_what_passes_15_digits_in_scientific_notation(value, grouped, shown):
    assert format_number(value, grouped=grouped) == shown


# --------------------------------------------------------------------------------------------
# Determinism: byte-identical output across processes and hash seeds
# --------------------------------------------------------------------------------------------

SHARING = """\
.machine dlp-m
; the memory core stages two tiles; all four cores share the DRAM and meet at barriers
.core mem
loop 2
  move DRAM SharedRAM 96K
  barrier
endloop
.core all
loop 2
  barrier
  move SharedRAM NRAM 24K
  move DRAM WRAM 10000
  compute MAC_32 3000
  sync
  move NRAM DRAM 3333
endloop
.core 2
compute DIV_16 777
"""


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory) -> dict[str, tuple[str, str, bytes]]:
    outputs = {}
    for seed in ("1", "12345"):
        folder = tmp_path_factory.mktemp(f"seed{seed}")
        (folder / "m.asm").write_text(SHARING)
        json_run = cli("run", "m.asm", "--json", "--trace", "t.json", cwd=folder, hash_seed=seed)
        text_run = cli("run", "m.asm", cwd=folder, hash_seed=seed)
        for result in (json_run, text_run):
            assert_no_traceback(result)
            assert result.returncode == 0, result.stderr
        outputs[seed] = (json_run.stdout, text_run.stdout, (folder / "t.json").read_bytes())
    return outputs


def test_json_text_and_trace_are_byte_identical_across_hash_seeds(seeded_runs):
    first, second = seeded_runs["1"], seeded_runs["12345"]
    assert first[0] == second[0]
    assert first[1] == second[1]
    assert first[2] == second[2]


def test_the_determinism_program_exercises_sharing(seeded_runs):
    results = json.loads(seeded_runs["1"][0])
    assert set(results["cores"]) == {"core0", "core1", "core2", "core3", "mem"}
    assert all(core["barriers"] == 2 for core in results["cores"].values())
    assert results["links"]["dram"]["transfers"] == 2 + 4 * 2 * 2
    assert all(results["links"][f"shared.{i}"]["transfers"] == 2 for i in range(4))


def test_absurd_rates_in_the_run_summary_are_printed_readably(tmp_path):
    """A 1e300 B/s DRAM is 1e291 B/cycle at 1 GHz: the summary says so in scientific notation."""
    from click.testing import CliRunner

    from dlpsim.cli import main

    program = tmp_path / "p.asm"
    program.write_text("move DRAM NRAM 64\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(program), "--set", "dram.bandwidth=1e300"])
    assert result.exit_code == 0, result.output
    assert "at 1e+291 B/cycle" in result.output
    figures = result.output.split("\n", 1)[1]  # after the header, which names the program's path
    assert max(len(word) for word in figures.split()) < 40
