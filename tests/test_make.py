"""`make` as a new user meets it: a short first setup, no build warnings, a clean Ctrl+C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import trio
import trio.testing

from .conftest import STEP_TIMEOUT, Peer

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


async def test_ctrl_c_under_make_serve_stops_the_server_and_make_adds_no_line() -> None:
    # Ctrl+C signals the terminal's foreground process group: make and the server.
    process = await trio.lowlevel.open_process(
        # -o: never reinstall the venv here, whatever the stamp's age.
        [
            "make",
            "-o",
            ".venv/.installed",
            "serve",
            "HOST=127.0.0.1",
            "PORT=0",
            "IRC_PORT=0",
            "DB=:memory:",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    log = Peer(trio.StapledStream(trio.testing.MemorySendStream(), process.stderr))
    try:
        line = await log.line()
        while "listening on" not in line:
            line = await log.line()
        os.killpg(process.pid, signal.SIGINT)
        rest = await log.expect_eof()
        with trio.fail_after(STEP_TIMEOUT):
            status = await process.wait()
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            with trio.CancelScope(shield=True):
                await process.wait()
        await process.stderr.aclose()
    assert any("SIGINT received: shutting down" in line for line in rest), rest
    # The server exited 0; make then ends by the same SIGINT (the shell says 130),
    # without a line of its own: no shell between make and the server to die of it.
    assert not any("Interrupt" in line or "Error" in line for line in rest), rest
    assert status == -signal.SIGINT
