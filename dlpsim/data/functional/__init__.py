"""Functional execution: a program run on numpy memories, apart from timing (contract v2, "Data").

``FunctionalRun.prepare`` checks a program (hazard-free, every operand addressed and large enough,
within the limits) and the --load/--dump specs before any work; ``execute`` loads, runs in an
order that respects happens-before, and writes the dumps. ``execute.py`` states each instruction's
semantics; ``memory.py`` the sparse memories and the --seed fill.
"""

from dlpsim.data.functional.execute import (
    Executor,
    FunctionalError,
    FunctionalHazardError,
    FunctionalLimits,
    FunctionalProgram,
    Workload,
    epoch_order,
)
from dlpsim.data.functional.files import DUMP_DTYPES, Dump, Load, dump_path, parse_dump, parse_load
from dlpsim.data.functional.memory import PAGE_BYTES, Memories, MemoryName, PageBudget, PagedMemory
from dlpsim.data.functional.run import FunctionalResult, FunctionalRun

__all__ = ["DUMP_DTYPES", "PAGE_BYTES", "Dump", "Executor", "FunctionalError", "FunctionalHazardError",
           "FunctionalLimits", "FunctionalProgram", "FunctionalResult", "FunctionalRun", "Load", "Memories",
           "MemoryName", "PageBudget", "PagedMemory", "Workload", "dump_path", "epoch_order", "parse_dump",
           "parse_load"]
