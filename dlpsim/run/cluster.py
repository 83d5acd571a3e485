"""Points on an existing Dask cluster (``--scheduler ADDRESS``), through ``distributed``'s client.

dlpsim only connects: it never starts a scheduler or a worker, and so never listens on a port.
Before sending anything it checks that the scheduler answers (within CONNECT_SECONDS), that it
has workers, and that every worker runs the same dlpsim (version and source digest) as this
process, since a result is only as good as the simulator that made it and the result cache
files results under this dlpsim's identity. Each point is one Dask task; when a worker dies,
Dask's scheduler runs its tasks again elsewhere (its ``allowed-failures`` setting bounds how
often), and the outcome of every point is handed back as it arrives.

``distributed`` is an optional dependency: ``pip install "dlpsim[dask]"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dlpsim.errors import UserError
from dlpsim.run.cache import simulator_identity
from dlpsim.run.points import Outcome, Point, simulate_point

CONNECT_SECONDS = 5  # an unreachable scheduler is reported within this, well under the 10 s asked
WORKERS_SECONDS = 10  # how long a scheduler without workers is given to get one
LOST_SECONDS = 60  # how long a run waits for a worker to come back when every worker has gone
POLL_SECONDS = 2


def _error(address: str, message: str) -> UserError:
    return UserError(f"--scheduler {address}: error: {message}")


def connect(address: str):
    """A client of the scheduler at ``address``; a UserError if it cannot be reached."""
    try:
        import distributed
    except ImportError:
        raise _error(address, "Dask's distributed is not installed; pip install \"dlpsim[dask]\"") from None
    import logging

    # distributed logs every failed connection attempt; the error below says it once.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        return distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise _error(address, f"cannot reach the Dask scheduler within {CONNECT_SECONDS} s "
                     f"({type(error).__name__}: {error})") from None


def check_workers(client, address: str) -> None:
    """The scheduler has workers, and every one runs this dlpsim."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except (TimeoutError, OSError):
        raise _error(address, f"the scheduler has no workers (waited {WORKERS_SECONDS} s); start some "
                     "with `dask worker ADDRESS`") from None
    expected = simulator_identity()
    try:
        found = client.run(simulator_identity)
    except Exception as error:  # noqa: BLE001 - a worker without dlpsim fails to unpickle the call
        raise _error(address, f"a worker cannot run dlpsim ({type(error).__name__}: {error}); install "
                     "the same dlpsim on every worker") from None
    different = sorted(worker for worker, identity in found.items() if identity != expected)
    if different:
        example = found[different[0]]
        raise _error(address, f"{len(different)} of {len(found)} workers run another dlpsim "
                     f"({different[0]}: version {example['version']}, source {example['code'][:12]}; "
                     f"here: version {expected['version']}, source {expected['code'][:12]}); install "
                     "the same dlpsim everywhere")


def run_on_scheduler(address: str, points: Sequence[Point], pending: Sequence[int], max_cycles: int | None,
                     arrived: Callable[[Outcome], None], needed: Callable[[int], bool]) -> None:
    """The pending points as Dask tasks, each outcome handed to ``arrived`` as it finishes."""
    import distributed

    client = connect(address)
    futures: dict = {}
    try:
        check_workers(client, address)
        for index in pending:
            point = points[index]
            futures[client.submit(simulate_point, index, point.network, point.machine, max_cycles,
                                  pure=False)] = index
        waiting = set(futures)
        alone_since = None
        while waiting:
            try:
                with client.as_current():  # wait() finds its client as the current one
                    done, _ = distributed.wait(list(waiting), timeout=POLL_SECONDS,
                                               return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in sorted(done, key=futures.__getitem__):
                waiting.discard(future)
                try:
                    arrived(future.result())
                except distributed.KilledWorker as error:
                    raise _error(address, f"{points[futures[future]].label}: the point killed every "
                                 f"worker that ran it ({error})") from None
            for future in list(waiting):
                if not needed(futures[future]):
                    future.cancel()
                    waiting.discard(future)
            if done:
                alone_since = None
            elif not client.scheduler_info().get("workers"):
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > LOST_SECONDS:
                    raise _error(address, f"every worker has gone, and none came back in {LOST_SECONDS} s "
                                 f"({len(waiting)} points not run)")
    finally:
        if futures:
            client.cancel(list(futures))
        client.close()
