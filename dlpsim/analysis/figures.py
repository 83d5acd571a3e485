"""Saving and showing figures: headless by default.

Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas, never through
pyplot's default (GUI) backend, so no display is needed; the output file's extension
chooses the format. Only ``show=True`` (the ``--show`` option) opens a window, through
pyplot. matplotlib is imported here, when a figure is made, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlpsim.errors import UserError

FORMATS = (".png", ".svg", ".pdf")
NON_INTERACTIVE = ("agg", "pdf", "svg", "ps", "cairo", "pgf", "template")


def check_output(path: str | None) -> None:
    """Refuse an output file whose extension is not a supported image format (before any work)."""
    if path is not None and Path(path).suffix.lower() not in FORMATS:
        raise UserError(f"{path}: error: the image format comes from the extension; use one of "
                        f"{', '.join(FORMATS)}")


def render(draw: Callable, size: tuple[float, float], output: str | None, *, show: bool = False,
           **margins: float) -> None:
    """Make a figure of ``size`` inches, ``draw(figure)`` into it, save it to ``output`` and/or show it.

    ``margins`` (left, right, bottom, top, wspace, hspace) go to ``subplots_adjust``.
    """
    check_output(output)
    if output is not None:
        import matplotlib

        if not show:
            matplotlib.use("Agg")  # explicit: files never need a GUI backend
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, dpi=110)
        FigureCanvasAgg(figure)
        figure.subplots_adjust(**margins)  # before drawing: text angles depend on the axes' shape
        draw(figure)
        try:
            with matplotlib.rc_context({"svg.hashsalt": "dlpsim"}):  # SVG ids without randomness
                figure.savefig(output, metadata=_metadata(output))
        except OSError as error:
            raise UserError(f"{output}: error: cannot write the image: {error.strerror}") from None
    if show:
        import matplotlib.pyplot as pyplot  # only here: --show needs the interactive backend

        if pyplot.get_backend().lower() in NON_INTERACTIVE:
            raise UserError("error: --show needs a display (no interactive matplotlib backend is "
                            "available here); write the chart to a file with -o instead")
        figure = pyplot.figure(figsize=size)
        figure.subplots_adjust(**margins)
        draw(figure)
        pyplot.show()


def _metadata(output: str) -> dict:
    """No creation date or software version in the file, so the same data give the same bytes."""
    suffix = Path(output).suffix.lower()
    if suffix == ".png":
        return {"Software": None}
    if suffix == ".svg":
        return {"Date": None, "Creator": None}
    return {"CreationDate": None, "Creator": None, "Producer": None}
