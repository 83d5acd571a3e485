"""isa/README.md must document exactly what the assembler accepts, and its examples must assemble.

The reference is parsed strictly: each required section must appear exactly
once, with its subsections or its table in the expected shape, so a renamed or
deleted section fails here instead of letting the comparison pass on an empty set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlpsim.asm import assemble
from dlpsim.asm.opcodes import COMPUTE_TYPES, DIRECTIVES, MEMORY_NAMES, MNEMONICS
from dlpsim.errors import ProgramError

README = Path(__file__).resolve().parent.parent / "isa" / "README.md"
README_NAME = "isa/README.md"

# Fence tags whose blocks are checked: valid programs, and programs the assembler must reject.
VALID_TAG = "asm"
INVALID_TAG = "asm-error"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")
_BACKTICKED = re.compile(r"^`([^`]+)`$")


class ReferenceFormatError(Exception):
    """isa/README.md is not in the shape this test (and its readers) rely on."""


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the file
    text: str


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # the first word of the fence's info string
    line: int  # line number of the opening fence
    text: str  # contents, with the fence's indentation removed


@dataclass(frozen=True)
class Document:
    prose: list[Line]  # lines outside fenced code blocks, fences excluded
    blocks: list[CodeBlock]


def _dedent(text: str, indent: int) -> str:
    """Remove up to ``indent`` leading spaces, as Markdown does inside an indented fence."""
    stripped = len(text) - len(text.lstrip(" "))
    return text[min(indent, stripped):]


def parse_document(text: str) -> Document:
    """Split Markdown into prose lines and fenced code blocks (``` or ~~~)."""
    prose: list[Line] = []
    blocks: list[CodeBlock] = []
    opening: tuple[int, str, str, int] | None = None  # line, fence, tag, indent
    content: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(raw)
        if opening is None:
            if match is None:
                prose.append(Line(number, raw))
                continue
            info = match["info"].strip()
            if not info:
                raise ReferenceFormatError(
                    f"{README_NAME}:{number}: a code block without a language tag; tag it "
                    f"`{VALID_TAG}` (must assemble), `{INVALID_TAG}` (must be rejected) or "
                    "`text`/`console` (not checked)")
            opening = (number, match["fence"], info.split()[0], len(match["indent"]))
            content = []
            continue
        line, fence, tag, indent = opening
        closes = (match is not None and match["info"].strip() == ""
                  and match["fence"][0] == fence[0] and len(match["fence"]) >= len(fence))
        if closes:
            blocks.append(CodeBlock(tag, line, "\n".join(content)))
            opening = None
        else:
            content.append(_dedent(raw, indent))
    if opening is not None:
        raise ReferenceFormatError(f"{README_NAME}:{opening[0]}: code block never closed")
    return Document(prose, blocks)


def _headings(lines: list[Line], level: int) -> list[tuple[Line, str]]:
    marker = re.compile(rf"^{'#' * level}\s+(.+?)\s*#*\s*$")
    found = []
    for line in lines:
        match = marker.match(line.text)
        if match:
            found.append((line, match[1]))
    return found


def section(document: Document, title: str, level: int = 2) -> list[Line]:
    """The prose lines under the one heading ``title``, up to the next heading as high or higher."""
    lines = document.prose
    starts = [i for i, line in enumerate(lines)
              if re.match(rf"^#{{{level}}}\s+{re.escape(title)}\s*$", line.text)]
    if len(starts) != 1:
        raise ReferenceFormatError(
            f"{README_NAME}: expected exactly one '{'#' * level} {title}' heading, found {len(starts)}")
    start = starts[0] + 1
    end = next((i for i in range(start, len(lines))
                if re.match(rf"^#{{1,{level}}}\s", lines[i].text)), len(lines))
    return lines[start:end]


def _name(heading: str) -> str:
    """A heading's name, allowing it to be written in backticks: ``### `move` ``."""
    match = _BACKTICKED.match(heading)
    return match[1] if match else heading


def subsection_names(document: Document, title: str) -> list[str]:
    """The ``### `` headings directly under ``## title``; it must have at least one."""
    lines = section(document, title)
    names = [_name(text) for _, text in _headings(lines, 3)]
    if not names:
        raise ReferenceFormatError(f"{README_NAME}: '## {title}' has no '### ' subsections")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ReferenceFormatError(f"{README_NAME}: '## {title}' documents {duplicates} twice")
    return names


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)]


def table_keys(document: Document, title: str) -> list[str]:
    """The backticked names in the first column of the one table under ``## title``."""
    lines = section(document, title)
    tables: list[list[Line]] = []
    current: list[Line] = []
    for line in lines + [Line(0, "")]:
        if line.text.strip().startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if len(tables) != 1:
        raise ReferenceFormatError(
            f"{README_NAME}: '## {title}' must contain exactly one table, found {len(tables)}")
    table = tables[0]
    if len(table) < 3 or not _TABLE_SEPARATOR.match(table[1].text.strip()):
        raise ReferenceFormatError(
            f"{README_NAME}:{table[0].number}: the table under '## {title}' needs a header row, "
            "a separator row and at least one data row")
    keys = []
    for row in table[2:]:
        first = _cells(row.text)[0]
        match = _BACKTICKED.match(first)
        if match is None:
            raise ReferenceFormatError(
                f"{README_NAME}:{row.number}: the first cell of each row under '## {title}' must be "
                f"one name in backticks, got {first!r}")
        keys.append(match[1])
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ReferenceFormatError(f"{README_NAME}: '## {title}' lists {duplicates} twice")
    return keys


def _compare(documented: set[str], accepted: set[str], what: str) -> None:
    missing = sorted(accepted - documented)
    extra = sorted(documented - accepted)
    problems = []
    if extra:
        problems.append(f"documented in {README_NAME} but not accepted by the assembler: {extra}")
    if missing:
        problems.append(f"accepted by the assembler but not documented in {README_NAME}: {missing}")
    assert not problems, f"{what}: " + "; ".join(problems)


DOCUMENT = parse_document(README.read_text(encoding="utf-8"))
CHECKED_BLOCKS = [block for block in DOCUMENT.blocks if block.tag in (VALID_TAG, INVALID_TAG)]


# --- the vocabulary ------------------------------------------------------------------------

def test_instructions_match_the_assembler():
    _compare(set(subsection_names(DOCUMENT, "Instructions")), set(MNEMONICS), "mnemonics")


def test_directives_match_the_assembler():
    _compare(set(subsection_names(DOCUMENT, "Directives")), set(DIRECTIVES), "directives")


def test_memories_match_the_assembler():
    keys = table_keys(DOCUMENT, "Memories")
    folded = [key.lower() for key in keys]
    assert len(set(folded)) == len(folded), f"memories listed twice (ignoring case): {keys}"
    _compare(set(folded), {name.lower() for name in MEMORY_NAMES}, "memory names")


def test_compute_types_match_the_assembler():
    _compare(set(table_keys(DOCUMENT, "Compute types")), set(COMPUTE_TYPES), "compute types")


def test_the_functional_table_says_what_every_operation_computes():
    """Every operation of the Compute types table has a row in Functional execution's table."""
    first_cells = [_cells(line.text)[0] for line in section(DOCUMENT, "Functional execution")
                   if line.text.startswith("| `")]
    assert first_cells, f"{README_NAME}: no table under '## Functional execution'"
    named = {name for cell in first_cells for name in re.findall(r"\b([A-Z]+)(?:_(?:32|16))?\b", cell)}
    operations = {kind.operation for kind in COMPUTE_TYPES.values()}
    assert operations <= named, f"{README_NAME}: no functional semantics for {sorted(operations - named)}"


@pytest.mark.parametrize("title", ["Instructions", "Directives"])
def test_every_subsection_has_an_example(title):
    subsection_names(DOCUMENT, title)  # at least one, none twice
    lines = section(DOCUMENT, title)
    headings = _headings(lines, 3)
    bounds = [line.number for line, _ in headings] + [lines[-1].number + 1]
    for (line, text), end in zip(headings, bounds[1:], strict=True):
        examples = [b for b in DOCUMENT.blocks if b.tag == VALID_TAG and line.number < b.line < end]
        assert examples, f"{README_NAME}:{line.number}: '### {text}' has no ```{VALID_TAG} example"


# --- the examples --------------------------------------------------------------------------

def test_the_reference_has_examples():
    assert [b for b in CHECKED_BLOCKS if b.tag == VALID_TAG], f"no ```{VALID_TAG} blocks found"


def _program(block: CodeBlock) -> str:
    """The block's text, preceded by blank lines so error messages give README line numbers."""
    return "\n" * block.line + block.text


@pytest.mark.parametrize("block", CHECKED_BLOCKS, ids=lambda block: f"{block.tag}-line{block.line}")
def test_example_assembles_or_is_rejected(block):
    if block.tag == VALID_TAG:
        program = assemble(_program(block), README_NAME)
        assert program.sections, f"{README_NAME}:{block.line}: the example contains no statements"
    else:
        with pytest.raises(ProgramError):
            assemble(_program(block), README_NAME)


# --- the parsing above is strict -----------------------------------------------------------

SAMPLE = """\
# Title

## Instructions

### move

```asm
move DRAM NRAM 4
```

```text
## Memories
```

## Memories

| Name | Capacity |
|---|---|
| `DRAM` | 8 GB |
| `nram` | 128 KB |
"""


def test_parser_reads_headings_tables_and_blocks():
    document = parse_document(SAMPLE)
    assert subsection_names(document, "Instructions") == ["move"]
    assert table_keys(document, "Memories") == ["DRAM", "nram"]  # the fenced heading is ignored
    assert [(b.tag, b.line) for b in document.blocks] == [("asm", 7), ("text", 11)]


@pytest.mark.parametrize("broken, problem", [
    (SAMPLE.replace("## Memories\n\n|", "## Memory\n\n|"), "missing section"),
    (SAMPLE + "\n## Memories\n", "section given twice"),
    (SAMPLE.replace("| `nram` |", "| nram |"), "first cell not in backticks"),
    (SAMPLE.replace("|---|---|\n", ""), "no separator row"),
    (SAMPLE.replace("| `DRAM` | 8 GB |\n| `nram` | 128 KB |\n", ""), "table without rows"),
    (SAMPLE + "\n| A |\n|---|\n| `x` |\n", "two tables"),
    (SAMPLE.replace("| `nram` |", "| `DRAM` |"), "a row given twice"),
    (SAMPLE.replace("### move", "move"), "no subsections"),
    (SAMPLE.replace("```text", "```"), "untagged code block"),
    (SAMPLE + "\n```asm\nsync\n", "unclosed code block"),
])
def test_parser_rejects_a_malformed_reference(broken, problem):
    with pytest.raises(ReferenceFormatError):
        document = parse_document(broken)
        subsection_names(document, "Instructions")
        table_keys(document, "Memories")


def test_comparison_fails_in_both_directions():
    with pytest.raises(AssertionError, match="not accepted"):
        _compare({"move", "jump"}, {"move"}, "mnemonics")
    with pytest.raises(AssertionError, match="not documented"):
        _compare({"move"}, {"move", "sync"}, "mnemonics")
