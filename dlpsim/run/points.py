"""Running many simulation points: from the cache, in local processes, or on a Dask cluster.

A *point* is one network simulated on one machine (:func:`dlpsim.run.network.run_network`).
Sweeps, explorations and rooflines hand their points to :func:`run_points`, which

- takes every point it can from the result cache (:mod:`dlpsim.run.cache`), checked against
  this run's cycle limit exactly as a simulation would be;
- simulates the rest one after another (``workers=1``), in ``workers`` local processes (a point
  per task; a layer per task when there are fewer points than workers, which would otherwise
  wait), or on an existing Dask scheduler (:mod:`dlpsim.run.cluster`), and stores each in the
  cache as soon as it arrives, so an interrupted run resumes where it stopped;
- returns the runs in the order of the points, whatever order they finished in: the results
  are the same objects, and so the same bytes, as a serial run's.

A point that fails with a user error (a layer that fits no tile, the cycle limit) stops the
run with that error; when several fail, the first in point order is reported, as a serial run
would. Ctrl-C stops the worker processes at once and raises :class:`Interrupted`, saying how
many points finished (they are in the cache).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.results.kinds import Objective
from dlpsim.run import Progress
from dlpsim.run.cache import ResultCache, run_key
from dlpsim.run.network import NetworkRun, assemble_network, check_within_limit, run_network, simulate_layer
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.workloads import Network


@dataclass(frozen=True)
class Point:
    network: Network
    machine: MachineConfig
    label: str  # what an error about this point starts with, e.g. "--vary core.matrix.macs_per_cycle=16"
    objective: Objective = Objective.TIME  # what the compiler chooses each layer's mapping by


def cpu_count() -> int:
    """The CPUs this process may use: the default number of workers."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Execution:
    """Where points run: ``workers`` local processes, or the Dask ``scheduler`` at that address; and
    the cache (None: every point is simulated and nothing is stored)."""

    workers: int = 1
    scheduler: str | None = None
    cache: ResultCache | None = None
    # Called with a message when the cache cannot be written mid-run; the run goes on without it.
    warn: Callable[[str], None] = field(default=lambda message: None, compare=False)


@dataclass(frozen=True)
class PointsRun:
    runs: tuple[NetworkRun | None, ...]  # in the order of the points; None for a point that failed
    from_cache: int
    simulated: int
    failures: dict[int, UserError] = field(default_factory=dict)  # point index -> its error (when kept going)


SERIAL = Execution()  # here, one point after another, no cache


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run of points; the message says what finished and what happens to it."""


# One outcome of a worker: (point index, its run, or the user error it raised).
Outcome = tuple[int, NetworkRun | None, UserError | None]


def simulate_point(index: int, network: Network, machine: MachineConfig, max_cycles: int | None,
                   objective: Objective = Objective.TIME) -> Outcome:
    """Simulate one point where it is called (this process, a worker process, a Dask worker)."""
    try:
        return index, run_network(network, machine, max_cycles=max_cycles, objective=objective), None
    except UserError as error:  # returned, not raised: the caller decides which point's error counts
        return index, None, error


def cached_run(cache: ResultCache, key: str, network: Network, machine: MachineConfig,
               max_cycles: int | None) -> NetworkRun | None:
    """The run stored under ``key``, held to this run's cycle limit (a RunLimitError as a simulation
    would raise), or None."""
    run = cache.get(key)
    if run is not None:
        check_within_limit(run, network, machine, max_cycles)
    return run


def store_run(cache: ResultCache, key: str, run: NetworkRun, label: str, warn: Callable[[str], None]) -> bool:
    """Store ``run``; if the disk refuses, warn and return False (the caller goes on without the cache)."""
    try:
        cache.put(key, run, f"{run.network} on {run.machine}" + (f": {label}" if label else ""))
        return True
    except OSError as problem:
        warn(f"cannot write to the result cache ({cache.folder}: {problem.strerror or problem}); going on "
             "without it")
        return False


def run_points(points: Sequence[Point], execution: Execution = SERIAL, *,
               max_cycles: int | None = DEFAULT_MAX_CYCLES, progress: Progress | None = None,
               stop_at_error: bool = True) -> PointsRun:
    """Every point's network run, in the order of ``points``. A point's user error stops the run
    (the first in point order is raised) unless ``stop_at_error`` is False: then every point runs,
    and the failed ones are None, their errors in ``failures``."""
    total = len(points)
    runs: dict[int, NetworkRun] = {}
    errors: dict[int, UserError] = {}
    keys = ([run_key(point.network, point.machine, point.objective) for point in points]
            if execution.cache else [])
    for index, point in enumerate(points):
        if execution.cache is not None:
            try:
                cached = cached_run(execution.cache, keys[index], point.network, point.machine, max_cycles)
                if cached is not None:
                    runs[index] = cached
            except UserError as error:
                errors[index] = error
    from_cache = len(runs) + len(errors)
    pending = [index for index in range(total) if index not in runs and index not in errors]
    state = {"cache": execution.cache}

    def arrived(outcome: Outcome) -> None:
        index, run, error = outcome
        if error is not None:
            errors[index] = error
            return
        runs[index] = run
        if state["cache"] is not None and not store_run(state["cache"], keys[index], run,
                                                         points[index].label, execution.warn):
            state["cache"] = None
        if progress is not None:
            progress(len(runs) + len(errors), total, points[index].label)

    def needed(index: int) -> bool:
        """A point still worth running: none before it has failed (the first error in point order wins)."""
        return not stop_at_error or not errors or index < min(errors)

    if progress is not None:
        progress(from_cache, total, "")
    if pending and needed(pending[0]):
        started = time.monotonic()
        try:
            if execution.scheduler is not None:
                from dlpsim.run.cluster import run_on_scheduler

                run_on_scheduler(execution.scheduler, points, pending, max_cycles, arrived, needed)
            elif execution.workers > 1:
                _run_in_processes(execution.workers, points, pending, max_cycles, arrived, needed)
            else:
                for index in pending:
                    if needed(index):
                        point = points[index]
                        arrived(simulate_point(index, point.network, point.machine, max_cycles,
                                               point.objective))
        except KeyboardInterrupt:
            finished = len(runs) - from_cache
            kept = "in the cache: run the same command again to resume" if state["cache"] else \
                "not kept (the cache is off)"
            raise Interrupted(f"{finished} of the {len(pending)} points to simulate finished in "
                              f"{time.monotonic() - started:.1f} s, {kept}") from None
    if errors and stop_at_error:
        first = min(errors)
        label = points[first].label
        if not label:
            raise errors[first]
        raise UserError(f"{label}: {errors[first]}")
    return PointsRun(tuple(runs.get(index) for index in range(total)), from_cache, total - from_cache,
                     dict(sorted(errors.items())))


def _ignore_interrupts() -> None:
    """In a worker process: Ctrl-C is the parent's to handle (it stops the workers itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_processes(workers: int, points: Sequence[Point], pending: Sequence[int], max_cycles: int | None,
                      arrived: Callable[[Outcome], None], needed: Callable[[int], bool]) -> None:
    """The pending points in ``workers`` local processes, each outcome handed to ``arrived`` as it
    finishes: a point per task when there are enough points to keep every worker busy, else a
    layer per task (of each point, every distinct layer shape once), the point assembled from its
    layers when the last one arrives, exactly as a serial run assembles it."""
    if len(pending) >= workers:
        tasks = [(index, simulate_point, (index, points[index].network, points[index].machine, max_cycles,
                                          points[index].objective))
                 for index in pending]
        _in_processes(workers, tasks, arrived, needed)
        return
    from dlpsim.run.compile import layer_shape

    shapes: dict[int, dict] = {}  # point -> its distinct layer shapes, in order -> their first layer
    for index in pending:
        shapes[index] = {}
        for node in points[index].network.nodes:
            shapes[index].setdefault(layer_shape(node.layer, points[index].network.batch), node.layer)
    layer_runs: dict[int, dict] = {index: {} for index in pending}  # point -> shape -> (Stats, error)

    def layer_arrived(outcome: LayerOutcome) -> None:
        index, shape, stats, error = outcome
        layer_runs[index][shape] = (stats, error)
        if len(layer_runs[index]) < len(shapes[index]):
            return

        def stats_of(node, used: int):
            stats, error = layer_runs[index][layer_shape(node.layer, points[index].network.batch)]
            if error is not None:
                raise error
            return stats

        point = points[index]
        try:
            arrived((index, assemble_network(point.network, point.machine, stats_of, max_cycles=max_cycles),
                     None))
        except UserError as error:
            arrived((index, None, error))

    tasks = [(index, simulate_shape, (index, shape, layer, points[index].machine, points[index].network.batch,
                                      max_cycles, points[index].objective))
             for index in pending for shape, layer in shapes[index].items()]
    _in_processes(workers, tasks, layer_arrived, needed)


# One layer's outcome: (point index, the layer's shape, its Stats or None past the limit, its user error).
LayerOutcome = tuple[int, object, object, UserError | None]


def simulate_shape(index: int, shape, layer, machine: MachineConfig, batch: int,
                   max_cycles: int | None, objective: Objective = Objective.TIME) -> LayerOutcome:
    """Simulate one layer of a point, on ``batch`` samples, where it is called (a worker process)."""
    try:
        return index, shape, simulate_layer(layer, machine, batch, max_cycles=max_cycles,
                                            network_limit=max_cycles, objective=objective), None
    except UserError as error:
        return index, shape, None, error


def _in_processes(workers: int, tasks: Sequence[tuple[int, Callable, tuple]], received: Callable,
                  needed: Callable[[int], bool]) -> None:
    """Run each task (point index, function, arguments) in at most ``workers`` local processes and
    hand each result to ``received`` as it finishes (those finishing together in task order); tasks
    of points no longer ``needed`` are cancelled. Spawned, not forked: a worker starts from a clean
    interpreter on every platform."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    executor = ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_interrupts)
    try:
        running = {executor.submit(function, *arguments): (number, index)
                   for number, (index, function, arguments) in enumerate(tasks)}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                del running[future]
                received(future.result())
            for future, (_, index) in list(running.items()):
                if not needed(index) and future.cancel():
                    del running[future]
            if running and not any(needed(index) for _, index in running.values()):
                break  # only points after a failed one are left: their results cannot change the error
    except BaseException:
        _stop(executor)
        raise
    if running:
        _stop(executor)
    else:
        executor.shutdown(wait=True)


def _stop(executor) -> None:
    """Stop the pool's processes now, running points included (Ctrl-C, an error)."""
    terminate = getattr(executor, "terminate_workers", None)  # Python 3.14 and later
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the pool has no public way to stop a running worker; shutdown() forgets its
    # processes, so take them first.
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
