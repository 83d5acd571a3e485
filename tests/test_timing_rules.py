"""Micro-timing tests: one or more tests per rule of the timing contract.

Every expected cycle count is derived in the test from the contract
(/work/shared/design/machine-model.md) and the lead's timing decisions, in
closed form next to the assertion; none is copied from the simulator's
output. Where it makes the rule visible, the start and end cycles of single
instructions are checked through a Recorder, so that an instruction starting
one cycle early (illegal) or one cycle late fails as surely as a wrong total.

Rates used below, at the presets' 1 GHz clock (bytes or operations per cycle):
  dlp-s DRAM 64 GB/s -> 64 B/cycle; dlp-m DRAM 128 GB/s -> 128 B/cycle;
  SharedRAM <-> each core 1 TB/s -> 1000 B/cycle (1e12 / 1e9, not 1024);
  NRAM <-> WRAM 256 GB/s -> 256 B/cycle; MAC_32 256, MAC_16 512,
  ADD/SUB/MUL_32 64, DIV_32 16, the _16 vector types twice the _32 rate.
"""

from __future__ import annotations

import textwrap
from fractions import Fraction
from math import ceil

import pytest

from dlpsim.asm import assemble
from dlpsim.machine import load_machine
from dlpsim.sim import Recorder, simulate

S_DRAM = 64  # dlp-s: 64 GB/s / 1 GHz
M_DRAM = 128  # dlp-m: 128 GB/s / 1 GHz
SHARED = 1000  # dlp-m: 1 TB/s / 1 GHz per core
LOCAL = 256  # 256 GB/s / 1 GHz
MAC32 = 256

RATES = {  # operations per cycle of each compute type on the presets
    "MAC_32": 256, "MAC_16": 512,
    "ADD_32": 64, "SUB_32": 64, "MUL_32": 64, "DIV_32": 16,
    "ADD_16": 128, "SUB_16": 128, "MUL_16": 128, "DIV_16": 32,
}


def run(text: str, preset: str = "dlp-s", overrides: tuple[str, ...] | list[str] = ()):
    recorder = Recorder()
    program = assemble(textwrap.dedent(text), "t.asm")
    stats = simulate(program, load_machine(preset, overrides=list(overrides)), recorder)
    return stats, recorder


def spans(recorder: Recorder, core: str, queue: str) -> list[tuple[int, int]]:
    """(start, end) of each instruction executed on one queue, in execution order."""
    return sorted((i.start, i.end) for i in recorder.intervals if i.track == (core, queue))


def core(stats, name: str):
    return next(c for c in stats.cores if c.name == name)


def queue(stats, core_name: str, kind: str):
    return next(q for q in core(stats, core_name).queues if q.kind == kind)


def control(stats, core_name: str) -> dict[str, int]:
    return dict(core(stats, core_name).control_cycles)


def link(stats, name: str):
    return next(item for item in stats.links if item.name == name)


def mac(cycles: int) -> str:
    """A compute instruction that occupies the matrix unit for exactly ``cycles`` cycles."""
    return f"compute MAC_32 {MAC32 * cycles}"


# --------------------------------------------------------------------------------------------
# The contract's worked example


def test_worked_example_7_7():
    stats, rec = run("""
        move DRAM NRAM 1024
        move DRAM WRAM 1024
        sync
        compute MAC_32 256
        sync
        move NRAM DRAM 4
        sync
    """)
    load = 1024 // S_DRAM  # 16 cycles per 1024 B load, one after the other on the io queue
    store = 2 * load + 1  # after the sync that follows the 1-cycle compute
    assert spans(rec, "core0", "io") == [(0, load), (load, 2 * load), (store, store + ceil(4 / S_DRAM))]
    assert spans(rec, "core0", "compute") == [(2 * load, 2 * load + 1)]
    assert stats.cycles == 34


# --------------------------------------------------------------------------------------------
# Queues: overlap without sync


def test_compute_and_move_issued_back_to_back_run_concurrently():
    stats, rec = run(f"""
        move DRAM NRAM 1024
        {mac(10)}
    """)
    assert spans(rec, "core0", "io") == [(0, 1024 // S_DRAM)]
    assert spans(rec, "core0", "compute") == [(0, 10)]  # started at 0, not after the move
    assert stats.cycles == max(1024 // S_DRAM, 10)


def test_compute_does_not_wait_for_a_preceding_move_without_sync():
    stats, rec = run("""
        move DRAM NRAM 6400
        compute MAC_32 256
    """)
    assert spans(rec, "core0", "compute") == [(0, 1)]
    assert stats.cycles == 6400 // S_DRAM


def test_two_moves_on_the_io_queue_run_serially():
    stats, rec = run("""
        move DRAM NRAM 1024
        move DRAM WRAM 640
    """)
    first = 1024 // S_DRAM
    assert spans(rec, "core0", "io") == [(0, first), (first, first + 640 // S_DRAM)]
    assert stats.cycles == first + 640 // S_DRAM


def test_two_moves_on_the_move_queue_run_serially():
    stats, rec = run("""
        move NRAM WRAM 2560
        move WRAM NRAM 512
    """)
    first = 2560 // LOCAL
    assert spans(rec, "core0", "move") == [(0, first), (first, first + 512 // LOCAL)]
    assert queue(stats, "core0", "move").instructions == 2
    assert queue(stats, "core0", "io").instructions == 0


def test_two_computes_run_serially():
    stats, rec = run(f"""
        {mac(3)}
        compute ADD_32 128
    """)
    assert spans(rec, "core0", "compute") == [(0, 3), (3, 3 + 128 // 64)]
    assert stats.cycles == 5


def test_three_queues_run_concurrently():
    stats, rec = run(f"""
        move DRAM NRAM {S_DRAM * 7}
        move NRAM WRAM {LOCAL * 9}
        {mac(5)}
    """)
    assert spans(rec, "core0", "io") == [(0, 7)]
    assert spans(rec, "core0", "move") == [(0, 9)]
    assert spans(rec, "core0", "compute") == [(0, 5)]
    assert stats.cycles == 9


# --------------------------------------------------------------------------------------------
# sync


def test_sync_waits_for_every_earlier_instruction_of_the_core():
    stats, rec = run(f"""
        move DRAM NRAM 1024
        {mac(20)}
        move NRAM WRAM {LOCAL * 5}
        sync
        compute MAC_32 256
    """)
    resume = max(1024 // S_DRAM, 20, 5)  # the slowest earlier instruction: the 20-cycle compute
    assert spans(rec, "core0", "compute") == [(0, 20), (resume, resume + 1)]
    assert control(stats, "core0")["sync"] == resume
    assert stats.cycles == resume + 1


def test_sync_costs_nothing_beyond_the_wait():
    stats, rec = run("""
        move DRAM NRAM 1024
        sync
        sync
        move DRAM NRAM 64
        sync
    """)
    first = 1024 // S_DRAM
    assert spans(rec, "core0", "io") == [(0, first), (first, first + 1)]  # on time, not one cycle late
    assert stats.cycles == first + 1
    without, _ = run("""
        move DRAM NRAM 1024
        sync
        move DRAM NRAM 64
    """)
    assert without.cycles == stats.cycles


def test_sync_with_nothing_outstanding_is_free():
    stats, rec = run(f"""
        sync
        {mac(4)}
    """)
    assert spans(rec, "core0", "compute") == [(0, 4)]
    assert control(stats, "core0")["sync"] == 0


def test_sync_waits_for_its_own_core_only():
    stats, rec = run(f"""
        .core 0
        {mac(100)}
        .core 1
        move DRAM NRAM 128
        sync
        compute MAC_32 256
    """, "dlp-m")
    after = ceil(128 / M_DRAM)  # 1: core 1's own move; core 0's compute is not waited for
    assert spans(rec, "core1", "compute") == [(after, after + 1)]
    assert core(stats, "core1").finish_cycle == after + 1
    assert stats.cycles == 100


# --------------------------------------------------------------------------------------------
# barrier (dlp-m)


def test_barrier_cores_with_different_work_meet():
    stats, rec = run(f"""
        .core 0
        {mac(10)}
        .core 1
        {mac(30)}
        .core 2
        move DRAM NRAM {M_DRAM * 5}
        .core 3
        .core all
        barrier
        compute MAC_32 256
    """, "dlp-m")
    meet = max(10, 30, 5, 0)  # core 3 reaches the barrier at once; it has instructions, so it takes part
    for index in range(4):
        assert spans(rec, f"core{index}", "compute")[-1] == (meet, meet + 1), index
    assert control(stats, "core0")["sync"] == 10
    assert control(stats, "core0")["barrier"] == meet - 10
    assert control(stats, "core1")["barrier"] == 0
    assert control(stats, "core3")["barrier"] == meet
    assert stats.cycles == meet + 1


def test_barrier_includes_a_local_sync():
    # core 1 reaches the barrier at 0, core 0 only when its own move has completed.
    stats, rec = run(f"""
        .core 0
        move DRAM NRAM {M_DRAM * 10}
        barrier
        compute MAC_32 256
        .core 1
        barrier
        compute MAC_32 256
    """, "dlp-m")
    assert spans(rec, "core0", "compute") == [(10, 11)]
    assert spans(rec, "core1", "compute") == [(10, 11)]


def test_memory_core_participates_when_it_has_instructions():
    stats, rec = run(f"""
        .core mem
        move DRAM SharedRAM {M_DRAM * 100}
        barrier
        .core all
        barrier
        move SharedRAM NRAM {SHARED * 3}
    """, "dlp-m")
    loaded = M_DRAM * 100 // M_DRAM  # 100
    for index in range(4):
        assert spans(rec, f"core{index}", "move") == [(loaded, loaded + 3)]
    assert spans(rec, "mem", "io") == [(0, loaded)]
    assert core(stats, "mem").barriers == 1
    assert stats.cycles == loaded + 3


def test_memory_core_without_instructions_does_not_participate():
    stats, rec = run(f"""
        .core 0
        {mac(7)}
        .core all
        barrier
        compute MAC_32 256
    """, "dlp-m")
    assert [c.name for c in stats.cores] == ["core0", "core1", "core2", "core3"]
    assert spans(rec, "core1", "compute") == [(7, 8)]
    assert stats.cycles == 8


def test_core_with_an_empty_stream_does_not_participate():
    # core 3 has no text at all and core 2 only a loop that issues nothing: neither takes part.
    stats, rec = run(f"""
        .core 0
        {mac(6)}
        barrier
        compute MAC_32 256
        .core 1
        barrier
        compute MAC_32 256
        .core 2
        loop 0
        barrier
        endloop
    """, "dlp-m")
    assert [c.name for c in stats.cores] == ["core0", "core1"]
    assert spans(rec, "core1", "compute") == [(6, 7)]
    assert stats.cycles == 7


def test_kth_barrier_matches_kth_barrier():
    # core 0 reaches its barriers in a loop, core 1 writes them out; the k-th meet the k-th.
    stats, rec = run(f"""
        .core 0
        loop 2
        {mac(10)}
        barrier
        endloop
        compute MAC_32 256
        .core 1
        {mac(30)}
        barrier
        {mac(5)}
        barrier
        compute MAC_32 256
    """, "dlp-m")
    first = max(10, 30)  # 30
    second = first + max(10, 5)  # 40
    assert spans(rec, "core0", "compute") == [(0, 10), (first, first + 10), (second, second + 1)]
    assert spans(rec, "core1", "compute") == [(0, 30), (first, first + 5), (second, second + 1)]
    assert core(stats, "core0").barriers == core(stats, "core1").barriers == 2
    assert stats.cycles == second + 1


def test_barrier_on_a_single_core_is_a_sync():
    stats, rec = run(f"""
        move DRAM NRAM 640
        barrier
        {mac(1)}
    """)
    assert spans(rec, "core0", "compute") == [(640 // S_DRAM, 640 // S_DRAM + 1)]


# --------------------------------------------------------------------------------------------
# Equal sharing of a link


def test_two_compute_cores_share_the_dram_link_equally():
    stats, rec = run("""
        .core 0-1
        move DRAM NRAM 2048
    """, "dlp-m")
    both = ceil(2048 / (M_DRAM / 2))  # 32; alone it would be 16
    assert spans(rec, "core0", "io") == [(0, both)]
    assert spans(rec, "core1", "io") == [(0, both)]
    assert link(stats, "dram").busy_cycles == both


def test_contract_example_core_and_memory_core_share_the_dram_link():
    # "at 64 B/cycle, 1024 B and 512 B both started at cycle 0 ... finish at 16 and 24"
    stats, rec = run("""
        .core 0
        move DRAM NRAM 1024
        .core mem
        move DRAM SharedRAM 512
    """, "dlp-m", ["dram.bandwidth=64GB/s"])
    small = 512 // (64 // 2)  # 16
    large = small + (1024 - 32 * small) // 64  # 16 + 8 = 24
    assert spans(rec, "mem", "io") == [(0, small)]
    assert spans(rec, "core0", "io") == [(0, large)]
    assert stats.cycles == 24


def test_four_concurrent_unequal_transfers():
    stats, rec = run("""
        .core 0
        move DRAM NRAM 1024
        .core 1
        move DRAM NRAM 2048
        .core 2
        move DRAM NRAM 512
        .core mem
        move DRAM SharedRAM 4096
    """, "dlp-m")
    # 4 active at 32 B/cycle: the 512 B one ends at 16; each has received 512 B.
    t1 = 512 // (M_DRAM // 4)
    # 3 active (512, 1536, 3584 B left) at 128/3 B/cycle: 512 B take 12 cycles.
    t2 = t1 + ceil(512 / Fraction(M_DRAM, 3))
    # 2 active (1024, 3072 left) at 64: 16 cycles.
    t3 = t2 + 1024 // (M_DRAM // 2)
    # 1 active (2048 left) at 128: 16 cycles.
    t4 = t3 + 2048 // M_DRAM
    assert (t1, t2, t3, t4) == (16, 28, 44, 60)
    assert spans(rec, "core2", "io") == [(0, t1)]
    assert spans(rec, "core0", "io") == [(0, t2)]
    assert spans(rec, "core1", "io") == [(0, t3)]
    assert spans(rec, "mem", "io") == [(0, t4)]
    assert stats.cycles == (1024 + 2048 + 512 + 4096) // M_DRAM  # no bandwidth is lost here


def test_three_transfers_with_fractional_shares():
    stats, rec = run("""
        .core 0
        move DRAM NRAM 100
        .core 1
        move DRAM NRAM 200
        .core 2
        move DRAM NRAM 300
    """, "dlp-m", ["dram.bandwidth=64GB/s"])
    share3 = Fraction(64, 3)
    t1 = ceil(100 / share3)  # 5
    left = [200 - t1 * share3, 300 - t1 * share3]  # 93 1/3, 193 1/3
    t2 = t1 + ceil(left[0] / 32)  # 8
    last = left[1] - (t2 - t1) * 32
    t3 = t2 + ceil(last / 64)  # 10
    assert (t1, t2, t3) == (5, 8, 10)
    assert spans(rec, "core0", "io") == [(0, t1)]
    assert spans(rec, "core1", "io") == [(0, t2)]
    assert spans(rec, "core2", "io") == [(0, t3)]


def test_a_transfer_joining_half_way_re_divides_the_link():
    stats, rec = run(f"""
        .core 0
        move DRAM NRAM 1024
        .core 1
        {mac(8)}
        sync
        move DRAM NRAM 256
    """, "dlp-m", ["dram.bandwidth=64GB/s"])
    joins = 8  # the first has received 8 * 64 = 512 B
    late_done = joins + 256 // 32  # 16
    first_done = late_done + (1024 - 8 * 64 - 8 * 32) // 64  # 16 + 4 = 20
    assert spans(rec, "core1", "io") == [(joins, late_done)]
    assert spans(rec, "core0", "io") == [(0, first_done)]


def test_shares_are_re_divided_only_at_whole_cycles():
    # 10 B and 1000 B at 64 B/cycle: the 10 B transfer is done after cycle 1 (ceil(10/32));
    # its unused share of that cycle is not handed to the other one.
    stats, rec = run("""
        .core 0
        move DRAM NRAM 10
        .core 1
        move DRAM NRAM 1000
    """, "dlp-m", ["dram.bandwidth=64GB/s"])
    small = ceil(10 / 32)  # 1
    large = small + ceil((1000 - 32 * small) / 64)  # 1 + ceil(968 / 64) = 17
    assert large == ceil(1010 / 64) + 1  # one cycle later than a fluid division would give
    assert spans(rec, "core0", "io") == [(0, small)]
    assert spans(rec, "core1", "io") == [(0, large)]


def test_a_transfer_that_ends_in_the_cycle_another_joins():
    # core 1's 1-byte move is complete at cycle 1, the cycle core 0's move joins the link:
    # the newcomer has the link to itself from cycle 1.
    stats, rec = run("""
        .core 0
        compute MAC_32 256
        sync
        move DRAM NRAM 256
        .core 1
        move DRAM NRAM 1
    """, "dlp-m")
    assert spans(rec, "core1", "io") == [(0, 1)]
    assert spans(rec, "core0", "io") == [(1, 1 + 256 // M_DRAM)]


def test_a_transfer_starting_when_another_finishes_gets_the_whole_link():
    stats, rec = run(f"""
        .core 0
        move DRAM NRAM {M_DRAM * 4}
        .core 1
        {mac(4)}
        sync
        move DRAM NRAM {M_DRAM * 4}
    """, "dlp-m")
    assert spans(rec, "core0", "io") == [(0, 4)]
    assert spans(rec, "core1", "io") == [(4, 8)]


# --------------------------------------------------------------------------------------------
# Per-core SharedRAM links


def test_each_core_has_its_own_sharedram_link():
    stats, rec = run("""
        .core all
        move SharedRAM NRAM 100000
    """, "dlp-m")
    alone = 100000 // SHARED  # 100: the full 1000 B/cycle each, although four run at once
    for index in range(4):
        assert spans(rec, f"core{index}", "move") == [(0, alone)]
        assert link(stats, f"shared.{index}").bytes == 100000
    assert link(stats, "dram").bytes == 0
    assert stats.cycles == alone


def test_sharedram_links_are_independent_of_the_shared_dram_link():
    stats, rec = run("""
        .core all
        move DRAM NRAM 12800
        move SharedRAM WRAM 100000
    """, "dlp-m")
    dram = 12800 // (M_DRAM // 4)  # 400: four transfers share 128 B/cycle
    shared = 100000 // SHARED  # 100
    for index in range(4):
        assert spans(rec, f"core{index}", "io") == [(0, dram)]
        assert spans(rec, f"core{index}", "move") == [(0, shared)]
    assert stats.cycles == dram


def test_dram_to_sharedram_from_a_compute_core_uses_io_queue_and_dram_link():
    stats, rec = run(f"""
        .core 0
        move DRAM SharedRAM {M_DRAM * 3}
        move SharedRAM NRAM {SHARED * 2}
    """, "dlp-m")
    assert spans(rec, "core0", "io") == [(0, 3)]
    assert spans(rec, "core0", "move") == [(0, 2)]  # no sync: the on-chip move does not wait
    assert link(stats, "dram").bytes == M_DRAM * 3
    assert link(stats, "shared.0").bytes == SHARED * 2


# --------------------------------------------------------------------------------------------
# Ceil rounding


def test_fractional_bytes_per_cycle_round_up():
    stats, rec = run("""
        move DRAM NRAM 1024
        move DRAM NRAM 100
    """, overrides=["dram.bandwidth=12.8GB/s"])
    per_cycle = Fraction(128, 10)  # 12.8 GB/s / 1 GHz
    first = ceil(1024 / per_cycle)  # 80 exactly
    second = ceil(100 / per_cycle)  # ceil(7.8125) = 8
    assert (first, second) == (80, 8)
    assert spans(rec, "core0", "io") == [(0, first), (first, first + second)]
    assert link(stats, "dram").bytes_per_cycle == per_cycle


@pytest.mark.parametrize("size", [1, 63, 64, 65, 1000])
def test_transfer_alone_takes_ceil_size_over_bandwidth(size):
    stats, _ = run(f"move DRAM NRAM {size}")
    assert stats.cycles == ceil(size / S_DRAM)


@pytest.mark.parametrize(("count", "cycles"), [(1, 1), (256, 1), (257, 2), (512, 2), (513, 3)])
def test_compute_rounds_up(count, cycles):
    stats, rec = run(f"compute MAC_32 {count}")
    assert cycles == ceil(count / MAC32)
    assert spans(rec, "core0", "compute") == [(0, cycles)]


def test_fractional_compute_rate_rounds_up():
    stats, _ = run("compute MAC_32 10\ncompute MAC_16 10", overrides=["core.matrix.macs_per_cycle=2.5"])
    assert stats.cycles == ceil(10 / Fraction(5, 2)) + ceil(10 / (Fraction(5, 2) * 2))  # 4 + 2


# --------------------------------------------------------------------------------------------
# Compute rates of the presets


@pytest.mark.parametrize("kind", sorted(RATES))
def test_compute_rate_of_each_type(kind):
    rate = RATES[kind]
    exact, _ = run(f"compute {kind} {rate * 100}")
    assert exact.cycles == 100
    over, _ = run(f"compute {kind} {rate * 100 + 1}")
    assert over.cycles == 101


def test_named_rates_on_dlp_s():
    for text, cycles in (("compute ADD_32 64", 1), ("compute DIV_32 16", 1), ("compute MAC_16 512", 1),
                         ("compute ADD_32 65", 2), ("compute DIV_32 17", 2), ("compute MAC_16 513", 2)):
        stats, _ = run(text)
        assert stats.cycles == cycles, text


def test_vector_and_matrix_share_one_compute_queue():
    stats, rec = run("""
        compute ADD_32 640
        compute MAC_32 2560
    """)
    assert spans(rec, "core0", "compute") == [(0, 640 // 64), (640 // 64, 640 // 64 + 2560 // MAC32)]


# --------------------------------------------------------------------------------------------
# The local NRAM <-> WRAM link


def test_local_link_uses_the_move_queue_concurrently_with_io():
    stats, rec = run(f"""
        move NRAM WRAM {LOCAL * 100}
        move DRAM NRAM {S_DRAM * 100}
    """)
    assert spans(rec, "core0", "move") == [(0, 100)]
    assert spans(rec, "core0", "io") == [(0, 100)]
    assert link(stats, "local.0").bytes == LOCAL * 100
    assert link(stats, "dram").bytes == S_DRAM * 100
    assert stats.cycles == 100


def test_local_and_sharedram_moves_share_the_move_queue():
    stats, rec = run(f"""
        move SharedRAM NRAM {SHARED * 10}
        move NRAM WRAM {LOCAL * 10}
    """, "dlp-m")
    for index in range(4):
        assert spans(rec, f"core{index}", "move") == [(0, 10), (10, 20)]
    assert stats.cycles == 20


# --------------------------------------------------------------------------------------------
# Loops


def test_nested_loop_counts_multiply():
    stats, rec = run("""
        loop 3
          loop 4
            compute MAC_32 256
          endloop
          move DRAM NRAM 64
        endloop
    """)
    assert queue(stats, "core0", "compute").instructions == 3 * 4
    assert queue(stats, "core0", "io").instructions == 3
    assert spans(rec, "core0", "compute") == [(i, i + 1) for i in range(12)]
    # Issue order c1-c4 m1 c5-c8 m2 c9-c12 m3. m1 and m2 are issued at 0 (the compute queue
    # then holds 8). c9 waits for room until c1 completes (1), c10 until 2, c11 until 3 and
    # c12 until 4, so m3 is issued at 4. The io queue runs m1 0..1, m2 1..2, m3 4..5.
    assert spans(rec, "core0", "io") == [(0, 1), (1, 2), (4, 5)]
    assert stats.cycles == 12


def test_loop_zero_issues_nothing():
    stats, rec = run("""
        loop 0
          move DRAM NRAM 1024
          compute MAC_32 2560
        endloop
        compute MAC_32 256
    """)
    assert stats.cycles == 1
    assert queue(stats, "core0", "io").instructions == 0
    assert queue(stats, "core0", "compute").instructions == 1


def test_loop_zero_inside_a_loop():
    stats, _ = run("""
        loop 5
          loop 0
            compute MAC_32 2560
          endloop
          compute MAC_32 256
        endloop
    """)
    assert stats.cycles == 5
    assert queue(stats, "core0", "compute").instructions == 5


def test_program_of_only_loop_zero_takes_no_time():
    stats, _ = run("loop 0\nmove DRAM NRAM 64\nendloop\n")
    assert stats.cycles == 0


def test_loop_costs_no_cycles():
    looped, _ = run(f"loop 3\n{mac(2)}\nsync\nendloop\n")
    written, _ = run(f"{mac(2)}\nsync\n{mac(2)}\nsync\n{mac(2)}\nsync\n")
    assert looped.cycles == written.cycles == 3 * 2


# --------------------------------------------------------------------------------------------
# Queue depth


def test_full_queue_stalls_issue_for_other_queues_depth_1():
    stats, rec = run(f"""
        {mac(10)}
        {mac(10)}
        move DRAM NRAM 64
    """, overrides=["core.queue_depth=1"])
    # The first compute fills the queue (depth counts the executing one); the second can only
    # be issued when it completes at 10, and the move behind it is issued at 10 too.
    assert spans(rec, "core0", "compute") == [(0, 10), (10, 20)]
    assert spans(rec, "core0", "io") == [(10, 11)]
    assert control(stats, "core0")["queue_full"] == 10
    assert stats.cycles == 20


def test_depth_counts_the_executing_instruction():
    # depth 2: one executing + one waiting fill the queue, so the third compute waits.
    stats, rec = run(f"""
        {mac(10)}
        {mac(10)}
        {mac(10)}
        move DRAM NRAM 64
    """, overrides=["core.queue_depth=2"])
    assert spans(rec, "core0", "io") == [(10, 11)]
    assert control(stats, "core0")["queue_full"] == 10
    roomy, rec = run(f"""
        {mac(10)}
        {mac(10)}
        move DRAM NRAM 64
    """, overrides=["core.queue_depth=2"])
    assert spans(rec, "core0", "io") == [(0, 1)]
    assert control(roomy, "core0")["queue_full"] == 0


def test_default_depth_8_stalls_at_the_ninth_instruction():
    nine = "\n".join([mac(10)] * 9)
    stats, rec = run(f"{nine}\nmove DRAM NRAM 64\n")
    assert spans(rec, "core0", "io") == [(10, 11)]  # issued when the first compute completes
    assert control(stats, "core0")["queue_full"] == 10
    assert stats.cycles == 9 * 10
    eight = "\n".join([mac(10)] * 8)
    stats, rec = run(f"{eight}\nmove DRAM NRAM 64\n")
    assert spans(rec, "core0", "io") == [(0, 1)]
    assert control(stats, "core0")["queue_full"] == 0


def test_queue_full_stall_accumulates():
    # depth 1, four 5-cycle computes: the 2nd, 3rd and 4th each wait 5 cycles to be issued.
    stats, _ = run("\n".join([mac(5)] * 4), overrides=["core.queue_depth=1"])
    assert control(stats, "core0")["queue_full"] == 3 * 5
    assert control(stats, "core0")["finished"] == 5  # issuing ends when the 4th enters, at 15
    assert stats.cycles == 20


# --------------------------------------------------------------------------------------------
# Latencies and issue cost


def test_dram_latency_alone():
    stats, rec = run("""
        move DRAM NRAM 1024
        move DRAM NRAM 1024
    """, overrides=["dram.latency=10"])
    one = 10 + 1024 // S_DRAM  # L + ceil(s / B) = 26
    assert spans(rec, "core0", "io") == [(0, one), (one, 2 * one)]


def test_latency_is_paid_before_joining_the_sharing():
    # dlp-m at 64 B/cycle, dram latency 10. core 0's move starts at 0, joins at 10; core 1's
    # starts at 5, joins at 15. From 10 to 15 core 0 has the link to itself (320 B).
    stats, rec = run(f"""
        .core 0
        move DRAM NRAM 1024
        .core 1
        {mac(5)}
        sync
        move DRAM NRAM 512
    """, "dlp-m", ["dram.bandwidth=64GB/s", "dram.latency=10"])
    left = 1024 - (15 - 10) * 64  # 704 B when core 1's transfer joins
    second = 15 + 512 // 32  # 31
    first = second + (left - 512) // 64  # 31 + 3 = 34
    assert spans(rec, "core1", "io") == [(5, second)]
    assert spans(rec, "core0", "io") == [(0, first)]
    assert link(stats, "dram").busy_cycles == first - 10  # the latency is not link time


def test_local_and_shared_latency():
    stats, rec = run(f"""
        move NRAM WRAM {LOCAL}
        move SharedRAM NRAM {SHARED}
    """, "dlp-m", ["core.local.latency=3", "shared.latency=7"])
    assert spans(rec, "core0", "move") == [(0, 3 + 1), (4, 4 + 7 + 1)]


def test_matrix_latency():
    stats, rec = run("""
        compute MAC_32 256
        compute ADD_32 64
        compute MAC_16 1024
    """, overrides=["core.matrix.latency=5"])
    mac32 = 5 + 1
    add = 0 + 1  # the vector unit has its own latency, still 0
    mac16 = 5 + 1024 // 512
    assert spans(rec, "core0", "compute") == [(0, mac32), (mac32, mac32 + add),
                                             (mac32 + add, mac32 + add + mac16)]


def test_vector_latency():
    stats, _ = run("compute DIV_32 32\ncompute MAC_32 256", overrides=["core.vector.latency=3"])
    assert stats.cycles == (3 + 32 // 16) + 1


def test_issue_cycles_paid_per_move_and_compute():
    stats, rec = run("""
        compute MAC_32 256
        compute MAC_32 256
        move DRAM NRAM 64
    """, overrides=["core.issue_cycles=2"])
    # issued at 2, 4 and 6; the second compute starts when issued (the queue is idle by then).
    assert spans(rec, "core0", "compute") == [(2, 3), (4, 5)]
    assert spans(rec, "core0", "io") == [(6, 7)]
    assert control(stats, "core0")["issuing"] == 3 * 2
    assert stats.cycles == 7


def test_sync_barrier_and_loops_cost_no_issue_cycles():
    stats, rec = run("""
        loop 2
          loop 1
            sync
            barrier
          endloop
        endloop
        sync
        compute MAC_32 256
    """, overrides=["core.issue_cycles=2"])
    assert spans(rec, "core0", "compute") == [(2, 3)]
    assert control(stats, "core0")["issuing"] == 2


def test_issue_cycles_are_paid_before_waiting_for_room():
    stats, rec = run(f"""
        {mac(10)}
        {mac(10)}
        move DRAM NRAM 64
    """, overrides=["core.queue_depth=1", "core.issue_cycles=2"])
    # c1 issued 0..2, runs 2..12. c2 pays 2..4, then waits for room until 12, runs 12..22.
    # The move pays 12..14 and runs 14..15.
    assert spans(rec, "core0", "compute") == [(2, 12), (12, 22)]
    assert spans(rec, "core0", "io") == [(14, 15)]
    assert control(stats, "core0") == {"issuing": 6, "queue_full": 8, "sync": 0, "barrier": 0,
                                       "finished": 22 - 14}


def test_issue_cycles_after_sync():
    stats, rec = run("""
        move DRAM NRAM 640
        sync
        compute MAC_32 256
    """, overrides=["core.issue_cycles=2"])
    move_end = 2 + 640 // S_DRAM  # 12
    assert spans(rec, "core0", "compute") == [(move_end + 2, move_end + 3)]


# --------------------------------------------------------------------------------------------
# Accounting and bounds

VARIED = [
    # (program, preset, overrides, expected bytes per link)
    ("move DRAM NRAM 1024\nmove DRAM WRAM 1024\nsync\ncompute MAC_32 256\nsync\nmove NRAM DRAM 4\n",
     "dlp-s", [], {"dram": 2052}),
    ("loop 10\nmove DRAM NRAM 4096\nmove NRAM WRAM 512\ncompute MAC_32 65536\ncompute ADD_32 100\n"
     "endloop\n", "dlp-s", [], {"dram": 40960, "local.0": 5120}),
    ("loop 4\nmove DRAM NRAM 1000\nsync\ncompute DIV_16 333\nendloop\n", "dlp-s",
     ["dram.bandwidth=12.8GB/s", "core.queue_depth=1"], {"dram": 4000}),
    ("loop 20\ncompute MAC_32 2560\nmove DRAM NRAM 64\nendloop\n", "dlp-s",
     ["core.queue_depth=2", "core.issue_cycles=1", "dram.latency=3"], {"dram": 1280}),
    (".core mem\nmove DRAM SharedRAM 65536\nbarrier\n.core all\nbarrier\nloop 2\n"
     "move SharedRAM NRAM 8192\nmove DRAM WRAM 4096\nsync\ncompute MAC_32 131072\nendloop\n",
     "dlp-m", [], {"dram": 65536 + 4 * 2 * 4096, "shared.0": 16384, "shared.3": 16384}),
    (".core 0\nmove DRAM NRAM 100000\n.core 1-2\ncompute MUL_16 9999\nmove NRAM DRAM 77\nbarrier\n"
     "compute SUB_32 5\n.core 0\nbarrier\n", "dlp-m", ["dram.bandwidth=50GB/s"],
     {"dram": 100000 + 2 * 77}),
    (".core all\nloop 3\nmove DRAM NRAM 3000\nmove SharedRAM WRAM 7000\ncompute MAC_16 40000\nsync\n"
     "endloop\n.core mem\nloop 3\nmove SharedRAM DRAM 5000\nendloop\n", "dlp-m",
     ["dram.latency=2", "shared.latency=1", "core.issue_cycles=1"],
     {"dram": 4 * 3 * 3000 + 3 * 5000, "shared.1": 21000}),
]


@pytest.mark.parametrize(("text", "preset", "overrides", "link_bytes"), VARIED)
def test_accounting_adds_up(text, preset, overrides, link_bytes):
    stats, rec = run(text, preset, overrides)
    assert stats.cycles > 0
    for core_stats in stats.cores:
        causes = dict(core_stats.control_cycles)
        assert sum(causes.values()) == stats.cycles, core_stats.name
        assert all(value >= 0 for value in causes.values()), core_stats.name
        for queue_stats in core_stats.queues:
            assert 0 <= queue_stats.busy_cycles <= stats.cycles
            busy = sum(end - start for start, end in spans(rec, core_stats.name, queue_stats.kind))
            assert busy == queue_stats.busy_cycles
        assert core_stats.finish_cycle <= stats.cycles
    for name, size in link_bytes.items():
        assert link(stats, name).bytes == size, name
    for item in stats.links:
        assert item.busy_cycles <= stats.cycles
        assert item.bytes <= item.bytes_per_cycle * item.busy_cycles  # a link cannot beat its bandwidth
    assert stats.dram_bytes == link_bytes["dram"]
    assert stats.cycles >= stats.bound.cycles
    assert stats.efficiency <= 1
    summary = stats.to_dict()
    for name, entry in summary["cores"].items():
        assert sum(entry["control"].values()) == summary["cycles"], name


def test_bound_cycles_follow_the_contract():
    stats, _ = run("""
        move DRAM NRAM 1024
        move DRAM WRAM 1024
        sync
        compute MAC_32 256
        compute ADD_32 65
        sync
        move NRAM DRAM 4
    """)
    compute_bound = ceil(Fraction(256, 256) + Fraction(65, 64))  # 3
    dram_bound = ceil(2052 / 64)  # 33
    assert stats.bound.compute_cycles == compute_bound
    assert stats.bound.dram_cycles == dram_bound
    assert stats.bound.cycles == max(compute_bound, dram_bound)
    assert stats.efficiency == Fraction(dram_bound, stats.cycles)


def test_compute_bound_divides_by_the_compute_cores():
    stats, _ = run(f".core 0\n{mac(40)}\n", "dlp-m")
    assert stats.bound.compute_cycles == ceil(40 / 4)
    assert stats.cycles == 40
    assert stats.mac_utilization == Fraction(40 * MAC32, 4 * MAC32 * 40)


# --------------------------------------------------------------------------------------------
# Completion


def test_total_is_the_last_completion_over_all_cores():
    stats, rec = run(f"""
        .core 0
        {mac(3)}
        .core 1
        move DRAM NRAM {M_DRAM * 9}
        .core 2
        move NRAM WRAM {LOCAL * 4}
        .core mem
        move DRAM SharedRAM {M_DRAM * 2}
    """, "dlp-m")
    # core 1 and the memory core share the dram link: 2 * 128 B each take 4 cycles, then
    # core 1's remaining 7 * 128 B take 7 more.
    core1 = 2 * 2 + 7
    assert {c.name: c.finish_cycle for c in stats.cores} == {"core0": 3, "core1": core1, "core2": 4,
                                                             "mem": 4}
    assert stats.cycles == max(3, core1, 4, 4)
    last = max(i.end for i in rec.intervals if i.track[0] != "links")
    assert stats.cycles == last


def test_trailing_sync_and_barrier_add_nothing():
    stats, _ = run(f"{mac(3)}\nsync\nbarrier\nsync\n")
    assert stats.cycles == 3


@pytest.mark.parametrize("text", ["", "; only a comment\n# another\n", "\n\n", "sync\n", "sync\nbarrier\n"])
def test_programs_without_work_take_zero_cycles(text):
    stats, _ = run(text)
    assert stats.cycles == 0
    assert stats.efficiency is None or stats.efficiency <= 1


def test_empty_program_on_dlp_m():
    stats, _ = run("", "dlp-m")
    assert stats.cycles == 0
    assert stats.cores == ()


# --------------------------------------------------------------------------------------------
# MAC utilization (contract v2): sum over MAC types of ops(T) / rate(T), over cores x cycles


def test_mac_16_work_is_counted_at_its_own_rate_and_never_exceeds_100_percent():
    # 1024 MAC_16 at 512/cycle keep the matrix unit busy for 2 cycles out of 2: exactly 100%
    # (v1 divided by the MAC_32 peak: 1024 / (256 x 2) = 200%).
    stats, _ = run("compute MAC_16 1024")
    assert stats.cycles == ceil(1024 / RATES["MAC_16"])  # 2
    assert stats.mac_utilization == Fraction(1024, RATES["MAC_16"]) / (1 * 2) == 1


def test_mac_utilization_adds_the_types_at_their_rates():
    # 512 MAC_32 (2 cycles at 256) + 512 MAC_16 (1 cycle at 512) + vector work, which is not MAC
    stats, _ = run("compute MAC_32 512\ncompute MAC_16 512\ncompute ADD_32 64")
    cycles = 2 + 1 + 1
    assert stats.cycles == cycles
    assert stats.mac_utilization == (Fraction(512, 256) + Fraction(512, 512)) / cycles


def test_systolic_peak_is_rows_times_columns():
    # an 8 x 4 array: 32 MACs per cycle at either precision; compute MAC_32 n is timed at that peak
    stats, _ = run("compute MAC_32 320\ncompute MAC_16 320",
                   overrides=["core.matrix.model=systolic", "core.matrix.rows=8", "core.matrix.columns=4"])
    assert stats.cycles == 2 * ceil(320 / (8 * 4))  # 20
    assert stats.peak_macs_per_cycle == 8 * 4
    assert stats.mac_utilization == Fraction(640, 8 * 4) / 20 == 1
    assert stats.bound.compute_cycles == ceil(Fraction(640, 32))
