"""The documentation's numbers are the simulator's: docs/exercises.md and the README's sample."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from dlpsim.asm import assemble_file
from dlpsim.machine import load_machine
from dlpsim.sim import simulate

ROOT = Path(__file__).resolve().parent.parent


def exercise_rows() -> list[dict]:
    text = (ROOT / "docs" / "exercises.md").read_text("utf-8")
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("`"):
            rows.append({"program": cells[1].strip("`"), "estimate": int(cells[2]),
                         "cycles": int(cells[3]), "time": cells[4], "bound": cells[5],
                         "efficiency": cells[6]})
    return rows


def test_the_exercise_table_covers_every_program():
    documented = {row["program"] for row in exercise_rows()}
    shipped = {path.name for path in (ROOT / "programs").glob("*.asm")}
    assert documented == shipped


@pytest.mark.parametrize("row", exercise_rows(), ids=lambda row: row["program"])
def test_exercise_table_row_matches_the_simulator(row):
    program = assemble_file(ROOT / "programs" / row["program"])
    stats = simulate(program, load_machine(program.machine))
    assert row["cycles"] == stats.cycles
    assert row["estimate"] == stats.cycles, "the hand estimate and the simulation should agree"
    microseconds = Fraction(stats.cycles) * 10**6 / Fraction(stats.clock_hz)
    assert row["time"] == f"{float(microseconds):.3f} us"
    kind = "compute" if stats.bound.kind == "compute" else "DRAM"
    assert row["bound"] == f"{stats.bound.cycles} ({kind})"
    assert row["efficiency"] == f"{float(stats.efficiency) * 100:.1f}%"


def test_readme_sample_output_is_what_the_main_job_prints():
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"```text\n\$ dlpsim run (\S+)\n(.*?)```", readme, re.S)
    assert match, "the README shows the main job's output"
    result = subprocess.run([sys.executable, "-m", "dlpsim", "run", match[1]], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert result.stdout == match[2]


def test_the_racing_7_9_of_the_exercises_is_refused_with_the_documented_message(tmp_path):
    """docs/exercises.md shows ex7_9_overlap without its syncs and the error dlpsim prints, verbatim."""
    text = (ROOT / "docs" / "exercises.md").read_text("utf-8")
    section = text[text.index("## Placing syncs: a racing 7.9"):]
    program = re.search(r"```asm\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n\$ dlpsim run racing_7_9.asm\n(.*?)```", section, re.S).group(1)
    (tmp_path / "racing_7_9.asm").write_text(program, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dlpsim", "run", "racing_7_9.asm"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == shown
    # the racing lines the section names: the first compute reads W and tile 0 while they load
    assert "RAW hazard on WRAM[0x0:0x20000): line 9 (compute queue, reads operand B)" in shown
    # and the same program with its syncs is the shipped, clean one
    clean = subprocess.run([sys.executable, "-m", "dlpsim", "run",
                            str(ROOT / "programs" / "ex7_9_overlap.asm")],
                           capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0 and clean.stdout.endswith("data hazards: none; 13 instructions checked, "
                                                           "0 unchecked\n")


def _in_process(args: list[str]) -> str:
    """The command's standard output, run in this process (each subprocess would import onnx anew)."""
    from click.testing import CliRunner

    from dlpsim.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_readme_onnx_example_is_what_the_shipped_model_gives(tmp_path, monkeypatch):
    """The README's "Simulate your own model" output, verbatim, from a folder without the file."""
    readme = (ROOT / "README.md").read_text("utf-8")
    command_line = r"```text\n\$ dlpsim (net \w+ small_cnn\.onnx[^\n|]*?)(?: \| tail -n (\d+))?\n(.*?)```"
    blocks = re.findall(command_line, readme, re.S)
    assert [command for command, _, _ in blocks] == ["net summary small_cnn.onnx",
                                                     "net run small_cnn.onnx --preset dlp-m"]
    monkeypatch.chdir(tmp_path)
    _assert_prints_what_is_shown(blocks)


def _assert_prints_what_is_shown(steps) -> None:
    """Each (command, lines kept by its ``| tail -n``, shown output) prints what is shown."""
    for command, tail, shown in steps:
        printed = _in_process(command.split())
        if tail:
            printed = "".join(printed.splitlines(keepends=True)[-int(tail):])
        assert printed == shown


def test_readme_export_example_is_what_the_commands_print(tmp_path, monkeypatch):
    """The README's GPT-2 export and its summary back, verbatim, and the same figures as the built-in
    network's; the chunk of random weights it quotes is the exporter's."""
    from dlpsim.workloads.onnx_export import EXTERNAL_DATA_ABOVE, RANDOM_CHUNK

    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"```text\n(\$ dlpsim net export gpt2 .*?)```", readme, re.S).group(1)
    steps = re.findall(r"\$ dlpsim ([^\n|]*?)(?: \| tail -n (\d+))?\n(.*?)(?=\$ dlpsim |\Z)", block, re.S)
    assert [command.split()[:2] for command, _, _ in steps] == [["net", "export"], ["net", "summary"]]
    monkeypatch.chdir(tmp_path)
    _assert_prints_what_is_shown(steps)
    built_in = _in_process(["net", "summary", "gpt2", "--seq", "8"])
    assert built_in.splitlines()[-8:] == steps[1][2].splitlines()
    prose = _prose("README.md")
    assert f"(no data: {(tmp_path / 'gpt2.onnx').stat().st_size / 1000:.0f} kB)" in prose
    assert (f"over {EXTERNAL_DATA_ABOVE // 2**20} MiB go to `FILE.onnx.data` beside the model, written as "
            f"they are drawn, {RANDOM_CHUNK:,} values ({RANDOM_CHUNK * 4 // 2**20} MiB) at a time") in prose


def test_onnx_doc_figures_are_what_net_summary_prints():
    """docs/onnx.md's summary of every model-zoo CNN the onnx package ships, checked line by line."""
    import onnx

    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    text = (ROOT / "docs" / "onnx.md").read_text("utf-8")
    command_line = r"```text\n\$ dlpsim net summary \$LIGHT/(\S+) \| tail -n (\d+)\n(.*?)```"
    blocks = re.findall(command_line, text, re.S)
    assert sorted(model for model, _, _ in blocks) == sorted(path.name for path in light.glob("*.onnx"))
    for model, tail, shown in blocks:
        printed = _in_process(["net", "summary", str(light / model)])
        assert "".join(printed.splitlines(keepends=True)[-int(tail):]) == shown, model


# -- every figure from docs/generate.py's registry -------------------------------------------

def _load_generator():
    """docs/generate.py as a module (it is a script beside the docs, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
IMAGES = ROOT / "docs" / "images"


def _text(document: str) -> str:
    return (ROOT / document).read_text("utf-8")


def test_every_file_in_docs_images_is_written_by_a_registered_command():
    on_disk = {f"docs/images/{path.name}" for path in IMAGES.iterdir()}
    assert on_disk == set(generate.generated_files())


@pytest.mark.parametrize("document", generate.DOCUMENTS)
def test_every_image_and_data_file_a_document_shows_is_generated(document):
    base = (ROOT / document).parent
    for target in re.findall(r"\]\(([^)\s]+\.(?:png|svg|pdf|csv|json))\)", _text(document)):
        path = (base / target).resolve().relative_to(ROOT)
        assert str(path) in generate.generated_files(), f"{document} shows {target}, which no command writes"


def _shell_commands(text: str) -> list[str]:
    """The commands of a document's ```sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command)
            commands.append(" ".join(command.split()))
    return commands


def test_the_commands_shown_for_generated_files_are_the_registered_ones():
    """A command a doc shows that writes under docs/images is one of the registry's, verbatim;
    and every registered command that writes files is shown somewhere."""
    registered = {command.line for command in generate.COMMANDS.values()}
    shown = set()
    for document in generate.DOCUMENTS:
        for command in _shell_commands(_text(document)):
            if command in registered:
                shown.add(command)
            else:
                assert "docs/images/" not in command, f"{document}: {command} is not the registered command"
    assert {command.line for command in generate.COMMANDS.values() if command.outputs} <= shown


def test_generated_blocks_are_delimited_registered_and_where_the_registry_says():
    placed: dict[str, set[str]] = {}
    for document in generate.DOCUMENTS:
        for name, content in generate.blocks_in(_text(document), document).items():
            assert name in generate.BLOCKS, f"{document}: block {name} is not registered"
            placed.setdefault(name, set()).add(document)
            assert content.endswith("\n")
    assert placed == {name: set(block.documents) for name, block in generate.BLOCKS.items()}
    for name, block in generate.BLOCKS.items():
        copies = {generate.blocks_in(_text(document), document)[name] for document in block.documents}
        assert len(copies) == 1, f"the copies of block {name} differ"


def test_the_marker_parser_refuses_unpaired_and_misnamed_markers():
    begin, end = generate.begin_marker("speed"), generate.end_marker("speed")
    assert generate.blocks_in(f"a\n{begin}\nx\n{end}\nb\n", "d") == {"speed": "x\n"}
    for broken in (f"{begin}\nx\n", f"x\n{end}\n", f"{begin}\n{begin}\n{end}\n",
                   "<!-- generated speed: run it -->\nx\n<!-- end generated speed -->\n"):
        with pytest.raises(ValueError):
            generate.blocks_in(broken, "d")


TIMING_BLOCKS = [name for name, block in generate.BLOCKS.items() if generate.is_timing(block)]


@pytest.mark.parametrize("name", TIMING_BLOCKS)
def test_timing_blocks_show_their_command_and_machine(name):
    """Seconds cannot be checked, so they must say what measured them and where."""
    block = generate.BLOCKS[name]
    (command,) = block.commands
    for document in block.documents:
        content = generate.blocks_in(_text(document), document)[name]
        assert content.startswith(f"```text\n$ {generate.COMMANDS[command].line}\n"), document
        names_machine = re.search(r"^machine: \S", content, re.M) is not None
        # a block measured before its benchmark printed the machine says so in the registry
        assert names_machine != bool(generate.COMMANDS[command].machine_unrecorded), \
            f"{document}: block {name}: a machine line, or the registry's reason for none, not both"


@pytest.mark.parametrize(("kind", "stem"), [
    ("roofline", "roofline_dlp_s"), ("roofline", "roofline_dlp_m"),
    ("sweep", "alexnet_util_sweep"), ("sweep", "alexnet_util_heatmap"),
    ("explore", "alexnet_resnet18_front")])
def test_charts_and_csvs_are_what_their_results_files_redraw(kind, stem, tmp_path):
    """The checked-in chart and CSV are drawn from the checked-in results file (which
    docs/generate.py --check compares with a fresh simulation)."""
    args = [kind, "--from", str(IMAGES / f"{stem}.json"), "-o", str(tmp_path / f"{stem}.png")]
    _in_process(args + (["--csv", str(tmp_path / f"{stem}.csv")] if kind == "roofline" else []))
    for extension in ("png", "csv"):  # a sweep writes its CSV beside the chart
        drawn, kept = tmp_path / f"{stem}.{extension}", IMAGES / f"{stem}.{extension}"
        assert drawn.read_bytes() == kept.read_bytes()


def test_roofline_tables_are_what_the_results_files_print():
    printed = {f"roofline-dlp-{preset}": _in_process(["roofline", "--from",
                                                      str(IMAGES / f"roofline_dlp_{preset}.json")])
               for preset in ("s", "m")}
    expected = generate.BLOCKS["roofline-tables"].render(printed, {})
    assert generate.blocks_in(_text("docs/roofline.md"), "docs/roofline.md")["roofline-tables"] == expected


def test_sweep_table_is_rendered_from_the_sweep_csv():
    expected = generate.sweep_table({}, {"alexnet_util_sweep.csv": IMAGES / "alexnet_util_sweep.csv"})
    assert generate.blocks_in(_text("docs/sweep.md"), "docs/sweep.md")["sweep-table"] == expected


def test_the_timeline_image_is_what_the_command_draws(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the chart's title names the program as the command line gives it
    _in_process(["run", "programs/fc_1024x256.asm", "--timeline", str(tmp_path / "t.png")])
    assert (tmp_path / "t.png").read_bytes() == (IMAGES / "fc_1024x256_timeline.png").read_bytes()


def _csv_rows(name: str) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader((IMAGES / name).open(encoding="utf-8")))


@pytest.mark.parametrize(("chart", "preset", "network", "layer"), [
    ("roofline", "dlp-s", "alexnet", "conv1"), ("roofline", "dlp-s", "lstm-lm", "lstm1"),
    ("roofline", "dlp-m", "resnet50-v1", "res4a_branch2a"),
    ("roofline_models", "dlp-s", "bert-base", "layer0.attention.query"),
    ("roofline_models", "dlp-m", "gpt2-decode", "h0.attention.query")])
def test_roofline_csv_rows_are_what_the_compiler_and_simulator_give_now(chart, preset, network, layer):
    """Representative rows (a convolution, an LSTM cell, the worst layer of dlp-m, attention)
    compiled and simulated anew; the whole charts are docs/generate.py --check's."""
    from dlpsim.run.compile import compile_layer
    from dlpsim.workloads import get_network

    stats = compile_layer(get_network(network).layer(layer), load_machine(preset)).stats
    (row,) = [row for row in _csv_rows(f"{chart}_{preset.replace('-', '_')}.csv")
              if (row["network"], row["layer"]) == (network, layer)]
    assert (int(row["cycles"]), int(row["dram_bytes"])) == (stats.cycles, stats.dram_bytes)


@pytest.mark.parametrize(("macs_per_cycle", "layer"), [(16, "conv1"), (4096, "fc6")])
def test_sweep_csv_cells_are_what_the_compiler_and_simulator_give_now(macs_per_cycle, layer):
    from dlpsim.run.compile import compile_layer
    from dlpsim.workloads import get_network

    machine = load_machine("dlp-s", overrides=["dram.bandwidth=12.8GB/s",
                                                f"core.matrix.macs_per_cycle={macs_per_cycle}"])
    stats = compile_layer(get_network("alexnet").layer(layer), machine).stats
    (row,) = [row for row in _csv_rows("alexnet_util_sweep.csv")
              if row["core.matrix.macs_per_cycle"] == str(macs_per_cycle)]
    assert int(row[f"{layer}:cycles"]) == stats.cycles


# -- numbers quoted in prose beside a generated figure ----------------------------------------

def _prose(document: str) -> str:
    """The document with its line breaks and indentation folded, so a sentence reads as one line."""
    return " ".join(_text(document).split())


def _percent0(value) -> str:
    return f"{round(value * 100)}%"


def _percent1(value) -> str:
    return f"{float(value) * 100:.1f}%"


def _roofline_figures(preset: str) -> dict:
    """What docs/roofline.md says about a preset's chart, from its results file, exactly."""
    import json
    import statistics
    from fractions import Fraction

    results = json.loads((IMAGES / f"roofline_{preset.replace('-', '_')}.json").read_text("utf-8"))
    roof = results["roof"]
    clock, bandwidth = roof["clock_hz"], Fraction(roof["dram_bytes_per_second"])
    peak = Fraction(2 * roof["peak_macs_per_cycle"] * clock)
    networks = {network["network"]: network for network in results["networks"]}
    intensity = {}
    fractions_of_roof, weight_once = [], []
    for network in networks.values():
        for layer in network["layers"]:
            ops = 2 * layer["macs"]
            intensity[network["network"], layer["layer"]] = Fraction(ops, layer["dram_bytes"])
            performance = Fraction(ops * clock, layer["cycles"])
            fractions_of_roof.append(performance / min(peak, intensity[network["network"], layer["layer"]]
                                                       * bandwidth))
            if layer["kind"] in ("fc", "lstm"):
                weight_once.append((performance, intensity[network["network"], layer["layer"]]))

    def convs(name):
        return [intensity[name, layer["layer"]] for layer in networks[name]["layers"]
                if layer["kind"] == "conv"]

    def vector_share(name, key):
        network = networks[name]
        return 1 - Fraction(sum(layer[key] for layer in network["layers"]), network["total"][key])

    def alexnet_share(kind, key):
        alexnet = networks["alexnet"]
        return Fraction(sum(layer[key] for layer in alexnet["layers"] if layer["kind"] == kind),
                        alexnet["total"][key])

    total = networks["alexnet"]["total"]
    average = Fraction(2 * total["macs"], total["dram_bytes"])
    return {"peak_gops": peak / 10**9, "ridge": peak / bandwidth, "convs": convs,
            "worst": min(fractions_of_roof), "median": statistics.median(fractions_of_roof),
            "weight_once_gops": [performance / 10**9 for performance, _ in weight_once],
            "weight_once_intensity": [value for _, value in weight_once],
            "vector_share": vector_share, "alexnet_share": alexnet_share,
            "alexnet_intensity": average, "alexnet_roof_gops": min(peak, average * bandwidth) / 10**9,
            "resnet50_vector_layers": len(networks["resnet50-v1"]["skipped"]), "intensity": intensity,
            "bound": {(network["network"], layer["layer"]): layer["bound"]
                      for network in networks.values() for layer in network["layers"]}}


def test_roofline_prose_quotes_its_results_files():
    s, m = _roofline_figures("dlp-s"), _roofline_figures("dlp-m")
    alexnet, resnet = s["convs"]("alexnet"), s["convs"]("resnet50-v1")
    # the bandwidth slope at 0.5 operations per byte, which every such layer reaches within 1 GOP/s
    fc_gops = {name: round(max(figures["weight_once_gops"])) for name, figures in (("s", s), ("m", m))}
    assert all(max(figures["weight_once_gops"]) - min(figures["weight_once_gops"]) < 1 for figures in (s, m))
    sentences = [
        f"AlexNet's at {int(min(alexnet))}-{round(max(alexnet))} operations per byte, "
        f"ResNet-50's at {int(min(resnet))}-{round(max(resnet))} on `dlp-s`",
        f"{fc_gops['s']} GOP/s on `dlp-s` ({_percent0(fc_gops['s'] / s['peak_gops'])} of its peak) and "
        f"{fc_gops['m']} GOP/s on `dlp-m` ({_percent0(fc_gops['m'] / m['peak_gops'])})",
        f"On `dlp-s` the worst layer is at {_percent1(s['worst'])} of the roof above it and the median at "
        f"{_percent1(s['median'])}; on `dlp-m`, {_percent1(m['worst'])} and {_percent1(m['median'])}.",
        f"ResNet-50's {s['resnet50_vector_layers']} batch-norm, ReLU, add and pooling layers move "
        f"{_percent0(s['vector_share']('resnet50-v1', 'dram_bytes'))} of its DRAM bytes and take "
        f"{_percent0(s['vector_share']('resnet50-v1', 'cycles'))} of its cycles on `dlp-s` "
        f"({_percent0(m['vector_share']('resnet50-v1', 'dram_bytes'))} and "
        f"{_percent0(m['vector_share']('resnet50-v1', 'cycles'))} on `dlp-m`",
        f"AlexNet's convolutions take {_percent0(s['alexnet_share']('conv', 'cycles'))} of its time at the "
        f"compute ceiling and its FC layers {_percent0(s['alexnet_share']('fc', 'cycles'))} on the "
        "bandwidth slope",
        f"({float(s['alexnet_intensity']):.1f} operations per byte) sits left of the ridge under a roof of "
        f"{round(s['alexnet_roof_gops'])} GOP/s",
        f"({_percent0(s['alexnet_share']('fc', 'macs'))} of its MACs, "
        f"{_percent0(s['alexnet_share']('fc', 'cycles'))} of its time on `dlp-s`)",
    ]
    prose = _prose("docs/roofline.md")
    for sentence in sentences:
        assert sentence in prose
    assert all(round(value * 2) == 1 for value in s["weight_once_intensity"] + m["weight_once_intensity"])
    for layer in ("res2a_branch2a", "res3a_branch2a"):  # compute-limited on dlp-s, bandwidth-limited on dlp-m
        assert (s["bound"]["resnet50-v1", layer], m["bound"]["resnet50-v1", layer]) == ("compute", "dram")
    quoted = sorted(
        round(s["intensity"]["resnet50-v1", layer]) for layer in ("res2a_branch2a", "res3a_branch2a"))
    assert f"few input channels, {quoted[0]}-{quoted[1]} operations per byte)" in prose
    # the README's summary of the dlp-s chart
    assert min(alexnet + resnet) > s["ridge"]
    assert (f"sits on the {s['peak_gops']} GOP/s ceiling, right of the ridge point at {s['ridge']} "
            "operations per byte; every fully connected layer and LSTM cell sits at 0.5 operations per byte "
            "on the 64 GB/s slope (each FP32 weight is used once at batch 1), at "
            f"{_percent0(fc_gops['s'] / s['peak_gops'])} of the peak") in _prose("README.md")


def test_sweep_prose_quotes_its_csvs():
    rows = {int(row["core.matrix.macs_per_cycle"]): row for row in _csv_rows("alexnet_util_sweep.csv")}
    first, last = rows[min(rows)], rows[max(rows)]
    layers = [column.removesuffix(":cycles") for column in first if column.endswith(":cycles")]
    fc = [layer for layer in layers if layer.startswith("fc")]
    vector = [layer for layer in layers
              if all(float(row[f"{layer}:mac_utilization"]) == 0 for row in rows.values())]
    fc_cycles = [sum(int(row[f"{layer}:cycles"]) for layer in fc) for row in rows.values()]
    assert (max(fc_cycles) - min(fc_cycles)) / min(fc_cycles) < 0.0001, "changes by less than 0.01%"
    fc_ms = {f"{cycles / 10**6:.2f}" for cycles in fc_cycles}  # at 1 GHz
    vector_ms = {f"{sum(int(row[f'{layer}:cycles']) for layer in vector) / 10**6:.2f}"
                 for row in rows.values()}
    assert len(fc_ms) == 1 and len(vector_ms) == 1, "the FC and vector layers do not depend on the MAC array"

    def ms(row):
        return float(row["seconds"]) * 1000

    prose = _prose("docs/sweep.md")
    for sentence in [
        f"falls from {_percent1(float(first['mac_utilization']))} with {min(rows)} MACs per cycle to "
        f"{_percent1(float(last['mac_utilization']))} with {max(rows)}",
        f"stops improving at about {ms(last):.1f} ms",
        f"{fc_ms.pop()} ms of fc6, fc7 and fc8 together",
        f"{vector_ms.pop()} ms of ReLU and pooling",
        f"({_percent0(float(first['fc6:mac_utilization']))} at {min(rows)}",
        f"with 256 the network takes {ms(rows[256]):.1f} ms at "
        f"{_percent1(float(rows[256]['mac_utilization']))} utilization, with 16 times more MACs "
        f"{ms(rows[4096]):.1f} ms at {_percent1(float(rows[4096]['mac_utilization']))}",
    ]:
        assert sentence in prose
    assert all(abs(float(row["bound_mac_utilization"]) - float(row["mac_utilization"])) < 0.001
               for row in rows.values()), "within 0.1 percentage points at every size"

    grid = {(int(row["core.matrix.macs_per_cycle"]), int(row["dram.bandwidth"])): row
            for row in _csv_rows("alexnet_util_heatmap.csv")}
    diagonal = [grid[16 * 2**step, 12_800_000_000 * 2**step] for step in range(4)]
    utilizations = [_percent1(float(row["mac_utilization"])) for row in diagonal]
    assert (f"({utilizations[0]} at 16 MACs and 12.8 GB/s, at 32 and 25.6 GB/s and at 64 and 51.2 GB/s, "
            f"{utilizations[3]} at 128 and 102.4 GB/s)") in prose
    assert utilizations[0] == utilizations[1] == utilizations[2]
    assert "(" + ", ".join(f"{ms(row):.1f}" for row in diagonal) + " ms)" in prose
    for (macs, bandwidth), row in grid.items():  # every diagonal holds one value within 0.1 points
        twice = grid.get((2 * macs, 2 * bandwidth))
        if twice is not None:
            assert abs(float(twice["mac_utilization"]) - float(row["mac_utilization"])) < 0.001


def _vs_scalesim():
    """benchmarks/vs_scalesim.py as a module (its dlpsim side needs no SCALE-Sim)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vs_scalesim", ROOT / "benchmarks" / "vs_scalesim.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(ROOT / "benchmarks"))  # it imports measured.py beside it, as a script does
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.mark.parametrize("name", ["vs-scalesim", "vs-scalesim-full"])
def test_scalesim_tables_dlpsim_column_is_what_dlpsim_gives_now(name):
    """SCALE-Sim's side needs its own environment; dlpsim's is cheap: every row recomputed,
    and equal to SCALE-Sim's as the text says (the times are measured, with their command)."""
    from dlpsim.workloads import get_network

    vs_scalesim = _vs_scalesim()

    document = generate.BLOCKS[name].documents[0]
    table = generate.blocks_in(_text(document), document)[name]
    workloads = {workload.name: workload for network in ("alexnet", "vgg16", "textbook-fc")
                 for workload in vs_scalesim.network_workloads(get_network(network))}
    row = (r"^(\S+:\S+) +(os|ws|is) +(?:\d+ x )?\d+x\d+x\d+ +([\d,]+) +(?:\d+ +)?"  # its stalls column
           r"([\d,]+) +(\d\.\d{4}) ")
    rows = re.findall(row, table, re.M)
    assert len(rows) == {"vs-scalesim": 69, "vs-scalesim-full": 15}[name]
    for layer, dataflow, scalesim, dlpsim, ratio in rows:
        machine = vs_scalesim.systolic_machine(16, 16, dataflow)
        cycles, _ = vs_scalesim.dlpsim_cycles(workloads[layer], machine)
        assert (f"{cycles:,}", scalesim, ratio) == (dlpsim, dlpsim, "1.0000"), (layer, dataflow)


def test_compiler_quality_fc_rows_are_what_the_compiler_gives_now():
    """The exercise FC rows recomputed (the network rows, seconds apart: docs/generate.py
    --timing --check compiler-quality)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import compiler_quality
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows, _ = compiler_quality.fc_rows()
    table = compiler_quality._table(rows, right={2, 3, 5, 6})
    assert table in generate.blocks_in(_text("README.md"), "README.md")["compiler-quality"]


def test_systolic_whole_simulation_table_is_dlpsim_and_scalesim_plus_one():
    """docs/systolic.md's "SCALE-Sim / dlpsim" cells: dlpsim's recomputed, one more than SCALE-Sim's."""
    vs_scalesim = _vs_scalesim()
    rows = re.findall(r"^\| [^|]+ \| (\d+)x(\d+)x(\d+) \| ([\d,]+) / ([\d,]+) \| ([\d,]+) / ([\d,]+) \| "
                      r"([\d,]+) / ([\d,]+) \|$", _text("docs/systolic.md"), re.M)
    assert len(rows) == 4
    for m, k, n, *pairs in rows:
        workload = vs_scalesim.Workload("gemm", f"{m}x{k}x{n}", int(m), int(k), int(n))
        for dataflow, scalesim, dlpsim in zip(("os", "ws", "is"), pairs[0::2], pairs[1::2], strict=True):
            cycles, _ = vs_scalesim.dlpsim_cycles(workload, vs_scalesim.systolic_machine(16, 16, dataflow))
            assert (f"{cycles:,}", f"{cycles - 1:,}") == (dlpsim, scalesim), (m, k, n, dataflow)


def test_timeline_prose_states_the_drawing_limits_the_code_uses():
    from dlpsim.analysis.timeline import MAX_EXACT_BARS
    from dlpsim.sim.trace import EXACT_BUDGET, MAX_SPANS

    prose = _prose("README.md")
    assert f"A run of up to {MAX_EXACT_BARS:,} recorded intervals is drawn exactly" in prose
    assert f"is cut into {MAX_SPANS // 2} to {MAX_SPANS} equal spans" in prose
    assert f"first {EXACT_BUDGET:,} intervals are kept one by one" in prose


def test_model_roofline_prose_quotes_its_tables_and_the_compiler_quality_run():
    """The "6.13, modernised" prose against the generated tables beside it (the whole network's
    figures) and GPT-2's cycles in the README's compiler-quality block."""
    tables = generate.blocks_in(_text("docs/roofline.md"), "docs/roofline.md")["model-roofline-tables"]
    dlp_s, dlp_m = tables.split("roofline of dlp-m")

    def whole(table: str, network: str) -> tuple[float, str]:
        cells = re.search(rf"^  {network} .*$", table, re.M)[0].split()
        return float(cells[4]), cells[5]  # GOP/s and the share of the roof

    prose = _prose("docs/roofline.md")
    bert_share = round(float(whole(dlp_s, "bert-base")[1].removesuffix("%")))
    assert f"the whole network runs at {bert_share}% of the roof on `dlp-s`" in prose
    gpt2_s, gpt2_m = whole(dlp_s, "gpt2-decode")[0], whole(dlp_m, "gpt2-decode")[0]
    assert f"({round(gpt2_m)} GOP/s against {round(gpt2_s)}: {_percent0(gpt2_m / 2048)} of its peak)" in prose
    quality = generate.blocks_in(_text("README.md"), "README.md")["compiler-quality"]
    cycles = int(re.search(r"^gpt2-decode +dlp-s(?: +\S+){4} +([\d,]+) ", quality, re.M)[1].replace(",", ""))
    assert f"instead of {cycles / 10**6:.2f} ms" in prose  # at 1 GHz


def test_benchmark_prose_quotes_the_blocks_beside_it():
    """Numbers the prose repeats from a measured block (SCALE-Sim, the ONNX model zoo) are the block's."""
    scalesim = generate.blocks_in(_text("README.md"), "README.md")["vs-scalesim"]
    summary = re.search(r"wall time SCALE-Sim ([\d.,]+ s), dlpsim ([\d.]+ ms): dlpsim ([\d,]+)x faster",
                        scalesim)
    for document in ("README.md", "docs/systolic.md"):
        assert f"{summary[3]} times faster" in _prose(document)
    assert f"SCALE-Sim {summary[1]}, dlpsim {summary[2]})" in _prose("docs/systolic.md")
    slowest = max(re.findall(r"^(\S+) +(os|ws|is) .*? ([\d,]+) +1\.0000 +([\d.]+) s ", scalesim, re.M),
                  key=lambda row: float(row[3]))
    network, layer = slowest[0].split(":")
    assert (f"the slowest SCALE-Sim layer was {network.upper().replace('VGG', 'VGG-')}'s {layer} on "
            f"`{slowest[1]}` ({int(slowest[2].replace(',', '')) / 10**6:.1f} million cycles, {slowest[3]} s)"
            ) in _prose("docs/systolic.md")

    zoo = generate.blocks_in(_text("docs/onnx.md"), "docs/onnx.md")["onnx-models"]

    def cycles(model):
        cells = re.search(rf"^light_{model}\.onnx .*$", zoo, re.M)[0].split()
        return [f"{int(cells[index].replace(',', '')) / 10**6:.1f} M" for index in (4, 6)]

    assert "(VGG-19: {} to {} cycles)".format(*cycles("vgg19")) in _prose("docs/onnx.md")
    assert "parameters: {} to {})".format(*cycles("zfnet512")) in _prose("docs/onnx.md")


def test_a_rerun_compares_equal_when_only_its_timing_figures_differ():
    command = generate.COMMANDS["compiler-quality"]
    kept = generate.blocks_in(_text("README.md"), "README.md")["compiler-quality"]
    slower = re.sub(r"(?m) (\d+)\.(\d)$", lambda match: f" {int(match[1]) + 7}.{match[2]}", kept)
    assert slower != kept and generate.blanked(slower, command) == generate.blanked(kept, command)
    a_cycle_off = kept.replace("20,037,998", "20,037,999")
    assert generate.blanked(a_cycle_off, command) != generate.blanked(kept, command)
    a_ratio_off = kept.replace("0.698", "0.699")
    assert generate.blanked(a_ratio_off, command) != generate.blanked(kept, command)


def test_explore_prose_quotes_its_csv():
    rows = _csv_rows("alexnet_resnet18_front.csv")
    grid = {(int(row["core.matrix.macs_per_cycle"]), int(row["dram.bandwidth"]) // 10**9): row
            for row in rows if row["design"] == "grid"}
    front = sorted((row for row in grid.values() if row["pareto"] == "yes"), key=lambda row: int(row["cost"]))

    def ms(row) -> str:
        return f"{float(row['time_s']) * 1000:.3g} ms"

    def design(row) -> str:
        bandwidth = int(row["dram.bandwidth"]) // 10**9
        macs = row["core.matrix.macs_per_cycle"]
        return f"{macs} MACs per cycle and {bandwidth} GB/s (cost {row['cost']}, {ms(row)}"

    prose = _prose("docs/sweep.md")
    assert (f"Of the 25 designs, {25 - len(grid)} cost more than 1,200 and are never simulated; of the "
            f"{len(grid)} others, {len(front)} are on the front, from {design(front[0])}") in prose
    assert f"to {design(front[-1])})" in prose
    (shipped,) = [row for row in rows if row["design"] == "dlp-s"]
    assert grid[256, 64]["pareto"] == "yes" and grid[256, 64]["time_s"] == shipped["time_s"]
    assert (f"`dlp-s` as shipped (256 MACs per cycle, 64 GB/s, cost {shipped['cost']}, {ms(shipped)}) "
            "is on the front") in prose
    slow, cheaper = grid[512, 16], grid[128, 64]
    assert float(slow["time_s"]) > float(cheaper["time_s"]) and int(slow["cost"]) > int(cheaper["cost"])
    slow_ms = round(float(slow["time_s"]) * 1000)
    assert (f"512 at 16 GB/s costs {slow['cost']} and takes {slow_ms} ms, slower than "
            f"the {cheaper['cost']}-cost design of 128 MACs per cycle at 64 GB/s") in prose


def test_sweep_scale_prose_quotes_its_cpu_seconds():
    block = generate.blocks_in(_text("README.md"), "README.md")["sweep-scale"]
    one, two = (re.search(rf"^{way} +\d+ +[\d.]+ +([\d.]+) ", block, re.M)[1]  # the CPU seconds
                for way in ("1 worker", "2 workers"))
    prose = _prose("README.md")
    assert f"Two workers do {_percent0(float(two) / float(one) - 1)} more CPU work than one" in prose


def test_readme_states_the_compilers_task_limit_the_code_uses():
    from dlpsim.compiler.mapping import MAX_TASKS

    prose = _prose("README.md")
    assert f"a mapping may leave at most {MAX_TASKS:,} tasks" in prose
    assert f"would leave more than {MAX_TASKS:,} tasks" in prose
