"""Points on a real Dask cluster: a scheduler and two worker processes started here on 127.0.0.1
(free ports, no dashboards), a sweep sent through them and compared with the serial result, a
worker killed mid-sweep, an unreachable scheduler, another dlpsim on the workers. Every process
started here is stopped by its process id, whatever happens in the tests."""

from __future__ import annotations

import faulthandler
import os
import signal
import socket
import subprocess
import sys
import time

import distributed
import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.errors import UserError
from dlpsim.machine import load_machine
from dlpsim.run.points import Execution, Point, run_points
from dlpsim.workloads import get_network

MACS = "core.matrix.macs_per_cycle"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _start(arguments: list[str], log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dask", *arguments], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def _start_worker(address: str, log) -> subprocess.Popen:
    # no nanny: the process started is the worker itself, so killing it kills the worker
    return _start(["worker", address, "--host", HOST, "--nthreads", "1", "--nworkers", "1", "--no-nanny",
                   "--no-dashboard"], log)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _workers(address: str) -> set[str]:
    with distributed.Client(address, timeout=10, set_as_default=False) as client:
        return set(client.scheduler_info()["workers"])


def _wait_for_workers(address: str, count: int) -> None:
    with distributed.Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=60)


# A test here that waits on the cluster longer than this fails, with every thread's stack on
# stderr, instead of holding up the whole suite.
TEST_SECONDS = 180


@pytest.fixture(autouse=True)
def _fail_instead_of_hanging():
    def expire(signum, frame):
        faulthandler.dump_traceback(all_threads=True)
        raise TimeoutError(f"a Dask test ran past {TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler's address, the processes started (scheduler first) and the folder of their logs."""
    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://{HOST}:{_free_port()}"
    processes: list[subprocess.Popen] = []
    with open(logs / "cluster.log", "w") as log:
        try:
            processes.append(_start(["scheduler", "--host", HOST, "--port", address.rsplit(":", 1)[1],
                                     "--no-dashboard"], log))
            processes += [_start_worker(address, log) for _ in range(2)]
            _wait_for_workers(address, 2)
            yield address, processes, logs
        finally:
            _stop(processes[::-1])


def _points(values) -> list[Point]:
    network = get_network("lenet5")
    return [Point(network, load_machine("dlp-s", overrides=[f"{MACS}={value}"]), f"--vary {MACS}={value}")
            for value in values]


def test_a_sweep_through_the_cluster_equals_the_serial_one(cluster, tmp_path):
    address, _, _ = cluster
    arguments = ["sweep", "--net", "mlp", "--vary", f"{MACS}=16,32,64", "--no-cache"]
    through = subprocess.run([sys.executable, "-m", "dlpsim", *arguments, "--scheduler", address, "--csv",
                              str(tmp_path / "cluster.csv")], capture_output=True, text=True, timeout=120)
    assert through.returncode == 0, through.stderr
    serial = CliRunner().invoke(main, [*arguments, "--workers", "1", "--csv", str(tmp_path / "serial.csv")])
    assert serial.exit_code == 0, serial.output
    assert through.stdout == serial.output.replace(str(tmp_path / "serial.csv"),
                                                   str(tmp_path / "cluster.csv"))
    assert (tmp_path / "cluster.csv").read_bytes() == (tmp_path / "serial.csv").read_bytes()


def test_results_from_the_cluster_go_to_the_cache(cluster, tmp_path):
    from dlpsim.run.cache import ResultCache

    address, _, _ = cluster
    points = _points([32, 64])
    cache = ResultCache.open(tmp_path)
    first = run_points(points, Execution(scheduler=address, cache=cache))
    again = run_points(points, Execution(scheduler=address, cache=cache))
    assert (first.simulated, again.from_cache) == (2, 2)
    assert first.runs == again.runs == run_points(points).runs


def test_workers_running_another_dlpsim_are_refused(cluster, monkeypatch):
    from dlpsim.run import cache

    address, _, _ = cluster
    monkeypatch.setattr(cache, "code_digest", lambda: "f" * 64)  # here only: the workers keep theirs
    with pytest.raises(UserError) as caught:
        run_points(_points([32, 64]), Execution(scheduler=address))
    message = str(caught.value)
    assert message.startswith(f"--scheduler {address}: error: 2 of 2 workers run another dlpsim")
    assert "install the same dlpsim everywhere" in message


def test_a_worker_killed_mid_sweep_loses_no_point(cluster, tmp_path):
    address, _, logs = cluster
    before = _workers(address)
    with open(logs / "extra-worker.log", "w") as log:
        extra = _start_worker(address, log)
        try:
            _wait_for_workers(address, len(before) + 1)
            (victim,) = _workers(address) - before
            values = (16, 32, 64, 128)
            sweep = subprocess.Popen([sys.executable, "-m", "dlpsim", "sweep", "--net", "lenet5", "--vary",
                                      f"{MACS}={','.join(map(str, values))}", "--no-cache", "--scheduler",
                                      address, "--csv", str(tmp_path / "killed.csv")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                killed_while_running = False
                with distributed.Client(address, timeout=10, set_as_default=False) as client:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and sweep.poll() is None:
                        if client.processing().get(victim):
                            os.kill(extra.pid, signal.SIGKILL)
                            killed_while_running = True
                            break
                        time.sleep(0.02)
                _, stderr = sweep.communicate(timeout=120)
            finally:
                if sweep.poll() is None:
                    sweep.kill()
                    sweep.wait()
        finally:
            _stop([extra])
    assert killed_while_running, "the extra worker never got a point to run"
    assert sweep.returncode == 0, stderr
    serial = CliRunner().invoke(main, ["sweep", "--net", "lenet5", "--vary",
                                       f"{MACS}={','.join(map(str, values))}", "--no-cache", "--workers", "1",
                                       "--csv", str(tmp_path / "serial.csv")])
    assert serial.exit_code == 0, serial.output
    assert (tmp_path / "killed.csv").read_bytes() == (tmp_path / "serial.csv").read_bytes()


def test_an_unreachable_scheduler_is_an_error_within_10_seconds():
    address = f"tcp://{HOST}:{_free_port()}"  # nothing listens there
    started = time.monotonic()
    result = CliRunner().invoke(main, ["sweep", "--net", "mlp", "--vary", f"{MACS}=16,32", "--scheduler",
                                       address])
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert f"--scheduler {address}: error: cannot reach the Dask scheduler within" in result.output
    assert "Traceback" not in result.output
    assert elapsed < 10


@pytest.mark.parametrize("address", ["not an address", "tcp://", "udp://127.0.0.1:1"])
def test_a_malformed_scheduler_address_is_an_error(address):
    result = CliRunner().invoke(main, ["sweep", "--net", "mlp", "--vary", f"{MACS}=16", "--scheduler",
                                       address])
    assert result.exit_code == 2, result.output
    assert f"--scheduler {address}: error: " in result.output and "Traceback" not in result.output


def test_workers_and_scheduler_together_are_refused():
    result = CliRunner().invoke(main, ["sweep", "--net", "mlp", "--vary", f"{MACS}=16", "--workers", "2",
                                       "--scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2
    assert "--workers 2 and --scheduler tcp://127.0.0.1:8786" in result.output


def test_nothing_here_listens_on_a_port_unless_asked():
    # dlpsim's own modules never open a server: only the Dask client connects out, when asked
    from pathlib import Path

    import dlpsim

    package = Path(dlpsim.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text("utf-8")
        for word in ("LocalCluster", ".listen(", "start_http_server", "Scheduler(", "Worker(", "Nanny("):
            assert word not in text, f"{path.relative_to(package)} mentions {word}"
