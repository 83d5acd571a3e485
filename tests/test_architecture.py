"""The dependency rule: data flows one way (text -> Program -> simulation -> Stats -> reports),
and nothing imports from a layer above its own (the simulator never imports the CLI, the
orchestration or the plots; the compiler does not simulate).

Every ``import`` in dlpsim/, at module level or inside a function, is checked against the
layers below. A new package must be placed here before it can be imported anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dlpsim"

# Each part of dlpsim and the parts it may import (besides itself). Read top to bottom, this is
# the architecture: foundations, the program, the machine, the simulator and the workloads,
# the compiler, the orchestration, the presentation, the command line.
FOUNDATIONS = {"errors", "units"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "units": set(),
    "examples": set(),  # the shipped programs: data
    "results": FOUNDATIONS,
    "asm": FOUNDATIONS,
    "machine": FOUNDATIONS | {"asm"},
    "sim": FOUNDATIONS | {"asm", "machine", "results"},
    "data": FOUNDATIONS | {"asm", "machine", "results", "sim"},  # the data side: hazards, beside timing
    "workloads": FOUNDATIONS,
    "compiler": FOUNDATIONS | {"asm", "machine", "results", "workloads"},
    "run": FOUNDATIONS | {"asm", "machine", "results", "workloads", "sim", "data", "compiler"},
    "analysis": FOUNDATIONS | {"asm", "machine", "results", "workloads", "sim", "data", "compiler", "run",
                               "examples"},
    "cli": set(),  # the top: may import anything (checked below)
    "__main__": {"cli"},
    "__init__": set(),
}


def _part(module: str) -> str:
    """``dlpsim.sim.engine`` -> ``sim``; ``dlpsim`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_part(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every dlpsim import in a file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "dlpsim":
                names = [node.module]
            else:  # ``from dlpsim import sim`` names a part; ``from dlpsim import __version__`` does not
                names = [f"dlpsim.{alias.name}" if _is_part(alias.name) else "dlpsim" for alias in node.names]
            found += [(node.lineno, name) for name in names if name.split(".")[0] == "dlpsim"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if alias.name.split(".")[0] == "dlpsim"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_imports_upward(path):
    relative = path.relative_to(PACKAGE)
    own = relative.parts[0].removesuffix(".py")
    assert own in ALLOWED, f"dlpsim/{relative}: place the new part {own!r} in ALLOWED first"
    if own == "cli":
        return
    upward = [f"line {line}: {module}" for line, module in _imports(path)
              if _part(module) != own and _part(module) not in ALLOWED[own] | {"__init__"}]
    assert not upward, f"dlpsim/{relative} imports upward: {', '.join(upward)}"


def test_the_rule_catches_an_upward_import(tmp_path):
    """The check itself: a simulator module importing the CLI is caught."""
    bad = tmp_path / "engine.py"
    bad.write_text("def f():\n    from dlpsim.cli import main\n    from dlpsim import analysis\n")
    assert [module for _, module in _imports(bad)] == ["dlpsim.cli", "dlpsim.analysis"]
    assert {_part(module) for _, module in _imports(bad)} - ALLOWED["sim"] == {"cli", "analysis"}
