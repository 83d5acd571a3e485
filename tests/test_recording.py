"""Recording a run in bounded memory (dlpsim/sim/trace.py): exact intervals up to a budget,
per-span totals of every interval, fast-forwarded periods as repeats.

The recorder of a fast-forwarded run must hold what the same run recorded event by event
holds: the same exact intervals, the same span totals, so the same trace file byte for byte.
Counts are derived from the programs in the docstrings, never copied from the simulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from program_strategies import LONG_TRIPS, NEST_DEPTH, NEST_TRIPS, Run, valid_runs

from dlpsim.analysis.timeline import build_timeline
from dlpsim.asm import assemble
from dlpsim.cli import main
from dlpsim.data.hazards import check_hazards
from dlpsim.machine import load_machine
from dlpsim.sim import Recorder, simulate
from dlpsim.sim.trace import EXACT_BUDGET, MAX_SPANS, Repeat, SpanGrid, chrome_trace, expand

REPO = Path(__file__).resolve().parents[1]
FAST_FORWARD_FIELDS = ("fast_forwarded_intervals", "fast_forward_skips")


def recorded(run: Run, fast_forward: bool, **budget) -> tuple[dict, Recorder]:
    program = assemble(run.text, "r.asm")
    machine = load_machine(run.preset, overrides=list(run.overrides))
    recorder = Recorder(**budget)
    stats = simulate(program, machine, recorder, fast_forward=fast_forward)
    trace = chrome_trace(recorder, machine.clock_hz, {"cycles": stats.cycles})
    for name in FAST_FORWARD_FIELDS:  # how the two runs got there differs, not what they recorded
        trace["otherData"]["recording"].pop(name)
    return trace, recorder


SMALL = settings(max_examples=12, derandomize=True, database=None, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(valid_runs(LONG_TRIPS) | valid_runs(NEST_TRIPS, max_depth=NEST_DEPTH))
def test_fast_forward_records_what_the_event_by_event_run_records(run: Run):
    """A small budget and few spans, so that runs are cut and their spans merged: the trace
    (exact intervals, span counters, what was aggregated) is the same either way."""
    fast, fast_recorder = recorded(run, True, exact_budget=30, max_spans=8)
    slow, slow_recorder = recorded(run, False, exact_budget=30, max_spans=8)
    assert fast_recorder.grid.busy == slow_recorder.grid.busy, run.describe()
    assert fast == slow, run.describe()


def test_a_repeat_covers_what_its_instances_do():
    """A nest recorded with fast-forward: the span totals, computed from repeats in closed form,
    equal the totals of the repeats' instances added one by one."""
    run = Run("loop 40\n  move DRAM NRAM 100\n  loop 7\n    compute MAC_32 300\n  endloop\n  sync\nendloop\n",
              "dlp-s", ())
    _trace, recorder = recorded(run, True, max_spans=16)
    assert any(isinstance(item, Repeat) for item in recorder.exact)
    one_by_one = SpanGrid(16)
    for interval in expand(recorder.exact):
        one_by_one.add(recorder.code(interval), interval.start, interval.end)
    assert one_by_one.width == recorder.grid.width and one_by_one.busy == recorder.grid.busy


def test_a_billion_iterations_are_recorded_as_repeats():
    """loop 10^9 { compute MAC_32 256 }: each compute takes a cycle, back to back; from cycle 1
    on, each cycle ends one compute and then one wait of the control unit for room in the full
    queue (10^9 - 8 waits in all, the first 8 computes having found room at cycle 0). So 2 x 10^9
    - 8 intervals, of which the first EXACT_BUDGET (two a cycle: those of cycles 1 .. 50,000) are
    kept one by one, and the first left out is the compute ending at cycle 50,001. The spans are
    the least power of two of cycles of which MAX_SPANS cover 10^9 cycles: 2^21."""
    recorder = Recorder()
    program = assemble("loop 1000000000\n  compute MAC_32 256\nendloop\n", "billion.asm")
    stats = simulate(program, load_machine("dlp-s"), recorder)
    assert stats.cycles == 10**9
    assert recorder.intervals_recorded == 2 * 10**9 - 8
    assert recorder.exact_intervals == EXACT_BUDGET == 2 * 50_000
    assert recorder.exact_until == 50_001
    assert MAX_SPANS * 2**20 < 10**9 <= MAX_SPANS * 2**21 == MAX_SPANS * recorder.grid.width
    assert recorder.repeats >= 1 and recorder.repeated_intervals > 0.99 * 2 * 10**9
    assert len(recorder.exact) < 100  # repeats, not instances
    timeline = build_timeline(recorder, stats)
    assert timeline.mode == "aggregated" and timeline.span_cycles == 2**21
    compute = [lane.track for lane in timeline.lanes].index(("core0", "compute"))
    assert timeline.busy_cycles[compute] == 10**9
    assert set(timeline.fractions[(compute, "mac")].tolist()) == {1.0}  # busy every cycle of every span
    assert "50,001" in timeline.recording and "recorded as repeats" in timeline.recording


def test_marks_work_on_the_exact_part_of_a_long_racing_run(tmp_path):
    """The racing pair of tests/test_hazards.py in a loop of 10^6: the trace marks the pair's
    executions it keeps exactly, and the timeline outlines the first ones of each."""
    text = ("loop 1000000\n  move DRAM NRAM[0x0] 1024\n"
            "  compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n  sync\nendloop\n")
    machine = load_machine("dlp-s")
    program = assemble(text, "race.asm")
    marks = check_hazards(program, machine).marks()
    recorder = Recorder(exact_budget=1000)
    stats = simulate(program, machine, recorder)
    assert not recorder.complete
    trace = chrome_trace(recorder, machine.clock_hz, {}, marks)
    marked = {event["args"]["line"] for event in trace["traceEvents"] if "hazards" in event.get("args", {})}
    assert marked == {2, 3}
    timeline = build_timeline(recorder, stats, marks=marks)
    assert {timeline.lanes[lane].name for lane, _, _ in timeline.marked} == {"io", "compute"}


# --------------------------------------------------------------------------------------------
# Through the command line: the same files, in bounded memory
# --------------------------------------------------------------------------------------------

def test_traces_with_and_without_fast_forward_are_byte_identical(tmp_path):
    fast, slow = tmp_path / "fast.json", tmp_path / "slow.json"
    program = str(REPO / "programs" / "ex7_12_overlap.asm")
    for path, options in ((fast, []), (slow, ["--no-fast-forward"])):
        result = CliRunner().invoke(main, ["run", program, "--trace", str(path), *options])
        assert result.exit_code == 0, result.output
    recording = [json.loads(path.read_text())["otherData"].pop("recording") for path in (fast, slow)]
    assert recording[0]["fast_forward_skips"] > 0 == recording[1]["fast_forward_skips"]
    for summary in recording:
        for name in FAST_FORWARD_FIELDS:
            summary.pop(name)
    assert recording[0] == recording[1]
    strip = [json.loads(path.read_text()) for path in (fast, slow)]
    for trace in strip:
        trace["otherData"].pop("recording")
    assert strip[0] == strip[1]


def test_a_long_run_reports_byte_identically_and_says_what_was_aggregated(tmp_path):
    program = "loop 10000000\n  move DRAM NRAM 1024\n  compute MAC_32 4096\nendloop\n"
    (tmp_path / "long.asm").write_text(program)
    files = []
    for folder in ("a", "b"):
        out = tmp_path / folder / "r.md"
        out.parent.mkdir()
        result = CliRunner().invoke(main, ["report", str(tmp_path / "long.asm"), "-o", str(out)])
        assert result.exit_code == 0, result.output
        files.append((out.read_bytes(), (out.parent / "r_files" / "timeline.png").read_bytes()))
    assert files[0] == files[1]
    text = files[0][0].decode()
    assert "Recorded: " in text and "recorded as repeats" in text and "exactly" in text


# 10^7 iterations under an address-space cap: the cap is what the child uses after importing
# everything the commands need, plus HEADROOM_MB. Keeping every interval, as recording did
# before, would take 2 x 10^7 intervals of over 50 bytes each: over 1 GB.
HEADROOM_MB = 200
CAPPED_RECORDING = """\
import resource, sys
import matplotlib.figure, matplotlib.backends.backend_agg, numpy
import dlpsim.analysis.report, dlpsim.analysis.timeline
from dlpsim.cli import main

def vm_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))

cap = vm_size() + int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
commands = (["run", "m.asm", "--timeline", "t.png", "--trace", "t.json"], ["report", "m.asm", "-o", "r.html"])
for arguments in commands:
    try:
        main(arguments)
    except SystemExit as exit:
        assert exit.code == 0, (arguments, exit.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and an enforced RLIMIT_AS")
def test_ten_million_iterations_recorded_under_a_memory_cap(tmp_path):
    (tmp_path / "m.asm").write_text("loop 10000000\n  compute MAC_32 256\nendloop\n")
    result = subprocess.run([sys.executable, "-c", CAPPED_RECORDING, str(HEADROOM_MB)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cycles          10000000" in result.stdout  # the summary: 10^7 computes of a cycle each
    trace = json.loads((tmp_path / "t.json").read_text())
    assert trace["otherData"]["recording"]["exact_intervals"] == EXACT_BUDGET
    assert trace["otherData"]["recording"]["intervals"] == 2 * 10**7 - 8
    assert (tmp_path / "t.png").stat().st_size > 1000 and (tmp_path / "r.html").stat().st_size > 1000
