"""The roofline analyzer (exercises 6.10, 6.13): its geometry, its points, its files and its command.

The roof's numbers are derived here from the presets' textbook values, never copied from
the analyzer's output; every simulated layer must lie on or under the roof, exactly (with
fractions): a point above it is a simulator bug.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.analysis.roofline import (
    CSV_COLUMNS,
    INTENSITY_LABEL,
    PERFORMANCE_LABEL,
    Roof,
    format_roofline,
    load_roofline,
    plot_roofline,
    roofline,
)
from dlpsim.cli import main
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.workloads import get_network

SMALL_NETWORKS = ("lenet5", "mlp", "lstm-lm", "textbook-fc")
IMAGE_SIGNATURES = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


@pytest.fixture(scope="module", params=["dlp-s", "dlp-m"])
def simulated(request):
    """The small networks simulated on one preset, and their roofline."""
    machine = load_machine(request.param)
    runs = [run_network(get_network(name), machine) for name in SMALL_NETWORKS]
    return machine, runs, roofline(machine, runs)


# -- geometry -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("preset", "peak_gops", "bandwidth_gb", "ridge"), [
    # dlp-s (7.7): 256 MAC/cycle x 2 x 1 GHz = 512 GOP/s over 64 GB/s -> 8 operations per byte
    ("dlp-s", 512, 64, 8),
    # dlp-m (7.11): 4 cores x 256 MAC/cycle x 2 x 1 GHz = 2048 GOP/s over 128 GB/s -> 16 per byte
    ("dlp-m", 2048, 128, 16),
])
def test_ridge_point_is_peak_over_bandwidth(preset, peak_gops, bandwidth_gb, ridge):
    roof = Roof.of(load_machine(preset))
    assert roof.peak_gops == peak_gops
    assert roof.bandwidth_gb_per_second == bandwidth_gb
    assert roof.ridge_intensity == roof.peak_ops_per_second / roof.dram_bytes_per_second == ridge
    # the two ceilings meet there, and the roof is the lower one on either side
    assert roof.attainable_ops_per_second(roof.ridge_intensity) == roof.peak_ops_per_second
    assert roof.attainable_ops_per_second(roof.ridge_intensity / 2) == roof.peak_ops_per_second / 2
    assert roof.attainable_ops_per_second(roof.ridge_intensity * 2) == roof.peak_ops_per_second


def test_ridge_point_follows_the_configuration():
    machine = load_machine("dlp-s", overrides=["dram.bandwidth=12.8GB/s", "core.matrix.macs_per_cycle=64"])
    # 2 x 64 x 1e9 / 12.8e9 = 10 operations per byte
    assert Roof.of(machine).ridge_intensity == 10


# -- the points -----------------------------------------------------------------------------------

def test_every_layer_lies_on_or_under_the_roof(simulated):
    machine, _, result = simulated
    roof = result.roof
    assert result.points, "the small networks have layers with MACs"
    for point in result.points:
        attainable = min(roof.peak_ops_per_second, point.intensity * roof.dram_bytes_per_second)
        performance = Fraction(2 * point.macs) * roof.clock_hz / point.cycles
        assert performance <= attainable, f"{point.network}/{point.layer} is above the roof: a simulator bug"
    assert result.above_roof() == ()
    for network in result.networks:  # the whole networks too
        assert network.total.fraction_of_roof(roof) <= 1


def test_a_point_above_the_roof_is_reported():
    machine = load_machine("dlp-s")
    run = run_network(get_network("mlp"), machine)
    fc1 = run.layer("fc1")
    too_fast = dataclasses.replace(fc1, cycles=fc1.bound.dram_cycles // 2)  # faster than DRAM allows
    fake = dataclasses.replace(run, layers=(too_fast, *run.layers[1:]))
    # fc1 dominates the MLP, so the whole network is pushed above the roof with it
    assert [point.layer for point in roofline(machine, [fake]).above_roof()] == ["fc1", "TOTAL"]


def test_points_are_the_simulators_figures(simulated):
    machine, runs, result = simulated
    roof = result.roof
    for run, network in zip(runs, result.networks, strict=True):
        assert network.network == run.network
        drawn = {point.layer: point for point in network.layers}
        for layer in run.layers:
            if layer.macs == 0:
                assert layer.name in network.skipped and layer.name not in drawn
                continue
            point = drawn[layer.name]
            assert (point.macs, point.dram_bytes, point.cycles) == (
                layer.macs, layer.dram_bytes, layer.cycles)
            assert point.intensity == Fraction(2 * layer.macs, layer.dram_bytes)
            assert point.ops_per_second(roof) == Fraction(2 * layer.macs) * machine.clock_hz / layer.cycles
        total = network.total
        assert (total.macs, total.dram_bytes, total.cycles) == (run.macs, run.dram_bytes, run.cycles)


def test_layers_without_macs_are_left_out_and_listed():
    machine = load_machine("dlp-s")
    result = roofline(machine, [run_network(get_network("lenet5"), machine)])
    network = result.networks[0]
    kinds = {node.name: node.layer.kind for node in get_network("lenet5").nodes}
    assert network.skipped and all(kinds[name] not in ("conv", "fc", "lstm") for name in network.skipped)
    assert all(point.kind in ("conv", "fc", "lstm") for point in network.layers)
    assert "1 MAC = 2 operations" in format_roofline(result)


def test_a_roof_from_another_machine_is_refused():
    run = run_network(get_network("mlp"), load_machine("dlp-s"))
    with pytest.raises(ValueError, match="another machine"):
        roofline(load_machine("dlp-m"), [run])


# -- files ---------------------------------------------------------------------------------------

def test_csv_numbers_equal_the_simulators(simulated, tmp_path):
    machine, runs, result = simulated
    path = tmp_path / "roofline.csv"
    result.write_csv(path)
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_name = {(row["network"], row["layer"]): row for row in rows}
    expected_rows = 0
    for run in runs:
        for layer in run.layers:
            if layer.macs == 0:
                assert (run.network, layer.name) not in by_name
                continue
            expected_rows += 1
            row = by_name[(run.network, layer.name)]
            assert (int(row["macs"]), int(row["dram_bytes"]), int(row["cycles"])) == (
                layer.macs, layer.dram_bytes, layer.cycles)
            assert int(row["operations"]) == 2 * layer.macs
            assert float(row["intensity_ops_per_byte"]) == pytest.approx(2 * layer.macs / layer.dram_bytes,
                                                                         abs=1e-6)
            gops = 2 * layer.macs * float(machine.clock_hz) / layer.cycles / 1e9
            assert float(row["performance_gops"]) == pytest.approx(gops, abs=1e-6)
            assert float(row["fraction_of_roof"]) <= 1
        total = by_name[(run.network, "TOTAL")]
        assert int(total["cycles"]) == run.cycles and int(total["dram_bytes"]) == run.dram_bytes
        expected_rows += 1
    assert len(rows) == expected_rows


def test_results_file_round_trips(simulated, tmp_path):
    _, _, result = simulated
    path = tmp_path / "roofline.json"
    result.write_json(path)
    assert load_roofline(path) == result


def test_a_bad_results_file_is_a_user_error(tmp_path):
    from dlpsim.errors import UserError

    path = tmp_path / "bad.json"
    path.write_text('{"format": "dlpsim-sweep/1"}', encoding="utf-8")
    with pytest.raises(UserError, match="expected a results file of format 'dlpsim-roofline/1'"):
        load_roofline(path)
    path.write_text('{"format": "dlpsim-roofline/1", "roof": {}}', encoding="utf-8")
    with pytest.raises(UserError, match="not a valid"):
        load_roofline(path)


@pytest.fixture(scope="module")
def chart_data():
    machine = load_machine("dlp-s")
    return roofline(machine, [run_network(get_network(name), machine) for name in ("mlp", "lstm-lm")])


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_chart_is_written_in_the_extensions_format(chart_data, tmp_path, suffix):
    result = chart_data
    path = tmp_path / f"roofline{suffix}"
    plot_roofline(result, str(path))
    data = path.read_bytes()
    assert len(data) > 5000 and data.startswith(IMAGE_SIGNATURES[suffix])
    if suffix == ".svg":  # the format with random ids unless told otherwise
        plot_roofline(result, str(path))
        assert path.read_bytes() == data, "the same data must give the same file"


def test_axes_state_the_units(chart_data):
    from matplotlib.figure import Figure

    from dlpsim.analysis.roofline import draw_roofline

    result = chart_data
    figure = Figure()
    draw_roofline(figure, result)
    axes = figure.axes[0]
    assert axes.get_xlabel() == INTENSITY_LABEL and "1 MAC = 2 operations" in INTENSITY_LABEL
    assert axes.get_ylabel() == PERFORMANCE_LABEL and "GOP/s" in PERFORMANCE_LABEL
    assert axes.get_xscale() == axes.get_yscale() == "log"
    texts = " ".join(text.get_text() for text in axes.texts)
    ridge = f"{float(result.roof.ridge_intensity):g}"
    assert f"ridge point: {ridge} operations/byte" in texts
    assert f"peak compute {float(result.roof.peak_gops):g} GOP/s" in texts
    assert f"DRAM bandwidth {float(result.roof.bandwidth_gb_per_second):g} GB/s" in texts
    labels = axes.get_legend_handles_labels()[1]
    assert [label for label in labels if label.endswith("whole network")] == [
        "mlp: whole network", "lstm-lm: whole network"]


def test_computation_needs_no_matplotlib_and_plotting_no_display(tmp_path):
    """Importing the analyzers loads no matplotlib; drawing uses Agg, never pyplot or a display."""
    script = (
        "import os, sys\n"
        "os.environ.pop('DISPLAY', None); os.environ.pop('MPLBACKEND', None)\n"
        "import dlpsim.analysis.roofline, dlpsim.analysis.sweep, dlpsim.cli\n"
        "assert 'matplotlib' not in sys.modules, 'imported matplotlib at module import'\n"
        "from dlpsim.analysis.roofline import plot_roofline, roofline\n"
        "from dlpsim.machine import load_machine\n"
        f"plot_roofline(roofline(load_machine('dlp-s')), {str(tmp_path / 'roof.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "import matplotlib; assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert (tmp_path / "roof.png").stat().st_size > 5000


# -- the command ---------------------------------------------------------------------------------

def test_command_writes_chart_csv_and_results_and_redraws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["roofline", "--preset", "dlp-s", "--net", "mlp", "--net", "lstm-lm",
                                  "-o", "roof.png", "--csv", "roof.csv", "--results", "roof.json"])
    assert result.exit_code == 0, result.output
    assert "ridge point    8 operations per DRAM byte" in result.output
    for name in ("roof.png", "roof.csv", "roof.json"):
        assert Path(name).stat().st_size > 0
    redrawn = runner.invoke(main, ["roofline", "--from", "roof.json", "-o", "again.svg"])
    assert redrawn.exit_code == 0, redrawn.output
    assert Path("again.svg").read_bytes().startswith(b"<?xml")
    assert redrawn.output.splitlines()[:8] == result.output.splitlines()[:8]


def test_command_without_networks_draws_the_bare_roof(tmp_path):
    result = CliRunner().invoke(main, ["roofline", "--preset", "dlp-m", "-o", str(tmp_path / "roof.pdf")])
    assert result.exit_code == 0, result.output
    assert "ridge point    16 operations per DRAM byte" in result.output
    assert (tmp_path / "roof.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(("args", "message"), [
    (["--net", "nonesuch"], "unknown network 'nonesuch'"),
    (["--net", "mlp", "-o", "roof.jpg"], "roof.jpg: error: cannot tell the chart's format"),
    (["--set", "dram.bandwidth=fast"], "dram.bandwidth"),
    (["--preset", "dlp-x"], "unknown preset 'dlp-x'"),
    (["--from", "missing.json"], "missing.json: error: cannot read the results file"),
    (["--from", "r.json", "--net", "mlp"], "drop --net"),
])
def test_bad_input_exits_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["roofline", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_show_without_a_display_is_a_clear_error():
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environment["MPLBACKEND"] = "Agg"  # what matplotlib falls back to on a machine without a display
    result = subprocess.run([sys.executable, "-m", "dlpsim", "roofline", "--preset", "dlp-s", "--show"],
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--show needs a display" in result.stderr and "Traceback" not in result.stderr
