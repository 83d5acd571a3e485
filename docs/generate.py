"""Every generated figure of the documentation, and the command that makes it.

Run from anywhere (paths are the repository's):

    .venv/bin/python docs/generate.py                 # regenerate every deterministic figure
    .venv/bin/python docs/generate.py --check         # report what is stale, write nothing
    .venv/bin/python docs/generate.py sweep-table     # only these blocks or commands (and what they need)
    .venv/bin/python docs/generate.py --timing speed  # a measured block: rerun its benchmark
    .venv/bin/python docs/generate.py --list          # the registry

A COMMAND is what a reader would type (shown verbatim in the docs); it writes files under
docs/images and prints text. A BLOCK is a stretch of Markdown between the markers

    <!-- generated NAME: .venv/bin/python docs/generate.py NAME -->
    <!-- end generated NAME -->

rendered from its commands' output. Deterministic commands are rerun by default and by
--check (into a temporary folder). Timing commands (wall-clock seconds, rates) cannot be
reproduced: their blocks show the command line and the machine, are rewritten only with
--timing NAME, and --check compares them only with --timing, with the figures their
`timing` pattern matches blanked out. tests/test_docs.py checks the registry against the
docs and recomputes the cheap figures; this script is the full check.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATOR = "docs/generate.py"

# The Markdown files that may hold generated blocks or reference generated files: a new page
# under docs/ is covered without registering it.
DOCUMENTS = ("README.md", "benchmarks/README.md",
             *sorted(f"docs/{path.name}" for path in (REPO / "docs").glob("*.md")))


@dataclass(frozen=True)
class Command:
    """One command, run from the repository's root, whose files and printed text are figures."""

    name: str
    line: str  # exactly as the docs show it
    outputs: tuple[str, ...] = ()  # files it writes, relative to the root
    timing: str | None = None  # a regex of its measured figures: set for timing commands only
    needs: str = ""  # what the command needs beyond .venv, when it does
    # Why a timing block shows no machine line yet (a run from before the benchmark printed one);
    # to be removed when the block is remeasured, which the test then requires.
    machine_unrecorded: str = ""
    # The option that sends its files elsewhere, for a command whose paths are not on its line.
    folder_option: str = ""

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.line)
        if words[0] == "dlpsim":
            return [sys.executable, "-m", "dlpsim", *words[1:]]
        if words[0] == ".venv/bin/python":
            return [sys.executable, *words[1:]]
        return words

    def run(self, folder: Path | None) -> str:
        """Its standard output; with a folder, its files are written there instead of the docs."""
        argv = self.argv
        if folder is not None:
            redirected = {output: str(folder / Path(output).name) for output in self.outputs}
            argv = [redirected.get(word, word) for word in argv]
            if self.folder_option:
                argv += [self.folder_option, str(folder)]
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                                env={**os.environ, "PYTHONHASHSEED": "0"})
        if result.returncode != 0:
            raise SystemExit(f"{GENERATOR}: {self.line!r} failed (exit {result.returncode}):\n"
                             f"{result.stderr}")
        return result.stdout


@dataclass(frozen=True)
class Block:
    """A stretch of Markdown rendered from its commands' output (stdout and files by name)."""

    name: str
    documents: tuple[str, ...]  # each holds the block once, between its markers
    commands: tuple[str, ...]
    render: Callable[[dict[str, str], dict[str, Path]], str]


def begin_marker(name: str) -> str:
    return f"<!-- generated {name}: .venv/bin/python {GENERATOR} {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- end generated {name} -->"


# -- renderings ------------------------------------------------------------------------------

def _without_file_notes(printed: str) -> str:
    """A chart command's table without its "wrote ... to PATH" notes (the path is the caller's)."""
    return "".join(line for line in printed.splitlines(keepends=True) if not line.startswith("wrote "))


def shown_run(command: str) -> Callable[[dict[str, str], dict[str, Path]], str]:
    """The command line and what it prints, as a reader sees it in a terminal."""
    def render(printed: dict[str, str], files: dict[str, Path]) -> str:
        return f"```text\n$ {COMMANDS[command].line}\n{printed[command]}```\n"
    return render


def printed_tables(*commands: str) -> Callable[[dict[str, str], dict[str, Path]], str]:
    """The commands' printed tables, one after another, without the command lines."""
    def render(printed: dict[str, str], files: dict[str, Path]) -> str:
        tables = "\n".join(_without_file_notes(printed[name]) for name in commands)
        return "```text\n" + tables.rstrip("\n") + "\n```\n"
    return render


def _percent(value: str) -> str:
    return f"{float(value) * 100:.1f}%"


def sweep_table(printed: dict[str, str], files: dict[str, Path]) -> str:
    """docs/sweep.md's table: per MAC-array size the time, the network's and each MAC layer's utilization."""
    rows = list(csv.DictReader(io.StringIO(files["alexnet_util_sweep.csv"].read_text("utf-8"))))
    key = "core.matrix.macs_per_cycle"
    layers = [column.removesuffix(":mac_utilization") for column in rows[0]
              if column.endswith(":mac_utilization") and any(float(row[column]) for row in rows)]
    lines = ["| MACs per cycle | time per inference | MAC utilization | " + " | ".join(layers) + " |",
             "|---:" * (3 + len(layers)) + "|"]
    for row in rows:
        cells = [row[key], f"{float(row['seconds']) * 1000:.3f} ms", _percent(row["mac_utilization"]),
                 *(_percent(row[f"{layer}:mac_utilization"]) for layer in layers)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- the registry ----------------------------------------------------------------------------

_ROOFLINE = ("dlpsim roofline --preset {preset} --net alexnet --net resnet50-v1 --net lstm-lm "
             "-o docs/images/roofline_{name}.png --csv docs/images/roofline_{name}.csv "
             "--results docs/images/roofline_{name}.json")
_SWEEP = ("dlpsim sweep --net alexnet --preset dlp-s {fixed}--vary core.matrix.macs_per_cycle=16,32,...,4096 "
          "{second}-o docs/images/alexnet_util_{name}.png --results docs/images/alexnet_util_{name}.json")
# Timing figures blanked before comparing a rerun: a last column of seconds (one decimal, unlike
# the ratios), wall times, the machine.
_SECONDS_COLUMN = r"(?m) +\d+\.\d$|total wall time .*|machine: .*"
_SCALESIM_TIMES = r"\d[\d,.]* (?:ms|s)\b|[\d,]+x\b|machine: .*"


def _chart_files(stem: str) -> tuple[str, ...]:
    """A chart, its CSV and its results file (which redraws both without simulating)."""
    return tuple(f"docs/images/{stem}.{extension}" for extension in ("png", "csv", "json"))


COMMANDS: dict[str, Command] = {command.name: command for command in (
    Command("sample-run", "dlpsim run programs/fc_1024x256.asm"),
    Command("timeline", "dlpsim run programs/fc_1024x256.asm --timeline docs/images/fc_1024x256_timeline.png",
            outputs=("docs/images/fc_1024x256_timeline.png",)),
    Command("roofline-dlp-s", _ROOFLINE.format(preset="dlp-s", name="dlp_s"), _chart_files("roofline_dlp_s")),
    Command("roofline-dlp-m", _ROOFLINE.format(preset="dlp-m", name="dlp_m"), _chart_files("roofline_dlp_m")),
    Command("sweep", _SWEEP.format(fixed="--set dram.bandwidth=12.8GB/s ", second="", name="sweep"),
            _chart_files("alexnet_util_sweep")),
    Command("heatmap", _SWEEP.format(fixed="", name="heatmap",
                                     second="--vary dram.bandwidth=12.8GB/s,25.6GB/s,...,102.4GB/s "),
            _chart_files("alexnet_util_heatmap")),
    Command("explore", "dlpsim explore --net alexnet --net resnet18 "
            "--vary core.matrix.macs_per_cycle=64,128,...,1024 "
            "--vary dram.bandwidth=16GB/s,32GB/s,...,256GB/s "
            "--budget 1200 -o docs/images/alexnet_resnet18_front.png "
            "--results docs/images/alexnet_resnet18_front.json", _chart_files("alexnet_resnet18_front")),
    Command("model-roofline", ".venv/bin/python docs/make_model_roofline.py",
            ("docs/images/roofline_models.png", "docs/images/roofline_models_dlp_s.csv",
             "docs/images/roofline_models_dlp_m.csv"), folder_option="--images"),
    Command("compiler-quality", ".venv/bin/python benchmarks/compiler_quality.py", timing=_SECONDS_COLUMN,
            machine_unrecorded="run before compiler_quality.py printed its machine (with the "
                               "transformer networks, on the 2-CPU machine shared with other work)"),
    Command("speed", ".venv/bin/python benchmarks/speed.py", timing=r"(?s).*"),
    Command("hazards", ".venv/bin/python benchmarks/hazards.py", timing=r"(?s).*"),
    Command("verify", ".venv/bin/python benchmarks/verify.py", timing=r"(?s).*"),
    Command("sweep-scale", ".venv/bin/python benchmarks/sweep_scale.py", timing=r"(?s).*"),
    Command("onnx-models", ".venv/bin/python benchmarks/onnx_models.py", timing=_SECONDS_COLUMN,
            needs="about 20 minutes",
            machine_unrecorded="run before onnx_models.py printed its machine: the 2-CPU machine "
                               "shared with other work that docs/onnx.md describes"),
    Command("vs-scalesim", "/tmp/ss/bin/python benchmarks/vs_scalesim.py --csv vs_scalesim.csv",
            timing=_SCALESIM_TIMES, needs="SCALE-Sim in /tmp/ss (benchmarks/README.md)"),
    Command("vs-scalesim-full", "/tmp/ss/bin/python benchmarks/vs_scalesim.py --networks alexnet --full "
            "--csv full.csv", timing=_SCALESIM_TIMES,
            needs="SCALE-Sim in /tmp/ss and about 25 minutes"),
)}

BLOCKS: dict[str, Block] = {block.name: block for block in (
    Block("sample-run", ("README.md",), ("sample-run",), shown_run("sample-run")),
    Block("roofline-tables", ("docs/roofline.md",), ("roofline-dlp-s", "roofline-dlp-m"),
          printed_tables("roofline-dlp-s", "roofline-dlp-m")),
    Block("model-roofline-tables", ("docs/roofline.md",), ("model-roofline",),
          printed_tables("model-roofline")),
    Block("sweep-table", ("docs/sweep.md",), ("sweep",), sweep_table),
    Block("compiler-quality", ("README.md",), ("compiler-quality",), shown_run("compiler-quality")),
    Block("speed", ("README.md",), ("speed",), shown_run("speed")),
    Block("hazards", ("README.md",), ("hazards",), shown_run("hazards")),
    Block("verify", ("README.md",), ("verify",), shown_run("verify")),
    Block("sweep-scale", ("README.md",), ("sweep-scale",), shown_run("sweep-scale")),
    Block("onnx-models", ("docs/onnx.md",), ("onnx-models",), shown_run("onnx-models")),
    Block("vs-scalesim", ("README.md", "benchmarks/README.md", "docs/systolic.md"), ("vs-scalesim",),
          shown_run("vs-scalesim")),
    Block("vs-scalesim-full", ("docs/systolic.md",), ("vs-scalesim-full",), shown_run("vs-scalesim-full")),
)}


def generated_files() -> dict[str, Command]:
    """Every file under docs/images that a command writes, with the command."""
    return {output: command for command in COMMANDS.values() for output in command.outputs}


def is_timing(block: Block) -> bool:
    return any(COMMANDS[name].timing is not None for name in block.commands)


# -- blocks in the Markdown ------------------------------------------------------------------

_MARKER = re.compile(r"^<!-- (end )?generated ([\w-]+)(?:: .*)? -->$", re.M)


def blocks_in(text: str, document: str) -> dict[str, str]:
    """The generated blocks of a Markdown text, by name; every marker paired and named right."""
    found: dict[str, str] = {}
    opened: tuple[str, int] | None = None
    for match in _MARKER.finditer(text):
        is_end, name = match[1] is not None, match[2]
        if not is_end:
            if opened is not None:
                raise ValueError(f"{document}: block {name} begins inside block {opened[0]}")
            if match[0] != begin_marker(name):
                raise ValueError(f"{document}: the marker {match[0]!r} should read {begin_marker(name)!r}")
            opened = (name, match.end() + 1)
        else:
            if opened is None or opened[0] != name:
                raise ValueError(f"{document}: {match[0]!r} closes no open block of that name")
            if name in found:
                raise ValueError(f"{document}: block {name} appears twice")
            found[name] = text[opened[1]:match.start()]
            opened = None
    if opened is not None:
        raise ValueError(f"{document}: block {opened[0]} is never closed")
    return found


def replace_block(text: str, name: str, content: str) -> str:
    begin, end = begin_marker(name) + "\n", end_marker(name)
    start = text.index(begin) + len(begin)
    return text[:start] + content + text[text.index(end, start):]


def blanked(text: str, command: Command) -> str:
    return re.sub(command.timing, "#", text) if command.timing else text


# -- the script ------------------------------------------------------------------------------

def _selection(names: list[str]) -> tuple[list[Command], list[Block]]:
    unknown = [name for name in names if name not in COMMANDS and name not in BLOCKS]
    if unknown:
        raise SystemExit(f"{GENERATOR}: unknown {', '.join(unknown)}; see --list")
    blocks = [block for block in BLOCKS.values() if not names or block.name in names]
    wanted = ({name for name in names if name in COMMANDS} if names else set(COMMANDS)) \
        | {name for block in blocks for name in block.commands}
    return [command for command in COMMANDS.values() if command.name in wanted], blocks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="blocks or commands (default: all)")
    parser.add_argument("--check", action="store_true", help="report what is stale; write nothing")
    parser.add_argument("--timing", action="store_true", help="rerun the timing commands named too")
    parser.add_argument("--list", action="store_true", help="print the registry")
    args = parser.parse_args(argv)
    if args.list:
        for command in COMMANDS.values():
            kind = "timing" if command.timing else "deterministic"
            needs = f"; needs {command.needs}" if command.needs else ""
            print(f"{command.name}: {command.line}  [{kind}{needs}]")
            for output in command.outputs:
                print(f"    writes {output}")
            if command.machine_unrecorded:
                print(f"    no machine line: {command.machine_unrecorded}")
        for block in BLOCKS.values():
            print(f"block {block.name} in {', '.join(block.documents)} from {', '.join(block.commands)}")
        return 0

    commands, blocks = _selection(args.names)
    # a benchmark is rerun only when asked for by name: its figures would change with the machine's load
    commands = [command for command in commands if command.timing is None or (args.timing and args.names)]
    blocks = [block for block in blocks if all(name in {c.name for c in commands} for name in block.commands)]
    stale: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dlpsim-docs-") as scratch:
        folder = Path(scratch)
        printed: dict[str, str] = {}
        for command in commands:
            print(f"running {command.line}", file=sys.stderr, flush=True)
            printed[command.name] = command.run(folder)
            for output in command.outputs:
                fresh, kept = folder / Path(output).name, REPO / output
                if not kept.exists() or fresh.read_bytes() != kept.read_bytes():
                    stale.append(output)
                    if not args.check:
                        shutil.copyfile(fresh, kept)
        files = {path.name: path for path in folder.iterdir()}
        for block in blocks:
            content = block.render(printed, files)
            for document in block.documents:
                path = REPO / document
                text = path.read_text("utf-8")
                kept = blocks_in(text, document)[block.name]
                timing = [COMMANDS[name] for name in block.commands if COMMANDS[name].timing]
                same = (all(blanked(kept, command) == blanked(content, command) for command in timing)
                        if timing and args.check else kept == content)
                if not same:
                    stale.append(f"{document}: block {block.name}")
                    if not args.check:
                        path.write_text(replace_block(text, block.name, content), encoding="utf-8")
    for item in stale:
        print(f"{'stale' if args.check else 'regenerated'}: {item}")
    if not stale:
        print("every figure checked is up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
