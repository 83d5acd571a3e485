"""The utilization sweep (exercise 6.8): parsing --vary, the simulations, the files and the command."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.analysis.sweep import format_sweep, plot_sweep
from dlpsim.cli import main
from dlpsim.errors import ConfigError
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.run.sweep import TOTAL_COLUMNS, load_sweep, parse_vary, sweep
from dlpsim.workloads import get_network

BANDWIDTH = "dram.bandwidth=12.8GB/s"  # exercise 6.8's bandwidth, on the DRAM link (docs/sweep.md)
MACS = "core.matrix.macs_per_cycle"


# -- --vary --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "values"), [
    (f"{MACS}=16,32,...,4096", [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]),  # doubling
    (f"{MACS}=10,20,30,...,60", [10, 20, 30, 40, 50, 60]),  # evenly stepped
    (f"{MACS}=16,64,256,...,4096", [16, 64, 256, 1024, 4096]),  # a constant ratio
    (f"{MACS}=100,50,...,25", [100, 50, 25]),  # halving
    (f"{MACS}=0.5,1,...,4", [Fraction(1, 2), 1, 2, 4]),
    (f"{MACS}=7, 3 ,5", [7, 3, 5]),  # a plain list, in the order given
    ("dram.bandwidth=12.8GB/s,25.6GB/s,...,102.4GB/s", [12_800_000_000, 25_600_000_000, 51_200_000_000,
                                                       102_400_000_000]),
    ("core.nram.capacity=64KB,128KB,...,512KB", [65536, 131072, 262144, 524288]),
])
def test_vary_values_and_series(spec, values):
    vary = parse_vary(spec)
    assert vary.key == spec.partition("=")[0]
    assert list(vary.values) == values
    # every text reads back, through the same parser as --set, to its value
    for text, value in zip(vary.texts, vary.values, strict=True):
        assert parse_vary(f"{vary.key}={text}").values == (value,)


def test_bandwidth_values_are_labelled_in_gb_per_second():
    vary = parse_vary("dram.bandwidth=12.8GB/s,25.6GB/s,...,102.4GB/s")
    assert vary.labels == ("12.8", "25.6", "51.2", "102.4")
    assert vary.axis_label == "dram.bandwidth (GB/s)"


@pytest.mark.parametrize(("spec", "key", "message"), [
    ("core.matrix.macs=1,2", "core.matrix.macs", "not a numeric configuration key"),
    ("machine.name=a,b", "machine.name", "not a numeric configuration key"),
    ("core=1,2", "core", "not a numeric configuration key"),
    (f"{MACS}=16,x", MACS, "'x': expected a number"),
    (f"{MACS}=-16", MACS, "must be positive"),
    ("core.nram.capacity=1.5", "core.nram.capacity", "expected a size"),
    ("core.count=1,2,3,...,2000", "core.count", "at most 1024"),
    (f"{MACS}=10,20,...,100", MACS, "never reaches 100"),  # doubling: 10, 20, 40, 80, 160
    (f"{MACS}=1,3,4,...,9", MACS, "must double, step evenly or have a constant ratio"),
    (f"{MACS}=16,32,...", MACS, "exactly one after it"),
    (f"{MACS}=16,...,64", MACS, "at least two values before"),
    (f"{MACS}=1,2,...,2", MACS, "already before"),
    (f"{MACS}=1,,2", MACS, "empty value"),
    (f"{MACS}=", MACS, "expected KEY=V1,V2"),
])
def test_bad_vary_is_an_error_naming_the_key(spec, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_vary(spec)
    assert caught.value.key == key
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"--vary {spec}: error: {key}: ")


# -- the simulations -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mlp_sweep():
    """MLP (its FC layers are DRAM-bound at 12.8 GB/s) at five MAC-array sizes."""
    return sweep(get_network("mlp"), [parse_vary(f"{MACS}=16,32,...,256")], preset="dlp-s",
                 overrides=[BANDWIDTH])


def test_each_point_is_run_on_its_machine(mlp_sweep):
    assert [point.values for point in mlp_sweep.points] == [(16,), (32,), (64,), (128,), (256,)]
    for point in mlp_sweep.points:
        assert point.run.peak_macs_per_cycle == point.values[0]
    # and equals a plain run of the network on the same machine
    point = mlp_sweep.points[2]
    machine = load_machine("dlp-s", overrides=[BANDWIDTH, f"{MACS}=64"])
    assert point.run == run_network(get_network("mlp"), machine)


def test_utilization_does_not_grow_with_the_mac_array_at_fixed_bandwidth(mlp_sweep):
    names = mlp_sweep.mac_layer_names
    assert names == ("fc1", "fc2", "fc3")
    for name in names:
        layers = [point.run.layer(name) for point in mlp_sweep.points]
        assert all(layer.bound.kind == "dram" for layer in layers), f"{name} should be bandwidth-bound"
        utilization = [layer.mac_utilization for layer in layers]
        assert utilization == sorted(utilization, reverse=True), f"{name}: {utilization}"
        # bandwidth-bound: the time hardly moves while the array grows 16x
        cycles = [layer.cycles for layer in layers]
        assert max(cycles) <= Fraction(11, 10) * min(cycles)
    overall = [point.run.mac_utilization for point in mlp_sweep.points]
    assert overall == sorted(overall, reverse=True)
    # doubling the array about halves the utilization of a bandwidth-bound network
    assert overall[0] / overall[-1] == pytest.approx(16, rel=0.05)


def test_csv_has_one_row_per_value_with_the_simulators_numbers(mlp_sweep, tmp_path):
    path = tmp_path / "sweep.csv"
    mlp_sweep.write_csv(path)
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(mlp_sweep.points) == 5
    assert list(rows[0])[:1 + len(TOTAL_COLUMNS)] == [MACS, *TOTAL_COLUMNS]
    for row, point in zip(rows, mlp_sweep.points, strict=True):
        run = point.run
        assert int(row[MACS]) == point.values[0]
        assert (int(row["macs"]), int(row["dram_bytes"]), int(row["cycles"])) == (
            run.macs, run.dram_bytes, run.cycles)
        assert float(row["mac_utilization"]) == pytest.approx(float(run.mac_utilization), abs=1e-6)
        assert int(row["bound_cycles"]) == run.bound.cycles
        for layer in run.layers:
            assert int(row[f"{layer.name}:cycles"]) == layer.cycles
            assert float(row[f"{layer.name}:mac_utilization"]) == pytest.approx(float(layer.mac_utilization),
                                                                                abs=1e-6)


def test_results_file_round_trips(mlp_sweep, tmp_path):
    path = tmp_path / "sweep.json"
    mlp_sweep.write_json(path)
    assert load_sweep(path) == mlp_sweep


def test_table_lists_every_point(mlp_sweep):
    text = format_sweep(mlp_sweep)
    assert "mlp on dlp-s with --set dram.bandwidth=12.8GB/s: 5 simulations" in text
    assert len([line for line in text.splitlines() if line.strip().split(" ")[0] in
                ("16", "32", "64", "128", "256")]) == 5


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_line_chart_is_written(mlp_sweep, tmp_path, suffix):
    path = tmp_path / f"sweep{suffix}"
    plot_sweep(mlp_sweep, str(path))
    assert path.stat().st_size > 5000


def test_two_varies_give_a_grid_and_a_heat_map(tmp_path):
    result = sweep(get_network("mlp"), [parse_vary(f"{MACS}=16,64"),
                                        parse_vary("dram.bandwidth=8GB/s,16GB/s,32GB/s")], preset="dlp-s")
    assert [point.values for point in result.points] == [
        (16, 8 * 10**9), (16, 16 * 10**9), (16, 32 * 10**9), (64, 8 * 10**9), (64, 16 * 10**9),
        (64, 32 * 10**9)]
    # more bandwidth never slows a DRAM-bound MLP
    for first in (0, 3):
        cycles = [point.run.cycles for point in result.points[first:first + 3]]
        assert cycles == sorted(cycles, reverse=True)
    path = tmp_path / "grid.png"
    plot_sweep(result, str(path))
    assert path.read_bytes().startswith(b"\x89PNG")
    rows = result.csv_rows()
    assert rows[0][:2] == (MACS, "dram.bandwidth") and len(rows) == 1 + 6


# -- the command ---------------------------------------------------------------------------------

def test_command_writes_chart_and_csv_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", "--net", "mlp", "--preset", "dlp-s", "--set", BANDWIDTH,
                                  "--vary", f"{MACS}=32,64,128", "-o", "util.png", "--results", "u.json"])
    assert result.exit_code == 0, result.output
    assert Path("util.png").read_bytes().startswith(b"\x89PNG")
    with open("util.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row[MACS] for row in rows] == ["32", "64", "128"]
    machine = load_machine("dlp-s", overrides=[BANDWIDTH, f"{MACS}=128"])
    assert int(rows[-1]["cycles"]) == run_network(get_network("mlp"), machine).cycles
    redrawn = runner.invoke(main, ["sweep", "--from", "u.json", "-o", "again.svg", "--csv", "again.csv"])
    assert redrawn.exit_code == 0, redrawn.output
    assert Path("again.svg").stat().st_size > 0
    assert Path("again.csv").read_text("utf-8") == Path("util.csv").read_text("utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--net", "mlp", "--vary", "core.matrix.macs=1,2"], "core.matrix.macs: not a numeric configuration key"),
    (["--net", "mlp", "--vary", f"{MACS}=16,fast"], f"{MACS}: 'fast'"),
    (["--net", "mlp", "--vary", "dram.bandwidth=1GB/s,2GB/s,...,5GB/s"], "never reaches"),
    (["--net", "mlp"], "give at least one --vary"),
    (["--vary", f"{MACS}=16,32"], "--net NAME"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "--vary", f"{MACS}=32"], "given twice"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "--vary", "dram.latency=1", "--vary", "core.count=1"],
     "at most 2 --vary"),
    (["--net", "mlp", "--preset", "dlp-s", "--vary", "shared.capacity=1MB"], "shared.bandwidth"),
    (["--net", "nonesuch", "--vary", f"{MACS}=16"], "unknown network 'nonesuch'"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "-o", "util.gif"],
     "util.gif: error: cannot tell the chart's format"),
])
def test_bad_input_exits_2_naming_the_problem(args, message):
    result = CliRunner().invoke(main, ["sweep", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
