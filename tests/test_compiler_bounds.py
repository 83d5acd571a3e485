"""The compiler's work is bounded by the layer, whatever the memories; what cannot be done is
refused before any search, with the figure.

The bounds are the ones the modules state (dlpsim.compiler.mapping: search_limit and
MAX_TASKS; dlpsim.compiler.codegen: statement_limit and FOLD_COMPARISONS_PER_STEP;
dlpsim.run.compile: KEPT_MAPPINGS and SEARCH_TASKS). No test times anything: each counts
the work (tiles estimated, tasks, statements, comparisons) and compares it with the bound.
"""

from __future__ import annotations

from math import ceil

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlpsim.compiler.mapping as mapping_module
from dlpsim import compiler
from dlpsim.asm.program import Loop
from dlpsim.cli import main
from dlpsim.compiler.codegen import FOLD_COMPARISONS_PER_STEP, fold, statement_limit
from dlpsim.compiler.mapping import (
    MAX_TASKS,
    Split,
    _spans,
    footprint,
    input_span,
    search_limit,
    smallest_tile,
    task_count,
)
from dlpsim.errors import RunLimitError, WorkloadError
from dlpsim.machine import load_machine
from dlpsim.run.compile import SEARCH_TASKS, compile_layer
from dlpsim.workloads import Conv2d, FullyConnected, Pool, get_network
from dlpsim.workloads.layers import Layer

# -- the figures of a tiling in closed form -----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(outputs=st.integers(1, 300), data=st.data(), stride=st.integers(1, 6), kernel=st.integers(1, 13),
       padding=st.integers(0, 9))
def test_span_figures_in_closed_form_equal_the_walk_over_every_tile(outputs, data, stride, kernel, padding):
    tile = data.draw(st.integers(1, outputs))
    size = data.draw(st.integers(max(1, (outputs - 1) * stride + kernel - 2 * padding),
                                 (outputs - 1) * stride + kernel + stride))
    split = Split(outputs, tile)
    spans = [end - start for start, end in (input_span(lo, hi, stride, padding, kernel, size, outputs)
                                            for lo, hi in split.ranges())]
    assert _spans.__wrapped__(split, stride, padding, kernel, size) == (max(spans), sum(spans))


# -- folding: the steps, in order, within the budget -------------------------------------------


class _Tree:
    """A writer that keeps what fold() writes as nested lists, to expand it again."""

    def __init__(self):
        self.stack: list[list] = [[]]

    def instruction(self, instruction) -> None:
        self.stack[-1].append(instruction)

    def loop(self, count: int) -> None:
        body: list = []
        self.stack[-1].append((count, body))
        self.stack.append(body)

    def endloop(self) -> None:
        self.stack.pop()

    def expanded(self, items=None) -> list:
        result = []
        for item in self.stack[0] if items is None else items:
            if isinstance(item, tuple):
                result += self.expanded(item[1]) * item[0]
            else:
                result.append(item)
        return result


def _folded(numbers: list[int]):
    # equal numbers, equal steps of the same instruction objects (as core_steps makes them)
    instructions = {number: (object(), object()) for number in set(numbers)}
    steps = [instructions[number] for number in numbers]
    tree = _Tree()
    folded = fold(steps, tree)
    assert tree.expanded() == [each for step in steps for each in step]
    assert folded.comparisons <= FOLD_COMPARISONS_PER_STEP * len(steps)
    return folded


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(st.integers(0, 3), max_size=300))
def test_fold_writes_every_step_in_order_within_its_budget(numbers):
    _folded(numbers)


def test_fold_keeps_its_budget_on_sequences_that_repeat_without_a_loop():
    # the memory core's staging: a distinct fetch between barriers, piece after piece; and steps
    # that recur at every distance without ever repeating as a body
    _folded([number for piece in range(3000) for number in (piece + 1, 0)])
    _folded([0 if index % 2 == 0 else index for index in range(6000)])
    folded = _folded([0, 1] * 5000)  # one loop of a ping/pong pair
    assert folded.statements == 1 + 2 * 2


# -- random layers on random memories -----------------------------------------------------------


def _statements(statements) -> int:
    return sum(1 + _statements(each.body) if isinstance(each, Loop) else 1 for each in statements)


@st.composite
def layers(draw) -> Layer:
    kind = draw(st.sampled_from(["conv", "fc", "pool"]))
    if kind == "fc":
        rows = draw(st.integers(1, 64))
        return FullyConnected(name="fc", input_shape=(rows, draw(st.integers(1, 512))),
                              out_features=draw(st.integers(1, 512)))
    channels = draw(st.integers(1, 16))
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    kernel = draw(st.integers(1, min(height, width, 7)))
    stride = draw(st.integers(1, 4))
    padding = draw(st.integers(0, kernel // 2))
    if kind == "pool":
        return Pool(name="pool", input_shape=(channels, height, width), mode="max", kernel=kernel,
                    stride=stride, padding=padding)
    groups = draw(st.sampled_from([g for g in (1, 2, 4) if channels % g == 0]))
    out_channels = groups * draw(st.integers(1, 16))
    return Conv2d(name="conv", input_shape=(channels, height, width), out_channels=out_channels,
                  kernel=kernel, stride=stride, padding=padding, groups=groups)


# From 1 B (the smallest legal capacity) up, evenly over the orders of magnitude.
capacities = st.integers(0, 19).flatmap(lambda power: st.integers(2 ** power, 2 ** (power + 1)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=layers(), preset=st.sampled_from(["dlp-s", "dlp-m"]), nram=capacities, wram=capacities,
       smallest=st.booleans(), batch=st.sampled_from([1, 1, 2, 3]))
def test_compiling_any_layer_on_any_memories_does_bounded_work(layer, preset, nram, wram, smallest, batch):
    problem = compiler.lower(layer, batch)
    if smallest:  # memories just large enough for the smallest tile: the most tasks
        nram, wram = (max(1, need) for need in footprint(problem, smallest_tile(problem)))
    machine = load_machine(preset, overrides=[f"core.nram.capacity={nram}B", f"core.wram.capacity={wram}B"])
    need_nram, need_wram = footprint(problem, smallest_tile(problem))
    try:
        compilation = compile_layer(layer, machine, batch)
    except WorkloadError as error:  # refused, naming the layer and the figure
        text = str(error)
        assert text.startswith(f"error: {layer.label}: ")
        if need_nram > nram or need_wram > wram:
            assert "even the smallest tile" in text
        else:
            assert f"more than the {MAX_TASKS:,}" in text
        return
    work = compilation.work
    assert work.tiles_estimated <= search_limit(problem)
    assert 1 <= work.candidates_built <= compiler.KEPT_MAPPINGS
    assert work.tasks_built <= SEARCH_TASKS
    body = compilation.compiled.body
    dimensions = (problem.groups * problem.out_channels * problem.in_channels * problem.batch
                  * problem.out_height * problem.out_width)
    tasks = task_count(problem, compilation.compiled.mapping.tile)
    assert body.work.tasks == tasks <= min(MAX_TASKS, dimensions)
    limit = statement_limit(min(MAX_TASKS, dimensions), problem.vector_instructions, machine.compute_cores)
    assert body.work.statements <= work.largest_program <= limit
    # the counter is the program's: every instruction and loop line it holds
    assert body.work.statements == sum(_statements(section.statements) for section in body.program.sections)
    assert body.work.comparisons <= FOLD_COMPARISONS_PER_STEP * body.work.steps


def test_the_search_limit_is_logarithmic_in_each_dimension():
    # c(n) <= 2 ceil(log2 n) + 2 sizes per dimension; alexnet conv1 (96 x 3 channels, 55 x 55):
    # c(96), c(55) <= 16, c(3) <= 6 (3 binary search steps), one group
    conv1 = compiler.lower(get_network("alexnet").layer("conv1"))
    assert search_limit(conv1) <= 16 * 16 * 16 * 3
    for size in (1, 2, 3, 55, 96, 1000, 100_000, 10 ** 9):
        assert len(mapping_module._candidates(size)) <= 2 * ceil(max(size, 2).bit_length()) + 2


# -- small memories: refused with the figure, or compiled within the bounds ---------------------


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_alexnet_conv1_on_a_1_kb_nram_is_refused_at_once_with_the_task_count():
    # conv1 (11x11/4 on 3 x 224 x 224, 96 filters): a 1 x 1 output tile of one input channel reads an
    # 11 x 11 slab, 484 B; two slabs and two tiles of n output channels need 2 (484 + 4n) <= 1024 B,
    # so n <= 7, and the largest candidate size of 96 channels under 7 is 6: 96 / 6 = 16 blocks x
    # 3 channels x 55 x 55 positions = 145,200 tasks
    result = invoke("compile", "alexnet", "--layer", "conv1", "--set", "core.nram.capacity=1KB")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "conv1: every tile it tries that fits the 1 KB NRAM" in result.stderr
    assert "at least 145,200 tasks" in result.stderr and f"{MAX_TASKS:,}" in result.stderr
    assert "give NRAM more room" in result.stderr  # its 256 KB WRAM holds the 6 x 122 weights easily
    # 1200 B: 2 (484 + 4n) <= 1200 gives n <= 29, the candidate 24: 4 blocks, 36,300 tasks
    result = invoke("net", "run", "alexnet", "--set", "core.nram.capacity=1200B")
    assert result.exit_code == 2 and "at least 36,300 tasks" in result.stderr


def test_alexnet_conv1_on_a_1500_b_nram_compiles_within_the_bounds():
    machine = load_machine("dlp-s", overrides=["core.nram.capacity=1500B"])
    compilation = compile_layer(get_network("alexnet").layer("conv1"), machine)
    # 2 (484 + 4n) <= 1500 gives n <= 66: at best 2 blocks (of 64 or 48) x 3 x 55 x 55 = 18,150 tasks
    assert ceil(96 / compilation.compiled.mapping.tile.out_channels) == 2
    assert compilation.compiled.body.work.tasks == 2 * 3 * 55 * 55
    assert compilation.work.tasks_built <= SEARCH_TASKS
    assert compilation.stats is not None and compilation.stats.complete


def test_a_map_of_10_to_the_18_outputs_is_refused_by_its_task_count_without_walking_its_tiles(tmp_path):
    # with the cycle limit out of the way, the search itself must stay bounded: its figures of a
    # 10^9 x 10^9 map are sums in closed form, and every tile that fits leaves too many tasks
    topology = tmp_path / "wide.csv"
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "X, 1000000000, 1000000000, 3, 3, 1, 1, 1,\n")
    result = invoke("compile", str(topology), "--layer", "X", "--max-cycles", str(10 ** 30),
                    "--set", "dram.capacity=1000000000TB")  # its 8 x 10^18 B in DRAM
    assert result.exit_code == 2 and "X: every tile it tries that fits the 128 KB NRAM" in result.stderr
    assert f"more than the {MAX_TASKS:,} the compiler writes a program of" in result.stderr


# -- impossible layers are refused before any search ---------------------------------------------


@pytest.fixture
def no_search(monkeypatch):
    """Fail if the mapping search starts."""
    def search(*args, **kwargs):
        raise AssertionError("the mapping search ran")
    monkeypatch.setattr(mapping_module, "_choose", search)


def test_a_layer_past_the_cycle_limit_is_refused_before_any_search(tmp_path, no_search):
    topology = tmp_path / "heavy.csv"
    # a 1x1 convolution of 16,384 channels into 16,384 on a 100 x 100 map: 2.5 GB of data, which
    # fit the 8 GB DRAM, but 100 x 100 x 16,384 x 16,384 MACs at 256 per cycle
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "H1, 100, 100, 1, 1, 16384, 16384, 1,\n")
    compute = 100 * 100 * 16384 * 16384 // 256
    assert compute == 10_485_760_000
    for command in (["compile", str(topology), "--layer", "H1"], ["net", "run", str(topology)]):
        result = invoke(*command)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "H1" in result.stderr and f"{compute:,} cycles (compute-limited" in result.stderr
        assert "10,000,000,000" in result.stderr and "--max-cycles" in result.stderr
    # a lower limit refuses an ordinary layer the same way
    result = invoke("compile", "lenet5", "--layer", "c1", "--max-cycles", "100")
    assert result.exit_code == 2 and "c1: error: the layer's roofline bound is" in result.stderr


def test_the_issues_layer_of_2_4_x_10_16_macs_is_refused_before_any_search(tmp_path, no_search):
    topology = tmp_path / "huge.csv"
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "C1, 100000, 100000, 3, 3, 512, 512, 1,\n")
    # its 41 TB of data do not fit the 8 GB DRAM: refused for that first
    result = invoke("net", "run", str(topology))
    assert result.exit_code == 2 and "C1: its inputs, weights and outputs take" in result.stderr
    # on a DRAM that holds them, for its bound: 99,998 x 99,998 outputs x 512 filters x 3 x 3 x 512
    # channels MACs at 256 per cycle
    compute = 99_998 ** 2 * 512 * 9 * 512 // 256
    assert compute == 92_156_313_636_864
    for command in (["compile", str(topology), "--layer", "C1"], ["net", "run", str(topology)]):
        result = invoke(*command, "--set", "dram.capacity=1000TB")
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "C1" in result.stderr and f"{compute:,} cycles (compute-limited" in result.stderr


def test_a_network_with_a_layer_that_fits_no_tile_is_refused_before_any_search(tmp_path, no_search):
    topology = tmp_path / "late.csv"
    topology.write_text("Layer,IFMAP H,IFMAP W,Filter H,Filter W,Channels,Num Filter,Strides,\n"
                        "small,8,8,3,3,4,8,1,\n"
                        "big,200,200,200,200,2048,8,1,\n")
    result = invoke("net", "run", str(topology))
    assert result.exit_code == 2 and "big: even the smallest tile" in result.stderr


def test_net_run_refuses_layers_whose_bounds_add_up_past_the_limit_naming_the_layer(no_search):
    # lenet5 on dlp-s: c1 (5x5 on 1 x 32 x 32, 6 filters) does 28 x 28 x 6 x 25 = 117,600 MACs at 256
    # per cycle and adds 4,704 biases at 64 per cycle: 459.375 + 73.5 -> 533 cycles; tanh1 reads and
    # writes 4,704 values of 4 B over DRAM at 64 B per cycle: 588
    result = invoke("net", "run", "lenet5", "--max-cycles", "1000")
    assert result.exit_code == 2
    assert ("lenet5: error: layer tanh1 would pass the limit of 1,000 cycles for the network: its roofline "
            "bound alone is 588 cycles") in result.stderr
    assert "the layers before it are bound to 533" in result.stderr
    result = invoke("net", "run", "lenet5", "--max-cycles", "532")
    assert "layer c1 would pass the limit of 532" in result.stderr and "bound to 0;" in result.stderr


def test_refusals_are_user_errors():
    with pytest.raises(RunLimitError):
        compile_layer(get_network("lenet5").layer("c1"), load_machine("dlp-s"), max_cycles=100)
    with pytest.raises(WorkloadError, match="even the smallest tile"):
        compile_layer(get_network("lenet5").layer("c1"),
                      load_machine("dlp-s", overrides=["core.nram.capacity=16B"]))
