"""The report a student hands in: one HTML or Markdown file with the tables and the figures.

A report is built as a list of neutral blocks (headings, paragraphs, tables, images,
preformatted text) and then written as

- **HTML**: one self-contained file: inline CSS, images embedded as base64 PNG, no
  external assets; or
- **Markdown**: the ``.md`` file, and its images in a folder beside it named after it
  (``report.md`` -> ``report_files/timeline.png``), linked relatively.

For a program the report holds the run's summary, per-queue, control-unit and link
tables, the timeline (:mod:`dlpsim.analysis.timeline`), the run's place on the roofline
and the effective machine; for a network, its per-layer table, totals and the roofline of
its layers (:mod:`dlpsim.analysis.roofline`). Nothing in it depends on the date, the
host or the process, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from dlpsim import __version__
from dlpsim.analysis.roofline import Roof, RooflinePoint
from dlpsim.analysis.summary import CONTROL_COLUMNS, format_run_summary
from dlpsim.analysis.tables import percent
from dlpsim.data.hazards import PRINTED_HAZARDS, HazardReport
from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.sim.stats import Stats
from dlpsim.sim.trace import Recorder
from dlpsim.units import format_frequency, format_number, format_seconds

REPORT_FORMATS = (".html", ".htm", ".md")
IMAGE_DPI = 100


# -- the document model -----------------------------------------------------------------------

@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: tuple[bool, ...]  # per column: right-aligned (numbers)


@dataclass(frozen=True)
class Image:
    name: str  # file name stem in a Markdown report's folder, e.g. "timeline"
    png: bytes
    alt: str
    caption: str


@dataclass(frozen=True)
class Preformatted:
    text: str
    language: str = "text"
    summary: str | None = None  # when given, folded under this title in HTML


Block = Heading | Paragraph | Table | Image | Preformatted


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]


def report_format(path: str | Path) -> str:
    """"html" or "md" from the extension; a UserError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise UserError(f"{path}: error: cannot tell the report's format from the extension "
                        f"{suffix or '(none)'!r}; use .html or .md")
    return "md" if suffix == ".md" else "html"


def report_target(target: str) -> str:
    """"network" for a built-in network, a .onnx model or a .csv topology, "program" for a file;
    else a UserError."""
    from dlpsim.examples import find_example
    from dlpsim.workloads import NETWORKS

    if target in NETWORKS or target.lower().endswith((".csv", ".onnx")):
        return "network"
    if Path(target).exists() or target.lower().endswith(".asm") or find_example(target) is not None:
        return "program"
    raise UserError(f"{target}: error: not a program file, a built-in network, an ONNX model .onnx or a "
                    f"SCALE-Sim topology .csv file (networks: {', '.join(NETWORKS)})")


# -- what goes into a report ------------------------------------------------------------------

def _n(value: int) -> str:
    return f"{value:,}"


def _g(value: Fraction | int | float, digits: int = 4) -> str:
    """``digits`` significant digits for small values, whole and grouped up to 15 digits, then
    scientific: a report stays readable for any configuration."""
    value = Fraction(value)
    if abs(value) < 10**4:
        return format_number(value, digits=digits)
    return format_number(round(value), grouped=True)


def _share(part: int, total: int) -> str:
    return percent(Fraction(part, total) if total else None)


def _png(figure) -> bytes:
    from dlpsim.analysis.imagefile import figure_bytes

    return figure_bytes(figure, "png", IMAGE_DPI)


def _machine_block(machine: MachineConfig) -> Preformatted:
    from dlpsim.machine.loader import effective_toml

    return Preformatted(effective_toml(machine), "toml",
                        summary=f"The machine: {machine.name}, effective configuration (TOML)")


def _provenance(command: str) -> Paragraph:
    return Paragraph(f"Made by dlpsim {__version__} with `{command}`. The same command on the same "
                     "inputs gives the same file.")


def program_roofline(stats: Stats) -> tuple[Roof, RooflinePoint]:
    """The machine's roof and a run's place under it, as the roofline analyzer defines both."""
    clock = Fraction(stats.clock_hz)
    roof = Roof(stats.machine, clock, Fraction(stats.peak_macs_per_cycle), stats.dram_bytes_per_cycle * clock)
    point = RooflinePoint(stats.program, Path(stats.program).name, "program", "", stats.mac_operations,
                          stats.dram_bytes, stats.cycles, stats.bound.kind.value)
    return roof, point


def _draw_program_roofline(figure, roof: Roof, point: RooflinePoint, label: str) -> None:
    """The roof (DRAM slope, compute ceiling) and the run as one point, on log-log axes."""
    peak = float(roof.peak_gops)
    bandwidth = float(roof.bandwidth_gb_per_second)
    ridge = float(roof.ridge_intensity)
    intensity = float(point.intensity)
    gops = float(point.gops(roof))
    ax = figure.add_subplot()
    x_min = min(ridge / 30, intensity / 3)
    x_max = max(ridge * 30, intensity * 3)
    y_min = min(x_min * bandwidth, gops) / 2
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, peak * 3)
    ax.plot([x_min, ridge, x_max], [x_min * bandwidth, peak, peak], color="black", linewidth=2)
    ax.axvline(ridge, color="black", linestyle=":", linewidth=1)
    ax.text(ridge * 1.08, y_min * 1.3, f"ridge {ridge:g} ops/B", fontsize=9, rotation=90, va="bottom")
    ax.text(x_max / 1.2, peak * 1.1, f"peak {peak:g} GOP/s", ha="right", va="bottom", fontsize=9)
    ax.text(x_min * 1.3, x_min * 1.3 * bandwidth * 1.25, f"DRAM {bandwidth:g} GB/s", fontsize=9,
            va="bottom")
    ax.scatter([intensity], [gops], s=80, color="#d6403a", edgecolors="black", linewidths=0.8, zorder=5)
    fraction = float(point.fraction_of_roof(roof))
    ax.annotate(f"{label}\n{intensity:.3g} ops/B, {gops:.4g} GOP/s\n{fraction * 100:.1f}% of the roof",
                xy=(intensity, gops), xytext=(0.66, 0.33), textcoords="axes fraction", fontsize=9,
                ha="center", arrowprops={"arrowstyle": "->", "linewidth": 0.8},
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#999999"})
    ax.set_xlabel("operational intensity (operations per DRAM byte; 1 MAC = 2 operations)")
    ax.set_ylabel("performance (GOP/s)")
    ax.grid(True, which="major", linewidth=0.5, alpha=0.5)
    ax.grid(True, which="minor", linewidth=0.3, alpha=0.2)
    ax.set_title(f"Roofline of {label}", fontsize=11)


def program_document(stats: Stats, recorder: Recorder, machine: MachineConfig, command: str,
                     hazards: HazardReport | None = None) -> Document:
    """The report of one simulated program (the run must have been recorded); with ``hazards``,
    the data-hazard check's result (a run with --allow-hazards: its races listed and outlined
    in the timeline)."""
    from dlpsim.analysis.timeline import build_timeline, draw_timeline

    total = stats.cycles
    name = Path(stats.program).name
    cores = f"{stats.compute_cores} compute core{'s' if stats.compute_cores > 1 else ''}"
    bound = stats.bound
    blocks: list[Block] = [_provenance(command)]
    if not stats.complete:
        blocks.append(Paragraph(f"**INCOMPLETE**: the run was stopped at the limit of {_n(total)} cycles; "
                                "every figure covers only the cycles simulated."))
    summary = [
        ("program", stats.program),
        ("machine", f"{stats.machine} ({cores}, {format_frequency(stats.clock_hz)})"),
        ("cycles", _n(total)),
        ("time", format_seconds(stats.seconds)),
        ("roofline bound", f"{_n(bound.cycles)} cycles ({bound.limit})"),
        ("compute-limited cycles", _n(bound.compute_cycles)),
        ("DRAM-limited cycles", f"{_n(bound.dram_cycles)} ({_n(stats.dram_bytes)} B at "
                                f"{_g(stats.dram_bytes_per_cycle)} B/cycle)"),
        ("efficiency (bound / cycles)", percent(stats.efficiency)),
        ("MAC operations", _n(stats.mac_operations)),
        ("MAC utilization", f"{percent(stats.mac_utilization)} of {_g(stats.peak_macs_per_cycle)} MAC/cycle"),
    ]
    blocks += [Heading("Summary"), Table(("figure", "value"), tuple(summary), (False, False))]
    if hazards is not None:
        blocks += [Heading("Data hazards"), Paragraph(hazards.summary() + ".")]
        if hazards.hazards:
            blocks.append(Paragraph("**The program races**: it ran only because --allow-hazards was given, "
                                    "so its timing is that of a program that computes wrong data. Each "
                                    "instruction below is outlined in red in the timeline."))
            blocks.append(Table(("kind", "bytes", "line", "races with line"), tuple(
                (str(hazard.kind), hazard.bytes_text, str(hazard.later.location.line),
                 str(hazard.earlier.location.line)) for hazard in hazards.hazards[:PRINTED_HAZARDS]),
                (False, False, True, True)))
            if len(hazards.hazards) > PRINTED_HAZARDS:
                blocks.append(Paragraph(f"... and {len(hazards.hazards) - PRINTED_HAZARDS} more "
                                        "(`dlpsim run --allow-hazards --json` lists them all)."))

    rows = tuple((core.name, queue.kind, _n(queue.instructions), _n(queue.busy_cycles),
                  _share(queue.busy_cycles, total))
                 for core in stats.cores for queue in core.queues)
    blocks += [Heading("Queues"),
               Paragraph("Instructions executed by each core's queues and the cycles they were busy."),
               Table(("core", "queue", "instructions", "busy cycles", "busy"), rows,
                     (False, False, True, True, True))]

    rows = tuple((core.name, _n(core.finish_cycle),
                  *(_n(dict(core.control_cycles)[cause]) for cause in CONTROL_COLUMNS))
                 for core in stats.cores)
    blocks += [Heading("Control units"),
               Paragraph("Where each control unit's cycles went; the causes add up to the run's "
                         f"{_n(total)} cycles."),
               Table(("core", "finished at", *CONTROL_COLUMNS.values()), rows,
                     (False, *(True,) * (1 + len(CONTROL_COLUMNS))))]

    rows = tuple((link.name, _n(link.bytes), _n(link.transfers), _g(link.bytes_per_cycle),
                  _n(link.busy_cycles), _share(link.busy_cycles, total),
                  percent(link.bytes / (link.bytes_per_cycle * total)) if total else "n/a")
                 for link in stats.links)
    blocks += [Heading("Links"),
               Table(("link", "bytes", "transfers", "B/cycle", "busy cycles", "busy", "bandwidth used"),
                     rows, (False, *(True,) * 6))]

    timeline = build_timeline(recorder, stats, title=name, marks=hazards.marks() if hazards else None)
    how = ("one bar per instruction, wait and link segment" if timeline.mode == "exact" else
           f"the busy fraction of each lane per span of {timeline.span_cycles:,} cycles "
           f"({timeline.intervals:,} intervals are too many to draw one by one)")
    blocks += [Heading("Timeline"),
               Image("timeline", _png(draw_timeline(timeline)), f"timeline of {name}",
                     f"Every core's queues and control unit, and every link, over the run: {how}. "
                     "The percentages on the right are each lane's share of the run."),
               Paragraph(f"Recorded: {recorder.describe()}.")]

    roof, point = program_roofline(stats)
    blocks.append(Heading("Roofline"))
    if point.plottable:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8.5, 5.5), layout="constrained")
        _draw_program_roofline(figure, roof, point, name)
        rows = (
            ("operations (2 x MACs)", _n(point.operations)),
            ("DRAM bytes", _n(point.dram_bytes)),
            ("operational intensity", f"{_g(point.intensity)} operations/byte"),
            ("performance", f"{_g(point.gops(roof))} GOP/s"),
            ("roof at this intensity", f"{_g(roof.attainable_ops_per_second(point.intensity) / 10**9)} GOP/s "
                                       f"(min of peak {_g(roof.peak_gops)} GOP/s and "
                                       f"{_g(roof.bandwidth_gb_per_second)} GB/s x intensity)"),
            ("ridge point", f"{_g(roof.ridge_intensity)} operations/byte"),
            ("of the roof", percent(point.fraction_of_roof(roof))),
        )
        blocks += [Table(("figure", "value"), rows, (False, False)),
                   Image("roofline", _png(figure), f"roofline of {name}",
                         "The machine's roof and this run's place under it.")]
    else:
        blocks.append(Paragraph("Not drawn: the run has no MACs, no DRAM traffic or no cycles, so it has "
                                "no place on the roofline."))

    blocks += [Heading("The machine"), _machine_block(machine),
               Heading("As `dlpsim run` prints it"), Preformatted(format_run_summary(stats, hazards))]
    return Document(f"dlpsim report: {name} on {stats.machine}", tuple(blocks))


def network_document(run, machine: MachineConfig, command: str) -> Document:
    """The report of a network run (:class:`dlpsim.run.network.NetworkRun`)."""
    from dlpsim.analysis.network import TABLE_COLUMNS, format_network_run, layer_rows, limited_layers

    cores = f"{run.compute_cores} compute core{'s' if run.compute_cores > 1 else ''}"
    blocks: list[Block] = [
        _provenance(command),
        Paragraph(f"{run.network}: {run.description}. Each layer is compiled and simulated alone; the "
                  "layers run one after another, so the network's cycles and bound are the sums of "
                  "its layers'."),
        Heading("Summary"),
        Table(("figure", "value"), (
            ("network", run.network),
            ("machine", f"{run.machine} ({cores}, {format_frequency(run.clock_hz)})"),
            ("layers", limited_layers(run)),
            ("MACs", _n(run.macs)),
            ("DRAM bytes", _n(run.dram_bytes)),
            ("cycles", _n(run.cycles)),
            *((("time per inference", format_seconds(run.seconds)),) if run.batch == 1 else (
                ("batch", f"{run.batch} samples"),
                ("time per batch", f"{format_seconds(run.seconds)} ({format_seconds(run.seconds_per_sample)} "
                                   "per sample)"))),
            ("roofline bound", f"{_n(run.bound.cycles)} cycles (the sum of the layers' bounds)"),
            ("efficiency (bound / cycles)", percent(run.efficiency)),
            ("MAC utilization", f"{percent(run.mac_utilization)} of {_g(run.peak_macs_per_cycle)} MAC/cycle"),
        ), (False, False)),
    ]
    blocks += [Heading("Layers"),
               Table(tuple(TABLE_COLUMNS), tuple(layer_rows(run, "-")), tuple(TABLE_COLUMNS.values()))]

    from matplotlib.figure import Figure

    from dlpsim.analysis.roofline import draw_roofline, roofline

    result = roofline(machine, [run])
    figure = Figure(figsize=(11.5, 6.6))
    figure.subplots_adjust(bottom=0.16, right=0.76)
    draw_roofline(figure, result)
    blocks += [Heading("Roofline"),
               Image("roofline", _png(figure), f"roofline of {run.network}",
                     "Each layer with MACs as a point (2 x MACs over its simulated DRAM bytes and time), "
                     "and the whole network.")]
    blocks += [Heading("The machine"), _machine_block(machine),
               Heading("As `dlpsim net run` prints it"), Preformatted(format_network_run(run))]
    return Document(f"dlpsim report: {run.network} on {run.machine}", tuple(blocks))


# -- writing ----------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #3170b8; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f3f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: .8em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: .9em; color: #555; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .85em; }
code { background: #f6f8fa; padding: 0 .2em; }
details summary { cursor: pointer; margin: .4em 0; }
""".strip()


def _inline_html(text: str) -> str:
    """Escape, then turn `code` and **bold** spans into tags."""
    parts = html.escape(text, quote=False).split("`")
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"<code>{part}</code>")
        else:
            pieces = part.split("**")
            out.append("".join(f"<strong>{piece}</strong>" if i % 2 else piece
                               for i, piece in enumerate(pieces)))
    return "".join(out)


def _html_cells(row: tuple[str, ...], right: tuple[bool, ...], tag: str) -> str:
    numeric = ' class="num"'
    return "".join(f"<{tag}{numeric if flush else ''}>{html.escape(cell)}</{tag}>"
                   for cell, flush in zip(row, right, strict=True))


def render_html(document: Document) -> str:
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{html.escape(document.title)}</title>", f"<style>\n{CSS}\n</style>", "</head>",
             "<body>", f"<h1>{html.escape(document.title)}</h1>"]
    for block in document.blocks:
        if isinstance(block, Heading):
            lines.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            lines.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            lines.append("<table>")
            lines.append(f"<thead><tr>{_html_cells(block.header, block.right, 'th')}</tr></thead>")
            lines.append("<tbody>")
            lines.extend(f"<tr>{_html_cells(row, block.right, 'td')}</tr>" for row in block.rows)
            lines.append("</tbody></table>")
        elif isinstance(block, Image):
            data = base64.b64encode(block.png).decode("ascii")
            lines.append(f'<figure><img alt="{html.escape(block.alt)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{_inline_html(block.caption)}</figcaption></figure>")
        elif isinstance(block, Preformatted):
            pre = f"<pre>{html.escape(block.text, quote=False)}</pre>"
            if block.summary is not None:
                pre = f"<details><summary>{html.escape(block.summary)}</summary>{pre}</details>"
            lines.append(pre)
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(document: Document, image_folder: str) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and its images (file name -> PNG bytes), linked as ``image_folder/NAME.png``."""
    lines = [f"# {document.title}", ""]
    images: dict[str, bytes] = {}
    for block in document.blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_markdown_cell(cell) for cell in block.header) + " |")
            lines.append("|" + "|".join("---:" if right else "---" for right in block.right) + "|")
            lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Image):
            file_name = f"{block.name}.png"
            images[file_name] = block.png
            lines += [f"![{block.alt}]({image_folder}/{file_name})", "", f"*{block.caption}*", ""]
        elif isinstance(block, Preformatted):
            if block.summary is not None:
                lines += [f"{block.summary}:", ""]
            lines += [f"```{block.language}", block.text.rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n", images


def write_document(document: Document, path: str | Path) -> list[Path]:
    """Write the report (and, for Markdown, its images beside it); the files written, report first."""
    path = Path(path)
    kind = report_format(path)
    try:
        if kind == "html":
            path.write_text(render_html(document), encoding="utf-8")
            return [path]
        folder = path.with_name(f"{path.stem}_files")
        text, images = render_markdown(document, folder.name)
        folder.mkdir(exist_ok=True)
        written = [path]
        for file_name, data in images.items():
            (folder / file_name).write_bytes(data)
            written.append(folder / file_name)
        path.write_text(text, encoding="utf-8")
        return written
    except OSError as error:
        where = error.filename or path
        raise UserError(f"{where}: error: cannot write the report: {error.strerror or error}") from None
