"""Proof the contract is usable: a TypeScript client generated from the served document compiles.

The served /api/openapi.json is written to contract/build/, openapi-typescript (pinned in
contract/package-lock.json) turns it into types, and ``tsc --noEmit`` compiles contract/sample.ts against them —
including lines that must NOT compile (``@ts-expect-error``: money sent as a number, an unknown error reason).
Needs node and npm (scripts/ensure-system.sh installs them); skipped without them locally, a failure in CI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, unavailable

CONTRACT = ROOT / "contract"


def _run(args: list[str], *, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=CONTRACT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def toolchain() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are not installed (scripts/ensure-system.sh installs them)")
    lock = json.loads((CONTRACT / "package-lock.json").read_text())
    installed = CONTRACT / "node_modules" / ".package-lock.json"
    current = installed.exists() and all(
        json.loads(installed.read_text())["packages"].get(name, {}).get("version") == entry.get("version")
        for name, entry in lock["packages"].items()
        if name
    )
    if not current:
        done = _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=300)
        if done.returncode != 0:
            unavailable(f"npm ci failed in contract/: {done.stderr[-2000:]}")
    return CONTRACT / "node_modules" / ".bin"


def test_generated_typescript_client_compiles(client, toolchain):
    build = CONTRACT / "build"
    build.mkdir(exist_ok=True)
    (build / "openapi.json").write_text(client.get("/api/openapi.json").get_data(as_text=True), encoding="utf-8")
    (build / "api.d.ts").unlink(missing_ok=True)

    generated = _run([str(toolchain / "openapi-typescript"), "build/openapi.json", "-o", "build/api.d.ts"], timeout=120)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    types = (build / "api.d.ts").read_text(encoding="utf-8")
    assert '"Idempotency-Key"?: string' in types and '"X-Pagination"' in types
    assert "monthly_amount: string" in types  # a decimal string, not a number

    compiled = _run([str(toolchain / "tsc"), "-p", "tsconfig.json"], timeout=180)
    # an unused @ts-expect-error (a mistake the types no longer catch) is an error too
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
