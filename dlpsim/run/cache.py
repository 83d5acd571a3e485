"""The result cache: every simulated network run kept on disk, found again by what determines it.

An entry is found by a key, the SHA-256 of everything a run depends on: the network's content
(its layers and shapes, so a SCALE-Sim file is known by what it holds, not by its name, and a
batch size carried by the network enters with it), the effective configuration (every key
that can change a result; the cost-proxy weights cannot), the compiler's objective (time,
energy or EDP: it chooses the programs), and the simulator itself (dlpsim's
version and a digest of its source, since results change with the code even when the version
number does not). The same inputs on another machine give the same key.

Entries are written atomically (a temporary file in the same folder, then renamed), so a run
killed while writing leaves no entry, only a stray temporary file that reading never looks at.
An entry is trusted only if it parses, names this format and key, its digest matches its
content and its content reads back to the same JSON; anything else (truncated, edited, from
another program) is ignored and recomputed, and the recomputed run replaces it.

The folder is the user's cache folder (platformdirs), the ``DLPSIM_CACHE_DIR`` environment
variable, or ``--cache DIR``. A folder that cannot be written is warned about once, and the
command runs without the cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dlpsim import __version__
from dlpsim.machine import MachineConfig
from dlpsim.machine.schema import result_values
from dlpsim.results.files import exact_json
from dlpsim.results.kinds import Objective
from dlpsim.run.network import NetworkRun
from dlpsim.workloads import Network

CACHE_FORMAT = "dlpsim-cache/1"
ENVIRONMENT_VARIABLE = "DLPSIM_CACHE_DIR"
RUNS_FOLDER = "network-runs"  # entries live below it, in folders named by the key's first two digits
ENTRY_SUFFIX = ".json"
TEMPORARY_PREFIX = ".writing-"


class CacheUnavailable(Exception):
    """The cache folder cannot be created or written; the message says why."""


@functools.cache
def code_digest() -> str:
    """SHA-256 of dlpsim's own source and presets: results depend on the code, and during
    development the code changes while the version number stays."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def simulator_identity() -> dict:
    """What identifies the simulator that produced a result (a Dask worker must show the same)."""
    return {"version": __version__, "code": code_digest()}


def network_identity(network: Network) -> str:
    """The network's content: every field of the network and of its layers, recursively. A field a
    later version adds (a batch size) changes it without any change here."""
    return repr(network)


def run_key(network: Network, machine: MachineConfig, objective: Objective = Objective.TIME) -> str:
    """The key of ``network`` compiled for ``objective`` and simulated on ``machine`` by this dlpsim."""
    material = {
        "what": "network-run",
        "network": network_identity(network),
        "objective": str(objective),
        "machine": {path: value if isinstance(value, str) else exact_json(value)
                    for path, value in result_values(machine).items()},
        "simulator": simulator_identity(),
    }
    return hashlib.sha256(_canonical(material).encode()).hexdigest()


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _exact_run(run: NetworkRun) -> dict:
    """The run as stored: its JSON with the two totals that JSON rounds kept exact."""
    return {"run": run.to_dict(), "clock_hz": exact_json(run.clock_hz),
            "peak_macs_per_cycle": exact_json(run.peak_macs_per_cycle)}


def _restore(stored: dict) -> NetworkRun:
    import dataclasses

    from dlpsim.results.files import from_json

    run = NetworkRun.from_dict(stored["run"])
    run = dataclasses.replace(run, clock_hz=from_json(stored["clock_hz"]),
                              peak_macs_per_cycle=from_json(stored["peak_macs_per_cycle"]))
    if _exact_run(run) != stored:  # what reads back must be exactly what was written
        raise ValueError("the entry does not read back to itself")
    return run


def default_folder() -> Path:
    """``DLPSIM_CACHE_DIR`` if set, else the user's cache folder for dlpsim."""
    given = os.environ.get(ENVIRONMENT_VARIABLE)
    if given:
        return Path(given)
    import platformdirs

    return Path(platformdirs.user_cache_dir("dlpsim", appauthor=False))


@dataclass(frozen=True)
class CacheInfo:
    folder: Path
    entries: int  # readable entries of any dlpsim
    current: int  # of them, written by this dlpsim (version and code)
    unreadable: int  # corrupt or foreign files, ignored
    size_bytes: int  # every file below the folder, temporary ones included


@dataclass(frozen=True)
class ResultCache:
    """Network runs on disk under ``folder``."""

    folder: Path

    @classmethod
    def open(cls, folder: str | Path) -> ResultCache:
        """The cache in ``folder``, created if needed; CacheUnavailable if it cannot be written."""
        cache = cls(Path(folder))
        runs = cache.folder / RUNS_FOLDER
        try:
            runs.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=runs, prefix=TEMPORARY_PREFIX):
                pass
        except OSError as error:
            raise CacheUnavailable(f"{cache.folder}: {error.strerror or error}") from None
        return cache

    def _path(self, key: str) -> Path:
        return self.folder / RUNS_FOLDER / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def get(self, key: str) -> NetworkRun | None:
        """The run stored under ``key``, or None: absent, unreadable or not to be trusted."""
        try:
            entry = json.loads(self._path(key).read_text("utf-8"))
            if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or entry.get("key") != key:
                return None
            result = entry["result"]
            if hashlib.sha256(_canonical(result).encode()).hexdigest() != entry["digest"]:
                return None
            return _restore(result)
        except Exception:  # noqa: BLE001 - any defect of an entry means: recompute, never trust it
            return None

    def put(self, key: str, run: NetworkRun, description: str) -> None:
        """Store ``run`` under ``key`` atomically; OSError if the disk refuses."""
        result = _exact_run(run)
        entry = {"format": CACHE_FORMAT, "key": key, "description": description, **simulator_identity(),
                 "digest": hashlib.sha256(_canonical(result).encode()).hexdigest(), "result": result}
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(json.dumps(entry, separators=(",", ":")))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _files(self) -> list[Path]:
        runs = self.folder / RUNS_FOLDER
        return sorted(path for path in runs.rglob("*") if path.is_file()) if runs.is_dir() else []

    def info(self) -> CacheInfo:
        entries = current = unreadable = size = 0
        identity = simulator_identity()
        for path in self._files():
            size += path.stat().st_size
            if path.name.startswith(TEMPORARY_PREFIX):
                continue
            try:
                entry = json.loads(path.read_text("utf-8"))
                valid = entry["format"] == CACHE_FORMAT and entry["key"] == path.stem
            except Exception:  # noqa: BLE001 - counted, never trusted
                valid = False
            if not valid:
                unreadable += 1
                continue
            entries += 1
            current += entry.get("version") == identity["version"] and entry.get("code") == identity["code"]
        return CacheInfo(self.folder, entries, current, unreadable, size)

    def clear(self) -> int:
        """Remove every entry (and stray temporary file); returns how many files went."""
        removed = 0
        for path in self._files():
            path.unlink(missing_ok=True)
            removed += 1
        runs = self.folder / RUNS_FOLDER
        for folder in sorted((path for path in runs.glob("*") if path.is_dir()), reverse=True):
            with contextlib.suppress(OSError):  # something else appeared in it meanwhile: leave it
                folder.rmdir()
        return removed
