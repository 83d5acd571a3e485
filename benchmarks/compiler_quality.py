"""How good is the code the compiler writes? Simulated cycles against the roofline bound.

Run from the repository root:

    .venv/bin/python benchmarks/compiler_quality.py     # VGG-16, ResNet-50, BERT-base, ViT-B/16,
                                                        # GPT-2 decoding; both presets
    .venv/bin/python benchmarks/compiler_quality.py --networks vgg16 --dram-networks --presets dlp-s

For each network and preset, every layer is compiled and simulated (as `dlpsim net run`
does). A layer is compute-bound when its program's compute bound is at least its DRAM
bound (the roofline of the simulated run, as `dlpsim run` reports it); the table gives
how many there are, the lowest and median efficiency (bound / cycles) among them, the
worst one, and whether all reach the target of 90%.

A DRAM-bound network (GPT-2 generating one token: every weight and the KV cache read for
one token's work) is judged as a whole: its DRAM bound (all the bytes its layers move at
the DRAM link's rate) against its simulated cycles, with the same 90% target.

Then the FC layers of the exercises (network ``textbook-fc``), compiled from their
shapes, against the hand-written programs in programs/ on the same machine. The exit
status is 1 if a compute-bound layer is under the target or a compiled FC layer is
slower than the best hand program, else 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from host import host_line

from dlpsim.asm import assemble_file
from dlpsim.machine import load_machine
from dlpsim.run.network import NetworkRun, run_network
from dlpsim.sim import simulate
from dlpsim.workloads import get_network

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.90

# compiled layer of textbook-fc, preset, hand programs of the same layer on that preset
FC_ROWS = (
    ("fc7_7", "dlp-s", ("ex7_7.asm",)),
    ("fc7_8", "dlp-s", ("ex7_8.asm",)),
    ("fc7_9", "dlp-s", ("ex7_9.asm", "ex7_9_overlap.asm", "fc_1024x256.asm")),
    ("fc7_11", "dlp-m", ("ex7_11.asm",)),
    ("fc7_12", "dlp-m", ("ex7_12.asm", "ex7_12_overlap.asm")),
)


def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.rjust(width) if i in right else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _runs(networks: list[str], presets: list[str]) -> Iterator[tuple[str, str, NetworkRun, float]]:
    """Each network simulated on each preset: (network, preset, run, wall seconds)."""
    for name in networks:
        network = get_network(name)
        for preset in presets:
            started = time.perf_counter()
            run = run_network(network, load_machine(preset), max_cycles=None)
            yield name, preset, run, time.perf_counter() - started


def network_rows(networks: list[str], presets: list[str]) -> tuple[list[list[str]], bool]:
    rows = [["network", "preset", "layers", "compute-bound", "min eff", "median eff", "worst layer",
             "all >= 90%", "cycles", "efficiency", "seconds"]]
    good = True
    for name, preset, run, wall in _runs(networks, presets):
        bound = [layer for layer in run.layers if layer.bound.kind == "compute"]
        efficiencies = [float(layer.efficiency) for layer in bound]
        ok = all(value >= TARGET for value in efficiencies)
        good &= ok
        if bound:
            worst = min(bound, key=lambda layer: (layer.efficiency, layer.name))
            figures = [f"{min(efficiencies):.1%}", f"{statistics.median(efficiencies):.1%}",
                       f"{worst.name} ({float(worst.efficiency):.1%})"]
        else:  # no compute-bound layer (an MLP at batch 1): nothing to judge
            figures = ["-", "-", "-"]
        rows.append([name, preset, str(len(run.layers)), str(len(bound)), *figures, "yes" if ok else "NO",
                     f"{run.cycles:,}", f"{float(run.efficiency):.1%}", f"{wall:.1f}"])
    return rows, good


def dram_rows(networks: list[str], presets: list[str]) -> tuple[list[list[str]], bool]:
    rows = [["network", "preset", "layers", "DRAM-bound", "DRAM bytes", "DRAM bound", "cycles",
             "DRAM bound / cycles", ">= 90%", "seconds"]]
    good = True
    for name, preset, run, wall in _runs(networks, presets):
        dram_bound = sum(1 for layer in run.layers if layer.bound.kind == "dram")
        share = run.bound.dram_cycles / run.cycles
        ok = share >= TARGET
        good &= ok
        rows.append([name, preset, str(len(run.layers)), str(dram_bound), f"{run.dram_bytes:,}",
                     f"{run.bound.dram_cycles:,}", f"{run.cycles:,}", f"{float(share):.1%}",
                     "yes" if ok else "NO", f"{wall:.1f}"])
    return rows, good


def fc_rows() -> tuple[list[list[str]], bool]:
    from dlpsim.run.compile import compile_layer

    rows = [["layer", "preset", "compiled cycles", "bound", "hand program", "hand cycles", "compiled/hand"]]
    good = True
    network = get_network("textbook-fc")
    for name, preset, programs in FC_ROWS:
        machine = load_machine(preset)
        compiled = compile_layer(network.layer(name), machine).compiled
        stats = simulate(compiled.program, machine)
        cycles = stats.cycles
        best = None
        for index, program_name in enumerate(programs):
            hand = simulate(assemble_file(str(REPO / "programs" / program_name)), machine).cycles
            best = hand if best is None else min(best, hand)
            rows.append([name if index == 0 else "", preset if index == 0 else "",
                         f"{cycles:,}" if index == 0 else "", f"{stats.bound.cycles:,}" if index == 0 else "",
                         program_name, f"{hand:,}", f"{cycles / hand:.3f}"])
        good &= cycles <= best
    return rows, good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", default=["vgg16", "resnet50", "bert-base", "vit-b16"])
    parser.add_argument("--dram-networks", nargs="*", default=["gpt2-decode"])
    parser.add_argument("--presets", nargs="+", default=["dlp-s", "dlp-m"])
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rows, networks_good = network_rows(args.networks, args.presets)
    print("Compute-bound layers: efficiency = roofline bound / simulated cycles "
          f"(target >= {TARGET:.0%}); seconds = wall time to compile and simulate the network")
    print()
    print(_table(rows, right={2, 3, 4, 5, 8, 9, 10}))
    print()
    if args.dram_networks:
        rows, dram_good = dram_rows(args.dram_networks, args.presets)
        networks_good &= dram_good
        print(f"DRAM-bound networks: their DRAM bound / simulated cycles (target >= {TARGET:.0%})")
        print()
        print(_table(rows, right={2, 3, 4, 5, 6, 7, 9}))
        print()
    rows, fc_good = fc_rows()
    print("Exercise FC layers (textbook-fc) compiled from their shapes vs the hand-written programs")
    print()
    print(_table(rows, right={2, 3, 5, 6}))
    print()
    print(f"all compute-bound layers and DRAM-bound networks >= {TARGET:.0%}: "
          f"{'yes' if networks_good else 'NO'}; "
          f"compiled FC layers match or beat the hand programs: {'yes' if fc_good else 'NO'}")
    print(f"total wall time {time.perf_counter() - started:.1f} s")
    print(host_line())
    return 0 if networks_good and fc_good else 1


if __name__ == "__main__":
    sys.exit(main())
