"""Every program in programs/ runs in exactly the cycles its hand derivation predicts.

Each expectation below is derived in closed form from the timing contract
(the machine model: transfers take ceil(bytes / bytes-per-cycle), equal transfers started
together share a link equally, compute takes ceil(ops / rate), queues overlap until a
sync or barrier). None of the numbers is copied from the simulator's output; the same
derivations are written, line by line, in each program's header comment.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlpsim.asm import assemble_file
from dlpsim.machine import load_machine
from dlpsim.sim import simulate

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"

FP32 = 4  # bytes per value

# dlp-s (exercise 7.7): 1 GHz, so GB/s = B/cycle.
S_DRAM = 64  # B/cycle: 64 GB/s
MAC_RATE = 256  # MAC_32 per cycle per core

# dlp-m (exercise 7.11): four dlp-s cores.
M_CORES = 4
M_DRAM = 128  # B/cycle: 128 GB/s for the whole chip
M_SHARED = 1000  # B/cycle: 1 TB/s = 1e12 / 1e9 (not 1024) per core


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def xfer(nbytes: int, bytes_per_cycle: int, sharers: int = 1) -> int:
    """Cycles for `sharers` equal transfers of `nbytes` started together on one link.

    They share the link equally and all finish together, so each takes
    ceil(sharers * nbytes / bytes_per_cycle) cycles (contract: "Transfers").
    """
    return ceil_div(sharers * nbytes, bytes_per_cycle)


def mac(ops: int) -> int:
    """Cycles of `compute MAC_32 ops` on one core: latency 0 + ceil(ops / 256)."""
    return ceil_div(ops, MAC_RATE)


@dataclass(frozen=True)
class Expected:
    machine: str
    cycles: int
    compute_bound: int
    dram_bound: int
    dram_bytes: int

    @property
    def bound(self) -> int:
        return max(self.compute_bound, self.dram_bound)


# ---------------------------------------------------------------------------------------
# dlp-s programs
# ---------------------------------------------------------------------------------------

def ex7_7() -> Expected:
    # FC 1x256 x 256x1: the contract's worked example.
    inp, wts, out, macs = 1 * 256 * FP32, 256 * 1 * FP32, 1 * 1 * FP32, 1 * 256 * 1
    cycles = (
        xfer(inp, S_DRAM)  # 1024 / 64 = 16
        + xfer(wts, S_DRAM)  # 16, after the first on the io queue
        + mac(macs)  # 256 / 256 = 1, after the sync
        + xfer(out, S_DRAM)  # ceil(4 / 64) = 1, after the sync
    )  # = 34
    dram = inp + wts + out  # 2052
    return Expected("dlp-s", cycles, mac(macs), ceil_div(dram, S_DRAM), dram)


def ex7_8() -> Expected:
    # FC 32x256 x 256x128, serial: load in + load W, sync, compute, sync, store.
    inp, wts, out = 32 * 256 * FP32, 256 * 128 * FP32, 32 * 128 * FP32
    macs = 32 * 256 * 128
    cycles = (
        xfer(inp, S_DRAM)  # 32768 / 64 = 512
        + xfer(wts, S_DRAM)  # 131072 / 64 = 2048
        + mac(macs)  # 1048576 / 256 = 4096
        + xfer(out, S_DRAM)  # 16384 / 64 = 256
    )  # = 6912
    dram = inp + wts + out
    return Expected("dlp-s", cycles, mac(macs), ceil_div(dram, S_DRAM), dram)


def _fc_1024x256_traffic() -> tuple[int, int]:
    """DRAM bytes and MACs of the 7.9 layer (1024x256 x 256x128), uncompressed."""
    dram = 256 * 128 * FP32 + 1024 * 256 * FP32 + 1024 * 128 * FP32  # W + in + out
    return dram, 1024 * 256 * 128


def ex7_9() -> Expected:
    # 16 tiles of 64 rows, serial: W once, then per tile load, sync, compute, sync, store.
    # The store and the next tile's load share the io queue, so nothing overlaps.
    tiles, rows = 16, 64
    per_tile = (
        xfer(rows * 256 * FP32, S_DRAM)  # 65536 / 64 = 1024
        + mac(rows * 256 * 128)  # 2097152 / 256 = 8192
        + xfer(rows * 128 * FP32, S_DRAM)  # 32768 / 64 = 512
    )  # = 9728
    cycles = xfer(256 * 128 * FP32, S_DRAM) + tiles * per_tile  # 2048 + 16 * 9728 = 157696
    dram, macs = _fc_1024x256_traffic()
    return Expected("dlp-s", cycles, mac(macs), ceil_div(dram, S_DRAM), dram)


def ex7_9_overlap() -> Expected:
    # 32 tiles of 32 rows, double-buffered. Step t = load t+1, store t-1, compute t, sync.
    tiles, rows = 32, 32
    load, store = xfer(rows * 256 * FP32, S_DRAM), xfer(rows * 128 * FP32, S_DRAM)  # 512, 256
    step = mac(rows * 256 * 128)  # 4096
    assert load + store < step  # every step is compute-bound: io 768 < 4096
    cycles = (
        xfer(256 * 128 * FP32, S_DRAM) + load  # prologue: W 2048 + tile 0 512
        + tiles * step  # 32 compute-bound steps
        + store  # epilogue: the last output tile
    )  # = 2560 + 131072 + 256 = 133888
    dram, macs = _fc_1024x256_traffic()
    return Expected("dlp-s", cycles, mac(macs), ceil_div(dram, S_DRAM), dram)


def ex7_10() -> Expected:
    # As ex7_9 (16 tiles of 64 rows, serial) with weights at 1/4 and input at 1/2 of their
    # volume. Assumptions: MAC count unchanged (dense), outputs not compressed.
    tiles, rows = 16, 64
    wts = 256 * 128 * FP32 // 4  # 32768
    tile_in = rows * 256 * FP32 // 2  # 32768
    tile_out = rows * 128 * FP32  # 32768
    per_tile = xfer(tile_in, S_DRAM) + mac(rows * 256 * 128) + xfer(tile_out, S_DRAM)
    # = 512 + 8192 + 512 = 9216
    cycles = xfer(wts, S_DRAM) + tiles * per_tile  # 512 + 16 * 9216 = 147968
    dram = wts + tiles * (tile_in + tile_out)  # 1081344
    return Expected("dlp-s", cycles, mac(1024 * 256 * 128), ceil_div(dram, S_DRAM), dram)


def fc_1024x256() -> Expected:
    # The showcase: ex7_9's layer, 32 tiles of 32 rows, A/B ping-pong; the weights arrive as
    # two column halves so tile 0 starts on the first half; the last tile is computed in
    # two column halves so half its output drains during the other half's compute.
    rows = 32
    w_half = 256 * 64 * FP32  # 65536 B, 1024 cycles
    tile_in = rows * 256 * FP32  # 32768 B, 512 cycles
    tile_out = rows * 128 * FP32  # 16384 B, 256 cycles
    half_mac = mac(rows * 256 * 64)  # 2048
    full_mac = mac(rows * 256 * 128)  # 4096
    assert xfer(w_half, S_DRAM) <= half_mac  # F2: W_HI hides under tile 0's left half
    assert xfer(tile_in, S_DRAM) <= half_mac  # F3: tile 1 hides under tile 0's right half
    assert xfer(tile_in, S_DRAM) + xfer(tile_out, S_DRAM) <= full_mac  # main-loop steps
    assert xfer(tile_out, S_DRAM) <= half_mac  # D1
    assert xfer(tile_out // 2, S_DRAM) <= half_mac  # D2
    cycles = (
        xfer(w_half, S_DRAM) + xfer(tile_in, S_DRAM)  # F1: 1024 + 512 = 1536 exposed
        + 2 * half_mac  # F2, F3: tile 0 in two halves
        + 15 * 2 * full_mac  # main loop: tiles 1 .. 30
        + 2 * half_mac  # D1, D2: tile 31 in two halves
        + xfer(tile_out // 2, S_DRAM)  # D3: 8192 / 64 = 128 exposed
    )  # = 131072 + 1536 + 128 = 132736
    dram, macs = _fc_1024x256_traffic()
    return Expected("dlp-s", cycles, mac(macs), ceil_div(dram, S_DRAM), dram)


# ---------------------------------------------------------------------------------------
# dlp-m programs: the four cores run identical streams, so their DRAM transfers start
# together with equal sizes and each takes xfer(bytes, M_DRAM, sharers=4).
# ---------------------------------------------------------------------------------------

def _m_compute_bound(macs: int) -> int:
    # contract: ceil(ops / rate / compute cores)
    return ceil_div(macs, MAC_RATE * M_CORES)


def ex7_11() -> Expected:
    # FC 32x256 x 256x128; core i owns 32 output columns.
    inp = 32 * 256 * FP32  # 32768: mem core DRAM -> SharedRAM, then each core copies it
    w_slice = 256 * 32 * FP32  # 32768 per core
    out_slice = 32 * 32 * FP32  # 4096 per core
    macs = 32 * 256 * 128
    copy = xfer(inp, M_SHARED)  # ceil(32.768) = 33, own link, move queue
    w_load = xfer(w_slice, M_DRAM, sharers=M_CORES)  # 4 * 32768 / 128 = 1024, io queue
    assert copy <= w_load  # the copy hides under the weight loads (different queues)
    cycles = (
        xfer(inp, M_DRAM)  # mem core alone: 256; then the barrier
        + w_load  # 1024
        + mac(macs // M_CORES)  # 262144 / 256 = 1024
        + xfer(out_slice, M_DRAM, sharers=M_CORES)  # 4 * 4096 / 128 = 128
    )  # = 2432
    dram = inp + M_CORES * (w_slice + out_slice)  # 180224
    return Expected("dlp-m", cycles, _m_compute_bound(macs), ceil_div(dram, M_DRAM), dram)


def _fc_1024x256x2048_traffic() -> tuple[int, int]:
    dram = 1024 * 256 * FP32 + 256 * 2048 * FP32 + 1024 * 2048 * FP32  # in + W + out = 11 MB
    return dram, 1024 * 256 * 2048


def ex7_12() -> Expected:
    # Core i owns 512 columns = 2 weight blocks of 256 columns (256 KB = WRAM); per block
    # 16 row tiles of 64 rows (in 64 KB + out 64 KB = NRAM). Everything serial.
    blocks, tiles, rows, cols = 2, 16, 64, 256
    per_tile = (
        xfer(rows * 256 * FP32, M_SHARED)  # ceil(65536 / 1000) = 66
        + mac(rows * 256 * cols)  # 4194304 / 256 = 16384
        + xfer(rows * cols * FP32, M_DRAM, sharers=M_CORES)  # 4 * 65536 / 128 = 2048
    )  # = 18498
    per_block = xfer(256 * cols * FP32, M_DRAM, sharers=M_CORES) + tiles * per_tile
    # = 8192 + 16 * 18498 = 304160
    cycles = xfer(1024 * 256 * FP32, M_DRAM) + blocks * per_block  # 8192 + 2 * 304160
    # = 616512
    dram, macs = _fc_1024x256x2048_traffic()
    return Expected("dlp-m", cycles, _m_compute_bound(macs), ceil_div(dram, M_DRAM), dram)


def ex7_12_overlap() -> Expected:
    # Core i: 4 weight blocks of 128 columns (double-buffered in WRAM) x 32 row tiles of 32
    # rows = 128 tiles; step t = copy t+1, store t-1, [64 KB weight chunk], compute t, sync.
    inp = 1024 * 256 * FP32  # 1048576, mem core
    w_block = 256 * 128 * FP32  # 131072 per core
    steps = 4 * 32
    step = mac(32 * 256 * 128)  # 4096
    copy = xfer(32 * 256 * FP32, M_SHARED)  # ceil(32.768) = 33
    store = xfer(32 * 128 * FP32, M_DRAM, sharers=M_CORES)  # 512
    chunk = xfer(256 * 64 * FP32, M_DRAM, sharers=M_CORES)  # 2048
    assert copy < step and store + chunk < step  # every step is compute-bound
    # Fill: the input and the 4 weight blocks start together, 5 transfers at 128/5 B/cycle.
    # Weight blocks end at w_block / (128/5) = 5120 (exact); the input's remaining
    # inp - w_block bytes then run alone. Total = all bytes / 128 (the link never idles).
    w_done = ceil_div(w_block * 5, M_DRAM)  # 5120
    fill = w_done + ceil_div(inp - w_block, M_DRAM)  # 5120 + 7168 = 12288
    assert fill == ceil_div(inp + M_CORES * w_block, M_DRAM)
    cycles = fill + copy + steps * step + store  # 12288 + 33 + 524288 + 512 = 537121
    dram, macs = _fc_1024x256x2048_traffic()
    return Expected("dlp-m", cycles, _m_compute_bound(macs), ceil_div(dram, M_DRAM), dram)


EXPECTED = {
    "ex7_7": ex7_7(),
    "ex7_8": ex7_8(),
    "ex7_9": ex7_9(),
    "ex7_9_overlap": ex7_9_overlap(),
    "ex7_10": ex7_10(),
    "ex7_11": ex7_11(),
    "ex7_12": ex7_12(),
    "ex7_12_overlap": ex7_12_overlap(),
    "fc_1024x256": fc_1024x256(),
}

# The derived totals, written out once more as a cross-check of the arithmetic above.
HAND_TOTALS = {
    "ex7_7": 34,
    "ex7_8": 6912,
    "ex7_9": 157696,
    "ex7_9_overlap": 133888,
    "ex7_10": 147968,
    "ex7_11": 2432,
    "ex7_12": 616512,
    "ex7_12_overlap": 537121,
    "fc_1024x256": 132736,
}

PROGRAM_FILES = sorted(PROGRAMS.glob("*.asm"))


@functools.cache
def _run(name: str):
    program = assemble_file(PROGRAMS / f"{name}.asm")
    return program, simulate(program, load_machine(program.machine or "dlp-s"))


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=lambda p: p.name)
def test_every_program_has_an_expectation(path: Path) -> None:
    assert path.stem in EXPECTED, f"{path.name}: add its hand-derived expectation here"


def test_expectations_name_existing_programs() -> None:
    assert set(EXPECTED) == {p.stem for p in PROGRAM_FILES}
    assert {name: e.cycles for name, e in EXPECTED.items()} == HAND_TOTALS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_states_the_hand_estimate(name: str) -> None:
    text = (PROGRAMS / f"{name}.asm").read_text()
    header = text.split("\n\n", 1)[0]
    assert "HAND ESTIMATE" in header
    assert re.search(rf"\b{EXPECTED[name].cycles} cycles\b", header), "header total differs"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_program_runs_in_the_derived_cycles(name: str) -> None:
    expected = EXPECTED[name]
    program, stats = _run(name)
    assert program.machine == expected.machine
    assert stats.cycles == expected.cycles


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_roofline_bound_and_dram_bytes(name: str) -> None:
    expected = EXPECTED[name]
    _, stats = _run(name)
    assert stats.dram_bytes == expected.dram_bytes
    assert stats.bound.compute_cycles == expected.compute_bound
    assert stats.bound.dram_cycles == expected.dram_bound
    assert stats.bound.cycles == expected.bound
    assert expected.bound <= stats.cycles


def test_overlap_beats_serial() -> None:
    assert EXPECTED["ex7_9_overlap"].cycles < EXPECTED["ex7_9"].cycles
    assert EXPECTED["fc_1024x256"].cycles < EXPECTED["ex7_9_overlap"].cycles
    assert EXPECTED["ex7_12_overlap"].cycles < EXPECTED["ex7_12"].cycles
    # The showcase comes within 1.3 % of the compute bound.
    showcase = EXPECTED["fc_1024x256"]
    assert showcase.cycles - showcase.bound == 1536 + 128
    assert showcase.bound / showcase.cycles > 0.985
