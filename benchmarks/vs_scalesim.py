"""dlpsim's systolic compute cycles against SCALE-Sim v3's, layer by layer, with both wall times.

The script installs nothing. It needs SCALE-Sim (``scalesim``, NumPy < 2) and dlpsim importable
from one Python, so give SCALE-Sim its own environment and put dlpsim in it:

    python3 -m venv /tmp/ss
    /tmp/ss/bin/pip install scalesim==3.0.0 'numpy<2'
    /tmp/ss/bin/pip install -e . 'numpy<2'
    /tmp/ss/bin/python benchmarks/vs_scalesim.py                    # AlexNet, VGG-16, exercises
    /tmp/ss/bin/python benchmarks/vs_scalesim.py 17x33x15 --array 8x4 --dataflows ws
    /tmp/ss/bin/python benchmarks/vs_scalesim.py --layers alexnet:conv1 --full

Workloads: the convolutions of each network in --networks (or its fully connected layers when
it has no convolution, as textbook-fc, whose layers are the exercise GEMMs), each turned into
the GEMM of M output positions x K = FilterH x FilterW x Channels x N filters; a grouped
convolution is that many independent GEMMs of 1/groups of the channels and filters. GEMMs
given on the command line as MxKxN are compared too (alone, unless --networks is given).

For every layer, array and dataflow:

- SCALE-Sim: its operand matrices are built from the layer (a convolution row, so its own
  im2col must give the same M, K, N), then its compute system (``scalesim.compute.
  systolic_compute_{os,ws,is}``) builds the demand matrices, one row per cycle of the array
  with no memory stall; their row count is its compute cycles. The compute system is run
  fold by fold (each call gets one fold's slice of the operands), because run on a whole
  large layer its os and is modules copy the growing matrices once per fold, which takes
  hours and gigabytes on VGG-16; the rows of a whole run are the folds' rows one after the
  other, which ``--whole`` checks by running it on the whole layer instead. With ``--full``
  its whole layer simulation runs instead (memory system included, CALC bandwidth, 1 MB
  SRAMs), and its "Total Cycles" + 1 is compared (it reports the zero-based index of the
  last cycle): 0.15 to 0.2 ms per simulated cycle, so hours for VGG-16.
- dlpsim: ``compute MAC_32 MxKxN`` (once per group) simulated by ``simulate()`` on dlp-s with
  ``core.matrix.model = "systolic"`` and the same array and dataflow; the time covers
  assembling and simulating.

The exit status is 1 if any layer's counts differ by more than --tolerance percent or dlpsim
is not at least --min-speedup times faster over the whole comparison, else 0 (also when
SCALE-Sim cannot be imported: then the script says how to install it and stops).
docs/systolic.md explains how the two models' conventions correspond.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from measured import machine_line, write_records

from dlpsim.analysis.tables import align
from dlpsim.asm import assemble
from dlpsim.machine import load_machine
from dlpsim.machine.config import DATAFLOWS
from dlpsim.sim import simulate
from dlpsim.workloads import Conv2d, FullyConnected, Network, get_network, network_names

DEFAULT_NETWORKS = ["alexnet", "vgg16", "textbook-fc"]

INSTALL = """\
    python3 -m venv /tmp/ss
    /tmp/ss/bin/pip install scalesim==3.0.0 'numpy<2'
    /tmp/ss/bin/pip install -e . 'numpy<2'        # dlpsim beside it, from the repository root
    /tmp/ss/bin/python benchmarks/vs_scalesim.py"""


@dataclass(frozen=True)
class Workload:
    """One layer as GEMMs: ``groups`` independent M x K x N products (K and N per group)."""

    network: str  # "gemm" for a GEMM given on the command line
    layer: str
    m: int
    k: int
    n: int
    groups: int = 1
    # SCALE-Sim's convolution row for one group: IfmapH, IfmapW, FilterH, FilterW, Channels,
    # NumFilter, StrideH, StrideW (the input already padded); None: a GEMM row (M, N, K).
    conv: tuple[int, int, int, int, int, int, int, int] | None = None

    @property
    def name(self) -> str:
        return f"{self.network}:{self.layer}"

    @property
    def shape(self) -> str:
        text = f"{self.m}x{self.k}x{self.n}"
        return f"{self.groups} x {text}" if self.groups > 1 else text


def conv_workload(network: str, layer: Conv2d) -> Workload:
    """A convolution as GEMMs: M output positions, K = window x channels of a group, N its filters."""
    _, height, width = layer.output_shape
    (kernel_h, kernel_w), (stride_h, stride_w) = layer.kernel, layer.stride
    channels, filters = layer.in_channels // layer.groups, layer.out_channels // layer.groups
    # SCALE-Sim takes the padded input and sizes the output ceil((I - F + S) / S); the input
    # the windows actually cover, (out - 1) x stride + kernel, gives exactly the layer's output.
    row = ((height - 1) * stride_h + kernel_h, (width - 1) * stride_w + kernel_w, kernel_h, kernel_w,
           channels, filters, stride_h, stride_w)
    return Workload(network, layer.name, height * width, kernel_h * kernel_w * channels, filters,
                    layer.groups, row)


def fc_workload(network: str, layer: FullyConnected) -> Workload:
    return Workload(network, layer.name, layer.rows, layer.in_features, layer.out_features)


def network_workloads(network: Network, with_fc: bool = False) -> list[Workload]:
    """A network's convolutions, or its fully connected layers when it has none (or with_fc)."""
    has_convs = any(isinstance(layer, Conv2d) for layer in network.layers)
    workloads = []
    for layer in network.layers:
        if isinstance(layer, Conv2d):
            workloads.append(conv_workload(network.name, layer))
        elif isinstance(layer, FullyConnected) and (with_fc or not has_convs):
            workloads.append(fc_workload(network.name, layer))
    return workloads


def parse_gemm(text: str) -> Workload:
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected MxKxN with positive whole numbers, got {text!r}")
    m, k, n = (int(part) for part in parts)
    return Workload("gemm", f"{m}x{k}x{n}", m, k, n)


def parse_array(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLUMNS, got {text!r}")
    return int(parts[0]), int(parts[1])


def select(workloads: list[Workload], names: list[str]) -> list[Workload]:
    """The workloads named NETWORK:LAYER or LAYER (in any network); every name must match."""
    chosen = []
    for name in names:
        found = [w for w in workloads if name in (w.name, w.layer)]
        if not found:
            raise SystemExit(f"vs_scalesim.py: error: --layers: no layer {name!r} among "
                             f"{', '.join(w.name for w in workloads)}")
        chosen += [w for w in found if w not in chosen]
    return [w for w in workloads if w in chosen]


# -- dlpsim --------------------------------------------------------------------------------

def systolic_machine(rows: int, columns: int, dataflow: str):
    return load_machine("dlp-s", overrides=["core.matrix.model=systolic", f"core.matrix.rows={rows}",
                                            f"core.matrix.columns={columns}",
                                            f"core.matrix.dataflow={dataflow}"])


def dlpsim_cycles(workload: Workload, machine) -> tuple[int, float]:
    """dlpsim's cycles for the layer's GEMMs (one ``compute`` per group) and the seconds taken."""
    start = time.perf_counter()
    program = assemble("\n".join([f"compute MAC_32 {workload.m}x{workload.k}x{workload.n}"]
                                 * workload.groups) + "\n")
    cycles = simulate(program, machine).cycles
    return cycles, time.perf_counter() - start


# -- SCALE-Sim -----------------------------------------------------------------------------

# SCALE-Sim's configuration: CALC interface bandwidth (its reads never stall), 1 MB SRAMs.
_CONFIG = """[general]
run_name = vs_dlpsim

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


class ScaleSim:
    """SCALE-Sim v3 driven through its Python API, writing no files."""

    def __init__(self, rows: int, columns: int, dataflow: str):
        from scalesim.compute.operand_matrix import operand_matrix
        from scalesim.compute.systolic_compute_is import systolic_compute_is
        from scalesim.compute.systolic_compute_os import systolic_compute_os
        from scalesim.compute.systolic_compute_ws import systolic_compute_ws
        from scalesim.layout_utils import layouts
        from scalesim.scale_config import scale_config
        from scalesim.single_layer_sim import single_layer_sim
        from scalesim.topology_utils import topologies

        self.operand_matrix, self.layouts, self.topologies = operand_matrix, layouts, topologies
        self.single_layer_sim = single_layer_sim
        self.compute = {"os": systolic_compute_os, "ws": systolic_compute_ws,
                        "is": systolic_compute_is}[dataflow]
        self.rows, self.columns, self.dataflow = rows, columns, dataflow
        self.config = scale_config()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "scalesim.cfg"
            path.write_text(_CONFIG.format(rows=rows, columns=columns, dataflow=dataflow))
            self.config.read_conf_file(str(path))

    def topology(self, workload: Workload):
        """One group of the layer as SCALE-Sim's topology (the entries its CSV readers make)."""
        topology = self.topologies()
        if workload.conv is None:  # what load_arrays_gemm makes of "name, M, N, K,"
            entries = [workload.layer, workload.m, workload.k, 1, workload.k, 1, workload.n, 1, 1, 1, 1]
        else:
            entries = [workload.layer, *workload.conv, 1, 1]
        topology.load_layer_params_from_list(workload.layer, entries)
        return topology

    def operands(self, workload: Workload):
        """SCALE-Sim's ifmap (M x K), filter (K x N) and ofmap (M x N) address matrices."""
        matrices = self.operand_matrix()
        matrices.set_params(config_obj=self.config, topoutil_obj=self.topology(workload),
                            layoututil_obj=self.layouts(), layer_id=0)
        ifmap = matrices.get_ifmap_matrix()[1]
        filters = matrices.get_filter_matrix()[1]
        ofmap = matrices.get_ofmap_matrix()[1]
        shapes = (ifmap.shape, filters.shape, ofmap.shape)
        expected = ((workload.m, workload.k), (workload.k, workload.n), (workload.m, workload.n))
        if shapes != expected:
            raise RuntimeError(f"{workload.name}: SCALE-Sim's operand matrices are {shapes}, "
                               f"expected {expected} from M x K x N = {workload.m}x{workload.k}x{workload.n}")
        return ifmap, filters, ofmap

    def folds(self, ifmap, filters, ofmap):
        """Each fold's slices of the operands, in SCALE-Sim's order (column folds outermost)."""
        rows, columns = self.rows, self.columns
        m, k = ifmap.shape
        n = filters.shape[1]
        if self.dataflow == "os":  # M on the rows, N on the columns
            for c in range(0, n, columns):
                for r in range(0, m, rows):
                    yield ifmap[r:r + rows, :], filters[:, c:c + columns], ofmap[r:r + rows, c:c + columns]
        elif self.dataflow == "ws":  # K on the rows, N on the columns
            for c in range(0, n, columns):
                for r in range(0, k, rows):
                    yield ifmap[:, r:r + rows], filters[r:r + rows, c:c + columns], ofmap[:, c:c + columns]
        else:  # is: K on the rows, M on the columns
            for c in range(0, m, columns):
                for r in range(0, k, rows):
                    yield ifmap[c:c + columns, r:r + rows], filters[r:r + rows, :], ofmap[c:c + columns, :]

    def demand_rows(self, ifmap, filters, ofmap) -> int:
        """Rows of the compute system's demand matrices for these operands (its cycles)."""
        system = self.compute()
        system.set_params(config_obj=self.config, ifmap_op_mat=ifmap, filter_op_mat=filters,
                          ofmap_op_mat=ofmap)
        demands = system.get_demand_matrices()
        counts = {matrix.shape[0] for matrix in demands}
        if len(counts) != 1:
            raise RuntimeError(f"SCALE-Sim's demand matrices disagree: {[d.shape for d in demands]}")
        return counts.pop()

    def compute_cycles(self, workload: Workload, whole: bool = False) -> tuple[int, float]:
        """The compute system's cycles for every group of the layer, and the seconds taken."""
        start = time.perf_counter()
        cycles = 0
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(workload.groups):
                operands = self.operands(workload)
                if whole:
                    cycles += self.demand_rows(*operands)
                else:
                    cycles += sum(self.demand_rows(*fold) for fold in self.folds(*operands))
        return cycles, time.perf_counter() - start

    def layer_cycles(self, workload: Workload) -> tuple[int, int, float]:
        """The whole layer simulation of every group: (Total Cycles + 1, Stall Cycles, seconds)."""
        start = time.perf_counter()
        cycles = stalls = 0
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(workload.groups):
                layer = self.single_layer_sim()
                layer.set_params(layer_id=0, config_obj=self.config, topology_obj=self.topology(workload),
                                 layout_obj=self.layouts(), verbose=False)
                layer.run()
                cycles += layer.memory_system.get_total_compute_cycles() + 1
                stalls += layer.memory_system.get_stall_cycles()
        return cycles, stalls, time.perf_counter() - start


def scalesim_missing() -> str | None:
    """Why SCALE-Sim cannot be used from this Python, or None."""
    try:
        import scalesim.compute.systolic_compute_os  # noqa: F401
    except ImportError as error:
        return str(error)
    return None


# -- the comparison ------------------------------------------------------------------------

def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:,.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gemms", nargs="*", type=parse_gemm, metavar="MxKxN",
                        help="GEMMs to compare as well (alone unless --networks is given)")
    parser.add_argument("--networks", nargs="+", choices=network_names(), metavar="NETWORK",
                        help=f"networks whose layers to compare (default: {' '.join(DEFAULT_NETWORKS)})")
    parser.add_argument("--layers", nargs="+", metavar="[NETWORK:]LAYER",
                        help="only these layers of the networks")
    parser.add_argument("--fc", action="store_true",
                        help="compare the fully connected layers of networks that have convolutions too")
    parser.add_argument("--dataflows", nargs="+", choices=DATAFLOWS, default=list(DATAFLOWS))
    parser.add_argument("--array", type=parse_array, default=(16, 16), metavar="ROWSxCOLUMNS",
                        help="the systolic array (default 16x16)")
    parser.add_argument("--full", action="store_true",
                        help="run SCALE-Sim's whole layer simulation (memory system too; hours on VGG-16) "
                             "and compare its Total Cycles + 1")
    parser.add_argument("--whole", action="store_true",
                        help="run SCALE-Sim's compute system on each whole layer, not fold by fold "
                             "(slow and memory-hungry for os and is on large layers)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="percent (default 1)")
    parser.add_argument("--min-speedup", type=float, default=100.0,
                        help="the least overall speed ratio accepted (default 100)")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    args = parser.parse_args(argv)

    networks = args.networks if args.networks is not None else ([] if args.gemms else DEFAULT_NETWORKS)
    workloads = [w for name in networks for w in network_workloads(get_network(name), args.fc)]
    if args.layers:
        workloads = select(workloads, args.layers)
    workloads += args.gemms
    rows, columns = args.array

    missing = scalesim_missing()
    if missing is not None:
        print(f"SCALE-Sim is not importable from this Python ({sys.executable}: {missing}); "
              "nothing was compared.\n"
              f"This benchmark would run SCALE-Sim v3 and dlpsim on the same {len(workloads)} layers "
              f"({', '.join(networks + (['command-line GEMMs'] if args.gemms else []))}) on a "
              f"{rows}x{columns} array with the {', '.join(args.dataflows)} dataflows, and print each "
              "layer's compute cycles from both, their ratio and both wall times.\n"
              "SCALE-Sim needs NumPy < 2, so give it its own environment with dlpsim beside it:\n"
              f"{INSTALL}")
        return 0

    what = ("SCALE-Sim's Total Cycles + 1 (whole layer simulation, CALC bandwidth, 1 MB SRAMs)"
            if args.full else
            "SCALE-Sim's compute cycles (rows of its demand matrices, "
            + ("each layer at once)" if args.whole else "built fold by fold)"))
    print(f"{rows}x{columns} array; {what} vs dlpsim's (simulate() on dlp-s, core.matrix.model = "
          "systolic)", flush=True)
    header = ["layer", "dataflow", "MxKxN", "SCALE-Sim", "dlpsim", "dlpsim/SCALE-Sim",
              "SCALE-Sim time", "dlpsim time", "speed-up"]
    if args.full:
        header.insert(4, "stalls")
    table, records = [], []
    worst = 0.0
    total_scalesim = total_dlpsim = 0.0
    simulate(assemble("compute MAC_32 16x16x16\n"), systolic_machine(rows, columns, "os"))  # warm-up
    for dataflow in args.dataflows:
        scalesim = ScaleSim(rows, columns, dataflow)
        machine = systolic_machine(rows, columns, dataflow)
        for workload in workloads:
            stalls = None
            if args.full:
                theirs, stalls, their_time = scalesim.layer_cycles(workload)
            else:
                theirs, their_time = scalesim.compute_cycles(workload, args.whole)
            ours, our_time = dlpsim_cycles(workload, machine)
            ratio = ours / theirs
            worst = max(worst, abs(ratio - 1) * 100)
            total_scalesim += their_time
            total_dlpsim += our_time
            row = [workload.name, dataflow, workload.shape, f"{theirs:,}", f"{ours:,}", f"{ratio:.4f}",
                   seconds(their_time), seconds(our_time), f"{their_time / our_time:,.0f}x"]
            if args.full:
                row.insert(4, f"{stalls:,}")
            table.append(row)
            records.append({"network": workload.network, "layer": workload.layer, "dataflow": dataflow,
                            "array": f"{rows}x{columns}", "M": workload.m, "K": workload.k,
                            "N": workload.n, "groups": workload.groups,
                            "scalesim_cycles": theirs, "scalesim_stalls": stalls, "dlpsim_cycles": ours,
                            "ratio": f"{ratio:.6f}", "scalesim_seconds": f"{their_time:.4f}",
                            "dlpsim_seconds": f"{our_time:.6f}"})
            print(f"  {' '.join(row)}", file=sys.stderr, flush=True)  # progress: runs can be long

    right = [False, False, True, True, True, True, True, True, True] + ([True] if args.full else [])
    print("\n".join(align([header, *table], right)))
    speedup = total_scalesim / total_dlpsim if total_dlpsim else float("inf")
    print(f"{len(workloads)} layers x {len(args.dataflows)} dataflows = {len(table)} compared; "
          f"largest difference {worst:.4f}% (tolerance {args.tolerance}%); wall time SCALE-Sim "
          f"{seconds(total_scalesim)}, dlpsim {seconds(total_dlpsim)}: dlpsim {speedup:,.0f}x faster "
          f"(at least {args.min_speedup:,.0f}x required)")
    print(machine_line())
    if args.csv:
        write_records(args.csv, records)
    return 0 if worst <= args.tolerance and speedup >= args.min_speedup else 1


if __name__ == "__main__":
    sys.exit(main())
