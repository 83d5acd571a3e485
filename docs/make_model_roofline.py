"""Draw docs/images/roofline_models.png: ResNet-50, BERT-base and GPT-2 decoding on dlp-s and dlp-m.

Run from the repository's root (about a minute):

    .venv/bin/python docs/make_model_roofline.py

Each network is compiled and simulated layer by layer on each preset, as `dlpsim roofline`
does; the figure has one panel per preset, and beside it a CSV per preset
(docs/images/roofline_models_dlp_s.csv, ..._dlp_m.csv). It prints what `dlpsim roofline`
prints for each preset, the text docs/roofline.md quotes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlpsim.analysis.roofline import format_roofline, plot_rooflines, roofline
from dlpsim.machine import load_machine
from dlpsim.run.network import run_network
from dlpsim.workloads import get_network

NETWORKS = ("resnet50", "bert-base", "gpt2-decode")  # a CNN, a transformer encoder, LLM decoding
PRESETS = ("dlp-s", "dlp-m")
IMAGES = Path(__file__).resolve().parent / "images"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=IMAGES,
                        help="where to write the figure and CSVs (default: docs/images)")
    images = parser.parse_args(argv).images
    results = []
    for preset in PRESETS:
        machine = load_machine(preset)
        runs = [run_network(get_network(name), machine, max_cycles=None) for name in NETWORKS]
        result = roofline(machine, runs)
        result.write_csv(images / f"roofline_models_{preset.replace('-', '_')}.csv")
        print(format_roofline(result))
        results.append(result)
    plot_rooflines(results, str(images / "roofline_models.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
