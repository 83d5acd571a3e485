"""The machine's memories as bytes: sparse, so an 8 GB DRAM costs only the pages a program touches.

Every memory is a dictionary of 64 KiB pages, each allocated the first time it is written (or,
for a DRAM filled from a seed, read). A page never allocated reads as zeros. All the pages of one
run share one budget of resident bytes, so no program can make dlpsim allocate without bound:
the run stops with the figure instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlpsim.asm.opcodes import Memory
from dlpsim.asm.program import CoreId
from dlpsim.errors import RunLimitError
from dlpsim.machine import MachineConfig
from dlpsim.units import describe_size

PAGE_BYTES = 1 << 16

# The resident bytes one run may hold, all memories together: room for any shipped program or
# compiled layer many times over, well inside an ordinary machine's RAM.
DEFAULT_RESIDENT_BYTES = 2 << 30


class PageBudget:
    """How many bytes of pages a run may still allocate."""

    def __init__(self, limit_bytes: int = DEFAULT_RESIDENT_BYTES):
        self.limit_bytes = limit_bytes
        self.used_bytes = 0

    def take(self, memory: str) -> None:
        if self.used_bytes + PAGE_BYTES > self.limit_bytes:
            raise RunLimitError(
                f"error: functional execution would hold more than {describe_size(self.limit_bytes)} of "
                f"memory pages (touching {memory} beyond {self.used_bytes // PAGE_BYTES:,} pages of "
                f"{PAGE_BYTES // 1024} KiB); the data a program touches must fit that limit")
        self.used_bytes += PAGE_BYTES


def seeded_page(seed: int) -> Callable[[int], np.ndarray]:
    """The DRAM fill of ``--seed``: page p (bytes [p * 64 KiB, (p + 1) * 64 KiB)) holds float32
    values uniform in [-1, 1), drawn by numpy's PCG64 from the seed sequence (seed, p). A page's
    values depend only on the seed and its number, never on which page was touched first."""
    def fill(page: int) -> np.ndarray:
        generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, page])))
        values = generator.random(PAGE_BYTES // 4, dtype=np.float32) * np.float32(2) - np.float32(1)
        return values.view(np.uint8)
    return fill


class PagedMemory:
    """One memory instance (``DRAM``, ``SharedRAM``, ``NRAM.2``...) of ``capacity`` bytes."""

    def __init__(self, name: str, capacity: int, budget: PageBudget,
                 fill: Callable[[int], np.ndarray] | None = None):
        self.name = name
        self.capacity = capacity
        self.budget = budget
        self.fill = fill
        self.pages: dict[int, np.ndarray] = {}

    def _page(self, index: int) -> np.ndarray:
        page = self.pages.get(index)
        if page is None:
            self.budget.take(self.name)
            page = np.zeros(PAGE_BYTES, np.uint8) if self.fill is None else self.fill(index)
            self.pages[index] = page
        return page

    def _check(self, start: int, size: int) -> None:
        if start < 0 or start + size > self.capacity:  # the assembler and the options check first
            raise IndexError(f"{self.name}[{start:#x}:{start + size:#x}) is outside its {self.capacity} B")

    def read(self, start: int, size: int) -> np.ndarray:
        """Bytes [start, start + size) as uint8: a view into a page when they lie in one, so read
        what you need before the next write."""
        self._check(start, size)
        first, offset = divmod(start, PAGE_BYTES)
        if offset + size <= PAGE_BYTES:
            if first not in self.pages and self.fill is None:
                return np.zeros(size, np.uint8)
            return self._page(first)[offset:offset + size]
        result = np.empty(size, np.uint8)
        done = 0
        while done < size:
            index, offset = divmod(start + done, PAGE_BYTES)
            length = min(PAGE_BYTES - offset, size - done)
            if index in self.pages or self.fill is not None:
                result[done:done + length] = self._page(index)[offset:offset + length]
            else:
                result[done:done + length] = 0
            done += length
        return result

    def write(self, start: int, data: np.ndarray) -> None:
        """Store the bytes of ``data`` (any dtype, C order) at ``start``."""
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        size = raw.size
        self._check(start, size)
        done = 0
        while done < size:
            index, offset = divmod(start + done, PAGE_BYTES)
            length = min(PAGE_BYTES - offset, size - done)
            self._page(index)[offset:offset + length] = raw[done:done + length]
            done += length


@dataclass(frozen=True)
class MemoryName:
    """A memory instance as options name it: ``DRAM``, ``SharedRAM``, or a core's ``NRAM.2``."""

    memory: Memory
    core: int | None  # the compute core of an NRAM or WRAM; None for DRAM and SharedRAM

    def __str__(self) -> str:
        return self.memory.value if self.core is None else f"{self.memory.value}.{self.core}"


class Memories:
    """Every memory instance of a machine, zeroed (DRAM optionally filled from a seed)."""

    def __init__(self, machine: MachineConfig, seed: int | None = None,
                 budget: PageBudget | None = None):
        self.machine = machine
        self.budget = budget or PageBudget()
        fill = None if seed is None else seeded_page(seed)
        self.dram = PagedMemory("DRAM", machine.dram.capacity_bytes, self.budget, fill)
        self.shared = (None if machine.shared is None
                       else PagedMemory("SharedRAM", machine.shared.capacity_bytes, self.budget))
        self.nram = [PagedMemory(f"NRAM.{i}", machine.core.nram.capacity_bytes, self.budget)
                     for i in range(machine.compute_cores)]
        self.wram = [PagedMemory(f"WRAM.{i}", machine.core.wram.capacity_bytes, self.budget)
                     for i in range(machine.compute_cores)]

    def reachable(self, core: CoreId | int) -> dict[Memory, PagedMemory]:
        """The instances a core's instructions name, by memory: its own NRAM and WRAM, the
        shared ones (the memory core reaches DRAM and the SharedRAM only)."""
        index = core.index if isinstance(core, CoreId) else core
        found = {Memory.DRAM: self.dram}
        if self.shared is not None:
            found[Memory.SHARED] = self.shared
        if index >= 0:
            found[Memory.NRAM] = self.nram[index]
            found[Memory.WRAM] = self.wram[index]
        return found

    def instance(self, memory: Memory, core: CoreId | int | None) -> PagedMemory:
        """The instance ``memory`` names for ``core`` (None for DRAM and the SharedRAM)."""
        return self.reachable(-1 if core is None else core)[memory]

    def named(self, name: MemoryName) -> PagedMemory:
        return self.instance(name.memory, name.core)
