"""dlpsim's systolic cycles for GEMMs against SCALE-Sim v3's "Total Cycles", side by side.

SCALE-Sim needs its own virtual environment (it runs only with NumPy < 2):

    python3 -m venv /tmp/ss && /tmp/ss/bin/pip install scalesim==3.0.0 'numpy<2'

Then, from the repository root:

    .venv/bin/python benchmarks/scalesim_compare.py --scalesim-python /tmp/ss/bin/python
    .venv/bin/python benchmarks/scalesim_compare.py 17x33x15 64x64x64 --array 8x4 --dataflows ws \\
        --scalesim-python /tmp/ss/bin/python

Each GEMM is given as MxKxN, as dlpsim's `compute MAC_32 MxKxN` writes it (SCALE-Sim's
GEMM topology rows list M, N, K). SCALE-Sim runs with the CALC interface bandwidth, so
its reads never stall, and with 1 MB SRAMs; its Python API is used so that it writes no
trace files. dlpsim's side is the systolic rule of dlpsim/sim/compute.py (latency 0).
SCALE-Sim reports the zero-based number of the last cycle, so with no stalls
dlpsim = SCALE-Sim + 1 (docs/systolic.md). The exit status is 1 if any GEMM differs
by more than --tolerance percent, else 0. SCALE-Sim is slow: about 0.2 ms per
simulated cycle.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from dlpsim.machine.config import DATAFLOWS
from dlpsim.sim.compute import systolic_cycles
from dlpsim.tables import align

# The FC layers of exercises 7.7-7.11 as GEMMs (M x K x N), a few minutes in all. 7.12's
# 1024x256x2048 takes SCALE-Sim over twenty minutes per dataflow: give it explicitly.
EXERCISE_GEMMS = ["1x256x1", "32x256x128", "1024x256x128"]

_CONFIG = """[general]
run_name = compare

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {columns}
IfmapSramSzkB : 1024
FilterSramSzkB : 1024
OfmapSramSzkB : 1024
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : 10
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""

# Run by SCALE-Sim's interpreter: its Python API, with its chatter silenced.
_DRIVER = """
import contextlib, io, sys
from scalesim.scale_sim import scalesim
folder = sys.argv[1]
sim = scalesim(save_disk_space=True, verbose=False, config=folder + "/scalesim.cfg",
               topology=folder + "/topology.csv", layout=folder + "/layout.csv", input_type_gemm=True)
with contextlib.redirect_stdout(io.StringIO()):
    sim.run_scale(top_path=folder)
"""


def parse_gemm(text: str) -> tuple[int, int, int]:
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected MxKxN with positive whole numbers, got {text!r}")
    m, k, n = (int(part) for part in parts)
    return m, k, n


def parse_array(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLUMNS, got {text!r}")
    return int(parts[0]), int(parts[1])


def scalesim_totals(python: str, gemms: list[tuple[int, int, int]], rows: int, columns: int,
                    dataflow: str) -> list[tuple[int, int]]:
    """SCALE-Sim's (Total Cycles, Stall Cycles) of each GEMM."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "scalesim.cfg").write_text(_CONFIG.format(rows=rows, columns=columns, dataflow=dataflow))
        (path / "layout.csv").write_text("Layer, IFMAP SRAM Bank Bandwidth\n")
        lines = ["Layer, M, N, K,"] + [f"gemm{i}, {m}, {n}, {k}," for i, (m, k, n) in enumerate(gemms)]
        (path / "topology.csv").write_text("\n".join(lines) + "\n")
        subprocess.run([python, "-c", _DRIVER, folder], check=True)
        with open(path / "compare" / "COMPUTE_REPORT.csv", newline="") as report:
            rows_read = list(csv.reader(report))[1:]
    header_total, header_stalls = 2, 3  # LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles
    return [(int(row[header_total]), int(row[header_stalls])) for row in rows_read]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gemms", nargs="*", type=parse_gemm, metavar="MxKxN",
                        help=f"GEMMs to compare (default: the exercises' {', '.join(EXERCISE_GEMMS)})")
    parser.add_argument("--scalesim-python", required=True, help="the Python of SCALE-Sim's environment")
    parser.add_argument("--array", type=parse_array, default=(16, 16), metavar="ROWSxCOLUMNS")
    parser.add_argument("--dataflows", nargs="+", choices=DATAFLOWS, default=list(DATAFLOWS))
    parser.add_argument("--tolerance", type=float, default=1.0, help="percent (default 1)")
    args = parser.parse_args()
    gemms = args.gemms or [parse_gemm(text) for text in EXERCISE_GEMMS]
    rows, columns = args.array

    table = []
    worst = 0.0
    exact = 0
    for dataflow in args.dataflows:
        totals = scalesim_totals(args.scalesim_python, gemms, rows, columns, dataflow)
        for (m, k, n), (total, stalls) in zip(gemms, totals, strict=True):
            ours = systolic_cycles((m, k, n), rows, columns, dataflow)
            percent = 100 * (ours - total) / total
            worst = max(worst, abs(percent))
            exact += ours == total + 1
            table.append([dataflow, f"{m}x{k}x{n}", f"{total:,}", f"{stalls:,}", f"{ours:,}",
                          f"{ours - total:+,}", f"{percent:+.4f}%", "yes" if ours == total + 1 else "NO"])
    print(f"{rows}x{columns} array")
    header = ["dataflow", "MxKxN", "SCALE-Sim total", "stalls", "dlpsim", "difference", "percent",
              "= total + 1"]
    print("\n".join(align([header, *table], [False, False, True, True, True, True, True, False])))
    print(f"{exact} of {len(table)} exactly SCALE-Sim's total + 1; largest difference {worst:.4f}% "
          f"(tolerance {args.tolerance}%)")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
