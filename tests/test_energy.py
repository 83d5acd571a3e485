"""Energy (contract v2, "Energy"): small programs' energy derived by hand from the preset's values.

Every expectation is written out from the rule

    E = sum of ops(T) x e_op(T) + sum of bytes read x e_read(M) + bytes written x e_write(M)
        + static power x time

with the numbers of dlpsim/machine/presets/dlp-s.toml (and dlp-m.toml), as a reader can check them
by hand; the cycles come from the contract's timing rules. pJ are exact fractions throughout.
"""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.asm import assemble
from dlpsim.cli import main
from dlpsim.errors import ConfigErrors
from dlpsim.machine import load_machine
from dlpsim.results.energy import COMPONENTS, Energy
from dlpsim.sim import simulate

EX7_7 = str(Path(__file__).resolve().parents[1] / "programs" / "ex7_7.asm")


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)

# dlp-s.toml's values, as written there (pJ, pJ per byte, mW)
MAC_32, MAC_16, ADD_32, DIV_16 = F("4.6"), F("1.5"), F("0.9"), F("4.4")
NRAM, WRAM, DRAM = F("5"), F("7.07"), F("162.5")  # read = write for each
SHARED = F("17.68")  # dlp-m.toml
# static: matrix 118 + vector 23.7 + NRAM 12.8 + WRAM 25.6 (+ DRAM 0) mW per core
STATIC_CORE_MW = F("118") + F("23.7") + F("12.8") + F("25.6")
STATIC_DLP_S_MW = STATIC_CORE_MW  # one core, no SharedRAM, DRAM 0 mW
STATIC_DLP_M_MW = 4 * STATIC_CORE_MW + F("204.8")  # four cores and the SharedRAM with the memory core


def static_pj(milliwatts: F, cycles: int, clock_hz: int = 10**9) -> F:
    """mW x s = 1e-3 J = 1e9 pJ."""
    return milliwatts * F(cycles, clock_hz) * 10**9


def energy_of(text: str, preset: str = "dlp-s", overrides=(), fast_forward: bool = True):
    stats = simulate(assemble(text, "t.asm"), load_machine(preset, overrides=overrides),
                     fast_forward=fast_forward)
    return stats, dict(stats.energy.components)


def expected(static: F, **components: F) -> dict[str, F]:
    return {name: components.get(name, F(0)) for name in COMPONENTS[:-1]} | {"static": static}


def test_the_tests_prices_are_the_presets():
    machine = load_machine("dlp-s")
    assert machine.operation_pj("MAC_32") == MAC_32 and machine.operation_pj("ADD_32") == ADD_32
    assert machine.operation_pj("MAC_16") == MAC_16 and machine.operation_pj("DIV_16") == DIV_16
    assert [machine.read_pj_per_byte(m) for m in ("NRAM", "WRAM", "DRAM")] == [NRAM, WRAM, DRAM]
    assert [machine.write_pj_per_byte(m) for m in ("NRAM", "WRAM", "DRAM")] == [NRAM, WRAM, DRAM]
    assert machine.static_mw == STATIC_DLP_S_MW
    dlp_m = load_machine("dlp-m")
    assert dlp_m.read_pj_per_byte("SharedRAM") == SHARED and dlp_m.static_mw == STATIC_DLP_M_MW


def test_a_move_reads_its_source_and_writes_its_destination():
    # 1024 B at 64 B/cycle: 16 cycles; DRAM read 1024 B, NRAM written 1024 B
    stats, energy = energy_of("move DRAM NRAM 1024\n")
    assert stats.cycles == 16
    assert energy == expected(static_pj(STATIC_DLP_S_MW, 16), DRAM=1024 * DRAM, NRAM=1024 * NRAM)
    assert stats.energy.total_pj == 1024 * DRAM + 1024 * NRAM + F("180.1") * 16  # 180.1 mW x 16 ns
    assert stats.energy.uncharged_macs == 0


def test_a_shape_form_mac_reads_a_and_b_and_writes_c():
    # 4x8x2: 64 MACs, ceil(64 / 256) = 1 cycle; A 4*8*4 = 128 B of NRAM, B 8*2*4 = 64 B of WRAM,
    # C 4*2*4 = 32 B written to NRAM
    stats, energy = energy_of("compute MAC_32 4x8x2 NRAM[0], WRAM[0] -> NRAM[0x1000]\n")
    assert stats.cycles == 1
    assert energy == expected(static_pj(STATIC_DLP_S_MW, 1), MAC=64 * MAC_32, NRAM=(128 + 32) * NRAM,
                              WRAM=64 * WRAM)


def test_an_accumulating_mac_reads_c_too_and_operands_are_charged_where_they_are():
    # A in WRAM this time, B in NRAM; C += A x B reads the 32 B of C and writes them
    _, energy = energy_of("compute MAC_32 4x8x2 WRAM[0], NRAM[0] +> NRAM[0x1000]\n")
    assert energy["WRAM"] == 128 * WRAM
    assert energy["NRAM"] == (64 + 32 + 32) * NRAM


def test_a_shape_form_mac_without_operands_reads_nram_and_wram():
    _, energy = energy_of("compute MAC_16 4x8x2\n")  # 2-byte elements
    assert energy["MAC"] == 64 * MAC_16
    assert energy["NRAM"] == (4 * 8 * 2 + 4 * 2 * 2) * NRAM and energy["WRAM"] == 8 * 2 * 2 * WRAM


def test_a_vector_op_reads_two_n_elements_and_writes_n():
    # ADD_32 on 100 elements: ceil(100 / 64) = 2 cycles; reads 2 x 400 B, writes 400 B, all in NRAM
    stats, energy = energy_of("compute ADD_32 100 NRAM[0], NRAM[0x400] -> NRAM[0x800]\n")
    assert stats.cycles == 2
    assert energy == expected(static_pj(STATIC_DLP_S_MW, 2), vector=100 * ADD_32, NRAM=3 * 400 * NRAM)
    # without operands: A and C in NRAM, B in WRAM, the MAC's rule
    _, energy = energy_of("compute DIV_16 100\n")
    assert energy["vector"] == 100 * DIV_16
    assert energy["NRAM"] == 2 * 200 * NRAM and energy["WRAM"] == 200 * WRAM


def test_static_power_over_a_known_time_and_a_count_form_mac_is_charged_its_operations_only():
    # 25600 MACs at 256 per cycle: 100 cycles; no shape, so no operand traffic, and it is said so
    stats, energy = energy_of("compute MAC_32 25600\n")
    assert stats.cycles == 100
    assert energy == expected(static_pj(STATIC_DLP_S_MW, 100), MAC=25600 * MAC_32)
    assert energy["static"] == F("18010")  # 180.1 mW x 100 ns = 18.01 nJ
    assert stats.energy.uncharged_macs == 1


def test_static_power_of_dlp_m_at_another_clock_and_the_sharedram():
    # at 500 MHz (bandwidths in B/s, so 2 x the bytes per cycle); SharedRAM -> NRAM 4096 B on core 0 at
    # 1 TB/s = 2000 B/cycle: ceil(4096 / 2000) = 3 cycles = 6 ns
    stats, energy = energy_of(".machine dlp-m\n.core 0\nmove SharedRAM NRAM 4096\n", "dlp-m",
                              ["clock.frequency=500MHz"])
    assert stats.cycles == 3
    assert energy == expected(static_pj(STATIC_DLP_M_MW, 3, 5 * 10**8), SharedRAM=4096 * SHARED,
                              NRAM=4096 * NRAM)


def test_power_and_efficiency_follow_from_energy_and_time():
    stats, _ = energy_of("compute MAC_32 25600\n")
    joules = (25600 * MAC_32 + F("18010")) / 10**12
    assert stats.energy.average_watts(stats.seconds) == joules / F(100, 10**9)
    assert stats.energy.gops_per_watt(stats.mac_operations) == 2 * 25600 / joules / 10**9


LOOPED = """
loop 1000
  move DRAM NRAM[0] 4096
  move DRAM WRAM[0] 2048
  sync
  compute MAC_32 16x32x16 NRAM[0], WRAM[0] +> NRAM[0x2000]
  compute ADD_32 256 NRAM[0x2000], NRAM[0x2000] -> NRAM[0x2000]
  compute MAC_32 512
  sync
  move NRAM[0x2000] DRAM 1024
endloop
"""


def test_energy_is_the_same_with_and_without_fast_forward():
    fast, _ = energy_of(LOOPED)
    slow, _ = energy_of(LOOPED, fast_forward=False)
    assert fast.cycles == slow.cycles
    assert fast.energy == slow.energy
    assert [core.activity for core in fast.cores] == [core.activity for core in slow.cores]
    # and it is the loop body's, 1000 times: DRAM 4096 + 2048 read, 1024 written per iteration
    assert fast.energy.component("DRAM") == 1000 * (4096 + 2048 + 1024) * DRAM
    assert fast.energy.uncharged_macs == 1000


def test_energy_adds_over_programs_run_one_after_another():
    first = "move DRAM NRAM[0] 4096\nsync\ncompute MAC_32 16x64x16 NRAM[0], WRAM[0] -> NRAM[0x2000]\nsync\n"
    second = "compute SUB_32 300 NRAM[0], NRAM[0x1000] -> NRAM[0x2000]\nsync\nmove NRAM[0x2000] DRAM 1200\n"
    one, _ = energy_of(first)
    two, _ = energy_of(second)
    both, _ = energy_of(first + "sync\n" + second)
    assert both.cycles == one.cycles + two.cycles
    assert both.energy == one.energy + two.energy


def test_a_network_runs_energy_is_the_sum_of_its_layers(tmp_path):
    result = invoke("net", "run", "lenet5", "--json")
    data = json.loads(result.stdout)
    layers = [Energy.from_dict(layer["energy"]) for layer in data["layers"]]
    total = Energy.from_dict(data["totals"]["energy"])
    assert total == sum(layers[1:], layers[0])
    assert total.total_pj == sum(layer.total_pj for layer in layers)


@pytest.mark.parametrize(("assignment", "message"), [
    ("core.nram.read_pj_per_byte=-1", "core.nram.read_pj_per_byte: must be at least 0, got -1"),
    ("core.matrix.mac_32_pj=-0.5", "core.matrix.mac_32_pj: must be at least 0, got -0.5"),
    ("dram.static_mw=nan", "dram.static_mw: expected a finite number of mW"),
    ("core.vector.static_mw=\"5W\"", "core.vector.static_mw: expected a number of mW"),
    ("core.hbm.read_pj_per_byte=1", "core.hbm: unknown key"),
    ("dram.refresh_pj=1", "dram.refresh_pj: unknown key"),
])
def test_bad_energy_values_are_refused_naming_the_key(assignment, message):
    with pytest.raises(ConfigErrors) as caught:
        load_machine("dlp-s", overrides=[assignment])
    assert message in str(caught.value)
    result = invoke("run", EX7_7, "--set", assignment)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_bad_energy_value_in_a_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "cheap.toml"
    path.write_text("[dram]\nwrite_pj_per_byte = -162.5\n")
    result = invoke("run", EX7_7, "--config", str(path))
    assert result.exit_code == 2
    assert f"{path}: error: dram.write_pj_per_byte: must be at least 0" in result.stderr


def test_energy_values_are_settable_like_any_key():
    # free DRAM and no static power: only the on-chip work of ex7_7 is left
    stats, energy = energy_of("move DRAM NRAM 1024\n", overrides=[
        "dram.read_pj_per_byte=0", "core.matrix.static_mw=0", "core.vector.static_mw=0",
        "core.nram.static_mw=0", "core.wram.static_mw=0", "core.nram.write_pj_per_byte=0.25"])
    assert energy == expected(F(0), NRAM=1024 * F(1, 4))


def test_run_prints_energy_power_and_the_breakdown():
    result = invoke("run", "-", input="compute MAC_32 25600\n")
    out = result.stdout
    # 25600 x 4.6 + 18010 = 135770 pJ = 135.77 nJ over 100 ns = 1.3577 W; 51200 ops / 135.77 nJ
    assert "  energy          135.77 nJ\n" in out
    assert "  average power   1.3577 W\n" in out
    assert f"  GOPS/W          {51200 / 135.77:.6g}  (2 x MACs / energy)\n" in out
    assert "not charged     1 MAC instructions given by their count alone" in out
    assert "MAC        117.760   86.7%" in out and "static      18.010   13.3%" in out


def test_run_json_has_the_energy_exactly():
    result = invoke("run", "-", "--json", input="compute MAC_32 4x8x2 NRAM[0], WRAM[0] -> NRAM[0x1000]\n")
    energy = json.loads(result.stdout)["energy"]
    expected_total = 64 * MAC_32 + 160 * NRAM + 64 * WRAM + static_pj(STATIC_DLP_S_MW, 1)
    assert F(energy["exact_pj"]["total"]) == expected_total
    assert energy["total_pj"] == float(expected_total)
    assert F(energy["exact_pj"]["WRAM"]) == 64 * WRAM and energy["components_pj"]["DRAM"] == 0
    assert set(energy["components_pj"]) == set(COMPONENTS)


def test_the_traces_power_track_adds_up_to_the_runs_energy(tmp_path):
    from dlpsim.sim import Recorder
    from dlpsim.sim.trace import power_track

    machine = load_machine("dlp-s")
    recorder = Recorder()
    stats = simulate(assemble(LOOPED.replace("loop 1000", "loop 3"), "t.asm"), machine, recorder)
    steps = power_track(recorder, machine)
    ends = [cycle for cycle, _ in steps[1:]] + [stats.cycles]
    joules = sum(watts * F(end - cycle, 10**9) for (cycle, watts), end in zip(steps, ends, strict=True))
    assert joules * 10**12 == stats.energy.total_pj
    assert steps[-1] == (stats.cycles, machine.static_mw / 1000)  # after the last instruction: static only

    trace = tmp_path / "t.json"
    invoke("run", EX7_7, "--trace", str(trace))
    counters = [event for event in json.loads(trace.read_text())["traceEvents"] if event["ph"] == "C"]
    assert counters and {event["name"] for event in counters} == {"power"}
    assert counters[0]["ts"] == 0 and counters[0]["args"]["W"] > 0


def test_the_default_objective_is_time_and_changes_nothing():
    plain = invoke("compile", "lenet5", "--layer", "c3")
    timed = invoke("compile", "lenet5", "--layer", "c3", "--objective", "time")
    assert plain.exit_code == 0 and plain.stdout == timed.stdout
    assert "objective" not in plain.stdout


@pytest.mark.parametrize("objective", ["energy", "edp"])
def test_the_energy_objectives_never_do_worse_by_their_figure_than_the_fastest(objective):
    from dlpsim.compiler import Objective
    from dlpsim.run.compile import compile_layer, figure
    from dlpsim.workloads import get_network

    machine = load_machine("dlp-s")
    network = get_network("alexnet-single")
    for name in ("conv1", "conv3", "fc8"):
        layer = network.layer(name)
        fastest = compile_layer(layer, machine).stats
        chosen = compile_layer(layer, machine, objective=Objective(objective))
        assert figure(chosen.stats, Objective(objective)) <= figure(fastest, Objective(objective))
        # and its figures are its program's, as a run of it gives them
        rerun = simulate(chosen.compiled.program, machine)
        assert rerun.energy == chosen.stats.energy and rerun.cycles == chosen.stats.cycles
    layer = network.layer("conv1")  # here the energy objective saves DRAM traffic, at almost no time
    fastest = compile_layer(layer, machine).stats
    frugal = compile_layer(layer, machine, objective=Objective.ENERGY).stats
    assert frugal.dram_bytes < fastest.dram_bytes and frugal.cycles <= fastest.cycles * F(102, 100)


def test_the_energy_objectives_dram_bytes_follow_from_the_layers_own_data():
    # AlexNet (single tower) on dlp-s, biases included, FP32: each program moves the layer's own
    # tensors, each as often as the loop structure it chose reads it
    from dlpsim.compiler import Objective
    from dlpsim.run.compile import compile_layer
    from dlpsim.workloads import get_network

    machine = load_machine("dlp-s")
    network = get_network("alexnet-single")

    def chosen(name: str):
        return compile_layer(network.layer(name), machine, objective=Objective.ENERGY)

    # fc6, 9216 -> 4096: the input (36,864 B) kept whole in NRAM while every weight block (and its
    # biases) streams past it once; each output written once: every tensor once
    fc6 = chosen("fc6")
    assert fc6.compiled.mapping.buffering.input_kept
    assert fc6.stats.dram_bytes == 9216 * 4 + 4096 * (9216 + 1) * 4 + 4096 * 4
    # conv2, 64x27x27 -> 192x27x27, 5x5: the tile is the whole map (no halo read twice), 32 output
    # channels accumulating over input-channel chunks in one output buffer (32 x 729 x 4 = 93,312 B,
    # which two buffers would not leave room for), so the input is read once per block of 32 output
    # channels, 192 / 32 = 6 times; the weights and outputs once
    conv2 = chosen("conv2")
    mapping = conv2.compiled.mapping
    assert (mapping.tile.out_channels, mapping.tile.rows, mapping.tile.columns) == (32, 27, 27)
    assert mapping.buffering.output_buffers == 1
    assert conv2.stats.dram_bytes == 6 * 64 * 27 * 27 * 4 + 192 * (64 * 25 + 1) * 4 + 192 * 27 * 27 * 4
    # conv3, 192x13x13 -> 384x13x13, 3x3: whole maps in blocks of 128 output channels: the input 3 times
    # (the program that reads it once, kept whole, takes more energy: see test_compiled_headers)
    conv3 = chosen("conv3")
    mapping = conv3.compiled.mapping
    assert (mapping.tile.out_channels, mapping.tile.rows, mapping.tile.columns) == (128, 13, 13)
    assert conv3.stats.dram_bytes == 3 * 192 * 13 * 13 * 4 + 384 * (192 * 9 + 1) * 4 + 384 * 13 * 13 * 4


def test_net_run_takes_an_objective_and_a_bad_one_is_refused():
    result = invoke("net", "run", "textbook-fc", "--objective", "joules")
    assert result.exit_code == 2 and "'joules' is not one of 'time', 'energy', 'edp'" in result.stderr


def test_sweep_plots_energy_and_gops_per_watt_against_a_key(tmp_path):
    chart = tmp_path / "energy.png"
    result = invoke("sweep", "--net", "lenet5", "--vary", "dram.read_pj_per_byte=100,200",
                    "--metric", "energy", "-o", str(chart))
    assert result.exit_code == 0, result.output
    assert chart.stat().st_size > 0
    rows = (tmp_path / "energy.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"energy_pj", "gops_per_watt", "c1:energy_pj"} <= set(header)
    energies = [F(row.split(",")[header.index("energy_pj")]) for row in rows[1:]]
    # the same layers and traffic at 100 and 200 pJ per DRAM byte read: the difference is the
    # network's DRAM bytes read x 100 pJ, so the dearer point costs more
    assert energies[1] > energies[0]
    heat = tmp_path / "gops.png"
    result = invoke("sweep", "--net", "lenet5", "--vary", "dram.bandwidth=64GB/s",
                    "--vary", "core.matrix.mac_32_pj=2,4", "--metric", "gops-per-watt", "-o", str(heat))
    assert result.exit_code == 0 and heat.stat().st_size > 0
    assert "GOPS/W" in result.stdout
    result = invoke("sweep", "--net", "lenet5", "--vary", "dram.bandwidth=32GB/s", "--metric", "joules")
    assert result.exit_code == 2 and "'joules' is not one of" in result.stderr


def test_a_sweeps_energy_is_the_network_runs():
    from dlpsim.machine import load_machine as load
    from dlpsim.run.network import run_network
    from dlpsim.run.sweep import parse_vary, sweep
    from dlpsim.workloads import get_network

    network = get_network("lenet5")
    result = sweep(network, [parse_vary("core.vector.add_32_pj=0.9,1.8")])
    alone = run_network(network, load("dlp-s", overrides=["core.vector.add_32_pj=1.8"]))
    assert result.points[1].run.energy == alone.energy
    # doubling the price of an ADD_32 adds the network's compiled ADD_32 operations x 0.9 pJ (the
    # compiler emits a tanh as one TANH per element, not the ADD of its piecewise-linear count)
    from dlpsim.compiler import lower

    adds = sum(count for layer in network.layers if (problem := lower(layer)) is not None
               for op, count in problem.vector_ops if op == "ADD")
    assert adds and (result.points[1].run.energy.component("vector")
                     - result.points[0].run.energy.component("vector")) == adds * F("0.9")


def test_the_network_report_has_the_energy_chart(tmp_path):
    report = tmp_path / "lenet5.md"
    result = invoke("report", "lenet5", "-o", str(report))
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert "## Energy" in text and "lenet5_files/energy.png" in text
    assert (tmp_path / "lenet5_files" / "energy.png").stat().st_size > 0
    assert "| GOPS/W |" in text and "| average power |" in text


# -- the objective through the sweeps' machinery: the cache, the workers, the bounds, explore ---------

def _conv1_alone():
    """AlexNet's conv1 as a network of its own: there the energy objective picks another program
    than the time objective (see the test above), with less DRAM traffic."""
    from dlpsim.workloads import Network, get_network

    network = get_network("alexnet-single")
    first = network.nodes[0]
    assert first.name == "conv1" and first.inputs == (network.inputs[0][0],)
    return Network("alexnet-conv1", "AlexNet's conv1 alone", network.inputs[:1], (first,))


def test_a_cached_run_is_found_by_its_objective_too(tmp_path):
    from dlpsim.compiler import Objective
    from dlpsim.run.cache import ResultCache, run_key
    from dlpsim.run.compile import compile_layer
    from dlpsim.run.points import Execution, Point, run_points

    network, machine = _conv1_alone(), load_machine("dlp-s")
    keys = {objective: run_key(network, machine, objective) for objective in Objective}
    assert len(set(keys.values())) == 3 and keys[Objective.TIME] == run_key(network, machine)
    execution = Execution(cache=ResultCache.open(tmp_path))
    timed = run_points([Point(network, machine, "")], execution)
    assert (timed.from_cache, timed.simulated) == (0, 1)
    frugal = run_points([Point(network, machine, "", Objective.ENERGY)], execution)
    assert (frugal.from_cache, frugal.simulated) == (0, 1)  # not the time objective's entry
    layer = network.nodes[0].layer
    assert frugal.runs[0].layers[0].dram_bytes == compile_layer(layer, machine, objective=Objective.ENERGY) \
        .stats.dram_bytes < timed.runs[0].layers[0].dram_bytes
    again = run_points([Point(network, machine, "", Objective.ENERGY)], execution)
    assert (again.from_cache, again.runs) == (1, frugal.runs)


def test_net_run_keeps_each_objectives_run_apart_in_the_cache(tmp_path):
    folder = tmp_path / "cache"
    for objective in ("time", "energy", "time"):
        result = invoke("net", "run", "lenet5", "--objective", objective, "--cache", str(folder), "--json")
        assert result.exit_code == 0, result.output
    assert len([path for path in folder.rglob("*.json") if path.is_file()]) == 2


def test_workers_compile_for_the_points_objective():
    from dlpsim.compiler import Objective
    from dlpsim.run.network import run_network
    from dlpsim.run.points import Execution, Point, run_points

    network, machine = _conv1_alone(), load_machine("dlp-s")
    expected = run_network(network, machine, objective=Objective.ENERGY)
    point = Point(network, machine, "", Objective.ENERGY)
    # one point on two workers: a layer per task; two points: a point per task
    assert run_points([point], Execution(workers=2)).runs == (expected,)
    assert run_points([point, point], Execution(workers=2)).runs == (expected, expected)


@pytest.mark.parametrize("objective", ["energy", "edp"])
def test_the_energy_objectives_keep_the_compilers_bounds_and_refusals(objective, monkeypatch):
    import dlpsim.run.compile as compile_module
    from dlpsim import compiler
    from dlpsim.compiler import Objective
    from dlpsim.compiler.mapping import DOUBLE_BUFFERED, footprint, rank, search_limit, task_count
    from dlpsim.errors import RunLimitError
    from dlpsim.run.compile import SEARCH_TASKS, compile_layer
    from dlpsim.workloads import get_network

    # a bound over the limit: refused before any search, as for time
    with pytest.raises(RunLimitError, match="roofline bound"):
        compile_layer(get_network("lenet5").layer("c1"), load_machine("dlp-s"),
                      objective=Objective(objective), max_cycles=100)
    result = invoke("compile", "lenet5", "--layer", "c1", "--objective", objective, "--max-cycles", "100")
    assert result.exit_code == 2 and "roofline bound" in result.stderr
    # conv1 on a 1500 B NRAM: every candidate leaves 18,150 tasks or more (see test_compiler_bounds)
    machine = load_machine("dlp-s", overrides=["core.nram.capacity=1500B"])
    layer = get_network("alexnet").layer("conv1")
    problem = compiler.lower(layer)
    compilation = compile_layer(layer, machine, objective=Objective(objective))
    work = compilation.work
    assert work.tasks_built <= SEARCH_TASKS
    # the time search's tiles and candidates, then this one's (its own bufferings' too: see rank)
    assert work.tiles_estimated <= search_limit(problem) + search_limit(problem, Objective(objective))
    assert work.candidates_built <= 3 * compiler.KEPT_MAPPINGS - 1
    chosen = compilation.compiled.mapping  # a tile that fits the 1500 B as it is buffered
    assert footprint(problem, chosen.tile, chosen.buffering)[0] <= 1500
    assert compilation.stats is not None and compilation.stats.complete
    # with room for three candidates of 18,150 tasks only, the time search and this one together stop
    # building there, before the ranking's last candidates
    # (double-buffered candidates all leave 18,150 tasks or more; with one output buffer a tile of all
    # 96 output channels fits, 55 x 55 positions x 3 input channels = 9,075 tasks)
    candidates = rank(problem, machine, Objective(objective)).mappings
    assert all(task_count(problem, mapping.tile) >= 18_150 for mapping in candidates
               if mapping.buffering == DOUBLE_BUFFERED)
    assert len(candidates) > 6 and all(task_count(problem, mapping.tile) >= 9_075 for mapping in candidates)
    monkeypatch.setattr(compile_module, "SEARCH_TASKS", 3 * 18_150)
    compile_module._search.cache_clear()
    compile_module._least.cache_clear()
    try:
        work = compile_layer(layer, machine, objective=Objective(objective)).work
    finally:  # the searches' answers under this limit are not the module's
        compile_module._search.cache_clear()
        compile_module._least.cache_clear()
    assert work.tasks_built <= 3 * 18_150 and work.candidates_built <= 6 < len(candidates)


def test_explore_can_weigh_designs_by_energy_per_inference():
    from dlpsim.run.explore import ENERGY_PER_INFERENCE, OBJECTIVES, explore
    from dlpsim.run.network import run_network
    from dlpsim.run.sweep import parse_vary
    from dlpsim.workloads import get_network

    assert OBJECTIVES["energy"] is ENERGY_PER_INFERENCE
    key = "core.matrix.macs_per_cycle"
    result = explore([get_network("mlp"), get_network("lenet5")], [parse_vary(f"{key}=16,64")],
                     objective=ENERGY_PER_INFERENCE)
    for design, value in zip(result.designs, (16, 64), strict=True):
        machine = load_machine("dlp-s", overrides=[f"{key}={value}"])
        runs = [run_network(get_network(name), machine) for name in ("mlp", "lenet5")]
        # pJ to J
        assert design.objective == (runs[0].energy.total_pj + runs[1].energy.total_pj) / 10**12


def test_explore_metric_energy_puts_energy_per_inference_on_the_front(tmp_path):
    from dlpsim.run.network import run_network
    from dlpsim.workloads import get_network

    key = "core.matrix.macs_per_cycle"
    chart = tmp_path / "front.png"
    result = invoke("explore", "--net", "mlp", "--vary", f"{key}=16,64", "--metric", "energy", "--no-cache",
                    "-o", str(chart))
    assert result.exit_code == 0, result.output
    assert "energy per inference" in result.stdout and "uses less energy than one of them" in result.stdout
    rows = (tmp_path / "front.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = header.index("energy_J")
    for row, value in zip(rows[1:3], (16, 64), strict=True):
        run = run_network(get_network("mlp"), load_machine("dlp-s", overrides=[f"{key}={value}"]))
        # the CSV's numbers have 12 significant digits
        assert float(row.split(",")[column]) == pytest.approx(float(run.energy.total_pj / 10**12), rel=1e-11)
    bad = invoke("explore", "--from", str(tmp_path / "front.json"), "--metric", "energy")
    assert bad.exit_code == 2 and "drop --metric" in bad.stderr
