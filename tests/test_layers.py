"""The layers contract (``lint-imports``, configured in pyproject.toml) holds, covers every
kernel module, and fails the build when a forbidden import comes back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tickwatch", "pipeline", "monitor", "alerts", "bench")
ON_TOP = {"tickwatch.__main__", "tickwatch.cli", "tickwatch.up", "tickwatch.stack"}
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the tree in cwd, not the installed one
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_tickwatch_module_is_kernel_or_on_top() -> None:
    (kernel,) = [
        c for c in contracts() if c["name"] == "The kernel imports nothing of ours above it"
    ]
    listed = set(kernel["source_modules"])  # type: ignore[call-overload]
    modules = {
        f"tickwatch.{p.stem}"
        for p in (REPO / "tickwatch").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert modules - ON_TOP == listed, "list a new tickwatch module in the kernel contract"


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("alerts/book.py", "import monitor.detector", "Alerts import only the kernel"),
        ("tickwatch/clock.py", "import tickwatch.stack.launcher", "The kernel imports nothing"),
        ("pipeline/topics.py", "import monitor.cli", "The pipeline imports only the kernel"),
        ("tickwatch/topics.py", "import tickwatch.endpoints", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package)
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    if module == "tickwatch/topics.py":  # a cycle: endpoints -> topics -> endpoints
        endpoints = tmp_path / "tickwatch" / "endpoints.py"
        endpoints.write_text(endpoints.read_text() + "\nimport tickwatch.topics\n")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout
