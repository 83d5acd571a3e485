"""Names the statistics are kept under: the issue queues, where a control unit's time goes, and the
figure a mapping is chosen by."""

from __future__ import annotations

from enum import StrEnum


class QueueKind(StrEnum):
    """A core's three issue queues (contract, "Structure"); the memory core has only ``io``."""

    COMPUTE = "compute"  # every compute instruction
    IO = "io"  # every move that reads or writes DRAM
    MOVE = "move"  # every other move (NRAM <-> WRAM, SharedRAM <-> NRAM/WRAM)


class ControlCause(StrEnum):
    """Where a control unit's cycles go. Putting an instruction into a queue with room takes no
    time, so every cycle of a run falls under exactly one cause and a core's causes add up to
    the run's cycles."""

    ISSUING = "issuing"  # paying issue_cycles for an instruction
    QUEUE_FULL = "queue_full"  # waiting for room in the instruction's queue
    SYNC = "sync"  # waiting at a sync (or the sync of a barrier) for its queues to drain
    BARRIER = "barrier"  # waiting for the other cores at a barrier
    FINISHED = "finished"  # after the last issue, until the run ends


class Objective(StrEnum):
    """The figure a layer's mapping is chosen by: its time, its energy, or their product (the
    energy-delay product). Here, not in the compiler, so that what names a run (the result cache's
    key, a network run) does not load the compiler."""

    TIME = "time"
    ENERGY = "energy"
    EDP = "edp"
