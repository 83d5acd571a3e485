"""The data side of programs, apart from timing: what each instruction reads and writes.

``check_hazards(program, machine)`` finds, before a run, every pair of accesses to the same
bytes that nothing orders (contract v2, "Data"); it never simulates and never changes the
timing model.
"""

from dlpsim.data.hazards import (
    PRINTED_HAZARDS,
    Hazard,
    HazardError,
    HazardKind,
    HazardReport,
    HazardSide,
    check_hazards,
)

__all__ = ["PRINTED_HAZARDS", "Hazard", "HazardError", "HazardKind", "HazardReport", "HazardSide",
           "check_hazards"]
