"""Loop fast-forward (dlpsim/sim/fastforward.py): skipping a steady state's repeats changes nothing.

Each test runs the same program with fast-forward on and off and compares the whole
JSON result: cycles, every core's control causes, queues and operations, every link's
bytes and busy cycles. Other tests check that the skipping really happens (a run
that cannot finish event by event in any reasonable time finishes), and that the
stream cursor the skipping moves issues exactly the stream expand() defines, and
that the Periodic protocol covers every statistic of every part fast-forward moves.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from program_strategies import LONG_TRIPS, NEST_DEPTH, NEST_TRIPS, Run, valid_runs

from dlpsim.asm import assemble
from dlpsim.asm.program import expand
from dlpsim.cli import main
from dlpsim.errors import RunLimitError
from dlpsim.machine import load_machine
from dlpsim.results import QueueKind
from dlpsim.run.compile import compile_layer
from dlpsim.sim import simulate
from dlpsim.sim.barrier import ClusterBarrier
from dlpsim.sim.control import ControlUnit
from dlpsim.sim.environment import ShiftableEnvironment
from dlpsim.sim.link import Link
from dlpsim.sim.periodic import Periodic
from dlpsim.sim.queues import IssueQueue
from dlpsim.sim.stream import StreamCursor
from dlpsim.workloads import get_network

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((REPO / "programs").glob("*.asm"))


def both_ways(program, machine, **options) -> tuple[dict | str, dict | str]:
    """The JSON results with fast-forward on and off (or the refusal, if the run is refused)."""
    def outcome(fast_forward: bool) -> dict | str:
        try:
            return simulate(program, machine, fast_forward=fast_forward, **options).to_dict()
        except RunLimitError as refusal:
            return str(refusal)

    return outcome(True), outcome(False)


@pytest.fixture
def skips(monkeypatch) -> list[int]:
    """Counts the skips fast-forward makes (each entry: the cycles skipped)."""
    made: list[int] = []
    original = ShiftableEnvironment.shift_time

    def counting(self, shift):
        made.append(shift)
        original(self, shift)

    monkeypatch.setattr(ShiftableEnvironment, "shift_time", counting)
    return made


# -- every shipped program, through the CLI, byte for byte ----------------------------------

@pytest.mark.parametrize("path", PROGRAMS, ids=lambda path: path.name)
def test_shipped_programs_print_the_same_json(path):
    runner = CliRunner()
    fast = runner.invoke(main, ["run", str(path), "--json"])
    slow = runner.invoke(main, ["run", str(path), "--json", "--no-fast-forward"])
    assert fast.exit_code == slow.exit_code == 0, (fast.output, slow.output)
    assert fast.output == slow.output


def test_shipped_programs_do_fast_forward(skips):
    """The overlapped 7.12 program's pipeline loop settles: at least one skip is made."""
    program = assemble((REPO / "programs" / "ex7_12_overlap.asm").read_text(), "ex7_12_overlap.asm")
    simulate(program, load_machine(program.machine or "dlp-s"))
    assert skips


# -- every compiled layer of AlexNet and ResNet-18 on both presets ---------------------------

def _distinct_layers(network: str, preset: str):
    machine = load_machine(preset)
    seen: dict[str, object] = {}
    for node in get_network(network).nodes:
        compiled = compile_layer(node.layer, machine).compiled
        seen.setdefault(compiled.text, (node.name, compiled.program))
    return machine, list(seen.values())


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["dlp-s", "dlp-m"])
@pytest.mark.parametrize("network", ["alexnet", "resnet18"])
def test_compiled_layers_give_the_same_results(network, preset):
    machine, layers = _distinct_layers(network, preset)
    assert len(layers) > 10
    for name, program in layers:
        fast, slow = both_ways(program, machine)
        assert fast == slow, f"{network} {name} on {preset}"


# -- random loop programs ----------------------------------------------------------------------

_LONG = os.environ.get("DLPSIM_FUZZ_PROFILE") == "long"
PROFILE = settings(max_examples=3000 if _LONG else 150, derandomize=not _LONG, database=None, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(valid_runs(LONG_TRIPS))
def test_random_loop_programs_give_the_same_results(run: Run):
    program = assemble(run.text, "r.asm")
    machine = load_machine(run.preset, overrides=list(run.overrides))
    fast, slow = both_ways(program, machine)
    assert fast == slow, run.describe()


@PROFILE
@given(valid_runs(LONG_TRIPS), st.integers(1, 5000))
def test_a_run_stopped_at_the_limit_gives_the_same_partial_results(run: Run, limit: int):
    program = assemble(run.text, "r.asm")
    machine = load_machine(run.preset, overrides=list(run.overrides))
    fast, slow = both_ways(program, machine, max_cycles=limit)
    assert fast == slow, (limit, run.describe())


@PROFILE
@given(valid_runs(NEST_TRIPS, max_depth=NEST_DEPTH))
def test_random_nests_give_the_same_results(run: Run):
    """Loops four deep (and, on dlp-m, inside loops that end in a barrier): skipped at every level."""
    program = assemble(run.text, "r.asm")
    machine = load_machine(run.preset, overrides=list(run.overrides))
    fast, slow = both_ways(program, machine)
    assert fast == slow, run.describe()


def test_random_loop_programs_do_skip(skips):
    """The equivalence tests above mean something only if skips happen in them."""
    seen = 0

    @settings(PROFILE, max_examples=40)
    @given(valid_runs(LONG_TRIPS))
    def count(run: Run):
        nonlocal seen
        simulate(assemble(run.text, "r.asm"), load_machine(run.preset, overrides=list(run.overrides)))
        seen += 1

    count()
    assert len(skips) >= seen // 10


# -- the skipping happens, and is exact where the answer is known by hand ------------------------

def test_a_billion_iterations_in_closed_form(skips):
    """compute MAC_32 256 on DLP-S: latency 0 + ceil(256 / 256) = 1 cycle, back to back in the
    compute queue (issue cycles 0), so 10^9 iterations take 10^9 cycles and do 256 x 10^9
    MACs. The queue holds 8 (queue_depth), so the control unit pushes 8 at cycle 0 and each
    later one a cycle after the one before: 10^9 - 8 cycles waiting for room, then 8
    cycles finished. Event by event this would take an hour; skipped, it takes a moment."""
    program = assemble("loop 1000000000\n  compute MAC_32 256\nendloop\n", "billion.asm")
    stats = simulate(program, load_machine("dlp-s"))
    assert stats.cycles == 10**9
    assert stats.mac_operations == 256 * 10**9
    control = dict(stats.cores[0].control_cycles)
    assert (control["queue_full"], control["finished"]) == (10**9 - 8, 8)
    assert sum(skips) > 0.99 * 10**9


def test_a_nest_costs_what_a_single_loop_does(skips):
    """compute MAC_32 256 takes 1 cycle on DLP-S, back to back in the compute queue: a nest
    issuing n of them takes n cycles. 10^6 x 2 = 2 x 10^6 and 10^7 x 10^3 = 10^10 (the default
    cycle limit, so it runs). Event by event they would take minutes to hours; each takes a
    handful of skips, as one loop of as many iterations does."""
    machine = load_machine("dlp-s")
    for outer, inner in ((10**6, 2), (10**7, 10**3)):
        skips.clear()
        text = f"loop {outer}\n  loop {inner}\n    compute MAC_32 256\n  endloop\nendloop\n"
        stats = simulate(assemble(text, "nest.asm"), machine)
        assert stats.cycles == outer * inner
        assert stats.mac_operations == 256 * outer * inner
        assert 0 < len(skips) <= 4


def test_every_level_of_an_imperfect_nest_is_skipped(skips):
    """Twelve levels, each ``loop 10`` of a compute (1 cycle) and the next level: level k issues
    10^k computes of its own, so the nest issues 10 + 10^2 + ... + 10^12 computes, back to back,
    one cycle each. A level is skipped once its loop has gone round, so the skips grow with the
    depth (a few hundred), never with the counts (over 10^12 iterations)."""
    depth = 12
    text = "loop 10\n  compute MAC_32 256\n" * depth + "endloop\n" * depth
    stats = simulate(assemble(text, "deep.asm"), load_machine("dlp-s"), max_cycles=None)
    assert stats.cycles == sum(10**level for level in range(1, depth + 1))
    assert len(skips) < 50 * depth


def test_nests_with_barriers_on_four_cores_skip_exactly(skips):
    """DLP-M, each core: 100 times (move 16,384 B from DRAM beside 65,536 MACs, sync), then a
    barrier; 10^4 times. The four moves share the 128 B/cycle DRAM link, 32 B/cycle each:
    512 cycles, the MACs 256 beside them, so every inner iteration takes 512 cycles and the
    run 10^4 x 100 x 512; the barrier never waits (the cores are in step)."""
    text = (".machine dlp-m\n.core all\nloop 10000\n  loop 100\n    move DRAM NRAM 16384\n"
            "    compute MAC_32 65536\n    sync\n  endloop\n  barrier\nendloop\n")
    stats = simulate(assemble(text, "nest.asm"), load_machine("dlp-m"))
    iterations = 10**4 * 100
    assert stats.cycles == 512 * iterations
    assert stats.dram_bytes == 4 * 16384 * iterations
    for core in stats.cores:
        assert core.barriers == 10**4
        assert dict(core.control_cycles)["sync"] == 512 * iterations
        assert dict(core.control_cycles)["barrier"] == 0
    assert 0 < len(skips) <= 10


def test_multi_core_loops_with_barriers_skip_exactly(skips):
    """DLP-M, each of the 4 cores per iteration: move 16,384 bytes from DRAM while computing
    65,536 MACs, then sync and barrier. The 128 B/cycle DRAM link is shared by the four
    moves started together: 32 B/cycle each, 16,384 / 32 = 512 cycles; the MACs take
    65,536 / 256 = 256 cycles beside it. Every iteration starts with the machine idle, so
    each takes 512 cycles: 10^7 iterations take 5.12 x 10^9 cycles, with the DRAM link
    busy all the time and each compute queue half of it."""
    text = (".machine dlp-m\n.core all\nloop 10000000\n  move DRAM NRAM 16384\n  compute MAC_32 65536\n"
            "  sync\n  barrier\nendloop\n")
    stats = simulate(assemble(text, "many.asm"), load_machine("dlp-m"))
    iterations = 10**7
    assert stats.cycles == 512 * iterations
    assert stats.dram_bytes == 4 * 16384 * iterations
    dram = next(link for link in stats.links if link.name == "dram")
    assert (dram.busy_cycles, dram.transfers) == (512 * iterations, 4 * iterations)
    for core in stats.cores:
        queues = {queue.kind: queue for queue in core.queues}
        assert queues["compute"].busy_cycles == 256 * iterations
        assert queues["io"].busy_cycles == 512 * iterations
        assert core.barriers == iterations
        assert dict(core.control_cycles)["sync"] == 512 * iterations
    assert skips


def test_the_cycle_limit_is_never_skipped_past(skips):
    """Each iteration moves 64 bytes (1 cycle at 64 B/cycle), then computes 256 MACs (1 cycle),
    with a sync after each, so it takes 2 cycles: move k (k = 0, 1, ...) ends at cycle 2k + 1,
    compute k at 2k + 2. The static check sees only 10^9 cycles of work per queue, under the
    limit, so the run starts and stops at cycle L = 1,234,567,891: by then (L + 1) / 2 moves
    and (L - 1) / 2 computes have completed, and only those are counted."""
    program = assemble("loop 1000000000\n  move DRAM NRAM 64\n  sync\n  compute MAC_32 256\n  sync\n"
                       "endloop\n", "billion.asm")
    limit = 1_234_567_891
    stats = simulate(program, load_machine("dlp-s"), max_cycles=limit)
    assert not stats.complete
    assert stats.cycles == limit
    assert stats.dram_bytes == 64 * (limit + 1) // 2
    assert stats.mac_operations == 256 * (limit - 1) // 2
    assert skips


def test_recording_keeps_it_on_and_records_the_same_intervals(skips):
    """1000 computes of 1 cycle: fast-forward skips most of them, and the recorder keeps the
    skipped periods as a repeat that stands for exactly the intervals recorded event by event."""
    from dlpsim.sim import Recorder

    program = assemble("loop 1000\n  compute MAC_32 256\nendloop\n", "r.asm")
    fast, slow = Recorder(), Recorder()
    simulate(program, load_machine("dlp-s"), fast)
    assert skips and fast.repeats == len(skips)
    simulate(program, load_machine("dlp-s"), slow, fast_forward=False)
    assert len(skips) == fast.repeats  # the second run made none
    assert fast.intervals == slow.intervals
    assert [(i.start, i.end) for i in fast.intervals if i.track == ("core0", "compute")] == [
        (k, k + 1) for k in range(1000)]


def test_net_run_json_is_the_same(tmp_path):
    runner = CliRunner()
    fast = runner.invoke(main, ["net", "run", "lenet5", "--json"])
    slow = runner.invoke(main, ["net", "run", "lenet5", "--json", "--no-fast-forward"])
    assert fast.exit_code == slow.exit_code == 0
    assert json.loads(fast.output) == json.loads(slow.output)


# -- the cursor the skipping moves ---------------------------------------------------------------

@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(valid_runs())
def test_the_cursor_issues_what_expand_defines(run: Run):
    program = assemble(run.text, "r.asm")
    for section in program.sections:
        assert list(StreamCursor(section.statements)) == list(expand(section.statements))


def test_skipping_iterations_keeps_the_place_in_the_body():
    program = assemble("loop 10\n  compute ADD_32 1\n  compute MUL_32 2\nendloop\ncompute DIV_32 3\n",
                       "c.asm")
    cursor = StreamCursor(program.sections[0].statements)
    issued = iter(cursor)
    assert str(next(issued)) == "compute ADD_32 1"
    assert cursor.iterations() == (0, 0) and cursor.remaining_iterations(1) == 9
    cursor.skip_iterations(1, 7)
    rest = [str(instruction) for instruction in issued]
    # iteration 7's MUL, then iterations 8 and 9, then the DIV after the loop
    assert rest == ["compute MUL_32 2"] + ["compute ADD_32 1", "compute MUL_32 2"] * 2 + ["compute DIV_32 3"]
    with pytest.raises(ValueError):
        StreamCursor(program.sections[0].statements).skip_iterations(0, 1)


# -- the protocol covers every counter ------------------------------------------------------------

# The attributes of each Periodic part that look like statistics (an int, or a dict of ints) but
# are not counters, and why. A new counter must go into its part's counters(), so fast-forward
# adds its growth when it skips; failing that, the test below fails. Only what is truly not a
# statistic belongs here.
NOT_COUNTERS: dict[type, dict[str, str]] = {
    ControlUnit: {
        "issue_cycles": "configuration",
        "done_issuing_at": "a time, set when the stream ends; never inside a skipped period, since "
                           "the core's place in its stream would differ at its two ends",
        "waiting_since": "a time, moved by advance()",
        "spin_cycle": "a time, moved by advance()",
        "spins": "syncs and barriers issued in cycle spin_cycle, for the spin limit",
    },
    IssueQueue: {
        "depth": "configuration",
        "occupancy": "state: the instructions waiting and executing",
        "started_at": "a time, moved by advance()",
        "last_completion": "a time, moved by advance()",
    },
    Link: {
        "latency_cycles": "configuration",
        "max_active": "configuration",
        "_units_per_byte": "configuration, in the link's units",
        "divided_at": "a time, moved by advance()",
        "timer_generation": "state: which of its timers is current",
    },
    ClusterBarrier: {
        "participants": "configuration",
        "arrived": "state: the cores at the barrier now",
    },
}


def _looks_like_a_statistic(value) -> bool:
    def count(item) -> bool:
        return isinstance(item, int) and not isinstance(item, bool)

    return count(value) or isinstance(value, dict) and all(count(item) for item in value.values())


def _parts_after_a_short_run() -> list[Periodic]:
    """One of every Periodic part, after two cores ran a loop of moves over a link with a
    latency, computes, syncs and barriers, issuing for a cycle each."""
    env = ShiftableEnvironment()
    link = Link(env, "dram", Fraction(64), latency_cycles=2, max_active=2)
    barrier = ClusterBarrier(env, participants=2)
    program = assemble("loop 3\n  move DRAM NRAM 1024\n  compute MAC_32 256\n  sync\n  barrier\nendloop\n",
                       "parts.asm")
    parts: list[Periodic] = [link, barrier]
    for core in ("core0", "core1"):
        io = IssueQueue(env, core, QueueKind.IO, 2, lambda move: link.transfer(move.size))
        compute = IssueQueue(env, core, QueueKind.COMPUTE, 2, lambda _compute: env.timeout(1))
        compute.completions = {}
        queues = {QueueKind.COMPUTE: compute, QueueKind.IO: io}
        control = ControlUnit(env, core, program.sections[0].statements, queues, 1, barrier)
        control.start()
        parts += [control, compute, io]
    env.run()
    assert all(control.finished for control in parts if isinstance(control, ControlUnit))
    return parts


def test_every_statistic_of_every_part_is_a_counter():
    """Each part's counters() names its own attributes, and every attribute that looks like a
    statistic is among them or in NOT_COUNTERS, with a reason."""
    parts = _parts_after_a_short_run()
    assert set(NOT_COUNTERS) == set(Periodic.__subclasses__()) == {type(part) for part in parts}
    for part in parts:
        attributes = vars(part)
        counters = part.counters()
        assert counters == {name: attributes[name] for name in counters}, type(part).__name__
        assert set(NOT_COUNTERS[type(part)]) <= set(attributes), "NOT_COUNTERS names a lost attribute"
        statistics = {name for name, value in attributes.items() if _looks_like_a_statistic(value)}
        uncovered = statistics - set(counters) - set(NOT_COUNTERS[type(part)])
        assert not uncovered, f"{type(part).__name__}: add {sorted(uncovered)} to its counters()"


# -- the environment the skipping moves ------------------------------------------------------------

def test_the_environment_lists_pending_events_from_now_in_order_without_the_deadline():
    env = ShiftableEnvironment()
    later, sooner = env.timeout(5), env.timeout(2)
    seen = []
    env.timeout(1).callbacks.append(
        lambda _event: seen.extend((delay, event) for delay, _priority, event in env.pending()))
    env.run(until=10)
    assert seen == [(1, sooner), (4, later)]


def test_the_environment_shifts_the_clock_and_pending_events_but_not_the_deadline():
    env = ShiftableEnvironment()
    fired = []
    env.timeout(3).callbacks.append(lambda _event: fired.append(env.now))
    env.timeout(1).callbacks.append(lambda _event: env.shift_time(100))
    env.run(until=200)
    assert (fired, env.now) == ([103], 200)


def test_the_environment_binds_simpys_event_classes_once():
    """As simpy.Environment does for itself: else each env.timeout() builds a bound method."""
    assert {"timeout", "event", "process"} <= set(vars(ShiftableEnvironment()))
