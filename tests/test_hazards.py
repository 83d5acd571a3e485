"""The static data-hazard check (contract v2, "Data"): hand-derived cases, the command line, and a
property test against brute-force expansion of every loop.

Each case states in its comments why the pair races or is ordered; the expected hazards are
written as (kind, memory instance, earlier line, later line).
"""

from __future__ import annotations

import dataclasses
import json
import time
from itertools import combinations

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dlpsim.asm import Barrier, Compute, Loop, Move, Sync, assemble
from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import accesses
from dlpsim.cli import main
from dlpsim.data import PRINTED_HAZARDS, HazardError, check_hazards
from dlpsim.data import hazards as hazards_module
from dlpsim.errors import ProgramError
from dlpsim.machine import load_machine
from dlpsim.sim.check import bind

DLP_S = load_machine("dlp-s")
DLP_M = load_machine("dlp-m")

# A load and a compute reading what it loads, with no sync between: one RAW.
RACING = ("move DRAM NRAM[0x0] 1024\n"
          "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n"
          "sync\n")


def found(text: str, machine=DLP_S) -> set[tuple[str, str, int, int]]:
    report = check_hazards(assemble(text, "test.asm"), machine)
    return {(h.kind.value, h.instance, *h.lines) for h in report.hazards}


# -- one core ---------------------------------------------------------------------------------------

def test_raw_across_queues():
    # The io queue writes NRAM[0, 0x400) while the compute queue may already read it.
    assert found("move DRAM NRAM[0x0] 1024\n"
                 "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n") == {("RAW", "NRAM.0", 1, 2)}


def test_war_across_queues():
    # The compute reads NRAM[0, 0x400) while the load that overwrites it may already run.
    assert found("compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n"
                 "move DRAM NRAM[0x0] 1024\n") == {("WAR", "NRAM.0", 1, 2)}


def test_waw_across_queues_on_the_overlap_only():
    # io writes NRAM[0, 0x400), the move queue NRAM[0x200, 0x600): they overlap in [0x200, 0x400).
    report = check_hazards(assemble("move DRAM NRAM[0x0] 1024\nmove WRAM NRAM[0x200] 1024\n", "t.asm"), DLP_S)
    assert [(h.kind.value, h.instance, h.region, h.lines) for h in report.hazards] == [
        ("WAW", "NRAM.0", (0x200, 0x400), (1, 2))]
    hazard = report.hazards[0]
    assert (hazard.earlier.queue, hazard.earlier.role, hazard.later.queue, hazard.later.role) == (
        "io", "destination", "move", "destination")


@pytest.mark.parametrize("separator", ["sync", "barrier", "loop 3\nsync\nendloop"])
def test_a_sync_or_barrier_between_orders_them(separator):
    assert found(f"move DRAM NRAM[0x0] 1024\n{separator}\n"
                 "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n") == set()


def test_a_loop_of_syncs_that_never_runs_orders_nothing():
    assert found("move DRAM NRAM[0x0] 1024\nloop 0\nsync\nendloop\n"
                 "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n") == {("RAW", "NRAM.0", 1, 5)}


def test_the_same_queue_orders_them():
    # Two loads into the same bytes and a store of them: all io, run in program order.
    assert found("move DRAM NRAM[0x0] 1024\nmove DRAM NRAM[0x0] 1024\nmove NRAM[0x0] DRAM 1024\n") == set()


def test_different_memories_or_disjoint_bytes_do_not_conflict():
    assert found("move DRAM NRAM[0x0] 1024\n"
                 "compute ADD_32 256 NRAM[0x400], WRAM[0x0] -> NRAM[0x800]\n"  # reads right after it
                 "move DRAM WRAM[0x400] 1024\n") == set()  # WRAM past what the compute reads


def test_reads_never_conflict():
    assert found("move NRAM[0x0] DRAM 1024\n"
                 "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n") == set()


def test_explicit_ranges():
    # The load writes NRAM[0x100, 0x200); the MAC reads NRAM[0x1c0, 0x240): overlap [0x1c0, 0x200).
    report = check_hazards(assemble(
        "move DRAM NRAM[0x100:0x200] 256\n"
        "compute MAC_32 64 NRAM[0x1c0:0x240], WRAM[0x0:0x100] -> NRAM[0x800:0x900]\n", "t.asm"), DLP_S)
    assert [(h.kind.value, h.region, h.lines) for h in report.hazards] == [("RAW", (0x1c0, 0x200), (1, 2))]


def test_an_accumulating_result_is_read_and_written():
    # C += A x B reads C as well as writing it: against a load into C still in flight, the read
    # is a RAW and the write a WAW.
    text = ("move DRAM NRAM[0x800] 64\n"                                          # writes C
            "compute MAC_32 4x4x4 NRAM[0x0], WRAM[0x0] +> NRAM[0x800]\n")         # reads and writes C
    assert found(text) == {("RAW", "NRAM.0", 1, 2), ("WAW", "NRAM.0", 1, 2)}


def test_a_loop_carried_hazard_between_iteration_k_and_k_plus_1():
    # In one iteration the sync orders the load before the compute; but the compute of
    # iteration k and the load of iteration k+1 have no sync between them: the load may
    # overwrite NRAM[0, 0x400) while the compute still reads it (WAR, compute first).
    body = ("move DRAM NRAM[0x0] 1024\n"
            "sync\n"
            "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n")
    assert found(f"loop 2\n{body}endloop\n") == {("WAR", "NRAM.0", 4, 2)}
    assert found(f"loop 1000000000\n{body}endloop\n") == {("WAR", "NRAM.0", 4, 2)}
    assert found(f"loop 1\n{body}endloop\n") == set()  # one iteration: nothing carried


def test_a_loop_without_a_sync_races_its_iterations_in_both_orders():
    # The compute writes NRAM[0x400, 0x800), the store reads it: without a sync in the body,
    # the store of iteration k may read before the compute (RAW, compute first) and the
    # compute of iteration k+1 may overwrite what the store of iteration k still reads (WAR).
    body = "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\nmove NRAM[0x400] DRAM[0x0] 1024\n"
    assert found(f"loop 5\n{body}endloop\nsync\n") == {("RAW", "NRAM.0", 2, 3), ("WAR", "NRAM.0", 3, 2)}
    assert found(f"loop 1\n{body}endloop\n") == {("RAW", "NRAM.0", 2, 3)}
    assert found(f"loop 0\n{body}endloop\n") == set()


# -- operands that move with loop indices -------------------------------------------------------------

def test_a_strided_raw_carried_two_iterations_back():
    # Iteration t writes NRAM[0x80 + 0x40*t, +64) (io) and reads NRAM[0x40*t, +64) (compute), with no
    # sync: the read of iteration t meets the write of iteration t' when 0x40*t = 0x80 + 0x40*t',
    # that is t = t' + 2. The write comes first in the stream: RAW, line 2 before line 3. With two
    # iterations (t <= 1) nothing meets; the first iteration alone would show nothing either.
    body = ("    move DRAM[0x0] NRAM[0x80 + 0x40*t] 64\n"
            "    compute ADD_32 16 NRAM[0x40*t], WRAM[0x0] -> WRAM[0x100]\n")
    assert found(f"loop 2 as t\n{body}endloop\n") == set()
    assert found(f"loop 3 as t\n{body}endloop\n") == {("RAW", "NRAM.0", 2, 3)}
    assert found(f"loop 1000 as t\n{body}endloop\n") == {("RAW", "NRAM.0", 2, 3)}


def test_a_sync_in_the_body_orders_the_strided_pair():
    # As above with a sync after the write: the write of iteration t' is ordered before every later
    # read. The read of iteration t and the write of iteration t+1 have no sync between them, but
    # the write lands at 0x80 + 0x40*(t+1) = 0x40*(t+3), never on 0x40*t: nothing races.
    text = ("loop 6 as t\n"
            "    move DRAM[0x0] NRAM[0x80 + 0x40*t] 64\n"
            "    sync\n"
            "    compute ADD_32 16 NRAM[0x40*t], WRAM[0x0] -> WRAM[0x100]\n"
            "endloop\n")
    assert found(text) == set()


def test_a_strided_war_between_consecutive_iterations():
    # Iteration t loads NRAM[0x40*t, +64), syncs, then reads NRAM[0x40 + 0x40*t, +64): the bytes
    # iteration t+1 loads, with no sync between the read of t and the load of t+1: WAR, the
    # compute (line 4) first. Reading what the same iteration loads instead is ordered by its sync,
    # and the next load (0x40*(t+1)) lies past the read (0x40*t, +64): nothing races.
    text = ("loop 3 as t\n"
            "    move DRAM[0x0] NRAM[0x40*t] 64\n"
            "    sync\n"
            "    compute ADD_32 16 NRAM[0x40 + 0x40*t], WRAM[0x0] -> WRAM[0x100]\n"
            "endloop\n")
    assert found(text) == {("WAR", "NRAM.0", 4, 2)}
    assert found(text.replace("NRAM[0x40 + 0x40*t]", "NRAM[0x40*t]")) == set()


def test_an_instruction_that_stays_put_in_an_unrolled_loop_races_every_iteration():
    # The compute reads WRAM[0x0, 0x10) in both iterations; the load writes WRAM[0x10*t, +16):
    # [0, 16) in iteration 0 only. No sync: the compute of iteration 0 may read while the load
    # overwrites (WAR, 2 then 3) and the compute of iteration 1 may read before it (RAW, 3 then 2).
    text = ("loop 2 as t\n"
            "    compute ADD_32 4 NRAM[0x100], WRAM[0x0] -> NRAM[0x0]\n"
            "    move DRAM[0x0] WRAM[0x10*t] 16\n"
            "endloop\n")
    assert found(text) == {("WAR", "WRAM.0", 2, 3), ("RAW", "WRAM.0", 3, 2)}


def test_a_strided_waw_only_where_the_iterations_meet():
    # io writes NRAM[0x40*t, +64), the move queue NRAM[0x100 - 0x40*t, +64): they meet when
    # t + t' = 4. With three iterations (t, t' <= 2) only t = t' = 2, both at 0x80: WAW (2, 3).
    body = ("    move DRAM[0x0] NRAM[0x40*t] 64\n"
            "    move WRAM[0x0] NRAM[0x100 - 0x40*t] 64\n")
    assert found(f"loop 2 as t\nsync\n{body}endloop\n".replace("sync\n", "")) == set()
    assert found(f"loop 3 as t\n{body}endloop\n") == {("WAW", "NRAM.0", 2, 3)}


def test_cross_core_dram_tiles_meet_only_with_one_more_iteration():
    # Core 0 writes DRAM[0x1000 + 0x40*t, +64), core 1 DRAM[0x1100 + 0x40*t, +64), no barrier. With
    # four iterations core 0 ends at 0x1100, where core 1 starts: apart. With five, core 0's last
    # tile (t = 4) is core 1's first: WAW on DRAM between line 3 (core 0) and line 7 (core 1).
    def text(count):
        return (".machine dlp-m\n.core 0\n"
                f"loop {count} as t\n    move NRAM[0x0] DRAM[0x1000 + 0x40*t] 64\nendloop\n"
                f".core 1\nloop {count} as t\n    move NRAM[0x0] DRAM[0x1100 + 0x40*t] 64\nendloop\n")
    assert found(text(4), DLP_M) == set()
    assert found(text(5), DLP_M) == {("WAW", "DRAM", 4, 8)}


def test_strided_checking_is_bounded_and_says_by_how_much():
    # Racing hulls on NRAM force both loops to be unrolled: 3,000 x 1,000 iterations of 2
    # instructions is 6,000,000, above the budget. Refused at once, naming the outer loop (the
    # larger part) and the figures.
    text = ("loop 3000 as u\n"
            "    loop 1000 as t\n"
            "        move DRAM[0x0] NRAM[t + u] 1\n"
            "        compute ADD_32 1 NRAM[0x0], WRAM[0x0] -> WRAM[0x100]\n"
            "    endloop\n"
            "endloop\n")
    started = time.perf_counter()
    with pytest.raises(ProgramError, match=r"test.asm:1:1: .*would unroll 6,000,000 instructions "
                                           rf"\(at most {hazards_module.UNROLLED_BUDGET:,}\)"):
        found(text)
    assert time.perf_counter() - started < 5


def test_a_loop_whose_operands_never_meet_stays_a_loop():
    # Loads walk DRAM (read only) and a store writes a DRAM range of its own: no two hulls of
    # different queues meet on DRAM, so 10^9 iterations are proven at once, not unrolled.
    text = ("loop 1000000000 as t\n"
            "    move DRAM[4*t] NRAM[0x0] 64\n"
            "    sync\n"
            "    compute ADD_32 16 NRAM[0x0], WRAM[0x0] -> NRAM[0x40]\n"
            "    sync\n"
            "    move NRAM[0x40] DRAM[0x100000000] 64\n"
            "endloop\n")
    started = time.perf_counter()
    assert found(text) == set()
    assert time.perf_counter() - started < 1


def test_the_hazard_report_names_both_instructions():
    report = check_hazards(assemble(RACING, "bad.asm"), DLP_S)
    (hazard,) = report.hazards
    assert hazard.to_dict() == {
        "kind": "RAW", "memory": "NRAM.0", "region": [0, 1024], "lines": [1, 2], "cores": ["core0", "core0"],
        "earlier": {"core": "core0", "line": 1, "column": 1, "instruction": "move DRAM NRAM[0x0] 1024",
                    "queue": "io", "role": "destination", "writes": True},
        "later": {"core": "core0", "line": 2, "column": 1,
                  "instruction": "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]",
                  "queue": "compute", "role": "A", "writes": False}}


# -- what is checked --------------------------------------------------------------------------------

def test_operands_without_addresses_are_unchecked_never_guessed():
    # Both touch NRAM, but neither says where: no hazard, and both are counted unchecked.
    report = check_hazards(assemble("move DRAM NRAM 1024\ncompute MAC_32 256\n", "t.asm"), DLP_S)
    assert (report.hazards, report.checked, report.unchecked) == ((), 0, 2)
    # The load's NRAM has an address but DRAM has none: its NRAM write is still checked, the
    # instruction counts as unchecked. The compute names every operand: checked.
    report = check_hazards(assemble(RACING, "t.asm"), DLP_S)
    assert (len(report.hazards), report.checked, report.unchecked) == (1, 1, 1)
    # A destination without an address is never assumed to be where the compute reads.
    assert found("move DRAM NRAM 1024\ncompute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\n") == set()


def test_instructions_are_counted_once_per_line_when_issued():
    text = (".machine dlp-m\n.core all\n"
            "loop 1000\nmove DRAM[0x0] NRAM[0x0] 64\nendloop\n"   # issued: checked, once for 4 cores
            "loop 0\nmove DRAM NRAM 64\nendloop\n"                  # never issued: not counted
            "compute MAC_32 256\n"                                  # no operands: unchecked
            ".core mem\nmove DRAM[0x0] SharedRAM[0x0] 64\n")        # the memory core's move: checked
    report = check_hazards(assemble(text, "t.asm"), DLP_M)
    assert (report.checked, report.unchecked) == (2, 1)
    assert report.summary() == ("data hazards: none; 2 instructions checked, 1 unchecked "
                                "(operands without addresses)")


# -- across cores -----------------------------------------------------------------------------------

def test_cross_core_sharedram_conflict_in_the_same_epoch():
    # Core 0 writes SharedRAM[0, 0x400), core 1 reads it: different cores, no barrier between.
    text = (".machine dlp-m\n.core 0\nmove NRAM SharedRAM[0x0] 1024\n"
            ".core 1\nmove SharedRAM[0x0] NRAM 1024\n")
    assert found(text, DLP_M) == {("RAW", "SharedRAM", 3, 5)}
    (hazard,) = check_hazards(assemble(text, "t.asm"), DLP_M).hazards
    assert (hazard.earlier.core, hazard.later.core) == ("core0", "core1")


def test_cross_core_dram_conflict_and_per_core_memories():
    # Both cores store to DRAM[0x20, 0x40): a WAW on the chip's DRAM. Both load NRAM[0x0]:
    # each core has its own NRAM, so that is no conflict.
    text = (".machine dlp-m\n"
            ".core 0\nmove NRAM DRAM[0x0] 64\nmove DRAM NRAM[0x0] 64\n"
            ".core 1\nmove NRAM DRAM[0x20] 64\nmove DRAM NRAM[0x0] 64\n")
    report = check_hazards(assemble(text, "t.asm"), DLP_M)
    assert [(h.kind.value, h.instance, h.region, h.lines) for h in report.hazards] == [
        ("WAW", "DRAM", (0x20, 0x40), (3, 6))]


def test_no_cross_core_hazard_across_a_barrier():
    text = (".machine dlp-m\n.core 0\nmove NRAM SharedRAM[0x0] 1024\nbarrier\n"
            ".core 1\nbarrier\nmove SharedRAM[0x0] NRAM 1024\n")
    assert found(text, DLP_M) == set()


def test_memory_core_staging():
    # The memory core loads the input into SharedRAM; every core copies it after the barrier.
    staged = (".machine dlp-m\n"
              ".core mem\nmove DRAM SharedRAM[0x0] 32*1024\nbarrier\n"
              ".core all\nbarrier\nmove SharedRAM[0x0] NRAM[0x0] 32*1024\n")
    assert found(staged, DLP_M) == set()
    # Without the barrier each core may copy before the input arrives: RAW, the memory core
    # first in (core, line) order; the four cores repeat the same pair of lines, reported once.
    racing = staged.replace("barrier\n", "")
    report = check_hazards(assemble(racing, "t.asm"), DLP_M)
    assert [(h.kind.value, h.instance, h.lines, h.earlier.core, h.later.core) for h in report.hazards] == [
        ("RAW", "SharedRAM", (3, 5), "mem", "core0")]


def test_all_cores_writing_the_same_sharedram_line():
    text = ".machine dlp-m\n.core all\nmove NRAM SharedRAM[0x0] 64\n"
    report = check_hazards(assemble(text, "t.asm"), DLP_M)
    assert [(h.kind.value, h.lines, h.earlier.core, h.later.core) for h in report.hazards] == [
        ("WAW", (3, 3), "core0", "core1")]


@pytest.mark.parametrize("reader, expected", [
    # core 1's read in its loop's first epoch of each iteration: epochs 1 and 3; the write is in 1.
    ("loop 2\nbarrier\nmove SharedRAM[0x0] NRAM 64\nbarrier\nendloop\n", {("RAW", "SharedRAM", 4, 11)}),
    # after both barriers of an iteration: epochs 2 and 4, never with the write.
    ("loop 2\nbarrier\nbarrier\nmove SharedRAM[0x0] NRAM 64\nendloop\n", set()),
])
def test_loops_with_barriers_match_epochs_exactly(reader, expected):
    # Core 0 writes in epoch 1 (after its first barrier), then passes 3 more barriers.
    text = (".machine dlp-m\n.core 0\nbarrier\nmove NRAM SharedRAM[0x0] 64\nloop 3\nbarrier\nendloop\n"
            f".core 1\n{reader}")
    assert found(text, DLP_M) == expected


def test_millions_of_barrier_epochs_are_matched_by_period():
    # Core 0 writes SharedRAM in every even epoch, core 1 reads it in every third: both meet in
    # epochs 0, 6, 12, ...; core 1's write in the epoch after its read meets core 0's write in
    # epochs 4, 10, ... (WAW). 6,000,000 barriers each.
    text = (".machine dlp-m\n"
            ".core 0\nloop 3000000\nmove NRAM SharedRAM[0x0] 64\nbarrier\nbarrier\nendloop\n"
            ".core 1\nloop 2000000\nmove SharedRAM[0x0] NRAM 64\nbarrier\n"
            "move NRAM SharedRAM[0x20] 64\nbarrier\nbarrier\nendloop\n")
    start = time.perf_counter()
    assert found(text, DLP_M) == {("RAW", "SharedRAM", 4, 10), ("WAW", "SharedRAM", 4, 12)}
    assert time.perf_counter() - start < 5


# -- the command line ---------------------------------------------------------------------------------

def test_a_hazard_is_an_error_with_a_note_at_the_other_line(tmp_path):
    program = tmp_path / "bad.asm"
    program.write_text(RACING)
    result = CliRunner().invoke(main, ["run", str(program)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{program}:2:1: error: RAW hazard on NRAM[0x0:0x400): line 2 (compute queue, reads operand A) may "
        "run while line 1 (io queue, writes its destination) is in flight; nothing orders them: different "
        "queues, no sync or barrier between",
        f"{program}:1:1: note: line 1 writes NRAM[0x0:0x400) here: move DRAM NRAM[0x0] 1024",
        f"{program}: note: 1 data hazard; --allow-hazards runs the program anyway",
    ]


def test_report_refuses_hazards_too(tmp_path):
    program = tmp_path / "bad.asm"
    program.write_text(RACING)
    result = CliRunner().invoke(main, ["report", str(program), "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 2 and "RAW hazard" in result.stderr
    output = str(tmp_path / "r.md")
    result = CliRunner().invoke(main, ["report", str(program), "-o", output, "--allow-hazards"])
    assert result.exit_code == 0, result.output


def test_allow_hazards_runs_and_reports_them(tmp_path):
    program = tmp_path / "bad.asm"
    program.write_text(RACING)
    result = CliRunner().invoke(main, ["run", str(program), "--allow-hazards"])
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "\ndata hazards: 1 (1 RAW); 1 instruction checked, 1 unchecked (operands without addresses)\n"
        "  RAW hazard on NRAM[0x0:0x400): line 2 (compute queue, reads operand A) may run while line 1 "
        "(io queue, writes its destination) is in flight; nothing orders them: different queues, no sync "
        "or barrier between\n")
    result = CliRunner().invoke(main, ["run", str(program), "--allow-hazards", "--json"])
    results = json.loads(result.stdout)
    assert list(results)[-3:] == ["hazards", "instructions_checked", "instructions_unchecked"]
    assert list(results)[0] == "format"  # the existing keys come first, unchanged
    (hazard,) = results["hazards"]
    assert {key: hazard[key] for key in ("kind", "memory", "lines", "cores")} == {
        "kind": "RAW", "memory": "NRAM.0", "lines": [1, 2], "cores": ["core0", "core0"]}
    assert (results["instructions_checked"], results["instructions_unchecked"]) == (1, 1)


def test_json_carries_an_empty_hazard_list(tmp_path):
    program = tmp_path / "good.asm"
    program.write_text(RACING.replace("\ncompute", "\nsync\ncompute"))
    results = json.loads(CliRunner().invoke(main, ["run", str(program), "--json"]).stdout)
    assert results["hazards"] == []
    assert (results["instructions_checked"], results["instructions_unchecked"]) == (1, 1)


def test_the_printed_list_is_capped_with_the_count(tmp_path):
    # One compute reads NRAM[0, 16); twelve loads overwrite it from the io queue: 12 WAR pairs.
    loads = 12
    program = tmp_path / "many.asm"
    program.write_text("compute ADD_32 4 NRAM[0x0], WRAM[0x0] -> NRAM[0x1000]\n"
                       + "move DRAM[0x0] NRAM[0x0] 16\n" * loads)
    result = CliRunner().invoke(main, ["run", str(program)])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2
    assert len(lines) == 2 * PRINTED_HAZARDS + 1
    assert [line.split(": ")[1] for line in lines[:-1]] == ["error", "note"] * PRINTED_HAZARDS
    assert lines[0].startswith(f"{program}:2:1: error: WAR hazard on NRAM[0x0:0x10): line 2 (io queue")
    assert lines[-1] == (f"{program}: note: 12 data hazards, the first 10 shown; --allow-hazards runs the "
                         "program anyway")
    result = CliRunner().invoke(main, ["run", str(program), "--allow-hazards"])
    summary = result.stdout.split("\ndata hazards: ")[1].splitlines()
    assert summary[0] == "12 (12 WAR); 13 instructions checked, 0 unchecked"
    assert len(summary) == 1 + PRINTED_HAZARDS + 1
    assert summary[-1] == "  ... and 2 more (--json lists them all)"
    results = json.loads(CliRunner().invoke(main, ["run", str(program), "--allow-hazards", "--json"]).stdout)
    assert sorted(tuple(h["lines"]) for h in results["hazards"]) == [(1, n) for n in range(2, 2 + loads)]


def test_net_run_does_not_check_compiled_programs():
    result = CliRunner().invoke(main, ["net", "run", "textbook-fc", "--json"])
    assert result.exit_code == 0, result.output


# -- the program: exercise 7.9 double-buffered, with addresses --------------------------------

EX7_9_OVERLAP = """\
.machine dlp-s
move DRAM WRAM[0x0] 256*128*4                                       ; weights W
move DRAM NRAM[0x0] 32*256*4                                        ; input tile 0 -> IN0
sync
move DRAM NRAM[0x8000] 32*256*4                                     ; tile 1 -> IN1
compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]     ; tile 0: IN0 x W -> OUT0
sync
loop 15
    move DRAM NRAM[0x0] 32*256*4                                    ; tile t+1 -> IN0
    move NRAM[0x10000] DRAM[0x0] 32*128*4                           ; output t-1 <- OUT0
    compute MAC_32 32x256x128 NRAM[0x8000], WRAM[0x0] -> NRAM[0x14000]  ; tile t: IN1 x W -> OUT1
    sync
    move DRAM NRAM[0x8000] 32*256*4                                 ; tile t+2 -> IN1
    move NRAM[0x14000] DRAM[0x4000] 32*128*4                        ; output t <- OUT1
    compute MAC_32 32x256x128 NRAM[0x0], WRAM[0x0] -> NRAM[0x10000]    ; tile t+1: IN0 x W -> OUT0
    sync
endloop
move NRAM[0x10000] DRAM[0x0] 32*128*4                               ; the last output
sync
"""


def test_the_double_buffered_program_is_hazard_free():
    # Each step's loads and stores touch the buffers its compute does not: IN0/OUT0 while the
    # compute uses IN1/OUT1 and the reverse; the sync closes every step.
    assert found(EX7_9_OVERLAP) == set()


def test_deleting_every_sync_but_the_last_is_refused_naming_the_racing_lines(tmp_path):
    lines = EX7_9_OVERLAP.splitlines()
    last_sync = max(i for i, line in enumerate(lines) if line.strip() == "sync")
    # Keep the line numbers: the deleted syncs become comments.
    text = "\n".join("; sync deleted" if line.strip() == "sync" and i != last_sync else line
                     for i, line in enumerate(lines)) + "\n"
    hazards = found(text)
    # Line 6 computes tile 0 while the weights (line 2) and tile 0 (line 3) may still be loading,
    # and the loop's load into IN0 (line 9) may overwrite tile 0 before line 6 has read it.
    assert {("RAW", "WRAM.0", 2, 6), ("RAW", "NRAM.0", 3, 6), ("WAR", "NRAM.0", 6, 9)} <= hazards
    # In the loop without syncs the store of OUT1 (line 14) races the compute writing it (line 11).
    assert ("RAW", "NRAM.0", 11, 14) in hazards and ("WAR", "NRAM.0", 14, 11) in hazards
    program = tmp_path / "ex7_9_overlap_nosync.asm"
    program.write_text(text)
    result = CliRunner().invoke(main, ["run", str(program)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{program}:6:1: error: RAW hazard on WRAM[0x0:0x20000): line 6 "
                                    "(compute queue, reads operand B) may run while line 2 (io queue, writes "
                                    "its destination) is in flight")
    assert result.stderr.splitlines()[1].startswith(f"{program}:2:1: note: line 2 writes WRAM[0x0:0x20000)")


def test_hazard_error_recreates_from_its_args():
    report = check_hazards(assemble(RACING, "bad.asm"), DLP_S)
    error = HazardError(report)
    assert isinstance(error, ProgramError)
    assert str(type(error)(*error.args)) == str(error)


# -- the property: the shortcuts agree with brute-force expansion -------------------------------------

def _queue(instruction) -> str:
    if isinstance(instruction, Compute):
        return "compute"
    return "io" if Memory.DRAM in (instruction.source.memory, instruction.destination.memory) else "move"


def _unrolled(statements, values=None) -> list:
    """Every loop expanded into a list, with none of the stream's shortcuts: the naive reading,
    each operand at its address in the iteration (its offset plus stride x index)."""
    values = values or {}
    result = []
    for statement in statements:
        if isinstance(statement, Loop):
            for iteration in range(statement.count):
                inner = values if statement.index is None else {**values, statement.index: iteration}
                result += _unrolled(statement.body, inner)
        else:
            result.append(_at(statement, values))
    return result


def _at(instruction, values):
    """The instruction with every operand moved by its strides, written out here (not through
    the checker's own resolution) so that the brute force stays independent."""
    def moved(operand):
        if not operand.strides:
            return operand
        shift = sum(stride * values[name] for name, stride in operand.strides)
        return dataclasses.replace(operand, offset=operand.offset + shift, strides=(),
                                   end=None if operand.end is None else operand.end + shift)

    if isinstance(instruction, Move):
        return dataclasses.replace(instruction, source=moved(instruction.source),
                                   destination=moved(instruction.destination))
    if isinstance(instruction, Compute) and instruction.operands is not None:
        operands = instruction.operands
        return dataclasses.replace(instruction, operands=dataclasses.replace(
            operands, a=moved(operands.a), b=moved(operands.b), c=moved(operands.c)))
    return instruction


def brute_force(program, machine) -> set[tuple]:
    """Every hazard by the contract's rules, every loop expanded, every pair of dynamic
    instructions compared: (kind, instance, (core, line) earlier, (core, line) later)."""
    dynamic = {}
    for core, stream in bind(program, machine).items():
        entries, segment, epoch = [], 0, 0
        for instruction in _unrolled(stream):
            if isinstance(instruction, Sync):
                segment += 1
            elif isinstance(instruction, Barrier):
                segment, epoch = segment + 1, epoch + 1
            else:
                regions = []
                for access in accesses(instruction):
                    if access.region is not None:
                        memory = access.operand.memory
                        instance = (f"{memory.value}.{core.index}" if memory in (Memory.NRAM, Memory.WRAM)
                                    else memory.value)
                        regions.append((instance, *access.region, access.writes))
                entries.append((instruction, _queue(instruction), segment, epoch, regions))
        dynamic[core] = entries

    def conflicts(first, second):
        for instance, start, end, writes in first[4]:
            for other_instance, other_start, other_end, other_writes in second[4]:
                overlap = instance == other_instance and start < other_end and other_start < end
                if overlap and (writes or other_writes):
                    kind = "WAW" if writes and other_writes else ("RAW" if writes else "WAR")
                    yield kind, instance

    hazards = set()
    for core, entries in dynamic.items():
        for first, second in combinations(entries, 2):  # first is earlier in the stream
            if first[1] != second[1] and first[2] == second[2]:
                for kind, instance in conflicts(first, second):
                    hazards.add((kind, instance, (core, first[0].location.line),
                                 (core, second[0].location.line)))
    for core, other in combinations(sorted(dynamic), 2):  # (core, line) order: the memory core first
        for first in dynamic[core]:
            for second in dynamic[other]:
                if first[3] == second[3]:
                    for kind, instance in conflicts(first, second):
                        if not instance.startswith(("NRAM", "WRAM")):
                            hazards.add((kind, instance, (core, first[0].location.line),
                                         (other, second[0].location.line)))
    return hazards


def _lines_key(kind, first_line, second_line):
    return kind, *sorted((first_line, second_line))


OFFSETS = (0, 16, 32, 48)


# Bytes per iteration an operand may move by: a stride of 16 or 32 makes iterations of a loop
# meet the regions of other iterations, and of other instructions, at various distances.
STRIDES = (16, 32, -16)


@st.composite
def _operand(draw, memory: str, size: int, indices: tuple[str, ...] = ()) -> str:
    form = draw(st.sampled_from(["offset", "offset", "offset", "range", "none"]))
    offset = draw(st.sampled_from(OFFSETS))
    if form == "none":
        return memory
    moving = ""
    for index in indices:
        if draw(st.integers(0, 2)) == 0:
            stride = draw(st.sampled_from(STRIDES))
            moving += f" {'-' if stride < 0 else '+'} {abs(stride)}*{index}"
            if stride < 0:
                offset += 0x40  # room to move down over a few iterations
    start = f"{offset:#x}{moving}"
    return f"{memory}[{start}]" if form == "offset" else f"{memory}[{start}:{offset + size:#x}{moving}]"


@st.composite
def _instruction(draw, memory_core: bool, shared: bool, indices: tuple[str, ...] = ()) -> str:
    size = draw(st.sampled_from([16, 32]))

    def operand(memory, size):
        return draw(_operand(memory, size, indices))

    if memory_core:
        source, destination = draw(st.permutations(["DRAM", "SharedRAM"]))
        return f"move {operand(source, size)} {operand(destination, size)} {size}"
    if draw(st.booleans()):
        memories = ["DRAM", "NRAM", "WRAM"] + (["SharedRAM"] if shared else [])
        source, destination = draw(st.permutations(memories))[:2]
        return f"move {operand(source, size)} {operand(destination, size)} {size}"
    if draw(st.integers(0, 5)) == 0:
        return "compute MAC_32 8"  # no operands: unchecked
    if draw(st.booleans()):
        head, width = "compute MAC_32 2x2x2", 16  # A, B and C: 4 elements of 4 bytes each
    else:
        head, width = f"compute ADD_32 {size // 4}", size
    a, b, c = (draw(st.sampled_from(["NRAM", "WRAM"])) for _ in range(3))
    arrow = draw(st.sampled_from(["->", "->", "+>"]))
    return f"{head} {operand(a, width)}, {operand(b, width)} {arrow} {operand(c, width)}"


@st.composite
def _body(draw, depth: int, memory_core: bool, shared: bool, barriers: bool,
          indices: tuple[str, ...] = ()) -> list:
    """A tree: instruction text, "sync", "barrier", or (count, index name or None, body)."""
    items = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["instruction", "instruction", "instruction", "sync", "barrier", "loop"]))
        if kind == "loop" and depth < 3:
            index = f"t{depth}" if draw(st.integers(0, 2)) else None
            inner = indices + ((index,) if index else ())
            items.append((draw(st.integers(0, 4)), index,
                          draw(_body(depth + 1, memory_core, shared, barriers, inner))))
        elif kind == "barrier" and barriers:
            items.append("barrier")
        elif kind == "sync":
            items.append("sync")
        else:
            items.append(draw(_instruction(memory_core, shared, indices)))
    return items


def _barriers(items) -> int:
    return sum(item[0] * _barriers(item[2]) if isinstance(item, tuple) else item == "barrier"
               for item in items)


def _text(items) -> list[str]:
    lines = []
    for item in items:
        if isinstance(item, tuple):
            count, index, body = item
            lines += [f"loop {count}" + (f" as {index}" if index else ""), *_text(body), "endloop"]
        else:
            lines.append(item)
    return lines


@st.composite
def addressed_programs(draw) -> tuple[str, list[str]]:
    """A small program whose operands mostly have addresses in a few overlapping regions, and
    the machine overrides it runs under: dlp-s, or dlp-m with 1-3 compute cores and maybe the
    memory core, their barrier counts made equal by barriers at the end."""
    if draw(st.booleans()):
        return "\n".join(_text(draw(_body(0, False, False, True)))) + "\n", ["dlp-s"]
    cores = draw(st.integers(1, 3))
    layout = draw(st.sampled_from(["each", "all"]))
    selectors = [str(i) for i in range(cores)] if layout == "each" else ["all"]
    if draw(st.booleans()):
        selectors.append("mem")
    bodies = {selector: draw(_body(0, selector == "mem", True, True)) for selector in selectors}
    most = max(_barriers(body) for body in bodies.values())
    lines = [".machine dlp-m"]
    for selector, body in bodies.items():
        lines += [f".core {selector}", *_text(body), *["barrier"] * (most - _barriers(body))]
    return "\n".join(lines) + "\n", ["dlp-m", f"core.count={cores}"]


@pytest.mark.parametrize("few_items", [hazards_module._FEW_ITEMS, 0], ids=["as-is", "always-sweep"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                   HealthCheck.too_slow])
@given(case=addressed_programs())
def test_the_checker_agrees_with_brute_force_expansion(case, few_items):
    """Also with the address sweep used for every segment, however few accesses it has (the
    random programs rarely have enough to reach it otherwise)."""
    text, (preset, *overrides) = case
    machine = load_machine(preset, None, overrides)
    try:
        program = assemble(text, "random.asm")
        bind(program, machine)
    except ProgramError:
        assume(False)  # a compute's result over its own input, an operand moved past a memory's end
    expected = brute_force(program, machine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hazards_module, "_FEW_ITEMS", few_items)
        report = check_hazards(program, machine)
    # One hazard per kind and pair of lines, each a real one.
    assert {_lines_key(h.kind.value, *h.lines) for h in report.hazards} == {
        _lines_key(kind, first[1], second[1]) for kind, _, first, second in expected}, text
    cores = {core.name: core for core in bind(program, machine)}
    for h in report.hazards:
        assert (h.kind.value, h.instance, (cores[h.earlier.core], h.lines[0]),
                (cores[h.later.core], h.lines[1])) in expected, (h, text)


# -- a run with --allow-hazards marks both sides of each race in the trace and the timeline ------


def test_trace_and_timeline_mark_both_instructions_of_each_hazard(tmp_path):
    from dlpsim.analysis.timeline import MARKED_RUNS, build_timeline
    from dlpsim.sim import Recorder, simulate

    program = tmp_path / "race.asm"
    program.write_text(RACING, encoding="utf-8")
    trace = tmp_path / "race.json"
    result = CliRunner().invoke(main, ["run", str(program), "--allow-hazards", "--trace", str(trace),
                                       "--timeline", str(tmp_path / "race.png")])
    assert result.exit_code == 0, result.output
    events = [event for event in json.loads(trace.read_text())["traceEvents"] if event["ph"] == "X"]
    marked = {event["args"]["line"]: event["args"]["hazards"] for event in events
              if "hazards" in event["args"]}
    # RACING: line 1 (io queue) writes NRAM[0x0:0x400) while line 2 (compute queue) reads it
    assert marked == {1: ["RAW hazard on NRAM[0x0:0x400) with line 2"],
                      2: ["RAW hazard on NRAM[0x0:0x400) with line 1"]}
    assert all(event["cname"] == "terrible" for event in events if "hazards" in event["args"])
    assert all("cname" not in event for event in events if "hazards" not in event["args"])

    parsed = assemble(RACING, str(program))
    report = check_hazards(parsed, DLP_S)
    recorder = Recorder()
    stats = simulate(parsed, DLP_S, recorder)
    timeline = build_timeline(recorder, stats, marks=report.marks())
    lanes = {timeline.lanes[lane].name for lane, _, _ in timeline.marked}
    assert lanes == {"io", "compute"}  # both sides visible, each on its own queue's lane
    assert len(timeline.marked) == 2 <= 2 * MARKED_RUNS
    clean = build_timeline(recorder, stats)
    assert clean.marked == ()


def test_the_report_of_a_racing_program_lists_and_outlines_its_hazards(tmp_path):
    program = tmp_path / "race.asm"
    program.write_text(RACING, encoding="utf-8")
    out = tmp_path / "race.md"
    refused = CliRunner().invoke(main, ["report", str(program), "-o", str(out)])
    assert refused.exit_code == 2 and not out.exists()
    made = CliRunner().invoke(main, ["report", str(program), "--allow-hazards", "-o", str(out)])
    assert made.exit_code == 0, made.output
    text = out.read_text(encoding="utf-8")
    assert "## Data hazards" in text and "**The program races**" in text
    assert "| RAW | NRAM[0x0:0x400) | 2 | 1 |" in text
