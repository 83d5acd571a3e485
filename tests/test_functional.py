"""Functional execution (issue 12): programs compute values, and the values are the hand-derived ones.

Every expected value below is worked out by hand in the test (small integer matrices and
vectors), or is numpy's own x @ W for a shipped exercise; none is copied from dlpsim's output.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpsim.asm import MEMORY_CORE, Barrier, Compute, CoreId, Move, Sync, assemble, expand
from dlpsim.cli import main
from dlpsim.data import check_hazards
from dlpsim.data.functional import (
    PAGE_BYTES,
    Executor,
    FunctionalError,
    FunctionalHazardError,
    FunctionalLimits,
    FunctionalProgram,
    FunctionalRun,
    Memories,
    PageBudget,
    epoch_order,
)
from dlpsim.errors import RunLimitError, UserError
from dlpsim.machine import load_machine
from dlpsim.sim.check import bind
from dlpsim.sim.control import queue_kind

ROOT = Path(__file__).resolve().parent.parent
DLP_S = load_machine("dlp-s")
DLP_M = load_machine("dlp-m")
F32 = np.float32


def execute(text: str, machine=DLP_S, fill=None, seed=None) -> Memories:
    """Run ``text`` functionally; ``fill(memories)`` places data first."""
    program = assemble(text, "t.asm")
    accepted = FunctionalProgram.prepare(program, machine)
    memories = Memories(machine, seed)
    if fill is not None:
        fill(memories)
    accepted.execute(memories)
    return memories


def dram(memories: Memories, offset: int, count: int, dtype=F32) -> np.ndarray:
    return memories.dram.read(offset, count * np.dtype(dtype).itemsize).view(dtype).copy()


def put(memories: Memories, offset: int, values, dtype=F32) -> None:
    memories.dram.write(offset, np.asarray(values, dtype))


# -- semantics, one instruction kind at a time ------------------------------------------------

def test_a_move_copies_bytes_through_nram_and_back():
    memories = execute("""
        move DRAM[0x100] NRAM[0x40] 8
        sync
        move NRAM[0x40] DRAM[0x1000] 8
        sync
    """, fill=lambda m: m.dram.write(0x100, np.arange(1, 9, dtype=np.uint8)))
    assert list(memories.dram.read(0x1000, 8)) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert not memories.dram.read(0x1008, 8).any()  # nothing beyond the 8 bytes


def test_operands_that_move_with_loop_indices_touch_each_iterations_bytes():
    # Iteration (t, u) copies the 4 floats at DRAM[0x40*t + 0x10*u] (chunk 4*t + u) to the same
    # place in NRAM: the 16 chunks bring floats 0..63 in order. Each chunk k is doubled in place and
    # stored to DRAM[0x10F0 - 0x10*k]: chunk 15 lands at 0x1000, chunk 0 at 0x10F0.
    memories = execute("""
        loop 4 as t
            loop 4 as u
                move DRAM[0x40*t + 0x10*u] NRAM[0x40*t + 0x10*u] 16
            endloop
        endloop
        sync
        loop 16 as k
            compute ADD_32 4 NRAM[0x10*k], NRAM[0x10*k] -> NRAM[0x10*k]
        endloop
        sync
        loop 16 as k
            move NRAM[0x10*k] DRAM[0x10F0 - 0x10*k] 16
        endloop
        sync
    """, fill=lambda m: put(m, 0, np.arange(64)))
    chunks = (2 * np.arange(64, dtype=F32)).reshape(16, 4)
    assert (dram(memories, 0x1000, 64) == chunks[::-1].reshape(64)).all()


def load_compute_store(a_bytes: int, b_bytes: int, compute: str, c_bytes: int) -> str:
    """A from DRAM[0x0] to NRAM[0x0], B from DRAM[0x100] to WRAM[0x0]; ``compute`` writes
    NRAM[0x100], which goes to DRAM[0x200]; a sync between each step."""
    return (f"move DRAM[0x0] NRAM[0x0] {a_bytes}\nmove DRAM[0x100] WRAM[0x0] {b_bytes}\nsync\n"
            f"{compute}\nsync\nmove NRAM[0x100] DRAM[0x200] {c_bytes}\nsync\n")


MAC_2x3x2 = load_compute_store(24, 24, "compute MAC_32 2x3x2 NRAM[0x0], WRAM[0x0] -> NRAM[0x100]", 16)


def _mac_inputs(memories):
    put(memories, 0x0, [[1, 2, 3], [4, 5, 6]])  # A, 2x3
    put(memories, 0x100, [[1, 0], [0, 1], [2, -1]])  # B, 3x2


def test_a_mac_shape_multiplies_row_major_matrices():
    # C = A x B: row 0 = [1*1 + 2*0 + 3*2, 1*0 + 2*1 + 3*(-1)] = [7, -1];
    #            row 1 = [4 + 0 + 12, 0 + 5 - 6] = [16, -1]
    memories = execute(MAC_2x3x2, fill=_mac_inputs)
    assert dram(memories, 0x200, 4).tolist() == [7, -1, 16, -1]


def test_the_accumulating_form_adds_into_c():
    # The second MAC adds A x B = [[7, -1], [16, -1]] to C, which already holds it: twice that.
    mac = "compute MAC_32 2x3x2 NRAM[0x0], WRAM[0x0]"
    text = load_compute_store(24, 24, f"{mac} -> NRAM[0x100]\nsync\n{mac} +> NRAM[0x100]", 16)
    memories = execute(text, fill=_mac_inputs)
    assert dram(memories, 0x200, 4).tolist() == [14, -2, 32, -2]


def test_an_explicit_range_holds_its_matrix_from_its_start():
    # B given as WRAM[0x0:0x40] (64 B, more than its 24): read row-major from 0x0, as above.
    text = MAC_2x3x2.replace("WRAM[0x0] -> NRAM[0x100]", "WRAM[0x0:0x40] -> NRAM[0x100:0x110]")
    memories = execute(text, fill=_mac_inputs)
    assert dram(memories, 0x200, 4).tolist() == [7, -1, 16, -1]


def vector(op: str, bits: int) -> str:
    """``compute OP_bits 4`` on 4 elements of A and B."""
    size = 4 * bits // 8
    return load_compute_store(size, size, f"compute {op}_{bits} 4 NRAM[0x0], WRAM[0x0] -> NRAM[0x100]", size)


@pytest.mark.parametrize("op, expected", [
    ("ADD", [1 + 4, 2 + 3, 3 + 2, 4 + 1]),
    ("SUB", [1 - 4, 2 - 3, 3 - 2, 4 - 1]),
    ("MUL", [1 * 4, 2 * 3, 3 * 2, 4 * 1]),
    ("DIV", [1 / 4, 2 / 3, 3 / 2, 4 / 1]),
])
@pytest.mark.parametrize("bits", [32, 16])
def test_each_vector_type_acts_elementwise(op, expected, bits):
    dtype = F32 if bits == 32 else np.float16
    memories = execute(vector(op, bits),
                       fill=lambda m: (put(m, 0x0, [1, 2, 3, 4], dtype), put(m, 0x100, [4, 3, 2, 1], dtype)))
    # each result rounded once to the type (2/3 is the only one that is not exact)
    assert dram(memories, 0x200, 4, dtype).tolist() == np.array(expected, dtype).tolist()


def test_vector_ops_work_in_place_and_accumulate():
    memories = execute("""
        move DRAM[0x0] NRAM[0x0] 16
        sync
        compute MUL_32 4 NRAM[0x0], NRAM[0x0] -> NRAM[0x0]
        sync
        compute ADD_32 4 NRAM[0x0], NRAM[0x0] +> NRAM[0x0]
        sync
        move NRAM[0x0] DRAM[0x100] 16
        sync
    """, fill=lambda m: put(m, 0x0, [1, 2, 3, -4]))
    # x*x = [1, 4, 9, 16]; then C += C + C: three times that
    assert dram(memories, 0x100, 4).tolist() == [3, 12, 27, 48]


def test_mac_16_accumulates_in_float32_and_rounds_once():
    # A = [1, 2^-11, 2^-11], B = [1, 1, 1]: the float32 sum 1 + 2^-10 is a half value; summing in
    # half would round 1 + 2^-11 to 1 (ties to even) twice and give 1.
    def inputs(m):
        put(m, 0x0, [1, 2**-11, 2**-11], np.float16)
        put(m, 0x100, [1, 1, 1], np.float16)

    mac = "compute MAC_16 1x3x1 NRAM[0x0], WRAM[0x0] -> NRAM[0x100]"
    memories = execute(load_compute_store(6, 6, mac, 2), fill=inputs)
    assert dram(memories, 0x200, 1, np.float16).tolist() == [1 + 2**-10]


def test_division_by_zero_is_ieee_not_an_error():
    memories = execute(vector("DIV", 32),
                       fill=lambda m: (put(m, 0x0, [1, -1, 0, 2]), put(m, 0x100, [0, 0, 0, 1])))
    result = dram(memories, 0x200, 4)
    assert result[0] == np.inf and result[1] == -np.inf and np.isnan(result[2]) and result[3] == 2


# -- several cores: barrier epochs, SharedRAM, the memory core --------------------------------

MULTI_CORE = """
.machine dlp-m
.core mem
move DRAM[0x0] SharedRAM[0x0] 16            ; epoch 0: stage x = [1, 2, 3, 4]
barrier
barrier
move SharedRAM[0x100] DRAM[0x1000] 16       ; epoch 2: core 3's result, out to DRAM
.core all
barrier
move SharedRAM[0x0] NRAM[0x0] 16            ; epoch 1: every core copies x
sync
compute ADD_32 4 NRAM[0x0], NRAM[0x0] -> NRAM[0x40]   ; x + x
sync
.core 0
move NRAM[0x40] DRAM[0x2000] 16
.core 1
move NRAM[0x40] DRAM[0x3000] 16
.core 2
move NRAM[0x40] DRAM[0x3010] 16
.core 3
move NRAM[0x40] SharedRAM[0x100] 16
.core all
barrier
"""


def test_cores_exchange_data_through_sharedram_in_barrier_epochs():
    memories = execute(MULTI_CORE, DLP_M, fill=lambda m: put(m, 0x0, [1, 2, 3, 4]))
    doubled = [2, 4, 6, 8]
    # cores 0, 1 and 2 store their own copies; core 3's goes through the SharedRAM, and the
    # memory core brings it to DRAM after the second barrier
    assert dram(memories, 0x2000, 4).tolist() == doubled
    assert dram(memories, 0x3000, 8).tolist() == doubled * 2
    assert dram(memories, 0x1000, 4).tolist() == doubled


def test_epochs_order_a_higher_core_before_a_lower_one():
    # Core 2 writes the SharedRAM in epoch 0, core 0 reads it in epoch 1: executing core by core
    # (all of core 0, then core 2) would read zeros.
    memories = execute("""
        .machine dlp-m
        .core 2
        move DRAM[0x0] SharedRAM[0x0] 8
        barrier
        .core 0
        barrier
        move SharedRAM[0x0] DRAM[0x100] 8
    """, DLP_M, fill=lambda m: m.dram.write(0, np.arange(10, 18, dtype=np.uint8)))
    assert list(memories.dram.read(0x100, 8)) == list(range(10, 18))


def test_per_core_memories_are_separate():
    memories = execute("""
        .machine dlp-m
        .core 0
        move DRAM[0x0] NRAM[0x0] 4
        .core 1
        move DRAM[0x4] NRAM[0x0] 4
        .core all
        sync
        .core 0
        move NRAM[0x0] DRAM[0x100] 4
        .core 1
        move NRAM[0x0] DRAM[0x104] 4
    """, DLP_M, fill=lambda m: put(m, 0, [5, 6]))
    assert dram(memories, 0x100, 2).tolist() == [5, 6]
    assert memories.nram[2].pages == {} and memories.nram[3].pages == {}


# -- the shipped exercises compute y = x . W -------------------------------------------------

TOLERANCE = dict(rtol=1e-5, atol=1e-4)  # float32, K = 256: sums of 256 products of N(0, 1) values


def _run(args):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False, env={"COLUMNS": "120"})


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_exercise_7_8_computes_x_times_w(in_tmp):
    rng = np.random.default_rng(78)
    x = rng.standard_normal((32, 256), dtype=F32)
    w = rng.standard_normal((256, 128), dtype=F32)
    np.save("x.npy", x)
    np.save("w.npy", w)
    # the layout in ex7_8.asm's header: x at 0x0, W at 0x8000, y at 0x28000 (all row-major)
    result = _run([str(ROOT / "programs/ex7_8.asm"), "--load", "DRAM[0x0]=x.npy",
                   "--load", "DRAM[0x8000]=w.npy", "--dump", "DRAM[0x28000]:32x128:float32=y.npy"])
    assert result.exit_code == 0, result.output
    assert "cycles          6912" in result.output  # timing unchanged
    assert ("functional: 4 instructions executed on 1 core (DRAM zeroed); loaded x.npy, w.npy; dumped "
            "y.npy (DRAM[0x28000] 32x128 float32)") in result.output
    np.testing.assert_allclose(np.load("y.npy"), x @ w, **TOLERANCE)


def test_exercise_7_11_on_four_cores_computes_x_times_w(in_tmp):
    # ex7_11.asm: the memory core stages x in SharedRAM; core i loads W's column slice i
    # (256x32, at 0x8000 + 0x8000 i) and writes y's columns 32i..32i+31 (32x32, at 0x28000 + 0x1000 i)
    rng = np.random.default_rng(711)
    x = rng.standard_normal((32, 256), dtype=F32)
    w = rng.standard_normal((256, 128), dtype=F32)
    np.save("x.npy", x)
    args = [str(ROOT / "programs/ex7_11.asm"), "--json", "--load", "DRAM[0x0]=x.npy"]
    for i in range(4):
        np.save(f"w{i}.npy", w[:, 32 * i:32 * i + 32])
        args += ["--load", f"DRAM[{0x8000 + 0x8000 * i:#x}]=w{i}.npy",
                 "--dump", f"DRAM[{0x28000 + 0x1000 * i:#x}]:32x32:float32=y{i}.npy"]
    result = _run(args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["cycles"] == 2432
    functional = report["functional"]
    # the memory core's move, and per core: weights, input copy, MAC, store
    assert functional["instructions"] == 1 + 4 * 4 and functional["cores"] == 5
    for dumped in functional["dumps"]:
        assert dumped["sha256"] == hashlib.sha256(Path(dumped["file"]).read_bytes()).hexdigest()
    assert [load["file"] for load in functional["loads"]] == ["x.npy"] + [f"w{i}.npy" for i in range(4)]
    for loaded in functional["loads"]:
        assert loaded["sha256"] == hashlib.sha256(Path(loaded["file"]).read_bytes()).hexdigest()
    y = np.hstack([np.load(f"y{i}.npy") for i in range(4)])
    np.testing.assert_allclose(y, x @ w, **TOLERANCE)


def test_loads_reach_a_cores_nram_and_the_sharedram(in_tmp):
    np.save("a.npy", np.array([1, 2, 3, 4], F32))
    np.save("b.npy", np.array([10, 20, 30, 40], F32))
    program = in_tmp / "p.asm"
    program.write_text(".machine dlp-m\n.core 2\ncompute ADD_32 4 NRAM[0x0], NRAM[0x10] -> NRAM[0x20]\n"
                       "sync\nmove NRAM[0x20] SharedRAM[0x40] 16\n")
    result = _run([str(program), "--load", "NRAM.2[0x0]=a.npy", "--load", "nram.2[0x10]=b.npy",
                   "--dump", "SRAM[0x40]:2x2:float32=c.npy", "--dump", "NRAM.1[0x20]:4:float32=z.npy"])
    assert result.exit_code == 0, result.output
    assert np.load("c.npy").tolist() == [[11, 22], [33, 44]]
    assert np.load("z.npy").tolist() == [0, 0, 0, 0]  # core 1's NRAM was never written


# -- refusals ---------------------------------------------------------------------------------

def test_a_hazard_is_refused_even_with_allow_hazards(in_tmp):
    program = in_tmp / "race.asm"
    program.write_text("move DRAM[0x0] NRAM[0x0] 1024\n"
                       "compute ADD_32 256 NRAM[0x0], WRAM[0x0] -> NRAM[0x400]\nsync\n")
    for extra in ([], ["--allow-hazards"]):
        result = _run([str(program), "--functional", *extra])
        assert result.exit_code == 2
        assert f"{program}:2:1: error: RAW hazard on NRAM[0x0:0x400)" in result.output
        assert "--functional needs a hazard-free program" in result.output
    # and the same program is refused by a plain run too (the hazard check of issue 11)
    assert _run([str(program)]).exit_code == 2


@pytest.mark.parametrize("line, column, why", [
    ("compute MAC_32 256", 1, "it names no operands"),
    ("compute ADD_32 4 NRAM, WRAM[0x0] -> NRAM[0x40]", 18, "operand A NRAM has no address"),
    ("move DRAM NRAM[0x0] 64", 6, "its source DRAM has no address"),
    ("compute MAC_32 256 NRAM[0x0:0x400], WRAM[0x0:0x400] -> NRAM[0x400:0x404]", 1,
     "a MAC given by its count has no shape"),
    ("compute MAC_32 4x4x4 NRAM[0x0:0x20], WRAM[0x0] -> NRAM[0x100]", 22,
     "operand A NRAM[0x0:0x20] holds 32 B, but it must hold the 4x4 matrix A of MAC_32 (64 B)"),
    # (a B of fewer elements dividing n is broadcast, not refused: see tests/test_isa12.py)
    ("compute SUB_16 64 NRAM[0x0:0x10], WRAM[0x0] -> NRAM[0x100]", 19,
     "operand A NRAM[0x0:0x10] holds 16 B, but it must hold 64 elements of SUB_16 (128 B)"),
])
def test_instructions_that_cannot_be_executed_are_refused_at_their_line(line, column, why):
    with pytest.raises(FunctionalError) as raised:
        FunctionalProgram.prepare(assemble(f"sync\n{line}\n", "t.asm"), DLP_S)
    assert str(raised.value).startswith(f"t.asm:2:{column}: error: --functional cannot execute")
    assert why in str(raised.value)
    assert "t.asm: note: --functional cannot execute 1 instruction" in str(raised.value)


def test_refusals_are_listed_once_each_in_line_order():
    text = "loop 3\ncompute MAC_32 256\nmove DRAM NRAM 4\nendloop\nloop 0\ncompute ADD_32 4\nendloop\n"
    with pytest.raises(FunctionalError) as raised:
        FunctionalProgram.prepare(assemble(text, "t.asm"), DLP_S)
    assert [location.line for location, _ in raised.value.refusals] == [2, 3]  # line 6 never runs


def test_a_program_beyond_the_limits_is_refused_before_running():
    # 10^9 iterations of one move: the timing model folds them, a functional run cannot
    program = assemble("loop 1000000000\nmove DRAM[0x0] NRAM[0x0] 64\nendloop\n", "big.asm")
    with pytest.raises(RunLimitError, match="issues 1,000,000,000 move and compute instructions, over the "
                                            "limit of 10,000,000"):
        FunctionalProgram.prepare(program, DLP_S)
    # 2 x 64 B moved: over a limit of 100 bytes
    small = assemble("loop 2\nmove DRAM[0x0] NRAM[0x0] 64\nendloop\n", "t.asm")
    with pytest.raises(RunLimitError, match="128 bytes moved, over the limit of 100"):
        FunctionalProgram.prepare(small, DLP_S, limits=FunctionalLimits(bytes_moved=100))


def test_memory_stays_sparse_and_bounded():
    # DRAM is 8 GB: a move near its end allocates one 64 KiB page, not 8 GB
    memories = execute("move DRAM[0x1fffff000] NRAM[0x0] 4096\nsync\nmove NRAM[0x0] DRAM[0x100000000] 4096\n")
    assert len(memories.dram.pages) == 1 and memories.budget.used_bytes == 2 * PAGE_BYTES
    # a run that touches more pages than its budget stops, naming the line
    program = FunctionalProgram.prepare(assemble("move DRAM[0x0] NRAM[0x0] 0x20000\nsync\n"
                                                 "move NRAM[0x0] DRAM[0x100000] 0x20000\n", "t.asm"), DLP_S)
    # (NRAM takes 2 pages of 64 KiB at line 1, and DRAM would take 2 more at line 3)
    with pytest.raises(RunLimitError, match=r"t.asm:3:1: error: functional execution would hold more than "
                                            r"196608 B \(192 KB\) of memory pages"):
        program.execute(Memories(DLP_S, budget=PageBudget(3 * PAGE_BYTES)))


# -- --load, --dump, --seed -------------------------------------------------------------------

@pytest.fixture
def inputs(in_tmp):
    np.save("x.npy", np.arange(256, dtype=F32))  # 1 KB
    (in_tmp / "notes.txt").write_text("not an array")
    np.save("objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return in_tmp


@pytest.mark.parametrize("options, message", [
    (["--load", "DRAM[0x0]=missing.npy"], "error: --load DRAM[0x0]=missing.npy: no such file missing.npy"),
    (["--load", "DRAM[0x0]=notes.txt"], "notes.txt is not a .npy file"),
    (["--load", "DRAM[0x0]=objects.npy"], "objects.npy holds Python objects"),
    (["--load", "DRAM[0x1fffffe00]=x.npy"], "1024 B (1 KB) at DRAM[0x1fffffe00] ends at byte 8589935104, "
                                            "past the end of DRAM (8589934592 B (8 GB) on dlp-s)"),
    (["--load", "NRAM[0x1fe00]=x.npy"], "past the end of NRAM (131072 B (128 KB) on dlp-s)"),
    (["--load", "NRAM.1[0x0]=x.npy"], "core 1 does not exist: dlp-s has 1 compute core (core 0)"),
    (["--load", "SharedRAM[0x0]=x.npy"], "dlp-s has no SharedRAM"),
    (["--load", "HBM[0x0]=x.npy"], "unknown memory 'HBM'"),
    (["--load", "DRAM[zero]=x.npy"], "malformed offset 'zero'"),
    (["--load", "DRAM=x.npy"], "expected MEM[OFFSET]=FILE.npy"),
    (["--load", "DRAM[0x0]=x.npy", "--load", "DRAM[0x3fc]=x.npy"], "overlaps --load DRAM[0x0]=x.npy"),
    (["--dump", "DRAM[0x0]:64x128=y.npy"], "expected MEM[OFFSET]:SHAPE:DTYPE=FILE.npy"),
    (["--dump", "DRAM[0x0]:64x0:float32=y.npy"], "malformed shape '64x0'"),
    (["--dump", "DRAM[0x0]:4:bfloat16=y.npy"], "unknown dtype 'bfloat16'"),
    (["--dump", "WRAM[0x3ff00]:64x4:float32=y.npy"], "1024 B (1 KB) at WRAM.0[0x3ff00] ends at byte 262912"),
    (["--dump", "DRAM[0x0]:4:float32=y.csv"], "the dump file y.csv must end in .npy"),
    (["--dump", "DRAM[0x0]:4:float32=y.npy", "--dump", "DRAM[0x10]:4:float32=y.npy"],
     "also written by --dump"),
    (["--load", "DRAM[0x0]=x.npy", "--dump", "DRAM[0x0]:4:float32=x.npy"], "also read by a --load"),
    (["--dump", "DRAM[0x0]:4:float32=nowhere/y.npy"],
     "--dump DRAM[0x0]:4:float32=nowhere/y.npy: error: cannot write the dump: the folder nowhere does not "
     "exist"),
])
def test_load_and_dump_errors_name_the_option_and_exit_2(inputs, options, message):
    result = _run([str(ROOT / "programs/ex7_7.asm"), *options])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and not Path("y.npy").exists()


def test_a_refused_program_leaves_no_dump_file(in_tmp):
    result = _run([str(ROOT / "programs/ex7_10.asm"), "--dump", "DRAM[0x0]:4:float32=y.npy"])
    assert result.exit_code == 2 and "operand A NRAM[0x0:0x8000] holds 32768 B" in result.output
    assert list(in_tmp.iterdir()) == []  # no dump, no temporary file


def test_a_successful_dump_leaves_only_the_dump(in_tmp):
    (in_tmp / "a=b").mkdir()  # a file name may hold '=' and ':'
    result = _run([str(ROOT / "programs/ex7_7.asm"), "--dump", "DRAM[0x800]:1:float32=a=b/y:1.npy"])
    assert result.exit_code == 0, result.output
    assert [path.name for path in (in_tmp / "a=b").iterdir()] == ["y:1.npy"]


def test_little_endian_and_fortran_order_files_load_as_their_values(in_tmp):
    np.save("big.npy", np.array([1.5, -2.0], dtype=">f4"))
    np.save("fortran.npy", np.asfortranarray(np.array([[1, 2], [3, 4]], dtype=F32)))
    result = _run([str(ROOT / "programs/ex7_7.asm"), "--load", "DRAM[0x1000]=big.npy",
                   "--load", "DRAM[0x2000]=fortran.npy", "--dump", "DRAM[0x1000]:2:float32=b.npy",
                   "--dump", "DRAM[0x2000]:4:float32=f.npy"])
    assert result.exit_code == 0, result.output
    assert np.load("b.npy").tolist() == [1.5, -2.0]
    assert np.load("f.npy").tolist() == [1, 2, 3, 4]  # C order


def test_seed_fills_dram_deterministically_per_page(in_tmp):
    program = str(ROOT / "programs/ex7_7.asm")
    where = "DRAM[0x7fff0000]:4x16384:float32"  # four pages far into DRAM, never touched
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        assert _run([program, "--seed", str(seed), "--dump", f"{where}={name}.npy"]).exit_code == 0
    a, b, c = (np.load(f"{name}.npy") for name in "abc")
    assert Path("a.npy").read_bytes() == Path("b.npy").read_bytes()
    assert not np.array_equal(a, c)
    assert a.min() >= -1 and a.max() < 1 and abs(float(a.mean())) < 0.05  # uniform in [-1, 1)
    # a page's values do not depend on which pages were touched before it
    assert _run([program, "--seed", "7", "--dump", "DRAM[0x7fff8000]:8192:float32=d.npy"]).exit_code == 0
    assert np.array_equal(np.load("d.npy"), a.reshape(-1)[8192:16384])
    # loaded bytes win over the seed; the program's output is A . W of the seeded values
    result = _run([program, "--seed", "7", "--json", "--dump", "DRAM[0x0]:256:float32=x.npy",
                   "--dump", "DRAM[0x400]:256:float32=w.npy", "--dump", "DRAM[0x800]:1:float32=y.npy"])
    report = json.loads(result.output)
    assert report["functional"]["seed"] == 7
    x, w, y = (np.load(f"{name}.npy") for name in "xwy")
    np.testing.assert_allclose(y, [x @ w], rtol=1e-5, atol=1e-5)


# -- any order that respects happens-before gives the same bytes ------------------------------

SLOTS = range(0, 0x180, 0x10)  # operand addresses below 0x180; a MAC's C lies at 0x200 and above
MEMORIES = ("DRAM", "SharedRAM", "NRAM", "WRAM")
ARROWS = st.sampled_from(["->", "+>"])


@st.composite
def _instruction(draw, memory_core: bool) -> str:
    def slot(base: int = 0) -> str:
        return f"{base + draw(st.sampled_from(SLOTS)):#x}"

    if memory_core:
        pair = draw(st.sampled_from([("DRAM", "SharedRAM"), ("SharedRAM", "DRAM")]))
    else:
        kind = draw(st.sampled_from(["move", "move", "vector", "mac", "sync"]))
        if kind == "sync":
            return "sync"
        if kind == "vector":
            op = draw(st.sampled_from(["ADD", "SUB", "MUL", "DIV"]))
            a, b, c = (draw(st.sampled_from(["NRAM", "WRAM"])) for _ in range(3))
            return f"compute {op}_32 4 {a}[{slot()}], {b}[{slot()}] {draw(ARROWS)} {c}[{slot(0x200)}]"
        if kind == "mac":
            return f"compute MAC_32 2x2x2 NRAM[{slot()}], WRAM[{slot()}] {draw(ARROWS)} NRAM[{slot(0x200)}]"
        pair = draw(st.sampled_from([(s, d) for s in MEMORIES for d in MEMORIES if s != d]))
    source, destination = pair
    # on chip, sometimes where computes write their results
    high = [0x200 if memory != "DRAM" and draw(st.booleans()) else 0 for memory in pair]
    return f"move {source}[{slot(high[0])}] {destination}[{slot(high[1])}] 16"


@st.composite
def _programs(draw) -> str:
    epochs = draw(st.integers(1, 3))
    lines = [".machine dlp-m"]
    for core in ("0", "1", "2", "mem"):
        lines.append(f".core {core}")
        for epoch in range(epochs):
            body = draw(st.lists(_instruction(core == "mem"), max_size=5))
            if body and draw(st.booleans()):
                body = ["loop 2", *body, "endloop"]
            lines += body + (["barrier"] if epoch < epochs - 1 else [])
    return "\n".join(lines) + "\n"


def _without_hazards(text: str) -> str:
    """Drop the later line of each hazard until there is none (moves and computes only)."""
    while True:
        program = assemble(text, "p.asm")
        report = check_hazards(program, DLP_M)
        if not report.hazards:
            return text
        lines = text.split("\n")
        for line in {hazard.later.location.line for hazard in report.hazards}:
            lines[line - 1] = "sync"  # a sync changes no data; it keeps the line numbers
        text = "\n".join(lines)


def _other_order(program, rng: random.Random):
    """A random linear extension of happens-before: per epoch, the cores interleaved at random;
    per core, its segments between syncs in order, and within a segment its queues interleaved at
    random, each queue's instructions in order."""
    streams = bind(program, DLP_M)
    epochs: dict[CoreId, list[list[list]]] = {}  # core -> epochs -> segments -> instructions
    for core, stream in streams.items():
        epochs[core] = [[[]]]
        for instruction in expand(stream):
            if isinstance(instruction, Barrier):
                epochs[core].append([[]])
            elif isinstance(instruction, Sync):
                epochs[core][-1].append([])
            else:
                epochs[core][-1][-1].append(instruction)
    order = []
    for epoch in range(max((len(parts) for parts in epochs.values()), default=0)):
        pending = {core: [list(segment) for segment in epochs[core][epoch]] for core in epochs}
        while any(pending.values()):
            core = rng.choice([core for core, segments in pending.items() if segments])
            segment = pending[core][0]
            heads = {}
            for instruction in segment:  # the first instruction of each queue in the segment
                heads.setdefault(queue_kind(instruction), instruction)
            if heads:
                chosen = rng.choice(sorted(heads.values(), key=segment.index))
                segment.remove(chosen)
                order.append((core, chosen))
            if not segment:
                pending[core].pop(0)
    return order


def _contents(memories: Memories) -> dict:
    everything = [memories.dram, memories.shared, *memories.nram, *memories.wram]
    return {(memory.name, index): page.tobytes() for memory in everything
            for index, page in memory.pages.items() if page.any()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs(), st.integers(0, 2**32 - 1))
def test_any_order_respecting_happens_before_gives_the_same_result(text, seed):
    program = assemble(_without_hazards(text), "p.asm")
    accepted = FunctionalProgram.prepare(program, DLP_M)
    in_program_order = Memories(DLP_M, seed=1)
    accepted.execute(in_program_order)
    other = Memories(DLP_M, seed=1)
    Executor(other).run(_other_order(program, random.Random(seed)))
    assert _contents(other) == _contents(in_program_order)


def test_orders_differ_when_a_hazard_leaves_them_free():
    # The comparison above can fail: with a RAW hazard (no sync between a load and its use),
    # executing the compute first reads zeros.
    program = assemble("move DRAM[0x0] NRAM[0x0] 16\ncompute ADD_32 4 NRAM[0x0], NRAM[0x0] -> NRAM[0x40]\n"
                       "sync\nmove NRAM[0x40] DRAM[0x100] 16\n", "race.asm")
    with pytest.raises(FunctionalHazardError):
        FunctionalProgram.prepare(program, DLP_S)
    streams = bind(program, DLP_S)
    core = CoreId(0)
    move, compute, _sync, store = list(expand(streams[core]))
    results = []
    for order in ([move, compute, store], [compute, move, store]):
        memories = Memories(DLP_S)
        put(memories, 0x0, [1, 2, 3, 4])
        Executor(memories).run((core, instruction) for instruction in order)
        results.append(dram(memories, 0x100, 4).tolist())
    assert results == [[2, 4, 6, 8], [0, 0, 0, 0]]


def test_epoch_order_runs_the_memory_core_in_its_epochs():
    order = [(core, type(instruction)) for core, instruction in
             epoch_order(bind(assemble(MULTI_CORE, "t.asm"), DLP_M))]
    assert order[0] == (MEMORY_CORE, Move)  # epoch 0: only the memory core works
    assert order[-1] == (MEMORY_CORE, Move)  # epoch 2: its copy out, after every core's epoch 1
    assert [core.index for core, kind in order if kind is Compute] == [0, 1, 2, 3]
    assert len(order) == 1 + 4 * 3 + 1  # per core: copy x in, add, store


def test_the_isa_reference_example_is_refused_as_documented(in_tmp):
    text = (ROOT / "isa" / "README.md").read_text("utf-8")
    section = text[text.index("## Functional execution"):text.index("## Limits of a run")]
    program = section.split("```asm\n")[1].split("```")[0]
    expected = section.split("```text\n")[1].split("```")[0]
    (in_tmp / "bad.asm").write_text(program)
    result = _run(["bad.asm", "--functional"])
    assert result.exit_code == 2
    assert result.output == expected


def test_loads_larger_than_a_run_may_hold_are_refused_before_reading(in_tmp):
    np.save("x.npy", np.zeros(64 * 1024, np.uint8))
    program = assemble("move DRAM[0x0] NRAM[0x0] 64\n", "t.asm")
    with pytest.raises(UserError, match=r"error: --load: 65536 B \(64 KB\) together, more than the "
                                        r"32768 B \(32 KB\) one functional run may hold"):
        FunctionalRun.prepare(program, DLP_S, loads=("DRAM[0x0]=x.npy",), resident_bytes=32 * 1024)


def test_functional_execution_changes_no_timing_figure_and_repeats_byte_for_byte(in_tmp):
    program = str(ROOT / "programs/ex7_11.asm")
    plain = json.loads(_run([program, "--json"]).output)
    runs = [_run([program, "--json", "--seed", "3", "--dump", f"DRAM[0x28000]:32x128:float32={name}"]).output
            for name in ("a.npy", "b.npy")]
    functional = json.loads(runs[0])
    assert functional.pop("functional")["instructions"] == 17
    assert functional == plain
    assert runs[0].replace("a.npy", "b.npy") == runs[1]
    assert Path("a.npy").read_bytes() == Path("b.npy").read_bytes()
