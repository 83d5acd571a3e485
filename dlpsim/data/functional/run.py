"""A functional run as ``dlpsim run --functional`` makes it: loads, the program, dumps."""

from __future__ import annotations

from dataclasses import dataclass

from dlpsim.asm.program import Program
from dlpsim.data.functional.execute import DEFAULT_LIMITS, FunctionalLimits, FunctionalProgram
from dlpsim.data.functional.files import (
    Dump,
    Dumped,
    Load,
    load_into,
    parse_dump,
    parse_load,
    refuse_clashes,
    write_dump,
)
from dlpsim.data.functional.memory import DEFAULT_RESIDENT_BYTES, Memories, PageBudget
from dlpsim.data.hazards import HazardReport
from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.units import describe_size


@dataclass(frozen=True)
class FunctionalResult:
    instructions: int  # moves and computes executed, all cores together
    cores: int  # cores that issued instructions (the memory core included)
    seed: int | None
    loads: tuple[Load, ...]
    dumps: tuple[Dumped, ...]

    def to_dict(self) -> dict:
        return {"instructions": self.instructions, "cores": self.cores, "seed": self.seed,
                "loads": [load.to_dict() for load in self.loads],
                "dumps": [dumped.to_dict() for dumped in self.dumps]}

    def summary(self) -> str:
        """One line: ``functional: 7 instructions executed on 1 core (DRAM zeroed); loaded x.npy,
        w.npy; dumped y.npy (DRAM[0x28000] 32x128 float32)``."""
        dram = "DRAM zeroed" if self.seed is None else f"DRAM filled from seed {self.seed}"
        text = (f"functional: {self.instructions:,} instruction{'s' if self.instructions != 1 else ''} "
                f"executed on {self.cores} core{'s' if self.cores != 1 else ''} ({dram})")
        if self.loads:
            text += f"; loaded {', '.join(str(load.file) for load in self.loads)}"
        if self.dumps:
            text += f"; dumped {', '.join(dumped.dump.summary() for dumped in self.dumps)}"
        return text


@dataclass(frozen=True)
class FunctionalRun:
    """Everything checked before any work: the program (hazard-free, executable, within the
    limits), every --load file's header and place, every --dump's place and file name."""

    program: FunctionalProgram
    loads: tuple[Load, ...]
    dumps: tuple[Dump, ...]
    seed: int | None
    resident_bytes: int

    @classmethod
    def prepare(cls, program: Program, machine: MachineConfig, hazards: HazardReport | None = None,
                loads: tuple[str, ...] = (), dumps: tuple[str, ...] = (), seed: int | None = None,
                limits: FunctionalLimits = DEFAULT_LIMITS,
                resident_bytes: int = DEFAULT_RESIDENT_BYTES) -> FunctionalRun:
        parsed_loads = [parse_load(spec, machine) for spec in loads]
        parsed_dumps = [parse_dump(spec, machine) for spec in dumps]
        refuse_clashes(parsed_loads, parsed_dumps)
        for option, items in (("--load", parsed_loads), ("--dump", parsed_dumps)):
            total = sum(item.size for item in items)
            if total > resident_bytes:
                raise UserError(f"error: {option}: {describe_size(total)} together, more than the "
                                f"{describe_size(resident_bytes)} one functional run may hold")
        accepted = FunctionalProgram.prepare(program, machine, hazards, limits)
        hashed = tuple(load.hashed() for load in parsed_loads)  # each file read whole only now
        return cls(accepted, hashed, tuple(parsed_dumps), seed, resident_bytes)

    def execute(self, machine: MachineConfig) -> FunctionalResult:
        """Load, run, and write every dump (only once the whole program has run)."""
        memories = Memories(machine, self.seed, PageBudget(self.resident_bytes))
        for load in self.loads:
            load_into(memories, load)
        executed = self.program.execute(memories)
        dumped = tuple(write_dump(memories, dump) for dump in self.dumps)
        return FunctionalResult(executed, len(self.program.streams), self.seed, self.loads, dumped)
