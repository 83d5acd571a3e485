"""How many sweep points a minute? A ResNet-18 sweep with 1, 2 and N local workers, through a Dask
LocalCluster, and from the result cache.

Run from the repository root (needs the dask extra: pip install -e ".[dask]"):

    .venv/bin/python benchmarks/sweep_scale.py             # 8 points (about two minutes on 2 CPUs)
    .venv/bin/python benchmarks/sweep_scale.py --points 4  # a quicker look

Each way runs the same command a user types, `dlpsim sweep --net resnet18 --vary
core.matrix.macs_per_cycle=16,32,...` (with --no-cache, except the cached rerun), in a fresh
process, timed from start to exit: Python's start-up, loading the network and the machines,
the workers' start and writing the CSV are all inside. N is the number of CPUs this process may
use; the LocalCluster has two single-threaded worker processes on 127.0.0.1 (this script starts
it, not dlpsim, and its start-up is not timed). The cached rerun reads back every point the first
cached run stored. Every way must write the same CSV, byte for byte: the script checks it.

The issue's targets are checked at the end: 2 workers at least 1.6 times one; the cached rerun at
least 20 times faster than simulating. The exit status is 0 either way: this is a measurement.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlpsim.analysis.tables import align
from dlpsim.run.points import cpu_count

NETWORK = "resnet18"
KEY = "core.matrix.macs_per_cycle"


def values(points: int) -> str:
    return ",".join(str(16 * 2**index) for index in range(points))


def timed_sweep(points: int, folder: Path, name: str, *options: str) -> tuple[float, float]:
    """Wall seconds the sweep command took, and the CPU seconds of it and its worker processes (on
    a machine others share, the CPU seconds show the work, the wall seconds also the wait for a
    CPU); its CSV is written to folder/name.csv."""
    command = [sys.executable, "-m", "dlpsim", "sweep", "--net", NETWORK, "--vary", f"{KEY}={values(points)}",
               "--csv", str(folder / f"{name}.csv"), *options]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=8, help="sweep points (default 8)")
    arguments = parser.parse_args()
    points, cpus = arguments.points, cpu_count()
    rows = []
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        ways = [("1 worker", "1", ("--workers", "1", "--no-cache")),
                ("2 workers", "2", ("--workers", "2", "--no-cache"))]
        if cpus != 2:
            ways.append((f"{cpus} workers (one per CPU)", str(cpus), ("--workers", str(cpus), "--no-cache")))
        for name, workers, options in ways:
            results[name], cpu = timed_sweep(points, folder, name, *options)
            rows.append((name, workers, results[name], f"{cpu:.1f}"))

        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster:
            results["Dask LocalCluster"], _ = timed_sweep(points, folder, "Dask LocalCluster", "--scheduler",
                                                          cluster.scheduler_address, "--no-cache")
        rows.append(("Dask LocalCluster", "2", results["Dask LocalCluster"], "-"))  # its workers are not ours

        cache = str(folder / "cache")
        results["filling the cache"], filling_cpu = timed_sweep(points, folder, "filling the cache",
                                                                "--workers", "1", "--cache", cache)
        results["cached rerun"], rerun_cpu = timed_sweep(points, folder, "cached rerun", "--cache", cache)
        rows += [("filling the cache", "1", results["filling the cache"], f"{filling_cpu:.1f}"),
                 ("cached rerun", "-", results["cached rerun"], f"{rerun_cpu:.1f}")]
        csvs = {path.name: path.read_bytes() for path in folder.glob("*.csv")}
        same = len(set(csvs.values())) == 1
    one = results["1 worker"]
    table = [("way", "workers", "wall s", "CPU s", "points/minute", "vs 1 worker")]
    table += [(name, workers, f"{seconds:.2f}", cpu, f"{points * 60 / seconds:,.1f}", f"{one / seconds:.2f}x")
              for name, workers, seconds, cpu in rows]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {cpus} CPUs ({platform.system()} {platform.release()}); Python "
          f"{platform.python_version()}; load average {load:.2f} at the end")
    print(f"{NETWORK} sweep of {points} points ({KEY}={values(points)}), each way a fresh `dlpsim sweep`")
    print()
    print("\n".join(align(table, [False, True, True, True, True, True])))
    print()
    print(f"every way wrote the same CSV: {'yes' if same else 'NO'}")
    two = one / results["2 workers"]
    cached = one / results["cached rerun"]
    print(f"2 workers >= 1.6x one worker: {two:.2f}x, {'met' if two >= 1.6 else 'NOT met'}")
    verdict = "met" if cached >= 20 else "NOT met"
    print(f"cached rerun >= 20x faster than simulating: {cached:.1f}x, {verdict}")


if __name__ == "__main__":
    main()
