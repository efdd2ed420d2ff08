"""The first `make`, as a new user sees it: a short setup, no warnings from the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Building a wheel fetches setuptools into an isolated environment: give it time.
BUILD_TIMEOUT = 50


def test_the_package_builds_without_a_warning(tmp_path: Path) -> None:
    # A copy, so that the build's own files (build/, *.egg-info) stay out of the tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "trio_chat", source / "trio_chat")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, built.stderr
    assert list(tmp_path.glob("trio_chat-*.whl"))
    # (pip's own notes on this machine's package indexes are not the build's.)
    assert "BuildBackendWarning" not in built.stderr
    assert "deprecated" not in built.stderr.lower()


def test_the_first_make_installs_quietly() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-B", "venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    installs = [line for line in dry_run.stdout.splitlines() if " pip install " in line]
    assert len(installs) == 2, dry_run.stdout
    assert all(" -qq " in line for line in installs)
