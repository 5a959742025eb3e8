"""The shape of the code: the import contracts hold, and nothing imports the composition root."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, unavailable

PACKAGES = ("core", "miniprogram_api", "portal", "workers", "commands", "web", "h5")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_imports_the_composition_root():
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if {"wsgi"} & {name.split(".")[0] for name in _imports(path)}
    ]
    assert offenders == []


def test_import_contracts_hold():
    """Edges never import each other, the domain imports no edge, the domain's areas form layers."""
    tool = Path(ROOT / ".venv" / "bin" / "lint-imports")
    command = str(tool) if tool.exists() else shutil.which("lint-imports")
    if command is None:
        unavailable("lint-imports (import-linter) is not installed")
    result = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
