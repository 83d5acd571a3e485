"""How long does `dlpsim net verify` take, and where does the time go?

Run from the repository root:

    .venv/bin/python benchmarks/verify.py [NETWORK ...]

For LeNet-5, the MLP, AlexNet, ResNet-18, the LSTM language model and the transformers BERT-base,
GPT-2 (prefill) and GPT-2 (one decoding step), these on 8 tokens (or the networks named) on
dlp-s and dlp-m, each row verifies every layer as `dlpsim net verify` does (compiler caches cleared
first) and prints the wall time, split into compiling (the compiler's search, which simulates its
candidates) and verifying (drawing the data, packing it, executing the program functionally,
comparing with the reference), the instructions executed and the worst error as a fraction of its
tolerance. Functional execution should be numpy's work, not Python's per instruction: the
instructions per second of verifying say which. The exit status is 1 if a network fails to
verify or ResNet-18 takes a minute or more.
"""

from __future__ import annotations

import os
import platform
import sys
import time

from dlpsim.analysis.tables import align
from dlpsim.machine import load_machine
from dlpsim.run import compile as compilation
from dlpsim.run.verify import verify_network
from dlpsim.workloads import load_network

NETWORKS = ("lenet5", "mlp", "alexnet", "resnet18", "lstm-lm", "bert-base", "gpt2", "gpt2-decode")
TOKENS = {"bert-base": 8, "gpt2": 8, "gpt2-decode": 8}  # a short sequence: the row work, quickly
PRESETS = ("dlp-s", "dlp-m")
LIMIT_SECONDS = {"resnet18": 60.0}  # issue 12's target


def row(network_name: str, preset: str) -> tuple[list[str], bool]:
    compilation._search.cache_clear()
    compilation._least.cache_clear()
    network = load_network(network_name, seq=TOKENS.get(network_name))
    machine = load_machine(preset)
    compiling = 0.0

    def compiled(layer):
        nonlocal compiling
        start = time.perf_counter()
        result = compilation.compile_layer(layer, machine, network.batch).compiled
        compiling += time.perf_counter() - start
        return result

    start = time.perf_counter()
    check = verify_network(network, machine, compiled_layer=compiled)
    seconds = time.perf_counter() - start
    verifying = seconds - compiling
    instructions = sum(layer.instructions for layer in check.layers)
    worst = max((layer.worst_of_tolerance for layer in check.layers), default=0.0)
    passed = check.passed and seconds < LIMIT_SECONDS.get(network_name, float("inf"))
    return [network_name, preset, str(len(check.layers)), f"{seconds:.1f}", f"{compiling:.1f}",
            f"{verifying:.1f}", f"{instructions:,}", f"{instructions / verifying:,.0f}" if verifying else "-",
            f"{worst:.3f}", "yes" if check.passed else "NO"], passed


def main(names: list[str]) -> int:
    uname = platform.uname()
    print(f"machine: {platform.processor() or uname.machine}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    rows = [["network", "preset", "layers", "seconds", "compiling", "verifying", "instructions",
             "instructions/s", "worst / tolerance", "verified"]]
    ok = True
    for name in names or NETWORKS:
        for preset in PRESETS:
            cells, passed = row(name, preset)
            rows.append(cells)
            ok = ok and passed
            print(f"  {name} on {preset}: {cells[3]} s", file=sys.stderr)
    print("\n".join(align(rows, [False, False, *[True] * 7, False])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
