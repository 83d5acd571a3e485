"""Design-space exploration: the cost proxy, the grid and its samples, the budget, the Pareto front,
a pluggable objective, and the command's table, CSV, chart and bad input."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.errors import UserError
from dlpsim.machine import load_machine
from dlpsim.run.explore import Design, Metric, _front, chosen_indices, explore, parse_budget
from dlpsim.run.network import run_network
from dlpsim.run.sweep import parse_vary
from dlpsim.workloads import get_network

MACS = "core.matrix.macs_per_cycle"


# -- the cost proxy (weights: 1 per MAC_32/cycle, 0.5 per KB of SRAM, 2 per GB/s; presets' [cost]) ----

@pytest.mark.parametrize(("preset", "overrides", "cost"), [
    ("dlp-s", [], 256 * 1 + (128 + 256) * Fraction(1, 2) + 64 * 2),  # 576
    ("dlp-m", [], 4 * 256 + (4 * (128 + 256) + 2048) * Fraction(1, 2) + 128 * 2),  # 3072
    ("dlp-s", [f"{MACS}=16", "dram.bandwidth=12.8GB/s"], 16 + 192 + Fraction(128, 10) * 2),
    ("dlp-s", ["core.matrix.model=systolic", "core.matrix.rows=8", "core.matrix.columns=4"], 32 + 192 + 128),
    ("dlp-s", ["cost.per_sram_kb=0", "cost.per_dram_gb_per_s=0"], 256),
])
def test_the_cost_proxy_weighs_mac_units_sram_and_bandwidth(preset, overrides, cost):
    assert load_machine(preset, overrides=overrides).cost_proxy == cost


def test_the_cost_weights_are_documented_in_every_preset():
    from dlpsim.machine import preset_names, preset_text

    for name in preset_names():
        lines = [line for line in preset_text(name).splitlines() if line.startswith("per_")]
        assert len(lines) == 3 and all("# assumption" in line for line in lines), name


# -- the grid, its samples and the budget --------------------------------------------------------------

def test_the_grid_in_order_and_a_seeded_sample_of_it():
    varies = [parse_vary(f"{MACS}=16,32,64"), parse_vary("dram.bandwidth=8GB/s,16GB/s")]
    assert chosen_indices(varies, None, 0) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    sample = chosen_indices(varies, 3, seed=7)
    assert len(sample) == 3 == len(set(sample)) and sample == sorted(sample)
    assert chosen_indices(varies, 3, seed=7) == sample  # the same seed, the same sample
    assert {tuple(chosen_indices(varies, 3, seed=seed)) for seed in range(10)} != {tuple(sample)}
    assert chosen_indices(varies, 100, seed=1) == chosen_indices(varies, None, 0)  # more than the grid: all


def test_a_sample_of_a_huge_grid_is_drawn_without_listing_it():
    keys = ("core.issue_cycles", "core.local.latency", "core.matrix.latency", "dram.latency")
    varies = [parse_vary(f"{key}=1,2,3,...,1000") for key in keys]
    assert len(chosen_indices(varies, 5, seed=0)) == 5  # of 10^12 combinations
    with pytest.raises(UserError, match="the grid has 1,000,000,000,000 points; at most 10,000"):
        chosen_indices(varies, None, 0)


@pytest.mark.parametrize(("text", "message"), [
    ("cheap", "expected a number of cost units"), ("0", "positive"), ("-5", "positive"),
    ("", "expected a number")])
def test_a_bad_budget_is_an_error_naming_it(text, message):
    with pytest.raises(UserError) as caught:
        parse_budget(text)
    assert str(caught.value).startswith(f"--budget {text}: error: ") and message in str(caught.value)


# -- the Pareto front ------------------------------------------------------------------------------------

def _design(cost, objective):
    return Design("", "", (), Fraction(cost), None if objective is None else (), None if objective is None
                  else Fraction(objective), "" if objective is not None else "does not fit")


def test_the_front_keeps_exactly_the_designs_nothing_beats():
    designs = [_design(10, 9), _design(20, 5), _design(20, 6), _design(30, 5), _design(40, 2),
               _design(5, None), _design(40, 2), _design(50, 3), _design(8, 12)]
    # (8, 12) cheapest; (10, 9) faster; (20, 5) faster again ((20, 6) is beaten by it, (30, 5) costs more
    # for the same time); (40, 2) twice, equal: both; (50, 3) is beaten; the one that did not run is out
    assert _front(designs) == {0, 1, 4, 6, 8}


# -- explorations --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exploration():
    varies = [parse_vary(f"{MACS}=16,64"), parse_vary("dram.bandwidth=16GB/s,64GB/s")]
    # costs: 16 + 192 + 32 = 240, 16 + 192 + 128 = 336, 64 + 192 + 32 = 288, 64 + 192 + 128 = 384
    return explore([get_network("mlp"), get_network("lenet5")], varies, budget=Fraction(350))


def test_the_budget_leaves_out_the_dear_designs_before_simulating(exploration):
    assert exploration.over_budget == 1 and exploration.grid == 4
    assert [design.cost for design in exploration.designs] == [240, 336, 288]
    assert [design.setting for design in exploration.designs] == [
        f"{MACS}=16 dram.bandwidth=16GB/s", f"{MACS}=16 dram.bandwidth=64GB/s",
        f"{MACS}=64 dram.bandwidth=16GB/s"]


def test_each_design_runs_every_network_and_adds_their_times(exploration):
    design = exploration.designs[2]
    machine = load_machine("dlp-s", overrides=[f"{MACS}=64", "dram.bandwidth=16GB/s"])
    runs = (run_network(get_network("mlp"), machine), run_network(get_network("lenet5"), machine))
    assert design.runs == runs
    assert design.objective == runs[0].seconds + runs[1].seconds


def test_the_front_is_what_no_design_beats(exploration):
    designs = exploration.designs
    for design in designs:
        beaten = any(other.cost <= design.cost and other.objective <= design.objective
                     and (other.cost, other.objective) != (design.cost, design.objective)
                     for other in designs)
        assert design.on_front == (not beaten), design.setting
    assert exploration.front == tuple(sorted((d for d in designs if d.on_front), key=lambda d: d.cost))
    assert [(preset.name, preset.cost) for preset in exploration.presets] == [("dlp-m", 3072), ("dlp-s", 576)]
    assert exploration.presets[1].values == (256, 64 * 10**9)


def test_the_objective_is_pluggable():
    cycles = Metric("cycles", "cycles per inference", "cycles",
                    lambda machine, runs: Fraction(sum(run.cycles for run in runs)))
    result = explore([get_network("mlp")], [parse_vary(f"{MACS}=16,64")], objective=cycles)
    assert [design.objective for design in result.designs] == [
        run_network(get_network("mlp"), load_machine("dlp-s", overrides=[f"{MACS}={value}"])).cycles
        for value in (16, 64)]
    assert result.csv_rows()[0][3] == "cycles_cycles"


def test_a_design_that_cannot_run_is_kept_with_its_reason_and_off_the_front():
    limit = run_network(get_network("mlp"), load_machine("dlp-s")).cycles  # 64 GB/s; 8 GB/s needs more
    result = explore([get_network("mlp")], [parse_vary("dram.bandwidth=8GB/s,64GB/s")], max_cycles=limit)
    slow, fast = result.designs
    assert slow.runs is None and "mlp: mlp: error: layer" in slow.failure and not slow.on_front
    assert fast.runs is not None and fast.on_front


# -- the command ----------------------------------------------------------------------------------------

def test_the_command_prints_the_front_and_writes_csv_and_chart(tmp_path):
    arguments = ["explore", "--net", "mlp", "--vary", f"{MACS}=16,64", "--vary",
                 "dram.bandwidth=16GB/s,64GB/s", "--budget", "350", "-o", str(tmp_path / "front.png")]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "mlp on dlp-s: all 4 designs of the grid" in result.output
    assert "budget 350 cost units: 1 over it, left out before simulating" in result.output
    assert "3 designs ran, 0 could not" in result.output
    assert (tmp_path / "front.png").read_bytes().startswith(b"\x89PNG")
    with open(tmp_path / "front.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["design"] for row in rows] == ["grid", "grid", "grid", "dlp-m", "dlp-s"]
    assert [row["cost"] for row in rows] == ["240", "336", "288", "3072", "576"]
    for row in rows[:3]:
        machine = load_machine("dlp-s", overrides=[f"{MACS}={row[MACS]}",
                                                   f"dram.bandwidth={row['dram.bandwidth']}"])
        assert int(row["mlp:cycles"]) == run_network(get_network("mlp"), machine).cycles
    front_rows = [row for row in rows[:3] if row["pareto"] == "yes"]
    table_rows = [line for line in result.output.splitlines() if line.startswith("  ")]  # header and front
    assert len(front_rows) == len(table_rows) - 1
    again = CliRunner().invoke(main, arguments)  # from the cache now: the same bytes
    assert again.output == result.output


@pytest.mark.parametrize(("arguments", "message"), [
    (["--net", "mlp", "--vary", f"{MACS}=16,64", "--budget", "100"],
     f"--budget 100: error: it excludes every design: the cheapest, {MACS}=16, costs 336 cost units"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "--budget", "lots"], "--budget lots: error: expected a number"),
    (["--net", "mlp", "--vary", f"{MACS}="], f"--vary {MACS}=: error: {MACS}: expected KEY=V1,V2"),
    (["--net", "mlp", "--vary", f"{MACS}=16,fast"], f"{MACS}: 'fast'"),
    (["--net", "mlp", "--vary", f"{MACS}=,"], "an empty value between commas"),
    (["--net", "mlp"], "give at least one --vary"),
    (["--vary", f"{MACS}=16"], "give at least one network with --net NAME"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "--samples", "0"], "--samples 0: error: must be at least 1"),
    (["--net", "nonesuch", "--vary", f"{MACS}=16"], "unknown network 'nonesuch'"),
    (["--net", "mlp", "--vary", f"{MACS}=16", "-o", "front.gif"], "cannot tell the chart's format"),
])
def test_bad_input_exits_2_naming_the_problem(arguments, message):
    result = CliRunner().invoke(main, ["explore", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not Path("front.csv").exists()


def test_an_exploration_where_nothing_runs_still_reports_and_draws(tmp_path):
    result = CliRunner().invoke(main, ["explore", "--net", "mlp", "--vary", f"{MACS}=16,64", "--max-cycles",
                                       "10", "-o", str(tmp_path / "none.svg")])
    assert result.exit_code == 0, result.output
    assert f"0 designs ran, 2 could not (first: {MACS}=16: mlp: mlp: error: layer" in result.output
    assert "Pareto front (0 designs" in result.output
    assert (tmp_path / "none.svg").stat().st_size > 0
    rows = (tmp_path / "none.csv").read_text("utf-8").splitlines()
    assert len(rows) == 1 + 2 + 2 and all("would pass the limit of 10 cycles" in row for row in rows[1:])


def test_a_saved_exploration_reads_back_and_redraws_without_simulating(exploration, tmp_path):
    from dlpsim.run.explore import load_exploration

    exploration.write_json(tmp_path / "explore.json")
    assert load_exploration(tmp_path / "explore.json") == exploration
    redrawn = CliRunner().invoke(main, ["explore", "--from", str(tmp_path / "explore.json"), "-o",
                                        str(tmp_path / "again.svg")])
    assert redrawn.exit_code == 0, redrawn.output
    assert redrawn.output.startswith("mlp + lenet5 on dlp-s: all 4 designs of the grid")
    assert (tmp_path / "again.svg").stat().st_size > 0
    assert (tmp_path / "again.csv").read_text("utf-8").splitlines()[1:] == [
        ",".join(row) for row in exploration.csv_rows()[1:]]
    refused = CliRunner().invoke(main, ["explore", "--from", str(tmp_path / "explore.json"), "--net", "mlp"])
    assert refused.exit_code == 2 and "drop --net" in refused.output
