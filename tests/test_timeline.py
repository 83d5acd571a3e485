"""The timeline (Gantt chart) of a run: its lanes, its two modes, its images and `dlpsim run --timeline`.

Counts of bars are derived from the programs' text, never copied from the simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dlpsim.analysis.timeline import (
    CATEGORIES,
    MAX_EXACT_BARS,
    build_timeline,
    category,
    draw_timeline,
    write_timeline,
)
from dlpsim.asm import assemble, assemble_file
from dlpsim.cli import main
from dlpsim.errors import UserError
from dlpsim.machine import load_machine
from dlpsim.sim import Recorder, simulate
from dlpsim.sim.trace import MAX_SPANS, Executed, Interval

REPO = Path(__file__).resolve().parents[1]
FC = str(REPO / "programs" / "fc_1024x256.asm")
EX7_12 = str(REPO / "programs" / "ex7_12_overlap.asm")
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


def recorded(program, preset: str):
    program = assemble_file(program) if isinstance(program, str) else program
    machine = load_machine(preset)
    recorder = Recorder()
    return recorder, simulate(program, machine, recorder)


def labels(timeline) -> list[str]:
    return [lane.label for lane in timeline.lanes]


# --------------------------------------------------------------------------------------------
# The data: lanes, categories, modes
# --------------------------------------------------------------------------------------------

def test_fc_is_drawn_exactly_with_every_instruction_coloured_by_kind():
    recorder, stats = recorded(FC, "dlp-s")
    timeline = build_timeline(recorder, stats)
    assert timeline.mode == "exact"
    assert timeline.cycles == stats.cycles
    assert labels(timeline) == ["core0 compute", "core0 io", "core0 move", "core0 control",
                                "link dram", "link local.0"]
    kinds = [bar.category for bar in timeline.bars]
    # computes: F2, F3, 2 steps per loop iteration x 15 of 2 half-width MACs each, D1, D2
    assert kinds.count("mac") == 2 + 2 * 15 * 2 + 2
    # loads: W_LO, tile 0, W_HI, tile 1, one per step (30); stores: one per step, output 30, 2 halves
    assert kinds.count("load") == 4 + 30
    assert kinds.count("store") == 30 + 1 + 2
    # one DRAM link segment per transfer (the io queue moves one at a time)
    assert kinds.count("link1") == 34 + 33
    assert "sync" in kinds and "vector" not in kinds
    # every bar lies in its lane and in the run; the busy column matches the Stats
    busy = dict(zip(labels(timeline), timeline.busy_cycles, strict=True))
    core = stats.cores[0]
    assert busy["core0 compute"] == next(q.busy_cycles for q in core.queues if q.kind == "compute")
    assert busy["core0 io"] == next(q.busy_cycles for q in core.queues if q.kind == "io")
    assert busy["link dram"] == next(link.busy_cycles for link in stats.links if link.name == "dram")
    assert busy["core0 control"] == dict(core.control_cycles)["sync"]
    assert all(0 <= bar.start < bar.end <= timeline.cycles for bar in timeline.bars)
    assert timeline.used == tuple(kind for kind in CATEGORIES if kind in set(kinds))


def test_dlp_m_has_a_lane_for_every_queue_control_unit_and_link():
    recorder, stats = recorded(EX7_12, "dlp-m")
    timeline = build_timeline(recorder, stats)
    expected = [f"core{i} {lane}" for i in range(4) for lane in ("compute", "io", "move", "control")]
    expected += ["mem io", "mem control", "link dram"]
    expected += [f"link {kind}.{i}" for i in range(4) for kind in ("shared", "local")]
    assert labels(timeline) == expected
    # more than MAX_EXACT_BARS intervals: aggregated, and the lanes of unused links are still there
    assert timeline.intervals > MAX_EXACT_BARS and timeline.mode == "aggregated"
    assert timeline.busy_cycles[labels(timeline).index("link local.0")] == 0


def test_exact_or_aggregated_by_the_number_of_intervals():
    recorder, stats = recorded(FC, "dlp-s")
    count = len(recorder.intervals)
    assert build_timeline(recorder, stats, max_bars=count).mode == "exact"
    assert build_timeline(recorder, stats, max_bars=count - 1).mode == "aggregated"


def test_aggregated_fractions_conserve_every_busy_cycle():
    recorder, stats = recorded(FC, "dlp-s")
    timeline = build_timeline(recorder, stats, max_bars=0)
    assert timeline.mode == "aggregated"
    # the span is the least power of two of cycles for which MAX_SPANS spans cover the run:
    # 132,736 cycles > 512 x 256, <= 512 x 512, so 512 cycles, and ceil(132,736 / 512) = 260 spans
    assert timeline.span_cycles == 512 and MAX_SPANS * 256 < stats.cycles <= MAX_SPANS * 512
    edges = timeline.edges
    spans = -(-stats.cycles // 512)
    assert len(edges) == spans + 1 and edges[0] == 0 and edges[-1] == stats.cycles
    widths = np.diff(edges)
    per_lane = np.zeros((len(timeline.lanes), spans))
    for (lane, _kind), fraction in timeline.fractions.items():
        assert np.all(fraction >= 0) and np.all(fraction <= 1 + 1e-12)
        per_lane[lane] += fraction
    assert np.all(per_lane <= 1 + 1e-9)  # a lane is never more than fully busy
    for lane, busy in enumerate(timeline.busy_cycles):
        total = sum(float(np.dot(fraction, widths)) for (where, _), fraction in timeline.fractions.items()
                    if where == lane)
        assert total == pytest.approx(busy, abs=1e-6)
    compute = labels(timeline).index("core0 compute")
    # the MAC array idles during the fill (1536 cycles: the first 3 spans) and works after it
    mac = timeline.fractions[(compute, "mac")]
    assert mac[0] == 0 and mac[10] == 1


def test_categories_of_every_kind_of_work():
    def kind(track, name, **args):
        return category(Interval(track, name, 0, 1, tuple(args.items())))

    def work(track, text):
        (instruction,) = assemble(text).sections[0].statements
        return category(Executed(track, instruction, 0, 1))

    assert work(("core0", "compute"), "compute MAC_16 64") == "mac"
    assert work(("core0", "compute"), "compute DIV_32 64") == "vector"
    assert work(("core0", "io"), "move DRAM NRAM[0x100] 64") == "load"
    assert work(("mem", "io"), "move DRAM SharedRAM 64") == "load"
    assert work(("core0", "io"), "move WRAM DRAM 64") == "store"
    assert work(("core0", "move"), "move NRAM WRAM 64") == "move"
    assert work(("core1", "move"), "move SharedRAM[0x40] NRAM 64") == "shared"
    assert kind(("core0", "control"), "wait: barrier", cause="barrier") == "barrier"
    assert kind(("core0", "control"), "wait: queue_full", cause="queue_full") == "queue_full"
    assert kind(("links", "dram"), "3 transfers", active=3) == "link3"
    assert kind(("links", "dram"), "9 transfers", active=9) == "link5"


def test_a_program_of_every_kind_uses_every_colour_it_should():
    program = assemble(".machine dlp-m\n.core all\nmove DRAM NRAM 256\nmove NRAM WRAM 256\n"
                       "compute MAC_32 1024\ncompute ADD_32 64\nbarrier\nmove SharedRAM NRAM 64\n"
                       "move NRAM DRAM 64\n.core mem\nmove DRAM SharedRAM 64\nbarrier\n", "kinds.asm")
    recorder, stats = recorded(program, "dlp-m")
    timeline = build_timeline(recorder, stats)
    expected = {"mac", "vector", "load", "store", "move", "shared", "sync", "barrier", "link1"}
    assert expected <= set(timeline.used)
    # the four cores load at once: the DRAM link is shared by (at least) four transfers
    assert any(kind in timeline.used for kind in ("link4", "link5"))


def test_building_the_data_needs_no_matplotlib():
    code = ("import sys\nimport dlpsim.analysis.timeline as t\nimport dlpsim.analysis.report\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_image_formats_follow_the_extension_and_are_reproducible(tmp_path, suffix):
    recorder, stats = recorded(FC, "dlp-s")
    timeline = build_timeline(recorder, stats)
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    write_timeline(timeline, str(first))
    write_timeline(timeline, str(second))
    data = first.read_bytes()
    assert len(data) > 5000 and data.startswith(MAGIC[suffix])
    assert data == second.read_bytes()
    assert b"CreationDate" not in data and b"<dc:date>" not in data


def test_unknown_extension_is_refused(tmp_path):
    recorder, stats = recorded(FC, "dlp-s")
    with pytest.raises(UserError, match="extension '.gif'"):
        write_timeline(build_timeline(recorder, stats), str(tmp_path / "t.gif"))
    assert not (tmp_path / "t.gif").exists()


def test_a_long_program_is_aggregated_and_fast(tmp_path):
    """10^5 instructions: aggregated mode, simulation + chart well under 10 s."""
    program = assemble("loop 50000\n  move DRAM NRAM 1024\n  compute MAC_32 4096\nendloop\n", "long.asm")
    started = time.perf_counter()
    recorder, stats = recorded(program, "dlp-s")
    timeline = build_timeline(recorder, stats)
    write_timeline(timeline, str(tmp_path / "long.png"))
    elapsed = time.perf_counter() - started
    assert timeline.mode == "aggregated" and timeline.intervals >= 100_000
    # 50,000 x 16 cycles (1024 B at 64 B/cycle) = 800,000 cycles: spans of 2048 cycles
    # (512 x 1024 < 800,000 <= 512 x 2048), ceil(800,000 / 2048) = 391 of them
    assert timeline.span_cycles == 2048 and len(timeline.edges) == 391 + 1
    assert (tmp_path / "long.png").read_bytes().startswith(MAGIC[".png"])
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_an_empty_run_still_draws(tmp_path):
    recorder, stats = recorded(assemble("sync\n", "empty.asm"), "dlp-s")
    timeline = build_timeline(recorder, stats)
    assert timeline.cycles == 0 and timeline.used == ()
    write_timeline(timeline, str(tmp_path / "empty.png"))
    assert (tmp_path / "empty.png").stat().st_size > 1000


def test_draws_on_a_plain_figure_without_pyplot():
    recorder, stats = recorded(FC, "dlp-s")
    figure = draw_timeline(build_timeline(recorder, stats))
    assert type(figure).__name__ == "Figure" and figure.axes


# --------------------------------------------------------------------------------------------
# dlpsim run --timeline / --show
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_run_timeline_writes_the_image(tmp_path, suffix):
    out = tmp_path / f"t{suffix}"
    result = CliRunner().invoke(main, ["run", FC, "--timeline", str(out)])
    assert result.exit_code == 0, result.output
    assert "132736" in result.output  # the summary is still printed
    assert out.read_bytes().startswith(MAGIC[suffix]) and out.stat().st_size > 5000


def test_run_timeline_bad_inputs_exit_2_without_traceback(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["run", FC, "--timeline", str(tmp_path / "t.gif")])
    assert result.exit_code == 2 and "extension '.gif'" in result.output
    assert not (tmp_path / "t.gif").exists()
    result = runner.invoke(main, ["run", FC, "--timeline", str(tmp_path / "no" / "such" / "t.png")])
    assert result.exit_code == 2 and "cannot write the timeline" in result.output
    result = runner.invoke(main, ["run", FC, "--timeline", str(tmp_path / "t")])
    assert result.exit_code == 2 and "extension '(none)'" in result.output
    assert "Traceback" not in result.output


def test_run_timeline_is_headless_and_shows_only_when_asked(tmp_path):
    """No display and a GUI backend requested: the file is still written, pyplot never imported."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DISPLAY", "WAYLAND_DISPLAY", "DLPSIM_DEBUG")}
    environment["MPLBACKEND"] = "TkAgg"
    code = ("import sys\nfrom dlpsim.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n"
            "    assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n    raise\n")
    out = tmp_path / "t.png"
    result = subprocess.run([sys.executable, "-c", code, "run", FC, "--timeline", str(out)], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(MAGIC[".png"])
    # --show goes through pyplot; with the non-interactive Agg backend it returns at once
    environment["MPLBACKEND"] = "Agg"
    result = subprocess.run([sys.executable, "-m", "dlpsim.cli", "run", FC, "--show"], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_run_timeline_incomplete_run_still_draws_and_exits_2(tmp_path):
    # each iteration needs 1 + 1 cycles one after the other (sync), the bound sees 1000: stopped at 1500
    looping = tmp_path / "loop.asm"
    looping.write_text("loop 1000\n  move DRAM NRAM 64\n  sync\n  compute MAC_32 256\n  sync\nendloop\n")
    out = tmp_path / "t.png"
    result = CliRunner().invoke(main, ["run", str(looping), "--timeline", str(out), "--max-cycles", "1500"])
    assert result.exit_code == 2 and "INCOMPLETE" in result.output
    assert out.read_bytes().startswith(MAGIC[".png"])


def test_readme_shows_the_fc_timeline_and_the_command_that_draws_it(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    image = "docs/images/fc_1024x256_timeline.png"
    command = f"dlpsim run programs/fc_1024x256.asm --timeline {image}"
    assert "## Analyzers" in readme and command in readme and f"]({image})" in readme
    stored = (REPO / image).read_bytes()
    out = tmp_path / "t.png"
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["run", "programs/fc_1024x256.asm", "--timeline", str(out)])
    assert result.exit_code == 0
    drawn = out.read_bytes()
    # the same chart: PNG width and height (IHDR) equal; the bytes may differ between matplotlib versions
    assert stored.startswith(MAGIC[".png"]) and stored[16:24] == drawn[16:24]
