"""Fuzzing the assembler and `dlpsim run` with hostile programs and configurations (hypothesis).

The property, for every input: `dlpsim run` either prints a normal report and exits 0,
or exits 2 with one clear error: `file:line:col: error: ...` for a program error,
`SOURCE: error: ...` for a configuration or limit error. It never exits 1 (an internal
error), never prints a traceback, and never hangs (each example has a deadline).

Inputs: token soup from the ISA's vocabulary plus junk; valid programs with one token
replaced, deleted, duplicated or moved; huge numbers and products; loops nested up to
150 deep; unicode and control characters; empty files; random bytes; random `--set`,
`--config` and `--preset` values; random `--max-cycles`.

The CLI runs in this process (click's CliRunner), with `--max-cycles 20000` unless a
test varies it, so that each example takes milliseconds. The spin limit (how many
sync/barrier instructions one core may issue in a single cycle) is lowered from 10^6
to 10^4 here for the same reason; its real value is tested in test_reliability.py.

Profiles: "ci" (the default) runs a fixed, derandomized set of examples per test;
`DLPSIM_FUZZ_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz.py` runs 20000
random examples per test (about an hour or more).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from program_strategies import valid_runs

import dlpsim.sim
import dlpsim.sim.control
from dlpsim.asm.opcodes import COMPUTE_TYPES, DIRECTIVES, MEMORY_NAMES, MNEMONICS
from dlpsim.cli import main
from dlpsim.machine import preset_names
from dlpsim.machine.loader import SCHEMA

# -- profiles ---------------------------------------------------------------------------------

_COMMON = {"deadline": timedelta(seconds=5), "suppress_health_check": [HealthCheck.too_slow],
           "print_blob": True}
settings.register_profile("ci", max_examples=300, derandomize=True, database=None, **_COMMON)
settings.register_profile("long", max_examples=20000, **_COMMON)
FUZZ = settings.get_profile(os.environ.get("DLPSIM_FUZZ_PROFILE", "ci"))

MAX_CYCLES = 20000
FAST_SPIN_LIMIT = 10_000


@pytest.fixture(scope="module", autouse=True)
def fast_spin_limit():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dlpsim.sim.control, "SPIN_LIMIT", FAST_SPIN_LIMIT)
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One folder for the whole module: hypothesis runs many examples per test function."""
    return tmp_path_factory.mktemp("fuzz")


# -- running the CLI and checking the outcome -------------------------------------------------

@dataclass(frozen=True, repr=False)
class Outcome:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def __str__(self) -> str:
        return (f"dlpsim {' '.join(self.args)}\nexit {self.exit_code} ({self.exception!r})\n"
                f"stdout: {self.stdout[:800]}\nstderr: {self.stderr[:800]}")

    __repr__ = __str__


def invoke(*args: str) -> Outcome:
    result = CliRunner().invoke(main, list(args))
    return Outcome(tuple(args), result.exit_code, result.stdout, result.stderr, result.exception)


def write_program(folder: Path, content: str | bytes, name: str = "prog.asm") -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


LOCATED = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<column>\d+): error: \S")
NOTE = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<column>\d+): note: \S")
CONFIG_SOURCE = re.compile(r"^((--set .*|--preset|preset \S+|--config|\S+\.toml): )?error: \S")


def _line_count(content: str | bytes) -> int:
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    return max(1, len(text.splitlines()), text.count("\n") + 1)


def _report_cycles(outcome: Outcome, as_json: bool) -> tuple[int, bool]:
    """The cycles and completeness a report on stdout states; fails if it is not a report."""
    if as_json:
        results = json.loads(outcome.stdout)
        assert isinstance(results["cycles"], int), outcome
        return results["cycles"], results["complete"]
    match = re.search(r"^  cycles +(\d+)$", outcome.stdout, re.MULTILINE)
    assert match, f"not a report:\n{outcome}"
    return int(match[1]), not outcome.stdout.startswith("INCOMPLETE")


def check_outcome(outcome: Outcome, program: Path, content: str | bytes, *, config_varied: bool = False,
                  max_cycles: int = MAX_CYCLES, as_json: bool = False) -> None:
    """The property every example must have; raises AssertionError with the whole story if not."""
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), (
        f"uncaught exception:\n{outcome}")
    assert "Traceback" not in outcome.stdout + outcome.stderr, outcome
    assert outcome.exit_code in (0, 2), (
        f"exit status {outcome.exit_code} (1 is an internal error):\n{outcome}")
    if outcome.exit_code == 0:
        assert outcome.stderr == "", outcome
        if outcome.args[0] == "run":
            cycles, complete = _report_cycles(outcome, as_json)
            assert complete and 0 <= cycles <= max_cycles, outcome
        return

    assert outcome.stderr.endswith("\n") and outcome.stderr.strip(), outcome
    lines = outcome.stderr[:-1].split("\n")  # not splitlines(): a value may hold \x1e or \x85
    first = lines[0]
    located = LOCATED.match(first)
    if located:
        assert located["file"] == str(program), outcome
        assert 1 <= int(located["line"]) <= _line_count(content), outcome
        assert int(located["column"]) >= 1, outcome
        if " hazard on " in first:  # data hazards: each error with a note at the other line, then the count
            assert all(LOCATED.match(line) or NOTE.match(line) for line in lines[:-1]), outcome
            assert lines[-1].startswith(f"{program}: note: ") and "--allow-hazards" in lines[-1], outcome
        else:
            assert len(lines) == 1, f"a program error is one line:\n{outcome}"
    elif first.startswith(f"{program}: error: "):
        # The file as a whole: it cannot be read, or it would run past the cycle limit.
        assert len(lines) == 1, outcome
        if "cycles" in first:
            assert "--max-cycles" in first, outcome
    else:
        assert config_varied, f"not a program error:\n{outcome}"
        assert all(CONFIG_SOURCE.match(line) for line in lines), f"not a configuration error:\n{outcome}"

    if "stopped at the limit" in first:
        # A run stopped at --max-cycles prints what it measured so far.
        cycles, complete = _report_cycles(outcome, as_json)
        assert not complete and cycles == max_cycles, outcome
    else:
        assert outcome.stdout == "", f"an error with output on stdout:\n{outcome}"


def run_program(folder: Path, content: str | bytes, *options: str, as_json: bool = False,
                max_cycles: int = MAX_CYCLES, config_varied: bool = False) -> Outcome:
    program = write_program(folder, content)
    args = ["run", str(program), "--max-cycles", str(max_cycles), *options]
    if as_json:
        args.append("--json")
    outcome = invoke(*args)
    check_outcome(outcome, program, content, config_varied=config_varied, max_cycles=max_cycles,
                  as_json=as_json)
    return outcome


# -- strategies: programs ---------------------------------------------------------------------

WORDS = sorted({*MNEMONICS, *DIRECTIVES, *MEMORY_NAMES, "SharedRAM", *COMPUTE_TYPES,
                "all", "mem", "dlp-s", "dlp-m"})
JUNK_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")


def _casings(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.lower(), word.title()])


NUMBERS = st.one_of(
    st.integers(0, 2**70).map(str),
    st.integers(0, 2**70).map(hex),
    st.integers(0, 10**30).map(lambda n: f"{n:_}"),
    st.tuples(st.integers(0, 99999), st.sampled_from("KMGkmg")).map(lambda t: f"{t[0]}{t[1]}"),
    st.lists(st.integers(0, 10**10).map(str), min_size=2, max_size=5).map("*".join),
    st.sampled_from(["0x", "0x_", "1__2", "_1", "00", "-1", "1.5", "1e9", "0b101", "９"]),
)
TOKENS = st.one_of(
    st.sampled_from(WORDS).flatmap(_casings),
    NUMBERS,
    st.sampled_from(["*", "[", "]", ",", "-", ";", "#", "//", "\t", "[0x100]", "NRAM[", "]]", ".", "..."]),
    st.text(JUNK_CHARACTERS, min_size=1, max_size=3),
)
SOUP = st.lists(st.lists(TOKENS, max_size=8).map(" ".join), max_size=25).map("\n".join)


@st.composite
def mutated_programs(draw) -> tuple[str, str]:
    """A valid program with one token replaced, deleted, duplicated or moved; and its preset."""
    run = draw(valid_runs())
    pieces = re.split(r"(\s+)", run.text)
    words = [i for i, piece in enumerate(pieces) if piece and not piece.isspace()]
    index = draw(st.sampled_from(words))
    action = draw(st.sampled_from(["replace", "delete", "duplicate", "move", "newline"]))
    if action == "replace":
        pieces[index] = draw(TOKENS)
    elif action == "delete":
        pieces[index] = ""
    elif action == "duplicate":
        pieces[index] = f"{pieces[index]} {pieces[index]}"
    elif action == "move":
        other = draw(st.sampled_from(words))
        pieces[index], pieces[other] = pieces[other], pieces[index]
    else:
        pieces[index] += "\n"
    return "".join(pieces), run.preset


BIG = st.one_of(st.integers(0, 10**30), st.integers(0, 2**64 + 2),
                st.sampled_from([2**63 - 1, 2**63, 10**12]))


def _number_text(draw) -> str:
    factors = draw(st.lists(BIG, min_size=1, max_size=3))
    return "*".join(draw(st.sampled_from([str(f), hex(f)])) for f in factors)


@st.composite
def huge_number_programs(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        n, m = _number_text(draw), _number_text(draw)
        lines.append(draw(st.sampled_from([
            f"loop {n}\ncompute MAC_32 {m}\nendloop",
            f"loop {n}\nmove DRAM NRAM {m}\nendloop",
            f"loop {n}\nloop {m}\nsync\nendloop\nendloop",
            f"loop {n}\nloop {m}\nendloop\nendloop",
            f"move DRAM NRAM {n}",
            f"move DRAM NRAM[{n}] {m}",
            f"compute DIV_16 {n}",
            f".core {n}",
            f".core 0-{n}",
            f"loop {n}\nbarrier\nendloop",
        ])))
    return "\n".join(lines) + "\n"


@st.composite
def deep_programs(draw) -> str:
    """Loops nested up to 150 deep (the assembler allows 100), counts up to 10^13."""
    depth = draw(st.integers(0, 150))
    counts = draw(st.lists(st.one_of(st.integers(0, 3), st.integers(0, 10**13)), min_size=depth,
                           max_size=depth))
    inner = draw(st.sampled_from(["compute MAC_32 256", "sync", "barrier", "move DRAM NRAM 64", "",
                                  "move NRAM WRAM 1\nsync"]))
    closing = depth - draw(st.integers(0, 1) if depth else st.just(0))  # sometimes one endloop short
    text = "".join(f"loop {c}\n" for c in counts) + inner + "\n" + "endloop\n" * closing
    return draw(st.sampled_from(["", ".machine dlp-m\n"])) + text


@st.composite
def unicode_programs(draw) -> str:
    """Arbitrary text, or a valid program with arbitrary characters inserted."""
    junk = st.text(JUNK_CHARACTERS, max_size=40)
    if draw(st.booleans()):
        return draw(junk)
    text = draw(valid_runs()).text
    position = draw(st.integers(0, len(text)))
    return text[:position] + draw(junk) + text[position:]


EMPTY = st.sampled_from(["", "\n", "\n\n\n", "   \t \n", "; nothing\n", "# nothing", "// nothing\n",
                         "\r\n\r\n", "\ufeff", "\ufeff\n", ".machine dlp-m\n", ".core all\n"])


# -- the properties: programs -----------------------------------------------------------------

OUTPUT = st.sampled_from(["text", "json", "trace"])


def _output_options(folder: Path, output: str) -> tuple[tuple[str, ...], bool]:
    if output == "trace":
        return ("--trace", str(folder / "trace.json")), False
    return (), output == "json"


@FUZZ
@given(text=SOUP, output=OUTPUT, preset=st.sampled_from(["", "dlp-m"]))
def test_token_soup(folder, text, output, preset):
    options, as_json = _output_options(folder, output)
    run_program(folder, text, *options, *(("--preset", preset) if preset else ()), as_json=as_json)


@FUZZ
@given(case=mutated_programs(), output=OUTPUT)
def test_valid_programs_with_one_token_changed(folder, case, output):
    text, preset = case
    options, as_json = _output_options(folder, output)
    run_program(folder, text, "--preset", preset, *options, as_json=as_json)


@FUZZ
@given(text=huge_number_programs(), preset=st.sampled_from(["dlp-s", "dlp-m"]))
def test_huge_numbers(folder, text, preset):
    run_program(folder, text, "--preset", preset, as_json=True)


@FUZZ
@given(text=deep_programs())
def test_deep_nesting(folder, text):
    run_program(folder, text, as_json=True)


@FUZZ
@given(text=unicode_programs() | EMPTY)
def test_unicode_control_characters_and_empty_files(folder, text):
    run_program(folder, text)


@FUZZ
@given(content=st.binary(max_size=300))
def test_random_bytes(folder, content):
    run_program(folder, content)


@FUZZ
@given(text=SOUP | mutated_programs().map(lambda case: case[0]), check=st.booleans())
def test_the_asm_command(folder, text, check):
    program = write_program(folder, text)
    outcome = invoke("asm", str(program), *(("--check",) if check else ()))
    check_outcome(outcome, program, text)
    if outcome.exit_code == 0:
        assert outcome.stdout == "" if check else outcome.stdout.startswith(str(program)), outcome


def test_only_line_feeds_end_a_line(folder):
    program = folder / "prog.asm"
    outcome = run_program(folder, "sync\x0cfoo\n")  # a form feed is whitespace inside line 1
    assert outcome.stderr.startswith(f"{program}:1:6: error: unexpected 'foo'"), outcome
    outcome = run_program(folder, "sync ; a comment\u2028compute MAC_32 2560\n", as_json=True)
    assert json.loads(outcome.stdout)["cycles"] == 0, "text inside a comment was run"


# -- strategies and properties: configurations ------------------------------------------------

def _keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, rule in schema.items():
        keys.append(f"{prefix}{key}")
        if isinstance(rule, dict):
            keys += _keys(rule, f"{prefix}{key}.")
    return keys


SCHEMA_KEYS = _keys(SCHEMA)
KEYS = st.one_of(
    st.sampled_from(SCHEMA_KEYS),
    st.sampled_from(["dram.speed", "foo.bar", "core.nram.capacity.x", "core..count", ".dram", "dram.",
                     "CORE.COUNT", " dram.latency", "machine", "machine.name.first"]),
    st.text(JUNK_CHARACTERS, min_size=1, max_size=12),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
VALUES = st.one_of(
    st.integers(-10**20, 10**30).map(str),
    st.sampled_from(["0", "-1", "1", "2", "1024", "0.0", "-0.0", "1e-300", "5e-324", "1e400", "inf", "-inf",
                     "nan", "+inf", "true", "false", "[1, 2]", "[]", "{a = 1}", "{}", "1979-05-27",
                     "07:32:00", "0x10", "1_000", '""', "''", "\"64GB/s\"", "64GB/s", "-5GB/s", "0GB/s",
                     "1e-30GB/s", "1e30TB/s", "128KB", "0KB", "-1KB", "1.5B", "1GHz", "0Hz", "1e-9Hz",
                     "99999999999999999999999999TB/s", "dlp-m", "\"__import__('os').system('touch PWNED')\"",
                     "__import__('os').getcwd()", "1; import os", "{bandwidth = 5}"]),
    FLOATS.map(repr),
    st.text(JUNK_CHARACTERS, max_size=12),
)
PRESETS = st.sampled_from([*preset_names(), "dlp-x", "", "DLP-S", "../presets/dlp-s", "dlp-s.toml", "é"])
GOOD_PROGRAMS = st.sampled_from([
    "move DRAM NRAM 1024\nmove DRAM WRAM 1024\nsync\ncompute MAC_32 256\nsync\nmove NRAM DRAM 4\n",
    "loop 4\n  move DRAM NRAM 4K\n  compute DIV_16 1000\n  move NRAM WRAM 1K\nendloop\n",
    ".machine dlp-m\n.core mem\nmove DRAM SharedRAM 64K\nbarrier\n.core all\nbarrier\n"
    "move SharedRAM NRAM 16K\ncompute MAC_16 4096\nsync\nmove NRAM DRAM 1K\n",
    ".core 0\ncompute MAC_32 512\n.core 3\nmove DRAM WRAM 100\n",
])


@FUZZ
@given(text=GOOD_PROGRAMS,
       overrides=st.lists(st.tuples(KEYS, VALUES), max_size=4),
       preset=st.none() | PRESETS,
       output=OUTPUT)
def test_random_set_overrides_and_presets(folder, text, overrides, preset, output):
    # A line feed inside --set is kept out: the error echoes the option as given, so it would
    # break the one-line-per-error shape this checker parses (a cosmetic matter, not a crash).
    options = [option for key, value in overrides
               for option in ("--set", f"{key}={value}".replace("\n", " "))]
    if preset is not None:
        options += ["--preset", preset]
    extra, as_json = _output_options(folder, output)
    run_program(folder, text, *options, *extra, as_json=as_json, config_varied=True)


@st.composite
def config_files(draw) -> str:
    """A TOML file: dotted keys with random values, or sections, or text that is not TOML at all."""
    kind = draw(st.sampled_from(["dotted", "sections", "junk"]))
    if kind == "junk":
        return draw(st.text(JUNK_CHARACTERS, max_size=60))
    pairs = draw(st.lists(st.tuples(KEYS, VALUES), max_size=5))
    if kind == "dotted":
        return "".join(f"{key} = {value}\n" for key, value in pairs)
    lines = []
    for key, value in pairs:
        section, _, leaf = key.rpartition(".")
        lines += ([f"[{section}]"] if section else []) + [f"{leaf} = {value}"]
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=GOOD_PROGRAMS, config=config_files())
def test_random_config_files(folder, text, config):
    config_file = folder / "cfg.toml"
    config_file.write_text(config, encoding="utf-8")
    run_program(folder, text, "--config", str(config_file), as_json=True, config_varied=True)
    assert not (folder / "PWNED").exists()


# -- limits: random --max-cycles against the run's real length ---------------------------------

@FUZZ
@given(run=valid_runs(), fraction=st.floats(0, 2))
def test_max_cycles_either_completes_or_stops_exactly_at_the_limit(folder, run, fraction):
    options = [option for override in run.overrides for option in ("--set", override)]
    full = run_program(folder, run.text, "--preset", run.preset, *options, as_json=True, max_cycles=10**7)
    if full.exit_code != 0:
        return  # refused (a core left without work and barriers), as test_reference_model allows
    cycles = json.loads(full.stdout)["cycles"]
    limit = max(1, round(cycles * fraction))
    limited = run_program(folder, run.text, "--preset", run.preset, *options, as_json=True, max_cycles=limit)
    if cycles <= limit:
        assert limited.exit_code == 0 and limited.stdout == full.stdout, limited
    else:
        assert limited.exit_code == 2, limited


# -- the checker itself catches broken handlers ------------------------------------------------

def test_checker_catches_an_assembler_that_crashes(folder, monkeypatch):
    """Program errors: a number parser raising a bare ValueError is an internal error (exit 1)."""
    import dlpsim.asm.parser as parser

    def broken(token):
        if len(token.text) > 3:
            raise ValueError(f"cannot read {token.text}")
        return int(token.text)
    text = "move DRAM NRAM 4096\n"
    run_program(folder, text)  # the real assembler passes
    monkeypatch.setattr(parser, "number_value", broken)
    with pytest.raises(AssertionError, match="exit status 1"):
        run_program(folder, text)


def test_checker_catches_an_error_without_a_location(folder, monkeypatch):
    """Program errors: a message that does not start with file:line:col fails the property."""
    import dlpsim.asm.parser as parser
    from dlpsim.errors import SourceLocation

    original = parser.tokenize

    def unlocated(line, file, number):
        tokens = original(line, file, number)
        return [parser.Token(t.kind, t.text, SourceLocation("somewhere", 0, 0)) for t in tokens]
    monkeypatch.setattr(parser, "tokenize", unlocated)
    with pytest.raises(AssertionError, match="not a program error"):
        run_program(folder, "move DRAM NRAM nothing\n")


def test_checker_catches_a_config_value_that_crashes(folder, monkeypatch):
    """Configuration errors: a bandwidth parser raising a bare ValueError is an internal error."""
    monkeypatch.setitem(SCHEMA["dram"], "bandwidth", lambda value: float(value))
    with pytest.raises(AssertionError, match="exit status 1"):
        run_program(folder, "sync\n", "--set", "dram.bandwidth=fast", config_varied=True)


def test_checker_catches_a_config_error_blamed_on_the_program(folder, monkeypatch):
    """Configuration errors are only accepted where configurations vary."""
    with pytest.raises(AssertionError, match="not a program error"):
        run_program(folder, "sync\n", "--set", "dram.bandwidth=0", config_varied=False)


def test_checker_catches_a_limit_that_is_ignored(folder, monkeypatch):
    """Limits: a simulator that runs past --max-cycles and calls the run complete."""
    # Its static lower bound is 20000 cycles (each queue alone: 20 x 1000), within the limit, but the
    # syncs serialise the moves and the computes: the run needs 40000 cycles and is stopped at 20000.
    text = "loop 20\n  move DRAM NRAM 64000\n  sync\n  compute MAC_32 256000\n  sync\nendloop\n"
    outcome = run_program(folder, text, as_json=True)
    assert outcome.exit_code == 2 and json.loads(outcome.stdout)["complete"] is False
    original = dlpsim.sim.simulate
    monkeypatch.setattr(dlpsim.sim, "simulate",
                        lambda program, machine, recorder=None, max_cycles=None:
                        original(program, machine, recorder, max_cycles=None))
    with pytest.raises(AssertionError):
        run_program(folder, text, as_json=True)


def test_checker_catches_a_limit_error_that_crashes(folder, monkeypatch):
    """Limits: a refusal raised as an internal error instead of a user error."""
    import dlpsim.sim.engine as engine

    class NotAUserError(Exception):
        pass
    monkeypatch.setattr(engine, "RunLimitError", NotAUserError)
    with pytest.raises(AssertionError, match="exit status 1"):
        run_program(folder, "loop 1000000\ncompute MAC_32 256\nendloop\n")
