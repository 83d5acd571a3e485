"""`dlpsim report`: one HTML (self-contained) or Markdown (images beside it) file per program or network."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.analysis.report import Document, Image, Paragraph, Table, render_html, render_markdown
from dlpsim.asm import assemble_file
from dlpsim.cli import main
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.sim import simulate
from dlpsim.workloads import load_network

REPO = Path(__file__).resolve().parents[1]
FC = str(REPO / "programs" / "fc_1024x256.asm")
EX7_11 = str(REPO / "programs" / "ex7_11.asm")
PNG = b"\x89PNG\r\n\x1a\n"


def report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.output


def embedded_images(text: str) -> list[bytes]:
    pattern = r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"'
    return [base64.b64decode(data) for data in re.findall(pattern, text)]


@pytest.fixture(scope="module")
def fc_html(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("fc") / "report.html"
    code, output = report(FC, "-o", str(out))
    assert code == 0, output
    return out.read_text(encoding="utf-8")


def test_program_html_holds_the_simulators_numbers(fc_html):
    stats = simulate(assemble_file(FC), load_machine("dlp-s"))
    for figure in (stats.cycles, stats.bound.cycles, stats.mac_operations, stats.dram_bytes):
        assert f"<td>{figure:,}" in fc_html or f">{figure:,}<" in fc_html, figure
    assert f"{float(stats.efficiency) * 100:.1f}%" in fc_html
    assert "<td>core0</td><td>compute</td>" in fc_html
    # the text summary of `dlpsim run`, verbatim
    assert f"cycles          {stats.cycles}" in fc_html


def test_program_html_is_self_contained_with_timeline_and_roofline(fc_html):
    images = embedded_images(fc_html)
    assert len(images) == 2 and all(image.startswith(PNG) and len(image) > 10_000 for image in images)
    assert 'alt="timeline of fc_1024x256.asm"' in fc_html and 'alt="roofline of fc_1024x256.asm"' in fc_html
    assert "<style>" in fc_html
    for external in ("<link", "<script", 'src="http', "url(", "@import"):
        assert external not in fc_html
    # its roofline position: 2 x 33554432 operations over 1703936 DRAM bytes = 39.38 ops/byte
    assert "39.38 operations/byte" in fc_html


def test_program_markdown_writes_its_images_beside_it(tmp_path):
    out = tmp_path / "report.md"
    code, output = report(FC, "-o", str(out))
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    for name in ("timeline", "roofline"):
        image = tmp_path / "report_files" / f"{name}.png"
        assert image.read_bytes().startswith(PNG) and image.stat().st_size > 10_000
        assert f"](report_files/{name}.png)" in text
    assert "| cycles | 132,736 |" in text
    assert "|---|---:|---:|---:|---:|" in text  # numbers right-aligned


def test_reports_are_byte_identical_across_runs(tmp_path, fc_html):
    out = tmp_path / "report.html"
    assert report(FC, "-o", str(out))[0] == 0
    assert out.read_text(encoding="utf-8") == fc_html
    first, second = tmp_path / "one" / "r.md", tmp_path / "two" / "r.md"
    for path in (first, second):
        path.parent.mkdir()
        assert report(EX7_11, "-o", str(path))[0] == 0
    assert first.read_bytes() == second.read_bytes()
    for name in ("timeline.png", "roofline.png"):
        assert (first.parent / "r_files" / name).read_bytes() == \
            (second.parent / "r_files" / name).read_bytes()


def test_report_in_another_process_is_identical(tmp_path, fc_html):
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "dlpsim.cli", "report", FC, "-o", str(out)],
                            capture_output=True, text=True, timeout=120, env={"PYTHONHASHSEED": "7",
                                                                              "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == fc_html


def test_machine_options_apply(tmp_path):
    out = tmp_path / "r.html"
    code, output = report(FC, "--set", "dram.bandwidth=128GB/s", "-o", str(out))
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert "bandwidth = 128000000000" in text
    assert "--set dram.bandwidth=128GB/s" in text  # how to make it again
    stats = simulate(assemble_file(FC), load_machine("dlp-s", overrides=["dram.bandwidth=128GB/s"]))
    assert f"<td>cycles</td><td>{stats.cycles:,}</td>" in text


def test_multicore_program_report(tmp_path):
    out = tmp_path / "r.html"
    assert report(EX7_11, "-o", str(out))[0] == 0
    text = out.read_text(encoding="utf-8")
    stats = simulate(assemble_file(EX7_11), load_machine("dlp-m"))
    assert f"<td>cycles</td><td>{stats.cycles:,}</td>" in text
    assert "<td>mem</td>" in text and "<td>shared.3</td>" in text


@pytest.mark.parametrize("suffix", [".html", ".md"])
def test_network_report_has_every_layer_totals_and_roofline(tmp_path, suffix):
    out = tmp_path / f"lenet{suffix}"
    code, output = report("lenet5", "-o", str(out))
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    run = run_network(load_network("lenet5"), load_machine("dlp-s"))
    for layer in run.layers:
        assert layer.name in text
    assert f"{run.cycles:,}" in text and f"{run.macs:,}" in text
    if suffix == ".html":
        images = embedded_images(text)  # the energy chart and the roofline
        assert len(images) == 2 and all(image.startswith(PNG) for image in images)
    else:
        for chart in ("energy", "roofline"):
            assert (tmp_path / "lenet_files" / f"{chart}.png").read_bytes().startswith(PNG)
            assert f"](lenet_files/{chart}.png)" in text


def test_network_from_a_topology_csv(tmp_path):
    topology = tmp_path / "tiny.csv"
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                        "Num Filter, Strides,\nconv1, 16, 16, 3, 3, 8, 16, 1,\n")
    out = tmp_path / "tiny.html"
    code, output = report(str(topology), "--preset", "dlp-m", "-o", str(out))
    assert code == 0, output
    assert "conv1" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, says", [
    (("nosuchnet", "-o", "{tmp}/r.html"), "not a program file, a built-in network"),
    (("{tmp}/missing.asm", "-o", "{tmp}/r.html"), "cannot read the file"),
    ((FC, "-o", "{tmp}/r.txt"), "extension '.txt'"),
    ((FC, "-o", "{tmp}/r"), "extension '(none)'"),
    ((FC, "-o", "{tmp}/no/such/dir/r.html"), "cannot write the report"),
    ((FC, "-o", "{tmp}/no/such/dir/r.md"), "cannot write the report"),
    (("lenet5", "--preset", "dlp-x", "-o", "{tmp}/r.html"), "dlp-x"),
    (("lenet5", "--max-cycles", "10", "-o", "{tmp}/r.html"), "limit"),
])
def test_bad_inputs_exit_2_without_traceback(tmp_path, args, says):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    code, output = report(*args)
    assert code == 2, output
    assert says in output and "Traceback" not in output
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.txt").exists()


def test_stopped_run_writes_the_partial_report_and_exits_2(tmp_path):
    looping = tmp_path / "loop.asm"
    looping.write_text("loop 1000\n  move DRAM NRAM 64\n  sync\n  compute MAC_32 256\n  sync\nendloop\n")
    out = tmp_path / "r.html"
    code, output = report(str(looping), "--max-cycles", "1500", "-o", str(out))
    assert code == 2 and "stopped at the limit" in output
    assert "INCOMPLETE" in out.read_text(encoding="utf-8")


def test_markdown_and_html_escape_what_they_show():
    document = Document("a <b> | c", (Paragraph("x < y and `a|b`"),
                                      Table(("k", "v"), (("p|q", "<i>"),), (False, True)),
                                      Image("pic", PNG, "alt \"q\"", "cap")))
    text = render_html(document)
    assert "<title>a &lt;b&gt; | c</title>" in text and "<code>a|b</code>" in text
    assert '<td class="num">&lt;i&gt;</td>' in text and 'alt="alt &quot;q&quot;"' in text
    markdown, images = render_markdown(document, "d_files")
    assert "| p\\|q | &lt;i&gt; |" in markdown and "](d_files/pic.png)" in markdown
    assert images == {"pic.png": PNG}


# -- the control unit's causes add up to the run's cycles, everywhere they are shown --------------

THREE_LINES = "move DRAM NRAM 64\ncompute MAC_32 256\nmove NRAM DRAM 64\n"
CONTROL_CASES = [
    # (program, preset, overrides)
    (THREE_LINES, "dlp-s", ["core.issue_cycles=5"]),
    (THREE_LINES, "dlp-s", []),
    ("loop 40\nmove DRAM NRAM 4096\ncompute MAC_32 4096\nendloop\nsync\nmove NRAM DRAM 64\n", "dlp-s",
     ["core.queue_depth=1", "core.issue_cycles=2"]),
    (".core all\nmove DRAM NRAM 8192\nbarrier\ncompute MAC_32 65536\n.core 0\nsync\nmove NRAM DRAM 64\n"
     ".core mem\nmove DRAM SharedRAM 4096\nbarrier\n", "dlp-m", ["core.issue_cycles=3"]),
]


def _control_rows(lines: list[str]) -> list[list[int]]:
    """The numbers of each row of the control-unit table in `dlpsim run`'s text."""
    start = next(i for i, line in enumerate(lines) if line.startswith("core   finished at"))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append([int(cell) for cell in line.split()[1:]])
    return rows


@pytest.mark.parametrize("case", range(len(CONTROL_CASES)))
def test_control_unit_causes_add_up_to_the_cycles_in_text_json_and_report(case, tmp_path):
    text, preset, overrides = CONTROL_CASES[case]
    program = tmp_path / "p.asm"
    program.write_text(text, encoding="utf-8")
    sets = [word for override in overrides for word in ("--set", override)]
    runner = CliRunner()

    as_json = runner.invoke(main, ["run", str(program), "--preset", preset, *sets, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    total = data["cycles"]
    if case == 0:  # three issues of 5 cycles each; the last move (64 B at 64 B/cycle) then takes 1
        assert total == 3 * 5 + 1
        assert data["cores"]["core0"]["control"]["issuing"] == 3 * 5
    for name, core in data["cores"].items():
        assert list(core["control"]) == ["issuing", "queue_full", "sync", "barrier", "finished"], name
        assert sum(core["control"].values()) == total, name
    if any(override.startswith("core.issue_cycles") for override in overrides):
        assert all(core["control"]["issuing"] > 0 for core in data["cores"].values())

    as_text = runner.invoke(main, ["run", str(program), "--preset", preset, *sets])
    rows = _control_rows(as_text.output.splitlines())
    assert len(rows) == len(data["cores"])
    for _finished_at, *causes in rows:
        assert sum(causes) == total

    out = tmp_path / "r.md"
    made = runner.invoke(main, ["report", str(program), "--preset", preset, *sets, "-o", str(out)])
    assert made.exit_code == 0, made.output
    lines = out.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| core | finished at |"))
    for line in lines[header + 2: header + 2 + len(data["cores"])]:
        cells = [cell.strip().replace(",", "") for cell in line.strip("|").split("|")]
        assert sum(int(cell) for cell in cells[2:]) == total, line
