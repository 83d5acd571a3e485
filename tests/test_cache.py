"""The result cache: what its key depends on, exact round trips, atomic and distrustful entries, the
commands that use it and `dlpsim cache`. Every test gives the cache a folder of its own."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.cli import main
from dlpsim.errors import RunLimitError
from dlpsim.machine import load_machine
from dlpsim.run.cache import CACHE_FORMAT, RUNS_FOLDER, CacheUnavailable, ResultCache, run_key
from dlpsim.run.network import run_network
from dlpsim.run.points import Execution, Point, run_points
from dlpsim.workloads import get_network

MACS = "core.matrix.macs_per_cycle"


@pytest.fixture(scope="module")
def mlp_run():
    return run_network(get_network("mlp"), load_machine("dlp-s"))


def _entries(folder: Path) -> list[Path]:
    return sorted(path for path in (folder / RUNS_FOLDER).rglob("*") if path.is_file())


# -- the key ---------------------------------------------------------------------------------------

def test_the_key_follows_what_changes_a_result():
    mlp, lenet = get_network("mlp"), get_network("lenet5")
    machine = load_machine("dlp-s")
    key = run_key(mlp, machine)
    assert key == run_key(get_network("mlp"), load_machine("dlp-s"))  # the same inputs, the same key
    assert len(key) == 64 and int(key, 16) >= 0
    assert run_key(lenet, machine) != key
    assert run_key(mlp, load_machine("dlp-s", overrides=[f"{MACS}=512"])) != key
    assert run_key(mlp, load_machine("dlp-s", overrides=["dram.latency=1"])) != key
    assert run_key(mlp, load_machine("dlp-m")) != key
    # the cost proxy's weights change no simulation, so no key
    assert run_key(mlp, load_machine("dlp-s", overrides=["cost.per_mac_unit=7"])) == key


def test_the_key_is_the_networks_content_so_a_batch_carried_by_the_network_enters_it():
    mlp = get_network("mlp")
    last = mlp.nodes[-1]
    assert last.layer.kind == "fc"
    wider = dataclasses.replace(last.layer, out_features=last.layer.out_features * 2)
    changed = dataclasses.replace(mlp, nodes=(*mlp.nodes[:-1], dataclasses.replace(last, layer=wider)))
    machine = load_machine("dlp-s")
    assert run_key(changed, machine) != run_key(mlp, machine)


def test_the_key_names_the_simulator(monkeypatch):
    from dlpsim.run import cache

    machine, network = load_machine("dlp-s"), get_network("mlp")
    before = run_key(network, machine)
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert run_key(network, machine) != before
    monkeypatch.undo()
    monkeypatch.setattr(cache, "code_digest", lambda: "0" * 64)
    assert run_key(network, machine) != before


# -- entries ---------------------------------------------------------------------------------------

def test_an_entry_reads_back_exactly_and_atomically(tmp_path, mlp_run):
    cache = ResultCache.open(tmp_path)
    cache.put("ab" + "0" * 62, mlp_run, "mlp on dlp-s")
    assert cache.get("ab" + "0" * 62) == mlp_run
    files = _entries(tmp_path)
    assert [path.name for path in files] == ["ab" + "0" * 62 + ".json"]  # no temporary file left
    assert cache.get("cd" + "0" * 62) is None


def test_fractional_totals_survive_the_round_trip(tmp_path):
    machine = load_machine("dlp-s", overrides=["clock.frequency=0.7GHz", f"{MACS}=100.5"])
    run = run_network(get_network("mlp"), machine)
    assert run.peak_macs_per_cycle == Fraction(201, 2)
    cache = ResultCache.open(tmp_path)
    cache.put("ef" + "1" * 62, run, "")
    assert cache.get("ef" + "1" * 62) == run


@pytest.mark.parametrize("damage", ["truncated", "edited", "foreign", "other key", "not json", "empty"])
def test_a_damaged_or_foreign_entry_is_ignored_and_replaced(tmp_path, mlp_run, damage):
    cache = ResultCache.open(tmp_path)
    network, machine = get_network("mlp"), load_machine("dlp-s")
    key = run_key(network, machine)
    cache.put(key, mlp_run, "")
    path = _entries(tmp_path)[0]
    text = path.read_text("utf-8")
    entry = json.loads(text)
    if damage == "truncated":
        path.write_text(text[: len(text) // 2], "utf-8")
    elif damage == "edited":  # a plausible edit: one layer's cycles halved; the digest no longer matches
        entry["result"]["run"]["layers"][0]["cycles"] //= 2
        path.write_text(json.dumps(entry), "utf-8")
    elif damage == "foreign":
        path.write_text(json.dumps({"format": "someone-else/1", "key": key}), "utf-8")
    elif damage == "other key":
        entry["key"] = "0" * 64
        path.write_text(json.dumps(entry), "utf-8")
    elif damage == "not json":
        path.write_bytes(b"\x00\xff garbage")
    else:
        path.write_text("", "utf-8")
    assert cache.get(key) is None
    outcome = run_points([Point(network, machine, "")], Execution(cache=cache))
    assert (outcome.from_cache, outcome.simulated) == (0, 1)
    assert outcome.runs[0] == mlp_run
    assert json.loads(path.read_text("utf-8"))["format"] == CACHE_FORMAT  # recomputed and stored again
    assert cache.get(key) == mlp_run


def test_a_cached_run_is_held_to_the_cycle_limit_like_a_simulation(tmp_path, mlp_run):
    network, machine = get_network("mlp"), load_machine("dlp-s")
    # a limit every layer's roofline bound fits under (the refusal before compiling passes) but the
    # simulated cycles pass: the first layer whose cycles go over it is named
    limit = mlp_run.bound.cycles
    assert limit < mlp_run.cycles
    over = next(index for index in range(len(mlp_run.layers))
                if sum(layer.cycles for layer in mlp_run.layers[:index + 1]) > limit)
    with pytest.raises(RunLimitError) as simulated:
        run_network(network, machine, max_cycles=limit)
    cache = ResultCache.open(tmp_path)
    cache.put(run_key(network, machine), mlp_run, "")
    with pytest.raises(RunLimitError) as cached:
        run_points([Point(network, machine, "")], Execution(cache=cache), max_cycles=limit)
    assert str(cached.value) == str(simulated.value)
    assert f"layer {mlp_run.layers[over].name} would pass" in str(cached.value)


def test_a_cached_run_over_its_bound_is_refused_as_before_compiling(tmp_path, mlp_run):
    network, machine = get_network("mlp"), load_machine("dlp-s")
    # below the network's roofline bound the simulation refuses before compiling anything, naming
    # the layer whose bound passes the limit; the cached run must give the same refusal
    limit = mlp_run.bound.cycles - 1
    with pytest.raises(RunLimitError) as simulated:
        run_network(network, machine, max_cycles=limit)
    assert "roofline bound alone" in str(simulated.value)
    cache = ResultCache.open(tmp_path)
    cache.put(run_key(network, machine), mlp_run, "")
    with pytest.raises(RunLimitError) as cached:
        run_points([Point(network, machine, "")], Execution(cache=cache), max_cycles=limit)
    assert str(cached.value) == str(simulated.value)


def test_a_cached_sweep_does_not_load_the_compiler_or_numpy(tmp_path):
    """A cached rerun is all start-up: what it imports is its cost (issue 15's 20x target)."""
    sweep = ["sweep", "--net", "lenet5", "--vary", "core.matrix.macs_per_cycle=64,128",
             "--workers", "1", "--cache", str(tmp_path / "cache"), "--csv", str(tmp_path / "points.csv")]
    probe = ("import runpy, sys\n"
             f"sys.argv = ['dlpsim', *{sweep!r}]\n"
             "try:\n    runpy.run_module('dlpsim', run_name='__main__')\n"
             "except SystemExit as done:\n    assert not done.code, done.code\n"
             "heavy = ('numpy', 'dlpsim.compiler', 'matplotlib')\n"
             "print(','.join(name for name in heavy if name in sys.modules))\n")
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "dlpsim.compiler" in first.stdout.splitlines()[-1]  # the first run simulates
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert again.stdout.splitlines()[-1] == ""


def test_a_folder_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", "utf-8")
    with pytest.raises(CacheUnavailable) as caught:
        ResultCache.open(blocker / "cache")
    assert str(blocker / "cache") in str(caught.value)


# -- the commands ----------------------------------------------------------------------------------

def _invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_net_run_uses_the_cache_and_prints_the_same(tmp_path):
    folder = tmp_path / "cache"
    first = _invoke("net", "run", "mlp", "--json", "--cache", folder)
    assert first.exit_code == 0, first.output
    assert len(_entries(folder)) == 1
    entry = _entries(folder)[0]
    stamp = entry.stat().st_mtime_ns
    again = _invoke("net", "run", "mlp", "--json", "--cache", folder)
    assert again.output == first.output
    assert entry.stat().st_mtime_ns == stamp  # read, not written again
    off = _invoke("net", "run", "mlp", "--json", "--no-cache")
    assert off.output == first.output


def test_sweep_extended_simulates_only_the_new_points(tmp_path):
    folder = tmp_path / "cache"
    network = get_network("mlp")

    def points(values):
        return [Point(network, load_machine("dlp-s", overrides=[f"{MACS}={value}"]), f"--vary {MACS}={value}")
                for value in values]

    first = run_points(points([16, 32]), Execution(cache=ResultCache.open(folder)))
    assert (first.from_cache, first.simulated) == (0, 2)
    extended = run_points(points([16, 32, 64]), Execution(cache=ResultCache.open(folder)))
    assert (extended.from_cache, extended.simulated) == (2, 1)
    assert extended.runs[:2] == first.runs
    assert len(_entries(folder)) == 3


def test_a_cache_folder_that_cannot_be_written_warns_and_runs_without_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", "utf-8")
    result = _invoke("sweep", "--net", "mlp", "--vary", f"{MACS}=32,64", "--workers", "1", "--cache",
                     blocker / "cache", "--csv", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert "dlpsim: warning: cannot use the result cache" in result.output
    assert "running without it" in result.output
    assert (tmp_path / "out.csv").read_text("utf-8").count("\n") == 3


def test_cache_and_no_cache_together_are_refused(tmp_path):
    result = _invoke("sweep", "--net", "mlp", "--vary", f"{MACS}=32", "--cache", tmp_path, "--no-cache")
    assert result.exit_code == 2
    assert "--no-cache" in result.output and "Traceback" not in result.output


def test_cache_info_and_clear(tmp_path):
    folder = tmp_path / "cache"
    assert _invoke("net", "run", "mlp", "--cache", folder).exit_code == 0
    assert _invoke("net", "run", "lenet5", "--cache", folder).exit_code == 0
    (folder / RUNS_FOLDER / "zz").mkdir()
    (folder / RUNS_FOLDER / "zz" / ("z" * 64 + ".json")).write_text("{not json", "utf-8")
    info = _invoke("cache", "info", "--cache", folder)
    assert info.exit_code == 0, info.output
    assert f"folder         {folder}" in info.output
    assert "results        2 (2 made by this dlpsim, 0 by other versions" in info.output
    assert "unreadable     1" in info.output
    size = sum(path.stat().st_size for path in _entries(folder))
    assert f"size on disk   {size:,} bytes" in info.output
    cleared = _invoke("cache", "clear", "--cache", folder)
    assert cleared.exit_code == 0 and "removed 3 files" in cleared.output
    assert _entries(folder) == []
    assert "results        0 (0 made" in _invoke("cache", "info", "--cache", folder).output


def test_the_tests_never_use_the_users_cache():
    import os

    import platformdirs

    from dlpsim.run.cache import default_folder

    assert os.environ.get("DLPSIM_CACHE_DIR")
    assert default_folder() != Path(platformdirs.user_cache_dir("dlpsim", appauthor=False))


def test_net_run_without_fast_forward_always_simulates_and_says_so(tmp_path):
    folder = tmp_path / "cache"
    result = _invoke("net", "run", "mlp", "--no-fast-forward", "--cache", folder)
    assert result.exit_code == 0, result.output
    assert f"--no-fast-forward simulates every layer, so --cache {folder} is not used" in result.output
    assert _entries(folder) == []
