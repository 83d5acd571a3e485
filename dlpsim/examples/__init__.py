"""The example programs shipped with dlpsim: the textbook's chapter 7 exercises and the showcase.

They are package data, so ``dlpsim run fc_1024x256.asm`` works from any directory after
``pip install``: a name that is not an existing file is looked up here (a real file always
wins). Each program's first comment line says what it is ("Exercise 7.9 -- ..."); the
catalogue is read from those lines, so adding a program here is all it takes to list it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SUFFIX = ".asm"


@dataclass(frozen=True)
class Example:
    name: str  # the file name, e.g. "fc_1024x256.asm"
    exercise: str  # the textbook exercise it answers, e.g. "7.9" ("" if none)
    summary: str  # its first comment line, after the exercise

    @property
    def text(self) -> str:
        return (resources.files(__package__) / self.name).read_text("utf-8")


def _example(name: str, text: str) -> Example:
    """An example described by its opening comment paragraph: "Exercise 7.9 -- what it is ..."."""
    paragraph = []
    for line in text.splitlines():
        words = line.lstrip().lstrip(";#/").strip()
        if not words or not line.lstrip().startswith((";", "#", "//")):
            break
        paragraph.append(words)
    opening = " ".join(paragraph)
    _, separator, after = opening.partition(" -- ")
    exercise = re.search(r"\b[Ee]xercise (\d+\.\d+)", opening)
    return Example(name, exercise.group(1) if exercise else "", after if separator else opening)


def _order(example: Example) -> tuple:
    """By exercise (7.7 before 7.10), then by name."""
    return tuple(int(part) for part in example.exercise.split(".") if part), example.name


def examples() -> tuple[Example, ...]:
    """Every shipped program, in the order of the exercises."""
    folder = resources.files(__package__)
    found = [_example(entry.name, entry.read_text("utf-8")) for entry in folder.iterdir()
             if entry.name.endswith(SUFFIX)]
    return tuple(sorted(found, key=_order))


def find_example(name: str) -> Example | None:
    """The shipped program called ``name`` (with or without ``.asm``), if there is one."""
    wanted = name if name.endswith(SUFFIX) else name + SUFFIX
    return next((example for example in examples() if example.name == wanted), None)


MODEL_SUFFIX = ".onnx"


def shipped_model(name: str) -> Path | None:
    """The path of the shipped ONNX model called ``name`` (e.g. small_cnn.onnx), if there is one.

    A file, not text: the ONNX reader takes a path (and reads external data beside it)."""
    if not name.endswith(MODEL_SUFFIX) or "/" in name or "\\" in name:
        return None
    path = Path(str(resources.files(__package__) / name))
    return path if path.is_file() else None
