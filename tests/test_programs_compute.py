"""Every shipped program computes what its header says: random x and W loaded where the header
puts them, `dlpsim run --functional`, y dumped and compared with numpy's x @ W.

Each program's layout (where x, W and y lie in DRAM, and how a tiled program splits W and y into
blocks) is written out below from its header; the cycles the exercises pin
(tests/test_exercises.py) are unchanged by the indexed loops that make the tiled programs
compute the whole product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dlpsim.cli import main

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"


def _plain(matrix: np.ndarray) -> np.ndarray:
    return matrix


@dataclass(frozen=True)
class Layout:
    """Where a program keeps an FC layer y = x @ W in DRAM (x is always row-major at 0x0)."""

    m: int  # rows of x and y
    k: int
    n: int
    weights_at: int
    output_at: int
    # W as the program's DRAM holds it (row-major by default), and y from the bytes it writes
    pack_weights: Callable[[np.ndarray], np.ndarray] = _plain
    unpack_output: Callable[[np.ndarray], np.ndarray] = _plain

    @property
    def output_shape(self) -> str:
        return f"{self.m * self.n}"


def _column_blocks(width: int) -> Callable[[np.ndarray], np.ndarray]:
    """W split into blocks of ``width`` columns, each row-major, one after the other."""
    def pack(weights: np.ndarray) -> np.ndarray:
        rows, columns = weights.shape
        return weights.reshape(rows, columns // width, width).transpose(1, 0, 2).copy()
    return pack


def _output_blocks(rows: int, width: int) -> Callable[[np.ndarray], np.ndarray]:
    """y from blocks of ``width`` columns, each ``rows`` x ``width`` row-major, one after the other."""
    def unpack(raw: np.ndarray) -> np.ndarray:
        return raw.reshape(-1, rows, width).transpose(1, 0, 2).reshape(rows, -1)
    return unpack


def _fc_1024x256_output(raw: np.ndarray) -> np.ndarray:
    """fc_1024x256.asm stores tile t (32 rows) at 0x4000 t as its OUT buffer holds it: columns 0:64
    (32 x 64) then columns 64:128."""
    return raw.reshape(32, 2, 32, 64).transpose(0, 2, 1, 3).reshape(1024, 128)


LAYOUTS = {
    "ex7_7.asm": Layout(1, 256, 1, 0x400, 0x800),
    "ex7_8.asm": Layout(32, 256, 128, 0x8000, 0x28000),
    "ex7_9.asm": Layout(1024, 256, 128, 0x100000, 0x120000),
    "ex7_9_overlap.asm": Layout(1024, 256, 128, 0x100000, 0x120000),
    # W_LO = W[:, 0:64] at 0x100000, then W_HI = W[:, 64:128]
    "fc_1024x256.asm": Layout(1024, 256, 128, 0x100000, 0x120000, _column_blocks(64), _fc_1024x256_output),
    # core i's slice W[:, 32i:32i+32] at 0x8000 + 0x8000 i, its 32 x 32 output at 0x28000 + 0x1000 i
    "ex7_11.asm": Layout(32, 256, 128, 0x8000, 0x28000, _column_blocks(32), _output_blocks(32, 32)),
    # block j = columns 256j .. 256j+255: W's at 0x100000 + 0x40000 j, y's (1024 x 256) after 0x300000
    "ex7_12.asm": Layout(1024, 256, 2048, 0x100000, 0x300000, _column_blocks(256), _output_blocks(1024, 256)),
    # blocks of 128 columns: W's at 0x100000 + 0x20000 j, y's (1024 x 128) at 0x300000 + 0x80000 j
    "ex7_12_overlap.asm": Layout(1024, 256, 2048, 0x100000, 0x300000, _column_blocks(128),
                                 _output_blocks(1024, 128)),
}


def test_every_shipped_program_is_checked_here():
    assert set(LAYOUTS) | {"ex7_10.asm"} == {path.name for path in PROGRAMS.glob("*.asm")}


@pytest.mark.parametrize("name", LAYOUTS)
def test_the_program_computes_x_times_w(name, tmp_path, monkeypatch):
    layout = LAYOUTS[name]
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((layout.m, layout.k), np.float32)
    weights = rng.standard_normal((layout.k, layout.n), np.float32)
    np.save("x.npy", x)
    np.save("w.npy", layout.pack_weights(weights))
    outcome = CliRunner().invoke(main, [
        "run", str(PROGRAMS / name), "--load", "DRAM[0x0]=x.npy",
        "--load", f"DRAM[{layout.weights_at:#x}]=w.npy",
        "--dump", f"DRAM[{layout.output_at:#x}]:{layout.output_shape}:float32=y.npy"])
    assert outcome.exit_code == 0, outcome.output
    assert "data hazards: none" in outcome.output
    y = layout.unpack_output(np.load("y.npy")).reshape(layout.m, layout.n)
    expected = x.astype(np.float64) @ weights.astype(np.float64)
    # float32 sums of 256 products of N(0, 1) values: errors of a few 1e-6 x sqrt(256)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_exercise_7_10_has_no_values_to_compute_on(tmp_path, monkeypatch):
    # Its operands are compressed (32 KB for a 64 KB input tile and 128 KB of weights) in a format
    # dlpsim does not model, so --functional refuses it at the compute, saying why.
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(main, ["run", str(PROGRAMS / "ex7_10.asm"), "--functional"])
    assert outcome.exit_code == 2
    assert ("operand A NRAM[0x0:0x8000] holds 32768 B, but it must hold the 64x256 matrix A of MAC_32 "
            "(65536 B); packed or compressed data has no values to compute on") in outcome.output
