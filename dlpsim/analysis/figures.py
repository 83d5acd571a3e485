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


def cannot_show() -> str | None:
    """Why no window can open here (None when one can): pyplot's backend is not interactive,
    as it is without a display (DISPLAY unset on Linux) or with MPLBACKEND=agg."""
    import os

    import matplotlib.pyplot as pyplot  # only here: --show needs the interactive backend

    backend = pyplot.get_backend()
    if backend.lower() not in NON_INTERACTIVE:
        return None
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return (f"matplotlib's backend is {backend.lower()} "
            f"({'DISPLAY is ' + repr(display) if display else 'DISPLAY is not set'}; "
            "MPLBACKEND chooses the backend)")


def no_window_error(reason: str) -> str:
    """The analyzers' error for --show without a display (they check it before any work)."""
    return f"error: --show needs a display: {reason}; write the chart to a file with -o instead"


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
        import matplotlib.pyplot as pyplot

        if (reason := cannot_show()) is not None:
            raise UserError(no_window_error(reason))
        figure = pyplot.figure(figsize=size)
        figure.subplots_adjust(**margins)
        draw(figure)
        pyplot.show()
