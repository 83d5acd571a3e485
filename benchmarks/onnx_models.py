"""The ONNX model zoo's classic CNNs, as the onnx package ships them, through dlpsim.

Imports every ``onnx/backend/test/data/light/*.onnx`` model of the installed onnx package
(the zoo's networks with their weights replaced by generators), prints its layers,
parameters and MACs, then compiles and simulates every layer on dlp-s and dlp-m (what
`dlpsim net run MODEL --preset P` prints as its totals). docs/onnx.md quotes the table.

    .venv/bin/python benchmarks/onnx_models.py            # every model, both presets
    .venv/bin/python benchmarks/onnx_models.py resnet50   # the models whose name contains it
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import onnx
from host import host_line

from dlpsim.analysis.tables import align, percent
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.workloads import load_network

LIGHT_MODELS = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
PRESETS = ("dlp-s", "dlp-m")


def main(filters: list[str]) -> int:
    models = sorted(path for path in LIGHT_MODELS.glob("*.onnx") if not filters
                    or any(text in path.stem for text in filters))
    rows = []
    started = time.perf_counter()
    for path in models:
        network = load_network(str(path))
        row = [path.name, f"{len(network.nodes)}", f"{network.params:,}", f"{network.macs:,}"]
        for preset in PRESETS:
            machine = load_machine(preset)
            run = run_network(network, machine)
            row += [f"{run.cycles:,}", percent(run.efficiency)]
        rows.append(row)
        print(f"{path.name}: done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
    header = ["model", "layers", "params", "MACs"]
    for preset in PRESETS:
        header += [f"{preset} cycles", f"{preset} eff"]
    print("\n".join(align([header, ["-" * len(cell) for cell in header], *rows],
                           [False] + [True] * (len(header) - 1))))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    print(host_line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
