"""dlpsim's energy-objective programs beside ZigZag's energy-optimal mappings, layer by layer.

The script installs nothing. It needs ZigZag (``zigzag-dse``, which imports ``six`` without
declaring it) and dlpsim importable from one Python, so give ZigZag its own environment and put
dlpsim in it:

    python3 -m venv /tmp/zz
    /tmp/zz/bin/pip install zigzag-dse==3.9.1 six
    /tmp/zz/bin/pip install -e .                           # dlpsim beside it, from the repository root
    /tmp/zz/bin/python benchmarks/vs_zigzag.py              # AlexNet (single tower) and VGG-16
    /tmp/zz/bin/python benchmarks/vs_zigzag.py --layers vgg16:conv1_1 alexnet-single:fc8

DLP-S is described to ZigZag from the preset itself (``--preset``, ``--set`` as everywhere):
a rows x columns array of MACs (``core.matrix.rows`` x ``columns``, 16 x 16 = the 256 MACs per
cycle of the throughput model) at ``core.matrix.mac_32_pj`` per MAC; WRAM (weights) and NRAM
(inputs and outputs) of the preset's capacities, each with a 2048-bit port (256 B per cycle,
the NRAM <-> WRAM link's width: an assumption, the textbook gives none); DRAM holding all three
at the DRAM link's width (512 bits at 64 B per cycle). ZigZag charges an access of a port's
full width, so each memory's cost per access is the preset's pJ per byte times the port's
bytes: the same energy per byte as dlpsim. Below the array, each processing element has a
weight register (one word) and an accumulator file (32 words) that cost nothing, as dlpsim
charges nothing below its NRAM and WRAM. Every operand is 32 bits (FP32). The spatial
unrolling is K16 x C16 (output x input channels), or K16 x OX16 where a layer has fewer than 16
input channels (the first convolutions), which keeps ZigZag's array busy there.

For every convolution and fully connected layer of each network (batch 1), without its bias
(ZigZag's workload, O += W x I, has none), so that both count the same work and tensors:

- ZigZag: its LOMA temporal mapping search (``--lpf-limit``, default 4) minimising energy;
  its latency (``latency_total2``), its DRAM traffic (every access of the DRAM level, of all
  operands, at the port's width) and its energy (MACs and memory accesses; ZigZag has no static
  power).
- dlpsim: the layer compiled with ``--objective energy`` and with the default ``time``,
  simulated; cycles, DRAM bytes, and energy as dlpsim counts it: dynamic (operations and
  memory traffic, ZigZag's scope) and total (with the static power over the run).

The targets: on every layer dlpsim's energy-objective program moves no more DRAM bytes and
uses no more energy (dynamic, the scope both count) than ZigZag's energy-optimal mapping, at
no more than 2% more cycles than dlpsim's time-objective program. The exit status is 1 if a
target is missed, else 0 (also when ZigZag cannot be imported: then the script says how to
install it and stops). docs/energy.md has the table and what it means.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from measured import machine_line, write_records

from dlpsim.analysis.tables import align
from dlpsim.compiler import Objective
from dlpsim.machine import MachineConfig, load_machine
from dlpsim.run.compile import compile_layer
from dlpsim.workloads import Conv2d, FullyConnected, get_network

DEFAULT_NETWORKS = ["alexnet-single", "vgg16"]
INSTALL = """\
    python3 -m venv /tmp/zz
    /tmp/zz/bin/pip install zigzag-dse==3.9.1 six
    /tmp/zz/bin/pip install -e .        # dlpsim beside it, from the repository root
    /tmp/zz/bin/python benchmarks/vs_zigzag.py"""

WORD_BITS = 32  # FP32 operands
ON_CHIP_PORT_BITS = 2048  # assumption: 256 B per cycle, the NRAM <-> WRAM link's width
ACCUMULATOR_WORDS = 32  # per processing element, free (dlpsim charges nothing below NRAM)
CYCLES_TARGET = Fraction(102, 100)  # at most 2% more cycles than the time objective's program
PJ_PER_UJ = 10**6


def zigzag_missing() -> str | None:
    """None if ZigZag imports, else why not."""
    try:
        import zigzag.api  # noqa: F401
    except Exception as error:  # any failure to import means it cannot be compared
        return f"{type(error).__name__}: {error}"
    return None


# -- DLP-S described to ZigZag --------------------------------------------------------------

def _port(name: str, kind: str, bits: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": WORD_BITS, "bandwidth_max": bits,
            "allocation": allocation}


def _memory(bits: int, read_pj_per_byte: Fraction, write_pj_per_byte: Fraction, port_bits: int,
            operands: list[str], ports: list[dict], served: list[str]) -> dict:
    """A memory level; ZigZag charges an access of the port's full width, so the cost per access
    is the pJ per byte times the port's bytes."""
    return {"size": bits, "r_cost": float(read_pj_per_byte * port_bits / 8),
            "w_cost": float(write_pj_per_byte * port_bits / 8), "area": 0, "latency": 1,
            "operands": operands, "ports": ports, "served_dimensions": served}


def _read_write_ports(operands: list[str], bits: int) -> list[dict]:
    reads = [f"{op}, tl" for op in operands] + (["O, th"] if "O" in operands else [])
    writes = [f"{op}, fh" for op in operands] + (["O, fl"] if "O" in operands else [])
    return [_port("r_port_1", "read", bits, reads), _port("w_port_1", "write", bits, writes)]


def accelerator(machine: MachineConfig) -> dict:
    """The machine as ZigZag's accelerator description (YAML; JSON is YAML)."""
    matrix, array = machine.core.matrix, ["D1", "D2"]
    dram_bits = int(machine.bytes_per_cycle(machine.dram.link) * 8)
    free = Fraction(0)
    inputs_outputs = ["I1", "O"]
    memories = {
        "weight_register": _memory(WORD_BITS, free, free, WORD_BITS, ["I2"],
                                   _read_write_ports(["I2"], WORD_BITS), []),
        "accumulators": _memory(ACCUMULATOR_WORDS * WORD_BITS, free, free, WORD_BITS, ["O"],
                                [_port("r_port_1", "read", WORD_BITS, ["O, tl"]),
                                 _port("r_port_2", "read", WORD_BITS, ["O, th"]),
                                 _port("w_port_1", "write", WORD_BITS, ["O, fh"]),
                                 _port("w_port_2", "write", WORD_BITS, ["O, fl"])], []),
        "wram": _memory(machine.core.wram.capacity_bytes * 8, machine.read_pj_per_byte("WRAM"),
                        machine.write_pj_per_byte("WRAM"), ON_CHIP_PORT_BITS, ["I2"],
                        _read_write_ports(["I2"], ON_CHIP_PORT_BITS), array),
        "nram": _memory(machine.core.nram.capacity_bytes * 8, machine.read_pj_per_byte("NRAM"),
                        machine.write_pj_per_byte("NRAM"), ON_CHIP_PORT_BITS, inputs_outputs,
                        _read_write_ports(inputs_outputs, ON_CHIP_PORT_BITS), array),
        "dram": _memory(machine.dram.capacity_bytes * 8, machine.read_pj_per_byte("DRAM"),
                        machine.write_pj_per_byte("DRAM"), dram_bits, ["I1", "I2", "O"],
                        [_port("rw_port_1", "read_write", dram_bits,
                               [f"{op}, {direction}" for op in ("I1", "I2", "O")
                                for direction in ("fh", "tl")] + ["O, fl", "O, th"])], array),
    }
    return {"name": machine.name.replace("-", "_"), "memories": memories,
            "operational_array": {"unit_energy": float(machine.operation_pj("MAC_32")), "unit_area": 1,
                                  "dimensions": array, "sizes": [matrix.rows, matrix.columns]}}


@dataclass(frozen=True)
class Layer:
    network: str
    layer: Conv2d | FullyConnected

    @property
    def name(self) -> str:
        return f"{self.network}:{self.layer.name}"


def zigzag_layer(layer: Conv2d | FullyConnected) -> dict:
    """A convolution (a fully connected layer: a 1x1 one on a 1x1 map) in ZigZag's workload form."""
    if isinstance(layer, Conv2d):
        channels, height, width = layer.input_shape
        outputs, out_height, out_width = layer.output_shape
        (kernel_y, kernel_x), (stride_y, stride_x) = layer.kernel, layer.stride
        padding_y, padding_x = layer.padding
    else:
        channels, height, width, outputs = layer.in_features, 1, 1, layer.out_features
        out_height = out_width = kernel_y = kernel_x = stride_y = stride_x = 1
        padding_y = padding_x = 0
    return {"id": 0, "name": layer.name, "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={stride_x}*ox+1*fx", f"iy={stride_y}*oy+1*fy"],
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, outputs, channels, out_height, out_width, kernel_y, kernel_x],
            "operand_precision": {"I": WORD_BITS, "W": WORD_BITS, "O": WORD_BITS, "O_final": WORD_BITS},
            "operand_source": {"I": 0, "W": 0},
            "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [width, height],
            "padding": [[padding_x, padding_x], [padding_y, padding_y]]}


def zigzag_mapping(layer: Conv2d | FullyConnected, machine: MachineConfig) -> list[dict]:
    matrix = machine.core.matrix
    channels = layer.input_shape[0] if isinstance(layer, Conv2d) else layer.in_features
    across = ["C", matrix.columns] if channels >= matrix.columns else ["OX", matrix.columns]
    return [{"name": "default",
             "spatial_mapping": {"D1": [f"K, {matrix.rows}"], "D2": [f"{across[0]}, {across[1]}"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


@dataclass(frozen=True)
class Theirs:
    cycles: int
    dram_bytes: int
    energy_pj: float
    seconds: float


def run_zigzag(layer: Conv2d | FullyConnected, machine: MachineConfig, folder: Path,
               lpf_limit: int) -> Theirs:
    from zigzag.api import get_hardware_performance_zigzag

    hardware, mapping = folder / "dlp.yaml", folder / "mapping.yaml"
    hardware.write_text(json.dumps(accelerator(machine), indent=1))
    mapping.write_text(json.dumps(zigzag_mapping(layer, machine), indent=1))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        energy, latency, cmes = get_hardware_performance_zigzag(
            [zigzag_layer(layer)], str(hardware), str(mapping), opt="energy", lpf_limit=lpf_limit,
            dump_folder=str(folder / "out"), pickle_filename=str(folder / "cmes.pickle"),
            loma_show_progress_bar=False)
    elapsed = time.perf_counter() - started
    cme = cmes[0][1][0][0]
    dram_bits = int(machine.bytes_per_cycle(machine.dram.link) * 8)
    accesses = 0  # of the DRAM level (the last of each operand's levels), every direction
    for moves in cme.memory_word_access.values():
        accesses += sum(moves[-1].data.values())
    return Theirs(round(latency), round(accesses * dram_bits / 8), float(energy), elapsed)


@dataclass(frozen=True)
class Ours:
    cycles: int
    time_cycles: int  # of the time objective's program
    dram_bytes: int
    dynamic_pj: Fraction
    total_pj: Fraction
    seconds: float


def run_dlpsim(layer: Conv2d | FullyConnected, machine: MachineConfig) -> Ours:
    started = time.perf_counter()
    frugal = compile_layer(layer, machine, objective=Objective.ENERGY).stats
    elapsed = time.perf_counter() - started
    fastest = compile_layer(layer, machine).stats
    return Ours(frugal.cycles, fastest.cycles, frugal.dram_bytes, frugal.energy.dynamic_pj,
                frugal.energy.total_pj, elapsed)


def select(layers: list[Layer], names: list[str]) -> list[Layer]:
    chosen = [layer for layer in layers if layer.name in names or layer.layer.name in names]
    unknown = [name for name in names if not any(name in (layer.name, layer.layer.name) for layer in layers)]
    if unknown:
        raise SystemExit(f"vs_zigzag.py: error: no such layer: {', '.join(unknown)} "
                         f"(known: {', '.join(layer.name for layer in layers)})")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=DEFAULT_NETWORKS, metavar="NETWORK")
    parser.add_argument("--layers", nargs="+", metavar="[NETWORK:]LAYER", help="only these layers")
    parser.add_argument("--preset", default="dlp-s")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--lpf-limit", type=int, default=4, help="ZigZag's LOMA search limit (default 4)")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    args = parser.parse_args(argv)

    machine = load_machine(args.preset, overrides=args.overrides)
    # Without their biases, which ZigZag's workload (O += W x I) has no place for: both then
    # count the same work and the same tensors.
    layers = [Layer(name, dataclasses.replace(layer, bias=False)) for name in args.networks
              for layer in get_network(name).layers if isinstance(layer, Conv2d | FullyConnected)]
    if args.layers:
        layers = select(layers, args.layers)
    missing = zigzag_missing()
    if missing is not None:
        print(f"ZigZag is not importable from this Python ({sys.executable}: {missing}); nothing was "
              f"compared.\nThis benchmark would run ZigZag and dlpsim on the same {len(layers)} layers "
              f"({', '.join(args.networks)}) on {machine.name} and print each layer's cycles, DRAM bytes "
              f"and energy from both, and their ratios. Give ZigZag its own environment with dlpsim "
              f"beside it:\n{INSTALL}")
        return 0
    logging.disable(logging.WARNING)  # ZigZag logs every step at INFO level

    header = ["layer", "ZZ cycles", "dlpsim cycles", "/ZZ", "/time obj", "ZZ DRAM B", "dlpsim DRAM B",
              "/ZZ", "ZZ uJ", "dlpsim uJ dyn", "/ZZ", "dlpsim uJ total"]
    table, records, missed = [], [], []
    pairs: list[tuple[Theirs, Ours]] = []
    print(f"{machine.name}: ZigZag's energy-optimal mappings (LOMA, lpf limit {args.lpf_limit}) vs "
          "dlpsim's --objective energy programs (simulated)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vs_zigzag_") as scratch:
        for index, layer in enumerate(layers):
            folder = Path(scratch) / str(index)
            folder.mkdir()
            theirs = run_zigzag(layer.layer, machine, folder, args.lpf_limit)
            ours = run_dlpsim(layer.layer, machine)
            energy_ratio = float(ours.dynamic_pj) / theirs.energy_pj
            row = [layer.name, f"{theirs.cycles:,}", f"{ours.cycles:,}", f"{ours.cycles / theirs.cycles:.3f}",
                   f"{ours.cycles / ours.time_cycles:.4f}", f"{theirs.dram_bytes:,}", f"{ours.dram_bytes:,}",
                   f"{ours.dram_bytes / theirs.dram_bytes:.3f}", f"{theirs.energy_pj / PJ_PER_UJ:,.1f}",
                   f"{float(ours.dynamic_pj) / PJ_PER_UJ:,.1f}", f"{energy_ratio:.3f}",
                   f"{float(ours.total_pj) / PJ_PER_UJ:,.1f}"]
            table.append(row)
            print(f"  {' '.join(row)}  (ZigZag {theirs.seconds:.1f} s, dlpsim {ours.seconds:.2f} s)",
                  file=sys.stderr, flush=True)
            failures = [what for what, failed in (
                ("DRAM bytes", ours.dram_bytes > theirs.dram_bytes),
                ("energy", ours.dynamic_pj > Fraction(theirs.energy_pj)),
                ("cycles", ours.cycles > CYCLES_TARGET * ours.time_cycles)) if failed]
            if failures:
                missed.append(f"{layer.name} ({', '.join(failures)})")
            records.append({"layer": layer.name, "zigzag_cycles": theirs.cycles, "dlpsim_cycles": ours.cycles,
                            "dlpsim_time_objective_cycles": ours.time_cycles,
                            "zigzag_dram_bytes": theirs.dram_bytes, "dlpsim_dram_bytes": ours.dram_bytes,
                            "zigzag_energy_pj": f"{theirs.energy_pj:.3f}",
                            "dlpsim_dynamic_energy_pj": f"{float(ours.dynamic_pj):.3f}",
                            "dlpsim_total_energy_pj": f"{float(ours.total_pj):.3f}",
                            "zigzag_seconds": f"{theirs.seconds:.3f}",
                            "dlpsim_seconds": f"{ours.seconds:.3f}"})
            pairs.append((theirs, ours))

    def total(figure) -> int | float | Fraction:
        return sum(figure(theirs, ours) for theirs, ours in pairs)
    their_cycles, our_cycles = total(lambda t, o: t.cycles), total(lambda t, o: o.cycles)
    time_cycles = total(lambda t, o: o.time_cycles)
    their_bytes, our_bytes = total(lambda t, o: t.dram_bytes), total(lambda t, o: o.dram_bytes)
    their_pj, our_dynamic = total(lambda t, o: t.energy_pj), total(lambda t, o: o.dynamic_pj)
    our_total = total(lambda t, o: o.total_pj)
    their_s, our_s = total(lambda t, o: t.seconds), total(lambda t, o: o.seconds)
    table.append(["total", f"{their_cycles:,}", f"{our_cycles:,}", f"{our_cycles / their_cycles:.3f}",
                  f"{our_cycles / time_cycles:.4f}", f"{their_bytes:,}", f"{our_bytes:,}",
                  f"{our_bytes / their_bytes:.3f}", f"{their_pj / PJ_PER_UJ:,.1f}",
                  f"{float(our_dynamic) / PJ_PER_UJ:,.1f}", f"{float(our_dynamic) / their_pj:.3f}",
                  f"{float(our_total) / PJ_PER_UJ:,.1f}"])
    print("\n".join(align([header, *table], [False] + [True] * (len(header) - 1))))
    print(f"{len(layers)} layers; targets (on every layer: DRAM bytes and dynamic energy <= ZigZag's, "
          "cycles <= 1.02 x the time objective's): "
          + ("all met" if not missed else "missed on " + "; ".join(missed)))
    print(f"wall time: ZigZag {their_s:.1f} s, dlpsim {our_s:.1f} s (compiling with the energy objective "
          f"and simulating)")
    print(machine_line())
    if args.csv:
        write_records(args.csv, records)
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
