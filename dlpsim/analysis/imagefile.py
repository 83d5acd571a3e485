"""Writing matplotlib figures headless and byte-for-byte reproducibly.

Figures are drawn on a plain ``Figure`` with the Agg canvas, never through pyplot, so
no display is needed and no GUI backend is loaded. The format follows the file's
extension. Dates, software versions and SVG's random id salt are left out, so the same
figure gives the same bytes on every run.
"""

from __future__ import annotations

import io
from pathlib import Path

from dlpsim.errors import UserError

# extension -> (matplotlib format, the metadata keys that would carry a date or version)
FORMATS = {
    ".png": ("png", {"Software": None}),
    ".svg": ("svg", {"Date": None, "Creator": None}),
    ".pdf": ("pdf", {"CreationDate": None, "Producer": None, "Creator": None}),
}


def image_format(path: str | Path, what: str = "image") -> str:
    """The format of ``path`` from its extension; a UserError for any other extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: error: cannot tell the {what}'s format from the extension "
                        f"{suffix or '(none)'!r}; use {', '.join(FORMATS)}")
    return FORMATS[suffix][0]


def figure_bytes(figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """The figure rendered as ``fmt`` (png, svg or pdf), without dates or versions."""
    import matplotlib
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if type(figure.canvas) is FigureCanvasBase:  # a plain Figure: render with Agg, no GUI
        FigureCanvasAgg(figure)
    metadata = next(meta for name, meta in FORMATS.values() if name == fmt)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "dlpsim", "svg.fonttype": "path", "pdf.fonttype": 42}):
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def save_figure(figure, path: str | Path, what: str = "image", dpi: int = 120) -> None:
    """Write the figure to ``path`` in the format its extension names."""
    data = figure_bytes(figure, image_format(path, what), dpi)
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise UserError(f"{path}: error: cannot write the {what}: {error.strerror or error}") from None
