"""The machine a benchmark ran on, printed with its figures: seconds mean nothing without it."""

from __future__ import annotations

import os
import platform


def host_line() -> str:
    return (f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}")
