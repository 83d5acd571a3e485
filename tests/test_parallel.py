"""Points in local worker processes: the same results and bytes as one process whatever order the
points finish in, the first error in point order, and Ctrl-C stopping the workers while keeping
what finished."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.errors import UserError
from dlpsim.machine import load_machine
from dlpsim.run.cache import RUNS_FOLDER, ResultCache, run_key
from dlpsim.run.points import Execution, Point, run_points
from dlpsim.workloads import get_network

MACS = "core.matrix.macs_per_cycle"


def _point(network: str, *overrides: str) -> Point:
    return Point(get_network(network), load_machine("dlp-s", overrides=list(overrides)),
                 f"{network} {' '.join(overrides)}".strip())


def test_two_workers_give_the_serial_results_whatever_order_points_finish_in():
    # The first point (LeNet-5) takes several times as long as each MLP: with two workers the MLPs
    # finish first, and the runs must still come back in point order, equal to the serial ones.
    points = [_point("lenet5"), _point("mlp", f"{MACS}=32"), _point("mlp", f"{MACS}=64"),
              _point("mlp", f"{MACS}=128")]
    reports: list[tuple[int, int, str]] = []
    parallel = run_points(points, Execution(workers=2),
                          progress=lambda done, total, label: reports.append((done, total, label)))
    # progress: points done of the total, from 0 (before any) to 4, each report naming the point done
    assert [(done, total) for done, total, _ in reports] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    arrivals = [label for _, _, label in reports[1:]]
    assert arrivals.index(points[0].label) > arrivals.index(points[1].label)  # out of order indeed
    assert sorted(arrivals) == sorted(point.label for point in points)
    serial = run_points(points, Execution(workers=1))
    assert parallel.runs == serial.runs
    assert [run.network for run in parallel.runs] == ["lenet5", "mlp", "mlp", "mlp"]
    assert (parallel.from_cache, parallel.simulated) == (0, 4)


def test_the_first_error_in_point_order_is_reported_as_serially():
    fast, slow, slower = (_point("mlp", f"dram.bandwidth={bandwidth}") for bandwidth in ("64GB/s", "8GB/s",
                                                                                         "4GB/s"))
    limit = run_points([fast]).runs[0].cycles  # the two slower machines need more cycles than this
    messages = []
    for workers in (1, 2):
        with pytest.raises(UserError) as caught:
            run_points([fast, slower, slow], Execution(workers=workers), max_cycles=limit)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{slower.label}: mlp: error: layer ")
    kept = run_points([fast, slower, slow], Execution(workers=2), max_cycles=limit, stop_at_error=False)
    assert kept.runs[0] is not None and kept.runs[1] is None and kept.runs[2] is None
    assert sorted(kept.failures) == [1, 2]


def test_the_sweep_command_prints_and_writes_the_same_bytes_with_any_number_of_workers(tmp_path):
    outputs = []
    for workers in ("1", "2"):
        folder = tmp_path / workers
        folder.mkdir()
        result = CliRunner().invoke(main, [
            "sweep", "--net", "mlp", "--vary", f"{MACS}=16,32", "--vary", "dram.bandwidth=16GB/s,64GB/s",
            "--workers", workers, "--no-cache", "-o", str(folder / "chart.svg"), "--results",
            str(folder / "sweep.json")])
        assert result.exit_code == 0, result.output
        outputs.append((result.output.replace(str(folder), "FOLDER"), (folder / "chart.csv").read_bytes(),
                        (folder / "sweep.json").read_bytes(), (folder / "chart.svg").read_bytes()))
    assert outputs[0] == outputs[1]


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through Linux /proc")
def test_ctrl_c_stops_the_workers_and_keeps_what_finished(tmp_path):
    folder = tmp_path / "cache"
    values = "16,32,...,2048"  # eight LeNet-5 points, a second or more each: still running when interrupted
    command = [sys.executable, "-m", "dlpsim", "sweep", "--net", "lenet5", "--vary", f"{MACS}={values}",
               "--workers", "2", "--cache", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((folder / RUNS_FOLDER).rglob("*.json")):
            workers |= _children(process.pid)
            time.sleep(0.05)
        assert list((folder / RUNS_FOLDER).rglob("*.json")), "no point finished within 60 s"
        workers |= _children(process.pid)
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, stderr = process.communicate(timeout=20)
        stopped_after = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "dlpsim: interrupted: " in stderr
    assert "in the cache: run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    assert stopped_after < 10  # the running points were stopped, not waited for
    assert workers, "the sweep ran no worker process"
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()
                and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])]
    finished = list((folder / RUNS_FOLDER).rglob("*.json"))
    assert 1 <= len(finished) < 8
    assert not list((folder / RUNS_FOLDER).rglob(".writing-*"))  # nothing half-written
    # the rerun resumes: the finished points come from the cache
    network = get_network("lenet5")
    points = [Point(network, load_machine("dlp-s", overrides=[f"{MACS}={value}"]), "")
              for value in (16, 32, 64, 128, 256, 512, 1024, 2048)]
    cache = ResultCache.open(folder)
    cached = [point for point in points if cache.get(run_key(point.network, point.machine)) is not None]
    assert len(cached) == len(finished)
    resumed = run_points(cached, Execution(cache=cache))
    assert (resumed.from_cache, resumed.simulated) == (len(cached), 0)


def test_fewer_points_than_workers_are_split_into_layers_with_the_same_results():
    points = [_point("lenet5"), _point("mlp", "dram.bandwidth=8GB/s")]
    split = run_points(points, Execution(workers=4))  # two points, four workers: a layer per task
    assert split.runs == run_points(points).runs
    limit = split.runs[0].cycles - 1  # LeNet-5 passes it in its last layer; the MLP at 8 GB/s earlier
    messages = []
    for workers in (1, 4):
        with pytest.raises(UserError) as caught:
            run_points(points, Execution(workers=workers), max_cycles=limit)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and messages[0].startswith(f"{points[0].label}: lenet5: error: layer ")
