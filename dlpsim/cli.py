"""The ``dlpsim`` command line.

Bad input (programs, configurations, options) is reported in one clear line and
exits with status 2; a bug in dlpsim exits with status 1 (set DLPSIM_DEBUG=1
to see its traceback).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback

import click

from dlpsim import __version__
from dlpsim.analysis.sweep import DEFAULT_METRIC, METRICS
from dlpsim.asm import Program, assemble, assemble_bytes, assemble_file, dynamic_count
from dlpsim.errors import ProgramError, RunLimitError, UserError
from dlpsim.results.kinds import Objective
from dlpsim.sim.engine import DEFAULT_MAX_CYCLES
from dlpsim.units import format_number

USAGE_ERROR = 2
INTERNAL_ERROR = 1


def _warn_repeated_sets(context, parameter, overrides):
    """A key given to --set twice keeps the last value, said on stderr: the first was likely meant."""
    from dlpsim.machine.loader import repeated_overrides

    for key, times, last in repeated_overrides(overrides):
        given = "twice" if times == 2 else f"{times} times"
        click.echo(f"dlpsim: warning: --set {key} given {given}: using the last, {last}", err=True)
    return overrides


def _machine_options(command, preset_default: str = "the program's .machine, else dlp-s"):
    """--preset, --config and --set, shared by every command that needs a machine."""
    command = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                           callback=_warn_repeated_sets,
                           help="Override one configuration value, e.g. dram.bandwidth=128GB/s "
                                "(repeatable; a key given twice keeps the last value, with a "
                                "warning).")(command)
    command = click.option("--config", "config_file", default=None, metavar="FILE",
                           help="TOML file whose keys override the preset's.")(command)
    command = click.option("--preset", default=None,
                           help=f"Machine preset (default: {preset_default}); "
                                "see `dlpsim presets`.")(command)
    return command


def _machine_options_without_program(command):
    """The machine options of a command that takes no program, so no .machine line to default to."""
    return _machine_options(command, preset_default="dlp-s")


def _load(program: Program | None, preset: str | None, config_file: str | None, overrides):
    from dlpsim.machine import load_machine, preset_names

    if preset is None and program is not None and program.machine is not None:
        if program.machine not in preset_names():
            raise ProgramError(program.machine_location,
                               f"unknown preset {program.machine!r} in .machine "
                               f"(known: {', '.join(preset_names())})")
        preset = program.machine
    return load_machine(preset, config_file, overrides)


STDIN = "-"  # as PROGRAM: read the program from standard input
STDIN_NAME = "<stdin>"  # how messages name it


def _read_program(name: str, note_on_stdout: bool = False) -> Program:
    """PROGRAM as the user named it: ``-`` for standard input, the file, or else the shipped example
    of that name (a real file always wins). Using an example says so first: on stdout where it heads
    a text report, else on stderr, so that JSON and listings stay what they are."""
    from pathlib import Path

    from dlpsim.examples import find_example

    if name == STDIN:
        return assemble_bytes(sys.stdin.buffer.read(), STDIN_NAME)  # bytes: decoded as a file is
    example = None if Path(name).exists() else find_example(name)
    if example is None:
        return assemble_file(name)
    exercise = f" of exercise {example.exercise}" if example.exercise else ""
    click.echo(f"{name}: no such file here, so the shipped example {example.name}{exercise} "
               f"(`dlpsim examples {example.name}` prints it)", err=not note_on_stdout)
    return assemble(example.text, example.name)


def _check_output(path: str | None, what: str, format_of=None, named: str | None = None) -> None:
    """Refuse an output file before any work: its extension (``format_of(path)``, where the
    extension picks the format), a missing or unwritable folder, a folder in its place. Messages
    name the file as the user gave it, or ``named`` for a file the user did not name."""
    from pathlib import Path

    if path is None:
        return
    if format_of is not None:
        format_of(path)
    target = Path(path)
    folder = target.parent
    problem = None
    if not folder.exists():
        problem = f"the folder {folder} does not exist"
    elif not folder.is_dir():
        problem = f"{folder} is not a folder"
    elif target.is_dir():
        problem = "it is a folder"
    elif not os.access(target if target.exists() else folder, os.W_OK):
        problem = "permission denied" if target.exists() else f"the folder {folder} is not writable"
    if problem is not None:
        raise UserError(f"{named or path}: error: cannot write the {what}: {problem}")


def _why_no_window(show: bool) -> str | None:
    """Why --show cannot open a window here, checked before any work; None if it can (or no --show)."""
    from dlpsim.analysis.figures import cannot_show

    return cannot_show() if show else None


def _stopped_at_the_limit(program: Program, max_cycles: int, what_covers: str) -> RunLimitError:
    return RunLimitError(f"{program.file}: error: stopped at the limit of "
                         f"{format_number(max_cycles, grouped=True)} cycles before the program finished; "
                         f"{what_covers} only those cycles (raise the limit with --max-cycles)")


_allow_hazards = click.option(
    "--allow-hazards", "allow_hazards", is_flag=True,
    help="Run a program with data hazards anyway (they are listed in the report and in --json).")


def _check_hazards(program: Program, machine, allow_hazards: bool):
    """The data-hazard check, before simulating: hazards are an error unless allowed."""
    from dlpsim.data import HazardError, check_hazards

    report = check_hazards(program, machine)
    if report.hazards and not allow_hazards:
        raise HazardError(report)
    return report


def _functional_options(command):
    """--functional, --load, --dump and --seed: run the program on data too (issue 12)."""
    for option in reversed([
        click.option("--functional", is_flag=True,
                     help="Also execute the program on data (memories zeroed at start) and check it can be: "
                          "no hazards, every operand addressed. The timing result is unchanged."),
        click.option("--load", "loads", multiple=True, metavar="MEM[OFFSET]=FILE.npy",
                     help="Place the array's bytes (C order) in MEM at OFFSET before the run; MEM is DRAM, "
                          "SharedRAM, or a core's NRAM.2 / WRAM.2 (repeatable; implies --functional)."),
        click.option("--dump", "dumps", multiple=True, metavar="MEM[OFFSET]:SHAPE:DTYPE=FILE.npy",
                     help="Save SHAPE elements of DTYPE at MEM[OFFSET] after the run, e.g. "
                          "DRAM[0x30000]:64x128:float32=y.npy (repeatable; implies --functional)."),
        click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=None, metavar="N",
                     help="Fill DRAM the program reads but no --load gives with float32 values uniform in "
                          "[-1, 1) drawn from seed N, instead of zeros (implies --functional)."),
    ]):
        command = option(command)
    return command


def _checked_run(program: Program, machine, allow_hazards: bool, functional: bool, loads, dumps, seed):
    """The data-hazard report and the functional run asked for (None if none was), both checked
    before any work. A functional run refuses hazards itself, --allow-hazards or not."""
    from dlpsim.data.functional import FunctionalRun

    if not (functional or loads or dumps or seed is not None):
        return _check_hazards(program, machine, allow_hazards), None
    hazards = _check_hazards(program, machine, allow_hazards=True)
    return hazards, FunctionalRun.prepare(program, machine, hazards, tuple(loads), tuple(dumps), seed)


_no_fast_forward = click.option(
    "--no-fast-forward", "no_fast_forward", is_flag=True,
    help="Simulate every loop iteration event by event instead of skipping the repeats "
         "of a steady state (the results are the same; for checking and timing).")


_objective = click.option(
    "--objective", type=click.Choice([objective.value for objective in Objective]), default="time",
    show_default=True,
    help="What the compiler minimises when it chooses each layer's mapping: cycles, energy (among "
         "programs within 2% of the fastest's cycles), or energy x cycles (edp).")


_verify_seed = click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, metavar="N",
    help="The seed of the random inputs and weights of a verification (each layer's drawn from N and "
         "its place in the network).")


def _parse_input_shapes(context, parameter, values):
    if not values:  # the ONNX importer (and numpy) load only for a model that needs them
        return {}
    from dlpsim.workloads.onnx_import import parse_input_shape

    try:
        return dict(parse_input_shape(value) for value in values)
    except UserError as error:
        raise click.BadParameter(str(error).removeprefix("error: ")) from None


_input_shape = click.option(
    "--input-shape", "input_shapes", multiple=True, metavar="NAME=DIMS", callback=_parse_input_shapes,
    help="The dims of an ONNX model's input, e.g. input=1x3x224x224, for a model without static "
         "shapes (repeatable, one per input).")


def _network_options(command):
    """--seq and --batch, shared by every command that simulates or summarizes a network."""
    command = click.option("--batch", type=int, default=1, show_default=True, metavar="N",
                           help="Samples per inference: MACs, activations and time for N samples, "
                                "the weights read once for all.")(command)
    command = click.option("--seq", type=int, default=None, metavar="N",
                           help="Tokens of a transformer's sequence (bert-base, gpt2; gpt2-decode: "
                                "the KV cache's); default 128.")(command)
    return command


def _load_network(name: str, input_shapes: dict, seq: int | None = None, batch: int = 1):
    """NAME as every network command takes it; --input-shape applies to .onnx models, --seq to the
    built-in transformers, --batch to all. A .onnx name that is no file here is the shipped example
    model of that name, if there is one (said on stderr)."""
    from pathlib import Path

    from dlpsim.examples import shipped_model
    from dlpsim.workloads import load_network

    model = shipped_model(name) if not Path(name).exists() else None
    if model is None:
        return load_network(name, input_shapes, seq=seq, batch=batch)
    from dlpsim.workloads.onnx_import import at_batch, load_onnx

    if seq is not None:
        raise UserError(f"{name}: error: --seq {seq}: a model file takes no sequence length (its shapes "
                        "say it)")
    click.echo(f"{name}: no such file here, so the shipped example model", err=True)
    return at_batch(load_onnx(model, input_shapes, shown_as=name), batch, name)


def _guarded(function):
    """Turn user errors into exit status 2 and bugs into exit status 1, never a bare traceback."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UserError as error:
            click.echo(str(error), err=True)
            sys.exit(USAGE_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt as interrupt:
            click.echo(f"dlpsim: interrupted{': ' + str(interrupt) if str(interrupt) else ''}", err=True)
            sys.exit(130)
        except RecursionError:
            click.echo("dlpsim: error: the program nests loops too deeply", err=True)
            sys.exit(USAGE_ERROR)
        except Exception as error:  # a bug in dlpsim, not in the input
            click.echo(f"dlpsim: internal error: {type(error).__name__}: {error}", err=True)
            if os.environ.get("DLPSIM_DEBUG"):
                traceback.print_exc()
            else:
                click.echo("(this is a bug in dlpsim; rerun with DLPSIM_DEBUG=1 for details)", err=True)
            sys.exit(INTERNAL_ERROR)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlpsim")
def main():
    """dlpsim: a cycle-accurate simulator of the textbook deep learning processor (DLP-S, DLP-M)."""


@main.command()
@click.argument("program_file", metavar="PROGRAM", type=str)
@_machine_options
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option("--trace", "trace_file", type=str, default=None,
              help="Write a Chrome trace-event file (open it in Perfetto).")
@click.option("--timeline", "timeline_file", type=str, default=None, metavar="FILE",
              help="Draw a Gantt chart of every queue and link over time to FILE (.png, .svg or .pdf).")
@click.option("--show", is_flag=True,
              help="Open the timeline in a window, with or without --timeline (needs a display; "
                   "without one, a warning says why and the run goes on).")
@click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
              help="Stop a run that exceeds this many cycles (and refuse one that provably would).")
@_no_fast_forward
@_allow_hazards
@_functional_options
@_guarded
def run(program_file, preset, config_file, overrides, as_json, trace_file, timeline_file, show, max_cycles,
        no_fast_forward, allow_hazards, functional, loads, dumps, seed):
    """Simulate PROGRAM and report cycles, time, utilization and the roofline bound.

    PROGRAM is a file, a shipped example (see `dlpsim examples`) or - for standard input.
    """
    from dlpsim.analysis.imagefile import image_format
    from dlpsim.analysis.summary import format_run_summary
    from dlpsim.sim import Recorder, simulate, write_chrome_trace
    from dlpsim.sim.trace import power_track

    _check_output(trace_file, "trace")
    _check_output(timeline_file, "timeline", lambda path: image_format(path, "timeline"))
    for dump in dumps:
        from dlpsim.data.functional import dump_path

        _check_output(dump_path(dump), "dump", named=f"--dump {dump}")
    if (reason := _why_no_window(show)) is not None:  # the run's figures are still worth printing
        click.echo(f"dlpsim: warning: --show needs a display: {reason}; the run goes on without the "
                   "window (--timeline FILE writes the chart to a file)", err=True)
        show = False
    program = _read_program(program_file, note_on_stdout=not as_json)
    machine = _load(program, preset, config_file, overrides)
    hazards, functional_run = _checked_run(program, machine, allow_hazards, functional, loads, dumps, seed)
    recorder = Recorder() if trace_file or timeline_file or show else None  # bounded, whatever the run
    marks = hazards.marks()  # the races a run with --allow-hazards shows in its trace and timeline
    stats = simulate(program, machine, recorder, max_cycles=max_cycles, fast_forward=not no_fast_forward)
    executed = functional_run.execute(machine) if functional_run is not None else None
    if trace_file:
        try:
            write_chrome_trace(trace_file, recorder, machine.clock_hz,
                               {"program": program.file, "machine": machine.name, "cycles": stats.cycles},
                               marks, power_track(recorder, machine))
        except OSError as error:
            raise UserError(f"{trace_file}: error: cannot write the trace: {error.strerror}") from None
    timeline = None
    if timeline_file or show:
        from dlpsim.analysis.timeline import build_timeline, write_timeline

        timeline = build_timeline(recorder, stats, marks=marks)
        if timeline_file:
            write_timeline(timeline, timeline_file)
    extra = {} if executed is None else {"functional": executed.to_dict()}
    if as_json:
        click.echo(json.dumps({**stats.to_dict(), **hazards.to_dict(), **extra}, indent=2))
    else:
        click.echo(format_run_summary(stats, hazards), nl=False)
        if executed is not None:
            click.echo(executed.summary())
    if show:
        from dlpsim.analysis.timeline import show_timeline

        show_timeline(timeline)
    if not stats.complete:
        raise _stopped_at_the_limit(program, max_cycles, "the figures above cover")


@main.command()
@click.argument("target", metavar="PROGRAM|NETWORK")
@_machine_options
@click.option("-o", "--output", "output_file", required=True, metavar="FILE",
              help="The report: FILE.html (one self-contained file) or FILE.md (its images in "
                   "FILE_files/ beside it).")
@click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
              help="Stop a run (or a network's layers together) that exceeds this many cycles.")
@_allow_hazards
@_input_shape
@_network_options
@_guarded
def report(target, preset, config_file, overrides, output_file, max_cycles, allow_hazards, input_shapes, seq,
           batch):
    """Write a report to hand in: the summary tables, the timeline and the roofline position.

    TARGET is a program file (- for standard input), a built-in network (see `dlpsim net
    --list`), an ONNX model (.onnx) or a SCALE-Sim topology CSV file. For a network the report
    holds its per-layer table, totals and the roofline of its layers. The machine is --preset,
    --config and --set, as for `dlpsim run` (a network's default preset is dlp-s).
    """
    import shlex

    from dlpsim.analysis.report import (
        network_document,
        program_document,
        report_format,
        report_target,
        write_document,
    )

    _check_output(output_file, "report", report_format)
    words = ["dlpsim", "report", target]
    for option, value in (("--preset", preset), ("--config", config_file)):
        if value is not None:
            words += [option, value]
    for override in overrides:
        words += ["--set", override]
    if max_cycles != DEFAULT_MAX_CYCLES:
        words += ["--max-cycles", str(max_cycles)]
    if allow_hazards:
        words.append("--allow-hazards")
    for input_name, dims in input_shapes.items():
        words += ["--input-shape", f"{input_name}={'x'.join(map(str, dims))}"]
    if seq is not None:
        words += ["--seq", str(seq)]
    if batch != 1:
        words += ["--batch", str(batch)]
    command = " ".join(shlex.quote(word) for word in words)
    if target != STDIN and report_target(target) == "network":
        from dlpsim.run.network import run_network

        network = _load_network(target, input_shapes, seq, batch)
        machine = _network_machine(preset, config_file, overrides)
        document = network_document(run_network(network, machine, max_cycles=max_cycles), machine, command)
        write_document(document, output_file)
        return
    from dlpsim.sim import Recorder, simulate

    if input_shapes:
        raise UserError(f"{target}: error: --input-shape applies to .onnx models, not to programs")
    given = [option for option, value in (("--seq", seq is not None), ("--batch", batch != 1)) if value]
    if given:
        verb = "apply" if len(given) > 1 else "applies"
        raise UserError(f"error: {' and '.join(given)} {verb} to a network, and {target} is a program")
    program = _read_program(target)
    machine = _load(program, preset, config_file, overrides)
    hazards = _check_hazards(program, machine, allow_hazards)
    recorder = Recorder()
    stats = simulate(program, machine, recorder, max_cycles=max_cycles)
    write_document(program_document(stats, recorder, machine, command, hazards), output_file)
    if not stats.complete:
        raise _stopped_at_the_limit(program, max_cycles, f"the report ({output_file}) covers")


@main.command()
@click.argument("program_file", metavar="PROGRAM", type=str)
@_machine_options
@click.option("--check", is_flag=True,
              help="Only validate: print one OK line with the counts (cores, instructions in the text, "
                   "instructions issued) and exit 0 if the program is good.")
@_guarded
def asm(program_file, preset, config_file, overrides, check):
    """Assemble PROGRAM and print each core's instruction listing.

    PROGRAM is a file, a shipped example (see `dlpsim examples`) or - for standard input.
    """
    from dlpsim.asm.listing import format_listing
    from dlpsim.sim.check import bind, core_ids

    program = _read_program(program_file)
    machine = _load(program, preset, config_file, overrides)
    streams = bind(program, machine)
    if check:
        click.echo(_checked_line(program, streams))
    else:
        click.echo(format_listing(program, core_ids(machine)), nl=False)


def _plural(count: int, noun: str) -> str:
    return f"{format_number(count, grouped=True)} {noun}{'' if count == 1 else 's'}"


def _checked_line(program: Program, streams) -> str:
    """``prog.asm: OK, 4 cores, 23 instructions (1,024 issued)``: the cores that have instructions,
    the instructions written in the text (a loop and its endloop not among them) and how many the
    cores issue together, loops counted out."""
    from dlpsim.asm.program import INSTRUCTION_TYPES, walk

    written = sum(isinstance(statement, INSTRUCTION_TYPES)
                  for section in program.sections for statement in walk(section.statements))
    issued = sum(dynamic_count(stream, INSTRUCTION_TYPES) for stream in streams.values())
    return (f"{program.file}: OK, {_plural(len(streams), 'core')}, {_plural(written, 'instruction')} "
            f"({format_number(issued, grouped=True)} issued)")


@main.command()
@click.argument("program_file", metavar="[PROGRAM]", required=False, type=str)
@_machine_options
@_guarded
def config(program_file, preset, config_file, overrides):
    """Print the effective machine configuration as TOML (after --preset, --config and --set).

    With PROGRAM (- for standard input), its .machine line chooses the preset, as `dlpsim run`
    would.
    """
    from dlpsim.machine.loader import effective_toml

    program = _read_program(program_file) if program_file else None
    click.echo(effective_toml(_load(program, preset, config_file, overrides)), nl=False)


@main.command()
@click.argument("name", required=False)
@_guarded
def examples(name):
    """List the example programs shipped with dlpsim, or print one (NAME, e.g. fc_1024x256).

    `dlpsim run NAME.asm` runs a shipped example when no file of that name is in the current
    directory; `dlpsim examples NAME > NAME.asm` gives you a copy to edit.
    """
    import textwrap

    from dlpsim.examples import examples as shipped
    from dlpsim.examples import find_example

    if name is not None:
        example = find_example(name)
        if example is None:
            raise UserError(f"{name}: error: no shipped example of that name (see `dlpsim examples`)")
        click.echo(example.text, nl=False)
        return
    catalogue = shipped()
    width = max(len(example.name) for example in catalogue)
    click.echo(f"{'program':{width}}  exercise  what it is")
    for example in catalogue:
        lines = textwrap.wrap(example.summary, 100 - width - 12, break_on_hyphens=False) or [""]
        click.echo(f"{example.name:{width}}  {example.exercise or '-':8}  {lines[0]}")
        for line in lines[1:]:
            click.echo(f"{'':{width}}  {'':8}  {line}")


@main.command()
@click.argument("name", required=False)
@_guarded
def presets(name):
    """List the machine presets, or print one (with its documented assumptions)."""
    from dlpsim.machine import load_machine, preset_names, preset_text

    if name is not None:
        click.echo(preset_text(name), nl=False)
        return
    for preset in preset_names():
        click.echo(f"{preset:8}  {load_machine(preset).description}")


# -- dlpsim net: the workload library (networks and SCALE-Sim topologies) -----------------


@main.group(invoke_without_command=True)
@click.option("--list", "list_networks", is_flag=True, help="List the built-in networks.")
@click.pass_context
@_guarded
def net(ctx, list_networks):
    """The built-in networks and SCALE-Sim topologies: list them, or summarize one."""
    from dlpsim.analysis.workload import format_network_list
    from dlpsim.workloads import NETWORKS

    if list_networks:
        click.echo(format_network_list(list(NETWORKS.values())), nl=False)
    elif ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@net.command("summary")
@click.argument("name")
@_input_shape
@_network_options
@_guarded
def net_summary(name, input_shapes, seq, batch):
    """Print NAME's layers (type, input and output shapes, params, MACs) with totals.

    NAME is a built-in network (see `dlpsim net --list`), the path of an ONNX model (.onnx)
    or of a SCALE-Sim topology CSV file.
    """
    from dlpsim.analysis.workload import format_network_summary

    click.echo(format_network_summary(_load_network(name, input_shapes, seq, batch)), nl=False)


@net.command("export")
@click.argument("name")
@click.option("-o", "--output", "output_file", required=True, metavar="FILE.onnx",
              help="The ONNX model to write.")
@click.option("--weights", type=click.Choice(["random", "zero"]), default="random", show_default=True,
              help="Seeded random weights (scaled by 1/sqrt(fan-in)), or zeros written as ConstantOfShape "
                   "nodes, which hold no data (VGG-16 in 8 kB, GPT-2 in 90 kB). Random weights over 64 MiB "
                   "go to FILE.onnx.data beside the model, written as they are drawn.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="The seed of the random weights.")
@_input_shape
@_network_options
@_guarded
def net_export(name, output_file, weights, seed, input_shapes, seq, batch):
    """Write NAME as an ONNX model (opset 17) that onnx.checker accepts and onnxruntime runs.

    NAME is a built-in network (see `dlpsim net --list`), an ONNX model or a SCALE-Sim topology
    CSV file. The model's inputs carry --batch as their first axis (and a transformer's --seq
    tokens). Importing the file back gives the same layers, parameters and MACs, at that batch
    (an LSTM cell comes back as an LSTM of one step, with ONNX's second set of 4 x hidden biases).
    """
    from dlpsim.workloads.onnx_export import EXTERNAL_DATA_ABOVE, external_data_path, write_onnx

    def onnx_extension(path: str) -> None:
        if not path.lower().endswith(".onnx"):
            raise UserError(f"{path}: error: the model file must end in .onnx")

    _check_output(output_file, "model", onnx_extension)
    network = _load_network(name, input_shapes, seq, batch)
    if weights == "random" and network.params * 4 > EXTERNAL_DATA_ABOVE:
        _check_output(str(external_data_path(output_file)), "weights")
    data = write_onnx(network, output_file, weights, seed)
    batch_text = f", batch {network.batch}" if network.batch > 1 else ""
    _wrote(output_file, f"{network.name} ({len(network.nodes)} layers, {weights} weights{batch_text}) to")
    if data is not None:
        _wrote(data, f"its {network.params * 4:,} bytes of weights to")


def _network_machine(preset, config_file, overrides):
    """The machine of `dlpsim compile` and `dlpsim net run`: --preset (default dlp-s), --config, --set."""
    return _load(None, preset, config_file, overrides)


def _with_progress(label: str, work, shown: bool = True):
    """``work(progress)``, with a progress bar on stderr when it is a terminal and the bar is
    ``shown`` (else progress is None): the one progress bar of every command that runs long. It
    shows items done of the total, and the time left; it opens at the first report, which gives
    the total (an exploration knows it only once the budget has left designs out)."""
    import contextlib

    if not shown or not sys.stderr.isatty():
        return work(None)
    bars: list = []
    with contextlib.ExitStack() as stack:
        def progress(index, total, name):
            if not bars:
                bars.append(stack.enter_context(click.progressbar(
                    length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True,
                    item_show_func=lambda item: item)))
            bars[0].update(index - bars[0].pos, name)

        result = work(progress)
        if bars:
            bars[0].update(bars[0].length - bars[0].pos, "")
    return result


def _cache_options(command):
    """--cache DIR and --no-cache, for every command that simulates networks."""
    command = click.option("--no-cache", "no_cache", is_flag=True,
                           help="Simulate every point, and store nothing in the result cache.")(command)
    command = click.option("--cache", "cache_dir", default=None, metavar="DIR",
                           help="Keep simulated results in DIR (default: $DLPSIM_CACHE_DIR, else the "
                                "user's cache folder; see `dlpsim cache info`).")(command)
    return command


def _execution_options(command):
    """Where the points of a sweep, an exploration or a roofline run, and the cache."""
    command = _cache_options(command)
    command = click.option("--scheduler", default=None, metavar="ADDRESS",
                           help="Run the points on the Dask cluster whose scheduler is at ADDRESS, e.g. "
                                "tcp://10.0.0.5:8786 (needs pip install \"dlpsim[dask]\").")(command)
    command = click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
                           help="Simulate points in N local processes (default: one per CPU); the "
                                "results are the same for any N.")(command)
    return command


def _warn(message: str) -> None:
    click.echo(f"dlpsim: warning: {message}", err=True)


def _open_cache(cache_dir: str | None, no_cache: bool):
    """The result cache the options ask for, or None; a folder that cannot be used is a warning."""
    from dlpsim.run.cache import CacheUnavailable, ResultCache, default_folder

    if no_cache:
        if cache_dir is not None:
            raise UserError(f"error: --cache {cache_dir} and --no-cache contradict each other; give one")
        return None
    try:
        return ResultCache.open(default_folder() if cache_dir is None else cache_dir)
    except CacheUnavailable as error:
        _warn(f"cannot use the result cache ({error}); running without it")
        return None


def _execution(workers: int | None, scheduler: str | None, cache_dir: str | None, no_cache: bool):
    from dlpsim.run.points import Execution, cpu_count

    if scheduler is not None and workers is not None:
        raise UserError(f"error: --workers {workers} and --scheduler {scheduler} both say where to run: "
                        "the Dask cluster's workers are its own; give one")
    if scheduler is not None:
        from dlpsim.run.cluster import connect

        connect(scheduler).close()  # an unreachable scheduler is an error before any other work
    return Execution(workers=cpu_count() if workers is None else workers, scheduler=scheduler,
                     cache=_open_cache(cache_dir, no_cache), warn=_warn)


def _run_points_with_progress(label: str, points, execution, max_cycles: int | None):
    """The points' runs (:func:`dlpsim.run.points.run_points`) behind the progress bar; on a terminal,
    then one line on how many came from the cache and where the rest ran."""
    from dlpsim.run.points import run_points

    result = _with_progress(label, lambda progress: run_points(
        points, execution, max_cycles=max_cycles, progress=progress))
    if sys.stderr.isatty():
        where = (f"on {execution.scheduler}" if execution.scheduler else
                 f"in {min(execution.workers, result.simulated)} processes" if min(execution.workers,
                                                                                    result.simulated) > 1
                 else "here")
        click.echo(f"{len(points)} points: {result.from_cache} from the cache, {result.simulated} simulated "
                   f"{where}", err=True)
    return result.runs


@net.command("run")
@click.argument("name")
@_machine_options_without_program
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option("--csv", "csv_file", default=None, metavar="FILE",
              help="Also write one row per layer, and a TOTAL row, to FILE.")
@click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
              help="Stop when the layers together exceed this many cycles.")
@_no_fast_forward
@_objective
@_input_shape
@_network_options
@_cache_options
@_guarded
def net_run(name, preset, config_file, overrides, as_json, csv_file, max_cycles, no_fast_forward, objective,
            input_shapes, seq, batch, cache_dir, no_cache):
    """Compile and simulate every layer of NAME, one after another, and report each and the total.

    NAME is a built-in network (see `dlpsim net --list`), the path of an ONNX model (.onnx) or
    of a SCALE-Sim topology CSV file. The machine is --preset (default dlp-s), --config and --set.
    A run made before on the same network and machine comes from the result cache (--no-cache
    simulates; so does --no-fast-forward, which is for checking and timing the simulator).
    """
    from dlpsim.analysis.network import format_network_run
    from dlpsim.run.cache import run_key
    from dlpsim.run.network import run_network
    from dlpsim.run.points import cached_run, store_run

    _check_output(csv_file, "CSV file")
    network = _load_network(name, input_shapes, seq, batch)
    machine = _network_machine(preset, config_file, overrides)
    if no_fast_forward and cache_dir is not None:
        _warn(f"--no-fast-forward simulates every layer, so --cache {cache_dir} is not used")
    cache = None if no_fast_forward else _open_cache(cache_dir, no_cache)
    objective = Objective(objective)
    key = run_key(network, machine, objective) if cache is not None else ""
    result = cached_run(cache, key, network, machine, max_cycles) if cache is not None else None
    if result is None:
        result = _with_progress(
            f"{network.name} on {machine.name}",
            lambda progress: run_network(network, machine, max_cycles=max_cycles, progress=progress,
                                         fast_forward=not no_fast_forward, objective=objective),
            shown=not as_json)
        if cache is not None:
            store_run(cache, key, result, "", _warn)
    if csv_file is not None:
        result.write_csv(csv_file)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(format_network_run(result), nl=False)


@net.command("verify")
@click.argument("name")
@_machine_options_without_program
@_verify_seed
@click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
              help="Refuse a layer whose roofline bound exceeds this many cycles, as `dlpsim compile` does.")
@_input_shape
@_network_options
@_guarded
def net_verify(name, preset, config_file, overrides, seed, max_cycles, input_shapes, seq, batch):
    """Execute every compiled layer of NAME on random data and compare it with numpy.

    Each layer is compiled as `dlpsim compile` compiles it, its inputs and weights drawn from --seed
    are placed in DRAM where the program's header says, the program runs functionally, and its DRAM
    output is compared with numpy's reference of the layer (dlpsim/workloads/reference.py) within a
    float32 tolerance derived from each element's number of terms. Prints per layer the largest
    absolute and relative errors; exits 0 when every element is within the tolerance, 1 naming the
    first that is not, 2 (before any work) if a layer has no executable form yet.
    """
    from dlpsim.analysis.verification import format_check
    from dlpsim.run.verify import verify_network

    network = _load_network(name, input_shapes, seq, batch)
    machine = _network_machine(preset, config_file, overrides)
    check = _with_progress(f"{network.name} on {machine.name}", lambda progress: verify_network(
        network, machine, seed, progress, max_cycles))
    click.echo(format_check(check), nl=False)
    sys.exit(0 if check.passed else 1)


# -- dlpsim roofline and dlpsim sweep: analyzers over simulated networks (exercises 6.8, 6.10, 6.13)


def _refuse_with_from(from_file, **given):
    """--from redraws a saved results file: options that would simulate make no sense with it."""
    used = [option for option, value in given.items() if value]
    if from_file is not None and used:
        raise UserError(f"error: --from {from_file} redraws saved results without simulating; drop "
                        f"{', '.join(used)}")


def _wrote(path, what):
    click.echo(f"wrote {what} {path}")


_ANALYZER_FILES = [
    click.option("-o", "--output", "output_file", default=None, metavar="FILE",
                 help="Write the chart to FILE; its extension picks the format (.png, .svg, .pdf)."),
    click.option("--csv", "csv_file", default=None, metavar="FILE", help="Write the chart's data to FILE."),
    click.option("--results", "results_file", default=None, metavar="FILE",
                 help="Save the data as a versioned JSON results file, to redraw it later with --from."),
    click.option("--from", "from_file", default=None, metavar="FILE",
                 help="Redraw from a results file saved with --results, without simulating."),
    click.option("--show", is_flag=True,
                 help="Also open the chart in a window (needs a display: without one, an error says why, "
                      "before any simulation)."),
    click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
                 help="Stop when the layers of one network together exceed this many cycles."),
]


def _analyzer_files(command):
    for option in reversed(_ANALYZER_FILES):
        command = option(command)
    return command


@main.command("roofline")
@_machine_options_without_program
@click.option("--net", "network_names", multiple=True, metavar="NAME",
              help="Simulate NAME (a built-in network, an ONNX .onnx model or a SCALE-Sim .csv) and draw "
                   "each of its layers (repeatable: one colour and marker per network).")
@_analyzer_files
@_input_shape
@_network_options
@_execution_options
@_guarded
def roofline_command(preset, config_file, overrides, network_names, output_file, csv_file, results_file,
                     from_file, show, max_cycles, input_shapes, seq, batch, workers, scheduler, cache_dir,
                     no_cache):
    """Draw the machine's roofline (exercise 6.10) and the layers of networks under it (6.13).

    Log-log: the peak-compute ceiling, the DRAM-bandwidth slope and the ridge point, with
    performance in GOP/s and operational intensity in operations per DRAM byte (1 MAC = 2
    operations). Each layer with MACs is a point at 2 x its MACs over its simulated DRAM
    bytes and time; layers without MACs (vector-unit work) are not drawn. Prints the
    numbers; the chart needs -o FILE or --show.
    """
    from dlpsim.analysis.roofline import format_roofline, load_roofline, plot_roofline, roofline
    from dlpsim.run.points import Point
    from dlpsim.workloads import NETWORKS

    _refuse_with_from(from_file, **{"--net": network_names, "--input-shape": input_shapes, "--preset": preset,
                                    "--config": config_file, "--set": overrides, "--seq": seq,
                                    "--batch": batch != 1, "--workers": workers, "--scheduler": scheduler,
                                    "--cache": cache_dir, "--no-cache": no_cache})
    _check_analysis_outputs(output_file, csv_file, results_file, show)
    if from_file is not None:
        result = load_roofline(from_file)
    else:
        machine = _network_machine(preset, config_file, overrides)
        onnx_models = [name for name in network_names if name.lower().endswith(".onnx")]
        if input_shapes and not onnx_models:
            raise UserError("error: --input-shape applies to .onnx models; no --net names one")
        # every name checked before any run; the input shapes go to the ONNX models, --seq to the
        # networks that take one (and is refused, by the first network, when none does)
        takers = [name for name in network_names if name in NETWORKS and NETWORKS[name].takes_seq]
        networks = [_load_network(name, input_shapes if name in onnx_models else {},
                                  seq if name in takers or not takers else None, batch)
                    for name in network_names]
        execution = _execution(workers, scheduler, cache_dir, no_cache)
        runs = _run_points_with_progress(f"{len(networks)} networks on {machine.name}",
                                         [Point(network, machine, "") for network in networks], execution,
                                         max_cycles)
        result = roofline(machine, list(runs))
    click.echo(format_roofline(result), nl=False)
    _write_analysis(result, plot_roofline, "the roofline", output_file, csv_file, results_file, show)


@main.command("sweep")
@click.option("--net", "network_name", default=None, metavar="NAME",
              help="The network to simulate: a built-in network, an ONNX .onnx model or a SCALE-Sim "
                   ".csv file.")
@_machine_options_without_program
@click.option("--vary", "varies", multiple=True, metavar="KEY=V1,V2,...",
              help="A numeric configuration key and its values, as --set takes them; a,b,...,z is a "
                   "series (16,32,...,4096 doubles, 10,20,30,...,100 steps evenly). Once: a line per "
                   "layer; twice: a heat map.")
@click.option("--metric", type=click.Choice(list(METRICS)), default=DEFAULT_METRIC, show_default=True,
              help="What the chart plots against the key: MAC utilization and time, energy per inference, "
                   "or GOPS/W (2 x MACs / energy); per layer and for the whole network.")
@_analyzer_files
@_input_shape
@_network_options
@_execution_options
@_guarded
def sweep_command(network_name, preset, config_file, overrides, varies, metric, output_file, csv_file,
                  results_file, from_file, show, max_cycles, input_shapes, seq, batch, workers, scheduler,
                  cache_dir, no_cache):
    """Simulate a network once per value of configuration keys, and plot MAC utilization and time
    (exercise 6.8).

    Each value is applied after --preset, --config and --set. With one --vary: MAC
    utilization and time per inference against the value, per layer and for the whole
    network; with two: heat maps. The table goes to stdout; -o FILE draws the chart and,
    unless --csv is given, writes its data beside it (FILE with the extension .csv).
    Points run in --workers local processes or on a Dask --scheduler; points simulated
    before come from the result cache.
    """
    from dlpsim.analysis.sweep import format_sweep, plot_sweep
    from dlpsim.run.sweep import load_sweep, parse_vary, sweep_machines, sweep_points, sweep_result

    _refuse_with_from(from_file, **{"--net": network_name, "--input-shape": input_shapes, "--preset": preset,
                                    "--config": config_file, "--set": overrides, "--vary": varies,
                                    "--seq": seq, "--batch": batch != 1, "--workers": workers,
                                    "--scheduler": scheduler, "--cache": cache_dir, "--no-cache": no_cache})
    csv_file = _outputs_with_csv_beside(output_file, csv_file, results_file, show)
    if from_file is not None:
        result = load_sweep(from_file)
    else:
        if network_name is None:
            raise UserError("error: give the network to simulate with --net NAME (or redraw saved results "
                            "with --from FILE)")
        parsed = [parse_vary(spec) for spec in varies]
        network = _load_network(network_name, input_shapes, seq, batch)
        machines = sweep_machines(parsed, preset, config_file, overrides)  # every machine checked first
        execution = _execution(workers, scheduler, cache_dir, no_cache)
        runs = _run_points_with_progress(f"{network.name}: {len(machines)} simulations",
                                         sweep_points(network, parsed, machines), execution, max_cycles)
        result = sweep_result(network, parsed, machines, overrides, runs)
    click.echo(format_sweep(result), nl=False)
    _write_analysis(result, functools.partial(plot_sweep, metric=metric), "the chart", output_file, csv_file,
                    results_file, show)


@main.command("explore")
@click.option("--net", "network_names", multiple=True, metavar="NAME",
              help="A network every design runs (repeatable: the objective adds one inference of each).")
@_machine_options_without_program
@click.option("--vary", "varies", multiple=True, metavar="KEY=V1,V2,...",
              help="A numeric configuration key and its values, as for sweep (repeatable: the grid is every "
                   "combination).")
@click.option("--samples", type=int, default=None, metavar="N",
              help="Evaluate a random sample of N designs of the grid instead of all of them.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The sample's seed (the same seed draws the same sample).")
@click.option("--budget", default=None, metavar="COST",
              help="Leave out, before simulating, the designs whose hardware-cost proxy exceeds COST.")
@click.option("--metric", type=click.Choice(["time", "energy"]), default="time", show_default=True,
              help="What the front weighs against the cost: time or energy per inference.")
@_analyzer_files
@_execution_options
@_guarded
def explore_command(network_names, preset, config_file, overrides, varies, samples, seed, budget, metric,
                    output_file, csv_file, results_file, from_file, show, max_cycles, workers, scheduler,
                    cache_dir, no_cache):
    """Explore designs: the Pareto front of time (or --metric energy: energy) per inference
    against a hardware-cost proxy.

    Every combination of the --vary values (or --samples N of them) is a design: the
    machine of --preset, --config and --set with those values. Designs over --budget are
    left out before simulating; the rest run every --net, in --workers processes or on a
    Dask --scheduler, with the result cache. The cost proxy weighs MAC units, on-chip SRAM
    and DRAM bandwidth by the presets' [cost] section. Prints the front and the presets;
    -o draws every design, the front highlighted and the presets marked, and writes every
    design to the CSV beside it unless --csv is given.
    """
    from dlpsim.analysis.explore import format_exploration, plot_exploration
    from dlpsim.run.explore import OBJECTIVES, explore, load_exploration, parse_budget
    from dlpsim.run.sweep import parse_vary

    _refuse_with_from(from_file, **{"--net": network_names, "--preset": preset, "--config": config_file,
                                    "--set": overrides, "--vary": varies, "--samples": samples is not None,
                                    "--budget": budget, "--metric": metric != "time", "--workers": workers,
                                    "--scheduler": scheduler, "--cache": cache_dir, "--no-cache": no_cache})
    csv_file = _outputs_with_csv_beside(output_file, csv_file, results_file, show)
    if from_file is not None:
        result = load_exploration(from_file)
    else:
        if not network_names:
            raise UserError("error: give at least one network with --net NAME (or redraw saved results "
                            "with --from FILE)")
        budget_value = parse_budget(budget)
        parsed = [parse_vary(spec) for spec in varies]
        networks = [_load_network(name, {}) for name in network_names]
        execution = _execution(workers, scheduler, cache_dir, no_cache)
        result = _with_progress("designs x networks", lambda progress: explore(
            networks, parsed, preset=preset, config_file=config_file, overrides=overrides, samples=samples,
            seed=seed, budget=budget_value, objective=OBJECTIVES[metric], max_cycles=max_cycles,
            progress=progress, execution=execution))
    click.echo(format_exploration(result), nl=False)
    _write_analysis(result, plot_exploration, "the chart", output_file, csv_file, results_file, show)


def _outputs_with_csv_beside(output_file, csv_file, results_file, show: bool) -> str | None:
    """The CSV file to write: --csv, else beside the chart (-o FILE with .csv), checked with the
    other outputs before any simulation."""
    from pathlib import Path

    beside = csv_file is None and output_file is not None
    if beside:
        csv_file = str(Path(output_file).with_suffix(".csv"))
    _check_analysis_outputs(output_file, csv_file, results_file, show,
                            csv_named=f"{csv_file} (the CSV written beside the chart {output_file})"
                            if beside else None)
    return csv_file


def _check_analysis_outputs(output_file, csv_file, results_file, show: bool,
                            csv_named: str | None = None) -> None:
    """An analyzer's chart, CSV and results files, and a window for --show, checked before any
    simulation."""
    from dlpsim.analysis.figures import no_window_error
    from dlpsim.analysis.imagefile import image_format

    if (reason := _why_no_window(show)) is not None:
        raise UserError(no_window_error(reason))

    _check_output(output_file, "chart", lambda path: image_format(path, "chart"))
    _check_output(csv_file, "CSV file", named=csv_named)
    _check_output(results_file, "results file")


def _write_analysis(result, plot, what: str, output_file, csv_file, results_file, show: bool) -> None:
    """Write an analyzer's CSV, versioned results and chart, each only when asked for."""
    if csv_file is not None:
        result.write_csv(csv_file)
        _wrote(csv_file, "the data to")
    if results_file is not None:
        result.write_json(results_file)
        _wrote(results_file, "the results to")
    if output_file is not None or show:
        plot(result, output_file, show=show)
        if output_file is not None:
            _wrote(output_file, f"{what} to")


# -- dlpsim cache: the result cache of sweep, explore, roofline and net run ------------------


@main.group("cache")
def cache_group():
    """The result cache: what it holds (info) and emptying it (clear)."""


_cache_folder = click.option("--cache", "cache_dir", default=None, metavar="DIR",
                             help="The cache folder (default: $DLPSIM_CACHE_DIR, else the user's cache "
                                  "folder).")


def _cache_for_command(cache_dir: str | None):
    from pathlib import Path

    from dlpsim.run.cache import ResultCache, default_folder

    folder = Path(default_folder() if cache_dir is None else cache_dir)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: error: not a folder, so not a result cache")
    return ResultCache(folder)


@cache_group.command("info")
@_cache_folder
@_guarded
def cache_info(cache_dir):
    """Where the result cache is, how many results it holds and its size on disk."""
    info = _cache_for_command(cache_dir).info()
    click.echo(f"folder         {info.folder}")
    click.echo(f"results        {info.entries:,} ({info.current:,} made by this dlpsim, "
               f"{info.entries - info.current:,} by other versions, never used by this one)")
    if info.unreadable:
        click.echo(f"unreadable     {info.unreadable:,} (corrupt or foreign files, ignored)")
    click.echo(f"size on disk   {info.size_bytes:,} bytes")


@cache_group.command("clear")
@_cache_folder
@_guarded
def cache_clear(cache_dir):
    """Remove every result from the cache (later runs simulate again)."""
    cache = _cache_for_command(cache_dir)
    try:
        removed = cache.clear()
    except OSError as error:
        raise UserError(f"{cache.folder}: error: cannot clear the cache: {error.strerror or error}") from None
    click.echo(f"removed {removed:,} files from {cache.folder}")


@main.command("compile")
@click.argument("name")
@click.option("--layer", "layer_name", required=True, metavar="LAYER",
              help="The layer to compile (see `dlpsim net summary NAME`).")
@_machine_options_without_program
@click.option("-o", "--output", "output_file", default=None, metavar="FILE",
              help="Write the program to FILE (default: print it).")
@click.option("--max-cycles", type=click.IntRange(min=1), default=DEFAULT_MAX_CYCLES, show_default=True,
              help="Refuse a layer whose roofline bound exceeds this many cycles, and stop each candidate "
                   "program the compiler simulates there.")
@_objective
@click.option("--verify", is_flag=True,
              help="Instead of printing the program, execute it on random data (seed --seed) and compare "
                   "its output with numpy's reference of the layer; exit 1 on a mismatch.")
@_verify_seed
@_input_shape
@_network_options
@_guarded
def compile_command(name, layer_name, preset, config_file, overrides, output_file, max_cycles, objective,
                    verify, seed, input_shapes, seq, batch):
    """Compile one layer of NAME into a program that `dlpsim run` accepts.

    NAME is a built-in network (see `dlpsim net --list`), the path of an ONNX model (.onnx)
    or of a SCALE-Sim topology CSV file. The program's header comment explains the tiling: tile sizes,
    loop order, bytes moved and the expected bound. The machine is --preset (default
    dlp-s), --config and --set.
    """
    from dlpsim.run.compile import compile_layer

    _check_output(output_file, "program")
    network = _load_network(name, input_shapes, seq, batch)
    layer = network.layer(layer_name)
    if verify:
        from dlpsim.run.verify import unverifiable

        reason = unverifiable(layer, network.batch)
        if reason is not None:
            raise UserError(f"{network.name}: error: {reason}")
    compiled = compile_layer(layer, _network_machine(preset, config_file, overrides), network.batch,
                             objective=Objective(objective), max_cycles=max_cycles).compiled
    if verify:
        from dlpsim.analysis.verification import format_check
        from dlpsim.run.verify import NetworkCheck, verify_layer

        position = network.layers.index(layer)
        check = NetworkCheck(network.name, compiled.machine.name, network.batch, seed,
                             (verify_layer(compiled, seed, position),))
        if output_file is not None:
            from dlpsim.results.files import write_text

            write_text(output_file, compiled.text, "program")
        click.echo(format_check(check), nl=False)
        sys.exit(0 if check.passed else 1)
    if output_file is None:
        click.echo(compiled.text, nl=False)
        return
    from dlpsim.results.files import write_text

    write_text(output_file, compiled.text, "program")


if __name__ == "__main__":
    main()
