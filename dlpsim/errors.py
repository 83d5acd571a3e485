"""Errors the user can fix (exit status 2) as opposed to internal bugs (exit 1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLocation:
    """Where a piece of program text came from; columns and lines count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        if self.line <= 0:  # the file as a whole, e.g. when it cannot be read
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class UserError(Exception):
    """Bad input: the message is complete and is shown without a traceback.

    Subclasses keep their constructor's arguments as ``args`` and format in
    ``__str__``, so a copy made with ``type(error)(*error.args)`` (as SimPy makes
    when a process fails) is the same error.
    """


class ProgramError(UserError):
    """An error in a program, reported as ``file:line:col: error: message``."""

    def __init__(self, location: SourceLocation, message: str):
        super().__init__(location, message)
        self.location = location
        self.message = message

    def __str__(self) -> str:
        return f"{self.location}: error: {self.message}"


class RunLimitError(UserError):
    """A run refused or stopped because it would exceed a limit the user can raise."""


class ConfigError(UserError):
    """An error in a machine configuration, naming the key and where it came from."""

    def __init__(self, source: str, key: str, message: str):
        super().__init__(source, key, message)
        self.source = source
        self.key = key
        self.message = message

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}error: {self.key}: {self.message}" if self.key else f"{where}error: {self.message}"


class ConfigErrors(UserError):
    """Several configuration errors found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]):
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class WorkloadError(UserError):
    """A bad layer, network or topology: an impossible shape, an unknown name.

    Shown as ``where: error: message`` (``where`` is often empty; layer errors name
    the layer in the message itself).
    """

    def __init__(self, message: str, where: str = ""):
        super().__init__(message, where)
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"{self.where}: error: {self.message}" if self.where else f"error: {self.message}"


class TopologyError(WorkloadError):
    """An error in a topology CSV file, reported as ``file:row: error: message``.

    Rows count lines from 1 (the header is row 1), as an editor shows them.
    """

    def __init__(self, file: str, row: int, message: str):
        super().__init__(message, f"{file}:{row}" if row > 0 else file)
        self.args = (file, row, message)
        self.file = file
        self.row = row
