"""The command line, run the way a user runs it: a separate Python process.

Every bad input must end with exit status 2, one `file:LINE:COL: error:` line
(or `SOURCE: error:` for configuration problems) and never a traceback; every
good program exits 0. Results and traces must not depend on the process (hash
seed). A bug inside dlpsim exits 1, again without a traceback unless
DLPSIM_DEBUG is set.

The bad-input table runs all its processes at once in a module fixture so the
module stays fast; each case is still its own test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlpsim.cli import main

REPO = Path(__file__).resolve().parents[1]


def _environment(hash_seed: str | None = None) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "DLPSIM_DEBUG"}
    if hash_seed is not None:
        environment["PYTHONHASHSEED"] = hash_seed
    return environment


def cli(*args: str, cwd: Path, hash_seed: str | None = None,
           module: str = "dlpsim.cli") -> subprocess.CompletedProcess:
    """Run ``python -m dlpsim.cli ARGS`` in ``cwd`` and capture its text output."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=_environment(hash_seed),
                          capture_output=True, text=True, timeout=120)


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------
# Bad input: the table
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    """A bad input: the program text (or bytes), extra options, and what stderr must say."""

    id: str
    program: str | bytes | None  # None: the test creates no program file (see `file`)
    where: str  # the exact prefix stderr must contain, e.g. "bad.asm:2:20: error:"
    says: str  # a fragment of the message that shows it is the right error
    args: tuple[str, ...] = ()
    file: str = "bad.asm"
    command: str = "run"
    extra_files: dict[str, str] = field(default_factory=dict)


ON_DLP_M = ".machine dlp-m\n"
MEMORY_CORE_LOAD = ".core mem\nmove DRAM SharedRAM 64\n"

BAD = [
    # Syntax: garbage characters.
    Bad("garbage-character", "move DRAM NRAM 1024\ncompute MAC_32 256 $\n",
        "bad.asm:2:20: error:", "unexpected character '$'"),
    Bad("garbage-before-mnemonic", "sync\n  @move DRAM NRAM 4\n", "bad.asm:2:3: error:", "'@'"),
    Bad("garbage-non-ascii", "sync\nsync\n\u03a9move DRAM NRAM 4\n", "bad.asm:3:1: error:", "\u03a9"),
    Bad("number-where-mnemonic", "4096\n", "bad.asm:1:1: error:", "expected an instruction"),
    Bad("negative-loop-count", "loop -1\nendloop\n", "bad.asm:1:6: error:", "loop count"),
    Bad("unclosed-address", "move DRAM NRAM[0x10 16\n", "bad.asm:1:21: error:", "expected ']'"),
    Bad("number-too-large", "loop 99999999999999999999\nendloop\n", "bad.asm:1:6: error:", "too large"),
    # Syntax: missing operands (reported at the column just after the line's last character).
    Bad("move-missing-size", "sync\nmove DRAM NRAM\n", "bad.asm:2:15: error:", "expected a size"),
    Bad("move-missing-everything", "move\n", "bad.asm:1:5: error:", "expected a source memory"),
    Bad("compute-missing-count", "compute MAC_32   ; comment\n", "bad.asm:1:15: error:",
        "expected a number of operations"),
    Bad("compute-missing-type", "compute\n", "bad.asm:1:8: error:", "expected a compute type"),
    Bad("loop-missing-count", "loop\nendloop\n", "bad.asm:1:5: error:", "expected a loop count"),
    Bad("product-missing-factor", "move DRAM NRAM 32*\n", "bad.asm:1:19: error:", "after '*'"),
    # Syntax: extra operands.
    Bad("move-extra-operand", "sync\nmove DRAM NRAM 1024 5\n", "bad.asm:2:21: error:", "unexpected '5'"),
    Bad("move-trailing-comma", "move DRAM, NRAM, 16,\n", "bad.asm:1:20: error:", "unexpected ','"),
    Bad("compute-extra-operand", "compute MAC_32 4 4\n", "bad.asm:1:18: error:", "unexpected '4'"),
    Bad("sync-extra-operand", "sync now\n", "bad.asm:1:6: error:", "unexpected 'now'"),
    Bad("endloop-extra-operand", "loop 2\nsync\nendloop 2\n", "bad.asm:3:9: error:", "unexpected '2'"),
    Bad("core-extra-operand", ON_DLP_M + ".core all 2\nsync\n", "bad.asm:2:11: error:", "unexpected '2'"),
    # Unknown names.
    Bad("unknown-mnemonic", "sync\n  fly 3\n", "bad.asm:2:3: error:", "unknown instruction 'fly'"),
    Bad("unknown-directive", ".cores 0\nsync\n", "bad.asm:1:1: error:", "unknown instruction '.cores'"),
    Bad("unknown-destination-memory", "move DRAM XRAM 16\n", "bad.asm:1:11: error:", "unknown memory 'XRAM'"),
    Bad("unknown-source-memory", "sync\nmove HBM NRAM 16\n", "bad.asm:2:6: error:", "unknown memory 'HBM'"),
    Bad("unknown-compute-type", "compute MAC_64 16\n", "bad.asm:1:9: error:",
        "unknown compute type 'MAC_64'"),
    Bad("move-to-itself", "move NRAM NRAM 16\n", "bad.asm:1:11: error:", "must differ"),
    # Loop structure.
    Bad("loop-without-endloop", "sync\nloop 3\n  sync\n", "bad.asm:2:1: error:", "loop without endloop"),
    Bad("outer-loop-without-endloop", "loop 2\n  loop 3\n    sync\n  endloop\n",
        "bad.asm:1:1: error:", "loop without endloop"),
    Bad("endloop-without-loop", "sync\nendloop\n", "bad.asm:2:1: error:", "endloop without"),
    Bad("endloop-after-closed-loop", "loop 2\nsync\nendloop\nendloop\n", "bad.asm:4:1: error:",
        "endloop without"),
    Bad("core-inside-loop", ON_DLP_M + "loop 2\n.core 0\nendloop\n", "bad.asm:3:1: error:",
        "inside the loop"),
    # Non-positive sizes.
    Bad("move-size-zero", "move DRAM NRAM 0\n", "bad.asm:1:16: error:", "must be positive"),
    Bad("move-size-zero-product", "sync\nmove DRAM WRAM 4*0\n", "bad.asm:2:16: error:", "must be positive"),
    Bad("compute-zero", "compute MAC_32 0\n", "bad.asm:1:16: error:", "must be positive"),
    Bad("compute-zero-hex", "sync\ncompute ADD_16 0x0\n", "bad.asm:2:16: error:", "must be positive"),
    # Transfers larger than their memory (dlp-s: NRAM 128 KB, WRAM 256 KB).
    Bad("move-larger-than-nram", "sync\nmove DRAM NRAM 200000\n", "bad.asm:2:11: error:",
        "does not fit NRAM"),
    Bad("move-128K-plus-one", "move DRAM NRAM 131073\n", "bad.asm:1:11: error:", "does not fit NRAM"),
    Bad("move-larger-than-wram-source", "move WRAM DRAM 256K*2\n", "bad.asm:1:6: error:",
        "does not fit WRAM"),
    Bad("move-larger-than-dram", "move DRAM NRAM 9G\n", "bad.asm:1:6: error:", "does not fit DRAM"),
    Bad("move-larger-than-sharedram", ON_DLP_M + MEMORY_CORE_LOAD + ".core all\nsync\n"
        "move SharedRAM WRAM 2097153\n", "bad.asm:6:6: error:",
        "does not fit SharedRAM"),
    Bad("too-large-inside-loop", "loop 4\n  loop 2\n    move NRAM WRAM 128K*2\n  endloop\nendloop\n",
        "bad.asm:3:10: error:", "does not fit NRAM"),
    # Addressed operands past the end.
    Bad("address-past-end", "sync\nmove DRAM NRAM[0x1F000] 8192\n", "bad.asm:2:11: error:", "past the end"),
    Bad("address-one-past-end", "move WRAM[0x3FFFF] DRAM 2\n", "bad.asm:1:6: error:", "past the end"),
    # Machine features that dlp-s lacks.
    Bad("sharedram-on-dlp-s", "sync\nmove DRAM SharedRAM 64\n", "bad.asm:2:11: error:", "no SharedRAM"),
    Bad("sram-alias-on-dlp-s", "move SRAM NRAM 64\n", "bad.asm:1:6: error:", "no SharedRAM"),
    Bad("sharedram-when-preset-overrides", ON_DLP_M + ".core all\nmove DRAM SharedRAM 64\n",
        "bad.asm:3:11: error:", "no SharedRAM", args=("--preset", "dlp-s")),
    Bad("core-3-on-dlp-s", "sync\n.core 3\nsync\n", "bad.asm:2:1: error:", "core 3 does not exist"),
    Bad("core-4-on-dlp-m", ON_DLP_M + ".core 1-4\nsync\n", "bad.asm:2:1: error:", "core 4 does not exist"),
    Bad("core-mem-on-dlp-s", "sync\n.core mem\nmove DRAM SharedRAM 64\n", "bad.asm:2:1: error:",
        "no memory core"),
    # The memory core's limits.
    Bad("memory-core-compute", ON_DLP_M + ".core mem\ncompute MAC_32 4\n", "bad.asm:3:1: error:",
        "no compute unit"),
    Bad("memory-core-to-nram", ON_DLP_M + ".core mem\nmove DRAM NRAM 4\n", "bad.asm:3:1: error:",
        "only move between DRAM and SharedRAM"),
    # Unequal barrier counts on dlp-m: reported at a barrier line.
    Bad("barriers-unequal", ON_DLP_M + ".core 0\nsync\nbarrier\n.core 1-3\nsync\n",
        "bad.asm:4:1: error:", "different numbers of barriers"),
    Bad("barriers-unequal-in-loop", ON_DLP_M + "loop 2\n  barrier\nendloop\n.core 2\nbarrier\n",
        "bad.asm:3:3: error:", "core2 reaches 3"),
    Bad("barriers-memory-core-only", ON_DLP_M + MEMORY_CORE_LOAD + "barrier\n.core all\nsync\n",
        "bad.asm:4:1: error:", "mem reaches 1"),
    # Files that cannot be read as program text.
    Bad("missing-file", None, "nope.asm: error:", "cannot read", file="nope.asm"),
    Bad("invalid-utf8-line", b"sync\n\xff\xfe\n", "bad.asm:2:1: error:", "not UTF-8"),
    Bad("invalid-utf8-mid-line", b"move DRAM NRAM 4 \xc3\x28\n", "bad.asm:1:18: error:", "not UTF-8"),
    Bad("binary-with-nul", b"sync\nmo\x00ve\n", "bad.asm:2:3: error:", "NUL"),
    # Presets.
    Bad("unknown-machine-directive", ".machine dlp-x\nsync\n", "bad.asm:1:1: error:",
        "unknown preset 'dlp-x'"),
    Bad("machine-twice", ".machine dlp-s\n.machine dlp-m\n", "bad.asm:2:1: error:", ".machine given twice"),
    Bad("machine-after-code", "sync\n.machine dlp-m\n", "bad.asm:2:1: error:", "must come before"),
    Bad("unknown-preset-option", "sync\n", "error:", "unknown preset 'dlp-z'", args=("--preset", "dlp-z")),
    # --set.
    Bad("set-unknown-section", "sync\n", "--set foo.bar=3: error: foo:", "unknown key",
        args=("--set", "foo.bar=3")),
    Bad("set-unknown-key", "sync\n", "--set dram.speed=3: error: dram.speed:", "unknown key",
        args=("--set", "dram.speed=3")),
    Bad("set-bad-bandwidth", "sync\n", "--set dram.bandwidth=fast: error: dram.bandwidth:", "'fast'",
        args=("--set", "dram.bandwidth=fast")),
    Bad("set-zero-cores", "sync\n", "--set core.count=0: error: core.count:", "at least 1",
        args=("--set", "core.count=0")),
    Bad("set-fractional-depth", "sync\n", "error: core.queue_depth:", "whole number",
        args=("--set", "core.queue_depth=1.5")),
    Bad("set-without-value", "sync\n", "--set dram.bandwidth: error: dram.bandwidth:", "KEY=VALUE",
        args=("--set", "dram.bandwidth")),
    Bad("set-section-as-value", "sync\n", "error: dram:", "section", args=("--set", "dram=3")),
    # --config.
    Bad("config-not-toml", "sync\n", "cfg.toml: error:", "not valid TOML", args=("--config", "cfg.toml"),
        extra_files={"cfg.toml": "[dram\n"}),
    Bad("config-unknown-key", "sync\n", "cfg.toml: error: dram.speed:", "unknown key",
        args=("--config", "cfg.toml"), extra_files={"cfg.toml": "[dram]\nspeed = 3\n"}),
    Bad("config-bad-value", "sync\n", "cfg.toml: error: dram.bandwidth:", "'fast'",
        args=("--config", "cfg.toml"), extra_files={"cfg.toml": '[dram]\nbandwidth = "fast"\n'}),
    Bad("config-missing", "sync\n", "nope.toml: error:", "cannot read", args=("--config", "nope.toml")),
    Bad("config-not-utf8", "sync\n", "cfg.toml: error:", "cannot read", args=("--config", "cfg.toml"),
        extra_files={"cfg.toml": "\udcff"}),
    # `dlpsim asm --check` reports the same errors as `run`.
    Bad("check-syntax", "sync\nmove DRAM NRAM 1024 5\n", "bad.asm:2:21: error:", "unexpected '5'",
        command="asm", args=("--check",)),
    Bad("check-too-large", "sync\nmove DRAM NRAM 200000\n", "bad.asm:2:11: error:", "does not fit NRAM",
        command="asm", args=("--check",)),
    Bad("check-barriers", ON_DLP_M + ".core 0\nsync\nbarrier\n.core 1-3\nsync\n",
        "bad.asm:4:1: error:", "different numbers of barriers", command="asm", args=("--check",)),
    Bad("asm-listing-core-3", "sync\n.core 3\nsync\n", "bad.asm:2:1: error:", "core 3 does not exist",
        command="asm"),
]
assert len({case.id for case in BAD}) == len(BAD)


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", errors="surrogateescape"))


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every BAD case run at once, each in its own folder."""
    def run(case: Bad) -> subprocess.CompletedProcess:
        folder = tmp_path_factory.mktemp(case.id)
        if case.program is not None:
            _write(folder / case.file, case.program)
        for name, content in case.extra_files.items():
            _write(folder / name, content)
        return cli(case.command, case.file, *case.args, cwd=folder)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip([case.id for case in BAD], pool.map(run, BAD), strict=True))


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_is_one_clear_error(case: Bad, bad_results):
    result = bad_results[case.id]
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert case.where in result.stderr, result.stderr
    assert case.says in result.stderr, result.stderr
    if re.match(r"\S+:\d+:\d+: error:", case.where):
        # A program error: exactly one line, and it starts with the location.
        assert result.stderr.startswith(case.where), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr


def test_barrier_error_points_at_a_barrier_line(bad_results):
    """Whichever core the message blames, the line it names holds a barrier."""
    for case in BAD:
        if "barrier" not in case.id:
            continue
        match = re.match(r"bad\.asm:(\d+):(\d+): error:", bad_results[case.id].stderr)
        assert match, bad_results[case.id].stderr
        line = case.program.splitlines()[int(match[1]) - 1]
        assert line[int(match[2]) - 1:].startswith("barrier"), (case.id, line)


def test_directory_as_program_is_a_usage_error(tmp_path):
    (tmp_path / "folder").mkdir()
    for command in ("run", "asm"):
        result = cli(command, "folder", cwd=tmp_path)
        assert_no_traceback(result)
        assert result.returncode == 2
        assert "folder" in result.stderr
        assert "directory" in result.stderr


def test_directory_as_program_uses_the_file_error_format(tmp_path):
    (tmp_path / "folder").mkdir()
    result = cli("run", "folder", cwd=tmp_path)
    assert result.stderr.startswith("folder: error:"), result.stderr


@pytest.mark.parametrize("assignment", ["core.matrix.macs_per_cycle=inf", "dram.bandwidth=nan",
                                        "clock.frequency=1e400"])
def test_non_finite_numbers_are_bad_values(assignment, tmp_path):
    (tmp_path / "ok.asm").write_text("sync\n")
    result = cli("run", "ok.asm", "--set", assignment, cwd=tmp_path)
    assert_no_traceback(result)
    key = assignment.partition("=")[0]
    assert result.returncode == 2, result.stderr
    assert f"error: {key}:" in result.stderr


def test_unknown_preset_name_for_presets_command(tmp_path):
    result = cli("presets", "dlp-z", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert "error: unknown preset 'dlp-z'" in result.stderr
    assert "dlp-s" in result.stderr  # the message lists the known ones


def test_unwritable_trace_is_a_usage_error(tmp_path):
    (tmp_path / "ok.asm").write_text("compute MAC_32 256\n")
    result = cli("run", "ok.asm", "--trace", "no/such/folder/t.json", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert "no/such/folder/t.json: error: cannot write the trace" in result.stderr


# --------------------------------------------------------------------------------------------
# Good input
# --------------------------------------------------------------------------------------------

DLP_M_PROGRAM = """\
.machine dlp-m
; the memory core stages weights in the SharedRAM, then every core takes its share
.core mem
move DRAM SharedRAM 64K
barrier
.core all
barrier
move SharedRAM NRAM 16K
move DRAM WRAM 8K
sync
move NRAM WRAM 4K
compute MAC_32 4096
sync
move NRAM DRAM 1K
"""

GOOD = {
    "empty": ("", ()),
    "comments-only": ("; nothing\n# at all\n// here\n\n", ()),
    "exactly-nram": ("move DRAM NRAM 128K\n", ()),
    "addressed-up-to-the-end": ("move DRAM NRAM[0x1E000] 8192\nmove WRAM[0x3FFFF] DRAM 1\n", ()),
    "number-forms": ("move DRAM, NRAM, 32*256*4\nmove dram wram 0x1_000\nCOMPUTE mac_32 1K\n", ()),
    "loop-zero": ("loop 0\n  move DRAM NRAM 64\nendloop\n", ()),
    "nested-loops": ("loop 3\n  loop 2\n    compute ADD_16 512\n  endloop\n  sync\nendloop\n", ()),
    "dlp-m": (DLP_M_PROGRAM, ()),
    "core-3-with-preset": (".core 3\ncompute MAC_32 256\n", ("--preset", "dlp-m")),
    "set-and-config": ("move DRAM NRAM 1024\n", ("--set", "dram.bandwidth=128GB/s", "--config", "cfg.toml")),
}


@pytest.fixture(scope="module")
def good_results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    def run(item) -> subprocess.CompletedProcess:
        name, (text, args) = item
        folder = tmp_path_factory.mktemp(name)
        (folder / "good.asm").write_text(text)
        (folder / "cfg.toml").write_text("[core]\nqueue_depth = 2\n")
        return cli("run", "good.asm", "--json", *args, cwd=folder)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(GOOD, pool.map(run, GOOD.items()), strict=True))


@pytest.mark.parametrize("name", list(GOOD))
def test_good_program_exits_0(name, good_results):
    result = good_results[name]
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    json.loads(result.stdout)


def test_good_results_are_what_the_contract_says(good_results):
    cycles = {name: json.loads(result.stdout)["cycles"] for name, result in good_results.items()}
    assert cycles["empty"] == 0
    assert cycles["comments-only"] == 0
    assert cycles["exactly-nram"] == 2048  # 131072 B at 64 B/cycle
    assert cycles["loop-zero"] == 0
    assert cycles["dlp-m"] == 816  # 512 (stage) + 256 (4 loads share DRAM) + 16 + 32 (4 stores share)
    assert cycles["set-and-config"] == 8  # 1024 B at 128 B/cycle
    assert json.loads(good_results["dlp-m"].stdout)["machine"] == "dlp-m"
    assert json.loads(good_results["core-3-with-preset"].stdout)["machine"] == "dlp-m"


def test_worked_example_of_the_contract(tmp_path):
    program = REPO / "programs" / "ex7_7.asm"
    if not program.exists():
        program = tmp_path / "ex7_7.asm"
        program.write_text("move DRAM NRAM 1024\nmove DRAM WRAM 1024\nsync\ncompute MAC_32 256\n"
                           "sync\nmove NRAM DRAM 4\nsync\n")
    result = cli("run", str(program), "--preset", "dlp-s", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cycles"] == 34


def test_the_installed_console_script_and_python_m_dlpsim(tmp_path):
    (tmp_path / "ok.asm").write_text("compute MAC_32 256\n")
    script = Path(sys.executable).with_name("dlpsim")
    commands = [[sys.executable, "-m", "dlpsim", "run", "ok.asm", "--json"]]
    if script.exists():
        commands.append([str(script), "run", "ok.asm", "--json"])
    outputs = []
    for command in commands:
        result = subprocess.run(command, cwd=tmp_path, env=_environment(), capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
        bad = subprocess.run([*command[:-3], "run", "missing.asm"], cwd=tmp_path, env=_environment(),
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2
        assert bad.stderr.startswith("missing.asm: error:")
    assert json.loads(outputs[0])["cycles"] == 1
    assert len(set(outputs)) == 1


# --------------------------------------------------------------------------------------------
# Results and traces: complete, parseable, deterministic
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The dlp-m program run twice with --json --trace under different hash seeds."""
    def run(seed: str):
        folder = tmp_path_factory.mktemp(f"seed{seed}")
        (folder / "m.asm").write_text(DLP_M_PROGRAM)
        result = cli("run", "m.asm", "--json", "--trace", "t.json", cwd=folder, hash_seed=seed)
        assert result.returncode == 0, result.stderr
        return result.stdout, (folder / "t.json").read_bytes()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, ["0", "4242"]))


def test_json_is_byte_identical_across_hash_seeds(two_runs):
    (json_a, _), (json_b, _) = two_runs
    assert json_a == json_b


def test_trace_is_byte_identical_across_hash_seeds(two_runs):
    (_, trace_a), (_, trace_b) = two_runs
    assert trace_a == trace_b


def test_json_has_the_documented_keys(two_runs):
    results = json.loads(two_runs[0][0])
    for key in ("cycles", "seconds", "mac_utilization", "bound_cycles", "efficiency", "cores", "links"):
        assert key in results
    assert isinstance(results["cycles"], int)
    assert results["seconds"] == pytest.approx(results["cycles"] / results["clock_hz"])
    assert 0 <= results["efficiency"] <= 1
    assert 0 <= results["mac_utilization"] <= 1
    assert set(results["cores"]) == {"core0", "core1", "core2", "core3", "mem"}
    assert {"dram", "shared.0", "shared.3", "local.0", "local.3"} <= set(results["links"])


def test_trace_has_a_track_per_busy_queue_and_per_used_link(two_runs):
    results = json.loads(two_runs[0][0])
    trace = json.loads(two_runs[0][1])
    events = trace["traceEvents"]
    assert isinstance(events, list)
    processes = {e["pid"]: e["args"]["name"]
                 for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    tracks = [(processes[e["pid"]], e["args"]["name"])
              for e in events if e["ph"] == "M" and e["name"] == "thread_name"]
    assert len(tracks) == len(set(tracks)), "a track is declared twice"
    expected = {(core, queue) for core, stats in results["cores"].items()
                for queue, queue_stats in stats["queues"].items() if queue_stats["instructions"] > 0}
    expected |= {("links", name) for name, link in results["links"].items() if link["bytes"] > 0}
    assert ("mem", "io") in expected and ("links", "shared.2") in expected
    assert expected <= set(tracks), expected - set(tracks)
    # Every interval sits on a declared track and inside the run.
    declared = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    intervals = [e for e in events if e["ph"] == "X"]
    assert intervals
    for event in intervals:
        assert (event["pid"], event["tid"]) in declared
        assert 0 <= event["args"]["start_cycle"] <= event["args"]["end_cycle"] <= results["cycles"]


# --------------------------------------------------------------------------------------------
# dlpsim asm, dlpsim presets
# --------------------------------------------------------------------------------------------

def test_asm_prints_each_cores_listing_with_line_numbers(tmp_path):
    (tmp_path / "m.asm").write_text(DLP_M_PROGRAM)
    result = cli("asm", "m.asm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listing = result.stdout
    for core in ("core0", "core1", "core2", "core3", "mem"):
        assert re.search(rf"^{core}:", listing, re.MULTILINE), listing
    assert re.search(r"^\s+4\s+move DRAM SharedRAM 65536$", listing, re.MULTILINE), listing
    assert len(re.findall(r"^\s+12\s+compute MAC_32 4096$", listing, re.MULTILINE)) == 4, listing
    # Every numbered line names the statement written on that line of the source.
    source = DLP_M_PROGRAM.splitlines()
    for number, text in re.findall(r"^\s+(\d+)\s+(\S.*)$", listing, re.MULTILINE):
        assert source[int(number) - 1].split()[0].lower() == text.split()[0].lower()


def test_asm_listing_shows_loops(tmp_path):
    (tmp_path / "l.asm").write_text("move DRAM NRAM 64\nloop 3\n  compute MAC_32 256\nendloop\n")
    result = cli("asm", "l.asm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+2\s+loop 3$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^\s+3\s+compute MAC_32 256$", result.stdout, re.MULTILINE), result.stdout


def test_asm_check_prints_one_ok_line_for_a_good_program(tmp_path):
    (tmp_path / "m.asm").write_text(DLP_M_PROGRAM)
    result = cli("asm", "m.asm", "--check", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"m\.asm: OK, \d+ cores?, \d+ instructions? \([\d,]+ issued\)\n", result.stdout)


def test_presets_lists_both(tmp_path):
    result = cli("presets", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert {"dlp-s", "dlp-m"} <= set(names)


def test_presets_prints_the_toml_with_its_comments(tmp_path):
    result = cli("presets", "dlp-m", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shipped = (resources.files("dlpsim.machine") / "presets" / "dlp-m.toml").read_text("utf-8")
    assert result.stdout == shipped
    assert "# " in result.stdout and "assumption" in result.stdout
    assert 'name = "dlp-m"' in result.stdout


# --------------------------------------------------------------------------------------------
# Internal errors (in-process, with a sabotaged simulator)
# --------------------------------------------------------------------------------------------

@pytest.fixture
def broken_simulator(monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr("dlpsim.sim.simulate", boom)
    program = tmp_path / "ok.asm"
    program.write_text("compute MAC_32 256\n")
    return str(program)


def test_internal_error_exits_1_without_traceback(broken_simulator, monkeypatch):
    monkeypatch.delenv("DLPSIM_DEBUG", raising=False)
    result = CliRunner().invoke(main, ["run", broken_simulator])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: the engine fell over" in result.stderr
    assert "DLPSIM_DEBUG" in result.stderr  # says how to see more
    assert "Traceback" not in result.output


def test_internal_error_shows_traceback_with_debug(broken_simulator, monkeypatch):
    monkeypatch.setenv("DLPSIM_DEBUG", "1")
    result = CliRunner().invoke(main, ["run", broken_simulator])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: the engine fell over" in result.stderr
    assert "Traceback" in result.stderr


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("dlpsim")
