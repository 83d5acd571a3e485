"""Saving and showing the analyzers' charts: headless by default.

Charts are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas, never through
pyplot's default (GUI) backend, so no display is needed; the output file's extension
chooses the format and :mod:`dlpsim.analysis.imagefile` writes it byte-for-byte
reproducibly. Only ``show=True`` (the ``--show`` option) opens a window, through pyplot.
matplotlib is imported here, when a chart is made, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable

from dlpsim.analysis.imagefile import image_format, save_figure
from dlpsim.errors import UserError

DPI = 110
NON_INTERACTIVE = ("agg", "pdf", "svg", "ps", "cairo", "pgf", "template")


def check_output(path: str | None) -> None:
    """Refuse an output file whose extension is not a supported image format (before any work)."""
    if path is not None:
        image_format(path, "chart")


def render(draw: Callable, size: tuple[float, float], output: str | None, *, show: bool = False,
           **margins: float) -> None:
    """Make a figure of ``size`` inches, ``draw(figure)`` into it, save it to ``output`` and/or show it.

    ``margins`` (left, right, bottom, top, wspace, hspace) go to ``subplots_adjust``, before
    drawing: the angle of text laid along a line depends on the axes' shape.
    """
    check_output(output)
    if output is not None:
        import matplotlib

        if not show:
            matplotlib.use("Agg")  # explicit: files never need a GUI backend
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(figure)
        figure.subplots_adjust(**margins)
        draw(figure)
        save_figure(figure, output, "chart", dpi=DPI)
    if show:
        import matplotlib.pyplot as pyplot  # only here: --show needs the interactive backend

        if pyplot.get_backend().lower() in NON_INTERACTIVE:
            raise UserError("error: --show needs a display (no interactive matplotlib backend is "
                            "available here); write the chart to a file with -o instead")
        figure = pyplot.figure(figsize=size)
        figure.subplots_adjust(**margins)
        draw(figure)
        pyplot.show()
