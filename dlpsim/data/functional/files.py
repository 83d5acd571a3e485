"""Data in and out of a functional run: ``--load MEM[OFFSET]=FILE.npy`` and
``--dump MEM[OFFSET]:SHAPE:DTYPE=FILE.npy``.

Every problem is found before the run: a malformed spec, an unknown memory or core, a file that
is missing, unreadable or not a .npy file, data past the end of its memory, two loads on the
same bytes (one would silently replace the other), a dump file named twice or also loaded.
Dumps are written only after the run, each to a temporary file in its folder renamed into place,
so no dump is ever left half-written.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dlpsim.asm.opcodes import MEMORY_NAMES, NUMBER_SUFFIXES, Memory
from dlpsim.data.functional.memory import Memories, MemoryName
from dlpsim.errors import UserError
from dlpsim.machine import MachineConfig
from dlpsim.units import describe_size

# The element types a dump may give (stored little-endian, as the machine's memories hold them).
DUMP_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
               "uint8", "uint16", "uint32", "uint64")

_PLACE = r"(?P<memory>[A-Za-z]+)(?:\.(?P<core>[^\[\]]*))?\[(?P<offset>[^\]]*)\]"
_LOAD = re.compile(rf"{_PLACE}=(?P<file>.+)")
_DUMP = re.compile(rf"{_PLACE}:(?P<shape>[^:=]*):(?P<dtype>[^:=]*)=(?P<file>.+)")
_NUMBER = re.compile(r"(0x[0-9a-f_]+|[0-9][0-9_]*)([kmg]?)", re.IGNORECASE)


def _option_error(option: str, spec: str, problem: str) -> UserError:
    return UserError(f"error: {option} {spec}: {problem}")


def _number(text: str) -> int | None:
    """``0x30000``, ``4096``, ``64K``, ``32*256*4`` (as in program text); None if malformed."""
    value = 1
    for factor in text.strip().split("*"):
        match = _NUMBER.fullmatch(factor.strip())
        if match is None:
            return None
        digits, suffix = match.groups()
        value *= int(digits.replace("_", ""), 0) * NUMBER_SUFFIXES.get(suffix.upper(), 1)
    return value


@dataclass(frozen=True)
class Placement:
    """Where a load or dump goes: a memory instance and a byte offset in it."""

    name: MemoryName
    offset: int

    def __str__(self) -> str:
        return f"{self.name}[{self.offset:#x}]"


def _placement(option: str, spec: str, match: re.Match, machine: MachineConfig, size: int) -> Placement:
    """The memory, core and offset of a spec, checked against the machine for ``size`` bytes."""
    def refuse(problem: str) -> UserError:
        return _option_error(option, spec, problem)

    memory = MEMORY_NAMES.get(match["memory"].lower())
    if memory is None:
        raise refuse(f"unknown memory {match['memory']!r} (expected DRAM, SharedRAM (or SRAM), "
                     "NRAM.CORE or WRAM.CORE)")
    core_text = match["core"]
    core = None
    if memory in (Memory.DRAM, Memory.SHARED):
        if core_text is not None:
            raise refuse(f"{memory.value} belongs to the {'chip' if memory is Memory.DRAM else 'cluster'}, "
                         f"not to a core: write {memory.value}[OFFSET]")
        if memory is Memory.SHARED and machine.shared is None:
            raise refuse(f"{machine.name} has no SharedRAM")
    else:
        cores = machine.compute_cores
        if core_text is None:
            if cores > 1:
                raise refuse(f"name the core whose {memory.value} this is: {memory.value}.0 to "
                             f"{memory.value}.{cores - 1} on {machine.name}")
            core = 0
        elif not core_text.isdigit():
            raise refuse(f"the core of {memory.value}.{core_text} must be a compute core's number"
                         f"{' (the memory core has no ' + memory.value + ')' if core_text == 'mem' else ''}")
        else:
            core = int(core_text)
            if core >= cores:
                which = f"cores 0-{cores - 1}" if cores > 1 else "core 0"
                raise refuse(f"core {core} does not exist: {machine.name} has {cores} compute "
                             f"core{'s' if cores > 1 else ''} ({which})")
    offset = _number(match["offset"])
    if offset is None:
        raise refuse(f"malformed offset {match['offset']!r} (write a number such as 0x30000 or 4096)")
    capacity = machine.capacity(memory)
    name = MemoryName(memory, core)
    if offset + size > capacity:
        raise refuse(f"{describe_size(size)} at {name}[{offset:#x}] ends at byte {offset + size}, past the "
                     f"end of {memory.value} ({describe_size(capacity)} on {machine.name})")
    return Placement(name, offset)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ArrayFile:
    """A .npy file and where its array lies in a memory: what --load and --dump both name."""

    spec: str  # as the user gave it
    file: Path
    place: Placement
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def size(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self, sha256: str) -> dict:
        return {"memory": str(self.place.name), "offset": self.place.offset, "file": str(self.file),
                "shape": list(self.shape), "dtype": self.dtype.name, "bytes": self.size, "sha256": sha256}


@dataclass(frozen=True)
class Load(ArrayFile):
    """``--load``: the array of a .npy file, its bytes in C order (little-endian) at a place."""

    sha256: str = ""  # of the file, once its size is accepted (hashed())

    def hashed(self) -> Load:
        return replace(self, sha256=_sha256(self.file))

    def array(self) -> np.ndarray:
        try:
            data = np.load(self.file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:  # changed since it was checked
            raise _option_error("--load", self.spec, f"cannot read {self.file}: {error}") from None
        return np.ascontiguousarray(data, dtype=self.dtype.newbyteorder("<"))

    def to_dict(self) -> dict:
        return self.describe(self.sha256)


def parse_load(spec: str, machine: MachineConfig) -> Load:
    """A ``--load`` spec, with its file's .npy header read and checked (not its data, nor its
    hash)."""
    match = _LOAD.fullmatch(spec.strip())
    if match is None:
        raise _option_error("--load", spec, "expected MEM[OFFSET]=FILE.npy, e.g. DRAM[0x0]=x.npy or "
                                            "NRAM.2[0x0]=x.npy")
    file = Path(match["file"])
    refuse = lambda problem: _option_error("--load", spec, problem)  # noqa: E731
    if not file.exists():
        raise refuse(f"no such file {file}")
    if file.is_dir():
        raise refuse(f"{file} is a folder, not a .npy file")
    try:
        with open(file, "rb") as handle:
            try:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _fortran_order, dtype = read_header(handle)
            except ValueError:
                raise refuse(f"{file} is not a .npy file (it lacks numpy's .npy header; save arrays "
                             "with numpy.save)") from None
    except OSError as error:
        raise refuse(f"cannot read {file}: {error.strerror}") from None
    if dtype.hasobject:
        raise refuse(f"{file} holds Python objects, not numbers")
    size = math.prod(shape) * dtype.itemsize
    if file.stat().st_size < size:
        raise refuse(f"{file} is truncated: its header promises {describe_size(size)} of data")
    place = _placement("--load", spec, match, machine, size)
    return Load(spec, file, place, tuple(shape), dtype)


@dataclass(frozen=True)
class Dump(ArrayFile):
    """``--dump``: SHAPE elements of DTYPE read row-major from a place, saved as a .npy file."""

    def summary(self) -> str:
        return f"{self.file} ({self.place} {'x'.join(map(str, self.shape))} {self.dtype.name})"


def dump_path(spec: str) -> str | None:
    """The file a ``--dump`` spec writes, read before anything else is checked (None if the spec
    is malformed: parse_dump says how)."""
    match = _DUMP.fullmatch(spec.strip())
    return None if match is None else match["file"]


def parse_dump(spec: str, machine: MachineConfig) -> Dump:
    match = _DUMP.fullmatch(spec.strip())
    if match is None:
        raise _option_error("--dump", spec, "expected MEM[OFFSET]:SHAPE:DTYPE=FILE.npy, e.g. "
                                            "DRAM[0x30000]:64x128:float32=y.npy")
    refuse = lambda problem: _option_error("--dump", spec, problem)  # noqa: E731
    dimensions = match["shape"].strip().lower().split("x")
    if not all(d.strip().isdigit() and int(d) > 0 for d in dimensions):
        raise refuse(f"malformed shape {match['shape']!r} (write positive dimensions separated by x, "
                     "e.g. 64x128)")
    dtype_name = match["dtype"].strip().lower()
    if dtype_name not in DUMP_DTYPES:
        raise refuse(f"unknown dtype {match['dtype']!r} (expected one of {', '.join(DUMP_DTYPES)})")
    file = Path(match["file"])
    if file.suffix != ".npy":
        raise refuse(f"the dump file {file} must end in .npy")
    shape = tuple(int(d) for d in dimensions)
    dtype = np.dtype(dtype_name).newbyteorder("<")
    place = _placement("--dump", spec, match, machine, math.prod(shape) * dtype.itemsize)
    return Dump(spec, file, place, shape, dtype)


def refuse_clashes(loads: list[Load], dumps: list[Dump]) -> None:
    """Two loads on the same bytes (one would replace the other unseen), a file dumped twice or
    dumped over a file that is loaded."""
    for index, load in enumerate(loads):
        for earlier in loads[:index]:
            if (earlier.place.name == load.place.name and earlier.size and load.size
                    and load.place.offset < earlier.place.offset + earlier.size
                    and earlier.place.offset < load.place.offset + load.size):
                raise _option_error("--load", load.spec, f"overlaps --load {earlier.spec} in "
                                                         f"{load.place.name}: one would overwrite the other")
    loaded = {os.path.realpath(load.file) for load in loads}
    dumped: dict[str, str] = {}
    for dump in dumps:
        target = os.path.realpath(dump.file)
        if target in dumped:
            raise _option_error("--dump", dump.spec,
                                f"{dump.file} is also written by --dump {dumped[target]}")
        if target in loaded:
            raise _option_error("--dump", dump.spec, f"{dump.file} is also read by a --load: dumping would "
                                                     "overwrite an input")
        dumped[target] = dump.spec


@dataclass(frozen=True)
class Dumped:
    """A dump as written: its spec and the sha256 of the .npy file."""

    dump: Dump
    sha256: str

    def to_dict(self) -> dict:
        return self.dump.describe(self.sha256)


def load_into(memories: Memories, load: Load) -> None:
    memories.named(load.place.name).write(load.place.offset, load.array())


def dump_array(memories: Memories, dump: Dump) -> np.ndarray:
    data = memories.named(dump.place.name).read(dump.place.offset, dump.size)
    return data.view(dump.dtype).reshape(dump.shape).copy()


def write_dump(memories: Memories, dump: Dump) -> Dumped:
    """Save the dump's array atomically (a temporary file beside it, renamed into place)."""
    buffer = io.BytesIO()
    np.save(buffer, dump_array(memories, dump), allow_pickle=False)
    content = buffer.getvalue()
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{dump.file.name}.", suffix=".tmp",
                                             dir=dump.file.parent)
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, dump.file)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise UserError(f"{dump.file}: error: cannot write the dump: {error.strerror}") from None
    return Dumped(dump, hashlib.sha256(content).hexdigest())
